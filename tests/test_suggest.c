/* test_suggest.c: `smaudit site suggest` end to end, the workflow the README
 * shows: read a capture with no roles, suggest a site file, read it again
 * with that file as written. The roles expected are the loopback plan of
 * the captures (pcaps/README.md: uccx .21, cuic .22, mail .23, exchange
 * .24, xmpp .25), and the verdicts after the second read must be the ones
 * written by hand in pcaps/demo.verdicts and pcaps/suggest.verdicts. The
 * planted rogue peers (127.0.0.66 on 443, 25 and 5222; 127.0.0.58 on 5222
 * inbound) must stay commented out. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#define HOST "127.0.0.10"
#define ROLES                                                                                      \
	"cuic 127.0.0.22\nexchange 127.0.0.24\nmail 127.0.0.23\nuccx 127.0.0.21\nxmpp "            \
	"127.0.0.25\n"

static char dir[64], db[128], db2[128], site[128], out[65536];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(db2, sizeof(db2), "%s/again.db", dir);
	snprintf(site, sizeof(site), "%s/site.conf", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(suggest, .init = setup, .fini = teardown, .timeout = 120);

/* read pcap without roles, then site suggest into site; returns the site text in out. */
static void suggest_from(const char *pcap)
{
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --host " HOST " --db %s %s", db, pcap),
	    0, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site suggest --db %s > %s", db, site),
	             0, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), "cat %s", site), 0);
}

/* The proposed (uncommented) role lines as "role addr" lines, sorted. */
static void proposed_roles(char *buf, size_t len)
{
	cr_assert_eq(tu_run(buf, len, "grep '^role ' %s | awk '{print $2, $3}' | sort", site), 0);
}

/* Read pcap again with the suggested site as written; its verdicts must be
 * the hand-written table. */
static void reread_matches(const char *pcap, const char *verdicts)
{
	cr_assert_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --site %s --db %s %s", site, db2, pcap),
	    0, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out),
	           "tail -n +2 %s | sort > %s/want && sqlite3 -separator '\t' %s"
	           " \"SELECT proto, orig_addr, orig_port, resp_addr, resp_port, direction,"
	           " ifnull(rule_id, '-'), verdict FROM flows\" | sort | diff %s/want -",
	           verdicts, dir, db2, dir),
	    0, "verdicts after reading with the suggested site differ:\n%s", out);
}

Test(suggest, demo_roles_are_found_and_rereading_gives_the_hand_written_verdicts)
{
	char roles[1024];

	suggest_from("pcaps/demo.pcap");
	cr_assert_not_null(strstr(out, "host 127.0.0.10/32\n"), "%s", out);
	proposed_roles(roles, sizeof(roles));
	cr_assert_str_eq(roles, ROLES, "%s", out);
	/* the rogue and the weak candidates are there, commented out for review */
	cr_assert_not_null(strstr(out, "# role uccx      127.0.0.66"), "%s", out);
	cr_assert_not_null(strstr(out, "# role uccx      127.0.0.58"), "%s", out);
	cr_assert_not_null(strstr(out, "# role xmpp      127.0.0.66"), "%s", out);
	cr_assert_not_null(strstr(out, "# role mail      127.0.0.66"), "%s", out);
	cr_assert_not_null(strstr(out, "# role exchange  127.0.0.23"), "%s", out);
	reread_matches("pcaps/demo.pcap", "pcaps/demo.verdicts");
}

Test(suggest, a_planted_rogue_peer_in_a_crafted_capture_stays_commented_out)
{
	char roles[1024];

	suggest_from("pcaps/suggest.pcap");
	proposed_roles(roles, sizeof(roles));
	cr_assert_str_eq(roles, ROLES, "%s", out);
	cr_assert_not_null(strstr(out, "# REVIEW: weak evidence, it fits one rule of the role only "
	                               "and is not the role's only candidate\n# role uccx      "
	                               "127.0.0.66"),
	                   "%s", out);
	reread_matches("pcaps/suggest.pcap", "pcaps/suggest.verdicts");
}

Test(suggest, every_line_carries_its_evidence_and_the_file_is_valid)
{
	suggest_from("pcaps/suggest.pcap");
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "grep -c '^role uccx  *127.0.0.21  *# 2 rules (.*uccx.*), 4 flows, "
	                    "2026-11-01 15:00:00 to 2026-11-01 15:00:43 UTC' %s",
	                    site),
	             0, "uccx 127.0.0.21: two rules, 4 flows (pcaps/README.md): %s", out);
	cr_assert_eq(tu_run(out, sizeof(out), "grep '^role ' %s | grep -vc '# .*flow'", site), 1,
	             "a role line without evidence: %s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " rules check --site %s", site), 0, "%s",
	             out);
}

Test(suggest, run_selects_what_is_learnt_and_bad_arguments_exit_2)
{
	suggest_from("pcaps/demo.pcap");
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site suggest --db %s --run 1", db), 0,
	             "%s", out);
	cr_assert_not_null(strstr(out, "# run 1\n"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site suggest --db %s --run 9", db), 2,
	             "%s", out);
	cr_assert_not_null(strstr(out, "no run to learn from"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site suggest --db %s --run x", db), 2);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site suggest --db %s extra", db), 2);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site --db %s", db), 2);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " site suggest --db %s/none.db", dir), 2);
}

Test(suggest, many_weak_candidates_are_bounded_and_counted)
{
	char pcap[160];
	long long peers;

	snprintf(pcap, sizeof(pcap), "%s/many.pcap", dir);
	cr_assert_eq(
	    tu_run(out, sizeof(out),
	           "python3 tests/bench/gen_flows.py --flows 2000 --layout mix --window 100 %s",
	           pcap),
	    0, "%s", out);
	suggest_from(pcap);
	/* the host reaches many peers on 443, each one rule of uccx: all weak */
	peers = tu_q1(db, "SELECT count(DISTINCT peer_addr) FROM flows WHERE direction = 'out' AND "
	                  "resp_port = 443");
	cr_assert_gt(peers, 20, "the capture needs more than 20 such peers");
	cr_assert_eq(tu_run(out, sizeof(out), "grep -c '^role uccx' %s", site), 1, "none proposed");
	cr_assert_eq(tu_run(out, sizeof(out), "grep -c '^# role uccx' %s", site), 0);
	cr_assert_eq(atoi(out), 20, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), "grep '^# ... and' %s", site), 0);
	{
		char want[96];
		snprintf(want, sizeof(want), "# ... and %lld more weak candidates", peers - 20);
		cr_assert_not_null(strstr(out, want), "%s", out);
	}
}
