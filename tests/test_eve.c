/* test_eve.c: `query --format eve` (Suricata EVE JSON) end to end.
 *
 * The real binary reads shipped captures into a real database and exports
 * it; tests/eve_check.py (python3 + jsonschema, no smaudit code) validates
 * every line against tests/eve.schema.json, the subset of Suricata's EVE
 * schema we write, and holds the events to the database: one flow event per
 * flow, one alert event per flow that is not expected and none otherwise,
 * with the verdict, reason and rule where EVE puts them. */
#include <criterion/criterion.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "smaudit/eve.h"
#include "smaudit/verdict.h"
#include "testutil.h"

#define HOST "127.0.0.10"
#define SITE "rules/demo.site"

static char dir[64], db[128], eve[128], out[16384];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/t.db", dir);
	snprintf(eve, sizeof(eve), "%s/eve.json", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(eve, .init = setup, .fini = teardown, .timeout = 120);

static void read_pcap(const char *args)
{
	int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " read -q %s --db %s", args, db);
	cr_assert_eq(rc, 0, "read %s: %s", args, out);
}

/* Export with query ARGS into eve and check it; returns the checker's output in out. */
static void export_and_check(const char *query, const char *mode)
{
	int rc = tu_run(out, sizeof(out), SMAUDIT_BIN " query %s --format eve --db %s > %s", query,
	                db, eve);
	cr_assert_eq(rc, 0, "query %s: %s", query, out);
	rc =
	    tu_run(out, sizeof(out), "/usr/bin/python3 tests/eve_check.py %s %s %s", db, eve, mode);
	cr_assert_eq(rc, 0, "eve_check (%s): %s", query, out);
}

/* The demo capture with the demo site (every verdict but protocol-mismatch,
 * ICMP included) and the mismatch capture (protocol-mismatch). */
static void read_audited(void)
{
	read_pcap("--host " HOST " --site " SITE " pcaps/demo.pcap");
	read_pcap("--host " HOST " --site " SITE " pcaps/mismatch.pcap");
}

Test(eve, every_flow_validates_and_anomalies_alert_once)
{
	int flows, alerts;

	read_audited();
	export_and_check("flows", "");
	cr_assert_eq(sscanf(out, "ok %d %d", &flows, &alerts), 2, "%s", out);
	cr_expect_eq(flows, tu_q1(db, "SELECT count(*) FROM flows"));
	cr_expect_eq(alerts, tu_q1(db, "SELECT count(*) FROM flows WHERE verdict != 'expected'"));
	cr_expect_gt(tu_q1(db, "SELECT count(*) FROM flows WHERE verdict = 'protocol-mismatch'"),
	             0);
}

Test(eve, anomalies_export_only_anomalies)
{
	int flows, alerts;

	read_audited();
	export_and_check("anomalies --flows", "anomalies");
	cr_assert_eq(sscanf(out, "ok %d %d", &flows, &alerts), 2, "%s", out);
	cr_expect_eq(flows, alerts, "%s", out);
	cr_expect_eq(alerts, tu_q1(db, "SELECT count(*) FROM flows WHERE verdict != 'expected'"));
}

/* IPv6, VLAN tags, cooked, raw and null links, mid-stream TCP, DPI-only
 * mismatches: every shape of flow the decoder knows makes schema-valid
 * events, both exported by query and written by read --eve as it goes (its
 * alert events, fired at the first packet or when DPI ends, agree with the
 * verdicts finally stored). */
Test(eve, every_capture_shape_validates)
{
	char live_eve[160];
	int rc;

	snprintf(live_eve, sizeof(live_eve), "%s/read.json", dir);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host " HOST " --host 2001:db8::10 --site " SITE
	                        " --db %s --eve %s pcaps/ipv6.pcap pcaps/vlan.pcap pcaps/qinq.pcap"
	                        " pcaps/sll.pcap pcaps/sll2.pcap pcaps/null.pcap pcaps/raw.pcap"
	                        " pcaps/midstream.pcap pcaps/states.pcap pcaps/frag.pcap"
	                        " pcaps/caplen.pcap pcaps/dpi-apps.pcap pcaps/dpi-mismatch.pcap"
	                        " pcaps/dpi-midstream.pcap pcaps/dpi-unknown.pcap",
	            db, live_eve);
	cr_assert_eq(rc, 0, "%s", out);
	export_and_check("flows", "");
	rc = tu_run(out, sizeof(out), "/usr/bin/python3 tests/eve_check.py %s %s", db, live_eve);
	cr_assert_eq(rc, 0, "read --eve: %s", out);
}

/* The checker is strict: one field Suricata does not define, or an alert for
 * an expected flow, makes it fail. */
