/* test_dpi.c: the nDPI module on real captures.
 *
 * Each capture is read with libpcap, decoded with decode_packet(), and its
 * packets are grouped into flows by a tiny map on the 5-tuple (the first
 * packet's sender is the originator); every packet is fed to dpi_feed()
 * and every flow ended with dpi_end(). Expected results come from what the
 * traffic was (pcaps/README-dpi.md) and, per flow, from what ndpiReader
 * (Debian's libndpi-bin, the same libndpi 4.2) prints for the same file. */
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "smaudit/dpi.h"
#include "testutil.h"

#define TF_MAX 64

struct tflow {
	struct flow_record rec;
	struct dpi_flow *st;
	int ever_allocated;   /* dpi_feed left a state at some point */
	int named_early;      /* dpi_feed returned 2 (named, still learning) */
	uint64_t final_at;    /* packet count of the flow when dpi_feed returned 1 */
	uint64_t live_at_end; /* dpi_live_states() just before dpi_end() */
};

struct tcap {
	struct tflow f[TF_MAX];
	int n;
	uint64_t live_after; /* dpi_live_states() after every flow ended */
	uint64_t peak_live;
};

/* Find the flow of p (either direction) or add it; *from_orig set. */
static struct tflow *tmap_get(struct tcap *c, const struct pkt *p, int *from_orig)
{
	for (int i = 0; i < c->n; i++) {
		struct flow_record *r = &c->f[i].rec;

		if (r->proto != p->proto)
			continue;
		if (!addr_cmp(&r->orig, &p->src) && !addr_cmp(&r->resp, &p->dst) &&
		    r->orig_port == p->sport && r->resp_port == p->dport) {
			*from_orig = 1;
			return &c->f[i];
		}
		if (!addr_cmp(&r->orig, &p->dst) && !addr_cmp(&r->resp, &p->src) &&
		    r->orig_port == p->dport && r->resp_port == p->sport) {
			*from_orig = 0;
			return &c->f[i];
		}
	}
	cr_assert_lt(c->n, TF_MAX, "too many flows in a test capture");
	struct tflow *t = &c->f[c->n++];
	memset(t, 0, sizeof(*t));
	t->rec.proto = p->proto;
	t->rec.ip_version = p->ip_version;
	t->rec.orig = p->src;
	t->rec.resp = p->dst;
	t->rec.orig_port = p->sport;
	t->rec.resp_port = p->dport;
	*from_orig = 1;
	return t;
}

/* Run a capture through decode + dpi; every flow ended at the end. */
static void run_capture(const char *path, struct tcap *c)
{
	char err[PCAP_ERRBUF_SIZE > 256 ? PCAP_ERRBUF_SIZE : 256];
	struct pcap_pkthdr *h;
	const u_char *data;
	pcap_t *pc;
	struct dpi_ctx *ctx;
	int dlt;

	memset(c, 0, sizeof(*c));
	pc = pcap_open_offline(path, err);
	cr_assert_not_null(pc, "%s: %s", path, err);
	dlt = pcap_datalink(pc);
	ctx = dpi_new(err, sizeof(err));
	cr_assert_not_null(ctx, "dpi_new: %s", err);
	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct pkt p;
		struct tflow *t;
		int from_orig, fin;

		memset(&p, 0, sizeof(p));
		p.caplen = h->caplen;
		p.wirelen = h->len;
		p.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		if (decode_packet(NULL, dlt, data, &p) != DECODE_OK)
			continue;
		t = tmap_get(c, &p, &from_orig);
		if (from_orig)
			t->rec.orig_pkts++;
		else
			t->rec.resp_pkts++;
		fin = dpi_feed(ctx, &t->st, &t->rec, &p, from_orig);
		if (t->st)
			t->ever_allocated = 1;
		if (fin == 2) { /* named early: the state goes on */
			cr_assert_not_null(t->st);
			cr_assert_eq(t->rec.app.done, 0);
			cr_assert_neq(t->rec.app.proto[0], '\0');
			t->named_early = 1;
		}
		if (fin == 1) {
			cr_assert_null(t->st, "dpi_feed returned 1 but left a state");
			cr_assert_eq(t->rec.app.done, 1);
			if (!t->final_at)
				t->final_at = t->rec.orig_pkts + t->rec.resp_pkts;
		}
		if (dpi_live_states(ctx) > c->peak_live)
			c->peak_live = dpi_live_states(ctx);
	}
	pcap_close(pc);
	for (int i = 0; i < c->n; i++) {
		c->f[i].live_at_end = dpi_live_states(ctx);
		dpi_end(ctx, &c->f[i].st, &c->f[i].rec);
		cr_assert_null(c->f[i].st);
		cr_assert_eq(c->f[i].rec.app.done, 1);
	}
	c->live_after = dpi_live_states(ctx);
	dpi_free(ctx);
}

