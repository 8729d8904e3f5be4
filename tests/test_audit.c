/* test_audit.c: the audit pipeline (decode -> flow -> dpi -> verdict ->
 * store) driven from a shipped capture, without root: pcaps/demo.pcap is
 * fed packet by packet with the matrix of rules/demo.site into a real
 * SQLite file, a checkpoint is taken mid-capture, and the rows it wrote
 * must be replaced (same id) when their flows end, so the finished run is
 * the same as a run without a checkpoint and no flow is counted twice.
 * Expected flow counts come from pcaps/demo.expected (tshark's table). */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/audit.h"
#include "smaudit/capture.h"
#include "smaudit/rules.h"
#include "smaudit/store.h"
#include "testutil.h"

#define DEMO   "pcaps/demo.pcap"
#define MAX_CP 64 /* checkpoint rows remembered */

static char dir[64], db[128];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/audit.db", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(audit, .init = setup, .fini = teardown, .timeout = 60);

/* One run being fed: what a test needs to drive the pipeline by hand. */
struct drive {
	struct rules_matrix *m;
	struct store *st;
	struct audit *a;
	struct capture *cap;
	uint8_t svc[2 * 8192];
	struct audit_cfg cfg;
	uint64_t last_ts_us; /* time of the last packet fed */
};

/* Flows in pcaps/demo.expected (its lines less the header). */
static long expected_flows(void)
{
	FILE *f = fopen("pcaps/demo.expected", "r");
	char line[1024];
	long n = -1;

	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		n++;
	fclose(f);
	return n;
}

/* Open the matrix (rules/demo.site, host 127.0.0.10 as the CLI gives it),
 * the store, a run row, the pipeline and capture pcap; with live_max_flows,
 * as live runs it (a table of that many flows, a writer that drops its
 * oldest held records rather than wait); with lookahead, packets held and
 * their flows prefetched as read runs it; with no_dpi, without DPI. */
static void drive_open_cfg(struct drive *d, const char *pcap, uint32_t live_max_flows,
                           int lookahead, int no_dpi)
{
	const char *sites[] = {"rules/demo.site"}, *hosts[] = {"127.0.0.10"};
	struct store_run run = {.mode = "read", .source = DEMO, .hosts = "127.0.0.10/32"};
	char err[1024];

	memset(d, 0, sizeof(*d));
	cr_assert_eq(rules_build(&d->m, NULL, sites, 1, hosts, 1, NULL, 0, err, sizeof(err)), 0,
	             "%s", err);
	d->st = store_open(db, err, sizeof(err));
	cr_assert_not_null(d->st, "%s", err);
	cr_assert_eq(store_run_begin(d->st, &run, d->m, &d->cfg.run_id, err, sizeof(err)), 0, "%s",
	             err);
	rules_service_ports(d->m, d->svc, d->svc + 8192);
	d->cfg.flow.svc_tcp = d->svc;
	d->cfg.flow.svc_udp = d->svc + 8192;
	d->cfg.matrix = d->m;
	d->cfg.store = d->st;
	d->cfg.flow.max_flows = live_max_flows;
	d->cfg.retry_store = live_max_flows != 0;
	d->cfg.stop_grace_s = 2; /* a stop gives a failing store 2 s (live: 30) */
	d->cfg.lookahead = lookahead;
	d->cfg.no_dpi = no_dpi;
	d->a = audit_new(&d->cfg, err, sizeof(err));
	cr_assert_not_null(d->a, "%s", err);
	d->cap = capture_open_file(pcap, NULL, err, sizeof(err));
	cr_assert_not_null(d->cap, "%s", err);
}

/* drive_open_cfg without lookahead. */
static void drive_open_at(struct drive *d, const char *pcap, uint32_t live_max_flows)
{
	drive_open_cfg(d, pcap, live_max_flows, 0, 0);
}

/* drive_open_at on the demo capture, as read runs it. */
static void drive_open(struct drive *d)
{
	drive_open_at(d, DEMO, 0);
}

