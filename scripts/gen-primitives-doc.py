#!/usr/bin/env python3
"""Generates docs/primitives.md from core/ir/Ops.def (the one op table).

usage: gen-primitives-doc.py [--check]   (--check: fail if the doc is stale)
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HEADER = """# Primitive set

Generated from `core/ir/Ops.def` by `scripts/gen-primitives-doc.py`; do not
edit by hand (a test fails when it is stale).

After `lowerFunction` (core/lower) only **Primitive** ops remain: they are the
contract between Ember's front end and every backend. A backend implements
the primitives it declares in its capability manifest; a **Composite** op is
rebuilt from primitives by its `lower_<Name>` function unless the backend
asks to keep it whole (`LoweringOptions::keep`). The verifier rejects any
non-primitive node after lowering. Every op, primitive or composite, has a
reference kernel in core/interp (the oracle), which also defines its result
type (see docs/ops-and-kernels.md).

Operand and result conventions are those of the newest ONNX opset for the op
of the same name (the importer upgrades older forms); Ember-only ops are
described in their kernels. The "operand 0" column is the element kinds
the op's first operand may have (Ops.def's Types column, checked before the
kernel runs; "kernel": the kernel checks rules over several operands).
Narrow element kinds (float8, float4, int4, int2) are accepted only by the
ops marked "narrow" (Cast, CastLike, QuantizeLinear, DequantizeLinear,
BitCast, Identity and the reshape-like ops). The "MACs" column says how an
op's multiply-accumulates are counted in reports (Ops.def's Macs column:
"conv (w: N)", a window of weight operand N per result element; "matmul",
K products per result element; "-", not counted).

"""


KINDS = {"Any": "any", "Num": "not bool", "Signed": "signed, float",
         "Int": "integer", "Float": "float", "Bool": "bool",
         "Kernel": "kernel"}


def main():
    ops = []
    section = ""
    for line in open(os.path.join(ROOT, "core/ir/Ops.def")):
        s = re.match(r"// ---- (.*)", line)
        if s:
            section = s.group(1)
        m = re.match(r"EMBER_OP\((\w+), (\w+), ([^,]+), (-?\d+), (-?\d+), "
                     r"(-?\d+), T_(\w+), M_(\w+)(?:\((\d+)\))?\)", line)
        if m:
            ops.append((section,) + m.groups())
    def props(p):
        names = [x[2:] for x in re.findall(r"P_\w+", p) if x != "P_None"]
        return ", ".join(n.lower() for n in names) or "-"
    def arity(lo, hi):
        if hi == "-1":
            return f"{lo}+"
        return lo if lo == hi else f"{lo}-{hi}"
    out = [HEADER]
    prim = [o for o in ops if o[2] == "Primitive"]
    comp = [o for o in ops if o[2] == "Composite"]
    out.append(f"{len(prim)} primitives, {len(comp)} composites, "
               f"{len(ops) - len(prim) - len(comp)} storage ops.\n")
    for title, group in (("Primitives", prim), ("Composites (lowered)", comp)):
        out.append(f"\n## {title}\n")
        cur = None
        for sec, name, cls, p, lo, hi, nout, types, macs, w in group:
            if sec != cur:
                out.append(f"\n### {sec}\n\n| op | properties | operands | "
                           "results | operand 0 | MACs |\n"
                           "|---|---|---|---|---|---|")
                cur = sec
            mac = {"None": "-", "MatMul": "matmul"}.get(macs, f"conv (w: {w})")
            out.append(f"| {name} | {props(p)} | {arity(lo, hi)} | "
                       f"{'variadic' if nout == '-1' else nout} | "
                       f"{KINDS[types]} | {mac} |")
        out.append("")
    text = "\n".join(out).rstrip() + "\n"
    path = os.path.join(ROOT, "docs/primitives.md")
    if "--check" in sys.argv:
        if not os.path.exists(path) or open(path).read() != text:
            print("docs/primitives.md is stale: run scripts/gen-primitives-doc.py")
            return 1
        print("docs/primitives.md is up to date")
        return 0
    open(path, "w").write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
