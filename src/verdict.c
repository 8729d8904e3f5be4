/* verdict.c: one finished flow judged against the matrix (see verdict.h).
 *
 * The flow is first reduced to what the table talks about: a direction
 * (in: a remote party opened the host's listener; out: the host opened a
 * remote listener), the listener's port and transport, and the peer. An
 * ICMP flow's "port" is the message type its originator sent (8 for a
 * ping), so `in icmp/8 from ROLE` allows ROLE to ping the host. Then,
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
#include <strings.h>

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

/* Put the n bytes at p at buf[o] as far as they fit (one byte kept for the
 * NUL); the count goes on either way, as vsnprintf's does. */
static void put(char *buf, size_t len, size_t *o, const char *p, size_t n)
{
	if (*o + 1 < len)
		memcpy(buf + *o, p, *o + n < len ? n : len - 1 - *o);
	*o += n;
}

/* Append v in decimal (with a '-' when neg) at *o. */
static void put_dec(char *buf, size_t len, size_t *o, unsigned long long v, int neg)
{
	char d[24];
	int n = sizeof(d);

	do
		d[--n] = (char)('0' + v % 10);
	while (v /= 10);
	if (neg)
		d[--n] = '-';
	put(buf, len, o, d + n, sizeof(d) - (size_t)n);
}

/* Append printf text to buf at *off (bounded), with vsnprintf's result:
 * the conversions reasons use (%s %u %d %zu %%) are done here, since a
 * reason is written for every stored flow and vsnprintf costs ~1,000
 * instructions a call; any other conversion goes to vsnprintf. */
__attribute__((format(printf, 4, 5))) static void appendf(char *buf, size_t len, size_t *off,
                                                          const char *fmt, ...)
{
	va_list ap, again;
	size_t o = *off;
	const char *f = fmt;

	if (*off >= len)
		return;
	va_start(ap, fmt);
	va_copy(again, ap);
	while (*f) {
		const char *pc = strchr(f, '%'), *t;
		int v;

		if (!pc) {
			put(buf, len, &o, f, strlen(f));
			break;
		}
		put(buf, len, &o, f, (size_t)(pc - f));
		f = pc + 2;
		switch (pc[1]) {
		case 's':
			t = va_arg(ap, const char *);
			t = t ? t : "(null)"; /* as glibc prints it */
			put(buf, len, &o, t, strlen(t));
			continue;
		case 'u':
			put_dec(buf, len, &o, va_arg(ap, unsigned), 0);
			continue;
		case 'd':
			v = va_arg(ap, int);
			put_dec(buf, len, &o, v < 0 ? 0ull - (unsigned long long)v : (unsigned)v,
			        v < 0);
			continue;
		case '%':
			put(buf, len, &o, "%", 1);
			continue;
		case 'z':
			if (pc[2] == 'u') {
				put_dec(buf, len, &o, va_arg(ap, size_t), 0);
				f++;
				continue;
			}
			break;
		}
		v = vsnprintf(buf + *off, len - *off, fmt, again); /* anything else */
		o = *off + (v > 0 ? (size_t)v : 0);
		break;
	}
	buf[o < len ? o : len - 1] = '\0';
	va_end(again);
	va_end(ap);
	*off = o < len ? o : len;
}

/* Print "addr:port" or "[v6]:port" into buf. */
static const char *addr_port(const struct sm_addr *a, uint16_t port, char *buf, size_t len)
{
	char s[ADDR_STRLEN];
	size_t off = 0;

	addr_str(a, s, sizeof(s));
	if (len)
		buf[0] = '\0';
	if (a->family == 6)
		appendf(buf, len, &off, "[%s]:%u", s, port);
	else
		appendf(buf, len, &off, "%s:%u", s, port);
	return buf;
}

/* ICMP and ICMPv6 messages by type. pair is the type of the answer, as
 * flow.c pairs them (Zeek's rule: such a flow's resp_port is that type, not
 * a code); -1 for one-way messages, whose resp_port is the code. */
