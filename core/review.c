/* See review.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "envelope_int.h"
#include "json_print.h"
#include "log.h"
#include "review.h"
#include "strutil.h"
#include "runtime.h"

static char *review_json_text(const cJSON *v)
{
    char *buf = NULL;
    size_t len = 0, cap = 0;
    if (v == NULL || bp_json_append(v, &buf, &len, &cap) != BP_OK) {
        free(buf);
        return NULL;
    }
    return buf;
}

static const char *review_kind(const cJSON *v)
{
    return cJSON_IsNumber(v)   ? "a number"
           : cJSON_IsBool(v)   ? "true or false"
           : cJSON_IsObject(v) ? "a JSON object"
           : cJSON_IsArray(v)  ? "a JSON array"
                               : "a string";
}

/* The new value for path (old: its current value, NULL when absent), typed
 * as review.h says. NULL with *err on refusal. */
static cJSON *review_value(const cJSON *old, const char *path, const char *text, int add,
                           char **err)
{
    cJSON *parsed = cJSON_Parse(text);
    if (old == NULL && !add) {
        cJSON_Delete(parsed);
        *err = bp_strfmt("--set %s: the record has no such field (add --add to create it)",
                          path);
        return NULL;
    }
    if (old == NULL || cJSON_IsNull(old))
        return parsed ? parsed : cJSON_CreateString(text);
    if (cJSON_IsString(old)) {
        if (cJSON_IsString(parsed))
            return parsed;
        cJSON_Delete(parsed);
        return cJSON_CreateString(text);
    }
    int same = parsed && ((cJSON_IsNumber(old) && cJSON_IsNumber(parsed)) ||
                          (cJSON_IsBool(old) && cJSON_IsBool(parsed)) ||
                          (cJSON_IsObject(old) && cJSON_IsObject(parsed)) ||
                          (cJSON_IsArray(old) && cJSON_IsArray(parsed)));
    if (same)
        return parsed;
    cJSON_Delete(parsed);
    *err = bp_strfmt("--set %s: '%s' is not %s, as the field is", path, text, review_kind(old));
    return NULL;
}

/* Applies the request's sets to env; ch[i] gets each change (strings in
 * owned[], freed by the caller). BP_OK or BP_ERR_INVALID with *err. */
static bp_status review_apply_sets(bp_envelope *env, const bp_review_request *req,
                                   bp_correction *ch, char **owned, char **err)
{
    for (size_t i = 0; i < req->n_sets; i++) {
        const char *path = req->sets[i].path, *text = req->sets[i].value;
        if (path == NULL || path[0] == '\0' || bp_path_check(path) != BP_OK) {
            *err = bp_strfmt("--set: invalid path '%s'", path ? path : "");
            return BP_ERR_INVALID;
        }
        cJSON *v = review_value(bp_envelope_get0_path(env, path), path, text ? text : "",
                                req->add, err);
        if (v == NULL)
            return BP_ERR_INVALID;
        char *old = review_json_text(bp_envelope_get0_path(env, path));
        char *nw = review_json_text(v);
        owned[2 * i] = old;
        owned[2 * i + 1] = nw;
        if (nw == NULL || bp_envelope_set0_path(env, path, v) != BP_OK) {
            *err = bp_strfmt("--set: cannot set '%s'", path);
            return BP_ERR_INVALID;
        }
        ch[i] = (bp_correction){.path = path, .old_json = old, .new_json = nw};
    }
    return BP_OK;
}

/* One counter per decision for `backplane report`. */
static void review_count(bp_state *st, const char *route, const char *outcome)
{
    char name[64];
    snprintf(name, sizeof(name), "review.%s", outcome);
    const char *names[1] = {name};
    int64_t one = 1;
    bp_state_stats_add(st, route, names, &one, 1);
}

