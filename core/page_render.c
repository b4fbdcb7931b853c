/* PDF pages as PNG through the budgeted worker, cached. See page_render.h. */
#include "page_render.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bp_build_config.h"
#include "sha256.h"

extern char **environ;

static char pr_worker[PATH_MAX];
static pthread_once_t pr_once = PTHREAD_ONCE_INIT;

static void pr_find_worker(void)
{
    const char *env = getenv("BP_PDF_WORKER");
    if (env && *env) {
        snprintf(pr_worker, sizeof pr_worker, "%s", env);
        return;
    }
    Dl_info info;
    size_t root = strlen(BP_BUILD_ROOT);
    if (dladdr((void *)pr_find_worker, &info) && info.dli_fname &&
        strncmp(info.dli_fname, BP_BUILD_ROOT, root) == 0 && info.dli_fname[root] == '/') {
        snprintf(pr_worker, sizeof pr_worker, "%s/connectors/mail/bp-pdf-text", BP_BUILD_ROOT);
        if (access(pr_worker, X_OK) == 0)
            return;
    }
    snprintf(pr_worker, sizeof pr_worker, "%s/bp-pdf-text", BP_PLUGIN_INSTALL_DIR);
}

const char *bp_page_worker_path(void)
{
    pthread_once(&pr_once, pr_find_worker);
    return pr_worker;
}

static int64_t pr_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* *err = the message; 1, or -1 when out of memory. */
static int pr_err(char **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int pr_err(char **err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(err, fmt, ap);
    va_end(ap);
    if (n < 0) {
        *err = NULL;
        return -1;
    }
    return 1;
}

static int pr_read_file(const char *path, unsigned char **out, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    struct stat st;
    if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size > (64 << 20)) {
        close(fd);
        return -1;
    }
    unsigned char *b = malloc((size_t)st.st_size);
    size_t got = 0;
    while (b && got < (size_t)st.st_size) {
        ssize_t n = read(fd, b + got, (size_t)st.st_size - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    if (b == NULL || got != (size_t)st.st_size) {
        free(b);
        return -1;
    }
    *out = b;
    *len = got;
    return 0;
}

/* Stored as a temporary file renamed into place: a reader sees all or nothing. */
static void pr_write_cache(const char *dir, const char *path, const unsigned char *png, size_t len)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST)
        return;
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s.%d.tmp", path, (int)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return;
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, png + done, len - done);
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    if (close(fd) == 0 && done == len)
        rename(tmp, path);
    else
        unlink(tmp);
}

/* The worker's reply: N, then G (the PNG) or E (why). */
static int pr_parse(const unsigned char *d, size_t n, unsigned char **png, size_t *png_len,
                    int *n_pages, char **err)
{
    size_t off = 0;
    while (off < n) {
        const unsigned char *nl = memchr(d + off, '\n', n - off);
        if (nl == NULL)
            break;
        char kind = (char)d[off];
        char *end;
        unsigned long long v = strtoull((const char *)d + off + 1, &end, 10);
        if ((const unsigned char *)end != nl)
            break;
        size_t head = (size_t)(nl - (d + off)) + 1;
        if (kind == 'N') {
            *n_pages = v > INT_MAX ? INT_MAX : (int)v;
            off += head;
            continue;
        }
        if ((kind != 'G' && kind != 'E') || v > n - off - head)
            break;
        if (kind == 'E') {
            char *why = strndup((const char *)d + off + head, (size_t)v);
            if (why == NULL)
                return -1;
            *err = why;
            return 1;
        }
        *png = malloc((size_t)v ? (size_t)v : 1);
        if (*png == NULL)
            return -1;
        memcpy(*png, d + off + head, (size_t)v);
        *png_len = (size_t)v;
        return 0;
    }
    return pr_err(err, "the PDF worker %s wrote an unreadable reply", bp_page_worker_path());
}

