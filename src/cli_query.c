/* cli_query.c: `smaudit query anomalies|coverage|flows|runs [options]`.
 *
 * Owns option parsing and validation for the query subcommand, and the
 * exit codes; the engine (query.c) does the SQL and the output. Every value
 * is checked here before it reaches the engine, so a bad value is a one-line
 * error and exit 2, never an SQL error.
 *
 * Output format: table when stdout is a terminal, CSV otherwise (stable for
 * scripts); --format overrides. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/ioctl.h>

#include <sqlite3.h>

#include "cli_filter.h"
#include "smaudit/cli.h"
#include "smaudit/query.h"
#include "smaudit/record.h"

#define PROG "smaudit query"

static const char usage_text[] =
    "usage: smaudit query anomalies|coverage|flows|runs [options]\n"
    "  anomalies   non-expected flows grouped by verdict, direction, peer, port,\n"
    "              proto and app (--flows: one line per flow instead)\n"
    "  coverage    every rule in force in the window: flows, expected, peers, bytes,\n"
    "              seen = yes | anomalous-only | never, and unchecked flows\n"
    "  flows       one line per flow\n"
    "  runs        one line per capture run\n"
    "options:\n"
    "  --db FILE           database (default $SMAUDIT_DB, else smaudit.db); repeat it\n"
    "                      (up to 10) to ask several databases at once, read-only: run\n"
    "                      ids of the k-th (from 0) show as k*1000000 + id, flow ids as\n"
    "                      k*1000000000000 + id\n" CLI_FILTER_HELP
    "  --limit N           at most N rows\n"
    "  --format F          table (default on a terminal; fits $COLUMNS or the terminal's\n"
    "                      width, times in UTC), csv (default otherwise), json;\n"
    "                      for flows (query flows, anomalies --flows) also zeek (Zeek's\n"
    "                      conn.log), zeek-json (the same, Zeek's JSON writer) and eve\n"
    "                      (Suricata EVE JSON: a flow event per flow, an alert event per\n"
    "                      flow that is not expected)\n"
    "  --flows             anomalies: list the flows instead of groups\n"
    "  --unchecked         anomalies: the expected flows that were not fully checked\n"
    "                      (unchecked = peer: the rule's role had no addresses; app: DPI\n"
    "                      did not confirm the application the rule restricts)\n"
    "  --fail-on-anomaly   anomalies: exit 1 when any is found\n"
    "  --explain           print the query plan instead of rows\n"
    "exit: 0 ok, 1 anomalies found (--fail-on-anomaly), 2 bad arguments, 3 the database\n"
    "      failed (missing, unreadable, not an smaudit database) or output could not be written\n";

enum { OPT_DB = 256, OPT_FORMAT, OPT_FLOWS, OPT_FAIL, OPT_EXPLAIN, OPT_UNCHECKED };

static const struct option long_opts[] = {
    CLI_FILTER_OPTIONS,
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"flows", no_argument, NULL, OPT_FLOWS},
    {"fail-on-anomaly", no_argument, NULL, OPT_FAIL},
    {"unchecked", no_argument, NULL, OPT_UNCHECKED},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

#define errmsg(...) cli_errmsg(PROG, __VA_ARGS__)

/* One-line error on stderr; returns 2 (usage or input error). */
static int fail(const char *opt, const char *val, const char *what)
{
	errmsg("%s '%.60s'%s: %s", opt, val, strlen(val) > 60 ? "..." : "", what);
	return 2;
}

/* Which filters each question accepts (runs only knows time, run, limit). */
static int filter_applies(enum query_kind kind, int opt)
{
	if (kind != QUERY_RUNS)
		return 1;
	return opt == CLI_OPT_SINCE || opt == CLI_OPT_UNTIL || opt == CLI_OPT_RUN ||
	       opt == CLI_OPT_LIMIT;
}

/* Everything the command line asked for. */
struct query_opts {
	struct query_filter f;
	enum query_format fmt;
	enum query_kind kind;
	const char *db_paths[QUERY_MAX_DBS]; /* --db, repeatable */
	int ndb;
	const char *cmd;
	int flows, fail_on, explain;
	int seen_opt[CLI_OPT_LIMIT + 1]; /* filter options given */
};

/* Width a table must fit when stdout is a terminal: $COLUMNS if it is a
 * number, else the terminal's own (TIOCGWINSZ); 0 (no limit) otherwise, so
 * files and pipes get whole values. */
static size_t terminal_width(void)
{
	const char *env = getenv("COLUMNS");
	struct winsize ws;
	int64_t v;

	if (!isatty(STDOUT_FILENO))
		return 0;
	if (env && cli_parse_int(env, 20, 100000, &v) == 0)
		return (size_t)v;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col >= 20)
		return ws.ws_col;
	return 0;
}

/* The format named a; returns 0, or -1 if there is none. */
static int parse_format(const char *a, enum query_format *fmt)
{
	static const struct {
		const char *name;
		enum query_format fmt;
	} fmts[] = {{"table", QUERY_FMT_TABLE},         {"csv", QUERY_FMT_CSV},
	            {"json", QUERY_FMT_JSON},           {"zeek", QUERY_FMT_ZEEK},
	            {"zeek-json", QUERY_FMT_ZEEK_JSON}, {"eve", QUERY_FMT_EVE}};

	for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++)
		if (!strcmp(a, fmts[i].name)) {
			*fmt = fmts[i].fmt;
			return 0;
		}
	return -1;
}

