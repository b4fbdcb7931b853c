#!/usr/bin/env bash
# Kafka relay benchmark: backplane vs a kcat pipe, same broker, same data, same run.
#
#   make build && bench/run-kafka-relay.sh [--records N] [--runs N] [--keep] [--no-group]
#                   [--partitions N] [--compression C] [--build DIR] [--timeout SECS]
#
# N small JSON records (~58 bytes) are produced once into topic `in` of a
# librdkafka mock broker (build/tests/kafka_broker); each run relays them to a
# fresh topic with `kcat -C | kcat -P` and with backplane (topic -> envelope ->
# set data.relayed=true -> topic), alternating which goes first. A consumer
# counting the output topic decides when a relay is complete; every output is
# then verified (exactly N records, each input record once, backplane's with
# "relayed":true and CloudEvents headers). A third tool, kcat-group, is the
# same kcat pipe whose consumer joins a consumer group (-G) as backplane's
# does, so it pays the same join (--no-group leaves it out). Prints medians and
#   ratio backplane/kcat: X.XXx (records/s, median of N)
# See bench/README.md.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

records=500000
runs=3
keep=0
group=1
partitions=8
compression=lz4
build="$repo/build"
timeout_s=""

die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --records) [ $# -ge 2 ] || die "--records needs a value"; records=$2; shift 2 ;;
    --records=*) records=${1#*=}; shift ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a value"; runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
    --no-group) group=0; shift ;;
    --partitions) [ $# -ge 2 ] || die "--partitions needs a value"; partitions=$2; shift 2 ;;
    --partitions=*) partitions=${1#*=}; shift ;;
    --compression) [ $# -ge 2 ] || die "--compression needs a value"; compression=$2; shift 2 ;;
    --compression=*) compression=${1#*=}; shift ;;
    --build) [ $# -ge 2 ] || die "--build needs a value"; build=$2; shift 2 ;;
    --build=*) build=${1#*=}; shift ;;
    --timeout) [ $# -ge 2 ] || die "--timeout needs a value"; timeout_s=$2; shift 2 ;;
    --timeout=*) timeout_s=${1#*=}; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$records" =~ ^[1-9][0-9]*$ ]] || die "--records must be a positive integer (got '$records')"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer (got '$runs')"
[[ "$partitions" =~ ^[1-9][0-9]*$ ]] || die "--partitions must be a positive integer (got '$partitions')"
case "$compression" in
  none|lz4|gzip|snappy|zstd) ;;
  *) die "--compression must be one of none lz4 gzip snappy zstd (got '$compression')" ;;
esac
# Generous per-process limit, only there so that a hang cannot block forever.
[ -n "$timeout_s" ] || timeout_s=$((600 + records / 1000))
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer (got '$timeout_s')"
build=$(cd "$build" 2>/dev/null && pwd) || die "build directory not found: $build (run 'make build' first)"

# ---------------------------------------------------------------- prerequisites
bp="$build/core/backplane"
broker_bin="$build/tests/kafka_broker"
[ -x "$bp" ] || die "$bp not found: run 'make build' first"
[ -f "$build/connectors/kafka/kafka.so" ] || die "kafka connector not built ($build/connectors/kafka/kafka.so): run 'make build'"
[ -f "$build/plugins/set/set.so" ] || die "set plugin not built ($build/plugins/set/set.so): run 'make build'"
[ -x "$broker_bin" ] || die "test broker not built ($broker_bin): run 'make build'"
command -v python3 >/dev/null || die "python3 is needed (generator and output checks)"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"
command -v pgrep >/dev/null || die "pgrep (procps) is needed"
(( BASH_VERSINFO[0] > 5 || (BASH_VERSINFO[0] == 5 && BASH_VERSINFO[1] >= 1) )) \
  || die "bash >= 5.1 is needed (wait -n -p, EPOCHREALTIME)"

apt_install() {   # apt_install PKG: install a Debian package, as root only
  if [ "$(id -u)" != 0 ]; then
    die "Debian package '$1' is missing; install it as root: apt-get install -y --no-install-recommends $1"
  fi
  command -v apt-get >/dev/null || die "Debian package '$1' is missing and apt-get is not available"
  echo "== installing $1 (apt-get)"
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq \
      || die "apt-get update failed while installing $1"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$1" \
      || die "apt-get install $1 failed"
  fi
}

gnu_time=/usr/bin/time
if ! { [ -x "$gnu_time" ] && "$gnu_time" --version 2>&1 | grep -q GNU; }; then
  apt_install time
  { [ -x "$gnu_time" ] && "$gnu_time" --version 2>&1 | grep -q GNU; } || die "GNU time not usable at $gnu_time"
