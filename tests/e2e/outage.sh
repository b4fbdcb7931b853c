#!/usr/bin/env bash
# Issue 17 finding 5: a sink whose server is down does not spend the records'
# retries: the route waits for it (saying so), and delivers everything once
# it is back; errors.outage_limit bounds the wait.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/mail_lib.sh"
B=$BACKPLANE
cd "$TMP"
PY=/usr/bin/python3
$PY -c 'import aiosmtpd' 2>/dev/null || { echo "Bail out! python3-aiosmtpd is not installed"; exit 1; }
SMTP_PID=""
BUS_PID=""
trap '[ -n "$SMTP_PID" ] && { kill -TERM $SMTP_PID 2>/dev/null; wait $SMTP_PID 2>/dev/null; }
      [ -n "$BUS_PID" ] && { kill -9 $BUS_PID 2>/dev/null; wait $BUS_PID 2>/dev/null; }
      rm -rf "$TMP"' EXIT
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got '$2', want '$3'"; fi; }
smtpd_start() {
    $PY -m aiosmtpd -n -l "127.0.0.1:$PORT" -c aiosmtpd.handlers.Mailbox "$TMP/stored" 2>>smtpd.err &
    SMTP_PID=$!
    wait_port "$PORT"
}
smtpd_stop() { kill -TERM $SMTP_PID; wait $SMTP_PID 2>/dev/null; SMTP_PID=""; }
stored() { ls stored/new 2>/dev/null | wc -l; }
PORT=$(free_port)
for i in $(seq 1 12); do echo "{\"to\":\"v$i@vendor.example\",\"n\":$i}"; done >in.jsonl
site() { # site NAME EXTRA-ERRORS
cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  smtp:
    plugin: smtp
    url: "smtp://127.0.0.1:$PORT"
    tls: { mode: none }
    from: "AP Desk <ap-desk@acme.example>"
    to: "{data.to}"
    subject: "Reply {data.n}"
    body: "We received your message {id}."
routes:
  r: { from: in, to: smtp, batch: 4, errors: { retry: { max: 2, backoff: 50ms..200ms }$2 } }
YAML
}
# 1. The server is down at the start and comes back after ~5 s.
site down ""
"$B" run down.yaml >down.out 2>down.err &
BUS_PID=$!
sleep 5
kill -0 $BUS_PID 2>/dev/null && ok "the bus waits while the server is down" ||
    not_ok "the bus waits while the server is down (it ended)"
eq "nothing dead-lettered while it is down" "$(sqlite3 down.db 'SELECT count(*) FROM dead_letters' 2>/dev/null || echo 0)" 0
smtpd_start && ok "aiosmtpd back on $PORT" || not_ok "aiosmtpd up"
for _ in $(seq 300); do kill -0 $BUS_PID 2>/dev/null || break; sleep 0.05; done
wait $BUS_PID; rc=$?; BUS_PID=""
eq "the run ends 0 once all is delivered" "$rc" 0
eq "every reply delivered after the outage" "$(stored)" 12
eq "no dead letters" "$(sqlite3 down.db 'SELECT count(*) FROM dead_letters')" 0
contains "the wait is said" down.err "[r/smtp] not connected, 4 record(s) wait (their retries are not spent): server unreachable"
contains "the return is said" down.err "[r/smtp] connected again after"
lacks "no retries given up" down.err "gave up after"

# 2. With errors.outage_limit the waiting records are dead-lettered after it,
#    with the reason; the run ends (exit 0: the route did not fail).
smtpd_stop
rm -rf stored
site limit ", outage_limit: 1s"
exit_is "with outage_limit 1s the run ends" 0 "$B" run limit.yaml
cp "$ERR" limit.err
eq "all 12 dead-lettered" "$(sqlite3 limit.db 'SELECT count(*) FROM dead_letters')" 12
contains "the reason names the limit" limit.err "not connected for longer than errors.outage_limit (1s):"
# 3. A server that answers 421 (closing) at the greeting, then aiosmtpd: the
#    wait quotes the server's reply, not libcurl's words; nothing is lost.
cat >greet421.py <<'PY'
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
while True:
    c, _ = s.accept()
    c.sendall(b"421 4.3.2 Service shutting down\r\n")
    c.close()
PY
rm -rf stored
site busy ""
$PY greet421.py "$PORT" 2>g421.err &
G421=$!
wait_port "$PORT" || not_ok "the 421 server is up"
"$B" run busy.yaml >busy.out 2>busy.err &
BUS_PID=$!
sleep 2
kill $G421; wait $G421 2>/dev/null
smtpd_start || not_ok "aiosmtpd up again"
for _ in $(seq 300); do kill -0 $BUS_PID 2>/dev/null || break; sleep 0.05; done
wait $BUS_PID; rc=$?; BUS_PID=""
eq "421 then back: the run ends 0" "$rc" 0
eq "421 then back: every reply delivered" "$(stored)" 12
eq "421 then back: no dead letters" "$(sqlite3 busy.db 'SELECT count(*) FROM dead_letters')" 0
contains "the wait quotes the server's reply" busy.err "record(s) wait (their retries are not spent): server closing the connection: SMTP 421 4.3.2 Service shutting down"
lacks "not libcurl's words" busy.err "Weird server reply"
smtpd_stop

site bad ", outage_limit: soon"
exit_is "check refuses a bad outage_limit" 1 "$B" check bad.yaml
contains "at its line and column" "$ERR" "bad.yaml:14:103: errors.outage_limit must be a duration, e.g. 10m"
finish
