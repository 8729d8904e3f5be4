/* cli_rules.c: `smaudit rules check|show`: validate rules and site files,
 * and print the effective matrix next to Cisco's table.
 *
 * Both subcommands take the site options every subcommand shares (--rules,
 * --site, --host, --role) and build the matrix the way read and live do
 * (cli_matrix). `check FILE...` sorts its files first: a rules file stands
 * in for the shipped matrix, a site file is checked on top of it. Errors go
 * to stderr as "file:line: what is wrong" and give exit code 2. */
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_common.h"
#include "smaudit/cli.h"
#include "smaudit/record.h"
#include "smaudit/rules.h"

/* Options shared by check and show; the strings point into argv. */
struct rules_opts {
	struct cli_site site;
	const char **files; /* check FILE... */
	size_t nfiles;
	int help;
	char format; /* rules show: 't'able (default), 'c'sv or 'm'arkdown */
};

static void usage_check(FILE *f)
{
	fprintf(f,
	        "usage: smaudit rules check [--site FILE]... [--host ADDR]... [--role "
	        "NAME=ADDR,...]... "
	        "[FILE...]\n"
	        "\n"
	        "Load rules and site files and report the first mistake as file:line.\n"
	        "FILE...        files loaded in order: a rules file replaces the shipped\n"
	        "               %s;\n"
	        "               a site file (host, role or port lines) is checked on top of it\n"
	        "--rules FILE   same as giving FILE first\n"
	        "--site FILE    a site file, loaded after the rules files\n"
	        "--host ADDR    a monitored SocialMiner address (ADDR[/PFX]); repeatable\n"
	        "--role NAME=ADDR[,ADDR...]  who holds a role (uccx cuic mail exchange xmpp);\n"
	        "               wins over site files; repeatable\n"
	        "To check a site file against the shipped matrix: smaudit rules check --site FILE\n"
	        "Exit: 0 valid, 2 an error (printed on stderr).\n",
	        rules_default_path() ? rules_default_path() : "socialminer.rules (not found)");
}

static void usage_show(FILE *f)
{
	fprintf(f, "usage: smaudit rules show [--rules FILE] [--site FILE]... [--host ADDR]... "
	           "[--role NAME=ADDR,...]...\n"
	           "\n"
	           "Print the effective matrix (after site settings) with the columns of Cisco's "
	           "port table,\nplus rule id, row, peer addresses, protocols and whether the port "
	           "is configurable.\n"
	           "--rules FILE   the rules file (default: the shipped socialminer.rules)\n"
	           "--site FILE    a site file (hosts, roles, moved ports, includes); repeatable\n"
	           "--host ADDR    a monitored SocialMiner address (ADDR[/PFX]); repeatable\n"
	           "--role NAME=ADDR[,ADDR...]  who holds a role; wins over site files\n"
	           "--format F     table (default), csv (RFC 4180, the table only) or md\n"
	           "               (Markdown, for a firewall request or a ticket)\n"
	           "Exit: 0 printed, 2 an error in a file or option.\n");
}

static void usage_rules(FILE *f)
{
	fprintf(f,
	        "usage: smaudit rules check [options] [FILE...]   validate rules and site files\n"
	        "       smaudit rules show  [options]             print the effective matrix\n"
	        "Run 'smaudit rules check --help' or 'smaudit rules show --help' for options.\n");
}

/* --format F of 'rules show' into o->format; 0, or -1 with a message. */
static int format_opt(struct rules_opts *o, const char *cmd, const char *f, int allow_files)
{
	if (allow_files || (strcmp(f, "table") && strcmp(f, "csv") && strcmp(f, "md"))) {
		fprintf(stderr, "smaudit rules %s: --format '%.20s': %s\n", cmd, f,
		        allow_files ? "only 'rules show' takes a format"
		                    : "not a format (table, csv, md)");
		return -1;
	}
	o->format = f[0];
	return 0;
}

