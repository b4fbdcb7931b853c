/* See trust.h. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bp_build_config.h"
#include "envelope_int.h"
#include "strutil.h"
#include "trust.h"

static const struct {
    const char *name;
    unsigned bit;
} trust_names[] = {
    {"confidence", BP_TRUST_CONFIDENCE},
    {"flags", BP_TRUST_FLAGS},
    {"priority", BP_TRUST_PRIORITY},
    {"bplineage", BP_TRUST_LINEAGE},
};
#define TRUST_N_NAMES (sizeof(trust_names) / sizeof(trust_names[0]))

unsigned bp_trust_parse(const bp_ynode *conn, const char *file, bp_diags *d)
{
    const bp_ynode *n = conn && conn->kind == BP_YMAP ? bp_ymap_get(conn, "trust_attributes") : NULL;
    if (n == NULL)
        return 0;
    if (n->kind == BP_YMAP) {
        bp_diags_add(d, file, n->line, n->col,
                     "'trust_attributes' must be a list of attribute names");
        return 0;
    }
    unsigned mask = 0;
    size_t cnt = n->kind == BP_YSEQ ? n->n : 1;
    for (size_t i = 0; i < cnt; i++) {
        const bp_ynode *it = n->kind == BP_YSEQ ? n->items[i] : n;
        size_t k = 0;
        while (it->kind == BP_YSCALAR && k < TRUST_N_NAMES &&
               strcmp(it->value, trust_names[k].name) != 0)
            k++;
        if (it->kind != BP_YSCALAR || k == TRUST_N_NAMES) {
            bp_diags_add(d, file, it->line, it->col,
                         "trust_attributes: '%s' is not an attribute that steers the bus "
                         "(confidence, flags, priority, bplineage)",
                         it->kind == BP_YSCALAR ? it->value : "(not a name)");
            continue;
        }
        mask |= trust_names[k].bit;
    }
    return mask;
}

/* Connector name -> mask. One site per process in practice: a handful. */
static pthread_mutex_t trust_mu = PTHREAD_MUTEX_INITIALIZER;
static char **trust_conn;
static unsigned *trust_mask;
static size_t trust_n;

void bp_trust_set(const char *connector, unsigned mask)
{
    if (connector == NULL)
        return;
    pthread_mutex_lock(&trust_mu);
    size_t i = 0;
    while (i < trust_n && strcmp(trust_conn[i], connector) != 0)
        i++;
    if (i == trust_n) {
        char **c = realloc(trust_conn, (trust_n + 1) * sizeof(*c));
        unsigned *m = c ? realloc(trust_mask, (trust_n + 1) * sizeof(*m)) : NULL;
        if (c)
            trust_conn = c;
        if (m)
            trust_mask = m;
        if (c && m && (trust_conn[trust_n] = strdup(connector)) != NULL)
            trust_n++;
    }
    if (i < trust_n)
        trust_mask[i] = mask;
    pthread_mutex_unlock(&trust_mu);
}

static unsigned trust_get(const char *connector)
{
    unsigned mask = 0;
    pthread_mutex_lock(&trust_mu);
    for (size_t i = 0; connector && i < trust_n; i++)
        if (strcmp(trust_conn[i], connector) == 0)
            mask = trust_mask[i];
    pthread_mutex_unlock(&trust_mu);
    return mask;
}

/* Notes one drop in the lineage; what is shown is cut at 64 bytes. */
static bp_status trust_note(bp_envelope *env, const char *name, const char *shown)
{
    char *note = bp_strfmt("untrusted attribute %s=%.64s%s dropped", name, shown,
                           strlen(shown) > 64 ? "..." : "");
    if (note == NULL)
        return BP_ERR_NOMEM;
    bp_lineage l = {.plugin = "backplane", .version = BP_VERSION, .confidence = -1,
                    .changed = note};
    bp_status st = bp_envelope_add_lineage(env, &l);
    free(note);
    return st;
}

bp_status bp_trust_filter(const char *connector, bp_envelope *env)
{
    unsigned mask = trust_get(connector);
    bp_status st = BP_OK;
    /* The outside lineage goes first: the notes below start the record's own. */
    size_t n_lin = bp_envelope_lineage_count(env);
    char *lin = NULL;
    if (!(mask & BP_TRUST_LINEAGE) && n_lin > 0) {
        size_t cap = 1;
        for (size_t i = 0; i < n_lin; i++) {
            const bp_lineage *l = bp_envelope_get0_lineage(env, i);
            cap += strlen(l->plugin) + (l->model ? strlen(l->model) + 1 : 0) + 1;
        }
        if ((lin = malloc(cap)) == NULL)
            return BP_ERR_NOMEM;
        lin[0] = '\0';
        for (size_t i = 0; i < n_lin; i++) {
            const bp_lineage *l = bp_envelope_get0_lineage(env, i);
            if (i)
                strcat(lin, ";");
            strcat(lin, l->plugin);
            if (l->model) {
                strcat(lin, "/");
                strcat(lin, l->model);
            }
        }
        bp_envelope_clear_lineage(env);
    }
    if (lin) {
        st = trust_note(env, "bplineage", lin);
        free(lin);
    }
    for (size_t k = 0; st == BP_OK && k < TRUST_N_NAMES; k++) {
        if (trust_names[k].bit == BP_TRUST_LINEAGE || (mask & trust_names[k].bit))
            continue;
        const cJSON *v = bp_envelope_get0_ext(env, trust_names[k].name);
        if (v == NULL)
            continue;
        char *shown = cJSON_IsString(v) ? strdup(v->valuestring) : cJSON_PrintUnformatted(v);
        if (shown == NULL)
            return BP_ERR_NOMEM;
        st = bp_envelope_set_attr(env, trust_names[k].name, NULL);
        if (st == BP_OK)
            st = trust_note(env, trust_names[k].name, shown);
        free(shown);
    }
    return st;
}
