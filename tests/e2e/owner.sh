#!/usr/bin/env bash
# One owner per site (DESIGN.md §9, issue 14): the owner lock, paths from the
# site file's directory, read-only commands that create nothing, the state
# file watched, one writer per file sink, SIGHUP, --serve. Real processes;
# records counted: lost, duplicated and torn lines.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
N=${OWNER_N:-100000}
python3 -c "
import sys
with open('in.jsonl','w') as f:
    for i in range($N): f.write('{\"n\":%d,\"pad\":\"%s\"}\n' % (i, 'x'*40))"

# count FILE: prints "lines unique torn" of records {"n":...}
count() {
    python3 - "$1" <<'PY'
import json, sys
lines = open(sys.argv[1], 'rb').read().split(b'\n')
if lines and lines[-1] == b'': lines.pop()
seen, torn = set(), 0
for l in lines:
    try: seen.add(json.loads(l)['n'])
    except Exception: torn += 1
print(len(lines), len(seen), torn)
PY
}
# wait_lines FILE N SECONDS: until FILE has N lines
wait_lines() {
    local i=0
    while [ "$(wc -l <"$1" 2>/dev/null || echo 0)" -lt "$2" ] && [ $i -lt $(($3 * 10)) ]; do
        sleep 0.1; i=$((i + 1)); done
}

mkdir site
cat >site/own.yaml <<YAML
site: own
state: own.db
connectors:
  in: { plugin: file, path: ../in.jsonl, follow: true }
  out: { plugin: file, path: out.jsonl }
routes:
  r: { from: in, to: out }
YAML

# ---- 1. the owner lock: a second and a third run refuse, naming the owner ----
"$B" run site/own.yaml 2>run1.log & P1=$!
sleep 0.5
exit_is "a second run of the site exits 1" 1 timeout 15 "$B" run site/own.yaml
grep -qE "^backplane run: site 'own' is already run by pid $P1 since [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z \(lock $TMP/site/own.db.lock\)$" "$ERR" \
    && ok "it names the owner's pid, start time and the lock" || { not_ok "names the owner"; sed 's/^/#   /' "$ERR"; }
sleep 0.3
(cd / && timeout 15 "$B" run "$TMP/site/own.yaml" >/dev/null 2>run3.err; echo $? >"$TMP/run3.rc") 
[ "$(cat run3.rc)" = 1 ] && ok "a third, staggered run from another directory exits 1 too" || not_ok "third run refused (rc $(cat run3.rc))"
wait_lines site/out.jsonl "$N" 60
kill -TERM $P1; wait $P1; rc=$?
[ $rc -eq 0 ] && ok "the owner ends cleanly on SIGTERM" || not_ok "owner exit $rc"
[ "$(count site/out.jsonl)" = "$N $N 0" ] && ok "$N records: 0 lost, 0 duplicated, 0 torn lines" \
    || not_ok "lost/dup/torn: got '$(count site/out.jsonl)' want '$N $N 0'"
[ -z "$(cat site/own.db.lock)" ] && ok "the lock file is cleared on exit" || not_ok "lock file cleared"

# a stale lock (its holder was killed) is taken over, with a log line
printf 'pid=999999\nsince=2026-12-01T10:00:00Z\ncommand=run\n' >site/own.db.lock
"$B" run site/own.yaml 2>run2.log & P2=$!
sleep 1; kill -TERM $P2; wait $P2
contains "a stale lock is taken over with a log line" run2.log \
    "taking over the stale lock $TMP/site/own.db.lock of pid 999999 (run since 2026-12-01T10:00:00Z), which is no longer running"

# a CLI command holding the lock: run waits (up to 10 s) and then starts
printf 'pid=%d\nsince=2026-12-01T10:00:00Z\ncommand=review approve\n' $$ >site/own.db.lock
flock -x site/own.db.lock sleep 2 & F=$!
sleep 0.2
"$B" run site/own.yaml 2>run4.log & P4=$!
sleep 3.5; kill -TERM $P4; wait $P4; rc=$?; wait $F
contains "run waits for a CLI command's lock" run4.log "waiting up to 10 s for 'review approve'"
[ $rc -eq 0 ] && grep -q "site 'own' running" run4.log && ok "and runs once it is released" || not_ok "ran after the wait (rc $rc)"

