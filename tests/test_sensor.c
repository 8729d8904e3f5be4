/* test_sensor.c: `smaudit live` as a long-running sensor, on real
 * interfaces with real signals. Each test makes its own network namespace
 * (named after the test process) with a veth pair sa0 <-> sb0 (MTU 65535,
 * IPv6 off), starts smaudit live on sb0 inside it, and replays shipped
 * captures into sa0 with tcpreplay; nothing leaves the namespace. Every
 * smaudit run is bounded by --duration and killed in teardown. Needs root,
 * ip (iproute2) and tcpreplay; skipped without them. The expected verdicts
 * are pcaps/demo.verdicts (made without smaudit). The syslog tests also run
 * smaudit in a mount namespace whose /dev/log is a socket the test reads. */
#define _GNU_SOURCE /* pipe2 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <regex.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define DEMO_PKTS  488          /* packets in pcaps/demo.pcap (capinfos) */
#define DEMO_FLOWS 30           /* lines of pcaps/demo.verdicts */
#define LIVE_EXTRA " -Z nobody" /* options of the combined scenario */

static char dir[64], db[128], ns[32];
static const char *live_prefix = ""; /* shell words before smaudit runs (limits) */
static const char *live_wrap = "";   /* a command smaudit runs under (a mount namespace) */
static const char *live_rules = "--site rules/demo.site"; /* the matrix live loads */
static pid_t live_pid = -1, helper_pid = -1;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Run a shell command quietly; its exit status. */
static int sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return tu_run(NULL, 0, "%s", cmd);
}

static void setup(void)
{
	if (geteuid() != 0 || sh("command -v tcpreplay && command -v ip") != 0)
		return;
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/sensor.db", dir);
	snprintf(ns, sizeof(ns), "smsens%d", (int)getpid());
	cr_assert_eq(sh("ip netns add %s && ip -n %s link add sa0 type veth peer name sb0 && "
	                "ip -n %s link set sa0 mtu 65535 up && ip -n %s link set sb0 mtu 65535 up "
	                "&& ip netns exec %s sysctl -qw net.ipv6.conf.all.disable_ipv6=1 "
	                "net.ipv6.conf.default.disable_ipv6=1",
	                ns, ns, ns, ns, ns),
	             0, "cannot make namespace %s", ns);
}

