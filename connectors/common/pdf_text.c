/* PDF -> text under a budget (see pdf_text.h): poppler-glib in a worker
 * process that can be killed, because poppler itself cannot be stopped. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <poppler.h>

#include "pdf_text.h"

#ifndef BP_PDF_WORKER_DIR
#define BP_PDF_WORKER_DIR "/usr/local/lib/backplane/plugins"
#endif

extern char **environ;

/* A coordinate as the records carry it: JSON has no inf or nan, and a
 * MediaBox of 331 digits gives poppler inf (found by fuzz_pdf_text: the
 * reply was unreadable and the whole document lost). Real pages are at most
 * 14400 units a side; 1e9 keeps "%.2f" short. */
static double pdf_num(double v)
{
    if (!isfinite(v))
        return 0;
    return v > 1e9 ? 1e9 : v < -1e9 ? -1e9 : v;
}

/* The words of a page and their boxes, as JSON text (g_free it): poppler
 * gives one rectangle per character of the page's text; a word's box is the
 * union of its characters'. NULL when out of memory. */
static char *pdf_words_json(PopplerPage *page, const char *text)
{
    PopplerRectangle *r = NULL;
    guint n = 0;
    GString *out = g_string_new("[");
    if (!poppler_page_get_text_layout(page, &r, &n))
        n = 0;
    const char *p = text;
    int first = 1;
    for (guint i = 0; p && *p;) {
        while (*p && g_unichar_isspace(g_utf8_get_char(p))) {
            p = g_utf8_next_char(p);
            i++;
        }
        if (!*p)
            break;
        const char *start = p;
        double x1 = 0, y1 = 0, x2 = 0, y2 = 0;
        int have = 0;
        while (*p && !g_unichar_isspace(g_utf8_get_char(p))) {
            /* Many PDFs place words without a space character between them
             * ("QuantityUnit price"): a gap wider than a third of the
             * glyph height, a step back or a change of row ends the word. */
            if (have && i < n && p > start) {
                double h = y2 - y1 > 1 ? y2 - y1 : 1;
                double gap = r[i].x1 - x2, cy = (r[i].y1 + r[i].y2) / 2;
                if (gap > h / 3 || r[i].x2 < x1 || cy < y1 || cy > y2)
                    break;
            }
            if (i < n) {
                if (!have || r[i].x1 < x1) x1 = r[i].x1;
                if (!have || r[i].y1 < y1) y1 = r[i].y1;
                if (!have || r[i].x2 > x2) x2 = r[i].x2;
                if (!have || r[i].y2 > y2) y2 = r[i].y2;
                have = 1;
            }
            p = g_utf8_next_char(p);
            i++;
        }
        char *word = g_strndup(start, (gsize)(p - start));
        cJSON *w = cJSON_CreateString(word);
        char *esc = w ? cJSON_PrintUnformatted(w) : NULL;
        if (esc)
            g_string_append_printf(out, "%s{\"t\":%s,\"b\":[%.2f,%.2f,%.2f,%.2f]}", first ? "" : ",",
                                   esc, pdf_num(x1), pdf_num(y1), pdf_num(x2), pdf_num(y2));
        first = 0;
        free(esc);
        g_free(word);
        cJSON_Delete(w);
    }
    g_string_append_c(out, ']');
    g_free(r);
    return g_string_free(out, FALSE);
}

int pdf_text_each_page(const void *bytes, size_t len, int max_pages,
                       int (*on_count)(void *ud, int n_pages),
                       int (*on_page)(void *ud, int index, const char *text, size_t len),
                       void *ud, char **err)
{
    return pdf_text_each_page_ex(bytes, len, max_pages, on_count, on_page, NULL, ud, err);
}

int pdf_text_each_page_ex(const void *bytes, size_t len, int max_pages,
                          int (*on_count)(void *ud, int n_pages),
                          int (*on_page)(void *ud, int index, const char *text, size_t len),
                          int (*on_words)(void *ud, int index, const char *json, size_t len),
                          void *ud, char **err)
{
    const pdf_page_cbs cb = {.on_count = on_count, .on_page = on_page, .on_words = on_words};
    return pdf_text_each_page_cbs(bytes, len, max_pages, &cb, ud, err);
}

