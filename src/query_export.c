/* query_export.c: flows in other tools' formats, for the query engine.
 *
 * Zeek's conn.log as TSV (its ASCII writer: #fields/#types header, '-' for
 * unset) or as JSON (its JSON writer: the same dotted field names, ts in
 * epoch seconds, unset fields left out), and Suricata's EVE (eve.c). Each
 * reads one flow row at a time from query_flow_stmt, so memory stays flat
 * whatever the number of flows. */
#include <math.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "query_int.h"
#include "smaudit/eve.h"
#include "smaudit/jsonl.h"

/* One conn.log record, borrowed from the current row. */
struct zeek_conn {
	double ts, dur;
	const char *uid, *orig_h, *resp_h, *proto, *state, *hist, *cid, *tunnel;
	int orig_p, resp_p, local_orig, local_resp;
	int64_t orig_bytes, resp_bytes, orig_pkts, orig_ip_bytes, resp_pkts, resp_ip_bytes;
	int64_t missed_bytes;
	char service[32];
};

#define ZEEK_COLS                                                                                  \
	"f.ts_start, f.uid, f.orig_addr, f.orig_port, f.resp_addr, f.resp_port, f.proto,"          \
	" f.app_proto, f.app_confidence, f.ts_end - f.ts_start, f.orig_bytes, f.resp_bytes,"       \
	" f.conn_state, f.direction, f.history, f.orig_pkts, f.orig_ip_bytes, f.resp_pkts,"        \
	" f.resp_ip_bytes, f.community_id, f.tunnel, ifnull(f.missed_bytes, 0)"

/* ---- Zeek ---------------------------------------------------------------- */

/* Zeek's service name for an nDPI protocol name that DPI detected ("" if none). */
static void zeek_service(const char *app, const char *conf, char *buf, size_t len)
{
	static const char *const map[][2] = {
	    {"tls", "ssl"},   {"smtps", "smtp,ssl"}, {"imaps", "imap,ssl"}, {"jabber", "xmpp"},
	    {"http", "http"}, {"smtp", "smtp"},      {"dns", "dns"},        {"ssh", "ssh"},
	    {"ntp", "ntp"},   {"imap", "imap"}};
	size_t n = 0;

	buf[0] = '\0';
	if (!app || !*app || !conf || strcmp(conf, "dpi"))
		return; /* a port guess is not a detection */
	while (app[n] && app[n] != '.' && n + 1 < len)
		n++;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i][0]) == n && !strncasecmp(app, map[i][0], n)) {
			snprintf(buf, len, "%s", map[i][1]);
			return;
		}
}

/* The current row of ZEEK_COLS as a conn.log record. */
static void zeek_row(sqlite3_stmt *st, struct zeek_conn *z)
{
	const char *dir = (const char *)sqlite3_column_text(st, 13);
	const char *proto = (const char *)sqlite3_column_text(st, 6);

	z->ts = sqlite3_column_double(st, 0);
	z->uid = (const char *)sqlite3_column_text(st, 1);
	z->orig_h = (const char *)sqlite3_column_text(st, 2);
	z->orig_p = sqlite3_column_int(st, 3);
	z->resp_h = (const char *)sqlite3_column_text(st, 4);
	z->resp_p = sqlite3_column_int(st, 5);
	z->proto = proto && !strncmp(proto, "icmp", 4) ? "icmp" : proto;
	zeek_service((const char *)sqlite3_column_text(st, 7),
	             (const char *)sqlite3_column_text(st, 8), z->service, sizeof(z->service));
	z->dur = sqlite3_column_double(st, 9);
	z->orig_bytes = sqlite3_column_int64(st, 10);
	z->resp_bytes = sqlite3_column_int64(st, 11);
	z->state = (const char *)sqlite3_column_text(st, 12);
	z->local_orig = dir && (!strcmp(dir, "out") || !strcmp(dir, "local"));
	z->local_resp = dir && (!strcmp(dir, "in") || !strcmp(dir, "local"));
	z->hist = (const char *)sqlite3_column_text(st, 14);
	z->orig_pkts = sqlite3_column_int64(st, 15);
	z->orig_ip_bytes = sqlite3_column_int64(st, 16);
	z->resp_pkts = sqlite3_column_int64(st, 17);
	z->resp_ip_bytes = sqlite3_column_int64(st, 18);
	z->cid = (const char *)sqlite3_column_text(st, 19);
	z->tunnel = (const char *)sqlite3_column_text(st, 20);
	z->missed_bytes = sqlite3_column_int64(st, 21); /* NULL (not measured): 0 */
}

