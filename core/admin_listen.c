/* The control API on TCP (DESIGN.md §9, docs/api.md "TCP and TLS"): the same
 * handler as the Unix socket (control.c), with bearer tokens for identity,
 * TLS through libmicrohttpd's GnuTLS, and client certificates when
 * admin.tls.ca_file is set. Failed attempts are counted per peer address:
 * past BP_ADMIN_FAILS in a minute the address is refused (429) until the
 * minute is over, whatever it sends, so tokens cannot be guessed at speed.
 * The token itself never reaches a log. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>
#include <openssl/crypto.h>

#include "clock.h"
#include "control_int.h"
#include "log.h"
#include "runtime_int.h"
#include "tokens.h"

#define BP_ADMIN_FAILS 20          /* failed attempts per address per window */
#define BP_ADMIN_THREADS 2         /* libmicrohttpd's pool: 2 cores is the common box */
#define BP_ADMIN_WINDOW_MS 60000
#define BP_ADMIN_PEERS 256         /* addresses remembered (the oldest is forgotten) */
#define BP_ADMIN_CACHE 16          /* verified tokens kept (hash, name, role) */
#define BP_ADMIN_CACHE_MS 5000     /* re-read from the store at least this often */

/* A token verified lately: a dashboard polling every second must not cost
 * a SQL statement under the store's lock (which the routes' writes take)
 * per request. Dropped when this process creates or revokes any token
 * (bp_token_generation), so revocation is still immediate. */
typedef struct admin_cached {
    unsigned char hash[32];
    char name[72];
    int role;
    unsigned gen;
    int64_t at_ms;
    int used;
} admin_cached;

typedef struct admin_peer {
    char addr[INET6_ADDRSTRLEN];
    int64_t window_start;
    int fails;
    int said;                  /* the refusal was logged in this window */
} admin_peer;

/* One open connection, watched while it sends a request's line and headers:
 * libmicrohttpd's timeout is per idle period, so a client sending a byte
 * every few seconds would hold its thread for as long as it likes. The
 * watchdog shuts down a connection whose headers take over
 * BP_CTL_REQUEST_MS (the body's own bound is in control.c). */
typedef struct admin_conn {
    struct admin_conn *next, *prev;
    int fd;
    int in_request;            /* headers in, the request being served */
    int64_t since_ms;          /* mono: connection or last request began */
} admin_conn;

struct bp_admin_listener {
    bp_ctl_listener l;
    struct MHD_Daemon *d;
    char *cert, *key, *ca;     /* PEM texts: libmicrohttpd keeps pointers to them */
    unsigned port;
    int tls;
    pthread_mutex_t mu;
    admin_peer peers[BP_ADMIN_PEERS];
    admin_cached cache[BP_ADMIN_CACHE];
    size_t cache_next;
    admin_conn conns;          /* list head (a.conns.next ...), under mu */
    pthread_t watchdog;
    int have_watchdog, stopping;
    pthread_cond_t cv;
};

static void admin_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                         enum MHD_ConnectionNotificationCode toe)
{
    bp_admin_listener *a = cls;
    pthread_mutex_lock(&a->mu);
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        admin_conn *e = calloc(1, sizeof(*e));
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        if (e && ci) {
            e->fd = ci->connect_fd;
            e->since_ms = bp_mono_ms();
            e->next = a->conns.next;
            e->prev = &a->conns;
            if (a->conns.next)
                a->conns.next->prev = e;
            a->conns.next = e;
            *socket_context = e;
        } else {
            free(e);
        }
    } else if (*socket_context) {
        admin_conn *e = *socket_context;
        e->prev->next = e->next;
        if (e->next)
            e->next->prev = e->prev;
        free(e);
        *socket_context = NULL;
    }
    pthread_mutex_unlock(&a->mu);
}

static admin_conn *admin_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void admin_headers_in(void *ud, struct MHD_Connection *conn)
{
    bp_admin_listener *a = ud;
    pthread_mutex_lock(&a->mu);
    admin_conn *e = admin_conn_of(conn);
    if (e)
        e->in_request = 1;
    pthread_mutex_unlock(&a->mu);
}

