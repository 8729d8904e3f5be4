/* report.c: the audit report (see report.h): document, sections, tables.
 *
 * Every section is one or two read-only statements over the database with
 * the user's filters bound (query_prepare_sql), written as it is read, so
 * memory does not grow with the number of flows. Counts that the flow
 * roll-up holds (per verdict, per run, per rule, per hour) are read as its
 * groups (QUERY_SCOPE_GROUPS: whole hours from the roll-up when it is
 * current, the rest from flows), so a month of flows costs a few thousand
 * rows; the same numbers as over flows. Long lists are cut at a
 * stated bound and the report says how many rows it left out and which
 * query lists them all. Values from the database (addresses, server names,
 * reasons, paths) only ever reach the output through rp_esc(), which
 * escapes for HTML or Markdown and drops control and bidi characters. The
 * pictures live in report_svg.c. */
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "query_int.h"
#include "report_int.h"
#include "smaudit/jsonl.h"

/* ---- things you may reasonably want to change ---- */
#define REPORT_MAX_FINDINGS 300 /* finding groups listed */
#define REPORT_MAX_RUNS     100 /* runs listed */
#define REPORT_EVIDENCE     3   /* flow uids shown per finding */
#define REPORT_MAX_FILES    32  /* distinct rules files listed */

const struct verdict_info report_verdicts[5] = {
    {"protocol-mismatch", "DPI found another protocol than the rule allows on that port"},
    {"unexpected-peer", "a documented port, but the peer does not hold the rule's role"},
    {"unexpected-port", "no rule of the matrix lists the port"},
    {"unexpected-direction", "a documented port, used the other way round"},
    {"expected", "fits a rule of the matrix"},
};

/* SQL: rank of a verdict, worst first (report_verdicts order). */
#define SEVERITY                                                                                   \
	"CASE verdict WHEN 'protocol-mismatch' THEN 0 WHEN 'unexpected-peer' THEN 1"               \
	" WHEN 'unexpected-port' THEN 2 WHEN 'unexpected-direction' THEN 3 ELSE 4 END"
#define NOT_EXPECTED                                                                               \
	" " QUERY_NOT_EXPECTED " AND f.verdict IN ('protocol-mismatch', 'unexpected-peer',"        \
	" 'unexpected-port', 'unexpected-direction')"

static const char css[] =
    ":root{--fg:#1d232a;--bg:#fff;--mute:#5b6570;--line:#d5dbe1;--head:#eef1f4;"
    "--expected:#2e7d32;--unexpected-direction:#a15c00;--unexpected-port:#c43e00;"
    "--unexpected-peer:#c62828;--protocol-mismatch:#7b1fa2;--never:#6b7580;--link:#0b57d0}\n"
    "@media (prefers-color-scheme:dark){:root{--fg:#e3e7eb;--bg:#15191d;--mute:#9aa5b1;"
    "--line:#38414a;--head:#222a31;--expected:#66bb6a;--unexpected-direction:#ffb74d;"
    "--unexpected-port:#ff8a65;--unexpected-peer:#ef5350;--protocol-mismatch:#ce93d8;"
    "--never:#9aa5b1;--link:#8ab4f8}}\n"
    "body{font:14px/1.45 system-ui,'DejaVu Sans',sans-serif;color:var(--fg);"
    "background:var(--bg);max-width:1150px;margin:24px auto;padding:0 16px}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:28px 0 8px;"
    "border-bottom:2px solid var(--line);padding-bottom:3px}h3{font-size:15px;margin:18px 0 6px}\n"
    "a{color:var(--link)}p.meta,.mute{color:var(--mute)}code{font:12px 'DejaVu Sans "
    "Mono',monospace}\n"
    "table{border-collapse:collapse;width:100%;font-size:12.5px;margin:6px 0 10px}\n"
    "th,td{border:1px solid var(--line);padding:3px 6px;text-align:left;vertical-align:top;"
    "overflow-wrap:break-word}th{background:var(--head);white-space:nowrap}td.n{text-align:right;"
    "white-space:nowrap}td.t{white-space:nowrap}td.r{min-width:16em}td.ev{overflow-wrap:anywhere;"
    "min-width:12em}\n"
    ".b{display:inline-block;padding:0 6px;border-radius:3px;color:var(--bg);font-weight:600;"
    "font-size:12px;white-space:nowrap}\n"
    ".v-expected{background:var(--expected)}.v-unexpected-direction{"
    "background:var(--unexpected-direction)}.v-unexpected-port{background:var(--unexpected-port)}"
    ".v-unexpected-peer{background:var(--unexpected-peer)}.v-protocol-mismatch{"
    "background:var(--protocol-mismatch)}.v-never{background:var(--never)}\n"
    ".s-expected{fill:var(--expected);stroke:var(--expected)}.s-unexpected-direction{"
    "fill:var(--unexpected-direction);stroke:var(--unexpected-direction)}.s-unexpected-port{"
    "fill:var(--unexpected-port);stroke:var(--unexpected-port)}.s-unexpected-peer{"
    "fill:var(--unexpected-peer);stroke:var(--unexpected-peer)}.s-protocol-mismatch{"
    "fill:var(--protocol-mismatch);stroke:var(--protocol-mismatch)}\n"
    "svg{width:100%;height:auto}svg text{fill:var(--fg);font:12px system-ui,'DejaVu Sans',"
    "sans-serif}svg text.small{font-size:11px;fill:var(--mute)}svg "
    ".ax{stroke:var(--line);fill:none}svg .box{fill:var(--head);"
    "stroke:var(--line)}\n"
    ".warn{border-left:4px solid var(--unexpected-peer);padding:4px 10px;background:var(--head)}"
    ".ok{border-left:4px solid var(--expected);padding:4px 10px;background:var(--head)}\n"
    "@media print{body{max-width:none;margin:0;font-size:11px;--bg:#fff;--fg:#000}"
    "@page{size:A4;margin:12mm}table{font-size:9px}td.t{white-space:normal}tr,svg,.warn,.ok{break-"
    "inside:avoid}"
    "h2{break-after:avoid}}\n";

