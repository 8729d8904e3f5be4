/* test_read.c: end to end: the real binary reads every shipped capture and
 * the real database it writes holds exactly the flows in pcaps/NAME.expected
 * (computed from tshark by tests/gen/expected.py, never by smaudit): packets
 * and IP bytes per direction, payload bytes, conn_state, history, inferred
 * direction and missed bytes (content gaps). Then what users meet at the edges: bad files, stdin,
 * appending runs, a full flow table, missing --host, usage errors. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <sys/stat.h>
#include <signal.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static char dir[64], db[128], out[65536];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/t.db", dir);
}

static int mounted; /* a test mounted a tmpfs at dir/full */

static void teardown(void)
{
	char cmd[160];

	if (mounted) {
		snprintf(cmd, sizeof(cmd), "umount %s/full", dir);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
		mounted = 0;
	}
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(read, .init = setup, .fini = teardown, .timeout = 60);

#define q1(sql) tu_q1(db, sql)

static const char *qs(const char *sql, char *buf, size_t len)
{
	sqlite3 *h;
	sqlite3_stmt *st;

	buf[0] = '\0';
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
		snprintf(buf, len, "%s", (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	return buf;
}

/* sha256sum's digest of path (coreutils, not smaudit). */
static const char *sha256sum(const char *path, char *buf, size_t len)
{
	char cmd[256];
	FILE *p;

	snprintf(cmd, sizeof(cmd), "sha256sum %s", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(buf, (int)len, p));
	pclose(p);
	buf[strcspn(buf, " ")] = '\0';
	return buf;
}

/* Compare the flows of the last run with pcaps/NAME.expected, row by row in
 * order of first packet. */
static void check_expected(const char *name)
{
	char path[256], line[1024];
	FILE *f;
	sqlite3 *h;
	sqlite3_stmt *st;
	int n = 0;

	snprintf(path, sizeof(path), "pcaps/%s.expected", name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s missing", path);
	cr_assert_not_null(fgets(line, sizeof(line), f), "%s: no header", path);
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(
	    sqlite3_prepare_v2(
	        h,
	        "SELECT proto, orig_addr, orig_port, resp_addr, resp_port, orig_pkts, "
	        "orig_ip_bytes, "
	        "orig_bytes, resp_pkts, resp_ip_bytes, resp_bytes, coalesce(conn_state,'-'), "
	        "coalesce(nullif(history,''),'-'), direction_inferred, missed_bytes FROM flows "
	        "WHERE run_id = (SELECT max(id) FROM runs) ORDER BY ts_start, id",
	        -1, &st, NULL),
	    SQLITE_OK);
	while (fgets(line, sizeof(line), f)) {
		char got[1024] = "";
		line[strcspn(line, "\n")] = '\0';
		if (!*line)
			continue;
		n++;
		cr_assert_eq(sqlite3_step(st), SQLITE_ROW, "%s: flow %d missing: %s", name, n,
		             line);
		for (int c = 0; c < 15; c++) {
			const char *v = (const char *)sqlite3_column_text(st, c);
			strcat(got, c ? "\t" : "");
			strcat(got, v ? v : "NULL");
		}
		cr_expect_str_eq(got, line, "%s flow %d:\n  got      %s\n  expected %s", name, n,
		                 got, line);
	}
	cr_expect_neq(sqlite3_step(st), SQLITE_ROW, "%s: more flows stored than expected", name);
	sqlite3_finalize(st);
	sqlite3_close(h);
	fclose(f);
}

static void read_and_check(const char *name, const char *file)
{
	int rc =
	    tu_run(out, sizeof(out),
	           SMAUDIT_BIN " read -q --host 0.0.0.0/0 --host ::/0 --db %s pcaps/%s", db, file);
	cr_assert_eq(rc, 0, "read %s: exit %d\n%s", file, rc, out);
	check_expected(name);
}

Test(read, demo_matches_tshark_and_zeek)
{
	read_and_check("demo", "demo.pcap");
}
Test(read, demo_pcapng_same_as_pcap)
{
	read_and_check("demo", "demo.pcapng");
}
Test(read, mismatch)
{
	read_and_check("mismatch", "mismatch.pcap");
}
/* Frames larger than read's lookahead holds (16 KiB) among small ones of
 * the same connection: worked on in capture order all the same. */
Test(read, frames_larger_than_a_held_packet_keep_their_order)
{
	read_and_check("jumbo", "jumbo.pcap");
}
Test(read, tcp_states)
{
	read_and_check("states", "states.pcap");
}
Test(read, midstream)
{
	read_and_check("midstream", "midstream.pcap");
}
Test(read, vlan)
{
	read_and_check("vlan", "vlan.pcap");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE vlan IS NOT NULL"),
	             q1("SELECT count(*) FROM flows"));
}
Test(read, qinq)
{
	read_and_check("qinq", "qinq.pcap");
}
Test(read, ipv6_extension_headers)
{
	read_and_check("ipv6", "ipv6.pcap");
}
Test(read, linux_cooked_v1)
{
	read_and_check("sll", "sll.pcap");
}
Test(read, linux_cooked_v2)
{
	read_and_check("sll2", "sll2.pcap");
}
Test(read, bsd_null)
{
	read_and_check("null", "null.pcap");
}
Test(read, raw_ip)
{
	read_and_check("raw", "raw.pcap");
}
Test(read, fragments)
{
	read_and_check("frag", "frag.pcap");
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE malformed = 0"), 1);
}
/* The DPI module's recordings (real loopback traffic): their flows too equal
 * tshark's table with Zeek's rules, whatever DPI makes of them. */
Test(read, dpi_recordings)
{
	read_and_check("dpi-apps", "dpi-apps.pcap");
	read_and_check("dpi-mismatch", "dpi-mismatch.pcap");
	read_and_check("dpi-midstream", "dpi-midstream.pcap");
	read_and_check("dpi-unknown", "dpi-unknown.pcap");
}
/* Issue 12 #12, #13: who the client is when the capture missed the start
 * (ephemeral side) or a UDP server spoke first (DHCP 67 -> 68, as Zeek). */
Test(read, roles_from_ports)
{
	read_and_check("roles", "roles.pcap");
}
/* Issue 12 #14: acked but unseen data is a content gap (G/g). */
Test(read, content_gaps)
{
	read_and_check("gaps", "gaps.pcap");
}
Test(read, snaplen_and_broken_headers)
{
	read_and_check("caplen", "caplen.pcap");
	cr_assert_gt(q1("SELECT malformed FROM runs"), 0, "bad headers are counted");
}

Test(read, truncated_file_warns_with_packet_number_and_keeps_what_was_read)
{
	char buf[512];
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host 0.0.0.0/0 --db %s pcaps/truncated.pcap", db);

	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "truncated.pcap: packet "), "%s", out);
	check_expected("truncated");
	cr_assert_str_eq(qs("SELECT status FROM runs", buf, sizeof(buf)), "complete");
	cr_assert(strstr(qs("SELECT error FROM runs", buf, sizeof(buf)), "packet "), "%s", buf);
}

Test(read, empty_capture_is_a_run_with_no_flows)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read --host 127.0.0.10 --db %s pcaps/empty.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "no packets"), "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND packets=0"), 1);
}

Test(read, files_that_are_not_captures_are_refused_before_anything_is_written)
{
	static const char *bad[] = {"pcaps/zero.pcap", "pcaps/notpcap.pcap", "pcaps/no-such.pcap",
	                            "pcaps"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = tu_run(out, sizeof(out),
		                SMAUDIT_BIN " read --host 127.0.0.10 --db %s pcaps/demo.pcap %s",
		                db, bad[i]);
		cr_assert_eq(rc, 2, "%s: exit %d\n%s", bad[i], rc, out);
		cr_assert(strstr(out, bad[i]), "the error names the file: %s", out);
		cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
		cr_assert_eq(access(db, F_OK), -1, "no database written for %s", bad[i]);
	}
}

Test(read, unknown_link_type_is_counted_and_named)
{
	int rc =
	    tu_run(out, sizeof(out),
	           SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/unknown-link.pcap", db);
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, "link type 147"), "%s", out);
	cr_assert_eq(q1("SELECT unknown_link FROM runs"), 2);
}

Test(read, without_host_names_the_busiest_addresses)
{
	int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 2);
	cr_assert(strstr(out, "--host 127.0.0.10"), "candidates named: %s", out);
}

Test(read, only_flows_touching_the_host_are_stored_and_direction_is_from_the_host)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_addr != '127.0.0.10' AND resp_addr "
	                "!= '127.0.0.10'"),
	             0);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE direction='in' AND resp_addr != "
	                "'127.0.0.10'"),
	             0);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE direction='out' AND orig_addr != "
	                "'127.0.0.10'"),
	             0);
	cr_assert_eq(q1("SELECT flows + flows_other FROM runs"), 30);
	cr_assert_eq(q1("SELECT packets FROM runs"), 488);
}

Test(read, stdin_and_a_second_run_append)
{
	int rc =
	    tu_run(out, sizeof(out),
	           "cat pcaps/demo.pcap | " SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s -", db);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(
	    out, sizeof(out),
	    SMAUDIT_BIN " read -q --host 127.0.0.10 -f 'tcp port 443' --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM runs"), 2);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE source='stdin'"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id=2 AND resp_port != 443"), 0);
	cr_assert_gt(q1("SELECT count(*) FROM flows WHERE run_id=2"), 0);
}

