/* test_report.c: `smaudit report` end to end. The real binary reads the real
 * captures (pcaps/demo.pcap, recorded; pcaps/suggest.pcap, crafted by
 * tests/gen/craft.py with a Host header made of markup) into a real
 * database, writes the report, and a real HTML5 parser (python3-html5lib,
 * tests/report/check_report.py) holds its content to the verdict tables
 * written by hand (pcaps/NAME.verdicts): summary counts, the matrix's status of
 * every rule, the findings, evidence uids that exist, what was not checked,
 * and nothing that loads or runs anything. Then Markdown, filters, an older
 * database, and bad arguments. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "smaudit/store.h"
#include "testutil.h"

#define HOST  "127.0.0.10"
#define SITE  "rules/demo.site"
#define CHECK "/usr/bin/python3 tests/report/check_report.py"

static char dir[64], db[128], html[128], out[262144];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(html, sizeof(html), "%s/audit.html", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(report, .init = setup, .fini = teardown, .timeout = 120);

/* Read pcap into db (with the demo site unless roles is 0). */
static void read_capture(const char *pcap, int roles)
{
	int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read -q --host " HOST " %s --db %s %s",
	                roles ? "--site " SITE : "", db, pcap);
	cr_assert_eq(rc, 0, "%s", out);
}

/* Write the report with extra arguments; returns the exit status. */
static int report(const char *args)
{
	return tu_run(out, sizeof(out), SMAUDIT_BIN " report --db %s %s", db, args);
}

Test(report, demo_with_roles_matches_the_hand_written_verdicts)
{
	read_capture("pcaps/demo.pcap", 1);
	cr_assert_eq(report("-o"), 2, "-o needs a value: %s", out);
	{
		char args[256];
		snprintf(args, sizeof(args), "-o %s", html);
		cr_assert_eq(report(args), 0, "%s", out);
	}
	cr_assert_eq(
	    tu_run(out, sizeof(out), CHECK " %s pcaps/demo.verdicts %s --roles all", html, db), 0,
	    "%s", out);
}

Test(report, demo_without_roles_says_which_peers_were_not_checked)
{
	char args[256];

	read_capture("pcaps/demo.pcap", 0);
	snprintf(args, sizeof(args), "-o %s", html);
	cr_assert_eq(report(args), 0, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    CHECK " %s pcaps/demo.verdicts-noroles %s --roles none", html, db),
	             0, "%s", out);
}

Test(report, a_hostile_host_header_is_shown_as_text_not_markup)
{
	char args[256];

	read_capture("pcaps/suggest.pcap", 1);
	cr_assert_eq(tu_q1(db, "SELECT count(*) FROM flows WHERE server_name LIKE '<script>%'"), 1,
	             "the capture carries the hostile Host header");
	snprintf(args, sizeof(args), "-o %s", html);
	cr_assert_eq(report(args), 0, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    CHECK " %s pcaps/suggest.verdicts %s --roles all --hostile '%s'", html,
	                    db, "<script>alert(1)</script><img/src=x/onerror=alert(2)>\"'\\''&"),
	             0, "%s", out);
	cr_assert_eq(report("--format md"), 0, "%s", out);
	cr_assert_null(strstr(out, "<script"), "raw markup in Markdown");
	cr_assert_null(strstr(out, "<img"), "raw markup in Markdown");
	cr_assert_not_null(strstr(out, "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"), "%s", out);
}

Test(report, markdown_has_the_matrix_the_findings_and_the_counts)
{
	read_capture("pcaps/demo.pcap", 1);
	cr_assert_eq(report("--format md"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "# smaudit audit report"));
	/* every row of Cisco's table and its rule, from ../shared/socialminer-ports.md */
	cr_assert_not_null(strstr(out, "| 3 | https\\-to\\-uccx | host \u2192 uccx | 443/tcp |") ||
	                       strstr(out, "| 3 | https-to-uccx | host \u2192 uccx | 443/tcp |"),
	                   "%s", out);
	cr_assert_not_null(strstr(out, "**13 expected**"), "%s", out);
	cr_assert_not_null(strstr(out, "**5 unexpected-peer**"), "%s", out);
	cr_assert_not_null(strstr(out, "### unexpected-peer"), "%s", out);
	cr_assert_null(strstr(out, "<svg"), "no SVG in Markdown");
}

