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
	s = decode_packet(NULL, dlt, copy, p);
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

/* ---- encapsulations: an outer IPv4 192.0.2.1 -> 192.0.2.2 around an inner
 * packet 127.0.0.10:51000 -> 127.0.0.50:443; the view must be the inner one */

static void cat(struct frame *f, const struct frame *g)
{
	put(f, g->b, g->n);
}

/* IPv4 + TCP, 127.0.0.10:51000 -> 127.0.0.50:443 with 4 bytes of data. */
static struct frame inner_ip4(void)
{
	struct frame f = {.n = 0};
	ipv4(&f, IPPROTO_TCP, 24, 0, 0);
	tcp(&f, 51000, 443, TH_ACK | TH_PUSH, "data");
	return f;
}

/* IPv6 + TCP, 2001:db8::50:50000 -> 2001:db8::10:443 with 4 bytes of data. */
static struct frame inner_ip6(void)
{
	struct frame f = {.n = 0};
	static const uint8_t src[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x50};
	static const uint8_t dst[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 0x10};
	put32(&f, 0x60000000);
	put16(&f, 24);
	put8(&f, IPPROTO_TCP);
	put8(&f, 64);
	put(&f, src, 16);
	put(&f, dst, 16);
	tcp(&f, 50000, 443, TH_ACK, "data");
	return f;
}

static struct frame inner_eth(void)
{
	struct frame f = {.n = 0}, ip = inner_ip4();
	eth(&f, 0x0800);
	cat(&f, &ip);
	return f;
}

/* Outer IPv4 header 192.0.2.1 -> 192.0.2.2 of protocol proto around g. */
static void outer4(struct frame *f, uint8_t proto, const struct frame *g)
{
	put8(f, 0x45);
	put8(f, 0);
	put16(f, (uint16_t)(20 + g->n));
	put16(f, 0x0101);
	put16(f, 0);
	put8(f, 64);
	put8(f, proto);
	put16(f, 0);
	put32(f, 0xc0000201);
	put32(f, 0xc0000202);
	cat(f, g);
}

/* Ethernet + outer IPv4 + UDP sport -> dport around g. */
static struct frame udp_tunnel(uint16_t sport, uint16_t dport, const struct frame *g)
{
	struct frame f = {.n = 0}, u = {.n = 0};
	put16(&u, sport);
	put16(&u, dport);
	put16(&u, (uint16_t)(8 + g->n));
	put16(&u, 0);
	cat(&u, g);
	eth(&f, 0x0800);
	outer4(&f, IPPROTO_UDP, &u);
	return f;
}

/* Ethernet + outer IPv4 + GRE (flags, proto, then the optional words) around g. */
static struct frame gre_tunnel(uint16_t flags, uint16_t proto, const uint32_t *words, int nw,
                               const struct frame *g)
{
	struct frame f = {.n = 0}, gre = {.n = 0};
	put16(&gre, flags);
	put16(&gre, proto);
	for (int i = 0; i < nw; i++)
		put32(&gre, words[i]);
	cat(&gre, g);
	eth(&f, 0x0800);
	outer4(&f, 47, &gre);
	return f;
}

/* a as text (one static buffer per call site is enough for an assert) */
static const char *astr(const struct sm_addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static int i;
	i = (i + 1) % 4;
	return addr_str(a, buf[i], sizeof(buf[i]));
}

