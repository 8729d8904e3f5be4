/* test_addr.c: addresses as text equal inet_ntop's, both ways through
 * addr_parse, for IPv4 (our own formatter) and IPv6. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "smaudit/addr.h"

Test(addr, ipv4_text_equals_inet_ntop_for_every_byte_value_in_every_position)
{
	for (int pos = 0; pos < 4; pos++)
		for (int v = 0; v < 256; v++) {
			uint8_t b[4] = {127, 0, 0, 10};
			char ours[ADDR_STRLEN], want[INET_ADDRSTRLEN];
			struct sm_addr a, back;

			b[pos] = (uint8_t)v;
			b[(pos + 1) % 4] = (uint8_t)(255 - v);
			addr_set4(&a, b);
			inet_ntop(AF_INET, b, want, sizeof(want));
			cr_assert_str_eq(addr_str(&a, ours, sizeof(ours)), want);
			cr_assert_eq(addr_parse(ours, &back), 0);
			cr_assert_eq(addr_cmp(&a, &back), 0);
		}
}

Test(addr, short_buffers_and_ipv6_fall_back_to_inet_ntop)
{
	uint8_t b4[4] = {255, 255, 255, 255}, b6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 1};
	struct sm_addr a;
	char small[8], buf[ADDR_STRLEN];

	addr_set4(&a, b4);
	cr_assert_str_eq(addr_str(&a, small, sizeof(small)), "?"); /* never overruns */
	addr_set6(&a, b6);
	cr_assert_str_eq(addr_str(&a, buf, sizeof(buf)), "2001:db8::1");
}
