#!/usr/bin/env bash
# The admin listener (issue 22, DESIGN.md §9): the control API on TCP with
# bearer tokens and roles, TLS with client certificates (a CA made here by
# openssl), /health, /ready, /metrics (checked by promtool), the back-office
# figures in `report`, the CLI with --url/--token-file, and a slow client that
# must not hold up delivery. Real processes, loopback only.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
OWNER=
stop_owner() {
    [ -n "$OWNER" ] || return 0
    kill -TERM "$OWNER" 2>/dev/null
    wait "$OWNER" 2>/dev/null
    OWNER=
}
trap 'stop_owner; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT
wait_for() {
    local t=$(( $1 * 10 )); shift
    while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
    return 1
}
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
# code TOKEN METHOD PATH [BODY]: the HTTP status of one request to the owner.
code() {
    local tok=$1 m=$2 p=$3 body=${4:-}
    curl -s -o "$TMP/body" -w '%{http_code}' -X "$m" ${tok:+-H "Authorization: Bearer $tok"} \
        ${body:+-H 'Content-Type: application/json' --data "$body"} "$URL$p"
}
port_of() { grep -o 'admin listener on https\?://[0-9.]*:[0-9]*' "$1" | head -1 | sed 's/.*://'; }
start_owner() {   # start_owner SITE LOG [ARGS...]
    local site=$1 log=$2; shift 2
    "$B" run "$site" --serve "$@" 2>"$log" &
    OWNER=$!
    wait_for 10 grep -qs "admin listener on" "$log"
    PORT=$(port_of "$log")
}

# ---- 1. tokens without an owner, stored as a hash only --------------------
: >in.jsonl
cat >site.yaml <<YAML
site: adm
state: $TMP/adm.db
connectors:
  inv: { plugin: file, path: $TMP/in.jsonl, follow: true }
  out: { plugin: file, path: $TMP/out.jsonl }
admin: { listen: "127.0.0.1:0" }
routes:
  ap:
    from: inv
    review: { when: "data.total > 1000" }
    to: out
YAML
start_owner site.yaml owner0.log
stop_owner
for r in viewer reviewer operator admin; do
    "$B" token create site.yaml --name "t-$r" --role "$r" >"tok-$r.out" 2>&1 ||
        not_ok "token create $r (no owner)"
    tail -n 1 "tok-$r.out" >"tok-$r"
done
ok "token create works with no owner running (the lock taken briefly)"
contains "create says it is shown once" tok-viewer.out "it is shown this once, only its hash is stored"
TV=$(cat tok-viewer) TR=$(cat tok-reviewer) TO=$(cat tok-operator) TA=$(cat tok-admin)
eq "a token is bpt_ and 43 base64url characters (256 bits)" \
    "$(grep -cE '^bpt_[A-Za-z0-9_-]{43}$' tok-viewer)" 1
"$B" token list site.yaml >list.out
contains "token list shows name and role" list.out "t-operator"
lacks "token list never shows a token" list.out "$TO"
found=0
for f in adm.db*; do grep -qaF "$TV" "$f" && found=1; done
eq "the token itself is nowhere in the state files" "$found" 0
want=$(printf '%s' "$TV" | sha256sum | cut -c1-64 | tr a-f A-F)
eq "its SHA-256 is stored" "$(sqlite3 adm.db "SELECT hex(hash) FROM tokens WHERE name='t-viewer'")" "$want"
eq "every token change is audited (4 creates)" \
    "$(sqlite3 adm.db "SELECT count(*) FROM audit_log WHERE kind='token:create'")" 4
exit_is "a duplicate name is refused" 1 "$B" token create site.yaml --name t-viewer --role viewer
contains "saying why" "$ERR" "a token named 't-viewer' exists: revoke it first"
exit_is "an unknown role is refused" 1 "$B" token create site.yaml --name x --role root
contains "naming the roles" "$ERR" "role 'root': viewer, reviewer, operator or admin"

