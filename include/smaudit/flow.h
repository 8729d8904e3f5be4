/* flow.h: the flow table: bidirectional flows keyed on the 5-tuple.
 *
 * A flow is created by its first packet from a fixed pool (no malloc per
 * packet), gets an originator as Zeek decides one (a mid-stream TCP flow
 * with no service port: the side on an ephemeral port; record.h's orient
 * says how), counts packets, IP bytes and payload bytes per direction,
 * follows TCP state into Zeek's conn_state and history (content gaps
 * included, with their bytes as missed_bytes), and
 * ends on close, idle timeout, eviction (table full: least recently seen
 * first) or flush. An ended flow is handed to the end callback, which must
 * copy what it needs: the slot is reused when the callback returns.
 * Time is packet time only. */
#ifndef SMAUDIT_FLOW_H
#define SMAUDIT_FLOW_H

#include <stdint.h>

#include "smaudit/addr.h"
#include "smaudit/decode.h"
#include "smaudit/record.h"

struct flow; /* a live flow: record plus tracker state (private) */

struct flow_cfg {
	uint32_t max_flows;       /* table bound; 0 = default 1,000,000 */
	uint64_t tcp_timeout_us;  /* idle timeout for TCP; 0 = 5 min */
	uint64_t udp_timeout_us;  /* idle timeout for UDP; 0 = 1 min */
	uint64_t icmp_timeout_us; /* idle timeout for ICMP and others; 0 = 1 min */
	uint64_t close_delay_us;  /* after FIN both ways or RST; 0 = 5 s */
	/* Service ports (bit per port, 8192 bytes each) used to orient flows
	 * picked up mid-stream; NULL = well-known range (< 1024) only. */
	const uint8_t *svc_tcp, *svc_udp;
	uint64_t uid_seed; /* keys uid generation; 0 = random at start */
};

/* Called for each ended flow; rec is valid until it returns. */
typedef void (*flow_end_fn)(void *ctx, struct flow *f);

struct flow_table;

struct flow_stats {
	uint64_t created, ended, evicted, timed_out, closed;
	uint32_t active, peak;
	uint64_t frags_orphan; /* later fragments with no flow to attach to */
	uint32_t buckets;      /* hash buckets now: grown with the open flows */
};

/* New table for cfg (copied); NULL on allocation failure. The pool of
 * max_flows records is allocated here, once. */
struct flow_table *flow_table_new(const struct flow_cfg *cfg, flow_end_fn on_end, void *ctx);

/* Free the table; flows still open are NOT reported (call flow_flush first). */
void flow_table_free(struct flow_table *t);

/* Account one decoded IP packet. Returns its flow (creating it if new, with
 * *is_new = 1) and *from_orig = 1 if the packet came from the originator;
 * NULL when the packet belongs to no flow (orphan later fragment). May end
 * other flows (eviction) through the callback before returning. */
struct flow *flow_track(struct flow_table *t, const struct pkt *p, int *is_new, int *from_orig);

/* The key hash of p's flow for flow_track_hashed and flow_prefetch (0 for
 * a later fragment, which is found through its first). */
uint32_t flow_hash(const struct flow_table *t, const struct pkt *p);

/* flow_track with h = flow_hash(t, p), computed ahead. */
struct flow *flow_track_hashed(struct flow_table *t, const struct pkt *p, uint32_t h, int *is_new,
                               int *from_orig);

/* A hint, nothing changes: stage 0 prefetches the bucket of hash h, stage
 * 1 (the bucket read by now) the first lines of the flow at its head. A
 * reader that knows its next packets calls both a few packets ahead, so
 * their cache misses overlap the work on the packets before. */
void flow_prefetch(const struct flow_table *t, uint32_t h, int stage);

/* End every flow idle at now_us, or closed and past its close delay.
 * Bounded work per call is not promised: call it about once a second of
 * packet time. */
void flow_expire(struct flow_table *t, uint64_t now_us);

/* End every open flow with reason (END_CAPTURE_END, END_SHUTDOWN). */
void flow_flush(struct flow_table *t, enum flow_end reason);

/* Call fn for every open flow, least recently seen first; nothing ends. */
void flow_foreach(struct flow_table *t, void (*fn)(void *ctx, struct flow *f), void *ctx);

/* Fill out with f's record as it would be if the flow ended now (sizes,
 * conn_state), with end_reason END_CHECKPOINT; f itself is unchanged. */
void flow_snapshot(const struct flow *f, struct flow_record *out);

/* The flow's record (conn_state/history are final only in the end callback). */
struct flow_record *flow_rec(struct flow *f);

/* 1 when neither side of f will send more data: a TCP flow whose every
 * side has closed (FIN) or reset; 0 otherwise (UDP, ICMP, open TCP). */
int flow_sides_done(const struct flow *f);

/* Per-flow slot for the caller's state (DPI); NULL when created. */
void **flow_user(struct flow *f);

/* Counters for the run summary. */
const struct flow_stats *flow_table_stats(const struct flow_table *t);

#endif
