#!/usr/bin/env bash
# The review workbench end to end (issue 15): the quickstart parks its
# invoices; its owner serves them on TCP (--admin-listen); a reviewer token
# opens the page in headless chromium (puppeteer-core, tests/web/workbench.js),
# corrects the PO mismatch's total and approves. Then: the ERP row holds the
# corrected total, the audit names the reviewer, every answer carries the CSP.
# BP_WB_SCREENSHOTS=DIR keeps the queue's and the item's screenshots there.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
command -v node >/dev/null || { echo "Bail out! node is not installed"; exit 1; }
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "Bail out! chromium is not installed (make deps)"; exit 1; }
NODE_PATH=$("$BP_SOURCE_ROOT/tests/web/node-setup.sh" "$BP_BUILD_ROOT/tests/web-node") || {
    echo "Bail out! cannot install puppeteer-core"; exit 1; }
export NODE_PATH CHROMIUM

Q=$TMP/qs
mkdir -p "$Q/out/mail/cur" "$Q/out/mail/tmp"
cp "$BP_SOURCE_ROOT/examples/quickstart/site.yaml" "$Q/"
cp -r "$BP_SOURCE_ROOT/examples/quickstart/mail/new" "$Q/out/mail/new"
sqlite3 "$Q/out/erp.db" <"$BP_SOURCE_ROOT/examples/quickstart/erp.sql"
"$B" run "$Q/site.yaml" 2>"$TMP/run1.log" || { cat "$TMP/run1.log"; echo "Bail out! quickstart run failed"; exit 1; }
parked=$(sqlite3 "$Q/out/quickstart.state.db" "SELECT count(*) FROM review_queue")
[ "$parked" = 4 ] && ok "the quickstart parks 4 invoices" || not_ok "the quickstart parks 4 invoices (got $parked)"

"$B" token create "$Q/site.yaml" --name clerk --role reviewer >"$TMP/tok" 2>&1
TOKEN=$(tail -n 1 "$TMP/tok")
[ ${#TOKEN} -ge 32 ] && ok "a reviewer token is created" || { not_ok "a reviewer token is created"; cat "$TMP/tok"; }

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$B" run "$Q/site.yaml" --serve --admin-listen "127.0.0.1:$PORT" 2>"$TMP/serve.log" &
OWNER=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
URL=http://127.0.0.1:$PORT

# The listener's answers: the page is public, the API needs the token, and
# every answer carries the CSP, the JSON errors too.
curl -s -D "$TMP/h.page" -o "$TMP/page.html" "$URL/"
contains "the page is served at /" "$TMP/page.html" '<script src="app.js"></script>'
contains "the page's CSP" "$TMP/h.page" "Content-Security-Policy: default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'"
hp=$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/"); hh=$(curl -s -o /dev/null -w '%{http_code}' -I "$URL/health")
[ "$hp $hh" = "200 200" ] && ok "HEAD / and HEAD /health answer 200 without a token" ||
    not_ok "HEAD / and HEAD /health answer 200 without a token (got $hp $hh)"
curl -s -D "$TMP/h.401" -o "$TMP/b.401" "$URL/api/v1/review"
contains "the API without a token is 401" "$TMP/h.401" "HTTP/1.1 401"
contains "a 401 carries the CSP too" "$TMP/h.401" "frame-ancestors 'none'"
curl -s -D "$TMP/h.api" -o "$TMP/b.api" -H "Authorization: Bearer $TOKEN" "$URL/api/v1/review/2"
contains "an API answer carries the CSP" "$TMP/h.api" "frame-ancestors 'none'"
contains "the item has the PO totals" "$TMP/b.api" '"invoice_total":"9800","po_total":"8900"'
contains "the item's total has a box on page 1" "$TMP/b.api" '"name":"total","value":9800,"raw":"9800.00","confidence":1,"low":false,"where":{"page":1,"box":['
lacks "the item does not carry the attachment's bytes" "$TMP/b.api" 'data_base64'
curl -s -o "$TMP/p1.png" -w '%{http_code} %{content_type}\n' -H "Authorization: Bearer $TOKEN" \
    "$URL/api/v1/review/2/pages/1.png" >"$TMP/p1.code"
contains "page 1 as PNG" "$TMP/p1.code" "200 image/png"
check "the PNG is a PNG" python3 -c "import sys; sys.exit(open('$TMP/p1.png','rb').read(8) != b'\x89PNG\r\n\x1a\n')"
cached=$(ls "$Q/out/quickstart.state.db.pages" | wc -l)
mode=$(stat -c %a "$Q/out/quickstart.state.db.pages/"*.png | sort -u)
[ "$cached" = 1 ] && [ "$mode" = 600 ] && ok "the page is cached beside the state file, 0600" ||
    not_ok "the page is cached beside the state file, 0600 (files $cached, mode $mode)"

node "$BP_SOURCE_ROOT/tests/web/workbench.js" "$URL" "$TOKEN" ${BP_WB_SCREENSHOTS:+"$BP_WB_SCREENSHOTS"} >"$TMP/web.out" 2>&1
while IFS= read -r line; do
    case $line in
        PASS\ *) ok "browser: ${line#PASS }" ;;
        FAIL\ *) not_ok "browser: ${line#FAIL }" ;;
        *) echo "# $line" ;;
    esac