/* The flow whose responder port is port (first one). */
static struct tflow *by_port(struct tcap *c, uint16_t port)
{
	for (int i = 0; i < c->n; i++)
		if (c->f[i].rec.resp_port == port)
			return &c->f[i];
	cr_assert_fail("no flow to port %u", port);
	return NULL;
}

/* The flow from orig address text to resp port. */
static struct tflow *by_orig_port(struct tcap *c, const char *orig, uint16_t port)
{
	struct sm_addr a;

	cr_assert_eq(addr_parse(orig, &a), 0);
	for (int i = 0; i < c->n; i++)
		if (c->f[i].rec.resp_port == port && !addr_cmp(&c->f[i].rec.orig, &a))
			return &c->f[i];
	cr_assert_fail("no flow from %s to port %u", orig, port);
	return NULL;
}

static void expect(struct tflow *t, const char *proto, uint8_t conf, const char *sn)
{
	cr_expect_str_eq(t->rec.app.proto, proto, "port %u: proto", t->rec.resp_port);
	cr_expect_str_eq(app_conf_str((enum app_conf)t->rec.app.confidence), app_conf_str(conf),
	                 "port %u (%s): confidence", t->rec.resp_port, t->rec.app.proto);
	if (sn)
		cr_expect_str_eq(t->rec.app.server_name, sn, "port %u: server_name",
		                 t->rec.resp_port);
}

/* ---- ndpiReader comparison ------------------------------------------- */

/* Our confidence name for ndpiReader's "[Confidence: X]". */
static const char *conf_of_reader(const char *s)
{
	if (!strncmp(s, "DPI (cache)", 11))
		return "ip";
	if (!strncmp(s, "DPI", 3))
		return "dpi";
	if (!strncmp(s, "Match by port", 13))
		return "port";
	if (!strncmp(s, "Match by IP", 11))
		return "ip";
	return "none";
}

/* Split "A:P" / "[A6]:P" into address and port; 0 on success. */
static int split_ep(const char *tok, struct sm_addr *a, unsigned *port)
{
	char buf[80];
	const char *colon = strrchr(tok, ':');
	size_t n;

	if (!colon)
		return -1;
	n = (size_t)(colon - tok);
	if (tok[0] == '[') {
		tok++;
		n -= 2;
	}
	if (n >= sizeof(buf))
		return -1;
	memcpy(buf, tok, n);
	buf[n] = '\0';
	*port = (unsigned)atoi(colon + 1);
	return addr_parse(buf, a);
}

/* Compare every TCP/UDP flow of our run with ndpiReader's line for it
 * (name and confidence; ICMP flows are keyed differently, left out). */
