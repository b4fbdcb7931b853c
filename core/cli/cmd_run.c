/* backplane run SITE: the site's owner (§9). Holds the owner lock, watches the
 * state file, reloads on SIGHUP, runs the routes until their sources end or
 * SIGTERM/SIGINT (with --serve: until SIGTERM/SIGINT). */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "audit_log.h"
#include "cli.h"
#include "control.h"
#include "diag.h"
#include "log.h"
#include "owner_lock.h"
#include "db.h"
#include "runtime.h"
#include "site.h"

static bp_runtime *run_rt;
static atomic_int run_signalled;   /* SIGTERM/SIGINT seen */
static atomic_int run_hup;         /* SIGHUP seen, not yet handled */

static void run_on_signal(int sig)
{
    if (sig == SIGHUP) {
        atomic_store(&run_hup, 1);
        return;
    }
    atomic_store(&run_signalled, 1);
    if (run_rt)
        bp_runtime_request_stop(run_rt);
}

static void run_usage(FILE *f)
{
    fprintf(f, "usage: backplane run SITE [--plugin-dir DIR]... [--log-level L]\n"
               "                          [--log-format text|json] [--keep-going] [--serve]\n"
               "Runs every route of the site as its one owner: holds <state file>.lock\n"
               "(a second run of the site exits 1 naming the owner). Sources without more\n"
               "input (a file without follow) end their route; the command returns when\n"
               "all routes have ended, or with --serve stays up until SIGTERM/SIGINT.\n"
               "SIGTERM/SIGINT: stop polling, finish and ack in-flight batches, exit.\n"
               "SIGHUP: reload the site file (validated first; on failure the running\n"
               "configuration is kept and the reason logged).\n"
               "The state file is watched: deleted or replaced, the routes stop (exit 3).\n"
               "--keep-going: a route whose plugin fails to init is disabled; the others run.\n"
               "--log-level: error, warn, info (default), debug.\n"
               "--instance NAME: this instance's name in leases and its heartbeat row on\n"
               "PostgreSQL state (default HOST:PID).\n"
               "exit: 0 ok, 1 invalid site, init failure or the site already run,\n"
               "      2 usage, 3 a route failed or the state file was lost\n");
}

typedef struct run_watch {
    bp_runtime *rt;
    atomic_int done;
    atomic_int lost;
    atomic_int reloading;       /* a reload thread runs (joined by the watcher) */
    pthread_t reloader;
    char *why;
} run_watch;

/* A reload drains the changed routes, which can take as long as a sink takes
 * to come back; it runs in its own thread so that the watcher keeps checking
 * the state file and keeps systemd's watchdog fed meanwhile. SIGHUPs that
 * arrive during a reload are folded into one more reload. */
static void *run_reload_main(void *arg)
{
    run_watch *w = arg;
    do {
        char *msg = NULL;
        cli_notify("RELOADING=1\nSTATUS=reloading the site file");
        bp_status st = bp_runtime_reload(w->rt, &msg);
        bp_log(st == BP_OK ? BP_LOG_INFO : BP_LOG_ERROR, NULL, "%s", msg ? msg : "reload failed");
        cli_notify("READY=1\nSTATUS=%s", msg ? msg : "reload failed");
        free(msg);
    } while (!atomic_load(&w->done) && atomic_exchange(&run_hup, 0));
    atomic_store(&w->reloading, 0);
    return NULL;
}

static long long run_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Once a second (and at once on SIGHUP): the state file's identity, reloads.
 * Under systemd also the notify protocol: RELOADING/READY around a reload,
 * STOPPING once a stop is asked, and WATCHDOG=1 at half of WatchdogSec= (this
 * thread ticking shows the process is not wedged; a route's own trouble shows
 * in /ready and the logs, and is no reason for systemd to kill the rest). */
static void *run_watch_main(void *arg)
{
    run_watch *w = arg;
    int ticks = 0, stopping = 0, have_reloader = 0;
    long long wd_us = cli_watchdog_usec() / 2, wd_last = run_now_us();
    while (!atomic_load(&w->done)) {
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        if (wd_us > 0 && run_now_us() - wd_last >= wd_us) {
            cli_notify("WATCHDOG=1");
            wd_last = run_now_us();
        }
        if (!stopping && atomic_load(&run_signalled)) {
            stopping = 1;
            cli_notify("STOPPING=1\nSTATUS=stopping: finishing in-flight batches");
        }
        if (!atomic_load(&w->reloading) && atomic_exchange(&run_hup, 0)) {
            if (have_reloader)
                pthread_join(w->reloader, NULL);
            atomic_store(&w->reloading, 1);
            have_reloader = pthread_create(&w->reloader, NULL, run_reload_main, w) == 0;
            if (!have_reloader) {
                atomic_store(&w->reloading, 0);
                bp_log(BP_LOG_ERROR, NULL, "reload: cannot start its thread; SIGHUP ignored");
            }
        }
        if (++ticks < 10 || atomic_load(&w->lost))
            continue;
        ticks = 0;
        /* issue 18: audit.checkpoint_interval holds for a quiet log too. */
        if (bp_audit_checkpoint_if_due(bp_runtime_state(w->rt)) != BP_OK)
            bp_log(BP_LOG_WARN, NULL, "cannot sign the audit log's checkpoint (state store)");
        char *why = NULL;
        if (bp_state_check_file(bp_runtime_state(w->rt), &why) != BP_OK) {
            w->why = why;
            atomic_store(&w->lost, 1);
            bp_log(BP_LOG_ERROR, NULL, "%s: stopping; nothing acked since",
                   why ? why : "the state file was lost");
            bp_runtime_request_stop(w->rt);
        }
    }
    if (have_reloader)
        pthread_join(w->reloader, NULL);
    return NULL;
}