/* A page is a scan when it has no letters, or an image and fewer than a few
 * words' worth of letters: a scan often carries a handful of stray glyphs (a
 * stamp, a page number, a broken OCR layer of digits) that say nothing. A
 * short page of real text without images ("Invoice 42") is not one. */
#define PDF_MIN_LETTERS 16
static int pdf_is_scan(PopplerPage *page, const char *s)
{
    int letters = 0;
    for (; s && *s && letters < PDF_MIN_LETTERS; s = g_utf8_next_char(s))
        letters += g_unichar_isalpha(g_utf8_get_char(s)) != 0;
    if (letters == 0)
        return 1;
    if (letters >= PDF_MIN_LETTERS)
        return 0;
    GList *images = poppler_page_get_image_mapping(page);
    int has = images != NULL;
    poppler_page_free_image_mapping(images);
    return has;
}

int pdf_text_each_page_cbs(const void *bytes, size_t len, int max_pages, const pdf_page_cbs *cb,
                           void *ud, char **err)
{
    GError *gerr = NULL;
    GBytes *gb = g_bytes_new_static(bytes, len);
    PopplerDocument *doc = poppler_document_new_from_bytes(gb, NULL, &gerr);
    g_bytes_unref(gb);
    if (doc == NULL) {
        *err = strdup(gerr && gerr->message ? gerr->message : "not a PDF");
        if (gerr)
            g_error_free(gerr);
        return -1;
    }
    int n = poppler_document_get_n_pages(doc);
    int stop = cb->on_count ? cb->on_count(ud, n) : 0;
    for (int i = 0; !stop && i < n && i < max_pages; i++) {
        PopplerPage *page = poppler_document_get_page(doc, i);
        char *text = page ? poppler_page_get_text(page) : NULL;
        /* poppler writes UTF-8; a damaged font map can still yield invalid
         * sequences, which JSON cannot carry. */
        char *valid = text ? g_utf8_make_valid(text, -1) : NULL;
        char *ocr_words = NULL, *ocr_text = NULL;
        /* A page without a text layer is a scan: read it with OCR when the
         * caller (the worker) has it. */
        int ocr = cb->ocr && page && pdf_is_scan(page, valid) &&
                  cb->ocr(page, &ocr_words, &ocr_text) == 0;
        /* A page poppler cannot load (a damaged page tree) still gets its
         * size and words, empty: the reader pairs sizes[i] and words[i] with
         * pages[i] (found by fuzz_pdf_text: boxes went to the next page). */
        if (cb->on_size) {
            double w = 0, h = 0;
            if (page)
                poppler_page_get_size(page, &w, &h);
            stop = cb->on_size(ud, i, pdf_num(w), pdf_num(h), ocr);
        }
        if (!stop && cb->on_words) {
            char *json = ocr || !page ? NULL : pdf_words_json(page, valid ? valid : "");
            const char *j = ocr ? ocr_words : page ? json : "[]";
            stop = j ? cb->on_words(ud, i, j, strlen(j)) : 1;
            g_free(json);
        }
        const char *t = ocr ? ocr_text : valid ? valid : "";
        if (!stop)
            stop = cb->on_page(ud, i, t, strlen(t));
        free(ocr_words);
        free(ocr_text);
        g_free(valid);
        g_free(text);
        if (page)
            g_object_unref(page);
    }
    g_object_unref(doc);
    return 0;
}

void pdf_text_clear(pdf_text *t)
{
    cJSON_Delete(t->pages);
    cJSON_Delete(t->words);
    cJSON_Delete(t->sizes);
    free(t->error);
    free(t->truncated);
    memset(t, 0, sizeof(*t));
}

/* ---- in process ---- */

static int pdf_local_count(void *ud, int n)
{
    ((pdf_text *)ud)->n_pages = n;
    return 0;
}

static int pdf_local_words(void *ud, int index, const char *json, size_t len)
{
    (void)index;
    pdf_text *t = ud;
    cJSON *w = cJSON_ParseWithLength(json, len);
    if (w == NULL || !cJSON_AddItemToArray(t->words, w)) {
        cJSON_Delete(w);
        return 1;
    }
    return 0;
}

