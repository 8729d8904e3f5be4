/* decode.c: link layer, tunnels, IPv4/IPv6 and transport headers into one struct pkt.
 *
 * The frame is untrusted. Parsing is a chain of "bail out if fewer bytes
 * remain than the next header needs" checks against the end of the current
 * layer (the captured length, narrowed by every IP length and tunnel
 * payload on the way in); no byte is read without one. Lengths from headers
 * are trusted only when they are smaller than what was captured (Ethernet
 * padding), never to read further.
 *
 * Layers are functions that call the next one: link -> ethertype ->
 * IP -> transport -> (tunnel -> ethertype or IP -> ...). Every step into an
 * encapsulation counts one level of depth; past DECODE_MAX_DEPTH the packet
 * is a bad header, so a GRE loop or a depth bomb costs a few calls. The
 * view that comes out is the innermost IP packet; pkt.tun keeps the kinds
 * crossed and the innermost IP tunnel's outer addresses and id. A UDP
 * datagram on a tunnel port whose payload does not look like that tunnel
 * stays a plain UDP datagram. Link types: one table (links[] below). */
#include <string.h>

#include <netinet/in.h>
#include <pcap/dlt.h>

#include "smaudit/decode.h"

/* ---- checked readers: the caller has verified off + N <= end ----------- */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define ETH_IPV4        0x0800
#define ETH_IPV6        0x86dd
#define ETH_VLAN        0x8100
#define ETH_QINQ        0x88a8
#define ETH_QINQ_OLD    0x9100
#define ETH_MPLS        0x8847
#define ETH_MPLS_MC     0x8848
#define ETH_PPPOE_SESS  0x8864
#define ETH_PBB         0x88e7
#define ETH_VNTAG       0x8926
#define ETH_FABRICPATH  0x8903
#define ETH_TEB         0x6558 /* transparent Ethernet bridging (GRE, GENEVE) */
#define ETH_ERSPAN_1_2  0x88be
#define ETH_ERSPAN_3    0x22eb
#define ETH_PPP         0x880b /* PPP in (PPTP enhanced) GRE */
#define PPP_IPV4        0x0021
#define PPP_IPV6        0x0057
#define MAX_VLAN_TAGS   4  /* per Ethernet header */
#define MAX_MPLS_LABELS 16 /* per label stack */
#define MAX_GTP_EXT     8  /* GTP-U extension headers */
#define UDP_VXLAN       4789
#define UDP_GENEVE      6081
#define UDP_GTPU        2152
#define UDP_TEREDO      3544
#define UDP_AYIYA       5072
#define UDP_GRE         4754

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

/* One decode in progress: the view being filled and where its bytes end. */
struct dec {
	struct pkt *p;
	const struct decode_cfg *cfg;
	uint32_t end; /* first byte past the current layer's captured data */
};

/* How the layer after a link header is found. */
enum link_next {
	LINK_ETHER,    /* Ethernet header */
	LINK_SLL,      /* Linux cooked v1: protocol at 14 */
	LINK_SLL2,     /* Linux cooked v2: protocol at 0 */
	LINK_NULL,     /* BSD address family, either byte order */
	LINK_IP,       /* raw IPv4/IPv6 */
	LINK_PPP,      /* PPP (HDLC-like framing optional), Cisco HDLC */
	LINK_PPPOE,    /* PPPoE header then PPP */
	LINK_80211,    /* 802.11 frame */
	LINK_RADIOTAP, /* radiotap header then 802.11 */
};

/* The one link-type table: decode_link_supported() and decode_packet() both read it. */
static const struct link {
	int dlt;
	uint8_t hdr;  /* link header bytes that must be captured */
	uint8_t next; /* enum link_next */
} links[] = {
    {DLT_EN10MB, 14, LINK_ETHER},
    {DLT_LINUX_SLL, 16, LINK_SLL},
    {DLT_LINUX_SLL2, 20, LINK_SLL2},
    {DLT_NULL, 4, LINK_NULL},
    {DLT_LOOP, 4, LINK_NULL},
    {DLT_RAW, 0, LINK_IP},
    {DLT_IPV4, 0, LINK_IP},
    {DLT_IPV6, 0, LINK_IP},
    {101, 0, LINK_IP},       /* LINKTYPE_RAW */
    {14, 0, LINK_IP},        /* OpenBSD DLT_RAW */
    {9, 2, LINK_PPP},        /* DLT_PPP */
    {50, 2, LINK_PPP},       /* DLT_PPP_SERIAL */
    {104, 4, LINK_PPP},      /* DLT_C_HDLC */
    {51, 8, LINK_PPPOE},     /* DLT_PPP_ETHER */
    {105, 24, LINK_80211},   /* DLT_IEEE802_11 */
    {127, 8, LINK_RADIOTAP}, /* DLT_IEEE802_11_RADIO */
};

