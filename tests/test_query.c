/* test_query.c: `smaudit query` end to end on a real SQLite file.
 *
 * Each test builds a database in a fresh temp dir from the compiled-in
 * schema (store_schema_sql) plus a small, hand-made set of runs, rules and
 * flows inserted with bound SQL, then runs the real binary and checks the
 * rows it prints in each format, the filters, the coverage marks, exit
 * codes and hostile input. JSON and CSV are also parsed by python3 to prove
 * they are well formed. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>

#include "smaudit/store.h"
#include "testutil.h"

extern const char store_schema_sql[];

static char dir[64];
static char dbpath[128];
static char out[1 << 16];
static time_t now_at_setup;

/* 2024-05-01T10:00:00Z and 2024-05-02T00:00:00Z */
#define T1 1714557600.0
#define T2 1714608000.0

/* A reason with every escaping hazard: quotes, comma, newline, tab, a
 * control byte, non-ASCII. */
#define NASTY_REASON "app \"SSH\", not HTTP\nsecond line\ttab \001 caf\xc3\xa9"
/* A server name an attacker chose: SQL, CSV formula, CRLF, bidi override,
 * an invalid UTF-8 byte. */
#define NASTY_SNI "=cmd|'; DROP TABLE flows;--\r\nx\xe2\x80\xae\xff"

static void exec_sql(sqlite3 *db, const char *sql)
{
	char *e = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &e);
	cr_assert_eq(rc, SQLITE_OK, "%s: %s", sql, e ? e : "");
}

/* Run sql on the database file at path (opened and closed for it). */
static void exec_file(const char *path, const char *sql)
{
	sqlite3 *db;

	cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
	exec_sql(db, sql);
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

static void add_flow(sqlite3_stmt *st, int run, const char *uid, double ts, const char *proto,
                     const char *oa, int op, const char *ra, int rp, const char *dir_,
                     const char *peer, int ob, int rb, const char *app, const char *sni,
                     const char *rule, const char *verdict, const char *reason)
{
	int i = 1;
	sqlite3_reset(st);
	sqlite3_bind_int(st, i++, run);
	sqlite3_bind_text(st, i++, uid, -1, SQLITE_STATIC);
	sqlite3_bind_double(st, i++, ts);
	sqlite3_bind_double(st, i++, ts + 2.5);
	sqlite3_bind_text(st, i++, proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, oa, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, op);
	sqlite3_bind_text(st, i++, ra, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, rp);
	sqlite3_bind_text(st, i++, dir_, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, peer, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, i++, ob);
	sqlite3_bind_int(st, i++, rb);
	sqlite3_bind_text(st, i++, app, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, sni, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, rule, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, verdict, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, i++, reason, -1, SQLITE_STATIC);
	cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
}

/* The fixture: run 1 (read, complete) and run 2 (live, running). */
static void setup(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;

	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(dbpath, sizeof(dbpath), "%s/t.db", dir);
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	exec_sql(db, "PRAGMA journal_mode=WAL");
	exec_sql(db, store_schema_sql);
	exec_sql(db,
	         "INSERT INTO runs (id, mode, source, hosts, started, finished, packets, malformed,"
	         " flows, status) VALUES"
	         " (1, 'read', 'pcaps/a.pcap' || char(10) || 'pcaps/b.pcap', '127.0.0.10',"
	         "  '2024-05-01T10:00:00Z', '2024-05-01T10:00:05Z', 1000, 3, 6, 'complete'),"
	         " (2, 'live', 'lo', '127.0.0.10', '2024-05-02T00:00:00Z', NULL, 50, 0, 3,"
	         "  'running');"
	         "INSERT INTO run_rules (run_id, rule_id, row, direction, proto, port, peer, apps,"
	         " description) VALUES"
	         " (1, 'https-in', 1, 'in', 'tcp', 443, 'any', 'TLS,HTTP', 'Agent desktop'),"
	         " (1, 'http-in', 2, 'in', 'tcp', 80, 'any', 'HTTP', 'Redirect'),"
	         " (1, 'smtp-to-mail', 5, 'out', 'tcp', 25, 'mail', 'SMTP', 'Mail, \"out\"'),"
	         " (1, 'xmpp-in', 7, 'in', 'tcp', 5222, 'xmpp', 'Jabber', 'Chat'),"
	         " (2, 'https-in', 1, 'in', 'tcp', 443, 'any', 'TLS,HTTP', 'Agent desktop'),"
	         " (2, 'smtp-to-mail', 5, 'out', 'tcp', 25, 'mail', 'SMTP', 'Mail'),"
	         " (2, 'site-syslog', NULL, 'out', 'udp', 514, 'any', NULL, 'Syslog');");
	cr_assert_eq(
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr,"
	                       " orig_port, resp_addr, resp_port, direction, peer_addr, orig_pkts,"
	                       " orig_ip_bytes, orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes,"
	                       " end_reason, app_proto, app_confidence, server_name, rule_id,"
	                       " verdict, reason, missed_bytes) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7,"
	                       " ?8, ?9, ?10, ?11, 3, ?12 + 120, ?12, 3, ?13 + 120, ?13, 'closed',"
	                       " ?14, 'dpi', ?15, ?16, ?17, ?18, 0)",
	                       -1, &st, NULL),
	    SQLITE_OK);
	exec_sql(db, "BEGIN");
	add_flow(st, 1, "C1", T1 + 0.5, "tcp", "127.0.0.50", 40000, "127.0.0.10", 443, "in",
	         "127.0.0.50", 1000, 5000, "TLS", "sm.example.com", "https-in", "expected", NULL);
	add_flow(st, 1, "C2", T1 + 10, "tcp", "127.0.0.51", 40001, "127.0.0.10", 443, "in",
	         "127.0.0.51", 200, 300, "TLS", NASTY_SNI, "https-in", "expected", NULL);
	add_flow(st, 1, "C3", T1 + 20, "tcp", "127.0.0.10", 50000, "127.0.0.23", 25, "out",
	         "127.0.0.23", 4000, 100, "SMTP", "mail", "smtp-to-mail", "expected", NULL);
	add_flow(st, 1, "C4", T1 + 30, "tcp", "127.0.0.66", 50001, "127.0.0.10", 4444, "in",
	         "127.0.0.66", 10, 20, NULL, NULL, NULL, "unexpected-port",
	         "no rule for tcp/4444 inbound");
	add_flow(st, 1, "C5", T1 + 40, "tcp", "127.0.0.66", 50002, "127.0.0.10", 4444, "in",
	         "127.0.0.66", 30, 40, NULL, NULL, NULL, "unexpected-port",
	         "no rule for tcp/4444 inbound");
	add_flow(st, 1, "C6", T1 + 50, "tcp", "127.0.0.52", 40002, "127.0.0.10", 80, "in",
	         "127.0.0.52", 700, 800, "SSH", NULL, "http-in", "protocol-mismatch", NASTY_REASON);
	add_flow(st, 2, "C7", T2 + 100, "tcp", "127.0.0.10", 50003, "127.0.0.68", 25, "out",
	         "127.0.0.68", 2000, 100, "SMTP", NULL, "smtp-to-mail", "unexpected-peer",
	         "127.0.0.68 is not mail");
	add_flow(st, 2, "C8", T2 + 200, "tcp", "2001:db8::50", 40003, "2001:db8::10", 443, "in",
	         "2001:db8::50", 900, 9000, "TLS", NULL, "https-in", "expected", NULL);
	now_at_setup = time(NULL);
	add_flow(st, 2, "C9", (double)now_at_setup - 3600, "tcp", "127.0.0.69", 50004, "127.0.0.10",
	         23, "in", "127.0.0.69", 5, 5, NULL, NULL, NULL, "unexpected-port",
	         "no rule for tcp/23 inbound");
	exec_sql(db, "COMMIT");
	sqlite3_finalize(st);
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
}

static int mounted; /* a test mounted a tmpfs at dir/ro */

