/* cli_filter.c: the flow filter options shared by `query` and `report`
 * (see cli_filter.h). Every value is checked here, so a bad one is a
 * one-line error, never an SQL error. */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sqlite3.h>

#include "cli_filter.h"
#include "smaudit/record.h"

void cli_errmsg(const char *prog, const char *fmt, ...)
{
	char buf[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	for (char *p = buf; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	fprintf(stderr, "%s: %s\n", prog, buf);
}

int cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
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

/* One-line error about option opt's value; returns -1. */
static int bad(const char *prog, const char *opt, const char *val, const char *what)
{
	cli_errmsg(prog, "%s '%.60s'%s: %s", opt, val, strlen(val) > 60 ? "..." : "", what);
	return -1;
}

/* "expected, unexpected-port, ..." from record.h's names, into buf. */
static const char *verdict_list(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int k = VERDICT_NONE + 1; k <= VERDICT_MAX && n < len; k++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", k > 1 ? ", " : "",
		                      verdict_str((enum verdict_kind)k));
	return buf;
}

/* --since / --until. */
static int time_option(struct query_filter *f, int opt, const char *a, const char *prog)
{
	char err[256];
	double t;

	if (query_parse_time(a, time(NULL), &t, err, sizeof(err)) < 0) {
		cli_errmsg(prog, "%s: %s", opt == CLI_OPT_SINCE ? "--since" : "--until", err);
		return -1;
	}
	if (opt == CLI_OPT_SINCE) {
		f->has_since = 1;
		f->since = t;
	} else {
		f->has_until = 1;
		f->until = t;
	}
	return 1;
}

int cli_filter_option(struct query_filter *f, int opt, const char *a, const char *prog)
{
	int64_t v;

	switch (opt) {
	case CLI_OPT_SINCE:
	case CLI_OPT_UNTIL:
		return time_option(f, opt, a, prog);
	case CLI_OPT_RUN:
		f->run_last = strcmp(a, "last") == 0;
		if (!f->run_last && cli_parse_int(a, 1, INT64_MAX, &v) < 0)
			return bad(prog, "--run", a, "not a run id (a positive integer, or last)");
		f->run_id = f->run_last ? 0 : v;
		return 1;
	case CLI_OPT_VERDICT:
		if (!query_verdict_valid(a)) {
			char names[160], what[192];
			snprintf(what, sizeof(what), "not a verdict (%s)",
			         verdict_list(names, sizeof(names)));
			return bad(prog, "--verdict", a, what);
		}
		f->verdict = a;
		return 1;
	case CLI_OPT_RULE:
		if (!*a)
			return bad(prog, "--rule", a, "empty rule id");
		f->rule_id = a;
		return 1;
	case CLI_OPT_PEER:
		if (cidr_parse(a, &f->peer) < 0)
			return bad(prog, "--peer", a, "not an IPv4/IPv6 address or ADDR/PREFIX");
		f->has_peer = 1;
		return 1;
	case CLI_OPT_PORT:
		if (cli_parse_int(a, 1, 65535, &v) < 0)
			return bad(prog, "--port", a, "not a port (1..65535)");
		f->port = (int)v;
		return 1;
	case CLI_OPT_PROTO: {
		static const char *const names[] = {"tcp", "udp", "icmp", "icmp6"};
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcasecmp(a, names[i])) {
				f->proto = names[i]; /* as stored */
				return 1;
			}
		return bad(prog, "--proto", a, "not a protocol (tcp, udp, icmp, icmp6)");
	}
	case CLI_OPT_APP:
		if (!*a)
			return bad(prog, "--app", a, "empty protocol name");
		f->app = a;
		return 1;
	case CLI_OPT_LIMIT:
		if (cli_parse_int(a, 1, INT64_MAX, &v) < 0)
			return bad(prog, "--limit", a, "not a row count (a positive integer)");
		f->limit = v;
		return 1;
	default:
		return 0;
	}
}

int cli_filter_check(const struct query_filter *f, const char *prog)
{
	if (f->has_since && f->has_until && f->since >= f->until) {
		cli_errmsg(prog, "--since must be before --until");
		return -1;
	}
	return 0;
}

int cli_filter_resolve(struct sqlite3 *db, struct query_filter *f, const char *path,
                       const char *prog)
{
	sqlite3_stmt *st;
	int rc = -1;

	if (!f->run_last)
		return 0;
	if (sqlite3_prepare_v2(db, "SELECT max(id) FROM runs", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
			f->run_id = sqlite3_column_int64(st, 0);
			rc = 0;
		}
		sqlite3_finalize(st);
	}
	if (rc < 0)
		cli_errmsg(prog, "--run last: %s has no runs", path);
	return rc;
}