# ---- 2. the owner on TCP: 401, roles, 403 ---------------------------------
start_owner site.yaml owner.log
URL=http://127.0.0.1:$PORT
[ -n "$PORT" ] && ok "the owner says where it listens ($URL)" || not_ok "no port in owner.log"
# A client that sends its headers a byte every 2 s: cut off after 30 s
# (checked at the end of section 5); libmicrohttpd's idle timeout alone
# would let it hold its thread for ever.
python3 - "$PORT" >dribble.out 2>&1 <<'PY' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /api/v1/status HTTP/1.1\r\nHost: x\r\nX-Slow: ")
t0 = time.time()
s.settimeout(2)
while time.time() - t0 < 60:
    try:
        s.sendall(b"a")
        if s.recv(1) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print("closed after %d s" % (time.time() - t0))
PY
DRIBBLE=$!
eq "/health needs no token" "$(code '' GET /health)" 200
eq "/ready needs no token" "$(code '' GET /ready)" 200
eq "status without a token: 401" "$(code '' GET /api/v1/status)" 401
contains "with a JSON error" body '{"error":"no token (Authorization: Bearer TOKEN)"}'
eq "a bad token: 401" "$(code bpt_nonsense GET /api/v1/status)" 401
eq "viewer: status 200" "$(code "$TV" GET /api/v1/status)" 200
eq "viewer: review list 200" "$(code "$TV" GET /api/v1/review)" 200
eq "viewer: /metrics 200" "$(code "$TV" GET /metrics)" 200
eq "/metrics without a token (protected): 401" "$(code '' GET /metrics)" 401
eq "viewer: pause 403" "$(code "$TV" POST /api/v1/routes/ap/pause '{}')" 403
contains "403 names the role needed" body "api:t-viewer is viewer; POST /api/v1/routes/ap/pause needs the role operator"
eq "viewer: tokens 403" "$(code "$TV" GET /api/v1/tokens)" 403
eq "reviewer: tokens 403" "$(code "$TR" GET /api/v1/tokens)" 403
eq "reviewer: dlq drop 403" "$(code "$TR" DELETE /api/v1/dlq/1)" 403
eq "operator: reload 200" "$(code "$TO" POST /api/v1/reload '{}')" 200
eq "operator: tokens 403" "$(code "$TO" POST /api/v1/tokens '{"name":"x","role":"admin"}')" 403
eq "admin: token list 200" "$(code "$TA" GET /api/v1/tokens)" 200
contains "it lists last use" body '"last_used_ms":'
eq "admin: token create 201" "$(code "$TA" POST /api/v1/tokens '{"name":"t-new","role":"viewer"}')" 201
TN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["token"])' body)
eq "the new token works at once" "$(code "$TN" GET /api/v1/status)" 200
eq "admin: revoke 200" "$(code "$TA" DELETE /api/v1/tokens/t-new)" 200
eq "the revoked token is refused at once: 401" "$(code "$TN" GET /api/v1/status)" 401
eq "revoking again: 404" "$(code "$TA" DELETE /api/v1/tokens/t-new)" 404
eq "a bad token body: 422" "$(code "$TA" POST /api/v1/tokens '{"name":"x"}')" 422
eq "API token changes are audited by token name" \
    "$(sqlite3 adm.db "SELECT actor||' '||kind FROM audit_log WHERE kind LIKE 'token:%' ORDER BY seq DESC LIMIT 2" | tr '\n' ,)" \
    "api:t-admin token:revoke,api:t-admin token:create,"
eq "a reload through TCP is audited with the token's name" \
    "$(sqlite3 adm.db "SELECT actor FROM audit_log WHERE kind='reload' ORDER BY seq DESC LIMIT 1")" "api:t-operator"
"$B" token revoke site.yaml t-admin >rev.out 2>&1 && \
    eq "token revoke through the owner (Unix socket, as the owner's user)" \
       "$(code "$TA" GET /api/v1/tokens)" 401 || not_ok "token revoke through the owner: $(cat rev.out)"
