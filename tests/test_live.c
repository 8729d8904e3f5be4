/* test_live.c: `smaudit live` on the loopback interface: a real TCP
 * connection made by this test between 127.0.0.50 and a listener on
 * 127.0.0.10 is captured, judged and stored; --duration ends the run
 * cleanly and SIGTERM does too, with the flows committed. Needs the
 * capture privilege (root); skipped without it.
 *
 * Every `smaudit live` a test starts is bounded twice: it always runs with
 * --duration (LIVE_MAX_S unless the test gives a shorter one), and the
 * teardown ends and reaps it if the test did not, so a failing test never
 * leaves one behind holding the runner's output. Its stdout and stderr go
 * to files in the test's directory, never to the runner's pipe. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* The longest a live run started here may last, in seconds. */
#define LIVE_MAX_S 20

static char dir[64], db[128];
static pid_t live_pid; /* the running `smaudit live`, 0 when none */

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/live.db", dir);
	live_pid = 0;
}

/* End the live run if the test left it running (SIGTERM, then SIGKILL
 * after 5 s) and reap it. */
static void live_reap(void)
{
	int st, gone = 0;

	if (live_pid <= 0)
		return;
	if (waitpid(live_pid, &st, WNOHANG) == 0) {
		kill(live_pid, SIGTERM);
		for (int i = 0; i < 100 && !gone; i++) {
			gone = waitpid(live_pid, &st, WNOHANG) == live_pid;
			if (!gone)
				usleep(50000);
		}
		if (!gone) {
			kill(live_pid, SIGKILL);
			waitpid(live_pid, &st, 0);
		}
	}
	live_pid = 0;
}

static void teardown(void)
{
	live_reap();
	cr_assert_eq(tu_rmrf(dir), 0);
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 30);

#define q1(sql) tu_q1(db, sql)

/* What the live run wrote on stderr (for failure messages). */
static const char *live_stderr(void)
{
	static char buf[2048];
	char path[160];
	FILE *f;
	size_t n = 0;

	snprintf(path, sizeof(path), "%s/live.err", dir);
	f = fopen(path, "r");
	if (f) {
		n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

/* Wait for the live run to end by itself; its exit status. */
static int live_wait(void)
{
	int st;

	cr_assert_eq(waitpid(live_pid, &st, 0), live_pid);
	live_pid = 0;
	return st;
}

/* Start `smaudit live` on lo with extra options (and redirections) and
 * return once it is capturing: the capture is opened before the run row is
 * committed, so the row's presence is the readiness signal. Until then the
 * database may be missing, schema-less or locked: all mean "not yet". */
static void start_live(const char *extra)
{
	char cmd[1024], dur[32] = "";
	int st;

	if (!strstr(extra, "--duration"))
		snprintf(dur, sizeof(dur), "--duration %d", LIVE_MAX_S);
	snprintf(cmd, sizeof(cmd),
	         "exec " SMAUDIT_BIN " live -q -i lo --host 127.0.0.10 -f 'host 127.0.0.10' "
	         "--db %s %s >%s/live.out 2>%s/live.err %s",
	         db, dur, dir, dir, extra);
	live_pid = fork();
	cr_assert_neq(live_pid, -1);
	if (live_pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 200; i++) { /* 10 s */
		if (tu_q1_try(db, "SELECT count(*) FROM runs WHERE status='running'") == 1)
			return;
		if (waitpid(live_pid, &st, WNOHANG) == live_pid) {
			live_pid = 0;
			cr_assert_fail("smaudit live ended before it was ready (status %d): %s", st,
			               live_stderr());
		}
		usleep(50000);
	}
	cr_assert_fail("smaudit live was not ready after 10 s: %s", live_stderr());
}

struct conn {
	int ls, cs, as; /* listener, client side, accepted server side */
};

/* A real TCP connection from address from to a listener on to:port. */
static struct conn conn_open(const char *from, const char *to, uint16_t port)
{
	struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in cli = {.sin_family = AF_INET};
	struct conn c;
	int one = 1;

	inet_pton(AF_INET, to, &srv.sin_addr);
	inet_pton(AF_INET, from, &cli.sin_addr);
	c.ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(c.ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(c.ls, (struct sockaddr *)&srv, sizeof(srv)), 0);
	cr_assert_eq(listen(c.ls, 1), 0);
	c.cs = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(c.cs, (struct sockaddr *)&cli, sizeof(cli)), 0);
	cr_assert_eq(connect(c.cs, (struct sockaddr *)&srv, sizeof(srv)), 0);
	c.as = accept(c.ls, NULL, NULL);
	cr_assert_geq(c.as, 0);
	return c;
}

static void conn_close(struct conn *c)
{
	close(c->cs);
	close(c->as);
	close(c->ls);
}

/* One real connection 127.0.0.50 -> 127.0.0.10:port with a request and a reply. */
static void connect_once(uint16_t port)
{
	struct conn c = conn_open("127.0.0.50", "127.0.0.10", port);
	char buf[64];

	cr_assert_eq(write(c.cs, "POST /http-bind HTTP/1.1\r\n\r\n", 28), 28);
	cr_assert_gt(read(c.as, buf, sizeof(buf)), 0);
	cr_assert_eq(write(c.as, "HTTP/1.1 200 OK\r\n\r\n", 19), 19);
	cr_assert_gt(read(c.cs, buf, sizeof(buf)), 0);
	conn_close(&c);
}

Test(live, a_loopback_connection_is_captured_judged_and_stored)
{
	int st;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	start_live("--duration 3 --no-alerts");
	connect_once(7071);
	st = live_wait();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d: %s", st, live_stderr());
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE mode='live' AND source='lo' AND "
	                "status='complete' AND finished IS NOT NULL"),
	             1);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE orig_addr='127.0.0.50' AND "
	                "resp_addr='127.0.0.10' AND resp_port=7071 AND direction='in' AND "
	                "rule_id='bosh-in' AND verdict='expected' AND conn_state='SF' AND "
	                "orig_pkts >= 4"),
	             1);
}

