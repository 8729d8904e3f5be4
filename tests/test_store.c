/* test_store.c: the SQLite store on real database files: creation with the
 * schema version, WAL mode, runs appended, flows batched and committed,
 * older databases migrated, and files that are not ours refused. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "smaudit/store.h"
#include "testutil.h"

static char dir[64], path[128];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/t.db", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

/* One integer from a query on a separate read-only connection. */
#define q1(sql) tu_q1(path, sql)

static void exec_raw(const char *sql)
{
	sqlite3 *db;
	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
	sqlite3_close(db);
}

TestSuite(store, .init = setup, .fini = teardown);

Test(store, creates_schema_in_wal_mode_and_stores_a_run)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "127.0.0.10/32"};
	int64_t id;
	struct flow_record r;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	for (uint16_t p = 0; p < 2500; p++) { /* more than one batch */
		r = tu_sample_flow((uint16_t)(40000 + p));
		cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	}
	run.packets = 22500;
	run.flows = 2500;
	run.status = "complete";
	cr_assert_eq(store_run_end(s, id, &run, err, sizeof(err)), 0, "%s", err);
	store_close(s);

	cr_assert_eq(q1("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 2500);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND packets=22500 AND "
	                "finished IS NOT NULL"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE ts_start = 1793491200.123456 AND "
	                "app_proto='TLS' AND app_confidence='dpi' AND peer_addr='127.0.0.50' AND "
	                "direction='in' AND vlan IS NULL"),
	             2500);
	cr_assert_eq(
	    q1("SELECT count(*) FROM flows_v WHERE start_utc LIKE '2026-11-01 00:00:00.12%'"),
	    2500);
	{
		sqlite3 *db;
		sqlite3_stmt *st;
		cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
		sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL);
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
		cr_assert_str_eq((const char *)sqlite3_column_text(st, 0), "wal");
		sqlite3_finalize(st);
		sqlite3_close(db);
	}
}

Test(store, a_second_run_appends)
{
	char err[256];
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "h"};
	int64_t id1, id2;
	struct flow_record r = tu_sample_flow(40000);

	for (int k = 0; k < 2; k++) {
		struct store *s = store_open(path, err, sizeof(err));
		r = tu_sample_flow(40000); /* each run has its own records */
		cr_assert_not_null(s, "%s", err);
		cr_assert_eq(store_run_begin(s, &run, NULL, k ? &id2 : &id1, err, sizeof(err)), 0);
		cr_assert_eq(store_flow(s, k ? id2 : id1, &r, NULL, err, sizeof(err)), 0);
		run.status = "complete";
		cr_assert_eq(store_run_end(s, k ? id2 : id1, &run, err, sizeof(err)), 0);
		store_close(s);
	}
	cr_assert_neq(id1, id2);
	cr_assert_eq(q1("SELECT count(DISTINCT run_id) FROM flows"), 2);
}

Test(store, unfinished_run_keeps_flows_committed_before_close)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "h"};
	int64_t id;
	struct flow_record r = tu_sample_flow(40000);

	cr_assert_not_null(s);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0);
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0);
	store_close(s); /* no run_end: e.g. the process is stopping */
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='running'"), 1);
}

Test(store, a_checkpointed_flow_is_replaced_not_duplicated)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "live", .source = "lo", .hosts = "h"};
	int64_t id, row;
	struct flow_record r = tu_sample_flow(40000);

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0);
	r.end_reason = END_CHECKPOINT;
	strcpy(r.conn_state, "S1");
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	row = r.store_id;
	cr_assert_gt(row, 0, "the row id is kept in the record");
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE end_reason='checkpoint'"), 1);

	r.end_reason = END_CLOSED;
	strcpy(r.conn_state, "SF");
	r.orig_pkts = 50;
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(r.store_id, row);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 1, "one row per flow");
	cr_assert_eq(
	    q1("SELECT orig_pkts FROM flows WHERE end_reason='closed' AND conn_state='SF'"), 50);
}

Test(store, committed_counts_rows_added_and_committed_once)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "live", .source = "lo", .hosts = "h"};
	int64_t id;
	struct flow_record a = tu_sample_flow(40000), b = tu_sample_flow(40001);

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0);
	a.end_reason = END_CHECKPOINT;
	cr_assert_eq(store_flow(s, id, &a, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flow(s, id, &b, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flows_committed(s), 0, "nothing committed yet");
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flows_committed(s), 2);
	a.end_reason = END_CLOSED; /* replaces its checkpoint row */
	cr_assert_eq(store_flow(s, id, &a, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flows_committed(s), 2, "a replaced row is not counted again");
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 2);
}

/* Open the test database and begin a run; *id gets its id. */
static struct store *open_with_run(int64_t *id)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "live", .source = "lo", .hosts = "h"};

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, id, err, sizeof(err)), 0, "%s", err);
	return s;
}

/* Open and close the test database: what store_open does to it (migrations). */
static void reopen(void)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));

	cr_assert_not_null(s, "%s", err);
	store_close(s);
}

/* Store r as judged by rule (NULL = none) with verdict k. */
static void put(struct store *s, int64_t run, struct flow_record *r, const char *rule,
                enum verdict_kind k)
{
	struct rule ru;
	struct verdict_result v;
	char err[256];

	memset(&ru, 0, sizeof(ru));
	memset(&v, 0, sizeof(v));
	snprintf(ru.id, sizeof(ru.id), "%s", rule ? rule : "");
	v.rule = rule ? &ru : NULL;
	v.kind = k;
	cr_assert_eq(store_flow(s, run, r, &v, err, sizeof(err)), 0, "%s", err);
}

