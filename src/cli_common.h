/* cli_common.h: what the auditing subcommands (read, live) share: site
 * options, the matrix they build, the database they open, the end-of-run
 * summary. Private to src/. */
#ifndef SMAUDIT_CLI_COMMON_H
#define SMAUDIT_CLI_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/audit.h"
#include "smaudit/rules.h"

#define CLI_MAX_LIST 64

/* Site settings from the command line, in the order rules_build wants. */
struct cli_site {
	const char *rules; /* NULL = shipped matrix */
	const char *sites[CLI_MAX_LIST];
	size_t nsites;
	const char *hosts[CLI_MAX_LIST];
	size_t nhosts;
	const char *roles[CLI_MAX_LIST];
	size_t nroles;
};

/* Append v to a list of at most CLI_MAX_LIST; -1 (with a message on stderr) when full. */
int cli_push(const char **list, size_t *n, const char *v, const char *opt);

/* Parse a positive integer option value in [min, max]; -1 with a message on stderr. */
int cli_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out);

/* Build and freeze the matrix from s; NULL with the error printed on stderr. */
struct rules_matrix *cli_matrix(const struct cli_site *s);

/* Default database path: $SMAUDIT_DB or smaudit.db. */
const char *cli_default_db(void);

/* Monitored hosts of m as "a/32,b/128" into buf. */
const char *cli_hosts_str(const struct rules_matrix *m, char *buf, size_t len);

/* Print the end-of-run summary (counts, time, rate) and findings to stderr/stdout. */
void cli_print_summary(const struct audit *a, const char *db, int64_t run_id, double secs,
                       const char *status);

/* Seconds on a monotonic clock. */
double cli_now(void);

#endif
