/* Fuzz target: the site-file YAML loader (libyaml + our node tree and
 * substitution) and YAML→JSON typing. */
#include <stdint.h>
#include <stdlib.h>

#include "diag.h"
#include "yaml_doc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bp_diags d = {0};
    bp_ydoc *doc = NULL;
    bp_ydoc_load_string("fuzz.yaml", NULL, (const char *)data, size, &doc, &d);
    if (doc) {
        cJSON *j = bp_ynode_to_json(doc->root);
        cJSON_Delete(j);
        bp_ydoc_free(doc);
    }
    bp_diags_free(&d);
    return 0;
}
