/* merge.h: the capture files of one `read`, read as one stream in packet
 * time order, as mergecap merges them.
 *
 * Every input is opened (and its first packet read) before anything is
 * written, so a bad file, pipe or device is refused up front. Then the
 * input whose next packet is earliest gives the next packet; ties go to
 * the input whose name comes first in natural order (cap2 before cap10). Each input keeps what the
 * run records of it: its SHA-256 (taken as it is read, so each file is read once, by a
 * hashing thread when the inputs are few), size, packet count and first/last packet times. */
#ifndef SMAUDIT_MERGE_H
#define SMAUDIT_MERGE_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include <pcap/pcap.h>

struct merge_input {
	const char *path;  /* as given ("-" = stdin) */
	const char *name;  /* as shown: the path, or "stdin" */
	int stream;        /* stdin, a pipe or a device: read once, hashed as read */
	int dlt;           /* link type */
	int skip;          /* set by the caller before the first merge_next: not read */
	int ended;         /* read to its end or to a read error */
	uint64_t size;     /* bytes: regular files at open, then as hashed; streams as read */
	uint64_t packets;  /* packets returned so far */
	uint64_t first_us; /* time of the first packet returned (0: none) */
	uint64_t last_us;  /* time of the last packet returned */
	char sha256[65];   /* "" until merge_hash_file or merge_finish_hashes */
};

struct merge;

/* Open every input of paths[0..n-1] (at most one "-") with the BPF filter
 * and read each one's first packet. NULL with err naming the input when
 * one cannot be read as a capture; *interrupted is set when a signal
 * stopped the opening (a blocked pipe). */
struct merge *merge_open(char *const *paths, size_t n, const char *filter, int *interrupted,
                         char *err, size_t errlen);

/* Hash regular file i now (sha256, size), reading it once more, for a
 * caller that needs its hash before reading it (--skip-seen), stopping
 * when stop (may be NULL) becomes non-zero; every other input is hashed as
 * libpcap reads it, and so is this one when its hash here fails or stops.
 * Returns 0 (also for a stream or an input already hashed), or -1 with
 * errno (EINTR when stopped) and err ("FILE: why"). */
int merge_hash_file(struct merge *m, size_t i, const volatile sig_atomic_t *stop, char *err,
                    size_t errlen);

/* After reading: finish each input's sha256 and size, once the hashing
 * thread has hashed every byte read, after hashing what libpcap left
 * unread of each regular file not skipped that it stopped short of (a
 * damaged record, an interrupted read), so its sha256 is the whole
 * file's; stops when *stop (may be NULL) becomes non-zero, leaving those
 * hashes empty. A stream's hash is known only when it was read to its
 * end. Returns 0, or -1 with err naming the first file that could not be
 * read. */
int merge_finish_hashes(struct merge *m, const volatile sig_atomic_t *stop, char *err,
                        size_t errlen);

/* The earliest next packet of the inputs not skipped: 1 with *in (its
 * input's index), *h and *d (valid until the next call); 0 when every
 * input has ended; -1 when input *in ended on a read error (err names it
 * and the packet; the packets before it were returned); -3 when input *in
 * cannot be read at all (err says why and what to do). */
int merge_next(struct merge *m, size_t *in, const struct pcap_pkthdr **h, const uint8_t **d,
               char *err, size_t errlen);

/* Number of inputs, and input i (owned by m). */
size_t merge_count(const struct merge *m);
struct merge_input *merge_input(struct merge *m, size_t i);

/* Share of the regular files' bytes read so far, 0..1; -1 for streams only. */
double merge_progress(const struct merge *m);

/* 1 with *j set when input i's packet times overlap those of an input j
 * that started earlier (or at the same time and is named first). */
int merge_overlap(const struct merge *m, size_t i, size_t *j);

/* Close every input; safe with NULL. */
void merge_close(struct merge *m);

#endif
