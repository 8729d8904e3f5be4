/* store.c: the SQLite database (see store.h).
 *
 * One connection per store, statements prepared once and reset per row,
 * rows batched STORE_BATCH per transaction. New flow rows are held
 * (row_text: the record and its text, bound without copies) and inserted
 * STORE_ROWS at a time by one INSERT OR ROLLBACK: a statement's fixed cost
 * (a cursor on the table and each index, opened and closed) is paid once
 * for them all, and a refused row rolls the transaction back at once, as
 * the writer would, so SQLite keeps no statement journal for it. The
 * schema text is compiled in from db/schema.sql (build/schema_sql.c) and uses IF NOT EXISTS
 * throughout, so applying it to an older database adds what is missing; columns added later are
 * added by add_columns() when missing (with values for the rows already there); version upgrades
 * that need more go in migrate(). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include <sqlite3.h>

#include "config.h"
#include "smaudit/community_id.h"
#include "smaudit/store.h"
#include "store_ckpt.h"
#include "store_rollup.h"

/* rows per transaction when the caller does not commit first (the writer
 * does: CFG_STORE_BATCH in live, CFG_STORE_BATCH_READ in read) */
#define STORE_BATCH CFG_STORE_BATCH_READ
/* new flow rows per INSERT: a statement's fixed cost (a cursor on the table
 * and on each index, opened and closed) paid once for them all */
#define STORE_ROWS  16
#define FLOW_PARAMS 33 /* parameters of one flow row */
/* with the checkpointer running, the committing thread checkpoints the WAL
 * itself only once it holds this many times the checkpointer's threshold (see
 * store_wal_hook) */
#define WAL_BOUND 2

extern const char store_schema_sql[];

/* A flow row as bound (SQLITE_STATIC) into a statement: the record and the
 * text made from it, kept until the statement is stepped. */
struct store_row {
	struct flow_record rec; /* uid, conn_state, history, app names */
	int64_t run_id;
	char proto[8], oa[ADDR_STRLEN], ra[ADDR_STRLEN], tunnel[160], cid[COMMUNITY_ID_LEN];
	char rule_id[sizeof(((struct rule *)0)->id)];
	char reason[sizeof(((struct verdict_result *)0)->reason)];
	const char *verdict, *unchecked; /* static names, NULL = none */
	int has_rule, has_verdict;
};

/* What a flow statement's parameter holds since bind_row last bound it
 * (bindings outlast sqlite3_reset): a NULL, an integer or a static name
 * (verdict_str, flow_dir_str ...: the same address, the same text) bound
 * again unchanged is left as it is; text from a row's buffers is always
 * bound (BOUND_OTHER). */
enum { BOUND_OTHER, BOUND_NULL, BOUND_INT, BOUND_NAME };
struct bound {
	int kind;
	int64_t i;
	const char *name;
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *ins_flow; /* a new row: plain INSERT */
	sqlite3_stmt *ins_rows; /* STORE_ROWS new rows: one INSERT */
	sqlite3_stmt *rep_flow; /* a row written before at a checkpoint: REPLACE */
	/* what each one's parameters hold (all BOUND_OTHER when prepared) */
	struct bound b_flow[FLOW_PARAMS], b_rows[STORE_ROWS * FLOW_PARAMS], b_rep[FLOW_PARAMS];
	struct store_row held[STORE_ROWS]; /* new rows bound into ins_rows, not yet stepped */
	int nheld;
	struct rollup *rollup; /* per-hour roll-up deltas of the open batch */
	int in_tx;
	int pending;
	uint64_t pending_new; /* rows added (not replaced) in the open transaction */
	uint64_t committed;   /* rows added in transactions that committed */
	/* the WAL checkpointer (store_ckpt.c), NULL when not started; set and
	 * cleared by the thread that owns the connection, read by the WAL hook
	 * on the same thread */
	struct ckpt *ckpt;
	int page_size;  /* bytes, as the database has it */
	int wal_pages;  /* WAL frames that make CFG_STORE_WAL_KIB */
	int ckpt_pages; /* ... the checkpointer's threshold (store_ckpt_start) */
	int wal_failed; /* a backstop checkpoint met an error: wal_err */
	char wal_err[256];
};

/* ---- private ----------------------------------------------------------- */

static int db_err(struct store *s, char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s: %s", what, sqlite3_errmsg(s->db));
	return -1;
}

static int exec(struct store *s, const char *sql, char *err, size_t errlen)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(err, errlen, "database: %s", msg ? msg : "error");
		sqlite3_free(msg);
		return -1;
	}
	return 0;
}

/* The integer value of PRAGMA name (a fixed name, not user input). */
static int pragma_int(struct store *s, const char *name, int *v)
{
	sqlite3_stmt *st;
	char sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA %s", name);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(st);
	*v = rc == SQLITE_ROW ? sqlite3_column_int(st, 0) : 0;
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Count user tables; -1 when the file cannot be read as a database. */
static int table_count(struct store *s, int *has_runs)
{
	sqlite3_stmt *st;
	int n = 0;

	*has_runs = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT name FROM sqlite_master WHERE type='table'", -1, &st,
	                       NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *name = (const char *)sqlite3_column_text(st, 0);
		n++;
		if (name && !strcmp(name, "runs"))
			*has_runs = 1;
	}
	if (sqlite3_errcode(s->db) != SQLITE_OK && sqlite3_errcode(s->db) != SQLITE_DONE) {
		sqlite3_finalize(st);
		return -1;
	}
	sqlite3_finalize(st);
	return n;
}

/* Whether table has column: 2 yes, 1 the table lacks it, 0 no such table
 * (a new database), -1 on error. */
static int column_state(struct store *s, const char *table, const char *column)
{
	sqlite3_stmt *st;
	char sql[96];
	int found = 0, cols = 0, rc;

	snprintf(sql, sizeof(sql), "PRAGMA table_info(%s)", table);
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cols++;
		if (!strcmp((const char *)sqlite3_column_text(st, 1), column))
			found = 1;
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return -1;
	return !cols ? 0 : found ? 2 : 1;
}

