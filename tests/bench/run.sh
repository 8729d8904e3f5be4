#!/bin/sh
# run.sh: `make bench`: speed and memory of `smaudit read`, the flow table
# bound, and the slow checks other modules keep under tests/bench/.
#
# Targets are printed next to the numbers; nothing here is a test assertion
# except the eviction check (PASS/FAIL, exit 1 on FAIL) and the exit status of
# the scripts it calls. See tests/bench/README.md for what each number means.
# Run from the repository root after `make` (make bench does both).
#
#   BENCH_QUICK=1    skip the slow parts (peers.sh, dpi_leak.sh under valgrind, query_bench.sh,
#                    live_bench.sh)
#   BENCH_BIG=1      peers.sh also on 1,000,000 SocialMiner-shaped flows
#   BENCH_FLOWS=N    flows per capture (default 200000, about 1.5 million packets)
#   BENCH_DIR=DIR    where captures and databases go (default build/bench; never commit them)
set -e
BIN=${SMAUDIT_BIN:-build/smaudit}
DIR=${BENCH_DIR:-build/bench}
FLOWS=${BENCH_FLOWS:-200000}
HOST=127.0.0.10
GEN=tests/bench/gen_flows.py

[ -x "$BIN" ] || { echo "bench: $BIN missing: run make first" >&2; exit 2; }
if [ ! -x /usr/bin/time ]; then
	echo "bench: installing time (for peak RSS)" >&2
	if [ "$(id -u)" = 0 ]; then apt-get install -y time >/dev/null; else sudo apt-get install -y time >/dev/null; fi
fi
mkdir -p "$DIR"
fail=0

# gen NAME ARGS...: build/bench/NAME.pcap from gen_flows.py, reused while the
# arguments and the generator are unchanged; NAME.meta holds "packets flows peak_open".
gen() {
	name=$1
	shift
	want="$* $(cksum < "$GEN")"
	if [ -f "$DIR/$name.pcap" ] && [ -f "$DIR/$name.args" ] && [ "$(cat "$DIR/$name.args")" = "$want" ]; then
		return 0
	fi
	echo "generating $DIR/$name.pcap ($*)" >&2
	python3 "$GEN" "$@" "$DIR/$name.pcap" > "$DIR/$name.meta"
	echo "$want" > "$DIR/$name.args"
}

# run NAME DB ARGS...: one `smaudit read` of NAME.pcap into a fresh DB; sets
# SECS (wall clock) and RSS (peak resident set, KiB).
run() {
	name=$1
	db=$2
	shift 2
	rm -f "$db" "$db-wal" "$db-shm"
	/usr/bin/time -f "%e %M" -o "$DIR/time.out" "$BIN" read -q --host $HOST --db "$db" "$@" \
		"$DIR/$name.pcap" || { echo "bench: smaudit read failed on $name ($*)" >&2; exit 1; }
	read -r SECS RSS < "$DIR/time.out"
}

# best NAME DB ARGS...: the faster of two runs (the machine is shared).
best() {
	run "$@"
	s1=$SECS
	r1=$RSS
	run "$@"
	if awk "BEGIN{exit !($s1 < $SECS)}"; then SECS=$s1; RSS=$r1; fi
}

meta() { cut -d' ' -f"$2" < "$DIR/$1.meta"; }
q() { sqlite3 "$1" "$2"; }
row() { printf '%-44s %14s   %s\n' "$1" "$2" "$3"; }

gen mix --flows "$FLOWS" --layout mix --window 5000
gen open --flows "$FLOWS" --layout open
gen few --flows "$FLOWS" --layout mix --window 100 --dt-us 2000

echo
echo "== smaudit read: $(meta mix 1) packets, $(meta mix 2) flows ($(nproc) cores, $(uname -m))"
row "measure" "value" "target"