# ---- 2. paths from the site file's directory; read-only commands create nothing ----
mkdir elsewhere
(cd elsewhere && "$B" review list ../site/gone.yaml >/dev/null 2>&1)
sed 's/own.db/ro.db/' site/own.yaml >site/ro.yaml
(cd elsewhere && "$B" review list ../site/ro.yaml >../rl.out 2>../rl.err; echo $? >../rl.rc)
[ "$(cat rl.rc)" != 0 ] && ok "review list of a site that never ran fails" || not_ok "review list rc $(cat rl.rc)"
[ ! -e site/ro.db ] && [ ! -e elsewhere/ro.db ] && ok "and creates no state file" || not_ok "a state file was created"
contains "it names the absolute path and says missing" rl.err "state file $TMP/site/ro.db does not exist"
lacks "no recovery advice for a missing file" rl.err "move the file aside"
(cd elsewhere && "$B" dlq list ../site/ro.yaml >/dev/null 2>../dl.err)
[ ! -e site/ro.db ] && ok "dlq list creates none either" || not_ok "dlq list created a state file"
(cd elsewhere && "$B" review list ../site/own.yaml >../rl2.out 2>../rl2.err; echo $? >../rl2.rc)
[ "$(cat rl2.rc)" = 0 ] && ok "review list from another directory opens the site's state (relative 'state:')" || { not_ok "review list own"; sed 's/^/#   /' rl2.err; }
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
    chmod 0600 site/own.db; chmod 0755 "$TMP" site
    setpriv --reuid=nobody --regid=nogroup --clear-groups "$B" review list "$TMP/site/own.yaml" >np.out 2>np.err
    contains "a non-root reviewer is told permission denied, with the path" np.err "state file $TMP/site/own.db: permission denied"
    lacks "and not advised to move the queue aside" np.err "move the file aside"
fi
printf 'garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage' >site/bad.db
sed 's/own.db/bad.db/' site/own.yaml >site/bad.yaml
"$B" review list site/bad.yaml >/dev/null 2>bad.err
contains "a corrupt file gets the recovery advice" bad.err "state file $TMP/site/bad.db: not a SQLite database"
contains "with the advice" bad.err "move the file aside"

# ---- 3. the state file deleted while running ----
python3 -c "
with open('in2.jsonl','w') as f:
    for i in range(20000): f.write('{\"n\":%d}\n' % i)"
cat >site/del.yaml <<YAML
site: del
state: del.db
connectors:
  in: { plugin: file, path: ../in2.jsonl, follow: true }
  out: { plugin: file, path: del.out }
routes:
  r: { from: in, to: out }
YAML
"$B" run site/del.yaml 2>del.log & PD=$!
sleep 1
rm -f site/del.db
wait_done=0; for i in $(seq 1 50); do kill -0 $PD 2>/dev/null || { wait_done=1; break; }; sleep 0.1; done
[ $wait_done = 1 ] || kill -9 $PD 2>/dev/null
wait $PD; rc=$?
[ $wait_done = 1 ] && [ $rc -eq 3 ] && ok "deleting the state file stops run with exit 3" || not_ok "run after delete: exit $rc, ended by itself: $wait_done"
contains "with the reason" del.log "state file $TMP/site/del.db was deleted while running: stopping; nothing acked since"
sed 's/follow: true/follow: false/' site/del.yaml >site/del2.yaml
timeout 60 "$B" run site/del2.yaml 2>del2.log
set -- $(count site/del.out)
[ "$2" = 20000 ] && [ "$3" = 0 ] && ok "restarted with a fresh state: no record lost, no torn line" || not_ok "after restart: lines/unique/torn $*"

# ---- 4. one writer per file sink ----
cat >site/two.yaml <<YAML
site: two
connectors:
  in: { plugin: file, path: ../in2.jsonl }
  in2: { plugin: file, path: ../in.jsonl }
  out: { plugin: file, path: shared.jsonl }
  out2: { plugin: file, path: ./shared.jsonl }
routes:
  a: { from: in, to: out }
  b:
    from: in2
    to: out2
YAML
exit_is "check refuses two routes writing one file-sink path" 1 "$B" check site/two.yaml
contains "naming the second writer with file:line:col" "$ERR" \
    "$TMP/site/two.yaml:11:9: route 'b': sink 'out2' writes $TMP/site/shared.jsonl, which route 'a' (sink 'out', $TMP/site/two.yaml:8:22) already writes"