static void compare_with_ndpireader(const char *path, struct tcap *c)
{
	static char out[1 << 20];
	int st, matched = 0, tcpudp = 0;
	char *line, *save = NULL;

	st = tu_run(out, sizeof(out), "ndpiReader -q -i %s -v 2", path);
	cr_assert_eq(st, 0, "ndpiReader failed (is libndpi-bin installed?):\n%s", out);
	for (line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char l4[8], ea[80], arrow[4], eb[80], name[64];
		const char *pp, *cp;
		struct sm_addr a, b;
		unsigned pa, pb;
		int idx;

		if (sscanf(line, " %d %7s %79s %3s %79s", &idx, l4, ea, arrow, eb) != 5)
			continue;
		if (strcmp(l4, "TCP") && strcmp(l4, "UDP"))
			continue;
		pp = strstr(line, "[proto: ");
		cp = strstr(line, "[Confidence: ");
		if (!pp || !cp || split_ep(ea, &a, &pa) || split_ep(eb, &b, &pb))
			continue;
		pp = strchr(pp, '/');
		cr_assert_not_null(pp);
		if (sscanf(pp + 1, "%63[^]]", name) != 1)
			continue;
		if (!strcmp(name, "Unknown"))
			name[0] = '\0';
		for (int i = 0; i < c->n; i++) {
			struct flow_record *r = &c->f[i].rec;
			int fwd = !addr_cmp(&r->orig, &a) && r->orig_port == pa &&
			          !addr_cmp(&r->resp, &b) && r->resp_port == pb;
			int rev = !addr_cmp(&r->orig, &b) && r->orig_port == pb &&
			          !addr_cmp(&r->resp, &a) && r->resp_port == pa;

			if (!fwd && !rev)
				continue;
			matched++;
			cr_expect_str_eq(r->app.proto, name,
			                 "%s: flow %s <-> %s: ndpiReader says %s", path, ea, eb,
			                 name);
			cr_expect_str_eq(app_conf_str((enum app_conf)r->app.confidence),
			                 conf_of_reader(cp + strlen("[Confidence: ")),
			                 "%s: flow %s <-> %s: confidence", path, ea, eb);
		}
	}
	for (int i = 0; i < c->n; i++)
		if (c->f[i].rec.proto == IPPROTO_TCP || c->f[i].rec.proto == IPPROTO_UDP)
			tcpudp++;
	cr_expect_eq(matched, tcpudp, "%s: %d of our %d TCP/UDP flows found in ndpiReader's output",
	             path, matched, tcpudp);
}

/* ---- Tests ------------------------------------------------------------ */

Test(dpi, apps_named_with_server_names)
{
	static struct tcap c;

	run_capture("pcaps/dpi-apps.pcap", &c);
	cr_assert_eq(c.n, 8);
	expect(by_port(&c, 443), "TLS", APP_CONF_DPI, "socialminer.example.com");
	expect(by_port(&c, 80), "HTTP", APP_CONF_DPI, "socialminer.example.com");
	/* nDPI 4.2 takes the SMTP server_name from the server's 220 banner. */
	expect(by_port(&c, 25), "SMTP", APP_CONF_DPI, "mail.example.com");
	expect(by_port(&c, 22), "SSH", APP_CONF_DPI, "");
	expect(by_port(&c, 465), "SMTPS", APP_CONF_DPI, "mail.example.com");
	expect(by_port(&c, 993), "IMAPS", APP_CONF_DPI, "exchange.example.com");
	expect(by_port(&c, 5222), "Jabber", APP_CONF_DPI, NULL);
	cr_expect_eq(c.live_after, 0, "nDPI states leaked: %llu", (unsigned long long)c.live_after);
}

Test(dpi, syn_only_flow_is_a_port_guess_without_state)
{
	static struct tcap c;
	struct tflow *t;

	run_capture("pcaps/dpi-apps.pcap", &c);
	t = by_orig_port(&c, "127.0.0.67", 443); /* SYN, RST: connection refused */
	expect(t, "TLS", APP_CONF_PORT, "");
	cr_expect_eq(t->ever_allocated, 0, "a flow without payload got an nDPI state");
}

Test(dpi, protocols_on_foreign_ports_are_detected)
{
	static struct tcap c;

	run_capture("pcaps/dpi-mismatch.pcap", &c);
	cr_assert_eq(c.n, 3);
	expect(by_port(&c, 443), "SSH", APP_CONF_DPI, NULL);
	expect(by_port(&c, 7443), "HTTP", APP_CONF_DPI, "socialminer.example.com");
	expect(by_port(&c, 993), "SMTP", APP_CONF_DPI, NULL);
	cr_expect_eq(c.live_after, 0);
}