/* ---- private prototypes ------------------------------------------------ */

static enum decode_status decode_link(struct dec *d, const struct link *l);
static enum decode_status decode_eth(struct dec *d, uint32_t off);
static enum decode_status decode_ethertype(struct dec *d, uint16_t type, uint32_t off);
static enum decode_status decode_mpls(struct dec *d, uint32_t off);
static enum decode_status decode_ppp(struct dec *d, uint32_t off);
static enum decode_status decode_80211(struct dec *d, uint32_t off);
static enum decode_status decode_ip(struct dec *d, uint32_t off);
static enum decode_status decode_ipv4(struct dec *d, uint32_t off);
static enum decode_status decode_ipv6(struct dec *d, uint32_t off);
static enum decode_status decode_l4(struct dec *d, uint32_t off, uint32_t l4len);
static enum decode_status decode_tunnel(struct dec *d);
static enum decode_status decode_gre(struct dec *d, uint32_t off);
static enum decode_status decode_udp_tunnel(struct dec *d, uint16_t port);
static enum decode_status decode_gtpu(struct dec *d);

/* ---- API ----------------------------------------------------------------- */

/* The table entry for dlt, or NULL. */
static const struct link *link_find(int dlt)
{
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++)
		if (links[i].dlt == dlt)
			return &links[i];
	return NULL;
}

int decode_link_supported(int dlt)
{
	return link_find(dlt) != NULL;
}

const char *decode_status_str(enum decode_status s)
{
	switch (s) {
	case DECODE_OK:
		return "ok";
	case DECODE_NOT_IP:
		return "not IP";
	case DECODE_TRUNCATED:
		return "truncated";
	case DECODE_BAD_HEADER:
		return "bad header";
	case DECODE_UNKNOWN_LINK:
		return "unknown link type";
	}
	return "?";
}

enum decode_status decode_packet(const struct decode_cfg *cfg, int dlt, const uint8_t *data,
                                 struct pkt *p)
{
	static const struct decode_cfg defaults = {0};
	const struct link *l = link_find(dlt);
	struct dec d = {.p = p, .cfg = cfg ? cfg : &defaults};
	uint32_t caplen = p->caplen, wirelen = p->wirelen;
	uint64_t ts = p->ts_us;

	memset(p, 0, sizeof(*p));
	p->data = data;
	p->ts_us = ts;
	p->wirelen = wirelen;
	/* a lying record header: trust the smaller */
	p->caplen = wirelen < caplen ? wirelen : caplen;
	d.end = p->caplen;
	if (!l)
		return DECODE_UNKNOWN_LINK;
	if (d.end < l->hdr)
		return DECODE_TRUNCATED;
	return decode_link(&d, l);
}

/* ---- private functions: link layers -------------------------------------- */

/* Dispatch the frame at offset 0 by its link header. */
static enum decode_status decode_link(struct dec *d, const struct link *l)
{
	const uint8_t *data = d->p->data;

