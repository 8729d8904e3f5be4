/* writer.c: the database writer thread (see writer.h).
 *
 * Data structures: a ring of queued records that doubles (under the lock,
 * on the packet thread, rarely) up to hold_max; the open transaction's
 * records (tx: live only, at most tx_max, so the store never commits on its own;
 * read keeps none, as it never writes a transaction again, so its transactions are
 * longer: fewer roll-up upserts and rewritten pages per row);
 * and a map from a flow's seq to the row its last checkpoint wrote (so the
 * flow's later record replaces that row), open addressing on seq.
 * A record is judged and counted once, when taken off the queue; it is
 * written (and judged again with the matrix then in force) each time its
 * transaction is tried. A transaction that fails is rolled back and kept:
 * live tries it again every second, and meanwhile the queue absorbs the
 * ended flows; read counts its rows as not stored. flows_stored grows only
 * when a COMMIT succeeds. In live, a queue at hold_max drops its oldest
 * record for a new one (counted in c.flows_lost when it is an ended flow),
 * so the packet thread never waits; an ended flow whose checkpoint row the
 * writer already took keeps that row and is counted in c.flows_stale
 * instead (rowed: the flows whose snapshot was taken and whose end was
 * not yet, kept under the lock by take(), so that the packet thread can
 * tell; each flow counts once, in flows or in flows_lost; the writer then
 * forgets that flow's row id, so the row map holds open flows only). deq counts
 * dropped records as taken, so a progress or sync waiting for them is not
 * held up. A reload's matrix is recorded in the run's rules (run_rules) by
 * this thread, which owns the store, before its next batch. In read, a
 * thread that would wait for the writer (a full queue, writer_finish) judges
 * queued records and makes their rows (help_one) in a ring of slots keyed by
 * queue position, ahead of the writer, which takes a made slot instead of
 * doing that work: the capture-end tail runs on both cores. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "writer.h"

#define WRITER_BATCH  CFG_WRITER_BATCH /* taken off the queue at once */
#define PRUNE_BATCHES 10               /* retention batches per progress save */

#define PREP_SLOTS 256          /* rows the finishing thread makes ahead of the writer */
#define PREP_LEAD  WRITER_BATCH /* ... beyond the next batch, which the writer makes */

/* A queued record's verdict and row, made by help() (mu guards pos1, ready). */
struct prep {
	uint64_t pos1; /* queue position + 1 of the record; 0: free */
	int ready;
	struct verdict_result v;
	struct store_row *row;
};

struct idmap { /* seq -> row id; seq 0 = empty slot */
	uint64_t *seq;
	int64_t *id;
	uint32_t cap, n;
};

struct writer {
	struct writer_cfg cfg;
	pthread_t th;
	int started;
	int ckpt; /* store_ckpt_start done, store_ckpt_stop not yet */

	/* shared, guarded by mu */
	pthread_mutex_t mu;
	pthread_cond_t not_empty, not_full, synced;
	struct flow_record *q;
	uint32_t qcap, qhead, qcount;
	uint64_t enq, deq;
	int closing;
	double stop_at; /* writer_stopping: when a failing store is given up (monotonic s) */
	const struct rules_matrix *matrix, *in_use;
	struct store_run progress;
	int progress_pending, sync_pending;
	int rules_due;      /* a reload's matrix is to be recorded for the run */
	int rules_held;     /* recording it failed: again at the next progress */
	int64_t rules_when; /* when the reload put it in force (epoch seconds) */
	/* a reload whose rules were not yet recorded when the next came: written
	 * first; kept from being freed (writer_matrix_busy) until then */
	const struct rules_matrix *rules_prev;
	int64_t prev_when;
	uint64_t progress_after, sync_after;
	/* read: a thread that would wait for the writer (a full queue, the
	 * end) makes the rows of queued records ahead of it (help_one) */
	struct prep *prep;      /* PREP_SLOTS, a position's at position % PREP_SLOTS */
	char *prep_rows;        /* their rows, store_row_size() bytes each */
	uint64_t taken;         /* queue position of q[qhead]: records taken before it */
	uint64_t prep_next;     /* the next position help_one() may make */
	int helping;            /* prep is in use: every batch taken looks there */
	pthread_cond_t prep_cv; /* a slot was made ready or set free */
	struct audit_counts c;
	struct idmap rowed; /* seq of flows with a snapshot taken, their end not yet */
	uint64_t *forget;   /* seq of flows whose end was dropped after their snapshot was
	                     * taken: the writer forgets their row (ids) at its next take */
	uint32_t nforget, forget_cap;
	char news[640], first_err[512];
	char gaps[CFG_GAPS_TEXT]; /* the progress row's gaps, copied */

