/* report.h: the audit as one document people act on, from the database.
 *
 * Reads a database opened with query_open() (read-only) and writes one
 * self-contained HTML file (inline CSS and SVG, no script, no external
 * resource; light and dark; printable on A4) or Markdown for a ticket:
 * what was audited and what was lost, the port matrix rule by rule (seen
 * clean, anomalous, never seen), the findings worst first with flow uids as
 * evidence, what could not be checked and how to fix it, flows over time by
 * verdict and a map of the peers. Every value that came from the network or
 * the database is escaped for the output format. The query filters apply to
 * the flows (and, for --since/--until/--run, to the runs shown). */
#ifndef SMAUDIT_REPORT_H
#define SMAUDIT_REPORT_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "smaudit/query.h"

enum report_format { REPORT_HTML, REPORT_MD };

struct report_opts {
	struct query_filter filter; /* as for query; zero = everything */
	enum report_format format;
	const char *db_name; /* shown as the source of the report */
	const char *filters; /* the filters as the user gave them, shown; or NULL */
	time_t now;          /* when the report was made */
};

/* Write the report for db to out. Returns 0, or -1 with err (a database
 * failure while reading; what was written so far is incomplete). */
int report_write(struct sqlite3 *db, const struct report_opts *o, FILE *out, char *err,
                 size_t errlen);

#endif
