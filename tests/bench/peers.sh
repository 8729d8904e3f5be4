#!/bin/sh
# peers.sh: smaudit beside its peers on the same SocialMiner-shaped captures
# (gen_sm.py), in one run: wall, CPU (user + sys, all threads), CPU per
# flow and peak memory, medians of 3, at 10k and 100k flows (and 1M with
# BENCH_BIG=1); then smaudit's CPU per flow at each size, and how it grows
# from 100k flows to the largest (issue 13: flat).
#
#   floor       a bare libpcap pcap_next_ex loop (tests/bench/pcap_floor.c)
#   softflowd   -r FILE: flows, no DPI, no store           (where installed)
#   argus       -r FILE -w FILE: flows, no DPI              (where installed)
#   ndpiReader  -q -i FILE: the same nDPI, no store         (always)
#   smaudit     read --no-dpi, and read (DPI on), into a fresh database
#
# Targets (issue 13) are printed under the table for the 100k capture. Run
# from the repository root after make; make bench calls it.
set -e
BIN=${SMAUDIT_BIN:-build/smaudit}
DIR=${BENCH_DIR:-build/bench}
CC=${CC:-cc}
mkdir -p "$DIR"
FLOOR=$DIR/pcap_floor
[ "$FLOOR" -nt tests/bench/pcap_floor.c ] ||
	$CC -O2 -o "$FLOOR" tests/bench/pcap_floor.c $(pkg-config --cflags --libs libpcap)

# gen NAME FLOWS WINDOW: a SocialMiner-shaped capture, reused while unchanged.
gen() {
	want="$2 $3 $(cat tests/bench/gen_sm.py tests/bench/gen_flows.py | cksum)"
	if [ -f "$DIR/$1.pcap" ] && [ "$(cat "$DIR/$1.args" 2>/dev/null)" = "$want" ]; then
		return 0
	fi
	echo "generating $DIR/$1.pcap ($2 flows)" >&2
	python3 tests/bench/gen_sm.py --flows "$2" --window "$3" "$DIR/$1.pcap" > "$DIR/$1.meta"
	echo "$want" > "$DIR/$1.args"
}

# measure CMD...: median of 3 runs of CMD; sets WALL CPU RSS (KiB).
measure() {
	: > "$DIR/peer.times"
	for i in 1 2 3; do
		rm -f "$DIR/peer.db" "$DIR/peer.db-wal" "$DIR/peer.db-shm" "$DIR/peer.arg"
		/usr/bin/time -f "%e %U %S %M" -o "$DIR/peer.t" "$@" > /dev/null 2>&1 ||
			{ echo "bench: failed: $*" >&2; cat "$DIR/peer.t" >&2; exit 1; }
		awk '{printf "%s %.2f %s\n", $1, $2 + $3, $4}' "$DIR/peer.t" >> "$DIR/peer.times"
	done
	WALL=$(cut -d' ' -f1 "$DIR/peer.times" | sort -n | sed -n 2p)
	CPU=$(cut -d' ' -f2 "$DIR/peer.times" | sort -n | sed -n 2p)
	RSS=$(cut -d' ' -f3 "$DIR/peer.times" | sort -n | sed -n 2p)
}

# line NAME: one row; CPU per flow in microseconds (CPU of all threads / flows).
line() {
	printf '| %-38s | %7s s | %7s s | %8s | %7s MiB |\n' "$1" "$WALL" "$CPU" \
		"$(awk "BEGIN{printf \"%.2f\", $CPU * 1e6 / $fl}")" "$((RSS / 1024))"
}

