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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "smaudit/cli.h"
#include "smaudit/query.h"

#define PROG "smaudit query"

static const char usage_text[] =
    "usage: smaudit query anomalies|coverage|flows|runs [options]\n"
    "  anomalies   non-expected flows grouped by verdict, direction, peer, port,\n"
    "              proto and app (--flows: one line per flow instead)\n"
    "  coverage    every rule in force in the window: flows, peers, bytes, and\n"
    "              seen = yes | anomalous-only | never\n"
    "  flows       one line per flow\n"
    "  runs        one line per capture run\n"
    "options:\n"
    "  --db FILE           database (default $SMAUDIT_DB, else smaudit.db)\n"
    "  --since T --until T flows that started in [since, until): ISO 8601 date or\n"
    "                      date-time (UTC unless Z/+HH:MM), or relative 30m, 24h, 7d\n"
    "  --run ID            one run\n"
    "  --verdict V         expected, unexpected-port, unexpected-direction,\n"
    "                      unexpected-peer, protocol-mismatch\n"
    "  --rule ID           matched rule\n"
    "  --peer ADDR|CIDR    remote end\n"
    "  --port N            service (responder) port, 1..65535\n"
    "  --proto P           tcp, udp, icmp or icmp6\n"
    "  --app NAME          application protocol (nDPI name, any case)\n"
    "  --limit N           at most N rows\n"
    "  --format F          table (default on a terminal), csv (default otherwise), json;\n"
    "                      zeek: flows as Zeek's conn.log (query flows, anomalies --flows)\n"
    "  --flows             anomalies: list the flows instead of groups\n"
    "  --fail-on-anomaly   anomalies: exit 1 when any is found\n"
    "  --explain           print the query plan instead of rows\n"
    "exit: 0 ok, 1 anomalies found (--fail-on-anomaly), 2 bad arguments, 3 the database\n"
    "      failed (missing, unreadable, not an smaudit database) or output could not be written\n";

enum {
	OPT_DB = 256,
	OPT_SINCE,
	OPT_UNTIL,
	OPT_RUN,
	OPT_VERDICT,
	OPT_RULE,
	OPT_PEER,
	OPT_PORT,
	OPT_PROTO,
	OPT_APP,
	OPT_LIMIT,
	OPT_FORMAT,
	OPT_FLOWS,
	OPT_FAIL,
	OPT_EXPLAIN
};

static const struct option long_opts[] = {
    {"db", required_argument, NULL, OPT_DB},
    {"since", required_argument, NULL, OPT_SINCE},
    {"until", required_argument, NULL, OPT_UNTIL},
    {"run", required_argument, NULL, OPT_RUN},
    {"verdict", required_argument, NULL, OPT_VERDICT},
    {"rule", required_argument, NULL, OPT_RULE},
    {"peer", required_argument, NULL, OPT_PEER},
    {"port", required_argument, NULL, OPT_PORT},
    {"proto", required_argument, NULL, OPT_PROTO},
    {"app", required_argument, NULL, OPT_APP},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"flows", no_argument, NULL, OPT_FLOWS},
    {"fail-on-anomaly", no_argument, NULL, OPT_FAIL},
    {"explain", no_argument, NULL, OPT_EXPLAIN},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parse a decimal integer in [lo, hi] (no sign, no spaces, no suffix).
 * Returns 0, or -1 if s is not one. */
static int parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
	char *end;
	long long v;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

/* Print "smaudit query: MESSAGE" as one line on stderr, with control
 * characters from user values shown as '?' (no terminal escapes). */
__attribute__((format(printf, 1, 2))) static void errmsg(const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "%s: %s\n", PROG, buf);
}

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
	return opt == OPT_SINCE || opt == OPT_UNTIL || opt == OPT_RUN || opt == OPT_LIMIT;
}

