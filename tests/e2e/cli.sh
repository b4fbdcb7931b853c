#!/usr/bin/env bash
# The command line: version, help, usage errors and exit codes, plugin listing,
# and the loader's refusals, one line each naming the file and the reason.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE

"$B" --version >"$TMP/v" 2>&1
contains "--version names the ABI" "$TMP/v" "plugin ABI 1."
exit_is "--help exits 0" 0 "$B" --help
for c in run check plugins; do
    exit_is "$c --help exits 0" 0 "$B" $c --help
cp "$OUT" "$TMP/h"
    contains "$c --help shows usage" "$TMP/h" "usage: backplane $c"
done
exit_is "unknown command is a usage error (2)" 2 "$B" frobnicate
cp "$ERR" "$TMP/e"
contains "unknown command is named" "$TMP/e" "unknown command 'frobnicate'"
exit_is "run without a site is a usage error" 2 "$B" run
exit_is "bad --log-level is a usage error" 2 "$B" check x.yaml --log-level loud

"$B" plugins >"$TMP/list" 2>&1
contains "plugins lists file" "$TMP/list" "file "
contains "plugins lists set" "$TMP/list" "set "
contains "file is source and sink" "$TMP/list" "source,sink"

"$B" plugins --doc file >"$TMP/doc" 2>&1
contains "--doc shows an option" "$TMP/doc" "max_line"
contains "--doc shows required" "$TMP/doc" "required"
contains "--doc shows enum choices" "$TMP/doc" "[one of: jsonl cloudevents cloudevents-batch]"
exit_is "--doc of a missing plugin fails" 1 "$B" plugins --doc nosuch
cp "$ERR" "$TMP/e"
contains "missing plugin lists the searched dirs" "$TMP/e" "plugin 'nosuch' not found (searched:"

# Plugin commands, in both word orders; errors name what the plugin offers.
export BP_PLUGIN_PATH_SAVED="$BP_PLUGIN_PATH"
export BP_PLUGIN_PATH="$BP_TEST_FIXTURES"
exit_is "plugin command PLUGIN NAME runs" 0 "$B" fx_sink echo a "b c"
cp "$OUT" "$TMP/pc"
contains "plugin command gets its arguments" "$TMP/pc" "echo a b c"
exit_is "plugin command NAME PLUGIN runs" 0 "$B" echo fx_sink x
cp "$OUT" "$TMP/pc"
contains "NAME PLUGIN order gets its arguments" "$TMP/pc" "echo x"
exit_is "plugin command's failure is its exit code" 1 "$B" fx_sink echo fail
cp "$ERR" "$TMP/pc"
contains "plugin command's error reaches stderr" "$TMP/pc" "asked to fail"
exit_is "unknown command of a known plugin is a usage error" 2 "$B" fx_sink frob
cp "$ERR" "$TMP/pc"
contains "unknown plugin command lists the commands" "$TMP/pc" "plugin 'fx_sink' has no command 'frob'; it has: echo"
"$B" plugins --doc fx_sink >"$TMP/pc" 2>&1
contains "--doc lists plugin commands" "$TMP/pc" "backplane fx_sink echo: print the arguments"
export BP_PLUGIN_PATH="$BP_PLUGIN_PATH_SAVED"

# Fixtures: the loader refuses each with one line naming file and reason.
"$B" plugins --plugin-dir "$BP_TEST_FIXTURES" >"$TMP/fx" 2>&1
contains "wrong ABI major refused" "$TMP/fx" "fx_wrong_abi.so: plugin ABI 2.0, this host speaks ABI 1.x"
contains "missing symbol refused" "$TMP/fx" "fx_no_symbol.so: not a backplane plugin: no symbol bp_plugin_entry"
contains "older minor descriptor loads" "$TMP/fx" "fx_old_minor"

# A world-writable plugin directory is refused.
mkdir -p "$TMP/ww" && chmod 0777 "$TMP/ww"
exit_is "world-writable plugin dir refused" 1 "$B" plugins --plugin-dir "$TMP/ww"
cp "$ERR" "$TMP/ww.err"
contains "world-writable reason given" "$TMP/ww.err" "is world-writable: refusing to load plugins"
# A corrupt or foreign state file: a clear error naming it, and no crash.
printf '{"x":1}\n' >"$TMP/in.jsonl"
cat >"$TMP/st.yaml" <<YAML
site: st
state: $TMP/st.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  r: { from: in, to: out }
YAML
head -c 4096 /dev/urandom >"$TMP/st.db"
exit_is "corrupt state file refused" 1 "$B" run "$TMP/st.yaml"
cp "$ERR" "$TMP/st.err"
contains "corrupt state file named with recovery" "$TMP/st.err" "state file $TMP/st.db: not a SQLite database"
contains "recovery is pointed to" "$TMP/st.err" "see docs/state.md"
rm -f "$TMP/st.db"
sqlite3 "$TMP/st.db" "CREATE TABLE invoices(id INTEGER)"
exit_is "foreign SQLite database refused" 1 "$B" run "$TMP/st.yaml"
cp "$ERR" "$TMP/st2.err"
contains "foreign database named" "$TMP/st2.err" "not a backplane state file (application_id 0x00000000, 1 tables)"
[ "$(sqlite3 "$TMP/st.db" "SELECT count(*) FROM sqlite_master")" -eq 1 ] && ok "foreign database left untouched" || not_ok "foreign database left untouched"
# A relative BP_PLUGIN_PATH means what it meant where the command started,
# though every command works in the site file's directory (make demo passes
# build/connectors:build/plugins from the source tree; it found no plugin).
mkdir -p "$TMP/rel/pl" "$TMP/rel/site"
cp "$BP_BUILD_ROOT/connectors/file/file.so" "$TMP/rel/pl/"
printf 'site: rel\nconnectors:\n  in: { plugin: file, path: in.jsonl }\n  out: { plugin: file, path: out.jsonl }\nroutes:\n  r: { from: in, to: out }\n' >"$TMP/rel/site/rel.yaml"
(cd "$TMP/rel" && BP_PLUGIN_PATH=pl "$B" check site/rel.yaml >"$TMP/rel.out" 2>&1); rc=$?
if [ "$rc" -eq 0 ]; then ok "a relative BP_PLUGIN_PATH is taken from where the command started"
else not_ok "a relative BP_PLUGIN_PATH is taken from where the command started (exit $rc)"; sed 's/^/#   | /' "$TMP/rel.out"; fi
finish
