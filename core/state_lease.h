/* Leases with fencing epochs and the instances' heartbeats (DESIGN.md §10,
 * issue 20): a source that cannot be read by two instances at once runs on
 * the instance holding its lease row (name, holder, epoch, expires_ms). Times
 * are the database's clock (PostgreSQL's clock_timestamp(); SQLite: the
 * host's), never the instances'. The epoch grows each time the lease changes
 * hands; the checkpoint and ledger writes of a fenced route carry it and are
 * refused, in their own transaction, once a newer epoch exists.
 * Thread: any (the store's mutex). */
#ifndef BP_CORE_STATE_LEASE_H
#define BP_CORE_STATE_LEASE_H

#include <stdint.h>

#include "state.h"

/* Takes lease name for holder when it is free, expired or already holder's:
 * one conditional statement. BP_OK: *epoch is the lease's epoch (a new one
 * unless holder held it unexpired). BP_AGAIN: another holder has it
 * (*other, when not NULL, gets its name malloc'ed, *expires_in_ms how long it
 * still runs on the database clock). BP_ERR_IO: the store failed. */
bp_status bp_state_lease_acquire(bp_state *st, const char *name, const char *holder,
                                 int64_t ttl_ms, int64_t *epoch, char **other,
                                 int64_t *expires_in_ms);
/* Extends holder's lease at epoch by ttl_ms from now. BP_OK, BP_AGAIN when
 * it is no longer holder's at that epoch (taken over), BP_ERR_IO. */
bp_status bp_state_lease_renew(bp_state *st, const char *name, const char *holder,
                               int64_t epoch, int64_t ttl_ms);
/* Gives the lease up (expires now; the epoch stays for the next taker to
 * pass). BP_OK also when it was not holder's any more. */
bp_status bp_state_lease_release(bp_state *st, const char *name, const char *holder,
                                 int64_t epoch);

/* Fencing: from now on, every checkpoint and ledger write whose scope starts
 * with "ROUTE/" checks, in its transaction, that lease name is still at
 * epoch; a write that finds a newer epoch is refused (BP_ERR_IO) and logged,
 * and bp_state_fenced(st, route) turns 1. epoch 0 removes the fence. */
bp_status bp_state_fence_set(bp_state *st, const char *route, const char *lease, int64_t epoch);
/* 1 once a write of route was refused by its fence. */
int bp_state_fenced(bp_state *st, const char *route);

/* The instance's heartbeat row (name, host, pid, started, last beat). */
bp_status bp_state_heartbeat(bp_state *st, const char *instance, const char *host, int64_t pid,
                             int64_t started_ms);

/* For `status`: fn per lease (holder, epoch, ms until it expires, negative:
 * expired) and per instance (ms since its last heartbeat). */
bp_status bp_state_lease_foreach(bp_state *st,
                                 void (*fn)(const char *name, const char *holder, int64_t epoch,
                                            int64_t expires_in_ms, void *ud),
                                 void *ud);
bp_status bp_state_instance_foreach(bp_state *st,
                                    void (*fn)(const char *name, const char *host, int64_t pid,
                                               int64_t beat_age_ms, void *ud),
                                    void *ud);

#endif
