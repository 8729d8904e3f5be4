/* query.c: the read-only question engine (see query.h).
 *
 * Owns: opening and checking a database for reading, the four fixed
 * questions as SQL assembled from constant fragments with bound values, the
 * sm_cidr_match() SQL function, and the three output formats.
 *
 * Trade-off: the table format needs column widths before printing, so it
 * buffers at most TABLE_BUF_ROWS rows; after that it prints with the widths
 * it has (a later, longer value just pushes its line out). CSV and JSON
 * stream row by row, so memory stays bounded whatever the result size. */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "smaudit/query.h"

/* ---- things you may reasonably want to change ---- */
#define TABLE_BUF_ROWS  2000  /* rows buffered to size table columns */
#define BUSY_TIMEOUT_MS 5000  /* wait this long on a locked database */
#define REL_MAX_SECONDS 6.4e9 /* relative times reach back at most ~200 years */

/* ---- types ---- */

enum col_kind {
	COL_TEXT,  /* text, escaped per format */
	COL_INT,   /* integer */
	COL_BYTES, /* integer byte count: human size in tables */
	COL_TIME,  /* epoch seconds: readable UTC in tables, ISO 8601 elsewhere */
	COL_REAL   /* seconds (duration) */
};

struct col {
	const char *name;
	enum col_kind kind;
};

#define MAX_BINDS 32

struct qbind {
	char type; /* 'i', 'd' or 's' */
	int64_t i;
	double d;
	const char *s;
};

/* An SQL text made of constant fragments and the values bound to its '?'s. */
struct qsql {
	char text[6144];
	size_t len;
	int overflow;
	struct qbind b[MAX_BINDS];
	int nb;
	char peer[ADDR_STRLEN + 8]; /* canonical --peer text, bound by pointer */
};

static const char *const verdict_names[] = {"expected", "unexpected-port", "unexpected-direction",
                                            "unexpected-peer", "protocol-mismatch"};

#define ANOMALY_COND                                                                               \
	" f.verdict IN ('unexpected-port', 'unexpected-direction', 'unexpected-peer',"             \
	" 'protocol-mismatch')"
/* epoch seconds of an ISO 8601 text column (runs.started/finished) */
#define EPOCH(x) "((julianday(" x ") - 2440587.5) * 86400.0)"

/* ---- columns of each question (order = SELECT order) ---- */

static const struct col anomaly_cols[] = {
    {"verdict", COL_TEXT},    {"direction", COL_TEXT}, {"peer", COL_TEXT},   {"port", COL_INT},
    {"proto", COL_TEXT},      {"app", COL_TEXT},       {"flows", COL_INT},   {"bytes", COL_BYTES},
    {"first_seen", COL_TIME}, {"last_seen", COL_TIME}, {"reason", COL_TEXT},
};

static const struct col flow_cols[] = {
    {"id", COL_INT},          {"run", COL_INT},        {"uid", COL_TEXT},
    {"start", COL_TIME},      {"duration", COL_REAL},  {"proto", COL_TEXT},
    {"orig_addr", COL_TEXT},  {"orig_port", COL_INT},  {"resp_addr", COL_TEXT},
    {"resp_port", COL_INT},   {"direction", COL_TEXT}, {"peer", COL_TEXT},
    {"pkts", COL_INT},        {"bytes", COL_BYTES},    {"state", COL_TEXT},
    {"end_reason", COL_TEXT}, {"app", COL_TEXT},       {"server_name", COL_TEXT},
    {"rule", COL_TEXT},       {"verdict", COL_TEXT},   {"reason", COL_TEXT},
};

static const struct col coverage_cols[] = {
    {"rule", COL_TEXT},       {"row", COL_INT},        {"direction", COL_TEXT},
    {"proto", COL_TEXT},      {"port", COL_INT},       {"peer", COL_TEXT},
    {"apps", COL_TEXT},       {"seen", COL_TEXT},      {"flows", COL_INT},
    {"expected", COL_INT},    {"peers", COL_INT},      {"bytes", COL_BYTES},
    {"first_seen", COL_TIME}, {"last_seen", COL_TIME}, {"description", COL_TEXT},
};

static const struct col run_cols[] = {
    {"id", COL_INT},        {"mode", COL_TEXT},   {"source", COL_TEXT}, {"started", COL_TEXT},
    {"finished", COL_TEXT}, {"status", COL_TEXT}, {"packets", COL_INT}, {"dropped", COL_INT},
    {"malformed", COL_INT}, {"flows", COL_INT},
};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- SQL assembly ---- */

/* Append a constant fragment; marks overflow instead of truncating silently. */
static void sql_add(struct qsql *q, const char *frag)
{
	size_t n = strlen(frag);

	if (q->len + n + 1 > sizeof(q->text)) {
		q->overflow = 1;
		return;
	}
	memcpy(q->text + q->len, frag, n + 1);
	q->len += n;
}

/* Append a fragment holding one '?' and remember the value for it. */
static void sql_add_i(struct qsql *q, const char *frag, int64_t v)
{
	if (q->nb >= MAX_BINDS) {
		q->overflow = 1;
		return;
	}
	sql_add(q, frag);
	q->b[q->nb].type = 'i';
	q->b[q->nb++].i = v;
}

