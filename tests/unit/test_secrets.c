/* Secrets (issue 16 #3): a substituted ${file:}/${env:} value is never printed
 * in an option error; URL user info and short secrets are masked in log text
 * and in dead-letter reasons. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "options.h"
#include "state.h"
#include "tap.h"

static const char *const modes[] = {"none", "event", NULL};
static const struct bp_option schema[] = {
    {.name = "attach", .type = BP_OPT_ENUM, .default_value = "none", .choices = modes},
    {.name = "batch", .type = BP_OPT_INT, .default_value = "1", .min = "1", .max = "10"},
    {.name = "fsync", .type = BP_OPT_BOOL, .default_value = "true"},
    {0},
};

/* The first diagnostic of applying yaml (base dir dir) to the schema. */
static char *first_error(const char *dir, const char *yaml)
{
    bp_diags d = {0};
    bp_ydoc *doc = NULL;
    bp_ydoc_load_string("s.yaml", dir, yaml, strlen(yaml), &doc, &d);
    if (doc) {
        const bp_ynode *maps[1] = {doc->root};
        cJSON_Delete(bp_options_apply(schema, "plugin 'x'", maps, 1, NULL, "s.yaml", 1, 1, &d));
        bp_ydoc_free(doc);
    }
    char *msg = d.n ? strdup(d.msgs[0]) : strdup("(no error)");
    bp_diags_free(&d);
    return msg;
}

static char *masked(const char *s)
{
    return bp_log_mask(strdup(s));
}

int main(void)
{
    char dir[] = "/tmp/bp-secrets-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[256];
    snprintf(path, sizeof(path), "%s/key.pem", dir);
    FILE *f = fopen(path, "w");
    fputs("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n", f);
    fclose(f);

    /* A whole key file in an enum error: shown as written instead. */
    char *e = first_error(dir, "attach: ${file:key.pem}\n");
    CHECK_STR(e, "s.yaml:1:9: option 'attach' of plugin 'x' must be one of: none, event; "
                 "got '${file:key.pem}'");
    CHECK(strstr(e, "PRIVATE KEY") == NULL);
    free(e);
    setenv("BP_TEST_SECRET_N", "hunter2", 1);
    e = first_error(dir, "batch: ${env:BP_TEST_SECRET_N}\n");
    CHECK_STR(e, "s.yaml:1:8: option 'batch' of plugin 'x' must be an integer, got "
                 "'${env:BP_TEST_SECRET_N}'");
    free(e);
    setenv("BP_TEST_SECRET_N", "99", 1);
    e = first_error(dir, "batch: \"${env:BP_TEST_SECRET_N}0\"\n");
    CHECK_STR(e, "s.yaml:1:8: option 'batch' of plugin 'x' must be between 1 and 10, got "
                 "${env:BP_TEST_SECRET_N}0");
    free(e);
    e = first_error(dir, "fsync: \"pre-${env:BP_TEST_SECRET_N}\"\n");
    CHECK_STR(e, "s.yaml:1:8: option 'fsync' of plugin 'x' must be true or false, got "
                 "'pre-${env:BP_TEST_SECRET_N}'");
    free(e);
    /* Not substituted: the value itself, as before. */
    e = first_error(dir, "attach: xml\n");
    CHECK_STR(e, "s.yaml:1:9: option 'attach' of plugin 'x' must be one of: none, event; got 'xml'");
    free(e);

    /* URL user info, with or without a password. */
    char *m = masked("POST http://crm:s3cr3t-pw@crm.example:8080/soap failed: 401");
    CHECK_STR(m, "POST http://****@crm.example:8080/soap failed: 401");
    free(m);
    m = masked("url: 'https://bus:p;w,(x)!@crm.example/x' refused");
    CHECK_STR(m, "url: 'https://****@crm.example/x' refused");
    free(m);
    m = masked("smtps://ap@mail.example and imap://u:p@h/INBOX; mail a@b.example");
    CHECK_STR(m, "smtps://****@mail.example and imap://****@h/INBOX; mail a@b.example");
    free(m);
    /* Short secrets are masked where they stand alone, long ones anywhere. */
    bp_log_add_secret("q7");
    bp_log_add_secret("longsecret");
    m = masked("login q7 refused (pw=q7;) xq7x aq7 longsecretX");
    CHECK_STR(m, "login **** refused (pw=****;) xq7x aq7 ****X");
    free(m);

    /* Dead-letter reasons are masked as the log is. */
    char db[300];
    snprintf(db, sizeof(db), "%s/s.db", dir);
    bp_state *st = NULL;
    char *err = NULL;
    CHECK_INT(bp_state_open(db, "s", &st, &err), BP_OK);
    CHECK_INT(bp_state_dead_letter(st, "r", "r/crm", "SOAP 500 from https://u:pw-77@crm/x (q7)",
                                   "{}", 2),
              BP_OK);
    bp_dead_letter dl = {0};
    CHECK_INT(bp_state_dlq_get(st, 1, &dl), BP_OK);
    CHECK_STR(dl.reason, "SOAP 500 from https://****@crm/x (****)");
    bp_dead_letter_clear(&dl);
    bp_state_close(st);
    free(err);
    bp_log_clear_secrets();

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    CHECK_INT(system(cmd), 0);
    return tap_done();
}
