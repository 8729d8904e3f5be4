#!/usr/bin/env python3
"""gen_flows.py: deterministic large captures for `make bench` (tests/bench/run.sh).

    gen_flows.py --flows N --layout mix  --window W [--dt-us D] OUT.pcap
    gen_flows.py --flows N --layout open [--dt-us D] OUT.pcap

Every flow touches the monitored host 127.0.0.10 (so every flow is stored when
smaudit runs with --host 127.0.0.10); peers are spread over 127.100.0.0 -
127.249.255.255, one address/port pair per flow, so flow keys never repeat.
Flow kinds cycle with the flow number (i % 10):
  0-3  TCP in,  peer -> host:443   TLS ClientHello (SNI) / ServerHello+CCS
  4-5  TCP in,  peer -> host:80    HTTP GET / 200 OK with a small HTML body
  6    TCP out, host -> peer:443   TLS ClientHello / ServerHello+CCS
  7-8  UDP out, host -> peer:53    DNS query / answer, twice
  9    UDP in,  peer -> host:7777  unknown binary datagrams, 4 of them
A TCP flow is SYN, SYN-ACK, ACK, request, response, ACK (its "opening part"),
then FIN-ACK, FIN-ACK, ACK (its "closing part"): 9 packets. A UDP flow's
opening part is the first half of its datagrams, the closing part the rest.

Layouts:
  mix   a window of W flows is open at once; packets are taken round-robin
        from the flows in the window, and a finished flow is replaced by the
        next one. W is the number of concurrently open flows.
  open  the opening part of every flow, flow after flow (so DPI finishes on
        each flow before the next starts), then the closing part of every
        flow: all N flows are open at once, with DPI done, at the midpoint.

Packet times start at 1700000000 s and advance by --dt-us per packet (keep
N * packets * dt well under the 60 s UDP idle timeout for `open`).
Ethernet link type, checksums zero (smaudit and nDPI do not check them).
Standard library only; the same arguments always give the same bytes.
Prints "packets flows peak_open" on stdout (peak_open: see Writer.peak_open).
"""
import argparse
import struct
import sys

HOST = bytes([127, 0, 0, 10])
ETH = b"\x00" * 12 + b"\x08\x00"
SYN, FIN, RST, PSH, ACK = 0x02, 0x01, 0x04, 0x08, 0x10