	switch (l->next) {
	case LINK_ETHER:
		return decode_eth(d, 0);
	case LINK_SLL:
		return decode_ethertype(d, rd16(data + 14), 16);
	case LINK_SLL2:
		return decode_ethertype(d, rd16(data), 20);
	case LINK_NULL: {
		/* DLT_NULL is in the writer's byte order: accept both */
		uint32_t fam = rd32(data);
		if (fam > 0xffff)
			fam = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			      (uint32_t)data[3] << 24;
		if (fam == 2 || fam == 24 || fam == 28 || fam == 30 || fam == 10)
			return decode_ip(d, 4);
		return DECODE_NOT_IP;
	}
	case LINK_IP:
		return decode_ip(d, 0);
	case LINK_PPP:
		if (data[0] == 0x0f || data[0] == 0x8f) /* Cisco HDLC: an ethertype at 2 */
			return d->end < 4 ? DECODE_TRUNCATED
			                  : decode_ethertype(d, rd16(data + 2), 4);
		return decode_ppp(d, 0);
	case LINK_PPPOE:
		return decode_ethertype(d, ETH_PPPOE_SESS, 0);
	case LINK_80211:
		return decode_80211(d, 0);
	case LINK_RADIOTAP: {
		uint32_t rtlen = (uint32_t)data[2] | (uint32_t)data[3] << 8; /* little endian */
		if (data[0] != 0 || rtlen < 8)
			return DECODE_BAD_HEADER;
		return decode_80211(d, rtlen);
	}
	}
	return DECODE_UNKNOWN_LINK;
}

/* Count one more encapsulation layer of kind k; -1 past the depth bound. */
static int enter(struct dec *d, enum encap_kind k)
{
	if (d->p->tun.depth >= DECODE_MAX_DEPTH)
		return -1;
	d->p->tun.depth++;
	d->p->tun.kinds |= 1u << k;
	return 0;
}

/* Ethernet header at off (inner frames of tunnels too). */
static enum decode_status decode_eth(struct dec *d, uint32_t off)
{
	if (d->end < off || d->end - off < 14)
		return DECODE_TRUNCATED;
	d->p->vlan_tags = 0; /* the view keeps the innermost frame's tags */
	d->p->vlan = 0;
	return decode_ethertype(d, rd16(d->p->data + off + 12), off + 14);
}

/* Follow an ethertype at data[off-2] (VLAN tags and layer-2 shims) to the IP header. */
static enum decode_status decode_ethertype(struct dec *d, uint16_t type, uint32_t off)
{
	struct pkt *p = d->p;
	const uint8_t *h;

	for (;;) {
		if (d->end < off)
			return DECODE_TRUNCATED;
		h = p->data + off;
		switch (type) {
		case ETH_VLAN:
		case ETH_QINQ:
		case ETH_QINQ_OLD:
			/* bail out if the tag (TCI + next type) is not captured */
			if (d->end - off < 4)
				return DECODE_TRUNCATED;
			if (p->vlan_tags == 0)
				p->vlan = rd16(h) & 0x0fff;
			if (++p->vlan_tags > MAX_VLAN_TAGS)
				return DECODE_BAD_HEADER;
			type = rd16(h + 2);
			off += 4;
			continue;
		case ETH_VNTAG: /* 4-byte tag, then the ethertype */
			if (d->end - off < 6)
				return DECODE_TRUNCATED;
			if (enter(d, ENCAP_VNTAG) < 0)
				return DECODE_BAD_HEADER;
			type = rd16(h + 4);
			off += 6;
			continue;
		case ETH_IPV4:
		case ETH_IPV6:
			return decode_ip(d, off);
		case ETH_MPLS:
		case ETH_MPLS_MC:
			return decode_mpls(d, off);
		case ETH_PPPOE_SESS: /* ver/type 0x11, code 0, session, length; then PPP */
			if (d->end - off < 8)
				return DECODE_TRUNCATED;
			if (h[0] != 0x11 || h[1] != 0)
				return DECODE_NOT_IP;
			if (enter(d, ENCAP_PPPOE) < 0)
				return DECODE_BAD_HEADER;
			return decode_ppp(d, off + 6);
		case ETH_PBB: /* I-TAG (flags + I-SID), then the customer's Ethernet frame */
			if (enter(d, ENCAP_PBB) < 0)
				return DECODE_BAD_HEADER;
			return decode_eth(d, off + 4);
		case ETH_FABRICPATH: /* FTag/TTL, then the classical Ethernet frame */
			if (enter(d, ENCAP_FABRICPATH) < 0)
				return DECODE_BAD_HEADER;
			return decode_eth(d, off + 2);
		default:
			return DECODE_NOT_IP;
		}
	}
}

