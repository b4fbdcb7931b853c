#!/usr/bin/env bash
# Issue 17 finding 2: a record nested deeper than the JSON printer allows (the
# envelope adds one level to data) is a reject at the source, dead-lettered
# with the reason; the good records around it are delivered, the run exits 0,
# and a restart does not stop on it again.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
deep() { # deep N: a JSON object nested N levels deep, with a leaf value
    python3 -c "import sys; n=int(sys.argv[1]); print('{\"a\":'*n + '1' + '}'*n)" "$1"
}
# 1000 levels parse (cJSON's limit) but cannot travel in an envelope; 999 can;
# 1001 would not parse at all. Both too deep are dead-lettered as raw input.
{ echo '{"n":1}'; deep 1000; echo '{"n":2}'; deep 999; echo '{"n":3}'; deep 1001; echo '{"n":4}'; } >in.jsonl
cat >s.yaml <<YAML
site: poison
state: $TMP/p.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl, format: cloudevents }
routes:
  r: { from: in, to: out, errors: { retry: { max: 2, backoff: 10ms..20ms } } }
YAML
exit_is "a run with deep records exits 0" 0 "$B" run s.yaml
cp "$ERR" run1.err
for n in 1 2 3 4; do contains "good record $n delivered" out.jsonl "\"data\":{\"n\":$n}"; done
[ "$(wc -l <out.jsonl)" -eq 5 ] && ok "4 good records and the 999-deep one delivered" ||
    not_ok "5 lines delivered (got $(wc -l <out.jsonl))"
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got '$2', want '$3'"; fi; }
eq "two dead letters (1000- and 1001-deep)" "$(sqlite3 p.db 'SELECT count(*) FROM dead_letters')" 2
eq "the reasons name the place and the depth" \
   "$(sqlite3 p.db "SELECT stage || ' ' || reason FROM dead_letters ORDER BY seq" | sed "s|$TMP/||")" \
   "r/in in.jsonl:2:4996: data nested deeper than 999 levels (an envelope holds at most 1000)
r/in in.jsonl:6:4996: data nested deeper than 999 levels (an envelope holds at most 1000)"
contains "the log says so" run1.err "dead-lettered a record at r/in: $TMP/in.jsonl:2:4996: data nested deeper than 999 levels"
lacks "no out-of-memory claim" run1.err "out of memory"
eq "the dead letter keeps the record's bytes" \
   "$(sqlite3 p.db "SELECT count(*) FROM dead_letters WHERE instr(payload, '{\"a\":{\"a\":') > 0")" 2
# A restart reads nothing new and does not stop.
exit_is "a restart exits 0" 0 "$B" run s.yaml
eq "still two dead letters" "$(sqlite3 p.db 'SELECT count(*) FROM dead_letters')" 2
finish
