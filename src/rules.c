/* rules.c: the port matrix: rules and site files parsed into one matrix (see rules.h).
 *
 * One line-oriented language for rules files and site files:
 *
 *   rule ID in|out tcp|udp/PORT from|to ROLE [app LIST] [not-app LIST]
 *        [configurable] row N "the table's own description"
 *   (icmp/TYPE and icmp6/TYPE in place of tcp/PORT: the message type the
 *   peer sends, 'in', or the host sends, 'out'; 8 and 128 are pings)
 *   role-name NAME...          declare extra peer roles
 *   host ADDR[/PFX]...         monitored SocialMiner addresses
 *   role NAME ADDR[,ADDR...]   who holds a role (CIDR allowed)
 *   port RULE-ID N             move a configurable port
 *   include FILE               relative to the including file
 *
 * '#' starts a comment outside quotes. 'in' rules name their peer with
 * 'from', 'out' rules with 'to'. LIST is comma-separated nDPI names or 'any'.
 *
 * Data: growable arrays of rules, hosts and files, a fixed table of roles
 * each with a growable address list, and a pool of strings (file names) the
 * rules point into. A load records a mark (counts, ports, role sizes) and
 * rolls back to it on any error, so a failed load leaves nothing behind.
 * Ownership: the matrix owns everything it points to; rules_free frees it. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <netinet/in.h>
#include <sys/stat.h>

#include <openssl/sha.h>

#include "smaudit/record.h"
#include "smaudit/rules.h"

#ifndef SMAUDIT_DATADIR
#define SMAUDIT_DATADIR "/usr/local/share/smaudit"
#endif

/* ---- things you may reasonably want to change ---- */
#define RULES_MAX_ROLES  32
#define RULES_MAX_DEPTH  16            /* include nesting */
#define RULES_MAX_FILE   (1024 * 1024) /* bytes per rules or site file */
#define RULES_MAX_TOKENS 48

#define UTF8_BOM "\xef\xbb\xbf"

/* ---- types ---- */

struct role_entry {
	char name[16];
	struct sm_cidr *addrs;
	size_t n, cap;
	int from_cli; /* set by rules_set_role: site files no longer add to it */
};

struct rules_matrix {
	struct rule *rules;
	size_t nrules, caprules;
	struct sm_cidr *hosts;
	size_t nhosts, caphosts;
	struct rules_file *files;
	const char **files_real; /* realpath of each file, for include-once */
	size_t nfiles, capfiles, capfiles_real;
	struct role_entry roles[RULES_MAX_ROLES];
	size_t nroles;
	char **strs; /* pool of strings the matrix owns */
	size_t nstrs, capstrs;
	int frozen;
};

/* What a load may change, to undo it on error. */
struct rules_mark {
	size_t nrules, nhosts, nfiles, nroles, nstrs;
	size_t role_n[RULES_MAX_ROLES];
	uint16_t *ports; /* port of each rule that existed before the load */
};

/* One load in progress (a file and its includes). */
struct loader {
	struct rules_matrix *m;
	const char *stack[RULES_MAX_DEPTH]; /* display paths being loaded */
	const char *real[RULES_MAX_DEPTH];  /* and their real paths */
	int depth;
	char *err;
	size_t errlen;
};

struct token {
	char *s;
	int quoted;
};

static const char *const builtin_roles[] = {"uccx", "cuic", "mail", "exchange", "xmpp"};

/* Names DPI can report, set by rules_use_app_names (borrowed; NULL = not checked). */
static const char *const *app_vocab;
static size_t app_nvocab;

/* Service names people write where nDPI says something else. */
static const char *const app_aliases[][2] = {
    {"HTTPS", "TLS"},  {"SSL", "TLS"},        {"XMPP", "Jabber"}, {"BOSH", "HTTP"},
    {"IMAP4", "IMAP"}, {"SMTP-TLS", "SMTPS"}, {"Informix", "any"}};

/* ---- small helpers ---- */

/* Grow *arr (elements of size sz) so it holds at least need; 0 or -1. */
static int grow(void **arr, size_t *cap, size_t need, size_t sz)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * sz);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

/* SHA-256 of len bytes (libcrypto) as 64 lowercase hex digits and a NUL. */
static void sha256_hex(const void *data, size_t len, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char d[SHA256_DIGEST_LENGTH];

	SHA256(data, len, d);
	for (int i = 0; i < SHA256_DIGEST_LENGTH; i++) {
		hex[2 * i] = digits[d[i] >> 4];
		hex[2 * i + 1] = digits[d[i] & 15];
	}
	hex[64] = '\0';
}

/* Copy s into the matrix's string pool; NULL on allocation failure. */
static const char *pool_str(struct rules_matrix *m, const char *s)
{
	char *d;

	if (grow((void **)&m->strs, &m->capstrs, m->nstrs + 1, sizeof(*m->strs)) < 0)
		return NULL;
	d = strdup(s);
	if (!d)
		return NULL;
	m->strs[m->nstrs++] = d;
	return d;
}

/* Format "file:line: msg" into the loader's error buffer; returns -1. */
static int lerr(struct loader *ld, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line > 0)
		snprintf(ld->err, ld->errlen, "%s:%d: %s", file, line, msg);
	else
		snprintf(ld->err, ld->errlen, "%s: %s", file, msg);
	return -1;
}

static struct role_entry *role_find(struct rules_matrix *m, const char *name)
{
	for (size_t i = 0; i < m->nroles; i++)
		if (strcmp(m->roles[i].name, name) == 0)
			return &m->roles[i];
	return NULL;
}

