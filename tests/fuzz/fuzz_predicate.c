/* libFuzzer target for the predicate language: any byte string must either
 * compile or be refused with a column and message, and whatever compiles must
 * evaluate without undefined behaviour, leaks or deep recursion.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_predicate tests/fuzz/corpus/predicate
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/envelope.h>
#include <backplane/predicate.h>

/* One small envelope covering every value type the evaluator distinguishes
 * (numbers, numeric and plain strings, booleans, null, arrays, objects),
 * built once: the fuzzer should spend its time in the predicate code. */
static bp_envelope *fz_env(void)
{
    static bp_envelope *env;
    if (env != NULL)
        return env;
    env = bp_envelope_new();
    if (env == NULL)
        abort();
    bp_envelope_set_attr(env, "id", "fuzz-1");
    bp_envelope_set_attr(env, "source", "/fuzz");
    bp_envelope_set_attr(env, "type", "fuzz.event");
    bp_envelope_set_attr(env, "subject", "invoice-42");
    bp_envelope_set0_ext(env, "confidence", cJSON_CreateString("0.8"));
    bp_envelope_set0_ext(env, "flags", cJSON_CreateString("po_mismatch,possible_duplicate x"));
    bp_envelope_set0_ext(env, "priority", cJSON_CreateNumber(3));
    bp_envelope_set0_ext(env, "urgent", cJSON_CreateBool(1));
    bp_envelope_set0_data(env, cJSON_Parse(
        "{\"total\": 12000, \"currency\": \"EUR\", \"vendor\": \"ACME Corp\","
        " \"ok\": true, \"nothing\": null, \"amount\": \"100\","
        " \"items\": [{\"sku\": \"A1\", \"qty\": 2}, [1, [2]], \"x\"],"
        " \"meta\": {\"region\": \"eu\", \"nested\": {\"a\": [true, null]}}}"));
    return env;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The API takes a C string; an embedded NUL simply ends the text early. */
    char *text = malloc(size + 1);
    if (text == NULL)
        return 0;
    if (size > 0)
        memcpy(text, data, size);
    text[size] = '\0';

    bp_predicate *pred = NULL;
    int col = 0;
    char *msg = NULL;
    bp_status st = bp_predicate_compile(text, &pred, &col, &msg);
    if (st == BP_OK) {
        /* Success leaves no message, and the text survives verbatim. */
        if (pred == NULL || msg != NULL || strcmp(bp_predicate_text(pred), text) != 0)
            abort();
        int r = bp_predicate_eval(pred, fz_env());
        if (r != 0 && r != 1)
            abort();
        bp_predicate_free(pred);
    } else if (st == BP_ERR_PARSE) {
        /* A syntax error always points inside the text or just past its end. */
        size_t len = strlen(text);
        if (pred != NULL || msg == NULL || col < 1 || (size_t)col > len + 1 ||
            strchr(msg, '\n') != NULL)
            abort();
    } else if (st != BP_ERR_NOMEM) {
        abort();
    }
    free(msg);
    free(text);
    return 0;
}
