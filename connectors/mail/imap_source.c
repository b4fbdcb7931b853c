/* The IMAP source (libcurl): new mail found by UID per mailbox, above the
 * checkpointed UID; UIDVALIDITY tracked; write-back (flags, move) and the
 * checkpoint only after the core acks.
 *
 * Per poll round and mailbox: SELECT (UIDVALIDITY, UIDNEXT; a fresh SELECT,
 * never STATUS: RFC 3501 6.3.10 says a client SHOULD NOT ask STATUS of its
 * selected mailbox, and Dovecot then answers `OK [CLIENTBUG]` with a stale
 * UIDNEXT, so mail delivered meanwhile was not seen) -> if UIDNEXT moved,
 * UID SEARCH UID next:* [NOT KEYWORD kw] -> UID FETCH set (FLAGS
 * RFC822.SIZE) -> one `;UID=n` fetch per message (libcurl fetches BODY[],
 * which sets \Seen: the flag is taken off again right after for messages
 * that were unseen, so a person watching the mailbox sees a message read
 * only once it was processed, if `seen` is on).
 *
 * On ack, per mailbox: UID STORE +FLAGS.SILENT (\Seen kw), UID MOVE to
 * move_to (processed) or rejected_to (dead-lettered by this source as
 * malformed or oversized), then the checkpoint: the highest acked UID. A
 * crash between write-back and checkpoint re-reads nothing: moved messages
 * are gone from the mailbox and, without move_to, flagged ones are skipped
 * by NOT KEYWORD. With move_to, a crash between STORE and MOVE leaves
 * flagged mail in the mailbox: it is read again (at least once; ledger
 * sinks skip it by its id) and then moved.
 * When the write-back fails (server down) it is kept and retried before the
 * next fetch, and the checkpoint waits for it.
 *
 * UIDVALIDITY change (the mailbox was recreated, UIDs mean other messages):
 * the mailbox is read again from UID 1, skipping messages that carry the
 * keyword; write-backs still pending for the old UIDs are dropped. The
 * envelope id is the Message-ID, so ledger sinks do not write a re-read
 * message twice. */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "curl_transfer.h"
#include "in_flight.h"
#include "mime_envelope.h"

typedef struct {
    char *name;
    char *url;                  /* BASE/escaped-name */
    char *quoted;               /* "name" for commands */
    uint32_t uidvalidity;       /* 0: not known yet */
    uint32_t next_uid;          /* first UID not yet pushed */
    uint32_t acked_uid;         /* checkpointed */
    uint32_t *todo;             /* UIDs found, not yet fetched, ascending */
    uint32_t *todo_size;
    unsigned char *todo_unseen;
    size_t n_todo, i_todo;
} imap_box;

/* One message fetch in progress: the next one is fetched while the current
 * one is parsed (two slots, one transfer on the connection at a time). */
typedef struct {
    curl_buf buf;
    char err[CURL_ERROR_SIZE];
    size_t ti;                  /* index into the mailbox's todo list */
    int busy;
} imap_slot;

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *base;                 /* scheme://host:port/ */
    char *type;
    imap_box *boxes;
    size_t n_boxes, cur_box;
    curl_settings cs;
    CURL *h;
    CURLM *multi;               /* every transfer goes through it (one connection cache) */
    curl_buf buf;
    imap_slot slot[2];
    mime_limits lim;
    int64_t interval_ms;
    int follow;                 /* 0: end (BP_EOF) once a check of every mailbox finds nothing */
    int seen;
    char *keyword;              /* NULL: none */
    char *move_to, *rejected_to, *parked_to;
    char *move_q, *rejected_q, *parked_q;  /* quoted */
    int folders_made;
    mail_flights fl;            /* pushed, not acked */
    mail_flight *wb;            /* acked, write-back not yet done */
    size_t n_wb, cap_wb;
    int64_t next_check_ms;
} imap_src;


/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct imap_opts {
    const char *url;
    const cJSON *mailboxes;
    const char *user, *password;
    struct conn_tls tls;
    int64_t timeout;
    int64_t poll_interval;
    int follow;
    int seen;
    const char *keyword, *move_to, *rejected_to, *parked_to;
    int64_t max_message_size, max_attachment_size;
    long long max_pdf_pages;
    const char *type;
    int64_t pdf_timeout, pdf_message_timeout;
    long long max_pdf_attachments, max_parts;
    int pdf_layout;
};

static const struct bp_option imap_tls_fields[] = {CONN_TLS_FIELDS(struct imap_opts)};