Test(dpi, midstream_flows_get_detected)
{
	static struct tcap c;

	run_capture("pcaps/dpi-midstream.pcap", &c);
	cr_assert_eq(c.n, 4);
	/* No handshake in the capture; the first packet carries the ClientHello,
	 * the GET, or the server's 220 banner (so the flow is seen reversed). */
	for (int i = 0; i < c.n; i++)
		cr_expect_eq(c.f[i].rec.app.confidence, APP_CONF_DPI, "flow %d: %s", i,
		             c.f[i].rec.app.proto);
	expect(by_orig_port(&c, "127.0.0.50", 443), "TLS", APP_CONF_DPI, "socialminer.example.com");
	expect(by_port(&c, 80), "HTTP", APP_CONF_DPI, "socialminer.example.com");
	expect(by_orig_port(&c, "127.0.0.23", 53927), "SMTP", APP_CONF_DPI, "mail.example.com");
	/* ClientHello cut too: TLS from the ServerHello, no SNI to be had. */
	expect(by_orig_port(&c, "127.0.0.10", 37789), "TLS", APP_CONF_DPI, "");
	cr_expect_eq(c.live_after, 0);
}

Test(dpi, state_freed_when_detection_is_final)
{
	static struct tcap c;
	struct tflow *t;

	run_capture("pcaps/dpi-apps.pcap", &c);
	/* Detection ends as soon as the name and the server name are known:
	 * TLS at the ClientHello and HTTP at the GET (packet 4, the state freed
	 * in the same call); SMTP when nDPI names it, at the server's reply to
	 * EHLO (packet 8). Nothing is allocated again after. */
	for (int k = 0; k < 3; k++) {
		static const uint16_t ports[] = {443, 80, 25};
		static const uint64_t final_at[] = {4, 4, 8};

		t = k == 0 ? by_orig_port(&c, "127.0.0.50", 443) : by_port(&c, ports[k]);
		cr_expect_eq(t->final_at, final_at[k], "port %u final at packet %llu, not %llu",
		             ports[k], (unsigned long long)t->final_at,
		             (unsigned long long)final_at[k]);
		cr_expect_eq(t->ever_allocated, k == 2, "port %u: state left after a call",
		             ports[k]);
		cr_expect_gt(t->rec.orig_pkts + t->rec.resp_pkts, final_at[k]);
	}
	cr_expect_leq(c.peak_live, 1, "flows are sequential: one state at a time, got %llu",
	              (unsigned long long)c.peak_live);
	cr_expect_eq(c.live_after, 0);
}

Test(dpi, unknown_payload_given_up_after_bounded_packets)
{
	static struct tcap c;
	struct tflow *t;

	run_capture("pcaps/dpi-unknown.pcap", &c);
	cr_assert_eq(c.n, 1);
	t = &c.f[0];
	cr_expect_gt(t->rec.orig_pkts + t->rec.resp_pkts, 100);
	/* Given up like ndpiReader: after 80 packets, state freed at once. */
	cr_expect_eq(t->final_at, 81);
	cr_expect_eq(t->live_at_end, 0);
	expect(t, "", APP_CONF_NONE, "");
}

Test(dpi, feed_after_done_allocates_nothing)
{
	static struct tcap c;
	struct dpi_flow *st = NULL;
	struct dpi_ctx *ctx;
	struct pkt p;
	char err[256];
	uint8_t frame[128];

	run_capture("pcaps/dpi-apps.pcap", &c);
	ctx = dpi_new(err, sizeof(err));
	cr_assert_not_null(ctx, "%s", err);
	/* A finished record fed again (any packet) stays finished and free. */
	memset(&p, 0, sizeof(p));
	memset(frame, 0, sizeof(frame));
	p.data = frame;
	p.caplen = sizeof(frame);
	p.proto = IPPROTO_TCP;
	p.l3_off = 14;
	p.l3_caplen = 60;
	p.payload_caplen = 20;
	cr_assert_eq(dpi_feed(ctx, &st, &c.f[0].rec, &p, 1), 1);
	cr_expect_null(st);
	cr_expect_eq(dpi_live_states(ctx), 0);
	dpi_end(ctx, &st, &c.f[0].rec); /* safe with no state */
	cr_expect_eq(dpi_live_states(ctx), 0);
	dpi_free(ctx);
}

