#!/usr/bin/env bash
# Installs node-soap (npm soap@1.13.0) into DIR/node_modules once, for the SOAP
# tests and benchmark (test set-up time; nothing is fetched while a test runs
# once it is there). Usage: node-setup.sh DIR; prints the node_modules path.
set -eu
dir=$1
mkdir -p "$dir"
exec 9>"$dir/.lock"
flock 9
if [ ! -f "$dir/node_modules/soap/package.json" ] ||
   ! grep -q '"version": "1.13.0"' "$dir/node_modules/soap/package.json"; then
    command -v npm >/dev/null || { echo "npm is not installed (make deps installs it)" >&2; exit 1; }
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error soap@1.13.0 >&2
fi
echo "$dir/node_modules"
