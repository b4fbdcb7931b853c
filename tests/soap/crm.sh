# Shell helpers to run the test CRM (crm_server.js on node-soap) as a direct
# child on loopback; sourced by tests/e2e/soap.sh and bench/run-soap-upsert.sh.
# NODE_PATH must name the node_modules that tests/soap/node-setup.sh prints.
CRM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# crm_start PREFIX LOGBASE [server args: --port P --state F --basic u:p --wss u:p]
# Sets PREFIX_PID and PREFIX_PORT (empty when the server did not come up);
# stdout/stderr go to LOGBASE.out/.err. Ready means the port answers.
crm_start() {
    local prefix=$1 log=$2; shift 2
    node "$CRM_DIR/crm_server.js" "$@" >"$log.out" 2>"$log.err" &
    local pid=$! port=""
    # Up to 30 s: node under a loaded machine (the ASan suite beside it) was
    # seen to take more than 10 s to print its port after a restart.
    for _ in $(seq 600); do grep -q '^PORT ' "$log.out" 2>/dev/null && break; sleep 0.05; done
    port=$(sed -n 's/^PORT //p' "$log.out")
    for _ in $(seq 50); do
        [ -n "$port" ] && (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05
    done
    printf -v "${prefix}_PID" %s "$pid"
    printf -v "${prefix}_PORT" %s "$port"
}

# crm_stop PID: SIGTERM (the server saves its state) and wait.
crm_stop() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }
