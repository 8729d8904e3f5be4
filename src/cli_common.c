/* cli_common.c: option helpers and the run summary shared by read and live. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"
#include "smaudit/dpi.h"

/* The option lists' arrays (they hold argv strings, which live as long as
 * the process) and the paths cli_site_pin resolved, freed at exit; a list
 * is one entry, updated as it grows. */
static void **lists;
static size_t nlists;

/* atexit: free the option lists. */
static void free_lists(void)
{
	for (size_t i = 0; i < nlists; i++)
		free(lists[i]);
	free(lists);
}

/* Keep grown (which replaced old, NULL for a new list) for free_lists. */
static int keep_list(void *old, void *grown)
{
	void **more;

	for (size_t i = 0; old && i < nlists; i++)
		if (lists[i] == old) {
			lists[i] = grown;
			return 0;
		}
	more = realloc(lists, (nlists + 1) * sizeof(*lists));
	if (!more)
		return -1;
	if (!lists)
		atexit(free_lists);
	lists = more;
	lists[nlists++] = grown;
	return 0;
}

int cli_push(const char ***list, size_t *n, const char *v, const char *opt)
{
	if ((*n & (*n - 1)) == 0) { /* 0, 1, 2, 4, ...: double the room */
		const char **grown = realloc((void *)*list, (*n ? *n * 2 : 1) * sizeof(*grown));
		if (grown && keep_list((void *)*list, (void *)grown) < 0) {
			free(grown); /* only a new list's first entry can fail: *list is NULL */
			grown = NULL;
		}
		if (!grown) {
			fprintf(stderr, "smaudit: %s: out of memory\n", opt);
			return -1;
		}
		*list = grown;
	}
	(*list)[(*n)++] = v;
	return 0;
}

int cli_audit_option(struct cli_audit_opts *o, int opt, const char *arg)
{
	static const char *const timeout_opt[] = {"--tcp-timeout", "--udp-timeout",
	                                          "--icmp-timeout"};
	uint64_t v;

	switch (opt) {
	case 'H':
		return cli_push(&o->site.hosts, &o->site.nhosts, arg, "--host") < 0 ? -1 : 1;
	case 's':
		return cli_push(&o->site.sites, &o->site.nsites, arg, "--site") < 0 ? -1 : 1;
	case 'R':
		return cli_push(&o->site.roles, &o->site.nroles, arg, "--role") < 0 ? -1 : 1;
	case 'r':
		o->site.rules = arg;
		return 1;
	case 'd':
		if (!*arg) {
			fprintf(stderr,
			        "smaudit: --db '': empty file name (give a database path)\n");
			return -1;
		}
		o->db = arg;
		return 1;
	case 'f':
		o->filter = arg;
		return 1;
	case 'E':
		if (!*arg) {
			fprintf(stderr, "smaudit: --eve needs a file name\n");
			return -1;
		}
		o->eve = arg;
		return 1;
	case 'q':
		o->quiet = 1;
		return 1;
	case 4:
		o->no_dpi = 1;
		return 1;
	case 5:
		if (cli_uint("--vxlan-port", arg, 1, 65535, &v) < 0)
			return -1;
		o->decode.vxlan_port = (uint16_t)v;
		return 1;
	case 'm':
		if (cli_uint("--max-flows", arg, 1, 100000000, &v) < 0)
			return -1;
		o->flow.max_flows = (uint32_t)v;
		return 1;
	case 1:
	case 2:
	case 3:
		if (cli_uint(timeout_opt[opt - 1], arg, 1, 86400 * 7, &v) < 0)
			return -1;
		if (opt == 1)
			o->flow.tcp_timeout_us = v * 1000000;
		else if (opt == 2)
			o->flow.udp_timeout_us = v * 1000000;
		else
			o->flow.icmp_timeout_us = v * 1000000;
		return 1;
	default:
		return 0;
	}
}

int cli_uint(const char *opt, const char *v, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long x;

	errno = 0;
	if (!v || *v < '0' || *v > '9') {
		fprintf(stderr, "smaudit: %s wants a number, not '%s'\n", opt, v ? v : "");
		return -1;
	}
	x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max) {
		fprintf(stderr, "smaudit: %s: '%s' is not a whole number from %llu to %llu\n", opt,
		        v, (unsigned long long)min, (unsigned long long)max);
		return -1;
	}
	*out = x;
	return 0;
}

struct rules_matrix *cli_matrix(const struct cli_site *s)
{
	struct rules_matrix *m = NULL;
	char err[1024];
	const char *path = s->rules ? s->rules : rules_default_path();
	const char *const *names;
	size_t nnames;

