/* test_flow.c: the flow table: originator, Zeek's conn_state and history,
 * payload bytes from sequence numbers, ICMP pairing, fragments, timeouts
 * on packet time, close and port reuse, and eviction that never loses a
 * flow. Packets are decoded views built here (the table is the unit). */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "smaudit/flow.h"

#define MAXEND 64

static struct flow_record ended[MAXEND];
static int nended;

static void on_end(void *ctx, struct flow *f)
{
	(void)ctx;
	if (nended < MAXEND)
		ended[nended] = *flow_rec(f);
	nended++;
}

static struct flow_table *table(uint32_t max)
{
	struct flow_cfg cfg = {.max_flows = max, .uid_seed = 42};
	nended = 0;
	return flow_table_new(&cfg, on_end, NULL);
}

static uint64_t now_us = 1793491200000000ULL; /* 2026-11-01 */

/* A decoded TCP packet from a:ap to b:bp. */
static struct pkt tcpp(uint8_t a, uint16_t ap, uint8_t b, uint16_t bp, uint8_t flags, uint32_t seq,
                       uint32_t ack, uint32_t len)
{
	struct pkt p;
	memset(&p, 0, sizeof(p));
	uint8_t sa[4] = {127, 0, 0, a}, da[4] = {127, 0, 0, b};
	addr_set4(&p.src, sa);
	addr_set4(&p.dst, da);
	p.ip_version = 4;
	p.proto = IPPROTO_TCP;
	p.sport = ap;
	p.dport = bp;
	p.tcp_flags = flags;
	p.tcp_seq = seq;
	p.tcp_ack = ack;
	p.tcp_win = 512;
	p.payload_len = len;
	p.payload_caplen = len; /* captured in full */
	p.ip_len = 40 + len;
	p.ts_us = (now_us += 1000);
	return p;
}

static struct pkt udpp(uint8_t a, uint16_t ap, uint8_t b, uint16_t bp, uint32_t len)
{
	struct pkt p = tcpp(a, ap, b, bp, 0, 0, 0, len);
	p.proto = IPPROTO_UDP;
	p.udp_len = (uint16_t)(8 + len);
	p.ip_len = 28 + len;
	return p;
}

static struct flow *feed(struct flow_table *t, struct pkt p, int *from_orig)
{
	int is_new, fo;
	struct flow *f = flow_track(t, &p, &is_new, &fo);
	if (from_orig)
		*from_orig = fo;
	return f;
}

/* client 127.0.0.50:40000 -> server 127.0.0.10:443, ISNs 100 / 5000 */
static void handshake(struct flow_table *t)
{
	feed(t, tcpp(50, 40000, 10, 443, TH_SYN, 100, 0, 0), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_SYN | TH_ACK, 5000, 101, 0), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK, 101, 5001, 0), NULL);
}

Test(flow, full_connection_is_SF_with_zeek_history_and_sizes)
{
	struct flow_table *t = table(16);

	handshake(t);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 101, 5001, 100), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK | TH_PUSH, 5001, 201, 300), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_FIN, 201, 5301, 0), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK | TH_FIN, 5301, 202, 0), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK, 202, 5302, 0), NULL);
	flow_expire(t, now_us + 6000000); /* past the 5 s close delay */
	cr_assert_eq(nended, 1);
	cr_assert_str_eq(ended[0].conn_state, "SF");
	cr_assert_str_eq(ended[0].history, "ShADdFf"); /* no bare ACK from the responder */
	cr_assert_eq(ended[0].orig_port, 40000);
	cr_assert_eq(ended[0].resp_port, 443);
	cr_assert_eq(ended[0].orig_bytes, 100);
	cr_assert_eq(ended[0].resp_bytes, 300);
	cr_assert_eq(ended[0].orig_pkts, 5);
	cr_assert_eq(ended[0].resp_pkts, 3);
	cr_assert_eq(ended[0].orig_ip_bytes, 5 * 40 + 100);
	cr_assert_eq(ended[0].end_reason, END_CLOSED);
	cr_assert_eq(ended[0].direction_inferred, 0);
	cr_assert_eq(ended[0].uid[0], 'C');
	flow_table_free(t);
}