static void teardown(void)
{
	if (live_pid > 0) {
		kill(live_pid, SIGKILL);
		waitpid(live_pid, NULL, 0);
	}
	if (helper_pid > 0) {
		kill(helper_pid, SIGKILL);
		waitpid(helper_pid, NULL, 0);
	}
	if (ns[0])
		sh("ip netns del %s", ns);
	if (dir[0])
		cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(sensor, .init = setup, .fini = teardown, .timeout = 90);

#define q1(sql) tu_q1(db, sql)

/* Like q1, for polling while smaudit writes: -1 on any error (the file
 * still being created, a lock), never a failure. */
static long long try_q1(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	if (sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		sqlite3_close(h);
		return -1;
	}
	sqlite3_busy_timeout(h, 1000);
	if (sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			v = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(h);
	return v;
}

/* q1 on the sensor's database with other attached as r. */
static long long q1_attached(const char *other, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	char att[256];
	long long v = -1;

	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(att, sizeof(att), "ATTACH '%s' AS r", other);
	cr_assert_eq(sqlite3_exec(h, att, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void wait_err(const char *s);

static void need_ns(void)
{
	if (!ns[0])
		cr_skip_test("needs root, ip and tcpreplay");
}

/* Start smaudit live on sb0 with extra options; its stdout goes to out_fd
 * (-1: dir/out), stderr to dir/err. Returns once the run row exists. */
static pid_t start_live(const char *extra, int out_fd)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char cmd[1024];
		if (out_fd >= 0) {
			dup2(out_fd, 1);
			close(out_fd);
		}
		snprintf(cmd, sizeof(cmd),
		         "%s exec %s ip netns exec %s " SMAUDIT_BIN " live -i sb0 %s "
		         "--db %s --buffer-size 32 %s %s 2>%s/err",
		         live_prefix, live_wrap, ns, live_rules, db, extra,
		         out_fd >= 0 ? "" : "> \"$0\"/out", dir);
		execl("/bin/sh", "sh", "-c", cmd, dir, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) {
		if (try_q1("SELECT count(*) FROM runs WHERE status='running'") == 1)
			return live_pid = pid;
		usleep(50000);
	}
	cr_assert_fail("smaudit live did not start");
	return pid;
}

/* Replay pcap loops times at pps packets/s into the namespace; 0 on success. */
static int replay(const char *pcap, int pps, int loops)
{
	return sh("ip netns exec %s tcpreplay -q -i sa0 -p %d -l %d %s", ns, pps, loops, pcap);
}

/* Wait for the live process; its exit status (128 + signal when killed). */
static int wait_live(void)
{
	int st;

	cr_assert_eq(waitpid(live_pid, &st, 0), live_pid);
	live_pid = -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Wait until the run has counted n packets (checkpoints save the counters). */
static void wait_packets(long long n)
{
	for (int i = 0; i < 400 && try_q1("SELECT packets FROM runs") < n; i++)
		usleep(50000);
}

/* The whole of dir/name (stderr, stdout) into buf. */
static const char *slurp(const char *name, char *buf, size_t len)
{
	char path[256];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	n = fread(buf, 1, len - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Occurrences of needle in hay. */
static int count_str(const char *hay, const char *needle)
{
	int n = 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

Test(sensor, closed_stdout_ends_alert_lines_not_the_audit)
{
	char err[8192], line[512];
	int fds[2], rc;
	FILE *rd;

	need_ns();
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0); /* the sensor keeps no read end */
	start_live("--duration 60 --checkpoint 1", fds[1]);
	close(fds[1]);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	rd = fdopen(fds[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), rd), "one alert line");
	fclose(rd); /* what `| head -n 1` does */
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(2 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	rc = wait_live();
	cr_assert_eq(rc, 0, "exit %d (141 = killed by SIGPIPE)", rc);
	slurp("err", err, sizeof(err));
	cr_assert_eq(count_str(err, "alert output closed"), 1, "%s", err);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND packets=976"), 1);
	cr_assert_geq(q1("SELECT flows FROM runs"), DEMO_FLOWS);
	cr_assert_eq(q1("SELECT flows FROM runs"), q1("SELECT count(*) FROM flows"));
}

Test(sensor, sigterm_writes_open_flows_with_reason_shutdown)
{
	need_ns();
	start_live("--duration 60 --checkpoint 1 --no-alerts", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND finished IS NOT "
	                "NULL AND error IS NULL"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows"), DEMO_FLOWS);
	/* UDP flows time out after 60 s: still open at SIGTERM */
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE proto='udp' AND end_reason='shutdown'"),
	             q1("SELECT count(*) FROM flows WHERE proto='udp'"));
	cr_assert_gt(q1("SELECT count(*) FROM flows WHERE proto='udp'"), 0);
	wait_err("warning: running as root; -Z USER"); /* no -Z here */
}

/* Write text to dir/name. */
static void put(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(text, f);
	fclose(f);
}

/* Wait until dir/err contains s. */
static void wait_err(const char *s)
{
	char err[8192];
	for (int i = 0; i < 200 && !strstr(slurp("err", err, sizeof(err)), s); i++)
		usleep(50000);
	cr_assert(strstr(err, s), "stderr lacks '%s':\n%s", s, err);
}

/* The demo's SMTP connection from the host to 127.0.0.66. */
#define SMTP_66 "SELECT count(*) FROM flows WHERE resp_addr='127.0.0.66' AND resp_port=25"

Test(sensor, sighup_reloads_the_site_and_a_bad_file_keeps_the_old_matrix)
{
	char opt[256];

	need_ns();
	/* mail is 127.0.0.66 at first: the demo's SMTP flow to .66 is expected */
	put("site", "host 127.0.0.10\nrole mail 127.0.0.66\n");
	snprintf(opt, sizeof(opt), "--duration 60 --checkpoint 1 --no-alerts --site %s/site", dir);
	start_live(opt, -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(DEMO_PKTS);

	put("site", "host 127.0.0.10\nrole mail 127.0.0.66\nrole nosuchrole 127.0.0.1\n");
	kill(live_pid, SIGHUP);
	wait_err("the rules in force stay");
	wait_err("site:3");

	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0); /* still the first matrix */
	/* flows are judged when they end (with the matrix then in force): wait
	 * for these to close (5 s after their FINs) */
	for (int i = 0; i < 300 && try_q1(SMTP_66 " AND end_reason='closed'") < 2; i++)
		usleep(50000);

	put("site", "host 127.0.0.10\nrole mail 127.0.0.23\n");
	kill(live_pid, SIGHUP);
	wait_err("rules reloaded");
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(3 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	cr_assert_eq(q1(SMTP_66 " AND verdict='expected'"), 2,
	             "two replays under the first matrix (the bad file changed nothing)");
	cr_assert_eq(q1(SMTP_66 " AND verdict='unexpected-peer'"), 1,
	             "the third under the reloaded one");
}

/* Flows of the demo to ports 22 and 80 (4 per replay), ended by their FINs. */
#define SSH_HTTP_CLOSED                                                                            \
	"SELECT count(*) FROM flows WHERE resp_port IN (22, 80) AND end_reason='closed'"

/* A reload that adds a rule (site file) and removes one (rules file): the
 * run's rules in run_rules are those of both sets, each marked with when a
 * reload put it in force or retired it, so `query coverage` for the run
 * shows the new rule with its flows, and the removed one with the flows it
 * matched before. Before, run_rules kept only the rules of the start. */
Test(sensor, a_reload_writes_the_new_rules_for_the_run_and_coverage_shows_them)
{
	char opt[256], out[8192];

	need_ns();
	cr_assert_eq(
	    sh("cp rules/socialminer.rules %s/r.rules && cp rules/demo.site %s/site", dir, dir), 0);
	snprintf(opt, sizeof(opt), "--rules %s/r.rules --site %s/site", dir, dir);
	live_rules = opt;
	start_live("--duration 60 --checkpoint 1 --no-alerts", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	for (int i = 0; i < 300 && try_q1(SSH_HTTP_CLOSED) < 4; i++) /* 5 s after the FINs */
		usleep(50000);
	cr_assert_eq(q1(SSH_HTTP_CLOSED), 4);

	cr_assert_eq(sh("grep -v '^rule http-in ' rules/socialminer.rules > %s/r.rules && "
	                "echo 'rule ssh-admin-in in tcp/22 from any row 0 app SSH \"SSH\"' >> "
	                "%s/site",
	                dir, dir),
	             0);
	kill(live_pid, SIGHUP);
	wait_err("rules reloaded");
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	for (int i = 0; i < 300 && try_q1(SSH_HTTP_CLOSED) < 8; i++)
		usleep(50000);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);

	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE resp_port=22 AND rule_id='ssh-admin-in' "
	                "AND verdict='expected'"),
	             1, "the second replay's SSH flow was judged by the reloaded rules");
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " query coverage --db %s --run last --format csv", db),
	             0, "%s", out);
	cr_assert(strstr(out, "\nssh-admin-in,,in,tcp,22,any,SSH,yes,1,1,"), "%s", out);
	cr_assert(strstr(out, "\nhttp-in,2,in,tcp,80,any,HTTP,yes,3,2,"),
	          "the removed rule keeps the flows it matched:\n%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE rule_id='ssh-admin-in' AND "
	                "in_force_from >= (SELECT started FROM runs) AND in_force_until IS NULL"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE rule_id='http-in' AND "
	                "in_force_from IS NULL AND in_force_until >= (SELECT started FROM runs)"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM run_rules WHERE in_force_from IS NULL AND "
	                "in_force_until IS NULL"),
	             q1("SELECT count(*) FROM run_rules") - 2, "the others stayed in force");
}

/* Run the python3 program prog as the helper process; returns once it has
 * created the file ready (what names it in the failure: who). */
static void start_helper(const char *prog, const char *ready, const char *who)
{
	helper_pid = fork();
	cr_assert_neq(helper_pid, -1);
	if (helper_pid == 0) {
		execlp("python3", "python3", "-c", prog, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(ready, F_OK) != 0; i++)
		usleep(50000);
	cr_assert_eq(access(ready, F_OK), 0, "%s did not start", who);
}

/* Hold the database's write lock for secs seconds in another process
 * (python3's sqlite3); returns once the lock is held. */
static void hold_write_lock(int secs)
{
	char flag[160], cmd[1024];

	snprintf(flag, sizeof(flag), "%s/locked", dir);
	snprintf(cmd, sizeof(cmd),
	         "import sqlite3, time\n"
	         "c = sqlite3.connect('%s', isolation_level=None, timeout=30)\n"
	         "c.execute('BEGIN IMMEDIATE')\n"
	         "open('%s', 'w').close()\n"
	         "time.sleep(%d)\n"
	         "c.execute('COMMIT')\n",
	         db, flag, secs);
	start_helper(cmd, flag, "the lock holder");
}

Test(sensor, second_sigint_exits_at_once)
{
	need_ns();
	start_live("--duration 60 --checkpoint 1 --no-alerts", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(DEMO_PKTS);
	/* the final commit waits for the lock: the second SIGINT comes meanwhile */
	hold_write_lock(30);
	kill(live_pid, SIGINT);
	usleep(500000);
	kill(live_pid, SIGINT);
	cr_assert_eq(wait_live(), 130);
	wait_err("second interrupt");
	kill(helper_pid, SIGKILL);
	waitpid(helper_pid, NULL, 0);
	helper_pid = -1;
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete'"), 0,
	             "the run did not get to end");
}

Test(sensor, a_burst_into_a_stopped_sensor_is_held_by_the_ring)
{
	need_ns();
	start_live("--duration 60 --checkpoint 1 --no-alerts", -1);
	/* 20 x 488 packets arrive while the sensor is stopped: the TPACKET_V3 ring
	 * holds them (immediate mode held 256 frames and dropped the rest) */
	kill(live_pid, SIGSTOP);
	cr_assert_eq(replay("pcaps/demo.pcap", 20000, 20), 0);
	kill(live_pid, SIGCONT);
	wait_packets(20 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	cr_assert_eq(q1("SELECT packets FROM runs"), 20 * DEMO_PKTS);
	cr_assert_eq(q1("SELECT dropped FROM runs"), 0);
}

Test(sensor, capture_options_are_checked)
{
	char out[4096];

	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN
	                    " live -i lo --host 127.0.0.10 --buffer-size 0 --db /dev/null"),
	             2, "%s", out);
	cr_assert(strstr(out, "--buffer-size"), "%s", out);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN
	                    " live -i lo --host 127.0.0.10 --snaplen 20 --db /dev/null"),
	             2, "%s", out);
	cr_assert(strstr(out, "--snaplen"), "%s", out);
}

Test(sensor, the_run_row_tells_the_truth_while_running_and_after_kill_9)
{
	char out[4096];
	int rc;

	need_ns();
	start_live("--duration 60 --checkpoint 1 --no-alerts", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(DEMO_PKTS);
	/* UDP flows stay open: checkpoint rows exist and are counted */
	for (int i = 0; i < 100 && try_q1("SELECT flows FROM runs") != DEMO_FLOWS; i++)
		usleep(50000);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='running' AND finished IS NULL AND "
	                "heartbeat IS NOT NULL AND hostname IS NOT NULL"),
	             1);
	cr_assert_eq(q1("SELECT pid FROM runs"), live_pid);
	cr_assert_gt(q1("SELECT count(*) FROM flows WHERE end_reason='checkpoint'"), 0);
	cr_assert_eq(q1("SELECT flows FROM runs"), q1("SELECT count(*) FROM flows"),
	             "runs.flows counts the checkpoint rows");

	kill(live_pid, SIGKILL);
	cr_assert_eq(wait_live(), 128 + SIGKILL);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='running'"), 1);
	/* the next smaudit that writes the database notices */
	rc = tu_run(out, sizeof(out),
	            SMAUDIT_BIN " read -q --site rules/demo.site --db %s pcaps/demo.pcap", db);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "marked 'interrupted'"), "%s", out);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE id=1 AND status='interrupted' AND "
	                "finished = heartbeat AND error LIKE '%killed%'"),
	             1);
	cr_assert_eq(q1("SELECT flows FROM runs WHERE id=1"),
	             q1("SELECT count(*) FROM flows WHERE run_id=1"));
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE id=2 AND status='complete'"), 1);
}

