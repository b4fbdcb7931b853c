#!/usr/bin/env bash
# The quickstart exactly as `make demo` runs it (examples/quickstart/run.sh):
# invoice mails from a maildir -> extract -> dedupe -> match against the ERP
# (SQLite over ODBC) -> policy -> review gate -> ERP write-back + Kafka (mock).
# Asserts on what a newcomer sees, then decides on the parked invoices.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
mkdir -p examples plugins/extract/models
cp -r "$BP_SOURCE_ROOT/examples/quickstart" examples/
rm -rf examples/quickstart/out
cp "$BP_SOURCE_ROOT/plugins/extract/models/invoices.model" plugins/extract/models/
export BP_PLUGIN_PATH
exit_is "check passes on the quickstart" 0 "$B" check examples/quickstart/site.yaml
exit_is "the demo runs" 0 examples/quickstart/run.sh "$BP_BUILD_ROOT"
cp "$OUT" demo.txt
contains "8 mails in, 3 automated, 4 parked, 1 dead-lettered" demo.txt \
  "route finished: 8 in, 3 out, 0 dropped, 4 parked, 1 dead-lettered"
contains "the file that is not a mail is dead-lettered with the reason" demo.txt \
  "quickstart08.eml: malformed message: not RFC 5322"
contains "a mail-body invoice is written back to the ERP" demo.txt "NW-10231     NORTHWIND TRADERS LTD       PO-1001"
contains "a PDF invoice is written back to the ERP" demo.txt "CT-2026-118  CONTOSO OFFICE SUPPLY GMBH  PO-1002"
contains "with the status the route set" demo.txt "ready_for_payment"
contains "events published to the Kafka mock" demo.txt "3 events, key = invoice number"
contains "the duplicate waits for a person, with the earlier invoice named" demo.txt \
  "possible_duplicate: exact duplicate of NW-10231"
contains "the PO mismatch waits, with both totals" demo.txt "po_mismatch: invoice total 9800, PO total 8900"
contains "the unknown PO waits" demo.txt "po_missing: PO PO-2999 not found by erp/purchase_order"
contains "the unreadable scan waits" demo.txt "unreadable: no invoice number or total could be read"
contains "the report gives the straight-through rate" demo.txt "8          3             37.5%"
contains "the demo ends with the command that serves the workbench" demo.txt \
  "/core/backplane run examples/quickstart/site.yaml --serve --admin-listen 127.0.0.1:8080"
TOKEN=$(sed -n 's|^  http://127.0.0.1:8080/#token=||p' demo.txt)
[ ${#TOKEN} -ge 32 ] && ok "and the URL with a reviewer token in its fragment" \
  || not_ok "and the URL with a reviewer token in its fragment (got '$TOKEN')"
"$B" token list examples/quickstart/site.yaml >tok.txt 2>&1
contains "the token is a reviewer's" tok.txt "demo-clerk"
DB=examples/quickstart/out/erp.db
[ "$(sqlite3 $DB 'SELECT count(*) FROM ap_invoices')" = 3 ] && ok "3 rows in the AP table" \
  || not_ok "3 rows in the AP table (got $(sqlite3 $DB 'SELECT count(*) FROM ap_invoices'))"
[ -z "$(ls examples/quickstart/out/mail/new)" ] && ok "every mail left new/ (processed or dead-lettered)" \
  || not_ok "every mail left new/"

# A person approves the PO mismatch (price increase agreed) and rejects the duplicate.
seq_of() { "$B" review list examples/quickstart/site.yaml | awk -v s="$1" '$0 ~ s { print $1; exit }'; }
S_MM=$(seq_of AW-5502); S_DUP=$(seq_of "possible_duplicate")
exit_is "approve the PO mismatch" 0 "$B" review approve examples/quickstart/site.yaml "$S_MM" --note "price increase agreed"
cp "$OUT" appr.txt
contains "no owner runs: it is recorded" appr.txt "approved by $(id -un): recorded"
exit_is "reject the duplicate" 0 "$B" review reject examples/quickstart/site.yaml "$S_DUP" --reason "duplicate of NW-10231"
exit_is "the owner's next run carries both decisions out" 0 "$B" run examples/quickstart/site.yaml
contains "the approval is delivered by the owner" "$ERR" "review approve $S_MM by $(id -un): delivered"
[ "$(sqlite3 $DB "SELECT total FROM ap_invoices WHERE invoice_no='AW-5502'")" = 9800 ] \
  && ok "the approved invoice is in the ERP" || not_ok "the approved invoice is in the ERP"
"$B" report examples/quickstart/site.yaml >rep.txt
contains "the report counts the decisions (1 approved, 0 corrected, 1 rejected)" rep.txt "       4         1          0         1"
[ "$(sqlite3 $DB 'SELECT count(*) FROM ap_invoices')" = 4 ] && ok "4 rows in the AP table now" \
  || not_ok "4 rows in the AP table now"
finish
