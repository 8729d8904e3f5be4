/* store.h: the SQLite database: schema, migrations, runs, batched flows.
 *
 * The schema (db/schema.sql) is compiled into the binary. Opening creates
 * a new database or migrates an older one (PRAGMA user_version); a newer
 * one, or a file that is not an smaudit database, is refused. Flows are
 * written with one prepared statement, many rows per transaction, in WAL
 * mode with synchronous=NORMAL. Each batch also updates a per-hour roll-up
 * of the flows (flow_rollup, flow_peers: for `query coverage`; flow_peer_ports: for the
 * report's peer map) in the same transaction. */
#ifndef SMAUDIT_STORE_H
#define SMAUDIT_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "smaudit/record.h"
#include "smaudit/rules.h"
#include "smaudit/verdict.h"

#define STORE_SCHEMA_VERSION 1

struct store;

/* What a run row holds; strings are borrowed for the duration of a call. */
struct store_run {
	const char *mode;         /* "read" or "live" */
	const char *source;       /* file names, one per line, or interface */
	const char *filter;       /* BPF filter or NULL */
	const char *hosts;        /* comma separated CIDRs */
	const char *status;       /* running, complete, interrupted, failed */
	const char *error;        /* first error or warning, or NULL */
	const char *ndpi_version; /* nDPI library version, or NULL */
	const char *gaps;         /* live: capture gaps, 'START END why' lines, or NULL */
	uint64_t packets, bytes, malformed, unknown_link, non_ip, dropped;
	uint64_t flows, flows_other, evicted;
	uint64_t flows_lost;         /* live: ended flows dropped while the database was down */
	uint64_t encap[ENCAP_COUNT]; /* packets per encapsulation kind crossed */
};

/* Open or create path for writing; NULL with err on failure. */
struct store *store_open(const char *path, char *err, size_t errlen);

/* From now on checkpoint the WAL on a thread of its own, with a second
 * connection, whenever a commit leaves it holding wal_kib KiB (0: the
 * default, CFG_STORE_WAL_KIB), so that a commit never waits for a
 * checkpoint's copy and fdatasync; the WAL stays under twice that plus a
 * transaction (see store.c's store_wal_hook). Call on the thread that
 * owns s. Returns 0 or -1 with err. */
int store_ckpt_start(struct store *s, int wal_kib, char *err, size_t errlen);

/* Stop the checkpointer (commits checkpoint themselves again, as before
 * store_ckpt_start); *runs (if not NULL) gets the checkpoints it ran.
 * Returns 0, or -1 with err naming the first checkpoint error (SQLITE_BUSY
 * is none); no-op returning 0 when not started. */
int store_ckpt_stop(struct store *s, long *runs, char *err, size_t errlen);

/* Commit what is pending, stop the checkpointer and close (the last
 * connection: it checkpoints the WAL and syncs); safe with NULL. */
void store_close(struct store *s);

/* Insert a run row (status running) and the rules in force; *id gets its id.
 * Returns 0 or -1 with err. */
int store_run_begin(struct store *s, const struct store_run *run, const struct rules_matrix *m,
                    int64_t *id, char *err, size_t errlen);

/* Matrix m came into force for run id at when (epoch seconds: a reload).
 * In run_rules, the run's rules in force get in_force_until = when, then
 * m's rules are added or updated with in_force_from = when, or keep theirs
 * when a rule's definition did not change (so a rule in both sets reads as
 * in force throughout, one removed keeps its row and the flows it matched,
 * one changed shows its new definition); runs.roles becomes m's. One
 * transaction. Returns 0 or -1 with err (nothing changed). */
int store_run_rules(struct store *s, int64_t id, const struct rules_matrix *m, int64_t when,
                    char *err, size_t errlen);

/* Queue one flow for run id (committed in batches). A record with a
 * store_id (written before, at a checkpoint) replaces that row; otherwise a
 * row is added: a checkpoint row (END_CHECKPOINT) at once, with
 * rec->store_id set; other new rows are held and inserted several at a time
 * (at the latest by the commit), in the order they came. Returns 0 or -1
 * with err; on -1 (which may name a row held by an earlier call) the open
 * batch is lost: call store_rollback. */
int store_flow(struct store *s, int64_t id, struct flow_record *rec, const struct verdict_result *v,
               char *err, size_t errlen);

/* A flow row's text made ready for store_flow_row on any thread (no
 * SQLite): opaque, store_row_size() bytes, owned by the caller. */
struct store_row;
size_t store_row_size(void);

/* Make row from rec as judged v (NULL: not judged) for run id. */
void store_row_fill(struct store_row *row, int64_t id, const struct flow_record *rec,
                    const struct verdict_result *v);