table() {
	name=$1
	cap=$DIR/$name.pcap
	read -r pk fl open < "$DIR/$name.meta"
	echo
	echo "== $name: $fl flows, $pk packets, $(($(stat -L -c %s "$cap") / 1048576)) MiB, up to $open open at once"
	echo "| program                                |    wall   |    CPU    | µs/flow  |  peak memory |"
	echo "|----------------------------------------|-----------|-----------|----------|--------------|"
	measure "$FLOOR" "$cap"; line "bare libpcap loop (the floor)"; F_WALL=$WALL
	if command -v softflowd > /dev/null; then
		measure softflowd -d -r "$cap"; line "softflowd -r (flows, no DPI, no store)"; S_WALL=$WALL
	else S_WALL=""; fi
	measure "$BIN" read -q --no-dpi --host 127.0.0.10 --db "$DIR/peer.db" "$cap"
	line "smaudit read --no-dpi"; N_WALL=$WALL
	PERFLOW="$PERFLOW$name $(awk "BEGIN{printf \"%.2f\", $CPU * 1e6 / $fl}")"
	measure "$BIN" read -q --host 127.0.0.10 --db "$DIR/peer.db" "$cap"
	line "smaudit read (DPI on)"; D_WALL=$WALL; D_CPU=$CPU; D_RSS=$RSS
	PERFLOW="$PERFLOW $(awk "BEGIN{printf \"%.2f\", $CPU * 1e6 / $fl}")
"
	if command -v argus > /dev/null; then
		measure argus -r "$cap" -w "$DIR/peer.arg"; line "argus -r (flows, no DPI)"
	fi
	measure ndpiReader -q -i "$cap"; line "ndpiReader -q -i (same nDPI)"; R_WALL=$WALL
}

verdict() { if awk "BEGIN{exit !($1)}"; then echo ok; else echo MISSED; fi; }

gen sm10k 10000 300
gen sm100k 100000 2400
table sm10k
table sm100k
echo
echo "targets on sm100k (issue 13):"
printf '  DPI on: %.1fx ndpiReader (target >= 10x): %s\n' "$(awk "BEGIN{print $R_WALL / $D_WALL}")" \
	"$(verdict "$R_WALL / $D_WALL >= 10")"
printf '  DPI on: CPU %s s (target <= 1.2 s): %s\n' "$D_CPU" "$(verdict "$D_CPU <= 1.2")"
printf '  DPI on: peak %s MiB (target <= 48 MiB): %s\n' "$((D_RSS / 1024))" "$(verdict "$D_RSS <= 49152")"
printf '  --no-dpi: %.1fx the floor (target <= 4x): %s\n' "$(awk "BEGIN{print $N_WALL / $F_WALL}")" \
	"$(verdict "$N_WALL <= 4 * $F_WALL")"
[ -n "$S_WALL" ] && printf '  --no-dpi: %s s vs softflowd %s s (target: ahead): %s\n' "$N_WALL" "$S_WALL" \
	"$(verdict "$N_WALL < $S_WALL")"
if [ -n "$BENCH_BIG" ]; then
	gen sm1m 1000000 24000
	table sm1m
fi

# Cost per flow at each size: CPU of all threads / flows (the 10k capture
# also carries the fixed start-up, nDPI's initialisation above all).
echo
echo "smaudit CPU per flow (µs), --no-dpi and DPI on:"
printf '%s' "$PERFLOW" | while read -r n nd d; do printf '  %-7s %8s %8s\n' "$n" "$nd" "$d"; done
first=$(printf '%s' "$PERFLOW" | sed -n 2p); last=$(printf '%s' "$PERFLOW" | sed -n '$p')
if [ "$first" != "$last" ]; then
	set -- $first; a_n=$1; a_nd=$2; a_d=$3
	set -- $last; b_n=$1; b_nd=$2; b_d=$3
	printf '  %s -> %s: --no-dpi %+.0f%%, DPI on %+.0f%% per flow (target: flat, within 10%%): %s\n' \
		"$a_n" "$b_n" "$(awk "BEGIN{print ($b_nd / $a_nd - 1) * 100}")" \
		"$(awk "BEGIN{print ($b_d / $a_d - 1) * 100}")" \
		"$(verdict "$b_nd <= 1.1 * $a_nd && $b_d <= 1.1 * $a_d")"
fi