static const struct role_entry *role_find_c(const struct rules_matrix *m, const char *name)
{
	return role_find((struct rules_matrix *)m, name);
}

/* "any, uccx, cuic, ..." into buf; without "any" when with_any is 0 (where
 * a role takes addresses, 'any' is not one). */
static const char *role_list(const struct rules_matrix *m, int with_any, char *buf, size_t len)
{
	size_t off = (size_t)snprintf(buf, len, "%s", with_any ? "any" : "");

	for (size_t i = 0; i < m->nroles && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s", off ? ", " : "",
		                        m->roles[i].name);
	return buf;
}

static struct rule *rule_find(struct rules_matrix *m, const char *id)
{
	for (size_t i = 0; i < m->nrules; i++)
		if (strcmp(m->rules[i].id, id) == 0)
			return &m->rules[i];
	return NULL;
}

/* 1 if s is a name made of letters, digits, '-', '_' and '.', shorter than max. */
static int valid_name(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n >= max)
		return 0;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			return 0;
	return 1;
}

/* Parse a decimal port 1..65535; 0 or -1. */
static int parse_port(const char *s, uint16_t *out)
{
	long v = 0;

	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v < 1 || v > 65535)
		return -1;
	*out = (uint16_t)v;
	return 0;
}

/* Parse an ICMP type 0..255; 0 or -1. */
static int parse_icmp_type(const char *s, uint16_t *out)
{
	uint16_t v;

	if (strcmp(s, "0") == 0) {
		*out = 0;
		return 0;
	}
	if (parse_port(s, &v) < 0 || v > 255)
		return -1;
	*out = v;
	return 0;
}

/* The transport named by the len bytes at s ("tcp", "udp", "icmp",
 * "icmp6") into *proto; 0 or -1. */
static int parse_transport(const char *s, size_t len, uint8_t *proto)
{
	static const uint8_t protos[] = {IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, IPPROTO_ICMPV6};

	for (size_t i = 0; i < sizeof(protos); i++) {
		const char *name = flow_proto_str(protos[i]);
		if (strlen(name) == len && strncmp(s, name, len) == 0) {
			*proto = protos[i];
			return 0;
		}
	}
	return -1;
}

/* Add one address to a role unless already there; 0 or -1 (no memory). */
static int role_add(struct role_entry *r, const struct sm_cidr *c)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->addrs[i].prefix == c->prefix && addr_cmp(&r->addrs[i].addr, &c->addr) == 0)
			return 0;
	if (grow((void **)&r->addrs, &r->cap, r->n + 1, sizeof(*r->addrs)) < 0)
		return -1;
	r->addrs[r->n++] = *c;
	return 0;
}

/* Add a monitored host unless already there; 0 or -1 (no memory). */
static int host_add(struct rules_matrix *m, const struct sm_cidr *c)
{
	for (size_t i = 0; i < m->nhosts; i++)
		if (m->hosts[i].prefix == c->prefix && addr_cmp(&m->hosts[i].addr, &c->addr) == 0)
			return 0;
	if (grow((void **)&m->hosts, &m->caphosts, m->nhosts + 1, sizeof(*m->hosts)) < 0)
		return -1;
	m->hosts[m->nhosts++] = *c;
	return 0;
}

/* ---- mark and roll back ---- */

/* Record what a load may change; 0 or -1 (no memory). */
static int mark_take(struct rules_matrix *m, struct rules_mark *k)
{
	memset(k, 0, sizeof(*k));
	k->nrules = m->nrules;
	k->nhosts = m->nhosts;
	k->nfiles = m->nfiles;
	k->nroles = m->nroles;
	k->nstrs = m->nstrs;
	for (size_t i = 0; i < m->nroles; i++)
		k->role_n[i] = m->roles[i].n;
	k->ports = malloc((m->nrules ? m->nrules : 1) * sizeof(*k->ports));
	if (!k->ports)
		return -1;
	for (size_t i = 0; i < m->nrules; i++)
		k->ports[i] = m->rules[i].port;
	return 0;
}

/* Undo everything done since k was taken, and release k. */
static void mark_rollback(struct rules_matrix *m, struct rules_mark *k)
{
	m->nrules = k->nrules;
	for (size_t i = 0; i < k->nrules; i++)
		m->rules[i].port = k->ports[i];
	m->nhosts = k->nhosts;
	m->nfiles = k->nfiles;
	for (size_t i = k->nroles; i < m->nroles; i++) {
		free(m->roles[i].addrs);
		memset(&m->roles[i], 0, sizeof(m->roles[i]));
	}
	m->nroles = k->nroles;
	for (size_t i = 0; i < k->nroles; i++)
		m->roles[i].n = k->role_n[i];
	while (m->nstrs > k->nstrs)
		free(m->strs[--m->nstrs]);
	free(k->ports);
	k->ports = NULL;
}

static void mark_release(struct rules_mark *k)
{
	free(k->ports);
	k->ports = NULL;
}

/* ---- tokenizer ---- */

/* Split line (modified in place) into tokens; '#' outside quotes ends it.
 * Returns the count, or -1 with *bad set to a message. */
