/* test_rules.c: the rules language, the shipped matrix, site settings, and
 * the `smaudit rules` command, on the real files in rules/ and the fixtures
 * in tests/rules/ (good and bad). Run from the repository root. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <string.h>

#include "smaudit/dpi.h"
#include "smaudit/record.h"
#include "smaudit/rules.h"
#include "testutil.h"

#define SHIPPED "rules/socialminer.rules"

static char err[1024];

/* Load the shipped matrix plus optional site file; fails the test on error. */
static struct rules_matrix *load(const char *site)
{
	struct rules_matrix *m = rules_new();

	cr_assert_not_null(m);
	cr_assert_eq(rules_load(m, SHIPPED, err, sizeof(err)), 0, "%s", err);
	if (site)
		cr_assert_eq(rules_load(m, site, err, sizeof(err)), 0, "%s", err);
	return m;
}

static const struct rule *find(const struct rules_matrix *m, const char *id)
{
	for (size_t i = 0; i < rules_count(m); i++)
		if (strcmp(rules_get(m, i)->id, id) == 0)
			return rules_get(m, i);
	return NULL;
}

static struct sm_addr A(const char *s) {
	struct sm_addr a;
	cr_assert_eq(addr_parse(s, &a), 0, "bad test address %s", s);
	return a;
}

/* ---- the shipped matrix ---- */

Test(shipped, every_row_of_the_table_is_encoded)
{
	struct rules_matrix *m = load(NULL);
	int seen[12] = {0};

	for (size_t i = 0; i < rules_count(m); i++) {
		const struct rule *r = rules_get(m, i);
		cr_assert(r->row >= 1 && r->row <= 11, "rule %s cites row %d", r->id, r->row);
		cr_assert(r->description[0], "rule %s has no description", r->id);
		seen[r->row]++;
	}
	for (int row = 1; row <= 11; row++)
		cr_expect(seen[row] >= 1, "row %d of the table has no rule", row);
	cr_expect_eq(seen[3], 2, "row 3 is inbound from any and outbound to uccx");
	cr_expect_eq(rules_count(m), 12);
	cr_assert_eq(rules_finalize(m, err, sizeof(err)), 0, "%s", err);
	rules_free(m);
}

/* The key properties of each rule: id, row, direction, port, role, configurable. */
Test(shipped, rules_say_what_the_table_says)
{
	static const struct {
		const char *id;
		int row, dir, port;
		const char *role;
		int configurable;
	} want[] = {
	    {"smtp-notify-out", 1, RULE_OUT, 25, "mail", 0},
	    {"http-in", 2, RULE_IN, 80, "any", 0},
	    {"https-in", 3, RULE_IN, 443, "any", 0},
	    {"https-to-uccx", 3, RULE_OUT, 443, "uccx", 0},
	    {"smtps-notify-out", 4, RULE_OUT, 465, "mail", 1},
	    {"smtp-exchange-out", 5, RULE_OUT, 587, "exchange", 1},
	    {"imaps-exchange-out", 6, RULE_OUT, 993, "exchange", 1},
	    {"reports-from-cuic", 7, RULE_IN, 1526, "cuic", 0},
	    {"xmpp-notify-out", 8, RULE_OUT, 5222, "xmpp", 1},
	    {"xmpp-events-from-uccx", 9, RULE_IN, 5222, "uccx", 0},
	    {"bosh-in", 10, RULE_IN, 7071, "any", 0},
	    {"bosh-secure-in", 11, RULE_IN, 7443, "any", 0},
	};
	struct rules_matrix *m = load(NULL);

	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct rule *r = find(m, want[i].id);
		cr_assert_not_null(r, "no rule %s", want[i].id);
		cr_expect_eq(r->row, want[i].row, "%s row", r->id);
		cr_expect_eq(r->dir, want[i].dir, "%s direction", r->id);
		cr_expect_eq(r->proto, IPPROTO_TCP, "%s transport", r->id);
		cr_expect_eq(r->port, want[i].port, "%s port", r->id);
		cr_expect_eq(r->default_port, want[i].port, "%s default port", r->id);
		cr_expect_str_eq(r->role, want[i].role, "%s role", r->id);
		cr_expect_eq(r->configurable, want[i].configurable, "%s configurable", r->id);
		cr_expect_str_eq(r->file, SHIPPED);
		cr_expect(r->line > 0);
	}
	rules_free(m);
}