/* Add column col (declared decl) to table when an older database lacks it,
 * then run fill (NULL = none) to give the rows already there their values.
 * A flows column also drops flows_v, which the schema text then recreates
 * listing it. Nothing to do in a new database: the schema creates it whole.
 * Returns 0 or -1 with err. */
static int add_column(struct store *s, const char *table, const char *col, const char *decl,
                      const char *fill, char *err, size_t errlen)
{
	char sql[256];
	int st = column_state(s, table, col);

	if (st < 0)
		return db_err(s, err, errlen, "database: reading the schema");
	if (st != 1)
		return 0;
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table, col, decl);
	if (exec(s, sql, err, errlen) < 0 || (fill && exec(s, fill, err, errlen) < 0))
		return -1;
	return strcmp(table, "flows") ? 0 : exec(s, "DROP VIEW IF EXISTS flows_v", err, errlen);
}

/* Columns added since version 1, each only when missing (so branches that
 * add columns merge cleanly), with their values for the rows already there:
 * CREATE ... IF NOT EXISTS leaves an older table as it is. Runs before the
 * schema text. */
static int add_columns(struct store *s, char *err, size_t errlen)
{
	if (add_column(s, "runs", "encap", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "ndpi_version", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "pid", "INTEGER", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "hostname", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "heartbeat", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "pruned", "INTEGER NOT NULL DEFAULT 0", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "gaps", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "roles", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "runs", "flows_lost", "INTEGER NOT NULL DEFAULT 0", NULL, err, errlen) <
	        0 ||
	    add_column(s, "run_rules", "in_force_from", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "run_rules", "in_force_until", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "flows", "unchecked", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "flows", "tunnel", "TEXT", NULL, err, errlen) < 0 ||
	    add_column(s, "flows", "missed_bytes", "INTEGER", NULL, err, errlen) < 0 ||
	    add_column(s, "flows", "community_id", "TEXT",
	               "UPDATE flows SET community_id = sm_community_id(proto, orig_addr, "
	               "orig_port, resp_addr, resp_port)",
	               err, errlen) < 0)
		return -1;
	return 0;
}