/* s, or Zeek's unset mark '-' when empty. */
static const char *zset(const char *s)
{
	return s && *s ? s : "-";
}

/* A set[string] of one element s for the TSV, '-' when unset: the set
 * separator ',' and what Zeek's ASCII writer escapes written as \xNN. */
static void zeek_set1(FILE *out, const char *s)
{
	if (!s || !*s) {
		putc('-', out);
		return;
	}
	for (; *s; s++)
		if (*s == ',' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f)
			fprintf(out, "\\x%02x", (unsigned char)*s);
		else
			putc(*s, out);
}

/* One TSV line: durations and sizes unset for zero-length flows, as Zeek does;
 * tunnel_parents holds the flow's tunnel (what it came through). */
static int zeek_tsv_line(FILE *out, const struct zeek_conn *z)
{
	fprintf(out, "%.6f\t%s\t%s\t%d\t%s\t%d\t%s\t%s\t", z->ts, zset(z->uid), zset(z->orig_h),
	        z->orig_p, zset(z->resp_h), z->resp_p, zset(z->proto), zset(z->service));
	if (z->dur > 0)
		fprintf(out, "%.6f\t%lld\t%lld\t", z->dur, (long long)z->orig_bytes,
		        (long long)z->resp_bytes);
	else
		fputs("-\t-\t-\t", out);
	fprintf(out, "%s\t%s\t%s\t%lld\t%s\t%lld\t%lld\t%lld\t%lld\t", zset(z->state),
	        z->local_orig ? "T" : "F", z->local_resp ? "T" : "F", (long long)z->missed_bytes,
	        zset(z->hist), (long long)z->orig_pkts, (long long)z->orig_ip_bytes,
	        (long long)z->resp_pkts, (long long)z->resp_ip_bytes);
	zeek_set1(out, z->tunnel);
	return fprintf(out, "\t%s\n", zset(z->cid)) < 0 ? -1 : 0;
}

/* obj[key] = s when s is set (Zeek's JSON writer leaves unset fields out). */
static void zset_json(json_t *o, const char *key, const char *s)
{
	if (s && *s)
		jsonl_set_str(o, key, s);
}

/* One JSON line with the TSV's fields and Zeek's JSON types. */
static int zeek_json_line(FILE *out, const struct zeek_conn *z)
{
	json_t *o = json_object();

	if (!o)
		return -1;
	json_object_set_new(o, "ts", json_real(round(z->ts * 1e6) / 1e6));
	zset_json(o, "uid", z->uid);
	zset_json(o, "id.orig_h", z->orig_h);
	json_object_set_new(o, "id.orig_p", json_integer(z->orig_p));
	zset_json(o, "id.resp_h", z->resp_h);
	json_object_set_new(o, "id.resp_p", json_integer(z->resp_p));
	zset_json(o, "proto", z->proto);
	zset_json(o, "service", z->service);
	if (z->dur > 0) {
		json_object_set_new(o, "duration", json_real(round(z->dur * 1e6) / 1e6));
		json_object_set_new(o, "orig_bytes", json_integer(z->orig_bytes));
		json_object_set_new(o, "resp_bytes", json_integer(z->resp_bytes));
	}
	zset_json(o, "conn_state", z->state);
	json_object_set_new(o, "local_orig", json_boolean(z->local_orig));
	json_object_set_new(o, "local_resp", json_boolean(z->local_resp));
	json_object_set_new(o, "missed_bytes", json_integer(z->missed_bytes));
	zset_json(o, "history", z->hist);
	json_object_set_new(o, "orig_pkts", json_integer(z->orig_pkts));
	json_object_set_new(o, "orig_ip_bytes", json_integer(z->orig_ip_bytes));
	json_object_set_new(o, "resp_pkts", json_integer(z->resp_pkts));
	json_object_set_new(o, "resp_ip_bytes", json_integer(z->resp_ip_bytes));
	if (z->tunnel && *z->tunnel) {
		json_t *set = json_array();
		json_array_append_new(set, jsonl_string(z->tunnel, strlen(z->tunnel)));
		json_object_set_new(o, "tunnel_parents", set);
	}
	zset_json(o, "community_id", z->cid);
	return jsonl_write(out, o);
}

/* "#open"/"#close" stamp: now, as Zeek writes it. */
static const char *zeek_stamp(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%d-%H-%M-%S", &tm);
	return buf;
}

