#!/usr/bin/env bash
# The SOAP connector against a real SOAP stack: node-soap (npm soap 1.13.0)
# serving tests/soap/crm.wsdl (GetContacts, UpsertContact, GetAccount), started
# here on a free loopback port. Exercises each node-soap quirk of
# shared/TEST-PEERS.md: faults sent as HTTP 200, plain-text stack-trace 500s, a
# 1.2-shaped fault inside a 1.1 envelope, JS key order instead of the schema's.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
SOAPDIR=$BP_SOURCE_ROOT/tests/soap
cd "$TMP"
command -v node >/dev/null || { echo "Bail out! node is not installed"; exit 1; }
NODE_PATH=$("$SOAPDIR/node-setup.sh" "$BP_BUILD_ROOT/tests/soap-node") || {
    echo "Bail out! cannot install node-soap"; exit 1; }
export NODE_PATH

. "$SOAPDIR/crm.sh"
# start_crm NAME [--port P] [--basic u:p] [--wss u:p]: sets NAME_PID and NAME_PORT;
# the server keeps its contacts in $TMP/NAME.json.
start_crm() {
    local name=$1; shift
    local port=0
    [ "${1:-}" = --port ] && { port=$2; shift 2; }
    crm_start "$name" "$TMP/$name" --port "$port" --state "$TMP/$name.json" "$@"
}
stop_crm() { crm_stop "$1"; }
contacts() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(len(d['contacts']))" "$1"; }
contact_field() {
    python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(d['contacts'].get(sys.argv[2], {}).get(sys.argv[3], '<absent>'))" "$@"
}
dead() { sqlite3 "$1" "SELECT reason FROM dead_letters ORDER BY seq"; }

start_crm crm
[ -n "$crm_PORT" ] && ok "node-soap CRM up on 127.0.0.1:$crm_PORT" || {
    not_ok "node-soap CRM up"; cat crm.err; finish; exit 1; }
URL=http://127.0.0.1:$crm_PORT/crm

# ---- 1. Sink: UpsertContact per record, declarative mapping, each fault kind
python3 - >in.jsonl <<'PY'
import json
for i in range(60):
    print(json.dumps({"id": "C%03d" % i, "name": "Contact %d" % i, "email": "c%d@example.com" % i,
                      "score": i * 1.5, "active": i % 2 == 0}))
# Markup, quotes, an ampersand, non-ASCII and a would-be CDATA end: sent as text.
print(json.dumps({"id": "X1", "name": "<b>Tom & \"Jerry\"</b> ]]> é€", "email": "x@example.com"}))
print(json.dumps({"id": "BAD1", "name": "Bad", "email": "not-an-address"}))   # Client fault, HTTP 200
print(json.dumps({"id": "S1", "name": "server-fault", "email": "s@example.com"}))  # Server fault, HTTP 500
print(json.dumps({"id": "K1", "name": "crash", "email": "k@example.com"}))   # 1.2 fault in 1.1 envelope
for i in range(3):
    print(json.dumps({"id": "F%d" % i, "name": "flaky %d" % i, "email": "f@example.com"}))  # 2 Server faults, then ok
print(json.dumps({"id": "N1", "name": {"first": "not", "last": "text"}}))  # an object where text is needed
PY
cat >sink.yaml <<YAML
site: sink
state: $TMP/sink.db
connectors:
  in: { plugin: file, path: $TMP/in.jsonl }
  crm:
    plugin: soap
    endpoint: "$URL"
    namespace: "urn:example:crm"
    operation: UpsertContact
    soap_action: "urn:example:crm/UpsertContact"
    concurrency: 4
    request:
      Contact/Id: data.id
      Contact/Name: data.name
      Contact/Email: data.email
      Contact/Score: data.score
      Contact/Active: data.active
routes:
  r:
    from: in
    to: crm
    errors: { retry: { max: 3, backoff: 20ms..100ms } }