static const struct icmp_msg {
	uint8_t proto, type;
	int16_t pair;
	const char *name;
} icmp_msgs[] = {
    {IPPROTO_ICMP, 0, 8, "echo reply"},
    {IPPROTO_ICMP, 3, -1, "destination unreachable"},
    {IPPROTO_ICMP, 4, -1, "source quench"},
    {IPPROTO_ICMP, 5, -1, "redirect"},
    {IPPROTO_ICMP, 8, 0, "echo request"},
    {IPPROTO_ICMP, 9, 10, "router advertisement"},
    {IPPROTO_ICMP, 10, 9, "router solicitation"},
    {IPPROTO_ICMP, 11, -1, "time exceeded"},
    {IPPROTO_ICMP, 12, -1, "parameter problem"},
    {IPPROTO_ICMP, 13, 14, "timestamp request"},
    {IPPROTO_ICMP, 14, 13, "timestamp reply"},
    {IPPROTO_ICMP, 15, 16, "information request"},
    {IPPROTO_ICMP, 16, 15, "information reply"},
    {IPPROTO_ICMP, 17, 18, "address mask request"},
    {IPPROTO_ICMP, 18, 17, "address mask reply"},
    {IPPROTO_ICMPV6, 1, -1, "destination unreachable"},
    {IPPROTO_ICMPV6, 2, -1, "packet too big"},
    {IPPROTO_ICMPV6, 3, -1, "time exceeded"},
    {IPPROTO_ICMPV6, 4, -1, "parameter problem"},
    {IPPROTO_ICMPV6, 128, 129, "echo request"},
    {IPPROTO_ICMPV6, 129, 128, "echo reply"},
    {IPPROTO_ICMPV6, 130, 131, "multicast listener query"},
    {IPPROTO_ICMPV6, 131, 130, "multicast listener report"},
    {IPPROTO_ICMPV6, 133, 134, "router solicitation"},
    {IPPROTO_ICMPV6, 134, 133, "router advertisement"},
    {IPPROTO_ICMPV6, 135, 136, "neighbor solicitation"},
    {IPPROTO_ICMPV6, 136, 135, "neighbor advertisement"},
    {IPPROTO_ICMPV6, 137, -1, "redirect"},
};

static int is_icmp(uint8_t proto)
{
	return proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6;
}

/* The table entry for an ICMP type, or NULL. */
static const struct icmp_msg *icmp_msg(uint8_t proto, uint16_t type)
{
	for (size_t i = 0; i < sizeof(icmp_msgs) / sizeof(icmp_msgs[0]); i++)
		if (icmp_msgs[i].proto == proto && icmp_msgs[i].type == type)
			return &icmp_msgs[i];
	return NULL;
}

const char *verdict_icmp_name(uint8_t proto, uint16_t type)
{
	const struct icmp_msg *m = icmp_msg(proto, type);

	return m ? m->name : NULL;
}

/* "icmp6 type 128 (echo request)"; with the code when the flow knows it
 * (one-way messages): "icmp type 3 code 1 (destination unreachable)". */
static void icmp_desc(uint8_t proto, uint16_t type, int code, char *buf, size_t len, size_t *off)
{
	const struct icmp_msg *m = icmp_msg(proto, type);

	appendf(buf, len, off, "%s type %u", flow_proto_str(proto), type);
	if (code >= 0 && !(m && m->pair >= 0))
		appendf(buf, len, off, " code %d", code);
	if (m)
		appendf(buf, len, off, " (%s)", m->name);
}

/* What a rule or a flow's listener is: "443/tcp", "icmp type 8 (echo request)". */
static void service_desc(uint8_t proto, uint16_t port, char *buf, size_t len, size_t *off)
{
	if (is_icmp(proto))
		icmp_desc(proto, port, -1, buf, len, off);
	else
		appendf(buf, len, off, "%u/%s", port, flow_proto_str(proto));
}

