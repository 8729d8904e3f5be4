/* test_robust.c: packets are untrusted input. Real captures are corrupted
 * with a fixed seed (bytes flipped in headers and payloads, captured
 * lengths cut, IP and TCP length fields rewritten), written back as pcap
 * files with libpcap, and the real binary must read every one to the end:
 * no crash, every packet counted, the run complete. Under `make sanitize`
 * the same files run with AddressSanitizer watching each read. */
#include <criterion/criterion.h>
#include <pcap/pcap.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char dir[64], db[128], out[8192];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/r.db", dir);
}

static void teardown(void)
{
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(robust, .init = setup, .fini = teardown, .timeout = 120);

/* xorshift: the same corruption on every machine */
static uint32_t rnd_state;

static uint32_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 17;
	rnd_state ^= rnd_state << 5;
	return rnd_state;
}

/* Corrupt one packet in buf (len bytes captured); may shorten *caplen. */
static void corrupt(uint8_t *buf, uint32_t *caplen)
{
	uint32_t n = *caplen;

	if (n == 0)
		return;
	switch (rnd() % 6) {
	case 0: /* flip a few bytes anywhere */
		for (int k = 0; k < 3; k++)
			buf[rnd() % n] ^= (uint8_t)(1u << (rnd() % 8));
		break;
	case 1: /* smash the first 64 bytes: link, IP, transport headers */
		for (uint32_t i = 0; i < n && i < 64; i++)
			if (rnd() % 4 == 0)
				buf[i] = (uint8_t)rnd();
		break;
	case 2: /* cut the capture short */
		*caplen = rnd() % n;
		break;
	case 3: /* IPv4 total length / IHL after a 14-byte Ethernet header */
		if (n > 18) {
			buf[14] = (uint8_t)(0x40 | (rnd() % 16));
			buf[16] = (uint8_t)rnd();
			buf[17] = (uint8_t)rnd();
		}
		break;
	case 4: /* TCP data offset and flags */
		if (n > 48) {
			buf[46] = (uint8_t)rnd();
			buf[47] = (uint8_t)rnd();
		}
		break;
	default: /* leave it: valid packets keep flows alive among the broken */
		break;
	}
}

/* Write a corrupted copy of src to dst; returns the number of packets. */
static int mutate(const char *src, const char *dst, uint32_t seed)
{
	char ebuf[PCAP_ERRBUF_SIZE];
	pcap_t *in = pcap_open_offline(src, ebuf);
	pcap_dumper_t *d;
	struct pcap_pkthdr *h;
	const u_char *data;
	static uint8_t buf[65536];
	int n = 0;

	cr_assert_not_null(in, "%s: %s", src, ebuf);
	d = pcap_dump_open(in, dst);
	cr_assert_not_null(d, "%s", pcap_geterr(in));
	rnd_state = seed;
	while (pcap_next_ex(in, &h, &data) == 1) {
		struct pcap_pkthdr nh = *h;
		memcpy(buf, data, h->caplen);
		corrupt(buf, &nh.caplen);
		pcap_dump((u_char *)d, &nh, buf);
		n++;
	}
	pcap_dump_close(d);
	pcap_close(in);
	return n;
}

static void survive(const char *capture, int rounds)
{
	char path[256];

	for (int r = 0; r < rounds; r++) {
		int pkts, rc;
		long long stored;

		snprintf(path, sizeof(path), "%s/m%d.pcap", dir, r);
		pkts = mutate(capture, path, 0x9e3779b9u ^ (uint32_t)(r * 7919 + 1));
		rc = tu_run(out, sizeof(out),
		            SMAUDIT_BIN " read -q --host 0.0.0.0/0 --host ::/0 --db %s %s", db,
		            path);
		cr_assert_eq(rc, 0, "%s round %d: exit %d (a crash is 128+signal)\n%s", capture, r,
		             rc, out);
		stored = tu_q1(db, "SELECT packets FROM runs WHERE id = (SELECT max(id) FROM runs) "
		                   "AND status = 'complete'");
		cr_assert_eq(stored, pkts, "%s round %d: every packet counted", capture, r);
	}
}

Test(robust, corrupted_real_traffic)
{
	survive("pcaps/demo.pcap", 20);
	survive("pcaps/mismatch.pcap", 10);
}

Test(robust, corrupted_crafted_edge_cases)
{
	static const char *caps[] = {"pcaps/ipv6.pcap", "pcaps/vlan.pcap",   "pcaps/qinq.pcap",
	                             "pcaps/frag.pcap", "pcaps/states.pcap", "pcaps/sll2.pcap"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		survive(caps[i], 8);
}

Test(robust, corrupted_tunnels)
{
	static const char *caps[] = {"pcaps/encap-gre.pcap",  "pcaps/encap-udp.pcap",
	                             "pcaps/encap-ipip.pcap", "pcaps/encap-l2.pcap",
	                             "pcaps/encap-ppp.pcap",  "pcaps/encap-radiotap.pcap",
	                             "pcaps/encap-bomb.pcap", "pcaps/encap-tenants.pcap"};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		survive(caps[i], 8);
	survive("pcaps/demo-erspan.pcap", 6);
	survive("pcaps/demo-vxlan.pcap", 6);
}
