/* report_int.h: what the report's files share (report.c writes the
 * document and its tables, report_svg.c its pictures). Private to src/. */
#ifndef SMAUDIT_REPORT_INT_H
#define SMAUDIT_REPORT_INT_H

#include <sqlite3.h>
#include <stdio.h>

#include "smaudit/addr.h"
#include "smaudit/report.h"

#define REPORT_MAX_ROLE_ADDRS 64

/* One report being written. */
struct rep {
	FILE *out;
	int md; /* Markdown, else HTML */
	sqlite3 *db;
	const struct report_opts *o;
	char *err;
	size_t errlen;
	int failed; /* a statement failed: err says which */
	struct {
		char role[16];
		struct sm_cidr c;
	} roles[REPORT_MAX_ROLE_ADDRS]; /* role addresses of the latest run shown */
	size_t nroles;
	int roles_known; /* 0: no run shown recorded its roles */
	int new_runs;    /* runs has the roles and ndpi_version columns */
	int has_cid;     /* flows has community_id */
};

/* The five verdicts, worst first, with their CSS class suffix and words. */
struct verdict_info {
	const char *name;
	const char *words;
};
extern const struct verdict_info report_verdicts[5];

/* Write s literally (our own markup). */
void rp_put(struct rep *r, const char *s);

/* printf our own markup (never a value from the database: use rp_esc). */
__attribute__((format(printf, 2, 3))) void rp_printf(struct rep *r, const char *fmt, ...);

/* Write a value escaped for the format (NULL writes nothing). */
void rp_esc(struct rep *r, const char *s);

/* Prepare head + filters of scope + tail; NULL with r->err set and r->failed. */
sqlite3_stmt *rp_prepare(struct rep *r, const char *head, enum query_scope scope, const char *tail);

/* Finalize st after its last step rc; 0, or -1 with r->err when rc is not DONE. */
int rp_finish(struct rep *r, sqlite3_stmt *st, int rc);

/* Column text, "" for NULL. */
const char *rp_col(sqlite3_stmt *st, int i);

/* The role peer holds in the latest run shown, or NULL. */
const char *rp_role_of(const struct rep *r, const char *peer);

/* Flows over time, stacked by verdict (inline SVG; Markdown: a table). */
int report_timeline(struct rep *r);

/* Who talks to the host, by direction, role and worst verdict (inline SVG). */
int report_peer_map(struct rep *r);

#endif
