/* verdict.c: one finished flow judged against the matrix (see verdict.h).
 *
 * The flow is first reduced to what the table talks about: a direction
 * (in: a remote party opened the host's listener; out: the host opened a
 * remote listener), the listener's port and transport, and the peer. Then,
 * in order: a rule for that port and direction whose role the peer holds
 * (expected), one whose role it does not hold (unexpected-peer), a rule for
 * the port the other way round (unexpected-direction), no rule at all
 * (unexpected-port). An expected flow whose payload DPI recognised as a
 * protocol the rule does not allow becomes protocol-mismatch.
 *
 * Among rules sharing port and direction, a rule whose role the peer holds
 * wins over a rule for anyone, which wins over a rule whose role has no
 * addresses configured (the peer cannot be checked). No allocation; the
 * reason is written into the caller's result. */
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "smaudit/verdict.h"

#define VERDICT_MAX_CAND 16

/* The flow as the table sees it. */
struct view {
	int dir;                    /* RULE_IN or RULE_OUT */
	const struct sm_addr *peer; /* remote party */
	const struct sm_addr *host; /* monitored end */
	uint16_t port;              /* listener port */
	uint8_t proto;
};

/* Append printf text to buf at *off (bounded). */
static void app(char *buf, size_t len, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, len - *off, fmt, ap);
	va_end(ap);
	if (n > 0)
		*off = *off + (size_t)n < len ? *off + (size_t)n : len;
}

/* Print "addr:port" or "[v6]:port" into buf. */
static const char *addr_port(const struct sm_addr *a, uint16_t port, char *buf, size_t len)
{
	char s[ADDR_STRLEN];

	addr_str(a, s, sizeof(s));
	snprintf(buf, len, a->family == 6 ? "[%s]:%u" : "%s:%u", s, port);
	return buf;
}

/* Describe who connected to whom, in words. */
static void describe(const struct flow_record *rec, const struct view *v, char *buf, size_t len,
                     size_t *off)
{
	char o[ADDR_STRLEN], r[ADDR_STRLEN], ap[ADDR_STRLEN + 10];
	const char *pn = flow_proto_str(rec->proto);

	addr_str(&rec->orig, o, sizeof(o));
	addr_str(&rec->resp, r, sizeof(r));
	if (rec->direction == DIR_LOCAL)
		app(buf, len, off, "both ends are monitored hosts, judged as inbound to %s: ", r);
	if (rec->proto == IPPROTO_ICMP || rec->proto == IPPROTO_ICMPV6) {
		app(buf, len, off, "%s sent %s type %u code %u to %s", o, pn, rec->orig_port,
		    rec->resp_port, r);
		return;
	}
	if (!pn) {
		app(buf, len, off, "%s sent IP protocol %u to %s", o, rec->proto, r);
		return;
	}
	if (v->dir == RULE_IN) {
		addr_port(&rec->resp, rec->resp_port, ap, sizeof(ap));
		app(buf, len, off, "%s connected in to %s/%s", o, ap, pn);
	} else {
		addr_port(&rec->resp, rec->resp_port, ap, sizeof(ap));
		app(buf, len, off, "%s connected out to %s/%s", o, ap, pn);
	}
}

/* "uccx (127.0.0.21)" or "uccx (a, b, +3 more)". */
static void role_desc(const struct rules_matrix *m, const char *role, char *buf, size_t len,
                      size_t *off)
{
	const struct sm_cidr *c;
	size_t n = rules_role_addrs(m, role, &c);
	char s[ADDR_STRLEN + 4];

	app(buf, len, off, "role %s (", role);
	for (size_t i = 0; i < n && i < 2; i++) {
		if (c[i].prefix == (c[i].addr.family == 4 ? 32 : 128))
			addr_str(&c[i].addr, s, sizeof(s));
		else
			cidr_str(&c[i], s, sizeof(s));
		app(buf, len, off, "%s%s", i ? ", " : "", s);
	}
	if (n > 2)
		app(buf, len, off, ", +%zu more", n - 2);
	app(buf, len, off, ")");
}

