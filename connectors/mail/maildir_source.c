/* The maildir source: every message file in DIR/new becomes an envelope (same
 * MIME handling as IMAP); on ack it is renamed into DIR/cur with the info
 * suffix ":2,S" (seen), or ":2,FS" (flagged too) when it was dead-lettered
 * as malformed or oversized, so a mail client shows which ones to look at.
 * Nothing is renamed before the core acks it: after a crash, whatever is
 * still in new/ is read again (at least once; the id is the Message-ID, so
 * ledger sinks do not write it twice). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <glib.h>

#include "in_flight.h"
#include "mime_envelope.h"

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *path;             /* the maildir */
    char *type;
    int follow;
    int64_t interval_ms;
    mime_limits lim;
    char **scan;            /* sorted names from the last scan of new/ */
    size_t n_scan, i_scan;
    mail_flights fl;        /* pushed, not yet acked */
    GHashTable *flying;     /* their names, so a rescan skips them */
    int64_t next_scan_ms;
} maildir_src;

/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct md_opts {
    const char *path;
    int follow;
    int64_t poll_interval;
    int64_t max_message_size, max_attachment_size;
    long long max_pdf_pages;
    const char *type;
    int64_t pdf_timeout, pdf_message_timeout;
    long long max_pdf_attachments, max_parts;
    int pdf_layout;
};

static const struct bp_option md_options[] = {
    {.name = "path", .type = BP_OPT_PATH, .flags = BP_OPT_REQUIRED,
     .description = "the maildir (holding new/, cur/, tmp/); messages are read from new/",
     BP_OPT_FIELD(struct md_opts, path)},
    {.name = "follow", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "keep watching new/ (else end when it holds nothing unread)",
     BP_OPT_FIELD(struct md_opts, follow)},
    {.name = "poll_interval", .type = BP_OPT_DURATION, .default_value = "1s", .min = "10ms",
     .description = "with follow: how often new/ is scanned when it was empty",
     BP_OPT_FIELD(struct md_opts, poll_interval)},
    MIME_LIMIT_OPTIONS(struct md_opts),
    {.name = "interval", .renamed = "'poll_interval'"},
    {0},
};

static int md_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void md_free_scan(maildir_src *self)
{
    for (size_t i = self->i_scan; i < self->n_scan; i++)
        free(self->scan[i]);
    free(self->scan);
    self->scan = NULL;
    self->n_scan = self->i_scan = 0;
}

/* Lists new/ in name order (maildir names start with the delivery time). */
static bp_status md_rescan(maildir_src *self)
{
    md_free_scan(self);
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/new", self->path);
    DIR *d = opendir(dir);
    if (d == NULL) {
        self->api->log(self->inst, BP_LOG_ERROR, "cannot open %s: %s", dir, strerror(errno));
        return BP_RETRY;
    }
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || g_hash_table_contains(self->flying, de->d_name))
            continue;
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK)
            continue;
        if (self->n_scan == cap) {
            cap = cap ? cap * 2 : 256;
            char **s = realloc(self->scan, cap * sizeof(*s));
            if (s == NULL)
                break;
            self->scan = s;
        }
        self->scan[self->n_scan] = strdup(de->d_name);
        if (self->scan[self->n_scan])
            self->n_scan++;
    }
    closedir(d);
    if (self->n_scan > 1)
        qsort(self->scan, self->n_scan, sizeof(char *), md_cmp);
    return BP_OK;
}

static bp_status md_fly(maildir_src *self, char *name, int rejected, uint64_t *token)
{
    bp_status st = mail_flights_push(&self->fl, (mail_flight){.name = name, .rejected = rejected}, token);
    if (st == BP_OK)
        g_hash_table_add(self->flying, name);
    return st;
}

/* Reads one file whole, or only its first 64 KiB when it is over limit (it
 * is dead-lettered, not parsed). *len is the file's size, *got what was read. */