/* Bring a database at version from up to STORE_SCHEMA_VERSION. */
static int migrate(struct store *s, int from, char *err, size_t errlen)
{
	(void)from; /* version 1 is the first: the schema itself is the migration */
	if (community_id_sql_register(s->db) < 0)
		return db_err(s, err, errlen, "database");
	if (exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	/* flows_verdict (every verdict) gave way to flows_anomaly (the schema's);
	 * flows_run is no more: a run's flows are found by time (query.c) */
	if (add_columns(s, err, errlen) < 0 ||
	    exec(s, "DROP INDEX IF EXISTS flows_verdict; DROP INDEX IF EXISTS flows_run", err,
	         errlen) < 0 ||
	    exec(s, store_schema_sql, err, errlen) < 0 ||
	    (rollup_rebuild_if_stale(s->db) < 0 &&
	     db_err(s, err, errlen, "database: building the flow roll-up") < 0)) {
		exec(s, "ROLLBACK", err + strlen(err), 0);
		return -1;
	}
	return exec(s, "COMMIT", err, errlen);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
	if (v && *v)
		sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

/* Role addresses of m as runs.roles text: one "role cidr,cidr" line per
 * role that has addresses (cut short, never overflowing, past len). */
static const char *roles_text(const struct rules_matrix *m, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < rules_role_count(m); i++) {
		const char *name = rules_role_name(m, i);
		const struct sm_cidr *c;
		size_t na = rules_role_addrs(m, name, &c);
		for (size_t k = 0; k < na && n + ADDR_STRLEN + 24 < len; k++) {
			char a[ADDR_STRLEN + 4];
			if (k == 0)
				n += (size_t)snprintf(buf + n, len - n, "%s%s ", n ? "\n" : "",
				                      name);
			n += (size_t)snprintf(buf + n, len - n, "%s%s", k ? "," : "",
			                      cidr_str(&c[k], a, sizeof(a)));
		}
	}
	return buf;
}

/* Once per process, before SQLite starts: no memory statistics (they take
 * a global mutex around every allocation; smaudit never reads them). When
 * SQLite was started already (a query earlier in the process), it keeps
 * them: slower, not wrong. */
static void sqlite_config_once(void)
{
	sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* Open path for writing; a new database (and its -wal and -shm, which
 * SQLite gives the main file's mode) is created 0640: flows are not for
 * every local user. NOMUTEX: the connection is used by one thread at a
 * time (the run's thread, then the writer thread, then the run's thread
 * again, handed over under the writer's lock), so SQLite's per-call
 * connection mutex is dead weight. */
static int open_0640(struct store *s, const char *path)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	mode_t old;
	int rc;

	pthread_once(&once, sqlite_config_once);
	old = umask(027);
	rc = sqlite3_open_v2(
	    path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);

	umask(old);
	return rc;
}

/* Prepare the flow insert statement beginning with verb ("INSERT", "INSERT
 * OR REPLACE") for rows rows: row k's parameters are k * FLOW_PARAMS + 1 ..
 * + FLOW_PARAMS, in the order of bind_row (+29 is the row id, NULL for a new
 * row). Returns 0 or -1. */
static int prepare_flow_insert(struct store *s, const char *verb, int rows, sqlite3_stmt **st)
{
	/* the columns in the order of their parameters: +29 (id) comes first */
	static const int order[FLOW_PARAMS] = {29, 1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
	                                       11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21,
	                                       22, 23, 24, 25, 26, 27, 28, 30, 31, 32, 33};
	char sql[512 + STORE_ROWS * FLOW_PARAMS * 8];
	size_t n;
	int rc;

	n = (size_t)snprintf(
	    sql, sizeof(sql),
	    "%s INTO flows (id, run_id, uid, ts_start, ts_end, proto, orig_addr, orig_port, "
	    "resp_addr, resp_port, vlan, direction, direction_inferred, peer_addr, orig_pkts, "
	    "orig_ip_bytes, orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, conn_state, "
	    "history, end_reason, app_proto, app_confidence, server_name, rule_id, verdict, "
	    "reason, tunnel, community_id, unchecked, missed_bytes) VALUES ",
	    verb);
	for (int k = 0; k < rows && n < sizeof(sql); k++)
		for (int c = 0; c < FLOW_PARAMS && n < sizeof(sql); c++) {
			const char *lead = c ? "," : k ? ",(" : "(";
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s?%d%s", lead,
			                      k * FLOW_PARAMS + order[c],
			                      c == FLOW_PARAMS - 1 ? ")" : "");
		}
	if (n >= sizeof(sql))
		return -1;
	rc = sqlite3_prepare_v2(s->db, sql, -1, st, NULL);
	return rc == SQLITE_OK ? 0 : -1;
}

/* ---- API --------------------------------------------------------------- */

int64_t store_hour(double ts)
{
	int64_t k;

	if (!isfinite(ts))
		return 0;
	k = (int64_t)floor(ts / STORE_ROLLUP_SECONDS);
	/* the division may round across a boundary: settle k by exact products */
	while ((double)k * STORE_ROLLUP_SECONDS > ts)
		k--;
	while ((double)(k + 1) * STORE_ROLLUP_SECONDS <= ts)
		k++;
	return k;
}

int64_t store_day(int64_t hour, int *bit)
{
	*bit = (int)((hour % 24 + 24) % 24);
	return (hour - *bit) / 24;
}

const char *store_now_iso(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

struct store *store_open(const char *path, char *err, size_t errlen)
{
	struct store *s = calloc(1, sizeof(*s));
	int v = 0, has_runs = 0, n;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (open_0640(s, path) != SQLITE_OK) {
		snprintf(err, errlen, "%s: cannot open database: %s", path,
		         s->db ? sqlite3_errmsg(s->db) : "out of memory");
		goto fail;
	}
	sqlite3_busy_timeout(s->db, 10000);
	n = table_count(s, &has_runs);
	if (n < 0) {
		snprintf(err, errlen, "%s: not an SQLite database (%s)", path,
		         sqlite3_errmsg(s->db));
		goto fail;
	}
	if (pragma_int(s, "user_version", &v) < 0) {
		snprintf(err, errlen, "%s: cannot read schema version: %s", path,
		         sqlite3_errmsg(s->db));
		goto fail;
	}
	if (n > 0 && !has_runs) {
		snprintf(err, errlen,
		         "%s: an SQLite database, but not an smaudit one (no runs table)", path);
		goto fail;
	}
	if (v > STORE_SCHEMA_VERSION) {
		snprintf(err, errlen,
		         "%s: schema version %d is newer than this smaudit supports (%d): upgrade "
		         "smaudit",
		         path, v, STORE_SCHEMA_VERSION);
		goto fail;
	}
	/* a batch of rows touches the table and five indexes: give it a page
	 * cache that holds them (else pages spill, a write per row), keep
	 * temporary structures in memory, and checkpoint the WAL less often; a
	 * new database gets larger pages (page_size is a no-op on one that
	 * exists: an older one keeps its own) */
	{
		char pragmas[256];
		snprintf(pragmas, sizeof(pragmas),
		         "PRAGMA page_size=%d; PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
		         "PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY;",
		         CFG_STORE_PAGE_SIZE, CFG_STORE_CACHE_KIB);
		if (exec(s, pragmas, err, errlen) < 0 ||
		    pragma_int(s, "page_size", &s->page_size) < 0)
			goto fail;
		if (s->page_size <= 0)
			s->page_size = 4096;
		/* the WAL checkpointed at the same size whatever the page size */
		s->wal_pages = (int)((int64_t)CFG_STORE_WAL_KIB * 1024 / s->page_size);
		snprintf(pragmas, sizeof(pragmas), "PRAGMA wal_autocheckpoint=%d;", s->wal_pages);
		if (exec(s, pragmas, err, errlen) < 0)
			goto fail;
	}
	/* the schema is all IF NOT EXISTS: applying it again adds views and
	 * indexes that a same-version database may lack */
	if (migrate(s, v, err, errlen) < 0)
		goto fail;
	/* plain INSERT for new rows: OR REPLACE makes every row open a statement
	 * journal (savepoint, truncate), about a third of the insert's cost; so
	 * would a many-row INSERT that may abort half-way, hence OR ROLLBACK */
	if (prepare_flow_insert(s, "INSERT", 1, &s->ins_flow) < 0 ||
	    prepare_flow_insert(s, "INSERT OR ROLLBACK", STORE_ROWS, &s->ins_rows) < 0 ||
	    prepare_flow_insert(s, "INSERT OR REPLACE", 1, &s->rep_flow) < 0) {
		db_err(s, err, errlen, path);
		goto fail;
	}
	s->rollup = rollup_new(s->db);
	if (!s->rollup) {
		db_err(s, err, errlen, "database: the flow roll-up");
		goto fail;
	}
	return s;
fail:
	sqlite3_finalize(s->ins_flow);
	sqlite3_finalize(s->ins_rows);
	sqlite3_finalize(s->rep_flow);
	if (s->db)
		sqlite3_close(s->db);
	free(s);
	return NULL;
}

void store_close(struct store *s)
{
	char err[256];

	if (!s)
		return;
	store_flush(s, err, sizeof(err));
	store_ckpt_stop(s, NULL, err, sizeof(err)); /* its connection closes first */
	sqlite3_finalize(s->ins_flow);
	sqlite3_finalize(s->ins_rows);
	sqlite3_finalize(s->rep_flow);
	rollup_free(s->rollup);
	sqlite3_close(s->db);
	free(s);
}

/* The WAL hook while the checkpointer runs (the committing thread, after
 * each commit; frames: the WAL's size in pages). Past ckpt_pages the
 * checkpointer is asked to copy the WAL, and the commit returns at once.
 * Bound: a passive checkpoint cannot restart the WAL, which restarts only
 * when a write transaction begins after every frame was copied, and a
 * writer that commits back to back rarely leaves such a moment (live's
 * pauses do). So at WAL_BOUND times ckpt_pages this thread checkpoints
 * itself, as the autocheckpoint did (copying only what the checkpointer
 * has not: a transaction or two), and its next transaction restarts the
 * WAL; when the checkpointer is copying (SQLITE_BUSY) it waits for it
 * first, so the WAL never passes WAL_BOUND times ckpt_pages plus one
 * transaction. Its errors are kept for store_ckpt_stop. */
static int store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store *s = arg;
	int rc;

	if (frames < s->ckpt_pages)
		return SQLITE_OK;
	if (frames < WAL_BOUND * s->ckpt_pages) {
		ckpt_kick(s->ckpt);
		return SQLITE_OK;
	}
	rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	if (rc == SQLITE_BUSY) { /* the checkpointer is copying: wait, then copy the rest */
		ckpt_wait(s->ckpt);
		rc = sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
	}
	if (rc != SQLITE_OK && rc != SQLITE_BUSY && !s->wal_failed) {
		s->wal_failed = 1;
		snprintf(s->wal_err, sizeof(s->wal_err), "database: WAL checkpoint: %s",
		         sqlite3_errmsg(db));
	}
	return SQLITE_OK;
}

int store_ckpt_start(struct store *s, int wal_kib, char *err, size_t errlen)
{
	const char *path = sqlite3_db_filename(s->db, "main");

	if (s->ckpt)
		return 0;
	s->ckpt_pages = wal_kib > 0 ? (int)((int64_t)wal_kib * 1024 / s->page_size) : s->wal_pages;
	if (s->ckpt_pages < 1)
		s->ckpt_pages = 1;
	if (!path || !*path) { /* a temporary database: no other connection can open it */
		snprintf(err, errlen, "database: no file for a checkpointer's connection");
		return -1;
	}
	s->ckpt = ckpt_start(path, err, errlen);
	if (!s->ckpt)
		return -1;
	sqlite3_wal_hook(s->db, store_wal_hook, s); /* in place of the autocheckpoint */
	return 0;
}

int store_ckpt_stop(struct store *s, long *runs, char *err, size_t errlen)
{
	int rc;

	if (runs)
		*runs = 0;
	if (!s->ckpt)
		return 0;
	sqlite3_wal_autocheckpoint(s->db, s->wal_pages); /* the hook as before the start */
	rc = ckpt_stop(s->ckpt, runs, err, errlen);
	s->ckpt = NULL;
	if (rc == 0 && s->wal_failed) {
		snprintf(err, errlen, "%s", s->wal_err);
		rc = -1;
	}
	s->wal_failed = 0;
	return rc;
}

/* Upsert the rules of m for run id (in a transaction), in force from
 * since (ISO 8601 UTC; NULL: the run's start). A rule the run already has
 * keeps its in_force_from when its definition is the same and it was in
 * force until since (retire_all below); else it takes since. Every rule of
 * m ends up with in_force_until NULL. Returns 0 or -1 (SQLite's error). */
static int insert_rules(struct store *s, int64_t id, const struct rules_matrix *m,
                        const char *since)
{
	sqlite3_stmt *st;
	int rc = SQLITE_DONE;

	if (sqlite3_prepare_v2(
	        s->db,
	        "INSERT INTO run_rules (run_id, rule_id, row, direction, proto, port, peer, apps, "
	        "description, source, in_force_from) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11) "
	        "ON CONFLICT (run_id, rule_id) DO UPDATE SET in_force_from = CASE WHEN "
	        "in_force_until IS ?11 AND row IS excluded.row AND direction = excluded.direction "
	        "AND proto = excluded.proto AND port = excluded.port AND peer = excluded.peer AND "
	        "apps IS excluded.apps THEN in_force_from ELSE ?11 END, in_force_until = NULL, "
	        "row = excluded.row, direction = excluded.direction, proto = excluded.proto, "
	        "port = excluded.port, peer = excluded.peer, apps = excluded.apps, "
	        "description = excluded.description, source = excluded.source",
	        -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (size_t i = 0; i < rules_count(m) && rc == SQLITE_DONE; i++) {
		const struct rule *r = rules_get(m, i);
		char apps[RULE_MAX_APPS * 25 + 1] = "", src[512];
		for (int a = 0; a < r->napps; a++) {
			if (a)
				strcat(apps, ",");
			strcat(apps, r->apps[a]);
		}
		snprintf(src, sizeof(src), "%s:%d", r->file ? r->file : "?", r->line);
		sqlite3_bind_int64(st, 1, id);
		sqlite3_bind_text(st, 2, r->id, -1, SQLITE_TRANSIENT);
		if (r->row > 0)
			sqlite3_bind_int(st, 3, r->row);
		else
			sqlite3_bind_null(st, 3);
		sqlite3_bind_text(st, 4, r->dir == RULE_IN ? "in" : "out", -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, flow_proto_str(r->proto) ? flow_proto_str(r->proto) : "?",
		                  -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 6, r->port);
		sqlite3_bind_text(st, 7, r->role, -1, SQLITE_TRANSIENT);
		bind_text(st, 8, apps);
		bind_text(st, 9, r->description);
		sqlite3_bind_text(st, 10, src, -1, SQLITE_TRANSIENT);
		bind_text(st, 11, since);
		rc = sqlite3_step(st);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : -1;
}

int store_run_begin(struct store *s, const struct store_run *run, const struct rules_matrix *m,
                    int64_t *id, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char now[32], *files = NULL;
	const struct rules_file *rf = NULL;
	size_t nf = m ? rules_files(m, &rf) : 0, flen = 1;
	int rc;

	for (size_t i = 0; i < nf; i++)
		flen += strlen(rf[i].path) + 67;
	files = malloc(flen);
	if (!files) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	files[0] = '\0';
	for (size_t i = 0; i < nf; i++) {
		size_t l = strlen(files);
		snprintf(files + l, flen - l, "%s%s %s", i ? "\n" : "", rf[i].path, rf[i].sha256);
	}
	if (store_flush(s, err, errlen) < 0 || exec(s, "BEGIN IMMEDIATE", err, errlen) < 0) {
		free(files);
		return -1;
	}
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT INTO runs (mode, source, filter, hosts, rules_files, "
	                       "rules_sha256, started, status, version, ndpi_version, roles) "
	                       "VALUES (?1,?2,?3,?4,?5,?6,?7,'running',?8,?9,?10)",
	                       -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	bind_text(st, 1, run->mode);
	bind_text(st, 2, run->source);
	bind_text(st, 3, run->filter);
	sqlite3_bind_text(st, 4, run->hosts ? run->hosts : "", -1, SQLITE_TRANSIENT);
	bind_text(st, 5, files);
	bind_text(st, 6, nf ? rf[0].sha256 : NULL);
	sqlite3_bind_text(st, 7, store_now_iso(now, sizeof(now)), -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 8, SMAUDIT_VERSION, -1, SQLITE_STATIC);
	bind_text(st, 9, run->ndpi_version);
	if (m) {
		char roles[4096];
		sqlite3_bind_text(st, 10, roles_text(m, roles, sizeof(roles)), -1,
		                  SQLITE_TRANSIENT);
	}
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto dberr;
	*id = sqlite3_last_insert_rowid(s->db);

	if (m && insert_rules(s, *id, m, NULL) < 0)
		goto dberr;
	free(files);
	return exec(s, "COMMIT", err, errlen);
dberr:
	free(files);
	db_err(s, err, errlen, "database");
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

/* Make t's text from its record (t->rec), run id and verdict v (NULL = not
 * judged). */
static void row_text_fill(struct store_row *t, int64_t run, const struct verdict_result *v)
{
	const struct flow_record *r = &t->rec;
	const char *proto = flow_proto_str(r->proto);

	t->run_id = run;
	if (proto)
		rollup_copy(t->proto, sizeof(t->proto), proto);
	else
		snprintf(t->proto, sizeof(t->proto), "%u", r->proto);
	addr_str(&r->orig, t->oa, sizeof(t->oa));
	addr_str(&r->resp, t->ra, sizeof(t->ra));
	encap_info_str(&r->tunnel, t->tunnel, sizeof(t->tunnel));
	if (community_id_flow(r, t->cid, sizeof(t->cid)) < 0)
		t->cid[0] = '\0';
	t->has_rule = v && v->rule;
	if (t->has_rule)
		rollup_copy(t->rule_id, sizeof(t->rule_id), v->rule->id);
	t->has_verdict = v != NULL;
	t->verdict = v ? verdict_str(v->kind) : NULL;
	if (v)
		memcpy(t->reason, v->reason, sizeof(t->reason));
	t->unchecked = verdict_unchecked_str(v);
}

/* Bind parameter i of st to NULL, unless b (its bound state) says it is. */
static void bind_null_b(sqlite3_stmt *st, struct bound *b, int i)
{
	if (b->kind == BOUND_NULL)
		return;
	sqlite3_bind_null(st, i);
	b->kind = BOUND_NULL;
}

/* Bind parameter i of st to v, unless b says it holds v. */
static void bind_int_b(sqlite3_stmt *st, struct bound *b, int i, int64_t v)
{
	if (b->kind == BOUND_INT && b->i == v)
		return;
	sqlite3_bind_int64(st, i, v);
	b->kind = BOUND_INT;
	b->i = v;
}

/* Bind parameter i of st to the static name v (NULL: NULL; "" stays text),
 * unless b says it holds it. */
static void bind_name_b(sqlite3_stmt *st, struct bound *b, int i, const char *v)
{
	if (!v) {
		bind_null_b(st, b, i);
		return;
	}
	if (b->kind == BOUND_NAME && b->name == v)
		return;
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	b->kind = BOUND_NAME;
	b->name = v;
}

/* Bind text v from a row's buffer, without a copy. */
static void bind_str_b(sqlite3_stmt *st, struct bound *b, int i, const char *v)
{
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	b->kind = BOUND_OTHER;
}

/* Bind text v from a row's buffer (NULL or "": NULL), without a copy. */
static void bind_text_b(sqlite3_stmt *st, struct bound *b, int i, const char *v)
{
	if (!v || !*v) {
		bind_null_b(st, b, i);
		return;
	}
	sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
	b->kind = BOUND_OTHER;
}

/* Bind row t as parameters base + 1 .. base + FLOW_PARAMS of st, whose
 * bound state is bs (parameter p's is bs[p - 1]), without copies (t must stay
 * unchanged until st is stepped). */
static void bind_row(sqlite3_stmt *st, struct bound *bs, int base, const struct store_row *t)
{
	const struct flow_record *r = &t->rec;
	struct bound *b = bs + base; /* b[k]: parameter base + k + 1 */

	bind_int_b(st, &b[0], base + 1, t->run_id);
	bind_str_b(st, &b[1], base + 2, r->uid);
	sqlite3_bind_double(st, base + 3, (double)r->ts_start_us / 1e6);
	sqlite3_bind_double(st, base + 4, (double)r->ts_end_us / 1e6);
	b[2].kind = b[3].kind = BOUND_OTHER;
	bind_str_b(st, &b[4], base + 5, t->proto);
	bind_str_b(st, &b[5], base + 6, t->oa);
	bind_int_b(st, &b[6], base + 7, r->orig_port);
	bind_str_b(st, &b[7], base + 8, t->ra);
	bind_int_b(st, &b[8], base + 9, r->resp_port);
	if (r->vlan)
		bind_int_b(st, &b[9], base + 10, r->vlan);
	else
		bind_null_b(st, &b[9], base + 10);
	bind_name_b(st, &b[10], base + 11, flow_dir_str((enum flow_dir)r->direction));
	bind_int_b(st, &b[11], base + 12, r->direction_inferred);
	bind_str_b(st, &b[12], base + 13, r->direction == DIR_OUT ? t->ra : t->oa);
	bind_int_b(st, &b[13], base + 14, (int64_t)r->orig_pkts);
	bind_int_b(st, &b[14], base + 15, (int64_t)r->orig_ip_bytes);
	bind_int_b(st, &b[15], base + 16, (int64_t)r->orig_bytes);
	bind_int_b(st, &b[16], base + 17, (int64_t)r->resp_pkts);
	bind_int_b(st, &b[17], base + 18, (int64_t)r->resp_ip_bytes);
	bind_int_b(st, &b[18], base + 19, (int64_t)r->resp_bytes);
	bind_text_b(st, &b[19], base + 20, r->conn_state);
	bind_text_b(st, &b[20], base + 21, r->history);
	bind_name_b(st, &b[21], base + 22, flow_end_str((enum flow_end)r->end_reason));
	bind_text_b(st, &b[22], base + 23, r->app.proto);
	bind_name_b(st, &b[23], base + 24, app_conf_str((enum app_conf)r->app.confidence));
	bind_text_b(st, &b[24], base + 25, r->app.server_name);
	bind_text_b(st, &b[25], base + 26, t->has_rule ? t->rule_id : NULL);
	bind_name_b(st, &b[26], base + 27, t->verdict && *t->verdict ? t->verdict : NULL);
	bind_text_b(st, &b[27], base + 28, t->has_verdict ? t->reason : NULL);
	if (r->store_id > 0)
		bind_int_b(st, &b[28], base + 29, r->store_id);
	else
		bind_null_b(st, &b[28], base + 29);
	bind_text_b(st, &b[29], base + 30, t->tunnel);
	bind_text_b(st, &b[30], base + 31, t->cid);
	bind_name_b(st, &b[31], base + 32, t->unchecked && *t->unchecked ? t->unchecked : NULL);
	bind_int_b(st, &b[32], base + 33, (int64_t)r->missed_bytes);
}

/* Add stored row t, replacing old (NULL = a new row), to the roll-up. */
static void rollup_flow(struct store *s, const struct store_row *t, const struct rollup_old *old)
{
	const struct flow_record *r = &t->rec;
	struct rollup_row row = {
	    .run_id = t->run_id,
	    .rule_id = t->has_rule ? t->rule_id : NULL,
	    .peer = r->direction == DIR_OUT ? t->ra : t->oa,
	    .verdict = t->verdict,
	    .ts_start = (double)r->ts_start_us / 1e6,
	    .ts_end = (double)r->ts_end_us / 1e6,
	    .bytes = (int64_t)r->orig_bytes + (int64_t)r->resp_bytes,
	    .unchecked = t->unchecked != NULL,
	    .direction = flow_dir_str((enum flow_dir)r->direction),
	    .resp_port = r->resp_port,
	};

	rollup_add(s->rollup, old, &row);
}

/* Step st (bound), reset it; 0 or -1 with err. */
static int step_rows(struct store *s, sqlite3_stmt *st, char *err, size_t errlen)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : db_err(s, err, errlen, "database: storing a flow");
}

/* Insert the held rows: a full set with one statement, fewer one by one (at
 * a commit). Returns 0 or -1 with err. */
static int insert_held(struct store *s, char *err, size_t errlen)
{
	int n = s->nheld;

	s->nheld = 0;
	if (n == STORE_ROWS && step_rows(s, s->ins_rows, err, errlen) < 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (n < STORE_ROWS) {
			bind_row(s->ins_flow, s->b_flow, 0, &s->held[i]);
			if (step_rows(s, s->ins_flow, err, errlen) < 0)
				return -1;
		}
		rollup_flow(s, &s->held[i],
		            NULL); /* once in the table, as a recomputation reads it */
	}
	return 0;
}

int store_run_rules(struct store *s, int64_t id, const struct rules_matrix *m, int64_t when,
                    char *err, size_t errlen)
{
	time_t t = (time_t)when;
	char since[32], roles[4096];
	struct tm tm;
	sqlite3_stmt *st;
	int rc;

	gmtime_r(&t, &tm);
	strftime(since, sizeof(since), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (store_flush(s, err, errlen) < 0 || exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	/* every rule in force is retired at since, then m's are put back */
	if (sqlite3_prepare_v2(s->db,
	                       "UPDATE run_rules SET in_force_until = ?2 WHERE run_id = ?1 AND "
	                       "in_force_until IS NULL",
	                       -1, &st, NULL) != SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, since, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE || insert_rules(s, id, m, since) < 0 ||
	    sqlite3_prepare_v2(s->db, "UPDATE runs SET roles = ?2 WHERE id = ?1", -1, &st, NULL) !=
	        SQLITE_OK)
		goto dberr;
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, roles_text(m, roles, sizeof(roles)), -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		goto dberr;
	return exec(s, "COMMIT", err, errlen);
dberr:
	db_err(s, err, errlen, "database: recording the reloaded rules");
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}

size_t store_row_size(void)
{
	return sizeof(struct store_row);
}

void store_row_fill(struct store_row *row, int64_t id, const struct flow_record *rec,
                    const struct verdict_result *v)
{
	row->rec = *rec;
	row_text_fill(row, id, v);
}

/* t's text: a copy of made (its record's store_id as r's, which the caller
 * may have looked up since), or made now from r. */
static void row_text_of(struct store_row *t, int64_t id, const struct flow_record *r,
                        const struct verdict_result *v, const struct store_row *made)
{
	if (made) {
		*t = *made;
		t->rec.store_id = r->store_id;
		return;
	}
	t->rec = *r;
	row_text_fill(t, id, v);
}

int store_flow(struct store *s, int64_t id, struct flow_record *r, const struct verdict_result *v,
               char *err, size_t errlen)
{
	return store_flow_row(s, id, r, v, NULL, err, errlen);
}

int store_flow_row(struct store *s, int64_t id, struct flow_record *r,
                   const struct verdict_result *v, const struct store_row *made, char *err,
                   size_t errlen)
{
	struct store_row now, *t = &now;
	struct rollup_old old;
	int has_old = 0, is_new = r->store_id <= 0;

	if (!s->in_tx) {
		/* IMMEDIATE: the roll-up's check below must hold until the commit */
		if (exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
			return -1;
		s->in_tx = 1;
		rollup_begin(s->rollup);
	}
	if (is_new && r->end_reason != END_CHECKPOINT) {
		/* held, bound into the many-row INSERT, stepped when it is full */
		t = &s->held[s->nheld];
		row_text_of(t, id, r, v, made);
		bind_row(s->ins_rows, s->b_rows, s->nheld * FLOW_PARAMS, t);
		if (++s->nheld == STORE_ROWS && insert_held(s, err, errlen) < 0)
			return -1;
	} else {
		/* a checkpoint row needs its id now, a replacement the rows before
		 * it (ids are given in the order rows come) */
		if (insert_held(s, err, errlen) < 0)
			return -1;
		if (!is_new)
			has_old = rollup_read_old(s->rollup, r->store_id, &old);
		row_text_of(t, id, r, v, made);
		bind_row(is_new ? s->ins_flow : s->rep_flow, is_new ? s->b_flow : s->b_rep, 0, t);
		if (step_rows(s, is_new ? s->ins_flow : s->rep_flow, err, errlen) < 0)
			return -1;
		if (is_new)
			r->store_id = sqlite3_last_insert_rowid(s->db);
		rollup_flow(s, t, has_old ? &old : NULL);
	}
	s->pending_new += (uint64_t)is_new;
	if (++s->pending >= STORE_BATCH)
		return store_flush(s, err, errlen);
	return 0;
}

void store_rollback(struct store *s)
{
	if (!sqlite3_get_autocommit(s->db))
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	rollup_discard(s->rollup);
	s->nheld = 0;
	s->in_tx = 0;
	s->pending = 0;
	s->pending_new = 0;
}

int store_flush(struct store *s, char *err, size_t errlen)
{
	uint64_t added = s->pending_new;

	if (!s->in_tx)
		return 0;
	if (insert_held(s, err, errlen) < 0) {
		store_rollback(s); /* the batch is lost, as when the commit fails */
		return -1;
	}
	s->in_tx = 0;
	s->pending = 0;
	rollup_flush(s->rollup);
	s->pending_new = 0;
	if (exec(s, "COMMIT", err, errlen) < 0) {
		/* a full disk may leave the transaction open: its rows are lost */
		if (!sqlite3_get_autocommit(s->db))
			sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return -1;
	}
	s->committed += added;
	return 0;
}

uint64_t store_flows_committed(const struct store *s)
{
	return s->committed;
}

/* Bind a run's counters as ?3 packets .. ?11 evicted (the order of the
 * runs UPDATEs) and :lost. */
static void bind_run_counters(sqlite3_stmt *st, const struct store_run *run)
{
	sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":lost"),
	                   (sqlite3_int64)run->flows_lost);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)run->packets);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)run->bytes);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)run->malformed);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)run->unknown_link);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)run->non_ip);
	sqlite3_bind_int64(st, 8, (sqlite3_int64)run->dropped);
	sqlite3_bind_int64(st, 9, (sqlite3_int64)run->flows);
	sqlite3_bind_int64(st, 10, (sqlite3_int64)run->flows_other);
	sqlite3_bind_int64(st, 11, (sqlite3_int64)run->evicted);
}

