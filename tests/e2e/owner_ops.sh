#!/usr/bin/env bash
# One owner per site (DESIGN.md §9, issue 14), the operator's side: reopen of
# a rejected review entry, checkpoint reset while the owner runs (route
# paused), the owner lock held by a CLI command that records while no owner
# runs (a `run` starting meanwhile waits), admin.unix_roles with real users
# and groups. Real processes throughout.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
ME=$(id -un)
OWNER=
USERS=
GROUPS_MADE=
stop_owner() {
    [ -n "$OWNER" ] || return 0
    kill -TERM "$OWNER" 2>/dev/null
    wait "$OWNER" 2>/dev/null
    OWNER=
}
cleanup() {
    stop_owner
    for u in $USERS; do userdel "$u" 2>/dev/null; done
    for g in $GROUPS_MADE; do groupdel "$g" 2>/dev/null; done
    [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"
}
trap cleanup EXIT
wait_for() {
    local t=$(( $1 * 10 )); shift
    while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
    return 1
}
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }
SOCK=$TMP/ro.db.sock
api() {   # api METHOD PATH [BODY]: prints "CODE BODY"
    curl -s -o api.out -w '%{http_code}' --unix-socket "$SOCK" -X "$1" \
        -H 'Content-Type: application/json' ${3:+-d "$3"} "http://bp$2" >api.code
    echo "$(cat api.code) $(cat api.out)"
}
start_owner() {
    "$B" run ro.yaml "$@" 2>>ro.log &
    OWNER=$!
    wait_for 10 test -S ro.db.sock || true
}

# ---- 1. reopen a rejected entry ---------------------------------------------
printf '%s\n' '{"no":"A","total":5000}' '{"no":"B","total":5000}' >ro.jsonl
cat >ro.yaml <<YAML
site: ro
state: $TMP/ro.db
connectors:
  inv: { plugin: file, path: $TMP/ro.jsonl, follow: true }
  out: { plugin: file, path: $TMP/ro.out }
routes:
  r:
    from: inv
    review: { when: "data.total > 1000" }
    to: out
YAML
start_owner
two() { [ "$("$B" review list ro.yaml 2>/dev/null | awk 'NR > 1' | wc -l)" -eq 2 ]; }
wait_for 10 two && ok "A and B parked" || not_ok "A and B parked"
exit_is "reject 1 through the owner" 0 "$B" review reject ro.yaml 1 --reason "wrong vendor"
eq "its dead letter (stage review)" "$(sqlite3 ro.db "SELECT count(*) FROM dead_letters WHERE stage='review'")" 1
r=$(api POST /api/v1/review/1/reopen '{"note":"vendor was right"}')
python3 - "$r" <<'PY' && ok "POST /review/1/reopen: 200 {outcome: reopened, new_seq: 3}" || not_ok "reopen answer: $r"
import json, sys
code, body = sys.argv[1].split(' ', 1)
o = json.loads(body)
assert code == '200' and o['outcome'] == 'reopened' and o['seq'] == 1 and o['new_seq'] == 3, o
PY
"$B" review list ro.yaml >rl.out
contains "the entry is parked again, as entry 3" rl.out "review.when: data.total > 1000"
eq "... two entries again (3 and 2)" "$(awk 'NR > 1 {print $1}' rl.out | sort | tr '\n' ' ')" "2 3 "
eq "its dead letter is gone" "$(sqlite3 ro.db "SELECT count(*) FROM dead_letters WHERE stage='review'")" 0
eq "the rejection is still in the audit (never rewritten)" \
    "$(sqlite3 ro.db "SELECT count(*) FROM audit_log WHERE kind='review:rejected'")" 1
eq "... and is a leaf of the audit log, by the OS user" \
    "$(sqlite3 ro.db "SELECT count(*) FROM audit_log WHERE kind='review:reopened' AND actor='os:$ME'")" 1
r=$(api POST /api/v1/review/1/reopen '{}')
case "$r" in "409 "*"entry 1 cannot be reopened: reopened by os:$ME"*) ok "reopen twice: 409, says by whom";;
    *) not_ok "second reopen: $r";; esac
exit_is "approve the reopened entry" 0 "$B" review approve ro.yaml 3
contains "... delivered" "$OUT" "3 approved by $ME: delivered"
r=$(api POST /api/v1/review/3/reopen '{}')
case "$r" in "409 "*"approved by"*"(only a rejected entry can)"*) ok "an approved entry cannot be reopened: 409";;
    *) not_ok "reopen approved: $r";; esac
