/* log.c's lines about one record (bp_log_rec): the id in a text line (after
 * the message, escaped: it comes from the record), JSON's "record_id" and
 * "plugin" keys, nothing at all below the level. journald's fields are
 * tested against a listener on its socket (tests/e2e/service.sh). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "tap.h"

static FILE *cap;

/* What the lines since the last call wrote, timestamps cut off: each line
 * from its level on. Static buffer. */
static const char *captured(void)
{
    static char out[4096];
    static char raw[4096];
    fflush(stderr);
    rewind(cap);
    size_t n = fread(raw, 1, sizeof(raw) - 1, cap);
    raw[n] = '\0';
    size_t o = 0;
    for (char *line = raw; *line && o < sizeof(out) - 1;) {
        char *nl = strchr(line, '\n');
        size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
        const char *from = line[0] == '{' ? line : memchr(line, ' ', len);
        from = from ? (from == line ? line : from + 1) : line;
        size_t k = len - (size_t)(from - line);
        if (o + k >= sizeof(out))
            k = sizeof(out) - 1 - o;
        memcpy(out + o, from, k);
        o += k;
        line += len;
    }
    out[o] = '\0';
    /* the next call sees only what comes after */
    if (ftruncate(fileno(cap), 0) != 0)
        out[0] = '\0';
    rewind(cap);
    return out;
}

int main(void)
{
    cap = tmpfile();
    if (cap == NULL || dup2(fileno(cap), STDERR_FILENO) < 0) {
        printf("Bail out! cannot capture stderr\n");
        return 1;
    }
    bp_log_set_level(BP_LOG_INFO);

    bp_log_rec(BP_LOG_WARN, "ap/erp", "fx_sink", "in.jsonl@10", "%d record(s) to retry", 1);
    CHECK_STR(captured(), "warn  [ap/erp] 1 record(s) to retry (record_id=in.jsonl@10)\n");

    bp_log_rec(BP_LOG_INFO, "ap", NULL, "evil\n2026 error forged", "parked");
    CHECK_STR(captured(), "info  [ap] parked (record_id=evil\\n2026 error forged)\n");

    bp_log_rec(BP_LOG_INFO, "ap", NULL, NULL, "no id");
    CHECK_STR(captured(), "info  [ap] no id\n");
    bp_log_rec(BP_LOG_INFO, "ap", NULL, "", "an empty id is none");
    CHECK_STR(captured(), "info  [ap] an empty id is none\n");

    /* Below the level: no line. */
    bp_log_rec(BP_LOG_DEBUG, "ap", "set", "in.jsonl@0", "dropped");
    CHECK_STR(captured(), "");

    bp_log_set_json(1);
    bp_log_rec(BP_LOG_WARN, "ap/erp", "fx_sink", "in\"@0", "retry");
    const char *j = captured();
    CHECK(strstr(j, "\"level\":\"warn\",\"instance\":\"ap/erp\",\"plugin\":\"fx_sink\","
                    "\"record_id\":\"in\\\"@0\",\"msg\":\"retry\"}\n") != NULL);
    bp_log(BP_LOG_INFO, "ap", "plain");
    CHECK(strstr(captured(), "\"record_id\"") == NULL);
    bp_log_set_json(0);
    return tap_done();
}
