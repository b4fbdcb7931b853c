/* backplane check SITE: every error of a site file, without connecting anywhere. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "control.h"
#include "diag.h"
#include "site.h"
#include "site_templates.h"

static void check_usage(FILE *f)
{
    fprintf(f, "usage: backplane check SITE [--plugin-dir DIR]...\n"
               "Validates the site file: YAML syntax, structure, plugins (loaded, not\n"
               "initialised), every option against its plugin's schema, predicates.\n"
               "Prints all errors as file:line:col: message. Secret values are never printed.\n"
               "Warns (file:line:col: warning: ...) about template paths that name nothing\n"
               "the route's records carry; warnings do not change the exit status.\n"
               "exit: 0 valid, 1 errors found, 2 usage error\n");
}

int cmd_check(int argc, char **argv)
{
    cli_common c = {0};
    const char *path = NULL;
    const cli_spec spec = {.cmd = "check", .usage = check_usage, .site = 1};
    int r = cli_parse(&spec, argc, argv, &c, &path);
    if (r != 0)
        return r > 0 ? BP_EXIT_OK : BP_EXIT_USAGE;
    bp_registry *reg = cli_registry(&c);
    if (reg == NULL)
        return BP_EXIT_INVALID;
    bp_diags d = {0};
    bp_site *site = NULL;
    bp_site_load(path, &site, &d);
    if (site)
        bp_site_check(site, reg, &d);
    /* ---- template paths (core3-report) ---- */
    bp_diags warns = {0};
    if (site)
        bp_site_check_templates(site, &d, &warns);
    /* ---- end template paths ---- */
    /* The admin.* keys as run would refuse them (address, TLS files, the
     * loopback rule, unix_roles): control.c checks them, not the site schema. */
    char *admin_err = NULL;
    size_t n_err = d.n;
    if (site && bp_control_check_site(path, &admin_err) != BP_OK)
        n_err++;
    int rc = n_err ? BP_EXIT_INVALID : BP_EXIT_OK;
    bp_diags_print(&d, stderr);
    if (admin_err)
        fprintf(stderr, "%s\n", admin_err);
    free(admin_err);
    bp_diags_print(&warns, stderr);   /* core3-report */
    if (rc == BP_EXIT_OK)
        printf("%s: ok (%zu connector(s), %zu route(s))\n", path, site->n_connectors,
               site->n_routes);
    else
        fprintf(stderr, "%s: %zu error(s)\n", path, n_err);
    if (warns.n)   /* core3-report */
        fprintf(stderr, "%s: %zu warning(s)\n", path, warns.n);
    bp_diags_free(&warns);
    bp_diags_free(&d);
    bp_site_free(site);
    bp_registry_free(reg);
    return rc;
}
