/* addr.h: IPv4/IPv6 addresses and CIDR prefixes, parsed, matched, printed.
 *
 * An address is 16 bytes plus a family; IPv4 uses the first 4 bytes, the
 * rest stay zero so two addresses compare with memcmp. */
#ifndef SMAUDIT_ADDR_H
#define SMAUDIT_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define ADDR_STRLEN 48 /* enough for any IPv6 text form and a NUL */

struct sm_addr {
	uint8_t family; /* 4 or 6; 0 = unset */
	uint8_t b[16];
};

struct sm_cidr {
	struct sm_addr addr; /* host bits beyond prefix are cleared */
	uint8_t prefix;      /* 0..32 or 0..128 */
};

/* Parse dotted IPv4 or IPv6 text into *out. Returns 0, or -1 if not an address. */
int addr_parse(const char *s, struct sm_addr *out);

/* Parse ADDR or ADDR/PREFIX into *out. Returns 0, or -1 with nothing usable. */
int cidr_parse(const char *s, struct sm_cidr *out);

/* 1 if a lies inside c (same family and prefix bits equal), else 0. */
int cidr_match(const struct sm_cidr *c, const struct sm_addr *a);

/* Print a into buf (at least ADDR_STRLEN bytes); returns buf. */
const char *addr_str(const struct sm_addr *a, char *buf, size_t len);

/* Print c as ADDR/PREFIX into buf (at least ADDR_STRLEN + 4 bytes); returns buf. */
const char *cidr_str(const struct sm_cidr *c, char *buf, size_t len);

/* Total order on addresses (family first, then bytes); <0, 0, >0. */
int addr_cmp(const struct sm_addr *a, const struct sm_addr *b);

/* 1 if a and b are the same address (family and bytes), else 0: addr_cmp's
 * equality, inline for the flow lookup (two 8-byte compares, no call). */
static inline int addr_eq(const struct sm_addr *a, const struct sm_addr *b)
{
	uint64_t a0, a1, b0, b1;

	memcpy(&a0, a->b, 8);
	memcpy(&a1, a->b + 8, 8);
	memcpy(&b0, b->b, 8);
	memcpy(&b1, b->b + 8, 8);
	return a->family == b->family && a0 == b0 && a1 == b1;
}

/* Set a from 4 or 16 raw network-order bytes. */
void addr_set4(struct sm_addr *a, const uint8_t *p);
void addr_set6(struct sm_addr *a, const uint8_t *p);

#endif
