/* merge.c: several capture files read as one, in packet time order (see
 * merge.h).
 *
 * Each input holds its next packet (the head); the inputs with a head sit
 * in a binary heap on (head time, name rank), so a rotation of thousands
 * of files costs log n per packet. merge_next returns the root's packet;
 * libpcap keeps its bytes valid until that input is read again, so
 * nothing is copied: the input that gave a packet reads its next one on
 * the next call and sinks to its place. Packets of the same instant in two
 * files go in the natural order of the file names (cap2 before cap10, as
 * rotation names them), whatever order they were given in. A read error
 * keeps the time of the input's last packet and is reported when reached.
 * Every input is read through a stdio cookie (tap.c) that hashes the
 * bytes libpcap reads, so each file is read once, in large reads, and
 * hashed off the packet thread when the inputs are few: its SHA-256 and
 * size are final in merge_finish_hashes, which also hashes what libpcap
 * left unread of a regular file it stopped short of (a damaged record, an
 * interrupted read); a file whose hash is needed before reading
 * (--skip-seen) is hashed up front by merge_hash_file instead. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/resource.h>
#include <sys/stat.h>

#include "digest.h"
#include "smaudit/capture.h"
#include "smaudit/merge.h"
#include "tap.h"

struct src {
	struct merge_input in;
	struct capture *cap;
	struct tap *tap; /* freed when the capture closes */
	int state;       /* 1 a head is held, 0 ended, -1/-3 a pending error */
	const struct pcap_pkthdr *h;
	const uint8_t *d;
	uint64_t head_us;
	size_t rank;    /* place of its name in natural order: breaks ties in time */
	char err[1024]; /* the pending error */
};

struct merge {
	struct src *s;
	struct tap_pool *pool; /* the taps' buffers and hashing thread */
	size_t n;
	struct src **heap; /* inputs with a head or a pending error, earliest at [0] */
	size_t nheap;
	int built;         /* the heap is made at the first merge_next (after skips) */
	struct src *given; /* gave the last packet: read its next one on the next call */
};

/* ---- private ----------------------------------------------------------- */

/* 1 if path is read as a stream (stdin, a named pipe, a device). */
static int is_stream(const char *path)
{
	struct stat sb;

	if (!strcmp(path, "-"))
		return 1;
	return stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode);
}

/* Open s->in.path's descriptor: stdin, or the path (a regular file must
 * be neither a directory nor empty; its size is noted). -1 with err. */
static int open_fd(struct src *s, char *err, size_t errlen)
{
	struct stat sb;
	int fd = strcmp(s->in.path, "-") ? open(s->in.path, O_RDONLY | O_CLOEXEC) : 0;

	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", s->in.path, strerror(errno));
		return -1;
	}
	if (s->in.stream)
		return fd;
	if (fstat(fd, &sb) < 0)
		snprintf(err, errlen, "%s: %s", s->in.path, strerror(errno));
	else if (S_ISDIR(sb.st_mode))
		snprintf(err, errlen, "%s: is a directory, not a capture file", s->in.path);
	else if (!sb.st_size)
		snprintf(err, errlen, "%s: empty file (0 bytes), not a capture", s->in.path);
	else {
		s->in.size = (uint64_t)sb.st_size;
		return fd;
	}
	close(fd);
	return -1;
}