static void teardown(void)
{
	if (mounted) {
		char cmd[160];
		snprintf(cmd, sizeof(cmd), "umount %s/ro", dir);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
		mounted = 0;
	}
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(query, .init = setup, .fini = teardown);

/* Single-quote s for sh (rotating static buffers). */
static const char *sq(const char *s)
{
	static char bufs[8][1024];
	static int n;
	char *b = bufs[n++ % 8], *p = b;

	*p++ = '\'';
	for (; *s && p < b + sizeof(bufs[0]) - 6; s++) {
		if (*s == '\'') {
			memcpy(p, "'\\''", 4);
			p += 4;
		} else {
			*p++ = *s;
		}
	}
	*p++ = '\'';
	*p = '\0';
	return b;
}

/* Run `smaudit query ARGS --db <fixture>`, stdout only into out; exit code. */
static int q(const char *args)
{
	return tu_run(out, sizeof(out), SMAUDIT_BIN " query %s --db %s 2>/dev/null", args,
	              sq(dbpath));
}

/* Same, stderr only. */
static int q_err(const char *args)
{
	return tu_run(out, sizeof(out), "{ " SMAUDIT_BIN " query %s --db %s 2>&1 >/dev/null; }",
	              args, sq(dbpath));
}

static int count_lines(const char *s)
{
	int n = 0;
	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* CSV records (header included): line ends outside quoted fields. */
static int csv_records(const char *s)
{
	int n = 0, quoted = 0;
	for (; *s; s++) {
		if (*s == '"')
			quoted = !quoted;
		else if (*s == '\n' && !quoted)
			n++;
	}
	return n;
}

/* FNV-1a of a whole file, and its size: "the database did not change". */
static unsigned long long file_hash(const char *path)
{
	FILE *f = fopen(path, "rb");
	unsigned long long h = 1469598103934665603ULL;
	int c;

	cr_assert_not_null(f);
	while ((c = getc(f)) != EOF)
		h = (h ^ (unsigned char)c) * 1099511628211ULL;
	fclose(f);
	return h;
}

/* ---- formats ---- */

Test(query, runs_csv)
{
	cr_assert_eq(q("runs --format csv"), 0);
	cr_assert_eq(csv_records(out), 3, "%s", out);
	cr_assert(strstr(out, "id,mode,source,started,finished,status,packets,dropped,malformed,"
	                      "flows,flows_lost\r\n"),
	          "%s", out);
	/* the two-line source is quoted (RFC 4180), the NULL finished is empty */
	cr_assert(strstr(out, "1,read,\"pcaps/a.pcap\npcaps/b.pcap\",2024-05-01T10:00:00Z,"
	                      "2024-05-01T10:00:05Z,complete,1000,0,3,6,0\r\n"),
	          "%s", out);
	cr_assert(strstr(out, "2,live,lo,2024-05-02T00:00:00Z,,running,50,0,0,3,0\r\n"), "%s", out);
}

Test(query, anomalies_csv_groups)
{
	/* default format when stdout is not a terminal is CSV */
	cr_assert_eq(q("anomalies"), 0);
	cr_assert_eq(csv_records(out), 5, "%s", out); /* header + 4 groups */
	cr_assert(strstr(out, "verdict,direction,peer,port,proto,app,flows,bytes,first_seen,"
	                      "last_seen,reason\r\n"));
	/* two flows from 127.0.0.66 to 4444 are one group */
	cr_assert(strstr(out, "unexpected-port,in,127.0.0.66,4444,tcp,,2,100,"
	                      "2024-05-01T10:00:30.000000Z,2024-05-01T10:00:42.500000Z,"
	                      "no rule for tcp/4444 inbound\r\n"),
	          "%s", out);
	cr_assert(strstr(out, "unexpected-peer,out,127.0.0.68,25,tcp,SMTP,1,2100,"), "%s", out);
	cr_assert(strstr(out, "unexpected-port,in,127.0.0.69,23,tcp,,1,10,"), "%s", out);
	/* the nasty reason: quoted, quotes doubled, newline kept inside quotes,
	 * the control byte shown as '?' */
	cr_assert(strstr(out, "protocol-mismatch,in,127.0.0.52,80,tcp,SSH,1,1500,"), "%s", out);
	cr_assert(strstr(out, ",\"app \"\"SSH\"\", not HTTP\nsecond line\ttab ? caf\xc3\xa9\"\r\n"),
	          "%s", out);
	/* expected flows are never anomalies */
	cr_assert_null(strstr(out, "expected,"));
}

Test(query, csv_parses_back)
{
	/* python's csv module reads back the stored values, made safe for a
	 * spreadsheet (OWASP): the formula-leading SNI prefixed with a quote, the
	 * control byte of the reason shown as '?', CR/LF/TAB and bytes kept */
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN
	                " query flows --format csv --db %s | python3 -c '"
	                "import csv,sys\n"
	                "r=list(csv.DictReader(open(0,newline=\"\",encoding=\"utf-8\","
	                "errors=\"surrogateescape\")))\n"
	                "assert len(r)==9, len(r)\n"
	                "c2=[x for x in r if x[\"uid\"]==\"C2\"][0]\n"
	                "assert c2[\"server_name\"].encode(\"utf-8\",\"surrogateescape\")=="
	                "b\"\\x27=cmd|\\x27; DROP TABLE flows;--\\r\\nx\\xe2\\x80\\xae\\xff\", "
	                "repr(c2[\"server_name\"])\n"
	                "c6=[x for x in r if x[\"uid\"]==\"C6\"][0]\n"
	                "assert c6[\"reason\"]==\"app \\\"SSH\\\", not HTTP\\nsecond line\\ttab "
	                "? caf\\u00e9\", repr(c6[\"reason\"])\n"
	                "print(\"ok\")'",
	                sq(dbpath));
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "ok"), "%s", out);
}

Test(query, anomalies_json)
{
	cr_assert_eq(q("anomalies --format json"), 0);
	cr_assert_eq(count_lines(out), 4, "%s", out);
	cr_assert(strstr(out, "{\"verdict\":\"unexpected-port\",\"direction\":\"in\",\"peer\":"
	                      "\"127.0.0.66\",\"port\":4444,\"proto\":\"tcp\",\"app\":null,"
	                      "\"flows\":2,\"bytes\":100,\"first_seen\":"
	                      "\"2024-05-01T10:00:30.000000Z\",\"last_seen\":"
	                      "\"2024-05-01T10:00:42.500000Z\",\"reason\":"
	                      "\"no rule for tcp/4444 inbound\"}\n"),
	          "%s", out);
	/* escapes: quotes, \n, \t, control as \u0001, UTF-8 passed through */
	cr_assert(strstr(out, "\"reason\":\"app \\\"SSH\\\", not HTTP\\nsecond line\\ttab "
	                      "\\u0001 caf\xc3\xa9\"}"),
	          "%s", out);
}

/* Run `query ARGS --format json` on the fixture and feed the lines, parsed
 * strictly (UTF-8, no raw control characters), to python asserts over r,
 * the list of records; the test fails unless they all hold. */
static void json_check(const char *args, const char *asserts)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " query %s --format json --db %s | python3 -c '"
	                            "import json,sys\n"
	                            "r=[json.loads(l) for l in sys.stdin.buffer.read()"
	                            ".decode(\"utf-8\").splitlines()]\n"
	                            "%s\nprint(\"ok\")'",
	                args, sq(dbpath), asserts);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "ok"), "%s", out);
}

Test(query, json_parses_back)
{
	json_check("flows", "assert len(r)==9\n"
	                    "c2=[x for x in r if x[\"uid\"]==\"C2\"][0]\n"
	                    "assert c2[\"server_name\"]==\"=cmd|\\x27; DROP TABLE flows;--\\r\\nx"
	                    "\\u202e\\ufffd\", repr(c2[\"server_name\"])\n"
	                    "assert c2[\"bytes\"]==500 and c2[\"resp_port\"]==443\n"
	                    "assert c2[\"duration\"]==2.5 and c2[\"rule\"]==\"https-in\"\n"
	                    "assert r[0][\"state\"] is None");
}

Test(query, table_format)
{
	const char *line;

	cr_assert_eq(q("anomalies --format table"), 0);
	cr_assert_eq(count_lines(out), 5, "%s", out);
	cr_assert_eq(strncmp(out, "VERDICT ", 8), 0, "%s", out);
	/* readable times and human sizes */
	cr_assert(strstr(out, "2024-05-01 10:00:30"), "%s", out);
	cr_assert(strstr(out, "100 B"), "%s", out);
	/* control characters never reach the terminal */
	cr_assert_null(strchr(out, '\001'));
	cr_assert_null(strchr(out, '\t'));
	cr_assert(strstr(out, "not HTTP second line tab ? caf\xc3\xa9"), "%s", out);
	/* columns are aligned: PEER starts at the same offset on every line */
	{
		const char *hdr = strstr(out, "PEER");
		size_t col = (size_t)(hdr - out);
		line = strchr(out, '\n') + 1;
		while (*line) {
			cr_assert(line[col] == '1' || line[col] == '2', "misaligned: %s", line);
			cr_assert_eq(line[col - 1], ' ');
			line = strchr(line, '\n') + 1;
		}
	}
	/* the hostile SNI: CR/LF become spaces, bidi override and bad byte '?' */
	cr_assert_eq(q("flows --rule https-in --format table"), 0);
	cr_assert(strstr(out, "=cmd|'; DROP TABLE flows;--  x??"), "%s", out);
	cr_assert(strstr(out, "9.7 KiB") && strstr(out, "5.9 KiB"), "%s", out);
	/* empty answer says so */
	cr_assert_eq(q("flows --peer 10.9.9.9 --format table"), 0);
	cr_assert(strstr(out, "(no rows)"), "%s", out);
}

Test(query, table_is_the_default_on_a_terminal)
{
	char cmd[512];

	/* script(1) runs the command with a pseudo-terminal as stdout */
	snprintf(cmd, sizeof(cmd), SMAUDIT_BIN " query runs --db %s", sq(dbpath));
	cr_assert_eq(tu_run(out, sizeof(out), "script -qec %s /dev/null", sq(cmd)), 0, "%s", out);
	cr_assert_eq(strncmp(out, "ID  MODE", 8), 0, "%s", out);
	cr_assert(strstr(out, "pcaps/a.pcap pcaps/b.pcap"), "%s", out);
	/* and CSV through a pipe */
	cr_assert_eq(q("runs"), 0);
	cr_assert_eq(strncmp(out, "id,mode,", 8), 0, "%s", out);
}

/* ---- anomalies options ---- */

Test(query, anomaly_flows_and_fail_on_anomaly)
{
	cr_assert_eq(q("anomalies --flows"), 0);
	cr_assert_eq(csv_records(out), 6, "%s", out); /* header + 5 non-expected flows */
	cr_assert(strstr(out, "\nC4,") == NULL);      /* uid is 3rd column, check by id instead */
	cr_assert_eq(q("anomalies --fail-on-anomaly"), 1);
	cr_assert_eq(q("anomalies --fail-on-anomaly --peer 127.0.0.50"), 0);
	cr_assert_eq(csv_records(out), 1, "%s", out);
	cr_assert_eq(q("anomalies --flows --fail-on-anomaly --verdict unexpected-peer"), 1);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	cr_assert(strstr(out, ",C7,"), "%s", out);
	/* --verdict expected is never an anomaly */
	cr_assert_eq(q("anomalies --verdict expected --fail-on-anomaly"), 0);
	cr_assert_eq(csv_records(out), 1, "%s", out);
}

/* ---- coverage ---- */

/* The CSV line of rule id in out, or NULL. */
static const char *rule_line(const char *id)
{
	char key[64];
	snprintf(key, sizeof(key), "\n%s,", id);
	return strstr(out, key);
}

