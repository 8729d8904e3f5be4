/* cli_read.c: `smaudit read`: audit capture files into the database.
 *
 * Checks every argument before anything is written (files open as
 * captures, the matrix loads, the database opens), then reads the files in
 * order into one run. A read error mid-file (a truncated record) is a
 * warning naming the packet: the flows read so far are ended and stored,
 * the run says what happened, and the exit code is 2. SIGINT/SIGTERM stop
 * the read the same way with status 'interrupted'. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "cli_common.h"
#include "smaudit/capture.h"
#include "smaudit/cli.h"
#include "smaudit/decode.h"

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

/* 1 if path is read as a stream (stdin, a named pipe, <(...)): it can be
 * read once only, so it is not opened ahead to check it. */
static int is_stream(const char *path)
{
	struct stat sb;

	if (!strcmp(path, "-"))
		return 1;
	return stat(path, &sb) == 0 && !S_ISREG(sb.st_mode) && !S_ISDIR(sb.st_mode);
}

/* SIGINT/SIGTERM without SA_RESTART, so a read blocked on a pipe returns. */
static void catch_signals(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: smaudit read --host ADDR [options] FILE...\n"
	        "\n"
	        "Audit capture files (pcap or pcapng; '-' reads stdin) against the SocialMiner\n"
	        "port matrix and store every flow touching a monitored host in the database.\n"
	        "\n"
	        "  --host ADDR[/PFX]     monitored SocialMiner address, IPv4 or IPv6 (repeatable;\n"
	        "                        0.0.0.0/0 and ::/0 take every flow)\n"
	        "  --db FILE             database to append a run to (default $SMAUDIT_DB or "
	        "smaudit.db)\n"
	        "  -f, --filter EXPR     BPF filter applied while reading (tcpdump syntax)\n"
	        "  --rules FILE          port matrix (default: the shipped socialminer.rules)\n"
	        "  --site FILE           site settings: hosts, roles, moved ports, includes "
	        "(repeatable)\n"
	        "  --role NAME=ADDR,...  addresses holding a role: uccx cuic mail exchange xmpp\n"
	        "                        (repeatable, CIDR allowed; wins over site files)\n"
	        "  --max-flows N         flow table bound (default 1000000); when full the least\n"
	        "                        recently seen flow is written out as 'evicted'\n"
	        "  --tcp-timeout SEC     idle timeout for TCP flows (default 300)\n"
	        "  --udp-timeout SEC     idle timeout for UDP flows (default 60)\n"
	        "  --icmp-timeout SEC    idle timeout for ICMP and other flows (default 60)\n"
	        "  --no-dpi              do not run application detection (nDPI)\n"
	        "  --vxlan-port PORT     UDP port carrying VXLAN besides 4789 (mirror sessions)\n"
	        "  -q, --quiet           no progress and no findings, only errors\n"
	        "  -h, --help            this help\n"
	        "\n"
	        "Exit status: 0 done, 2 bad arguments or bad input (what was read is stored),\n"
	        "3 the database failed, 130 interrupted.\n");
}

/* Print the busiest addresses of path as --host candidates (first 200k packets). */
static void suggest_hosts(const char *path)
{
	enum { N = 4096 };
	static struct {
		struct sm_addr a;
		uint64_t n;
	} tab[N];
	char err[512];
	struct capture *c = capture_open_file(path, NULL, err, sizeof(err));
	const struct pcap_pkthdr *h;
	const uint8_t *d;
	size_t used = 0;

	if (!c)
		return;
	memset(tab, 0, sizeof(tab));
	for (int k = 0; k < 200000 && capture_next(c, &h, &d, err, sizeof(err)) == 1; k++) {
		struct pkt p = {.caplen = h->caplen, .wirelen = h->len};
		if (decode_packet(NULL, capture_datalink(c), d, &p) != DECODE_OK)
			continue;
		for (int side = 0; side < 2; side++) {
			const struct sm_addr *a = side ? &p.dst : &p.src;
			size_t i;
			for (i = 0; i < used && addr_cmp(&tab[i].a, a); i++)
				;
			if (i == used) {
				if (used == N)
					continue;
				tab[used++].a = *a;
			}
			tab[i].n++;
		}
	}
	capture_close(c);
	if (!used)
		return;
	fprintf(stderr, "  busiest addresses in %s (packets sent or received):\n", path);
	for (int shown = 0; shown < 5; shown++) {
		size_t best = used;
		char s[ADDR_STRLEN];
		for (size_t i = 0; i < used; i++)
			if (tab[i].n && (best == used || tab[i].n > tab[best].n))
				best = i;
		if (best == used)
			break;
		fprintf(stderr, "    --host %-40s %llu packets\n",
		        addr_str(&tab[best].a, s, sizeof(s)), (unsigned long long)tab[best].n);
		tab[best].n = 0;
	}
}

