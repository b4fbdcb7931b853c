/* The owner lock of DESIGN.md §9: `<state file>.lock`, an flock(2) held by
 * `backplane run` for its whole life and briefly by CLI commands that change
 * state while no owner runs. The file also says who holds it (pid, start
 * time, command) so a refusal can name the holder. The kernel drops an flock
 * when its holder dies, so a lock left by a killed process is free; its
 * leftover text only lets the next holder log that it took a stale lock over.
 * The file is never unlinked (unlinking an flock file races with a waiter). */
#ifndef BP_CORE_OWNER_LOCK_H
#define BP_CORE_OWNER_LOCK_H

#include <sys/types.h>
#include <backplane/status.h>

typedef struct bp_owner_lock bp_owner_lock;

/* Who holds (or last held) a lock. pid 0: unknown (empty or unreadable file). */
typedef struct bp_owner_info {
    pid_t pid;
    char since[32];          /* UTC, "2026-12-01T10:00:00Z" */
    char command[64];        /* "run", "review approve", ... */
    char path[4096];         /* the lock file's path */
} bp_owner_info;

/* "/srv/acme/acme.state.db.lock" for state_path; malloc'ed, NULL on OOM. */
char *bp_owner_lock_path(const char *state_path);

/* Tries once, without waiting, to take the lock of the site whose state file
 * is state_path, for command ("run", "review approve", "dlq replay",
 * "checkpoint reset", ...: written into the lock file).
 * BP_OK: *out is the lock (release with bp_owner_lock_release); when a dead
 *   process had left its text in the file, *holder describes it (pid != 0) and
 *   a warning was logged ("taking over the stale lock ...").
 * BP_ERR_FULL: another live process holds it; *holder (when not NULL)
 *   names it (pid 0 while the holder has not yet written its text).
 * BP_ERR_IO: the lock file cannot be opened or created (directory missing,
 *   permission denied); *holder->path names it and errno is kept.
 * Any thread; the lock belongs to the process (flock on an O_CLOEXEC fd). */
bp_status bp_owner_lock_try(const char *state_path, const char *command, bp_owner_lock **out,
                            bp_owner_info *holder);

/* Takes the lock for `run` of site: like bp_owner_lock_try, but waits up to
 * wait_ms while a CLI command (not a run) holds it. On failure returns
 * BP_ERR_FULL or BP_ERR_IO with a malloc'ed one-line *errmsg:
 *   site 'acme' is already run by pid 4711 since 2026-12-01T10:00:00Z (lock /srv/acme/acme.state.db.lock)
 *   site 'acme' is locked by 'review approve' (pid 4712 since ...) (lock ...)
 *   cannot open the owner lock /srv/acme/acme.state.db.lock: Permission denied */
bp_status bp_owner_lock_acquire(const char *state_path, const char *site, const char *command,
                                int wait_ms, bp_owner_lock **out, char **errmsg);

/* Formats the refusal line above for holder (malloc'ed). */
char *bp_owner_lock_describe(const char *site, const bp_owner_info *holder);

/* Releases and frees (NULL is fine): the holder text is cleared first so the
 * next holder does not see a stale lock. */
void bp_owner_lock_release(bp_owner_lock *lock);

#endif