YAML
exit_is "check accepts the SOAP site" 0 "$B" check sink.yaml
exit_is "sink run" 0 "$B" run sink.yaml
cp "$ERR" sink.log
sleep 0.2   # the server saves its state every 50 ms
[ "$(contacts crm.json)" -eq 64 ] && ok "64 contacts upserted (60 + escaped + 3 flaky after retries)" ||
    not_ok "64 contacts upserted (got $(contacts crm.json))"
contact_field crm.json X1 Name >x1.txt
contains "markup, quotes and non-ASCII arrive as text, unchanged" x1.txt '<b>Tom & "Jerry"</b> ]]> é€'
contact_field crm.json C003 Score >score.txt
contains "a number is sent as its digits" score.txt "4.5"
contact_field crm.json BAD1 Name >bad.txt
contains "the Client fault's record was not stored" bad.txt "<absent>"
dead sink.db >dl.txt
[ "$(wc -l <dl.txt)" -eq 4 ] && ok "4 records dead-lettered" || { not_ok "4 dead letters (got $(wc -l <dl.txt))"; cat dl.txt; }
contains "Client fault (HTTP 200) rejected with its text and detail" dl.txt "SOAP fault Client (HTTP 200): invalid e-mail address: not-an-address"
contains "Server fault (HTTP 500) retried, then dead-lettered" dl.txt "SOAP fault Server (HTTP 500): CRM database is locked"
contains "1.2-shaped fault inside a 1.1 envelope read (Code/Reason)" dl.txt "SOAP fault Server (HTTP 500): Error: database handle is gone"
contains "an object where text is needed is rejected by name" dl.txt "request: data.name is an object or array"
[ "$(grep -c 'Client' dl.txt)" -eq 1 ] && ok "the Client fault was not retried" || not_ok "client fault retried"
contains "Server faults are logged as retried" sink.log "will be retried: SOAP fault Server"
[ "$(sqlite3 sink.db "SELECT attempts FROM dead_letters WHERE reason LIKE '%invalid e-mail%'" 2>/dev/null || echo 1)" != "" ] && ok "dead letter has attempts" || not_ok "attempts"

# ---- 2. A plain-text stack trace (unknown operation: HTTP 500, not XML)
cat >unknown.yaml <<YAML
site: unknown
state: $TMP/unknown.db
connectors:
  in: { plugin: file, path: $TMP/one.jsonl }
  crm: { plugin: soap, endpoint: "$URL", namespace: "urn:example:crm", operation: NoSuchOperation,
         request: { Id: data.id } }
routes:
  r: { from: in, to: crm, errors: { retry: { max: 2, backoff: 10ms..50ms } } }
YAML
echo '{"id": "U1"}' >one.jsonl
exit_is "unknown operation run" 0 "$B" run unknown.yaml
cp "$ERR" unknown.log
contains "a non-XML 500 is retried" unknown.log "will be retried: HTTP 500, not a SOAP reply"
contains "the first bytes of the stack trace are in the log" unknown.log "TypeError: Cannot read properties of undefined"
dead unknown.db >dl2.txt
contains "dead-lettered after its retries, with the page's first bytes" dl2.txt "HTTP 500, not a SOAP reply"

# ---- 3. SOAP 1.2 and a template with placeholders (always escaped)
cat >contact.xml.tmpl <<'XML'
<UpsertContact xmlns="urn:example:crm">
  <Contact>
    <Id>{{data.id}}</Id>
    <Name>{{ data.first }} {{data.last}}</Name>
    <Email>{{data.email}}</Email>
  </Contact>
</UpsertContact>
XML
printf '%s\n' '{"id":"T1","first":"Ann</Name><Email>evil@x</Email>","last":"&amp; Co","email":"t1@example.com"}' \
    '{"id":"T2","first":"Bo","last":"B","email":"nope"}' >t.jsonl
cat >t12.yaml <<YAML
site: t12
state: $TMP/t12.db
connectors:
  in: { plugin: file, path: $TMP/t.jsonl }
  crm: { plugin: soap, endpoint: "http://127.0.0.1:$crm_PORT/crm12", soap_version: "1.2",
         soap_action: "urn:example:crm/UpsertContact", template: $TMP/contact.xml.tmpl }
