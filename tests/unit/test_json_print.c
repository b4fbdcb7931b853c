/* The fast JSON printer: exact texts for common values, and for a wide sweep
 * of numbers the text parses back to the very same double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "json_print.h"
#include "tap.h"

static char *print(const cJSON *j)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (bp_json_append(j, &buf, &len, &cap) != BP_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static char *num(double d)
{
    cJSON *j = cJSON_CreateNumber(d);
    char *s = print(j);
    cJSON_Delete(j);
    return s;
}

#define CHECK_NUM(d, want)                 \
    do {                                   \
        char *s_ = num(d);                 \
        CHECK_STR(s_, want);               \
        free(s_);                          \
    } while (0)

int main(void)
{
    CHECK_NUM(0, "0");
    CHECK_NUM(-0.0, "0");
    CHECK_NUM(42, "42");
    CHECK_NUM(-7, "-7");
    CHECK_NUM(1234.56, "1234.56");
    CHECK_NUM(9.5, "9.5");
    CHECK_NUM(0.1, "0.1");
    CHECK_NUM(-0.001, "-0.001");
    CHECK_NUM(0.000001, "0.000001");
    CHECK_NUM(86.4, "86.4");
    CHECK_NUM(9007199254740991.0, "9007199254740991");
    CHECK_NUM(1e21, "1e+21");
    CHECK_NUM(1.0 / 3.0, "0.33333333333333331");
    CHECK_NUM(NAN, "null");
    CHECK_NUM(INFINITY, "null");

    /* Round trip over a sweep: integers, money, random doubles, extremes. */
    int bad = 0, total = 0;
    srand(12345);
    for (int i = 0; i < 200000; i++) {
        double d;
        switch (i % 4) {
        case 0: d = (double)(rand() % 100000000) / 100.0; break;
        case 1: d = ((double)rand() / RAND_MAX - 0.5) * pow(10, rand() % 40 - 20); break;
        case 2: d = (double)((long long)rand() * rand()); break;
        default: d = (double)(rand() % 1000) / 1000.0 - 0.5; break;
        }
        char *s = num(d);
        total++;
        if (s == NULL || strtod(s, NULL) != d)
            bad++;
        free(s);
    }
    CHECK_INT(bad, 0);
    CHECK_INT(total, 200000);
    static const double edge[] = {5e-324, 2.2250738585072014e-308, 1.7976931348623157e308,
                                  0.1 + 0.2, 123456789.123456789, 1e-7, 4.35, 2.675};
    for (size_t i = 0; i < sizeof(edge) / sizeof(edge[0]); i++) {
        char *s = num(edge[i]);
        CHECK(s != NULL && strtod(s, NULL) == edge[i]);
        free(s);
    }

    /* Structures and strings: what cJSON parses back equals the original. */
    const char *docs[] = {
        "{\"a\":1,\"b\":[true,false,null,\"x\"],\"c\":{\"d\":-2.5e-10}}",
        "[\"quote \\\" backslash \\\\ tab \\t nl \\n ctl \\u0001 \\u001f\"]",
        "{\"vendor\":\"J\xc3\xb6rg \xc3\x9cmlaut\",\"emoji\":\"\xf0\x9f\x98\x80\"}",
        "[]", "{}", "\"\"", "[[[[[]]]]]",
    };
    for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++) {
        cJSON *j = cJSON_Parse(docs[i]);
        char *s = print(j);
        cJSON *back = s ? cJSON_Parse(s) : NULL;
        CHECK(back != NULL && cJSON_Compare(j, back, 1));
        cJSON_Delete(back);
        cJSON_Delete(j);
        free(s);
    }
    cJSON *j = cJSON_Parse("{\"k\":\"a\\u0001b\"}");
    char *s = print(j);
    CHECK_STR(s, "{\"k\":\"a\\u0001b\"}");
    free(s);
    cJSON_Delete(j);

    /* Appending keeps what was there. */
    char *buf = strdup("x=");
    size_t len = 2, cap = 3;
    cJSON *n = cJSON_CreateNumber(5);
    CHECK_INT(bp_json_append(n, &buf, &len, &cap), BP_OK);
    CHECK_STR(buf, "x=5");
    CHECK_INT(len, 3);
    CHECK_INT(bp_json_append(NULL, &buf, &len, &cap), BP_ERR_INVALID);
    cJSON_Delete(n);

    /* Depth (issue 17): 1000 containers print, 1001 are BP_ERR_DEPTH, not
     * "out of memory", and leave the buffer as it was. */
    cJSON *deep = cJSON_CreateNumber(1);
    for (int i = 0; i < 1000; i++) {
        cJSON *o = cJSON_CreateArray();
        cJSON_AddItemToArray(o, deep);
        deep = o;
    }
    len = 0;
    CHECK_INT(bp_json_append(deep, &buf, &len, &cap), BP_OK);
    CHECK_INT(len, 2001);
    cJSON *back = cJSON_Parse(buf);
    CHECK(back != NULL);   /* what is printed reads back */
    cJSON_Delete(back);
    cJSON *deeper = cJSON_CreateArray();
    cJSON_AddItemToArray(deeper, deep);
    len = 0;
    buf[0] = 'x';
    buf[1] = '\0';
    len = 1;
    CHECK_INT(bp_json_append(deeper, &buf, &len, &cap), BP_ERR_DEPTH);
    CHECK_INT(len, 1);
    CHECK_STR(buf, "x");
    CHECK_STR(bp_status_str(BP_ERR_DEPTH), "nested too deep");
    cJSON_Delete(deeper);
    free(buf);
    return tap_done();
}