/* ---- output helpers ---- */

void rp_put(struct rep *r, const char *s)
{
	fputs(s, r->out);
}

void rp_printf(struct rep *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(r->out, fmt, ap);
	va_end(ap);
}

/* Markdown punctuation that could start markup inside a table cell. */
static int md_special(long cp)
{
	return cp < 0x80 && strchr("\\`*_[](){}#|!~+", (int)cp) != NULL;
}

void rp_esc(struct rep *r, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = s ? strlen(s) : 0;

	for (size_t i = 0; i < n;) {
		int len;
		long cp = jsonl_utf8_next(p + i, n - i, &len);
		if (cp == '\n' || cp == '\r' || cp == '\t')
			putc(' ', r->out);
		else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) ||
		         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
			putc('?', r->out); /* invalid UTF-8, controls, bidi overrides */
		else if (cp == '&')
			fputs("&amp;", r->out);
		else if (cp == '<')
			fputs("&lt;", r->out);
		else if (cp == '>')
			fputs("&gt;", r->out);
		else if (cp == '"' && !r->md)
			fputs("&quot;", r->out);
		else if (cp == '\'' && !r->md)
			fputs("&#39;", r->out);
		else if (r->md && md_special(cp))
			fprintf(r->out, "\\%c", (int)cp);
		else
			fwrite(p + i, 1, (size_t)len, r->out);
		i += (size_t)len;
	}
}

sqlite3_stmt *rp_prepare(struct rep *r, const char *head, enum query_scope scope, const char *tail)
{
	sqlite3_stmt *st =
	    query_prepare_sql(r->db, head, scope, tail, &r->o->filter, r->err, r->errlen);
	if (!st)
		r->failed = 1;
	return st;
}

int rp_finish(struct rep *r, sqlite3_stmt *st, int rc)
{
	if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(r->err, r->errlen, "reading the database: %s", sqlite3_errmsg(r->db));
		r->failed = 1;
	}
	sqlite3_finalize(st);
	return r->failed ? -1 : 0;
}

const char *rp_col(sqlite3_stmt *st, int i)
{
	const char *s = (const char *)sqlite3_column_text(st, i);
	return s ? s : "";
}

const char *rp_role_of(const struct rep *r, const char *peer)
{
	struct sm_addr a;

	if (addr_parse(peer, &a) < 0)
		return NULL;
	for (size_t i = 0; i < r->nroles; i++)
		if (cidr_match(&r->roles[i].c, &a))
			return r->roles[i].role;
	return NULL;
}

/* Section heading (level 2 or 3) with an anchor id. */
static void heading(struct rep *r, int level, const char *id, const char *text)
{
	if (r->md)
		rp_printf(r, "\n%s %s\n\n", level == 2 ? "##" : "###", text);
	else
		rp_printf(r, "<h%d id=\"%s\">%s</h%d>\n", level, id, text, level);
}

/* Start a table with n column heads (our own words). */
static void table_begin(struct rep *r, const char *const *heads, int n)
{
	if (r->md) {
		rp_put(r, "\n|");
		for (int i = 0; i < n; i++)
			rp_printf(r, " %s |", heads[i]);
		rp_put(r, "\n|");
		for (int i = 0; i < n; i++)
			rp_put(r, "---|");
		rp_put(r, "\n");
		return;
	}
	rp_put(r, "<table><thead><tr>");
	for (int i = 0; i < n; i++)
		rp_printf(r, "<th>%s</th>", heads[i]);
	rp_put(r, "</tr></thead><tbody>\n");
}

static void table_end(struct rep *r)
{
	rp_put(r, r->md ? "\n" : "</tbody></table>\n");
}

static void row_begin(struct rep *r)
{
	rp_put(r, r->md ? "|" : "<tr>");
}

static void row_end(struct rep *r)
{
	rp_put(r, r->md ? "\n" : "</tr>\n");
}