/* Regression (review of the read-ahead, pkt14): stdin redirected from a
 * regular file is read ahead by the hashing thread. When libpcap stopped at
 * a damaged record (the demo's 488 packets, then a record claiming 256 MiB
 * and nothing after it), the thread had often read on to the end, so the
 * input was recorded with a hash in some runs and none in others; a stream
 * libpcap does not read to its end has no hash (it cannot be read on), as
 * before the read-ahead. Read to its end, stdin's hash is sha256sum's. */
Test(read, stdin_from_a_file_libpcap_stops_short_of_has_no_hash_like_any_stream)
{
	char bad[160], want[128], got[128];
	int rc = tu_run(out, sizeof(out),
	                "cp pcaps/demo.pcap %s/bad.pcap && printf '\\0\\0\\0\\0\\0\\0\\0\\0"
	                "\\0\\0\\0\\020\\0\\0\\0\\020' >> %s/bad.pcap",
	                dir, dir);

	cr_assert_eq(rc, 0, "%s", out);
	snprintf(bad, sizeof(bad), "%s/bad.pcap", dir);
	for (int k = 0; k < 3; k++) {
		rc = tu_run(out, sizeof(out),
		            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s - < %s", db, bad);
		cr_assert_eq(rc, 2, "a damaged record exits 2: %d\n%s", rc, out);
		cr_assert(strstr(out, "stdin: packet 489: "), "the damaged record is named: %s",
		          out);
	}
	cr_assert_eq(q1("SELECT count(*) FROM inputs WHERE packets = 488"), 3);
	cr_assert_eq(q1("SELECT count(*) FROM inputs WHERE sha256 IS NULL"), 3,
	             "no hash for a stream read in part, every time");
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s - < pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs WHERE run_id = 4", got, sizeof(got)),
	                 sha256sum("pcaps/demo.pcap", want, sizeof(want)));
}

/* Regression (review of issue 13): a filter libpcap refuses, for its
 * syntax or for the file's link type, closed the input's stream with the
 * capture and then once more (the tap freed twice: read aborted, 134).
 * Now it is a clear error naming the file and the filter, exit 2, and no
 * database written, whether the input is a file or stdin. */
Test(read, a_filter_libpcap_refuses_is_an_error_naming_file_and_filter)
{
	static const char *const filters[] = {"bogus syntax ((", "wlan type mgt"};

	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		int rc = tu_run(out, sizeof(out),
		                SMAUDIT_BIN " read -q --host 127.0.0.10 -f '%s' --db %s "
		                            "pcaps/demo.pcap pcaps/sll.pcap",
		                filters[i], db);
		char want[128];
		cr_assert_eq(rc, 2, "filter '%s': exit %d\n%s", filters[i], rc, out);
		snprintf(want, sizeof(want), "pcaps/demo.pcap: filter '%s': ", filters[i]);
		cr_assert(strstr(out, want), "%s", out);
		rc = tu_run(out, sizeof(out),
		            "cat pcaps/demo.pcap | " SMAUDIT_BIN
		            " read -q --host 127.0.0.10 -f '%s' --db %s -",
		            filters[i], db);
		cr_assert_eq(rc, 2, "stdin, filter '%s': exit %d\n%s", filters[i], rc, out);
		snprintf(want, sizeof(want), "stdin: filter '%s': ", filters[i]);
		cr_assert(strstr(out, want), "%s", out);
	}
	cr_assert_eq(access(db, F_OK), -1, "no database written");
}

Test(read, a_full_flow_table_evicts_but_loses_no_packet)
{
	int rc = tu_run(
	    out, sizeof(out),
	    SMAUDIT_BIN " read -q --max-flows 2 --host 0.0.0.0/0 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_gt(q1("SELECT count(*) FROM flows WHERE end_reason='evicted'"), 0);
	cr_assert_eq(q1("SELECT sum(orig_pkts + resp_pkts) FROM flows"), 488,
	             "every packet is in some stored flow");
	cr_assert_eq(q1("SELECT evicted FROM runs"),
	             q1("SELECT count(*) FROM flows WHERE end_reason='evicted'"));
}

Test(read, findings_group_by_peer_and_port_and_stay_short)
{
	char pcap[160], *sec, line[256];
	int rc, groups = 0;

	/* 2000 generated flows: DNS and UDP/7777 from many source ports per peer */
	snprintf(pcap, sizeof(pcap), "%s/gen.pcap", dir);
	rc = tu_run(out, sizeof(out), "python3 tests/bench/gen_flows.py --flows 2000 %s", pcap);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --host 127.0.0.10 --db %s %s", db, pcap);
	cr_assert_eq(rc, 0, "%s", out);
	sec = strstr(out, "\nunexpected-port:\n");
	cr_assert_not_null(sec, "%s", out);
	/* each peer/port is one group line however many source ports it used */
	for (char *p = sec + 1; (p = strstr(p, "\n  out ")) != NULL; p++) {
		snprintf(line, sizeof(line), "%.*s", (int)strcspn(p + 1, "\n"), p + 1);
		cr_assert_eq(strstr(strstr(out, line) + 1, line), NULL, "group shown twice: %s",
		             line);
		groups++;
	}
	cr_assert_eq(groups, 10, "at most 10 groups per verdict:\n%s", sec);
	cr_assert(strstr(sec, "more groups") && strstr(sec, "--verdict unexpected-port"),
	          "the rest is pointed to a query:\n%s", sec);
}

/* read writes CFG_STORE_BATCH_READ rows per transaction (it keeps none to
 * write again): a run of several such transactions, and a part one at the
 * end, stores every flow once and the roll-up it keeps is the one its flows
 * make; rows the reading thread made for the writer (writer.c, help_one)
 * are each their own flow's. */
Test(read, several_long_transactions_store_every_flow_and_its_roll_up)
{
	char pcap[160];
	int rc;

	snprintf(pcap, sizeof(pcap), "%s/gen.pcap", dir);
	rc = tu_run(out, sizeof(out), "python3 tests/bench/gen_flows.py --flows 20000 %s", pcap);
	cr_assert_eq(rc, 0, "%s", out);
	rc =
	    tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s %s", db, pcap);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 20000);
	cr_assert_eq(q1("SELECT count(DISTINCT uid) FROM flows"), 20000);
	cr_assert_eq(q1("SELECT flows FROM runs"), 20000);
	cr_assert_eq(q1("SELECT max(id) - min(id) + 1 FROM flows"), 20000, "ids without a gap");
	cr_assert_eq(q1("SELECT flows_max_id FROM rollup_state"), 20000, "the roll-up is current");
	cr_assert_eq(q1(TU_ROLLUP_DIFF), 0, "the roll-up equals flows grouped by hour and day");
	cr_assert_gt(q1("SELECT count(*) FROM flow_peer_ports"), 0);
	/* the flows still open at the end (some 5000) overflow the writer's
	 * queue: the reading thread judged many of them and made their rows;
	 * each row's reason is about the row's own peer and port */
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE verdict IS NULL OR community_id IS NULL"
	                " OR instr(reason, peer_addr) = 0 OR instr(reason, resp_port || '/') = 0"),
	             0);
}

/* Issue 12 #16: "bytes" means application payload everywhere (Zeek's
 * orig_bytes + resp_bytes): the findings after `read` and `query anomalies`
 * give the same number for a group, and the findings say what it counts. */
Test(read, findings_bytes_are_the_payload_bytes_query_shows)
{
	static char q[65536];
	char want[64], *line, *sec;
	long long qbytes, pbytes = -1;
	int rc;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read --host 127.0.0.10 --site rules/demo.site --db %s "
	                        "pcaps/demo.pcap",
	            db);
	cr_assert_eq(rc, 0, "%s", out);
	qbytes = q1("SELECT orig_bytes + resp_bytes FROM flows WHERE resp_addr = '127.0.0.66' "
	            "AND resp_port = 25");
	cr_assert_gt(qbytes, 0);
	cr_assert_neq(qbytes, q1("SELECT orig_ip_bytes + resp_ip_bytes FROM flows WHERE "
	                         "resp_addr = '127.0.0.66' AND resp_port = 25"));
	rc = tu_run(q, sizeof(q), SMAUDIT_BIN " query anomalies --db %s --format csv", db);
	cr_assert_eq(rc, 0, "%s", q);
	snprintf(want, sizeof(want), "unexpected-peer,out,127.0.0.66,25,tcp,SMTP,1,%lld,", qbytes);
	cr_assert_not_null(strstr(q, want), "query anomalies: no line %s\n%s", want, q);
	sec = strstr(out, "\nunexpected-peer:\n");
	cr_assert_not_null(sec, "%s", out);
	line = strstr(sec, "out 127.0.0.66 ");
	cr_assert_not_null(line, "%s", sec);
	cr_assert_eq(sscanf(strstr(line, " flow") + 6, "%lld", &pbytes), 1, "%s", line);
	cr_expect_eq(pbytes, qbytes, "findings say %lld bytes, query anomalies %lld", pbytes,
	             qbytes);
	cr_expect_not_null(strstr(out, "bytes = application payload"),
	                   "the findings do not say what bytes count:\n%s", out);
}

/* Split line at tabs into at most n fields (in place); returns the count. */
static int split_tabs(char *line, char **f, int n)
{
	int k = 0;

	line[strcspn(line, "\r\n")] = '\0';
	while (k < n) {
		char *tab = strchr(line, '\t');
		f[k++] = line;
		if (!tab)
			break;
		*tab = '\0';
		line = tab + 1;
	}
	return k;
}