int store_run_end(struct store *s, int64_t id, const struct store_run *run, char *err,
                  size_t errlen)
{
	sqlite3_stmt *st;
	char now[32], encap[512];
	int rc;

	if (store_flush(s, err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db,
	                       "UPDATE runs SET finished=?2, packets=?3, bytes=?4, malformed=?5, "
	                       "unknown_link=?6, non_ip=?7, dropped=?8, flows=?9, flows_other=?10, "
	                       "evicted=?11, status=?12, error=?13, encap=?14, flows_lost=:lost "
	                       "WHERE id=?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, err, errlen, "database");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, store_now_iso(now, sizeof(now)), -1, SQLITE_TRANSIENT);
	bind_run_counters(st, run);
	sqlite3_bind_text(st, 12, run->status ? run->status : "complete", -1, SQLITE_TRANSIENT);
	bind_text(st, 13, run->error);
	bind_text(st, 14, encap_counts_str(run->encap, encap, sizeof(encap)));
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s, err, errlen, "database: finishing the run");
	return 0;
}

/* ---- inputs ------------------------------------------------------------ */

int store_input_add(struct store *s, int64_t id, int seq, const struct store_input *in, char *err,
                    size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	if (store_flush(s, err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT OR REPLACE INTO inputs (run_id, seq, path, sha256, size, "
	                       "link_type, packets, first_ts, last_ts, skipped) VALUES "
	                       "(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, err, errlen, "database: recording an input");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int(st, 2, seq);
	sqlite3_bind_text(st, 3, in->path, -1, SQLITE_TRANSIENT);
	bind_text(st, 4, in->sha256);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)in->size);
	sqlite3_bind_int(st, 6, in->link_type);
	sqlite3_bind_int64(st, 7, (sqlite3_int64)in->packets);
	if (in->first_us) {
		sqlite3_bind_double(st, 8, (double)in->first_us / 1e6);
		sqlite3_bind_double(st, 9, (double)in->last_us / 1e6);
	}
	if (in->skipped)
		sqlite3_bind_int64(st, 10, in->skipped);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s, err, errlen, "database: recording an input");
	return 0;
}

/* The earliest complete run other than id with an input (hashed, not
 * skipped) of this sha256, or when sha256 is NULL of this size (a size
 * left NULL, which no database of ours writes, could be any size): 1 with
 * *run set, 0 when none, -1 with err. */
static int earlier_input(struct store *s, int64_t id, const char *sha256, uint64_t size,
                         int64_t *run, char *err, size_t errlen)
{
	static const char *const sql[] = {
	    "SELECT min(i.run_id) FROM inputs i JOIN runs r ON r.id = i.run_id WHERE i.sha256 = ?1 "
	    "AND i.skipped IS NULL AND r.id != ?2 AND r.status = 'complete'",
	    "SELECT min(i.run_id) FROM inputs i JOIN runs r ON r.id = i.run_id WHERE (i.size = ?1 "
	    "OR i.size IS NULL) AND i.sha256 IS NOT NULL AND i.skipped IS NULL AND r.id != ?2 AND "
	    "r.status = 'complete'"};
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql[!sha256], -1, &st, NULL) != SQLITE_OK)
		return db_err(s, err, errlen, "database: looking up an input");
	if (sha256)
		sqlite3_bind_text(st, 1, sha256, -1, SQLITE_TRANSIENT);
	else
		sqlite3_bind_int64(st, 1, (sqlite3_int64)size);
	sqlite3_bind_int64(st, 2, id);
	rc = sqlite3_step(st);
	*run = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	sqlite3_finalize(st);
	if (rc != SQLITE_ROW)
		return db_err(s, err, errlen, "database: looking up an input");
	return *run > 0;
}

