#!/usr/bin/env bash
# Runs the quickstart and shows what happened. `make demo` calls it after the
# build; run it from the repository root:
#   examples/quickstart/run.sh [BUILD_DIR]
# It starts from scratch each time: a fresh copy of the mails, a fresh ERP
# database (examples/quickstart/erp.sql) and a fresh state file, all under
# examples/quickstart/out/.
set -euo pipefail
build=${1:-build}
bp="$build/core/backplane"
# The build tree's own plugins and models are found from the binary's path
# (README "Install"), so no BP_PLUGIN_PATH is needed.
q=examples/quickstart
out=$q/out
[ -x "$bp" ] || { echo "run.sh: $bp not found: build first (make build)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/mail/cur" "$out/mail/tmp"
cp -r "$q/mail/new" "$out/mail/new"
sqlite3 "$out/erp.db" <"$q/erp.sql"

section() { printf '\n\033[1m== %s\033[0m\n' "$1"; }

section "8 invoice mails arrive in $out/mail/new; the bus reads them"
"$bp" run "$q/site.yaml" 2>"$out/run.log" || { cat "$out/run.log"; exit 1; }
grep -E "route finished|dead-lettered" "$out/run.log" | sed 's/^[^ ]* [a-z]* *//'

section "written back into the ERP (ap_invoices, through ODBC)"
sqlite3 -header -column "$out/erp.db" \
  "SELECT invoice_no, vendor, po_number, total, currency, status FROM ap_invoices ORDER BY invoice_no"

section "published to Kafka topic ap.invoices (in-process mock), as CloudEvents"
echo "$(sqlite3 "$out/quickstart.state.db" "SELECT value FROM route_stats WHERE name='records_out'") events, key = invoice number"

section "waiting for a person: backplane review list $q/site.yaml"
"$bp" review list "$q/site.yaml"

section "how the run went: backplane report $q/site.yaml"
"$bp" report "$q/site.yaml"

cat <<EOF

Next: look at a parked invoice and decide on it, e.g.
  $bp review show $q/site.yaml 1
  $bp review approve $q/site.yaml 1 --note "checked with the vendor"
  $bp review correct $q/site.yaml 2 --set data.invoice.total=8900.00
Only the site's owner delivers: while
\`$bp run $q/site.yaml\` runs, decisions go through it at once; with none running
they are recorded, and the next run sends approved records on to the ERP and Kafka.
EOF

# The review workbench (a web page served by the owner): a reviewer token, then
# the one command that serves the queue and the URL to open (the token travels
# in the fragment, which never reaches a server log).
token=$("$bp" token create "$q/site.yaml" --name demo-clerk --role reviewer 2>/dev/null | tail -n 1)
section "decide in the browser: the review workbench"
cat <<EOF
A reviewer token 'demo-clerk' was created. Serve the queue with
  $bp run $q/site.yaml --serve --admin-listen 127.0.0.1:8080
and open
  http://127.0.0.1:8080/#token=$token
EOF
