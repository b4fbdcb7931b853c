#!/usr/bin/env bash
# issue 21: the suite's own build (configured --prefix=/usr, as make build
# does) packaged with dist/make-deb.sh (no lintian error), installed with
# dpkg -i, used from the installed paths only, and purged: the user and
# groups, /etc/backplane and /var/lib/backplane with their modes, `plugins`,
# `check` of the shipped example, a run as the service's user of a site file
# in /etc whose state lands in /var/lib/backplane, the man pages rendered,
# the bash completion, backplane.pc, `systemd-analyze verify` of the unit.
# Not parallel with other tests (meson: is_parallel false); one at a time
# across worktrees too (a lock in /run/lock), since dpkg is one per machine.
. "$(dirname "$0")/lib.sh"
unset BP_PLUGIN_PATH BP_MODEL_PATH
SRC=$BP_SOURCE_ROOT
skip_all() { echo "1..0 # SKIP $1"; exit 0; }
[ "$(id -u)" = 0 ] || skip_all "needs root (dpkg -i)"
command -v dpkg-deb >/dev/null && command -v dpkg-shlibdeps >/dev/null || skip_all "needs dpkg-dev"
prefix=$(meson introspect --buildoptions "$BP_BUILD_ROOT" |
         python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == 'prefix'))")
[ "$prefix" = /usr ] || skip_all "the build is configured for $prefix, not /usr (make build sets up /usr)"

exec 9>/run/lock/backplane-deb-test.lock
flock -w 300 9 || skip_all "another deb test holds /run/lock/backplane-deb-test.lock"
for p in backplane libbackplane0 libbackplane-dev; do
    if dpkg-query -W -f='${Status}' $p 2>/dev/null | grep -q "ok installed"; then
        skip_all "a $p package is installed on this machine: a test does not replace it"
    fi
done
had_user=0; getent passwd backplane >/dev/null && had_user=1
had_etc=0; [ -e /etc/backplane ] && had_etc=1
cleanup() {
    dpkg --purge backplane libbackplane-dev libbackplane0 >/dev/null 2>&1
    rm -f /etc/backplane/t21.yaml /etc/backplane/t21.env
    rm -f /var/lib/backplane/t21*
    [ $had_etc = 1 ] || rmdir /etc/backplane /var/lib/backplane 2>/dev/null
    if [ $had_user = 0 ]; then
        deluser --system --quiet backplane >/dev/null 2>&1
        delgroup --system --quiet backplane-review >/dev/null 2>&1
        delgroup --system --quiet backplane >/dev/null 2>&1
    fi
    rm -rf "$TMP"
}
trap cleanup EXIT

cd "$TMP"
# ---- the package ----
t0=$(date +%s%N)
"$SRC/dist/make-deb.sh" "$BP_BUILD_ROOT" "$TMP" >deb.out 2>deb.err; rc=$?
DEB=$(tail -n 1 deb.out)
DEBS=$(cat deb.out)
[ $rc -eq 0 ] && [ -f "$DEB" ] && ok "make-deb.sh builds $(basename "$DEB") (lintian: no error)" ||
    { not_ok "make-deb.sh (exit $rc)"; sed 's/^/#   /' deb.err; finish; exit 1; }
echo "# packaged in $(( ($(date +%s%N) - t0) / 1000000 )) ms"
[ "$(basename "$DEB")" = "backplane_$(meson introspect --projectinfo "$BP_BUILD_ROOT" |
    python3 -c "import json,sys; print(json.load(sys.stdin)['version'])")_$(dpkg --print-architecture).deb" ] &&
    ok "named backplane_VERSION_ARCH.deb" || not_ok "named backplane_VERSION_ARCH.deb (got $(basename "$DEB"))"
ver=$(dpkg-deb -f "$DEB" Version)
eq() { [ "$2" = "$3" ] && ok "$1" || not_ok "$1 (got '$2', want '$3')"; }
eq "... with the library and the SDK beside it (libbackplane0, libbackplane-dev)" \
    "$(for d in $DEBS; do basename "$d"; done | tr '\n' ' ')" \
    "libbackplane0_${ver}_$(dpkg --print-architecture).deb libbackplane-dev_${ver}_$(dpkg --print-architecture).deb $(basename "$DEB") "
LIBDEB=$(sed -n 1p deb.out); DEVDEB=$(sed -n 2p deb.out)
dpkg-deb -f "$DEB" Depends >depends
contains "Depends come from the linked libraries (libsystemd: journal, sd_notify)" depends "libsystemd0"
contains "... the very libbackplane0 it was built with" depends "libbackplane0 (= $ver)"
contains "... and adduser for the maintainer scripts" depends "adduser"
dpkg-deb -f "$LIBDEB" Depends >libdepends
contains "libbackplane0 depends on what it links (libyaml)" libdepends "libyaml-0-2"
dpkg-deb -c "$LIBDEB" | awk '{print $6}' >lib.list
contains "... holds the library under its SONAME" lib.list "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libbackplane.so.0"
dpkg-deb -c "$DEVDEB" | awk '{print $6}' >dev.list
contains "libbackplane-dev holds the .so link" dev.list "./usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libbackplane.so"
contains "... backplane.pc" dev.list "/pkgconfig/backplane.pc"
contains "... and the headers" dev.list "./usr/include/backplane/plugin.h"
dpkg-deb -c "$DEB" | awk '{print $6}' >bin.list
lacks "backplane holds none of them" bin.list "libbackplane.so"
sanitize=$(meson introspect --buildoptions "$BP_BUILD_ROOT" |
           python3 -c "import json,sys; print(next(o['value'] for o in json.load(sys.stdin) if o['name'] == 'b_sanitize'))")
