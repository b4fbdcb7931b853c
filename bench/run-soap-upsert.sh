#!/usr/bin/env bash
# SOAP upsert benchmark: backplane's SOAP sink vs curl --parallel, same node-soap
# server, same request bodies, same run.
#
#   make build && bench/run-soap-upsert.sh [--records N] [--runs N] [--concurrency N] [--build DIR]
#
# N contacts (default 20000) are upserted into the node-soap CRM of the tests
# (tests/soap/crm_server.js, npm soap 1.13.0 installed into the build tree) with
# UpsertContact, at most C (default 8) calls in flight: once by backplane (file
# source -> soap sink, keep-alive connections, one call per record) and once by
# `curl --parallel --parallel-max C` posting the same envelopes from a config
# file. Each measurement gets a fresh server; order alternates between runs.
# Every run is verified: all N calls answered 200, and GetContacts returns N
# contacts afterwards. Prints both rates (median of runs) and
#   ratio backplane/curl: X.XX (records/s, median of N)
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
records=20000
runs=3
conc=8
build="$repo/build"
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --records) [ $# -ge 2 ] || die "--records needs a value"; records=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a value"; runs=$2; shift 2 ;;
    --concurrency) [ $# -ge 2 ] || die "--concurrency needs a value"; conc=$2; shift 2 ;;
    --build) [ $# -ge 2 ] || die "--build needs a value"; build=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$records" =~ ^[1-9][0-9]*$ ]] || die "--records must be a positive integer"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
[[ "$conc" =~ ^[1-9][0-9]*$ ]] || die "--concurrency must be a positive integer"
build=$(cd "$build" 2>/dev/null && pwd) || die "build directory not found: $build (run 'make build' first)"
bp="$build/core/backplane"
[ -x "$bp" ] || die "$bp not found: run 'make build' first"
[ -f "$build/connectors/soap/soap.so" ] || die "soap connector not built: run 'make build'"
command -v curl >/dev/null || die "curl is needed"
command -v node >/dev/null || die "node is needed (make deps installs it)"
curl --help all 2>/dev/null | grep -q -- --parallel-max || die "this curl has no --parallel-max"
NODE_PATH=$("$repo/tests/soap/node-setup.sh" "$build/tests/soap-node") || die "cannot install node-soap"
export NODE_PATH

work=$(mktemp -d "$build/bench-soap.XXXXXX")
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
cd "$work"

. "$repo/tests/soap/crm.sh"
start_server() {
  crm_start crm "$work/server" --port 0
  server_pid=$crm_PID port=$crm_PORT
  [ -n "$port" ] || die "node-soap server did not start: $(cat "$work/server.err")"
}
stop_server() { crm_stop "$server_pid"; server_pid=""; }
count_contacts() {
  curl -s -H 'Content-Type: text/xml; charset=utf-8' --data-binary \
    '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetContacts xmlns="urn:example:crm"><modifiedSince>1970-01-01T00:00:00Z</modifiedSince></GetContacts></soap:Body></soap:Envelope>' \
    "http://127.0.0.1:$port/crm" | grep -o '<Contact>' | wc -l
}
now() { date +%s.%N; }

# The records, and for curl the envelopes backplane builds from them.
python3 - "$records" <<'PY'
import json, sys
from xml.sax.saxutils import escape
n = int(sys.argv[1])
with open("in.jsonl", "w") as f, open("bodies.txt", "w") as b:
    for i in range(n):
        r = {"id": "B%06d" % i, "name": "Bench & Contact <%d>" % i, "email": "b%d@example.com" % i,
             "score": i % 100, "active": i % 2 == 0}
        f.write(json.dumps(r) + "\n")
        body = ('<?xml version="1.0" encoding="UTF-8"?>\n<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">'
                '<soap:Body><UpsertContact xmlns="urn:example:crm"><Contact><Id>%s</Id><Name>%s</Name>'
                '<Email>%s</Email><Score>%d</Score><Active>%s</Active></Contact></UpsertContact></soap:Body></soap:Envelope>\n'
                % (r["id"], escape(r["name"]), r["email"], r["score"], "true" if r["active"] else "false"))
        b.write(body.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + "\n")
PY

curl_config() {   # one request per body, same headers as backplane's
  python3 - "$port" <<'PY'
import sys
port = sys.argv[1]
with open("bodies.txt") as b, open("curl.cfg", "w") as c:
    for line in b:
        c.write('url = "http://127.0.0.1:%s/crm"\n' % port)
        c.write('header = "Content-Type: text/xml; charset=utf-8"\n')
        c.write('header = "SOAPAction: \\"urn:example:crm/UpsertContact\\""\n')
        c.write('header = "Expect:"\n')
        c.write('data-binary = "%s"\n' % line.rstrip("\n"))
        c.write('output = "/dev/null"\nwrite-out = "%{http_code}\\n"\nnext\n')
PY
  sed -i '$ d' curl.cfg   # no empty entry after the last "next"
}

run_backplane() {
  cat >site.yaml <<YAML
site: bench
state: $work/bench.db
connectors:
  in: { plugin: file, path: $work/in.jsonl }
  crm:
    plugin: soap
    endpoint: "http://127.0.0.1:$port/crm"
    namespace: "urn:example:crm"
    operation: UpsertContact
    soap_action: "urn:example:crm/UpsertContact"
    concurrency: $conc
    request: { Contact/Id: data.id, Contact/Name: data.name, Contact/Email: data.email,
               Contact/Score: data.score, Contact/Active: data.active }
routes:
  r: { from: in, to: crm }
YAML
  rm -f bench.db*
  local t0 t1
  t0=$(now)
  BP_PLUGIN_PATH="$build/connectors" "$bp" run site.yaml 2>bp.log
  t1=$(now)
  echo "$t0 $t1" >times.txt
  grep -q "route finished: $records in, $records out, 0 dropped, 0 parked, 0 dead-lettered" bp.log ||
    die "backplane did not deliver all $records: $(tail -n 3 bp.log)"
}

run_curl() {
  curl_config
  local t0 t1
  t0=$(now)
  curl -s --no-progress-meter --parallel --parallel-max "$conc" -K curl.cfg >codes.txt
  t1=$(now)
  echo "$t0 $t1" >times.txt
  local good; good=$(grep -c '^200$' codes.txt || true)
  [ "$good" -eq "$records" ] || die "curl: $good of $records calls answered 200 ($(sort codes.txt | uniq -c | tr '\n' ' '))"
}

measure() {   # measure WHO: sets rate (records/s)
  start_server
  "run_$1"
  local n; n=$(count_contacts)
  [ "$n" -eq "$records" ] || die "$1: the server holds $n contacts, not $records"
  stop_server
  rate=$(python3 -c "import sys; t0, t1 = map(float, open('times.txt').read().split()); print('%.0f' % (int(sys.argv[1]) / (t1 - t0)))" "$records")
}

bp_rates=(); curl_rates=()
for r in $(seq "$runs"); do
  if [ $((r % 2)) -eq 1 ]; then
    measure backplane; b=$rate; measure curl; c=$rate
  else
    measure curl; c=$rate; measure backplane; b=$rate
  fi
  echo "run $r: backplane $b records/s, curl $c records/s"
  bp_rates+=("$b"); curl_rates+=("$c")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
mb=$(median "${bp_rates[@]}"); mc=$(median "${curl_rates[@]}")
echo "backplane: $mb records/s (median of $runs, $records upserts, concurrency $conc)"
echo "curl --parallel: $mc records/s (median of $runs)"
python3 -c "import sys; print('ratio backplane/curl: %.2f (records/s, median of %s)' % (float(sys.argv[1]) / float(sys.argv[2]), sys.argv[3]))" "$mb" "$mc" "$runs"
