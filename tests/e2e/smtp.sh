#!/usr/bin/env bash
# The SMTP sink against aiosmtpd: replies to the MIME test set built from
# templates (attachments and the CloudEvent attached), checked in what the
# server stored; STARTTLS + AUTH, a refused recipient, a refused login.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "Bail out! python3-aiosmtpd is not installed"; exit 1; }
SMTP_PIDS=""
trap 'for p in $SMTP_PIDS; do kill -TERM $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$TMP"' EXIT

# 1. Plain aiosmtpd (its Mailbox handler stores every message in a maildir).
PORT=$(free_port)
$PY -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$TMP/stored" 2>smtpd.err &
SMTP_PIDS="$SMTP_PIDS $!"
wait_port "$PORT" && ok "aiosmtpd up on $PORT" || { not_ok "aiosmtpd up"; cat smtpd.err; finish; exit 1; }
make_pdf inv.pdf
mkdir -p md/new md/cur md/tmp
$SEED md/new --pdf inv.pdf
cat >reply.yaml <<YAML
site: reply
state: $TMP/reply.db
connectors:
  mail: { plugin: maildir, path: $TMP/md, max_message_size: 256KiB, max_attachment_size: 100KiB }
  smtp:
    plugin: smtp
    url: "smtp://127.0.0.1:$PORT"
    tls: { mode: none }
    from: "AP Desk <ap-desk@acme.example>"
    to: "{data.from.address}"
    subject: "Re: {data.subject}"
    body: "We received your message {id}.\nGrüße, AP Desk"
    in_reply_to: "{data.message_id}"
    attach: both
routes:
  r: { from: mail, to: smtp }
YAML
exit_is "check" 0 "$B" check reply.yaml
exit_is "maildir -> smtp run" 0 "$B" run reply.yaml
$PY - "$TMP/stored" inv.pdf >stored.txt <<'PY'
import email, email.policy, hashlib, json, mailbox, sys
box = mailbox.Maildir(sys.argv[1], create=False)
pdf = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
msgs = [email.message_from_bytes(m.as_bytes(), policy=email.policy.default) for m in box]
print("count", len(msgs))
for m in msgs:
    print("to", m["To"], "| subject", m["Subject"], "| from", m["From"], "| irt", m["In-Reply-To"])
    for part in m.walk():
        fn = part.get_filename()
        if part.get_content_type() == "text/plain" and not fn:
            print("body", json.dumps(part.get_content(), ensure_ascii=False))
        elif fn == "event.json":
            print("event id", json.loads(part.get_content())["id"])
        elif fn:
            print("attachment", fn, part.get_content_type(),
                  "sha-ok" if hashlib.sha256(part.get_content()).hexdigest() == pdf else "sha-differs")
