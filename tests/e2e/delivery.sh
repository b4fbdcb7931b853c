#!/usr/bin/env bash
# Delivery policy through real plugin .so files: retry with backoff, dead
# letters on reject and when retries run out, queued completions, a poison
# record that does not block the batch, an old-minor plugin in a chain, and a
# clean drain on SIGTERM.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"
printf '%s\n' '{"n":1}' '{"n":2,"reject":true}' '{"n":3,"queued":true}' '{"n":4}' >in.jsonl

site() { # site NAME FAIL_FIRST RETRY_MAX
cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  erp: { plugin: fx_sink, path: $TMP/$1.out, fail_first: $2 }
routes:
  r:
    from: in
    through: [ fx_old_minor ]
    to: erp
    errors: { retry: { max: $3, backoff: 10ms..40ms } }
YAML
}

site flaky 2 3
exit_is "retries then succeeds" 0 "$B" run flaky.yaml --plugin-dir "$FX"
cp "$ERR" flaky.log
contains "retry is logged with attempts" flaky.log "to retry (attempt 1 of 4)"
[ "$(wc -l <flaky.out)" -eq 3 ] && ok "3 records written after retries" || not_ok "3 records written after retries (got $(wc -l <flaky.out))"
contains "queued record completed via write_done" flaky.out '"n":3'
lacks "rejected record not written" flaky.out '"reject"'
sqlite3 flaky.db "SELECT stage || ' | ' || reason FROM dead_letters" >dl.txt
contains "poison record dead-lettered with the sink's reason" dl.txt "r/erp | reject: the ERP refused it"
[ "$(sqlite3 flaky.db 'SELECT count(*) FROM dead_letters')" -eq 1 ] && ok "only the poison record is dead-lettered" || not_ok "only the poison record is dead-lettered"
sqlite3 flaky.db "SELECT payload FROM dead_letters" >dlp.txt
contains "dead letter keeps the whole envelope" dlp.txt '"reject":true'
contains "old-minor transform ran (loaded within struct_size)" dlp.txt '"oldminor":"yes"'
contains "route summary" flaky.log "route finished: 4 in, 3 out, 0 dropped, 0 parked, 1 dead-lettered, "
retried=$(sed -n 's/.*dead-lettered, \([0-9]*\) retried.*/\1/p' flaky.log)
[ "${retried:-0}" -ge 2 ] && ok "retries counted (two failed writes: $retried record retries)" || not_ok "retries counted (got '$retried')"

site down 100 2
exit_is "gives up but exits cleanly" 0 "$B" run down.yaml --plugin-dir "$FX"
sqlite3 down.db "SELECT reason FROM dead_letters ORDER BY seq" >down.txt
contains "retries exhausted are dead-lettered with the attempt count" down.txt "gave up after 3 attempts: retry"
[ "$(sqlite3 down.db 'SELECT count(*) FROM dead_letters')" -eq 4 ] && ok "every record accounted for (4 dead letters)" || not_ok "every record accounted for"
exit_is "rerun" 0 "$B" run down.yaml --plugin-dir "$FX"
cp "$ERR" down2.log
contains "dead-lettered records were acked, not re-read" down2.log "route finished: 0 in"

# SIGTERM: a following source stops, in-flight records are acked, exit 0.
cat >follow.yaml <<YAML
site: follow
state: $TMP/follow.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl, follow: true }
  out: { plugin: file, path: $TMP/follow.out }
routes:
  r: { from: in, to: out }
YAML
"$B" run follow.yaml >follow.log 2>&1 &
pid=$!
for _ in $(seq 50); do [ -s follow.out ] && [ "$(wc -l <follow.out)" -ge 4 ] && break; sleep 0.1; done
echo '{"n":5}' >>in.jsonl
for _ in $(seq 50); do [ "$(wc -l <follow.out)" -ge 5 ] && break; sleep 0.1; done
[ "$(wc -l <follow.out)" -eq 5 ] && ok "follow picks up an appended line" || not_ok "follow picks up an appended line"
start=$(date +%s%N)
kill -TERM $pid
wait $pid
rc=$?
ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ $rc -eq 0 ] && ok "SIGTERM exits 0" || not_ok "SIGTERM exits 0 (got $rc)"
[ $ms -lt 3000 ] && ok "SIGTERM drains within 3 s ($ms ms)" || not_ok "SIGTERM drains within 3 s ($ms ms)"
"$B" run follow.yaml >follow2.log 2>&1 &
pid=$!
sleep 0.5
kill -TERM $pid; wait $pid
[ "$(wc -l <follow.out)" -eq 5 ] && ok "restart after SIGTERM writes nothing twice" || not_ok "restart after SIGTERM writes nothing twice (got $(wc -l <follow.out))"
finish