Test(sensor, kernel_drops_are_warned_counted_and_summarised)
{
	char err[8192], *p;
	long long pkts, drops;

	need_ns();
	/* a 1 MiB ring and a stopped sensor: 40 x 488 packets cannot all fit */
	start_live("--duration 60 --checkpoint 1 --no-alerts --buffer-size 1", -1);
	kill(live_pid, SIGSTOP);
	cr_assert_eq(replay("pcaps/demo.pcap", 20000, 40), 0);
	kill(live_pid, SIGCONT);
	wait_err("the capture dropped");
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	pkts = q1("SELECT packets FROM runs");
	drops = q1("SELECT dropped FROM runs");
	cr_assert_gt(drops, 0);
	/* (the veth's own backlog may drop too, before the capture sees them) */
	cr_assert_leq(pkts + drops, 40 * DEMO_PKTS, "%lld + %lld", pkts, drops);
	slurp("err", err, sizeof(err));
	p = strstr(err, "  the capture dropped ");
	cr_assert_not_null(p, "the stop summary states the drops:\n%s", err);
	cr_assert_eq(strtoll(p + 22, NULL, 10), drops, "%s", err);
}

/* Occurrences of s in dir/out (stdout), read line by line: any size. */
static int out_lines(const char *s)
{
	char path[256], line[4096];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/out", dir);
	f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof(line), f))
		n += count_str(line, s);
	fclose(f);
	return n;
}

