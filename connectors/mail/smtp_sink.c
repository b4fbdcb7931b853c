/* The SMTP sink (libcurl + GMime): one mail per record, built as a proper
 * MIME message from templates in the site file (recipients, subject, body
 * with envelope fields), optionally with the record's attachments and/or
 * the CloudEvent itself attached. STARTTLS and AUTH through libcurl; one
 * connection reused across records.
 *
 * Per-record results from the server's reply (connectors/common/fault.c's
 * SMTP table): 5xx (recipient unknown, message refused) -> reject (dead
 * letter with the reply), 4xx -> retry, a refused or missing login
 * (530, 535, 5.7.8), no TLS, no connection -> not connected. The
 * core's ledger keeps a record sent before a crash from being sent again;
 * the Message-ID is derived from the record's source and id, so a receiver
 * can also tell a resend. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gmime/gmime.h>

#include "curl_transfer.h"
#include "mail_template.h"
#include "mime_envelope.h"

static const char *const smtp_attach_modes[] = {"none", "attachments", "event", "both", NULL};

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *url;
    curl_settings cs;
    CURL *h;
    curl_buf buf;
    mail_template *from, *to, *cc, *subject, *body, *in_reply_to;
    int attach_files, attach_event;
    int reply_to_auto;          /* send to auto-submitted / list mail too (RFC 3834) */
    int multiple_recipients;   /* a list allowed in one address field */
} smtp_sink;

/* The options, bound (BP_OPT_FIELD): each default is written once, here. */
struct smtp_opts {
    const char *url, *user, *password;
    struct conn_tls tls;
    int64_t timeout;
    int attach;
    int reply_to_auto;
    int multiple_recipients;
};

static const struct bp_option smtp_tls_fields[] = {CONN_TLS_FIELDS(struct smtp_opts)};

static const struct bp_option smtp_options[] = {
    {.name = "url", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "smtp://host[:port] or smtps://host[:port]", BP_OPT_FIELD(struct smtp_opts, url)},
    {.name = "user", .type = BP_OPT_STRING, .description = "AUTH login name (no AUTH when absent)",
     BP_OPT_FIELD(struct smtp_opts, user)},
    {.name = "password", .type = BP_OPT_SECRET, .description = "AUTH password",
     BP_OPT_FIELD(struct smtp_opts, password)},
    CURL_CONN_OPTIONS(struct smtp_opts, smtp_tls_fields),
    {.name = "from", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED | BP_OPT_TEMPLATE,
     .description = "template: sender, e.g. \"AP Desk <ap@acme.example>\" (also the envelope sender)"},
    {.name = "to", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED | BP_OPT_TEMPLATE,
     .description = "template: the recipient, e.g. \"{data.from.address}\" (a list only with multiple_recipients)"},
    {.name = "multiple_recipients", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "allow a comma-separated list in to/cc (off: one mailbox per field, a record giving more is rejected)",
     BP_OPT_FIELD(struct smtp_opts, multiple_recipients)},
    {.name = "cc", .type = BP_OPT_STRING, .flags = BP_OPT_TEMPLATE, .description = "template: copy recipients"},
    {.name = "subject", .type = BP_OPT_STRING, .flags = BP_OPT_TEMPLATE, .default_value = "{subject}",
     .description = "template: the subject ({path} is an envelope field, {{ a brace)"},
    {.name = "body", .type = BP_OPT_STRING, .flags = BP_OPT_TEMPLATE, .default_value = "Record {id} ({type}) from {source}.",
     .description = "template: the text/plain body"},
    {.name = "in_reply_to", .type = BP_OPT_STRING, .flags = BP_OPT_TEMPLATE,
     .description = "template: Message-ID this mail answers (In-Reply-To, References), e.g. \"{data.message_id}\""},
    {.name = "attach", .type = BP_OPT_ENUM, .default_value = "none", .choices = smtp_attach_modes,
     .description = "attachments: the record's attachments; event: the CloudEvent as event.json; both",
     BP_OPT_FIELD(struct smtp_opts, attach)},
    {.name = "reply_to_auto", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "also send for records of automatic mail (Auto-Submitted other than no, Precedence bulk/list/junk, List-Id, X-Auto-Response-Suppress: All/OOF/AutoReply); by default they are skipped (RFC 3834), counted as auto_replies_skipped",
     BP_OPT_FIELD(struct smtp_opts, reply_to_auto)},
    {0},
};