Test(live, sigterm_ends_open_flows_and_commits)
{
	int st;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	start_live("--role cuic=127.0.0.22 --no-alerts");
	connect_once(1526);
	/* no pause: a clean stop still reads what the kernel captured before it */
	cr_assert_eq(kill(live_pid, SIGTERM), 0);
	st = live_wait();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d: %s", st, live_stderr());
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE resp_port=1526 AND "
	                "rule_id='reports-from-cuic' AND verdict='unexpected-peer' AND "
	                "end_reason IN ('closed','shutdown')"),
	             1, "127.0.0.50 is not the CUIC server 127.0.0.22");
}

/* Regression: the run row was committed before the signal handlers were
 * set, so a SIGTERM right after start killed live with the run left
 * 'running' (seen under make sanitize, where start-up is slower). */
Test(live, sigterm_right_after_start_is_a_clean_stop)
{
	int st;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	start_live("--no-alerts");
	cr_assert_eq(kill(live_pid, SIGTERM), 0);
	st = live_wait();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d: %s", st, live_stderr());
	cr_assert_eq(q1("SELECT count(*) FROM runs WHERE status='complete' AND finished IS NOT "
	                "NULL"),
	             1);
}

Test(live, long_lived_flows_are_checkpointed_and_alerts_come_at_once)
{
	char alerts[256], buf[512];
	struct conn c;
	int st;
	FILE *f;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	snprintf(alerts, sizeof(alerts), "--checkpoint 1 --role exchange=127.0.0.24 > %s/alerts",
	         dir);
	start_live(alerts);
	/* the host connects OUT to 127.0.0.50:993, which is not the exchange server */
	c = conn_open("127.0.0.10", "127.0.0.50", 993);
	cr_assert_eq(write(c.cs, "a001 CAPABILITY\r\n", 17), 17);
	cr_assert_gt(read(c.as, buf, sizeof(buf)), 0);
	/* the connection stays open across checkpoints (the first within 10 s) */
	for (int i = 0;
	     i < 100 && q1("SELECT count(*) FROM flows WHERE end_reason='checkpoint'") < 1; i++)
		usleep(100000);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE resp_port=993 AND "
	                "end_reason='checkpoint' AND conn_state='S1' AND "
	                "verdict='unexpected-peer'"),
	             1, "the open flow is in the database while it lasts");
	conn_close(&c);
	cr_assert_eq(kill(live_pid, SIGTERM), 0);
	st = live_wait();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d: %s", st, live_stderr());
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE resp_port=993"), 1,
	             "the checkpoint row was replaced, not duplicated");
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE resp_port=993 AND end_reason != "
	                "'checkpoint' AND conn_state='SF'"),
	             1);
	snprintf(alerts, sizeof(alerts), "%s/alerts", dir);
	f = fopen(alerts, "r");
	cr_assert_not_null(f);
	cr_assert_not_null(fgets(buf, sizeof(buf), f), "an alert line was printed");
	fclose(f);
	cr_assert(strstr(buf, "unexpected-peer out 127.0.0.10:"), "%s", buf);
	/* the line names the flow's Community ID, as the database holds it */
	{
		char want[64];
		const char *cid = strstr(buf, "/tcp 1:");
		cr_assert_not_null(cid, "%s", buf);
		snprintf(want, sizeof(want), "%.30s", cid + 5);
		snprintf(alerts, sizeof(alerts),
		         "SELECT count(*) FROM flows WHERE resp_port=993 AND community_id='%s'",
		         want);
		cr_assert_eq(q1(alerts), 1, "%s", buf);
	}
}

