/* test_verdict.c: verdicts on hand-built flow records against the real
 * shipped matrix (rules/socialminer.rules) with the demo site's roles and
 * without roles. Every row of Cisco's table: the flow it accepts, and its
 * wrong-direction or wrong-peer variant that it rejects. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "smaudit/verdict.h"

#define HOST  "127.0.0.10"
#define UCCX  "127.0.0.21"
#define CUIC  "127.0.0.22"
#define MAIL  "127.0.0.23"
#define EXCH  "127.0.0.24"
#define XMPP  "127.0.0.25"
#define WEB   "127.0.0.50"
#define ROGUE "127.0.0.66"

static struct rules_matrix *with_roles, *no_roles, *moved;

static struct rules_matrix *build(const char *site, const char *host)
{
	struct rules_matrix *m;
	char err[1024];
	const char *sites[] = {site};
	const char *hosts[] = {host};

	cr_assert_eq(rules_build(&m, "rules/socialminer.rules", sites, site ? 1 : 0, hosts,
	                         host ? 1 : 0, NULL, 0, err, sizeof(err)),
	             0, "%s", err);
	return m;
}

static void setup(void)
{
	with_roles = build("rules/demo.site", "2001:db8::10");
	no_roles = build(NULL, HOST);
	moved = build("tests/rules/site-moves.site", NULL);
}

static void teardown(void)
{
	rules_free(with_roles);
	rules_free(no_roles);
	rules_free(moved);
}

/* A flow from orig:oport to resp:rport, dir as the caller decided. */
static struct flow_record mk(uint8_t proto, const char *orig, uint16_t oport, const char *resp,
                             uint16_t rport, enum flow_dir dir)
{
	struct flow_record r;

	memset(&r, 0, sizeof(r));
	r.proto = proto;
	cr_assert_eq(addr_parse(orig, &r.orig), 0);
	cr_assert_eq(addr_parse(resp, &r.resp), 0);
	r.ip_version = r.orig.family;
	r.orig_port = oport;
	r.resp_port = rport;
	r.direction = dir;
	return r;
}

/* host -> peer:port/tcp */
static struct flow_record out(const char *peer, uint16_t port)
{
	return mk(IPPROTO_TCP, HOST, 40000, peer, port, DIR_OUT);
}

/* peer -> host:port/tcp */
static struct flow_record in(const char *peer, uint16_t port)
{
	return mk(IPPROTO_TCP, peer, 40000, HOST, port, DIR_IN);
}

/* Judge rec against m and check kind and rule id (NULL = no rule). */
static struct verdict_result judge(const struct rules_matrix *m, struct flow_record rec,
                                   enum verdict_kind kind, const char *rule)
{
	struct verdict_result v;

	verdict_eval(m, &rec, &v);
	cr_expect_eq(v.kind, kind, "got %s, want %s: %s", verdict_str(v.kind), verdict_str(kind),
	             v.reason);
	if (rule) {
		cr_expect_not_null(v.rule, "no rule: %s", v.reason);
		if (v.rule)
			cr_expect_str_eq(v.rule->id, rule, "%s", v.reason);
	} else {
		cr_expect_null(v.rule, "rule %s: %s", v.rule ? v.rule->id : "", v.reason);
	}
	cr_expect(v.reason[0], "empty reason");
	return v;
}

#define HAS(v, s)   cr_expect(strstr((v).reason, (s)), "reason '%s' lacks '%s'", (v).reason, (s))
#define LACKS(v, s) cr_expect_null(strstr((v).reason, (s)), "reason '%s' has '%s'", (v).reason, (s))

TestSuite(rows, .init = setup, .fini = teardown);

Test(rows, row1_smtp_notify_out)
{
	judge(with_roles, out(MAIL, 25), VERDICT_EXPECTED, "smtp-notify-out");
	judge(with_roles, out(ROGUE, 25), VERDICT_UNEXPECTED_PEER, "smtp-notify-out");
	HAS(judge(with_roles, in(MAIL, 25), VERDICT_UNEXPECTED_DIRECTION, "smtp-notify-out"),
	    "only outbound");
}

