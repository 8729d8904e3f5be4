/* store_rollup.c: the per-hour flow roll-up (see store_rollup.h).
 *
 * flow_rollup holds, per hour of ts_start, rule, run and verdict, the flows,
 * expected flows, flows left unchecked, bytes, first start and last end; flow_peers, per day,
 * rule, run, peer and verdict, the hours (bits) in which that peer started
 * a flow: what `query coverage` reads instead of every flow row (distinct
 * peers do not add up across hours, so they are kept by peer, but per day,
 * so a busy host's thousands of peers make one row a day each, not one an
 * hour); flow_peer_ports, per day, run, peer, direction, service port and
 * verdict, the flows (the report's peer map). The store adds each row it writes to a small
 * in-memory table of deltas (open addressing, bounded: written out early when full) and upserts
 * them just before the batch commits: one statement per group, not per flow.
 *
 * A checkpoint row that is replaced must not count twice: its stored values
 * are read first and subtracted. Counts and bytes subtract exactly; first
 * start, last end and the peer's hour bits cannot, so when the new row does
 * not cover the old one (another group, or a later start or earlier end)
 * the old groups are recomputed from flows (one hour of one rule through
 * flows_rule; one peer's flows of one day through flows_peer), and groups
 * left with no flows are deleted.
 *
 * rollup_state.flows_max_id says which flows the roll-up accounts for: it
 * is stamped with max(flows.id) at each commit, and set to -1 by triggers
 * when flows are deleted or edited by hand. A writer that finds it out of
 * step (rows written by an older smaudit) leaves the roll-up alone; the next
 * store_open rebuilds it, and `query` meanwhile reads flows. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/store.h"
#include "store_rollup.h"

/* ---- things you may reasonably want to change ---- */
#define ROLLUP_SLOTS 2048 /* delta table size (power of two) */
#define ROLLUP_FILL  1536 /* deltas held before they are written early */

/* ---- types ---- */

/* One group's pending change: kind GROUP_FLOWS (flow_rollup: bucket is the
 * hour, peer ""), GROUP_PEER (flow_peers: bucket is the day) or GROUP_PORTS
 * (flow_peer_ports: bucket is the day, rule "", keyed also by direction
 * and port). */
enum { GROUP_FLOWS, GROUP_PEER, GROUP_PORTS };

struct delta {
	int used, kind, recompute, port;
	int64_t bucket, run_id, flows, expected, unchecked, bytes, hours;
	double t0, t1;
	char rule_id[64], peer[ADDR_STRLEN], verdict[32], dir[8];
};

struct rollup {
	sqlite3 *db;
	sqlite3_stmt *upsert, *old_row, *fix_times, *drop_empty;
	sqlite3_stmt *peer_upsert, *peer_fix, *peer_drop;
	sqlite3_stmt *ports_upsert, *ports_drop;
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

/* Mix the n bytes at p into h, eight at a time (a group key is hashed
 * three times per stored flow: byte-at-a-time FNV cost ~500 instructions). */
static uint64_t mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (; n; c += 8, n = n > 8 ? n - 8 : 0) {
		uint64_t w = 0;
		memcpy(&w, c, n < 8 ? n : 8);
		h = (h ^ w) * 0x9E3779B97F4A7C15ULL;
		h ^= h >> 29;
	}
	return h;
}

/* The slot of group (kind, bucket) of row, found or claimed; the peer is
 * part of the key of GROUP_PEER and GROUP_PORTS, the direction and port of
 * GROUP_PORTS, the rule of the others. NULL when the table is full. */
