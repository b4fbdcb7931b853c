/* extract_fields: the model's picks as values an ERP can take (issue 19):
 * the printed text of each field beside its normalised value — dates as ISO
 * 8601, totals as JSON numbers, currencies as ISO 4217, identifiers without
 * the "#" or ":" printed before them. Shared by the transform, `extract read`
 * and `eval --format invoices`. */
#ifndef BP_EXTRACT_FIELDS_H
#define BP_EXTRACT_FIELDS_H

#include <cjson/cJSON.h>

#include "extract_model.h"
#include "extract_memory.h"

typedef struct {
    char *raw[EX_NFIELDS];      /* the text the model picked, malloc'ed, or NULL */
    float conf[EX_NFIELDS];
    cJSON *value[EX_NFIELDS];   /* the normalised value, or NULL: none or not readable */
} ex_fields;

/* The name a field is written under: invoice models (those that know
 * invoice_number) name the seller "vendor"; receipts keep "company". */
const char *ex_out_name(const ex_model *m, int field);

/* The field index of an output name ("vendor" too), or -1. */
int ex_out_index(const char *name);

/* Predicts the fields in want (NULL: all the model knows) and normalises
 * them; a currency the model did not pick is taken from the total's text or
 * the document's. 0 ok, -1 out of memory (out cleared). Free with
 * ex_fields_clear. */
int ex_read_fields(const ex_model *m, const ex_doc *d, const int *want, ex_cands *scratch,
                   ex_fields *out);

/* ex_read_fields with a vendor's memory (NULL: none) tried first for each
 * field, before normalising (extract_memory.h: its value is taken where
 * ex_mem_prefer says so). *from_mem: how many fields the memory gave. */
int ex_read_fields_mem(const ex_model *m, const ex_memory *mem, const ex_doc *d, const int *want,
                       ex_cands *scratch, ex_fields *out, int *from_mem);
void ex_fields_clear(ex_fields *f);

/* The normalised value of a field's text (days_first: the document's
 * day/month order, -1 unknown), or NULL. context: the document's text for a
 * currency (may be NULL). */
cJSON *ex_normalise(int field, const char *raw, int day_first, const char *context);

/* `backplane extract read [--model M] [--doc] FILE...` */
struct bp_host_api;
int ex_cmd_read(const struct bp_host_api *api, int argc, char **argv);

#endif
