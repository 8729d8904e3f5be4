/* community_id.c: Community ID v1 flow hashing (see community_id.h).
 *
 * The hashed bytes, 32-bit aligned: seed(2) saddr(4|16) daddr(4|16) proto(1)
 * pad(1) [sport(2) dport(2)]. ICMP and ICMPv6 messages that come in pairs
 * (echo request/reply ...) hash as type and paired type, so both halves of
 * a conversation get one ID; other messages hash as type and code and keep
 * their direction (one-way). The tables are Zeek's ICMP4/6_counterpart as
 * the spec's reference implementation lists them. The same hash is offered
 * to SQL as sm_community_id() for rows stored before the column existed. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <sqlite3.h>

#include "smaudit/community_id.h"

#define PROTO_ICMP   1
#define PROTO_TCP    6
#define PROTO_UDP    17
#define PROTO_ICMPV6 58
#define PROTO_SCTP   132

/* ---- private ----------------------------------------------------------- */

static const EVP_MD *sha1_md; /* fetched once: SHA1() fetches it at every call */

static void fetch_sha1(void)
{
	sha1_md = EVP_MD_fetch(NULL, "SHA1", NULL);
}

/* SHA-1 of buf into digest (SHA_DIGEST_LENGTH bytes); 0 or -1. */
static int sha1(const uint8_t *buf, size_t n, uint8_t *digest)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fetch_sha1);
	return sha1_md && EVP_Digest(buf, n, digest, NULL, sha1_md, NULL) == 1 ? 0 : -1;
}

/* 1 if (a, ap) sorts strictly before (b, bp): addresses bytewise, then ports. */
static int endpoint_lt(const uint8_t *a, uint16_t ap, const uint8_t *b, uint16_t bp, size_t alen)
{
	int c = memcmp(a, b, alen);

	return c < 0 || (c == 0 && ap < bp);
}

/* ---- API --------------------------------------------------------------- */

int community_id_icmp_pair(uint8_t proto, uint16_t t)
{
	static const uint8_t v4[][2] = {{8, 0},   {0, 8},  {13, 14}, {14, 13}, {15, 16},
	                                {16, 15}, {10, 9}, {9, 10},  {17, 18}, {18, 17}};
	static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133},
	                                {135, 136}, {136, 135}, {130, 131}, {131, 130},
	                                {139, 140}, {140, 139}, {144, 145}, {145, 144}};
	const uint8_t(*tab)[2] = proto == PROTO_ICMP ? v4 : v6;
	size_t n = proto == PROTO_ICMP ? sizeof(v4) / sizeof(v4[0]) : sizeof(v6) / sizeof(v6[0]);

	for (size_t i = 0; i < n; i++)
		if (tab[i][0] == t)
			return tab[i][1];
	return -1;
}

int community_id_v1(uint16_t seed, const struct sm_addr *src, const struct sm_addr *dst,
                    uint8_t proto, uint16_t sport, uint16_t dport, char *out, size_t outlen)
{
	uint8_t buf[2 + 16 + 16 + 2 + 4], digest[SHA_DIGEST_LENGTH];
	unsigned char b64[4 * ((SHA_DIGEST_LENGTH + 2) / 3) + 1];
	size_t alen, n = 0;
	int ports = proto == PROTO_TCP || proto == PROTO_UDP || proto == PROTO_SCTP ||
	            proto == PROTO_ICMP || proto == PROTO_ICMPV6;
	int one_way = 0, swap;
	const uint8_t *a = src->b, *b = dst->b;

	if (outlen)
		out[0] = '\0';
	if (outlen < COMMUNITY_ID_LEN || !src->family || src->family != dst->family)
		return -1;
	alen = src->family == 4 ? 4 : 16;
	if (proto == PROTO_ICMP || proto == PROTO_ICMPV6) {
		int peer = community_id_icmp_pair(proto, sport);
		if (peer >= 0)
			dport = (uint16_t)peer;
		else
			one_way = 1;
	}
	if (!ports)
		sport = dport = 0;
	swap = !one_way && !endpoint_lt(a, sport, b, dport, alen);
	if (swap) {
		uint16_t p = sport;
		a = dst->b;
		b = src->b;
		sport = dport;
		dport = p;
	}
	buf[n++] = (uint8_t)(seed >> 8);
	buf[n++] = (uint8_t)seed;
	memcpy(buf + n, a, alen);
	n += alen;
	memcpy(buf + n, b, alen);
	n += alen;
	buf[n++] = proto;
	buf[n++] = 0;
	if (ports) {
		buf[n++] = (uint8_t)(sport >> 8);
		buf[n++] = (uint8_t)sport;
		buf[n++] = (uint8_t)(dport >> 8);
		buf[n++] = (uint8_t)dport;
	}
	if (sha1(buf, n, digest) < 0)
		return -1;
	/* "1:" and the base64 (28 characters and its NUL: COMMUNITY_ID_LEN) */
	n = (size_t)EVP_EncodeBlock(b64, digest, SHA_DIGEST_LENGTH);
	out[0] = '1';
	out[1] = ':';
	memcpy(out + 2, b64, n + 1);
	return 0;
}

int community_id_flow(const struct flow_record *r, char *out, size_t outlen)
{
	if (r->proto == PROTO_SCTP) {
		if (outlen)
			out[0] = '\0';
		return -1;
	}
	return community_id_v1(0, &r->orig, &r->resp, r->proto, r->orig_port, r->resp_port, out,
	                       outlen);
}

/* ---- the SQL function ------------------------------------------------- */

/* sm_community_id(proto, orig_addr, orig_port, resp_addr, resp_port): the
 * Community ID of a stored flow row (proto as stored: a name or a number),
 * NULL when it has none. */
static void sql_community_id(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	struct flow_record r;
	const char *proto = (const char *)sqlite3_value_text(argv[0]);
	const char *oa = (const char *)sqlite3_value_text(argv[1]);
	const char *ra = (const char *)sqlite3_value_text(argv[3]);
	char id[COMMUNITY_ID_LEN];
	int p = -1;

	(void)argc;
	memset(&r, 0, sizeof(r));
	for (int i = 0; proto && i < 256 && p < 0; i++)
		if (flow_proto_str((uint8_t)i) && !strcmp(flow_proto_str((uint8_t)i), proto))
			p = i;
	if (p < 0 && proto && *proto >= '0' && *proto <= '9') {
		char *end;
		long n = strtol(proto, &end, 10);
		if (!*end && n < 256)
			p = (int)n;
	}
	if (p < 0 || !oa || !ra || addr_parse(oa, &r.orig) < 0 || addr_parse(ra, &r.resp) < 0)
		return; /* NULL */
	r.proto = (uint8_t)p;
	r.orig_port = (uint16_t)sqlite3_value_int(argv[2]);
	r.resp_port = (uint16_t)sqlite3_value_int(argv[4]);
	if (community_id_flow(&r, id, sizeof(id)) == 0)
		sqlite3_result_text(ctx, id, -1, SQLITE_TRANSIENT);
}

int community_id_sql_register(struct sqlite3 *db)
{
	return sqlite3_create_function(db, "sm_community_id", 5,
	                               SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
	                               sql_community_id, NULL, NULL) == SQLITE_OK
	           ? 0
	           : -1;
}