int cmd_run(int argc, char **argv)
{
    cli_common c = {0};
    const char *path = NULL;
    int keep_going = 0, serve = 0;
    const char *admin_listen = NULL;   /* in place of the site's admin.listen */
    /* Options the spec has no room for are taken out first. */
    char **av = calloc((size_t)argc + 1, sizeof(*av));
    int ac = 0;
    if (av == NULL)
        return BP_EXIT_INVALID;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--serve") == 0) {
            serve = 1;
        } else if (i > 0 && strcmp(argv[i], "--instance") == 0 && i + 1 < argc) {
            bp_runtime_set_instance(argv[++i]);   /* issue 20: lease holder name */
        } else if (i > 0 && strncmp(argv[i], "--instance=", 11) == 0) {
            bp_runtime_set_instance(argv[i] + 11);
        } else if (i > 0 && strcmp(argv[i], "--admin-listen") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "backplane run: --admin-listen needs HOST:PORT\n");
                free(av);
                return BP_EXIT_USAGE;
            }
            admin_listen = argv[++i];
        } else if (i > 0 && strncmp(argv[i], "--admin-listen=", 15) == 0) {
            admin_listen = argv[i] + 15;
        } else {
            av[ac++] = argv[i];
        }
    }
    const cli_spec spec = {.cmd = "run", .usage = run_usage, .site = 1,
                           .flag = "--keep-going", .flag_set = &keep_going};
    int r = cli_parse(&spec, ac, av, &c, &path);
    free(av);
    if (r != 0)
        return r > 0 ? BP_EXIT_OK : BP_EXIT_USAGE;
    /* SIGHUP from the start: one that comes before the routes run (a
     * supervisor that reloads at once) is a reload, never the default death. */
    struct sigaction hup;
    memset(&hup, 0, sizeof(hup));
    hup.sa_handler = run_on_signal;
    sigemptyset(&hup.sa_mask);
    sigaction(SIGHUP, &hup, NULL);
    bp_registry *reg = cli_registry(&c);
    if (reg == NULL)
        return BP_EXIT_INVALID;
    bp_diags d = {0};
    bp_site *site = NULL;
    int rc = BP_EXIT_OK;
    bp_runtime *rt = NULL;
    bp_owner_lock *lock = NULL;
    char *lerr = NULL;
    if (bp_site_load(path, &site, &d) != BP_OK || bp_site_check(site, reg, &d) != BP_OK) {
        bp_diags_print(&d, stderr);
        fprintf(stderr, "backplane run: %s: not started (%zu error(s))\n", path, d.n);
        rc = BP_EXIT_INVALID;
        goto out;
    }
    /* The lock before anything opens the state file or a sink. With
     * PostgreSQL state there is none: the lease rows are the ownership
     * (DESIGN.md §10), and several instances run the site. */
    if (!bp_db_target_is_pg(site->state_path) &&
        bp_owner_lock_acquire(site->state_path, site->name, "run", 10000, &lock, &lerr) !=
        BP_OK) {
        fprintf(stderr, "backplane run: %s\n", lerr ? lerr : "cannot take the owner lock");
        rc = BP_EXIT_INVALID;
        goto out;
    }
    if (bp_runtime_new(site, reg, keep_going, &rt, &d) != BP_OK) {
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
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* The owner serves the control API while it runs (DESIGN.md §9). */
    bp_control *ctl = NULL;
    char *ctl_err = NULL;
    if (bp_control_start_ex(rt, admin_listen, &ctl, &ctl_err) != BP_OK) {
        fprintf(stderr, "backplane run: %s\n", ctl_err ? ctl_err : "no control API");
        free(ctl_err);
        rc = BP_EXIT_INVALID;
        run_rt = NULL;
        goto out;
    }
    run_watch w = {.rt = rt};
    pthread_t watcher;
    int have_watcher = pthread_create(&watcher, NULL, run_watch_main, &w) == 0;
    bp_log(BP_LOG_INFO, NULL, "site '%s' running %zu route(s), state %s, pid %ld", site->name,
           site->n_routes, site->state_path, (long)getpid());
    /* Ready: validated, the owner lock held, plugins initialised, the
     * control socket listening; the routes start polling now. */
    cli_notify("READY=1\nSTATUS=site '%s': %zu route(s), state %s", site->name, site->n_routes,
               site->state_path);
    /* --serve: the runtime waits for a stop (SIGTERM/SIGINT, the state file
     * lost) rather than for its routes; a reload may start routes again. */
    bp_runtime_set_serve(rt, serve);
    if (bp_runtime_run(rt) != BP_OK)
        rc = BP_EXIT_RUNTIME;
    cli_notify("STOPPING=1\nSTATUS=stopping");
    atomic_store(&w.done, 1);
    if (have_watcher)
        pthread_join(watcher, NULL);
    if (!atomic_load(&w.lost)) {
        /* the last second before the end counts too */
        char *why = NULL;
        if (bp_state_check_file(bp_runtime_state(rt), &why) != BP_OK) {
            bp_log(BP_LOG_ERROR, NULL, "%s: stopping; nothing acked since", why);
            w.why = why;
            atomic_store(&w.lost, 1);
        }
    }
    if (atomic_load(&w.lost)) {
        fprintf(stderr, "backplane run: %s: stopped; nothing acked since\n",
                w.why ? w.why : "the state file was lost");
        rc = BP_EXIT_RUNTIME;
    }
    free(w.why);
    bp_control_stop(ctl);
    run_rt = NULL;
out:
    bp_runtime_free(rt);
    bp_owner_lock_release(lock);
    free(lerr);
    bp_diags_free(&d);
    bp_site_free(site);
    bp_registry_free(reg);
    return rc;
}