routes:
  r: { from: in, to: crm, errors: { retry: { max: 1, backoff: 10ms..10ms }, outage_limit: 300ms } }
YAML
exit_is "SOAP 1.2 + template run" 0 "$B" run t12.yaml
sleep 0.2
contact_field crm.json T1 Name >t1.txt
contains "placeholder values cannot inject elements" t1.txt 'Ann</Name><Email>evil@x</Email> &amp; Co'
contact_field crm.json T1 Email >t1e.txt
contains "the template's own element keeps its value" t1e.txt "t1@example.com"
dead t12.db >dl3.txt
contains "a Client fault over SOAP 1.2 is rejected" dl3.txt "SOAP fault Client (HTTP 200): invalid e-mail address: nope"
echo '<UpsertContact><Id>{{data.id}}</Id>' >broken.tmpl
sed "s|$TMP/contact.xml.tmpl|$TMP/broken.tmpl|" t12.yaml >tb.yaml
exit_is "a broken template fails at start-up" 1 "$B" run tb.yaml
contains "with file:line:col" "$ERR" "$TMP/broken.tmpl:2:1:"

# Mistakes in the mapping fail at start-up, named by option.
bad_site() {  # NAME CONNECTOR-OPTIONS
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/one.jsonl }
  crm: { plugin: soap, endpoint: "$URL", namespace: "urn:example:crm", operation: GetAccount, $2 }
routes:
  r: { from: in, to: crm }
YAML
}
bad_site badxp 'namespaces: { crm: "urn:example:crm" }, response: { data.x: "string(//zz:Account)" }'
exit_is "an unregistered XPath prefix fails at start-up" 1 "$B" run badxp.yaml
contains "named by option" "$ERR" "response.data.x: invalid XPath 'string(//zz:Account)' (or an unregistered namespace prefix)"
bad_site badtype 'namespaces: { crm: "urn:example:crm" }, response: { data.x: { xpath: "crm:X", type: money } }'
exit_is "an unknown type fails at start-up" 1 "$B" run badtype.yaml
contains "the type is named" "$ERR" "response.data.x: unknown type 'money' (string, number, boolean, date)"
bad_site badreq 'request: { "a:Id": data.id }'
exit_is "an unknown request prefix fails at start-up" 1 "$B" run badreq.yaml
contains "the prefix is named, at its line (check, before start-up)" "$ERR" "badreq.yaml:5:"
contains "the prefix is named" "$ERR" "option 'request.a:Id': namespace prefix 'a' is not in namespaces"
bad_site both "request: { Id: data.id }, template: $TMP/contact.xml.tmpl"
exit_is "request and template together fail" 1 "$B" run both.yaml
contains "one of them" "$ERR" "request and template: give one of them"
bad_site badpath 'request: { Id: "data..id" }'
exit_is "a bad envelope path fails at start-up" 1 "$B" run badpath.yaml
contains "the path is named, at its line (check, before start-up)" "$ERR" "badpath.yaml:5:"
contains "the path is named" "$ERR" "option 'request.Id': invalid envelope path 'data..id'"
bad_site ftp 'namespaces: {}'
sed -i "s|endpoint: \"$URL\"|endpoint: \"ftp://127.0.0.1/x\"|" ftp.yaml
exit_is "a non-HTTP endpoint fails at start-up" 1 "$B" run ftp.yaml
contains "the endpoint is named" "$ERR" "endpoint: 'ftp://127.0.0.1/x' is not an http:// or https:// URL"