const char *verdict_flow_str(const struct flow_record *rec, char *buf, size_t len)
{
	char o[ADDR_STRLEN + 10], r[ADDR_STRLEN + 10];
	const char *pn = flow_proto_str(rec->proto);
	size_t off = 0;

	buf[0] = '\0';
	if (is_icmp(rec->proto) || !pn) {
		appendf(buf, len, &off, "%s -> %s ", addr_str(&rec->orig, o, sizeof(o)),
		        addr_str(&rec->resp, r, sizeof(r)));
		if (pn)
			icmp_desc(rec->proto, rec->orig_port, rec->resp_port, buf, len, &off);
		else
			appendf(buf, len, &off, "IP protocol %u", rec->proto);
		return buf;
	}
	appendf(buf, len, &off, "%s -> %s/%s", addr_port(&rec->orig, rec->orig_port, o, sizeof(o)),
	        addr_port(&rec->resp, rec->resp_port, r, sizeof(r)), pn);
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
		appendf(buf, len, off,
		        "both ends are monitored hosts, judged as inbound to %s: ", r);
	if (is_icmp(rec->proto)) {
		appendf(buf, len, off, "%s sent ", o);
		icmp_desc(rec->proto, rec->orig_port, rec->resp_port, buf, len, off);
		appendf(buf, len, off, " to %s", r);
		return;
	}
	if (!pn) {
		appendf(buf, len, off, "%s sent IP protocol %u to %s", o, rec->proto, r);
		return;
	}
	addr_port(&rec->resp, rec->resp_port, ap, sizeof(ap));
	appendf(buf, len, off, "%s connected %s to %s/%s", o, v->dir == RULE_IN ? "in" : "out", ap,
	        pn);
}

/* "uccx (127.0.0.21)" or "uccx (a, b, +3 more)". */
static void role_desc(const struct rules_matrix *m, const char *role, char *buf, size_t len,
                      size_t *off)
{
	const struct sm_cidr *c;
	size_t n = rules_role_addrs(m, role, &c);
	char s[ADDR_STRLEN + 4];

	appendf(buf, len, off, "role %s (", role);
	for (size_t i = 0; i < n && i < 2; i++) {
		if (c[i].prefix == (c[i].addr.family == 4 ? 32 : 128))
			addr_str(&c[i].addr, s, sizeof(s));
		else
			cidr_str(&c[i], s, sizeof(s));
		appendf(buf, len, off, "%s%s", i ? ", " : "", s);
	}
	if (n > 2)
		appendf(buf, len, off, ", +%zu more", n - 2);
	appendf(buf, len, off, ")");
}

/* "a,b,c" for a rule's allowed protocols. */
static void apps_desc(const struct rule *r, char *buf, size_t len, size_t *off)
{
	if (r->napps == 0) {
		appendf(buf, len, off, "any protocol");
		if (r->nnot_apps)
			appendf(buf, len, off, " except ");
		for (int i = 0; i < r->nnot_apps; i++)
			appendf(buf, len, off, "%s%s", i ? "," : "", r->not_apps[i]);
		return;
	}
	for (int i = 0; i < r->napps; i++)
		appendf(buf, len, off, "%s%s", i ? "," : "", r->apps[i]);
}

/* The reason's note on a guessed originator, into buf: what decided who the
 * client is, kept short (the note is never trimmed, the text before it is);
 * NULL when nothing was guessed. */
static const char *inferred_note(const struct flow_record *rec, char *buf, size_t len)
{
	size_t off = 0;

	if (!rec->direction_inferred)
		return NULL;
	switch (rec->orient) {
	case ORIENT_SYNACK:
		appendf(buf, len, &off,
		        "; direction inferred (start missed: began with the SYN-ACK)");
		break;
	case ORIENT_SERVER_PORT:
		if (rec->proto == IPPROTO_TCP)
			appendf(buf, len, &off,
			        "; direction inferred (start missed; %u is a service port)",
			        rec->resp_port);
		else
			appendf(buf, len, &off,
			        "; direction inferred (first packet from service port %u)",
			        rec->resp_port);
		break;
	case ORIENT_LOWER_PORT:
		appendf(buf, len, &off,
		        "; direction inferred (start missed; both service ports, %u the lower)",
		        rec->resp_port);
		break;
	case ORIENT_EPHEMERAL_PORT:
		appendf(
		    buf, len, &off,
		    "; direction inferred (start missed; %u is an ephemeral port, the client's)",
		    rec->orig_port);
		break;
	case ORIENT_GUESS:
		appendf(buf, len, &off,
		        "; direction inferred (start missed; first sender taken as client)");
		break;
	default:
		appendf(buf, len, &off,
		        "; direction inferred: the capture missed the connection's start");
		break;
	}
	return buf;
}

/* Put text and an optional suffix into out->reason, trimming text (not the
 * suffix) when both do not fit. */