static int pr_run(const void *bytes, size_t len, int page, const bp_render_budget *b,
                  unsigned char **png, size_t *png_len, int *n_pages, char **err)
{
    int in = memfd_create("bp-page", MFD_CLOEXEC);
    if (in < 0)
        return pr_err(err, "cannot hand the PDF to the worker: %s", strerror(errno));
    for (size_t done = 0; done < len;) {
        ssize_t w = write(in, (const char *)bytes + done, len - done);
        if (w <= 0) {
            close(in);
            return pr_err(err, "cannot hand the PDF to the worker: %s", strerror(errno));
        }
        done += (size_t)w;
    }
    lseek(in, 0, SEEK_SET);
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) < 0) {
        close(in);
        return pr_err(err, "cannot start the PDF worker: %s", strerror(errno));
    }
    char a_page[16], a_cpu[16], a_px[16], a_mem[16];
    snprintf(a_page, sizeof a_page, "%d", page);
    snprintf(a_cpu, sizeof a_cpu, "%d", b->cpu_s > 0 ? b->cpu_s : 0);
    snprintf(a_px, sizeof a_px, "%d", b->max_px);
    snprintf(a_mem, sizeof a_mem, "%d", b->memory_mb > 0 ? b->memory_mb : 0);
    const char *path = bp_page_worker_path();
    char *argv[] = {(char *)path, (char *)"render", a_page, a_cpu, a_px, a_mem, NULL};
    /* The bus's environment holds the secrets ${env:...} names; the worker
     * parses untrusted input: it gets the locale and sanitizer settings only. */
    static const char *const keep[] = {"LANG=", "LC_", "HOME=", "TMPDIR=", "TZ=", "FONTCONFIG_",
                                       "XDG_", "ASAN_OPTIONS=", "UBSAN_OPTIONS=", "LSAN_OPTIONS=",
                                       NULL};
    char *env[64];
    size_t ne = 0;
    for (char **e = environ; e && *e && ne + 1 < 64; e++)
        for (int k = 0; keep[k]; k++)
            if (strncmp(*e, keep[k], strlen(keep[k])) == 0) {
                env[ne++] = *e;
                break;
            }
    env[ne] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
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
    pid_t pid;
    int rc = posix_spawn(&pid, path, &fa, &attr, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    close(in);
    close(fds[1]);
    if (rc != 0) {
        close(fds[0]);
        return pr_err(err, "cannot run the PDF worker %s: %s", path, strerror(rc));
    }
    int64_t deadline = pr_now_ms() + (b->wall_ms > 0 ? b->wall_ms : 10000);
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    int timed_out = 0, oom = 0;
    for (;;) {
        int64_t left = deadline - pr_now_ms();
        if (left <= 0) {
            timed_out = 1;
            break;
        }
        struct pollfd pfd = {.fd = fds[0], .events = POLLIN};
        int r = poll(&pfd, 1, left > 100 ? 100 : (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            continue;
        if (cap - n < 65536) {
            size_t nc = cap ? cap * 2 : 262144;
            if (nc > (96u << 20)) {
                oom = 1;   /* a page PNG of 96 MiB is no page a person reads */
                break;
            }
            unsigned char *nb = realloc(buf, nc);
            if (nb == NULL) {
                oom = 1;
                break;
            }
            buf = nb;
            cap = nc;
        }
        ssize_t got = read(fds[0], buf + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        n += (size_t)got;
    }
    if (timed_out || oom)
        kill(pid, SIGKILL);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    close(fds[0]);
    int out;
    if (timed_out)
        out = pr_err(err, "page %s: the time limit (%ld ms) was reached", a_page, (long)b->wall_ms);
    else if (oom)
        out = pr_err(err, "page %s: the image is too large", a_page);
    else if (WIFSIGNALED(status) && (WTERMSIG(status) == SIGXCPU || WTERMSIG(status) == SIGKILL))
        out = pr_err(err, "page %s: the CPU limit (%ld s) was reached", a_page, (long)b->cpu_s);
    else if (WIFSIGNALED(status))
        out = pr_err(err, "page %s: the PDF worker died of signal %ld", a_page,
                     (long)WTERMSIG(status));
    else
        out = pr_parse(buf, n, png, png_len, n_pages, err);
    free(buf);
    return out;
}

/* Cache files not read for BP_PAGE_CACHE_DAYS are removed, at most once an
 * hour per process (a read touches its file): the directory holds the pages
 * people look at, not every page ever rendered. */
static _Atomic int64_t pr_pruned_ms;

void bp_page_cache_prune(const char *dir)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 4, ".png") != 0)
            continue;
        struct stat st;
        if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
            now.tv_sec - st.st_mtime > (time_t)BP_PAGE_CACHE_DAYS * 86400)
            unlinkat(dirfd(d), e->d_name, 0);
    }
    if (d)
        closedir(d);
}

static void pr_prune(const char *dir)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    int64_t ms = (int64_t)now.tv_sec * 1000 + 1, last = atomic_load(&pr_pruned_ms);
    if (last && ms - last < 3600 * 1000)
        return;
    if (atomic_compare_exchange_strong(&pr_pruned_ms, &last, ms))
        bp_page_cache_prune(dir);
}

int bp_page_render(const void *bytes, size_t len, int page, const bp_render_budget *b,
                   const char *cache_dir, unsigned char **png, size_t *png_len, int *n_pages,
                   char **err)
{
    *png = NULL;
    *png_len = 0;
    *n_pages = -1;
    *err = NULL;
    if (page < 1)
        return pr_err(err, "no page %d", page);
    char path[PATH_MAX] = "";
    if (cache_dir) {
        bp_sha256 h;
        unsigned char dg[32];
        bp_sha256_init(&h);
        bp_sha256_update(&h, bytes, len);
        bp_sha256_final(&h, dg);
        char hex[65];
        for (int i = 0; i < 32; i++)
            snprintf(hex + 2 * i, 3, "%02x", dg[i]);
        snprintf(path, sizeof path, "%s/%s-p%d-%dpx.png", cache_dir, hex, page, b->max_px);
        if (pr_read_file(path, png, png_len) == 0) {
            utimensat(AT_FDCWD, path, NULL, 0);   /* read now: kept by the prune */
            return 0;
        }
    }
    int rc = pr_run(bytes, len, page, b, png, png_len, n_pages, err);
    if (rc == 0 && cache_dir) {
        pr_write_cache(cache_dir, path, *png, *png_len);
        pr_prune(cache_dir);
    }
    return rc;
}