r=$(api POST /api/v1/review/99/reopen '{}')
case "$r" in "404 "*) ok "an entry never decided: 404";; *) not_ok "reopen 99: $r";; esac
# with no owner: the reopen is done at once under the owner lock
exit_is "reject 2" 0 "$B" review reject ro.yaml 2 --reason "duplicate"
stop_owner
exit_is "review reopen with no owner" 0 "$B" review reopen ro.yaml 2 --note "not a duplicate"
contains "... parked again" "$OUT" "2 reopened by $ME: parked again as 4"
start_owner
exit_is "the next owner finds it parked; approve" 0 "$B" review approve ro.yaml 4
eq "A and B each delivered once" "$(grep -c '"no":"A"' ro.out) $(grep -c '"no":"B"' ro.out)" "1 1"

# ---- 2. checkpoint reset while the owner runs -------------------------------
stop_owner
python3 -c "
with open('cp.jsonl','w') as f:
    for i in range(500): f.write('{\"n\":%d}\n' % i)"
cat >cp.yaml <<YAML
site: cp
state: $TMP/cp.db
connectors:
  inv: { plugin: file, path: $TMP/cp.jsonl, follow: true }
  out: { plugin: file, path: $TMP/cp.out }
routes:
  c: { from: inv, to: out }
YAML
"$B" run cp.yaml 2>cp.log & OWNER=$!
SOCK=$TMP/cp.db.sock
wait_for 10 sh -c '[ "$(wc -l <cp.out 2>/dev/null)" = 500 ]' && ok "500 records delivered" || not_ok "cp.out: $(wc -l <cp.out)"
exit_is "checkpoint reset of a running route is refused" 1 "$B" checkpoint reset cp.yaml c
contains "... pause it first" "$ERR" "route 'c' is running: pause it first"
r=$(api POST /api/v1/routes/c/checkpoint/reset '{}')
case "$r" in "409 "*"pause it first"*) ok "... 409 through the API";; *) not_ok "reset running: $r";; esac
exit_is "pause" 0 "$B" pause cp.yaml c
exit_is "reset while paused" 0 "$B" checkpoint reset cp.yaml c
contains "the positions are forgotten, the ledger kept" "$OUT" \
    "source position(s) of c/inv forgotten; the write-back ledger is kept"
grep -q "\[c\] checkpoint reset by $ME: [1-9][0-9]* source position(s) of c/inv forgotten" cp.log \
    && ok "the owner logs the reset" || { not_ok "reset logged"; tail -3 cp.log | sed 's/^/#   /'; }
"$B" status cp.yaml >st.out
contains "the route stays paused" st.out "route c                paused"
sleep 0.5
eq "nothing is read while paused" "$(wc -l <cp.out)" 500
eq "the reset is audited" "$(sqlite3 cp.db "SELECT count(*) FROM audit_log WHERE kind='checkpoint:reset'")" 1
exit_is "resume" 0 "$B" resume cp.yaml c
# The live source starts again from the beginning (its position in memory
# went with it, not only the stored copy): the file is read again.
wait_for 10 sh -c '[ "$(wc -l <cp.out)" = 1000 ]' && ok "after resume the source reads its file from the start again" \
    || not_ok "after the reset: $(wc -l <cp.out) lines, want 1000"
stop_owner
SOCK=$TMP/ro.db.sock

# ---- 3. a CLI command holds the owner lock while it records -----------------
# A decision recorded while no owner runs takes the lock; a `run` starting
# at that moment waits for it instead of racing it. The command is held in
# the middle of recording by a SQLite write lock another process keeps.
printf '%s\n' '{"no":"C","total":5000}' >>ro.jsonl
start_owner
wait_for 10 sh -c "\"$B\" review list ro.yaml 2>/dev/null | grep -q ' r '" || true
SEQ=$("$B" review list ro.yaml | awk 'NR == 2 {print $1}')
stop_owner
rm -f fifo; mkfifo fifo
sqlite3 ro.db <fifo >/dev/null 2>&1 & SQ=$!
exec 7>fifo
echo "BEGIN EXCLUSIVE; SELECT 1;" >&7
sleep 0.3
"$B" review approve ro.yaml "$SEQ" >lock.out 2>&1 7>&- & CLI=$!
wait_for 5 sh -c "grep -q 'review approve' ro.db.lock" && ok "the recording command holds the owner lock (its name in the lock file)" \
    || { not_ok "lock file: $(cat ro.db.lock)"; }
