#!/usr/bin/env python3
"""Make one real flow on loopback (how pcaps/dpi-*.pcap were recorded).

    dpi_record.py KIND CLIENT SERVER PORT [NAME]
    KIND: tls (NAME = SNI), http (NAME = Host), smtp (NAME = EHLO), xmpp (NAME = to), ssh

Run it while `tcpdump -i lo -U -w FILE 'net 127.0.0.0/8 and not host 127.0.0.1'` records;
see pcaps/README-dpi.md. The ssh kind runs the real OpenSSH client against a server that
only sends its banner. A self-signed P-256 certificate is made once in /tmp.
"""
import socket, ssl, sys, threading, time, http.client, smtplib, subprocess, os

kind, cli, srv, port = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
name = sys.argv[5] if len(sys.argv) > 5 else "socialminer.example.com"
D = "/tmp/smaudit-dpi-cert"
if kind == "tls" and not os.path.exists(D + "/cert.pem"):
    os.makedirs(D, exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", D + "/key.pem",
                    "-out", D + "/cert.pem", "-days", "3650", "-subj", "/CN=sm"],
                   check=True, stderr=subprocess.DEVNULL)

ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind((srv, port))
ls.listen(1)


def serve():
    c, _ = ls.accept()
    try:
        if kind == "tls":
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(D + "/cert.pem", D + "/key.pem")
            s = ctx.wrap_socket(c, server_side=True)
            d = s.recv(100)
            s.sendall(b"pong " + d)
            s.close()
        elif kind == "http":
            req = b""
            while b"\r\n\r\n" not in req:
                req += c.recv(4096)
            body = b"<html>hello</html>\n"
            c.sendall(b"HTTP/1.1 200 OK\r\nServer: demo\r\nContent-Type: text/html\r\n"
                      b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)
            c.close()
        elif kind == "smtp":
            f = c.makefile("rb")
            c.sendall(b"220 mail.example.com ESMTP ready\r\n")
            indata = False
            for line in f:
                if indata:
                    if line == b".\r\n":
                        indata = False
                        c.sendall(b"250 2.0.0 Ok: queued\r\n")
                    continue
                cmd = line[:4].upper()
                if cmd == b"EHLO":
                    c.sendall(b"250-mail.example.com\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n")
                elif cmd == b"DATA":
                    indata = True
                    c.sendall(b"354 End data with <CR><LF>.<CR><LF>\r\n")
                elif cmd == b"QUIT":
                    c.sendall(b"221 2.0.0 Bye\r\n")
                    break
                else:
                    c.sendall(b"250 2.1.0 Ok\r\n")
            c.close()
        elif kind == "xmpp":
            c.recv(4096)
            c.sendall(b"<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                      b"xmlns:stream='http://etherx.jabber.org/streams' id='1' from='xmpp.example.com' version='1.0'>"
                      b"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/></stream:features>")
            c.recv(4096)
            c.sendall(b"</stream:stream>")
            c.close()
        elif kind == "ssh":
            c.sendall(b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n")
            c.settimeout(2)
            try:
                while c.recv(4096):
                    pass
            except socket.timeout:
                pass
            c.close()
    except Exception as e:
        print("server:", e, file=sys.stderr)


t = threading.Thread(target=serve)
t.start()
time.sleep(0.1)
if kind == "tls":
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    s = socket.create_connection((srv, port), source_address=(cli, 0))
    s = ctx.wrap_socket(s, server_hostname=name)
    s.sendall(b"ping")
    s.recv(100)
    s.close()
elif kind == "http":
    h = http.client.HTTPConnection(srv, port, source_address=(cli, 0))
    h.request("GET", "/index.html", headers={"Host": name, "User-Agent": "curl/7.88.1"})
    h.getresponse().read()
    h.close()
elif kind == "smtp":
    m = smtplib.SMTP(srv, port, local_hostname=name, source_address=(cli, 0))
    m.sendmail("agent@example.com", ["customer@example.com"], "Subject: hi\r\n\r\nhello\r\n")
    m.quit()
elif kind == "xmpp":
    s = socket.create_connection((srv, port), source_address=(cli, 0))
    s.sendall(b"<?xml version='1.0'?><stream:stream to='" + name.encode() + b"' xmlns='jabber:client' "
              b"xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>")
    s.recv(4096)
    s.sendall(b"</stream:stream>")
    s.recv(4096)
    s.close()
elif kind == "ssh":
    subprocess.run(["ssh", "-b", cli, "-p", str(port), "-o", "StrictHostKeyChecking=no",
                    "-o", "UserKnownHostsFile=/dev/null", "-o", "BatchMode=yes",
                    "-o", "ConnectTimeout=3", "demo@" + srv, "true"],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
t.join()
ls.close()