/* Open input s through a tap of pool. */
static int open_input(struct src *s, struct tap_pool *pool, const char *filter, char *err,
                      size_t errlen)
{
	int fd = open_fd(s, err, errlen);
	const uint8_t *magic;
	char why[512];
	FILE *f;

	if (fd < 0)
		return -1;
	f = tap_fopen(pool, fd, &s->tap);
	if (!f) {
		snprintf(err, errlen, "%s: %s", s->in.name, strerror(errno));
		return -1;
	}
	s->cap = capture_open_stream(f, s->in.name, err, errlen);
	if (!s->cap) {
		size_t nmagic = tap_magic(s->tap, &magic);
		capture_compressed_error(s->in.name, magic, nmagic, err, errlen);
		fclose(f); /* closes the tap */
		s->tap = NULL;
		return -1;
	}
	/* libpcap has f now: a filter it refuses closes f with the capture
	 * (closing f here as well freed the tap twice) */
	if (capture_set_filter(s->cap, filter, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", s->in.name, why); /* the link type may decide */
		capture_close(s->cap);                            /* closes f and the tap */
		s->cap = NULL;
		s->tap = NULL;
		return -1;
	}
	return 0;
}

/* Read s's next packet into its head. */
static void advance(struct src *s)
{
	int r = capture_next(s->cap, &s->h, &s->d, s->err, sizeof(s->err));

	if (r == 1) {
		s->head_us = (uint64_t)s->h->ts.tv_sec * 1000000 + (uint64_t)s->h->ts.tv_usec;
		s->state = 1;
		return;
	}
	s->state = r == 0 ? 0 : r == -3 ? -3 : -1;
}

/* 1 if a's next packet goes before b's. */
static int before(const struct src *a, const struct src *b)
{
	return a->head_us < b->head_us || (a->head_us == b->head_us && a->rank < b->rank);
}

/* Move heap[i] down to its place. */
static void sink(struct merge *m, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, min = i;
		struct src *t;
		if (l < m->nheap && before(m->heap[l], m->heap[min]))
			min = l;
		if (r < m->nheap && before(m->heap[r], m->heap[min]))
			min = r;
		if (min == i)
			return;
		t = m->heap[i];
		m->heap[i] = m->heap[min];
		m->heap[min] = t;
		i = min;
	}
}

/* Remove the root: its input has ended. */
static void pop(struct merge *m)
{
	m->heap[0]->in.ended = 1;
	m->heap[0] = m->heap[--m->nheap];
	sink(m, 0);
}

/* Put every input not skipped that holds a head or an error in the heap;
 * an input empty from the start has ended. */
static void build_heap(struct merge *m)
{
	m->built = 1;
	for (size_t i = 0; i < m->n; i++) {
		struct src *s = &m->s[i];
		if (s->in.skip)
			continue;
		if (s->state == 0)
			s->in.ended = 1;
		else
			m->heap[m->nheap++] = s;
	}
	for (size_t i = m->nheap / 2; i-- > 0;)
		sink(m, i);
}

/* qsort: two inputs by the natural order of their names, then as given. */
static int by_name(const void *a, const void *b)
{
	const struct src *x = *(const struct src *const *)a, *y = *(const struct src *const *)b;
	int c = strverscmp(x->in.path, y->in.path);

	return c ? c : x < y ? -1 : x > y;
}

/* Set each input's rank: its place in the natural order of the names. */
static int rank_names(struct src *s, size_t n)
{
	struct src **order = malloc((n ? n : 1) * sizeof(*order));

	if (!order)
		return -1;
	for (size_t i = 0; i < n; i++)
		order[i] = &s[i];
	qsort(order, n, sizeof(*order), by_name);
	for (size_t i = 0; i < n; i++)
		order[i]->rank = i;
	free(order);
	return 0;
}

/* Let n inputs be open at once (tcpdump's rotation makes thousands): raise
 * the soft limit on open files toward the hard one. Returns the limit. */
static rlim_t room_for(size_t n)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < n + 64) {
		rl.rlim_cur =
		    rl.rlim_max == RLIM_INFINITY || rl.rlim_max > n + 64 ? n + 64 : rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
	}
	return rl.rlim_cur;
}

/* ---- API --------------------------------------------------------------- */

