/* dpi.c: application protocol detection with nDPI 4.2 (Debian's libndpi).
 *
 * Owns one nDPI detection module per thread (struct dpi_ctx) and the
 * short-lived per-flow nDPI state (struct dpi_flow). The flow record keeps
 * only what detection produced (struct flow_app: name, confidence, server
 * name); the nDPI state is freed the moment detection is final.
 *
 * The driving loop mirrors ndpiReader's (example/reader_util.c of nDPI 4.2)
 * so that our answer for a flow equals what `ndpiReader -i FILE` prints:
 *  - every packet of the flow is fed as an IP packet (both directions);
 *  - detection is final when nDPI names an application protocol and
 *    ndpi_extra_dissection_possible() says no more is to be learnt (e.g. the
 *    HTTP response, the TLS certificate), or when the flow has more than
 *    DPI_MAX_TCP_PKTS / DPI_MAX_UDP_PKTS packets (ndpiReader's -T/-U
 *    defaults); an unnamed flow is then given up with guessing on, as
 *    ndpiReader does, so a port guess comes back with confidence "port";
 *  - a flow that ends before that is given up the same way (dpi_end); so is
 *    a TCP flow both of whose sides have closed or reset (audit calls
 *    dpi_end then: no payload can follow, so the answer is the one its end
 *    would give, and an unnamed flow's state does not wait out the close
 *    delay).
 *
 * Differences from ndpiReader, on purpose:
 *  - State is allocated at the first packet carrying payload (TCP/UDP), not
 *    at the first packet: SYN-only flows (scans, refused connections) never
 *    cost an nDPI state. For TCP we then mark the handshake as seen
 *    (l4.tcp.seen_syn/seen_syn_ack/seen_ack = 1), which is exactly what
 *    nDPI's connection tracking would have set from the SYN, SYN-ACK and
 *    ACK we did not feed, so full flows behave as in ndpiReader and flows
 *    picked up mid-stream are presented the same way (see tests/bench/dpi-notes.md).
 *  - A TCP/UDP flow that never carried payload gets a guess by port from
 *    ndpi_guess_undetected_protocol() without any nDPI state.
 *  - server_name is nDPI's host_server_name only (TLS SNI, HTTP Host, the
 *    SMTP/IMAP/POP banner or EHLO name); ndpiReader also prints the SSH
 *    client banner in that column, we do not.
 *
 * Memory: one calloc of sizeof(struct dpi_flow) (nDPI 4.2's flow struct is
 * 688 bytes) per flow while detection runs, plus whatever the dissectors
 * allocate inside it (URL, user agent, TLS names), all freed together. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ndpi/ndpi_api.h>

#include "config.h"
#include "smaudit/dpi.h"

/* ---- Things you may reasonably want to change ------------------------ */

#define DPI_MAX_TCP_PKTS CFG_DPI_MAX_TCP_PKTS
#define DPI_MAX_UDP_PKTS CFG_DPI_MAX_UDP_PKTS
#define DPI_MAX_NAMES    1024 /* protocol names kept by dpi_app_names */

/* ---- Types ------------------------------------------------------------ */

struct dpi_ctx {
	struct ndpi_detection_module_struct *ndpi;
	uint64_t live; /* dpi_flow states allocated and not yet freed */
};

struct dpi_flow {
	ndpi_protocol last; /* last answer of ndpi_detection_process_packet */
	uint32_t pkts;      /* packets fed to nDPI */
	struct ndpi_flow_struct nf;
};

/* ---- Private functions ------------------------------------------------ */

/* Reduce nDPI's confidence to ours; a cache hit (correlation with another
 * flow to the same address) is not a detection of this flow's payload. */
static uint8_t conf_from_ndpi(ndpi_confidence_t c)
{
	switch (c) {
	case NDPI_CONFIDENCE_DPI:
		return APP_CONF_DPI;
	case NDPI_CONFIDENCE_DPI_CACHE:
	case NDPI_CONFIDENCE_MATCH_BY_IP:
		return APP_CONF_IP;
	case NDPI_CONFIDENCE_MATCH_BY_PORT:
		return APP_CONF_PORT;
	default:
		return APP_CONF_NONE;
	}
}

/* Write nDPI's name for pr ("TLS", "TLS.Google", "HTTP") into app; "" when
 * nothing is known. */
static void set_name(struct dpi_ctx *ctx, struct flow_app *app, ndpi_protocol pr)
{
	app->proto[0] = '\0';
	if (pr.app_protocol == NDPI_PROTOCOL_UNKNOWN && pr.master_protocol == NDPI_PROTOCOL_UNKNOWN)
		return;
	ndpi_protocol2name(ctx->ndpi, pr, app->proto, sizeof(app->proto));
}

/* Copy a NUL-terminated string into a fixed buffer, always terminated. */
static void copy_str(char *dst, size_t dstlen, const char *src)
{
	size_t n = strnlen(src, dstlen - 1);

	memcpy(dst, src, n);
	dst[n] = '\0';
}