Test(report, filters_narrow_the_findings)
{
	read_capture("pcaps/demo.pcap", 1);
	cr_assert_eq(report("--format md --verdict unexpected-port"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "### unexpected-port"), "%s", out);
	cr_assert_null(strstr(out, "### unexpected-peer"), "%s", out);
	cr_assert_not_null(strstr(out, "filters: \\-\\-verdict unexpected\\-port") ||
	                       strstr(out, "filters: --verdict unexpected-port"),
	                   "the report says how it was filtered: %s", out);
	cr_assert_eq(report("--format md --since 2099-01-01"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "No flow matches the filters."), "%s", out);
	cr_assert_eq(report("--format md --run last --proto TCP"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "27 flows seen"), "27 tcp lines in demo.verdicts: %s", out);
	cr_assert_eq(report("--format md --peer 127.0.0.66"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "8 flows seen"), "127.0.0.66 has 8 flows: %s", out);
}

Test(report, an_older_database_without_role_columns_is_reported_not_changed)
{
	read_capture("pcaps/demo.pcap", 0);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "sqlite3 %s 'ALTER TABLE runs DROP COLUMN roles; "
	                    "ALTER TABLE runs DROP COLUMN ndpi_version'",
	                    db),
	             0, "%s", out);
	cr_assert_eq(report("--format html"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "did not record their role addresses"), "%s", out);
	cr_assert_eq(tu_q1(db, "SELECT count(*) FROM pragma_table_info('runs') WHERE name = "
	                       "'roles'"),
	             0, "the report never migrates the database");
}

Test(report, bad_arguments_and_failures_exit_non_zero_and_leave_no_file)
{
	struct stat sb;
	char args[256];

	read_capture("pcaps/demo.pcap", 1);
	cr_assert_eq(report("--format pdf"), 2, "%s", out);
	cr_assert_not_null(strstr(out, "not a format"), "%s", out);
	cr_assert_eq(report("--limit 3"), 2, "%s", out);
	cr_assert_eq(report("--port 70000"), 2, "%s", out);
	cr_assert_eq(report("extra"), 2, "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), SMAUDIT_BIN " report --db %s/none.db", dir), 2, "%s",
	             out);
	cr_assert_not_null(strstr(out, "no such database"), "%s", out);
	snprintf(args, sizeof(args), "-o %s/no/such/dir/a.html", dir);
	cr_assert_eq(report(args), 3, "%s", out);
	/* a report that cannot be read leaves the previous file as it was */
	tu_run(out, sizeof(out), "echo previous > %s", html);
	snprintf(args, sizeof(args), "-o %s", html);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "printf 'not a database' > %s/bad.db && " SMAUDIT_BIN
	                    " report --db %s/bad.db -o %s",
	                    dir, dir, html),
	             2, "%s", out);
	cr_assert_eq(stat(html, &sb), 0);
	cr_assert_eq(sb.st_size, 9, "the previous report is untouched");
}

Test(report, says_plainly_when_the_capture_lost_data)
{
	read_capture("pcaps/demo.pcap", 1);
	cr_assert_eq(report("--format md"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "No loss recorded: 488 packets read"), "%s", out);
	cr_assert_not_null(strstr(out, "| 2026-11-24 13:48:15 to 2026-11-24 13:48:25 |"),
	                   "first and last packet of the capture (tshark frame.time_epoch): %s",
	                   out);
	/* what a live run that lost packets and was cut short leaves in its run row */
	cr_assert_eq(tu_run(out, sizeof(out),
	                    "sqlite3 %s \"UPDATE runs SET dropped = 42, evicted = 3, status = "
	                    "'interrupted'\"",
	                    db),
	             0, "%s", out);
	cr_assert_eq(report("--format md"), 0, "%s", out);
	cr_assert_not_null(strstr(out, "The capture lost data. 42 packets were dropped"), "%s",
	                   out);
	cr_assert_not_null(strstr(out, "3 flows were written early"), "%s", out);
	cr_assert_not_null(strstr(out, "1 run(s) did not complete"), "%s", out);
	cr_assert_null(strstr(out, "No loss recorded"), "%s", out);
}

Test(report, a_mirrored_capture_says_what_it_came_through_and_judges_the_same)
{
	char args[256];

	/* pcaps/README.md: every frame of demo.pcap (488) in GRE + ERSPAN type II */
	read_capture("pcaps/demo-erspan.pcap", 1);
	snprintf(args, sizeof(args), "-o %s", html);
	cr_assert_eq(report(args), 0, "%s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out), CHECK " %s pcaps/demo.verdicts %s --roles all", html, db), 0,
	    "%s", out);
	cr_assert_eq(report("--format md"), 0, "%s", out);
	cr_assert_not_null(
	    strstr(out, "| pcaps/demo\\-erspan.pcap \\(encapsulated: erspan2 488\\) |") ||
	        strstr(out, "| pcaps/demo-erspan.pcap \\(encapsulated: erspan2 488\\) |"),
	    "%s", out);
}