Test(store, the_rollup_sums_flows_and_counts_a_checkpointed_flow_once)
{
	char err[256];
	struct flow_record a = tu_sample_flow(40000), b = tu_sample_flow(40001),
	                   c = tu_sample_flow(40002), d;
	int64_t id;
	struct store *s = open_with_run(&id);

	/* a: checkpointed, committed, then ended later in the same group */
	a.end_reason = END_CHECKPOINT;
	put(s, id, &a, "https-in", VERDICT_EXPECTED);
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	a.end_reason = END_CLOSED;
	a.ts_end_us += 90000000;
	a.resp_bytes = 7000;
	put(s, id, &a, "https-in", VERDICT_EXPECTED);
	/* b starts first and ends last in its group, c sits inside it; then b's
	 * final row moves to another verdict: the group keeps c's times only */
	b.ts_end_us += 5000000;
	c.ts_start_us += 500000;
	b.end_reason = END_CHECKPOINT;
	put(s, id, &b, "http-in", VERDICT_EXPECTED);
	put(s, id, &c, "http-in", VERDICT_EXPECTED);
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	b.end_reason = END_CLOSED;
	put(s, id, &b, "http-in", VERDICT_PROTOCOL_MISMATCH);
	/* e: the only flow of its peer; its final row moves to another verdict,
	 * so the peer's row under the old verdict goes */
	{
		struct flow_record e = tu_sample_flow(40004);
		uint8_t o[4] = {127, 0, 0, 77};
		addr_set4(&e.orig, o);
		e.end_reason = END_CHECKPOINT;
		put(s, id, &e, "http-in", VERDICT_EXPECTED);
		cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
		e.end_reason = END_CLOSED;
		put(s, id, &e, "http-in", VERDICT_UNEXPECTED_PEER);
	}
	/* d: checkpoint and final row in one batch; no verdict at all */
	d = tu_sample_flow(40003);
	d.ts_start_us = 1793491200000000ULL; /* exactly on an hour */
	d.end_reason = END_CHECKPOINT;
	cr_assert_eq(store_flow(s, id, &d, NULL, err, sizeof(err)), 0, "%s", err);
	d.end_reason = END_TIMEOUT;
	d.ts_end_us += 1000000;
	cr_assert_eq(store_flow(s, id, &d, NULL, err, sizeof(err)), 0, "%s", err);
	/* more groups than the delta table holds: written before the commit */
	for (int i = 0; i < 1000; i++) {
		struct flow_record e = tu_sample_flow((uint16_t)(10000 + i));
		uint8_t o[4] = {127, 1, (uint8_t)(i >> 8), (uint8_t)i};
		addr_set4(&e.orig, o);
		e.ts_start_us += (uint64_t)(i % 3) * 3600000000ULL;
		put(s, id, &e, i % 2 ? "https-in" : NULL,
		    i % 5 ? VERDICT_EXPECTED : VERDICT_UNEXPECTED_PEER);
	}
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 1005, "one row per flow");
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "the roll-up equals flows grouped by hour");
	cr_assert_eq(q1("SELECT sum(flows) FROM flow_rollup"), 1005);
	cr_assert_eq(q1("SELECT count(*) FROM flow_rollup WHERE rule_id = 'http-in'"), 3);
	cr_assert_eq(q1("SELECT count(*) FROM flow_peers WHERE peer_addr = '127.0.0.77'"), 1);
	cr_assert_eq(q1("SELECT flows_max_id = (SELECT max(id) FROM flows) FROM rollup_state"), 1);
}

/* Issue 13: new rows are held and inserted several at once; rows keep the
 * order they came in (their ids), a checkpoint row gets its id at once, a
 * replacement sees the rows before it, and a commit writes what is held. */
Test(store, held_rows_keep_their_order_ids_and_roll_up)
{
	char err[256], sql[96];
	struct flow_record cp = tu_sample_flow(30000), r;
	int64_t id, cp_row;
	struct store *s = open_with_run(&id);

	cp.end_reason = END_CHECKPOINT;
	put(s, id, &cp, "https-in", VERDICT_EXPECTED);
	cp_row = cp.store_id;
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 21; i++) {
		r = tu_sample_flow((uint16_t)(40000 + i));
		r.ts_start_us += (uint64_t)i * 1000000;
		if (i == 5) { /* a new checkpoint row amid held rows */
			r.end_reason = END_CHECKPOINT;
			put(s, id, &r, "https-in", VERDICT_EXPECTED);
			cr_assert_eq(r.store_id, 7, "ids 2-6 went to the rows before it");
		} else if (i == 11) { /* the first checkpoint row's flow ends */
			cp.end_reason = END_CLOSED;
			cp.resp_bytes = 1234;
			put(s, id, &cp, "https-in", VERDICT_EXPECTED);
			cr_assert_eq(cp.store_id, cp_row);
		} else {
			put(s, id, &r, i % 3 ? "https-in" : NULL,
			    i % 3 ? VERDICT_EXPECTED : VERDICT_UNEXPECTED_PORT);
		}
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flows_committed(s), 21, "1 + 20 rows added, 1 replaced");
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 21);
	cr_assert_eq(q1("SELECT resp_bytes FROM flows WHERE uid = 'C30000' AND id = 1"), 1234);
	for (int i = 0; i < 21; i++) { /* ids in the order the rows came */
		snprintf(sql, sizeof(sql), "SELECT id FROM flows WHERE uid = 'C%d'", 40000 + i);
		if (i != 11)
			cr_expect_eq(q1(sql), i < 11 ? i + 2 : i + 1, "%s", sql);
	}
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "the roll-up equals flows grouped by hour");
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), 21);
}

/* A row the database refuses fails its batch, wherever it was held: the
 * call that inserts it (a later store_flow, or the commit) returns -1, the
 * caller rolls back, the batch before it stays, and the store goes on. */
/* A parameter a row leaves bound is not bound again when the next row has
 * the same NULL, integer or name there: rows that change every such field
 * from one to the next, through the 16-row INSERT, the one-row INSERT (a
 * part set at the flush), a checkpoint row and its REPLACE, each read back
 * as it was given. */
