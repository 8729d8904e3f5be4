/* report_svg.c: the report's pictures, as inline SVG (no script, no
 * external resource; colours come from the page's CSS classes, so they
 * follow light and dark mode and print).
 *
 * Flows over time: the window cut into at most TL_BUCKETS equal slices,
 * one bar per slice stacked by verdict, counted in SQL (GROUP BY slice).
 * A window of TL_BUCKETS hours or more is cut into slices of whole hours, so
 * the flow roll-up's hours (QUERY_SCOPE_GROUPS) count them without reading
 * every flow; a shorter one into slices of its own span, from the flows
 * (the demo's seconds stay readable). The peer map:
 * the busiest peers on each side of the host (those that connect to it on
 * the left, those it connects to on the right), grouped by role, each line
 * coloured by the worst verdict of its flows. Markdown gets the same numbers
 * as tables. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "report_int.h"
#include "smaudit/store.h"

/* ---- things you may reasonably want to change ---- */
#define TL_BUCKETS   60 /* bars of the timeline */
#define MAP_PER_SIDE 20 /* peers drawn on each side of the host */
#define MAP_TOP      44 /* first peer box */
#define MAP_ROW      42 /* height of one peer row */

/* SQL: rank of f.verdict, worst first (report_verdicts order). */
#define SEVERITY_OF(v)                                                                             \
	"CASE " v " WHEN 'protocol-mismatch' THEN 0 WHEN 'unexpected-peer' THEN 1"                 \
	" WHEN 'unexpected-port' THEN 2 WHEN 'unexpected-direction' THEN 3 ELSE 4 END"
#define F_SEVERITY SEVERITY_OF("f.verdict")
#define X_SEVERITY SEVERITY_OF("x.verdict")

/* The window of the flows shown: first and last start, and their count;
 * from flows, or (groups) from the roll-up's groups, whose starts are
 * their hours. */
static int flow_window(struct rep *r, int groups, double *t0, double *t1, long long *n)
{
	sqlite3_stmt *st =
	    groups ? rp_prepare(r, "SELECT min(x.t), max(x.t), sum(x.n) FROM (", QUERY_SCOPE_GROUPS,
	                        ") x")
	           : rp_prepare(r,
	                        "SELECT min(f.ts_start), max(f.ts_start), count(*) FROM flows f"
	                        " WHERE 1",
	                        QUERY_SCOPE_FLOWS, "");
	int rc;

	if (!st)
		return -1;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*t0 = sqlite3_column_double(st, 0);
		*t1 = sqlite3_column_double(st, 1);
		*n = sqlite3_column_int64(st, 2);
	}
	return rp_finish(r, st, rc);
}

/* Count flows per slice and verdict into c, from flows, or (groups) from
 * roll-up groups, whose slices are whole hours. */
static int timeline_counts(struct rep *r, double t0, double w, int groups,
                           long long c[TL_BUCKETS][5])
{
	char head[512];
	sqlite3_stmt *st;
	int rc;

	/* numbers computed here (never user text) go into the SQL as literals */
	if (groups)
		snprintf(head, sizeof(head),
		         "SELECT min(CAST((x.t - %.17g) / %.17g AS INTEGER), %d), " X_SEVERITY
		         ", sum(x.n) FROM (",
		         t0, w, TL_BUCKETS - 1);
	else
		snprintf(
		    head, sizeof(head),
		    "SELECT min(CAST((f.ts_start - %.17g) / %.17g AS INTEGER), %d), " F_SEVERITY
		    ", count(*) FROM flows f WHERE 1",
		    t0, w, TL_BUCKETS - 1);
	st = rp_prepare(r, head, groups ? QUERY_SCOPE_GROUPS : QUERY_SCOPE_FLOWS,
	                groups ? ") x GROUP BY 1, 2" : " GROUP BY 1, 2");
	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int b = sqlite3_column_int(st, 0), v = sqlite3_column_int(st, 1);
		if (b >= 0 && b < TL_BUCKETS && v >= 0 && v < 5)
			c[b][v] += sqlite3_column_int64(st, 2);
	}
	return rp_finish(r, st, rc);
}

/* "per 12 h slice" or "per 4.5 s slice" into buf. */
static void slice_words(double w, char *buf, size_t len)
{
	if (w >= STORE_ROLLUP_SECONDS && fmod(w, STORE_ROLLUP_SECONDS) == 0)
		snprintf(buf, len, "%.0f h", w / STORE_ROLLUP_SECONDS);
	else
		snprintf(buf, len, "%.3g s", w);
}

