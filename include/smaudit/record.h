/* record.h: the finished record of one flow, and every name that reaches
 * the database.
 *
 * A flow record is written by several stages in turn; each field says which
 * one (flow = the flow table, audit = the pipeline, dpi = application
 * detection, store = the database). A stage writes only its own fields and
 * reads the others'. The names below are the values stored in the flows
 * table; db/schema.sql constrains those columns to exactly these lists
 * (tests/test_record.c holds the two together). This header knows nothing
 * of packets, SQL or rules. */
#ifndef SMAUDIT_RECORD_H
#define SMAUDIT_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/addr.h"

/* Direction seen from the monitored host(s). Stored as flows.direction. */
enum flow_dir {
	DIR_NONE = 0, /* touches no monitored host: counted, not stored */
	DIR_IN,       /* a remote party connected to a monitored host */
	DIR_OUT,      /* a monitored host connected to a remote party */
	DIR_LOCAL,    /* both ends are monitored hosts and the matrix explains the flow
	               * no better either way (verdict_side): judged inbound */
	DIR_MAX = DIR_LOCAL
};

/* Why a flow's record was written. Stored as flows.end_reason. */
enum flow_end {
	END_NONE = 0,
	END_CLOSED,      /* FIN both ways or RST, after the close delay */
	END_TIMEOUT,     /* idle longer than the protocol's timeout */
	END_EVICTED,     /* table full: least recently seen flow written out */
	END_CAPTURE_END, /* the capture ended with the flow still open */
	END_SHUTDOWN,    /* live capture stopped (signal) */
	END_CHECKPOINT,  /* long-lived flow written at a checkpoint, still open */
	END_MAX = END_CHECKPOINT
};

/* How sure the application protocol is (nDPI's confidence, reduced).
 * Stored as flows.app_confidence. */
enum app_conf {
	APP_CONF_NONE = 0, /* nothing known */
	APP_CONF_PORT,     /* guessed from the port number: not a detection */
	APP_CONF_IP,       /* guessed from the address (known networks) */
	APP_CONF_DPI,      /* detected from the payload */
	APP_CONF_MAX = APP_CONF_DPI
};

/* The verdict of the matrix. Stored as flows.verdict. */
enum verdict_kind {
	VERDICT_NONE = 0,
	VERDICT_EXPECTED,
	VERDICT_UNEXPECTED_PORT,
	VERDICT_UNEXPECTED_DIRECTION,
	VERDICT_UNEXPECTED_PEER,
	VERDICT_PROTOCOL_MISMATCH,
	VERDICT_MAX = VERDICT_PROTOCOL_MISMATCH
};

/* How the originator of a flow was chosen (written by flow, said in the
 * verdict's reason; not stored as such). Anything but ORIENT_FIRST means
 * direction_inferred = 1. */
enum flow_orient {
	ORIENT_FIRST = 0,      /* sender of the bare SYN, or of the first UDP/ICMP packet */
	ORIENT_SYNACK,         /* TCP began with the SYN-ACK: its receiver is the client */
	ORIENT_SERVER_PORT,    /* one port is a service port: its side is the server */
	ORIENT_LOWER_PORT,     /* TCP mid-stream, both service ports: the lower is the server's */
	ORIENT_EPHEMERAL_PORT, /* TCP mid-stream, one port ephemeral: its side is the client */
	ORIENT_GUESS           /* TCP mid-stream, ports tell nothing: first sender is the client */
};

/* Encapsulations the decoder crosses (tunnels and layer-2 shims);
 * struct encap_info.kinds has bit 1u << kind set for each one seen. Their
 * names (encap_str) appear in flows.tunnel and runs.encap. */
enum encap_kind {
	ENCAP_NONE = 0,
	ENCAP_ERSPAN1,    /* GRE 0x88BE without sequence number */
	ENCAP_ERSPAN2,    /* GRE 0x88BE with sequence number, 8-byte header */
	ENCAP_ERSPAN3,    /* GRE 0x22EB, 12-byte header (+8 platform sub-header) */
	ENCAP_GRE,        /* GRE (RFC 2784/2890, PPTP enhanced GRE, GRE over UDP 4754) */
	ENCAP_VXLAN,      /* UDP 4789 or the configured port */
	ENCAP_GENEVE,     /* UDP 6081 */
	ENCAP_IPIP,       /* IPv4/IPv6 directly in IPv4/IPv6 (protocol 4 or 41) */
	ENCAP_GTPU,       /* UDP 2152, G-PDU */
	ENCAP_TEREDO,     /* UDP 3544, IPv6 in UDP */
	ENCAP_AYIYA,      /* UDP 5072 */
	ENCAP_MPLS,       /* label stack (ethertype 0x8847/0x8848, or in GRE) */
	ENCAP_PPPOE,      /* PPPoE session (0x8864) */
	ENCAP_PBB,        /* 802.1ah I-TAG (0x88E7) */
	ENCAP_VNTAG,      /* VN-tag (0x8926) */
	ENCAP_FABRICPATH, /* Cisco FabricPath (0x8903) */
	ENCAP_COUNT
};

