#!/usr/bin/env bash
# The file-pipeline example end to end: records flow from a
# JSON-lines file through two `set` transforms and a review gate into two file
# sinks; the malformed line is dead-lettered with its position; a second run
# resumes from the checkpoint and writes nothing twice.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
mkdir -p examples/file-pipeline/out
cp "$BP_SOURCE_ROOT/examples/file-pipeline/site.yaml" "$BP_SOURCE_ROOT/examples/file-pipeline/invoices.jsonl" examples/file-pipeline/
Q=examples/file-pipeline/out
DB=$Q/file-pipeline.state.db

exit_is "check passes on the file-pipeline example" 0 "$B" check examples/file-pipeline/site.yaml
exit_is "run exits 0 at end of input" 0 "$B" run examples/file-pipeline/site.yaml
cp "$ERR" run1.log
contains "route summary is logged" run1.log "route finished: 6 in, 4 out, 0 dropped, 1 parked, 1 dead-lettered"

[ "$(wc -l <$Q/invoices.jsonl)" -eq 4 ] && ok "4 records delivered" || not_ok "4 records delivered (got $(wc -l <$Q/invoices.jsonl))"
[ "$(wc -l <$Q/events.jsonl)" -eq 4 ] && ok "4 events delivered" || not_ok "4 events delivered"
head -n 1 $Q/invoices.jsonl >first.json
contains "amt renamed to total, number kept" first.json '"total":1299'
lacks "old field gone" first.json '"amt"'
contains "literal stamped" first.json '"status":"received"'
contains "conditional flag set" first.json '"needs_approval":true'
sed -n 2p $Q/invoices.jsonl >second.json
contains "UTF-8 intact" second.json '"vendor":"Jörg Ümlaut KG"'
lacks "flag not set below the threshold" second.json 'needs_approval'
contains "null kept" second.json '"po":null'
grep -F '"Umbrella plc"' $Q/invoices.jsonl >umbrella.json
lacks "draft marker removed" umbrella.json 'draft'
lacks "the parked record is not delivered" $Q/invoices.jsonl 'Globex'
head -n 1 $Q/events.jsonl >ev.json
contains "CloudEvent specversion" ev.json '"specversion":"1.0"'
contains "CloudEvent type from the connector" ev.json '"type":"com.example.ap.invoice"'
contains "CloudEvent source from the connector" ev.json '"source":"file://quickstart/inbox"'
contains "subject copied from the invoice number" ev.json '"subject":"INV-1001"'
contains "extension set by the transform" ev.json '"priority":"high"'
contains "id is file@offset" ev.json '"id":"invoices.jsonl@0"'

sqlite3 "$DB" "SELECT reason FROM dead_letters" >dl.txt
contains "dead letter names file:line:col" dl.txt "invoices.jsonl:4:94: invalid JSON"
sqlite3 "$DB" "SELECT payload FROM dead_letters" >dlp.txt
contains "dead letter keeps the raw line" dlp.txt '"invoice_no": "IT-301"'
sqlite3 "$DB" "SELECT stage || ' | ' || reason FROM review_queue" >rq.txt
contains "review queue holds the big invoice's reason" rq.txt "review | review.when: data.total > 10000"
sqlite3 "$DB" "SELECT payload FROM review_queue" >rqp.txt
contains "parked envelope is whole" rqp.txt '"subject":"GX-9"'
contains "parked envelope has lineage" rqp.txt '"bplineage"'

sqlite3 "$DB" "SELECT json_extract(r.value, '\$.subject') || ' delivered ' || json_extract(r.value, '\$.lineage') FROM audit_log, json_each(audit_log.payload, '\$.records') r WHERE kind = 'lineage' AND json_extract(r.value, '\$.subject') = 'INV-1001'" >audit.txt
contains "audit log holds the lineage of a delivered record" audit.txt 'INV-1001 delivered [{"plugin":"set","version":"1.0.0","changed":"data.amt,data.total,subject,data.status"'
n=$(sqlite3 "$DB" "SELECT count(*) FROM audit_log, json_each(audit_log.payload, '\$.records') WHERE kind = 'lineage'")
[ "$n" -eq 4 ] && ok "each delivered record's lineage in the log's batch entries" || not_ok "records in lineage entries: $n"

# Second run: everything was acked, nothing is read or written again.
exit_is "second run exits 0" 0 "$B" run examples/file-pipeline/site.yaml
cp "$ERR" run2.log
contains "second run reads nothing" run2.log "route finished: 0 in, 0 out"
[ "$(wc -l <$Q/invoices.jsonl)" -eq 4 ] && ok "no duplicates after a rerun" || not_ok "no duplicates after a rerun"

# New input: only the new line flows.
echo '{"vendor": "Hooli", "invoice_no": "H-1", "amt": 5, "currency": "EUR"}' >>examples/file-pipeline/invoices.jsonl
exit_is "third run exits 0" 0 "$B" run examples/file-pipeline/site.yaml
[ "$(wc -l <$Q/invoices.jsonl)" -eq 5 ] && ok "only the appended record is delivered" || not_ok "only the appended record is delivered"
tail -n 1 $Q/invoices.jsonl >last.json
contains "the appended record" last.json '"vendor":"Hooli"'
[ "$(sqlite3 "$DB" 'SELECT count(*) FROM dead_letters')" -eq 1 ] && ok "bad line dead-lettered once" || not_ok "bad line dead-lettered once"

# JSON logs for machines.
exit_is "json log format" 0 "$B" run examples/file-pipeline/site.yaml --log-format json
head -n 1 "$ERR" >jl.txt
contains "json log line" jl.txt '{"ts":"'
finish