/* A Message-ID stable for one record (FNV-1a of source and id). */
static char *smtp_message_id(const bp_envelope *env, const struct bp_host_api *api,
                             const char *from_addr)
{
    uint64_t h = 1469598103934665603ULL;
    const char *parts[2] = {api->envelope_get0_attr(env, "source"), api->envelope_get0_attr(env, "id")};
    for (int i = 0; i < 2; i++) {
        for (const char *p = parts[i] ? parts[i] : ""; *p; p++)
            h = (h ^ (unsigned char)*p) * 1099511628211ULL;
        h = (h ^ 0xff) * 1099511628211ULL;
    }
    const char *at = from_addr ? strrchr(from_addr, '@') : NULL;
    char *id = malloc(128);
    if (id)
        snprintf(id, 128, "bp.%016llx@%.100s", (unsigned long long)h,
                 at && at[1] ? at + 1 : "backplane.invalid");
    return id;
}

static void smtp_attach(GMimeMultipart *mixed, const char *name, const char *type,
                        const void *bytes, size_t size)
{
    GMimeContentType *ct = g_mime_content_type_parse(NULL, type && *type ? type : "application/octet-stream");
    GMimePart *part = g_mime_part_new_with_type(g_mime_content_type_get_media_type(ct),
                                                g_mime_content_type_get_media_subtype(ct));
    g_object_unref(ct);
    if (name && *name)
        g_mime_part_set_filename(part, name);
    g_mime_object_set_disposition(GMIME_OBJECT(part), "attachment");
    GMimeStream *st = g_mime_stream_mem_new_with_buffer(bytes, size);
    GMimeDataWrapper *dw = g_mime_data_wrapper_new_with_stream(st, GMIME_CONTENT_ENCODING_DEFAULT);
    g_mime_part_set_content(part, dw);
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_BASE64);
    g_mime_multipart_add(mixed, GMIME_OBJECT(part));
    g_object_unref(dw);
    g_object_unref(st);
    g_object_unref(part);
}

/* A C0 control character or DEL: never allowed in what becomes an SMTP
 * command (MAIL FROM, RCPT TO) or a header line, so a record cannot add a
 * command or a recipient (CR LF), or cut one short (NUL). */
static int smtp_has_control(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f)
            return 1;
    return 0;
}

/* Adds the addresses of text (the rendered option `field`) to the list and
 * to the curl recipients. Returns how many, or -1 with *reason (host
 * allocated) when text holds a control character, something that is not an
 * address, or more than one address where allow_list is 0. */