Test(query, coverage_marks)
{
	cr_assert_eq(q("coverage"), 0);
	cr_assert_eq(csv_records(out), 6, "%s", out); /* header + 5 rules (union of runs) */
	/* https-in: C1, C2, C8 -> 3 flows, 3 expected, 3 peers, 16400 bytes */
	cr_assert(rule_line("https-in"), "%s", out);
	cr_assert(strstr(out, "\nhttps-in,1,in,tcp,443,any,\"TLS,HTTP\",yes,3,3,3,16400,"
	                      "2024-05-01T10:00:00.500000Z,2024-05-02T00:03:22.500000Z,"
	                      "Agent desktop,0\r\n"),
	          "%s", out);
	cr_assert(strstr(out, "\nhttp-in,2,in,tcp,80,any,HTTP,anomalous-only,1,0,1,1500,"), "%s",
	          out);
	/* smtp: one expected, one unexpected-peer; description from the latest run */
	cr_assert(strstr(out, "\nsmtp-to-mail,5,out,tcp,25,mail,SMTP,yes,2,1,2,6200,"), "%s", out);
	cr_assert(strstr(out, ",Mail,0\r\n"), "%s", out);
	/* never seen: documented in the matrix, nothing used them */
	cr_assert(strstr(out, "\nxmpp-in,7,in,tcp,5222,xmpp,Jabber,never,0,0,0,0,,,Chat,0\r\n"),
	          "%s", out);
	cr_assert(strstr(out, "\nsite-syslog,,out,udp,514,any,,never,0,0,0,0,,,Syslog,0\r\n"), "%s",
	          out);
	/* site rules (no row) come last */
	cr_assert(strstr(out, "site-syslog") > strstr(out, "xmpp-in"));
}

Test(query, coverage_window_and_run)
{
	/* run 1 only: its 4 rules, smtp seen once */
	cr_assert_eq(q("coverage --run 1"), 0);
	cr_assert_eq(csv_records(out), 5, "%s", out);
	cr_assert_null(rule_line("site-syslog"));
	cr_assert(strstr(out, "\nsmtp-to-mail,5,out,tcp,25,mail,SMTP,yes,1,1,1,"), "%s", out);
	cr_assert(strstr(out, ",\"Mail, \"\"out\"\"\",0\r\n"), "%s", out);
	/* the day of run 1: run 2 (started at the window's end) is not in force */
	cr_assert_eq(q("coverage --since 2024-05-01 --until 2024-05-02"), 0);
	cr_assert_eq(csv_records(out), 5, "%s", out);
	cr_assert_null(rule_line("site-syslog"));
	cr_assert(strstr(out, "\nhttps-in,1,in,tcp,443,any,\"TLS,HTTP\",yes,2,2,2,6500,"), "%s",
	          out);
	/* a later window with no flows: only the still-running live run is in
	 * force, and none of its rules was seen */
	cr_assert_eq(q("coverage --since 2024-06-01 --until 2024-06-02"), 0);
	cr_assert_eq(csv_records(out), 4, "%s", out);
	cr_assert(strstr(out, "\nhttps-in,1,in,tcp,443,any,\"TLS,HTTP\",never,0,0,0,0,,,"), "%s",
	          out);
	cr_assert_null(rule_line("xmpp-in"));
	/* rule filters */
	cr_assert_eq(q("coverage --port 5222"), 0);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	cr_assert(rule_line("xmpp-in"));
	cr_assert_eq(q("coverage --proto udp"), 0);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	cr_assert(rule_line("site-syslog"));
	/* a peer filter restricts the flows counted, not the rules listed */
	cr_assert_eq(q("coverage --peer 2001:db8::50"), 0);
	cr_assert_eq(csv_records(out), 6, "%s", out);
	cr_assert(strstr(out, "\nhttps-in,1,in,tcp,443,any,\"TLS,HTTP\",yes,1,1,1,9900,"), "%s",
	          out);
	cr_assert(strstr(out, "\nsmtp-to-mail,5,out,tcp,25,mail,SMTP,never,0,"), "%s", out);
}

/* ---- flow filters ---- */

/* Number of data rows of `query flows ARGS` (CSV). */
static int nflows(const char *args)
{
	char a[512];
	snprintf(a, sizeof(a), "flows %s", args);
	cr_assert_eq(q(a), 0, "flows %s: %s", args, out);
	return csv_records(out) - 1;
}

Test(query, flow_filters)
{
	cr_assert_eq(nflows(""), 9);
	cr_assert_eq(nflows("--peer 127.0.0.66"), 2);
	cr_assert_eq(nflows("--peer 127.0.0.64/30"), 2);
	cr_assert_eq(nflows("--peer 127.0.0.0/24"), 8);
	cr_assert_eq(nflows("--peer 2001:DB8:0::50"), 1); /* canonicalised */
	cr_assert_eq(nflows("--peer 2001:db8::/32"), 1);
	cr_assert_eq(nflows("--peer 0.0.0.0/0"), 8);
	cr_assert_eq(nflows("--port 443"), 3);
	cr_assert_eq(nflows("--proto udp"), 0);
	cr_assert_eq(nflows("--proto tcp"), 9);
	cr_assert_eq(nflows("--app tls"), 3);
	cr_assert_eq(nflows("--verdict expected"), 4);
	cr_assert_eq(nflows("--rule https-in"), 3);
	cr_assert_eq(nflows("--run 2"), 3);
	cr_assert_eq(nflows("--limit 2"), 2);
	cr_assert_eq(nflows("--run 1 --port 4444 --verdict unexpected-port"), 2);
	/* time: relative to now, ISO with zone, date only; until is exclusive */
	cr_assert_eq(nflows("--since 24h"), 1);
	cr_assert_eq(nflows("--since 90m"), 1);
	cr_assert_eq(nflows("--since 30m"), 0);
	cr_assert_eq(nflows("--since 2024-05-01T10:00:15Z --until 2024-05-01T10:00:45"), 3);
	cr_assert_eq(nflows("--since 2024-05-01T12:00:15+02:00 --until 2024-05-01T10:00:40Z"), 2);
	cr_assert_eq(nflows("--since '2024-05-01 10:00:10.5' --until 2024-05-01T10:00:20.000001"),
	             1);
	cr_assert_eq(nflows("--since 2024-05-02 --until 2024-05-03"), 2);
	cr_assert_eq(nflows("--until 2024-05-01T10:00:00.5"), 0);
	cr_assert_eq(nflows("--until 2024-05-01T10:00:00.500001"), 1);
	/* flows are listed by start time */
	cr_assert_eq(q("flows --run 1 --limit 1"), 0);
	cr_assert(strstr(out, "\n1,1,C1,,2024-05-01T10:00:00.500000Z,2.500000,tcp,127.0.0.50,"
	                      "40000,127.0.0.10,443,in,127.0.0.50,6,6000,0,,closed,TLS,dpi,"
	                      "sm.example.com,https-in,expected,,,\r\n"),
	          "%s", out);
}

Test(query, runs_window)
{
	cr_assert_eq(q("runs --since 2024-05-01T11:00 --until 2024-05-01T12:00"), 0);
	cr_assert_eq(csv_records(out), 1, "%s", out); /* run 1 finished at 10:00:05 */
	cr_assert_eq(q("runs --since 2024-05-01T10:00:03Z --until 2024-05-01T12:00"), 0);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	/* the live run is still running: in any window after its start */
	cr_assert_eq(q("runs --since 1h"), 0);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	cr_assert(strstr(out, "\n2,live,"), "%s", out);
	cr_assert_eq(q("runs --run 1 --format json"), 0);
	cr_assert(
	    strstr(out, "{\"id\":1,\"mode\":\"read\",\"source\":\"pcaps/a.pcap\\npcaps/b.pcap\""),
	    "%s", out);
	cr_assert(strstr(out, "\"finished\":\"2024-05-01T10:00:05Z\",\"status\":\"complete\","
	                      "\"packets\":1000,\"dropped\":0,\"malformed\":3,\"flows\":6,"
	                      "\"flows_lost\":0}\n"),
	          "%s", out);
}

/* ---- hostile input ---- */

/* Each hostile value: exit code, and for errors a one-line message naming
 * the option; the database file is byte-for-byte unchanged afterwards. */