/* One cell holding an escaped value; cls "n" (number), "t" (time) or NULL. */
static void cell(struct rep *r, const char *value, const char *cls)
{
	if (r->md) {
		rp_put(r, " ");
		rp_esc(r, value);
		rp_put(r, " |");
		return;
	}
	rp_printf(r, cls ? "<td class=\"%s\">" : "<td>", cls);
	rp_esc(r, value);
	rp_put(r, "</td>");
}

static void cell_int(struct rep *r, long long v)
{
	char buf[32];
	snprintf(buf, sizeof(buf), "%lld", v);
	cell(r, buf, "n");
}

static void cell_bytes(struct rep *r, long long v)
{
	char buf[32];
	query_fmt_bytes(v, buf, sizeof(buf));
	cell(r, buf, "n");
}

/* A time cell from an epoch column (NULL: "-"). */
static void cell_time(struct rep *r, sqlite3_stmt *st, int i)
{
	char buf[40] = "-";
	if (sqlite3_column_type(st, i) != SQLITE_NULL)
		query_fmt_time(sqlite3_column_double(st, i), 0, buf, sizeof(buf));
	cell(r, buf, "t");
}

/* "first to last" in one cell (one time when both fall in the same second). */
static void cell_span(struct rep *r, double t0, double t1)
{
	char a[40], b[40], buf[96];

	query_fmt_time(t0, 0, a, sizeof(a));
	query_fmt_time(t1, 0, b, sizeof(b));
	if (strcmp(a, b))
		snprintf(buf, sizeof(buf), "%s to %s", a, b);
	else
		snprintf(buf, sizeof(buf), "%s", a);
	cell(r, buf, NULL);
}

/* A verdict badge (name is checked against the five, else shown escaped). */
static void badge(struct rep *r, const char *verdict, const char *label)
{
	const char *cls = "never";
	for (int i = 0; i < 5; i++)
		if (!strcmp(verdict, report_verdicts[i].name))
			cls = report_verdicts[i].name;
	if (r->md) {
		rp_put(r, "**");
		rp_esc(r, label);
		rp_put(r, "**");
		return;
	}
	rp_printf(r, "<span class=\"b v-%s\">", cls);
	rp_esc(r, label);
	rp_put(r, "</span>");
}

static void para_begin(struct rep *r, const char *cls)
{
	if (r->md)
		rp_put(r, "\n");
	else if (cls)
		rp_printf(r, "<p class=\"%s\">", cls);
	else
		rp_put(r, "<p>");
}

static void para_end(struct rep *r)
{
	rp_put(r, r->md ? "\n" : "</p>\n");
}

/* ---- sections ---- */

static int has_column(sqlite3 *db, const char *table, const char *column);

/* Parse a runs.roles text ("role cidr,cidr" lines) into r->roles. */
static void load_roles(struct rep *r, const char *text)
{
	char line[1024];
	const char *p = text;

	r->nroles = 0;
	r->roles_known = 1;
	while (*p) {
		size_t n = strcspn(p, "\n");
		char *sp, *tok, *save = NULL;
		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
		         p);
		p += n + (p[n] == '\n');
		sp = strchr(line, ' ');
		if (!sp)
			continue;
		*sp = '\0';
		for (tok = strtok_r(sp + 1, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (r->nroles >= REPORT_MAX_ROLE_ADDRS ||
			    cidr_parse(tok, &r->roles[r->nroles].c) < 0)
				continue;
			snprintf(r->roles[r->nroles].role, sizeof(r->roles[0].role), "%.15s", line);
			r->nroles++;
		}
	}
}

/* Totals over the runs shown, for the loss statement. */
struct run_totals {
	long long runs, packets, bytes, dropped, malformed, evicted, flows, unfinished;
	char files[REPORT_MAX_FILES][160];
	int nfiles;
};

/* Remember each distinct "path sha256" line of a runs.rules_files text. */
static void add_files(struct run_totals *t, const char *text)
{
	while (*text) {
		size_t n = strcspn(text, "\n");
		char line[160];
		int seen = 0;
		snprintf(line, sizeof(line), "%.*s", (int)(n < sizeof(line) ? n : sizeof(line) - 1),
		         text);
		text += n + (text[n] == '\n');
		for (int i = 0; i < t->nfiles; i++)
			seen |= !strcmp(t->files[i], line);
		if (!seen && *line && t->nfiles < REPORT_MAX_FILES)
			memcpy(t->files[t->nfiles++], line, sizeof(line));
	}
}