/* The next record of conn.log TSV text at *p into buf (the '#' lines
 * skipped), *p moved past it; 0 at the end. */
static int zeek_next(const char **p, char *buf, size_t len)
{
	while (**p) {
		size_t n = strcspn(*p, "\n");
		snprintf(buf, len, "%.*s", (int)n, *p);
		*p += n + ((*p)[n] == '\n');
		if (buf[0] != '#')
			return 1;
	}
	return 0;
}

Test(read, zeek_conn_log_export_matches_the_expected_table)
{
	static char log[131072];
	char line[1024], cmd[512], zl[1024], *z[32], *e[32];
	FILE *exp;
	int rows = 0, rc;
	const char *p;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	snprintf(cmd, sizeof(cmd), SMAUDIT_BIN " query flows --format zeek --db %s", db);
	cr_assert_eq(tu_run(log, sizeof(log), "%s", cmd), 0, "%s", log);
	cr_assert(strstr(log,
	                 "#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tproto\t"
	                 "service\tduration\torig_bytes\tresp_bytes\tconn_state\tlocal_orig\t"
	                 "local_resp\tmissed_bytes\thistory\torig_pkts\torig_ip_bytes\t"
	                 "resp_pkts\tresp_ip_bytes\ttunnel_parents\tcommunity_id\n"),
	          "Zeek's conn.log columns:\n%.600s", log);
	cr_assert(strstr(log, "#path\tconn\n") && strstr(log, "#close\t"), "%.300s", log);
	exp = fopen("pcaps/demo.expected", "r");
	cr_assert_not_null(exp);
	cr_assert_not_null(fgets(line, sizeof(line), exp)); /* header */
	p = log;
	while (zeek_next(&p, zl, sizeof(zl))) {
		cr_assert_not_null(fgets(line, sizeof(line), exp), "more flows than expected: %s",
		                   zl);
		cr_assert_eq(split_tabs(zl, z, 32), 22, "22 conn.log columns: %s", zl);
		cr_assert_eq(split_tabs(line, e, 32), 15);
		rows++;
		/* expected: proto orig_addr orig_port resp_addr resp_port orig_pkts
		 * orig_ip_bytes orig_bytes resp_pkts resp_ip_bytes resp_bytes conn_state
		 * history direction_inferred missed_bytes */
		cr_expect_str_eq(z[6], strncmp(e[0], "icmp", 4) ? e[0] : "icmp", "row %d proto",
		                 rows);
		cr_expect_str_eq(z[2], e[1], "row %d orig_h", rows);
		cr_expect_str_eq(z[3], e[2], "row %d orig_p", rows);
		cr_expect_str_eq(z[4], e[3], "row %d resp_h", rows);
		cr_expect_str_eq(z[5], e[4], "row %d resp_p", rows);
		cr_expect_str_eq(z[16], e[5], "row %d orig_pkts", rows);
		cr_expect_str_eq(z[17], e[6], "row %d orig_ip_bytes", rows);
		cr_expect_str_eq(z[18], e[8], "row %d resp_pkts", rows);
		cr_expect_str_eq(z[19], e[9], "row %d resp_ip_bytes", rows);
		cr_expect_str_eq(z[11], e[11], "row %d conn_state", rows);
		cr_expect_str_eq(z[15], e[12], "row %d history", rows);
		cr_expect_str_eq(z[14], e[14], "row %d missed_bytes", rows);
		cr_expect(!strncmp(z[21], "1:", 2) && strlen(z[21]) == 30, "row %d community_id %s",
		          rows, z[21]);
		if (strcmp(z[8], "-") != 0) { /* Zeek leaves sizes unset for zero duration */
			cr_expect_str_eq(z[9], e[7], "row %d orig_bytes", rows);
			cr_expect_str_eq(z[10], e[10], "row %d resp_bytes", rows);
		}
		cr_expect_str_eq(z[12], strcmp(e[1], "127.0.0.10") ? "F" : "T", "row %d local_orig",
		                 rows);
	}
	cr_assert_null(fgets(line, sizeof(line), exp), "fewer flows than expected");
	fclose(exp);
	cr_assert_eq(rows, 30);
	cr_assert(strstr(log, "\tssl\t") && strstr(log, "\thttp\t") && strstr(log, "\tdns\t"),
	          "services named as Zeek names them");
}

/* Issue 12 #14 follow-up: conn.log's missed_bytes (TSV and JSON) is the sum
 * of the content gaps that tests/gen/expected.py computed from tshark, for
 * the captures that hold gaps (segments never captured; payloads cut by the
 * snap length), and 0 where there is none. */
Test(read, zeek_missed_bytes_match_the_expected_table)
{
	static const char *const names[] = {"gaps", "caplen"};
	static char log[65536], js[65536];
	int nonzero = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char path[128], line[1024], zl[1024], *z[32], *e[32];
		const char *p, *j;
		FILE *exp;
		int rows = 0;

		snprintf(path, sizeof(path), "%s/%s.db", dir, names[i]);
		cr_assert_eq(tu_run(out, sizeof(out),
		                    SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/%s.pcap",
		                    path, names[i]),
		             0, "%s", out);
		cr_assert_eq(tu_run(log, sizeof(log),
		                    SMAUDIT_BIN " query flows --format zeek --db %s", path),
		             0, "%s", log);
		cr_assert_eq(tu_run(js, sizeof(js),
		                    SMAUDIT_BIN " query flows --format zeek-json --db %s", path),
		             0, "%s", js);
		snprintf(line, sizeof(line), "pcaps/%s.expected", names[i]);
		exp = fopen(line, "r");
		cr_assert_not_null(exp);
		cr_assert_not_null(fgets(line, sizeof(line), exp)); /* header */
		p = log;
		j = js;
		while (zeek_next(&p, zl, sizeof(zl))) {
			cr_assert_not_null(fgets(line, sizeof(line), exp), "%s: extra flow %s",
			                   names[i], zl);
			cr_assert_eq(split_tabs(zl, z, 32), 22, "%s", zl);
			cr_assert_eq(split_tabs(line, e, 32), 15);
			rows++;
			cr_expect_str_eq(z[2], e[1], "%s row %d orig_h", names[i], rows);
			cr_expect_str_eq(z[3], e[2], "%s row %d orig_p", names[i], rows);
			cr_expect_str_eq(z[15], e[12], "%s row %d history", names[i], rows);
			cr_expect_str_eq(z[14], e[14], "%s row %d missed_bytes", names[i], rows);
			j = strstr(j, "\"missed_bytes\":");
			cr_assert_not_null(j, "%s row %d: no missed_bytes in the JSON", names[i],
			                   rows);
			j += strlen("\"missed_bytes\":");
			cr_expect_eq(strtoll(j, NULL, 10), strtoll(e[14], NULL, 10),
			             "%s row %d JSON missed_bytes", names[i], rows);
			nonzero += strcmp(e[14], "0") != 0;
		}
		cr_expect_null(fgets(line, sizeof(line), exp), "%s: fewer flows than expected",
		               names[i]);
		cr_expect_null(strstr(j, "\"missed_bytes\":"), "%s: more JSON rows", names[i]);
		fclose(exp);
		cr_assert_gt(rows, 0);
	}
	cr_assert_eq(nonzero, 2, "both captures hold a flow with gaps");
}

/* Start `smaudit read -q --host 127.0.0.10` on path (and path2 unless
 * NULL) into db, stdout (and stderr if quiet) to /dev/null; its pid. */
static pid_t spawn_read2(const char *path, const char *path2, int quiet)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) ||
		    (quiet && !freopen("/dev/null", "w", stderr)))
			_exit(127);
		execl(SMAUDIT_BIN, SMAUDIT_BIN, "read", "-q", "--host", "127.0.0.10", "--db", db,
		      path, path2, (char *)NULL);
		_exit(127);
	}
	return pid;
}

#define spawn_read(path, quiet) spawn_read2(path, NULL, quiet)

/* Write path: the demo's 488 packets, a record header claiming 256 MiB
 * (libpcap stops there: packet 489), then 3 MiB of random bytes (far past
 * read's buffer); *sb gets its stat. */
static void damaged_demo(const char *path, struct stat *sb)
{
	int rc = tu_run(out, sizeof(out),
	                "cp pcaps/demo.pcap %s && printf '\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0"
	                "\\0\\020\\0\\0\\0\\020' >> %s && head -c 3145728 /dev/urandom >> %s",
	                path, path, path);

	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(stat(path, sb), 0);
}

/* Open fifo for writing (once read opens it) and write the demo's file
 * header and first packet into it, then nothing; the open descriptor. */
static int pipe_demo_head(const char *fifo)
{
	char cap[4096];
	FILE *f = fopen("pcaps/demo.pcap", "rb");
	size_t n, first;
	int fd;

	cr_assert_not_null(f);
	n = fread(cap, 1, sizeof(cap), f);
	fclose(f);
	cr_assert_gt(n, 40);
	first = 40 + (size_t)(cap[32] & 0xff) + ((size_t)(cap[33] & 0xff) << 8); /* LE incl_len */
	cr_assert_leq(first, n);
	fd = open(fifo, O_WRONLY);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, cap, first), (ssize_t)first);
	return fd;
}

