#!/usr/bin/env bash
# A Kafka route across instances of one site (issue 20): state in a real
# PostgreSQL started here, librdkafka's mock cluster as the broker. The Kafka
# source is not leased: every instance joins the consumer group and takes a
# share of the partitions. An instance is killed -9 mid-run and another
# started (rebalances): nothing is lost. Kafka without transactions is
# at-least-once across a takeover: duplicates are counted, not refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/odbc_pg.sh"
B=$BACKPLANE
cd "$TMP"
command -v kcat >/dev/null || { echo "Bail out! kcat is not installed"; exit 1; }
declare -A PID
cleanup() {
    for p in "${PID[@]}"; do kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "${broker:-}" ] && { echo quit >&7; exec 7>&-; wait "$broker" 2>/dev/null; }
    pg_stop
    rm -rf "$TMP"
}
trap cleanup EXIT
pg_start "$TMP/pg" || { echo "Bail out! cannot start PostgreSQL"; exit 1; }
mkfifo broker.in
"$BP_KAFKA_BROKER" --brokers 1 --topic in:4 --topic out:2 <broker.in >broker.out 2>broker.err &
broker=$!
exec 7>broker.in
for _ in $(seq 50); do grep -q BOOTSTRAP broker.out && break; sleep 0.1; done
BS=$(sed -n 's/^BOOTSTRAP //p' broker.out)
[ -n "$BS" ] && ok "PostgreSQL on $PG_PORT, mock broker at $BS" || { not_ok "mock broker up"; finish; exit 1; }
cat >k.yaml <<YAML
site: kscale
state: "postgresql://postgres@127.0.0.1:$PG_PORT/bp"
connectors:
  kin: { plugin: kafka, brokers: "$BS", topics: [in], group: kscale,
         properties: { session.timeout.ms: 6000, heartbeat.interval.ms: 500 } }
  kout: { plugin: kafka, brokers: "$BS", topic: out }
routes:
  r: { from: kin, to: kout }
YAML
exit_is "check" 0 "$B" check k.yaml
start() { "$B" run k.yaml --instance "$1" >"$1.log" 2>&1 & PID[$1]=$!; }
N=3000
produce() {  # produce FROM TO
    python3 -c "
import json
for i in range($1, $2 + 1): print('k%d|%s' % (i % 11, json.dumps({'n': i})))" >batch.txt
    kcat -b "$BS" -P -t in -K '|' -l batch.txt
}
start k1; start k2; start k3
sleep 2
for c in 0 1 2 3 4 5; do
    produce $((c * 500 + 1)) $(((c + 1) * 500))
    if [ "$c" = 2 ]; then kill -9 "${PID[k2]}"; wait "${PID[k2]}" 2>/dev/null; unset "PID[k2]"; start k4; fi
    sleep 1
done
count() {
    kcat -b "$BS" -C -t out -o beginning -e -q -f '%s\n' 2>/dev/null |
        python3 -c "
import sys, json
ns = [json.loads(l)['data']['n'] if 'data' in json.loads(l) else json.loads(l).get('n') for l in sys.stdin if l.strip()]
print(len(set(ns)), len(ns))"
}
for _ in $(seq 60); do read -r distinct total < <(count); [ "${distinct:-0}" -ge "$N" ] && break; sleep 1; done
echo "# kafka across instances: $distinct distinct of $N, $total written ($((total - distinct)) duplicates after the kill: at-least-once)"
[ "${distinct:-0}" -eq "$N" ] && ok "nothing lost through rebalances and a kill -9 ($N of $N)" ||
    not_ok "nothing lost through rebalances ($distinct of $N)"
n=0; for k in k1 k3 k4; do
    if grep -q "route started" "$k.log"; then n=$((n + 1)); else
        echo "# $k did not start its route:"; grep -v " info " "$k.log" | head -n 5 | sed 's/^/#   /'; fi
done
[ "$n" -eq 3 ] && ok "the Kafka route runs on every instance (not leased)" || not_ok "the Kafka route runs on every instance ($n of 3)"
lacks "no lease for a Kafka route" k1.log "standby"
finish
