#!/usr/bin/env bash
# End-to-end: the plugin skeleton builds OUT OF TREE against the INSTALLED SDK,
# loads into the real `backplane` binary, and transforms records in a real run.
#
# This is what an integrator does with examples/plugin-skeleton, so it catches
# what in-tree builds cannot: a header missing from the install, a broken
# backplane.pc, a plugin that only builds with the project's private flags.
#
# Environment:
#   BP_BUILD_ROOT   the project's meson build directory, already built
#   BP_SOURCE_ROOT  the project's source directory
#   BP_PLUGIN_PATH  (optional) where the built-in plugins are; when unset, the
#                   build tree's connectors/ and plugins/ are passed as --plugin-dir
#
# Exit status: 0 pass, 1 fail (the last line says why), 77 skipped (a tool is missing).
set -euo pipefail

say() { printf '==> %s\n' "$*"; }
fail() {
    printf 'FAIL: %s\n' "$*" >&2
    exit 1
}

: "${BP_BUILD_ROOT:?BP_BUILD_ROOT must point at the meson build directory}"
: "${BP_SOURCE_ROOT:?BP_SOURCE_ROOT must point at the source directory}"
BP_BUILD_ROOT=$(cd "$BP_BUILD_ROOT" && pwd)
BP_SOURCE_ROOT=$(cd "$BP_SOURCE_ROOT" && pwd)
backplane="$BP_BUILD_ROOT/core/backplane"

for tool in meson ninja pkg-config; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "SKIP: $tool not found" >&2
        exit 77
    fi
done
[ -x "$backplane" ] || fail "$backplane does not exist (build the project first)"

tmp=$(mktemp -d)
# shellcheck disable=SC2317  # called by the trap
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT

# Built-in plugins (the file connector): from BP_PLUGIN_PATH if the caller set
# it, otherwise straight from the build tree.
builtin_dirs=()
if [ -z "${BP_PLUGIN_PATH:-}" ]; then
    builtin_dirs=(--plugin-dir "$BP_BUILD_ROOT/connectors" --plugin-dir "$BP_BUILD_ROOT/plugins")
fi

# Runs a command with a time limit when `timeout` exists, so a hung runtime
# fails the test instead of the whole suite.
limited() {
    if command -v timeout >/dev/null 2>&1; then
        timeout 120 "$@"
    else
        "$@"
    fi
}

# ---- 1. install the SDK into a staging directory ------------------------------

say "meson install -C $BP_BUILD_ROOT --destdir $tmp/stage"
meson install -C "$BP_BUILD_ROOT" --destdir "$tmp/stage" --no-rebuild --quiet \
    || fail "meson install into $tmp/stage failed"

pc=$(find "$tmp/stage" -name backplane.pc -print -quit)
[ -n "$pc" ] || fail "no backplane.pc in the staged install ($tmp/stage)"
pcdir=$(dirname "$pc")
say "found $pc"
[ -n "$(find "$tmp/stage" -path '*/include/backplane/plugin.h' -print -quit)" ] \
    || fail "backplane/plugin.h is not installed"

# ---- 2. build the skeleton against it, out of tree ------------------------------

# PKG_CONFIG_PATH alone: backplane.pc is relocatable (its prefix is
# ${pcfiledir}/...), so a staged or moved SDK works without
# PKG_CONFIG_SYSROOT_DIR or an edited .pc file.
say "pkg-config --cflags backplane (PKG_CONFIG_PATH=$pcdir)"
cflags=$(env -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH="$pcdir" pkg-config --cflags backplane) \
    || fail "pkg-config cannot read $pc"
printf '%s\n' "$cflags"
sdkinc=$(grep -o -- '-I[^ ]*' <<<"$cflags" | head -n1 | cut -c3-)
[ -f "$sdkinc/backplane/plugin.h" ] \
    || fail "backplane.pc's -I$sdkinc does not hold backplane/plugin.h (not relocatable?)"
plugindir=$(env -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH="$pcdir" pkg-config --variable=plugindir backplane)
case "$plugindir" in
    "$tmp/stage"/*/backplane/plugins) say "plugindir=$plugindir" ;;
    *) fail "backplane.pc's plugindir should be inside the staged install, is '$plugindir'" ;;
esac
modeldir=$(env -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH="$pcdir" pkg-config --variable=modeldir backplane)
case "$modeldir" in
    "$tmp/stage"/*/backplane/models) say "modeldir=$modeldir" ;;
    *) fail "backplane.pc's modeldir should be inside the staged install, is '$modeldir'" ;;
esac
say "meson setup $tmp/sk $BP_SOURCE_ROOT/examples/plugin-skeleton (PKG_CONFIG_PATH=$pcdir only)"
if ! env -u PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_PATH="$pcdir" \
    meson setup "$tmp/sk" "$BP_SOURCE_ROOT/examples/plugin-skeleton" >"$tmp/setup.log" 2>&1; then
    cat "$tmp/setup.log"
    fail "meson setup of the skeleton against the installed SDK failed"
fi
say "ninja -C $tmp/sk"
if ! ninja -C "$tmp/sk" >"$tmp/ninja.log" 2>&1; then
    cat "$tmp/ninja.log"
    fail "the skeleton does not build against the installed SDK (-Wall -Wextra -Werror)"
fi
[ -f "$tmp/sk/skeleton.so" ] || fail "$tmp/sk/skeleton.so was not produced"