/* Wait (at most 10 s) for read (pid), signalled, to end; its exit status.
 * Bounded: one that does not end is killed and the test fails. */
static int reap_within_10s(pid_t pid)
{
	int st = 0;

	for (int j = 0; j < 200 && waitpid(pid, &st, WNOHANG) == 0; j++)
		usleep(50000);
	if (kill(pid, 0) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		cr_assert_fail("read did not stop within 10 s of SIGINT");
	}
	return st;
}

/* Once read (pid) has written its run row (within 10 s), SIGINT it, wait
 * for it to end (within 10 s, else it is killed and the test fails), then
 * close fd (the pipe it waited on); its exit status. */
static int interrupt_running_read(pid_t pid, int fd)
{
	int st, i;

	for (i = 0; i < 200 && tu_q1_try(db, "SELECT count(*) FROM runs") != 1; i++)
		usleep(50000);
	cr_assert_eq(kill(pid, SIGINT), 0);
	st = reap_within_10s(pid);
	close(fd);
	cr_assert_lt(i, 200, "read wrote no run row within 10 s");
	return st;
}

Test(read, sigint_while_waiting_on_a_pipe_stores_what_was_read)
{
	char fifo[160], buf[65536];
	FILE *f;
	size_t n;
	pid_t pid;
	int fd, st;

	snprintf(fifo, sizeof(fifo), "%s/cap.fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	pid = spawn_read(fifo, 0);
	fd = open(fifo, O_WRONLY); /* a capture arriving through a pipe ... */
	cr_assert_geq(fd, 0);
	f = fopen("pcaps/demo.pcap", "rb");
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		cr_assert_eq(write(fd, buf, n), (ssize_t)n);
	fclose(f);
	/* ... that has stopped: once smaudit has taken every byte from the pipe
	 * (at most 10 s under load) it reads them in no time, then waits for more */
	for (int i = 0, left = 1; i < 200 && left; i++) {
		cr_assert_eq(ioctl(fd, FIONREAD, &left), 0);
		if (left)
			usleep(50000);
	}
	usleep(700000);
	cr_assert_eq(kill(pid, SIGINT), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	close(fd);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", st);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='interrupted' AND packets=488"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 30, "every flow read so far is stored");
	cr_assert_gt(q1("SELECT count(*) FROM flows WHERE end_reason='shutdown'"), 0);
}

/* Regression: the run row was written before the signal handlers were
 * set, so a SIGINT right after start killed read with the run left
 * 'running'. The inputs are opened (header and first packet read) before
 * the row is written, so here the pipe delivers those and then idles: read
 * has written its run row and waits for the second packet. */
Test(read, sigint_right_after_start_is_an_interrupted_run)
{
	char fifo[160];
	pid_t pid;
	int st;

	snprintf(fifo, sizeof(fifo), "%s/idle.fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	pid = spawn_read(fifo, 1);
	st = interrupt_running_read(pid, pipe_demo_head(fifo));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", st);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='interrupted' AND finished IS NOT "
	                "NULL"),
	             1);
}

/* A read stopped by SIGINT still records each regular file with the whole
 * file's hash: the file (the demo, a damaged record, 3 MiB more, so most
 * of it is never read into the buffer) is merged with a pipe that delivers
 * the file header and one packet, then idles; read writes its run row and
 * waits on the pipe; what it had not read of the file is hashed after the
 * signal. The pipe, never read to its end, has no hash. */
Test(read, sigint_mid_read_still_records_each_files_whole_hash)
{
	char fifo[160], cut[160], want[128], got[128];
	struct stat sb;
	pid_t pid;
	int st;

	snprintf(fifo, sizeof(fifo), "%s/idle.fifo", dir);
	snprintf(cut, sizeof(cut), "%s/cut.pcap", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	damaged_demo(cut, &sb);
	pid = spawn_read2(cut, fifo, 1);
	st = interrupt_running_read(pid, pipe_demo_head(fifo));
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", st);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='interrupted'"), 1);
	cr_assert_lt(q1("SELECT packets FROM inputs WHERE seq = 1"), 488, "stopped mid-file");
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs WHERE seq = 1", got, sizeof(got)),
	                 sha256sum(cut, want, sizeof(want)));
	cr_assert_eq(q1("SELECT size FROM inputs WHERE seq = 1"), sb.st_size);
	cr_assert_eq(q1("SELECT sha256 IS NULL FROM inputs WHERE seq = 2"), 1);
}

/* The read position (fdinfo's pos) of pid's descriptor open on path, or
 * -1 when none is. */
static long long read_pos(pid_t pid, const char *path)
{
	char fdp[96], link[PATH_MAX], line[128];
	long long pos = -1;

	for (int fd = 0; fd < 64 && pos < 0; fd++) {
		ssize_t k;
		FILE *f;
		snprintf(fdp, sizeof(fdp), "/proc/%d/fd/%d", (int)pid, fd);
		k = readlink(fdp, link, sizeof(link) - 1);
		if (k <= 0 || (link[k] = '\0', strcmp(link, path)))
			continue;
		snprintf(fdp, sizeof(fdp), "/proc/%d/fdinfo/%d", (int)pid, fd);
		f = fopen(fdp, "r");
		while (f && fgets(line, sizeof(line), f))
			if (sscanf(line, "pos: %lld", &pos) == 1)
				break;
		if (f)
			fclose(f);
	}
	return pos;
}

/* SIGINT mid-read of one file, which the hashing thread reads ahead and
 * audit holds packets of (the demo, then 256 MiB of zeros: 16-byte empty
 * records, about 16.8 million, counted malformed; the signal is sent once
 * 16 MiB are read): the packets libpcap gave (inputs) are the packets the
 * run counts, none of the held ones lost or counted twice, the file is
 * recorded with the whole file's hash and size, and the run is
 * interrupted (exit 130). */
Test(read, sigint_mid_read_ahead_counts_every_packet_read_once_and_hashes_the_whole_file)
{
	char path[160], want[128], got[128];
	long long pos = -1;
	pid_t pid;
	int st;

	snprintf(path, sizeof(path), "%s/zeros.pcap", dir);
	cr_assert_eq(
	    tu_run(out, sizeof(out), "cp pcaps/demo.pcap %s && truncate -s 256M %s", path, path), 0,
	    "%s", out);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(127);
		execl(SMAUDIT_BIN, SMAUDIT_BIN, "read", "-q", "--host", "127.0.0.10", "--db", db,
		      path, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 5000 && (pos = read_pos(pid, path)) < (16 << 20); i++)
		usleep(2000);
	cr_assert_eq(kill(pid, SIGINT), 0);
	st = reap_within_10s(pid);
	cr_assert_geq(pos, 16 << 20, "never saw read reach 16 MiB of %s", path);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", st);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='interrupted'"), 1);
	cr_assert_lt(q1("SELECT packets FROM inputs"), 488 + (256 << 20) / 16, "stopped mid-file");
	cr_assert_eq(q1("SELECT packets FROM runs"), q1("SELECT packets FROM inputs"));
	cr_assert_eq(q1("SELECT size FROM inputs"), 256 << 20);
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs", got, sizeof(got)),
	                 sha256sum(path, want, sizeof(want)));
}

/* Write two captures of the same size, path/big1.pcap and big2.pcap (so
 * --skip-seen hashes both before reading): the demo, a damaged record,
 * then zeros (sparse) up to 512 MiB, long to hash. */
static void two_big_captures(void)
{
	int rc = tu_run(out, sizeof(out),
	                "cp pcaps/demo.pcap %s/big1.pcap && printf '\\0\\0\\0\\0\\0\\0\\0\\0"
	                "\\0\\0\\0\\020\\0\\0\\0\\020' >> %s/big1.pcap && truncate -s 512M "
	                "%s/big1.pcap && cp --sparse=always %s/big1.pcap %s/big2.pcap",
	                dir, dir, dir, dir, dir);

	cr_assert_eq(rc, 0, "%s", out);
}

/* Start read --skip-seen of the two big captures, wait (at most 10 s)
 * until it hashes the first up front (a second descriptor open on it),
 * then send it n SIGINTs 20 ms apart; its exit status (it must end within
 * 10 s, else it is killed and the test fails). */
static int interrupt_prehash(int n)
{
	char f1[160], f2[160], fdir[64], link[PATH_MAX], path[PATH_MAX + 300];
	int st, seen = 0;
	pid_t pid;

	snprintf(f1, sizeof(f1), "%s/big1.pcap", dir);
	snprintf(f2, sizeof(f2), "%s/big2.pcap", dir);
	pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
			_exit(127);
		execl(SMAUDIT_BIN, SMAUDIT_BIN, "read", "-q", "--skip-seen", "--host", "127.0.0.10",
		      "--db", db, f1, f2, (char *)NULL);
		_exit(127);
	}
	snprintf(fdir, sizeof(fdir), "/proc/%d/fd", (int)pid);
	for (int i = 0; i < 5000 && seen < 2; i++) {
		seen = 0;
		for (int fd = 0; fd < 64; fd++) {
			ssize_t k;
			snprintf(path, sizeof(path), "%s/%d", fdir, fd);
			k = readlink(path, link, sizeof(link) - 1);
			if (k > 0 && (link[k] = '\0', !strcmp(link, f1)))
				seen++;
		}
		if (seen < 2)
			usleep(2000);
	}
	for (int i = 0; i < n && seen == 2; i++) {
		cr_assert_eq(kill(pid, SIGINT), 0);
		usleep(20000);
	}
	st = reap_within_10s(pid);
	cr_assert_eq(seen, 2, "never saw read hash %s up front", f1);
	return st;
}