/* "a,b,c" for a rule's allowed protocols. */
static void apps_desc(const struct rule *r, char *buf, size_t len, size_t *off)
{
	if (r->napps == 0) {
		app(buf, len, off, "any protocol");
		if (r->nnot_apps)
			app(buf, len, off, " except ");
		for (int i = 0; i < r->nnot_apps; i++)
			app(buf, len, off, "%s%s", i ? "," : "", r->not_apps[i]);
		return;
	}
	for (int i = 0; i < r->napps; i++)
		app(buf, len, off, "%s%s", i ? "," : "", r->apps[i]);
}

/* Put text and an optional suffix into out->reason, trimming text (not the
 * suffix) when both do not fit. */
static void set_reason(struct verdict_result *out, const char *text, const char *suffix)
{
	size_t cap = sizeof(out->reason), sl = suffix ? strlen(suffix) : 0;
	size_t tl = strlen(text);

	if (tl + sl < cap) {
		snprintf(out->reason, cap, "%s%s", text, suffix ? suffix : "");
		return;
	}
	tl = cap - 1 - sl - 3;
	snprintf(out->reason, cap, "%.*s...%s", (int)tl, text, suffix ? suffix : "");
}

void verdict_eval(const struct rules_matrix *m, const struct flow_record *rec,
                  struct verdict_result *out)
{
	const struct rule *cand[VERDICT_MAX_CAND], *other = NULL;
	const struct rule *hit = NULL, *any_hit = NULL, *unchecked = NULL;
	size_t ncand = 0, off = 0;
	struct view v;
	char text[1024];
	const char *suffix = rec->direction_inferred
	                         ? "; direction inferred: the capture missed the connection's start"
	                         : NULL;

	memset(out, 0, sizeof(*out));
	if (rec->direction == DIR_NONE) {
		out->kind = VERDICT_NONE;
		snprintf(out->reason, sizeof(out->reason), "touches no monitored host");
		return;
	}
	v.proto = rec->proto;
	v.port = rec->resp_port;
	if (rec->direction == DIR_OUT) {
		v.dir = RULE_OUT;
		v.peer = &rec->resp;
		v.host = &rec->orig;
	} else { /* DIR_IN, and DIR_LOCAL read as inbound to the responder */
		v.dir = RULE_IN;
		v.peer = &rec->orig;
		v.host = &rec->resp;
	}
	describe(rec, &v, text, sizeof(text), &off);

	if (rec->proto != IPPROTO_TCP && rec->proto != IPPROTO_UDP) {
		out->kind = VERDICT_UNEXPECTED_PORT;
		app(text, sizeof(text), &off, "; no rule lists %s",
		    flow_proto_str(rec->proto) ? flow_proto_str(rec->proto) : "this IP protocol");
		set_reason(out, text, suffix);
		return;
	}

	for (size_t i = 0; i < rules_count(m); i++) {
		const struct rule *r = rules_get(m, i);
		int rm;
		if (r->proto != v.proto || r->port != v.port)
			continue;
		if (r->dir != v.dir) {
			if (!other)
				other = r;
			continue;
		}
		if (ncand < VERDICT_MAX_CAND)
			cand[ncand++] = r;
		rm = strcmp(r->role, "any") == 0 ? 2 : rules_role_match(m, r->role, v.peer);
		if (rm == 1 && !hit)
			hit = r;
		else if (rm == 2 && !any_hit)
			any_hit = r;
		else if (rm == -1 && !unchecked)
			unchecked = r;
	}
	if (!hit)
		hit = any_hit;

