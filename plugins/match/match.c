/* match: invoice ↔ purchase order, through a lookup connector (the ERP).
 *
 *   - match: { lookup: erp, query: purchase_order, tolerance: 0.05, tolerance_pct: 1 }
 *
 * Asks the lookup connector for the invoice's purchase order
 * (api->lookup(inst, lookup, query, { param: PO number })) and checks: the PO
 * exists (else po_missing), is open (po_closed), is for the same vendor
 * (vendor_mismatch; names normalised as in dedupe), its total agrees within
 * the tolerance (po_mismatch, with the difference) and, when both have line
 * items, so do the lines (po_line_mismatch). The findings go to
 * data.po_match, the flags by <backplane/flags.h> (host flag_add). A lookup that fails (the ERP
 * is down) is a retry, never a flag. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <backplane/plugin.h>

#include "../common/normalize.h"
#include "../common/when.h"

#define MATCH_VERSION "1.0.0"

enum match_action { MATCH_FLAG, MATCH_REVIEW, MATCH_REJECT };
static const char *const match_actions[] = {"flag", "review", "reject", NULL};

typedef struct {
    const struct bp_host_api *api;
    bp_instance *inst;
    char *lookup, *query, *param;
    char *lines_query;                               /* NULL: lines come with the PO */
    char *p_po, *p_vendor, *p_total, *p_lines;       /* paths in the invoice */
    char *f_vendor, *f_total, *f_status, *f_lines;   /* fields of the PO */
    char *line_key, *line_amount;                    /* fields of a line item */
    char **open;                                     /* NULL-terminated */
    char **suffixes;                                 /* NULL-terminated */
    int64_t abs_tol;
    double pct_tol;
    double vendor_threshold;
    enum match_action action;
    bp_predicate *when;      /* NULL: every record */
} match_self;

/* The numeric options, bound (BP_OPT_FIELD): their defaults live once, in
 * the schema; the string options are read from the config by name. */
struct match_opts {
    double tolerance, tolerance_pct, vendor_threshold;
};

static const struct bp_option match_options[] = {
    {.name = "lookup", .type = BP_OPT_STRING, .flags = BP_OPT_REQUIRED,
     .description = "the connector that answers the query (e.g. the ERP over ODBC)"},
    {.name = "query", .type = BP_OPT_STRING, .default_value = "purchase_order",
     .description = "the connector's named query returning the PO"},
    {.name = "lines_query", .type = BP_OPT_STRING,
     .description = "named query returning the PO's lines as rows (when they are not in the PO)"},
    {.name = "param", .type = BP_OPT_STRING, .default_value = "po_number",
     .description = "name of the query parameter that carries the PO number"},
    {.name = "po_number", .type = BP_OPT_STRING, .default_value = "data.po_number",
     .description = "path of the invoice's PO number"},
    {.name = "vendor", .type = BP_OPT_STRING, .default_value = "data.vendor",
     .description = "path of the invoice's vendor"},
    {.name = "total", .type = BP_OPT_STRING, .default_value = "data.total",
     .description = "path of the invoice's total"},
    {.name = "lines", .type = BP_OPT_STRING, .default_value = "data.lines",
     .description = "path of the invoice's line items (an array of objects)"},
    {.name = "po_vendor", .type = BP_OPT_STRING, .default_value = "vendor",
     .description = "field of the PO holding the vendor"},
    {.name = "po_total", .type = BP_OPT_STRING, .default_value = "total",
     .description = "field of the PO holding its total"},
    {.name = "po_status", .type = BP_OPT_STRING, .default_value = "status",
     .description = "field of the PO holding its status (absent: open)"},
    {.name = "po_lines", .type = BP_OPT_STRING, .default_value = "lines",
     .description = "field of the PO holding its line items"},
    {.name = "open_status", .type = BP_OPT_LIST, .default_value = "open",
     .description = "PO statuses that accept invoices (case does not matter)"},
    {.name = "line_key", .type = BP_OPT_STRING, .default_value = "sku",
     .description = "field pairing invoice and PO lines (else they pair by position)"},
    {.name = "line_amount", .type = BP_OPT_STRING, .default_value = "amount",
     .description = "field of a line item holding its amount"},
    {.name = "tolerance", .type = BP_OPT_FLOAT, .default_value = "0", .min = "0",
     BP_OPT_FIELD(struct match_opts, tolerance),
     .description = "accepted difference of totals and line amounts (absolute)"},
    {.name = "tolerance_pct", .type = BP_OPT_FLOAT, .default_value = "0", .min = "0",
     BP_OPT_FIELD(struct match_opts, tolerance_pct),
     .max = "100", .description = "accepted difference in percent of the larger amount"},
    {.name = "vendor_threshold", .type = BP_OPT_FLOAT, .default_value = "0.9", .min = "0",
     BP_OPT_FIELD(struct match_opts, vendor_threshold),
     .max = "1", .description = "similarity of normalised vendor names that still agrees"},
    {.name = "vendor_suffixes", .type = BP_OPT_LIST,
     .description = "more legal-form words to ignore at the end of vendor names"},
    {.name = "action", .type = BP_OPT_ENUM, .default_value = "flag", .choices = match_actions,
     .description = "what a record with a finding gets after its flags"},
    {.name = "when", .type = BP_OPT_PREDICATE,
     .description = "only check records for which this predicate holds (others pass untouched)"},
    {0},
};

