#!/usr/bin/env bash
# Issue 17 finding 2 with a Kafka source: a record nested too deep for an
# envelope is dead-lettered with the reason and its partition goes on (the
# records behind it are delivered, a restart does not stop on it).
. "$(dirname "$0")/lib.sh"
B=$BACKPLANE
cd "$TMP"
command -v kcat >/dev/null || { echo "Bail out! kcat is not installed"; exit 1; }
eq() { if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1"; echo "#   got '$2', want '$3'"; fi; }
mkfifo broker.in
"$BP_KAFKA_BROKER" --brokers 1 --topic in:1 <broker.in >broker.out 2>broker.err &
broker=$!
exec 7>broker.in
for _ in $(seq 50); do grep -q BOOTSTRAP broker.out && break; sleep 0.1; done
BS=$(sed -n 's/^BOOTSTRAP //p' broker.out)
[ -n "$BS" ] && ok "mock broker up at $BS" || { not_ok "mock broker up"; cat broker.err; finish; exit 1; }
trap 'echo quit >&7; exec 7>&-; wait $broker 2>/dev/null; rm -rf "$TMP"' EXIT
deep() { python3 -c "import sys; n=int(sys.argv[1]); print('{\"a\":'*n + '1' + '}'*n)" "$1"; }
{ echo '{"n":1}'; deep 1000; echo '{"n":2}'; } | kcat -b "$BS" -P -t in 2>kcat.err
cat >k.yaml <<YAML
site: kp
state: $TMP/kp.db
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [in], group: g1,
         properties: { session.timeout.ms: 6000, auto.offset.reset: earliest } }
  out: { plugin: file, path: $TMP/out.jsonl, format: cloudevents }
routes:
  r: { from: kin, to: out, errors: { retry: { max: 2, backoff: 10ms..20ms } } }
YAML
consume() { # consume LINES: run until out.jsonl has LINES lines, then stop
    "$B" run k.yaml 2>>k.log &
    local pid=$!
    for _ in $(seq 300); do [ "$( (wc -l <out.jsonl) 2>/dev/null || echo 0)" -ge "$1" ] && break; sleep 0.1; done
    sleep 0.5
    kill -TERM $pid; wait $pid
}
consume 2
eq "both good records delivered" "$(grep -c '"data":{"n":' out.jsonl)" 2
eq "the deep one dead-lettered with the reason" "$(sqlite3 kp.db 'SELECT stage, reason FROM dead_letters')" \
   "r/kin|in[0]@1:4996: data nested deeper than 999 levels (an envelope holds at most 1000)"
lacks "no out-of-memory claim" k.log "out of memory"
lacks "the route did not stop" k.log "route stopped"
echo '{"n":3}' | kcat -b "$BS" -P -t in 2>>kcat.err
consume 3
eq "after a restart the partition goes on" "$(grep -c '"data":{"n":' out.jsonl)" 3
eq "still one dead letter" "$(sqlite3 kp.db 'SELECT count(*) FROM dead_letters')" 1
finish
