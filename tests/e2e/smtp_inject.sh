#!/usr/bin/env bash
# SMTP command injection (issue 16 #1) against aiosmtpd: a record field with
# CR/LF (or a list) in the smtp sink's `to:` template must never add a
# command or a recipient; the record is dead-lettered with the reason.
# `multiple_recipients: true` lets a site take a list from one field.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "Bail out! python3-aiosmtpd is not installed"; exit 1; }
SMTP_PID=""
trap '[ -n "$SMTP_PID" ] && { kill -TERM $SMTP_PID 2>/dev/null; wait $SMTP_PID 2>/dev/null; }; rm -rf "$TMP"' EXIT

# aiosmtpd logging every RCPT it accepts and every command it does not know.
cat >server.py <<'PY'
import signal, sys, threading
from aiosmtpd.controller import Controller
log = open(sys.argv[2], "a", buffering=1)
class H:
    async def handle_RCPT(self, server, session, envelope, address, opts):
        log.write("RCPT %s\n" % address)
        envelope.rcpt_tos.append(address)
        return "250 OK"
    async def handle_NOOP(self, server, session, envelope, arg):
        log.write("NOOP %s\n" % arg)
        return "250 OK"
    async def handle_DATA(self, server, session, envelope):
        log.write("DATA for %s\n" % ",".join(envelope.rcpt_tos))
        for line in envelope.original_content.split(b"\r\n"):
            if line.lower().startswith(b"x-injected:"):
                log.write("INJECTED HEADER %r\n" % line)
        return "250 stored"
c = Controller(H(), hostname="127.0.0.1", port=int(sys.argv[1]))
c.start()
done = threading.Event()
signal.signal(signal.SIGTERM, lambda *a: done.set())
done.wait()
c.stop()
PY
PORT=$(free_port)
$PY server.py "$PORT" "$TMP/smtp.log" 2>smtpd.err &
SMTP_PID=$!
wait_port "$PORT" && ok "aiosmtpd up on $PORT" || { not_ok "aiosmtpd up"; cat smtpd.err; finish; exit 1; }

cat >in.jsonl <<'J'
{"n":1,"to":"x@y.example, \"a\r\nRCPT TO:<smuggled@evil.example>\r\nNOOP x\"@example.com"}
{"n":2,"to":"\"a\r\nRCPT TO:<smuggled2@evil.example>\"@example.com"}
{"n":3,"to":"first@x.example, second@x.example"}
{"n":4,"to":"Only One <one@x.example>","subj":"hi\r\nX-Injected: yes"}
{"n":5,"to":"ok@x.example","from":"\"b\r\nRCPT TO:<smuggled3@evil.example>\"@acme.example"}
J
site() { # NAME EXTRA-SMTP-OPTIONS
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  smtp: { plugin: smtp, url: "smtp://127.0.0.1:$PORT", tls: { mode: none }, from: "{data.from}",
          to: "{data.to}", subject: "Note {data.n} {data.subj}", attach: event$2 }
routes:
  r: { from: in, to: smtp }
YAML
}
# Records without a from get the default through a second template field.
sed -i 's/"n":\([1-4]\),/"n":\1,"from":"bot@acme.example",/' in.jsonl
site single ""
exit_is "run (one mailbox per field)" 0 "$B" run single.yaml
cp smtp.log single.log 2>/dev/null || : >single.log
lacks "the smuggled RCPT never reaches the server" single.log "smuggled@evil.example"
lacks "nor the one in a quoted local part" single.log "smuggled2@evil.example"
lacks "nor the one in the sender" single.log "smuggled3@evil.example"
lacks "no smuggled command either" single.log "NOOP"
lacks "a list in one field adds no recipient" single.log "RCPT first@x.example"
contains "one mailbox is delivered" single.log "RCPT one@x.example"
lacks "a CR/LF in the subject adds no header" single.log "INJECTED HEADER"
[ "$(grep -c '^DATA' single.log)" -eq 1 ] && ok "only that one mail is sent" || not_ok "only one mail sent: $(cat single.log)"
sqlite3 single.db "SELECT reason FROM dead_letters ORDER BY seq" >single.dl
contains "the CR/LF record is dead-lettered with the reason" single.dl \
    "to: an address holds a control character (CR, LF or NUL are never sent in an SMTP command)"
contains "the list is dead-lettered with the reason" single.dl \
    "to: 'first@x.example, second@x.example' holds 2 addresses where one is allowed (set multiple_recipients: true to allow a list)"
contains "the sender with CR/LF is dead-lettered" single.dl \
    "from: an address holds a control character (CR, LF or NUL are never sent in an SMTP command)"
[ "$(wc -l <single.dl)" -eq 4 ] && ok "4 records dead-lettered" || not_ok "4 dead letters: $(cat single.dl)"

: >smtp.log
site multi ", multiple_recipients: true"
exit_is "check with multiple_recipients" 0 "$B" check multi.yaml
exit_is "run (lists allowed)" 0 "$B" run multi.yaml
contains "a list is delivered when the site allows it" smtp.log "DATA for first@x.example,second@x.example"
lacks "CR/LF is refused even then" smtp.log "smuggled"
lacks "no smuggled command with lists allowed" smtp.log "NOOP"
finish
