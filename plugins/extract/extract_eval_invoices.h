/* eval extract --format invoices (issue 19). See extract_eval_invoices.c. */
#ifndef BP_EXTRACT_EVAL_INVOICES_H
#define BP_EXTRACT_EVAL_INVOICES_H

#include <cjson/cJSON.h>

struct bp_host_api;

/* Scores model (NULL: the shipped "invoices") on DIR/pdf/NAME.* against
 * DIR/key/NAME.json; prints the table and accuracy=0.XXXX last; mismatches
 * as JSON lines to errors_path (may be NULL). Returns the exit status. */
int ex_eval_invoices(const struct bp_host_api *api, const char *data, const char *model,
                     const char *errors_path, int quiet, int text_only);

/* 1 when a predicted value equals the label under the comparison of the
 * named field (see the file's comment); any thread. */
int ex_field_equal(const char *field, const cJSON *got, const cJSON *want);
int ex_vendor_equal(const char *got, const char *want);

#endif