/* Read the options into o. Returns -1 to go on, or an exit code (0 after --help). */
static int parse_args(int argc, char **argv, struct query_opts *o)
{
	int c;

	optind = 0; /* glibc: full re-initialisation, argv[0] is "query" */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		const char *a = optarg;
		int r = cli_filter_option(&o->f, c, a, PROG);
		if (r < 0)
			return 2;
		if (r > 0) {
			o->seen_opt[c] = 1;
			continue;
		}
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_DB:
			if (!*a)
				return fail("--db", a, "empty file name");
			if (o->ndb == QUERY_MAX_DBS) {
				errmsg("at most %d --db", QUERY_MAX_DBS);
				return 2;
			}
			o->db_paths[o->ndb++] = a;
			break;
		case OPT_FORMAT:
			if (parse_format(a, &o->fmt) < 0)
				return fail(
				    "--format", a,
				    "not a format (table, csv, json, zeek, zeek-json, eve)");
			break;
		case OPT_FLOWS:
			o->flows = 1;
			break;
		case OPT_FAIL:
			o->fail_on = 1;
			break;
		case OPT_EXPLAIN:
			o->explain = 1;
			break;
		case OPT_UNCHECKED:
			o->f.unchecked = 1;
			break;
		case ':':
			errmsg("%s needs a value", argv[optind - 1]);
			return 2;
		case '?':
			errmsg("unknown option '%s' (see --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		errmsg("which question? anomalies, coverage, flows or runs");
		return 2;
	}
	o->cmd = argv[optind++];
	if (optind < argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	return -1;
}

/* Decide the question and refuse combinations that make no sense.
 * Returns -1 to go on, or an exit code. */
static int check_args(struct query_opts *o)
{
	if (!strcmp(o->cmd, "anomalies"))
		o->kind = o->flows ? QUERY_ANOMALY_FLOWS : QUERY_ANOMALIES;
	else if (!strcmp(o->cmd, "coverage"))
		o->kind = QUERY_COVERAGE;
	else if (!strcmp(o->cmd, "flows"))
		o->kind = QUERY_FLOWS;
	else if (!strcmp(o->cmd, "runs"))
		o->kind = QUERY_RUNS;
	else {
		errmsg("unknown question '%.60s' (anomalies, coverage, flows, runs)", o->cmd);
		return 2;
	}
	if ((o->flows || o->fail_on || o->f.unchecked) && strcmp(o->cmd, "anomalies") != 0) {
		errmsg("%s applies to 'query anomalies' only", o->flows     ? "--flows"
		                                               : o->fail_on ? "--fail-on-anomaly"
		                                                            : "--unchecked");
		return 2;
	}
	if ((o->fmt == QUERY_FMT_ZEEK || o->fmt == QUERY_FMT_ZEEK_JSON ||
	     o->fmt == QUERY_FMT_EVE) &&
	    o->kind != QUERY_FLOWS && o->kind != QUERY_ANOMALY_FLOWS) {
		errmsg("--format %s writes flows: use it with 'query flows' or 'query anomalies "
		       "--flows'",
		       o->fmt == QUERY_FMT_EVE    ? "eve"
		       : o->fmt == QUERY_FMT_ZEEK ? "zeek"
		                                  : "zeek-json");
		return 2;
	}
	for (int opt = CLI_OPT_SINCE; opt <= CLI_OPT_LIMIT; opt++) {
		if (o->seen_opt[opt] && !filter_applies(o->kind, opt)) {
			for (const struct option *lo = long_opts; lo->name; lo++)
				if (lo->val == opt)
					errmsg("--%s does not apply to 'query %s'", lo->name,
					       o->cmd);
			return 2;
		}
	}
	if (cli_filter_check(&o->f, PROG) < 0)
		return 2;
	return -1;
}

/* Print the query plan of the question on db. Returns an exit code. */
static int print_plan(struct sqlite3 *db, const struct query_opts *o)
{
	char err[512];
	struct sqlite3_stmt *st = query_prepare(db, o->kind, &o->f, 1, err, sizeof(err));

	if (!st) {
		errmsg("%s", err);
		return 3;
	}
	while (sqlite3_step(st) == SQLITE_ROW)
		printf("%s\n", (const char *)sqlite3_column_text(st, 3));
	sqlite3_finalize(st);
	return 0;
}

/* Open the database, answer, and turn the outcome into an exit code. */
static int run_query(struct query_opts *o)
{
	char err[512];
	struct sqlite3 *db;
	int64_t rows;
	int rc;

	rc = query_open_many(o->db_paths, o->ndb, &db, err, sizeof(err));
	if (rc < 0) {
		errmsg("%s", err);
		return rc == -2 ? 2
		                : 3; /* a bad list, or a database missing, unreadable, not ours */
	}
	if (cli_filter_resolve(db, &o->f, o->db_paths[0], PROG) < 0) {
		query_close(db);
		return 2;
	}
	if (o->fmt == QUERY_FMT_TABLE)
		o->f.table_width = terminal_width();
	if (o->explain) {
		rc = print_plan(db, o);
		query_close(db);
		return rc;
	}
	rows = query_run(db, o->kind, &o->f, o->fmt, stdout, err, sizeof(err));
	query_close(db);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		errmsg("writing output: %s", strerror(errno));
		return 3;
	}
	if (rows < 0) {
		errmsg("%s", err);
		return 3;
	}
	return o->fail_on && rows > 0 ? 1 : 0;
}

int cli_query(int argc, char **argv)
{
	struct query_opts o;
	int rc;

	memset(&o, 0, sizeof(o));
	o.fmt = isatty(STDOUT_FILENO) ? QUERY_FMT_TABLE : QUERY_FMT_CSV;
	if ((rc = parse_args(argc, argv, &o)) >= 0 || (rc = check_args(&o)) >= 0)
		return rc;
	if (!o.ndb) {
		o.db_paths[0] = getenv("SMAUDIT_DB");
		if (!o.db_paths[0] || !*o.db_paths[0])
			o.db_paths[0] = "smaudit.db";
		o.ndb = 1;
	}
	return run_query(&o);
}