Test(shipped, app_names_match_ndpi_master_names)
{
	struct rules_matrix *m = load(NULL);
	const struct rule *https = find(m, "https-in"), *http = find(m, "http-in");
	const struct rule *rep = find(m, "reports-from-cuic"), *xmpp = find(m, "xmpp-notify-out");

	cr_expect(rules_app_allowed(https, "TLS"));
	cr_expect(rules_app_allowed(https, "TLS.Google"));
	cr_expect(rules_app_allowed(https, "tls"));
	cr_expect_not(rules_app_allowed(https, "SSH"));
	cr_expect_not(rules_app_allowed(https, "HTTP"));
	cr_expect_not(rules_app_allowed(https, "TLSX"));
	cr_expect(rules_app_allowed(http, "HTTP.Cisco"));
	cr_expect(rules_app_allowed(http, ""), "unknown app is never a mismatch");
	cr_expect(rules_app_allowed(http, "Unknown"));
	cr_expect(rules_app_allowed(rep, "Oracle"), "1526 accepts any protocol");
	cr_expect_not(rules_app_allowed(rep, "SSH"), "1526 refuses a clear mismatch");
	cr_expect_not(rules_app_allowed(rep, "HTTP.Cisco"));
	cr_expect(rules_app_allowed(xmpp, "Jabber"));
	rules_free(m);
}

/* Issue 12 item 21: the shipped rules cite Cisco's document by title and
 * row, not a path outside the repository, and the rendering of the table
 * they cite lives beside them: a row for every row a rule cites, naming
 * the service in the rule's own words, and the reading of "bidirectional". */
Test(shipped, rules_cite_cisco_and_the_table_rendering_ships_beside_them)
{
	struct rules_matrix *m = load(NULL);
	static char rules_txt[65536], md[65536];
	FILE *f = fopen(SHIPPED, "r");
	size_t n;

	cr_assert_not_null(f);
	n = fread(rules_txt, 1, sizeof(rules_txt) - 1, f);
	rules_txt[n] = '\0';
	fclose(f);
	cr_expect_null(strstr(rules_txt, "../"), "the rules cite a path outside the repository");
	cr_expect_not_null(strstr(rules_txt, "\"SocialMiner Port Usage\""), "no document title");
	cr_expect_not_null(strstr(rules_txt, "Table 1"), "no table number");
	cr_expect_not_null(strstr(rules_txt, "rules/socialminer-ports.md"));

	f = fopen("rules/socialminer-ports.md", "r");
	cr_assert_not_null(f, "rules/socialminer-ports.md is missing");
	n = fread(md, 1, sizeof(md) - 1, f);
	md[n] = '\0';
	fclose(f);
	cr_expect_not_null(strstr(md, "How \"bidirectional\" is read"));
	for (size_t i = 0; i < rules_count(m); i++) {
		const struct rule *r = rules_get(m, i);
		char row[256];
		snprintf(row, sizeof(row), "\n| %d | %s |", r->row, r->description);
		cr_expect_not_null(strstr(md, row), "rule %s: no table row \"%s\"", r->id, row + 1);
	}
	rules_free(m);
}

Test(shipped, files_are_recorded_with_their_sha256)
{
	struct rules_matrix *m = load("rules/demo.site");
	const struct rules_file *f;
	size_t n = rules_files(m, &f);
	char cmd[512], out[256];

	cr_assert_eq(n, 2);
	cr_expect_str_eq(f[0].path, SHIPPED);
	cr_expect_str_eq(f[1].path, "rules/demo.site");
	for (size_t i = 0; i < n; i++) {
		snprintf(cmd, sizeof(cmd), "sha256sum %s | cut -c1-64", f[i].path);
		cr_assert_eq(tu_run(out, sizeof(out), "%s", cmd), 0);
		out[64] = '\0';
		cr_expect_str_eq(f[i].sha256, out, "%s", f[i].path);
	}
	rules_free(m);
}

/* ---- site settings ---- */

