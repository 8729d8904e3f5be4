/* tap.c: capture inputs read once through a stdio cookie and hashed on
 * the way (see tap.h).
 *
 * With few inputs (up to TAP_THREAD_MAX), the hashing runs on a thread of
 * its own, beside the packet thread: the cookie reads the file into a
 * chunk of a pool allocated once (inputs + TAP_SPARE chunks of up to
 * TAP_CHUNK_MAX bytes), queues the chunk for the hashing thread, and
 * copies it into libpcap's stdio buffer as libpcap asks for it. A chunk
 * is read into again only once the thread has hashed it and the cookie has
 * handed all of it out; the thread takes the queue in order, so each
 * input's bytes are hashed in file order, and the packet thread waits
 * only when the spare chunks are all waiting to be hashed. The copy costs
 * less than the hash it moves (a memcpy of a chunk still in the cache,
 * against SHA-256 at about 1.8 GB/s). The digest is final once the thread
 * has drained the input's chunks (tap_final waits for that).
 * A regular file read alone (the usual `read FILE`) is read ahead: the
 * thread itself reads its chunks (in file order, hashing each) into a
 * ready ring the cookie takes them from, so the kernel's copy of every
 * byte (0.08 s of the packet thread's 0.48 s on a 427 MiB capture) runs
 * off the packet thread. Before anything else reads the descriptor
 * (tap_final's rest, close) the read-ahead is halted; the cookie then
 * reads on itself as above; the end counts (tap_eof) once the cookie has
 * handed libpcap the last chunk, not when the thread's read returned 0.
 * Stdin redirected from a regular file is read ahead too (fstat says
 * regular). Pipes and several files at once are read by the cookie: a
 * read the packet thread makes can be interrupted by a signal, and with
 * many inputs the chunks would go to the inputs that are not read next.
 * With more inputs (a rotation of thousands of files), the chunks would be
 * too small to be worth a hand-over: the cookie reads straight into the
 * stdio buffer and hashes inline, as one thread. Either way, memory is
 * bounded whatever the number of inputs: TAP_MEM_TOTAL (at least
 * TAP_CHUNK_MIN per input), and with the thread TAP_STDIO_BUF per input. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <stdio_ext.h>
#include <sys/stat.h>

#include "digest.h"
#include "tap.h"

/* Buffers of all inputs together, shared out equally, each between
 * TAP_CHUNK_MIN (stdio's own size for a file) and TAP_CHUNK_MAX bytes
 * (fewer, larger reads: 1,712 instead of 109,500 for a 428 MiB file). */
#define TAP_MEM_TOTAL (16 * 1024 * 1024)
#define TAP_CHUNK_MAX (256 * 1024)
#define TAP_CHUNK_MIN (4 * 1024)
/* The hashing thread serves chunks of at least TAP_THREAD_CHUNK bytes (a
 * hand-over costs a few microseconds, hashing 64 KiB about 35), so at most
 * TAP_THREAD_MAX inputs; TAP_SPARE chunks beyond one per input let the
 * packet thread run ahead of the hashing by as many (2 MiB, about 5 ms of
 * packets, covers the thread's wait for a core: on the loaded 2-core
 * machine, reading sm100k, the packet thread waited for a chunk at 6-10
 * of 1,500 refills with DPI, 60-75 with --no-dpi, where the writer fills
 * the other core; with 4 spares, 90 and 160). */
#define TAP_SPARE        8
#define TAP_THREAD_CHUNK (64 * 1024)
#define TAP_THREAD_MAX   (TAP_MEM_TOTAL / TAP_THREAD_CHUNK - TAP_SPARE)
/* The thread is woken when TAP_WAKE chunks wait (or the packet thread
 * waits for it), not for each: fewer wake-ups, each hashing a batch. */
#define TAP_WAKE 4
/* The thread reading ahead is woken when TAP_AHEAD_WAKE chunks are idle
 * (or the cookie waits for one): with 4, on sm100k with DPI, the cookie
 * waited 30-36 times of 1,713 (0.05-0.06 s), with 2, 17-19 (0.02-0.03 s). */
#define TAP_AHEAD_WAKE 2
/* libpcap's stdio buffer when the cookie copies from chunks into it. */
#define TAP_STDIO_BUF (16 * 1024)