Test(flow, retransmission_counts_once_in_bytes_and_marks_T)
{
	struct flow_table *t = table(16);

	handshake(t);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 101, 5001, 100), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 101, 5001, 100), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_eq(ended[0].orig_bytes, 100);
	cr_assert_eq(ended[0].orig_pkts, 4);
	cr_assert_str_eq(ended[0].history, "ShADT");
	cr_assert_str_eq(ended[0].conn_state, "S1");
	cr_assert_eq(ended[0].end_reason, END_CAPTURE_END);
	flow_table_free(t);
}

Test(flow, attempts_rejects_and_resets)
{
	struct flow_table *t = table(16);

	feed(t, tcpp(50, 40001, 10, 1526, TH_SYN, 1, 0, 0), NULL); /* S0 */
	feed(t, tcpp(50, 40002, 10, 25, TH_SYN, 1, 0, 0), NULL);   /* REJ */
	feed(t, tcpp(10, 25, 50, 40002, TH_RST | TH_ACK, 0, 2, 0), NULL);
	feed(t, tcpp(50, 40003, 10, 80, TH_SYN, 1, 0, 0), NULL); /* RSTOS0 */
	feed(t, tcpp(50, 40003, 10, 80, TH_RST, 2, 0, 0), NULL);
	feed(t, tcpp(50, 40004, 10, 7071, TH_SYN, 10, 0, 0), NULL); /* RSTO */
	feed(t, tcpp(10, 7071, 50, 40004, TH_SYN | TH_ACK, 90, 11, 0), NULL);
	feed(t, tcpp(50, 40004, 10, 7071, TH_ACK, 11, 91, 0), NULL);
	feed(t, tcpp(50, 40004, 10, 7071, TH_RST | TH_ACK, 11, 91, 0), NULL);
	feed(t, tcpp(50, 40005, 10, 7443, TH_SYN, 10, 0, 0), NULL); /* SH */
	feed(t, tcpp(50, 40005, 10, 7443, TH_FIN, 11, 0, 0), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 5);
	for (int i = 0; i < nended; i++) {
		const struct flow_record *r = &ended[i];
		switch (r->orig_port) {
		case 40001:
			cr_assert_str_eq(r->conn_state, "S0");
			cr_assert_str_eq(r->history, "S");
			break;
		case 40002:
			cr_assert_str_eq(r->conn_state, "REJ");
			cr_assert_str_eq(r->history, "Sr");
			break;
		case 40003:
			cr_assert_str_eq(r->conn_state, "RSTOS0");
			cr_assert_str_eq(r->history, "SR");
			break;
		case 40004:
			cr_assert_str_eq(r->conn_state, "RSTO");
			cr_assert_str_eq(r->history, "ShAR");
			break;
		case 40005:
			cr_assert_str_eq(r->conn_state, "SH");
			cr_assert_str_eq(r->history, "SF");
			break;
		default:
			cr_assert_fail("unexpected flow %u", r->orig_port);
		}
	}
	flow_table_free(t);
}

Test(flow, midstream_flow_is_oriented_by_the_service_port)
{
	struct flow_table *t = table(16);
	int fo;

	/* the first packet seen is the server's: 127.0.0.10:443 -> client */
	feed(t, tcpp(10, 443, 50, 51000, TH_ACK | TH_PUSH, 7000, 300, 50), &fo);
	cr_assert_eq(fo, 0, "the server's packet is from the responder");
	feed(t, tcpp(50, 51000, 10, 443, TH_ACK | TH_PUSH, 300, 7050, 20), &fo);
	cr_assert_eq(fo, 1);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_eq(ended[0].orig_port, 51000);
	cr_assert_eq(ended[0].resp_port, 443);
	cr_assert_eq(ended[0].direction_inferred, 1);
	cr_assert_str_eq(ended[0].history, "^dD");
	cr_assert_str_eq(ended[0].conn_state, "OTH");
	cr_assert_eq(ended[0].resp_bytes, 50);
	cr_assert_eq(ended[0].orig_bytes, 20);
	flow_table_free(t);
}

