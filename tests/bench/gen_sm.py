#!/usr/bin/env python3
"""gen_sm.py: a SocialMiner-shaped capture for the peer comparison (tests/bench/peers.sh).

    gen_sm.py --flows N [--layout mix|open] [--window W] [--dt-us D] OUT.pcap

The traffic of a busy SocialMiner host (127.0.0.10) as its port matrix
describes it, with realistic sizes (about 13 packets and 5.5 KB a flow, 420
bytes a packet on average). Flow kinds cycle with the flow number (i % 20):
  0-5   TCP in  :443   agents' browsers: TLS ClientHello (SNI) / ServerHello,
                       certificate-sized record, then application data both ways
  6-7   TCP in  :5222  XMPP client stream (Jabber) and a few stanzas
  8-9   TCP in  :7071  BOSH: HTTP POST /http-bind with XML, 200 OK with XML
  10    TCP in  :1526  CUIC: binary request/response nDPI does not name
  11-12 TCP out :443   to UCCX: TLS
  13    TCP out :25    SMTP: banner, EHLO, MAIL, RCPT, DATA, QUIT
  14    TCP out :993   IMAPS: TLS
  15    TCP out :5222  XMPP to the chat server
  16    TCP out :587   SMTP submission: banner, EHLO, STARTTLS, then TLS
  17-18 UDP out :53    DNS query/answer
  19    TCP in  :80    HTTP GET redirected to HTTPS
Reuses gen_flows.py's packet writer and layouts; standard library only,
deterministic. Prints "packets flows peak_open".
"""
import argparse
import os
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_flows as g  # noqa: E402

SYN, FIN, PSH, ACK = g.SYN, g.FIN, g.PSH, g.ACK
CHUNK = 1400


def blob(n, seed):
    return bytes(((j * 131 + seed * 29) ^ (j >> 3)) & 0xFF for j in range(n))


def tls_app(n, seed):
    """TLS application-data records totalling about n bytes."""
    out = b""
    while len(out) < n:
        body = blob(min(n - len(out), 1200), seed + len(out))
        out += b"\x17\x03\x03" + struct.pack("!H", len(body)) + body
    return out


