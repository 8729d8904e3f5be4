/* cli_site.c: `smaudit site suggest [--db FILE] [--run N]`: a site file
 * proposed from the traffic in the database, on stdout (suggest.c does
 * the work; this file owns the options and exit codes). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_filter.h"
#include "smaudit/cli.h"
#include "smaudit/suggest.h"

#define PROG "smaudit site suggest"

static const char usage_text[] =
    "usage: smaudit site suggest [--db FILE] [--run N] > site.conf\n"
    "  Propose the roles (uccx, cuic, mail, exchange, xmpp) from what the host did:\n"
    "  a peer that fits two or more rules of a role, or is the role's only clean\n"
    "  candidate, is proposed; any other candidate is written commented out and\n"
    "  marked REVIEW. Each line carries its evidence. Review, then read with --site.\n"
    "options:\n"
    "  --db FILE   database (default $SMAUDIT_DB, else smaudit.db)\n"
    "  --run N     learn from one run only (default: every run)\n"
    "exit: 0 written, 2 bad arguments, database or no run, 3 failure while reading\n";

int cli_site(int argc, char **argv)
{
	static const struct option opts[] = {{"db", required_argument, NULL, 'd'},
	                                     {"run", required_argument, NULL, 'r'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	struct suggest_opts so = {0};
	const char *db_path = getenv("SMAUDIT_DB");
	struct sqlite3 *db;
	char err[512];
	int64_t v;
	int c, rc;

	if (!db_path || !*db_path)
		db_path = "smaudit.db";
	if (argc < 2 || strcmp(argv[1], "suggest") != 0) {
		if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
			fputs(usage_text, stdout);
			return 0;
		}
		cli_errmsg("smaudit site", "which? 'smaudit site suggest' (see --help)");
		return 2;
	}
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc - 1, argv + 1, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case 'd':
			db_path = optarg;
			break;
		case 'r':
			if (cli_parse_int(optarg, 1, INT64_MAX, &v) < 0) {
				cli_errmsg(PROG, "--run '%.40s': not a run id (a positive integer)",
				           optarg);
				return 2;
			}
			so.run_id = v;
			break;
		case ':':
			cli_errmsg(PROG, "%s needs a value", argv[optind]);
			return 2;
		default:
			cli_errmsg(PROG, "unknown option '%s' (see --help)", argv[optind]);
			return 2;
		}
	}
	if (optind + 1 < argc) {
		cli_errmsg(PROG, "unexpected argument '%s'", argv[optind + 1]);
		return 2;
	}
	if (query_open(db_path, &db, err, sizeof(err)) < 0) {
		cli_errmsg(PROG, "%s", err);
		return 2;
	}
	so.db_name = db_path;
	so.now = time(NULL);
	rc = suggest_site(db, &so, stdout, err, sizeof(err));
	query_close(db);
	if (rc < 0) {
		cli_errmsg(PROG, "%s", err);
		return strstr(err, "no run") ? 2 : 3;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		cli_errmsg(PROG, "writing output: %s", strerror(errno));
		return 3;
	}
	return 0;
}
