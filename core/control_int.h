/* What the control API's listeners share (not for plugins or the CLI):
 *
 *   control.c       the handler (every endpoint, roles), the decider, the Unix socket
 *   admin_listen.c  the TCP listener (admin.listen / --admin-listen), TLS, tokens
 *   metrics_text.c  /metrics in the Prometheus text format
 *
 * One handler serves every listener; a listener says only who the peer is. */
#ifndef BP_CORE_CONTROL_INT_H
#define BP_CORE_CONTROL_INT_H

#include <stddef.h>
#include <stdint.h>
#include <microhttpd.h>
#include <stdatomic.h>

#include "control.h"

/* How a peer proved who it is: 0 with *role (tokens.h enum bp_role) and its
 * name in who ("alice", "api:ops"); else the HTTP status to refuse with (401,
 * 429) and the message in why. Called on the request's own thread. */
typedef unsigned (*bp_ctl_identify_fn)(void *ud, struct MHD_Connection *conn, int *role,
                                       char *who, size_t who_n, char *why, size_t why_n);

typedef struct bp_ctl_listener {
    bp_control *c;
    bp_ctl_identify_fn identify;
    void *ud;
    int metrics_public;       /* admin.metrics: public: /metrics without a token */
    int bearer;               /* 401s carry WWW-Authenticate: Bearer */
    /* Optional: a request's headers are all in (its first handler call). */
    void (*headers_in)(void *ud, struct MHD_Connection *conn);
    /* A thread-pool daemon (MHD_ALLOW_SUSPEND_RESUME): a request that is not
     * a GET (a decision waits for its outcome, a reload drains) runs on a
     * thread of its own with its connection suspended, so it never holds a
     * pool thread and the connections that share it. */
    int pooled;
    atomic_int jobs;          /* such threads running: the daemon stops after them */
} bp_ctl_listener;

/* libmicrohttpd's access handler and completion callback, cls: a
 * bp_ctl_listener that outlives the daemon. */
enum MHD_Result bp_control_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_size, void **con_cls);
void bp_control_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                          enum MHD_RequestTerminationCode toe);

/* The runtime served (borrowed). */
struct bp_runtime *bp_control_runtime(bp_control *c);

/* Milliseconds since the control API started. */
int64_t bp_control_uptime_ms(const bp_control *c);

/* ---- metrics_text.c ----------------------------------------------------- */

/* The /metrics page (Prometheus text format 0.0.4; docs/metrics.md),
 * malloc'ed; NULL when out of memory. Any thread. */
char *bp_control_metrics_text(bp_control *c);

/* Limits every listener applies (docs/api.md "Limits"). */
#define BP_CTL_MAX_CONN 64          /* connections at once, per listener */
#define BP_CTL_MAX_PER_IP 32        /* of those, from one address (TCP) */
#define BP_CTL_MAX_BODY (64 * 1024) /* a request's body */
#define BP_CTL_MEMORY (32 * 1024)   /* request line + headers, per connection */
#define BP_CTL_IDLE_S 10            /* a connection that sends nothing for this long */
#define BP_CTL_REQUEST_MS 30000     /* from a request's first byte to its body's last */

/* ---- admin_listen.c ---------------------------------------------------- */

typedef struct bp_admin_opts {
    const char *listen;           /* "HOST:PORT" (port 0: any free one; the log says which) */
    const char *cert, *key;       /* PEM files: TLS when both are set */
    const char *ca_file;          /* PEM: client certificates signed by it are required */
    int metrics_public;
    int insecure;                 /* a non-loopback address without TLS is allowed */
    const char *site_file;        /* for messages: file:line:col of the admin map */
    int line, col;
    int tls_line, tls_col;        /* of admin.tls, for a PEM file that cannot be read */
} bp_admin_opts;

typedef struct bp_admin_listener bp_admin_listener;

/* Starts the TCP listener (own threads: a slow client holds only its own).
 * BP_OK; BP_ERR_INVALID (address, files, loopback rule) or BP_ERR_IO with
 * *err malloc'ed. Thread: main. */
bp_status bp_admin_listen_start(bp_control *c, const bp_admin_opts *o, bp_admin_listener **out,
                                char **err);
/* The checks bp_admin_listen_start makes before it listens (address, TLS
 * pair, loopback rule, PEM files readable), for backplane check. BP_OK, or
 * BP_ERR_INVALID with *err (malloc'ed, file:line:col). Thread: any. */
bp_status bp_admin_listen_check(const bp_admin_opts *o, char **err);
/* The port it listens on (the chosen one when 0 was asked). */
unsigned bp_admin_listen_port(const bp_admin_listener *a);
void bp_admin_listen_stop(bp_admin_listener *a);

#endif
