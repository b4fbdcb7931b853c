#!/usr/bin/env bash
# dedupe end to end: exact and fuzzy duplicates, remembered across a restart
# of the bus (fingerprints in the state store), not across the date window; a
# redelivered record is not its own duplicate; two copies on two workers at
# the same instant are caught; the actions review, reject and drop; bad
# options reported with file:line:col by `backplane check`.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"

# One line per record of a JSON-lines output: "ref flag-match-score dup-of-id".
summary() {
    python3 - "$1" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    dup = d.get("duplicate_of")
    flags = ",".join(f["flag"] for f in d.get("flags", []))
    if dup:
        print(d["ref"], flags, dup["match"], dup["score"], dup["id"], dup.get("subject", "-"))
    else:
        print(d["ref"], "unique")
PY
}

site() {   # site NAME INPUT DEDUPE-OPTIONS [ROUTE-EXTRA]
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/state.db
connectors:
  in: { plugin: file, path: $TMP/$2, source: file://ap/inbox }
  out: { plugin: file, path: $TMP/$1.out.jsonl }
  events: { plugin: file, path: $TMP/$1.events.jsonl, format: cloudevents }
routes:
  ap:
    from: in
    through:
      - set: { copy: { subject: data.ref } }
      - dedupe: { $3 }
    to: [out, events]
    audit: all
    ${4:-}
YAML
}

cat >jan.jsonl <<'EOF'
{"ref": "a", "vendor": "Acme Trading Sdn. Bhd.", "invoice_no": "INV-0042", "total": "1,250.00", "date": "2024-03-05"}
{"ref": "b", "vendor": "Beta GmbH", "invoice_no": "B-7", "total": 99.9, "date": "2024-03-05"}
{"ref": "a-exact", "vendor": "ACME TRADING SDN BHD", "invoice_no": "inv 42", "total": 1250, "date": "05/03/2024"}
{"ref": "a-fuzzy", "vendor": "acme trading", "invoice_no": "INV-0042", "total": 1250.40, "date": "2024-03-07"}
{"ref": "a-typo", "vendor": "Acme Trading Sdn Bhd", "invoice_no": "INV-0043", "total": "1250.00", "date": "2024-03-05"}
{"ref": "a-next", "vendor": "Acme Trading", "invoice_no": "INV-0044", "total": 880, "date": "2024-03-06"}
{"ref": "c", "vendor": "Gamma Ltd", "total": 15, "date": "2024-03-05"}
{"ref": "novendor", "invoice_no": "INV-0042", "total": 1250}
EOF
site jan jan.jsonl "tolerance: 0.5"
exit_is "first run" 0 "$B" run jan.yaml
summary jan.out.jsonl >jan.txt
contains "the first invoice is unique" jan.txt "a unique"
contains "another vendor's is unique" jan.txt "b unique"
contains "exact duplicate: vendor case/suffix, number spacing/zeros, amount format, date format" \
    jan.txt "a-exact possible_duplicate exact 1 jan.jsonl@0 a"
contains "fuzzy duplicate: amount within tolerance, two days later" jan.txt "a-fuzzy possible_duplicate fuzzy"
contains "fuzzy duplicate: a typo in the invoice number" jan.txt "a-typo possible_duplicate fuzzy"
contains "the vendor's next invoice is not a duplicate" jan.txt "a-next unique"
contains "an invoice without a number is checked on amount and date" jan.txt "c unique"
contains "a record without a vendor passes unchecked" jan.txt "novendor unique"
contains "every record delivered (flag is the default action)" "$ERR" "8 in, 8 out, 0 dropped"
contains "the flag is a CloudEvents extension for predicates" jan.events.jsonl '"flags":"possible_duplicate"'
contains "the reason travels in data.flags" jan.out.jsonl '"reason":"exact duplicate of a (id jan.jsonl@0, score 1.00)","by":"dedupe"'
sqlite3 state.db "SELECT payload FROM audit_log WHERE kind='ai' AND subject='a-exact'" >lineage.txt
contains "lineage: plugin, version, confidence, fields changed" lineage.txt \
    '"plugin":"dedupe","version":"1.0.0","confidence":1,"changed":"flags,data.flags,data.duplicate_of"'
sqlite3 state.db "SELECT scope, key FROM checkpoints WHERE key LIKE 'v:%' ORDER BY key" >keys.txt
contains "fingerprints kept per normalised vendor in the state store" keys.txt "ap/dedupe#2|v:acme trading"

# A restart: the bus remembers. A new file, the same state file.
cat >feb.jsonl <<'EOF'
{"ref": "a-again", "vendor": "Acme Trading Sdn Bhd", "invoice_no": "INV/42", "total": 1250.00, "date": "2024-03-20"}
{"ref": "a-late", "vendor": "Acme Trading Sdn Bhd", "invoice_no": "INV-0042", "total": 1250.00, "date": "2024-05-20"}
{"ref": "b-again", "vendor": "BETA gmbh", "invoice_no": "b 7", "total": "99,90", "date": "2024-03-05"}
EOF
site feb feb.jsonl "tolerance: 0.5"
exit_is "second run (a restart of the bus)" 0 "$B" run feb.yaml
summary feb.out.jsonl >feb.txt
contains "after a restart: a duplicate of a record of the first run" feb.txt "a-again possible_duplicate exact 1 jan.jsonl@0 a"
contains "after a restart: decimal comma, another vendor" feb.txt "b-again possible_duplicate exact 1 jan.jsonl@"
contains "not across the date window (76 days > 30)" feb.txt "a-late unique"

# Retention: fingerprints older than `retention` (by arrival) are forgotten.
cp state.db aged.db
sqlite3 aged.db "UPDATE checkpoints SET value = (SELECT json_group_array(json_set(j.value, '\$.at', 1000))
                 FROM json_each(checkpoints.value) j) WHERE key = 'v:beta';
                 DELETE FROM checkpoints WHERE key LIKE 'offset:%'"
