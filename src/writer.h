/* writer.h: the database writer thread of a run (private to src/).
 *
 * The packet thread hands ended flows and checkpoint snapshots over with
 * writer_put(), which never waits on SQLite in live: the queue grows (up to
 * hold_max records, the flow table's size) while the database is slow,
 * locked or failing, and beyond that the oldest held records are dropped,
 * the ended flows among them counted as lost (read waits instead). The writer thread judges each
 * record against the matrix, writes it in transactions, and keeps a failed transaction's records to
 * write them again (live: every second until it works; read: they are counted as not stored).
 * Counters say what is really committed. With retain_s, each progress save also prunes old flows, a
 * few small batches at a time. In read, the thread that queues records judges some and makes their
 * rows itself when it would otherwise wait for room, and at writer_finish. */
#ifndef SMAUDIT_WRITER_H
#define SMAUDIT_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/audit.h"

struct writer_cfg {
	struct store *store; /* borrowed; the writer's from writer_new to writer_finish */
	int64_t run_id;
	int retry;         /* keep failed rows and write them again (live) */
	uint32_t hold_max; /* records queued at most; then writer_put's `full` decides */
	uint64_t retain_s; /* at each progress, delete flows older than this; 0 = keep */
	/* called on the writer thread for every ended flow once judged */
	void (*judged)(void *ctx, const struct flow_record *r, const struct verdict_result *v);
	void *judged_ctx;
};

struct writer;

/* Start the writer with matrix m (borrowed). NULL with err on failure. */
struct writer *writer_new(const struct writer_cfg *cfg, const struct rules_matrix *m, char *err,
                          size_t errlen);

/* What writer_put does when hold_max records are queued. */
enum writer_full {
	WRITER_WAIT,       /* wait for room (read: lose nothing) */
	WRITER_REFUSE,     /* return -1 (a checkpoint snapshot: the next one will do) */
	WRITER_DROP_OLDEST /* drop the oldest queued record (live: capture goes on); an
	                    * ended flow dropped is counted in flows_lost, a snapshot
	                    * is not (its flow's end still comes) */
};

/* Queue a copy of r (an ended flow, or a snapshot with end_reason
 * END_CHECKPOINT); when hold_max records are queued, as full says.
 * Returns 0, or -1 when refused. */
int writer_put(struct writer *w, const struct flow_record *r, enum writer_full full);

/* Save row's counters with a heartbeat once everything queued so far is
 * committed (flows = rows really stored). */
void writer_progress(struct writer *w, const struct store_run *row);

/* Wait until everything queued so far is committed (tests; never on the
 * live packet path). */
void writer_sync(struct writer *w);

/* Put m in force from the next batch (a reload) and record its rules for
 * the run (store_run_rules: beside the earlier set, marked with the
 * time; an earlier reload's rules still waiting are written first); 1
 * while a batch is judged, or the rules written or waiting, with m. */
void writer_set_matrix(struct writer *w, const struct rules_matrix *m);
int writer_matrix_busy(struct writer *w, const struct rules_matrix *m);

/* 1 with msg when the store started failing or recovered since the last call. */
int writer_news(struct writer *w, char *msg, size_t len);

/* Copy the writer's counters (verdicts, directions, stored, errors, lost,
 * held and its bound) into n. */
void writer_counts(struct writer *w, struct audit_counts *n);

/* Write what is queued and stop the thread (a failing store gets
 * CFG_STOP_GRACE_S, unless writer_stopping set its grace). Returns 0, or -1
 * with err when flows could not be stored (their count in err). */
int writer_finish(struct writer *w, char *err, size_t errlen);

/* The run is stopping: a store still failing grace_s from now is given up
 * (what it holds and what comes after is counted as not stored), so a stop
 * during a database outage ends instead of waiting for it. */
void writer_stopping(struct writer *w, double grace_s);

/* Free (calls writer_finish if needed); safe with NULL. */
void writer_free(struct writer *w);

#endif
