/* testutil.h: helpers shared by the Criterion suites: run the real binary,
 * read its output, open the database it wrote. Paths are relative to the
 * repository root (make test runs there). */
#ifndef SMAUDIT_TESTUTIL_H
#define SMAUDIT_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef SMAUDIT_BIN /* the Makefile passes $(BUILD)/smaudit */
#define SMAUDIT_BIN "build/smaudit"
#endif

/* Run a shell command, capture stdout+stderr (up to cap bytes) into out;
 * return the exit status (or 128+signal). */
static inline int tu_run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out && cap) {
		while (n + 1 < cap) {
			size_t r = fread(out + n, 1, cap - 1 - n, p);
			if (r == 0)
				break;
			n += r;
		}
		out[n] = '\0';
	}
	{
		char sink[4096];
		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* Remove a directory tree made by tu_tmpdir; returns system()'s status. */
static inline int tu_rmrf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#ifdef SQLITE_VERSION
/* How long a read waits for a writer's lock (a live run commits while the
 * tests read): a lock held longer than this is a failure, not a wait. */
#define TU_BUSY_MS 5000

/* First column of the first row of sql on database path, opened read-only,
 * into *v (-1 when no row). Returns SQLITE_OK, or the failing step's code
 * with its message in err (a file not there yet, no such table, locked). */
static inline int tu_q1_rc(const char *path, const char *sql, long long *v, char *err,
                           size_t errlen)
{
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL);

	*v = -1;
	if (rc == SQLITE_OK) {
		sqlite3_busy_timeout(h, TU_BUSY_MS);
		rc = sqlite3_prepare_v2(h, sql, -1, &st, NULL);
	}
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		if (rc == SQLITE_ROW)
			*v = sqlite3_column_int64(st, 0);
		rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? SQLITE_OK : rc;
	}
	if (rc != SQLITE_OK)
		snprintf(err, errlen, "%s: %s: %s", path, sql, h ? sqlite3_errmsg(h) : "no memory");
	sqlite3_finalize(st);
	sqlite3_close(h);
	return rc;
}

/* Like tu_q1_rc, for polling a database another process is still
 * creating: -1 when the answer is not there yet (no file, no such table,
 * locked, no row). */
static inline long long tu_q1_try(const char *path, const char *sql)
{
	char err[512];
	long long v;

	return tu_q1_rc(path, sql, &v, err, sizeof(err)) == SQLITE_OK ? v : -1;
}

/* Like tu_q1_rc; the test fails on any error. */
static inline long long tu_q1(const char *path, const char *sql)
{
	char err[512];
	long long v;

	cr_assert_eq(tu_q1_rc(path, sql, &v, err, sizeof(err)), SQLITE_OK, "%s", err);
	return v;
}
#endif

/* "YYYY-MM-DDTHH:MM:SS" of epoch t (UTC) into buf. */
static inline const char *tu_iso(double t, char *buf, size_t len)
{
	time_t secs = (time_t)t;
	struct tm tm;

	gmtime_r(&secs, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	return buf;
}

/* Make a fresh temporary directory and return its path (static buffer per call site). */
static inline char *tu_tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/smaudit-test-XXXXXX");
	return mkdtemp(buf);
}

/* Rows that differ between the flow roll-up (flow_rollup, flow_peers,
 * flow_peer_ports) and
 * the same sums computed from flows by plain SQL (both ways): 0 when the
 * roll-up is right. The hour is CAST(ts_start / 3600), the day hour / 24,
 * right for positive times. */
#define TU_ROLLUP_REF                                                                              \
	"SELECT CAST(ts_start / 3600 AS INTEGER), ifnull(rule_id, ''), run_id,"                    \
	" ifnull(verdict, ''), count(*), sum(verdict IS 'expected'), sum(unchecked IS NOT NULL),"  \
	" sum(orig_bytes + resp_bytes), min(ts_start), max(ts_end) FROM flows"                     \
	" GROUP BY 1, 2, 3, 4"
#define TU_ROLLUP_ROWS                                                                             \
	"SELECT hour, rule_id, run_id, verdict, flows, expected, unchecked, bytes, ts_first,"      \
	" ts_last FROM flow_rollup"
#define TU_PEERS_REF                                                                               \
	"SELECT d, r, run_id, peer_addr, v, sum(DISTINCT 1 << (h - d * 24)) FROM (SELECT"          \
	" CAST(ts_start / 3600 AS INTEGER) AS h, CAST(ts_start / 86400 AS INTEGER) AS d,"          \
	" ifnull(rule_id, '') AS r, run_id, peer_addr, ifnull(verdict, '') AS v FROM flows)"       \
	" GROUP BY 1, 2, 3, 4, 5"