static unsigned char *md_read(const char *file, size_t limit, size_t *len, size_t *got)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return NULL;
    }
    *len = (size_t)st.st_size;
    size_t want = *len <= limit ? *len : *len < 65536 ? *len : 65536;
    unsigned char *buf = malloc(want + 1);
    size_t n = 0;
    while (buf && n < want) {
        ssize_t r = read(fd, buf + n, want - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(fd);
    *got = n;
    return buf;
}

/* One message file -> a pushed envelope or a dead letter. */
static bp_status md_push_one(maildir_src *self, bp_poll_batch *batch, char *name)
{
    const struct bp_host_api *api = self->api;
    char file[4096];
    snprintf(file, sizeof(file), "%s/new/%s", self->path, name);
    size_t len = 0, got = 0;
    unsigned char *buf = md_read(file, self->lim.max_message, &len, &got);
    if (buf == NULL) {
        /* Gone meanwhile (another reader took it) or unreadable: skip it. */
        api->log(self->inst, BP_LOG_WARN, "cannot read %s: %s", file, strerror(errno));
        free(name);
        return BP_OK;
    }
    mime_message m;
    char *reason = NULL;
    bp_status st = BP_REJECT;
    if (len > self->lim.max_message) {
        char why[160];
        snprintf(why, sizeof(why), "message is %zu bytes, over max_message_size (%zu)", len,
                 self->lim.max_message);
        reason = strdup(why);
    } else if (got < len) {
        reason = strdup("the file shrank while it was read");
    } else {
        st = mime_parse(buf, got, &self->lim, &m, &reason);
    }
    if (st == BP_ERR_NOMEM || st == BP_STOPPED) {
        /* Stopped while a PDF was read: the file stays in new/ for the restart. */
        free(reason);
        free(buf);
        free(name);
        return st;
    }
    bp_envelope *env = NULL;
    if (st == BP_OK) {
        char *err = NULL;
        cJSON *origin = cJSON_CreateObject();
        cJSON_AddStringToObject(origin, "maildir", self->path);
        cJSON_AddStringToObject(origin, "file", name);
        char fallback[300];
        snprintf(fallback, sizeof(fallback), "%.255s", name);
        char *colon = strchr(fallback, ':');
        if (colon)
            *colon = '\0';
        env = mime_to_envelope(api, &m, self->type, fallback, origin, &err);
        mime_message_clear(&m);
        if (env == NULL) {
            reason = strdup(err ? err : "cannot build the envelope");
            api->free(err);
        }
    }
    uint64_t token;
    if (md_fly(self, name, env == NULL, &token) != BP_OK) {
        if (env)
            api->envelope_unref(env);
        free(buf);
        free(reason);
        free(name);
        return BP_ERR_NOMEM;
    }
    if (env) {
        api->batch_push(batch, env, token);
    } else {
        char *why = api->format("%s: %s", file, reason ? reason : "rejected");
        /* The dead letter keeps the message (its first 64 KiB when oversized). */
        api->batch_push_invalid(batch, token, why ? why : "rejected", buf, got);
        api->free(why);
        api->counter_add(self->inst, "messages_rejected", 1);
    }
    free(reason);
    free(buf);
    return BP_OK;
}

static bp_status md_poll(void *p, bp_poll_batch *batch, int timeout_ms)
{
    maildir_src *self = p;
    const struct bp_host_api *api = self->api;
    if (api->batch_room(batch) == 0)
        return BP_AGAIN;
    if (self->i_scan >= self->n_scan) {
        int64_t now = api->monotonic_ms();
        if (self->follow && now < self->next_scan_ms) {
            int64_t wait = self->next_scan_ms - now;
            if (wait > timeout_ms)
                wait = timeout_ms;
            if (wait > 0)
                usleep((useconds_t)wait * 1000);
            return BP_AGAIN;
        }
        bp_status st = md_rescan(self);
        if (st != BP_OK)
            return st;
        if (self->n_scan == 0) {
            self->next_scan_ms = api->monotonic_ms() + self->interval_ms;
            return self->follow ? BP_AGAIN : BP_EOF;
        }
    }
    while (self->i_scan < self->n_scan && api->batch_room(batch) > 0 && !api->stopping(self->inst)) {
        char *name = self->scan[self->i_scan++];
        bp_status st = md_push_one(self, batch, name);
        if (st == BP_STOPPED)
            return BP_AGAIN;
        if (st != BP_OK)
            return st;
    }
    return BP_OK;
}

static bp_status md_ack_fates(void *p, const uint64_t *tokens, const unsigned char *fates, size_t n)
{
    maildir_src *self = p;
    const struct bp_host_api *api = self->api;
    bp_status rc = BP_OK;
    for (size_t i = 0; i < n; i++) {
        /* Acks come in push order: the oldest in flight is the one. */
        const mail_flight *head;
        mail_flight f;
        while ((head = mail_flights_peek(&self->fl)) != NULL && head->token != tokens[i]) {
            mail_flights_pop(&self->fl, &f);
            api->log(self->inst, BP_LOG_WARN, "ack skipped %s (left in new/)", f.name);
            g_hash_table_remove(self->flying, f.name);
            free(f.name);
        }
        if (!mail_flights_pop(&self->fl, &f))
            break;
        char from[4096], to[4096];
        size_t base = strcspn(f.name, ":");
        snprintf(from, sizeof(from), "%s/new/%s", self->path, f.name);
        /* Maildir flags: S seen (processed), F flagged. Dead-lettered: FS;
         * parked for review: F alone, so a mail client shows it unread and
         * flagged until a person has looked at it. */
        if (fates)
            mail_flight_set_fate(&f, fates[i]);
        snprintf(to, sizeof(to), "%s/cur/%.*s:2,%s", self->path, (int)base, f.name,
                 f.rejected ? "FS" : f.parked ? "F" : "S");
        if (rename(from, to) < 0) {
            api->log(self->inst, BP_LOG_ERROR, "cannot move %s to cur/: %s", from, strerror(errno));
            rc = BP_ERR_IO;
        }
        g_hash_table_remove(self->flying, f.name);
        free(f.name);
    }
    /* The renames are the checkpoint: make them durable before returning. */
    char dir[4096];
    snprintf(dir, sizeof(dir), "%s/cur", self->path);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    return rc;
}

static bp_status md_ack(void *p, const uint64_t *tokens, size_t n)
{
    return md_ack_fates(p, tokens, NULL, n);
}

static void md_destroy(void *p)
{
    maildir_src *self = p;
    if (self == NULL)
        return;
    md_free_scan(self);
    if (self->flying)
        g_hash_table_destroy(self->flying);
    mail_flights_clear(&self->fl);
    free(self->path);
    free(self->type);
    free(self);
}

/* The PDF budget's cancel test: a stop kills the PDF worker at once. */
static int md_cancelled(void *ud)
{
    maildir_src *self = ud;
    return self->api->stopping(self->inst);
}

static bp_status md_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                         const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct md_opts *o = info->options;
    (void)config;
    maildir_src *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->path = strdup(o->path);
    self->type = strdup(o->type);
    self->follow = o->follow;
    self->interval_ms = o->poll_interval;
    self->lim = MIME_LIMITS_FROM_OPTS(o);
    self->lim.cancelled = md_cancelled;
    self->lim.cancel_ud = self;
    self->flying = g_hash_table_new(g_str_hash, g_str_equal);
    if (self->path == NULL || self->type == NULL || self->flying == NULL) {
        md_destroy(self);
        return BP_ERR_NOMEM;
    }
    /* GMime is initialised by the thread that first parses or builds mail
     * (mime_parse, smtp_write), not in init on the main thread: there
     * g_mime_init makes the main thread allocate a small dynamic TLS block
     * whose size GCC 12's LeakSanitizer misreads, and LSan then crashes at
     * exit ("Tracer caught signal 11"; the back-office e2e test under ASan). */
    *out = self;
    (void)errmsg;
    return BP_OK;
}

