#!/usr/bin/env bash
# ODBC relay benchmark: table -> envelope -> table through backplane, against
# the bulk-load ceiling of the same database in the same run.
#
#   make build && bench/run-odbc-relay.sh [--rows N] [--runs N] [--db sqlite|pg|both]
#                                         [--build DIR] [--keep]
#
# N invoice rows (id, invoice_no, vendor, total numeric, created timestamp,
# note) are loaded once into a source table. Each run then measures, on a
# fresh destination table each time:
#   ceiling   the database's own bulk loader on the same rows as CSV
#             (PostgreSQL: psql \copy; SQLite: the sqlite3 shell's .import)
#   backplane odbc source (incrementing, row arrays) -> odbc sink (insert),
#             with the sink's batch strategies: multirow (the default for
#             insert), array (SQL_ATTR_PARAMSET_SIZE) and single (one
#             statement per row: the row-by-row floor)
# Every destination is checked (N rows, each id once).
# Prints medians of rows/s and the ratios to the ceiling:
#   ratio backplane/ceiling (DB): X.XX (rows/s, median of N)
# PostgreSQL 15 is started here (a fresh cluster in the temp dir, fsync off,
# random loopback port), as in tests/e2e/odbc.sh.
set -euo pipefail

prog=${0##*/}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/.." && pwd)
rows=200000
runs=3
dbs="sqlite pg"
build="$repo/build"
keep=0
die() { echo "$prog: error: $*" >&2; exit 1; }
usage() { sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --rows) [ $# -ge 2 ] || die "--rows needs a value"; rows=$2; shift 2 ;;
    --runs) [ $# -ge 2 ] || die "--runs needs a value"; runs=$2; shift 2 ;;
    --db) [ $# -ge 2 ] || die "--db needs a value"
          case "$2" in sqlite|pg) dbs=$2 ;; both) dbs="sqlite pg" ;; *) die "--db: sqlite, pg or both" ;; esac
          shift 2 ;;
    --build) [ $# -ge 2 ] || die "--build needs a value"; build=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) usage >&2; die "unknown argument: $1" ;;
  esac
done
[[ "$rows" =~ ^[1-9][0-9]*$ ]] || die "--rows must be a positive integer"
[[ "$runs" =~ ^[1-9][0-9]*$ ]] || die "--runs must be a positive integer"
build=$(cd "$build" 2>/dev/null && pwd) || die "build directory not found (run 'make build')"
bp="$build/core/backplane"
[ -x "$bp" ] || die "$bp not found: run 'make build'"
[ -x /usr/bin/time ] || die "GNU time (/usr/bin/time) is needed: apt-get install time"
[ -f "$build/connectors/odbc/odbc.so" ] || die "odbc connector not built: run 'make build' (needs unixodbc-dev)"
command -v sqlite3 >/dev/null || die "sqlite3 is needed (make deps)"
odbc_lib=$(dirname "$(find /usr/lib -name libsqlite3odbc.so -print -quit 2>/dev/null)")
[ "$odbc_lib" != . ] || die "libsqliteodbc is not installed (make deps)"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bp-bench-odbc.XXXXXX")
. "$repo/tests/e2e/odbc_pg.sh"
cleanup() {
  local rc=$?
  trap - EXIT
  pg_stop || true
  if [ "$keep" = 1 ]; then echo "kept: $tmp"; else rm -rf -- "$tmp"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
[[ "$tmp" =~ ^[A-Za-z0-9/._+-]+$ ]] || die "temp dir path '$tmp' has unusual characters; set TMPDIR"
cat >"$tmp/odbcinst.ini" <<INI
[SQLite3]
Driver=$odbc_lib/libsqlite3odbc.so
[PG]
Driver=$odbc_lib/psqlodbca.so
INI
export ODBCSYSINI=$tmp BP_PLUGIN_PATH="$build/connectors"

python3 - "$rows" >"$tmp/rows.csv" <<'PY'
import sys
for i in range(1, int(sys.argv[1]) + 1):
    print('%d,INV-%07d,Vendor %d,%d.%02d,2024-%02d-%02d 10:%02d:%02d,"note, with comma %d"'
          % (i, i, i % 997, i % 10000, i % 100, 1 + i % 12, 1 + i % 28, i % 60, (i * 7) % 60, i))
PY
expect="$rows $rows $((rows * (rows + 1) / 2))"

now() { date +%s.%N; }
rate() { python3 -c "print('%.0f' % ($rows / ($2 - $1)))"; }
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
ddl="(id bigint PRIMARY KEY, invoice_no text, vendor text, total numeric(12,2), created timestamp, note text)"

for db in $dbs; do
  if [ "$db" = pg ]; then
    pg_start "$tmp/pg" >/dev/null || die "cannot start PostgreSQL"
    dsn_src="Driver=PG;Server=127.0.0.1;Port=$PG_PORT;Database=bp;Uid=postgres"
    dsn_dst=$dsn_src
    q() { pg_sql "$@"; }
    q -c "CREATE TABLE src $ddl" -c "\\copy src FROM '$tmp/rows.csv' WITH (FORMAT csv)"
    peer="psql \\copy"
  else
    dsn_src="Driver=SQLite3;Database=$tmp/src.db"
    q() { sqlite3 -batch "$tmp/dst.db" "$@"; }
    sqlite3 -batch "$tmp/src.db" "CREATE TABLE src $ddl;" ".mode csv" ".import $tmp/rows.csv src"
    peer="sqlite3 .import"
  fi
  for ((r = 1; r <= runs; r++)); do
    # ceiling
    t=ceil_$r
    echo "CREATE TABLE $t $ddl;" | q
    t0=$(now)
    if [ "$db" = pg ]; then q -c "\\copy $t FROM '$tmp/rows.csv' WITH (FORMAT csv)"
    else q ".mode csv" ".import $tmp/rows.csv $t"; fi
    t1=$(now)
    echo "$db ceiling $(rate "$t0" "$t1")" >>"$tmp/results"
    for how in multirow array single; do
      t=dst_${how}_$r
      [ "$db" = sqlite ] && dsn_dst="Driver=SQLite3;Database=$tmp/dst.db"
      echo "CREATE TABLE $t $ddl;" | q
      cat >"$tmp/$t.yaml" <<YAML
site: bench
state: $tmp/$db-$t.state.db
connectors:
  a: { plugin: odbc, dsn: "$dsn_src" }
  b: { plugin: odbc, dsn: "$dsn_dst" }
routes:
  relay:
    from: { a: { table: src, mode: incrementing, column: id, follow: false, batch_rows: 1000, max_rows: 50000 } }
    to: { b: { table: $t, mode: insert, bind: $how } }
    batch: 2000
YAML
      t0=$(now)
      /usr/bin/time -f "%U %S" -o "$tmp/$t.cpu" "$bp" run "$tmp/$t.yaml" >"$tmp/$t.log" 2>&1 ||
        { tail -n 5 "$tmp/$t.log"; die "$db $how: backplane failed"; }
      t1=$(now)
      got=$(echo "SELECT count(*) || ' ' || count(DISTINCT id) || ' ' || sum(id) FROM $t;" | q)
      [ "$got" = "$expect" ] || die "$db $how: destination has '$got' (rows, distinct, sum of ids), want '$expect'"
      echo "$db $how $(rate "$t0" "$t1") $(awk '{ print $1 + $2 }' "$tmp/$t.cpu")" >>"$tmp/results"
      echo "DROP TABLE $t;" | q
    done
    echo "DROP TABLE ceil_$r;" | q
  done
  [ "$db" = pg ] && pg_stop
  c=$(awk -v d="$db" '$1 == d && $2 == "ceiling" { print $3 }' "$tmp/results" | median)
  echo "== $db: $rows rows, median of $runs run(s), rows/s"
  printf '  %-22s %10s\n' "ceiling ($peer)" "$c"
  for how in multirow array single; do
    v=$(awk -v d="$db" -v h="$how" '$1 == d && $2 == h { print $3 }' "$tmp/results" | median)
    cpu=$(awk -v d="$db" -v h="$how" '$1 == d && $2 == h { print $4 }' "$tmp/results" | median)
    printf '  %-22s %10s   %.2f of the ceiling   (backplane CPU %.2f s = %.1f us/row)\n' "backplane, $how" "$v" \
      "$(python3 -c "print($v / $c)")" "$cpu" "$(python3 -c "print($cpu * 1e6 / $rows)")"
    [ "$how" = multirow ] && best=$v
    [ "$how" = single ] && floor=$v
  done
  printf 'ratio backplane/ceiling (%s): %.2f (rows/s, median of %d); floor (row by row) %.2f\n' \
    "$db" "$(python3 -c "print($best / $c)")" "$runs" "$(python3 -c "print($floor / $c)")"
done
