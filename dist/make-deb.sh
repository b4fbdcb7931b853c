#!/usr/bin/env bash
# make-deb.sh BUILD OUTDIR: backplane_VERSION_ARCH.deb from a staged install
# of BUILD (a meson build directory configured with --prefix=/usr; make deb
# makes sure it is), with dpkg-deb. Depends come from the linked libraries
# (dpkg-shlibdeps); lintian, when installed, must find no error.
# Prints the package's path as its last line.
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
# dpkg-shlibdeps wants a source tree: debian/control, the package in debian/PKG.
PKG=$WORK/debian/backplane
mkdir -p "$PKG/DEBIAN"
meson install -C "$BUILD" --no-rebuild --quiet --strip --destdir "$PKG" >/dev/null

# Debian's place for documentation: compressed man pages, the copyright, the
# changelog of a native package.
find "$PKG/usr/share/man" -type f -name '*.[0-9]' -exec gzip -9n {} +
DOC=$PKG/usr/share/doc/backplane
install -d "$DOC"
install -m 0644 "$SRC/dist/debian/copyright" "$DOC/copyright"
when=$(date -u -R -d "@${SOURCE_DATE_EPOCH:-$(git -C "$SRC" log -1 --format=%ct 2>/dev/null || date +%s)}")
printf 'backplane (%s) unstable; urgency=medium\n\n  * Built from the backplane tree by make deb.\n\n -- backplane developers <backplane@example.org>  %s\n' \
    "$VERSION" "$when" | gzip -9n >"$DOC/changelog.gz"
# meson installs what it builds 0755; data files are 0644.
find "$PKG/usr/share" -type f -exec chmod 0644 {} +
chmod 0644 "$PKG"/lib/systemd/system/*.service
# Shared objects are not programs (lintian: shared-library-is-executable).
find "$PKG/usr/lib" -type f -name '*.so*' -exec chmod 0644 {} +

install -m 0755 "$SRC/dist/debian/postinst" "$SRC/dist/debian/prerm" "$SRC/dist/debian/postrm" "$PKG/DEBIAN/"
# The shared library is in the public libdir (the SDK links it): who provides
# it, and ldconfig after it changes.
soname=$(objdump -p "$PKG/$LIBDIR"/libbackplane.so.*.*.* | awk '/SONAME/ { print $2 }')
echo "libbackplane ${soname##*.so.} backplane (>= $VERSION)" >"$PKG/DEBIAN/shlibs"
echo "activate-noawait ldconfig" >"$PKG/DEBIAN/triggers"
chmod 0644 "$PKG/DEBIAN/shlibs" "$PKG/DEBIAN/triggers"

# Depends: what the ELF files link, as Debian's shlibs files name it.
cat >"$WORK/debian/control" <<EOF
Source: backplane

Package: backplane
Architecture: any
EOF
elfs=$(find "$PKG" -type f \( -name '*.so*' -o -perm -u+x \) -exec sh -c \
       'for f; do [ "$(head -c4 "$f" | tail -c3)" = ELF ] && echo "$f"; done' _ {} +)
shlibs=$(cd "$WORK" && dpkg-shlibdeps -O -xbackplane -l"$PKG/$LIBDIR" $elfs 2>"$WORK/shlibdeps.err" |
         sed -n 's/^shlibs:Depends=//p') || { cat "$WORK/shlibdeps.err" >&2; exit 1; }
grep -v "^dpkg-shlibdeps: warning: binaries to analyze should already be installed" "$WORK/shlibdeps.err" |
    grep -v "^$" >&2 || true
size=$(du -sk --exclude=DEBIAN "$PKG" | cut -f1)

cat >"$PKG/DEBIAN/control" <<EOF
Package: backplane
Version: $VERSION
Architecture: $ARCH
Maintainer: backplane developers <backplane@example.org>
Installed-Size: $size
Depends: adduser, $shlibs
Section: net
Priority: optional
Homepage: https://example.org/backplane
Description: integration bus with plugins, human review and an audit log
 backplane moves records from sources (files, Kafka, IMAP, ODBC, SOAP) through
 transforms (rules, extraction, classification) and human review to sinks,
 with at-least-once delivery, dead letters and a tamper-evident audit log.
 One systemd unit instance per site file: backplane@SITE runs
 /etc/backplane/SITE.yaml as the system user backplane; members of the
 group backplane-review review through its control socket.
 .
 This package holds the CLI, libbackplane with the plugin SDK (headers,
 backplane.pc), the plugins, shipped models and the man pages.
EOF

DEB=$OUT/backplane_${VERSION}_${ARCH}.deb
# gzip: a few seconds less than xz per build, the suite packages twice.
dpkg-deb --root-owner-group -Zgzip --build "$PKG" "$DEB" >/dev/null
# A sanitizer build's objects break rules lintian checks (plugins that call
# only intercepted functions link no libc), and lintian takes a minute on them.
if [ "$sanitize" = none ] && command -v lintian >/dev/null; then
    # Errors fail; warnings are printed (a single package that is also its
    # own -dev is a known warning: package-name-doesnt-match-sonames).
    { lintian --fail-on error "$DEB" 2>&1 || echo "lintian-failed"; } |
        grep -v "running with root privileges is not recommended" >"$WORK/lintian.txt" || true
    cat "$WORK/lintian.txt" >&2
    ! grep -q "^lintian-failed" "$WORK/lintian.txt" ||
        { say "lintian found errors in $DEB"; exit 1; }
fi
echo "$DEB"