Test(store, each_row_is_stored_as_given_whatever_the_row_before_left_bound)
{
	static const enum verdict_kind kinds[] = {VERDICT_EXPECTED, VERDICT_UNEXPECTED_PORT,
	                                          VERDICT_EXPECTED, VERDICT_UNEXPECTED_PEER};
	char err[256], sql[1024];
	struct flow_record r, cp = tu_sample_flow(39999);
	int64_t id;
	struct store *s = open_with_run(&id);
	const int n = 40; /* two 16-row statements, then 8 rows one by one */

	cp.end_reason = END_CHECKPOINT;
	put(s, id, &cp, NULL, VERDICT_UNEXPECTED_PORT);
	for (int i = 0; i < n; i++) {
		r = tu_sample_flow((uint16_t)(40000 + i));
		r.vlan = i % 3 ? (uint16_t)(100 + i % 2) : 0;
		r.direction = (uint8_t)(i % 2 ? DIR_OUT : DIR_IN);
		r.direction_inferred = (uint8_t)(i % 4 == 1);
		r.resp_port = (uint16_t)(i % 5 ? 443 : 8443);
		r.orig_pkts = (uint64_t)(5 + i % 2);
		r.missed_bytes = (uint64_t)(i % 7 == 3 ? 100 : 0);
		r.end_reason = (uint8_t)(i % 3 ? END_CLOSED : END_TIMEOUT);
		r.app.confidence = (uint8_t)(i % 4 ? APP_CONF_DPI : APP_CONF_PORT);
		if (i % 6 == 2)
			r.app.proto[0] = r.app.server_name[0] = '\0';
		if (i % 8 == 7) { /* not judged: no verdict, no rule */
			cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
			continue;
		}
		put(s, id, &r, i % 4 == 1 ? NULL : "https-in", kinds[i % 4]);
		if (i == 20) { /* the checkpoint's flow ends: its row replaced */
			cp.end_reason = END_CLOSED;
			cp.vlan = 7;
			put(s, id, &cp, "https-in", VERDICT_EXPECTED);
		}
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), n + 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE uid = 'C39999' AND id = 1 AND vlan = 7"
	                " AND end_reason = 'closed' AND verdict = 'expected'"),
	             1, "the replaced row");
	for (int i = 0; i < n; i++) {
		int judged = i % 8 != 7;
		const char *verdict = !judged      ? "NULL"
		                      : i % 4 == 1 ? "'unexpected-port'"
		                      : i % 4 == 3 ? "'unexpected-peer'"
		                                   : "'expected'";
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM flows WHERE uid = 'C%d' AND vlan IS %s"
		         " AND direction = '%s' AND direction_inferred = %d AND peer_addr = '%s'"
		         " AND resp_port = %d AND orig_pkts = %d AND missed_bytes = %d"
		         " AND end_reason = '%s' AND app_confidence = '%s' AND app_proto IS %s"
		         " AND server_name IS %s AND rule_id IS %s AND verdict IS %s"
		         " AND unchecked IS NULL",
		         40000 + i, i % 3 ? (i % 2 ? "101" : "100") : "NULL", i % 2 ? "out" : "in",
		         i % 4 == 1, i % 2 ? "127.0.0.10" : "127.0.0.50", i % 5 ? 443 : 8443,
		         5 + i % 2, i % 7 == 3 ? 100 : 0, i % 3 ? "closed" : "timeout",
		         i % 4 ? "dpi" : "port", i % 6 == 2 ? "NULL" : "'TLS'",
		         i % 6 == 2 ? "NULL" : "'sm.example.com'",
		         judged && i % 4 != 1 ? "'https-in'" : "NULL", verdict);
		cr_expect_eq(q1(sql), 1, "%s", sql);
	}
}

Test(store, a_refused_row_fails_its_batch_and_the_store_goes_on)
{
	char err[256];
	int64_t id;
	struct store *s = open_with_run(&id);
	struct flow_record r;
	int fails = 0;

	for (int i = 0; i < 10; i++) {
		r = tu_sample_flow((uint16_t)(40000 + i));
		put(s, id, &r, "https-in", VERDICT_EXPECTED);
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	/* 64 rows: the bad one fails the first full set of held rows (STORE_ROWS,
	 * 16: one INSERT OR ROLLBACK; 8 was a full set when STORE_ROWS was 8, and
	 * left that statement untested once it became 16), then 3: a few */
	for (int n = 64; n >= 3; n -= 61) {
		for (int i = 0; i < n && !fails; i++) { /* as the writer: stop at a failure */
			r = tu_sample_flow((uint16_t)(50000 + 10 * n + i));
			r.direction = i == 1 ? 7 : DIR_IN; /* no such direction: CHECK fails */
			fails += store_flow(s, id, &r, NULL, err, sizeof(err)) < 0;
		}
		int at_commit = !fails; /* the rows were all held: the commit steps them */
		if (!fails)
			fails += store_flush(s, err, sizeof(err)) < 0;
		cr_expect_eq(fails, 1, "batch of %d: a call fails", n);
		cr_expect_eq(at_commit, n == 3, "batch of %d: failed %s", n,
		             at_commit ? "at the commit" : "in store_flow");
		cr_expect(strstr(err, "CHECK constraint failed"), "%s", err);
		store_rollback(s);
		fails = 0;
	}
	r = tu_sample_flow(60000);
	put(s, id, &r, "https-in", VERDICT_EXPECTED);
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flows_committed(s), 11);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 11, "the refused batches left nothing");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE uid = 'C60000'"), 1);
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "the roll-up equals flows grouped by hour");
}

/* Issue 13: the index on verdicts holds anomalies only (an expected flow
 * costs the writer no entry); an older database's index on every verdict
 * is replaced by it. */
Test(store, the_verdict_index_holds_anomalies_only_and_replaces_the_old_one)
{
	char err[256];
	int64_t id;
	struct store *s = open_with_run(&id);
	struct flow_record r;

	for (int i = 0; i < 10; i++) {
		r = tu_sample_flow((uint16_t)(40000 + i));
		put(s, id, &r, i < 3 ? NULL : "https-in",
		    i < 3 ? VERDICT_UNEXPECTED_PORT : VERDICT_EXPECTED);
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows INDEXED BY flows_anomaly"
	                " WHERE verdict <> 'expected'"),
	             3);
	cr_assert_eq(q1("SELECT count(*) FROM sqlite_master WHERE name = 'flows_verdict'"), 0);
	/* an older database: its index on every verdict */
	exec_raw(
	    "DROP INDEX flows_anomaly; CREATE INDEX flows_verdict ON flows(verdict, ts_start)");
	reopen();
	cr_assert_eq(q1("SELECT count(*) FROM sqlite_master WHERE name = 'flows_verdict'"), 0);
	cr_assert_eq(q1("SELECT count(*) FROM sqlite_master WHERE name = 'flows_anomaly'"
	                " AND sql LIKE '%WHERE verdict <> ''expected''%'"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows INDEXED BY flows_anomaly"
	                " WHERE verdict <> 'expected'"),
	             3);
}

