/* MIME -> envelope with GMime 3: headers, the text body decoded to UTF-8,
 * attachments with their bytes, PDF text per page. GMime parses leniently
 * (as mail clients do); a message is rejected only when it is over a size
 * limit or has no mail header at all. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <pthread.h>
#include <gmime/gmime.h>

#include "mime_envelope.h"
#include "pdf_text.h"
#include "text_extract.h"

const char *const mime_emits[] = {
    "data.from", "data.to", "data.cc", "data.subject", "data.date", "data.message_id",
    "data.in_reply_to", "data.references", "data.text", "data.text_type", "data.attachments",
    "data.origin", NULL,
};

static pthread_once_t mime_once = PTHREAD_ONCE_INIT;

static void mime_init_once(void)
{
    /* Process-wide and never undone: GMime's tables and GLib's type system
     * live as long as the process (the loader keeps plugin code mapped). */
    g_mime_init();
}

void mime_library_init(void)
{
    pthread_once(&mime_once, mime_init_once);
}

typedef struct {
    const mime_limits *lim;
    mime_message *m;
    cJSON *atts;         /* data.attachments */
    char *plain;         /* first inline text/plain, UTF-8 */
    char *html;          /* first inline text/html, UTF-8 */
    char *reason;        /* set: reject */
    int oom;
    int depth;
    int n_pdfs;          /* PDFs whose text was asked for */
    int64_t pdf_ms;      /* spent on them */
    int pdf_truncated;   /* one was cut short or skipped */
    int cancelled;       /* lim->cancelled() said stop */
    int parts;           /* MIME body parts walked */
} mime_walk;

static char *mime_parts_reason(int max_parts)
{
    char buf[96];
    snprintf(buf, sizeof(buf), "message has more than max_parts (%d) MIME parts", max_parts);
    return strdup(buf);
}

/* Counts a message's MIME parts in its raw bytes, before GMime builds a tree
 * of objects for them (100,000 parts in 11 MB took 390 MB that way): every
 * `boundary=` seen declares a delimiter; a line "--B" opens or continues B's
 * multipart (one part), "--B--" closes it. The depth is the number of
 * multiparts open at once. Lenient the way GMime is (a boundary found in
 * body text only adds a delimiter nobody uses), so an over-count needs more
 * real delimiter lines than the limit. Returns 0, 1 with *out the reason
 * (malloc'ed) the message is over max_parts or MIME_MAX_DEPTH, or -1 when
 * out of memory. */
static int mime_prescan(const char *p, size_t len, int max_parts, char **out)
{
    typedef struct {
        const char *b;
        size_t n;
        int open;
    } bnd;
    size_t cap = 16, nb = 0;
    bnd *set = malloc(cap * sizeof(*set));
    long parts = 0;
    int depth = 0;
    char *reason = NULL;
    const char *end = p + len;
    for (const char *line = p; set && line < end && reason == NULL;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t ll = (size_t)((nl ? nl : end) - line);
        if (ll && line[ll - 1] == '\r')
            ll--;
        if (ll > 2 && line[0] == '-' && line[1] == '-') {
            bnd *hit = NULL;
            for (size_t i = 0; i < nb; i++)   /* the longest boundary that matches */
                if (set[i].n <= ll - 2 && memcmp(line + 2, set[i].b, set[i].n) == 0 &&
                    (hit == NULL || set[i].n > hit->n))
                    hit = &set[i];
            if (hit) {
                const char *rest = line + 2 + hit->n;
                size_t rl = ll - 2 - hit->n;
                if (rl >= 2 && rest[0] == '-' && rest[1] == '-') {
                    if (hit->open) {
                        hit->open = 0;
                        depth--;
                    }
                } else {
                    if (!hit->open) {
                        hit->open = 1;
                        if (++depth > MIME_MAX_DEPTH)
                            reason = strdup("MIME parts nested more than 64 deep");
                    }
                    if (reason == NULL && ++parts > max_parts)
                        reason = mime_parts_reason(max_parts);
                }
            }
        } else {
            /* boundary=VALUE or boundary="VALUE" anywhere in the line (a
             * folded Content-Type puts it on a line of its own). */
            for (const char *q = line; reason == NULL && q + 9 <= line + ll; q++) {
                if (g_ascii_strncasecmp(q, "boundary=", 9) != 0)
                    continue;
                const char *v = q + 9, *ve;
                size_t room = (size_t)(line + ll - v);
                if (room && *v == '"') {
                    v++;
                    room--;
                    ve = memchr(v, '"', room);
                    if (ve == NULL)
                        ve = v + room;
                } else {
                    ve = v;
                    while (ve < line + ll && *ve != ';' && *ve != ' ' && *ve != '\t')
                        ve++;
                }
                size_t n = (size_t)(ve - v);
                int known = n == 0;
                for (size_t i = 0; i < nb && !known; i++)
                    known = set[i].n == n && memcmp(set[i].b, v, n) == 0;
                if (!known) {
                    /* Each multipart declares one: more than max_parts of
                     * them is over the limit already. */
                    if (nb >= (size_t)max_parts) {
                        reason = mime_parts_reason(max_parts);
                        break;
                    }
                    if (nb == cap) {
                        bnd *g = realloc(set, (cap *= 2) * sizeof(*set));
                        if (g == NULL) {
                            free(set);
                            set = NULL;
                            break;
                        }
                        set = g;
                    }
                    set[nb++] = (bnd){.b = v, .n = n};
                }
                q = ve - 1;
            }
        }
        line = nl ? nl + 1 : end;
    }
    int oom = set == NULL && reason == NULL;
    free(set);
    *out = reason;
    return oom ? -1 : reason != NULL;
}

