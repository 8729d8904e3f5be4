/* cli_live.c: `smaudit live -i IFACE`: audit an interface until stopped.
 *
 * The same pipeline as read, fed from a live pcap handle (buffered
 * TPACKET_V3 ring of --buffer-size MiB). Wall-clock time advances flow
 * expiry when the link is quiet, and counters (with pcap_stats drops) are
 * saved to the run row at every checkpoint. At each checkpoint, flows open
 * longer than the interval are written as they stand (end_reason
 * 'checkpoint'); their row is replaced when they end, so queries never
 * count a flow twice. A non-expected flow is announced (alert.c) at its
 * first packet, and again when DPI turns it into a protocol mismatch.
 * An interface that goes down or disappears is a gap, not the end: it is
 * reported, reopened by name with backoff when gone, and the gap is kept
 * in the run row (runs.gaps).
 * A database that cannot take flows for long never stops the capture:
 * beyond the flows the writer may hold, the oldest are counted as lost
 * (runs.flows_lost), with a warning each second the count grows.
 * Syslog lines never wait for the daemon (alert.c): those it refuses are
 * counted, warned each second, told to it later and in the stop summary.
 * Signals, as a service expects them: SIGPIPE is ignored (a closed stdout
 * ends the alert lines, the audit goes on); SIGHUP reloads the rules and
 * site files (a bad file keeps the old matrix; the new rules are written
 * for the run beside the old, run_rules); SIGINT/SIGTERM or
 * --duration end every open flow with end_reason 'shutdown', commit, and
 * mark the run complete; a second SIGINT exits at once, leaving what was
 * committed (the next smaudit to write marks the run interrupted). */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"
#include "smaudit/alert.h"
#include "smaudit/capture.h"
#include "smaudit/cli.h"
#include "smaudit/community_id.h"

#define LIVE_BUFFER_MIB 256   /* 2 s of a saturated 1 Gb/s port, 4 s at half load */
#define LIVE_SNAPLEN    65535 /* whole packets: DPI sees every payload byte */

static volatile sig_atomic_t live_stop, live_reload;
static volatile sig_atomic_t live_reopen; /* SIGHUP: reopen --eve */
static struct capture *live_cap;

static void on_signal(int sig)
{
	static const char now[] = "smaudit live: second interrupt: exiting now; the database "
	                          "keeps every batch committed so far\n";

	if (sig == SIGHUP) {
		live_reload = 1; /* the capture loop reloads the rules, reopens --eve */
		live_reopen = 1;
		return;
	}
	if (live_stop && sig == SIGINT) {
		ssize_t w = write(STDERR_FILENO, now, sizeof(now) - 1);
		(void)w;
		_exit(130);
	}
	live_stop = 1;
	capture_breakloop(live_cap);
}

