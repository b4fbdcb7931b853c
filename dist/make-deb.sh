#!/usr/bin/env bash
# make-deb.sh BUILD OUTDIR: backplane_VERSION_ARCH.deb from a staged install
# of BUILD (a meson build directory configured with --prefix=/usr; make deb
# makes sure it is), with dpkg-deb, and beside it libbackplane0_... and
# libbackplane-dev_... (the library and the SDK). Depends come from the
# linked libraries (dpkg-shlibdeps); lintian, when installed, must find no
# error. Prints the packages' paths, one a line, backplane's last.
set -euo pipefail
BUILD=$(realpath "$1")
OUT=$(realpath "${2:-.}")
SRC=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "make-deb: $*" >&2; }

opt() {   # opt NAME: a meson option of BUILD
    meson introspect --buildoptions "$BUILD" |
        python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == '$1'))"
}
prefix=$(opt prefix)
if [ "$prefix" != /usr ]; then
    say "$BUILD is configured with prefix $prefix: a package needs --prefix=/usr (meson configure $BUILD -Dprefix=/usr)"
    exit 1
fi
sanitize=$(opt b_sanitize)
[ "$sanitize" = none ] ||
    say "a b_sanitize=$sanitize build: a package to test with, not to ship (no lintian run)"
VERSION=$(meson introspect --projectinfo "$BUILD" | python3 -c "import json,sys; print(json.load(sys.stdin)['version'])")
ARCH=$(dpkg --print-architecture)
LIBDIR=/usr/$(opt libdir)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
# Three packages from one staged install, as Debian splits a library with
# an SDK (policy 8.1, 8.4): libbackplane0 the shared library (its name
# follows the SONAME), libbackplane-dev what an embedding program or an
# out-of-tree plugin builds with (headers, backplane.pc, the .so link), and
# backplane the CLI, plugins, models, unit and man pages. dpkg-shlibdeps
# wants a source tree: debian/control, each package in debian/PKG.
STAGE=$WORK/stage
PKG=$WORK/debian/backplane
LIBPKG=$WORK/debian/libbackplane0
DEVPKG=$WORK/debian/libbackplane-dev
mkdir -p "$PKG/DEBIAN" "$LIBPKG/DEBIAN" "$DEVPKG/DEBIAN"
meson install -C "$BUILD" --no-rebuild --quiet --strip --destdir "$STAGE" >/dev/null
soname=$(objdump -p "$STAGE/$LIBDIR"/libbackplane.so.*.*.* | awk '/SONAME/ { print $2 }')
[ "$soname" = libbackplane.so.0 ] ||
    { say "libbackplane's SONAME is $soname: rename libbackplane0 (and its shlibs) to match"; exit 1; }
# move FROM TO PATH...: PATHs (relative to the roots) from one tree to another.
move() {
    local from=$1 to=$2 p
    shift 2
    for p; do
        mkdir -p "$to/$(dirname "$p")"
        mv "$from/$p" "$to/$p"
    done
}
move "$STAGE" "$LIBPKG" $(cd "$STAGE" && ls -d ."$LIBDIR"/libbackplane.so.*)
move "$STAGE" "$DEVPKG" ."$LIBDIR"/libbackplane.so ."$LIBDIR"/pkgconfig ./usr/include
cp -a "$STAGE/." "$PKG/"

# Debian's place for documentation: compressed man pages, the copyright, the
# changelog of a native package, in each package.
find "$PKG/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
when=$(date -u -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$SRC" log -1 --format=%ct 2>/dev/null || date +%s)}")
for p in "$PKG" "$LIBPKG" "$DEVPKG"; do
    name=$(basename "$p")
    install -d "$p/usr/share/doc/$name"
    install -m 0644 "$SRC/dist/debian/copyright" "$p/usr/share/doc/$name/copyright"
    printf '%s (%s) unstable; urgency=medium\n\n  * Built from the backplane tree by make deb.\n\n -- backplane developers <backplane@example.org>  %s\n' \
        "$name" "$VERSION" "$when" | gzip -9n >"$p/usr/share/doc/$name/changelog.gz"
    # meson installs what it builds 0755; data files are 0644.
    find "$p/usr/share" -type f -exec chmod 0644 {} +
    # Shared objects are not programs (lintian: shared-library-is-executable).
    [ ! -d "$p/usr/lib" ] || find "$p/usr/lib" -type f -name '*.so*' -exec chmod 0644 {} +
