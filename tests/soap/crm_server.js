// The test CRM on node-soap: contacts and accounts (crm.wsdl). Started by the
// test suite as a direct child on loopback:
//   node crm_server.js --port 0 --state FILE [--basic user:pass] [--wss user:pass]
//                      [--tls CERT.pem,KEY.pem]   (HTTPS instead of HTTP)
// prints "PORT <n>" when it listens. Contacts persist in FILE (JSON), so a
// restarted server keeps what it accepted. Records whose Name asks for it
// trigger each fault shape a real SOAP stack produces (see TEST-PEERS.md).
'use strict';
const fs = require('fs');
const http = require('http');
const https = require('https');
const path = require('path');
const soap = require('soap');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const stateFile = args.state;
let db = { contacts: {}, attempts: {}, upserts: 0 };
if (stateFile && fs.existsSync(stateFile)) db = JSON.parse(fs.readFileSync(stateFile, 'utf8'));
let dirty = false;
function save() {
  if (!stateFile || !dirty) return;
  fs.writeFileSync(stateFile + '.tmp', JSON.stringify(db));
  fs.renameSync(stateFile + '.tmp', stateFile);
  dirty = false;
}
setInterval(save, 50).unref();

const accounts = {
  A1: { Name: 'Acme & Sons <Ltd>', Industry: 'Manufacturing', Revenue: '1250000.50', Founded: '1999-04-01' },
  A2: { Name: 'Globex', Industry: 'Energy', Revenue: '98000', Founded: '2004-11-30' },
};

function clientFault(text) {
  return { Fault: { faultcode: 'soap:Client', faultstring: text, detail: { reason: text } } };
}

const crm = {
      GetContacts(req) {
        const since = req.modifiedSince instanceof Date ? req.modifiedSince.toISOString() : String(req.modifiedSince || '');
        const out = Object.values(db.contacts)
          .filter((c) => c.ModifiedAt > since)
          .sort((a, b) => (a.ModifiedAt < b.ModifiedAt ? -1 : a.ModifiedAt > b.ModifiedAt ? 1 : 0))
          // JS key order, not the schema's sequence (a node-soap quirk).
          .map((c) => ({ ModifiedAt: c.ModifiedAt, Email: c.Email, Name: c.Name, Id: c.Id,
                         Score: c.Score, Active: c.Active, AccountId: c.AccountId }));
        return { Contact: out };
      },
      UpsertContact(req) {
        const c = req.Contact || {};
        const name = String(c.Name || '');
        if (name === 'crash') {
          // An uncaught JS error: node-soap answers a 1.2-shaped fault in a 1.1 envelope.
          throw new Error('database handle is gone');
        }
        if (name === 'slow') {
          // Answers after 2 s: past a client's timeout.
          return new Promise((resolve) => setTimeout(() => resolve({ Id: c.Id, Created: false }), 2000));
        }
        if (name === 'server-fault') {
          throw { Fault: { faultcode: 'soap:Server', faultstring: 'CRM database is locked', statusCode: 500 } };
        }
        if (name === 'forbidden') {
          // The caller's account may read but not write (HTTP 403).
          throw { Fault: { faultcode: 'soap:Client', faultstring: 'not allowed to change contacts', statusCode: 403 } };
        }
        if (name === 'wsse-fault') {
          // The WS-Security fault code of OASIS WSS 1.1, as a 500.
          throw { Fault: { faultcode: 'wsse:FailedAuthentication',
                           faultstring: 'The security token could not be authenticated or authorized', statusCode: 500 } };
        }
        if (name.startsWith('flaky')) {
          // Fails with a Server fault the first two times this Id is sent.
          const n = (db.attempts[c.Id] || 0) + 1;
          db.attempts[c.Id] = n;
          dirty = true;
          if (n <= 2) throw { Fault: { faultcode: 'soap:Server', faultstring: 'temporarily overloaded (' + n + ')', statusCode: 500 } };
        }
        if (!c.Id) throw clientFault('Id is required');
        if (c.Email !== undefined && !String(c.Email).includes('@')) {
          // A thrown fault without statusCode goes out as HTTP 200 (quirk).
          throw clientFault('invalid e-mail address: ' + c.Email);
        }
        const created = !db.contacts[c.Id];
        const stamp = new Date(Date.now() + (db.upserts++ % 1000) / 1000).toISOString();
        db.contacts[c.Id] = Object.assign({}, db.contacts[c.Id] || {}, c, { ModifiedAt: stamp });
        dirty = true;
        return { Id: c.Id, Created: created };
      },
      GetAccount(req) {
        const a = accounts[req.Id];
        if (!a) throw clientFault('no such account: ' + req.Id);
        return { Account: Object.assign({ Id: req.Id }, a) };
      },
};
const service = { CrmService: { CrmPort: crm, CrmPort12: crm } };

const wsdl = fs.readFileSync(path.join(__dirname, 'crm.wsdl'), 'utf8');
const evil = {
  '/evil/xxe': '<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n' +
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
    '<GetAccountResponse xmlns="urn:example:crm"><Account><Id>A1</Id><Name>&x;</Name></Account>' +
    '</GetAccountResponse></soap:Body></soap:Envelope>',
  '/evil/lol': '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">' +
    Array.from({ length: 9 }, (_, i) => '<!ENTITY lol' + (i + 1) + ' "' + ('&lol' + (i || '') + ';').repeat(10) + '">').join('') +
    ']>\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>' +
    '<GetAccountResponse xmlns="urn:example:crm"><Account><Id>A1</Id><Name>&lol9;</Name></Account>' +
    '</GetAccountResponse></soap:Body></soap:Envelope>',
  '/evil/html': '<html><body><h1>502 Bad Gateway</h1></body></html>',
};
const basic = args.basic ? 'Basic ' + Buffer.from(args.basic).toString('base64') : null;
// Paths node-soap does not serve come here: the hostile replies.
const onOther = (req, res) => {
  req.resume();
  req.on('end', () => {
    if (!evil[req.url]) { res.writeHead(404); res.end(); return; }
    res.writeHead(req.url === '/evil/html' ? 502 : 200, { 'Content-Type': 'text/xml' });
    res.end(evil[req.url]);
  });
};
let server;
if (args.tls) {
  const [cert, key] = args.tls.split(',');
  server = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key) }, onOther);
} else {
  server = http.createServer(onOther);
}
server.keepAliveTimeout = 30000;
const soapServer = soap.listen(server, '/crm', service, wsdl);
const soapServer12 = soap.listen(server, '/crm12', service, wsdl);
// Basic auth in front of both SOAP paths (node-soap's own hook).
soapServer.authorizeConnection = soapServer12.authorizeConnection = (req, res) => {
  if (!basic || req.headers.authorization === basic) return true;
  res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="crm"', 'Content-Type': 'text/plain' });
  res.write('authentication required');
  return false;   // node-soap ends the response
};
if (args.wss) {
  const [user, pass] = args.wss.split(':');
  soapServer.authenticate = soapServer12.authenticate = (security) => {
    const t = security && security.UsernameToken;
    if (!t || t.Username !== user) return false;
    const pw = t.Password;
    const type = pw && pw.attributes && pw.attributes.Type || '';
    const value = pw && (pw.$value !== undefined ? pw.$value : pw);
    if (type.endsWith('#PasswordDigest'))
      return value === soap.passwordDigest(t.Nonce.$value || t.Nonce, t.Created, pass);
    return value === pass;
  };
}
process.on('SIGTERM', () => { save(); process.exit(0); });
server.listen(Number(args.port || 0), '127.0.0.1', () => {
  console.log('PORT ' + server.address().port);
});
