/* See owner_lock.h. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "owner_lock.h"
#include "log.h"

struct bp_owner_lock {
    int fd;
    char *path;
};

char *bp_owner_lock_path(const char *state_path)
{
    char *p = NULL;
    return asprintf(&p, "%s.lock", state_path) < 0 ? NULL : p;
}

/* Parses "pid=N\nsince=T\ncommand=C\n". */
static void ol_read(int fd, bp_owner_info *h)
{
    char buf[512];
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
    h->pid = 0;
    h->since[0] = h->command[0] = '\0';
    if (n <= 0)
        return;
    buf[n] = '\0';
    for (char *line = buf, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        if (strncmp(line, "pid=", 4) == 0)
            h->pid = (pid_t)atol(line + 4);
        else if (strncmp(line, "since=", 6) == 0)
            snprintf(h->since, sizeof(h->since), "%s", line + 6);
        else if (strncmp(line, "command=", 8) == 0)
            snprintf(h->command, sizeof(h->command), "%s", line + 8);
    }
}

static int ol_alive(pid_t pid)
{
    return pid > 0 && (kill(pid, 0) == 0 || errno == EPERM);
}

bp_status bp_owner_lock_try(const char *state_path, const char *command, bp_owner_lock **out,
                            bp_owner_info *holder)
{
    bp_owner_info scratch;
    if (holder == NULL)
        holder = &scratch;
    memset(holder, 0, sizeof(*holder));
    *out = NULL;
    char *path = bp_owner_lock_path(state_path);
    if (path == NULL)
        return BP_ERR_NOMEM;
    snprintf(holder->path, sizeof(holder->path), "%s", path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        int e = errno;
        free(path);
        errno = e;
        return BP_ERR_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK || e == EINTR)
            ol_read(fd, holder);
        close(fd);
        free(path);
        errno = e;
        return e == EWOULDBLOCK ? BP_ERR_FULL : BP_ERR_IO;
    }
    ol_read(fd, holder);
    if (holder->pid != 0 && holder->pid != getpid() && !ol_alive(holder->pid))
        bp_log(BP_LOG_WARN, NULL,
               "taking over the stale lock %s of pid %ld (%s since %s), which is no longer "
               "running",
               path, (long)holder->pid, holder->command[0] ? holder->command : "?",
               holder->since[0] ? holder->since : "?");
    else
        holder->pid = 0;
    char text[256], since[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
    int len = snprintf(text, sizeof(text), "pid=%ld\nsince=%s\ncommand=%s\n", (long)getpid(),
                       since, command ? command : "?");
    if (len < 0 || (size_t)len >= sizeof(text))
        len = (int)strlen(text);
    /* Write first, then cut: a reader never sees an empty file while we hold it. */
    if (pwrite(fd, text, (size_t)len, 0) != (ssize_t)len || ftruncate(fd, len) != 0) {
        int e = errno;
        close(fd);
        free(path);
        errno = e;
        return BP_ERR_IO;
    }
    bp_owner_lock *l = malloc(sizeof(*l));
    if (l == NULL) {
        close(fd);
        free(path);
        return BP_ERR_NOMEM;
    }
    l->fd = fd;
    l->path = path;
    *out = l;
    return BP_OK;
}

char *bp_owner_lock_describe(const char *site, const bp_owner_info *h)
{
    char *s = NULL;
    int r;
    if (h->pid == 0)
        r = asprintf(&s, "site '%s' is locked by another process (lock %s)", site, h->path);
    else if (strcmp(h->command, "run") == 0)
        r = asprintf(&s, "site '%s' is already run by pid %ld since %s (lock %s)", site,
                     (long)h->pid, h->since, h->path);
    else
        r = asprintf(&s, "site '%s' is locked by '%s' (pid %ld since %s) (lock %s)", site,
                     h->command, (long)h->pid, h->since, h->path);
    return r < 0 ? NULL : s;
}

bp_status bp_owner_lock_acquire(const char *state_path, const char *site, const char *command,
                                int wait_ms, bp_owner_lock **out, char **errmsg)
{
    *errmsg = NULL;
    bp_owner_info h;
    int waited = 0;
    for (;;) {
        bp_status st = bp_owner_lock_try(state_path, command, out, &h);
        if (st == BP_OK)
            return BP_OK;
        if (st == BP_ERR_IO) {
            int e = errno;
            if (asprintf(errmsg, "cannot open the owner lock %s: %s", h.path, strerror(e)) < 0)
                *errmsg = NULL;
            return st;
        }
        if (st != BP_ERR_FULL)
            return st;
        /* A run never goes away by itself; a CLI command (or a holder that has
         * not yet written who it is) soon does. */
        int cli = h.pid == 0 || strcmp(h.command, "run") != 0;
        if (!cli || waited >= wait_ms) {
            *errmsg = bp_owner_lock_describe(site, &h);
            return BP_ERR_FULL;
        }
        if (waited == 0)
            bp_log(BP_LOG_INFO, NULL, "waiting up to %d s for '%s' (pid %ld) to release %s",
                   wait_ms / 1000, h.command[0] ? h.command : "?", (long)h.pid, h.path);
        struct timespec ts = {0, 100 * 1000000L};
        nanosleep(&ts, NULL);
        waited += 100;
    }
}

void bp_owner_lock_release(bp_owner_lock *l)
{
    if (l == NULL)
        return;
    if (ftruncate(l->fd, 0) != 0) {
        /* the text stays: the next holder logs a stale takeover, nothing worse */
    }
    flock(l->fd, LOCK_UN);
    close(l->fd);
    free(l->path);
    free(l);
}
