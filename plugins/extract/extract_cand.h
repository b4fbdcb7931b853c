/* extract_cand: candidate values for each field of a document and the
 * features that the learned ranker scores them by.
 *
 * Candidates come from patterns (dates, amounts, identifiers after a label)
 * and layout (the lines near the top for the vendor, runs of consecutive lines
 * for the address). Every candidate gets EX_NFEAT numbers in 0..1: a common
 * block (position on the page, line rank, shape of the text) and a block of
 * its own field (keywords on the same row or the line above, agreement with
 * other amounts, span shape ...). Which of them matter, and how much, is what
 * training learns; nothing here decides a winner. */
#ifndef BP_EXTRACT_CAND_H
#define BP_EXTRACT_CAND_H

#include "extract_doc.h"

enum ex_field {
    EX_COMPANY,
    EX_DATE,
    EX_ADDRESS,
    EX_TOTAL,
    EX_INVOICE_NUMBER,
    EX_PO_NUMBER,
    EX_CURRENCY,
    EX_NFIELDS
};

/* Field names as they appear in labels and output ("company", "date", ...). */
extern const char *const ex_field_names[EX_NFIELDS];

/* Changing the features changes this version; a model trained on another
 * feature set is refused at load time. */
#define EX_FEATURE_SET "extract-features-7"
#define EX_NFEAT 96

/* Besides the dense features, a candidate carries hashed words: its own
 * words, those of the lines around it and of its label, each hashed with its
 * role into EX_NHASH buckets. Training learns a weight per bucket, so which
 * words mark a company name or a total's label comes from the data rather
 * than from keyword lists. Words with digits hash by shape (digits as 0). */
#define EX_NHASH 1024

typedef struct {
    char *text;
    int line;            /* first line the value comes from */
    float f[EX_NFEAT];
    uint32_t tok_off;    /* hashed words: the cands' tok[tok_off .. tok_off + ntok) */
    uint32_t ntok;
} ex_cand;

typedef struct {
    ex_cand *c;
    size_t n, cap;
    uint16_t *tok;       /* bucket numbers, < EX_NHASH, distinct per candidate */
    size_t ntok, tokcap;
} ex_cands;

/* Fill out (emptied first) with the candidates of one field. 0 ok, -1 out
 * of memory. */
int ex_candidates(const ex_doc *d, int field, ex_cands *out);
void ex_cands_free(ex_cands *c);

/* The field index of a name, or -1. */
int ex_field_index(const char *name);

#endif