	/* writer thread only */
	struct flow_record batch[WRITER_BATCH];
	uint64_t batch_pos;     /* queue position of batch[0] */
	int batch_help;         /* helping when the batch was taken */
	struct flow_record *tx; /* live: the transaction's records, to write again */
	uint32_t ntx, tx_max;   /* rows in the transaction; rows it may take */
	uint64_t tx_new;        /* rows of tx that are new to the database */
	int failing;            /* the transaction must be written again */
	int down;               /* failing since the last commit (said once) */
	struct idmap ids;
	char err[400];
};

/* ---- the checkpoint row map ---------------------------------------------- */

static uint32_t id_slot(const struct idmap *m, uint64_t seq)
{
	uint32_t i = (uint32_t)(seq * 0x9E3779B97F4A7C15ull >> 32) & (m->cap - 1);

	while (m->seq[i] && m->seq[i] != seq)
		i = (i + 1) & (m->cap - 1);
	return i;
}

/* Row of seq's last checkpoint, 0 if none. */
static int64_t id_get(const struct idmap *m, uint64_t seq)
{
	uint32_t i;

	if (!m->cap)
		return 0;
	i = id_slot(m, seq);
	return m->seq[i] ? m->id[i] : 0;
}

/* Remember seq's row (grows the map at 1/2 load; on no memory, forgets:
 * the flow's end then adds a row instead of replacing). */
static void id_put(struct idmap *m, uint64_t seq, int64_t id)
{
	uint32_t i;

	if (2 * (m->n + 1) > m->cap) {
		struct idmap g = {.cap = m->cap ? 2 * m->cap : 1024};
		g.seq = calloc(g.cap, sizeof(*g.seq));
		g.id = calloc(g.cap, sizeof(*g.id));
		if (!g.seq || !g.id) {
			free(g.seq);
			free(g.id);
			return;
		}
		for (uint32_t k = 0; k < m->cap; k++)
			if (m->seq[k]) {
				uint32_t j = id_slot(&g, m->seq[k]);
				g.seq[j] = m->seq[k];
				g.id[j] = m->id[k];
				g.n++;
			}
		free(m->seq);
		free(m->id);
		*m = g;
	}
	i = id_slot(m, seq);
	if (!m->seq[i])
		m->n++;
	m->seq[i] = seq;
	m->id[i] = id;
}

/* Forget seq (backward-shift deletion keeps probe chains whole). */
static void id_del(struct idmap *m, uint64_t seq)
{
	uint32_t i, j;

	if (!m->cap || !m->seq[i = id_slot(m, seq)])
		return;
	m->seq[i] = 0;
	m->n--;
	for (j = (i + 1) & (m->cap - 1); m->seq[j]; j = (j + 1) & (m->cap - 1)) {
		uint64_t s = m->seq[j];
		int64_t id = m->id[j];
		m->seq[j] = 0;
		m->seq[id_slot(m, s)] = s;
		m->id[id_slot(m, s)] = id;
	}
}

/* ---- writing ------------------------------------------------------------- */

/* Write one record of the transaction as it stands, judged v (NULL: judge
 * it now with matrix m), with its row made by help() (NULL: made here). */
