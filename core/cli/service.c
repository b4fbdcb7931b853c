/* `run` as a systemd service (Type=notify, issue 21): READY, RELOADING,
 * STOPPING and WATCHDOG through libsystemd's sd_notify, which does nothing
 * when NOTIFY_SOCKET is not set. A build without libsystemd tells systemd
 * nothing (the packaged unit needs it; make deps installs libsystemd-dev). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "bp_build_config.h"
#include "cli.h"
#ifdef BP_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

void cli_notify(const char *fmt, ...)
{
#ifdef BP_HAVE_LIBSYSTEMD
    char *msg = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&msg, fmt, ap);
    va_end(ap);
    if (n >= 0)
        sd_notify(0, msg);
    free(msg);
#else
    (void)fmt;
#endif
}

long long cli_watchdog_usec(void)
{
#ifdef BP_HAVE_LIBSYSTEMD
    uint64_t usec = 0;
    /* unset_environment 0: a plugin's child process is not ours to ping for,
     * but systemd checks WATCHDOG_PID, so it could not anyway. */
    if (sd_watchdog_enabled(0, &usec) > 0)
        return (long long)usec;
#endif
    return 0;
}