Test(query, hostile_values)
{
	static const struct {
		const char *args;
		int rc;          /* expected exit */
		int rows;        /* data rows when rc == 0 */
		const char *msg; /* part of the one-line error when rc == 2 */
	} cases[] = {
	    {"flows --rule \"x' OR '1'='1\"", 0, 0, NULL},
	    {"flows --rule \"'; DROP TABLE flows; --\"", 0, 0, NULL},
	    {"flows --rule '%'", 0, 0, NULL},
	    {"flows --app '%'", 0, 0, NULL},
	    {"flows --app '_LS'", 0, 0, NULL},
	    {"flows --app \"TLS' OR 1=1 --\"", 0, 0, NULL},
	    {"coverage --rule \"https-in' --\"", 0, 0, NULL},
	    {"flows --run 9223372036854775807", 0, 0, NULL},
	    {"flows --limit 9223372036854775807", 0, 9, NULL},
	    {"flows --verdict \"expected' OR 1=1 --\"", 2, 0, "--verdict"},
	    {"flows --verdict EXPECTED", 2, 0, "not a verdict"},
	    {"flows --peer \"127.0.0.1' OR 1=1\"", 2, 0, "--peer"},
	    {"flows --peer 1.2.3.4/33", 2, 0, "--peer"},
	    {"flows --peer ::1/129", 2, 0, "--peer"},
	    {"flows --peer 1.2.3.4/-1", 2, 0, "--peer"},
	    {"flows --peer ''", 2, 0, "--peer"},
	    {"flows --peer 300.1.1.1", 2, 0, "--peer"},
	    {"flows --port 0", 2, 0, "--port"},
	    {"flows --port 65536", 2, 0, "--port"},
	    {"flows --port -1", 2, 0, "--port"},
	    {"flows --port 99999999999999999999999", 2, 0, "--port"},
	    {"flows --port '443; DROP TABLE flows'", 2, 0, "--port"},
	    {"flows --port ' 443'", 2, 0, "--port"},
	    /* a terminal escape in a value is not echoed raw */
	    {"flows --port \"$(printf '1\\033[31m')\"", 2, 0, "--port '1?[31m'"},
	    {"flows --run 99999999999999999999", 2, 0, "--run"},
	    {"flows --run 0", 2, 0, "--run"},
	    {"flows --run 1e3", 2, 0, "--run"},
	    {"flows --limit 0", 2, 0, "--limit"},
	    {"flows --limit -5", 2, 0, "--limit"},
	    {"flows --proto TCPX", 2, 0, "--proto"},
	    {"flows --proto \"tcp' OR 1=1\"", 2, 0, "--proto"},
	    {"flows --since 2024-02-30", 2, 0, "--since"},
	    {"flows --since 2024-13-01", 2, 0, "--since"},
	    {"flows --since 2024-05-01T25:00", 2, 0, "--since"},
	    {"flows --since 2024-05-01T10:00Zjunk", 2, 0, "--since"},
	    {"flows --since yesterday", 2, 0, "--since"},
	    {"flows --since 24x", 2, 0, "--since"},
	    {"flows --since 99999999999999999999d", 2, 0, "--since"},
	    {"flows --until \"2024-05-01'; DROP TABLE flows;--\"", 2, 0, "--until"},
	    {"flows --since 2024-05-02 --until 2024-05-01", 2, 0, "--since"},
	    {"flows --format xml", 2, 0, "--format"},
	    {"flows --bogus", 2, 0, "--bogus"},
	    {"flows --port", 2, 0, "--port"},
	    {"coverage --flows", 2, 0, "--flows"},
	    {"flows --fail-on-anomaly", 2, 0, "--fail-on-anomaly"},
	    {"runs --peer 127.0.0.66", 2, 0, "--peer"},
	    {"runs --verdict expected", 2, 0, "--verdict"},
	    {"everything", 2, 0, "unknown question"},
	    {"flows runs", 2, 0, "unexpected argument"},
	    {"", 2, 0, "which question"},
	};
	unsigned long long before = file_hash(dbpath);

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = q(cases[i].args);
		cr_assert_eq(rc, cases[i].rc, "%s: exit %d: %s", cases[i].args, rc, out);
		if (rc == 0) {
			cr_assert_eq(csv_records(out) - 1, cases[i].rows, "%s: %s", cases[i].args,
			             out);
			continue;
		}
		cr_assert_eq(q_err(cases[i].args), 2);
		cr_assert_eq(count_lines(out), 1, "%s: not one line: %s", cases[i].args, out);
		cr_assert(strstr(out, cases[i].msg), "%s: %s", cases[i].args, out);
		cr_assert_null(strstr(out, "SQL"), "%s: %s", cases[i].args, out);
	}
	cr_assert_eq(file_hash(dbpath), before, "the database changed");
	cr_assert_eq(nflows(""), 9);
}

/* ---- databases that are not usable ---- */

Test(query, bad_databases)
{
	char p[256], other[256];
	struct stat sb;
	sqlite3 *db;

	/* missing: error, and nothing is created */
	snprintf(p, sizeof(p), "%s/missing.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", sq(p)), 3);
	cr_assert(strstr(out, "no such database"), "%s", out);
	cr_assert_eq(count_lines(out), 1, "%s", out);
	cr_assert_neq(stat(p, &sb), 0, "query created the database");
	/* $SMAUDIT_DB is the default */
	cr_assert_eq(tu_run(out, sizeof(out), "SMAUDIT_DB=%s " SMAUDIT_BIN " query runs", sq(p)),
	             3);
	cr_assert(strstr(out, "missing.db"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "SMAUDIT_DB=%s " SMAUDIT_BIN " query runs --format json | wc -l",
	                    sq(dbpath)),
	             0);
	cr_assert_eq(atoi(out), 2, "%s", out);
	/* a text file */
	snprintf(other, sizeof(other), "%s/text.db", dir);
	tu_run(NULL, 0,
	       "echo 'hello, not a database at all, but long enough to look like one "
	       "to somebody in a hurry' > %s",
	       sq(other));
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", sq(other)), 3);
	cr_assert(strstr(out, "not an smaudit database"), "%s", out);
	cr_assert_eq(count_lines(out), 1, "%s", out);
	/* an empty file and a directory */
	tu_run(NULL, 0, ": > %s/empty.db && mkdir %s/dir.db", dir, dir);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s/empty.db", dir), 3);
	cr_assert(strstr(out, "not an smaudit database"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s/dir.db", dir), 3);
	cr_assert_eq(count_lines(out), 1, "%s", out);
	/* some other SQLite database */
	snprintf(other, sizeof(other), "%s/other.db", dir);
	cr_assert_eq(sqlite3_open(other, &db), SQLITE_OK);
	exec_sql(db, "CREATE TABLE t(x); PRAGMA user_version = 1;");
	sqlite3_close(db);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", sq(other)), 3);
	cr_assert(strstr(out, "not an smaudit database"), "%s", out);
	/* a newer schema */
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	exec_sql(db, "PRAGMA user_version = 99");
	sqlite3_close(db);
	cr_assert_eq(q_err("runs"), 3);
	cr_assert(strstr(out, "version 99 is newer"), "%s", out);
	cr_assert_eq(count_lines(out), 1, "%s", out);
}

/* ---- the views give the same answers ---- */

Test(query, views_match_cli)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	char line[512];

	cr_assert_eq(q("anomalies"), 0);
	cr_assert_eq(sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT verdict || ',' || direction || ',' || peer || ','"
	                                " || port || ',' || flows || ',' || bytes FROM anomalies",
	                                -1, &st, NULL),
	             SQLITE_OK);
	int n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		/* verdict,direction,peer,port appear in the CLI line, with flows,bytes */
		const char *v = (const char *)sqlite3_column_text(st, 0);
		char a[4][64];
		int k = sscanf(v, "%63[^,],%63[^,],%63[^,],%63[^,]", a[0], a[1], a[2], a[3]);
		cr_assert_eq(k, 4);
		snprintf(line, sizeof(line), "\n%s,%s,%s,%s,", a[0], a[1], a[2], a[3]);
		cr_assert(strstr(out, line), "view row %s not in CLI output %s", v, out);
		n++;
	}
	sqlite3_finalize(st);
	cr_assert_eq(n, csv_records(out) - 1);

	cr_assert_eq(q("coverage"), 0);
	cr_assert_eq(sqlite3_prepare_v2(db,
	                                "SELECT rule || ',' || ifnull(row, '') || ',' || direction"
	                                " || ',' || proto || ',' || port || ',' || peer || ',',"
	                                " seen, flows, expected, peers, bytes FROM coverage",
	                                -1, &st, NULL),
	             SQLITE_OK);
	n = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		const char *l = strstr(out, (const char *)sqlite3_column_text(st, 0));
		cr_assert_not_null(l, "%s", sqlite3_column_text(st, 0));
		snprintf(line, sizeof(line), ",%s,%lld,%lld,%lld,%lld,", sqlite3_column_text(st, 1),
		         sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3),
		         sqlite3_column_int64(st, 4), sqlite3_column_int64(st, 5));
		cr_assert(strstr(l, line) && strstr(l, line) < strchr(l + 1, '\n'), "%s vs %s",
		          line, l);
		n++;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	cr_assert_eq(n, 5);
}

/* ---- plans and concurrency ---- */

Test(query, plan_uses_indexes)
{
	cr_assert_eq(q("anomalies --since 24h --explain"), 0);
	cr_assert(strstr(out, "USING INDEX flows_anomaly"), "%s", out);
	cr_assert_null(strstr(out, "SCAN f\n"), "%s", out);
	cr_assert_eq(q("flows --verdict unexpected-port --explain"), 0);
	cr_assert(strstr(out, "USING INDEX flows_anomaly"), "%s", out);
	cr_assert_eq(q("flows --since 24h --explain"), 0);
	cr_assert(strstr(out, "USING INDEX flows_ts"), "%s", out);
	cr_assert_eq(q("flows --peer 127.0.0.66 --explain"), 0);
	cr_assert(strstr(out, "USING INDEX flows_peer"), "%s", out);
}

Test(query, reads_while_a_writer_holds_the_database)
{
	sqlite3 *db;
	unsigned long long before;

	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	exec_sql(db, "BEGIN IMMEDIATE");
	exec_sql(db, "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr,"
	             " orig_port, resp_addr, resp_port, direction, peer_addr, orig_pkts,"
	             " orig_ip_bytes, orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes,"
	             " end_reason, verdict) VALUES (2, 'CX', 1, 2, 'tcp', '127.0.0.67', 1,"
	             " '127.0.0.10', 9, 'in', '127.0.0.67', 1, 1, 1, 1, 1, 1, 'closed',"
	             " 'unexpected-port')");
	before = file_hash(dbpath);
	/* the uncommitted row is invisible; the reader neither blocks nor fails */
	cr_assert_eq(nflows(""), 9);
	cr_assert_eq(q("anomalies --fail-on-anomaly --peer 127.0.0.67"), 0);
	exec_sql(db, "COMMIT");
	cr_assert_eq(nflows(""), 10);
	cr_assert_eq(q("anomalies --fail-on-anomaly --peer 127.0.0.67"), 1);
	sqlite3_close(db);
	(void)before;
}

/* ---- end to end: `read` the shipped captures, then query ---- */

