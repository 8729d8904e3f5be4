#!/usr/bin/python3
"""check_report.py: parse an smaudit HTML report with a real HTML5 parser
(html5lib, Debian's python3-html5lib) and hold its content to a verdicts
table written by hand (pcaps/demo.verdicts), never to smaudit's own output.

Checks: the file is self-contained (no script, no external resource, no
event handler attribute, links only to anchors inside it); the summary's
counts per verdict; the port matrix's status and flow count of every rule;
the findings' (verdict, port, peer) groups; every evidence uid and Community ID
names a flow of that verdict and peer in the database; optionally that a hostile string
is shown as text and not parsed as markup.

Usage: check_report.py REPORT.html VERDICTS DB [--hostile TEXT] [--roles all|none]
(--roles none: the run had no role addresses, so every expected flow of a rule
that names a role was rated without checking its peer)
Prints "ok" and exits 0, or prints what differs and exits 1.
"""
import collections
import sqlite3
import sys

import html5lib

HOST = "127.0.0.10"
# rules of Cisco's table whose peer is a role, not "anyone"
# (../shared/socialminer-ports.md): without roles their peer cannot be checked
ROLE_RULES = {"smtp-notify-out", "https-to-uccx", "smtps-notify-out", "smtp-exchange-out",
              "imaps-exchange-out", "reports-from-cuic", "xmpp-notify-out",
              "xmpp-events-from-uccx"}
VERDICTS = ["protocol-mismatch", "unexpected-peer", "unexpected-port",
            "unexpected-direction", "expected"]


def text(el):
    return "".join(el.itertext()).strip()


def load_verdicts(path):
    rows = []
    with open(path) as fh:
        head = fh.readline().rstrip("\n").split("\t")
        for line in fh:
            if line.strip():
                rows.append(dict(zip(head, line.rstrip("\n").split("\t"))))
    return rows


def peer_of(r):
    return r["resp_addr"] if r["direction"] == "out" else r["orig_addr"]


def port_text(r):
    return r["proto"] if r["proto"].startswith("icmp") else "%s/%s" % (r["resp_port"], r["proto"])


def check_self_contained(doc, src, errs):
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("script", "link", "iframe", "object", "embed", "img", "base", "form"):
            errs.append("forbidden element <%s>" % tag)
        for k, v in el.attrib.items():
            if k.lower().startswith("on"):
                errs.append("event handler attribute %s on <%s>" % (k, tag))
            if k in ("src", "srcset", "xlink:href", "action"):
                errs.append("external reference %s=%r" % (k, v))
            if k == "href" and not v.startswith("#"):
                errs.append("link outside the document: %r" % v)
        if tag == "style" and ("url(" in text(el) or "@import" in text(el)):
            errs.append("style loads something")


def tables_after(doc):
    """Yield (h2 id, h3 id, table) for every table, with the headings before it."""
    h2 = h3 = None
    for el in doc.iter():
        if el.tag == "h2":
            h2, h3 = el.get("id"), None
        elif el.tag == "h3":
            h3 = el.get("id")
        elif el.tag == "table":
            rows = [[text(td) for td in tr if td.tag in ("td", "th")] for tr in el.iter("tr")]
            yield h2, h3, rows


def main():
    if len(sys.argv) < 4:
        print(__doc__)
        return 2
    path, vpath, db = sys.argv[1:4]
    opts = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    src = open(path, encoding="utf-8").read()
    doc = html5lib.parse(src, treebuilder="etree", namespaceHTMLElements=False)
    flows = load_verdicts(vpath)
    errs = []
    check_self_contained(doc, src, errs)

    # summary: "N verdict" badges
    want = collections.Counter(r["verdict"] for r in flows)
    summary = [text(p) for p in doc.iter("p")
               if any("%d flows seen" % len(flows) in text(p) for _ in [0])]
    if not summary:
        errs.append("summary: no '%d flows seen' line" % len(flows))
    else:
        for v in VERDICTS:
            if "%d %s" % (want[v], v) not in summary[0]:
                errs.append("summary: want '%d %s' in %r" % (want[v], v, summary[0]))

    # port matrix: status and flows per rule
    per_rule = collections.defaultdict(list)
    for r in flows:
        per_rule[r["rule_id"]].append(r["verdict"])
    seen_rules = 0
    findings = set()
    uids = []
    for h2, h3, rows in tables_after(doc):
        if h2 == "matrix":
            head = rows[0]
            for row in rows[1:]:
                cell = dict(zip(head, row))
                vs = per_rule.get(cell["Rule"], [])
                status = ("never seen" if not vs else "seen, clean"
                          if all(v == "expected" for v in vs) else "anomalous")
                seen_rules += 1
                if cell["Status"] != status or int(cell["Flows"]) != len(vs):
                    errs.append("matrix: %s is %s/%s, want %s/%d" % (
                        cell["Rule"], cell["Status"], cell["Flows"], status, len(vs)))
        elif h2 == "findings" and h3 and h3.startswith("f-"):
            head = rows[0]
            for row in rows[1:]:
                cell = dict(zip(head, row))
                peer = cell["Peer"].split(" ")[0]
                findings.add((h3[2:], cell["Port"], peer))
                for u in cell["Evidence (flow uids, Community IDs)"].split():
                    uids.append((u, h3[2:], peer))
    rules_in_file = {r["rule_id"] for r in flows if r["rule_id"] != "-"}
    if seen_rules < len(rules_in_file):
        errs.append("matrix: %d rules shown, the flows use %d" % (seen_rules, len(rules_in_file)))
    want_f = {(r["verdict"], port_text(r), peer_of(r)) for r in flows if r["verdict"] != "expected"}
    for f in sorted(want_f - findings):
        errs.append("findings: missing %s" % (f,))
    for f in sorted(findings - want_f):
        errs.append("findings: not expected %s" % (f,))

    # evidence: each uid is a flow of that verdict and peer
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    if not uids and want_f:
        errs.append("findings: no evidence uids")
    ncid = 0
    for u, v, peer in uids:
        col = "community_id" if u.startswith("1:") else "uid"
        ncid += col == "community_id"
        rows = con.execute("SELECT DISTINCT verdict, peer_addr FROM flows WHERE %s = ?" % col,
                           (u,)).fetchall()
        if (v, peer) not in rows:
            errs.append("evidence %s: database has %r, report says %s %s" % (u, rows, v, peer))
    if uids and not ncid:
        errs.append("evidence: no Community ID beside the uids")

    if "--hostile" in opts:
        body = text(doc.find("body"))
        if opts["--hostile"] not in body:
            errs.append("hostile string not shown as text")
    if opts.get("--roles") == "none":  # every expected flow of a role rule went unchecked
        n = sum(1 for r in flows if r["verdict"] == "expected" and r["rule_id"] in ROLE_RULES)
        want_u = "%d flows were rated expected although their peer was not checked" % n
    else:
        want_u = "Every role a rule names had addresses: every peer was checked."
    if not any(want_u in text(p) for p in doc.iter("p")):
        errs.append("unchecked: want %r" % want_u)
    for e in errs:
        print(e)
    print("ok" if not errs else "%d problems" % len(errs))
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
