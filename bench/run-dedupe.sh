#!/usr/bin/env bash
# Cost of duplicate detection: the same file relay with and without dedupe,
# same input, same run, for two vendor mixes.
#
#   make build && bench/run-dedupe.sh [--records N] [--runs N] [--build DIR]
#
# N invoices (vendor, number, amount, date) go file -> [dedupe] -> file. dedupe
# keeps one state-store key per vendor holding that vendor's fingerprints and
# writes it durably per record, so its cost grows with fingerprints per vendor:
# runs use N/2000 and N/50 per vendor. Prints records/s (median of RUNS) and
#   ratio dedupe/relay (V vendors): X.XXXx
# There is no outside peer for this: the plain relay is the reference.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
records=20000
runs=3
build="$here/../build"
while [ $# -gt 0 ]; do
  case "$1" in
    --records) records=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run-dedupe.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
[[ "$records" =~ ^[1-9][0-9]*$ && "$runs" =~ ^[1-9][0-9]*$ ]] || { echo "run-dedupe.sh: --records and --runs take positive integers" >&2; exit 2; }
bp="$build/core/backplane"
[ -x "$bp" ] && [ -f "$build/plugins/dedupe/dedupe.so" ] || { echo "run-dedupe.sh: build first (make build)" >&2; exit 1; }
export BP_PLUGIN_PATH="$build/connectors:$build/plugins"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run_once() {   # run_once THROUGH -> prints records/s
  rm -f "$work/s.db" "$work/out.jsonl"
  cat >"$work/s.yaml" <<YAML
site: bench
state: $work/s.db
connectors:
  in: { plugin: file, path: $work/in.jsonl }
  out: { plugin: file, path: $work/out.jsonl }
routes:
  r: { from: in, through: [ $1 ], to: out }
YAML
  local t0 t1
  t0=$(date +%s.%N)
  "$bp" run "$work/s.yaml" 2>"$work/log"
  t1=$(date +%s.%N)
  local n
  n=$(wc -l <"$work/out.jsonl")
  [ "$n" -eq "$records" ] || { echo "run-dedupe.sh: $n records out, want $records" >&2; cat "$work/log" >&2; exit 1; }
  python3 -c "print('%.0f' % ($records / ($t1 - $t0)))"
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

for vendors in 2000 50; do
  python3 - "$records" "$vendors" >"$work/in.jsonl" <<'PY'
import json, random, sys
n, v = int(sys.argv[1]), int(sys.argv[2])
random.seed(1)
for i in range(n):
    print(json.dumps({"vendor": "Vendor %d Sdn Bhd" % (i % v), "invoice_no": "INV-%07d" % i,
                      "total": round(random.uniform(10, 5000), 2),
                      "date": "2024-%02d-%02d" % (1 + i % 12, 1 + i % 28)}))
PY
  relay=() dedupe=()
  for _ in $(seq "$runs"); do
    dedupe+=("$(run_once "dedupe: {}")")
    relay+=("$(run_once "set: { set: { data.checked: true } }")")
  done
  r=$(printf '%s\n' "${relay[@]}" | median)
  d=$(printf '%s\n' "${dedupe[@]}" | median)
  echo "$vendors vendors ($((records / vendors)) invoices each): relay $r records/s, dedupe $d records/s"
  python3 -c "print('ratio dedupe/relay ($vendors vendors): %.3fx' % ($d / $r))"
done