/* MPLS label stack at off; after the bottom label the version nibble says IPv4/IPv6. */
static enum decode_status decode_mpls(struct dec *d, uint32_t off)
{
	if (enter(d, ENCAP_MPLS) < 0)
		return DECODE_BAD_HEADER;
	for (int n = 0; n < MAX_MPLS_LABELS; n++) {
		if (d->end < off || d->end - off < 4)
			return DECODE_TRUNCATED;
		off += 4;
		if (d->p->data[off - 2] & 1) { /* bottom of stack */
			if (d->end <= off)
				return DECODE_TRUNCATED;
			switch (d->p->data[off] >> 4) {
			case 4:
			case 6:
				return decode_ip(d, off);
			default:
				return DECODE_NOT_IP; /* pseudowire or other payload */
			}
		}
	}
	return DECODE_BAD_HEADER; /* absurdly deep stack */
}

/* PPP frame at off: optional address/control (0xff 0x03), then a 1- or 2-byte protocol. */
static enum decode_status decode_ppp(struct dec *d, uint32_t off)
{
	const uint8_t *h;
	uint16_t proto;

	if (d->end < off || d->end - off < 2)
		return DECODE_TRUNCATED;
	h = d->p->data + off;
	if (h[0] == 0xff && h[1] == 0x03) {
		off += 2;
		h += 2;
		if (d->end - off < 1)
			return DECODE_TRUNCATED;
	}
	if (h[0] & 1) { /* protocol-field compression: one odd byte */
		proto = h[0];
		off += 1;
	} else {
		if (d->end - off < 2)
			return DECODE_TRUNCATED;
		proto = rd16(h);
		off += 2;
	}
	if (proto == PPP_IPV4 || proto == PPP_IPV6)
		return decode_ip(d, off);
	return DECODE_NOT_IP; /* LCP, IPCP, CHAP, ...: not ours */
}

/* 802.11 frame at off: data frames only, unprotected, with an LLC/SNAP header. */
static enum decode_status decode_80211(struct dec *d, uint32_t off)
{
	const uint8_t *h;
	uint32_t hlen = 24;
	uint8_t subtype;

	if (d->end < off || d->end - off < 24)
		return DECODE_TRUNCATED;
	h = d->p->data + off;
	if (((h[0] >> 2) & 3) != 2)
		return DECODE_NOT_IP; /* management or control frame */
	subtype = h[0] >> 4;
	if ((subtype & 0x4) || (h[1] & 0x40))
		return DECODE_NOT_IP; /* null data (no body) or protected (encrypted) */
	if ((h[1] & 3) == 3)
		hlen += 6; /* to and from DS: a fourth address */
	if (subtype & 0x8) {
		hlen += 2; /* QoS control */
		if (h[1] & 0x80)
			hlen += 4; /* HT control */
	}
	if (d->end - off < hlen + 8)
		return DECODE_TRUNCATED;
	h += hlen;
	if (h[0] != 0xaa || h[1] != 0xaa || h[2] != 0x03)
		return DECODE_NOT_IP; /* not LLC/SNAP */
	return decode_ethertype(d, rd16(h + 6), off + hlen + 8);
}

/* ---- private functions: IP and transport ----------------------------------- */

/* Dispatch on the IP version nibble. */
static enum decode_status decode_ip(struct dec *d, uint32_t off)
{
	if (d->end <= off)
		return DECODE_TRUNCATED;
	switch (d->p->data[off] >> 4) {
	case 4:
		return decode_ipv4(d, off);
	case 6:
		return decode_ipv6(d, off);
	default:
		return DECODE_BAD_HEADER;
	}
}

static enum decode_status decode_ipv4(struct dec *d, uint32_t off)
{
	struct pkt *p = d->p;
	const uint8_t *ip = p->data + off;
	uint32_t avail = d->end - off, ihl, tot, fragoff;