Test(site, demo_site_sets_host_and_roles)
{
	struct rules_matrix *m = load("rules/demo.site");
	const struct sm_cidr *h;
	struct sm_addr a;
	static const char *roles[][2] = {{"uccx", "127.0.0.21"},
	                                 {"cuic", "127.0.0.22"},
	                                 {"mail", "127.0.0.23"},
	                                 {"exchange", "127.0.0.24"},
	                                 {"xmpp", "127.0.0.25"}};

	cr_assert_eq(rules_hosts(m, &h), 1);
	a = A("127.0.0.10");
	cr_expect(rules_is_host(m, &a));
	a = A("127.0.0.11");
	cr_expect_not(rules_is_host(m, &a));
	for (size_t i = 0; i < 5; i++) {
		a = A(roles[i][1]);
		cr_expect_eq(rules_role_match(m, roles[i][0], &a), 1, "%s", roles[i][0]);
		cr_expect_str_eq(rules_peer_role(m, &a), roles[i][0]);
	}
	a = A("127.0.0.66");
	cr_expect_eq(rules_role_match(m, "uccx", &a), 0);
	cr_expect_null(rules_peer_role(m, &a));
	cr_expect_eq(rules_role_match(m, "any", &a), 1);
	rules_free(m);
}

Test(site, roles_without_addresses_say_so)
{
	struct rules_matrix *m = load(NULL);
	struct sm_addr a = A("127.0.0.21");

	cr_expect_eq(rules_role_match(m, "uccx", &a), -1);
	rules_free(m);
}

Test(site, ports_move_and_roles_take_cidrs_and_includes_load)
{
	struct rules_matrix *m = load("tests/rules/site-moves.site");
	const struct rule *x = find(m, "xmpp-notify-out"), *s = find(m, "smtps-notify-out");
	const struct rules_file *f;
	struct sm_addr a;

	cr_expect_eq(x->port, 5223);
	cr_expect_eq(x->default_port, 5222);
	cr_expect_eq(s->port, 2465);
	cr_expect_eq(find(m, "xmpp-events-from-uccx")->port, 5222, "row 9 did not move");
	a = A("10.1.0.77");
	cr_expect_eq(rules_role_match(m, "mail", &a), 1, "CIDR role");
	a = A("127.0.0.23");
	cr_expect_eq(rules_role_match(m, "mail", &a), 1, "second address in the list");
	a = A("2001:db8::10");
	cr_expect(rules_is_host(m, &a));
	cr_expect_not_null(find(m, "dns-udp-out"), "platform.rules included");
	cr_expect_eq(find(m, "dns-udp-out")->row, 0);
	cr_expect_eq(rules_count(m), 12 + 7);
	cr_assert_eq(rules_files(m, &f), 3);
	cr_expect_str_eq(f[2].path, "tests/rules/../../rules/platform.rules");
	cr_expect_eq(rules_finalize(m, err, sizeof(err)), 0, "%s", err);
	rules_free(m);
}

