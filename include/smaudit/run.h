/* run.h: one run's life, shared by `read` and `live`.
 *
 * A run owns everything between a packet source and the database: the
 * frozen matrix, the store, the audit pipeline, the service-port bitmaps
 * that orient mid-stream flows, the findings tally and the run row.
 * run_open() opens them together (nothing is written unless all open),
 * run_packet() feeds packets, run_checkpoint() saves long-lived flows and
 * counters, run_close() ends the open flows and writes the run's final row.
 * Where the packets come from (files, stdin, an interface) is the caller's. */
#ifndef SMAUDIT_RUN_H
#define SMAUDIT_RUN_H

#include <stdint.h>
#include <stdio.h>

#include <pcap/pcap.h>

#include "smaudit/audit.h"
#include "smaudit/rules.h"
#include "smaudit/store.h"

struct run_cfg {
	const char *mode;   /* "read" or "live" */
	const char *source; /* file names, one per line, or the interface */
	const char *filter; /* BPF filter or NULL */
	const char *db;     /* database path */
	struct flow_cfg flow;
	struct decode_cfg decode; /* tunnel ports */
	int no_dpi;
	uint64_t retain_s; /* live --retain: prune flows older than this at checkpoints */
	/* live alerts (see audit_cfg); NULL = none */
	void (*alert)(void *ctx, const struct flow_record *r, const struct verdict_result *v);
	void *alert_ctx;
	const char
	    *eve; /* append EVE events here (eve.h) as flows end and alerts fire; NULL = none */
};

/* Failure classes of run_open, as the CLI maps them to exit codes. */
enum run_err {
	RUN_ERR_NONE = 0,
	RUN_ERR_DB,     /* the database could not be opened or written */
	RUN_ERR_MEMORY, /* the flow table, DPI or the writer could not be set up */
	RUN_ERR_OUTPUT, /* an output file (--eve) could not be opened */
};

struct run;

/* Open the store at cfg->db, add the run row (status running) with the
 * matrix m, and start the pipeline. Takes m in every case (freed on
 * failure). NULL with err and *why on failure; no row is left 'running'. */
struct run *run_open(const struct run_cfg *cfg, struct rules_matrix *m, enum run_err *why,
                     char *err, size_t errlen);

/* Account one captured packet of link type dlt (the hot path). */
void run_packet(struct run *r, int dlt, const struct pcap_pkthdr *h, const uint8_t *data);

/* Let time run to now_us (a quiet live link still ages flows). */
void run_tick(struct run *r, uint64_t now_us);

/* Put matrix m in force in place of the run's (SIGHUP): new flows and
 * flows judged from now on use it. Takes m in every case. Returns 0, or -1
 * with err (the old matrix stays). Packet thread only. */
int run_reload(struct run *r, struct rules_matrix *m, char *err, size_t errlen);

/* The capture's gaps so far (interface down or gone), 'START END why'
 * lines; saved with the row at checkpoints and at the end. */
void run_set_gaps(struct run *r, const char *gaps);

/* Note the capture's loss so far (pcap_stats drops), saved with the row. */
void run_set_dropped(struct run *r, uint64_t dropped);

/* Queue flows open longer than min_age_us as they stand, then the run
 * row's counters (status running, with a heartbeat); never waits on the
 * database. Returns the flows queued. */
long run_checkpoint(struct run *r, uint64_t now_us, uint64_t min_age_us);

/* 1 with msg when the database started failing or recovered since last
 * asked (live keeps the flows and retries every second). */
int run_store_news(struct run *r, char *msg, size_t len);

/* End every open flow with reason, commit, and write the final row with
 * status and error (NULL = none); a store failure turns the status into
 * 'failed' with its error. Returns 0, or -1 with err when the store failed. */
int run_close(struct run *r, enum flow_end reason, const char *status, const char *error, char *err,
              size_t errlen);

/* The earliest complete run that read a file with this SHA-256: 1 with
 * *prev set, 0 when none (or sha256 is empty), -1 with err. Call before
 * the first packet or after run_close (the store is the writer's once
 * flows end). */
int run_input_seen(struct run *r, const char *sha256, int64_t *prev, char *err, size_t errlen);

/* 1 when a complete run read a file of size bytes (so a file of that size
 * may be one read before: worth hashing up front), 0 when none, -1 with
 * err. When run_input_seen may be called. */
int run_input_size_seen(struct run *r, uint64_t size, char *err, size_t errlen);

/* The capture files the run reads, recorded by run_close (in[] is borrowed
 * until then; the caller may update it while reading). */
void run_set_inputs(struct run *r, const struct store_input *in, size_t n);

/* Free everything the run owns; call run_close first or open flows are lost. */
void run_free(struct run *r);

/* Runs that run_open() found 'running' with their process gone, and
 * marked 'interrupted'. */
long run_reaped(const struct run *r);

/* Reopen the output files (--eve) after log rotation; 0, or -1 with err
 * (the old file stays in use). */
int run_reopen_outputs(struct run *r, char *err, size_t errlen);

/* The run's id in the database. */
int64_t run_id(const struct run *r);

/* The run's status as last written ("running" until run_close). */
const char *run_status(const struct run *r);

/* The matrix in force (owned by the run). */
const struct rules_matrix *run_matrix(const struct run *r);

/* Pipeline counters so far. */
const struct audit_counts *run_counts(const struct run *r);

/* Flow table counters (evictions, peak). */
const struct flow_stats *run_flow_stats(const struct run *r);

/* Print the end-of-run summary (one count line, losses) to err_out and the
 * findings to out; secs is the run's wall time. */
void run_print_summary(const struct run *r, double secs, FILE *err_out, FILE *out);

#endif