	if (avail < 20)
		return DECODE_TRUNCATED;
	ihl = (uint32_t)(ip[0] & 0x0f) * 4;
	tot = rd16(ip + 2);
	/* bail out if the header claims less than itself */
	if (ihl < 20 || tot < ihl)
		return DECODE_BAD_HEADER;
	if (avail < ihl)
		return DECODE_TRUNCATED;
	p->ip_version = 4;
	p->l3_off = off;
	p->ip_len = tot;
	/* a shorter total length is trusted over the frame (padding) */
	p->l3_caplen = avail < tot ? avail : tot;
	p->proto = ip[9];
	addr_set4(&p->src, ip + 12);
	addr_set4(&p->dst, ip + 16);
	p->frag_id = rd16(ip + 4);
	p->frag = PKT_FRAG_NONE;
	fragoff = (uint32_t)(rd16(ip + 6) & 0x1fff) * 8;
	if (fragoff > 0) {
		p->frag = PKT_FRAG_LATER;
		p->payload_off = off + ihl;
		p->payload_len = tot - ihl;
		p->payload_caplen = p->l3_caplen - ihl;
		return DECODE_OK;
	}
	if (ip[6] & 0x20)
		p->frag = PKT_FRAG_FIRST;
	return decode_l4(d, off + ihl, tot - ihl);
}

static enum decode_status decode_ipv6(struct dec *d, uint32_t off)
{
	struct pkt *p = d->p;
	const uint8_t *ip = p->data + off;
	uint32_t avail = d->end - off, tot, hoff;
	uint8_t nh;

	if (avail < 40)
		return DECODE_TRUNCATED;
	tot = 40 + (uint32_t)rd16(ip + 4);
	p->ip_version = 6;
	p->l3_off = off;
	p->ip_len = tot;
	p->l3_caplen = avail < tot ? avail : tot;
	addr_set6(&p->src, ip + 8);
	addr_set6(&p->dst, ip + 24);
	p->frag = PKT_FRAG_NONE;
	p->frag_id = 0;
	nh = ip[6];
	hoff = 40;
	/* walk the extension-header chain; each step checks what remains */
	for (int n = 0; n < 16; n++) {
		const uint8_t *h = ip + hoff;
		uint32_t hlen;

		switch (nh) {
		case 0:   /* hop-by-hop */
		case 43:  /* routing */
		case 60:  /* destination options */
		case 135: /* mobility */
			if (p->l3_caplen < hoff + 2)
				return DECODE_TRUNCATED;
			hlen = ((uint32_t)h[1] + 1) * 8;
			break;
		case 51: /* AH: length in 4-byte units, minus 2 */
			if (p->l3_caplen < hoff + 2)
				return DECODE_TRUNCATED;
			hlen = ((uint32_t)h[1] + 2) * 4;
			break;
		case 44: /* fragment */
			if (p->l3_caplen < hoff + 8)
				return DECODE_TRUNCATED;
			hlen = 8;
			p->frag_id = rd32(h + 4);
			if (rd16(h + 2) & 0xfff8) {
				p->frag = PKT_FRAG_LATER;
				p->proto = h[0];
				p->payload_off = off + hoff + 8;
				p->payload_len = tot > hoff + 8 ? tot - hoff - 8 : 0;
				p->payload_caplen =
				    p->l3_caplen > hoff + 8 ? p->l3_caplen - hoff - 8 : 0;
				return DECODE_OK;
			}
			if (h[3] & 1)
				p->frag = PKT_FRAG_FIRST;
			break;
		default:
			p->proto = nh;
			if (tot < hoff)
				return DECODE_BAD_HEADER;
			return decode_l4(d, off + hoff, tot - hoff);
		}
		if (hoff + hlen > tot)
			return DECODE_BAD_HEADER;
		nh = h[0];
		hoff += hlen;
	}
	return DECODE_BAD_HEADER; /* absurdly long chain */
}

/* Transport header at off; l4len is its length as the IP header says. */
static enum decode_status decode_l4(struct dec *d, uint32_t off, uint32_t l4len)
{
	struct pkt *p = d->p;
	const uint8_t *h = p->data + off;
	uint32_t end = p->l3_off + p->l3_caplen; /* captured end of the IP packet */
	uint32_t avail = end > off ? end - off : 0, hlen;

