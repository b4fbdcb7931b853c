/* classify_model: a linear multiclass SVM (Crammer-Singer hinge) over hashed
 * words (tf-idf, title words weighted up), trained with AdaGrad, with
 * a temperature fitted on out-of-fold predictions so that the probabilities it
 * reports are calibrated (a 0.8 is right about 80% of the time). */
#ifndef BP_CLASSIFY_MODEL_H
#define BP_CLASSIFY_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "../ml/ml_model.h"

#define CL_FEATURE_SET "classify-features-2"

typedef struct {
    char name[64];
    uint32_t buckets;     /* hash space, a power of two */
    uint32_t nclass;
    char **labels;        /* nclass strings */
    float *w;             /* buckets * nclass, row per bucket */
    float *b;             /* nclass */
    float temperature;
    float *idf;           /* buckets inverse document frequencies, or NULL */
} cl_model;

/* Hashed features of a text: bucket indices with values (L2-normalised).
 * The vectors are reused between calls. */
typedef struct {
    uint32_t *idx;
    float *val;
    size_t n, cap;
} cl_vec;

/* Raw features (log counts); cl_weigh then applies idf (may be NULL) and
 * L2-normalises, which prediction and training expect. */
int cl_featurize(const char *text, uint32_t buckets, cl_vec *v);
void cl_weigh(cl_vec *v, const float *idf);
int cl_vec_copy(cl_vec *dst, const cl_vec *src);
void cl_vec_free(cl_vec *v);

int cl_model_from_ml(cl_model *m, const ml_model *ml, char *err, size_t errlen);
int cl_model_load(cl_model *m, const char *path, char *err, size_t errlen);
int cl_model_save(const cl_model *m, const char *path, char *err, size_t errlen);
void cl_model_free(cl_model *m);

/* Index of the largest of n values (the first on ties). */
uint32_t cl_argmax(const float *p, uint32_t n);

/* Calibrated class probabilities of a featurised text into p[nclass]. */
void cl_predict(const cl_model *m, const cl_vec *v, float *p);

/* Training data: featurised texts with class indices. */
typedef struct {
    cl_vec *x;
    int *y;
    size_t n;
} cl_data;

/* Smoothed inverse document frequency of each bucket over the examples with
 * use[i] set (all when NULL); malloc'd, NULL when out of memory. */
float *cl_idf(const cl_data *d, const unsigned char *use, uint32_t buckets);

/* Train on the examples with use[i] set (all when use is NULL); fills w and b
 * of a model whose buckets, nclass and labels are set. Temperature 1. */
int cl_train(cl_model *m, const cl_data *d, const unsigned char *use, int epochs);

/* Raw (temperature 1) logits into z[nclass]. */
void cl_logits(const cl_model *m, const cl_vec *v, float *z);

/* The temperature that minimises the negative log-likelihood of labels y
 * given logits z[n][nclass]. */
float cl_fit_temperature(const float *z, const int *y, size_t n, uint32_t nclass);

#endif
