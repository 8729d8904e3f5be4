/* digest.h: SHA-256 of the capture files a run reads (libcrypto's EVP).
 *
 * Every hash smaudit takes of its inputs goes through these few functions,
 * so the library behind them can change in one place. Not for hot paths. */
#ifndef SMAUDIT_DIGEST_H
#define SMAUDIT_DIGEST_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct digest;

/* A new SHA-256 in progress; NULL when out of memory. */
struct digest *digest_new(void);

/* Hash len more bytes. */
void digest_update(struct digest *d, const void *data, size_t len);

/* Finish: 64 lowercase hex digits and a NUL into hex; d is freed. */
void digest_final_hex(struct digest *d, char hex[65]);

/* Free d without finishing; safe with NULL. */
void digest_free(struct digest *d);

/* Hash what is left of fd, from its offset to its end, adding the bytes
 * read to *bytes; stops early when stop (may be NULL) becomes non-zero,
 * checked before each read (a read a signal interrupts is retried while
 * *stop is 0). Without stop only a read that fails with EINTR stops it,
 * and a regular file's read never does: give stop to let a signal in.
 * Returns 0, or -1 with errno (EINTR when stopped). */
int digest_rest(struct digest *d, int fd, uint64_t *bytes, const volatile sig_atomic_t *stop);

/* SHA-256 and size of the whole file at path, stopping early when stop
 * (may be NULL) becomes non-zero. Returns 0, or -1 with errno and err
 * ("PATH: why"); hex and *size are left as they were on failure. */
int digest_file(const char *path, const volatile sig_atomic_t *stop, char hex[65], uint64_t *size,
                char *err, size_t errlen);

#endif
