#!/usr/bin/env python3
"""encap.py: writes the encapsulation test captures in pcaps/ (standard library only).

Owns: demo-erspan.pcap and demo-vxlan.pcap (every frame of pcaps/demo.pcap
wrapped as a mirror session delivers it, same timestamps), and one crafted
capture per family of encapsulation: encap-gre.pcap (ERSPAN I and III, GRE
keys/sequence, GRE in GRE, Ethernet bridging, PPTP), encap-udp.pcap (VXLAN,
GENEVE, GTP-U, Teredo, AYIYA, GRE in UDP), encap-ipip.pcap (4in4, 6in4,
4in6, 6in6), encap-l2.pcap (MPLS, PPPoE over QinQ, PBB, VN-tag, FabricPath),
encap-ppp.pcap (DLT_PPP), encap-radiotap.pcap (802.11 behind radiotap),
encap-tenants.pcap (two VXLAN tenants with identical inner addresses),
encap-bomb.pcap (tunnels nested too deep, cut tunnel headers) and
encap-vxlan-port.pcap (VXLAN on UDP 8472, for --vxlan-port).
Each inner conversation is its own flow; packet builders come from craft.py.
Output is deterministic.

Usage: python3 tests/gen/encap.py [OUTDIR]   (default: pcaps/ beside tests/)
"""
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from craft import (HOST, REQ, RESP, T0, Tcp, _ipid, eth, ip_for, ipv4, ipv6,  # noqa: E402
                   pcap_bytes, stamp, udp_dgram, write)

MAC_SW = bytes.fromhex("02000000aa01")  # the mirroring switch / VTEP
MAC_SENSOR = bytes.fromhex("02000000aa02")
SW, SENSOR = "192.0.2.1", "192.0.2.2"  # TEST-NET-1: outer addresses of the sessions
VTEP1, VTEP2 = "198.51.100.1", "198.51.100.2"
SW6, SENSOR6 = "2001:db8:ffff::1", "2001:db8:ffff::2"

# ---------------------------------------------------------------- outer layers


def outer_eth(ip):
    return eth(ip, src=MAC_SW, dst=MAC_SENSOR)


def gre(proto, payload, key=None, seq=None, csum=False):
    """GRE header (RFC 2784/2890): flags C, K, S as asked."""
    flags = (0x8000 if csum else 0) | (0x2000 if key is not None else 0) | \
        (0x1000 if seq is not None else 0)
    h = struct.pack("!HH", flags, proto)
    if csum:
        h += b"\0\0\0\0"  # checksum not verified by anyone here
    if key is not None:
        h += struct.pack("!I", key)
    if seq is not None:
        h += struct.pack("!I", seq)
    return h + payload


def erspan2(frame, seq, session=1, vlan=0):
    hdr = struct.pack("!HHI", 0x1000 | vlan, session & 0x3FF, 0)
    return gre(0x88BE, hdr + frame, seq=seq)


def erspan3(frame, seq, session=2, ts=0):
    # ver 2, VLAN 0 | COS/BSO/T, session | timestamp | SGT | P/FT=0/HWID/D/Gra/O=1
    hdr = struct.pack("!HHIHH", 0x2000, session & 0x3FF, ts, 0, 0x0001)
    sub = struct.pack("!II", 0x00000000, ts)  # platform specific sub-header (platf id 0)
    return gre(0x22EB, hdr + sub + frame, seq=seq)


def over_ip4(src, dst, proto, payload):
    return ipv4(src, dst, proto, payload, df=False)


def udp_tun(sport, dport, payload, src=VTEP1, dst=VTEP2):
    return outer_eth(ipv4(src, dst, 17, udp_dgram(src, dst, sport, dport, payload), df=False))


def vxlan(frame, vni):
    return struct.pack("!II", 0x08000000, vni << 8) + frame


# ---------------------------------------------------------------- demo wrapped


def read_pcap(path):
    """(link type, [(sec, usec, caplen-bytes, orig_len)]) of a little-endian pcap."""
    with open(path, "rb") as f:
        d = f.read()
    magic, _, _, _, _, _, link = struct.unpack("<IHHiIII", d[:24])
    assert magic == 0xA1B2C3D4, "demo.pcap is expected little-endian, microseconds"
    out, o = [], 24
    while o < len(d):
        sec, usec, cap, olen = struct.unpack("<IIII", d[o:o + 16])
        out.append((sec, usec, d[o + 16:o + 16 + cap], olen))
        o += 16 + cap
    return link, out


