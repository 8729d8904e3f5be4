#!/usr/bin/env python3
"""loopnet.py: real servers and real clients on 127.0.0.x for tests/gen/record.sh.

Owns: the traffic of pcaps/demo.pcap and pcaps/mismatch.pcap. Every server
binds the address of the role it plays, every client binds its source
address (the fixed addresses of helper-common.md), and each exchange speaks
the real protocol: HTTP (http.server / curl), TLS (python ssl / curl),
SMTP with STARTTLS (smtplib against the small server below), IMAPS
(imaplib), XMPP stream opening, DNS and NTP over UDP, SSH (OpenSSH), ICMP
echo (ping).

  loopnet.py serve SCENARIO CERTDIR   start the listeners, print "ready", run until killed
  loopnet.py client SCENARIO CERTDIR  run the clients of SCENARIO one after the other
SCENARIO is demo or mismatch. CERTDIR holds cert.pem and key.pem.
"""
import http.server
import imaplib
import smtplib
import socket
import socketserver
import ssl
import struct
import subprocess
import sys
import threading
import time

HOST, UCCX, CUIC, MAIL, EXCH, XMPP = ("127.0.0.10", "127.0.0.21", "127.0.0.22", "127.0.0.23",
                                      "127.0.0.24", "127.0.0.25")
ROGUE, ROGUE2 = "127.0.0.66", "127.0.0.67"

BOSH_BODY = ("<body rid='1573741820' xmlns='http://jabber.org/protocol/httpbind' to='sm' "
             "xml:lang='en' wait='60' hold='1' ver='1.6' xmpp:version='1.0' "
             "xmlns:xmpp='urn:xmpp:xbosh'/>")
