/* The CLI as a client of the owner's control API (docs/api.md). */
#ifndef BP_CLI_CONTROL_CLIENT_H
#define BP_CLI_CONTROL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* 1 when a process accepts connections on sock (an owner runs), -1 when the
 * socket exists but this user may not connect, else 0. */
int cli_owner_reachable(const char *sock);

typedef struct bp_owner_lock bp_owner_lock;

/* Before a command changes a site's state without its owner (§9): 1 when an
 * owner serves sock (go through it); 0 when none does, with *lock the owner
 * lock held (release it with bp_owner_lock_release once the change is
 * recorded: a `run` starting meanwhile waits for it), or *lock NULL when the
 * state file does not exist (nothing to lock; the caller says so). While
 * another process holds the lock without serving (an owner starting, another
 * command) it waits up to 10 s, then -1. -1 also when the socket refuses this
 * user or the lock file cannot be opened; printed, prefixed "backplane CMD: ".
 * what: the lock file's holder text ("review approve", "checkpoint reset"). */
int cli_owner_or_lock(const char *cmd, const char *what, const char *site, const char *sock,
                      const char *state_path, bp_owner_lock **lock);

/* One request (body: JSON or NULL) over sock; *code gets the HTTP status and
 * *resp the body (malloc'ed). 0, or -1 when no answer came (connection
 * refused, timeout_s passed). */
int cli_control_call(const char *sock, const char *method, const char *path, const char *body,
                     long timeout_s, long *code, char **resp);

/* ---- the owner over TCP (docs/api.md "Remote CLI") ---------------------- */

/* Takes --url URL, --token-file F, --cacert F, --cert F, --key F out of argv
 * (argv compacted, *argc updated; file names made absolute) and, when --url
 * was given, puts the placeholder SITE "@remote" at index site_at, so the
 * command runs as against a site whose owner serves it: every request then
 * goes to URL with the token read from F (one line, the last one printed by
 * `token create`). 0, or -1 (printed: a file unreadable, --url missing). */
int cli_remote_take(int *argc, char **argv, int site_at);
/* 1 after cli_remote_take found --url. */
int cli_remote_active(void);
/* The URL given (borrowed), or NULL. */
const char *cli_remote_url(void);

#endif

/* The site file's name and state file (absolute, malloc'ed) read without
 * validating the rest, so a reviewer needs none of the connectors' secrets
 * (a ${env:} or ${file:} that cannot be resolved is ignored here). 0, or -1
 * with the error printed. */
int cli_site_locate(const char *site_path, char **name, char **state_path);

/* A decision or replay (kind "review" / "dlq", verb as the endpoint) on entry
 * seq, with body (JSON, may be NULL): through the owner when one serves the
 * site (waiting up to wait_s for the outcome; < 0: 30 s), else recorded in the
 * state store for the owner's next start. Prints one line; returns the exit
 * status of DESIGN.md §9: 0 delivered or recorded, 4 still pending, 1
 * dead-lettered, refused or failed (said why on stderr). */
int cli_owner_request(const char *cmd, const char *site_path, const char *kind, int64_t seq,
                      const char *verb, const char *actor, const char *body, double wait_s);