Test(flow, udp_first_sender_unless_it_is_the_service)
{
	struct flow_table *t = table(16);

	feed(t, udpp(10, 40000, 66, 53, 30), NULL);  /* query */
	feed(t, udpp(66, 53, 10, 40000, 90), NULL);  /* answer */
	feed(t, udpp(66, 123, 10, 45000, 48), NULL); /* reply first: flipped */
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 2);
	for (int i = 0; i < 2; i++) {
		if (ended[i].resp_port == 53) {
			cr_assert_eq(ended[i].orig_bytes, 30);
			cr_assert_eq(ended[i].resp_bytes, 90);
			cr_assert_str_eq(ended[i].conn_state, "SF");
			cr_assert_str_eq(ended[i].history, "Dd");
			cr_assert_eq(ended[i].direction_inferred, 0);
		} else {
			cr_assert_eq(ended[i].resp_port, 123);
			cr_assert_eq(ended[i].orig_port, 45000);
			cr_assert_str_eq(ended[i].conn_state, "SHR");
			cr_assert_str_eq(ended[i].history, "^d");
			cr_assert_eq(ended[i].direction_inferred, 1);
		}
	}
	flow_table_free(t);
}

Test(flow, icmp_echo_request_and_reply_are_one_flow)
{
	struct flow_table *t = table(16);
	struct pkt req = tcpp(10, 0, 66, 0, 0, 0, 0, 56), rep = tcpp(66, 0, 10, 0, 0, 0, 0, 56);

	req.proto = rep.proto = IPPROTO_ICMP;
	req.icmp_type = 8;
	rep.icmp_type = 0;
	req.ip_len = rep.ip_len = 84;
	feed(t, req, NULL);
	feed(t, rep, NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_eq(ended[0].orig_port, 8);
	cr_assert_eq(ended[0].resp_port, 0);
	cr_assert_eq(ended[0].orig_pkts, 1);
	cr_assert_eq(ended[0].resp_pkts, 1);
	cr_assert_str_eq(ended[0].conn_state, "OTH");
	flow_table_free(t);
}

Test(flow, later_fragments_join_the_first_fragments_flow)
{
	struct flow_table *t = table(16);
	struct pkt first = udpp(10, 40000, 66, 53, 8), later = udpp(10, 0, 66, 0, 0), orphan;
	struct flow_record *r;
	struct flow *f;

	first.frag = PKT_FRAG_FIRST;
	first.frag_id = 77;
	first.udp_len = 8 + 1400;
	first.ip_len = 20 + 16;
	later.frag = PKT_FRAG_LATER;
	later.frag_id = 77;
	later.ip_len = 20 + 1392;
	orphan = later;
	orphan.frag_id = 78;
	feed(t, first, NULL);
	f = feed(t, later, NULL);
	cr_assert_not_null(f, "a later fragment is attributed, not dropped");
	r = flow_rec(f);
	cr_assert_eq(r->orig_pkts, 2);
	cr_assert_eq(r->orig_ip_bytes, 36 + 1412);
	cr_assert_eq(r->orig_bytes, 1400, "payload is the whole datagram");
	cr_assert_null(feed(t, orphan, NULL));
	cr_assert_eq(flow_table_stats(t)->frags_orphan, 1);
	flow_table_free(t);
}

Test(flow, idle_timeouts_run_on_packet_time)
{
	struct flow_table *t = table(16);
	uint64_t start;

	feed(t, udpp(10, 40000, 66, 53, 30), NULL);
	start = now_us;
	handshake(t);
	flow_expire(t, start + 59 * 1000000ULL);
	cr_assert_eq(nended, 0);
	flow_expire(t, start + 61 * 1000000ULL);
	cr_assert_eq(nended, 1, "UDP ends after 1 min idle");
	cr_assert_eq(ended[0].end_reason, END_TIMEOUT);
	flow_expire(t, start + 299 * 1000000ULL);
	cr_assert_eq(nended, 1);
	flow_expire(t, start + 301 * 1000000ULL);
	cr_assert_eq(nended, 2, "TCP ends after 5 min idle");
	flow_table_free(t);
}

Test(flow, a_new_syn_after_close_starts_a_new_flow)
{
	struct flow_table *t = table(16);

	feed(t, tcpp(50, 40000, 10, 80, TH_SYN, 1, 0, 0), NULL);
	feed(t, tcpp(10, 80, 50, 40000, TH_RST | TH_ACK, 0, 2, 0), NULL);
	feed(t, tcpp(50, 40000, 10, 80, TH_SYN, 500, 0, 0), NULL);
	cr_assert_eq(nended, 1);
	cr_assert_str_eq(ended[0].conn_state, "REJ");
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 2);
	cr_assert_str_eq(ended[1].conn_state, "S0");
	flow_table_free(t);
}

