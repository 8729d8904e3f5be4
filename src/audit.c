/* audit.c: the pipeline of one run (see audit.h).
 *
 * Per packet: decode into a stack struct pkt, count what cannot be decoded,
 * track the flow, and on its first packet decide its direction from the
 * monitored hosts; flows touching no monitored host are counted and never
 * reach DPI or the store. Per ended flow: finish DPI (nDPI's module is per
 * thread, so on the packet thread) and hand a copy of the record to the
 * writer thread (writer.c), which judges it against the matrix and stores
 * it. The packet thread never waits on SQLite: the writer's queue absorbs a
 * slow, locked or failing database up to the flow table's size (beyond
 * it, live counts the oldest held flows as lost; read waits), and
 * checkpoints are snapshots queued like ended flows.
 * The SQLite row and the reason text are most of the per-flow cost, so on
 * two cores this takes them off the packet path.
 * Lookahead (read): a packet is decoded when given (its bytes copied, for
 * DPI; without DPI only the decoded view is kept), its flow's bucket
 * prefetched; two packets later the record at the head of that bucket's
 * chain, and two after that it is worked on. The flow table's cache misses
 * (the bucket, then the record: 27 k open flows of 616 bytes do not fit
 * in the cache) then overlap the work on the packets before instead of
 * stalling each packet in turn. The packets are worked on in the order
 * given, and held ones are worked on before anything else reads or
 * changes the pipeline (tick, checkpoint, sync, matrix, finish); live
 * holds none, so a verdict is announced with its packet. */
#include <stdlib.h>
#include <string.h>

#include <netinet/in.h>

#include "config.h"
#include "smaudit/audit.h"
#include "writer.h"

/* The lookahead: packets held before the one worked on, and the bytes of
 * a held packet for DPI (a larger one is worked on at once, the held ones
 * first). */
#define AHEAD      4
#define AHEAD_LINK 2 /* packets after its bucket, a flow's record is prefetched */
#define AHEAD_SNAP 16384

/* A packet held for the lookahead: decoded, its flow's key hash computed. */
struct held {
	struct pkt p;
	enum decode_status ds;
	uint32_t hash;
	uint8_t *data; /* AHEAD_SNAP bytes for DPI's copy; NULL without DPI */
};

struct audit {
	struct audit_cfg cfg;
	struct held *ring;  /* AHEAD + 1 packets, oldest at rhead; NULL in live */
	uint8_t *ring_data; /* their copies' bytes (DPI only) */
	unsigned rhead, rlen;
	struct flow_table *flows;
	struct dpi_ctx *dpi;
	struct writer *writer;
	struct audit_counts n; /* packet thread's counters (+ writer's, merged on read) */
	uint64_t last_tick_us;
	int finishing; /* audit_finish: the last flows may wait for room */
};

/* ---- private ----------------------------------------------------------- */

/* Live alerts (packet thread): judge r again now that DPI has concluded and
 * announce a verdict that changed to a non-expected one (a protocol
 * mismatch the moment it is known). */
static void rejudge(struct audit *a, struct flow_record *r)
{
	struct verdict_result v;

	if (!a->cfg.alert || r->direction == DIR_NONE)
		return;
	verdict_eval(a->cfg.matrix, r, &v);
	if (v.kind != r->first_verdict && v.kind != VERDICT_EXPECTED)
		a->cfg.alert(a->cfg.alert_ctx, r, &v);
	r->first_verdict = (uint8_t)v.kind;
}

/* Feed p to DPI; when both sides of a TCP flow have closed or reset, no
 * payload is to come: detection ends now, as it would at the flow's end, and
 * its nDPI state (with a TLS reassembly buffer of up to a few KiB for a flow
 * nDPI never names) is freed then instead of after the close delay. */
