/* run.c: one run's life (see run.h).
 *
 * Owner of the matrix, the store, the audit pipeline, the service-port
 * bitmaps, the findings tally and the run row; `read` and `live` differ only
 * in where their packets come from. Order of opening: hosts text, store,
 * run row, pipeline; a failure after the row exists marks it failed, so no
 * run is left 'running' by a set-up error. Closing ends the open flows,
 * stops the writer, and writes the row's final counters, which are the
 * writer's count of rows really stored. Before its own row, a run marks
 * 'interrupted' the runs left 'running' by a process that is gone (kill -9,
 * power loss): its own host's by pid, others' by a stale heartbeat. */
#define _GNU_SOURCE /* strptime, timegm */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#include "smaudit/dpi.h"
#include "smaudit/eve.h"
#include "smaudit/findings.h"
#include "smaudit/run.h"
#include "smaudit/store.h"

#define SVC_BITMAP 8192 /* one bit per port */

struct run {
	struct rules_matrix *matrix;
	struct rules_matrix *retired; /* replaced by a reload, until the writer lets it go */
	struct store *store;
	struct audit *audit;
	struct findings *findings;
	struct eve_sink *eve; /* --eve FILE, or NULL */
	void (*alert)(void *ctx, const struct flow_record *r, const struct verdict_result *v);
	void *alert_ctx; /* the caller's alert hook (live's alert lines) */
	uint8_t *svc;    /* TCP then UDP service-port bitmaps */
	char *hosts;     /* monitored hosts as stored: "a/32,b/128" */
	char hostname[256];
	char gaps[CFG_GAPS_TEXT]; /* capture gaps so far */
	const char *db;
	int64_t id;
	uint64_t dropped;
	long reaped;                      /* runs found 'running' with their process gone */
	struct store_run row;             /* strings borrowed from cfg and this struct */
	const struct store_input *inputs; /* borrowed from the caller until run_close */
	size_t ninputs;
	int closed;             /* run_close has stopped the writer */
	uint64_t committed;     /* then: ended flows whose rows were committed */
	char lost_err[1024];    /* then: the store's error with the count of flows lost */
	char dropped_warn[384]; /* then: runs.error when live dropped held flows */
};

/* The monitored hosts of m as "a/32,b/128" (allocated: a site may list many). */
static char *hosts_text(const struct rules_matrix *m)
{
	const struct sm_cidr *h;
	size_t n = rules_hosts(m, &h), len = 1, off = 0;
	char *out;

	len += n * (ADDR_STRLEN + 5);
	out = malloc(len);
	if (!out)
		return NULL;
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char c[ADDR_STRLEN + 8];
		off += (size_t)snprintf(out + off, len - off, "%s%s", i ? "," : "",
		                        cidr_str(&h[i], c, sizeof(c)));
	}
	return out;
}

/* Seconds since an ISO 8601 UTC time as the store writes it; -1 if unreadable. */
static double iso_age(const char *iso)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!iso || !strptime(iso, "%Y-%m-%dT%H:%M:%SZ", &tm))
		return -1;
	return difftime(time(NULL), timegm(&tm));
}

/* 1 when process pid is not an smaudit any more (gone, or the pid reused). */
static int pid_gone(long pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (pid == (long)getpid())
		return 0;
	if (kill((pid_t)pid, 0) < 0 && errno == ESRCH)
		return 1;
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return 0; /* alive, and no /proc to tell more */
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "smaudit", 7) != 0;
}

/* store_runs_reap's test: is the process that writes a 'running' run gone? */
static int owner_gone(void *ctx, const struct store_owner *o)
{
	const struct run *r = ctx;

	if (o->pid > 0 && o->hostname && !strcmp(o->hostname, r->hostname))
		return pid_gone(o->pid);
	/* another host, or a run from before pids were kept: only its age tells */
	return iso_age(o->heartbeat) > CFG_STALE_RUN_S;
}

/* audit's judged hook (writer thread): tally the findings, append the
 * flow's EVE event. */
static void on_judged(void *ctx, const struct flow_record *r, const struct verdict_result *v)
{
	struct run *run = ctx;

	findings_add(run->findings, r, v);
	if (run->eve)
		eve_sink_flow(run->eve, r, v);
}

