#!/usr/bin/env bash
# The Kafka connector against a real Kafka protocol peer: librdkafka's mock
# cluster hosted by tests/integration/kafka_broker.c, with kcat (an independent
# client) producing and consuming on the other side.
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
command -v kcat >/dev/null || { echo "Bail out! kcat is not installed"; exit 1; }

mkfifo broker.in
"$BP_KAFKA_BROKER" --brokers 1 --topic in:3 --topic out:2 --topic ce:1 --topic back:2 --topic bp:2 --topic dlq:1 --topic rb:4 <broker.in >broker.out 2>broker.err &
broker=$!
exec 7>broker.in    # keep the broker's stdin open; commands go through fd 7
for _ in $(seq 50); do grep -q BOOTSTRAP broker.out && break; sleep 0.1; done
BS=$(sed -n 's/^BOOTSTRAP //p' broker.out)
[ -n "$BS" ] && ok "mock broker up at $BS" || { not_ok "mock broker up"; cat broker.err; finish; exit 1; }
cleanup_broker() { echo quit >&7; exec 7>&-; wait $broker 2>/dev/null; }

# 1. kcat produces plain JSON; the bus consumes, transforms, produces binary CloudEvents.
python3 -c "
import json
for i in range(300): print(json.dumps({'n': i, 'vendor': 'V%d' % (i % 7)}))" >in.jsonl
kcat -b "$BS" -P -t in -K '|' -l <(awk '{printf "k%d|%s\n", NR % 5, $0}' in.jsonl)
cat >relay.yaml <<YAML
site: relay
state: $TMP/relay.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [in], group: relay,
         type: com.example.invoice, properties: { session.timeout.ms: 6000 } }
  kout: { plugin: kafka, brokers: "$BS", topic: out, key: data.vendor }
routes:
  r:
    from: kin
    through: [ { set: { set: { data.relayed: true }, copy: { subject: data.vendor } } } ]
    to: kout
YAML
exit_is "check" 0 "$B" check relay.yaml
# A bad pass-through property fails at start-up with its name; a secret-looking
# value is never printed.
cat >badprop.yaml <<YAML
site: badprop
state: $TMP/badprop.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [in], properties: { sasl.password: "hunter2-secret", no.such.property: 1 } }
  out: { plugin: file, path: $TMP/never.out }
routes:
  r: { from: kin, to: out }
YAML
exit_is "unknown librdkafka property refused at start-up" 1 "$B" run badprop.yaml
# Refused by the schema check, before anything starts, at the property's line.
contains "the property is named" "$ERR" "connector 'kin' (plugin 'kafka'): option 'properties.no.such.property': No such configuration property: \"no.such.property\""
contains "at its line in the site file" "$ERR" "badprop.yaml:4:"
lacks "the SASL password never reaches the output" "$ERR" "hunter2-secret"
"$B" run relay.yaml 2>relay.log &
pid=$!
kcat -b "$BS" -C -t out -o beginning -c 300 -q -f '%k|%h|%s\n' >out.txt 2>kcat.err &
kc=$!
for _ in $(seq 150); do [ "$(wc -l <out.txt)" -ge 300 ] && break; sleep 0.2; done
kill $kc 2>/dev/null; wait $kc 2>/dev/null
[ "$(wc -l <out.txt)" -eq 300 ] && ok "300 records relayed topic -> bus -> topic" || not_ok "300 records relayed (got $(wc -l <out.txt))"
head -n 1 out.txt >first.txt
contains "ce_ headers on the wire" first.txt "ce_specversion=1.0"
contains "type stamped on plain JSON" first.txt "ce_type=com.example.invoice"
contains "source defaults to kafka://TOPIC" first.txt "ce_source=kafka://in"
contains "content-type header" first.txt "content-type=application/json"
contains "the transform ran" first.txt '"relayed":true'
awk -F'|' '{ split($3, a, "\"vendor\":\""); split(a[2], b, "\""); if ($1 != b[1]) bad++ } END { print "keymismatch", bad + 0 }' out.txt >keys.txt
contains "message key from data.vendor" keys.txt "keymismatch 0"
python3 - >uniq.txt <<'PY'
import json
seen = set()
for line in open("out.txt"):
    seen.add(json.loads(line.split("|", 2)[2])["n"])
