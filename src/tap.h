/* tap.h: a capture input read once, through a stdio cookie that hashes
 * (SHA-256) every byte libpcap reads; private to merge.c.
 *
 * The taps of one read share a pool made once for them all (tap.c says
 * how: a hashing thread beside the packet thread when the inputs are few,
 * hashing inline when they are many). Only the packet thread calls these
 * functions; the pool's thread hashes, and reads ahead a regular file read
 * alone. */
#ifndef SMAUDIT_TAP_H
#define SMAUDIT_TAP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tap_pool;
struct tap;

/* The pool of a read of n inputs (buffers allocated once, the hashing
 * thread started); NULL when out of memory. */
struct tap_pool *tap_pool_new(size_t n);

/* Stop the pool's thread and free it; every tap's FILE must be closed
 * first. Safe with NULL. */
void tap_pool_free(struct tap_pool *p);

/* A FILE reading fd (owned by it from now on: fclose closes it, and stops
 * the tap) through a new tap of p, hashing what passes; *tp the tap.
 * NULL with errno when out of memory or when p has no buffer left (it
 * holds n); fd is then closed. */
FILE *tap_fopen(struct tap_pool *p, int fd, struct tap **tp);

/* The first bytes read (up to 8), to name a compressed stream. */
size_t tap_magic(const struct tap *t, const uint8_t **magic);

/* Bytes read from fd so far. */
uint64_t tap_bytes(const struct tap *t);

/* 1 when fd has been read to its end (a read returned 0) and libpcap has
 * been handed every byte (what the thread read ahead is not enough). */
int tap_eof(const struct tap *t);

/* 1 while t still hashes: not finished nor stopped. */
int tap_hashing(const struct tap *t);

/* Stop hashing (the caller takes the hash another way); waits for the
 * bytes t has handed to the thread. */
void tap_stop(struct tap *t);

/* Finish: once every byte read has been hashed (waits for the thread),
 * after hashing what is left of fd when rest is set (from its offset to
 * its end, stopping when stop (may be NULL) becomes non-zero), the hex
 * digest (64 digits) into hex and the bytes hashed into *size. Returns 0,
 * or -1 with errno (EINTR when stopped; t keeps hashing then). */
int tap_final(struct tap *t, int rest, const volatile sig_atomic_t *stop, char hex[65],
              uint64_t *size);

#endif
