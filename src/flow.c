/* flow.c: the flow table (see flow.h).
 *
 * Data structure: a pool of max_flows struct flow allocated once (its pages
 * touched only as flows are created; 2 MiB pages where the kernel has
 * them: 27 k open flows span 4 k small pages, more than the TLB holds, and
 * a prefetch that misses the TLB stalls on the page walk), a power-of-two bucket array of 32-bit
 * indices with chaining, doubled as open flows outnumber buckets (so its
 * size follows demand, not --max-flows), and four
 * doubly linked LRU lists (TCP, UDP, other, closing) so that expiry and
 * eviction only ever look at list heads. The hash is keyed with a seed
 * drawn at start-up and symmetric, so both directions of a flow land in
 * one bucket.
 *
 * TCP follows Zeek's endpoint state machine (INACTIVE, SYN_SENT,
 * SYN_ACK_SENT, PARTIAL, ESTABLISHED, CLOSED, RESET), its history letters
 * (once per direction, T, W and G at 1, 10, 100 ...), its payload sizes
 * from sequence numbers and its conn_state() function, so records compare
 * line by line with Zeek's conn.log. Trade-off: we keep no reassembly, so
 * content gaps (G, and their bytes in missed_bytes) are found from acks
 * alone (per side: what was seen contiguously plus one block above a hole)
 * and bad checksums (C) are not reported.
 *
 * A reader that knows its next packets (audit.c's lookahead) hashes their
 * keys (flow_hash) and prefetches each flow's bucket, then the record at
 * its head (flow_prefetch), a few packets before flow_track_hashed needs
 * them: the misses overlap instead of stalling each packet in turn.
 *
 * The originator of a flow whose start was missed is decided from ports
 * (orient_flip): a service port is the server's, else an ephemeral port
 * (>= CFG_EPHEMERAL_LO) is the client's; the record says how (orient). */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include <netinet/in.h>

#include "config.h"
#include "smaudit/flow.h"

/* ---- types ------------------------------------------------------------- */

#define NIL UINT32_MAX

enum tcp_state {
	TCP_INACTIVE = 0,
	TCP_SYN_SENT,
	TCP_SYN_ACK_SENT,
	TCP_PARTIAL,
	TCP_ESTABLISHED,
	TCP_CLOSED,
	TCP_RESET
};

enum lru_class { LRU_TCP, LRU_UDP, LRU_OTHER, LRU_CLOSING, LRU_N };

struct tcp_ep {
	uint8_t state, prev_state;
	uint8_t fin_cnt;
	uint8_t active;   /* UDP/ICMP: sent at least one packet */
	uint32_t start;   /* initial sequence number (as if a SYN was seen) */
	int64_t rel_last; /* one past the highest sequence sent, relative */
	int64_t rel_ack;  /* highest ack the peer sent us, relative */
	int64_t hist_last_syn, hist_last_fin, hist_last_rst;
	uint32_t rxmt_cnt, rxmt_thresh, win0_cnt, win0_thresh;
	/* content gaps without reassembly: data seen contiguously up to
	 * seen_upper, one block seen above a hole, the first FIN's end */
	int64_t seen_upper, blk_lo, blk_hi, fin_rel;
	uint32_t gap_cnt, gap_thresh;
};

/* One pool slot. Laid out for the lookup: a chain walk reads only hash and
 * hnext (the first 32 bytes); the match compares the key near the start of
 * rec; the LRU links of neighbours touch those first bytes only. Slots are
 * not padded to 64 bytes: in callgrind's cache simulation that saved 4% of
 * flow_track's D1 misses and cost 24 bytes a flow (24 MiB at 1 M flows). */
struct flow {
	/* hot: every lookup, every LRU move */
	uint32_t hash;
	uint32_t hnext;        /* bucket chain */
	uint32_t lprev, lnext; /* LRU list */
	uint8_t lru;           /* enum lru_class */
	uint8_t in_use;
	uint8_t tun_kind;   /* rec.tunnel.kind: same_tunnel only for tunnelled flows */
	uint8_t hlen;       /* history length */
	uint32_t hist_seen; /* Zeek's once-per-direction bits */
	void *user;
	/* the key (proto, addresses, ports, vlan) and ts_end_us: within rec's
	 * first 90 bytes */
	struct flow_record rec;
	uint64_t close_at_us;
	struct tcp_ep ep[2]; /* 0 = originator, 1 = responder */
};

struct frag_slot { /* first fragment seen -> its flow, for later fragments */
	struct sm_addr src, dst;
	uint32_t id;
	uint8_t proto;
	uint32_t flow; /* index, NIL if empty */
	uint64_t flow_seq;
};

#define FRAG_SLOTS CFG_FRAG_SLOTS

struct flow_table {
	struct flow_cfg cfg;
	flow_end_fn on_end;
	void *ctx;
	struct flow *pool;
	uint32_t *buckets;
	uint32_t nbuckets;     /* power of two, grown with the open flows */
	uint32_t nbuckets_max; /* power of two >= max_flows */
	uint32_t free_head;    /* slots returned to the pool */
	uint32_t fresh;        /* slots never used: the pool is touched only as it grows */
	uint32_t head[LRU_N], tail[LRU_N];
	uint64_t seed[2];
	uint64_t seq;
	struct flow_stats st;
	struct frag_slot frags[FRAG_SLOTS];
};

/* Zeek's history bits: low 16 for the originator, high 16 for the responder. */
enum {
	HIST_SYN = 1 << 0,
	HIST_FIN = 1 << 1,
	HIST_RST = 1 << 2,
	HIST_FIN_RST = 1 << 3,
	HIST_ACK = 1 << 4,
	HIST_DATA = 1 << 5,
	HIST_MULTI = 1 << 6
};

/* ---- private prototypes ------------------------------------------------ */

static uint32_t key_hash(const struct flow_table *t, uint8_t proto, uint64_t zone,
                         const struct sm_addr *a, uint16_t ap, const struct sm_addr *b,
                         uint16_t bp);
