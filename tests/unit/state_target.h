/* Where a unit test keeps its state store: the SQLite file it names, or,
 * when the suite started a PostgreSQL server for it (BP_TEST_PG=HOST:PORT,
 * tests/unit/with_pg.sh), a fresh database on that server, so the same
 * assertions run against both backends (DESIGN.md §10). */
#ifndef BP_TEST_STATE_TARGET_H
#define BP_TEST_STATE_TARGET_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* file: the SQLite path the test would use. Returns file, or a static URI of
 * a new, empty database (one per call). */
static inline const char *test_state_target(const char *file)
{
    static char uri[256];
    static int n;
    const char *pg = getenv("BP_TEST_PG");
    if (pg == NULL || *pg == '\0')
        return file;
    char host[128];
    snprintf(host, sizeof(host), "%s", pg);
    char *port = strrchr(host, ':');
    if (port == NULL)
        return file;
    *port++ = '\0';
    char name[64], cmd[512];
    snprintf(name, sizeof(name), "t%ld_%d", (long)getpid(), n++);
    snprintf(cmd, sizeof(cmd),
             "psql -X -q -h %s -p %s -U postgres -d postgres -c 'CREATE DATABASE %s' >/dev/null",
             host, port, name);
    if (system(cmd) != 0)
        return file;
    snprintf(uri, sizeof(uri), "postgresql://postgres@%s:%s/%s", host, port, name);
    return uri;
}

/* 1 when the test runs against PostgreSQL (file-only checks are skipped). */
static inline int test_state_pg(void)
{
    const char *pg = getenv("BP_TEST_PG");
    return pg && *pg;
}

#endif
