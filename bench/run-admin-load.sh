#!/usr/bin/env bash
# Admin listener under load (issue 22): does serving the control API over TCP
# cost the routes anything?
#
#   make build && bench/run-admin-load.sh [--records N] [--pairs N] [--clients N]
#                                          [--calls N] [--build DIR] [--keep]
#
# A file relay of N invoice-like records (bench/gen_invoices.py; a set
# transform; a review gate parking 0.01 %) runs PAIRS times with no client and
# PAIRS times while CLIENTS concurrent clients (keep-alive, bearer token) call
# GET /api/v1/status and GET /api/v1/review in turn over loopback TCP (one C
# event loop, admin_load_client.c, so the clients cost the relay little), paced
# so that about CALLS calls fall inside the relay and the clients are busy
# for all of it. Runs alternate (quiet, loaded / loaded, quiet ...). Prints
# per run: relay records/s (from the route's start and finish log lines),
# wall and CPU seconds of the owner, calls made and their latency; then the
# medians, the throughput change and the p99 latency over all loaded runs.
# Targets: p99 < 20 ms, throughput falls < 5 %. See bench/README.md.
set -euo pipefail
prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
records=300000 pairs=5 clients=16 calls=2000 keep=0 build="$repo/build"
die() { echo "$prog: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --pairs) pairs=$2; shift 2 ;;
    --clients) clients=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
build=$(cd "$build" && pwd) || die "no build directory"
bp="$build/core/backplane"
[ -x "$bp" ] || die "$bp not found: run 'make build' first"
[ -x /usr/bin/time ] || die "GNU time is needed (apt-get install time)"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-bench-admin.XXXXXX")
trap '[ "$keep" = 1 ] && echo "kept: $tmp" || rm -rf "$tmp"' EXIT
# A snapshot of the build, so a rebuild elsewhere cannot mix versions.
snap="$tmp/snap"
mkdir -p "$snap/core" "$snap/connectors" "$snap/plugins"
cp -L "$build/core/backplane" "$build/core/libbackplane.so.0" "$snap/core/"
cp -L "$build/connectors/file/file.so" "$snap/connectors/"
cp -L "$build/plugins/set/set.so" "$snap/plugins/"
bp="$snap/core/backplane"
export BP_PLUGIN_PATH="$snap/connectors:$snap/plugins"

python3 "$here/gen_invoices.py" "$records" "$tmp/in.jsonl" >/dev/null
site="$tmp/site.yaml"
cat >"$site" <<EOF
site: bench-admin
state: $tmp/state/bench.db
connectors:
  in:  { plugin: file, path: "$tmp/in.jsonl" }
  out: { plugin: file, path: "$tmp/out.jsonl" }
admin: { listen: "127.0.0.1:0" }
routes:
  r:
    from: in
    through:
      - set: { set: { data.status: received } }
    review: { when: "data.invoice_no matches '7777\$'" }
    to: out
    batch: 1024
EOF
mkdir -p "$tmp/state"
# One run of the owner to make the state file, then a viewer token.
"$bp" run "$site" >/dev/null 2>&1 || die "the first run failed"
"$bp" checkpoint reset "$site" r >/dev/null || die "checkpoint reset failed"
"$bp" token create "$site" --name bench --role viewer | tail -n 1 >"$tmp/token"
parked=$(sqlite3 "$tmp/state/bench.db" "SELECT count(*) FROM review_queue" 2>/dev/null || echo '?')

# The clients: one C event loop (libcurl multi), see admin_load_client.c.
cc -O2 -o "$tmp/clients" "$here/admin_load_client.c" -lcurl || die "cannot build the client (libcurl4-openssl-dev)"

