#!/usr/bin/env bash
# Producer-controlled review (issue 16 #2): attributes that steer the bus
# (confidence, flags, priority, the lineage with its review decisions) are
# dropped from records a source brings in, each drop noted in the lineage;
# a source's `trust_attributes: [...]` lets one backplane site pass them on.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
cat >in.jsonl <<'J'
{"specversion":"1.0","id":"ev-1","source":"/crm","type":"invoice","subject":"INV-1","confidence":0.99,"flags":"approved","priority":99,"bplineage":[{"plugin":"review","version":"1","model":"human:cfo","at_ms":1764547200000}],"data":{"total":50000}}
J
site() { # NAME TRUST AUDIT
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl, format: cloudevents$2 }
  out: { plugin: file, path: $TMP/$1.out, format: cloudevents }
routes:
  r:
    from: in
    review: { when: "not (confidence >= 0.85) or not (flags has 'approved')" }
    audit: $3
    to: out
YAML
}
site gate "" ai
exit_is "run: a gate confidence < 0.85" 0 "$B" run gate.yaml
[ "$(sqlite3 gate.db 'SELECT count(*) FROM review_queue')" = 1 ] && ok "the producer's confidence 0.99 does not skip the gate" || not_ok "not parked: $(cat gate.out)"
[ ! -s gate.out ] && ok "nothing delivered past the gate" || not_ok "delivered: $(cat gate.out)"
sqlite3 gate.db "SELECT json_extract(payload, '\$.bplineage') FROM review_queue" >lin.txt
contains "the drop is noted in the lineage" lin.txt '"changed":"untrusted attribute confidence=0.99 dropped"'
contains "flags dropped and noted" lin.txt '"changed":"untrusted attribute flags=approved dropped"'
contains "priority dropped and noted" lin.txt '"changed":"untrusted attribute priority=99 dropped"'
contains "the outside review decision dropped and noted" lin.txt '"changed":"untrusted attribute bplineage=review/human:cfo dropped"'
contains "noted by the core" lin.txt '"plugin":"backplane"'
sqlite3 -separator ' ' gate.db "SELECT priority, coalesce(flags, '-'), json_extract(payload, '\$.confidence') IS NULL FROM review_queue" >prio.txt
contains "the parked item has the default priority and no flags" prio.txt "0 - 1"

# Audit: the outside "human:cfo" entry never reaches the audit log.
site aud "" all
sed -i 's/    review: .*//' aud.yaml
exit_is "run with audit: all" 0 "$B" run aud.yaml
sqlite3 aud.db "SELECT payload FROM audit_log" >aud.txt
lacks "no forged reviewer in the audit log" aud.txt '"model":"human:cfo"'
contains "the audit shows the drop" aud.txt "untrusted attribute bplineage=review/human:cfo dropped"

# One backplane site passing them on to another.
site hop ", trust_attributes: [confidence, flags, priority, bplineage]" ai
exit_is "check with trust_attributes" 0 "$B" check hop.yaml
exit_is "run with trust_attributes" 0 "$B" run hop.yaml
[ "$(sqlite3 hop.db 'SELECT count(*) FROM review_queue')" = 0 ] && ok "trusted attributes pass the gate" || not_ok "parked although trusted"
contains "confidence passed on" hop.out '"confidence":0.99'
sqlite3 hop.db "SELECT payload FROM audit_log" >hop.aud
contains "the earlier site's review passed on" hop.aud '"model":"human:cfo"'
lacks "no drop noted" hop.out "untrusted attribute"
# Only what is listed is trusted.
site part ", trust_attributes: [confidence]" ai
exit_is "run trusting confidence alone" 0 "$B" run part.yaml
sqlite3 part.db "SELECT json_extract(payload, '\$.bplineage') FROM review_queue" >part.txt
contains "flags still dropped" part.txt "untrusted attribute flags=approved dropped"
lacks "confidence kept" part.txt "untrusted attribute confidence"
# A bad name is a check error with its position.
site bad ", trust_attributes: [confidence, data.total]" ai
exit_is "check refuses an unknown attribute" 1 "$B" check bad.yaml
contains "naming it and the steering attributes" "$ERR" "bad.yaml:4:111: trust_attributes: 'data.total' is not an attribute that steers the bus (confidence, flags, priority, bplineage)"
sed 's/from: in$/from: { in: { trust_attributes: [confidence] } }/' gate.yaml >peruse.yaml
exit_is "check refuses trust_attributes on a route's use" 1 "$B" check peruse.yaml
contains "saying where it belongs" "$ERR" "trust_attributes belongs on connector 'in' itself, not on its use in route 'r'"
finish
