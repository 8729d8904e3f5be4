/* addr.c: IPv4/IPv6 addresses and CIDR prefixes (see addr.h).
 *
 * Thin layer over inet_pton/inet_ntop that keeps both families in one
 * 17-byte struct so flow keys and role lists compare with memcmp. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/addr.h"

void addr_set4(struct sm_addr *a, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	a->family = 4;
	memcpy(a->b, p, 4);
}

void addr_set6(struct sm_addr *a, const uint8_t *p)
{
	memset(a, 0, sizeof(*a));
	a->family = 6;
	memcpy(a->b, p, 16);
}

int addr_parse(const char *s, struct sm_addr *out)
{
	uint8_t buf[16];

	if (!s || !*s)
		return -1;
	if (inet_pton(AF_INET, s, buf) == 1) {
		addr_set4(out, buf);
		return 0;
	}
	if (inet_pton(AF_INET6, s, buf) == 1) {
		addr_set6(out, buf);
		return 0;
	}
	return -1;
}

int cidr_parse(const char *s, struct sm_cidr *out)
{
	char tmp[ADDR_STRLEN + 8];
	const char *slash;
	size_t alen;
	long pfx;
	int maxp;

	if (!s)
		return -1;
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0 || alen >= sizeof(tmp))
		return -1;
	memcpy(tmp, s, alen);
	tmp[alen] = '\0';
	if (addr_parse(tmp, &out->addr) < 0)
		return -1;
	maxp = out->addr.family == 4 ? 32 : 128;
	if (slash) {
		char *end;
		if (slash[1] < '0' || slash[1] > '9')
			return -1;
		pfx = strtol(slash + 1, &end, 10);
		if (*end || pfx < 0 || pfx > maxp)
			return -1;
	} else {
		pfx = maxp;
	}
	out->prefix = (uint8_t)pfx;
	/* clear host bits so equal prefixes compare equal */
	for (int i = 0; i < 16; i++) {
		int bits = (int)pfx - i * 8;
		if (bits >= 8)
			continue;
		out->addr.b[i] &= bits <= 0 ? 0 : (uint8_t)(0xff << (8 - bits));
	}
	return 0;
}

int cidr_match(const struct sm_cidr *c, const struct sm_addr *a)
{
	int full = c->prefix / 8, rest = c->prefix % 8;

	if (c->addr.family != a->family)
		return 0;
	if (memcmp(c->addr.b, a->b, (size_t)full) != 0)
		return 0;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((a->b[full] & mask) != c->addr.b[full])
			return 0;
	}
	return 1;
}

/* Dotted quad of 4 bytes into buf (>= 16 bytes): inet_ntop's text, without
 * its sprintf per byte (addresses are formatted several times per flow). */
static void ip4_str(const uint8_t *b, char *buf)
{
	char *o = buf;

	for (int i = 0; i < 4; i++) {
		unsigned v = b[i];
		if (v >= 100)
			*o++ = (char)('0' + v / 100);
		if (v >= 10)
			*o++ = (char)('0' + v / 10 % 10);
		*o++ = (char)('0' + v % 10);
		*o++ = i < 3 ? '.' : '\0';
	}
}

const char *addr_str(const struct sm_addr *a, char *buf, size_t len)
{
	if (a->family == 4) {
		if (len >= 16)
			ip4_str(a->b, buf);
		else if (!inet_ntop(AF_INET, a->b, buf, (socklen_t)len))
			snprintf(buf, len, "?");
	} else if (a->family == 6) {
		if (!inet_ntop(AF_INET6, a->b, buf, (socklen_t)len))
			snprintf(buf, len, "?");
	} else {
		snprintf(buf, len, "-");
	}
	return buf;
}

const char *cidr_str(const struct sm_cidr *c, char *buf, size_t len)
{
	char a[ADDR_STRLEN];

	snprintf(buf, len, "%s/%u", addr_str(&c->addr, a, sizeof(a)), c->prefix);
	return buf;
}

int addr_cmp(const struct sm_addr *a, const struct sm_addr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->b, b->b, 16);
}