/* Progress line on a terminal: share of the file, packets per second. */
static void progress(const struct capture *c, const char *name, size_t fi, size_t nf, uint64_t pkts,
                     double t0, int final)
{
	double el = cli_now() - t0, frac = capture_progress(c);
	char pct[16] = "";

	if (frac >= 0)
		snprintf(pct, sizeof(pct), "%5.1f%% ", frac * 100);
	fprintf(stderr, "\r[%zu/%zu] %s: %s%llu packets, %.0f packets/s%s", fi + 1, nf, name, pct,
	        (unsigned long long)pkts, el > 0 ? (double)pkts / el : 0.0, final ? "\n" : "   ");
}

int cli_read(int argc, char **argv)
{
	static const struct option opts[] = {CLI_AUDIT_OPTIONS, {NULL, 0, NULL, 0}};
	struct cli_audit_opts o = {.db = cli_default_db()};
	struct cli_site *site = &o.site;
	struct audit_cfg *acfg = &o.acfg;
	int opt, rc = 0, status_code = 0;
	struct rules_matrix *m = NULL;
	struct store *st = NULL;
	struct audit *a = NULL;
	struct store_run run = {0};
	char err[1024], warn[1024] = "", hosts[2048], *source = NULL;
	const char *status = "complete";
	size_t nfiles, srclen = 1;
	double t0;
	int tty;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:qh", opts, NULL)) != -1) {
		int r = cli_audit_option(&o, opt, optarg, argv[optind - 1]);
		if (r < 0)
			return 2;
		if (r > 0)
			continue;
		if (opt == 'h') {
			usage(stdout);
			return 0;
		}
		fprintf(stderr, "smaudit read: %s '%s' (see smaudit read --help)\n",
		        opt == ':' ? "option needs a value:" : "unknown option", argv[optind - 1]);
		return 2;
	}
	nfiles = (size_t)(argc - optind);
	if (nfiles == 0) {
		fprintf(stderr, "smaudit read: no capture file given (see smaudit read --help)\n");
		return 2;
	}

	/* every file must open as a capture before anything is written */
	for (int i = optind; i < argc; i++) {
		struct capture *c;
		if (!strcmp(argv[i], "-")) {
			if (nfiles > 1) {
				fprintf(stderr,
				        "smaudit read: '-' (stdin) must be the only file\n");
				return 2;
			}
			continue;
		}
		if (is_stream(argv[i])) {
			if (access(argv[i], R_OK) < 0) {
				fprintf(stderr, "smaudit read: %s: %s\n", argv[i], strerror(errno));
				return 2;
			}
			srclen += strlen(argv[i]) + 1;
			continue;
		}
		c = capture_open_file(argv[i], o.filter, err, sizeof(err));
		if (!c) {
			fprintf(stderr, "smaudit read: %s\n", err);
			return 2;
		}
		capture_close(c);
		srclen += strlen(argv[i]) + 1;
	}

	m = cli_matrix(site);
	if (!m)
		return 2;
	if (rules_hosts(m, &(const struct sm_cidr *){NULL}) == 0) {
		fprintf(stderr,
		        "smaudit read: no monitored host: give --host ADDR (the SocialMiner "
		        "server's address) or a site file with 'host' lines\n");
		if (!is_stream(argv[optind]))
			suggest_hosts(argv[optind]);
		rules_free(m);
		return 2;
	}

	st = store_open(o.db, err, sizeof(err));
	if (!st) {
		fprintf(stderr, "smaudit read: %s\n", err);
		rules_free(m);
		return 2;
	}
	source = malloc(srclen + 8);
	if (!source) {
		fprintf(stderr, "smaudit read: out of memory\n");
		rc = 3;
		goto out;
	}
	source[0] = '\0';
	for (int i = optind; i < argc; i++) {
		strcat(source, i > optind ? "\n" : "");
		strcat(source, strcmp(argv[i], "-") ? argv[i] : "stdin");
	}
	run.mode = "read";
	run.source = source;
	run.filter = o.filter;
	run.hosts = cli_hosts_str(m, hosts, sizeof(hosts));
	if (store_run_begin(st, &run, m, &acfg->run_id, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit read: %s\n", err);
		rc = 3;
		goto out;
	}
	acfg->matrix = m;
	acfg->store = st;
	{
		uint8_t *svc = calloc(2, 8192);
		if (svc) {
			rules_service_ports(m, svc, svc + 8192);
			acfg->flow.svc_tcp = svc;
			acfg->flow.svc_udp = svc + 8192;
		}
	}
	a = audit_new(acfg, err, sizeof(err));
	if (!a) {
		fprintf(stderr, "smaudit read: %s\n", err);
		run.status = "failed";
		run.error = err;
		store_run_end(st, acfg->run_id, &run, err, sizeof(err));
		rc = 3;
		goto out;
	}

	catch_signals();
	tty = !o.quiet && isatty(2);
	t0 = cli_now();
	for (size_t fi = 0; fi < nfiles && !stop_requested; fi++) {
		const char *path = argv[optind + (int)fi];
		const struct pcap_pkthdr *h;
		const uint8_t *d;
		struct capture *c = capture_open_file(path, o.filter, err, sizeof(err));
		uint64_t before = audit_counts(a)->unknown_link;
		double next_report = cli_now() + 0.5;
		int dlt, r = 0;

		if (!c) { /* it opened a moment ago: changed under us */
			fprintf(stderr, "smaudit read: %s\n", err);
			if (!*warn)
				snprintf(warn, sizeof(warn), "%s", err);
			status_code = 2;
			continue;
		}
		dlt = capture_datalink(c);
		while (!stop_requested && (r = capture_next(c, &h, &d, err, sizeof(err))) == 1) {
			audit_packet(a, dlt, h, d);
			if (tty && (capture_pkt_no(c) & 4095) == 0 && cli_now() >= next_report) {
				progress(c, path, fi, nfiles, capture_pkt_no(c), t0, 0);
				next_report = cli_now() + 0.5;
			}
		}
		if (tty)
			progress(c, path, fi, nfiles, capture_pkt_no(c), t0, 1);
		if (!stop_requested && r < 0) {
			fprintf(stderr,
			        "smaudit read: warning: %s; the packets before it are stored\n",
			        err);
			if (!*warn)
				snprintf(warn, sizeof(warn), "%s", err);
			status_code = 2;
		}
		if (audit_counts(a)->unknown_link > before) {
			const char *name = pcap_datalink_val_to_name(dlt);
			snprintf(err, sizeof(err),
			         "%s: link type %d (%s) is not decoded: %llu packets skipped", path,
			         dlt, name ? name : "unknown",
			         (unsigned long long)(audit_counts(a)->unknown_link - before));
			fprintf(stderr, "smaudit read: warning: %s\n", err);
			if (!*warn)
				snprintf(warn, sizeof(warn), "%s", err);
			status_code = 2;
		} else if (capture_pkt_no(c) == 0 && r == 0) {
			fprintf(stderr, "smaudit read: warning: %s: no packets%s\n", path,
			        o.filter ? " (after the filter)" : "");
		}
		capture_close(c);
	}

	if (stop_requested) {
		status = "interrupted";
		if (!*warn)
			snprintf(warn, sizeof(warn), "interrupted by a signal");
	}
	if (audit_finish(a, stop_requested ? END_SHUTDOWN : END_CAPTURE_END, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "smaudit read: %s\n", err);
		status = "failed";
		snprintf(warn, sizeof(warn), "%s", err);
		rc = 3;
	}
	audit_fill_run(a, &run);
	run.status = status;
	run.error = *warn ? warn : NULL;
	if (store_run_end(st, acfg->run_id, &run, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit read: %s\n", err);
		rc = 3;
	}
	if (!o.quiet)
		cli_print_summary(a, o.db, acfg->run_id, cli_now() - t0, status);
	if (!rc)
		rc = stop_requested ? 130 : status_code;
out:
	free((void *)acfg->flow.svc_tcp);
	audit_free(a);
	store_close(st);
	rules_free(m);
	free(source);
	return rc;
}