static int tokenize(char *line, struct token *tok, int max, const char **bad)
{
	int n = 0;
	char *p = line;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r')
			p++;
		if (!*p || *p == '#')
			break;
		if (n == max) {
			*bad = "too many words on one line";
			return -1;
		}
		if (*p == '"') {
			char *end = strchr(p + 1, '"');
			if (!end) {
				*bad = "missing closing quote";
				return -1;
			}
			*end = '\0';
			tok[n].s = p + 1;
			tok[n].quoted = 1;
			n++;
			p = end + 1;
			if (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#') {
				*bad = "text glued to a closing quote";
				return -1;
			}
			continue;
		}
		tok[n].s = p;
		tok[n].quoted = 0;
		n++;
		while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '#') {
			if (*p == '"') {
				*bad = "quote in the middle of a word";
				return -1;
			}
			p++;
		}
		if (!*p)
			break;
		if (*p == '#') {
			*p = '\0';
			break;
		}
		*p++ = '\0';
	}
	return n;
}

/* ---- statements ---- */

static int load_file(struct loader *ld, const char *path, const char *from_file, int from_line);

/* Edit distance of a and b, case-insensitive, capped at 9. */
static int edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	int prev[32], cur[32];

	if (la >= 32 || lb >= 32)
		return 9;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = (int)j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = (int)i;
		for (size_t j = 1; j <= lb; j++) {
			int sub = prev[j - 1] + (tolower((unsigned char)a[i - 1]) !=
			                         tolower((unsigned char)b[j - 1]));
			int del = prev[j] + 1, ins = cur[j - 1] + 1;
			cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(int) * (lb + 1));
	}
	return prev[lb] > 9 ? 9 : prev[lb];
}

/* The name nDPI most likely means by an unknown name: an alias, else the
 * closest known name within a few edits; NULL if none is close. */
static const char *app_suggest(const char *name)
{
	const char *best = NULL;
	int bestd = (int)strlen(name) / 3 + 1;

	for (size_t i = 0; i < sizeof(app_aliases) / sizeof(app_aliases[0]); i++)
		if (strcasecmp(name, app_aliases[i][0]) == 0)
			return app_aliases[i][1];
	for (size_t i = 0; i < app_nvocab; i++) {
		int d = edit_distance(name, app_vocab[i]);
		if (d < bestd || (d == bestd && best && strlen(app_vocab[i]) < strlen(best))) {
			best = app_vocab[i];
			bestd = d;
		}
	}
	return best;
}

/* 0 if every dot-separated part of name is a name DPI can report (or no
 * list was given), else -1 with *part set to the first unknown part
 * (written into buf). */
static int app_check(const char *name, char *buf, size_t len, const char **part)
{
	const char *p = name;

	if (!app_vocab)
		return 0;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t n = dot ? (size_t)(dot - p) : strlen(p), i;
		for (i = 0; i < app_nvocab; i++)
			if (strlen(app_vocab[i]) == n && strncasecmp(app_vocab[i], p, n) == 0)
				break;
		if (i == app_nvocab) {
			snprintf(buf, len, "%.*s", (int)n, p);
			*part = buf;
			return -1;
		}
		if (!dot)
			break;
		p = dot + 1;
	}
	return 0;
}

/* Parse a comma-separated app list into names[]; 0 or -1 with err. */
static int parse_apps(struct loader *ld, const char *file, int line, const char *what,
                      const char *list, char names[RULE_MAX_APPS][24], int *n)
{
	char buf[512], part[32];
	char *save = NULL;
	const char *unknown;

	if (strlen(list) >= sizeof(buf))
		return lerr(ld, file, line, "%s list too long", what);
	strcpy(buf, list);
	if (strcmp(buf, "any") == 0 && strcmp(what, "app") == 0) {
		*n = 0;
		return 0;
	}
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (!valid_name(t, 24))
			return lerr(ld, file, line, "bad protocol name '%s' in %s list", t, what);
		if (app_check(t, part, sizeof(part), &unknown) < 0) {
			const char *hint = app_suggest(unknown);
			if (hint && strcmp(hint, "any") == 0)
				return lerr(
				    ld, file, line,
				    "unknown application protocol '%s' in %s list: nDPI has "
				    "no detector for it (write 'app any' and not-app for what "
				    "must not appear)",
				    unknown, what);
			if (hint)
				return lerr(
				    ld, file, line,
				    "unknown application protocol '%s' in %s list: nDPI has "
				    "no such name (did you mean %s?)",
				    unknown, what, hint);
			return lerr(
			    ld, file, line,
			    "unknown application protocol '%s' in %s list: nDPI has no such "
			    "name ('ndpiReader -h' lists them)",
			    unknown, what);
		}
		if (*n == RULE_MAX_APPS)
			return lerr(ld, file, line, "more than %d protocols in %s list",
			            RULE_MAX_APPS, what);
		snprintf(names[(*n)++], 24, "%s", t);
	}
	if (*n == 0)
		return lerr(ld, file, line, "empty %s list", what);
	return 0;
}

#define RULE_SYNTAX "rule needs: rule ID in|out tcp/PORT from|to ROLE ... \"description\""

/* The fixed head of a rule: ID in|out tcp|udp/PORT from|to ROLE (t[1..5]). */
static int rule_head(struct loader *ld, const char *file, int line, struct token *t, int n,
                     struct rule *r)
{
	struct rules_matrix *m = ld->m;
	const struct rule *dup;
	const char *slash;
	char known[256];

	for (int i = 1; i < n && i < 6; i++)
		if (t[i].quoted)
			return lerr(ld, file, line, RULE_SYNTAX);
	if (n < 6)
		return lerr(ld, file, line, RULE_SYNTAX);
	if (!valid_name(t[1].s, sizeof(r->id)))
		return lerr(ld, file, line, "bad rule id '%s' (letters, digits, '-', '_', '.')",
		            t[1].s);
	dup = rule_find(m, t[1].s);
	if (dup)
		return lerr(ld, file, line, "duplicate rule id '%s' (first defined at %s:%d)",
		            t[1].s, dup->file, dup->line);
	snprintf(r->id, sizeof(r->id), "%s", t[1].s);

