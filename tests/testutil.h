/* testutil.h: helpers shared by the Criterion suites: run the real binary,
 * read its output, open the database it wrote. Paths are relative to the
 * repository root (make test runs there). */
#ifndef SMAUDIT_TESTUTIL_H
#define SMAUDIT_TESTUTIL_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SMAUDIT_BIN /* the Makefile passes $(BUILD)/smaudit */
#define SMAUDIT_BIN "build/smaudit"
#endif

/* Run a shell command, capture stdout+stderr (up to cap bytes) into out;
 * return the exit status (or 128+signal). */
static inline int tu_run(char *out, size_t cap, const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	FILE *p;
	size_t n = 0;
	int st;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	strncat(cmd, " 2>&1", sizeof(cmd) - strlen(cmd) - 1);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (out && cap) {
		while (n + 1 < cap) {
			size_t r = fread(out + n, 1, cap - 1 - n, p);
			if (r == 0)
				break;
			n += r;
		}
		out[n] = '\0';
	}
	{
		char sink[4096];
		while (fread(sink, 1, sizeof(sink), p) > 0)
			;
	}
	st = pclose(p);
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return 128 + WTERMSIG(st);
	return -1;
}

/* Remove a directory tree made by tu_tmpdir; returns system()'s status. */
static inline int tu_rmrf(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#ifdef SQLITE_VERSION
/* First column of the first row of sql on database path, opened read-only
 * (-1 when no row). The suite fails on a bad statement. */
static inline long long tu_q1(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	long long v = -1;

	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK, "%s: %s", sql,
	             sqlite3_errmsg(h));
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}
#endif

/* Make a fresh temporary directory and return its path (static buffer per call site). */
static inline char *tu_tmpdir(char *buf, size_t len)
{
	snprintf(buf, len, "/tmp/smaudit-test-XXXXXX");
	return mkdtemp(buf);
}

#endif
