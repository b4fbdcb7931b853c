#!/usr/bin/env bash
# One site on several instances (issue 20, DESIGN.md §10): state in a real
# PostgreSQL started here, an ERP table poller (ODBC through odbc-postgresql)
# into a plain-INSERT table through the ledger and applied_table. Three
# instances of the site; the lease holder is killed -9 one after another
# mid-run and new instances are started: every row exactly once. A holder
# stopped with SIGSTOP and resumed after its lease expired is fenced (logs
# it, writes nothing). Failover time (kill -> next row written by another
# instance) is measured and printed as "# failover_ms ...".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/odbc_pg.sh"
B=$BACKPLANE
cd "$TMP"
ODBC_LIB=$(dirname "$(find /usr/lib -name psqlodbca.so -print -quit 2>/dev/null)")
[ -n "$ODBC_LIB" ] && [ "$ODBC_LIB" != . ] || { echo "Bail out! odbc-postgresql is not installed"; exit 1; }
printf '[PG]\nDriver=%s/psqlodbca.so\n' "$ODBC_LIB" >odbcinst.ini
export ODBCSYSINI=$TMP

declare -A PID
cleanup() {
    for p in "${PID[@]}"; do kill -CONT "$p" 2>/dev/null; kill -9 "$p" 2>/dev/null; done
    [ -n "${FEED:-}" ] && kill "$FEED" 2>/dev/null
    for p in "${PID[@]}" ${FEED:-}; do wait "$p" 2>/dev/null; done   # not postgres: pg_stop
    pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
pg_start "$TMP/pg" || { echo "Bail out! cannot start PostgreSQL"; exit 1; }
ok "PostgreSQL started on port $PG_PORT"
pg_as psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE bpstate" postgres >/dev/null
st_sql() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bpstate "$@"; }
DSN="Driver=PG;Server=127.0.0.1;Port=$PG_PORT;Database=bp;Uid=postgres"
TTL_S=3

pg_sql -c "CREATE TABLE src (id bigint PRIMARY KEY, vendor text, total numeric(20,2));
           CREATE TABLE dst (id bigint, vendor text, total numeric(20,2));"
cat >scale.yaml <<YAML
site: scale
state: "postgresql://postgres@127.0.0.1:$PG_PORT/bpstate"
lease: { ttl: ${TTL_S}s }
connectors:
  src: { plugin: odbc, dsn: "$DSN" }
  erp: { plugin: odbc, dsn: "$DSN" }
routes:
  r:
    from: { src: { table: src, mode: incrementing, column: id, poll_interval: 50ms, batch_rows: 50 } }
    to: { erp: { table: dst, mode: insert, applied_table: bp_applied } }
    batch: 50
    errors: { retry: { max: 1000, backoff: 50ms..200ms } }
YAML
exit_is "check accepts the site with PostgreSQL state" 0 "$B" check scale.yaml
# A file sink is one host's disk: refused with PostgreSQL state.
sed -e 's|^connectors:|connectors:\n  out: { plugin: file, path: out.jsonl }|' \
    -e 's|to: { erp: { table: dst, mode: insert, applied_table: bp_applied } }|to: out|' \
    scale.yaml >filesink.yaml
exit_is "check refuses a file sink with PostgreSQL state" 1 "$B" check filesink.yaml
contains "... saying why" "$ERR" "file sink 'out' with PostgreSQL state"

# feed FROM TO CHUNK PAUSE: inserts rows FROM..TO, CHUNK at a time.
feed() {
    local i=$1
    while [ "$i" -le "$2" ]; do
        local j=$((i + $3 - 1)); [ "$j" -gt "$2" ] && j=$2
        pg_sql -c "INSERT INTO src SELECT g, 'Vendor ' || (g % 97), g + 0.25 FROM generate_series($i, $j) g"
        i=$((j + 1))
        sleep "$4"
    done
}
start() {  # start NAME: one more instance of the site
    "$B" run scale.yaml --instance "$1" >"$1.log" 2>&1 &
    PID[$1]=$!
}
holder() { st_sql -c "SELECT holder FROM leases WHERE name='route:r' AND expires_ms > CAST(EXTRACT(EPOCH FROM clock_timestamp())*1000 AS BIGINT)"; }
epoch() { st_sql -c "SELECT epoch FROM leases WHERE name='route:r'"; }
dcount() { pg_sql -c "SELECT count(*) FROM dst" 2>/dev/null || echo 0; }
now_ms() { date +%s%3N; }
wait_holder() {  # wait_holder NOT: prints the holder once there is one other than NOT
    local h
    for _ in $(seq 400); do
        h=$(holder); [ -n "$h" ] && [ "$h" != "$1" ] && { echo "$h"; return 0; }
        sleep 0.05
    done
    return 1
}