# ---- 5. SIGHUP ----
cat >site/hup.yaml <<YAML
site: hup
state: hup.db
connectors:
  in: { plugin: file, path: ../in.jsonl, follow: true }
  out: { plugin: file, path: hup.out }
routes:
  r: { from: in, to: out }
YAML
"$B" run site/hup.yaml 2>hup.log & PH=$!
sleep 0.3; kill -HUP $PH; sleep 0.5
kill -0 $PH 2>/dev/null && ok "SIGHUP does not kill the owner" || not_ok "SIGHUP killed run"
contains "an unchanged site: nothing restarted" hup.log "reload: no route changed; unchanged: r"
cp site/hup.yaml site/hup.good
printf 'routes: [\n' >>site/hup.yaml
kill -HUP $PH; sleep 0.5
kill -0 $PH 2>/dev/null && ok "a broken site file: still running" || not_ok "broken reload killed run"
grep -q "reload refused: $TMP/site/hup.yaml:[0-9]*:[0-9]*: .*; keeping the running configuration" hup.log \
    && ok "the refusal is logged with file:line:col" || { not_ok "refusal logged"; sed 's/^/#   /' hup.log; }
sed 's|path: hup.out|path: hup.out, fsync: false|' site/hup.good >site/hup.yaml
kill -HUP $PH; sleep 0.5
kill -0 $PH 2>/dev/null && ok "a changed route: still running" || not_ok "changed reload killed run"
contains "a changed route is drained and restarted in place, said so" hup.log \
    "reload: restarted: r; unchanged: (none)"
cp site/hup.good site/hup.yaml
wait_lines site/hup.out "$N" 60
kill -TERM $PH; wait $PH; rc=$?
[ $rc -eq 0 ] && [ "$(count site/hup.out)" = "$N $N 0" ] && ok "reloads while relaying: 0 lost, 0 duplicated, 0 torn" \
    || not_ok "after reloads: rc $rc, '$(count site/hup.out)'"

# ---- relative ${file:} and paths mean the same from anywhere ----
mkdir -p site/conf
printf 'com.example.owner' >site/conf/type.txt
cat >site/rel.yaml <<'YAML'
site: rel
state: rel.db
connectors:
  in: { plugin: file, path: ../in2.jsonl, type: "${file:conf/type.txt}" }
  out: { plugin: file, path: rel.out, format: cloudevents }
routes:
  r: { from: in, to: out }
YAML
(cd elsewhere && "$B" run ../site/rel.yaml 2>../rel.err; echo $? >../rel.rc)
[ "$(cat rel.rc)" = 0 ] && [ "$(wc -l <site/rel.out)" = 20000 ] && ok "run from another directory: paths and \${file:} resolve in the site's directory" \
    || { not_ok "relative run (rc $(cat rel.rc))"; sed 's/^/#   /' rel.err | head -5; }
grep -q '"type":"com.example.owner"' site/rel.out && ok "the \${file:} value arrived" || not_ok "\${file:} value"

# ---- 6. --serve and --admin-listen ----
cat >site/srv.yaml <<YAML
site: srv
state: srv.db
connectors:
  in: { plugin: file, path: ../in2.jsonl }
  out: { plugin: file, path: srv.out }
routes:
  r: { from: in, to: out }
YAML
"$B" run site/srv.yaml --serve 2>srv.log & PS=$!
sleep 2
kill -0 $PS 2>/dev/null && ok "run --serve stays up after its finite source ended" || not_ok "--serve exited"
contains "and says so" srv.log "every route has ended; serving until SIGTERM (--serve)"
kill -TERM $PS; wait $PS; rc=$?
[ $rc -eq 0 ] && ok "--serve ends on SIGTERM with exit 0" || not_ok "--serve exit $rc"
# The TCP listener (issue 22): beyond loopback without TLS it refuses to start.
exit_is "--admin-listen 0.0.0.0 without TLS: exit 1" 1 timeout 10 "$B" run site/srv.yaml --admin-listen 0.0.0.0:9000
contains "it says why" "$ERR" "admin.listen '0.0.0.0:9000' is not a loopback address: tokens would cross the network in clear text; set admin.tls: { cert, key } (or admin.insecure: true behind a TLS proxy)"
finish
