// The workbench in a real browser (issue 15): headless Debian chromium driven
// by puppeteer-core. A clerk opens the link with the token in its fragment,
// sees the quickstart's parked invoices, opens the PO mismatch, corrects the
// total to the PO's and approves. Prints TAP lines; the shell script around
// it (tests/e2e/workbench.sh) turns PASS/FAIL lines into TAP and checks the
// ERP row and the audit afterwards.
// Usage: node workbench.js URL TOKEN [SCREENSHOT_DIR]
'use strict';
const puppeteer = require('puppeteer-core');

const [url, token, shots] = process.argv.slice(2);
let n = 0, failed = 0;
const ok = (cond, what, extra) => {
  n++;
  if (cond) console.log(`PASS ${what}`);
  else { failed++; console.log(`FAIL ${what}`); if (extra !== undefined) console.log('#   got: ' + JSON.stringify(extra)); }
};

(async () => {
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run'],
    defaultViewport: {width: 1280, height: 800},
  });
  const page = await browser.newPage();
  const errors = [], foreign = [], csp = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('console', (m) => { if (m.type() === 'error') csp.push(m.text()); });
  page.on('request', (r) => { if (!r.url().startsWith(url) && !r.url().startsWith('blob:') && !r.url().startsWith('data:')) foreign.push(r.url()); });
  try {
    const resp = await page.goto(url + '/#token=' + token, {waitUntil: 'networkidle0'});
    const h = resp.headers();
    ok(/frame-ancestors 'none'/.test(h['content-security-policy'] || '') && /default-src 'self'/.test(h['content-security-policy']),
       'the page carries a CSP with default-src self and frame-ancestors none', h['content-security-policy']);
    await page.waitForSelector('#q-body tr', {timeout: 10000});
    ok(!(await page.evaluate(() => location.href)).includes('token'), 'the token is cleared from the address bar',
       await page.evaluate(() => location.href));
    ok(await page.evaluate(() => !!sessionStorage.getItem('bp_token')), 'the token is kept in sessionStorage');
    const me = await page.$eval('#me', (e) => e.textContent);
    ok(me === 'api:clerk · reviewer' || /clerk/.test(me), 'signed in as the reviewer token', me);
    const rows = await page.$$eval('#q-body tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
    ok(rows.length === 4, 'the queue lists the quickstart\'s 4 parked invoices', rows.length);
    const ages = await page.$$eval('#q-body tr', (trs) => trs.map((tr) => tr.className));
    ok(ages.every((c) => /age-(ok|warn|late)/.test(c)), 'every row is coloured by its age against the SLA', ages);
    const subjects = rows.map((r) => r[2]);
    ok(subjects.includes('AW-5502') && subjects.includes('NW-10231'), 'subjects shown', subjects);
    const poRow = rows.findIndex((r) => r[7].includes('po_mismatch'));
    ok(poRow >= 0, 'the PO mismatch is in the queue with its flag', rows);
    // filter
    await page.type('#q-filter', 'po_mismatch');
    const filtered = await page.$$eval('#q-body tr', (trs) => trs.length);
    ok(filtered === 1, 'the filter narrows the queue to the PO mismatch', filtered);
    await page.click('#q-filter', {clickCount: 3});
    await page.keyboard.press('Backspace');
    await page.waitForFunction(() => document.querySelectorAll('#q-body tr').length === 4);
    if (shots) await page.screenshot({path: shots + '/workbench-queue.png'});

    // open the PO mismatch
    const poSeq = await page.$$eval('#q-body tr', (trs) => trs.find((tr) => tr.textContent.includes('po_mismatch')).dataset.seq);
    await page.click(`#q-body tr[data-seq="${poSeq}"]`);
    await page.waitForSelector('.field input[data-path="data.invoice.total"]', {timeout: 10000});
    await page.waitForFunction(() => { const i = document.querySelector('.page-img'); return i && i.complete && i.naturalWidth > 0; }, {timeout: 15000});
    const img = await page.$eval('.page-img', (i) => [i.naturalWidth, i.naturalHeight]);
    ok(img[0] > 500 && img[1] > 500, 'the PDF page is rendered by the server and shown', img);
    const boxes = await page.$$eval('.page .box', (bs) => bs.length);
    ok(boxes >= 5, 'the fields\' boxes are drawn on the page', boxes);
    await page.waitForFunction(() => /claimed by api:clerk/.test(document.querySelector('#item-claim').textContent), {timeout: 20000})
      .catch(() => {});
    ok(/claimed by api:clerk/.test(await page.$eval('#item-claim', (e) => e.textContent)), 'opening claims the item',
       await page.$eval('#item-claim', (e) => e.textContent));
    const po = await page.$$eval('table.po td', (tds) => tds.map((t) => t.textContent));
    ok(po.join('|') === '9800|8900|900', 'the PO mismatch shows both totals and the difference', po);
    // click a box: its field lights up and takes the focus
    const totalIdx = await page.$eval('.field input[data-path="data.invoice.total"]', (i) => i.dataset.i);
    await page.click(`.page .box[data-i="${totalIdx}"]`);
    ok(await page.evaluate(() => document.activeElement && document.activeElement.dataset.path === 'data.invoice.total'),
       'clicking the total\'s box focuses the total field');
    ok(await page.$eval(`.field[data-i="${totalIdx}"]`, (f) => f.classList.contains('on')), 'and highlights it');
    const ariaOk = await page.$$eval('.field input', (ins) => ins.every((i) => i.labels && i.labels.length === 1));
    ok(ariaOk, 'every field input has a label');
    if (shots) await page.screenshot({path: shots + '/workbench-item.png'});
    // correct the total: typed value into a number field
    const type = await page.$eval('.field input[data-path="data.invoice.total"]', (i) => i.type);
    ok(type === 'number', 'the total is edited as a number', type);
    await page.click('.field input[data-path="data.invoice.total"]', {clickCount: 3});
    await page.keyboard.type('8900');
    // ? shows the keys; Escape closes the dialog
    await page.evaluate(() => document.activeElement.blur());
    await page.keyboard.press('?');
    ok(await page.$eval('#help-dlg', (d) => d.open), '? lists the keys');
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#help-dlg').open);
    ok(/with corrections/.test(await page.$eval('#approve', (b) => b.textContent)), 'approve says it carries the correction');
    await page.keyboard.press('a');
    await page.waitForFunction(() => /Delivered/.test(document.querySelector('#item-status').textContent), {timeout: 30000})
      .catch(() => {});
    const status = await page.$eval('#item-status', (e) => e.textContent);
    ok(/Delivered/.test(status) && /correct by api:clerk/.test(status), 'a approves the corrected record: delivered', status);
    // Tab goes to the next field below the threshold (0.95 in the quickstart: the currency)
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#queue').hidden && document.querySelectorAll('#q-body tr').length === 3, {timeout: 10000})
      .catch(() => {});
    // rows by their seq, not their place: the live refresh may re-render the table
    const dupSeq = await page.$$eval('#q-body tr', (trs) => trs.find((tr) => tr.textContent.includes('possible_duplicate')).dataset.seq);
    await page.click(`#q-body tr[data-seq="${dupSeq}"]`);
    await page.waitForSelector('pre.mail mark', {timeout: 10000});
    const marks = await page.$$eval('pre.mail mark', (ms) => ms.map((m) => [m.title, m.textContent]));
    const vendorMark = marks.find((m) => m[0] === 'vendor');
    ok(marks.length >= 6 && vendorMark && vendorMark[1] === 'NORTHWIND TRADERS LTD', 'the mail text has the fields\' spans marked', marks);
    await page.evaluate(() => document.activeElement.blur());
    await page.keyboard.press('Tab');
    const focused = await page.evaluate(() => [document.activeElement.dataset.path, document.activeElement.dataset.low]);
    ok(focused[0] === 'data.invoice.currency' && focused[1] === '1', 'Tab goes to the field below the threshold', focused);
    ok(await page.$eval('.field input[data-path="data.invoice.currency"]', (i) => i.closest('.field').querySelector('.conf').classList.contains('conf-low')),
       'its confidence is coloured as low');
    const lowText = await page.$eval('.field input[data-path="data.invoice.currency"]', (i) => i.closest('.field').querySelector('.conf').textContent);
    const m = /^([0-9.]+) below ([0-9.]+)$/.exec(lowText);
    ok(m && Number(m[1]) < Number(m[2]), 'the low confidence reads lower than the threshold (never rounded up to it)', lowText);
    // the duplicate links the earlier record: its audit trace
    await page.click('.flagd a');
    await page.waitForSelector('.flagd ol.trace li', {timeout: 5000}).catch(() => {});
    const trace = await page.$$eval('.flagd ol.trace li', (lis) => lis.map((l) => l.textContent));
    ok(trace.length >= 1 && /invoices/.test(trace[0]), 'the duplicate\'s earlier record is traced', trace);
    // reject with a reason from the list, then reopen
    await page.evaluate(() => document.activeElement.blur());
    await page.keyboard.press('r');
    await page.waitForFunction(() => document.querySelector('#reject-dlg').open);
    const reasons = await page.$$eval('#reject-reason option', (os) => os.map((o) => o.value));
    ok(reasons.join('|') === 'duplicate|wrong amount|no purchase order|not our invoice|unreadable|other', 'the reasons are the route\'s', reasons);
    await page.select('#reject-reason', 'duplicate');
    await page.type('#reject-note', 'same as NW-10231');
    await page.click('#reject-form button[value="ok"]');
    await page.waitForFunction(() => /Rejected/.test(document.querySelector('#item-status').textContent), {timeout: 30000}).catch(() => {});
    ok(/Rejected/.test(await page.$eval('#item-status', (e) => e.textContent)), 'r rejects with the reason');
    await page.click('#item-status button');
    await page.waitForFunction(() => /Reopened/.test(document.querySelector('#item-status').textContent), {timeout: 30000}).catch(() => {});
    const reo = await page.$eval('#item-status', (e) => e.textContent);
    ok(/Reopened: it waits in the queue again as record \d+/.test(reo), 'a rejected record can be reopened: parked again', reo);
    // leaving an item releases its claim
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#queue').hidden && document.querySelectorAll('#q-body tr').length === 3, {timeout: 10000})
      .catch(() => {});
    const lwSeq = await page.$$eval('#q-body tr', (trs) => trs.find((tr) => tr.textContent.includes('LW-330')).dataset.seq);
    await page.click(`#q-body tr[data-seq="${lwSeq}"]`);
    await page.waitForFunction(() => /claimed by api:clerk/.test(document.querySelector('#item-claim').textContent), {timeout: 20000})
      .catch(() => {});
    const claimApi = async () => page.evaluate(async () => {
      const r = await fetch('/api/v1/review', {headers: {Authorization: 'Bearer ' + sessionStorage.getItem('bp_token')}});
      return (await r.json()).items.filter((i) => i.subject === 'LW-330').map((i) => i.claimed_by)[0];
    });
    const heldNow = await claimApi();
    ok(heldNow === 'api:clerk', 'the open item is claimed in the API', [heldNow, await page.$eval('#item-claim', (e) => e.textContent), await page.$eval('#item-h', (e) => e.textContent)]);
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#queue').hidden);
    let held = await claimApi();
    for (let i = 0; i < 50 && held !== null; i++) {   // the release is sent as the page leaves
      await new Promise((r) => setTimeout(r, 100));
      held = await claimApi();
    }
    ok(held === null, 'leaving it releases the claim', held);
    // back to the queue: three left (the reopened one is a new entry)
    await page.keyboard.press('Escape');
    await page.waitForFunction(() => !document.querySelector('#queue').hidden && document.querySelectorAll('#q-body tr').length === 3, {timeout: 10000})
      .catch(() => {});
    ok(await page.$$eval('#q-body tr', (t) => t.length) === 3, 'the queue has three left');
    ok(errors.length === 0, 'no script errors', errors);
    ok(foreign.length === 0, 'no request leaves the listener\'s origin', foreign);
    ok(!csp.some((m) => /Content Security Policy/.test(m)), 'nothing is blocked by the CSP', csp);
  } catch (e) {
    ok(false, 'the browser session ran to the end: ' + e.message);
  } finally {
    await browser.close();
  }
  process.exit(failed ? 1 : 0);
})();