Test(live, bad_interface_is_one_clear_line)
{
	char out[4096];
	int rc = tu_run(out, sizeof(out),
	                SMAUDIT_BIN " live -i no-such-if0 --host 127.0.0.10 --db %s", db);
	cr_assert_eq(rc, 2, "%s", out);
	cr_assert(strstr(out, "no-such-if0"), "%s", out);
	rc = tu_run(out, sizeof(out), SMAUDIT_BIN " live --host 127.0.0.10 --db %s", db);
	cr_assert_eq(rc, 2);
	cr_assert(strstr(out, "-i IFACE"), "%s", out);
}

/* Regression: live's own options had the ids of shared ones, so
 * --checkpoint was read as --vxlan-port and checkpoints never came. Each
 * option's bad value must be refused under its own name (no root needed:
 * options are checked before the interface is opened). */
Test(live, each_option_is_read_as_itself)
{
	static const char *const opts[] = {"--checkpoint", "--duration", "--vxlan-port",
	                                   "--tcp-timeout", "--max-flows"};
	char out[4096];

	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		int rc =
		    tu_run(out, sizeof(out),
		           SMAUDIT_BIN " live -i lo --host 127.0.0.10 --db %s %s 0", db, opts[i]);
		cr_assert_eq(rc, 2, "%s 0: %s", opts[i], out);
		cr_assert(strstr(out, opts[i]), "%s 0 is refused as itself: %s", opts[i], out);
	}
}

/* live --eve: the alert event is appended as the flow starts, the flow
 * events as flows end; SIGHUP after the file was moved away (log rotation)
 * makes live write a new file at the path. Both files together validate
 * against tests/eve.schema.json and match the database (eve_check.py). */
Test(live, eve_file_is_written_and_reopened_on_sighup)
{
	char extra[256], path[160], rotated[176], out[4096];
	int st;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	snprintf(path, sizeof(path), "%s/eve.json", dir);
	snprintf(rotated, sizeof(rotated), "%s/eve.json.1", dir);
	snprintf(extra, sizeof(extra), "--role cuic=127.0.0.22 --no-alerts --eve %s", path);
	start_live(extra);
	connect_once(1526); /* unexpected-peer: an alert at once */
	for (int i = 0; i < 200 && tu_run(NULL, 0, "grep -q '\"event_type\":\"alert\"' %s", path);
	     i++) /* 10 s */
		usleep(50000);
	cr_assert_eq(rename(path, rotated), 0);
	cr_assert_eq(kill(live_pid, SIGHUP), 0);
	for (int i = 0; i < 200 && access(path, F_OK) != 0; i++) /* reopened: the file is back */
		usleep(50000);
	cr_assert_eq(access(path, F_OK), 0, "SIGHUP did not reopen %s: %s", path, live_stderr());
	connect_once(7071); /* expected: a flow event only */
	/* no pause: a clean stop still reads what the kernel captured before it */
	cr_assert_eq(kill(live_pid, SIGTERM), 0);
	st = live_wait();
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d: %s", st, live_stderr());
	cr_assert_eq(tu_run(out, sizeof(out), "grep -c '\"event_type\":\"alert\"' %s", rotated), 0,
	             "the alert went to the file open before SIGHUP: %s", out);
	cr_assert_eq(tu_run(out, sizeof(out), "grep -c '\"dest_port\":7071' %s", path), 0,
	             "after SIGHUP events go to a new file at the path: %s", out);
	cr_assert_eq(
	    tu_run(out, sizeof(out),
	           "cat %s %s > %s/all.json && /usr/bin/python3 tests/eve_check.py %s %s/all.json",
	           rotated, path, dir, db, dir),
	    0, "%s", out);
}
