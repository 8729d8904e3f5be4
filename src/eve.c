/* eve.c: Suricata EVE JSON events for flows and findings (see eve.h).
 *
 * Built with jansson through jsonl, one object per event. The header
 * (timestamp, flow_id, tuple, proto, app_proto, community_id) and the flow
 * object are the same in both events of a flow; the alert event adds the
 * alert object. Field names and value shapes follow Suricata's
 * etc/schema.json; nothing else is written outside alert.metadata. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "config.h"
#include "smaudit/community_id.h"
#include "smaudit/eve.h"
#include "smaudit/jsonl.h"
#include "smaudit/record.h"
#include "smaudit/verdict.h"

/* ---- private ----------------------------------------------------------- */

/* Suricata's time form: "2024-05-01T10:00:00.500000+0000". */
static json_t *eve_time(double t)
{
	char buf[96];
	double whole = floor(t);
	long usec = lround((t - whole) * 1e6);
	time_t secs;
	struct tm tm;

	if (usec >= 1000000) {
		usec -= 1000000;
		whole += 1;
	}
	secs = (time_t)whole;
	if (!isfinite(t) || !gmtime_r(&secs, &tm))
		memset(&tm, 0, sizeof(tm));
	snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%06ld+0000", tm.tm_year + 1900,
	         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, usec);
	return json_string(buf);
}

/* flow_id: FNV-1a of the uid, kept below 2^51 so every JSON reader holds it exactly. */
static json_int_t eve_flow_id(const char *uid)
{
	uint64_t h = 1469598103934665603ULL;

	for (const char *p = uid ? uid : ""; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return (json_int_t)(h & ((1ULL << 51) - 1));
}

/* Suricata's proto text for a stored protocol name. */
static const char *eve_proto(const char *p)
{
	if (!p)
		return "";
	if (!strcmp(p, "tcp"))
		return "TCP";
	if (!strcmp(p, "udp"))
		return "UDP";
	if (!strcmp(p, "icmp"))
		return "ICMP";
	if (!strcmp(p, "icmp6"))
		return "IPv6-ICMP";
	return p; /* a protocol number */
}

/* Suricata's app_proto name for an nDPI detection, into buf ("" = none). */
static void eve_app(const struct eve_flow *f, char *buf, size_t len)
{
	static const char *const map[][2] = {{"TLS", "tls"},    {"SMTPS", "tls"}, {"IMAPS", "tls"},
	                                     {"HTTP", "http"},  {"SMTP", "smtp"}, {"IMAP", "imap"},
	                                     {"DNS", "dns"},    {"SSH", "ssh"},   {"NTP", "ntp"},
	                                     {"Jabber", "xmpp"}};
	size_t n = 0;

	buf[0] = '\0';
	if (!f->app_proto || !*f->app_proto || !f->app_confidence ||
	    strcmp(f->app_confidence, "dpi"))
		return;
	while (f->app_proto[n] && f->app_proto[n] != '.')
		n++;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (strlen(map[i][0]) == n && !strncasecmp(f->app_proto, map[i][0], n)) {
			snprintf(buf, len, "%s", map[i][1]);
			return;
		}
	for (size_t i = 0; i < n && i + 1 < len; i++) {
		char c = f->app_proto[i];
		buf[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		buf[i + 1] = '\0';
	}
}

/* Ports, or ICMP type and code (and the reply's type when one was seen). */
static void eve_ports(json_t *o, const struct eve_flow *f)
{
	int icmp = f->proto && (!strcmp(f->proto, "icmp") || !strcmp(f->proto, "icmp6"));

	if (icmp) {
		uint8_t pn = !strcmp(f->proto, "icmp") ? 1 : 58;
		int pair = community_id_icmp_pair(pn, (uint16_t)f->orig_port);
		json_object_set_new(o, "icmp_type", json_integer(f->orig_port));
		json_object_set_new(o, "icmp_code", json_integer(pair >= 0 ? 0 : f->resp_port));
		if (pair >= 0 && f->resp_pkts > 0) {
			json_object_set_new(o, "response_icmp_type", json_integer(pair));
			json_object_set_new(o, "response_icmp_code", json_integer(0));
		}
	} else if (f->proto && (!strcmp(f->proto, "tcp") || !strcmp(f->proto, "udp"))) {
		json_object_set_new(o, "src_port", json_integer(f->orig_port));
		json_object_set_new(o, "dest_port", json_integer(f->resp_port));
	}
}

/* The header both events share. NULL when out of memory. */
static json_t *eve_header(const struct eve_flow *f, const char *event_type)
{
	json_t *o = json_object();
	char app[32];

	if (!o)
		return NULL;
	json_object_set_new(o, "timestamp", eve_time(f->ts_start));
	json_object_set_new(o, "flow_id", json_integer(eve_flow_id(f->uid)));
	json_object_set_new(o, "event_type", json_string(event_type));
	if (f->vlan)
		json_object_set_new(o, "vlan", json_pack("[i]", f->vlan));
	jsonl_set_str(o, "src_ip", f->orig_addr);
	jsonl_set_str(o, "dest_ip", f->resp_addr);
	json_object_set_new(o, "proto",
	                    jsonl_string(eve_proto(f->proto), strlen(eve_proto(f->proto))));
	eve_ports(o, f);
	eve_app(f, app, sizeof(app));
	if (*app)
		json_object_set_new(o, "app_proto", json_string(app));
	if (f->community_id && *f->community_id)
		jsonl_set_str(o, "community_id", f->community_id);
	return o;
}

/* Suricata's flow.state and flow.reason for ours. */
static void eve_state(const struct eve_flow *f, const char **state, const char **reason)
{
	static const char *const closed[] = {"SF",     "REJ",   "RSTO", "RSTR",
	                                     "RSTOS0", "RSTRH", "SH",   "SHR"};
	const char *e = f->end_reason ? f->end_reason : "";

	*state = f->resp_pkts > 0 ? "established" : "new";
	if (f->proto && !strcmp(f->proto, "tcp") && f->conn_state)
		for (size_t i = 0; i < sizeof(closed) / sizeof(closed[0]); i++)
			if (!strcmp(f->conn_state, closed[i]))
				*state = "closed";
	if (!strcmp(e, "evicted") || !strcmp(e, "checkpoint"))
		*reason = "forced";
	else if (!strcmp(e, "capture-end") || !strcmp(e, "shutdown"))
		*reason = "shutdown";
	else
		*reason = "timeout";
}

/* The flow object (counters and times), alerted when the verdict is not expected. */
static json_t *eve_flow_obj(const struct eve_flow *f, int alerted)
{
	const char *state, *reason;

	eve_state(f, &state, &reason);
	return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:I, s:s, s:s, s:b}", "pkts_toserver",
	                 (json_int_t)f->orig_pkts, "pkts_toclient", (json_int_t)f->resp_pkts,
	                 "bytes_toserver", (json_int_t)f->orig_ip_bytes, "bytes_toclient",
	                 (json_int_t)f->resp_ip_bytes, "start", eve_time(f->ts_start), "end",
	                 eve_time(f->ts_end), "age",
	                 (json_int_t)(floor(f->ts_end) - floor(f->ts_start)), "state", state,
	                 "reason", reason, "alerted", alerted);
}