/* Parse argv (argv[0] = "check" or "show"); 0, or 2 on a usage error. */
static int parse_opts(int argc, char **argv, struct rules_opts *o, int allow_files)
{
	static const struct option longopts[] = {{"rules", required_argument, NULL, 'r'},
	                                         {"site", required_argument, NULL, 's'},
	                                         {"host", required_argument, NULL, 'H'},
	                                         {"role", required_argument, NULL, 'R'},
	                                         {"format", required_argument, NULL, 'F'},
	                                         {"help", no_argument, NULL, 'h'},
	                                         {NULL, 0, NULL, 0}};
	struct cli_site *s = &o->site;
	int c, rc = 0;

	memset(o, 0, sizeof(*o));
	optind = 0; /* glibc: full re-initialisation */
	while (rc == 0 && (c = getopt_long(argc, argv, "+h", longopts, NULL)) != -1) {
		if (c == 'r')
			s->rules = optarg;
		else if (c == 's')
			rc = cli_push(&s->sites, &s->nsites, optarg, "--site");
		else if (c == 'H')
			rc = cli_push(&s->hosts, &s->nhosts, optarg, "--host");
		else if (c == 'R')
			rc = cli_push(&s->roles, &s->nroles, optarg, "--role");
		else if (c == 'h')
			o->help = 1;
		else if (c == 'F')
			rc = format_opt(o, argv[0], optarg, allow_files);
		else
			rc = -1;
	}
	for (int i = optind; rc == 0 && i < argc; i++) {
		if (!allow_files) {
			fprintf(stderr, "smaudit rules %s: unexpected argument '%s'\n", argv[0],
			        argv[i]);
			return 2;
		}
		rc = cli_push(&o->files, &o->nfiles, argv[i], "FILE");
	}
	return rc < 0 ? 2 : 0;
}

/* The site the options describe, FILEs sorted in: the first rules file (when
 * --rules is not given) stands in for the shipped matrix; every other FILE
 * is loaded after it, in order, before the --site files. -1 (printed) when
 * out of memory. */
static int site_of(const struct rules_opts *o, struct cli_site *s)
{
	size_t first = 0;

	memset(s, 0, sizeof(*s));
	s->rules = o->site.rules;
	if (!s->rules && o->nfiles && !rules_is_site_file(o->files[0])) {
		s->rules = o->files[0];
		first = 1;
	}
	for (size_t i = first; i < o->nfiles; i++) {
		if (rules_is_site_file(o->files[i]))
			printf("%s: a site file, checked on top of %s\n", o->files[i],
			       s->rules ? s->rules : "the shipped matrix");
		if (cli_push(&s->sites, &s->nsites, o->files[i], "FILE") < 0)
			return -1;
	}
	for (size_t i = 0; i < o->site.nsites; i++)
		if (cli_push(&s->sites, &s->nsites, o->site.sites[i], "--site") < 0)
			return -1;
	s->hosts = o->site.hosts; /* shared, not grown here */
	s->nhosts = o->site.nhosts;
	s->roles = o->site.roles;
	s->nroles = o->site.nroles;
	return 0;
}

/* Build the matrix the options describe, as read and live do; NULL with
 * the error printed. */
static struct rules_matrix *build(const struct rules_opts *o)
{
	struct cli_site s;

	if (site_of(o, &s) < 0)
		return NULL;
	return cli_matrix(&s);
}

/* Print "a, b/24, +N more" for up to max CIDRs into buf. */
static void cidr_list(const struct sm_cidr *c, size_t n, char *buf, size_t len)
{
	size_t off = 0;
	char s[ADDR_STRLEN + 4];

	buf[0] = '\0';
	for (size_t i = 0; i < n && off < len; i++) {
		if (c[i].prefix == (c[i].addr.family == 4 ? 32 : 128))
			addr_str(&c[i].addr, s, sizeof(s));
		else
			cidr_str(&c[i], s, sizeof(s));
		off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "," : "", s);
	}
}

