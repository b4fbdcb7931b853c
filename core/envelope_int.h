/* Core-internal envelope helpers (not part of the SDK). */
#ifndef BP_CORE_ENVELOPE_INT_H
#define BP_CORE_ENVELOPE_INT_H

#include <backplane/envelope.h>

/* 1 when data is a cJSON string holding base64 text that came from (and goes
 * back to) CloudEvents "data_base64"; 0 for ordinary data. */
int bp_envelope_data_is_base64(const bp_envelope *env);
/* Marks data as base64 (on=1) or ordinary (on=0). Envelope must be writable. */
void bp_envelope_set_data_base64(bp_envelope *env, int on);

/* 1 when name is one of the CloudEvents 1.0 context attributes. */
int bp_ce_is_context_attr(const char *name);
/* 1 when name is a valid extension attribute name (a-z0-9, 1..20 chars). */
int bp_ce_is_valid_ext_name(const char *name);

/* The context attributes in serialisation order, NULL-terminated. */
extern const char *const bp_ce_context_attrs[];

/* The lineage as a JSON array text (malloc'ed), NULL when there is none or
 * out of memory. Same member names as "bplineage" in BP_SER_FULL. */
char *bp_envelope_lineage_json(const bp_envelope *env);

/* Removes every lineage entry (a writable envelope; no-op when shared). */
void bp_envelope_clear_lineage(bp_envelope *env);

/* Shared by the serialisers (envelope_json.c, envelope_binary.c). */
/* RFC 4648 base64 with padding; returns malloc'ed NUL-terminated text. */
char *bp_ce_base64_encode(const unsigned char *bytes, size_t size, size_t *out_len);
/* Strict decode (invalid characters or padding: BP_ERR_INVALID); *out malloc'ed. */
bp_status bp_ce_base64_decode(const char *text, size_t len, unsigned char **out,
                              size_t *out_size);
/* 1 when s[0..n) is strict UTF-8 (RFC 3629) without NUL: fits a cJSON string. */
int bp_ce_is_utf8_text(const unsigned char *s, size_t n);
/* Parses JSON text (not NUL-terminated) into *root; errors with line/column. */
bp_status bp_ce_json_parse(const char *text, size_t len, cJSON **root, char **errmsg);
/* Validates a parsed structured-mode event object and builds an envelope. */
bp_status bp_ce_envelope_from_cjson(cJSON *obj, bp_envelope **out, char **errmsg);

/* Fills a missing id with a deterministic one (ABI 1.3), so that a record a
 * source reads again after a crash keeps its id and a write-back ledger
 * recognises it. With token (the source declares BP_PLUGIN_STABLE_TOKENS): from
 * source + token. Without: from source, type, subject, datacontenttype, data
 * (the deferred JSON text as given, or the tree's compact JSON) and
 * attachments (names, media types, bytes) — identical records then share an
 * id. SHA-256, written as an RFC 9562 version-8 UUID. Needs source set; an id
 * already set is kept. env must be writable. Errors: BP_ERR_INVALID (no
 * source, not writable), BP_ERR_NOMEM. */
bp_status bp_envelope_fill_id(bp_envelope *env, const uint64_t *token);

/* BP_OK when env's data can travel in an envelope's JSON: at most
 * BP_JSON_MAX_DEPTH - 1 (999) levels of objects and arrays, since the envelope
 * takes one and cJSON reads no deeper. Otherwise BP_ERR_DEPTH with *errmsg
 * (malloc'ed, when errmsg is not NULL) "data nested deeper than 999 levels (an
 * envelope holds at most 1000)". Deferred data text is scanned, not parsed.
 * (robust2, issue 17: such a record used to fail as "out of memory" at every
 * sink, in the dead-letter store too, and stop its route for good.) */
bp_status bp_envelope_check_depth(const bp_envelope *env, char **errmsg);

/* The host's flag_add (ABI 1.3, core/flags.c): the contract in plugin.h. */
bp_status bp_flag_add(bp_envelope *env, const char *flag, const char *reason, const char *by);

/* When the record came in and when it was parked (wall ms, 0: unknown /
 * never), for the cycle figures (issue 22); copied by bp_envelope_dup, never
 * serialised. Any thread that owns env. */
void bp_env_set_times(bp_envelope *env, int64_t arrived_ms, int64_t parked_ms);
void bp_env_times(const bp_envelope *env, int64_t *arrived_ms, int64_t *parked_ms);

#endif