static uint64_t zone_of(const struct pkt *p);
static int same_tunnel(const struct encap_info *a, const struct encap_info *b);
static void icmp_ports(const struct pkt *p, uint16_t *sport, uint16_t *dport);
static uint32_t frag_index(const struct pkt *p);
static int is_service_port(const struct flow_table *t, uint8_t proto, uint16_t port);
static void end_flow(struct flow_table *t, uint32_t i, enum flow_end why);
static void lru_unlink(struct flow_table *t, uint32_t i);
static void lru_push(struct flow_table *t, uint32_t i, uint8_t cls);
static void tcp_packet(struct flow *f, const struct pkt *p, int from_orig, uint64_t close_delay);
static void finish_record(struct flow *f);
static struct flow *frag_attach(struct flow_table *t, const struct pkt *p);
static void frag_remember(struct flow_table *t, const struct pkt *p, const struct flow *f);
static struct flow *flow_lookup(struct flow_table *t, const struct pkt *p, uint32_t h,
                                uint16_t sport, uint16_t dport, int *orig);
static int tcp_reuse_ends(struct flow_table *t, struct flow *f, const struct pkt *p);
static struct flow *flow_create(struct flow_table *t, const struct pkt *p, uint32_t h,
                                uint16_t sport, uint16_t dport, int *orig);
static void lru_touch(struct flow_table *t, struct flow *f);
static void buckets_grow(struct flow_table *t);
static void account(struct flow *f, const struct pkt *p, int orig);
static void transport_update(struct flow_table *t, struct flow *f, const struct pkt *p, int orig);

/* ---- small helpers ----------------------------------------------------- */

static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

static uint64_t addr_fold(const struct sm_addr *a)
{
	uint64_t h0, h1;

	memcpy(&h0, a->b, 8);
	memcpy(&h1, a->b + 8, 8);
	return mix64(h0 ^ mix64(h1 ^ a->family));
}

static void hist_add(struct flow *f, char c)
{
	if ((size_t)f->hlen + 1 < sizeof(f->rec.history)) {
		f->rec.history[f->hlen++] = c;
		f->rec.history[f->hlen] = '\0';
	}
}

/* Add code (upper case for the originator) once per direction; returns 1 if
 * the letter was already seen (Zeek's CheckHistory). */
static int hist_check(struct flow *f, int orig, uint32_t mask, char code)
{
	if (!orig) {
		mask <<= 16;
		code = (char)(code | 0x20);
	}
	if (f->hist_seen & mask)
		return 1;
	f->hist_seen |= mask;
	hist_add(f, code);
	return 0;
}

/* Add code at the 1st, 10th, 100th ... occurrence (Zeek's ScaledHistoryEntry). */
static void hist_scaled(struct flow *f, int orig, char code, uint32_t *cnt, uint32_t *thresh)
{
	if (*thresh == 0)
		*thresh = 1;
	if (++*cnt == *thresh) {
		hist_add(f, orig ? code : (char)(code | 0x20));
		if (*thresh <= UINT32_MAX / 10)
			*thresh *= 10;
	}
}

static void ep_set_state(struct tcp_ep *e, uint8_t s)
{
	if (s != e->state) {
		e->prev_state = e->state;
		e->state = s;
	}
}

/* Relative sequence of x for endpoint e, tolerant of 32-bit wrap. */
static int64_t ep_rel(const struct tcp_ep *e, uint32_t x)
{
	uint32_t cur = e->start + (uint32_t)e->rel_last;
	return e->rel_last + (int32_t)(x - cur);
}

/* The pool's memory, size bytes, aligned to 2 MiB and advised to use huge
 * pages (nothing is touched: pages come as flows are created); NULL when
 * out of memory. */
static struct flow *pool_alloc(size_t size)
{
	void *m = NULL;

	if (posix_memalign(&m, (size_t)2 << 20, size) != 0)
		return NULL;
	madvise(m, (size + 4095) & ~(size_t)4095, MADV_HUGEPAGE); /* a hint: ignored without THP */
	return m;
}

/* ---- API --------------------------------------------------------------- */

struct flow_table *flow_table_new(const struct flow_cfg *cfg, flow_end_fn on_end, void *ctx)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	uint32_t n;

	if (!t)
		return NULL;
	t->cfg = *cfg;
	if (!t->cfg.max_flows)
		t->cfg.max_flows = CFG_MAX_FLOWS;
	if (!t->cfg.tcp_timeout_us)
		t->cfg.tcp_timeout_us = CFG_TCP_TIMEOUT_S * 1000000ULL;
	if (!t->cfg.udp_timeout_us)
		t->cfg.udp_timeout_us = CFG_UDP_TIMEOUT_S * 1000000ULL;
	if (!t->cfg.icmp_timeout_us)
		t->cfg.icmp_timeout_us = CFG_ICMP_TIMEOUT_S * 1000000ULL;
	if (!t->cfg.close_delay_us)
		t->cfg.close_delay_us = CFG_CLOSE_DELAY_S * 1000000ULL;
	t->on_end = on_end;
	t->ctx = ctx;
	/* the pool's pages are only touched as flows are created */
	t->pool = pool_alloc((size_t)t->cfg.max_flows * sizeof(struct flow));
	for (n = 1024; n < t->cfg.max_flows && n < (1u << 30); n <<= 1)
		;
	t->nbuckets_max = n;
	t->nbuckets = t->st.buckets = n < CFG_BUCKETS_MIN ? n : CFG_BUCKETS_MIN;
	t->buckets = malloc(sizeof(uint32_t) * t->nbuckets);
	if (!t->pool || !t->buckets) {
		free(t->pool);
		free(t->buckets);
		free(t);
		return NULL;
	}
	memset(t->buckets, 0xff, sizeof(uint32_t) * t->nbuckets);
	t->free_head = NIL;
	t->fresh = 0;
	for (int c = 0; c < LRU_N; c++)
		t->head[c] = t->tail[c] = NIL;
	for (int i = 0; i < FRAG_SLOTS; i++)
		t->frags[i].flow = NIL;
	if (t->cfg.uid_seed) {
		t->seed[0] = mix64(t->cfg.uid_seed);
		t->seed[1] = mix64(t->seed[0]);
	} else if (getrandom(t->seed, sizeof(t->seed), 0) != sizeof(t->seed)) {
		t->seed[0] = mix64((uint64_t)time(NULL));
		t->seed[1] = mix64((uint64_t)(uintptr_t)t);
	}
	return t;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	free(t->pool);
	free(t->buckets);
	free(t);
}

