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
	rc = tu_run(out, sizeof(out), "python3 tests/eve_check.py %s %s %s", db, eve, mode);
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

/* IPv6, VLAN tags, cooked and raw links, mid-stream TCP: every shape of flow
 * the decoder knows still makes schema-valid events. */
Test(eve, every_capture_shape_validates)
{
	read_pcap("--host 0.0.0.0/0 --host ::/0 pcaps/ipv6.pcap pcaps/vlan.pcap pcaps/qinq.pcap "
	          "pcaps/sll.pcap pcaps/raw.pcap pcaps/midstream.pcap pcaps/states.pcap "
	          "pcaps/frag.pcap pcaps/dpi-apps.pcap");
	export_and_check("flows", "");
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
	            " > %s && python3 tests/eve_check.py %s %s",
	            db, eve, db, eve);
	cr_expect_neq(rc, 0, "an extra top-level field passed: %s", out);
	cr_expect(strstr(out, "Additional properties"), "%s", out);
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " query flows --verdict expected --limit 1 --format eve --db %s |"
	                        " sed 'p; s/\"event_type\":\"flow\"/\"event_type\":\"alert\"/'"
	                        " > %s && python3 tests/eve_check.py %s %s",
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