/* Regression (review of issue 13): --skip-seen's up-front hash of a file
 * went on to its end whatever the signals (a regular file's read is never
 * interrupted), so a second Ctrl-C did not leave the hash out as read
 * says it does, and the user waited for the whole file. Now the first
 * stops it, the second leaves both files' hashes out. */
Test(read, a_second_sigint_stops_the_skip_seen_hash_up_front)
{
	int st;

	two_big_captures();
	st = interrupt_prehash(2);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", st);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='interrupted'"), 1);
	cr_assert_eq(q1("SELECT count(*) FROM inputs WHERE sha256 IS NULL"), 2,
	             "interrupted twice: no hash is taken");
}

/* One SIGINT during that hash stops it and the file is still recorded
 * with its whole hash (taken on from what read had read of it). */
Test(read, one_sigint_during_the_skip_seen_hash_still_records_it_whole)
{
	char f1[160], want[128], got[128];
	int st;

	two_big_captures();
	st = interrupt_prehash(1);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit status %d", st);
	snprintf(f1, sizeof(f1), "%s/big1.pcap", dir);
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs WHERE seq = 1", got, sizeof(got)),
	                 sha256sum(f1, want, sizeof(want)));
	cr_assert_eq(q1("SELECT size FROM inputs WHERE seq = 1"), 512 * 1024 * 1024);
	cr_assert_eq(q1("SELECT count(*) FROM inputs WHERE sha256 IS NOT NULL"), 2);
}

/* A signal while read still waits for its input to open (before anything
 * is written) ends it at once with 130 and no run. */
Test(read, sigint_before_the_input_opens_writes_nothing)
{
	char fifo[160];
	pid_t pid;
	int st;

	snprintf(fifo, sizeof(fifo), "%s/none.fifo", dir);
	cr_assert_eq(mkfifo(fifo, 0600), 0);
	pid = spawn_read(fifo, 1);
	usleep(300000); /* blocked opening the pipe (or not yet there: the same end) */
	cr_assert_eq(kill(pid, SIGINT), 0);
	st = reap_within_10s(pid);
	cr_assert(WIFEXITED(st) || WIFSIGNALED(st), "status %d", st);
	cr_assert(!WIFEXITED(st) || WEXITSTATUS(st) == 130, "exit status %d", st);
	cr_assert_eq(access(db, F_OK), -1, "no database written");
}

Test(read, process_substitution_is_read_once)
{
	int rc = tu_run(out, sizeof(out),
	                "bash -c '" SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s <(cat "
	                "pcaps/demo.pcap)'",
	                db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT flows FROM runs WHERE status='complete'"), 30);
}

Test(read, usage_errors_are_one_line_and_exit_2)
{
	int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --bogus pcaps/demo.pcap");
	cr_assert_eq(rc, 2);
	cr_assert(strstr(out, "--bogus"), "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --host 127.0.0.10 --max-flows x a.pcap");
	cr_assert_eq(rc, 2);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --host 999.1.1.1 --db %s pcaps/demo.pcap",
	            db);
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, "999.1.1.1"), "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " frobnicate");
	cr_assert_eq(rc, 2);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --help");
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "--host"), "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " --version");
	cr_assert_eq(rc, 0);
	cr_assert(strstr(out, "smaudit 0."), "%s", out);
	cr_assert(strstr(out, "nDPI 4."), "--version names the nDPI version: %s", out);
}

Test(read, the_run_records_the_ndpi_version_that_version_names)
{
	char want[64] = "", got[64], *p;
	int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " --version");

	cr_assert_eq(rc, 0);
	p = strstr(out, "nDPI ");
	cr_assert_not_null(p, "%s", out);
	sscanf(p + 5, "%63[^,)]", want);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/vlan.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_str_eq(qs("SELECT ndpi_version FROM runs", got, sizeof(got)), want);
}

Test(read, an_empty_db_name_is_refused)
{
	int rc =
	    tu_run(out, sizeof(out), SMAUDIT_BIN " read --host 127.0.0.10 --db '' pcaps/demo.pcap");
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "--db"), "the error names the option: %s", out);
	cr_assert(!strstr(out, "flows stored"), "nothing stored: %s", out);
}

Test(read, bad_input_on_a_stream_or_device_is_refused_before_anything_is_written)
{
	int rc = tu_run(out, sizeof(out),
	                "echo hi | " SMAUDIT_BIN " read --host 127.0.0.10 --db %s -", db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "stdin"), "the error names stdin: %s", out);
	cr_assert_eq(access(db, F_OK), -1, "no run recorded for bad stdin");
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --host 127.0.0.10 --db %s /dev/null", db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "/dev/null"), "%s", out);
	cr_assert_eq(access(db, F_OK), -1, "no run recorded for /dev/null");
}

Test(read, a_compressed_capture_is_named_with_the_command_that_reads_it)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read --host 127.0.0.10 --db %s pcaps/sll.pcap.gz", db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "gzip"), "%s", out);
	cr_assert(strstr(out, "zcat pcaps/sll.pcap.gz | smaudit read"), "%s", out);
	rc = tu_run(out, sizeof(out),
	            "cat pcaps/sll.pcap.gz | " SMAUDIT_BIN " read --host 127.0.0.10 --db %s -", db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "gzip") && strstr(out, "zcat"), "%s", out);
	/* a pipe may deliver the first bytes in pieces */
	rc = tu_run(
	    out, sizeof(out),
	    "(head -c 1 pcaps/sll.pcap.gz; sleep 0.2; tail -c +2 pcaps/sll.pcap.gz) | " SMAUDIT_BIN
	    " read --host 127.0.0.10 --db %s -",
	    db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "gzip") && strstr(out, "zcat"), "%s", out);
	cr_assert_eq(access(db, F_OK), -1, "nothing written");
	/* and the command it names works */
	rc = tu_run(out, sizeof(out),
	            "zcat pcaps/sll.pcap.gz | " SMAUDIT_BIN " read -q --host 0.0.0.0/0 --db %s -",
	            db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	check_expected("sll");
}

Test(read, a_pcapng_mixing_link_types_is_refused_with_the_fix)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read --host 127.0.0.10 --db %s pcaps/mixed-link.pcapng", db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "mixes link types"), "%s", out);
	cr_assert(strstr(out, "editcap -T") && strstr(out, "tshark -r pcaps/mixed-link.pcapng"),
	          "the fix is named: %s", out);
	cr_assert_eq(access(db, F_OK), -1, "no 'complete' run for a file that reads nothing");
}

/* Split demo.pcap into parts of 100 packets with editcap (into dir). */
static void split_demo(void)
{
	int rc = tu_run(out, sizeof(out), "editcap -c 100 pcaps/demo.pcap %s/part.pcap", dir);
	cr_assert_eq(rc, 0, "editcap: %s", out);
}

Test(read, files_given_out_of_time_order_are_read_in_packet_time_order)
{
	split_demo();
	/* the parts in reverse order: the shell or a rotation scheme's names */
	int rc = tu_run(
	    out, sizeof(out),
	    SMAUDIT_BIN " read -q --host 0.0.0.0/0 --db %s $(ls %s/part*.pcap | sort -r)", db, dir);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(!strstr(out, "overlap"), "the parts do not overlap: %s", out);
	check_expected("demo"); /* 30 flows, each whole: no split, no guessed direction */
	cr_assert_eq(q1("SELECT count(*) FROM inputs WHERE run_id = 1"), 5);
}

Test(read, files_that_overlap_in_time_are_merged_with_a_warning)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap "
	                            "pcaps/demo.pcapng",
	                db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "pcaps/demo.pcapng overlaps pcaps/demo.pcap"), "%s", out);
}

Test(read, each_input_is_recorded_with_its_hash_size_and_packet_times)
{
	char want[128], got[128], sql[256];
	struct stat sb;
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap", db);

	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert_str_eq(
	    qs("SELECT sha256 FROM inputs WHERE run_id = 1 AND seq = 1", got, sizeof(got)),
	    sha256sum("pcaps/demo.pcap", want, sizeof(want)));
	cr_assert_eq(stat("pcaps/demo.pcap", &sb), 0);
	cr_assert_eq(q1("SELECT size FROM inputs"), sb.st_size);
	cr_assert_eq(q1("SELECT packets FROM inputs"), 488);
	/* first and last packet times as tshark reads them */
	rc = tu_run(out, sizeof(out),
	            "tshark -r pcaps/demo.pcap -T fields -e frame.time_epoch 2>/dev/null | "
	            "sed -n '1p;$p' | tr '\\n' ' '");
	cr_assert_eq(rc, 0);
	double t0 = 0, t1 = 0;
	cr_assert_eq(sscanf(out, "%lf %lf", &t0, &t1), 2, "%s", out);
	snprintf(sql, sizeof(sql),
	         "SELECT abs(first_ts - %.6f) < 1e-6 AND abs(last_ts - %.6f) < 1e-6 FROM inputs",
	         t0, t1);
	cr_assert_eq(q1(sql), 1, "first/last packet times: %s", out);
	/* the same bytes through stdin get the same hash */
	rc =
	    tu_run(out, sizeof(out),
	           "cat pcaps/demo.pcap | " SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s -", db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs WHERE run_id = 2", got, sizeof(got)), want);
	cr_assert_str_eq(qs("SELECT path FROM inputs WHERE run_id = 2", got, sizeof(got)), "stdin");
	cr_assert(strstr(out, "already read in run 1"), "%s", out);
}