if [ "$sanitize" = none ]; then
    lacks "lintian printed no error" deb.err "lintian: E:"
    for tag in package-name-doesnt-match-sonames link-to-shared-library-in-wrong-package \
               maintainer-script-calls-systemctl; do
        lacks "... nor $tag" deb.err "$tag"
    done
    n=$(grep -c "lintian: W:" deb.err)
    echo "# lintian warnings: $n"
    grep "lintian: W:" deb.err | sed 's/^/#   /'
else
    echo "# a b_sanitize=$sanitize build: no lintian run (make-deb.sh says so)"
    contains "make-deb.sh says a sanitizer build is not for shipping" deb.err "not to ship"
fi

# A site file and its secrets put in place before the package: postinst
# gives them their owners and modes.
mkdir -p /etc/backplane
cat >/etc/backplane/t21.yaml <<'Y'
site: t21
connectors:
  in: { plugin: file, path: /var/lib/backplane/t21-in.jsonl }
  out: { plugin: file, path: /var/lib/backplane/t21-out.jsonl }
routes:
  r:
    from: in
    through: [ extract: { model: invoices, text: data.body, into: data.invoice } ]
    to: out
Y
echo "T21_SECRET=s3cret" >/etc/backplane/t21.env
chmod 0644 /etc/backplane/t21.yaml /etc/backplane/t21.env

exit_is "dpkg -i installs the three" 0 dpkg -i $DEBS
[ $TAP_FAILED -eq 0 ] || { sed 's/^/#   /' "$ERR"; finish; exit 1; }
getent passwd backplane >user
contains "the system user backplane, home /var/lib/backplane, no login" user ":/var/lib/backplane:/usr/sbin/nologin"
[ "$(id -gn backplane)" = backplane ] && ok "... in its group backplane" || not_ok "... in its group backplane (got $(id -gn backplane))"
getent group backplane-review >/dev/null && ok "the group backplane-review" || not_ok "the group backplane-review"
mode() { stat -c '%a %U:%G' "$1"; }
eq "/etc/backplane is 0750 root:backplane" "$(mode /etc/backplane)" "750 root:backplane"
eq "a site file is 0640 root:backplane" "$(mode /etc/backplane/t21.yaml)" "640 root:backplane"
eq "its .env is 0600 root:root" "$(mode /etc/backplane/t21.env)" "600 root:root"
eq "/var/lib/backplane is 0750 backplane:backplane-review" "$(mode /var/lib/backplane)" "750 backplane:backplane-review"

# ---- from the installed paths only ----
exit_is "backplane plugins (installed)" 0 /usr/bin/backplane plugins
n=$(grep -cE '^[a-z]' "$OUT")
eq "... lists the 13 plugins" "$n" 13
contains "... from the plugin directory" "$OUT" "(searched: /usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/backplane/plugins)"
lacks "... none refused" "$OUT" "(not loadable)"
exit_is "check of the shipped example" 0 /usr/bin/backplane check /usr/share/doc/backplane/examples/file-pipeline/site.yaml
echo '{"body": "Invoice INV-21 from Acme GmbH, total EUR 99.00"}' >/var/lib/backplane/t21-in.jsonl
chown backplane /var/lib/backplane/t21-in.jsonl
exit_is "run as the service's user (backplane, group backplane-review)" 0 \
    setpriv --reuid=backplane --regid=backplane-review --init-groups /usr/bin/backplane run /etc/backplane/t21.yaml
[ $TAP_FAILED -eq 0 ] || sed 's/^/#   /' "$ERR"
[ -f /var/lib/backplane/t21.state.db ] && ok "... the site file in /etc keeps its state in /var/lib/backplane" ||
    not_ok "... no /var/lib/backplane/t21.state.db"
[ -e /etc/backplane/t21.state.db ] && not_ok "... nothing written beside the site file" || ok "... nothing written beside the site file"
eq "... the state file is 0600 backplane's" "$(stat -c '%a %U' /var/lib/backplane/t21.state.db)" "600 backplane"
contains "... model 'invoices' found in /usr/share/backplane/models" /var/lib/backplane/t21-out.jsonl '"invoice"'
exit_is "checkpoint list from root's shell finds the same state" 0 /usr/bin/backplane checkpoint list /etc/backplane/t21.yaml
contains "... the source position the run committed" "$OUT" "offset:/var/lib/backplane/t21-in.jsonl"

# The owner as the service runs it: its control socket is 0660 in the
# group backplane-review, and a reviewer (here nobody, in that group and in
# backplane to read the site file) asks it for the status.
setpriv --reuid=backplane --regid=backplane-review --init-groups \
    /usr/bin/backplane run --serve /etc/backplane/t21.yaml 2>serve.log & SP=$!