Test(store, an_older_database_gets_its_rollup_built_and_a_hand_edit_rebuilds_it)
{
	int64_t id;
	struct store *s = open_with_run(&id);

	for (int i = 0; i < 50; i++) {
		struct flow_record r = tu_sample_flow((uint16_t)(20000 + i));
		r.ts_start_us += (uint64_t)i * 600000000ULL; /* 10 min apart: 9 hours */
		put(s, id, &r, i % 3 ? "https-in" : "xmpp-in",
		    i % 4 ? VERDICT_EXPECTED : VERDICT_UNEXPECTED_DIRECTION);
	}
	store_close(s);
	/* as an smaudit before the roll-up left it */
	exec_raw("DROP TABLE flow_rollup; DROP TABLE rollup_state;"
	         " DROP TRIGGER flows_rollup_stale_delete; DROP TRIGGER flows_rollup_stale_update");
	reopen();
	cr_assert_gt(q1("SELECT count(*) FROM flow_rollup"), 9, "hours x rules x verdicts");
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "built from the flows already there");

	/* a hand edit marks it stale; the next open rebuilds it */
	exec_raw("DELETE FROM flows WHERE id % 7 = 0; UPDATE flows SET verdict = 'expected'"
	         " WHERE id % 5 = 0");
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), -1);
	cr_assert_neq(q1(TU_ROLLUP_DIFF), 0);
	reopen();
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "rebuilt after the edit");
	/* flow_rollup counts unchecked flows: an edit of unchecked marks it stale too */
	exec_raw("UPDATE flows SET unchecked = 'peer' WHERE id % 3 = 0");
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), -1);
	reopen();
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "rebuilt after editing unchecked");
}

/* The peer map's roll-up (flow_peer_ports) is built for a database whose
 * roll-up an smaudit before it kept (the table missing, or there and left
 * behind by such an smaudit writing since); editing a flow's direction or
 * port by hand marks it stale. Each time the next open rebuilds it. */
Test(store, flow_peer_ports_is_built_for_an_older_rollup_and_rebuilt_after_an_edit)
{
	int64_t id;
	struct store *s = open_with_run(&id);

	for (int i = 0; i < 40; i++) {
		struct flow_record r = tu_sample_flow((uint16_t)(20000 + i));
		r.ts_start_us += (uint64_t)i * 3000000000ULL; /* 50 min apart: 33 hours */
		r.resp_port = (uint16_t)(i % 3 ? 443 : 5222);
		put(s, id, &r, i % 3 ? "https-in" : "xmpp-in",
		    i % 4 ? VERDICT_EXPECTED : VERDICT_UNEXPECTED_DIRECTION);
	}
	store_close(s);
	cr_assert_gt(q1("SELECT count(*) FROM flow_peer_ports"), 3, "days x ports x verdicts");
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0);
	/* as the smaudit before flow_peer_ports left it */
	exec_raw("DROP TABLE flow_peer_ports; DROP TABLE peer_ports_state;"
	         " DROP TRIGGER flows_ports_stale_delete; DROP TRIGGER flows_ports_stale_update");
	reopen();
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "built from the flows already there");
	/* that smaudit wrote a flow since: rollup_state stamped, peer_ports_state not */
	exec_raw("INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, orig_port,"
	         " resp_addr, resp_port, direction, peer_addr, orig_pkts, orig_ip_bytes,"
	         " orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, end_reason)"
	         " SELECT run_id, 'Cx', ts_start, ts_end, proto, orig_addr, 1, resp_addr, 8443,"
	         " direction, peer_addr, 1, 1, 1, 1, 1, 1, 'closed' FROM flows LIMIT 1;"
	         " UPDATE rollup_state SET flows_max_id = (SELECT max(id) FROM flows)");
	cr_assert_neq(q1(TU_ROLLUP_DIFF), 0);
	reopen();
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "rebuilt: it was behind");
	exec_raw("UPDATE flows SET resp_port = 8080 WHERE id % 5 = 0");
	cr_assert_eq(q1("SELECT flows_max_id FROM peer_ports_state"), -1);
	reopen();
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "rebuilt after the edit");
}

/* A roll-up write that fails (here a trigger refuses new flow_peers rows)
 * costs no flow: the batch commits, the roll-up is marked stale, and the
 * next open rebuilds it. */
Test(store, a_failing_rollup_loses_no_flow_and_is_rebuilt)
{
	char err[256];
	int64_t id;
	struct store *s = open_with_run(&id);

	for (int i = 0; i < 10; i++) {
		struct flow_record r = tu_sample_flow((uint16_t)(30000 + i));
		put(s, id, &r, "https-in", VERDICT_EXPECTED);
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), 10);
	exec_raw("CREATE TRIGGER no_peers BEFORE INSERT ON flow_peers"
	         " BEGIN SELECT RAISE(ABORT, 'disk trouble'); END");
	for (int i = 0; i < 5; i++) {
		struct flow_record r = tu_sample_flow((uint16_t)(31000 + i));
		uint8_t o[4] = {127, 0, 1, (uint8_t)i};
		addr_set4(&r.orig, o);
		put(s, id, &r, "https-in", VERDICT_EXPECTED);
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 15, "every flow stored");
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), -1, "marked stale");
	exec_raw("DROP TRIGGER no_peers");
	reopen();
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "rebuilt at the next open");
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), 15);
}

Test(store, refuses_files_that_are_not_ours)
{
	char err[256];
	FILE *f = fopen(path, "w");

	fputs("this is not a database, it is a text file of some length to be sure\n", f);
	fclose(f);
	cr_assert_null(store_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "not an SQLite database"), "%s", err);

	remove(path);
	exec_raw("CREATE TABLE customers (id INTEGER)");
	cr_assert_null(store_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "not an smaudit one"), "%s", err);
	cr_assert_eq(q1("SELECT count(*) FROM sqlite_master WHERE name='flows'"), 0,
	             "a refused database is left untouched");
}