static int smtp_addresses(const struct bp_host_api *api, const char *field, const char *text,
                          int allow_list, InternetAddressList *into, struct curl_slist **rcpt,
                          char **reason)
{
    if (smtp_has_control(text)) {
        *reason = api->format("%s: an address holds a control character (CR, LF or NUL are never "
                              "sent in an SMTP command)", field);
        return -1;
    }
    InternetAddressList *list = internet_address_list_parse(NULL, text);
    int n = list ? internet_address_list_length(list) : 0, count = 0;
    if (n > 1 && !allow_list) {
        *reason = api->format("%s: '%s' holds %d addresses where one is allowed%s", field, text, n,
                              rcpt ? " (set multiple_recipients: true to allow a list)" : "");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        if (!INTERNET_ADDRESS_IS_MAILBOX(ia)) {
            *reason = api->format("%s: '%s' is a group, not a mail address", field, text);
            goto fail;
        }
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        if (addr == NULL || strchr(addr, '@') == NULL) {
            *reason = api->format("'%s' is not a mail address", addr ? addr : "");
            goto fail;
        }
        /* The decoded address and name again: an encoded word can decode
         * to CR LF where the text had none. RFC 5321 4.5.3.1.3: a path is
         * at most 256 octets with its angle brackets. */
        const char *name = internet_address_get_name(ia);
        if (smtp_has_control(addr) || (name && smtp_has_control(name))) {
            *reason = api->format("%s: an address holds a control character (CR, LF or NUL are "
                                  "never sent in an SMTP command)", field);
            goto fail;
        }
        if (strlen(addr) > 254) {
            *reason = api->format("%s: an address is longer than 254 characters", field);
            goto fail;
        }
        if (rcpt) {
            char angle[260];
            snprintf(angle, sizeof(angle), "<%s>", addr);
            *rcpt = curl_slist_append(*rcpt, angle);
        }
        internet_address_list_add(into, ia);
        count++;
    }
    if (list)
        g_object_unref(list);
    return count;
fail:
    g_object_unref(list);
    return -1;
}

/* RFC 3834 §2: no automatic answer to automatic mail. The mail sources put
 * the headers that say so in data (mime_envelope.c); records from other
 * sources have none of them. Returns why the record is automatic mail
 * ("Auto-Submitted: auto-replied"), or NULL. */
static const char *smtp_auto_reason(const struct bp_host_api *api, const bp_envelope *env,
                                    char *buf, size_t cap)
{
    const char *v = cJSON_GetStringValue(api->envelope_get0_path(env, "data.auto_submitted"));
    /* The keyword before any parameters: "auto-replied; owner=..." */
    size_t kw = v ? strcspn(v, "; \t(") : 0;
    if (v && !(kw == 2 && g_ascii_strncasecmp(v, "no", 2) == 0)) {
        snprintf(buf, cap, "Auto-Submitted: %.100s", v);
        return buf;
    }
    v = cJSON_GetStringValue(api->envelope_get0_path(env, "data.precedence"));
    if (v && (g_ascii_strcasecmp(v, "bulk") == 0 || g_ascii_strcasecmp(v, "list") == 0 ||
              g_ascii_strcasecmp(v, "junk") == 0)) {
        snprintf(buf, cap, "Precedence: %.100s", v);
        return buf;
    }
    v = cJSON_GetStringValue(api->envelope_get0_path(env, "data.list_id"));
    if (v) {
        snprintf(buf, cap, "List-Id: %.100s", v);
        return buf;
    }
    v = cJSON_GetStringValue(api->envelope_get0_path(env, "data.x_auto_response_suppress"));
    if (v) {
        char **tok = g_strsplit_set(v, ", ", -1);
        int hit = 0;
        for (char **t = tok; t && *t && !hit; t++)
            hit = g_ascii_strcasecmp(*t, "All") == 0 || g_ascii_strcasecmp(*t, "OOF") == 0 ||
                  g_ascii_strcasecmp(*t, "AutoReply") == 0;
        g_strfreev(tok);
        if (hit) {
            snprintf(buf, cap, "X-Auto-Response-Suppress: %.100s", v);
            return buf;
        }
    }
    return NULL;
}