static void admin_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                            enum MHD_RequestTerminationCode toe)
{
    bp_admin_listener *a = cls;
    bp_control_completed(&a->l, conn, con_cls, toe);
    pthread_mutex_lock(&a->mu);
    admin_conn *e = admin_conn_of(conn);
    if (e) {   /* keep-alive: the next request's headers are timed afresh */
        e->in_request = 0;
        e->since_ms = bp_mono_ms();
    }
    pthread_mutex_unlock(&a->mu);
}

static void *admin_watchdog(void *arg)
{
    bp_admin_listener *a = arg;
    bp_name_thread("admin", "watchdog");
    pthread_mutex_lock(&a->mu);
    while (!a->stopping) {
        struct timespec ts = bp_deadline_in(1000);
        pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        int64_t now = bp_mono_ms();
        for (admin_conn *e = a->conns.next; e && !a->stopping; e = e->next)
            if (!e->in_request && e->fd >= 0 && now - e->since_ms > BP_CTL_REQUEST_MS) {
                /* libmicrohttpd's recv then sees the end and closes it. */
                shutdown(e->fd, SHUT_RDWR);
                e->fd = -1;
                bp_log(BP_LOG_WARN, NULL, "admin listener: closed a connection that sent no "
                       "complete request in %d s", BP_CTL_REQUEST_MS / 1000);
            }
    }
    pthread_mutex_unlock(&a->mu);
    return NULL;
}

/* The cached role of hash (constant time over every slot), or
 * BP_ROLE_NONE; lock held. */
static int admin_cache_find(bp_admin_listener *a, const unsigned char *hash, int64_t now,
                            char *name, size_t n)
{
    unsigned gen = bp_token_generation();
    int role = BP_ROLE_NONE;
    for (size_t i = 0; i < BP_ADMIN_CACHE; i++) {
        admin_cached *e = &a->cache[i];
        int live = e->used && e->gen == gen && now - e->at_ms < BP_ADMIN_CACHE_MS;
        int same = CRYPTO_memcmp(e->hash, hash, 32) == 0;
        if (live && same && role == BP_ROLE_NONE) {
            role = e->role;
            snprintf(name, n, "%s", e->name);
        }
    }
    return role;
}

static void admin_cache_put(bp_admin_listener *a, const unsigned char *hash, const char *name,
                            int role, unsigned gen, int64_t now)
{
    admin_cached *e = &a->cache[a->cache_next++ % BP_ADMIN_CACHE];
    memcpy(e->hash, hash, 32);
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->role = role;
    e->gen = gen;
    e->at_ms = now;
    e->used = 1;
}

static char *admin_read_file(const char *path, const char *where, char **err, const char *what)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (asprintf(err, "%sadmin.tls.%s %s: %s", where, what, path, strerror(errno)) < 0)
            *err = NULL;
        return NULL;
    }
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            if (cap > 1024 * 1024) {
                free(buf);
                fclose(f);
                if (asprintf(err, "%sadmin.tls.%s %s: larger than 1 MiB", where, what, path) < 0)
                    *err = NULL;
                return NULL;
            }
            char *nb = realloc(buf, cap);
            if (nb == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static void admin_peer_addr(struct MHD_Connection *conn, char *out, size_t n)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, n, "unknown");
    if (ci == NULL || ci->client_addr == NULL)
        return;
    socklen_t len = ci->client_addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                            : sizeof(struct sockaddr_in);
    getnameinfo(ci->client_addr, len, out, (socklen_t)n, NULL, 0, NI_NUMERICHOST);
}

/* The peer's slot (made or reused); lock held. */
static admin_peer *admin_peer_get(bp_admin_listener *a, const char *addr, int64_t now)
{
    admin_peer *oldest = &a->peers[0];
    for (size_t i = 0; i < BP_ADMIN_PEERS; i++) {
        admin_peer *p = &a->peers[i];
        if (strcmp(p->addr, addr) == 0) {
            if (now - p->window_start >= BP_ADMIN_WINDOW_MS) {
                p->window_start = now;
                p->fails = 0;
                p->said = 0;
            }
            return p;
        }
        if (p->window_start < oldest->window_start)
            oldest = p;
    }
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->addr, sizeof(oldest->addr), "%s", addr);
    oldest->window_start = now;
    return oldest;
}

/* A valid client certificate when admin.tls.ca_file is set: "" when fine,
 * else why not. */