static void sql_add_d(struct qsql *q, const char *frag, double v)
{
	if (q->nb >= MAX_BINDS) {
		q->overflow = 1;
		return;
	}
	sql_add(q, frag);
	q->b[q->nb].type = 'd';
	q->b[q->nb++].d = v;
}

static void sql_add_s(struct qsql *q, const char *frag, const char *v)
{
	if (q->nb >= MAX_BINDS) {
		q->overflow = 1;
		return;
	}
	sql_add(q, frag);
	q->b[q->nb].type = 's';
	q->b[q->nb++].s = v;
}

/* Conditions on flows aliased f, each starting with " AND". */
static void add_flow_filters(struct qsql *q, const struct query_filter *f, int with_rule)
{
	if (f->has_since)
		sql_add_d(q, " AND f.ts_start >= ?", f->since);
	if (f->has_until)
		sql_add_d(q, " AND f.ts_start < ?", f->until);
	if (f->run_id)
		sql_add_i(q, " AND f.run_id = ?", f->run_id);
	if (f->verdict)
		sql_add_s(q, " AND f.verdict = ?", f->verdict);
	if (with_rule && f->rule_id)
		sql_add_s(q, " AND f.rule_id = ?", f->rule_id);
	if (f->has_peer) {
		int full = f->peer.prefix == (f->peer.addr.family == 4 ? 32 : 128);
		if (full) {
			/* exact address: canonical text equality can use flows_peer */
			addr_str(&f->peer.addr, q->peer, sizeof(q->peer));
			sql_add_s(q, " AND f.peer_addr = ?", q->peer);
		} else {
			cidr_str(&f->peer, q->peer, sizeof(q->peer));
			sql_add_s(q, " AND sm_cidr_match(f.peer_addr, ?)", q->peer);
		}
	}
	if (f->port)
		sql_add_i(q, " AND f.resp_port = ?", f->port);
	if (f->proto)
		sql_add_s(q, " AND f.proto = ?", f->proto);
	if (f->app)
		sql_add_s(q, " AND f.app_proto = ? COLLATE NOCASE", f->app);
}

static void add_limit(struct qsql *q, const struct query_filter *f)
{
	if (f->limit > 0)
		sql_add_i(q, " LIMIT ?", f->limit);
}

/* Runs aliased r in the window: ran during it (wall clock) or hold flows
 * that started in it (a capture file read later than it was taken). */
static void add_run_window(struct qsql *q, const struct query_filter *f)
{
	if (f->run_id)
		sql_add_i(q, " AND r.id = ?", f->run_id);
	if (!f->has_since && !f->has_until)
		return;
	sql_add(q, " AND ((1");
	if (f->has_since)
		sql_add_d(q, " AND (r.finished IS NULL OR " EPOCH("r.finished") " >= ?)", f->since);
	if (f->has_until)
		sql_add_d(q, " AND " EPOCH("r.started") " < ?", f->until);
	sql_add(q, ") OR r.id IN (SELECT w.run_id FROM flows w WHERE 1");
	if (f->has_since)
		sql_add_d(q, " AND w.ts_start >= ?", f->since);
	if (f->has_until)
		sql_add_d(q, " AND w.ts_start < ?", f->until);
	sql_add(q, "))");
}

