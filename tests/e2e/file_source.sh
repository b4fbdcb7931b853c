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

# CloudEvents in: structured events and a batch (JSON array) per line; the
# batch is larger than the poll batch, so it spans polls.
cat >ce.jsonl <<'CE'
{"specversion":"1.0","id":"e1","source":"erp://x","type":"t.one","data":{"n":1}}
[{"specversion":"1.0","id":"b1","source":"erp://x","type":"t.b","data":{"n":2}},{"specversion":"1.0","id":"b2","source":"erp://x","type":"t.b","data":{"n":3}},{"specversion":"1.0","id":"b3","source":"erp://x","type":"t.b","subject":"S","data":{"n":4}}]
{"specversion":"1.0","id":"e2","source":"erp://x","type":"t.one","data":{"n":5}}
{"specversion":"0.3","id":"bad","source":"erp://x","type":"t.one"}
CE
cat >ce.yaml <<YAML
site: ce
state: $TMP/ce.db
connectors:
  in: { plugin: file, path: $TMP/ce.jsonl, format: cloudevents }
  out: { plugin: file, path: $TMP/ce.out, format: cloudevents }
routes:
  r: { from: in, to: out, batch: 2 }
YAML
exit_is "cloudevents in and out" 0 "$B" run ce.yaml
[ "$(cut -d, -f2 ce.out | tr '\n' ' ')" = '"id":"e1" "id":"b1" "id":"b2" "id":"b3" "id":"e2" ' ] && ok "structured and batch events, in order, ids kept" || { not_ok "structured and batch events in order"; sed 's/^/#   /' ce.out; }
contains "attributes survive" ce.out '"id":"b3","source":"erp://x","type":"t.b","subject":"S"'
sqlite3 ce.db "SELECT reason FROM dead_letters" >ce.dl
contains "invalid event dead-lettered with line and reason" ce.dl "ce.jsonl:4: unsupported specversion '0.3' (expected '1.0')"

# cloudevents-batch: each file is one batch document, pretty-printed or not.
mkdir batches
cat >batches/1.json <<'CE'
[
  {
    "specversion": "1.0", "id": "p1", "source": "crm://c", "type": "t.c",
    "data": { "name": "Jörg" }
  },
  { "specversion": "1.0", "id": "p2", "source": "crm://c", "type": "t.c", "data": [1, 2.5] }
]
CE
echo '{"specversion":"1.0","id":"p3","source":"crm://c","type":"t.c"}' >batches/2.json
printf '[\n  {"specversion":"1.0","id":"p4"\n' >batches/3.json
cat >cb.yaml <<YAML
site: cb
state: $TMP/cb.db
connectors:
  in: { plugin: file, path: "$TMP/batches/*.json", format: cloudevents-batch }
  out: { plugin: file, path: $TMP/cb.out, format: cloudevents }
routes:
  r: { from: in, to: out, batch: 1 }
YAML
exit_is "cloudevents-batch files" 0 "$B" run cb.yaml
[ "$(cut -d, -f2 cb.out | tr '\n' ' ')" = '"id":"p1" "id":"p2" "id":"p3" ' ] && ok "events of every batch file, in order" || { not_ok "events of every batch file"; sed 's/^/#   /' cb.out; }
contains "data kept with its types" cb.out '"data":[1,2.5]'
sqlite3 cb.db "SELECT reason FROM dead_letters" >cb.dl
contains "a truncated batch file is dead-lettered with its position" cb.dl "batches/3.json: invalid JSON at line 2, column 33"
exit_is "rerun" 0 "$B" run cb.yaml
[ "$(wc -l <cb.out)" -eq 3 ] && ok "batch files are not read twice" || not_ok "batch files are not read twice"

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
# A FIFO and a symlink to /dev/zero matching the glob (issue 17): only
# regular files are read; the others are skipped with a warning, the run ends.
mkdir sp
printf '{"n":1}\n' >sp/a.jsonl
mkfifo sp/b.jsonl
ln -s /dev/zero sp/c.jsonl
printf '{"n":2}\n' >sp/d.jsonl
cat >sp.yaml <<YAML
site: sp
state: $TMP/sp.db
connectors:
  in: { plugin: file, path: "$TMP/sp/*.jsonl" }
  out: { plugin: file, path: $TMP/sp.out }
routes:
  r: { from: in, to: out }
YAML
exit_is "a FIFO and /dev/zero in the glob: the run ends (exit 0)" 0 timeout -s KILL 20 "$B" run sp.yaml
cp "$ERR" sp.log
[ "$(cat sp.out 2>/dev/null | tr -d '\n')" = '{"n":1}{"n":2}' ] && ok "the regular files are read" || not_ok "regular files: $(cat sp.out 2>/dev/null)"
contains "the FIFO is skipped with a warning" sp.log "skipping $TMP/sp/b.jsonl: not a regular file (only regular files are read)"
contains "so is the device behind the symlink" sp.log "skipping /dev/zero: not a regular file"
finish