/* One runs table row; adds the run to t. */
static void run_row(struct rep *r, sqlite3_stmt *st, struct run_totals *t)
{
	char buf[160];
	const char *status = rp_col(st, 6);

	t->runs++;
	t->packets += sqlite3_column_int64(st, 7);
	t->bytes += sqlite3_column_int64(st, 8);
	t->dropped += sqlite3_column_int64(st, 9);
	t->malformed += sqlite3_column_int64(st, 10);
	t->flows += sqlite3_column_int64(st, 11);
	t->evicted += sqlite3_column_int64(st, 13);
	t->unfinished += strcmp(status, "complete") != 0;
	add_files(t, rp_col(st, 16));
	if (sqlite3_column_type(st, 17) != SQLITE_NULL)
		load_roles(r, rp_col(st, 17));
	if (t->runs > REPORT_MAX_RUNS)
		return;
	row_begin(r);
	cell_int(r, sqlite3_column_int64(st, 0));
	cell(r, rp_col(st, 1), NULL);
	if (*rp_col(st, 20)) {
		char src[512];
		snprintf(src, sizeof(src), "%.300s (encapsulated: %.160s)", rp_col(st, 2),
		         rp_col(st, 20));
		cell(r, src, NULL);
	} else {
		cell(r, rp_col(st, 2), NULL);
	}
	cell(r, rp_col(st, 3), NULL);
	if (sqlite3_column_type(st, 18) == SQLITE_NULL) {
		snprintf(buf, sizeof(buf), "no flow; ran %s", rp_col(st, 4));
	} else {
		char a[40], b[40];
		query_fmt_time(sqlite3_column_double(st, 18), 0, a, sizeof(a));
		query_fmt_time(sqlite3_column_double(st, 19), 0, b, sizeof(b));
		snprintf(buf, sizeof(buf), "%s to %s%s", a, b,
		         *rp_col(st, 5) ? "" : " (still running)");
	}
	cell(r, buf, NULL);
	cell(r, status, NULL);
	cell_int(r, sqlite3_column_int64(st, 7));
	cell_int(r, sqlite3_column_int64(st, 9));
	cell_int(r, sqlite3_column_int64(st, 10));
	cell_int(r, sqlite3_column_int64(st, 11));
	snprintf(buf, sizeof(buf), "smaudit %.20s, nDPI %.20s", rp_col(st, 14),
	         *rp_col(st, 15) ? rp_col(st, 15) : "?");
	cell(r, buf, NULL);
	row_end(r);
}

/* The plain statement on lost data. */
static void loss_statement(struct rep *r, const struct run_totals *t)
{
	int lost = t->dropped || t->malformed || t->evicted || t->unfinished;

	para_begin(r, lost ? "warn" : "ok");
	if (!t->runs) {
		rp_put(r, "No capture run matches the filters: there is nothing to report.");
	} else if (!lost) {
		rp_printf(r,
		          "No loss recorded: %lld packets read, none dropped, none malformed, "
		          "every run complete.",
		          t->packets);
	} else {
		rp_put(r, "The capture lost data.");
		if (t->dropped)
			rp_printf(r,
			          " %lld packets were dropped by the kernel or interface: flows "
			          "in those moments may be missing or incomplete.",
			          t->dropped);
		if (t->malformed)
			rp_printf(r, " %lld packets were truncated or malformed and not judged.",
			          t->malformed);
		if (t->evicted)
			rp_printf(r,
			          " %lld flows were written early because the flow table was "
			          "full (raise --max-flows).",
			          t->evicted);
		if (t->unfinished)
			rp_printf(r,
			          " %lld run(s) did not complete (interrupted, failed or still "
			          "running): see their status.",
			          t->unfinished);
	}
	para_end(r);
}

static int section_audited(struct rep *r)
{
	static const char *const heads[] = {"Run",           "Mode",   "Source",  "Hosts",
	                                    "Traffic (UTC)", "Status", "Packets", "Dropped",
	                                    "Malformed",     "Flows",  "Versions"};
	static const char *const fheads[] = {"Rules file", "SHA-256"};
	struct run_totals t;
	sqlite3_stmt *st;
	char head[720];
	int rc, rollup = query_has_rollup(r->db);

	memset(&t, 0, sizeof(t));
	/* columns an older database may lack are read as NULL (never migrated here) */
	/* each run's first start and last end: from the roll-up when current;
	 * else in one pass over flows (no index on run_id) */
	snprintf(head, sizeof(head),
	         "SELECT r.id, r.mode, r.source, r.hosts, r.started, r.finished, r.status,"
	         " r.packets, r.bytes, r.dropped, r.malformed, r.flows, r.flows_other, r.evicted,"
	         " r.version, %s, r.rules_files, %s, x.t0, x.t1, %s"
	         " FROM runs r LEFT JOIN (SELECT run_id, min(%s) AS t0, max(%s) AS t1 FROM %s"
	         " GROUP BY run_id) x ON x.run_id = r.id WHERE 1",
	         r->new_runs ? "r.ndpi_version" : "NULL", r->new_runs ? "r.roles" : "NULL",
	         has_column(r->db, "runs", "encap") ? "r.encap" : "NULL",
	         rollup ? "ts_first" : "ts_start", rollup ? "ts_last" : "ts_end",
	         rollup ? "sm_rollup" : "flows");
	st = rp_prepare(r, head, QUERY_SCOPE_RUNS, " ORDER BY r.id");
	if (!st)
		return -1;
	heading(r, 2, "audited", "What was audited");
	table_begin(r, heads, 11);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		run_row(r, st, &t);
	table_end(r);
	if (rp_finish(r, st, rc) < 0)
		return -1;
	if (t.runs > REPORT_MAX_RUNS) {
		para_begin(r, "mute");
		rp_printf(r, "%lld more runs not listed (smaudit query runs lists them all).",
		          t.runs - REPORT_MAX_RUNS);
		para_end(r);
	}
	loss_statement(r, &t);
	table_begin(r, fheads, 2);
	for (int i = 0; i < t.nfiles; i++) {
		char *sp = strrchr(t.files[i], ' ');
		row_begin(r);
		if (sp)
			*sp = '\0';
		cell(r, t.files[i], NULL);
		cell(r, sp ? sp + 1 : "", NULL);
		row_end(r);
	}
	table_end(r);
	para_begin(r, "mute");
	rp_printf(r, "This report: smaudit %s. ", SMAUDIT_VERSION);
	if (!r->roles_known)
		rp_put(r, "The runs did not record role addresses (made by an older smaudit).");
	else if (!r->nroles)
		rp_put(r, "Roles: none had addresses in the latest run.");
	else {
		rp_put(r, "Roles in the latest run:");
		for (size_t i = 0; i < r->nroles; i++) {
			char c[ADDR_STRLEN + 4];
			rp_printf(r, "%s ", i ? "," : "");
			rp_esc(r, r->roles[i].role);
			rp_put(r, " = ");
			rp_esc(r, cidr_str(&r->roles[i].c, c, sizeof(c)));
		}
		rp_put(r, ".");
	}
	para_end(r);
	return 0;
}

