#!/usr/bin/env bash
# File relay benchmark: backplane vs syslog-ng 3.38, same input, same run.
#
#   make build && bench/run-file-relay.sh [--records N] [--runs N] [--keep]
#                                          [--build DIR] [--timeout SECS]
#
# N invoice-like JSON records (~200 bytes, nested line items; bench/gen_invoices.py)
# go file -> parse -> set data.status=received -> file through each tool, RUNS
# times, alternating which tool goes first. Each run's output is verified (line
# count, every record carries the new field, every invoice exactly once, sampled
# records equal to their input plus the field). Prints medians and the line
#   ratio backplane/syslog-ng: X.XXx (records/s, median of N)
# See bench/README.md.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)

records=1000000
runs=3
keep=0
build="$repo/build"
timeout_s=""

die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { sed -n '2,13p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
  case "$1" in
    --records) [ $# -ge 2 ] || die "--records needs a value"; records=$2; shift 2 ;;
    --records=*) records=${1#*=}; shift ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a value"; runs=$2; shift 2 ;;
    --runs=*) runs=${1#*=}; shift ;;
    --keep) keep=1; shift ;;
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
# Generous per-process limit, only there so that a hang cannot block forever.
[ -n "$timeout_s" ] || timeout_s=$((600 + records / 1000))
[[ "$timeout_s" =~ ^[1-9][0-9]*$ ]] || die "--timeout must be a positive integer (got '$timeout_s')"
build=$(cd "$build" 2>/dev/null && pwd) || die "build directory not found: $build (run 'make build' first)"

# ---------------------------------------------------------------- prerequisites
bp="$build/core/backplane"
[ -x "$bp" ] || die "$bp not found: run 'make build' first"
[ -f "$build/connectors/file/file.so" ] || die "file connector not built ($build/connectors/file/file.so): run 'make build'"
[ -f "$build/plugins/set/set.so" ] || die "set plugin not built ($build/plugins/set/set.so): run 'make build'"
command -v python3 >/dev/null || die "python3 is needed (generator and output checks)"
command -v timeout >/dev/null || die "timeout (coreutils) is needed"

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

find_syslog_ng() {
  command -v syslog-ng 2>/dev/null || { [ -x /usr/sbin/syslog-ng ] && echo /usr/sbin/syslog-ng; } || true
}
sng=$(find_syslog_ng)
if [ -z "$sng" ]; then
  apt_install syslog-ng-core
  sng=$(find_syslog_ng)
  [ -n "$sng" ] || die "syslog-ng-core installed but no syslog-ng binary found"
fi
sng_version=$("$sng" --version 2>/dev/null | sed -n 's/^Installer-Version: *//p' | head -n 1)
[ -n "$sng_version" ] || die "cannot run '$sng --version'"
case "$sng_version" in
  3.38.*) ;;
  *) echo "$prog: warning: syslog-ng $sng_version found; the benchmark was written for 3.38" >&2 ;;
esac

