/* query_db.c: databases opened for reading by the query engine (see query.h).
 *
 * Owns: checking that a file is an smaudit database this binary can read,
 * opening it read-only (never created, never written: SQLITE_OPEN_READONLY,
 * which ATTACHed databases inherit, and query_only), the SQL functions the
 * questions use, and presenting what the questions expect when it is not
 * simply there:
 *   - several databases (query --db a.db --db b.db): the others are
 *     ATTACHed and temporary views named runs, run_rules and flows (they
 *     shadow the main tables) join them with UNION ALL. Run ids of the k-th
 *     database (from 0) are shown as k * QUERY_RUN_STRIDE + id and flow ids
 *     as k * QUERY_FLOW_STRIDE + id, so ids stay unique and --run works;
 *   - a database from before a column existed (flows: tunnel,
 *     community_id, missed_bytes; runs: flows_lost): the view computes
 *     community_id (sm_community_id) and shows NULL for the others (a flow
 *     of such a database crossed no tunnel we know of; its missed bytes
 *     were not measured; its live runs waited for the database instead of
 *     losing flows);
 *   - the per-hour flow roll-up (store_rollup.c), as the temporary views
 *     sm_rollup and sm_peers (run ids shifted too), only when every
 *     database has one in step with its flows; else the questions read
 *     flows;
 *   - a database on a write-protected medium (its -shm cannot be made):
 *     opened immutable, unless a -wal beside it holds changes (refused).
 * Columns come from the first database's tables (PRAGMA table_info), so a
 * column added later needs no change here. */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <sqlite3.h>

#include "smaudit/community_id.h"
#include "smaudit/query.h"

#define BUSY_TIMEOUT_MS 5000 /* wait this long on a locked database */
#define MAX_COLS        64   /* columns of one table we present */

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

/* ---- checks ---- */

/* The schema name of the k-th database: main, db1, db2 ... (in buf). */
static const char *schema_name(int k, char *buf, size_t len)
{
	if (!k)
		return "main";
	snprintf(buf, len, "db%d", k);
	return buf;
}

/* A regular file that exists; 0, or -1 with err. */
static int file_ok(const char *path, char *err, size_t errlen)
{
	struct stat sb;

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
	return 0;
}

/* One integer from sql; -1 with *ok = 0 when it fails. */
static int int_of(sqlite3 *db, const char *sql, int *ok)
{
	sqlite3_stmt *st = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL), v = -1;

	if (rc == SQLITE_OK)
		rc = sqlite3_step(st);
	*ok = rc == SQLITE_ROW;
	if (*ok)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Schema (main, db1, ...) holds an smaudit database of a version we read.
 * Returns 0, or -1 with err naming path. */
static int check_schema(sqlite3 *db, const char *schema, const char *path, char *err, size_t errlen)
{
	char sql[160];
	int ok, version, ntables;

	snprintf(sql, sizeof(sql), "PRAGMA %s.user_version", schema);
	version = int_of(db, sql, &ok);
	if (!ok) {
		if (sqlite3_errcode(db) == SQLITE_NOTADB)
			snprintf(err, errlen, "%s: not an smaudit database (not SQLite)", path);
		else
			snprintf(err, errlen, "%s: cannot read: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (version > QUERY_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: database schema version %d is newer than this smaudit supports (%d);"
		         " upgrade smaudit",
		         path, version, QUERY_SCHEMA_VERSION);
		return -1;
	}
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM %s.sqlite_master WHERE type = 'table'"
	         " AND name IN ('runs', 'run_rules', 'flows')",
	         schema);
	ntables = int_of(db, sql, &ok);
	if (!ok) {
		snprintf(err, errlen, "%s: cannot read: %s", path, sqlite3_errmsg(db));
		return -1;
	}
	if (version < 1 || ntables != 3) {
		snprintf(err, errlen, "%s: not an smaudit database (no smaudit schema)", path);
		return -1;
	}
	return 0;
}

/* Attach path read-only as schema; 0, or -1 with err. */
static int attach(sqlite3 *db, const char *path, const char *schema, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "ATTACH DATABASE ?1 AS %s", schema);
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(st, 1, path, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc == SQLITE_DONE)
		return 0;
fail:
	snprintf(err, errlen, "%s: cannot open: %s", path, sqlite3_errmsg(db));
	return -1;
}