static int seen_open;

static void count_open(void *ctx, struct flow *f)
{
	(void)ctx;
	(void)f;
	seen_open++;
}

Test(flow, snapshot_shows_an_open_flow_as_it_stands_and_ends_nothing)
{
	struct flow_table *t = table(16);
	struct flow *f;
	struct flow_record snap;

	handshake(t);
	f = feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 101, 5001, 100), NULL);
	feed(t, udpp(10, 40000, 66, 53, 30), NULL);
	flow_snapshot(f, &snap);
	cr_assert_str_eq(snap.conn_state, "S1");
	cr_assert_eq(snap.orig_bytes, 100);
	cr_assert_eq(snap.end_reason, END_CHECKPOINT);
	cr_assert_eq(flow_rec(f)->end_reason, END_NONE, "the live flow is unchanged");
	seen_open = 0;
	flow_foreach(t, count_open, NULL);
	cr_assert_eq(seen_open, 2);
	cr_assert_eq(nended, 0);
	/* the flow goes on and ends with its final state */
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 201, 5001, 50), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 2);
	flow_table_free(t);
}

Test(flow, full_table_evicts_least_recent_and_loses_nothing)
{
	struct flow_table *t = table(4);

	for (uint16_t i = 0; i < 10; i++)
		feed(t, tcpp(50, (uint16_t)(41000 + i), 10, 443, TH_SYN, 1, 0, 0), NULL);
	cr_assert_eq(nended, 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_eq(ended[i].end_reason, END_EVICTED);
		cr_assert_eq(ended[i].orig_port, 41000 + i, "oldest first");
	}
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 10, "every flow ended with a record");
	cr_assert_eq(flow_table_stats(t)->evicted, 6);
	cr_assert_eq(flow_table_stats(t)->peak, 4);
	flow_table_free(t);
}

/* Issue 12 #12: mid-stream, neither port a service port: the side on an
 * ephemeral port (Linux 32768-60999, IANA 49152-65535) is the client, even
 * when the server's packet comes first; with no clue the first sender is. */
