#!/usr/bin/env python3
"""Counts the suite's results across builds and prints the final line
"N passed, N failed". Every TAP test point counts once (a unit test's CHECK,
an e2e assertion); a test that ended badly without a failing point (crash,
sanitizer abort, timeout, wrong plan) counts as one failure."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
for arg in sys.argv[1:]:
    path, _, label = arg.partition(":")
    try:
        lines = open(path, encoding="utf-8", errors="replace").read().splitlines()
    except OSError as e:
        print(f"{label}: no test log ({e})")
        failed += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout") or ""
        ok = len(re.findall(r"^ok \d+", out, re.M))
        bad = len(re.findall(r"^not ok \d+", out, re.M))
        result = t.get("result")
        if result == "SKIP":
            skipped += 1
            continue
        if ok == 0 and bad == 0:
            ok, bad = (1, 0) if result == "OK" else (0, 1)
        elif result != "OK" and bad == 0:
            bad = 1
        passed += ok
        failed += bad
        if bad:
            failures.append(f"{label}/{t.get('name')} ({result})")
for f in failures:
    print(f"FAILED: {f}")
if skipped:
    print(f"{skipped} skipped")
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