/* metadata[key] = [s] when s is set. */
static void meta_add(json_t *meta, const char *key, const char *s)
{
	json_t *a;

	if (!s || !*s || !(a = json_array()))
		return;
	json_array_append_new(a, jsonl_string(s, strlen(s)));
	json_object_set_new(meta, key, a);
}

/* The alert object for a non-expected verdict v. */
static json_t *eve_alert_obj(const struct eve_flow *f, enum verdict_kind v)
{
	json_t *meta = json_object();
	char row[16];

	if (!meta)
		return NULL;
	snprintf(row, sizeof(row), "%d", f->rule_row);
	meta_add(meta, "rule", f->rule_id);
	meta_add(meta, "row", f->rule_row > 0 ? row : NULL);
	meta_add(meta, "verdict", f->verdict);
	meta_add(meta, "direction", f->direction);
	meta_add(meta, "uid", f->uid);
	meta_add(meta, "server_name", f->server_name);
	return json_pack("{s:s, s:i, s:I, s:i, s:o, s:s, s:i, s:o}", "action", "allowed", "gid",
	                 CFG_EVE_GID, "signature_id", (json_int_t)(CFG_EVE_SID_BASE + (int)v),
	                 "rev", 1, "signature",
	                 jsonl_string(f->reason ? f->reason : f->verdict,
	                              strlen(f->reason ? f->reason : f->verdict)),
	                 "category", f->verdict, "severity", v == VERDICT_PROTOCOL_MISMATCH ? 1 : 2,
	                 "metadata", meta);
}

/* The flow event of f. Returns 0 or -1. */
static int write_flow(FILE *out, const struct eve_flow *f, int alerted)
{
	json_t *o = eve_header(f, "flow");

	if (!o || json_object_set_new(o, "flow", eve_flow_obj(f, alerted)) < 0) {
		json_decref(o);
		return -1;
	}
	return jsonl_write(out, o);
}

/* The alert event of f for verdict v. Returns 0 or -1. */
static int write_alert(FILE *out, const struct eve_flow *f, enum verdict_kind v)
{
	json_t *o = eve_header(f, "alert");

	if (!o || json_object_set_new(o, "alert", eve_alert_obj(f, v)) < 0 ||
	    json_object_set_new(o, "flow", eve_flow_obj(f, 1)) < 0) {
		json_decref(o);
		return -1;
	}
	return jsonl_write(out, o);
}

/* 1 if v is a verdict that alerts (set and not expected). */
static int alerts(enum verdict_kind v)
{
	return v != VERDICT_NONE && v != VERDICT_EXPECTED;
}