/* Fill q with the SQL of one question; returns its columns. */
static const struct col *build_sql(struct qsql *q, enum query_kind kind,
                                   const struct query_filter *f, int *ncols)
{
	switch (kind) {
	case QUERY_ANOMALIES:
		sql_add(q, "SELECT f.verdict, f.direction, f.peer_addr, f.resp_port, f.proto,"
		           " f.app_proto, count(*), sum(f.orig_bytes + f.resp_bytes),"
		           " min(f.ts_start), max(f.ts_end), min(f.reason)"
		           " FROM flows f WHERE" ANOMALY_COND);
		add_flow_filters(q, f, 1);
		sql_add(q, " GROUP BY f.verdict, f.direction, f.peer_addr, f.resp_port, f.proto,"
		           " f.app_proto ORDER BY f.verdict, f.direction, f.peer_addr,"
		           " f.resp_port, f.proto, f.app_proto");
		add_limit(q, f);
		*ncols = NCOLS(anomaly_cols);
		return anomaly_cols;
	case QUERY_ANOMALY_FLOWS:
	case QUERY_FLOWS:
		sql_add(q, "SELECT f.id, f.run_id, f.uid, f.ts_start, f.ts_end - f.ts_start,"
		           " f.proto, f.orig_addr, f.orig_port, f.resp_addr, f.resp_port,"
		           " f.direction, f.peer_addr, f.orig_pkts + f.resp_pkts,"
		           " f.orig_bytes + f.resp_bytes, f.conn_state, f.end_reason, f.app_proto,"
		           " f.server_name, f.rule_id, f.verdict, f.reason FROM flows f WHERE");
		sql_add(q, kind == QUERY_ANOMALY_FLOWS ? ANOMALY_COND : " 1");
		add_flow_filters(q, f, 1);
		sql_add(q, " ORDER BY f.ts_start, f.id");
		add_limit(q, f);
		*ncols = NCOLS(flow_cols);
		return flow_cols;
	case QUERY_COVERAGE:
		/* rules in force: union over the runs in the window by rule_id; the
		 * bare columns come from the latest run holding the rule (max()). */
		sql_add(q, "WITH sel AS (SELECT r.id FROM runs r WHERE 1");
		add_run_window(q, f);
		sql_add(q, "), rules AS (SELECT max(rr.run_id) AS run_id, rr.rule_id, rr.row,"
		           " rr.direction, rr.proto, rr.port, rr.peer, rr.apps, rr.description"
		           " FROM run_rules rr WHERE rr.run_id IN (SELECT id FROM sel)");
		if (f->rule_id)
			sql_add_s(q, " AND rr.rule_id = ?", f->rule_id);
		if (f->port)
			sql_add_i(q, " AND rr.port = ?", f->port);
		if (f->proto)
			sql_add_s(q, " AND rr.proto = ?", f->proto);
		/* per-rule flow statistics in one pass over flows_rule (index order,
		 * no sort of the flows), then joined to the rules */
		sql_add(q, " GROUP BY rr.rule_id),"
		           " st AS (SELECT f.rule_id, count(*) AS n,"
		           " total(f.verdict = 'expected') AS e, count(DISTINCT f.peer_addr) AS p,"
		           " total(f.orig_bytes + f.resp_bytes) AS b, min(f.ts_start) AS t0,"
		           " max(f.ts_end) AS t1 FROM flows f"
		           " WHERE f.rule_id IN (SELECT rule_id FROM rules)");
		add_flow_filters(q, f, 0);
		sql_add(q,
		        " GROUP BY f.rule_id)"
		        " SELECT r.rule_id, r.row, r.direction, r.proto, r.port, r.peer, r.apps,"
		        " CASE WHEN st.n IS NULL THEN 'never' WHEN st.e = 0 THEN 'anomalous-only'"
		        " ELSE 'yes' END, ifnull(st.n, 0), CAST(ifnull(st.e, 0) AS INTEGER),"
		        " ifnull(st.p, 0), CAST(ifnull(st.b, 0) AS INTEGER), st.t0, st.t1,"
		        " r.description FROM rules r LEFT JOIN st ON st.rule_id = r.rule_id"
		        " ORDER BY r.row IS NULL, r.row, r.rule_id");
		add_limit(q, f);
		*ncols = NCOLS(coverage_cols);
		return coverage_cols;
	case QUERY_RUNS:
	default:
		sql_add(q, "SELECT r.id, r.mode, r.source, r.started, r.finished, r.status,"
		           " r.packets, r.dropped, r.malformed, r.flows FROM runs r WHERE 1");
		add_run_window(q, f);
		sql_add(q, " ORDER BY r.id");
		add_limit(q, f);
		*ncols = NCOLS(run_cols);
		return run_cols;
	}
}

/* ---- the sm_cidr_match(addr, cidr) SQL function ---- */

/* sm_cidr_match(ADDR_TEXT, CIDR_TEXT): 1 if inside, 0 if not, NULL if either
 * is NULL; the parsed prefix is cached per statement (auxdata). */
static void sql_cidr_match(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct sm_cidr *c;
	struct sm_addr a;
	const unsigned char *s;

	if (sqlite3_value_type(argv[0]) == SQLITE_NULL ||
	    sqlite3_value_type(argv[1]) == SQLITE_NULL)
		return;
	c = sqlite3_get_auxdata(ctx, 1);
	if (!c) {
		c = sqlite3_malloc(sizeof(*c));
		if (!c) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
		if (cidr_parse((const char *)sqlite3_value_text(argv[1]), c) < 0) {
			sqlite3_free(c);
			sqlite3_result_error(ctx, "sm_cidr_match: not an ADDR/PREFIX", -1);
			return;
		}
		sqlite3_set_auxdata(ctx, 1, c, sqlite3_free);
		/* set_auxdata may free c at once; fetch it back */
		c = sqlite3_get_auxdata(ctx, 1);
		if (!c) {
			struct sm_cidr tmp;
			if (cidr_parse((const char *)sqlite3_value_text(argv[1]), &tmp) < 0)
				return;
			s = sqlite3_value_text(argv[0]);
			sqlite3_result_int(ctx, s && addr_parse((const char *)s, &a) == 0 &&
			                            cidr_match(&tmp, &a));
			return;
		}
	}
	s = sqlite3_value_text(argv[0]);
	sqlite3_result_int(ctx, s && addr_parse((const char *)s, &a) == 0 && cidr_match(c, &a));
}

/* ---- opening ---- */

int query_verdict_valid(const char *name)
{
	for (size_t i = 0; i < sizeof(verdict_names) / sizeof(verdict_names[0]); i++)
		if (name && strcmp(name, verdict_names[i]) == 0)
			return 1;
	return 0;
}

void query_close(struct sqlite3 *db)
{
	if (db)
		sqlite3_close_v2(db);
}

/* A database that opened read-only but cannot be read because it lives
 * where its WAL index (-shm) cannot be made (a read-only mount, a
 * directory or file without write permission): reopen it immutable, as a
 * sqlite3 user would with file:PATH?immutable=1. Refused (-1 with err) when
 * a -wal file holds changes immutable would not see. 0 otherwise. */