CERT = b"\x16\x03\x03" + struct.pack("!H", 1800) + b"\x0b" + struct.pack("!I", 1796)[1:] + blob(1796, 7)
XMPP_OPEN = (b"<?xml version='1.0'?><stream:stream to='socialminer.example.com' "
             b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
XMPP_FEAT = (b"<?xml version='1.0'?><stream:stream from='socialminer.example.com' id='4f2a' "
             b"xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
             b"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>"
             b"<mechanism>PLAIN</mechanism></mechanisms></stream:features>")
STANZA = b"<message to='agent%d@socialminer.example.com' type='chat'><body>" + b"y" * 300 + b"</body></message>"
BOSH_BODY = (b"<body rid='1573741820' sid='SomeSID' xmlns='http://jabber.org/protocol/httpbind'>"
             + b"<presence/>" * 20 + b"</body>")
BOSH_REQ = (b"POST /http-bind/ HTTP/1.1\r\nHost: socialminer.example.com:7071\r\n"
            b"Content-Type: text/xml; charset=utf-8\r\nContent-Length: " + str(len(BOSH_BODY)).encode()
            + b"\r\n\r\n" + BOSH_BODY)
BOSH_RESP = (b"HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: "
             + str(len(BOSH_BODY) * 3).encode() + b"\r\n\r\n" + BOSH_BODY * 3)
SMTP = [(False, b"220 mail.example.com ESMTP Postfix\r\n"), (True, b"EHLO socialminer.example.com\r\n"),
        (False, b"250-mail.example.com\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n"),
        (True, b"MAIL FROM:<socialminer@example.com>\r\n"), (False, b"250 2.1.0 Ok\r\n"),
        (True, b"RCPT TO:<supervisor@example.com>\r\n"), (False, b"250 2.1.5 Ok\r\n"),
        (True, b"DATA\r\n"), (False, b"354 End data with <CR><LF>.<CR><LF>\r\n"),
        (True, b"Subject: campaign notification\r\n\r\n" + b"z" * 2400 + b"\r\n.\r\n"),
        (False, b"250 2.0.0 Ok: queued\r\n"), (True, b"QUIT\r\n"), (False, b"221 2.0.0 Bye\r\n")]
SUBMIT = [(False, b"220 exchange.example.com Microsoft ESMTP MAIL Service ready\r\n"),
          (True, b"EHLO socialminer.example.com\r\n"),
          (False, b"250-exchange.example.com Hello\r\n250-STARTTLS\r\n250 SIZE 37748736\r\n"),
          (True, b"STARTTLS\r\n"), (False, b"220 2.0.0 SMTP server ready\r\n")]
CUIC_REQ = blob(900, 3)
CUIC_RESP = blob(3000, 5)
REDIRECT = (b"HTTP/1.1 302 Found\r\nLocation: https://socialminer.example.com/\r\nContent-Length: 0\r\n\r\n")


def tcp_conv(i, c, cp, s, sp, msgs):
    """A TCP connection: handshake, msgs (from_client, data) cut into segments
    of CHUNK bytes each acknowledged by the other side, FIN both ways.
    Opening part: the handshake and the first half of the exchanges."""
    seq = [(i * 2654435761) & 0xFFFFFFFF, (i * 40503 + 12345) & 0xFFFFFFFF]
    ends = [(c, cp), (s, sp)]

    def seg(side, flags, data=b""):
        a, ap = ends[side]
        b, bp = ends[1 - side]
        l4 = struct.pack("!HHIIBBHHH", ap, bp, seq[side] & 0xFFFFFFFF, seq[1 - side] & 0xFFFFFFFF,
                         5 << 4, flags, 65535, 0, 0) + data
        seq[side] += len(data) + (1 if flags & (SYN | FIN) else 0)
        return (a, b, 6, l4)

    pk = [seg(0, SYN)]
    seq[1] -= 0
    pk.append(seg(1, SYN | ACK))
    pk.append(seg(0, ACK))
    for side, data in msgs:
        side = 0 if side else 1
        for off in range(0, len(data), CHUNK):
            pk.append(seg(side, PSH | ACK, data[off:off + CHUNK]))
        pk.append(seg(1 - side, ACK))
    pk += [seg(0, FIN | ACK), seg(1, FIN | ACK), seg(0, ACK)]
    h = 3 + (len(pk) - 6) // 2
    return pk[:h], pk[h:]


def tls_conv(i, sni, up, down):
    return [(True, g.TLS_CH[i % 16] if sni is None else g.client_hello(sni)),
            (False, g.TLS_SH + CERT), (True, tls_app(up, i)), (False, tls_app(down, i + 1))]


def sm_flow(i):
    peer, port = g.peer_of(i)
    host = g.HOST
    k = i % 20
    if k <= 5:
        return tcp_conv(i, peer, port, host, 443, tls_conv(i, "socialminer.example.com", 600, 2400))
    if k <= 7:
        return tcp_conv(i, peer, port, host, 5222, [(True, XMPP_OPEN), (False, XMPP_FEAT),
                                                    (True, STANZA % (i % 500)), (False, STANZA % (i % 7))])
    if k <= 9:
        return tcp_conv(i, peer, port, host, 7071, [(True, BOSH_REQ), (False, BOSH_RESP)])
    if k == 10:
        return tcp_conv(i, peer, port, host, 1526, [(True, CUIC_REQ), (False, CUIC_RESP)])
    if k <= 12:
        return tcp_conv(i, host, port, peer, 443, tls_conv(i, "uccx.example.com", 900, 1500))
    if k == 13:
        return tcp_conv(i, host, port, peer, 25, SMTP)
    if k == 14:
        return tcp_conv(i, host, port, peer, 993, tls_conv(i, "exchange.example.com", 300, 2600))
    if k == 15:
        return tcp_conv(i, host, port, peer, 5222, [(True, XMPP_OPEN), (False, XMPP_FEAT),
                                                    (True, STANZA % i), (False, STANZA % (i + 1))])
    if k == 16:
        return tcp_conv(i, host, port, peer, 587, SUBMIT + tls_conv(i, "exchange.example.com", 2000, 200))
    if k <= 18:
        name = "host%d.example.com" % (i % 1000)
        q = i & 0x7FFF
        return g.udp_flow(host, port, peer, 53, [(True, g.dns_query(q, name)), (False, g.dns_answer(q, name))])
    return tcp_conv(i, peer, port, host, 80, [(True, g.HTTP_REQ), (False, REDIRECT)])


def is_udp(fid):
    return fid % 20 in (17, 18)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--flows", type=int, required=True)
    ap.add_argument("--layout", choices=["mix", "open"], default="mix")
    ap.add_argument("--window", type=int, default=3000)
    ap.add_argument("--dt-us", type=int, default=20)
    ap.add_argument("out")
    a = ap.parse_args()
    w = g.write_capture(sm_flow, is_udp, a.flows, a.layout, a.window, a.dt_us, a.out)
    print(w.n, a.flows, w.peak_open())


if __name__ == "__main__":
    sys.exit(main())
