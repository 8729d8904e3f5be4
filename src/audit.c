/* audit.c: the pipeline of one run (see audit.h).
 *
 * Per packet: decode into a stack struct pkt, count what cannot be decoded,
 * track the flow, and on its first packet decide its direction from the
 * monitored hosts; flows touching no monitored host are counted and never
 * reach DPI or the store. Per ended flow: finish DPI (nDPI's module is per
 * thread, so on the packet thread) and put a copy of the record in a
 * bounded queue. A writer thread judges it against the matrix (the frozen
 * matrix is read-only), writes it to the store in batched transactions and
 * hands it to the caller's judged hook (the run's findings). A full queue
 * makes the packet thread wait: nothing is dropped.
 * The SQLite row and the reason text are most of the per-flow cost, so on
 * two cores this takes them off the packet path. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <netinet/in.h>

#include "config.h"
#include "smaudit/audit.h"

#define QUEUE_LEN    CFG_WRITER_QUEUE /* ended flows waiting for the writer */
#define WRITER_BATCH CFG_WRITER_BATCH

struct audit {
	struct audit_cfg cfg;
	struct flow_table *flows;
	struct dpi_ctx *dpi;
	struct audit_counts n; /* packet thread's counters (+ writer's, merged on read) */
	uint64_t last_tick_us;

	/* the queue, guarded by mu */
	pthread_t writer;
	int writer_started;
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, idle;
	struct flow_record *q;
	uint32_t qhead, qcount;
	int closing, busy;
	struct audit_counts w; /* writer's counters, updated under mu per batch */

	/* writer thread only (read by others after it has joined, or with the
	 * writer idle under mu) */
	struct flow_record batch[WRITER_BATCH];
	char store_err[512];
};

/* ---- private ----------------------------------------------------------- */

/* Judge one ended flow, count it into n and store it (writer thread, or a
 * caller holding the store while the writer is idle). */
static void judge_and_store(struct audit *a, struct flow_record *r, struct audit_counts *n)
{
	struct verdict_result v;
	char err[512];

	verdict_eval(a->cfg.matrix, r, &v);
	if (a->cfg.alert && v.kind == VERDICT_PROTOCOL_MISMATCH &&
	    r->first_verdict != VERDICT_PROTOCOL_MISMATCH)
		a->cfg.alert(a->cfg.alert_ctx, r, &v);
	n->verdicts[v.kind]++;
	if (v.kind == VERDICT_EXPECTED && v.peer_unchecked)
		n->peer_unchecked++;
	if (v.kind == VERDICT_EXPECTED && v.app_unchecked)
		n->app_unchecked++;
	if (a->cfg.judged)
		a->cfg.judged(a->cfg.judged_ctx, r, &v);
	if (r->direction == DIR_IN)
		n->flows_in++;
	else if (r->direction == DIR_OUT)
		n->flows_out++;
	else
		n->flows_local++;
	if (store_flow(a->cfg.store, a->cfg.run_id, r, &v, err, sizeof(err)) < 0) {
		if (!a->store_err[0])
			snprintf(a->store_err, sizeof(a->store_err), "%s", err);
		n->store_errors++;
		return;
	}
	n->flows_stored++;
}

/* Add a batch's counters into to (mu held). */
static void merge_counts(struct audit_counts *to, const struct audit_counts *from)
{
	for (int k = 0; k <= VERDICT_PROTOCOL_MISMATCH; k++)
		to->verdicts[k] += from->verdicts[k];
	to->peer_unchecked += from->peer_unchecked;
	to->app_unchecked += from->app_unchecked;
	to->flows_in += from->flows_in;
	to->flows_out += from->flows_out;
	to->flows_local += from->flows_local;
	to->flows_stored += from->flows_stored;
	to->store_errors += from->store_errors;
}

/* The writer thread: take batches off the queue until closed and empty.
 * Rows are committed by the store every STORE_BATCH rows, and here when
 * the queue has stayed empty for a second, so a quiet live link loses
 * nothing while a busy one is not slowed by a commit per handful of flows. */