PY
contains "7 mails stored by aiosmtpd" stored.txt "count 7"
contains "reply to the invoice: recipient and subject from the templates" stored.txt "to invoices@acme-supplies.example | subject Re: Invoice INV-2026-0042 | from AP Desk <ap-desk@acme.example> | irt <inv-42@acme-supplies.example>"
contains "the PDF attached again, byte for byte" stored.txt "attachment INV-2026-0042.pdf application/pdf sha-ok"
contains "the CloudEvent attached as event.json" stored.txt "event id inv-42@acme-supplies.example"
contains "UTF-8 body with an envelope field" stored.txt 'body "We received your message inv-42@acme-supplies.example.\nGrüße, AP Desk'
contains "UTF-8 subject encoded and decoded back" stored.txt "subject Re: Счёт № 7 — 東京"
contains "ISO-8859-1 subject re-encoded" stored.txt "subject Re: Rechnung für März"
grep -m1 -h -i "^Message-ID:" "$TMP"/stored/new/* >mid.txt
contains "a Message-ID derived from the record" mid.txt "@acme.example>"

# 2. STARTTLS required + AUTH; per-record results.
P2=$(free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout key.pem -out cert.pem 2>/dev/null
$PY "$BP_SOURCE_ROOT/tests/e2e/smtp_server.py" "$P2" cert.pem key.pem "$TMP/auth" bot 'p4ss-w0rd!' 2>smtp2.err &
SMTP_PIDS="$SMTP_PIDS $!"
wait_port "$P2" && ok "aiosmtpd with STARTTLS + AUTH up" || not_ok "aiosmtpd STARTTLS up"
printf '%s\n' '{"n":1,"to":"a@x.example"}' '{"n":2,"to":"nobody@x.example"}' '{"n":3,"to":""}' \
    '{"n":4,"to":"Bee <b@x.example>, c@x.example"}' '{"n":5,"to":"tempfail@x.example"}' >notes.jsonl
cat >auth.yaml <<YAML
site: auth
state: $TMP/auth.db
connectors:
  notes: { plugin: file, path: $TMP/notes.jsonl }
  smtp: { plugin: smtp, url: "smtp://127.0.0.1:$P2", user: bot, password: "\${env:SMTP_PASS}",
          tls: { ca_file: $TMP/cert.pem }, from: "bot@acme.example", to: "{data.to}", subject: "Note {data.n}",
          multiple_recipients: true }
routes:
  r: { from: notes, to: smtp, errors: { retry: { max: 2, backoff: 10ms..20ms } } }
YAML
SMTP_PASS='p4ss-w0rd!' "$B" run auth.yaml --log-level debug 2>auth.log
ls "$TMP/auth/new" 2>/dev/null | wc -l >auth.count
contains "2 of 5 delivered" auth.count "2"
cat "$TMP"/auth/new/* >auth.stored 2>/dev/null
contains "over STARTTLS" auth.stored "X-Test-TLS: yes"
contains "after AUTH" auth.stored "X-Test-Auth: bot"
contains "two recipients from one template" auth.stored "X-Test-Rcpt: b@x.example,c@x.example"
sqlite3 auth.db "SELECT reason FROM dead_letters ORDER BY seq" >auth.dl
contains "a refused recipient is dead-lettered with the server's reply" auth.dl "550"
contains "an empty recipient is dead-lettered" auth.dl "no recipient: 'to' gave ''"
contains "a 451 is retried" auth.log "SMTP 451"
contains "and dead-lettered when the retries are spent" auth.dl "451"
lacks "the password never reaches the log" auth.log 'p4ss-w0rd!'
# A wrong password: nothing sent, retried as not connected, secret not shown.
rm -f auth.db
SMTP_PASS='wrong-secret-77' "$B" run auth.yaml 2>bad.log &
pid=$!; sleep 2; kill -TERM $pid; wait $pid
# The rule (connectors/common/fault.h): not connected, quoting the server.
contains "a refused login is not connected, with the server's reply" bad.log "not connected: credentials refused: SMTP 535 5.7.8 Authentication credentials invalid"
lacks "the wrong password is not shown" bad.log "wrong-secret-77"
[ "$(ls "$TMP/auth/new" | wc -l)" -eq 2 ] && ok "nothing more sent with a wrong password" || not_ok "sent with a wrong password"
# No login where the server requires one: 530 at MAIL FROM is about the
# session, not the message: not connected (was a reject: every record
# dead-lettered at once).
sed -e 's/user: bot, password: "\${env:SMTP_PASS}",//' -e "s#$TMP/auth.db#$TMP/noauth.db#" auth.yaml >noauth.yaml
"$B" run noauth.yaml 2>noauth.log &
pid=$!; sleep 2; kill -TERM $pid; wait $pid
contains "530 is not connected, quoting the server" noauth.log "not connected: authentication required: SMTP 530 5.7.0 Authentication required"
sqlite3 noauth.db "SELECT reason FROM dead_letters ORDER BY seq" >noauth.dl 2>/dev/null
lacks "no record is rejected for it" noauth.dl "reject: SMTP 530"
# A certificate that does not verify (no ca_file for the self-signed one):
# not connected, with libcurl's reason (was the same class; now it says so).
sed -e "s#tls: { ca_file: $TMP/cert.pem }, ##" -e "s#$TMP/auth.db#$TMP/tlsbad.db#" auth.yaml >tlsbad.yaml
SMTP_PASS='p4ss-w0rd!' "$B" run tlsbad.yaml 2>tlsbad.log &
pid=$!; sleep 1.5; kill -TERM $pid; wait $pid
contains "an unverified certificate is not connected, saying why" tlsbad.log "not connected: TLS verification failed: SSL certificate problem"
# A bad template path fails at start-up, pointing at the column.
sed 's/subject: "Note {data.n}"/subject: "Note {data..n}"/' auth.yaml >badtpl.yaml
SMTP_PASS=x exit_is "a bad template path fails the run" 1 "$B" run badtpl.yaml
contains "naming option and column" "$ERR" "subject:7: 'data..n' is not an envelope path"
finish
