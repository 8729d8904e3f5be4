/* decode.c: link layer, IPv4/IPv6 and transport headers into one struct pkt.
 *
 * The frame is untrusted. Parsing is a chain of "bail out if fewer bytes
 * remain than the next header needs" checks against the captured length;
 * no byte is read without one. Lengths from headers are trusted only when
 * they are smaller than what was captured (Ethernet padding), never to read
 * further. Link types: Ethernet (802.1Q, 802.1ad/QinQ), Linux cooked v1/v2,
 * raw IP, BSD null/loop. */
#include <string.h>

#include <netinet/in.h>
#include <pcap/dlt.h>

#include "smaudit/decode.h"

/* ---- checked readers: the caller has verified off + N <= len ---------- */

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

#define ETH_IPV4      0x0800
#define ETH_IPV6      0x86dd
#define ETH_VLAN      0x8100
#define ETH_QINQ      0x88a8
#define ETH_QINQ_OLD  0x9100
#define MAX_VLAN_TAGS 4

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif

/* ---- private prototypes ------------------------------------------------ */

static enum decode_status decode_ethertype(uint16_t type, uint32_t off, struct pkt *p);
static enum decode_status decode_ip(uint32_t off, struct pkt *p);
static enum decode_status decode_ipv4(uint32_t off, struct pkt *p);
static enum decode_status decode_ipv6(uint32_t off, struct pkt *p);
static enum decode_status decode_l4(uint32_t off, uint32_t l4len, struct pkt *p);

/* ---- API ----------------------------------------------------------------- */

int decode_link_supported(int dlt)
{
	switch (dlt) {
	case DLT_EN10MB:
	case DLT_LINUX_SLL:
	case DLT_LINUX_SLL2:
	case DLT_RAW:
	case DLT_IPV4:
	case DLT_IPV6:
	case DLT_NULL:
	case DLT_LOOP:
		return 1;
	default:
#ifdef DLT_RAW_ALT
		if (dlt == DLT_RAW_ALT)
			return 1;
#endif
		return dlt == 101 || dlt == 14; /* LINKTYPE_RAW, OpenBSD DLT_RAW */
	}
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

enum decode_status decode_packet(int dlt, const uint8_t *data, struct pkt *p)
{
	uint32_t len = p->caplen;

	p->data = data;
	p->vlan = 0;
	p->vlan_tags = 0;
	p->ip_version = 0;
	p->l3_off = p->l3_caplen = p->ip_len = 0;
	p->proto = 0;
	p->frag = PKT_FRAG_NONE;
	p->frag_id = 0;
	p->l4_off = 0;
	p->sport = p->dport = 0;
	p->icmp_type = p->icmp_code = 0;
	p->icmp_id = 0;
	p->tcp_flags = 0;
	p->tcp_seq = p->tcp_ack = 0;
	p->tcp_win = 0;
	p->udp_len = 0;
	p->payload_off = p->payload_len = p->payload_caplen = 0;
	memset(&p->src, 0, sizeof(p->src));
	memset(&p->dst, 0, sizeof(p->dst));
	if (p->wirelen < len) /* a lying record header: trust the smaller */
		p->caplen = len = p->wirelen;

	switch (dlt) {
	case DLT_EN10MB:
		if (len < 14)
			return DECODE_TRUNCATED;
		return decode_ethertype(rd16(data + 12), 14, p);
	case DLT_LINUX_SLL: /* 16 bytes; protocol at 14 */
		if (len < 16)
			return DECODE_TRUNCATED;
		return decode_ethertype(rd16(data + 14), 16, p);
	case DLT_LINUX_SLL2: /* 20 bytes; protocol at 0 */
		if (len < 20)
			return DECODE_TRUNCATED;
		return decode_ethertype(rd16(data), 20, p);
	case DLT_NULL:
	case DLT_LOOP: {
		uint32_t fam;
		if (len < 4)
			return DECODE_TRUNCATED;
		/* DLT_NULL is in the writer's byte order: accept both */
		fam = rd32(data);
		if (fam > 0xffff)
			fam = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 |
			      (uint32_t)data[3] << 24;
		if (fam == 2)
			return decode_ip(4, p);
		if (fam == 24 || fam == 28 || fam == 30 || fam == 10)
			return decode_ip(4, p);
		return DECODE_NOT_IP;
	}
	case DLT_IPV4:
	case DLT_IPV6:
		return decode_ip(0, p);
	default:
		if (dlt == DLT_RAW || dlt == 101 || dlt == 14)
			return decode_ip(0, p);
		return DECODE_UNKNOWN_LINK;
	}
}

/* ---- private functions --------------------------------------------------- */

/* Follow VLAN tags from an ethertype at data[off-2] to the IP header. */
static enum decode_status decode_ethertype(uint16_t type, uint32_t off, struct pkt *p)
{
	while (type == ETH_VLAN || type == ETH_QINQ || type == ETH_QINQ_OLD) {
		/* bail out if the tag (TCI + next type) is not captured */
		if (p->caplen - off < 4)
			return DECODE_TRUNCATED;
		if (p->vlan_tags == 0)
			p->vlan = rd16(p->data + off) & 0x0fff;
		if (++p->vlan_tags > MAX_VLAN_TAGS)
			return DECODE_BAD_HEADER;
		type = rd16(p->data + off + 2);
		off += 4;
	}
	if (type != ETH_IPV4 && type != ETH_IPV6)
		return DECODE_NOT_IP;
	return decode_ip(off, p);
}

/* Dispatch on the IP version nibble. */
static enum decode_status decode_ip(uint32_t off, struct pkt *p)
{
	if (p->caplen <= off)
		return DECODE_TRUNCATED;
	switch (p->data[off] >> 4) {
	case 4:
		return decode_ipv4(off, p);
	case 6:
		return decode_ipv6(off, p);
	default:
		return DECODE_BAD_HEADER;
	}
}

static enum decode_status decode_ipv4(uint32_t off, struct pkt *p)
{
	const uint8_t *ip = p->data + off;
	uint32_t avail = p->caplen - off, ihl, tot, fragoff;

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
	return decode_l4(off + ihl, tot - ihl, p);
}

static enum decode_status decode_ipv6(uint32_t off, struct pkt *p)
{
	const uint8_t *ip = p->data + off;
	uint32_t avail = p->caplen - off, tot, hoff;
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
			return decode_l4(off + hoff, tot - hoff, p);
		}
		if (hoff + hlen > tot)
			return DECODE_BAD_HEADER;
		nh = h[0];
		hoff += hlen;
	}
	return DECODE_BAD_HEADER; /* absurdly long chain */
}

/* Transport header at off; l4len is its length as the IP header says. */
static enum decode_status decode_l4(uint32_t off, uint32_t l4len, struct pkt *p)
{
	const uint8_t *h = p->data + off;
	uint32_t end = p->l3_off + p->l3_caplen; /* captured end of the IP packet */
	uint32_t avail = end > off ? end - off : 0, hlen;

	p->proto = p->ip_version == 4 ? p->data[p->l3_off + 9] : p->proto;
	p->l4_off = off;
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
	return DECODE_OK;
}
