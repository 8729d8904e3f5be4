#!/usr/bin/env python3
"""eve_check.py DB EVE [anomalies]: hold an EVE export to the database it
came from, without smaudit's code.

Every line must validate against tests/eve.schema.json (Suricata's field
names and types). Flow events are matched to the database's flows by their
tuple and start time: exactly one flow event per flow (or per non-expected
flow with 'anomalies'), and an alert event with the same flow_id exactly
when the verdict is not expected, carrying the verdict as category, the
reason as signature and the rule in its metadata. Prints 'ok N M' (flow and
alert events) or fails with the first mismatch."""
import datetime
import json
import math
import sqlite3
import sys

import jsonschema

HERE = sys.path[0]
schema = json.load(open(HERE + "/eve.schema.json"))
validator = jsonschema.Draft7Validator(schema)
db, eve = sys.argv[1], sys.argv[2]
only_anomalies = len(sys.argv) > 3 and sys.argv[3] == "anomalies"

PROTO = {"tcp": "TCP", "udp": "UDP", "icmp": "ICMP", "icmp6": "IPv6-ICMP"}
events = []
with open(eve, "rb") as f:
    for n, raw in enumerate(f, 1):
        e = json.loads(raw.decode("utf-8"))
        errors = sorted(validator.iter_errors(e), key=str)
        assert not errors, "line %d: %s" % (n, errors[0].message)
        events.append(e)

flows = [e for e in events if e["event_type"] == "flow"]
alerts = {}
for a in (e for e in events if e["event_type"] == "alert"):
    assert a["flow_id"] not in alerts, "two alerts for flow_id %d" % a["flow_id"]
    alerts[a["flow_id"]] = a


def key(proto, sa, sp, da, dp, start):
    return (proto, sa, sp, da, dp, start)


def evkey(e):
    if "icmp_type" in e:
        sp, dp = e["icmp_type"], None
    else:
        sp, dp = e.get("src_port"), e.get("dest_port")
    return key(e["proto"], e["src_ip"], sp, e["dest_ip"], dp, e["flow"]["start"])


seen = {}
for e in flows:
    k = evkey(e)
    assert k not in seen, "two flow events for %r" % (k,)
    seen[k] = e

def suricata_time(t):
    """Suricata's timestamp form for epoch seconds t, to the microsecond."""
    whole = math.floor(t)
    usec = round((t - whole) * 1e6)
    if usec >= 1000000:
        whole, usec = whole + 1, usec - 1000000
    d = datetime.datetime.fromtimestamp(whole, datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S") + ".%06d+0000" % usec


con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
rows = [(p, oa, op, ra, rp, suricata_time(ts), *rest) for p, oa, op, ra, rp, ts, *rest in
        con.execute("SELECT proto, orig_addr, orig_port, resp_addr, resp_port, ts_start, "
                    "verdict, reason, rule_id, orig_pkts, resp_pkts, community_id "
                    "FROM flows").fetchall()]
matched = 0
for proto, oa, op, ra, rp, start, verdict, reason, rule, opk, rpk, cid in rows:
    anomalous = verdict not in (None, "expected")
    icmp = proto in ("icmp", "icmp6")
    k = key(PROTO.get(proto, proto), oa, op, ra, None if icmp else rp, start)
    if only_anomalies and not anomalous:
        assert k not in seen, "expected flow %r exported by anomalies" % (k,)
        continue
    assert k in seen, "no flow event for %r" % (k,)
    e = seen.pop(k)
    matched += 1
    assert e["flow"]["pkts_toserver"] == opk and e["flow"]["pkts_toclient"] == rpk, k
    assert e.get("community_id") == cid, (k, e.get("community_id"), cid)
    assert e["flow"]["alerted"] == anomalous, k
    a = alerts.pop(e["flow_id"], None)
    if not anomalous:
        assert a is None, "alert for an expected flow %r" % (k,)
        continue
    assert a is not None, "no alert for %s flow %r" % (verdict, k)
    assert a["alert"]["category"] == verdict, (k, a["alert"]["category"])
    assert a["alert"]["signature"] == reason, (k, a["alert"]["signature"])
    assert a["alert"]["metadata"]["verdict"] == [verdict], k
    assert a["alert"]["metadata"].get("rule") == ([rule] if rule else None), k
    assert evkey(a) == k, "alert tuple differs from its flow %r" % (k,)
assert not seen, "flow events with no flow: %r" % list(seen)[:3]
assert not alerts, "alerts with no flow event: %r" % list(alerts)[:3]
print("ok %d %d" % (matched, sum(1 for e in events if e["event_type"] == "alert")))
