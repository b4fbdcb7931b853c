/* MIME -> envelope: the one place where a mail message (RFC 5322 + MIME)
 * becomes envelope data and attachments. Shared by the maildir and IMAP
 * sources and by the MIME fuzz target. Internal header of connectors/mail. */
#ifndef BP_MIME_ENVELOPE_H
#define BP_MIME_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>
#include <backplane/plugin.h>

/* Limits; a message over any of them is rejected with a reason, not read. */
#define MIME_MAX_DEPTH 64        /* multiparts nested deeper are rejected */
typedef struct mime_limits {
    size_t max_message;      /* whole message, bytes as stored */
    size_t max_attachment;   /* one attachment, decoded bytes */
    int max_pdf_pages;       /* pages of a PDF whose text is extracted (0: none) */
    /* ---- issue 17 (robust): PDF budget ---- */
    int pdf_isolated;        /* 1: PDF text in the budgeted worker process (the sources);
                                0: in this process, no budget (the fuzz target only) */
    int64_t pdf_timeout_ms;  /* one PDF: wall clock, and CPU (rounded up to seconds) */
    int64_t pdf_message_ms;  /* all the PDFs of one message, wall clock */
    int max_pdfs;            /* PDFs per message whose text is read */
    int (*cancelled)(void *ud);  /* nonzero: stop now (shutdown); may be NULL */
    void *cancel_ud;
    int max_parts;           /* MIME parts per message, counted before parsing (0: no limit) */
    /* ---- issue 15 (workbench) ---- */
    int pdf_layout;          /* 1: each PDF attachment also gets `layout`: per page read
                                {"w", "h", "words": [{"t", "b"}]} (points from the top
                                left), what extract locates its fields by */
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
 * mime_message_clear); a PDF whose text was cut short by the budget has
 * `text_truncated` (why) and data.pdf_truncated is true. BP_REJECT: the
 * message is malformed or over a limit; *reason (malloc'ed) says which.
 * BP_STOPPED: lim->cancelled() said stop while a PDF was read (the message
 * is not read; read it again after the restart). BP_ERR_NOMEM. *out is
 * zeroed on failure. */
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
 * (int64_t), max_pdf_pages (long long), type (const char *), and those of
 * MIME_BUDGET_OPTIONS. */
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
     .description = "the CloudEvents type of each message", BP_OPT_FIELD(T, type)}, \
    MIME_BUDGET_OPTIONS(T)

/* The budget options every mail source offers (issue 17: PDF text runs in a
 * budgeted worker; parts are bounded), bound into T: pdf_timeout and
 * pdf_message_timeout (int64_t ms), max_pdf_attachments and max_parts
 * (long long), pdf_layout (int, issue 15). MIME_LIMIT_OPTIONS(T) includes them. */
#define MIME_BUDGET_OPTIONS(T) \
    {.name = "pdf_timeout", .type = BP_OPT_DURATION, .default_value = "10s", .min = "100ms", \
     .max = "1h", .description = "one PDF's text may take this long (wall clock and CPU); then the record gets the pages read so far and data.pdf_truncated", \
     BP_OPT_FIELD(T, pdf_timeout)}, \
    {.name = "pdf_message_timeout", .type = BP_OPT_DURATION, .default_value = "30s", .min = "100ms", \
     .max = "1h", .description = "all PDFs of one message together may take this long; later PDFs are not read (data.pdf_truncated)", \
     BP_OPT_FIELD(T, pdf_message_timeout)}, \
    {.name = "max_pdf_attachments", .type = BP_OPT_INT, .default_value = "10", .min = "0", \
     .max = "10000", .description = "text is read from at most this many PDFs of a message; the rest travel unread (data.pdf_truncated)", \
     BP_OPT_FIELD(T, max_pdf_attachments)}, \
    {.name = "max_parts", .type = BP_OPT_INT, .default_value = "1000", .min = "1", \
     .max = "1000000", .description = "a message with more MIME parts (or parts nested more than 64 deep) is dead-lettered unparsed", \
     BP_OPT_FIELD(T, max_parts)}, \
    {.name = "pdf_layout", .type = BP_OPT_BOOL, .default_value = "false", \
     .description = "also keep each PDF page's words with their boxes (attachments[i].layout), so extract can say where on the page a field was read and the workbench can draw it", \
     BP_OPT_FIELD(T, pdf_layout)}

/* The MIME_LIMIT_OPTIONS values of bound options o (any struct with them). */
#define MIME_LIMITS_FROM_OPTS(o) \
    ((mime_limits){.max_message = (size_t)(o)->max_message_size, \
                   .max_attachment = (size_t)(o)->max_attachment_size, \
                   .max_pdf_pages = (int)(o)->max_pdf_pages, \
                   .pdf_isolated = 1, \
                   .pdf_timeout_ms = (o)->pdf_timeout, \
                   .pdf_message_ms = (o)->pdf_message_timeout, \
                   .max_pdfs = (int)(o)->max_pdf_attachments, \
                   .max_parts = (int)(o)->max_parts, \
                   .pdf_layout = (o)->pdf_layout})

#endif