/* A chunk of the pool. Fields under the pool's mu, except data (written by
 * the packet thread while it alone holds the chunk: !queued). */
struct chunk {
	unsigned char *data;
	struct tap *tap; /* whose bytes it holds */
	size_t len;      /* bytes read into it */
	int queued;      /* waiting for the thread or being hashed */
	int served;      /* the cookie is handing it out */
};

struct tap_pool {
	pthread_mutex_t mu;
	pthread_cond_t work; /* the thread: a chunk was queued, or quit */
	pthread_cond_t done; /* the packet thread: a chunk was hashed */
	int threaded;        /* 0: every tap hashes inline */
	int started;         /* th runs */
	int quit;            /* under mu */
	pthread_t th;
	unsigned char *mem;   /* every buffer, one allocation */
	size_t bufsize;       /* of a stdio buffer */
	size_t chunksize;     /* of a chunk (threaded) */
	size_t n, used;       /* stdio buffers, and taken by taps */
	struct chunk *chunks; /* threaded: n + TAP_SPARE */
	size_t nchunks;
	struct chunk **free; /* idle chunks (a stack: the last one freed is warm) */
	size_t nfree;
	struct chunk **q; /* queued for the thread, oldest at q[qhead] */
	size_t qhead, qlen;
	struct tap *ahead; /* the one regular file the thread reads ahead, or NULL */
};

struct tap {
	struct tap_pool *pool;
	int fd;
	struct digest *d;  /* NULL once final or stopped */
	uint64_t bytes;    /* read from fd so far */
	int eof;           /* the cookie reached the end: libpcap has every byte */
	size_t pending;    /* chunks queued for the thread (pool's mu) */
	struct chunk *cur; /* threaded: the chunk being handed out, and how far */
	size_t pos;
	uint8_t magic[8]; /* the first bytes, to name a compressed stream */
	size_t nmagic;
	/* read ahead by the thread (pool's ahead; fields under the pool's mu):
	 * chunks read and hashed, in file order, for the cookie to take */
	struct chunk **ready;
	size_t rhead, rlen;
	int busy;       /* the thread is reading (and hashing) a chunk of t */
	int halted;     /* the thread reads no more of t: the cookie reads */
	int ended;      /* the thread's last read returned 0 (eof) or failed */
	int read_errno; /* that read's errno, 0 at eof */
};

/* ---- private ----------------------------------------------------------- */

/* 1 when the thread should read the next chunk of p's read-ahead tap:
 * one is idle, the tap is neither halted nor at its end. Under mu. */
static int ahead_wanted(const struct tap_pool *p)
{
	const struct tap *t = p->ahead;

	return t && !t->halted && !t->ended && p->nfree > 0;
}

/* Keep the first bytes of a stream, to name a compressed one. */
static void note_magic(struct tap *t, const void *buf, size_t len)
{
	const uint8_t *b = buf;

	for (size_t k = 0; k < len && t->nmagic < sizeof(t->magic); k++)
		t->magic[t->nmagic++] = b[k];
}

/* The thread, under mu: read the read-ahead tap's next chunk into an idle
 * one (mu released meanwhile), hash it, and queue it for the cookie; at
 * the end of the file or on an error, mark the tap ended. */
static void read_ahead(struct tap_pool *p)
{
	struct tap *t = p->ahead;
	struct chunk *c = p->free[--p->nfree];
	struct digest *d = t->d;
	ssize_t r;
	int e;

	c->tap = t;
	c->served = 1; /* held by the tap until the cookie has handed it out */
	t->busy = 1;
	pthread_mutex_unlock(&p->mu);
	r = read(t->fd, c->data, p->chunksize);
	e = errno;
	if (r > 0) {
		note_magic(t, c->data, (size_t)r);
		if (d)
			digest_update(d, c->data, (size_t)r);
	}
	pthread_mutex_lock(&p->mu);
	t->busy = 0;
	if (r > 0) {
		c->len = (size_t)r;
		t->bytes += (uint64_t)r;
		t->ready[(t->rhead + t->rlen++) % p->nchunks] = c;
	} else {
		c->served = 0;
		p->free[p->nfree++] = c;
		t->ended = 1; /* eof is the cookie's to set, once it has handed out the rest */
		t->read_errno = r < 0 ? e : 0;
	}
	pthread_cond_broadcast(&p->done);
}