int cli_query(int argc, char **argv)
{
	struct query_filter f;
	enum query_format fmt = isatty(STDOUT_FILENO) ? QUERY_FMT_TABLE : QUERY_FMT_CSV;
	enum query_kind kind;
	const char *db_path = getenv("SMAUDIT_DB");
	const char *cmd = NULL;
	int flows = 0, fail_on = 0, explain = 0, c;
	int seen_opt[OPT_EXPLAIN + 1] = {0};
	char err[512];
	struct sqlite3 *db;
	int64_t v, rows;

	memset(&f, 0, sizeof(f));
	if (!db_path || !*db_path)
		db_path = "smaudit.db";
	optind = 0; /* glibc: full re-initialisation, argv[0] is "query" */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		const char *a = optarg;
		if (c >= OPT_DB && c <= OPT_EXPLAIN)
			seen_opt[c] = 1;
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_DB:
			if (!*a)
				return fail("--db", a, "empty file name");
			db_path = a;
			break;
		case OPT_SINCE:
		case OPT_UNTIL: {
			double t;
			if (query_parse_time(a, time(NULL), &t, err, sizeof(err)) < 0) {
				errmsg("%s: %s", c == OPT_SINCE ? "--since" : "--until", err);
				return 2;
			}
			if (c == OPT_SINCE) {
				f.has_since = 1;
				f.since = t;
			} else {
				f.has_until = 1;
				f.until = t;
			}
			break;
		}
		case OPT_RUN:
			if (parse_int(a, 1, INT64_MAX, &v) < 0)
				return fail("--run", a, "not a run id (a positive integer)");
			f.run_id = v;
			break;
		case OPT_VERDICT:
			if (!query_verdict_valid(a))
				return fail(
				    "--verdict", a,
				    "not a verdict (expected, unexpected-port, "
				    "unexpected-direction, unexpected-peer, protocol-mismatch)");
			f.verdict = a;
			break;
		case OPT_RULE:
			if (!*a)
				return fail("--rule", a, "empty rule id");
			f.rule_id = a;
			break;
		case OPT_PEER:
			if (cidr_parse(a, &f.peer) < 0)
				return fail("--peer", a, "not an IPv4/IPv6 address or ADDR/PREFIX");
			f.has_peer = 1;
			break;
		case OPT_PORT:
			if (parse_int(a, 1, 65535, &v) < 0)
				return fail("--port", a, "not a port (1..65535)");
			f.port = (int)v;
			break;
		case OPT_PROTO:
			if (strcmp(a, "tcp") && strcmp(a, "udp") && strcmp(a, "icmp") &&
			    strcmp(a, "icmp6"))
				return fail("--proto", a, "not a protocol (tcp, udp, icmp, icmp6)");
			f.proto = a;
			break;
		case OPT_APP:
			if (!*a)
				return fail("--app", a, "empty protocol name");
			f.app = a;
			break;
		case OPT_LIMIT:
			if (parse_int(a, 1, INT64_MAX, &v) < 0)
				return fail("--limit", a, "not a row count (a positive integer)");
			f.limit = v;
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
	if ((flows || fail_on) && strcmp(cmd, "anomalies") != 0) {
		errmsg("%s applies to 'query anomalies' only",
		       flows ? "--flows" : "--fail-on-anomaly");
		return 2;
	}
	if (fmt == QUERY_FMT_ZEEK && kind != QUERY_FLOWS && kind != QUERY_ANOMALY_FLOWS &&
	    !(kind == QUERY_ANOMALIES && flows)) {
		errmsg("--format zeek writes flows: use it with 'query flows' or 'query anomalies "
		       "--flows'");
		return 2;
	}
	for (int o = OPT_SINCE; o <= OPT_LIMIT; o++) {
		if (seen_opt[o] && !filter_applies(kind, o)) {
			for (const struct option *lo = long_opts; lo->name; lo++)
				if (lo->val == o)
					errmsg("--%s does not apply to 'query %s'", lo->name, cmd);
			return 2;
		}
	}
	if (f.has_since && f.has_until && f.since >= f.until) {
		errmsg("--since must be before --until");
		return 2;
	}

	if (query_open(db_path, &db, err, sizeof(err)) < 0) {
		errmsg("%s", err);
		return 3; /* the database failed: missing, unreadable or not ours */
	}
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