def pcap_exact(link, recs):
    """Like craft.pcap_bytes, but keeps (sec, usec) exactly."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link)]
    for sec, usec, data, olen in recs:
        out.append(struct.pack("<IIII", sec, usec, len(data), olen) + data)
    return b"".join(out)


def demo_wrapped(demo, kind):
    link, recs = read_pcap(demo)
    assert link == 1
    out = []
    for i, (sec, usec, frame, olen) in enumerate(recs):
        _ipid[0] = i % 65535  # outer IP ids follow the frame number
        if kind == "erspan":
            w = outer_eth(over_ip4(SW, SENSOR, 47, erspan2(frame, seq=i, session=1)))
        else:
            sport = 49152 + (sum(frame[26:38]) % 16384)  # the VTEP's flow-hash port
            w = udp_tun(sport, 4789, vxlan(frame, 4242))
        out.append((sec, usec, w, olen + len(w) - len(frame)))
    return pcap_exact(1, out)


# ---------------------------------------------------------------- crafted


def conv(cli, cport, srv, sport):
    """One full HTTP exchange as IP packets (craft.Tcp.full)."""
    return Tcp(cli, cport, srv, sport).full(REQ, RESP)


def dns(cli, cport, srv):
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x02sm\x00\x00\x01\x00\x01"
    a = q[:2] + b"\x81\x80" + q[4:]
    return [ip_for(cli, srv, 17, udp_dgram(cli, srv, cport, 53, q)),
            ip_for(srv, cli, 17, udp_dgram(srv, cli, 53, cport, a))]


def cap_gre(base):
    f = []
    f += [outer_eth(over_ip4(SW, SENSOR, 47, gre(0x88BE, eth(p))))  # ERSPAN type I
          for p in conv("127.0.0.50", 50100, HOST, 80)]
    f += [outer_eth(over_ip4(SW, SENSOR, 47, erspan3(eth(p), seq=i, ts=i * 1000)))
          for i, p in enumerate(conv("127.0.0.51", 50101, HOST, 80))]
    f += [outer_eth(over_ip4(SW, SENSOR, 47, gre(0x0800, p, key=42, seq=i, csum=True)))
          for i, p in enumerate(dns(HOST, 40000, "127.0.0.66"))]
    inner = [over_ip4("10.9.0.1", "10.9.0.2", 47, gre(0x0800, p, key=7))  # GRE in GRE
             for p in conv("127.0.0.52", 50102, HOST, 443)]
    f += [outer_eth(over_ip4(SW, SENSOR, 47, gre(0x0800, p, key=8))) for p in inner]
    f += [outer_eth(over_ip4(SW, SENSOR, 47, gre(0x6558, eth(p), key=9)))  # bridging
          for p in conv("127.0.0.53", 50103, HOST, 7071)]
    for i, p in enumerate(conv("127.0.0.54", 50104, HOST, 80)):  # PPTP enhanced GRE
        ppp = b"\xff\x03\x00\x21" + p
        h = struct.pack("!HHHHI", 0x3001, 0x880B, len(ppp), 0x0101, i)
        f.append(outer_eth(over_ip4(SW, SENSOR, 47, h + ppp)))
    return pcap_bytes(1, stamp(base, f))


def cap_udp(base):
    f = []
    f += [udp_tun(50000, 4789, vxlan(eth(p), 7)) for p in conv("127.0.0.50", 50200, HOST, 80)]
    opt = struct.pack("!HBBI", 0x0102, 0x03, 1, 0xCAFEF00D)  # one 4-byte option
    f += [udp_tun(50001, 6081, struct.pack("!BBHI", len(opt) // 4, 0, 0x6558, 5 << 8) + opt +
                  eth(p)) for p in conv("127.0.0.51", 50201, HOST, 443)]
    for i, p in enumerate(conv("127.0.0.52", 50202, HOST, 7443)):  # GTP-U with sequence
        g = struct.pack("!BBHIHBB", 0x32, 0xFF, len(p) + 4, 0x11223344, i, 0, 0) + p
        f.append(udp_tun(2152, 2152, g))
    tcli, tsrv = "2001:0:4136:e378:8000:63bf:3fff:fdd2", "2001:db8::10"
    for i, p in enumerate(Tcp(tcli, 50203, tsrv, 80).full(REQ, RESP)):  # Teredo
        down = p[8:24] == socket_pton6(tsrv)  # server -> client: via the relay
        orig = struct.pack("!HH4s", 0, 0x1234, b"\x3f\xff\xff\xfe") if down else b""
        f.append(udp_tun(3544, 50300, orig + p) if down else udp_tun(50300, 3544, p))
    ay = struct.pack("!BBBBI", 0x41, 0x52, 0x11, 4, 0) + b"\x00" * (16 + 20)
    f += [udp_tun(50301, 5072, ay + p) if i % 2 == 0 else udp_tun(5072, 50301, ay + p)
          for i, p in enumerate(conv("127.0.0.53", 50204, HOST, 80))]
    f += [udp_tun(50302, 4754, gre(0x0800, p)) for p in dns(HOST, 40001, "127.0.0.66")]
    return pcap_bytes(1, stamp(base, f))


def socket_pton6(a):
    import socket
    return socket.inet_pton(socket.AF_INET6, a)


def cap_ipip(base):
    f = []
    f += [outer_eth(over_ip4(SW, SENSOR, 4, p)) for p in conv("127.0.0.50", 50300, HOST, 80)]
    f += [outer_eth(over_ip4(SW, SENSOR, 41, p))
          for p in Tcp("2001:db8::50", 50301, "2001:db8::10", 80).full(REQ, RESP)]
    f += [outer_eth(ipv6(SW6, SENSOR6, 4, p)) for p in conv("127.0.0.51", 50302, HOST, 443)]
    f += [outer_eth(ipv6(SW6, SENSOR6, 41, p))
          for p in Tcp("2001:db8::51", 50303, "2001:db8::10", 443).full(REQ, RESP)]
    return pcap_bytes(1, stamp(base, f))


def mpls(labels, payload):
    out = b""
    for i, lab in enumerate(labels):
        out += struct.pack("!I", lab << 12 | (1 << 8 if i == len(labels) - 1 else 0) | 64)
    return out + payload


def cap_l2(base):
    f = []
    f += [eth(mpls([100, 200], p), ethertype=0x8847, tags=[(0x8100, 20)])  # MPLS in VLAN
          for p in conv("127.0.0.50", 50400, HOST, 80)]
    for p in conv("127.0.0.51", 50401, HOST, 80):  # PPPoE session over QinQ
        ppp = struct.pack("!H", 0x0021) + p
        f.append(eth(struct.pack("!BBHH", 0x11, 0, 0x0001, len(ppp)) + ppp, ethertype=0x8864,
                     tags=[(0x88A8, 100), (0x8100, 10)]))
    for p in conv("127.0.0.52", 50402, HOST, 443):  # PBB: B-TAG, I-TAG, customer frame
        itag = struct.pack("!I", 0x00012345)
        f.append(eth(itag + eth(p, pad=False), ethertype=0x88E7, tags=[(0x88A8, 5)],
                     src=MAC_SW, dst=MAC_SENSOR))
    for p in conv("127.0.0.53", 50403, HOST, 7071):  # VN-tag
        f.append(eth(struct.pack("!IH", 0x80010002, 0x0800) + p, ethertype=0x8926))
    for p in conv("127.0.0.54", 50404, HOST, 5222):  # FabricPath: outer header, FTag/TTL
        f.append(eth(struct.pack("!H", 0x0120) + eth(p, pad=False), ethertype=0x8903,
                     src=MAC_SW, dst=MAC_SENSOR))
    return pcap_bytes(1, stamp(base, f))


def cap_ppp(base):
    return pcap_bytes(9, stamp(base, [b"\xff\x03\x00\x21" + p
                                      for p in conv("127.0.0.50", 50500, HOST, 80)]))


def cap_radiotap(base):
    rt = struct.pack("<BBHI", 0, 0, 8, 0)  # radiotap v0, no fields
    beacon = rt + b"\x80\x00" + b"\0" * 22 + b"\0" * 12
    f = [beacon]
    for i, p in enumerate(conv("127.0.0.50", 50600, HOST, 80)):
        fc = b"\x88\x01" if i % 2 == 0 else b"\x88\x02"  # QoS data, to / from DS
        hdr = fc + b"\0\0" + b"\x02\0\0\0\0\x01" * 3 + b"\0\0" + b"\0\0"  # + QoS control
        f.append(rt + hdr + b"\xaa\xaa\x03\x00\x00\x00\x08\x00" + p)
    return pcap_bytes(127, stamp(base, f))


def cap_tenants(base):
    """Two VXLAN tenants (VNI 100 and 200) whose inner packets are identical:
    two flows, not one."""
    f = []
    a = conv("10.0.0.5", 50700, "10.0.0.10", 80)
    b = conv("10.0.0.5", 50700, "10.0.0.10", 80)
    for pa, pb in zip(a, b):
        f.append(udp_tun(50010, 4789, vxlan(eth(pa), 100)))
        f.append(udp_tun(50020, 4789, vxlan(eth(pb), 200), src="198.51.100.3"))
    return pcap_bytes(1, stamp(base, f))


def cap_vxlan_port(base):
    """VXLAN on UDP 8472 (Linux's pre-IANA default): VXLAN only with --vxlan-port."""
    return pcap_bytes(1, stamp(base, [udp_tun(50030, 8472, vxlan(eth(p), 9))
                                      for p in conv("127.0.0.55", 50900, HOST, 80)]))


def cap_bomb(base):
    """One good flow, then: IP-in-GRE nested 20 deep, a GRE header and a VXLAN
    header cut by the snap length (caplen < len), an IP-in-IP whose payload
    is not IP. Only the good flow is a flow; the rest is malformed."""
    good = conv("127.0.0.50", 50800, HOST, 80)
    bomb = ipv4("127.0.0.66", HOST, 6, b"\0" * 20)
    for _ in range(20):
        bomb = over_ip4(SW, SENSOR, 47, gre(0x0800, bomb))
    cut_gre = outer_eth(over_ip4(SW, SENSOR, 47, gre(0x0800, good[0], key=1)))
    cut_vxlan = udp_tun(50000, 4789, vxlan(eth(good[0]), 1))
    not_ip = outer_eth(over_ip4(SW, SENSOR, 4, b"\x55" * 40))
    recs = [(base + i * 0.01, outer_eth(p)) for i, p in enumerate(good[:3])]
    recs += [(base + 0.03, outer_eth(bomb)),
             (base + 0.04, cut_gre[:14 + 20 + 6], len(cut_gre)),  # inside the key
             (base + 0.05, cut_vxlan[:14 + 20 + 8 + 4], len(cut_vxlan)),  # inside VXLAN
             (base + 0.06, not_ip)]
    recs += [(base + 0.07 + i * 0.01, outer_eth(p)) for i, p in enumerate(good[3:])]
    return pcap_bytes(1, recs)


CAPTURES = [
    ("encap-gre.pcap", cap_gre), ("encap-udp.pcap", cap_udp), ("encap-ipip.pcap", cap_ipip),
    ("encap-l2.pcap", cap_l2), ("encap-ppp.pcap", cap_ppp),
    ("encap-radiotap.pcap", cap_radiotap), ("encap-tenants.pcap", cap_tenants),
    ("encap-bomb.pcap", cap_bomb), ("encap-vxlan-port.pcap", cap_vxlan_port),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "pcaps")
    demo = os.path.join(here, "..", "..", "pcaps", "demo.pcap")
    os.makedirs(outdir, exist_ok=True)
    write(outdir, "demo-erspan.pcap", demo_wrapped(demo, "erspan"))
    write(outdir, "demo-vxlan.pcap", demo_wrapped(demo, "vxlan"))
    for i, (name, fn) in enumerate(CAPTURES):
        _ipid[0] = 0x8000 + i * 0x100
        write(outdir, name, fn(T0 + 86400 + i * 3600))
    return 0


if __name__ == "__main__":
    sys.exit(main())