/* "uccx -> host" / "host -> mail" for a rule's direction and role. */
static void connection_words(const char *dir, const char *peer, char *buf, size_t len)
{
	const char *who = strcmp(peer, "any") ? peer : "anyone";
	if (!strcmp(dir, "in"))
		snprintf(buf, len, "%s \u2192 host", who);
	else
		snprintf(buf, len, "host \u2192 %s", who);
}

static int section_matrix(struct rep *r)
{
	static const char *const heads[] = {"Row",   "Rule",       "Connection", "Port",
	                                    "Apps",  "Status",     "Flows",      "Peers",
	                                    "Bytes", "First seen", "Last seen"};
	char err[256], buf[160];
	sqlite3_stmt *st = query_prepare(r->db, QUERY_COVERAGE, &r->o->filter, 0, err, sizeof(err));
	int rc, never = 0, total = 0;

	if (!st) {
		snprintf(r->err, r->errlen, "%s", err);
		r->failed = 1;
		return -1;
	}
	heading(r, 2, "matrix", "The port matrix, rule by rule");
	table_begin(r, heads, 11);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long flows = sqlite3_column_int64(st, 8), exp = sqlite3_column_int64(st, 9);
		total++;
		never += flows == 0;
		row_begin(r);
		if (sqlite3_column_type(st, 1) == SQLITE_NULL)
			cell(r, "site", NULL);
		else
			cell_int(r, sqlite3_column_int64(st, 1));
		cell(r, rp_col(st, 0), NULL);
		connection_words(rp_col(st, 2), rp_col(st, 5), buf, sizeof(buf));
		cell(r, buf, NULL);
		snprintf(buf, sizeof(buf), "%lld/%s", (long long)sqlite3_column_int64(st, 4),
		         rp_col(st, 3));
		cell(r, buf, "n");
		cell(r, *rp_col(st, 6) ? rp_col(st, 6) : "any", NULL);
		rp_put(r, r->md ? " " : "<td>");
		if (!flows)
			badge(r, "never", "never seen");
		else if (exp == flows)
			badge(r, "expected", "seen, clean");
		else
			badge(r, "unexpected-peer", "anomalous");
		rp_put(r, r->md ? " |" : "</td>");
		cell_int(r, flows);
		cell_int(r, sqlite3_column_int64(st, 10));
		cell_bytes(r, sqlite3_column_int64(st, 11));
		cell_time(r, st, 12);
		cell_time(r, st, 13);
		row_end(r);
	}
	table_end(r);
	if (rp_finish(r, st, rc) < 0)
		return -1;
	para_begin(r, "mute");
	rp_printf(r,
	          "%d of %d rules were never used in this window: documented ports nothing "
	          "used are candidates to close in the firewall. Anomalous: at least one flow "
	          "on the rule's port did not fit it (see the findings).",
	          never, total);
	para_end(r);
	return 0;
}

/* The header of one verdict's findings. */
static void finding_group_head(struct rep *r, int vi)
{
	static const char *const heads[] = {
	    "Port",         "Dir",    "Peer",
	    "App / server", "Flows",  "Bytes",
	    "Seen (UTC)",   "Reason", "Evidence (flow uids, Community IDs)"};
	if (r->md)
		rp_printf(r, "\n### %s\n\n%s.\n", report_verdicts[vi].name,
		          report_verdicts[vi].words);
	else {
		rp_printf(r, "<h3 id=\"f-%s\">", report_verdicts[vi].name);
		badge(r, report_verdicts[vi].name, report_verdicts[vi].name);
		rp_printf(r, " <span class=\"mute\">%s</span></h3>\n", report_verdicts[vi].words);
	}
	table_begin(r, heads, 9);
}