static int reopen_immutable(const char *path, sqlite3 **db, char *err, size_t errlen)
{
	static const char keep[] = "/._~-";
	sqlite3_stmt *st;
	char wal[4096], *uri;
	struct stat sb;
	size_t n = 0;
	int rc = sqlite3_prepare_v2(*db, "PRAGMA user_version", -1, &st, NULL);

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	sqlite3_finalize(st);
	rc = rc == SQLITE_ROW ? SQLITE_OK : sqlite3_extended_errcode(*db) & 0xff;
	if (rc != SQLITE_CANTOPEN && rc != SQLITE_READONLY)
		return 0;
	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) == 0 && sb.st_size > 0) {
		snprintf(err, errlen,
		         "%s: cannot be opened here (no write access for its -shm file) and %s "
		         "holds changes not yet in it: copy both files to a writable directory",
		         path, wal);
		return -1;
	}
	uri = malloc(strlen(path) * 3 + 32);
	if (!uri) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	n = (size_t)sprintf(uri, "file:");
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		n += (size_t)(isalnum(*p) || strchr(keep, *p) ? sprintf(uri + n, "%c", *p)
		                                              : sprintf(uri + n, "%%%02X", *p));
	strcpy(uri + n, "?immutable=1");
	sqlite3_close_v2(*db);
	*db = NULL;
	rc = sqlite3_open_v2(uri, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	free(uri);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		         *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

int query_open(const char *path, struct sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct stat sb;
	int rc, version, ntables = 0;

	*out = NULL;
	if (stat(path, &sb) < 0) {
		snprintf(err, errlen, "%s: %s", path,
		         errno == ENOENT ? "no such database (run 'smaudit read' first)"
		                         : strerror(errno));
		return -1;
	}
	if (!S_ISREG(sb.st_mode)) {
		snprintf(err, errlen, "%s: not a database file", path);
		return -1;
	}
	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		         db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
		goto fail;
	}
	if (reopen_immutable(path, &db, err, errlen) < 0)
		goto fail;
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);

	rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	if (rc != SQLITE_ROW) {
		if (rc == SQLITE_NOTADB || sqlite3_errcode(db) == SQLITE_NOTADB)
			snprintf(err, errlen, "%s: not an smaudit database (not SQLite)", path);
		else
			snprintf(err, errlen, "%s: cannot read: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	st = NULL;
	if (version > QUERY_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: database schema version %d is newer than this smaudit supports (%d);"
		         " upgrade smaudit",
		         path, version, QUERY_SCHEMA_VERSION);
		goto fail;
	}
	rc = sqlite3_prepare_v2(db,
	                        "SELECT count(*) FROM sqlite_master WHERE type = 'table'"
	                        " AND name IN ('runs', 'run_rules', 'flows')",
	                        -1, &st, NULL);
	if (rc == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		ntables = sqlite3_column_int(st, 0);
	else {
		snprintf(err, errlen, "%s: cannot read: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (version < 1 || ntables != 3) {
		snprintf(err, errlen, "%s: not an smaudit database (no smaudit schema)", path);
		goto fail;
	}
	rc = sqlite3_create_function(db, "sm_cidr_match", 2,
	                             SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
	                             sql_cidr_match, NULL, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: %s", path, sqlite3_errmsg(db));
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_finalize(st);
	sqlite3_close_v2(db);
	return -1;
}

/* ---- time parsing ---- */

/* Read exactly n decimal digits from *p; -1 if not digits. */
static int digits(const char **p, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		char c = (*p)[i];
		if (c < '0' || c > '9')
			return -1;
		v = v * 10 + (c - '0');
	}
	*p += n;
	return v;
}

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return d[m - 1];
}

/* Relative time "N[smhdw]" -> seconds; 1 if parsed, 0 if not that form, -1 bad. */
static int parse_relative(const char *s, double *secs)
{
	const char *p = s;
	double n = 0, unit;

	if (*p < '0' || *p > '9')
		return 0;
	while (*p >= '0' && *p <= '9') {
		n = n * 10 + (*p - '0');
		if (n > 1e15)
			return -1;
		p++;
	}
	switch (*p) {
	case 's':
		unit = 1;
		break;
	case 'm':
		unit = 60;
		break;
	case 'h':
		unit = 3600;
		break;
	case 'd':
		unit = 86400;
		break;
	case 'w':
		unit = 7 * 86400;
		break;
	default:
		return 0;
	}
	if (p[1] != '\0')
		return -1;
	*secs = n * unit;
	return *secs > REL_MAX_SECONDS ? -1 : 1;
}

int query_parse_time(const char *s, time_t now, double *out, char *err, size_t errlen)
{
	const char *p = s;
	struct tm tm;
	double frac = 0, rel;
	int y, mo, d, h = 0, mi = 0, sec = 0, off = 0, r;
	time_t t;

	if (!s || !*s)
		goto bad;
	r = parse_relative(s, &rel);
	if (r < 0) {
		snprintf(err, errlen,
		         "'%.40s' is not a usable relative time (N s|m|h|d|w, at most 200 years)",
		         s);
		return -1;
	}
	if (r > 0) {
		*out = (double)now - rel;
		return 0;
	}
	if ((y = digits(&p, 4)) < 0 || *p++ != '-' || (mo = digits(&p, 2)) < 0 || *p++ != '-' ||
	    (d = digits(&p, 2)) < 0)
		goto bad;
	if (y < 1900 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
		goto bad;
	if (*p == 'T' || *p == 't' || *p == ' ') {
		p++;
		if ((h = digits(&p, 2)) < 0 || *p++ != ':' || (mi = digits(&p, 2)) < 0)
			goto bad;
		if (*p == ':') {
			p++;
			if ((sec = digits(&p, 2)) < 0)
				goto bad;
			if (*p == '.' || *p == ',') {
				double scale = 0.1;
				p++;
				if (*p < '0' || *p > '9')
					goto bad;
				while (*p >= '0' && *p <= '9') {
					frac += (*p++ - '0') * scale;
					scale /= 10;
				}
			}
		}
		if (h > 23 || mi > 59 || sec > 60)
			goto bad;
		if (*p == 'Z' || *p == 'z') {
			p++;
		} else if (*p == '+' || *p == '-') {
			int sign = *p++ == '-' ? -1 : 1, oh, om;
			if ((oh = digits(&p, 2)) < 0)
				goto bad;
			if (*p == ':')
				p++;
			if ((om = digits(&p, 2)) < 0 || oh > 23 || om > 59)
				goto bad;
			off = sign * (oh * 3600 + om * 60);
		}
	}
	if (*p != '\0')
		goto bad;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	t = timegm(&tm);
	*out = (double)t - off + frac;
	return 0;
bad:
	snprintf(
	    err, errlen,
	    "'%.40s' is not a time (YYYY-MM-DD[THH:MM[:SS]][Z|+HH:MM], or relative like 24h, 7d)",
	    s ? s : "");
	return -1;
}

/* ---- text helpers ---- */

/* Decode one UTF-8 sequence at s (n bytes left): code point, or -1 if invalid
 * (overlong, surrogate, beyond U+10FFFF, truncated); *len = bytes used. */
static long utf8_next(const unsigned char *s, size_t n, int *len)
{
	long cp;
	int need;

	*len = 1;
	if (s[0] < 0x80)
		return s[0];
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 1;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 2;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 3;
		cp = s[0] & 0x07;
	} else {
		return -1;
	}
	if ((size_t)need >= n)
		return -1;
	for (int i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = need + 1;
	return cp;
}

/* Format epoch t as UTC: readable ("2024-05-01 12:00:00") or ISO 8601
 * with microseconds ("2024-05-01T12:00:00.000000Z"). */
static void fmt_time(double t, int iso, char *buf, size_t len)
{
	double whole = floor(t);
	long usec = lround((t - whole) * 1e6);
	time_t secs;
	struct tm tm;

	if (!isfinite(t) || fabs(t) > 1e14) {
		snprintf(buf, len, "%.6f", t);
		return;
	}
	if (usec >= 1000000) {
		usec -= 1000000;
		whole += 1;
	}
	secs = (time_t)whole;
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, len, "%.6f", t);
		return;
	}
	if (iso)
		snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	else
		snprintf(buf, len, "%04d-%02d-%02d %02d:%02d:%02d", tm.tm_year + 1900,
		         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Human byte size: "512 B", "1.2 KiB", "3.4 MiB" ... */
static void fmt_bytes(int64_t v, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
	double x = (double)v;
	int u = -1;

	if (v < 1024 && v > -1024) {
		snprintf(buf, len, "%lld B", (long long)v);
		return;
	}
	while ((x >= 1024 || x <= -1024) && u < 5) {
		x /= 1024;
		u++;
	}
	snprintf(buf, len, x < 10 && x > -10 ? "%.1f %s" : "%.0f %s", x, units[u]);
}

/* ---- writers ---- */

/* JSON string with escapes; invalid UTF-8 becomes U+FFFD, valid passes through. */
static void json_str(FILE *out, const unsigned char *s, size_t n)
{
	putc('"', out);
	for (size_t i = 0; i < n;) {
		int len;
		long cp = utf8_next(s + i, n - i, &len);
		if (cp < 0) {
			fputs("\\ufffd", out);
		} else if (cp == '"') {
			fputs("\\\"", out);
		} else if (cp == '\\') {
			fputs("\\\\", out);
		} else if (cp == '\n') {
			fputs("\\n", out);
		} else if (cp == '\r') {
			fputs("\\r", out);
		} else if (cp == '\t') {
			fputs("\\t", out);
		} else if (cp < 0x20 || cp == 0x7f) {
			fprintf(out, "\\u%04lx", cp);
		} else {
			fwrite(s + i, 1, (size_t)len, out);
		}
		i += (size_t)len;
	}
	putc('"', out);
}

/* CSV field per RFC 4180: quoted when it holds a comma, quote, CR or LF. */
static void csv_str(FILE *out, const unsigned char *s, size_t n)
{
	if (!memchr(s, ',', n) && !memchr(s, '"', n) && !memchr(s, '\r', n) &&
	    !memchr(s, '\n', n)) {
		fwrite(s, 1, n, out);
		return;
	}
	putc('"', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			putc('"', out);
		putc(s[i], out);
	}
	putc('"', out);
}

/* Table cell text: control characters, bidi overrides and invalid UTF-8
 * become '?', whitespace controls a space. Returns a malloc'd string (caller
 * frees) and its display width (code points) in *width; NULL on no memory. */
static char *table_clean(const unsigned char *s, size_t n, size_t *width)
{
	char *o = malloc(n + 1), *q = o;

	*width = 0;
	if (!o)
		return NULL;
	for (size_t i = 0; i < n;) {
		int len;
		long cp = utf8_next(s + i, n - i, &len);
		if (cp == '\t' || cp == '\n' || cp == '\r')
			*q++ = ' ';
		else if (cp < 0 || cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			*q++ = '?';
		else {
			memcpy(q, s + i, (size_t)len);
			q += len;
		}
		(*width)++;
		i += (size_t)len;
	}
	*q = '\0';
	return o;
}

struct table {
	const struct col *cols;
	int ncols;
	size_t width[32];
	char **cells;  /* nrows * ncols, owned */
	size_t *cellw; /* display width of each cell */
	size_t nrows, cap;
	int printed_header;
};

static int is_numeric(enum col_kind k)
{
	return k == COL_INT || k == COL_BYTES || k == COL_REAL;
}

/* Print one padded cell; last column unpadded. */
static void table_cell(FILE *out, const struct table *t, int c, const char *s, size_t w)
{
	size_t pad = t->width[c] > w ? t->width[c] - w : 0;
	int last = c == t->ncols - 1;

	if (c)
		fputs("  ", out);
	if (is_numeric(t->cols[c].kind))
		for (size_t i = 0; i < pad; i++)
			putc(' ', out);
	fputs(s, out);
	if (!is_numeric(t->cols[c].kind) && !last)
		for (size_t i = 0; i < pad; i++)
			putc(' ', out);
}

/* Print the header and every buffered row, then free the buffer. */
static void table_flush(FILE *out, struct table *t)
{
	if (!t->printed_header) {
		for (int c = 0; c < t->ncols; c++) {
			char up[64];
			size_t i;
			for (i = 0; t->cols[c].name[i] && i + 1 < sizeof(up); i++)
				up[i] =
				    (char)(t->cols[c].name[i] >= 'a' && t->cols[c].name[i] <= 'z'
				               ? t->cols[c].name[i] - 32
				               : t->cols[c].name[i]);
			up[i] = '\0';
			table_cell(out, t, c, up, i);
		}
		putc('\n', out);
		t->printed_header = 1;
	}
	for (size_t r = 0; r < t->nrows; r++) {
		for (int c = 0; c < t->ncols; c++) {
			size_t k = r * (size_t)t->ncols + (size_t)c;
			table_cell(out, t, c, t->cells[k], t->cellw[k]);
			free(t->cells[k]);
		}
		putc('\n', out);
	}
	t->nrows = 0;
}

/* Text of column c of the current row for a table; malloc'd (caller owns). */
static char *table_text(sqlite3_stmt *st, int c, enum col_kind kind, size_t *w)
{
	char buf[64];
	int type = sqlite3_column_type(st, c);

	if (type == SQLITE_NULL) {
		*w = 1;
		return strdup("-");
	}
	if (type == SQLITE_INTEGER || type == SQLITE_FLOAT) {
		switch (kind) {
		case COL_BYTES:
			fmt_bytes(sqlite3_column_int64(st, c), buf, sizeof(buf));
			break;
		case COL_TIME:
			fmt_time(sqlite3_column_double(st, c), 0, buf, sizeof(buf));
			break;
		case COL_REAL:
			snprintf(buf, sizeof(buf), "%.3f", sqlite3_column_double(st, c));
			break;
		default:
			if (type == SQLITE_FLOAT && kind == COL_TEXT)
				snprintf(buf, sizeof(buf), "%.17g", sqlite3_column_double(st, c));
			else if (type == SQLITE_FLOAT)
				snprintf(buf, sizeof(buf), "%.6f", sqlite3_column_double(st, c));
			else
				snprintf(buf, sizeof(buf), "%lld",
				         (long long)sqlite3_column_int64(st, c));
			break;
		}
		*w = strlen(buf);
		return strdup(buf);
	}
	{
		const unsigned char *s = sqlite3_column_text(st, c);
		return table_clean(s ? s : (const unsigned char *)"",
		                   (size_t)sqlite3_column_bytes(st, c), w);
	}
}

/* Add the current row to the table; prints when the buffer is full. */
static int table_row(FILE *out, struct table *t, sqlite3_stmt *st)
{
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		char **cells = realloc(t->cells, cap * (size_t)t->ncols * sizeof(*cells));
		size_t *cellw;
		if (!cells)
			return -1;
		t->cells = cells;
		cellw = realloc(t->cellw, cap * (size_t)t->ncols * sizeof(*cellw));
		if (!cellw)
			return -1;
		t->cellw = cellw;
		t->cap = cap;
	}
	for (int c = 0; c < t->ncols; c++) {
		size_t k = t->nrows * (size_t)t->ncols + (size_t)c, w;
		char *s = table_text(st, c, t->cols[c].kind, &w);
		if (!s) {
			for (size_t j = t->nrows * (size_t)t->ncols; j < k; j++)
				free(t->cells[j]);
			return -1;
		}
		t->cells[k] = s;
		t->cellw[k] = w;
		if (!t->printed_header && w > t->width[c])
			t->width[c] = w;
	}
	t->nrows++;
	if (t->nrows >= TABLE_BUF_ROWS)
		table_flush(out, t);
	return 0;
}

/* One value as CSV (kind decides numbers and times). */
static void csv_value(FILE *out, sqlite3_stmt *st, int c, enum col_kind kind)
{
	char buf[64];
	int type = sqlite3_column_type(st, c);

	if (type == SQLITE_NULL)
		return;
	if ((type == SQLITE_INTEGER || type == SQLITE_FLOAT) && kind != COL_TEXT) {
		if (kind == COL_TIME)
			fmt_time(sqlite3_column_double(st, c), 1, buf, sizeof(buf));
		else if (kind == COL_REAL || type == SQLITE_FLOAT)
			snprintf(buf, sizeof(buf), "%.6f", sqlite3_column_double(st, c));
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_column_int64(st, c));
		fputs(buf, out);
		return;
	}
	csv_str(out, sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c));
}

