#!/bin/sh
# derive.sh: writes the captures made from other shipped captures with
# Wireshark's and gzip's own tools (never smaudit):
#   pcaps/mixed-link.pcapng  mergecap of vlan.pcap (Ethernet) and sll.pcap
#                            (Linux cooked): a pcapng file whose two
#                            interfaces have different link types
#   pcaps/sll.pcap.gz        sll.pcap compressed with gzip -n (no name or time:
#                            the same bytes on every run)
# Needs mergecap (wireshark-common, which tshark pulls in) and gzip.
# Usage: sh tests/gen/derive.sh [PCAPDIR]      (default: pcaps/)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-$here/../../pcaps}
mergecap -F pcapng -w "$dir/mixed-link.pcapng" "$dir/vlan.pcap" "$dir/sll.pcap"
gzip -n -c "$dir/sll.pcap" > "$dir/sll.pcap.gz"
