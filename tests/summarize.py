#!/usr/bin/env python3
"""Count test cases from meson's testlog.json: each TAP line of a TAP test
counts on its own, any other test counts once. Prints 'N passed, N failed,
N skipped' and exits non-zero when anything failed."""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
with open(sys.argv[1]) as log:
    for line in log:
        test = json.loads(line)
        cases = 0
        for out in test.get("stdout", "").splitlines():
            m = re.match(r"^(not ok|ok)\b[^#]*(#\s*(SKIP|TODO)\b.*)?", out)
            if not m:
                continue
            cases += 1
            if m.group(3):
                skipped += 1
            elif m.group(1) == "ok":
                passed += 1
            else:
                failed += 1
                failures.append(f"{test['name']}: {out}")
        if cases == 0 or (test["result"] not in ("OK", "SKIP", "EXPECTEDFAIL")
                          and not any(f.startswith(test["name"] + ":") for f in failures)):
            # a binary that crashed or counted nothing still counts once
            if test["result"] == "SKIP":
                skipped += 1
            elif test["result"] in ("OK", "EXPECTEDFAIL"):
                passed += 1
            else:
                failed += 1
                failures.append(f"{test['name']}: {test['result']}")
for f in failures:
    print("FAILED:", f)
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
