/* cli_live.c: `smaudit live -i IFACE`: audit an interface until stopped.
 *
 * The same pipeline as read, fed from a live pcap handle. Wall-clock time
 * advances flow expiry when the link is quiet (the read timeout returns),
 * and counters (with pcap_stats drops) are saved to the run row at every
 * checkpoint so a crash loses at most one interval of counters (flows are
 * committed in batches as they end). At each checkpoint, flows open longer
 * than the interval are written as they stand (end_reason 'checkpoint');
 * their row is replaced when they end, so queries never count a flow twice.
 * A non-expected flow is announced on stdout at its first packet.
 * SIGINT/SIGTERM or --duration end every open flow with end_reason
 * 'shutdown', commit, and mark the run complete: stopping is a live audit's
 * normal end. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "cli_common.h"
#include "smaudit/capture.h"
#include "smaudit/cli.h"
#include "smaudit/community_id.h"

static volatile sig_atomic_t live_stop;
static volatile sig_atomic_t live_reopen; /* SIGHUP: reopen --eve */
static struct capture *live_cap;

static void on_signal(int sig)
{
	if (sig == SIGHUP) {
		live_reopen = 1; /* the capture loop reopens --eve */
		return;
	}
	live_stop = 1;
	capture_breakloop(live_cap);
}

/* SIGINT/SIGTERM without SA_RESTART, as read does: a blocked wait returns. */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
}

/* One line on stdout per alert: time, verdict, who talked to whom, the
 * flow's Community ID (to find it in Zeek or Suricata logs), why. */
static void print_alert(void *ctx, const struct flow_record *r, const struct verdict_result *v)
{
	char who[2 * ADDR_STRLEN + 64], ts[32], cid[COMMUNITY_ID_LEN];
	time_t t = (time_t)(r->ts_start_us / 1000000);
	struct tm tm;

	(void)ctx;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (community_id_flow(r, cid, sizeof(cid)) < 0)
		snprintf(cid, sizeof(cid), "-");
	printf("%s %s %s %s %s rule %s: %s\n", ts, verdict_str(v->kind),
	       flow_dir_str((enum flow_dir)r->direction), verdict_flow_str(r, who, sizeof(who)),
	       cid, v->rule ? v->rule->id : "-", v->reason);
	fflush(stdout);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: smaudit live -i IFACE --host ADDR [options]\n"
	        "\n"
	        "Audit an interface until stopped (Ctrl-C, SIGTERM, or --duration).\n"
	        "\n"
	        "  -i, --interface IFACE  interface to capture on (e.g. eth0, lo, any)\n"
	        "  --host ADDR[/PFX]      monitored SocialMiner address (repeatable)\n"
	        "  --db FILE              database (default $SMAUDIT_DB or smaudit.db)\n"
	        "  -f, --filter EXPR      BPF filter\n"
	        "  --rules FILE, --site FILE, --role NAME=ADDR,...   as for read\n"
	        "  --max-flows N          flow table bound (default 1000000)\n"
	        "  --tcp-timeout SEC, --udp-timeout SEC, --icmp-timeout SEC\n"
	        "  --checkpoint SEC       every SEC seconds (default 60), write flows open longer\n"
	        "                         than that as they stand (the row is updated when they\n"
	        "                         end) and save the run's counters\n"
	        "  --no-alerts            do not print a line per non-expected flow as it starts\n"
	        "  --eve FILE             also append Suricata EVE JSON to FILE: an alert event\n"
	        "                         as each non-expected flow starts, a flow event as each\n"
	        "                         flow ends; SIGHUP reopens FILE (log rotation)\n"
	        "  --duration SEC         stop after SEC seconds\n"
	        "  --no-dpi               no application detection\n"
	        "  --vxlan-port PORT      UDP port carrying VXLAN besides 4789\n"
	        "  -q, --quiet            no findings at the end\n"
	        "  -h, --help             this help\n");
}

static uint64_t wall_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

/* live's own options beside the shared ones. */
struct live_opts {
	const char *iface;
	uint64_t checkpoint_s, duration_s;
	int alerts;
};

/* Ids of live's own long options (after the shared ones). */
enum { OPT_CHECKPOINT = CLI_OPT_LOCAL, OPT_DURATION, OPT_NO_ALERTS };