/* The MIME message for one record, CRLF line ends. NULL with *reason. */
static GByteArray *smtp_build(smtp_sink *self, const bp_envelope *env, struct curl_slist **rcpt,
                              char **sender, char **reason)
{
    const struct bp_host_api *api = self->api;
    GByteArray *out = NULL;
    char *from = mail_template_render(self->from, api, env);
    char *to = mail_template_render(self->to, api, env);
    char *cc = self->cc ? mail_template_render(self->cc, api, env) : NULL;
    char *subject = mail_template_render(self->subject, api, env);
    char *body = mail_template_render(self->body, api, env);
    char *irt = self->in_reply_to ? mail_template_render(self->in_reply_to, api, env) : NULL;
    GMimeMessage *msg = g_mime_message_new(TRUE);
    if (!from || !to || !subject || !body || (self->cc && !cc) || (self->in_reply_to && !irt)) {
        *reason = strdup("out of memory");
        goto done;
    }
    InternetAddressList *fl = g_mime_message_get_from(msg);
    int n_from = smtp_addresses(api, "from", from, 0, fl, NULL, reason);
    if (n_from < 0)
        goto done;
    if (n_from != 1) {
        *reason = api->format("from: '%s' is not one address", from);
        goto done;
    }
    const char *from_addr = internet_address_mailbox_get_addr(
        INTERNET_ADDRESS_MAILBOX(internet_address_list_get_address(fl, 0)));
    *sender = api->format("<%s>", from_addr);
    int n_to = smtp_addresses(api, "to", to, self->multiple_recipients, g_mime_message_get_to(msg),
                              rcpt, reason);
    if (n_to < 0)
        goto done;
    int n_cc = cc ? smtp_addresses(api, "cc", cc, self->multiple_recipients,
                                   g_mime_message_get_cc(msg), rcpt, reason)
                  : 0;
    if (n_cc < 0)
        goto done;
    if (irt && smtp_has_control(irt)) {
        *reason = api->format("in_reply_to: the Message-ID holds a control character");
        goto done;
    }
    if (n_to + n_cc == 0) {
        *reason = api->format("no recipient: 'to' gave '%s'", to);
        goto done;
    }
    g_mime_message_set_subject(msg, subject, "utf-8");
    GDateTime *now = g_date_time_new_now_local();
    g_mime_message_set_date(msg, now);
    g_date_time_unref(now);
    char *mid = smtp_message_id(env, api, from_addr);
    if (mid)
        g_mime_message_set_message_id(msg, mid);
    free(mid);
    if (irt && *irt) {
        char angle[1024];
        snprintf(angle, sizeof(angle), "<%.1000s>", irt);
        g_mime_object_set_header(GMIME_OBJECT(msg), "In-Reply-To", angle, NULL);
        g_mime_object_set_header(GMIME_OBJECT(msg), "References", angle, NULL);
    }
    /* This mail is sent by a program (RFC 3834 §5): a reply when it answers
     * a message, generated otherwise; and Exchange is asked not to answer
     * it with an out-of-office reply. Other robots then leave it alone. */
    g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted",
                             irt && *irt ? "auto-replied" : "auto-generated", NULL);
    g_mime_object_set_header(GMIME_OBJECT(msg), "X-Auto-Response-Suppress", "All", NULL);
    GMimeTextPart *text = g_mime_text_part_new_with_subtype("plain");
    g_mime_text_part_set_text(text, body);   /* picks the charset: us-ascii or utf-8 */
    /* 7-bit transport safe: quoted-printable where needed. */
    g_mime_object_encode(GMIME_OBJECT(text), GMIME_ENCODING_CONSTRAINT_7BIT);
    size_t n_att = self->attach_files ? api->envelope_attachment_count(env) : 0;
    if (n_att == 0 && !self->attach_event) {
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(text));
    } else {
        GMimeMultipart *mixed = g_mime_multipart_new_with_subtype("mixed");
        g_mime_multipart_add(mixed, GMIME_OBJECT(text));
        for (size_t i = 0; i < n_att; i++) {
            const bp_attachment *a = api->envelope_get0_attachment(env, i);
            smtp_attach(mixed, a->name, a->media_type, a->bytes, a->size);
        }
        if (self->attach_event) {
            char *json = api->envelope_to_json(env, BP_SER_DEFAULT);
            if (json)
                smtp_attach(mixed, "event.json", "application/cloudevents+json", json, strlen(json));
            api->free(json);
        }
        g_mime_message_set_mime_part(msg, GMIME_OBJECT(mixed));
        g_object_unref(mixed);
    }
    g_object_unref(text);
    GMimeFormatOptions *fo = g_mime_format_options_new();
    g_mime_format_options_set_newline_format(fo, GMIME_NEWLINE_FORMAT_DOS);
    GMimeStream *mem = g_mime_stream_mem_new();
    g_mime_object_write_to_stream(GMIME_OBJECT(msg), fo, mem);
    g_mime_format_options_free(fo);
    out = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
    g_object_unref(mem);