static uint64_t wall_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* audit's alert hook (packet thread): to the alert sink. */
static void on_alert(void *ctx, const struct flow_record *r, const struct verdict_result *v)
{
	alert_flow(ctx, r, v, wall_us());
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: smaudit live -i IFACE --host ADDR [options]\n"
	        "\n"
	        "Audit an interface until stopped (Ctrl-C, SIGTERM, or --duration). SIGHUP\n"
	        "reloads the rules and site files and reopens --eve FILE.\n"
	        "\n"
	        "  -i, --interface IFACE  interface to capture on (e.g. eth0, lo, any)\n"
	        "  --host ADDR[/PFX]      monitored SocialMiner address (repeatable)\n"
	        "  --db FILE              database (default $SMAUDIT_DB or smaudit.db)\n"
	        "  -f, --filter EXPR      BPF filter\n"
	        "  --rules FILE, --site FILE, --role NAME=ADDR,...   as for read\n"
	        "  --max-flows N          flow table bound (default 1000000), and of the ended\n"
	        "                         flows held while the database cannot take them (at\n"
	        "                         least 4096; beyond, the oldest are counted lost)\n"
	        "  --tcp-timeout SEC, --udp-timeout SEC, --icmp-timeout SEC\n"
	        "  --checkpoint SEC       every SEC seconds (default 60), write flows open longer\n"
	        "                         than that as they stand (the row is updated when they\n"
	        "                         end) and save the run's counters\n"
	        "  --no-alerts            do not print a line per non-expected flow as it starts\n"
	        "  --alert-interval SEC   announce the same (verdict, rule, peer, port) once per\n"
	        "                         SEC (default 3600), then one line counting the rest;\n"
	        "                         0 announces every flow\n"
	        "  --syslog [FACILITY]    alerts and warnings to syslog too (default daemon)\n"
	        "  --buffer-size MIB      capture ring in MiB (default 256)\n"
	        "  --snaplen BYTES        bytes kept of each packet (default 65535)\n"
	        "  --retain DAYS          at each checkpoint, delete flows older than DAYS (a\n"
	        "                         few small batches; runs keep their history)\n"
	        "  -Z, --user USER        after opening the capture and the database, run as\n"
	        "                         USER (its groups only, no capabilities left)\n"
	        "  --eve FILE             also append Suricata EVE JSON to FILE: an alert event\n"
	        "                         as each non-expected flow starts, a flow event as each\n"
	        "                         flow ends; SIGHUP reopens FILE (log rotation)\n"
	        "  --duration SEC         stop after SEC seconds\n"
	        "  --no-dpi               no application detection\n"
	        "  --vxlan-port PORT      UDP port carrying VXLAN besides 4789\n"
	        "  -q, --quiet            no findings at the end\n"
	        "  -h, --help             this help\n");
}

/* live's own options beside the shared ones. */
struct live_opts {
	const char *iface;
	uint64_t checkpoint_s, duration_s, alert_interval_s, buffer_mib, snaplen;
	int alerts, syslog_facility;
	const char *user; /* -Z */
	uint64_t retain_days;
};

/* --syslog takes an optional facility as the next word (if it names one). */
static void syslog_option(struct live_opts *l, int argc, char **argv)
{
	l->syslog_facility = alert_facility("daemon");
	if (optind < argc && alert_facility(argv[optind]) >= 0)
		l->syslog_facility = alert_facility(argv[optind++]);
}

/* Ids of live's own long options (after the shared ones). */
enum {
	OPT_CHECKPOINT = CLI_OPT_LOCAL,
	OPT_DURATION,
	OPT_NO_ALERTS,
	OPT_ALERT_INTERVAL,
	OPT_SYSLOG,
	OPT_BUFFER_SIZE,
	OPT_SNAPLEN,
	OPT_RETAIN
};