/* 1 if the last failure on db is SQLite's for a database whose WAL index
 * (-shm) cannot be made beside it: a read-only mount, a file or directory
 * its user may only read. */
static int wal_index_denied(sqlite3 *db)
{
	int rc = sqlite3_extended_errcode(db) & 0xff;

	return rc == SQLITE_CANTOPEN || rc == SQLITE_READONLY;
}

/* The URI that opens path immutable, as a sqlite3 user would
 * (file:PATH?immutable=1, sqlite3_malloc'd); NULL with err when a -wal
 * file beside it holds changes immutable would not see, or out of memory. */
static char *immutable_uri(const char *path, char *err, size_t errlen)
{
	char wal[PATH_MAX];
	struct stat sb;
	sqlite3_str *u;
	char *uri;

	snprintf(wal, sizeof(wal), "%s-wal", path);
	if (stat(wal, &sb) == 0 && sb.st_size > 0) {
		snprintf(err, errlen,
		         "%s: cannot be opened here (no write access for its -shm file) and %s "
		         "holds changes not yet in it: copy both files to a writable directory",
		         path, wal);
		return NULL;
	}
	u = sqlite3_str_new(NULL);
	sqlite3_str_appendall(u, "file:");
	for (const unsigned char *c = (const unsigned char *)path; *c; c++)
		if ((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		    (*c >= '0' && *c <= '9') || strchr("/._~-", *c))
			sqlite3_str_appendchar(u, 1, (char)*c);
		else
			sqlite3_str_appendf(u, "%%%02X", *c);
	sqlite3_str_appendall(u, "?immutable=1");
	uri = sqlite3_str_finish(u);
	if (!uri)
		snprintf(err, errlen, "%s: out of memory", path);
	return uri;
}

/* Open (schema "main") or attach name read-only; the connection takes
 * URI names, so ATTACH does too. 0, or -1 with err. */
static int open_as(sqlite3 **db, const char *name, const char *schema, char *err, size_t errlen)
{
	int rc;

	if (strcmp(schema, "main"))
		return attach(*db, name, schema, err, errlen);
	rc = sqlite3_open_v2(name, db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
	if (rc != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open: %s", name,
		         *db ? sqlite3_errmsg(*db) : sqlite3_errstr(rc));
		return -1;
	}
	return 0;
}

/* Open or attach path as schema read-only; a database on a write-protected
 * medium (wal_index_denied, when opening or at the first read) is opened
 * again immutable. 0, or -1 with err. */
static int open_readable(sqlite3 **db, const char *path, const char *schema, char *err,
                         size_t errlen)
{
	int main_db = !strcmp(schema, "main"), ok;
	char *uri, sql[64];

	if (open_as(db, path, schema, err, errlen) < 0) {
		if (main_db || !wal_index_denied(*db))
			return -1;
	} else {
		snprintf(sql, sizeof(sql), "PRAGMA %s.user_version", schema);
		int_of(*db, sql, &ok);
		if (ok || !wal_index_denied(*db))
			return 0; /* readable, or an error check_schema names */
		if (main_db) {
			sqlite3_close_v2(*db);
			*db = NULL;
		} else {
			snprintf(sql, sizeof(sql), "DETACH DATABASE %s", schema);
			sqlite3_exec(*db, sql, NULL, NULL, NULL);
		}
	}
	uri = immutable_uri(path, err, errlen);
	if (!uri)
		return -1;
	ok = open_as(db, uri, schema, err, errlen);
	sqlite3_free(uri);
	return ok;
}

/* ---- views ---- */

/* Column names of schema.table, in order, into names (sqlite3_malloc'd
 * strings the caller frees with free_names). Returns the count or -1. */
static int table_columns(sqlite3 *db, const char *schema, const char *table, char **names)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(db, "SELECT name FROM pragma_table_info(?1, ?2)", -1, &st, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, schema, -1, SQLITE_STATIC);
	while (n < MAX_COLS && sqlite3_step(st) == SQLITE_ROW)
		names[n++] = sqlite3_mprintf("%s", sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	return n;
}

static void free_names(char **names, int n)
{
	for (int i = 0; i < n; i++)
		sqlite3_free(names[i]);
}

/* 1 if name is among names. */
static int has_name(char **names, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (names[i] && !strcmp(names[i], name))
			return 1;
	return 0;
}

/* Append database k's expression for column col of table to s: the column,
 * its id shifted into the k-th range, the computed Community ID, or NULL. */
static void column_expr(sqlite3_str *s, const char *table, const char *col, int k, int present)
{
	int run_id = (!strcmp(table, "runs") && !strcmp(col, "id")) || !strcmp(col, "run_id");
	int flow_id = !strcmp(table, "flows") && !strcmp(col, "id");

	if (!present && !strcmp(table, "flows") && !strcmp(col, "community_id"))
		sqlite3_str_appendall(s, "sm_community_id(proto, orig_addr, orig_port, resp_addr,"
		                         " resp_port)");
	else if (!present)
		sqlite3_str_appendall(s, "NULL");
	else if (k && (run_id || flow_id))
		sqlite3_str_appendf(s, "\"%w\" + %lld", col,
		                    (long long)k * (run_id ? QUERY_RUN_STRIDE : QUERY_FLOW_STRIDE));
	else
		sqlite3_str_appendf(s, "\"%w\"", col);
	sqlite3_str_appendf(s, " AS \"%w\"", col);
}

/* CREATE TEMP VIEW view (NULL: named as table) of table over the n
 * databases (main, db1 ...), with the first one's columns plus need (the
 * columns the questions read that an older database may lack; NULL or
 * NULL-terminated). Returns 0 or -1 (sqlite3_errmsg says why). */
static int union_view(sqlite3 *db, const char *table, const char *view, int n,
                      const char *const *need)
{
	char *cols[MAX_COLS + 8], *have[MAX_COLS];
	int ncols = table_columns(db, "main", table, cols), rc = -1;
	sqlite3_str *s;
	char *sql;

	if (ncols < 0)
		return -1;
	for (; need && *need; need++)
		if (!has_name(cols, ncols, *need))
			cols[ncols++] = sqlite3_mprintf("%s", *need);
	s = sqlite3_str_new(db);
	sqlite3_str_appendf(s, "CREATE TEMP VIEW \"%w\" AS ", view ? view : table);
	for (int k = 0; k < n; k++) {
		char buf[16];
		const char *schema = schema_name(k, buf, sizeof(buf));
		int nhave;

		nhave = table_columns(db, schema, table, have);
		sqlite3_str_appendall(s, k ? " UNION ALL SELECT " : "SELECT ");
		for (int c = 0; c < ncols; c++) {
			if (c)
				sqlite3_str_appendall(s, ", ");
			column_expr(s, table, cols[c], k,
			            has_name(have, nhave < 0 ? 0 : nhave, cols[c]));
		}
		sqlite3_str_appendf(s, " FROM %s.\"%w\"", schema, table);
		free_names(have, nhave < 0 ? 0 : nhave);
	}
	free_names(cols, ncols);
	sql = sqlite3_str_finish(s);
	if (sql)
		rc = sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	sqlite3_free(sql);
	return rc;
}

/* Columns of flows and runs the questions read that older databases lack. */
static const char *const flow_later_cols[] = {"tunnel", "community_id", "missed_bytes", NULL};
static const char *const run_later_cols[] = {"flows_lost", NULL};

/* 1 if every database among n has every column of cols in table (fixed
 * names). */
static int all_have_later_cols(sqlite3 *db, int n, const char *table, const char *const *cols)
{
	for (int k = 0; k < n; k++)
		for (int c = 0; cols[c]; c++) {
			char buf[16], sql[200];
			int ok;
			snprintf(sql, sizeof(sql),
			         "SELECT count(*) FROM pragma_table_info('%s', '%s')"
			         " WHERE name = '%s'",
			         table, schema_name(k, buf, sizeof(buf)), cols[c]);
			if (int_of(db, sql, &ok) != 1)
				return 0;
		}
	return 1;
}

/* 1 if every database among n has table, and state (a table such as
 * rollup_state) says it is in step with its flows (stamped with
 * max(flows.id) by the store; store_rollup.c). state and table are fixed
 * names. */
static int all_current(sqlite3 *db, int n, const char *state, const char *table)
{
	for (int k = 0; k < n; k++) {
		char buf[16], sql[400];
		const char *schema = schema_name(k, buf, sizeof(buf));
		int ok;
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM %s.sqlite_master WHERE name = '%s'", schema, state);
		if (int_of(db, sql, &ok) != 1)
			return 0;
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM %s.%s WHERE id = 1"
		         " AND flows_max_id IS (SELECT max(id) FROM %s.flows)"
		         " AND EXISTS (SELECT 1 FROM %s.sqlite_master WHERE name = '%s')",
		         schema, state, schema, schema, table);
		if (int_of(db, sql, &ok) != 1)
			return 0;
	}
	return 1;
}