Test(sensor, a_protocol_mismatch_is_announced_when_dpi_concludes_not_at_the_end)
{
	char open_pcap[160], out[16384], *p;
	int n = 0;

	need_ns();
	/* mismatch.pcap without its FIN and RST packets: the flows stay open */
	snprintf(open_pcap, sizeof(open_pcap), "%s/open.pcap", dir);
	cr_assert_eq(sh("tshark -r pcaps/mismatch.pcap -Y 'not (tcp.flags.fin==1 or "
	                "tcp.flags.reset==1)' -w %s",
	                open_pcap),
	             0);
	start_live("--duration 60", -1);
	cr_assert_eq(replay(open_pcap, 2000, 1), 0);
	for (int i = 0; i < 200 && out_lines(" protocol-mismatch ") < 3; i++)
		usleep(50000);
	cr_assert_eq(out_lines(" protocol-mismatch "), 3, "%s", slurp("out", out, sizeof(out)));
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	/* each line's uid is a flow that was still open when it was announced */
	slurp("out", out, sizeof(out));
	for (p = strtok(out, "\n"); p; p = strtok(NULL, "\n")) {
		char uid[32] = "", sql[256], *u = strstr(p, " uid ");
		if (!strstr(p, " protocol-mismatch ") || !u)
			continue; /* the findings after the stop */
		sscanf(u, " uid %31[^:]", uid);
		snprintf(
		    sql, sizeof(sql),
		    "SELECT count(*) FROM flows WHERE uid='%s' AND verdict='protocol-mismatch' "
		    "AND end_reason='shutdown'",
		    uid);
		cr_assert_eq(q1(sql), 1, "%s", sql);
		n++;
	}
	cr_assert_eq(n, 3);
}

/* A sensor with alerts and options extra sees pcaps/demo.pcap 3 times, then stops. */
static void demo_3_times(const char *extra)
{
	char opt[256];

	snprintf(opt, sizeof(opt), "--duration 60 --checkpoint 1 %s", extra);
	start_live(opt, -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 3), 0);
	wait_packets(3 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
}

Test(sensor, the_same_alert_is_announced_once_per_interval_then_summarised)
{
	long long keys, flows, more = 0;
	char out[65536], *p;

	need_ns();
	demo_3_times("");
	keys = q1("SELECT count(*) FROM (SELECT DISTINCT verdict, ifnull(rule_id, '-'), "
	          "peer_addr, CASE WHEN proto='icmp' THEN orig_port ELSE resp_port END FROM flows "
	          "WHERE verdict != 'expected')");
	flows = q1("SELECT count(*) FROM flows WHERE verdict != 'expected'");
	cr_assert_gt(flows, keys, "the replays repeat flows");
	cr_assert_eq(out_lines(" uid "), keys, "one line per (verdict, rule, peer, port)");
	/* the summaries count every other flow */
	slurp("out", out, sizeof(out));
	for (p = out; (p = strstr(p, ": ... ")); p++)
		more += strtoll(p + 6, NULL, 10);
	cr_assert_eq(more + keys, flows, "%s", out);
	cr_assert_geq(out_lines("more like it in the last"), 1);
}