/* audit's alert hook: the caller's (alert lines), and the EVE alert event. */
static void on_alert(void *ctx, const struct flow_record *r, const struct verdict_result *v)
{
	struct run *run = ctx;

	if (run->alert)
		run->alert(run->alert_ctx, r, v);
	if (run->eve)
		eve_sink_alert(run->eve, r, v);
}

/* Copy the pipeline's counters into the run row; once closed, the flows
 * are those the store really committed. */
static void fill_row(struct run *r)
{
	audit_fill_run(r->audit, &r->row);
	r->row.dropped = r->dropped;
	if (r->closed)
		r->row.flows = r->committed;
}

/* After the writer stopped: count what was committed; when flows were
 * lost, name how many next to the store's error (into r->lost_err). */
static void count_committed(struct run *r, const char *store_err)
{
	const struct audit_counts *n = audit_counts(r->audit);
	uint64_t judged = n->flows_in + n->flows_out + n->flows_local;

	r->closed = 1;
	r->committed = store_flows_committed(r->store);
	if (r->committed < judged)
		snprintf(r->lost_err, sizeof(r->lost_err), "%s (%llu of %llu flows not stored)",
		         store_err && *store_err ? store_err : "database",
		         (unsigned long long)(judged - r->committed), (unsigned long long)judged);
}

/* Free the matrix a reload replaced once the writer no longer judges with it. */
static int free_retired(struct run *r)
{
	if (r->retired && audit_matrix_busy(r->audit, r->retired))
		return -1;
	rules_free(r->retired);
	r->retired = NULL;
	return 0;
}

