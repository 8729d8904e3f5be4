/* test_decode.c: the packet decoder on frames of every link type we read,
 * with IPv4 options, IPv6 extension headers, fragments, padding and broken
 * headers, and every frame cut at every snap length (tcpdump's habit):
 * decoding a cut frame never reads past it and never reports more than it
 * holds. Frames are built here byte by byte: the decoder is the unit. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/decode.h"

struct frame {
	uint8_t b[2048];
	uint32_t n;
};

static void put(struct frame *f, const void *p, uint32_t n)
{
	memcpy(f->b + f->n, p, n);
	f->n += n;
}

static void put8(struct frame *f, uint8_t v)
{
	f->b[f->n++] = v;
}

static void put16(struct frame *f, uint16_t v)
{
	put8(f, (uint8_t)(v >> 8));
	put8(f, (uint8_t)v);
}

static void put32(struct frame *f, uint32_t v)
{
	put16(f, (uint16_t)(v >> 16));
	put16(f, (uint16_t)v);
}

static void eth(struct frame *f, uint16_t type)
{
	static const uint8_t macs[12] = {2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2};
	put(f, macs, 12);
	put16(f, type);
}

/* IPv4 header with optional options (optlen multiple of 4). */
static void ipv4(struct frame *f, uint8_t proto, uint16_t payload, uint8_t optlen, uint16_t frag)
{
	uint8_t ihl = (uint8_t)(5 + optlen / 4);
	put8(f, (uint8_t)(0x40 | ihl));
	put8(f, 0);
	put16(f, (uint16_t)(ihl * 4 + payload));
	put16(f, 0x1234);
	put16(f, frag);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0x7f00000a); /* 127.0.0.10 */
	put32(f, 0x7f000032); /* 127.0.0.50 */
	for (int i = 0; i < optlen; i++)
		put8(f, 1); /* NOP options */
}

static void tcp(struct frame *f, uint16_t sp, uint16_t dp, uint8_t flags, const char *data)
{
	put16(f, sp);
	put16(f, dp);
	put32(f, 1000);
	put32(f, 2000);
	put8(f, 5 << 4);
	put8(f, flags);
	put16(f, 512);
	put16(f, 0);
	put16(f, 0);
	if (data)
		put(f, data, (uint32_t)strlen(data));
}

static enum decode_status dec(int dlt, const struct frame *f, uint32_t caplen, struct pkt *p)
{
	/* an exact-size heap copy so a read past caplen is a real over-read */
	uint8_t *copy = malloc(caplen ? caplen : 1);
	enum decode_status s;

	memcpy(copy, f->b, caplen);
	memset(p, 0, sizeof(*p));
	p->caplen = caplen;
	p->wirelen = f->n;
	s = decode_packet(dlt, copy, p);
	p->data = NULL; /* the copy is gone */
	free(copy);
	return s;
}

static struct frame eth_ipv4_tcp(const char *data)
{
	struct frame f = {.n = 0};
	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, (uint16_t)(20 + strlen(data)), 0, 0);
	tcp(&f, 51000, 443, TH_ACK | TH_PUSH, data);
	return f;
}

Test(decode, ethernet_ipv4_tcp_fields)
{
	struct frame f = eth_ipv4_tcp("hello");
	struct pkt p;

	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.ip_version, 4);
	cr_assert_eq(p.l3_off, 14);
	cr_assert_eq(p.ip_len, 45);
	cr_assert_eq(p.proto, IPPROTO_TCP);
	cr_assert_eq(p.sport, 51000);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tcp_seq, 1000);
	cr_assert_eq(p.tcp_ack, 2000);
	cr_assert_eq(p.tcp_flags, TH_ACK | TH_PUSH);
	cr_assert_eq(p.payload_off, 54);
	cr_assert_eq(p.payload_len, 5);
	cr_assert_eq(p.payload_caplen, 5);
	cr_assert_eq(p.src.family, 4);
	cr_assert_eq(p.src.b[3], 10);
	cr_assert_eq(p.dst.b[3], 50);
}

Test(decode, ipv4_options_move_the_transport_header)
{
	struct frame f = {.n = 0};
	struct pkt p;

	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, 20, 8, 0);
	tcp(&f, 1, 2, TH_SYN, NULL);
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.l4_off, 14 + 28);
	cr_assert_eq(p.tcp_flags, TH_SYN);
	cr_assert_eq(p.payload_len, 0);
}

Test(decode, vlan_and_qinq_tags)
{
	struct frame f = {.n = 0};
	struct pkt p;

	eth(&f, 0x88a8);
	put16(&f, 100); /* outer S-tag, VLAN 100 */
	put16(&f, 0x8100);
	put16(&f, 0x2000 | 200); /* inner C-tag, priority 1, VLAN 200 */
	put16(&f, 0x0800);
	ipv4(&f, IPPROTO_UDP, 8 + 3, 0, 0);
	put16(&f, 5353);
	put16(&f, 53);
	put16(&f, 11);
	put16(&f, 0);
	put(&f, "abc", 3);
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.vlan, 100, "outermost tag names the VLAN");
	cr_assert_eq(p.vlan_tags, 2);
	cr_assert_eq(p.proto, IPPROTO_UDP);
	cr_assert_eq(p.dport, 53);
	cr_assert_eq(p.udp_len, 11);
	cr_assert_eq(p.payload_len, 3);
}