static void audit_dpi(struct audit *a, struct flow *f, const struct pkt *p, int from_orig)
{
	struct flow_record *r = flow_rec(f);
	struct dpi_flow **st = (struct dpi_flow **)flow_user(f);

	if (dpi_feed(a->dpi, st, r, p, from_orig)) {
		rejudge(a, r);
	} else if (*st && flow_sides_done(f)) {
		dpi_end(a->dpi, st, r);
		rejudge(a, r);
	}
}

/* Flow table callback (packet thread): a flow has ended. */
static void on_flow_end(void *ctx, struct flow *f)
{
	struct audit *a = ctx;
	struct flow_record *r = flow_rec(f);
	struct dpi_flow **st = (struct dpi_flow **)flow_user(f);

	if (a->dpi && !r->app.done) {
		dpi_end(a->dpi, st, r);
		rejudge(a, r);
	}
	if (r->direction == DIR_NONE) {
		a->n.flows_other++;
		return;
	}
	/* live drops the oldest held flow rather than stop capturing; read, and
	 * live once capture is over, wait for room */
	writer_put(a->writer, r,
	           a->cfg.retry_store && !a->finishing ? WRITER_DROP_OLDEST : WRITER_WAIT);
}

/* ---- API --------------------------------------------------------------- */

/* With cfg.lookahead, the ring of held packets (and their bytes' room with
 * DPI); 0, or -1 without memory. */
static int ring_new(struct audit *a)
{
	if (!a->cfg.lookahead)
		return 0;
	a->ring = calloc(AHEAD + 1, sizeof(*a->ring));
	if (!a->ring)
		return -1;
	if (a->cfg.no_dpi)
		return 0;
	a->ring_data = malloc((size_t)(AHEAD + 1) * AHEAD_SNAP);
	if (!a->ring_data)
		return -1;
	for (int i = 0; i <= AHEAD; i++)
		a->ring[i].data = a->ring_data + (size_t)i * AHEAD_SNAP;
	return 0;
}

struct audit *audit_new(const struct audit_cfg *cfg, char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = *cfg;
	a->flows = flow_table_new(&a->cfg.flow, on_flow_end, a);
	if (!a->flows || ring_new(a) < 0) {
		snprintf(err, errlen, "cannot allocate a flow table of %u flows (--max-flows)",
		         cfg->flow.max_flows);
		audit_free(a);
		return NULL;
	}
	if (cfg->no_dpi) {
		dpi_spare_free(); /* the names' module: no detection will use it */
	} else {
		a->dpi = dpi_new(err, errlen);
		if (!a->dpi) {
			audit_free(a);
			return NULL;
		}
	}
	{
		struct writer_cfg w = {.store = cfg->store,
		                       .run_id = cfg->run_id,
		                       .retry = cfg->retry_store,
		                       .retain_s = cfg->retain_s,
		                       /* live never waits: hold up to the table's size;
		                        * read may wait, so the queue stays small */
		                       .hold_max = !cfg->retry_store     ? CFG_WRITER_QUEUE
		                                   : cfg->flow.max_flows ? cfg->flow.max_flows
		                                                         : CFG_MAX_FLOWS,
		                       .judged = cfg->judged,
		                       .judged_ctx = cfg->judged_ctx};
		a->writer = writer_new(&w, cfg->matrix, err, errlen);
	}
	if (!a->writer) {
		audit_free(a);
		return NULL;
	}
	return a;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	writer_free(a->writer);
	flow_table_free(a->flows);
	free(a->ring);
	free(a->ring_data);
	if (a->dpi)
		dpi_free(a->dpi);
	free(a);
}

/* Work on one decoded packet (status ds, key hash h): count it, let packet
 * time expire flows, track its flow, decide a new flow's direction, feed DPI. */
