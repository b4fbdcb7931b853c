/* The SMTP sink (libcurl + GMime): one mail per record, built as a proper
 * MIME message from templates in the site file (recipients, subject, body
 * with envelope fields), optionally with the record's attachments and/or
 * the CloudEvent itself attached. STARTTLS and AUTH through libcurl; one
 * connection reused across records.
 *
 * Per-record results from the server's reply: 5xx (recipient unknown,
 * message refused) -> reject (dead letter with the reply), 4xx -> retry,
 * connection or login failure -> not connected (the core retries). The
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
    int multiple_recipients;   /* a list allowed in one address field */
} smtp_sink;

static const struct bp_option smtp_options[] = {
    {.name = "url", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "smtp://host[:port] or smtps://host[:port]"},
    {.name = "user", .type = BP_OPT_STRING, .description = "AUTH login name (no AUTH when absent)"},
    {.name = "password", .type = BP_OPT_SECRET, .description = "AUTH password"},
    CURL_TLS_OPTIONS,
    {.name = "from", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "template: sender, e.g. \"AP Desk <ap@acme.example>\" (also the envelope sender)"},
    {.name = "to", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "template: the recipient, e.g. \"{data.from.address}\" (a list only with multiple_recipients)"},
    {.name = "multiple_recipients", .type = BP_OPT_BOOL, .default_value = "false",
     .description = "allow a comma-separated list in to/cc (off: one mailbox per field, a record giving more is rejected)"},
    {.name = "cc", .type = BP_OPT_STRING, .description = "template: copy recipients"},
    {.name = "subject", .type = BP_OPT_STRING, .default_value = "{subject}",
     .description = "template: the subject ({path} is an envelope field, {{ a brace)"},
    {.name = "body", .type = BP_OPT_STRING, .default_value = "Record {id} ({type}) from {source}.",
     .description = "template: the text/plain body"},
    {.name = "in_reply_to", .type = BP_OPT_STRING,
     .description = "template: Message-ID this mail answers (In-Reply-To, References), e.g. \"{data.message_id}\""},
    {.name = "attach", .type = BP_OPT_ENUM, .default_value = "none", .choices = smtp_attach_modes,
     .description = "attachments: the record's attachments; event: the CloudEvent as event.json; both"},
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
            free(json);
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
    if (self->h == NULL && (self->h = curl_transfer_new(&self->cs)) == NULL)
        return BP_RETRY;
    size_t n = api->wb_count(wb);
    for (size_t i = 0; i < n; i++) {
        bp_envelope *env = api->wb_get0(wb, i);
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
        /* The server's reply decides when there is one: 5xx is about this
         * message (reject), 4xx is temporary. Without one (no connection,
         * login refused, TLS failed) the sink is unusable, not the record. */
        bp_status st = rc == CURLE_LOGIN_DENIED ? BP_NOT_CONNECTED
                       : code >= 500            ? BP_REJECT
                       : code >= 400            ? BP_RETRY
                                                : curl_transfer_status(rc);
        if (st == BP_REJECT && code < 500)
            st = BP_NOT_CONNECTED;
        char *why = api->format("SMTP %ld: %s", code, err);
        if (st != BP_REJECT)
            api->log(self->inst, BP_LOG_WARN, "%s", why ? why : err);
        api->wb_set_result(wb, i, st, why ? why : err);
        api->free(why);
        if (st == BP_NOT_CONNECTED) {
            /* The rest of the batch would fail the same way. */
            for (size_t j = i + 1; j < n; j++)
                api->wb_set_result(wb, j, BP_NOT_CONNECTED, "not sent: the server is unreachable");
            return BP_NOT_CONNECTED;
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
                           void **out, char **errmsg)
{
    smtp_sink *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    self->url = curl_cfg_dup(config, "url");
    if (self->url == NULL || (strncmp(self->url, "smtp://", 7) != 0 && strncmp(self->url, "smtps://", 8) != 0)) {
        *errmsg = api->format("url: '%s' is not an smtp:// or smtps:// URL", bp_cfg_str(config, "url"));
        smtp_destroy(self);
        return BP_ERR_INVALID;
    }
    if (curl_settings_from_config(&self->cs, config) < 0) {
        smtp_destroy(self);
        return BP_ERR_NOMEM;
    }
    const char *attach = bp_cfg_str(config, "attach");
    self->attach_files = strcmp(attach, "attachments") == 0 || strcmp(attach, "both") == 0;
    self->attach_event = strcmp(attach, "event") == 0 || strcmp(attach, "both") == 0;
    self->multiple_recipients = bp_cfg_bool(config, "multiple_recipients", 0);
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
    mime_library_init();
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
    .init = smtp_init,
    .write = smtp_write,
    .destroy = smtp_destroy,
    .flags = BP_PLUGIN_LEDGER,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &smtp_plugin;
}