print("distinct", len(seen))
PY
contains "every record once" uniq.txt "distinct 300"

# 2. Offsets are committed for acked records: a restart reads only new ones.
kill -TERM $pid; wait $pid
rc=$?
[ $rc -eq 0 ] && ok "SIGTERM: the consumer leaves and exits 0" || not_ok "SIGTERM exit ($rc)"
echo '{"n": 1000}' | kcat -b "$BS" -P -t in
"$B" run relay.yaml 2>relay2.log &
pid=$!
kcat -b "$BS" -C -t out -o beginning -c 301 -q -f '%s\n' >out2.txt 2>/dev/null &
kc=$!
for _ in $(seq 100); do [ "$(wc -l <out2.txt)" -ge 301 ] && break; sleep 0.2; done
sleep 1
kill $kc 2>/dev/null; wait $kc 2>/dev/null
kill -TERM $pid; wait $pid
[ "$(wc -l <out2.txt)" -eq 301 ] && ok "after a restart only the new record is relayed" || not_ok "after a restart only the new record (out has $(wc -l <out2.txt))"

# 3. kcat produces a binary-mode CloudEvent; the bus reads it with its attributes.
printf '{"amount": 12.5}' | kcat -b "$BS" -P -t ce -H ce_specversion=1.0 -H ce_id=evt-1 \
    -H ce_source=erp://acme -H ce_type=com.acme.paid -H ce_subject=INV-9 -H ce_traceparent=00-abc-def-01 \
    -H content-type=application/json
# and a structured one
printf '{"specversion":"1.0","id":"evt-2","source":"erp://acme","type":"com.acme.paid","data":{"amount":7}}' |
    kcat -b "$BS" -P -t ce -H 'content-type=application/cloudevents+json; charset=UTF-8'
# and garbage claiming to be a CloudEvent
printf 'not json' | kcat -b "$BS" -P -t ce -H ce_specversion=1.0 -H ce_id=x
cat >ce.yaml <<YAML
site: ce
state: $TMP/ce.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [ce], group: ce, properties: { session.timeout.ms: 6000 } }
  file: { plugin: file, path: $TMP/ce.out, format: cloudevents }
  kback: { plugin: kafka, brokers: "$BS", topic: back, format: structured }
routes:
  r: { from: kin, to: [file, kback] }
YAML
"$B" run ce.yaml 2>ce.log &
pid=$!
for _ in $(seq 100); do [ -s ce.out ] && [ "$(wc -l <ce.out)" -ge 2 ] && break; sleep 0.2; done
sleep 1
kill -TERM $pid; wait $pid
contains "binary-mode event read with its attributes" ce.out '"id":"evt-1","source":"erp://acme","type":"com.acme.paid","subject":"INV-9"'
contains "extension from a ce_ header" ce.out '"traceparent":"00-abc-def-01"'
contains "structured-mode event read" ce.out '"id":"evt-2"'
contains "number kept a number" ce.out '"amount":12.5'
sqlite3 ce.db "SELECT reason FROM dead_letters" >ce.dl
contains "an invalid event is dead-lettered with topic, partition, offset" ce.dl "ce[0]@2:"
kcat -b "$BS" -C -t back -o beginning -c 2 -e -q -f '%h|%s\n' >back.txt 2>/dev/null
contains "structured mode on the wire" back.txt 'content-type=application/cloudevents+json'
contains "structured body" back.txt '"specversion":"1.0","id":"evt-1"'

# 4. kill -9 the consuming bus mid-stream, restart: every record reaches the
#    file sink, and with the file sink's ledger none twice.
python3 -c "
import json
for i in range(30000): print(json.dumps({'c': i, 'pad': 'x' * 100}))" >crash.jsonl
kcat -b "$BS" -P -t in -l crash.jsonl
cat >crash.yaml <<YAML
site: crash
state: $TMP/crash.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [in], group: crash, properties: { session.timeout.ms: 6000 } }
  file: { plugin: file, path: $TMP/crash.out }