/* Feed packets up to packet number upto (0 = to the end), each from a
 * buffer spoiled after audit_packet returns; returns the
 * number of the last packet fed. */
static uint64_t drive_feed(struct drive *d, uint64_t upto)
{
	static uint8_t bytes[262144]; /* libpcap's largest snaplen */
	const struct pcap_pkthdr *h;
	const uint8_t *data;
	char err[512];
	int r = 1;

	while ((!upto || capture_pkt_no(d->cap) < upto) &&
	       (r = capture_next(d->cap, &h, &data, err, sizeof(err))) == 1) {
		cr_assert_leq(h->caplen, sizeof(bytes));
		memcpy(bytes, data, h->caplen);
		audit_packet(d->a, capture_datalink(d->cap), h, bytes);
		/* audit_packet's bytes are the caller's again once it returns (the
		 * lookahead holds a copy or only the decoded view): spoil them, so a
		 * later read of them changes the results */
		memset(bytes, 0xa5, h->caplen);
		d->last_ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
	}
	cr_assert_geq(r, 0, "%s", err);
	return capture_pkt_no(d->cap);
}

/* End every flow, close the run row and free everything; the final
 * counters into n if not NULL. */
static void drive_close_counts(struct drive *d, struct audit_counts *n)
{
	struct store_run run = {.status = "complete"};
	char err[1024];

	cr_assert_eq(audit_finish(d->a, END_CAPTURE_END, err, sizeof(err)), 0, "%s", err);
	if (n)
		*n = *audit_counts(d->a);
	audit_fill_run(d->a, &run);
	cr_assert_eq(store_run_end(d->st, d->cfg.run_id, &run, err, sizeof(err)), 0, "%s", err);
	capture_close(d->cap);
	audit_free(d->a);
	store_close(d->st);
	rules_free(d->m);
}

static void drive_close(struct drive *d)
{
	drive_close_counts(d, NULL);
}

/* One integer from a query on database db, with a run id bound to ?1. */
static long long q1_run(const char *sql, int64_t run_id)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(h));
	sqlite3_bind_int64(st, 1, run_id);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* The checkpoint rows of a run: ids and packet counts, n of them. */
static size_t checkpoint_rows(int64_t run_id, int64_t *ids, long long *pkts)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	size_t n = 0;

	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h,
	                                "SELECT id, orig_pkts + resp_pkts FROM flows WHERE "
	                                "run_id = ?1 AND end_reason = 'checkpoint' ORDER BY id",
	                                -1, &st, NULL),
	             SQLITE_OK);
	sqlite3_bind_int64(st, 1, run_id);
	while (sqlite3_step(st) == SQLITE_ROW) {
		cr_assert_lt(n, MAX_CP);
		ids[n] = sqlite3_column_int64(st, 0);
		pkts[n++] = sqlite3_column_int64(st, 1);
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
	return n;
}

/* A checkpoint as a reader sees it: queued, then committed by the writer. */
static long checkpoint(struct audit *a, uint64_t now_us, uint64_t min_age_us)
{
	long n = audit_checkpoint(a, now_us, min_age_us, NULL);
	audit_sync(a);
	return n;
}