static int store_row(struct writer *w, const struct rules_matrix *m, const struct flow_record *q,
                     const struct verdict_result *v, const struct store_row *made)
{
	struct flow_record r = *q;
	struct verdict_result vv;
	int is_new;

	if (r.store_id < 0)
		r.store_id = id_get(&w->ids, r.seq);
	is_new = r.store_id <= 0;
	if (!v) {
		verdict_eval(m, &r, &vv);
		v = &vv;
	}
	if (store_flow_row(w->cfg.store, w->cfg.run_id, &r, v, made, w->err, sizeof(w->err)) < 0)
		return -1;
	w->tx_new += (uint64_t)is_new;
	if (r.end_reason == END_CHECKPOINT)
		id_put(&w->ids, r.seq, r.store_id);
	else if (!w->cfg.retry && q->store_id < 0)
		id_del(&w->ids, r.seq); /* never written again: forgotten now, not at the commit */
	return 0;
}

/* The store failed: roll back, and say so once (mu not held). */
static void fail(struct writer *w)
{
	store_rollback(w->cfg.store);
	w->tx_new = 0;
	w->failing = 1;
	if (w->down)
		return;
	w->down = 1;
	pthread_mutex_lock(&w->mu);
	if (!w->first_err[0])
		snprintf(w->first_err, sizeof(w->first_err), "%s", w->err);
	snprintf(w->news, sizeof(w->news), "%s; holding flows in memory%s", w->err,
	         w->cfg.retry ? ", retrying every second" : "");
	pthread_mutex_unlock(&w->mu);
}

/* Write the whole transaction again after a failure. */
static int rewrite_tx(struct writer *w, const struct rules_matrix *m)
{
	for (uint32_t i = 0; i < w->ntx; i++)
		if (store_row(w, m, &w->tx[i], NULL, NULL) < 0)
			return -1;
	return 0;
}

/* The transaction is committed: count its rows, forget ended flows' rows. */
static void committed(struct writer *w)
{
	for (uint32_t i = 0; w->tx && i < w->ntx; i++)
		if (w->tx[i].end_reason != END_CHECKPOINT && w->tx[i].store_id < 0)
			id_del(&w->ids, w->tx[i].seq);
	pthread_mutex_lock(&w->mu);
	w->c.flows_stored += w->tx_new;
	if (w->down)
		snprintf(w->news, sizeof(w->news),
		         "the database works again: the flows held in memory are stored");
	pthread_mutex_unlock(&w->mu);
	w->down = 0;
	w->failing = 0;
	w->ntx = 0;
	w->tx_new = 0;
}

/* Sleep a second, or less when woken (mu not held). */
static void pause_a_second(struct writer *w)
{
	struct timespec until;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&w->mu);
	pthread_cond_timedwait(&w->not_empty, &w->mu, &until);
	pthread_mutex_unlock(&w->mu);
}

/* Seconds on the monotonic clock. */
static double mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The run is stopping and its grace for a failing store is over (mu held). */
static int stop_over(const struct writer *w)
{
	return w->stop_at && mono_s() >= w->stop_at;
}

/* Commit the transaction; on failure retry (live) or count its rows as
 * not stored. Returns 0 when committed. */
static int commit_tx(struct writer *w)
{
	for (;;) {
		const struct rules_matrix *m;

		if (!w->failing && store_flush(w->cfg.store, w->err, sizeof(w->err)) == 0) {
			committed(w);
			return 0;
		}
		fail(w);
		pthread_mutex_lock(&w->mu);
		if (!w->cfg.retry || stop_over(w)) {
			/* past the stop's grace the store is given up: the rest is
			 * counted, never tried, so the stop cannot wait on it */
			int given_up = w->stop_at > 0;

			w->c.store_errors += w->ntx;
			pthread_mutex_unlock(&w->mu);
			w->ntx = 0;
			w->failing = given_up;
			w->down = given_up;
			return -1;
		}
		pthread_mutex_unlock(&w->mu);
		pause_a_second(w);
		pthread_mutex_lock(&w->mu);
		m = w->in_use = w->matrix;
		pthread_mutex_unlock(&w->mu);
		w->failing = rewrite_tx(w, m) < 0;
		pthread_mutex_lock(&w->mu);
		w->in_use = NULL;
		pthread_mutex_unlock(&w->mu);
	}
}

/* Judge r once (counted into c, handed to the judged hook; made: judged
 * and its row made by help()) and add it to the transaction; commit when
 * the transaction is full. */
static void add_row(struct writer *w, const struct rules_matrix *m, const struct flow_record *r,
                    struct audit_counts *c, const struct prep *made)
{
	struct verdict_result v;