static const char *admin_client_cert(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    if (ci == NULL || ci->tls_session == NULL)
        return "no TLS session";
    gnutls_session_t s = (gnutls_session_t)ci->tls_session;
    unsigned int n = 0;
    if (gnutls_certificate_get_peers(s, &n) == NULL || n == 0)
        return "a client certificate is required (admin.tls.ca_file)";
    unsigned int status = 0;
    if (gnutls_certificate_verify_peers2(s, &status) != GNUTLS_E_SUCCESS || status != 0)
        return "the client certificate is not signed by admin.tls.ca_file (or has expired)";
    return "";
}

static unsigned admin_identify(void *ud, struct MHD_Connection *conn, int *role, char *who,
                               size_t who_n, char *why, size_t why_n)
{
    bp_admin_listener *a = ud;
    char addr[INET6_ADDRSTRLEN + 8];
    admin_peer_addr(conn, addr, sizeof(addr));
    int64_t now = bp_mono_ms();
    pthread_mutex_lock(&a->mu);
    admin_peer *p = admin_peer_get(a, addr, now);
    int blocked = p->fails >= BP_ADMIN_FAILS;
    int64_t left = BP_ADMIN_WINDOW_MS - (now - p->window_start);
    pthread_mutex_unlock(&a->mu);
    if (blocked) {
        snprintf(why, why_n, "too many failed attempts from %s: try again in %lld s", addr,
                 (long long)(left / 1000 + 1));
        return 429;
    }
    const char *fail = NULL;
    if (a->ca && (fail = admin_client_cert(conn))[0] == '\0')
        fail = NULL;
    char *name = NULL;
    int r = BP_ROLE_NONE;
    if (fail == NULL) {
        const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
        if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
            fail = "no token (Authorization: Bearer TOKEN)";
        } else {
            const char *t = h + 7;
            while (*t == ' ')
                t++;
            unsigned char hash[32];
            char cached[72];
            bp_token_hash(t, hash);
            unsigned gen = bp_token_generation();   /* before the read: a change meanwhile drops it */
            pthread_mutex_lock(&a->mu);
            r = admin_cache_find(a, hash, now, cached, sizeof(cached));
            pthread_mutex_unlock(&a->mu);
            if (r != BP_ROLE_NONE) {
                name = strdup(cached);
            } else {
                r = bp_token_verify(bp_runtime_state(bp_control_runtime(a->l.c)), t, &name);
                if (r < 0) {
                    snprintf(why, why_n, "cannot read the tokens");
                    return 500;
                }
                if (r != BP_ROLE_NONE && name) {
                    pthread_mutex_lock(&a->mu);
                    admin_cache_put(a, hash, name, r, gen, now);
                    pthread_mutex_unlock(&a->mu);
                }
            }
            if (r == BP_ROLE_NONE)
                fail = "unknown or revoked token";
        }
    }
    if (fail) {
        pthread_mutex_lock(&a->mu);
        p = admin_peer_get(a, addr, now);
        int fails = ++p->fails;
        int say = fails < BP_ADMIN_FAILS || !p->said;
        if (fails >= BP_ADMIN_FAILS)
            p->said = 1;
        pthread_mutex_unlock(&a->mu);
        if (say)
            bp_log(BP_LOG_WARN, NULL, "admin listener: refused %s: %s (%d failed attempt(s) in "
                   "the last minute%s)", addr, fail, fails,
                   fails >= BP_ADMIN_FAILS ? "; refusing it for the rest of the minute" : "");
        snprintf(why, why_n, "%s", fail);
        free(name);
        return 401;
    }
    snprintf(who, who_n, "api:%s", name);
    free(name);
    *role = r;
    return 0;
}

static int admin_is_loopback(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_LOOPBACK(a6))
            return 1;
        return IN6_IS_ADDR_V4MAPPED(a6) && a6->s6_addr[12] == 127;
    }
    return 0;
}

/* The checks both run and check make: HOST:PORT resolved into *ai (the
 * caller frees it), the TLS pair, the loopback rule, the PEM files readable
 * (into *cert, *key, *ca when not NULL; freed otherwise). where prefixes the
 * messages (file:line:col, or ""). 0, or -1 with *err. */