Test(sensor, alert_interval_0_announces_every_flow)
{
	need_ns();
	demo_3_times("--alert-interval 0");
	cr_assert_eq(out_lines(" uid "),
	             q1("SELECT count(*) FROM flows WHERE verdict != 'expected'"));
	cr_assert_eq(out_lines("more like it"), 0);
}

/* The live database holds the same (flow, verdict) pairs as `read` on
 * pcaps/demo.pcap (replays repeat its flows: compared as sets). */
static void same_verdicts_as_read(void)
{
	static const char *cols = "proto, orig_addr, orig_port, resp_addr, resp_port, verdict, "
	                          "rule_id";
	char out[4096], rdb[160], sql[512];

	snprintf(rdb, sizeof(rdb), "%s/read.db", dir);
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " read -q --site rules/demo.site --db %s pcaps/demo.pcap",
	                    rdb),
	             0, "%s", out);
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM (SELECT %s FROM flows EXCEPT SELECT %s FROM r.flows)", cols,
	         cols);
	cr_assert_eq(q1_attached(rdb, sql), 0, "live has verdicts read has not");
	snprintf(sql, sizeof(sql),
	         "SELECT count(*) FROM (SELECT %s FROM r.flows EXCEPT SELECT %s FROM flows)", cols,
	         cols);
	cr_assert_eq(q1_attached(rdb, sql), 0, "read has verdicts live has not");
}

/* The first number after field (e.g. "Uid:", "CapEff:") in /proc/pid/status,
 * read as base (10 or 16); -1 when absent. */
static long long proc_field(pid_t pid, const char *field, int base)
{
	char path[64], line[256];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			v = strtoll(line + strlen(field), NULL, base);
	fclose(f);
	return v;
}

/* Replay in the background; returns the replaying process. */
static pid_t replay_bg(const char *pcap, int pps, int loops)
{
	pid_t pid = fork();

	cr_assert_neq(pid, -1);
	if (pid == 0)
		_exit(replay(pcap, pps, loops) == 0 ? 0 : 1);
	return pid;
}

/* The scenario: a capture replayed 40 times at 2,000 packets/s while
 * another process holds the database's write lock for 10 s, stdout read for
 * one line and closed (`| head -n 1`), a SIGHUP in the middle: exit 0, no
 * drop, every packet counted, the verdicts of `read` on the same file. */
Test(sensor, a_locked_database_a_closed_stdout_and_a_reload_lose_nothing, .timeout = 120)
{
	char line[512], out[4096], rules_opt[256];
	int fds[2], st;
	pid_t rp;
	FILE *rd;

	need_ns();
	/* under -Z nobody the SIGHUP reload reads the rules as nobody: give it
	 * copies it may read, wherever the repository was cloned (a clone in a
	 * 0700 directory is out of nobody's reach) */
	cr_assert_eq(sh("mkdir -m 755 %s/pub && cp rules/socialminer.rules rules/demo.site %s/pub "
	                "&& chmod 711 %s",
	                dir, dir, dir),
	             0);
	snprintf(rules_opt, sizeof(rules_opt),
	         "--rules %s/pub/socialminer.rules --site %s/pub/demo.site", dir, dir);
	live_rules = rules_opt;
	cr_assert_eq(pipe2(fds, O_CLOEXEC), 0);
	start_live("--duration 100 --checkpoint 1" LIVE_EXTRA, fds[1]);
	close(fds[1]);
	rp = replay_bg("pcaps/demo.pcap", 2000, 40);
	/* -Z nobody: no root, no capability left, the database 0640 */
	for (int i = 0; i < 100 && proc_field(live_pid, "Uid:", 10) == 0; i++)
		usleep(20000);
	cr_assert_eq(proc_field(live_pid, "Uid:", 10), 65534);
	cr_assert_eq(proc_field(live_pid, "CapEff:", 16), 0);
	cr_assert_eq(proc_field(live_pid, "CapPrm:", 16), 0);
	{
		struct stat sb;
		cr_assert_eq(stat(db, &sb), 0);
		cr_assert_eq(sb.st_mode & 0777, 0640, "%o", sb.st_mode & 0777);
	}
	rd = fdopen(fds[0], "r");
	cr_assert_not_null(fgets(line, sizeof(line), rd), "one alert line");
	fclose(rd);
	sleep(1);
	hold_write_lock(10);
	sleep(3);
	kill(live_pid, SIGHUP);
	cr_assert_eq(waitpid(rp, &st, 0), rp);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "tcpreplay failed");
	cr_assert_eq(waitpid(helper_pid, &st, 0), helper_pid);
	helper_pid = -1;
	wait_packets(40 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0, "%s", slurp("err", out, sizeof(out)));
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND error IS NULL"), 1);
	cr_assert_eq(q1("SELECT dropped FROM runs"), 0);
	cr_assert_eq(q1("SELECT packets FROM runs"), 40 * DEMO_PKTS);
	cr_assert_eq(q1("SELECT flows FROM runs"), q1("SELECT count(*) FROM flows"));
	slurp("err", out, sizeof(out));
	cr_assert(strstr(out, "rules reloaded"), "%s", out);
	cr_assert_eq(q1("SELECT sum(flows) FROM flow_rollup"), q1("SELECT count(*) FROM flows"),
	             "checkpoint rows replaced, not added, in the roll-up");

	same_verdicts_as_read();
}