"$B" token create site.yaml --name t-admin --role admin >tok-admin.out 2>&1
TA=$(tail -n 1 tok-admin.out)
eq "token create through the owner prints a working token" "$(code "$TA" GET /api/v1/tokens)" 200
big=$(python3 -c 'print("{\"note\":\"" + "x" * 70000 + "\"}")')
eq "a body over 64 KiB: 413" "$(code "$TO" POST /api/v1/reload "$big")" 413

# ---- 3. records, review by remote CLI, /ready, /metrics, report ------------
python3 - <<'PY'
with open("in.jsonl", "a") as f:
    for i in range(40):
        f.write('{"no":"R%d","total":%d}\n' % (i, 5000 if i % 10 == 0 else 10))
PY
lines() { [ "$( (wc -l <out.jsonl) 2>/dev/null || echo 0)" -ge "$1" ]; }
wait_for 10 lines 36 && ok "36 records delivered straight through" || not_ok "delivered: $(wc -l <out.jsonl)"
R=(--url "$URL" --token-file "$TMP/tok-reviewer")
exit_is "review list --url --token-file (a reviewer's token)" 0 "$B" review list "${R[@]}"
eq "it lists the 4 parked records" "$(awk 'NR > 1' "$OUT" | wc -l)" 4
seq1=$(awk 'NR == 2 { print $1 }' "$OUT")
exit_is "review show --url" 0 "$B" review show "${R[@]}" "$seq1"
contains "it shows the record" "$OUT" '"route":'
sleep 1.2   # a reviewed record waits a while for its person
exit_is "review approve --url" 0 "$B" review approve "${R[@]}" "$seq1"
contains "the owner delivered it, by the token's name" "$OUT" "approved by api:t-reviewer: delivered"
exit_is "status --url (viewer)" 0 "$B" status --url "$URL" --token-file "$TMP/tok-viewer"
contains "status shows the route" "$OUT" "route ap"
exit_is "pause --url with a reviewer's token: refused" 1 "$B" pause "${R[@]}" ap
contains "403 said" "$ERR" "needs the role operator"
O=(--url "$URL" --token-file "$TMP/tok-operator")
exit_is "pause --url (operator)" 0 "$B" pause "${O[@]}" ap
eq "/ready is 503 while a route is paused" "$(code '' GET /ready)" 503
contains "naming the route and why" body '{"routes":{"ap":"paused"}}'
exit_is "resume --url" 0 "$B" resume "${O[@]}" ap
eq "pause and resume are audited with the token's name" \
    "$(sqlite3 adm.db "SELECT group_concat(actor||' '||kind||' '||route, ',') FROM audit_log WHERE kind LIKE 'route:%'")" \
    "api:t-operator route:pause ap,api:t-operator route:resume ap"