Test(flow, midstream_client_is_the_ephemeral_side)
{
	struct flow_table *t = table(16);
	int fo;

	/* host:8445 -> 127.0.0.53:37789 first (the ClientHello was missed) */
	feed(t, tcpp(10, 8445, 53, 37789, TH_ACK | TH_PUSH, 9000, 400, 700), &fo);
	cr_assert_eq(fo, 0, "the server's packet is from the responder");
	feed(t, tcpp(53, 37789, 10, 8445, TH_ACK | TH_PUSH, 400, 9700, 80), &fo);
	cr_assert_eq(fo, 1);
	/* Windows range, and both ends ephemeral (first sender kept) */
	feed(t, tcpp(10, 5000, 54, 61000, TH_ACK, 1, 1, 0), NULL);
	feed(t, tcpp(10, 40000, 55, 50000, TH_ACK, 1, 1, 0), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 3);
	for (int i = 0; i < nended; i++) {
		struct flow_record *r = &ended[i];
		cr_assert_eq(r->direction_inferred, 1);
		switch (r->resp_port) {
		case 8445:
			cr_assert_eq(r->orig_port, 37789);
			cr_assert_eq(r->orient, ORIENT_EPHEMERAL_PORT);
			cr_assert_str_eq(r->history, "^dD");
			break;
		case 5000:
			cr_assert_eq(r->orig_port, 61000);
			cr_assert_eq(r->orient, ORIENT_EPHEMERAL_PORT);
			break;
		case 50000:
			cr_assert_eq(r->orig_port, 40000);
			cr_assert_eq(r->orient, ORIENT_GUESS);
			cr_assert_str_eq(r->history, "A");
			break;
		default:
			cr_assert_fail("unexpected flow %u -> %u", r->orig_port, r->resp_port);
		}
	}
	flow_table_free(t);
}

/* Issue 12 #13: Zeek's likely_server_ports has 67/udp but not 68/udp, so a
 * DHCP server's datagram seen first is flipped (as UDPAnalyzer::WantConnection
 * does); a client's 68 -> 67 is not. */
Test(flow, udp_dhcp_server_first_is_flipped_as_zeek_does)
{
	struct flow_table *t = table(16);
	int fo;

	feed(t, udpp(66, 67, 10, 68, 300), &fo); /* DHCPACK first */
	cr_assert_eq(fo, 0);
	feed(t, udpp(10, 68, 66, 67, 300), &fo);
	cr_assert_eq(fo, 1);
	feed(t, udpp(10, 68, 67, 67, 300), &fo); /* DHCPDISCOVER first */
	cr_assert_eq(fo, 1);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 2);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(ended[i].orig_port, 68);
		cr_assert_eq(ended[i].resp_port, 67);
	}
	cr_assert_str_eq(ended[0].history, "^dD");
	cr_assert_str_eq(ended[0].conn_state, "SF");
	cr_assert_eq(ended[0].orient, ORIENT_SERVER_PORT);
	cr_assert_eq(ended[0].direction_inferred, 1);
	cr_assert_str_eq(ended[1].history, "D");
	cr_assert_str_eq(ended[1].conn_state, "S0");
	cr_assert_eq(ended[1].direction_inferred, 0);
	flow_table_free(t);
}

/* Issue 12 #14: data acknowledged but never seen is a content gap (G for the
 * originator's data, g for the responder's), found from seq/ack alone;
 * data merely out of order, or cut by the snap length, is told apart. */
Test(flow, acked_data_never_seen_is_a_content_gap)
{
	struct flow_table *t = table(16);
	struct pkt cut;

	handshake(t); /* 127.0.0.50:40000 -> :443, ISNs 100 / 5000 */
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 101, 5001, 100), NULL);
	/* 201..300 missed */
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 301, 5001, 100), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK, 5001, 401, 0), NULL); /* acks all: G */
	/* responder: 5001..5100 arrives after 5101..5200 (reordered): no gap */
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK | TH_PUSH, 5101, 401, 100), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK | TH_PUSH, 5001, 401, 100), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK, 401, 5201, 0), NULL);
	/* responder data cut by the snap length, then acked: g */
	cut = tcpp(10, 443, 50, 40000, TH_ACK | TH_PUSH, 5201, 401, 100);
	cut.payload_caplen = 10;
	feed(t, cut, NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK, 401, 5301, 0), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_str_eq(ended[0].history, "ShADaGdtg"); /* t: out of order, as Zeek */
	cr_assert_eq(ended[0].orig_bytes, 300, "sizes still from sequence numbers: %llu",
	             (unsigned long long)ended[0].orig_bytes);
	cr_assert_eq(ended[0].resp_bytes, 300);
	cr_assert_eq(ended[0].missed_bytes, 200, "100 missed each way, reordering is no gap: %llu",
	             (unsigned long long)ended[0].missed_bytes);
	flow_table_free(t);
}