struct flow_record *flow_rec(struct flow *f)
{
	return &f->rec;
}

int flow_sides_done(const struct flow *f)
{
	const struct tcp_ep *o = &f->ep[0], *r = &f->ep[1];

	return f->rec.proto == IPPROTO_TCP && (o->state == TCP_CLOSED || o->state == TCP_RESET) &&
	       (r->state == TCP_CLOSED || r->state == TCP_RESET);
}

void **flow_user(struct flow *f)
{
	return &f->user;
}

const struct flow_stats *flow_table_stats(const struct flow_table *t)
{
	return &t->st;
}

uint32_t flow_hash(const struct flow_table *t, const struct pkt *p)
{
	uint16_t sport = p->sport, dport = p->dport;

	if (p->frag == PKT_FRAG_LATER)
		return 0; /* found through its first fragment */
	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
		icmp_ports(p, &sport, &dport);
	return key_hash(t, p->proto, zone_of(p), &p->src, sport, &p->dst, dport);
}

void flow_prefetch(const struct flow_table *t, uint32_t h, int stage)
{
	const uint32_t *b = &t->buckets[h & (t->nbuckets - 1)];

	if (stage == 0) {
		__builtin_prefetch(b);
	} else if (*b != NIL) {
		const struct flow *f = &t->pool[*b];
		const char *c = (const char *)f;
		/* the lines a packet reads: the chain link and key, the counters,
		 * both TCP endpoints */
		__builtin_prefetch(c);
		__builtin_prefetch(c + 64);
		__builtin_prefetch(c + 128);
		__builtin_prefetch(&f->ep[0]);
		__builtin_prefetch((const char *)&f->ep[0] + 64);
		__builtin_prefetch(&f->ep[1]);
		__builtin_prefetch((const char *)&f->ep[1] + 64);
	}
}

struct flow *flow_track(struct flow_table *t, const struct pkt *p, int *is_new, int *from_orig)
{
	return flow_track_hashed(t, p, flow_hash(t, p), is_new, from_orig);
}

struct flow *flow_track_hashed(struct flow_table *t, const struct pkt *p, uint32_t h, int *is_new,
                               int *from_orig)
{
	uint16_t sport = p->sport, dport = p->dport;
	struct flow *f;
	int orig = 1;

	*is_new = 0;
	*from_orig = 1;

	if (p->frag == PKT_FRAG_LATER) {
		f = frag_attach(t, p);
		if (!f)
			return NULL;
		orig = addr_eq(&f->rec.orig, &p->src);
		account(f, p, orig);
		*from_orig = orig;
		return f;
	}

	if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6)
		icmp_ports(p, &sport, &dport);

	f = flow_lookup(t, p, h, sport, dport, &orig);
	if (f && tcp_reuse_ends(t, f, p))
		f = NULL;

	if (!f) {
		f = flow_create(t, p, h, sport, dport, &orig);
		*is_new = 1;
	} else if (f->lru != LRU_CLOSING) {
		lru_touch(t, f);
	}

	if (p->frag == PKT_FRAG_FIRST)
		frag_remember(t, p, f);
	account(f, p, orig);
	transport_update(t, f, p, orig);
	*from_orig = orig;
	return f;
}

void flow_expire(struct flow_table *t, uint64_t now_us)
{
	static const uint8_t open_cls[] = {LRU_TCP, LRU_UDP, LRU_OTHER};
	uint64_t tmo[] = {t->cfg.tcp_timeout_us, t->cfg.udp_timeout_us, t->cfg.icmp_timeout_us};

	for (int k = 0; k < 3; k++) {
		uint8_t c = open_cls[k];
		while (t->head[c] != NIL && t->pool[t->head[c]].rec.ts_end_us + tmo[k] <= now_us) {
			t->st.timed_out++;
			end_flow(t, t->head[c], END_TIMEOUT);
		}
	}
	while (t->head[LRU_CLOSING] != NIL && t->pool[t->head[LRU_CLOSING]].close_at_us <= now_us) {
		t->st.closed++;
		end_flow(t, t->head[LRU_CLOSING], END_CLOSED);
	}
}

void flow_flush(struct flow_table *t, enum flow_end reason)
{
	for (int c = 0; c < LRU_N; c++)
		while (t->head[c] != NIL)
			end_flow(t, t->head[c],
			         c == LRU_CLOSING && reason == END_CAPTURE_END ? END_CLOSED
			                                                       : reason);
}

void flow_foreach(struct flow_table *t, void (*fn)(void *ctx, struct flow *f), void *ctx)
{
	for (int c = 0; c < LRU_N; c++)
		for (uint32_t i = t->head[c]; i != NIL; i = t->pool[i].lnext)
			fn(ctx, &t->pool[i]);
}

void flow_snapshot(const struct flow *f, struct flow_record *out)
{
	struct flow copy = *f;

	copy.rec.end_reason = END_CHECKPOINT;
	finish_record(&copy);
	*out = copy.rec;
}

/* ---- private functions ------------------------------------------------- */

/* ---- flow_track's steps ------------------------------------------------ */

/* The flow of the first fragment of p's datagram (addresses, protocol, id),
 * or NULL (counted as an orphan) when it is unknown or has ended. */
static struct flow *frag_attach(struct flow_table *t, const struct pkt *p)
{
	const struct frag_slot *fs = &t->frags[frag_index(p)];

	if (fs->flow == NIL || fs->id != p->frag_id || fs->proto != p->proto ||
	    !addr_eq(&fs->src, &p->src) || !addr_eq(&fs->dst, &p->dst) ||
	    !t->pool[fs->flow].in_use || t->pool[fs->flow].rec.seq != fs->flow_seq) {
		t->st.frags_orphan++;
		return NULL;
	}
	return &t->pool[fs->flow];
}

