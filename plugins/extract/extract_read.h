/* extract_read: a file becomes an ex_doc (issue 19). PDFs give their words
 * with boxes from the budgeted PDF worker (connectors/common/pdf_text.h),
 * pages without a text layer and images (PNG, JPEG, TIFF) go through
 * Tesseract in that same worker, mail (.eml) is read as the mail connectors
 * read it (connectors/mail/mime_envelope.h: its PDF attachments, else its
 * images, else its body), anything else is plain text. Words are grouped
 * into lines as OCR gives them: the words of one row, split where a gap
 * wider than the row's height separates columns.
 *
 * Used by `backplane extract read` and `eval extract --format invoices`; the
 * plugin's transform reads envelope lines and does not come here. */
#ifndef BP_EXTRACT_READ_H
#define BP_EXTRACT_READ_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "extract_doc.h"

typedef struct ex_read_opts {
    int max_pages;          /* pages of a PDF read at most */
    int64_t timeout_ms;     /* one document: the worker's wall clock and CPU budget */
    struct pdf_session *session; /* a worker kept across documents (pdf_text.h), or NULL:
                               one worker per document */
    int text_only;          /* 1: a PDF's text without positions, as the mail sources hand
                               it to the transform (data.attachments[].pages): for
                               measuring what the word boxes bring; no OCR */
} ex_read_opts;

/* Default budget: 50 pages, 30 s. */
#define EX_READ_DEFAULTS ((ex_read_opts){.max_pages = 50, .timeout_ms = 30000})

/* Reads the file at path into d (initialised by the caller; ex_doc_finish
 * is called). 0 ok (d may hold no lines: an empty text); -1 with
 * "reason" (no path: the caller prefixes it) in err. A PDF cut short by its
 * budget is read as far as it got, and *warn (may be NULL) says why. Any
 * thread; each call runs its own worker process. */
int ex_read_file(ex_doc *d, const char *path, const ex_read_opts *o, char *err, size_t errlen,
                 char *warn, size_t warnlen);

/* The same for bytes in memory; name (may be NULL) is the file name whose
 * extension tells mail (.eml) and text from each other. */
int ex_read_bytes(ex_doc *d, const unsigned char *bytes, size_t len, const char *name,
                  const ex_read_opts *o, char *err, size_t errlen, char *warn, size_t warnlen);

/* The document as JSON: {"source", "lang", "pages": [{"w", "h"}], "lines":
 * [{"text", "box": [x0, y0, x1, y1] in its page's units, "page"}]} (lines of a
 * document without boxes have no "box"). Caller deletes; NULL when out of
 * memory. */
cJSON *ex_doc_to_json(const ex_doc *d);

#endif