/* Read pcap(s) into the fixture's directory as e2e.db with the demo site. */
static void read_into(const char *db, const char *pcaps)
{
	int rc =
	    tu_run(out, sizeof(out),
	           SMAUDIT_BIN " read --site rules/demo.site --db %s %s >/dev/null", sq(db), pcaps);
	cr_assert_eq(rc, 0, "read %s: %s", pcaps, out);
}

/* Lines of out starting with prefix. */
static int lines_starting(const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);
	for (const char *l = out; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
		n += strncmp(l, prefix, len) == 0;
	return n;
}

Test(query, e2e_demo_capture)
{
	char db[256];

	snprintf(db, sizeof(db), "%s/e2e.db", dir);
	read_into(db, "pcaps/demo.pcap");
	/* every bad use in the demo (README table rows 14-30) is one group */
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query anomalies --db %s", sq(db)), 0);
	cr_assert_eq(csv_records(out), 18, "%s", out);
	cr_assert_eq(lines_starting("unexpected-direction,"), 7, "%s", out);
	cr_assert_eq(lines_starting("unexpected-peer,"), 5, "%s", out);
	cr_assert_eq(lines_starting("unexpected-port,"), 5, "%s", out);
	cr_assert_eq(lines_starting("expected,"), 0, "%s", out);
	cr_assert(strstr(out, "\nunexpected-peer,out,127.0.0.23,587,tcp,"), "%s", out);
	cr_assert(strstr(out, "\nunexpected-direction,in,127.0.0.55,25,tcp,"), "%s", out);
	cr_assert(strstr(out, "\nunexpected-port,out,127.0.0.66,123,udp,"), "%s", out);
	cr_assert(strstr(out, "\nunexpected-port,in,127.0.0.67,8080,tcp,"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query anomalies --peer 127.0.0.66 --db %s", sq(db)),
	             0);
	cr_assert_eq(csv_records(out), 9, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query anomalies --flows --format json --fail-on-anomaly"
	                                " --db %s",
	                    sq(db)),
	             1);
	cr_assert_eq(count_lines(out), 17, "%s", out);
	/* every matrix row is used correctly once: all 12 rules seen */
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --db %s", sq(db)), 0);
	cr_assert_eq(csv_records(out), 13, "%s", out);
	cr_assert_null(strstr(out, ",never,"), "%s", out);
	cr_assert(strstr(out, "\nhttps-in,3,in,tcp,443,any,TLS,yes,1,1,1,"), "%s", out);
	cr_assert(strstr(out, "\nsmtp-notify-out,1,out,tcp,25,mail,"), "%s", out);
	/* flows and runs */
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query flows --db %s", sq(db)), 0);
	cr_assert_eq(csv_records(out), 31, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query flows --verdict expected --db %s", sq(db)),
	    0);
	cr_assert_eq(csv_records(out), 14, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", sq(db)), 0);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	cr_assert(strstr(out, "\n1,read,pcaps/demo.pcap,"), "%s", out);
	cr_assert(strstr(out, ",complete,488,0,0,30,0\r\n"), "%s", out);
}

/* flows has no index on run_id (flows_run: the writer's cost for a row of
 * it was ~1.7k instructions): --run finds a run's flows through flows_ts in
 * the hours the roll-up holds for the run, also when runs overlap in time
 * (run 3 reads run 1's capture again) or have no flow (run 4); with the
 * roll-up out of step it reads every flow, with the same answer. A database
 * from before loses flows_run at its next read. */
Test(query, a_runs_flows_are_found_by_time_without_an_index_on_run_id)
{
	static const int want[] = {30, 1, 30, 0};
	char db[256], args[64];

	snprintf(db, sizeof(db), "%s/runs.db", dir);
	read_into(db, "pcaps/demo.pcap");
	read_into(db, "pcaps/vlan.pcap");
	exec_file(db, "CREATE INDEX flows_run ON flows(run_id)"); /* as written before */
	read_into(db, "pcaps/demo.pcap");
	read_into(db, "pcaps/empty.pcap");
	cr_assert_eq(tu_q1(db, "SELECT count(*) FROM sqlite_master WHERE name = 'flows_run'"), 0);
	for (int stale = 0; stale < 2; stale++) {
		for (int run = 1; run <= 4; run++) {
			snprintf(args, sizeof(args), "SELECT count(*) FROM flows WHERE run_id = %d",
			         run);
			cr_assert_eq(tu_q1(db, args), want[run - 1]);
			cr_assert_eq(tu_run(out, sizeof(out),
			                    SMAUDIT_BIN
			                    " query flows --run %d --format csv --db %s",
			                    run, sq(db)),
			             0, "%s", out);
			cr_expect_eq(csv_records(out) - 1, want[run - 1], "run %d (stale %d): %s",
			             run, stale, out);
		}
		cr_assert_eq(tu_run(out, sizeof(out),
		                    SMAUDIT_BIN " query flows --run 3 --explain --db %s", sq(db)),
		             0, "%s", out);
		if (!stale)
			cr_assert(strstr(out, "USING INDEX flows_ts") && !strstr(out, "SCAN f\n"),
			          "%s", out);
		exec_file(db, "UPDATE rollup_state SET flows_max_id = -1"); /* out of step */
	}
}

Test(query, e2e_never_seen_rules_and_windows)
{
	char db[256];

	snprintf(db, sizeof(db), "%s/e2e.db", dir);
	read_into(db, "pcaps/demo.pcap");
	read_into(db, "pcaps/vlan.pcap"); /* run 2: one HTTP connection to :80 */
	/* run 2 alone: http-in seen, the 11 other rules never */
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --run 2 --db %s", sq(db)), 0);
	cr_assert_eq(csv_records(out), 13, "%s", out);
	cr_assert(strstr(out, "\nhttp-in,2,in,tcp,80,any,HTTP,yes,1,1,1,"), "%s", out);
	cr_assert_eq(lines_starting("http-in,"), 1);
	{
		int never = 0;
		for (const char *p = out; (p = strstr(p, ",never,")); p++)
			never++;
		cr_assert_eq(never, 11, "%s", out);
	}
	/* the crafted capture starts 2026-11-01 00:00:00 UTC; the demo was
	 * recorded later: a window on that day holds the vlan flow only */
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query flows --since 2026-11-01 --until 2026-11-02"
	                                " --db %s",
	                    sq(db)),
	             0);
	cr_assert_eq(csv_records(out), 2, "%s", out);
	cr_assert(strstr(out, ",2,"), "%s", out);
	cr_assert(strstr(out, ",127.0.0.50,50000,127.0.0.10,80,in,"), "%s", out);
	/* coverage of that day: rules of the run whose flows fall in it */
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query coverage --since 2026-11-01 --until 2026-11-02"
	                                " --format json --db %s",
	                    sq(db)),
	             0);
	cr_assert_eq(count_lines(out), 12, "%s", out);
	cr_assert(strstr(out, "{\"rule\":\"http-in\",\"row\":2,\"direction\":\"in\",\"proto\":"
	                      "\"tcp\",\"port\":80,\"peer\":\"any\",\"apps\":\"HTTP\",\"seen\":"
	                      "\"yes\",\"flows\":1,"),
	          "%s", out);
	/* both runs together: every rule seen; 127.0.0.50 used :80 in both */
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --db %s", sq(db)), 0);
	cr_assert_null(strstr(out, ",never,"), "%s", out);
	cr_assert(strstr(out, "\nhttp-in,2,in,tcp,80,any,HTTP,yes,4,3,3,"), "%s", out);
}

/* ---- issue 12 item 19: options and table output ---- */

/* --proto ignores case as --app does; --run last is the newest run. */
Test(query, proto_any_case_and_run_last)
{
	static char lower[1 << 16];

	cr_assert_eq(q("flows --proto tcp --format csv"), 0, "%s", out);
	snprintf(lower, sizeof(lower), "%s", out);
	cr_assert_eq(q("flows --proto TCP --format csv"), 0, "%s", out);
	cr_expect_str_eq(out, lower);
	cr_assert_eq(q("flows --proto Udp --format csv"), 0, "%s", out);
	cr_expect_eq(csv_records(out), 1, "header only: %s", out);

	cr_assert_eq(q("flows --run last --format csv"), 0, "%s", out);
	snprintf(lower, sizeof(lower), "%s", out);
	cr_assert_eq(q("flows --run 2 --format csv"), 0, "%s", out);
	cr_expect_str_eq(out, lower, "--run last is run 2");
	cr_expect_eq(csv_records(out), 1 + 3, "%s", out);
	cr_assert_eq(q("runs --run last --format csv"), 0, "%s", out);
	cr_expect(strstr(out, "\n2,live,"), "%s", out);
	cr_assert_eq(q_err("flows --run latest"), 2, "%s", out);
	cr_expect(strstr(out, "--run 'latest'"), "%s", out);
}

/* Display columns of the widest line of s (code points, not bytes). */
static size_t widest_line(const char *s)
{
	size_t best = 0, w = 0;

	for (; *s; s++) {
		if (*s == '\n') {
			best = w > best ? w : best;
			w = 0;
		} else if ((*s & 0xc0) != 0x80 && *s != '\r') {
			w++;
		}
	}
	return w > best ? w : best;
}

/* On a terminal the table fits $COLUMNS, or the terminal's own width
 * (script(1) gives the command a pseudo-terminal; stty sets its size), and
 * time columns say they are UTC. Through a pipe nothing is cut. */