static int pdf_local_size(void *ud, int index, double w, double h, int ocr)
{
    (void)index;
    pdf_text *t = ud;
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddNumberToObject(o, "w", w) || !cJSON_AddNumberToObject(o, "h", h) ||
        !cJSON_AddBoolToObject(o, "ocr", ocr) || !cJSON_AddItemToArray(t->sizes, o)) {
        cJSON_Delete(o);
        return 1;
    }
    return 0;
}

static int pdf_local_page(void *ud, int index, const char *text, size_t len)
{
    (void)index;
    (void)len;
    pdf_text *t = ud;
    cJSON *s = cJSON_CreateString(text);
    if (s == NULL || !cJSON_AddItemToArray(t->pages, s)) {
        cJSON_Delete(s);
        return 1;
    }
    return 0;
}

/* ---- the worker ---- */

static char pdf_worker[PATH_MAX];
static pthread_once_t pdf_worker_once = PTHREAD_ONCE_INIT;

static void pdf_find_worker(void)
{
    const char *env = getenv("BP_PDF_WORKER");
    if (env && *env) {
        snprintf(pdf_worker, sizeof(pdf_worker), "%s", env);
        return;
    }
    Dl_info info;
    if (dladdr((void *)pdf_find_worker, &info) && info.dli_fname && strchr(info.dli_fname, '/')) {
        const char *slash = strrchr(info.dli_fname, '/');
        snprintf(pdf_worker, sizeof(pdf_worker), "%.*s/bp-pdf-text", (int)(slash - info.dli_fname),
                 info.dli_fname);
        if (access(pdf_worker, X_OK) == 0)
            return;
#ifdef BP_PDF_WORKER_BUILD
        /* A plugin loaded from its build tree (build/plugins/extract) runs the
         * worker built beside the mail connectors, not an installed one. */
        size_t root = strlen(BP_PDF_WORKER_BUILD_ROOT);
        if (strncmp(info.dli_fname, BP_PDF_WORKER_BUILD_ROOT, root) == 0 &&
            info.dli_fname[root] == '/' && access(BP_PDF_WORKER_BUILD, X_OK) == 0) {
            snprintf(pdf_worker, sizeof(pdf_worker), "%s", BP_PDF_WORKER_BUILD);
            return;
        }
#endif
    }
    snprintf(pdf_worker, sizeof(pdf_worker), "%s/bp-pdf-text", BP_PDF_WORKER_DIR);
}

const char *pdf_text_worker_path(void)
{
    pthread_once(&pdf_worker_once, pdf_find_worker);
    return pdf_worker;
}

static int64_t pdf_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

typedef struct {
    char *data;
    size_t len, cap;
} pdf_buf;

/* Consumes the complete records at the start of in: "N count\n",
 * "P len\n<len bytes>", "E len\n<len bytes>". Returns -1 when out of memory
 * or the worker wrote nonsense. */
static int pdf_parse_ex(pdf_buf *in, pdf_text *t, int *done);

static int pdf_parse(pdf_buf *in, pdf_text *t)
{
    return pdf_parse_ex(in, t, NULL);
}