Test(site, command_line_roles_win_over_site_roles)
{
	struct rules_matrix *m = load("rules/demo.site");
	struct sm_addr old = A("127.0.0.21"), new1 = A("10.0.0.5"), new2 = A("10.0.1.9");

	cr_assert_eq(rules_set_role(m, "uccx=10.0.0.5,10.0.1.0/24", err, sizeof(err)), 0, "%s",
	             err);
	cr_expect_eq(rules_role_match(m, "uccx", &new1), 1);
	cr_expect_eq(rules_role_match(m, "uccx", &new2), 1);
	cr_expect_eq(rules_role_match(m, "uccx", &old), 0, "site address replaced");
	/* a site file loaded later does not add to a role the command line set */
	cr_assert_eq(rules_load(m, "tests/rules/site-moves.site", err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rules_role_match(m, "uccx", &old), 0);
	/* other roles keep their site addresses */
	old = A("127.0.0.22");
	cr_expect_eq(rules_role_match(m, "cuic", &old), 1);
	rules_free(m);
}

Test(site, rules_build_orders_rules_sites_then_command_line)
{
	struct rules_matrix *m;
	const char *sites[] = {"rules/demo.site"};
	const char *hosts[] = {"2001:db8::10"};
	const char *roles[] = {"cuic=127.0.0.99"};
	struct sm_addr a = A("127.0.0.99"), b = A("127.0.0.22"), h = A("2001:db8::10");

	cr_assert_eq(rules_build(&m, SHIPPED, sites, 1, hosts, 1, roles, 1, err, sizeof(err)), 0,
	             "%s", err);
	cr_expect_eq(rules_role_match(m, "cuic", &a), 1);
	cr_expect_eq(rules_role_match(m, "cuic", &b), 0);
	cr_expect(rules_is_host(m, &h));
	cr_expect_neq(rules_load(m, "rules/platform.rules", err, sizeof(err)), 0,
	              "finalized matrix refuses loads");
	rules_free(m);

	cr_expect_neq(rules_build(&m, SHIPPED, NULL, 0, NULL, 0, (const char *[]){"boss=1.2.3.4"},
	                          1, err, sizeof(err)),
	              0);
	cr_expect_null(m);
	cr_expect(strstr(err, "unknown role 'boss'"), "%s", err);
	cr_expect_neq(rules_build(&m, SHIPPED, NULL, 0, (const char *[]){"10.0.0.300"}, 1, NULL, 0,
	                          err, sizeof(err)),
	              0);
	cr_expect(strstr(err, "bad address '10.0.0.300'"), "%s", err);
}

Test(site, extra_roles_can_be_declared)
{
	struct rules_matrix *m = rules_new();
	struct sm_addr a = A("192.0.2.99");

	cr_assert_eq(rules_load(m, "tests/rules/extra-role.rules", err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rules_role_match(m, "backup", &a), 1);
	cr_expect_eq(rules_set_role(m, "backup=192.0.2.98", err, sizeof(err)), 0, "%s", err);
	rules_free(m);
}

Test(site, service_ports_name_every_listener)
{
	struct rules_matrix *m = load("tests/rules/site-moves.site");
	static uint8_t tcp[8192], udp[8192];
#define BIT(bm, p) (((bm)[(p) >> 3] >> ((p)&7)) & 1)

	rules_service_ports(m, tcp, udp);
	cr_expect(BIT(tcp, 443));
	cr_expect(BIT(tcp, 1526));
	cr_expect(BIT(tcp, 5222));
	cr_expect(BIT(tcp, 5223), "moved port");
	cr_expect_not(BIT(tcp, 465), "moved away");
	cr_expect_not(BIT(tcp, 8080));
	cr_expect(BIT(udp, 53));
	cr_expect_not(BIT(udp, 443));
	rules_free(m);
}

/* ---- mistakes: each gives file:line and what is wrong ---- */

/* Load shipped + file (bad), expect failure and both substrings in err. */
static void expect_error(const char *path, const char *where, const char *what)
{
	struct rules_matrix *m = load(NULL);

	cr_assert_neq(rules_load(m, path, err, sizeof(err)), 0, "%s loaded", path);
	cr_expect(strncmp(err, where, strlen(where)) == 0, "error '%s' does not start with '%s'",
	          err, where);
	cr_expect(strstr(err, what), "error '%s' does not say '%s'", err, what);
	rules_free(m);
}

Test(errors, unknown_keyword)
{
	expect_error("tests/rules/unknown-keyword.rules",
	             "tests/rules/unknown-keyword.rules:3: ", "unknown keyword 'rulez'");
}

Test(errors, bad_port)
{
	expect_error("tests/rules/bad-port.rules",
	             "tests/rules/bad-port.rules:2: ", "bad port '70000' (expected 1-65535)");
	expect_error("tests/rules/bad-port-word.rules",
	             "tests/rules/bad-port-word.rules:3: ", "bad port 'http'");
	expect_error("tests/rules/bad-moved-port.site",
	             "tests/rules/bad-moved-port.site:2: ", "bad port '0'");
}

Test(errors, unknown_role)
{
	expect_error("tests/rules/unknown-role.rules", "tests/rules/unknown-role.rules:2: ",
	             "unknown role 'mailserver' (known: any, uccx, cuic, mail, exchange, xmpp)");
	expect_error("tests/rules/unknown-role.site",
	             "tests/rules/unknown-role.site:3: ", "unknown role 'ucx'");
}

Test(errors, bad_address)
{
	expect_error("tests/rules/bad-address.site",
	             "tests/rules/bad-address.site:4: ", "bad address '127.0.0.300'");
	expect_error("tests/rules/bad-host.site",
	             "tests/rules/bad-host.site:2: ", "bad address '127.0.0.10/33'");
}

Test(errors, duplicate_id)
{
	expect_error("tests/rules/duplicate-id.rules", "tests/rules/duplicate-id.rules:5: ",
	             "duplicate rule id 'dup' (first defined at tests/rules/duplicate-id.rules:3)");
	/* a site rule may not reuse a shipped id either */
	expect_error("tests/rules/dup-shipped.site", "tests/rules/dup-shipped.site:2: ",
	             "duplicate rule id 'https-in' (first defined at rules/socialminer.rules:");
}

Test(errors, missing_quote)
{
	expect_error("tests/rules/missing-quote.rules",
	             "tests/rules/missing-quote.rules:2: ", "missing closing quote");
	expect_error("tests/rules/missing-description.rules",
	             "tests/rules/missing-description.rules:2: ", "missing description in quotes");
}

Test(errors, direction_word_must_fit)
{
	expect_error("tests/rules/in-with-to.rules", "tests/rules/in-with-to.rules:2: ",
	             "'in' rules name their peer with 'from ROLE'");
}

Test(errors, include_loop)
{
	expect_error("tests/rules/loop-a.rules", "tests/rules/loop-b.rules:2: ",
	             "include loop: tests/rules/loop-a.rules -> tests/rules/loop-b.rules -> "
	             "tests/rules/loop-a.rules");
	expect_error("tests/rules/self-include.site",
	             "tests/rules/self-include.site:3: ", "include loop");
}

Test(errors, unreadable_include)
{
	expect_error("tests/rules/missing-include.site", "tests/rules/missing-include.site:3: ",
	             "cannot read include 'tests/rules/does-not-exist.rules': No such file");
	expect_error("tests/rules/no-such-file.site",
	             "tests/rules/no-such-file.site: ", "cannot read");
}

Test(errors, moving_a_fixed_port)
{
	expect_error("tests/rules/fixed-port.site", "tests/rules/fixed-port.site:3: ",
	             "rule reports-from-cuic (row 7) has a fixed port 1526");
	expect_error("tests/rules/unknown-rule-port.site",
	             "tests/rules/unknown-rule-port.site:2: ", "no rule 'no-such-rule' to move");
}

/* Loading the shipped file twice is include-once, not a duplicate. */
Test(errors, same_file_twice_is_loaded_once)
{
	struct rules_matrix *m = load(NULL);

	cr_expect_eq(rules_load(m, SHIPPED, err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rules_count(m), 12);
	rules_free(m);
}

Test(errors, failed_load_leaves_matrix_unchanged)
{
	struct rules_matrix *m = load("rules/demo.site");
	const struct sm_cidr *h;
	const struct rules_file *f;
	struct sm_addr u = A("192.0.2.21"), u0 = A("127.0.0.21");

	cr_assert_neq(rules_load(m, "tests/rules/partial.site", err, sizeof(err)), 0);
	cr_expect(strncmp(err, "tests/rules/partial.site:8: bad address 'not-an-address'",
	                  strlen("tests/rules/partial.site:8: bad address 'not-an-address'")) == 0,
	          "%s", err);
	cr_expect_eq(rules_count(m), 12, "platform rules rolled back");
	cr_expect_null(find(m, "dns-out"));
	cr_expect_eq(find(m, "xmpp-notify-out")->port, 5222, "port move rolled back");
	cr_expect_eq(rules_hosts(m, &h), 1, "host rolled back");
	cr_expect_eq(rules_role_match(m, "uccx", &u), 0, "role address rolled back");
	cr_expect_eq(rules_role_match(m, "uccx", &u0), 1, "earlier role kept");
	cr_expect_eq(rules_role_count(m), 5, "declared role rolled back");
	cr_expect_eq(rules_files(m, &f), 2, "files rolled back");
	/* and the matrix still works: a good site loads after the failure */
	cr_expect_eq(rules_load(m, "tests/rules/site-moves.site", err, sizeof(err)), 0, "%s", err);
	cr_expect_eq(rules_count(m), 19);
	cr_expect_eq(rules_finalize(m, err, sizeof(err)), 0, "%s", err);
	rules_free(m);
}

/* ---- the command (needs build/smaudit, with main.c from the lead) ---- */

Test(cli, check_shipped_matrix)
{
	char out[4096];
	int rc = tu_run(out, sizeof(out), "%s rules check", SMAUDIT_BIN);

	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "ok: 12 rules from 1 file;"), "%s", out);
	cr_expect(strstr(out, "roles configured: none"), "%s", out);
}

Test(cli, check_with_site_counts_roles_and_hosts)
{
	char out[4096];
	int rc = tu_run(out, sizeof(out), "%s rules check --site rules/demo.site", SMAUDIT_BIN);

	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "12 rules from 2 files"), "%s", out);
	cr_expect(strstr(out, "uccx(1) cuic(1) mail(1) exchange(1) xmpp(1)"), "%s", out);
	cr_expect(strstr(out, "hosts: 127.0.0.10"), "%s", out);
}

