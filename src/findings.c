/* findings.c: the end-of-run findings (see findings.h).
 *
 * Data structure: a fixed array of CFG_FINDING_GROUPS groups searched
 * linearly: a run has few distinct non-expected (verdict, direction, peer,
 * port) combinations, and the table is touched only by the writer thread
 * once per non-expected flow. Printing sorts a copy, worst verdict first. */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "config.h"
#include "smaudit/findings.h"

struct group { /* non-expected flows sharing verdict, direction, peer, port */
	uint8_t verdict, dir, proto;
	uint16_t port;  /* responder port; ICMP: paired type or code */
	uint16_t oport; /* ICMP: type */
	struct sm_addr peer;
	uint64_t flows, bytes; /* bytes: application payload both ways (orig_bytes + resp_bytes) */
	char rule_id[48];
	char reason[256];
};

struct findings {
	struct group groups[CFG_FINDING_GROUPS];
	size_t ngroups;
	uint64_t dropped; /* flows in groups beyond the table */
};

struct findings *findings_new(void)
{
	return calloc(1, sizeof(struct findings));
}

void findings_free(struct findings *fd)
{
	free(fd);
}

void findings_add(struct findings *fd, const struct flow_record *r, const struct verdict_result *v)
{
	const struct sm_addr *peer = r->direction == DIR_OUT ? &r->resp : &r->orig;
	struct group *g;
	/* ICMP groups are told apart by message type; other protocols by port */
	uint16_t oport = r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6 ? r->orig_port : 0;

	if (v->kind == VERDICT_EXPECTED || v->kind == VERDICT_NONE)
		return;
	for (size_t i = 0; i < fd->ngroups; i++) {
		g = &fd->groups[i];
		if (g->verdict == v->kind && g->dir == r->direction && g->port == r->resp_port &&
		    g->oport == oport && g->proto == r->proto && !addr_cmp(&g->peer, peer)) {
			g->flows++;
			g->bytes += r->orig_bytes + r->resp_bytes;
			return;
		}
	}
	if (fd->ngroups == CFG_FINDING_GROUPS) {
		fd->dropped++;
		return;
	}
	g = &fd->groups[fd->ngroups++];
	memset(g, 0, sizeof(*g));
	g->verdict = (uint8_t)v->kind;
	g->dir = r->direction;
	g->proto = r->proto;
	g->port = r->resp_port;
	g->oport = oport;
	g->peer = *peer;
	g->flows = 1;
	g->bytes = r->orig_bytes + r->resp_bytes;
	snprintf(g->rule_id, sizeof(g->rule_id), "%s", v->rule ? v->rule->id : "-");
	snprintf(g->reason, sizeof(g->reason), "%s", v->reason);
}

/* A short name for an ICMP type, as a port column shows it. */
static const char *icmp_name(uint8_t proto, uint16_t type)
{
	static char buf[16];

	if (proto == IPPROTO_ICMP) {
		switch (type) {
		case 0:
			return "echo-reply";
		case 3:
			return "unreachable";
		case 8:
			return "echo";
		case 11:
			return "time-exceeded";
		}
	} else {
		switch (type) {
		case 1:
			return "unreachable";
		case 128:
			return "echo";
		case 129:
			return "echo-reply";
		case 135:
			return "neighbor-sol";
		}
	}
	snprintf(buf, sizeof(buf), "type-%u", type);
	return buf;
}

/* Order of the findings: the most specific first, as the count line reads. */
static int verdict_rank(uint8_t v)
{
	switch (v) {
	case VERDICT_PROTOCOL_MISMATCH:
		return 0;
	case VERDICT_UNEXPECTED_PEER:
		return 1;
	case VERDICT_UNEXPECTED_DIRECTION:
		return 2;
	default:
		return 3;
	}
}

static int group_cmp(const void *x, const void *y)
{
	const struct group *a = x, *b = y;

	if (a->verdict != b->verdict)
		return verdict_rank(a->verdict) < verdict_rank(b->verdict) ? -1 : 1;
	if (a->flows != b->flows)
		return a->flows > b->flows ? -1 : 1;
	if (a->port != b->port)
		return a->port < b->port ? -1 : 1;
	return addr_cmp(&a->peer, &b->peer);
}