/* One finding row from the findings statement. */
static void finding_row(struct rep *r, sqlite3_stmt *st)
{
	char buf[320];
	const char *peer = rp_col(st, 3), *role = rp_role_of(r, peer);
	long long nsrv = sqlite3_column_int64(st, 13);

	row_begin(r);
	if (!strncmp(rp_col(st, 2), "icmp", 4)) /* the port column holds an ICMP code */
		snprintf(buf, sizeof(buf), "%s", rp_col(st, 2));
	else
		snprintf(buf, sizeof(buf), "%lld/%s", (long long)sqlite3_column_int64(st, 1),
		         rp_col(st, 2));
	cell(r, buf, "n");
	cell(r, rp_col(st, 4), NULL);
	snprintf(buf, sizeof(buf), "%.60s%s%s%s", peer, role ? " (" : "", role ? role : "",
	         role ? ")" : "");
	cell(r, buf, NULL);
	snprintf(buf, sizeof(buf), "%.60s%s%.120s%s", *rp_col(st, 11) ? rp_col(st, 11) : "-",
	         nsrv ? " " : "", rp_col(st, 12), nsrv > 1 ? " (and others)" : "");
	cell(r, buf, NULL);
	cell_int(r, sqlite3_column_int64(st, 5));
	cell_bytes(r, sqlite3_column_int64(st, 6));
	cell_span(r, sqlite3_column_double(st, 7), sqlite3_column_double(st, 8));
	cell(r, rp_col(st, 9), "r");
	if (r->md) {
		rp_put(r, " ");
		rp_esc(r, rp_col(st, 10));
		rp_put(r, " |");
	} else {
		rp_put(r, "<td class=\"ev\"><code>");
		rp_esc(r, rp_col(st, 10));
		rp_put(r, "</code></td>");
	}
	row_end(r);
}

static int section_findings(struct rep *r)
{
	sqlite3_stmt *st;
	char head[640], tail[512];
	int rc, vi = -1;
	long long groups = 0;

	/* evidence: the first REPORT_EVIDENCE flows of each group, each its uid
	 * and (databases that have it) its Community ID */
	snprintf(head, sizeof(head),
	         "WITH g AS (SELECT f.verdict, f.resp_port, f.proto, f.peer_addr, f.direction,"
	         " f.uid || %s AS ev, f.ts_start, f.ts_end, f.orig_bytes + f.resp_bytes AS b,"
	         " f.app_proto, f.server_name, f.reason, row_number() OVER (PARTITION BY"
	         " f.verdict, f.resp_port, f.proto, f.peer_addr, f.direction ORDER BY f.ts_start,"
	         " f.id) AS rn FROM flows f WHERE" NOT_EXPECTED,
	         r->has_cid ? "ifnull(' ' || f.community_id, '')" : "''");
	snprintf(tail, sizeof(tail),
	         ") SELECT verdict, resp_port, proto, peer_addr, direction, count(*), sum(b),"
	         " min(ts_start), max(ts_end), min(reason),"
	         " group_concat(CASE WHEN rn <= %d THEN ev END, ' '), min(app_proto),"
	         " min(server_name), count(DISTINCT server_name), " SEVERITY " AS sev"
	         " FROM g GROUP BY verdict, resp_port, proto, peer_addr, direction"
	         " ORDER BY sev, resp_port, proto, peer_addr, direction",
	         REPORT_EVIDENCE);
	st = rp_prepare(r, head, QUERY_SCOPE_FLOWS, tail);
	if (!st)
		return -1;
	heading(r, 2, "findings", "Findings, worst first");
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int sev = sqlite3_column_int(st, 14);
		if (++groups > REPORT_MAX_FINDINGS)
			continue;
		if (sev != vi) {
			if (vi >= 0)
				table_end(r);
			vi = sev < 0 || sev > 4 ? 4 : sev;
			finding_group_head(r, vi);
		}
		finding_row(r, st);
	}
	if (vi >= 0)
		table_end(r);
	if (rp_finish(r, st, rc) < 0)
		return -1;
	para_begin(r, groups ? "mute" : "ok");
	if (!groups)
		rp_put(r, "No finding: every flow in the window fits the matrix.");
	else if (groups > REPORT_MAX_FINDINGS)
		rp_printf(r, "%lld more groups not listed: smaudit query anomalies lists them all.",
		          groups - REPORT_MAX_FINDINGS);
	else
		rp_printf(r,
		          "%lld groups (verdict, port, peer, direction). smaudit query anomalies "
		          "--flows lists every flow; a uid finds one flow in the database.",
		          groups);
	para_end(r);
	return 0;
}

/* SQL: the run r had roles recorded and rule rr's role was not among them. */
#define ROLE_MISSING                                                                               \
	" rr.peer <> 'any' AND r.roles IS NOT NULL AND"                                            \
	" instr(char(10) || r.roles, char(10) || rr.peer || ' ') = 0"

/* Roles that rules name but that had no addresses, and the expected flows
 * whose peer was therefore not checked. */
