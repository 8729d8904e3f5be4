/* test_install.c: `make install` puts the binary, the rules and the schema
 * under DESTDIR/PREFIX, and the installed binary finds its shipped matrix
 * from any working directory (relative to itself, so any PREFIX works). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

Test(install, prefix_and_destdir, .timeout = 120)
{
	char dir[64], out[8192], path[256];
	static const char *files[] = {
	    "opt/sm/bin/smaudit", "opt/sm/share/smaudit/socialminer.rules",
	    "opt/sm/share/smaudit/platform.rules", "opt/sm/share/smaudit/schema.sql"};
	int rc;

	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	rc = tu_run(out, sizeof(out),
	            "env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make --no-print-directory install "
	            "DESTDIR=%s PREFIX=/opt/sm BUILD=%.*s",
	            dir, (int)(strlen(SMAUDIT_BIN) - strlen("/smaudit")), SMAUDIT_BIN);
	cr_assert_eq(rc, 0, "%s", out);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		cr_assert_eq(access(path, R_OK), 0, "%s not installed", files[i]);
	}
	rc = tu_run(out, sizeof(out),
	            "cd / && env -u SMAUDIT_RULES %s/opt/sm/bin/smaudit rules check", dir);
	cr_assert_eq(rc, 0, "%s", out);
	cr_assert(strstr(out, "ok: 12 rules from 1 file"), "%s", out);
	cr_assert_eq(tu_rmrf(dir), 0);
}

Test(install, systemd_unit_and_example_site, .timeout = 120)
{
	char dir[64], out[8192], unit[256];
	int rc;

	cr_assert_not_null(tu_tmpdir(dir, sizeof(dir)));
	/* a real PREFIX (no DESTDIR): the unit names a binary that exists */
	rc = tu_run(out, sizeof(out),
	            "env -u MAKEFLAGS -u MAKELEVEL -u MFLAGS make --no-print-directory install "
	            "PREFIX=%s/usr BUILD=%.*s",
	            dir, (int)(strlen(SMAUDIT_BIN) - strlen("/smaudit")), SMAUDIT_BIN);
	cr_assert_eq(rc, 0, "%s", out);
	snprintf(unit, sizeof(unit), "%s/usr/lib/systemd/system/smaudit.service", dir);
	cr_assert_eq(access(unit, R_OK), 0, "the unit is not installed");
	rc =
	    tu_run(out, sizeof(out), "grep -c '^ExecStart=%s/usr/bin/smaudit live ' %s", dir, unit);
	cr_assert_eq(rc, 0, "ExecStart names the installed binary: %s", out);
	rc = tu_run(out, sizeof(out),
	            "grep -E '^(DynamicUser|StateDirectory|AmbientCapabilities|"
	            "ProtectSystem|Restart|ExecReload)=' %s | wc -l",
	            unit);
	cr_assert_eq(atoi(out), 6, "%s", out);
	rc = tu_run(out, sizeof(out),
	            "%s/usr/bin/smaudit rules check --site %s/usr/share/smaudit/example.site", dir,
	            dir);
	cr_assert_eq(rc, 0, "the example site is valid: %s", out);
	if (tu_run(NULL, 0, "command -v systemd-analyze") == 0) {
		rc = tu_run(out, sizeof(out), "systemd-analyze verify %s", unit);
		cr_assert_eq(rc, 0, "%s", out);
		cr_assert_eq(out[0], '\0', "systemd-analyze verify says: %s", out);
	}
	cr_assert_eq(tu_rmrf(dir), 0);
}
