#!/usr/bin/env bash
# Every libFuzzer target in tests/fuzz (fuzz_NAME.c) is run by `make fuzz`
# (the Makefile's FUZZ_TARGETS) and has a seed corpus the suite replays.
src=${BP_SOURCE_ROOT:?}
targets=$(sed -n 's/^FUZZ_TARGETS = //p' "$src/Makefile")
n=0; failed=0
for f in "$src"/tests/fuzz/fuzz_*.c; do
    t=$(basename "$f" .c); t=${t#fuzz_}
    n=$((n + 1))
    if [[ " $targets " == *" $t "* ]]; then echo "ok $n - make fuzz runs $t"
    else echo "not ok $n - make fuzz does not run $t (FUZZ_TARGETS: $targets)"; failed=1; fi
    n=$((n + 1))
    if [ -n "$(ls -A "$src/tests/fuzz/corpus/$t" 2>/dev/null)" ]; then echo "ok $n - $t has a seed corpus"
    else echo "not ok $n - $t has no seed corpus in tests/fuzz/corpus/$t"; failed=1; fi
done
echo "1..$n"
exit $failed