# ---------------------------------------------------------------- temp dir
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-bench-file-relay.XXXXXX") || die "mktemp failed"
cleanup() {
  local rc=$?
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
# The paths go into YAML and syslog-ng string literals unescaped.
[[ "$tmp" =~ ^[A-Za-z0-9/._+-]+$ ]] || die "temp dir path '$tmp' has unusual characters; set TMPDIR to a plain path"

input="$tmp/invoices.jsonl"
bp_out="$tmp/backplane-out.jsonl"
sng_out="$tmp/syslog-ng-out.jsonl"
results="$tmp/results.tsv"
: > "$results"

# ---------------------------------------------------------------- configs
site="$tmp/site.yaml"
cat > "$site" <<EOF
# generated by bench/run-file-relay.sh
site: bench-file-relay
state: $tmp/bp-state/bench.state.db
connectors:
  in:  { plugin: file, path: "$input" }
  out: { plugin: file, path: "$bp_out" }
routes:
  r:
    from: in
    through:
      - set: { set: { data.status: received } }
    to: out
    batch: 1024
EOF

sng_conf="$tmp/syslog-ng-relay.conf"
[ -f "$here/syslog-ng-relay.conf.in" ] || die "missing $here/syslog-ng-relay.conf.in"
conf_text=$(<"$here/syslog-ng-relay.conf.in")
printf '%s\n' "${conf_text//@OUTPUT@/"$sng_out"}" > "$sng_conf"

# Snapshot of the build: the runs use copies taken now, so a `make build` running
# elsewhere during the benchmark cannot mix two versions into one set of medians.
# (backplane has RUNPATH $ORIGIN, so it finds the copied libbackplane.so.0.)
snap="$tmp/build-snapshot"
mkdir -p "$snap/core" "$snap/connectors" "$snap/plugins"
cp -L "$build/core/backplane" "$snap/core/backplane" || die "cannot copy $build/core/backplane"
cp -L "$build/core/libbackplane.so.0" "$snap/core/libbackplane.so.0" || die "cannot copy $build/core/libbackplane.so.0"
cp -L "$build/connectors/file/file.so" "$snap/connectors/file.so" || die "cannot copy the file connector"
cp -L "$build/plugins/set/set.so" "$snap/plugins/set.so" || die "cannot copy the set plugin"
bp="$snap/core/backplane"
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
"$bp" check "$site" >"$tmp/bp-check.log" 2>&1 \
  || { cat "$tmp/bp-check.log" >&2; die "backplane check rejected the generated site $site"; }
"$sng" --syntax-only -f "$sng_conf" >"$tmp/sng-check.log" 2>&1 \
  || { cat "$tmp/sng-check.log" >&2; die "syslog-ng rejected the generated config $sng_conf (json-parser missing? it is in syslog-ng-core's json plugin)"; }

# ---------------------------------------------------------------- input
echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)"
echo "== $("$bp" --version) (build $build, library built $build_info, source $git_head)"
echo "== syslog-ng $sng_version ($sng)"
echo "== generating $records records -> $input"
python3 "$here/gen_invoices.py" "$records" "$input"
sync -f "$input"

# ---------------------------------------------------------------- runs
time_fmt='BENCHTIME %e %U %S %M'

parse_time() {   # parse_time TIMEFILE TOOL RUN: append a results line
  local line
  line=$(grep '^BENCHTIME ' "$1" | tail -n 1) || die "no timing in $1"
  set -- $line "$2" "$3"
  # fields: BENCHTIME wall user sys rss_kb tool run
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$6" "$7" "$2" "$3" "$4" "$5" >> "$results"
  awk -v n="$records" -v w="$2" -v u="$3" -v s="$4" -v m="$5" -v t="$6" \
    'BEGIN { printf "   %-10s wall %7.2f s  %9.0f records/s  cpu %6.2f s (user %.2f, sys %.2f)  rss %6.1f MiB\n", t, w, (w > 0 ? n / w : 0), u + s, u, s, m / 1024 }'
}