/* Parse live's options; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct cli_audit_opts *o, struct live_opts *l)
{
	static const struct option opts[] = {
	    CLI_AUDIT_OPTIONS,
	    {"interface", required_argument, NULL, 'i'},
	    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
	    {"duration", required_argument, NULL, OPT_DURATION},
	    {"no-alerts", no_argument, NULL, OPT_NO_ALERTS},
	    {"alert-interval", required_argument, NULL, OPT_ALERT_INTERVAL},
	    {"syslog", no_argument, NULL, OPT_SYSLOG},
	    {"buffer-size", required_argument, NULL, OPT_BUFFER_SIZE},
	    {"snaplen", required_argument, NULL, OPT_SNAPLEN},
	    {"user", required_argument, NULL, 'Z'},
	    {"retain", required_argument, NULL, OPT_RETAIN},
	    {NULL, 0, NULL, 0}};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":i:f:qhZ:", opts, NULL)) != -1) {
		int r = cli_audit_option(o, opt, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'i':
			l->iface = optarg;
			break;
		case 'Z':
			l->user = optarg;
			break;
		case OPT_CHECKPOINT:
			if (cli_uint("--checkpoint", optarg, 1, 86400, &l->checkpoint_s) < 0)
				return 2;
			break;
		case OPT_DURATION:
			if (cli_uint("--duration", optarg, 1, 86400 * 366, &l->duration_s) < 0)
				return 2;
			break;
		case OPT_NO_ALERTS:
			l->alerts = 0;
			break;
		case OPT_ALERT_INTERVAL:
			if (cli_uint("--alert-interval", optarg, 0, 86400 * 7,
			             &l->alert_interval_s) < 0)
				return 2;
			break;
		case OPT_SYSLOG:
			syslog_option(l, argc, argv);
			break;
		case OPT_BUFFER_SIZE:
			if (cli_uint("--buffer-size", optarg, 1, 65536, &l->buffer_mib) < 0)
				return 2;
			break;
		case OPT_SNAPLEN:
			if (cli_uint("--snaplen", optarg, 96, 262144, &l->snaplen) < 0)
				return 2;
			break;
		case OPT_RETAIN:
			if (cli_uint("--retain", optarg, 1, 36500, &l->retain_days) < 0)
				return 2;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			fprintf(stderr, "smaudit live: %s '%s' (see smaudit live --help)\n",
			        opt == ':' ? "option needs a value:" : "unknown option",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		        "smaudit live: unexpected argument '%s' (capture files go to smaudit "
		        "read)\n",
		        argv[optind]);
		return 2;
	}
	if (!l->iface) {
		fprintf(stderr, "smaudit live: give the interface with -i IFACE\n");
		return 2;
	}
	return -1;
}

/* What the loop needs besides the run. */
struct live_state {
	const struct live_opts *l;
	const struct cli_audit_opts *o;
	struct alerts *alerts;
	uint64_t dropped; /* drops already warned about */
	uint64_t lost;    /* ended flows lost already warned about */
	uint64_t stale;   /* ended flows whose end alone was lost, already warned about */
	double t0, next_cp;
	/* capture gaps: the interface down (the handle waits) or gone (the
	 * handle is reopened with backoff) */
	time_t gap_start; /* 0 = capturing */
	int gone;
	double next_retry, backoff;
	char gaps[2048];
};

/* ISO 8601 UTC of t into buf (>= 32 bytes). */
static const char *iso(time_t t, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return buf;
}

/* The interface went down (gone = 0) or disappeared (gone = 1): a gap starts. */
static void gap_begin(struct live_state *st, int gone)
{
	char t[32];

	st->gap_start = time(NULL);
	st->gone = gone;
	st->backoff = 1;
	st->next_retry = cli_now() + 1;
	alert_warn(st->alerts, "%s %s at %s: no packets until it is back%s", st->l->iface,
	           gone ? "disappeared" : "went down", iso(st->gap_start, t, sizeof(t)),
	           gone ? " (retrying with backoff)" : "");
}

/* The interface is back: the gap ends and is recorded in the run row. */
static void gap_end(struct run *run, struct live_state *st)
{
	char a[32], b[32];
	time_t now = time(NULL);
	size_t len = strlen(st->gaps);

	snprintf(st->gaps + len, sizeof(st->gaps) - len, "%s%s %s %s", len ? "\n" : "",
	         iso(st->gap_start, a, sizeof(a)), iso(now, b, sizeof(b)),
	         st->gone ? "gone" : "down");
	run_set_gaps(run, st->gaps);
	alert_warn(st->alerts, "%s is back after %lld s: capture resumed (gap %s %s recorded)",
	           st->l->iface, (long long)(now - st->gap_start), a, b);
	st->gap_start = 0;
	st->gone = 0;
}

/* Once a second: a down interface starts a gap, one up again ends it; a
 * gone one is reopened when its backoff (1, 2, 4 .. 30 s) is over. */