/* done (may be NULL): set by the serve mode's end-of-document record "Z0\n". */
static int pdf_parse_ex(pdf_buf *in, pdf_text *t, int *done)
{
    size_t off = 0;
    for (;;) {
        char *nl = memchr(in->data + off, '\n', in->len - off);
        if (nl == NULL)
            break;
        char kind = in->data[off];
        char *end;
        unsigned long long v = strtoull(in->data + off + 1, &end, 10);
        if (end != nl || (kind != 'N' && kind != 'P' && kind != 'E' && kind != 'W' && kind != 'S' &&
                            (kind != 'Z' || done == NULL)))
            return -1;
        size_t head = (size_t)(nl - (in->data + off)) + 1;
        if (kind == 'Z') {
            *done = 1;
            off += head;
            break;
        }
        if (kind == 'N') {
            t->n_pages = v > INT_MAX ? INT_MAX : (int)v;
            off += head;
            continue;
        }
        if (v > in->len - off - head)
            break;   /* not all there yet */
        char *s = strndup(in->data + off + head, (size_t)v);
        if (s == NULL)
            return -1;
        if (kind == 'E') {
            free(t->error);
            t->error = s;
        } else if (kind == 'S') {
            cJSON *z = t->sizes ? cJSON_Parse(s) : NULL;
            free(s);
            if (z == NULL || !cJSON_AddItemToArray(t->sizes, z)) {
                cJSON_Delete(z);
                return -1;
            }
        } else if (kind == 'W') {
            cJSON *w = t->words ? cJSON_Parse(s) : NULL;
            free(s);
            if (w == NULL || !cJSON_AddItemToArray(t->words, w)) {
                cJSON_Delete(w);
                return -1;
            }
        } else {
            cJSON *str = cJSON_CreateString(s);
            free(s);
            if (str == NULL || !cJSON_AddItemToArray(t->pages, str)) {
                cJSON_Delete(str);
                return -1;
            }
        }
        off += head + (size_t)v;
    }
    memmove(in->data, in->data + off, in->len - off);
    in->len -= off;
    return 0;
}

static char *pdf_strf(const char *fmt, long a, long b, long c)
{
    char buf[256];
    snprintf(buf, sizeof(buf), fmt, a, b, c);
    return strdup(buf);
}

/* The worker's environment: what poppler and the sanitizers read, nothing
 * else. The bus's own environment holds the secrets that ${env:...} names,
 * and the worker parses untrusted input. Fills env (cap entries, NULL-ended). */
static void pdf_worker_env(char **env, size_t cap)
{
    static const char *const keep[] = {"LANG=", "LC_", "HOME=", "TMPDIR=", "TZ=", "FONTCONFIG_",
                                       "XDG_", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
                                       NULL};
    size_t n = 0;
    for (char **e = environ; e && *e && n + 1 < cap; e++)
        for (int k = 0; keep[k]; k++)
            if (strncmp(*e, keep[k], strlen(keep[k])) == 0) {
                env[n++] = *e;
                break;
            }
    env[n] = NULL;
}

/* Starts the worker on a memfd holding the bytes; *out_fd: its stdout. */
static pid_t pdf_spawn(const void *bytes, size_t len, const pdf_budget *b, int *out_fd, int *err)
{
    int in = memfd_create("bp-pdf", MFD_CLOEXEC);
    if (in < 0) {
        *err = errno;
        return -1;
    }
    const char *p = bytes;
    for (size_t done = 0; done < len;) {
        ssize_t w = write(in, p + done, len - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            *err = errno ? errno : EIO;
            close(in);
            return -1;
        }
        done += (size_t)w;
    }
    lseek(in, 0, SEEK_SET);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        *err = errno;
        close(in);
        return -1;
    }
    char pages[32], cpu[32];
    snprintf(pages, sizeof(pages), "%d", b->max_pages);
    snprintf(cpu, sizeof(cpu), "%d", b->cpu_s > 0 ? b->cpu_s : 0);
    const char *path = b->worker ? b->worker : pdf_text_worker_path();
    const char *mode = b->image ? "image" : b->positions ? "words" : "text";
    char *argv[] = {(char *)path, (char *)mode, pages, cpu, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    /* poppler's complaints about damaged files are no use in the bus's log. */
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    /* The calling thread may block signals: the worker must die of SIGXCPU. */
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGXCPU);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    char *env[64];
    pdf_worker_env(env, sizeof(env) / sizeof(env[0]));
    int rc = posix_spawn(&pid, path, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        *err = rc;
        return -1;
    }
    *out_fd = fds[0];
    return pid;
}

/* What the end of one document's read means for out, for a worker run once
 * (pdf_text_read) and one kept across documents (pdf_session_read) alike:
 * reaped: the worker was waited for and status holds how it ended; one_shot:
 * the worker ends after each document, so fewer pages than wanted without a
 * reason is a failure (-1). Out of memory: -1, out cleared. The document's own
 * error: 0 without pages. Otherwise the reason it was cut goes to
 * out->truncated (time, unreadable reply, CPU limit, signal, early exit). */
