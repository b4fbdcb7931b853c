/* extract_memory: what one reviewed document of a vendor teaches about the
 * vendor's next documents (issue 19, "one correction teaches the next
 * invoice").
 *
 * A vendor's memory holds, per field, the value the reviewer let through, the
 * hashed label words of the candidate that printed it (its label on the line,
 * to its left, above) and where it sat on the page. The next document of the
 * vendor, recognised by its fingerprint (tax / VAT / registration ids, IBAN,
 * the name on its first line), is read by the memory first: the candidate with
 * the same label words and place, or for fields a vendor prints the same on
 * every document (its name, address, currency) the same text, with the
 * memory's own confidence; the global model answers what the memory does not
 * know. Single-threaded; plain data, so a state store can keep it as text. */
#ifndef BP_EXTRACT_MEMORY_H
#define BP_EXTRACT_MEMORY_H

#include "extract_model.h"

#define EX_MEM_TOK 64
#define EX_MEM_KEYS 8

typedef struct {
    int has;
    char *text;                 /* the reviewed value */
    float x, y;                 /* centre of its line, page coordinates 0..1 */
    uint16_t tok[EX_MEM_TOK];   /* its candidate's hashed words, sorted */
    int ntok;
} ex_mem_field;

typedef struct {
    char *key[EX_MEM_KEYS];     /* fingerprint: ids and the name line, normalised */
    int nkey;
    ex_mem_field f[EX_NFIELDS];
} ex_memory;

/* Fingerprint keys of a document into m->key (replacing them). 0 ok, -1 out
 * of memory. */
int ex_mem_fingerprint(const ex_doc *d, char **keys, int *nkeys);

/* Whether the document's fingerprint shares a key with the memory. */
int ex_mem_matches(const ex_memory *m, const ex_doc *d);

/* Learn from a reviewed document: label[f] is the value let through for
 * field f (NULL: not known). Fields whose value is not among the candidates
 * are remembered as text only. 0 ok, -1 out of memory. */
int ex_mem_learn(ex_memory *m, const ex_doc *d, char *const label[EX_NFIELDS], ex_cands *scratch);

/* The memory's value for a field of d: *text malloc'd (NULL when the memory
 * has none it trusts), *conf its confidence. 0 ok, -1 out of memory. */
int ex_mem_predict(const ex_memory *m, const ex_doc *d, int field, ex_cands *scratch,
                   char **text, float *conf);

/* Whether the memory's value (mem_conf > 0) is taken over the model's
 * (model_has: the model gave one, with model_conf): always for fields a vendor
 * prints the same every time (name, address, currency), otherwise only where
 * the model is unsure. */
int ex_mem_prefer(int field, float mem_conf, int model_has, float model_conf);

void ex_mem_free(ex_memory *m);

#endif
