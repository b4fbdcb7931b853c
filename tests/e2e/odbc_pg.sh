# PostgreSQL 15 for the ODBC tests and benchmark: a fresh cluster in a temp
# dir, run as the postgres user (initdb refuses root), on a free loopback
# port, as a direct child of the shell (pg_ctl would daemonise it).
#   pg_start DIR   -> sets PG_PORT, PG_PID, PG_DIR; creates database "bp"
#   pg_stop        -> fast shutdown, waits on the PID
#   pg_restart     -> pg_start on the same DIR and port (data kept)
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
PG_AS=
[ "$(id -u)" = 0 ] && PG_AS="setpriv --reuid=postgres --regid=postgres --init-groups --"

pg_as() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
    else
        "$@"
    fi
}

pg_free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

pg_launch() {
    # A simple command in the background (not a function), so $! is the
    # server's own PID: setpriv execs postgres.
    $PG_AS "$PG_BIN/postgres" -D "$PG_DIR/data" -c fsync=off -c synchronous_commit=off \
        -c full_page_writes=off -c listen_addresses=127.0.0.1 -p "$PG_PORT" \
        -k "$PG_DIR/sock" >>"$PG_DIR/pg.log" 2>&1 &
    PG_PID=$!
    for _ in $(seq 200); do
        pg_as "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" && return 0
        kill -0 "$PG_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "# postgres did not start:"; sed 's/^/#   /' "$PG_DIR/pg.log" | tail -n 20
    return 1
}

pg_start() {
    PG_DIR=$1
    mkdir -p "$PG_DIR/sock"
    # The postgres user must reach the directory (and its parents).
    chmod 755 "$PG_DIR"
    local d=$PG_DIR
    while [ "$d" != / ]; do chmod o+x "$d" 2>/dev/null; d=$(dirname "$d"); done
    [ "$(id -u)" = 0 ] && chown -R postgres:postgres "$PG_DIR"
    pg_as "$PG_BIN/initdb" --no-sync -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
        -D "$PG_DIR/data" >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log"; return 1; }
    PG_PORT=$(pg_free_port)
    pg_launch || return 1
    pg_as psql -q -h 127.0.0.1 -p "$PG_PORT" -U postgres -c "CREATE DATABASE bp" postgres >/dev/null
}

pg_stop() {
    [ -n "${PG_PID:-}" ] || return 0
    kill -INT "$PG_PID" 2>/dev/null   # fast shutdown
    wait "$PG_PID" 2>/dev/null
    PG_PID=
}

pg_restart() { pg_launch; }

# psql on the test database; extra arguments pass through.
pg_sql() { psql -X -q -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d bp "$@"; }