static int unchecked_peers(struct rep *r, long long *nflows)
{
	static const char *const heads[] = {"Role without addresses", "Rules naming it",
	                                    "Expected flows, peer not checked"};
	struct {
		char role[16];
		long long n;
	} cnt[16];
	int ncnt = 0, rc, rows = 0;
	sqlite3_stmt *st = rp_prepare(r, "SELECT rr.peer, sum(x.e) FROM (", QUERY_SCOPE_GROUPS,
	                              ") x JOIN runs r ON r.id = x.run_id JOIN run_rules rr ON"
	                              " rr.run_id = x.run_id AND rr.rule_id = x.rule_id"
	                              " WHERE x.e > 0 AND " ROLE_MISSING " GROUP BY rr.peer");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && ncnt < 16) {
		snprintf(cnt[ncnt].role, sizeof(cnt[0].role), "%s", rp_col(st, 0));
		cnt[ncnt++].n = sqlite3_column_int64(st, 1);
		*nflows += sqlite3_column_int64(st, 1);
	}
	if (rp_finish(r, st, rc) < 0)
		return -1;
	st = rp_prepare(r,
	                "SELECT rr.peer, group_concat(DISTINCT rr.rule_id) FROM runs r JOIN"
	                " run_rules rr ON rr.run_id = r.id WHERE " ROLE_MISSING,
	                QUERY_SCOPE_RUNS, " GROUP BY rr.peer ORDER BY rr.peer");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		long long n = 0;
		for (int i = 0; i < ncnt; i++)
			if (!strcmp(cnt[i].role, rp_col(st, 0)))
				n = cnt[i].n;
		if (!rows++)
			table_begin(r, heads, 3);
		row_begin(r);
		cell(r, rp_col(st, 0), NULL);
		cell(r, rp_col(st, 1), NULL);
		cell_int(r, n);
		row_end(r);
	}
	if (rows)
		table_end(r);
	return rp_finish(r, st, rc) < 0 ? -1 : rows;
}

/* Expected flows whose rule restricts the application but DPI did not
 * confirm it (a port guess, no payload, DPI off). */
static int unchecked_apps(struct rep *r, long long *nflows)
{
	static const char *const heads[] = {"Rule", "Allowed apps",
	                                    "Expected flows, app not confirmed", "Port guess only",
	                                    "Nothing detected"};
	int rc, rows = 0;
	sqlite3_stmt *st = rp_prepare(
	    r,
	    "SELECT f.rule_id, rr.apps, count(*), total(f.app_confidence = 'port'),"
	    " total(f.app_confidence IS NULL OR f.app_confidence IN ('none', 'ip'))"
	    " FROM flows f JOIN run_rules rr ON rr.run_id = f.run_id AND rr.rule_id = f.rule_id"
	    " WHERE f.verdict = 'expected' AND ifnull(rr.apps, '') <> ''"
	    " AND (ifnull(f.app_confidence, 'none') <> 'dpi'"
	    " OR ifnull(f.app_proto, '') IN ('', 'Unknown'))",
	    /* +rule_id: the window is read by time (flows_ts), its few groups sorted
	     * after; grouped by flows_rule's order SQLite would read every rule's
	     * flows whatever the window (0.2 s more on 5 M flows) */
	    QUERY_SCOPE_FLOWS, " GROUP BY +f.rule_id ORDER BY f.rule_id");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (!rows++)
			table_begin(r, heads, 5);
		*nflows += sqlite3_column_int64(st, 2);
		row_begin(r);
		cell(r, rp_col(st, 0), NULL);
		cell(r, rp_col(st, 1), NULL);
		cell_int(r, sqlite3_column_int64(st, 2));
		cell_int(r, sqlite3_column_int64(st, 3));
		cell_int(r, sqlite3_column_int64(st, 4));
		row_end(r);
	}
	if (rows)
		table_end(r);
	return rp_finish(r, st, rc) < 0 ? -1 : rows;
}

static int section_unchecked(struct rep *r)
{
	long long peers = 0, apps = 0;
	int nroles, napps;

	heading(r, 2, "unchecked", "What could not be checked");
	nroles = r->new_runs ? unchecked_peers(r, &peers) : 0;
	if (nroles < 0)
		return -1;
	para_begin(r, nroles || !r->roles_known ? "warn" : "ok");
	if (!r->roles_known)
		rp_put(r, "The runs shown did not record their role addresses (an older smaudit "
		          "wrote them, or none matches): whether peers were checked is not known.");
	else if (nroles)
		rp_printf(r,
		          "%lld flows were rated expected although their peer was not checked: "
		          "the rule allows only a role, and the role had no addresses. Fix: give "
		          "the roles their addresses (--role NAME=ADDR or a site file); "
		          "%ssmaudit site suggest --db DB%s proposes them from this "
		          "traffic, then read the captures again with --site.",
		          peers, r->md ? "`" : "<code>", r->md ? "`" : "</code>");
	else
		rp_put(r, "Every role a rule names had addresses: every peer was checked.");
	para_end(r);
	napps = unchecked_apps(r, &apps);
	if (napps < 0)
		return -1;
	para_begin(r, napps ? "warn" : "ok");
	if (napps)
		rp_printf(r,
		          "%lld flows were rated expected although DPI did not confirm the "
		          "application the rule allows (no payload captured, a guess from the "
		          "port, or DPI off). Fix: capture whole packets (no short snap length), "
		          "do not use --no-dpi, and look at these flows with "
		          "%ssmaudit query flows --rule ID%s.",
		          apps, r->md ? "`" : "<code>", r->md ? "`" : "</code>");
	else
		rp_put(r, "Every expected flow whose rule restricts the application had it "
		          "confirmed by DPI.");
	para_end(r);
	return 0;
}

