/* eve.h: flows and findings as Suricata's EVE JSON events.
 *
 * Each flow becomes one `event_type: "flow"` event and, when its verdict is
 * not expected, one `event_type: "alert"` event with the same flow_id, so
 * Filebeat's Suricata module, Splunk's Suricata add-on, Security Onion or
 * Evebox ingest them without glue. Only Suricata's field names and types
 * are used; what EVE has no field for (rule, row, verdict, direction, uid,
 * server name) goes in alert.metadata, as arrays of strings like the rule
 * metadata Suricata writes there. tests/eve.schema.json is the subset of
 * Suricata's etc/schema.json these events use.
 *
 * Mapping: timestamp = flow start; src = originator; flow.bytes_* = IP
 * bytes; flow.state closed|established|new; flow.reason timeout (closed or
 * idle), forced (evicted, checkpoint) or shutdown (capture end, stop);
 * alert.signature_id = CFG_EVE_SID_BASE + the verdict's number in record.h,
 * alert.category = the verdict, alert.signature = the reason; severity 1
 * for protocol-mismatch, else 2. */
#ifndef SMAUDIT_EVE_H
#define SMAUDIT_EVE_H

#include <stdint.h>
#include <stdio.h>

/* One flow in stored names; strings are borrowed, NULL = unknown. */
struct eve_flow {
	const char *uid;         /* flow_id is a hash of it (same for both events) */
	double ts_start, ts_end; /* epoch seconds */
	const char *proto;       /* tcp, udp, icmp, icmp6, or a protocol number */
	const char *orig_addr, *resp_addr;
	int orig_port, resp_port;   /* ICMP: type, and code or the paired type */
	int vlan;                   /* 0 = untagged */
	const char *app_proto;      /* nDPI name */
	const char *app_confidence; /* app_proto is reported only when "dpi" */
	const char *community_id;
	int64_t orig_pkts, resp_pkts, orig_ip_bytes, resp_ip_bytes;
	const char *conn_state, *end_reason, *direction;
	const char *rule_id; /* NULL when no rule matched */
	int rule_row;        /* row of Cisco's table, 0 = none */
	const char *verdict, *reason, *server_name;
};

/* Write f's events to out, one per line. Returns the number written (1, or
 * 2 with an alert), or -1 when out of memory or out failed. */
int eve_write(FILE *out, const struct eve_flow *f);

/* ---- a file that `read --eve` and `live --eve` append to ---------------- */

struct flow_record;
struct verdict_result;
struct eve_sink;

/* Open path for appending (created if missing); NULL with err. */
struct eve_sink *eve_sink_open(const char *path, char *err, size_t errlen);

/* Close and open the path again (after log rotation: SIGHUP). On failure
 * the old file stays in use; returns 0 or -1 with err. */
int eve_sink_reopen(struct eve_sink *s, char *err, size_t errlen);

/* Append the flow event of an ended flow r judged v (any thread). */
void eve_sink_flow(struct eve_sink *s, const struct flow_record *r, const struct verdict_result *v);

/* Append the alert event of r when v is not expected (any thread): called
 * when the alert fires, so its flow counters are those of that moment. */
void eve_sink_alert(struct eve_sink *s, const struct flow_record *r,
                    const struct verdict_result *v);

/* Events that could not be written so far. */
uint64_t eve_sink_errors(struct eve_sink *s);

/* Close; safe with NULL. */
void eve_sink_close(struct eve_sink *s);

#endif