static void match_free_list(char **l)
{
    for (size_t i = 0; l && l[i]; i++)
        free(l[i]);
    free(l);
}

static void match_destroy(void *p)
{
    match_self *self = p;
    if (self == NULL)
        return;
    char **strs[] = {&self->lookup, &self->query, &self->param, &self->p_po, &self->p_vendor,
                     &self->p_total, &self->p_lines, &self->f_vendor, &self->f_total,
                     &self->f_status, &self->f_lines, &self->line_key, &self->line_amount};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
        free(*strs[i]);
    match_free_list(self->open);
    match_free_list(self->suffixes);
    free(self->lines_query);
    if (self->when)
        self->api->predicate_free(self->when);
    free(self);
}

/* Copies a list option; vendor suffixes in the vendor's normal form. */
static char **match_list(const cJSON *arr, int as_vendor)
{
    char **l = calloc((size_t)cJSON_GetArraySize(arr) + 1, sizeof(char *));
    size_t n = 0;
    for (const cJSON *it = arr ? arr->child : NULL; l && it; it = it->next) {
        if ((l[n++] = as_vendor ? norm_vendor(it->valuestring, NULL) : strdup(it->valuestring)) ==
            NULL) {
            match_free_list(l);
            return NULL;
        }
    }
    return l;
}

static bp_status match_init(const struct bp_host_api *api, bp_instance *inst, const cJSON *config,
                            const struct bp_instance_info *info, void **out, char **errmsg)
{
    const struct match_opts *o = info->options;
    if (!BP_HOST_HAS(api, lookup) || !BP_HOST_HAS(api, path_check)) {
        *errmsg = api->format("this host offers no lookups");
        return BP_ERR_UNSUPPORTED;
    }
    match_self *self = calloc(1, sizeof(*self));
    if (self == NULL)
        return BP_ERR_NOMEM;
    self->api = api;
    self->inst = inst;
    static const char *const names[] = {"lookup", "query", "param", "po_number", "vendor",
                                        "total", "lines", "po_vendor", "po_total", "po_status",
                                        "po_lines", "line_key", "line_amount"};
    char **dst[] = {&self->lookup, &self->query, &self->param, &self->p_po, &self->p_vendor,
                    &self->p_total, &self->p_lines, &self->f_vendor, &self->f_total,
                    &self->f_status, &self->f_lines, &self->line_key, &self->line_amount};
    bp_status st = BP_OK;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && st == BP_OK; i++) {
        const char *v = bp_cfg_str(config, names[i]);
        if ((*dst[i] = strdup(v)) == NULL)
            st = BP_ERR_NOMEM;
        else if (i >= 3 && i <= 6 && api->path_check(v) != BP_OK) {
            *errmsg = api->format("%s: invalid path '%s'", names[i], v);
            st = BP_ERR_INVALID;
        }
    }
    if (st == BP_OK)
        st = when_compile(api, config, &self->when, errmsg);
    const char *lq = bp_cfg_str(config, "lines_query");
    if (st == BP_OK && lq && (self->lines_query = strdup(lq)) == NULL)
        st = BP_ERR_NOMEM;
    if (st == BP_OK && self->lookup[0] == '\0') {
        *errmsg = api->format("lookup: name the connector that answers '%s'", self->query);
        st = BP_ERR_INVALID;
    }
    if (st == BP_OK && ((self->open = match_list(bp_cfg_get0(config, "open_status"), 0)) == NULL ||
                        (self->suffixes = match_list(bp_cfg_get0(config, "vendor_suffixes"), 1)) ==
                            NULL))
        st = BP_ERR_NOMEM;
    self->abs_tol = (int64_t)(o->tolerance * NORM_AMOUNT_SCALE + 0.5);
    self->pct_tol = o->tolerance_pct;
    self->vendor_threshold = o->vendor_threshold;
    const char *a = bp_cfg_str(config, "action");
    self->action = strcmp(a, "review") == 0   ? MATCH_REVIEW
                   : strcmp(a, "reject") == 0 ? MATCH_REJECT
                                              : MATCH_FLAG;
    if (st != BP_OK) {
        if (*errmsg == NULL)
            *errmsg = api->format("out of memory");
        match_destroy(self);
        return st;
    }
    *out = self;
    return BP_OK;
}