	if (strcmp(t[2].s, "in") == 0)
		r->dir = RULE_IN;
	else if (strcmp(t[2].s, "out") == 0)
		r->dir = RULE_OUT;
	else
		return lerr(ld, file, line, "bad direction '%s' (expected in or out)", t[2].s);

	slash = strchr(t[3].s, '/');
	if (!slash)
		return lerr(ld, file, line,
		            "bad port '%s' (expected tcp/PORT, udp/PORT, icmp/TYPE or icmp6/TYPE)",
		            t[3].s);
	if (parse_transport(t[3].s, (size_t)(slash - t[3].s), &r->proto) < 0)
		return lerr(ld, file, line,
		            "bad transport in '%s' (expected tcp, udp, icmp or icmp6)", t[3].s);
	if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP) {
		if (parse_icmp_type(slash + 1, &r->port) < 0)
			return lerr(ld, file, line,
			            "bad ICMP type '%s' (expected 0-255: 8 is an echo request, "
			            "128 in ICMPv6)",
			            slash + 1);
	} else if (parse_port(slash + 1, &r->port) < 0) {
		return lerr(ld, file, line, "bad port '%s' (expected 1-65535)", slash + 1);
	}
	r->default_port = r->port;

	if (r->dir == RULE_IN && strcmp(t[4].s, "from") != 0)
		return lerr(ld, file, line, "'in' rules name their peer with 'from ROLE', not '%s'",
		            t[4].s);
	if (r->dir == RULE_OUT && strcmp(t[4].s, "to") != 0)
		return lerr(ld, file, line, "'out' rules name their peer with 'to ROLE', not '%s'",
		            t[4].s);
	if (strcmp(t[5].s, "any") != 0 && !role_find(m, t[5].s))
		return lerr(ld, file, line, "unknown role '%s' (known: %s)", t[5].s,
		            role_list(m, 1, known, sizeof(known)));
	snprintf(r->role, sizeof(r->role), "%s", t[5].s);
	return 0;
}

/* One clause of a rule after its head, at t[*i]: app LIST, not-app LIST,
 * configurable, row N or the quoted description (which ends the rule).
 * Advances *i past a clause's value; 0 or -1 with err. */
static int rule_clause(struct loader *ld, const char *file, int line, struct token *t, int n,
                       int *i, struct rule *r, int *have_row, int *have_desc)
{
	const struct token *k = &t[*i], *val = *i + 1 < n ? &t[*i + 1] : NULL;

	if (k->quoted) {
		if (*i != n - 1)
			return lerr(ld, file, line, "the quoted description must end the rule");
		if (strlen(k->s) >= sizeof(r->description))
			return lerr(ld, file, line, "description longer than %zu characters",
			            sizeof(r->description) - 1);
		snprintf(r->description, sizeof(r->description), "%s", k->s);
		*have_desc = 1;
		return 0;
	}
	if (strcmp(k->s, "configurable") == 0) {
		if (r->proto != IPPROTO_TCP && r->proto != IPPROTO_UDP)
			return lerr(
			    ld, file, line,
			    "rule %s: an ICMP type is not a port; it cannot be configurable",
			    r->id);
		r->configurable = 1;
		return 0;
	}
	if (strcmp(k->s, "app") == 0 || strcmp(k->s, "not-app") == 0) {
		int is_app = k->s[0] == 'a';
		if (!val || val->quoted)
			return lerr(ld, file, line, "'%s' needs a list of protocols", k->s);
		(*i)++;
		if (is_app)
			return parse_apps(ld, file, line, "app", val->s, r->apps, &r->napps);
		return parse_apps(ld, file, line, "not-app", val->s, r->not_apps, &r->nnot_apps);
	}
	if (strcmp(k->s, "row") == 0) {
		char *end;
		long v;
		if (!val || val->quoted)
			return lerr(ld, file, line, "'row' needs a number");
		v = strtol(val->s, &end, 10);
		if (*end || end == val->s || v < 0 || v > 999)
			return lerr(ld, file, line, "bad row '%s' (0-999; 0 = site rule)", val->s);
		r->row = (int)v;
		*have_row = 1;
		(*i)++;
		return 0;
	}
	return lerr(ld, file, line,
	            "unknown keyword '%s' in rule %s (expected app, not-app, "
	            "configurable, row or a quoted description)",
	            k->s, r->id);
}

/* rule ID in|out tcp/PORT from|to ROLE clauses... "description" */
static int st_rule(struct loader *ld, const char *file, int line, struct token *t, int n)
{
	struct rules_matrix *m = ld->m;
	struct rule r;
	int have_row = 0, have_desc = 0;

	memset(&r, 0, sizeof(r));
	if (rule_head(ld, file, line, t, n, &r) < 0)
		return -1;
	for (int i = 6; i < n; i++)
		if (rule_clause(ld, file, line, t, n, &i, &r, &have_row, &have_desc) < 0)
			return -1;
	if (!have_row)
		return lerr(ld, file, line, "rule %s: missing 'row N' (row 0 = not in the table)",
		            r.id);
	if (!have_desc)
		return lerr(ld, file, line, "rule %s: missing description in quotes", r.id);
	r.file = file;
	r.line = line;
	if (grow((void **)&m->rules, &m->caprules, m->nrules + 1, sizeof(*m->rules)) < 0)
		return lerr(ld, file, line, "out of memory");
	m->rules[m->nrules++] = r;
	return 0;
}

