#!/bin/bash
# The tamper-evident audit log (issue 18, docs/audit.md): every entry a leaf
# of a Merkle log in the state file, signed checkpoints, `audit verify` that
# names the first bad entry for each way of tampering with the file, `audit
# trace`, `audit export` with inclusion proofs, retention that keeps verify.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
FX=$BP_TEST_FIXTURES
FORGE="python3 $BP_SOURCE_ROOT/tests/e2e/audit_forge.py"
cd "$TMP"
printf '%s\n' '{"n":1}' '{"n":2}' '{"n":3}' '{"n":4}' '{"n":5}' >in.jsonl

exit_is "keygen writes a key" 0 "$B" audit keygen site.key
[ "$(stat -c %a site.key)" = 600 ] && ok "the key is 0600" || not_ok "key mode $(stat -c %a site.key)"
exit_is "keygen never overwrites" 1 "$B" audit keygen site.key
contains "and says why" "$ERR" "site.key: cannot create (File exists)"
"$B" audit keygen other.key >/dev/null

site() {   # site FILE STATE KEY
    cat >"$1" <<YAML
site: acme
state: $TMP/$2
audit: { signing_key: $TMP/$3, checkpoint_every: 2 }
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
  erp: { plugin: fx_sink, path: $TMP/erp.out, receipt: true, reject_field: none }
routes:
  r: { from: in, to: [ out, erp ], audit: all, batch: 1 }
YAML
}
site s.yaml s.db site.key
exit_is "the relay runs" 0 "$B" run s.yaml --plugin-dir "$FX"
n=$(sqlite3 s.db "SELECT count(*) FROM audit_log WHERE kind = 'receipt'")
[ "$n" -eq 5 ] && ok "one receipt leaf per sink batch (batch: 1, 5 records)" || not_ok "receipt leaves: $n"
exit_is "verify: an untouched log holds" 0 "$B" audit verify s.yaml
contains "verify says what it checked" "$OUT" "audit log of acme: ok: 5 entries, root "
contains "and the signed checkpoints (every 2, and at the stop)" "$OUT" "3 signed checkpoints checked"
exit_is "checkpoint prints the latest" 0 "$B" audit checkpoint s.yaml
printf 'acme\n5\n' >want.txt
head -2 "$OUT" >got.txt
check "a C2SP note: origin, size" cmp -s want.txt got.txt
contains "signed by the site (em dash, origin)" "$OUT" "— acme "
cp "$OUT" old.ckpt

# Each tampering on a fresh copy; verify exits 1 naming the first bad entry.
tamper() {   # tamper WHAT SQL WANT
    cp s.db t.db; rm -f t.db-wal t.db-shm
    site t.yaml t.db site.key
    sqlite3 t.db "$2"
    exit_is "$1: verify fails" 1 "$B" audit verify t.yaml
    contains "$1: named" "$OUT" "$3"
}
tamper "a changed payload" "UPDATE audit_log SET payload = replace(payload, 'line 3', 'line 9') WHERE seq = 2" \
    "TAMPERED: entry 2 (receipt) was changed"
tamper "a changed actor" "UPDATE audit_log SET actor = 'os:mallory' WHERE seq = 0" \
    "TAMPERED: entry 0 (receipt) was changed"
tamper "a deleted entry" "DELETE FROM audit_log WHERE seq = 1" "TAMPERED: entry 1 is missing"
tamper "swapped entries" "UPDATE audit_log SET seq = 100 WHERE seq = 1; UPDATE audit_log SET seq = 1 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 100" \
    "TAMPERED: entry 1 (receipt) was changed"
tamper "the last entry cut off" "DELETE FROM audit_log WHERE seq = 4" \
    "TAMPERED: entry 4 is missing: the signed checkpoint at size 5 covers more entries than the log has (4)"
tamper "the log cut before a checkpoint" "DELETE FROM audit_log WHERE seq >= 3; UPDATE audit_tree SET size = 3" \
    "TAMPERED: entry 3 is missing: the signed checkpoint at size 4 covers more entries than the log has (3)"
tamper "the tree head edited" "UPDATE audit_tree SET size = 6" \
    "TAMPERED: entry 5 is missing: the tree head has 6 entries, the log 5"
tamper "a checkpoint's root swapped" "UPDATE audit_checkpoints SET root = (SELECT root FROM audit_checkpoints WHERE size = 2) WHERE size = 4" \
    "TAMPERED: checkpoint at size 4: its row does not match its signed note"

