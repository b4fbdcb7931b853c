#!/usr/bin/env bash
# One owner per site (DESIGN.md §9): the CLI's review decisions go through the
# running owner's control socket, which alone delivers. Real processes: the
# bus following a file, CLIs deciding while it runs, two CLIs deciding the
# same record at once, a sink that is down.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"
ME=$(id -un)
OWNER=

stop_owner() {
    [ -n "$OWNER" ] || return 0
    kill -TERM "$OWNER" 2>/dev/null
    wait "$OWNER" 2>/dev/null
    OWNER=
}
trap 'stop_owner; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT

# wait_for SECONDS COMMAND...: polls the command every 0.1 s.
wait_for() {
    local t=$(( $1 * 10 )); shift
    while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
    return 1
}
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }

# ---- 1. approve while the owner runs: nothing lost, nothing torn --------------
# Before: `review approve` opened the file sink itself and cut the running
# bus's uncommitted tail (records lost, a torn line).
: >in.jsonl
cat >site.yaml <<YAML
site: own
state: $TMP/own.db
connectors:
  inv: { plugin: file, path: $TMP/in.jsonl, follow: true }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  ap:
    from: inv
    review: { when: "data.total > 1000" }
    to: out
YAML
"$B" run site.yaml 2>owner.log &
OWNER=$!
wait_for 10 test -S own.db.sock && ok "the owner serves its control socket" || not_ok "the owner serves its control socket"
N=3000
python3 - "$N" <<'PY' &
import sys, time
n = int(sys.argv[1])
with open("in.jsonl", "a") as f:
    for i in range(n):
        f.write('{"no":"R%d","total":%d}\n' % (i, 5000 if i % 20 == 0 else 10))
        if i % 50 == 0:
            f.flush(); time.sleep(0.02)
PY
WRITER=$!
approved=0
approve_all() {
    "$B" review list site.yaml 2>/dev/null | awk 'NR > 1 { print $1 }' >seqs
    while read -r s; do
        "$B" review approve site.yaml "$s" --wait 10 >>approve.out 2>>approve.err && approved=$((approved + 1))
    done <seqs
}
while kill -0 $WRITER 2>/dev/null; do approve_all; sleep 0.2; done
wait $WRITER
sleep 1
approve_all
eq "every parked record was approved through the owner" "$approved" $((N / 20))
contains "approve says who delivered it" approve.out "approved by $ME: delivered"
lines() { [ "$(wc -l <out.jsonl)" -ge "$1" ]; }
wait_for 20 lines "$N" || true
stop_owner
python3 - >count.txt <<'PY'
import json
seen, torn, dup = set(), 0, 0
for l in open("out.jsonl"):
    try:
        d = json.loads(l)
    except ValueError:
        torn += 1; continue
    if d["no"] in seen: dup += 1
    seen.add(d["no"])
print("delivered %d lost %d dup %d torn %d" % (len(seen), 3000 - len(seen), dup, torn))
PY
contains "approving while the owner runs loses nothing, tears nothing" count.txt "delivered 3000 lost 0 dup 0 torn 0"

# ---- 2. two approvals of one record at once: one delivery, one 409 ------------
# Before: both delivered (two writes of one record), the loser was told
# "already decided" only after it had delivered.
printf '%s\n' '{"no":"BIG","total":9000}' >>in.jsonl
"$B" run site.yaml 2>owner2.log &
OWNER=$!
parked() { "$B" review list site.yaml 2>/dev/null | grep -q BIG || "$B" review list site.yaml 2>/dev/null | awk 'NR > 1' | grep -q .; }
wait_for 10 parked && ok "the big record is parked" || not_ok "the big record is parked"
S=$("$B" review list site.yaml | awk 'NR == 2 { print $1 }')
"$B" review approve site.yaml "$S" >a1.out 2>a1.err & P1=$!
"$B" review approve site.yaml "$S" >a2.out 2>a2.err & P2=$!
wait $P1; R1=$?
wait $P2; R2=$?
eq "exactly one of the two approvals succeeds" "$(( (R1 == 0) + (R2 == 0) ))" 1
eq "the other exits 1" "$(( R1 + R2 ))" 1
cat a1.err a2.err >loser.err
contains "the loser is told who decided" loser.err "entry $S: already decided by $ME"
sleep 0.5
eq "the record was delivered once" "$(grep -c '"BIG"' out.jsonl)" 1
stop_owner

