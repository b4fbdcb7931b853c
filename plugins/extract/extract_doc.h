/* extract_doc: a document as the extractor sees it — text lines, each with a
 * box in page coordinates normalised to 0..1 (or a synthetic one from the line
 * number when the input has no positions: PDF text, a mail body), plus what
 * every feature needs to know about a line, computed once. */
#ifndef BP_EXTRACT_DOC_H
#define BP_EXTRACT_DOC_H

#include <stddef.h>
#include <stdint.h>

/* Line flags: keyword families found in a line (word-bounded, upper case). */
enum {
    EX_L_ADDR = 1u << 0,      /* street words: JALAN, TAMAN, LOT, ROAD ... */
    EX_L_POSTCODE = 1u << 1,  /* a standalone five-digit number */
    EX_L_PLACE = 1u << 2,     /* state or city names */
    EX_L_CONTACT = 1u << 3,   /* TEL, FAX, GST, e-mail, REG NO, INVOICE ... */
    EX_L_COMPSUF = 1u << 4,   /* SDN BHD, BHD, S/B, LTD, INC ... */
    EX_L_COMPKW = 1u << 5,    /* ENTERPRISE, TRADING, RESTORAN, STORE ... */
    EX_L_REG = 1u << 6,       /* a company registration number like (123456-X) */
    EX_L_STARTNUM = 1u << 7,  /* starts like a street address: digit, NO, LOT */
    EX_L_ENDCOMMA = 1u << 8,
    EX_L_TOTAL = 1u << 9,     /* the word TOTAL (not SUBTOTAL) */
    EX_L_GRAND = 1u << 10,    /* GRAND TOTAL, NETT, AMOUNT DUE, ROUNDED ... */
    EX_L_SUBTOTAL = 1u << 11,
    EX_L_TAX = 1u << 12,      /* GST, TAX, SST, SERVICE CHARGE */
    EX_L_CASH = 1u << 13,     /* CASH, TENDER, PAID, CARD */
    EX_L_CHANGE = 1u << 14,
    EX_L_ROUND = 1u << 15,    /* ROUNDING, ADJUSTMENT */
    EX_L_DISC = 1u << 16,
    EX_L_QTY = 1u << 17,      /* QTY, UNIT PRICE, ITEM */
    EX_L_DATEKW = 1u << 18,   /* DATE, TARIKH */
    EX_L_INVKW = 1u << 19,    /* INVOICE NO, BILL NO, RECEIPT NO ... */
    EX_L_POKW = 1u << 20,     /* PO NO, PURCHASE ORDER ... */
    EX_L_TIME = 1u << 21,     /* hh:mm */
    EX_L_CURKW = 1u << 22,    /* a currency code or symbol */
    EX_L_DUEKW = 1u << 23,    /* DUE, EXPIRY, VALID UNTIL: dates that are not the document's */
    EX_L_FOOTER = 1u << 24,   /* THANK YOU, GOODS SOLD ..., WELCOME: courtesy lines */
};

typedef struct {
    char *text;      /* trimmed, as in the input */
    char *up;        /* upper-cased copy for keyword matching */
    float x0, y0, x1, y1;
    uint32_t flags;
    uint32_t row_left;  /* flags of lines on the same row, left of this one */
    int left_near;      /* the nearest line to the left within a line's height (the label
                           of an amount printed in its own column, rows skewed), or -1 */
    /* ---- issue 19 (invoices-read) ---- */
    int page;                   /* 0-based page of a PDF or scan; 0 otherwise */
    float px0, py0, px1, py1;   /* the box relative to its own page, 0..1 (x / width,
                                   y / height); = x0.. when the document has no pages */
} ex_line;

#define EX_MAX_PAGES 64   /* pages whose size is kept (lines of later pages keep page) */

typedef struct {
    ex_line *lines;
    size_t n, cap;
    int has_boxes;
    float median_height;  /* of the lines' boxes, after ex_doc_finish */
    /* ---- issue 19 (invoices-read) ---- */
    int n_pages;                        /* pages with a size below (0: none) */
    float page_w[EX_MAX_PAGES], page_h[EX_MAX_PAGES];  /* PDF points (an image: pixels) */
    char source[8];                     /* "pdf", "ocr", "text", "eml", "sroie", "" */
    char lang[4];                       /* guessed from label words by ex_doc_finish: "en",
                                           "de", "fr", "nl", "es", "it", "pl", "" unknown */
} ex_doc;

void ex_doc_init(ex_doc *d);
void ex_doc_free(ex_doc *d);

/* Append a line (text copied, trimmed; empty lines are skipped). box is
 * {x0, y0, x1, y1} in any unit, or NULL. 0 ok, -1 out of memory. */
int ex_doc_add(ex_doc *d, const char *text, size_t len, const double *box);

/* Append a line of page `page` (its size set in page_w/page_h first), box
 * in that page's units from its top left; the page-relative box is kept in
 * px0.., and the box in x0.. is stacked below the earlier pages' (y plus their
 * heights), so a document reads top to bottom across pages. 0 ok, -1 out
 * of memory. (issue 19) */
int ex_doc_add_paged(ex_doc *d, const char *text, size_t len, const double *box, int page);

/* The day/month order the document's language implies: 1 day first, 0 month
 * first (en with a US dollar context), -1 unknown. After ex_doc_finish. */
int ex_doc_day_first(const ex_doc *d, const char *currency);

/* The bounding box {x0, y0, x1, y1} of four corners {x1, y1, ..., x4, y4}
 * (OCR gives quadrilaterals). */
void ex_box_of_corners(const double c[8], double box[4]);

/* Normalise boxes to 0..1 (or synthesise them) and compute line flags; call
 * once after the last ex_doc_add. */
void ex_doc_finish(ex_doc *d);

/* Parse an SROIE box file ("x1,y1,...,y4,TEXT" per line; TEXT may hold
 * commas). 0 ok; -1 with "path:line: reason" in err. */
int ex_doc_load_sroie(ex_doc *d, const char *path, char *err, size_t errlen);

/* Parse a text file, one line per line, without positions (PDF text, a mail
 * body). 0 ok; -1 with "path: reason" in err. */
int ex_doc_load_text(ex_doc *d, const char *path, char *err, size_t errlen);

/* Adds the words of page `page` (0-based; its size set in page_w/page_h
 * first), a cJSON array of {"t": text, "b": [x0, y0, x1, y1]} in points from
 * the page's top left (pdf_text.h's words), as lines: words on one row and
 * close together form a line, with ex_doc_add_paged. 0 ok, -1 out of memory. */
struct cJSON;
int ex_doc_add_words(ex_doc *d, const struct cJSON *words, int page);

/* Word-bounded search of kw in an upper-case string; returns the match or
 * NULL. A bound is the string's edge or a character that is not alphanumeric. */
const char *ex_find_word(const char *up, const char *kw);

#endif