Test(query, table_fits_the_terminal_and_says_utc)
{
	char cmd[512];

	snprintf(cmd, sizeof(cmd), "COLUMNS=100 " SMAUDIT_BIN " query flows --db %s", sq(dbpath));
	cr_assert_eq(tu_run(out, sizeof(out), "script -qec %s /dev/null", sq(cmd)), 0, "%s", out);
	cr_expect(strncmp(out, "ID  START (UTC)", 15) == 0, "%s", out);
	cr_expect_leq(widest_line(out), 100, "%s", out);
	cr_expect(strstr(out, "columns hidden to fit 100 columns: run, uid,"), "%s", out);
	cr_expect(strstr(out, "2001:db8::50"), "addresses are never cut: %s", out);

	snprintf(cmd, sizeof(cmd),
	         "stty cols 150 rows 40; unset COLUMNS; %s query anomalies --db %s", SMAUDIT_BIN,
	         sq(dbpath));
	cr_assert_eq(tu_run(out, sizeof(out), "script -qec %s /dev/null", sq(cmd)), 0, "%s", out);
	cr_expect(strncmp(out, "VERDICT", 7) == 0, "%s", out);
	cr_expect_leq(widest_line(out), 150, "%s", out);
	cr_expect(strstr(out, "FIRST_SEEN (UTC)"), "%s", out);
	cr_expect(strstr(out, "~"), "the long reason is cut and marked: %s", out);

	/* a pipe keeps every value whole, even with COLUMNS set */
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "COLUMNS=80 " SMAUDIT_BIN " query flows --format table --db %s",
	                    sq(dbpath)),
	             0);
	cr_expect_gt(widest_line(out), 200, "%s", out);
	cr_expect(strstr(out, "=cmd|'; DROP TABLE flows;--  x??"), "%s", out);
}

/* Turn the flows table of db into version 1's, before community_id (SQLite's
 * DROP COLUMN trips on the schema's comments): copied, the views over it
 * dropped. */
static void to_v1_flows(sqlite3 *db)
{
	exec_sql(db, "CREATE TABLE f1 AS SELECT id, run_id, uid, ts_start, ts_end, proto,"
	             " orig_addr, orig_port, resp_addr, resp_port, vlan, direction,"
	             " direction_inferred, peer_addr, orig_pkts, orig_ip_bytes, orig_bytes,"
	             " resp_pkts, resp_ip_bytes, resp_bytes, conn_state, history, end_reason,"
	             " app_proto, app_confidence, server_name, rule_id, verdict, reason FROM flows;"
	             "DROP VIEW flows_v; DROP VIEW anomalies; DROP VIEW coverage; DROP TABLE flows;"
	             "ALTER TABLE f1 RENAME TO flows");
}

/* A database from before the community_id column is read as it is (never
 * written) and every flow still shows its Community ID, computed on the
 * way out: here the spec's TCP example. */
Test(query, older_database_gets_community_id_computed)
{
	sqlite3 *db;
	unsigned long long before;

	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	to_v1_flows(db);
	exec_sql(db,
	         "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, orig_port,"
	         " resp_addr, resp_port, direction, peer_addr, orig_pkts, orig_ip_bytes,"
	         " orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, end_reason) VALUES (1,"
	         " 'Cspec', 1714557601, 1714557602, 'tcp', '5.6.7.8', 3344, '1.2.3.4', 1122,"
	         " 'in', '5.6.7.8', 1, 40, 0, 1, 40, 0, 'closed')");
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
	before = file_hash(dbpath);
	cr_assert_eq(q("flows --format csv --peer 5.6.7.8"), 0, "%s", out);
	cr_expect(strstr(out, ",Cspec,1:wCb3OG7yAFWelaUydu0D+125CLM=,"), "%s", out);
	cr_assert_eq(q("flows --format zeek --peer 5.6.7.8"), 0, "%s", out);
	cr_expect(strstr(out, "\t-\t1:wCb3OG7yAFWelaUydu0D+125CLM=\n"), "%s", out);
	cr_expect(strstr(out, "\ttunnel_parents\tcommunity_id\n"), "%s", out);
	/* no tunnel column either: the flows came through none */
	cr_assert_eq(q("flows --format csv --peer 5.6.7.8"), 0, "%s", out);
	cr_expect(strstr(out, ",reason,tunnel\r\n") && strstr(out, ",,,,\r\n"), "%s", out);
	cr_expect_eq(file_hash(dbpath), before, "the database changed");
}

/* Host/SNI values are the attacker's: every control character, DEL, an
 * overlong form, a surrogate, bytes that never occur in UTF-8 and a
 * truncated sequence still make strictly valid JSON (python's json.loads
 * refuses raw control characters; strict UTF-8 decoding refuses bad bytes),
 * with each byte that is not UTF-8 shown as U+FFFD and the rest intact. */
Test(query, json_survives_hostile_server_names)
{
	sqlite3 *db;

	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	exec_sql(db,
	         "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto, orig_addr, orig_port,"
	         " resp_addr, resp_port, direction, peer_addr, orig_pkts, orig_ip_bytes,"
	         " orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, end_reason, server_name)"
	         " VALUES (1, 'Chostile', 1714557601, 1714557602, 'tcp', '127.0.0.77', 1,"
	         " '127.0.0.10', 443, 'in', '127.0.0.77', 1, 40, 0, 1, 40, 0, 'closed',"
	         " CAST(X'61011F627F0AC0AF63EDA08064FF65E282' AS TEXT))");
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
	json_check("flows --peer 127.0.0.77",
	           "assert len(r)==1\n"
	           "want=\"a\\x01\\x1fb\\x7f\\n\\ufffd\\ufffdc\\ufffd\\ufffd\\ufffdd"
	           "\\ufffde\\ufffd\\ufffd\"\n"
	           "assert r[0][\"server_name\"]==want, repr(r[0][\"server_name\"])");
}

/* Every value a spreadsheet would run as a formula (OWASP: = + - @ and a
 * leading TAB or CR) is quoted with a ' in front, whichever column it is in;
 * other control characters (an ANSI escape here) become '?'. Values that
 * only contain those characters later are left alone. */
Test(query, csv_defuses_formulas_and_control_characters)
{
	static const char *const names[][2] = {
	    {"=HYPERLINK(\"http://x\")", "\"'=HYPERLINK(\"\"http://x\"\")\""},
	    {"+1+cmd", "\"'+1+cmd\""},
	    {"-2+3", "\"'-2+3\""},
	    {"@SUM(A1)", "\"'@SUM(A1)\""},
	    {"\t=1", "\"'\t=1\""},
	    {"\r=1", "\"'\r=1\""},
	    {"a=b-c@d", "a=b-c@d"},
	    {"esc\033[31mred", "esc?[31mred"},
	};
	sqlite3 *db;
	sqlite3_stmt *st;
	char want[128];

	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(db,
	                       "INSERT INTO flows (run_id, uid, ts_start, ts_end, proto,"
	                       " orig_addr, orig_port, resp_addr, resp_port, direction,"
	                       " peer_addr, orig_pkts, orig_ip_bytes, orig_bytes, resp_pkts,"
	                       " resp_ip_bytes, resp_bytes, end_reason, server_name, reason)"
	                       " VALUES (1, 'Cx', 1714557601, 1714557602, 'tcp',"
	                       " '127.0.0.88', 1, '127.0.0.10', 443, 'in', '127.0.0.88', 1,"
	                       " 40, 0, 1, 40, 0, 'closed', ?1, ?1)",
	                       -1, &st, NULL),
	    SQLITE_OK);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, names[i][0], -1, SQLITE_STATIC);
		cr_assert_eq(sqlite3_step(st), SQLITE_DONE);
	}
	sqlite3_finalize(st);
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
	cr_assert_eq(q("flows --format csv --peer 127.0.0.88"), 0, "%s", out);
	cr_assert_eq(csv_records(out), 9, "%s", out);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		/* server_name, rule, verdict, unchecked (empty), reason, tunnel (none) */
		snprintf(want, sizeof(want), ",%s,,,,%s,\r\n", names[i][1], names[i][1]);
		cr_expect(strstr(out, want), "%s not in\n%s", want, out);
	}
}

/* ---- several databases (--db a --db b) ---- */

/* A second database in the temp dir: a copy of the fixture. */
static void copy_fixture(const char *name, char *path, size_t len)
{
	snprintf(path, len, "%s/%s", dir, name);
	cr_assert_eq(tu_run(out, sizeof(out), "cp %s %s", sq(dbpath), sq(path)), 0, "%s", out);
}

/* Run `smaudit query ARGS --db <fixture> --db second`; stdout into out. */
static int q2(const char *args, const char *second)
{
	return tu_run(out, sizeof(out), SMAUDIT_BIN " query %s --db %s --db %s 2>/dev/null", args,
	              sq(dbpath), sq(second));
}

/* Two copies of one database answer as one with everything twice: runs
 * and flows of the second under shifted ids, groups counting both, and
 * neither file changed (both are opened read-only). */
Test(query, several_databases_answer_as_one)
{
	char b[192];
	unsigned long long ha, hb;

	copy_fixture("b.db", b, sizeof(b));
	ha = file_hash(dbpath);
	hb = file_hash(b);
	cr_assert_eq(q2("runs --format csv", b), 0, "%s", out);
	cr_expect_eq(csv_records(out), 5, "%s", out);
	cr_expect(strstr(out, "\r\n1,read,") && strstr(out, "\r\n1000001,read,") &&
	              strstr(out, "\r\n1000002,live,"),
	          "%s", out);
	cr_assert_eq(q2("flows --format csv", b), 0, "%s", out);
	cr_expect_eq(csv_records(out), 19, "%s", out);
	cr_expect(strstr(out, "\r\n1000000000001,1000001,C1,"), "%s", out);
	cr_assert_eq(q2("flows --run 1000001 --format csv", b), 0, "%s", out);
	cr_expect_eq(csv_records(out), 7, "%s", out);
	cr_assert_eq(q2("anomalies --format csv", b), 0, "%s", out);
	cr_expect(strstr(out, "unexpected-port,in,127.0.0.66,4444,tcp,,4,200,"), "%s", out);
	cr_assert_eq(q2("coverage --format csv", b), 0, "%s", out);
	cr_expect(strstr(out, "\r\nhttps-in,1,in,tcp,443,any,\"TLS,HTTP\",yes,6,6,3,"), "%s", out);
	cr_assert_eq(q2("flows --explain", b), 0, "%s", out);
	cr_expect_eq(file_hash(dbpath), ha, "the first database changed");
	cr_expect_eq(file_hash(b), hb, "the second database changed");
}

