#!/usr/bin/env bash
# Two simultaneous approvals of one parked record, the sink a real SOAP stack
# (the node-soap CRM of tests/soap): before issue 14 both CLIs delivered (two
# UpsertContact calls) and the loser heard "already decided" after it had
# delivered. Now the owner delivers once; the other approval gets "already
# decided by NAME" (HTTP 409) and delivers nothing. Real processes: the bus,
# two CLIs started together, node.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
SOAPDIR=$BP_SOURCE_ROOT/tests/soap
cd "$TMP"
ME=$(id -un)
command -v node >/dev/null || { echo "Bail out! node is not installed"; exit 1; }
NODE_PATH=$("$SOAPDIR/node-setup.sh" "$BP_BUILD_ROOT/tests/soap-node") || {
    echo "Bail out! cannot install node-soap"; exit 1; }
export NODE_PATH
. "$SOAPDIR/crm.sh"
OWNER=
stop_owner() { [ -n "$OWNER" ] && { kill -TERM "$OWNER" 2>/dev/null; wait "$OWNER" 2>/dev/null; OWNER=; }; }
trap 'stop_owner; [ -n "${crm_PID:-}" ] && crm_stop "$crm_PID"; rm -rf "$TMP"' EXIT
wait_for() {
    local t=$(( $1 * 10 )); shift
    while [ $t -gt 0 ]; do "$@" && return 0; sleep 0.1; t=$((t - 1)); done
    return 1
}
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (got '$2', want '$3')"; fi; }

crm_start crm "$TMP/crm" --port 0 --state "$TMP/crm.json"
[ -n "$crm_PORT" ] && ok "node-soap CRM up" || { not_ok "node-soap CRM up"; cat crm.err; finish; exit 1; }
echo '{"id":"P1","name":"Pay me","email":"p@example.com","total":5000}' >in.jsonl
cat >site.yaml <<YAML
site: pay
state: $TMP/pay.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl, follow: true }
  crm:
    plugin: soap
    endpoint: "http://127.0.0.1:$crm_PORT/crm"
    namespace: "urn:example:crm"
    operation: UpsertContact
    soap_action: "urn:example:crm/UpsertContact"
    request:
      Contact/Id: data.id
      Contact/Name: data.name
      Contact/Email: data.email
routes:
  r:
    from: in
    review: { when: "data.total > 1000" }
    to: crm
YAML
"$B" run site.yaml 2>owner.log & OWNER=$!
parked() { "$B" review list site.yaml 2>/dev/null | grep -q 'review.when'; }
wait_for 15 parked && ok "the record is parked" || not_ok "the record is parked"
# Both approvals at once, as two reviewers would.
"$B" review approve site.yaml 1 >a1.out 2>a1.err & A1=$!
"$B" review approve site.yaml 1 >a2.out 2>a2.err & A2=$!
wait $A1; r1=$?; wait $A2; r2=$?
eq "exactly one approval succeeds, the other exits 1" "$(printf '%s\n' $r1 $r2 | sort | tr '\n' ' ')" "0 1 "
cat a1.out a2.out >wins.out; cat a1.err a2.err >loses.err
contains "the winner's record was delivered" wins.out "1 approved by $ME: delivered"
contains "the loser is told who decided, and delivers nothing" loses.err "entry 1: already decided by $ME"
stop_owner
crm_stop "$crm_PID"; crm_PID=
eq "the CRM got exactly one UpsertContact" \
    "$(python3 -c "import json; print(json.load(open('crm.json'))['upserts'])")" 1
eq "one contact P1" "$(python3 -c "import json; print(list(json.load(open('crm.json'))['contacts']))")" "['P1']"
finish