/* Blank the time the report was made ("made ... UTC"), which moves. */
static void drop_made(char *s)
{
	char *a = strstr(s, "made "), *b = a ? strstr(a, " UTC") : NULL;

	if (b)
		memset(a, ' ', (size_t)(b - a));
}

/* The report of a database with several runs (one with roles, one without)
 * and checkpointed flows over three days is the same, byte for byte, read
 * through the flow roll-up and (roll-up marked stale) over every flow: in
 * HTML and Markdown, windows cut inside hours and on them, short (the
 * timeline in its own span) and long (in whole hours), and with filters
 * the roll-up answers and some it does not. */
Test(report, the_rollup_gives_the_same_report_as_the_flows)
{
	static const struct {
		const char *args;
		int since, until; /* index into w, or -1 */
	} cases[] = {
	    {"", -1, -1},
	    {"--format md", -1, -1},
	    {"", 0, -1},
	    {"--format md", 0, 1},
	    {"", 2, 1},
	    {"", 0, 3},
	    {"--run 3", -1, -1},
	    {"--run 2 --format md", -1, -1},
	    {"--verdict expected", 0, -1},
	    {"--verdict protocol-mismatch --format md", -1, -1},
	    {"--rule https-in", 0, 1},
	    {"--peer 127.0.0.52", -1, -1},
	    {"--port 443", 0, -1},
	    {"--app tls --format md", -1, -1},
	};
	static char rendered[sizeof(cases) / sizeof(cases[0])][sizeof(out)];
	char w[4][32], args[512];
	double t0;

	read_capture("pcaps/demo.pcap pcaps/mismatch.pcap", 1);
	read_capture("pcaps/vlan.pcap pcaps/ipv6.pcap pcaps/midstream.pcap", 0);
	t0 = (double)tu_q1(db, "SELECT CAST(min(ts_start) AS INTEGER) FROM flows") - 3 * 86400;
	tu_add_checkpointed_flows(db, t0);
	cr_assert_eq(tu_q1(db, TU_ROLLUP_DIFF), 0, "the roll-up equals flows grouped by hour");
	tu_iso(t0 + 5000.5, w[0], sizeof(w[0]));   /* inside an hour */
	tu_iso(t0 + 90000.25, w[1], sizeof(w[1])); /* a day later */
	tu_iso((double)((long long)t0 / 3600 * 3600 + 7200), w[2], sizeof(w[2])); /* on an hour */
	tu_iso(t0 + 4 * 86400, w[3], sizeof(w[3])); /* after them all */
	for (int stale = 0; stale < 2; stale++) {
		if (stale) {
			cr_assert_eq(tu_run(out, sizeof(out),
			                    "sqlite3 %s 'UPDATE rollup_state SET flows_max_id = -1;"
			                    " UPDATE peer_ports_state SET flows_max_id = -1'",
			                    db),
			             0, "%s", out);
			cr_assert_eq(tu_run(out, sizeof(out),
			                    SMAUDIT_BIN " query coverage --explain --db %s", db),
			             0);
			cr_assert_null(strstr(out, "flow_rollup"), "stale: flows are read: %s",
			               out);
		} else {
			cr_assert_eq(tu_run(out, sizeof(out),
			                    SMAUDIT_BIN " query coverage --explain --db %s", db),
			             0);
			cr_assert(strstr(out, "flow_rollup"), "the roll-up is read: %s", out);
		}
		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			snprintf(args, sizeof(args), "%s%s%s%s%s", cases[i].args,
			         cases[i].since < 0 ? "" : " --since ",
			         cases[i].since < 0 ? "" : w[cases[i].since],
			         cases[i].until < 0 ? "" : " --until ",
			         cases[i].until < 0 ? "" : w[cases[i].until]);
			cr_assert_eq(report(args), 0, "%s: %s", args, out);
			drop_made(out);
			if (!stale)
				memcpy(rendered[i], out, sizeof(out));
			else
				cr_expect_str_eq(rendered[i], out,
				                 "report %s differs with the roll-up", args);
		}
	}
	cr_assert(strstr(rendered[0], " h slice"), "days in whole hours: %s", rendered[0]);
	cr_assert(strstr(rendered[0], "peer not checked"), "%s", rendered[0]);
	cr_assert_null(strstr(rendered[4], " h slice"), "a short window: %s", rendered[4]);
	cr_assert(strstr(rendered[4], " s slice"), "%s", rendered[4]);
}