/* The pool's thread: hash each queued chunk into its tap's digest, in
 * queue order, and between them read the read-ahead tap on, until told to
 * quit with nothing queued. */
static void *hasher(void *arg)
{
	struct tap_pool *p = arg;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		struct chunk *c;
		while (!p->qlen && !ahead_wanted(p) && !p->quit)
			pthread_cond_wait(&p->work, &p->mu);
		if (!p->qlen && ahead_wanted(p)) {
			read_ahead(p);
			continue;
		}
		if (!p->qlen)
			break;
		c = p->q[p->qhead];
		p->qhead = (p->qhead + 1) % p->nchunks;
		p->qlen--;
		pthread_mutex_unlock(&p->mu);
		digest_update(c->tap->d, c->data, c->len);
		pthread_mutex_lock(&p->mu);
		c->queued = 0;
		c->tap->pending--;
		if (!c->served)
			p->free[p->nfree++] = c;
		pthread_cond_broadcast(&p->done);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

/* Start p's thread with every signal blocked in it (signals stop the
 * packet thread's reads). 0, or -1 when it cannot be started. */
static int start_thread(struct tap_pool *p)
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->th, NULL, hasher, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc ? -1 : 0;
}

/* Cookie read, inline: read fd into buf, hash and count what passes. */
static ssize_t read_inline(struct tap *t, char *buf, size_t len)
{
	ssize_t r = read(t->fd, buf, len); /* EINTR returns: a signal stops the read */

	if (r > 0) {
		note_magic(t, buf, (size_t)r);
		if (t->d)
			digest_update(t->d, buf, (size_t)r);
		t->bytes += (uint64_t)r;
	}
	t->eof = r == 0;
	return r;
}

/* Give back t's current chunk, if any, to the idle ones (it is idle at
 * once unless still queued for hashing). Under mu. */
static void give_back(struct tap *t)
{
	struct tap_pool *p = t->pool;

	if (!t->cur)
		return;
	t->cur->served = 0;
	if (!t->cur->queued)
		p->free[p->nfree++] = t->cur;
	t->cur = NULL;
}

/* Give back t's current chunk (it is idle once hashed) and take an idle
 * one, waiting for the thread when none is. */
static struct chunk *swap_chunk(struct tap *t)
{
	struct tap_pool *p = t->pool;
	struct chunk *c;

	pthread_mutex_lock(&p->mu);
	give_back(t);
	while (!p->nfree) {
		pthread_cond_signal(&p->work); /* the queue may wait for a batch */
		pthread_cond_wait(&p->done, &p->mu);
	}
	c = p->free[--p->nfree];
	c->served = 1;
	c->tap = t;
	c->len = 0;
	pthread_mutex_unlock(&p->mu);
	return c;
}

/* Read fd's next bytes into a fresh chunk and queue them for hashing.
 * Returns read's result. */
static ssize_t refill(struct tap *t)
{
	struct tap_pool *p = t->pool;
	struct chunk *c = swap_chunk(t);
	ssize_t r = read(t->fd, c->data, p->chunksize); /* EINTR returns, as inline */

	t->cur = c;
	t->pos = 0;
	t->eof = r == 0;
	if (r <= 0)
		return r;
	note_magic(t, c->data, (size_t)r);
	t->bytes += (uint64_t)r;
	c->len = (size_t)r;
	if (!t->d)
		return r;
	pthread_mutex_lock(&p->mu);
	c->queued = 1;
	t->pending++;
	p->q[(p->qhead + p->qlen++) % p->nchunks] = c;
	if (p->qlen >= TAP_WAKE)
		pthread_cond_signal(&p->work);
	pthread_mutex_unlock(&p->mu);
	return r;
}

/* Make the read-ahead tap's next chunk, in file order, t's current one,
 * waiting for the thread to read it: 2 when it did, 0 at the end of the
 * file, -1 with errno on a read error, 1 when the thread was halted with
 * none ready (the cookie reads on itself: refill). */
