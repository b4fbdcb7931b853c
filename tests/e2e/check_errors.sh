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
contains "unknown route key" "$E" "$S:15:5: unknown key 'bogus' in a route (valid: from, through, review, to, errors, batch, linger, workers, order_key, audit, lease)"
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

# Roles (ABI 1.3): what a sink needs is checked before anything runs; an
# option given for the wrong role at a use is named; a SOAP request map of
# the wrong shape fails `check`, not init.
cat >"$TMP/roles.yaml" <<'YAML'
site: roles
state: STATE
connectors:
  erp: { plugin: odbc, dsn: "Driver=SQLite3;Database=erp.db", table: invoices }
  erp_out: { plugin: odbc, dsn: "Driver=SQLite3;Database=erp.db" }
  crm: { plugin: soap, endpoint: "http://localhost:1/crm", operation: Get,
         request: { Vendor: { name: data.vendor }, Id: "data..x", c:Code: data.code } }
routes:
  r:
    from: erp
    to: [erp_out, { erp: { max_rows: 5 } }, crm]
  r2: { from: { erp: { mode: upsert } }, to: { erp_out: { table: ap, mode: delete } } }
YAML
R=$TMP/roles.yaml
"$B" check "$R" >"$TMP/roles.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && ok "roles: check exits 1" || not_ok "roles: check exits 1 (got $rc)"
contains "a sink without table fails check" "$TMP/roles.out" "$R:11:10: missing option 'table' for connector 'erp_out' (plugin 'odbc'): a sink needs it"
contains "an option for another role at a use" "$TMP/roles.out" "$R:11:28: option 'max_rows' of connector 'erp' (plugin 'odbc') is for a source, not a sink"
contains "a SOAP request value of the wrong shape fails check" "$TMP/roles.out" "$R:7:29: option 'request.Vendor' of connector 'crm' (plugin 'soap') must be a string, got a map"
contains "a bad envelope path in a SOAP request, in the same pass" "$TMP/roles.out" "$R:7:56: connector 'crm' (plugin 'soap'): option 'request.Id': invalid envelope path 'data..x' (a fixed value is written '=text')"
contains "an undeclared namespace prefix in a SOAP request" "$TMP/roles.out" "$R:7:75: connector 'crm' (plugin 'soap'): option 'request.c:Code': namespace prefix 'c' is not in namespaces"
contains "a sink mode at a source fails check" "$TMP/roles.out" "$R:12:30: connector 'erp' (plugin 'odbc'): option 'mode': 'upsert' is a sink mode: a source takes bulk, incrementing, timestamp or timestamp+incrementing"
contains "what a sink mode needs fails check" "$TMP/roles.out" "$R:12:76: connector 'erp_out' (plugin 'odbc'): option 'mode': mode delete needs 'key' (the key column(s))"
"$B" plugins --doc odbc >"$TMP/odbc.doc" 2>&1
contains "--doc shows what an option is required for" "$TMP/odbc.doc" "[required for: sink]"

# One pass: a plugin's own check runs although another option of the same
# instance failed the schema.
cat >"$TMP/onepass.yaml" <<'YAML'
site: onepass
state: STATE
connectors:
  in: { plugin: file, path: in.jsonl }
  out: { plugin: file, path: out.jsonl }
routes:
  r:
    from: in
    through:
      - policy: { rules: { big: { when: "data.total >", flag: big } }, bogus: 1 }
    to: out
YAML
O=$TMP/onepass.yaml
"$B" check "$O" >"$TMP/onepass.out" 2>&1
contains "schema error" "$TMP/onepass.out" "$O:10:72: unknown option 'bogus' for transform 'policy'"
contains "plugin check error in the same pass" "$TMP/onepass.out" "$O:10:54: transform 'policy': option 'rules.big.when': rule 'big': when: column 13: unexpected end of input"
contains "plugin check names the rule" "$TMP/onepass.out" "option 'rules.big.when'"

