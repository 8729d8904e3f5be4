/* store_rollup.h: the per-hour flow roll-up the store keeps beside flows
 * (tables flow_rollup, flow_peers and flow_peer_ports, db/schema.sql), for
 * `query coverage` and `report`. Private to src/.
 *
 * Ownership: a struct rollup belongs to one store and uses its connection;
 * every call runs inside the store's open transaction, so the roll-up and
 * the flows it sums commit together. */
#ifndef SMAUDIT_STORE_ROLLUP_H
#define SMAUDIT_STORE_ROLLUP_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <sqlite3.h>

#include "smaudit/addr.h"

/* What one flow row adds to the roll-up (strings borrowed; NULL = none). */
struct rollup_row {
	int64_t run_id;
	const char *rule_id, *peer, *verdict, *direction;
	int resp_port;
	double ts_start, ts_end;
	int64_t bytes; /* orig_bytes + resp_bytes */
	int unchecked; /* flows.unchecked is set */
};

/* A flow row as stored before (a checkpoint row about to be replaced), with
 * its strings copied. */
struct rollup_old {
	struct rollup_row row;
	char rule_id[64], peer[ADDR_STRLEN], verdict[32], direction[8];
};

struct rollup;

/* s into dst (size > 0 bytes), cut as snprintf("%s") cuts it, without
 * stdio (a few per stored flow). */
static inline void rollup_copy(char *dst, size_t size, const char *s)
{
	size_t n = strlen(s);

	n = n < size ? n : size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
}

/* Statements and an empty delta table on db; NULL when out of memory or
 * the schema lacks the roll-up. */
struct rollup *rollup_new(sqlite3 *db);

/* Free r (NULL is fine); pending deltas are dropped. */
void rollup_free(struct rollup *r);

/* At the start of a write transaction: is the roll-up in step with flows
 * (rollup_state says so)? When not, this transaction leaves it alone (it
 * stays stale until the next store_open rebuilds it). This call and those
 * below never fail a flow: when a roll-up statement fails they mark it
 * stale (rollup_state -1) and leave it alone for the transaction. */
void rollup_begin(struct rollup *r);

/* Read flow row id as stored into *old; 1 if found, 0 if not (or the
 * roll-up is stale). Call before replacing the row. */
int rollup_read_old(struct rollup *r, int64_t id, struct rollup_old *old);

/* Account for a stored row: row added, and old (NULL = none) replaced by
 * it. May write deltas when its table is full. */
void rollup_add(struct rollup *r, const struct rollup_old *old, const struct rollup_row *row);

/* Write the pending deltas and stamp rollup_state, inside the open
 * transaction, just before it commits. */
void rollup_flush(struct rollup *r);

/* Drop pending deltas (the transaction is being rolled back). */
void rollup_discard(struct rollup *r);

/* Migration: rebuild the roll-up from flows when it is missing or stale
 * (written by an older smaudit, or flows edited by hand). Registers the SQL
 * function sm_hour on db. Inside a transaction. Returns 0 or -1. */
int rollup_rebuild_if_stale(sqlite3 *db);

#endif