/* A second database from before community_id joins one that has it: its
 * flows get the ID computed, and the other columns line up. */
Test(query, several_databases_of_two_schema_ages)
{
	char b[192];
	sqlite3 *db;

	copy_fixture("old.db", b, sizeof(b));
	cr_assert_eq(sqlite3_open(b, &db), SQLITE_OK);
	to_v1_flows(db);
	exec_sql(db, "UPDATE flows SET orig_addr = '5.6.7.8', orig_port = 3344, resp_addr ="
	             " '1.2.3.4', resp_port = 1122 WHERE uid = 'C1'");
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
	cr_assert_eq(q2("flows --format csv --run 1000001", b), 0, "%s", out);
	cr_expect(strstr(out, ",C1,1:wCb3OG7yAFWelaUydu0D+125CLM=,"), "%s", out);
	cr_expect(strstr(out, ",C2,1:"), "%s", out);
	cr_assert_eq(q2("flows --format csv --run 1", b), 0, "%s", out);
	cr_expect(strstr(out, "\r\n1,1,C1,,2024-05-01T10:00:00.500000Z,"), "%s", out);
}

/* A database from before missed_bytes (with or without community_id) is
 * read as it is: Zeek's exports say 0 (Zeek's default), query flows shows
 * the value as not measured (empty), and a second database that has the
 * column keeps its counts beside it. */
Test(query, older_database_without_missed_bytes_reads_as_zero_in_zeek)
{
	sqlite3 *db;
	char b[192];

	copy_fixture("new.db", b, sizeof(b));
	exec_file(b, "UPDATE flows SET missed_bytes = 63 WHERE uid = 'C1'");
	cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
	to_v1_flows(db);
	cr_assert_eq(sqlite3_close(db), SQLITE_OK);
	for (int k = 0; k < 2; k++) {
		if (k) { /* community_id there, missed_bytes not */
			cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
			exec_sql(db, "ALTER TABLE flows ADD COLUMN community_id TEXT");
			cr_assert_eq(sqlite3_close(db), SQLITE_OK);
		}
		cr_assert_eq(q("flows --format zeek --run 1"), 0, "%s", out);
		cr_expect(strstr(out, "\tC1\t") && strstr(out, "\tF\tT\t0\t"), "%s", out);
		cr_expect_null(strstr(out, "\tT\t63\t"), "%s", out);
		cr_assert_eq(q("flows --format zeek-json --run 1"), 0, "%s", out);
		cr_expect(strstr(out, "\"missed_bytes\":0,"), "%s", out);
		cr_assert_eq(q("flows --format csv --run 1"), 0, "%s", out);
		cr_expect(strstr(out, ",bytes,missed_bytes,state,"), "%s", out);
	}
	cr_assert_eq(q2("flows --format zeek", b), 0, "%s", out);
	cr_expect(strstr(out, "\tT\t63\t"), "the newer database's count: %s", out);
	cr_expect(strstr(out, "\tT\t0\t"), "the older one's 0: %s", out);
}

/* `query runs` shows runs.flows_lost after flows. A database from before
 * the column (its live runs waited for the database instead of losing
 * flows) reads 0, alone and beside a newer one in either order, and is not
 * written. */
Test(query, runs_show_flows_lost_also_of_an_older_database)
{
	static const char *const head = ",packets,dropped,malformed,flows,flows_lost\r\n";
	unsigned long long before;
	char b[192];

	copy_fixture("new.db", b, sizeof(b));
	exec_file(b, "UPDATE runs SET flows_lost = 7 WHERE id = 2");
	exec_file(dbpath, "ALTER TABLE runs DROP COLUMN flows_lost");
	before = file_hash(dbpath);

	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --format csv --db %s", sq(b)), 0,
	    "%s", out);
	cr_expect(strstr(out, head) && strstr(out, "\r\n2,live,lo,") &&
	              strstr(out, ",running,50,0,0,3,7\r\n"),
	          "%s", out);
	cr_assert_eq(q("runs --format csv"), 0, "%s", out);
	cr_expect(strstr(out, head) && strstr(out, ",running,50,0,0,3,0\r\n"), "%s", out);
	cr_assert_eq(q("runs --format json"), 0, "%s", out);
	cr_expect(strstr(out, "\"flows\":3,\"flows_lost\":0}"), "%s", out);
	cr_assert_eq(q2("runs --format csv", b), 0, "%s", out);
	cr_expect(strstr(out, head) && strstr(out, "\r\n2,live,lo,") &&
	              strstr(out, ",running,50,0,0,3,0\r\n1000001,") &&
	              strstr(out, "\r\n1000002,live,lo,") && strstr(out, ",running,50,0,0,3,7\r\n"),
	          "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query runs --format csv --db %s --db %s 2>/dev/null",
	                    sq(b), sq(dbpath)),
	             0, "%s", out);
	cr_expect(strstr(out, head) && strstr(out, ",running,50,0,0,3,7\r\n1000001,") &&
	              strstr(out, "\r\n1000002,live,lo,") && strstr(out, ",running,50,0,0,3,0\r\n"),
	          "%s", out);
	cr_expect_eq(file_hash(dbpath), before, "the older database changed");
}

/* Each database is checked like the first, and errors name the file. */
Test(query, several_databases_bad_ones_are_named)
{
	char b[192], cmd[2048];
	int rc;

	cr_assert_eq(q_err("flows --db /nonexistent/x.db"), 3);
	cr_expect(strstr(out, "/nonexistent/x.db: no such database"), "%s", out);
	snprintf(b, sizeof(b), "%s/not.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out), "sqlite3 %s 'CREATE TABLE t (x)'", sq(b)), 0);
	cr_assert_eq(q_err("flows --db /dev/null"), 3);
	snprintf(cmd, sizeof(cmd), "flows --db %s", sq(b));
	cr_assert_eq(q_err(cmd), 3);
	cr_expect(strstr(out, "not.db: not an smaudit database"), "%s", out);
	snprintf(cmd, sizeof(cmd), "flows --db %s/./t.db", dir);
	cr_assert_eq(q_err(cmd), 2);
	cr_expect(strstr(out, "named twice"), "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " query flows --db a --db b --db c --db d --db e --db f --db g"
	                        " --db h --db i --db j --db k");
	cr_expect_eq(rc, 2);
	cr_expect(strstr(out, "at most 10 --db"), "%s", out);
}

/* ---- the per-hour roll-up (flow_rollup) ---- */

/* The same questions on db (its roll-up current) and on a copy whose
 * roll-up is marked stale (so query reads flows, as before the roll-up)
 * print the same bytes: coverage, runs and anomalies, windows cut inside
 * hours and on them, each filter the roll-up serves and some it does not,
 * in CSV and JSON. */
static void same_with_and_without_rollup(const char *db, double t0)
{
	char stale[300], w[3][32], args[512], *a_out;
	/* a question and its window: since and until are w[0..2], or -1 */
	static const struct {
		const char *q;
		int since, until;
	} questions[] = {
	    {"coverage", -1, -1},
	    {"coverage", 0, -1},
	    {"coverage", 0, 1},
	    {"coverage", -1, 1},
	    {"coverage", 2, 1},
	    {"coverage", 0, 2},
	    {"coverage --run 2", -1, -1},
	    {"coverage --run 3", 0, -1},
	    {"coverage --verdict expected", -1, -1},
	    {"coverage --verdict protocol-mismatch", 0, -1},
	    {"coverage --peer 127.0.0.52", -1, -1},
	    {"coverage --peer 127.0.0.48/29", 0, 1},
	    {"coverage --rule http-in", 0, -1},
	    {"coverage --port 443", 0, -1},
	    {"coverage --app tls", -1, -1},
	    {"runs", 0, 1},
	    {"runs", 2, -1},
	    {"anomalies", 0, 1},
	};
	int n = 0;

	tu_iso(t0 + 5000.5, w[0], sizeof(w[0]));   /* inside an hour */
	tu_iso(t0 + 90000.25, w[1], sizeof(w[1])); /* a day later */
	tu_iso((double)((long long)t0 / 3600 * 3600 + 7200), w[2], sizeof(w[2])); /* on an hour */
	snprintf(stale, sizeof(stale), "%s.stale", db);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "cp %s %s && sqlite3 %s 'UPDATE rollup_state SET"
	                    " flows_max_id = -1'",
	                    sq(db), sq(stale), sq(stale)),
	             0, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --explain --db %s", sq(db)), 0);
	cr_assert(strstr(out, "flow_rollup"), "the roll-up is read: %s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --explain --db %s", sq(stale)),
	    0);
	cr_assert_null(strstr(out, "flow_rollup"), "a stale roll-up is not read: %s", out);
	a_out = malloc(sizeof(out));
	cr_assert_not_null(a_out);
	for (size_t i = 0; i < sizeof(questions) / sizeof(questions[0]); i++)
		for (int json = 0; json < 2; json++) {
			snprintf(args, sizeof(args), "%s%s%s%s%s", questions[i].q,
			         questions[i].since < 0 ? "" : " --since ",
			         questions[i].since < 0 ? "" : w[questions[i].since],
			         questions[i].until < 0 ? "" : " --until ",
			         questions[i].until < 0 ? "" : w[questions[i].until]);
			cr_assert_eq(tu_run(out, sizeof(out),
			                    SMAUDIT_BIN " query %s --format %s --db %s", args,
			                    json ? "json" : "csv", sq(db)),
			             0, "%s: %s", args, out);
			memcpy(a_out, out, sizeof(out));
			cr_assert_eq(tu_run(out, sizeof(out),
			                    SMAUDIT_BIN " query %s --format %s --db %s", args,
			                    json ? "json" : "csv", sq(stale)),
			             0, "%s: %s", args, out);
			cr_expect_str_eq(a_out, out, "%s differs with the roll-up", args);
			n += count_lines(out) > 1;
		}
	free(a_out);
	cr_assert_gt(n, 20, "the questions have answers");
}

