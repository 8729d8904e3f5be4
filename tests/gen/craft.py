#!/usr/bin/env python3
"""craft.py: writes the crafted test captures in pcaps/ (standard library only).

Owns: every capture that loopback recording cannot show (other link types,
VLAN tags, IPv6 extension headers, fragments, mid-stream flows, one TCP
connection per Zeek conn_state, snap-length cuts, broken files).
Output is deterministic: same bytes on every run (fixed timestamps, fixed
sequence numbers, fixed IP ids).

Usage: python3 tests/gen/craft.py [OUTDIR]   (default: pcaps/ beside tests/)
"""
import os
import socket
import struct
import sys

T0 = 1793491200  # 2026-11-01 00:00:00 UTC

HOST = "127.0.0.10"
MAC_HOST = bytes.fromhex("020000000010")
MAC_PEER = bytes.fromhex("020000000050")

# ---------------------------------------------------------------- checksums


def csum(data):
    """Internet checksum (RFC 1071) of data."""
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def is_v6(addr):
    return ":" in addr


def pton(addr):
    return socket.inet_pton(socket.AF_INET6 if is_v6(addr) else socket.AF_INET, addr)


def pseudo(src, dst, proto, length):
    if is_v6(src):
        return pton(src) + pton(dst) + struct.pack("!IxxxB", length, proto)
    return pton(src) + pton(dst) + struct.pack("!xBH", proto, length)


# ---------------------------------------------------------------- layer 4


def tcp_seg(src, dst, sport, dport, seq, ack, flags, payload=b"", win=65483, doff=None):
    """TCP header + payload with a correct checksum; flags is a string of SAFRP."""
    bits = 0
    for ch, b in (("F", 1), ("S", 2), ("R", 4), ("P", 8), ("A", 16)):
        if ch in flags:
            bits |= b
    off = 5 if doff is None else doff
    hdr = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF,
                      off << 4, bits, win, 0, 0)
    seg = hdr + payload
    c = csum(pseudo(src, dst, 6, len(seg)) + seg)
    return seg[:16] + struct.pack("!H", c) + seg[18:]


