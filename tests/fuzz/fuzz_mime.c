/* libFuzzer target for MIME -> envelope (connectors/mail/mime_envelope.c):
 * any byte string is either a message that becomes a valid envelope (through
 * the real host API) or is rejected with a reason; never a crash, a leak or
 * invalid UTF-8 in the data. HTML bodies and PDF attachments inside the
 * input reach libxml2 and poppler too.
 *
 *   CC=clang meson setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined
 *   build-fuzz/tests/fuzz/fuzz_mime tests/fuzz/corpus/mime
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/plugin.h>
#include "mime_envelope.h"

extern const struct bp_host_api bp_host_api_table;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Small limits so the fuzzer also reaches the rejection paths. */
    mime_limits lim = {.max_message = 1 << 20, .max_attachment = 64 << 10, .max_pdf_pages = 4,
                       .max_parts = 200};
    mime_message m;
    char *reason = NULL;
    bp_status st = mime_parse(data, size, &lim, &m, &reason);
    if (st == BP_REJECT) {
        if (reason == NULL)
            abort();   /* a rejection always says why */
        free(reason);
        return 0;
    }
    if (st != BP_OK)
        return 0;
    const struct bp_host_api *api = &bp_host_api_table;
    char *err = NULL;
    bp_envelope *env = mime_to_envelope(api, &m, "fuzz.mail", "fuzz-1", NULL, &err);
    mime_message_clear(&m);
    if (env == NULL) {
        api->free(err);
        return 0;
    }
    if (api->envelope_set_attr(env, "source", "fuzz://mime") != BP_OK)
        abort();
    /* The data must serialise: valid UTF-8 everywhere. */
    char *json = api->envelope_to_json(env, BP_SER_FULL);
    if (json == NULL)
        abort();
    bp_envelope *back = NULL;
    if (api->envelope_from_json(json, strlen(json), &back, &err) != BP_OK)
        abort();
    api->envelope_unref(back);
    free(json);
    api->envelope_unref(env);
    return 0;
}