static void watch_link(struct run *run, struct live_state *st)
{
	int state = capture_link_state(live_cap);
	char err[512];

	if (!st->gap_start && state <= 0) {
		gap_begin(st, state < 0);
		return;
	}
	if (st->gap_start && !st->gone && state > 0) {
		gap_end(run, st);
		return;
	}
	if (!st->gone || state <= 0 || cli_now() < st->next_retry)
		return;
	if (capture_reopen(live_cap, err, sizeof(err)) == 0) {
		gap_end(run, st);
		return;
	}
	st->backoff = st->backoff * 2 > 30 ? 30 : st->backoff * 2;
	st->next_retry = cli_now() + st->backoff;
}

/* SIGHUP: build the matrix again from the same rules and site files and put
 * it in force; a bad file is named (file:line) and the old matrix stays. */
static void reload(struct run *run, struct live_state *st)
{
	struct rules_matrix *m = cli_matrix(&st->o->site);
	char err[512];

	if (!m) {
		alert_warn(st->alerts, "SIGHUP: reload failed (above); the rules in force stay");
		return;
	}
	if (rules_hosts(m, &(const struct sm_cidr *){NULL}) == 0) {
		rules_free(m);
		alert_warn(st->alerts, "SIGHUP: reload names no monitored host; the rules in force "
		                       "stay");
		return;
	}
	if (run_reload(run, m, err, sizeof(err)) < 0) {
		alert_warn(st->alerts, "SIGHUP: %s; the rules in force stay", err);
		return;
	}
	alert_warn(st->alerts, "SIGHUP: rules reloaded (%zu rules)", rules_count(run_matrix(run)));
}

/* Say so when ended flows were lost (the database down, the most it may
 * hold already held): the first time, and each time the count grows. */
static void warn_lost(struct run *run, struct live_state *st)
{
	const struct audit_counts *n = run_counts(run);

	if (n->flows_lost <= st->lost && n->flows_stale <= st->stale)
		return;
	alert_warn(st->alerts,
	           "the database cannot take flows and %llu are held in memory, the most "
	           "allowed (--max-flows, at least 4096): %llu ended flows lost (%llu in all), "
	           "the oldest first; %llu (%llu in all) lost only their end and keep their "
	           "last checkpoint row",
	           (unsigned long long)n->hold_max, (unsigned long long)(n->flows_lost - st->lost),
	           (unsigned long long)n->flows_lost,
	           (unsigned long long)(n->flows_stale - st->stale),
	           (unsigned long long)n->flows_stale);
	st->lost = n->flows_lost;
	st->stale = n->flows_stale;
}

/* Once a second: age flows, announce new drops and lost flows, summarise
 * alerts, and checkpoint when due. Returns 1 when --duration is over. */
static int on_second(struct run *run, struct live_state *st)
{
	double now = cli_now();
	uint64_t dropped = capture_dropped(live_cap), wall = wall_us();
	char msg[600];

	watch_link(run, st);
	run_tick(run, wall); /* a quiet link still ages flows */
	if (st->alerts)
		alert_tick(st->alerts, wall);
	if (dropped > st->dropped) {
		alert_warn(
		    st->alerts,
		    "the capture dropped %llu packets (%llu in all): the kernel ring is full; "
		    "a larger --buffer-size absorbs longer bursts",
		    (unsigned long long)(dropped - st->dropped), (unsigned long long)dropped);
		st->dropped = dropped;
	}
	run_set_dropped(run, dropped);
	warn_lost(run, st);
	if (now >= st->next_cp) {
		run_checkpoint(run, wall, st->l->checkpoint_s * 1000000);
		st->next_cp = now + (double)st->l->checkpoint_s;
	}
	if (run_store_news(run, msg, sizeof(msg)))
		alert_warn(st->alerts, "%s", msg);
	return st->l->duration_s && now - st->t0 >= (double)st->l->duration_s;
}

