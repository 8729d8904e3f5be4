/* test_community_id.c: Community ID v1 against the spec's published values.
 *
 * The tuples and IDs are the "Default settings" table of
 * corelight/community-id-spec (baseline/README.md) and entries of its
 * baseline_deflt.json, computed there by the reference implementation
 * (pycommunityid), not by smaudit. Each bidirectional case is checked both
 * ways; the one-way ICMP cases keep their direction. */
#include <criterion/criterion.h>

#include "smaudit/community_id.h"

struct vec {
	int proto;
	const char *src, *dst;
	int sport, dport; /* ICMP: type, code */
	const char *id;
};

/* The spec's default-seed table, row by row. */
static const struct vec spec_table[] = {
    {6, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
    {6, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:wCb3OG7yAFWelaUydu0D+125CLM="},
    {17, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
    {17, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:0Mu9InQx6z4ZiCZM/7HXi2WMhOg="},
    {132, "1.2.3.4", "5.6.7.8", 1122, 3344, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="},
    {132, "5.6.7.8", "1.2.3.4", 3344, 1122, "1:EKt4MsxuyaE6mL+hmrEkQ9csDD8="},
    {1, "1.2.3.4", "5.6.7.8", 8, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
    {1, "5.6.7.8", "1.2.3.4", 0, 0, "1:crodRHL2FEsHjbv3UkRrfbs4bZ0="},
    {1, "1.2.3.4", "5.6.7.8", 11, 0, "1:f/YiSyWqczrTgfUCZlBUnvHRcPk="},
    {58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 128,
     0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
    {58, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 129,
     0, "1:0bf7hyMJUwt3fMED7z8LIfRpBeo="},
    {58, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 146,
     0, "1:fYC8+pz24E+EhANP1EZhpX0Dw10="},
    {46, "1.2.3.4", "5.6.7.8", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
    {46, "5.6.7.8", "1.2.3.4", 0, 0, "1:ikv3kmf89luf73WPz1jOs49S768="},
    {46, "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", 0, 0,
     "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="},
    {46, "fe80:1011:1213:1415:1617:1819:1A1B:1C1D", "fe80:0001:0203:0405:0607:0809:0A0B:0C0D", 0, 0,
     "1:wQ/2mwrnXP4lmJcHdGL5ePjR+e0="},
};

/* From baseline_deflt.json: neighbour discovery (paired both ways, and the
 * same pair sent the other way round is another ID), ICMPv6 errors, router
 * solicitation, IPv6 TCP, DNS over UDP, ICMP echo and time exceeded. */
static const struct vec baseline[] = {
    {58, "fe80::200:86ff:fe05:80da", "fe80::260:97ff:fe07:69ea", 135, 0,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
    {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 136, 0,
     "1:dGHyGvjMfljg6Bppwm3bg0LO8TY="},
    {58, "fe80::260:97ff:fe07:69ea", "fe80::200:86ff:fe05:80da", 135, 0,
     "1:zavyT/cezQr1fmImYCwYnMXbgck="},
    {58, "3ffe:501:1800:2345::2", "3ffe:507:0:1:200:86ff:fe05:80da", 3, 0,
     "1:2ObVBgIn28oZvibYZhZMBgh7WdQ="},
    {58, "3ffe:501:410:0:2c0:dfff:fe47:33e", "3ffe:507:0:1:200:86ff:fe05:80da", 1, 4,
     "1:hLZd0XGWojozrvxqE0dWB1iM6R0="},
    {58, "fe80::200:86ff:fe05:80da", "ff02::2", 133, 0, "1:hO+sN4H+MG5MY/8hIrXPqc4ZQz0="},
    {6, "2001:470:e5bf:dead:4957:2174:e82c:4887", "2607:f8b0:400c:c03::1a", 63943, 25,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
    {6, "2607:f8b0:400c:c03::1a", "2001:470:e5bf:dead:4957:2174:e82c:4887", 25, 63943,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
    {17, "192.168.1.52", "8.8.8.8", 54585, 53, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
    {17, "8.8.8.8", "192.168.1.52", 53, 54585, "1:d/FP5EW3wiY1vCndhwleRRKHowQ="},
    {1, "192.168.0.89", "192.168.0.1", 8, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
    {1, "192.168.0.1", "192.168.0.89", 0, 0, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk="},
    {1, "10.0.0.1", "10.0.0.2", 11, 0, "1:YHxtAirCG//0OzkcVAukqKQN9xM="},
};

static void check(const struct vec *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct sm_addr s, d;
		char id[COMMUNITY_ID_LEN];

		cr_assert_eq(addr_parse(v[i].src, &s), 0, "%s", v[i].src);
		cr_assert_eq(addr_parse(v[i].dst, &d), 0, "%s", v[i].dst);
		cr_assert_eq(community_id_v1(0, &s, &d, (uint8_t)v[i].proto, (uint16_t)v[i].sport,
		                             (uint16_t)v[i].dport, id, sizeof(id)),
		             0);
		cr_expect_str_eq(id, v[i].id, "proto %d %s:%d -> %s:%d: %s, spec %s", v[i].proto,
		                 v[i].src, v[i].sport, v[i].dst, v[i].dport, id, v[i].id);
	}
}

Test(community_id, spec_default_table)
{
	check(spec_table, sizeof(spec_table) / sizeof(spec_table[0]));
}

Test(community_id, spec_baseline_json)
{
	check(baseline, sizeof(baseline) / sizeof(baseline[0]));
}

/* The seed changes the hash: the spec's seed=1 table, TCP row. */
Test(community_id, seed_is_hashed)
{
	struct sm_addr s, d;
	char id[COMMUNITY_ID_LEN];

	addr_parse("1.2.3.4", &s);
	addr_parse("5.6.7.8", &d);
	cr_assert_eq(community_id_v1(1, &s, &d, 6, 1122, 3344, id, sizeof(id)), 0);
	cr_expect_str_eq(id, "1:HhA1B+6CoLbiKPEs5nhNYN4XWfk=");
}

Test(community_id, refuses_mixed_families_and_short_buffers)
{
	struct sm_addr s, d;
	char id[COMMUNITY_ID_LEN], small[8];

	addr_parse("1.2.3.4", &s);
	addr_parse("::1", &d);
	cr_expect_eq(community_id_v1(0, &s, &d, 6, 1, 2, id, sizeof(id)), -1);
	cr_expect_str_eq(id, "");
	addr_parse("5.6.7.8", &d);
	cr_expect_eq(community_id_v1(0, &s, &d, 6, 1, 2, small, sizeof(small)), -1);
	cr_expect_str_eq(small, "");
}