Test(rows, row2_http_in)
{
	judge(with_roles, in(WEB, 80), VERDICT_EXPECTED, "http-in");
	judge(with_roles, in(UCCX, 80), VERDICT_EXPECTED, "http-in");
	HAS(judge(with_roles, out(WEB, 80), VERDICT_UNEXPECTED_DIRECTION, "http-in"),
	    "only inbound, from anyone");
}

Test(rows, row3_https_in_from_anyone_out_to_uccx_only)
{
	struct verdict_result v;

	judge(with_roles, in(WEB, 443), VERDICT_EXPECTED, "https-in");
	judge(with_roles, in(ROGUE, 443), VERDICT_EXPECTED, "https-in");
	judge(with_roles, out(UCCX, 443), VERDICT_EXPECTED, "https-to-uccx");
	v = judge(with_roles, out(ROGUE, 443), VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	cr_expect_str_eq(v.reason, "127.0.0.10 connected out to 127.0.0.66:443/tcp; rule "
	                           "https-to-uccx (row 3) allows this only to role uccx "
	                           "(127.0.0.21); the peer holds no role");
	v = judge(with_roles, out(CUIC, 443), VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	HAS(v, "the peer holds role cuic");
}

Test(rows, row4_smtps_notify_out)
{
	judge(with_roles, out(MAIL, 465), VERDICT_EXPECTED, "smtps-notify-out");
	HAS(judge(with_roles, out(EXCH, 465), VERDICT_UNEXPECTED_PEER, "smtps-notify-out"),
	    "holds role exchange");
	judge(with_roles, in(MAIL, 465), VERDICT_UNEXPECTED_DIRECTION, "smtps-notify-out");
}

Test(rows, row5_smtp_exchange_out)
{
	judge(with_roles, out(EXCH, 587), VERDICT_EXPECTED, "smtp-exchange-out");
	judge(with_roles, out(MAIL, 587), VERDICT_UNEXPECTED_PEER, "smtp-exchange-out");
	judge(with_roles, in(EXCH, 587), VERDICT_UNEXPECTED_DIRECTION, "smtp-exchange-out");
}

Test(rows, row6_imaps_exchange_out)
{
	judge(with_roles, out(EXCH, 993), VERDICT_EXPECTED, "imaps-exchange-out");
	judge(with_roles, out(ROGUE, 993), VERDICT_UNEXPECTED_PEER, "imaps-exchange-out");
	judge(with_roles, in(EXCH, 993), VERDICT_UNEXPECTED_DIRECTION, "imaps-exchange-out");
}

Test(rows, row7_reports_from_cuic)
{
	judge(with_roles, in(CUIC, 1526), VERDICT_EXPECTED, "reports-from-cuic");
	HAS(judge(with_roles, in(ROGUE, 1526), VERDICT_UNEXPECTED_PEER, "reports-from-cuic"),
	    "only from role cuic (127.0.0.22)");
	HAS(judge(with_roles, out(CUIC, 1526), VERDICT_UNEXPECTED_DIRECTION, "reports-from-cuic"),
	    "allows 1526/tcp only inbound, from role cuic to the host");
}

Test(rows, row8_xmpp_notify_out)
{
	judge(with_roles, out(XMPP, 5222), VERDICT_EXPECTED, "xmpp-notify-out");
	HAS(judge(with_roles, out(UCCX, 5222), VERDICT_UNEXPECTED_PEER, "xmpp-notify-out"),
	    "only to role xmpp (127.0.0.25); the peer holds role uccx");
}

Test(rows, row9_xmpp_events_from_uccx)
{
	judge(with_roles, in(UCCX, 5222), VERDICT_EXPECTED, "xmpp-events-from-uccx");
	judge(with_roles, in(XMPP, 5222), VERDICT_UNEXPECTED_PEER, "xmpp-events-from-uccx");
}

Test(rows, row10_bosh_in)
{
	judge(with_roles, in(WEB, 7071), VERDICT_EXPECTED, "bosh-in");
	judge(with_roles, out(WEB, 7071), VERDICT_UNEXPECTED_DIRECTION, "bosh-in");
}

Test(rows, row11_bosh_secure_in)
{
	judge(with_roles, in(WEB, 7443), VERDICT_EXPECTED, "bosh-secure-in");
	judge(with_roles, out(WEB, 7443), VERDICT_UNEXPECTED_DIRECTION, "bosh-secure-in");
}

TestSuite(off, .init = setup, .fini = teardown);

Test(off, ports_no_rule_lists)
{
	struct verdict_result v;

	v = judge(with_roles, out(ROGUE, 8080), VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "no rule lists 8080/tcp in either direction");
	judge(with_roles, in(ROGUE, 22), VERDICT_UNEXPECTED_PORT, NULL);
	v = judge(with_roles, mk(IPPROTO_UDP, HOST, 5353, ROGUE, 53, DIR_OUT),
	          VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "53/udp");
	/* 443 over UDP (QUIC) is not 443 over TCP */
	judge(with_roles, mk(IPPROTO_UDP, WEB, 5353, HOST, 443, DIR_IN), VERDICT_UNEXPECTED_PORT,
	      NULL);
}

Test(off, icmp_and_other_protocols)
{
	struct verdict_result v;

	v = judge(with_roles, mk(IPPROTO_ICMP, HOST, 8, ROGUE, 0, DIR_OUT), VERDICT_UNEXPECTED_PORT,
	          NULL);
	HAS(v, "icmp type 8 (echo request)");
	HAS(v, "no rule lists icmp");
	v = judge(with_roles, mk(47, ROGUE, 0, HOST, 0, DIR_IN), VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "IP protocol 47");
}

Test(off, untouched_flows_get_no_verdict)
{
	judge(with_roles, mk(IPPROTO_TCP, WEB, 4000, ROGUE, 443, DIR_NONE), VERDICT_NONE, NULL);
}

TestSuite(roles, .init = setup, .fini = teardown);

Test(roles, unconfigured_role_is_expected_but_not_checked)
{
	struct verdict_result v;

	v = judge(no_roles, out(ROGUE, 443), VERDICT_EXPECTED, "https-to-uccx");
	HAS(v, "not checked");
	HAS(v, "role uccx has no addresses configured");
	v = judge(no_roles, in(ROGUE, 1526), VERDICT_EXPECTED, "reports-from-cuic");
	HAS(v, "role cuic has no addresses configured");
	/* the "any" rule wins over an unchecked one, and needs no excuse */
	v = judge(no_roles, in(WEB, 443), VERDICT_EXPECTED, "https-in");
	LACKS(v, "peer not checked");
	cr_expect(!v.peer_unchecked);
	/* direction and port are still judged without roles */
	judge(no_roles, out(CUIC, 1526), VERDICT_UNEXPECTED_DIRECTION, "reports-from-cuic");
	judge(no_roles, out(ROGUE, 6666), VERDICT_UNEXPECTED_PORT, NULL);
	/* 5222 out with no roles: row 8, not row 9 */
	judge(no_roles, out(ROGUE, 5222), VERDICT_EXPECTED, "xmpp-notify-out");
	judge(no_roles, in(ROGUE, 5222), VERDICT_EXPECTED, "xmpp-events-from-uccx");
}

Test(roles, moved_ports_follow_the_site)
{
	judge(moved, out(XMPP, 5223), VERDICT_EXPECTED, "xmpp-notify-out");
	judge(moved, out(XMPP, 5222), VERDICT_UNEXPECTED_DIRECTION, "xmpp-events-from-uccx");
	judge(moved, out("10.1.0.9", 2465), VERDICT_EXPECTED, "smtps-notify-out");
	judge(moved, out(MAIL, 465), VERDICT_UNEXPECTED_PORT, NULL);
	/* included platform rules accept what the site decided to allow */
	judge(moved, mk(IPPROTO_UDP, HOST, 5353, "192.0.2.53", 53, DIR_OUT), VERDICT_EXPECTED,
	      "dns-udp-out");
}

TestSuite(reason, .init = setup, .fini = teardown);

Test(reason, inferred_direction_is_said)
{
	struct flow_record r = out(ROGUE, 443);
	struct verdict_result v;

	r.direction_inferred = 1;
	v = judge(with_roles, r, VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	HAS(v, "direction inferred: the capture missed the connection's start");
	HAS(v, "127.0.0.66:443");
	v = judge(with_roles, out(ROGUE, 443), VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	LACKS(v, "inferred");
}

/* Issue 12 #12: the note names what decided who the client is. */
Test(reason, inferred_note_says_how_the_client_was_chosen)
{
	struct flow_record r = out(ROGUE, 443), u;
	struct verdict_result v;

	r.direction_inferred = 1;
	r.orient = ORIENT_SERVER_PORT;
	v = judge(with_roles, r, VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	HAS(v, "; direction inferred (start missed; 443 is a service port)");
	r.orient = ORIENT_EPHEMERAL_PORT;
	v = judge(with_roles, r, VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	HAS(v, "(start missed; 40000 is an ephemeral port, the client's)");
	r.orient = ORIENT_SYNACK;
	v = judge(with_roles, r, VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	HAS(v, "began with the SYN-ACK");
	u = mk(IPPROTO_UDP, HOST, 68, ROGUE, 67, DIR_OUT);
	u.direction_inferred = 1;
	u.orient = ORIENT_SERVER_PORT;
	v = judge(with_roles, u, VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "direction inferred (first packet from service port 67)");
	LACKS(v, "start missed");
}

Test(reason, local_flows_are_judged_inbound_to_the_responder)
{
	struct rules_matrix *m;
	char err[512];
	const char *hosts[] = {HOST, "127.0.0.11"};
	struct verdict_result v;

	cr_assert_eq(rules_build(&m, "rules/socialminer.rules", NULL, 0, hosts, 2, NULL, 0, err,
	                         sizeof(err)),
	             0, "%s", err);
	v = judge(m, mk(IPPROTO_TCP, "127.0.0.11", 40000, HOST, 443, DIR_LOCAL), VERDICT_EXPECTED,
	          "https-in");
	HAS(v, "both ends are monitored hosts, judged as inbound to 127.0.0.10");
	judge(m, mk(IPPROTO_TCP, "127.0.0.11", 40000, HOST, 25, DIR_LOCAL),
	      VERDICT_UNEXPECTED_DIRECTION, "smtp-notify-out");
	rules_free(m);
}

Test(reason, both_ends_monitored_takes_the_side_the_matrix_explains)
{
	struct rules_matrix *m;
	char err[512];
	const char *hosts[] = {"0.0.0.0/0"};
	const char *roles[] = {"mail=127.0.0.23", "uccx=127.0.0.21"};

	cr_assert_eq(rules_build(&m, "rules/socialminer.rules", NULL, 0, hosts, 1, roles, 2, err,
	                         sizeof(err)),
	             0, "%s", err);
	/* host -> mail:25 fits smtp-notify-out read outbound, not inbound */
	struct flow_record r = mk(IPPROTO_TCP, HOST, 40000, "127.0.0.23", 25, DIR_LOCAL);
	cr_assert_eq(verdict_side(m, &r), DIR_OUT);
	/* a browser -> host:443 fits https-in inbound */
	r = mk(IPPROTO_TCP, "127.0.0.50", 40000, HOST, 443, DIR_LOCAL);
	cr_assert_eq(verdict_side(m, &r), DIR_IN);
	/* host -> uccx:443: open to anyone inbound, to uccx outbound: the role wins */
	r = mk(IPPROTO_TCP, HOST, 40000, "127.0.0.21", 443, DIR_LOCAL);
	cr_assert_eq(verdict_side(m, &r), DIR_OUT);
	/* nothing lists 22/tcp either way: 'local', judged inbound */
	r = mk(IPPROTO_TCP, "127.0.0.53", 40000, HOST, 22, DIR_LOCAL);
	cr_assert_eq(verdict_side(m, &r), DIR_LOCAL);
	rules_free(m);
}

Test(reason, ipv6_addresses_are_bracketed)
{
	struct verdict_result v;

	v = judge(with_roles, mk(IPPROTO_TCP, "2001:db8::50", 40000, "2001:db8::10", 443, DIR_IN),
	          VERDICT_EXPECTED, "https-in");
	HAS(v, "2001:db8::50 connected in to [2001:db8::10]:443/tcp");
}

TestSuite(mismatch, .init = setup, .fini = teardown);

/* rec with an application protocol and confidence. */
static struct flow_record with_app(struct flow_record r, const char *app, enum app_conf c)
{
	snprintf(r.app.proto, sizeof(r.app.proto), "%s", app);
	r.app.confidence = (uint8_t)c;
	return r;
}

Test(mismatch, detected_protocols_the_rule_does_not_allow)
{
	struct verdict_result v;

	v = judge(with_roles, with_app(in(WEB, 443), "SSH", APP_CONF_DPI),
	          VERDICT_PROTOCOL_MISMATCH, "https-in");
	HAS(v, "allows TLS but DPI detected SSH");
	v = judge(with_roles, with_app(in(WEB, 7443), "HTTP", APP_CONF_DPI),
	          VERDICT_PROTOCOL_MISMATCH, "bosh-secure-in");
	HAS(v, "DPI detected HTTP");
	v = judge(with_roles, with_app(out(EXCH, 993), "SMTP", APP_CONF_DPI),
	          VERDICT_PROTOCOL_MISMATCH, "imaps-exchange-out");
	HAS(v, "allows IMAPS,TLS but DPI detected SMTP");
	v = judge(with_roles, with_app(in(CUIC, 1526), "SSH", APP_CONF_DPI),
	          VERDICT_PROTOCOL_MISMATCH, "reports-from-cuic");
	HAS(v, "accepts any protocol except SSH,HTTP,SMTP,Telnet; DPI detected SSH");
}

Test(mismatch, port_guesses_and_unknowns_never_mismatch)
{
	judge(with_roles, with_app(in(WEB, 443), "SSH", APP_CONF_PORT), VERDICT_EXPECTED,
	      "https-in");
	judge(with_roles, with_app(in(WEB, 7443), "HTTP", APP_CONF_PORT), VERDICT_EXPECTED,
	      "bosh-secure-in");
	judge(with_roles, with_app(out(EXCH, 993), "SMTP", APP_CONF_IP), VERDICT_EXPECTED,
	      "imaps-exchange-out");
	judge(with_roles, with_app(in(CUIC, 1526), "Oracle", APP_CONF_PORT), VERDICT_EXPECTED,
	      "reports-from-cuic");
	judge(with_roles, with_app(in(WEB, 443), "", APP_CONF_DPI), VERDICT_EXPECTED, "https-in");
	judge(with_roles, with_app(in(WEB, 443), "Unknown", APP_CONF_DPI), VERDICT_EXPECTED,
	      "https-in");
}

Test(mismatch, master_names_match)
{
	judge(with_roles, with_app(in(WEB, 443), "TLS.Google", APP_CONF_DPI), VERDICT_EXPECTED,
	      "https-in");
	judge(with_roles, with_app(in(WEB, 80), "HTTP.Cisco", APP_CONF_DPI), VERDICT_EXPECTED,
	      "http-in");
	judge(with_roles, with_app(out(XMPP, 5222), "Jabber", APP_CONF_DPI), VERDICT_EXPECTED,
	      "xmpp-notify-out");
	judge(with_roles, with_app(out(EXCH, 587), "SMTP", APP_CONF_DPI), VERDICT_EXPECTED,
	      "smtp-exchange-out");
	judge(with_roles, with_app(in(UCCX, 5222), "TLS", APP_CONF_DPI), VERDICT_EXPECTED,
	      "xmpp-events-from-uccx");
}

Test(mismatch, only_expected_flows_turn)
{
	/* a wrong peer stays a wrong peer, whatever the payload */
	judge(with_roles, with_app(out(ROGUE, 443), "SSH", APP_CONF_DPI), VERDICT_UNEXPECTED_PEER,
	      "https-to-uccx");
	judge(with_roles, with_app(out(ROGUE, 8080), "SSH", APP_CONF_DPI), VERDICT_UNEXPECTED_PORT,
	      NULL);
	/* an unchecked peer with a wrong protocol is a mismatch, and says both */
	{
		struct verdict_result v =
		    judge(no_roles, with_app(out(ROGUE, 443), "HTTP", APP_CONF_DPI),
		          VERDICT_PROTOCOL_MISMATCH, "https-to-uccx");
		HAS(v, "DPI detected HTTP");
		HAS(v, "not checked");
	}
}

Test(names, verdict_strings)
{
	cr_expect_str_eq(verdict_str(VERDICT_EXPECTED), "expected");
	cr_expect_str_eq(verdict_str(VERDICT_UNEXPECTED_PORT), "unexpected-port");
	cr_expect_str_eq(verdict_str(VERDICT_UNEXPECTED_DIRECTION), "unexpected-direction");
	cr_expect_str_eq(verdict_str(VERDICT_UNEXPECTED_PEER), "unexpected-peer");
	cr_expect_str_eq(verdict_str(VERDICT_PROTOCOL_MISMATCH), "protocol-mismatch");
	cr_expect_str_eq(verdict_str(VERDICT_NONE), "");
}

/* ---- ICMP (issue 12 item 15) ---- */

TestSuite(icmp);

/* ICMPv6 echo is an echo request, and 129 (the reply type Zeek puts in
 * resp_port) is not its code; one-way messages keep their code. */
Test(icmp, messages_are_described_by_type_with_the_code_only_when_known)
{
	struct rules_matrix *m = build(NULL, HOST);
	struct verdict_result v;

	v = judge(m, mk(IPPROTO_ICMPV6, "2001:db8::10", 128, "2001:db8::66", 129, DIR_OUT),
	          VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "2001:db8::10 sent icmp6 type 128 (echo request) to 2001:db8::66");
	LACKS(v, "code 129");
	v = judge(m, mk(IPPROTO_ICMP, ROGUE, 3, HOST, 1, DIR_IN), VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "icmp type 3 code 1 (destination unreachable)");
	v = judge(m, mk(IPPROTO_ICMP, ROGUE, 42, HOST, 7, DIR_IN), VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "icmp type 42 code 7 to");
	cr_expect_str_eq(verdict_icmp_name(IPPROTO_ICMPV6, 129), "echo reply");
	cr_expect_null(verdict_icmp_name(IPPROTO_ICMP, 200));
	rules_free(m);
}

/* A site rule icmp/8 lets the monitoring station ping the host: only that
 * station, only that way, only that message type. */
Test(icmp, a_rule_can_allow_ping)
{
	struct rules_matrix *m = build("tests/rules/ping.site", HOST);
	struct verdict_result v;

	v = judge(m, mk(IPPROTO_ICMP, ROGUE, 8, HOST, 0, DIR_IN), VERDICT_EXPECTED,
	          "ping-from-monitor");
	HAS(v, "allowed by rule ping-from-monitor");
	judge(m, mk(IPPROTO_ICMP, HOST, 8, ROGUE, 0, DIR_OUT), VERDICT_EXPECTED, "ping-monitor");
	judge(m, mk(IPPROTO_ICMP, WEB, 8, HOST, 0, DIR_IN), VERDICT_UNEXPECTED_PEER,
	      "ping-from-monitor");
	v = judge(m, mk(IPPROTO_ICMP, HOST, 8, WEB, 0, DIR_OUT), VERDICT_UNEXPECTED_PEER,
	          "ping-monitor");
	HAS(v, "the peer holds no role");
	v = judge(m, mk(IPPROTO_ICMP, ROGUE, 13, HOST, 14, DIR_IN), VERDICT_UNEXPECTED_PORT, NULL);
	HAS(v, "no rule lists icmp type 13 (timestamp request) in either direction");
	judge(m, mk(IPPROTO_ICMPV6, "2001:db8::10", 128, "2001:db8::66", 129, DIR_OUT),
	      VERDICT_EXPECTED, "ping6-out");
	v = judge(m, mk(IPPROTO_ICMPV6, "2001:db8::66", 128, "2001:db8::10", 129, DIR_IN),
	          VERDICT_UNEXPECTED_DIRECTION, "ping6-out");
	HAS(v, "allows icmp6 type 128 (echo request) only outbound");
	/* an ICMP rule is not a UDP or TCP rule for the same number */
	judge(m, mk(IPPROTO_UDP, ROGUE, 40000, HOST, 8, DIR_IN), VERDICT_UNEXPECTED_PORT, NULL);
	rules_free(m);
}

/* The one-line rendering live alerts use: ports for TCP/UDP, none for ICMP. */
Test(icmp, flow_lines_have_no_fake_icmp_ports)
{
	char buf[256];
	struct flow_record r = mk(IPPROTO_ICMP, "10.99.0.1", 3, "10.99.0.2", 3, DIR_OUT);

	verdict_flow_str(&r, buf, sizeof(buf));
	cr_expect_str_eq(buf,
	                 "10.99.0.1 -> 10.99.0.2 icmp type 3 code 3 (destination unreachable)");
	r = mk(IPPROTO_ICMP, "10.99.0.1", 8, "10.99.0.2", 0, DIR_OUT);
	cr_expect_str_eq(verdict_flow_str(&r, buf, sizeof(buf)),
	                 "10.99.0.1 -> 10.99.0.2 icmp type 8 (echo request)");
	r = mk(IPPROTO_TCP, "2001:db8::50", 40000, "2001:db8::10", 443, DIR_IN);
	cr_expect_str_eq(verdict_flow_str(&r, buf, sizeof(buf)),
	                 "[2001:db8::50]:40000 -> [2001:db8::10]:443/tcp");
	r = mk(IPPROTO_UDP, "10.99.0.1", 5353, "10.99.0.2", 53, DIR_OUT);
	cr_expect_str_eq(verdict_flow_str(&r, buf, sizeof(buf)),
	                 "10.99.0.1:5353 -> 10.99.0.2:53/udp");
}

/* Issue 13: reasons and flow lines are formatted without stdio; at every
 * buffer size the text is what snprintf makes of the whole line (cut, and
 * always terminated), for each conversion they use. */
Test(icmp, flow_lines_are_cut_as_snprintf_cuts_them)
{
	static const struct {
		uint8_t proto;
		const char *o, *r;
		uint16_t op, rp;
		const char *want;
	} c[] = {
	    {IPPROTO_TCP, "2001:db8::50", "2001:db8::10", 40000, 443,
	     "[2001:db8::50]:40000 -> [2001:db8::10]:443/tcp"},
	    {IPPROTO_UDP, "10.99.0.1", "10.99.0.2", 0, 65535, "10.99.0.1:0 -> 10.99.0.2:65535/udp"},
	    {IPPROTO_ICMP, "10.99.0.1", "10.99.0.2", 3, 13,
	     "10.99.0.1 -> 10.99.0.2 icmp type 3 code 13 (destination unreachable)"},
	    {47, "10.99.0.1", "10.99.0.2", 0, 0, "10.99.0.1 -> 10.99.0.2 IP protocol 47"},
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct flow_record r = mk(c[i].proto, c[i].o, c[i].op, c[i].r, c[i].rp, DIR_OUT);
		for (size_t len = 1; len <= strlen(c[i].want) + 2; len++) {
			char got[128], want[128];
			memset(got, 'x', sizeof(got));
			snprintf(want, len, "%s", c[i].want);
			verdict_flow_str(&r, got, len);
			cr_expect_str_eq(got, want, "size %zu", len);
			cr_expect_eq(got[len], 'x', "size %zu: written past the end", len);
		}
	}
}

/* A long reason is cut before the inferred note, which is kept whole. */
Test(reason, long_reasons_keep_the_inferred_note)
{
	struct rules_matrix *m;
	char err[512];
	const char *roles[] = {"xmpp=2001:db8:aaaa:bbbb:cccc:dddd:eeee:1,2001:db8:aaaa:bbbb:cccc:"
	                       "dddd:eeee:2,2001:db8:aaaa:bbbb:cccc:dddd:eeee:3"};
	struct flow_record r = mk(IPPROTO_TCP, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:10", 40000,
	                          "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", 5222, DIR_OUT);
	const char *note = "; direction inferred: the capture missed the connection's start";
	struct verdict_result whole, cut;
	size_t n;

	cr_assert_eq(rules_build(&m, "rules/socialminer.rules", NULL, 0, NULL, 0, roles, 1, err,
	                         sizeof(err)),
	             0, "%s", err);
	whole = judge(m, r, VERDICT_UNEXPECTED_PEER, "xmpp-notify-out");
	r.direction_inferred = 1;
	cut = judge(m, r, VERDICT_UNEXPECTED_PEER, "xmpp-notify-out");
	n = sizeof(cut.reason) - 1 - strlen(note) - 3;
	cr_assert_gt(strlen(whole.reason), n, "the test needs a reason longer than the cut");
	cr_expect_eq(strlen(cut.reason), sizeof(cut.reason) - 1);
	cr_expect_eq(strncmp(cut.reason, whole.reason, n), 0, "%s", cut.reason);
	cr_expect_str_eq(cut.reason + n, "...; direction inferred: the capture missed the "
	                                 "connection's start");
	rules_free(m);
}

/* Issue 11: nothing unchecked passes as verified. */
TestSuite(unchecked, .init = setup, .fini = teardown);

Test(unchecked, a_port_guess_never_satisfies_an_app_constraint)
{
	struct verdict_result v;

	/* random bytes on 443: nDPI guesses TLS from the port; expected, app unchecked */
	v = judge(with_roles, with_app(in(WEB, 443), "TLS", APP_CONF_PORT), VERDICT_EXPECTED,
	          "https-in");
	cr_expect(v.app_unchecked && !v.peer_unchecked);
	cr_expect_str_eq(verdict_unchecked_str(&v), "app");
	HAS(v, "application not checked: DPI did not confirm TLS (a guess from the port)");
	/* nothing detected on 7443 (no payload, or DPI off) */
	v = judge(with_roles, in(WEB, 7443), VERDICT_EXPECTED, "bosh-secure-in");
	cr_expect_str_eq(verdict_unchecked_str(&v), "app");
	HAS(v, "(nothing detected)");
	v = judge(with_roles, with_app(in(WEB, 443), "Unknown", APP_CONF_DPI), VERDICT_EXPECTED,
	          "https-in");
	cr_expect(v.app_unchecked);
	/* confirmed by DPI: checked */
	v = judge(with_roles, with_app(in(WEB, 443), "TLS", APP_CONF_DPI), VERDICT_EXPECTED,
	          "https-in");
	cr_expect_null(verdict_unchecked_str(&v));
	LACKS(v, "not checked");
	/* a rule that does not restrict the application has nothing to confirm */
	v = judge(with_roles, in(CUIC, 1526), VERDICT_EXPECTED, "reports-from-cuic");
	cr_expect_null(verdict_unchecked_str(&v));
}

Test(unchecked, peer_and_app_together_and_only_for_expected_flows)
{
	struct verdict_result v;

	v = judge(no_roles, with_app(out(ROGUE, 443), "TLS", APP_CONF_PORT), VERDICT_EXPECTED,
	          "https-to-uccx");
	cr_expect_str_eq(verdict_unchecked_str(&v), "peer,app");
	v = judge(no_roles, with_app(out(ROGUE, 443), "TLS", APP_CONF_DPI), VERDICT_EXPECTED,
	          "https-to-uccx");
	cr_expect_str_eq(verdict_unchecked_str(&v), "peer");
	/* not expected: there is nothing to qualify */
	v = judge(with_roles, out(ROGUE, 443), VERDICT_UNEXPECTED_PEER, "https-to-uccx");
	cr_expect_null(verdict_unchecked_str(&v));
	v = judge(with_roles, with_app(in(WEB, 443), "SSH", APP_CONF_DPI),
	          VERDICT_PROTOCOL_MISMATCH, "https-in");
	cr_expect_null(verdict_unchecked_str(&v));
}
