/* test_store.c: the SQLite store on real database files: creation with the
 * schema version, WAL mode, runs appended, flows batched and committed,
 * older databases migrated, and files that are not ours refused. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

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

static struct flow_record sample(uint16_t sport)
{
	struct flow_record r;
	uint8_t a[4] = {127, 0, 0, 50}, b[4] = {127, 0, 0, 10};

	memset(&r, 0, sizeof(r));
	addr_set4(&r.orig, a);
	addr_set4(&r.resp, b);
	r.proto = 6;
	r.orig_port = sport;
	r.resp_port = 443;
	r.direction = DIR_IN;
	r.ts_start_us = 1793491200123456ULL;
	r.ts_end_us = 1793491201123456ULL;
	r.orig_pkts = 5;
	r.orig_ip_bytes = 300;
	r.resp_pkts = 4;
	r.resp_ip_bytes = 900;
	strcpy(r.conn_state, "SF");
	strcpy(r.history, "ShADadFf");
	strcpy(r.uid, "Cabc");
	r.end_reason = END_CLOSED;
	strcpy(r.app.proto, "TLS");
	r.app.confidence = APP_CONF_DPI;
	strcpy(r.app.server_name, "sm.example.com");
	return r;
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
		r = sample((uint16_t)(40000 + p));
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
	struct flow_record r = sample(40000);

	for (int k = 0; k < 2; k++) {
		struct store *s = store_open(path, err, sizeof(err));
		r = sample(40000); /* each run has its own records */
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
	struct flow_record r = sample(40000);

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
	struct flow_record r = sample(40000);

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
	cr_assert_eq(q1("SELECT count(*) FROM pragma_table_info('runs') WHERE name IN ('pid', "
	                "'hostname', 'heartbeat')"),
	             3, "the liveness columns are added to an older runs table");
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
		r = sample((uint16_t)(40000 + p));
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