Test(store, refuses_a_newer_schema)
{
	char err[256];

	exec_raw("CREATE TABLE runs (id INTEGER PRIMARY KEY); PRAGMA user_version = 99");
	cr_assert_null(store_open(path, err, sizeof(err)));
	cr_assert(strstr(err, "newer"), "%s", err);
	cr_assert_eq(q1("PRAGMA user_version"), 99);
}

/* A new database gets 16 KiB pages (a quarter of the writes and page splits
 * of SQLite's default 4096); one that exists keeps its own, and its rows. */
Test(store, a_new_database_gets_16_kib_pages_an_older_one_keeps_its_own)
{
	reopen();
	cr_assert_eq(q1("PRAGMA page_size"), 16384);
	cr_assert_eq(tu_rmrf(dir), 0);
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/t.db", dir);
	exec_raw("PRAGMA page_size=4096; PRAGMA journal_mode=WAL;"
	         "CREATE TABLE runs (id INTEGER PRIMARY KEY, mode TEXT NOT NULL, source TEXT NOT "
	         "NULL, hosts TEXT NOT NULL, started TEXT NOT NULL);"
	         "INSERT INTO runs (mode, source, hosts, started) VALUES "
	         "('read','old.pcap','h','2026-01-01T00:00:00Z')");
	reopen();
	cr_assert_eq(q1("PRAGMA page_size"), 4096);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE source='old.pcap'"), 1);
	cr_assert_eq(q1("SELECT integrity_check = 'ok' FROM pragma_integrity_check"), 1);
}

Test(store, migrates_an_older_database)
{
	char err[256];
	struct store *s;

	/* version 0: an early database with only the runs table */
	exec_raw(
	    "CREATE TABLE runs (id INTEGER PRIMARY KEY, mode TEXT NOT NULL, source TEXT NOT "
	    "NULL, filter TEXT, hosts TEXT NOT NULL, rules_files TEXT, rules_sha256 TEXT, "
	    "started TEXT NOT NULL, finished TEXT, packets INTEGER NOT NULL DEFAULT 0, bytes "
	    "INTEGER NOT NULL DEFAULT 0, malformed INTEGER NOT NULL DEFAULT 0, unknown_link "
	    "INTEGER NOT NULL DEFAULT 0, non_ip INTEGER NOT NULL DEFAULT 0, dropped INTEGER NOT "
	    "NULL DEFAULT 0, flows INTEGER NOT NULL DEFAULT 0, flows_other INTEGER NOT NULL "
	    "DEFAULT 0, evicted INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT "
	    "'running', error TEXT, version TEXT);"
	    "INSERT INTO runs (mode, source, hosts, started, status) VALUES "
	    "('read','old.pcap','h','2026-01-01T00:00:00Z','complete')");
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
	cr_assert_eq(q1("PRAGMA user_version"), STORE_SCHEMA_VERSION);
	cr_assert_eq(q1("SELECT count(*) FROM sqlite_master WHERE name='flows'"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE source='old.pcap'"), 1, "old runs kept");
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('runs') WHERE name='encap'"), 1,
	             "a column added since is added to the old table");
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('runs') WHERE name IN "
	                "('ndpi_version', 'roles')"),
	             2, "and the report's");
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('flows') WHERE name = 'unchecked'"),
	             1);
}

Test(store, adds_the_tunnel_column_to_a_flows_table_that_lacks_it)
{
	char err[256];
	struct store *s;

	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
	/* a flows table as written before flows.tunnel existed, with a row */
	exec_raw("DROP TABLE flows; CREATE TABLE flows (id INTEGER PRIMARY KEY, run_id INTEGER NOT "
	         "NULL, uid TEXT "
	         "NOT NULL, ts_start REAL NOT NULL, ts_end REAL NOT NULL, proto TEXT NOT NULL, "
	         "orig_addr TEXT NOT NULL, orig_port INTEGER NOT NULL, resp_addr TEXT NOT NULL, "
	         "resp_port INTEGER NOT NULL, vlan INTEGER, direction TEXT NOT NULL, "
	         "direction_inferred INTEGER NOT NULL DEFAULT 0, peer_addr TEXT NOT NULL, "
	         "orig_pkts INTEGER NOT NULL, orig_ip_bytes INTEGER NOT NULL, orig_bytes INTEGER "
	         "NOT NULL, resp_pkts INTEGER NOT NULL, resp_ip_bytes INTEGER NOT NULL, "
	         "resp_bytes INTEGER NOT NULL, conn_state TEXT, history TEXT, end_reason TEXT NOT "
	         "NULL, app_proto TEXT, app_confidence TEXT, server_name TEXT, rule_id TEXT, "
	         "verdict TEXT, reason TEXT);"
	         "INSERT INTO flows VALUES (1, 1, 'Cold', 1, 2, 'tcp', '127.0.0.50', 40000, "
	         "'127.0.0.10', 80, NULL, 'in', 0, '127.0.0.50', 1, 40, 0, 1, 40, 0, 'S1', 'Sh', "
	         "'closed', NULL, 'none', NULL, NULL, NULL, NULL)");
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('flows') WHERE name='tunnel'"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE uid='Cold' AND tunnel IS NULL"), 1,
	             "old flows kept");
	s = store_open(path, err, sizeof(err)); /* a second open leaves it alone */
	cr_assert_not_null(s, "%s", err);
	store_close(s);
}

Test(store, a_tunnelled_flow_and_the_runs_encapsulations_are_written_as_text)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "127.0.0.10/32"};
	struct flow_record r = tu_sample_flow(40000), plain = tu_sample_flow(40001);
	uint8_t a[4] = {198, 51, 100, 1}, b[4] = {198, 51, 100, 2};
	char text[128];
	int64_t id;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	r.tunnel.kinds = 1u << ENCAP_VXLAN | 1u << ENCAP_MPLS;
	r.tunnel.kind = ENCAP_VXLAN;
	r.tunnel.has_id = 1;
	r.tunnel.id = 4242;
	addr_set4(&r.tunnel.src, a);
	addr_set4(&r.tunnel.dst, b);
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flow(s, id, &plain, NULL, err, sizeof(err)), 0, "%s", err);
	run.encap[ENCAP_VXLAN] = 488;
	run.encap[ENCAP_MPLS] = 3;
	cr_assert_eq(store_run_end(s, id, &run, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_str_eq(encap_info_str(&r.tunnel, text, sizeof(text)),
	                 "vxlan,mpls 198.51.100.1>198.51.100.2 vni 4242");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_port=40000 AND tunnel = "
	                "'vxlan,mpls 198.51.100.1>198.51.100.2 vni 4242'"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_port=40001 AND tunnel IS NULL"), 1,
	             "a plain flow has no tunnel");
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE encap = 'vxlan 488, mpls 3'"), 1);
}

