/* Drives the SOAP connector's lookup callback directly, from several threads
 * at once, against the node-soap CRM (GetAccount), as a transform's lookups
 * would on a route with several workers. TAP on stdout.
 *   soap_lookup PLUGIN.so ENDPOINT */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <backplane/plugin.h>
#include "options.h"
#include "runtime.h"

static int tap_n, tap_failed;
static void tap(int cond, const char *what)
{
    tap_n++;
    if (!cond)
        tap_failed++;
    printf("%s %d - %s\n", cond ? "ok" : "not ok", tap_n, what);
}

static const struct bp_plugin *desc;
static void *inst_self;
enum { THREADS = 8, CALLS = 40 };
static int thread_errors[THREADS];

static void *worker(void *arg)
{
    int t = (int)(intptr_t)arg;
    for (int i = 0; i < CALLS; i++) {
        const char *id = (i + t) % 2 ? "A1" : "A2";
        cJSON *params = cJSON_CreateObject();
        cJSON_AddStringToObject(params, "id", id);
        cJSON *res = NULL;
        char *err = NULL;
        bp_status st = desc->lookup(inst_self, "account", params, &res, &err);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(res, "name");
        const char *want = id[1] == '1' ? "Acme & Sons <Ltd>" : "Globex";
        if (st != BP_OK || !cJSON_IsString(name) || strcmp(name->valuestring, want) != 0)
            thread_errors[t]++;
        cJSON_Delete(res);
        cJSON_Delete(params);
        free(err);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: soap_lookup PLUGIN.so ENDPOINT\n");
        return 2;
    }
    void *so = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (so == NULL) {
        printf("Bail out! %s\n", dlerror());
        return 1;
    }
    bp_plugin_entry_fn entry = (bp_plugin_entry_fn)dlsym(so, BP_PLUGIN_ENTRY_SYMBOL);
    desc = entry();
    char cfgtext[2048];
    snprintf(cfgtext, sizeof(cfgtext),
             "{\"endpoint\": \"%s\", \"soap_version\": \"1.1\", \"namespace\": \"urn:example:crm\","
             " \"soap_action\": \"\", \"namespaces\": {\"crm\": \"urn:example:crm\"},"
             " \"wss_password_type\": \"digest\", \"max_response\": 1048576, \"concurrency\": 4,"
             " \"poll_interval\": 1000, \"timeout\": 5000, \"connect_timeout\": 2000, \"follow\": true,"
             " \"tls\": {\"verify\": true},"
             " \"initial_watermark\": \"1970\", \"type\": \"t\","
             " \"queries\": {\"account\": {\"operation\": \"GetAccount\","
             "   \"request\": {\"Id\": \"data.id\"},"
             "   \"response\": {\"data.id\": \"string(//crm:Account/crm:Id)\","
             "     \"data.name\": \"string(//crm:Account/crm:Name)\","
             "     \"data.revenue\": {\"xpath\": \"//crm:Account/crm:Revenue\", \"type\": \"number\"},"
             "     \"data.founded\": {\"xpath\": \"//crm:Account/crm:Founded\", \"type\": \"date\"}}}}}",
             argv[2]);
    cJSON *cfg = cJSON_Parse(cfgtext);
    char *err = NULL;
    /* ABI 1.3: the options struct the core would bind from the config. */
    void *bound = bp_options_bind(desc->options, cfg, desc->options_size);
    struct bp_instance_info info = {.size = sizeof(info), .role = BP_KIND_LOOKUP, .options = bound};
    bp_status st = desc->init_ex(&bp_host_api_table, NULL, cfg, &info, &inst_self, &err);
    tap(st == BP_OK, "init with a lookup query");
    if (st != BP_OK) {
        printf("# %s\n", err ? err : "?");
        return 1;
    }

    cJSON *params = cJSON_CreateObject();
    cJSON_AddStringToObject(params, "id", "A1");
    cJSON *res = NULL;
    st = desc->lookup(inst_self, "account", params, &res, &err);
    tap(st == BP_OK, "GetAccount A1 answers");
    char *text = res ? cJSON_PrintUnformatted(res) : NULL;
    printf("# %s\n", text ? text : (err ? err : "?"));
    tap(text && strstr(text, "\"name\":\"Acme & Sons <Ltd>\""), "escaped text comes back as text");
    tap(text && strstr(text, "\"revenue\":1250000.5"), "number typed");
    tap(text && strstr(text, "\"founded\":\"1999-04-01\""), "date typed");
    free(text);
    cJSON_Delete(res);
    res = NULL;

    cJSON_ReplaceItemInObject(params, "id", cJSON_CreateString("NOPE"));
    st = desc->lookup(inst_self, "account", params, &res, &err);
    tap(st == BP_REJECT, "an unknown account is a Client fault: rejected");
    tap(err && strstr(err, "SOAP fault Client (HTTP 200): no such account: NOPE"), "with the fault text");
    free(err);
    err = NULL;
    st = desc->lookup(inst_self, "nosuchquery", params, &res, &err);
    tap(st == BP_ERR_NOT_FOUND && err && strstr(err, "no query named 'nosuchquery'"),
        "an unknown query is named");
    free(err);
    err = NULL;
    cJSON_Delete(params);

    pthread_t th[THREADS];
    for (int t = 0; t < THREADS; t++)
        pthread_create(&th[t], NULL, worker, (void *)(intptr_t)t);
    int errors = 0;
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        errors += thread_errors[t];
    }
    printf("# %d threads x %d lookups, %d wrong\n", THREADS, CALLS, errors);
    tap(errors == 0, "concurrent lookups from 8 threads all answer correctly");
    desc->destroy(inst_self);
    free(bound);
    cJSON_Delete(cfg);
    printf("1..%d\n", tap_n);
    return tap_failed ? 1 : 0;
}
