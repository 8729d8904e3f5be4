/* query.c: the read-only question engine (see query.h).
 *
 * Owns: the four fixed questions as SQL assembled from constant fragments
 * with bound values, and the table, CSV and JSON outputs. Opening is
 * query_db.c's; Zeek and EVE exports are query_export.c's.
 *
 * Trade-off: the table format needs column widths before printing, so it
 * buffers at most TABLE_BUF_ROWS rows; after that it prints with the widths
 * it has (a later, longer value just pushes its line out, unless a width
 * limit cuts it). Given a terminal width, the least useful columns are
 * hidden and long text cut (marked '~') until a line fits. CSV and JSON
 * stream row by row, so memory stays bounded whatever the result size. */
#define _GNU_SOURCE
#include <math.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/jsonl.h"
#include "smaudit/query.h"
#include "query_int.h"
#include "smaudit/record.h"
#include "smaudit/store.h"

/* ---- things you may reasonably want to change ---- */
#define TABLE_BUF_ROWS  2000  /* rows buffered to size table columns */
#define TABLE_MIN_CUT   24    /* a cut text column keeps this many columns (table width) */
#define TABLE_MIN_TEXT  8     /* ... or this many when nothing else can go */
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
	const char *uc;             /* "f.unchecked", or "NULL" for a database without it */
	int rollup;                 /* the roll-up (sm_rollup, sm_peers) may be read */
	int peer_ports;             /* the peer map roll-up (sm_peer_ports) may be read */
};

/* A window cut at whole roll-up hours: hours [lo, hi) come from the roll-up,
 * the flows that started in [since, lo) and [hi, until) (the edges) from
 * flows. No lower (upper) bound when has_lo (has_hi) is 0. */
struct hour_split {
	int has_lo, has_hi;
	int64_t lo, hi;
};

/* STORE_ROLLUP_SECONDS as an SQL real literal */
#define STR_(x)            #x
#define STR(x)             STR_(x)
#define ROLLUP_SECONDS_SQL STR(STORE_ROLLUP_SECONDS) ".0"

/* epoch seconds of an ISO 8601 text column (runs.started/finished) */
#define EPOCH(x) "((julianday(" x ") - 2440587.5) * 86400.0)"

/* ---- columns of each question (order = SELECT order) ---- */

static const struct col anomaly_cols[] = {
    {"verdict", COL_TEXT},    {"direction", COL_TEXT}, {"peer", COL_TEXT},   {"port", COL_INT},
    {"proto", COL_TEXT},      {"app", COL_TEXT},       {"flows", COL_INT},   {"bytes", COL_BYTES},
    {"first_seen", COL_TIME}, {"last_seen", COL_TIME}, {"reason", COL_TEXT},
};

static const struct col flow_cols[] = {
    {"id", COL_INT},           {"run", COL_INT},
    {"uid", COL_TEXT},         {"community_id", COL_TEXT},
    {"start", COL_TIME},       {"duration", COL_REAL},
    {"proto", COL_TEXT},       {"orig_addr", COL_TEXT},
    {"orig_port", COL_INT},    {"resp_addr", COL_TEXT},
    {"resp_port", COL_INT},    {"direction", COL_TEXT},
    {"peer", COL_TEXT},        {"pkts", COL_INT},
    {"bytes", COL_BYTES},      {"missed_bytes", COL_BYTES},
    {"state", COL_TEXT},       {"end_reason", COL_TEXT},
    {"app", COL_TEXT},         {"confidence", COL_TEXT},
    {"server_name", COL_TEXT}, {"rule", COL_TEXT},
    {"verdict", COL_TEXT},     {"unchecked", COL_TEXT},
    {"reason", COL_TEXT},      {"tunnel", COL_TEXT},
};

/* query anomalies --unchecked: expected flows not fully checked, grouped. */
static const struct col unchecked_cols[] = {
    {"unchecked", COL_TEXT},  {"direction", COL_TEXT},  {"peer", COL_TEXT},
    {"port", COL_INT},        {"proto", COL_TEXT},      {"app", COL_TEXT},
    {"confidence", COL_TEXT}, {"rule", COL_TEXT},       {"flows", COL_INT},
    {"bytes", COL_BYTES},     {"first_seen", COL_TIME}, {"last_seen", COL_TIME},
    {"reason", COL_TEXT},
};

static const struct col coverage_cols[] = {
    {"rule", COL_TEXT},       {"row", COL_INT},        {"direction", COL_TEXT},
    {"proto", COL_TEXT},      {"port", COL_INT},       {"peer", COL_TEXT},
    {"apps", COL_TEXT},       {"seen", COL_TEXT},      {"flows", COL_INT},
    {"expected", COL_INT},    {"peers", COL_INT},      {"bytes", COL_BYTES},
    {"first_seen", COL_TIME}, {"last_seen", COL_TIME}, {"description", COL_TEXT},
    {"unchecked", COL_INT}, /* expected flows not fully checked */
};