routes:
  r: { from: kin, to: file, batch: 500 }
YAML
for i in 1 2 3; do
    before=$( (wc -l <crash.out) 2>/dev/null || echo 0)
    "$B" run crash.yaml >>crash.log 2>&1 &
    pid=$!
    # Kill once it is mid-stream: some records past the previous run's. (The
    # relay moves 30,000 records in about 0.2 s: look often, kill soon.)
    for _ in $(seq 1000); do [ "$( (wc -l <crash.out) 2>/dev/null || echo 0)" -gt "$before" ] && break; sleep 0.01; done
    sleep "0.00$(( RANDOM % 10 ))"
    kill -9 $pid; wait $pid 2>/dev/null
    echo "# kill $i: $(wc -l <crash.out 2>/dev/null || echo 0) lines"
    [ "$i" = 1 ] && killed_at=$( (wc -l <crash.out) 2>/dev/null || echo 0)
done
"$B" run crash.yaml >>crash.log 2>&1 &
pid=$!
want=$((30000 + 301))
[ "$killed_at" -lt "$want" ] && ok "the first kill -9 came mid-stream ($killed_at of $want)" \
    || not_ok "the first kill -9 came mid-stream ($killed_at of $want)"
for _ in $(seq 750); do [ "$(wc -l <crash.out)" -ge $want ] && break; sleep 0.2; done
sleep 1
kill -TERM $pid; wait $pid
python3 - $want >crash.txt <<'PY'
import json, sys
lines = [json.loads(l) for l in open("crash.out")]
cs = [d["c"] for d in lines if "c" in d]
print("lines", len(lines), "distinct", len(set(cs)) + len(lines) - len(cs))
PY
contains "every record after 3 kill -9s, exactly once (ledger)" crash.txt "lines $want distinct $want"

# 5. Broker outage while the bus produces: nothing lost, nothing twice.
python3 -c "
import json
for i in range(5000): print(json.dumps({'m': i}))" >outage.jsonl
cat >outage.yaml <<YAML
site: outage
state: $TMP/outage.db
connectors:
  in: { plugin: file, path: $TMP/outage.jsonl, follow: true }
  kout: { plugin: kafka, brokers: "$BS", topic: out, key: data.m, timeout: 60s }
routes:
  r: { from: in, to: kout, batch: 100, errors: { retry: { max: 50, backoff: 200ms..1s } } }
YAML
echo "down 1" >&7
"$B" run outage.yaml 2>outage.log &
pid=$!
sleep 3
echo "up 1" >&7
kcat -b "$BS" -C -t out -o beginning -q -f '%s\n' -c $((301 + 5000)) >outage.txt 2>/dev/null &
kc=$!
for _ in $(seq 150); do [ "$(wc -l <outage.txt)" -ge $((301 + 5000)) ] && break; sleep 0.2; done
sleep 1
kill $kc 2>/dev/null; wait $kc 2>/dev/null
kill -TERM $pid; wait $pid
grep -c '"m":' outage.txt >outage.count
python3 -c "
import json
ms=[json.loads(l)['m'] for l in open('outage.txt') if '\"m\"' in l]
print('produced', len(ms), 'distinct', len(set(ms)))" >outage.res
contains "after a broker outage every record arrived once (idempotent producer)" outage.res "produced 5000 distinct 5000"

# 6. Backpressure: a sink that stalls (0.5 s a write) pauses the partitions, and resumes them when
#    the route drains; nothing is lost meanwhile. 400 records: more than the route's in-flight
#    window (20 x 5 = 100 with batch 20).
python3 -c "
import json
for i in range(400): print(json.dumps({'b': i}))" >bp.jsonl
kcat -b "$BS" -P -t bp -l bp.jsonl
cat >bp.yaml <<YAML
site: bp
state: $TMP/bp.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [bp], group: bp, properties: { session.timeout.ms: 6000 } }
  slow: { plugin: fx_sink, path: $TMP/bp.out, delay: 500ms }