Test(cli, check_reports_file_line_and_exits_2)
{
	char out[4096];
	int rc = tu_run(out, sizeof(out), "%s rules check %s tests/rules/bad-port.rules",
	                SMAUDIT_BIN, SHIPPED);

	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "tests/rules/bad-port.rules:2: bad port '70000'"), "%s", out);
	rc =
	    tu_run(out, sizeof(out), "%s rules check --site tests/rules/loop-a.rules", SMAUDIT_BIN);
	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "tests/rules/loop-b.rules:2: include loop"), "%s", out);
}

Test(cli, show_prints_the_effective_matrix)
{
	char out[16384];
	int rc = tu_run(out, sizeof(out),
	                "%s rules show --site tests/rules/site-moves.site --role xmpp=192.0.2.5",
	                SMAUDIT_BIN);

	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "Listener/service"), "%s", out);
	cr_expect(strstr(out, "Listener port"), "%s", out);
	cr_expect(strstr(out, "Remote device"), "%s", out);
	cr_expect(strstr(out, "Remote port"), "%s", out);
	cr_expect(strstr(out, "Direction"), "%s", out);
	cr_expect(strstr(out, "tcp/5223 (table: 5222)"), "%s", out);
	cr_expect(strstr(out, "192.0.2.5"), "%s", out);
	cr_expect_null(strstr(out, "127.0.0.25"), "CLI role replaced the site's xmpp");
	cr_expect(strstr(out, "https-to-uccx"), "%s", out);
	cr_expect(strstr(out, "dns-udp-out"), "%s", out);
	/* every rule line is aligned: the "Rule" column starts at one offset */
	{
		const char *hdr = strstr(out, "Rule ");
		const char *line = strstr(out, "\nEmail notification ");
		const char *id = line ? strstr(line, "smtp-notify-out") : NULL;
		cr_assert(hdr && line && id, "%s", out);
		cr_expect_eq(id - (line + 1), hdr - out);
	}
}