static int cmd_check(const struct rules_opts *o)
{
	struct rules_matrix *m = build(o);
	const struct rules_file *files;
	const struct sm_cidr *hosts;
	size_t nfiles, nhosts, nconf = 0, nunconf = 0;
	char conf[512] = "", unconf[256] = "", hl[512];
	size_t co = 0, uo = 0;

	if (!m)
		return 2;
	nfiles = rules_files(m, &files);
	nhosts = rules_hosts(m, &hosts);
	for (size_t i = 0; i < rules_role_count(m); i++) {
		const struct sm_cidr *c;
		const char *name = rules_role_name(m, i);
		size_t n = rules_role_addrs(m, name, &c);
		if (n && co < sizeof(conf))
			co += (size_t)snprintf(conf + co, sizeof(conf) - co, "%s%s(%zu)",
			                       nconf++ ? " " : "", name, n);
		else if (!n && uo < sizeof(unconf))
			uo += (size_t)snprintf(unconf + uo, sizeof(unconf) - uo, "%s%s",
			                       nunconf++ ? " " : "", name);
	}
	cidr_list(hosts, nhosts, hl, sizeof(hl));
	printf("ok: %zu rules from %zu file%s; roles configured: %s%s%s%s; hosts: %s\n",
	       rules_count(m), nfiles, nfiles == 1 ? "" : "s", nconf ? conf : "none",
	       nunconf ? " (no addresses, peers not checked: " : "", unconf, nunconf ? ")" : "",
	       nhosts ? hl : "none");
	rules_free(m);
	return 0;
}

#define SHOW_COLS 10

typedef char show_row[SHOW_COLS][200];

/* The matrix as aligned columns; cells[0] is the header. */
static void print_table(show_row *cells, size_t n)
{
	size_t w[SHOW_COLS];

	for (int c = 0; c < SHOW_COLS; c++) {
		w[c] = 0;
		for (size_t i = 0; i <= n; i++)
			if (strlen(cells[i][c]) > w[c])
				w[c] = strlen(cells[i][c]);
	}
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < SHOW_COLS; c++) {
			if (c == SHOW_COLS - 1)
				printf("%s\n", cells[i][c]);
			else
				printf("%-*s  ", (int)w[c], cells[i][c]);
		}
		if (i == 0) {
			for (int c = 0; c < SHOW_COLS; c++)
				for (size_t k = 0; k < w[c] + (c < SHOW_COLS - 1 ? 2 : 0); k++)
					putchar(k < w[c] ? '-' : ' ');
			putchar('\n');
		}
	}
}

/* The matrix as CSV (RFC 4180: quoted when a field holds , " CR or LF). */
static void print_csv(show_row *cells, size_t n)
{
	for (size_t i = 0; i <= n; i++) {
		for (int c = 0; c < SHOW_COLS; c++) {
			const char *v = cells[i][c];
			if (c)
				putchar(',');
			if (!strpbrk(v, ",\"\r\n")) {
				fputs(v, stdout);
				continue;
			}
			putchar('"');
			for (; *v; v++) {
				if (*v == '"')
					putchar('"');
				putchar(*v);
			}
			putchar('"');
		}
		fputs("\r\n", stdout);
	}
}

/* The matrix as a Markdown table ('|' and '\\' escaped, line breaks as spaces). */
static void print_md(show_row *cells, size_t n)
{
	for (size_t i = 0; i <= n; i++) {
		putchar('|');
		for (int c = 0; c < SHOW_COLS; c++) {
			putchar(' ');
			for (const char *v = cells[i][c]; *v; v++) {
				if (*v == '|' || *v == '\\')
					putchar('\\');
				putchar(*v == '\n' || *v == '\r' ? ' ' : *v);
			}
			fputs(" |", stdout);
		}
		putchar('\n');
		if (i == 0) {
			putchar('|');
			for (int c = 0; c < SHOW_COLS; c++)
				fputs("---|", stdout);
			putchar('\n');
		}
	}
}