	p->proto = p->ip_version == 4 ? p->data[p->l3_off + 9] : p->proto;
	p->l4_off = off;
	/* an inner transport replaces the tunnel's: no field of it may remain */
	p->sport = p->dport = p->udp_len = p->icmp_id = p->tcp_win = 0;
	p->icmp_type = p->icmp_code = p->tcp_flags = 0;
	p->tcp_seq = p->tcp_ack = 0;
	switch (p->proto) {
	case IPPROTO_TCP:
		if (l4len < 20)
			return DECODE_BAD_HEADER;
		if (avail < 20)
			return DECODE_TRUNCATED;
		hlen = (uint32_t)(h[12] >> 4) * 4;
		if (hlen < 20 || hlen > l4len)
			return DECODE_BAD_HEADER;
		p->sport = rd16(h);
		p->dport = rd16(h + 2);
		p->tcp_seq = rd32(h + 4);
		p->tcp_ack = rd32(h + 8);
		p->tcp_flags = h[13];
		p->tcp_win = rd16(h + 14);
		break;
	case IPPROTO_UDP:
		if (l4len < 8)
			return DECODE_BAD_HEADER;
		if (avail < 8)
			return DECODE_TRUNCATED;
		hlen = 8;
		p->sport = rd16(h);
		p->dport = rd16(h + 2);
		p->udp_len = rd16(h + 4);
		break;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (l4len < 4)
			return DECODE_BAD_HEADER;
		if (avail < 4)
			return DECODE_TRUNCATED;
		p->icmp_type = h[0];
		p->icmp_code = h[1];
		hlen = l4len >= 8 ? 8 : 4;
		if (avail >= 8)
			p->icmp_id = rd16(h + 4);
		break;
	default:
		hlen = 0; /* unknown transport: the whole IP payload is payload */
		break;
	}
	p->payload_off = off + hlen;
	p->payload_len = l4len - hlen;
	p->payload_caplen = avail > hlen ? avail - hlen : 0;
	if (p->payload_caplen > p->payload_len)
		p->payload_caplen = p->payload_len;
	return decode_tunnel(d);
}

/* ---- private functions: tunnels ----------------------------------------------- */

/* Start an IP tunnel of kind k carried by the current transport payload:
 * record the outer addresses. -1 past the depth bound. */
static int tunnel_enter(struct dec *d, enum encap_kind k)
{
	struct pkt *p = d->p;

	if (enter(d, k) < 0)
		return -1;
	p->tun.kind = (uint8_t)k;
	p->tun.has_id = 0;
	p->tun.id = 0;
	p->tun.src = p->src;
	p->tun.dst = p->dst;
	return 0;
}

/* A tunnel header needs more than the n captured bytes: truncated if the
 * datagram is longer than what was captured, else not that tunnel (plain). */
static enum decode_status short_payload(const struct pkt *p, uint32_t need)
{
	return p->payload_len >= need ? DECODE_TRUNCATED : DECODE_OK;
}

/* Set the tunnel id (VNI, key, session, TEID). */
static void tunnel_id(struct dec *d, uint32_t id)
{
	d->p->tun.has_id = 1;
	d->p->tun.id = id;
}

/* After the transport: cross a tunnel if this packet carries one. A later
 * IP fragment never reaches here (it has no transport header). */
static enum decode_status decode_tunnel(struct dec *d)
{
	struct pkt *p = d->p;
	uint8_t depth = p->tun.depth;

	/* what follows lies inside this transport's captured payload */
	d->end = p->payload_off + p->payload_caplen;
	switch (p->proto) {
	case 47: /* GRE */
		return decode_gre(d, p->payload_off);
	case 4:  /* IPv4 in IP */
	case 41: /* IPv6 in IP */
		if (p->payload_caplen < 1)
			return p->payload_len ? DECODE_TRUNCATED : DECODE_BAD_HEADER;
		if ((p->data[p->payload_off] >> 4) != (p->proto == 4 ? 4 : 6))
			return DECODE_BAD_HEADER;
		if (tunnel_enter(d, ENCAP_IPIP) < 0)
			return DECODE_BAD_HEADER;
		return decode_ip(d, p->payload_off);
	case IPPROTO_UDP: {
		enum decode_status s = decode_udp_tunnel(d, p->dport);
		if (s == DECODE_OK && p->tun.depth == depth)
			s = decode_udp_tunnel(d, p->sport); /* Teredo, AYIYA replies */
		return s;
	}
	default:
		return DECODE_OK;
	}
}

