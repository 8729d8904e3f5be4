/* test_tshark.c: for every shipped capture, the packets per direction of
 * each TCP and UDP conversation that tshark's conversation statistics
 * report (`tshark -q -z conv,tcp -z conv,udp`) equal what the real binary
 * stored for that connection. (IP bytes per direction are held to tshark's
 * ip.len sums through pcaps/NAME.expected in test_read.c.) frag.pcap is not
 * here: tshark reassembles, smaudit counts fragments on the wire. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"

static char dir[64], db[128], out[8192];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/t.db", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(tshark, .init = setup, .fini = teardown, .timeout = 120);

/* Split "addr:port" at the last colon (IPv6 addresses have colons too). */
static int endpoint(char *s, const char **addr, int *port)
{
	char *c = strrchr(s, ':');
	if (!c)
		return -1;
	*c = '\0';
	*addr = s;
	return sscanf(c + 1, "%d", port) == 1 ? 0 : -1;
}

/* Packets the database holds from a:ap to b:bp over proto (all runs). */
static long long sent(sqlite3 *h, const char *proto, const char *a, int ap, const char *b, int bp)
{
	sqlite3_stmt *st;
	long long v = 0;

	cr_assert_eq(
	    sqlite3_prepare_v2(h,
	                       "SELECT total(CASE WHEN orig_addr=?2 AND orig_port=?3 THEN "
	                       "orig_pkts ELSE resp_pkts END) FROM flows WHERE proto=?1 AND "
	                       "((orig_addr=?2 AND orig_port=?3 AND resp_addr=?4 AND "
	                       "resp_port=?5) OR (orig_addr=?4 AND orig_port=?5 AND "
	                       "resp_addr=?2 AND resp_port=?3))",
	                       -1, &st, NULL),
	    SQLITE_OK);
	sqlite3_bind_text(st, 1, proto, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, a, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 3, ap);
	sqlite3_bind_text(st, 4, b, -1, SQLITE_STATIC);
	sqlite3_bind_int(st, 5, bp);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void compare(const char *capture)
{
	char cmd[512], line[1024], proto[8] = "";
	FILE *p;
	sqlite3 *h;
	int convs = 0, rc;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 0.0.0.0/0 --host ::/0 --db %s/%s.db pcaps/%s", dir,
	            capture, capture);
	cr_assert_eq(rc, 0, "%s: %s", capture, out);
	snprintf(cmd, sizeof(cmd), "%s/%s.db", dir, capture);
	cr_assert_eq(sqlite3_open_v2(cmd, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(cmd, sizeof(cmd), "tshark -r pcaps/%s -n -q -z conv,tcp -z conv,udp 2>/dev/null",
	         capture);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof(line), p)) {
		char a[128], b[128], arrow[8];
		const char *aa, *ba;
		int ap, bp;
		long long b_to_a, a_to_b;

		if (strstr(line, "TCP Conversations"))
			strcpy(proto, "tcp");
		else if (strstr(line, "UDP Conversations"))
			strcpy(proto, "udp");
		/* "A:pa <-> B:pb  frames bytes  frames bytes ...": <- is B to A */
		if (sscanf(line, "%127s %7s %127s %lld %*s %*s %lld", a, arrow, b, &b_to_a,
		           &a_to_b) != 5 ||
		    strcmp(arrow, "<->") != 0)
			continue;
		cr_assert(endpoint(a, &aa, &ap) == 0 && endpoint(b, &ba, &bp) == 0, "%s", line);
		cr_expect_eq(sent(h, proto, aa, ap, ba, bp), a_to_b, "%s %s %s:%d -> %s:%d packets",
		             capture, proto, aa, ap, ba, bp);
		cr_expect_eq(sent(h, proto, ba, bp, aa, ap), b_to_a, "%s %s %s:%d -> %s:%d packets",
		             capture, proto, ba, bp, aa, ap);
		convs++;
	}
	cr_assert_eq(pclose(p), 0, "tshark failed on %s", capture);
	cr_assert_gt(convs, 0, "%s: tshark reported no conversation", capture);
	sqlite3_close(h);
}

Test(tshark, recorded_captures)
{
	static const char *caps[] = {"demo.pcap",       "demo.pcapng",       "mismatch.pcap",
	                             "dpi-apps.pcap",   "dpi-mismatch.pcap", "dpi-midstream.pcap",
	                             "dpi-unknown.pcap"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		compare(caps[i]);
}

Test(tshark, crafted_captures)
{
	static const char *caps[] = {"states.pcap", "midstream.pcap", "vlan.pcap", "qinq.pcap",
	                             "ipv6.pcap",   "sll.pcap",       "sll2.pcap", "null.pcap",
	                             "raw.pcap",    "roles.pcap",     "gaps.pcap"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		compare(caps[i]);
}

/* Every flow of a capture carries a Community ID, and it is one tshark's
 * own communityid dissector computes for that flow's packets (tshark is
 * the independent implementation: Wireshark's, not ours). */
static void community_ids(const char *capture)
{
	static char ids[1 << 18];
	char cmd[512];
	sqlite3 *h;
	sqlite3_stmt *st;
	int rc, flows = 0;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host 0.0.0.0/0 --host ::/0 --db %s/%s.db pcaps/%s", dir,
	            capture, capture);
	cr_assert_eq(rc, 0, "%s: %s", capture, out);
	ids[0] = '\n';
	rc = tu_run(ids + 1, sizeof(ids) - 1,
	            "tshark -r pcaps/%s --enable-protocol communityid -T fields -e communityid "
	            "2>/dev/null",
	            capture);
	cr_assert_eq(rc, 0, "tshark failed on %s", capture);
	cr_assert_lt(strlen(ids), sizeof(ids) - 2, "tshark output too long");
	snprintf(cmd, sizeof(cmd), "%s/%s.db", dir, capture);
	cr_assert_eq(sqlite3_open_v2(cmd, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h,
	                                "SELECT coalesce(community_id, ''), proto, orig_addr, "
	                                "orig_port, resp_addr, resp_port FROM flows",
	                                -1, &st, NULL),
	             SQLITE_OK);
	while (sqlite3_step(st) == SQLITE_ROW) {
		char want[64];
		const char *id = (const char *)sqlite3_column_text(st, 0);

		snprintf(want, sizeof(want), "\n%s\n", id);
		cr_expect(*id && strstr(ids, want), "%s: %s %s:%d -> %s:%d: '%s' is not tshark's",
		          capture, sqlite3_column_text(st, 1), sqlite3_column_text(st, 2),
		          sqlite3_column_int(st, 3), sqlite3_column_text(st, 4),
		          sqlite3_column_int(st, 5), id);
		flows++;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	cr_assert_gt(flows, 0, "%s: no flow stored", capture);
}

Test(tshark, community_id_on_every_flow_of_every_capture)
{
	static const char *caps[] = {"demo.pcap",        "demo.pcapng",       "mismatch.pcap",
	                             "dpi-apps.pcap",    "dpi-mismatch.pcap", "dpi-midstream.pcap",
	                             "dpi-unknown.pcap", "states.pcap",       "midstream.pcap",
	                             "vlan.pcap",        "qinq.pcap",         "ipv6.pcap",
	                             "sll.pcap",         "sll2.pcap",         "null.pcap",
	                             "raw.pcap",         "frag.pcap",         "caplen.pcap"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		community_ids(caps[i]);
}