Test(sensor, a_failing_database_holds_flows_and_stores_them_when_it_works_again)
{
	char cmd[128];

	need_ns();
	/* files may not grow past 450 KiB (sh counts 512-byte blocks): the schema
	 * and the run's row fit (about 375 KiB with 16 KiB pages), the WAL cannot
	 * take the flows' rows (the write fails, EFBIG; SIGXFSZ ignored); raising
	 * the limit frees it */
	live_prefix = "trap '' XFSZ; ulimit -S -f 900;";
	start_live("--duration 60 --checkpoint 1 --no-alerts", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 20), 0);
	wait_err("holding flows in memory, retrying every second");
	snprintf(cmd, sizeof(cmd), "prlimit --pid %d --fsize=unlimited:", (int)live_pid);
	cr_assert_eq(sh("%s", cmd), 0);
	wait_err("the database works again");
	wait_packets(20 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND error IS NULL"), 1);
	cr_assert_eq(q1("SELECT flows FROM runs"), q1("SELECT count(*) FROM flows"),
	             "counters are rows really stored");
	cr_assert_eq(q1("SELECT packets FROM runs"), 20 * DEMO_PKTS);
	cr_assert_eq(q1("SELECT sum(flows) FROM flow_rollup"), q1("SELECT count(*) FROM flows"),
	             "the per-hour roll-up counts the rows written again once each");
	same_verdicts_as_read();
}

#define MANY_FLOWS 10000 /* one-packet UDP flows of tests/gen/manyflows.py */

/* The database stays locked while more flows end than the writer may hold
 * (--max-flows 100: the table evicts; the writer holds at most 4,096 queued
 * beside its batch and transaction): capture goes on, the oldest held flows
 * are counted as lost and said so at once, and every flow ended is either
 * stored or counted lost. Before, the packet thread waited for room. */
Test(sensor, flows_beyond_what_may_be_held_are_counted_lost_and_capture_goes_on)
{
	char cap[160], err[16384], *p;
	long long stored, lost;
	int st;

	need_ns();
	snprintf(cap, sizeof(cap), "%s/many.pcap", dir);
	cr_assert_eq(sh("python3 tests/gen/manyflows.py %d %s", MANY_FLOWS, cap), 0);
	start_live("--duration 80 --checkpoint 1 --no-alerts --max-flows 100", -1);
	hold_write_lock(15);
	cr_assert_eq(replay(cap, 5000, 1), 0);
	wait_err(" ended flows lost (");
	cr_assert_eq(waitpid(helper_pid, &st, WNOHANG), 0,
	             "the loss is announced while the database is still locked");
	cr_assert_eq(waitpid(helper_pid, &st, 0), helper_pid);
	helper_pid = -1;
	wait_packets(MANY_FLOWS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0, "%s", slurp("err", err, sizeof(err)));
	stored = q1("SELECT flows FROM runs");
	lost = q1("SELECT flows_lost FROM runs");
	cr_assert_gt(lost, 0);
	cr_assert_eq(stored + lost, MANY_FLOWS, "stored %lld + lost %lld", stored, lost);
	cr_assert_eq(stored, q1("SELECT count(*) FROM flows"), "counters are rows really stored");
	cr_assert_eq(q1("SELECT packets FROM runs"), MANY_FLOWS);
	cr_assert_eq(q1("SELECT dropped FROM runs"), 0, "no packet lost to waiting");
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND error LIKE "
	                "'%ended flows lost%'"),
	             1);
	slurp("err", err, sizeof(err));
	p = strstr(err, "  flows lost: ");
	cr_assert_not_null(p, "the stop summary states the loss:\n%s", err);
	cr_assert_eq(strtoll(p + 14, NULL, 10), lost, "%s", err);
}

Test(sensor, retain_prunes_old_flows_at_checkpoints)
{
	char out[4096];

	need_ns();
	/* an earlier run whose flows are very old */
	cr_assert_eq(tu_run(out, sizeof(out),
	                    SMAUDIT_BIN " read -q --site rules/demo.site --db %s pcaps/demo.pcap",
	                    db),
	             0, "%s", out);
	cr_assert_eq(sh("sqlite3 %s 'UPDATE flows SET ts_start = 1000, ts_end = 1001'", db), 0);
	live_pid = fork();
	cr_assert_neq(live_pid, -1);
	if (live_pid == 0) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd),
		         "exec ip netns exec %s " SMAUDIT_BIN " live -i sb0 --site rules/demo.site "
		         "--db %s --buffer-size 8 --checkpoint 1 --retain 1 --duration 60 "
		         "--no-alerts 2>/dev/null",
		         ns, db);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200 && try_q1("SELECT pruned FROM runs WHERE id=1") != DEMO_FLOWS; i++)
		usleep(50000);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE run_id=1"), 0);
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE id=1 AND flows=30 AND pruned=30"), 1);
}