/* The flows table as version 1 shipped it, before community_id. */
#define FLOWS_V1                                                                                   \
	"CREATE TABLE flows (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, uid TEXT NOT NULL, " \
	"ts_start REAL NOT NULL, ts_end REAL NOT NULL, proto TEXT NOT NULL, orig_addr TEXT NOT "   \
	"NULL, orig_port INTEGER NOT NULL, resp_addr TEXT NOT NULL, resp_port INTEGER NOT NULL, "  \
	"vlan INTEGER, direction TEXT NOT NULL, direction_inferred INTEGER NOT NULL DEFAULT 0, "   \
	"peer_addr TEXT NOT NULL, orig_pkts INTEGER NOT NULL, orig_ip_bytes INTEGER NOT NULL, "    \
	"orig_bytes INTEGER NOT NULL, resp_pkts INTEGER NOT NULL, resp_ip_bytes INTEGER NOT "      \
	"NULL, "                                                                                   \
	"resp_bytes INTEGER NOT NULL, conn_state TEXT, history TEXT, end_reason TEXT NOT NULL, "   \
	"app_proto TEXT, app_confidence TEXT, server_name TEXT, rule_id TEXT, verdict TEXT, "      \
	"reason TEXT);"

/* Rows of a database made before the column existed get their Community ID
 * when the store opens it: the spec's own examples (TCP, ICMP echo reply,
 * one-way ICMPv6, a port-less protocol stored by number). */
Test(store, adds_community_id_to_older_flows)
{
	static const struct {
		const char *proto, *oa;
		int op;
		const char *ra;
		int rp;
		const char *id;
	} rows[] = {
	    {"tcp", "1.2.3.4", 1122, "5.6.7.8", 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
	    {"icmp", "5.6.7.8", 0, "1.2.3.4", 8, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
	    {"icmp6", "fe80:1:203:405:607:809:a0b:c0d", 146,
	     "fe80:1011:1213:1415:1617:1819:1a1b:1c1d", 0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="},
	    {"46", "5.6.7.8", 0, "1.2.3.4", 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
	};
	char err[256], sql[1024];
	struct store *s;

	exec_raw("CREATE TABLE runs (id INTEGER PRIMARY KEY, mode TEXT NOT NULL, source TEXT NOT "
	         "NULL, filter TEXT, hosts TEXT NOT NULL, rules_files TEXT, rules_sha256 TEXT, "
	         "started TEXT NOT NULL, finished TEXT, packets INTEGER NOT NULL DEFAULT 0, bytes "
	         "INTEGER NOT NULL DEFAULT 0, malformed INTEGER NOT NULL DEFAULT 0, unknown_link "
	         "INTEGER NOT NULL DEFAULT 0, non_ip INTEGER NOT NULL DEFAULT 0, dropped INTEGER "
	         "NOT NULL DEFAULT 0, flows INTEGER NOT NULL DEFAULT 0, flows_other INTEGER NOT "
	         "NULL DEFAULT 0, evicted INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT "
	         "'running', error TEXT, version TEXT); PRAGMA user_version = 1;" FLOWS_V1
	         "CREATE VIEW flows_v AS SELECT id, uid FROM flows;");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(sql, sizeof(sql),
		         "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, "
		         "orig_port, "
		         "resp_addr, resp_port, direction, peer_addr, orig_pkts, orig_ip_bytes, "
		         "orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, end_reason) VALUES (1, "
		         "'C%zu', 1, 2, '%s', '%s', %d, '%s', %d, 'in', '%s', 1, 1, 0, 1, 1, 0, "
		         "'closed')",
		         i, rows[i].proto, rows[i].oa, rows[i].op, rows[i].ra, rows[i].rp,
		         rows[i].oa);
		exec_raw(sql);
	}
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM flows WHERE uid = 'C%zu' AND community_id = '%s'", i,
		         rows[i].id);
		cr_expect_eq(q1(sql), 1, "%s %s -> %s: want %s", rows[i].proto, rows[i].oa,
		             rows[i].ra, rows[i].id);
	}
	/* opening again changes nothing (the column is there) */
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
	cr_expect_eq(q1("SELECT count(*) FROM flows WHERE community_id IS NOT NULL"), 4);
	/* the readable view shows the new column too */
	cr_expect_eq(q1("SELECT count(*) FROM flows_v WHERE community_id IS NOT NULL"), 4);
}

/* A stored flow carries the Community ID of its tuple. */
Test(store, writes_community_id)
{
	char err[256];
	int64_t run;
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run rr = {.mode = "read", .source = "x", .hosts = "h"};
	struct flow_record r = tu_sample_flow(1122);
	uint8_t a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8};

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &rr, NULL, &run, err, sizeof(err)), 0, "%s", err);
	addr_set4(&r.orig, b);
	addr_set4(&r.resp, a);
	r.orig_port = 3344;
	r.resp_port = 1122;
	cr_assert_eq(store_flow(s, run, &r, NULL, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_expect_eq(
	    q1("SELECT count(*) FROM flows WHERE community_id = '1:wCb3OG7yAFWelaUydu0D+125CLM='"),
	    1);
}

Test(store, a_run_records_role_addresses_and_the_ndpi_version)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {
	    .mode = "read", .source = "a.pcap", .hosts = "127.0.0.10/32", .ndpi_version = "4.2.0"};
	const char *sites[] = {"rules/demo.site"}, *roles[] = {"cuic=127.0.0.40,127.0.1.0/24"};
	struct rules_matrix *m;
	int64_t id;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(rules_build(&m, "rules/socialminer.rules", sites, 1, NULL, 0, roles, 1, err,
	                         sizeof(err)),
	             0, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, m, &id, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	rules_free(m);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE ndpi_version = '4.2.0' AND roles = "
	                "'uccx 127.0.0.21/32' || char(10) || 'cuic 127.0.0.40/32,127.0.1.0/24' || "
	                "char(10) || 'mail 127.0.0.23/32' || char(10) || "
	                "'exchange 127.0.0.24/32' || char(10) || 'xmpp 127.0.0.25/32'"),
	             1);
}