/* missed_bytes sums every gap's length, both sides, as Zeek's content_gap
 * handler does: a hole below data seen above it, a hole at the acked end,
 * the responder's; a FIN's sequence number is no data. */
Test(flow, missed_bytes_counts_the_bytes_of_every_gap)
{
	struct flow_table *t = table(16);
	struct flow *f;

	handshake(t); /* 127.0.0.50:40000 -> :443, ISNs 100 / 5000 */
	/* originator: 101..150 missed, 151..200 seen, 201..230 missed, acked to 231 */
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 151, 5001, 50), NULL);
	f = feed(t, tcpp(10, 443, 50, 40000, TH_ACK, 5001, 231, 0), NULL);
	cr_assert_eq(flow_rec(f)->missed_bytes, 80,
	             "50 below the block + 30 above it, counted as the ack comes: %llu",
	             (unsigned long long)flow_rec(f)->missed_bytes);
	/* responder: 5001..5007 missed, acked; then a FIN acked: no more */
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK, 231, 5008, 0), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK | TH_FIN, 5008, 231, 0), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_FIN, 231, 5009, 0), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK, 5009, 232, 0), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_str_eq(ended[0].history, "ShADaGgfF", "%s", ended[0].history);
	cr_assert_eq(ended[0].missed_bytes, 87, "80 + 7: %llu",
	             (unsigned long long)ended[0].missed_bytes);
	flow_table_free(t);
}

/* A mid-stream connection never becomes established, so, as in Zeek, a
 * missing segment there is not called a gap (it may be before the start). */
Test(flow, no_gap_on_a_partial_connection)
{
	struct flow_table *t = table(16);

	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 101, 5001, 100), NULL);
	feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, 301, 5001, 100), NULL);
	feed(t, tcpp(10, 443, 50, 40000, TH_ACK, 5001, 401, 0), NULL);
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_str_eq(ended[0].history, "Da");
	cr_assert_eq(ended[0].missed_bytes, 0, "no gap, no missed bytes");
	flow_table_free(t);
}

/* Gaps are scaled as Zeek's Gap(): a letter at the 1st and the 10th. */
Test(flow, content_gap_letters_at_the_first_and_tenth_gap)
{
	struct flow_table *t = table(16);
	uint32_t seq = 101;

	handshake(t);
	for (int i = 0; i < 10; i++) { /* 10 bytes seen, 10 missed, acked */
		feed(t, tcpp(50, 40000, 10, 443, TH_ACK | TH_PUSH, seq, 5001, 10), NULL);
		seq += 20;
		feed(t, tcpp(10, 443, 50, 40000, TH_ACK, 5001, seq, 0), NULL);
	}
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, 1);
	cr_assert_str_eq(ended[0].history, "ShADaGG");
	cr_assert_eq(ended[0].missed_bytes, 100, "10 gaps of 10 bytes");
	flow_table_free(t);
}

/* p as carried by tunnel kind/id between outer 198.51.100.a and .b. */
static struct pkt tunnelled(struct pkt p, uint8_t kind, uint32_t id, uint8_t a, uint8_t b)
{
	uint8_t sa[4] = {198, 51, 100, a}, da[4] = {198, 51, 100, b};
	p.tun.kinds = 1u << kind;
	p.tun.depth = 1;
	p.tun.kind = kind;
	p.tun.has_id = 1;
	p.tun.id = id;
	addr_set4(&p.tun.src, sa);
	addr_set4(&p.tun.dst, da);
	return p;
}