# ---- 3. no owner: the decision is recorded, the next owner carries it out ------
printf '%s\n' '{"no":"LATE","total":7000}' >>in.jsonl
sed -i 's/follow: true/follow: false/' site.yaml
exit_is "the finite run parks the record" 0 "$B" run site.yaml
S=$("$B" review list site.yaml | awk '/review/ { print $1; exit }')
exit_is "approve with no owner is recorded" 0 "$B" review approve site.yaml "$S"
contains "and says so" "$OUT" "recorded (no owner runs; carried out when it next starts)"
eq "nothing delivered by the CLI" "$(grep -c '"LATE"' out.jsonl)" 0
exit_is "a second decision on it is refused" 1 "$B" review reject site.yaml "$S" --reason no
contains "naming the first" "$ERR" "already decided by $ME"
exit_is "the next owner runs" 0 "$B" run site.yaml
contains "and carries out what was recorded" "$ERR" "carried out 1 request(s) recorded while no owner ran"
eq "the recorded approval delivered once" "$(grep -c '"LATE"' out.jsonl)" 1

# ---- 3b. a decision on a route that has ended: its sink write time is kept ------
# Before: the write was timed into the route's counters after the route's last
# flush into the state file, and lost (/metrics and report never showed it).
printf '%s\n' '{"no":"ENDED","total":8000}' >fin.jsonl
: >keep.jsonl
cat >fin.yaml <<YAML
site: fin
state: $TMP/fin.db
connectors:
  fin: { plugin: file, path: $TMP/fin.jsonl, follow: false }
  keep: { plugin: file, path: $TMP/keep.jsonl, follow: true }
  out: { plugin: file, path: $TMP/fin-out.jsonl }
  kout: { plugin: file, path: $TMP/keep-out.jsonl }
routes:
  ended:
    from: fin
    review: { when: "data.total > 1000" }
    to: out
  alive: { from: keep, to: kout }
YAML
"$B" run fin.yaml 2>owner-fin.log &
OWNER=$!
wait_for 10 grep -q "\[ended\] route finished" owner-fin.log && ok "the finite route ends, the owner stays" \
  || not_ok "the finite route ends, the owner stays: $(tail -3 owner-fin.log)"
S=$("$B" review list fin.yaml | awk '/ENDED|review/ { print $1; exit }')
exit_is "approve on the ended route" 0 "$B" review approve fin.yaml "$S"
contains "delivered by the owner" "$OUT" "delivered"
stop_owner
eq "the approval's sink write time is in the route's stats" \
   "$(sqlite3 fin.db "SELECT coalesce(sum(value),0) FROM route_stats WHERE route='ended' AND name LIKE 'sink_write.%.b%'")" 1

# ---- 4. reviewers need no connector secret ------------------------------------
sed -i "s|out: { plugin: file, path: $TMP/out.jsonl }|out: { plugin: file, path: $TMP/out.jsonl, token: \"\${env:BP_TEST_UNSET_SECRET}\" }|" site.yaml
unset BP_TEST_UNSET_SECRET
exit_is "review list works without the connectors' secrets" 0 "$B" review list site.yaml
lacks "and does not ask for them" "$ERR" "BP_TEST_UNSET_SECRET"