# ---- 4. Source: GetContacts(modifiedSince), one record per Contact element
cat >src.yaml <<YAML
site: src
state: $TMP/src.db
connectors:
  crm:
    plugin: soap
    endpoint: "$URL"
    namespace: "urn:example:crm"
    operation: GetContacts
    namespaces: { crm: "urn:example:crm" }
    watermark_param: modifiedSince
    records: "//crm:GetContactsResponse/crm:Contact"
    watermark: "crm:ModifiedAt"
    poll_interval: 100ms
    type: com.example.crm.contact
    response:
      subject: "string(crm:Id)"
      data.id: "crm:Id"
      data.name: "crm:Name"
      data.score: { xpath: "crm:Score", type: number }
      data.active: { xpath: "crm:Active", type: boolean }
      data.modified: { xpath: "crm:ModifiedAt", type: date }
  out: { plugin: file, path: $TMP/contacts.jsonl, format: cloudevents }
routes:
  r: { from: crm, to: out }
YAML
count_lines() { [ -f "$1" ] && wc -l <"$1" || echo 0; }
wait_lines() { for _ in $(seq 150); do [ "$(count_lines "$1")" -ge "$2" ] && return 0; sleep 0.1; done; return 1; }
"$B" run src.yaml 2>src.log &
pid=$!
wait_lines contacts.jsonl 65 && ok "source: every contact read" || not_ok "source read (got $(count_lines contacts.jsonl))"
sleep 0.5
kill -TERM $pid; wait $pid
[ $? -eq 0 ] && ok "source stops on SIGTERM" || not_ok "source SIGTERM"
[ "$(count_lines contacts.jsonl)" -eq 65 ] && ok "65 records, none twice while polling" ||
    not_ok "65 records (got $(count_lines contacts.jsonl))"
grep '"subject":"C003"' contacts.jsonl >c3.txt
contains "type stamped" c3.txt '"type":"com.example.crm.contact"'
contains "number typed (element order of the reply differs from the schema)" c3.txt '"score":4.5'
contains "boolean typed" c3.txt '"active":false'
contains "string kept" c3.txt '"name":"Contact 3"'
grep -q '"modified":"20[0-9][0-9]-' c3.txt && ok "date typed" || not_ok "date typed"
grep '"subject":"T2"' contacts.jsonl >/dev/null && not_ok "rejected contact absent" || ok "rejected contact absent"
wm=$(sqlite3 src.db "SELECT value FROM checkpoints" 2>/dev/null | tail -n 1)
[ -n "$wm" ] && ok "watermark checkpoint stored ($wm)" || not_ok "watermark stored"

# Two more upserts; a restarted source reads only those.
printf '%s\n' '{"id":"Z1","name":"new one","email":"z1@example.com"}' \
    '{"id":"C001","name":"changed","email":"c1@example.com"}' >new.jsonl
sed "s|$TMP/in.jsonl|$TMP/new.jsonl|; s|sink.db|sink2.db|" sink.yaml >sink2.yaml
exit_is "two more upserts" 0 "$B" run sink2.yaml
"$B" run src.yaml 2>src2.log &
pid=$!
wait_lines contacts.jsonl 67 && ok "restarted source reads the 2 changes" || not_ok "2 changes (got $(count_lines contacts.jsonl))"
sleep 0.5
kill -TERM $pid; wait $pid
[ "$(count_lines contacts.jsonl)" -eq 67 ] && ok "restart: nothing read twice" || not_ok "restart: 67 lines (got $(count_lines contacts.jsonl))"
tail -n 2 contacts.jsonl >last2.txt
contains "the changed contact comes again" last2.txt '"name":"changed"'
contains "the new contact" last2.txt '"subject":"Z1"'

