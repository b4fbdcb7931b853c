#!/usr/bin/env bash
# The runtime's scheduling, through real processes and fixture plugins:
# lookups of two workers run at the same time (no lock across the remote
# call), a source that returns BP_AGAIN at once is not polled in a busy loop,
# and batch_push says "batch full" with its own status. Overlap is read from
# the lookups' own start/end timestamps, never from how long a run took.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"
printf '%s\n' '{"n":1}' '{"n":2}' '{"n":3}' '{"n":4}' >in.jsonl

# overlap LOG: the most lookups that ran at once, and how many instances ran them.
overlap() {
python3 - "$1" <<'PY'
import sys
rows = [l.split() for l in open(sys.argv[1])]
ev = sorted([(int(s), 1) for s, e, i in rows] + [(int(e), -1) for s, e, i in rows],
            key=lambda x: (x[0], x[1]))
cur = top = 0
for _, d in ev:
    cur += d
    top = max(top, cur)
print("lookups", len(rows), "at once", top, "instances", len(set(i for s, e, i in rows)))
PY
}

for plugin in fx_slow_lookup fx_slow_lookup_mt; do
cat >$plugin.yaml <<YAML
site: $plugin
state: $TMP/$plugin.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  erp: { plugin: $plugin, log: $TMP/$plugin.log, delay: 300ms }
  out: { plugin: file, path: $TMP/$plugin.out }
routes:
  r:
    from: in
    workers: 2
    through: [ { fx_enrich: { connector: erp, query: vendor, param: data.n } } ]
    to: out
YAML
exit_is "$plugin: the route runs" 0 "$B" run $plugin.yaml --plugin-dir "$FX"
overlap $plugin.log >$plugin.txt
done
contains "two workers' lookups overlap (one instance each, from a pool)" fx_slow_lookup.txt \
  "lookups 4 at once 2 instances 2"
contains "a BP_PLUGIN_LOOKUP_CONCURRENT lookup is called at once on one instance" \
  fx_slow_lookup_mt.txt "lookups 4 at once 2 instances 1"
python3 -c "
import json
print('found', sum(json.loads(l)['lookup']['rows']['found'] for l in open('fx_slow_lookup.out')))" >found.txt
contains "every record got its lookup" found.txt "found 4"

# A source whose poll returns BP_AGAIN at once: the core waits out the poll
# timeout (200 ms) instead of calling it again at once.
cat >again.yaml <<YAML
site: again
state: $TMP/again.db
connectors:
  idle: { plugin: fx_again, out: $TMP/again.txt }
  out: { plugin: file, path: $TMP/again.out }
routes:
  r: { from: idle, to: out }
