/* The YAML node tree: positions, substitution, refusals, typing. */
#include <stdlib.h>
#include <string.h>

#include "diag.h"
#include "tap.h"
#include "yaml_doc.h"

static bp_ydoc *load(const char *text, bp_diags *d, bp_status *st)
{
    bp_ydoc *doc = NULL;
    *st = bp_ydoc_load_string("t.yaml", NULL, text, strlen(text), &doc, d);
    return doc;
}

int main(void)
{
    bp_diags d = {0};
    bp_status st;
    bp_ydoc *doc = load("site: acme\nconnectors:\n  erp: { plugin: odbc, n: 5 }\n", &d, &st);
    CHECK_INT(st, BP_OK);
    CHECK_INT(d.n, 0);
    const bp_ynode *c = bp_ymap_get(doc->root, "connectors");
    const bp_ynode *erp = bp_ymap_get(c, "erp");
    CHECK_INT(erp->kind, BP_YMAP);
    CHECK_INT(erp->line, 3);
    CHECK_INT(erp->col, 8);
    const bp_ynode *n = bp_ymap_get(erp, "n");
    CHECK_INT(n->line, 3);
    CHECK_INT(n->col, 27);
    cJSON *j = bp_ynode_to_json(erp);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "n")));
    cJSON_Delete(j);
    bp_ydoc_free(doc);

    /* Typing: plain scalars are typed, quoted ones stay strings. */
    doc = load("a: 10\nb: '10'\nc: true\nd: ~\ne: 1.5e3\nf: 0x10\ng: yes\n", &d, &st);
    j = bp_ynode_to_json(doc->root);
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "a")));
    CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "b")));
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "c")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "d")));
    CHECK(cJSON_GetObjectItem(j, "e")->valuedouble == 1500.0);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "f")));   /* YAML 1.2 core: no hex ints */
    CHECK(cJSON_IsString(cJSON_GetObjectItem(j, "g")));   /* YAML 1.2: "yes" is a string */
    cJSON_Delete(j);
    bp_ydoc_free(doc);

    /* Substitution. */
    setenv("BP_T_USER", "ap-clerk", 1);
    doc = load("u: \"${env:BP_T_USER}@x\"\nlit: \"$${env:BP_T_USER}\"\n", &d, &st);
    CHECK_INT(st, BP_OK);
    CHECK_STR(bp_ymap_get(doc->root, "u")->value, "ap-clerk@x");
    CHECK(bp_ymap_get(doc->root, "u")->substituted);
    CHECK_STR(bp_ymap_get(doc->root, "lit")->value, "${env:BP_T_USER}");
    bp_ydoc_free(doc);

    FILE *f = fopen("/tmp/bp_t_secret.txt", "w");
    fputs("pa55word\n", f);
    fclose(f);
    doc = load("p: ${file:/tmp/bp_t_secret.txt}\n", &d, &st);
    CHECK_STR(bp_ymap_get(doc->root, "p")->value, "pa55word");
    bp_ydoc_free(doc);
    remove("/tmp/bp_t_secret.txt");

    /* Errors carry positions and all are reported. */
    doc = load("a: ${env:BP_T_UNSET_X}\nb: ${vault:x}\nc: ${file:/nonexistent/x}\n", &d, &st);
    CHECK_INT(st, BP_ERR_INVALID);
    CHECK_INT(d.n, 3);
    CHECK_STR(d.msgs[0], "t.yaml:1:4: environment variable 'BP_T_UNSET_X' is not set");
    CHECK_STR(d.msgs[1], "t.yaml:2:4: unknown substitution '${vault:x}': use ${env:NAME} or ${file:PATH}");
    CHECK(strstr(d.msgs[2], "t.yaml:3:4: cannot read '/nonexistent/x' for ${file:}") != NULL);
    bp_ydoc_free(doc);
    bp_diags_free(&d);

    doc = load("a: &x [1]\nb: *x\n", &d, &st);
    CHECK_INT(st, BP_ERR_PARSE);
    CHECK(doc == NULL);
    CHECK_STR(d.msgs[0], "t.yaml:2:4: YAML aliases (*x) are not supported in site files");
    bp_diags_free(&d);

    doc = load("a: 1\nb: 2\na: 3\n", &d, &st);
    CHECK_STR(d.msgs[0], "t.yaml:3:1: duplicate key 'a' (first at line 1)");
    bp_ydoc_free(doc);
    bp_diags_free(&d);

    doc = load("a: [1, 2\nb: 3\n", &d, &st);
    CHECK_INT(st, BP_ERR_PARSE);
    CHECK(d.n == 1 && strncmp(d.msgs[0], "t.yaml:2:", 9) == 0);
    CHECK(d.n == 1 && strstr(d.msgs[0], "YAML syntax error") != NULL);
    bp_diags_free(&d);

    /* Deep nesting is refused, not a stack overflow. */
    char deep[400];
    memset(deep, '[', 300);
    deep[300] = '\0';
    doc = load(deep, &d, &st);
    CHECK_INT(st, BP_ERR_PARSE);
    CHECK(d.n >= 1 && strstr(d.msgs[0], "nesting deeper than 64 levels") != NULL);
    bp_diags_free(&d);
    return tap_done();
}
