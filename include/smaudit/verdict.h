/* verdict.h: one flow against the matrix: rule, verdict, reason.
 *
 * Order: expected, unexpected-peer, unexpected-direction, unexpected-port;
 * protocol-mismatch turns an otherwise expected flow when DPI detected
 * (confidence dpi) a protocol the rule does not allow. */
#ifndef SMAUDIT_VERDICT_H
#define SMAUDIT_VERDICT_H

#include "smaudit/record.h"
#include "smaudit/rules.h"

struct verdict_result {
	const struct rule *rule; /* matched rule (owned by the matrix), or NULL */
	enum verdict_kind kind;
	char reason[256];       /* words a person can act on */
	uint8_t peer_unchecked; /* expected only because the rule's role has no addresses */
	uint8_t app_unchecked;  /* expected, but the rule restricts the application and DPI
	                           did not confirm it (no payload, a port guess, DPI off) */
};

/* Judge rec (direction already set: DIR_IN, DIR_OUT or DIR_LOCAL) against m. */
void verdict_eval(const struct rules_matrix *m, const struct flow_record *rec,
                  struct verdict_result *out);

/* For a flow whose both ends are monitored hosts (a catch-all --host
 * 0.0.0.0/0 makes every flow one): the direction whose reading the matrix
 * explains better (inbound: the responder is the monitored side; outbound:
 * the originator is), ranked expected by a rule naming the peer's role,
 * expected, protocol-mismatch, unexpected-peer, unexpected-direction,
 * unexpected-port; DIR_LOCAL when both fit alike. */
enum flow_dir verdict_side(const struct rules_matrix *m, const struct flow_record *rec);
/* What an expected flow left unchecked, as stored in flows.unchecked:
 * "peer", "app", "peer,app", or NULL when everything was checked (and for
 * every other verdict). */
const char *verdict_unchecked_str(const struct verdict_result *v);

/* Name of an ICMP (proto IPPROTO_ICMP) or ICMPv6 message type: "echo
 * request"; NULL when the type is not one smaudit names. */
const char *verdict_icmp_name(uint8_t proto, uint16_t type);

/* Who talked to whom on one line, into buf (returned): "a:p -> b:q/tcp"
 * ("[v6]:p" for IPv6); ICMP has no ports: "a -> b icmp type 8 (echo request)". */
const char *verdict_flow_str(const struct flow_record *rec, char *buf, size_t len);

#endif