static char *mime_strdup_valid(const char *s)
{
    /* Everything that reaches JSON must be valid UTF-8. */
    char *v = g_utf8_make_valid(s, -1);
    char *r = strdup(v);
    g_free(v);
    return r;
}

/* CRLF -> LF and no trailing blank lines: what a reader or a model wants. */
static char *mime_text_normalise(const char *s)
{
    size_t n = strlen(s);
    char *out = malloc(n + 1), *o = out;
    if (out == NULL)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == '\r' && s[i + 1] == '\n'))
            *o++ = s[i];
    while (o > out && (o[-1] == '\n' || o[-1] == '\r' || o[-1] == ' ' || o[-1] == '\t'))
        o--;
    *o = '\0';
    return out;
}

static void mime_add_str(mime_walk *w, cJSON *obj, const char *key, const char *s)
{
    if (s == NULL)
        return;
    char *v = g_utf8_make_valid(s, -1);
    if (cJSON_AddStringToObject(obj, key, v) == NULL)
        w->oom = 1;
    g_free(v);
}

/* A list of addresses as [{name, address}], groups flattened. */
static void mime_add_addresses(mime_walk *w, cJSON *arr, InternetAddressList *list, int depth)
{
    int n = list ? internet_address_list_length(list) : 0;
    for (int i = 0; i < n && depth < 4; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            mime_add_addresses(w, arr, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)),
                               depth + 1);
            continue;
        }
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            w->oom = 1;
            return;
        }
        const char *name = internet_address_get_name(ia);
        mime_add_str(w, o, "name", name ? name : "");
        mime_add_str(w, o, "address", internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia)));
    }
}

static int64_t mime_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* "10s" or "1500ms": a duration as the site file would say it. */
static void mime_fmt_ms(char *buf, size_t n, int64_t ms)
{
    if (ms % 1000 == 0)
        snprintf(buf, n, "%llds", (long long)(ms / 1000));
    else
        snprintf(buf, n, "%lldms", (long long)ms);
}

/* attachments[i].layout (pdf_layout, issue 15): one {"w", "h", "words"} per
 * page read, taking t's words. 0 when out of memory. */
static int mime_add_layout(cJSON *o, pdf_text *t)
{
    cJSON *layout = cJSON_AddArrayToObject(o, "layout");
    if (layout == NULL)
        return 0;
    for (int i = 0; i < cJSON_GetArraySize(t->sizes); i++) {
        const cJSON *sz = cJSON_GetArrayItem(t->sizes, i);
        cJSON *pg = cJSON_CreateObject();
        if (pg == NULL || !cJSON_AddItemToArray(layout, pg)) {
            cJSON_Delete(pg);
            return 0;
        }
        const cJSON *wv = cJSON_GetObjectItemCaseSensitive(sz, "w");
        const cJSON *hv = cJSON_GetObjectItemCaseSensitive(sz, "h");
        cJSON_AddNumberToObject(pg, "w", cJSON_IsNumber(wv) ? wv->valuedouble : 0);
        cJSON_AddNumberToObject(pg, "h", cJSON_IsNumber(hv) ? hv->valuedouble : 0);
        cJSON *words = cJSON_DetachItemFromArray(t->words, 0);
        cJSON_AddItemToObject(pg, "words", words ? words : cJSON_CreateArray());
    }
    return 1;
}

