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
finish
