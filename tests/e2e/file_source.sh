#!/usr/bin/env bash
# The file source's edges: CRLF, blank lines, a last line without a newline, a
# line over max_line (dead-lettered, the rest flows), several files by glob in
# name order, a half-written line in follow mode, and checkpoints per file.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
mkdir in
printf '{"n":1}\r\n\r\n{"n":2}\n\n' >in/a.jsonl
python3 -c "print('{\"n\":3,\"pad\":\"' + 'x'*300 + '\"}')" >in/b.jsonl
printf '{"n":4}\n{"n":5}' >>in/b.jsonl
printf '{"n":6}\n' >in/c.jsonl
cat >s.yaml <<YAML
site: fs
state: $TMP/fs.db
connectors:
  in: { plugin: file, path: "$TMP/in/*.jsonl", max_line: 100 }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  r: { from: in, to: out }
YAML
exit_is "run" 0 "$B" run s.yaml
cp "$ERR" run.log
[ "$(cat out.jsonl | tr -d '\n')" = '{"n":1}{"n":2}{"n":4}{"n":5}{"n":6}' ] && ok "all records, in file-name order, CRLF and unterminated last line handled" || { not_ok "records in order"; sed 's/^/#   /' out.jsonl; }
sqlite3 fs.db "SELECT reason FROM dead_letters" >dl.txt
contains "over-long line dead-lettered with its position" dl.txt "in/b.jsonl:1:1: line longer than max_line (100 bytes)"
sqlite3 fs.db "SELECT key || '=' || value FROM checkpoints ORDER BY key" >ck.txt
# a.jsonl ends in a blank line: nothing to deliver there, so its checkpoint is
# the end of the last record's line (re-reading a blank line delivers nothing).
contains "checkpoint of a.jsonl is after its last record" ck.txt "a.jsonl=$(( $(stat -c %s in/a.jsonl) - 1 ))"
contains "checkpoint of b.jsonl is its size" ck.txt "b.jsonl=$(stat -c %s in/b.jsonl)"

# Appending after a restart: only new lines, and line numbers stay true.
printf '{"n":7}\nnot json\n' >>in/c.jsonl
exit_is "rerun" 0 "$B" run s.yaml
[ "$(tail -n 1 out.jsonl)" = '{"n":7}' ] && ok "only the appended record" || not_ok "only the appended record"
sqlite3 fs.db "SELECT reason FROM dead_letters ORDER BY seq DESC LIMIT 1" >dl2.txt
contains "line number counted across the restart" dl2.txt "in/c.jsonl:3:1: invalid JSON"

# follow: a half-written line waits for its newline.
cat >f.yaml <<YAML
site: ff
state: $TMP/ff.db
connectors:
  in: { plugin: file, path: $TMP/grow.jsonl, follow: true }
  out: { plugin: file, path: $TMP/fout.jsonl }
routes:
  r: { from: in, to: out }
YAML
printf '{"n":1}\n{"n":' >grow.jsonl
"$B" run f.yaml 2>f.log &
pid=$!
for _ in $(seq 50); do [ -s fout.jsonl ] && break; sleep 0.1; done
sleep 0.3
[ "$(cat fout.jsonl)" = '{"n":1}' ] && ok "half-written line not delivered yet" || not_ok "half-written line not delivered yet"
printf '2}\n' >>grow.jsonl
for _ in $(seq 50); do [ "$(wc -l <fout.jsonl)" -ge 2 ] && break; sleep 0.1; done
[ "$(tail -n 1 fout.jsonl)" = '{"n":2}' ] && ok "completed line delivered whole" || not_ok "completed line delivered whole"
kill -TERM $pid; wait $pid
[ "$(sqlite3 ff.db 'SELECT count(*) FROM dead_letters')" -eq 0 ] && ok "no partial line dead-lettered" || not_ok "no partial line dead-lettered"
finish