int store_input_seen(struct store *s, int64_t id, const char *sha256, int64_t *run, char *err,
                     size_t errlen)
{
	*run = 0;
	return sha256 ? earlier_input(s, id, sha256, 0, run, err, errlen) : 0;
}

int store_input_size_seen(struct store *s, int64_t id, uint64_t size, char *err, size_t errlen)
{
	int64_t run;

	return earlier_input(s, id, NULL, size, &run, err, errlen);
}

/* ---- run liveness ------------------------------------------------------ */

/* Run one UPDATE of runs (sql, with ?1 = id and ?2 = now) plus the text
 * ?3 and ?4 when given; commits what is pending first. */
static int update_run(struct store *s, const char *sql, int64_t id, const char *t3, const char *t4,
                      char *err, size_t errlen)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	if (store_flush(s, err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, err, errlen, "database");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, store_now_iso(now, sizeof(now)), -1, SQLITE_TRANSIENT);
	if (t3)
		sqlite3_bind_text(st, 3, t3, -1, SQLITE_TRANSIENT);
	if (t4)
		sqlite3_bind_text(st, 4, t4, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s, err, errlen, "database: updating the run");
	return 0;
}

int store_run_owner(struct store *s, int64_t id, long pid, const char *host, char *err,
                    size_t errlen)
{
	char p[24];

	snprintf(p, sizeof(p), "%ld", pid);
	return update_run(s,
	                  "UPDATE runs SET heartbeat=?2, pid=CAST(?3 AS INTEGER), hostname=?4 "
	                  "WHERE id=?1",
	                  id, p, host, err, errlen);
}

