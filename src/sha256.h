/* sha256.h: a small self-contained SHA-256 (FIPS 180-4), used to record
 * which rules files a run loaded. Not for hot paths. */
#ifndef SMAUDIT_SHA256_H
#define SMAUDIT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256_ctx {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
};

/* Start a new hash in ctx. */
void sha256_init(struct sha256_ctx *ctx);

/* Hash len more bytes of data. */
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);

/* Finish and write the 32-byte digest to out; ctx must be re-initialised to reuse. */
void sha256_final(struct sha256_ctx *ctx, uint8_t out[32]);

/* Hash data in one call and write 64 lowercase hex digits plus NUL to hex. */
void sha256_hex(const void *data, size_t len, char hex[65]);

#endif