/* The inner IPv4 view, and the tunnel that carried it. */
static void assert_inner(const struct pkt *p, enum encap_kind kind, int has_id, uint32_t id)
{
	cr_assert_eq(p->ip_version, 4);
	cr_assert_str_eq(astr(&p->src), "127.0.0.10", "inner source address");
	cr_assert_str_eq(astr(&p->dst), "127.0.0.50");
	cr_assert_eq(p->proto, IPPROTO_TCP);
	cr_assert_eq(p->sport, 51000);
	cr_assert_eq(p->dport, 443);
	cr_assert_eq(p->ip_len, 44, "inner IP bytes");
	cr_assert_eq(p->payload_len, 4);
	cr_assert_eq(p->payload_caplen, 4);
	cr_assert_eq(p->tun.kind, kind, "tunnel kind %s", encap_str(p->tun.kind));
	cr_assert(p->tun.kinds & (1u << kind));
	cr_assert_eq(p->tun.has_id, has_id);
	cr_assert_eq(p->tun.id, id);
	cr_assert_str_eq(astr(&p->tun.src), "192.0.2.1", "outer source address kept");
	cr_assert_str_eq(astr(&p->tun.dst), "192.0.2.2");
}

/* Sweep every snap length of a tunnel frame too. */
static void decode_and_sweep(const struct frame *f, struct pkt *p)
{
	sweep(DLT_EN10MB, f);
	cr_assert_eq(dec(DLT_EN10MB, f, f->n, p), DECODE_OK);
}

Test(decode, erspan_types_1_2_3)
{
	struct frame in = inner_eth(), e2 = {.n = 0}, e3 = {.n = 0}, f;
	uint32_t seq = 7;
	struct pkt p;

	f = gre_tunnel(0x0000, 0x88be, NULL, 0, &in); /* type I: no sequence, no header */
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_ERSPAN1, 0, 0);
	cr_assert_eq(p.tun.depth, 1);
	cr_assert_not(p.tun.kinds & (1u << ENCAP_GRE), "ERSPAN is not also counted as GRE");

	put16(&e2, 0x1000 | 10); /* version 1, VLAN 10 */
	put16(&e2, 0x0155);      /* session 0x155 */
	put32(&e2, 0);
	cat(&e2, &in);
	f = gre_tunnel(0x1000, 0x88be, &seq, 1, &e2);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_ERSPAN2, 1, 0x155);
	cr_assert_eq(p.l3_off, 14 + 20 + 8 + 8 + 14);

	put16(&e3, 0x2000 | 10); /* version 2 */
	put16(&e3, 0x0023);
	put32(&e3, 0x12345678); /* timestamp */
	put16(&e3, 0);          /* SGT */
	put16(&e3, 0x0001);     /* frame type 0 (Ethernet), O bit: platform sub-header */
	put32(&e3, 0xdeadbeef);
	put32(&e3, 0xdeadbeef);
	cat(&e3, &in);
	f = gre_tunnel(0x1000, 0x22eb, &seq, 1, &e3);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_ERSPAN3, 1, 0x23);
}

Test(decode, gre_keys_sequence_checksum_bridging_and_gre_in_gre)
{
	struct frame ip = inner_ip4(), in = inner_eth(), g1, f;
	static const uint32_t ck_key_seq[3] = {0, 42, 1};
	static const uint32_t key7[1] = {7};
	struct pkt p;

	f = gre_tunnel(0, 0x0800, NULL, 0, &ip);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_GRE, 0, 0);

	f = gre_tunnel(0xb000, 0x0800, ck_key_seq, 3, &ip); /* C, K, S */
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_GRE, 1, 42);

	f = gre_tunnel(0x2000, 0x6558, key7, 1, &in); /* transparent Ethernet bridging */
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_GRE, 1, 7);

	/* GRE in GRE: the inner tunnel names the flow's tunnel */
	g1 = gre_tunnel(0x2000, 0x0800, ck_key_seq + 1, 1, &ip);
	memmove(g1.b, g1.b + 14, g1.n - 14); /* drop the Ethernet header: IP in GRE */
	g1.n -= 14;
	f = gre_tunnel(0x2000, 0x0800, key7, 1, &g1);
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	assert_inner(&p, ENCAP_GRE, 1, 42);
	cr_assert_eq(p.tun.depth, 2);
}

