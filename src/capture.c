/* capture.c: packet sources over libpcap (see capture.h).
 *
 * Files are read with pcap_next_ex so a truncated last record becomes an
 * error with its packet number instead of a silent end. `read` hands its
 * files in as streams (capture_open_stream) through merge.c's hashing tap.
 * Interfaces are opened in libpcap's buffered mode (TPACKET_V3 on Linux):
 * a ring of --buffer-size MiB absorbs the packet thread's hiccups. */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <net/if.h>

#include "smaudit/capture.h"

struct capture {
	pcap_t *p;
	char name[256];
	uint64_t pkt_no;
	int live;
	/* live: what reopening needs, and the drops of handles closed before */
	char *filter;
	int snaplen, buffer_mib;
	uint64_t dropped_base;
};

static int apply_filter(struct capture *c, const char *filter, char *err, size_t errlen)
{
	struct bpf_program prog;

	if (!filter || !*filter)
		return 0;
	if (pcap_compile(c->p, &prog, filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
		snprintf(err, errlen, "filter '%s': %s", filter, pcap_geterr(c->p));
		return -1;
	}
	if (pcap_setfilter(c->p, &prog) < 0) {
		snprintf(err, errlen, "filter '%s': %s", filter, pcap_geterr(c->p));
		pcap_freecode(&prog);
		return -1;
	}
	pcap_freecode(&prog);
	return 0;
}

/* Apply filter to a capture just opened; NULL (c closed) with err on failure. */
static struct capture *with_filter(struct capture *c, const char *filter, char *err, size_t errlen)
{
	if (apply_filter(c, filter, err, errlen) < 0) {
		pcap_close(c->p);
		free(c);
		return NULL;
	}
	return c;
}

/* Fill err for a capture that libpcap would not open: its words for a file
 * that is not a capture are cryptic, and a compressed capture is common. */
static void open_error(const char *name, const char *ebuf, const uint8_t *magic, size_t n,
                       char *err, size_t errlen)
{
	if (capture_compressed_error(name, magic, n, err, errlen))
		return;
	if (strstr(ebuf, "unknown file format") || strstr(ebuf, "bad dump file format"))
		snprintf(err, errlen, "%s: not a pcap or pcapng capture file (%s)", name, ebuf);
	else if (strstr(ebuf, "truncated"))
		snprintf(err, errlen, "%s: file header truncated: not a usable capture (%s)", name,
		         ebuf);
	else
		snprintf(err, errlen, "%s: %s", name, ebuf);
}

struct capture *capture_open_file(const char *path, const char *filter, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));
	struct stat sb;

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", strcmp(path, "-") ? path : "stdin");
	if (strcmp(path, "-")) {
		if (stat(path, &sb) < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			free(c);
			return NULL;
		}
		if (S_ISDIR(sb.st_mode)) {
			snprintf(err, errlen, "%s: is a directory, not a capture file", path);
			free(c);
			return NULL;
		}
		if (S_ISREG(sb.st_mode) && sb.st_size == 0) {
			snprintf(err, errlen, "%s: empty file (0 bytes), not a capture", path);
			free(c);
			return NULL;
		}
	}
	c->p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!c->p) {
		uint8_t magic[8];
		size_t n = 0;
		FILE *f = strcmp(path, "-") ? fopen(path, "rb") : NULL;
		if (f) { /* a regular file can be read again for its first bytes */
			n = fread(magic, 1, sizeof(magic), f);
			fclose(f);
		}
		open_error(c->name, ebuf, magic, n, err, errlen);
		free(c);
		return NULL;
	}
	return with_filter(c, filter, err, errlen);
}

/* Create and activate c's live handle from its saved settings. */
static int activate_live(struct capture *c, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	int rc;

	c->p = pcap_create(c->name, ebuf);
	if (!c->p) {
		snprintf(err, errlen, "%s: %s", c->name, ebuf);
		return -1;
	}
	pcap_set_snaplen(c->p, c->snaplen);
	pcap_set_promisc(c->p, 0);
	/* not immediate mode: libpcap then uses TPACKET_V3, whose blocks pack
	 * packets at their captured size, so the ring holds buffer_mib MiB of
	 * traffic rather than a fixed count of snaplen-sized frames; a block is
	 * handed over when full or after the timeout, which bounds alert delay */
	pcap_set_timeout(c->p, CAPTURE_BLOCK_TIMEOUT_MS);
	pcap_set_immediate_mode(c->p, 0);
	pcap_set_buffer_size(c->p, c->buffer_mib << 20);
	pcap_set_tstamp_precision(c->p, PCAP_TSTAMP_PRECISION_MICRO);
	rc = pcap_activate(c->p);
	if (rc < 0) {
		snprintf(err, errlen, "%s: %s", c->name,
		         rc == PCAP_ERROR ? pcap_geterr(c->p) : pcap_statustostr(rc));
		goto fail;
	}
	if (apply_filter(c, c->filter, err, errlen) < 0)
		goto fail;
	/* read non-blocking and wait in poll() ourselves, so a quiet link
	 * returns to the caller (timers) and a signal is seen at once */
	if (pcap_setnonblock(c->p, 1, ebuf) < 0) {
		snprintf(err, errlen, "%s: %s", c->name, ebuf);
		goto fail;
	}
	return 0;
fail:
	pcap_close(c->p);
	c->p = NULL;
	return -1;
}