: >ro2.log
"$B" run ro.yaml 2>ro2.log 7>&- & OWNER=$!
sleep 1.5
contains "a run starting meanwhile waits for it" ro2.log "waiting up to 10 s for 'review approve' (pid $CLI) to release $TMP/ro.db.lock"
lacks "... and has not started" ro2.log "running 1 route(s)"
echo "COMMIT;" >&7; exec 7>&-; wait $SQ
wait $CLI; rc=$?
eq "the command records once the store is free" "$rc" 0
contains "... recorded" lock.out "recorded (no owner runs; carried out when it next starts)"
wait_for 10 grep -q "running 1 route(s)" ro2.log && ok "then the run starts" || not_ok "run did not start"
wait_for 10 grep -q "review approve $SEQ by $ME: delivered" ro2.log \
    && ok "and carries the recorded decision out" || not_ok "decision not carried out: $(tail -3 ro2.log)"
stop_owner

# ---- 4a. the state file replaced while running (not only deleted) -----------
python3 -c "
with open('rp.jsonl','w') as f:
    for i in range(2000): f.write('{\"n\":%d}\n' % i)"
cat >rp.yaml <<YAML
site: rp
state: $TMP/rp.db
connectors:
  inv: { plugin: file, path: $TMP/rp.jsonl, follow: true }
  out: { plugin: file, path: $TMP/rp.out }
routes:
  p: { from: inv, to: out }
YAML
"$B" run rp.yaml 2>rp.log & PR=$!
wait_for 10 sh -c '[ "$(wc -l <rp.out 2>/dev/null)" = 2000 ]' || true
cp rp.db rp.db.copy && mv rp.db.copy rp.db   # an operator "restoring a backup" under the owner
wait_for 10 sh -c "! kill -0 $PR 2>/dev/null"
wait $PR; rc=$?
eq "a replaced state file stops run with exit 3" "$rc" 3
grep -q "state file $TMP/rp.db was replaced while running (inode [0-9]*, was [0-9]*): stopping; nothing acked since" rp.log \
    && ok "... naming the file and both inodes" || { not_ok "replaced: reason"; tail -3 rp.log | sed 's/^/#   /'; }

# ---- 4. admin.unix_roles with real users and groups -------------------------
if [ "$(id -u)" = 0 ] && command -v useradd >/dev/null && command -v setpriv >/dev/null; then
    s=$$
    groupadd "bpsk$s" && groupadd "bpop$s" && GROUPS_MADE="bpsk$s bpop$s"
    useradd -M -N -g nogroup -G "bpsk$s,bpop$s" -s /bin/sh "bpo$s" && USERS="bpo$s"
    useradd -M -N -g nogroup -G "bpsk$s" -s /bin/sh "bpr$s" && USERS="$USERS bpr$s"
    cat >>ro.yaml <<YAML
admin: { unix_roles: { bpop$s: operator } }
YAML
    chmod 755 "$TMP"
    # The owner (root) runs with the socket's group bpsk: members may connect.
    setpriv --regid="bpsk$s" --keep-groups "$B" run ro.yaml 2>>ro.log & OWNER=$!
    wait_for 10 test -S ro.db.sock || true
    eq "the socket's group is the owner's group" "$(stat -c %G ro.db.sock)" "bpsk$s"
    exit_is "a reviewer (the socket's group only) may not pause" 1 runuser -u "bpr$s" -- "$B" pause ro.yaml r
    contains "... 403 names the role" "$ERR" "bpr$s is reviewer; POST /api/v1/routes/r/pause needs the role operator"
    exit_is "a member of a group unix_roles maps to operator may pause" 0 runuser -u "bpo$s" -- "$B" pause ro.yaml r
    contains "... audited as that user" "$OUT" "route r paused by bpo$s"
    exit_is "... and resume" 0 runuser -u "bpo$s" -- "$B" resume ro.yaml r
    stop_owner
    chmod 700 "$TMP"
else
    ok "# SKIP unix_roles needs root with useradd and setpriv"
fi
finish
