/* cli_read.c: `smaudit read`: audit capture files into the database.
 *
 * Opens every input before anything is written (files, stdin, pipes and
 * devices as captures, each one's first packet read; the matrix loads; the
 * database opens), then reads them merged in packet time order (merge.c)
 * into one run, and records each input (SHA-256, size, packets, first and
 * last packet time). Each file is hashed as it is read, so it is read once;
 * a file an earlier run read (or this read holds twice) is named after the
 * run. With --skip-seen such files are skipped, so the files that may be
 * among them (the same size as another input or an earlier run's file)
 * are hashed up front, the others still as they are read. A read error mid-file (a truncated
 * record) is a warning naming the packet: the flows read so far are ended and stored, the run says
 * what happened, and the exit code is 2. SIGINT/SIGTERM stop the read the same way with status
 * 'interrupted'. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli_common.h"
#include "smaudit/capture.h"
#include "smaudit/cli.h"
#include "smaudit/decode.h"
#include "smaudit/merge.h"

static volatile sig_atomic_t stop_requested, stop_again;

/* SIGINT, SIGTERM: stop reading; a second one also stops hashing the rest. */
static void on_signal(int sig)
{
	(void)sig;
	if (stop_requested)
		stop_again = 1;
	stop_requested = 1;
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
	        "  --skip-seen           skip files an earlier complete run of the database\n"
	        "                        read (same SHA-256); without it they are read again\n"
	        "                        with a warning\n"
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

/* Progress line on a terminal: share of the bytes, packets per second. */
static void progress(double frac, const char *name, uint64_t pkts, double t0, int final)
{
	double el = cli_now() - t0;
	char pct[16] = "";

	if (frac >= 0)
		snprintf(pct, sizeof(pct), "%5.1f%% ", frac * 100);
	fprintf(stderr, "\r%s%s%s%llu packets, %.0f packets/s%s", name, *name ? ": " : "", pct,
	        (unsigned long long)pkts, el > 0 ? (double)pkts / el : 0.0, final ? "\n" : "   ");
}

/* Parse read's options into o; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, struct cli_audit_opts *o, int *skip_seen)
{
	static const struct option opts[] = {
	    CLI_AUDIT_OPTIONS, {"skip-seen", no_argument, NULL, 'S'}, {NULL, 0, NULL, 0}};
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
		if (opt == 'S') {
			*skip_seen = 1;
			continue;
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

/* The run's source text: the names, one per line (stdin as "stdin"),
 * allocated; NULL when out of memory. */
static char *source_text(struct merge *m)
{
	size_t len = 1, n = merge_count(m);
	char *src;

	for (size_t i = 0; i < n; i++)
		len += strlen(merge_input(m, i)->name) + 1;
	src = malloc(len);
	if (!src)
		return NULL;
	src[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		strcat(src, i ? "\n" : "");
		strcat(src, merge_input(m, i)->name);
	}
	return src;
}

/* What reading the files left for the run row. */
struct read_state {
	char warn[1280];        /* first warning, stored as the run's error */
	int code;               /* exit code so far: 0, or 2 after a bad input */
	int failed;             /* an input could not be read at all */
	int skip_seen;          /* --skip-seen */
	struct store_input *in; /* what the run records of each input */
	uint64_t *undecoded;    /* per input: packets of a link type not decoded */
};

/* Note a warning: printed, the first kept for the run row, exit code 2. */
static void warn_input(struct read_state *rs, const char *msg)
{
	fprintf(stderr, "smaudit read: warning: %s\n", msg);
	if (!rs->warn[0])
		snprintf(rs->warn, sizeof(rs->warn), "%s", msg);
	rs->code = 2;
}

/* An input's hash and place, to find the files given twice. */
struct twin {
	const char *sha256;
	size_t i;
};

/* qsort: by hash, then by place on the command line. */
static int by_hash(const void *a, const void *b)
{
	const struct twin *x = a, *y = b;
	int c = strcmp(x->sha256, y->sha256);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* A file whose bytes another file of this read also holds (the same
 * capture named twice, or a copy) is named after reading, or with
 * --skip-seen skipped before. -1 when out of memory. */
static int check_twins(struct run *run, struct merge *m, struct read_state *rs)
{
	size_t n = merge_count(m), k = 0;
	struct twin *t = malloc((n ? n : 1) * sizeof(*t));

	if (!t)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (merge_input(m, i)->sha256[0])
			t[k++] = (struct twin){merge_input(m, i)->sha256, i};
	qsort(t, k, sizeof(*t), by_hash);
	for (size_t j = 1; j < k; j++) {
		size_t first = j;
		struct merge_input *mi = merge_input(m, t[j].i);
		while (first > 0 && !strcmp(t[first - 1].sha256, t[j].sha256))
			first--;
		if (first == j)
			continue;
		if (rs->skip_seen) {
			mi->skip = 1;
			rs->in[t[j].i].skipped = run_id(run);
		}
		const char *other = merge_input(m, t[first].i)->name;
		fprintf(stderr, "smaudit read: %s%s: %s%s%s\n",
		        rs->skip_seen ? "" : "warning: ", mi->name,
		        strcmp(other, mi->name) ? "the same bytes as " : "named twice",
		        strcmp(other, mi->name) ? other : "",
		        rs->skip_seen ? ": skipped"
		                      : ": its packets were read twice (--skip-seen skips it)");
	}
	free(t);
	return 0;
}

/* An input's size and place, to find the files that may share bytes. */
struct sized {
	uint64_t size;
	size_t i;
};

/* qsort: by size, then by place on the command line. */
static int by_size(const void *a, const void *b)
{
	const struct sized *x = a, *y = b;

	return x->size != y->size ? (x->size < y->size ? -1 : 1) : x->i < y->i ? -1 : x->i > y->i;
}

/* With --skip-seen, before reading: hash up front each regular file that
 * may hold bytes read before, its size being another input's or that of a
 * file an earlier complete run read (the same bytes have the same size);
 * the others cannot be skipped and are hashed as they are read. -1 on a
 * database error or when out of memory. */
static int hash_candidates(struct run *run, struct merge *m, struct read_state *rs)
{
	size_t n = merge_count(m), k = 0;
	struct sized *t = malloc((n ? n : 1) * sizeof(*t));
	char err[1024];

	if (!t) {
		fprintf(stderr, "smaudit read: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (!merge_input(m, i)->stream)
			t[k++] = (struct sized){merge_input(m, i)->size, i};
	qsort(t, k, sizeof(*t), by_size);
	for (size_t j = 0; j < k && !stop_requested; j++) {
		int r = (j > 0 && t[j - 1].size == t[j].size) ||
		        (j + 1 < k && t[j + 1].size == t[j].size);
		if (!r && (r = run_input_size_seen(run, t[j].size, err, sizeof(err))) < 0) {
			fprintf(stderr, "smaudit read: %s\n", err);
			free(t);
			return -1;
		}
		if (r && merge_hash_file(m, t[j].i, &stop_requested, err, sizeof(err)) < 0 &&
		    !stop_requested)
			warn_input(rs, err);
	}
	free(t);
	return 0;
}

/* With --skip-seen, before reading: skip every file the database has read
 * in an earlier complete run, or this read holds twice. -1 on a database
 * error. */
static int check_seen(struct run *run, struct merge *m, struct read_state *rs)
{
	char err[512];

	if (hash_candidates(run, m, rs) < 0)
		return -1;
	if (check_twins(run, m, rs) < 0) {
		fprintf(stderr, "smaudit read: out of memory\n");
		return -1;
	}
	for (size_t i = 0; i < merge_count(m); i++) {
		struct merge_input *mi = merge_input(m, i);
		int64_t prev;
		int r = mi->skip ? 0 : run_input_seen(run, mi->sha256, &prev, err, sizeof(err));
		if (r < 0) {
			fprintf(stderr, "smaudit read: %s\n", err);
			return -1;
		}
		if (!r)
			continue;
		mi->skip = 1;
		rs->in[i].skipped = prev;
		fprintf(stderr, "smaudit read: %s: already read in run %lld: skipped\n", mi->name,
		        (long long)prev);
	}
	for (size_t i = 0; i < merge_count(m); i++)
		if (!merge_input(m, i)->skip)
			return 0;
	fprintf(stderr, "smaudit read: every file was read before: this run reads nothing\n");
	return 0;
}

/* Feed the merged inputs into the run, with progress on a terminal. */
static void read_inputs(struct run *run, struct merge *m, int tty, double t0, struct read_state *rs)
{
	const struct pcap_pkthdr *h;
	const uint8_t *d;
	char err[1024], msg[1200];
	double next_report = cli_now() + 0.5;
	uint64_t pkts = 0;
	size_t i = 0;
	int r;

	while (!stop_requested && (r = merge_next(m, &i, &h, &d, err, sizeof(err))) != 0) {
		struct merge_input *mi = merge_input(m, i);
		if (r == 1) {
			if (!decode_link_supported(mi->dlt))
				rs->undecoded[i]++;
			run_packet(run, mi->dlt, h, d);
			if (tty && (++pkts & 4095) == 0 && cli_now() >= next_report) {
				progress(merge_progress(m), mi->name, pkts, t0, 0);
				next_report = cli_now() + 0.5;
			}
			continue;
		}
		if (stop_requested)
			break;
		if (r == -3) { /* the rest of the file cannot be read: the run failed */
			rs->failed = 1;
			fprintf(stderr, "smaudit read: %s; the packets before it are stored\n",
			        err);
			snprintf(rs->warn, sizeof(rs->warn), "%s", err);
			rs->code = 2;
			continue;
		}
		snprintf(msg, sizeof(msg), "%s; the packets before it are stored", err);
		warn_input(rs, msg);
	}
	if (tty)
		progress(merge_progress(m), "", pkts, t0, 1);
}

/* After reading: per input, what the run records and what to warn about
 * (undecoded link types, no packets, overlapping time spans). */
static void note_inputs(struct merge *m, const char *filter, struct read_state *rs)
{
	for (size_t i = 0; i < merge_count(m); i++) {
		struct merge_input *mi = merge_input(m, i);
		struct store_input *in = &rs->in[i];
		size_t j;

		in->sha256 = mi->sha256;
		in->size = mi->size;
		in->packets = mi->packets;
		in->first_us = mi->first_us;
		in->last_us = mi->last_us;
		in->link_type = mi->dlt;
		if (mi->skip)
			continue;
		if (rs->undecoded[i]) {
			char msg[1024];
			const char *name = pcap_datalink_val_to_name(mi->dlt);
			snprintf(msg, sizeof(msg),
			         "%s: link type %d (%s) is not decoded: %llu packets skipped",
			         mi->name, mi->dlt, name ? name : "unknown",
			         (unsigned long long)rs->undecoded[i]);
			warn_input(rs, msg);
		} else if (mi->ended && !mi->packets && !stop_requested) {
			fprintf(stderr, "smaudit read: warning: %s: no packets%s\n", mi->name,
			        filter ? " (after the filter)" : "");
		}
		if (merge_overlap(m, i, &j) && /* a twin (check_twins) has been named */
		    (!mi->sha256[0] || strcmp(mi->sha256, merge_input(m, j)->sha256)))
			fprintf(stderr,
			        "smaudit read: warning: %s overlaps %s in time: their packets were "
			        "read merged in time order; if both hold the same traffic, its "
			        "packets are counted twice\n",
			        mi->name, merge_input(m, j)->name);
	}
}

/* After the run is closed (the hashes are known, the store is free again):
 * without --skip-seen, each file this read holds twice or an earlier
 * complete run also read is named; with it, only the streams are left to
 * name (the files were checked before reading). */
static void check_seen_after(struct run *run, struct merge *m, struct read_state *rs)
{
	char err[512];

	if (!rs->skip_seen && check_twins(run, m, rs) < 0)
		fprintf(stderr, "smaudit read: out of memory\n");
	for (size_t i = 0; i < merge_count(m); i++) {
		struct merge_input *mi = merge_input(m, i);
		int64_t prev;
		if ((rs->skip_seen && !mi->stream) ||
		    run_input_seen(run, mi->sha256, &prev, err, sizeof(err)) <= 0)
			continue;
		if (mi->stream)
			fprintf(
			    stderr,
			    "smaudit read: warning: %s: the same bytes were already read in run "
			    "%lld: its flows are stored twice\n",
			    mi->name, (long long)prev);
		else
			fprintf(
			    stderr,
			    "smaudit read: warning: %s: already read in run %lld (same SHA-256): "
			    "its flows are stored again (--skip-seen skips such files)\n",
			    mi->name, (long long)prev);
	}
}

/* After reading: hash what libpcap left unread of the files it stopped
 * short of (a damaged record, a signal), so each hash is the whole file's;
 * after a signal, a second one leaves those hashes out. */
static void finish_hashes(struct merge *m, struct read_state *rs)
{
	char err[1024];

	if (stop_requested)
		for (size_t i = 0; i < merge_count(m); i++) {
			const struct merge_input *mi = merge_input(m, i);
			if (!mi->stream && !mi->skip && !mi->sha256[0]) {
				fprintf(stderr,
				        "smaudit read: interrupted: hashing the rest of the "
				        "files for the inputs table (interrupt again to leave "
				        "their SHA-256 out)\n");
				break;
			}
		}
	if (merge_finish_hashes(m, &stop_again, err, sizeof(err)) < 0)
		warn_input(rs, err);
}

/* Name the busiest addresses of the first regular file of m (a stream
 * cannot be read twice). */
static void suggest_from(struct merge *m)
{
	for (size_t i = 0; i < merge_count(m); i++)
		if (!merge_input(m, i)->stream) {
			suggest_hosts(merge_input(m, i)->path);
			return;
		}
}

/* After the run: when flows were read but none touched a monitored host
 * (a mistyped --host), say so and name the busiest addresses. Returns 1
 * when it did. */
static int no_host_flows(struct run *run, struct merge *m)
{
	const struct audit_counts *n = run_counts(run);
	const struct sm_cidr *h;
	size_t nh = rules_hosts(run_matrix(run), &h);
	char c[ADDR_STRLEN + 8];

	if (n->flows_in + n->flows_out + n->flows_local || !n->flows_other)
		return 0;
	fprintf(stderr,
	        "smaudit read: warning: no flow touched a monitored host (%s%s): the %llu flows "
	        "read are between other addresses; check --host\n",
	        nh ? cidr_str(&h[0], c, sizeof(c)) : "none", nh > 1 ? ", ..." : "",
	        (unsigned long long)n->flows_other);
	suggest_from(m);
	return 1;
}

/* Open the inputs before anything is written; NULL with *rc the exit code. */
static struct merge *open_inputs(char **files, size_t n, const char *filter, int *rc)
{
	char err[1024];
	int interrupted;
	struct merge *m = merge_open(files, n, filter, &interrupted, err, sizeof(err));

	if (m)
		return m;
	*rc = stop_requested || interrupted ? 130 : 2;
	if (*rc == 2)
		fprintf(stderr, "smaudit read: %s\n", err);
	return NULL;
}

/* Open the run: NULL with *rc the exit code and, when no host was given,
 * the busiest addresses of the first regular file named. */
static struct run *open_run(struct cli_audit_opts *o, struct run_cfg *cfg, struct merge *m, int *rc)
{
	int no_host;
	struct run *run = cli_run_open("read", o, cfg, rc, &no_host);

	if (!run && no_host)
		suggest_from(m);
	return run;
}

/* Close the run with what the read left; returns the exit code. */
static int close_run(struct run *run, struct read_state *rs)
{
	const char *status = rs->failed ? "failed" : "complete";
	char err[1024];
	int rc = stop_requested ? 130 : rs->code;

	if (stop_requested) {
		status = "interrupted";
		if (!rs->warn[0])
			snprintf(rs->warn, sizeof(rs->warn), "interrupted by a signal");
	}
	if (run_close(run, stop_requested ? END_SHUTDOWN : END_CAPTURE_END, status,
	              rs->warn[0] ? rs->warn : NULL, err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit read: %s\n", err);
		rc = 3;
	}
	return rc;
}

int cli_read(int argc, char **argv)
{
	struct cli_audit_opts o = {.db = cli_default_db()};
	struct run_cfg cfg = {.mode = "read"};
	struct read_state rs = {.warn = "", .code = 0};
	struct run *run = NULL;
	struct merge *m = NULL;
	char *source = NULL;
	size_t n;
	int rc, tty;
	double t0 = cli_now();

	rc = parse_args(argc, argv, &o, &rs.skip_seen);
	if (rc >= 0)
		return rc;
	cli_catch_signals(on_signal, 0);
	n = (size_t)(argc - optind);
	m = open_inputs(argv + optind, n, o.filter, &rc);
	if (!m)
		return rc;
	if (stop_requested) { /* before the run row exists: nothing is written */
		merge_close(m);
		return 130;
	}
	rc = 2;
	source = source_text(m);
	rs.in = calloc(n, sizeof(*rs.in));
	rs.undecoded = calloc(n, sizeof(*rs.undecoded));
	if (!source || !rs.in || !rs.undecoded) {
		fprintf(stderr, "smaudit read: out of memory\n");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		rs.in[i].path = merge_input(m, i)->name;
	cfg.source = source;
	run = open_run(&o, &cfg, m, &rc);
	if (!run)
		goto out;
	run_set_inputs(run, rs.in, n);
	if (rs.skip_seen && !stop_requested && check_seen(run, m, &rs) < 0)
		rs.code = 3;

	tty = !o.quiet && isatty(2);
	if (rs.code != 3)
		read_inputs(run, m, tty, t0, &rs);
	finish_hashes(m, &rs);
	note_inputs(m, o.filter, &rs);
	rc = close_run(run, &rs);
	if (rs.code == 3)
		rc = 3;
	check_seen_after(run, m, &rs);
	if (!o.quiet)
		run_print_summary(run, cli_now() - t0, stderr, stdout);
	if (!stop_requested && no_host_flows(run, m) && rc == 0)
		rc = 2;
out:
	run_free(run);
	merge_close(m);
	free(rs.in);
	free(rs.undecoded);
	free(source);
	return rc;
}