/* Remember f as the flow of p's datagram (p is a first fragment). */
static void frag_remember(struct flow_table *t, const struct pkt *p, const struct flow *f)
{
	struct frag_slot *fs = &t->frags[frag_index(p)];

	fs->src = p->src;
	fs->dst = p->dst;
	fs->id = p->frag_id;
	fs->proto = p->proto;
	fs->flow = (uint32_t)(f - t->pool);
	fs->flow_seq = f->rec.seq;
}

/* The open flow with key (proto, vlan, src:sport, dst:dport) in either
 * direction, *orig = 1 when p comes from its originator; NULL if none. */
static struct flow *flow_lookup(struct flow_table *t, const struct pkt *p, uint32_t h,
                                uint16_t sport, uint16_t dport, int *orig)
{
	for (uint32_t i = t->buckets[h & (t->nbuckets - 1)]; i != NIL; i = t->pool[i].hnext) {
		struct flow *c = &t->pool[i];
		if (c->hash != h || c->rec.proto != p->proto || c->rec.vlan != p->vlan ||
		    c->tun_kind != p->tun.kind ||
		    (c->tun_kind != ENCAP_NONE && !same_tunnel(&c->rec.tunnel, &p->tun)))
			continue;
		if (c->rec.orig_port == sport && c->rec.resp_port == dport &&
		    addr_eq(&c->rec.orig, &p->src) && addr_eq(&c->rec.resp, &p->dst)) {
			*orig = 1;
			return c;
		}
		if (c->rec.orig_port == dport && c->rec.resp_port == sport &&
		    addr_eq(&c->rec.orig, &p->dst) && addr_eq(&c->rec.resp, &p->src)) {
			*orig = 0;
			return c;
		}
	}
	return NULL;
}

/* A bare SYN on a closing TCP flow is a new connection (port reuse): end
 * the old flow and return 1; otherwise 0. */
static int tcp_reuse_ends(struct flow_table *t, struct flow *f, const struct pkt *p)
{
	if (f->lru != LRU_CLOSING || p->proto != IPPROTO_TCP ||
	    (p->tcp_flags & (TH_SYN | TH_ACK)) != TH_SYN)
		return 0;
	end_flow(t, (uint32_t)(f - t->pool), END_CLOSED);
	return 1;
}

/* A free slot of the pool, zeroed; when the table is full the least
 * recently seen flow is ended (evicted) first, never dropped. */
static uint32_t slot_get(struct flow_table *t)
{
	uint32_t i;

	if (t->free_head == NIL && t->fresh < t->cfg.max_flows) {
		t->pool[t->fresh].hnext = NIL;
		t->free_head = t->fresh++;
	}
	if (t->free_head == NIL) {
		uint32_t victim = NIL;
		for (int c = 0; c < LRU_N; c++) {
			uint32_t hd = t->head[c];
			if (hd != NIL && (victim == NIL || t->pool[hd].rec.ts_end_us <
			                                       t->pool[victim].rec.ts_end_us))
				victim = hd;
		}
		end_flow(t, victim, END_EVICTED);
		t->st.evicted++;
	}
	i = t->free_head;
	t->free_head = t->pool[i].hnext;
	memset(&t->pool[i], 0, sizeof(t->pool[i]));
	return i;
}

/* Orientation of a TCP flow picked up mid-stream (no SYN): whether its first
 * packet (sport -> dport) comes from the responder, and how that was decided
 * (*how). A service port is the server's (both: the lower one, as Zeek
 * does); with neither, the side on an ephemeral port is the client; with no
 * clue at all, the first sender is. */
static int orient_midstream(const struct flow_table *t, uint16_t sport, uint16_t dport,
                            uint8_t *how)
{
	int ss = is_service_port(t, IPPROTO_TCP, sport),
	    ds = is_service_port(t, IPPROTO_TCP, dport);
	int se = sport >= CFG_EPHEMERAL_LO, de = dport >= CFG_EPHEMERAL_LO;

	if (ss && ds) {
		*how = ORIENT_LOWER_PORT;
		return sport < dport;
	}
	if (ss || ds) {
		*how = ORIENT_SERVER_PORT;
		return ss;
	}
	if (se != de) {
		*how = ORIENT_EPHEMERAL_PORT;
		return de;
	}
	*how = ORIENT_GUESS;
	return 0;
}

/* Whether the first packet of a flow comes from its responder (1: flip), and
 * how the originator was chosen (*how, enum flow_orient). TCP: the sender
 * of a bare SYN is the client, the receiver of a SYN-ACK is; otherwise see
 * orient_midstream. UDP (Zeek's UDPAnalyzer::WantConnection): flipped when
 * the first datagram comes from a service port to a port that is not one. */
static int orient_flip(const struct flow_table *t, const struct pkt *p, uint16_t sport,
                       uint16_t dport, uint8_t *how)
{
	*how = ORIENT_FIRST;
	if (p->proto == IPPROTO_TCP) {
		uint8_t fl = p->tcp_flags;
		if ((fl & TH_SYN) && !(fl & TH_ACK))
			return 0;
		if (fl & TH_SYN) {
			*how = ORIENT_SYNACK;
			return 1;
		}
		return orient_midstream(t, sport, dport, how);
	}
	if (p->proto == IPPROTO_UDP && is_service_port(t, p->proto, sport) &&
	    !is_service_port(t, p->proto, dport)) {
		*how = ORIENT_SERVER_PORT;
		return 1;
	}
	return 0;
}

/* Fill f's uid: 'C' + 17 base62 digits from two keyed hashes of the
 * creation number: unique within a run, not guessable across runs. */