Test(query, coverage_from_the_rollup_equals_coverage_over_flows)
{
	char db[256];
	double t0;

	snprintf(db, sizeof(db), "%s/e2e.db", dir);
	read_into(db, "pcaps/demo.pcap pcaps/mismatch.pcap");
	read_into(db, "pcaps/vlan.pcap pcaps/ipv6.pcap pcaps/midstream.pcap");
	t0 = (double)tu_q1(db, "SELECT CAST(min(ts_start) AS INTEGER) FROM flows");
	tu_add_checkpointed_flows(db, t0 - 3 * 86400);
	cr_assert_eq(tu_q1(db, "SELECT count(*) FROM flows WHERE run_id = 3"), 120,
	             "one row per checkpointed flow");
	cr_assert_eq(tu_q1(db, TU_ROLLUP_DIFF), 0, "the roll-up equals flows grouped by hour");
	cr_assert_gt(tu_q1(db, "SELECT sum(unchecked) FROM flow_rollup"), 0);
	same_with_and_without_rollup(db, t0 - 3 * 86400);
}

/* Two databases with current roll-ups answer as their stale copies do
 * (the roll-ups joined with run ids shifted, like runs and flows). */
Test(query, several_databases_with_rollups_answer_as_flows_do)
{
	static const char *const questions[] = {"coverage", "coverage --run 1000002",
	                                        "coverage --since 2026-11-24T13:48:20",
	                                        "runs --since 2026-11-24T13:48:20"};
	char a[256], b[256], *first = malloc(sizeof(out));

	cr_assert_not_null(first);
	snprintf(a, sizeof(a), "%s/a.db", dir);
	snprintf(b, sizeof(b), "%s/b.db", dir);
	read_into(a, "pcaps/demo.pcap");
	read_into(b, "pcaps/vlan.pcap");
	read_into(b, "pcaps/mismatch.pcap");
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "cp %s %s.stale && cp %s %s.stale && sqlite3 %s.stale 'UPDATE"
	                    " rollup_state SET flows_max_id = -1' && sqlite3 %s.stale 'UPDATE"
	                    " rollup_state SET flows_max_id = -1'",
	                    a, a, b, b, a, b),
	             0, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --explain --db %s --db %s", a, b),
	    0);
	cr_assert(strstr(out, "db1.flow_rollup"), "%s", out);
	for (size_t i = 0; i < sizeof(questions) / sizeof(questions[0]); i++) {
		cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query %s --db %s --db %s",
		                    questions[i], a, b),
		             0, "%s", out);
		memcpy(first, out, sizeof(out));
		cr_assert_eq(tu_run(out, sizeof(out),
		                    SMAUDIT_BIN " query %s --db %s.stale --db %s.stale",
		                    questions[i], a, b),
		             0, "%s", out);
		cr_expect_str_eq(first, out, "%s", questions[i]);
	}
	free(first);
}

/* A flow deleted by hand: the roll-up is stale, so query reads flows and
 * the deleted flow is gone from coverage at once. */
Test(query, a_hand_edited_database_is_answered_from_flows)
{
	char db[256];

	snprintf(db, sizeof(db), "%s/e2e.db", dir);
	read_into(db, "pcaps/demo.pcap");
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --db %s", sq(db)), 0);
	cr_assert(strstr(out, "\nhttps-in,3,in,tcp,443,any,TLS,yes,1,1,1,"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "sqlite3 %s \"DELETE FROM flows WHERE rule_id = 'https-in'\"", sq(db)),
	             0, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query coverage --db %s", sq(db)), 0);
	cr_assert(strstr(out, "\nhttps-in,3,in,tcp,443,any,TLS,never,0,0,0,"), "%s", out);
}

/* ---- tunnels ---- */

/* `read` stores what a flow came through; query flows shows it as the last
 * column, and the conn.log as Zeek's tunnel_parents (a set: a ',' inside
 * is written \x2c; in JSON an array). The two tenants of encap-tenants.pcap
 * (pcaps/README.md: VNI 100 from 198.51.100.1, VNI 200 from .3, same inner
 * packets) are two flows told apart by it. */
Test(query, flows_and_the_conn_log_show_the_tunnel)
{
	char db[256];
	int rc, n = 0;

	snprintf(db, sizeof(db), "%s/e2e.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN
	                    " read -q --host 10.0.0.10 --db %s pcaps/encap-tenants.pcap",
	                    sq(db)),
	             0, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query flows --format csv --db %s", sq(db)), 0);
	cr_expect_eq(csv_records(out), 3, "%s", out);
	cr_expect(strstr(out, ",vxlan 198.51.100.1>198.51.100.2 vni 100\r\n"), "%s", out);
	cr_expect(strstr(out, ",vxlan 198.51.100.3>198.51.100.2 vni 200\r\n"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "sqlite3 %s \"UPDATE flows SET tunnel = 'mpls,gre 192.0.2.1>192.0.2.2'"
	                    " WHERE tunnel LIKE '%% vni 200'\"",
	                    sq(db)),
	             0, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query flows --format zeek --db %s", sq(db)), 0);
	cr_expect(strstr(out, "\tvxlan 198.51.100.1>198.51.100.2 vni 100\t1:"), "%s", out);
	cr_expect(strstr(out, "\tmpls\\x2cgre 192.0.2.1>192.0.2.2\t1:"), "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query flows --format zeek-json --db %s", sq(db)),
	    0);
	cr_expect(strstr(out, "\"tunnel_parents\":[\"mpls,gre 192.0.2.1>192.0.2.2\"]"), "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " query flows --format zeek --db %s > %s.log && " SMAUDIT_BIN
	                        " query flows --format zeek-json --db %s > %s.json && python3 "
	                        "tests/zeek_json_check.py %s.log %s.json",
	            sq(db), sq(db), sq(db), sq(db), sq(db), sq(db));
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(sscanf(out, "ok %d", &n), 1, "%s", out);
	cr_expect_eq(n, 2);
}

/* ---- evidence on a write-protected medium ---- */

/* Mount a small tmpfs at dir/ro (root only; else the test is skipped). */
static void mount_ro_dir(void)
{
	char p[128];

	snprintf(p, sizeof(p), "%s/ro", dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	if (geteuid() != 0 || tu_run(out, sizeof(out), "mount -t tmpfs -o size=4m tmpfs %s", p))
		cr_skip_test("cannot mount a tmpfs (needs root): %s", out);
	mounted = 1;
}

Test(query, a_database_on_a_read_only_mount_is_queried)
{
	char ro[160], held[160], wdb[160];
	int rows;
	sqlite3 *w;

	mount_ro_dir();
	snprintf(ro, sizeof(ro), "%s/ro/t.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query flows --format csv --db %s | wc -l", sq(dbpath)),
	             0);
	rows = atoi(out);
	cr_assert_gt(rows, 1);
	cr_assert_eq(tu_run(out, sizeof(out), "cp %s %s", sq(dbpath), sq(ro)), 0, "%s", out);
	/* a copy taken while a writer held changes in its WAL file */
	snprintf(held, sizeof(held), "%s/ro/held.db", dir);
	snprintf(wdb, sizeof(wdb), "%s/writer.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out), "cp %s %s", sq(dbpath), sq(wdb)), 0, "%s", out);
	cr_assert_eq(sqlite3_open(wdb, &w), SQLITE_OK);
	exec_sql(w, "PRAGMA wal_autocheckpoint = 0; DELETE FROM flows WHERE run_id = 2");
	cr_assert_eq(tu_run(out, sizeof(out), "cp %s %s && cp %s-wal %s-wal", sq(wdb), sq(held),
	                    sq(wdb), sq(held)),
	             0, "%s", out);
	sqlite3_close(w);
	cr_assert_eq(tu_run(out, sizeof(out), "mount -o remount,ro %s/ro", dir), 0, "%s", out);

	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query flows --format csv --db %s 2>&1 | wc -l", sq(ro)),
	             0);
	cr_assert_eq(atoi(out), rows, "every row read from the read-only copy: %s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", sq(ro)), 0, "%s",
	             out);
	/* and as the second of two databases (ATTACHed) */
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query flows --format csv --db %s --db %s 2>&1 | wc -l",
	                    sq(dbpath), sq(ro)),
	             0);
	cr_assert_eq(atoi(out), 2 * rows - 1, "both databases' rows: %s", out);
	/* immutable would not see the WAL's changes: refused, saying why */
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", sq(held)), 3, "%s",
	             out);
	cr_assert(strstr(out, "held.db-wal") && strstr(out, "writable"), "%s", out);
}

Test(query, a_database_its_user_may_only_read_is_queried)
{
	char ro[160];
	int rows;

	if (geteuid() != 0 || tu_run(out, sizeof(out), "command -v setpriv"))
		cr_skip_test("needs root and setpriv to run as another user");
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query flows --format csv --db %s | wc -l", sq(dbpath)),
	             0);
	rows = atoi(out);
	cr_assert_gt(rows, 1);
	/* a copy only readable: file 0444 in a directory 0555, queried by nobody */
	snprintf(ro, sizeof(ro), "%s/ro", dir);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "chmod 0755 %s && mkdir %s && cp %s %s/t.db && chmod 0444 %s/t.db && "
	                    "chmod 0555 %s",
	                    dir, ro, sq(dbpath), ro, ro, ro),
	             0, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "setpriv --reuid=65534 --regid=65534 --clear-groups " SMAUDIT_BIN
	                    " query flows --format csv --db %s/t.db 2>&1 | wc -l",
	                    ro),
	             0);
	cr_assert_eq(atoi(out), rows, "every row read by a user who may only read: %s", out);
}