/* One value as JSON: numbers stay numbers, times are ISO 8601 strings. */
static void json_value(FILE *out, sqlite3_stmt *st, int c, enum col_kind kind)
{
	char buf[64];
	int type = sqlite3_column_type(st, c);

	if (type == SQLITE_NULL) {
		fputs("null", out);
		return;
	}
	if ((type == SQLITE_INTEGER || type == SQLITE_FLOAT) && kind != COL_TEXT) {
		double d = sqlite3_column_double(st, c);
		if (kind == COL_TIME) {
			fmt_time(d, 1, buf, sizeof(buf));
			json_str(out, (const unsigned char *)buf, strlen(buf));
		} else if (type == SQLITE_INTEGER && kind != COL_REAL) {
			fprintf(out, "%lld", (long long)sqlite3_column_int64(st, c));
		} else if (isfinite(d)) {
			fprintf(out, "%.6f", d);
		} else {
			fputs("null", out);
		}
		return;
	}
	json_str(out, sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c));
}

/* ---- running ---- */

static sqlite3_stmt *prepare_built(sqlite3 *db, struct qsql *q, int explain, char *err,
                                   size_t errlen)
{
	sqlite3_stmt *st = NULL;
	char full[sizeof(q->text) + 32];
	int rc;

	if (q->overflow) {
		snprintf(err, errlen, "query too long (internal)");
		return NULL;
	}
	snprintf(full, sizeof(full), "%s%s", explain ? "EXPLAIN QUERY PLAN " : "", q->text);
	rc = sqlite3_prepare_v2(db, full, -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "cannot prepare query: %s", sqlite3_errmsg(db));
		return NULL;
	}
	for (int i = 0; i < q->nb; i++) {
		if (q->b[i].type == 'i')
			rc = sqlite3_bind_int64(st, i + 1, q->b[i].i);
		else if (q->b[i].type == 'd')
			rc = sqlite3_bind_double(st, i + 1, q->b[i].d);
		else
			rc = sqlite3_bind_text(st, i + 1, q->b[i].s, -1, SQLITE_TRANSIENT);
		if (rc != SQLITE_OK) {
			snprintf(err, errlen, "cannot bind value %d: %s", i + 1,
			         sqlite3_errmsg(db));
			sqlite3_finalize(st);
			return NULL;
		}
	}
	return st;
}