Test(read, a_file_read_before_is_named_and_skip_seen_skips_it)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "pcaps/demo.pcap: already read in run 1"), "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --skip-seen --host 127.0.0.10 --db %s pcaps/demo.pcap "
	                        "pcaps/sll.pcap",
	            db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "already read in run 1: skipped"), "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id = 3"), 2, "only sll.pcap is read");
	cr_assert_eq(q1("SELECT skipped FROM inputs WHERE run_id = 3 AND seq = 1"), 1);
	cr_assert_eq(q1("SELECT packets FROM runs WHERE id = 3"), 13);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --skip-seen --host 127.0.0.10 --db %s pcaps/demo.pcap",
	            db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "this run reads nothing"), "%s", out);
}

Test(read, a_file_given_twice_in_one_read_is_named_and_skip_seen_reads_it_once)
{
	char copy[160], b[160];
	int rc;

	snprintf(copy, sizeof(copy), "%s/copy.pcap", dir);
	snprintf(b, sizeof(b), "%s/b.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out), "cp pcaps/demo.pcap %s", copy), 0);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap %s", b, copy);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "copy.pcap: the same bytes as pcaps/demo.pcap"), "%s", out);
	cr_assert_eq(tu_q1(b, "SELECT packets FROM runs"), 2 * 488, "read twice when asked");
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --skip-seen --host 0.0.0.0/0 --db %s pcaps/demo.pcap %s "
	                        "pcaps/demo.pcap",
	            db, copy);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "pcaps/demo.pcap: named twice: skipped"), "%s", out);
	cr_assert_eq(q1("SELECT packets FROM runs"), 488, "each packet once");
	cr_assert_eq(q1("SELECT count(*) FROM inputs WHERE skipped = 1"), 2);
	check_expected("demo");
}

/* A file libpcap stops reading far before its end (a record claiming
 * 256 MiB after the demo's 488 packets, then 3 MiB more: past the read
 * buffer) is still recorded with the whole file's hash and size: what
 * libpcap left unread is hashed after the read. */
Test(read, a_file_read_only_in_part_is_recorded_with_the_whole_files_hash)
{
	char bad[160], want[128], got[128], msg[200];
	struct stat sb;
	int rc;

	snprintf(bad, sizeof(bad), "%s/cut.pcap", dir);
	damaged_demo(bad, &sb);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s %s", db, bad);
	cr_assert_eq(rc, 2, "a damaged record exits 2: %d\n%s", rc, out);
	snprintf(msg, sizeof(msg), "%s: packet 489: ", bad);
	cr_assert(strstr(out, msg), "the damaged record is named: %s", out);
	cr_assert_eq(q1("SELECT packets FROM inputs"), 488);
	cr_assert_eq(q1("SELECT size FROM inputs"), sb.st_size);
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs", got, sizeof(got)),
	                 sha256sum(bad, want, sizeof(want)));
}

/* --skip-seen hashes up front the files that may have been read before:
 * one of the same size as a file read earlier but other bytes is read
 * (and recorded with its own hash), a copy is skipped, and a file of a
 * size never read (hashed while read) is read and recorded right. */
Test(read, skip_seen_tells_a_file_of_the_same_size_from_a_copy)
{
	char alt[160], copy[160], want[128], got[128];
	struct stat sb;
	int rc;

	snprintf(alt, sizeof(alt), "%s/alt.pcap", dir);
	snprintf(copy, sizeof(copy), "%s/copy.pcap", dir);
	cr_assert_eq(stat("pcaps/demo.pcap", &sb), 0);
	/* the last byte of the last packet's payload changed: same size */
	rc = tu_run(out, sizeof(out),
	            "cp pcaps/demo.pcap %s && cp pcaps/demo.pcap %s && printf '\\377' | dd "
	            "of=%s bs=1 seek=%lld conv=notrunc 2>/dev/null && ! cmp -s %s %s",
	            alt, copy, alt, (long long)sb.st_size - 1, alt, copy);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --skip-seen --host 127.0.0.10 --db %s pcaps/demo.pcap",
	            db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert_str_eq(qs("SELECT sha256 FROM inputs WHERE run_id = 1", got, sizeof(got)),
	                 sha256sum("pcaps/demo.pcap", want, sizeof(want)));
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN
	            " read -q --skip-seen --host 127.0.0.10 --db %s %s %s pcaps/sll.pcap",
	            db, alt, copy);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "copy.pcap: already read in run 1: skipped"), "%s", out);
	cr_assert(!strstr(out, "alt.pcap: already"), "%s", out);
	cr_assert_eq(q1("SELECT skipped IS NULL FROM inputs WHERE run_id = 2 AND seq = 1"), 1);
	cr_assert_eq(q1("SELECT skipped FROM inputs WHERE run_id = 2 AND seq = 2"), 1);
	cr_assert_eq(q1("SELECT packets FROM runs WHERE id = 2"), 488 + 13, "alt and sll read");
	cr_assert_str_eq(
	    qs("SELECT sha256 FROM inputs WHERE run_id = 2 AND seq = 1", got, sizeof(got)),
	    sha256sum(alt, want, sizeof(want)));
	cr_assert_str_eq(
	    qs("SELECT sha256 FROM inputs WHERE run_id = 2 AND seq = 3", got, sizeof(got)),
	    sha256sum("pcaps/sll.pcap", want, sizeof(want)));
}

Test(read, a_full_disk_counts_only_the_flows_really_committed)
{
	char full[128], fdb[160], cap[160];
	long long rows;
	int rc;

	snprintf(full, sizeof(full), "%s/full", dir);
	snprintf(fdb, sizeof(fdb), "%s/x.db", full);
	snprintf(cap, sizeof(cap), "%s/many.pcap", dir);
	cr_assert_eq(mkdir(full, 0700), 0);
	if (geteuid() != 0 || tu_run(out, sizeof(out), "mount -t tmpfs -o size=10m tmpfs %s", full))
		cr_skip_test("cannot mount a 10 MiB tmpfs (needs root): %s", out);
	mounted = 1;
	rc = tu_run(out, sizeof(out), "python3 tests/gen/manyflows.py 40000 %s", cap);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --host 127.0.0.10 --db %s %s", fdb, cap);
	cr_assert_eq(rc, 3, "a database failure exits 3: %d\n%.2000s", rc, out);
	rows = tu_q1(fdb, "SELECT count(*) FROM flows");
	/* read commits 16,000 rows a transaction (CFG_STORE_BATCH_READ): 10 MiB
	 * takes the first (about 8 MiB of WAL and database), not the second */
	cr_assert_lt(rows, 40000, "the disk filled before every flow was stored");
	cr_assert_gt(rows, 0, "a transaction was committed before the disk filled");
	cr_assert_eq(tu_q1(fdb, "SELECT flows FROM runs"), rows, "runs.flows = rows committed");
	cr_assert_eq(tu_q1(fdb, "SELECT status = 'failed' FROM runs"), 1);
	char want[96];
	snprintf(want, sizeof(want), "%lld flows stored", rows);
	cr_assert(strstr(out, want), "the summary says %s: %.3000s", want, out);
	snprintf(want, sizeof(want), "%lld of 40000 flows not stored", 40000 - rows);
	cr_assert(strstr(out, want), "the loss is named (%s): %.2000s", want, out);
}

Test(read, a_catch_all_host_takes_the_side_the_matrix_explains)
{
	char line[512], sql[1024];
	FILE *f;
	int n = 0;
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host 0.0.0.0/0 --site rules/demo.site --db %s "
	                            "pcaps/demo.pcap",
	                db);

	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	/* every flow the demo's matrix expects (judged with --host 127.0.0.10)
	 * is expected the same way when every address is monitored */
	f = fopen("pcaps/demo.verdicts", "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f)) {
		char proto[8], oa[64], ra[64], side[8], rule[64], verdict[32];
		int op, rp;
		if (sscanf(line, "%7s %63s %d %63s %d %7s %63s %31s", proto, oa, &op, ra, &rp, side,
		           rule, verdict) != 8 ||
		    strcmp(verdict, "expected"))
			continue;
		snprintf(sql, sizeof(sql),
		         "SELECT count(*) FROM flows WHERE proto='%s' AND orig_addr='%s' AND "
		         "orig_port=%d AND resp_addr='%s' AND resp_port=%d AND direction='%s' AND "
		         "rule_id='%s' AND verdict='expected'",
		         proto, oa, op, ra, rp, side, rule);
		cr_expect_eq(q1(sql), 1, "%s", line);
		n++;
	}
	fclose(f);
	cr_assert_eq(n, 13);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE verdict='unexpected-direction'"), 0,
	             "no false unexpected-direction from reading every flow inbound");
}

Test(read, a_host_no_flow_touched_is_named_with_the_busiest_addresses)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read --host 127.0.0.99 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "no flow touched a monitored host (127.0.0.99"), "%s", out);
	cr_assert(strstr(out, "--host 127.0.0.10"), "the real host is named: %s", out);
	cr_assert_eq(q1("SELECT flows_other FROM runs"), 30, "the run is still recorded");
	/* an empty capture is not a mistyped host */
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read --host 127.0.0.99 --db %s pcaps/empty.pcap", db);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert(!strstr(out, "no flow touched"), "%s", out);
}

