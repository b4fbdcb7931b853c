/* The envelope's private layout: only envelope*.c include this. */
#ifndef BP_CORE_ENVELOPE_PRIV_H
#define BP_CORE_ENVELOPE_PRIV_H

#include <stdatomic.h>
#include <backplane/envelope.h>

struct bp_envelope {
    atomic_int refs;
    cJSON *attrs;          /* context attributes, all strings */
    cJSON *ext;            /* extensions: string, number or bool */
    cJSON *data;           /* NULL when the event has no data */
    int data_b64;          /* data is base64 text of binary data */
    bp_attachment *att;    /* strings and bytes owned */
    size_t n_att, cap_att;
    bp_lineage *lin;       /* strings owned */
    size_t n_lin, cap_lin;
};

/* 1 when s is an RFC 3339 date-time. */
int bp_is_rfc3339(const char *s);
/* Writes a random (v4) UUID, 36 chars + NUL. */
void bp_uuid4(char out[37]);
/* Writes ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ". */
void bp_format_time_ms(int64_t ms, char out[32]);

#endif
