#!/usr/bin/env bash
# match end to end, against the lookup contract (fx_lookup answers from a
# JSON file; the ODBC connector answers the same calls from a database):
# matched, PO missing, closed, other vendor, totals and lines outside the
# tolerance; a failing lookup is retried (never a flag) and, when the ERP
# stays down, dead-lettered with the reason after the route's retries.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
cd "$TMP"

cat >erp.json <<'EOF'
{ "purchase_order": {
    "PO-1": { "po_number": "PO-1", "vendor": "Acme Trading Sdn Bhd", "status": "OPEN", "total": 1000,
              "lines": [ { "sku": "A", "amount": 600 }, { "sku": "B", "amount": "400.00" } ] },
    "PO-2": { "po_number": "PO-2", "vendor": "Acme Trading Sdn Bhd", "status": "closed", "total": 300 },
    "PO-3": [ { "po_number": "PO-3", "vendor": "Beta GmbH", "status": "open", "total": "500.00" } ]
  },
  "po_lines": {
    "PO-3": [ { "sku": "X", "amount": 300 }, { "sku": "Y", "amount": 200 } ]
  }
}
EOF
cat >in.jsonl <<'EOF'
{"ref": "ok", "vendor": "ACME TRADING", "po_number": "PO-1", "total": "1,000.40", "lines": [{"sku": "B", "amount": 400}, {"sku": "A", "amount": 600.2}]}
{"ref": "ok-nolines", "vendor": "Beta GmbH", "po_number": "PO-3", "total": 500}
{"ref": "missing", "vendor": "Acme Trading", "po_number": "PO-9", "total": 10}
{"ref": "nopo", "vendor": "Acme Trading", "total": 10}
{"ref": "closed", "vendor": "Acme Trading", "po_number": "PO-2", "total": 300}
{"ref": "total", "vendor": "Beta", "po_number": "PO-3", "total": 550}
{"ref": "lines", "vendor": "Acme Trading", "po_number": "PO-1", "total": 1000, "lines": [{"sku": "A", "amount": 500}, {"sku": "B", "amount": 500}]}
{"ref": "vendor", "vendor": "Gamma Ltd", "po_number": "PO-1", "total": 1000}
EOF
site() {   # site NAME LOOKUP-OPTIONS MATCH-OPTIONS [ROUTE-EXTRA]
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  erp: { plugin: fx_lookup, path: $TMP/erp.json $2 }
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/$1.out.jsonl }
routes:
  ap:
    from: in
    through:
      - set: { copy: { subject: data.ref } }
      - match: { lookup: erp, tolerance: 0.5 $3 }
    to: out
    audit: all
    errors: { retry: { max: 3, backoff: 10ms..40ms } }
    ${4:-}
YAML
}
report() {
    python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    m = d["po_match"]
    print(d["ref"], m["status"], m.get("difference", "-"), ",".join(f["flag"] for f in d.get("flags", [])),
          "|", " / ".join(f["reason"] for f in d.get("flags", [])))
PY
}

site m "" ""
exit_is "match route runs" 0 "$B" run m.yaml --plugin-dir "$FX"
report m.out.jsonl >m.txt
contains "all delivered (flag is the default action)" "$ERR" "8 in, 8 out"
contains "matched: vendor normalised, total and lines within 0.5, lines paired by sku" m.txt "ok matched 0.4  |"
contains "matched without lines (a lookup answering a list of rows)" m.txt "ok-nolines matched 0  |"
contains "PO not in the ERP" m.txt "missing missing - po_missing | PO PO-9 not found by erp/purchase_order"
contains "no PO number on the invoice" m.txt "nopo missing - po_missing | the invoice has no PO number (data.po_number)"
contains "closed PO (status compared without case)" m.txt "closed closed 0 po_closed | PO is closed"
contains "total outside the tolerance, with the difference" m.txt "total mismatch 50 po_mismatch | invoice total 550, PO total 500 (difference 50)"
contains "a line outside the tolerance" m.txt "lines mismatch 0 po_line_mismatch | line 1 (A): 500 on the invoice, 600 on the PO"
contains "another vendor" m.txt "vendor mismatch 0 vendor_mismatch | invoice vendor 'Gamma Ltd', PO vendor 'Acme Trading Sdn Bhd'"
sqlite3 m.db "SELECT payload FROM audit_log WHERE kind='ai' AND subject='ok'" >lin.txt
contains "lineage with the vendor agreement as confidence" lin.txt '"plugin":"match","version":"1.0.0","confidence":1,"changed":"data.po_match"'