eq "/ready is 200 again" "$(code '' GET /ready)" 200
exit_is "reload --url (operator)" 0 "$B" reload "${O[@]}"
exit_is "dlq list --url" 0 "$B" dlq list "${O[@]}"
echo "$TA" >tok-admin2
exit_is "token list --url (admin)" 0 "$B" token list --url "$URL" --token-file "$TMP/tok-admin2"
contains "it lists the tokens" "$OUT" "t-reviewer"
exit_is "token create --url with an operator's token: refused" 1 "$B" token create --url "$URL" --token-file "$TMP/tok-operator" --name y --role viewer
contains "naming the role needed" "$ERR" "needs the role admin"
exit_is "--url without --token-file: usage" 2 "$B" status --url "$URL"
sleep 5.5  # the owner stores its counters every 5 s
code "$TV" GET /metrics >/dev/null
cp body metrics.txt
contains "/metrics: records by outcome" metrics.txt 'backplane_records_total{route="ap",outcome="in"} 40'
contains "/metrics: review queue depth" metrics.txt 'backplane_review_queue_depth{route="ap"} 3'
contains "/metrics: automated cycle histogram" metrics.txt 'backplane_record_cycle_seconds_count{route="ap",path="automated"} 36'
contains "/metrics: reviewed cycle histogram" metrics.txt 'backplane_record_cycle_seconds_count{route="ap",path="reviewed"} 1'
contains "/metrics: sink write histogram" metrics.txt 'backplane_sink_write_seconds_bucket{route="ap",sink="out",le="+Inf"}'
contains "/metrics: plugin counters" metrics.txt 'backplane_plugin_records_in_total{plugin="file",connector="inv",route="ap"} 40'
contains "/metrics: dead letters gauge" metrics.txt 'backplane_dead_letters{route="ap"} 0'
PROMTOOL=$("$BP_SOURCE_ROOT/tools/get-promtool.sh" "$BP_BUILD_ROOT/promtool" 2>/dev/null)
if [ -n "$PROMTOOL" ]; then
    if "$PROMTOOL" check metrics <metrics.txt >promtool.out 2>&1; then ok "promtool check metrics passes"
    else not_ok "promtool check metrics"; sed 's/^/#   /' promtool.out | head -20; fi
else
    ok "# SKIP promtool not available (apt-get download prometheus failed)"
fi
"$B" report site.yaml >report.txt
contains "report: processing time section" report.txt "processing time, arrival to write-back"
if grep -qE '^  ap +automated +36 ' report.txt; then ok "report: automated path, 36 records"; else
    not_ok "report automated"; sed 's/^/#   /' report.txt | head -20; fi
# The reviewed record's cycle spans its wait (> 1 s), the automated ones do not.
med=$(awk '$1 == "ap" && $2 == "reviewed" { print $4 }' report.txt)
case $med in *s) [[ $med != *ms ]] && ok "report: the reviewed median spans the wait ($med)" || not_ok "reviewed median $med";; *) not_ok "reviewed median '$med'";; esac
grep -qE '^  ap +wait +1 ' report.txt && ok "report: time waited for a person" || not_ok "report wait"
# review export with --url: GET /api/v1/corrections (issue 22: it was refused).
seq2=$("$B" review list "${R[@]}" | awk 'NR == 2 { print $1 }')
exit_is "review correct --url" 0 "$B" review correct "${R[@]}" "$seq2" --set data.total=4999
exit_is "review export --url (a reviewer's token)" 0 "$B" review export "${R[@]}" --out "$TMP/export-remote.jsonl"
contains "export --url counts what it wrote" "$ERR" "1 correction(s) written to $TMP/export-remote.jsonl"
"$B" review export site.yaml >"$TMP/export-local.jsonl" 2>"$TMP/export-local.err"
eq "export --url writes the lines export on the state file writes" \
    "$(cat "$TMP/export-remote.jsonl")" "$(cat "$TMP/export-local.jsonl")"
contains "the line carries the change" "$TMP/export-remote.jsonl" '"path":"data.total","from":5000,"to":4999'
exit_is "review export --url with a viewer's token: refused" 1 "$B" review export --url "$URL" --token-file "$TMP/tok-viewer"
contains "naming the role it needs" "$ERR" "needs the role reviewer"

# ---- 4. a slow client does not stall delivery ------------------------------
python3 - "$PORT" >slow.out 2>&1 <<'PY' &
import socket, sys, time
port = int(sys.argv[1])
socks = []
for i in range(8):   # headers and a body sent a byte at a time, held open
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /api/v1/reload HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
    socks.append(s)
for t in range(12):
    for s in socks:
        try:
            s.sendall(b"{")
        except OSError:
            pass
    time.sleep(1)
PY
SLOW=$!
sleep 1
before=$(wc -l <out.jsonl)
python3 - <<'PY'
with open("in.jsonl", "a") as f:
    for i in range(200):
        f.write('{"no":"S%d","total":1}\n' % i)
