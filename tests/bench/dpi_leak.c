/* dpi_leak.c: drive decode + dpi over a large capture for the leak check.
 *
 * Reads a pcap, decodes every frame with decode_packet(), keeps a simple
 * flow map (chained hash over a fixed pool; 5-tuple, both directions),
 * feeds every packet to dpi_feed() and ends flows with dpi_end() on RST,
 * after FIN both ways, when idle (swept every SWEEP_EVERY packets) and at
 * the end of the capture. Prints flow and state counts, peak nDPI states
 * and peak RSS; exits 1 if any nDPI state is still allocated at the end.
 * Run under valgrind by tests/bench/dpi_leak.sh. */
#include <netinet/in.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "smaudit/dpi.h"

#define POOL        32768 /* flows open at once */
#define BUCKETS     65536 /* power of two */
#define SWEEP_EVERY 10000 /* packets between idle sweeps */
#define IDLE_US     5000  /* packet time after which a flow is ended */

struct bflow {
	struct flow_record rec;
	struct dpi_flow *st;
	uint64_t last_us;
	uint8_t fins; /* bit 0: FIN from orig, bit 1: FIN from resp */
	int32_t next; /* chain in bucket or free list; -1 ends */
	uint32_t bucket;
	uint8_t used;
};

static struct bflow pool[POOL];
static int32_t heads[BUCKETS];
static int32_t free_head;
static uint64_t n_created, n_ended, n_named, n_dpi, n_port, n_none, n_full;

/* Symmetric hash of the 5-tuple (both directions land together). */
static uint32_t tuple_hash(const struct pkt *p)
{
	uint32_t h = 2166136261u ^ p->proto;

	for (int i = 0; i < 16; i++)
		h = (h ^ (uint32_t)(p->src.b[i] ^ p->dst.b[i])) * 16777619u;
	h ^= (uint32_t)(p->sport ^ p->dport) * 2654435761u;
	return (h ^ (h >> 15)) & (BUCKETS - 1);
}

/* End flow i: finish detection, count its answer, return it to the pool. */
static void end_flow(struct dpi_ctx *ctx, int32_t i)
{
	struct bflow *f = &pool[i];
	int32_t *pp = &heads[f->bucket];

	dpi_end(ctx, &f->st, &f->rec);
	n_ended++;
	if (f->rec.app.proto[0])
		n_named++;
	if (f->rec.app.confidence == APP_CONF_DPI)
		n_dpi++;
	else if (f->rec.app.confidence == APP_CONF_PORT)
		n_port++;
	else
		n_none++;
	while (*pp != i)
		pp = &pool[*pp].next;
	*pp = f->next;
	f->used = 0;
	f->next = free_head;
	free_head = i;
}

/* Find or create the flow of p; -1 if the pool is full. */
static int32_t get_flow(struct dpi_ctx *ctx, const struct pkt *p, int *from_orig)
{
	uint32_t b = tuple_hash(p);
	int32_t i;

	for (i = heads[b]; i >= 0; i = pool[i].next) {
		struct flow_record *r = &pool[i].rec;

		if (r->proto != p->proto)
			continue;
		if (!addr_cmp(&r->orig, &p->src) && !addr_cmp(&r->resp, &p->dst) &&
		    r->orig_port == p->sport && r->resp_port == p->dport) {
			*from_orig = 1;
			return i;
		}
		if (!addr_cmp(&r->orig, &p->dst) && !addr_cmp(&r->resp, &p->src) &&
		    r->orig_port == p->dport && r->resp_port == p->sport) {
			*from_orig = 0;
			return i;
		}
	}
	if (free_head < 0) {
		n_full++;
		return -1;
	}
	i = free_head;
	free_head = pool[i].next;
	memset(&pool[i], 0, sizeof(pool[i]));
	pool[i].used = 1;
	pool[i].bucket = b;
	pool[i].next = heads[b];
	heads[b] = i;
	pool[i].rec.proto = p->proto;
	pool[i].rec.ip_version = p->ip_version;
	pool[i].rec.orig = p->src;
	pool[i].rec.resp = p->dst;
	pool[i].rec.orig_port = p->sport;
	pool[i].rec.resp_port = p->dport;
	n_created++;
	*from_orig = 1;
	(void)ctx;
	return i;
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE > 256 ? PCAP_ERRBUF_SIZE : 256];
	struct pcap_pkthdr *h;
	const u_char *data;
	uint64_t pkts = 0, peak = 0, live;
	struct rusage ru;
	struct dpi_ctx *ctx;
	pcap_t *pc;
	int dlt;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE.pcap\n", argv[0]);
		return 2;
	}
	pc = pcap_open_offline(argv[1], err);
	if (!pc) {
		fprintf(stderr, "%s: %s\n", argv[1], err);
		return 2;
	}
	ctx = dpi_new(err, sizeof(err));
	if (!ctx) {
		fprintf(stderr, "%s\n", err);
		return 2;
	}
	dlt = pcap_datalink(pc);
	for (int i = 0; i < BUCKETS; i++)
		heads[i] = -1;
	for (int i = 0; i < POOL; i++)
		pool[i].next = i + 1 < POOL ? i + 1 : -1;
	free_head = 0;

	while (pcap_next_ex(pc, &h, &data) == 1) {
		struct pkt p;
		int32_t i;
		int from_orig;

		memset(&p, 0, sizeof(p));
		p.caplen = h->caplen;
		p.wirelen = h->len;
		p.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
		pkts++;
		if (pkts % SWEEP_EVERY == 0)
			for (int32_t j = 0; j < POOL; j++)
				if (pool[j].used && p.ts_us - pool[j].last_us > IDLE_US)
					end_flow(ctx, j);
		if (decode_packet(NULL, dlt, data, &p) != DECODE_OK)
			continue;
		i = get_flow(ctx, &p, &from_orig);
		if (i < 0)
			continue;
		if (from_orig)
			pool[i].rec.orig_pkts++;
		else
			pool[i].rec.resp_pkts++;
		pool[i].last_us = p.ts_us;
		dpi_feed(ctx, &pool[i].st, &pool[i].rec, &p, from_orig);
		live = dpi_live_states(ctx);
		if (live > peak)
			peak = live;
		if (p.proto == IPPROTO_TCP) {
			if (p.tcp_flags & 0x04) { /* RST */
				end_flow(ctx, i);
				continue;
			}
			if (pool[i].fins == 3 && !(p.tcp_flags & 0x01)) {
				end_flow(ctx, i); /* last ACK after FIN both ways */
				continue;
			}
			if (p.tcp_flags & 0x01)
				pool[i].fins |= from_orig ? 1 : 2;
		}
	}
	pcap_close(pc);
	for (int32_t j = 0; j < POOL; j++)
		if (pool[j].used)
			end_flow(ctx, j);
	live = dpi_live_states(ctx);
	dpi_free(ctx);
	getrusage(RUSAGE_SELF, &ru);
	printf("packets %llu flows %llu ended %llu (pool full: %llu)\n", (unsigned long long)pkts,
	       (unsigned long long)n_created, (unsigned long long)n_ended,
	       (unsigned long long)n_full);
	printf("named %llu: dpi %llu, port %llu, none %llu\n", (unsigned long long)n_named,
	       (unsigned long long)n_dpi, (unsigned long long)n_port, (unsigned long long)n_none);
	printf("nDPI states: peak %llu, left at end %llu\n", (unsigned long long)peak,
	       (unsigned long long)live);
	printf("peak RSS %ld KiB\n", ru.ru_maxrss);
	return live == 0 ? 0 : 1;
}
