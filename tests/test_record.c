/* test_record.c: the names of record.h are the names the database accepts.
 * Every value of every stored enum is written through the real store into
 * a real database whose flows table carries db/schema.sql's CHECK lists,
 * and read back; a name outside the lists is refused by the database. So a
 * name added in C without the schema (or the reverse) fails here. */
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
	snprintf(path, sizeof(path), "%s/r.db", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(record, .init = setup, .fini = teardown);

/* Text of column col of the flow with uid, or "" (static buffer). */
static const char *col_of(const char *col, const char *uid)
{
	static char out[64];
	char sql[256];
	sqlite3 *h;
	sqlite3_stmt *st;

	out[0] = '\0';
	snprintf(sql, sizeof(sql), "SELECT %s FROM flows WHERE uid = ?1", col);
	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	sqlite3_bind_text(st, 1, uid, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(out, sizeof(out), "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return out;
}

Test(record, every_stored_name_is_accepted_by_the_schema_and_read_back)
{
	char err[256];
	struct store *s = store_open(path, err, sizeof(err));
	struct store_run run = {.mode = "read", .source = "x.pcap", .hosts = "127.0.0.10/32"};
	struct flow_record r[32];
	struct verdict_result v[32];
	const char *want_col[32], *want[32];
	int64_t id;
	int n = 0;

	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	for (int d = DIR_IN; d <= DIR_MAX; d++, n++) {
		r[n] = tu_sample_flow((uint16_t)(40000 + n));
		r[n].direction = (uint8_t)d;
		want_col[n] = "direction", want[n] = flow_dir_str((enum flow_dir)d);
	}
	for (int e = END_NONE + 1; e <= END_MAX; e++, n++) {
		r[n] = tu_sample_flow((uint16_t)(40000 + n));
		r[n].end_reason = (uint8_t)e;
		want_col[n] = "end_reason", want[n] = flow_end_str((enum flow_end)e);
	}
	for (int c = APP_CONF_NONE; c <= APP_CONF_MAX; c++, n++) {
		r[n] = tu_sample_flow((uint16_t)(40000 + n));
		r[n].app.confidence = (uint8_t)c;
		want_col[n] = "app_confidence", want[n] = app_conf_str((enum app_conf)c);
	}
	for (int k = VERDICT_NONE + 1; k <= VERDICT_MAX; k++, n++) {
		r[n] = tu_sample_flow((uint16_t)(40000 + n));
		want_col[n] = "verdict", want[n] = verdict_str((enum verdict_kind)k);
	}
	for (unsigned u = 1; u <= UNCHECKED_MAX; u++, n++) {
		r[n] = tu_sample_flow((uint16_t)(40000 + n));
		want_col[n] = "unchecked", want[n] = unchecked_str(u);
	}
	cr_assert_eq(n, 3 + 6 + 4 + 5 + 3);
	for (int i = 0; i < n; i++) {
		memset(&v[i], 0, sizeof(v[i]));
		v[i].kind =
		    strcmp(want_col[i], "verdict") ? VERDICT_EXPECTED : verdict_from_str(want[i]);
		if (!strcmp(want_col[i], "unchecked")) {
			v[i].peer_unchecked = strstr(want[i], "peer") != NULL;
			v[i].app_unchecked = strstr(want[i], "app") != NULL;
		}
		cr_assert_neq(*want[i], '\0', "%s %d has no name", want_col[i], i);
		cr_assert_eq(store_flow(s, id, &r[i], &v[i], err, sizeof(err)), 0, "%s '%s': %s",
		             want_col[i], want[i], err);
	}
	cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
	store_close(s);
	for (int i = 0; i < n; i++)
		cr_expect_str_eq(col_of(want_col[i], r[i].uid), want[i], "%s", want_col[i]);
}

Test(record, a_name_outside_the_lists_is_refused_by_the_database)
{
	static const char *const cols[] = {"direction", "end_reason", "app_confidence", "verdict",
	                                   "unchecked"};
	char err[256], sql[1024];
	struct store *s = store_open(path, err, sizeof(err));
	sqlite3 *h;

	cr_assert_not_null(s, "%s", err);
	store_close(s);
	cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h,
	                          "INSERT INTO runs (mode, source, hosts, started) VALUES "
	                          "('read', 'x', '127.0.0.10/32', '2026-01-01T00:00:00Z')",
	                          NULL, NULL, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(h));
	for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++) {
		const char *vals[5] = {"in", "closed", "dpi", "expected", "peer"};
		vals[i] = "bogus";
		snprintf(
		    sql, sizeof(sql),
		    "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, "
		    "orig_port, resp_addr, resp_port, direction, peer_addr, orig_pkts, "
		    "orig_ip_bytes, orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, end_reason, "
		    "app_confidence, verdict, unchecked) VALUES (1, 'C1', 0, 0, 'tcp', "
		    "'127.0.0.50', "
		    "1, '127.0.0.10', 2, '%s', '127.0.0.50', 0, 0, 0, 0, 0, 0, '%s', '%s', '%s', "
		    "'%s')",
		    vals[0], vals[1], vals[2], vals[3], vals[4]);
		cr_expect_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_CONSTRAINT,
		             "%s 'bogus' was accepted", cols[i]);
	}
	/* the same statement with every name valid is accepted: the lists are the gate */
	snprintf(
	    sql, sizeof(sql),
	    "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, orig_port, "
	    "resp_addr, resp_port, direction, peer_addr, orig_pkts, orig_ip_bytes, orig_bytes, "
	    "resp_pkts, resp_ip_bytes, resp_bytes, end_reason, app_confidence, verdict) VALUES "
	    "(1, 'C1', 0, 0, 'tcp', '127.0.0.50', 1, '127.0.0.10', 2, 'in', '127.0.0.50', 0, "
	    "0, 0, 0, 0, 0, 'closed', 'dpi', 'expected')");
	cr_expect_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	sqlite3_close(h);
}

Test(record, verdict_names_round_trip)
{
	for (int k = VERDICT_NONE + 1; k <= VERDICT_MAX; k++)
		cr_expect_eq(verdict_from_str(verdict_str((enum verdict_kind)k)), k);
	cr_expect_eq(verdict_from_str("expected "), VERDICT_NONE);
	cr_expect_eq(verdict_from_str(NULL), VERDICT_NONE);
	cr_expect_str_eq(flow_dir_str(DIR_NONE), "");
	cr_expect_null(flow_proto_str(47));
}
