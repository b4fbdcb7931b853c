#!/usr/bin/env python3
"""Vendor-grouped folds for `backplane eval extract --folds 5`.

SROIE repeats vendors (dozens of receipts of the same shop), so plain folds
(document i in fold i % 5) keep a vendor's receipts on both sides and reward a
model that learns vendors. This writes OUT/box and OUT/key as symlinks to DATA,
renamed so that fold i % 5 of the sorted names holds whole vendors (grouped by
the labelled company name), an estimate for receipts of shops never seen.

    plugins/extract/models/sroie_grouped.py DATA OUT
    backplane eval extract --format sroie --folds 5 --data OUT
"""
import json
import os
import re
import sys


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    data, out = sys.argv[1], sys.argv[2]
    for sub in ("box", "key"):
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    names = sorted(f[:-5] for f in os.listdir(os.path.join(data, "key")) if f.endswith(".json"))
    groups = {}
    for n in names:
        with open(os.path.join(data, "key", n + ".json"), encoding="utf-8") as f:
            company = json.load(f).get("company", "")
        groups.setdefault(re.sub(r"[^A-Z]", "", company.upper())[:12], []).append(n)
    folds = [[] for _ in range(5)]
    for _, members in sorted(groups.items(), key=lambda g: (-len(g[1]), g[0])):
        min(folds, key=len).extend(members)
    # Interleave so that position p of the sorted output is in fold p % 5.
    order = [f[i] for i in range(max(map(len, folds))) for f in folds if i < len(f)]
    for p, n in enumerate(order):
        for sub, ext in (("box", "csv"), ("key", "json")):
            dst = os.path.join(out, sub, "%04d.%s" % (p, ext))
            if os.path.lexists(dst):
                os.remove(dst)
            os.symlink(os.path.abspath(os.path.join(data, sub, n + "." + ext)), dst)
    print("%d documents, %d vendors, folds of %s" % (len(order), len(groups),
                                                     [len(f) for f in folds]))


if __name__ == "__main__":
    main()
