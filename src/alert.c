/* alert.c: live alert lines with suppression (see alert.h).
 *
 * Data structure: an open-addressing table of ALERT_KEYS keys (verdict,
 * protocol, rule, peer, service port), each with the start of its window
 * and the flows counted since. A key seen again inside its window is
 * counted, not printed. Once a second alert_tick() prints the summary of
 * windows that are over and rebuilds the table without them, so it never
 * fills with old keys; when it is three quarters full anyway (a scan of
 * thousands of peers inside one window), new keys are announced without
 * suppression rather than lost. Trade-off: a fixed table, no allocation
 * after alert_new(). Syslog lines go through syslog_send.c (datagrams, or
 * a NUL-framed stream where /dev/log is one), which never waits for the
 * daemon: lines it refuses wait in a bounded queue, beyond it
 * they are counted, and said on stderr each second the count grows. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <netinet/in.h>

#include "smaudit/alert.h"
#include "smaudit/community_id.h"
#include "config.h"
#include "syslog_send.h"

#define ALERT_KEYS 4096 /* power of two */

struct akey {
	uint8_t used, verdict, dir, proto;
	uint16_t port; /* responder port; ICMP: type */
	struct sm_addr peer;
	char rule[48];
	uint64_t window_us, more;
};

struct alerts {
	struct alert_cfg cfg;
	int closed;                      /* the stream failed (EPIPE): syslog only */
	struct slog *sl;                 /* with --syslog, else NULL */
	uint64_t sl_warned[SLOG_LOSSES]; /* syslog lines lost already said on stderr */
	uint32_t nkeys;
	uint64_t lines, suppressed;
	struct akey keys[ALERT_KEYS], spare[ALERT_KEYS];
};

/* ---- private ----------------------------------------------------------- */

/* Service port of r as the key sees it: ICMP flows by message type. */
static uint16_t key_port(const struct flow_record *r)
{
	return r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6 ? r->orig_port : r->resp_port;
}

/* FNV-1a over the key's fields. */
static uint32_t key_hash(uint8_t verdict, uint8_t proto, uint16_t port, const struct sm_addr *peer,
                         const char *rule)
{
	uint32_t h = 2166136261u;
	uint8_t head[4] = {verdict, proto, (uint8_t)(port >> 8), (uint8_t)port};

	for (size_t i = 0; i < sizeof(head); i++)
		h = (h ^ head[i]) * 16777619u;
	for (size_t i = 0; i < sizeof(peer->b); i++)
		h = (h ^ peer->b[i]) * 16777619u;
	for (; *rule; rule++)
		h = (h ^ (uint8_t)*rule) * 16777619u;
	return h;
}

/* The slot of a key in keys: its own, or the empty one where it belongs. */
static struct akey *key_slot(struct akey *keys, uint8_t verdict, uint8_t proto, uint16_t port,
                             const struct sm_addr *peer, const char *rule)
{
	uint32_t i = key_hash(verdict, proto, port, peer, rule) & (ALERT_KEYS - 1);

	for (;; i = (i + 1) & (ALERT_KEYS - 1)) {
		struct akey *k = &keys[i];
		if (!k->used || (k->verdict == verdict && k->proto == proto && k->port == port &&
		                 !addr_cmp(&k->peer, peer) && !strcmp(k->rule, rule)))
			return k;
	}
}

/* Write one finished line (no newline) to the stream and syslog. */
static void emit(struct alerts *a, uint64_t now_us, const char *line)
{
	time_t t = (time_t)(now_us / 1000000);
	struct tm tm;
	char ts[32];

	a->lines++;
	if (a->sl)
		slog_send(a->sl, LOG_WARNING, line);
	if (!a->cfg.out || a->closed)
		return;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (fprintf(a->cfg.out, "%s %s\n", ts, line) < 0 || fflush(a->cfg.out) == EOF) {
		a->closed = 1;
		fprintf(stderr,
		        "smaudit live: alert output closed (%s): no more alert lines there; the "
		        "audit goes on\n",
		        strerror(errno));
	}
}

