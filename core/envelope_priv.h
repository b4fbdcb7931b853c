/* The envelope's private layout: only envelope*.c include this. */
#ifndef BP_CORE_ENVELOPE_PRIV_H
#define BP_CORE_ENVELOPE_PRIV_H

#include <stdatomic.h>
#include <backplane/envelope.h>

/* The CloudEvents context attributes by their index in bp_ce_context_attrs;
 * the first four are required. */
enum bp_env_attr_index {
    BP_ENV_SPECVERSION, BP_ENV_ID, BP_ENV_SOURCE, BP_ENV_TYPE,
    BP_ENV_SUBJECT, BP_ENV_TIME, BP_ENV_DATACONTENTTYPE, BP_ENV_DATASCHEMA,
    BP_ENV_N_ATTRS,
    BP_ENV_N_REQUIRED = BP_ENV_SUBJECT
};

/* One context attribute: a cJSON string node embedded in the envelope (so a
 * path lookup can hand it out borrowed), its value inline when short. Absent
 * when node.valuestring is NULL. Never linked into a cJSON tree. */
typedef struct bp_env_attr {
    cJSON node;
    size_t len;            /* strlen(node.valuestring) */
    char small[40];
} bp_env_attr;

struct bp_envelope {
    atomic_int refs;
    /* Context attributes by index of bp_ce_context_attrs: a record sets about
     * six of them, and as members of a cJSON object each cost three mallocs
     * and a strcmp scan per lookup (a visible share of a Kafka relay). */
    bp_env_attr attr[BP_ENV_N_ATTRS];
    cJSON *ext;            /* extensions: string, number or bool; NULL when none */
    cJSON *data;           /* NULL when the event has no data */
    int data_b64;          /* data is base64 text of binary data */
    char *raw;             /* deferred data: JSON text not parsed yet (see set_data_json) */
    size_t raw_len;
    char *raw_origin;      /* where raw came from, for the parse error (in raw's block) */
    bp_attachment *att;    /* strings and bytes owned */
    size_t n_att, cap_att;
    bp_lineage *lin;       /* strings owned */
    size_t n_lin, cap_lin;
    /* When the record came in (wall ms; 0 unknown) and, once a person had to
     * look at it, when it was parked: the cycle figures of issue 22
     * (route_stats.h bp_route_stats_cycles). Not serialised: a parked
     * record's times travel in its review_queue row. */
    int64_t arrived_ms, parked_ms;
};

/* The data tree, parsing deferred JSON text first (a failure leaves data NULL;
 * the core calls bp_envelope_materialize before any plugin sees the record, so
 * this only matters for direct callers). */
cJSON *bp_env_data(const bp_envelope *env);

/* Index of a context attribute's name (len bytes at name, not necessarily
 * NUL-terminated) in bp_ce_context_attrs, or -1. */
int bp_env_attr_index(const char *name, size_t len);

/* The embedded node of a context attribute (borrowed), NULL when unset. */
const cJSON *bp_env_attr_node(const bp_envelope *env, int index);

/* 1 when s is an RFC 3339 date-time. */
int bp_is_rfc3339(const char *s);
/* Writes a random (v4) UUID, 36 chars + NUL. */
void bp_uuid4(char out[37]);
/* Writes ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void bp_format_time_ms(int64_t ms, char out[32]);

#endif
