/* suggest.c: `site suggest`, a site file from the traffic (see suggest.h).
 *
 * One statement gathers the candidates: per role and peer, the rules of
 * the role it fits, its flows, first and last seen, and how many of its
 * flows used a port no rule lists (or spoke another protocol than the
 * rule's). The candidates (bounded by SUGGEST_MAX) are then judged role by
 * role in memory. Addresses are re-parsed and printed canonically, so a
 * stored value can never put anything but an address into the file. */
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "smaudit/addr.h"
#include "smaudit/query.h"
#include "smaudit/suggest.h"

/* ---- things you may reasonably want to change ---- */
#define SUGGEST_MAX    4096 /* candidates (role, peer) judged */
#define SUGGEST_REVIEW 20   /* weak candidates written per role (busiest first) */

struct cand {
	char role[16];
	char addr[ADDR_STRLEN];
	char rules[160]; /* rule ids, comma separated */
	int nrules;      /* distinct rules of the role it fits */
	long long flows, tainted;
	double t0, t1;
	int strong;
};

/* The candidates of every role, from the flows of the selected runs. */
static const char cand_head[] = "WITH sel AS (SELECT f.* FROM flows f WHERE 1";
static const char cand_tail[] =
    "), bad AS (SELECT peer_addr, count(*) AS n FROM sel"
    " WHERE verdict IN ('unexpected-port', 'protocol-mismatch') GROUP BY peer_addr)"
    " SELECT rr.peer, s.peer_addr, count(DISTINCT rr.rule_id), count(*), min(s.ts_start),"
    " max(s.ts_end), group_concat(DISTINCT rr.rule_id), ifnull(b.n, 0)"
    " FROM sel s JOIN run_rules rr ON rr.run_id = s.run_id AND rr.rule_id = s.rule_id"
    " LEFT JOIN bad b ON b.peer_addr = s.peer_addr"
    " WHERE rr.peer <> 'any' AND s.verdict IN ('expected', 'unexpected-peer')"
    " AND (s.direction = rr.direction OR (s.direction = 'local' AND rr.direction = 'in'))"
    " GROUP BY rr.peer, s.peer_addr"
    " ORDER BY rr.peer, count(DISTINCT rr.rule_id) DESC, count(*) DESC, s.peer_addr";

/* Read the candidates into c (at most SUGGEST_MAX); their count or -1. */
static int load_candidates(sqlite3 *db, const struct query_filter *f, struct cand *c, char *err,
                           size_t errlen)
{
	sqlite3_stmt *st =
	    query_prepare_sql(db, cand_head, QUERY_SCOPE_FLOWS, cand_tail, f, err, errlen);
	int n = 0, rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && n < SUGGEST_MAX) {
		struct sm_addr a;
		const char *role = (const char *)sqlite3_column_text(st, 0);
		const char *addr = (const char *)sqlite3_column_text(st, 1);
		const char *rules = (const char *)sqlite3_column_text(st, 6);
		if (!role || !addr || addr_parse(addr, &a) < 0 || strlen(role) >= sizeof(c->role))
			continue; /* not an address: never written into a site file */
		snprintf(c[n].role, sizeof(c[n].role), "%s", role);
		addr_str(&a, c[n].addr, sizeof(c[n].addr));
		snprintf(c[n].rules, sizeof(c[n].rules), "%s", rules ? rules : "");
		c[n].nrules = sqlite3_column_int(st, 2);
		c[n].flows = sqlite3_column_int64(st, 3);
		c[n].t0 = sqlite3_column_double(st, 4);
		c[n].t1 = sqlite3_column_double(st, 5);
		c[n].tainted = sqlite3_column_int64(st, 7);
		n++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "reading the database: %s", sqlite3_errmsg(db));
		n = -1;
	}
	sqlite3_finalize(st);
	return n;
}

/* Mark the strong candidates: clean, and two or more rules of the role or
 * the only clean candidate of the role. c is ordered by role. */
static void judge(struct cand *c, int n)
{
	for (int i = 0; i < n;) {
		int j = i, clean = 0;
		while (j < n && !strcmp(c[j].role, c[i].role))
			clean += !c[j++].tainted;
		for (int k = i; k < j; k++)
			c[k].strong = !c[k].tainted && (c[k].nrules >= 2 || clean == 1);
		i = j;
	}
}

/* "# evidence" text of one candidate. */
static void evidence(const struct cand *c, char *buf, size_t len)
{
	char a[40], b[40];

	query_fmt_time(c->t0, 0, a, sizeof(a));
	query_fmt_time(c->t1, 0, b, sizeof(b));
	snprintf(buf, len, "%d rule%s (%s), %lld flow%s, %s to %s UTC", c->nrules,
	         c->nrules == 1 ? "" : "s", c->rules, c->flows, c->flows == 1 ? "" : "s", a, b);
}

/* Why a candidate is only proposed for review. */
static const char *weak_reason(const struct cand *c)
{
	if (c->tainted)
		return "it also used ports no rule lists (or spoke another protocol than the "
		       "rule's)";
	return "it fits one rule of the role only and is not the role's only candidate";
}