/* role-name NAME... */
static int st_role_name(struct loader *ld, const char *file, int line, struct token *t, int n)
{
	struct rules_matrix *m = ld->m;

	if (n < 2)
		return lerr(ld, file, line, "role-name needs at least one name");
	for (int i = 1; i < n; i++) {
		struct role_entry *r;
		if (t[i].quoted || !valid_name(t[i].s, sizeof(r->name)) || strchr(t[i].s, '.'))
			return lerr(ld, file, line, "bad role name '%s'", t[i].s);
		if (strcmp(t[i].s, "any") == 0 || role_find(m, t[i].s))
			return lerr(ld, file, line, "role '%s' already exists", t[i].s);
		if (m->nroles == RULES_MAX_ROLES)
			return lerr(ld, file, line, "more than %d roles", RULES_MAX_ROLES);
		r = &m->roles[m->nroles++];
		memset(r, 0, sizeof(*r));
		snprintf(r->name, sizeof(r->name), "%s", t[i].s);
	}
	return 0;
}

/* Parse "A,B C,D" tokens as a list of CIDRs, calling add for each. */
static int add_cidrs(struct loader *ld, const char *file, int line, struct token *t, int n,
                     struct role_entry *role)
{
	int count = 0;

	for (int i = 0; i < n; i++) {
		char buf[512];
		char *save = NULL;
		if (t[i].quoted || strlen(t[i].s) >= sizeof(buf))
			return lerr(ld, file, line, "bad address '%s'", t[i].s);
		strcpy(buf, t[i].s);
		for (char *a = strtok_r(buf, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
			struct sm_cidr c;
			int rc;
			if (cidr_parse(a, &c) < 0)
				return lerr(ld, file, line, "bad address '%s'", a);
			count++;
			if (role && role->from_cli)
				continue; /* the command line already set this role */
			rc = role ? role_add(role, &c) : host_add(ld->m, &c);
			if (rc < 0)
				return lerr(ld, file, line, "out of memory");
		}
	}
	if (count == 0)
		return lerr(ld, file, line, "no address given");
	return 0;
}

/* role NAME ADDR[,ADDR...] */
static int st_role(struct loader *ld, const char *file, int line, struct token *t, int n)
{
	struct role_entry *r;
	char known[256];

	if (n < 3 || t[1].quoted)
		return lerr(ld, file, line, "role needs: role NAME ADDR[,ADDR...]");
	if (strcmp(t[1].s, "any") == 0)
		return lerr(ld, file, line, "role 'any' matches every peer and takes no addresses");
	r = role_find(ld->m, t[1].s);
	if (!r)
		return lerr(ld, file, line, "unknown role '%s' (known: %s)", t[1].s,
		            role_list(ld->m, 0, known, sizeof(known)));
	return add_cidrs(ld, file, line, t + 2, n - 2, r);
}

/* port RULE-ID N */
static int st_port(struct loader *ld, const char *file, int line, struct token *t, int n)
{
	struct rule *r;
	uint16_t p;

	if (n != 3 || t[1].quoted || t[2].quoted)
		return lerr(ld, file, line, "port needs: port RULE-ID N");
	r = rule_find(ld->m, t[1].s);
	if (!r)
		return lerr(ld, file, line,
		            "no rule '%s' to move (rules files are loaded before site files)",
		            t[1].s);
	if (parse_port(t[2].s, &p) < 0)
		return lerr(ld, file, line, "bad port '%s' (expected 1-65535)", t[2].s);
	if (!r->configurable)
		return lerr(ld, file, line,
		            "rule %s (row %d) has a fixed port %u in the table; only configurable "
		            "ports can be moved",
		            r->id, r->row, r->default_port);
	r->port = p;
	return 0;
}

/* include FILE, resolved against the including file's directory. */
static int st_include(struct loader *ld, const char *file, int line, struct token *t, int n)
{
	char path[PATH_MAX];
	const char *slash;

	if (n != 2)
		return lerr(ld, file, line, "include needs exactly one file name");
	slash = strrchr(file, '/');
	if (t[1].s[0] == '/' || !slash)
		snprintf(path, sizeof(path), "%s", t[1].s);
	else
		snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - file), file, t[1].s);
	return load_file(ld, path, file, line);
}

/* Dispatch one tokenized line. */
static int statement(struct loader *ld, const char *file, int line, struct token *t, int n)
{
	if (t[0].quoted)
		return lerr(ld, file, line, "a line must start with a keyword, not quoted text");
	if (strcmp(t[0].s, "rule") == 0)
		return st_rule(ld, file, line, t, n);
	if (strcmp(t[0].s, "include") == 0)
		return st_include(ld, file, line, t, n);
	if (strcmp(t[0].s, "host") == 0) {
		if (n < 2)
			return lerr(ld, file, line, "host needs: host ADDR[/PFX]");
		return add_cidrs(ld, file, line, t + 1, n - 1, NULL);
	}
	if (strcmp(t[0].s, "role") == 0)
		return st_role(ld, file, line, t, n);
	if (strcmp(t[0].s, "port") == 0)
		return st_port(ld, file, line, t, n);
	if (strcmp(t[0].s, "role-name") == 0)
		return st_role_name(ld, file, line, t, n);
	return lerr(ld, file, line,
	            "unknown keyword '%s' (expected rule, include, host, role, port or role-name)",
	            t[0].s);
}

