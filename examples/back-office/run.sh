#!/usr/bin/env bash
# The back office against real servers: the quickstart's invoice story with
# Dovecot (IMAP) as the mailbox, PostgreSQL 15 as the ERP (through ODBC), a
# Kafka broker for the events and a node-soap CRM that learns each vendor.
#   examples/back-office/run.sh [BUILD_DIR]          (BUILD_DIR default: build)
# Starts the four servers as children of this script on free loopback ports,
# all under one work dir (examples/back-office/out, or $BACKOFFICE_OUT), runs
# `backplane run` until the mailbox is empty, shows what happened, and stops
# every server it started when it exits. Needs root (PostgreSQL runs as the
# postgres user, Dovecot drops to nobody) and the Debian packages of `make deps`.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-build}" && pwd)
bp="$build/core/backplane"
broker_exe="$build/tests/kafka_broker"
export BP_PLUGIN_PATH="$build/connectors:$build/plugins${BP_PLUGIN_PATH:+:$BP_PLUGIN_PATH}"
out=${BACKOFFICE_OUT:-$here/out}
[ -x "$bp" ] || { echo "run.sh: $bp not found: build first (make build)" >&2; exit 1; }
[ -x "$broker_exe" ] || { echo "run.sh: $broker_exe not found (needs librdkafka)" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run.sh: run as root (initdb as postgres, Dovecot as nobody)" >&2; exit 1; }
for c in dovecot psql node kcat curl; do
    command -v "$c" >/dev/null || { echo "run.sh: $c is not installed (make deps)" >&2; exit 1; }
done

# The test suite's server helpers, so that both start the servers one way:
# pg_start/pg_stop, dovecot_conf/dovecot_start/dovecot_stop, crm_start/crm_stop.
BP_SOURCE_ROOT=$root
. "$root/tests/e2e/odbc_pg.sh"
. "$root/tests/e2e/mail_lib.sh"
. "$root/tests/soap/crm.sh"

BROKER_PID= CRM_PID= BP_PID=
cleanup() {
    local rc=$?
    set +e
    trap "" INT TERM   # a second Ctrl-C must not cut the clean-up short
    [ -n "$BP_PID" ] && { kill -TERM "$BP_PID" 2>/dev/null; wait "$BP_PID" 2>/dev/null || true; }
    [ -n "$CRM_PID" ] && crm_stop "$CRM_PID"
    [ -n "$BROKER_PID" ] && { kill -TERM "$BROKER_PID" 2>/dev/null; wait "$BROKER_PID" 2>/dev/null || true; }
    dovecot_stop
    pg_stop
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

section() { printf '\n\033[1m== %s\033[0m\n' "$1"; }
t0=$(date +%s%N)
rm -rf "$out"
mkdir -p "$out"

section "starting the servers (work dir $out)"
# Dovecot: user ap; the quickstart's 8 mails arrive unseen in INBOX.
IMAP_PORT=$(free_port)
dovecot_conf "$out/dovecot" "$IMAP_PORT"
cp "$root"/examples/quickstart/mail/new/*.eml "$out/dovecot/home/ap/Maildir/new/"
dovecot_start "$out/dovecot" "$IMAP_PORT" || { cat "$out/dovecot/dovecot.err" >&2; exit 1; }
echo "Dovecot      imap://127.0.0.1:$IMAP_PORT  (pid $DOVECOT_PID, user ap, 8 mails in INBOX)"

# PostgreSQL: a fresh cluster, the ERP in database erp owned by role bp.
pg_start "$out/pg" || exit 1
export ERP_PASSWORD=erp-demo-pass
pg_as psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres \
    -c "CREATE ROLE bp LOGIN PASSWORD '$ERP_PASSWORD'" -c "CREATE DATABASE erp OWNER bp" >/dev/null
erp_sql() { psql -X -q -h 127.0.0.1 -p "$PG_PORT" -U bp -d erp "$@"; }
erp_sql -v ON_ERROR_STOP=1 -f "$here/erp.sql" >/dev/null
echo "PostgreSQL   127.0.0.1:$PG_PORT database erp  (pid $PG_PID, 4 open purchase orders)"

# Kafka: librdkafka's mock cluster hosted by the test suite's broker program.
"$broker_exe" --brokers 1 --topic ap.invoices:1 </dev/null >"$out/broker.out" 2>"$out/broker.err" &
BROKER_PID=$!
for _ in $(seq 100); do grep -q '^BOOTSTRAP ' "$out/broker.out" && break; sleep 0.05; done
KAFKA=$(sed -n 's/^BOOTSTRAP //p' "$out/broker.out")
[ -n "$KAFKA" ] && wait_port "${KAFKA##*:}" || { echo "run.sh: the Kafka broker did not start" >&2; cat "$out/broker.err" >&2; exit 1; }
echo "Kafka        $KAFKA  (pid $BROKER_PID, topic ap.invoices)"

# The CRM: node-soap serving tests/soap/crm.wsdl; npm installs node-soap into the build tree once.
NODE_PATH=$("$root/tests/soap/node-setup.sh" "$build/tests/soap-node")
export NODE_PATH
crm_start CRM "$out/crm" --port 0 --state "$out/crm.json"
[ -n "$CRM_PORT" ] || { echo "run.sh: the CRM did not start" >&2; cat "$out/crm.err" >&2; exit 1; }
echo "CRM          http://127.0.0.1:$CRM_PORT/crm  (pid $CRM_PID, node-soap)"

sed -e "s|@OUT@|$out|g" -e "s|@ROOT@|$root|g" -e "s|@IMAP_PORT@|$IMAP_PORT|g" \
    -e "s|@PG_PORT@|$PG_PORT|g" -e "s|@KAFKA@|$KAFKA|g" -e "s|@CRM_PORT@|$CRM_PORT|g" \
    "$here/site.yaml.in" >"$out/site.yaml"
site=$out/site.yaml
export AP_MAIL_PASSWORD=s3cret-pass   # dovecot_conf's password for user ap

section "the bus reads the mailbox: backplane run $site"
# The IMAP source polls for new mail until stopped: the run is over when every
# mail has left INBOX (moved to Processed or Rejected once it is safe).
inbox=$out/dovecot/home/ap/Maildir
"$bp" run "$site" 2>"$out/run.log" &
BP_PID=$!
for _ in $(seq 600); do
    [ -z "$(find "$inbox/new" "$inbox/cur" -type f 2>/dev/null)" ] && break
    kill -0 "$BP_PID" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$BP_PID" 2>/dev/null || true
rc=0; wait "$BP_PID" || rc=$?
BP_PID=
[ "$rc" = 0 ] || { echo "run.sh: backplane run failed (exit $rc):" >&2; cat "$out/run.log" >&2; exit 1; }
grep -E "route finished|dead-lettered" "$out/run.log" | sed 's/^[^ ]* [a-z]* *//'
left=$(find "$inbox/new" "$inbox/cur" -type f | wc -l)
echo "INBOX: $left left; Processed: $(find "$inbox/.Processed" -type f -path '*/cur/*' | wc -l)," \
     "Rejected: $(find "$inbox/.Rejected" -type f -path '*/cur/*' 2>/dev/null | wc -l)"

section "written back into the ERP (PostgreSQL, psql)"
erp_sql -c "SELECT invoice_no, vendor, po_number, total, currency, status FROM ap_invoices ORDER BY invoice_no" |
    tee "$out/ap_invoices.txt"

section "published to Kafka topic ap.invoices, read back with kcat"
# Binary CloudEvents: the envelope in ce_* headers, data as the value.
kcat -b "$KAFKA" -C -t ap.invoices -o beginning -e -q -f '%k\t%h\t%s\n' >"$out/events.tsv"
python3 - "$out/events.tsv" <<'PY'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    key, headers, value = line.rstrip("\n").split("\t", 2)
    h = dict(kv.split("=", 1) for kv in headers.split(",") if "=" in kv)
    inv = json.loads(value).get("invoice", {})
    print(f"key={key:12} ce_type={h.get('ce_type')} ce_id={h.get('ce_id')} "
          f"total={inv.get('total')} {inv.get('currency')}")
PY

section "vendors in the CRM (GetContacts over SOAP, curl)"
curl -s -H 'Content-Type: text/xml; charset=utf-8' -H 'SOAPAction: "urn:example:crm/GetContacts"' \
    --data-binary '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetContacts xmlns="urn:example:crm"><modifiedSince>1970-01-01T00:00:00Z</modifiedSince></GetContacts></soap:Body></soap:Envelope>' \
    "http://127.0.0.1:$CRM_PORT/crm" >"$out/contacts.xml"
python3 - "$out/contacts.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
ns = {"c": "urn:example:crm"}
for c in ET.parse(sys.argv[1]).getroot().iter("{urn:example:crm}Contact"):
    print(f"{c.findtext('c:Id', '', ns):28} {c.findtext('c:Name', '', ns):28} active={c.findtext('c:Active', '', ns)}")
PY

section "waiting for a person: backplane review list"
"$bp" review list "$site"

section "how the run went: backplane report"
"$bp" report "$site"

# BACKOFFICE_AFTER: a command run while the servers are still up (the e2e test
# decides on parked invoices with it), with SITE, PG_PORT, KAFKA, CRM_PORT set.
if [ -n "${BACKOFFICE_AFTER:-}" ]; then
    section "BACKOFFICE_AFTER: $BACKOFFICE_AFTER"
    SITE=$site PG_PORT=$PG_PORT KAFKA=$KAFKA CRM_PORT=$CRM_PORT bash -c "$BACKOFFICE_AFTER"
fi

ms=$((($(date +%s%N) - t0) / 1000000))
printf '\nDone in %d.%d s (servers started, mail read, results shown); stopping the servers.\n' \
    $((ms / 1000)) $((ms % 1000 / 100))
