#!/usr/bin/env bash
# issue 21: an uninstalled backplane finds its own build tree's plugins and
# models from /proc/self/exe (as uninstalled GStreamer and `meson devenv` do):
# no BP_PLUGIN_PATH, no --plugin-dir. The plugin trust checks (issue 16 #5)
# hold for the build tree as for any directory.
. "$(dirname "$0")/lib.sh"
unset BP_PLUGIN_PATH BP_MODEL_PATH
B=$BACKPLANE
R=$BP_BUILD_ROOT
cd "$TMP"

exit_is "plugins with no plugin path set" 0 "$B" plugins
n=$(grep -cE '^[a-z]' "$OUT")
[ "$n" -eq 13 ] && ok "all 13 plugins are listed" || { not_ok "all 13 plugins are listed (got $n)"; cat "$OUT" | sed 's/^/#   /'; }
for p in file maildir imap smtp kafka odbc soap extract policy classify match set dedupe; do
    grep -qE "^$p " "$OUT" || not_ok "plugin $p listed"
done
contains "the search path is the build tree's" "$OUT" "(searched: $R/connectors:$R/plugins)"
lacks "nothing is refused" "$OUT" "(not loadable)"
exit_is "plugins --doc file" 0 "$B" plugins --doc file
contains "... from the build tree" "$OUT" "file: $R/connectors/file/file.so"

# check on the example, from another directory, with nothing set.
exit_is "check examples/file-pipeline from elsewhere" 0 "$B" check "$BP_SOURCE_ROOT/examples/file-pipeline/site.yaml"

# A model by name: extract's shipped `invoices` from the source tree.
cat >in.jsonl <<'J'
{"body": "Invoice INV-7 from Acme GmbH, total EUR 1,234.00"}
J
cat >m.yaml <<Y
site: bt
state: $TMP/bt.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  r:
    from: in
    through: [ extract: { model: invoices, text: data.body, into: data.invoice } ]
    to: out
Y
exit_is "a site naming model 'invoices' runs" 0 "$B" run m.yaml
[ -s out.jsonl ] && contains "... and extracts with it" out.jsonl '"invoice"' || not_ok "... and extracts with it (no output)"

# The man pages this build generated (dist/meson.build, backplane __man) from
# the same tables: they render cleanly and hold what --help and --doc say.
for page in backplane.1 backplane-site.5; do
    MANWIDTH=80 man --warnings -l "$R/dist/$page" >"$page.txt" 2>"$page.err"
    [ -s "$page.err" ] && { not_ok "$page renders without groff warnings"; sed 's/^/#   /' "$page.err"; } ||
        ok "$page renders without groff warnings"
done
"$B" --help >help.txt
while read -r cmd _; do
    grep -q "^   $cmd" backplane.1.txt || not_ok "backplane(1) has a section for '$cmd' of --help"
done < <(sed -n '/^commands:/,/^$/p' help.txt | grep -E '^  [a-z]' | sed 's/^  //')
ok "backplane(1) has a section for every command --help lists"
"$B" plugins --doc kafka >doc.txt
contains "backplane-site(5) has kafka's options as plugins --doc prints them" backplane-site.5.txt \
    "$(awk '$1 == "brokers" { print "brokers (" $2 }' doc.txt)"
n=$(grep -cE '^   (file|maildir|imap|smtp|kafka|odbc|soap|extract|policy|classify|match|set|dedupe)$' backplane-site.5.txt)
[ "$n" -eq 13 ] && ok "backplane-site(5) has a section per plugin" || not_ok "backplane-site(5) has a section per plugin (got $n)"

# A copied build tree (a CI artifact) finds its own plugins, not the original's.
mkdir -p copy/meson-private copy/core copy/plugins/set
touch copy/build.ninja
cp "$R"/core/backplane "$R"/core/libbackplane.so* copy/core/
cp "$R"/plugins/set/set.so copy/plugins/set/
exit_is "a copied build tree's binary" 0 copy/core/backplane plugins
contains "... lists the copy's plugin" "$OUT" "$TMP/copy/plugins/set/set.so"
lacks "... and not the original tree's" "$OUT" "$R/connectors"
# Its plugin directory writable by the group: refused, with the reason.
chmod g+w copy/plugins/set
exit_is "a group-writable plugin directory in a build tree" 0 copy/core/backplane plugins
contains "... is refused with the reason" "$OUT" "refusing to load: $TMP/copy/plugins/set is writable by group or others (mode 0775): chmod go-w"
chmod g-w copy/plugins/set
chmod o+w copy/plugins
exit_is "a world-writable plugins/ in a build tree" 0 copy/core/backplane plugins
contains "... is refused as a plugin directory" "$ERR" "plugin directory $TMP/copy/plugins is world-writable: refusing to load plugins from it (chmod o-w)"
chmod o-w copy/plugins
# Without the build-tree markers the binary counts as installed.
rm -r copy/meson-private
exit_is "the same binary outside a build tree" 0 copy/core/backplane plugins
lacks "... does not load the copy's plugins" "$OUT" "$TMP/copy/plugins"
finish