/* Read a whole file (at most RULES_MAX_FILE bytes) into a NUL-ended
 * malloc'd buffer; NULL with errno set. */
static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	size_t n;

	if (!f)
		return NULL;
	buf = malloc(RULES_MAX_FILE + 1);
	if (!buf) {
		fclose(f);
		errno = ENOMEM;
		return NULL;
	}
	n = fread(buf, 1, RULES_MAX_FILE + 1, f);
	if (ferror(f) || n > RULES_MAX_FILE) {
		int e = ferror(f) ? errno : EFBIG;
		fclose(f);
		free(buf);
		errno = e ? e : EIO;
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Load one file (display name path) and what it includes. from_file and
 * from_line name the include statement, or are NULL/0 at the top. */
static int load_file(struct loader *ld, const char *path, const char *from_file, int from_line)
{
	struct rules_matrix *m = ld->m;
	char real[PATH_MAX];
	const char *file, *realp;
	char *buf, *p;
	size_t len;
	int line = 0, rc = 0;
	struct stat st;

	errno = 0;
	if (!realpath(path, real) || stat(real, &st) < 0 || S_ISDIR(st.st_mode)) {
		const char *why = errno ? strerror(errno) : "is a directory";
		if (from_file)
			return lerr(ld, from_file, from_line, "cannot read include '%s': %s", path,
			            why);
		return lerr(ld, path, 0, "cannot read: %s", why);
	}
	for (int i = 0; i < ld->depth; i++) {
		if (strcmp(ld->real[i], real) == 0) {
			char chain[1024];
			size_t off = 0;
			for (int j = i; j < ld->depth && off < sizeof(chain); j++)
				off += (size_t)snprintf(chain + off, sizeof(chain) - off, "%s -> ",
				                        ld->stack[j]);
			if (off < sizeof(chain))
				snprintf(chain + off, sizeof(chain) - off, "%s", path);
			return lerr(ld, from_file ? from_file : path, from_line, "include loop: %s",
			            chain);
		}
	}
	for (size_t i = 0; i < m->nfiles; i++)
		if (strcmp(m->files_real[i], real) == 0)
			return 0; /* already loaded: include once */
	if (ld->depth == RULES_MAX_DEPTH)
		return lerr(ld, from_file, from_line, "includes nested deeper than %d",
		            RULES_MAX_DEPTH);

	errno = 0;
	buf = slurp(real, &len);
	if (!buf) {
		if (from_file)
			return lerr(ld, from_file, from_line, "cannot read include '%s': %s", path,
			            strerror(errno));
		return lerr(ld, path, 0, "cannot read: %s", strerror(errno));
	}
	file = pool_str(m, path);
	realp = pool_str(m, real);
	if (!file || !realp ||
	    grow((void **)&m->files, &m->capfiles, m->nfiles + 1, sizeof(*m->files)) < 0 ||
	    grow((void **)&m->files_real, &m->capfiles_real, m->nfiles + 1,
	         sizeof(*m->files_real)) < 0) {
		free(buf);
		return lerr(ld, path, 0, "out of memory");
	}
	m->files[m->nfiles].path = file;
	sha256_hex(buf, len, m->files[m->nfiles].sha256);
	m->files_real[m->nfiles] = realp;
	m->nfiles++;

	ld->stack[ld->depth] = file;
	ld->real[ld->depth] = realp;
	ld->depth++;
	p = buf;
	if (len >= 3 && memcmp(buf, UTF8_BOM, 3) == 0)
		p += 3; /* a UTF-8 byte-order mark (Windows editors) is not text */
	while (p < buf + len) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		struct token tok[RULES_MAX_TOKENS];
		const char *bad = NULL;
		int n;

		if (nl)
			*nl = '\0';
		line++;
		if (strlen(p) != (size_t)((nl ? nl : buf + len) - p)) {
			rc = lerr(ld, file, line, "NUL byte in a text file");
			break;
		}
		n = tokenize(p, tok, RULES_MAX_TOKENS, &bad);
		if (n < 0) {
			rc = lerr(ld, file, line, "%s", bad);
			break;
		}
		if (n > 0 && statement(ld, file, line, tok, n) < 0) {
			rc = -1;
			break;
		}
		if (!nl)
			break;
		p = nl + 1;
	}
	ld->depth--;
	free(buf);
	return rc;
}

/* ---- API ---- */

void rules_use_app_names(const char *const *names, size_t n)
{
	app_vocab = n ? names : NULL;
	app_nvocab = n;
}

int rules_is_site_file(const char *path)
{
	size_t len;
	char *buf = slurp(path, &len), *p;
	int site = 0;

	if (!buf)
		return 0;
	p = buf + (len >= 3 && memcmp(buf, UTF8_BOM, 3) == 0 ? 3 : 0);
	while (!site && p < buf + len) {
		char *nl = memchr(p, '\n', (size_t)(buf + len - p));
		struct token tok[RULES_MAX_TOKENS];
		const char *bad;
		if (nl)
			*nl = '\0';
		if (tokenize(p, tok, RULES_MAX_TOKENS, &bad) > 0 && !tok[0].quoted)
			site = strcmp(tok[0].s, "host") == 0 || strcmp(tok[0].s, "role") == 0 ||
			       strcmp(tok[0].s, "port") == 0;
		if (!nl)
			break;
		p = nl + 1;
	}
	free(buf);
	return site;
}

