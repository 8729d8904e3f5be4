#!/bin/sh
# dpi_leak.sh: no nDPI state leaks over a run of many flows (default 100,000).
#
# Writes a capture of short flows (tests/bench/dpi_flows.py), builds the small
# driver tests/bench/dpi_leak.c against build/libsmaudit.a, runs it once
# natively (time, peak RSS, peak nDPI states) and once under valgrind
# (--leak-check=full, definite leaks are errors). Fails if valgrind reports
# a definite leak or an error, or if any nDPI state is left at the end.
# Run from the repository root after `make` (make bench does both).
#
#   DPI_LEAK_FLOWS=100000  how many flows
#   DPI_LEAK_KEEP=1        keep the temporary directory
set -e
N=${DPI_LEAK_FLOWS:-100000}
CC=${CC:-cc}
[ -f build/libsmaudit.a ] || { echo "dpi_leak: build/libsmaudit.a missing: run make first" >&2; exit 2; }
command -v valgrind >/dev/null 2>&1 || { echo "dpi_leak: valgrind missing (apt-get install valgrind)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/smaudit-dpi-leak-XXXXXX)
[ -n "$DPI_LEAK_KEEP" ] || trap 'rm -rf "$tmp"' EXIT

echo "== dpi_leak: $N flows"
python3 tests/bench/dpi_flows.py "$N" "$tmp/flows.pcap"
echo "capture: $(wc -c < "$tmp/flows.pcap") bytes"
$CC -std=gnu11 -O2 -g -Iinclude $(pkg-config --cflags libndpi) tests/bench/dpi_leak.c \
	build/libsmaudit.a $(pkg-config --libs libpcap libndpi) -lpthread -lm -o "$tmp/dpi_leak"

echo "-- native"
start=$(date +%s.%N)
"$tmp/dpi_leak" "$tmp/flows.pcap"
end=$(date +%s.%N)
echo "time: $(echo "$end - $start" | bc 2>/dev/null || echo "?") s"

echo "-- valgrind"
set +e
valgrind --leak-check=full --errors-for-leak-kinds=definite --error-exitcode=3 \
	--log-file="$tmp/vg.log" "$tmp/dpi_leak" "$tmp/flows.pcap"
rc=$?
set -e
grep -E "total heap usage|definitely lost|indirectly lost|possibly lost|still reachable|ERROR SUMMARY" \
	"$tmp/vg.log" | sed 's/^==[0-9]*== *//'
if [ $rc -ne 0 ]; then
	echo "dpi_leak: FAILED (exit $rc, valgrind log: $tmp/vg.log)"
	trap - EXIT
	exit 1
fi
echo "dpi_leak: ok"