XMPP_OPEN = ("<?xml version='1.0'?><stream:stream to='{to}' xmlns='jabber:client' "
             "xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
XMPP_REPLY = ("<?xml version='1.0'?><stream:stream from='{to}' id='a1b2c3' "
              "xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' "
              "version='1.0'><stream:features><starttls "
              "xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><mechanisms "
              "xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><mechanism>PLAIN</mechanism>"
              "</mechanisms></stream:features>")

# ------------------------------------------------------------------ servers


def server_ctx(certdir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certdir + "/cert.pem", certdir + "/key.pem")
    return ctx


def client_ctx():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Web(http.server.BaseHTTPRequestHandler):
    server_version = "SocialMinerTest/1.0"

    def _reply(self, code, ctype, body):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self._reply(200, "text/html", "<html><body>SocialMiner</body></html>\n")

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(n)
        if self.path.startswith("/http-bind"):
            self._reply(200, "text/xml; charset=utf-8",
                        "<body xmlns='http://jabber.org/protocol/httpbind' sid='s1' "
                        "wait='60' requests='2' inactivity='30' polling='5' ver='1.6' "
                        "from='sm'/>")
        else:
            self._reply(200, "text/plain", "ok\n")

    def log_message(self, *a):
        pass


class TCPServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


def web_server(addr, port, tls_ctx=None):
    srv = TCPServer((addr, port), Web)
    if tls_ctx:
        srv.socket = tls_ctx.wrap_socket(srv.socket, server_side=True)
    return srv


class LineHandler(socketserver.StreamRequestHandler):
    """Base for the line protocols (SMTP, IMAP): optional implicit TLS."""
    tls_ctx = None
    implicit_tls = False

    def setup(self):
        if self.implicit_tls:
            self.request = self.tls_ctx.wrap_socket(self.request, server_side=True)
        super().setup()

    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def starttls(self):
        self.wfile.flush()
        self.request = self.tls_ctx.wrap_socket(self.request, server_side=True)
        self.rfile = self.request.makefile("rb")
        self.wfile = self.request.makefile("wb")


class Smtp(LineHandler):
    starttls_ok = False
    name = "mail.example.test"

    def handle(self):
        self.send("220 %s ESMTP ready" % self.name)
        in_data = False
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            line = raw.decode(errors="replace").rstrip("\r\n")
            if in_data:
                if line == ".":
                    in_data = False
                    self.send("250 2.0.0 Ok: queued")
                continue
            cmd = line.split(" ")[0].upper()
            if cmd in ("EHLO", "HELO"):
                exts = ["SIZE 1048576", "8BITMIME"]
                if self.starttls_ok and not isinstance(self.request, ssl.SSLSocket):
                    exts.append("STARTTLS")
                lines = [self.name] + exts
                for i, l in enumerate(lines):
                    self.send("250%s%s" % ("-" if i < len(lines) - 1 else " ", l))
            elif cmd == "STARTTLS":
                self.send("220 2.0.0 Ready to start TLS")
                self.starttls()
            elif cmd in ("MAIL", "RCPT", "RSET", "NOOP"):
                self.send("250 2.1.0 Ok")
            elif cmd == "DATA":
                self.send("354 End data with <CR><LF>.<CR><LF>")
                in_data = True
            elif cmd == "QUIT":
                self.send("221 2.0.0 Bye")
                return
            else:
                self.send("502 5.5.2 Error: command not recognized")


class Imap(LineHandler):
    implicit_tls = True

    def handle(self):
        self.send("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] Exchange IMAP4 service ready")
        while True:
            raw = self.rfile.readline()
            if not raw:
                return
            parts = raw.decode(errors="replace").rstrip("\r\n").split(" ")
            tag, cmd = parts[0], (parts[1].upper() if len(parts) > 1 else "")
            if cmd == "CAPABILITY":
                self.send("* CAPABILITY IMAP4rev1 AUTH=PLAIN")
                self.send("%s OK CAPABILITY completed." % tag)
            elif cmd == "LOGIN":
                self.send("%s OK LOGIN completed." % tag)
            elif cmd == "LOGOUT":
                self.send("* BYE Microsoft Exchange Server IMAP4 server signing off.")
                self.send("%s OK LOGOUT completed." % tag)
                return
            else:
                self.send("%s OK %s completed." % (tag, cmd))


class Xmpp(socketserver.BaseRequestHandler):
    def handle(self):
        s = self.request
        buf = b""
        while b"<stream:stream" not in buf or not buf.rstrip().endswith(b">"):
            d = s.recv(4096)
            if not d:
                return
            buf += d
        s.sendall(XMPP_REPLY.format(to="sm").encode())
        buf = b""
        while b"</stream:stream>" not in buf:
            d = s.recv(4096)
            if not d:
                return
            buf += d
        s.sendall(b"</stream:stream>")


class Bytes1526(socketserver.BaseRequestHandler):
    def handle(self):
        d = self.request.recv(4096)
        if d:
            self.request.sendall(b"\x00\x40\x02\x3d\x10\x00\x00\x64" + b"IEEEM" + b"\x00" * 19 +
                                 b"ol_socialminer\x00")
            self.request.recv(4096)


class Dns(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        if len(data) < 12:
            return
        qid = data[:2]
        question = data[12:]
        ans = (b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + socket.inet_aton("127.0.0.23"))
        sock.sendto(qid + b"\x81\x80" + struct.pack("!HHHH", 1, 1, 0, 0) + question + ans,
                    self.client_address)


class Ntp(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        if len(data) < 48:
            return
        now = time.time() + 2208988800
        ts = struct.pack("!II", int(now), int((now % 1) * 2 ** 32))
        reply = (struct.pack("!BBbb", 0x24, 2, 6, -20) + b"\0" * 8 + b"GPS\0" + ts +
                 data[40:48] + ts + ts)
        sock.sendto(reply, self.client_address)


class UDPServer(socketserver.ThreadingUDPServer):
    allow_reuse_address = True
    daemon_threads = True


def handler(base, **attrs):
    return type(base.__name__ + "X", (base,), attrs)


def servers_for(scenario, certdir):
    tls = server_ctx(certdir)
    s = []
    if scenario == "demo":
        for a, p in ((HOST, 80), (ROGUE, 80), (HOST, 7071), ("127.0.0.50", 7071)):
            s.append(web_server(a, p))
        for a, p in ((HOST, 443), (UCCX, 443), (ROGUE, 443), (HOST, 7443), (ROGUE, 7443)):
            s.append(web_server(a, p, tls))
        for a in (MAIL, HOST, ROGUE):
            s.append(TCPServer((a, 25), handler(Smtp)))
        for a in (MAIL, HOST):
            s.append(TCPServer((a, 465), handler(Smtp, tls_ctx=tls, implicit_tls=True)))
        for a in (EXCH, MAIL):
            s.append(TCPServer((a, 587), handler(Smtp, tls_ctx=tls, starttls_ok=True,
                                                 name="exchange.example.test")))
        for a in (EXCH, HOST):
            s.append(TCPServer((a, 993), handler(Imap, tls_ctx=tls)))
        for a in (HOST, CUIC):
            s.append(TCPServer((a, 1526), Bytes1526))
        for a in (XMPP, HOST, ROGUE):
            s.append(TCPServer((a, 5222), Xmpp))
        s.append(UDPServer((ROGUE, 53), Dns))
        s.append(UDPServer((ROGUE, 123), Ntp))
    else:
        s.append(web_server(HOST, 7443))  # cleartext HTTP on the secure BOSH port
        s.append(TCPServer((EXCH, 993), handler(Smtp, name="exchange.example.test")))
    return s


def serve(scenario, certdir):
    for srv in servers_for(scenario, certdir):
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("ready", flush=True)
    while True:
        time.sleep(3600)


# ------------------------------------------------------------------ clients


def run(cmd):
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)


def curl(src, url, post=None):
    cmd = ["curl", "-s", "-k", "-o", "/dev/null", "--max-time", "10", "--interface", src,
           "-H", "Connection: close"]
    if post is not None:
        cmd += ["-H", "Content-Type: text/xml; charset=utf-8", "--data-binary", post]
    run(cmd + [url])


def smtp(src, dst, port, mode):
    """mode: plain, starttls, tls (implicit) or ehlo (greeting + EHLO + QUIT only)."""
    msg = ("From: socialminer@example.test\r\nTo: agent@example.test\r\n"
           "Subject: notification\r\n\r\nA new social contact is waiting.\r\n")
    if mode == "tls":
        c = smtplib.SMTP_SSL(dst, port, local_hostname="socialminer", timeout=10,
                             source_address=(src, 0), context=client_ctx())
    else:
        c = smtplib.SMTP(dst, port, local_hostname="socialminer", timeout=10,
                         source_address=(src, 0))
    c.ehlo()
    if mode == "ehlo":
        c.quit()
        return
    if mode == "starttls":
        c.starttls(context=client_ctx())
        c.ehlo()
    c.sendmail("socialminer@example.test", ["agent@example.test"], msg)
    c.quit()


class BoundIMAP(imaplib.IMAP4_SSL):
    src = "0.0.0.0"

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout,
                                        source_address=(self.src, 0))
        return self.ssl_context.wrap_socket(sock, server_hostname=None)


def imaps(src, dst, port):
    cls = type("IMAPFrom", (BoundIMAP,), {"src": src})
    c = cls(dst, port, ssl_context=client_ctx(), timeout=10)
    c.login("socialminer", "secret")
    c.logout()


def xmpp(src, dst, port):
    s = socket.create_connection((dst, port), 10, source_address=(src, 0))
    s.sendall(XMPP_OPEN.format(to="sm").encode())
    buf = b""
    while b"</stream:features>" not in buf:
        d = s.recv(4096)
        if not d:
            break
        buf += d
    s.sendall(b"</stream:stream>")
    while s.recv(4096):
        pass
    s.close()


def bytes1526(src, dst):
    s = socket.create_connection((dst, 1526), 10, source_address=(src, 0))
    s.sendall(b"sqAYABPQAAc3FsZXhlYwAAAAAAAAA5LjI4MAAAAAAAAAAAAAAAAAAAAAAA=reports\x00")
    s.recv(4096)
    s.sendall(b"\x00\x0c\x00\x00")
    s.shutdown(socket.SHUT_WR)
    while s.recv(4096):
        pass
    s.close()


def dns(src, dst):
    q = (struct.pack("!HHHHHH", 0x5a17, 0x0100, 1, 0, 0, 0) +
         b"\x04mail\x07example\x04test\x00" + struct.pack("!HH", 1, 1))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.sendto(q, (dst, 53))
    s.recvfrom(512)
    s.close()


def ntp(src, dst):
    now = time.time() + 2208988800
    pkt = struct.pack("!BBbb", 0x23, 0, 6, -20) + b"\0" * 36 + struct.pack(
        "!II", int(now), int((now % 1) * 2 ** 32))
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((src, 0))
    s.settimeout(5)
    s.sendto(pkt, (dst, 123))
    s.recvfrom(512)
    s.close()


def ssh(src, dst, port, certdir):
    run(["ssh", "-b", src, "-p", str(port), "-F", "/dev/null",
         "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "BatchMode=yes", "-o", "PubkeyAuthentication=no",
         "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
         "-o", "ConnectTimeout=5", "audit@" + dst, "true"])


def refused(src, dst, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((src, 0))
    s.settimeout(5)
    try:
        s.connect((dst, port))
    except OSError:
        pass
    s.close()


def clients(scenario, certdir):
    steps = []
    if scenario == "demo":
        b = "127.0.0.50"
        steps = [
            # ---- accepted by the matrix, row by row
            ("row 1: host -> mail:25 SMTP", lambda: smtp(HOST, MAIL, 25, "plain")),
            ("row 2: browser -> host:80 HTTP", lambda: curl(b, "http://%s/" % HOST)),
            ("row 2: uccx -> host:80 HTTP", lambda: curl(UCCX, "http://%s/" % HOST)),
            ("row 3: browser -> host:443 TLS", lambda: curl(b, "https://%s/" % HOST)),
            ("row 3: host -> uccx:443 TLS", lambda: curl(HOST, "https://%s/" % UCCX)),
            ("row 4: host -> mail:465 SMTPS", lambda: smtp(HOST, MAIL, 465, "tls")),
            ("row 5: host -> exchange:587 STARTTLS", lambda: smtp(HOST, EXCH, 587, "starttls")),
            ("row 6: host -> exchange:993 IMAPS", lambda: imaps(HOST, EXCH, 993)),
            ("row 7: cuic -> host:1526", lambda: bytes1526(CUIC, HOST)),
            ("row 8: host -> xmpp:5222", lambda: xmpp(HOST, XMPP, 5222)),
            ("row 9: uccx -> host:5222", lambda: xmpp(UCCX, HOST, 5222)),
            ("row 10: browser -> host:7071 BOSH", lambda: curl(
                "127.0.0.51", "http://%s:7071/http-bind/" % HOST, BOSH_BODY)),
            ("row 11: browser -> host:7443 TLS BOSH", lambda: curl(
                "127.0.0.52", "https://%s:7443/http-bind/" % HOST, BOSH_BODY)),
            # ---- wrong direction or wrong peer, one per row
            ("row 1 wrong dir: in -> host:25", lambda: smtp("127.0.0.55", HOST, 25, "plain")),
            ("row 2 wrong dir: host -> rogue:80", lambda: curl(HOST, "http://%s/" % ROGUE)),
            ("row 3 wrong peer: host -> rogue:443", lambda: curl(HOST, "https://%s/" % ROGUE)),
            ("row 4 wrong dir: in -> host:465", lambda: smtp("127.0.0.56", HOST, 465, "tls")),
            ("row 5 wrong peer: host -> mail:587", lambda: smtp(HOST, MAIL, 587, "starttls")),
            ("row 6 wrong dir: in -> host:993", lambda: imaps("127.0.0.57", HOST, 993)),
            ("row 7 wrong dir: host -> cuic:1526", lambda: bytes1526(HOST, CUIC)),
            ("row 8 wrong peer: host -> rogue:5222", lambda: xmpp(HOST, ROGUE, 5222)),
            ("row 9 wrong peer: browser -> host:5222", lambda: xmpp("127.0.0.58", HOST, 5222)),
            ("row 10 wrong dir: host -> out:7071", lambda: curl(
                HOST, "http://127.0.0.50:7071/http-bind/", BOSH_BODY)),
            ("row 11 wrong dir: host -> rogue:7443", lambda: curl(
                HOST, "https://%s:7443/http-bind/" % ROGUE, BOSH_BODY)),
            ("row 1 wrong peer: host -> rogue:25", lambda: smtp(HOST, ROGUE, 25, "plain")),
            # ---- off the matrix
            ("DNS host -> rogue:53", lambda: dns(HOST, ROGUE)),
            ("SSH browser -> host:22", lambda: ssh("127.0.0.53", HOST, 22, certdir)),
            ("NTP host -> rogue:123", lambda: ntp(HOST, ROGUE)),
            ("ICMP echo host -> rogue", lambda: run(["ping", "-n", "-q", "-I", HOST, "-c", "2",
                                                     "-i", "0.2", ROGUE])),
            ("refused rogue2 -> host:8080", lambda: refused(ROGUE2, HOST, 8080)),
        ]
    else:
        steps = [
            ("SSH on 443", lambda: ssh("127.0.0.50", HOST, 443, certdir)),
            ("HTTP on 7443", lambda: curl("127.0.0.50", "http://%s:7443/http-bind/" % HOST,
                                          BOSH_BODY)),
            ("SMTP on 993", lambda: smtp(HOST, EXCH, 993, "ehlo")),
        ]
    for name, fn in steps:
        try:
            fn()
            print("ok   " + name, flush=True)
        except Exception as e:  # report and go on: record.sh checks the result
            print("FAIL %s: %r" % (name, e), flush=True)
        time.sleep(0.3)


def main(argv):
    if len(argv) != 4 or argv[1] not in ("serve", "client") or argv[2] not in ("demo", "mismatch"):
        sys.stderr.write(__doc__)
        return 2
    if argv[1] == "serve":
        serve(argv[2], argv[3])
    else:
        clients(argv[2], argv[3])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
