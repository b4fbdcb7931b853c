#!/usr/bin/env bash
# Issue 17 findings 6 and 9: a record dead-lettered or parked, then redelivered
# because the bus was killed (kill -9) before its source acked it, is stored
# once: one dead letter per record and stage (attempts counted), one review
# entry per record; a redelivered record already decided gets that decision.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
export BP_PLUGIN_PATH=$FX:$BP_PLUGIN_PATH
cd "$TMP"
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got '$2', want '$3'"; fi; }
# The first record waits in a slow sink; the ones behind it are dead-lettered
# or parked at once, but their acks wait for it (acks are in order).
printf '%s\n' '{"n":1}' '{"n":2,"blocked":true}' 'not json' '{"n":4,"check":true}' \
    '{"n":5,"check":true}' >in.jsonl
cat >s.yaml <<YAML
site: rd
state: $TMP/rd.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  slow: { plugin: fx_sink, path: $TMP/slow.out, delay: 3s }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  r:
    from: in
    through:
      - policy:
          rules:
            blocked: { when: "data.blocked == true", reason: "vendor blocked", action: reject }
            check: { when: "data.check == true", reason: "needs a look", action: review }
    to: [ slow, out ]
    batch: 1
YAML
q() { sqlite3 rd.db "$1" 2>/dev/null; }
# Run k has dead-lettered its two and parked its two (one worker: in order;
# the parks follow the dead letters within milliseconds).
settled() { [ "$(grep -c 'dead-lettered a record at r/in' run.log)" -ge "$1" ] &&
            [ "$(q 'SELECT count(*) FROM review_queue')" -ge 2 ] && sleep 0.3; }
for k in 1 2 3; do
    "$B" run s.yaml >>run.log 2>&1 &
    pid=$!
    for _ in $(seq 200); do settled "$k" && break; sleep 0.02; done
    # The first record is still in the slow sink: nothing behind it is acked.
    [ -s slow.out ] && echo "# warning: the slow sink finished before the kill"
    kill -9 $pid; wait $pid 2>/dev/null
done
eq "3 kills before the ack: 2 dead letters" "$(q 'SELECT count(*) FROM dead_letters')" 2
eq "each dead letter counts 3 attempts" \
   "$(q 'SELECT stage, attempts FROM dead_letters ORDER BY seq' | tr '\n' ' ')" "r/policy#1|3 r/in|3 "
eq "2 review entries for the 2 records parked" "$(q 'SELECT count(*) FROM review_queue')" 2
contains "the log says the entry was updated" run.log "dead-lettered a record at r/policy#1 again (attempt 3, its entry updated): reject: blocked: vendor blocked"

# A person decides both parked records while no owner runs; the next run
# redelivers them (still not acked) and applies the decisions.
n4=$(q "SELECT seq FROM review_queue WHERE payload LIKE '%\"n\":4%'")
n5=$(q "SELECT seq FROM review_queue WHERE payload LIKE '%\"n\":5%'")
exit_is "approve n4" 0 "$B" review approve s.yaml "$n4"
exit_is "reject n5" 0 "$B" review reject s.yaml "$n5" --reason "not ours"
exit_is "a last run to the end" 0 "$B" run s.yaml
cp "$ERR" last.err
eq "no review entry is left" "$(q 'SELECT count(*) FROM review_queue')" 0
eq "the approved record reached the file sink once" "$(grep -c '"n":4' out.jsonl)" 1
eq "the rejected record was not delivered" "$(grep -c '"n":5' out.jsonl)" 0
eq "dead letters: the two, attempts 4, and the rejected one" \
   "$(q 'SELECT stage, attempts FROM dead_letters ORDER BY seq' | tr '\n' ' ')" "r/policy#1|4 r/in|4 review|1 "
contains "the log says the decision was applied" last.err "approved in review before and delivered by that decision: done"
contains "the log says the rejection was applied" last.err "rejected in review before: dropped"
eq "every record once in the file sink" "$(sort out.jsonl | uniq -d | wc -l)" 0
finish
