/* query.h: read-only questions over the flow database and their output.
 *
 * The engine opens a database read-only (never creates or writes it),
 * checks it is an smaudit database of a supported schema version, then
 * runs one of four fixed questions (anomalies, coverage, flows, runs) with
 * optional filters. Every filter value reaches SQLite as a bound parameter;
 * the SQL text is assembled only from fixed fragments chosen by which
 * filters are set. Rows are written as an aligned table, CSV (RFC 4180) or
 * JSON Lines.
 *
 * Window semantics: a flow is in [since, until) when its ts_start is; a run
 * is in the window when it overlaps it (started < until, finished >= since
 * or still running). */
#ifndef SMAUDIT_QUERY_H
#define SMAUDIT_QUERY_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#include "smaudit/addr.h"

/* Highest PRAGMA user_version this binary understands. */
#define QUERY_SCHEMA_VERSION 1

struct sqlite3;

enum query_kind {
	QUERY_ANOMALIES,     /* non-expected flows grouped */
	QUERY_ANOMALY_FLOWS, /* non-expected flows, one per line */
	QUERY_COVERAGE,      /* every rule in force, seen or never seen */
	QUERY_FLOWS,         /* one line per flow */
	QUERY_RUNS           /* one line per run */
};

/* Flows only: QUERY_FMT_ZEEK Zeek's conn.log (TSV with #fields/#types),
 * QUERY_FMT_ZEEK_JSON the same records as Zeek's JSON writer writes them,
 * QUERY_FMT_EVE Suricata's EVE JSON (flow events, alert events; eve.h). */
enum query_format {
	QUERY_FMT_TABLE,
	QUERY_FMT_CSV,
	QUERY_FMT_JSON,
	QUERY_FMT_ZEEK,
	QUERY_FMT_ZEEK_JSON,
	QUERY_FMT_EVE
};

/* Filters; a zero-initialised struct means "no filter". Strings are borrowed
 * (the caller keeps them alive during query_run). */
struct query_filter {
	int has_since, has_until;
	double since, until; /* epoch seconds; window is [since, until) */
	int64_t run_id;      /* 0 = any run */
	const char *verdict; /* one of the five verdict names, or NULL */
	const char *rule_id; /* or NULL */
	int has_peer;
	struct sm_cidr peer; /* exact address when prefix is full length */
	int port;            /* responder (service) port 1..65535, 0 = any */
	const char *proto;   /* "tcp", "udp", "icmp", "icmp6", or NULL */
	const char *app;     /* app protocol name (case-insensitive), or NULL */
	int64_t limit;       /* 0 = no limit */
	size_t table_width;  /* table format: fit lines in this many columns by cutting
	                        text cells (marked with '~'); 0 = no limit */
	int unchecked;       /* anomalies: the expected flows not fully checked instead */
	int run_last;        /* --run last: the CLI puts the newest run's id in run_id */
};

/* Parse a time for --since/--until: ISO 8601 date or date-time (UTC unless a
 * Z or +HH:MM offset is given) or relative "N[smhdw]" meaning now - N.
 * Returns 0 with *out in epoch seconds, or -1 with err. */
int query_parse_time(const char *s, time_t now, double *out, char *err, size_t errlen);

/* 1 if name is one of the five stored verdict names, else 0. */
int query_verdict_valid(const char *name);

/* Open path read-only and check it is an smaudit database this binary can
 * read. Returns 0 with *out (caller frees with query_close), or -1 with a
 * one-line err and *out NULL. Never creates the file. */
int query_open(const char *path, struct sqlite3 **out, char *err, size_t errlen);

/* Databases one query may read at once (SQLite attaches at most 10 more). */
#define QUERY_MAX_DBS 10
/* With several databases, ids of the k-th (from 0) are shifted by k times these. */
#define QUERY_RUN_STRIDE  1000000LL
#define QUERY_FLOW_STRIDE 1000000000000LL

/* Open n databases (1..QUERY_MAX_DBS, each checked as query_open does, none
 * named twice) as one: every question then covers all of them, run and
 * flow ids of paths[k] shifted by k * QUERY_*_STRIDE. Returns 0 with *out;
 * -1 with a one-line err naming the file at fault when a database cannot be
 * opened or read; -2 with err for a bad list (too many, one named twice). */
int query_open_many(const char *const *paths, int n, struct sqlite3 **out, char *err,
                    size_t errlen);

/* Close a handle from query_open (NULL is fine). */
void query_close(struct sqlite3 *db);

/* The SQL text and bound parameters query_run would use, for EXPLAIN
 * QUERY PLAN in tests and benchmarks: returns a prepared statement (caller
 * finalizes) or NULL with err. explain != 0 prefixes EXPLAIN QUERY PLAN. */
struct sqlite3_stmt *query_prepare(struct sqlite3 *db, enum query_kind kind,
                                   const struct query_filter *f, int explain, char *err,
                                   size_t errlen);

/* Run one question and write its rows to out in fmt. Returns the number of
 * rows written (>= 0), or -1 with err (SQLite failure while reading). */
int64_t query_run(struct sqlite3 *db, enum query_kind kind, const struct query_filter *f,
                  enum query_format fmt, FILE *out, char *err, size_t errlen);

/* Which filters query_prepare_sql appends: conditions on flows aliased f,
 * or the run window on runs aliased r; or (QUERY_SCOPE_GROUPS) a whole
 * SELECT of the flows the filters take, summed in groups, with the columns
 * run_id, rule_id ('' for none), verdict ('' for none), t (a start time:
 * the group's hour or the flow's ts_start), n (flows), e (expected), uc
 * (unchecked), b (bytes), t0 (first start), t1 (last end): from the flow
 * roll-up for whole hours when it is current and no filter it cannot
 * answer (peer, port, proto, app) is given, else one group per flow; head
 * ends with "(" and tail starts with ")". QUERY_SCOPE_PEERS likewise, with
 * the columns d (1: the peer connects in or is local, 0: out), peer_addr,
 * n (flows), verdict ('' for none), port (resp_port): from the peer map
 * roll-up (flow_peer_ports) for whole days, unless a rule, protocol or app
 * is asked for. */
enum query_scope { QUERY_SCOPE_FLOWS, QUERY_SCOPE_RUNS, QUERY_SCOPE_GROUPS, QUERY_SCOPE_PEERS };

/* Prepare head + the filter conditions of scope (each " AND ...", values
 * bound) + tail, for other read-only outputs (the report). head is constant
 * SQL ending inside a WHERE clause. Returns a statement (caller finalizes)
 * or NULL with err. */
struct sqlite3_stmt *query_prepare_sql(struct sqlite3 *db, const char *head, enum query_scope scope,
                                       const char *tail, const struct query_filter *f, char *err,
                                       size_t errlen);

/* Format epoch t as UTC: readable ("2024-05-01 12:00:00") or, iso != 0,
 * ISO 8601 with microseconds ("2024-05-01T12:00:00.000000Z"). */
void query_fmt_time(double t, int iso, char *buf, size_t len);

/* Human byte size into buf: "512 B", "1.2 KiB", "3.4 MiB" ... */
void query_fmt_bytes(int64_t v, char *buf, size_t len);

#endif
