#!/bin/sh
# run-tests.sh: run every Criterion suite on its own (a crash names its
# suite), then print one closing line with the totals.
pass=0; fail=0; bad=""
for t in "$@"; do
	echo "== $t"
	out=$("$t" --jobs 1 2>&1); rc=$?
	printf '%s\n' "$out" | grep -v '^\[----\]   $'
	line=$(printf '%s\n' "$out" | grep 'Synthesis:' | tail -n 1)
	p=$(printf '%s' "$line" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p')
	f=$(printf '%s' "$line" | sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p')
	pass=$((pass + ${p:-0}))
	for n in $f; do fail=$((fail + n)); done
	if [ $rc -ne 0 ] || [ -z "$line" ]; then
		bad="$bad $t"
		[ -z "$line" ] && fail=$((fail + 1))
	fi
done
[ -n "$bad" ] && echo "failing suites:$bad"
echo "tests: $pass passed, $fail failed"
[ -z "$bad" ] && [ $fail -eq 0 ]