N=12000
feed 1 $N 200 0.3 &
FEED=$!
start i1; start i2; start i3
h=$(wait_holder "")
[ -n "$h" ] && ok "one of three instances holds the lease ($h, epoch $(epoch))" || not_ok "an instance holds the lease"
# /ready per instance (issue 22): the holder is ready, the others say why not.
ready() { curl -s -o "$1.ready" -w '%{http_code}' --unix-socket "scale.yaml.$1.sock" http://localhost/ready; }
for _ in $(seq 100); do [ -S "scale.yaml.$h.sock" ] && break; sleep 0.05; done
others=$(for i in i1 i2 i3; do [ "$i" != "$h" ] && echo "$i"; done | head -1)
rc_h=$(ready "$h"); rc_o=$(ready "$others")
[ "$rc_h" = 200 ] && ok "/ready of the holder: 200" || not_ok "/ready of the holder: 200 (got $rc_h: $(cat "$h.ready"))"
[ "$rc_o" = 503 ] && grep -q '"r":"standby: another instance holds the lease"' "$others.ready" &&
    ok "/ready of a standby instance: 503 naming the lease" ||
    not_ok "/ready of a standby instance: 503 naming the lease (got $rc_o: $(cat "$others.ready"))"
n=4
FAILOVERS=()
for k in 1 2 3; do
    for _ in $(seq 200); do [ "$(dcount)" -gt 0 ] && break; sleep 0.05; done
    sleep 0.$((RANDOM % 9 + 1))
    h=$(holder)
    [ -n "$h" ] && [ -n "${PID[$h]:-}" ] || { not_ok "kill $k: no holder to kill"; continue; }
    kill -9 "${PID[$h]}"; t0=$(now_ms)
    wait "${PID[$h]}" 2>/dev/null
    unset "PID[$h]"
    c0=$(dcount)
    start "i$n"; n=$((n + 1))   # a new instance replaces the killed one
    nh=$(wait_holder "$h")
    t1=""
    for _ in $(seq 400); do
        [ "$(dcount)" -gt "$c0" ] && { t1=$(now_ms); break; }
        sleep 0.025
    done
    if [ -n "$nh" ] && [ -n "$t1" ]; then
        FAILOVERS+=($((t1 - t0)))
        ok "kill -9 $k of holder $h: $nh took over (epoch $(epoch)), rows flow again after $((t1 - t0)) ms"
    else
        not_ok "kill -9 $k of holder $h: another instance took over and wrote"
    fi
done
echo "# failover_ms (kill -9 -> next row written by another instance, ttl ${TTL_S}s): ${FAILOVERS[*]}"
goal=$(( (TTL_S + 2) * 1000 ))
worst=0; for f in "${FAILOVERS[@]}"; do [ "$f" -gt "$worst" ] && worst=$f; done
[ "${#FAILOVERS[@]}" -eq 3 ] && [ "$worst" -le "$goal" ] &&
    ok "failover within TTL + 2 s (worst $worst ms <= $goal ms)" ||
    not_ok "failover within TTL + 2 s (worst $worst ms, goal $goal ms)"
wait "$FEED"; FEED=
for _ in $(seq 600); do [ "$(dcount)" -ge "$N" ] && break; sleep 0.05; done
pg_sql -F '|' -c "SELECT count(*), count(DISTINCT id) FROM dst" >rows.txt
contains "every row exactly once after 3 kills -9 ($N rows, $N distinct)" rows.txt "$N|$N"
grep -h "will not be written again" i*.log | wc -l | sed 's/^/# batches applied_table caught after a kill: /'
st_sql -F '|' -c "SELECT name FROM instances ORDER BY name" >inst.txt
contains "each instance has a heartbeat row" inst.txt "i5"
# status answers for the whole site from the shared state.
exit_is "status of the site on PostgreSQL state" 0 "$B" status scale.yaml
sed 's/^/#   /' "$OUT"
h=$(holder)
contains "status shows the lease holder and its epoch" "$OUT" "held by $h, epoch $(epoch)"
contains "status shows the instances" "$OUT" "instance i5"
contains "status shows the route's checkpoint age (lag)" "$OUT" "checkpoint r/src"
lacks "status never shows a password" "$OUT" "password"
# The CLI's lists read the shared state (no file, no owner lock).
exit_is "dlq list on PostgreSQL state" 0 "$B" dlq list scale.yaml
exit_is "review list on PostgreSQL state" 0 "$B" review list scale.yaml

# ---- SIGSTOP: a paused holder resumes after its lease expired ----------------
N2=$((N + 6000))
feed $((N + 1)) $N2 100 0.1 &
FEED=$!
for _ in $(seq 200); do [ "$(dcount)" -gt "$N" ] && break; sleep 0.05; done
h=$(holder); e0=$(epoch)
kill -STOP "${PID[$h]}"
nh=$(wait_holder "$h")
[ -n "$nh" ] && ok "SIGSTOP of holder $h: $nh took the lease (epoch $e0 -> $(epoch))" ||
    not_ok "SIGSTOP of holder $h: another instance took the lease"
sleep 1
kill -CONT "${PID[$h]}"
for _ in $(seq 100); do grep -q "lease 'route:r' (epoch $e0) lost" "$h.log" && break; sleep 0.05; done
contains "the resumed holder says it lost the lease and stops the route" "$h.log" "lease 'route:r' (epoch $e0) lost"
grep -h "fenced" "$h.log" | sed 's/^/# resumed holder: /' | head -n 5
wait "$FEED"; FEED=
for _ in $(seq 600); do [ "$(dcount)" -ge "$N2" ] && break; sleep 0.05; done
pg_sql -F '|' -c "SELECT count(*), count(DISTINCT id) FROM dst" >rows2.txt
contains "after the pause too every row exactly once ($N2 rows, $N2 distinct)" rows2.txt "$N2|$N2"
st_sql -c "SELECT epoch FROM leases WHERE name='route:r'" >ep.txt
pg_sql -c "SELECT max(epoch) FROM bp_applied" >tep.txt
cmp -s ep.txt tep.txt && ok "the target's applied_table carries the holder's epoch ($(cat tep.txt))" ||
    not_ok "the target's applied_table carries the holder's epoch (state $(cat ep.txt), target $(cat tep.txt))"

# ---- every instance answers for the site: a decision is delivered once ----
# A second site (its own state database), two instances, a review gate. The
# approval is given by a CLI that reaches no instance's socket (as on a third
# host): it is recorded in the shared state, taken in the database by the
# instance that holds the route's lease, and delivered once.
for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
PID=()
pg_as psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE bprev" postgres >/dev/null
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
rv_sql() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bprev "$@"; }
pg_sql -c "CREATE TABLE vsrc (id bigint PRIMARY KEY, vendor text, blocked boolean);
           CREATE TABLE vdst (id bigint, vendor text, blocked boolean);
           INSERT INTO vsrc SELECT g, 'V' || g, g IN (2, 4) FROM generate_series(1, 5) g;"
