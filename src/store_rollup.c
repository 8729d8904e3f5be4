/* store_rollup.c: the per-hour flow roll-up (see store_rollup.h).
 *
 * flow_rollup holds, per hour of ts_start, rule, run, peer and verdict, the
 * flows, expected flows, bytes, first start and last end: what `query
 * coverage` sums instead of walking every flow row. The store adds each row
 * it writes to a small in-memory table of deltas (open addressing, bounded:
 * written out early when full) and upserts them just before the batch
 * commits, so the roll-up costs one statement per group, not per flow.
 *
 * A checkpoint row that is replaced must not count twice: its stored values
 * are read first and subtracted. Counts and bytes subtract exactly; first
 * start and last end cannot, so a group whose extremes may have come from
 * the removed row (the new row does not cover it: another group, or a later
 * start or earlier end) has them recomputed from flows (one hour of one
 * rule, through flows_rule), and a group left with no flows is deleted.
 *
 * rollup_state.flows_max_id says which flows the roll-up accounts for: it
 * is stamped with max(flows.id) at each commit, and set to -1 by triggers
 * when flows are deleted or edited by hand. A writer that finds it out of
 * step (rows written by an older smaudit) leaves the roll-up alone; the next
 * store_open rebuilds it, and `query` meanwhile reads flows. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/store.h"
#include "store_rollup.h"

/* ---- things you may reasonably want to change ---- */
#define ROLLUP_SLOTS 1024 /* delta table size (power of two) */
#define ROLLUP_FILL  768  /* deltas held before they are written early */

/* ---- types ---- */

struct delta {
	int used, recompute;
	int64_t hour, run_id, flows, expected, bytes;
	double t0, t1;
	char rule_id[64], peer[ADDR_STRLEN], verdict[32];
};

struct rollup {
	sqlite3 *db;
	sqlite3_stmt *upsert, *old_row, *fix_times, *drop_empty;
	int ok; /* the roll-up is in step with flows in this transaction */
	int used;
	struct delta slot[ROLLUP_SLOTS];
};

/* ---- private ---- */

/* s, or "" for NULL (the roll-up's key columns are NOT NULL). */
static const char *nz(const char *s)
{
	return s ? s : "";
}