/* The text of a PDF attachment under the budget (pdf_text.h): the pages,
 * page_count, and text_truncated (why) when the budget cut it short. */
static void mime_add_pdf_text(mime_walk *w, cJSON *o, const mime_attachment *a)
{
    const mime_limits *lim = w->lim;
    char why[320], d[32];
    int64_t left = lim->pdf_message_ms - w->pdf_ms;
    if (lim->pdf_isolated && w->n_pdfs >= lim->max_pdfs) {
        snprintf(why, sizeof(why), "not read: the message has more than max_pdf_attachments (%d) PDFs",
                 lim->max_pdfs);
        mime_add_str(w, o, "text_truncated", why);
        w->pdf_truncated = 1;
        return;
    }
    if (lim->pdf_isolated && left <= 0) {
        mime_fmt_ms(d, sizeof(d), lim->pdf_message_ms);
        snprintf(why, sizeof(why), "not read: pdf_message_timeout (%s) spent on the PDFs before it", d);
        mime_add_str(w, o, "text_truncated", why);
        w->pdf_truncated = 1;
        return;
    }
    w->n_pdfs++;
    int per_doc = lim->pdf_timeout_ms <= left;
    pdf_budget b = {.max_pages = lim->max_pdf_pages,
                    .wall_ms = per_doc ? lim->pdf_timeout_ms : left,
                    .cpu_s = (int)((lim->pdf_timeout_ms + 999) / 1000),
                    .in_process = !lim->pdf_isolated,
                    .positions = lim->pdf_layout,
                    .cancelled = lim->cancelled, .ud = lim->cancel_ud};
    pdf_text t;
    int64_t t0 = mime_now_ms();
    int rc = pdf_text_read(a->bytes, a->size, &b, &t);
    w->pdf_ms += mime_now_ms() - t0;
    if (rc < 0) {
        w->oom = 1;
        return;
    }
    if (t.cancelled) {
        w->cancelled = 1;
    } else if (t.error) {
        /* A damaged PDF is still delivered; the reader sees why it has no text. */
        mime_add_str(w, o, "text_error", t.error);
    } else {
        if (t.n_pages >= 0)
            cJSON_AddNumberToObject(o, "page_count", t.n_pages);
        cJSON_AddItemToObject(o, "pages", t.pages);
        t.pages = NULL;
        if (lim->pdf_layout && t.words && t.sizes && !mime_add_layout(o, &t))
            w->oom = 1;
        if (t.truncated) {
            mime_fmt_ms(d, sizeof(d), per_doc ? lim->pdf_timeout_ms : lim->pdf_message_ms);
            snprintf(why, sizeof(why), "%s (%s): %s", per_doc ? "pdf_timeout" : "pdf_message_timeout",
                     d, t.truncated);
            mime_add_str(w, o, "text_truncated", why);
            w->pdf_truncated = 1;
        }
    }
    pdf_text_clear(&t);
}

static void mime_add_attachment(mime_walk *w, const char *name, const char *type,
                                GByteArray *content)
{
    mime_message *m = w->m;
    if (content->len > w->lim->max_attachment) {
        char buf[512];
        snprintf(buf, sizeof(buf), "attachment '%.200s' is %u bytes, over max_attachment_size (%zu)",
                 name, content->len, w->lim->max_attachment);
        w->reason = strdup(buf);
        return;
    }
    mime_attachment *a = realloc(m->att, (m->n_att + 1) * sizeof(*a));
    if (a == NULL) {
        w->oom = 1;
        return;
    }
    m->att = a;
    a = &m->att[m->n_att];
    *a = (mime_attachment){.name = mime_strdup_valid(name), .media_type = strdup(type),
                           .size = content->len};
    a->bytes = malloc(content->len ? content->len : 1);
    if (a->name == NULL || a->media_type == NULL || a->bytes == NULL) {
        free(a->name);
        free(a->media_type);
        free(a->bytes);
        w->oom = 1;
        return;
    }
    if (content->len)
        memcpy(a->bytes, content->data, content->len);
    m->n_att++;

    cJSON *o = cJSON_CreateObject();
    if (o == NULL || !cJSON_AddItemToArray(w->atts, o)) {
        cJSON_Delete(o);
        w->oom = 1;
        return;
    }
    mime_add_str(w, o, "name", name);
    mime_add_str(w, o, "media_type", type);
    cJSON_AddNumberToObject(o, "size", (double)content->len);
    if (strcasecmp(type, "application/pdf") == 0 && w->lim->max_pdf_pages > 0)
        mime_add_pdf_text(w, o, a);
}