def peer_of(i):
    """A distinct (address, port) for flow i on 127.100.0.0 and above."""
    a = 1 + i % 250
    k = i // 250
    port = 20000 + k % 40000
    m = k // 40000
    return bytes([127, 100 + m // 250, 1 + m % 250, a]), port


def client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    vers_ext = struct.pack("!HHB", 43, 3, 2) + b"\x03\x04"
    groups_ext = struct.pack("!HHH", 10, 4, 2) + b"\x00\x1d"
    alpn = b"\x02h2\x08http/1.1"
    alpn_ext = struct.pack("!HHH", 16, len(alpn) + 2, len(alpn)) + alpn
    sig_ext = struct.pack("!HHH", 13, 8, 6) + b"\x04\x03\x08\x04\x04\x01"
    key_ext = struct.pack("!HHHHH", 51, 38, 36, 0x001d, 32) + bytes(range(100, 132))
    exts = sni_ext + vers_ext + groups_ext + alpn_ext + sig_ext + key_ext
    suites = b"\x13\x01\x13\x02\x13\x03\xc0\x2b\xc0\x2f\xc0\x2c\xc0\x30"
    body = (b"\x03\x03" + bytes(range(32)) + b"\x20" + bytes(range(32, 64))
            + struct.pack("!H", len(suites)) + suites + b"\x01\x00"
            + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello():
    exts = struct.pack("!HHH", 43, 2, 0x0304) + struct.pack("!HHHH", 51, 36, 0x001d, 32) \
        + bytes(range(140, 172))
    body = (b"\x03\x03" + bytes(range(64, 96)) + b"\x20" + bytes(range(32, 64)) + b"\x13\x01"
            + b"\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    # ServerHello, ChangeCipherSpec, then an encrypted-looking record
    return (b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"
            + b"\x17\x03\x03" + struct.pack("!H", 600) + bytes((i * 7) & 0xFF for i in range(600)))


def dns_name(name):
    return b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"


def dns_query(qid, name):
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(name) + b"\x00\x01\x00\x01"


def dns_answer(qid, name):
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + dns_name(name) + b"\x00\x01\x00\x01"
            + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x0a")


HTTP_REQ = (b"GET /ccp-webapp/ccp/feed/100001 HTTP/1.1\r\nHost: socialminer.example.com\r\n"
            b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:109.0) Gecko/20100101 Firefox/115.0\r\n"
            b"Accept: text/html,application/xhtml+xml\r\nAccept-Language: en-US,en;q=0.5\r\n"
            b"Connection: keep-alive\r\n\r\n")
HTTP_BODY = b"<html><head><title>SocialMiner</title></head><body>" + b"x" * 400 + b"</body></html>"
HTTP_RESP = (b"HTTP/1.1 200 OK\r\nServer: Apache-Coyote/1.1\r\nContent-Type: text/html;charset=UTF-8\r\n"
             b"Content-Length: " + str(len(HTTP_BODY)).encode() + b"\r\n\r\n" + HTTP_BODY)
TLS_CH = [client_hello("socialminer%d.example.com" % k) for k in range(16)]
TLS_SH = server_hello()
UNKNOWN = [bytes(((j * 31 + k * 17) ^ 0x5A) & 0xFF for j in range(120 + 16 * k)) for k in range(4)]


def ip4(src, dst, proto, l4, ident):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(l4), ident & 0xFFFF, 0x4000, 64, proto,
                       0, src, dst) + l4


def tcp_flow(i, c, cp, s, sp, req, resp):
    """Opening and closing parts of one TCP connection: lists of (src, dst, proto, l4)."""
    cs = (i * 2654435761) & 0xFFFFFFFF
    ss = (i * 40503 + 12345) & 0xFFFFFFFF

    def seg(fwd, seq, ack, flags, data=b""):
        l4 = struct.pack("!HHIIBBHHH", cp if fwd else sp, sp if fwd else cp, seq & 0xFFFFFFFF,
                         ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0, 0) + data
        return (c, s, 6, l4) if fwd else (s, c, 6, l4)

    c1, s1 = cs + 1, ss + 1
    c2, s2 = c1 + len(req), s1 + len(resp)
    opening = [seg(True, cs, 0, SYN), seg(False, ss, c1, SYN | ACK), seg(True, c1, s1, ACK),
               seg(True, c1, s1, PSH | ACK, req), seg(False, s1, c2, PSH | ACK, resp),
               seg(True, c2, s2, ACK)]
    closing = [seg(True, c2, s2, FIN | ACK), seg(False, s2, c2 + 1, FIN | ACK),
               seg(True, c2 + 1, s2 + 1, ACK)]
    return opening, closing


def udp_flow(c, cp, s, sp, msgs):
    """msgs: list of (from_client, data); split in half into opening/closing."""
    pk = []
    for fwd, data in msgs:
        if fwd:
            pk.append((c, s, 17, struct.pack("!HHHH", cp, sp, 8 + len(data), 0) + data))
        else:
            pk.append((s, c, 17, struct.pack("!HHHH", sp, cp, 8 + len(data), 0) + data))
    h = len(pk) // 2
    return pk[:h], pk[h:]


def flow(i):
    peer, port = peer_of(i)
    kind = i % 10
    if kind <= 3:
        return tcp_flow(i, peer, port, HOST, 443, TLS_CH[i % 16], TLS_SH)
    if kind <= 5:
        return tcp_flow(i, peer, port, HOST, 80, HTTP_REQ, HTTP_RESP)
    if kind == 6:
        return tcp_flow(i, HOST, port, peer, 443, TLS_CH[i % 16], TLS_SH)
    if kind <= 8:
        name = "host%d.example.com" % (i % 1000)
        q = i & 0x7FFF
        return udp_flow(HOST, port, peer, 53, [(True, dns_query(q, name)), (False, dns_answer(q, name)),
                                               (True, dns_query(q + 1, name)),
                                               (False, dns_answer(q + 1, name))])
    return udp_flow(peer, port, HOST, 7777, [(True, UNKNOWN[0]), (False, UNKNOWN[1]),
                                             (True, UNKNOWN[2]), (False, UNKNOWN[3])])


class Writer:
    def __init__(self, path, dt, is_udp=lambda fid: fid % 10 >= 7):
        self.is_udp = is_udp
        self.f = open(path, "wb")
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        self.t = 1700000000 * 1000000
        self.dt = dt
        self.n = 0
        self.buf = []
        self.first = {}
        self.last = {}

    def put(self, p, fid):
        self.n += 1
        self.t += self.dt
        self.first.setdefault(fid, self.t)
        self.last[fid] = self.t
        frame = ETH + ip4(p[0], p[1], p[2], p[3], self.n)
        self.buf.append(struct.pack("<IIII", self.t // 1000000, self.t % 1000000, len(frame),
                                    len(frame)) + frame)
        if len(self.buf) >= 8192:
            self.f.write(b"".join(self.buf))
            self.buf = []

    def close(self):
        self.f.write(b"".join(self.buf))
        self.f.close()

    def peak_open(self):
        """Most flows smaudit holds at once with default timeouts: a TCP flow
        stays 5 s (close delay) after its last packet, a UDP flow 60 s (idle
        timeout), none past the end of the capture."""
        ev = []
        for fid, t0 in self.first.items():
            linger = 60000000 if self.is_udp(fid) else 5000000
            ev.append((t0, 1))
            ev.append((min(self.last[fid] + linger, self.t) + 1, -1))
        ev.sort()
        cur = peak = 0
        for _, d in ev:
            cur += d
            peak = max(peak, cur)
        return peak


def write_capture(flow_fn, is_udp, flows, layout, window, dt_us, out):
    """Write flows flow_fn(0..flows-1) to out in layout; returns the Writer."""
    w = Writer(out, dt_us, is_udp)
    if layout == "open":
        closings = []
        for i in range(flows):
            op, cl = flow_fn(i)
            for p in op:
                w.put(p, i)
            closings.append(cl)
        for i, cl in enumerate(closings):
            for p in cl:
                w.put(p, i)
    else:
        nxt = 0
        slots = []
        while nxt < flows and len(slots) < window:
            op, cl = flow_fn(nxt)
            slots.append([op + cl, 0, nxt])
            nxt += 1
        while slots:
            keep = []
            for s in slots:
                w.put(s[0][s[1]], s[2])
                s[1] += 1
                if s[1] < len(s[0]):
                    keep.append(s)
                elif nxt < flows:
                    op, cl = flow_fn(nxt)
                    keep.append([op + cl, 0, nxt])
                    nxt += 1
            slots = keep
    w.close()
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--layout", choices=["mix", "open"], default="mix")
    ap.add_argument("--window", type=int, default=1000)
    ap.add_argument("--dt-us", type=int, default=20)
    ap.add_argument("out")
    a = ap.parse_args()
    w = write_capture(flow, lambda fid: fid % 10 >= 7, a.flows, a.layout, a.window, a.dt_us, a.out)
    print(w.n, a.flows, w.peak_open())


if __name__ == "__main__":
    sys.exit(main())
