/* The host-API table: what a plugin can call. Entries are appended only, in
 * the order of struct bp_host_api. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "envelope_int.h"
#include "clock.h"
#include "json_print.h"
#include "log.h"
#include "runtime.h"
#include "strutil.h"
#include "model_find.h"
#include "state_checkpoint.h"
#include "state_corrections.h"
#include "wakeup.h"
#include "trust.h"

static void host_log(bp_instance *inst, enum bp_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    bp_log_fields f = {.plugin = inst && inst->lib ? inst->lib->desc.name : NULL};
    bp_logv_fields(level, inst ? inst->name : NULL, &f, fmt, ap);
    va_end(ap);
}

static const char *host_instance_name(const bp_instance *inst)
{
    return inst ? inst->name : "";
}

static int64_t host_lease_epoch(bp_instance *inst)
{
    return inst && inst->lease_epoch ? *inst->lease_epoch : 0;
}

static void *host_alloc(size_t n) { return malloc(n ? n : 1); }
static void host_free(void *p) { free(p); }
static char *host_strdup(const char *s) { return s ? strdup(s) : NULL; }


/* ---- source batches ------------------------------------------------------ */

static size_t host_batch_room(const bp_poll_batch *b)
{
    return b->cap - b->n;
}

static bp_status host_batch_push_invalid(bp_poll_batch *b, uint64_t token, const char *reason,
                                         const void *raw, size_t raw_len)
{
    if (b->n >= b->cap)
        return BP_ERR_FULL;   /* (core3-runtime) */
    char *copy = malloc(raw_len + 1);
    char *why = strdup(reason ? reason : "invalid input");
    if (copy == NULL || why == NULL) {
        free(copy);
        free(why);
        return BP_ERR_NOMEM;
    }
    if (raw_len)
        memcpy(copy, raw, raw_len);
    copy[raw_len] = '\0';
    b->envs[b->n] = NULL;
    b->tokens[b->n] = token;
    b->reasons[b->n] = why;
    b->raw[b->n] = copy;
    b->raw_len[b->n] = raw_len;
    b->n++;
    bp_metrics_add(b->src->metrics, "records_invalid", 1);
    return BP_OK;
}

static bp_status host_batch_push(bp_poll_batch *b, bp_envelope *env, uint64_t token)
{
    if (b->n >= b->cap || env == NULL) {
        bp_envelope_unref(env);
        return env && b->n >= b->cap ? BP_ERR_FULL : BP_ERR_INVALID;   /* (core3-runtime) */
    }
    char *err = NULL;
    bp_status st = BP_OK;
    env = bp_envelope_make_writable(env);
    if (env == NULL)
        return BP_ERR_NOMEM;
    if (bp_envelope_get0_attr(env, "source") == NULL) {
        char *src = NULL;
        if (asprintf(&src, "%s://%s", b->src->lib->desc.name,
                     b->src->connector ? b->src->connector : "") < 0)
            src = NULL;
        st = src ? bp_envelope_set_attr(env, "source", src) : BP_ERR_NOMEM;
        free(src);
    }
    if (st == BP_OK)   /* issue 16 #2: what steers the bus is not the producer's to set */
        st = bp_trust_filter(b->src->connector, env);
    /* A missing id is derived, never random (ABI 1.3): the same record read
     * again after a crash must keep its id for the write-back ledger. */
    if (st == BP_OK)
        st = bp_envelope_fill_id(env, (b->src->lib->desc.flags & BP_PLUGIN_STABLE_TOKENS) ? &token
                                                                                        : NULL);
    if (st == BP_OK)
        st = bp_envelope_finalize(env, &err);
    if (st != BP_OK) {
        char *json = bp_envelope_to_json(env, BP_SER_FULL);
        host_batch_push_invalid(b, token, err ? err : bp_status_str(st), json,
                                json ? strlen(json) : 0);
        free(json);
        free(err);
        bp_envelope_unref(env);
        return BP_ERR_INVALID;
    }
    b->envs[b->n] = env;
    b->tokens[b->n] = token;
    b->reasons[b->n] = NULL;
    b->raw[b->n] = NULL;
    b->raw_len[b->n] = 0;
    b->n++;
    return BP_OK;
}

/* ---- sink batches ------------------------------------------------------- */

static size_t host_wb_count(const bp_write_batch *wb) { return wb->n; }

static bp_envelope *host_wb_get0(const bp_write_batch *wb, size_t i)
{
    return i < wb->n ? wb->envs[i] : NULL;
}

static uint64_t host_wb_ticket(const bp_write_batch *wb, size_t i)
{
    return i < wb->n ? wb->tickets[i] : 0;
}

static void host_wb_set_result(bp_write_batch *wb, size_t i, bp_status status, const char *reason)
{
    if (i >= wb->n)
        return;
    wb->results[i] = status;
    wb->set[i] = 1;
    free(wb->reasons[i]);
    wb->reasons[i] = reason ? strdup(reason) : NULL;
}

