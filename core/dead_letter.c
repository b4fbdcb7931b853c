/* Dead letters: a record that failed for good goes to the route's dead-letter
 * channel (errors.dead_letter, a sink delivered to with the route's retries)
 * and, when the route has none or the channel fails or refuses it, to the state
 * store (`backplane dlq`). The channel's delivery reports its refusals back
 * here (dl_channel_refused), which stores them: nothing loops. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_int.h"
#include "json_print.h"
#include "sha256.h"
#include "log.h"
#include "runtime_int.h"

/* What is stored of a record whose envelope cannot be printed (too deep, or
 * memory ran short): its data alone as raw input, else nothing but the reason,
 * so that dead-lettering never fails for the record's sake (issue 17: such a
 * record stopped its route, again after every restart). *out malloc'ed. */
static void dl_raw_fallback(const bp_envelope *env, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    size_t rlen = 0;
    const char *raw = bp_envelope_get0_raw_data(env, &rlen);
    if (raw != NULL) {
        if ((*out = malloc(rlen + 1)) != NULL) {
            memcpy(*out, raw, rlen);
            (*out)[rlen] = '\0';
            *len = rlen;
        }
        return;
    }
    const cJSON *data = bp_envelope_get0_data(env);
    size_t cap = 0;
    if (data && bp_json_append(data, out, len, &cap) != BP_OK) {
        free(*out);
        *out = NULL;
        *len = 0;
    }
}

/* The plugin behind a stage named after its instance ("route/connector"),
 * for the log line's PLUGIN field; NULL for the core's own stages ("review",
 * "decode"). The route's instances outlive its records. */
static const char *dl_plugin_of(const bp_route *r, const char *stage)
{
    const bp_instance *in = NULL;
    if (stage == NULL)
        return NULL;
    if (r->source && strcmp(r->source->name, stage) == 0)
        in = r->source;
    for (size_t i = 0; in == NULL && r->transforms && i < r->n_chain; i++)
        if (r->transforms[i] && strcmp(r->transforms[i]->name, stage) == 0)
            in = r->transforms[i];
    for (size_t i = 0; in == NULL && r->sinks && i < r->n_sinks; i++)
        if (r->sinks[i] && strcmp(r->sinks[i]->name, stage) == 0)
            in = r->sinks[i];
    return in && in->lib ? in->lib->desc.name : NULL;
}

/* The state store's dead letters. */
static bp_status dl_store(bp_route *r, const char *stage, const char *reason,
                          const bp_envelope *env, const char *raw, size_t raw_len)
{
    char *json = env ? bp_envelope_to_json(env, BP_SER_FULL) : NULL;
    char *fallback = NULL, *why = NULL;
    if (env && json == NULL) {
        dl_raw_fallback(env, &fallback, &raw_len);
        raw = fallback;
        char *dr = NULL;
        bp_status ds = bp_envelope_check_depth(env, &dr);
        if (asprintf(&why, "%s (the envelope cannot be printed: %s; %s)", reason,
                     ds == BP_ERR_DEPTH && dr ? dr : "out of memory",
                     fallback ? "its data is kept as raw input" : "nothing of it is kept") < 0)
            why = NULL;
        free(dr);
        if (why)
            reason = why;
    }
    /* One entry per record and stage (issue 17): keyed by source + id, or
     * for raw input by a digest of its bytes. */
    const char *src = env ? bp_envelope_get0_attr(env, "source") : NULL;
    const char *id = env ? bp_envelope_get0_attr(env, "id") : NULL;
    char digest[7 + 64 + 1];
    if (src == NULL || id == NULL) {
        unsigned char h[32];
        bp_sha256 s;
        bp_sha256_init(&s);
        bp_sha256_update(&s, json ? json : raw ? raw : "", json ? strlen(json) : raw ? raw_len : 0);
        if (bp_sha256_final(&s, h) != 0) {
            free(json);
            free(fallback);
            free(why);
            return BP_ERR_IO;
        }
        memcpy(digest, "sha256:", 7);
        for (int i = 0; i < 32; i++)
            snprintf(digest + 7 + 2 * i, 3, "%02x", h[i]);
        src = "";
        id = digest;
    }
    int64_t attempts = 1;
    bp_status st = bp_state_dead_letter_once(r->rt->state, r->cfg->name, stage, reason,
                                             json ? json : raw, json ? strlen(json) : raw_len,
                                             src, id, &attempts);
    if (st == BP_OK) {
        bp_metrics_add(r->metrics, "dead_lettered", 1);
        const char *plugin = dl_plugin_of(r, stage);
        if (attempts > 1)
            bp_log_rec(BP_LOG_WARN, r->cfg->name, plugin, id,
                       "dead-lettered a record at %s again (attempt %lld, its entry updated): %s",
                       stage, (long long)attempts, reason);
        else
            bp_log_rec(BP_LOG_WARN, r->cfg->name, plugin, id, "dead-lettered a record at %s: %s",
                       stage, reason);
    }
    free(json);
    free(fallback);
    free(why);
    return st;
}