# (1) throughput on the mixed capture
pk=$(meta mix 1)
fl=$(meta mix 2)
for mode in dpi nodpi; do
	[ $mode = dpi ] && opt="" || opt="--no-dpi"
	best mix "$DIR/mix.db" $opt
	stored=$(q "$DIR/mix.db" "select flows from runs")
	pps=$(awk "BEGIN{printf \"%d\", $pk / $SECS}")
	fps=$(awk "BEGIN{printf \"%d\", $stored / $SECS}")
	[ $mode = dpi ] && target="-" || target=">= 500000 packets/s"
	row "throughput $mode: packets/s" "$pps" "$target"
	row "throughput $mode: flows/s" "$fps" "-"
	row "  ($SECS s wall, peak RSS $RSS KiB)" "" ""
	[ "$stored" = "$fl" ] || { echo "FAIL: mix stored $stored flows, generated $fl"; fail=1; }
done

# (2) peak RSS: table bound, and memory per concurrently open flow
run mix "$DIR/mix.db" --max-flows 1000000
r_big=$RSS
run mix "$DIR/mix.db" --max-flows 10000
r_small=$RSS
row "peak RSS, mix, --max-flows 1000000 (KiB)" "$r_big" "-"
row "peak RSS, mix, --max-flows 10000 (KiB)" "$r_small" "-"
row "  (mix holds up to $(meta mix 3) flows open)" "" ""
o_open=$(meta open 3)
o_few=$(meta few 3)
for mode in dpi nodpi; do
	[ $mode = dpi ] && opt="" || opt="--no-dpi"
	run open "$DIR/open.db" $opt
	r_open=$RSS
	run few "$DIR/few.db" $opt
	r_few=$RSS
	per=$(awk "BEGIN{printf \"%d\", ($r_open - $r_few) * 1024 / ($o_open - $o_few)}")
	row "peak RSS $mode, $o_open flows open (KiB)" "$r_open" "-"
	row "peak RSS $mode, $o_few flows open (KiB)" "$r_few" "-"
	if [ $mode = dpi ]; then
		row "bytes per open flow, DPI done" "$per" "< 1024"
	else
		row "bytes per open flow, no DPI" "$per" "< 1024"
	fi
done

# (3) eviction: a small table on many open flows loses no flow and no packet
run open "$DIR/evict.db" --max-flows 10000
db=$DIR/evict.db
ip_pkts=$(q "$db" "select packets - malformed - unknown_link - non_ip from runs")
flow_pkts=$(q "$db" "select sum(orig_pkts + resp_pkts) from flows")
evicted=$(q "$db" "select count(*) from flows where end_reason = 'evicted'")
run_evicted=$(q "$db" "select evicted from runs")
other=$(q "$db" "select flows_other from runs")
keys=$(q "$db" "select count(distinct proto || ' ' || min(orig_addr || ':' || orig_port, resp_addr || ':' || resp_port)
	|| ' ' || max(orig_addr || ':' || orig_port, resp_addr || ':' || resp_port)) from flows")
row "eviction, --max-flows 10000: rows" "$(q "$db" "select count(*) from flows")" "-"
row "  evicted rows / run's evicted count" "$evicted / $run_evicted" "> 0, equal"
row "  packets in flows / IP packets of run" "$flow_pkts / $ip_pkts" "equal"
row "  distinct connections / generated" "$keys / $(meta open 2)" "equal"
row "  peak RSS (KiB)" "$RSS" "-"
if [ "$evicted" -gt 0 ] && [ "$evicted" = "$run_evicted" ] && [ "$flow_pkts" = "$ip_pkts" ] &&
	[ "$keys" = "$(meta open 2)" ] && [ "$other" = 0 ]; then
	echo "eviction: PASS (no flow lost)"
else
	echo "eviction: FAIL (flows_other $other)"
	fail=1
fi

# (4) the slow checks of other modules
if [ -n "$BENCH_QUICK" ]; then
	echo
	echo "BENCH_QUICK set: skipping dpi_leak.sh and query_bench.sh"
else
	for s in tests/bench/peers.sh tests/bench/dpi_leak.sh tests/bench/query_bench.sh \
		tests/bench/live_bench.sh; do
		[ -f "$s" ] || continue
		echo
		sh "$s" || { echo "FAIL: $s"; fail=1; }
	done
fi
[ $fail = 0 ] || { echo "bench: FAILED"; exit 1; }
echo "bench: done"