void findings_print(const struct findings *fd, const uint64_t *verdicts, uint64_t peer_unchecked,
                    uint64_t app_unchecked, uint64_t stored, const char *db, int64_t run_id,
                    FILE *out)
{
	enum { SHOW = CFG_FINDINGS_SHOWN }; /* per verdict; the database has them all */
	uint64_t more_groups = 0, more_flows = 0;
	size_t shown = 0;
	static const enum verdict_kind order[] = {
	    VERDICT_EXPECTED, VERDICT_PROTOCOL_MISMATCH, VERDICT_UNEXPECTED_PEER,
	    VERDICT_UNEXPECTED_DIRECTION, VERDICT_UNEXPECTED_PORT};
	struct group *sorted;
	uint64_t total = stored;

	fprintf(out, "verdicts:");
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		fprintf(out, "  %s %llu", verdict_str(order[i]),
		        (unsigned long long)verdicts[order[i]]);
		if (order[i] == VERDICT_EXPECTED && peer_unchecked)
			fprintf(out,
			        " (%llu with the peer not checked: a role has no addresses, "
			        "see --role)",
			        (unsigned long long)peer_unchecked);
		if (order[i] == VERDICT_EXPECTED && app_unchecked)
			fprintf(out, " (%llu with the application not confirmed by DPI)",
			        (unsigned long long)app_unchecked);
	}
	fprintf(out, "\n");
	if (peer_unchecked || app_unchecked)
		fprintf(out,
		        "not checked: smaudit query anomalies --unchecked --db %s --run %lld lists "
		        "them\n",
		        db, (long long)run_id);
	if (!fd->ngroups) {
		fprintf(out, !total ? "no flows stored\n"
		             : peer_unchecked || app_unchecked
		                 ? "every stored flow fits the matrix, "
		                   "but not every one was checked\n"
		                 : "every stored flow fits the matrix\n");
		return;
	}
	sorted = malloc(sizeof(*sorted) * fd->ngroups);
	if (!sorted)
		return;
	memcpy(sorted, fd->groups, sizeof(*sorted) * fd->ngroups);
	qsort(sorted, fd->ngroups, sizeof(*sorted), group_cmp);
	/* "bytes" means what it means in the database and in query anomalies */
	fprintf(out, "\nper group: direction, peer, port, flows, bytes = application payload both "
	             "ways, rule\n");
	for (size_t i = 0; i < fd->ngroups; i++) {
		const struct group *g = &sorted[i];
		char peer[ADDR_STRLEN];
		const char *ps = flow_proto_str(g->proto);
		char port[24];
		if (i == 0 || g->verdict != sorted[i - 1].verdict) {
			fprintf(out, "\n%s:\n", verdict_str((enum verdict_kind)g->verdict));
			shown = 0;
		}
		if (shown++ >= SHOW) {
			more_groups++;
			more_flows += g->flows;
			if (i + 1 == fd->ngroups || sorted[i + 1].verdict != g->verdict) {
				fprintf(
				    out,
				    "  ... %llu more group%s (%llu flows): smaudit query anomalies "
				    "--db %s --run %lld --verdict %s\n",
				    (unsigned long long)more_groups, more_groups == 1 ? "" : "s",
				    (unsigned long long)more_flows, db, (long long)run_id,
				    verdict_str((enum verdict_kind)g->verdict));
				more_groups = more_flows = 0;
			}
			continue;
		}
		if (g->proto == IPPROTO_ICMP || g->proto == IPPROTO_ICMPV6)
			snprintf(port, sizeof(port), "%s/%s", icmp_name(g->proto, g->oport), ps);
		else
			snprintf(port, sizeof(port), "%u/%s", g->port, ps ? ps : "ip");
		fprintf(out, "  %-3s %-39s %11s %6llu flow%s %9llu bytes  %s\n",
		        flow_dir_str((enum flow_dir)g->dir), addr_str(&g->peer, peer, sizeof(peer)),
		        port, (unsigned long long)g->flows, g->flows == 1 ? " " : "s",
		        (unsigned long long)g->bytes, g->rule_id);
		fprintf(out, "      %s\n", g->reason);
	}
	if (fd->dropped)
		fprintf(out,
		        "  ... and %llu more flows in groups not tallied here: smaudit query "
		        "anomalies --db %s --run %lld\n",
		        (unsigned long long)fd->dropped, db, (long long)run_id);
	free(sorted);
}
