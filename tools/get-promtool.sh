#!/bin/sh
# promtool for the suite's `promtool check metrics` (DESIGN.md §9), taken out
# of Debian's `prometheus` package WITHOUT installing it: installing would
# start a Prometheus server on a systemd host. `apt-get download` fetches the
# .deb, `dpkg-deb -x` unpacks it into DIR; nothing runs, nothing is
# registered with dpkg. Cached: a second call finds DIR/usr/bin/promtool.
# usage: tools/get-promtool.sh DIR   (prints the promtool path; exit 1 when
# there is none to be had, e.g. offline)
set -eu
dir=${1:?usage: get-promtool.sh DIR}
bin=$dir/usr/bin/promtool
if [ -x "$bin" ]; then echo "$bin"; exit 0; fi
if command -v promtool >/dev/null 2>&1; then command -v promtool; exit 0; fi
mkdir -p "$dir/deb"
( cd "$dir/deb" && ls prometheus_*.deb >/dev/null 2>&1 || apt-get download -q prometheus >/dev/null 2>&1 ) || {
    echo "get-promtool: apt-get download prometheus failed (run apt-get update?)" >&2; exit 1; }
dpkg-deb -x "$(ls "$dir"/deb/prometheus_*.deb | head -1)" "$dir/x"
mkdir -p "$dir/usr/bin"
mv "$dir/x/usr/bin/promtool" "$bin"
rm -rf "$dir/x" "$dir/deb"
echo "$bin"
