/* libFuzzer target for the model-file loader of the learned plugins
 * (plugins/ml/ml_model.c and the extract/classify interpretations): any byte
 * string is either refused with a message or gives a model that predicts
 * without reading out of bounds.
 *
 * Each input is tried twice: as is, and with a correct CRC appended, so the
 * fuzzer also gets past the checksum into the section parser.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_model tests/fuzz/corpus/model
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/classify/classify_model.h"
#include "../../plugins/extract/extract_model.h"
#include "../../plugins/ml/ml_model.h"

static void fz_use(const ml_model *ml)
{
    char err[512];
    ex_model em;
    if (ex_model_from_ml(&em, ml, err, sizeof err) == 0) {
        ex_doc d;
        ex_doc_init(&d);
        const char *lines[] = {"ACME TRADING SDN BHD", "NO 1, JALAN SATU, 40000 SHAH ALAM",
                               "DATE: 01/02/2019", "TOTAL 12.50", "CASH 20.00", "CHANGE 7.50"};
        for (int i = 0; i < 6; i++)
            ex_doc_add(&d, lines[i], strlen(lines[i]), NULL);
        ex_doc_finish(&d);
        ex_cands c = {0};
        for (int f = 0; f < EX_NFIELDS; f++) {
            char *v = NULL;
            float conf;
            ex_predict(&em, &d, f, &c, &v, &conf);
            free(v);
        }
        ex_cands_free(&c);
        ex_doc_free(&d);
    }
    cl_model cm;
    if (cl_model_from_ml(&cm, ml, err, sizeof err) == 0) {
        cl_vec v = {0};
        if (cl_featurize("printer broken\nplease help with the printer", cm.buckets, &v) == 0) {
            cl_weigh(&v, cm.idf);
            float *p = malloc(cm.nclass * sizeof(float));
            if (p)
                cl_predict(&cm, &v, p);
            free(p);
        }
        cl_vec_free(&v);
        cl_model_free(&cm);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ml_model *ml = ml_model_parse(data, size, err, sizeof err);
    if (ml) {
        fz_use(ml);
        ml_model_free(ml);
    }
    unsigned char *fixed = malloc(size + 4);
    if (fixed == NULL)
        return 0;
    memcpy(fixed, data, size);
    uint32_t crc = ml_crc32(data, size);
    for (int i = 0; i < 4; i++)
        fixed[size + (size_t)i] = (unsigned char)(crc >> (8 * i));
    ml = ml_model_parse(fixed, size + 4, err, sizeof err);
    if (ml) {
        fz_use(ml);
        ml_model_free(ml);
    }
    free(fixed);
    return 0;
}
