/* decode.h: one bounds-checked view of a captured packet.
 *
 * decode_packet() walks the link layer, IPv4/IPv6 and the transport header
 * once and fills a struct pkt of offsets and lengths that every later stage
 * reads. It never reads a byte past the captured length; a packet it cannot
 * decode is classified (truncated, bad header, unknown link) and counted by
 * the caller, never a crash.
 *
 * Tunnels (ERSPAN, GRE, VXLAN, GENEVE, IP in IP, GTP-U, Teredo, AYIYA) and
 * layer-2 shims (MPLS, PPPoE, PBB, VN-tag, FabricPath) are crossed to a
 * bounded depth: the view is the INNER packet (the addresses and ports the
 * flow uses) and pkt.tun says what it came through. */
#ifndef SMAUDIT_DECODE_H
#define SMAUDIT_DECODE_H

#include <stdint.h>

#include "smaudit/addr.h"
#include "smaudit/record.h" /* enum encap_kind, struct encap_info */

enum decode_status {
	DECODE_OK = 0,
	DECODE_NOT_IP,      /* ARP, LLDP, ...: not an error, just not ours */
	DECODE_TRUNCATED,   /* captured length ends inside a header we need */
	DECODE_BAD_HEADER,  /* a header field is impossible (IHL < 5, ...) */
	DECODE_UNKNOWN_LINK /* link type we do not decode */
};

/* Fragment handling for IPv4/IPv6: a non-first fragment carries no ports. */
enum {
	PKT_FRAG_NONE = 0,
	PKT_FRAG_FIRST = 1, /* offset 0, more fragments follow: has ports */
	PKT_FRAG_LATER = 2  /* offset > 0: no transport header */
};

/* Encapsulation layers crossed before a packet is called malformed (a loop
 * or a depth bomb). */
#define DECODE_MAX_DEPTH 8

/* Decoder settings (NULL = defaults). */
struct decode_cfg {
	uint16_t vxlan_port; /* a second UDP port carrying VXLAN; 0 = only 4789 */
};

struct pkt {
	const uint8_t *data; /* start of the captured frame */
	uint32_t caplen;     /* bytes captured */
	uint32_t wirelen;    /* bytes on the wire */
	uint64_t ts_us;      /* packet time, microseconds since the epoch */

	uint16_t vlan;     /* outermost 802.1Q VLAN id, 0 if none */
	uint8_t vlan_tags; /* how many tags were stripped */

	uint8_t ip_version; /* 4 or 6 */
	uint32_t l3_off;    /* offset of the IP header in data */
	uint32_t l3_caplen; /* captured bytes of the IP packet (<= ip_len) */
	uint32_t ip_len;    /* IP total length from the header (IPv6: 40 + payload) */
	struct sm_addr src, dst;
	uint8_t proto;    /* transport protocol after IPv6 extension headers */
	uint8_t frag;     /* PKT_FRAG_* */
	uint32_t frag_id; /* IPv4 id or IPv6 fragment id */

	uint32_t l4_off;       /* offset of the transport header; 0 if none */
	uint16_t sport, dport; /* ports; for ICMP: type and code */
	uint8_t icmp_type, icmp_code;
	uint16_t icmp_id;
	uint8_t tcp_flags;
	uint32_t tcp_seq, tcp_ack;
	uint16_t tcp_win;
	uint16_t udp_len;     /* UDP header length field (whole datagram, even when fragmented) */
	uint32_t payload_off; /* offset of the transport payload in data */
	uint32_t payload_len; /* payload length as the IP header says (not captured) */
	uint32_t payload_caplen; /* payload bytes actually captured */

	struct encap_info tun; /* encapsulations crossed; kinds == 0 for a plain packet */
};

#define TH_FIN  0x01
#define TH_SYN  0x02
#define TH_RST  0x04
#define TH_PUSH 0x08
#define TH_ACK  0x10
#define TH_URG  0x20

/* Decode one frame of pcap link type dlt into *p (ts, caplen, wirelen
 * already set by the caller; cfg may be NULL). Returns a decode_status; on
 * DECODE_OK the IP fields are valid and l4 fields are valid unless
 * frag == PKT_FRAG_LATER or proto is not TCP/UDP/ICMP/ICMPv6. */
enum decode_status decode_packet(const struct decode_cfg *cfg, int dlt, const uint8_t *data,
                                 struct pkt *p);

/* 1 if dlt is a link type decode_packet() understands. */
int decode_link_supported(int dlt);

/* Short human name of a decode_status ("truncated", ...). */
const char *decode_status_str(enum decode_status s);

#endif