bp_status bp_dead_letter_if_deep(bp_route *r, bp_envelope *env, int *deep)
{
    char *why = NULL;
    *deep = bp_envelope_check_depth(env, &why) == BP_ERR_DEPTH;
    if (!*deep)
        return BP_OK;
    size_t rlen = 0;
    const char *raw = bp_envelope_get0_raw_data(env, &rlen);
    char *text = NULL;
    size_t cap = 0;
    if (raw == NULL) {
        const cJSON *data = bp_envelope_get0_data(env);
        if (data && bp_json_append(data, &text, &rlen, &cap) != BP_OK)
            rlen = 0;
        raw = text;
    }
    bp_status st = bp_dead_letter_record(r, r->source->name, why ? why : "data nested too deep",
                                         NULL, raw, rlen);
    free(text);
    free(why);
    return st;
}

/* The envelope a dead letter travels in on a channel: the record (or, for
 * input that never became one, its raw bytes as data) with extensions
 * dlroute, dlstage and dlreason saying where and why it failed. */
static bp_envelope *dl_envelope(bp_route *r, const char *stage, const char *reason,
                                const bp_envelope *env, const char *raw, size_t raw_len)
{
    bp_envelope *e = env ? bp_envelope_dup(env) : bp_envelope_new();
    if (e == NULL)
        return NULL;
    int ok = 1;
    if (env == NULL) {
        char src[300];
        snprintf(src, sizeof(src), "backplane://%s/%s", r->rt->site->name, r->cfg->name);
        ok = bp_envelope_set_attr(e, "type", "com.backplane.deadletter.raw") == BP_OK &&
             bp_envelope_set_attr(e, "source", src) == BP_OK;
        if (ok && raw && bp_ce_is_utf8_text((const unsigned char *)raw, raw_len)) {
            char *t = strndup(raw, raw_len);
            ok = t && bp_envelope_set_attr(e, "datacontenttype", "text/plain") == BP_OK &&
                 bp_envelope_set0_data(e, cJSON_CreateString(t)) == BP_OK;
            free(t);
        } else if (ok && raw) {
            size_t bl = 0;
            char *b64 = bp_ce_base64_encode((const unsigned char *)raw, raw_len, &bl);
            ok = b64 && bp_envelope_set_attr(e, "datacontenttype", "application/octet-stream") ==
                            BP_OK &&
                 bp_envelope_set0_data(e, cJSON_CreateString(b64)) == BP_OK;
            if (ok)
                bp_envelope_set_data_base64(e, 1);
            free(b64);
        }
        ok = ok && bp_envelope_finalize(e, NULL) == BP_OK;
    }
    ok = ok && bp_envelope_set0_ext(e, "dlroute", cJSON_CreateString(r->cfg->name)) == BP_OK &&
         bp_envelope_set0_ext(e, "dlstage", cJSON_CreateString(stage)) == BP_OK &&
         bp_envelope_set0_ext(e, "dlreason", cJSON_CreateString(reason)) == BP_OK;
    if (!ok) {
        bp_envelope_unref(e);
        return NULL;
    }
    return e;
}

/* The channel refused a dead letter for good: into the store, keeping the
 * first failure's stage and reason and saying why the channel did not take it. */
static bp_status dl_channel_refused(void *ud, bp_item *item, const char *stage, const char *why)
{
    bp_route *r = ud;
    (void)stage;
    const char *first_stage = bp_envelope_get0_attr(item->env, "dlstage");
    const char *first_reason = bp_envelope_get0_attr(item->env, "dlreason");
    char *text = NULL;
    if (asprintf(&text, "%s (dead-letter channel '%s' refused it: %s)", first_reason,
                 r->cfg->dead_letter.name, why) < 0)
        text = NULL;
    bp_status st = dl_store(r, first_stage, text ? text : why, item->env, NULL, 0);
    free(text);
    return st;
}

bp_status bp_dead_letter_record(bp_route *r, const char *stage, const char *reason,
                         const bp_envelope *env, const char *raw, size_t raw_len)
{
    if (r->dlq == NULL)
        return dl_store(r, stage, reason, env, raw, raw_len);
    bp_envelope *e = dl_envelope(r, stage, reason, env, raw, raw_len);
    if (e == NULL)
        return dl_store(r, stage, reason, env, raw, raw_len);
    bp_item item = {.env = e, .seq = UINT64_MAX};
    pthread_mutex_lock(&r->dlq_mu);
    bp_status st = bp_deliver(r, r->dlq, &item, 1, dl_channel_refused, r);
    pthread_mutex_unlock(&r->dlq_mu);
    cJSON_Delete(item.receipts);
    bp_envelope_unref(e);
    if (st != BP_OK) {
        bp_log_rec(BP_LOG_WARN, r->cfg->name, NULL, env ? bp_envelope_get0_attr(env, "id") : NULL,
                   "dead-letter channel '%s' failed (%s): the record goes to the state store",
                   r->cfg->dead_letter.name, bp_status_str(st));
        return dl_store(r, stage, reason, env, raw, raw_len);
    }
    if (!item.failed_sink) {   /* (a refusal was stored and counted by dl_channel_refused) */
        bp_metrics_add(r->metrics, "dead_lettered", 1);
        bp_log_rec(BP_LOG_WARN, r->cfg->name, dl_plugin_of(r, stage),
                   env ? bp_envelope_get0_attr(env, "id") : NULL,
                   "dead-lettered a record at %s to '%s': %s", stage, r->cfg->dead_letter.name,
                   reason);
    }
    return BP_OK;
}

bp_status bp_dead_letter_fail(void *ud, bp_item *item, const char *stage, const char *why)
{
    return bp_dead_letter_record(ud, stage, why, item->env, NULL, 0);
}
