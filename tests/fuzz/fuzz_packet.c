/* fuzz_packet.c: libFuzzer harness: one frame through decode -> flow -> DPI.
 *
 * Input: byte 0 picks the link type (and whether the wire length claims
 * more than was captured), the rest is the frame. The frame is copied to an
 * exact-size heap buffer so AddressSanitizer sees any read past it. The
 * flow table and the nDPI module persist across inputs (64 flows, so
 * eviction, expiry and DPI state teardown are exercised too). Run with
 * `make fuzz`; every crash found belongs in pcaps/ as a regression capture.
 * VXLAN is decoded on 8472 too, so the configured-port path is fuzzed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "smaudit/decode.h"
#include "smaudit/dpi.h"
#include "smaudit/flow.h"

static struct flow_table *table;
static struct dpi_ctx *dpi;
static uint64_t now_us = 1793491200000000ULL;

/* Flow table callback: end DPI as the pipeline does. */
static void on_end(void *ctx, struct flow *f)
{
	(void)ctx;
	dpi_end(dpi, (struct dpi_flow **)flow_user(f), flow_rec(f));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct decode_cfg dcfg = {.vxlan_port = 8472};
	static const int dlts[] = {1,   113, 276, 101, 0,  12,  228, 229,
	                           108, 9,   50,  104, 51, 105, 127};
	struct pkt p;
	uint8_t *frame;
	char err[256];

	if (!table) {
		struct flow_cfg cfg = {.max_flows = 64, .uid_seed = 1};
		table = flow_table_new(&cfg, on_end, NULL);
		dpi = dpi_new(err, sizeof(err));
		if (!table || !dpi)
			abort();
	}
	if (size < 1)
		return 0;
	frame = malloc(size - 1 ? size - 1 : 1);
	memcpy(frame, data + 1, size - 1);
	memset(&p, 0, sizeof(p));
	p.caplen = (uint32_t)(size - 1);
	p.wirelen = p.caplen + ((data[0] & 0x80) ? 1000 : 0);
	p.ts_us = (now_us += 20000);
	if (decode_packet(&dcfg, dlts[(data[0] & 0x7f) % (sizeof(dlts) / sizeof(dlts[0]))], frame,
	                  &p) == DECODE_OK) {
		int is_new, from_orig;
		struct flow *f = flow_track(table, &p, &is_new, &from_orig);
		if (f) {
			flow_rec(f)->direction = DIR_IN;
			dpi_feed(dpi, (struct dpi_flow **)flow_user(f), flow_rec(f), &p, from_orig);
		}
		if ((now_us / 20000) % 512 == 0)
			flow_expire(table, now_us + 400ULL * 1000000); /* age everything out */
	}
	free(frame);
	return 0;
}