Test(sensor, an_interface_down_or_gone_is_a_recorded_gap_and_capture_resumes)
{
	char err[8192];

	need_ns();
	start_live("--duration 80 --checkpoint 1 --no-alerts", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(DEMO_PKTS);
	cr_assert_eq(sh("ip -n %s link set sb0 down", ns), 0);
	wait_err("sb0 went down at ");
	cr_assert_eq(sh("ip -n %s link set sb0 up", ns), 0);
	wait_err("recorded)");
	cr_assert_eq(sh("ip -n %s link del sa0", ns), 0); /* sb0 goes with it */
	wait_err("sb0 disappeared at ");
	cr_assert_eq(sh("ip -n %s link add sa0 type veth peer name sb0 && ip -n %s link set sa0 "
	                "mtu 65535 up && ip -n %s link set sb0 mtu 65535 up",
	                ns, ns, ns),
	             0);
	for (int i = 0; i < 200 && count_str(slurp("err", err, sizeof(err)), "recorded)") < 2; i++)
		usleep(50000);
	cr_assert_eq(count_str(err, "capture resumed"), 2, "%s", err);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(2 * DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0, "the run did not end with the interface");
	cr_assert_eq(
	    q1("SELECT count(*) FROM runs WHERE status='complete' AND gaps LIKE '%Z down%' "
	       "AND gaps LIKE '%Z gone'"),
	    1);
	cr_assert_eq(q1("SELECT packets FROM runs"), 2 * DEMO_PKTS, "packets before and after");
}

/* A syslog daemon of the test's own: python3 receives the datagrams of a
 * unix socket at dir/log into dir/syslog (one per line), and smaudit runs in
 * a mount namespace where /dev is an overlay of the real one with that
 * socket bound onto /dev/log (this machine has no syslog daemon; nothing
 * outside the namespace sees the change). Returns once it listens. */
static void syslog_listen(void)
{
	static char wrap[512];
	char ready[160], cmd[512];

	snprintf(ready, sizeof(ready), "%s/log.ready", dir);
	snprintf(cmd, sizeof(cmd),
	         "import socket\n"
	         "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)\n"
	         "s.bind('%s/log')\n"
	         "open('%s', 'w').close()\n"
	         "f = open('%s/syslog', 'ab', buffering=0)\n"
	         "while True:\n"
	         "    f.write(s.recv(65536) + b'\\n')\n",
	         dir, ready, dir);
	start_helper(cmd, ready, "the syslog listener");
	cr_assert_eq(sh("mkdir %s/up %s/work", dir, dir), 0);
	snprintf(wrap, sizeof(wrap),
	         "unshare -m sh -c 'mount -t overlay overlay -o lowerdir=/dev,upperdir=%s/up,"
	         "workdir=%s/work /dev && touch /dev/log && mount --bind %s/log /dev/log && "
	         "exec \"$@\"' sh",
	         dir, dir, dir);
	if (sh("%s true", wrap) != 0)
		cr_skip_test("needs mount namespaces and overlayfs (unshare -m)");
	live_wrap = wrap;
}

static int syslog_lines(const char *pri, const char *s);

/* Wait until the listener has written every datagram sent so far: a
 * marker of our own, queued behind them, reaches dir/syslog. */
static void syslog_settle(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	static const char mark[] = "test: settled";
	int fd = socket(AF_UNIX, SOCK_DGRAM, 0), before = syslog_lines(NULL, mark), n = 0;

	cr_assert_geq(fd, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/log", dir);
	cr_assert_eq(sendto(fd, mark, sizeof(mark) - 1, 0, (struct sockaddr *)&sa, sizeof(sa)),
	             (ssize_t)sizeof(mark) - 1);
	close(fd);
	for (int i = 0; i < 200 && (n = syslog_lines(NULL, mark)) == before; i++)
		usleep(50000);
	cr_assert_eq(n, before + 1, "the syslog listener is stuck");
}

/* Lines of dir/syslog that contain s (and, if pri is not NULL, start with it). */
static int syslog_lines(const char *pri, const char *s)
{
	char path[160], line[1024];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/syslog", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strstr(line, s) && (!pri || !strncmp(line, pri, strlen(pri)));
	fclose(f);
	return n;
}

/* Every alert line that reached syslog (tagged smaudit[pid], priority pri)
 * names a flow of the database by its uid; returns how many there were. */
static int syslog_alerts_name_flows(const char *pri, pid_t pid)
{
	char path[160], line[1024], tag[48];
	regex_t hdr;
	int n = 0;
	FILE *f;

	/* what glibc's syslog(3) writes: RFC 3164's <PRI>Mmm dd hh:mm:ss TAG[PID]: */
	cr_assert_eq(regcomp(&hdr,
	                     "^<[0-9]+>[A-Z][a-z]{2} [ 1-3][0-9] [0-2][0-9]:[0-5][0-9]:[0-5][0-9] "
	                     "smaudit\\[[0-9]+\\]: [^ ]",
	                     REG_EXTENDED | REG_NOSUB),
	             0);
	snprintf(path, sizeof(path), "%s/syslog", dir);
	snprintf(tag, sizeof(tag), " smaudit[%d]: ", (int)pid);
	syslog_settle();
	f = fopen(path, "r");
	cr_assert_not_null(f, "nothing reached syslog");
	while (fgets(line, sizeof(line), f)) {
		char uid[32] = "", sql[160], *u = strstr(line, " uid ");
		if (strstr(line, tag))
			cr_assert_eq(regexec(&hdr, line, 0, NULL, 0), 0, "not RFC 3164: %s", line);
		if (!u)
			continue;
		cr_assert(!strncmp(line, pri, strlen(pri)) && strstr(line, tag), "%s", line);
		cr_assert_eq(sscanf(u, " uid %31[^:]", uid), 1, "%s", line);
		snprintf(sql, sizeof(sql), "SELECT count(*) FROM flows WHERE uid='%s'", uid);
		cr_assert_eq(q1(sql), 1, "%s", line);
		n++;
	}
	fclose(f);
	regfree(&hdr);
	return n;
}

Test(sensor, syslog_gets_the_alerts_and_the_drop_warning_with_the_facility_asked)
{
	char tag[64];
	pid_t pid;

	need_ns();
	syslog_listen();
	/* a 1 MiB ring and a stopped sensor: drops, as in the test above */
	pid = start_live("--duration 60 --checkpoint 1 --syslog local3 --buffer-size 1", -1);
	kill(live_pid, SIGSTOP);
	cr_assert_eq(replay("pcaps/demo.pcap", 20000, 40), 0);
	kill(live_pid, SIGCONT);
	wait_err("the capture dropped");
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	cr_assert_eq(sh("test -e /dev/log"), 1, "the host's /dev is untouched");
	/* local3.warning: <19 * 8 + 4> */
	cr_assert_geq(syslog_alerts_name_flows("<156>", pid), 1);
	cr_assert_eq(syslog_alerts_name_flows("<156>", pid), out_lines(" uid "),
	             "every alert line of stdout is in syslog");
	snprintf(tag, sizeof(tag), " smaudit[%d]: the capture dropped ", (int)pid);
	cr_assert_geq(syslog_lines("<156>", tag), 1, "the drop warning reached syslog");
}

Test(sensor, syslog_without_a_facility_is_daemon)
{
	pid_t pid;

	need_ns();
	syslog_listen();
	pid = start_live("--duration 60 --checkpoint 1 --syslog --alert-interval 0", -1);
	cr_assert_eq(replay("pcaps/demo.pcap", 2000, 1), 0);
	wait_packets(DEMO_PKTS);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0);
	/* daemon.warning: <3 * 8 + 4>; with --alert-interval 0 a line per flow */
	cr_assert_eq(syslog_alerts_name_flows("<28>", pid),
	             q1("SELECT count(*) FROM flows WHERE verdict != 'expected'"));
	cr_assert_eq(syslog_lines(NULL, "<156>"), 0);
}

#define SCAN_FLOWS 2000 /* one-packet UDP flows to port 53 no rule allows */

/* The sum of N over the lines "N syslog lines dropped" smaudit pid sent. */
static long long syslog_dropped_said(pid_t pid)
{
	char path[160], line[1024], tag[48], *p;
	long long n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "%s/syslog", dir);
	snprintf(tag, sizeof(tag), " smaudit[%d]: ", (int)pid);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof(line), f))
		if ((p = strstr(line, tag)) &&
		    strstr(line, " syslog lines dropped: the syslog daemon did not keep up"))
			n += strtoll(p + strlen(tag), NULL, 10);
	fclose(f);
	return n;
}