/* The stop summary's line on syslog lines lost, when some were. */
static void syslog_summary(const struct alerts *a)
{
	uint64_t refused, unsent;

	alert_syslog_lost(a, &refused, &unsent);
	if (refused)
		fprintf(stderr,
		        "  syslog lines dropped: %llu (the syslog daemon did not keep up; "
		        "smaudit did not wait for it)\n",
		        (unsigned long long)refused);
	if (unsent)
		fprintf(stderr,
		        "  syslog lines not sent: %llu (no syslog daemon could be reached)\n",
		        (unsigned long long)unsent);
}

/* The capture loop: packets into the run until a signal, --duration or a
 * capture error (err filled, returns -1); timers run once a second of
 * packet time, and on the read timeout when the link is quiet. */
static int capture_loop(struct run *run, struct live_state *st, char *err, size_t errlen)
{
	int dlt = capture_datalink(live_cap), r;
	const struct pcap_pkthdr *h;
	const uint8_t *d;
	time_t last = 0;

	while (!live_stop) {
		if (live_reopen) {
			char rerr[512];
			live_reopen = 0;
			if (run_reopen_outputs(run, rerr, sizeof(rerr)) < 0)
				fprintf(stderr, "smaudit live: %s\n", rerr);
		}
		r = capture_next(live_cap, &h, &d, err, errlen);
		if (r == 1)
			run_packet(run, dlt, h, d);
		else if (r == 0)
			break;
		else if (r == -1) {
			/* an interface that disappeared is a gap, not the end */
			if (capture_link_state(live_cap) > 0 && !st->gone)
				return -1;
			if (!st->gone) {
				capture_reopen(live_cap, err, errlen); /* closes the dead handle */
				if (st->gap_start) { /* it was down, now it is gone */
					st->gone = 1;
					st->backoff = 1;
					st->next_retry = cli_now() + 1;
				} else
					gap_begin(st, 1);
			}
			poll(NULL, 0, 200);
			r = -2;
		}
		if (live_reload) {
			live_reload = 0;
			reload(run, st);
		}
		if (r == -2 || h->ts.tv_sec != last) {
			last = r == 1 ? h->ts.tv_sec : last;
			if (on_second(run, st))
				break;
		}
	}
	return 0;
}

/* After a clean stop, read what the kernel had already captured: a
 * TPACKET_V3 block reaches us when full or when its timeout retires it, so
 * the last packets before the signal may still wait there. Reads for a bit
 * more than one block timeout (CAPTURE_BLOCK_TIMEOUT_MS), then stops even
 * if traffic goes on: stopping loses no packet that came before it. */
static void drain(struct run *run)
{
	double until = cli_now() + 3.0 * CAPTURE_BLOCK_TIMEOUT_MS / 1000.0;
	int dlt = capture_datalink(live_cap);
	const struct pcap_pkthdr *h;
	const uint8_t *d;
	char err[256];
	int r;

	while (cli_now() < until) {
		r = capture_next(live_cap, &h, &d, err, sizeof(err));
		if (r == 1)
			run_packet(run, dlt, h, d);
		else if (r == -1 || r == -3)
			break; /* 0: the stop's own pcap_breakloop, -2: nothing yet */
	}
}

/* -Z: hand the database files to user, then become user (groups, gid,
 * uid; a root process that sets its uid keeps no capabilities). Returns 0,
 * or -1 with err. */
static int drop_privileges(const char *user, const char *db, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);
	char path[4096];

	if (!pw) {
		snprintf(err, errlen, "-Z %s: no such user", user);
		return -1;
	}
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s%s", db, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		if (chown(path, pw->pw_uid, pw->pw_gid) < 0 && errno != ENOENT) {
			snprintf(err, errlen, "-Z %s: %.300s: %s", user, path, strerror(errno));
			return -1;
		}
	}
	if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "-Z %s: %s", user, strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "-Z %s: root could be regained; refusing to go on", user);
		return -1;
	}
	return 0;
}