/* The legend of verdict colours at (x, y). */
static void legend(struct rep *r, int x, int y)
{
	for (int v = 4; v >= 0; v--) {
		rp_printf(r,
		          "<rect class=\"s-%s\" x=\"%d\" y=\"%d\" width=\"12\" height=\"12\"/>"
		          "<text x=\"%d\" y=\"%d\">%s</text>\n",
		          report_verdicts[v].name, x, y, x + 16, y + 11, report_verdicts[v].name);
		x += 30 + 7 * (int)strlen(report_verdicts[v].name);
	}
}

/* The timeline as stacked bars. */
static void timeline_svg(struct rep *r, double t0, double w, long long c[TL_BUCKETS][5])
{
	const int W = 1000, H = 250, L = 56, B = 52, T = 30;
	const double bw = (double)(W - L - 10) / TL_BUCKETS;
	long long max = 1;
	char a[40], b[40], per[32];

	for (int i = 0; i < TL_BUCKETS; i++) {
		long long s = 0;
		for (int v = 0; v < 5; v++)
			s += c[i][v];
		max = s > max ? s : max;
	}
	rp_printf(r,
	          "<svg viewBox=\"0 0 %d %d\" role=\"img\" aria-label=\"flows over time by "
	          "verdict\">\n",
	          W, H);
	legend(r, L, 6);
	for (int i = 0; i < TL_BUCKETS; i++) {
		double y = H - B;
		for (int v = 4; v >= 0; v--) {
			double h = (double)c[i][v] * (H - B - T) / (double)max;
			if (!c[i][v])
				continue;
			y -= h;
			rp_printf(r,
			          "<rect class=\"s-%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" "
			          "height=\"%.1f\"><title>%lld %s</title></rect>\n",
			          report_verdicts[v].name, L + i * bw + 1, y, bw - 2, h, c[i][v],
			          report_verdicts[v].name);
		}
	}
	query_fmt_time(t0, 0, a, sizeof(a));
	query_fmt_time(t0 + w * TL_BUCKETS, 0, b, sizeof(b));
	slice_words(w, per, sizeof(per));
	rp_printf(r,
	          "<path class=\"ax\" d=\"M%d %d V%d H%d\"/>\n"
	          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%lld</text>"
	          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">0</text>\n"
	          "<text x=\"%d\" y=\"%d\">%s UTC</text>"
	          "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">%s UTC</text>\n"
	          "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">flows started per %s "
	          "slice</text>\n</svg>\n",
	          L, T, H - B, W - 10, L - 6, T + 10, max, L - 6, H - B, L, H - B + 18, a, W - 10,
	          H - B + 18, b, (L + W) / 2, H - 8, per);
}

/* The timeline as a table of non-empty slices (Markdown). */
static void timeline_md(struct rep *r, double t0, double w, long long c[TL_BUCKETS][5])
{
	char per[32];

	slice_words(w, per, sizeof(per));
	rp_printf(r, "\nFlows started per %s slice:\n\n| Slice start (UTC) |", per);
	for (int v = 4; v >= 0; v--)
		rp_printf(r, " %s |", report_verdicts[v].name);
	rp_put(r, "\n|---|---|---|---|---|---|\n");
	for (int i = 0; i < TL_BUCKETS; i++) {
		char a[40];
		long long s = 0;
		for (int v = 0; v < 5; v++)
			s += c[i][v];
		if (!s)
			continue;
		query_fmt_time(t0 + i * w, 0, a, sizeof(a));
		rp_printf(r, "| %s |", a);
		for (int v = 4; v >= 0; v--)
			rp_printf(r, " %lld |", c[i][v]);
		rp_put(r, "\n");
	}
}

int report_timeline(struct rep *r)
{
	long long(*c)[5] = calloc(TL_BUCKETS, sizeof(*c));
	double t0 = 0, t1 = 0, w;
	int64_t h0, h1;
	long long n = 0;
	int rc = -1, hours;

	if (!c) {
		snprintf(r->err, r->errlen, "out of memory");
		return -1;
	}
	if (flow_window(r, 1, &t0, &t1, &n) < 0)
		goto out;
	rc = 0;
	if (!n)
		goto out;
	h0 = store_hour(t0);
	h1 = store_hour(t1);
	/* a long window: slices of whole hours (the roll-up's), from the first
	 * flow's hour; a short one: the flows' own span, the last flow inside
	 * the last slice, an instant in 1 s */
	hours = h1 - h0 + 1 >= TL_BUCKETS;
	if (hours) {
		t0 = (double)h0 * STORE_ROLLUP_SECONDS;
		w = (double)((h1 - h0 + TL_BUCKETS) / TL_BUCKETS) * STORE_ROLLUP_SECONDS;
	} else {
		rc = flow_window(r, 0, &t0, &t1, &n);
		if (rc < 0 || !n)
			goto out;
		w = t1 > t0 ? (t1 - t0) * 1.0001 / TL_BUCKETS : 1.0 / TL_BUCKETS;
	}
	if (timeline_counts(r, t0, w, hours, c) < 0) {
		rc = -1;
		goto out;
	}
	rp_put(r, r->md ? "\n### Flows over time\n" : "<h3>Flows over time, by verdict</h3>\n");
	if (r->md)
		timeline_md(r, t0, w, c);
	else
		timeline_svg(r, t0, w, c);
out:
	free(c);
	return rc;
}