sqlite3_stmt *query_prepare(sqlite3 *db, enum query_kind kind, const struct query_filter *f,
                            int explain, char *err, size_t errlen)
{
	struct qsql q;
	int ncols;

	memset(&q, 0, sizeof(q));
	build_sql(&q, kind, f, &ncols);
	return prepare_built(db, &q, explain, err, errlen);
}

/* Zeek's service name for an nDPI protocol name that DPI detected. */
static void zeek_service(const char *app, const char *conf, char *buf, size_t len)
{
	static const char *const map[][2] = {
	    {"tls", "ssl"},   {"smtps", "smtp,ssl"}, {"imaps", "imap,ssl"}, {"jabber", "xmpp"},
	    {"http", "http"}, {"smtp", "smtp"},      {"dns", "dns"},        {"ssh", "ssh"},
	    {"ntp", "ntp"},   {"imap", "imap"}};
	size_t n = 0;

	snprintf(buf, len, "-");
	if (!app || !*app || !conf || strcmp(conf, "dpi"))
		return; /* a port guess is not a detection */
	while (app[n] && app[n] != '.' && n + 1 < len)
		n++;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i][0]) == n && !strncasecmp(app, map[i][0], n)) {
			snprintf(buf, len, "%s", map[i][1]);
			return;
		}
}