/* Final answer for a flow with state: give up if nDPI named nothing (or
 * when asked, as ndpiReader does at the end), copy the result into
 * rec->app, free the state. */
static void finish(struct dpi_ctx *ctx, struct dpi_flow **stp, struct flow_record *rec,
                   int force_giveup)
{
	struct dpi_flow *st = *stp;
	ndpi_protocol pr = st->last;

	if (force_giveup || pr.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
		uint8_t guessed = 0;

		pr = ndpi_detection_giveup(ctx->ndpi, &st->nf, 1, &guessed);
	}
	set_name(ctx, &rec->app, pr);
	rec->app.confidence = conf_from_ndpi(st->nf.confidence);
	if (rec->app.proto[0] == '\0')
		rec->app.confidence = APP_CONF_NONE;
	else if (rec->app.confidence == APP_CONF_NONE)
		rec->app.confidence = APP_CONF_PORT; /* a name nDPI did not vouch for */
	copy_str(rec->app.server_name, sizeof(rec->app.server_name), st->nf.host_server_name);
	rec->app.done = 1;

	ndpi_free_flow_data(&st->nf);
	free(st);
	*stp = NULL;
	ctx->live--;
}

/* Guess for a TCP/UDP flow that never carried payload: by address (nDPI's
 * known networks) or by port, no state needed. */
static void guess_without_payload(struct dpi_ctx *ctx, struct flow_record *rec)
{
	uint32_t sh = 0, dh = 0;
	ndpi_protocol pr;

	rec->app.proto[0] = '\0';
	rec->app.confidence = APP_CONF_NONE;
	rec->app.server_name[0] = '\0';
	rec->app.done = 1;
	if (rec->proto != IPPROTO_TCP && rec->proto != IPPROTO_UDP)
		return;
	if (rec->ip_version == 4) {
		sh = (uint32_t)rec->orig.b[0] << 24 | (uint32_t)rec->orig.b[1] << 16 |
		     (uint32_t)rec->orig.b[2] << 8 | rec->orig.b[3];
		dh = (uint32_t)rec->resp.b[0] << 24 | (uint32_t)rec->resp.b[1] << 16 |
		     (uint32_t)rec->resp.b[2] << 8 | rec->resp.b[3];
	}
	pr = ndpi_guess_undetected_protocol(ctx->ndpi, NULL, rec->proto, sh, rec->orig_port, dh,
	                                    rec->resp_port);
	set_name(ctx, &rec->app, pr);
	if (rec->app.proto[0] == '\0')
		return;
	rec->app.confidence = APP_CONF_PORT;
	if (rec->ip_version == 4) {
		struct in_addr a;

		memcpy(&a.s_addr, rec->orig.b, 4);
		if (ndpi_network_ptree_match(ctx->ndpi, &a) != NDPI_PROTOCOL_UNKNOWN)
			rec->app.confidence = APP_CONF_IP;
		memcpy(&a.s_addr, rec->resp.b, 4);
		if (ndpi_network_ptree_match(ctx->ndpi, &a) != NDPI_PROTOCOL_UNKNOWN)
			rec->app.confidence = APP_CONF_IP;
	}
}

/* ---- The module dpi_app_names made ------------------------------------ */

/* dpi_app_names needs a detection module to read the names from (before any
 * dpi_new: the rules are checked first); initialising one costs about as
 * much as a run of 10,000 flows spends in the flow table, so it is kept for
 * the first dpi_new instead of being made twice. Guarded by spare_mu. */
static struct ndpi_detection_module_struct *spare;
static pthread_mutex_t spare_mu = PTHREAD_MUTEX_INITIALIZER;

/* The kept module (now the caller's), or NULL. */
static struct ndpi_detection_module_struct *spare_take(void)
{
	struct ndpi_detection_module_struct *nd;

	pthread_mutex_lock(&spare_mu);
	nd = spare;
	spare = NULL;
	pthread_mutex_unlock(&spare_mu);
	return nd;
}

/* Free the module dpi_app_names kept, when no dpi_new will take it. */
void dpi_spare_free(void)
{
	struct ndpi_detection_module_struct *nd = spare_take();

	if (nd)
		ndpi_exit_detection_module(nd);
}

/* ---- API -------------------------------------------------------------- */

/* New detection module with every protocol enabled, as ndpiReader sets it. */
struct dpi_ctx *dpi_new(char *err, size_t errlen)
{
	struct dpi_ctx *ctx;
	NDPI_PROTOCOL_BITMASK all;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		snprintf(err, errlen, "dpi: out of memory");
		return NULL;
	}
	ctx->ndpi = spare_take();
	if (!ctx->ndpi)
		ctx->ndpi = ndpi_init_detection_module(ndpi_no_prefs);
	if (!ctx->ndpi) {
		snprintf(err, errlen, "dpi: ndpi_init_detection_module failed (libndpi %s)",
		         ndpi_revision());
		free(ctx);
		return NULL;
	}
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(ctx->ndpi, &all);
	ndpi_finalize_initialization(ctx->ndpi);
	return ctx;
}