	if (made)
		v = made->v;
	else
		verdict_eval(m, r, &v);
	if (r->end_reason != END_CHECKPOINT) {
		c->verdicts[v.kind]++;
		if (v.kind == VERDICT_EXPECTED && v.peer_unchecked)
			c->peer_unchecked++;
		if (v.kind == VERDICT_EXPECTED && v.app_unchecked)
			c->app_unchecked++;
		if (r->direction == DIR_IN)
			c->flows_in++;
		else if (r->direction == DIR_OUT)
			c->flows_out++;
		else
			c->flows_local++;
		if (w->cfg.judged)
			w->cfg.judged(w->cfg.judged_ctx, r, &v);
	}
	if (w->tx)
		w->tx[w->ntx] = *r;
	w->ntx++;
	if (!w->failing && store_row(w, m, r, &v, made ? made->row : NULL) < 0) {
		fail(w);
		if (!w->cfg.retry)
			commit_tx(w); /* read: count the transaction as lost, go on */
	}
	if (w->ntx == w->tx_max)
		commit_tx(w);
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
}

/* Forget the row ids of flows whose end was dropped (writer thread, mu
 * held): unless failing, every record taken before is written or given up,
 * so the id is in ids by now, and no record will need it. */
static void forget_rows(struct writer *w)
{
	if (!w->failing) {
		for (uint32_t i = 0; i < w->nforget; i++)
			id_del(&w->ids, w->forget[i]);
		w->nforget = 0;
	}
	w->c.rows_open = w->ids.n;
}

/* Take up to a batch off the queue, noting which flows now have a row
 * (their snapshot taken) and which no longer need noting (mu held). */
static uint32_t take(struct writer *w)
{
	uint32_t n = 0;

	forget_rows(w);
	w->batch_pos = w->taken;
	w->batch_help = w->helping;
	while (n < WRITER_BATCH && w->qcount) {
		const struct flow_record *r = &w->q[w->qhead];
		if (r->end_reason == END_CHECKPOINT)
			id_put(&w->rowed, r->seq, 1);
		else if (r->store_id < 0)
			id_del(&w->rowed, r->seq);
		w->batch[n++] = *r;
		w->qhead = (w->qhead + 1) % w->qcap;
		w->qcount--;
		w->taken++;
	}
	if (n)
		pthread_cond_broadcast(&w->not_full);
	return n;
}

/* Retention: a few batches of flows older than retain_s (the rest at the
 * next progress), each its own short transaction. */
static void prune(struct writer *w)
{
	double before = (double)time(NULL) - (double)w->cfg.retain_s;
	char err[512];
	long n = CFG_PRUNE_BATCH;

	for (int i = 0; i < PRUNE_BATCHES && n == CFG_PRUNE_BATCH; i++)
		if (store_prune(w->cfg.store, before, CFG_PRUNE_BATCH, &n, err, sizeof(err)) < 0)
			return; /* busy or failing: the next progress tries again */
}

/* Save the run's progress once what was queued before it is written (mu
 * held; released around SQL). */
static void write_progress(struct writer *w)
{
	struct store_run row = w->progress;
	char err[512], gaps[CFG_GAPS_TEXT];

	if (row.gaps) { /* w->gaps may change once mu is let go */
		snprintf(gaps, sizeof(gaps), "%s", row.gaps);
		row.gaps = gaps;
	}

	w->progress_pending = 0;
	w->rules_held = 0; /* a reload's rules that could not be recorded: try again */
	pthread_mutex_unlock(&w->mu);
	if (w->ntx)
		commit_tx(w);
	pthread_mutex_lock(&w->mu);
	row.flows = w->c.flows_stored;
	pthread_mutex_unlock(&w->mu);
	if (store_run_progress(w->cfg.store, w->cfg.run_id, &row, err, sizeof(err)) < 0)
		store_rollback(w->cfg.store); /* the next checkpoint tries again */
	if (w->cfg.retain_s)
		prune(w);
	pthread_mutex_lock(&w->mu);
}