/* Flows as Zeek's conn.log: the same columns, types and conventions ('-'
 * for unset; durations and sizes unset for zero-length flows, as Zeek does),
 * so a capture's records can be diffed with Zeek's line by line. */
static int64_t zeek_connlog(sqlite3 *db, enum query_kind kind, const struct query_filter *f,
                            FILE *out, char *err, size_t errlen)
{
	struct qsql q;
	sqlite3_stmt *st;
	int64_t rows = 0;
	int rc;
	char stamp[32];
	time_t now = time(NULL);
	struct tm tm;

	memset(&q, 0, sizeof(q));
	sql_add(&q, "SELECT f.ts_start, f.uid, f.orig_addr, f.orig_port, f.resp_addr, f.resp_port,"
	            " f.proto, f.app_proto, f.app_confidence, f.ts_end - f.ts_start, f.orig_bytes,"
	            " f.resp_bytes, f.conn_state, f.direction, f.history, f.orig_pkts,"
	            " f.orig_ip_bytes, f.resp_pkts, f.resp_ip_bytes FROM flows f WHERE");
	sql_add(&q, kind == QUERY_ANOMALY_FLOWS ? ANOMALY_COND : " 1");
	add_flow_filters(&q, f, 1);
	sql_add(&q, " ORDER BY f.ts_start, f.id");
	add_limit(&q, f);
	st = prepare_built(db, &q, 0, err, errlen);
	if (!st)
		return -1;
	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%d-%H-%M-%S", &tm);
	fprintf(out,
	        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
	        "#unset_field\t-\n#path\tconn\n#open\t%s\n",
	        stamp);
	fputs("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"
	      "duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\t"
	      "missed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\t"
	      "tunnel_parents\n",
	      out);
	fputs("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\t"
	      "count\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\t"
	      "set[string]\n",
	      out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *proto = (const char *)sqlite3_column_text(st, 6);
		const char *dir = (const char *)sqlite3_column_text(st, 13);
		const char *state = (const char *)sqlite3_column_text(st, 12);
		const char *hist = (const char *)sqlite3_column_text(st, 14);
		double dur = sqlite3_column_double(st, 9);
		char svc[32];
		int lo = dir && (!strcmp(dir, "out") || !strcmp(dir, "local"));
		int lr = dir && (!strcmp(dir, "in") || !strcmp(dir, "local"));

		rows++;
		zeek_service((const char *)sqlite3_column_text(st, 7),
		             (const char *)sqlite3_column_text(st, 8), svc, sizeof(svc));
		fprintf(out, "%.6f\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t", sqlite3_column_double(st, 0),
		        (const char *)sqlite3_column_text(st, 1),
		        (const char *)sqlite3_column_text(st, 2), sqlite3_column_int(st, 3),
		        (const char *)sqlite3_column_text(st, 4), sqlite3_column_int(st, 5),
		        proto && !strncmp(proto, "icmp", 4) ? "icmp"
		        : proto                             ? proto
		                                            : "-",
		        svc);
		if (dur > 0)
			fprintf(out, "%.6f\t%lld\t%lld\t", dur,
			        (long long)sqlite3_column_int64(st, 10),
			        (long long)sqlite3_column_int64(st, 11));
		else
			fputs("-\t-\t-\t", out);
		fprintf(out, "%s\t%s\t%s\t0\t%s\t%lld\t%lld\t%lld\t%lld\t-\n",
		        state && *state ? state : "-", lo ? "T" : "F", lr ? "T" : "F",
		        hist && *hist ? hist : "-", (long long)sqlite3_column_int64(st, 15),
		        (long long)sqlite3_column_int64(st, 16),
		        (long long)sqlite3_column_int64(st, 17),
		        (long long)sqlite3_column_int64(st, 18));
	}
	if (rc != SQLITE_DONE)
		snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
	else {
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(stamp, sizeof(stamp), "%Y-%m-%d-%H-%M-%S", &tm);
		fprintf(out, "#close\t%s\n", stamp);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? rows : -1;
}

int64_t query_run(sqlite3 *db, enum query_kind kind, const struct query_filter *f,
                  enum query_format fmt, FILE *out, char *err, size_t errlen)
{
	struct qsql q;
	struct table t;
	const struct col *cols;
	sqlite3_stmt *st;
	int ncols, rc;
	int64_t rows = 0;

	if (fmt == QUERY_FMT_ZEEK) {
		if (kind != QUERY_FLOWS && kind != QUERY_ANOMALY_FLOWS) {
			snprintf(err, errlen,
			         "--format zeek is for flows (query flows, or query "
			         "anomalies --flows)");
			return -1;
		}
		return zeek_connlog(db, kind, f, out, err, errlen);
	}
	memset(&q, 0, sizeof(q));
	memset(&t, 0, sizeof(t));
	cols = build_sql(&q, kind, f, &ncols);
	st = prepare_built(db, &q, 0, err, errlen);
	if (!st)
		return -1;
	t.cols = cols;
	t.ncols = ncols;
	for (int c = 0; c < ncols; c++)
		t.width[c] = strlen(cols[c].name);
	if (fmt == QUERY_FMT_CSV) {
		for (int c = 0; c < ncols; c++) {
			if (c)
				putc(',', out);
			fputs(cols[c].name, out);
		}
		fputs("\r\n", out);
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		rows++;
		if (fmt == QUERY_FMT_TABLE) {
			if (table_row(out, &t, st) < 0) {
				snprintf(err, errlen, "out of memory");
				rc = SQLITE_NOMEM;
				break;
			}
		} else if (fmt == QUERY_FMT_CSV) {
			for (int c = 0; c < ncols; c++) {
				if (c)
					putc(',', out);
				csv_value(out, st, c, cols[c].kind);
			}
			fputs("\r\n", out);
		} else {
			putc('{', out);
			for (int c = 0; c < ncols; c++) {
				if (c)
					putc(',', out);
				fprintf(out, "\"%s\":", cols[c].name);
				json_value(out, st, c, cols[c].kind);
			}
			fputs("}\n", out);
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
		snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
	if (fmt == QUERY_FMT_TABLE) {
		if (rows > 0 || rc == SQLITE_DONE)
			table_flush(out, &t);
		if (rows == 0 && rc == SQLITE_DONE)
			fputs("(no rows)\n", out);
		for (size_t k = 0; k < t.nrows * (size_t)t.ncols; k++)
			free(t.cells[k]);
		free(t.cells);
		free(t.cellw);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? rows : -1;
}