done
chmod 0644 "$PKG"/lib/systemd/system/*.service

install -m 0755 "$SRC/dist/debian/postinst" "$SRC/dist/debian/prerm" "$SRC/dist/debian/postrm" "$PKG/DEBIAN/"
# Who provides the library, and ldconfig after it changes.
echo "libbackplane ${soname##*.so.} libbackplane0 (>= $VERSION)" >"$LIBPKG/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$LIBPKG/DEBIAN/triggers"
chmod 0644 "$LIBPKG/DEBIAN/shlibs" "$LIBPKG/DEBIAN/triggers"

# Depends: what the ELF files link, as Debian's shlibs files name it
# (libbackplane: the shlibs file of debian/libbackplane0).
printf 'Source: backplane\n\nPackage: backplane\nArchitecture: any\n\nPackage: libbackplane0\nArchitecture: any\n\nPackage: libbackplane-dev\nArchitecture: any\n' \
    >"$WORK/debian/control"
# shlibdeps PKGDIR: that package's shlibs:Depends.
shlibdeps() {
    local elfs
    elfs=$(find "$1" -type f \( -name '*.so*' -o -perm -u+x \) -not -path '*/DEBIAN/*' -exec sh -c \
           'for f; do [ "$(head -c4 "$f" | tail -c3)" = ELF ] && echo "$f"; done' _ {} +)
    [ -n "$elfs" ] || return 0
    (cd "$WORK" && dpkg-shlibdeps -O -x"$(basename "$1")" -l"$LIBPKG/$LIBDIR" $elfs 2>"$WORK/shlibdeps.err" |
         sed -n 's/^shlibs:Depends=//p') || { cat "$WORK/shlibdeps.err" >&2; return 1; }
    grep -v "^dpkg-shlibdeps: warning: binaries to analyze should already be installed" "$WORK/shlibdeps.err" |
        grep -v "^$" >&2 || true
}
# (the CLI wants the very library it was built with: = rather than >=)
bin_deps=$(shlibdeps "$PKG" | sed 's/libbackplane0 ([^)]*), //')
lib_deps=$(shlibdeps "$LIBPKG")
size() { du -sk --exclude=DEBIAN "$1" | cut -f1; }

# control NAME SECTION DEPENDS SUMMARY: the start of a package's control
# file (its description follows). Breaks/Replaces: the package before the
# split held the library and the SDK, whose files now move.
control() {
    cat <<EOF
Package: $1
Source: backplane
Version: $VERSION
Architecture: $ARCH
Maintainer: backplane developers <backplane@example.org>
Installed-Size: $(size "$WORK/debian/$1")
Depends: $3
Section: $2
Priority: optional
Homepage: https://example.org/backplane
EOF
    [ "$1" = backplane ] || printf 'Multi-Arch: same\nBreaks: backplane (<< %s)\nReplaces: backplane (<< %s)\n' "$VERSION" "$VERSION"
    echo "Description: integration bus with plugins, human review and an audit log$4"
    echo " backplane moves records from sources (files, Kafka, IMAP, ODBC, SOAP) through"
    echo " transforms (rules, extraction, classification) and human review to sinks,"
    echo " with at-least-once delivery, dead letters and a tamper-evident audit log."
}
{
    control backplane net "adduser, libbackplane0 (= $VERSION), $bin_deps" ""
    cat <<EOF
 One systemd unit instance per site file: backplane@SITE runs
 /etc/backplane/SITE.yaml as the system user backplane; members of the
 group backplane-review review through its control socket.
 .
 This package holds the CLI, the plugins, shipped models and the man pages.
EOF
} >"$PKG/DEBIAN/control"
{
    control libbackplane0 libs "$lib_deps" " - runtime library"
    echo " .
 This package holds libbackplane, the runtime the backplane CLI and
 programs that embed the bus link."
} >"$LIBPKG/DEBIAN/control"
{
    control libbackplane-dev libdevel \
        "libbackplane0 (= $VERSION), libcjson-dev, libyaml-dev, libsqlite3-dev" " - SDK"
    echo " .
 This package holds the plugin SDK: the headers, backplane.pc (with the
 plugindir an out-of-tree plugin installs into) and the link to
 libbackplane for programs that embed the bus; plugins link none of it."
} >"$DEVPKG/DEBIAN/control"

# gzip: a few seconds less than xz per build, the suite packages twice.
DEBS=()
for p in "$LIBPKG" "$DEVPKG" "$PKG"; do
    # md5sums: what debsums checks an installed package against.
    (cd "$p" && find . -type f -not -path './DEBIAN/*' -printf '%P\0' | LC_ALL=C sort -z |
        xargs -0 -r md5sum >DEBIAN/md5sums)
    chmod 0644 "$p/DEBIAN/md5sums"
    DEBS+=("$OUT/$(basename "$p")_${VERSION}_${ARCH}.deb")
    dpkg-deb --root-owner-group -Zgzip --build "$p" "${DEBS[-1]}" >/dev/null
done
# A sanitizer build's objects break rules lintian checks (plugins that call
# only intercepted functions link no libc), and lintian takes a minute on them.
if [ "$sanitize" = none ] && command -v lintian >/dev/null; then
    # Errors fail; warnings are printed, one a line (make-deb: lintian: W: ...).
    { lintian --fail-on error "${DEBS[@]}" 2>&1 || echo "lintian-failed"; } |
        grep -v "running with root privileges is not recommended" >"$WORK/lintian.txt" || true
    sed 's/^/make-deb: lintian: /' "$WORK/lintian.txt" >&2
    ! grep -q "^lintian-failed" "$WORK/lintian.txt" ||
        { say "lintian found errors in ${DEBS[*]}"; exit 1; }
fi
# The packages, one a line, backplane's last.
printf '%s\n' "${DEBS[@]}"