static int admin_resolve(const bp_admin_opts *o, const char *where, char *host, size_t host_n,
                         struct addrinfo **ai, int *tls, char **cert, char **key, char **ca,
                         char **err)
{
    *ai = NULL;
    /* HOST:PORT, [V6]:PORT */
    char port[16];
    const char *l = o->listen, *colon = strrchr(l, ':');
    size_t hl = colon ? (size_t)(colon - l) : 0;
    if (colon == NULL || hl == 0 || hl >= host_n || strlen(colon + 1) == 0 ||
        strlen(colon + 1) >= sizeof(port) || strspn(colon + 1, "0123456789") != strlen(colon + 1)) {
        if (asprintf(err, "%sadmin.listen '%s': not HOST:PORT (e.g. 127.0.0.1:8443)", where, l) < 0)
            *err = NULL;
        return -1;
    }
    memcpy(host, l, hl);
    host[hl] = '\0';
    if (host[0] == '[' && host[hl - 1] == ']') {
        memmove(host, host + 1, hl - 2);
        host[hl - 2] = '\0';
    }
    snprintf(port, sizeof(port), "%s", colon + 1);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    int g = getaddrinfo(host, port, &hints, ai);
    if (g != 0 || *ai == NULL) {
        if (asprintf(err, "%sadmin.listen '%s': %s", where, l, gai_strerror(g)) < 0)
            *err = NULL;
        *ai = NULL;
        return -1;
    }
    *tls = o->cert && o->key;
    if ((o->cert != NULL) != (o->key != NULL) || (o->ca_file && !*tls)) {
        if (asprintf(err, "%sadmin.tls needs both cert and key (ca_file only with them)",
                     where) < 0)
            *err = NULL;
        return -1;
    }
    if (!admin_is_loopback((*ai)->ai_addr) && !*tls && !o->insecure) {
        if (asprintf(err, "%sadmin.listen '%s' is not a loopback address: tokens would cross "
                          "the network in clear text; set admin.tls: { cert, key } (or "
                          "admin.insecure: true behind a TLS proxy)", where, l) < 0)
            *err = NULL;
        return -1;
    }
    char twhere[512] = "";
    if (o->site_file)
        snprintf(twhere, sizeof(twhere), "%s:%d:%d: ", o->site_file, o->tls_line, o->tls_col);
    char *c0 = NULL, *k0 = NULL, *a0 = NULL;
    int bad = *tls && ((c0 = admin_read_file(o->cert, twhere, err, "cert")) == NULL ||
                       (k0 = admin_read_file(o->key, twhere, err, "key")) == NULL ||
                       (o->ca_file && (a0 = admin_read_file(o->ca_file, twhere, err,
                                                            "ca_file")) == NULL));
    if (bad || cert == NULL) {
        free(c0);
        free(k0);
        free(a0);
        return bad ? -1 : 0;
    }
    *cert = c0;
    *key = k0;
    *ca = a0;
    return 0;
}

bp_status bp_admin_listen_check(const bp_admin_opts *o, char **err)
{
    *err = NULL;
    char where[512] = "", host[256];
    if (o->site_file)
        snprintf(where, sizeof(where), "%s:%d:%d: ", o->site_file, o->line, o->col);
    struct addrinfo *ai = NULL;
    int tls = 0;
    int r = admin_resolve(o, where, host, sizeof(host), &ai, &tls, NULL, NULL, NULL, err);
    if (ai)
        freeaddrinfo(ai);
    return r == 0 ? BP_OK : BP_ERR_INVALID;
}