struct capture *capture_open_live(const char *iface, const char *filter, int snaplen,
                                  int buffer_mib, char *err, size_t errlen)
{
	struct capture *c = calloc(1, sizeof(*c));

	if (!c || (filter && !(c->filter = strdup(filter)))) {
		snprintf(err, errlen, "%s: out of memory", iface);
		free(c);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", iface);
	c->live = 1;
	c->snaplen = snaplen > 0 ? snaplen : 65535;
	c->buffer_mib = buffer_mib > 0 ? buffer_mib : 256;
	if (activate_live(c, err, errlen) < 0) {
		free(c->filter);
		free(c);
		return NULL;
	}
	return c;
}

int capture_reopen(struct capture *c, char *err, size_t errlen)
{
	if (c->p) {
		c->dropped_base = capture_dropped(c);
		pcap_close(c->p);
		c->p = NULL;
	}
	return activate_live(c, err, errlen);
}

int capture_link_state(const struct capture *c)
{
	struct ifreq ifr;
	int fd, rc;

	if (!strcmp(c->name, "any") || strlen(c->name) >= sizeof(ifr.ifr_name))
		return 1; /* no one interface to ask about */
	memset(&ifr, 0, sizeof(ifr));
	memcpy(ifr.ifr_name, c->name, strlen(c->name));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1; /* cannot tell: assume up */
	rc = ioctl(fd, SIOCGIFFLAGS, &ifr);
	close(fd);
	if (rc < 0)
		return errno == ENODEV || errno == ENXIO ? -1 : 1;
	return (ifr.ifr_flags & IFF_UP) && (ifr.ifr_flags & IFF_RUNNING) ? 1 : 0;
}

int capture_next(struct capture *c, const struct pcap_pkthdr **hdr, const uint8_t **data, char *err,
                 size_t errlen)
{
	struct pcap_pkthdr *h;
	const u_char *d;
	int rc;

	if (!c->p) {
		snprintf(err, errlen, "%s: not capturing (the interface is gone)", c->name);
		return -1;
	}
	rc = pcap_next_ex(c->p, &h, &d);

	if (rc == 0 && c->live) {
		struct pollfd pfd = {.fd = pcap_get_selectable_fd(c->p), .events = POLLIN};
		if (pfd.fd >= 0 && poll(&pfd, 1, 200) > 0)
			rc = pcap_next_ex(c->p, &h, &d);
	}
	if (rc == 1) {
		c->pkt_no++;
		*hdr = h;
		*data = d;
		return 1;
	}
	if (rc == 0)
		return -2; /* live timeout */
	if (rc == PCAP_ERROR_BREAK)
		return 0;
	if (strstr(pcap_geterr(c->p), "different from the type of the first interface")) {
		snprintf(err, errlen,
		         "%s: packet %llu: %s: this pcapng file mixes link types, which libpcap "
		         "cannot read; write one pcap file per interface (for each interface N: "
		         "tshark -r %s -Y 'frame.interface_id==N' -w partN.pcapng, then editcap "
		         "-T ENCAP -F pcap partN.pcapng partN.pcap, ENCAP its link type: ether, "
		         "linux-sll, ...) and read the parts together",
		         c->name, (unsigned long long)c->pkt_no + 1, pcap_geterr(c->p), c->name);
		return -3;
	}
	snprintf(err, errlen, "%s: packet %llu: %s", c->name, (unsigned long long)c->pkt_no + 1,
	         pcap_geterr(c->p));
	return -1;
}

struct capture *capture_open_stream(FILE *f, const char *name, char *err, size_t errlen)
{
	char ebuf[PCAP_ERRBUF_SIZE] = "";
	struct capture *c = calloc(1, sizeof(*c));

	if (!c) {
		snprintf(err, errlen, "%s: out of memory", name);
		return NULL;
	}
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->p = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_MICRO, ebuf);
	if (!c->p) {
		open_error(c->name, ebuf, NULL, 0, err, errlen);
		free(c);
		return NULL;
	}
	return c;
}

int capture_set_filter(struct capture *c, const char *filter, char *err, size_t errlen)
{
	return apply_filter(c, filter, err, errlen);
}

int capture_compressed_error(const char *name, const uint8_t *magic, size_t n, char *err,
                             size_t errlen)
{
	static const struct {
		const char *sig;
		size_t len;
		const char *format, *tool;
	} kinds[] = {
	    {"\x1f\x8b", 2, "gzip", "zcat"},
	    {"BZh", 3, "bzip2", "bzcat"},
	    {"\xfd"
	     "7zXZ",
	     5, "xz", "xzcat"},
	    {"\x28\xb5\x2f\xfd", 4, "zstd", "zstdcat"},
	};

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (n < kinds[i].len || memcmp(magic, kinds[i].sig, kinds[i].len))
			continue;
		snprintf(err, errlen,
		         "%s: not a pcap or pcapng capture file: it is %s-compressed; "
		         "decompress it on the way in: %s %s | smaudit read [options] -",
		         name, kinds[i].format, kinds[i].tool,
		         strcmp(name, "stdin") ? name : "FILE");
		return 1;
	}
	return 0;
}

int capture_datalink(const struct capture *c)
{
	return pcap_datalink(c->p);
}

uint64_t capture_pkt_no(const struct capture *c)
{
	return c->pkt_no;
}

uint64_t capture_dropped(struct capture *c)
{
	struct pcap_stat ps;

	if (!c->live || !c->p || pcap_stats(c->p, &ps) < 0)
		return c->dropped_base;
	return c->dropped_base + ps.ps_drop + ps.ps_ifdrop;
}

void capture_breakloop(struct capture *c)
{
	if (c && c->p)
		pcap_breakloop(c->p);
}

void capture_close(struct capture *c)
{
	if (!c)
		return;
	if (c->p)
		pcap_close(c->p);
	free(c->filter);
	free(c);
}