YAML
"$B" run again.yaml --plugin-dir "$FX" 2>again.log &
pid=$!
sleep 1.5
kill -TERM $pid; wait $pid
rc=$?
[ $rc -eq 0 ] && ok "an idle source stops on SIGTERM (exit 0)" || not_ok "idle source SIGTERM (exit $rc)"
python3 -c "
import re
n, ms = map(int, re.match(r'polls (\d+) over (\d+) ms', open('again.txt').read()).groups())
print('bounded' if n >= 2 and n <= ms // 100 + 2 else 'busy', n, 'polls in', ms, 'ms')" >rate.txt
contains "BP_AGAIN: at most one poll per 100 ms (no busy loop)" rate.txt "bounded"

# batch_push past batch_room(): "batch full" (BP_ERR_FULL = -43), apart from
# an invalid event (BP_ERR_INVALID, dead-lettered); the records that fit go on.
cat >full.yaml <<YAML
site: full
state: $TMP/full.db
connectors:
  idle: { plugin: fx_again, out: $TMP/full.txt, overfill: true }
  out: { plugin: file, path: $TMP/full.out }
routes:
  r: { from: idle, to: out, batch: 8 }
YAML
"$B" run full.yaml --plugin-dir "$FX" 2>full.log &
pid=$!
for _ in $(seq 50); do [ -s full.out ] && [ "$(wc -l <full.out)" -ge 8 ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
contains "the push past the room says batch full" full.txt "overfill -43"
[ "$(wc -l <full.out)" -eq 8 ] && ok "the 8 records that fit are delivered" || not_ok "8 delivered (got $(wc -l <full.out))"
[ "$(sqlite3 full.db 'SELECT count(*) FROM dead_letters')" -eq 0 ] && ok "a full batch is not a dead letter" || not_ok "a full batch was dead-lettered"

# A failing poll follows the route's one retry policy: backoff, then after
# errors.retry.max failed polls in a row the route stops with an error (it
# used to be polled without limit).
cat >pollfail.yaml <<YAML
site: pollfail
state: $TMP/pollfail.db
connectors:
  idle: { plugin: fx_again, out: $TMP/pollfail.txt, fail: true }
  out: { plugin: file, path: $TMP/pollfail.out }
routes:
  r: { from: idle, to: out, errors: { retry: { max: 2, backoff: 10ms..20ms } } }
YAML
exit_is "a source failing every poll ends the run with an error (exit 3: a route failed)" 3 timeout 20 "$B" run pollfail.yaml --plugin-dir "$FX"
contains "each failed poll is logged with its attempt" "$ERR" "[r/idle] poll failed: retry (attempt 2 of 3)"
contains "the route stops naming the source and the limit" "$ERR" "[r] route stopped: source 'idle' failed 3 polls in a row (retry); errors.retry.max is 2"
contains "polled 3 times: the first and 2 retries" pollfail.txt "polls 3 over"

# A source that is not connected (its server down, its login refused) does not
# spend the retry budget: the route waits as long as it takes, backing off up
# to the policy's maximum and saying why, and a stop ends it cleanly. (With
# the budget spent, a mailbox restarted for a few minutes stopped its route.)
sed -e 's/fail: true/unreachable: true/' -e 's/pollfail.db/pollnc.db/' -e 's/pollfail.txt/pollnc.txt/' \
  pollfail.yaml >pollnc.yaml
"$B" run pollnc.yaml --plugin-dir "$FX" 2>pollnc.err &
pid=$!; sleep 1.5; kill -TERM $pid; wait $pid; rc=$?
if [ "$rc" -eq 0 ]; then ok "a source that is not connected keeps its route running until stopped (exit 0)"
else not_ok "a source that is not connected keeps its route running until stopped (exit $rc, want 0)"; fi
contains "the wait is said once, with the reason" pollnc.err "[r/idle] not connected: waiting for the source (not connected); polls are retried every 20ms at most, without limit"
lacks "the route did not stop" pollnc.err "route stopped"
python3 -c "
import re
n = int(re.match(r'polls (\d+) over', open('pollnc.txt').read()).group(1))
print('waited' if n > 3 else 'gave up', n)" >pollnc.n
contains "polled past errors.retry.max (3 attempts)" pollnc.n "waited"

# ledger: { retention }: write-back ledger rows a crashed run left are pruned
# at route start once older than the retention (default 24h).
cat >ledger.yaml <<YAML
site: ledger
state: $TMP/ledger.db
ledger: { retention: 10s, keep: 1 }
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/ledger.out }
routes:
  r: { from: in, to: out }
YAML
exit_is "check refuses a bad ledger block" 1 "$B" check ledger.yaml
contains "an unknown key in ledger, with its position" "$ERR" "ledger.yaml:3:27: unknown key 'keep' in ledger (valid: retention)"
contains "a retention under a minute, with its position" "$ERR" "ledger.yaml:3:22: ledger.retention must be a duration of at least 1m, e.g. 24h"
sed -i 's/ledger: { retention: 10s, keep: 1 }/ledger: { retention: 1h }/' ledger.yaml
exit_is "a site with ledger.retention runs" 0 "$B" run ledger.yaml
old=$(( $(date +%s) * 1000 - 2 * 3600 * 1000 )); mid=$(( $(date +%s) * 1000 - 1800 * 1000 ))
sqlite3 ledger.db "INSERT INTO ledger_writes(sink, applied_ms, keys) VALUES('r/out', $old, X'61'), ('r/out', $mid, X'62')"
echo '{"n":5}' >>in.jsonl
exit_is "the next run starts" 0 "$B" run ledger.yaml
[ "$(sqlite3 ledger.db 'SELECT count(*) FROM ledger_writes WHERE applied_ms < '$((mid - 1)))" -eq 0 ] \
  && ok "a row older than the retention (2h > 1h) is pruned" || not_ok "the 2h-old row was kept"
[ "$(sqlite3 ledger.db 'SELECT count(*) FROM ledger_writes WHERE applied_ms = '$mid)" -eq 1 ] \
  && ok "a younger row (30m) is kept" || not_ok "the 30m-old row was pruned"

# A record written to one sink and dead-lettered at another reaches its
# source's ack_fates as BP_FATE_PARTIAL (5); refused by its only sink, as
# DEAD_LETTERED (4); written everywhere, DELIVERED (1).
for shape in two one; do
  if [ $shape = two ]; then to="[ out, erp ]"; else to="erp"; fi
  cat >fates_$shape.yaml <<YAML
site: fates_$shape
state: $TMP/fates_$shape.db
connectors:
  src: { plugin: fx_again, out: $TMP/fates_$shape.txt, records: 4 }
  out: { plugin: file, path: $TMP/fates_$shape.out }
  erp: { plugin: fx_sink, path: $TMP/fates_$shape.erp }
routes:
  r: { from: src, to: $to }
YAML
  exit_is "fates ($shape sink(s)): the run ends" 0 "$B" run fates_$shape.yaml --plugin-dir "$FX"
  sort -n fates_$shape.txt.acks | tr '\n' ' ' >fates_$shape.got
done
contains "two sinks: odd records rejected by erp are PARTIAL (5)" fates_two.got "0 1 1 5 2 1 3 5 "
contains "one sink: the same records are DEAD_LETTERED (4)" fates_one.got "0 1 1 4 2 1 3 4 "

# A sink's write-back receipt per record (wb_set_receipt, ABI 1.3) is stored
# with the record's audit row: {"route/sink": receipt}.
cat >receipts.yaml <<YAML
site: receipts
state: $TMP/receipts.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/receipts.out }
  erp: { plugin: fx_sink, path: $TMP/receipts.erp, receipt: true, reject_field: none }
