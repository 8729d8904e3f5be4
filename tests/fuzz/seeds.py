#!/usr/bin/env python3
"""seeds.py: every packet of the shipped pcap files as a fuzzer seed.

Writes OUTDIR/NAME-N with byte 0 = the index of the capture's link type in
fuzz_packet.c's list, then the captured frame. pcap (not pcapng) only.
Usage: python3 tests/fuzz/seeds.py OUTDIR pcaps/*.pcap"""
import os
import struct
import sys

DLTS = [1, 113, 276, 101, 0, 12, 228, 229, 108, 9, 50, 104, 51, 105, 127]  # = fuzz_packet.c


def packets(path):
    with open(path, "rb") as f:
        head = f.read(24)
        if len(head) < 24:
            return
        magic = struct.unpack("<I", head[:4])[0]
        order = {0xa1b2c3d4: "<", 0xa1b23c4d: "<", 0xd4c3b2a1: ">", 0x4d3cb2a1: ">"}.get(magic)
        if order is None:
            return
        link = struct.unpack(order + "I", head[20:24])[0] & 0xffff
        if link not in DLTS:
            return
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                return
            caplen = struct.unpack(order + "IIII", rec)[2]
            data = f.read(caplen)
            if len(data) < caplen:
                return
            yield DLTS.index(link), data


def main(argv):
    out = argv[1]
    os.makedirs(out, exist_ok=True)
    n = 0
    for path in argv[2:]:
        base = os.path.basename(path)
        for i, (dlt, data) in enumerate(packets(path)):
            with open(os.path.join(out, "%s-%d" % (base, i)), "wb") as fh:
                fh.write(bytes([dlt]) + data)
            n += 1
    print("seeds: %d packets" % n)


if __name__ == "__main__":
    main(sys.argv)