static int pdf_verdict(pdf_text *out, const pdf_budget *b, int oom, int bad, int killed_wall,
                       int reaped, int status, int one_shot)
{
    int got = cJSON_GetArraySize(out->pages);
    int want = out->n_pages < 0 ? b->max_pages
               : out->n_pages < b->max_pages ? out->n_pages : b->max_pages;
    if (oom) {
        pdf_text_clear(out);
        return -1;
    }
    if (out->error) {
        cJSON_Delete(out->pages);
        cJSON_Delete(out->words);
        cJSON_Delete(out->sizes);
        out->pages = out->words = out->sizes = NULL;
        return 0;
    }
    if (out->cancelled)
        return 0;
    if (killed_wall)
        out->truncated = pdf_strf("time limit (%ld ms) reached after %ld of %ld pages",
                                  (long)b->wall_ms, got, want);
    else if (bad)
        out->truncated = strdup("the PDF worker wrote an unreadable reply");
    else if (reaped && WIFSIGNALED(status) &&
             (WTERMSIG(status) == SIGXCPU || (WTERMSIG(status) == SIGKILL && b->cpu_s > 0)))
        out->truncated = pdf_strf("CPU limit (%ld s) reached after %ld of %ld pages",
                                  (long)b->cpu_s, got, want);
    else if (reaped && WIFSIGNALED(status))
        out->truncated = pdf_strf("the PDF worker died of signal %ld after %ld of %ld pages",
                                  (long)WTERMSIG(status), got, want);
    else if (one_shot ? got < want : reaped)
        out->truncated = pdf_strf("the PDF worker stopped (exit %ld) after %ld of %ld pages",
                                  reaped && WIFEXITED(status) ? (long)WEXITSTATUS(status) : -1L,
                                  got, want);
    if (one_shot && got < want && out->truncated == NULL) {
        pdf_text_clear(out);
        return -1;
    }
    return 0;
}