# Kafka: check sets every librdkafka property as run does, without connecting,
# and reports librdkafka's refusal at the property.
if [ -e "$BP_BUILD_ROOT/connectors/kafka/kafka.so" ]; then
cat >"$TMP/kafka.yaml" <<'YAML'
site: kafka
state: STATE
connectors:
  in: { plugin: file, path: in.jsonl }
  events: { plugin: kafka, brokers: "127.0.0.1:1", topic: t,
            properties: { linger.msg: 5, acks: all } }
routes:
  r: { from: in, to: events }
YAML
K=$TMP/kafka.yaml
"$B" check "$K" >"$TMP/kafka.out" 2>&1
rc=$?
[ "$rc" -eq 1 ] && ok "kafka: check exits 1 on a bad property" || not_ok "kafka: check exits 1 (got $rc)"
contains "librdkafka's refusal at the property" "$TMP/kafka.out" "$K:6:39: connector 'events' (plugin 'kafka'): option 'properties.linger.msg': No such configuration property: \"linger.msg\""
fi

# One vocabulary: an old spelling is an error naming the new one.
cat >"$TMP/renamed.yaml" <<'YAML'
site: renamed
state: STATE
connectors:
  mail: { plugin: imap, url: "imaps://mail.example.com/INBOX", user: ap,
          verify_tls: false, ca_file: ca.pem, tls: { mode: try } }
  erp: { plugin: odbc, dsn: "Driver=SQLite3;Database=erp.db", table: t, interval: 5s,
         once: true }
  crm: { plugin: soap, endpoint: "https://crm.example.com/ws", operation: Get, tls_verify: false }
  out: { plugin: file, path: out.jsonl }
routes:
  a: { from: mail, to: out }
  b: { from: erp, to: out, through: [ dedupe: { amount_tolerance: 0.5 } ] }
  c: { from: crm, to: out }
YAML
N=$TMP/renamed.yaml
"$B" check "$N" >"$TMP/renamed.out" 2>&1
contains "verify_tls renamed" "$TMP/renamed.out" "$N:5:11: option 'verify_tls' was renamed: use 'tls: { verify: ... }'"
contains "ca_file renamed" "$TMP/renamed.out" "$N:5:30: option 'ca_file' was renamed: use 'tls: { ca_file: ... }'"
contains "tls modes are none, starttls, tls" "$TMP/renamed.out" "$N:5:60: option 'tls.mode' of connector 'mail' (plugin 'imap') must be one of: none, starttls, tls; got 'try'"
contains "interval renamed" "$TMP/renamed.out" "$N:6:73: option 'interval' was renamed: use 'poll_interval'"
contains "once renamed" "$TMP/renamed.out" "$N:7:10: option 'once' was renamed: use 'follow' (once: true is follow: false)"
contains "tls_verify renamed" "$TMP/renamed.out" "$N:8:80: option 'tls_verify' was renamed: use 'tls: { verify: ... }'"
contains "dedupe's tolerance renamed" "$TMP/renamed.out" "$N:12:49: option 'amount_tolerance' was renamed: use 'tolerance' (as in match)"
lacks "a renamed option is not listed as valid" "$TMP/renamed.out" "valid:"

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
# The workbench's review options (issue 15), each bad value with its position.
cat >"$TMP/rv.yaml" <<YAML
site: rv
state: $TMP/rv.db
connectors:
  in: { plugin: file, path: $TMP/none.jsonl }
  out: { plugin: file, path: $TMP/rv-out.jsonl }
  out2: { plugin: file, path: $TMP/rv-out2.jsonl }
routes:
  r:
    from: in
    review: { when: "confidence < 0.5", sla: soon, confidence_threshold: 1.5, reject_reasons: [dup, ""] }
    to: out
  s:
    from: in
    review: { when: "confidence < 0.5", reject_reasons: other }
    to: out2
