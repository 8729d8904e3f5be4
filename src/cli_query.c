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

#define PROG "smaudit query"

static const char usage_text[] =
    "usage: smaudit query anomalies|coverage|flows|runs [options]\n"
    "  anomalies   non-expected flows grouped by verdict, direction, peer, port,\n"
    "              proto and app (--flows: one line per flow instead)\n"
    "  coverage    every rule in force in the window: flows, expected, unchecked,\n"
    "              peers, bytes, and seen = yes | anomalous-only | never\n"
    "  flows       one line per flow\n"
    "  runs        one line per capture run\n"
    "options:\n"
    "  --db FILE           database (default $SMAUDIT_DB, else smaudit.db)\n" CLI_FILTER_HELP
    "  --limit N           at most N rows\n"
    "  --format F          table (default on a terminal; fits $COLUMNS or the terminal's\n"
    "                      width, times in UTC), csv (default otherwise), json;\n"
    "                      zeek: flows as Zeek's conn.log (query flows, anomalies --flows)\n"
    "  --flows             anomalies: list the flows instead of groups\n"
    "  --unchecked         anomalies: the expected flows that were not fully checked\n"
    "                      (unchecked = peer: the rule's role had no addresses; app: DPI\n"
    "                      did not confirm the application the rule restricts)\n"
    "  --fail-on-anomaly   anomalies: exit 1 when any is found\n"
    "  --explain           print the query plan instead of rows\n"
    "exit: 0 ok, 1 anomalies found (--fail-on-anomaly), 2 bad arguments or database,\n"
    "      3 failure while reading\n";

enum { OPT_DB = 256, OPT_FORMAT, OPT_FLOWS, OPT_FAIL, OPT_EXPLAIN, OPT_UNCHECKED };

static const struct option long_opts[] = {
    CLI_FILTER_OPTIONS,
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"flows", no_argument, NULL, OPT_FLOWS},
    {"fail-on-anomaly", no_argument, NULL, OPT_FAIL},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"unchecked", no_argument, NULL, OPT_UNCHECKED},
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

/* Which filters each question accepts (runs only knows time, run, limit). */
static int filter_applies(enum query_kind kind, int opt)
{
	if (kind != QUERY_RUNS)
		return 1;
	return opt == CLI_OPT_SINCE || opt == CLI_OPT_UNTIL || opt == CLI_OPT_RUN ||
	       opt == CLI_OPT_LIMIT;
}

int cli_query(int argc, char **argv)
{
	struct query_filter f;
	enum query_format fmt = isatty(STDOUT_FILENO) ? QUERY_FMT_TABLE : QUERY_FMT_CSV;
	enum query_kind kind;
	const char *db_path = getenv("SMAUDIT_DB");
	const char *cmd = NULL;
	int flows = 0, fail_on = 0, explain = 0, c;
	int seen_opt[CLI_OPT_LIMIT + 1] = {0};
	char err[512];
	struct sqlite3 *db;
	int64_t rows;

	memset(&f, 0, sizeof(f));
	if (!db_path || !*db_path)
		db_path = "smaudit.db";
	optind = 0; /* glibc: full re-initialisation, argv[0] is "query" */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		const char *a = optarg;
		int r = cli_filter_option(&f, c, a, PROG);
		if (r < 0)
			return 2;
		if (r > 0) {
			seen_opt[c] = 1;
			continue;
		}
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_DB:
			if (!*a)
				return fail("--db", a, "empty file name");
			db_path = a;
			break;
		case OPT_FORMAT:
			if (!strcmp(a, "table"))
				fmt = QUERY_FMT_TABLE;
			else if (!strcmp(a, "csv"))
				fmt = QUERY_FMT_CSV;
			else if (!strcmp(a, "json"))
				fmt = QUERY_FMT_JSON;
			else if (!strcmp(a, "zeek"))
				fmt = QUERY_FMT_ZEEK;
			else
				return fail("--format", a, "not a format (table, csv, json, zeek)");
			break;
		case OPT_FLOWS:
			flows = 1;
			break;
		case OPT_FAIL:
			fail_on = 1;
			break;
		case OPT_EXPLAIN:
			explain = 1;
			break;
		case OPT_UNCHECKED:
			f.unchecked = 1;
			break;
		case ':':
			errmsg("%s needs a value", argv[optind - 1]);
			return 2;
		default:
			errmsg("unknown option '%s' (see --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind >= argc) {
		errmsg("which question? anomalies, coverage, flows or runs");
		return 2;
	}
	cmd = argv[optind++];
	if (optind < argc) {
		errmsg("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (!strcmp(cmd, "anomalies"))
		kind = flows ? QUERY_ANOMALY_FLOWS : QUERY_ANOMALIES;
	else if (!strcmp(cmd, "coverage"))
		kind = QUERY_COVERAGE;
	else if (!strcmp(cmd, "flows"))
		kind = QUERY_FLOWS;
	else if (!strcmp(cmd, "runs"))
		kind = QUERY_RUNS;
	else {
		errmsg("unknown question '%.60s' (anomalies, coverage, flows, runs)", cmd);
		return 2;
	}
	if ((flows || fail_on || f.unchecked) && strcmp(cmd, "anomalies") != 0) {
		errmsg("%s applies to 'query anomalies' only", flows     ? "--flows"
		                                               : fail_on ? "--fail-on-anomaly"
		                                                         : "--unchecked");
		return 2;
	}
	if (fmt == QUERY_FMT_ZEEK && kind != QUERY_FLOWS && kind != QUERY_ANOMALY_FLOWS &&
	    !(kind == QUERY_ANOMALIES && flows)) {
		errmsg("--format zeek writes flows: use it with 'query flows' or 'query anomalies "
		       "--flows'");
		return 2;
	}
	for (int o = CLI_OPT_SINCE; o <= CLI_OPT_LIMIT; o++) {
		if (seen_opt[o] && !filter_applies(kind, o)) {
			for (const struct option *lo = long_opts; lo->name; lo++)
				if (lo->val == o)
					errmsg("--%s does not apply to 'query %s'", lo->name, cmd);
			return 2;
		}
	}
	if (cli_filter_check(&f, PROG) < 0)
		return 2;

	if (query_open(db_path, &db, err, sizeof(err)) < 0) {
		errmsg("%s", err);
		return 2;
	}
	if (cli_filter_resolve(db, &f, db_path, PROG) < 0) {
		query_close(db);
		return 2;
	}
	if (fmt == QUERY_FMT_TABLE)
		f.table_width = terminal_width();
	if (explain) {
		struct sqlite3_stmt *st = query_prepare(db, kind, &f, 1, err, sizeof(err));
		if (!st) {
			errmsg("%s", err);
			query_close(db);
			return 3;
		}
		while (sqlite3_step(st) == SQLITE_ROW)
			printf("%s\n", (const char *)sqlite3_column_text(st, 3));
		sqlite3_finalize(st);
		query_close(db);
		return 0;
	}
	rows = query_run(db, kind, &f, fmt, stdout, err, sizeof(err));
	query_close(db);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		errmsg("writing output: %s", strerror(errno));
		return 3;
	}
	if (rows < 0) {
		errmsg("%s", err);
		return 3;
	}
	return fail_on && rows > 0 ? 1 : 0;
}