static void host_wb_commit_checkpoint(bp_write_batch *wb, const char *key, const char *value)
{
    char *k = key ? strdup(key) : NULL, *v = value ? strdup(value) : NULL;
    free(wb->ckpt_key);
    free(wb->ckpt_value);
    wb->ckpt_key = k;
    wb->ckpt_value = v;
}

static void host_write_done(bp_instance *inst, uint64_t ticket, bp_status status,
                            const char *reason)
{
    pthread_mutex_lock(&inst->mu);
    if (inst->n_done == inst->cap_done) {
        size_t cap = inst->cap_done ? inst->cap_done * 2 : 64;
        bp_completion *c = realloc(inst->done, cap * sizeof(*c));
        if (c == NULL) {
            /* Cannot record it: the record stays queued and is redelivered
             * after a restart (at-least-once), never silently acked. */
            pthread_mutex_unlock(&inst->mu);
            return;
        }
        inst->done = c;
        inst->cap_done = cap;
    }
    inst->done[inst->n_done++] =
        (bp_completion){.ticket = ticket, .status = status, .reason = reason ? strdup(reason) : NULL};
    pthread_cond_broadcast(&inst->cv);
    pthread_mutex_unlock(&inst->mu);
}

/* ---- metrics, checkpoints, lookups ------------------------------------- */

static void host_counter_add(bp_instance *inst, const char *name, uint64_t delta)
{
    bp_metrics_add(inst->metrics, name, delta);
}

static void host_gauge_set(bp_instance *inst, const char *name, double value)
{
    bp_metrics_set(inst->metrics, name, value);
}

static bp_status host_checkpoint_get(bp_instance *inst, const char *key, char **value)
{
    bp_state *st = inst ? bp_runtime_state_of(inst) : NULL;
    if (st == NULL || key == NULL || value == NULL)
        return BP_ERR_INVALID;
    return bp_state_checkpoint_get(st, inst->scope, key, value);
}

static bp_status host_checkpoint_set(bp_instance *inst, const char *key, const char *value)
{
    bp_state *st = inst ? bp_runtime_state_of(inst) : NULL;
    if (st == NULL || key == NULL)
        return BP_ERR_INVALID;
    return bp_state_checkpoint_set(st, inst->scope, key, value);
}

/* ---- ABI 1.3 (core3-sdk) ----------------------------------------------- */

static void host_json_free(cJSON *item) { cJSON_Delete(item); }

static bp_status host_checkpoint_list(bp_instance *inst, const char *prefix, char ***keys,
                                      size_t *n)
{
    bp_state *st = inst ? bp_runtime_state_of(inst) : NULL;
    if (keys)
        *keys = NULL;
    if (n)
        *n = 0;
    if (st == NULL || keys == NULL || n == NULL)
        return BP_ERR_INVALID;
    return bp_state_checkpoint_list(st, inst->scope, prefix, keys, n);
}

static bp_status host_checkpoint_delete_prefix(bp_instance *inst, const char *prefix,
                                               size_t *n_deleted)
{
    bp_state *st = inst ? bp_runtime_state_of(inst) : NULL;
    if (n_deleted)
        *n_deleted = 0;
    if (st == NULL)
        return BP_ERR_INVALID;
    return bp_state_checkpoint_delete_prefix(st, inst->scope, prefix, n_deleted);
}

static bp_status host_checkpoint_set_many(bp_instance *inst, const char *const *keys,
                                          const char *const *values, size_t n)
{
    bp_state *st = inst ? bp_runtime_state_of(inst) : NULL;
    if (st == NULL || (n > 0 && (keys == NULL || values == NULL)))
        return BP_ERR_INVALID;
    return bp_state_checkpoint_set_many(st, inst->scope, keys, values, n);
}

static bp_status host_corrections_get(bp_instance *inst, const char *key_path,
                                      const char *key_value, size_t max, cJSON **out,
                                      char **errmsg)
{
    if (errmsg)
        *errmsg = NULL;
    if (out == NULL)
        return BP_ERR_INVALID;
    *out = NULL;
    bp_state *st = inst ? bp_runtime_state_of(inst) : NULL;
    if (st == NULL) {
        if (errmsg)
            *errmsg = bp_strfmt("corrections are only available to an instance of a running site");
        return BP_ERR_UNSUPPORTED;
    }
    if (key_path && bp_path_check(key_path) != BP_OK) {
        if (errmsg)
            *errmsg = bp_strfmt("corrections: '%s' is not an envelope path", key_path);
        return BP_ERR_INVALID;
    }
    /* The instance's route: its name up to the first '/' ("ap/extract#2"). */
    size_t rlen = strcspn(inst->name, "/");
    char *route = strndup(inst->name, rlen);
    if (route == NULL)
        return BP_ERR_NOMEM;
    bp_status rc = bp_state_corrections_find(st, route, key_path, key_value, max, out);
    if (rc != BP_OK && errmsg)
        *errmsg = bp_strfmt("corrections of route '%s': %s", route, bp_status_str(rc));
    free(route);
    return rc;
}