/* Decoded content of a leaf part (transfer encoding undone). */
static GByteArray *mime_content(GMimePart *part)
{
    GMimeDataWrapper *dw = g_mime_part_get_content(part);
    GMimeStream *mem = g_mime_stream_mem_new();
    if (dw)
        g_mime_data_wrapper_write_to_stream(dw, mem);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    g_object_unref(mem);
    return ba;
}

static void mime_walk_object(mime_walk *w, GMimeObject *obj);

static void mime_walk_part(mime_walk *w, GMimePart *part)
{
    GMimeContentType *ct = g_mime_object_get_content_type(GMIME_OBJECT(part));
    char *type = ct ? g_mime_content_type_get_mime_type(ct) : g_strdup("text/plain");
    const char *filename = g_mime_part_get_filename(part);
    int is_text = ct && g_mime_content_type_is_type(ct, "text", "*");
    int attachment = g_mime_part_is_attachment(part) || filename != NULL ||
                     !(ct == NULL || is_text);
    if (!attachment && GMIME_IS_TEXT_PART(part) &&
        (g_mime_content_type_is_type(ct, "text", "plain") ? w->plain == NULL
         : g_mime_content_type_is_type(ct, "text", "html") ? w->html == NULL
                                                            : 0)) {
        /* g_mime_text_part_get_text converts from the part's charset (or the
         * fallback charsets) to UTF-8. */
        char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        if (text && !g_utf8_validate(text, -1, NULL)) {
            /* No (or a wrong) charset and 8-bit content: read it as
             * windows-1252, as mail clients do, rather than lose letters. */
            GByteArray *ba = mime_content(part);
            char *conv = g_convert_with_fallback((const char *)ba->data, (gssize)ba->len, "UTF-8",
                                                 "WINDOWS-1252", "?", NULL, NULL, NULL);
            g_byte_array_free(ba, TRUE);
            if (conv) {
                g_free(text);
                text = conv;
            }
        }
        char *valid = g_utf8_make_valid(text ? text : "", -1);
        char **slot = g_mime_content_type_is_type(ct, "text", "plain") ? &w->plain : &w->html;
        *slot = mime_text_normalise(valid);
        if (*slot == NULL)
            w->oom = 1;
        g_free(valid);
        g_free(text);
    } else if (attachment || is_text) {
        GByteArray *ba = mime_content(part);
        mime_add_attachment(w, filename ? filename : "", type, ba);
        g_byte_array_free(ba, TRUE);
    }
    g_free(type);
}

static void mime_walk_object(mime_walk *w, GMimeObject *obj)
{
    if (obj == NULL || w->reason || w->oom || w->cancelled)
        return;
    if (++w->depth > MIME_MAX_DEPTH) {
        w->reason = strdup("MIME parts nested more than 64 deep");
        return;
    }
    /* Body parts below the message's own, nested multiparts included: what
     * the prescan counts (one per delimiter line). */
    if (w->lim->max_parts > 0 && w->depth > 1 && ++w->parts > w->lim->max_parts) {
        w->reason = mime_parts_reason(w->lim->max_parts);
        return;
    }
    if (GMIME_IS_MULTIPART(obj)) {
        GMimeMultipart *mp = GMIME_MULTIPART(obj);
        int n = g_mime_multipart_get_count(mp);
        for (int i = 0; i < n && !w->reason && !w->oom && !w->cancelled; i++)
            mime_walk_object(w, g_mime_multipart_get_part(mp, i));
    } else if (GMIME_IS_MESSAGE_PART(obj)) {
        /* A forwarded message travels as an .eml attachment, bytes as sent. */
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(obj));
        GMimeStream *mem = g_mime_stream_mem_new();
        if (inner)
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
        GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
        mime_add_attachment(w, "message.eml", "message/rfc822", ba);
        g_object_unref(mem);
    } else if (GMIME_IS_PART(obj)) {
        mime_walk_part(w, GMIME_PART(obj));
    }
    w->depth--;
}

