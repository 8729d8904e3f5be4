/* suggest.h: a site file proposed from what the monitored host did.
 *
 * Reads a database opened with query_open() (read-only). A flow is evidence
 * for a role when it matched, in the rule's own direction, a rule that
 * allows only that role (uccx: inbound 5222 or outbound 443; cuic: inbound
 * 1526; exchange: outbound 993, 587; mail: outbound 25, 465; xmpp: outbound
 * 5222; moved ports and site rules follow the rules in force), and DPI did
 * not find another protocol there. A candidate is proposed only where the
 * evidence is strong: it fits two or more rules of the role, or it is the
 * only candidate of the role that never used a port no rule lists. Every
 * other candidate is written commented out and marked REVIEW, so a rogue
 * peer is never whitelisted by default. Each line carries its evidence. */
#ifndef SMAUDIT_SUGGEST_H
#define SMAUDIT_SUGGEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

struct sqlite3;

struct suggest_opts {
	int64_t run_id;      /* 0 = every run in the database */
	const char *db_name; /* named in the header */
	time_t now;
};

/* Write the proposed site file for db to out. Returns the number of role
 * lines proposed (>= 0), or -1 with err (no run to learn from, or a
 * database failure). */
int suggest_site(struct sqlite3 *db, const struct suggest_opts *o, FILE *out, char *err,
                 size_t errlen);

#endif