struct merge *merge_open(char *const *paths, size_t n, const char *filter, int *interrupted,
                         char *err, size_t errlen)
{
	struct merge *m = calloc(1, sizeof(*m));

	*interrupted = 0;
	if (!m || !(m->s = calloc(n ? n : 1, sizeof(*m->s))) ||
	    !(m->heap = calloc(n ? n : 1, sizeof(*m->heap))) || !(m->pool = tap_pool_new(n))) {
		if (m) {
			free(m->s);
			free(m->heap);
		}
		free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	m->n = n;
	room_for(n);
	for (size_t i = 0; i < n; i++) {
		struct src *s = &m->s[i];
		s->in.path = paths[i];
		s->in.name = strcmp(paths[i], "-") ? paths[i] : "stdin";
		s->in.stream = is_stream(paths[i]);
		if (!strcmp(paths[i], "-") && n > 1) {
			snprintf(err, errlen, "'-' (stdin) must be the only file");
			goto fail;
		}
		errno = 0; /* only what the opening sets: EINTR, EMFILE */
		if (open_input(s, m->pool, filter, err, errlen) < 0) {
			*interrupted = errno == EINTR;
			if (errno == EMFILE)
				snprintf(err, errlen,
				         "%s: cannot open %zu files at once (the limit on open "
				         "files is %llu): merge them first with mergecap, or raise "
				         "ulimit -n",
				         s->in.name, n, (unsigned long long)room_for(n));
			goto fail;
		}
		s->in.dlt = capture_datalink(s->cap);
		advance(s);
		if (s->state == -3) { /* unreadable as a whole: refuse it now */
			snprintf(err, errlen, "%s", s->err);
			goto fail;
		}
	}
	if (rank_names(m->s, n) < 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	return m;
fail:
	merge_close(m);
	return NULL;
}

int merge_hash_file(struct merge *m, size_t i, const volatile sig_atomic_t *stop, char *err,
                    size_t errlen)
{
	struct src *s = &m->s[i];

	if (s->in.stream || !tap_hashing(s->tap))
		return 0;
	/* the tap hashes on until this hash is whole: stopped or failed, the
	 * input is still hashed as it is read (and its rest after the run) */
	if (digest_file(s->in.path, stop, s->in.sha256, &s->in.size, err, errlen) < 0)
		return -1;
	tap_stop(s->tap);
	return 0;
}

int merge_finish_hashes(struct merge *m, const volatile sig_atomic_t *stop, char *err,
                        size_t errlen)
{
	int rc = 0;

	for (size_t i = 0; i < m->n; i++) {
		struct src *s = &m->s[i];
		int eof = tap_eof(s->tap);
		if (s->in.skip || !tap_hashing(s->tap) || (s->in.stream && !eof))
			continue; /* a stream cannot be read on: its hash stays unknown */
		if (tap_final(s->tap, !eof, stop, s->in.sha256, &s->in.size) < 0) {
			if (!rc && errno != EINTR)
				snprintf(err, errlen, "%s: %s", s->in.name, strerror(errno));
			rc = errno == EINTR ? rc : -1;
		}
	}
	return rc;
}

int merge_next(struct merge *m, size_t *in, const struct pcap_pkthdr **h, const uint8_t **d,
               char *err, size_t errlen)
{
	struct src *top;

	if (!m->built)
		build_heap(m);
	if (m->given) { /* its head was handed out: libpcap's buffer is free again */
		advance(m->given);
		if (m->given->state == 0)
			pop(m);
		else
			sink(m, 0);
		m->given = NULL;
	}
	if (!m->nheap)
		return 0;
	top = m->heap[0];
	*in = (size_t)(top - m->s);
	if (top->state < 0) {
		pop(m);
		snprintf(err, errlen, "%s", top->err);
		return top->state;
	}
	*h = top->h;
	*d = top->d;
	if (!top->in.packets++)
		top->in.first_us = top->head_us;
	top->in.last_us = top->head_us;
	m->given = top;
	return 1;
}

size_t merge_count(const struct merge *m)
{
	return m->n;
}

struct merge_input *merge_input(struct merge *m, size_t i)
{
	return &m->s[i].in;
}

double merge_progress(const struct merge *m)
{
	double done = 0, total = 0;

	for (size_t i = 0; i < m->n; i++) {
		const struct src *s = &m->s[i];
		double f =
		    s->in.ended || s->in.skip ? (double)s->in.size : (double)tap_bytes(s->tap);
		if (s->in.stream)
			continue;
		done += f;
		total += (double)s->in.size;
	}
	return total > 0 ? done / total : -1;
}

int merge_overlap(const struct merge *m, size_t i, size_t *j)
{
	const struct merge_input *a = &m->s[i].in;

	if (a->skip || !a->packets)
		return 0;
	for (size_t k = 0; k < m->n; k++) {
		const struct merge_input *b = &m->s[k].in;
		if (k == i || b->skip || !b->packets)
			continue;
		if (b->first_us > a->first_us || (b->first_us == a->first_us && k > i))
			continue;               /* b started later: it reports the pair */
		if (a->first_us < b->last_us) { /* sharing a boundary instant is not overlapping */
			*j = k;
			return 1;
		}
	}
	return 0;
}

void merge_close(struct merge *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		capture_close(m->s[i].cap); /* its tap goes with it */
	tap_pool_free(m->pool);
	free(m->heap);
	free(m->s);
	free(m);
}