/* Record the matrices reloads put in force in the run's rules, an earlier
 * one still waiting first (mu held; released around SQL); when that fails,
 * again at the next progress save, or at once when a reload came meanwhile
 * (the one that failed is then kept as rules_prev). */
static void write_rules(struct writer *w)
{
	const struct rules_matrix *m;
	char err[512];
	int64_t when;
	int rc;

	w->rules_due = 0;
	pthread_mutex_unlock(&w->mu);
	if (w->ntx)
		commit_tx(w);
	pthread_mutex_lock(&w->mu);
	for (;;) {
		m = w->rules_prev ? w->rules_prev : w->matrix;
		when = w->rules_prev ? w->prev_when : w->rules_when;
		w->in_use = m; /* a later reload may not free it meanwhile */
		pthread_mutex_unlock(&w->mu);
		rc = store_run_rules(w->cfg.store, w->cfg.run_id, m, when, err, sizeof(err));
		pthread_mutex_lock(&w->mu);
		w->in_use = NULL;
		if (rc < 0) {
			if (m != w->matrix && !w->rules_prev) { /* a reload came meanwhile */
				w->rules_prev = m;
				w->prev_when = when;
			}
			if (!w->rules_due)
				w->rules_due = w->rules_held = 1;
			return;
		}
		if (m != w->rules_prev)
			return;
		w->rules_prev = NULL; /* recorded: now the one in force */
	}
}