static int next_ahead(struct tap *t)
{
	struct tap_pool *p = t->pool;
	int rc = 1;

	pthread_mutex_lock(&p->mu);
	give_back(t);
	if (p->nfree >= TAP_AHEAD_WAKE || !t->rlen)
		pthread_cond_signal(&p->work);
	while (!t->rlen && !t->ended && !t->halted)
		pthread_cond_wait(&p->done, &p->mu);
	if (t->rlen) {
		t->cur = t->ready[t->rhead];
		t->rhead = (t->rhead + 1) % p->nchunks;
		t->rlen--;
		t->pos = 0;
		rc = 2;
	} else if (t->ended) {
		errno = t->read_errno;
		rc = t->read_errno ? -1 : 0;
		t->eof = rc == 0;
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

/* Cookie read: hand libpcap the next bytes of the current chunk, taking
 * the next one when it is used up: read ahead by the thread, or read here
 * (one read of fd per call at most). */
static ssize_t tap_read(void *cookie, char *buf, size_t len)
{
	struct tap *t = cookie;
	size_t n;

	if (!t->pool->threaded)
		return read_inline(t, buf, len);
	if (!t->cur || t->pos == t->cur->len) {
		int a = t->ready ? next_ahead(t) : 1;
		if (a <= 0)
			return a;
		if (a == 1) {
			ssize_t r = refill(t);
			if (r <= 0)
				return r;
		}
	}
	n = t->cur->len - t->pos < len ? t->cur->len - t->pos : len;
	memcpy(buf, t->cur->data + t->pos, n);
	t->pos += n;
	return (ssize_t)n;
}

/* Stop the thread reading ahead of t (the cookie reads on itself, and
 * nothing else reads fd meanwhile): waits for a read in progress. */
static void halt_ahead(struct tap *t)
{
	struct tap_pool *p = t->pool;

	if (!t->ready)
		return;
	pthread_mutex_lock(&p->mu);
	t->halted = 1;
	while (t->busy)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

/* Wait until the thread has hashed every chunk of t. */
static void drain(struct tap *t)
{
	struct tap_pool *p = t->pool;

	if (!p->threaded)
		return;
	pthread_mutex_lock(&p->mu);
	while (t->pending) {
		pthread_cond_signal(&p->work);
		pthread_cond_wait(&p->done, &p->mu);
	}
	pthread_mutex_unlock(&p->mu);
}

/* Cookie close: wait for t's chunks, give its chunk back, close fd
 * (stdin too: nothing reads it after). */
static int tap_close(void *cookie)
{
	struct tap *t = cookie;
	struct tap_pool *p = t->pool;

	halt_ahead(t);
	drain(t);
	pthread_mutex_lock(&p->mu);
	give_back(t); /* drained: not queued */
	for (; t->rlen; t->rlen--, t->rhead = (t->rhead + 1) % p->nchunks) {
		t->ready[t->rhead]->served = 0;
		p->free[p->nfree++] = t->ready[t->rhead];
	}
	if (p->ahead == t)
		p->ahead = NULL;
	pthread_mutex_unlock(&p->mu);
	close(t->fd);
	digest_free(t->d);
	free(t->ready);
	free(t);
	return 0;
}

/* Size p's buffers for n inputs, and whether a thread hashes. */
static void size_pool(struct tap_pool *p, size_t n)
{
	size_t share = TAP_MEM_TOTAL / (n + TAP_SPARE);

	share = share > TAP_CHUNK_MAX ? TAP_CHUNK_MAX : share;
	p->n = n;
	p->threaded = n <= TAP_THREAD_MAX && share >= TAP_THREAD_CHUNK;
	if (p->threaded) {
		p->chunksize = share;
		p->nchunks = n + TAP_SPARE;
		p->bufsize = TAP_STDIO_BUF;
		return;
	}
	share = TAP_MEM_TOTAL / n;
	p->bufsize = share > TAP_CHUNK_MAX   ? TAP_CHUNK_MAX
	             : share < TAP_CHUNK_MIN ? TAP_CHUNK_MIN
	                                     : share;
}

/* Allocate p's buffers and chunk lists. 0, or -1 when out of memory. */
static int alloc_pool(struct tap_pool *p)
{
	size_t nc = p->nchunks;

	p->mem = malloc(p->n * p->bufsize + nc * p->chunksize);
	p->chunks = calloc(nc ? nc : 1, sizeof(*p->chunks));
	p->free = calloc(nc ? nc : 1, sizeof(*p->free));
	p->q = calloc(nc ? nc : 1, sizeof(*p->q));
	if (!p->mem || !p->chunks || !p->free || !p->q)
		return -1;
	for (size_t i = 0; i < nc; i++) {
		p->chunks[i].data = p->mem + p->n * p->bufsize + i * p->chunksize;
		p->free[p->nfree++] = &p->chunks[nc - 1 - i];
	}
	return 0;
}

/* ---- API --------------------------------------------------------------- */

struct tap_pool *tap_pool_new(size_t n)
{
	struct tap_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	size_pool(p, n ? n : 1);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_cond_init(&p->done, NULL);
	if (alloc_pool(p) < 0) {
		tap_pool_free(p);
		return NULL;
	}
	if (p->threaded && start_thread(p) < 0)
		p->threaded = 0; /* no thread: each tap hashes inline, in the same buffers */
	p->started = p->threaded;
	return p;
}

void tap_pool_free(struct tap_pool *p)
{
	if (!p)
		return;
	if (p->started) {
		pthread_mutex_lock(&p->mu);
		p->quit = 1;
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
		pthread_join(p->th, NULL);
	}
	pthread_cond_destroy(&p->work);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p->mem);
	free(p->chunks);
	free(p->free);
	free(p->q);
	free(p);
}

FILE *tap_fopen(struct tap_pool *p, int fd, struct tap **tp)
{
	static const cookie_io_functions_t io = {.read = tap_read, .close = tap_close};
	struct tap *t = p->used < p->n ? calloc(1, sizeof(*t)) : NULL;
	struct stat sb;
	FILE *f;

	if (!t || !(t->d = digest_new())) {
		free(t);
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	t->pool = p;
	t->fd = fd;
	f = fopencookie(t, "r", io);
	if (!f) {
		tap_close(t);
		return NULL;
	}
	setvbuf(f, (char *)p->mem + p->used++ * p->bufsize, _IOFBF, p->bufsize);
	__fsetlocking(f, FSETLOCKING_BYCALLER);
	if (p->threaded && p->n == 1 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) &&
	    (t->ready = calloc(p->nchunks, sizeof(*t->ready)))) {
		pthread_mutex_lock(&p->mu);
		p->ahead = t; /* the thread starts reading at once */
		pthread_cond_signal(&p->work);
		pthread_mutex_unlock(&p->mu);
	}
	*tp = t;
	return f;
}

size_t tap_magic(const struct tap *t, const uint8_t **magic)
{
	*magic = t->magic;
	return t->nmagic;
}

uint64_t tap_bytes(const struct tap *t)
{
	uint64_t n;

	pthread_mutex_lock(&t->pool->mu); /* the thread counts what it reads ahead */
	n = t->bytes;
	pthread_mutex_unlock(&t->pool->mu);
	return n;
}

int tap_eof(const struct tap *t)
{
	return t->eof; /* set by the cookie only, on the packet thread */
}

int tap_hashing(const struct tap *t)
{
	return t->d != NULL;
}

void tap_stop(struct tap *t)
{
	struct digest *d;

	drain(t);
	pthread_mutex_lock(&t->pool->mu);
	while (t->busy) /* the thread hashes what it reads ahead: not after this */
		pthread_cond_wait(&t->pool->done, &t->pool->mu);
	d = t->d;
	t->d = NULL;
	pthread_mutex_unlock(&t->pool->mu);
	digest_free(d);
}

int tap_final(struct tap *t, int rest, const volatile sig_atomic_t *stop, char hex[65],
              uint64_t *size)
{
	halt_ahead(t); /* fd is read here now, from where the thread stopped */
	drain(t);
	if (rest && digest_rest(t->d, t->fd, &t->bytes, stop) < 0)
		return -1;
	digest_final_hex(t->d, hex);
	t->d = NULL;
	*size = t->bytes;
	return 0;
}