struct run *run_open(const struct run_cfg *cfg, struct rules_matrix *m, enum run_err *why,
                     char *err, size_t errlen)
{
	struct run *r = calloc(1, sizeof(*r));
	struct audit_cfg acfg;
	char e2[256];

	*why = RUN_ERR_MEMORY;
	if (!r) {
		rules_free(m);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	r->matrix = m;
	r->db = cfg->db;
	r->hosts = hosts_text(m);
	r->svc = calloc(2, SVC_BITMAP);
	r->findings = findings_new();
	if (!r->hosts || !r->svc || !r->findings) {
		snprintf(err, errlen, "out of memory");
		run_free(r);
		return NULL;
	}
	rules_service_ports(m, r->svc, r->svc + SVC_BITMAP);
	r->alert = cfg->alert;
	r->alert_ctx = cfg->alert_ctx;
	*why = RUN_ERR_OUTPUT;
	if (cfg->eve && !(r->eve = eve_sink_open(cfg->eve, err, errlen))) {
		run_free(r);
		return NULL;
	}

	*why = RUN_ERR_DB;
	r->store = store_open(cfg->db, err, errlen);
	if (!r->store) {
		run_free(r);
		return NULL;
	}
	r->row.mode = cfg->mode;
	r->row.source = cfg->source;
	r->row.filter = cfg->filter;
	r->row.hosts = r->hosts;
	r->row.status = "running";
	r->row.ndpi_version = dpi_version();
	if (gethostname(r->hostname, sizeof(r->hostname) - 1) < 0)
		snprintf(r->hostname, sizeof(r->hostname), "?");
	if (store_runs_reap(r->store, owner_gone, r, &r->reaped, err, errlen) < 0 ||
	    store_run_begin(r->store, &r->row, m, &r->id, err, errlen) < 0 ||
	    store_run_owner(r->store, r->id, (long)getpid(), r->hostname, err, errlen) < 0) {
		run_free(r);
		return NULL;
	}

	memset(&acfg, 0, sizeof(acfg));
	acfg.flow = cfg->flow;
	acfg.flow.svc_tcp = r->svc;
	acfg.flow.svc_udp = r->svc + SVC_BITMAP;
	acfg.decode = cfg->decode;
	acfg.no_dpi = cfg->no_dpi;
	acfg.retry_store = !strcmp(cfg->mode, "live");
	acfg.lookahead = !strcmp(cfg->mode, "read");
	acfg.retain_s = cfg->retain_s;
	acfg.matrix = m;
	acfg.store = r->store;
	acfg.run_id = r->id;
	if (cfg->alert || r->eve) {
		acfg.alert = on_alert;
		acfg.alert_ctx = r;
	}
	acfg.judged = on_judged;
	acfg.judged_ctx = r;
	r->audit = audit_new(&acfg, err, errlen);
	if (!r->audit) {
		*why = RUN_ERR_MEMORY;
		r->row.status = "failed";
		r->row.error = err;
		store_run_end(r->store, r->id, &r->row, e2, sizeof(e2));
		run_free(r);
		return NULL;
	}
	*why = RUN_ERR_NONE;
	return r;
}

void run_packet(struct run *r, int dlt, const struct pcap_pkthdr *h, const uint8_t *data)
{
	audit_packet(r->audit, dlt, h, data);
}

void run_tick(struct run *r, uint64_t now_us)
{
	audit_tick(r->audit, now_us);
	free_retired(r);
}

int run_reload(struct run *r, struct rules_matrix *m, char *err, size_t errlen)
{
	char *hosts;

	if (free_retired(r) < 0) {
		rules_free(m);
		snprintf(err, errlen, "the previous reload is still in use; try again");
		return -1;
	}
	hosts = hosts_text(m);
	if (!hosts) {
		rules_free(m);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	memset(r->svc, 0, 2 * SVC_BITMAP);
	rules_service_ports(m, r->svc, r->svc + SVC_BITMAP);
	audit_set_matrix(r->audit, m);
	r->retired = r->matrix;
	r->matrix = m;
	free(r->hosts);
	r->hosts = hosts;
	r->row.hosts = hosts;
	return 0;
}

void run_set_dropped(struct run *r, uint64_t dropped)
{
	r->dropped = dropped;
}

long run_checkpoint(struct run *r, uint64_t now_us, uint64_t min_age_us)
{
	fill_row(r);
	r->row.status = "running";
	return audit_checkpoint(r->audit, now_us, min_age_us, &r->row);
}

int run_store_news(struct run *r, char *msg, size_t len)
{
	return audit_store_news(r->audit, msg, len);
}

/* Record the inputs given by run_set_inputs (the writer has stopped). */
static int write_inputs(struct run *r, char *err, size_t errlen)
{
	for (size_t i = 0; i < r->ninputs; i++)
		if (store_input_add(r->store, r->id, (int)i + 1, &r->inputs[i], err, errlen) < 0)
			return -1;
	return 0;
}

int run_close(struct run *r, enum flow_end reason, const char *status, const char *error, char *err,
              size_t errlen)
{
	int rc = 0;

	r->row.status = status;
	r->row.error = error;
	if (audit_finish(r->audit, reason, err, errlen) < 0) {
		r->row.status = "failed";
		r->row.error = err;
		rc = -1;
	}
	count_committed(r, rc < 0 ? err : NULL);
	if (r->lost_err[0]) {
		snprintf(err, errlen, "%s", r->lost_err);
		r->row.status = "failed";
		r->row.error = err;
		rc = -1;
	}
	if (rc == 0 && r->eve && eve_sink_errors(r->eve)) {
		snprintf(err, errlen, "%llu EVE events could not be written",
		         (unsigned long long)eve_sink_errors(r->eve));
		r->row.status = "failed";
		r->row.error = err;
		rc = -1;
	}
	fill_row(r);
	if ((r->row.flows_lost || audit_counts(r->audit)->flows_stale) && !r->row.error) {
		const struct audit_counts *n = audit_counts(r->audit);
		int len = snprintf(r->dropped_warn, sizeof(r->dropped_warn),
		                   "%llu ended flows lost: the database could not take them while "
		                   "%llu were held in memory (the oldest went first)",
		                   (unsigned long long)r->row.flows_lost,
		                   (unsigned long long)n->hold_max);
		if (n->flows_stale && len > 0 && (size_t)len < sizeof(r->dropped_warn))
			snprintf(r->dropped_warn + len, sizeof(r->dropped_warn) - (size_t)len,
			         "; %llu more lost their end and keep their last checkpoint row "
			         "(end_reason 'checkpoint')",
			         (unsigned long long)n->flows_stale);
		r->row.error = r->dropped_warn;
	}
	if (r->row.gaps) {
		char e3[512];
		store_run_gaps(r->store, r->id, r->row.gaps, e3, sizeof(e3));
	}
	if (rc == 0 && write_inputs(r, err, errlen) < 0) {
		r->row.status = "failed";
		r->row.error = err;
		rc = -1;
	}
	if (rc < 0) {
		char e2[512];
		store_run_end(r->store, r->id, &r->row, e2, sizeof(e2));
		return -1;
	}
	if (store_run_end(r->store, r->id, &r->row, err, errlen) < 0) {
		r->row.status = "failed";
		return -1;
	}
	return 0;
}

int run_input_seen(struct run *r, const char *sha256, int64_t *prev, char *err, size_t errlen)
{
	*prev = 0;
	if (!sha256 || !*sha256)
		return 0;
	return store_input_seen(r->store, r->id, sha256, prev, err, errlen);
}

int run_input_size_seen(struct run *r, uint64_t size, char *err, size_t errlen)
{
	return store_input_size_seen(r->store, r->id, size, err, errlen);
}

void run_set_inputs(struct run *r, const struct store_input *in, size_t n)
{
	r->inputs = in;
	r->ninputs = n;
}

void run_free(struct run *r)
{
	if (!r)
		return;
	audit_free(r->audit);
	store_close(r->store);
	eve_sink_close(r->eve);
	findings_free(r->findings);
	rules_free(r->matrix);
	rules_free(r->retired);
	free(r->svc);
	free(r->hosts);
	free(r);
}

void run_set_gaps(struct run *r, const char *gaps)
{
	snprintf(r->gaps, sizeof(r->gaps), "%s", gaps);
	r->row.gaps = r->gaps[0] ? r->gaps : NULL;
}

long run_reaped(const struct run *r)
{
	return r->reaped;
}

int run_reopen_outputs(struct run *r, char *err, size_t errlen)
{
	return r->eve ? eve_sink_reopen(r->eve, err, errlen) : 0;
}

int64_t run_id(const struct run *r)
{
	return r->id;
}

const char *run_status(const struct run *r)
{
	return r->row.status;
}

const struct rules_matrix *run_matrix(const struct run *r)
{
	return r->matrix;
}

const struct audit_counts *run_counts(const struct run *r)
{
	return audit_counts(r->audit);
}

const struct flow_stats *run_flow_stats(const struct run *r)
{
	return audit_flow_stats(r->audit);
}

void run_print_summary(const struct run *r, double secs, FILE *err_out, FILE *out)
{
	const struct audit_counts *n = audit_counts(r->audit);
	const struct flow_stats *fs = audit_flow_stats(r->audit);
	char encap[512];

	fprintf(err_out,
	        "run %lld %s: %llu packets in %.2f s (%.0f packets/s), %llu flows stored in %s "
	        "(in %llu, out %llu, local %llu), %llu flows touching no monitored host\n",
	        (long long)r->id, r->row.status, (unsigned long long)n->packets, secs,
	        secs > 0 ? (double)n->packets / secs : 0.0,
	        (unsigned long long)(r->closed ? r->committed : n->flows_stored), r->db,
	        (unsigned long long)n->flows_in, (unsigned long long)n->flows_out,
	        (unsigned long long)n->flows_local, (unsigned long long)n->flows_other);
	if (n->malformed || n->unknown_link || n->non_ip || n->frags_orphan || fs->evicted)
		fprintf(err_out,
		        "  malformed %llu (truncated %llu, bad header %llu), unknown link %llu, "
		        "not IP %llu, orphan fragments %llu, evicted flows %llu (peak %u)\n",
		        (unsigned long long)n->malformed, (unsigned long long)n->truncated,
		        (unsigned long long)n->bad_header, (unsigned long long)n->unknown_link,
		        (unsigned long long)n->non_ip, (unsigned long long)n->frags_orphan,
		        (unsigned long long)fs->evicted, fs->peak);
	if (*encap_counts_str(n->encap, encap, sizeof(encap)))
		fprintf(err_out, "  decapsulated (packets): %s\n", encap);
	if (r->dropped)
		fprintf(err_out, "  the capture dropped %llu packets (kernel or interface)\n",
		        (unsigned long long)r->dropped);
	if (n->flows_lost || n->flows_stale)
		fprintf(err_out,
		        "  flows lost: %llu ended while the database could not take them and %llu "
		        "were held in memory (the oldest went first; runs.flows_lost)\n",
		        (unsigned long long)n->flows_lost, (unsigned long long)n->hold_max);
	if (n->flows_stale)
		fprintf(err_out,
		        "  flows cut short: %llu lost their end the same way and keep their last "
		        "checkpoint row (end_reason 'checkpoint'; counted stored, not lost)\n",
		        (unsigned long long)n->flows_stale);
	findings_print(r->findings, n->verdicts, n->peer_unchecked, n->app_unchecked,
	               n->flows_stored, r->db, r->id, out);
}
