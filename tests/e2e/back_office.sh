#!/usr/bin/env bash
# examples/back-office/run.sh as a user runs it: Dovecot, PostgreSQL 15,
# a Kafka broker process and the node-soap CRM started by the script; the
# quickstart's mails read over IMAP. Asserts on what each server holds
# afterwards (read with its own client: psql, kcat, a SOAP GetContacts), the
# review queue with its reasons, and that a person's approval reaches all three
# sinks while the servers are still up. Everything runs under $TMP.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
[ "$(id -u)" = 0 ] || { echo "1..0 # SKIP needs root (initdb as postgres, Dovecot as nobody)"; exit 0; }
for c in dovecot psql node kcat curl; do
    command -v "$c" >/dev/null || { echo "Bail out! $c is not installed"; exit 1; }
done
export BACKOFFICE_OUT=$TMP/out
# While the servers are up: approve the PO mismatch (price increase agreed),
# then read each server again with its own client.
cat >after.sh <<'SH'
set -u
cd "$BACKOFFICE_OUT"
seq=$("$BACKPLANE" review list "$SITE" | awk '/AW-5502/ { print $1; exit }')
# Only the owner delivers: start it (its IMAP source polls until stopped),
# approve through its control socket, stop it.
"$BACKPLANE" run "$SITE" 2>owner.log &
owner=$!
for _ in $(seq 1 100); do "$BACKPLANE" status "$SITE" 2>/dev/null | grep -q "owner pid" && break; sleep 0.1; done
"$BACKPLANE" review approve "$SITE" "$seq" --note "price increase agreed" --wait 60 >approve.out 2>&1
echo "approve exit $?" >>approve.out
kill -TERM $owner; wait $owner
psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U bp -d erp \
    -c "SELECT invoice_no, total, status FROM ap_invoices ORDER BY invoice_no" >ap_after.txt
kcat -b "$KAFKA" -C -t ap.invoices -o beginning -e -q -f '%k\n' >keys_after.txt
curl -s -H 'Content-Type: text/xml' --data-binary '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetContacts xmlns="urn:example:crm"><modifiedSince>1970-01-01T00:00:00Z</modifiedSince></GetContacts></soap:Body></soap:Envelope>' \
    "http://127.0.0.1:$CRM_PORT/crm" >contacts_after.xml
SH
export BACKOFFICE_AFTER="bash $TMP/after.sh" BACKPLANE=$B
start=$(date +%s)
exit_is "run.sh starts the servers, runs the site, stops them" 0 \
    "$BP_SOURCE_ROOT/examples/back-office/run.sh" "$BP_BUILD_ROOT"
echo "# run.sh took $(($(date +%s) - start)) s"
cp "$OUT" demo.txt
cp "$ERR" demo.err
O=$BACKOFFICE_OUT

contains "Dovecot came up" demo.txt "Dovecot      imap://127.0.0.1:"
contains "PostgreSQL came up" demo.txt "PostgreSQL   127.0.0.1:"
contains "the Kafka broker came up" demo.txt "Kafka        127.0.0.1:"
contains "the CRM came up" demo.txt "CRM          http://127.0.0.1:"
contains "8 mails in over IMAP, 3 automated, 4 parked, 1 dead-lettered" demo.txt \
  "route finished: 8 in, 3 out, 0 dropped, 4 parked, 1 dead-lettered"
contains "the file that is not a mail is dead-lettered with its IMAP UID" demo.txt \
  "INBOX UID 8: malformed message: not RFC 5322"
contains "every mail left INBOX: 7 to Processed, 1 to Rejected" demo.txt "INBOX: 0 left; Processed: 7, Rejected: 1"

# PostgreSQL, as psql printed it.
contains "a mail-body invoice is in PostgreSQL" demo.txt \
  " NW-10231    | NORTHWIND TRADERS LTD      | PO-1001   | 1250.00 | EUR      | ready_for_payment"
contains "a PDF invoice is in PostgreSQL (NUMERIC(12,2))" demo.txt \
  " CT-2026-118 | CONTOSO OFFICE SUPPLY GMBH | PO-1002   |  482.40 | EUR"
contains "3 rows in ap_invoices" demo.txt "(3 rows)"

# Kafka, as kcat read it.
[ "$(wc -l <"$O/events.tsv")" -eq 3 ] && ok "kcat reads 3 events from ap.invoices" \
  || not_ok "kcat reads 3 events (got $(wc -l <"$O/events.tsv"))"
contains "keyed by invoice number, binary CloudEvents" demo.txt \
  "key=FP-7781      ce_type=com.backplane.mail ce_id=quickstart-03@example.com total=3120.75 EUR"
lacks "no parked invoice was published" "$O/events.tsv" "AW-5502"

# The CRM, as GetContacts answered over SOAP.
contains "the vendor of an automated invoice is a CRM contact" demo.txt \
  "billing@contoso.example      CONTOSO OFFICE SUPPLY GMBH   active=true"
[ "$(grep -c 'active=true' demo.txt)" -eq 3 ] && ok "3 vendors in the CRM" \
  || not_ok "3 vendors in the CRM (got $(grep -c 'active=true' demo.txt))"
lacks "no parked vendor reached the CRM" demo.txt "billing@adventure.example"

# The review queue with its reasons, and the report.
contains "the duplicate waits, with the earlier invoice named" demo.txt \
  "possible_duplicate: exact duplicate of NW-10231"
contains "the PO mismatch waits, with both totals (PO total from PostgreSQL)" demo.txt \
  "po_mismatch: invoice total 9800, PO total 8900"
contains "the unknown PO waits" demo.txt "po_missing: PO PO-2999 not found by erp/purchase_order"
contains "the unreadable scan waits" demo.txt "unreadable: no invoice number or total could be read"
contains "the report gives the straight-through rate" demo.txt "8          3             37.5%"
lacks "the mail password never reaches the run log" "$O/run.log" "s3cret-pass"
lacks "the ERP password never reaches the run log" "$O/run.log" "erp-demo-pass"

# The approval, made while the servers were up, reached all three sinks.
contains "the approval is delivered" "$O/approve.out" "delivered"
contains "approve exits 0" "$O/approve.out" "approve exit 0"
contains "the approved invoice is in PostgreSQL" "$O/ap_after.txt" "AW-5502|9800.00|ready_for_payment"
[ "$(wc -l <"$O/ap_after.txt")" -eq 4 ] && ok "4 rows in ap_invoices after the approval" \
  || not_ok "4 rows after the approval (got $(wc -l <"$O/ap_after.txt"))"
contains "its event is on the topic" "$O/keys_after.txt" "AW-5502"
contains "its vendor is in the CRM" "$O/contacts_after.xml" "ADVENTURE WORKS INC"

# Every server was stopped: nothing listens on the ports run.sh printed.
ports=$(grep -oE '127\.0\.0\.1:[0-9]+' demo.txt | sort -u | cut -d: -f2)
up=
for p in $ports; do (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && up="$up $p"; done
[ -n "$ports" ] && [ -z "$up" ] && ok "every server stopped when run.sh ended" \
  || not_ok "servers still listening on:$up"
finish