static int host_stopping(const bp_instance *inst)
{
    /* A route drained by a reload stops as on a stop of the whole runtime. */
    return inst && inst->rt &&
           (bp_runtime_stopping(inst->rt) || (inst->route_stop && atomic_load(inst->route_stop)));
}

/* ---- ABI 1.3 (core3-runtime) ---- */

static void host_poll_wakeup(bp_instance *inst)
{
    if (inst && inst->wakeup)
        bp_wakeup_signal(inst->wakeup);
}

static void host_wb_set_receipt(bp_write_batch *wb, size_t i, const char *receipt)
{
    if (i >= wb->n || wb->receipts == NULL)
        return;
    free(wb->receipts[i]);
    wb->receipts[i] = receipt && receipt[0] ? strdup(receipt) : NULL;
}

const struct bp_host_api bp_host_api_table = {
    .size = sizeof(struct bp_host_api),
    .abi_major = BP_ABI_MAJOR,
    .abi_minor = BP_ABI_MINOR,
    .log = host_log,
    .instance_name = host_instance_name,
    .lease_epoch = host_lease_epoch,
    .alloc = host_alloc,
    .free = host_free,
    .strdup = host_strdup,
    .format = bp_strfmt,
    .now_ms = bp_now_ms,
    .monotonic_ms = bp_mono_ms,
    .envelope_new = bp_envelope_new,
    .envelope_ref = bp_envelope_ref,
    .envelope_unref = bp_envelope_unref,
    .envelope_dup = bp_envelope_dup,
    .envelope_is_writable = bp_envelope_is_writable,
    .envelope_make_writable = bp_envelope_make_writable,
    .envelope_get0_attr = bp_envelope_get0_attr,
    .envelope_set_attr = bp_envelope_set_attr,
    .envelope_get0_ext = bp_envelope_get0_ext,
    .envelope_set0_ext = bp_envelope_set0_ext,
    .envelope_finalize = bp_envelope_finalize,
    .envelope_get0_data = bp_envelope_get0_data,
    .envelope_get0_data_mut = bp_envelope_get0_data_mut,
    .envelope_set0_data = bp_envelope_set0_data,
    .envelope_get0_path = bp_envelope_get0_path,
    .envelope_set0_path = bp_envelope_set0_path,
    .envelope_remove_path = bp_envelope_remove_path,
    .envelope_add_attachment = bp_envelope_add_attachment,
    .envelope_attachment_count = bp_envelope_attachment_count,
    .envelope_get0_attachment = bp_envelope_get0_attachment,
    .envelope_add_lineage = bp_envelope_add_lineage,
    .envelope_to_json = bp_envelope_to_json,
    .envelope_from_json = bp_envelope_from_json,
    .envelope_batch_to_json = bp_envelope_batch_to_json,
    .envelope_batch_from_json = bp_envelope_batch_from_json,
    .envelope_to_binary = bp_envelope_to_binary,
    .envelope_from_binary = bp_envelope_from_binary,
    .headers_free = bp_headers_free,
    .predicate_compile = bp_predicate_compile,
    .predicate_eval = bp_predicate_eval,
    .predicate_free = bp_predicate_free,
    .batch_room = host_batch_room,
    .batch_push = host_batch_push,
    .batch_push_invalid = host_batch_push_invalid,
    .wb_count = host_wb_count,
    .wb_get0 = host_wb_get0,
    .wb_ticket = host_wb_ticket,
    .wb_set_result = host_wb_set_result,
    .write_done = host_write_done,
    .counter_add = host_counter_add,
    .gauge_set = host_gauge_set,
    .checkpoint_get = host_checkpoint_get,
    .checkpoint_set = host_checkpoint_set,
    .lookup = bp_runtime_lookup,
    .stopping = host_stopping,
    .path_check = bp_path_check,
    .wb_commit_checkpoint = host_wb_commit_checkpoint,
    .json_append = bp_json_append,
    .envelope_set_data_json = bp_envelope_set_data_json,
    .mask_secret = bp_log_add_secret,
    /* ---- ABI 1.3 (core3-sdk) ---- */
    .status_str = bp_status_str,
    .flag_add = bp_flag_add,
    .json_free = host_json_free,
    .checkpoint_list = host_checkpoint_list,
    .checkpoint_delete_prefix = host_checkpoint_delete_prefix,
    .checkpoint_set_many = host_checkpoint_set_many,
    .corrections_get = host_corrections_get,
    .model_find = bp_model_find,
    /* ---- ABI 1.3 (core3-runtime) ---- */
    .poll_wakeup = host_poll_wakeup,
    .wb_set_receipt = host_wb_set_receipt,
};