/* ---- the peer map ---- */

struct map_peer {
	char addr[ADDR_STRLEN];
	char ports[28];
	const char *role; /* owned by r->roles, or NULL */
	long long flows;
	int worst; /* report_verdicts index */
	int in;    /* 1: the peer connects to the host */
};

/* Role first (peers without a role last), then busiest first, then by
 * address. */
static int peer_cmp(const void *pa, const void *pb)
{
	const struct map_peer *a = pa, *b = pb;
	int c;

	if (!a->role != !b->role)
		return a->role ? -1 : 1;
	if (a->role && (c = strcmp(a->role, b->role)) != 0)
		return c;
	if (a->flows != b->flows)
		return a->flows > b->flows ? -1 : 1;
	if ((c = strcmp(a->addr, b->addr)) != 0)
		return c;
	return b->in - a->in; /* as the statement orders them: a total order */
}

/* "443,80,25" -> "25,80,443" into buf; cut with "..." when it does not
 * fit. The smallest ports are shown whatever the order of list. */
static void sorted_ports(const char *list, char *buf, size_t len)
{
	int p[64], n = 0, all = 0;
	size_t off = 0;

	for (const char *s = list; *s; s += strcspn(s, ",") + (s[strcspn(s, ",")] != 0)) {
		int v = atoi(s), i;
		all++;
		if (n == 64 && v >= p[63])
			continue;
		i = n < 64 ? n++ : 63; /* insert v in order, the largest falls off */
		for (; i > 0 && p[i - 1] > v; i--)
			p[i] = p[i - 1];
		p[i] = v;
	}
	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		char one[16];
		int w = snprintf(one, sizeof(one), "%s%d", i ? "," : "", p[i]);
		if (off + (size_t)w + 4 >= len || (i == 63 && all > 64)) {
			snprintf(buf + off, len - off, ",...");
			return;
		}
		memcpy(buf + off, one, (size_t)w + 1);
		off += (size_t)w;
	}
}

/* Read the busiest peers of each side into p; returns their count. */
static int map_peers(struct rep *r, struct map_peer *p, long long *more)
{
	int n = 0, side[2] = {0, 0}, rc;
	sqlite3_stmt *st = rp_prepare(
	    r,
	    "SELECT x.d, x.peer_addr, sum(x.n), min(" X_SEVERITY "), group_concat(DISTINCT x.port)"
	    " FROM (",
	    QUERY_SCOPE_PEERS,
	    ") x GROUP BY x.d, x.peer_addr ORDER BY sum(x.n) DESC, x.peer_addr, x.d DESC");

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int in = sqlite3_column_int(st, 0) != 0;
		struct map_peer *q = &p[n];
		if (side[in] >= MAP_PER_SIDE) {
			(*more)++;
			continue;
		}
		side[in]++;
		snprintf(q->addr, sizeof(q->addr), "%s", rp_col(st, 1));
		sorted_ports(rp_col(st, 4), q->ports, sizeof(q->ports));
		q->role = rp_role_of(r, q->addr);
		q->flows = sqlite3_column_int64(st, 2);
		q->worst = sqlite3_column_int(st, 3);
		q->worst = q->worst < 0 || q->worst > 4 ? 4 : q->worst;
		q->in = in;
		n++;
	}
	if (rp_finish(r, st, rc) < 0)
		return -1;
	qsort(p, (size_t)n, sizeof(*p), peer_cmp);
	return n;
}

/* One peer's box (address and role; flows and ports below) and its line
 * to the host box. */