Test(decode, linux_cooked_v1_v2_null_loop_and_raw)
{
	struct frame v1 = {.n = 0}, v2 = {.n = 0}, nul = {.n = 0}, nul_be = {.n = 0},
	             raw = {.n = 0};
	struct pkt p;
	static const uint8_t sll1_head[14] = {0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};
	static const uint8_t sll2_rest[18] = {0, 0, 0, 0, 0, 1, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0};

	put(&v1, sll1_head, 14);
	put16(&v1, 0x0800);
	ipv4(&v1, IPPROTO_TCP, 20, 0, 0);
	tcp(&v1, 40000, 80, TH_SYN, NULL);
	cr_assert_eq(dec(DLT_LINUX_SLL, &v1, v1.n, &p), DECODE_OK);
	cr_assert_eq(p.l3_off, 16);
	cr_assert_eq(p.dport, 80);

	put16(&v2, 0x0800);
	put(&v2, sll2_rest, 18);
	ipv4(&v2, IPPROTO_TCP, 20, 0, 0);
	tcp(&v2, 40000, 80, TH_SYN, NULL);
	cr_assert_eq(dec(276, &v2, v2.n, &p), DECODE_OK);
	cr_assert_eq(p.l3_off, 20);
	cr_assert_eq(p.dport, 80);

	put8(&nul, 2); /* AF_INET in little-endian host order */
	put8(&nul, 0);
	put8(&nul, 0);
	put8(&nul, 0);
	ipv4(&nul, IPPROTO_TCP, 20, 0, 0);
	tcp(&nul, 40000, 7071, TH_SYN, NULL);
	cr_assert_eq(dec(DLT_NULL, &nul, nul.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 7071);

	put32(&nul_be, 2); /* big-endian writer */
	ipv4(&nul_be, IPPROTO_TCP, 20, 0, 0);
	tcp(&nul_be, 40000, 7443, TH_SYN, NULL);
	cr_assert_eq(dec(DLT_NULL, &nul_be, nul_be.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 7443);

	ipv4(&raw, IPPROTO_TCP, 20, 0, 0);
	tcp(&raw, 40000, 5222, TH_SYN, NULL);
	cr_assert_eq(dec(DLT_RAW, &raw, raw.n, &p), DECODE_OK);
	cr_assert_eq(dec(101, &raw, raw.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 5222);
	cr_assert_eq(p.l3_off, 0);
}

Test(decode, unknown_link_and_non_ip)
{
	struct frame f = eth_ipv4_tcp("x"), arp = {.n = 0};
	struct pkt p;

	cr_assert_eq(dec(147, &f, f.n, &p), DECODE_UNKNOWN_LINK);
	cr_assert_not(decode_link_supported(147));
	cr_assert(decode_link_supported(DLT_EN10MB));
	eth(&arp, 0x0806);
	put(&arp, "arp-body-arp-body-arp-body", 26);
	cr_assert_eq(dec(DLT_EN10MB, &arp, arp.n, &p), DECODE_NOT_IP);
}

static struct frame ipv6_ext_tcp(void)
{
	struct frame f = {.n = 0};
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x50};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};

	eth(&f, 0x86dd);
	put32(&f, 0x60000000);
	put16(&f, 8 + 16 + 20 + 4); /* hop-by-hop 8, dest opts 16, tcp 20, data 4 */
	put8(&f, 0);                /* next: hop-by-hop */
	put8(&f, 64);
	put(&f, src, 16);
	put(&f, dst, 16);
	put8(&f, 60); /* hop-by-hop -> destination options */
	put8(&f, 0);  /* 8 bytes */
	put(&f, "\x01\x04\0\0\0\0", 6);
	put8(&f, IPPROTO_TCP); /* destination options -> TCP */
	put8(&f, 1);           /* 16 bytes */
	put(&f, "\x01\x0c\0\0\0\0\0\0\0\0\0\0\0\0", 14);
	tcp(&f, 50000, 443, TH_ACK | TH_PUSH, "data");
	return f;
}

Test(decode, ipv6_extension_header_chain)
{
	struct frame f = ipv6_ext_tcp();
	struct pkt p;

	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.ip_version, 6);
	cr_assert_eq(p.ip_len, 40 + 48);
	cr_assert_eq(p.proto, IPPROTO_TCP);
	cr_assert_eq(p.l4_off, 14 + 40 + 24);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.payload_len, 4);
	cr_assert_eq(p.src.family, 6);
	cr_assert_eq(p.src.b[15], 0x50);
}

