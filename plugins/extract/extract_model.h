/* extract_model: one linear ranker per field over the candidates of
 * extract_cand (dense features plus a weight per hashed-word bucket), trained
 * as a conditional logit (softmax over a document's candidates, the labelled
 * value as the target), stored with ml_model. */
#ifndef BP_EXTRACT_MODEL_H
#define BP_EXTRACT_MODEL_H

#include "../ml/ml_model.h"
#include "extract_cand.h"

typedef struct {
    char name[64];                      /* e.g. "sroie" */
    int has[EX_NFIELDS];                /* fields this model was trained for */
    float w[EX_NFIELDS][EX_NFEAT];
    float h[EX_NFIELDS][EX_NHASH];      /* weights of the hashed words */
    float temp[EX_NFIELDS];             /* softmax temperature (calibration), 1 if none */
    float reach[EX_NFIELDS];            /* share of training labels found among candidates */
} ex_model;

/* Interpret a parsed model file. 0 ok; -1 with a message in err (wrong kind,
 * other feature set, a weight section of the wrong size, no fields). */
int ex_model_from_ml(ex_model *m, const ml_model *ml, char *err, size_t errlen);
int ex_model_load(ex_model *m, const char *path, char *err, size_t errlen);
int ex_model_save(const ex_model *m, const char *path, char *err, size_t errlen);

/* Best value of a field and its confidence (the probability mass of all
 * candidates with that text). *text is malloc'd, NULL when the document has no
 * candidate. 0 ok, -1 out of memory. */
int ex_predict(const ex_model *m, const ex_doc *d, int field, ex_cands *scratch, char **text,
               float *conf);

/* A labelled document. */
typedef struct {
    ex_doc doc;
    char *label[EX_NFIELDS];  /* trimmed, NULL when not labelled */
    char *name;
} ex_example;

/* Candidates and features of all examples, computed once for every fold. */
typedef struct {
    size_t n;
    float *feat;            /* n * EX_NFEAT */
    uint16_t *tok;          /* hashed words of candidate k: tok[toff[k] .. toff[k + 1]) */
    uint32_t *toff;         /* n + 1 */
    unsigned char *pos;     /* the candidate equals the label */
    int npos;
} ex_group;

typedef struct {
    ex_group *g;            /* [example][field] */
    size_t nex;
} ex_prepared;

int ex_prepare(ex_prepared *p, const ex_example *ex, size_t n);
void ex_prepared_free(ex_prepared *p);

/* Train every field that has labelled examples among those with use[i] set.
 * progress (may be NULL) gets a line per field. 0 ok, -1 out of memory. */
int ex_train(ex_model *m, const ex_prepared *p, const unsigned char *use, int epochs,
             void (*progress)(const char *msg));

/* Fit each trained field's temperature on out-of-fold scores: folds inner
 * folds over the examples with use[i] set, each trained like ex_train, so that
 * the confidence of a value is about the chance that it is right. The model's
 * own weights are left as they are. 0 ok, -1 out of memory. */
int ex_calibrate(ex_model *m, const ex_prepared *p, const unsigned char *use, int epochs,
                 int folds);

#endif