/* store_flow, with row made by store_row_fill from the same record, run and
 * verdict (NULL: made here, as store_flow does). */
int store_flow_row(struct store *s, int64_t id, struct flow_record *rec,
                   const struct verdict_result *v, const struct store_row *row, char *err,
                   size_t errlen);

/* Commit the open batch. Returns 0 or -1 with err (the batch is then
 * rolled back: its rows are lost, and not counted as committed). */
int store_flush(struct store *s, char *err, size_t errlen);

/* Roll back the open batch (after a failed insert or commit); the rows
 * queued since the last commit are gone and must be written again. */
void store_rollback(struct store *s);

/* Flow rows added (a checkpointed flow's later replacements not counted
 * again) in transactions that committed: what a run may claim as stored.
 * Read it once the writer has stopped. */
uint64_t store_flows_committed(const struct store *s);

/* Commit pending flows and update the run row with final counters. Returns 0 or -1. */
int store_run_end(struct store *s, int64_t id, const struct store_run *run, char *err,
                  size_t errlen);

/* Who writes a run, as runs.pid, runs.hostname, runs.heartbeat hold it. */
struct store_owner {
	long pid;              /* 0 when unknown (an older database) */
	const char *hostname;  /* NULL when unknown */
	const char *heartbeat; /* last checkpoint, or the start */
};

/* Record the process writing run id (pid on host) and its first heartbeat. */
int store_run_owner(struct store *s, int64_t id, long pid, const char *host, char *err,
                    size_t errlen);

/* Save the run's capture gaps text (NULL = none). Returns 0 or -1 with err. */
int store_run_gaps(struct store *s, int64_t id, const char *gaps, char *err, size_t errlen);

/* Commit pending flows and save a running run's counters with a heartbeat
 * (finished stays NULL). Returns 0 or -1 with err. */
int store_run_progress(struct store *s, int64_t id, const struct store_run *run, char *err,
                       size_t errlen);

/* Mark 'interrupted' every run still 'running' for which gone(ctx, owner)
 * says its process is no more (finished = its last heartbeat, error says
 * why); *reaped gets how many. Returns 0 or -1 with err. */
int store_runs_reap(struct store *s, int (*gone)(void *ctx, const struct store_owner *o), void *ctx,
                    long *reaped, char *err, size_t errlen);

/* Delete up to limit flows that started before before (epoch seconds), the
 * oldest first, in one transaction, adding them to their runs' pruned
 * count; *deleted gets how many (fewer than limit: nothing older is left).
 * Returns 0 or -1 with err (nothing deleted). */
int store_prune(struct store *s, double before, long limit, long *deleted, char *err,
                size_t errlen);

/* One capture file of a read run, as the inputs table holds it. */
struct store_input {
	const char *path;   /* as given; "stdin" */
	const char *sha256; /* NULL or "": unknown */
	uint64_t size, packets;
	uint64_t first_us, last_us; /* packet times; first_us 0 = no packet */
	int link_type;
	int64_t skipped; /* run it was already read in (--skip-seen), else 0 */
};

/* Record input number seq (from 1) of run id. Not while flows are being
 * written (the writer owns the store). Returns 0 or -1 with err. */
int store_input_add(struct store *s, int64_t id, int seq, const struct store_input *in, char *err,
                    size_t errlen);

/* The earliest complete run other than id that read a file with this
 * SHA-256: 1 with *run set, 0 when none, -1 with err. */
int store_input_seen(struct store *s, int64_t id, const char *sha256, int64_t *run, char *err,
                     size_t errlen);

/* 1 when a complete run other than id read a file of size bytes (with a
 * hash, not skipped): only then can a file of that size be one read
 * before. 0 when none, -1 with err. */
int store_input_size_seen(struct store *s, int64_t id, uint64_t size, char *err, size_t errlen);

/* Seconds in one bucket of the flow roll-up (flow_rollup.hour). */
#define STORE_ROLLUP_SECONDS 3600

/* The roll-up bucket of time ts (epoch seconds, as stored): the k with
 * k * STORE_ROLLUP_SECONDS <= ts < (k + 1) * STORE_ROLLUP_SECONDS, exactly. */
int64_t store_hour(double ts);

/* The day of roll-up hour h: h = day * 24 + *bit, 0 <= *bit < 24. */
int64_t store_day(int64_t hour, int *bit);

/* Current UTC time as ISO 8601 ("2026-11-24T13:38:15Z") into buf (>= 32 bytes). */
const char *store_now_iso(char *buf, size_t len);

#endif