/* References: the message ids in order, as GMime reads them. */
static void mime_add_references(mime_walk *w, cJSON *data, GMimeObject *msg)
{
    const char *raw = g_mime_object_get_header(msg, "References");
    if (raw == NULL)
        return;
    cJSON *arr = cJSON_AddArrayToObject(data, "references");
    GMimeReferences *refs = g_mime_references_parse(NULL, raw);
    int n = refs ? g_mime_references_length(refs) : 0;
    for (int i = 0; arr && i < n && i < 1000; i++) {
        char *v = g_utf8_make_valid(g_mime_references_get_message_id(refs, i), -1);
        cJSON_AddItemToArray(arr, cJSON_CreateString(v));
        g_free(v);
    }
    if (refs)
        g_mime_references_free(refs);
    if (arr == NULL)
        w->oom = 1;
}

bp_status mime_parse(const void *bytes, size_t len, const mime_limits *lim, mime_message *out,
                     char **reason)
{
    memset(out, 0, sizeof(*out));
    *reason = NULL;
    if (len > lim->max_message) {
        char buf[160];
        snprintf(buf, sizeof(buf), "message is %zu bytes, over max_message_size (%zu)", len,
                 lim->max_message);
        *reason = strdup(buf);
        return BP_REJECT;
    }
    int over = lim->max_parts > 0 ? mime_prescan(bytes, len, lim->max_parts, reason) : 0;
    if (over != 0)
        return over < 0 || *reason == NULL ? BP_ERR_NOMEM : BP_REJECT;
    mime_library_init();
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(bytes, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    GMimeParserOptions *opts = g_mime_parser_options_new();
    /* 8-bit headers and parts without a charset: UTF-8 if valid, else the
     * Western European charset most such mail is in. */
    static const char *fallback[] = {"utf-8", "windows-1252", NULL};
    g_mime_parser_options_set_fallback_charsets(opts, fallback);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, opts);
    g_object_unref(parser);
    if (msg == NULL) {
        g_mime_parser_options_free(opts);
        *reason = strdup("malformed message: not RFC 5322 (no header block)");
        return BP_REJECT;
    }
    GMimeObject *mobj = GMIME_OBJECT(msg);
    static const char *const known[] = {"From", "Date", "Message-ID", "Subject", "To", "Sender", NULL};
    int has_header = 0;
    for (int i = 0; known[i] && !has_header; i++)
        has_header = g_mime_object_get_header(mobj, known[i]) != NULL;
    if (!has_header) {
        g_object_unref(msg);
        g_mime_parser_options_free(opts);
        *reason = strdup("malformed message: none of From, Date, Message-ID, Subject, To, Sender");
        return BP_REJECT;
    }

    mime_walk w = {.lim = lim, .m = out};
    cJSON *data = out->data = cJSON_CreateObject();
    if (data == NULL)
        goto nomem;
    cJSON *from = cJSON_CreateArray();
    mime_add_addresses(&w, from, g_mime_message_get_from(msg), 0);
    /* One From is the rule; the whole list stays available otherwise. */
    if (cJSON_GetArraySize(from) == 1) {
        cJSON_AddItemToObject(data, "from", cJSON_DetachItemFromArray(from, 0));
        cJSON_Delete(from);
    } else {
        cJSON_AddItemToObject(data, "from", from);
    }
    mime_add_addresses(&w, cJSON_AddArrayToObject(data, "to"), g_mime_message_get_to(msg), 0);
    mime_add_addresses(&w, cJSON_AddArrayToObject(data, "cc"), g_mime_message_get_cc(msg), 0);
    mime_add_str(&w, data, "subject", g_mime_message_get_subject(msg));
    GDateTime *date = g_mime_message_get_date(msg);
    if (date) {
        char *t = g_date_time_format(date, "%Y-%m-%dT%H:%M:%S%:z");
        if (t && strlen(t) == 25 && t[0] != '-') {
            mime_add_str(&w, data, "date", t);
            out->time = strdup(t);
        }
        g_free(t);
    }
    const char *mid = g_mime_message_get_message_id(msg);
    if (mid && *mid) {
        out->message_id = mime_strdup_valid(mid);
        mime_add_str(&w, data, "message_id", mid);
    }
    const char *irt = g_mime_object_get_header(mobj, "In-Reply-To");
    if (irt) {
        char *id = g_mime_utils_decode_message_id(irt);
        mime_add_str(&w, data, "in_reply_to", id ? id : irt);
        g_free(id);
    }
    mime_add_references(&w, data, mobj);
    /* Loop-prevention headers (RFC 3834 Auto-Submitted, Precedence, RFC 2919
     * List-Id, Microsoft's X-Auto-Response-Suppress), as data.<name in
     * snake_case> when present: a sink that answers mail (smtp) must not
     * answer an out-of-office reply or a mailing list. */
    static const char *const loop_hdr[][2] = {
        {"Auto-Submitted", "auto_submitted"}, {"Precedence", "precedence"},
        {"List-Id", "list_id"}, {"X-Auto-Response-Suppress", "x_auto_response_suppress"}};
    for (size_t i = 0; i < sizeof(loop_hdr) / sizeof(loop_hdr[0]); i++) {
        const char *v = g_mime_object_get_header(mobj, loop_hdr[i][0]);
        if (v) {
            char *dec = g_mime_utils_header_decode_text(NULL, v);
            char *t = g_strstrip(dec ? dec : g_strdup(v));
            mime_add_str(&w, data, loop_hdr[i][1], t);
            g_free(t);
        }
    }

    w.atts = cJSON_CreateArray();
    if (w.atts == NULL)
        goto nomem;
    mime_walk_object(&w, g_mime_message_get_mime_part(msg));
    if (w.plain) {
        mime_add_str(&w, data, "text", w.plain);
        mime_add_str(&w, data, "text_type", "text/plain");
    } else if (w.html) {
        char *text = html_to_text(w.html, strlen(w.html));
        if (text == NULL)
            w.oom = 1;
        mime_add_str(&w, data, "text", text);
        mime_add_str(&w, data, "text_type", "text/html");
        free(text);
    } else {
        mime_add_str(&w, data, "text", "");
    }
    cJSON_AddItemToObject(data, "attachments", w.atts);
    w.atts = NULL;
    if (w.pdf_truncated && !w.cancelled)
        cJSON_AddTrueToObject(data, "pdf_truncated");
    free(w.plain);
    free(w.html);
    g_object_unref(msg);
    g_mime_parser_options_free(opts);
    if (w.cancelled && !w.oom) {
        free(w.reason);
        mime_message_clear(out);
        return BP_STOPPED;
    }
    if (w.reason) {
        mime_message_clear(out);
        *reason = w.reason;
        return BP_REJECT;
    }
    if (w.oom) {
        mime_message_clear(out);
        return BP_ERR_NOMEM;
    }
    return BP_OK;
nomem:
    g_object_unref(msg);
    g_mime_parser_options_free(opts);
    mime_message_clear(out);
    return BP_ERR_NOMEM;
}

