/* cli_common.h: what the auditing subcommands (read, live) share: site
 * options, the matrix they build, the run they open. Private to src/. */
#ifndef SMAUDIT_CLI_COMMON_H
#define SMAUDIT_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/flow.h"
#include "smaudit/rules.h"
#include "smaudit/run.h"

/* Site settings from the command line, in the order rules_build wants.
 * The lists grow as options come (no limit but memory); they hold argv
 * strings, so they live as long as the process (cli_push frees them at exit). */
struct cli_site {
	const char *rules; /* NULL = shipped matrix */
	const char **sites;
	size_t nsites;
	const char **hosts;
	size_t nhosts;
	const char **roles;
	size_t nroles;
};

/* Options read and live share (getopt_long entries; values are the ids
 * cli_audit_option() takes: short letters and 1..5). A subcommand numbers
 * its own long options from CLI_OPT_LOCAL, so no id means two options. */
#define CLI_OPT_LOCAL 256
#define CLI_AUDIT_OPTIONS                                                                          \
	{"host", required_argument, NULL, 'H'}, {"db", required_argument, NULL, 'd'},              \
	    {"filter", required_argument, NULL, 'f'}, {"rules", required_argument, NULL, 'r'},     \
	    {"site", required_argument, NULL, 's'}, {"role", required_argument, NULL, 'R'},        \
	    {"max-flows", required_argument, NULL, 'm'},                                           \
	    {"tcp-timeout", required_argument, NULL, 1},                                           \
	    {"udp-timeout", required_argument, NULL, 2},                                           \
	    {"icmp-timeout", required_argument, NULL, 3}, {"no-dpi", no_argument, NULL, 4},        \
	    {"vxlan-port", required_argument, NULL, 5}, {"quiet", no_argument, NULL, 'q'},         \
	    {"eve", required_argument, NULL, 'E'},                                                 \
	{                                                                                          \
		"help", no_argument, NULL, 'h'                                                     \
	}

/* What the shared options set. */
struct cli_audit_opts {
	struct cli_site site;
	struct flow_cfg flow;
	struct decode_cfg decode;
	int no_dpi;
	const char *db, *filter;
	const char *eve; /* --eve FILE */
	int quiet;
};

/* Apply shared option opt (from CLI_AUDIT_OPTIONS) with value arg. Returns
 * 1 if handled, 0 if not a shared option, -1 on a bad value (a message on
 * stderr naming the option). */
int cli_audit_option(struct cli_audit_opts *o, int opt, const char *arg);

/* Append v to *list (grown as needed; freed at exit); -1 with a message on
 * stderr when out of memory. */
int cli_push(const char ***list, size_t *n, const char *v, const char *opt);

/* Parse a positive integer option value in [min, max]; -1 with a message on stderr. */
int cli_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out);

/* Build and freeze the matrix from s; NULL with the error printed on stderr. */
struct rules_matrix *cli_matrix(const struct cli_site *s);

/* Build the matrix from o's site options, check it names a monitored
 * host, and open a run with cfg (db, filter, flow and DPI options filled
 * in from o). NULL with the error on stderr and *rc the exit code: 2 bad
 * options, an --eve file that cannot be opened, or no host (*no_host = 1),
 * 3 the database or the pipeline failed. */
struct run *cli_run_open(const char *cmd, const struct cli_audit_opts *o, struct run_cfg *cfg,
                         int *rc, int *no_host);

/* Default database path: $SMAUDIT_DB or smaudit.db. */
const char *cli_default_db(void);

/* Send SIGINT and SIGTERM to handler without SA_RESTART, so a blocked read
 * or wait returns; with service set also SIGHUP, and SIGPIPE is ignored (a
 * closed stdout becomes a write error to report). */
void cli_catch_signals(void (*handler)(int), int service);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