Test(decode, pptp_enhanced_gre_carries_ppp)
{
	struct frame ip = inner_ip4(), ppp = {.n = 0}, f;
	uint32_t w[2] = {0, 5}; /* payload length + call id, sequence */
	struct pkt p;

	put16(&ppp, 0xff03);
	put16(&ppp, 0x0021);
	cat(&ppp, &ip);
	w[0] = (uint32_t)ppp.n << 16 | 0x0001;
	f = gre_tunnel(0x3001, 0x880b, w, 2, &ppp);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_GRE, 0, 0);
}

Test(decode, vxlan_default_and_configured_port)
{
	struct frame in = inner_eth(), vx = {.n = 0}, f;
	struct decode_cfg cfg = {.vxlan_port = 8472};
	struct pkt p;
	uint8_t copy[2048];

	put32(&vx, 0x08000000); /* I flag */
	put32(&vx, 0x00abcd00); /* VNI 0xabcd */
	cat(&vx, &in);
	f = udp_tunnel(40000, 4789, &vx);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_VXLAN, 1, 0xabcd);

	f = udp_tunnel(40000, 8472, &vx); /* Linux's old port: only when configured */
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 8472, "not configured: a plain UDP datagram");
	cr_assert_eq(p.tun.kinds, 0);
	memcpy(copy, f.b, f.n);
	memset(&p, 0, sizeof(p));
	p.caplen = p.wirelen = f.n;
	cr_assert_eq(decode_packet(&cfg, DLT_EN10MB, copy, &p), DECODE_OK);
	assert_inner(&p, ENCAP_VXLAN, 1, 0xabcd);

	vx.b[0] = 0; /* no I flag: not VXLAN, stays UDP */
	f = udp_tunnel(40000, 4789, &vx);
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 4789);
	cr_assert_eq(p.tun.kinds, 0);
}

Test(decode, geneve_with_options)
{
	struct frame in = inner_eth(), ge = {.n = 0}, f;
	struct pkt p;

	put8(&ge, 2); /* version 0, 2 words of options */
	put8(&ge, 0);
	put16(&ge, 0x6558);     /* Ethernet */
	put32(&ge, 0x00000500); /* VNI 5 */
	put32(&ge, 0x01020301); /* option class, type, length 1 word */
	put32(&ge, 0xcafef00d);
	cat(&ge, &in);
	f = udp_tunnel(40000, 6081, &ge);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_GENEVE, 1, 5);
}

Test(decode, ip_in_ip_4in4_6in4_4in6_6in6)
{
	struct frame ip4 = inner_ip4(), ip6 = inner_ip6(), f = {.n = 0}, o6 = {.n = 0};
	struct pkt p;

	eth(&f, 0x0800);
	outer4(&f, 4, &ip4);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_IPIP, 0, 0);

	f.n = 0;
	eth(&f, 0x0800);
	outer4(&f, 41, &ip6);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.ip_version, 6);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kind, ENCAP_IPIP);

	/* outer IPv6 2001:db8::1 -> ::2 around IPv4, then around IPv6 */
	for (int v = 4; v <= 6; v += 2) {
		const struct frame *in = v == 4 ? &ip4 : &ip6;
		static const uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
		o6.n = 0;
		eth(&o6, 0x86dd);
		put32(&o6, 0x60000000);
		put16(&o6, (uint16_t)in->n);
		put8(&o6, v == 4 ? 4 : 41);
		put8(&o6, 64);
		put(&o6, a, 16);
		put(&o6, a, 16);
		cat(&o6, in);
		decode_and_sweep(&o6, &p);
		cr_assert_eq(p.ip_version, v);
		cr_assert_eq(p.dport, 443);
		cr_assert_eq(p.tun.kind, ENCAP_IPIP);
		cr_assert_eq(p.tun.src.family, 6, "outer IPv6 addresses kept");
	}

	f = inner_eth(); /* protocol 4 whose payload is not IPv4: bad, not a flow */
	f.b[14 + 9] = 4;
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_BAD_HEADER);
}

