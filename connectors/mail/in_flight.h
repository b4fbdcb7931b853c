/* Records a mail source has pushed and the core has not acked yet, in push
 * order (acks arrive in that order): what the ack needs to write back.
 * Internal header of connectors/mail. */
#ifndef BP_IN_FLIGHT_H
#define BP_IN_FLIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <backplane/status.h>

typedef struct mail_flight {
    uint64_t token;                  /* set by push */
    char *name;                      /* maildir: file name in new/ (owned), else NULL */
    uint32_t box, uid, uidvalidity;  /* imap: mailbox index, UID, its UIDVALIDITY */
    int rejected;                    /* dead-lettered (by the source itself or the route) */
    int parked;                      /* parked for review (ack_fates) */
} mail_flight;

typedef struct mail_flights {
    mail_flight *ring;
    size_t head, n, cap;
    uint64_t next_token;
} mail_flights;

/* Appends f (taking f.name) with the next token, stored in *token.
 * BP_ERR_NOMEM leaves q as it was (f.name is not taken). */
bp_status mail_flights_push(mail_flights *q, mail_flight f, uint64_t *token);

/* The oldest record, borrowed; NULL when none. */
const mail_flight *mail_flights_peek(const mail_flights *q);

/* Removes the oldest into *out (the caller owns out->name); 0 when empty. */
int mail_flights_pop(mail_flights *q, mail_flight *out);

/* Notes what the core did with f's record (a bp_fate from ack_fates):
 * dead-lettered sets rejected, parked sets parked. */
void mail_flight_set_fate(mail_flight *f, unsigned char fate);

/* Frees everything (names too). */
void mail_flights_clear(mail_flights *q);

#endif
