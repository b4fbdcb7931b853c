#!/usr/bin/env bash
# issue 21: `run` as a service. --log-file reopened on SIGUSR1 (logrotate);
# the sd_notify protocol (READY, RELOADING, WATCHDOG, STOPPING) received by a
# real datagram socket; journald entries with ROUTE/PLUGIN/RECORD_ID fields
# when stderr is the journal's stream (a listener on the journal's socket in a
# private mount namespace, as root).
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
L=$(dirname "$0")/dgram_listen.py
cd "$TMP"
# wait_for FILE TEXT [TENTHS]: until FILE holds TEXT.
wait_for() {
    local i=0
    while ! grep -qF -- "$2" "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -gt "${3:-100}" ] && return 1; sleep 0.1
    done
}
printf '{"no": 1}\nnot json\n' >in.jsonl
cat >s.yaml <<Y
site: svc
state: $TMP/svc.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  ap: { from: in, to: out }
Y

# ---- --log-file and SIGUSR1 ----
"$B" run s.yaml --serve --log-file bp.log 2>stderr.txt & P=$!
check "--log-file gets the start line" wait_for bp.log "site 'svc' running 1 route(s)"
lacks "... and stderr does not" stderr.txt "site 'svc' running"
wait_for bp.log "every route has ended"
mv bp.log bp.log.1              # what logrotate does
kill -USR1 $P
wait_for bp.log "" 20; [ -e bp.log ] && ok "SIGUSR1 reopens the log file at once" || not_ok "SIGUSR1 reopens the log file at once (no bp.log)"
kill -HUP $P                    # the reload logs a line
check "the next line goes to the new file" wait_for bp.log "reload"
lacks "... not to the rotated one" bp.log.1 "reload"
contains "the rotated file kept what came before" bp.log.1 "dead-lettered a record"
kill -TERM $P; wait $P; rc=$?
[ $rc -eq 0 ] && ok "stops on SIGTERM (exit 0)" || not_ok "stops on SIGTERM (exit $rc)"
[ "$(stat -c %a bp.log)" = 640 ] && ok "the log file is created 0640" || not_ok "the log file is created 0640 (got $(stat -c %a bp.log))"
exit_is "--log-file in a missing directory" 2 "$B" check s.yaml --log-file /nonexistent/x.log
contains "... is a usage error naming it" "$ERR" "backplane: --log-file /nonexistent/x.log: No such file or directory"

# ---- the default state path (no `state:` in the site file) ----
mkdir -p ro sd
sed '/^state:/d' s.yaml >ro/nostate.yaml
chmod a-w ro
exit_is "STATE_DIRECTORY set (systemd's StateDirectory=)" 0 env STATE_DIRECTORY="$TMP/sd:$TMP/other" "$B" run ro/nostate.yaml
[ -f sd/svc.state.db ] && ok "... the state is \$STATE_DIRECTORY/NAME.state.db (its first entry)" || not_ok "... no sd/svc.state.db"
[ -e ro/svc.state.db ] && not_ok "... nothing beside the site file" || ok "... nothing beside the site file"
exit_is "status finds the same state with STATE_DIRECTORY" 0 env STATE_DIRECTORY="$TMP/sd" "$B" checkpoint list ro/nostate.yaml
chmod u+w ro
exit_is "without it, beside the site file (as before)" 0 "$B" run ro/nostate.yaml
[ -f ro/svc.state.db ] && ok "... ro/svc.state.db" || not_ok "... no ro/svc.state.db"