static bp_status md_start(void *p, char **errmsg)
{
    maildir_src *self = p;
    /* A missing maildir is a configuration error worth failing start-up for;
     * cur/ must exist for acks to land. */
    static const char *const subs[] = {"new", "cur"};
    for (int i = 0; i < 2; i++) {
        char dir[4096];
        struct stat st;
        snprintf(dir, sizeof(dir), "%s/%s", self->path, subs[i]);
        if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
            *errmsg = self->api->format("%s is not a maildir: no %s/ directory", self->path, subs[i]);
            return BP_ERR_INVALID;
        }
    }
    return BP_OK;
}

static const struct bp_plugin md_plugin = {
    BP_PLUGIN_HEADER,
    .name = "maildir",
    .version = "0.1.0",
    .description = "maildir source: messages in new/ become envelopes (MIME, attachments, PDF text); moved to cur/ on ack",
    .kinds = BP_KIND_SOURCE,
    .options = md_options,
    .options_size = sizeof(struct md_opts),
    .init_ex = md_init,
    .start = md_start,
    .poll = md_poll,
    .ack = md_ack,
    .ack_fates = md_ack_fates,
    .destroy = md_destroy,
    .emits = mime_emits,   /* ABI 1.3 (core3-report) */
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &md_plugin;
}