Test(read, long_host_lists_are_kept_whole)
{
	char site[160], cmd[8192], sql[256];
	size_t off;
	FILE *f;
	int rc;

	/* a site file with 301 hosts, the real one last */
	snprintf(site, sizeof(site), "%s/big.site", dir);
	f = fopen(site, "w");
	cr_assert_not_null(f);
	for (int i = 0; i < 300; i++)
		fprintf(f, "host 10.%d.%d.1\n", i / 200, i % 200);
	fprintf(f, "host 127.0.0.10\n");
	fclose(f);
	/* and 100 --host options (more than the 64 a fixed array held) */
	off =
	    (size_t)snprintf(cmd, sizeof(cmd), SMAUDIT_BIN " read -q --db %s --site %s", db, site);
	for (int i = 0; i < 100; i++)
		off += (size_t)snprintf(cmd + off, sizeof(cmd) - off, " --host 10.9.%d.1", i);
	snprintf(cmd + off, sizeof(cmd) - off, " pcaps/demo.pcap");
	rc = tu_run(out, sizeof(out), "%s", cmd);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert_eq(q1("SELECT length(hosts) - length(replace(hosts, ',', '')) + 1 FROM runs"),
	             401, "every host recorded");
	snprintf(sql, sizeof(sql), "SELECT instr(hosts, '127.0.0.10/32') > 0 FROM runs");
	cr_assert_eq(q1(sql), 1, "the real host is recorded");
	cr_assert_eq(q1("SELECT flows FROM runs"), 30);
}

Test(read, exit_codes_are_one_table_in_help_readme_and_behaviour)
{
	static char readme[1 << 16];
	char line[256], *p, *nl;
	FILE *f = fopen("README.md", "r");
	size_t n;
	int rc, lines = 0;

	cr_assert_not_null(f);
	n = fread(readme, 1, sizeof(readme) - 1, f);
	readme[n] = '\0';
	fclose(f);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " --help");
	cr_assert_eq(rc, 0);
	p = strstr(out, "exit status");
	cr_assert_not_null(p, "--help has the table: %s", out);
	for (p = strchr(p, '\n') + 1; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		snprintf(line, sizeof(line), "\n  %.*s\n", (int)(nl - p), p);
		cr_expect(strstr(readme, line), "README lacks the --help line:%s", line);
		lines++;
	}
	cr_assert_geq(lines, 5);
	/* and the codes are what the table says */
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --bogus pcaps/demo.pcap");
	cr_assert_eq(rc, 2, "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN
	            " read --host 127.0.0.10 --db /nonexistent/dir/x.db pcaps/demo.pcap");
	cr_assert_eq(rc, 3, "database cannot be created: %s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s", db);
	cr_assert_eq(rc, 3, "no such database: %s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " query anomalies --fail-on-anomaly --db %s", db);
	cr_assert_eq(rc, 1, "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " query runs --db %s > /dev/full", db);
	cr_assert_eq(rc, 3, "output that could not be written: %s", out);
}

Test(read, a_link_type_change_mid_file_fails_the_run_and_keeps_what_was_read)
{
	char buf[2048];
	int rc =
	    tu_run(out, sizeof(out),
	           SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/late-link.pcapng", db);

	cr_assert_eq(rc, 2, "exit %d\n%s", rc, out);
	cr_assert(strstr(out, "late-link.pcapng: packet 12") && strstr(out, "editcap -T"), "%s",
	          out);
	cr_assert_str_eq(qs("SELECT status FROM runs", buf, sizeof(buf)), "failed");
	cr_assert(strstr(qs("SELECT error FROM runs", buf, sizeof(buf)), "mixes link types"), "%s",
	          buf);
	/* the HTTP connection before the second interface (craft.py) is stored */
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_addr = '127.0.0.55' AND "
	                "orig_port = 54000 AND resp_port = 80 AND conn_state = 'SF'"),
	             1);
	cr_assert_eq(q1("SELECT packets FROM runs"), 11);
}

/* Each input of the last run recorded with sha256sum's digest and the
 * file's size, for every file of the shell word list files; the number of
 * files checked. */
static int inputs_match_sha256sum(const char *files)
{
	char cmd[512], line[1024], sql[1300], got[128];
	struct stat sb;
	FILE *p;
	int n = 0;

	snprintf(cmd, sizeof(cmd), "sha256sum %s", files);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char *path = line + strcspn(line, " ");
		*path = '\0';
		path += 2; /* "HASH  PATH\n" */
		path[strcspn(path, "\n")] = '\0';
		snprintf(sql, sizeof(sql),
		         "SELECT sha256 FROM inputs WHERE run_id = (SELECT max(id) FROM runs) AND "
		         "path = '%s'",
		         path);
		cr_assert_str_eq(qs(sql, got, sizeof(got)), line, "%s", path);
		cr_assert_eq(stat(path, &sb), 0);
		snprintf(sql, sizeof(sql),
		         "SELECT size FROM inputs WHERE run_id = (SELECT max(id) FROM runs) AND "
		         "path = '%s'",
		         path);
		cr_assert_eq(q1(sql), sb.st_size, "%s", path);
		n++;
	}
	cr_assert_eq(pclose(p), 0, "%s", cmd);
	return n;
}

/* Several files read at once, their packets interleaved in time, each
 * many read chunks long (16 copies of the demo, 1.4 MB; the second shifted
 * by 100 s, in pcapng, so each copy falls between two of the first's), and
 * a third file: each is recorded with its own whole digest, whichever
 * thread hashed it and in whatever order their reads came. */
Test(read, files_read_at_once_are_each_recorded_with_their_own_hash)
{
	char files[512];
	int rc = tu_run(out, sizeof(out),
	                "for k in $(seq 0 15); do editcap -t $((k * 200)) pcaps/demo.pcap "
	                "%s/p$k.pcap || exit 1; done && mergecap -F pcap -a -w %s/a.pcap $(ls -v "
	                "%s/p*.pcap) && editcap -F pcapng -t 100 %s/a.pcap %s/b.pcapng",
	                dir, dir, dir, dir, dir);

	cr_assert_eq(rc, 0, "%s", out);
	snprintf(files, sizeof(files), "%s/a.pcap %s/b.pcapng pcaps/sll.pcap", dir, dir);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s %s", db,
	            files);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert_eq(q1("SELECT sum(packets = 16 * 488) FROM inputs"), 2, "both read whole");
	cr_assert_eq(inputs_match_sha256sum(files), 3);
}

/* One file alone is read ahead by the hashing thread: a capture of many
 * read chunks (48 copies of the demo in time order, 4.1 MB: the thread's
 * ring of chunks goes round several times) reaches libpcap whole and in
 * order (every packet read, none refused as damaged) and is recorded with
 * sha256sum's digest and its size. */
Test(read, one_file_read_ahead_reaches_libpcap_whole_and_in_order)
{
	char files[256];
	int rc = tu_run(out, sizeof(out),
	                "for k in $(seq 0 47); do editcap -t $((k * 200)) pcaps/demo.pcap "
	                "%s/p$k.pcap || exit 1; done && mergecap -F pcap -a -w %s/a.pcap $(ls -v "
	                "%s/p*.pcap)",
	                dir, dir, dir);

	cr_assert_eq(rc, 0, "%s", out);
	snprintf(files, sizeof(files), "%s/a.pcap", dir);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s %s", db,
	            files);
	cr_assert_eq(rc, 0, "exit %d\n%s", rc, out);
	cr_assert_eq(q1("SELECT packets FROM inputs"), 48 * 488);
	cr_assert_eq(q1("SELECT packets FROM runs"), 48 * 488);
	cr_assert_eq(inputs_match_sha256sum(files), 1);
}

Test(read, a_rotation_of_more_files_than_the_open_file_limit_is_merged)
{
	char files[200];
	int rc = tu_run(out, sizeof(out), "editcap -c 1 pcaps/demo.pcap %s/one.pcap", dir);
	cr_assert_eq(rc, 0, "editcap: %s", out);
	/* 488 one-packet files, named in reverse, under a soft limit of 256 */
	rc = tu_run(out, sizeof(out),
	            "ulimit -Sn 256 && " SMAUDIT_BIN
	            " read -q --host 0.0.0.0/0 --db %s $(ls %s/one*.pcap | sort -r)",
	            db, dir);
	cr_assert_eq(rc, 0, "exit %d\n%.2000s", rc, out);
	cr_assert(!strstr(out, "overlap"), "packets sharing an instant do not overlap: %.2000s",
	          out);
	check_expected("demo");
	cr_assert_eq(q1("SELECT count(*) FROM inputs"), 488);
	/* hashed inline, one buffer each: still each file's own digest */
	snprintf(files, sizeof(files), "%s/one*.pcap", dir);
	cr_assert_eq(inputs_match_sha256sum(files), 488);
}

/* Issue 12 item 19: a bad option value is named by its option, however it
 * was spelled (--opt VALUE or --opt=VALUE), in read and in live (which
 * checks its options before opening any interface). */