static const struct bp_option imap_options[] = {
    {.name = "url", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "imap://host[:port][/MAILBOX] or imaps://...; the path is the mailbox when 'mailboxes' is not given",
     BP_OPT_FIELD(struct imap_opts, url)},
    {.name = "mailboxes", .type = BP_OPT_LIST,
     .description = "mailboxes to read (default: the URL's, else INBOX)",
     BP_OPT_FIELD(struct imap_opts, mailboxes)},
    {.name = "user", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED, .description = "login name",
     BP_OPT_FIELD(struct imap_opts, user)},
    {.name = "password", .type = BP_OPT_SECRET, .description = "login password (use ${env:...} or ${file:...})",
     BP_OPT_FIELD(struct imap_opts, password)},
    CURL_CONN_OPTIONS(struct imap_opts, imap_tls_fields),
    {.name = "poll_interval", .type = BP_OPT_DURATION, .default_value = "30s", .min = "50ms",
     .description = "how often the mailboxes are checked when the last check found nothing",
     BP_OPT_FIELD(struct imap_opts, poll_interval)},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "true",
     .description = "keep checking for new mail (false: end once every mailbox was read)",
     BP_OPT_FIELD(struct imap_opts, follow)},
    {.name = "seen", .type = BP_OPT_BOOL, .default_value = "true",
     .description = "write-back: set \\Seen on processed messages (until then they stay unseen)",
     BP_OPT_FIELD(struct imap_opts, seen)},
    {.name = "keyword", .type = BP_OPT_STRING, .default_value = "$Processed",
     .description = "write-back: keyword set on processed messages; without move_to, mail carrying it is skipped (\"\": none)",
     BP_OPT_FIELD(struct imap_opts, keyword)},
    {.name = "move_to", .type = BP_OPT_STRING,
     .description = "write-back: move processed messages to this mailbox (created if missing)",
     BP_OPT_FIELD(struct imap_opts, move_to)},
    {.name = "rejected_to", .type = BP_OPT_STRING,
     .description = "write-back: move messages dead-lettered (malformed, oversized, or by the route) here (default: move_to)",
     BP_OPT_FIELD(struct imap_opts, rejected_to)},
    {.name = "parked_to", .type = BP_OPT_STRING,
     .description = "write-back: move messages whose record is parked for review here, left unseen (default: as processed)",
     BP_OPT_FIELD(struct imap_opts, parked_to)},
    MIME_LIMIT_OPTIONS(struct imap_opts),
    {.name = "interval", .renamed = "'poll_interval'"},
    {0},
};

/* "name" with \ and " escaped (RFC 3501 quoted string). */
static char *imap_quote(const char *s)
{
    size_t n = strlen(s);
    char *q = malloc(2 * n + 3), *o = q;
    if (q == NULL)
        return NULL;
    *o++ = '"';
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            *o++ = '\\';
        *o++ = *s;
    }
    *o++ = '"';
    *o = '\0';
    return q;
}

/* UIDs as an IMAP set "1:4,7,9:12" (uids ascending); NULL when out of memory. */
static char *imap_set(const uint32_t *uids, size_t n)
{
    size_t cap = n * 22 + 1, len = 0;
    char *s = malloc(cap);
    if (s == NULL)
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < n;) {
        size_t j = i;
        while (j + 1 < n && uids[j + 1] == uids[j] + 1)
            j++;
        len += (size_t)snprintf(s + len, cap - len, len ? ",%" PRIu32 : "%" PRIu32, uids[i]);
        if (j > i)
            len += (size_t)snprintf(s + len, cap - len, ":%" PRIu32, uids[j]);
        i = j + 1;
    }
    return s;
}

static int imap_u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The number after "KEY " in text (0 when absent). */
static uint32_t imap_num_after(const char *text, const char *key)
{
    const char *p = strstr(text, key);
    return p ? (uint32_t)strtoul(p + strlen(key), NULL, 10) : 0;
}

/* libcurl reconnects on its own when the cached connection died (server
 * restarted): say so when a transfer opened a new connection. */
static void imap_note_connect(imap_src *self)
{
    long n = 0;
    if (curl_easy_getinfo(self->h, CURLINFO_NUM_CONNECTS, &n) == CURLE_OK && n > 0) {
        self->api->log(self->inst, BP_LOG_INFO, "connected to %s", self->base);
        self->api->counter_add(self->inst, "connects", 1);
    }
}

/* What a failed transfer means: the server's NO/BAD/BYE reply when there is
 * one (fault_imap: [AUTHENTICATIONFAILED] and the like are not connected),
 * else libcurl's code. The reason ("cause: reply" or "cause: libcurl's
 * message") goes into why. */
static fault imap_fault(CURLcode rc, const curl_buf *b, const char *err, char *why, size_t n)
{
    const char *word = strchr(b->reply, ' ');
    size_t wl = word ? strcspn(word + 1, " ") : 0;
    if (word && ((wl == 2 && strncasecmp(word + 1, "NO", 2) == 0) ||
                 (wl == 3 && (strncasecmp(word + 1, "BAD", 3) == 0 ||
                              strncasecmp(word + 1, "BYE", 3) == 0)))) {
        fault f = fault_imap(b->reply);
        fault_reason(f, word + 1, why, n);   /* the reply without its tag */
        return f;
    }
    fault f = curl_transfer_fault(rc);
    fault_reason(f, err, why, n);
    return f;
}