static void set_reason(struct verdict_result *out, const char *text, const char *suffix)
{
	size_t cap = sizeof(out->reason), sl = suffix ? strlen(suffix) : 0;
	size_t tl = strlen(text);

	char *o = out->reason;

	if (tl + sl >= cap) { /* cut the text, keep the suffix whole */
		tl = cap - 1 - sl - 3;
		memcpy(o + tl, "...", 3);
		o += 3;
	}
	memcpy(out->reason, text, tl);
	memcpy(o + tl, suffix ? suffix : "", sl + 1);
}

/* The rules that share the flow's port and transport, sorted by how they
 * relate to it. */
struct match {
	const struct rule *cand[VERDICT_MAX_CAND]; /* same direction */
	size_t ncand;
	const struct rule *hit;       /* same direction, the peer holds the role (or any) */
	const struct rule *unchecked; /* same direction, role without addresses */
	const struct rule *other;     /* the other direction */
};

/* Reduce rec to what the table talks about (direction, listener, peer). */
static void view_of(const struct flow_record *rec, struct view *v)
{
	v->proto = rec->proto;
	v->port = is_icmp(rec->proto) ? rec->orig_port : rec->resp_port;
	if (rec->direction == DIR_OUT) {
		v->dir = RULE_OUT;
		v->peer = &rec->resp;
		v->host = &rec->orig;
	} else { /* DIR_IN, and DIR_LOCAL read as inbound to the responder */
		v->dir = RULE_IN;
		v->peer = &rec->orig;
		v->host = &rec->resp;
	}
}

/* Sort the rules for v's port into *mt (see the order in the file note). */
static void match_rules(const struct rules_matrix *m, const struct view *v, struct match *mt)
{
	const struct rule *any_hit = NULL;

	memset(mt, 0, sizeof(*mt));
	for (size_t i = 0; i < rules_count(m); i++) {
		const struct rule *r = rules_get(m, i);
		int rm;
		if (r->proto != v->proto || r->port != v->port)
			continue;
		if (r->dir != v->dir) {
			if (!mt->other)
				mt->other = r;
			continue;
		}
		if (mt->ncand < VERDICT_MAX_CAND)
			mt->cand[mt->ncand++] = r;
		rm = strcmp(r->role, "any") == 0 ? 2 : rules_role_match(m, r->role, v->peer);
		if (rm == 1 && !mt->hit)
			mt->hit = r;
		else if (rm == 2 && !any_hit)
			any_hit = r;
		else if (rm == -1 && !mt->unchecked)
			mt->unchecked = r;
	}
	if (!mt->hit)
		mt->hit = any_hit;
}

/* 1 unless rule r restricts the application and DPI did not confirm one of
 * its protocols from the payload (a port guess never does). */
static int app_confirmed(const struct rule *r, const struct flow_record *rec)
{
	if (r->napps == 0)
		return 1;
	return rec->app.confidence == APP_CONF_DPI && rec->app.proto[0] &&
	       strcasecmp(rec->app.proto, "Unknown") != 0;
}

const char *verdict_unchecked_str(const struct verdict_result *v)
{
	if (!v || v->kind != VERDICT_EXPECTED)
		return NULL;
	return unchecked_str((v->peer_unchecked ? UNCHECKED_PEER : 0u) |
	                     (v->app_unchecked ? UNCHECKED_APP : 0u));
}

/* Decide the verdict and its rule from the sorted rules; no words. */
static void decide(const struct flow_record *rec, const struct match *mt,
                   struct verdict_result *out)
{
	if (mt->hit || mt->unchecked) {
		out->rule = mt->hit ? mt->hit : mt->unchecked;
		out->peer_unchecked = !mt->hit;
		out->kind = rec->app.confidence == APP_CONF_DPI &&
		                    !rules_app_allowed(out->rule, rec->app.proto)
		                ? VERDICT_PROTOCOL_MISMATCH
		                : VERDICT_EXPECTED;
		out->app_unchecked =
		    out->kind == VERDICT_EXPECTED && !app_confirmed(out->rule, rec);
	} else if (mt->ncand > 0) {
		out->kind = VERDICT_UNEXPECTED_PEER;
		out->rule = mt->cand[0];
	} else if (mt->other) {
		out->kind = VERDICT_UNEXPECTED_DIRECTION;
		out->rule = mt->other;
	} else {
		out->kind = VERDICT_UNEXPECTED_PORT;
	}
}

