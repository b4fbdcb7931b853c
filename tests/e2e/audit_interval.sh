#!/bin/bash
# audit.checkpoint_interval (issue 18, docs/audit.md): a duration ("2s",
# "10m"; at least 1s). The owner signs a checkpoint T after the last one
# when the log grew since, even when nothing more is appended; it signs
# nothing while the log stays as it is. A real `run --serve` process.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"
printf '%s\n' '{"n":1}' '{"n":2}' '{"n":3}' >in.jsonl
"$B" audit keygen site.key >/dev/null

site() {   # site INTERVAL
    cat >s.yaml <<YAML
site: acme
state: $TMP/s.db
audit: { signing_key: $TMP/site.key, checkpoint_every: 1000000, checkpoint_interval: $1 }
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  erp: { plugin: fx_sink, path: $TMP/erp.out, receipt: true, reject_field: none }
routes:
  r: { from: in, to: erp, audit: all, batch: 1 }
YAML
}
site 500ms
exit_is "an interval under a second is refused" 1 "$B" check s.yaml --plugin-dir "$FX"
contains "naming the unit" "$ERR" "audit.checkpoint_interval must be a duration of at least 1s, e.g. 10m"

# latest: the size of the newest signed checkpoint, as an operator reads it.
latest() { "$B" audit checkpoint s.yaml 2>/dev/null | sed -n 2p; }
entries() { sqlite3 s.db "SELECT count(*) FROM audit_log"; }
ckpts() { sqlite3 s.db "SELECT count(*) FROM audit_checkpoints"; }
# wait_latest SIZE SECONDS: polls until the newest checkpoint has SIZE entries.
wait_latest() {
    local i
    for i in $(seq $(($2 * 10))); do [ "$(latest)" = "$1" ] && return 0; sleep 0.1; done
    return 1
}

site 2s
"$B" run s.yaml --serve --plugin-dir "$FX" 2>run.log & PID=$!
for i in $(seq 100); do [ "$(wc -l <erp.out 2>/dev/null)" = 3 ] && break; sleep 0.1; done
[ "$(wc -l <erp.out 2>/dev/null)" = 3 ] && ok "three records delivered" || not_ok "delivered: $(cat erp.out 2>&1)"
n=$(entries)
[ "$n" = 3 ] && ok "three receipt entries (batch: 1)" || not_ok "entries: $n"
# Nothing is appended from here on: before, the log was signed only at the
# next append or at the stop.
if wait_latest 3 5; then ok "a quiet log is signed within T of its last checkpoint (size 3)"
else not_ok "no checkpoint of size 3 after 5 s (latest: '$(latest)')"; sed 's/^/#   /' run.log | tail -5; fi
kill -0 $PID 2>/dev/null && ok "by the running owner" || not_ok "the owner is gone"

# One more entry right after that checkpoint (a reload through the owner):
# the append itself is not due (T has not passed), the owner's clock is.
exit_is "reload through the owner" 0 "$B" reload s.yaml
n=$(entries)
[ "$n" = 4 ] && ok "the reload is entry 4" || not_ok "entries after reload: $n"
if wait_latest 4 5; then ok "and is signed T after the checkpoint before it (size 4)"
else not_ok "no checkpoint of size 4 after 5 s (latest: '$(latest)')"; fi
# The control API's trace reads the same log (its one store).
curl -s --unix-socket "$TMP/s.db.sock" "http://owner/api/v1/audit?id=in.jsonl@8" >trace.json
contains "GET /api/v1/audit: the record's receipt entry from the log" trace.json '"kind":"receipt"'
contains "naming the record inside the batch entry" trace.json '"id":"in.jsonl@8"'
c=$(ckpts)
sleep 3
[ "$(ckpts)" = "$c" ] && ok "a log that did not grow gets no new checkpoint" \
    || not_ok "checkpoints: $c, then $(ckpts)"
kill -TERM $PID; wait $PID; rc=$?
[ $rc -eq 0 ] && ok "the owner stops with exit 0" || not_ok "run exit $rc"
exit_is "verify holds" 0 "$B" audit verify s.yaml
contains "over the interval's checkpoints (none more at the stop)" "$OUT" \
    "ok: 4 entries, root "
contains "two of them" "$OUT" "2 signed checkpoints checked"
finish