/* What a packet came through (decode fills it in the packet view; flow
 * copies the first packet's into the record). The tunnel fields describe the
 * innermost IP tunnel (the one the flow was carried by): its kind, the
 * addresses of the IP header around it and its id. Stored as flows.tunnel. */
struct encap_info {
	uint32_t kinds;          /* 1u << ENCAP_* of every layer crossed; 0 = plain */
	uint8_t depth;           /* encapsulation layers crossed */
	uint8_t kind;            /* ENCAP_* of the innermost IP tunnel; ENCAP_NONE if none */
	uint8_t has_id;          /* id is meaningful */
	uint32_t id;             /* VXLAN/GENEVE VNI, GRE key, ERSPAN session, GTP TEID */
	struct sm_addr src, dst; /* outer IP addresses of that tunnel */
};

/* What application detection left on the flow (written by dpi). */
struct flow_app {
	char proto[32];       /* "TLS", "HTTP", "SMTP", "Jabber", "TLS.Google"; "" = unknown */
	uint8_t confidence;   /* enum app_conf */
	uint8_t done;         /* detection finished (state freed) */
	char server_name[80]; /* TLS SNI, HTTP Host; SMTP: server banner name (nDPI 4.2) */
};

/* The record of one flow: what the store writes. */
struct flow_record {
	uint64_t seq;                    /* flow: creation order within the run, from 1 */
	char uid[20];                    /* flow: stable id, 'C' + base62 of a keyed hash */
	uint64_t ts_start_us, ts_end_us; /* flow: packet time of the first and last packet */
	uint8_t proto;                   /* flow: IPPROTO_TCP, _UDP, _ICMP, _ICMPV6, or another */
	uint8_t ip_version;              /* flow: 4 or 6 */
	struct sm_addr orig, resp;       /* flow: originator and responder */
	uint16_t orig_port, resp_port;   /* flow: ICMP: type, and code or reply type */
	uint16_t vlan;                   /* flow: innermost 802.1Q id, 0 = untagged */
	uint8_t direction;               /* audit: enum flow_dir, at the first packet */
	uint8_t direction_inferred;      /* flow: originator inferred, no SYN/first packet */
	uint8_t orient;                  /* flow: enum flow_orient, how the originator was chosen */
	uint64_t orig_pkts, orig_ip_bytes, orig_bytes; /* flow: per direction; bytes = payload */
	uint64_t resp_pkts, resp_ip_bytes, resp_bytes; /* flow */
	char conn_state[8];    /* flow: Zeek's S0 S1 SF REJ ...; UDP SF S0 SHR OTH; ICMP OTH */
	char history[24];      /* flow: Zeek's history letters */
	uint64_t missed_bytes; /* flow: bytes of content gaps, both sides (Zeek's missed_bytes) */
	uint8_t end_reason;    /* flow (audit for checkpoints): enum flow_end */
	uint8_t first_verdict; /* audit: enum verdict_kind last announced (live), 0 = none */
	int64_t store_id;      /* store: database row once written (checkpoints), 0 = none */
	struct flow_app app;   /* dpi */
	struct encap_info tunnel; /* flow: what the first packet came through (decode's view) */
};

/* Stored name of an end reason ("closed", "timeout", ...); "" for END_NONE. */
const char *flow_end_str(enum flow_end e);

/* Stored name of a transport protocol ("tcp", "udp", "icmp", "icmp6");
 * NULL for another protocol (the caller stores its number). */
const char *flow_proto_str(uint8_t proto);

/* Stored name of a direction ("in", "out", "local"); "" for DIR_NONE. */
const char *flow_dir_str(enum flow_dir d);

/* Stored name of a confidence ("none", "port", "ip", "dpi"). */
const char *app_conf_str(enum app_conf c);

/* Stored name of a verdict ("expected", "unexpected-port", ...); "" for VERDICT_NONE. */
const char *verdict_str(enum verdict_kind k);

/* Stored name of an encapsulation ("erspan2", "vxlan", ...). */
const char *encap_str(enum encap_kind k);

/* flows.tunnel text of t into buf: the kinds crossed, then the innermost IP
 * tunnel's outer addresses and id ("erspan2 192.0.2.1>192.0.2.2 session 1",
 * "vxlan 198.51.100.1>198.51.100.2 vni 4242", "mpls"); "" for a plain flow.
 * Returns buf. */
const char *encap_info_str(const struct encap_info *t, char *buf, size_t len);

/* runs.encap text of per-kind packet counts into buf ("erspan2 488, mpls 3");
 * "" when every count is 0. Returns buf. */
const char *encap_counts_str(const uint64_t counts[ENCAP_COUNT], char *buf, size_t len);

/* What an expected flow's verdict could not check (bits). Stored as
 * flows.unchecked: "peer", "app", "peer,app"; NULL when nothing. */
enum unchecked_bit {
	UNCHECKED_PEER = 1, /* the rule's role had no addresses */
	UNCHECKED_APP = 2,  /* the rule restricts the application, DPI did not confirm it */
	UNCHECKED_MAX = UNCHECKED_PEER | UNCHECKED_APP
};

/* Stored name of a set of unchecked bits; NULL for none. */
const char *unchecked_str(unsigned bits);

/* The verdict named s (as stored), or VERDICT_NONE. */
enum verdict_kind verdict_from_str(const char *s);

#endif