/* Wait for work; commit an open transaction after a quiet second (mu held). */
static void wait_work(struct writer *w)
{
	struct timespec until;

	if (!w->ntx) {
		pthread_cond_wait(&w->not_empty, &w->mu);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 1;
	if (pthread_cond_timedwait(&w->not_empty, &w->mu, &until) == 0 || w->qcount)
		return;
	w->in_use = w->matrix;
	pthread_mutex_unlock(&w->mu);
	commit_tx(w);
	pthread_mutex_lock(&w->mu);
	w->in_use = NULL;
}

/* ---- the finishing thread's help (read) ---------------------------------- */

/* The slot help() made for queue position pos, once ready; NULL if none
 * (writer thread, mu not held). */
static struct prep *claim(struct writer *w, uint64_t pos)
{
	struct prep *p = &w->prep[pos % PREP_SLOTS];

	pthread_mutex_lock(&w->mu);
	if (p->pos1 != pos + 1) {
		pthread_mutex_unlock(&w->mu);
		return NULL;
	}
	while (!p->ready)
		pthread_cond_wait(&w->prep_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
	return p;
}

/* The writer is done with slot p: free for help() again. */
static void release(struct writer *w, struct prep *p)
{
	pthread_mutex_lock(&w->mu);
	p->pos1 = 0;
	p->ready = 0;
	pthread_cond_broadcast(&w->prep_cv);
	pthread_mutex_unlock(&w->mu);
}

/* Make the slots help_one() fills (mu held); 0, or -1 without memory (the
 * writer then does it all). */
static int prep_alloc(struct writer *w)
{
	size_t rowsz = store_row_size();

	if (w->helping)
		return 0;
	free(w->prep);
	w->prep = calloc(PREP_SLOTS, sizeof(*w->prep));
	if (!w->prep_rows)
		w->prep_rows = malloc(PREP_SLOTS * rowsz);
	if (!w->prep || !w->prep_rows)
		return -1;
	for (int i = 0; i < PREP_SLOTS; i++)
		w->prep[i].row = (struct store_row *)(void *)(w->prep_rows + (size_t)i * rowsz);
	w->helping = 1; /* from the next batch taken, the writer looks at the slots */
	return 0;
}

/* read, on a thread that would wait for the writer (writer_put with a full
 * queue, writer_finish): judge the first queued record not yet made at
 * least PREP_LEAD positions ahead of the writer, and make its row, so that
 * the writer only stores it (mu held; let go while making). Returns 1 when
 * it made one, 0 when none is left to make, -1 when its slot is still taken
 * (the caller waits for the writer). */
static int help_one(struct writer *w)
{
	uint64_t pos = w->prep_next;
	struct prep *p;
	struct flow_record r;

	if (w->cfg.retry || prep_alloc(w) < 0)
		return 0;
	if (pos < w->taken + PREP_LEAD)
		pos = w->taken + PREP_LEAD; /* stay ahead of the writer */
	if (pos >= w->taken + w->qcount)
		return 0;
	p = &w->prep[pos % PREP_SLOTS];
	if (p->pos1) /* the position PREP_SLOTS back is not stored yet */
		return -1;
	r = w->q[(w->qhead + (pos - w->taken)) % w->qcap];
	p->pos1 = pos + 1;
	w->prep_next = pos + 1;
	pthread_mutex_unlock(&w->mu);
	verdict_eval(w->matrix, &r, &p->v);
	store_row_fill(p->row, w->cfg.run_id, &r, &p->v);
	pthread_mutex_lock(&w->mu);
	p->ready = 1;
	pthread_cond_broadcast(&w->prep_cv);
	return 1;
}

/* read, once nothing more is queued (writer_finish, on the thread that ran
 * the capture, idle otherwise): help until every queued record is taken or
 * made, so that the capture-end tail takes both cores. */
static void help(struct writer *w)
{
	int rc;

	pthread_mutex_lock(&w->mu);
	while ((rc = help_one(w)) != 0)
		if (rc < 0)
			pthread_cond_wait(&w->prep_cv, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

/* The writer thread: batches off the queue until closed and empty. */
static void *writer_main(void *arg)
{
	struct writer *w = arg;

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct audit_counts c;
		const struct rules_matrix *m;
		uint32_t n;

		if (w->progress_pending && w->deq >= w->progress_after) {
			write_progress(w);
			continue;
		}
		if (w->rules_due && !w->rules_held) {
			write_rules(w);
			continue;
		}
		if (w->sync_pending && w->deq >= w->sync_after) {
			pthread_mutex_unlock(&w->mu);
			if (w->ntx)
				commit_tx(w);
			pthread_mutex_lock(&w->mu);
			w->sync_pending = 0;
			pthread_cond_broadcast(&w->synced);
			continue;
		}
		n = take(w);
		if (!n) {
			if (w->closing)
				break;
			wait_work(w);
			continue;
		}
		m = w->in_use = w->matrix; /* a reload swaps it between batches */
		pthread_mutex_unlock(&w->mu);
		memset(&c, 0, sizeof(c));
		for (uint32_t i = 0; i < n; i++) {
			struct prep *made = w->batch_help ? claim(w, w->batch_pos + i) : NULL;
			add_row(w, m, &w->batch[i], &c, made);
			if (made)
				release(w, made);
		}
		pthread_mutex_lock(&w->mu);
		w->in_use = NULL;
		merge_counts(&w->c, &c);
		w->deq += n;
	}
	if (w->rules_due) /* held since a failure: one last try */
		write_rules(w);
	w->sync_pending = 0;
	pthread_cond_broadcast(&w->synced);
	pthread_mutex_unlock(&w->mu);
	if (w->ntx)
		commit_tx(w);
	pthread_mutex_lock(&w->mu);
	forget_rows(w); /* the transaction is committed or given up */
	pthread_mutex_unlock(&w->mu);
	return NULL;
}

/* Double the queue, keeping its order (mu held). -1 when out of memory. */
static int grow(struct writer *w)
{
	uint32_t cap = w->qcap * 2 > w->cfg.hold_max ? w->cfg.hold_max : w->qcap * 2;
	struct flow_record *q;

	if (cap <= w->qcap || !(q = malloc(sizeof(*q) * cap)))
		return -1;
	for (uint32_t i = 0; i < w->qcount; i++)
		q[i] = w->q[(w->qhead + i) % w->qcap];
	free(w->q);
	w->q = q;
	w->qcap = cap;
	w->qhead = 0;
	return 0;
}

/* Have the writer forget seq's checkpoint row at its next take (mu held; on
 * no memory it stays, a few bytes). At most one per flow whose snapshot
 * was taken, so bounded as rowed is. */
static void forget(struct writer *w, uint64_t seq)
{
	if (w->nforget == w->forget_cap) {
		uint32_t cap = w->forget_cap ? 2 * w->forget_cap : 256;
		uint64_t *f = realloc(w->forget, sizeof(*f) * cap);
		if (!f)
			return;
		w->forget = f;
		w->forget_cap = cap;
	}
	w->forget[w->nforget++] = seq;
}

/* Drop the oldest queued record to make room (mu held): an ended flow is
 * counted as lost, or as stale when a snapshot of it was taken (its
 * checkpoint row stays, the flow is among the stored); a snapshot is not
 * counted (the flow's end is still to come, and is written as a new row if
 * no snapshot was). */
static void drop_oldest(struct writer *w)
{
	const struct flow_record *r = &w->q[w->qhead];

	if (r->end_reason != END_CHECKPOINT && r->store_id < 0 && id_get(&w->rowed, r->seq)) {
		w->c.flows_stale++;
		id_del(&w->rowed, r->seq);
		forget(w, r->seq);
	} else if (r->end_reason != END_CHECKPOINT)
		w->c.flows_lost++;
	w->qhead = (w->qhead + 1) % w->qcap;
	w->qcount--;
	w->taken++;
	w->deq++;
}

/* ---- API ------------------------------------------------------------------ */

struct writer *writer_new(const struct writer_cfg *cfg, const struct rules_matrix *m, char *err,
                          size_t errlen)
{
	struct writer *w = calloc(1, sizeof(*w));

	if (!w) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	w->cfg = *cfg;
	if (w->cfg.hold_max < CFG_WRITER_QUEUE)
		w->cfg.hold_max = CFG_WRITER_QUEUE;
	w->matrix = m;
	w->qcap = CFG_WRITER_QUEUE;
	w->q = malloc(sizeof(*w->q) * w->qcap);
	w->tx_max = (w->cfg.retry ? CFG_STORE_BATCH : CFG_STORE_BATCH_READ) - 1;
	w->tx = w->cfg.retry ? malloc(sizeof(*w->tx) * w->tx_max) : NULL;
	pthread_mutex_init(&w->mu, NULL);
	{ /* timed waits on the monotonic clock: a wall clock set back does
	   * not stretch the quiet second or the retry pause */
		pthread_condattr_t ca;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&w->not_empty, &ca);
		pthread_condattr_destroy(&ca);
	}
	pthread_cond_init(&w->not_full, NULL);
	pthread_cond_init(&w->synced, NULL);
	pthread_cond_init(&w->prep_cv, NULL);
	if (!w->q || (w->cfg.retry && !w->tx)) {
		snprintf(err, errlen, "out of memory");
		writer_free(w);
		return NULL;
	}
	/* the WAL checkpointed on a thread of its own: commits never wait for it */
	if (store_ckpt_start(w->cfg.store, 0, err, errlen) < 0) {
		writer_free(w);
		return NULL;
	}
	w->ckpt = 1;
	if (pthread_create(&w->th, NULL, writer_main, w) != 0) {
		snprintf(err, errlen, "cannot start the database writer thread");
		writer_free(w);
		return NULL;
	}
	w->started = 1;
	return w;
}

int writer_put(struct writer *w, const struct flow_record *r, enum writer_full full)
{
	pthread_mutex_lock(&w->mu);
	while (w->qcount == w->qcap && grow(w) < 0) {
		if (full == WRITER_DROP_OLDEST) {
			drop_oldest(w);
			break;
		}
		if (full == WRITER_REFUSE) {
			pthread_mutex_unlock(&w->mu);
			return -1;
		}
		if (help_one(w) <= 0) /* read: rather than wait, work for the writer */
			pthread_cond_wait(&w->not_full, &w->mu);
	}
	w->q[(w->qhead + w->qcount) % w->qcap] = *r;
	w->qcount++;
	w->enq++;
	pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->mu);
	return 0;
}

void writer_progress(struct writer *w, const struct store_run *row)
{
	pthread_mutex_lock(&w->mu);
	w->progress = *row;
	if (row->gaps) {
		snprintf(w->gaps, sizeof(w->gaps), "%s", row->gaps);
		w->progress.gaps = w->gaps;
	}
	w->progress_pending = 1;
	w->progress_after = w->enq;
	pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->mu);
}

