#!/usr/bin/env python3
"""dpi_flows.py N OUT.pcap: write a capture of N short flows for the DPI leak check.

Flows cycle through kinds so every path of src/dpi.c runs many times:
  0 TLS ClientHello (SNI) + ServerHello, FIN both ways  (named at once, extra dissection)
  1 HTTP GET + 200 response, FIN                        (final inside dpi_feed)
  2 SMTP banner, EHLO, 250, QUIT, 221, FIN              (final inside dpi_feed)
  3 unknown binary payload both ways, FIN               (given up at dpi_end)
  4 SYN, RST                                            (no payload: never a state)
  5 DNS query + answer over UDP                         (named at once)
Every 7th TCP flow loses its FINs (still open when the capture ends).
Clients are spread over 127.0.0.0/8, servers are 127.0.0.10 and the role addresses.
Standard library only; Ethernet link type; checksums left zero (nDPI does not check them).
"""
import struct
import sys

N = int(sys.argv[1])
OUT = sys.argv[2]
SERVERS = [b"\x7f\x00\x00\x0a", b"\x7f\x00\x00\x17", b"\x7f\x00\x00\x18", b"\x7f\x00\x00\x19"]
ETH = b"\x00" * 12 + b"\x08\x00"


def ip4(src, dst, proto, payload, ident):
    tot = 20 + len(payload)
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident & 0xFFFF, 0x4000, 64, proto, 0,
                       src, dst) + payload


def tcp(sport, dport, seq, ack, flags, data=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4,
                       flags, 65535, 0, 0) + data


def udp(sport, dport, data):
    return struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data


def client_hello(sni):
    name = sni.encode()
    sni_ext = struct.pack("!HHHBH", 0, len(name) + 5, len(name) + 3, 0, len(name)) + name
    vers_ext = struct.pack("!HHB", 43, 3, 2) + b"\x03\x04"
    groups_ext = struct.pack("!HHH", 10, 4, 2) + b"\x00\x1d"
    exts = sni_ext + vers_ext + groups_ext
    body = (b"\x03\x03" + bytes(range(32)) + b"\x00" + struct.pack("!H", 4) + b"\x13\x01\x13\x02"
            + b"\x01\x00" + struct.pack("!H", len(exts)) + exts)
    hs = b"\x01" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x01" + struct.pack("!H", len(hs)) + hs


def server_hello():
    exts = struct.pack("!HHH", 43, 2, 0x0304)
    body = (b"\x03\x03" + bytes(range(32, 64)) + b"\x00" + b"\x13\x01" + b"\x00"
            + struct.pack("!H", len(exts)) + exts)
    hs = b"\x02" + struct.pack("!I", len(body))[1:] + body
    return b"\x16\x03\x03" + struct.pack("!H", len(hs)) + hs + b"\x14\x03\x03\x00\x01\x01"


def dns_query(qid, name):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + b"\x00\x01\x00\x01"


def dns_answer(qid, name):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    return (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + q + b"\x00\x01\x00\x01"
            + b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04\x7f\x00\x00\x0a")


def main():
    f = open(OUT, "wb")
    f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    t = 1700000000 * 1000000
    ident = 0

    def put(src, dst, proto, l4):
        nonlocal t, ident
        ident += 1
        t += 10
        frame = ETH + ip4(src, dst, proto, l4, ident)
        f.write(struct.pack("<IIII", t // 1000000, t % 1000000, len(frame), len(frame)) + frame)

    for i in range(N):
        kind = i % 6
        cli = bytes([127, 1 + (i >> 16) % 200, (i >> 8) & 0xFF, i & 0xFF or 1])
        srv = SERVERS[i % len(SERVERS)]
        cport = 10000 + (i * 7) % 50000
        if kind == 5:
            name = "h%d.example.com" % i
            put(cli, srv, 17, udp(cport, 53, dns_query(i & 0xFFFF, name)))
            put(srv, cli, 17, udp(53, cport, dns_answer(i & 0xFFFF, name)))
            continue
        sport = {0: 443, 1: 80, 2: 25, 3: 40000 + i % 1000, 4: 443}[kind]
        ci, si = 1000, 5000
        put(cli, srv, 6, tcp(cport, sport, ci, 0, 0x02))
        if kind == 4:
            put(srv, cli, 6, tcp(sport, cport, 0, ci + 1, 0x14))
            continue
        put(srv, cli, 6, tcp(sport, cport, si, ci + 1, 0x12))
        put(cli, srv, 6, tcp(cport, sport, ci + 1, si + 1, 0x10))
        c, s = ci + 1, si + 1
        if kind == 0:
            msgs = [(1, client_hello("host%d.example.com" % i)), (0, server_hello())]
        elif kind == 1:
            msgs = [(1, b"GET /x%d HTTP/1.1\r\nHost: web%d.example.com\r\n"
                     b"User-Agent: bench\r\n\r\n" % (i, i)),
                    (0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")]
        elif kind == 2:
            msgs = [(0, b"220 mail%d.example.com ESMTP\r\n" % i),
                    (1, b"EHLO sm.example.com\r\n"), (0, b"250-mail\r\n250 8BITMIME\r\n"),
                    (1, b"QUIT\r\n"), (0, b"221 Bye\r\n")]
        else:
            msgs = [(1, bytes((i + k * 13) & 0xFF for k in range(24))),
                    (0, bytes((i * 3 + k * 29) & 0xFF for k in range(40))),
                    (1, bytes((i * 5 + k) & 0xFF for k in range(24)))]
        for from_cli, data in msgs:
            if from_cli:
                put(cli, srv, 6, tcp(cport, sport, c, s, 0x18, data))
                c += len(data)
            else:
                put(srv, cli, 6, tcp(sport, cport, s, c, 0x18, data))
                s += len(data)
        if i % 7 == 0:
            continue  # left open: ended when the capture ends
        put(cli, srv, 6, tcp(cport, sport, c, s, 0x11))
        put(srv, cli, 6, tcp(sport, cport, s, c + 1, 0x11))
        put(cli, srv, 6, tcp(cport, sport, c + 1, s + 1, 0x10))
    f.close()


main()