/* An interval in words: "1h", "10m", "45s", "1h30m". */
static const char *span_str(uint64_t us, char *buf, size_t len)
{
	uint64_t s = us / 1000000, h = s / 3600, m = s % 3600 / 60;

	if (h && m)
		snprintf(buf, len, "%lluh%02llum", (unsigned long long)h, (unsigned long long)m);
	else if (h)
		snprintf(buf, len, "%lluh", (unsigned long long)h);
	else if (m)
		snprintf(buf, len, "%llum", (unsigned long long)m);
	else
		snprintf(buf, len, "%llus", (unsigned long long)s);
	return buf;
}

/* The summary line of a key whose window ends at now_us. */
static void summarise(struct alerts *a, const struct akey *k, uint64_t now_us)
{
	char p[ADDR_STRLEN], span[24], line[512];
	const char *ps = flow_proto_str(k->proto);
	int icmp = k->proto == IPPROTO_ICMP || k->proto == IPPROTO_ICMPV6;

	snprintf(line, sizeof(line),
	         "%s %s peer %s %s %u/%s rule %s: ... %llu more like it in the last %s",
	         verdict_str((enum verdict_kind)k->verdict), flow_dir_str((enum flow_dir)k->dir),
	         addr_str(&k->peer, p, sizeof(p)), icmp ? "type" : "port", k->port, ps ? ps : "ip",
	         k->rule, (unsigned long long)k->more,
	         span_str(now_us - k->window_us, span, sizeof(span)));
	emit(a, now_us, line);
}

/* ---- API --------------------------------------------------------------- */

struct alerts *alert_new(const struct alert_cfg *cfg)
{
	struct alerts *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = *cfg;
	if (cfg->syslog_facility >= 0 &&
	    !(a->sl = slog_open(cfg->syslog_facility, cfg->syslog_path))) {
		free(a);
		return NULL;
	}
	return a;
}

void alert_flow(struct alerts *a, const struct flow_record *r, const struct verdict_result *v,
                uint64_t now_us)
{
	char o[ADDR_STRLEN], s[ADDR_STRLEN], line[768], cid[COMMUNITY_ID_LEN];
	const char *ps = flow_proto_str(r->proto), *rule = v->rule ? v->rule->id : "-";
	const struct sm_addr *peer = r->direction == DIR_OUT ? &r->resp : &r->orig;
	uint16_t port = key_port(r);
	struct akey *k = NULL;

	if (a->cfg.interval_us) {
		k = key_slot(a->keys, (uint8_t)v->kind, r->proto, port, peer, rule);
		if (k->used && now_us - k->window_us < a->cfg.interval_us) {
			k->more++;
			a->suppressed++;
			return;
		}
		if (!k->used && a->nkeys >= ALERT_KEYS / 4 * 3)
			k = NULL; /* full: announce, do not track */
	}
	addr_str(&r->orig, o, sizeof(o));
	addr_str(&r->resp, s, sizeof(s));
	if (community_id_flow(r, cid, sizeof(cid)) < 0)
		snprintf(cid, sizeof(cid), "-");
	if (r->proto == IPPROTO_ICMP || r->proto == IPPROTO_ICMPV6)
		snprintf(line, sizeof(line),
		         "%s %s %s -> %s %s type %u code %u %s rule %s uid %s: %s",
		         verdict_str(v->kind), flow_dir_str((enum flow_dir)r->direction), o, s, ps,
		         r->orig_port, r->resp_port, cid, rule, r->uid, v->reason);
	else
		snprintf(line, sizeof(line), "%s %s %s:%u -> %s:%u/%s %s rule %s uid %s: %s",
		         verdict_str(v->kind), flow_dir_str((enum flow_dir)r->direction), o,
		         r->orig_port, s, r->resp_port, ps ? ps : "ip", cid, rule, r->uid,
		         v->reason);
	emit(a, now_us, line);
	if (!k)
		return;
	if (!k->used) {
		memset(k, 0, sizeof(*k));
		k->used = 1;
		k->verdict = (uint8_t)v->kind;
		k->dir = r->direction;
		k->proto = r->proto;
		k->port = port;
		k->peer = *peer;
		snprintf(k->rule, sizeof(k->rule), "%s", rule);
		a->nkeys++;
	}
	k->window_us = now_us;
	k->more = 0;
}

/* Say on stderr the syslog lines lost since the last second, and tell the
 * daemon of them if it takes lines again. */