PY
t0=$(date +%s%N)
wait_for 10 lines $((before + 200)) && ok "200 records delivered while 8 clients dribble" || not_ok "stalled: $(wc -l <out.jsonl)"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 3000 ] && ok "within 3 s ($ms ms)" || not_ok "took $ms ms"
eq "the API answers meanwhile" "$(code "$TV" GET /api/v1/status)" 200
wait $SLOW

# ---- 5. failed attempts are rate-limited and never log the token ----------
for i in $(seq 1 20); do code "bpt_guess$i" GET /api/v1/status >/dev/null; done
eq "past 20 failures in a minute the address is refused: 429" "$(code "$TV" GET /api/v1/status)" 429
contains "saying when to come back" body "too many failed attempts from 127.0.0.1"
contains "failures are logged with the address" owner.log "admin listener: refused 127.0.0.1: unknown or revoked token"
lacks "the presented token is never logged" owner.log "bpt_guess"
lacks "no good token in the log either" owner.log "$TV"
wait $DRIBBLE
secs=$(sed -n 's/closed after \([0-9]*\) s/\1/p' dribble.out)
[ -n "$secs" ] && [ "$secs" -ge 29 ] && [ "$secs" -le 40 ] && ok "a client dribbling its headers is cut off after 30 s ($secs s)" ||
    not_ok "dribbling client: $(cat dribble.out)"
contains "and the owner says so" owner.log "admin listener: closed a connection that sent no complete request in 30 s"
stop_owner

# ---- 5b. /ready names a source or sink that is not connected -------------
# Port 1 on loopback: nothing listens, connections are refused at once.
echo '{"no":"D1"}' >down.jsonl
cat >down.yaml <<YAML
site: down
state: $TMP/down.db
connectors:
  mail: { plugin: imap, url: "imap://127.0.0.1:1/INBOX", user: u, password: p }
  inv: { plugin: file, path: $TMP/down.jsonl, follow: true }
  smtp: { plugin: smtp, url: "smtp://127.0.0.1:1", from: "a@example.org", to: "b@example.org" }
admin: { listen: "127.0.0.1:0", metrics: public }
routes:
  m: { from: mail, to: smtp }
  s: { from: inv, to: smtp }
YAML
start_owner down.yaml down.log
URL=http://127.0.0.1:$PORT
ready_has() { code '' GET /ready >/dev/null; grep -qF "$1" body; }
wait_for 10 ready_has '"s":"sink down"' || true
eq "/ready: 503 while a source and a sink are not connected" "$(code '' GET /ready)" 503
contains "the source's route: source not connected" body '"m":"source not connected"'
contains "the sink's route: sink down" body '"s":"sink down"'
eq "/metrics public (admin.metrics: public): no token needed" "$(code '' GET /metrics)" 200
contains "backplane_route_ready says 0" body 'backplane_route_ready{route="s"} 0'
stop_owner

# ---- 5c. decisions that wait do not hold the listener's pool -------------
# The TCP listener serves from a pool of 2 threads; a decision waiting for a
# sink that is down runs on a thread of its own with its connection
# suspended. Three waiting at once (more than the pool) and status still
# answers at once.
printf '%s\n' '{"no":"W1"}' '{"no":"W2"}' '{"no":"W3"}' >wait.jsonl
cat >wait.yaml <<YAML
site: wait
state: $TMP/wait.db
connectors:
  inv: { plugin: file, path: $TMP/wait.jsonl, follow: true }
  smtp: { plugin: smtp, url: "smtp://127.0.0.1:1", from: "a@example.org", to: "b@example.org" }
admin: { listen: "127.0.0.1:0" }
routes:
  w: { from: inv, review: { when: "data.no matches '^W'" }, to: smtp }