done:
    g_object_unref(msg);
    free(from);
    free(to);
    free(cc);
    free(subject);
    free(body);
    free(irt);
    return out;
}

static bp_status smtp_write(void *p, bp_write_batch *wb)
{
    smtp_sink *self = p;
    const struct bp_host_api *api = self->api;
    mime_library_init();   /* once per process, on this thread (see smtp_init) */
    if (self->h == NULL && (self->h = curl_transfer_new(&self->cs, "smtp,smtps")) == NULL)
        return BP_RETRY;
    size_t n = api->wb_count(wb);
    for (size_t i = 0; i < n; i++) {
        bp_envelope *env = api->wb_get0(wb, i);
        char auto_buf[160];
        const char *autom = self->reply_to_auto ? NULL : smtp_auto_reason(api, env, auto_buf, sizeof(auto_buf));
        if (autom) {
            /* Done, not failed: answering would start a mail loop. */
            api->log(self->inst, BP_LOG_INFO, "not sent for %s: automatic mail (%s; reply_to_auto is off)",
                     api->envelope_get0_attr(env, "id"), autom);
            api->counter_add(self->inst, "auto_replies_skipped", 1);
            api->wb_set_result(wb, i, BP_OK, NULL);
            continue;
        }
        struct curl_slist *rcpt = NULL;
        char *sender = NULL, *reason = NULL;
        GByteArray *msg = smtp_build(self, env, &rcpt, &sender, &reason);
        if (msg == NULL) {
            api->wb_set_result(wb, i, BP_REJECT, reason ? reason : "cannot build the message");
            free(reason);
            api->free(sender);
            curl_slist_free_all(rcpt);
            continue;
        }
        curl_easy_setopt(self->h, CURLOPT_MAIL_FROM, sender);
        curl_easy_setopt(self->h, CURLOPT_MAIL_RCPT, rcpt);
        char err[CURL_ERROR_SIZE];
        self->buf.limit = 1 << 20;
        CURLcode rc = curl_transfer_upload(self->h, self->url, (const char *)msg->data, msg->len,
                                           &self->buf, err);
        long code = 0;
        curl_easy_getinfo(self->h, CURLINFO_RESPONSE_CODE, &code);
        curl_easy_setopt(self->h, CURLOPT_MAIL_RCPT, NULL);
        curl_slist_free_all(rcpt);
        g_byte_array_free(msg, TRUE);
        api->free(sender);
        if (rc == CURLE_OK) {
            api->wb_set_result(wb, i, BP_OK, NULL);
            api->counter_add(self->inst, "mails_sent", 1);
            continue;
        }
        /* The server's reply decides when there is one (fault_smtp: 5xx is
         * about this message, 4xx is temporary, 530/535/5.7.8... are about
         * the session: not connected). Without one, libcurl's code does. */
        fault f = fault_smtp(code, self->buf.reply);
        int by_reply = code > 0 && f.st != BP_OK;   /* a refusal, not a positive reply */
        if (!by_reply)
            f = curl_transfer_fault(rc);
        char text[CURL_ERROR_SIZE + 300], why[CURL_ERROR_SIZE + 400];
        if (by_reply && self->buf.reply[0])
            snprintf(text, sizeof(text), "SMTP %s", self->buf.reply);
        else if (by_reply)
            snprintf(text, sizeof(text), "SMTP %ld: %s", code, err);
        else
            snprintf(text, sizeof(text), "%s", err);
        fault_reason(f, text, why, sizeof(why));
        if (f.st != BP_REJECT)
            api->log(self->inst, BP_LOG_WARN, "%s: %s",
                     f.st == BP_NOT_CONNECTED ? "not connected" : "will be retried", why);
        api->wb_set_result(wb, i, f.st, why);
        if (f.st == BP_NOT_CONNECTED || (f.st == BP_RETRY && code <= 0)) {
            /* The session failed, not the message: the rest of the batch
             * would fail the same way. */
            char rest[sizeof(why) + 16];
            snprintf(rest, sizeof(rest), "not sent: %s", why);
            for (size_t j = i + 1; j < n; j++)
                api->wb_set_result(wb, j, f.st, rest);
            return f.st;
        }
    }
    return BP_OK;
}