/* Runs one command; on failure logs it and returns the status for the core. */
static bp_status imap_cmd(imap_src *self, const char *url, const char *cmd, const char *what)
{
    char err[CURL_ERROR_SIZE];
    self->buf.limit = 64u << 20;
    CURLcode rc = curl_transfer_start(self->multi, self->h, url, cmd, &self->buf, err);
    if (rc == CURLE_OK)
        rc = curl_transfer_wait(self->multi, self->h, err);
    imap_note_connect(self);
    if (rc == CURLE_OK)
        return BP_OK;
    char why[CURL_ERROR_SIZE + 300];
    fault f = imap_fault(rc, &self->buf, err, why, sizeof(why));
    self->api->log(self->inst, f.st == BP_REJECT ? BP_LOG_ERROR : BP_LOG_WARN, "%s: %s%s", what,
                   f.st == BP_NOT_CONNECTED ? "not connected: " : "", why);
    /* The core backs off and polls again (a source cannot reject a poll). A
     * refused login or certificate is not connected: the route waits and
     * the line above says why. */
    return f.st == BP_REJECT ? BP_RETRY : f.st;
}

/* libcurl 7.88 counts the untagged lines of a custom command as response
 * headers, cumulatively (roughly quadratic in the reply's size), and fails
 * the command past 300 KiB: ~130 FETCH lines. Commands over UID sets are
 * therefore sent in chunks whose replies stay a few KiB. */
#define IMAP_CHUNK 64

/* Runs "VERB SET REST" over uids (ascending) in chunks; each reply is
 * handed to on_reply (may be NULL). */
static bp_status imap_uid_cmd(imap_src *self, imap_box *b, const char *verb, const uint32_t *uids,
                              size_t n, const char *rest,
                              void (*on_reply)(imap_src *, imap_box *))
{
    for (size_t i = 0; i < n; i += IMAP_CHUNK) {
        char *set = imap_set(uids + i, n - i < IMAP_CHUNK ? n - i : IMAP_CHUNK);
        char *cmd = set ? self->api->format("%s %s %s", verb, set, rest) : NULL;
        free(set);
        bp_status st = cmd ? imap_cmd(self, b->url, cmd, b->name) : BP_ERR_NOMEM;
        self->api->free(cmd);
        if (st != BP_OK)
            return st;
        if (on_reply)
            on_reply(self, b);
    }
    return BP_OK;
}

static void imap_checkpoint(imap_src *self, imap_box *b)
{
    char key[600], val[32];
    snprintf(key, sizeof(key), "uid/%s", b->name);
    snprintf(val, sizeof(val), "%" PRIu32 "/%" PRIu32, b->uidvalidity, b->acked_uid);
    if (self->api->checkpoint_set(self->inst, key, val) != BP_OK)
        self->api->log(self->inst, BP_LOG_ERROR, "cannot store the checkpoint of %s", b->name);
}

static void imap_clear_todo(imap_box *b)
{
    free(b->todo);
    free(b->todo_size);
    free(b->todo_unseen);
    b->todo = b->todo_size = NULL;
    b->todo_unseen = NULL;
    b->n_todo = b->i_todo = 0;
}

/* A fresh SELECT, and on a UIDVALIDITY change the documented resync. Sets
 * *uidnext.
 * The SELECT goes out as a custom command on the mailbox's URL: libcurl
 * sends it as is when it has that mailbox selected already, and SELECTs the
 * mailbox itself first otherwise, so what libcurl believes is selected stays
 * what the server has selected (a SELECT on the bare server URL would leave
 * libcurl believing another mailbox is, and its next UID command on that one
 * would go to this one). The SELECT's untagged lines reach the buffer:
 * "* OK [UIDVALIDITY v]", "* OK [UIDNEXT n]". */
static bp_status imap_status(imap_src *self, imap_box *b, uint32_t *uidnext)
{
    char cmd[1200];
    snprintf(cmd, sizeof(cmd), "SELECT %s", b->quoted);
    bp_status st = imap_cmd(self, b->url, cmd, b->name);
    if (st != BP_OK)
        return st;
    uint32_t v = imap_num_after(self->buf.data ? self->buf.data : "", "UIDVALIDITY ");
    *uidnext = imap_num_after(self->buf.data ? self->buf.data : "", "UIDNEXT ");
    if (v == 0) {
        self->api->log(self->inst, BP_LOG_WARN, "%s: no UIDVALIDITY in the SELECT reply", b->name);
        return BP_RETRY;
    }
    if (b->uidvalidity != v) {
        if (b->uidvalidity != 0)
            self->api->log(self->inst, BP_LOG_WARN,
                           "%s: UIDVALIDITY changed from %" PRIu32 " to %" PRIu32
                           ": resync, reading the mailbox again from UID 1 (messages with the "
                           "keyword are skipped; ids are Message-IDs)",
                           b->name, b->uidvalidity, v);
        b->uidvalidity = v;
        b->acked_uid = 0;
        b->next_uid = 1;
        imap_clear_todo(b);
        imap_checkpoint(self, b);
    }
    return BP_OK;
}

#define IMAP_SEARCH_WINDOW 2000

/* "* SEARCH 4 7 9" -> b->todo (ascending, only UIDs >= next_uid). */
static bp_status imap_parse_search(imap_src *self, imap_box *b)
{
    imap_clear_todo(b);
    const char *p = self->buf.data ? strstr(self->buf.data, "* SEARCH") : NULL;
    size_t cap = 0;
    for (p = p ? p + 8 : NULL; p && *p && *p != '\r' && *p != '\n';) {
        char *end;
        unsigned long u = strtoul(p, &end, 10);
        if (end == p) {
            p++;
            continue;
        }
        p = end;
        if (u < b->next_uid || u > UINT32_MAX)
            continue;
        if (b->n_todo == cap) {
            cap = cap ? cap * 2 : 64;
            uint32_t *t = realloc(b->todo, cap * sizeof(*t));
            if (t == NULL)
                return BP_ERR_NOMEM;
            b->todo = t;
        }
        b->todo[b->n_todo++] = (uint32_t)u;
    }
    if (b->n_todo > 1)
        qsort(b->todo, b->n_todo, sizeof(uint32_t), imap_u32_cmp);
    return BP_OK;
}