static struct delta *slot_of(struct rollup *r, const struct rollup_row *row, int kind,
                             int64_t bucket)
{
	const char *rule = kind != GROUP_PORTS ? nz(row->rule_id) : "", *verdict = nz(row->verdict);
	const char *peer = kind != GROUP_FLOWS ? nz(row->peer) : "";
	const char *dir = kind == GROUP_PORTS ? nz(row->direction) : "";
	int port = kind == GROUP_PORTS ? row->resp_port : 0;
	uint64_t h = 1469598103934665603ULL;

	h = mix(h, &kind, sizeof(kind));
	h = mix(h, &bucket, sizeof(bucket));
	h = mix(h, &row->run_id, sizeof(row->run_id));
	h = mix(h, rule, strlen(rule));
	h = mix(h, peer, strlen(peer));
	h = mix(h, verdict, strlen(verdict));
	h = mix(h, dir, strlen(dir));
	h = mix(h, &port, sizeof(port));
	for (size_t i = 0; i < ROLLUP_SLOTS; i++) {
		struct delta *d = &r->slot[(h + i) & (ROLLUP_SLOTS - 1)];
		if (!d->used) {
			memset(d, 0, sizeof(*d));
			d->used = 1;
			d->kind = kind;
			d->bucket = bucket;
			d->run_id = row->run_id;
			d->t0 = INFINITY;
			d->t1 = -INFINITY;
			rollup_copy(d->rule_id, sizeof(d->rule_id), rule);
			rollup_copy(d->peer, sizeof(d->peer), peer);
			rollup_copy(d->verdict, sizeof(d->verdict), verdict);
			rollup_copy(d->dir, sizeof(d->dir), dir);
			d->port = port;
			r->used++;
			return d;
		}
		if (d->kind == kind && d->bucket == bucket && d->run_id == row->run_id &&
		    !strcmp(d->rule_id, rule) && !strcmp(d->peer, peer) &&
		    !strcmp(d->verdict, verdict) && !strcmp(d->dir, dir) && d->port == port)
			return d;
	}
	return NULL;
}

/* Bind a group's key: ?1 bucket (hour or day), ?2 rule_id, ?3 run_id,
 * ?4 verdict, and ?5 peer_addr for flow_peers; for flow_peer_ports ?1 day,
 * ?2 run_id, ?3 peer_addr, ?4 direction, ?5 resp_port, ?7 verdict. */
static void bind_key(sqlite3_stmt *st, const struct delta *d)
{
	if (d->kind == GROUP_PORTS) {
		sqlite3_bind_int64(st, 1, d->bucket);
		sqlite3_bind_int64(st, 2, d->run_id);
		sqlite3_bind_text(st, 3, d->peer, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 4, d->dir, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 5, d->port);
		sqlite3_bind_text(st, 7, d->verdict, -1, SQLITE_STATIC);
		return;
	}
	sqlite3_bind_int64(st, 1, d->bucket);
	sqlite3_bind_text(st, 2, d->rule_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, d->run_id);
	sqlite3_bind_text(st, 4, d->verdict, -1, SQLITE_STATIC);
	if (d->kind == GROUP_PEER)
		sqlite3_bind_text(st, 5, d->peer, -1, SQLITE_STATIC);
}