static void smtp_destroy(void *p)
{
    smtp_sink *self = p;
    if (self == NULL)
        return;
    if (self->h)
        curl_easy_cleanup(self->h);
    curl_buf_free(&self->buf);
    mail_template_free(self->from);
    mail_template_free(self->to);
    mail_template_free(self->cc);
    mail_template_free(self->subject);
    mail_template_free(self->body);
    mail_template_free(self->in_reply_to);
    free(self->url);
    curl_settings_clear(&self->cs);
    free(self);
}

static bp_status smtp_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                           const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct smtp_opts *o = info->options;
    smtp_sink *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->url = curl_str_dup(o->url);
    if (self->url == NULL || (strncmp(self->url, "smtp://", 7) != 0 && strncmp(self->url, "smtps://", 8) != 0)) {
        *errmsg = api->format("url: '%s' is not an smtp:// or smtps:// URL", o->url);
        smtp_destroy(self);
        return BP_ERR_INVALID;
    }
    const char *why = NULL;
    int rc = curl_settings_from_opts(&self->cs, o->url, o->user, o->password, &o->tls, o->timeout,
                                     &why);
    if (rc < 0) {
        if (why)
            *errmsg = api->format("%s", why);
        smtp_destroy(self);
        return rc == -2 ? BP_ERR_INVALID : BP_ERR_NOMEM;
    }
    const char *attach = smtp_attach_modes[o->attach];
    self->attach_files = strcmp(attach, "attachments") == 0 || strcmp(attach, "both") == 0;
    self->attach_event = strcmp(attach, "event") == 0 || strcmp(attach, "both") == 0;
    self->reply_to_auto = o->reply_to_auto;
    self->multiple_recipients = o->multiple_recipients;
    struct {
        const char *name;
        mail_template **slot;
    } tpl[] = {{"from", &self->from}, {"to", &self->to}, {"cc", &self->cc},
               {"subject", &self->subject}, {"body", &self->body},
               {"in_reply_to", &self->in_reply_to}};
    for (size_t i = 0; i < sizeof(tpl) / sizeof(tpl[0]); i++) {
        const char *text = bp_cfg_str(config, tpl[i].name);
        if (text == NULL)
            continue;
        if ((*tpl[i].slot = mail_template_new(api, tpl[i].name, text, errmsg)) == NULL) {
            smtp_destroy(self);
            return BP_ERR_INVALID;
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

static const struct bp_plugin smtp_plugin = {
    BP_PLUGIN_HEADER,
    .name = "smtp",
    .version = "0.1.0",
    .description = "SMTP sink (libcurl, GMime): one MIME mail per record from templates, STARTTLS + AUTH, attachments",
    .kinds = BP_KIND_SINK,
    .options = smtp_options,
    .options_size = sizeof(struct smtp_opts),
    .init_ex = smtp_init,
    .write = smtp_write,
    .destroy = smtp_destroy,
    .flags = BP_PLUGIN_LEDGER,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &smtp_plugin;
}