static void make_uid(const struct flow_table *t, struct flow *f)
{
	static const char b62[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
	uint64_t u[2];
	int k = 0;

	u[0] = mix64(t->seed[0] ^ mix64(f->rec.seq ^ t->seed[1]));
	u[1] = mix64(u[0] ^ t->seed[1]);
	f->rec.uid[k++] = 'C';
	for (int part = 0; part < 2; part++)
		for (int d = 0; d < (part ? 7 : 10); d++) {
			f->rec.uid[k++] = b62[u[part] % 62];
			u[part] /= 62;
		}
	f->rec.uid[k] = '\0';
}

/* A new flow for p (hash h, ports as keyed): oriented, numbered, hashed in
 * and pushed on its LRU list; *orig = 1 when p comes from the originator. */
static struct flow *flow_create(struct flow_table *t, const struct pkt *p, uint32_t h,
                                uint16_t sport, uint16_t dport, int *orig)
{
	uint32_t i = slot_get(t);
	struct flow *f = &t->pool[i];
	uint8_t how;

	if (orient_flip(t, p, sport, dport, &how)) {
		f->rec.orig = p->dst;
		f->rec.resp = p->src;
		f->rec.orig_port = dport;
		f->rec.resp_port = sport;
		*orig = 0;
		hist_add(f, '^');
	} else {
		f->rec.orig = p->src;
		f->rec.resp = p->dst;
		f->rec.orig_port = sport;
		f->rec.resp_port = dport;
		*orig = 1;
	}
	f->rec.orient = how;
	f->rec.direction_inferred = how != ORIENT_FIRST;
	f->rec.proto = p->proto;
	f->rec.ip_version = p->ip_version;
	f->rec.vlan = p->vlan;
	f->rec.tunnel = p->tun;
	f->tun_kind = p->tun.kind;
	f->rec.seq = ++t->seq;
	f->rec.ts_start_us = f->rec.ts_end_us = p->ts_us;
	make_uid(t, f);
	f->hash = h;
	f->in_use = 1;
	f->hnext = t->buckets[h & (t->nbuckets - 1)];
	t->buckets[h & (t->nbuckets - 1)] = i;
	lru_push(t, i,
	         p->proto == IPPROTO_TCP   ? LRU_TCP
	         : p->proto == IPPROTO_UDP ? LRU_UDP
	                                   : LRU_OTHER);
	t->st.created++;
	if (++t->st.active > t->st.peak)
		t->st.peak = t->st.active;
	if (t->st.active > t->nbuckets && t->nbuckets < t->nbuckets_max)
		buckets_grow(t);
	return f;
}

/* Double the bucket array (more open flows than buckets) and rehash every
 * open flow into it: O(open flows) once per doubling, so amortised O(1) per
 * flow created. Without memory for it the table keeps its array (longer
 * chains, same answers). */
static void buckets_grow(struct flow_table *t)
{
	uint32_t n = t->nbuckets * 2, *b = malloc(sizeof(uint32_t) * n);

	if (!b)
		return;
	memset(b, 0xff, sizeof(uint32_t) * n);
	for (int c = 0; c < LRU_N; c++)
		for (uint32_t i = t->head[c]; i != NIL; i = t->pool[i].lnext) {
			struct flow *f = &t->pool[i];
			f->hnext = b[f->hash & (n - 1)];
			b[f->hash & (n - 1)] = i;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = t->st.buckets = n;
}

/* Move f to the tail of its LRU list (it was just seen); a flow already
 * there (a burst of one flow's packets) stays, touching no neighbour. */
static void lru_touch(struct flow_table *t, struct flow *f)
{
	uint32_t i = (uint32_t)(f - t->pool);

	if (t->tail[f->lru] == i)
		return;
	lru_unlink(t, i);
	lru_push(t, i, f->lru);
}

/* Count p in f's direction: packets, IP bytes, last time; for UDP/ICMP
 * also payload bytes (TCP's come from sequence numbers at the end). A later
 * fragment has no transport header: only packets and IP bytes. */
static void account(struct flow *f, const struct pkt *p, int orig)
{
	struct flow_record *r = &f->rec;
	uint64_t pay = 0;

	if (p->frag != PKT_FRAG_LATER && p->proto != IPPROTO_TCP) {
		pay = p->payload_len;
		if (p->proto == IPPROTO_UDP && p->udp_len >= 8)
			pay = (uint64_t)p->udp_len - 8;
	}
	if (p->ts_us > r->ts_end_us)
		r->ts_end_us = p->ts_us;
	if (orig) {
		r->orig_pkts++;
		r->orig_ip_bytes += p->ip_len;
		r->orig_bytes += pay;
	} else {
		r->resp_pkts++;
		r->resp_ip_bytes += p->ip_len;
		r->resp_bytes += pay;
	}
}

/* Transport state for p: TCP's state machine (a closing flow moves to the
 * closing list), UDP/ICMP's endpoint activity and history. */
static void transport_update(struct flow_table *t, struct flow *f, const struct pkt *p, int orig)
{
	if (p->proto == IPPROTO_TCP) {
		tcp_packet(f, p, orig, t->cfg.close_delay_us);
		if (f->close_at_us && f->lru != LRU_CLOSING) {
			uint32_t i = (uint32_t)(f - t->pool);
			lru_unlink(t, i);
			lru_push(t, i, LRU_CLOSING);
		}
	} else {
		f->ep[orig ? 0 : 1].active = 1;
		if (p->proto == IPPROTO_UDP)
			hist_check(f, orig, HIST_DATA, 'D');
	}
}

static uint32_t key_hash(const struct flow_table *t, uint8_t proto, uint64_t zone,
                         const struct sm_addr *a, uint16_t ap, const struct sm_addr *b, uint16_t bp)
{
	/* symmetric: combine both endpoints with a commutative operation */
	uint64_t ea = mix64(addr_fold(a) ^ ((uint64_t)ap << 48) ^ t->seed[0]);
	uint64_t eb = mix64(addr_fold(b) ^ ((uint64_t)bp << 48) ^ t->seed[0]);
	return (uint32_t)mix64((ea + eb) ^ ((uint64_t)proto << 32) ^ zone ^ t->seed[1]);
}

/* The tunnel id that names a tenant: VNI, key, session; 0 for GTP-U, whose
 * TEID differs per direction. */
static uint32_t tenant_id(const struct encap_info *e)
{
	return e->has_id && e->kind != ENCAP_GTPU ? e->id + 1 : 0;
}

/* What besides the 5-tuple keeps flows apart: the VLAN and the tunnel's
 * identity (kind, tenant id, outer address pair in either order), so two
 * tenants' identical private addresses stay two flows. Symmetric, like the key. */
static uint64_t zone_of(const struct pkt *p)
{
	const struct encap_info *e = &p->tun;

	if (e->kind == ENCAP_NONE)
		return p->vlan;
	return mix64((uint64_t)p->vlan ^ (uint64_t)e->kind << 16 ^ (uint64_t)tenant_id(e) << 24 ^
	             (mix64(addr_fold(&e->src)) + mix64(addr_fold(&e->dst))));
}

/* 1 if a and b are the same tunnel (the identity zone_of hashes). */
static int same_tunnel(const struct encap_info *a, const struct encap_info *b)
{
	if (a->kind != b->kind)
		return 0;
	if (a->kind == ENCAP_NONE)
		return 1;
	if (tenant_id(a) != tenant_id(b))
		return 0;
	return (addr_eq(&a->src, &b->src) && addr_eq(&a->dst, &b->dst)) ||
	       (addr_eq(&a->src, &b->dst) && addr_eq(&a->dst, &b->src));
}

/* Slot of the fragment table for p's datagram: addresses, protocol, IP id. */
static uint32_t frag_index(const struct pkt *p)
{
	return (uint32_t)(mix64(addr_fold(&p->src) ^ addr_fold(&p->dst) ^ p->frag_id ^
	                        ((uint64_t)p->proto << 40)) &
	                  (FRAG_SLOTS - 1));
}

/* Zeek's ICMP "ports": type as source, and as destination the type of the
 * paired message (echo request <-> reply ...) or, for one-way messages, the code. */
static void icmp_ports(const struct pkt *p, uint16_t *sport, uint16_t *dport)
{
	static const uint8_t v4[][2] = {{8, 0},   {0, 8},   {13, 14}, {14, 13}, {15, 16},
	                                {16, 15}, {17, 18}, {18, 17}, {10, 9},  {9, 10}};
	static const uint8_t v6[][2] = {{128, 129}, {129, 128}, {133, 134}, {134, 133},
	                                {135, 136}, {136, 135}, {130, 131}, {131, 130}};
	const uint8_t(*tab)[2] = p->proto == IPPROTO_ICMP ? v4 : v6;
	size_t n =
	    p->proto == IPPROTO_ICMP ? sizeof(v4) / sizeof(v4[0]) : sizeof(v6) / sizeof(v6[0]);

	*sport = p->icmp_type;
	*dport = p->icmp_code;
	for (size_t k = 0; k < n; k++)
		if (tab[k][0] == p->icmp_type) {
			*dport = tab[k][1];
			break;
		}
}

/* Whether port is a likely server port (Zeek's likely_server_ports): a port
 * of the matrix, or a well-known port (< 1024) except 68/udp, the DHCP
 * client's (Zeek's dhcp/main.zeek lists only 67/udp, so a server's 67 -> 68
 * datagram is flipped). */
static int is_service_port(const struct flow_table *t, uint8_t proto, uint16_t port)
{
	const uint8_t *bm = proto == IPPROTO_TCP ? t->cfg.svc_tcp : t->cfg.svc_udp;

	if (bm && (bm[port >> 3] & (1u << (port & 7))))
		return 1;
	if (proto == IPPROTO_UDP && port == 68)
		return 0;
	return port > 0 && port < 1024;
}

static void lru_unlink(struct flow_table *t, uint32_t i)
{
	struct flow *f = &t->pool[i];
	uint8_t c = f->lru;

	if (f->lprev != NIL)
		t->pool[f->lprev].lnext = f->lnext;
	else
		t->head[c] = f->lnext;
	if (f->lnext != NIL)
		t->pool[f->lnext].lprev = f->lprev;
	else
		t->tail[c] = f->lprev;
	f->lprev = f->lnext = NIL;
}

static void lru_push(struct flow_table *t, uint32_t i, uint8_t c)
{
	struct flow *f = &t->pool[i];

	f->lru = c;
	f->lnext = NIL;
	f->lprev = t->tail[c];
	if (t->tail[c] != NIL)
		t->pool[t->tail[c]].lnext = i;
	else
		t->head[c] = i;
	t->tail[c] = i;
}

/* Hand flow i to the callback and return its slot to the pool. */
static void end_flow(struct flow_table *t, uint32_t i, enum flow_end why)
{
	struct flow *f = &t->pool[i];
	uint32_t *pp = &t->buckets[f->hash & (t->nbuckets - 1)];

	while (*pp != i)
		pp = &t->pool[*pp].hnext;
	*pp = f->hnext;
	lru_unlink(t, i);

	f->rec.end_reason = (uint8_t)why;
	finish_record(f);
	t->st.ended++;
	t->st.active--;
	if (t->on_end)
		t->on_end(t->ctx, f);
	f->in_use = 0;
	f->user = NULL;
	f->hnext = t->free_head;
	t->free_head = i;
}

/* Payload size of a TCP endpoint from sequence numbers (Zeek's Size()). */
static uint64_t ep_size(const struct tcp_ep *e, const struct tcp_ep *peer)
{
	int64_t size;

	if (e->prev_state == TCP_SYN_SENT && e->state == TCP_RESET && peer->state == TCP_INACTIVE &&
	    e->rel_ack > 1)
		return 0;
	size = e->rel_last > e->rel_ack ? e->rel_last : e->rel_ack;
	if (size <= 0)
		return 0;
	--size;
	if (e->fin_cnt && size)
		--size;
	return (uint64_t)size;
}

/* Zeek's conn_state() over the final endpoint states. */
static const char *conn_state(const struct flow *f)
{
	const struct tcp_ep *o = &f->ep[0], *r = &f->ep[1];

	if (f->rec.proto == IPPROTO_TCP) {
		int o_in = o->state == TCP_INACTIVE || o->state == TCP_PARTIAL;
		int r_in = r->state == TCP_INACTIVE || r->state == TCP_PARTIAL;

		if (r->state == TCP_RESET) {
			if (o->state == TCP_SYN_SENT || o->state == TCP_SYN_ACK_SENT ||
			    (o->state == TCP_RESET && f->rec.orig_bytes == 0 &&
			     f->rec.resp_bytes == 0))
				return "REJ";
			return o_in ? "RSTRH" : "RSTR";
		}
		if (o->state == TCP_RESET) {
			if (r_in) {
				/* history matches ^?S[^HAFGIQ]*R.* */
				const char *h = f->rec.history;
				if (*h == '^')
					h++;
				if (*h == 'S') {
					for (h++; *h && !strchr("HAFGIQ", *h); h++)
						if (*h == 'R')
							return "RSTOS0";
				}
				return "OTH";
			}
			return "RSTO";
		}
		if (r->state == TCP_CLOSED && o->state == TCP_CLOSED)
			return "SF";
		if (o->state == TCP_CLOSED)
			return r_in ? "SH" : "S2";
		if (r->state == TCP_CLOSED)
			return o_in ? "SHR" : "S3";
		if (o->state == TCP_SYN_SENT && r->state == TCP_INACTIVE)
			return "S0";
		if (o->state == TCP_ESTABLISHED && r->state == TCP_ESTABLISHED)
			return "S1";
		return "OTH";
	}
	if (f->rec.proto == IPPROTO_UDP) {
		if (o->active)
			return r->active ? "SF" : "S0";
		return r->active ? "SHR" : "OTH";
	}
	return "OTH";
}

static void finish_record(struct flow *f)
{
	if (f->rec.proto == IPPROTO_TCP) {
		f->rec.orig_bytes = ep_size(&f->ep[0], &f->ep[1]);
		f->rec.resp_bytes = ep_size(&f->ep[1], &f->ep[0]);
	}
	strncpy(f->rec.conn_state, conn_state(f), sizeof(f->rec.conn_state) - 1);
}

/* Zeek's UpdateStateMachine for one endpoint of one packet. */
static void tcp_state(struct flow *f, struct tcp_ep *e, struct tcp_ep *peer, int orig, uint8_t fl,
                      uint32_t len)
{
	int syn = fl & TH_SYN, fin = fl & TH_FIN, rst = fl & TH_RST, ack = fl & TH_ACK;

	switch (e->state) {
	case TCP_INACTIVE:
		if (syn) {
			if (orig) {
				ep_set_state(e, ack ? TCP_SYN_ACK_SENT : TCP_SYN_SENT);
			} else {
				if (peer->state == TCP_SYN_SENT)
					ep_set_state(peer, TCP_ESTABLISHED);
				ep_set_state(e, TCP_ESTABLISHED);
			}
		}
		if (fin)
			ep_set_state(e, TCP_CLOSED);
		if (rst)
			ep_set_state(e, TCP_RESET);
		if (e->state == TCP_INACTIVE) {
			if (!orig && len == 0 && f->ep[0].state == TCP_SYN_SENT)
				; /* an ACK of the SYN before the SYN-ACK */
			else if (ack && peer->state == TCP_ESTABLISHED)
				ep_set_state(e, TCP_ESTABLISHED); /* missed SYN, saw SYN-ACK */
			else
				ep_set_state(e, TCP_PARTIAL);
		}
		break;
	case TCP_SYN_SENT:
	case TCP_SYN_ACK_SENT:
		if (fin)
			ep_set_state(e, TCP_CLOSED);
		if (rst)
			ep_set_state(e, TCP_RESET);
		break;
	case TCP_ESTABLISHED:
	case TCP_PARTIAL:
		if (syn && e->state == TCP_PARTIAL && peer->state == TCP_INACTIVE && !ack)
			ep_set_state(e, TCP_SYN_SENT);
		if (fin && !rst) {
			ep_set_state(e, TCP_CLOSED);
			if (peer->state == TCP_RESET && peer->prev_state == TCP_CLOSED)
				ep_set_state(peer, TCP_CLOSED); /* FIN then RST: normal end */
		}
		if (rst)
			ep_set_state(e, TCP_RESET);
		break;
	case TCP_CLOSED:
		if (rst && peer->state != TCP_CLOSED)
			ep_set_state(e, TCP_RESET);
		break;
	case TCP_RESET:
		break;
	}
}

/* Endpoint e is established, or closed after being established (Zeek's
 * is_clean): only then is a gap in its data believed. */
static int ep_clean(const struct tcp_ep *e)
{
	return e->state == TCP_ESTABLISHED ||
	       (e->state == TCP_CLOSED && e->prev_state == TCP_ESTABLISHED);
}

/* The peer acknowledged e's data up to ack (relative): whatever of it was
 * never seen is a content gap (history G/g, scaled as Zeek's Gap(); its
 * length added to missed_bytes, as Zeek's content_gap event does), when
 * both ends are cleanly established. The hole is then taken as filled. */
static void gap_on_ack(struct flow *f, struct tcp_ep *e, int e_orig, int64_t ack)
{
	struct tcp_ep *peer = &f->ep[e_orig ? 1 : 0];
	uint64_t missed = 0;
	int gaps = 0;

	if (e->fin_cnt && ack >= e->fin_rel)
		ack = e->fin_rel - 1; /* the FIN is not data */
	if (ack <= e->seen_upper || (ack <= 2 && f->rec.direction_inferred))
		return;
	if (e->blk_hi && e->blk_lo < ack) {
		gaps++; /* the hole below the block, then the block is delivered */
		missed += (uint64_t)(e->blk_lo - e->seen_upper);
		if (e->blk_hi > e->seen_upper)
			e->seen_upper = e->blk_hi;
		e->blk_lo = e->blk_hi = 0;
	}
	if (ack > e->seen_upper) {
		gaps++;
		missed += (uint64_t)(ack - e->seen_upper);
		e->seen_upper = ack;
	}
	if (!ep_clean(e) || !ep_clean(peer))
		return;
	f->rec.missed_bytes += missed;
	while (gaps--)
		hist_scaled(f, e_orig, 'G', &e->gap_cnt, &e->gap_thresh);
}

/* e sent data [lo, hi) (relative, fully captured): extend what was seen
 * contiguously, or remember it as the one block above a hole. */
static void gap_on_data(struct tcp_ep *e, int64_t lo, int64_t hi)
{
	if (lo <= e->seen_upper) {
		if (hi > e->seen_upper)
			e->seen_upper = hi;
		if (e->blk_hi && e->blk_lo <= e->seen_upper) {
			if (e->blk_hi > e->seen_upper)
				e->seen_upper = e->blk_hi;
			e->blk_lo = e->blk_hi = 0;
		}
	} else if (!e->blk_hi || lo < e->blk_lo) {
		if (e->blk_hi && hi >= e->blk_lo)
			hi = hi > e->blk_hi ? hi : e->blk_hi; /* overlaps the block */
		e->blk_lo = lo;
		e->blk_hi = hi;
	} else if (lo <= e->blk_hi && hi > e->blk_hi) {
		e->blk_hi = hi;
	}
}

/* History letters for one packet's flags and payload (Zeek's
 * UpdateHistory): S H F R repeat only with a new sequence number. */
static void tcp_flag_history(struct flow *f, struct tcp_ep *e, int orig, uint8_t fl,
                             int64_t rel_seq, uint32_t len)
{
	int syn = !!(fl & TH_SYN), fin = !!(fl & TH_FIN), rst = !!(fl & TH_RST);
	int bits = syn + fin + rst;

	if (bits > 1) {
		if (fin && rst)
			hist_check(f, orig, HIST_FIN_RST, 'I');
		else
			hist_check(f, orig, HIST_MULTI, 'Q');
	} else if (bits == 1) {
		if (syn) {
			char code = (fl & TH_ACK) ? 'H' : 'S';
			if (hist_check(f, orig, HIST_SYN, code) && rel_seq != e->hist_last_syn)
				hist_add(f, orig ? code : (char)(code | 0x20));
			e->hist_last_syn = rel_seq;
		}
		if (fin) {
			if (hist_check(f, orig, HIST_FIN, 'F') &&
			    rel_seq + (int64_t)len != e->hist_last_fin)
				hist_add(f, orig ? 'F' : 'f');
			e->hist_last_fin = rel_seq + (int64_t)len;
		}
		if (rst) {
			if (hist_check(f, orig, HIST_RST, 'R') && rel_seq != e->hist_last_rst)
				hist_add(f, orig ? 'R' : 'r');
			e->hist_last_rst = rel_seq;
		}
	} else if (len) {
		hist_check(f, orig, HIST_DATA, 'D');
	} else if (fl & TH_ACK) {
		hist_check(f, orig, HIST_ACK, 'A');
	}
}

/* One TCP packet: sequence bookkeeping, history, state (Zeek's Process()). */
static void tcp_packet(struct flow *f, const struct pkt *p, int orig, uint64_t close_delay)
{
	struct tcp_ep *e = &f->ep[orig ? 0 : 1], *peer = &f->ep[orig ? 1 : 0];
	uint8_t fl = p->tcp_flags;
	uint32_t len = p->payload_len;
	int syn = !!(fl & TH_SYN), fin = !!(fl & TH_FIN), rst = !!(fl & TH_RST);
	int64_t seg_len = (int64_t)len + syn + fin, rel_seq, delta_last;
	int ack_ok;

	if (rst)
		seg_len -= len;

	/* init_endpoint: start numbering as if a SYN had been seen */
	if (e->state == TCP_INACTIVE) {
		e->start = syn ? p->tcp_seq : p->tcp_seq - 1;
		e->rel_ack = 0;
		e->rel_last = syn ? seg_len : 1;
		e->seen_upper = 1;
		e->blk_lo = e->blk_hi = 0;
	}
	rel_seq = ep_rel(e, p->tcp_seq);

	tcp_flag_history(f, e, orig, fl, rel_seq, len);

	/* zero window (not on RST, not after the peer closed or we reset) */
	if (p->tcp_win == 0 && !rst && peer->state != TCP_CLOSED && e->state != TCP_RESET)
		hist_scaled(f, orig, 'W', &e->win0_cnt, &e->win0_thresh);

	if (fin) {
		if (!e->fin_cnt)
			e->fin_rel = rel_seq + seg_len;
		e->fin_cnt = e->fin_cnt < 255 ? e->fin_cnt + 1 : 255;
	}

	/* acks: the peer's data as acknowledged by us */
	ack_ok = peer->state != TCP_INACTIVE;
	if (fl & TH_ACK) {
		if (peer->state == TCP_INACTIVE) {
			peer->start = p->tcp_ack - 1;
			peer->rel_ack = 0;
			peer->rel_last = 0;
			peer->seen_upper = 1;
		} else if (!rst) {
			int64_t ra = ep_rel(peer, p->tcp_ack);
			if (ra > peer->rel_ack && ra >= 0)
				peer->rel_ack = ra;
		}
	}

	/* update_last_seq */
	delta_last = rel_seq + seg_len - e->rel_last;
	if ((syn || rst) && (delta_last > 1048576 || delta_last < -1048576))
		;
	else if (fin && e->rel_last == 1)
		e->rel_last = rel_seq + seg_len;
	else if (e->state == TCP_RESET)
		;
	else if (delta_last > 0)
		e->rel_last = rel_seq + seg_len;
	else if (len > 0)
		hist_scaled(f, orig, 'T', &e->rxmt_cnt, &e->rxmt_thresh);

	tcp_state(f, e, peer, orig, fl, len);

	/* after the state machine, as Zeek does: an ack past data never seen
	 * is a content gap of the peer's; then this packet's own data */
	if ((fl & TH_ACK) && !rst && ack_ok)
		gap_on_ack(f, peer, !orig, ep_rel(peer, p->tcp_ack));
	if (len && !rst && p->payload_caplen >= len)
		gap_on_data(e, rel_seq + syn, rel_seq + syn + len);

	/* closed both ways or reset: the flow ends after the close delay */
	if (!f->close_at_us && ((f->ep[0].state == TCP_CLOSED && f->ep[1].state == TCP_CLOSED) ||
	                        f->ep[0].state == TCP_RESET || f->ep[1].state == TCP_RESET))
		f->close_at_us = p->ts_us + close_delay;
}
