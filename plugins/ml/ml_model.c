/* ml_model: see ml_model.h for the format. */
#include "ml_model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ML_MAGIC "BPMODEL1"
#define ML_MAGIC_LEN 8
#define ML_T_F32 1
#define ML_T_STR 2
/* A model is small; refusing huge counts early keeps a corrupt header from
 * asking for gigabytes before the length check would catch it. */
#define ML_MAX_SECTIONS 4096

typedef struct {
    char *name;
    uint8_t type;
    uint32_t count;   /* floats, or string bytes without the NUL */
    void *data;       /* float[count] or char[count + 1] */
} ml_section;

struct ml_model {
    ml_section *sec;
    size_t n, cap;
};

uint32_t ml_crc32(const unsigned char *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return c ^ 0xFFFFFFFFu;
}

ml_model *ml_model_new(void)
{
    return calloc(1, sizeof(ml_model));
}

void ml_model_free(ml_model *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->sec[i].name);
        free(m->sec[i].data);
    }
    free(m->sec);
    free(m);
}

static const ml_section *ml_find(const ml_model *m, const char *name)
{
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->sec[i].name, name) == 0)
            return &m->sec[i];
    return NULL;
}

/* Takes data (frees it on failure). */
static int ml_add(ml_model *m, const char *name, uint8_t type, uint32_t count, void *data)
{
    if (strlen(name) > 255 || ml_find(m, name) != NULL || m->n >= ML_MAX_SECTIONS) {
        free(data);
        return -1;
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 16;
        ml_section *s = realloc(m->sec, cap * sizeof(*s));
        if (s == NULL) {
            free(data);
            return -1;
        }
        m->sec = s;
        m->cap = cap;
    }
    char *nm = strdup(name);
    if (nm == NULL) {
        free(data);
        return -1;
    }
    m->sec[m->n++] = (ml_section){.name = nm, .type = type, .count = count, .data = data};
    return 0;
}

int ml_model_add_f32(ml_model *m, const char *name, const float *v, uint32_t n)
{
    float *copy = malloc(n ? n * sizeof(float) : 1);
    if (copy == NULL)
        return -1;
    if (n)
        memcpy(copy, v, n * sizeof(float));
    return ml_add(m, name, ML_T_F32, n, copy);
}

int ml_model_add_str(ml_model *m, const char *name, const char *s)
{
    size_t len = strlen(s);
    if (len > UINT32_MAX)
        return -1;
    char *copy = strdup(s);
    if (copy == NULL)
        return -1;
    return ml_add(m, name, ML_T_STR, (uint32_t)len, copy);
}

const float *ml_model_get0_f32(const ml_model *m, const char *name, uint32_t *n)
{
    const ml_section *s = ml_find(m, name);
    if (s == NULL || s->type != ML_T_F32)
        return NULL;
    if (n)
        *n = s->count;
    return s->data;
}

const char *ml_model_get0_str(const ml_model *m, const char *name)
{
    const ml_section *s = ml_find(m, name);
    return s && s->type == ML_T_STR ? s->data : NULL;
}

/* ---- writing ------------------------------------------------------------ */

typedef struct {
    unsigned char *p;
    size_t len, cap;
    int failed;
} ml_buf;

