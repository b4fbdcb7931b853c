"""Forges the audit log of a state file as an attacker with write access
would (tests/e2e/audit.sh): recomputes leaf hashes after an edit, and
optionally the whole tree head, so only signed checkpoints can tell."""
import hashlib
import sqlite3
import struct
import sys


def leaf_bytes(row):
    seq, at_ms, actor, kind, route, source, rid, subject, payload = row
    out = b"bp-audit-v1\n"
    for f in (str(seq), str(at_ms), actor, kind, route, source, rid, subject, payload):
        if f is None:
            out += struct.pack(">I", 0xFFFFFFFF)
        else:
            b = f.encode()
            out += struct.pack(">I", len(b)) + b
    return out


def leaf_hash(b):
    return hashlib.sha256(b"\x00" + b).digest()


def node(l, r):
    return hashlib.sha256(b"\x01" + l + r).digest()


def main():
    db, mode = sys.argv[1], sys.argv[2]
    c = sqlite3.connect(db)
    cols = "seq,at_ms,actor,kind,route,source,id,subject,payload"
    if mode in ("rehash", "rewrite"):
        for row in c.execute("SELECT %s FROM audit_log ORDER BY seq" % cols).fetchall():
            c.execute("UPDATE audit_log SET leaf=? WHERE seq=?",
                      (leaf_hash(leaf_bytes(row)), row[0]))
    if mode == "rewrite":
        # The head too, and no checkpoint left: the log looks whole.
        frontier, size = {}, 0
        for (h,) in c.execute("SELECT leaf FROM audit_log ORDER BY seq").fetchall():
            k = 0
            while size & (1 << k):
                h = node(frontier[k], h)
                k += 1
            frontier[k] = h
            size += 1
        blob = b"".join(frontier[k] for k in range(64) if size & (1 << k))
        c.execute("INSERT OR REPLACE INTO audit_tree VALUES(1,?,?)", (size, blob))
        c.execute("DELETE FROM audit_checkpoints")
    c.commit()


main()