static void work(struct audit *a, const struct pkt *pk, enum decode_status ds, uint32_t h)
{
	struct flow *f;
	struct flow_record *r;
	int is_new, from_orig;

	a->n.packets++;
	a->n.bytes += pk->wirelen;

	/* packet time drives expiry, about once a second */
	if (pk->ts_us >= a->last_tick_us + 1000000) {
		if (a->last_tick_us)
			flow_expire(a->flows, pk->ts_us);
		a->last_tick_us = pk->ts_us;
	}

	for (uint32_t k = pk->tun.kinds; k; k &= k - 1) /* each kind crossed, even if cut short */
		a->n.encap[__builtin_ctz(k)]++;
	switch (ds) {
	case DECODE_OK:
		break;
	case DECODE_NOT_IP:
		a->n.non_ip++;
		return;
	case DECODE_TRUNCATED:
		a->n.truncated++;
		return;
	case DECODE_BAD_HEADER:
		a->n.bad_header++;
		return;
	case DECODE_UNKNOWN_LINK:
		a->n.unknown_link++;
		return;
	}

	f = flow_track_hashed(a->flows, pk, h, &is_new, &from_orig);
	if (!f)
		return; /* a later fragment whose first was not seen: the table counts it */
	r = flow_rec(f);
	if (is_new) {
		int o = rules_is_host(a->cfg.matrix, &r->orig);
		int s = rules_is_host(a->cfg.matrix, &r->resp);
		/* both ends monitored: the side the matrix explains is the host */
		r->direction = o && s ? verdict_side(a->cfg.matrix, r)
		               : s    ? DIR_IN
		               : o    ? DIR_OUT
		                      : DIR_NONE;
		/* port, direction and peer are known now: live alerts at once */
		if (a->cfg.alert && r->direction != DIR_NONE) {
			struct verdict_result v;
			verdict_eval(a->cfg.matrix, r, &v);
			r->first_verdict = (uint8_t)v.kind;
			if (v.kind != VERDICT_EXPECTED)
				a->cfg.alert(a->cfg.alert_ctx, r, &v);
		}
	}
	if (a->dpi && r->direction != DIR_NONE && !r->app.done && pk->frag != PKT_FRAG_LATER)
		audit_dpi(a, f, pk, from_orig);
}

/* Decode h's packet at data into p (its time and lengths from h). */
static enum decode_status decode(const struct audit *a, int dlt, const struct pcap_pkthdr *h,
                                 const uint8_t *data, struct pkt *p)
{
	p->caplen = h->caplen;
	p->wirelen = h->len;
	p->ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
	return decode_packet(&a->cfg.decode, dlt, data, p);
}

/* Work on every held packet, oldest first. */
static void drain(struct audit *a)
{
	for (; a->rlen; a->rlen--, a->rhead = (a->rhead + 1) % (AHEAD + 1)) {
		struct held *k = &a->ring[a->rhead];
		work(a, &k->p, k->ds, k->hash);
	}
}

void audit_packet(struct audit *a, int dlt, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct held *k;

	if (!a->ring || (a->dpi && h->caplen > AHEAD_SNAP)) {
		struct pkt p;
		enum decode_status ds = decode(a, dlt, h, data, &p);
		if (a->ring)
			drain(a);
		work(a, &p, ds, ds == DECODE_OK ? flow_hash(a->flows, &p) : 0);
		return;
	}
	k = &a->ring[(a->rhead + a->rlen) % (AHEAD + 1)];
	if (a->dpi) { /* DPI reads the payload when the packet is worked on */
		memcpy(k->data, data, h->caplen);
		data = k->data;
	}
	k->ds = decode(a, dlt, h, data, &k->p);
	if (!a->dpi)
		k->p.data = NULL; /* without DPI nothing reads a packet's bytes after decode */
	k->hash = k->ds == DECODE_OK ? flow_hash(a->flows, &k->p) : 0;
	if (k->ds == DECODE_OK)
		flow_prefetch(a->flows, k->hash, 0);
	if (a->rlen >= AHEAD_LINK) { /* its bucket is read by now */
		struct held *b = &a->ring[(a->rhead + a->rlen - AHEAD_LINK) % (AHEAD + 1)];
		if (b->ds == DECODE_OK)
			flow_prefetch(a->flows, b->hash, 1);
	}
	if (++a->rlen == AHEAD + 1) {
		struct held *o = &a->ring[a->rhead];
		work(a, &o->p, o->ds, o->hash);
		a->rhead = (a->rhead + 1) % (AHEAD + 1);
		a->rlen--;
	}
}

