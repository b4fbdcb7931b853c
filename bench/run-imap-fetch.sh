#!/usr/bin/env bash
# IMAP fetch benchmark: backplane's imap source (mail -> envelope, PDF text
# included) vs a plain curl loop over the same UIDs, same Dovecot, same run.
#
#   make build && bench/run-imap-fetch.sh [--messages N] [--runs N] [--keep] [--build DIR]
#
# N messages (default 5000; every third an invoice with a 10 KB two-page PDF,
# the others ~400-byte plain mails) are seeded once into a Dovecot started
# here on loopback. Each run:
#   * curl: one `curl` process fetching imap://.../INBOX;UID=[1-N] over one
#     reused connection into files (raw bytes, no parsing);
#   * backplane: imap source (no write-back: seen false, keyword "") -> file
#     sink (jsonl, fsync off), fresh state each run; the clock stops when the
#     output has N lines.
# Prints per-run and median messages/s and MB/s (message bytes / wall time)
# and `ratio backplane/curl: X.XXx (messages/s, median of R)`. Checked: curl
# wrote N files; backplane wrote N records, N/3 with PDF page text.
set -euo pipefail
prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
messages=5000
runs=3
keep=0
build="$repo/build"
die() { echo "$prog: error: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --messages) messages=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --build) build=$2; shift 2 ;;
    -h|--help) sed -n '2,19p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1" ;;
  esac
done
[[ "$messages" =~ ^[1-9][0-9]*$ ]] || die "--messages must be a positive integer"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
build=$(cd "$build" 2>/dev/null && pwd) || die "build directory not found: $build"
bp="$build/core/backplane"
[ -x "$bp" ] || die "$bp not found: run 'make build' first"
[ -f "$build/connectors/mail/imap.so" ] || die "imap connector not built: run 'make build'"
for t in dovecot curl groff ps2pdf /usr/bin/python3; do command -v "$t" >/dev/null || die "$t is needed (make deps)"; done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-bench-imap.XXXXXX")
BP_SOURCE_ROOT=$repo
DOVECOT_PID=""
# shellcheck source=../tests/e2e/mail_lib.sh
. "$repo/tests/e2e/mail_lib.sh"
cleanup() {
  dovecot_stop
  if [ "$keep" = 1 ]; then echo "kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
# Plugins copied now: a build elsewhere during the benchmark cannot mix versions.
mkdir -p "$tmp/plugins"
cp "$build/connectors/mail/imap.so" "$build/connectors/file/file.so" "$tmp/plugins/"

port=$(free_port)
dovecot_conf "$tmp/dv" "$port"
make_pdf "$tmp/inv.pdf"
$SEED "$tmp/dv/home/ap/Maildir/new" --pdf "$tmp/inv.pdf" --bulk "$messages"
bytes=$(cat "$tmp"/dv/home/ap/Maildir/new/* | wc -c)
dovecot_start "$tmp/dv" "$port" || die "dovecot did not start (see $tmp/dv/dovecot.err)"
echo "== $messages messages, $bytes bytes, Dovecot $(dovecot --version | cut -d' ' -f1), $(curl --version | head -n1 | cut -d' ' -f1-2)"
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
url="imap://127.0.0.1:$port/INBOX"
# Dovecot indexes new mail at the first SELECT, and computes and caches sizes
# (RFC822.SIZE, asked for by backplane) and bodies on first use: one untimed
# pass of each tool first, so that neither pays for it.
curl -s -u ap:s3cret-pass "$url;UID=[1-$messages]" -o /dev/null

cat >"$tmp/site.yaml" <<YAML
site: bench
state: $tmp/state.db
connectors:
  mail: { plugin: imap, url: "$url", user: ap, password: s3cret-pass, tls: { mode: none },
          poll_interval: 50ms, seen: false, keyword: "" }
  out: { plugin: file, path: $tmp/out.jsonl, fsync: false }
routes:
  r: { from: mail, to: out, batch: 256 }
YAML

now() { echo "${EPOCHREALTIME/,/.}"; }
run_curl() {
  rm -rf "$tmp/curl" && mkdir -p "$tmp/curl"
  local t0 t1
  t0=$(now)
  curl -s -u ap:s3cret-pass "$url;UID=[1-$messages]" -o "$tmp/curl/#1.eml"
  t1=$(now)
  [ "$(ls "$tmp/curl" | wc -l)" -eq "$messages" ] || die "curl fetched $(ls "$tmp/curl" | wc -l) of $messages"
  echo "$t0 $t1" | awk '{print $2 - $1}'
}
run_bp() {
  rm -f "$tmp/out.jsonl" "$tmp"/state.db*
  local t0 t1 pid
  t0=$(now)
  "$bp" run "$tmp/site.yaml" --plugin-dir "$tmp/plugins" 2>>"$tmp/bp.log" &
  pid=$!
  while [ "$(count_lines "$tmp/out.jsonl")" -lt "$messages" ]; do
    kill -0 $pid 2>/dev/null || die "backplane exited early (see $tmp/bp.log)"
    sleep 0.02
  done
  t1=$(now)
  kill -TERM $pid; wait $pid || true
  [ "$(count_lines "$tmp/out.jsonl")" -eq "$messages" ] || die "backplane wrote $(count_lines "$tmp/out.jsonl") records"
  local pdfs want=$(( (messages + 2) / 3 ))
  pdfs=$(grep -c '"pages":\["ACME Supplies Ltd' "$tmp/out.jsonl" || true)
  [ "$pdfs" -eq "$want" ] || die "backplane extracted PDF text from $pdfs messages, want $want"
  echo "$t0 $t1" | awk '{print $2 - $1}'
}
reset_seen() { curl -s -u ap:s3cret-pass "$url" -X 'UID STORE 1:* -FLAGS.SILENT (\Seen)' >/dev/null; }

reset_seen
run_bp >/dev/null
declare -a tc tb
for r in $(seq "$runs"); do
  reset_seen
  if [ $((r % 2)) = 1 ]; then b=$(run_bp); reset_seen; c=$(run_curl); else c=$(run_curl); reset_seen; b=$(run_bp); fi
  tc+=("$c"); tb+=("$b")
  awk -v n="$messages" -v by="$bytes" -v b="$b" -v c="$c" -v r="$r" 'BEGIN {
    printf "run %d  backplane %.2fs %6.0f msg/s %6.2f MB/s | curl %.2fs %6.0f msg/s %6.2f MB/s\n",
      r, b, n / b, by / b / 1e6, c, n / c, by / c / 1e6 }'
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
mb=$(median "${tb[@]}"); mc=$(median "${tc[@]}")
awk -v n="$messages" -v by="$bytes" -v b="$mb" -v c="$mc" -v r="$runs" 'BEGIN {
  printf "median  backplane %6.0f msg/s %6.2f MB/s | curl %6.0f msg/s %6.2f MB/s\n", n / b, by / b / 1e6, n / c, by / c / 1e6
  printf "ratio backplane/curl: %.2fx (messages/s, median of %d)\n", c / b, r }'
