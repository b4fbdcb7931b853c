#!/usr/bin/env bash
# Reload restarts only the changed routes (DESIGN.md §9, issue 14): a real
# `run` with records flowing into two routes while its site file is edited.
# SIGHUP (and POST /api/v1/reload) validates first, drains the changed route
# as a stop does and starts its new version; the other route runs on
# untouched. Counted: lost 0, duplicated 0, torn 0, on both routes.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
N=${RELOAD_N:-60000}
mkdir site

# count FILE...: "lines unique torn" of records {"n":...} over all FILEs
count() {
    python3 - "$@" <<'PY'
import json, sys
seen, torn, lines = set(), 0, 0
for f in sys.argv[1:]:
    try: data = open(f, 'rb').read().split(b'\n')
    except FileNotFoundError: continue
    if data and data[-1] == b'': data.pop()
    for l in data:
        if l == b'keep me': continue   # another program's lines in chg.b
        lines += 1
        try: seen.add(json.loads(l)['n'])
        except Exception: torn += 1
print(lines, len(seen), torn)
PY
}
lines() { cat "$@" 2>/dev/null | grep -vc '^keep me$'; }
# wait_total N SECONDS FILE...: until the FILEs hold N lines together
wait_total() {
    local want=$1 secs=$2 i=0; shift 2
    while [ "$(lines "$@")" -lt "$want" ] && [ $i -lt $((secs * 10)) ]; do sleep 0.1; i=$((i + 1)); done
}
# wait_log TEXT SECONDS: until run.log holds TEXT
wait_log() {
    local i=0
    while ! grep -qF -- "$1" run.log && [ $i -lt $(($2 * 10)) ]; do sleep 0.1; i=$((i + 1)); done
}

# Two inputs written while the bus runs: records keep arriving during every
# reload (a writer appends 500 records every 100 ms).
: >keep.in; : >chg.in
python3 - "$N" <<'PY' &
import sys, time
n = int(sys.argv[1])
with open('keep.in', 'a') as a, open('chg.in', 'a') as b:
    for i in range(0, n, 500):
        for j in range(i, min(n, i + 500)):
            line = '{"n":%d,"pad":"%s"}\n' % (j, 'x' * 40)
            a.write(line); b.write(line)
        a.flush(); b.flush()
        time.sleep(0.1)
PY
WRITER=$!

site() {   # site CHG_OUT [EXTRA_ROUTE_YAML]
    cat >site/rl.yaml <<YAML
site: rl
state: rl.db
connectors:
  kin: { plugin: file, path: ../keep.in, follow: true }
  kout: { plugin: file, path: keep.out }
  cin: { plugin: file, path: ../chg.in, follow: true }
  cout: { plugin: file, path: $1 }
routes:
  keep: { from: kin, to: kout }
  chg: { from: cin, to: cout }
${2:-}
YAML
}
site chg.a
# chg.b is another program's file, longer than what chg.a will have committed
# when the reload points the sink at it: not a byte of it may be cut.
python3 -c "open('site/chg.b','w').write('keep me\\n' * 400000)"
"$B" run site/rl.yaml --plugin-dir "$BP_TEST_FIXTURES" 2>run.log & P=$!
wait_total 8000 30 site/keep.out

# ---- 1. SIGHUP after editing one route: only it restarts ----
site chg.b
before=$(lines site/keep.out)
kill -HUP $P
wait_log "reload: " 15
contains "the reload says what it did" run.log "reload: restarted: chg; unchanged: keep"
contains "the changed route was drained first" run.log "[chg] draining for a reload (changed)"
lacks "the unchanged route was not drained" run.log "[keep] draining"
[ "$(grep -c '\[keep\] route started' run.log)" = 1 ] && ok "the unchanged route started once, never again" \
    || not_ok "keep started $(grep -c '\[keep\] route started' run.log) times"