def udp_dgram(src, dst, sport, dport, payload):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    c = csum(pseudo(src, dst, 17, len(seg)) + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def icmp_echo(typ, ident, seqno, payload, v6=False, src=None, dst=None):
    msg = struct.pack("!BBHHH", typ, 0, 0, ident, seqno) + payload
    if v6:
        c = csum(pseudo(src, dst, 58, len(msg)) + msg)
    else:
        c = csum(msg)
    return msg[:2] + struct.pack("!H", c) + msg[4:]


# ---------------------------------------------------------------- layer 3

_ipid = [0x1000]


def ipv4(src, dst, proto, payload, ident=None, df=True, mf=False, frag_off=0, ihl=5,
         total_len=None):
    """IPv4 header (+payload); frag_off in bytes (multiple of 8)."""
    if ident is None:
        _ipid[0] += 1
        ident = _ipid[0]
    flags = (0x4000 if df else 0) | (0x2000 if mf else 0) | (frag_off // 8)
    tl = 20 + len(payload) if total_len is None else total_len
    hdr = struct.pack("!BBHHHBBH4s4s", 0x40 | ihl, 0, tl, ident, flags, 64, proto, 0,
                      pton(src), pton(dst))
    hdr = hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:]
    return hdr + payload


def ipv6(src, dst, nxt, payload, ext=()):
    """IPv6 header, optional extension headers [(type, body)], then payload.

    ext is a list of header types (0 hop-by-hop, 60 destination options); each
    gets an 8-byte header carrying one PadN option."""
    chain = b""
    types = list(ext)
    for i, t in enumerate(types):
        following = types[i + 1] if i + 1 < len(types) else nxt
        chain += struct.pack("!BB", following, 0) + b"\x01\x04\0\0\0\0"
    first = types[0] if types else nxt
    body = chain + payload
    return struct.pack("!IHBB16s16s", 6 << 28, len(body), first, 64, pton(src), pton(dst)) + body


def ip_for(src, dst, proto, l4, ext=()):
    if is_v6(src):
        return ipv6(src, dst, proto, l4, ext)
    return ipv4(src, dst, proto, l4)


# ---------------------------------------------------------------- layer 2


def eth(ip, ethertype=None, tags=(), src=MAC_PEER, dst=MAC_HOST, pad=True):
    """Ethernet II frame around ip; tags is a list of (tpid, vid)."""
    if ethertype is None:
        ethertype = 0x86DD if (ip[0] >> 4) == 6 else 0x0800
    f = dst + src
    for tpid, vid in tags:
        f += struct.pack("!HH", tpid, vid)
    f += struct.pack("!H", ethertype) + ip
    if pad and len(f) < 60:
        f += b"\0" * (60 - len(f))
    return f


def sll(ip, pkttype=0):
    proto = 0x86DD if (ip[0] >> 4) == 6 else 0x0800
    return struct.pack("!HHH8sH", pkttype, 772, 6, b"\0" * 8, proto) + ip


def sll2(ip, pkttype=0):
    proto = 0x86DD if (ip[0] >> 4) == 6 else 0x0800
    return struct.pack("!HHIHBB8s", proto, 0, 1, 772, pkttype, 6, b"\0" * 8) + ip


def null_lo(ip):
    fam = 2 if (ip[0] >> 4) == 4 else 30
    return struct.pack("<I", fam) + ip  # host byte order (little endian writer)


# ---------------------------------------------------------------- TCP helper


class Tcp:
    """One TCP connection; each method returns the IP packet for one segment."""

    def __init__(self, cli, cport, srv, sport, cisn=1000, sisn=5000, ext=()):
        self.c, self.cp, self.s, self.sp = cli, cport, srv, sport
        self.cseq, self.sseq = cisn, sisn
        self.ext = ext

    def _pkt(self, from_cli, flags, payload=b"", seq=None, ack=None, doff=None):
        if from_cli:
            src, dst, sp, dp = self.c, self.s, self.cp, self.sp
            s = self.cseq if seq is None else seq
            a = self.sseq if ack is None else ack
        else:
            src, dst, sp, dp = self.s, self.c, self.sp, self.cp
            s = self.sseq if seq is None else seq
            a = self.cseq if ack is None else ack
        if "A" not in flags:
            a = 0
        seg = tcp_seg(src, dst, sp, dp, s, a, flags, payload, doff=doff)
        adv = len(payload) + (1 if "S" in flags else 0) + (1 if "F" in flags else 0)
        if seq is None and "R" not in flags:
            if from_cli:
                self.cseq += adv
            else:
                self.sseq += adv
        return ip_for(src, dst, 6, seg, self.ext)

    def syn(self):
        return self._pkt(True, "S")

    def synack(self):
        return self._pkt(False, "SA")

    def ack(self, from_cli=True):
        return self._pkt(from_cli, "A")

    def data(self, from_cli, payload):
        return self._pkt(from_cli, "PA", payload)

    def fin(self, from_cli):
        return self._pkt(from_cli, "FA")

    def rst(self, from_cli, with_ack=True):
        return self._pkt(from_cli, "RA" if with_ack else "R")

    def handshake(self):
        return [self.syn(), self.synack(), self.ack()]

    def close(self, first_cli=True):
        return [self.fin(first_cli), self.ack(not first_cli), self.fin(not first_cli),
                self.ack(first_cli)]

    def full(self, req, resp):
        return self.handshake() + [self.data(True, req), self.ack(False), self.data(False, resp),
                                   self.ack(True)] + self.close(True)


# ---------------------------------------------------------------- file writers


def pcap_bytes(linktype, records, snaplen=262144, le=True):
    """records: list of (ts_float, frame_bytes[, orig_len]) -> whole pcap file."""
    e = "<" if le else ">"
    out = [struct.pack(e + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, snaplen, linktype)]
    for r in records:
        ts, data = r[0], r[1]
        olen = r[2] if len(r) > 2 else len(data)
        cap = data[:snaplen]
        sec = int(ts)
        usec = int(round((ts - sec) * 1e6))
        out.append(struct.pack(e + "IIII", sec, usec, len(cap), olen) + cap)
    return b"".join(out)


def stamp(base, frames, step=0.01):
    return [(base + i * step, f) for i, f in enumerate(frames)]


def write(outdir, name, data):
    with open(os.path.join(outdir, name), "wb") as fh:
        fh.write(data)


# ---------------------------------------------------------------- captures

REQ = b"GET / HTTP/1.1\r\nHost: sm\r\n\r\n"
RESP = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"


def cap_vlan(base):
    t = Tcp("127.0.0.50", 50000, HOST, 80)
    return pcap_bytes(1, stamp(base, [eth(p, tags=[(0x8100, 10)]) for p in t.full(REQ, RESP)]))


def cap_qinq(base):
    t = Tcp("127.0.0.51", 50001, HOST, 80)
    frames = [eth(p, tags=[(0x88A8, 100), (0x8100, 10)]) for p in t.full(REQ, RESP)]
    return pcap_bytes(1, stamp(base, frames))


def cap_ipv6(base):
    c, s, r = "2001:db8::50", "2001:db8::10", "2001:db8::66"
    t = Tcp(c, 50002, s, 80, ext=(0, 60))
    pkts = t.full(REQ, RESP)
    body = bytes(range(32))
    req = ipv6(s, r, 58, icmp_echo(128, 0x77, 1, body, True, s, r))
    rep = ipv6(r, s, 58, icmp_echo(129, 0x77, 1, body, True, r, s))
    return pcap_bytes(1, stamp(base, [eth(p) for p in pkts + [req, rep]]))


def _generic_flows():
    """A TCP connection and a UDP exchange, used for the plain link types."""
    t = Tcp("127.0.0.50", 50010, HOST, 7071)
    pkts = t.full(b"POST /http-bind HTTP/1.1\r\nContent-Length: 0\r\n\r\n", RESP)
    q = udp_dgram(HOST, "127.0.0.66", 40053, 53, b"\x12\x34\x01\x00\x00\x01\0\0\0\0\0\0"
                  b"\x02sm\x00\x00\x01\x00\x01")
    a = udp_dgram("127.0.0.66", HOST, 53, 40053, b"\x12\x34\x81\x80\x00\x01\x00\x00\0\0\0\0"
                  b"\x02sm\x00\x00\x01\x00\x01")
    return pkts + [ipv4(HOST, "127.0.0.66", 17, q), ipv4("127.0.0.66", HOST, 17, a)]


def cap_sll(base):
    pk = _generic_flows()
    return pcap_bytes(113, stamp(base, [sll(p, 0 if i % 2 else 4) for i, p in enumerate(pk)]))


def cap_sll2(base):
    pk = _generic_flows()
    return pcap_bytes(276, stamp(base, [sll2(p, 0 if i % 2 else 4) for i, p in enumerate(pk)]))


def cap_null(base):
    return pcap_bytes(0, stamp(base, [null_lo(p) for p in _generic_flows()]))


def cap_raw(base):
    pk = _generic_flows()
    u6 = udp_dgram("2001:db8::10", "2001:db8::66", 40123, 123, b"\x23" + b"\0" * 47)
    u6r = udp_dgram("2001:db8::66", "2001:db8::10", 123, 40123, b"\x24" + b"\0" * 47)
    pk += [ipv6("2001:db8::10", "2001:db8::66", 17, u6), ipv6("2001:db8::66", "2001:db8::10", 17, u6r)]
    return pcap_bytes(101, stamp(base, pk))


def cap_frag(base):
    src, dst = HOST, "127.0.0.66"
    payload = bytes((i * 7) & 0xFF for i in range(3000))
    dg = udp_dgram(src, dst, 42000, 514, payload)  # 3008 bytes of UDP
    cuts = [(0, 1200), (1200, 2400), (2400, len(dg))]
    frames = []
    for i, (a, b) in enumerate(cuts):
        frames.append(ipv4(src, dst, 17, dg[a:b], ident=0x4242, df=False,
                           mf=(i < 2), frag_off=a))
    reply = ipv4(dst, src, 17, udp_dgram(dst, src, 514, 42000, b"ack"))
    orphan = ipv4("127.0.0.67", HOST, 17, bytes(64), ident=0x5151, df=False, mf=False,
                  frag_off=1480)
    return pcap_bytes(1, stamp(base, [eth(p) for p in frames + [reply, orphan]]))


def cap_midstream(base):
    a = Tcp("127.0.0.50", 51000, HOST, 443, cisn=70000, sisn=90000)
    pk = [a.data(True, b"\x17\x03\x03\x00\x10" + bytes(16)),
          a.data(False, b"\x17\x03\x03\x00\x20" + bytes(32)),
          a.ack(True),
          a.data(True, b"\x17\x03\x03\x00\x08" + bytes(8)),
          a.ack(False)]
    b = Tcp("127.0.0.51", 40000, HOST, 80, cisn=30000, sisn=60000)
    pk += [b.data(False, b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone"),
           b.ack(True),
           b.data(True, b"GET /more HTTP/1.1\r\nHost: sm\r\n\r\n"),
           b.data(False, b"HTTP/1.1 204 No Content\r\n\r\n"),
           b.fin(False), b.ack(True), b.fin(True), b.ack(False)]
    return pcap_bytes(1, stamp(base, [eth(p) for p in pk]))


def cap_states(base):
    """One TCP connection per Zeek conn_state; client ports 41001.. in order."""
    cl = "127.0.0.52"
    pk = []

    def conn(port, sport=80):
        return Tcp(cl, port, HOST, sport, cisn=port * 1000, sisn=port * 3000)

    t = conn(41001)  # S0
    pk += [t.syn()]
    t = conn(41002)  # REJ
    pk += [t.syn(), t.rst(False)]
    t = conn(41003)  # SF
    pk += t.full(REQ, RESP)
    t = conn(41004)  # S1
    pk += t.handshake() + [t.data(True, REQ), t.ack(False)]
    t = conn(41005)  # RSTO
    pk += t.handshake() + [t.data(True, REQ), t.ack(False), t.rst(True)]
    t = conn(41006)  # RSTR
    pk += t.handshake() + [t.data(True, REQ), t.rst(False)]
    t = conn(41007)  # SH
    pk += [t.syn(), t.fin(True)]
    t = conn(41008)  # RSTOS0
    pk += [t.syn(), t.rst(True, with_ack=False)]
    t = conn(41009)  # S2
    pk += t.handshake() + [t.data(True, REQ), t.ack(False), t.fin(True), t.ack(False)]
    t = conn(41010)  # S3
    pk += t.handshake() + [t.data(True, REQ), t.data(False, RESP), t.fin(False), t.ack(True)]
    t = conn(41011, 7071)  # OTH: mid-stream, no SYN, no FIN
    pk += [t.data(True, REQ), t.data(False, RESP), t.ack(True)]
    return pcap_bytes(1, stamp(base, [eth(p) for p in pk]))


def cap_caplen(base):
    snap = 64
    t = Tcp("127.0.0.53", 52000, HOST, 80)
    big_req = b"POST /api HTTP/1.1\r\nContent-Length: 160\r\n\r\n" + b"x" * 160
    big_resp = b"HTTP/1.1 200 OK\r\nContent-Length: 200\r\n\r\n" + b"y" * 200
    frames = [eth(p) for p in t.full(big_req, big_resp)]
    recs = [(base + i * 0.01, f, len(f)) for i, f in enumerate(frames)]
    n = len(recs)
    # IPv4 total length smaller than the frame: a small UDP datagram in a
    # 60-byte Ethernet frame plus 20 extra trailer bytes (padding).
    u = ipv4("127.0.0.53", HOST, 17, udp_dgram("127.0.0.53", HOST, 52001, 9, b"pad"))
    f = eth(u)
    recs.append((base + n * 0.01, f, len(f)))
    # IHL 4 (< 5): bad header; the checksum is computed over the 16 bytes
    # the header claims, everything else looks like TCP to port 80.
    bad = ipv4("127.0.0.53", HOST, 6, tcp_seg("127.0.0.53", HOST, 52002, 80, 1, 0, "S"), ihl=4)
    f = eth(bad)
    recs.append((base + (n + 1) * 0.01, f, len(f)))
    # TCP data offset 3 (< 5)
    seg = tcp_seg("127.0.0.53", HOST, 52003, 80, 1, 0, "S", doff=3)
    f = eth(ipv4("127.0.0.53", HOST, 6, seg))
    recs.append((base + (n + 2) * 0.01, f, len(f)))
    return pcap_bytes(1, recs, snaplen=snap)


def cap_truncated(base):
    t = Tcp("127.0.0.54", 53000, HOST, 80)
    whole = pcap_bytes(1, stamp(base, [eth(p) for p in t.full(REQ, RESP)]))
    # Add one more record (a data packet of a second connection) and cut it
    # in the middle of its packet data.
    u = Tcp("127.0.0.54", 53001, HOST, 80)
    extra = pcap_bytes(1, [(base + 1.0, eth(u.syn()))])[24:]
    return whole + extra[: 16 + 30]


def cap_unknown(base):
    recs = [(base, b"\x01\x02\x03\x04" * 8), (base + 0.01, b"\x05\x06\x07\x08" * 8)]
    return pcap_bytes(147, recs)


def pcapng_bytes(blocks):
    """blocks: ("idb", linktype) or ("epb", iface, ts_float, frame) -> pcapng file
    (little-endian, one section, microsecond timestamps)."""
    def block(btype, body):
        body += b"\0" * (-len(body) % 4)
        n = 12 + len(body)
        return struct.pack("<II", btype, n) + body + struct.pack("<I", n)
    out = [block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    for b in blocks:
        if b[0] == "idb":
            out.append(block(1, struct.pack("<HHI", b[1], 0, 262144)))
        else:
            _, iface, ts, frame = b
            us = int(round(ts * 1e6))
            out.append(block(6, struct.pack("<IIIII", iface, us >> 32, us & 0xFFFFFFFF,
                                            len(frame), len(frame)) + frame))
    return b"".join(out)


def cap_late_link(base):
    """An Ethernet interface with one HTTP connection, then a second interface
    (Linux cooked) declared after those packets, then one DNS query on it."""
    t = Tcp("127.0.0.55", 54000, HOST, 80)
    recs = [("idb", 1)]
    recs += [("epb", 0, ts, f) for ts, f in stamp(base, [eth(p) for p in t.full(REQ, RESP)])]
    dns = ip_for(HOST, "127.0.0.66", 17, udp_dgram(HOST, "127.0.0.66", 43000, 53, b"\0" * 17))
    recs += [("idb", 113), ("epb", 1, base + 1.0, sll(dns))]
    return pcapng_bytes(recs)
def cap_roles(base):
    """Who is the client when the start was missed (TCP) or the server spoke
    first (UDP): ports decide, as listed in pcaps/README.md."""
    pk = []
    # (a) mid-stream, neither port a service port: host:8445 speaks first to
    # 127.0.0.53:37789 (Linux ephemeral range): .53 is the client
    a = Tcp("127.0.0.53", 37789, HOST, 8445, cisn=11000, sisn=21000)
    pk += [a.data(False, b"\x16\x03\x03\x00\x20" + bytes(32)), a.ack(True),
           a.data(True, b"\x17\x03\x03\x00\x10" + bytes(16)),
           a.data(False, b"\x17\x03\x03\x00\x10" + bytes(16)), a.ack(True)]
    # (b) mid-stream, both ports ephemeral: the first sender is the client
    b = Tcp("127.0.0.55", 50000, HOST, 40000, cisn=12000, sisn=22000)
    pk += [b.data(True, b"ping"), b.data(False, b"pong"), b.ack(True)]
    # (c) DHCP (236-byte BOOTP header, magic cookie, message type option), the
    # server's DHCPACK seen first: 67/udp is a likely server port
    # and 68/udp is not (Zeek), so the flow is flipped: orig = host:68
    boot = b"\x02\x01\x06\x00" + bytes(232) + b"\x63\x82\x53\x63\x35\x01\x05\xff"
    req = b"\x01\x01\x06\x00" + bytes(232) + b"\x63\x82\x53\x63\x35\x01\x03\xff"
    pk += [ipv4("127.0.0.66", HOST, 17, udp_dgram("127.0.0.66", HOST, 67, 68, boot)),
           ipv4(HOST, "127.0.0.66", 17, udp_dgram(HOST, "127.0.0.66", 68, 67, req))]
    # (d) DHCP, the client's request first: not flipped
    pk += [ipv4(HOST, "127.0.0.67", 17, udp_dgram(HOST, "127.0.0.67", 68, 67, req)),
           ipv4("127.0.0.67", HOST, 17, udp_dgram("127.0.0.67", HOST, 67, 68, boot))]
    return pcap_bytes(1, stamp(base, [eth(p) for p in pk]))


def cap_gaps(base):
    """Content gaps: segments the capture missed, then acknowledged."""
    pk = []
    part1 = b"POST /api HTTP/1.1\r\nContent-Length: 20\r\n\r\n"
    # (a) .56 -> host:80: the request's first segment and the response's
    # second segment are missing from the capture; each is acknowledged
    a = Tcp("127.0.0.56", 54000, HOST, 80, cisn=31000, sisn=41000)
    pk += a.handshake()
    a.data(True, part1)  # not captured
    pk += [a.data(True, b"x" * 20), a.ack(False)]
    pk += [a.data(False, b"HTTP/1.1 200 OK\r\n")]
    a.data(False, b"Content-Length: 0\r\n\r\n")  # not captured
    pk += [a.ack(True)] + a.close(True)
    # (b) .57 -> host:80: the request's two segments arrive out of order: a
    # retransmission-like T, no gap
    b = Tcp("127.0.0.57", 54001, HOST, 80, cisn=32000, sisn=42000)
    pk += b.handshake()
    first = b.data(True, part1)
    pk += [b.data(True, b"y" * 20), first, b.ack(False), b.data(False, RESP), b.ack(True)]
    pk += b.close(True)
    # (c) .58 -> host:80 picked up mid-stream with a segment missing: never
    # established, so no gap is claimed
    c = Tcp("127.0.0.58", 54002, HOST, 80, cisn=33000, sisn=43000)
    pk += [c.data(True, b"GET /a HTTP/1.1\r\n\r\n")]
    c.data(True, b"GET /b HTTP/1.1\r\n\r\n")  # not captured
    pk += [c.data(True, b"GET /c HTTP/1.1\r\n\r\n"), c.ack(False)]
    return pcap_bytes(1, stamp(base, [eth(p) for p in pk]))
# A Host header written to inject markup into a report (shown escaped).
HOSTILE_HOST = b"<script>alert(1)</script><img/src=x/onerror=alert(2)>\"'&"


def cap_suggest(base):
    """Site roles to be found from traffic, a planted rogue peer, a hostile Host.

    Flows (host 127.0.0.10; client ports from 45001 up, in this order):
    uccx .21 -> host:5222 twice; host -> .21:443 twice; cuic .22 -> host:1526;
    host -> mail .23:25; host -> exchange .24:993 and :587; host -> xmpp .25:5222;
    the rogue: host -> .66:443 once (a second 443 peer, one flow); a browser
    .50 -> host:80; .67 -> host:8080 HTTP whose Host header is markup.
    """
    xmpp = b"<?xml version='1.0'?><stream:stream to='sm' xmlns='jabber:client' " \
           b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
    xmpp_r = b"<?xml version='1.0'?><stream:stream from='sm' id='1' " \
             b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' " \
             b"version='1.0'>"
    hello = b"\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00"
    flows = [("127.0.0.21", HOST, 5222, xmpp, xmpp_r), ("127.0.0.21", HOST, 5222, xmpp, xmpp_r),
             (HOST, "127.0.0.21", 443, hello, hello), (HOST, "127.0.0.21", 443, hello, hello),
             ("127.0.0.22", HOST, 1526, b"\x00\x10report", b"\x00\x04ok"),
             (HOST, "127.0.0.23", 25, b"EHLO sm\r\n", b"220 mail.example.test ESMTP\r\n"),
             (HOST, "127.0.0.24", 993, hello, hello),
             (HOST, "127.0.0.24", 587, b"EHLO sm\r\n", b"220 ex.example.test ESMTP\r\n"),
             (HOST, "127.0.0.25", 5222, xmpp, xmpp_r),
             (HOST, "127.0.0.66", 443, hello, hello),
             ("127.0.0.50", HOST, 80, REQ, RESP),
             ("127.0.0.67", HOST, 8080, b"GET / HTTP/1.1\r\nHost: " + HOSTILE_HOST + b"\r\n\r\n",
              RESP)]
    pk = []
    for i, (cli, srv, port, req, resp) in enumerate(flows):
        pk += Tcp(cli, 45001 + i, srv, port).full(req, resp)
    return pcap_bytes(1, stamp(base, [eth(p) for p in pk], step=1.0))


def cap_jumbo(base):
    """A loopback-sized connection (MTU 65536): two 20,000-byte segments
    between small ones of the same connection and of another, so a reader
    that holds small packets must work on them before a large one."""
    a = Tcp("127.0.0.56", 54000, HOST, 80)
    b = Tcp("127.0.0.56", 54001, HOST, 443)
    big1, big2 = b"y" * 20000, b"z" * 20000
    pkts = [a.syn(), b.syn(), a.synack(), b.synack(), a.ack(), b.ack(),
            a.data(True, REQ), b.data(True, b"hello"), a.data(False, big1), b.ack(False),
            a.ack(True), a.data(False, big2), b.data(False, b"world"), a.ack(True),
            b.ack(True)] + a.close(True) + b.close(False)
    return pcap_bytes(1, stamp(base, [eth(p) for p in pkts]))


CAPTURES = [
    ("vlan.pcap", cap_vlan), ("qinq.pcap", cap_qinq), ("ipv6.pcap", cap_ipv6),
    ("sll.pcap", cap_sll), ("sll2.pcap", cap_sll2), ("null.pcap", cap_null),
    ("raw.pcap", cap_raw), ("frag.pcap", cap_frag), ("midstream.pcap", cap_midstream),
    ("states.pcap", cap_states), ("caplen.pcap", cap_caplen),
    ("truncated.pcap", cap_truncated), ("unknown-link.pcap", cap_unknown),
    ("roles.pcap", cap_roles), ("gaps.pcap", cap_gaps),
    ("suggest.pcap", cap_suggest),
    ("late-link.pcapng", cap_late_link),
    ("jumbo.pcap", cap_jumbo),
]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "pcaps")
    os.makedirs(outdir, exist_ok=True)
    for i, (name, fn) in enumerate(CAPTURES):
        _ipid[0] = 0x1000 + i * 0x100
        write(outdir, name, fn(T0 + i * 3600))
    write(outdir, "empty.pcap", pcap_bytes(1, []))
    write(outdir, "zero.pcap", b"")
    write(outdir, "notpcap.pcap", b"This is not a capture file.\nIt is plain text, written by "
          b"tests/gen/craft.py so that smaudit can be tested on a non-pcap input.\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
