#!/usr/bin/env python3
"""staleends.py: a capture whose long-lived flows end in the middle of a flood (standard library only).

Owns: the capture of test_audit's lost-end test, made at test time (never
shipped). K long-lived UDP flows 127.0.0.10:30000+i -> 127.3.0.1:5000 send
at T0 and at T0 + 2 s (open 2 s: old enough for a 1 s checkpoint). Then
flood A: A one-packet UDP flows (127.0.0.10 -> 127.1.x.y:53, as
manyflows.py), with one packet of every long flow after each 40 of them,
so a flow table of 100 evicts flood flows, never the long ones. Then flood
B: B more one-packet flows and no more long-flow packets, so the long flows
become the least recently seen and are evicted after the flood A flows
still held. Packets 1 ms apart, except the 2 s pause.

Usage: python3 tests/gen/staleends.py K A B OUTFILE
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import craft  # noqa: E402

REFRESH = 40  # flood A packets between two refreshes of the long flows


def frame(peer, sport, dport):
    udp = craft.udp_dgram(craft.HOST, peer, sport, dport, b"q")
    return craft.eth(craft.ip_for(craft.HOST, peer, 17, udp), src=craft.MAC_HOST,
                     dst=craft.MAC_PEER)


def main():
    k, a, b, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    longs = [frame("127.3.0.1", 30000 + i, 5000) for i in range(k)]
    recs, t = [], float(craft.T0)

    def put(f):
        nonlocal t
        recs.append((t, f))
        t += 0.001

    for f in longs:
        put(f)
    t += 2.0
    for f in longs:
        put(f)
    for n in range(a + b):
        peer = "127.1.%d.%d" % (n // 250 % 250, n % 250 + 1)
        put(frame(peer, 40000 + n % 20000, 53 + n // 62500))
        if n < a and n % REFRESH == REFRESH - 1:
            for f in longs:
                put(f)
    craft.write(os.path.dirname(path) or ".", os.path.basename(path), craft.pcap_bytes(1, recs))


if __name__ == "__main__":
    main()