/* "* 3 FETCH (UID 9 FLAGS (\Seen) RFC822.SIZE 1234)" lines -> sizes, unseen. */
static void imap_parse_flags(imap_src *self, imap_box *b)
{
    for (char *line = self->buf.data; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        uint32_t uid = imap_num_after(line, "UID ");
        uint32_t *hit = uid ? bsearch(&uid, b->todo, b->n_todo, sizeof(uint32_t), imap_u32_cmp) : NULL;
        if (hit) {
            size_t i = (size_t)(hit - b->todo);
            b->todo_size[i] = imap_num_after(line, "RFC822.SIZE ");
            const char *flags = strstr(line, "FLAGS (");
            const char *close = flags ? strchr(flags, ')') : NULL;
            const char *seen = flags ? strstr(flags, "\\Seen") : NULL;
            b->todo_unseen[i] = !(seen && (close == NULL || seen < close));
        }
        line = nl ? nl + 1 : NULL;
    }
}

/* Finds the UIDs to fetch and their flags and sizes. */
static bp_status imap_refresh(imap_src *self, imap_box *b)
{
    uint32_t uidnext = 0;
    bp_status st = imap_status(self, b, &uidnext);
    if (st != BP_OK || (uidnext != 0 && uidnext <= b->next_uid))
        return st;
    /* A window of UIDs at a time keeps the one-line SEARCH reply small; a
     * window with nothing (moved or flagged mail) is skipped: UIDs below
     * UIDNEXT that are absent now never come back. */
    for (;;) {
        uint32_t hi = b->next_uid + IMAP_SEARCH_WINDOW - 1;
        if (hi < b->next_uid)
            hi = UINT32_MAX;
        char cmd[1400];
        /* With move_to, whatever is still in the mailbox is not written
         * back completely (a crash may fall between STORE and MOVE): read it
         * again. Without, the keyword marks what is done. */
        const char *skip = self->move_to ? NULL : self->keyword;
        snprintf(cmd, sizeof(cmd), "UID SEARCH UID %" PRIu32 ":%" PRIu32 "%s%s", b->next_uid, hi,
                 skip ? " NOT KEYWORD " : "", skip ? skip : "");
        if ((st = imap_cmd(self, b->url, cmd, b->name)) != BP_OK)
            return st;
        if ((st = imap_parse_search(self, b)) != BP_OK)
            return st;
        if (b->n_todo > 0 || uidnext == 0 || (uint64_t)hi + 1 >= uidnext)
            break;
        b->next_uid = hi + 1;
    }
    if (b->n_todo == 0)
        return BP_OK;
    b->todo_size = calloc(b->n_todo, sizeof(uint32_t));
    b->todo_unseen = calloc(b->n_todo, 1);
    if (b->todo_size == NULL || b->todo_unseen == NULL) {
        imap_clear_todo(b);
        return BP_ERR_NOMEM;
    }
    st = imap_uid_cmd(self, b, "UID FETCH", b->todo, b->n_todo, "(UID FLAGS RFC822.SIZE)",
                      imap_parse_flags);
    if (st != BP_OK)
        imap_clear_todo(b);
    return st;
}

static bp_status imap_fly(imap_src *self, uint32_t box, uint32_t uid, int rejected, uint64_t *token)
{
    mail_flight f = {.box = box, .uid = uid, .uidvalidity = self->boxes[box].uidvalidity,
                     .rejected = rejected};
    return mail_flights_push(&self->fl, f, token);
}

/* Sends the fetch of todo[ti] (its header only when it is oversized). */
static bp_status imap_fetch_start(imap_src *self, imap_box *b, size_t ti, imap_slot *sl)
{
    char url[1600];
    int oversized = b->todo_size[ti] > self->lim.max_message;
    snprintf(url, sizeof(url), "%s;UIDVALIDITY=%" PRIu32 "/;UID=%" PRIu32 "%s", b->url,
             b->uidvalidity, b->todo[ti], oversized ? "/;SECTION=HEADER" : "");
    sl->buf.limit = self->lim.max_message + 1;
    sl->ti = ti;
    if (curl_transfer_start(self->multi, self->h, url, NULL, &sl->buf, sl->err) != CURLE_OK)
        return BP_RETRY;
    sl->busy = 1;
    return BP_OK;
}