for i in $(seq 100); do [ -S /var/lib/backplane/t21.state.db.sock ] && break; sleep 0.1; done
eq "the control socket is 0660 backplane:backplane-review" \
    "$(mode /var/lib/backplane/t21.state.db.sock)" "660 backplane:backplane-review"
exit_is "a reviewer asks the owner for the status through it" 0 \
    setpriv --reuid=nobody --regid=nogroup --groups="$(getent group backplane-review | cut -d: -f3),$(getent group backplane | cut -d: -f3)" \
    /usr/bin/backplane status /etc/backplane/t21.yaml
contains "... and gets the owner's answer" "$OUT" "site t21: owner pid $SP"
exit_is "someone in neither group cannot read the site file" 1 \
    setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/backplane status /etc/backplane/t21.yaml
kill -TERM $SP; wait $SP; rc=$?
eq "the owner stops on SIGTERM" "$rc" 0

# ---- the unit ----
UNIT=/lib/systemd/system/backplane@.service
[ -f $UNIT ] && ok "backplane@.service installed" || not_ok "backplane@.service installed"
if command -v systemd-analyze >/dev/null; then
    exit_is "systemd-analyze verify backplane@t21.service" 0 systemd-analyze verify "backplane@t21.service"
    [ -s "$ERR" ] && { not_ok "... says nothing"; sed 's/^/#   /' "$ERR"; } || ok "... says nothing"
else
    not_ok "systemd-analyze is missing (make deps installs systemd)"
fi
for k in "Type=notify" "ExecReload=/bin/kill -HUP \$MAINPID" "StateDirectory=backplane" \
         "EnvironmentFile=-/etc/backplane/%i.env" "NoNewPrivileges=yes" "ProtectSystem=strict" \
         "PrivateTmp=yes" "User=backplane" "Group=backplane-review" "WatchdogSec=" \
         "ExecStart=/usr/bin/backplane run --serve /etc/backplane/%i.yaml"; do
    grep -qF -- "$k" $UNIT || not_ok "the unit has $k"
done
ok "the unit: notify, reload by SIGHUP, state directory, env file, hardening"

# ---- man pages, completion, SDK ----
for page in 1:backplane 5:backplane-site; do
    f=$(man -w "${page%%:*}" "${page#*:}" 2>/dev/null)
    eq "man -w ${page#*:}(${page%%:*})" "$f" "/usr/share/man/man${page%%:*}/${page#*:}.${page%%:*}.gz"
    MANWIDTH=80 man --warnings -l "$f" >page.txt 2>page.err
    [ -s page.err ] && { not_ok "... renders without groff warnings"; sed 's/^/#   /' page.err; } ||
        ok "... renders without groff warnings"
done
MANWIDTH=80 man -l /usr/share/man/man1/backplane.1.gz >man1.txt 2>/dev/null
contains "backplane(1) has each command's --help" man1.txt "usage: backplane review list SITE"
contains "... the plugins' commands" man1.txt "backplane extract train"
contains "... the exit codes of --help" man1.txt "a review or dlq decision still pending after --wait"
MANWIDTH=80 man -l /usr/share/man/man5/backplane-site.5.gz >man5.txt 2>/dev/null
contains "backplane-site(5) has the loader's keys" man5.txt "outage_limit"
contains "... a plugin's options (plugins --doc)" man5.txt "follow (bool, default false)"
contains "... the default state rule" man5.txt "/var/lib/backplane/NAME.state.db"
comp=$(bash -c '. /usr/share/bash-completion/completions/backplane; COMP_WORDS=(backplane rev); COMP_CWORD=1; _backplane; echo "${COMPREPLY[*]}"')
eq "bash completion: commands" "$comp" "review"
comp=$(bash -c '. /usr/share/bash-completion/completions/backplane; COMP_WORDS=(backplane dlq r); COMP_CWORD=2; _backplane; echo "${COMPREPLY[*]}"')
eq "bash completion: a command's actions" "$comp" "replay"
exit_is "pkg-config --cflags --libs backplane (libbackplane-dev and its Depends)" 0 pkg-config --cflags --libs backplane
contains "... links -lbackplane" "$OUT" "-lbackplane"
[ -e "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/$(readlink "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libbackplane.so")" ] &&
    ok "... whose libbackplane.so link resolves" || not_ok "... whose libbackplane.so link resolves"
pd=$(pkg-config --variable=plugindir backplane)
eq "backplane.pc's plugindir" "$(realpath -m "$pd")" "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/backplane/plugins"

# ---- removed ----
exit_is "dpkg --purge" 0 dpkg --purge backplane libbackplane-dev libbackplane0
[ -e /usr/bin/backplane ] && not_ok "the program is gone" || ok "the program is gone"
[ -e "/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH)/libbackplane.so.0" ] && not_ok "... and the library" ||
    ok "... and the library"
[ -f /var/lib/backplane/t21.state.db ] && ok "the admin's state file is kept" || not_ok "the admin's state file is kept"
finish