Test(decode, mpls_pppoe_ppp_and_layer2_shims)
{
	struct frame ip = inner_ip4(), in = inner_eth(), f = {.n = 0};
	struct pkt p;

	eth(&f, 0x8100); /* MPLS in VLAN: two labels */
	put16(&f, 20);
	put16(&f, 0x8847);
	put32(&f, 0x00010040);
	put32(&f, 0x00020140); /* bottom of stack */
	cat(&f, &ip);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kinds, 1u << ENCAP_MPLS);
	cr_assert_eq(p.tun.kind, ENCAP_NONE, "no IP tunnel");
	cr_assert_eq(p.vlan, 20);

	f.n = 0; /* PPPoE session over QinQ */
	eth(&f, 0x88a8);
	put16(&f, 100);
	put16(&f, 0x8100);
	put16(&f, 10);
	put16(&f, 0x8864);
	put16(&f, 0x1100);
	put16(&f, 0x0001);
	put16(&f, (uint16_t)(ip.n + 2));
	put16(&f, 0x0021);
	cat(&f, &ip);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kinds, 1u << ENCAP_PPPOE);
	cr_assert_eq(p.vlan_tags, 2);

	f.n = 0; /* DLT_PPP */
	put16(&f, 0xff03);
	put16(&f, 0x0021);
	cat(&f, &ip);
	cr_assert_eq(dec(9, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 443);

	f.n = 0; /* PBB: B-TAG, I-TAG, customer frame */
	eth(&f, 0x88a8);
	put16(&f, 5);
	put16(&f, 0x88e7);
	put32(&f, 0x00001234);
	cat(&f, &in);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kinds, 1u << ENCAP_PBB);

	f.n = 0; /* VN-tag */
	eth(&f, 0x8926);
	put32(&f, 0x80010002);
	put16(&f, 0x0800);
	cat(&f, &ip);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kinds, 1u << ENCAP_VNTAG);

	f.n = 0; /* FabricPath: outer addresses, 0x8903, FTag/TTL, classical frame */
	eth(&f, 0x8903);
	put16(&f, 0x0020);
	cat(&f, &in);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kinds, 1u << ENCAP_FABRICPATH);
}

Test(decode, gtpu_teredo_ayiya)
{
	struct frame ip = inner_ip4(), ip6 = inner_ip6(), g = {.n = 0}, t = {.n = 0}, a = {.n = 0},
	             f;
	struct pkt p;

	put8(&g, 0x34); /* version 1, PT, E: an extension header follows */
	put8(&g, 0xff); /* G-PDU */
	put16(&g, (uint16_t)(ip.n + 8));
	put32(&g, 0x11223344); /* TEID */
	put16(&g, 0);          /* sequence */
	put8(&g, 0);           /* N-PDU */
	put8(&g, 0x85);        /* next: PDU session container */
	put32(&g, 0x01000900); /* 4 bytes, next 0 */
	cat(&g, &ip);
	f = udp_tunnel(2152, 2152, &g);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_GTPU, 1, 0x11223344);

	put16(&t, 0x0000); /* origin indication */
	put16(&t, 0x1234);
	put32(&t, 0x3fffffff);
	cat(&t, &ip6);
	f = udp_tunnel(3544, 50000, &t); /* server to client: the source port is Teredo's */
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.ip_version, 6);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.tun.kind, ENCAP_TEREDO);

	put8(&a, 0x41); /* identity 2^4 = 16 bytes, type 1 */
	put8(&a, 0x52); /* signature 5 words */
	put8(&a, 0x11); /* auth 1, opcode 1 (forward) */
	put8(&a, 4);    /* next header IPv4 */
	put32(&a, 0);
	for (int i = 0; i < 16 + 20; i++)
		put8(&a, 0);
	cat(&a, &ip);
	f = udp_tunnel(40000, 5072, &a);
	decode_and_sweep(&f, &p);
	assert_inner(&p, ENCAP_AYIYA, 0, 0);
}