static void *writer_main(void *arg)
{
	struct audit *a = arg;
	char err[512];
	int dirty = 0;

	pthread_mutex_lock(&a->mu);
	for (;;) {
		uint32_t n = 0;
		struct audit_counts c;

		while (a->qcount == 0 && !a->closing) {
			a->busy = 0;
			pthread_cond_broadcast(&a->idle);
			if (!dirty) {
				pthread_cond_wait(&a->not_empty, &a->mu);
				continue;
			}
			struct timespec until;
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_sec += 1;
			if (pthread_cond_timedwait(&a->not_empty, &a->mu, &until) == ETIMEDOUT &&
			    a->qcount == 0) {
				dirty = 0;
				if (store_flush(a->cfg.store, err, sizeof(err)) < 0) {
					if (!a->store_err[0])
						snprintf(a->store_err, sizeof(a->store_err), "%s",
						         err);
					a->w.store_errors++;
				}
			}
		}
		if (a->qcount == 0 && a->closing)
			break;
		a->busy = 1;
		while (n < WRITER_BATCH && a->qcount) {
			a->batch[n++] = a->q[a->qhead];
			a->qhead = (a->qhead + 1) % QUEUE_LEN;
			a->qcount--;
		}
		pthread_cond_signal(&a->not_full);
		pthread_mutex_unlock(&a->mu);

		memset(&c, 0, sizeof(c));
		for (uint32_t i = 0; i < n; i++)
			judge_and_store(a, &a->batch[i], &c);
		dirty = 1;

		pthread_mutex_lock(&a->mu);
		merge_counts(&a->w, &c);
	}
	a->busy = 0;
	pthread_cond_broadcast(&a->idle);
	pthread_mutex_unlock(&a->mu);
	return NULL;
}

/* Flow table callback (packet thread): a flow has ended. */
static void on_flow_end(void *ctx, struct flow *f)
{
	struct audit *a = ctx;
	struct flow_record *r = flow_rec(f);
	struct dpi_flow **st = (struct dpi_flow **)flow_user(f);

	if (a->dpi)
		dpi_end(a->dpi, st, r);
	if (r->direction == DIR_NONE) {
		a->n.flows_other++;
		return;
	}
	pthread_mutex_lock(&a->mu);
	while (a->qcount == QUEUE_LEN)
		pthread_cond_wait(&a->not_full, &a->mu);
	a->q[(a->qhead + a->qcount) % QUEUE_LEN] = *r;
	a->qcount++;
	pthread_cond_signal(&a->not_empty);
	pthread_mutex_unlock(&a->mu);
}

/* Wait until the writer has written everything queued and is idle (mu held). */
static void wait_idle(struct audit *a)
{
	while (a->qcount || a->busy)
		pthread_cond_wait(&a->idle, &a->mu);
}

/* Let the writer finish what is queued and join it. */
static void stop_writer(struct audit *a)
{
	if (!a->writer_started)
		return;
	pthread_mutex_lock(&a->mu);
	a->closing = 1;
	pthread_cond_signal(&a->not_empty);
	pthread_mutex_unlock(&a->mu);
	pthread_join(a->writer, NULL);
	a->writer_started = 0;
}

/* ---- API --------------------------------------------------------------- */

struct audit *audit_new(const struct audit_cfg *cfg, char *err, size_t errlen)
{
	struct audit *a = calloc(1, sizeof(*a));

	if (!a) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	a->cfg = *cfg;
	a->flows = flow_table_new(&a->cfg.flow, on_flow_end, a);
	if (!a->flows) {
		snprintf(err, errlen, "cannot allocate a flow table of %u flows (--max-flows)",
		         cfg->flow.max_flows);
		free(a);
		return NULL;
	}
	if (!cfg->no_dpi) {
		a->dpi = dpi_new(err, errlen);
		if (!a->dpi) {
			flow_table_free(a->flows);
			free(a);
			return NULL;
		}
	}
	a->q = malloc(sizeof(*a->q) * QUEUE_LEN);
	pthread_mutex_init(&a->mu, NULL);
	pthread_cond_init(&a->not_empty, NULL);
	pthread_cond_init(&a->not_full, NULL);
	pthread_cond_init(&a->idle, NULL);
	if (!a->q || pthread_create(&a->writer, NULL, writer_main, a) != 0) {
		snprintf(err, errlen, "cannot start the database writer thread");
		audit_free(a);
		return NULL;
	}
	a->writer_started = 1;
	return a;
}

void audit_free(struct audit *a)
{
	if (!a)
		return;
	stop_writer(a);
	flow_table_free(a->flows);
	if (a->dpi)
		dpi_free(a->dpi);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->not_empty);
	pthread_cond_destroy(&a->not_full);
	pthread_cond_destroy(&a->idle);
	free(a->q);
	free(a);
}