Test(flow, the_tunnel_is_part_of_the_key_in_either_direction)
{
	struct flow_table *t = table(16);
	struct flow *a, *b, *c, *d, *plain;
	int fo;

	/* VNI 100: the reply comes back between the same VTEPs, swapped */
	a = feed(t, tunnelled(udpp(5, 40000, 10, 53, 20), ENCAP_VXLAN, 100, 1, 2), &fo);
	b = feed(t, tunnelled(udpp(10, 53, 5, 40000, 40), ENCAP_VXLAN, 100, 2, 1), &fo);
	cr_assert_eq(a, b, "one conversation, both ways through one tunnel");
	cr_assert_not(fo);
	/* the same inner packet in VNI 200, and outside any tunnel: other flows */
	c = feed(t, tunnelled(udpp(5, 40000, 10, 53, 20), ENCAP_VXLAN, 200, 1, 2), NULL);
	d = feed(t, tunnelled(udpp(5, 40000, 10, 53, 20), ENCAP_VXLAN, 100, 3, 2), NULL);
	plain = feed(t, udpp(5, 40000, 10, 53, 20), NULL);
	cr_assert(c != a && d != a && plain != a && plain != c && d != c);
	cr_assert_eq(flow_rec(a)->orig_pkts, 1);
	cr_assert_eq(flow_rec(a)->resp_pkts, 1);
	cr_assert_eq(flow_rec(a)->tunnel.id, 100, "the record keeps the tunnel");
	cr_assert_eq(flow_rec(plain)->tunnel.kind, ENCAP_NONE);
	/* GTP-U's TEID differs per direction: not part of the key */
	a = feed(t, tunnelled(udpp(6, 40000, 10, 53, 20), ENCAP_GTPU, 0x111, 1, 2), NULL);
	b = feed(t, tunnelled(udpp(10, 53, 6, 40000, 20), ENCAP_GTPU, 0x222, 2, 1), NULL);
	cr_assert_eq(a, b);
	flow_table_free(t);
}

Test(flow, buckets_follow_the_open_flows_and_every_flow_is_found_again)
{
	enum { N = 50000 };
	static struct flow *made[N];
	struct flow_table *t = table(1000000);
	int fo, is_new;

	cr_assert_leq(flow_table_stats(t)->buckets, 4096,
	              "a table bound of 1,000,000 flows starts small, not at 1 M buckets");
	for (int i = 0; i < N; i++) {
		struct pkt p =
		    udpp((uint8_t)(1 + i % 200), (uint16_t)(20000 + i / 200), 10, 53, 20);
		made[i] = flow_track(t, &p, &is_new, &fo);
		cr_assert(is_new && fo, "flow %d is new", i);
		/* the reply of an older flow, across every doubling of the array */
		if (i >= 7) {
			int j = i - 7;
			struct pkt r =
			    udpp(10, 53, (uint8_t)(1 + j % 200), (uint16_t)(20000 + j / 200), 40);
			cr_assert_eq(flow_track(t, &r, &is_new, &fo), made[j],
			             "flow %d found again", j);
			cr_assert(!is_new && !fo);
		}
	}
	cr_assert_geq(flow_table_stats(t)->buckets, N, "the array grew with the open flows");
	cr_assert_leq(flow_table_stats(t)->buckets, 2 * 65536);
	for (int j = 0; j < N; j++) {
		struct pkt r =
		    udpp(10, 53, (uint8_t)(1 + j % 200), (uint16_t)(20000 + j / 200), 40);
		cr_assert_eq(flow_track(t, &r, &is_new, &fo), made[j], "flow %d after growth", j);
	}
	cr_assert_eq(flow_table_stats(t)->created, N, "no flow was created twice");
	flow_flush(t, END_CAPTURE_END);
	cr_assert_eq(nended, N);
	flow_table_free(t);
}
