#!/bin/bash
# The audit log's batch entries (issue 18, core/audit.c): under `audit: all`
# one `lineage` entry per sink batch (its source column: the batch's) holds
# every record's id, subject and lineage, written without a JSON tree per
# record; whatever a
# record's fields hold (quotes, backslashes, control characters, UTF-8), the
# entry is valid JSON that names the record, and the log verifies.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
python3 - <<'PY'
import json
subjects = ['plain', 'q"uote', 'back\\slash', 'new\nline\ttab\x01\x1f', 'caf\u00e9 \u20ac', '']
with open('in.jsonl', 'w') as f:
    for i, s in enumerate(subjects):
        f.write(json.dumps({"n": i, "s": s}) + "\n")
PY
cat >s.yaml <<YAML
site: acme
state: $TMP/s.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  r:
    from: in
    through:
      - set: { copy: { subject: data.s } }
    to: out
    audit: all
YAML
exit_is "the relay runs" 0 "$B" run s.yaml
[ "$(sqlite3 s.db "SELECT count(*) FROM audit_log WHERE kind = 'lineage'")" = 1 ] \
    && ok "one lineage entry for the batch" || not_ok "lineage entries: $(sqlite3 s.db "SELECT count(*) FROM audit_log")"
[ "$(sqlite3 s.db "SELECT json_valid(payload) FROM audit_log WHERE kind = 'lineage'")" = 1 ] \
    && ok "the entry is valid JSON" || not_ok "invalid JSON: $(sqlite3 s.db 'SELECT payload FROM audit_log')"
src=$(sqlite3 s.db "SELECT source FROM audit_log WHERE kind = 'lineage'")
[ "$src" = "file://$TMP/in.jsonl" ] && ok "the entry's source is the records' source" || not_ok "entry source: $src"
[ "$(sqlite3 s.db "SELECT count(*) FROM audit_log, json_each(audit_log.payload, '\$.records') r WHERE json_extract(r.value, '\$.source') IS NOT NULL")" = 0 ] \
    && ok "so no record repeats it" || not_ok "records carry their source"
python3 - >got.txt <<'PY'
import json, sqlite3
(p,) = sqlite3.connect("s.db").execute("SELECT payload FROM audit_log WHERE kind = 'lineage'").fetchone()
for r in json.loads(p)["records"]:
    l = r["lineage"][0]
    print(json.dumps([r["id"], r.get("subject"), l["plugin"], l["version"], l["changed"], l["at"] > 0]))
PY
python3 - >want.txt <<'PY'
import json
subjects = ['plain', 'q"uote', 'back\\slash', 'new\nline\ttab\x01\x1f', 'caf\u00e9 \u20ac', '']
off = 0
for i, s in enumerate(subjects):
    print(json.dumps(["in.jsonl@%d" % off, s, "set", "1.0.0", "subject", True]))
    off += len((json.dumps({"n": i, "s": s}) + "\n").encode())
PY
check "each record: id, subject as it was, its lineage (plugin, version, changed, at)" cmp -s want.txt got.txt \
    || { diff want.txt got.txt | sed 's/^/#   /'; }
exit_is "trace finds a record by a subject with a quote" 0 "$B" audit trace s.yaml 'q"uote'
contains "in the batch entry" "$OUT" "lineage"
exit_is "the log verifies" 0 "$B" audit verify s.yaml
finish