# A record whose typed value is wrong is dead-lettered with its XML; the rest flow.
sed 's|data.active: { xpath: "crm:Active", type: boolean }|data.active: { xpath: "crm:Name", type: boolean }|; s|src.db|src3.db|; s|contacts.jsonl|contacts3.jsonl|' src.yaml >src3.yaml
"$B" run src3.yaml 2>src3.log &
pid=$!
for _ in $(seq 100); do [ "$(sqlite3 src3.db 'SELECT count(*) FROM dead_letters' 2>/dev/null || echo 0)" -ge 67 ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
dead src3.db | head -n 1 >dl4.txt
contains "a value that is not a boolean is refused by name" dl4.txt "data.active: '"
contains "with its XPath" dl4.txt "is not a boolean (from crm:Name)"
sqlite3 src3.db "SELECT CAST(payload AS TEXT) FROM dead_letters LIMIT 1" >raw4.txt 2>/dev/null
contains "the record's XML is kept" raw4.txt "<Contact"

# ---- 5. Server stopped and restarted mid-run: nothing lost
python3 -c "
import json
for i in range(3000): print(json.dumps({'id': 'R%04d' % i, 'name': 'Restart %d' % i, 'email': 'r%d@example.com' % i}))" >many.jsonl
sed "s|$TMP/in.jsonl|$TMP/many.jsonl|; s|sink.db|sink3.db|; s|max: 3, backoff: 20ms..100ms|max: 50, backoff: 50ms..300ms|" sink.yaml >sink3.yaml
# Slow the run down enough to stop the server in the middle of it.
sed -i 's|concurrency: 4|concurrency: 1|' sink3.yaml
"$B" run sink3.yaml 2>sink3.log &
pid=$!
for _ in $(seq 100); do [ "$(python3 -c "import json; print(sum(1 for k in json.load(open('crm.json'))['contacts'] if k.startswith('R')))" 2>/dev/null || echo 0)" -ge 200 ] && break; sleep 0.02; done
stop_crm "$crm_PID"
sleep 1
start_crm crm --port "$crm_PORT"
wait $pid
[ $? -eq 0 ] && ok "the run finishes after the server came back" || not_ok "run after restart"
sleep 0.2
n=$(python3 -c "import json; print(sum(1 for k in json.load(open('crm.json'))['contacts'] if k.startswith('R')))")
[ "$n" -eq 3000 ] && ok "all 3000 contacts arrived across the server restart" || not_ok "3000 across restart (got $n)"
[ "$(sqlite3 sink3.db 'SELECT count(*) FROM dead_letters')" -eq 0 ] && ok "nothing dead-lettered" || not_ok "dead letters after restart"
grep -qE "(will be retried|not connected): .*(Couldn't connect|Connection refused|Failed to connect|Server returned nothing|Recv failure)" sink3.log &&
    ok "connection errors were retried" || { not_ok "connection errors retried"; grep -m3 retried sink3.log; }

# ---- 6. Hostile replies: XXE, billion laughs, an HTML error page
for kind in xxe lol; do
    sed "s|$URL|http://127.0.0.1:$crm_PORT/evil/$kind|; s|sink.db|$kind.db|; s|$TMP/in.jsonl|$TMP/one.jsonl|" sink.yaml >$kind.yaml
    start=$(date +%s)
    exit_is "$kind reply: run ends" 0 timeout 20 "$B" run $kind.yaml
    [ $(( $(date +%s) - start )) -lt 10 ] && ok "$kind reply: no expansion stalls the run" || not_ok "$kind: took too long"
    dead $kind.db >dl-$kind.txt
    contains "$kind reply refused: no DTD" dl-$kind.txt "a document type declaration (DTD) is not allowed"
    lacks "$kind: no file content" dl-$kind.txt "root:"
    lacks "$kind: no expansion" dl-$kind.txt "lollol"
done
sed "s|$URL|http://127.0.0.1:$crm_PORT/evil/html|; s|sink.db|html.db|; s|$TMP/in.jsonl|$TMP/one.jsonl|; s|max: 3,|max: 1,|" sink.yaml >html.yaml
exit_is "HTML 502 page: run ends" 0 "$B" run html.yaml
contains "an HTML 502 page is retried with its first bytes logged" "$ERR" "will be retried: HTTP 502, XML but not a SOAP envelope"
contains "the page text is in the log" "$ERR" "502 Bad Gateway"
# A reply over max_response fails the call instead of being buffered.
cat >big.yaml <<YAML
site: big
state: $TMP/big.db
connectors:
  in: { plugin: file, path: $TMP/one.jsonl }
  crm: { plugin: soap, endpoint: "$URL", namespace: "urn:example:crm", operation: GetContacts,
         max_response: 1KiB, request: { modifiedSince: "=2000-01-01T00:00:00Z" } }
routes:
  r: { from: in, to: crm, errors: { retry: { max: 1, backoff: 10ms..10ms }, outage_limit: 300ms } }
YAML
exit_is "max_response run" 0 "$B" run big.yaml
dead big.db >dl-big.txt
contains "a reply over max_response is refused" dl-big.txt "reply larger than max_response (1024 bytes)"

# ---- 7. Lookups (GetAccount), called from 8 threads at once
"$BP_SOAP_LOOKUP" "$BP_BUILD_ROOT/connectors/soap/soap.so" "$URL" >lookup.tap 2>lookup.err
while IFS= read -r line; do
    case $line in
        "ok "*) ok "lookup: ${line#* - }" ;;
        "not ok "*) not_ok "lookup: ${line#* - }" ;;
        "#"*) echo "$line" ;;
    esac
