#!/usr/bin/env bash
# `backplane extract read` throughput on real PDF invoices (issue 19): N copies
# of the shared text-layer PDFs (../shared/data/invoices-real/pdf; the scan is
# timed apart, OCR being another order of cost), read from bytes to JSON lines
# with the shipped invoice model, on one core (taskset), median of RUNS.
#
#   make build && bench/run-extract-read.sh [--copies N] [--runs N] [--build DIR] [--data DIR]
#
# Prints documents/s (wall, median) and CPU ms per document (the command and
# its worker together: on a shared machine the CPU figure is the steadier
# one), and the scan's seconds. Target (issue 19): >= 100 PDF invoices/s per
# core. One worker serves all files (pdf_session); starting one per file
# costs ~25 ms each.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
copies=20
runs=3
build="$repo/build"
data="$repo/../shared/data/invoices-real"
die() { echo "$prog: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --copies) copies=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --build) build=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1" ;;
  esac
done
B="$build/core/backplane"
[ -x "$B" ] || die "$B not built (make build)"
[ -d "$data/pdf" ] || die "$data/pdf not found (--data DIR)"
export BP_PLUGIN_PATH="$build/connectors:$build/plugins"
export BP_PDF_WORKER="$build/connectors/mail/bp-pdf-text"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Which PDFs have a text layer: the scan reads with source "ocr".
"$B" extract read "$data"/pdf/*.pdf >"$tmp/probe.jsonl"
python3 - "$tmp/probe.jsonl" >"$tmp/kinds" <<'PY'
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    print(r["source"], r["file"])
PY
mkdir "$tmp/docs"
n=0
while read -r kind file; do
  [ "$kind" = pdf ] || { scan=$file; continue; }
  for i in $(seq "$copies"); do cp "$file" "$tmp/docs/$n.pdf"; n=$((n + 1)); done
done <"$tmp/kinds"
cpu=$(taskset -c 0 true 2>/dev/null && echo "taskset -c 0" || echo "")
results=()
for r in $(seq "$runs"); do
  # The command's own CPU and its children's (the workers) apart.
  /usr/bin/time -f "%e %U %S" -o "$tmp/time" $cpu python3 - "$B" "$tmp/docs" "$tmp/out.jsonl" "$tmp/rusage" <<'PY'
import os, resource, subprocess, sys, glob
b, d, out, ru = sys.argv[1:]
files = sorted(glob.glob(d + "/*.pdf"))
with open(out, "w") as f:
    subprocess.run([b, "extract", "read"] + files, stdout=f, check=True)
c = resource.getrusage(resource.RUSAGE_CHILDREN)
open(ru, "w").write("%f\n" % (c.ru_utime + c.ru_stime))
PY
  read -r wall _ _ <"$tmp/time"
  lines=$(wc -l <"$tmp/out.jsonl")
  [ "$lines" -eq "$n" ] || die "read $lines of $n documents"
  results+=("$wall")
done
med=$(printf '%s\n' "${results[@]}" | sort -n | sed -n "$(( (runs + 1) / 2 ))p")
# One more run for the CPU: the command and its reaped children (the worker).
python3 - "$B" "$tmp/docs" <<'PY' >"$tmp/split"
import subprocess, sys, glob, os
b, d = sys.argv[1:]
files = sorted(glob.glob(d + "/*.pdf"))
p = subprocess.Popen([b, "extract", "read"] + files, stdout=subprocess.DEVNULL)
_, status, ru = os.wait4(p.pid, 0)
print("%f" % (ru.ru_utime + ru.ru_stime))
PY
echo "documents: $n ($copies copies of $(grep -c '^pdf ' "$tmp/kinds") text PDFs), one core${cpu:+ ($cpu)}, median of $runs"
python3 - "$n" "$med" "$(cat "$tmp/split")" <<'PY'
import sys
n, wall, cpu = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
print("extract read: %.1f PDF invoices/s (%.2f ms wall, %.2f ms CPU per document, workers included)"
      % (n / wall, wall * 1000 / n, cpu * 1000 / n))
PY
if [ -n "${scan:-}" ]; then
  /usr/bin/time -f "%e" -o "$tmp/scan" "$B" extract read "$scan" >/dev/null
  echo "scan ($(basename "$scan"), OCR at 300 dpi): $(cat "$tmp/scan") s"
fi
