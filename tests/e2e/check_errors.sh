#!/usr/bin/env bash
# `backplane check` on a broken site file prints every error, each with
# file:line:col, exits 1, and never prints a secret.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
S=$TMP/broken.yaml
export BP_TEST_SECRET='s3cr3t-hunter2'
cat >"$S" <<'YAML'
site: broken
state: STATE
connectors:
  inbox: { plugin: file, pth: in.jsonl, format: xml }
  outbox: { plugin: file, path: out.jsonl, max_line: 10 }
  ghost: { plugin: nosuchplugin }
  vault: { plugin: fx_init_fails, password: "${env:BP_TEST_SECRET}" }
routes:
  main:
    from: inbox
    through:
      - set: { set: { data.x: 1 }, when: "data.total >> 3" }
    review: { when: "confidence < " }
    to: [outbox, nowhere, vault]
    bogus: 1
  second:
    from: { outbox: { follow: maybe } }
    to: outbox
  third:
    from: outbox
    to: outbox
    errors: { dead_letter: limbo }
YAML
"$B" check "$S" --plugin-dir "$BP_TEST_FIXTURES" >"$TMP/out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && ok "check exits 1 on errors" || not_ok "check exits 1 on errors (got $rc)"
E=$TMP/out
contains "unknown option with valid list" "$E" "$S:4:26: unknown option 'pth' for connector 'inbox' (plugin 'file') (valid: path, format, type, source, follow, max_line, fsync, file_mode)"
contains "bad enum value" "$E" "$S:4:49: option 'format' of connector 'inbox' (plugin 'file') must be one of: jsonl, cloudevents, cloudevents-batch; got 'xml'"
contains "missing required option at the use" "$E" "$S:10:11: missing required option 'path' for connector 'inbox' (plugin 'file')"
contains "out of range" "$E" "$S:5:54: option 'max_line' of connector 'outbox' (plugin 'file') must be between 64 and 256MiB, got 10"
contains "unknown plugin" "$E" "$S:6:20: connector 'ghost': plugin 'nosuchplugin' not found"
contains "predicate error in a transform option points into the string" "$E" "$S:12:"
contains "predicate error names the option" "$E" "option 'when' of transform 'set'"
contains "review.when error" "$E" "$S:13:"
contains "review.when error names it" "$E" "review.when:"
contains "an unknown dead-letter channel is named with its position" "$E" "$S:22:28: route 'third': no connector named 'limbo'"
contains "unknown connector in to" "$E" "$S:14:18: route 'main': no connector named 'nowhere' (defined: inbox, outbox, ghost, vault)"
contains "unknown route key" "$E" "$S:15:5: unknown key 'bogus' in a route (valid: from, through, review, to, errors, batch, linger, workers, order_key, audit)"
contains "wrong type of a per-route option" "$E" "$S:17:31: option 'follow' of connector 'outbox' (plugin 'file') must be true or false, got 'maybe'"
contains "error count" "$E" "error(s)"
lacks "the secret is never printed" "$E" "s3cr3t-hunter2"

# A YAML syntax error has a position too.
printf 'site: x\nconnectors:\n  a: { plugin: file\nroutes: {}\n' >"$TMP/syntax.yaml"
"$B" check "$TMP/syntax.yaml" >"$TMP/syn" 2>&1
contains "YAML syntax error with position" "$TMP/syn" "$TMP/syntax.yaml:4:"
contains "YAML syntax error says so" "$TMP/syn" "YAML syntax error"

# An unset ${env:} is an error at its position, not an empty string.
printf 'site: x\nstate: "${env:BP_NOT_SET_ANYWHERE}"\nroutes: {}\n' >"$TMP/env.yaml"
"$B" check "$TMP/env.yaml" >"$TMP/env" 2>&1
contains "unset env var reported" "$TMP/env" "$TMP/env.yaml:2:8: environment variable 'BP_NOT_SET_ANYWHERE' is not set"

# A valid site checks clean and exits 0.
cat >"$TMP/good.yaml" <<'YAML'
site: good
connectors:
  in: { plugin: file, path: in.jsonl }
  out: { plugin: file, path: out.jsonl, format: cloudevents }
routes:
  r:
    from: in
    through:
      - set: { set: { data.ok: true }, when: "exists data.id" }
    to: out
YAML
exit_is "valid site exits 0" 0 "$B" check "$TMP/good.yaml"
cat "$OUT" "$ERR" >"$TMP/good"
contains "valid site says ok" "$TMP/good" "ok (2 connector(s), 1 route(s))"

# A secret in a failing init message is masked in the run log.
cat >"$TMP/init.yaml" <<YAML
site: init
state: $TMP/init.db
connectors:
  in: { plugin: file, path: $TMP/none.jsonl }
  vault: { plugin: fx_init_fails, password: "\${env:BP_TEST_SECRET}" }
routes:
  r: { from: in, to: vault }
YAML
exit_is "init failure exits 1" 1 "$B" run "$TMP/init.yaml" --plugin-dir "$BP_TEST_FIXTURES"
cp "$ERR" "$TMP/init.err"
contains "init failure names plugin file and reason" "$TMP/init.err" "fx_init_fails.so): init failed: authentication failed for user 'ap'"
lacks "init failure message masks the secret" "$TMP/init.err" "s3cr3t-hunter2"
finish
