#!/usr/bin/env python3
"""A variant of a target description for a lit test:

    npu_variant.py IN.json OUT.json VARIANT

nobias: no requantization bias row; novmul: no vmul (nor form mul and its
registers); sum16only: 16-bit activations declared by the mean form alone
(no requant form, conv and matmul without act16); accoutN: the out class in the accumulator memory, N rows (the
separate out memory removed)."""
import json
import sys

t = json.load(open(sys.argv[1]))
what = sys.argv[3]
if what == "nobias":
    t["requant"]["bias_row"] = False
    t["ops"]["requant"].pop("bias", None)
elif what == "novmul":
    t["ops"].pop("vmul")
    t["forms"] = [f for f in t["forms"] if f["form"] != "mul"]
    for e in t["engines"]:
        e["runs"] = [r for r in e["runs"] if r != "vmul"]
    for k in [k for k in t["registers"] if k.startswith("mul_")]:
        t["registers"].pop(k)
elif what == "sum16only":
    t["forms"] = [f for f in t["forms"] if f["form"] != "requant"]
    for f in t["forms"]:
        if f["form"] in ("conv", "matmul"):
            f.pop("act16", None)
elif what.startswith("accout"):
    t["memories"] = [m for m in t["memories"] if m["holds"] != ["out"]]
    for m in t["memories"]:
        if "acc" in m["holds"]:
            m["holds"] = m["holds"] + ["out"]
            m["rows"] = int(what[len("accout"):])
    for o in ("load", "store"):
        t["ops"][o].pop("mem", None)
else:
    sys.exit(f"npu_variant.py: unknown variant {what!r}")
json.dump(t, open(sys.argv[2], "w"), indent=1)
