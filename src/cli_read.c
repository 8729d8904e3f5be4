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
	        "  --eve FILE            also append Suricata EVE JSON to FILE: an alert event\n"
	        "                        as each non-expected flow is seen, a flow event as each\n"
	        "                        flow ends (as query --format eve writes them)\n"
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

/* Parse read's options into o; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct cli_audit_opts *o)
{
	static const struct option opts[] = {CLI_AUDIT_OPTIONS, {NULL, 0, NULL, 0}};
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:qh", opts, NULL)) != -1) {
		int r = cli_audit_option(o, opt, optarg);
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
	if (optind == argc) {
		fprintf(stderr, "smaudit read: no capture file given (see smaudit read --help)\n");
		return 2;
	}
	return -1;
}

/* Check that every file opens as a capture before anything is written, and
 * return the run's source text (names, one per line; stdin as "stdin"),
 * allocated; NULL with the error on stderr. */
static char *check_inputs(char **files, size_t n, const char *filter)
{
	size_t len = 1;
	char err[1024], *src;

	for (size_t i = 0; i < n; i++) {
		if (!strcmp(files[i], "-")) {
			if (n > 1) {
				fprintf(stderr,
				        "smaudit read: '-' (stdin) must be the only file\n");
				return NULL;
			}
		} else if (is_stream(files[i])) {
			if (access(files[i], R_OK) < 0) {
				fprintf(stderr, "smaudit read: %s: %s\n", files[i],
				        strerror(errno));
				return NULL;
			}
		} else {
			struct capture *c = capture_open_file(files[i], filter, err, sizeof(err));
			if (!c) {
				fprintf(stderr, "smaudit read: %s\n", err);
				return NULL;
			}
			capture_close(c);
		}
		len += strlen(files[i]) + 8;
	}
	src = malloc(len);
	if (!src) {
		fprintf(stderr, "smaudit read: out of memory\n");
		return NULL;
	}
	src[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(src, i ? "\n" : "");
		strcat(src, strcmp(files[i], "-") ? files[i] : "stdin");
	}
	return src;
}

/* What reading the files left for the run row. */
struct read_state {
	char warn[1280]; /* first warning, stored as the run's error */
	int code;        /* exit code so far: 0, or 2 after a bad input */
};

/* Note a warning: printed, the first kept for the run row, exit code 2. */
static void warn_input(struct read_state *rs, const char *msg)
{
	fprintf(stderr, "smaudit read: warning: %s\n", msg);
	if (!rs->warn[0])
		snprintf(rs->warn, sizeof(rs->warn), "%s", msg);
	rs->code = 2;
}

/* Feed one capture file into the run, with progress on a terminal. */
static void read_file(struct run *run, const char *path, size_t fi, size_t nf,
                      const struct cli_audit_opts *o, int tty, double t0, struct read_state *rs)
{
	const struct pcap_pkthdr *h;
	const uint8_t *d;
	char err[1024];
	struct capture *c = capture_open_file(path, o->filter, err, sizeof(err));
	uint64_t before = run_counts(run)->unknown_link;
	double next_report = cli_now() + 0.5;
	int dlt, r = 0;

	if (!c) { /* it opened a moment ago: changed under us */
		warn_input(rs, err);
		return;
	}
	dlt = capture_datalink(c);
	while (!stop_requested && (r = capture_next(c, &h, &d, err, sizeof(err))) == 1) {
		run_packet(run, dlt, h, d);
		if (tty && (capture_pkt_no(c) & 4095) == 0 && cli_now() >= next_report) {
			progress(c, path, fi, nf, capture_pkt_no(c), t0, 0);
			next_report = cli_now() + 0.5;
		}
	}
	if (tty)
		progress(c, path, fi, nf, capture_pkt_no(c), t0, 1);
	if (!stop_requested && r < 0) {
		char msg[1200];
		snprintf(msg, sizeof(msg), "%s; the packets before it are stored", err);
		warn_input(rs, msg);
	}
	if (run_counts(run)->unknown_link > before) {
		const char *name = pcap_datalink_val_to_name(dlt);
		snprintf(err, sizeof(err),
		         "%s: link type %d (%s) is not decoded: %llu packets skipped", path, dlt,
		         name ? name : "unknown",
		         (unsigned long long)(run_counts(run)->unknown_link - before));
		warn_input(rs, err);
	} else if (capture_pkt_no(c) == 0 && r == 0) {
		fprintf(stderr, "smaudit read: warning: %s: no packets%s\n", path,
		        o->filter ? " (after the filter)" : "");
	}
	capture_close(c);
}

int cli_read(int argc, char **argv)
{
	struct cli_audit_opts o = {.db = cli_default_db()};
	struct run_cfg cfg = {.mode = "read"};
	struct read_state rs = {.warn = "", .code = 0};
	struct run *run;
	char err[1024], **files, *source;
	const char *status = "complete";
	size_t nfiles;
	int rc, no_host, tty;
	double t0;

	rc = parse_args(argc, argv, &o);
	if (rc >= 0)
		return rc;
	files = argv + optind;
	nfiles = (size_t)(argc - optind);
	source = check_inputs(files, nfiles, o.filter);
	if (!source)
		return 2;
	cfg.source = source;
	/* before the run row exists: from then on a signal is an interrupted run */
	catch_signals();
	run = cli_run_open("read", &o, &cfg, &rc, &no_host);
	if (!run) {
		if (no_host && !is_stream(files[0]))
			suggest_hosts(files[0]);
		free(source);
		return rc;
	}

	tty = !o.quiet && isatty(2);
	t0 = cli_now();
	for (size_t fi = 0; fi < nfiles && !stop_requested; fi++)
		read_file(run, files[fi], fi, nfiles, &o, tty, t0, &rs);
	if (stop_requested) {
		status = "interrupted";
		if (!rs.warn[0])
			snprintf(rs.warn, sizeof(rs.warn), "interrupted by a signal");
	}
	rc = stop_requested ? 130 : rs.code;
	if (run_close(run, stop_requested ? END_SHUTDOWN : END_CAPTURE_END, status,
	              rs.warn[0] ? rs.warn : NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit read: %s\n", err);
		rc = 3;
	}
	if (!o.quiet)
		run_print_summary(run, cli_now() - t0, stderr, stdout);
	run_free(run);
	free(source);
	return rc;
}
