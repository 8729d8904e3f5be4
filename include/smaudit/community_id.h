/* community_id.h: the Community ID flow hash (v1), as Zeek and Suricata write it.
 *
 * Spec: corelight/community-id-spec. SHA-1 over seed (2 bytes), the two
 * addresses ordered so the smaller address:port comes first, the protocol
 * and a zero pad byte, and for TCP, UDP, SCTP, ICMP and ICMPv6 the two
 * ports (ICMP: type and the paired type, or the code for one-way messages),
 * all in network byte order; the digest is base64-encoded after "1:".
 * SHA-1 and base64 come from libcrypto. */
#ifndef SMAUDIT_COMMUNITY_ID_H
#define SMAUDIT_COMMUNITY_ID_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/addr.h"
#include "smaudit/record.h"

/* "1:" + 28 base64 characters + NUL */
#define COMMUNITY_ID_LEN 31

/* Community ID v1 of one packet's tuple (src -> dst; for ICMP/ICMPv6 sport is
 * the type and dport the code). Writes it to out (>= COMMUNITY_ID_LEN bytes)
 * and returns 0, or -1 (out = "") when the addresses are unset or of two
 * families. */
int community_id_v1(uint16_t seed, const struct sm_addr *src, const struct sm_addr *dst,
                    uint8_t proto, uint16_t sport, uint16_t dport, char *out, size_t outlen);

/* The paired ICMP (proto 1) or ICMPv6 (58) type of type t (echo request
 * <-> reply ...: Zeek's table, which the spec uses), or -1 when t is a
 * one-way message. */
int community_id_icmp_pair(uint8_t proto, uint16_t t);

/* Community ID (seed 0) of a flow record: the originator's tuple, ICMP by
 * the type in orig_port. Returns 0, or -1 with out = "" for SCTP (the
 * decoder does not read SCTP ports, and the spec prefers no ID to a wrong
 * one) or unusable addresses. */
int community_id_flow(const struct flow_record *r, char *out, size_t outlen);

struct sqlite3;

/* Register sm_community_id(proto, orig_addr, orig_port, resp_addr, resp_port)
 * on db: the Community ID of a stored flow row (proto as stored, a name or a
 * number), NULL when it has none. Returns 0 or -1. */
int community_id_sql_register(struct sqlite3 *db);

#endif
