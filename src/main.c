/* main.c: smaudit's entry point: picks the subcommand and returns its exit
 * code. Everything else lives in the cli_* modules. */
#include <stdio.h>
#include <string.h>

#include <ndpi/ndpi_api.h>
#include <pcap/pcap.h>
#include <sqlite3.h>

#include "smaudit/cli.h"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: smaudit COMMAND [options]\n"
	        "\n"
	        "Passive auditor of a Cisco SocialMiner host's connections against its\n"
	        "documented port matrix.\n"
	        "\n"
	        "commands:\n"
	        "  read FILE...      audit capture files (pcap, pcapng, '-' for stdin)\n"
	        "  live -i IFACE     audit an interface until stopped\n"
	        "  rules check|show  validate rules files, print the effective matrix\n"
	        "  query anomalies|coverage|flows|runs\n"
	        "                    answer audit questions from the database\n"
	        "  report [-o FILE]  the audit as one HTML (or Markdown) document\n"
	        "  site suggest      propose a site file (roles) from the traffic\n"
	        "  prune --older-than AGE   delete old flows (retention)\n"
	        "\n"
	        "  smaudit COMMAND --help   options of one command\n"
	        "  smaudit --version        version and library versions\n"
	        "\n"
	        "exit status (every command):\n"
	        "  0    done\n"
	        "  1    query --fail-on-anomaly: anomalies found\n"
	        "  2    bad arguments or bad input: options, rules or site files, capture\n"
	        "       files, an interface (read stores what it read before a damaged record)\n"
	        "  3    the database failed: cannot be created, opened, read or written\n"
	        "       (query: also output that could not be written)\n"
	        "  130  read stopped by SIGINT or SIGTERM (what was read is stored);\n"
	        "       live stops on them normally, with 0\n");
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (!cmd) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
		printf("smaudit %s (%s, nDPI %s, SQLite %s)\n", SMAUDIT_VERSION, pcap_lib_version(),
		       ndpi_revision(), sqlite3_libversion());
		return 0;
	}
	if (!strcmp(cmd, "read"))
		return cli_read(argc - 1, argv + 1);
	if (!strcmp(cmd, "live"))
		return cli_live(argc - 1, argv + 1);
	if (!strcmp(cmd, "rules"))
		return cli_rules(argc - 1, argv + 1);
	if (!strcmp(cmd, "query"))
		return cli_query(argc - 1, argv + 1);
	if (!strcmp(cmd, "report"))
		return cli_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "site"))
		return cli_site(argc - 1, argv + 1);
	if (!strcmp(cmd, "prune"))
		return cli_prune(argc - 1, argv + 1);
	fprintf(stderr, "smaudit: unknown command '%s' (see smaudit --help)\n", cmd);
	return 2;
}