static void zeek_tsv_header(FILE *out)
{
	char stamp[32];

	fprintf(out,
	        "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n"
	        "#unset_field\t-\n#path\tconn\n#open\t%s\n",
	        zeek_stamp(stamp, sizeof(stamp)));
	fputs("#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\tservice\t"
	      "duration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\tlocal_resp\t"
	      "missed_bytes\thistory\torig_pkts\torig_ip_bytes\tresp_pkts\tresp_ip_bytes\t"
	      "tunnel_parents\tcommunity_id\n",
	      out);
	fputs("#types\ttime\tstring\taddr\tport\taddr\tport\tenum\tstring\tinterval\tcount\t"
	      "count\tstring\tbool\tbool\tcount\tstring\tcount\tcount\tcount\tcount\t"
	      "set[string]\tstring\n",
	      out);
}

int64_t query_zeek(sqlite3 *db, enum query_kind kind, const struct query_filter *f, int json,
                   FILE *out, char *err, size_t errlen)
{
	sqlite3_stmt *st = query_flow_stmt(db, kind, f, ZEEK_COLS, err, errlen);
	int64_t rows = 0;
	int rc;

	if (!st)
		return -1;
	if (!json)
		zeek_tsv_header(out);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct zeek_conn z;
		zeek_row(st, &z);
		if ((json ? zeek_json_line(out, &z) : zeek_tsv_line(out, &z)) < 0) {
			snprintf(err, errlen, "out of memory or output failed");
			break;
		}
		rows++;
	}
	if (rc == SQLITE_DONE && !json) {
		char stamp[32];
		fprintf(out, "#close\t%s\n", zeek_stamp(stamp, sizeof(stamp)));
	} else if (rc != SQLITE_DONE && rc != SQLITE_ROW) {
		snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
	}
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? rows : -1;
}

/* ---- EVE ----------------------------------------------------------------- */

#define EVE_COLS                                                                                   \
	"f.uid, f.ts_start, f.ts_end, f.proto, f.orig_addr, f.orig_port, f.resp_addr,"             \
	" f.resp_port, ifnull(f.vlan, 0), f.app_proto, f.app_confidence, f.community_id,"          \
	" f.orig_pkts, f.resp_pkts, f.orig_ip_bytes, f.resp_ip_bytes, f.conn_state,"               \
	" f.end_reason, f.direction, f.rule_id, ifnull((SELECT rr.row FROM run_rules rr"           \
	" WHERE rr.run_id = f.run_id AND rr.rule_id = f.rule_id), 0), f.verdict, f.reason,"        \
	" f.server_name"

/* Text column c of the current row, NULL when NULL. */
static const char *txt(sqlite3_stmt *st, int c)
{
	return (const char *)sqlite3_column_text(st, c);
}

/* The current row of EVE_COLS as an eve_flow. */
static void eve_row(sqlite3_stmt *st, struct eve_flow *e)
{
	e->uid = txt(st, 0);
	e->ts_start = sqlite3_column_double(st, 1);
	e->ts_end = sqlite3_column_double(st, 2);
	e->proto = txt(st, 3);
	e->orig_addr = txt(st, 4);
	e->orig_port = sqlite3_column_int(st, 5);
	e->resp_addr = txt(st, 6);
	e->resp_port = sqlite3_column_int(st, 7);
	e->vlan = sqlite3_column_int(st, 8);
	e->app_proto = txt(st, 9);
	e->app_confidence = txt(st, 10);
	e->community_id = txt(st, 11);
	e->orig_pkts = sqlite3_column_int64(st, 12);
	e->resp_pkts = sqlite3_column_int64(st, 13);
	e->orig_ip_bytes = sqlite3_column_int64(st, 14);
	e->resp_ip_bytes = sqlite3_column_int64(st, 15);
	e->conn_state = txt(st, 16);
	e->end_reason = txt(st, 17);
	e->direction = txt(st, 18);
	e->rule_id = txt(st, 19);
	e->rule_row = sqlite3_column_int(st, 20);
	e->verdict = txt(st, 21);
	e->reason = txt(st, 22);
	e->server_name = txt(st, 23);
}

int64_t query_eve(sqlite3 *db, enum query_kind kind, const struct query_filter *f, FILE *out,
                  char *err, size_t errlen)
{
	sqlite3_stmt *st = query_flow_stmt(db, kind, f, EVE_COLS, err, errlen);
	int64_t rows = 0;
	int rc;

	if (!st)
		return -1;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct eve_flow e;
		eve_row(st, &e);
		if (eve_write(out, &e) < 0) {
			snprintf(err, errlen, "out of memory or output failed");
			break;
		}
		rows++;
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		snprintf(err, errlen, "query failed: %s", sqlite3_errmsg(db));
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? rows : -1;
}