/* Free the module; every dpi_flow must have been ended first. */
void dpi_free(struct dpi_ctx *ctx)
{
	if (!ctx)
		return;
	ndpi_exit_detection_module(ctx->ndpi);
	free(ctx);
}

/* Feed one packet; allocates at the first payload, frees when final. */
int dpi_feed(struct dpi_ctx *ctx, struct dpi_flow **st, struct flow_record *rec,
             const struct pkt *p, int from_orig)
{
	uint64_t total;
	uint32_t len;
	int enough;

	(void)from_orig; /* nDPI orders directions itself, from the IP header */
	if (rec->app.done)
		return 1;
	if (p->frag == PKT_FRAG_LATER || p->l3_caplen == 0)
		return 0;
	if (!*st) {
		int tcpudp = p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP;

		if (tcpudp && p->payload_caplen == 0)
			return 0; /* handshake or pure ACK: nothing to learn yet */
		*st = calloc(1, sizeof(**st));
		if (!*st)
			return 0; /* no memory: try again at the next packet */
		ctx->live++;
		if (p->proto == IPPROTO_TCP) {
			/* What the unfed SYN / SYN-ACK / ACK would have set. */
			(*st)->nf.l4.tcp.seen_syn = 1;
			(*st)->nf.l4.tcp.seen_syn_ack = 1;
			(*st)->nf.l4.tcp.seen_ack = 1;
		}
	}

	len = p->l3_caplen > 65535 ? 65535 : p->l3_caplen;
	(*st)->last = ndpi_detection_process_packet(ctx->ndpi, &(*st)->nf, p->data + p->l3_off,
	                                            (unsigned short)len, p->ts_us / 1000);
	(*st)->pkts++;

	total = rec->orig_pkts + rec->resp_pkts;
	if (total < (*st)->pkts)
		total = (*st)->pkts;
	enough = total > (p->proto == IPPROTO_TCP ? DPI_MAX_TCP_PKTS : DPI_MAX_UDP_PKTS);
	if (!enough && (*st)->last.app_protocol == NDPI_PROTOCOL_UNKNOWN)
		return 0;
	if (!enough && !(*st)->nf.host_server_name[0] &&
	    ndpi_extra_dissection_possible(ctx->ndpi, &(*st)->nf)) {
		/* named, and more to learn (response, certificate) that may
		 * change what we keep (no server name yet): say the name now
		 * (live alerts judge it), once; finish() has the last word */
		if (rec->app.proto[0])
			return 0;
		set_name(ctx, &rec->app, (*st)->last);
		rec->app.confidence = conf_from_ndpi((*st)->nf.confidence);
		return rec->app.proto[0] ? 2 : 0;
	}
	finish(ctx, st, rec, 0);
	return 1;
}

/* The flow ended: give up if still running, fill rec->app, free. */
void dpi_end(struct dpi_ctx *ctx, struct dpi_flow **st, struct flow_record *rec)
{
	if (*st) {
		finish(ctx, st, rec, 1);
		return;
	}
	if (!rec->app.done)
		guess_without_payload(ctx, rec);
}

/* nDPI states currently allocated. */
uint64_t dpi_live_states(const struct dpi_ctx *ctx)
{
	return ctx ? ctx->live : 0;
}

const char *dpi_version(void)
{
	return ndpi_revision();
}

/* ---- nDPI's protocol names --------------------------------------------- */

static char app_names[DPI_MAX_NAMES][32];
static const char *app_name_ptrs[DPI_MAX_NAMES];
static size_t app_nnames;
static pthread_once_t app_names_once = PTHREAD_ONCE_INIT;

/* Copy every protocol name of a fresh detection module (its defaults are
 * registered at init; no detection is set up); keep the module for the
 * first dpi_new. */
static void app_names_load(void)
{
	struct ndpi_detection_module_struct *nd = ndpi_init_detection_module(ndpi_no_prefs);
	u_int n;

	if (!nd)
		return;
	n = ndpi_get_num_supported_protocols(nd);
	for (u_int id = 0; id < n && app_nnames < DPI_MAX_NAMES; id++) {
		const char *s = ndpi_get_proto_name(nd, (u_int16_t)id);
		if (!s || !*s || strlen(s) >= sizeof(app_names[0]))
			continue;
		memcpy(app_names[app_nnames], s, strlen(s) + 1);
		app_name_ptrs[app_nnames] = app_names[app_nnames];
		app_nnames++;
	}
	pthread_mutex_lock(&spare_mu);
	if (!spare) {
		spare = nd; /* not finalised: dpi_new sets it up as its own */
		nd = NULL;
	}
	pthread_mutex_unlock(&spare_mu);
	if (nd)
		ndpi_exit_detection_module(nd);
}

const char *const *dpi_app_names(size_t *n)
{
	pthread_once(&app_names_once, app_names_load);
	*n = app_nnames;
	return app_nnames ? app_name_ptrs : NULL;
}