# A changed payload with its leaf hash recomputed: the leaves agree with
# themselves, the signed checkpoint does not.
cp s.db t.db; rm -f t.db-wal t.db-shm
sqlite3 t.db "UPDATE audit_log SET payload = replace(payload, 'line 2', 'line 7') WHERE seq = 1"
$FORGE t.db rehash
exit_is "leaf hash recomputed: verify fails" 1 "$B" audit verify t.yaml
contains "leaf hash recomputed: the range after the last good checkpoint" "$OUT" \
    "TAMPERED: entries 0..1 do not match the signed checkpoint at size 2"

# Re-signed with another key (CVE-2023-31439: journald accepted entries
# sealed with a newer key).
cp s.db t.db; rm -f t.db-wal t.db-shm
site o.yaml t.db other.key
sqlite3 t.db "DELETE FROM audit_checkpoints WHERE size = 5"
exit_is "another key signs a checkpoint" 0 "$B" audit checkpoint o.yaml --sign
exit_is "re-signed: verify with the site's key fails" 1 "$B" audit verify t.yaml
contains "re-signed: named" "$OUT" "TAMPERED: checkpoint at size 5: checkpoint is not signed by the site's key"
cp s.db t.db; rm -f t.db-wal t.db-shm
sqlite3 t.db "UPDATE audit_checkpoints SET note = replace(note, char(10) || '4' || char(10), char(10) || '5' || char(10)) WHERE size = 4"
exit_is "a note edited: fails" 1 "$B" audit verify t.yaml
contains "a note edited: its signature" "$OUT" "checkpoint at size 4: checkpoint signature does not verify with the site's key"

# More records; the old checkpoint kept elsewhere: consistent.
printf '%s\n' '{"n":6}' '{"n":7}' '{"n":8}' >>in.jsonl
exit_is "a second run" 0 "$B" run s.yaml --plugin-dir "$FX"
exit_is "verify --checkpoint OLD: the log extends it" 0 "$B" audit verify s.yaml --checkpoint old.ckpt
contains "consistent" "$OUT" "8 entries"
contains "consistent (said)" "$OUT" "consistent with the given checkpoint"
# Everything rewritten consistently (leaves, head, no checkpoints): only the
# checkpoint kept elsewhere catches it.
cp s.db t.db; rm -f t.db-wal t.db-shm
sqlite3 t.db "UPDATE audit_log SET payload = replace(payload, 'line 1', 'line 0') WHERE seq = 0"
$FORGE t.db rewrite
exit_is "a full rewrite passes on its own (documented limit)" 0 "$B" audit verify t.yaml
exit_is "a full rewrite: verify --checkpoint fails" 1 "$B" audit verify t.yaml --checkpoint old.ckpt
contains "a full rewrite: named" "$OUT" "not consistent with the given checkpoint (size 5)"
cp s.db t.db; rm -f t.db-wal t.db-shm
sqlite3 t.db "DELETE FROM audit_log WHERE seq >= 2; DELETE FROM audit_checkpoints"
$FORGE t.db rewrite
exit_is "history cut below the kept checkpoint: fails" 1 "$B" audit verify t.yaml --checkpoint old.ckpt
contains "cut: named" "$OUT" "entry 2 is missing: the given checkpoint has 5 entries"
printf 'acme\n4\nAAAA\n\n' >bad.ckpt
exit_is "a damaged kept checkpoint is refused" 1 "$B" audit verify s.yaml --checkpoint bad.ckpt
contains "damaged: why" "$OUT" "the given checkpoint: checkpoint root is not base64 of 32 bytes"

# The key file must be the owner's only.
chmod 644 site.key
exit_is "a world-readable key is refused" 1 "$B" run s.yaml --plugin-dir "$FX"
contains "and says how to fix it" "$ERR" "must be a regular file readable by its owner only (chmod 600 $TMP/site.key)"
# Only the owner delivers (and signs): the CLI records the replay and needs
# neither the key nor any connector's secret.
exit_is "an operator who cannot read the key can still ask for a replay (recorded for the owner)" 0 "$B" dlq replay s.yaml --all
lacks "... and is not asked for the key" "$ERR" "site.key"
chmod 600 site.key

# trace: one record's way (its receipts are in the batch leaves).
id=$(sqlite3 s.db "SELECT json_extract(payload, '\$.records[0].id') FROM audit_log WHERE seq = 2")
exit_is "trace by id" 0 "$B" audit trace s.yaml "$id"
contains "trace shows the receipt" "$OUT" '"r/erp":"line 3"'
exit_is "trace --json" 0 "$B" audit trace s.yaml "$id" --json
check "trace --json parses, one entry" python3 -c "import json,sys; a=json.load(open('$OUT')); sys.exit(0 if len(a)==1 and a[0]['kind']=='receipt' else 1)"

