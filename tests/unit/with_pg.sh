#!/bin/sh
# Runs a unit test against a PostgreSQL 15 server started for it alone: a
# fresh cluster in a temp dir on a free loopback port (tests/e2e/odbc_pg.sh),
# BP_TEST_PG=127.0.0.1:PORT in the test's environment (state_target.h).
#   with_pg.sh TEST_BINARY [ARGS...]
set -u
. "$(dirname "$0")/../e2e/odbc_pg.sh"
T=$(mktemp -d /tmp/bp-unitpg-XXXXXX)
trap 'pg_stop; rm -rf "$T"' EXIT INT TERM
pg_start "$T/pg" >&2 || { echo "Bail out! postgres did not start"; exit 1; }
BP_TEST_PG=127.0.0.1:$PG_PORT "$@"