void audit_tick(struct audit *a, uint64_t now_us)
{
	if (a->ring)
		drain(a);
	flow_expire(a->flows, now_us);
	if (now_us > a->last_tick_us)
		a->last_tick_us = now_us;
}

struct checkpoint_ctx {
	struct audit *a;
	uint64_t cutoff_us;
	long queued;
};

/* flow_foreach callback: queue a snapshot of one long-lived open flow. */
static void checkpoint_one(void *ctx, struct flow *f)
{
	struct checkpoint_ctx *c = ctx;
	struct flow_record *live = flow_rec(f), snap;

	if (live->direction == DIR_NONE || live->ts_start_us > c->cutoff_us)
		return;
	flow_snapshot(f, &snap);
	if (writer_put(c->a->writer, &snap, WRITER_REFUSE) < 0)
		return;      /* the writer holds all it may: the next checkpoint */
	live->store_id = -1; /* the writer knows the row; the end replaces it */
	c->queued++;
}

long audit_checkpoint(struct audit *a, uint64_t now_us, uint64_t min_age_us,
                      const struct store_run *run)
{
	struct checkpoint_ctx c = {.a = a,
	                           .cutoff_us = now_us > min_age_us ? now_us - min_age_us : 0};

	if (a->ring)
		drain(a);
	flow_foreach(a->flows, checkpoint_one, &c);
	if (run)
		writer_progress(a->writer, run);
	return c.queued;
}

void audit_sync(struct audit *a)
{
	if (a->ring)
		drain(a);
	writer_sync(a->writer);
}

int audit_store_news(struct audit *a, char *msg, size_t len)
{
	return writer_news(a->writer, msg, len);
}

int audit_finish(struct audit *a, enum flow_end reason, char *err, size_t errlen)
{
	if (a->ring)
		drain(a);
	a->finishing = 1;
	writer_stopping(a->writer,
	                a->cfg.stop_grace_s > 0 ? a->cfg.stop_grace_s : CFG_STOP_GRACE_S);
	flow_flush(a->flows, reason);
	return writer_finish(a->writer, err, errlen);
}

void audit_set_matrix(struct audit *a, const struct rules_matrix *m)
{
	if (a->ring)
		drain(a); /* judged by the matrix they came under */
	a->cfg.matrix = m;
	writer_set_matrix(a->writer, m);
}

int audit_matrix_busy(struct audit *a, const struct rules_matrix *m)
{
	return writer_matrix_busy(a->writer, m);
}

const struct audit_counts *audit_counts(const struct audit *ca)
{
	struct audit *a = (struct audit *)ca; /* merging the writer's counters is not a change */

	a->n.malformed = a->n.truncated + a->n.bad_header;
	a->n.frags_orphan = flow_table_stats(a->flows)->frags_orphan;
	a->n.dpi_states = dpi_live_states(a->dpi);
	writer_counts(a->writer, &a->n);
	return &a->n;
}

const struct flow_stats *audit_flow_stats(const struct audit *a)
{
	return flow_table_stats(a->flows);
}

void audit_fill_run(const struct audit *a, struct store_run *run)
{
	const struct audit_counts *n = audit_counts(a);

	run->packets = n->packets;
	run->bytes = n->bytes;
	run->malformed = n->malformed;
	run->unknown_link = n->unknown_link;
	run->non_ip = n->non_ip;
	run->flows = n->flows_stored;
	run->flows_other = n->flows_other;
	run->flows_lost = n->flows_lost;
	run->evicted = flow_table_stats(a->flows)->evicted;
	memcpy(run->encap, n->encap, sizeof(run->encap));
}