struct rules_matrix *rules_new(void)
{
	struct rules_matrix *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	for (size_t i = 0; i < sizeof(builtin_roles) / sizeof(builtin_roles[0]); i++)
		snprintf(m->roles[m->nroles++].name, sizeof(m->roles[0].name), "%s",
		         builtin_roles[i]);
	return m;
}

void rules_free(struct rules_matrix *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nroles; i++)
		free(m->roles[i].addrs);
	for (size_t i = 0; i < m->nstrs; i++)
		free(m->strs[i]);
	free(m->strs);
	free(m->rules);
	free(m->hosts);
	free(m->files);
	free(m->files_real);
	free(m);
}

int rules_load(struct rules_matrix *m, const char *path, char *err, size_t errlen)
{
	struct loader ld = {.m = m, .err = err, .errlen = errlen};
	struct rules_mark k;

	if (m->frozen) {
		snprintf(err, errlen, "%s: the matrix is already finalized", path);
		return -1;
	}
	if (mark_take(m, &k) < 0) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (load_file(&ld, path, NULL, 0) < 0) {
		mark_rollback(m, &k);
		return -1;
	}
	mark_release(&k);
	return 0;
}

int rules_add_host(struct rules_matrix *m, const char *cidr, char *err, size_t errlen)
{
	struct sm_cidr c;

	if (m->frozen) {
		snprintf(err, errlen, "--host %s: the matrix is already finalized", cidr);
		return -1;
	}
	if (cidr_parse(cidr, &c) < 0) {
		snprintf(err, errlen, "--host: bad address '%s'", cidr);
		return -1;
	}
	if (host_add(m, &c) < 0) {
		snprintf(err, errlen, "--host %s: out of memory", cidr);
		return -1;
	}
	return 0;
}

int rules_set_role(struct rules_matrix *m, const char *spec, char *err, size_t errlen)
{
	const char *eq = strchr(spec, '=');
	char name[64], list[1024], known[256];
	struct sm_cidr c[64];
	size_t nc = 0;
	struct role_entry *r;
	char *save = NULL;

	if (m->frozen) {
		snprintf(err, errlen, "--role %s: the matrix is already finalized", spec);
		return -1;
	}
	if (!eq || eq == spec || (size_t)(eq - spec) >= sizeof(name) || !eq[1] ||
	    strlen(eq + 1) >= sizeof(list)) {
		snprintf(err, errlen, "--role: expected NAME=ADDR[,ADDR...], got '%s'", spec);
		return -1;
	}
	snprintf(name, sizeof(name), "%.*s", (int)(eq - spec), spec);
	snprintf(list, sizeof(list), "%s", eq + 1);
	r = role_find(m, name);
	if (!r && strcmp(name, "any") == 0) {
		snprintf(err, errlen,
		         "--role %s: 'any' matches every peer and takes no addresses (roles: %s)",
		         spec, role_list(m, 0, known, sizeof(known)));
		return -1;
	}
	if (!r) {
		snprintf(err, errlen, "--role %s: unknown role '%s' (known: %s)", spec, name,
		         role_list(m, 0, known, sizeof(known)));
		return -1;
	}
	for (char *a = strtok_r(list, ",", &save); a; a = strtok_r(NULL, ",", &save)) {
		if (nc == sizeof(c) / sizeof(c[0])) {
			snprintf(err, errlen, "--role %s: more than %zu addresses", name, nc);
			return -1;
		}
		if (cidr_parse(a, &c[nc]) < 0) {
			snprintf(err, errlen, "--role %s: bad address '%s'", name, a);
			return -1;
		}
		nc++;
	}
	if (nc == 0) {
		snprintf(err, errlen, "--role %s: no address given", name);
		return -1;
	}
	if (!r->from_cli) {
		r->n = 0; /* the command line replaces what site files said */
		r->from_cli = 1;
	}
	for (size_t i = 0; i < nc; i++)
		if (role_add(r, &c[i]) < 0) {
			snprintf(err, errlen, "--role %s: out of memory", name);
			return -1;
		}
	return 0;
}

int rules_finalize(struct rules_matrix *m, char *err, size_t errlen)
{
	if (m->frozen)
		return 0;
	for (size_t i = 0; i < m->nrules; i++) {
		const struct rule *a = &m->rules[i];
		if (strcmp(a->role, "any") != 0 && !role_find(m, a->role)) {
			snprintf(err, errlen, "%s:%d: unknown role '%s'", a->file, a->line,
			         a->role);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			const struct rule *b = &m->rules[j];
			if (a->dir == b->dir && a->proto == b->proto && a->port == b->port &&
			    strcmp(a->role, b->role) == 0) {
				snprintf(err, errlen,
				         "%s:%d: rule %s accepts the same connections as rule %s "
				         "(%s:%d): %s %s/%u %s %s%s",
				         a->file, a->line, a->id, b->id, b->file, b->line,
				         a->dir == RULE_IN ? "in" : "out", flow_proto_str(a->proto),
				         a->port, a->dir == RULE_IN ? "from" : "to", a->role,
				         a->port != a->default_port || b->port != b->default_port
				             ? " (a site file moved a port onto the other)"
				             : "");
				return -1;
			}
		}
	}
	m->frozen = 1;
	return 0;
}

size_t rules_count(const struct rules_matrix *m)
{
	return m->nrules;
}

const struct rule *rules_get(const struct rules_matrix *m, size_t i)
{
	return i < m->nrules ? &m->rules[i] : NULL;
}

size_t rules_hosts(const struct rules_matrix *m, const struct sm_cidr **out)
{
	*out = m->hosts;
	return m->nhosts;
}

