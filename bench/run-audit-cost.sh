#!/usr/bin/env bash
# Cost of the tamper-evident audit log (issue 18): the file relay of
# bench/run-file-relay.sh (file -> set data.status -> file, batch 1024) with
# `audit: all` (a Merkle leaf per record, signed checkpoints every 1000
# entries) against `audit: off`, and the default `audit: ai` (no AI transform:
# no leaf), alternating the order each run.
#
#   make build && bench/run-audit-cost.sh [--records N] [--runs N] [--build DIR]
#
# Prints the median wall and CPU (user+sys, GNU time) of each and the lines
#   audit all/off: +XX% (median of N alternating runs)
#   audit all/off cpu: +XX% (user+sys seconds, median of N)
# On a shared machine the CPU line is the stable one: wall time swings with
# other load (bench/README.md).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
records=200000
runs=3
build="$repo/build"
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-audit-cost.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$records" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "bad --records/--runs" >&2; exit 2; }
[ "$runs" -ge 3 ] || { echo "run-audit-cost.sh: --runs must be at least 3 (medians)" >&2; exit 2; }
gnu_time=/usr/bin/time
{ [ -x "$gnu_time" ] && "$gnu_time" --version 2>&1 | grep -q GNU; } ||
  { echo "run-audit-cost.sh: GNU time is needed at $gnu_time (Debian: time)" >&2; exit 1; }
bp="$build/core/backplane"
[ -x "$bp" ] || { echo "run-audit-cost.sh: $bp not found: run 'make build'" >&2; exit 1; }
export BP_PLUGIN_PATH="$build/connectors:$build/plugins"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/gen_invoices.py" "$records" "$tmp/in.jsonl" 2>/dev/null
"$bp" audit keygen "$tmp/audit.key" >/dev/null

site() {   # site MODE
  cat >"$tmp/$1.yaml" <<YAML
site: bench-audit-$1
state: $tmp/$1.db
audit: { signing_key: $tmp/audit.key, checkpoint_every: 1000 }
connectors:
  in:  { plugin: file, path: "$tmp/in.jsonl" }
  out: { plugin: file, path: "$tmp/$1.out" }
routes:
  r:
    from: in
    through:
      - set: { set: { data.status: received } }
    to: out
    batch: 1024
    audit: $1
YAML
}
one() {   # one MODE: prints milliseconds; appends CPU milliseconds to MODE.cpu
  rm -f "$tmp/$1.db" "$tmp/$1.db-wal" "$tmp/$1.db-shm" "$tmp/$1.out"
  local t0 t1
  t0=$(date +%s%N)
  "$gnu_time" -f '%U %S' -o "$tmp/$1.time" "$bp" run "$tmp/$1.yaml" >/dev/null 2>"$tmp/$1.err" ||
    { cat "$tmp/$1.err" >&2; exit 1; }
  t1=$(date +%s%N)
  awk '{ printf "%d\n", ($1 + $2) * 1000 }' "$tmp/$1.time" >>"$tmp/$1.cpu"
  local n
  n=$(wc -l <"$tmp/$1.out")
  [ "$n" -eq "$records" ] || { echo "run-audit-cost.sh: $1 wrote $n of $records" >&2; exit 1; }
  echo $(((t1 - t0) / 1000000))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
for m in all off ai; do site $m; : >"$tmp/$m.ms"; : >"$tmp/$m.cpu"; done
for i in $(seq 1 "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then order="all off ai"; else order="ai off all"; fi
  for m in $order; do one $m >>"$tmp/$m.ms"; done
done
all=$(median <"$tmp/all.ms"); off=$(median <"$tmp/off.ms"); ai=$(median <"$tmp/ai.ms")
call=$(median <"$tmp/all.cpu"); coff=$(median <"$tmp/off.cpu"); cai=$(median <"$tmp/ai.cpu")
leaves=$(sqlite3 "$tmp/all.db" "SELECT count(*) FROM audit_log" 2>/dev/null || echo "?")
ckpts=$(sqlite3 "$tmp/all.db" "SELECT count(*) FROM audit_checkpoints" 2>/dev/null || echo "?")
"$bp" audit verify "$tmp/all.yaml" >/dev/null || { echo "run-audit-cost.sh: verify failed" >&2; exit 1; }
echo "records: $records, runs: $runs (alternating)"
echo "audit: off  median ${off} ms ($(paste -sd' ' "$tmp/off.ms")), cpu ${coff} ms ($(paste -sd' ' "$tmp/off.cpu"))"
echo "audit: ai   median ${ai} ms ($(paste -sd' ' "$tmp/ai.ms")), cpu ${cai} ms ($(paste -sd' ' "$tmp/ai.cpu"))"
echo "audit: all  median ${all} ms ($(paste -sd' ' "$tmp/all.ms")), cpu ${call} ms ($(paste -sd' ' "$tmp/all.cpu")): $leaves leaves, $ckpts signed checkpoints, verify ok"
awk -v a="$all" -v o="$off" -v r="$runs" 'BEGIN { printf "audit all/off: %+.0f%% (median of %d alternating runs)\n", (a / o - 1) * 100, r }'
awk -v a="$call" -v o="$coff" -v r="$runs" 'BEGIN { printf "audit all/off cpu: %+.0f%% (user+sys seconds, median of %d)\n", (a / o - 1) * 100, r }'