Test(audit, checkpoint_rows_are_replaced_when_their_flows_end)
{
	struct drive d;
	char err[1024], sql[256];
	int64_t ids[MAX_CP];
	long long pkts[MAX_CP];
	long written, grew = 0;
	uint64_t fed, total;
	size_t n;

	drive_open(&d);
	fed = drive_feed(&d, 244); /* mid-capture, inside a connection (tshark: stream 13) */
	cr_assert_eq(fed, 244);

	/* a minimum age longer than the capture so far selects no flow */
	written = checkpoint(d.a, d.last_ts_us, d.last_ts_us);
	cr_assert_eq(written, 0, "%s", err);
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1 AND "
	                    "end_reason='checkpoint'",
	                    d.cfg.run_id),
	             0);

	/* age 0 selects every open flow touching the host */
	written = checkpoint(d.a, d.last_ts_us, 0);
	cr_assert_gt(written, 0, "%s", err);
	n = checkpoint_rows(d.cfg.run_id, ids, pkts);
	cr_assert_eq((long)n, written, "one row per flow written, committed at once");

	total = drive_feed(&d, 0);
	cr_assert_gt(total, fed);
	drive_close(&d);

	for (size_t i = 0; i < n; i++) {
		snprintf(sql, sizeof(sql),
		         "SELECT orig_pkts + resp_pkts FROM flows WHERE run_id=?1 AND id=%lld AND "
		         "end_reason != 'checkpoint'",
		         (long long)ids[i]);
		long long now = q1_run(sql, d.cfg.run_id);
		cr_assert_geq(now, pkts[i], "row %lld was replaced by its flow's end",
		              (long long)ids[i]);
		grew += now > pkts[i];
	}
	cr_assert_gt(grew, 0, "a flow open at the checkpoint was stored with its later packets");
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1 AND "
	                    "end_reason='checkpoint'",
	                    d.cfg.run_id),
	             0);
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1", d.cfg.run_id),
	             expected_flows());
	cr_assert_eq(q1_run("SELECT count(DISTINCT uid) FROM flows WHERE run_id=?1", d.cfg.run_id),
	             expected_flows(), "no flow stored twice");
	cr_assert_eq(q1_run("SELECT flows FROM runs WHERE id=?1", d.cfg.run_id), expected_flows(),
	             "the run counts each flow once");
}

Test(audit, a_checkpoint_changes_nothing_in_the_finished_run)
{
	struct drive d;
	char err[1024];
	int64_t with_cp, without_cp;

	drive_open(&d);
	drive_feed(&d, 244);
	cr_assert_gt(checkpoint(d.a, d.last_ts_us, 0), 0, "%s", err);
	drive_feed(&d, 0);
	drive_close(&d);
	with_cp = d.cfg.run_id;

	drive_open(&d);
	drive_feed(&d, 0);
	drive_close(&d);
	without_cp = d.cfg.run_id;

	cr_assert_eq(without_cp, with_cp + 1);
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1", with_cp),
	             expected_flows(), "no checkpoint row left beside its flow's final row");
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1", without_cp),
	             expected_flows());
	/* every row of the checkpointed run has its twin in the plain run
	 * (all the columns but id, run_id and the per-run random uid) */
	cr_assert_eq(q1_run("SELECT count(*) FROM flows a WHERE a.run_id=?1 AND EXISTS ("
	                    "SELECT 1 FROM flows b WHERE b.run_id=?1 + 1 AND "
	                    "b.ts_start=a.ts_start AND b.ts_end=a.ts_end AND b.proto=a.proto AND "
	                    "b.orig_addr=a.orig_addr AND b.orig_port=a.orig_port AND "
	                    "b.resp_addr=a.resp_addr AND b.resp_port=a.resp_port AND "
	                    "b.orig_pkts=a.orig_pkts AND b.resp_pkts=a.resp_pkts AND "
	                    "b.orig_bytes=a.orig_bytes AND b.resp_bytes=a.resp_bytes AND "
	                    "b.conn_state IS a.conn_state AND b.history IS a.history AND "
	                    "b.end_reason=a.end_reason AND b.app_proto IS a.app_proto AND "
	                    "b.rule_id IS a.rule_id AND b.verdict IS a.verdict AND "
	                    "b.reason IS a.reason)",
	                    with_cp),
	             expected_flows());
}

/* The lookahead (read holds packets, prefetching their flows, and works on
 * them later; with DPI their bytes are copied, without only their decoded
 * view is kept) changes nothing, with DPI or without (no_dpi): a
 * checkpoint mid-capture sees every packet fed before it (the held ones
 * are worked on first), and the finished run has the same rows, ended in
 * the same order, as one fed packet by packet; every packet is counted
 * (capinfos: 488). */