sed -e "s|/bpstate\"|/bprev\"|" -e 's/^site: scale/site: rev/' \
    -e 's/table: src, mode: incrementing/table: vsrc, mode: incrementing/' \
    -e 's/table: dst, mode: insert, applied_table: bp_applied/table: vdst, mode: insert, applied_table: bp_applied_rev/' \
    -e "s|    batch: 50|    batch: 50\n    review: { when: 'data.blocked == true' }|" scale.yaml >rev.yaml
"$B" run rev.yaml --instance ra >ra.log 2>&1 & PID[ra]=$!
"$B" run rev.yaml --instance rb >rb.log 2>&1 & PID[rb]=$!
vcount() { pg_sql -c "SELECT count(*) FROM vdst" 2>/dev/null || echo 0; }
for _ in $(seq 200); do [ "$(vcount)" -ge 3 ] && [ "$(rv_sql -c 'SELECT count(*) FROM review_queue')" = 2 ] && break; sleep 0.05; done
[ "$(vcount)" = 3 ] && ok "review gate on shared state: 3 rows delivered, 2 parked" ||
    not_ok "review gate on shared state: $(vcount) rows delivered, $(rv_sql -c 'SELECT count(*) FROM review_queue') parked"
seq1=$(rv_sql -c "SELECT seq FROM review_queue ORDER BY seq LIMIT 1")
rholder=$(rv_sql -c "SELECT holder FROM leases WHERE name='route:r'")
exit_is "review approve from a host with no instance: recorded" 0 "$B" review approve rev.yaml "$seq1" --note ok
for _ in $(seq 200); do [ "$(vcount)" -ge 4 ] && break; sleep 0.05; done
sleep 1.5   # a second delivery, if any, would land by now
pg_sql -F '|' -c "SELECT count(*), count(DISTINCT id) FROM vdst" >v.txt
contains "the approved record is delivered exactly once (4 rows, 4 distinct)" v.txt "4|4"
rv_sql -c "SELECT taken_by FROM control_requests WHERE seq=$seq1" >taken.txt
contains "the decision was taken in the database by the lease holder ($rholder)" taken.txt "$rholder"
# The other parked record: its arrival kept (review_queue.arrived_ms), rejected
# by the holder, then reopened by a CLI that reaches no instance: the reopen is
# one transaction in the shared state (main's owner branch, here on PostgreSQL).
seq2=$(rv_sql -c "SELECT seq FROM review_queue ORDER BY seq LIMIT 1")
[ -n "$seq2" ] && [ "$(rv_sql -c "SELECT arrived_ms > 0 FROM review_queue WHERE seq=$seq2")" = t ] &&
    ok "a parked record keeps its arrival time in PostgreSQL" ||
    not_ok "arrived_ms of entry '$seq2': $(rv_sql -c "SELECT arrived_ms FROM review_queue WHERE seq=$seq2")"