# run MODE I: one relay; prints "MODE recs_per_s wall cpu calls p50 p99 errors".
run() {
  local mode=$1 i=$2 interval=${3:-0}
  rm -rf "$tmp/state/bench.db"* "$tmp/out.jsonl" "$tmp/port"
  cp "$tmp/state0.db" "$tmp/state/bench.db"
  local log="$tmp/run-$mode-$i.log" cpu="$tmp/cpu-$mode-$i"
  /usr/bin/time -f '%e %U %S' -o "$cpu" "$bp" run "$site" 2>"$log" &
  local pid=$!
  local cpid=
  if [ "$mode" = loaded ]; then
    /usr/bin/time -f '%U %S' -o "$tmp/ccpu-$i" \
      "$tmp/clients" "$tmp/port" "$(cat "$tmp/token")" "$clients" "$interval" "$tmp/lat-$i" &
    cpid=$!
  fi
  for _ in $(seq 1 500); do
    p=$(grep -o 'admin listener on http://127.0.0.1:[0-9]*' "$log" 2>/dev/null | sed 's/.*://')
    [ -n "$p" ] && { echo "$p" >"$tmp/port"; break; }
    sleep 0.01
  done
  wait "$pid" || die "run $mode $i failed: $(tail -3 "$log")"
  [ -z "$cpid" ] || wait "$cpid"
  python3 - "$log" "$cpu" "$mode" "${tmp}/lat-$i" "$records" "$tmp/ccpu-$i" <<'PY'
import re, sys, datetime, statistics, os
log, cpu, mode, latf, n = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
ccpu = 0.0
if mode == "loaded" and os.path.exists(sys.argv[6]):
    ccpu = sum(float(x) for x in open(sys.argv[6]).read().split()[-2:])
def t(line):
    return datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").timestamp()
start = end = None
for l in open(log):
    if "route started" in l: start = t(l)
    if "route finished" in l: end = t(l)
wall, user, sys_ = (float(x) for x in open(cpu).read().split()[-3:])
rps = n / (end - start)
calls = p50 = p99 = errs = 0
if mode == "loaded":
    lines = open(latf).read().split()
    errs = int(lines[0]); lat = sorted(float(x) for x in lines[1:])
    calls = len(lat)
    if lat:
        p50 = lat[len(lat) // 2]; p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
print("%s %.0f %.2f %.2f %d %.2f %.2f %d %.3f %.2f" % (mode, rps, wall, user + sys_, calls, p50, p99, errs, end - start, ccpu))
PY
}

cp "$tmp/state/bench.db" "$tmp/state0.db"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); $("$bp" --version)"
echo "== $records records, $parked parked in the queue review list returns; $clients clients, ~$calls calls per loaded relay, $pairs pairs"
# Pace the clients from a quiet relay's duration: CALLS calls inside it.
base=$(run quiet 0 | awk '{ print $9 }')
interval=$(python3 -c "print(round(max(0.0, 1000 * $clients * $base / $calls - 0.5), 1))")
echo "== quiet relay $base s: each client waits ${interval} ms between calls"
printf '%-7s %10s %7s %7s %6s %8s %8s %6s %8s\n' MODE 'RECORDS/S' WALL CPU CALLS 'P50 MS' 'P99 MS' ERRORS 'CLI CPU'
res="$tmp/results"
: >"$res"
for i in $(seq 1 "$pairs"); do
  if [ $((i % 2)) = 1 ]; then order="quiet loaded"; else order="loaded quiet"; fi
  for m in $order; do
    line=$(run "$m" "$i" "$interval")
    echo "$line" >>"$res"
    echo "$line" | awk '{ printf "%-7s %10s %7s %7s %6s %8s %8s %6s %8s\n", $1, $2, $3, $4, $5, $6, $7, $8, $10 }'
  done
done
python3 - "$res" "$tmp" "$pairs" <<'PY'
import statistics, sys, glob
rows = [l.split() for l in open(sys.argv[1])]
q = [float(r[1]) for r in rows if r[0] == "quiet"]
l = [float(r[1]) for r in rows if r[0] == "loaded"]
cq = [float(r[3]) for r in rows if r[0] == "quiet"]
cl = [float(r[3]) for r in rows if r[0] == "loaded"]
lat = []
errs = 0
for f in glob.glob(sys.argv[2] + "/lat-[1-9]*"):
    xs = open(f).read().split()
    errs += int(xs[0]); lat += [float(x) for x in xs[1:]]
lat.sort()
calls = [int(r[4]) for r in rows if r[0] == "loaded"]
mq, ml = statistics.median(q), statistics.median(l)
p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))] if lat else float("nan")
print("== medians of %s pairs: quiet %.0f records/s (CPU %.2f s), loaded %.0f records/s (CPU %.2f s)" %
      (sys.argv[3], mq, statistics.median(cq), ml, statistics.median(cl)))
print("== throughput change with clients: %+.1f %% (target: falls < 5 %%)" % (100 * (ml - mq) / mq))
print("== calls per loaded relay: median %d; all loaded runs: %d calls, %d errors, p50 %.2f ms, p99 %.2f ms (target < 20 ms)" %
      (statistics.median(calls), len(lat), errs, lat[len(lat) // 2] if lat else float("nan"), p99))
# What the clients cost in CPU, and what that means for the relay. The
# owner's CPU per call is its CPU growth with the clients over the calls made;
# the clients' own CPU is measured (GNU time). On a box with no idle core
# (other work runnable everywhere) that CPU is taken from someone: at worst
# all of it from the relay, a fall of extra / (relay CPU + extra). With a
# spare core it costs the relay nothing but lock and cache effects.
cc = [float(r[9]) for r in rows if r[0] == "loaded"]
wq = statistics.median([float(r[8]) for r in rows if r[0] == "quiet"])
d_owner = statistics.median(cl) - statistics.median(cq)
mc = statistics.median(calls)
extra = d_owner + statistics.median(cc)
print("== CPU: owner +%.2f s with the clients (%.0f us per call), clients %.2f s (%.0f us per call)" %
      (d_owner, 1e6 * d_owner / mc if mc else 0, statistics.median(cc), 1e6 * statistics.median(cc) / mc if mc else 0))
print("== the quiet relay used %.2f cores (%.2f CPU s in %.2f s); the clients add %.2f cores" %
      (statistics.median(cq) / wq, statistics.median(cq), wq, extra / wq))
print("== no idle core: worst-case fall %.1f %% (owner's part alone %.1f %%); 5 %% needs <= %.0f us per call of owner + clients" %
      (100 * extra / (statistics.median(cq) + extra), 100 * d_owner / (statistics.median(cq) + d_owner),
       1e6 * 0.05 / 0.95 * statistics.median(cq) / mc if mc else 0))
PY