int store_run_gaps(struct store *s, int64_t id, const char *gaps, char *err, size_t errlen)
{
	return update_run(s, "UPDATE runs SET gaps=?3 WHERE id=?1 AND ?2 IS NOT NULL", id, gaps,
	                  NULL, err, errlen);
}

int store_run_progress(struct store *s, int64_t id, const struct store_run *run, char *err,
                       size_t errlen)
{
	sqlite3_stmt *st;
	char now[32];
	int rc;

	if (store_flush(s, err, errlen) < 0)
		return -1;
	if (sqlite3_prepare_v2(s->db,
	                       "UPDATE runs SET heartbeat=?2, finished=NULL, packets=?3, bytes=?4, "
	                       "malformed=?5, unknown_link=?6, non_ip=?7, dropped=?8, flows=?9, "
	                       "flows_other=?10, evicted=?11, gaps=?12, flows_lost=:lost "
	                       "WHERE id=?1",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, err, errlen, "database");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_text(st, 2, store_now_iso(now, sizeof(now)), -1, SQLITE_TRANSIENT);
	bind_run_counters(st, run);
	bind_text(st, 12, run->gaps);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE)
		return db_err(s, err, errlen, "database: saving the run's progress");
	return 0;
}

int store_runs_reap(struct store *s, int (*gone)(void *ctx, const struct store_owner *o), void *ctx,
                    long *reaped, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int64_t ids[64];
	size_t n = 0;

	*reaped = 0;
	if (sqlite3_prepare_v2(s->db,
	                       "SELECT id, ifnull(pid, 0), hostname, ifnull(heartbeat, started) "
	                       "FROM runs WHERE status='running' ORDER BY id LIMIT 64",
	                       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, err, errlen, "database");
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_owner o = {.pid = (long)sqlite3_column_int64(st, 1),
		                        .hostname = (const char *)sqlite3_column_text(st, 2),
		                        .heartbeat = (const char *)sqlite3_column_text(st, 3)};
		if (gone(ctx, &o))
			ids[n++] = sqlite3_column_int64(st, 0);
	}
	sqlite3_finalize(st);
	for (size_t i = 0; i < n; i++) {
		if (update_run(
		        s,
		        "UPDATE runs SET status='interrupted', finished=ifnull(heartbeat, "
		        "started), error='the process ' || ifnull(pid, '?') || ' on ' || "
		        "ifnull(hostname, '?') || ' ended without closing the run (killed or "
		        "power lost); its counters are those of its last checkpoint (found ' || ?2 "
		        "|| "
		        "')' WHERE id=?1 AND status='running'",
		        ids[i], NULL, NULL, err, errlen) < 0)
			return -1;
		(*reaped)++;
	}
	return 0;
}