void audit_packet(struct audit *a, int dlt, const struct pcap_pkthdr *h, const uint8_t *data)
{
	struct pkt p;
	struct flow *f;
	struct flow_record *r;
	int is_new, from_orig;
	enum decode_status ds;

	p.caplen = h->caplen;
	p.wirelen = h->len;
	p.ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
	a->n.packets++;
	a->n.bytes += h->len;

	/* packet time drives expiry, about once a second */
	if (p.ts_us >= a->last_tick_us + 1000000) {
		if (a->last_tick_us)
			flow_expire(a->flows, p.ts_us);
		a->last_tick_us = p.ts_us;
	}

	ds = decode_packet(&a->cfg.decode, dlt, data, &p);
	for (uint32_t k = p.tun.kinds; k; k &= k - 1) /* each kind crossed, even if cut short */
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

	f = flow_track(a->flows, &p, &is_new, &from_orig);
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
	if (a->dpi && r->direction != DIR_NONE && !r->app.done && p.frag != PKT_FRAG_LATER)
		dpi_feed(a->dpi, (struct dpi_flow **)flow_user(f), r, &p, from_orig);
}

void audit_tick(struct audit *a, uint64_t now_us)
{
	flow_expire(a->flows, now_us);
	if (now_us > a->last_tick_us)
		a->last_tick_us = now_us;
}

struct checkpoint_ctx {
	struct audit *a;
	uint64_t cutoff_us;
	long written;
	int failed;
	char *err;
	size_t errlen;
};

/* flow_foreach callback: write one long-lived open flow as it stands. */
static void checkpoint_one(void *ctx, struct flow *f)
{
	struct checkpoint_ctx *c = ctx;
	struct flow_record *live = flow_rec(f), snap;
	struct verdict_result v;

	if (c->failed || live->direction == DIR_NONE || live->ts_start_us > c->cutoff_us)
		return;
	flow_snapshot(f, &snap);
	verdict_eval(c->a->cfg.matrix, &snap, &v);
	if (store_flow(c->a->cfg.store, c->a->cfg.run_id, &snap, &v, c->err, c->errlen) < 0) {
		c->failed = 1;
		return;
	}
	live->store_id = snap.store_id; /* the end replaces this row */
	c->written++;
}

long audit_checkpoint(struct audit *a, uint64_t now_us, uint64_t min_age_us,
                      const struct store_run *run, char *err, size_t errlen)
{
	struct checkpoint_ctx c = {.a = a,
	                           .cutoff_us = now_us > min_age_us ? now_us - min_age_us : 0,
	                           .err = err,
	                           .errlen = errlen};

	int failed;

	/* the store is the writer's: wait until it has drained the queue and
	 * rests, and keep it resting (mu held) while the snapshots are written */
	pthread_mutex_lock(&a->mu);
	wait_idle(a);
	flow_foreach(a->flows, checkpoint_one, &c);
	failed = c.failed || store_flush(a->cfg.store, err, errlen) < 0 ||
	         (run && store_run_end(a->cfg.store, a->cfg.run_id, run, err, errlen) < 0);
	pthread_mutex_unlock(&a->mu);
	return failed ? -1 : c.written;
}

int audit_finish(struct audit *a, enum flow_end reason, char *err, size_t errlen)
{
	flow_flush(a->flows, reason);
	stop_writer(a);
	if (store_flush(a->cfg.store, err, errlen) < 0)
		return -1;
	if (a->w.store_errors) {
		snprintf(err, errlen, "%s", a->store_err); /* run counts what was lost */
		return -1;
	}
	return 0;
}

const struct audit_counts *audit_counts(const struct audit *ca)
{
	struct audit *a = (struct audit *)ca; /* merging the writer's counters is not a change */

	a->n.malformed = a->n.truncated + a->n.bad_header;
	a->n.frags_orphan = flow_table_stats(a->flows)->frags_orphan;
	pthread_mutex_lock(&a->mu);
	memcpy(a->n.verdicts, a->w.verdicts, sizeof(a->n.verdicts));
	a->n.peer_unchecked = a->w.peer_unchecked;
	a->n.app_unchecked = a->w.app_unchecked;
	a->n.flows_in = a->w.flows_in;
	a->n.flows_out = a->w.flows_out;
	a->n.flows_local = a->w.flows_local;
	a->n.flows_stored = a->w.flows_stored;
	a->n.store_errors = a->w.store_errors;
	pthread_mutex_unlock(&a->mu);
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
	run->evicted = flow_table_stats(a->flows)->evicted;
	memcpy(run->encap, n->encap, sizeof(run->encap));
}
