/* cli_prune.c: `smaudit prune --older-than AGE --db FILE`: retention.
 *
 * Deletes the flows that started before now - AGE, the oldest first, in
 * transactions of CFG_PRUNE_BATCH rows, so a `live` writing the same
 * database waits at most one small batch. Runs keep their rows and count
 * what was pruned of them (runs.pruned). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_common.h"
#include "config.h"
#include "smaudit/cli.h"
#include "smaudit/store.h"

static void usage(FILE *out)
{
	fprintf(out, "usage: smaudit prune --older-than AGE [--db FILE]\n"
	             "\n"
	             "Delete flows that started more than AGE ago (90d, 12h, 30m, 45s; a bare\n"
	             "number is days), in small transactions; runs keep their history and\n"
	             "count the flows pruned of them (runs.pruned).\n"
	             "\n"
	             "  --older-than AGE   how old a flow must be to go\n"
	             "  --db FILE          database (default $SMAUDIT_DB or smaudit.db)\n"
	             "  -h, --help         this help\n");
}

/* Parse an age ("90d", "12h", "30m", "45s", a bare number of days). */
static int cli_age(const char *opt, const char *v, uint64_t *secs)
{
	char *end;
	unsigned long long n;
	uint64_t unit = 86400;

	n = v && *v >= '0' && *v <= '9' ? strtoull(v, &end, 10) : 0;
	if (n && *end) {
		unit = !strcmp(end, "d")   ? 86400
		       : !strcmp(end, "h") ? 3600
		       : !strcmp(end, "m") ? 60
		       : !strcmp(end, "s") ? 1
		                           : 0;
	}
	if (!n || !unit || n > 36500ull * 86400 / unit) {
		fprintf(stderr, "smaudit: %s wants an age such as 90d, 12h, 30m or 45s, not '%s'\n",
		        opt, v ? v : "");
		return -1;
	}
	*secs = n * unit;
	return 0;
}

int cli_prune(int argc, char **argv)
{
	static const struct option opts[] = {{"older-than", required_argument, NULL, 'o'},
	                                     {"db", required_argument, NULL, 'd'},
	                                     {"help", no_argument, NULL, 'h'},
	                                     {NULL, 0, NULL, 0}};
	const char *db = cli_default_db();
	uint64_t age = 0;
	long n, total = 0;
	char err[512], when[32];
	struct store *s;
	time_t cut;
	int opt;

	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		if (opt == 'o' && cli_age("--older-than", optarg, &age) < 0)
			return 2;
		else if (opt == 'd')
			db = optarg;
		else if (opt == 'h') {
			usage(stdout);
			return 0;
		} else if (opt != 'o') {
			fprintf(stderr,
			        "smaudit prune: bad option '%s' (see smaudit prune --help)\n",
			        argv[optind - 1]);
			return 2;
		}
	}
	if (!age) {
		fprintf(stderr, "smaudit prune: give --older-than AGE (e.g. 90d)\n");
		return 2;
	}
	s = store_open(db, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "smaudit prune: %s\n", err);
		return 3;
	}
	cut = time(NULL) - (time_t)age;
	do {
		if (store_prune(s, (double)cut, CFG_PRUNE_BATCH, &n, err, sizeof(err)) < 0) {
			fprintf(stderr, "smaudit prune: %s (%ld flows deleted before this)\n", err,
			        total);
			store_close(s);
			return 3;
		}
		total += n;
	} while (n == CFG_PRUNE_BATCH);
	store_close(s);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&cut));
	printf("smaudit prune: %ld flows that started before %s deleted from %s\n", total, when,
	       db);
	return 0;
}