static int cmd_show(const struct rules_opts *o)
{
	static const char *const head[SHOW_COLS] = {"Listener/service",
	                                            "Listener port",
	                                            "Remote device",
	                                            "Remote port",
	                                            "Direction",
	                                            "Rule",
	                                            "Row",
	                                            "Peer addresses",
	                                            "Apps",
	                                            "Configurable"};
	struct rules_matrix *m = build(o);
	size_t n;
	show_row *cells;
	const struct rules_file *files;
	const struct sm_cidr *hosts;
	size_t nfiles, nhosts;
	char hl[512];

	if (!m)
		return 2;
	n = rules_count(m);
	cells = calloc(n + 1, sizeof(*cells));
	if (!cells) {
		rules_free(m);
		fprintf(stderr, "smaudit rules show: out of memory\n");
		return 3;
	}
	for (int c = 0; c < SHOW_COLS; c++)
		snprintf(cells[0][c], sizeof(cells[0][c]), "%s", head[c]);
	for (size_t i = 0; i < n; i++) {
		const struct rule *r = rules_get(m, i);
		char(*row)[200] = cells[i + 1];
		const char *tp = flow_proto_str(r->proto);
		char port[64], apps[200];
		const struct sm_cidr *c;
		size_t na, off = 0;

		if (r->port != r->default_port)
			snprintf(port, sizeof(port), "%s/%u (table: %u)", tp, r->port,
			         r->default_port);
		else
			snprintf(port, sizeof(port), "%s/%u", tp, r->port);
		snprintf(row[0], sizeof(row[0]), "%s", r->description);
		snprintf(row[1], sizeof(row[1]), "%s", r->dir == RULE_IN ? port : "-");
		snprintf(row[2], sizeof(row[2]), "%s", strcmp(r->role, "any") ? r->role : "anyone");
		snprintf(row[3], sizeof(row[3]), "%s", r->dir == RULE_OUT ? port : "-");
		snprintf(row[4], sizeof(row[4]), "%s", r->dir == RULE_IN ? "inbound" : "outbound");
		snprintf(row[5], sizeof(row[5]), "%s", r->id);
		snprintf(row[6], sizeof(row[6]), "%d", r->row);
		if (strcmp(r->role, "any") == 0)
			snprintf(row[7], sizeof(row[7]), "any");
		else if ((na = rules_role_addrs(m, r->role, &c)) == 0)
			snprintf(row[7], sizeof(row[7]), "(not configured)");
		else
			cidr_list(c, na, row[7], sizeof(row[7]));
		apps[0] = '\0';
		for (int a = 0; a < r->napps; a++)
			off += (size_t)snprintf(apps + off, sizeof(apps) - off, "%s%s",
			                        a ? "," : "", r->apps[a]);
		if (r->napps == 0)
			off += (size_t)snprintf(apps, sizeof(apps), "any");
		for (int a = 0; a < r->nnot_apps && off < sizeof(apps); a++)
			off += (size_t)snprintf(apps + off, sizeof(apps) - off, "%s%s",
			                        a ? "," : " but not ", r->not_apps[a]);
		snprintf(row[8], sizeof(row[8]), "%s", apps);
		snprintf(row[9], sizeof(row[9]), "%s", r->configurable ? "yes" : "no");
	}
	if (o->format == 'c')
		print_csv(cells, n);
	else if (o->format == 'm')
		print_md(cells, n);
	else
		print_table(cells, n);
	if (o->format == 'c')
		goto done;
	nfiles = rules_files(m, &files);
	nhosts = rules_hosts(m, &hosts);
	cidr_list(hosts, nhosts, hl, sizeof(hl));
	printf("\n%smonitored hosts: %s\n", o->format == 'm' ? "- " : "",
	       nhosts ? hl : "none (give --host or a site file)");
	for (size_t i = 0; i < nfiles; i++)
		printf("%sfile: %s sha256:%s\n", o->format == 'm' ? "- " : "", files[i].path,
		       files[i].sha256);
done:
	free(cells);
	rules_free(m);
	return 0;
}

int cli_rules(int argc, char **argv)
{
	struct rules_opts o;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage_rules(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "check") == 0) {
		rc = parse_opts(argc - 1, argv + 1, &o, 1);
		if (rc == 0 && o.help)
			usage_check(stdout);
		else if (rc == 0)
			rc = cmd_check(&o);
		else
			usage_check(stderr);
	} else if (strcmp(argv[1], "show") == 0) {
		rc = parse_opts(argc - 1, argv + 1, &o, 0);
		if (rc == 0 && o.help)
			usage_show(stdout);
		else if (rc == 0)
			rc = cmd_show(&o);
		else
			usage_show(stderr);
	} else {
		fprintf(stderr, "smaudit rules: unknown subcommand '%s'\n", argv[1]);
		usage_rules(stderr);
		return 2;
	}
	return rc;
}