# The plugin must be self-contained: one exported symbol, no libbackplane.
if command -v nm >/dev/null 2>&1; then
    say "nm -D --defined-only skeleton.so"
    # Older binutils also list linker-made markers (_edata, _end, __bss_start, _init, _fini).
    exported=$(nm -D --defined-only "$tmp/sk/skeleton.so" | awk 'NF == 3 { print $3 }' |
        grep -Ev '^(_edata|_end|__bss_start|_init|_fini)$' || true)
    [ "$exported" = "bp_plugin_entry" ] \
        || fail "skeleton.so should export only bp_plugin_entry, exports: $(echo "$exported" | tr '\n' ' ')"
fi
if command -v readelf >/dev/null 2>&1; then
    if readelf -d "$tmp/sk/skeleton.so" | grep -q 'NEEDED.*libbackplane'; then
        fail "skeleton.so links libbackplane; a plugin must use the host-API table only"
    fi
fi

# ---- 3. the binary finds and describes it ----------------------------------------

say "backplane plugins --plugin-dir $tmp/sk"
rc=0
out=$("$backplane" plugins "${builtin_dirs[@]}" --plugin-dir "$tmp/sk" 2>&1) || rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || fail "backplane plugins exited with status $rc"
grep -Eq '^skeleton([[:space:]]|$)' <<<"$out" || fail "backplane plugins does not list skeleton"

say "backplane plugins --plugin-dir $tmp/sk --doc skeleton"
rc=0
doc=$("$backplane" plugins "${builtin_dirs[@]}" --plugin-dir "$tmp/sk" --doc skeleton 2>&1) || rc=$?
printf '%s\n' "$doc"
[ "$rc" -eq 0 ] || fail "backplane plugins --doc skeleton exited with status $rc"
for word in field required upper; do
    grep -q -- "$word" <<<"$doc" || fail "--doc skeleton does not mention '$word'"
done

# ---- 4. a real run through the file connector ---------------------------------

in="$tmp/in.jsonl"
outfile="$tmp/out.jsonl"
site="$tmp/site.yaml"
printf '%s\n' '{"vendor":"  acme gmbh ","n":1}' '{"vendor":"Jörg","n":2}' >"$in"

# write_site FILE SKELETON-OPTIONS: the skeleton entry is on line 10, which the
# error-position check below relies on.
write_site() {
    cat >"$1" <<EOF
site: skeleton-test
state: "$tmp/state.db"
connectors:
  in:  { plugin: file, path: "$in", type: com.example.test }
  out: { plugin: file, path: "$outfile", format: jsonl }
routes:
  main:
    from: in
    through:
      - skeleton: $2
    to: [out]
EOF
}
write_site "$site" '{ field: data.vendor, case: upper }'

say "backplane check $site"
rc=0
out=$("$backplane" check "$site" "${builtin_dirs[@]}" --plugin-dir "$tmp/sk" 2>&1) || rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 0 ] || fail "backplane check refuses a valid site using skeleton (status $rc)"

say "backplane run $site --plugin-dir $tmp/sk"
rc=0
limited "$backplane" run "$site" "${builtin_dirs[@]}" --plugin-dir "$tmp/sk" >"$tmp/run.log" 2>&1 || rc=$?
if [ "$rc" -ne 0 ]; then
    cat "$tmp/run.log"
    [ "$rc" -eq 124 ] && fail "backplane run did not finish within 120 s at the end of the input"
    fail "backplane run exited with status $rc"
fi
[ -f "$outfile" ] || {
    cat "$tmp/run.log"
    fail "the run wrote no output file $outfile"
}
say "output:"
cat "$outfile"

lines=$(wc -l <"$outfile")
[ "$lines" -eq 2 ] || fail "expected 2 output lines, got $lines"

# Order-independent: find each record by its number, then check its vendor.
# The patterns tolerate spacing, and `"n": 1` followed by , or } proves n is
# still a JSON number (a string would be "1").
ws='[[:space:]]*'
line1=$(grep -E "\"n\"$ws:${ws}1${ws}[,}]" "$outfile" || true)
line2=$(grep -E "\"n\"$ws:${ws}2${ws}[,}]" "$outfile" || true)
[ -n "$line1" ] || fail "no output record with \"n\":1 as a number"
[ -n "$line2" ] || fail "no output record with \"n\":2 as a number"
grep -Eq "\"vendor\"$ws:$ws\"ACME GMBH\"" <<<"$line1" \
    || fail "record 1: expected \"vendor\":\"ACME GMBH\" (trimmed, upper case), got: $line1"
# Case conversion is ASCII-only by design (see the skeleton's README): the ö
# keeps its case and its UTF-8 bytes.
grep -Eq "\"vendor\"$ws:$ws\"JöRG\"" <<<"$line2" \
    || fail "record 2: expected \"vendor\":\"JöRG\" (ASCII-only upper case, UTF-8 intact), got: $line2"

# ---- 5. a missing required option is refused, with its position ----------------

bad="$tmp/bad.yaml"
write_site "$bad" '{ case: upper }'
say "backplane check $bad (skeleton without 'field')"
rc=0
out=$(cd "$tmp" && "$backplane" check bad.yaml "${builtin_dirs[@]}" --plugin-dir "$tmp/sk" 2>&1) || rc=$?
printf '%s\n' "$out"
[ "$rc" -eq 1 ] || fail "backplane check on a site lacking 'field' should exit 1, exited $rc"
grep -F "missing required option 'field'" <<<"$out" | grep -Eq 'bad\.yaml:10:[0-9]+:' \
    || fail "expected a line 'bad.yaml:10:COL: ... missing required option 'field' ...'"

say "PASS: skeleton builds against the installed SDK, loads, documents and transforms"
exit 0