Test(read, option_errors_name_the_option_not_the_value)
{
	static const char *const cases[][2] = {
	    {"read --tcp-timeout 0 --host 127.0.0.10 pcaps/demo.pcap", "--tcp-timeout"},
	    {"read --udp-timeout=0 --host 127.0.0.10 pcaps/demo.pcap", "--udp-timeout"},
	    {"read --host 127.0.0.10 --icmp-timeout x pcaps/demo.pcap", "--icmp-timeout"},
	    {"read --max-flows 0 --host 127.0.0.10 pcaps/demo.pcap", "--max-flows"},
	    {"live --tcp-timeout 0 -i lo --host 127.0.0.10 --duration 1", "--tcp-timeout"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " %s --db %s", cases[i][0], db);
		cr_expect_eq(rc, 2, "%s: exit %d\n%s", cases[i][0], rc, out);
		cr_expect(strncmp(out, "smaudit: ", 9) == 0 && strstr(out, cases[i][1]) == out + 9,
		          "%s: the message does not start with %s:\n%s", cases[i][0], cases[i][1],
		          out);
	}
	cr_expect_neq(access(db, F_OK), 0, "nothing was written");
}

/* ---- mirrored and encapsulated traffic --------------------------------- */

Test(read, every_encapsulation_gives_the_inner_flows_tshark_sees)
{
	static const char *caps[] = {"encap-gre", "encap-udp", "encap-ipip",
	                             "encap-l2",  "encap-ppp", "encap-radiotap"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		char file[64];
		snprintf(file, sizeof(file), "%s.pcap", caps[i]);
		read_and_check(caps[i], file);
		cr_assert_eq(
		    q1("SELECT flows_other FROM runs WHERE id = (SELECT max(id) FROM runs)"), 0,
		    "%s: the tunnel's outer transport is no flow", caps[i]);
	}
}

/* Every column a user reads, one text per flow of run id, in time order. */
#define FLOW_COLUMNS                                                                               \
	"quote(ts_start)||'|'||quote(ts_end)||'|'||proto||'|'||orig_addr||'|'||orig_port||'|'||"   \
	"resp_addr||'|'||resp_port||'|'||quote(vlan)||'|'||direction||'|'||direction_inferred||'|" \
	"'"                                                                                        \
	"||peer_addr||'|'||orig_pkts||'|'||orig_ip_bytes||'|'||orig_bytes||'|'||resp_pkts||'|'||"  \
	"resp_ip_bytes||'|'||resp_bytes||'|'||quote(conn_state)||'|'||quote(history)||'|'||"       \
	"end_reason||'|'||quote(app_proto)||'|'||quote(app_confidence)||'|'||quote(server_name)"   \
	"||'|'||quote(rule_id)||'|'||quote(verdict)||'|'||quote(reason)"

/* The demo read plainly (run 1) and through a mirror session (run 2): the
 * same flows, column by column, with the same verdicts. */
static void same_as_plain_demo(const char *wrapped)
{
	sqlite3 *h;
	sqlite3_stmt *a, *b;
	int n = 0, rc;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 127.0.0.10 --site rules/demo.site --db %s "
	                        "pcaps/demo.pcap",
	            db);
	cr_assert_eq(rc, 0, "%s", out);
	rc =
	    tu_run(out, sizeof(out),
	           SMAUDIT_BIN " read -q --host 127.0.0.10 --site rules/demo.site --db %s pcaps/%s",
	           db, wrapped);
	cr_assert_eq(rc, 0, "%s: %s", wrapped, out);
	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h,
	                                "SELECT " FLOW_COLUMNS " FROM flows WHERE run_id = 1 "
	                                "ORDER BY ts_start, id",
	                                -1, &a, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_prepare_v2(h,
	                                "SELECT " FLOW_COLUMNS " FROM flows WHERE run_id = 2 "
	                                "ORDER BY ts_start, id",
	                                -1, &b, NULL),
	             SQLITE_OK);
	while (sqlite3_step(a) == SQLITE_ROW) {
		n++;
		cr_assert_eq(sqlite3_step(b), SQLITE_ROW, "%s: flow %d missing", wrapped, n);
		cr_expect_str_eq((const char *)sqlite3_column_text(b, 0),
		                 (const char *)sqlite3_column_text(a, 0), "%s flow %d", wrapped, n);
	}
	cr_expect_neq(sqlite3_step(b), SQLITE_ROW, "%s: more flows than the plain demo", wrapped);
	cr_assert_eq(n, 30, "the plain demo has 30 flows");
	sqlite3_finalize(a);
	sqlite3_finalize(b);
	sqlite3_close(h);
	cr_assert_eq(q1("SELECT count(DISTINCT packets) FROM runs"), 1, "every packet counted");
	cr_assert_eq(q1("SELECT flows_other + malformed + non_ip FROM runs WHERE id = 2"), 0,
	             "%s: the mirror session itself is no flow and nothing is lost", wrapped);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id = 1 AND tunnel IS NULL"), 30);
}

Test(read, demo_through_erspan_type_2_gives_the_same_flows_and_verdicts)
{
	char buf[256];

	same_as_plain_demo("demo-erspan.pcap");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id = 2 AND tunnel = "
	                "'erspan2 192.0.2.1>192.0.2.2 session 1'"),
	             30, "every flow names the mirror session it came through");
	cr_assert_str_eq(qs("SELECT encap FROM runs WHERE id = 2", buf, sizeof(buf)),
	                 "erspan2 488");
}

Test(read, demo_through_vxlan_gives_the_same_flows_and_verdicts)
{
	char buf[256];

	same_as_plain_demo("demo-vxlan.pcap");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id = 2 AND tunnel = "
	                "'vxlan 198.51.100.1>198.51.100.2 vni 4242'"),
	             30);
	cr_assert_str_eq(qs("SELECT encap FROM runs WHERE id = 2", buf, sizeof(buf)), "vxlan 488");
}

Test(read, two_tenants_with_the_same_inner_addresses_are_two_flows)
{
	char buf[256];
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read --host 10.0.0.10 --db %s pcaps/encap-tenants.pcap", db);

	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 2, "VNI 100 and VNI 200 do not merge");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_pkts = 6 AND resp_pkts = 5 AND "
	                "conn_state = 'SF' AND orig_addr = '10.0.0.5' AND resp_port = 80"),
	             2, "each tenant's connection is whole");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE tunnel = "
	                "'vxlan 198.51.100.1>198.51.100.2 vni 100'"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE tunnel = "
	                "'vxlan 198.51.100.3>198.51.100.2 vni 200'"),
	             1);
	cr_assert_str_eq(qs("SELECT encap FROM runs", buf, sizeof(buf)), "vxlan 22");
	cr_assert(strstr(out, "decapsulated (packets): vxlan 22"), "the summary says so:\n%s", out);
}

Test(read, nested_too_deep_or_cut_tunnels_are_malformed_and_the_rest_is_kept)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read --host 127.0.0.10 --db %s pcaps/encap-bomb.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	/* 20 GRE layers and a payload that is not IP: bad headers; a GRE key and
	 * a VXLAN header cut by the snap length: truncated */
	cr_assert_eq(q1("SELECT malformed FROM runs"), 4);
	cr_assert_eq(q1("SELECT packets FROM runs"), 15);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), 1, "the good flow around them survives");
	cr_assert_eq(q1("SELECT orig_pkts + resp_pkts FROM flows"), 11);
	cr_assert(strstr(out, "truncated 2, bad header 2"), "%s", out);
}

Test(read, vxlan_on_another_port_only_when_asked)
{
	char buf[256];
	int rc =
	    tu_run(out, sizeof(out),
	           SMAUDIT_BIN " read -q --host 0.0.0.0/0 --db %s pcaps/encap-vxlan-port.pcap", db);

	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE proto = 'udp' AND resp_port = 8472 AND "
	                "orig_pkts = 11 AND tunnel IS NULL"),
	             1, "not asked: a plain UDP flow between the VTEPs");
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 0.0.0.0/0 --vxlan-port 8472 --db %s "
	                        "pcaps/encap-vxlan-port.pcap",
	            db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id = 2"), 1);
	cr_assert_str_eq(
	    qs("SELECT proto||' '||orig_addr||':'||orig_port||' '||resp_addr||':'||"
	       "resp_port||' '||orig_pkts||'/'||resp_pkts||' '||orig_ip_bytes||'/'||"
	       "resp_ip_bytes||' '||conn_state||' '||tunnel FROM flows WHERE run_id = 2",
	       buf, sizeof(buf)),
	    "tcp 127.0.0.55:50900 127.0.0.10:80 6/5 268/240 SF vxlan "
	    "198.51.100.1>198.51.100.2 vni 9");
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read --vxlan-port 0 --host 127.0.0.10 x.pcap");
	cr_assert_eq(rc, 2, "a port out of range is a usage error: %s", out);
}

/* --format zeek-json holds the same records as the conn.log above, written
 * as Zeek's JSON writer does (checked by tests/zeek_json_check.py). */
Test(read, zeek_json_export_says_what_the_conn_log_says)
{
	int rc, n = 0;

	rc = tu_run(
	    out, sizeof(out),
	    SMAUDIT_BIN " read -q --host 127.0.0.10 --db %s pcaps/demo.pcap pcaps/ipv6.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " query flows --format zeek --db %s > %s.log && " SMAUDIT_BIN
	                        " query flows --format zeek-json --db %s > %s.json && python3 "
	                        "tests/zeek_json_check.py %s.log %s.json",
	            db, db, db, db, db, db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(sscanf(out, "ok %d", &n), 1, "%s", out);
	cr_expect_eq(n, tu_q1(db, "SELECT count(*) FROM flows"));
}
