#!/usr/bin/env bash
# Human review: records parked by the gate or by a transform are listed by
# priority, approved / corrected (resuming after the stage that parked them) or
# rejected; every decision is audited with the OS user; corrections are kept as
# labelled examples; `backplane report` sums it up.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
ME=$(id -un)
printf '%s\n' \
  '{"no":"INV-1","total":100}' \
  '{"no":"INV-2","total":2000}' \
  '{"no":"INV-3","total":9000,"vendor":"acme"}' \
  '{"no":"INV-4","total":1500}' \
  '{"no":"INV-5","total":60000}' >in.jsonl
cat >site.yaml <<YAML
site: rev
state: $TMP/rev.db
connectors:
  inv: { plugin: file, path: $TMP/in.jsonl, format: jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  ap:
    from: inv
    through:
      - set: { copy: { subject: data.no } }
      - set: { set: { priority: 5 }, when: "data.total > 5000" }
      - policy: { rules: { huge: { when: "data.total > 50000", reason: "total {data.total}", action: review, flag: huge } } }
      - set: { set: { data.stamped: true } }
    review: { when: "data.total > 1000" }
    to: out
YAML
exit_is "the run parks what needs a person" 0 "$B" run site.yaml
python3 -c "import json; print('out', [json.loads(l)['no'] for l in open('out.jsonl')])" >o1
contains "only the small invoice went straight through" o1 "out ['INV-1']"

"$B" review list site.yaml >list1 2>&1
contains "list shows the gate's reason" list1 "review.when: data.total > 1000"
contains "list shows a transform's reason and flag" list1 "huge: total 60000"
head -2 list1 | tail -1 >first
contains "highest priority first" first "INV-3"
contains "subject is listed" list1 "INV-2"
seq_of() { awk -v s="$1" '$0 ~ s { print $1; exit }' list1; }
S2=$(seq_of INV-2); S3=$(seq_of INV-3); S4=$(seq_of INV-4); S5=$(seq_of INV-5)

"$B" review show site.yaml "$S2" >show 2>&1
contains "show prints the record" show '"no":	"INV-2"'
contains "show prints the stage" show "stage:      review"

exit_is "approve resumes the record" 0 "$B" review approve site.yaml "$S2" --note "checked with AP"
cp "$OUT" appr
# No owner runs: decisions are recorded; the next `run` (the owner) carries them out.
contains "approve with no owner running is recorded, with the reviewer" appr "approved by $ME: recorded"
exit_is "correct sets fields and resumes" 0 "$B" review correct site.yaml "$S3" \
  --set data.total=8999.5 --set data.vendor=ACME --add --set data.category=hardware
exit_is "reject needs a reason" 2 "$B" review reject site.yaml "$S4"
exit_is "reject with a reason" 0 "$B" review reject site.yaml "$S4" --reason "duplicate of INV-1"
exit_is "a transform's parked record is approved" 0 "$B" review approve site.yaml "$S5"
exit_is "an unknown entry fails" 1 "$B" review approve site.yaml 999
cp "$ERR" unk
contains "and says so" unk "no parked record 999"
exit_is "a decided entry cannot be decided twice" 1 "$B" review approve site.yaml "$S2"
contains "... naming who decided it" "$ERR" "entry $S2: already decided by $ME"
exit_is "the owner's next run carries the decisions out" 0 "$B" run site.yaml
cp "$ERR" run2
contains "... and logs each with its outcome" run2 "review approve $S2 by $ME: delivered"

python3 - >o2 <<'PY'
import json
recs = {}
for l in open("out.jsonl"):
    d = json.loads(l); recs[d["no"]] = d
print("out", sorted(recs))
print("inv3", recs["INV-3"]["total"], recs["INV-3"]["vendor"])
print("inv5 stamped", recs["INV-5"].get("stamped"), "inv2 stamped", recs["INV-2"].get("stamped"))
PY
contains "approved and corrected records reach the sink, the rejected one does not" o2 "out ['INV-1', 'INV-2', 'INV-3', 'INV-5']"
contains "corrections are in the delivered record" o2 "inv3 8999.5 ACME"
contains "a transform-parked record resumes after that transform (rest of the chain ran)" o2 "inv5 stamped True"
"$B" review list site.yaml >list2 2>&1
lacks "nothing left in the queue" list2 "INV-"

sqlite3 rev.db "SELECT kind || ' ' || json_extract(payload,'\$.by') || ' ' || json_extract(payload,'\$.note') FROM audit_log WHERE kind LIKE 'review:%' ORDER BY seq" >audit
contains "approval audited with who and note" audit "review:approved $ME checked with AP"
contains "correction audited" audit "review:corrected $ME"
contains "rejection audited with the reason" audit "review:rejected $ME duplicate of INV-1"
sqlite3 rev.db "SELECT json_extract(payload,'\$.changes[0].path') || ' ' || json_extract(payload,'\$.changes[0].from') || '->' || json_extract(payload,'\$.changes[0].to') FROM audit_log WHERE kind='review:corrected'" >chg
contains "the audit says what changed" chg "data.total 9000->8999.5"
"$B" dlq list site.yaml >dl 2>&1
contains "the rejected record is a dead letter with the reviewer's reason" dl "rejected in review by $ME: duplicate of INV-1"

(umask 022; "$B" review export site.yaml --out ex.jsonl 2>exerr)
[ "$(stat -c %a ex.jsonl)" = 600 ] && ok "the export is created 0600 (personal data)" || not_ok "export mode $(stat -c %a ex.jsonl)"
python3 -c "
import json
rows=[json.loads(l) for l in open('ex.jsonl')]
print('n', len(rows), [(r['path'], r['from'], r['to']) for r in rows], rows[0]['record']['data']['no'])" >ex
contains "export gives the corrections as labelled examples" ex "n 3 [('data.total', 9000, 8999.5), ('data.vendor', 'acme', 'ACME'), ('data.category', None, 'hardware')] INV-3"

# Plugin commands get the corrections exported for them (train --from-corrections).
BP_PLUGIN_PATH="$BP_TEST_FIXTURES" "$B" fx_sink echo --from-corrections site.yaml >fc.out 2>fc.err
contains "--from-corrections becomes --corrections FILE for the plugin" fc.out "echo --corrections /tmp/backplane-corrections-"
contains "and says how many" fc.err "3 correction(s) from site.yaml"
# train classify takes the corrections of its label as examples.
printf '%s\n' '{"no":"INV-10","category":"software"}' '{"no":"INV-11","category":"hardware"}' \
  '{"no":"INV-12","category":"software"}' >tickets.jsonl
"$B" train classify --data tickets.jsonl --text no --label category --out cat.model \
  --from-corrections site.yaml --calib-folds 0 >tr.out 2>tr.err
contains "the correction of the label is added to the training data" tr.err "3 correction(s) read, 1 example(s) added, label category from data.category"
contains "and trained on" tr.out "trained on 4 records"

"$B" report site.yaml >rep 2>&1
contains "report: records in and automated" rep "ap                    5          1             20.0%"
contains "report: decisions" rep "      4         2          1         1"
contains "report: exceptions by flag" rep "huge"
contains "report: corrections per field" rep "data.total"
contains "report: review queue total" rep "total 0"
# --set keeps the type the field had, refuses a path the record does not have
# unless --add, and takes any number of fields (64 overflowed a stack array).
python3 - >typed.jsonl <<'PY'
import json
print(json.dumps({"no": "T-1", "label": "3", "qty": 2}))
print(json.dumps({"no": "T-2", "label": "x", "qty": 1}))
print(json.dumps(dict({"no": "T-3"}, **{"f%d" % i: 0 for i in range(1, 101)})))
PY
cat >typed.yaml <<YAML
site: typed
state: $TMP/typed.db
connectors:
  inv: { plugin: file, path: $TMP/typed.jsonl, format: jsonl }
  out: { plugin: file, path: $TMP/typed.out }
routes:
  t: { from: inv, through: [ { set: { copy: { subject: data.no } } } ], review: { when: "exists data.no" }, to: out }
YAML
exit_is "typed: every record parked" 0 "$B" run typed.yaml
"$B" review list typed.yaml >tlist 2>&1
tseq() { awk -v s="$1" '$0 ~ s { print $1; exit }' tlist; }
T1=$(tseq T-1); T2=$(tseq T-2); T3=$(tseq T-3)
exit_is "--set of a field the record lacks is refused" 1 "$B" review correct typed.yaml "$T1" --set data.lable=5
contains "... naming the path and --add" "$ERR" "backplane review: entry $T1: --set data.lable: the record has no such field (add --add to create it)"
exit_is "--set of a wrong type into a number is refused" 1 "$B" review correct typed.yaml "$T2" --set data.qty=many
contains "... saying the field's type" "$ERR" "backplane review: entry $T2: --set data.qty: 'many' is not a number, as the field is"
exit_is "--set 5 into a string label and 7 into a number" 0 "$B" review correct typed.yaml "$T1" --set data.label=5 --set data.qty=7
exit_is "--add creates a field" 0 "$B" review correct typed.yaml "$T2" --add --set data.note=checked --set data.label=y
args=(); for i in $(seq 1 64); do args+=(--set "data.f$i=$i"); done
exit_is "64 --set in one correction" 0 "$B" review correct typed.yaml "$T3" "${args[@]}"
exit_is "typed: the owner carries the corrections out" 0 "$B" run typed.yaml
python3 - >typed.txt <<'PY'
import json
recs = {json.loads(l)["no"]: json.loads(l) for l in open("typed.out")}
t1, t2, t3 = recs["T-1"], recs["T-2"], recs["T-3"]
print("label", repr(t1["label"]), "qty", repr(t1["qty"]))
print("note", repr(t2.get("note")), "label", repr(t2["label"]))
print("f64", repr(t3["f64"]), "f65", repr(t3["f65"]))
PY
contains "a string label stays a string" typed.txt "label '5' qty 7"
contains "--add: the new field is there" typed.txt "note 'checked' label 'y'"
contains "all 64 fields were set (and no more)" typed.txt "f64 64 f65 0"
finish
