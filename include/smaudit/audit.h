/* audit.h: the pipeline that main wires: decode -> flow -> dpi -> verdict -> store.
 *
 * One struct audit per run. audit_packet() is the hot path: it decodes into
 * a stack view, tracks the flow, feeds DPI while it runs, and never
 * allocates, prints or touches SQL. Ended flows go through a queue to a
 * writer thread that judges them and writes them in batches; the store
 * belongs to that thread from audit_new() to audit_finish(). Nothing on
 * the packet thread waits for SQLite in live: beyond the flow table's size
 * (at least 4,096) of held flows, the oldest are counted lost; read waits,
 * as it must lose nothing. */
#ifndef SMAUDIT_AUDIT_H
#define SMAUDIT_AUDIT_H

#include <stdint.h>

#include <pcap/pcap.h>

#include "smaudit/dpi.h"
#include "smaudit/flow.h"
#include "smaudit/rules.h"
#include "smaudit/store.h"
#include "smaudit/verdict.h"

struct audit_cfg {
	struct flow_cfg flow;
	struct decode_cfg decode; /* tunnel ports */
	int no_dpi;               /* skip application detection */
	int lookahead;            /* read: hold 4 packets, prefetch their flows (audit.c) */
	int retry_store;          /* live: keep and retry flows the store refused */
	uint64_t retain_s;        /* live: prune flows older than this; 0 = keep */
	double stop_grace_s;      /* live: how long a stop waits for a failing
	                           * store; 0 = CFG_STOP_GRACE_S */
	const struct rules_matrix *matrix; /* frozen; borrowed (audit_set_matrix swaps it) */
	struct store *store;               /* borrowed */
	int64_t run_id;
	/* live: called on the packet thread for a non-expected flow at its
	 * first packet, and again when DPI's conclusion (or its end) changes
	 * the verdict to another non-expected one; NULL = no alerts */
	void (*alert)(void *ctx, const struct flow_record *r, const struct verdict_result *v);
	void *alert_ctx;
	/* called on the writer thread for every flow once judged (findings);
	 * NULL = none */
	void (*judged)(void *ctx, const struct flow_record *r, const struct verdict_result *v);
	void *judged_ctx;
};

/* Counters a run reports and stores (malformed = truncated + bad_header and
 * frags_orphan, from the flow table, are filled in by audit_counts()). */
struct audit_counts {
	uint64_t packets, bytes, malformed, truncated, bad_header, unknown_link, non_ip;
	uint64_t frags_orphan;
	uint64_t encap[ENCAP_COUNT]; /* packets that crossed each encapsulation kind */
	uint64_t flows_stored, flows_other, flows_in, flows_out, flows_local;
	uint64_t verdicts[VERDICT_PROTOCOL_MISMATCH + 1];
	uint64_t peer_unchecked; /* expected flows whose peer role had no addresses */
	uint64_t app_unchecked;  /* expected flows whose application DPI did not confirm */
	uint64_t store_errors;   /* flows that could not be stored */
	uint64_t flows_lost;     /* live: ended flows dropped, oldest first, when the
	                          * database could not take them and hold_max were held;
	                          * only those with no row (see flows_stale) */
	uint64_t flows_stale;    /* live: ended flows whose end was so dropped after their
	                          * checkpoint row was taken: the row stays (counted in
	                          * flows_stored), end_reason 'checkpoint' */
	uint64_t rows_open;      /* live: checkpoint rows the writer keeps the id of, for
	                          * their flow's end to replace (flows not yet ended) */
	uint64_t held;           /* ended flows waiting for the database */
	uint64_t hold_max;       /* records the writer may hold queued */
	uint64_t dpi_states;     /* nDPI states live now: flows still in detection */
};

struct audit;

/* New pipeline; NULL with err on failure (allocates the flow pool once). */
struct audit *audit_new(const struct audit_cfg *cfg, char *err, size_t errlen);

/* Free the pipeline; call audit_finish first or open flows are lost. */
void audit_free(struct audit *a);

/* Account one captured packet of link type dlt. With cfg.lookahead it is
 * decoded and held (its bytes copied for DPI; data is not read after this
 * returns), and worked on four packets later (in the order given) or
 * at the next audit_tick, audit_checkpoint, audit_sync, audit_set_matrix
 * or audit_finish, whichever comes first; counters and stats include a
 * packet once it is worked on. */
void audit_packet(struct audit *a, int dlt, const struct pcap_pkthdr *h, const uint8_t *data);

/* Let packet (or wall) time run to now_us: expire idle and closed flows. */
void audit_tick(struct audit *a, uint64_t now_us);

/* Queue every open flow touching a monitored host that started at least
 * min_age_us before now_us as it stands (end_reason 'checkpoint'), then
 * the running run's counters from run if not NULL (saved with a heartbeat
 * once those are committed); a flow's row is replaced when it ends (flows
 * stored counts rows, so it is counted once). Never waits on the store.
 * Returns the flows queued. */
long audit_checkpoint(struct audit *a, uint64_t now_us, uint64_t min_age_us,
                      const struct store_run *run);

/* Wait until every flow and snapshot queued so far is committed: the
 * checkpoint as a reader will see it (tests; live never waits). */
void audit_sync(struct audit *a);

/* 1 with msg when the store started failing or recovered since last asked. */
int audit_store_news(struct audit *a, char *msg, size_t len);

/* End every open flow with reason and commit. Returns 0, or -1 with err if
 * the store failed (the first store error is kept). */
int audit_finish(struct audit *a, enum flow_end reason, char *err, size_t errlen);

/* Put matrix m in force (packet thread): packets use it at once, the
 * writer from its next batch. The old one stays borrowed until
 * audit_matrix_busy() says the writer has let it go. */
void audit_set_matrix(struct audit *a, const struct rules_matrix *m);

/* 1 while the writer is judging a batch with matrix m. */
int audit_matrix_busy(struct audit *a, const struct rules_matrix *m);

/* Counters so far (of the packets worked on: see audit_packet). */
const struct audit_counts *audit_counts(const struct audit *a);

/* Flow table counters (evictions, peak). */
const struct flow_stats *audit_flow_stats(const struct audit *a);

/* Fill the counters part of a store_run from the pipeline. */
void audit_fill_run(const struct audit *a, struct store_run *run);

#endif