#define TU_PEERS_ROWS "SELECT day, rule_id, run_id, peer_addr, verdict, hours FROM flow_peers"
#define TU_PORTS_REF                                                                               \
	"SELECT CAST(ts_start / 86400 AS INTEGER), run_id, peer_addr, direction, resp_port,"       \
	" ifnull(verdict, ''), count(*) FROM flows GROUP BY 1, 2, 3, 4, 5, 6"
#define TU_PORTS_ROWS                                                                              \
	"SELECT day, run_id, peer_addr, direction, resp_port, verdict, flows FROM flow_peer_ports"
#define TU_ROLLUP_DIFF                                                                             \
	"SELECT (SELECT count(*) FROM (" TU_ROLLUP_REF " EXCEPT " TU_ROLLUP_ROWS "))"              \
	" + (SELECT count(*) FROM (" TU_ROLLUP_ROWS " EXCEPT " TU_ROLLUP_REF "))"                  \
	" + (SELECT count(*) FROM (" TU_PEERS_REF " EXCEPT " TU_PEERS_ROWS "))"                    \
	" + (SELECT count(*) FROM (" TU_PEERS_ROWS " EXCEPT " TU_PEERS_REF "))"                    \
	" + (SELECT count(*) FROM (" TU_PORTS_REF " EXCEPT " TU_PORTS_ROWS "))"                    \
	" + (SELECT count(*) FROM (" TU_PORTS_ROWS " EXCEPT " TU_PORTS_REF "))"

#ifdef SMAUDIT_STORE_H
/* Append to db, as run 3 of `live`, flows over three days for rules the
 * shipped matrix has: each written at a checkpoint first, then replaced by
 * its final row (some in the same batch, some moving to another verdict or
 * rule-less), so the roll-up must count each once. */
static inline void tu_add_checkpointed_flows(const char *db, double t0)
{
	static const char *const rules[] = {"https-in", "http-in", "xmpp-in", NULL};
	struct store_run run = {.mode = "live", .source = "lo", .hosts = "127.0.0.10"};
	struct store *s;
	char err[256];
	int64_t id;

	s = store_open(db, err, sizeof(err));
	cr_assert_not_null(s, "%s", err);
	cr_assert_eq(store_run_begin(s, &run, NULL, &id, err, sizeof(err)), 0, "%s", err);
	for (int i = 0; i < 120; i++) {
		struct flow_record r;
		struct rule ru;
		struct verdict_result v;
		uint8_t a[4] = {127, 0, 0, (uint8_t)(50 + i % 7)}, b[4] = {127, 0, 0, 10};

		memset(&r, 0, sizeof(r));
		memset(&ru, 0, sizeof(ru));
		memset(&v, 0, sizeof(v));
		addr_set4(&r.orig, a);
		addr_set4(&r.resp, b);
		r.proto = 6;
		r.orig_port = (uint16_t)(30000 + i);
		r.resp_port = 443;
		r.direction = DIR_IN;
		r.ts_start_us = (uint64_t)((t0 + i * 1799.75) * 1e6); /* 2.5 days */
		r.ts_end_us = r.ts_start_us + 60000000;
		r.orig_bytes = (uint64_t)(100 + i);
		r.resp_bytes = 1000;
		snprintf(r.uid, sizeof(r.uid), "Ck%d", i);
		r.end_reason = END_CHECKPOINT;
		snprintf(ru.id, sizeof(ru.id), "%s", rules[i % 3]);
		v.rule = &ru;
		v.kind = VERDICT_EXPECTED;
		v.peer_unchecked = i % 4 == 2; /* flows.unchecked 'peer' */
		cr_assert_eq(store_flow(s, id, &r, &v, err, sizeof(err)), 0, "%s", err);
		if (i % 4 == 0)
			cr_assert_eq(store_flush(s, err, sizeof(err)), 0, "%s", err);
		r.end_reason = END_CLOSED;
		r.ts_end_us += (uint64_t)(i % 5) * 600000000;
		r.resp_bytes += 500;
		if (i % 6 == 1)
			v.kind = VERDICT_PROTOCOL_MISMATCH;
		if (i % 10 == 9)
			v.rule = NULL, v.kind = VERDICT_UNEXPECTED_PORT;
		cr_assert_eq(store_flow(s, id, &r, &v, err, sizeof(err)), 0, "%s", err);
	}
	store_close(s);
}
#endif

#ifdef SMAUDIT_RECORD_H
/* A finished TLS flow 127.0.0.50:sport -> 127.0.0.10:443 (inbound, SF,
 * closed), uid "C<sport>": the record the store and record suites write. */
static inline struct flow_record tu_sample_flow(uint16_t sport)
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
	snprintf(r.uid, sizeof(r.uid), "C%u", sport);
	r.end_reason = END_CLOSED;
	strcpy(r.app.proto, "TLS");
	r.app.confidence = APP_CONF_DPI;
	strcpy(r.app.server_name, "sm.example.com");
	return r;
}
#endif

#endif