YAML
start_owner wait.yaml wait.log
URL=http://127.0.0.1:$PORT
TW=$("$B" token create wait.yaml --name t-w --role reviewer 2>/dev/null | tail -n 1)
wait_for 10 sh -c "[ \$(sqlite3 wait.db 'SELECT count(*) FROM review_queue') = 3 ]"
for s in $(sqlite3 wait.db "SELECT seq FROM review_queue"); do
    curl -s -o "$TMP/wait-$s.out" -w '%{http_code}\n' -X POST -H "Authorization: Bearer $TW" \
        -H 'Content-Type: application/json' --data '{}' "$URL/api/v1/review/$s/approve?wait=4" >"$TMP/wait-$s.code" &
    WAITERS="${WAITERS:-} $!"
done
sleep 1
t0=$(date +%s%N)
eq "status answers while 3 decisions wait" "$(code "$TW" GET /api/v1/status)" 200
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ $ms -lt 1000 ] && ok "at once ($ms ms)" || not_ok "status took $ms ms while decisions waited"
for p in $WAITERS; do wait "$p"; done
eq "each waiting decision answers 202 pending" "$(cat "$TMP"/wait-*.code | sort | uniq -c | awk '{ print $1 " " $2 }')" "3 202"
stop_owner

# ---- 6. beyond loopback: TLS or insecure -----------------------------------
sed 's/listen: "127.0.0.1:0"/listen: "0.0.0.0:0"/' site.yaml >open.yaml
exit_is "0.0.0.0 without TLS: refused (exit 1)" 1 timeout 10 "$B" run open.yaml
contains "with file:line:col and why" "$ERR" "open.yaml:6:18: admin.listen '0.0.0.0:0' is not a loopback address"
sed 's/listen: "127.0.0.1:0"/listen: "0.0.0.0:0", insecure: true/' site.yaml >insecure.yaml
start_owner insecure.yaml insecure.log
contains "insecure: true starts, and says so" insecure.log "WITHOUT TLS (admin.insecure: true): tokens and records cross the network in clear text"
stop_owner

# ---- 7. TLS with a test CA and client certificates --------------------------
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bp test CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >srv.ext
openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile srv.ext 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout cli.key -out cli.csr -subj "/CN=ops" 2>/dev/null
openssl x509 -req -in cli.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out cli.pem -days 2 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.pem -days 2 -subj "/CN=rogue" 2>/dev/null
sed 's|admin: { listen: "127.0.0.1:0" }|admin: { listen: "127.0.0.1:0", tls: { cert: srv.pem, key: srv.key, ca_file: ca.pem } }|' site.yaml >tls.yaml
start_owner tls.yaml tls.log
contains "the listener says https and client certificates" tls.log "admin listener on https://127.0.0.1:$PORT (tokens, client certificates)"
URL=https://127.0.0.1:$PORT
tc() { curl -s -o "$TMP/body" -w '%{http_code}' --cacert ca.pem "$@" "$URL/api/v1/status"; }
eq "TLS + client certificate + token: 200" "$(tc --cert cli.pem --key cli.key -H "Authorization: Bearer $TV")" 200
eq "TLS + token but no client certificate: 401" "$(tc -H "Authorization: Bearer $TV")" 401
contains "saying a certificate is required" body "a client certificate is required (admin.tls.ca_file)"
got=$(tc --cert rogue.pem --key rogue.key -H "Authorization: Bearer $TV")
[ "$got" = 401 ] || [ "$got" = 000 ] && ok "a certificate not signed by ca_file is refused ($got)" || not_ok "rogue cert: $got"
eq "TLS + client certificate, no token: 401" "$(tc --cert cli.pem --key cli.key)" 401
eq "plain HTTP to the TLS port gets no API" \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TV" "http://127.0.0.1:$PORT/api/v1/status")" 000
exit_is "status --url https --cacert --cert --key" 0 "$B" status --url "$URL" --token-file "$TMP/tok-viewer" \
    --cacert ca.pem --cert cli.pem --key cli.key
contains "through TLS" "$OUT" "route ap"
exit_is "--url https without --cacert: the test CA is not trusted" 1 "$B" status --url "$URL" --token-file "$TMP/tok-viewer"
stop_owner
finish