routes:
  r: { from: kin, to: slow, batch: 20, linger: 0ms }
YAML
"$B" run bp.yaml --plugin-dir "$BP_TEST_FIXTURES" --log-level debug 2>bp.log &
pid=$!
for _ in $(seq 400); do [ -s bp.out ] && [ "$(wc -l <bp.out)" -ge 400 ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
contains "partitions paused under backpressure" bp.log "paused 2 partition(s)"
contains "and resumed when the route drained" bp.log "resumed 2 partition(s)"
python3 -c "
import json
bs=[json.loads(l)['b'] for l in open('bp.out')]
print('got', len(bs), 'distinct', len(set(bs)))" >bp.res
contains "all 400 records through the paused consumer, none twice" bp.res "got 400 distinct 400"

# 6a. Two consumers in one group: the second joins mid-stream, the partitions are
#     split between them (rebalance), every record is delivered, and duplicates
#     stay within what the first had in flight when it lost partitions.
python3 -c "
import json
for i in range(3000): print(json.dumps({'r': i}))" >rb.jsonl
kcat -b "$BS" -P -t rb -K '|' -l <(awk '{printf "k%d|%s\n", NR % 16, $0}' rb.jsonl)
for who in a b; do cat >rb-$who.yaml <<YAML
site: rb-$who
state: $TMP/rb-$who.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [rb], group: rb, properties: { session.timeout.ms: 6000 } }
  out: { plugin: fx_sink, path: $TMP/rb-$who.out, delay: 100ms }
routes:
  r: { from: kin, to: out, batch: 50, linger: 0ms }
YAML
done
"$B" run rb-a.yaml --plugin-dir "$BP_TEST_FIXTURES" 2>rb-a.log &
pa=$!
for _ in $(seq 300); do [ -s rb-a.out ] && break; sleep 0.1; done
"$B" run rb-b.yaml --plugin-dir "$BP_TEST_FIXTURES" 2>rb-b.log &
pb=$!
for _ in $(seq 900); do
  [ "$(cat rb-a.out rb-b.out 2>/dev/null | python3 -c "import sys,json; print(len({json.loads(l)['r'] for l in sys.stdin}))")" -ge 3000 ] && break
  sleep 0.2
done
kill -TERM $pa $pb; wait $pa $pb
python3 - >rb.res <<'PY'
import json
a = [json.loads(l)['r'] for l in open('rb-a.out')]
b = [json.loads(l)['r'] for l in open('rb-b.out')] if __import__('os').path.exists('rb-b.out') else []
u = set(a) | set(b)
dups = len(a) + len(b) - len(u)
# bound: the in-flight window (batch 50 x 5) plus what was read before the
# coordinator's first refused commit came back: 349-851 measured with the fix
# (851 on a loaded CI machine), 1550 without it
print('all', len(u) == 3000, 'b got some', len(b) > 0, 'dups within window', dups < 1200)
print('# a', len(a), 'b', len(b), 'dups', dups)
PY
cat rb.res | grep '^#'
contains "after a rebalance every record was delivered" rb.res "all True"
contains "the second consumer took over partitions" rb.res "b got some True"
contains "duplicates stay under 1200 (349-851 measured; 1550 before pausing on a pending rebalance)" rb.res "dups within window True"
contains "the first consumer paused fetching while the group rebalanced" rb-a.log "group rebalancing: fetching paused until the new assignment"
contains "the first consumer gave partitions up" rb-a.log "revoked"

# 6b. A Kafka topic as the route's dead-letter channel: a line that is not JSON
#     and a record the sink rejects both land on topic dlq with where and why
#     they failed (ce_dlstage, ce_dlreason); the state store's dead letters stay
#     empty.
printf '%s\n' '{"n":1}' 'not json at all' '{"n":2,"reject":true}' '{"n":3}' >dl.jsonl
cat >dl.yaml <<YAML
site: dl
state: $TMP/dl.db
connectors:
  lines: { plugin: file, path: $TMP/dl.jsonl, format: jsonl }
  out: { plugin: fx_sink, path: $TMP/dl.out }
  dlq: { plugin: kafka, brokers: "$BS", topic: dlq }
