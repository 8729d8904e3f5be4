/* test_live.c: `smaudit live` on the loopback interface: a real TCP
 * connection made by this test between 127.0.0.50 and a listener on
 * 127.0.0.10 is captured, judged and stored; --duration ends the run
 * cleanly and SIGTERM does too, with the flows committed. Needs the
 * capture privilege (root); skipped without it. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char dir[64], db[128];

static void setup(void)
{
	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	snprintf(db, sizeof(db), "%s/live.db", dir);
}

static void teardown(void)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(live, .init = setup, .fini = teardown, .timeout = 30);

static long long q1(const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	cr_assert_eq(sqlite3_open_v2(db, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s", sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static pid_t start_live(const char *extra)
{
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		char cmd[512];
		snprintf(cmd, sizeof(cmd),
		         "exec " SMAUDIT_BIN " live -q -i lo --host 127.0.0.10 -f 'host 127.0.0.10' "
		         "--db %s %s",
		         db, extra);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	/* wait until the run row exists: the capture is open */
	for (int i = 0; i < 100; i++) {
		if (access(db, F_OK) == 0 && q1("SELECT count(*) FROM runs") == 1)
			return pid;
		usleep(50000);
	}
	cr_assert_fail("smaudit live did not start");
	return pid;
}

/* One real connection 127.0.0.50 -> 127.0.0.10:port with a request and a reply. */
static void connect_once(uint16_t port)
{
	struct sockaddr_in srv = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct sockaddr_in cli = {.sin_family = AF_INET};
	int one = 1, ls, cs, as;
	char buf[64];

	inet_pton(AF_INET, "127.0.0.10", &srv.sin_addr);
	inet_pton(AF_INET, "127.0.0.50", &cli.sin_addr);
	ls = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert_eq(bind(ls, (struct sockaddr *)&srv, sizeof(srv)), 0);
	cr_assert_eq(listen(ls, 1), 0);
	cs = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(cs, (struct sockaddr *)&cli, sizeof(cli)), 0);
	cr_assert_eq(connect(cs, (struct sockaddr *)&srv, sizeof(srv)), 0);
	as = accept(ls, NULL, NULL);
	cr_assert_geq(as, 0);
	cr_assert_eq(write(cs, "POST /http-bind HTTP/1.1\r\n\r\n", 28), 28);
	cr_assert_gt(read(as, buf, sizeof(buf)), 0);
	cr_assert_eq(write(as, "HTTP/1.1 200 OK\r\n\r\n", 19), 19);
	cr_assert_gt(read(cs, buf, sizeof(buf)), 0);
	close(cs);
	close(as);
	close(ls);
}

Test(live, a_loopback_connection_is_captured_judged_and_stored)
{
	pid_t pid;
	int st;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	pid = start_live("--duration 3");
	connect_once(7071);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
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
	pid_t pid;
	int st;

	if (geteuid() != 0)
		cr_skip_test("live capture needs root");
	pid = start_live("");
	connect_once(1526);
	usleep(300000);
	cr_assert_eq(kill(pid, SIGTERM), 0);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit status %d", st);
	cr_assert_eq(q1("SELECT count(*) FROM flows WHERE resp_port=1526 AND "
	                "rule_id='reports-from-cuic' AND verdict='unexpected-peer' AND "
	                "end_reason IN ('closed','shutdown')"),
	             1, "the peer 127.0.0.50 holds no role... but no roles are configured");
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
