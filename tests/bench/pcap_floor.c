/* pcap_floor.c: the floor of `make bench`'s peer table: a bare libpcap
 * pcap_next_ex loop over a capture that touches every byte of every packet
 * (a checksum the compiler cannot drop), and nothing else. No program that
 * reads the file through libpcap can be faster. */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	uint64_t n = 0, sum = 0;
	pcap_t *p;

	if (argc != 2) {
		fprintf(stderr, "usage: pcap_floor FILE.pcap\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "pcap_floor: %s\n", err);
		return 2;
	}
	while (pcap_next_ex(p, &h, &d) == 1) {
		for (uint32_t i = 0; i < h->caplen; i += 64)
			sum += d[i];
		n++;
	}
	pcap_close(p);
	printf("%llu packets (%llu)\n", (unsigned long long)n, (unsigned long long)sum);
	return 0;
}