/* Waits for a started fetch. */
static bp_status imap_fetch_wait(imap_src *self, imap_box *b, imap_slot *sl)
{
    CURLcode rc = curl_transfer_wait(self->multi, self->h, sl->err);
    sl->busy = 0;
    imap_note_connect(self);
    if (rc == CURLE_OK || sl->buf.over)
        return BP_OK;
    if (rc == CURLE_REMOTE_FILE_NOT_FOUND) {
        /* Expunged since the search, or the UIDVALIDITY changed: the caller
         * searches again (SELECT tells which). */
        self->api->log(self->inst, BP_LOG_INFO, "%s UID %" PRIu32 " is gone: searching again",
                       b->name, b->todo[sl->ti]);
        return BP_ERR_NOT_FOUND;
    }
    char why[CURL_ERROR_SIZE + 300];
    fault f = imap_fault(rc, &sl->buf, sl->err, why, sizeof(why));
    self->api->log(self->inst, BP_LOG_WARN, "%s UID %" PRIu32 ": fetch failed: %s", b->name,
                   b->todo[sl->ti], why);
    return f.st == BP_REJECT ? BP_RETRY : f.st;
}

/* Parses a fetched message and pushes it (or its dead letter). */
static bp_status imap_fetch_process(imap_src *self, bp_poll_batch *batch, uint32_t bi, imap_slot *sl)
{
    const struct bp_host_api *api = self->api;
    imap_box *b = &self->boxes[bi];
    size_t ti = sl->ti;
    uint32_t uid = b->todo[ti];
    curl_buf *buf = &sl->buf;
    char where[700];
    snprintf(where, sizeof(where), "%s UID %" PRIu32, b->name, uid);
    int oversized = b->todo_size[ti] > self->lim.max_message;
    char *reason = NULL;
    bp_envelope *env = NULL;
    mime_message m;
    bp_status st = BP_REJECT;
    size_t size = oversized ? b->todo_size[ti] : buf->len;
    if (oversized || buf->over) {
        char why[160];
        snprintf(why, sizeof(why), "message is %zu bytes, over max_message_size (%zu)",
                 oversized ? size : buf->len, self->lim.max_message);
        reason = strdup(why);
    } else {
        st = mime_parse(buf->data ? buf->data : "", buf->len, &self->lim, &m, &reason);
    }
    if (st == BP_ERR_NOMEM || st == BP_STOPPED) {
        /* Stopped while a PDF was read: not pushed, read again after the restart. */
        free(reason);
        return st;
    }
    if (st == BP_OK) {
        char *eerr = NULL, fallback[64];
        snprintf(fallback, sizeof(fallback), "imap-%" PRIu32 "-%" PRIu32, b->uidvalidity, uid);
        cJSON *origin = cJSON_CreateObject();
        cJSON_AddStringToObject(origin, "mailbox", b->name);
        cJSON_AddNumberToObject(origin, "uid", uid);
        cJSON_AddNumberToObject(origin, "uidvalidity", b->uidvalidity);
        env = mime_to_envelope(api, &m, self->type, fallback, origin, &eerr);
        mime_message_clear(&m);
        if (env == NULL) {
            reason = strdup(eerr ? eerr : "cannot build the envelope");
            api->free(eerr);
        }
    }
    uint64_t token;
    if (imap_fly(self, bi, uid, env == NULL, &token) != BP_OK) {
        if (env)
            api->envelope_unref(env);
        free(reason);
        return BP_ERR_NOMEM;
    }
    if (env) {
        api->batch_push(batch, env, token);
    } else {
        char *why = api->format("%s: %s", where, reason ? reason : "rejected");
        size_t keep = buf->over ? 0 : buf->len;
        api->batch_push_invalid(batch, token, why ? why : "rejected", buf->data, keep);
        api->free(why);
        api->counter_add(self->inst, "messages_rejected", 1);
    }
    free(reason);
    b->next_uid = uid + 1;
    return BP_OK;
}

/* Takes \Seen off again for fetched messages that were unseen. */
static void imap_restore_unseen(imap_src *self, imap_box *b, size_t from, size_t to)
{
    uint32_t *u = malloc((to - from + 1) * sizeof(*u));
    size_t n = 0;
    for (size_t i = from; u && i < to; i++)
        if (b->todo_unseen[i])
            u[n++] = b->todo[i];
    if (n)
        imap_uid_cmd(self, b, "UID STORE", u, n, "-FLAGS.SILENT (\\Seen)", NULL);
    free(u);
}

static bp_status imap_store_move(imap_src *self, imap_box *b, const uint32_t *uids, size_t n,
                                 const char *folder_q)
{
    bp_status st = BP_OK;
    char flags[300];
    snprintf(flags, sizeof(flags), "+FLAGS.SILENT (%s%s%s)", self->seen ? "\\Seen" : "",
             self->seen && self->keyword ? " " : "", self->keyword ? self->keyword : "");
    if (self->seen || self->keyword)
        st = imap_uid_cmd(self, b, "UID STORE", uids, n, flags, NULL);
    if (st == BP_OK && folder_q)
        st = imap_uid_cmd(self, b, "UID MOVE", uids, n, folder_q, NULL);
    return st;
}