bp_status bp_admin_listen_start(bp_control *c, const bp_admin_opts *o, bp_admin_listener **out,
                                char **err)
{
    *out = NULL;
    *err = NULL;
    char where[512] = "", host[256];
    if (o->site_file)
        snprintf(where, sizeof(where), "%s:%d:%d: ", o->site_file, o->line, o->col);
    const char *l = o->listen;
    struct addrinfo *ai = NULL;
    int tls = 0;
    char *cert = NULL, *key = NULL, *ca = NULL;
    if (admin_resolve(o, where, host, sizeof(host), &ai, &tls, &cert, &key, &ca, err) != 0) {
        if (ai)
            freeaddrinfo(ai);
        return BP_ERR_INVALID;
    }
    int loop = admin_is_loopback(ai->ai_addr);
    bp_admin_listener *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        freeaddrinfo(ai);
        free(cert);
        free(key);
        free(ca);
        return BP_ERR_NOMEM;
    }
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);
    a->l = (bp_ctl_listener){.c = c, .identify = admin_identify, .ud = a,
                             .metrics_public = o->metrics_public, .bearer = 1, .pooled = 1,
                             .headers_in = admin_headers_in};
    a->tls = tls;
    a->cert = cert;
    a->key = key;
    a->ca = ca;
    /* A pool of BP_ADMIN_THREADS threads, each polling its connections with
     * epoll: a thread per connection cost ~2 wake-ups and a select per call
     * (bench/run-admin-load.sh: owner CPU ~100 us per call, ~50 with the
     * pool). What may wait (decisions, reloads) runs on a thread of its own
     * with its connection suspended (bp_ctl_listener.pooled). */
    unsigned flags = MHD_USE_AUTO | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0) |
                     (ai->ai_family == AF_INET6 ? MHD_USE_IPv6 : 0);
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_SOCK_ADDR, 0, ai->ai_addr},
        {MHD_OPTION_THREAD_POOL_SIZE, BP_ADMIN_THREADS, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, BP_CTL_MAX_CONN, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, BP_CTL_MAX_PER_IP, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, BP_CTL_IDLE_S, NULL},
        {MHD_OPTION_CONNECTION_MEMORY_LIMIT, BP_CTL_MEMORY, NULL},
        {MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)admin_completed, a},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)admin_notify, a},
        {tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, a->cert},
        {tls ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, a->key},
        {a->ca ? MHD_OPTION_HTTPS_MEM_TRUST : MHD_OPTION_END, 0, a->ca},
        {MHD_OPTION_END, 0, NULL},
    };
    /* MHD_OPTION_END ends the array: move the TLS entries in front of it. */
    struct MHD_OptionItem list[sizeof(opts) / sizeof(opts[0])];
    size_t k = 0;
    for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]) - 1; i++)
        if (opts[i].option != MHD_OPTION_END)
            list[k++] = opts[i];
    list[k] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    a->d = MHD_start_daemon(flags, 0, NULL, NULL, bp_control_handler, &a->l,
                            MHD_OPTION_ARRAY, list, MHD_OPTION_END);
    freeaddrinfo(ai);
    if (a->d == NULL) {
        if (asprintf(err, "%sadmin.listen '%s': cannot listen (%s%s)", where, l,
                     errno ? strerror(errno) : "libmicrohttpd refused",
                     tls ? "; or the TLS certificate or key is not valid PEM" : "") < 0)
            *err = NULL;
        bp_admin_listen_stop(a);
        return BP_ERR_IO;
    }
    a->have_watchdog = pthread_create(&a->watchdog, NULL, admin_watchdog, a) == 0;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(a->d, MHD_DAEMON_INFO_BIND_PORT);
    a->port = di ? di->port : 0;
    char shown[300];
    if (strchr(host, ':'))
        snprintf(shown, sizeof(shown), "[%s]:%u", host, a->port);
    else
        snprintf(shown, sizeof(shown), "%s:%u", host, a->port);
    bp_log(BP_LOG_INFO, NULL, "admin listener on %s://%s (tokens%s%s)", tls ? "https" : "http",
           shown, a->ca ? ", client certificates" : "",
           o->metrics_public ? "; /metrics public" : "");
    if (!loop && !tls)
        bp_log(BP_LOG_WARN, NULL, "admin listener on %s WITHOUT TLS (admin.insecure: true): "
               "tokens and records cross the network in clear text", shown);
    *out = a;
    return BP_OK;
}

unsigned bp_admin_listen_port(const bp_admin_listener *a)
{
    return a ? a->port : 0;
}

void bp_admin_listen_stop(bp_admin_listener *a)
{
    if (a == NULL)
        return;
    if (a->have_watchdog) {
        pthread_mutex_lock(&a->mu);
        a->stopping = 1;
        pthread_cond_broadcast(&a->cv);
        pthread_mutex_unlock(&a->mu);
        pthread_join(a->watchdog, NULL);
    }
    /* libmicrohttpd must not stop with a connection suspended: the requests
     * on threads of their own finish first (a decision's wait ends at once
     * when the owner stops, control.c ctl_wait). */
    while (atomic_load(&a->l.jobs) > 0)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    if (a->d)
        MHD_stop_daemon(a->d);
    free(a->cert);
    if (a->key) {
        explicit_bzero(a->key, strlen(a->key));
        free(a->key);
    }
    free(a->ca);
    pthread_cond_destroy(&a->cv);
    pthread_mutex_destroy(&a->mu);
    free(a);
}