/* "" as SQL NULL, for matching the flows a group was made of. */
static void bind_key_text(sqlite3_stmt *st, int i, const char *s)
{
	if (*s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 1099511628211ULL;
	return h;
}

/* The slot of the group of row (found or claimed); NULL when full. */
static struct delta *slot_of(struct rollup *r, const struct rollup_row *row, int64_t hour)
{
	const char *rule = nz(row->rule_id), *peer = nz(row->peer), *verdict = nz(row->verdict);
	uint64_t h = 1469598103934665603ULL;

	h = fnv(h, &hour, sizeof(hour));
	h = fnv(h, &row->run_id, sizeof(row->run_id));
	h = fnv(h, rule, strlen(rule));
	h = fnv(h, peer, strlen(peer));
	h = fnv(h, verdict, strlen(verdict));
	for (size_t i = 0; i < ROLLUP_SLOTS; i++) {
		struct delta *d = &r->slot[(h + i) & (ROLLUP_SLOTS - 1)];
		if (!d->used) {
			memset(d, 0, sizeof(*d));
			d->used = 1;
			d->hour = hour;
			d->run_id = row->run_id;
			d->t0 = INFINITY;
			d->t1 = -INFINITY;
			snprintf(d->rule_id, sizeof(d->rule_id), "%s", rule);
			snprintf(d->peer, sizeof(d->peer), "%s", peer);
			snprintf(d->verdict, sizeof(d->verdict), "%s", verdict);
			r->used++;
			return d;
		}
		if (d->hour == hour && d->run_id == row->run_id && !strcmp(d->rule_id, rule) &&
		    !strcmp(d->peer, peer) && !strcmp(d->verdict, verdict))
			return d;
	}
	return NULL;
}

/* Bind a group's key to ?1..?5 (hour, rule_id, run_id, peer_addr, verdict). */
static void bind_key(sqlite3_stmt *st, const struct delta *d)
{
	sqlite3_bind_int64(st, 1, d->hour);
	sqlite3_bind_text(st, 2, d->rule_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, d->run_id);
	sqlite3_bind_text(st, 4, d->peer, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, d->verdict, -1, SQLITE_STATIC);
}

/* Step a statement that returns no rows and reset it; 0 or -1. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Write one group's delta: upsert, then the group dropped when no flow is
 * left, else its extremes recomputed when asked. Returns 0 or -1. */
static int write_delta(struct rollup *r, const struct delta *d)
{
	bind_key(r->upsert, d);
	sqlite3_bind_int64(r->upsert, 6, d->flows);
	sqlite3_bind_int64(r->upsert, 7, d->expected);
	sqlite3_bind_int64(r->upsert, 8, d->bytes);
	sqlite3_bind_double(r->upsert, 9, d->t0);
	sqlite3_bind_double(r->upsert, 10, d->t1);
	if (step_done(r->upsert) < 0)
		return -1;
	if (d->flows < 0 || d->recompute) {
		bind_key(r->drop_empty, d);
		if (step_done(r->drop_empty) < 0)
			return -1;
	}
	if (d->recompute) {
		bind_key(r->fix_times, d);
		bind_key_text(r->fix_times, 6, d->rule_id);
		bind_key_text(r->fix_times, 7, d->verdict);
		sqlite3_bind_double(r->fix_times, 8, (double)d->hour * STORE_ROLLUP_SECONDS);
		sqlite3_bind_double(r->fix_times, 9, (double)(d->hour + 1) * STORE_ROLLUP_SECONDS);
		if (step_done(r->fix_times) < 0)
			return -1;
	}
	return 0;
}

/* Write every pending delta and empty the table. Returns 0 or -1. */
static int write_deltas(struct rollup *r)
{
	int rc = 0;

	for (size_t i = 0; i < ROLLUP_SLOTS && r->used; i++) {
		struct delta *d = &r->slot[i];
		if (!d->used)
			continue;
		if (rc == 0 && write_delta(r, d) < 0)
			rc = -1;
		d->used = 0;
		r->used--;
	}
	return rc;
}

/* Add sign times row to its group; recompute marks the group's extremes
 * for recomputation. Returns 0 or -1. */
static int add_row(struct rollup *r, const struct rollup_row *row, int sign, int recompute)
{
	int64_t hour = store_hour(row->ts_start);
	struct delta *d = slot_of(r, row, hour);

	if (!d) {
		if (write_deltas(r) < 0)
			return -1;
		d = slot_of(r, row, hour);
	}
	d->flows += sign;
	d->expected += sign * (row->verdict && !strcmp(row->verdict, "expected"));
	d->bytes += sign * row->bytes;
	if (sign > 0) {
		d->t0 = fmin(d->t0, row->ts_start);
		d->t1 = fmax(d->t1, row->ts_end);
	}
	d->recompute |= recompute;
	return 0;
}

/* 1 if two rows fall in the same group. */
static int same_group(const struct rollup_row *a, const struct rollup_row *b)
{
	return a->run_id == b->run_id && store_hour(a->ts_start) == store_hour(b->ts_start) &&
	       !strcmp(nz(a->rule_id), nz(b->rule_id)) && !strcmp(nz(a->peer), nz(b->peer)) &&
	       !strcmp(nz(a->verdict), nz(b->verdict));
}

/* *cur = 1 if rollup_state says the roll-up accounts for every flow row,
 * else 0. Returns 0, or -1 when it cannot be read. */
static int is_current(sqlite3 *db, int *cur)
{
	sqlite3_stmt *st;
	int rc;

	*cur = 0;
	if (sqlite3_prepare_v2(db,
	                       "SELECT count(*) FROM rollup_state WHERE id = 1"
	                       " AND flows_max_id IS (SELECT max(id) FROM flows)",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	*cur = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* sm_hour(TS): store_hour() for SQL (the rebuild groups by it). */
static void sql_hour(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	sqlite3_result_int64(ctx, store_hour(sqlite3_value_double(argv[0])));
}

/* ---- API ---- */

struct rollup *rollup_new(sqlite3 *db)
{
	struct rollup *r = calloc(1, sizeof(*r));
	static const char *key = "hour = ?1 AND rule_id = ?2 AND run_id = ?3 AND peer_addr = ?4"
	                         " AND verdict = ?5";
	char sql[640];

	if (!r)
		return NULL;
	r->db = db;
	if (sqlite3_prepare_v2(
	        db,
	        "INSERT INTO flow_rollup (hour, rule_id, run_id, peer_addr, verdict, flows,"
	        " expected, bytes, ts_first, ts_last) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
	        " ON CONFLICT (hour, rule_id, run_id, peer_addr, verdict) DO UPDATE SET"
	        " flows = flows + excluded.flows, expected = expected + excluded.expected,"
	        " bytes = bytes + excluded.bytes, ts_first = min(ts_first, excluded.ts_first),"
	        " ts_last = max(ts_last, excluded.ts_last)",
	        -1, &r->upsert, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
	                       "SELECT run_id, rule_id, peer_addr, verdict, ts_start, ts_end,"
	                       " orig_bytes + resp_bytes FROM flows WHERE id = ?1",
	                       -1, &r->old_row, NULL) != SQLITE_OK)
		goto fail;
	snprintf(sql, sizeof(sql),
	         "UPDATE flow_rollup SET (ts_first, ts_last) = (SELECT min(ts_start), max(ts_end)"
	         " FROM flows WHERE rule_id IS ?6 AND ts_start >= ?8 AND ts_start < ?9"
	         " AND run_id = ?3 AND peer_addr = ?4 AND verdict IS ?7) WHERE %s",
	         key);
	if (sqlite3_prepare_v2(db, sql, -1, &r->fix_times, NULL) != SQLITE_OK)
		goto fail;
	snprintf(sql, sizeof(sql), "DELETE FROM flow_rollup WHERE %s AND flows <= 0", key);
	if (sqlite3_prepare_v2(db, sql, -1, &r->drop_empty, NULL) != SQLITE_OK)
		goto fail;
	return r;
fail:
	rollup_free(r);
	return NULL;
}

void rollup_free(struct rollup *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->upsert);
	sqlite3_finalize(r->old_row);
	sqlite3_finalize(r->fix_times);
	sqlite3_finalize(r->drop_empty);
	free(r);
}

int rollup_begin(struct rollup *r)
{
	rollup_discard(r);
	return is_current(r->db, &r->ok);
}

int rollup_read_old(struct rollup *r, int64_t id, struct rollup_old *old)
{
	sqlite3_stmt *st = r->old_row;
	int rc;

	if (!r->ok)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *rule = (const char *)sqlite3_column_text(st, 1);
		const char *verdict = (const char *)sqlite3_column_text(st, 3);
		snprintf(old->rule_id, sizeof(old->rule_id), "%s", nz(rule));
		snprintf(old->peer, sizeof(old->peer), "%s",
		         nz((const char *)sqlite3_column_text(st, 2)));
		snprintf(old->verdict, sizeof(old->verdict), "%s", nz(verdict));
		old->row.run_id = sqlite3_column_int64(st, 0);
		old->row.rule_id = rule ? old->rule_id : NULL;
		old->row.peer = old->peer;
		old->row.verdict = verdict ? old->verdict : NULL;
		old->row.ts_start = sqlite3_column_double(st, 4);
		old->row.ts_end = sqlite3_column_double(st, 5);
		old->row.bytes = sqlite3_column_int64(st, 6);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int rollup_add(struct rollup *r, const struct rollup_old *old, const struct rollup_row *row)
{
	if (!r->ok)
		return 0;
	if (old) {
		/* the new row keeps the group's extremes when it covers the old one */
		int covered = same_group(&old->row, row) && row->ts_start <= old->row.ts_start &&
		              row->ts_end >= old->row.ts_end;
		if (add_row(r, &old->row, -1, !covered) < 0)
			return -1;
	}
	if (add_row(r, row, 1, 0) < 0)
		return -1;
	return r->used >= ROLLUP_FILL ? write_deltas(r) : 0;
}

int rollup_flush(struct rollup *r)
{
	if (!r->ok)
		return 0;
	if (write_deltas(r) < 0)
		return -1;
	return sqlite3_exec(r->db,
	                    "UPDATE rollup_state SET flows_max_id = (SELECT max(id) FROM flows)"
	                    " WHERE id = 1",
	                    NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}

void rollup_discard(struct rollup *r)
{
	for (size_t i = 0; i < ROLLUP_SLOTS && r->used; i++)
		if (r->slot[i].used) {
			r->slot[i].used = 0;
			r->used--;
		}
}

int rollup_rebuild_if_stale(sqlite3 *db)
{
	int fresh;

	if (sqlite3_create_function(db, "sm_hour", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                            sql_hour, NULL, NULL) != SQLITE_OK ||
	    is_current(db, &fresh) < 0)
		return -1;
	if (fresh)
		return 0;
	return sqlite3_exec(
	           db,
	           "DELETE FROM flow_rollup;"
	           " INSERT INTO flow_rollup (hour, rule_id, run_id, peer_addr, verdict, flows,"
	           " expected, bytes, ts_first, ts_last)"
	           " SELECT sm_hour(ts_start), ifnull(rule_id, ''), run_id, peer_addr,"
	           " ifnull(verdict, ''), count(*), sum(verdict IS 'expected'),"
	           " sum(orig_bytes + resp_bytes), min(ts_start), max(ts_end) FROM flows"
	           " GROUP BY 1, 2, 3, 4, 5;"
	           " INSERT OR REPLACE INTO rollup_state (id, flows_max_id)"
	           " VALUES (1, (SELECT max(id) FROM flows));",
	           NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}