YAML
exit_is "bad review options: check exits 1" 1 "$B" check "$TMP/rv.yaml"
cp "$ERR" "$TMP/rv.err"
contains "review.sla not a duration" "$TMP/rv.err" "$TMP/rv.yaml:10:46: review.sla: not a duration (e.g. 4h, 2d is 48h)"
contains "review.confidence_threshold out of range" "$TMP/rv.err" "$TMP/rv.yaml:10:74: review.confidence_threshold: a number from 0 to 1"
contains "an empty reject reason" "$TMP/rv.err" "$TMP/rv.yaml:10:101: review.reject_reasons[1]: a reason is a text of 1 to 200 characters"
contains "reject_reasons not a list" "$TMP/rv.err" "$TMP/rv.yaml:14:57: review.reject_reasons: a list of 1 to 64 reasons"
sed -i -e 's/sla: soon, confidence_threshold: 1.5, reject_reasons: \[dup, ""\]/sla: 4h, confidence_threshold: 0.9, reject_reasons: [dup, "wrong total"]/' \
    -e 's/reject_reasons: other/reject_reasons: [other]/' "$TMP/rv.yaml"
exit_is "good review options pass check" 0 "$B" check "$TMP/rv.yaml"
# admin.* keys: check reports what run would refuse, at the key's position
# (issue 22: they used to be checked by run only).
adm() {   # adm NAME ADMIN-MAP: a site whose line 3 is "admin: ADMIN-MAP"
  printf 'site: adm\nstate: %s/adm.db\nadmin: %s\nconnectors:\n  in: { plugin: file, path: in.jsonl }\nroutes:\n  r: { from: in, to: in }\n' \
    "$TMP" "$2" >"$TMP/$1.yaml"
  "$B" check "$TMP/$1.yaml" >"$TMP/$1.out" 2>&1
  echo $? >"$TMP/$1.rc"
}
adm listen '{ listen: "127.0.0.1:notaport" }'
contains "admin.listen not HOST:PORT" "$TMP/listen.out" "$TMP/listen.yaml:3:18: admin.listen '127.0.0.1:notaport': not HOST:PORT"
[ "$(cat "$TMP/listen.rc")" = 1 ] && ok "a bad admin.listen exits 1" || not_ok "a bad admin.listen exits 1"
adm host '{ listen: "no-such-host.invalid:8443" }'
contains "admin.listen host that does not resolve" "$TMP/host.out" "$TMP/host.yaml:3:18: admin.listen 'no-such-host.invalid:8443': "
adm clear '{ listen: "0.0.0.0:8443" }'
contains "non-loopback without TLS or insecure" "$TMP/clear.out" "$TMP/clear.yaml:3:18: admin.listen '0.0.0.0:8443' is not a loopback address"
adm insecure '{ listen: "0.0.0.0:8443", insecure: true }'
[ "$(cat "$TMP/insecure.rc")" = 0 ] && ok "non-loopback with insecure: true passes check" \
  || not_ok "non-loopback with insecure: true passes check ($(cat "$TMP/insecure.out"))"
adm cert "{ listen: \"0.0.0.0:8443\", tls: { cert: $TMP/no-cert.pem, key: $TMP/no-key.pem } }"
contains "missing cert file" "$TMP/cert.out" "$TMP/cert.yaml:3:39: admin.tls.cert $TMP/no-cert.pem: No such file or directory"
adm half "{ listen: \"127.0.0.1:8443\", tls: { cert: $TMP/no-cert.pem } }"
contains "cert without key" "$TMP/half.out" "$TMP/half.yaml:3:18: admin.tls needs both cert and key"
adm role '{ unix_roles: { root: boss } }'
contains "unknown unix role" "$TMP/role.out" "$TMP/role.yaml:3:30: admin.unix_roles.root: the role must be viewer, reviewer, operator or admin"
adm group '{ unix_roles: { no-such-group-bp: viewer } }'
contains "unknown group" "$TMP/group.out" "$TMP/group.yaml:3:42: admin.unix_roles.no-such-group-bp: no such group"
adm metrics '{ listen: "127.0.0.1:0", metrics: open }'
contains "bad admin.metrics" "$TMP/metrics.out" "$TMP/metrics.yaml:3:42: admin.metrics: protected or public"
adm good '{ listen: "127.0.0.1:0", metrics: public, unix_roles: { root: admin } }'
[ "$(cat "$TMP/good.rc")" = 0 ] && ok "a valid admin map passes check" \
  || not_ok "a valid admin map passes check ($(cat "$TMP/good.out"))"
finish