Test(store, a_flows_table_without_unchecked_gets_it_and_it_is_written)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "127.0.0.10/32"};
	struct verdict_result v = {.kind = VERDICT_EXPECTED, .peer_unchecked = 1};
	struct flow_record r = tu_sample_flow(40000);
	int64_t id;

	cr_assert_not_null(s, "%s", err);
	store_close(s);
	exec_raw("ALTER TABLE flows DROP COLUMN unchecked"); /* as a database before issue 11 */
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flow(s, id, &r, &v, err, sizeof(err)), 0, "%s", err);
	r = tu_sample_flow(40001);
	v.app_unchecked = 1;
	cr_assert_eq(store_flow(s, id, &r, &v, err, sizeof(err)), 0, "%s", err);
	r = tu_sample_flow(40002);
	v.kind = VERDICT_UNEXPECTED_PEER; /* only expected flows carry it */
	cr_assert_eq(store_flow(s, id, &r, &v, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE unchecked = 'peer'"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE unchecked = 'peer,app'"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE unchecked IS NULL"), 1);
}

Test(store, adds_the_liveness_and_retention_columns_to_an_older_runs_table)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));

	cr_assert_not_null(s, "%s", err);
	store_close(s);
	exec_raw("ALTER TABLE runs DROP COLUMN pid; ALTER TABLE runs DROP COLUMN hostname; "
	         "ALTER TABLE runs DROP COLUMN heartbeat; ALTER TABLE runs DROP COLUMN pruned; "
	         "ALTER TABLE runs DROP COLUMN gaps");
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('runs') WHERE name IN ('pid', "
	                "'hostname', 'heartbeat', 'pruned', 'gaps')"),
	             5);
}

/* store_runs_reap's test for the next one: pid 111 is gone. */
static int pid_111_gone(void *ctx, const struct store_owner *o)
{
	int *calls = ctx;
	(*calls)++;
	return o->pid == 111;
}

Test(store, runs_left_running_by_a_gone_process_are_marked_interrupted)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "live", .source = "eth0", .hosts = "127.0.0.10/32"};
	int64_t a, b;
	long reaped;
	int calls = 0;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &a, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_owner(s, a, 111, "sensor1", err, sizeof(err)), 0, "%s", err);
	run.packets = 42;
	run.flows = 7;
	cr_assert_eq(store_run_progress(s, a, &run, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &b, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_run_owner(s, b, 222, "sensor1", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='running' AND finished IS NULL AND "
	                "heartbeat IS NOT NULL"),
	             2);
	cr_assert_eq(store_runs_reap(s, pid_111_gone, &calls, &reaped, err, sizeof(err)), 0, "%s",
	             err);
	store_close(s);
	cr_assert_eq(calls, 2);
	cr_assert_eq(reaped, 1);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE id=1 AND status='interrupted' AND "
	                "finished=heartbeat AND packets=42 AND flows=7 AND error LIKE "
	                "'%111 on sensor1%'"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE id=2 AND status='running'"), 1);
}

Test(store, prune_deletes_old_flows_in_batches_and_runs_count_them)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "127.0.0.10/32"};
	struct flow_record r;
	int64_t id;
	long n;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	for (uint16_t p = 0; p < 50; p++) { /* 30 old (ts 1000 + p), 20 new */
		r = tu_sample_flow((uint16_t)(40000 + p));
		if (p < 30)
			r.ts_start_us = (1000ull + p) * 1000000;
		cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	}
	cr_assert_eq(store_prune(s, 2000.0, 20, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 20, "a batch is at most the limit");
	cr_assert_eq(store_prune(s, 2000.0, 20, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 10);
	cr_assert_eq(store_prune(s, 2000.0, 20, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 0);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 20);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE ts_start < 2000"), 0);
	cr_assert_eq(q1("SELECT pruned FROM runs"), 30);
}

Test(store, smaudit_prune_older_than)
{
	char out[4096];
	int rc;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --site rules/demo.site --db %s pcaps/demo.pcap", path);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " prune --older-than 36500d --db %s", path);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, " 0 flows that started before"), "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 30);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " prune --older-than 1s --db %s", path);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, " 30 flows that started before"), "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 0);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE flows=30 AND pruned=30"), 1,
	             "the run keeps its history");
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " prune --older-than 90x --db %s", path);
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, "--older-than"), "%s", out);
}

/* A database from before missed_bytes gets the column: the rows already
 * there read NULL (not measured, which is not 0 gaps), new rows and a
 * checkpointed row replaced at its end carry the flow's count. */
