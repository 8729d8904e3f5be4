/* alert.h: live alert lines a person and a SIEM can live with.
 *
 * One line per non-expected flow as soon as it is known (with the flow's
 * uid, to find it in the database, and its Community ID, to find it in Zeek
 * or Suricata logs), on a stream (stdout) and optionally syslog (the lines
 * of syslog(3): datagrams, or NUL-framed on a stream socket where the
 * daemon listens on one; sent without ever waiting for the daemon: lines
 * it refuses are queued, beyond a bound dropped, counted, said on stderr
 * and told to it later). The same (verdict, rule, peer, service port) is
 * announced once per interval; the rest are counted and summarised in one
 * line when the interval is over ("... N more like it in the last 1h").
 * A stream that closes (EPIPE: `| head`) ends the lines on it with one
 * warning on stderr; nothing else stops. Not thread-safe: one thread (the
 * packet thread) calls everything. Memory is a fixed table of keys. */
#ifndef SMAUDIT_ALERT_H
#define SMAUDIT_ALERT_H

#include <stdint.h>
#include <stdio.h>

#include "smaudit/record.h"
#include "smaudit/verdict.h"

struct alert_cfg {
	FILE *out;               /* alert lines, or NULL */
	int syslog_facility;     /* LOG_DAEMON, LOG_LOCAL0, ...; -1 = no syslog */
	const char *syslog_path; /* the syslog daemon's socket; NULL = /dev/log */
	uint64_t interval_us;    /* suppression window; 0 = announce every flow */
};

struct alerts;

/* New alert sink (connects to /dev/log when asked); NULL when out of memory. */
struct alerts *alert_new(const struct alert_cfg *cfg);

/* Announce flow r judged v at wall time now_us, or count it when a flow
 * like it was announced less than an interval ago. */
void alert_flow(struct alerts *a, const struct flow_record *r, const struct verdict_result *v,
                uint64_t now_us);

/* Print the summary of every window that is over at now_us, and say the
 * syslog lines lost since the last call (once a second). */
void alert_tick(struct alerts *a, uint64_t now_us);

/* Print the summaries of every window still open, and give syslog up to 2 s
 * to take the lines still queued for it (at the end of a run). */
void alert_flush(struct alerts *a, uint64_t now_us);

/* Write a warning (drops, reloads) to stderr and, with syslog, there too. */
void alert_warn(struct alerts *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The syslog facility named s ("daemon", "local0".."local7", "user", ...);
 * -1 when unknown. */
int alert_facility(const char *s);

/* Lines written and flows counted instead of announced. */
uint64_t alert_lines(const struct alerts *a);
uint64_t alert_suppressed(const struct alerts *a);

/* Syslog lines dropped because the daemon did not keep up (refused) and
 * because none could be reached (unsent); 0 without syslog. */
void alert_syslog_lost(const struct alerts *a, uint64_t *refused, uint64_t *unsent);

/* Close syslog and free; safe with NULL. Lines still queued for syslog are
 * not sent, and the daemon is not told of lines lost: alert_flush does both
 * (call it first at the end of a run). */
void alert_free(struct alerts *a);

#endif
