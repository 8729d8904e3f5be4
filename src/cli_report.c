/* cli_report.c: `smaudit report [filters] [--format html|md] [-o FILE]`.
 *
 * Owns the report's options and exit codes; report.c writes the document.
 * With -o the report is written to a temporary file beside FILE and renamed
 * over it only when complete, so a failure never leaves half a report (nor
 * destroys the previous one). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli_filter.h"
#include "smaudit/cli.h"
#include "smaudit/report.h"

#define PROG "smaudit report"

static const char usage_text[] =
    "usage: smaudit report [options] [-o FILE]\n"
    "  The audit as one document: what was audited and lost, the port matrix rule\n"
    "  by rule, findings worst first with evidence, what could not be checked,\n"
    "  flows over time and a peer map. HTML is one self-contained file (no\n"
    "  script, no external resource), printable on A4.\n"
    "options:\n"
    "  --db FILE           database (default $SMAUDIT_DB, else smaudit.db)\n"
    "  -o, --output FILE   write here (default stdout); replaced only when complete\n"
    "  --format F          html (default) or md (Markdown, for a ticket)\n" CLI_FILTER_HELP
    "exit: 0 ok, 2 bad arguments or database, 3 failure while reading or writing\n";

enum { OPT_DB = 256, OPT_FORMAT };

static const struct option long_opts[] = {
    CLI_FILTER_OPTIONS,
    {"db", required_argument, NULL, OPT_DB},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"output", required_argument, NULL, 'o'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Append "--NAME VALUE" to the shown filters text. */
static void note_filter(char *buf, size_t len, const char *name, const char *val)
{
	size_t n = strlen(buf);
	snprintf(buf + n, len - n, "%s--%s %s", n ? " " : "", name, val);
}

/* Write the report to path (through a temporary file) or stdout; exit code. */
static int write_report(struct sqlite3 *db, const struct report_opts *ro, const char *path)
{
	char err[512], tmp[4096];
	FILE *out = stdout;
	int fd = -1, rc;

	if (path) {
		snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path);
		fd = mkstemp(tmp);
		if (fd < 0 || !(out = fdopen(fd, "w"))) {
			cli_errmsg(PROG, "%s: %s", path, strerror(errno));
			if (fd >= 0) {
				close(fd);
				unlink(tmp);
			}
			return 3;
		}
	}
	rc = report_write(db, ro, out, err, sizeof(err));
	if (rc < 0)
		cli_errmsg(PROG, "%s", err);
	if (fflush(out) != 0 || ferror(out)) {
		cli_errmsg(PROG, "writing %s: %s", path ? path : "output", strerror(errno));
		rc = -1;
	}
	if (path) {
		if (fclose(out) != 0 && rc == 0) {
			cli_errmsg(PROG, "writing %s: %s", path, strerror(errno));
			rc = -1;
		}
		if (rc == 0 && chmod(tmp, 0644) == 0 && rename(tmp, path) != 0) {
			cli_errmsg(PROG, "%s: %s", path, strerror(errno));
			rc = -1;
		}
		if (rc < 0)
			unlink(tmp);
	}
	return rc < 0 ? 3 : 0;
}

int cli_report(int argc, char **argv)
{
	struct report_opts ro;
	const char *db_path = getenv("SMAUDIT_DB"), *path = NULL;
	char filters[1024] = "";
	struct sqlite3 *db;
	char err[512];
	int c, rc;

	memset(&ro, 0, sizeof(ro));
	if (!db_path || !*db_path)
		db_path = "smaudit.db";
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":ho:", long_opts, NULL)) != -1) {
		int r = c == CLI_OPT_LIMIT ? 0 : cli_filter_option(&ro.filter, c, optarg, PROG);
		if (r < 0)
			return 2;
		if (r > 0) {
			for (const struct option *lo = long_opts; lo->name; lo++)
				if (lo->val == c)
					note_filter(filters, sizeof(filters), lo->name, optarg);
			continue;
		}
		switch (c) {
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		case OPT_DB:
			if (!*optarg) {
				cli_errmsg(PROG, "--db: empty file name");
				return 2;
			}
			db_path = optarg;
			break;
		case 'o':
			if (!*optarg) {
				cli_errmsg(PROG, "-o: empty file name");
				return 2;
			}
			path = strcmp(optarg, "-") ? optarg : NULL;
			break;
		case OPT_FORMAT:
			if (!strcmp(optarg, "html") || !strcmp(optarg, "md")) {
				ro.format = optarg[0] == 'm' ? REPORT_MD : REPORT_HTML;
				break;
			}
			cli_errmsg(PROG, "--format '%.40s': not a format (html, md)", optarg);
			return 2;
		case CLI_OPT_LIMIT:
			cli_errmsg(PROG, "--limit does not apply to a report");
			return 2;
		case ':':
			cli_errmsg(PROG, "%s needs a value", argv[optind - 1]);
			return 2;
		default:
			cli_errmsg(PROG, "unknown option '%s' (see --help)", argv[optind - 1]);
			return 2;
		}
	}
	if (optind < argc) {
		cli_errmsg(PROG, "unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if (cli_filter_check(&ro.filter, PROG) < 0)
		return 2;
	if (query_open(db_path, &db, err, sizeof(err)) < 0) {
		cli_errmsg(PROG, "%s", err);
		return 2;
	}
	if (cli_filter_resolve(db, &ro.filter, db_path, PROG) < 0) {
		query_close(db);
		return 2;
	}
	ro.db_name = db_path;
	ro.filters = filters;
	ro.now = time(NULL);
	rc = write_report(db, &ro, path);
	query_close(db);
	return rc;
}
