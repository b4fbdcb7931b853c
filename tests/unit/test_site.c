/* The site model: structure, per-route options, errors block, review gate. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "site.h"
#include "tap.h"

static const char *write_tmp(const char *text)
{
    static char path[] = "/tmp/bp_test_site_XXXXXX";
    strcpy(path, "/tmp/bp_test_site_XXXXXX");
    int fd = mkstemp(path);
    FILE *f = fdopen(fd, "w");
    fputs(text, f);
    fclose(f);
    return path;
}

int main(void)
{
    bp_diags d = {0};
    bp_site *s = NULL;
    const char *p = write_tmp(
        "site: acme-hq\n"
        "state: ./acme.db\n"
        "connectors:\n"
        "  erp: { plugin: file, path: a.jsonl }\n"
        "  out: { plugin: file, path: b.jsonl }\n"
        "routes:\n"
        "  invoices:\n"
        "    from: { erp: { follow: true } }\n"
        "    through:\n"
        "      - set: { set: { data.x: 1 } }\n"
        "      - set\n"
        "    review: { when: \"confidence < 0.85 or flags has 'po_mismatch'\" }\n"
        "    to: [out, { erp: { format: cloudevents } }]\n"
        "    errors: { retry: { max: 8, backoff: 1s..5m } }\n"
        "    batch: 64\n");
    CHECK_INT(bp_site_load(p, &s, &d), BP_OK);
    CHECK_INT(d.n, 0);
    CHECK_STR(s->name, "acme-hq");
    /* Relative paths are relative to the site file (in /tmp), not to the
     * working directory. */
    CHECK_STR(s->dir, "/tmp");
    CHECK_STR(s->state_path, "/tmp/./acme.db");
    CHECK_INT(s->n_connectors, 2);
    CHECK_STR(s->connectors[0].plugin, "file");
    CHECK_INT(s->n_routes, 1);
    bp_site_route *r = &s->routes[0];
    CHECK_STR(r->from.name, "erp");
    CHECK(r->from.opts != NULL && bp_ymap_get(r->from.opts, "follow") != NULL);
    CHECK_INT(r->n_through, 2);
    CHECK(r->through[1].opts == NULL);
    CHECK_INT(r->n_to, 2);
    CHECK_STR(r->to[1].name, "erp");
    CHECK_INT(r->to[1].line, 13);
    CHECK_STR(r->review_when, "confidence < 0.85 or flags has 'po_mismatch'");
    CHECK_INT(r->retry_max, 8);
    CHECK_INT(r->backoff_min_ms, 1000);
    CHECK_INT(r->backoff_max_ms, 300000);
    CHECK_INT(r->batch_size, 64);
    bp_site_free(s);
    remove(p);

    /* Structure errors, all of them. */
    p = write_tmp("sitename: x\n"
                  "connectors:\n"
                  "  a: { path: x }\n"
                  "routes:\n"
                  "  r1: { through: {}, to: [] }\n"
                  "  r2: { from: [a, b], to: a, errors: { retry: { backoff: 5m..1s } } }\n");
    bp_site_load(p, &s, &d);
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "%s:", p);
    int all_positioned = d.n > 0;
    for (size_t i = 0; i < d.n; i++)
        all_positioned &= strncmp(d.msgs[i], prefix, strlen(prefix)) == 0;
    CHECK(all_positioned);
    char buf[256];
    snprintf(buf, sizeof(buf), "%s:1:1: unknown key 'sitename' in the site file (valid: site, "
                               "state, plugin_dirs, connectors, routes, ledger, audit, lease, admin, "
                               "review)", p);
    CHECK_STR(d.msgs[0], buf);
    int found_plugin = 0, found_from = 0, found_through = 0, found_backoff = 0, found_use = 0;
    for (size_t i = 0; i < d.n; i++) {
        found_plugin |= strstr(d.msgs[i], ":3:3: connector 'a' must be a map with a 'plugin' key") != NULL;
        found_from |= strstr(d.msgs[i], ":5:3: route 'r1' has no 'from'") != NULL;
        found_through |= strstr(d.msgs[i], ":5:18: 'through' must be a list of transforms") != NULL;
        found_backoff |= strstr(d.msgs[i], "retry.backoff must be MIN..MAX durations, e.g. 1s..5m") != NULL;
        found_use |= strstr(d.msgs[i], ":6:15: 'from' must be a name or a one-key map { name: { options } }") != NULL;
    }
    CHECK(found_plugin);
    CHECK(found_from);
    CHECK(found_through);
    CHECK(found_backoff);
    CHECK(found_use);
    bp_site_free(s);
    bp_diags_free(&d);
    remove(p);

    CHECK_INT(bp_site_load("/nonexistent/site.yaml", &s, &d), BP_ERR_IO);
    CHECK_STR(d.msgs[0], "/nonexistent/site.yaml: cannot read site file: No such file or directory");
    bp_diags_free(&d);
    return tap_done();
}
