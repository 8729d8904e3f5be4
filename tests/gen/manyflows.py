#!/usr/bin/env python3
"""manyflows.py: writes a capture of N one-packet UDP flows (standard library only).

Owns: the large capture the disk-full test needs, made at test time (never
shipped). Flow k is 127.0.0.10:40000+(k % 20000) -> 127.1.x.y:53 (x, y from
k), one 60-byte Ethernet frame each, 1 ms apart from 2026-11-01 00:00:00 UTC,
so the capture holds exactly N flows touching the host 127.0.0.10.

Usage: python3 tests/gen/manyflows.py N OUTFILE
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import craft  # noqa: E402


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    frames = []
    for k in range(n):
        peer = "127.1.%d.%d" % (k // 250 % 250, k % 250 + 1)
        dport = 53 + k // 62500  # keeps the 5-tuple unique past 62,500 flows
        udp = craft.udp_dgram(craft.HOST, peer, 40000 + k % 20000, dport, b"q")
        frames.append(craft.eth(craft.ip_for(craft.HOST, peer, 17, udp), src=craft.MAC_HOST,
                                dst=craft.MAC_PEER))
    craft.write(os.path.dirname(path) or ".", os.path.basename(path),
                craft.pcap_bytes(1, craft.stamp(craft.T0, frames, step=0.001)))


if __name__ == "__main__":
    main()