int rules_is_host(const struct rules_matrix *m, const struct sm_addr *a)
{
	for (size_t i = 0; i < m->nhosts; i++)
		if (cidr_match(&m->hosts[i], a))
			return 1;
	return 0;
}

int rules_role_match(const struct rules_matrix *m, const char *role, const struct sm_addr *a)
{
	const struct role_entry *r;

	if (strcmp(role, "any") == 0)
		return 1;
	r = role_find_c(m, role);
	if (!r)
		return 0;
	if (r->n == 0)
		return -1;
	for (size_t i = 0; i < r->n; i++)
		if (cidr_match(&r->addrs[i], a))
			return 1;
	return 0;
}

size_t rules_files(const struct rules_matrix *m, const struct rules_file **out)
{
	*out = m->files;
	return m->nfiles;
}

void rules_service_ports(const struct rules_matrix *m, uint8_t *tcp, uint8_t *udp)
{
	for (size_t i = 0; i < m->nrules; i++) {
		const struct rule *r = &m->rules[i];
		uint8_t *bm = r->proto == IPPROTO_TCP ? tcp : r->proto == IPPROTO_UDP ? udp : NULL;
		if (bm)
			bm[r->port >> 3] |= (uint8_t)(1u << (r->port & 7));
	}
}

/* 1 if name equals (case-insensitively) one of list[0..n). */
static int in_list(const char *name, size_t len, const char list[][24], int n)
{
	for (int i = 0; i < n; i++)
		if (strlen(list[i]) == len && strncasecmp(list[i], name, len) == 0)
			return 1;
	return 0;
}

/* 1 if app as a whole or any of its dot-separated parts is in list. */
static int app_in(const char *app, const char list[][24], int n)
{
	const char *p = app;

	if (in_list(app, strlen(app), list, n))
		return 1;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t len = dot ? (size_t)(dot - p) : strlen(p);
		if (len && in_list(p, len, list, n))
			return 1;
		if (!dot)
			break;
		p = dot + 1;
	}
	return 0;
}

int rules_app_allowed(const struct rule *r, const char *app)
{
	if (!app || !*app || strcasecmp(app, "Unknown") == 0)
		return 1;
	if (r->nnot_apps && app_in(app, r->not_apps, r->nnot_apps))
		return 0;
	if (r->napps == 0)
		return 1;
	return app_in(app, r->apps, r->napps);
}

size_t rules_role_count(const struct rules_matrix *m)
{
	return m->nroles;
}

const char *rules_role_name(const struct rules_matrix *m, size_t i)
{
	return i < m->nroles ? m->roles[i].name : NULL;
}

size_t rules_role_addrs(const struct rules_matrix *m, const char *role, const struct sm_cidr **out)
{
	const struct role_entry *r = role_find_c(m, role);

	*out = r ? r->addrs : NULL;
	return r ? r->n : 0;
}

const char *rules_peer_role(const struct rules_matrix *m, const struct sm_addr *a)
{
	for (size_t i = 0; i < m->nroles; i++)
		for (size_t j = 0; j < m->roles[i].n; j++)
			if (cidr_match(&m->roles[i].addrs[j], a))
				return m->roles[i].name;
	return NULL;
}

const char *rules_default_path(void)
{
	/* beside the binary first (a build tree, or any PREFIX the install went
	 * to), then the compiled-in data directory, then the working directory */
	static const char *const rel[] = {"/../rules/socialminer.rules",
	                                  "/../share/smaudit/socialminer.rules"};
	static char buf[PATH_MAX];
	const char *env = getenv("SMAUDIT_RULES");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(buf, sizeof(buf), "%s", env);
		return buf;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		char *slash;
		exe[n] = '\0';
		slash = strrchr(exe, '/');
		if (slash) {
			*slash = '\0';
			for (size_t i = 0; i < sizeof(rel) / sizeof(rel[0]); i++)
				if ((size_t)snprintf(buf, sizeof(buf), "%s%s", exe, rel[i]) <
				        sizeof(buf) &&
				    access(buf, R_OK) == 0)
					return buf;
		}
	}
	snprintf(buf, sizeof(buf), "%s/socialminer.rules", SMAUDIT_DATADIR);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, sizeof(buf), "rules/socialminer.rules");
	return access(buf, R_OK) == 0 ? buf : NULL;
}

int rules_build(struct rules_matrix **out, const char *rules_path, const char *const *site_files,
                size_t nsite, const char *const *hosts, size_t nhosts, const char *const *roles,
                size_t nroles, char *err, size_t errlen)
{
	struct rules_matrix *m = rules_new();

	*out = NULL;
	if (!m) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!rules_path)
		rules_path = rules_default_path();
	if (!rules_path) {
		snprintf(err, errlen,
		         "cannot find the shipped rules/socialminer.rules; give --rules "
		         "FILE or set SMAUDIT_RULES");
		goto fail;
	}
	if (rules_load(m, rules_path, err, errlen) < 0)
		goto fail;
	for (size_t i = 0; i < nsite; i++)
		if (rules_load(m, site_files[i], err, errlen) < 0)
			goto fail;
	for (size_t i = 0; i < nhosts; i++)
		if (rules_add_host(m, hosts[i], err, errlen) < 0)
			goto fail;
	for (size_t i = 0; i < nroles; i++)
		if (rules_set_role(m, roles[i], err, errlen) < 0)
			goto fail;
	if (rules_finalize(m, err, errlen) < 0)
		goto fail;
	*out = m;
	return 0;
fail:
	rules_free(m);
	return -1;
}
