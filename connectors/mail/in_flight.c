/* A growable ring of in-flight records (see in_flight.h). */
#include <stdlib.h>

#include <backplane/plugin.h>

#include "in_flight.h"

bp_status mail_flights_push(mail_flights *q, mail_flight f, uint64_t *token)
{
    if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 256;
        mail_flight *r = malloc(cap * sizeof(*r));
        if (r == NULL)
            return BP_ERR_NOMEM;
        for (size_t i = 0; i < q->n; i++)
            r[i] = q->ring[(q->head + i) % q->cap];
        free(q->ring);
        q->ring = r;
        q->head = 0;
        q->cap = cap;
    }
    f.token = *token = q->next_token++;
    q->ring[(q->head + q->n++) % q->cap] = f;
    return BP_OK;
}

const mail_flight *mail_flights_peek(const mail_flights *q)
{
    return q->n ? &q->ring[q->head] : NULL;
}

int mail_flights_pop(mail_flights *q, mail_flight *out)
{
    if (q->n == 0)
        return 0;
    *out = q->ring[q->head];
    q->head = (q->head + 1) % q->cap;
    q->n--;
    return 1;
}

void mail_flights_clear(mail_flights *q)
{
    mail_flight f;
    while (mail_flights_pop(q, &f))
        free(f.name);
    free(q->ring);
    *q = (mail_flights){0};
}

void mail_flight_set_fate(mail_flight *f, unsigned char fate)
{
    f->rejected |= fate == BP_FATE_DEAD_LETTERED;
    f->parked = fate == BP_FATE_PARKED;
}
