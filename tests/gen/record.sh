#!/bin/sh
# record.sh: records pcaps/demo.pcap, pcaps/demo.pcapng and pcaps/mismatch.pcap
# from real servers and clients on loopback (tests/gen/loopnet.py, OpenSSH,
# curl, ping), captured with tcpdump on lo.
#
# Needs root (tcpdump on lo, sshd on port 22/443), tcpdump, editcap, curl,
# ping (iputils-ping), sshd/ssh (openssh-server/client), openssl, python3.
# Usage: sh tests/gen/record.sh [OUTDIR]      (default: pcaps/)
# The recorded files differ on every run (times, ports, keys); afterwards run
# `python3 tests/gen/expected.py --all` to rewrite the .expected files.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../../pcaps}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/smaudit-record.XXXXXX)
pids=""

cleanup() {
	for p in $pids; do kill "$p" 2>/dev/null || true; done
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

for tool in tcpdump editcap curl ping ssh /usr/sbin/sshd openssl python3; do
	command -v "$tool" >/dev/null 2>&1 || { echo "record.sh: $tool missing" >&2; exit 1; }
done

# Throwaway certificate (TLS servers) and host key (sshd); never shipped.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=socialminer.test" \
	-keyout "$work/key.pem" -out "$work/cert.pem" >/dev/null 2>&1
ssh-keygen -q -t ed25519 -N "" -f "$work/ssh_host_ed25519_key"
mkdir -p /run/sshd

# start_sshd ADDR PORT: an sshd that lets nobody in (the client gives up after key exchange).
start_sshd() {
	cat >"$work/sshd_$2.conf" <<EOF
ListenAddress $1:$2
HostKey $work/ssh_host_ed25519_key
PidFile $work/sshd_$2.pid
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile /nonexistent
StrictModes no
EOF
	/usr/sbin/sshd -D -e -f "$work/sshd_$2.conf" 2>"$work/sshd_$2.log" &
	pids="$pids $!"
}

# record NAME SCENARIO: capture one scenario into $out/NAME
record() {
	name=$1
	scenario=$2
	python3 "$here/loopnet.py" serve "$scenario" "$work" >"$work/serve.log" 2>&1 &
	srv=$!
	pids="$pids $srv"
	i=0
	until grep -q ready "$work/serve.log"; do
		i=$((i + 1))
		[ $i -lt 100 ] || { cat "$work/serve.log" >&2; exit 1; }
		sleep 0.1
	done
	sleep 0.5
	tcpdump -i lo -U -s 0 -w "$work/$name" 'net 127.0.0.0/8' 2>"$work/tcpdump.log" &
	tcpd=$!
	sleep 1
	python3 "$here/loopnet.py" client "$scenario" "$work" | tee "$work/client.log"
	sleep 1
	kill -INT "$tcpd"
	wait "$tcpd" || true
	kill "$srv" 2>/dev/null || true
	wait "$srv" 2>/dev/null || true
	cat "$work/tcpdump.log" >&2
	if grep -q '^FAIL' "$work/client.log"; then
		echo "record.sh: a client failed in $scenario" >&2
		exit 1
	fi
	cp "$work/$name" "$out/$name"
}

start_sshd 127.0.0.10 22
record demo.pcap demo
editcap -F pcapng "$out/demo.pcap" "$out/demo.pcapng"

start_sshd 127.0.0.10 443
record mismatch.pcap mismatch

ls -l "$out/demo.pcap" "$out/demo.pcapng" "$out/mismatch.pcap"
