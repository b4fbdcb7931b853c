/* The owner's control API (DESIGN.md §9, docs/api.md): HTTP/1.1 + JSON on the
 * site's Unix socket, and the decision requests both it and the CLI (when no
 * owner runs) record in the state store, which only the owner carries out. */
#ifndef BP_CORE_CONTROL_H
#define BP_CORE_CONTROL_H

#include <stddef.h>
#include <stdint.h>
#include <backplane/status.h>
#include "state.h"
#include "state_control.h"

struct bp_runtime;
struct bp_site;
typedef struct bp_control bp_control;

/* The site's control socket path into buf: admin.socket when set, else
 * "<state file>.sock", or, when that is longer than sun_path,
 * "$XDG_RUNTIME_DIR/backplane-HASH.sock" (else /tmp) with HASH the first 16
 * hex digits of the SHA-256 of the state file's path. 0, or -1 when even that
 * does not fit. */
int bp_control_socket_path(const struct bp_site *site, char *buf, size_t n);

/* Records a decision (kind "review": verb approve|correct|reject; kind "dlq":
 * verb replay|delete; verb "check": nothing recorded, only whether it could
 * be) on entry seq for actor, for the owner to carry out. A
 * review decision claims the item in the same transaction (claim_ttl_ms);
 * body_json: {"note","reason","set","add"} as given (may be NULL).
 * Returns BP_OK with *id, or: BP_ERR_NOT_FOUND (no such entry), BP_ERR_FULL
 * (already decided, or claimed when *claimed is 1: *who gets the other actor,
 * malloc'ed),
 * BP_ERR_IO. Thread: any (the state store's own lock). */
bp_status bp_control_submit(bp_state *st, const char *kind, int64_t seq, const char *verb,
                            const char *actor, const char *body_json, int64_t claim_ttl_ms,
                            int64_t *id, char **who, int *claimed);

/* Pauses and their state: state_control.h bp_state_route_pause_set /
 * bp_state_route_paused. */

/* Checks a request before it is recorded (a correction's sets against the
 * parked record: path, field, type; review.h bp_review_check). BP_OK, or
 * BP_ERR_INVALID / BP_ERR_PARSE with *err (malloc'ed). Thread: any. */
bp_status bp_control_check(bp_state *st, const char *kind, int64_t seq, const char *verb,
                           const char *body_json, char **err);

/* The site file's admin.* and review.claim_ttl keys checked as
 * bp_control_start would (unix_roles groups and roles, the listen address,
 * the TLS pair and its PEM files, the loopback rule), without listening:
 * backplane check. BP_OK, or BP_ERR_INVALID with *err (malloc'ed, the first
 * error as file:line:col: message). Thread: any. */
bp_status bp_control_check_site(const char *site_file, char **err);

/* Starts serving rt's site on its socket (a thread of libmicrohttpd's, plus
 * one decider that carries out recorded requests, those from before first),
 * and on TCP when the site has admin.listen. BP_OK, or BP_ERR_IO with *err
 * (malloc'ed: an admin option's file:line:col, a refused address). Thread:
 * main. */
bp_status bp_control_start(struct bp_runtime *rt, bp_control **out, char **err);
/* bp_control_start, and the TCP admin listener on admin_listen ("HOST:PORT",
 * run --admin-listen) in place of the site's admin.listen when not NULL
 * (docs/api.md "TCP and TLS"). */
bp_status bp_control_start_ex(struct bp_runtime *rt, const char *admin_listen, bp_control **out,
                              char **err);
/* The TCP listener's port (the one chosen when 0 was asked), 0 when none. */
unsigned bp_control_admin_port(const bp_control *c);
/* Stops serving, waits for a decision in progress, removes the socket. */
void bp_control_stop(bp_control *c);

#endif