i=0; while [ "$(grep -c '\[chg\] route started' run.log)" -lt 2 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '\[chg\] route started' run.log)" = 2 ] && ok "the changed route started again (its new version)" \
    || not_ok "chg started $(grep -c '\[chg\] route started' run.log) times"
wait_total $((before + 4000)) 20 site/keep.out
[ "$(lines site/keep.out)" -gt "$before" ] && ok "the unchanged route's records kept flowing through the reload" \
    || not_ok "keep.out did not grow: $before -> $(lines site/keep.out)"
wait_total 2000 20 site/chg.b
[ "$(lines site/chg.b)" -gt 0 ] && ok "the new configuration took effect: records go to chg.b" \
    || not_ok "nothing in chg.b"
a_at_reload=$(lines site/chg.a)
sleep 0.5
[ "$(lines site/chg.a)" = "$a_at_reload" ] && ok "the old version writes nothing after its drain" \
    || not_ok "chg.a grew after the reload"
[ "$(grep -c '^keep me$' site/chg.b)" = 400000 ] && [ "$(head -c 8 site/chg.b)" = "keep me" ] \
    && ok "the sink's new file keeps every byte it had (a length committed for chg.a is not chg.b's)" \
    || not_ok "chg.b lost its own lines: $(grep -c '^keep me$' site/chg.b) of 400000 left"
lacks "... and no warning about chg.a's length" run.log "is shorter"

# ---- 2. a broken edit: refused, the running configuration stays ----
cp site/rl.yaml site/rl.good
printf 'routes: [\n' >>site/rl.yaml
kill -HUP $P
wait_log "reload refused: " 15
grep -q "reload refused: $TMP/site/rl.yaml:[0-9]*:[0-9]*: .*; keeping the running configuration" run.log \
    && ok "a broken site file is refused with file:line:col" || { not_ok "refusal logged"; sed 's/^/#   /' run.log | tail -5; }
cp site/rl.good site/rl.yaml
# an option the plugin does not have: refused before anything stops
sed 's|cout: { plugin: file, path: chg.b }|cout: { plugin: file, path: chg.b, colour: red }|' site/rl.good >site/rl.yaml
b_before=$(lines site/chg.b)
kill -HUP $P
sleep 1
grep -q "reload refused: .*unknown option 'colour'.*keeping the running configuration" run.log \
    && ok "an unknown option is refused, naming it" || { not_ok "unknown option refused"; tail -3 run.log | sed 's/^/#   /'; }
[ "$(grep -c '\[chg\] draining' run.log)" = 1 ] && ok "nothing was drained for the refused reloads" \
    || not_ok "chg drained $(grep -c '\[chg\] draining' run.log) times"
cp site/rl.good site/rl.yaml
kill -0 $P 2>/dev/null && ok "the owner still runs" || not_ok "the owner died"

# ---- 3. a new version that cannot start: the previous one runs again ----
# a second sink whose init fails (as a wrong password would)
sed -e 's|^routes:|  vault: { plugin: fx_init_fails, password: x }\nroutes:|' \
    -e 's|chg: { from: cin, to: cout }|chg: { from: cin, to: [cout, vault] }|' site/rl.good >site/rl.yaml
kill -HUP $P
wait_log "reload failed: " 15
grep -q "reload failed: route 'chg': sink 'vault' (plugin 'fx_init_fails', .*): init failed: authentication failed for user 'ap' .*; the previous configuration runs again" run.log \
    && ok "a failed start is logged, naming the sink and why, and rolled back" || { not_ok "rollback logged"; tail -4 run.log | sed 's/^/#   /'; }
i=0; while [ "$(grep -c '\[chg\] route started' run.log)" -lt 3 ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c '\[chg\] route started' run.log)" = 3 ] && ok "the previous version of the route started again" \
    || not_ok "chg started $(grep -c '\[chg\] route started' run.log) times"