void writer_sync(struct writer *w)
{
	pthread_mutex_lock(&w->mu);
	w->sync_pending = 1;
	w->sync_after = w->enq;
	pthread_cond_signal(&w->not_empty);
	while (w->sync_pending && w->started)
		pthread_cond_wait(&w->synced, &w->mu);
	pthread_mutex_unlock(&w->mu);
}

void writer_set_matrix(struct writer *w, const struct rules_matrix *m)
{
	pthread_mutex_lock(&w->mu);
	if (w->rules_due && !w->rules_prev) { /* the current one is not recorded yet */
		w->rules_prev = w->matrix;
		w->prev_when = w->rules_when;
	}
	w->matrix = m;
	w->rules_due = 1;
	w->rules_held = 0;
	w->rules_when = (int64_t)time(NULL);
	pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->mu);
}

int writer_matrix_busy(struct writer *w, const struct rules_matrix *m)
{
	int busy;

	pthread_mutex_lock(&w->mu);
	busy = w->in_use == m || w->rules_prev == m;
	pthread_mutex_unlock(&w->mu);
	return busy;
}

int writer_news(struct writer *w, char *msg, size_t len)
{
	int any;

	pthread_mutex_lock(&w->mu);
	any = w->news[0] != '\0';
	if (any)
		snprintf(msg, len, "%s", w->news);
	w->news[0] = '\0';
	pthread_mutex_unlock(&w->mu);
	return any;
}