static void ml_put(ml_buf *b, const void *src, size_t n)
{
    if (b->failed)
        return;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (p == NULL) {
            b->failed = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void ml_put_u32(ml_buf *b, uint32_t v)
{
    unsigned char x[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    ml_put(b, x, 4);
}

int ml_model_save(const ml_model *m, const char *path, char *err, size_t errlen)
{
    ml_buf b = {0};
    ml_put(&b, ML_MAGIC, ML_MAGIC_LEN);
    ml_put_u32(&b, (uint32_t)m->n);
    for (size_t i = 0; i < m->n; i++) {
        const ml_section *s = &m->sec[i];
        size_t nl = strlen(s->name);
        unsigned char hdr[3] = {(unsigned char)nl, (unsigned char)(nl >> 8), s->type};
        ml_put(&b, hdr, 2);
        ml_put(&b, s->name, nl);
        ml_put(&b, hdr + 2, 1);
        ml_put_u32(&b, s->count);
        if (s->type == ML_T_F32) {
            for (uint32_t k = 0; k < s->count; k++) {
                uint32_t u;
                memcpy(&u, (const float *)s->data + k, 4);
                ml_put_u32(&b, u);
            }
        } else {
            ml_put(&b, s->data, s->count);
        }
    }
    if (!b.failed)
        ml_put_u32(&b, ml_crc32(b.p, b.len));
    if (b.failed) {
        free(b.p);
        snprintf(err, errlen, "%s: out of memory", path);
        return -1;
    }
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL && fwrite(b.p, 1, b.len, f) == b.len;
    if (f != NULL && fclose(f) != 0)
        ok = 0;
    free(b.p);
    if (!ok || rename(tmp, path) != 0) {
        snprintf(err, errlen, "%s: cannot write: %s", path, strerror(errno));
        remove(tmp);
        return -1;
    }
    return 0;
}

/* ---- parsing ------------------------------------------------------------ */

static uint32_t ml_u32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

ml_model *ml_model_parse(const unsigned char *buf, size_t len, char *err, size_t errlen)
{
    if (len < ML_MAGIC_LEN || memcmp(buf, ML_MAGIC, ML_MAGIC_LEN) != 0) {
        snprintf(err, errlen, "not a backplane model file (no %s magic)", ML_MAGIC);
        return NULL;
    }
    if (len < ML_MAGIC_LEN + 8) {
        snprintf(err, errlen, "truncated at byte %zu (file too short)", len);
        return NULL;
    }
    size_t body = len - 4;
    if (ml_crc32(buf, body) != ml_u32(buf + body)) {
        snprintf(err, errlen, "checksum mismatch (file corrupt or truncated, %zu bytes)", len);
        return NULL;
    }
    ml_model *m = ml_model_new();
    if (m == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    size_t off = ML_MAGIC_LEN;
    uint32_t nsec = ml_u32(buf + off);
    off += 4;
    if (nsec > ML_MAX_SECTIONS) {
        snprintf(err, errlen, "byte %d: %u sections (at most %d)", ML_MAGIC_LEN, nsec,
                 ML_MAX_SECTIONS);
        goto fail;
    }
    for (uint32_t i = 0; i < nsec; i++) {
        if (body - off < 2) {
            snprintf(err, errlen, "truncated at byte %zu (section %u header)", off, i);
            goto fail;
        }
        size_t nl = (size_t)buf[off] | (size_t)buf[off + 1] << 8;
        off += 2;
        if (nl == 0 || nl > 255 || body - off < nl + 5) {
            snprintf(err, errlen, "truncated or bad name length at byte %zu (section %u)",
                     off - 2, i);
            goto fail;
        }
        char name[256];
        memcpy(name, buf + off, nl);
        name[nl] = '\0';
        if (strlen(name) != nl) {
            snprintf(err, errlen, "byte %zu: section name contains a NUL byte", off);
            goto fail;
        }
        off += nl;
        uint8_t type = buf[off++];
        uint32_t count = ml_u32(buf + off);
        off += 4;
        if (type != ML_T_F32 && type != ML_T_STR) {
            snprintf(err, errlen, "byte %zu: section '%s' has unknown type %u", off - 5, name,
                     type);
            goto fail;
        }
        size_t need = type == ML_T_F32 ? (size_t)count * 4 : count;
        if (body - off < need) {
            snprintf(err, errlen, "truncated at byte %zu (section '%s' needs %zu bytes, %zu left)",
                     off, name, need, body - off);
            goto fail;
        }
        void *data;
        if (type == ML_T_F32) {
            float *v = malloc(count ? (size_t)count * sizeof(float) : 1);
            if (v == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            for (uint32_t k = 0; k < count; k++) {
                uint32_t u = ml_u32(buf + off + 4 * (size_t)k);
                memcpy(&v[k], &u, 4);
                if (!isfinite(v[k])) {
                    snprintf(err, errlen, "byte %zu: section '%s' holds a non-finite number",
                             off + 4 * (size_t)k, name);
                    free(v);
                    goto fail;
                }
            }
            data = v;
        } else {
            char *s = malloc((size_t)count + 1);
            if (s == NULL) {
                snprintf(err, errlen, "out of memory");
                goto fail;
            }
            memcpy(s, buf + off, count);
            s[count] = '\0';
            if (strlen(s) != count) {
                snprintf(err, errlen, "byte %zu: string section '%s' contains a NUL byte", off,
                         name);
                free(s);
                goto fail;
            }
            data = s;
        }
        off += need;
        if (ml_add(m, name, type, count, data) != 0) {
            snprintf(err, errlen, "byte %zu: duplicate section '%s'", off - need, name);
            goto fail;
        }
    }
    if (off != body) {
        snprintf(err, errlen, "byte %zu: %zu bytes of trailing garbage", off, body - off);
        goto fail;
    }
    return m;
fail:
    ml_model_free(m);
    return NULL;
}

ml_model *ml_model_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            unsigned char *p = realloc(buf, cap);
            if (p == NULL) {
                free(buf);
                fclose(f);
                snprintf(err, errlen, "%s: out of memory", path);
                return NULL;
            }
            buf = p;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    int rerr = ferror(f);
    fclose(f);
    if (rerr) {
        free(buf);
        snprintf(err, errlen, "%s: read error", path);
        return NULL;
    }
    char msg[512];
    ml_model *m = ml_model_parse(buf, len, msg, sizeof msg);
    free(buf);
    if (m == NULL)
        snprintf(err, errlen, "%s: %s", path, msg);
    return m;
}

int ml_model_expect(const ml_model *m, const char *kind, const char *features, char *err,
                    size_t errlen)
{
    const char *k = ml_model_get0_str(m, "kind");
    if (k == NULL || strcmp(k, kind) != 0) {
        snprintf(err, errlen, "not %s %s model (kind '%s')", strchr("aeiou", kind[0]) ? "an" : "a",
                 kind, k ? k : "none");
        return -1;
    }
    const char *fs = ml_model_get0_str(m, "features");
    if (fs == NULL || strcmp(fs, features) != 0) {
        snprintf(err, errlen, "model was trained on feature set '%s', this build has '%s': retrain it",
                 fs ? fs : "none", features);
        return -1;
    }
    return 0;
}

int ml_model_load_with(const char *path,
                       int (*interpret)(void *ctx, const ml_model *m, char *err, size_t errlen),
                       void *ctx, char *err, size_t errlen)
{
    ml_model *m = ml_model_load(path, err, errlen);
    if (m == NULL)
        return -1;
    char msg[512];
    int rc = interpret(ctx, m, msg, sizeof msg);
    if (rc != 0)
        snprintf(err, errlen, "%s: %s", path, msg);
    ml_model_free(m);
    return rc;
}