done <"$TMP/web.out"

# The route's review options reach the API.
curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/review" >"$TMP/queue.json"
contains "the queue rows carry the route's SLA (4h)" "$TMP/queue.json" '"sla_ms":14400000,"late":false,"confidence_threshold":0.95'
# A claim renews for its holder and refuses another.
"$B" token create "$Q/site.yaml" --name other --role reviewer >"$TMP/tok2" 2>&1
T2=$(tail -n 1 "$TMP/tok2")
S3=$(python3 -c "import json; print([i['seq'] for i in json.load(open('$TMP/queue.json'))['items'] if i.get('subject')=='LW-330'][0])")
c1=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/v1/review/$S3/claim")
sleep 0.05
c2=$(curl -s -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/v1/review/$S3/claim")
e1=$(echo "$c1" | python3 -c 'import json,sys; print(json.load(sys.stdin)["claim_expires_ms"])')
e2=$(echo "$c2" | python3 -c 'import json,sys; print(json.load(sys.stdin)["claim_expires_ms"])')
[ "$e2" -gt "$e1" ] && ok "claiming again renews the holder's claim" || not_ok "claiming again renews ($c1 / $c2)"
curl -s -X POST -H "Authorization: Bearer $T2" "$URL/api/v1/review/$S3/claim" >"$TMP/c3"
contains "another reviewer's claim is refused while it lives" "$TMP/c3" "claimed by api:clerk"
curl -s -X POST -H "Authorization: Bearer $TOKEN" "$URL/api/v1/review/$S3/reopen" >"$TMP/r3"
contains "reopen of an entry that was not rejected is refused" "$TMP/r3" "no decided entry $S3"

# What the approval did: the ERP has the corrected total; the audit names the clerk.
total=$(sqlite3 "$Q/out/erp.db" "SELECT total FROM ap_invoices WHERE invoice_no='AW-5502'")
[ "$total" = 8900 ] || [ "$total" = 8900.0 ] && ok "the ERP row of AW-5502 has the corrected total" ||
    not_ok "the ERP row of AW-5502 has the corrected total (got '$total')"
curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/audit?subject=AW-5502" >"$TMP/audit.json"
contains "the audit names the reviewer" "$TMP/audit.json" "api:clerk"
kill "$OWNER"; wait "$OWNER" 2>/dev/null
"$B" audit trace "$Q/site.yaml" AW-5502 >"$TMP/trace.txt" 2>&1
contains "audit trace names the reviewer" "$TMP/trace.txt" "api:clerk"
contains "and the corrected total" "$TMP/trace.txt" "8900"
parked=$(sqlite3 "$Q/out/quickstart.state.db" "SELECT count(*) FROM review_queue WHERE subject='NW-10231'")
[ "$parked" = 1 ] && ok "the reopened duplicate waits again" || not_ok "the reopened duplicate waits again ($parked)"
reopens=$(sqlite3 "$Q/out/quickstart.state.db" "SELECT count(*) FROM audit_log WHERE kind='review:reopened'" 2>/dev/null)
[ "$reopens" = 1 ] && ok "the reopen is appended to the audit log" || not_ok "the reopen is appended to the audit log ($reopens)"
finish