Test(eve, checker_refuses_what_suricata_would_not_write)
{
	int rc;

	read_audited();
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN
	            " query flows --format eve --db %s | sed '1s/^{/{\"verdict\":\"x\",/'"
	            " > %s && /usr/bin/python3 tests/eve_check.py %s %s",
	            db, eve, db, eve);
	cr_expect_neq(rc, 0, "an extra top-level field passed: %s", out);
	cr_expect(strstr(out, "Additional properties"), "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " query flows --verdict expected --limit 1 --format eve --db %s |"
	                        " sed 'p; s/\"event_type\":\"flow\"/\"event_type\":\"alert\"/'"
	                        " > %s && /usr/bin/python3 tests/eve_check.py %s %s",
	            db, eve, db, eve);
	cr_expect_neq(rc, 0, "an alert without alert object passed: %s", out);
}

/* Formats that only make sense for flows are refused for grouped questions. */
Test(eve, refused_for_grouped_questions)
{
	read_audited();
	cr_expect_eq(
	    tu_run(out, sizeof(out), SMAUDIT_BIN " query anomalies --format eve --db %s", db), 2);
	cr_expect(strstr(out, "--format eve writes flows"), "%s", out);
}

/* read --eve appends the same events while reading: an alert event when a
 * non-expected flow is first seen, a flow event when each flow ends. They
 * validate and match the database like the query export; a second run
 * appends to the file. */
Test(eve, read_appends_events_as_flows_end)
{
	int flows, alerts, rc;

	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host " HOST " --site " SITE
	                        " --db %s --eve %s pcaps/demo.pcap pcaps/mismatch.pcap",
	            db, eve);
	cr_assert_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out), "/usr/bin/python3 tests/eve_check.py %s %s", db, eve);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert_eq(sscanf(out, "ok %d %d", &flows, &alerts), 2, "%s", out);
	cr_expect_eq(flows, tu_q1(db, "SELECT count(*) FROM flows"));
	cr_expect_eq(alerts, tu_q1(db, "SELECT count(*) FROM flows WHERE verdict != 'expected'"));
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --host " HOST " --site " SITE
	                        " --db %s --eve %s pcaps/mismatch.pcap && wc -l < %s",
	            db, eve, eve);
	cr_assert_eq(rc, 0, "%s", out);
	cr_expect_eq(atoi(out), flows + alerts + 3 + 3, "appended: %s", out);
}

/* An --eve file that cannot be opened is a bad argument: exit 2 before
 * anything is written, not even the database. */
Test(eve, unwritable_eve_file_stops_before_the_database)
{
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " read -q --host " HOST " --db %s --eve %s/no/such/dir/e.json"
	                            " pcaps/demo.pcap",
	                db, dir);

	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "no/such/dir/e.json: cannot open for appending"), "%s", out);
	cr_expect_neq(access(db, F_OK), 0, "the database was created");
}

/* The sink behind --eve: after the file is moved away (log rotation),
 * eve_sink_reopen starts a new file at the path; events before it stay in
 * the moved file. */
Test(eve, sink_reopens_after_rotation)
{
	struct flow_record r;
	struct verdict_result v;
	struct eve_sink *s;
	uint8_t a[4] = {127, 0, 0, 50}, b[4] = {127, 0, 0, 10};
	char rotated[160], e[256];

	memset(&r, 0, sizeof(r));
	memset(&v, 0, sizeof(v));
	addr_set4(&r.orig, a);
	addr_set4(&r.resp, b);
	r.proto = 6;
	r.orig_port = 40000;
	r.resp_port = 4444;
	r.direction = DIR_IN;
	r.ts_start_us = r.ts_end_us = 1714557600000000ULL;
	strcpy(r.uid, "Ctest");
	v.kind = VERDICT_UNEXPECTED_PORT;
	strcpy(v.reason, "no rule for tcp/4444 inbound");
	s = eve_sink_open(eve, e, sizeof(e));
	cr_assert_not_null(s, "%s", e);
	eve_sink_alert(s, &r, &v);
	snprintf(rotated, sizeof(rotated), "%s.1", eve);
	cr_assert_eq(rename(eve, rotated), 0);
	cr_assert_eq(eve_sink_reopen(s, e, sizeof(e)), 0, "%s", e);
	eve_sink_flow(s, &r, &v);
	cr_expect_eq(eve_sink_errors(s), 0);
	eve_sink_close(s);
	cr_assert_eq(tu_run(out, sizeof(out), "cat %s", rotated), 0);
	cr_expect(strstr(out, "\"event_type\":\"alert\"") &&
	              !strstr(out, "\"event_type\":\"flow\""),
	          "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out), "cat %s", eve), 0);
	cr_expect(strstr(out, "\"event_type\":\"flow\"") &&
	              !strstr(out, "\"event_type\":\"alert\""),
	          "%s", out);
	cr_expect(strstr(out, "\"community_id\":\"1:") && strstr(out, "\"dest_port\":4444"), "%s",
	          out);
	/* an alert for an expected verdict writes nothing */
	s = eve_sink_open(eve, e, sizeof(e));
	cr_assert_not_null(s, "%s", e);
	v.kind = VERDICT_EXPECTED;
	eve_sink_alert(s, &r, &v);
	eve_sink_close(s);
	cr_assert_eq(tu_run(out, sizeof(out), "wc -l < %s", eve), 0);
	cr_expect_eq(atoi(out), 1, "%s", out);
}