Test(decode, radiotap_80211_qos_data)
{
	struct frame ip = inner_ip4(), f = {.n = 0};
	struct pkt p;

	put(&f, "\0\0\x0c\0\x04\0\0\0\x02\0\0\0", 12); /* radiotap, 12 bytes */
	put8(&f, 0x88);                                /* QoS data */
	put8(&f, 0x01);                                /* to DS */
	for (int i = 0; i < 22 + 2; i++)
		put8(&f, 0);
	put(&f, "\xaa\xaa\x03\0\0\0\x08\0", 8);
	cat(&f, &ip);
	cr_assert_eq(dec(127, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.dport, 443);
	cr_assert_eq(p.l3_off, 12 + 26 + 8);
	f.b[13] |= 0x40; /* protected: encrypted, not ours */
	cr_assert_eq(dec(127, &f, f.n, &p), DECODE_NOT_IP);
}

Test(decode, a_depth_bomb_is_a_bad_header_not_a_crash)
{
	struct frame f = inner_ip4(), g, deepest;
	struct pkt p;

	/* IP in GRE in IP ... : DECODE_MAX_DEPTH layers decode, one more is malformed */
	for (int n = 1; n <= DECODE_MAX_DEPTH + 1; n++) {
		struct frame gre = {.n = 0};
		put16(&gre, 0);
		put16(&gre, 0x0800);
		cat(&gre, &f);
		g.n = 0;
		outer4(&g, 47, &gre);
		f = g;
		cr_assert_eq(dec(DLT_RAW, &f, f.n, &p),
		             n <= DECODE_MAX_DEPTH ? DECODE_OK : DECODE_BAD_HEADER, "depth %d", n);
		if (n == DECODE_MAX_DEPTH)
			deepest = f;
	}
	/* the deepest packet allowed, cut at every length */
	sweep(DLT_RAW, &deepest);
}

Test(decode, a_mirror_session_that_cuts_frames_keeps_the_inner_lengths)
{
	/* ERSPAN sessions often truncate the mirrored frame (an "mtu" setting):
	 * the outer packet is whole, the inner frame inside it is cut */
	struct frame in = eth_ipv4_tcp("0123456789abcdef0123456789abcdef"), e2 = {.n = 0}, f;
	uint32_t seq = 1;
	struct pkt p;

	in.n = 64; /* the switch kept 64 bytes of the 86-byte frame */
	put16(&e2, 0x1000);
	put16(&e2, 0x0001);
	put32(&e2, 0);
	cat(&e2, &in);
	f = gre_tunnel(0x1000, 0x88be, &seq, 1, &e2);
	decode_and_sweep(&f, &p);
	cr_assert_eq(p.tun.kind, ENCAP_ERSPAN2);
	cr_assert_eq(p.ip_len, 20 + 20 + 32, "inner IP bytes from the inner header");
	cr_assert_eq(p.payload_len, 32);
	cr_assert_eq(p.payload_caplen, 64 - 54, "only what the switch kept");
	cr_assert_eq(p.dport, 443);
}

Test(decode, a_fragmented_tunnel_packet)
{
	struct frame ip = inner_ip4(), f = {.n = 0};
	struct pkt p;

	/* first outer fragment (MF): decapsulated; the inner packet is not a fragment */
	eth(&f, 0x0800);
	outer4(&f, 4, &ip);
	f.b[14 + 6] = 0x20;
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.tun.kind, ENCAP_IPIP);
	cr_assert_eq(p.frag, PKT_FRAG_NONE, "the inner view carries no outer fragment flag");
	cr_assert_eq(p.dport, 443);
	/* a later outer fragment has no tunnel header to cross: the outer view */
	f.b[14 + 7] = 0x10;
	cr_assert_eq(dec(DLT_EN10MB, &f, f.n, &p), DECODE_OK);
	cr_assert_eq(p.frag, PKT_FRAG_LATER);
	cr_assert_eq(p.tun.kinds, 0);
	cr_assert_str_eq(astr(&p.src), "192.0.2.1");
}