/* Why an expected or protocol-mismatch flow is what it is. */
static void explain_allowed(const struct flow_record *rec, const struct verdict_result *out,
                            char *text, size_t len, size_t *off)
{
	const struct rule *r = out->rule;

	if (out->kind == VERDICT_PROTOCOL_MISMATCH) {
		appendf(text, len, off, "; rule %s (row %d) %s ", r->id, r->row,
		        r->napps ? "allows" : "accepts");
		apps_desc(r, text, len, off);
		appendf(text, len, off, "%s DPI detected %s", r->napps ? " but" : ";",
		        rec->app.proto);
	} else {
		appendf(text, len, off, "; allowed by rule %s (row %d)", r->id, r->row);
	}
	if (out->peer_unchecked)
		appendf(text, len, off, "; peer not checked: role %s has no addresses configured",
		        r->role);
	if (out->app_unchecked) {
		appendf(text, len, off, "; application not checked: DPI did not confirm ");
		apps_desc(r, text, len, off);
		appendf(text, len, off, " (%s)",
		        rec->app.confidence == APP_CONF_PORT ? "a guess from the port"
		                                             : "nothing detected");
	}
}

/* Why a flow is unexpected-peer: who the rules allow, and who the peer is. */
static void explain_peer(const struct rules_matrix *m, const struct view *v, const struct match *mt,
                         char *text, size_t len, size_t *off)
{
	const char *held = rules_peer_role(m, v->peer);

	for (size_t i = 0; i < mt->ncand && i < 2; i++) {
		appendf(text, len, off, "; rule %s (row %d) allows this only %s ", mt->cand[i]->id,
		        mt->cand[i]->row, v->dir == RULE_IN ? "from" : "to");
		role_desc(m, mt->cand[i]->role, text, len, off);
	}
	if (held)
		appendf(text, len, off, "; the peer holds role %s", held);
	else
		appendf(text, len, off, "; the peer holds no role");
}

/* Why a flow is unexpected-direction: the way the rule allows it. */
static void explain_direction(const struct rule *other, char *text, size_t len, size_t *off)
{
	int anyone = strcmp(other->role, "any") == 0;

	appendf(text, len, off, "; rule %s (row %d) allows ", other->id, other->row);
	service_desc(other->proto, other->port, text, len, off);
	if (other->dir == RULE_IN)
		appendf(text, len, off, " only inbound, from %s%s to the host",
		        anyone ? "anyone" : "role ", anyone ? "" : other->role);
	else
		appendf(text, len, off, " only outbound, from the host to %s%s",
		        anyone ? "anyone" : "role ", anyone ? "" : other->role);
}

void verdict_eval(const struct rules_matrix *m, const struct flow_record *rec,
                  struct verdict_result *out)
{
	struct match mt;
	struct view v;
	char text[1024];
	size_t off = 0;
	char note[192];
	const char *suffix = inferred_note(rec, note, sizeof(note));

	memset(out, 0, sizeof(*out));
	if (rec->direction == DIR_NONE) {
		out->kind = VERDICT_NONE;
		snprintf(out->reason, sizeof(out->reason), "touches no monitored host");
		return;
	}
	view_of(rec, &v);
	describe(rec, &v, text, sizeof(text), &off);
	if (rec->proto != IPPROTO_TCP && rec->proto != IPPROTO_UDP && !is_icmp(rec->proto)) {
		out->kind = VERDICT_UNEXPECTED_PORT;
		appendf(text, sizeof(text), &off, "; no rule lists %s",
		        flow_proto_str(rec->proto) ? flow_proto_str(rec->proto)
		                                   : "this IP protocol");
		set_reason(out, text, suffix);
		return;
	}
	match_rules(m, &v, &mt);
	decide(rec, &mt, out);
	switch (out->kind) {
	case VERDICT_EXPECTED:
	case VERDICT_PROTOCOL_MISMATCH:
		explain_allowed(rec, out, text, sizeof(text), &off);
		break;
	case VERDICT_UNEXPECTED_PEER:
		explain_peer(m, &v, &mt, text, sizeof(text), &off);
		break;
	case VERDICT_UNEXPECTED_DIRECTION:
		explain_direction(mt.other, text, sizeof(text), &off);
		break;
	default:
		appendf(text, sizeof(text), &off, "; no rule lists ");
		service_desc(v.proto, v.port, text, sizeof(text), &off);
		appendf(text, sizeof(text), &off, " in either direction");
		break;
	}
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