# ---- 5. a sink that is down: pending, then dead-lettered, said by the exit -----
# Before: approve blocked 20 s and exited 0 though the record was dead-lettered.
printf '%s\n' '{"no":"D1","total":5000}' '{"no":"D2","total":5000}' >down.jsonl
cat >down.yaml <<YAML
site: down
state: $TMP/down.db
connectors:
  inv: { plugin: file, path: $TMP/down.jsonl, follow: true }
  erp: { plugin: fx_sink, path: $TMP/down.out, fail_first: 1000 }
routes:
  r:
    from: inv
    review: { when: "data.total > 1000" }
    to: erp
    errors: { retry: { max: 2, backoff: 1s..1s } }
YAML
"$B" run down.yaml --plugin-dir "$FX" 2>down.log &
OWNER=$!
two() { [ "$("$B" review list down.yaml 2>/dev/null | awk 'NR > 1' | wc -l)" -eq 2 ]; }
wait_for 10 two && ok "both parked" || not_ok "both parked"
"$B" review list down.yaml | awk 'NR > 1 { print $1 }' >dseqs
D1=$(sed -n 1p dseqs); D2=$(sed -n 2p dseqs)
exit_is "approve on a down sink, --wait 1: still pending, exit 4" 4 "$B" review approve down.yaml "$D1" --wait 1
contains "says pending" "$OUT" "pending"
exit_is "approve on a down sink, waiting long enough: dead-lettered, exit 1" 1 "$B" review approve down.yaml "$D2" --wait 20
contains "says dead_lettered" "$OUT" "dead_lettered"
stop_owner

# ---- 6. dlq replay --all leaves a reviewer's rejections alone -----------------
printf '%s\n' '{"no":"RJ","total":5000}' >rj.jsonl
cat >rj.yaml <<YAML
site: rj
state: $TMP/rj.db
connectors:
  inv: { plugin: file, path: $TMP/rj.jsonl }
  out: { plugin: file, path: $TMP/rj.out }
routes:
  r: { from: inv, review: { when: "data.total > 1000" }, to: out }
YAML
exit_is "rj: parked" 0 "$B" run rj.yaml
exit_is "rj: rejected (recorded)" 0 "$B" review reject rj.yaml 1 --reason "not ours"
exit_is "rj: the owner carries the rejection out" 0 "$B" run rj.yaml
"$B" dlq list rj.yaml >rjl
contains "the rejection is a dead letter of stage review" rjl "rejected in review by $ME: not ours"
exit_is "replay --all" 0 "$B" dlq replay rj.yaml --all
contains "leaves the reviewer's rejection alone" "$OUT" "0 entries replayed, 0 not resolved"
exit_is "replay --all --stage review" 0 "$B" dlq replay rj.yaml --all --stage review
contains "takes it when asked" "$OUT" "1 entry replayed"
exit_is "rj: the owner replays it" 0 "$B" run rj.yaml
contains "back in the route it is parked again (review.when)" "$ERR" "dlq replay 1 by $ME: parked (parked for review)"
"$B" report rj.yaml >rjr
contains "the replay counts in the report" rjr "replayed 1"

# ---- 7. status, pause (persisted), resume, checkpoints, roles -----------------
: >pz.jsonl
cat >pz.yaml <<YAML
site: pz
state: $TMP/pz.db
connectors:
  inv: { plugin: file, path: $TMP/pz.jsonl, follow: true }
  out: { plugin: file, path: $TMP/pz.out }
routes:
  p: { from: inv, to: out }