static void map_peer_svg(struct rep *r, const struct map_peer *q, int row, int hy)
{
	const int bx = q->in ? 20 : 690, by = MAP_TOP + row * MAP_ROW, bw = 290;
	const int lx = q->in ? bx + bw : bx, hx = q->in ? 430 : 570;
	double sw = 1.5 + log2((double)q->flows);

	rp_printf(r,
	          "<path class=\"s-%s\" stroke-width=\"%.1f\" d=\"M%d %d C%d %d %d %d %d %d\" "
	          "style=\"fill:none\"/>\n",
	          report_verdicts[q->worst].name, sw > 7 ? 7 : sw, lx, by + 18, (lx + hx) / 2,
	          by + 18, (lx + hx) / 2, hy, hx, hy);
	rp_printf(r, "<rect class=\"box\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"36\" rx=\"4\"/>",
	          bx, by, bw);
	rp_printf(r, "<rect class=\"s-%s\" x=\"%d\" y=\"%d\" width=\"6\" height=\"36\"/>",
	          report_verdicts[q->worst].name, q->in ? bx : bx + bw - 6, by);
	rp_printf(r, "<text x=\"%d\" y=\"%d\">", bx + 12, by + 15);
	rp_esc(r, q->addr);
	if (q->role) {
		rp_put(r, " (");
		rp_esc(r, q->role);
		rp_put(r, ")");
	}
	rp_printf(r, "</text><text class=\"small\" x=\"%d\" y=\"%d\">%lld flow%s \u00b7 port ",
	          bx + 12, by + 30, q->flows, q->flows == 1 ? "" : "s");
	rp_esc(r, q->ports);
	rp_put(r, "</text>\n");
}

static void map_svg(struct rep *r, const struct map_peer *p, int n)
{
	int nin = 0, nout = 0, rows, H, hy;

	for (int i = 0; i < n; i++)
		p[i].in ? nin++ : nout++;
	rows = nin > nout ? nin : nout;
	rows = rows > 2 ? rows : 2;
	H = MAP_TOP + rows * MAP_ROW + 30;
	hy = MAP_TOP + (rows * MAP_ROW) / 2 - 20;
	rp_printf(r, "<svg viewBox=\"0 0 1000 %d\" role=\"img\" aria-label=\"peer map\">\n", H);
	rp_put(r, "<text x=\"20\" y=\"30\">connect to the host</text>"
	          "<text x=\"980\" y=\"30\" text-anchor=\"end\">the host connects to</text>\n");
	nin = nout = 0;
	for (int i = 0; i < n; i++)
		map_peer_svg(r, &p[i], p[i].in ? nin++ : nout++, hy + 20);
	rp_printf(r,
	          "<rect class=\"box\" x=\"430\" y=\"%d\" width=\"140\" height=\"40\" rx=\"6\"/>"
	          "<text x=\"500\" y=\"%d\" text-anchor=\"middle\">monitored host</text>\n",
	          hy, hy + 25);
	legend(r, 20, H - 20);
	rp_put(r, "</svg>\n");
}

static void map_md(struct rep *r, const struct map_peer *p, int n)
{
	rp_put(r, "\n| Side | Peer | Role | Flows | Worst verdict | Ports |\n"
	          "|---|---|---|---|---|---|\n");
	for (int i = 0; i < n; i++) {
		rp_printf(r, "| %s | ", p[i].in ? "connects to the host" : "the host connects to");
		rp_esc(r, p[i].addr);
		rp_put(r, " | ");
		rp_esc(r, p[i].role ? p[i].role : "-");
		rp_printf(r, " | %lld | %s | ", p[i].flows, report_verdicts[p[i].worst].name);
		rp_esc(r, p[i].ports);
		rp_put(r, " |\n");
	}
}

int report_peer_map(struct rep *r)
{
	struct map_peer *p = calloc(2 * MAP_PER_SIDE, sizeof(*p));
	long long more = 0;
	int n;

	if (!p) {
		snprintf(r->err, r->errlen, "out of memory");
		return -1;
	}
	n = map_peers(r, p, &more);
	if (n >= 0) {
		rp_put(r, r->md ? "\n## Peer map\n" : "<h2 id=\"peers\">Peer map</h2>\n");
		if (r->md)
			map_md(r, p, n);
		else if (n)
			map_svg(r, p, n);
		rp_put(r, r->md ? "\n" : "<p class=\"mute\">");
		rp_printf(r, "Who talks to the host, grouped by role; a line's colour is the worst "
		             "verdict of its flows, its width grows with their number.");
		if (more)
			rp_printf(r,
			          " %lld less busy peers not drawn (smaudit query flows lists "
			          "them).",
			          more);
		rp_put(r, r->md ? "\n" : "</p>\n");
	}
	free(p);
	return n < 0 ? -1 : 0;
}