int pdf_text_read(const void *bytes, size_t len, const pdf_budget *b, pdf_text *out)
{
    memset(out, 0, sizeof(*out));
    out->n_pages = -1;
    out->pages = cJSON_CreateArray();
    int pos = b->positions || b->image;
    out->words = pos ? cJSON_CreateArray() : NULL;
    out->sizes = pos ? cJSON_CreateArray() : NULL;
    if (out->pages == NULL || (pos && (out->words == NULL || out->sizes == NULL))) {
        pdf_text_clear(out);
        return -1;
    }
    if (b->max_pages <= 0)
        return 0;
    if (b->in_process && b->image) {
        out->error = strdup("images are read by OCR in the worker only");
        return out->error ? 0 : -1;
    }
    if (b->in_process) {
        char *err = NULL;
        const pdf_page_cbs cb = {.on_count = pdf_local_count, .on_page = pdf_local_page,
                                 .on_words = pos ? pdf_local_words : NULL,
                                 .on_size = pos ? pdf_local_size : NULL};
        if (pdf_text_each_page_cbs(bytes, len, b->max_pages, &cb, out, &err) < 0) {
            cJSON_Delete(out->pages);
            cJSON_Delete(out->words);
            cJSON_Delete(out->sizes);
            out->pages = out->words = out->sizes = NULL;
            out->error = err;
            return err ? 0 : -1;
        }
        return 0;
    }
    int fd = -1, serr = 0;
    pid_t pid = pdf_spawn(bytes, len, b, &fd, &serr);
    if (pid < 0) {
        char buf[PATH_MAX + 100];
        snprintf(buf, sizeof(buf), "cannot run the PDF worker %s: %s",
                 b->worker ? b->worker : pdf_text_worker_path(), strerror(serr));
        cJSON_Delete(out->pages);
        cJSON_Delete(out->words);
        cJSON_Delete(out->sizes);
        out->pages = out->words = out->sizes = NULL;
        out->error = strdup(buf);
        return out->error ? 0 : -1;
    }
    int64_t t0 = pdf_now_ms();
    int64_t deadline = b->wall_ms > 0 ? t0 + b->wall_ms : INT64_MAX;
    pdf_buf in = {0};
    int oom = 0, killed_wall = 0, bad = 0;
    for (;;) {
        if (b->cancelled && b->cancelled(b->ud)) {
            out->cancelled = 1;
            break;
        }
        int64_t now = pdf_now_ms();
        if (now >= deadline) {
            killed_wall = 1;
            break;
        }
        int wait = deadline - now < 50 ? (int)(deadline - now) : 50;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (in.cap - in.len < 65536) {
            size_t cap = in.cap ? in.cap * 2 : 131072;
            char *d = realloc(in.data, cap);
            if (d == NULL) {
                oom = 1;
                break;
            }
            in.data = d;
            in.cap = cap;
        }
        ssize_t n = read(fd, in.data + in.len, in.cap - in.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;   /* EOF: the worker finished or died */
        in.len += (size_t)n;
        if (pdf_parse(&in, out) < 0) {
            bad = 1;
            break;
        }
    }
    /* Whatever stopped the loop, the worker does not outlive this call. */
    int status = 0;
    pid_t w;
    if (out->cancelled || killed_wall || oom || bad)
        kill(pid, SIGKILL);
    while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
        ;
    close(fd);
    free(in.data);
    return pdf_verdict(out, b, oom, bad, killed_wall, w == pid, status, 1);
}

/* ---- a worker kept across documents (issue 19) ---- */

struct pdf_session {
    pid_t pid;
    int fd;          /* our end of the socket: the worker's stdin and stdout */
    char *worker;
};

pdf_session *pdf_session_new(const char *worker)
{
    pdf_session *s = calloc(1, sizeof *s);
    if (s == NULL)
        return NULL;
    s->fd = -1;
    s->worker = strdup(worker ? worker : pdf_text_worker_path());
    if (s->worker == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

static void pdf_session_stop(pdf_session *s, int kill_it)
{
    if (s->pid > 0) {
        if (kill_it)
            kill(s->pid, SIGKILL);
        else
            shutdown(s->fd, SHUT_WR);   /* EOF on stdin: the worker exits */
        int st;
        while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
            ;
    }
    if (s->fd >= 0)
        close(s->fd);
    s->pid = 0;
    s->fd = -1;
}

void pdf_session_free(pdf_session *s)
{
    if (s == NULL)
        return;
    pdf_session_stop(s, 0);
    free(s->worker);
    free(s);
}

static int pdf_session_start(pdf_session *s, int *err)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        *err = errno;
        return -1;
    }
    char *argv[] = {s->worker, (char *)"serve", (char *)"0", (char *)"0", NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 1);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    posix_spawnattr_init(&attr);
    sigset_t none, dfl;
    sigemptyset(&none);
    sigemptyset(&dfl);
    sigaddset(&dfl, SIGXCPU);
    sigaddset(&dfl, SIGPIPE);
    sigaddset(&dfl, SIGTERM);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dfl);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *env[64];
    pdf_worker_env(env, sizeof(env) / sizeof(env[0]));
    int rc = posix_spawn(&s->pid, s->worker, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(sv[1]);
    if (rc != 0) {
        close(sv[0]);
        s->pid = 0;
        *err = rc;
        return -1;
    }
    s->fd = sv[0];
    return 0;
}

static int pdf_send_all(int fd, const void *p, size_t len)
{
    const char *c = p;
    while (len > 0) {
        ssize_t w = send(fd, c, len, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        c += w;
        len -= (size_t)w;
    }
    return 0;
}

int pdf_session_read(pdf_session *s, const void *bytes, size_t len, const pdf_budget *b,
                     pdf_text *out)
{
    if (b->in_process)
        return pdf_text_read(bytes, len, b, out);
    memset(out, 0, sizeof(*out));
    out->n_pages = -1;
    int pos = b->positions || b->image;
    out->pages = cJSON_CreateArray();
    out->words = pos ? cJSON_CreateArray() : NULL;
    out->sizes = pos ? cJSON_CreateArray() : NULL;
    if (out->pages == NULL || (pos && (out->words == NULL || out->sizes == NULL))) {
        pdf_text_clear(out);
        return -1;
    }
    if (b->max_pages <= 0)
        return 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int serr = 0;
        if (s->pid <= 0 && pdf_session_start(s, &serr) != 0) {
            char buf[PATH_MAX + 100];
            snprintf(buf, sizeof(buf), "cannot run the PDF worker %s: %s", s->worker,
                     strerror(serr));
            cJSON_Delete(out->pages);
            cJSON_Delete(out->words);
            cJSON_Delete(out->sizes);
            out->pages = out->words = out->sizes = NULL;
            out->error = strdup(buf);
            return out->error ? 0 : -1;
        }
        char head[128];
        const char *mode = b->image ? "image" : pos ? "words" : "text";
        int hl = snprintf(head, sizeof head, "%s %d %d %zu\n", mode, b->max_pages,
                          b->cpu_s > 0 ? b->cpu_s : 0, len);
        if (pdf_send_all(s->fd, head, (size_t)hl) == 0 && pdf_send_all(s->fd, bytes, len) == 0)
            break;
        /* A worker that died since the last document (its budget, a crash):
         * start a new one, once. */
        pdf_session_stop(s, 1);
        if (attempt == 1) {
            out->truncated = strdup("the PDF worker stopped before reading the document");
            return out->truncated ? 0 : -1;
        }
    }
    int64_t deadline = b->wall_ms > 0 ? pdf_now_ms() + b->wall_ms : INT64_MAX;
    pdf_buf in = {0};
    int oom = 0, killed_wall = 0, bad = 0, done = 0, eof = 0;
    while (!done) {
        if (b->cancelled && b->cancelled(b->ud)) {
            out->cancelled = 1;
            break;
        }
        int64_t now = pdf_now_ms();
        if (now >= deadline) {
            killed_wall = 1;
            break;
        }
        int wait = deadline - now < 50 ? (int)(deadline - now) : 50;
        struct pollfd pfd = {.fd = s->fd, .events = POLLIN};
        int r = poll(&pfd, 1, wait);
        if (r <= 0)
            continue;
        if (in.cap - in.len < 65536) {
            size_t cap = in.cap ? in.cap * 2 : 131072;
            char *d = realloc(in.data, cap);
            if (d == NULL) {
                oom = 1;
                break;
            }
            in.data = d;
            in.cap = cap;
        }
        ssize_t n = read(s->fd, in.data + in.len, in.cap - in.len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            eof = 1;
            break;
        }
        in.len += (size_t)n;
        if (pdf_parse_ex(&in, out, &done) < 0) {
            bad = 1;
            break;
        }
    }
    free(in.data);
    int status = 0, died = 0;
    if (!done) {
        /* Whatever stopped it, this worker is not reused. */
        if (!eof)
            kill(s->pid, SIGKILL);
        while (waitpid(s->pid, &status, 0) < 0 && errno == EINTR)
            ;
        died = 1;
        close(s->fd);
        s->fd = -1;
        s->pid = 0;
    }
    return pdf_verdict(out, b, oom, bad, killed_wall, died, status, 0);
}

/* ---- a worker's reply read whole (the fuzz target) ---- */

int pdf_text_from_reply(const void *reply, size_t len, const pdf_budget *b, pdf_text *out)
{
    memset(out, 0, sizeof(*out));
    out->n_pages = -1;
    int pos = b->positions || b->image;
    out->pages = cJSON_CreateArray();
    out->words = pos ? cJSON_CreateArray() : NULL;
    out->sizes = pos ? cJSON_CreateArray() : NULL;
    pdf_buf in = {.data = malloc(len ? len : 1), .len = len, .cap = len};
    if (in.data == NULL || out->pages == NULL ||
        (pos && (out->words == NULL || out->sizes == NULL))) {
        free(in.data);
        pdf_text_clear(out);
        return -1;
    }
    memcpy(in.data, reply, len);
    /* Records cut short are as bad as nonsense: the worker had ended. */
    int bad = pdf_parse(&in, out) < 0 || in.len > 0;
    free(in.data);
    return pdf_verdict(out, b, 0, bad, 0, 1, 0, 1);
}