fi
if ! command -v kcat >/dev/null; then
  apt_install kcat
  command -v kcat >/dev/null || die "kcat installed but not found in PATH"
fi
kcat_version=$(kcat -V 2>&1 | sed -n 's/^Version \([^ ]*\).*/\1/p' | head -n 1)
kcat_lib=$(kcat -V 2>&1 | sed -n 's/.*librdkafka \([0-9][^ ]*\).*/\1/p' | head -n 1)
[ -n "$kcat_version" ] || kcat_version=$(dpkg-query -W -f '${Version}' kcat 2>/dev/null || echo '?')

# ---------------------------------------------------------------- temp dir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-bench-kafka-relay.XXXXXX") || die "mktemp failed"
broker_pid=""
bp_tpid=""
wpid=""
pipe_pid=""
kill_tree() {   # kill_tree PID: SIGTERM a process started here and its descendants
  local c
  for c in $(pgrep -P "$1" 2>/dev/null || true); do kill_tree "$c"; done
  kill -TERM "$1" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Stop what this script started, by pid only.
  if [ -n "$wpid" ]; then kill_tree "$wpid"; fi
  if [ -n "$pipe_pid" ]; then kill_tree "$pipe_pid"; fi
  if [ -n "$bp_tpid" ] && kill -0 "$bp_tpid" 2>/dev/null; then
    local c; c=$(pgrep -P "$bp_tpid" || true)
    if [ -n "$c" ]; then kill -TERM $c 2>/dev/null || true; fi
    wait "$bp_tpid" 2>/dev/null || true
  fi
  if [ -n "$broker_pid" ]; then
    { echo quit >&7; } 2>/dev/null || true
    exec 7>&- 2>/dev/null || true
    wait "$broker_pid" 2>/dev/null || true
  fi
  if [ "$keep" = 1 ]; then
    echo "kept: $tmp"
  else
    rm -rf -- "$tmp"
    [ "$rc" = 0 ] || echo "$prog: (temp dir $tmp removed; rerun with --keep to inspect it)" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
# The paths go into YAML unescaped.
[[ "$tmp" =~ ^[A-Za-z0-9/._+-]+$ ]] || die "temp dir path '$tmp' has unusual characters; set TMPDIR to a plain path"

input="$tmp/records.jsonl"
results="$tmp/results.tsv"
: > "$results"
zprop=()                       # producer properties for kcat
[ "$compression" = none ] || zprop=(-X "compression.type=$compression")

# Snapshot of the build: the runs use copies taken now, so a `make build` running
# elsewhere during the benchmark cannot mix two versions into one set of medians.
# (backplane has RUNPATH $ORIGIN, so it finds the copied libbackplane.so.0.)
snap="$tmp/build-snapshot"
mkdir -p "$snap/core" "$snap/connectors" "$snap/plugins" "$snap/tests"
cp -L "$build/core/backplane" "$snap/core/backplane" || die "cannot copy $build/core/backplane"
cp -L "$build/core/libbackplane.so.0" "$snap/core/libbackplane.so.0" || die "cannot copy $build/core/libbackplane.so.0"
cp -L "$build/connectors/kafka/kafka.so" "$snap/connectors/kafka.so" || die "cannot copy the kafka connector"
cp -L "$build/plugins/set/set.so" "$snap/plugins/set.so" || die "cannot copy the set plugin"
cp -L "$broker_bin" "$snap/tests/kafka_broker" || die "cannot copy $broker_bin"
bp="$snap/core/backplane"
broker_bin="$snap/tests/kafka_broker"
build_info="$(date -u -r "$build/core/libbackplane.so.0" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo '?')"
src_dir=$(dirname "$build")
if git_head=$(git -C "$src_dir" log -1 --format=%h 2>/dev/null); then
  # (bench/ itself does not count: it does not go into the build)
  git -C "$src_dir" diff --quiet HEAD -- . ':(exclude)bench' 2>/dev/null \
    || git_head="$git_head + uncommitted changes"
else
  git_head="unknown ($src_dir is not a git checkout)"
fi
export BP_PLUGIN_PATH="$snap/connectors:$snap/plugins"

# ---------------------------------------------------------------- broker
# One mock broker for the whole invocation: `in` plus one fresh output topic per
# tool and run, all with the same partition count. Its stdin stays open on fd 7.
topics=(--topic "in:$partitions")
for ((i = 1; i <= runs; i++)); do
  topics+=(--topic "out_kcat_$i:$partitions" --topic "out_bp_$i:$partitions" --topic "out_kcat_group_$i:$partitions")
done
mkfifo "$tmp/broker.in"
"$broker_bin" --brokers 1 "${topics[@]}" <"$tmp/broker.in" >"$tmp/broker.out" 2>"$tmp/broker.err" &
broker_pid=$!
exec 7>"$tmp/broker.in"
BS=""
for _ in $(seq 100); do
  BS=$(sed -n 's/^BOOTSTRAP //p' "$tmp/broker.out")
  [ -n "$BS" ] && break
  kill -0 "$broker_pid" 2>/dev/null || break
  sleep 0.1
done
[ -n "$BS" ] || { cat "$tmp/broker.err" >&2; die "the mock broker did not start"; }
[[ "$BS" =~ ^[0-9A-Za-z.:,_-]+$ ]] || die "unexpected bootstrap address '$BS'"

proc_cpu() {   # proc_cpu PID: user+sys seconds used so far by a live process
  awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}

# ---------------------------------------------------------------- configs
for ((i = 1; i <= runs; i++)); do
  kout_props=""
  [ "$compression" = none ] || kout_props=", properties: { compression.type: $compression }"
  cat > "$tmp/site-$i.yaml" <<EOF
# generated by bench/run-kafka-relay.sh (run $i)
site: bench-kafka-relay-$i
state: $tmp/bp-state-$i.db
connectors:
  kin:  { plugin: kafka, brokers: "$BS", topics: [in], group: g_$i,
          properties: { session.timeout.ms: 6000 } }
  kout: { plugin: kafka, brokers: "$BS", topic: out_bp_$i$kout_props }
routes:
  r:
    from: kin
    through:
      - set: { set: { data.relayed: true } }
    to: kout
    batch: 1024
EOF
  "$bp" check "$tmp/site-$i.yaml" >"$tmp/bp-check.log" 2>&1 \
    || { cat "$tmp/bp-check.log" >&2; die "backplane check rejected the generated site $tmp/site-$i.yaml"; }
done

# ---------------------------------------------------------------- input
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "== $("$bp" --version) (build $build, library built $build_info, source $git_head)"
echo "== kcat $kcat_version (librdkafka ${kcat_lib:-?}); mock broker at $BS (librdkafka $(dpkg-query -W -f '${Version}' librdkafka1 2>/dev/null || echo '?'))"
echo "== topics: $partitions partitions each; producer compression: $compression"
echo "== generating $records records -> $input"
python3 - "$records" "$input" <<'PY'
import random, sys
n, path = int(sys.argv[1]), sys.argv[2]
r = random.Random(20261122)          # deterministic: same N, same bytes
with open(path, "w") as f:
    for i in range(1, n + 1):
        f.write('{"id":%d,"vendor":"V%02d","amount":%.2f,"cur":"EUR"}\n'
                % (i, r.randrange(50), r.uniform(1, 99999)))
PY
echo "   $(wc -c <"$input") bytes, $(awk -v n="$records" -v b="$(wc -c <"$input")" 'BEGIN { printf "%.1f", b / n }') bytes/record with newline"
echo "== producing them into 'in' (kcat -P -l)"
timeout "$timeout_s" kcat -b "$BS" -P -t in "${zprop[@]}" -l "$input" 2>"$tmp/produce-in.err" \
  || { cat "$tmp/produce-in.err" >&2; die "kcat could not produce the input"; }

dump_topic() {   # dump_topic TOPIC FILE: every record still held, one line each, '%T\t%s'
  timeout "$timeout_s" kcat -b "$BS" -C -t "$1" -o beginning -e -q -f '%T\t%s\n' >"$2" 2>"$2.err" \
    || { cat "$2.err" >&2; die "kcat could not read back topic $1"; }
}

verify() {   # verify TOOL TOPIC DUMP: fail loudly unless DUMP is the relayed input
  python3 - "$1" "$2" "$3" "$input" "$records" <<'PY' || die "$1: output check failed (see above); topic $2"
import json, sys
tool, topic, dump, inp, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
src = [None]
with open(inp, "rb") as f:
    for raw in f:
        src.append(raw.rstrip(b"\n"))
seen = bytearray(n + 1)
lines = dups = bad = 0
first_bad = None
with open(dump, "rb") as f:
    for raw in f:
        lines += 1
        ts, _, val = raw.rstrip(b"\n").partition(b"\t")
        try:
            rec = json.loads(val)
            k = rec["id"]
        except Exception:
            sys.exit(f"{tool}: record {lines} of {topic} is not an input record: {val[:200]!r}")
        if not (isinstance(k, int) and 1 <= k <= n):
            sys.exit(f"{tool}: record {lines} of {topic} has id {k!r}, outside 1..{n}")
        if seen[k]:
            dups += 1
        seen[k] = 1
        if tool in ("in", "kcat", "kcat-group"):
            ok = val == src[k]                       # byte for byte
        else:
            want = dict(json.loads(src[k]), relayed=True)
            ok = rec == want and list(rec) == list(want) and b'"relayed":true' in val
        if not ok:
            bad += 1
            first_bad = first_bad or (k, val)
missing = n - sum(seen)
errs = []
if lines != n:
    errs.append(f"{lines} records, expected {n}")
if dups or missing:
    errs.append(f"{dups} duplicate and {missing} missing ids")
if bad:
    k, val = first_bad
    errs.append(f"{bad} records differ from their input line"
                + (" + relayed:true" if tool == "backplane" else "")
                + f" (first: id {k}: got {val[:160]!r}, input {src[k][:160]!r})")
if errs:
    if lines < n and not dups:
        errs.append("note: the mock broker keeps only ~5 MiB per partition and silently drops "
                    "older data; try more --partitions or --compression lz4")
    sys.exit(f"{tool}: topic {topic}: " + "; ".join(errs))
what = {"in": "byte-identical to the input lines",
        "kcat": "byte-identical to the input lines",
        "kcat-group": "byte-identical to the input lines",
        "backplane": "each equal to its input record + \"relayed\":true"}[tool]
print(f"   {tool}: verified {topic}: {lines} records, every id once, {what}")
PY
}

echo "== checking 'in'"
dump_topic in "$tmp/in.dump"
verify in in "$tmp/in.dump"
rm -f "$tmp/in.dump"

# ---------------------------------------------------------------- runs
time_fmt='BENCHTIME %e %U %S %M'
now_ms() { local t=$EPOCHREALTIME; echo $(( ${t%.*} * 1000 + 10#${t#*.} / 1000 )); }

tspan() {   # tspan WATCHFILE: "first_ms last_ms" of the CreateTimes the watcher saw
  sort -n "$1" | awk 'NR == 1 { f = $1 } { l = $1 } END { printf "%.0f %.0f\n", f, l }'
}

record() {   # record TOOL RUN T0 T_DONE WATCHFILE CPU RSS_KB BROKER_CPU EXTRA
  local span first last
  span=$(tspan "$5"); first=${span% *}; last=${span#* }
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "$first" "$last" "$6" "$7" "$8" >> "$results"
  awk -v n="$records" -v t0="$3" -v te="$4" -v f="$first" -v l="$last" -v c="$6" -v m="$7" \
      -v b="$8" -v t="$1" -v x="$9" 'BEGIN {
    w = (te - t0) / 1000; s = (l - f) / 1000
    printf "   %-10s wall %6.2f s %8.0f records/s | first record after %5.2f s, steady %6.2f s %8.0f records/s | cpu %5.2f s  rss %5.1f MiB | broker cpu %5.2f s%s\n",
      t, w, (w > 0 ? n / w : 0), (f - t0) / 1000, s, (s > 0 ? (n - 1) / s : 0), c, m / 1024, b, x }'
}

start_watcher() {   # start_watcher TOPIC FILE: consumer that exits after N records; sets wpid
  # fetch.wait.max.ms: the mock broker answers a fetch it cannot fill only after
  # this long (default 500 ms), which would add up to that much to the end time.
  timeout "$timeout_s" kcat -b "$BS" -C -t "$1" -o beginning -c "$records" -q -f '%T\n' \
    -X fetch.wait.max.ms=20 >"$2" 2>"$2.err" &
  wpid=$!
}

run_kcat() {   # run_kcat RUN [group]: the kcat pipe; with "group" its consumer joins a group (-G)
  local tool=kcat cons=(-C -t in -o beginning) topics=()
  if [ "${2:-}" = group ]; then
    # A consumer-group member like backplane's source: pays the same join.
    tool=kcat-group
    cons=(-G "g_kcat_$1" -X auto.offset.reset=earliest -X session.timeout.ms=6000)
    topics=(in)   # -G takes its topics after the options
  fi
  local topic="out_${tool/-/_}_$1" watch="$tmp/watch-$tool-$1.txt" tc="$tmp/time-$tool-c-$1.txt" tp="$tmp/time-$tool-p-$1.txt"
  local t0 t_watch t_pipe done_pid rc b0 b1 ppid
  b0=$(proc_cpu "$broker_pid")
  start_watcher "$topic" "$watch"
  t0=$(now_ms)
  ( set -o pipefail
    "$gnu_time" -f "$time_fmt" -o "$tc" timeout "$timeout_s" \
      kcat -b "$BS" "${cons[@]}" -e -q -f '%s\n' "${topics[@]}" 2>"$tmp/kcat-c-$1.log" |
    "$gnu_time" -f "$time_fmt" -o "$tp" timeout "$timeout_s" \
      kcat -b "$BS" -P -t "$topic" "${zprop[@]}" 2>"$tmp/kcat-p-$1.log" ) &
  ppid=$!
  pipe_pid=$ppid
  t_watch="" t_pipe=""
  while [ -z "$t_watch" ] || [ -z "$t_pipe" ]; do
    rc=0; wait -n -p done_pid $( [ -z "$t_watch" ] && echo "$wpid" ) $( [ -z "$t_pipe" ] && echo "$ppid" ) || rc=$?
    if [ "$done_pid" = "$wpid" ]; then
      t_watch=$(now_ms)
      [ "$rc" = 0 ] || { cat "$watch.err" >&2; die "kcat run $1: the counting consumer failed (status $rc, $(wc -l <"$watch") of $records records seen)"; }
    else
      t_pipe=$(now_ms)
      [ "$rc" = 0 ] || { tail -n 5 "$tmp/kcat-c-$1.log" "$tmp/kcat-p-$1.log" >&2; die "kcat run $1: the kcat pipe exited with status $rc"; }
    fi
  done
  b1=$(proc_cpu "$broker_pid")
  wpid="" pipe_pid=""
  local cpu rss
  read -r cpu rss < <(cat "$tc" "$tp" | awk '/^BENCHTIME/ { c += $3 + $4; if ($5 > m) m = $5 } END { printf "%.2f %d\n", c, m }')
  record "$tool" "$1" "$t0" "$t_watch" "$watch" "$cpu" "$rss" \
    "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')" \
    "$(awk -v a="$t0" -v b="$t_pipe" 'BEGIN { printf " | pipe exited after %.2f s", (b - a) / 1000 }')"
  dump_topic "$topic" "$tmp/out-$tool.dump"
  verify "$tool" "$topic" "$tmp/out-$tool.dump"
}

run_backplane() {   # run_backplane RUN
  local topic="out_bp_$1" watch="$tmp/watch-bp-$1.txt" tf="$tmp/time-backplane-$1.txt" log="$tmp/backplane-$1.log"
  local t0 t_watch t_exit done_pid rc b0 b1 child=""
  rm -f -- "$tmp/bp-state-$1.db"*
  b0=$(proc_cpu "$broker_pid")
  start_watcher "$topic" "$watch"
  t0=$(now_ms)
  "$gnu_time" -f "$time_fmt" -o "$tf" "$bp" run "$tmp/site-$1.yaml" >"$log" 2>&1 &
  bp_tpid=$!
  # backplane's Kafka source never ends: the run is complete when the counting
  # consumer has seen all N records (or fails if backplane exits first).
  rc=0; wait -n -p done_pid "$wpid" "$bp_tpid" || rc=$?
  t_watch=$(now_ms)
  if [ "$done_pid" != "$wpid" ]; then
    tail -n 20 "$log" >&2
    kill "$wpid" 2>/dev/null || true; wait "$wpid" 2>/dev/null || true
    bp_tpid=""
    die "backplane run $1 exited (status $rc) before all records arrived ($(wc -l <"$watch") of $records; log: $log)"
  fi
  [ "$rc" = 0 ] || { cat "$watch.err" >&2; tail -n 20 "$log" >&2; die "backplane run $1: the counting consumer failed (status $rc, $(wc -l <"$watch") of $records records seen; log: $log)"; }
  b1=$(proc_cpu "$broker_pid")
  wpid=""
  child=$(pgrep -P "$bp_tpid" || true)
  [ -n "$child" ] || die "backplane run $1: cannot find the backplane process under GNU time (pid $bp_tpid)"
  kill -TERM "$child"
  # (GNU time reaps it at once, so kill -0 fails as soon as it has exited; after
  # 120 s it is killed, so that a shutdown that hangs cannot block forever)
  local k
  for ((k = 0; k < 2400; k++)); do kill -0 "$child" 2>/dev/null || break; sleep 0.05; done
  t_exit=$(now_ms)
  if kill -0 "$child" 2>/dev/null; then
    kill -KILL "$child" 2>/dev/null || true
    echo "$prog: backplane run $1 did not exit within 120 s of SIGTERM: killed" >&2
  fi
  rc=0; wait "$bp_tpid" || rc=$?
  bp_tpid=""
  if [ "$rc" != 0 ]; then
    tail -n 20 "$log" >&2
    die "backplane run $1 exited with status $rc after SIGTERM (log: $log)"
  fi
  local cpu rss
  read -r cpu rss < <(awk '/^BENCHTIME/ { printf "%.2f %d\n", $3 + $4, $5 }' "$tf")
  local joined
  joined=$(awk '/assigned [0-9]+ partition/ { print $1; exit }' "$log")
  record backplane "$1" "$t0" "$t_watch" "$watch" "$cpu" "$rss" \
    "$(awk -v a="$b0" -v b="$b1" 'BEGIN { printf "%.2f", b - a }')" \
    "$(awk -v a="$t_watch" -v b="$t_exit" 'BEGIN { printf " | SIGTERM->exit %.2f s", (b - a) / 1000 }')${joined:+ | partitions assigned at $joined}"
  dump_topic "$topic" "$tmp/out-bp.dump"
  verify backplane "$topic" "$tmp/out-bp.dump"
  timeout 60 kcat -b "$BS" -C -t "$topic" -o beginning -c 1 -q -f '%h\n' >"$tmp/bp-headers.txt" 2>/dev/null || true
  grep -q 'ce_specversion=1.0' "$tmp/bp-headers.txt" && grep -q 'ce_source=kafka://in' "$tmp/bp-headers.txt" \
    || die "backplane run $1: no CloudEvents headers on $topic (got: $(cat "$tmp/bp-headers.txt"))"
}

for ((i = 1; i <= runs; i++)); do
  echo "== run $i/$runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if (( i % 2 == 1 )); then
    run_backplane "$i"; run_kcat "$i"; [ "$group" = 0 ] || run_kcat "$i" group
  else
    [ "$group" = 0 ] || run_kcat "$i" group; run_kcat "$i"; run_backplane "$i"
  fi
done

# ---------------------------------------------------------------- summary
echo "== done (load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
python3 - "$results" "$records" "$runs" <<'PY'
import statistics, sys
path, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for line in open(path):
    tool, run, t0, te, first, last, cpu, rss, bcpu = line.rstrip("\n").split("\t")
    t0, te, first, last = int(t0), int(te), int(first), int(last)
    wall, steady = (te - t0) / 1000, (last - first) / 1000
    rows.setdefault(tool, []).append((
        wall, n / wall if wall > 0 else 0.0, (first - t0) / 1000,
        (n - 1) / steady if steady > 0 else 0.0, float(cpu), int(rss) / 1024, float(bcpu)))
med = {t: [statistics.median(c) for c in zip(*r)] for t, r in rows.items()}
print(f"kafka relay, {n} records, median of {runs} run(s)")
print(f"{'tool':<11}{'wall s':>8}{'records/s':>11}{'1st rec s':>11}{'steady rec/s':>14}"
      f"{'cpu s':>8}{'RSS MiB':>9}{'broker cpu s':>14}")
for t in ("backplane", "kcat", "kcat-group"):
    if t not in med:
        continue
    w, r, f, s, c, m, b = med[t]
    print(f"{t:<11}{w:>8.2f}{r:>11.0f}{f:>11.2f}{s:>14.0f}{c:>8.2f}{m:>9.1f}{b:>14.2f}")
print(f"cpu backplane/kcat: {med['backplane'][4] / med['kcat'][4]:.2f}x (user+sys seconds, median of {runs})")
print(f"end-to-end ratio backplane/kcat: {med['backplane'][1] / med['kcat'][1]:.2f}x "
      f"(records/s launch->all records out, median of {runs}; includes backplane's "
      f"{med['backplane'][2]:.1f} s consumer-group join, kcat -C joins no group)")
if "kcat-group" in med:
    print(f"end-to-end ratio backplane/kcat-group: {med['backplane'][1] / med['kcat-group'][1]:.2f}x "
          f"(records/s, both consumer-group members, median of {runs})")
print(f"ratio backplane/kcat: {med['backplane'][3] / med['kcat'][3]:.2f}x "
      f"(throughput: records/s first->last output record, median of {runs})")
PY
