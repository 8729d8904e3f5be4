/* test_alert.c: live alert lines to syslog, against a syslog daemon of the
 * test's own: a real AF_UNIX socket in a temporary directory (the path
 * alert_cfg.syslog_path names instead of /dev/log), read or left unread by
 * the test. Each test runs twice (BOTH): with a datagram socket, as most
 * daemons listen, and with a stream socket, as some syslog-ng setups do,
 * where glibc connects a stream instead and ends each line with a NUL. The
 * lines must be the ones glibc's syslog(3) writes (RFC 3164: <PRI>Mmm dd
 * hh:mm:ss smaudit[PID]: msg), whole and in order, must never wait for the
 * daemon (a daemon that does not read costs lines, counted and told to it,
 * not time: a blocking send would hang the test until its timeout), and
 * must reach a daemon that restarted or came late. */
#define _GNU_SOURCE /* accept4 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <regex.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

#include "smaudit/alert.h"
#include "testutil.h"

#define SENT 2000 /* lines sent to a daemon that does not read: far beyond any queue */

static char dir[64], path[96];
static int stype = SOCK_DGRAM; /* the daemon's socket type */
static int lsn = -1;           /* the daemon's socket */
static int conn = -1;          /* with SOCK_STREAM: the connection it accepted */
static char rx[8192];          /* with SOCK_STREAM: bytes read, not yet a line */
static size_t rx_len;

/* Bind the daemon's socket of stype at path (a new one; the old one and
 * its connection are closed), listening with backlog for a stream. */
static void listen_log_backlog(int backlog)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (conn >= 0)
		close(conn);
	if (lsn >= 0)
		close(lsn);
	conn = -1;
	rx_len = 0;
	unlink(path);
	lsn = socket(AF_UNIX, stype | SOCK_NONBLOCK, 0); /* accept never waits */
	cr_assert_geq(lsn, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	cr_assert_eq(bind(lsn, (struct sockaddr *)&sa, sizeof(sa)), 0, "%s", path);
	cr_assert(stype == SOCK_DGRAM || listen(lsn, backlog) == 0);
}

static void listen_log(void)
{
	listen_log_backlog(16);
}

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(path, sizeof(path), "%s/log", dir);
}

