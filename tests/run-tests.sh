#!/bin/sh
# run-tests.sh: run every Criterion suite on its own (a crash names its
# suite), then print one closing line with the totals:
#   tests: N passed, N failed, N skipped
# Skips are read from each suite's verbose report ("[SKIP] suite::name:
# why"; Criterion's Synthesis line leaves them out) and named. Under CI (CI set, not "false" or "0") as
# root nothing has a reason to skip, so there a skip is also counted as a
# failure and the run fails.
pass=0; fail=0; skip=0; bad=""; skipped=""
strict=""
case "${CI:-}" in "" | false | 0) ;; *) [ "$(id -u)" -eq 0 ] && strict=1 ;; esac
for t in "$@"; do
	echo "== $t"
	out=$("$t" --jobs 1 --verbose 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v '^\[----\]   $\|^\[RUN \] \|^\[PASS\] '
	line=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n 1)
	p=$(printf '%s' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p')
	s=$(printf '%s\n' "$out" | sed -n 's/^\[SKIP\] \([^ :]*::[^ :]*\):.*/\1/p')
	pass=$((pass + ${p:-0}))
	for n in $f; do fail=$((fail + n)); done
	for n in $s; do
		skip=$((skip + 1)); skipped="$skipped $n"
	done
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		bad="$bad $t"
		[ -z "$line" ] && fail=$((fail + 1))
	fi
done
[ -n "$skipped" ] && echo "skipped tests:$skipped"
if [ -n "$strict" ] && [ $skip -gt 0 ]; then
	echo "failing: under CI as root no test may skip:$skipped"
	fail=$((fail + skip))
fi
[ -n "$bad" ] && echo "failing suites:$bad"
echo "tests: $pass passed, $fail failed, $skip skipped"
[ -z "$bad" ] && [ $fail -eq 0 ]