admin: { unix_roles: { nogroup: operator } }
review: { claim_ttl: 5m }
YAML
touch pz.out
"$B" run pz.yaml 2>pz.log &
OWNER=$!
wait_for 10 test -S pz.db.sock || true
exit_is "status through the owner" 0 "$B" status pz.yaml
contains "names the owner" "$OUT" "site pz: owner pid $OWNER"
contains "and the route's state" "$OUT" "route p                running"
exit_is "pause" 0 "$B" pause pz.yaml p
contains "pause says it persists" "$OUT" "route p paused by $ME (until resumed, also across restarts)"
echo '{"n":1}' >>pz.jsonl
sleep 1
eq "a paused route delivers nothing" "$(wc -l <pz.out)" 0
"$B" status pz.yaml >pzs
contains "status shows the pause" pzs "route p                paused"
exit_is "checkpoint reset while the owner runs, the route paused" 0 "$B" checkpoint reset pz.yaml p
contains "... goes through the owner, which restarts the source" "$OUT" "route p: 0 source position(s) of p/inv forgotten; the write-back ledger is kept; the source starts again from its configured start when the route is resumed"
stop_owner
"$B" run pz.yaml 2>pz2.log &
OWNER=$!
wait_for 10 test -S pz.db.sock || true
sleep 1
contains "the pause outlasts the owner" pz2.log "[p] paused (by $ME) until resumed"
eq "still nothing delivered after the restart" "$(wc -l <pz.out)" 0
exit_is "resume" 0 "$B" resume pz.yaml p
one() { [ "$(wc -l <pz.out)" -eq 1 ]; }
wait_for 10 one && ok "after resume the record is delivered" || not_ok "after resume the record is delivered"
if id nobody >/dev/null 2>&1 && command -v setpriv >/dev/null; then
    chmod 755 "$TMP"
    exit_is "a user outside the socket's group cannot connect" 1 \
        setpriv --reuid=nobody --regid=nogroup --clear-groups "$B" pause pz.yaml p
    contains "and is told why" "$ERR" "permission denied (ask for the socket's group)"
    exit_is "a member of the socket's group (reviewer) may not pause" 1 \
        setpriv --reuid=nobody --regid="$(stat -c %g pz.db.sock)" --clear-groups "$B" pause pz.yaml p
    contains "403: the role is too low" "$ERR" "nobody is reviewer; POST /api/v1/routes/p/pause needs the role operator"
    exit_is "a reviewer (socket's group, no access to the state file) lists the queue through the owner" 0 \
        setpriv --reuid=nobody --regid="$(stat -c %g pz.db.sock)" --clear-groups "$B" review list pz.yaml
    contains "... its header" "$OUT" "SEQ   PRIO  ROUTE"
    exit_is "admin.unix_roles maps nogroup to operator: it may pause" 0 \
        setpriv --reuid=nobody --regid=nogroup --groups="$(stat -c %g pz.db.sock),$(getent group nogroup | cut -d: -f3)" "$B" pause pz.yaml p
    exit_is "... and resume" 0 \
        setpriv --reuid=nobody --regid=nogroup --groups="$(stat -c %g pz.db.sock),$(getent group nogroup | cut -d: -f3)" "$B" resume pz.yaml p
    chmod 700 "$TMP"
fi
# reload through the owner: the same validation as SIGHUP, audited.
exit_is "reload through the owner, the site unchanged" 0 "$B" reload pz.yaml
contains "... says nothing changed" "$OUT" "reload: no route changed; unchanged: p"
cp pz.yaml pz.keep; sed -i '0,/plugin: file/s//plugin: nosuch_plugin/' pz.yaml
exit_is "reload of a broken site file is refused" 1 "$B" reload pz.yaml
contains "... naming the file's position and keeping the running configuration" "$ERR" "keeping the running configuration"
cp pz.keep pz.yaml
exit_is "status: the owner still runs after the refused reload" 0 "$B" status pz.yaml
stop_owner
[ "$(sqlite3 pz.db "SELECT count(*) FROM audit_log WHERE kind = 'reload'")" = 2 ] \
    && ok "both reloads are leaves of the audit log" || not_ok "reload audit leaves: $(sqlite3 pz.db "SELECT count(*) FROM audit_log WHERE kind = 'reload'")"
