/* The site file's model: connectors and routes, checked against the plugins'
 * schemas. Loading never connects anywhere; it is what `backplane check` runs. */
#ifndef BP_CORE_SITE_H
#define BP_CORE_SITE_H

#include <stdint.h>
#include <cjson/cJSON.h>
#include <backplane/plugin.h>
#include "diag.h"
#include "plugin_loader.h"
#include "yaml_doc.h"

/* One use of a connector (from/to) or a transform (through) in a route. */
typedef struct bp_site_use {
    char *name;                    /* connector name (from/to) or plugin name (through) */
    const bp_ynode *opts;          /* per-use options map, or NULL */
    int line, col;
    const bp_plugin_lib *lib;      /* resolved by bp_site_check */
    cJSON *config;                 /* normalised options, set by bp_site_check */
    /* ---- ABI 1.3 (core3-options) ---- */
    uint32_t role;                 /* BP_KIND_SOURCE (from), SINK (to, dead_letter), TRANSFORM */
    void *bound;                   /* the plugin's options struct (options_size), or NULL */
} bp_site_use;

typedef struct bp_site_connector {
    char *name;
    char *plugin;
    const bp_ynode *node;          /* the connector's map */
    int line, col;
    const bp_plugin_lib *lib;
    cJSON *config;                 /* connector-level options alone (lookups) */
    int used;
    void *bound;                   /* config bound to the plugin's options struct, or NULL */
    unsigned trust;                /* trust_attributes: BP_TRUST_* (trust.h) */
} bp_site_connector;

/* audit: off, ai (records an AI transform decided on: a lineage entry with a
 * model or a confidence; the default), all. */
enum { BP_AUDIT_OFF = 0, BP_AUDIT_AI = 1, BP_AUDIT_ALL = 2 };

typedef struct bp_site_route {
    char *name;
    int line, col;
    bp_site_use from;
    bp_site_use *through;
    size_t n_through;
    bp_site_use *to;
    size_t n_to;
    char *review_when;             /* predicate text, or NULL */
    int retry_max;                 /* attempts after the first (default 5) */
    int64_t backoff_min_ms, backoff_max_ms;
    int batch_size;
    int linger_ms;                 /* how long a sink waits to fill a batch (default 20) */
    int workers;                   /* threads running the transform chain (default 1) */
    char *order_key;               /* path whose value keeps per-key order, or NULL */
    int audit;                     /* BP_AUDIT_*: which delivered records' lineage is logged */
    bp_site_use dead_letter;       /* errors.dead_letter: a sink connector (name NULL: none) */
    /* ---- robust2 ---- */
    int64_t outage_limit_ms;       /* errors.outage_limit: how long records wait for a sink
                                    * that cannot connect before they are dead-lettered
                                    * (0: no limit, the default) */
    /* ---- issue 15 (workbench): review: { sla, confidence_threshold, reject_reasons } ---- */
    int64_t review_sla_ms;         /* an item older than this is late (default 24h) */
    double review_threshold;       /* a field less confident than this needs a look (0.8) */
    char **reject_reasons;         /* the reasons a reviewer picks from (a default list) */
    size_t n_reject_reasons;
} bp_site_route;

typedef struct bp_site {
    bp_ydoc *doc;
    char *file;
    char *dir;                     /* the site file's directory (BP_OPT_PATH values resolve here) */
    char *name;
    char *state_path;
    char **plugin_dirs;
    size_t n_plugin_dirs;
    bp_site_connector *connectors;
    size_t n_connectors;
    bp_site_route *routes;
    size_t n_routes;
    int64_t ledger_retention_ms;   /* ledger.retention: write-back ledger rows older are pruned */
    /* audit: { signing_key, checkpoint_every, checkpoint_interval, retention } (docs/audit.md) */
    char *audit_signing_key;       /* Ed25519 private key (PEM), resolved; NULL: no checkpoints */
    int64_t audit_checkpoint_every;        /* sign after this many new entries (default 1000) */
    int64_t audit_checkpoint_interval_ms;  /* or when the last is this old (default 10m) */
    int64_t audit_retention_ms;    /* payloads older are pruned (leaf hashes kept); 0: forever */
} bp_site;

/* The state file of site NAME whose file lies in site_dir and has no
 * `state:` (issue 21; site.c says the order: $STATE_DIRECTORY, then
 * <localstatedir>/lib/backplane for a site file in <sysconfdir>/backplane,
 * then beside the site file). The result may be relative to site_dir.
 * malloc'ed; NULL when out of memory. Thread: any. */
char *bp_site_default_state(const char *site_dir, const char *name);

/* The keys bp_site_load accepts in a section of the site file: "" (the top
 * level), "routes.*", "routes.*.errors", "routes.*.errors.retry",
 * "routes.*.review", "ledger", "audit". NULL-terminated, static; NULL for
 * another section. backplane-site(5) is checked against these (cmd_man.c). */
const char *const *bp_site_known_keys(const char *section);

/* Parses the site file's structure. Errors go to d with file:line:col. On
 * BP_OK *out is the site; on errors *out may still be set (when the YAML was
 * readable) so that bp_site_check can report more problems. */
bp_status bp_site_load(const char *path, bp_site **out, bp_diags *d);

/* Resolves plugins through reg, validates every option map against its
 * plugin's schema and the kinds (from: source, to: sink, through: transform),
 * and fills lib/config. Adds the site's plugin_dirs to reg first. Returns BP_OK
 * when d gained no errors. */
bp_status bp_site_check(bp_site *site, bp_registry *reg, bp_diags *d);

/* Creates a plugin instance: init_ex (ABI 1.3) with role and the bound
 * options when the plugin has it, else init. config and bound must stay
 * valid until the instance's destroy returns (they live in the bp_site).
 * Same results and *errmsg contract as struct bp_plugin.init. Any thread. */
bp_status bp_site_plugin_init(const bp_plugin_lib *lib, bp_instance *inst, const cJSON *config,
                              const void *bound, uint32_t role, void **self, char **errmsg);

const bp_site_connector *bp_site_find_connector(const bp_site *site, const char *name);

void bp_site_free(bp_site *site);

#endif