Test(decode, ipv4_fragments_first_and_later)
{
	struct frame first = {.n = 0}, later = {.n = 0};
	struct pkt p;

	eth(&first, 0x0800);
	ipv4(&first, IPPROTO_UDP, 16, 0, 0x2000); /* MF, offset 0 */
	put16(&first, 40000);
	put16(&first, 53);
	put16(&first, 8 + 40); /* the whole datagram */
	put16(&first, 0);
	put(&first, "12345678", 8);
	cr_assert_eq(dec(DLT_EN10MB, &first, first.n, &p), DECODE_OK);
	cr_assert_eq(p.frag, PKT_FRAG_FIRST);
	cr_assert_eq(p.dport, 53);
	cr_assert_eq(p.udp_len, 48);
	cr_assert_eq(p.frag_id, 0x1234);

	eth(&later, 0x0800);
	ipv4(&later, IPPROTO_UDP, 32, 0, 2); /* offset 16 bytes, last */
	put(&later, "abcdefghijklmnopqrstuvwxyz012345", 32);
	cr_assert_eq(dec(DLT_EN10MB, &later, later.n, &p), DECODE_OK);
	cr_assert_eq(p.frag, PKT_FRAG_LATER);
	cr_assert_eq(p.frag_id, 0x1234);
	cr_assert_eq(p.sport, 0, "a later fragment has no ports");
	cr_assert_eq(p.payload_len, 32);
}

Test(decode, ethernet_padding_trusts_ip_total_length)
{
	struct frame f = {.n = 0};
	struct pkt p;

	eth(&f, 0x0800);
	ipv4(&f, IPPROTO_TCP, 20, 0, 0);
	tcp(&f, 1, 2, TH_ACK, NULL);
	put(&f, "\0\0\0\0\0\0", 6); /* 60-byte minimum frame padding */
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.ip_len, 40);
	cr_assert_eq(p.l3_caplen, 40);
	cr_assert_eq(p.payload_len, 0, "padding is not payload");
	cr_assert_eq(p.payload_caplen, 0);
}

Test(decode, impossible_headers_are_bad_not_crashes)
{
	struct frame ihl = eth_ipv4_tcp("x"), doff = eth_ipv4_tcp("x"), tot = eth_ipv4_tcp("x");
	struct frame ver = eth_ipv4_tcp("x");
	struct pkt p;

	ihl.b[14] = 0x44; /* IHL 4 */
	cr_assert_eq(dec(DLT_EN10MB, &ihl, ihl.n, &p), DECODE_BAD_HEADER);
	doff.b[14 + 20 + 12] = 4 << 4; /* TCP data offset 4 */
	cr_assert_eq(dec(DLT_EN10MB, &doff, doff.n, &p), DECODE_BAD_HEADER);
	tot.b[16] = 0;
	tot.b[17] = 10; /* total length shorter than the header */
	cr_assert_eq(dec(DLT_EN10MB, &tot, tot.n, &p), DECODE_BAD_HEADER);
	ver.b[14] = 0x55;
	cr_assert_eq(dec(DLT_EN10MB, &ver, ver.n, &p), DECODE_BAD_HEADER);
}

/* Every frame, cut at every length: only OK or TRUNCATED (or NOT_IP for a
 * cut Ethernet type), and an OK view never points past the cut. */
static void sweep(int dlt, const struct frame *f)
{
	for (uint32_t cut = 0; cut <= f->n; cut++) {
		struct pkt p;
		enum decode_status s = dec(dlt, f, cut, &p);
		cr_assert(s == DECODE_OK || s == DECODE_TRUNCATED, "cut %u of %u: status %s", cut,
		          f->n, decode_status_str(s));
		if (s == DECODE_OK) {
			cr_assert_leq(p.l3_off + p.l3_caplen, cut, "cut %u: IP view past the cut",
			              cut);
			cr_assert_leq(p.payload_off + p.payload_caplen, cut,
			              "cut %u: payload past the cut", cut);
			cr_assert_leq(p.payload_caplen, p.payload_len);
		}
	}
}

Test(decode, every_snap_length)
{
	struct frame a = eth_ipv4_tcp("GET / HTTP/1.1\r\n\r\n"), b = ipv6_ext_tcp();
	sweep(DLT_EN10MB, &a);
	sweep(DLT_EN10MB, &b);
}

Test(decode, snaplen_cut_payload_keeps_header_lengths)
{
	struct frame f = eth_ipv4_tcp("0123456789abcdef0123456789abcdef");
	struct pkt p;

	cr_assert_eq(dec(DLT_EN10MB, &f, 64, &p), DECODE_OK);
	cr_assert_eq(p.ip_len, 20 + 20 + 32, "IP bytes come from the header, not the capture");
	cr_assert_eq(p.payload_len, 32);
	cr_assert_eq(p.payload_caplen, 64 - 54);
}
