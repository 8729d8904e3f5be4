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
static struct capture *live_cap;

static void on_signal(int sig)
{
	(void)sig;
	live_stop = 1;
	capture_breakloop(live_cap);
}

/* One line on stdout per alert: time, verdict, who talked to whom, the
 * flow's Community ID (to find it in Zeek or Suricata logs), why. */
static void print_alert(void *ctx, const struct flow_record *r, const struct verdict_result *v)
{
	char o[ADDR_STRLEN], s[ADDR_STRLEN], ts[32], cid[COMMUNITY_ID_LEN];
	const char *ps = flow_proto_str(r->proto);
	time_t t = (time_t)(r->ts_start_us / 1000000);
	struct tm tm;

	(void)ctx;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (community_id_flow(r, cid, sizeof(cid)) < 0)
		snprintf(cid, sizeof(cid), "-");
	printf("%s %s %s %s:%u -> %s:%u/%s %s rule %s: %s\n", ts, verdict_str(v->kind),
	       flow_dir_str((enum flow_dir)r->direction), addr_str(&r->orig, o, sizeof(o)),
	       r->orig_port, addr_str(&r->resp, s, sizeof(s)), r->resp_port, ps ? ps : "ip", cid,
	       v->rule ? v->rule->id : "-", v->reason);
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
	        "  --duration SEC         stop after SEC seconds\n"
	        "  --no-dpi               no application detection\n"
	        "  -q, --quiet            no findings at the end\n"
	        "  -h, --help             this help\n");
}

static uint64_t wall_us(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

int cli_live(int argc, char **argv)
{
	static const struct option opts[] = {CLI_AUDIT_OPTIONS,
	                                     {"interface", required_argument, NULL, 'i'},
	                                     {"checkpoint", required_argument, NULL, 5},
	                                     {"duration", required_argument, NULL, 6},
	                                     {"no-alerts", no_argument, NULL, 7},
	                                     {NULL, 0, NULL, 0}};
	struct cli_audit_opts o = {.db = cli_default_db()};
	struct audit_cfg *acfg = &o.acfg;
	const char *iface = NULL;
	uint64_t checkpoint_s = 60, duration_s = 0;
	int opt, rc = 0, alerts = 1;
	struct rules_matrix *m = NULL;
	struct store *st = NULL;
	struct audit *a = NULL;
	struct store_run run = {0};
	char err[1024], hosts[2048];
	uint8_t *svc = NULL;
	double t0;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":i:f:qh", opts, NULL)) != -1) {
		int r = cli_audit_option(&o, opt, optarg, argv[optind - 1]);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		switch (opt) {
		case 'i':
			iface = optarg;
			break;
		case 5:
			if (cli_uint("--checkpoint", optarg, 1, 86400, &checkpoint_s) < 0)
				return 2;
			break;
		case 6:
			if (cli_uint("--duration", optarg, 1, 86400 * 366, &duration_s) < 0)
				return 2;
			break;
		case 7:
			alerts = 0;
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
	if (!iface) {
		fprintf(stderr, "smaudit live: give the interface with -i IFACE\n");
		return 2;
	}
	m = cli_matrix(&o.site);
	if (!m)
		return 2;
	if (rules_hosts(m, &(const struct sm_cidr *){NULL}) == 0) {
		fprintf(stderr,
		        "smaudit live: no monitored host: give --host ADDR or a site file with "
		        "'host' lines\n");
		rules_free(m);
		return 2;
	}
	live_cap = capture_open_live(iface, o.filter, 65535, err, sizeof(err));
	if (!live_cap) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rules_free(m);
		return 2;
	}
	st = store_open(o.db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 2;
		goto out;
	}
	run.mode = "live";
	run.source = iface;
	run.filter = o.filter;
	run.hosts = cli_hosts_str(m, hosts, sizeof(hosts));
	if (store_run_begin(st, &run, m, &acfg->run_id, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 3;
		goto out;
	}
	svc = calloc(2, 8192);
	if (svc) {
		rules_service_ports(m, svc, svc + 8192);
		acfg->flow.svc_tcp = svc;
		acfg->flow.svc_udp = svc + 8192;
	}
	acfg->matrix = m;
	acfg->store = st;
	if (alerts)
		acfg->alert = print_alert;
	a = audit_new(acfg, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 3;
		goto out;
	}
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	if (!o.quiet)
		fprintf(stderr,
		        "smaudit live: auditing %s (run %lld, database %s); Ctrl-C to stop\n",
		        iface, (long long)acfg->run_id, o.db);
	t0 = cli_now();
	{
		uint64_t seen = 0; /* packets, for timers without locking */
		int dlt = capture_datalink(live_cap), r;
		double next_cp = t0 + (double)checkpoint_s;
		const struct pcap_pkthdr *h;
		const uint8_t *d;

		while (!live_stop) {
			r = capture_next(live_cap, &h, &d, err, sizeof(err));
			if (r == 1) {
				audit_packet(a, dlt, h, d);
				seen++;
			} else if (r == 0)
				break;
			else if (r == -1) {
				fprintf(stderr, "smaudit live: %s\n", err);
				run.error = err;
				rc = 3;
				break;
			}
			if (r == -2 || (seen & 1023) == 0) {
				double now = cli_now();
				audit_tick(a, wall_us()); /* a quiet link still ages flows */
				if (now >= next_cp) {
					audit_fill_run(a, &run);
					run.dropped = capture_dropped(live_cap);
					run.status = "running";
					if (audit_checkpoint(a, wall_us(), checkpoint_s * 1000000,
					                     &run, err, sizeof(err)) < 0)
						fprintf(stderr, "smaudit live: checkpoint: %s\n",
						        err);
					next_cp = now + (double)checkpoint_s;
				}
				if (duration_s && now - t0 >= (double)duration_s)
					break;
			}
		}
	}
	run.dropped = capture_dropped(live_cap);
	if (audit_finish(a, END_SHUTDOWN, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 3;
	}
	audit_fill_run(a, &run);
	run.status = rc ? "failed" : "complete";
	if (store_run_end(st, acfg->run_id, &run, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit live: %s\n", err);
		rc = 3;
	}
	if (!o.quiet)
		cli_print_summary(a, o.db, acfg->run_id, cli_now() - t0, run.status);
out:
	audit_free(a);
	store_close(st);
	capture_close(live_cap);
	live_cap = NULL;
	rules_free(m);
	free(svc);
	return rc;
}