/* Present runs, run_rules and flows as the questions expect them, and the
 * roll-up as views sm_rollup and sm_peers (sm_peer_ports) only when it may
 * be read (query_has_rollup, query_has_peer_ports). */
static int build_views(sqlite3 *db, int n)
{
	if (community_id_sql_register(db) < 0)
		return -1;
	if ((n > 1 || !all_have_later_cols(db, n, "runs", run_later_cols)) &&
	    union_view(db, "runs", NULL, n, run_later_cols) < 0)
		return -1;
	if (n > 1 && union_view(db, "run_rules", NULL, n, NULL) < 0)
		return -1;
	if (all_current(db, n, "rollup_state", "flow_peers") &&
	    (union_view(db, "flow_rollup", "sm_rollup", n, NULL) < 0 ||
	     union_view(db, "flow_peers", "sm_peers", n, NULL) < 0))
		/* a roll-up we cannot present is not read: the flows are */
		sqlite3_exec(db, "DROP VIEW IF EXISTS temp.sm_rollup", NULL, NULL, NULL);
	if (all_current(db, n, "peer_ports_state", "flow_peer_ports") &&
	    union_view(db, "flow_peer_ports", "sm_peer_ports", n, NULL) < 0)
		sqlite3_exec(db, "DROP VIEW IF EXISTS temp.sm_peer_ports", NULL, NULL, NULL);
	if (n > 1 || !all_have_later_cols(db, n, "flows", flow_later_cols))
		return union_view(db, "flows", NULL, n, flow_later_cols);
	return 0;
}