routes:
  r: { from: in, to: [ out, erp ], audit: all }
YAML
exit_is "receipts: the run ends" 0 "$B" run receipts.yaml --plugin-dir "$FX"
sqlite3 receipts.db "SELECT json_extract(r.value, '\$.id') || ' ' || json_extract(r.value, '\$.receipts') FROM audit_log, json_each(audit_log.payload, '\$.records') r WHERE kind = 'receipt' ORDER BY seq" | awk '{ $1 = ""; print }' >receipts.txt
contains "the first record's receipt entry has the ERP's receipt" receipts.txt ' {"r/erp":"line 1"}'
contains "and the fifth" receipts.txt ' {"r/erp":"line 5"}'
[ "$(grep -c '"r/out"' receipts.txt)" -eq 0 ] && ok "a sink that gives no receipt has none" || not_ok "file sink receipts appeared"

# Route counters that outlive the run (`backplane report`): every flag is
# counted, under its whole name (they stopped at 128 counters, names at 60).
long=$(printf 'very_long_flag_name_%.0s' 1 2 3 4)   # 80 characters
many=$(seq -f "f%g" 1 150 | paste -sd, -)
cat >flags.yaml <<YAML
site: flags
state: $TMP/flags.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/flags.out }
routes:
  r: { from: in, through: [ { set: { set: { flags: "$long,$many" } } } ], to: out }
YAML
exit_is "flags: the run ends" 0 "$B" run flags.yaml
sqlite3 flags.db "SELECT count(*) FROM route_stats WHERE name LIKE 'flag.f%'" >nflags.txt
contains "150 flags, 150 counters" nflags.txt "150"
sqlite3 flags.db "SELECT name || '=' || value FROM route_stats WHERE name LIKE 'flag.very%'" >lflag.txt
contains "an 80-character flag is counted under its whole name" lflag.txt "flag.$long=5"
finish