/* What the checks found, before anything is written into the record. */
typedef struct {
    const char *flag[5];
    char *reason[5];
    size_t n;
    const char *status;     /* matched, missing, closed, mismatch */
    double vendor_score;    /* -1 when not compared */
    int lines_checked;
    int has_diff;
    int64_t diff;           /* invoice total - PO total */
    int64_t invoice_total, po_total;  /* with has_diff (issue 15: the reviewer sees both) */
} match_findings;

static void match_find(match_findings *f, const struct bp_host_api *api, const char *flag,
                       char *reason)
{
    if (f->n < sizeof(f->flag) / sizeof(f->flag[0])) {
        f->flag[f->n] = flag;
        f->reason[f->n++] = reason;
    } else {
        api->free(reason);
    }
}

/* The PO's line that pairs with invoice line i: same key, else same position. */
static const cJSON *match_pair(const match_self *self, const cJSON *line, int i,
                               const cJSON *po_lines)
{
    char b1[NORM_TEXT_CAP], b2[NORM_TEXT_CAP];
    const char *key = norm_text(cJSON_GetObjectItemCaseSensitive(line, self->line_key), b1);
    if (key == NULL)
        return cJSON_GetArrayItem(po_lines, i);
    for (const cJSON *pl = po_lines->child; pl; pl = pl->next) {
        const char *k = norm_text(cJSON_GetObjectItemCaseSensitive(pl, self->line_key), b2);
        if (k && strcmp(k, key) == 0)
            return pl;
    }
    return NULL;
}

static void match_lines(const match_self *self, const cJSON *lines, const cJSON *po_lines,
                        match_findings *f)
{
    const struct bp_host_api *api = self->api;
    int n = cJSON_GetArraySize(lines), m = cJSON_GetArraySize(po_lines);
    char *why = NULL;
    if (n != m)
        why = api->format("invoice has %d line(s), PO %d", n, m);
    int i = 0;
    for (const cJSON *l = lines->child; l && why == NULL; l = l->next, i++) {
        char b[NORM_TEXT_CAP], d1[32], d2[32];
        const char *key = norm_text(cJSON_GetObjectItemCaseSensitive(l, self->line_key), b);
        const cJSON *pl = match_pair(self, l, i, po_lines);
        int64_t a1, a2;
        int h1 = norm_amount(cJSON_GetObjectItemCaseSensitive(l, self->line_amount), &a1);
        int h2 = pl && norm_amount(cJSON_GetObjectItemCaseSensitive(pl, self->line_amount), &a2);
        f->lines_checked++;
        if (pl == NULL)
            why = api->format("line %d (%s %s) is not on the PO", i + 1, self->line_key,
                              key ? key : "?");
        else if (!h1 || !h2)
            why = api->format("line %d: no %s to compare", i + 1, self->line_amount);
        else if (!norm_amount_within(a1, a2, self->abs_tol, self->pct_tol))
            why = api->format("line %d%s%s%s: %s on the invoice, %s on the PO", i + 1,
                              key ? " (" : "", key ? key : "", key ? ")" : "",
                              norm_amount_fmt(a1, d1), norm_amount_fmt(a2, d2));
    }
    if (why)
        match_find(f, api, "po_line_mismatch", why);
}