sed "s|$TMP/state.db|$TMP/aged.db|; s|feb.out|aged.out|; s|feb.events|aged.events|" feb.yaml >aged.yaml
exit_is "a run after Beta's fingerprints aged out" 0 "$B" run aged.yaml
summary aged.out.jsonl >aged.txt
contains "an aged-out fingerprint no longer matches" aged.txt "b-again unique"
contains "the other vendor's still do" aged.txt "a-again possible_duplicate exact"

# A redelivery (the source forgot its offset, as after a crash before the
# ack): the same records again are not duplicates of themselves.
sqlite3 state.db "DELETE FROM checkpoints WHERE key LIKE 'offset:%'"
rm -f jan.out.jsonl jan.events.jsonl
exit_is "the first file redelivered" 0 "$B" run jan.yaml
summary jan.out.jsonl >again.txt
contains "a redelivered record is not its own duplicate" again.txt "a unique"
contains "a redelivered copy is still a duplicate of the original" again.txt "a-exact possible_duplicate exact 1 jan.jsonl@0"

# max_per_vendor: the oldest fingerprints of a vendor go first.
rm -f state.db
site cap jan.jsonl "tolerance: 0.5, max_per_vendor: 1"
exit_is "one fingerprint per vendor" 0 "$B" run cap.yaml
summary cap.out.jsonl >cap.txt
contains "with one kept, the fuzzy copy replaced the original" cap.txt "a-typo unique"
contains "an exact copy is checked before that" cap.txt "a-exact possible_duplicate exact"

# Actions: review (the review queue), reject (dead letters), drop.
rm -f state.db
site act jan.jsonl "tolerance: 0.5, exact_action: drop, action: review"
exit_is "exact_action drop, action review" 0 "$B" run act.yaml
contains "exact duplicate dropped, fuzzy ones parked" "$ERR" "8 in, 5 out, 1 dropped, 2 parked"
sqlite3 state.db "SELECT stage || ' | ' || reason FROM review_queue ORDER BY seq" >queue.txt
contains "review reason names the flag and the earlier record" queue.txt \
    "ap/dedupe#2 | possible_duplicate: fuzzy duplicate of a (id jan.jsonl@0, score 0.9"