static void lookahead_changes_nothing(int no_dpi)
{
	struct audit_counts n;
	struct drive d;
	int64_t plain, ahead;
	long long cp_pkts[2];

	for (int la = 0; la <= 1; la++) {
		drive_open_cfg(&d, DEMO, 0, la, no_dpi);
		drive_feed(&d, 244);
		cr_assert_gt(checkpoint(d.a, d.last_ts_us, 0), 0);
		cp_pkts[la] = q1_run("SELECT sum(orig_pkts + resp_pkts) FROM flows WHERE run_id=?1",
		                     d.cfg.run_id);
		drive_feed(&d, 0);
		drive_close_counts(&d, &n);
		cr_assert_eq(n.packets, 488, "lookahead %d: every packet worked on", la);
	}
	ahead = d.cfg.run_id;
	plain = ahead - 1;
	cr_assert_eq(cp_pkts[1], cp_pkts[0], "the checkpoint counts the packets held");
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1", ahead), expected_flows());
	/* the checkpoint rows were replaced: compare the runs as checkpointed
	 * through the packets each stored, row by row in the order stored */
	cr_assert_eq(
	    q1_run("SELECT count(*) FROM flows a JOIN flows b ON b.run_id = ?1 - 1 AND "
	           "b.id - (SELECT min(id) FROM flows WHERE run_id = ?1 - 1) = "
	           "a.id - (SELECT min(id) FROM flows WHERE run_id = ?1) "
	           "WHERE a.run_id = ?1 AND b.ts_start=a.ts_start AND b.ts_end=a.ts_end AND "
	           "b.proto=a.proto AND b.orig_addr=a.orig_addr AND "
	           "b.orig_port=a.orig_port AND b.resp_addr=a.resp_addr AND "
	           "b.resp_port=a.resp_port AND b.orig_pkts=a.orig_pkts AND "
	           "b.resp_pkts=a.resp_pkts AND b.orig_bytes=a.orig_bytes AND "
	           "b.resp_bytes=a.resp_bytes AND b.orig_ip_bytes=a.orig_ip_bytes AND "
	           "b.resp_ip_bytes=a.resp_ip_bytes AND b.conn_state IS a.conn_state AND "
	           "b.history IS a.history AND b.end_reason=a.end_reason AND "
	           "b.app_proto IS a.app_proto AND b.server_name IS a.server_name AND "
	           "b.rule_id IS a.rule_id AND b.verdict IS a.verdict AND "
	           "b.reason IS a.reason",
	           ahead),
	    expected_flows(), "every row of the lookahead run has its twin, in order");
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1", plain), expected_flows());
}

Test(audit, the_lookahead_changes_nothing_in_checkpoints_or_the_finished_run)
{
	lookahead_changes_nothing(0);
}

Test(audit, the_lookahead_without_dpi_changes_nothing_either)
{
	lookahead_changes_nothing(1);
}

Test(audit, no_dpi_state_outlives_a_flow_closed_both_ways)
{
	struct drive d;
	uint64_t open_flows;

	/* demo.pcap ends with its TCP flows closed (FIN both ways or RST) but
	 * still in the table, inside their 5 s close delay; two of them carried
	 * payload nDPI never named. No more data can come on a closed flow, so
	 * its detection ends at the close, not at the flow's end: no nDPI
	 * state (with its TLS reassembly buffer) is left while they wait. */
	drive_open(&d);
	drive_feed(&d, 0);
	open_flows = audit_flow_stats(d.a)->active;
	cr_assert_gt(open_flows, 0, "flows are still in their close delay");
	cr_expect_eq(audit_counts(d.a)->dpi_states, 0, "%llu nDPI states held by closed flows",
	             (unsigned long long)audit_counts(d.a)->dpi_states);
	drive_close(&d);
}

#define STALE_K 20   /* long-lived flows of tests/gen/staleends.py */
#define STALE_A 2500 /* flood A: more than the writer takes in while it cannot write */
#define STALE_B 6000 /* flood B: more than the 4,096 it may hold besides */

