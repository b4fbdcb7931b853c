#!/usr/bin/env bash
# policy end to end: rules from the site file flag with reasons, review
# (the review queue) and reject (dead letters); the first review/reject rule
# decides, every matching rule's flag is kept; a later rule and the route's
# review gate see the flags; bad rules are refused with the rule's name.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"

cat >in.jsonl <<'EOF'
{"ref": "small", "vendor": "Acme", "total": 120, "po_number": "PO-1"}
{"ref": "nopo", "vendor": "Acme", "total": 80}
{"ref": "big-nopo", "vendor": "Acme", "total": 12000}
{"ref": "blocked", "vendor": "Shady Ltd", "total": 50, "po_number": "PO-2"}
{"ref": "big-blocked", "vendor": "Shady Ltd", "total": 20000, "po_number": "PO-3"}
{"ref": "mid-nopo", "vendor": "Beta", "total": 2500}
{"ref": "weekend", "vendor": "Beta", "total": 10, "po_number": "PO-4", "category": "entertainment"}
EOF
cat >p.yaml <<YAML
site: p
state: $TMP/p.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
  events: { plugin: file, path: $TMP/events.jsonl, format: cloudevents }
routes:
  ap:
    from: in
    through:
      - set: { copy: { subject: data.ref } }
      - policy:
          rules:
            high_value:
              when: "data.total > 10000"
              reason: "total {data.total} over the 10,000 limit for {data.vendor}"
              action: review
            no_po:
              when: "not exists data.po_number"
              flag: po_missing
              reason: "no purchase order"
            blocked_vendor:
              when: "data.vendor in ['Shady Ltd']"
              reason: "vendor {data.vendor} is blocked"
              action: reject
            no_po_over_1000:
              when: "flags has 'po_missing' and data.total > 1000"
              reason: "needs a PO above 1,000"
              action: review
            entertainment: { when: "data.category == 'entertainment'" }
    review: { when: "flags has 'entertainment'" }
    to: [out, events]
YAML
exit_is "policy route runs" 0 "$B" run p.yaml
contains "summary: 2 delivered, 4 parked, 1 dead-lettered" "$ERR" "7 in, 2 out, 0 dropped, 4 parked, 1 dead-lettered"
python3 - out.jsonl >out.txt <<'PY'
import json, sys
for line in open(sys.argv[1]):
    d = json.loads(line)
    print(d["ref"], [(f["flag"], f["reason"], f["by"]) for f in d.get("flags", [])])
PY
contains "no rule holds: delivered unflagged" out.txt "small []"
contains "flag action: delivered with the flag and reason" out.txt "nopo [('po_missing', 'no purchase order', 'policy:no_po')]"
contains "the flags extension" events.jsonl '"subject":"nopo","time"'
contains "the flags extension" events.jsonl '"datacontenttype":"application/json","flags":"po_missing"'
sqlite3 p.db "SELECT json_extract(payload, '\$.subject') || ' | ' || stage || ' | ' || reason FROM review_queue ORDER BY seq" >queue.txt
contains "review with a reason rendered from fields" queue.txt "big-nopo | ap/policy#2 | high_value: total 12000 over the 10,000 limit for Acme"
contains "first review/reject wins: review before a later reject" queue.txt "big-blocked | ap/policy#2 | high_value: total 20000 over the 10,000 limit for Shady Ltd"
contains "a later rule sees an earlier rule's flag" queue.txt "mid-nopo | ap/policy#2 | no_po_over_1000: needs a PO above 1,000"
contains "the route's review gate sees a flag-only rule's flag" queue.txt "weekend | review | entertainment: data.category == 'entertainment'"
lacks "a reviewed record goes nowhere else" out.txt "big-nopo"
sqlite3 p.db "SELECT json_extract(payload, '\$.flags') FROM review_queue WHERE json_extract(payload, '\$.subject') = 'big-blocked'" >bb.txt
contains "all flags recorded, not only the deciding rule's" bb.txt "high_value,blocked_vendor"
sqlite3 p.db "SELECT json_extract(payload, '\$.subject') || ' | ' || reason FROM dead_letters" >dl.txt
contains "reject: dead-lettered with the rule and reason" dl.txt "blocked | reject: blocked_vendor: vendor Shady Ltd is blocked"
sqlite3 p.db "SELECT json_extract(payload, '\$.bplineage') FROM review_queue WHERE json_extract(payload, '\$.subject') = 'big-nopo'" >lin.txt
contains "lineage of the policy step" lin.txt '"plugin":"policy","version":"1.0.0","changed":"flags,data.flags"'

# Bad rules: `check` (and `run`, before anything starts) names the rule and points
# into the site file with file:line:col.
bad() {   # bad NAME RULE-YAML
    cat >"$1.yaml" <<YAML
site: b
state: $TMP/b.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/b.out }
routes:
  ap:
    from: in
    through:
      - policy:
          rules:
            $2
    to: out
YAML
}
bad syntax 'big: { when: "data.total >> 5", action: review }'
exit_is "check: a rule with a bad predicate" 1 "$B" check syntax.yaml
contains "predicate error: file:line:col inside the string, rule named" "$ERR" "syntax.yaml:12:39: transform 'policy': option 'rules.big.when': rule 'big': when: column 13: unexpected token '>'"
exit_is "run refuses it before starting anything" 1 "$B" run syntax.yaml
contains "run says the same" "$ERR" "syntax.yaml:12:39:"
bad nowhen 'big: { flag: x }'
exit_is "a rule without when" 1 "$B" check nowhen.yaml
contains "missing when" "$ERR" "nowhen.yaml:12:18: transform 'policy': option 'rules.big': rule 'big': missing 'when' (a predicate)"
bad action 'big: { when: "data.total > 5", action: escalate }'
exit_is "a rule with an unknown action" 1 "$B" check action.yaml
contains "bad action" "$ERR" "action.yaml:12:52: transform 'policy': option 'rules.big.action': rule 'big': action must be one of: flag, review, reject; got 'escalate'"
bad key 'big: { when: "data.total > 5", flagg: x }'
exit_is "a rule with an unknown key" 1 "$B" check key.yaml
contains "unknown key" "$ERR" "key.yaml:12:51: transform 'policy': option 'rules.big.flagg': rule 'big': unknown key 'flagg' (valid: when, flag, reason, action)"
bad flag 'Big-Total: { when: "data.total > 5" }'
exit_is "a flag that cannot be a flag" 1 "$B" check flag.yaml
contains "flag name" "$ERR" "flag.yaml:12:24: transform 'policy': option 'rules.Big-Total': rule 'Big-Total': flag 'Big-Total' must be lower-case letters, digits and _ (it defaults to the rule's name)"
bad list '- { name: big, when: "data.total > 5" }'
exit_is "check: rules must be a map of named rules" 1 "$B" check list.yaml
contains "list instead of a map: file:line:col" "$ERR" "list.yaml:12:13: option 'rules' of transform 'policy' must be a map, got a list"
cat >norules.yaml <<YAML
site: b
state: $TMP/b.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/b.out }
routes:
  ap:
    from: in
    through: [ policy: { } ]
    to: out
YAML
exit_is "check: rules are required" 1 "$B" check norules.yaml
contains "missing rules: file:line:col" "$ERR" "norules.yaml:9:16: missing required option 'rules' for transform 'policy'"
finish
