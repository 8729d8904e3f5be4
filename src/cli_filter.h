/* cli_filter.h: the flow filters that `query` and `report` share (--since,
 * --until, --run, --verdict, --rule, --peer, --port, --proto, --app,
 * --limit): their getopt_long entries, their checks, one-line errors.
 * Private to src/. */
#ifndef SMAUDIT_CLI_FILTER_H
#define SMAUDIT_CLI_FILTER_H

#include <stdint.h>

#include "smaudit/query.h"

/* Option ids, contiguous from CLI_OPT_SINCE to CLI_OPT_LIMIT. */
enum {
	CLI_OPT_SINCE = 300,
	CLI_OPT_UNTIL,
	CLI_OPT_RUN,
	CLI_OPT_VERDICT,
	CLI_OPT_RULE,
	CLI_OPT_PEER,
	CLI_OPT_PORT,
	CLI_OPT_PROTO,
	CLI_OPT_APP,
	CLI_OPT_LIMIT
};

#define CLI_FILTER_OPTIONS                                                                         \
	{"since", required_argument, NULL, CLI_OPT_SINCE},                                         \
	    {"until", required_argument, NULL, CLI_OPT_UNTIL},                                     \
	    {"run", required_argument, NULL, CLI_OPT_RUN},                                         \
	    {"verdict", required_argument, NULL, CLI_OPT_VERDICT},                                 \
	    {"rule", required_argument, NULL, CLI_OPT_RULE},                                       \
	    {"peer", required_argument, NULL, CLI_OPT_PEER},                                       \
	    {"port", required_argument, NULL, CLI_OPT_PORT},                                       \
	    {"proto", required_argument, NULL, CLI_OPT_PROTO},                                     \
	    {"app", required_argument, NULL, CLI_OPT_APP},                                         \
	{                                                                                          \
		"limit", required_argument, NULL, CLI_OPT_LIMIT                                    \
	}

/* The filters' lines of --help. */
#define CLI_FILTER_HELP                                                                            \
	"  --since T --until T flows that started in [since, until): ISO 8601 date or\n"           \
	"                      date-time (UTC unless Z/+HH:MM), or relative 30m, 24h, 7d\n"        \
	"  --run ID|last       one run (last: the newest)\n"                                       \
	"  --verdict V         expected, unexpected-port, unexpected-direction,\n"                 \
	"                      unexpected-peer, protocol-mismatch\n"                               \
	"  --rule ID           matched rule\n"                                                     \
	"  --peer ADDR|CIDR    remote end\n"                                                       \
	"  --port N            service (responder) port, 1..65535\n"                               \
	"  --proto P           tcp, udp, icmp or icmp6 (any case)\n"                               \
	"  --app NAME          application protocol (nDPI name, any case)\n"

/* Print "PROG: MESSAGE" as one line on stderr, control characters from user
 * values shown as '?' (no terminal escapes). */
__attribute__((format(printf, 2, 3))) void cli_errmsg(const char *prog, const char *fmt, ...);

/* Parse a decimal integer in [lo, hi] (no sign, spaces or suffix); 0 or -1. */
int cli_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* Apply filter option opt with value a to f. Returns 1 if handled, 0 if opt
 * is not a filter option, -1 on a bad value (one line on stderr, prog first). */
int cli_filter_option(struct query_filter *f, int opt, const char *a, const char *prog);

/* Check the filters together (since before until); 0, or -1 with a message. */
int cli_filter_check(const struct query_filter *f, const char *prog);

/* Once db (named path) is open: turn --run last into the newest run's id.
 * 0, or -1 with a message (the database has no run). */
int cli_filter_resolve(struct sqlite3 *db, struct query_filter *f, const char *path,
                       const char *prog);

#endif
