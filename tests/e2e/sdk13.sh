#!/usr/bin/env bash
# The ABI 1.3 host entries through a real run (tests/plugins/fx_sdk13.c):
# checkpoint list / delete by prefix / atomic multi-key set, flag_add,
# status_str, model_find (`model: invoices` finds the shipped model by name)
# and corrections_get (a reviewer's correction read back, per vendor).
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
FX=(--plugin-dir "$BP_TEST_FIXTURES")
cat >in.jsonl <<'EOF2'
{"no": "INV-1", "vendor": "Acme", "total": 5000}
EOF2
cat >s.yaml <<YAML
site: sdk13
state: $TMP/state.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/out.jsonl }
routes:
  ap:
    from: in
    through: [ fx_sdk13: {} ]
    review: { when: "data.total > 1000" }
    to: out
YAML
exit_is "run 1 parks the big invoice" 0 "$B" run s.yaml "${FX[@]}"
"$B" review list s.yaml >list 2>&1
S=$(awk 'NR == 2 { print $1 }' list)
exit_is "a reviewer corrects the vendor's currency" 0 env BP_PLUGIN_PATH="$BP_PLUGIN_PATH:$BP_TEST_FIXTURES" "$B" review correct s.yaml "$S" --add --set data.currency=EUR
# Run 2 delivers the corrected INV-1 first; then INV-2 of the same vendor
# sees the correction, INV-3 of another does not.
echo '{"no": "INV-2", "vendor": "Acme", "total": 10}' >>in.jsonl
echo '{"no": "INV-3", "vendor": "Other", "total": 10}' >>in.jsonl
exit_is "run 2" 0 "$B" run s.yaml "${FX[@]}"

py() { python3 -c "import json,sys; d=[json.loads(l) for l in open('out.jsonl')]; r=[x for x in d if x['no'] == '${NO:-INV-2}'][0]['sdk13']; print($1)"; }
[ "$(py "r['set_many'], r['listed_a'], r['delete_prefix'], r['deleted'], r['listed_all']")" = "0 ['a:1', 'a:2'] 0 2 ['b:1']" ] \
    && ok "checkpoint set_many, list by prefix, delete by prefix" \
    || not_ok "checkpoint set_many, list by prefix, delete by prefix (got: $(py "r"))"
[ "$(py "r['set_many_null_key'], r['after_refused']")" = "-2 []" ] \
    && ok "set_many with a NULL key is refused and changes nothing" \
    || not_ok "set_many with a NULL key is refused and changes nothing (got $(py "r['set_many_null_key'], r['after_refused']"))"
[ "$(py "r['flag_add'], r['flag_add_bad'], r['status_str']")" = "0 -2 not connected" ] \
    && ok "flag_add raises a flag, refuses a bad name; status_str names a status" \
    || not_ok "flag_add / status_str (got $(py "r['flag_add'], r['flag_add_bad'], r['status_str']"))"
contains "the flag follows <backplane/flags.h>: extension and data.flags" out.jsonl '"flags":[{"flag":"fx_seen","reason":"seen by fx_sdk13","by":"fx_sdk13"}]'
[ "$(py "r.get('model_path', r.get('model_error'))")" = "$BP_SOURCE_ROOT/plugins/extract/models/invoices.model" ] \
    && ok "model_find: 'invoices' is the build tree's plugins/extract/models/invoices.model" \
    || not_ok "model_find: 'invoices' (got $(py "r.get('model_path', r.get('model_error'))"))"

mem() { python3 -c "import json; d={json.loads(l)['no']: json.loads(l)['sdk13'] for l in open('out.jsonl')}; print(d['$1']['corrections_status'], d['$1'].get('memory'))"; }
[ "$(mem INV-2)" = "0 ['data.currency=\"EUR\"']" ] && ok "corrections_get: Acme's correction is read back" \
    || not_ok "corrections_get: Acme's correction is read back (got $(mem INV-2))"
[ "$(mem INV-3)" = "0 []" ] && ok "corrections_get: another vendor has none" \
    || not_ok "corrections_get: another vendor has none (got $(mem INV-3))"

# model_find by BP_MODEL_PATH, and the error that lists where it looked.
mkdir -p mymodels && cp "$BP_SOURCE_ROOT/plugins/extract/models/sroie.model" mymodels/custom.model
sed -i 's/fx_sdk13: {}/fx_sdk13: { model: custom }/' s.yaml
echo '{"no": "INV-4", "vendor": "Acme", "total": 10}' >>in.jsonl
BP_MODEL_PATH="$TMP/mymodels" "$B" run s.yaml "${FX[@]}" >/dev/null 2>&1
NO=INV-4
[ "$(py "r.get('model_path', r.get('model_error'))")" = "$TMP/mymodels/custom.model" ] \
    && ok "model_find searches BP_MODEL_PATH" || not_ok "model_find searches BP_MODEL_PATH (got $(py "r.get('model_path', r.get('model_error'))"))"
sed -i 's/model: custom/model: nosuch/' s.yaml
echo '{"no": "INV-5", "vendor": "Acme", "total": 10}' >>in.jsonl
"$B" run s.yaml "${FX[@]}" >/dev/null 2>&1
NO=INV-5 py "r.get('model_error', '')" >merr
contains "model_find names what it searched" merr "model 'nosuch' not found (searched $TMP, $TMP/models, "
contains "and how to fix it" merr "; give a path, or add its directory to BP_MODEL_PATH)"

# extract takes a model by name.
cat >x.yaml <<YAML
site: x
state: $TMP/x.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  out: { plugin: file, path: $TMP/x.jsonl }
routes:
  r: { from: in, through: [ extract: { model: nosuch-model } ], to: out }
YAML
exit_is "extract with an unknown model name fails to start" 1 "$B" run x.yaml
contains "saying where it looked" "$ERR" "model: model 'nosuch-model' not found (searched $TMP, $TMP/models, "
sed -i 's/nosuch-model/invoices/' x.yaml
exit_is "check accepts extract: { model: invoices }" 0 "$B" check x.yaml
finish