static const struct col run_cols[] = {
    {"id", COL_INT},        {"mode", COL_TEXT},   {"source", COL_TEXT},    {"started", COL_TEXT},
    {"finished", COL_TEXT}, {"status", COL_TEXT}, {"packets", COL_INT},    {"dropped", COL_INT},
    {"malformed", COL_INT}, {"flows", COL_INT},   {"flows_lost", COL_INT},
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

/* " f.verdict IN (...)": every verdict but expected (record.h's names, bound),
 * after the words of the partial index flows_anomaly's WHERE, which SQLite
 * must see to use it. */
static void add_anomaly_cond(struct qsql *q)
{
	sql_add(q, " " QUERY_NOT_EXPECTED " AND f.verdict IN (");
	for (int k = VERDICT_EXPECTED + 1; k <= VERDICT_MAX; k++)
		sql_add_s(q, k == VERDICT_EXPECTED + 1 ? "?" : ", ?",
		          verdict_str((enum verdict_kind)k));
	sql_add(q, ")");
}

/* " AND <alias>.peer_addr" in --peer (f->has_peer set); alias is a fixed
 * name ("f", "u"), never user text. */
static void add_peer_cond(struct qsql *q, const struct query_filter *f, const char *alias)
{
	int full = f->peer.prefix == (f->peer.addr.family == 4 ? 32 : 128);

	if (full) {
		/* exact address: canonical text equality can use flows_peer */
		addr_str(&f->peer.addr, q->peer, sizeof(q->peer));
		sql_add(q, " AND ");
		sql_add(q, alias);
		sql_add_s(q, ".peer_addr = ?", q->peer);
	} else {
		cidr_str(&f->peer, q->peer, sizeof(q->peer));
		sql_add(q, " AND sm_cidr_match(");
		sql_add(q, alias);
		sql_add_s(q, ".peer_addr, ?)", q->peer);
	}
}

/* Conditions on flows aliased f, each starting with " AND". */
static void add_flow_filters(struct qsql *q, const struct query_filter *f, int with_rule)
{
	if (f->has_since)
		sql_add_d(q, " AND f.ts_start >= ?", f->since);
	if (f->has_until)
		sql_add_d(q, " AND f.ts_start < ?", f->until);
	if (f->run_id) {
		sql_add_i(q, " AND f.run_id = ?", f->run_id);
		/* no index on run_id: the run's hours from the roll-up (none: the
		 * run has no flow), its flows in them through flows_ts */
		if (q->rollup) {
			sql_add_i(q,
			          " AND f.ts_start >= (SELECT min(u.hour) FROM sm_rollup u"
			          " WHERE u.run_id = ?) * " STR(STORE_ROLLUP_SECONDS),
			          f->run_id);
			sql_add_i(q,
			          " AND f.ts_start < (SELECT max(u.hour) + 1 FROM sm_rollup u"
			          " WHERE u.run_id = ?) * " STR(STORE_ROLLUP_SECONDS),
			          f->run_id);
		}
	}
	if (f->verdict)
		sql_add_s(q, " AND f.verdict = ?", f->verdict);
	if (f->verdict && strcmp(f->verdict, verdict_str(VERDICT_EXPECTED)))
		sql_add(q, " AND " QUERY_NOT_EXPECTED); /* flows_anomaly serves it */
	if (with_rule && f->rule_id)
		sql_add_s(q, " AND f.rule_id = ?", f->rule_id);
	if (f->has_peer)
		add_peer_cond(q, f, "f");
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

/* "SELECT cols FROM flows f" with the question's conditions, in start order. */
static void add_flow_select(struct qsql *q, const char *cols, enum query_kind kind,
                            const struct query_filter *f)
{
	sql_add(q, "SELECT ");
	sql_add(q, cols);
	sql_add(q, " FROM flows f WHERE");
	if (kind == QUERY_ANOMALY_FLOWS && f->unchecked) {
		sql_add(q, " ");
		sql_add(q, q->uc);
		sql_add(q, " IS NOT NULL");
	} else if (kind == QUERY_ANOMALY_FLOWS) {
		add_anomaly_cond(q);
	} else {
		sql_add(q, " 1");
	}
	add_flow_filters(q, f, 1);
	sql_add(q, " ORDER BY f.ts_start, f.id");
	add_limit(q, f);
}

/* Cut f's window at whole roll-up hours into *sp; 0 when no whole hour
 * lies inside it (the roll-up cannot help). */
static int hour_split(const struct query_filter *f, struct hour_split *sp)
{
	memset(sp, 0, sizeof(*sp));
	sp->has_lo = f->has_since;
	sp->has_hi = f->has_until;
	if (sp->has_lo) {
		sp->lo = store_hour(f->since);
		if ((double)sp->lo * STORE_ROLLUP_SECONDS < f->since)
			sp->lo++;
	}
	if (sp->has_hi)
		sp->hi = store_hour(f->until);
	return !(sp->has_lo && sp->has_hi && sp->lo >= sp->hi);
}

/* " AND u.hour ..." : the roll-up rows of sp's whole hours. */
static void add_hours(struct qsql *q, const struct hour_split *sp)
{
	if (sp->has_lo)
		sql_add_i(q, " AND u.hour >= ?", sp->lo);
	if (sp->has_hi)
		sql_add_i(q, " AND u.hour < ?", sp->hi);
}

/* " UNION ALL <head> AND ..." for each edge of sp that holds time: the flows
 * aliased f that started in it, with f's other filters when with_filters. */
static void add_edges(struct qsql *q, const struct query_filter *f, const struct hour_split *sp,
                      const char *head, int with_filters, int with_rule)
{
	struct query_filter e;
	double lo = (double)sp->lo * STORE_ROLLUP_SECONDS,
	       hi = (double)sp->hi * STORE_ROLLUP_SECONDS;

	memset(&e, 0, sizeof(e));
	if (with_filters)
		e = *f;
	e.has_since = e.has_until = 1;
	if (sp->has_lo && f->since < lo) {
		e.since = f->since;
		e.until = lo;
		sql_add(q, " UNION ALL ");
		sql_add(q, head);
		add_flow_filters(q, &e, with_rule);
	}
	if (sp->has_hi && hi < f->until) {
		e.since = hi;
		e.until = f->until;
		sql_add(q, " UNION ALL ");
		sql_add(q, head);
		add_flow_filters(q, &e, with_rule);
	}
}

/* Runs aliased r in the window: ran during it (wall clock) or hold flows
 * that started in it (a capture file read later than it was taken). */
static void add_run_window(struct qsql *q, const struct query_filter *f)
{
	struct hour_split sp;

	if (f->run_id)
		sql_add_i(q, " AND r.id = ?", f->run_id);
	if (!f->has_since && !f->has_until)
		return;
	sql_add(q, " AND ((1");
	if (f->has_since)
		sql_add_d(q, " AND (r.finished IS NULL OR " EPOCH("r.finished") " >= ?)", f->since);
	if (f->has_until)
		sql_add_d(q, " AND " EPOCH("r.started") " < ?", f->until);
	if (q->rollup && hour_split(f, &sp)) {
		/* the whole hours from the roll-up, which counts every flow */
		sql_add(q, ") OR r.id IN (SELECT u.run_id FROM sm_rollup u WHERE 1");
		add_hours(q, &sp);
		add_edges(q, f, &sp, "SELECT f.run_id FROM flows f WHERE 1", 0, 0);
		sql_add(q, "))");
		return;
	}
	sql_add(q, ") OR r.id IN (SELECT w.run_id FROM flows w WHERE 1");
	if (f->has_since)
		sql_add_d(q, " AND w.ts_start >= ?", f->since);
	if (f->has_until)
		sql_add_d(q, " AND w.ts_start < ?", f->until);
	sql_add(q, "))");
}

/* " AND ...": the flow_peers rows (aliased v) with a flow started in one of
 * sp's whole hours: days inside, and the hour bits of the first and last. */
static void add_peer_hours(struct qsql *q, const struct hour_split *sp)
{
	int blo = 0, bhi = 23;
	int64_t dlo = sp->has_lo ? store_day(sp->lo, &blo) : 0;
	int64_t dhi = sp->has_hi ? store_day(sp->hi - 1, &bhi) : 0;
	int64_t mlo = ((1LL << 24) - 1) & ~((1LL << blo) - 1), mhi = (1LL << (bhi + 1)) - 1;

	if (sp->has_lo && sp->has_hi && dlo == dhi) {
		sql_add_i(q, " AND v.day = ?", dlo);
		sql_add_i(q, " AND v.hours & ?", mlo & mhi);
		return;
	}
	if (sp->has_lo)
		sql_add_i(q, " AND v.day >= ?", dlo);
	if (sp->has_hi)
		sql_add_i(q, " AND v.day <= ?", dhi);
	sql_add(q, " AND ((1");
	if (sp->has_lo)
		sql_add_i(q, " AND v.day > ?", dlo);
	if (sp->has_hi)
		sql_add_i(q, " AND v.day < ?", dhi);
	sql_add(q, ")");
	if (sp->has_lo) {
		sql_add_i(q, " OR (v.day = ?", dlo);
		sql_add_i(q, " AND v.hours & ?)", mlo);
	}
	if (sp->has_hi) {
		sql_add_i(q, " OR (v.day = ?", dhi);
		sql_add_i(q, " AND v.hours & ?)", mhi);
	}
	sql_add(q, ")");
}

/* " AND alias.run_id = ? AND alias.verdict = ?" as f asks (alias is a
 * fixed name). */
static void add_run_verdict(struct qsql *q, const struct query_filter *f, const char *alias)
{
	if (f->run_id) {
		sql_add(q, " AND ");
		sql_add(q, alias);
		sql_add_i(q, ".run_id = ?", f->run_id);
	}
	if (f->verdict) {
		sql_add(q, " AND ");
		sql_add(q, alias);
		sql_add_s(q, ".verdict = ?", f->verdict);
	}
}

/* The coverage CTE st: per rule of rules, flows, expected (e), distinct
 * peers, bytes, first start, last end. From the roll-up when it holds what
 * the filters ask about (not peer, port, protocol or app), else in one pass
 * over flows_rule (index order, no sort). */
static void add_coverage_stats(struct qsql *q, const struct query_filter *f)
{
	struct hour_split sp;
	char head[320];

	if (!q->rollup || f->has_peer || f->port || f->proto || f->app || !hour_split(f, &sp)) {
		sql_add(q, " st AS (SELECT f.rule_id, count(*) AS n,"
		           " total(f.verdict = 'expected') AS e, count(DISTINCT f.peer_addr) AS p,"
		           " total(");
		sql_add(q, q->uc);
		sql_add(q, " IS NOT NULL) AS u,"
		           " total(f.orig_bytes + f.resp_bytes) AS b, min(f.ts_start) AS t0,"
		           " max(f.ts_end) AS t1 FROM flows f"
		           " WHERE f.rule_id IN (SELECT rule_id FROM rules)");
		add_flow_filters(q, f, 0);
		sql_add(q, " GROUP BY f.rule_id)");
		return;
	}
	/* counts, bytes and times: hours from flow_rollup, edges from flows */
	sql_add(q, " st AS (SELECT c.rule_id, c.n, c.e, pp.p, c.u, c.b, c.t0, c.t1 FROM"
	           " (SELECT g.rule_id, sum(g.n) AS n, total(g.e) AS e, total(g.u) AS u,"
	           " total(g.b) AS b, min(g.t0) AS t0, max(g.t1) AS t1 FROM (SELECT u.rule_id,"
	           " u.flows AS n, u.expected AS e, u.unchecked AS u, u.bytes AS b,"
	           " u.ts_first AS t0, u.ts_last AS t1"
	           " FROM sm_rollup u WHERE u.rule_id IN (SELECT rule_id FROM rules)");
	add_hours(q, &sp);
	add_run_verdict(q, f, "u");
	/* q->uc is a fixed column name or NULL, never user text */
	snprintf(head, sizeof(head),
	         "SELECT f.rule_id, 1, f.verdict IS 'expected', %s IS NOT NULL,"
	         " f.orig_bytes + f.resp_bytes, f.ts_start, f.ts_end FROM flows f"
	         " WHERE f.rule_id IN (SELECT rule_id FROM rules)",
	         q->uc);
	add_edges(q, f, &sp, head, 1, 0);
	/* distinct peers: days and hour bits from flow_peers, edges from flows */
	sql_add(q, ") g GROUP BY g.rule_id) c JOIN (SELECT x.rule_id,"
	           " count(DISTINCT x.peer_addr) AS p FROM (SELECT v.rule_id, v.peer_addr"
	           " FROM sm_peers v WHERE v.rule_id IN (SELECT rule_id FROM rules)");
	add_peer_hours(q, &sp);
	add_run_verdict(q, f, "v");
	add_edges(q, f, &sp,
	          "SELECT f.rule_id, f.peer_addr FROM flows f"
	          " WHERE f.rule_id IN (SELECT rule_id FROM rules)",
	          1, 0);
	sql_add(q, ") x GROUP BY x.rule_id) pp ON pp.rule_id = c.rule_id)");
}

/* The SELECT of QUERY_SCOPE_GROUPS (query.h): the flows f takes, summed
 * per hour, run, rule and verdict from the roll-up for the whole hours of
 * the window, one group per flow for the edges; every flow one group when
 * the roll-up cannot answer f. */
static void add_groups(struct qsql *q, const struct query_filter *f)
{
	struct hour_split sp;
	char head[320];

	/* q->uc is a fixed column name or NULL, never user text */
	snprintf(head, sizeof(head),
	         "SELECT f.run_id AS run_id, ifnull(f.rule_id, '') AS rule_id,"
	         " ifnull(f.verdict, '') AS verdict, f.ts_start AS t, 1 AS n,"
	         " f.verdict IS 'expected' AS e, %s IS NOT NULL AS uc,"
	         " f.orig_bytes + f.resp_bytes AS b, f.ts_start AS t0, f.ts_end AS t1"
	         " FROM flows f WHERE 1",
	         q->uc);
	if (!q->rollup || f->has_peer || f->port || f->proto || f->app || !hour_split(f, &sp)) {
		sql_add(q, head);
		add_flow_filters(q, f, 1);
		return;
	}
	sql_add(q, "SELECT u.run_id AS run_id, u.rule_id AS rule_id, u.verdict AS verdict,"
	           " u.hour * " ROLLUP_SECONDS_SQL " AS t, u.flows AS n, u.expected AS e,"
	           " u.unchecked AS uc, u.bytes AS b, u.ts_first AS t0, u.ts_last AS t1"
	           " FROM sm_rollup u WHERE 1");
	add_hours(q, &sp);
	add_run_verdict(q, f, "u");
	if (f->rule_id)
		sql_add_s(q, " AND u.rule_id = ?", f->rule_id);
	add_edges(q, f, &sp, head, 1, 1);
}

/* Cut f's window at whole days of the roll-up into *sp (in hours, as
 * hour_split); 0 when no whole day lies inside it. */
static int day_split(const struct query_filter *f, struct hour_split *sp)
{
	int bit;

	hour_split(f, sp);
	if (sp->has_lo) {
		sp->lo = store_day(sp->lo, &bit) + (bit != 0);
		sp->lo *= 24;
	}
	if (sp->has_hi)
		sp->hi = store_day(sp->hi, &bit) * 24;
	return !(sp->has_lo && sp->has_hi && sp->lo >= sp->hi);
}

/* The SELECT of QUERY_SCOPE_PEERS (query.h): flows per direction, peer,
 * verdict and port, from flow_peer_ports for the whole days of the window
 * and from flows for the rest. */
static void add_peer_groups(struct qsql *q, const struct query_filter *f)
{
	static const char head[] = "SELECT f.direction <> 'out' AS d, f.peer_addr AS peer_addr,"
	                           " 1 AS n, ifnull(f.verdict, '') AS verdict, f.resp_port AS port"
	                           " FROM flows f WHERE 1";
	struct hour_split sp;

	if (!q->peer_ports || f->rule_id || f->proto || f->app || !day_split(f, &sp)) {
		sql_add(q, head);
		add_flow_filters(q, f, 1);
		return;
	}
	sql_add(q, "SELECT p.direction <> 'out' AS d, p.peer_addr AS peer_addr, p.flows AS n,"
	           " p.verdict AS verdict, p.resp_port AS port FROM sm_peer_ports p WHERE 1");
	if (sp.has_lo)
		sql_add_i(q, " AND p.day >= ?", sp.lo / 24);
	if (sp.has_hi)
		sql_add_i(q, " AND p.day < ?", sp.hi / 24);
	add_run_verdict(q, f, "p");
	if (f->has_peer)
		add_peer_cond(q, f, "p");
	if (f->port)
		sql_add_i(q, " AND p.resp_port = ?", f->port);
	add_edges(q, f, &sp, head, 1, 1);
}

/* Fill q with the SQL of one question; returns its columns. */
static const struct col *build_sql(struct qsql *q, enum query_kind kind,
                                   const struct query_filter *f, int *ncols)
{
	char cols[640];

	if (f->unchecked && kind == QUERY_ANOMALIES) {
		sql_add(q, "SELECT ");
		sql_add(q, q->uc);
		sql_add(q,
		        ", f.direction, f.peer_addr, f.resp_port, f.proto, f.app_proto,"
		        " f.app_confidence, f.rule_id, count(*), sum(f.orig_bytes + f.resp_bytes),"
		        " min(f.ts_start), max(f.ts_end), min(f.reason) FROM flows f WHERE ");
		sql_add(q, q->uc);
		sql_add(q, " IS NOT NULL");
		add_flow_filters(q, f, 1);
		sql_add(q,
		        " GROUP BY 1, f.direction, f.peer_addr, f.resp_port, f.proto, f.app_proto,"
		        " f.app_confidence, f.rule_id ORDER BY 1, f.direction, f.peer_addr,"
		        " f.resp_port, f.proto, f.app_proto");
		add_limit(q, f);
		*ncols = NCOLS(unchecked_cols);
		return unchecked_cols;
	}
	switch (kind) {
	case QUERY_ANOMALIES:
		sql_add(q, "SELECT f.verdict, f.direction, f.peer_addr, f.resp_port, f.proto,"
		           " f.app_proto, count(*), sum(f.orig_bytes + f.resp_bytes),"
		           " min(f.ts_start), max(f.ts_end), min(f.reason)"
		           " FROM flows f WHERE");
		add_anomaly_cond(q);
		add_flow_filters(q, f, 1);
		sql_add(q, " GROUP BY f.verdict, f.direction, f.peer_addr, f.resp_port, f.proto,"
		           " f.app_proto ORDER BY f.verdict, f.direction, f.peer_addr,"
		           " f.resp_port, f.proto, f.app_proto");
		add_limit(q, f);
		*ncols = NCOLS(anomaly_cols);
		return anomaly_cols;
	case QUERY_ANOMALY_FLOWS:
	case QUERY_FLOWS:
		snprintf(cols, sizeof(cols),
		         "f.id, f.run_id, f.uid, f.community_id, f.ts_start,"
		         " f.ts_end - f.ts_start, f.proto, f.orig_addr, f.orig_port,"
		         " f.resp_addr, f.resp_port, f.direction, f.peer_addr,"
		         " f.orig_pkts + f.resp_pkts, f.orig_bytes + f.resp_bytes,"
		         " f.missed_bytes, f.conn_state,"
		         " f.end_reason, f.app_proto, f.app_confidence, f.server_name, f.rule_id,"
		         " f.verdict, %s, f.reason, f.tunnel",
		         q->uc);
		add_flow_select(q, cols, kind, f);
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
		/* per-rule flow statistics, then joined to the rules */
		sql_add(q, " GROUP BY rr.rule_id),");
		add_coverage_stats(q, f);
		sql_add(q,
		        " SELECT r.rule_id, r.row, r.direction, r.proto, r.port, r.peer, r.apps,"
		        " CASE WHEN st.n IS NULL THEN 'never' WHEN st.e = 0 THEN 'anomalous-only'"
		        " ELSE 'yes' END, ifnull(st.n, 0), CAST(ifnull(st.e, 0) AS INTEGER),"
		        " ifnull(st.p, 0), CAST(ifnull(st.b, 0) AS INTEGER), st.t0, st.t1,"
		        " r.description, CAST(ifnull(st.u, 0) AS INTEGER) FROM rules r LEFT JOIN "
		        "st ON st.rule_id = r.rule_id"
		        " ORDER BY r.row IS NULL, r.row, r.rule_id");
		add_limit(q, f);
		*ncols = NCOLS(coverage_cols);
		return coverage_cols;
	case QUERY_RUNS:
	default:
		sql_add(q, "SELECT r.id, r.mode, r.source, r.started, r.finished, r.status,"
		           " r.packets, r.dropped, r.malformed, r.flows, ifnull(r.flows_lost, 0)"
		           " FROM runs r WHERE 1");
		add_run_window(q, f);
		sql_add(q, " ORDER BY r.id");
		add_limit(q, f);
		*ncols = NCOLS(run_cols);
		return run_cols;
	}
}

/* ---- verdicts ---- */

int query_verdict_valid(const char *name)
{
	return verdict_from_str(name) != VERDICT_NONE;
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

/* Format epoch t as UTC: readable ("2024-05-01 12:00:00") or ISO 8601
 * with microseconds ("2024-05-01T12:00:00.000000Z"). */
void query_fmt_time(double t, int iso, char *buf, size_t len)
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
void query_fmt_bytes(int64_t v, char *buf, size_t len)
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

/* 1 if byte c is a control character CSV output replaces (all but TAB, CR, LF). */
static int csv_control(unsigned char c)
{
	return (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f;
}

/* CSV field per RFC 4180 (quoted when it holds a comma, quote, CR or LF),
 * made safe to open in a spreadsheet as OWASP's CSV-injection advice says:
 * a value starting with = + - @ TAB or CR (a formula to Excel, LibreOffice
 * and Sheets) is quoted and prefixed with a single quote, and other control
 * characters (terminal escapes among them) become '?'. Host and SNI values
 * come from the network, so this is about attackers, not typos. */
static void csv_str(FILE *out, const unsigned char *s, size_t n)
{
	int formula = n > 0 && s[0] && strchr("=+-@\t\r", s[0]) != NULL;
	int quote = formula || memchr(s, ',', n) || memchr(s, '"', n) || memchr(s, '\r', n) ||
	            memchr(s, '\n', n);

	if (quote)
		putc('"', out);
	if (formula)
		putc('\'', out);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '"')
			putc('"', out);
		putc(csv_control(s[i]) ? '?' : s[i], out);
	}
	if (quote)
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
		long cp = jsonl_utf8_next(s + i, n - i, &len);
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
	size_t limit;       /* line width to fit in (query_filter.table_width); 0 = none */
	uint8_t hidden[32]; /* columns hidden to fit limit */
	int first, last;    /* first and last visible column */
};

/* What a narrow terminal gives up first: these columns, in this order (each
 * repeats another or matters less); text in table_cut columns is cut
 * instead, down to TABLE_MIN_CUT. Every other column is always shown. */
static const char *const table_hide_order[] = {
    "missed_bytes", "uid",       "community_id", "tunnel",    "run",      "end_reason",
    "duration",     "state",     "pkts",         "orig_port", "peer",     "mode",
    "confidence",   "dropped",   "flows_lost",   "malformed", "expected", "peers",
    "server_name",  "last_seen", "first_seen",   "row",       "apps",     "app",
    "unchecked",    "bytes",     "direction",    "rule"};
static const char *const table_cut[] = {"reason",      "description", "source",
                                        "server_name", "hosts",       "tunnel"};

static int is_numeric(enum col_kind k)
{
	return k == COL_INT || k == COL_BYTES || k == COL_REAL;
}

/* Header of column c: its name in capitals, time columns marked UTC. */
static size_t table_head(const struct col *col, char *buf, size_t len)
{
	size_t i;

	for (i = 0; col->name[i] && i + 1 < len; i++)
		buf[i] = (char)(col->name[i] >= 'a' && col->name[i] <= 'z' ? col->name[i] - 32
		                                                           : col->name[i]);
	buf[i] = '\0';
	if (col->kind == COL_TIME)
		i += (size_t)snprintf(buf + i, len - i, " (UTC)");
	return i < len ? i : len - 1;
}

/* Print s cut to w display columns, its last one '~' when cut. */
static void put_cut(FILE *out, const char *s, size_t w)
{
	size_t n = 0;
	const char *p = s;

	for (; *p && n < w; n++) /* cells are clean UTF-8: skip continuation bytes */
		for (p++; (*p & 0xc0) == 0x80; p++)
			;
	if (!*p) {
		fputs(s, out);
		return;
	}
	/* cut one code point earlier and mark it */
	p = s;
	for (size_t k = 0; k + 1 < w; k++)
		for (p++; (*p & 0xc0) == 0x80; p++)
			;
	fwrite(s, 1, (size_t)(p - s), out);
	if (w)
		putc('~', out);
}

/* Print one padded cell; last column unpadded; hidden columns not at all.
 * Text cells wider than their column are cut when the table has a width
 * limit. */
static void table_cell(FILE *out, const struct table *t, int c, const char *s, size_t w)
{
	size_t pad = t->width[c] > w ? t->width[c] - w : 0;
	int last = c == t->last;

	if (t->hidden[c])
		return;
	if (c != t->first)
		fputs("  ", out);
	if (is_numeric(t->cols[c].kind))
		for (size_t i = 0; i < pad; i++)
			putc(' ', out);
	if (t->limit && w > t->width[c] && t->cols[c].kind == COL_TEXT)
		put_cut(out, s, t->width[c]);
	else
		fputs(s, out);
	if (!is_numeric(t->cols[c].kind) && !last)
		for (size_t i = 0; i < pad; i++)
			putc(' ', out);
}

/* Index of the column called name, or -1. */
static int table_col(const struct table *t, const char *name)
{
	for (int c = 0; c < t->ncols; c++)
		if (strcmp(t->cols[c].name, name) == 0)
			return c;
	return -1;
}

/* 1 if column c is long text a narrow terminal cuts (table_cut). */
static int table_cuttable(const struct table *t, int c)
{
	for (size_t i = 0; i < sizeof(table_cut) / sizeof(table_cut[0]); i++)
		if (strcmp(t->cols[c].name, table_cut[i]) == 0)
			return 1;
	return 0;
}

/* Width of a line with the visible columns, cut columns at most cap wide. */
static size_t table_line(const struct table *t, size_t cap)
{
	size_t total = 0;
	int n = 0;

	for (int c = 0; c < t->ncols; c++) {
		if (t->hidden[c])
			continue;
		total += table_cuttable(t, c) && t->width[c] > cap ? cap : t->width[c];
		n++;
	}
	return total + 2 * (size_t)(n ? n - 1 : 0);
}

/* Narrow the widest cut columns, none below floor, by up to over columns;
 * returns what is still over. */
static size_t table_narrow(struct table *t, size_t over, size_t floor)
{
	while (over > 0) {
		int wide = -1;
		for (int c = 0; c < t->ncols; c++)
			if (!t->hidden[c] && table_cuttable(t, c) && t->width[c] > floor &&
			    (wide < 0 || t->width[c] > t->width[wide]))
				wide = c;
		if (wide < 0)
			break;
		t->width[wide]--;
		over--;
	}
	return over;
}

/* Fit a line into t->limit: hide columns in table_hide_order while cutting
 * text to TABLE_MIN_CUT would not be enough, then narrow the widest cut
 * columns by what is still over (below TABLE_MIN_CUT only when nothing is
 * left to hide). A table that cannot fit stays wider. */
static void table_fit(struct table *t)
{
	size_t over, n = sizeof(table_hide_order) / sizeof(table_hide_order[0]);

	for (size_t i = 0; t->limit && i < n && table_line(t, TABLE_MIN_CUT) > t->limit; i++) {
		int c = table_col(t, table_hide_order[i]);
		/* a flow's peer repeats one of its addresses; elsewhere it is the key */
		if (c >= 0 &&
		    (strcmp(t->cols[c].name, "peer") != 0 || table_col(t, "orig_addr") >= 0))
			t->hidden[c] = 1;
	}
	over =
	    t->limit && table_line(t, SIZE_MAX) > t->limit ? table_line(t, SIZE_MAX) - t->limit : 0;
	table_narrow(t, table_narrow(t, over, TABLE_MIN_CUT), TABLE_MIN_TEXT);
	for (t->first = 0; t->first < t->ncols - 1 && t->hidden[t->first]; t->first++)
		;
	for (t->last = t->ncols - 1; t->last > 0 && t->hidden[t->last]; t->last--)
		;
}

/* "(3 columns hidden to fit 80 columns: uid, run, state; ...)" after a
 * table, wrapped at spaces to fit as well. */
static void table_note(FILE *out, const struct table *t)
{
	char note[1024], *word, *save = NULL;
	size_t off, col = 0;
	int n = 0;

	for (int c = 0; c < t->ncols; c++)
		n += t->hidden[c];
	if (!n)
		return;
	off = (size_t)snprintf(note, sizeof(note), "(%d column%s hidden to fit %zu columns:", n,
	                       n == 1 ? "" : "s", t->limit);
	for (int c = 0, k = 0; c < t->ncols && off < sizeof(note); c++)
		if (t->hidden[c])
			off += (size_t)snprintf(note + off, sizeof(note) - off, "%s %s",
			                        k++ ? "," : "", t->cols[c].name);
	if (off < sizeof(note))
		snprintf(note + off, sizeof(note) - off, "; --format csv or json shows them all)");
	for (word = strtok_r(note, " ", &save); word; word = strtok_r(NULL, " ", &save)) {
		size_t len = strlen(word);
		if (col && col + 1 + len > t->limit) {
			putc('\n', out);
			col = 0;
		}
		fprintf(out, "%s%s", col ? " " : "", word);
		col += len + (col ? 1 : 0);
	}
	putc('\n', out);
}

/* Print the header and every buffered row, then free the buffer. */
static void table_flush(FILE *out, struct table *t)
{
	if (!t->printed_header) {
		table_fit(t);
		for (int c = 0; c < t->ncols; c++) {
			char up[64];
			size_t w = table_head(&t->cols[c], up, sizeof(up));
			table_cell(out, t, c, up, w);
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
			query_fmt_bytes(sqlite3_column_int64(st, c), buf, sizeof(buf));
			break;
		case COL_TIME:
			query_fmt_time(sqlite3_column_double(st, c), 0, buf, sizeof(buf));
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
			query_fmt_time(sqlite3_column_double(st, c), 1, buf, sizeof(buf));
		else if (kind == COL_REAL || type == SQLITE_FLOAT)
			snprintf(buf, sizeof(buf), "%.6f", sqlite3_column_double(st, c));
		else
			snprintf(buf, sizeof(buf), "%lld", (long long)sqlite3_column_int64(st, c));
		fputs(buf, out);
		return;
	}
	csv_str(out, sqlite3_column_text(st, c), (size_t)sqlite3_column_bytes(st, c));
}

/* One value as JSON (jansson): numbers stay numbers, times are ISO 8601
 * strings, text is cleaned of invalid UTF-8. NULL when out of memory. */
static json_t *json_value(sqlite3_stmt *st, int c, enum col_kind kind)
{
	char buf[64];
	int type = sqlite3_column_type(st, c);

	if (type == SQLITE_NULL)
		return json_null();
	if ((type == SQLITE_INTEGER || type == SQLITE_FLOAT) && kind != COL_TEXT) {
		double d = sqlite3_column_double(st, c);
		if (kind == COL_TIME) {
			query_fmt_time(d, 1, buf, sizeof(buf));
			return json_string(buf);
		}
		if (type == SQLITE_INTEGER && kind != COL_REAL)
			return json_integer(sqlite3_column_int64(st, c));
		return isfinite(d) ? json_real(round(d * 1e6) / 1e6) : json_null();
	}
	return jsonl_string((const char *)sqlite3_column_text(st, c),
	                    (size_t)sqlite3_column_bytes(st, c));
}

/* The current row as one JSON object line. Returns 0 or -1. */
static int json_row(FILE *out, sqlite3_stmt *st, const struct col *cols, int ncols)
{
	json_t *o = json_object();

	for (int c = 0; o && c < ncols; c++)
		if (json_object_set_new(o, cols[c].name, json_value(st, c, cols[c].kind)) < 0) {
			json_decref(o);
			o = NULL;
		}
	return jsonl_write(out, o);
}

/* ---- running ---- */

/* An empty SQL text for db; a database written before flows.unchecked
 * existed (and not opened for writing since) reads it as NULL. */
static void qsql_init(struct qsql *q, sqlite3 *db)
{
	sqlite3_stmt *st;

	memset(q, 0, sizeof(*q));
	q->rollup = query_has_rollup(db);
	q->peer_ports = query_has_peer_ports(db);
	q->uc = "NULL";
	if (sqlite3_prepare_v2(db,
	                       "SELECT 1 FROM pragma_table_info('flows') WHERE name = 'unchecked'",
	                       -1, &st, NULL) != SQLITE_OK)
		return;
	if (sqlite3_step(st) == SQLITE_ROW)
		q->uc = "f.unchecked";
	sqlite3_finalize(st);
}

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

	qsql_init(&q, db);
	build_sql(&q, kind, f, &ncols);
	return prepare_built(db, &q, explain, err, errlen);
}

sqlite3_stmt *query_prepare_sql(sqlite3 *db, const char *head, enum query_scope scope,
                                const char *tail, const struct query_filter *f, char *err,
                                size_t errlen)
{
	struct qsql q;

	qsql_init(&q, db);
	sql_add(&q, head);
	if (scope == QUERY_SCOPE_RUNS)
		add_run_window(&q, f);
	else if (scope == QUERY_SCOPE_GROUPS)
		add_groups(&q, f);
	else if (scope == QUERY_SCOPE_PEERS)
		add_peer_groups(&q, f);
	else
		add_flow_filters(&q, f, 1);
	sql_add(&q, tail);
	return prepare_built(db, &q, 0, err, errlen);
}

sqlite3_stmt *query_flow_stmt(sqlite3 *db, enum query_kind kind, const struct query_filter *f,
                              const char *cols, char *err, size_t errlen)
{
	struct qsql q;

	qsql_init(&q, db);
	add_flow_select(&q, cols, kind, f);
	return prepare_built(db, &q, 0, err, errlen);
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

	if (fmt == QUERY_FMT_ZEEK || fmt == QUERY_FMT_ZEEK_JSON || fmt == QUERY_FMT_EVE) {
		if (kind != QUERY_FLOWS && kind != QUERY_ANOMALY_FLOWS) {
			snprintf(
			    err, errlen,
			    "this format is for flows (query flows, or query anomalies --flows)");
			return -1;
		}
		return fmt == QUERY_FMT_EVE
		           ? query_eve(db, kind, f, out, err, errlen)
		           : query_zeek(db, kind, f, fmt == QUERY_FMT_ZEEK_JSON, out, err, errlen);
	}
	qsql_init(&q, db);
	memset(&t, 0, sizeof(t));
	cols = build_sql(&q, kind, f, &ncols);
	st = prepare_built(db, &q, 0, err, errlen);
	if (!st)
		return -1;
	t.cols = cols;
	t.ncols = ncols;
	t.limit = f->table_width;
	for (int c = 0; c < ncols; c++) {
		char head[64];
		t.width[c] = table_head(&cols[c], head, sizeof(head));
	}
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
		} else if (json_row(out, st, cols, ncols) < 0) {
			snprintf(err, errlen, "out of memory or output failed");
			rc = SQLITE_NOMEM;
			break;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_NOMEM)
		snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
	if (fmt == QUERY_FMT_TABLE) {
		if (rows > 0 || rc == SQLITE_DONE)
			table_flush(out, &t);
		table_note(out, &t);
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