done <lookup.tap
grep -q '^ok 9 ' lookup.tap && ok "lookup harness ran to the end" || { not_ok "lookup harness ran"; cat lookup.err; }

# ---- 8. HTTP basic auth and WS-Security UsernameToken (digest and text)
start_crm auth --basic "bp:basic-pw-1234" --wss "crmuser:wss-secret-5678"
AURL=http://127.0.0.1:$auth_PORT/crm
auth_site() {  # NAME PASSWORD WSS_PASSWORD WSS_TYPE
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/$1.jsonl }
  crm: { plugin: soap, endpoint: "$AURL", namespace: "urn:example:crm", operation: UpsertContact,
         user: bp, password: "$2", wss_user: crmuser, wss_password: "$3", wss_password_type: $4,
         request: { Contact/Id: data.id, Contact/Name: data.name, Contact/Email: data.email } }
routes:
  # not connected spends no retries (issue 17): bound the wait to end the run
  r: { from: in, to: crm, errors: { retry: { max: 2, backoff: 10ms..20ms }, outage_limit: 300ms } }
YAML
    echo "{\"id\": \"$1\", \"name\": \"auth\", \"email\": \"a@example.com\"}" >"$1.jsonl"
}
auth_site digest basic-pw-1234 wss-secret-5678 digest
exit_is "basic auth + PasswordDigest run" 0 "$B" run digest.yaml
auth_site text basic-pw-1234 wss-secret-5678 text
exit_is "basic auth + PasswordText run" 0 "$B" run text.yaml
auth_site badwss basic-pw-1234 wrong-wss-pw-0000 digest
exit_is "wrong WS-Security password run" 0 "$B" run badwss.yaml
cp "$ERR" badwss.log
auth_site badbasic wrong-basic-pw-999 wss-secret-5678 digest
exit_is "wrong basic password run" 0 "$B" run badbasic.yaml
cp "$ERR" badbasic.log
sleep 0.2
contact_field auth.json digest Name >digest.txt
contains "PasswordDigest (nonce + created, SHA-1) accepted by node-soap" digest.txt "auth"
contact_field auth.json text Name >text.txt
contains "PasswordText accepted" text.txt "auth"
contact_field auth.json badwss Name >badwss.txt
contains "a wrong WS-Security password is refused" badwss.txt "<absent>"
dead badwss.db >dl-badwss.txt
contains "refused credentials: waited for, then dead-lettered with the fault" dl-badwss.txt "SOAP fault Client (HTTP 401): Invalid username or password"
dead badbasic.db >dl-badbasic.txt
contains "a wrong basic password: HTTP 401" dl-badbasic.txt "HTTP 401"
# The rule (connectors/common/fault.h): refused credentials and missing
# permissions are "not connected" — the route waits and says why — never a
# silent retry, never a reject.
contains "a wrong basic password is not connected, with why" badbasic.log "UpsertContact not connected: credentials refused: HTTP 401"
lacks "and not a plain retry" badbasic.log "will be retried: HTTP 401"
contains "a WS-Security refusal is not connected, quoting the fault" badwss.log "UpsertContact not connected: credentials refused: SOAP fault Client (HTTP 401): Invalid username or password"
cat >perm.yaml <<YAML
site: perm
state: $TMP/perm.db
connectors:
  in: { plugin: file, path: $TMP/perm.jsonl }
  crm: { plugin: soap, endpoint: "$URL", namespace: "urn:example:crm", operation: UpsertContact,
         request: { Contact/Id: data.id, Contact/Name: data.name } }