Test(cli, show_rejects_bad_role_and_help_works)
{
	char out[4096];

	cr_expect_eq(tu_run(out, sizeof(out), "%s rules show --role boss=1.2.3.4", SMAUDIT_BIN), 2,
	             "%s", out);
	cr_expect(strstr(out, "unknown role 'boss'"), "%s", out);
	cr_expect_eq(tu_run(out, sizeof(out), "%s rules show --help", SMAUDIT_BIN), 0);
	cr_expect(strstr(out, "usage: smaudit rules show"), "%s", out);
	cr_expect_eq(tu_run(out, sizeof(out), "%s rules check --help", SMAUDIT_BIN), 0);
	cr_expect(strstr(out, "usage: smaudit rules check"), "%s", out);
}

Test(errors, two_rules_for_the_same_connections)
{
	struct rules_matrix *m;
	const char *sites[] = {"tests/rules/collide.site"};

	cr_expect_neq(rules_build(&m, SHIPPED, sites, 1, NULL, 0, NULL, 0, err, sizeof(err)), 0);
	cr_expect_null(m);
	cr_expect(strstr(err, "rules/socialminer.rules:") &&
	              strstr(err, ": rule smtps-notify-out accepts the same connections as rule "
	                          "smtp-notify-out"),
	          "%s", err);
}

Test(cli, show_as_csv_and_markdown_for_a_firewall_request)
{
	char out[16384];
	int rc = tu_run(out, sizeof(out),
	                "%s rules show --site tests/rules/site-moves.site --format csv | "
	                "python3 -c 'import csv, sys\n"
	                "rows = list(csv.DictReader(sys.stdin))\n"
	                "r = {x[\"Rule\"]: x for x in rows}\n"
	                "m = r[\"smtp-notify-out\"]\n"
	                "assert m[\"Peer addresses\"] == \"10.1.0.0/24,127.0.0.23\", m\n"
	                "assert m[\"Apps\"] == \"SMTP,SMTPS,TLS\", m\n"
	                "assert r[\"xmpp-notify-out\"][\"Remote port\"] == \"tcp/5223 (table: "
	                "5222)\"\n"
	                "assert r[\"https-in\"][\"Listener port\"] == \"tcp/443\"\n"
	                "print(len(rows))'",
	                SMAUDIT_BIN);
	cr_expect_eq(rc, 0, "%s", out);
	rc = tu_run(out, sizeof(out), "%s rules show --format md --role uccx=127.0.0.21",
	            SMAUDIT_BIN);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "| Listener/service | Listener port | Remote device |"), "%s", out);
	cr_expect(strstr(out, "|---|---|---|---|---|---|---|---|---|---|\n"), "%s", out);
	cr_expect(strstr(out, "| HTTPS | - | uccx | tcp/443 | outbound | https-to-uccx | 3 | "
	                      "127.0.0.21 | TLS | no |"),
	          "%s", out);
	cr_expect(strstr(out, "\n- file: "), "%s", out);
	cr_expect_eq(tu_run(out, sizeof(out), "%s rules show --format xml", SMAUDIT_BIN), 2);
	cr_expect_eq(tu_run(out, sizeof(out), "%s rules check --format csv", SMAUDIT_BIN), 2);
}

