#!/usr/bin/env bash
# AI transforms throughput: extract (receipts) and classify (tickets), on the
# shared labelled data, in one run.
#
#   make build && bench/run-ai.sh [--runs N] [--build DIR] [--data DIR] [--keep]
#
# Two figures per plugin, medians of RUNS:
#  * model: documents/s on one thread from text lines to fields (extract) or
#    from text to calibrated probabilities (classify), as printed by
#    `backplane eval ... --model` (it times only the prediction path);
#  * pipeline: records/s through `backplane run` with one worker: file source
#    -> the transform -> file sink (JSON parsing, envelopes, fsync included),
#    next to the same route with a `set` transform instead, and their ratio
#    (the cost of the model inside the bus).
# Targets (issue 8): extract >= 2,000 documents/s per core, classify >= 20,000.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
runs=3
build="$repo/build"
data="$repo/../shared/data"
keep=0
die() { echo "$prog: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
B="$build/core/backplane"
[ -x "$B" ] || die "$B not built (make build)"
[ -d "$data/sroie/train/box" ] || die "$data/sroie/train not found (--data DIR)"
[ -f "$data/tickets/train.jsonl" ] || die "$data/tickets/train.jsonl not found (--data DIR)"
export BP_PLUGIN_PATH="$build/connectors:$build/plugins"
tmp=$(mktemp -d)
[ "$keep" = 1 ] && echo "$prog: keeping $tmp" || trap 'rm -rf "$tmp"' EXIT
model="$repo/plugins/extract/models/sroie.model"

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

echo "== model throughput (one thread, median of $runs)"
for i in $(seq "$runs"); do
  "$B" eval extract --format sroie --model "$model" --data "$data/sroie/train" --quiet |
    awk '/^speed:/ {print $2}'
done >"$tmp/ex.speed"
"$B" train classify --data "$data/tickets/train.jsonl" --text text --label category \
  --out "$tmp/category.model" --quiet >/dev/null
for i in $(seq "$runs"); do
  "$B" eval classify --model "$tmp/category.model" --data "$data/tickets/train.jsonl" \
    --text text --label category --quiet | awk '/^speed:/ {print $2}'
done >"$tmp/cl.speed"
ex_model=$(median <"$tmp/ex.speed")
cl_model=$(median <"$tmp/cl.speed")
printf 'extract  model: %8.0f documents/s   (target >= 2000)\n' "$ex_model"
printf 'classify model: %8.0f records/s     (target >= 20000)\n' "$cl_model"

echo "== pipeline throughput (backplane run, one worker, median of $runs)"
# Receipts as records: {"lines": [{"text", "box"}...]}, the training set x16.
python3 - "$data/sroie/train/box" >"$tmp/receipts.jsonl" <<'PY'
import json, os, sys
d = sys.argv[1]
docs = []
for name in sorted(os.listdir(d)):
    lines = []
    for row in open(os.path.join(d, name), encoding="utf-8", errors="replace"):
        p = row.rstrip("\r\n").split(",", 8)
        if len(p) < 9 or not p[8].strip():
            continue
        xs, ys = [int(p[k]) for k in (0, 2, 4, 6)], [int(p[k]) for k in (1, 3, 5, 7)]
        lines.append({"text": p[8], "box": [min(xs), min(ys), max(xs), max(ys)]})
    docs.append(json.dumps({"doc": name, "lines": lines}))
for k in range(16):
    print("\n".join(docs))
PY
for k in 1 2 3 4 5; do cat "$data/tickets/train.jsonl"; done >"$tmp/tickets.jsonl"
run_site() { # NAME INPUT TRANSFORM -> records/s
  local name=$1 input=$2 tr=$3
  rm -f "$tmp/$name.out" "$tmp/$name.db"*
  cat >"$tmp/$name.yaml" <<YAML
site: $name
state: $tmp/$name.db
connectors:
  in: { plugin: file, path: $input }
  out: { plugin: file, path: $tmp/$name.out }
routes:
  r: { from: in, through: [ $tr ], to: out, workers: 1, batch: 256 }
YAML
  local n t0 t1
  n=$(wc -l <"$input")
  t0=$(date +%s.%N)
  "$B" run "$tmp/$name.yaml" 2>"$tmp/$name.log" || die "$name failed: $(tail -n 3 "$tmp/$name.log")"
  t1=$(date +%s.%N)
  [ "$(wc -l <"$tmp/$name.out")" -eq "$n" ] || die "$name: $n in, $(wc -l <"$tmp/$name.out") out"
  awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f\n", n / (b - a)}'
}
for i in $(seq "$runs"); do
  run_site ex "$tmp/receipts.jsonl" "{ extract: { model: $model } }" >>"$tmp/ex.pipe"
  run_site exbase "$tmp/receipts.jsonl" "{ set: { set: { data.seen: 1 } } }" >>"$tmp/exbase.pipe"
  run_site cl "$tmp/tickets.jsonl" "{ classify: { models: { category: $tmp/category.model } } }" >>"$tmp/cl.pipe"
  run_site clbase "$tmp/tickets.jsonl" "{ set: { set: { data.seen: 1 } } }" >>"$tmp/clbase.pipe"
done
grep -q '"total"' "$tmp/ex.out" || die "extract output lacks fields"
grep -q '"classified"' "$tmp/cl.out" || die "classify output lacks fields"
ex_pipe=$(median <"$tmp/ex.pipe"); exb=$(median <"$tmp/exbase.pipe")
cl_pipe=$(median <"$tmp/cl.pipe"); clb=$(median <"$tmp/clbase.pipe")
printf 'extract  pipeline: %8.0f records/s  (set only: %.0f; ratio extract/set: %.2fx; %d receipts)\n' \
  "$ex_pipe" "$exb" "$(awk -v a="$ex_pipe" -v b="$exb" 'BEGIN {print a / b}')" "$(wc -l <"$tmp/receipts.jsonl")"
printf 'classify pipeline: %8.0f records/s  (set only: %.0f; ratio classify/set: %.2fx; %d tickets)\n' \
  "$cl_pipe" "$clb" "$(awk -v a="$cl_pipe" -v b="$clb" 'BEGIN {print a / b}')" "$(wc -l <"$tmp/tickets.jsonl")"
