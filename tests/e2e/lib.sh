# Helpers for end-to-end tests: TAP output, one test point per assertion.
# Source this file; call `finish` at the end.
set -u
TAP_N=0
TAP_FAILED=0
BACKPLANE=${BACKPLANE:-$BP_BUILD_ROOT/core/backplane}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

ok() { TAP_N=$((TAP_N + 1)); echo "ok $TAP_N - $1"; }
not_ok() { TAP_N=$((TAP_N + 1)); TAP_FAILED=$((TAP_FAILED + 1)); echo "not ok $TAP_N - $1"; }

# check DESCRIPTION COMMAND...: the command must succeed.
check() {
    local what=$1; shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# contains DESCRIPTION FILE TEXT: FILE holds TEXT (fixed string).
contains() {
    if grep -qF -- "$3" "$2"; then ok "$1"; else
        not_ok "$1"; echo "#   '$3' not found in $2:"; sed 's/^/#   | /' "$2" | head -n 30
    fi
}

# lacks DESCRIPTION FILE TEXT: FILE does not hold TEXT.
lacks() {
    if grep -qF -- "$3" "$2"; then
        not_ok "$1"; echo "#   '$3' unexpectedly found in $2"; else ok "$1"; fi
}

# exit_is DESCRIPTION WANT COMMAND...: the command's exit status is WANT.
# Its stdout and stderr are kept in $OUT and $ERR for later checks.
OUT=$TMP/last.out
ERR=$TMP/last.err
exit_is() {
    local what=$1 want=$2; shift 2
    "$@" >"$OUT" 2>"$ERR"; local got=$?
    if [ "$got" -eq "$want" ]; then ok "$what"; else not_ok "$what (exit $got, want $want)"; fi
}

finish() {
    echo "1..$TAP_N"
    [ "$TAP_FAILED" -eq 0 ]
}
