/* cli.h: the subcommands. Each parses its own options, does its work and
 * returns the process exit code (0 ok, 1 findings where asked, 2 usage or
 * input error, 3 failure while running). Only main() exits. */
#ifndef SMAUDIT_CLI_H
#define SMAUDIT_CLI_H

int cli_read(int argc, char **argv);   /* smaudit read  [options] FILE... */
int cli_live(int argc, char **argv);   /* smaudit live  -i IFACE [options] */
int cli_rules(int argc, char **argv);  /* smaudit rules check|show ... */
int cli_query(int argc, char **argv);  /* smaudit query anomalies|coverage|flows|runs */
int cli_report(int argc, char **argv); /* smaudit report [filters] [-o FILE] */
int cli_site(int argc, char **argv);   /* smaudit site suggest [--run N] */
int cli_prune(int argc, char **argv);  /* smaudit prune --older-than AGE */

#endif