/* Applies the pending write-backs, then advances the checkpoints. */
static bp_status imap_writeback(imap_src *self)
{
    if (self->n_wb == 0)
        return BP_OK;
    if (!self->folders_made) {
        /* CREATE fails harmlessly when the folder exists. */
        const char *q[3] = {self->move_q, self->rejected_q, self->parked_q};
        for (int i = 0; i < 3; i++)
            if (q[i] && (i == 0 || !self->move_q || strcmp(q[0], q[i]) != 0)) {
                char cmd[700];
                char err[CURL_ERROR_SIZE];
                snprintf(cmd, sizeof(cmd), "CREATE %s", q[i]);
                self->buf.limit = 1 << 20;
                CURLcode rc = curl_transfer_start(self->multi, self->h, self->base, cmd, &self->buf, err);
                if (rc == CURLE_OK)
                    rc = curl_transfer_wait(self->multi, self->h, err);
                char why[CURL_ERROR_SIZE + 300];
                if (rc != CURLE_OK &&
                    imap_fault(rc, &self->buf, err, why, sizeof(why)).st == BP_NOT_CONNECTED) {
                    self->api->log(self->inst, BP_LOG_WARN, "%s: not connected: %s", cmd, why);
                    return BP_NOT_CONNECTED;
                }
            }
        self->folders_made = 1;
    }
    uint32_t *ok = malloc(self->n_wb * sizeof(*ok)), *rej = malloc(self->n_wb * sizeof(*rej));
    uint32_t *park = malloc(self->n_wb * sizeof(*park));
    bp_status st = ok && rej && park ? BP_OK : BP_ERR_NOMEM;
    for (uint32_t bi = 0; st == BP_OK && bi < self->n_boxes; bi++) {
        imap_box *b = &self->boxes[bi];
        size_t n_ok = 0, n_rej = 0, n_park = 0;
        uint32_t top = 0;
        for (size_t i = 0; i < self->n_wb; i++) {
            mail_flight *f = &self->wb[i];
            /* UIDs of an older UIDVALIDITY name other messages now. */
            if (f->box != bi || f->uidvalidity != b->uidvalidity)
                continue;
            if (f->rejected)
                rej[n_rej++] = f->uid;
            else if (f->parked && self->parked_q)
                park[n_park++] = f->uid;
            else
                ok[n_ok++] = f->uid;
            if (f->uid > top)
                top = f->uid;
        }
        if (n_ok + n_rej + n_park == 0)
            continue;
        qsort(ok, n_ok, sizeof(*ok), imap_u32_cmp);
        qsort(rej, n_rej, sizeof(*rej), imap_u32_cmp);
        qsort(park, n_park, sizeof(*park), imap_u32_cmp);
        if (n_ok)
            st = imap_store_move(self, b, ok, n_ok, self->move_q);
        if (st == BP_OK && n_rej)
            st = imap_store_move(self, b, rej, n_rej, self->rejected_q);
        /* Parked mail keeps \Seen off: a person still has to look at it. */
        if (st == BP_OK && n_park)
            st = imap_uid_cmd(self, b, "UID MOVE", park, n_park, self->parked_q, NULL);
        if (st == BP_OK && top > b->acked_uid) {
            b->acked_uid = top;
            imap_checkpoint(self, b);
        }
        if (st == BP_OK) {
            /* Done for this mailbox: drop its entries. */
            size_t k = 0;
            for (size_t i = 0; i < self->n_wb; i++)
                if (self->wb[i].box != bi)
                    self->wb[k++] = self->wb[i];
            self->n_wb = k;
        }
    }
    free(ok);
    free(rej);
    free(park);
    if (st == BP_OK)
        self->n_wb = 0;
    return st;
}

static bp_status imap_connect(imap_src *self)
{
    if (self->h)
        return BP_OK;
    self->h = curl_transfer_new(&self->cs, "imap,imaps");
    self->multi = curl_multi_init();
    return self->h && self->multi ? BP_OK : BP_ERR_NOMEM;
}