exit_is "checkpoint list with no owner" 0 "$B" checkpoint list pz.yaml
contains "shows the source position" "$OUT" "p/inv"
exit_is "checkpoint reset with no owner" 0 "$B" checkpoint reset pz.yaml p
contains "forgets the source positions, keeps the ledger" "$OUT" "source position(s) of p/inv forgotten; the write-back ledger is kept"
[ "$(sqlite3 pz.db "SELECT count(*) FROM audit_log WHERE kind = 'checkpoint:reset' AND route = 'p'")" = 2 ] \
    && ok "both resets (the owner's, the CLI's) are leaves of the audit log" || not_ok "checkpoint reset audit leaves"
exit_is "status with no owner" 0 "$B" status pz.yaml
contains "says so" "$OUT" "site pz: no owner runs"
exit_is "reload with no owner says there is nothing to reload" 1 "$B" reload pz.yaml
sed 's/nogroup: operator/nogroup: boss/' pz.yaml >pzbad.yaml
exit_is "a role that does not exist: run refuses" 1 "$B" run pzbad.yaml
contains "... at its line and column" "$ERR" "/pzbad.yaml:8:33: admin.unix_roles.nogroup: the role must be viewer, reviewer, operator or admin"

# ---- 8. kill -9 during a decision: delivered once into a ledgered sink --------
# The file sink (write-back ledger) takes the record, then a slow second sink
# holds the decision open; the owner dies there. The next owner carries the
# recorded decision out again: the ledger skips the file sink's repeat.
printf '%s\n' '{"no":"K9","total":5000}' >k9.jsonl
cat >k9.yaml <<YAML
site: k9
state: $TMP/k9.db
connectors:
  inv: { plugin: file, path: $TMP/k9.jsonl, follow: true }
  out: { plugin: file, path: $TMP/k9.out }
  slow: { plugin: fx_sink, path: $TMP/k9.slow, delay: 3s }
routes:
  r: { from: inv, review: { when: "data.total > 1000" }, to: [out, slow] }
YAML
"$B" run k9.yaml --plugin-dir "$FX" 2>k9.log &
OWNER=$!
k9parked() { "$B" review list k9.yaml 2>/dev/null | grep -q review; }
# Generous waits: on a loaded 2-core machine (the suite runs two tests at
# once, the ASan build slower) the owner's start alone took over 10 s.
wait_for 30 k9parked && ok "k9: parked" || { not_ok "k9: parked"; sed 's/^/#   | /' k9.log; }
"$B" review approve k9.yaml 1 --wait 10 >k9a.out 2>&1 &
APP=$!
k9written() { grep -q K9 k9.out 2>/dev/null; }
wait_for 30 k9written && ok "k9: the ledgered sink has it" || not_ok "k9: the ledgered sink has it"
kill -9 $OWNER; wait $OWNER 2>/dev/null; OWNER=
wait $APP
eq "the approving CLI is told the owner went away (exit 1)" "$?" 1
eq "the record is still parked (it leaves the queue after delivery)" "$("$B" review list k9.yaml | awk 'NR > 1' | wc -l)" 1
"$B" run k9.yaml --plugin-dir "$FX" 2>k9b.log &
OWNER=$!
k9done() { grep -q "review approve 1 by $ME: delivered" k9b.log; }
wait_for 40 k9done && ok "the next owner carries the decision out" || not_ok "the next owner carries the decision out"
# The source had not acked the parked record before the kill: it reads it
# again and parks it anew (a new entry). Approving that one too must not
# write it twice either.
wait_for 10 test -S k9.db.sock || true
for s in $("$B" review list k9.yaml | awk 'NR > 1 { print $1 }'); do
    "$B" review approve k9.yaml "$s" --wait 20 >>k9c.out 2>&1
done
stop_owner
eq "the ledgered sink has it once" "$(grep -c K9 k9.out)" 1
contains "the repeat was skipped by the ledger" k9b.log "will not be applied again"
exit_is "a second approval is refused" 1 "$B" review approve k9.yaml 1
contains "... naming the first" "$ERR" "already decided by $ME"

finish