/* Counts per verdict and the flow window, at the top. */
static int section_summary(struct rep *r)
{
	long long n[5] = {0}, total = 0;
	double t0 = 0, t1 = 0;
	int rc, any = 0;
	char a[40], b[40];
	sqlite3_stmt *st =
	    rp_prepare(r, "SELECT " SEVERITY ", sum(x.n), min(x.t0), max(x.t1) FROM (",
	               QUERY_SCOPE_GROUPS, ") x GROUP BY x.verdict");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int v = sqlite3_column_int(st, 0);
		double s = sqlite3_column_double(st, 2), e = sqlite3_column_double(st, 3);
		n[v < 0 || v > 4 ? 4 : v] += sqlite3_column_int64(st, 1);
		total += sqlite3_column_int64(st, 1);
		t0 = any && t0 < s ? t0 : s;
		t1 = any && t1 > e ? t1 : e;
		any = 1;
	}
	if (rp_finish(r, st, rc) < 0)
		return -1;
	heading(r, 2, "summary", "Summary");
	para_begin(r, NULL);
	if (!total) {
		rp_put(r, "No flow matches the filters.");
	} else {
		query_fmt_time(t0, 0, a, sizeof(a));
		query_fmt_time(t1, 0, b, sizeof(b));
		rp_printf(r, "%lld flows seen from %s to %s UTC: ", total, a, b);
		for (int i = 4; i >= 0; i--) {
			char label[64];
			snprintf(label, sizeof(label), "%lld %s", n[i], report_verdicts[i].name);
			badge(r, report_verdicts[i].name, label);
			rp_put(r, " ");
		}
		rp_printf(r, "%s%lld flows do not fit the matrix.", r->md ? "\n\n" : "<br>",
		          total - n[4]);
	}
	para_end(r);
	return 0;
}

/* The document's head: title, source, filters, contents. */
static void document_begin(struct rep *r)
{
	char now[40];

	const char *co = r->md ? "" : "<code>", *cc = r->md ? "" : "</code>";

	query_fmt_time((double)r->o->now, 0, now, sizeof(now));
	if (!r->md) {
		rp_put(r,
		       "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n"
		       "<meta name=\"color-scheme\" content=\"light dark\">\n"
		       "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
		       "<title>smaudit audit report</title>\n<style>\n");
		rp_put(r, css);
		rp_put(r, "</style></head><body>\n");
	}
	rp_put(r, r->md ? "# smaudit audit report\n\nDatabase "
	                : "<h1>smaudit audit report</h1>\n<p class=\"meta\">Database ");
	rp_put(r, co);
	rp_esc(r, r->o->db_name);
	rp_printf(r, "%s, made %s UTC", cc, now);
	if (r->o->filters && *r->o->filters) {
		rp_printf(r, ", filters%s %s", r->md ? ":" : "", co);
		rp_esc(r, r->o->filters);
		rp_put(r, cc);
	}
	if (r->md) {
		rp_put(r, ".\n");
		return;
	}
	rp_put(r, ". Contents: <a href=\"#summary\">summary</a>, <a href=\"#audited\">what was "
	          "audited</a>, <a href=\"#matrix\">port matrix</a>, <a href=\"#findings\">"
	          "findings</a>, <a href=\"#unchecked\">not checked</a>, <a href=\"#peers\">peer "
	          "map</a>.</p>\n");
}

/* 1 if table has column (a database written by an older smaudit lacks
 * the columns added since; the report only reads, never migrates). */
static int has_column(sqlite3 *db, const char *table, const char *column)
{
	sqlite3_stmt *st;
	int n = 0;

	if (sqlite3_prepare_v2(db, "SELECT count(*) FROM pragma_table_info(?1) WHERE name = ?2", -1,
	                       &st, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_text(st, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, column, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return n > 0;
}

int report_write(sqlite3 *db, const struct report_opts *o, FILE *out, char *err, size_t errlen)
{
	struct rep *r = calloc(1, sizeof(*r));
	int rc;

	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->out = out;
	r->md = o->format == REPORT_MD;
	r->db = db;
	r->o = o;
	r->err = err;
	r->errlen = errlen;
	r->new_runs = has_column(db, "runs", "roles") && has_column(db, "runs", "ndpi_version");
	r->has_cid = has_column(db, "flows", "community_id");
	document_begin(r);
	rc = section_summary(r) < 0 || report_timeline(r) < 0 || section_audited(r) < 0 ||
	     section_matrix(r) < 0 || section_findings(r) < 0 || section_unchecked(r) < 0 ||
	     report_peer_map(r) < 0;
	if (!r->md)
		rp_put(r, "</body></html>\n");
	free(r);
	return rc ? -1 : 0;
}