/* GRE header at off (RFC 2784/2890, PPTP's enhanced GRE), then its payload. */
static enum decode_status decode_gre(struct dec *d, uint32_t off)
{
	const uint8_t *h;
	uint16_t flags, proto;
	uint32_t hlen = 4, k_off = 0;
	enum encap_kind kind;

	if (d->end < off || d->end - off < 4)
		return DECODE_TRUNCATED;
	h = d->p->data + off;
	flags = rd16(h);
	proto = rd16(h + 2);
	switch (flags & 7) {
	case 0:
		if (flags & 0x4000)
			return DECODE_NOT_IP; /* RFC 1701 source routing: not decoded */
		if (flags & 0x8000)
			hlen += 4; /* checksum + reserved */
		if (flags & 0x2000) {
			k_off = hlen;
			hlen += 4;
		}
		if (flags & 0x1000)
			hlen += 4;
		break;
	case 1: /* enhanced GRE (PPTP): key (payload length, call id), seq, ack */
		if (!(flags & 0x2000) || proto != ETH_PPP)
			return DECODE_BAD_HEADER;
		hlen = 8 + ((flags & 0x1000) ? 4 : 0) + ((flags & 0x0080) ? 4 : 0);
		break;
	default:
		return DECODE_BAD_HEADER;
	}
	if (d->end - off < hlen)
		return DECODE_TRUNCATED;
	/* ERSPAN is named for itself, not as the GRE that carries it */
	kind = proto == ETH_ERSPAN_3     ? ENCAP_ERSPAN3
	       : proto != ETH_ERSPAN_1_2 ? ENCAP_GRE
	       : (flags & 0x1000)        ? ENCAP_ERSPAN2
	                                 : ENCAP_ERSPAN1;
	if (tunnel_enter(d, kind) < 0)
		return DECODE_BAD_HEADER;
	if (k_off)
		tunnel_id(d, rd32(h + k_off));
	off += hlen;
	h += hlen;
	switch (proto) {
	case ETH_ERSPAN_1_2:
		if (kind == ENCAP_ERSPAN1) /* type I: no ERSPAN header */
			return decode_eth(d, off);
		if (d->end - off < 8)
			return DECODE_TRUNCATED;
		tunnel_id(d, rd16(h + 2) & 0x3ff);
		return decode_eth(d, off + 8);
	case ETH_ERSPAN_3: {
		uint32_t ft;
		if (d->end - off < 12)
			return DECODE_TRUNCATED;
		tunnel_id(d, rd16(h + 2) & 0x3ff);
		ft = (uint32_t)(h[10] >> 2) & 0x1f; /* frame type: 0 Ethernet, 2 IP */
		off += 12 + ((h[11] & 1) ? 8 : 0);  /* O bit: platform sub-header */
		return ft == 0 ? decode_eth(d, off) : ft == 2 ? decode_ip(d, off) : DECODE_NOT_IP;
	}
	case ETH_PPP:
		return decode_ppp(d, off);
	case ETH_TEB:
		return decode_eth(d, off);
	default:
		return decode_ethertype(d, proto, off);
	}
}

/* GTP-U (UDP 2152): version 1, PT 1, a G-PDU; optional sequence, N-PDU and
 * extension headers; then IP. Signalling and GTP' stay plain UDP. */
static enum decode_status decode_gtpu(struct dec *d)
{
	struct pkt *p = d->p;
	const uint8_t *h = p->data + p->payload_off;
	uint32_t n = p->payload_caplen, hlen = 8;
	uint8_t next;

	if (n < 8)
		return short_payload(p, 8);
	if ((h[0] >> 5) != 1 || !(h[0] & 0x10) || h[1] != 0xff)
		return DECODE_OK;
	if (tunnel_enter(d, ENCAP_GTPU) < 0)
		return DECODE_BAD_HEADER;
	tunnel_id(d, rd32(h + 4));
	if (h[0] & 0x07) {
		if (n < 12)
			return DECODE_TRUNCATED;
		hlen = 12;
		next = (h[0] & 0x04) ? h[11] : 0;
		for (int k = 0; next; k++) { /* each: length in 4-byte units, ..., next type */
			uint32_t elen;
			if (k == MAX_GTP_EXT)
				return DECODE_BAD_HEADER;
			if (n < hlen + 1)
				return DECODE_TRUNCATED;
			elen = (uint32_t)h[hlen] * 4;
			if (elen == 0)
				return DECODE_BAD_HEADER;
			if (n < hlen + elen)
				return DECODE_TRUNCATED;
			next = h[hlen + elen - 1];
			hlen += elen;
		}
	}
	if (n < hlen + 1)
		return DECODE_TRUNCATED;
	return decode_ip(d, p->payload_off + hlen);
}