# Lines from their own query (an ERP keeps them in another table).
cat >inq.jsonl <<'EOF'
{"ref": "q-ok", "vendor": "Beta", "po_number": "PO-3", "total": 500, "lines": [{"sku": "Y", "amount": 200}, {"sku": "X", "amount": 300}]}
{"ref": "q-bad", "vendor": "Beta", "po_number": "PO-3", "total": 500, "lines": [{"sku": "X", "amount": 300}, {"sku": "Z", "amount": 200}]}
{"ref": "q-none", "vendor": "Beta", "po_number": "PO-3", "total": 500}
EOF
site q "" ", lines_query: po_lines"
sed -i "s|$TMP/in.jsonl|$TMP/inq.jsonl|" q.yaml
exit_is "lines_query" 0 "$B" run q.yaml --plugin-dir "$FX"
report q.out.jsonl >q.txt
contains "lines from the lines query agree" q.txt "q-ok matched 0  |"
contains "a line not on the PO" q.txt "q-bad mismatch 0 po_line_mismatch | line 2 (sku Z) is not on the PO"
contains "no invoice lines: no lines lookup, matched" q.txt "q-none matched 0  |"

# when: only invoices with a PO number are matched.
site w "" ", when: \"exists data.po_number\""
exit_is "match with when" 0 "$B" run w.yaml --plugin-dir "$FX"
python3 - w.out.jsonl >w.txt <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(d["ref"], d.get("po_match", {}).get("status", "untouched"))
PY
contains "outside when: untouched" w.txt "nopo untouched"
contains "inside when: matched" w.txt "ok matched"

# Percent tolerance, and action review: findings go to the review queue.
site pct "" ", tolerance_pct: 10, action: review"
exit_is "tolerance_pct 10, action review" 0 "$B" run pct.yaml --plugin-dir "$FX"
contains "10% takes the 550/500 total; the rest is parked" "$ERR" "8 in, 3 out, 0 dropped, 5 parked"
sqlite3 pct.db "SELECT json_extract(payload, '\$.subject') || ' | ' || reason FROM review_queue ORDER BY seq" >q.txt
contains "review reason: the first finding" q.txt "closed | po_closed: PO is closed"
lacks "within 10%" q.txt "total |"

# The ERP is busy twice: the record is retried, then matched (no flag).
site busy ", fail_first: 2" ""
exit_is "lookups failing twice" 0 "$B" run busy.yaml --plugin-dir "$FX"
contains "retried, then all delivered" "$ERR" "8 in, 8 out, 0 dropped, 0 parked, 0 dead-lettered, 2 retried"
report busy.out.jsonl >busy.txt
contains "the retried record matched, no flag from the failure" busy.txt "ok matched 0.4  |"

# The ERP stays down: every record retried, then dead-lettered with the reason.
touch down
site down ", down_file: $TMP/down" ""
exit_is "lookups failing until the retries run out" 0 "$B" run down.yaml --plugin-dir "$FX"
contains "retried 3 times each, then dead letters (only the invoice without a PO number needs no lookup)" "$ERR" "8 in, 1 out, 0 dropped, 0 parked, 7 dead-lettered, 21 retried"
sqlite3 down.db "SELECT reason FROM dead_letters ORDER BY seq LIMIT 1" >down.txt
contains "dead letter says why" down.txt "retry: lookup erp/purchase_order for PO PO-1: ERP unreachable (fixture:"
contains "... and after how many attempts, as a sink's would (one retry policy)" down.txt "gave up after 4 attempts: retry: lookup erp/purchase_order"

# A query the connector does not have: refused (dead-lettered), not retried forever.
site noq "" ", query: invoices"
exit_is "unknown query" 0 "$B" run noq.yaml --plugin-dir "$FX"
contains "unknown query: dead-lettered without retries" "$ERR" "8 in, 1 out, 0 dropped, 0 parked, 7 dead-lettered, 0 retried"
sqlite3 noq.db "SELECT reason FROM dead_letters LIMIT 1" >noq.txt
contains "unknown query named" noq.txt "reject: lookup erp/invoices for PO PO-1: no query named 'invoices'"

# A connector that is not there: the lookup says so.
site noc "" "" ""
sed -i 's/lookup: erp,/lookup: crm,/' noc.yaml
exit_is "unknown lookup connector" 0 "$B" run noc.yaml --plugin-dir "$FX"
sqlite3 noc.db "SELECT reason FROM dead_letters LIMIT 1" >noc.txt
contains "unknown connector named" noc.txt "reject: lookup crm/purchase_order for PO PO-1: no lookup connector named 'crm'"

# Bad options: file:line:col from check.
cat >bad.yaml <<YAML
site: bad
state: $TMP/bad.db
connectors:
  erp: { plugin: fx_lookup, path: $TMP/erp.json }
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/bad.out }
routes:
  ap:
    from: in
    through:
      - match: { query: purchase_order, tolerance: -1 }
    to: out
YAML
exit_is "check finds the bad match options" 1 "$B" check bad.yaml --plugin-dir "$FX"
contains "lookup is required" "$ERR" "bad.yaml:11:9: missing required option 'lookup' for transform 'match'"
contains "negative tolerance" "$ERR" "bad.yaml:11:52: option 'tolerance' of transform 'match' must be at least 0, got -1"
finish
