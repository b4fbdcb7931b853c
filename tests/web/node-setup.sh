#!/usr/bin/env bash
# Installs puppeteer-core 24 (npm; 25 needs a newer Node than Debian 12's 18)
# into DIR/node_modules once, for the workbench's browser test (test set-up
# time; it downloads no browser: the test drives Debian's chromium). Usage:
# node-setup.sh DIR; prints the node_modules path.
set -eu
dir=$1
want=24.43.1
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -f "$dir/node_modules/puppeteer-core/package.json" ] ||
   ! grep -q "\"version\": \"$want\"" "$dir/node_modules/puppeteer-core/package.json"; then
    command -v npm >/dev/null || { echo "npm is not installed (make deps installs it)" >&2; exit 1; }
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "puppeteer-core@$want" >&2
fi
echo "$dir/node_modules"