sleep 0.5
b_now=$(lines site/chg.b)
wait_total $((b_now + 1)) 20 site/chg.b
[ "$(lines site/chg.b)" -gt "$b_now" ] && ok "after the rollback records go on to chg.b" \
    || not_ok "chg.b stalled after the rollback"
cp site/rl.good site/rl.yaml

# ---- 4. through the control API: the same reload, as JSON ----
SOCK=$TMP/site/rl.db.sock
site chg.b "  extra: { from: cin, to: xout }
"
sed -i 's|^routes:|  xout: { plugin: file, path: extra.out }\nroutes:|' site/rl.yaml
curl -s --unix-socket "$SOCK" -X POST http://bp/api/v1/reload >api.json
python3 - api.json <<'PY' && ok "POST /api/v1/reload: {result: reloaded, message: ...added: extra...}" || not_ok "reload JSON: $(cat api.json)"
import json, sys
o = json.load(open(sys.argv[1]))
assert o["result"] == "reloaded", o
assert o["message"] == "reload: added: extra; unchanged: keep, chg", o
PY
wait_total 1 20 site/extra.out
[ "$(lines site/extra.out)" -gt 0 ] && ok "the added route runs" || not_ok "extra.out empty"
site chg.b
printf 'routes: [\n' >>site/rl.yaml
code=$(curl -s -o api2.json -w '%{http_code}' --unix-socket "$SOCK" -X POST http://bp/api/v1/reload)
[ "$code" = 422 ] && grep -q '"error":"reload refused: ' api2.json \
    && ok "a broken file through the API: 422 with the reason" || not_ok "API refusal: $code $(cat api2.json)"
site chg.b
exit_is "backplane reload SITE: removes the route no longer in the file" 0 "$B" reload site/rl.yaml
contains "... and says so" "$OUT" "reload: removed: extra; unchanged: keep, chg"

# ---- 5. a transform option changed: the new chain takes effect ----
sed 's|chg: { from: cin, to: cout }|chg: { from: cin, through: [ { set: { set: { data.v: 2 } } } ], to: cout }|' \
    site/rl.good >site/rl.yaml
c0=$(grep -c "reload: restarted: chg; unchanged: keep" run.log)
kill -HUP $P
i=0; while [ "$(grep -c "reload: restarted: chg; unchanged: keep" run.log)" = "$c0" ] && [ $i -lt 150 ]; do sleep 0.1; i=$((i + 1)); done
[ "$(grep -c "reload: restarted: chg; unchanged: keep" run.log)" -gt "$c0" ] && ok "a changed transform option restarts its route" \
    || { not_ok "transform reload"; tail -3 run.log | sed 's/^/#   /'; }
i=0; while ! grep -q '"v":2' site/chg.b && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
grep -q '"v":2' site/chg.b && ok "records after the reload went through the new transform" \
    || not_ok "no record with data.v = 2 in chg.b"
first_v=$(grep -n '"v":2' site/chg.b | head -1 | cut -d: -f1)
[ -z "$(tail -n +"${first_v:-1}" site/chg.b | grep -v '"v":2')" ] && ok "... and every record after the first one did" \
    || not_ok "records without data.v after the new chain started"

# ---- the end: every record of both routes exactly once ----
wait $WRITER
wait_total $N 60 site/keep.out
wait_total $N 60 site/chg.a site/chg.b
kill -TERM $P; wait $P; rc=$?
[ $rc -eq 0 ] && ok "the owner ends cleanly" || not_ok "owner exit $rc"
[ "$(count site/keep.out)" = "$N $N 0" ] && ok "unchanged route: $N records, 0 lost, 0 duplicated, 0 torn" \
    || not_ok "keep: got '$(count site/keep.out)' want '$N $N 0'"
[ "$(count site/chg.a site/chg.b)" = "$N $N 0" ] && ok "restarted route (chg.a + chg.b): 0 lost, 0 duplicated, 0 torn" \
    || not_ok "chg: got '$(count site/chg.a site/chg.b)' want '$N $N 0'"
finish
