#!/usr/bin/env python3
"""The share of a model's MACs a target description claims, and whether
every claimed run schedules (docs/npu-sdk.md, "Split tiling").

    bench/npu/accel_mac_share.py build/bin/ember-accel DESC.json MODEL.onnx...

For each model: the MACs of the layers `ember-accel select` builds (the
`macs=` of each `layer gemm`) over the MACs of the model's Conv, ConvInteger,
QLinearConv, MatMul, MatMulInteger, QLinearMatMul and Gemm nodes (shapes
from one ONNX Runtime run with the symbolic dims at 1, as `--dim NAME=1`
gives select), then `ember-accel schedule` of every run select claims
(`--run I`), and how many of its layers split their taps (tiling dim t).
Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import os
import re
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

CONV = ("Conv", "ConvInteger", "QLinearConv")
MATMUL = ("MatMul", "MatMulInteger", "Gemm", "QLinearMatMul")


def model_macs(path):
    m = onnx.load(path)
    for i in m.graph.input:
        for d in i.type.tensor_type.shape.dim:
            if not d.dim_value:
                d.dim_param = ""
                d.dim_value = 1
    inits = {i.name: list(i.dims) for i in m.graph.initializer}
    wanted = []
    for n in m.graph.node:
        if n.op_type in CONV + MATMUL:
            wanted += [x for x in n.input[:2] if x] + [n.output[0]]
    outs = {o.name for o in m.graph.output}
    for w in dict.fromkeys(wanted):
        if w not in outs and w not in inits:
            m.graph.output.append(onnx.helper.make_empty_tensor_value_info(w))
    s = ort.InferenceSession(m.SerializeToString(),
                             providers=["CPUExecutionProvider"])
    types = {"tensor(float)": np.float32, "tensor(uint8)": np.uint8,
             "tensor(int8)": np.int8}
    feeds = {i.name: np.zeros([d if isinstance(d, int) else 1
                               for d in i.shape], types[i.type])
             for i in s.get_inputs()}
    names = [o.name for o in s.get_outputs()]
    vals = dict(zip(names, s.run(names, feeds)))

    def shape(x):
        return list(vals[x].shape) if x in vals else inits[x]

    total = 0
    for n in m.graph.node:
        if n.op_type in CONV:
            w = shape(n.input[3] if n.op_type == "QLinearConv" else n.input[1])
            total += int(np.prod(shape(n.output[0]))) * int(np.prod(w[1:]))
        elif n.op_type in MATMUL:
            total += (int(np.prod(shape(n.output[0]))) *
                      shape(n.input[0])[-1])
    return total


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    accel, desc = sys.argv[1:3]
    print("| model | MAC share | runs | runs that schedule | layers split |")
    print("|---|---|---|---|---|")
    for path in sys.argv[3:]:
        dims = []
        for i in onnx.load(path).graph.input:
            for d in i.type.tensor_type.shape.dim:
                if d.dim_param:
                    dims += ["--dim", d.dim_param + "=1"]
        sel = [accel, "select", path, "--target", desc] + dims
        out = subprocess.run(sel, capture_output=True, text=True).stdout
        claimed = sum(int(x) for x in
                      re.findall(r"^layer gemm .*? macs=(\d+)", out, re.M))
        runs = re.findall(r"^# run (\d+) of \d+", out, re.M)
        ok = split = 0
        with tempfile.TemporaryDirectory() as tmp:
            lay = os.path.join(tmp, "run.layers")
            for k in runs:
                with open(lay, "w") as f:
                    f.write(subprocess.run(sel + ["--run", k],
                                           capture_output=True,
                                           text=True).stdout)
                p = subprocess.run([accel, "schedule", lay, "--target", desc],
                                   capture_output=True, text=True)
                if p.returncode == 0:
                    ok += 1
                    split += len(re.findall(r'tiling="[^"]* t=', p.stdout))
                else:
                    print(f"run {k} of {path}: {p.stderr.strip()}",
                          file=sys.stderr)
        total = model_macs(path)
        share = claimed / total if total else 0.0
        print(f"| {os.path.basename(os.path.dirname(path)) or path} | "
              f"{share:.3f} | {len(runs)} | {ok} | {split} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