routes:
  r: { from: in, to: crm, errors: { retry: { max: 1, backoff: 10ms..20ms }, outage_limit: 300ms } }
YAML
printf '%s\n' '{"id": "P1", "name": "forbidden"}' '{"id": "P2", "name": "wsse-fault"}' >perm.jsonl
exit_is "a 403 and a WS-Security fault: run ends" 0 "$B" run perm.yaml
cp "$ERR" perm.log
contains "HTTP 403 is not connected: permission denied" perm.log "not connected: permission denied: SOAP fault Client (HTTP 403): not allowed to change contacts"
dead perm.db >dl-perm.txt
contains "wsse:FailedAuthentication is not connected: credentials refused" dl-perm.txt "not connected for longer than errors.outage_limit (300ms): credentials refused: SOAP fault FailedAuthentication (HTTP 500): The security token could not be authenticated or authorized"
lacks "neither is rejected outright" dl-perm.txt "reject:"
# A proxy in the environment (a shell's http_proxy) never reroutes a
# connector: libcurl's environment proxies are off unless a site asks.
sed -e "s#$TMP/perm.jsonl#$TMP/noproxy.jsonl#" -e "s#$TMP/perm.db#$TMP/noproxy.db#" perm.yaml >noproxy.yaml
echo '{"id": "NP1", "name": "no proxy"}' >noproxy.jsonl
http_proxy=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 ALL_PROXY=http://127.0.0.1:9 \
    exit_is "a run with a dead proxy in the environment" 0 "$B" run noproxy.yaml
sleep 0.2
contact_field crm.json NP1 Name >np.txt
contains "the call went straight to the service, not to the proxy" np.txt "no proxy"
cat badwss.log badbasic.log dl-badwss.txt dl-badbasic.txt >secrets.txt
lacks "the WS-Security password never reaches a log or dead letter" secrets.txt "wrong-wss-pw-0000"
lacks "the basic password never reaches a log or dead letter" secrets.txt "wrong-basic-pw-999"
stop_crm "$auth_PID"

# ---- 9. backplane soap inspect: the WSDL node-soap serves
exit_is "soap inspect URL?wsdl" 0 "$B" soap inspect "$URL?wsdl"
cp "$OUT" inspect.txt
contains "inspect: service" inspect.txt "service CrmService"
contains "inspect: both ports with their SOAP version" inspect.txt "port CrmPort12 (SOAP 1.2)  http://127.0.0.1/crm12"
contains "inspect: operation and SOAPAction" inspect.txt 'operation UpsertContact  soapAction "urn:example:crm/UpsertContact"'
contains "inspect: input element" inspect.txt "input  {urn:example:crm}GetContacts"
contains "inspect: repeated output element with its type" inspect.txt "Contact  tns:Contact [repeated]"
contains "inspect: fields of a named complex type" inspect.txt "ModifiedAt  xsd:dateTime"
contains "inspect: starting request mapping" inspect.txt "Contact/Email: data.contact.email"
contains "inspect: typed response mapping" inspect.txt 'data.account.revenue: { xpath: "//tns:GetAccountResponse/tns:Account/tns:Revenue", type: number }'
contains "inspect: records hint for a repeated element" inspect.txt 'records: "//tns:GetContactsResponse/tns:Contact"'
{ printf 'site: gen\nstate: %s/gen.db\n' "$TMP"; sed -n '/^connectors:/,$p' inspect.txt
  printf '  in: { plugin: file, path: %s/in.jsonl }\nroutes:\n  r: { from: in, to: upsertcontact }\n' "$TMP"; } >gen.yaml