Test(store, a_flows_table_without_missed_bytes_gets_it_and_it_is_written)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "a.pcap", .hosts = "127.0.0.10/32"};
	struct flow_record r = tu_sample_flow(40000);
	int64_t id;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	exec_raw("DROP VIEW flows_v; ALTER TABLE flows DROP COLUMN missed_bytes");
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('flows') WHERE name = "
	                "'missed_bytes'"),
	             0);
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	r = tu_sample_flow(40001);
	r.missed_bytes = 63;
	r.end_reason = END_CHECKPOINT;
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	r.missed_bytes = 5000000000ULL; /* past 32 bits */
	r.end_reason = END_CLOSED;
	cr_assert_eq(store_flow(s, id, &r, NULL, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 2);
	cr_assert_eq(
	    q1("SELECT count(*) FROM flows WHERE orig_port = 40000 AND missed_bytes IS NULL"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_port = 40001 AND missed_bytes = "
	                "5000000000"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows_v WHERE missed_bytes = 5000000000"), 1);
}

/* The matrix of a rules file and a site file. */
static struct rules_matrix *matrix_of(const char *rules, const char *site)
{
	const char *sites[] = {site};
	struct rules_matrix *m;
	char err[512];

	cr_assert_eq(rules_build(&m, rules, sites, 1, NULL, 0, NULL, 0, err, sizeof(err)), 0, "%s",
	             err);
	return m;
}

/* An older database gets runs.flows_lost and run_rules.in_force_from and
 * in_force_until; a reload's matrix is recorded beside the first: a rule
 * added is in force from the reload, one removed until it, one changed
 * shows its new definition from the reload, the others are untouched. */
Test(store, a_reload_records_its_rules_beside_the_first_and_lost_flows_are_counted)
{
	char err[256], r2[128], s2[128];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "live", .source = "sb0", .hosts = "127.0.0.10/32"};
	struct rules_matrix *a, *b;
	int64_t id;

	cr_assert_not_null(s, "%s", err);
	store_close(s);
	exec_raw("ALTER TABLE runs DROP COLUMN flows_lost; ALTER TABLE run_rules DROP COLUMN "
	         "in_force_from; ALTER TABLE run_rules DROP COLUMN in_force_until");
	snprintf(r2, sizeof(r2), "%s/r2.rules", dir);
	snprintf(s2, sizeof(s2), "%s/s2.site", dir);
	cr_assert_eq(tu_run(NULL, 0,
	                    "grep -v '^rule http-in ' rules/socialminer.rules > %s && "
	                    "{ cat rules/demo.site; echo 'port smtps-notify-out 1465'; "
	                    "echo 'rule ssh-admin-in in tcp/22 from any row 0 \"SSH\"'; } > %s",
	                    r2, s2),
	             0);
	a = matrix_of("rules/socialminer.rules", "rules/demo.site");
	b = matrix_of(r2, s2);
	s = store_open(path, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, a, &id, err, sizeof(err)), 0, "%s", err);
	/* 2026-11-25T12:00:00Z */
	cr_assert_eq(store_run_rules(s, id, b, 1795608000, err, sizeof(err)), 0, "%s", err);
	run.flows_lost = 7;
	run.status = "complete";
	cr_assert_eq(store_run_end(s, id, &run, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	rules_free(a);
	rules_free(b);
	cr_assert_eq(q1("SELECT flows_lost FROM runs"), 7);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE rule_id = 'ssh-admin-in' AND "
	                "in_force_from = '2026-11-25T12:00:00Z' AND in_force_until IS NULL"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE rule_id = 'http-in' AND "
	                "in_force_from IS NULL AND in_force_until = '2026-11-25T12:00:00Z'"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE rule_id = 'smtps-notify-out' AND "
	                "port = 1465 AND in_force_from = '2026-11-25T12:00:00Z' AND "
	                "in_force_until IS NULL"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE in_force_from IS NULL AND "
	                "in_force_until IS NULL"),
	             q1("SELECT count(*) FROM run_rules") - 3);
}

/* Frames in the test database's WAL: mxFrame of the wal-index header, the
 * first u32 after 16 bytes of the -shm file, in the host's byte order
 * (sqlite.org/walformat.html, 2.1); 0 when there is none. */
static uint32_t wal_frames(void)
{
	char shm[160];
	uint32_t mx = 0;
	FILE *f;

	snprintf(shm, sizeof(shm), "%s-shm", path);
	f = fopen(shm, "rb");
	if (!f)
		return 0;
	if (fseek(f, 16, SEEK_SET) != 0 || fread(&mx, sizeof(mx), 1, f) != 1)
		mx = 0;
	fclose(f);
	return mx;
}

/* Whether the test database's -wal file exists. */
static int wal_exists(void)
{
	char wal[160];
	struct stat st;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	return stat(wal, &st) == 0;
}

/* With the checkpointer, commits go on while it copies the WAL: the WAL
 * restarts (a write after a checkpoint that copied everything) and never
 * holds more than twice the threshold plus one transaction; the closing
 * checkpoint still copies all and removes it. */
Test(store, the_checkpointer_copies_the_wal_and_keeps_it_bounded_while_commits_go_on)
{
	enum { KIB = 256, TXS = 60, ROWS = 200 };
	char err[256];
	int64_t id;
	struct store *s = open_with_run(&id);
	uint32_t frames = wal_frames(), max = 0, tx_max = 0, restarts = 0, page = 0;
	uint64_t written = 0;
	long runs = -1;

	cr_assert_eq(store_ckpt_start(s, KIB, err, sizeof(err)), 0, "%s", err);
	for (int t = 0; t < TXS; t++) {
		uint32_t now, tx;
		for (int k = 0; k < ROWS; k++) {
			struct flow_record r = tu_sample_flow((uint16_t)(1024 + t * ROWS + k));
			r.seq = (uint64_t)(t * ROWS + k + 1);
			r.ts_start_us += (uint64_t)(t * ROWS + k) * 1000000;
			r.ts_end_us = r.ts_start_us + 1000;
			put(s, id, &r, "https-in", VERDICT_EXPECTED);
		}
		cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
		now = wal_frames();
		tx = now > frames ? now - frames : now; /* smaller: it restarted */
		restarts += now <= frames;
		written += tx;
		tx_max = tx > tx_max ? tx : tx_max;
		max = now > max ? now : max;
		frames = now;
	}
	cr_assert_eq(store_ckpt_stop(s, &runs, err, sizeof(err)), 0, "%s", err);
	cr_assert_gt(runs, 0, "the checkpointer ran no checkpoint");
	page = (uint32_t)q1("PRAGMA page_size");
	cr_assert_gt(restarts, 0, "the WAL never restarted (max %u frames)", max);
	cr_assert_gt(written, 3 * (uint64_t)max, "too little written to tell: %llu frames",
	             (unsigned long long)written);
	cr_assert_leq(max, 2 * (KIB * 1024 / page) + tx_max,
	              "the WAL held %u frames (threshold %u, a transaction up to %u)", max,
	              KIB * 1024 / page, tx_max);
	store_close(s);
	cr_assert(!wal_exists(), "the closing checkpoint left a WAL");
	cr_assert_eq(q1("SELECT count(*) FROM flows"), TXS * ROWS);
}
