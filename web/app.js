// The review workbench (issue 15). Plain JS, no build step, no other origin:
// every request goes to the control API of the page's own origin
// (docs/api.md). Record data is only ever set as text (textContent, value),
// never as markup.
'use strict';

const $ = (id) => document.getElementById(id);
const el = (tag, props, ...kids) => {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = v;
    else if (k === 'style') Object.assign(e.style, v);   // CSSOM: allowed under the page's CSP
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids) if (kid !== null && kid !== undefined) e.append(kid);
  return e;
};

const ROLES = ['none', 'viewer', 'reviewer', 'operator', 'admin'];
const state = {
  token: null, who: null, role: 'none', claimTtl: 600000,
  items: [], selected: 0, timer: null,
  item: null, edits: {}, renew: null, rejected: null,
};

// ---- the API ---------------------------------------------------------------

class ApiError extends Error {
  constructor(status, msg) { super(msg); this.status = status; }
}

async function api(method, path, body, opts) {
  const headers = {};
  if (state.token) headers['Authorization'] = 'Bearer ' + state.token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const r = await fetch(path, {
    method, headers, body: body === undefined ? undefined : JSON.stringify(body),
    cache: 'no-store', credentials: 'omit', keepalive: !!(opts && opts.keepalive),
  });
  if (opts && opts.blob) {
    if (!r.ok) throw new ApiError(r.status, (await r.json().catch(() => ({}))).error || r.statusText);
    return r.blob();
  }
  const j = await r.json().catch(() => ({}));
  if (!r.ok) {
    if (r.status === 401) logout('Your token was not accepted: ' + (j.error || 'unauthorised'));
    throw new ApiError(r.status, j.error || r.statusText);
  }
  return j;
}

const can = (role) => ROLES.indexOf(state.role) >= ROLES.indexOf(role);

// ---- login -----------------------------------------------------------------