static void syslog_tick(struct alerts *a)
{
	uint64_t refused = slog_lost(a->sl, SLOG_REFUSED), unsent = slog_lost(a->sl, SLOG_UNSENT);

	if (refused > a->sl_warned[SLOG_REFUSED])
		fprintf(stderr,
		        "smaudit live: %llu syslog lines dropped (%llu in all): the syslog daemon "
		        "does not keep up (its queue is full) and smaudit does not wait for it; "
		        "the daemon is told the count when it reads again\n",
		        (unsigned long long)(refused - a->sl_warned[SLOG_REFUSED]),
		        (unsigned long long)refused);
	if (unsent > a->sl_warned[SLOG_UNSENT])
		fprintf(stderr,
		        "smaudit live: %llu syslog lines not sent (%llu in all): %s; retrying "
		        "each second\n",
		        (unsigned long long)(unsent - a->sl_warned[SLOG_UNSENT]),
		        (unsigned long long)unsent, slog_error(a->sl));
	a->sl_warned[SLOG_REFUSED] = refused;
	a->sl_warned[SLOG_UNSENT] = unsent;
	slog_flush(a->sl);
}

void alert_tick(struct alerts *a, uint64_t now_us)
{
	uint32_t over = 0;

	if (a->sl)
		syslog_tick(a);

	for (uint32_t i = 0; i < ALERT_KEYS; i++) {
		struct akey *k = &a->keys[i];
		if (!k->used || now_us - k->window_us < a->cfg.interval_us)
			continue;
		if (k->more)
			summarise(a, k, now_us);
		over++;
	}
	if (!over)
		return;
	/* rebuild without the keys whose window is over (open addressing has
	 * no cheap delete) */
	memcpy(a->spare, a->keys, sizeof(a->keys));
	memset(a->keys, 0, sizeof(a->keys));
	a->nkeys = 0;
	for (uint32_t i = 0; i < ALERT_KEYS; i++) {
		const struct akey *k = &a->spare[i];
		if (!k->used || now_us - k->window_us >= a->cfg.interval_us)
			continue;
		*key_slot(a->keys, k->verdict, k->proto, k->port, &k->peer, k->rule) = *k;
		a->nkeys++;
	}
}

void alert_flush(struct alerts *a, uint64_t now_us)
{
	for (uint32_t i = 0; i < ALERT_KEYS; i++) {
		struct akey *k = &a->keys[i];
		if (k->used && k->more) {
			summarise(a, k, now_us);
			k->more = 0;
		}
	}
	if (a->sl)
		slog_drain(a->sl, CFG_SYSLOG_DRAIN_MS);
}

void alert_warn(struct alerts *a, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fprintf(stderr, "smaudit live: %s\n", msg);
	if (a && a->sl)
		slog_send(a->sl, LOG_WARNING, msg);
}

int alert_facility(const char *s)
{
	static const struct {
		const char *name;
		int fac;
	} f[] = {{"daemon", LOG_DAEMON},     {"user", LOG_USER},     {"auth", LOG_AUTH},
	         {"authpriv", LOG_AUTHPRIV}, {"local0", LOG_LOCAL0}, {"local1", LOG_LOCAL1},
	         {"local2", LOG_LOCAL2},     {"local3", LOG_LOCAL3}, {"local4", LOG_LOCAL4},
	         {"local5", LOG_LOCAL5},     {"local6", LOG_LOCAL6}, {"local7", LOG_LOCAL7}};

	for (size_t i = 0; s && i < sizeof(f) / sizeof(f[0]); i++)
		if (!strcmp(s, f[i].name))
			return f[i].fac;
	return -1;
}

uint64_t alert_lines(const struct alerts *a)
{
	return a->lines;
}

uint64_t alert_suppressed(const struct alerts *a)
{
	return a->suppressed;
}

void alert_syslog_lost(const struct alerts *a, uint64_t *refused, uint64_t *unsent)
{
	*refused = a->sl ? slog_lost(a->sl, SLOG_REFUSED) : 0;
	*unsent = a->sl ? slog_lost(a->sl, SLOG_UNSENT) : 0;
}

void alert_free(struct alerts *a)
{
	if (!a)
		return;
	slog_close(a->sl);
	free(a);
}
