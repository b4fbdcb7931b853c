/* libFuzzer target for the invoice-field parsers of the dedupe and match
 * plugins (plugins/common/normalize.c): vendor names, invoice numbers,
 * amounts and dates come from documents and mails, i.e. from outside. Any
 * bytes must be read without undefined behaviour or leaks, and a parsed
 * amount printed by norm_amount_fmt must parse back to the same value.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_normalize tests/fuzz/corpus/normalize
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../plugins/common/normalize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    static const char *const extra[] = {"trading", "holdings", NULL};
    free(norm_vendor(s, NULL));
    free(norm_vendor(s, extra));
    free(norm_invoice_no(s, "-_/.#:", 1));
    free(norm_invoice_no(s, NULL, 0));
    int64_t v, back;
    if (norm_amount_str(s, &v)) {
        char buf[32];
        if (!norm_amount_str(norm_amount_fmt(v, buf), &back) || back != v)
            abort();
    }
    int32_t days;
    norm_date(s, 1, &days);
    norm_date(s, 0, &days);
    /* Two strings from one input: split at the first NUL or in the middle. */
    size_t half = strlen(s) < size ? strlen(s) : size / 2;
    char *b = s + (half < size ? half + (s[half] == '\0') : size);
    char saved = s[half];
    s[half] = '\0';
    double sim = norm_similarity(s, b);
    s[half] = saved;
    if (!(sim >= 0.0 && sim <= 1.0))
        abort();
    free(s);
    return 0;
}