/* ---- ICMP rules (issue 12 item 15) ---- */

Test(icmp, icmp_types_parse_and_are_no_service_ports)
{
	struct rules_matrix *m = load("tests/rules/ping.site");
	const struct rule *r = find(m, "ping-from-monitor"), *r6 = find(m, "ping6-out");
	static uint8_t tcp[8192], udp[8192];

	cr_assert_not_null(r);
	cr_expect_eq(r->proto, IPPROTO_ICMP);
	cr_expect_eq(r->port, 8);
	cr_expect_eq(r->dir, RULE_IN);
	cr_assert_not_null(r6);
	cr_expect_eq(r6->proto, IPPROTO_ICMPV6);
	cr_expect_eq(r6->port, 128);
	cr_expect_str_eq(flow_proto_str(r6->proto), "icmp6");
	cr_assert_eq(rules_finalize(m, err, sizeof(err)), 0, "%s", err);
	rules_service_ports(m, tcp, udp);
	cr_expect_eq(udp[1] & 1, 0, "icmp/8 is not udp/8");
	cr_expect_eq(udp[16] & 1, 0, "icmp6/128 is not udp/128");
	rules_free(m);
}

Test(icmp, bad_icmp_rules_name_file_and_line)
{
	struct rules_matrix *m = rules_new();

	cr_expect_neq(rules_load(m, "tests/rules/bad-icmp-type.rules", err, sizeof(err)), 0);
	cr_expect(strstr(err, "tests/rules/bad-icmp-type.rules:1: bad ICMP type '256'"), "%s", err);
	cr_expect_neq(rules_load(m, "tests/rules/bad-icmp-configurable.rules", err, sizeof(err)),
	              0);
	cr_expect(strstr(err, "bad-icmp-configurable.rules:1: rule ping-conf: an ICMP type is not "
	                      "a port"),
	          "%s", err);
	cr_expect_eq(rules_count(m), 0);
	rules_free(m);
}

/* ---- site files (issue 12 item 18) ---- */

/* A UTF-8 byte-order mark at the start of a file is not a keyword. */
Test(site18, a_utf8_byte_order_mark_is_accepted)
{
	struct rules_matrix *m = load("tests/rules/bom.site");
	struct sm_addr h = A("127.0.0.10"), u = A("127.0.0.21");

	cr_expect(rules_is_host(m, &h));
	cr_expect_eq(rules_role_match(m, "uccx", &u), 1);
	cr_expect(rules_is_site_file("tests/rules/bom.site"));
	cr_expect(rules_is_site_file("rules/demo.site"));
	cr_expect_not(rules_is_site_file(SHIPPED));
	cr_expect_not(rules_is_site_file("rules/platform.rules"));
	rules_free(m);
}

/* `rules check SITE` checks the site on top of the shipped matrix instead
 * of loading it alone ("ok: 0 rules"), and names its mistakes by line. */
Test(site18, rules_check_recognises_a_site_file)
{
	char out[4096];
	int rc = tu_run(out, sizeof(out), "%s rules check rules/demo.site", SMAUDIT_BIN);

	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "rules/demo.site: a site file"), "%s", out);
	cr_expect(strstr(out, "ok: 12 rules from 2 files"), "%s", out);
	cr_expect(strstr(out, "hosts: 127.0.0.10"), "%s", out);
	rc = tu_run(out, sizeof(out), "%s rules check tests/rules/bom.site", SMAUDIT_BIN);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "ok: 12 rules from 2 files"), "%s", out);
	rc = tu_run(out, sizeof(out), "%s rules check tests/rules/site-moves.site", SMAUDIT_BIN);
	cr_expect_eq(rc, 0, "a site moving shipped ports needs the shipped rules: %s", out);
	rc = tu_run(out, sizeof(out), "%s rules check tests/rules/bad-address.site", SMAUDIT_BIN);
	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "tests/rules/bad-address.site:4: bad address '127.0.0.300'"), "%s",
	          out);
	/* a rules file still stands in for the shipped matrix */
	rc = tu_run(out, sizeof(out), "%s rules check rules/platform.rules", SMAUDIT_BIN);
	cr_expect_eq(rc, 0, "%s", out);
	cr_expect(strstr(out, "ok: 7 rules from 1 file"), "%s", out);
}