bp_status bp_review_decide(struct bp_runtime *rt, bp_state *st, int64_t seq,
                           const bp_review_request *req, bp_review_result *out)
{
    *out = (bp_review_result){0};
    out->outcome = req->verb == BP_REVIEW_APPROVE   ? "approved"
                   : req->verb == BP_REVIEW_CORRECT ? "corrected"
                                                    : "rejected";
    bp_review_item it;
    bp_status s = bp_state_review_get(st, seq, &it);
    if (s != BP_OK) {
        out->error = bp_strfmt("%s %lld", s == BP_ERR_NOT_FOUND ? "no parked record"
                                                                  : "cannot read entry",
                                (long long)seq);
        return s;
    }
    bp_status rc = BP_ERR_INVALID;
    bp_envelope *env = NULL;
    size_t n_ch = req->verb == BP_REVIEW_CORRECT ? req->n_sets : 0;
    bp_correction *ch = calloc(n_ch ? n_ch : 1, sizeof(*ch));
    char **owned = calloc(n_ch ? 2 * n_ch : 1, sizeof(*owned));
    char *src = NULL, *rid = NULL;
    if (ch == NULL || owned == NULL) {
        rc = BP_ERR_NOMEM;
        out->error = bp_strfmt("entry %lld: out of memory", (long long)seq);
        goto out;
    }
    if (it.payload == NULL ||
        bp_envelope_from_json(it.payload, strlen(it.payload), &env, NULL) != BP_OK) {
        rc = BP_ERR_PARSE;
        out->error = bp_strfmt("entry %lld does not hold an envelope", (long long)seq);
        goto out;
    }
    const char *source = bp_envelope_get0_attr(env, "source");
    const char *id = bp_envelope_get0_attr(env, "id");
    src = source ? strdup(source) : NULL;
    rid = id ? strdup(id) : NULL;
    if (req->verb == BP_REVIEW_CORRECT) {
        char *err = NULL;
        if ((rc = review_apply_sets(env, req, ch, owned, &err)) != BP_OK) {
            out->error = bp_strfmt("entry %lld: %s", (long long)seq, err ? err : "--set failed");
            free(err);
            goto out;
        }
    }
    out->what = "rejected (moved to the dead letters)";
    if (req->verb != BP_REVIEW_REJECT) {
        if (rt == NULL) {
            rc = BP_ERR_INVALID;
            out->error = bp_strfmt("entry %lld: resuming needs the site's runtime",
                                    (long long)seq);
            goto out;
        }
        /* Deliver first, then take it off the queue: a failure in between
         * leaves it parked (never lost; a ledger sink skips a repeat). */
        /* The cycle of a reviewed record runs from its arrival, across the
         * wait for a person, to its write-back (issue 22). */
        bp_env_set_times(env, it.arrived_ms ? it.arrived_ms : it.created_ms, it.created_ms);
        s = bp_runtime_resume(rt, it.route, it.stage, bp_envelope_ref(env));
        out->what = s == BP_OK       ? "delivered"
                    : s == BP_DROP   ? "dropped by a later transform"
                    : s == BP_REVIEW ? "parked again by a later transform (new entry)"
                    : s == BP_REJECT ? "failed at a later stage (dead-lettered)"
                                     : NULL;
        if (out->what == NULL) {
            rc = s;
            bp_log_rec(BP_LOG_WARN, it.route, NULL, rid,
                       "review entry %lld could not be %s (it stays parked): %s", (long long)seq,
                       out->outcome, s == BP_ERR_NOT_FOUND ? "the site has no such route"
                                                           : bp_status_str(s));
            out->error = bp_strfmt("entry %lld: %s%s; it stays parked", (long long)seq,
                                    s == BP_ERR_NOT_FOUND ? "the site has no route "
                                                          : bp_status_str(s),
                                    s == BP_ERR_NOT_FOUND ? it.route : "");
            goto out;
        }
    }
    rc = bp_state_review_decide(st, &it, out->outcome, req->actor, req->note, ch, n_ch, src, rid);
    if (rc != BP_OK) {
        out->error = bp_strfmt("entry %lld: %s", (long long)seq,
                                rc == BP_ERR_NOT_FOUND ? "already decided by someone else"
                                                       : bp_status_str(rc));
        goto out;
    }
    review_count(st, it.route, out->outcome);
    /* The owner's journal tells a record's story; a CLI without an owner
     * (a rejection recorded) says it on its own output, so only at debug. */
    bp_log_rec(rt ? BP_LOG_INFO : BP_LOG_DEBUG, it.route, NULL, rid, "review entry %lld %s by %s: %s",
               (long long)seq, out->outcome, req->actor ? req->actor : "?", out->what);
out:
    for (size_t i = 0; owned && i < 2 * n_ch; i++)
        free(owned[i]);
    free(owned);
    free(ch);
    free(src);
    free(rid);
    bp_envelope_unref(env);
    bp_review_item_clear(&it);
    if (rc != BP_OK)
        out->what = NULL;
    return rc;
}

bp_status bp_review_check(bp_state *st, int64_t seq, const bp_review_request *req, char **err)
{
    *err = NULL;
    if (req->verb != BP_REVIEW_CORRECT)
        return BP_OK;
    bp_review_item it;
    bp_status s = bp_state_review_get(st, seq, &it);
    if (s != BP_OK)
        return s;
    bp_envelope *env = NULL;
    bp_correction *ch = calloc(req->n_sets ? req->n_sets : 1, sizeof(*ch));
    char **owned = calloc(req->n_sets ? 2 * req->n_sets : 1, sizeof(*owned));
    if (ch == NULL || owned == NULL) {
        s = BP_ERR_NOMEM;
    } else if (it.payload == NULL ||
               bp_envelope_from_json(it.payload, strlen(it.payload), &env, NULL) != BP_OK) {
        s = BP_ERR_PARSE;
        *err = bp_strfmt("entry %lld does not hold an envelope", (long long)seq);
    } else {
        char *e = NULL;
        s = review_apply_sets(env, req, ch, owned, &e);
        if (s != BP_OK)
            *err = bp_strfmt("entry %lld: %s", (long long)seq, e ? e : "--set failed");
        free(e);
    }
    for (size_t i = 0; owned && i < 2 * req->n_sets; i++)
        free(owned[i]);
    free(owned);
    free(ch);
    bp_envelope_unref(env);
    bp_review_item_clear(&it);
    return s;
}