/* The host lines: every monitored prefix of the selected runs, once. */
static int write_hosts(sqlite3 *db, const struct query_filter *f, FILE *out, char *err,
                       size_t errlen)
{
	sqlite3_stmt *st = query_prepare_sql(db, "SELECT DISTINCT r.hosts FROM runs r WHERE 1",
	                                     QUERY_SCOPE_RUNS, " ORDER BY r.id", f, err, errlen);
	char seen[64][ADDR_STRLEN + 4];
	int nseen = 0, runs = 0, rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		char list[2048], *tok, *save = NULL;
		runs++;
		snprintf(list, sizeof(list), "%s", (const char *)sqlite3_column_text(st, 0));
		for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			struct sm_cidr c;
			char txt[ADDR_STRLEN + 4];
			int dup = 0;
			if (cidr_parse(tok, &c) < 0)
				continue;
			cidr_str(&c, txt, sizeof(txt));
			for (int i = 0; i < nseen; i++)
				dup |= !strcmp(seen[i], txt);
			if (dup || nseen == 64)
				continue;
			memcpy(seen[nseen++], txt, sizeof(txt));
			fprintf(out, "host %s\n", txt);
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "reading the database: %s", sqlite3_errmsg(db));
		return -1;
	}
	if (!runs) {
		snprintf(err, errlen, "no run to learn from%s (smaudit query runs lists them)",
		         f->run_id ? " with that --run" : "");
		return -1;
	}
	return 0;
}

/* One role's section: its rules, then its candidates (strong ones as role
 * lines). Returns the role lines written. */
static int write_role(FILE *out, const char *role, const char *rules, const struct cand *c, int n)
{
	int lines = 0, weak = 0;
	char ev[320];

	fprintf(out, "\n# %s: rules %s\n", role, rules);
	for (int i = 0; i < n; i++) {
		if (strcmp(c[i].role, role) || !c[i].strong)
			continue;
		evidence(&c[i], ev, sizeof(ev));
		fprintf(out, "role %-9s %-15s # %s\n", role, c[i].addr, ev);
		lines++;
	}
	for (int i = 0; i < n; i++) {
		if (strcmp(c[i].role, role) || c[i].strong || ++weak > SUGGEST_REVIEW)
			continue;
		evidence(&c[i], ev, sizeof(ev));
		fprintf(out, "# REVIEW: weak evidence, %s\n# role %-9s %-15s # %s\n",
		        weak_reason(&c[i]), role, c[i].addr, ev);
	}
	if (weak > SUGGEST_REVIEW)
		fprintf(out,
		        "# ... and %d more weak candidates (smaudit query flows --rule ID lists "
		        "them)\n",
		        weak - SUGGEST_REVIEW);
	if (!lines && !weak)
		fprintf(out, "# no traffic fitted these rules: add the role's addresses by hand if "
		             "it exists\n");
	return lines;
}

/* The roles that rules of the selected runs name, each with its section. */
static int write_roles(sqlite3 *db, const struct query_filter *f, const struct cand *c, int n,
                       FILE *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = query_prepare_sql(
	    db,
	    "SELECT rr.peer, group_concat(rr.rule_id || ' (' || rr.direction || ' ' || rr.port ||"
	    " '/' || rr.proto || ')', ', ') FROM (SELECT DISTINCT rr.peer, rr.rule_id,"
	    " rr.direction, rr.port, rr.proto, rr.row FROM runs r JOIN run_rules rr ON"
	    " rr.run_id = r.id WHERE rr.peer <> 'any'",
	    QUERY_SCOPE_RUNS,
	    " ORDER BY ifnull(rr.row, 1000), rr.rule_id) rr GROUP BY rr.peer"
	    " ORDER BY min(ifnull(rr.row, 1000)), rr.peer",
	    f, err, errlen);
	int lines = 0, rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		const char *role = (const char *)sqlite3_column_text(st, 0);
		const char *rules = (const char *)sqlite3_column_text(st, 1);
		lines += write_role(out, role ? role : "?", rules ? rules : "", c, n);
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		snprintf(err, errlen, "reading the database: %s", sqlite3_errmsg(db));
		return -1;
	}
	return lines;
}

int suggest_site(sqlite3 *db, const struct suggest_opts *o, FILE *out, char *err, size_t errlen)
{
	struct query_filter f;
	struct cand *c = calloc(SUGGEST_MAX, sizeof(*c));
	char now[40];
	int n, lines = -1;

	if (!c) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(&f, 0, sizeof(f));
	f.run_id = o->run_id;
	n = load_candidates(db, &f, c, err, errlen);
	if (n < 0)
		goto out;
	judge(c, n);
	query_fmt_time((double)o->now, 0, now, sizeof(now));
	fprintf(out,
	        "# Site file suggested by smaudit %s (site suggest) from %s%s, %s UTC.\n"
	        "# A role line is proposed only where the evidence is strong: the address fits\n"
	        "# two or more rules of the role, or it is the role's only candidate that never\n"
	        "# used a port no rule lists. Other candidates are commented out and marked\n"
	        "# REVIEW: check them before you uncomment them. Moved ports and includes of\n"
	        "# the site files used for the capture are not repeated here.\n",
	        SMAUDIT_VERSION, o->db_name ? o->db_name : "the database",
	        o->run_id ? " (one run)" : "", now);
	if (o->run_id)
		fprintf(out, "# run %lld\n", (long long)o->run_id);
	if (write_hosts(db, &f, out, err, errlen) < 0)
		goto out;
	lines = write_roles(db, &f, c, n, out, err, errlen);
	if (n == SUGGEST_MAX && lines >= 0)
		fprintf(out, "\n# more than %d candidates: only the first were judged\n",
		        SUGGEST_MAX);
out:
	free(c);
	return lines;
}