/* Live with the database locked by another connection: the long-lived
 * flows' checkpoint rows were committed before, and their ends are among
 * the oldest held records dropped when a flood overflows what may be held.
 * Each flow counts once: a flow with a row is in runs.flows (its checkpoint
 * row stays, end_reason 'checkpoint': flows_stale), one without in
 * runs.flows_lost. Before, a lost end of a checkpointed flow counted in
 * both. */
Test(audit, a_lost_end_of_a_checkpointed_flow_counts_once)
{
	struct audit_counts n;
	struct drive d;
	char pcap[160];
	sqlite3 *lock;
	long long stored, lost;

	snprintf(pcap, sizeof(pcap), "%s/stale.pcap", dir);
	cr_assert_eq(tu_run(NULL, 0, "python3 tests/gen/staleends.py %d %d %d %s", STALE_K, STALE_A,
	                    STALE_B, pcap),
	             0);
	drive_open_at(&d, pcap, 100);
	drive_feed(&d, 2 * STALE_K);
	cr_assert_eq(checkpoint(d.a, d.last_ts_us, 1000000), STALE_K);
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1 AND "
	                    "end_reason='checkpoint'",
	                    d.cfg.run_id),
	             STALE_K);
	cr_assert_eq(sqlite3_open(db, &lock), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	drive_feed(&d, 0);
	cr_assert_gt(audit_counts(d.a)->flows_lost, 0, "the floods overflowed what may be held");
	cr_assert_eq(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	drive_close_counts(&d, &n);

	stored = q1_run("SELECT flows FROM runs WHERE id=?1", d.cfg.run_id);
	lost = q1_run("SELECT flows_lost FROM runs WHERE id=?1", d.cfg.run_id);
	cr_assert_eq(stored, q1_run("SELECT count(*) FROM flows WHERE run_id=?1", d.cfg.run_id),
	             "runs.flows counts rows");
	cr_assert_eq(stored + lost, STALE_K + STALE_A + STALE_B,
	             "every flow once: stored %lld + lost %lld", stored, lost);
	cr_assert_eq(q1_run("SELECT count(*) FROM flows WHERE run_id=?1 AND "
	                    "end_reason='checkpoint'",
	                    d.cfg.run_id),
	             STALE_K, "the long flows' ends were lost: their checkpoint rows stay");
	cr_assert_eq(n.flows_stale, STALE_K);
	/* every flow has ended: the writer keeps no checkpoint row id (before,
	 * one per flow whose end was dropped, for the rest of the run) */
	cr_assert_eq(n.rows_open, 0, "%llu checkpoint row ids kept for flows that ended",
	             (unsigned long long)n.rows_open);
}

/* A stop while the database is down and the writer already holds all it
 * may (issue 9: SIGTERM during an outage): the stop gives the store its
 * grace, then counts what it could not store and ends, the run failed with
 * the reason. Before, the last open flows waited for room in the writer's
 * queue while the writer retried for ever: the stop never ended. */
Test(audit, a_stop_during_an_outage_ends_after_its_grace, .timeout = 90)
{
	struct audit_counts n;
	struct store_run run = {.status = "complete"};
	struct drive d;
	char pcap[160], err[1024];
	sqlite3 *lock;

	snprintf(pcap, sizeof(pcap), "%s/stale.pcap", dir);
	cr_assert_eq(tu_run(NULL, 0, "python3 tests/gen/staleends.py %d %d %d %s", STALE_K, STALE_A,
	                    STALE_B, pcap),
	             0);
	drive_open_at(&d, pcap, 100);
	cr_assert_eq(sqlite3_open(db, &lock), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	drive_feed(&d, 0);
	cr_assert_gt(audit_counts(d.a)->flows_lost, 0, "the writer holds all it may");
	cr_assert_eq(audit_finish(d.a, END_SHUTDOWN, err, sizeof(err)), -1,
	             "a stop during an outage reports the flows it could not store");
	n = *audit_counts(d.a);
	cr_assert_gt(n.store_errors, 0);
	cr_assert_eq(n.flows_stored + n.store_errors + n.flows_lost, STALE_K + STALE_A + STALE_B,
	             "every flow counted once: stored %llu, not stored %llu, lost %llu",
	             (unsigned long long)n.flows_stored, (unsigned long long)n.store_errors,
	             (unsigned long long)n.flows_lost);
	cr_assert_eq(sqlite3_exec(lock, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(lock);
	audit_fill_run(d.a, &run);
	cr_assert_eq(store_run_end(d.st, d.cfg.run_id, &run, err, sizeof(err)), 0, "%s", err);
	capture_close(d.cap);
	audit_free(d.a);
	store_close(d.st);
	rules_free(d.m);
	cr_assert_eq(q1_run("SELECT flows FROM runs WHERE id=?1", d.cfg.run_id),
	             (long long)n.flows_stored, "runs.flows counts the rows stored");
}

/* The demo site's matrix plus, with extra, one more site file holding
 * the line extra; the caller frees it. */
static struct rules_matrix *demo_matrix(const char *extra)
{
	const char *sites[] = {"rules/demo.site", NULL}, *hosts[] = {"127.0.0.10"};
	struct rules_matrix *m;
	char site[160], err[1024];

	if (extra) {
		FILE *f;
		snprintf(site, sizeof(site), "%s/extra.site", dir);
		cr_assert_not_null(f = fopen(site, "w"));
		fprintf(f, "%s\n", extra);
		fclose(f);
		sites[1] = site;
	}
	cr_assert_eq(
	    rules_build(&m, NULL, sites, extra ? 2 : 1, hosts, 1, NULL, 0, err, sizeof(err)), 0,
	    "%s", err);
	return m;
}

/* Two reloads while the run's rules cannot be written: the first one's
 * write fails (a trigger another connection adds refuses rows of
 * run_rules) and waits for the next checkpoint; a second reload comes
 * first. Both are recorded: the rule only the first had is in run_rules,
 * in force from the first reload until the second. Before, the second
 * reload's write replaced the waiting one, and the rules that judged the
 * flows between the two reloads were never recorded. */
Test(audit, a_reload_whose_rules_wait_is_recorded_beside_the_next)
{
	struct rules_matrix *m1, *m2;
	struct drive d;
	sqlite3 *h;

	drive_open(&d);
	drive_feed(&d, 50);
	m1 = demo_matrix("rule only-m1 in tcp/7777 from any row 0 app any \"first reload\"");
	m2 = demo_matrix(NULL);
	cr_assert_eq(sqlite3_open(db, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h,
	                          "CREATE TRIGGER refuse BEFORE INSERT ON run_rules BEGIN "
	                          "SELECT RAISE(ABORT, 'refused'); END",
	                          NULL, NULL, NULL),
	             SQLITE_OK);
	audit_set_matrix(d.a, m1);
	audit_sync(d.a); /* the writer tried m1's rules, and failed */
	cr_assert_eq(q1_run("SELECT count(*) FROM run_rules WHERE run_id=?1 AND "
	                    "rule_id='only-m1'",
	                    d.cfg.run_id),
	             0);
	cr_assert_eq(sqlite3_exec(h, "DROP TRIGGER refuse", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	audit_set_matrix(d.a, m2);
	audit_sync(d.a);
	drive_feed(&d, 0);
	drive_close(&d);
	cr_assert_eq(q1_run("SELECT count(*) FROM run_rules WHERE run_id=?1 AND "
	                    "rule_id='only-m1' AND in_force_from IS NOT NULL AND "
	                    "in_force_until IS NOT NULL",
	                    d.cfg.run_id),
	             1, "the first reload's rules were never recorded");
	cr_assert_eq(q1_run("SELECT count(*) FROM run_rules WHERE run_id=?1 AND "
	                    "in_force_until IS NULL AND in_force_from IS NULL",
	                    d.cfg.run_id),
	             q1_run("SELECT count(*) FROM run_rules WHERE run_id=?1 AND rule_id<>'only-m1'",
	                    d.cfg.run_id),
	             "the rules all three sets share stay in force from the start");
	rules_free(m1);
	rules_free(m2);
}