void writer_counts(struct writer *w, struct audit_counts *n)
{
	pthread_mutex_lock(&w->mu);
	memcpy(n->verdicts, w->c.verdicts, sizeof(n->verdicts));
	n->peer_unchecked = w->c.peer_unchecked;
	n->app_unchecked = w->c.app_unchecked;
	n->flows_in = w->c.flows_in;
	n->flows_out = w->c.flows_out;
	n->flows_local = w->c.flows_local;
	n->flows_stored = w->c.flows_stored;
	n->store_errors = w->c.store_errors;
	n->flows_lost = w->c.flows_lost;
	n->flows_stale = w->c.flows_stale;
	n->rows_open = w->c.rows_open;
	n->held = w->qcount;
	n->hold_max = w->cfg.hold_max;
	pthread_mutex_unlock(&w->mu);
}

void writer_stopping(struct writer *w, double grace_s)
{
	pthread_mutex_lock(&w->mu);
	w->stop_at = mono_s() + grace_s;
	pthread_cond_signal(&w->not_empty);
	pthread_mutex_unlock(&w->mu);
}

int writer_finish(struct writer *w, char *err, size_t errlen)
{
	if (w->started) {
		pthread_mutex_lock(&w->mu);
		w->closing = 1;
		if (!w->stop_at) /* not stopped by writer_stopping: the usual grace */
			w->stop_at = mono_s() + CFG_STOP_GRACE_S;
		pthread_cond_signal(&w->not_empty);
		pthread_mutex_unlock(&w->mu);
		help(w);
		pthread_join(w->th, NULL);
		w->started = 0;
	}
	if (store_flush(w->cfg.store, err, errlen) < 0) {
		char e2[256];
		w->ckpt = 0;
		store_ckpt_stop(w->cfg.store, NULL, e2, sizeof(e2)); /* the flush's error first */
		return -1;
	}
	w->ckpt = 0;
	if (store_ckpt_stop(w->cfg.store, NULL, err, errlen) < 0)
		return -1;
	if (w->c.store_errors) {
		snprintf(err, errlen, "%s", w->first_err); /* the run counts what was lost */
		return -1;
	}
	return 0;
}

void writer_free(struct writer *w)
{
	char err[512];

	if (!w)
		return;
	if (w->started)
		writer_finish(w, err, sizeof(err));
	else if (w->ckpt)
		store_ckpt_stop(w->cfg.store, NULL, err, sizeof(err));
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->not_empty);
	pthread_cond_destroy(&w->not_full);
	pthread_cond_destroy(&w->synced);
	pthread_cond_destroy(&w->prep_cv);
	free(w->ids.seq);
	free(w->ids.id);
	free(w->rowed.seq);
	free(w->rowed.id);
	free(w->forget);
	free(w->q);
	free(w->tx);
	free(w->prep);
	free(w->prep_rows);
	free(w);
}
