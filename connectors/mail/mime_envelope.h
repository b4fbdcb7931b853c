/* MIME -> envelope: the one place where a mail message (RFC 5322 + MIME)
 * becomes envelope data and attachments. Shared by the maildir and IMAP
 * sources and by the MIME fuzz target. Internal header of connectors/mail. */
#ifndef BP_MIME_ENVELOPE_H
#define BP_MIME_ENVELOPE_H

#include <stddef.h>
#include <backplane/plugin.h>

/* Limits; a message over any of them is rejected with a reason, not read. */
typedef struct mime_limits {
    size_t max_message;      /* whole message, bytes as stored */
    size_t max_attachment;   /* one attachment, decoded bytes */
    int max_pdf_pages;       /* pages of a PDF whose text is extracted (0: none) */
} mime_limits;

typedef struct mime_attachment {
    char *name;              /* "" when the part has no file name */
    char *media_type;        /* "application/pdf" */
    unsigned char *bytes;    /* decoded content */
    size_t size;
} mime_attachment;

/* A parsed message: everything the envelope needs. All fields owned. */
typedef struct mime_message {
    cJSON *data;             /* from, to, cc, subject, date, message_id, in_reply_to,
                                references, text, text_type, attachments[] (with pdf pages) */
    char *message_id;        /* without <>, or NULL */
    char *time;              /* RFC 3339 from Date:, or NULL */
    mime_attachment *att;
    size_t n_att;
} mime_message;

/* The data fields a mail source's records carry (bp_plugin.emits, ABI 1.3),
 * as mime_parse and mime_envelope write them. */
extern const char *const mime_emits[];

/* Calls g_mime_init once per process (GMime keeps its own global tables). */
void mime_library_init(void);

/* Parses len bytes of a message. BP_OK: *out is filled (clear it with
 * mime_message_clear). BP_REJECT: the message is malformed or over a limit;
 * *reason (malloc'ed) says which. BP_ERR_NOMEM. *out is zeroed on failure. */
bp_status mime_parse(const void *bytes, size_t len, const mime_limits *lim, mime_message *out,
                     char **reason);

void mime_message_clear(mime_message *m);

/* Builds an envelope from a parsed message, taking m->data (m keeps the rest):
 * type as given, id = Message-ID (fallback_id when the message has none),
 * time = Date:, datacontenttype application/json, the attachments copied.
 * origin (taken, may be NULL) is stored as data.origin (where the mail was:
 * mailbox and UID, or maildir file). NULL when out of memory or the envelope
 * refuses a value; *err (host-allocated) says why. */
bp_envelope *mime_to_envelope(const struct bp_host_api *api, mime_message *m, const char *type,
                              const char *fallback_id, cJSON *origin, char **err);

/* The limit options every mail source offers (put inside its option array),
 * bound into options struct T: max_message_size, max_attachment_size
 * (int64_t), max_pdf_pages (long long), type (const char *). */
#define MIME_LIMIT_OPTIONS(T) \
    {.name = "max_message_size", .type = BP_OPT_SIZE, .default_value = "25MiB", .min = "1KiB", \
     .max = "1GiB", .description = "a larger message is dead-lettered unparsed (keeping its first 64 KiB, or its header over IMAP)", \
     BP_OPT_FIELD(T, max_message_size)}, \
    {.name = "max_attachment_size", .type = BP_OPT_SIZE, .default_value = "10MiB", .min = "1", \
     .max = "1GiB", .description = "a message with a larger attachment (decoded) is dead-lettered", \
     BP_OPT_FIELD(T, max_attachment_size)}, \
    {.name = "max_pdf_pages", .type = BP_OPT_INT, .default_value = "200", .min = "0", \
     .max = "100000", .description = "text is extracted from at most this many pages of a PDF attachment (0: none)", \
     BP_OPT_FIELD(T, max_pdf_pages)}, \
    {.name = "type", .type = BP_OPT_STRING, .default_value = "com.backplane.mail", \
     .description = "the CloudEvents type of each message", BP_OPT_FIELD(T, type)}

/* The MIME_LIMIT_OPTIONS values of bound options o (any struct with them). */
#define MIME_LIMITS_FROM_OPTS(o) \
    ((mime_limits){.max_message = (size_t)(o)->max_message_size, \
                   .max_attachment = (size_t)(o)->max_attachment_size, \
                   .max_pdf_pages = (int)(o)->max_pdf_pages})

#endif