/* Runs the checks of an invoice against its PO (a lookup row). */
static void match_check(const match_self *self, const bp_envelope *env, const cJSON *po,
                        const cJSON *lines_rows, match_findings *f)
{
    const struct bp_host_api *api = self->api;
    char b1[NORM_TEXT_CAP], b2[NORM_TEXT_CAP], d1[32], d2[32], d3[32];
    const char *status = norm_text(cJSON_GetObjectItemCaseSensitive(po, self->f_status), b1);
    int open = status == NULL;
    for (size_t i = 0; !open && self->open[i]; i++)
        open = strcasecmp(self->open[i], status) == 0;
    if (!open)
        match_find(f, api, "po_closed", api->format("PO is %s", status));
    const char *iv = norm_text(api->envelope_get0_path(env, self->p_vendor), b1);
    const char *pv = norm_text(cJSON_GetObjectItemCaseSensitive(po, self->f_vendor), b2);
    if (iv && pv) {
        char *n1 = norm_vendor(iv, (const char *const *)self->suffixes);
        char *n2 = norm_vendor(pv, (const char *const *)self->suffixes);
        f->vendor_score = n1 && n2 ? norm_similarity(n1, n2) : 0;
        if (f->vendor_score < self->vendor_threshold)
            match_find(f, api, "vendor_mismatch",
                       api->format("invoice vendor '%s', PO vendor '%s'", iv, pv));
        free(n1);
        free(n2);
    }
    int64_t it, pt;
    if (norm_amount(api->envelope_get0_path(env, self->p_total), &it) &&
        norm_amount(cJSON_GetObjectItemCaseSensitive(po, self->f_total), &pt)) {
        f->has_diff = 1;
        f->diff = it - pt;
        f->invoice_total = it;
        f->po_total = pt;
        if (!norm_amount_within(it, pt, self->abs_tol, self->pct_tol))
            match_find(f, api, "po_mismatch",
                       api->format("invoice total %s, PO total %s (difference %s)",
                                   norm_amount_fmt(it, d1), norm_amount_fmt(pt, d2),
                                   norm_amount_fmt(f->diff, d3)));
    }
    const cJSON *lines = api->envelope_get0_path(env, self->p_lines);
    const cJSON *po_lines =
        self->lines_query ? lines_rows : cJSON_GetObjectItemCaseSensitive(po, self->f_lines);
    if (cJSON_GetArraySize(lines) > 0 && cJSON_GetArraySize(po_lines) > 0 &&
        cJSON_IsArray(lines) && cJSON_IsArray(po_lines))
        match_lines(self, lines, po_lines, f);
    f->status = !open ? "closed" : f->n ? "mismatch" : "matched";
}

/* Writes data.po_match, the flags and the lineage into env (writable). */
static bp_status match_record(const match_self *self, bp_envelope *env, const char *po_number,
                              const match_findings *f)
{
    const struct bp_host_api *api = self->api;
    char d[32];
    cJSON *m = cJSON_CreateObject();
    if (m == NULL || (po_number && !cJSON_AddStringToObject(m, "po_number", po_number)) ||
        !cJSON_AddStringToObject(m, "status", f->status) ||
        (f->has_diff && !cJSON_AddStringToObject(m, "difference", norm_amount_fmt(f->diff, d))) ||
        (f->has_diff &&
         !cJSON_AddStringToObject(m, "invoice_total", norm_amount_fmt(f->invoice_total, d))) ||
        (f->has_diff && !cJSON_AddStringToObject(m, "po_total", norm_amount_fmt(f->po_total, d))) ||
        (f->vendor_score >= 0 &&
         !cJSON_AddNumberToObject(m, "vendor_score", (double)(int)(f->vendor_score * 1000 + 0.5) / 1000)) ||
        !cJSON_AddNumberToObject(m, "lines_checked", f->lines_checked)) {
        cJSON_Delete(m);
        return BP_ERR_NOMEM;
    }
    bp_status st = api->envelope_set0_path(env, "data.po_match", m);
    for (size_t i = 0; st == BP_OK && i < f->n; i++)
        st = api->flag_add(env, f->flag[i], f->reason[i], "match");
    bp_lineage lin = {.plugin = "match", .version = MATCH_VERSION,
                      .confidence = f->vendor_score >= 0 ? f->vendor_score : 1.0,
                      .changed = f->n ? "data.po_match,flags,data.flags" : "data.po_match"};
    if (st == BP_OK)
        st = api->envelope_add_lineage(env, &lin);
    return st;
}

/* Runs query for po_number. BP_OK (*result set), BP_ERR_NOT_FOUND (the query
 * ran and found nothing), or the transform's answer to a failed lookup with
 * *reason set: BP_RETRY when the ERP is down or slow (a retry, never a flag),
 * BP_REJECT for a missing connector or query (dead-lettered with the reason). */