/* ---- API ---- */

int query_has_rollup(sqlite3 *db)
{
	int ok;

	return int_of(db, "SELECT count(*) FROM temp.sqlite_master WHERE name = 'sm_rollup'",
	              &ok) == 1;
}

int query_has_peer_ports(sqlite3 *db)
{
	int ok;

	return int_of(db, "SELECT count(*) FROM temp.sqlite_master WHERE name = 'sm_peer_ports'",
	              &ok) == 1;
}

void query_close(struct sqlite3 *db)
{
	if (db)
		sqlite3_close_v2(db);
}

int query_open_many(const char *const *paths, int n, struct sqlite3 **out, char *err, size_t errlen)
{
	sqlite3 *db = NULL;
	int rc;

	*out = NULL;
	if (n < 1 || n > QUERY_MAX_DBS) {
		snprintf(err, errlen, "between 1 and %d databases, not %d", QUERY_MAX_DBS, n);
		return -2;
	}
	for (int k = 0; k < n; k++) {
		if (file_ok(paths[k], err, errlen) < 0)
			return -1;
		for (int j = 0; j < k; j++) {
			char a[PATH_MAX], b[PATH_MAX];
			if (realpath(paths[j], a) && realpath(paths[k], b) && !strcmp(a, b)) {
				snprintf(err, errlen, "%s: named twice (as %s)", paths[k],
				         paths[j]);
				return -2; /* a bad argument, not a database failure */
			}
		}
	}
	if (open_readable(&db, paths[0], "main", err, errlen) < 0)
		goto fail;
	sqlite3_busy_timeout(db, BUSY_TIMEOUT_MS);
	if (check_schema(db, "main", paths[0], err, errlen) < 0)
		goto fail;
	for (int k = 1; k < n; k++) {
		char buf[16];
		const char *schema = schema_name(k, buf, sizeof(buf));
		if (open_readable(&db, paths[k], schema, err, errlen) < 0 ||
		    check_schema(db, schema, paths[k], err, errlen) < 0)
			goto fail;
	}
	rc = sqlite3_create_function(db, "sm_cidr_match", 2,
	                             SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
	                             sql_cidr_match, NULL, NULL);
	if (rc != SQLITE_OK || build_views(db, n) < 0) {
		snprintf(err, errlen, "%s: %s", paths[0], sqlite3_errmsg(db));
		goto fail;
	}
	sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL);
	*out = db;
	return 0;
fail:
	sqlite3_close_v2(db);
	return -1;
}

int query_open(const char *path, struct sqlite3 **out, char *err, size_t errlen)
{
	return query_open_many(&path, 1, out, err, errlen);
}