/* Parse live's options; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct cli_audit_opts *o, struct live_opts *l)
{
	static const struct option opts[] = {
	    CLI_AUDIT_OPTIONS,
	    {"interface", required_argument, NULL, 'i'},
	    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
	    {"duration", required_argument, NULL, OPT_DURATION},
	    {"no-alerts", no_argument, NULL, OPT_NO_ALERTS},
	    {NULL, 0, NULL, 0}};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":i:f:qh", opts, NULL)) != -1) {
		int r = cli_audit_option(o, opt, optarg);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'i':
			l->iface = optarg;
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

/* The capture loop: packets into the run until a signal, --duration or a
 * capture error (err filled, returns -1); wall time ages flows and drives
 * checkpoints when the link is quiet. */
static int capture_loop(struct run *run, const struct live_opts *l, double t0, char *err,
                        size_t errlen)
{
	uint64_t seen = 0; /* packets, for timers without locking */
	int dlt = capture_datalink(live_cap), r;
	double next_cp = t0 + (double)l->checkpoint_s;
	const struct pcap_pkthdr *h;
	const uint8_t *d;

	while (!live_stop) {
		if (live_reopen) {
			char rerr[512];
			live_reopen = 0;
			if (run_reopen_outputs(run, rerr, sizeof(rerr)) < 0)
				fprintf(stderr, "smaudit live: %s\n", rerr);
		}
		r = capture_next(live_cap, &h, &d, err, errlen);
		if (r == 1) {
			run_packet(run, dlt, h, d);
			seen++;
		} else if (r == 0)
			break;
		else if (r == -1)
			return -1;
		if (r == -2 || (seen & 1023) == 0) {
			double now = cli_now();
			run_tick(run, wall_us()); /* a quiet link still ages flows */
			if (now >= next_cp) {
				char cerr[512];
				run_set_dropped(run, capture_dropped(live_cap));
				if (run_checkpoint(run, wall_us(), l->checkpoint_s * 1000000, cerr,
				                   sizeof(cerr)) < 0)
					fprintf(stderr, "smaudit live: checkpoint: %s\n", cerr);
				next_cp = now + (double)l->checkpoint_s;
			}
			if (l->duration_s && now - t0 >= (double)l->duration_s)
				break;
		}
	}
	return 0;
}

int cli_live(int argc, char **argv)
{
	struct cli_audit_opts o = {.db = cli_default_db()};
	struct live_opts l = {.checkpoint_s = 60, .alerts = 1};
	struct run_cfg cfg = {.mode = "live"};
	struct run *run;
	char err[1024], cerr[1024] = "";
	int rc, no_host, failed;
	double t0;

	rc = parse_args(argc, argv, &o, &l);
	if (rc >= 0)
		return rc;
	/* before the run row exists: from then on a signal is a clean stop */
	catch_signals();
	live_cap = capture_open_live(l.iface, o.filter, 65535, err, sizeof(err));
	if (!live_cap) {
		fprintf(stderr, "smaudit live: %s\n", err);
		return 2;
	}
	cfg.source = l.iface;
	if (l.alerts)
		cfg.alert = print_alert;
	run = cli_run_open("live", &o, &cfg, &rc, &no_host);
	if (!run) {
		capture_close(live_cap);
		live_cap = NULL;
		return rc;
	}
	if (!o.quiet)
		fprintf(stderr,
		        "smaudit live: auditing %s (run %lld, database %s); Ctrl-C to stop\n",
		        l.iface, (long long)run_id(run), o.db);
	t0 = cli_now();
	failed = capture_loop(run, &l, t0, cerr, sizeof(cerr)) < 0;
	if (failed)
		fprintf(stderr, "smaudit live: %s\n", cerr);
	run_set_dropped(run, capture_dropped(live_cap));
	rc = failed ? 3 : 0;
	if (run_close(run, END_SHUTDOWN, failed ? "failed" : "complete", failed ? cerr : NULL, err,
	              sizeof(err)) < 0) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 3;
	}
	if (!o.quiet)
		run_print_summary(run, cli_now() - t0, stderr, stdout);
	run_free(run);
	capture_close(live_cap);
	live_cap = NULL;
	return rc;
}
