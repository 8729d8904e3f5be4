#!/bin/sh
# live_bench.sh: the highest replay rate `smaudit live` holds with zero kernel
# drops (DPI on), in a network namespace of its own with a veth pair, with
# and without a database stall (another process holding the write lock for
# STALL seconds in the middle). Needs root, ip and tcpreplay; numbers only,
# no assertion. Run from the repository root after make (run.sh calls it).
#
#   LIVE_SECS=60          seconds of replay per rate
#   LIVE_RATES="100000 200000 topspeed"   packets/s to try (topspeed: as fast as tcpreplay goes)
#   LIVE_STALL=15         seconds the write lock is held in the stall runs
set -e
BIN=${SMAUDIT_BIN:-build/smaudit}
DIR=${BENCH_DIR:-build/bench}
SECS=${LIVE_SECS:-60}
RATES=${LIVE_RATES:-100000 200000 topspeed}
STALL=${LIVE_STALL:-15}
NS=smbench$$
PCAP=$DIR/live.pcap

if [ "$(id -u)" != 0 ] || ! command -v tcpreplay >/dev/null || ! command -v ip >/dev/null; then
	echo "live_bench: needs root, ip and tcpreplay: skipped"
	exit 0
fi
mkdir -p "$DIR"
[ -f "$PCAP" ] || python3 tests/bench/gen_flows.py --flows 50000 --layout mix --window 1000 \
	"$PCAP" > /dev/null
pkts=$(capinfos -c -M "$PCAP" 2>/dev/null | awk '/Number of packets/ {print $4}')
bytes=$(capinfos -d -M "$PCAP" 2>/dev/null | awk '/Data size/ {print $3}')
ip netns add $NS
trap 'ip netns del $NS 2>/dev/null; [ -n "$lock" ] && kill $lock 2>/dev/null; true' EXIT
ip -n $NS link add sa0 type veth peer name sb0
ip -n $NS link set sa0 mtu 65535 up
ip -n $NS link set sb0 mtu 65535 up
ip netns exec $NS sysctl -qw net.ipv6.conf.all.disable_ipv6=1

# one RATE STALL: replay for SECS seconds at RATE; print the row
one() {
	rate=$1
	stall=$2
	db=$DIR/live.db
	rm -f "$db" "$db-wal" "$db-shm"
	ip netns exec $NS "$BIN" live -q -i sb0 --host 127.0.0.10 --db "$db" --no-alerts \
		--checkpoint 1 --duration $((SECS + STALL + 60)) 2>"$DIR/live.err" &
	live=$!
	while ! sqlite3 "$db" "select count(*) from runs" >/dev/null 2>&1; do sleep 0.2; done
	if [ "$rate" = topspeed ]; then how="-t"; loops=$((SECS * 250000 / pkts + 1)); else
		how="-p $rate"; loops=$((SECS * rate / pkts + 1)); fi
	lock=""
	if [ "$stall" -gt 0 ]; then
		(sleep $((SECS / 3)); python3 -c "
import sqlite3, time
c = sqlite3.connect('$db', isolation_level=None, timeout=60)
c.execute('BEGIN IMMEDIATE'); time.sleep($stall); c.execute('COMMIT')") &
		lock=$!
	fi
	out=$(ip netns exec $NS tcpreplay $how -l $loops -i sa0 "$PCAP" 2>&1)
	[ -n "$lock" ] && wait $lock
	lock=""
	sent=$(printf '%s\n' "$out" | awk '/Successful packets/ {print $3}')
	took=$(printf '%s\n' "$out" | awk '/^Actual/ {print $(NF-1)}')
	sleep 3
	kill -TERM $live
	wait $live || true
	got=$(sqlite3 "$db" "select packets from runs")
	drops=$(sqlite3 "$db" "select dropped from runs")
	pps=$(awk "BEGIN{printf \"%d\", $sent / $took}")
	mbps=$(awk "BEGIN{printf \"%d\", $sent * $bytes / $pkts * 8 / $took / 1000000}")
	printf '%-10s %6s %9s pkt/s %6s Mb/s %10s sent %10s counted %8s dropped %6s s\n' \
		"$rate" "${stall}s" "$pps" "$mbps" "$sent" "$got" "$drops" "$took"
}

echo
echo "== smaudit live: replay of $PCAP ($pkts packets) into a veth, DPI on, $(nproc) cores"
echo "rate       stall    achieved           bandwidth          sent            counted        dropped   time"
for r in $RATES; do
	one "$r" 0
	one "$r" "$STALL"
done
