/* backplane run SITE: run the routes until their sources end or SIGTERM/SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "control.h"
#include "diag.h"
#include "log.h"
#include "runtime.h"
#include "site.h"

static bp_runtime *run_rt;

static void run_on_signal(int sig)
{
    (void)sig;
    if (run_rt)
        bp_runtime_request_stop(run_rt);
}

static void run_usage(FILE *f)
{
    fprintf(f, "usage: backplane run SITE [--plugin-dir DIR]... [--log-level L]\n"
               "                          [--log-format text|json] [--keep-going]\n"
               "Runs every route of the site. Sources without more input (a file without\n"
               "follow) end their route; the command returns when all routes have ended.\n"
               "SIGTERM/SIGINT: stop polling, finish and ack in-flight batches, exit.\n"
               "--keep-going: a route whose plugin fails to init is disabled; the others run.\n"
               "--log-level: error, warn, info (default), debug.\n"
               "exit: 0 ok, 1 invalid site or init failure, 2 usage, 3 a route failed\n");
}

int cmd_run(int argc, char **argv)
{
    cli_common c = {0};
    const char *path = NULL;
    int keep_going = 0;
    const cli_spec spec = {.cmd = "run", .usage = run_usage, .site = 1,
                           .flag = "--keep-going", .flag_set = &keep_going};
    int r = cli_parse(&spec, argc, argv, &c, &path);
    if (r != 0)
        return r > 0 ? BP_EXIT_OK : BP_EXIT_USAGE;
    bp_registry *reg = cli_registry(&c);
    if (reg == NULL)
        return BP_EXIT_INVALID;
    bp_diags d = {0};
    bp_site *site = NULL;
    int rc = BP_EXIT_OK;
    bp_runtime *rt = NULL;
    if (bp_site_load(path, &site, &d) != BP_OK || bp_site_check(site, reg, &d) != BP_OK ||
        bp_runtime_new(site, reg, keep_going, &rt, &d) != BP_OK) {
        bp_diags_print(&d, stderr);
        fprintf(stderr, "backplane run: %s: not started (%zu error(s))\n", path, d.n);
        rc = BP_EXIT_INVALID;
        goto out;
    }
    for (size_t i = 0; i < d.n; i++)
        bp_log(BP_LOG_ERROR, NULL, "%s", d.msgs[i]);
    run_rt = rt;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = run_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    bp_log(BP_LOG_INFO, NULL, "site '%s' running %zu route(s), state %s", site->name,
           site->n_routes, site->state_path);
    /* The owner serves the control API while it runs (DESIGN.md §9). */
    bp_control *ctl = NULL;
    char *ctl_err = NULL;
    if (bp_control_start(rt, &ctl, &ctl_err) != BP_OK) {
        fprintf(stderr, "backplane run: %s\n", ctl_err ? ctl_err : "no control API");
        free(ctl_err);
        rc = BP_EXIT_INVALID;
        run_rt = NULL;
        goto out;
    }
    if (bp_runtime_run(rt) != BP_OK)
        rc = BP_EXIT_RUNTIME;
    bp_control_stop(ctl);
    run_rt = NULL;
out:
    bp_runtime_free(rt);
    bp_diags_free(&d);
    bp_site_free(site);
    bp_registry_free(reg);
    return rc;
}
