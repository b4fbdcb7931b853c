#!/usr/bin/env bash
# File modes (issue 16 #4): the state file with its -wal and -shm, file-sink
# outputs and dead-letter files hold personal data: created 0600 whatever the
# umask, unless a file sink says `file_mode` for sharing.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"
umask 022
mode() { stat -c %a "$1" 2>/dev/null || echo missing; }
printf '%s\n' '{"n":1}' '{"n":2,"reject":true}' >in.jsonl
cat >s.yaml <<YAML
site: modes
state: $TMP/s.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl, follow: true }
  out: { plugin: file, path: $TMP/out.jsonl }
  shared: { plugin: file, path: $TMP/shared.jsonl, file_mode: "0640" }
  erp: { plugin: fx_sink, path: $TMP/erp.out }
  dl: { plugin: file, path: $TMP/dead.jsonl, format: cloudevents }
routes:
  a: { from: in, to: out }
  b: { from: in, to: shared }
  c: { from: in, to: erp, errors: { dead_letter: dl } }
YAML
exit_is "check" 0 "$B" check s.yaml --plugin-dir "$FX"
"$B" run s.yaml --plugin-dir "$FX" 2>run.log &
pid=$!
for i in $(seq 100); do [ -s dead.jsonl ] && [ -s shared.jsonl ] && break; sleep 0.1; done
{ echo "db $(mode s.db)"; echo "wal $(mode s.db-wal)"; echo "shm $(mode s.db-shm)"
  echo "out $(mode out.jsonl)"; echo "dead $(mode dead.jsonl)"; echo "shared $(mode shared.jsonl)"; } >modes.txt
kill -TERM $pid; wait $pid
contains "state file 0600" modes.txt "db 600"
contains "its -wal 0600" modes.txt "wal 600"
contains "its -shm 0600" modes.txt "shm 600"
contains "file-sink output 0600" modes.txt "out 600"
contains "dead-letter file 0600" modes.txt "dead 600"
contains "file_mode where sharing is wanted" modes.txt "shared 640"
# An existing output wider than its file_mode is kept, with a warning.
rm -f s.db* out.jsonl; echo '{}' >out.jsonl; chmod 644 out.jsonl
sed -i 's/, follow: true//' s.yaml
"$B" run s.yaml --plugin-dir "$FX" 2>run2.log
contains "a wider existing file is reported" run2.log "out.jsonl is mode 0644, wider than file_mode 0600 (chmod it to keep its data private)"
# A bad mode fails the run at start-up, before anything is written.
sed 's/file_mode: "0640"/file_mode: "0999"/' s.yaml >bad.yaml
rm -f shared.jsonl
exit_is "a bad file_mode fails the run" 1 "$B" run bad.yaml --plugin-dir "$FX"
contains "naming the value" "$ERR" "file_mode: '0999' is not an octal mode between 0000 and 0777"
finish