	if (!path) {
		fprintf(stderr,
		        "smaudit: cannot find the shipped rules/socialminer.rules; give --rules "
		        "FILE or set SMAUDIT_RULES\n");
		return NULL;
	}
	names = dpi_app_names(&nnames); /* app lists name what nDPI can report */
	rules_use_app_names(names, nnames);
	if (rules_build(&m, path, s->sites, s->nsites, s->hosts, s->nhosts, s->roles, s->nroles,
	                err, sizeof(err)) < 0) {
		fprintf(stderr, "smaudit: %s\n", err);
		return NULL;
	}
	return m;
}

const char *cli_default_db(void)
{
	const char *e = getenv("SMAUDIT_DB");
	return e && *e ? e : "smaudit.db";
}

double cli_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Warn on stderr, before a run starts, about what the matrix cannot check:
 * roles that rules name but that have no addresses (their peers), and with
 * --no-dpi every rule that restricts the application. */
static void warn_unchecked(const char *cmd, const struct rules_matrix *m, int no_dpi)
{
	char roles[256] = "", rules[512] = "";
	size_t ro = 0, ru = 0, napps = 0;

	for (size_t i = 0; i < rules_count(m); i++) {
		const struct rule *r = rules_get(m, i);
		const struct sm_cidr *c;
		napps += r->napps > 0;
		if (!strcmp(r->role, "any") || rules_role_addrs(m, r->role, &c) > 0)
			continue;
		if (!strstr(roles, r->role) && ro < sizeof(roles))
			ro += (size_t)snprintf(roles + ro, sizeof(roles) - ro, "%s%s",
			                       ro ? ", " : "", r->role);
		if (ru < sizeof(rules))
			ru += (size_t)snprintf(rules + ru, sizeof(rules) - ru, "%s%s",
			                       ru ? ", " : "", r->id);
	}
	if (ro)
		fprintf(stderr,
		        "smaudit %s: warning: no addresses for role %s: flows of rules %s will be "
		        "rated on port and direction only, their peers not checked (give --role "
		        "NAME=ADDR or a site file; 'smaudit site suggest' proposes one)\n",
		        cmd, roles, rules);
	if (no_dpi && napps)
		fprintf(stderr,
		        "smaudit %s: warning: --no-dpi: the application of the %zu rules that "
		        "restrict it will not be checked\n",
		        cmd, napps);
}

struct run *cli_run_open(const char *cmd, const struct cli_audit_opts *o, struct run_cfg *cfg,
                         int *rc, int *no_host)
{
	struct rules_matrix *m = cli_matrix(&o->site);
	enum run_err why;
	struct run *r;
	char err[1024];

	*rc = 2;
	*no_host = 0;
	if (!m)
		return NULL;
	if (rules_hosts(m, &(const struct sm_cidr *){NULL}) == 0) {
		fprintf(stderr,
		        "smaudit %s: no monitored host: give --host ADDR (the SocialMiner "
		        "server's address) or a site file with 'host' lines\n",
		        cmd);
		rules_free(m);
		*no_host = 1;
		return NULL;
	}
	if (!o->quiet)
		warn_unchecked(cmd, m, o->no_dpi);
	cfg->db = o->db;
	cfg->filter = o->filter;
	cfg->flow = o->flow;
	cfg->decode = o->decode;
	cfg->no_dpi = o->no_dpi;
	cfg->eve = o->eve;
	r = run_open(cfg, m, &why, err, sizeof(err));
	if (!r) {
		fprintf(stderr, "smaudit %s: %s\n", cmd, err);
		*rc = why == RUN_ERR_OUTPUT ? 2 : 3;
	} else if (run_reaped(r))
		fprintf(stderr,
		        "smaudit %s: %ld earlier run(s) in %s were left 'running' by a process "
		        "that is gone; marked 'interrupted' (smaudit query runs)\n",
		        cmd, run_reaped(r), cfg->db);
	return r;
}

void cli_catch_signals(void (*handler)(int), int service)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = handler;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if (!service)
		return;
	sigaction(SIGHUP, &sa, NULL);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
}

/* realpath of path, kept (and freed at exit) with the option lists; path
 * itself when it does not resolve or memory is short. */
static const char *pinned(const char *path)
{
	char *abs = realpath(path, NULL);

	if (!abs)
		return path;
	if (keep_list(NULL, abs) < 0) {
		free(abs);
		return path;
	}
	return abs;
}

void cli_site_pin(struct cli_site *s)
{
	const char *rules = s->rules ? s->rules : rules_default_path();

	if (rules)
		s->rules = pinned(rules);
	for (size_t i = 0; i < s->nsites; i++)
		s->sites[i] = pinned(s->sites[i]);
}