static bp_status imap_poll(void *p, bp_poll_batch *batch, int timeout_ms)
{
    imap_src *self = p;
    const struct bp_host_api *api = self->api;
    bp_status st = imap_connect(self);
    if (st != BP_OK)
        return st;
    if (self->n_wb && (st = imap_writeback(self)) != BP_OK)
        return st;
    if (api->batch_room(batch) == 0)
        return BP_AGAIN;
    int have = 0;
    for (size_t i = 0; i < self->n_boxes && !have; i++)
        have = self->boxes[i].i_todo < self->boxes[i].n_todo;
    if (!have) {
        int64_t now = api->monotonic_ms();
        if (now < self->next_check_ms) {
            int64_t wait = self->next_check_ms - now;
            if (wait > timeout_ms)
                wait = timeout_ms;
            if (wait > 0)
                usleep((useconds_t)wait * 1000);
            return BP_AGAIN;
        }
        for (size_t i = 0; i < self->n_boxes; i++) {
            if ((st = imap_refresh(self, &self->boxes[i])) != BP_OK)
                return st;
            have |= self->boxes[i].n_todo > 0;
        }
        if (!have) {
            if (!self->follow && self->n_wb == 0)
                return BP_EOF;
            self->next_check_ms = api->monotonic_ms() + self->interval_ms;
            return BP_AGAIN;
        }
    }
    /* Mailboxes take turns, a batch each. */
    for (size_t k = 0; k < self->n_boxes; k++) {
        uint32_t bi = (uint32_t)((self->cur_box + k) % self->n_boxes);
        imap_box *b = &self->boxes[bi];
        if (b->i_todo >= b->n_todo)
            continue;
        size_t from = b->i_todo, end;
        imap_slot *sl = self->slot;
        int cur = 0, gone = 0;
        st = imap_fetch_start(self, b, b->i_todo, &sl[cur]);
        while (st == BP_OK) {
            size_t ti = sl[cur].ti;
            if ((st = imap_fetch_wait(self, b, &sl[cur])) == BP_ERR_NOT_FOUND) {
                b->next_uid = b->todo[ti] + 1;
                gone = 1;
                st = BP_OK;
                break;
            }
            if (st != BP_OK)
                break;
            /* The next message travels while this one is parsed. */
            int more = ti + 1 < b->n_todo && api->batch_room(batch) > 1 && !api->stopping(self->inst);
            if (more && imap_fetch_start(self, b, ti + 1, &sl[!cur]) != BP_OK)
                more = 0;
            if ((st = imap_fetch_process(self, batch, bi, &sl[cur])) != BP_OK)
                break;
            b->i_todo = ti + 1;
            if (!more)
                break;
            cur = !cur;
        }
        end = b->i_todo;
        if (st == BP_STOPPED && b->i_todo < b->n_todo)
            end = b->i_todo + 1;   /* fetched (\Seen set), not processed */
        for (int k = 0; k < 2; k++)
            if (sl[k].busy) {
                /* Not processed: fetched again at the next poll. */
                imap_fetch_wait(self, b, &sl[k]);
                end = sl[k].ti + 1;
            }
        imap_restore_unseen(self, b, from, end);
        if (gone) {
            /* The next poll searches again at once (SELECT sees a UIDVALIDITY change). */
            imap_clear_todo(b);
            self->next_check_ms = 0;
        } else if (b->i_todo >= b->n_todo) {
            imap_clear_todo(b);
        }
        self->cur_box = (bi + 1) % self->n_boxes;
        return st == BP_STOPPED ? BP_AGAIN : st;
    }
    return BP_OK;
}

static bp_status imap_ack_fates(void *p, const uint64_t *tokens, const unsigned char *fates,
                                size_t n)
{
    imap_src *self = p;
    for (size_t i = 0; i < n; i++) {
        const mail_flight *head;
        mail_flight f;
        while ((head = mail_flights_peek(&self->fl)) != NULL && head->token != tokens[i])
            mail_flights_pop(&self->fl, &f);
        if (!mail_flights_pop(&self->fl, &f))
            break;
        if (fates)
            mail_flight_set_fate(&f, fates[i]);
        if (self->n_wb == self->cap_wb) {
            size_t cap = self->cap_wb ? self->cap_wb * 2 : 256;
            mail_flight *w = realloc(self->wb, cap * sizeof(*w));
            if (w == NULL)
                return BP_ERR_NOMEM;
            self->wb = w;
            self->cap_wb = cap;
        }
        self->wb[self->n_wb++] = f;
    }
    if (imap_connect(self) != BP_OK)
        return BP_ERR_NOMEM;
    /* A failed write-back is kept and retried by the next poll. */
    return imap_writeback(self);
}

static bp_status imap_ack(void *p, const uint64_t *tokens, size_t n)
{
    return imap_ack_fates(p, tokens, NULL, n);
}

static void imap_destroy(void *p)
{
    imap_src *self = p;
    if (self == NULL)
        return;
    if (self->h)
        curl_easy_cleanup(self->h);
    if (self->multi)
        curl_multi_cleanup(self->multi);
    curl_buf_free(&self->buf);
    curl_buf_free(&self->slot[0].buf);
    curl_buf_free(&self->slot[1].buf);
    for (size_t i = 0; i < self->n_boxes; i++) {
        imap_clear_todo(&self->boxes[i]);
        free(self->boxes[i].name);
        free(self->boxes[i].url);
        free(self->boxes[i].quoted);
    }
    free(self->boxes);
    mail_flights_clear(&self->fl);
    free(self->wb);
    free(self->base);
    free(self->type);
    free(self->keyword);
    free(self->move_to);
    free(self->rejected_to);
    free(self->move_q);
    free(self->rejected_q);
    free(self->parked_q);
    free(self->parked_to);
    curl_settings_clear(&self->cs);
    free(self);
}

static bp_status imap_add_box(imap_src *self, const char *name)
{
    imap_box *b = realloc(self->boxes, (self->n_boxes + 1) * sizeof(*b));
    if (b == NULL)
        return BP_ERR_NOMEM;
    self->boxes = b;
    b = &self->boxes[self->n_boxes++];
    memset(b, 0, sizeof(*b));
    b->name = strdup(name);
    b->quoted = imap_quote(name);
    char *esc = curl_easy_escape(NULL, name, 0);
    b->url = esc ? self->api->format("%s%s", self->base, esc) : NULL;
    curl_free(esc);
    b->next_uid = 1;
    return b->name && b->quoted && b->url ? BP_OK : BP_ERR_NOMEM;
}

/* The PDF budget's cancel test: a stop kills the PDF worker at once. */
static int imap_cancelled(void *ud)
{
    imap_src *self = ud;
    return self->api->stopping(self->inst);
}