	if (hit || unchecked) {
		const struct rule *r = hit ? hit : unchecked;
		out->rule = r;
		out->kind = VERDICT_EXPECTED;
		if (rec->app.confidence == APP_CONF_DPI && !rules_app_allowed(r, rec->app.proto)) {
			out->kind = VERDICT_PROTOCOL_MISMATCH;
			app(text, sizeof(text), &off, "; rule %s (row %d) %s ", r->id, r->row,
			    r->napps ? "allows" : "accepts");
			apps_desc(r, text, sizeof(text), &off);
			app(text, sizeof(text), &off, "%s DPI detected %s", r->napps ? " but" : ";",
			    rec->app.proto);
		} else {
			app(text, sizeof(text), &off, "; allowed by rule %s (row %d)", r->id,
			    r->row);
		}
		out->peer_unchecked = !hit;
		if (!hit)
			app(text, sizeof(text), &off,
			    "; peer not checked: role %s has no addresses configured", r->role);
		set_reason(out, text, suffix);
		return;
	}

	if (ncand > 0) {
		const char *held = rules_peer_role(m, v.peer);
		out->kind = VERDICT_UNEXPECTED_PEER;
		out->rule = cand[0];
		for (size_t i = 0; i < ncand && i < 2; i++) {
			app(text, sizeof(text), &off, "; rule %s (row %d) allows this only %s ",
			    cand[i]->id, cand[i]->row, v.dir == RULE_IN ? "from" : "to");
			role_desc(m, cand[i]->role, text, sizeof(text), &off);
		}
		if (held)
			app(text, sizeof(text), &off, "; the peer holds role %s", held);
		else
			app(text, sizeof(text), &off, "; the peer holds no role");
		set_reason(out, text, suffix);
		return;
	}

	if (other) {
		out->kind = VERDICT_UNEXPECTED_DIRECTION;
		out->rule = other;
		if (other->dir == RULE_IN)
			app(text, sizeof(text), &off,
			    "; rule %s (row %d) allows %u/%s only inbound, from %s%s to the host",
			    other->id, other->row, other->port, flow_proto_str(other->proto),
			    strcmp(other->role, "any") == 0 ? "anyone" : "role ",
			    strcmp(other->role, "any") == 0 ? "" : other->role);
		else
			app(text, sizeof(text), &off,
			    "; rule %s (row %d) allows %u/%s only outbound, from the host to %s%s",
			    other->id, other->row, other->port, flow_proto_str(other->proto),
			    strcmp(other->role, "any") == 0 ? "anyone" : "role ",
			    strcmp(other->role, "any") == 0 ? "" : other->role);
		set_reason(out, text, suffix);
		return;
	}

	out->kind = VERDICT_UNEXPECTED_PORT;
	app(text, sizeof(text), &off, "; no rule lists %u/%s in either direction", v.port,
	    flow_proto_str(v.proto));
	set_reason(out, text, suffix);
}

/* How well a verdict explains a flow: lower is better. A rule that names
 * the peer's role explains it better than one open to anyone. */
static int fit(const struct verdict_result *v)
{
	switch (v->kind) {
	case VERDICT_EXPECTED:
		return v->peer_unchecked || !strcmp(v->rule->role, "any") ? 1 : 0;
	case VERDICT_PROTOCOL_MISMATCH:
		return 2;
	case VERDICT_UNEXPECTED_PEER:
		return 3;
	case VERDICT_UNEXPECTED_DIRECTION:
		return 4;
	default:
		return 5;
	}
}

enum flow_dir verdict_side(const struct rules_matrix *m, const struct flow_record *rec)
{
	struct flow_record t = *rec;
	struct verdict_result in, out;
	int fi, fo;

	t.direction = DIR_IN;
	verdict_eval(m, &t, &in);
	t.direction = DIR_OUT;
	verdict_eval(m, &t, &out);
	fi = fit(&in);
	fo = fit(&out);
	return fi < fo ? DIR_IN : fo < fi ? DIR_OUT : DIR_LOCAL;
}