/* ---- retention ------------------------------------------------------------ */

int store_prune(struct store *s, double before, long limit, long *deleted, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc;

	*deleted = 0;
	if (store_flush(s, err, errlen) < 0 || exec(s, "BEGIN IMMEDIATE", err, errlen) < 0)
		return -1;
	if (exec(s,
	         "CREATE TEMP TABLE IF NOT EXISTS prune_ids (id INTEGER PRIMARY KEY, run_id "
	         "INTEGER); DELETE FROM prune_ids;",
	         err, errlen) < 0)
		goto fail;
	if (sqlite3_prepare_v2(s->db,
	                       "INSERT INTO prune_ids SELECT id, run_id FROM flows WHERE ts_start "
	                       "< ?1 ORDER BY ts_start LIMIT ?2",
	                       -1, &st, NULL) != SQLITE_OK) {
		db_err(s, err, errlen, "database: pruning");
		goto fail;
	}
	sqlite3_bind_double(st, 1, before);
	sqlite3_bind_int64(st, 2, limit);
	rc = sqlite3_step(st);
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		db_err(s, err, errlen, "database: pruning");
		goto fail;
	}
	*deleted = (long)sqlite3_changes(s->db);
	if (exec(s,
	         "UPDATE runs SET pruned = pruned + (SELECT count(*) FROM prune_ids p WHERE "
	         "p.run_id = runs.id) WHERE id IN (SELECT run_id FROM prune_ids); DELETE FROM "
	         "flows WHERE id IN (SELECT id FROM prune_ids); DELETE FROM prune_ids;",
	         err, errlen) < 0)
		goto fail;
	return exec(s, "COMMIT", err, errlen);
fail:
	*deleted = 0;
	sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
	return -1;
}