# ---- sd_notify ----
rm -f svc.db* out.jsonl
python3 "$L" "$TMP/notify.sock" notify.jsonl & LP=$!
wait_for notify.jsonl listening
NOTIFY_SOCKET=$TMP/notify.sock WATCHDOG_USEC=400000 "$B" run s.yaml --serve 2>run.log & P=$!
check "READY=1 once the site runs" wait_for notify.jsonl '"READY": "1"'
contains "... with a STATUS naming the site" notify.jsonl "\"STATUS\": \"site 'svc': 1 route(s), state $TMP/svc.db\""
check "WATCHDOG=1 at half of WATCHDOG_USEC" wait_for notify.jsonl '"WATCHDOG": "1"' 30
kill -HUP $P
check "RELOADING=1 on SIGHUP" wait_for notify.jsonl '"RELOADING": "1"'
kill -TERM $P; wait $P; rc=$?
[ $rc -eq 0 ] && ok "exit 0 on SIGTERM" || not_ok "exit $rc on SIGTERM"
contains "STOPPING=1 on SIGTERM" notify.jsonl '"STOPPING": "1"'
order=$(python3 -c "
import json
seen = [k for l in open('notify.jsonl') for k in json.loads(l) if k in ('READY', 'RELOADING', 'STOPPING')]
print(' '.join(dict.fromkeys(seen)))")
[ "$order" = "READY RELOADING STOPPING" ] && ok "READY, then RELOADING, then STOPPING" || not_ok "notify order (got '$order')"
n=$(grep -c '"READY": "1"' notify.jsonl)
[ "$n" -eq 2 ] && ok "READY=1 again after the reload" || not_ok "READY=1 again after the reload (got $n)"
kill $LP; wait $LP 2>/dev/null

# ---- journald fields ----
if [ "$(id -u)" = 0 ] && grep -q BP_HAVE_LIBSYSTEMD "$BP_BUILD_ROOT/bp_build_config.h" &&
   unshare -m true 2>/dev/null; then
    rm -f svc.db* out.jsonl
    touch out.jsonl && chmod 644 out.jsonl   # the file sink warns: wider than file_mode
    # A second route: record 2 parked by review.when, record 1 retried once
    # by a sink whose first write fails (RECORD_ID: the file source's
    # name@offset).
    printf '{"no": 1}\n{"no": 2}\n' >in2.jsonl
    cat - s.yaml >j.yaml <<Y
# (the journal run: s.yaml's route ap plus rv)
Y
    sed -i -e "s|^routes:|  in2: { plugin: file, path: $TMP/in2.jsonl }\n  erp: { plugin: fx_sink, path: $TMP/erp.out, fail_first: 1 }\nroutes:|" \
        -e '$a\  rv: { from: in2, to: erp, review: { when: "data.no == 2" }, errors: { retry: { max: 3, backoff: 10ms..40ms } } }' j.yaml
    cat >journal.sh <<SH
mount -t tmpfs none /run && mkdir -p /run/systemd/journal || exit 9
python3 "$L" /run/systemd/journal/socket "$TMP/journal.jsonl" & LP=\$!
for i in \$(seq 50); do grep -q listening "$TMP/journal.jsonl" 2>/dev/null && break; sleep 0.1; done
exec 2>"$TMP/stream.txt"
export JOURNAL_STREAM=\$(stat -c %d:%i "$TMP/stream.txt")
"$B" run "$TMP/j.yaml" --plugin-dir "$BP_TEST_FIXTURES"; rc=\$?
sleep 0.3; kill \$LP
exit \$rc
SH
    exit_is "run with stderr as the journal stream" 0 unshare -m bash journal.sh
    python3 - journal.jsonl >j.txt <<'PY'
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    if "MESSAGE" in e:
        print(" ".join(f"{k}={e[k]}" for k in sorted(e)))
PY
    contains "an entry's MESSAGE, PRIORITY and identifier" j.txt "MESSAGE=site 'svc' running 2 route(s)"
    contains "... SYSLOG_IDENTIFIER=backplane" j.txt "SYSLOG_IDENTIFIER=backplane"
    grep "dead-lettered" j.txt >dl.txt
    contains "a dead letter's entry has ROUTE" dl.txt "ROUTE=ap"
    contains "... RECORD_ID (the raw line's digest)" dl.txt "RECORD_ID=sha256:"
    contains "... and PRIORITY 4 (warning)" dl.txt "PRIORITY=4"
    grep "parked for review" j.txt >pk.txt
    contains "a parked record's entry has its RECORD_ID" pk.txt "RECORD_ID=in2.jsonl@10"
    contains "... and ROUTE" pk.txt "ROUTE=rv"
    contains "... and says where and why" pk.txt "MESSAGE=[rv] parked for review at review (entry 1): review.when: data.no == 2"
    grep "to retry (attempt" j.txt >rt.txt
    contains "a retry's entry has the waiting record's RECORD_ID" rt.txt "RECORD_ID=in2.jsonl@0"
    contains "... the sink's PLUGIN" rt.txt "PLUGIN=fx_sink"
    contains "... and its INSTANCE" rt.txt "INSTANCE=rv/erp"
    grep "wider than file_mode" j.txt >pl.txt
    contains "a plugin's own line has PLUGIN=file" pl.txt "PLUGIN=file"
    contains "... and its instance" pl.txt "INSTANCE=ap/out"
    [ -s stream.txt ] && { not_ok "nothing goes to the stream itself"; sed 's/^/#   /' stream.txt; } ||
        ok "nothing goes to the stream itself"
else
    echo "# skipped journald fields: needs root, libsystemd and unshare -m"
fi
finish