/* Step a statement that returns no rows and reset it; 0 or -1. */
static int step_done(sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Run st (keyed by d) when cond holds; 0 or -1. */
static int step_if(int cond, sqlite3_stmt *st, const struct delta *d)
{
	if (!cond)
		return 0;
	bind_key(st, d);
	return step_done(st);
}

/* Bind the matching of d's flows (rule ?6, verdict ?7, start in [?8, ?9)
 * for buckets of span seconds) for a recomputation. */
static void bind_flows_of(sqlite3_stmt *st, const struct delta *d, double span)
{
	bind_key(st, d);
	bind_key_text(st, 6, d->rule_id);
	bind_key_text(st, 7, d->verdict);
	sqlite3_bind_double(st, 8, (double)d->bucket * span);
	sqlite3_bind_double(st, 9, (double)(d->bucket + 1) * span);
}

/* Write one group's delta: upsert; a flow_rollup group is dropped when no
 * flow is left, else its extremes recomputed when asked; a flow_peers
 * group has its hours recomputed when asked, dropped when none is left.
 * Returns 0 or -1. */
static int write_delta(struct rollup *r, const struct delta *d)
{
	if (d->kind == GROUP_PORTS) {
		bind_key(r->ports_upsert, d);
		sqlite3_bind_int64(r->ports_upsert, 6, d->flows);
		if (step_done(r->ports_upsert) < 0)
			return -1;
		return step_if(d->flows < 0, r->ports_drop, d);
	}
	if (d->kind == GROUP_PEER) {
		bind_key(r->peer_upsert, d);
		sqlite3_bind_int64(r->peer_upsert, 6, d->hours);
		if (step_done(r->peer_upsert) < 0)
			return -1;
		if (d->recompute) {
			bind_flows_of(r->peer_fix, d, 24.0 * STORE_ROLLUP_SECONDS);
			if (step_done(r->peer_fix) < 0)
				return -1;
		}
		return step_if(d->recompute, r->peer_drop, d);
	}
	bind_key(r->upsert, d);
	sqlite3_bind_int64(r->upsert, 5, d->flows);
	sqlite3_bind_int64(r->upsert, 6, d->expected);
	sqlite3_bind_int64(r->upsert, 7, d->bytes);
	sqlite3_bind_double(r->upsert, 8, d->t0);
	sqlite3_bind_double(r->upsert, 9, d->t1);
	sqlite3_bind_int64(r->upsert, 10, d->unchecked);
	if (step_done(r->upsert) < 0 || step_if(d->flows < 0 || d->recompute, r->drop_empty, d) < 0)
		return -1;
	if (!d->recompute)
		return 0;
	bind_flows_of(r->fix_times, d, STORE_ROLLUP_SECONDS);
	return step_done(r->fix_times);
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

/* The slot of a group, writing the table out first when it is full. */
static struct delta *slot_or_write(struct rollup *r, const struct rollup_row *row, int kind,
                                   int64_t bucket)
{
	struct delta *d = slot_of(r, row, kind, bucket);

	if (d || write_deltas(r) < 0)
		return d;
	return slot_of(r, row, kind, bucket);
}

/* Add sign times row to its groups; recompute marks them for recomputation
 * from flows (the removed row may have set what cannot be subtracted).
 * Returns 0 or -1. */
static int add_row(struct rollup *r, const struct rollup_row *row, int sign, int recompute)
{
	int64_t hour = store_hour(row->ts_start);
	int bit;
	int64_t day = store_day(hour, &bit);
	struct delta *d = slot_or_write(r, row, GROUP_FLOWS, hour), *p;

	if (!d)
		return -1;
	d->flows += sign;
	d->expected += sign * (row->verdict && !strcmp(row->verdict, "expected"));
	d->unchecked += sign * (row->unchecked != 0);
	d->bytes += sign * row->bytes;
	if (sign > 0) {
		d->t0 = fmin(d->t0, row->ts_start);
		d->t1 = fmax(d->t1, row->ts_end);
	}
	d->recompute |= recompute;
	d = slot_or_write(r, row, GROUP_PORTS, day); /* counts subtract exactly */
	if (!d)
		return -1;
	d->flows += sign;
	if (sign < 0 && !recompute)
		return 0; /* the row that replaces it sets the same peer bit */
	p = slot_or_write(r, row, GROUP_PEER, day);
	if (!p)
		return -1;
	if (sign > 0)
		p->hours |= 1LL << bit;
	p->recompute |= recompute;
	return 0;
}

/* 1 if two rows fall in the same groups. */
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
	                       " AND flows_max_id IS (SELECT max(id) FROM flows)"
	                       " AND flows_max_id IS (SELECT flows_max_id FROM peer_ports_state)",
	                       -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	*cur = rc == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* sm_hour(TS): store_hour() for SQL (rebuilds and recomputations). */
static void sql_hour(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL)
		return;
	sqlite3_result_int64(ctx, store_hour(sqlite3_value_double(argv[0])));
}

/* Register sm_hour on db; 0 or -1. */
static int register_hour(sqlite3 *db)
{
	return sqlite3_create_function(db, "sm_hour", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
	                               sql_hour, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}

/* A roll-up statement failed: drop this transaction's deltas and mark the
 * roll-up stale (rebuilt at the next store_open; query reads flows
 * meanwhile). The flows themselves are never failed for it. */
static void give_up(struct rollup *r)
{
	rollup_discard(r);
	r->ok = 0;
	sqlite3_exec(r->db,
	             "UPDATE rollup_state SET flows_max_id = -1;"
	             " UPDATE peer_ports_state SET flows_max_id = -1",
	             NULL, NULL, NULL);
}

/* ---- API ---- */

struct rollup *rollup_new(sqlite3 *db)
{
	static const struct {
		size_t off;
		const char *sql;
	} stmts[] = {
	    {offsetof(struct rollup, upsert),
	     "INSERT INTO flow_rollup (hour, rule_id, run_id, verdict, flows, expected, bytes,"
	     " ts_first, ts_last, unchecked) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)"
	     " ON CONFLICT (hour, rule_id, run_id, verdict) DO UPDATE SET"
	     " flows = flows + excluded.flows, expected = expected + excluded.expected,"
	     " unchecked = unchecked + excluded.unchecked,"
	     " bytes = bytes + excluded.bytes, ts_first = min(ts_first, excluded.ts_first),"
	     " ts_last = max(ts_last, excluded.ts_last)"},
	    {offsetof(struct rollup, old_row),
	     "SELECT run_id, rule_id, peer_addr, verdict, ts_start, ts_end,"
	     " orig_bytes + resp_bytes, unchecked IS NOT NULL, direction, resp_port"
	     " FROM flows WHERE id = ?1"},
	    {offsetof(struct rollup, ports_upsert),
	     "INSERT INTO flow_peer_ports (day, run_id, peer_addr, direction, resp_port, verdict,"
	     " flows) VALUES (?1,?2,?3,?4,?5,?7,?6) ON CONFLICT (day, run_id, peer_addr,"
	     " direction, resp_port, verdict) DO UPDATE SET flows = flows + excluded.flows"},
	    {offsetof(struct rollup, ports_drop),
	     "DELETE FROM flow_peer_ports WHERE day = ?1 AND run_id = ?2 AND peer_addr = ?3"
	     " AND direction = ?4 AND resp_port = ?5 AND verdict = ?7 AND flows <= 0"},
	    {offsetof(struct rollup, drop_empty),
	     "DELETE FROM flow_rollup WHERE hour = ?1 AND rule_id = ?2 AND run_id = ?3"
	     " AND verdict = ?4 AND flows <= 0"},
	    {offsetof(struct rollup, fix_times),
	     "UPDATE flow_rollup SET (ts_first, ts_last) = (SELECT min(ts_start), max(ts_end)"
	     " FROM flows WHERE rule_id IS ?6 AND ts_start >= ?8 AND ts_start < ?9"
	     " AND run_id = ?3 AND verdict IS ?7) WHERE hour = ?1 AND rule_id = ?2"
	     " AND run_id = ?3 AND verdict = ?4"},
	    {offsetof(struct rollup, peer_upsert),
	     "INSERT INTO flow_peers (day, rule_id, run_id, verdict, peer_addr, hours)"
	     " VALUES (?1,?2,?3,?4,?5,?6) ON CONFLICT (day, rule_id, run_id, peer_addr, verdict)"
	     " DO UPDATE SET hours = hours | excluded.hours"
	     " WHERE hours | excluded.hours <> hours"}, /* no write when no new hour */
	    {offsetof(struct rollup, peer_fix),
	     "UPDATE flow_peers SET hours = (SELECT ifnull(sum(DISTINCT 1 << (sm_hour(ts_start)"
	     " - ?1 * 24)), 0) FROM flows WHERE peer_addr = ?5 AND rule_id IS ?6"
	     " AND run_id = ?3 AND verdict IS ?7 AND ts_start >= ?8 AND ts_start < ?9)"
	     " WHERE day = ?1 AND rule_id = ?2 AND run_id = ?3 AND verdict = ?4"
	     " AND peer_addr = ?5"},
	    {offsetof(struct rollup, peer_drop),
	     "DELETE FROM flow_peers WHERE day = ?1 AND rule_id = ?2 AND run_id = ?3"
	     " AND verdict = ?4 AND peer_addr = ?5 AND hours = 0"},
	};
	struct rollup *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->db = db;
	if (register_hour(db) < 0) {
		free(r);
		return NULL;
	}
	for (size_t i = 0; i < sizeof(stmts) / sizeof(stmts[0]); i++)
		if (sqlite3_prepare_v2(db, stmts[i].sql, -1,
		                       (sqlite3_stmt **)((char *)r + stmts[i].off),
		                       NULL) != SQLITE_OK) {
			rollup_free(r);
			return NULL;
		}
	return r;
}

void rollup_free(struct rollup *r)
{
	if (!r)
		return;
	sqlite3_finalize(r->upsert);
	sqlite3_finalize(r->old_row);
	sqlite3_finalize(r->fix_times);
	sqlite3_finalize(r->drop_empty);
	sqlite3_finalize(r->peer_upsert);
	sqlite3_finalize(r->peer_fix);
	sqlite3_finalize(r->peer_drop);
	sqlite3_finalize(r->ports_upsert);
	sqlite3_finalize(r->ports_drop);
	free(r);
}

void rollup_begin(struct rollup *r)
{
	rollup_discard(r);
	is_current(r->db, &r->ok); /* unreadable: not current */
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
		old->row.unchecked = sqlite3_column_int(st, 7);
		snprintf(old->direction, sizeof(old->direction), "%s",
		         nz((const char *)sqlite3_column_text(st, 8)));
		old->row.direction = old->direction;
		old->row.resp_port = sqlite3_column_int(st, 9);
	}
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		give_up(r);
	return rc == SQLITE_ROW;
}

void rollup_add(struct rollup *r, const struct rollup_old *old, const struct rollup_row *row)
{
	if (!r->ok)
		return;
	if (old) {
		/* the new row keeps the group's extremes when it covers the old one */
		int covered = same_group(&old->row, row) && row->ts_start <= old->row.ts_start &&
		              row->ts_end >= old->row.ts_end;
		if (add_row(r, &old->row, -1, !covered) < 0) {
			give_up(r);
			return;
		}
	}
	if (add_row(r, row, 1, 0) < 0 || (r->used >= ROLLUP_FILL && write_deltas(r) < 0))
		give_up(r);
}

void rollup_flush(struct rollup *r)
{
	if (!r->ok)
		return;
	if (write_deltas(r) < 0 ||
	    sqlite3_exec(r->db,
	                 "UPDATE rollup_state SET flows_max_id = (SELECT max(id) FROM flows)"
	                 " WHERE id = 1; INSERT OR REPLACE INTO peer_ports_state (id,"
	                 " flows_max_id) SELECT 1, flows_max_id FROM rollup_state WHERE id = 1",
	                 NULL, NULL, NULL) != SQLITE_OK)
		give_up(r);
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

	if (register_hour(db) < 0 || is_current(db, &fresh) < 0)
		return -1;
	if (fresh)
		return 0;
	/* day and bit as store_day(): h = day * 24 + bit, 0 <= bit < 24 */
	return sqlite3_exec(
	           db,
	           "DELETE FROM flow_rollup; DELETE FROM flow_peers; DELETE FROM flow_peer_ports;"
	           " INSERT INTO flow_rollup (hour, rule_id, run_id, verdict, flows, expected,"
	           " unchecked, bytes, ts_first, ts_last)"
	           " SELECT sm_hour(ts_start), ifnull(rule_id, ''), run_id, ifnull(verdict, ''),"
	           " count(*), sum(verdict IS 'expected'), sum(unchecked IS NOT NULL),"
	           " sum(orig_bytes + resp_bytes), min(ts_start), max(ts_end) FROM flows"
	           " GROUP BY 1, 2, 3, 4;"
	           " INSERT INTO flow_peers (day, rule_id, run_id, peer_addr, verdict, hours)"
	           " SELECT (h - b) / 24, r, run_id, peer_addr, v, sum(DISTINCT 1 << b)"
	           " FROM (SELECT h, (h % 24 + 24) % 24 AS b, r, run_id, peer_addr, v"
	           " FROM (SELECT sm_hour(ts_start) AS h, ifnull(rule_id, '') AS r, run_id,"
	           " peer_addr, ifnull(verdict, '') AS v FROM flows))"
	           " GROUP BY 1, 2, 3, 4, 5;"
	           " INSERT INTO flow_peer_ports (day, run_id, peer_addr, direction, resp_port,"
	           " verdict, flows) SELECT (h - (h % 24 + 24) % 24) / 24, run_id, peer_addr,"
	           " direction, resp_port, v, count(*) FROM (SELECT sm_hour(ts_start) AS h, run_id,"
	           " peer_addr, direction, resp_port, ifnull(verdict, '') AS v FROM flows)"
	           " GROUP BY 1, 2, 3, 4, 5, 6;"
	           " INSERT OR REPLACE INTO rollup_state (id, flows_max_id)"
	           " VALUES (1, (SELECT max(id) FROM flows));"
	           " INSERT OR REPLACE INTO peer_ports_state (id, flows_max_id)"
	           " VALUES (1, (SELECT max(id) FROM flows));",
	           NULL, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}