# export: JSON lines with inclusion proofs that verify against the checkpoint.
exit_is "export" 0 "$B" audit export s.yaml --output exp.jsonl
check "export: every proof verifies (RFC 9162) against the signed root" python3 - exp.jsonl <<'PY'
import base64, hashlib, json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
note = lines[0]["checkpoint"].split("\n")
size, root = int(note[1]), base64.b64decode(note[2])
def node(l, r): return hashlib.sha256(b"\x01" + l + r).digest()
n = 0
for e in lines[1:]:
    fn, sn, r = e["seq"], size - 1, base64.b64decode(e["leaf_hash"])
    for p in map(base64.b64decode, e["inclusion_proof"]):
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn and not fn & 1: fn >>= 1; sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1; sn >>= 1
    if sn != 0 or r != root: sys.exit(1)
    n += 1
sys.exit(0 if n == size else 1)
PY

# retention: payloads pruned, leaf hashes kept, verify still holds.
sqlite3 s.db "UPDATE audit_log SET payload = NULL, pruned = 1 WHERE seq < 3"
exit_is "verify holds after payloads are pruned" 0 "$B" audit verify s.yaml
contains "and counts them" "$OUT" "3 payloads pruned (leaf hashes kept)"
cp s.db t.db; rm -f t.db-wal t.db-shm
sqlite3 t.db "UPDATE audit_log SET payload = NULL, pruned = 1, leaf = zeroblob(32) WHERE seq = 5"
exit_is "pruning does not excuse a changed leaf hash" 1 "$B" audit verify t.yaml
# An operator's dlq drop and replay are always audited (audit: off too).
printf '%s\n' '{"n":1}' '{"n":2,"reject":true}' 'not json' >dl.jsonl
cat >dl.yaml <<YAML
site: dl
state: $TMP/dl.db
connectors:
  in: { plugin: file, path: $TMP/dl.jsonl }
  erp: { plugin: fx_sink, path: $TMP/dl.out }
routes:
  r: { from: in, to: erp, audit: off }
YAML
exit_is "dlq: a run dead-letters two" 0 "$B" run dl.yaml --plugin-dir "$FX"
raw=$(sqlite3 dl.db "SELECT seq FROM dead_letters WHERE stage = 'r/in'")
rej=$(sqlite3 dl.db "SELECT seq FROM dead_letters WHERE stage = 'r/erp'")
exit_is "dlq drop" 0 "$B" dlq drop dl.yaml "$raw"
exit_is "dlq replay (recorded: no owner runs)" 0 "$B" dlq replay dl.yaml "$rej"
exit_is "the owner's next run carries both out (the peer still refuses)" 0 "$B" run dl.yaml --plugin-dir "$FX"
sqlite3 dl.db "SELECT kind || ' ' || actor || ' ' || json_extract(payload, '\$.dlq_seq') FROM audit_log ORDER BY seq" >dl.txt
contains "the drop is a leaf, with who" dl.txt "dlq:drop os:$(id -un) $raw"
contains "the replay is a leaf" dl.txt "dlq:replay os:$(id -un) $rej"
exit_is "and the log verifies" 0 "$B" audit verify dl.yaml
# People's review decisions are leaves (with who and what changed), and a
# record's trace shows its way: parked, corrected, delivered.
printf '%s\n' '{"no":"INV-1","total":100}' '{"no":"INV-2","total":2000}' >inv.jsonl
cat >rev.yaml <<YAML
site: rev
state: $TMP/rev.db
connectors:
  inv: { plugin: file, path: $TMP/inv.jsonl, format: jsonl }
  out: { plugin: file, path: $TMP/inv.out }
routes:
  ap:
    from: inv
    through:
      - set: { copy: { subject: data.no } }
    review: { when: "data.total > 1000" }
    to: out
    audit: off
YAML
exit_is "review: the run parks INV-2" 0 "$B" run rev.yaml
S=$("$B" review list rev.yaml | awk '/INV-2/ { print $1; exit }')
exit_is "a person corrects it" 0 "$B" review correct rev.yaml "$S" --set data.total=1999 --note "typo"
exit_is "the owner's next run carries the correction out" 0 "$B" run rev.yaml
exit_is "trace INV-2" 0 "$B" audit trace rev.yaml INV-2
contains "trace: the correction, by whom" "$OUT" "review:corrected by $(id -un)"
contains "trace: what changed" "$OUT" '"data.total"'
exit_is "the log of decisions verifies" 0 "$B" audit verify rev.yaml
finish