/* Text forms of a record, for an eve_flow that borrows them. */
struct eve_text {
	char orig[ADDR_STRLEN], resp[ADDR_STRLEN], proto[8], cid[COMMUNITY_ID_LEN];
};

/* Fill e from a flow record and its verdict (strings borrowed from r, v and t). */
static void eve_from_record(const struct flow_record *r, const struct verdict_result *v,
                            struct eve_flow *e, struct eve_text *t)
{
	const char *p = flow_proto_str(r->proto);

	memset(e, 0, sizeof(*e));
	if (!p) {
		snprintf(t->proto, sizeof(t->proto), "%u", r->proto);
		p = t->proto;
	}
	e->uid = r->uid;
	e->ts_start = (double)r->ts_start_us / 1e6;
	e->ts_end = (double)r->ts_end_us / 1e6;
	e->proto = p;
	e->orig_addr = addr_str(&r->orig, t->orig, sizeof(t->orig));
	e->resp_addr = addr_str(&r->resp, t->resp, sizeof(t->resp));
	e->orig_port = r->orig_port;
	e->resp_port = r->resp_port;
	e->vlan = r->vlan;
	e->app_proto = r->app.proto;
	e->app_confidence = app_conf_str((enum app_conf)r->app.confidence);
	e->community_id = community_id_flow(r, t->cid, sizeof(t->cid)) == 0 ? t->cid : NULL;
	e->orig_pkts = (int64_t)r->orig_pkts;
	e->resp_pkts = (int64_t)r->resp_pkts;
	e->orig_ip_bytes = (int64_t)r->orig_ip_bytes;
	e->resp_ip_bytes = (int64_t)r->resp_ip_bytes;
	e->conn_state = r->conn_state;
	e->end_reason = flow_end_str((enum flow_end)r->end_reason);
	e->direction = flow_dir_str((enum flow_dir)r->direction);
	e->rule_id = v && v->rule ? v->rule->id : NULL;
	e->rule_row = v && v->rule ? v->rule->row : 0;
	e->verdict = v ? verdict_str(v->kind) : NULL;
	e->reason = v ? v->reason : NULL;
	e->server_name = r->app.server_name;
}

/* ---- API --------------------------------------------------------------- */

int eve_write(FILE *out, const struct eve_flow *f)
{
	enum verdict_kind v = verdict_from_str(f->verdict);

	if (write_flow(out, f, alerts(v)) < 0)
		return -1;
	if (!alerts(v))
		return 1;
	return write_alert(out, f, v) < 0 ? -1 : 2;
}

struct eve_sink {
	pthread_mutex_t mu; /* the packet thread (alerts) and the writer (flows) share out */
	FILE *out;
	char *path;
	uint64_t errors; /* events that could not be written */
};

/* Open path for appending; NULL with err. */
static FILE *sink_fopen(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "a");

	if (!f)
		snprintf(err, errlen, "%s: cannot open for appending: %s", path, strerror(errno));
	return f;
}

struct eve_sink *eve_sink_open(const char *path, char *err, size_t errlen)
{
	struct eve_sink *s = calloc(1, sizeof(*s));

	if (!s || !(s->path = strdup(path))) {
		free(s);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (!(s->out = sink_fopen(path, err, errlen))) {
		free(s->path);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->mu, NULL);
	return s;
}

int eve_sink_reopen(struct eve_sink *s, char *err, size_t errlen)
{
	FILE *f = sink_fopen(s->path, err, errlen);

	if (!f)
		return -1; /* keep writing to the old file */
	pthread_mutex_lock(&s->mu);
	fclose(s->out);
	s->out = f;
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* Write one event of r under the lock: its flow event or its alert event. */
static void sink_event(struct eve_sink *s, const struct flow_record *r,
                       const struct verdict_result *v, int alert)
{
	struct eve_flow e;
	struct eve_text t;
	int rc;

	eve_from_record(r, v, &e, &t);
	pthread_mutex_lock(&s->mu);
	rc = alert ? write_alert(s->out, &e, v->kind) : write_flow(s->out, &e, alerts(v->kind));
	if (rc < 0 || fflush(s->out) != 0)
		s->errors++;
	pthread_mutex_unlock(&s->mu);
}

void eve_sink_flow(struct eve_sink *s, const struct flow_record *r, const struct verdict_result *v)
{
	sink_event(s, r, v, 0);
}

void eve_sink_alert(struct eve_sink *s, const struct flow_record *r, const struct verdict_result *v)
{
	if (alerts(v->kind))
		sink_event(s, r, v, 1);
}

uint64_t eve_sink_errors(struct eve_sink *s)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->errors;
	pthread_mutex_unlock(&s->mu);
	return n;
}

void eve_sink_close(struct eve_sink *s)
{
	if (!s)
		return;
	fclose(s->out);
	pthread_mutex_destroy(&s->mu);
	free(s->path);
	free(s);
}
