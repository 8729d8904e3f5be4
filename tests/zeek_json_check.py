#!/usr/bin/env python3
"""zeek_json_check.py CONN_LOG CONN_JSON: the JSON lines say what the TSV
conn.log says, with Zeek's JSON writer conventions: the #fields names,
numbers for time/interval/port/count, true/false for bool, unset ('-')
fields left out, sets as arrays. Prints 'ok N'."""
import json
import re
import sys


def unescape(v):
    """Zeek's ASCII writer writes a separator inside a value as \\xNN."""
    return re.sub(r"\\x([0-9a-f]{2})", lambda m: chr(int(m.group(1), 16)), v)


tsv = open(sys.argv[1]).read().splitlines()
fields = next(l for l in tsv if l.startswith("#fields")).split("\t")[1:]
types = next(l for l in tsv if l.startswith("#types")).split("\t")[1:]
rows = [l.split("\t") for l in tsv if not l.startswith("#")]
js = [json.loads(l) for l in open(sys.argv[2], encoding="utf-8").read().splitlines()]
assert len(rows) == len(js), (len(rows), len(js))
for n, (row, j) in enumerate(zip(rows, js), 1):
    want = {}
    for name, typ, v in zip(fields, types, row):
        if v == "-":
            continue
        if typ in ("time", "interval"):
            want[name] = float(v)
        elif typ in ("port", "count"):
            want[name] = int(v)
        elif typ == "bool":
            want[name] = v == "T"
        elif typ.startswith("set["):
            want[name] = [unescape(e) for e in v.split(",")]
        else:
            want[name] = v
    assert set(j) == set(want), (n, sorted(set(j) ^ set(want)))
    for k, v in want.items():
        if isinstance(v, float):
            assert isinstance(j[k], (int, float)) and abs(j[k] - v) < 1e-6, (n, k, j[k], v)
        else:
            assert j[k] == v and type(j[k]) is type(v), (n, k, j[k], v)
print("ok %d" % len(js))