verify() {   # verify TOOL OUTPUT: fail loudly unless OUTPUT is the relayed input
  python3 - "$1" "$2" "$input" "$records" <<'PY' || die "$1: output check failed (see above); output: $2"
import json, re, sys
tool, out, inp, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rx = re.compile(rb'"invoice_no":"INV-(\d+)"')
seen = bytearray(n + 1)
lines = with_field = dups = 0
for raw in open(out, "rb"):
    lines += 1
    if b'"status":"received"' in raw:
        with_field += 1
    m = rx.search(raw)
    if not m or not (1 <= int(m.group(1)) <= n):
        sys.exit(f"{tool}: line {lines} has no valid invoice_no: {raw[:200]!r}")
    k = int(m.group(1))
    if seen[k]:
        dups += 1
    seen[k] = 1
missing = n - sum(seen)
errs = []
if lines != n: errs.append(f"{lines} lines, expected {n}")
if with_field != n: errs.append(f"{n - with_field} records without \"status\":\"received\"")
if dups or missing: errs.append(f"{dups} duplicate and {missing} missing invoices")
if errs:
    sys.exit(f"{tool}: " + "; ".join(errs))
# Spot checks: 16 records spread over the file, first and last included, compared
# field by field with their input line (INV-k is input line k).
want = sorted({1, n} | {1 + (i * (n - 1)) // 15 for i in range(16)})
got = {}
for no, raw in enumerate(open(out, "rb"), 1):
    k = int(rx.search(raw).group(1))
    if k in want:
        got[k] = (no, json.loads(raw))
src = {}
for k, raw in enumerate(open(inp, "rb"), 1):
    if k in got:
        src[k] = json.loads(raw)
def same(a, b):  # syslog-ng turns numbers into strings and arrays into JSON text
    if isinstance(b, str) and isinstance(a, list):
        b = json.loads(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[x], b[x]) for x in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, (int, float)) and not isinstance(a, bool):
        try:
            return abs(float(b) - a) < 1e-6
        except (TypeError, ValueError):
            return False
    return a == b
for k in want:
    no, rec = got[k]
    expect = dict(src[k], status="received")
    if rec.get("status") != "received" or not same(expect, rec):
        sys.exit(f"{tool}: output line {no} (INV-{k:07d}) differs from input + status:\n"
                 f"  expected {json.dumps(expect)}\n  got      {json.dumps(rec)}")
print(f"   {tool}: verified {lines} lines, all with status=received, "
      f"{len(want)} records spot-checked against the input")
PY
}

run_backplane() {   # run_backplane RUN
  rm -rf -- "$bp_out" "$tmp/bp-state"; mkdir "$tmp/bp-state"; sync -f "$tmp"
  local tf="$tmp/time-backplane-$1.txt" log="$tmp/backplane-$1.log" rc=0
  "$gnu_time" -f "$time_fmt" -o "$tf" timeout --foreground "$timeout_s" "$bp" run "$site" >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 20 "$log" >&2
    [ "$rc" = 124 ] && die "backplane run $1 timed out after ${timeout_s}s (log: $log)"
    die "backplane run $1 exited with status $rc (log: $log)"
  fi
  sync -f "$tmp"   # nothing of this run left to write back during the next one
  parse_time "$tf" backplane "$1"
  verify backplane "$bp_out"
}

run_syslog_ng() {   # run_syslog_ng RUN
  rm -f -- "$sng_out" "$tmp/sng.persist" "$tmp/sng.pid" "$tmp/sng.ctl"; sync -f "$tmp"
  local tf="$tmp/time-syslog-ng-$1.txt" log="$tmp/syslog-ng-$1.log" rc=0
  # stdin must be a pipe: syslog-ng's stdin() source ends only then.
  cat "$input" | "$gnu_time" -f "$time_fmt" -o "$tf" \
    timeout --foreground "$timeout_s" "$sng" -F -e --no-caps -f "$sng_conf" \
      --persist-file="$tmp/sng.persist" --pidfile="$tmp/sng.pid" --control="$tmp/sng.ctl" \
      >"$log" 2>&1 || rc=$?
  if [ "$rc" != 0 ]; then
    tail -n 20 "$log" >&2
    [ "$rc" = 124 ] && die "syslog-ng run $1 timed out after ${timeout_s}s (log: $log)"
    die "syslog-ng run $1 exited with status $rc (log: $log)"
  fi
  sync -f "$tmp"
  parse_time "$tf" syslog-ng "$1"
  verify syslog-ng "$sng_out"
}

for ((i = 1; i <= runs; i++)); do
  echo "== run $i/$runs (load average $(cut -d' ' -f1-3 /proc/loadavg))"
  if (( i % 2 == 1 )); then
    run_backplane "$i"; run_syslog_ng "$i"
  else
    run_syslog_ng "$i"; run_backplane "$i"
  fi
done

# ---------------------------------------------------------------- summary
echo
python3 - "$results" "$records" "$runs" <<'PY'
import statistics, sys
path, n, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rows = {}
for line in open(path):
    tool, run, wall, user, sys_, rss = line.split("\t")
    wall, cpu = float(wall), float(user) + float(sys_)
    rows.setdefault(tool, []).append((wall, n / wall if wall > 0 else 0.0, cpu, int(rss) / 1024))
med = {t: [statistics.median(c) for c in zip(*r)] for t, r in rows.items()}
print(f"file relay, {n} records, median of {runs} run(s)")
print(f"{'tool':<11}{'wall s':>9}{'records/s':>12}{'cpu s (u+s)':>13}{'peak RSS MiB':>14}")
for t in ("backplane", "syslog-ng"):
    w, r, c, m = med[t]
    print(f"{t:<11}{w:>9.2f}{r:>12.0f}{c:>13.2f}{m:>14.1f}")
ratio = med["backplane"][1] / med["syslog-ng"][1]
cpu_ratio = med["backplane"][2] / med["syslog-ng"][2]
print(f"cpu backplane/syslog-ng: {cpu_ratio:.2f}x (user+sys seconds, median of {runs})")
print(f"ratio backplane/syslog-ng: {ratio:.2f}x (records/s, median of {runs})")
PY