Test(dpi, same_answers_as_ndpireader)
{
	static struct tcap c;
	/* Ours, and the shipped real-traffic captures (pcaps/README.md). */
	static const char *files[] = {"pcaps/dpi-apps.pcap",      "pcaps/dpi-mismatch.pcap",
	                              "pcaps/dpi-midstream.pcap", "pcaps/dpi-unknown.pcap",
	                              "pcaps/demo.pcap",          "pcaps/mismatch.pcap",
	                              "pcaps/midstream.pcap"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		run_capture(files[i], &c);
		compare_with_ndpireader(files[i], &c);
	}
}

/* The TCP/UDP flows `smaudit read` stored in database path, as records. */
static void load_read_flows(const char *path, struct tcap *c)
{
	sqlite3 *h;
	sqlite3_stmt *st;

	memset(c, 0, sizeof(*c));
	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
	cr_assert_eq(sqlite3_prepare_v2(h,
	                                "SELECT proto, orig_addr, orig_port, resp_addr, resp_port, "
	                                "coalesce(app_proto, ''), app_confidence FROM flows "
	                                "WHERE proto IN ('tcp', 'udp')",
	                                -1, &st, NULL),
	             SQLITE_OK, "%s", sqlite3_errmsg(h));
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct flow_record *r;

		cr_assert_lt(c->n, TF_MAX);
		r = &c->f[c->n++].rec;
		r->proto = strcmp((const char *)sqlite3_column_text(st, 0), "tcp") ? IPPROTO_UDP
		                                                                   : IPPROTO_TCP;
		cr_assert_eq(addr_parse((const char *)sqlite3_column_text(st, 1), &r->orig), 0);
		r->orig_port = (uint16_t)sqlite3_column_int(st, 2);
		cr_assert_eq(addr_parse((const char *)sqlite3_column_text(st, 3), &r->resp), 0);
		r->resp_port = (uint16_t)sqlite3_column_int(st, 4);
		snprintf(r->app.proto, sizeof(r->app.proto), "%s", sqlite3_column_text(st, 5));
		for (uint8_t k = 0; k <= APP_CONF_MAX; k++)
			if (!strcmp(app_conf_str(k), (const char *)sqlite3_column_text(st, 6)))
				r->app.confidence = k;
	}
	sqlite3_finalize(st);
	sqlite3_close(h);
}

Test(dpi, read_names_flows_as_ndpireader_does)
{
	static struct tcap c;
	static const char *files[] = {"pcaps/dpi-apps.pcap",      "pcaps/dpi-mismatch.pcap",
	                              "pcaps/dpi-midstream.pcap", "pcaps/dpi-unknown.pcap",
	                              "pcaps/demo.pcap",          "pcaps/mismatch.pcap",
	                              "pcaps/midstream.pcap"};
	char dir[64], db[128], out[4096];

	/* the whole pipeline (flow table, detection ended early when the
	 * name is final or both sides have closed): the same names */
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(db, sizeof(db), "%s/%zu.db", dir, i);
		cr_assert_eq(tu_run(out, sizeof(out), "%s read -q --host 0.0.0.0/0 --db %s %s",
		                    SMAUDIT_BIN, db, files[i]),
		             0, "%s", out);
		load_read_flows(db, &c);
		cr_assert_gt(c.n, 0, "%s: no flow stored", files[i]);
		compare_with_ndpireader(files[i], &c);
	}
	cr_assert_eq(tu_rmrf(dir), 0);
}

Test(dpi, conf_names)
{
	cr_expect_str_eq(app_conf_str(APP_CONF_DPI), "dpi");
	cr_expect_str_eq(app_conf_str(APP_CONF_PORT), "port");
	cr_expect_str_eq(app_conf_str(APP_CONF_IP), "ip");
	cr_expect_str_eq(app_conf_str(APP_CONF_NONE), "none");
	cr_expect_str_eq(app_conf_str(200), "none");
}

Test(dpi, a_protocol_still_dissected_is_named_early)
{
	static struct tcap c;
	struct tflow *t;

	/* live alerts need the protocol while the flow runs, not at its end:
	 * dpi_feed names it (2, detection going on) or concludes (1) before */
	run_capture("pcaps/mismatch.pcap", &c);
	t = by_port(&c, 993);
	cr_assert(t->named_early || t->final_at, "SMTP on 993 was not named before its end");
	cr_expect_str_eq(t->rec.app.proto, "SMTP");
}