routes:
  r:
    from: lines
    to: out
    errors: { dead_letter: dlq, retry: { max: 1, backoff: 10ms..20ms } }
YAML
exit_is "a route with a Kafka dead-letter channel runs" 0 "$B" run dl.yaml --plugin-dir "$BP_TEST_FIXTURES"
kcat -b "$BS" -C -t dlq -o beginning -c 2 -e -q -f '%h|%s\n' >dl.txt 2>/dev/null
contains "the invalid line reaches the dead-letter topic as text" dl.txt "not json at all"
contains "with the stage that failed" dl.txt "ce_dlstage=r/lines"
contains "and the reason with file:line:col" dl.txt "dl.jsonl:2:1: invalid JSON"
contains "the rejected record reaches it as the record" dl.txt '{"n":2,"reject":true}'
contains "with the sink's reason" dl.txt "ce_dlstage=r/out,ce_dlreason=reject: the ERP refused it"
"$B" dlq list dl.yaml >dl.list 2>&1
lacks "nothing went to the state store's dead letters" dl.list "r/"
python3 -c "
import json
print('delivered', sorted(json.loads(l)['n'] for l in open('dl.out')))" >dl.res
contains "the good records are delivered" dl.res "delivered [1, 3]"
# The channel cannot take the record (no topic): it goes to the state store.
cat >dl2.yaml <<YAML
site: dl2
state: $TMP/dl2.db
connectors:
  lines: { plugin: file, path: $TMP/dl.jsonl, format: jsonl }
  out: { plugin: fx_sink, path: $TMP/dl2.out }
  dlq: { plugin: kafka, brokers: "$BS", topic_from: data.nosuch }
routes:
  r: { from: lines, to: out, errors: { dead_letter: dlq } }
YAML
"$B" run dl2.yaml --plugin-dir "$BP_TEST_FIXTURES" 2>dl2.log
"$B" dlq list dl2.yaml >dl2.list 2>&1
contains "a dead letter the channel refuses is kept in the state store" dl2.list "invalid JSON"
contains "with the channel's reason" dl2.list "(dead-letter channel 'dlq' refused it: reject: no topic"
contains "at the stage that failed first" dl2.list "r/lines"

cleanup_broker

# 7. brokers: mock — an in-process mock cluster, shared by the connectors of one
#    bus: a file goes out to a topic as binary CloudEvents and comes back in
#    through a consumer group, with no server running.
python3 -c "
import json
for i in range(50): print(json.dumps({'m': i, 'vendor': 'V%d' % (i % 3)}))" >mock.jsonl
cat >mock.yaml <<YAML
site: mock
state: $TMP/mock.db
connectors:
  lines: { plugin: file, path: $TMP/mock.jsonl, format: jsonl }
  kout: { plugin: kafka, brokers: mock, topic: events, key: data.vendor, mock_partitions: 2 }
  kin: { plugin: kafka, brokers: mock, topics: [events], group: demo }
  back: { plugin: file, path: $TMP/mock.out, format: cloudevents }
routes:
  out: { from: lines, to: kout }
  in: { from: kin, to: back }
YAML
exit_is "a site with brokers: mock checks" 0 "$B" check mock.yaml
"$B" run mock.yaml 2>mock.log &
pid=$!
for _ in $(seq 300); do [ -s mock.out ] && [ "$(wc -l <mock.out)" -ge 50 ] && break; sleep 0.1; done
kill -TERM $pid; wait $pid
contains "the mock cluster is announced" mock.log "in-process Kafka mock cluster at 127.0.0.1:"
python3 -c "
import json
ev=[json.loads(l) for l in open('mock.out')]
ms=sorted(e['data']['m'] for e in ev)
print('got', len(ev), 'distinct', len(set(ms)), 'keys', sorted(set(e.get('partitionkey') for e in ev)))" >mock.res
contains "50 records out to the mock topic and back, none twice" mock.res "got 50 distinct 50"
contains "keys ride along as partitionkey" mock.res "keys ['V0', 'V1', 'V2']"
finish
