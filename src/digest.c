/* digest.c: SHA-256 through libcrypto's EVP interface (see digest.h).
 *
 * Files are hashed in 256 KiB reads; the digest is the one sha256sum
 * prints, so a user can check a recorded input by hand. A capture read by
 * libpcap is hashed on the way (merge.c's tap), and only what libpcap left
 * unread (after a damaged record, or an interrupted read) by digest_rest. */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "digest.h"

struct digest *digest_new(void)
{
	EVP_MD_CTX *c = EVP_MD_CTX_new();

	if (c && EVP_DigestInit_ex(c, EVP_sha256(), NULL) != 1) {
		EVP_MD_CTX_free(c);
		c = NULL;
	}
	return (struct digest *)c;
}

void digest_update(struct digest *d, const void *data, size_t len)
{
	EVP_DigestUpdate((EVP_MD_CTX *)d, data, len);
}

void digest_final_hex(struct digest *d, char hex[65])
{
	static const char digits[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	EVP_DigestFinal_ex((EVP_MD_CTX *)d, md, &n);
	EVP_MD_CTX_free((EVP_MD_CTX *)d);
	for (unsigned int i = 0; i < n && i < 32; i++) {
		hex[2 * i] = digits[md[i] >> 4];
		hex[2 * i + 1] = digits[md[i] & 15];
	}
	hex[n == 32 ? 64 : 0] = '\0';
}

void digest_free(struct digest *d)
{
	EVP_MD_CTX_free((EVP_MD_CTX *)d);
}

int digest_rest(struct digest *d, int fd, uint64_t *bytes, const volatile sig_atomic_t *stop)
{
	static unsigned char buf[256 * 1024];
	ssize_t r;

	while ((!stop || !*stop) && (r = read(fd, buf, sizeof(buf))) != 0) {
		if (r < 0 && errno == EINTR && stop)
			continue; /* the caller's stop flag decides; without one a signal stops */
		if (r < 0)
			return -1;
		digest_update(d, buf, (size_t)r);
		*bytes += (uint64_t)r;
	}
	if (stop && *stop) {
		errno = EINTR;
		return -1;
	}
	return 0;
}

int digest_file(const char *path, const volatile sig_atomic_t *stop, char hex[65], uint64_t *size,
                char *err, size_t errlen)
{
	struct digest *d;
	uint64_t bytes = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC), e;

	if (fd < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		errno = e;
		return -1;
	}
	d = digest_new();
	if (!d) {
		close(fd);
		snprintf(err, errlen, "%s: out of memory", path);
		errno = ENOMEM;
		return -1;
	}
	if (digest_rest(d, fd, &bytes, stop) < 0) {
		e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		digest_free(d);
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	digest_final_hex(d, hex);
	*size = bytes;
	return 0;
}