exit_is "review reject from a host with no instance: recorded" 0 "$B" review reject rev.yaml "$seq2" --reason dup
for _ in $(seq 200); do
    [ "$(rv_sql -c "SELECT count(*) FROM dead_letters WHERE stage='review'")" = 1 ] && break; sleep 0.05
done
exit_is "review reopen on PostgreSQL state" 0 "$B" review reopen rev.yaml "$seq2" --note "not a dup"
contains "... parked again as a new entry" "$OUT" "$seq2 reopened by"
eq "its dead letter taken back, one entry parked" \
    "$(rv_sql -c "SELECT count(*) FROM dead_letters WHERE stage='review'") $(rv_sql -c 'SELECT count(*) FROM review_queue')" "0 1"
exit_is "a second reopen is refused" 1 "$B" review reopen rev.yaml "$seq2"
# Tokens (issue 22) in the shared state: made with no instance reachable,
# only the hash stored, verified by the control API's check on any instance.
exit_is "token create on PostgreSQL state" 0 "$B" token create rev.yaml --name grafana --role viewer
tok=$(grep -o 'bpt_[A-Za-z0-9_-]*' "$OUT" | head -1)
eq "one token row, its hash 32 bytes" "$(rv_sql -c "SELECT name || ' ' || role || ' ' || length(hash) FROM tokens")" "grafana viewer 32"
eq "the token text is not stored" "$(rv_sql -c "SELECT count(*) FROM tokens WHERE position(convert_to('$tok','UTF8') in hash) > 0 OR name = '$tok'")" "0"
exit_is "token list on PostgreSQL state" 0 "$B" token list rev.yaml
contains "... lists it" "$OUT" "grafana"
exit_is "token revoke on PostgreSQL state" 0 "$B" token revoke rev.yaml grafana
eq "revoked: no row" "$(rv_sql -c 'SELECT count(*) FROM tokens')" "0"
# A reload (SIGHUP, main's owner branch) that changes the leased route: its
# holder drains it and gives the lease up, a new version on either instance
# takes it (a newer epoch), and rows added after are delivered once.
holder0=$(rv_sql -c "SELECT holder FROM leases WHERE name='route:r'")
epoch0=$(rv_sql -c "SELECT epoch FROM leases WHERE name='route:r'")
sed -i 's/    batch: 50/    batch: 40/' rev.yaml
kill -HUP "${PID[ra]}" "${PID[rb]}"
for _ in $(seq 200); do grep -q 'draining for a reload' "$holder0.log" && break; sleep 0.05; done
contains "the holder ($holder0) drains the changed leased route for the reload" "$holder0.log" "draining for a reload"
pg_sql -c "INSERT INTO vsrc SELECT g, 'V' || g, false FROM generate_series(6, 25) g;"
for _ in $(seq 300); do [ "$(vcount)" -ge 24 ] && break; sleep 0.05; done
sleep 1.5   # a second delivery, if any, would land by now
pg_sql -F '|' -c "SELECT count(*), count(DISTINCT id) FROM vdst" >v2.txt
contains "after the reload every new row once (24 rows, 24 distinct)" v2.txt "24|24"
epoch1=$(rv_sql -c "SELECT epoch FROM leases WHERE name='route:r'")
[ -n "$epoch1" ] && [ "$epoch1" -gt "$epoch0" ] && ok "the new version holds a newer epoch ($epoch0 -> $epoch1)" ||
    not_ok "lease epoch after the reload: '$epoch0' -> '$epoch1'"
finish