/* ---- option errors (issue 12 item 19) ---- */

/* 'any' is no role one can give addresses to, so it is not listed as one. */
Test(options19, role_any_is_refused_without_listing_any_as_known)
{
	struct rules_matrix *m = load(NULL);

	cr_expect_neq(rules_set_role(m, "any=1.2.3.4", err, sizeof(err)), 0);
	cr_expect(strstr(err, "--role any=1.2.3.4: 'any' matches every peer"), "%s", err);
	cr_expect_null(strstr(err, "any,"), "%s", err);
	cr_expect_neq(rules_set_role(m, "boss=1.2.3.4", err, sizeof(err)), 0);
	cr_expect(strstr(err, "unknown role 'boss' (known: uccx, cuic, mail, exchange, xmpp)"),
	          "%s", err);
	cr_expect_neq(rules_load(m, "tests/rules/unknown-role.site", err, sizeof(err)), 0);
	cr_expect_null(strstr(err, "known: any"), "a site's role line cannot name 'any': %s", err);
	rules_free(m);
}

/* ---- application names (issue 12 item 17) ---- */

/* With nDPI's own list of names, a name it never reports is a load error
 * naming file:line and the name it most likely means; the shipped rules
 * and platform.rules use nDPI's names only. */
Test(apps17, app_names_are_checked_against_ndpi_names)
{
	size_t n;
	const char *const *names = dpi_app_names(&n);
	struct rules_matrix *m;

	cr_assert_not_null(names);
	cr_assert_gt(n, 100, "nDPI 4.2 knows a few hundred protocols, got %zu", n);
	rules_use_app_names(names, n);
	m = load("rules/demo.site");
	cr_expect_eq(rules_load(m, "rules/platform.rules", err, sizeof(err)), 0, "%s", err);
	cr_expect_neq(rules_load(m, "tests/rules/bad-app.rules", err, sizeof(err)), 0);
	cr_expect_str_eq(err, "tests/rules/bad-app.rules:3: unknown application protocol 'HTTPS' "
	                      "in app list: nDPI has no such name (did you mean TLS?)");
	cr_expect_neq(rules_load(m, "tests/rules/bad-not-app.site", err, sizeof(err)), 0);
	cr_expect(strstr(err, "bad-not-app.site:3: unknown application protocol 'Telnett' in "
	                      "not-app list: nDPI has no such name (did you mean Telnet?)"),
	          "%s", err);
	cr_expect_eq(rules_count(m), 12 + 7, "the failed loads left nothing behind");
	rules_use_app_names(NULL, 0);
	cr_expect_eq(rules_load(m, "tests/rules/bad-app.rules", err, sizeof(err)), 0,
	             "without a list nothing is checked: %s", err);
	rules_free(m);
}

/* The commands check the names: rules check, and read before it writes. */
Test(apps17, commands_refuse_unknown_app_names)
{
	char out[4096], dir[64], cmd[512];
	int rc = tu_run(out, sizeof(out), "%s rules check tests/rules/bad-app.rules", SMAUDIT_BIN);

	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "tests/rules/bad-app.rules:3: unknown application protocol 'HTTPS'"),
	          "%s", out);
	cr_expect(strstr(out, "did you mean TLS?"), "%s", out);
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(cmd, sizeof(cmd),
	         "%s read --host 127.0.0.10 --site tests/rules/bad-not-app.site --db %s/t.db "
	         "pcaps/demo.pcap",
	         SMAUDIT_BIN, dir);
	rc = tu_run(out, sizeof(out), "%s", cmd);
	cr_expect_eq(rc, 2, "%s", out);
	cr_expect(strstr(out, "bad-not-app.site:3: unknown application protocol 'Telnett'"), "%s",
	          out);
	snprintf(cmd, sizeof(cmd), "%s/t.db", dir);
	cr_expect_neq(access(cmd, F_OK), 0, "nothing was written");
	cr_assert_eq(tu_rmrf(dir), 0);
}