sqlite3 state.db "SELECT payload FROM review_queue ORDER BY seq LIMIT 1" >parked.json
contains "the parked record carries duplicate_of" parked.json '"duplicate_of":{"id":"jan.jsonl@0"'
contains "the parked record carries the flag" parked.json '"flags":"possible_duplicate"'
rm -f state.db
site rej jan.jsonl "action: reject"
exit_is "action reject" 0 "$B" run rej.yaml
contains "duplicates dead-lettered" "$ERR" "8 in, 6 out, 0 dropped, 0 parked, 2 dead-lettered"
sqlite3 state.db "SELECT reason FROM dead_letters ORDER BY seq" >dl.txt
contains "dead letter reason" dl.txt "reject: possible_duplicate: exact duplicate of a (id jan.jsonl@0, score 1.00)"

# when: only records for which the predicate holds are checked (and remembered).
rm -f state.db
site when jan.jsonl "tolerance: 0.5, when: \"data.ref != 'a-exact'\""
exit_is "dedupe with when" 0 "$B" run when.yaml
summary when.out.jsonl >when.txt
contains "a record outside when passes unchecked" when.txt "a-exact unique"
contains "the others are checked" when.txt "a-fuzzy possible_duplicate fuzzy"

# Workers: 300 invoices each followed at once by its copy, 4 workers (round
# robin: every copy is on another worker than its original, same batch; 7 vendors,
# so the workers take different fingerprint-window locks and the same one).
rm -f state.db
python3 - >many.jsonl <<'PY'
import json
for i in range(300):
    rec = {"ref": "r%d" % i, "vendor": "Vendor %d Ltd" % (i % 7), "invoice_no": "N-%d" % i,
           "total": 100 + i, "date": "2024-04-01"}
    print(json.dumps(rec))
    rec["ref"] += "-copy"
    print(json.dumps(rec))
PY
site many many.jsonl "" "workers: 4"
exit_is "4 workers" 0 "$B" run many.yaml
contains "4 workers ran" "$ERR" "2 transform(s) x 4 worker(s)"
summary many.out.jsonl >many.txt
n_dup=$(grep -c "possible_duplicate exact" many.txt)
n_copy=$(grep -- "-copy" many.txt | grep -c "possible_duplicate exact")
[ "$n_dup" -eq 300 ] && [ "$n_copy" -eq 300 ] && ok "every copy caught across workers (300 of 300)" ||
    not_ok "copies caught across workers: $n_dup flagged, $n_copy copies (want 300, 300)"

# Bad options: file:line:col from check, without running anything.
cat >bad.yaml <<YAML
site: bad
state: $TMP/bad.db
connectors:
  in: { plugin: file, path: $TMP/jan.jsonl }
  out: { plugin: file, path: $TMP/bad.out }
routes:
  ap:
    from: in
    through:
      - dedupe:
          window: 30 days
          action: maybe
          treshold: 0.9
          threshold: 2
          when: "data.kind = 'invoice'"
    to: out
YAML
exit_is "check finds the bad dedupe options" 1 "$B" check bad.yaml
contains "bad duration" "$ERR" "bad.yaml:11:19: option 'window' of transform 'dedupe' must be a duration like 500ms, 5s, 2m, 1h, got '30 days'"
contains "bad enum" "$ERR" "bad.yaml:12:19: option 'action' of transform 'dedupe' must be one of: flag, review, drop, reject; got 'maybe'"
contains "unknown option, valid ones listed" "$ERR" "bad.yaml:13:11: unknown option 'treshold' for transform 'dedupe' (valid: vendor, invoice_no"
contains "out of range" "$ERR" "bad.yaml:14:22: option 'threshold' of transform 'dedupe' must be between 0.01 and 1, got 2"
contains "a bad when predicate, pointed at" "$ERR" "bad.yaml:15:28: option 'when' of transform 'dedupe': unexpected character '=', use '=='"
finish
