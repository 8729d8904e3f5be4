/* capture.h: packet sources: capture files (pcap, pcapng), stdin, interfaces.
 *
 * Wraps libpcap: opening, the BPF filter, the next packet with its number,
 * and pcap_stats for live captures. Knows
 * nothing of flows or SQL. */
#ifndef SMAUDIT_CAPTURE_H
#define SMAUDIT_CAPTURE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <pcap/pcap.h>

struct capture;

/* Open a capture file ("-" = stdin) and apply filter (NULL = none).
 * NULL with err ("FILE: why") on failure. */
struct capture *capture_open_file(const char *path, const char *filter, char *err, size_t errlen);

/* Open a capture read from f (a file, pipe or stdin the caller opened,
 * read once, e.g. through a hashing cookie); name is how errors name it.
 * Takes f on success; on failure the caller still owns it. NULL with err
 * on failure. The filter is set apart (capture_set_filter): once libpcap
 * has f, only closing the capture closes f. */
struct capture *capture_open_stream(FILE *f, const char *name, char *err, size_t errlen);

/* Apply filter (NULL or "" = none) to c. 0, or -1 with err; c stays open. */
int capture_set_filter(struct capture *c, const char *filter, char *err, size_t errlen);

/* 1 with err naming the format and the command that decompresses it when
 * a capture named name starts with magic[0..n-1] of a compressed file
 * (gzip, bzip2, xz, zstd); 0 otherwise. */
int capture_compressed_error(const char *name, const uint8_t *magic, size_t n, char *err,
                             size_t errlen);

/* Block timeout of a live capture: the longest a packet waits in the ring
 * before the packet thread sees it (so alerts are out well within a second). */
#define CAPTURE_BLOCK_TIMEOUT_MS 100

/* Open a live interface (promiscuous off, buffered TPACKET_V3 mode) with
 * snaplen bytes per packet (<= 0: 65535), a ring of buffer_mib MiB (<= 0:
 * 256) and filter. NULL with err on failure. */
struct capture *capture_open_live(const char *iface, const char *filter, int snaplen,
                                  int buffer_mib, char *err, size_t errlen);

/* Close a live capture's handle and open it again by name (the interface
 * came back after it disappeared); drops counted so far are kept. Returns
 * 0, or -1 with err (no handle open: capture_next fails until it works). */
int capture_reopen(struct capture *c, char *err, size_t errlen);

/* State of a live capture's interface: 1 up and running, 0 down, -1 gone. */
int capture_link_state(const struct capture *c);

/* Next packet: 1 with *hdr and *data set (valid until the next call), 0 at the
 * end, -2 when a live read timed out with nothing, -1 on a read error (err
 * names the packet number: "FILE: packet 57: truncated dump file ..."), -3
 * when the file cannot be read at all (a pcapng file mixing link types;
 * err says how to split it). */
int capture_next(struct capture *c, const struct pcap_pkthdr **hdr, const uint8_t **data, char *err,
                 size_t errlen);

/* Link type (DLT_*) of the source. */
int capture_datalink(const struct capture *c);

/* Number of the last packet returned, from 1. */
uint64_t capture_pkt_no(const struct capture *c);

/* Packets dropped by the kernel or interface (live only; 0 for files). */
uint64_t capture_dropped(struct capture *c);

/* Ask a blocking live read to return (safe from a signal handler). */
void capture_breakloop(struct capture *c);

/* Close and free; safe with NULL. */
void capture_close(struct capture *c);

#endif