/* A syslog daemon that stops reading fills its socket's queue (10
 * datagrams): the lines beyond are dropped and counted, never waited for,
 * so capture goes on; once the daemon reads again it is told how many it
 * missed. Before, glibc's syslog() blocked the packet thread in send(). */
Test(sensor, a_stopped_syslog_daemon_never_stalls_capture_and_hears_what_it_missed)
{
	char cap[160], err[16384];
	long long flows, said, heard;
	pid_t pid;

	need_ns();
	snprintf(cap, sizeof(cap), "%s/scan.pcap", dir);
	cr_assert_eq(sh("python3 tests/gen/manyflows.py %d %s", SCAN_FLOWS, cap), 0);
	syslog_listen();
	pid = start_live("--duration 60 --checkpoint 1 --syslog --alert-interval 0", -1);
	kill(helper_pid, SIGSTOP); /* the syslog daemon stops reading */
	cr_assert_eq(replay(cap, 5000, 1), 0);
	wait_packets(SCAN_FLOWS);
	cr_assert_eq(q1("SELECT packets FROM runs"), SCAN_FLOWS,
	             "capture went on while syslog did not read");
	wait_err(" syslog lines dropped (");
	kill(helper_pid, SIGCONT);
	for (int i = 0; i < 200 && syslog_dropped_said(pid) == 0; i++)
		usleep(50000);
	kill(live_pid, SIGTERM);
	cr_assert_eq(wait_live(), 0, "%s", slurp("err", err, sizeof(err)));
	cr_assert_eq(q1("SELECT packets FROM runs"), SCAN_FLOWS);
	cr_assert_eq(q1("SELECT dropped FROM runs"), 0);
	flows = q1("SELECT count(*) FROM flows WHERE verdict != 'expected'");
	cr_assert_eq(flows, SCAN_FLOWS, "every flow of the scan is an alert");
	cr_assert_eq(out_lines(" uid "), flows, "every alert line on stdout");
	heard = syslog_alerts_name_flows("<28>", pid);
	said = syslog_dropped_said(pid);
	cr_assert_gt(said, 0, "syslog was told it missed lines");
	cr_assert_eq(heard + said, flows, "syslog heard %lld, was told of %lld dropped", heard,
	             said);
	slurp("err", err, sizeof(err));
	cr_assert(strstr(err, "  syslog lines dropped: "), "the stop summary says so:\n%s", err);
	cr_assert_eq(strtoll(strstr(err, "  syslog lines dropped: ") + 23, NULL, 10), said, "%s",
	             err);
}