static void teardown(void)
{
	if (conn >= 0)
		close(conn);
	if (lsn >= 0)
		close(lsn);
	lsn = conn = -1;
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(alert, .init = setup, .fini = teardown, .timeout = 30);

/* A sink with syslog at path, facility fac, no stream. */
static struct alerts *sink(int fac)
{
	struct alert_cfg cfg = {.out = NULL, .syslog_facility = fac, .syslog_path = path};
	struct alerts *a = alert_new(&cfg);

	cr_assert_not_null(a);
	return a;
}

/* The next line on the stream up to its NUL, into buf (len >= rx); its
 * length, or -1 when no whole line is waiting. */
static ssize_t next_framed(char *buf)
{
	char *nul;
	ssize_t n;

	if (conn < 0 && (conn = accept4(lsn, NULL, NULL, SOCK_NONBLOCK)) < 0)
		return -1;
	while (!(nul = memchr(rx, '\0', rx_len))) {
		cr_assert_lt(rx_len, 1024, "1 KiB without a NUL: not a line");
		if ((n = recv(conn, rx + rx_len, sizeof(rx) - rx_len, MSG_DONTWAIT)) <= 0)
			return -1;
		rx_len += (size_t)n;
	}
	n = nul - rx;
	memcpy(buf, rx, (size_t)n + 1);
	rx_len -= (size_t)n + 1;
	memmove(rx, nul + 1, rx_len);
	return n;
}

/* The next line the daemon holds (a datagram, or NUL-framed on a stream)
 * into buf (NUL-terminated); its length, or -1 when none is waiting. */
static ssize_t next_line(char *buf, size_t len)
{
	ssize_t n;

	if (stype == SOCK_STREAM)
		return next_framed(buf);
	n = recv(lsn, buf, len - 1, MSG_DONTWAIT);
	buf[n < 0 ? 0 : n] = '\0';
	return n;
}

/* N of a line "line N", failing the test on anything else (such as a torn
 * line followed by another). */
static long line_no(const char *m)
{
	char *end;
	long k = strtol(m + 5, &end, 10);

	cr_assert(!strncmp(m, "line ", 5) && end > m + 5 && !*end, "not a whole line: %s", m);
	return k;
}

/* Test name runs with a datagram and with a stream socket. */
#define BOTH(name)                                                                                 \
	static void name(void);                                                                    \
	Test(alert, name##_dgram)                                                                  \
	{                                                                                          \
		stype = SOCK_DGRAM;                                                                \
		name();                                                                            \
	}                                                                                          \
	Test(alert, name##_stream)                                                                 \
	{                                                                                          \
		stype = SOCK_STREAM;                                                               \
		name();                                                                            \
	}                                                                                          \
	static void name(void)

/* msg of a line "<PRI>Mmm dd hh:mm:ss smaudit[PID]: msg" with pri and
 * this process's pid; fails the test on any other shape. */
static const char *msg_of(const char *line, int pri)
{
	char re_s[160];
	regmatch_t m;
	regex_t re;

	snprintf(
	    re_s, sizeof(re_s),
	    "^<%d>[A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] smaudit\\[%d\\]: ",
	    pri, (int)getpid());
	cr_assert_eq(regcomp(&re, re_s, REG_EXTENDED), 0);
	cr_assert_eq(regexec(&re, line, 1, &m, 0), 0, "not RFC 3164 with <%d>: %s", pri, line);
	regfree(&re);
	return line + m.rm_eo;
}

/* After the one-second pause between connects, msg sent to a daemon that
 * was unreachable for one line: it hears the count of that line, then msg. */
static void told_of_one_unsent_then(struct alerts *a, const char *msg)
{
	char line[1024];

	sleep(1);
	alert_warn(a, "%s", msg);
	cr_assert_gt(next_line(line, sizeof(line)), 0);
	cr_assert_str_eq(msg_of(line, LOG_DAEMON | LOG_WARNING),
	                 "1 syslog lines dropped: it could not be reached");
	cr_assert_gt(next_line(line, sizeof(line)), 0);
	cr_assert_str_eq(msg_of(line, LOG_DAEMON | LOG_WARNING), msg);
}

BOTH(syslog_lines_are_the_ones_glibc_writes)
{
	struct alerts *a;
	char line[1024];

	listen_log();
	a = sink(LOG_LOCAL3);
	alert_warn(a, "SIGHUP: rules reloaded (%d rules)", 12);
	cr_assert_gt(next_line(line, sizeof(line)), 0, "nothing reached the daemon");
	/* local3.warning = 19 * 8 + 4; no trailing newline, as glibc */
	cr_assert_str_eq(msg_of(line, 156), "SIGHUP: rules reloaded (12 rules)");
	cr_assert_lt(next_line(line, sizeof(line)), 0, "more than the line: %s", line);
	cr_assert_eq(rx_len, 0, "bytes after the line's NUL");
	alert_free(a);
}

BOTH(a_daemon_that_does_not_read_costs_lines_counted_and_told_not_time)
{
	uint64_t refused, unsent;
	long got = 0, last = -1, told = 0;
	struct alerts *a;
	char line[1024];

	cr_assert_not_null(freopen("/dev/null", "w", stderr)); /* a warning per line */
	listen_log();
	a = sink(LOG_DAEMON);
	for (int i = 0; i < SENT; i++)
		alert_warn(a, "line %d", i); /* a send that waited would hang here */
	alert_syslog_lost(a, &refused, &unsent);
	cr_assert_gt(refused, 0, "the daemon's queue and ours cannot hold %d lines", SENT);
	cr_assert_eq(unsent, 0);
	/* the daemon reads again: what waited in our queue comes, in order, then
	 * the count of what was dropped */
	for (int idle = 0; idle < 3;) {
		ssize_t n = next_line(line, sizeof(line));
		const char *m;
		if (n < 0) {
			alert_tick(a, 0); /* once a second in live */
			idle++;
			continue;
		}
		idle = 0;
		m = msg_of(line, LOG_DAEMON | LOG_WARNING);
		if (!strncmp(m, "line ", 5)) {
			long k = line_no(m);
			cr_assert_gt(k, last, "out of order: %s", m);
			cr_assert_eq(told, 0, "a line after the count: %s", m);
			last = k;
			got++;
		} else {
			cr_assert(
			    strstr(m, " syslog lines dropped: the syslog daemon did not keep up"),
			    "%s", m);
			told += strtol(m, NULL, 10);
		}
	}
	cr_assert_eq(told, (long)refused);
	cr_assert_eq(got + told, SENT, "heard %ld, told of %ld dropped", got, told);
	cr_assert_eq(last, got - 1, "the lines kept are the first ones, the newest dropped");
	alert_free(a);
}

BOTH(a_restarted_or_late_daemon_gets_the_lines)
{
	uint64_t refused, unsent;
	struct alerts *a;
	char line[1024];

	/* no daemon yet: the line is counted unsent */
	a = sink(LOG_DAEMON);
	alert_warn(a, "first");
	alert_syslog_lost(a, &refused, &unsent);
	cr_assert_eq(unsent, 1);
	/* it comes: after the one-second pause between connects, it is told */
	listen_log();
	told_of_one_unsent_then(a, "second");
	/* it restarts (a new socket at the same path: ECONNREFUSED on the old
	 * datagram connection, EPIPE on a stream): reconnected at once, the
	 * line sent again */
	listen_log();
	alert_warn(a, "third");
	cr_assert_gt(next_line(line, sizeof(line)), 0, "the line did not reach the new daemon");
	cr_assert_str_eq(msg_of(line, LOG_DAEMON | LOG_WARNING), "third");
	alert_syslog_lost(a, &refused, &unsent);
	cr_assert_eq(refused + unsent, 1);
	alert_free(a);
}

/* A daemon that reads again, one line every 0.2 ms, while the run ends. */
struct slow_daemon {
	volatile int done; /* alert_flush returned: read what is left, then stop */
	long got;          /* "line N" lines heard */
};

static void *slow_read(void *arg)
{
	struct slow_daemon *d = arg;
	char line[1024];

	for (;;) {
		if (next_line(line, sizeof(line)) < 0) {
			if (d->done)
				return NULL;
		} else if (!strncmp(msg_of(line, LOG_DAEMON | LOG_WARNING), "line ", 5)) {
			line_no(msg_of(line, LOG_DAEMON | LOG_WARNING));
			d->got++;
		}
		usleep(200);
	}
}

/* At the end the daemon gets up to 2 s (CFG_SYSLOG_DRAIN_MS) to take the
 * lines still queued: a daemon that takes a line every 0.2 ms takes all
 * 512 in about a tenth of a second (the rest is margin for a loaded machine). Before, the 2 s were
 * counted as 40 wake-ups of 50 ms, and a daemon that woke smaudit at each line it read cost the
 * queue after 40 lines, counted dropped. */
BOTH(the_flush_at_exit_waits_its_time_for_a_slow_daemon)
{
	struct slow_daemon d = {0};
	uint64_t refused, unsent, refused_after;
	struct alerts *a;
	pthread_t th;

	cr_assert_not_null(freopen("/dev/null", "w", stderr));
	listen_log();
	a = sink(LOG_DAEMON);
	for (int i = 0; i < SENT; i++)
		alert_warn(a, "line %d", i);
	alert_syslog_lost(a, &refused, &unsent);
	cr_assert_gt(refused, 0, "the queue is full");
	cr_assert_eq(pthread_create(&th, NULL, slow_read, &d), 0);
	alert_flush(a, 0);
	d.done = 1;
	pthread_join(th, NULL);
	alert_syslog_lost(a, &refused_after, &unsent);
	cr_assert_eq(refused_after, refused, "%llu queued lines dropped at the end",
	             (unsigned long long)(refused_after - refused));
	cr_assert_eq(d.got, SENT - (long)refused);
	alert_free(a);
}

/* Milliseconds of the monotonic clock. */
static int64_t ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* After a connect that failed, the next comes a second later, not at the
 * next tick of the wall clock's seconds (up to a second sooner: a failure
 * at hh:mm:ss.99 tried again 10 ms later), and a wall clock set back does
 * not hold it up. A daemon that appears right after the failure hears no
 * line before that second is over, and hears one soon after. */
BOTH(a_failed_connect_is_tried_again_a_second_later)
{
	struct alerts *a;
	char line[1024];
	int64_t t0 = ms_now(), heard = -1;

	cr_assert_not_null(freopen("/dev/null", "w", stderr));
	a = sink(LOG_DAEMON);
	alert_warn(a, "nobody"); /* the connect at open failed; so does this line */
	listen_log();
	while (heard < 0 && ms_now() - t0 < 10000) {
		alert_warn(a, "probe");
		if (next_line(line, sizeof(line)) > 0)
			heard = ms_now() - t0;
		usleep(10000);
	}
	cr_assert_geq(heard, 0, "no line reached the daemon in 10 s");
	cr_assert_geq(heard, 1000, "a connect %lld ms after the failed one", (long long)heard);
	alert_free(a);
}

/* A stream daemon that does not accept (its backlog full): connecting does
 * not wait for it either (a blocking socket waits in connect until the
 * test's timeout); the line is counted unsent, and once it accepts again a
 * second later, the lines reach it. */
Test(alert, a_stream_daemon_with_a_full_backlog_costs_a_line_not_time)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	uint64_t refused, unsent;
	int fill[8], nfill = 0;
	struct alerts *a;

	cr_assert_not_null(freopen("/dev/null", "w", stderr));
	stype = SOCK_STREAM;
	listen_log_backlog(0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (;; nfill++) { /* the test's own connections fill the backlog */
		cr_assert_lt(nfill, 8, "a backlog of 0 takes 8 connections");
		fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (connect(fill[nfill], (struct sockaddr *)&sa, sizeof(sa)) < 0)
			break;
	}
	cr_assert_eq(errno, EAGAIN);
	a = sink(LOG_DAEMON);
	alert_warn(a, "nobody accepts");
	alert_syslog_lost(a, &refused, &unsent);
	cr_assert_eq(unsent, 1);
	for (int i = 0; i <= nfill; i++) { /* it accepts again */
		int c = accept4(lsn, NULL, NULL, 0);
		if (c >= 0)
			close(c);
		close(fill[i]);
	}
	told_of_one_unsent_then(a, "accepted");
	alert_free(a);
}
