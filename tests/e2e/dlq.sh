#!/usr/bin/env bash
# backplane dlq: list, show, replay (after the peer was fixed), drop; raw input
# cannot be replayed; failing again makes a new entry, never a loop.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"
printf '%s\n' '{"n":1}' '{"n":2,"reject":true}' 'not json' '{"n":4,"reject":true}' >in.jsonl
cat >s.yaml <<YAML
site: dl
state: $TMP/dl.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  erp: { plugin: fx_sink, path: $TMP/erp.out }
routes:
  r: { from: in, to: erp }
YAML
exit_is "run" 0 "$B" run s.yaml --plugin-dir "$FX"
exit_is "dlq list" 0 "$B" dlq list s.yaml
cp "$OUT" list.txt
contains "list header" list.txt "SEQ    ROUTE"
contains "rejected record listed with stage and reason" list.txt "r/erp"
contains "the reason is shown" list.txt "reject: the ERP refused it"
contains "raw input listed with its position" list.txt "in.jsonl:3:1: invalid JSON"
[ "$(grep -c '^[0-9]' list.txt)" -eq 3 ] && ok "3 entries" || not_ok "3 entries"

exit_is "dlq show" 0 "$B" dlq show s.yaml "$(sqlite3 dl.db "SELECT min(seq) FROM dead_letters WHERE stage='r/erp'")"
cp "$OUT" show.txt
contains "show: reason" show.txt "reason: reject: the ERP refused it"
contains "show: pretty envelope" show.txt '"reject":	true'
exit_is "dlq show raw" 0 "$B" dlq show s.yaml "$(sqlite3 dl.db "SELECT seq FROM dead_letters WHERE stage='r/in'")"
contains "show: raw input" "$OUT" "raw input (8 bytes):"
exit_is "show a missing entry fails" 1 "$B" dlq show s.yaml 99
contains "missing entry named" "$ERR" "no entry 99"
exit_is "usage: drop without entries" 2 "$B" dlq drop s.yaml

# Replaying while the peer still refuses: a new entry, the old one gone, no loop.
# No owner runs: the replays are recorded (raw input refused at once) and the
# owner's next run carries them out.
exit_is "replay --all with the peer still refusing" 1 "$B" dlq replay s.yaml --all
cp "$OUT" r1.txt; cp "$ERR" r1.err
contains "the replays are recorded for the owner" r1.txt "replayed by $(id -un): recorded"
contains "raw input is not replayable" r1.err "holds raw input, not an envelope"
exit_is "the owner's next run replays them" 0 "$B" run s.yaml --plugin-dir "$FX"
cp "$ERR" r1.txt
contains "failing again is reported" r1.txt "failed again (its entry updated)"
# One entry per record and stage (issue 17): the same entries, attempts counted.
[ "$(sqlite3 dl.db "SELECT group_concat(attempts) FROM dead_letters WHERE stage='r/erp'")" = "2,2" ] &&
    ok "entries updated in place: attempts 2" || not_ok "entries updated in place: attempts 2"
[ "$(sqlite3 dl.db 'SELECT count(*) FROM dead_letters')" -eq 3 ] && ok "still 3 entries (2 new, raw kept)" || not_ok "still 3 entries"

# The peer is "fixed": route the same records to a file sink instead.
sed -i "s|erp: { plugin: fx_sink, path: $TMP/erp.out }|erp: { plugin: file, path: $TMP/fixed.jsonl }|" s.yaml
exit_is "replay after the fix" 0 "$B" dlq replay s.yaml $(sqlite3 dl.db "SELECT seq FROM dead_letters WHERE stage='r/erp'")
exit_is "the owner's run delivers them" 0 "$B" run s.yaml
contains "replay reports delivery" "$ERR" ": delivered (delivered)"
[ "$(wc -l <fixed.jsonl)" -eq 2 ] && ok "both replayed records delivered" || not_ok "both replayed records delivered"
contains "replayed record intact" fixed.jsonl '{"n":4,"reject":true}'
raw=$(sqlite3 dl.db "SELECT seq FROM dead_letters")
exit_is "drop the raw entry" 0 "$B" dlq drop s.yaml "$raw"
[ "$(sqlite3 dl.db 'SELECT count(*) FROM dead_letters')" -eq 0 ] && ok "dead-letter store empty" || not_ok "dead-letter store empty"
# Replay resumes where it failed: a record refused by one of two sinks goes
# back to that sink only, not again to the one that took it.
printf '%s\n' '{"n":10,"reject":true}' >in2.jsonl
cat >two.yaml <<YAML
site: two
state: $TMP/two.db
connectors:
  in: { plugin: file, path: $TMP/in2.jsonl }
  archive: { plugin: fx_sink, path: $TMP/archive.out, reject_field: never }
  erp: { plugin: fx_sink, path: $TMP/erp2.out }
routes:
  r: { from: in, to: [archive, erp] }
YAML
exit_is "two sinks, one refuses" 0 "$B" run two.yaml --plugin-dir "$FX"
[ "$(sqlite3 two.db "SELECT stage FROM dead_letters")" = "r/erp" ] && ok "dead letter names the refusing sink" || not_ok "dead letter names the refusing sink"
sed -i "s|erp: { plugin: fx_sink, path: $TMP/erp2.out }|erp: { plugin: fx_sink, path: $TMP/erp2.out, reject_field: never }|" two.yaml
exit_is "replay to the fixed sink" 0 "$B" dlq replay two.yaml --all
exit_is "the owner's run replays it" 0 "$B" run two.yaml --plugin-dir "$FX"
[ "$(wc -l <archive.out)" -eq 1 ] && ok "the sink that took it is not written again" || not_ok "the sink that took it is not written again ($(wc -l <archive.out) lines)"
[ "$(grep -c '"n":10' erp2.out)" -eq 1 ] && ok "the refusing sink got it once, on replay" || not_ok "the refusing sink got it once, on replay"
finish