/* Open the capture and the run; NULL with *rc the exit code. */
static struct run *live_open(struct live_opts *l, struct cli_audit_opts *o, struct alerts *alerts,
                             int *rc)
{
	struct run_cfg cfg = {
	    .mode = "live", .source = l->iface, .retain_s = l->retain_days * 86400};
	char err[1024];
	int no_host;
	struct run *run;

	live_cap = capture_open_live(l->iface, o->filter, (int)l->snaplen, (int)l->buffer_mib, err,
	                             sizeof(err));
	if (!live_cap) {
		fprintf(stderr, "smaudit live: %s\n", err);
		*rc = 2;
		return NULL;
	}
	if (alerts) {
		cfg.alert = on_alert;
		cfg.alert_ctx = alerts;
	}
	run = cli_run_open("live", o, &cfg, rc, &no_host);
	if (run && l->user && drop_privileges(l->user, o->db, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit live: %s\n", err);
		run_close(run, END_SHUTDOWN, "failed", err, err + 512, sizeof(err) - 512);
		run_free(run);
		run = NULL;
		*rc = 2;
	} else if (run && !l->user && geteuid() == 0)
		fprintf(stderr,
		        "smaudit live: warning: running as root; -Z USER drops to USER once "
		        "the capture and the database are open (or give the binary "
		        "cap_net_raw,cap_net_admin with setcap and run it as a user)\n");
	if (!run) {
		capture_close(live_cap);
		live_cap = NULL;
	}
	return run;
}

int cli_live(int argc, char **argv)
{
	struct cli_audit_opts o = {.db = cli_default_db()};
	struct live_opts l = {.checkpoint_s = 60,
	                      .alerts = 1,
	                      .alert_interval_s = 3600,
	                      .buffer_mib = LIVE_BUFFER_MIB,
	                      .snaplen = LIVE_SNAPLEN,
	                      .syslog_facility = -1};
	struct live_state st = {.l = &l, .o = &o};
	struct alert_cfg acfg = {0};
	struct run *run;
	char err[1024], cerr[1024] = "";
	int rc, failed;

	rc = parse_args(argc, argv, &o, &l);
	if (rc >= 0)
		return rc;
	acfg.out = l.alerts ? stdout : NULL;
	acfg.syslog_facility = l.syslog_facility;
	acfg.interval_us = l.alert_interval_s * 1000000;
	st.alerts = alert_new(&acfg);
	if (!st.alerts) {
		fprintf(stderr, "smaudit live: out of memory\n");
		return 3;
	}
	/* SIGHUP reloads the same files, after -Z too (no /proc/self/exe then) */
	cli_site_pin(&o.site);
	/* before the run row exists: from then on a signal is a clean stop */
	cli_catch_signals(on_signal, 1);
	run = live_open(&l, &o, l.alerts || l.syslog_facility >= 0 ? st.alerts : NULL, &rc);
	if (!run) {
		alert_flush(st.alerts, wall_us()); /* what live_open warned of, still queued */
		alert_free(st.alerts);
		return rc;
	}
	if (!o.quiet)
		fprintf(stderr,
		        "smaudit live: auditing %s (run %lld, database %s); Ctrl-C to stop\n",
		        l.iface, (long long)run_id(run), o.db);
	st.t0 = cli_now();
	st.next_cp = st.t0 + (double)l.checkpoint_s;
	failed = capture_loop(run, &st, cerr, sizeof(cerr)) < 0;
	if (failed)
		fprintf(stderr, "smaudit live: %s\n", cerr);
	else
		drain(run);
	run_set_dropped(run, capture_dropped(live_cap));
	rc = failed ? 3 : 0;
	if (run_close(run, END_SHUTDOWN, failed ? "failed" : "complete", failed ? cerr : NULL, err,
	              sizeof(err)) < 0) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 3;
	}
	alert_flush(st.alerts, wall_us());
	if (!o.quiet) {
		run_print_summary(run, cli_now() - st.t0, stderr, stdout);
		syslog_summary(st.alerts);
	}
	run_free(run);
	alert_free(st.alerts);
	capture_close(live_cap);
	live_cap = NULL;
	return rc;
}