static bp_status imap_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                           const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct imap_opts *o = info->options;
    (void)config;
    imap_src *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    const char *url = o->url;
    size_t skip = url == NULL                          ? 0
                  : strncmp(url, "imaps://", 8) == 0 ? 8
                  : strncmp(url, "imap://", 7) == 0  ? 7
                                                      : 0;
    if (skip == 0) {
        *errmsg = api->format("url: '%s' is not an imap:// or imaps:// URL", url ? url : "");
        imap_destroy(self);
        return BP_ERR_INVALID;
    }
    size_t base_len = skip + strcspn(url + skip, "/");
    const char *slash = url[base_len] == '/' ? url + base_len : NULL;
    self->base = api->format("%.*s/", (int)base_len, url);
    self->type = curl_str_dup(o->type);
    const char *why = NULL;
    int rc = curl_settings_from_opts(&self->cs, url, o->user, o->password, &o->tls, o->timeout,
                                     &why);
    if (rc < 0) {
        if (why)
            *errmsg = api->format("%s", why);
        imap_destroy(self);
        return rc == -2 ? BP_ERR_INVALID : BP_ERR_NOMEM;
    }
    self->interval_ms = o->poll_interval;
    self->follow = o->follow;
    self->seen = o->seen;
    self->keyword = curl_str_dup(o->keyword);
    self->move_to = curl_str_dup(o->move_to);
    self->rejected_to = curl_str_dup(o->rejected_to);
    if (self->rejected_to == NULL && self->move_to)
        self->rejected_to = strdup(self->move_to);
    self->move_q = self->move_to ? imap_quote(self->move_to) : NULL;
    self->rejected_q = self->rejected_to ? imap_quote(self->rejected_to) : NULL;
    self->parked_to = curl_str_dup(o->parked_to);
    self->parked_q = self->parked_to ? imap_quote(self->parked_to) : NULL;
    self->lim = MIME_LIMITS_FROM_OPTS(o);
    self->lim.cancelled = imap_cancelled;
    self->lim.cancel_ud = self;
    if (self->keyword) {
        /* An atom: no spaces, parentheses, quotes or wildcards (RFC 3501 flag-keyword). */
        for (const char *k = self->keyword; *k; k++)
            if ((unsigned char)*k <= ' ' || strchr("(){%*\"\\]", *k) || (unsigned char)*k >= 127) {
                *errmsg = api->format("keyword: '%s' is not an IMAP keyword (an atom like $Processed)",
                                      self->keyword);
                imap_destroy(self);
                return BP_ERR_INVALID;
            }
    }
    bp_status st = BP_OK;
    const cJSON *boxes = o->mailboxes;
    if (cJSON_GetArraySize(boxes) > 0) {
        for (const cJSON *b = boxes->child; b && st == BP_OK; b = b->next)
            st = imap_add_box(self, b->valuestring);
    } else if (slash && slash[1]) {
        char *name = curl_easy_unescape(NULL, slash + 1, 0, NULL);
        st = name ? imap_add_box(self, name) : BP_ERR_NOMEM;
        curl_free(name);
    } else {
        st = imap_add_box(self, "INBOX");
    }
    if (st != BP_OK || self->base == NULL || self->type == NULL || self->cs.user == NULL) {
        imap_destroy(self);
        return BP_ERR_NOMEM;
    }
    /* The checkpoints: "UIDVALIDITY/UID" per mailbox. */
    for (size_t i = 0; i < self->n_boxes; i++) {
        imap_box *b = &self->boxes[i];
        char key[600], *val = NULL;
        snprintf(key, sizeof(key), "uid/%s", b->name);
        if (api->checkpoint_get(inst, key, &val) == BP_OK && val) {
            unsigned long v = 0, u = 0;
            if (sscanf(val, "%lu/%lu", &v, &u) == 2) {
                b->uidvalidity = (uint32_t)v;
                b->acked_uid = (uint32_t)u;
                b->next_uid = (uint32_t)u + 1;
            }
            api->free(val);
        }
    }
    curl_transfer_global_init();
    /* GMime is initialised by the thread that first parses or builds mail
     * (mime_parse, smtp_write), not in init on the main thread: there
     * g_mime_init makes the main thread allocate a small dynamic TLS block
     * whose size GCC 12's LeakSanitizer misreads, and LSan then crashes at
     * exit ("Tracer caught signal 11"; the back-office e2e test under ASan). */
    *out = self;
    return BP_OK;
}

static void imap_stop(void *p)
{
    imap_src *self = p;
    /* Last chance for write-backs of records acked at shutdown. */
    if (self->n_wb && self->h && self->multi)
        imap_writeback(self);
}

static const struct bp_plugin imap_plugin = {
    BP_PLUGIN_HEADER,
    .name = "imap",
    .version = "0.1.0",
    .description = "IMAP source (libcurl): new mail by UID per mailbox, UIDVALIDITY tracked; flags/move write-back after ack",
    .kinds = BP_KIND_SOURCE,
    .options = imap_options,
    .options_size = sizeof(struct imap_opts),
    .init_ex = imap_init,
    .poll = imap_poll,
    .ack = imap_ack,
    .ack_fates = imap_ack_fates,
    .stop = imap_stop,
    .destroy = imap_destroy,
    .emits = mime_emits,   /* ABI 1.3 (core3-report) */
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &imap_plugin;
}