/* UDP payload at the current view on a tunnel port: cross it, or DECODE_OK
 * with the view unchanged when the payload does not look like that tunnel. */
static enum decode_status decode_udp_tunnel(struct dec *d, uint16_t port)
{
	struct pkt *p = d->p;
	const uint8_t *h = p->data + p->payload_off;
	uint32_t n = p->payload_caplen, hlen;

	if (port == UDP_VXLAN || (port == d->cfg->vxlan_port && port)) {
		/* flags (I bit), 3 reserved, VNI, 1 reserved; then Ethernet */
		if (n < 8)
			return short_payload(p, 8);
		if (!(h[0] & 0x08))
			return DECODE_OK;
		if (tunnel_enter(d, ENCAP_VXLAN) < 0)
			return DECODE_BAD_HEADER;
		tunnel_id(d, rd32(h + 4) >> 8);
		return decode_eth(d, p->payload_off + 8);
	}
	switch (port) {
	case UDP_GENEVE: /* ver+optlen, flags, protocol, VNI, reserved; options */
		if (n < 8)
			return short_payload(p, 8);
		if (h[0] >> 6)
			return DECODE_OK; /* version 0 only */
		hlen = 8 + (uint32_t)(h[0] & 0x3f) * 4;
		if (tunnel_enter(d, ENCAP_GENEVE) < 0)
			return DECODE_BAD_HEADER;
		tunnel_id(d, rd32(h + 4) >> 8);
		if (n < hlen)
			return DECODE_TRUNCATED;
		if (rd16(h + 2) == ETH_TEB)
			return decode_eth(d, p->payload_off + hlen);
		return decode_ethertype(d, rd16(h + 2), p->payload_off + hlen);
	case UDP_GTPU:
		return decode_gtpu(d);
	case UDP_TEREDO: { /* optional authentication and origin indication, then IPv6 */
		hlen = 0;
		if (n >= 4 && rd16(h) == 0x0001) {
			hlen = 4 + (uint32_t)h[2] + h[3] + 9;
			if (n < hlen + 2)
				return short_payload(p, hlen + 2);
		}
		if (n >= hlen + 2 && rd16(h + hlen) == 0x0000)
			hlen += 8;
		if (n < hlen + 40)
			return short_payload(p, hlen + 40);
		/* IPv6 whose length fills the datagram exactly, as Zeek insists */
		if ((h[hlen] >> 4) != 6 ||
		    40 + (uint32_t)rd16(h + hlen + 4) != p->payload_len - hlen)
			return DECODE_OK;
		if (tunnel_enter(d, ENCAP_TEREDO) < 0)
			return DECODE_BAD_HEADER;
		return decode_ipv6(d, p->payload_off + hlen);
	}
	case UDP_AYIYA: { /* id len/type, sig len/hash, auth/opcode, next header, epoch; id; sig */
		if (n < 8)
			return short_payload(p, 8);
		hlen = 8 + (1u << (h[0] >> 4)) + (uint32_t)(h[1] >> 4) * 4;
		if ((h[2] & 0x0f) != 1 || (h[3] != 4 && h[3] != 41))
			return DECODE_OK; /* not a forwarded packet */
		if (tunnel_enter(d, ENCAP_AYIYA) < 0)
			return DECODE_BAD_HEADER;
		if (n < hlen + 1)
			return DECODE_TRUNCATED;
		return decode_ip(d, p->payload_off + hlen);
	}
	case UDP_GRE: /* GRE in UDP (RFC 8086) */
		if (n < 4)
			return short_payload(p, 4);
		return decode_gre(d, p->payload_off);
	default:
		return DECODE_OK;
	}
}