function readToken() {
  // A link from a mail: #token=...; read once, then cleared from the address bar.
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (m) {
    sessionStorage.setItem('bp_token', decodeURIComponent(m[1]));
    const rest = location.hash.replace(/(^#|&)token=[^&]+/, '$1').replace(/^#&/, '#');
    history.replaceState(null, '', location.pathname + location.search + (rest === '#' ? '' : rest));
  }
  return sessionStorage.getItem('bp_token');
}

async function login() {
  state.token = readToken();
  try {
    const me = await api('GET', '/api/v1/whoami');
    state.who = me.who; state.role = me.role; state.claimTtl = me.claim_ttl_ms || 600000;
  } catch (e) {
    if (e.status === 401 || e.status === 403 || !state.token) {
      showLogin(state.token ? (e.message || 'not allowed') : '');
      return;
    }
    showLogin('The bus does not answer: ' + e.message);
    return;
  }
  $('me').textContent = state.who + ' · ' + state.role;
  $('logout').hidden = !state.token;
  route();
}

function showLogin(msg) {
  show('login');
  $('login-error').textContent = msg || '';
  $('token').focus();
}

function logout(msg) {
  sessionStorage.removeItem('bp_token');
  state.token = null;
  stopQueue();
  leaveItem();
  showLogin(msg || '');
}

$('login-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem('bp_token', $('token').value.trim());
  $('token').value = '';
  login();
});
$('logout').addEventListener('click', () => logout());

function show(which) {
  for (const s of ['login', 'queue', 'item']) $(s).hidden = s !== which;
}

// ---- navigation: #item=SEQ or the queue --------------------------------------

function route() {
  const m = /item=(\d+)/.exec(location.hash);
  if (m) openItem(Number(m[1]));
  else openQueue();
}
window.addEventListener('hashchange', () => { if (state.who) route(); });
$('home').addEventListener('click', (ev) => { ev.preventDefault(); location.hash = ''; });

// ---- the queue -------------------------------------------------------------

function fmtAge(ms) {
  const s = Math.floor(ms / 1000);
  if (s < 60) return s + 's';
  const m = Math.floor(s / 60);
  if (m < 60) return m + 'm';
  const h = Math.floor(m / 60);
  if (h < 48) return h + 'h' + String(m % 60).padStart(2, '0');
  return Math.floor(h / 24) + 'd';
}
// Cut, not rounded, to two places: a confidence is never shown higher than it
// is (0.9499 is 0.94, below a threshold of 0.95, not "0.95 below 0.95").
const fmtConf = (c) => (c === null || c === undefined) ? '–' : (Math.floor(c * 100 + 1e-9) / 100).toFixed(2);
const ageClass = (it) => it.age_ms > it.sla_ms ? 'age-late' : it.age_ms > it.sla_ms / 2 ? 'age-warn' : 'age-ok';

function openQueue() {
  leaveItem();
  show('queue');
  refreshQueue();
  stopQueue();
  state.timer = setInterval(refreshQueue, 5000);   // live refresh
}
function stopQueue() { if (state.timer) clearInterval(state.timer); state.timer = null; }

async function refreshQueue() {
  let j;
  try { j = await api('GET', '/api/v1/review'); } catch (e) { $('q-updated').textContent = 'not updated: ' + e.message; return; }
  state.items = j.items || [];
  const routes = [...new Set(state.items.map((i) => i.route))].sort();
  const sel = $('q-route'), cur = sel.value;
  sel.replaceChildren(el('option', {value: '', text: 'all'}), ...routes.map((r) => el('option', {value: r, text: r})));
  sel.value = routes.includes(cur) ? cur : '';
  renderQueue();
  $('q-updated').textContent = 'updated ' + new Date().toLocaleTimeString();
}

function visibleItems() {
  const f = $('q-filter').value.trim().toLowerCase(), r = $('q-route').value, sort = $('q-sort').value;
  let items = state.items.filter((i) => (!r || i.route === r) &&
    (!f || [i.route, i.subject, i.reason, i.flags, i.claimed_by].some((v) => v && String(v).toLowerCase().includes(f))));
  const cmp = {
    age: (a, b) => b.age_ms - a.age_ms,
    priority: (a, b) => b.priority - a.priority || b.age_ms - a.age_ms,
    confidence: (a, b) => (a.lowest_confidence ?? 2) - (b.lowest_confidence ?? 2) || b.age_ms - a.age_ms,
    late: (a, b) => (b.age_ms / b.sla_ms) - (a.age_ms / a.sla_ms),
  }[sort];
  return items.sort(cmp);
}

function renderQueue() {
  const items = visibleItems();
  $('queue-count').textContent = '(' + items.length + ')';
  $('q-empty').hidden = items.length > 0;
  if (state.selected >= items.length) state.selected = Math.max(0, items.length - 1);
  $('q-body').replaceChildren(...items.map((it, idx) => {
    const open = () => { location.hash = 'item=' + it.seq; };
    const low = it.lowest_confidence !== null && it.lowest_confidence < it.confidence_threshold;
    const tr = el('tr', {
      class: ageClass(it) + (idx === state.selected ? ' selected' : ''), tabindex: '0',
      'data-seq': it.seq, 'aria-label': 'Record ' + it.seq + ', ' + (it.subject || '') + ', ' + it.reason,
      onclick: open, onkeydown: (ev) => { if (ev.key === 'Enter') open(); },
    },
      el('td', {text: String(it.seq)}),
      el('td', {text: it.route}),
      el('td', {text: it.subject || '–'}),
      el('td', {class: 'age', text: fmtAge(it.age_ms), title: 'SLA ' + fmtAge(it.sla_ms)}),
      el('td', {text: String(it.priority)}),
      el('td', {class: 'reason', text: it.reason}),
      el('td', {class: low ? 'conf-low' : 'conf-ok', text: fmtConf(it.lowest_confidence)}),
      el('td', {}, ...(it.flag_list || []).map((f) => el('span', {class: 'flag', text: f}))),
      el('td', {text: it.claimed_by || ''}));
    return tr;
  }));
}
for (const id of ['q-filter', 'q-route', 'q-sort']) $(id).addEventListener('input', renderQueue);

// ---- one item --------------------------------------------------------------

async function openItem(seq) {
  stopQueue();
  leaveItem();
  show('item');
  state.edits = {};
  $('item-h').textContent = 'Record ' + seq;
  $('item-claim').textContent = '';   // not the previous item's claim
  $('item-status').textContent = '';
  $('note').value = '';
  let it;
  try {
    it = await api('GET', '/api/v1/review/' + seq);
  } catch (e) {
    renderGone(seq, e);
    return;
  }
  state.item = it;
  renderItem(it);
  if (can('reviewer')) claim();
}

// A record that is no longer parked: decided, or rejected (then it can be reopened).
function renderGone(seq, e) {
  state.item = null;
  $('doc').replaceChildren();
  $('fields').replaceChildren();
  $('flags').replaceChildren();
  $('item-reason').textContent = '';
  $('actions').hidden = true;
  const kids = [el('span', {text: e.status === 404 ? 'Record ' + seq + ' is not waiting any more. ' : e.message + ' '})];
  if (e.status === 404 && can('reviewer'))
    kids.push(el('button', {type: 'button', id: 'reopen', text: 'Reopen (if it was rejected)', onclick: () => reopen(seq)}));
  $('item-status').replaceChildren(...kids);
}

async function reopen(seq) {
  try {
    const r = await api('POST', '/api/v1/review/' + seq + '/reopen', {note: $('note').value || undefined});
    $('item-status').textContent = 'Reopened: it waits in the queue again as record ' + r.new_seq + '.';
  } catch (e) {
    $('item-status').textContent = 'Cannot reopen: ' + e.message;
  }
}

function renderItem(it) {
  $('item-h').textContent = 'Record ' + it.seq + (it.subject ? ' · ' + it.subject : '');
  $('item-reason').textContent = it.reason;
  $('actions').hidden = !can('reviewer');
  renderClaim(it);
  renderFields(it);
  renderFlags(it);
  renderDoc(it);
  $('lineage').replaceChildren(...(it.lineage || []).map((l) => el('li', {
    text: l.plugin + ' ' + (l.version || '') + (l.model ? ' · model ' + l.model : '') +
      (l.confidence !== undefined ? ' · confidence ' + Number(l.confidence).toFixed(2) : '') +
      (l.changed ? ' · changed ' + l.changed : '') + (l.at ? ' · ' + new Date(l.at).toLocaleString() : ''),
  })));
  $('atts').replaceChildren(...(it.attachments || []).map((a) => el('li', {
    text: a.name + ' (' + a.media_type + ', ' + a.size + ' bytes' + (a.pages ? ', ' + a.pages + ' page(s)' : '') + ')',
  })));
  const r = $('reject-reason');
  r.replaceChildren(...(it.reject_reasons || []).map((x) => el('option', {value: x, text: x})));
  focusNextLow(-1);
}

function renderClaim(it) {
  $('item-claim').textContent = it.claimed_by
    ? 'claimed by ' + it.claimed_by + (it.claim_expires_ms ? ' until ' + new Date(it.claim_expires_ms).toLocaleTimeString() : '')
    : 'not claimed';
}

function inputType(v) {
  if (typeof v === 'number') return 'number';
  if (typeof v === 'string' && /^\d{4}-\d{2}-\d{2}$/.test(v)) return 'date';
  return 'text';
}

function renderFields(it) {
  const thr = it.confidence_threshold;
  $('fields').replaceChildren(...(it.fields || []).map((f, i) => {
    const id = 'f-' + i;
    const v = f.value === null || f.value === undefined ? '' : (typeof f.value === 'object' ? JSON.stringify(f.value) : String(f.value));
    const type = inputType(f.value);
    const input = el('input', {
      id, type, value: v, step: type === 'number' ? 'any' : undefined, 'data-path': f.path, 'data-i': i,
      'data-low': f.low ? '1' : '0', readonly: can('reviewer') ? undefined : true,
      'aria-describedby': id + '-c',
      oninput: (ev) => {
        const now = ev.target.value;
        if (now === v) delete state.edits[f.path]; else state.edits[f.path] = now;
        ev.target.closest('.field').classList.toggle('edited', now !== v);
        $('approve').textContent = '';
        $('approve').append(Object.keys(state.edits).length ? 'Approve with corrections ' : 'Approve ', el('kbd', {text: 'a'}));
      },
      onfocus: () => highlight(i, false),
    });
    return el('div', {class: 'field' + (f.low ? ' low' : ''), 'data-i': i},
      el('label', {for: id, text: f.name}),
      input,
      el('span', {id: id + '-c', class: 'conf ' + (f.confidence < thr ? 'conf-low' : 'conf-ok'),
        title: 'confidence; the route asks for ' + thr,
        text: fmtConf(f.confidence) + (f.confidence < thr ? ' below ' + thr : '')}),
      f.raw !== undefined && f.raw !== v ? el('span', {class: 'raw muted', text: 'printed: ' + f.raw}) : null);
  }));
  if (!(it.fields || []).length)
    $('fields').append(el('p', {class: 'muted', text: 'No extracted fields on this record.'}));
}

function renderFlags(it) {
  $('flags').replaceChildren(...(it.flag_details || []).map((f) => {
    const li = el('li', {class: 'flagd'}, el('span', {class: 'flag', text: f.flag}), ' ', el('span', {text: f.reason || ''}),
      f.by ? el('span', {class: 'muted', text: ' (' + f.by + ')'}) : null);
    if (f.duplicate_of) {
      const d = f.duplicate_of;
      const trace = el('ol', {class: 'trace'});
      li.append(el('div', {}, 'Earlier record: ',
        el('a', {href: '#', text: (d.subject || d.id) + ' (' + d.id + ')', onclick: async (ev) => {
          ev.preventDefault();
          try {
            const t = await api('GET', '/api/v1/audit?id=' + encodeURIComponent(d.id));
            trace.replaceChildren(...(t.trace || []).map((e) => el('li', {text: new Date(e.at_ms).toLocaleString() + ' · ' + e.route + ' · ' + (e.outcome || '') + ' · ' + (e.subject || '')})));
            if (!(t.trace || []).length) trace.replaceChildren(el('li', {text: 'no audit entries'}));
          } catch (e) { trace.replaceChildren(el('li', {text: e.message})); }
        }}), d.match ? ' · ' + d.match + ' match, score ' + d.score : ''), trace);
    }
    if (f.po && f.po.invoice_total !== undefined) {
      li.append(el('table', {class: 'po', 'aria-label': 'Invoice and purchase order totals'},
        el('tr', {}, el('th', {scope: 'row', text: 'Invoice total'}), el('td', {text: f.po.invoice_total})),
        el('tr', {}, el('th', {scope: 'row', text: 'PO ' + (f.po.po_number || '') + ' total'}), el('td', {text: f.po.po_total})),
        el('tr', {}, el('th', {scope: 'row', text: 'Difference'}), el('td', {class: 'diff', text: f.po.difference}))));
    }
    return li;
  }));
  if (!(it.flag_details || []).length) $('flags').append(el('li', {class: 'muted', text: 'none'}));
}

// The document: the PDF pages the server rendered, with the fields' boxes
// (where.page + where.box, 0..1 of the page), or the text with the fields'
// spans (where.path + where.span, code points).
function renderDoc(it) {
  const doc = $('doc');
  doc.replaceChildren();
  const pdf = (it.attachments || []).find((a) => a.pages > 0);
  const fields = it.fields || [];
  if (pdf) {
    for (let p = 1; p <= Math.min(pdf.pages, 20); p++) {
      const img = el('img', {alt: 'Page ' + p + ' of ' + pdf.name, class: 'page-img'});
      const page = el('div', {class: 'page', 'data-page': p}, img);
      fields.forEach((f, i) => {
        if (!f.where || f.where.page !== p || !f.where.box) return;
        const [x0, y0, x1, y1] = f.where.box;
        page.append(el('button', {
          type: 'button', class: 'box' + (f.low ? ' low' : ''), 'data-i': i, tabindex: '-1',
          'aria-label': 'Where ' + f.name + ' was read',
          style: {left: x0 * 100 + '%', top: y0 * 100 + '%', width: (x1 - x0) * 100 + '%', height: (y1 - y0) * 100 + '%'},
          onclick: () => highlight(i, true),
        }));
      });
      doc.append(page);
      const url = pdf.page_url.replace('{N}', p) + '&px=1600';
      api('GET', url, undefined, {blob: true})
        .then((b) => { img.src = URL.createObjectURL(b); })
        .catch((e) => { page.replaceChildren(el('p', {class: 'error', text: 'Page ' + p + ': ' + e.message})); });
    }
    return;
  }
  const texts = it.texts || {};
  const path = Object.keys(texts)[0];
  const d = it.envelope && it.envelope.data ? it.envelope.data : {};
  const text = path ? texts[path] : (d.text || '');
  const chars = Array.from(text);   // spans count code points
  const marks = fields.map((f, i) => ({i, f})).filter((m) => m.f.where && m.f.where.span && m.f.where.path === path)
    .sort((a, b) => a.f.where.span[0] - b.f.where.span[0]);
  const pre = el('pre', {class: 'mail', 'aria-label': 'Mail text'});
  let pos = 0;
  for (const m of marks) {
    const [s, e] = m.f.where.span;
    if (s < pos) continue;   // overlapping spans: the first one wins
    pre.append(chars.slice(pos, s).join(''));
    pre.append(el('mark', {class: 'span' + (m.f.low ? ' low' : ''), 'data-i': m.i, title: m.f.name,
      onclick: () => highlight(m.i, true)}, chars.slice(s, e).join('')));
    pos = e;
  }
  pre.append(chars.slice(pos).join(''));
  if (d.subject) doc.append(el('p', {class: 'muted', text: 'Subject: ' + d.subject + (d.from ? ' · from ' + (d.from.name || '') + ' <' + (d.from.address || '') + '>' : '')}));
  doc.append(pre);
}

// Box or span ↔ field: both lit, the other side scrolled into view.
function highlight(i, fromDoc) {
  for (const e of document.querySelectorAll('.box.on, mark.on, .field.on')) e.classList.remove('on');
  const marks = document.querySelectorAll(`.box[data-i="${i}"], mark[data-i="${i}"]`);
  marks.forEach((e) => e.classList.add('on'));
  const field = document.querySelector(`.field[data-i="${i}"]`);
  if (field) field.classList.add('on');
  if (fromDoc && field) field.querySelector('input').focus({preventScroll: false});
  else if (marks[0]) marks[0].scrollIntoView({block: 'nearest', inline: 'nearest'});
}

function fieldInputs() { return [...document.querySelectorAll('#fields input')]; }

// Tab: the next field below the threshold (then the first one again); when
// none is low, Tab moves as usual.
function focusNextLow(from) {
  const ins = fieldInputs();
  const low = ins.filter((x) => x.dataset.low === '1');
  if (!low.length) return false;
  const next = low.find((x) => Number(x.dataset.i) > from) || low[0];
  next.focus();
  next.select && next.type !== 'date' && next.type !== 'number' && next.select();
  return true;
}

// ---- claims: on open, renewed while open, released on leave ------------------

async function claim() {
  const it = state.item;
  if (!it) return;
  try {
    const c = await api('POST', '/api/v1/review/' + it.seq + '/claim');
    it.claimed_by = c.claimed_by; it.claim_expires_ms = c.claim_expires_ms;
    renderClaim(it);
    const left = (c.claim_expires_ms || Date.now() + state.claimTtl) - Date.now();
    clearTimeout(state.renew);
    state.renew = setTimeout(claim, Math.max(5000, left / 2));
  } catch (e) {
    $('item-claim').textContent = e.status === 409 ? e.message + ' — you can read it, not decide it' : 'claim failed: ' + e.message;
    if (e.status === 409) $('actions').hidden = true;
  }
}

function leaveItem() {
  clearTimeout(state.renew);
  state.renew = null;
  const it = state.item;
  state.item = null;
  if (it && can('reviewer') && it.claimed_by === state.who)
    api('POST', '/api/v1/review/' + it.seq + '/release', undefined, {keepalive: true}).catch(() => {});
  for (const img of document.querySelectorAll('.page-img')) if (img.src.startsWith('blob:')) URL.revokeObjectURL(img.src);
}
window.addEventListener('pagehide', leaveItem);

// ---- decisions -------------------------------------------------------------

async function decide(verb, body) {
  const it = state.item;
  if (!it) return;
  $('item-status').textContent = verb + '…';
  for (const b of document.querySelectorAll('#actions button')) b.disabled = true;
  try {
    const r = await api('POST', '/api/v1/review/' + it.seq + '/' + verb + '?wait=30', body);
    clearTimeout(state.renew);
    state.item = null;   // decided: nothing to release
    const msg = {delivered: 'Delivered', rejected: 'Rejected', pending: 'Recorded; still being delivered',
      parked: 'Parked again by a later step', dropped: 'Dropped by a later step'}[r.outcome] || r.outcome;
    const kids = [el('strong', {text: msg}), ' (' + verb + ' by ' + r.by + '). '];
    if (r.outcome === 'rejected')
      kids.push(el('button', {type: 'button', text: 'Reopen', onclick: () => reopen(it.seq)}), ' ');
    kids.push(el('a', {href: '#', text: 'Back to the queue', onclick: (ev) => { ev.preventDefault(); location.hash = ''; }}));
    $('item-status').replaceChildren(...kids);
    $('actions').hidden = true;
  } catch (e) {
    $('item-status').textContent = 'Not done: ' + e.message;
  } finally {
    for (const b of document.querySelectorAll('#actions button')) b.disabled = false;
  }
}

function approve() {
  const note = $('note').value || undefined;
  const set = {...state.edits};
  if (Object.keys(set).length) decide('correct', {set, note});
  else decide('approve', {note});
}
function correct() {
  const active = document.activeElement;
  const from = active && active.dataset && active.dataset.i !== undefined ? Number(active.dataset.i) : -1;
  if (!focusNextLow(from)) { const ins = fieldInputs(); if (ins.length) ins[0].focus(); }
}
function reject() {
  $('reject-note').value = $('note').value;
  $('reject-dlg').showModal();
  $('reject-reason').focus();
}
$('reject-dlg').addEventListener('close', () => {
  if ($('reject-dlg').returnValue !== 'ok') return;
  decide('reject', {reason: $('reject-reason').value, note: $('reject-note').value || undefined});
});
$('fields-form').addEventListener('submit', (ev) => ev.preventDefault());
$('approve').addEventListener('click', approve);
$('correct').addEventListener('click', correct);
$('reject').addEventListener('click', reject);
$('back').addEventListener('click', () => { location.hash = ''; });
$('help-btn').addEventListener('click', () => $('help-dlg').showModal());

// ---- keys ------------------------------------------------------------------

document.addEventListener('keydown', (ev) => {
  if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
  if (document.querySelector('dialog[open]')) return;
  const t = ev.target, typing = t && (t.tagName === 'INPUT' || t.tagName === 'TEXTAREA' || t.tagName === 'SELECT');
  const inItem = !$('item').hidden && state.item;
  if (ev.key === 'Tab' && !ev.shiftKey && inItem) {
    const from = t && t.dataset && t.dataset.i !== undefined ? Number(t.dataset.i) : -1;
    if (focusNextLow(from)) ev.preventDefault();
    return;
  }
  if (ev.key === 'Escape') { if (!$('item').hidden) { ev.preventDefault(); location.hash = ''; } return; }
  if (typing && ev.key !== 'Enter') return;
  if (ev.key === '?') { ev.preventDefault(); $('help-dlg').showModal(); return; }
  if (inItem && can('reviewer') && !$('actions').hidden && !typing) {
    if (ev.key === 'a') { ev.preventDefault(); approve(); }
    else if (ev.key === 'c') { ev.preventDefault(); correct(); }
    else if (ev.key === 'r') { ev.preventDefault(); reject(); }
    return;
  }
  if (!$('queue').hidden && !typing) {
    const rows = [...document.querySelectorAll('#q-body tr')];
    if (ev.key === 'j' || ev.key === 'k') {
      ev.preventDefault();
      state.selected = Math.min(rows.length - 1, Math.max(0, state.selected + (ev.key === 'j' ? 1 : -1)));
      rows.forEach((r, i) => r.classList.toggle('selected', i === state.selected));
      if (rows[state.selected]) rows[state.selected].focus();
    } else if (ev.key === 'Enter' && rows[state.selected] && t === document.body) {
      location.hash = 'item=' + rows[state.selected].dataset.seq;
    }
  }
});

login();