exit_is "the printed connectors pass backplane check" 0 "$B" check gen.yaml
exit_is "inspect through the other spelling (inspect soap)" 0 "$B" inspect soap "$SOAPDIR/crm.wsdl"
contains "inspect reads a file too" "$OUT" "operation GetAccount"
printf '%s\n' '<?xml version="1.0"?>' '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>' \
    '<definitions xmlns="http://schemas.xmlsoap.org/wsdl/" name="&x;"/>' >xxe.wsdl
exit_is "inspect refuses a WSDL with a DTD" 1 "$B" soap inspect xxe.wsdl
contains "with the position of the DTD" "$ERR" "xxe.wsdl:2:"
lacks "no file content" "$ERR" "root:"
exit_is "inspect: not a WSDL" 1 "$B" soap inspect "$SOAPDIR/../e2e/lib.sh"
exit_is "inspect: usage" 2 "$B" soap inspect
exit_is "plugins --doc soap" 0 "$B" plugins --doc soap
contains "the inspect command is listed" "$OUT" "inspect"
contains "secrets are marked in the option table" "$OUT" "wss_password"

# ---- 10. A call past its timeout is retried (the service answers after 2 s)
echo '{"id": "SLOW1", "name": "slow", "email": "s@example.com"}' >slow.jsonl
sed "s|$TMP/in.jsonl|$TMP/slow.jsonl|; s|sink.db|slow.db|; s|concurrency: 4|concurrency: 4\n    timeout: 300ms|; s|max: 3,|max: 1,|" sink.yaml >slow.yaml
exit_is "timeout run" 0 "$B" run slow.yaml
contains "a timeout is retried" "$ERR" "UpsertContact will be retried: $URL: Operation timed out after"
dead slow.db >dl-slow.txt
contains "and dead-lettered when retries run out" dl-slow.txt "Operation timed out after"

# ---- 11. TLS: verified by default, a private CA through ca_file
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" -keyout tls.key -out tls.pem 2>openssl.err ||
    { not_ok "self-signed certificate made"; cat openssl.err; }
start_crm tls --tls "$TMP/tls.pem,$TMP/tls.key"
tls_site() {  # NAME EXTRA-OPTIONS
    cat >"$1.yaml" <<YAML
site: $1
state: $TMP/$1.db
connectors:
  in: { plugin: file, path: $TMP/$1.jsonl }
  crm: { plugin: soap, endpoint: "https://127.0.0.1:$tls_PORT/crm", namespace: "urn:example:crm",
         operation: UpsertContact, request: { Contact/Id: data.id, Contact/Name: data.name } $2 }
routes:
  r: { from: in, to: crm, errors: { retry: { max: 1, backoff: 10ms..10ms }, outage_limit: 300ms } }
YAML
    echo "{\"id\": \"$1\", \"name\": \"tls\"}" >"$1.jsonl"
}
tls_site tlsdefault ""
exit_is "https with an unknown CA: run ends" 0 "$B" run tlsdefault.yaml
dead tlsdefault.db >dl-tls.txt
contains "the certificate is verified by default (refused, retried, dead-lettered)" dl-tls.txt "SSL certificate problem"
tls_site tlsca ", tls: { ca_file: $TMP/tls.pem }"
exit_is "https with ca_file" 0 "$B" run tlsca.yaml
[ "$(sqlite3 tlsca.db 'SELECT count(*) FROM dead_letters')" -eq 0 ] && ok "ca_file: the call succeeds" || not_ok "ca_file call"
tls_site tlsoff ", tls: { verify: false }"
exit_is "https with tls: { verify: false }" 0 "$B" run tlsoff.yaml
contains "turning verification off is logged" "$ERR" "tls.verify is off"
sleep 0.2
contact_field tls.json tlsca Name >tlsca.txt
contains "the contact arrived over TLS" tlsca.txt "tls"
stop_crm "$tls_PID"

stop_crm "$crm_PID"
finish