void mime_message_clear(mime_message *m)
{
    cJSON_Delete(m->data);
    free(m->message_id);
    free(m->time);
    for (size_t i = 0; i < m->n_att; i++) {
        free(m->att[i].name);
        free(m->att[i].media_type);
        free(m->att[i].bytes);
    }
    free(m->att);
    memset(m, 0, sizeof(*m));
}

bp_envelope *mime_to_envelope(const struct bp_host_api *api, mime_message *m, const char *type,
                              const char *fallback_id, cJSON *origin, char **err)
{
    bp_envelope *env = api->envelope_new();
    if (env == NULL) {
        cJSON_Delete(origin);
        *err = api->format("out of memory");
        return NULL;
    }
    if (origin)
        cJSON_AddItemToObject(m->data, "origin", origin);
    const char *id = m->message_id ? m->message_id : fallback_id;
    const char *subject = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(m->data, "subject"));
    bp_status st = api->envelope_set_attr(env, "type", type);
    if (st == BP_OK)
        st = api->envelope_set_attr(env, "id", id);
    if (st == BP_OK && subject && *subject)
        st = api->envelope_set_attr(env, "subject", subject);
    if (st == BP_OK && m->time)
        st = api->envelope_set_attr(env, "time", m->time);
    if (st == BP_OK)
        st = api->envelope_set_attr(env, "datacontenttype", "application/json");
    for (size_t i = 0; st == BP_OK && i < m->n_att; i++)
        st = api->envelope_add_attachment(env, m->att[i].name, m->att[i].media_type,
                                          m->att[i].bytes, m->att[i].size);
    if (st == BP_OK) {
        st = api->envelope_set0_data(env, m->data);
        m->data = NULL;
    }
    if (st != BP_OK) {
        if (st == BP_ERR_NOMEM)
            *err = api->format("out of memory");
        else
            *err = api->format("the envelope refused a value (id '%.200s', time '%s')", id,
                               m->time ? m->time : "");
        api->envelope_unref(env);
        return NULL;
    }
    return env;
}