static bp_status match_lookup(match_self *self, const char *query, const char *po_number,
                              cJSON **result, char **reason)
{
    const struct bp_host_api *api = self->api;
    cJSON *params = cJSON_CreateObject();
    char *err = NULL;
    *result = NULL;
    bp_status st = params && cJSON_AddStringToObject(params, self->param, po_number)
                       ? api->lookup(self->inst, self->lookup, query, params, result, &err)
                       : BP_ERR_NOMEM;
    cJSON_Delete(params);
    if (st == BP_OK || (st == BP_ERR_NOT_FOUND && err == NULL))
        return st;
    *reason = api->format("lookup %s/%s for PO %s: %s", self->lookup, query, po_number,
                          err ? err : api->status_str(st));
    api->free(err);
    api->json_free(*result);
    *result = NULL;
    api->counter_add(self->inst, "lookup_errors", 1);
    return st == BP_ERR_NOMEM || st == BP_RETRY || st == BP_NOT_CONNECTED ? BP_RETRY : BP_REJECT;
}

static bp_status match_transform(void *p, bp_envelope **envp, char **reason)
{
    match_self *self = p;
    const struct bp_host_api *api = self->api;
    if (self->when && !api->predicate_eval(self->when, *envp))
        return BP_OK;
    match_findings f = {.vendor_score = -1};
    char buf[NORM_TEXT_CAP];
    const char *po_text = norm_text(api->envelope_get0_path(*envp, self->p_po), buf);
    char *po_number = po_text ? strdup(po_text) : NULL;
    if (po_text && po_number == NULL)
        return BP_RETRY;
    cJSON *result = NULL, *rows = NULL;
    bp_status lst = BP_ERR_NOT_FOUND;
    if (po_number && po_number[0])
        lst = match_lookup(self, self->query, po_number, &result, reason);
    const cJSON *po = cJSON_IsArray(result) ? cJSON_GetArrayItem(result, 0) : result;
    const cJSON *lines = api->envelope_get0_path(*envp, self->p_lines);
    if (lst == BP_OK && cJSON_IsObject(po) && self->lines_query && cJSON_GetArraySize(lines) > 0) {
        bp_status rst = match_lookup(self, self->lines_query, po_number, &rows, reason);
        if (rst != BP_OK && rst != BP_ERR_NOT_FOUND)
            lst = rst;
    }
    if (lst != BP_OK && lst != BP_ERR_NOT_FOUND) {
        api->json_free(result);
        api->json_free(rows);
        free(po_number);
        return lst;
    }
    if (po_number == NULL || po_number[0] == '\0') {
        f.status = "missing";
        match_find(&f, api, "po_missing", api->format("the invoice has no PO number (%s)", self->p_po));
    } else if (lst == BP_ERR_NOT_FOUND || !cJSON_IsObject(po)) {
        f.status = "missing";
        match_find(&f, api, "po_missing",
                   api->format("PO %s not found by %s/%s", po_number, self->lookup, self->query));
    } else {
        match_check(self, *envp, po, rows, &f);
    }
    api->json_free(rows);
    api->json_free(result);
    bp_status st = BP_ERR_NOMEM;
    bp_envelope *w = api->envelope_make_writable(*envp);
    if (w != NULL) {
        *envp = w;
        st = match_record(self, w, po_number, &f);
    }
    free(po_number);
    char *first = f.n ? api->format("%s: %s", f.flag[0], f.reason[0] ? f.reason[0] : "") : NULL;
    for (size_t i = 0; i < f.n; i++)
        api->free(f.reason[i]);
    if (st != BP_OK) {
        api->free(first);
        if (st == BP_ERR_NOMEM)
            return BP_RETRY;
        *reason = api->format("cannot record the match: data is not an object with a flags array");
        return BP_REJECT;
    }
    api->counter_add(self->inst, f.n ? "records_flagged" : "records_matched", 1);
    if (f.n == 0 || self->action == MATCH_FLAG) {
        api->free(first);
        return BP_MODIFIED;
    }
    *reason = first;
    return self->action == MATCH_REVIEW ? BP_REVIEW : BP_REJECT;
}

static const struct bp_plugin match_plugin = {
    BP_PLUGIN_HEADER,
    .min_host_minor = 3,    /* flag_add, status_str, json_free */
    .name = "match",
    .version = MATCH_VERSION,
    .description = "invoice to purchase order through a lookup connector: exists, open, "
                   "vendor, totals and lines within tolerance",
    .kinds = BP_KIND_TRANSFORM,
    .options = match_options,
    .options_size = sizeof(struct match_opts),
    .init_ex = match_init,
    .transform = match_transform,
    .destroy = match_destroy,
};

BP_EXPORT const struct bp_plugin *bp_plugin_entry(void)
{
    return &match_plugin;
}
