#!/usr/bin/env python3
"""Per-channel affine QDQ layers (docs/quantization.md, "Per-channel
affine") against ONNX Runtime: seeded single-layer QDQ models of each kind
(a BatchNormalization; a Mul by a dequantized per-channel uint8 constant; a
Mul and an Add of float per-channel constants and a Relu; a Sub of the map
from a per-channel constant, a negative slope), their output parameters
from ONNX Runtime's float range, run by `ember run` and by ONNX Runtime on
the same seeded inputs. Prints per kind the output elements that differ and
the largest difference, in output quanta.

  affine_vs_ort.py --ember build/bin/ember [--target interp] [--seed S]
                   [--reps N] [--requant fixed|float32]

Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto as TP
from onnx import helper as h
from onnx import numpy_helper as nh

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--ember", required=True)
ap.add_argument("--target", default="interp")
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--reps", type=int, default=5)
ap.add_argument("--requant", default=None)
args = ap.parse_args()
EMBER = args.ember
rng = np.random.default_rng(args.seed)


def build(kind, C, H, W):
    inits, nodes = [], []
    def const(name, arr):
        inits.append(nh.from_array(np.asarray(arr), name)); return name
    def qdq(x, name, s, z, dt=np.uint8):
        const(name + "_s", np.float32(s)); const(name + "_z", dt(z))
        nodes.append(h.make_node("QuantizeLinear", [x, name + "_s", name + "_z"], [name + "_q"]))
        nodes.append(h.make_node("DequantizeLinear", [name + "_q", name + "_s", name + "_z"], [name + "_d"]))
        return name + "_d"
    x = qdq("x", "xin", rng.uniform(0.01, 0.05), rng.integers(0, 256))
    if kind == "bn":
        sc = rng.normal(1, 0.5, C).astype(np.float32)
        const("sc", sc); const("b", rng.normal(0, 1, C).astype(np.float32))
        const("m", rng.normal(0, 1, C).astype(np.float32)); const("v", rng.uniform(0.1, 3, C).astype(np.float32))
        nodes.append(h.make_node("BatchNormalization", [x, "sc", "b", "m", "v"], ["y"], epsilon=1e-5))
        y = "y"
    elif kind == "mul":
        q = rng.integers(0, 256, (C, 1, 1)).astype(np.uint8)
        const("cq", q); const("cs", np.float32(rng.uniform(0.0005, 0.005))); const("cz", np.uint8(rng.integers(0, 40)))
        nodes.append(h.make_node("DequantizeLinear", ["cq", "cs", "cz"], ["cd"]))
        nodes.append(h.make_node("Mul", [x, "cd"], ["y"])); y = "y"
    elif kind == "chain":
        const("k1", rng.normal(0, 2, (1, C, 1, 1)).astype(np.float32))
        const("k2", rng.normal(0, 1, (C, 1, 1)).astype(np.float32))
        nodes.append(h.make_node("Mul", [x, "k1"], ["t"]))
        nodes.append(h.make_node("Add", ["t", "k2"], ["u"]))
        nodes.append(h.make_node("Relu", ["u"], ["y"])); y = "y"
    elif kind == "rsub":
        const("k", rng.normal(0, 1, (C, 1, 1)).astype(np.float32))
        nodes.append(h.make_node("Sub", ["k", x], ["y"])); y = "y"
    return inits, nodes, y

def run_case(kind, C=24, H=9, W=11):
    inits, nodes, y = build(kind, C, H, W)
    xin = rng.normal(0, 2, (1, C, H, W)).astype(np.float32)
    g0 = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", TP.FLOAT, [1, C, H, W])],
                      [h.make_tensor_value_info(y, TP.FLOAT, [1, C, H, W])], inits)
    m0 = h.make_model(g0, opset_imports=[h.make_opsetid("", 17)], ir_version=8)
    yv = ort.InferenceSession(m0.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": xin})[0]
    lo, hi = min(float(yv.min()), 0.0), max(float(yv.max()), 0.0)
    s = np.float32((hi - lo) / 255); z = np.uint8(np.clip(round(-lo / s), 0, 255))
    inits.append(nh.from_array(s, "ys")); inits.append(nh.from_array(z, "yz"))
    nodes.append(h.make_node("QuantizeLinear", [y, "ys", "yz"], ["yq"]))
    nodes.append(h.make_node("DequantizeLinear", ["yq", "ys", "yz"], ["out"]))
    g = h.make_graph(nodes, "g", [h.make_tensor_value_info("x", TP.FLOAT, [1, C, H, W])],
                     [h.make_tensor_value_info("out", TP.FLOAT, [1, C, H, W])], inits)
    m = h.make_model(g, opset_imports=[h.make_opsetid("", 17)], ir_version=8)
    d = tempfile.mkdtemp()
    onnx.save(m, d + "/m.onnx"); np.save(d + "/x.npy", xin)
    ref = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(None, {"x": xin})[0]
    subprocess.run([EMBER, "run", d + "/m.onnx", "--target=" + args.target,
                    "--input", "x=" + d + "/x.npy", "--save-outputs", d + "/o"] + (["--requant=" + args.requant] if args.requant else []), check=True,
                   stdout=subprocess.DEVNULL)
    got = nh.to_array(onnx.load_tensor(d + "/o/output_0.pb"))
    dq = np.abs(np.round((got.astype(np.float64) - ref) / float(s)))
    return int((dq > 0).sum()), int(dq.max()), ref.size

tot = {}
for rep in range(args.reps):
    for kind in ["bn", "mul", "chain", "rsub"]:
        n, mx, size = run_case(kind)
        a = tot.setdefault(kind, [0, 0, 0]); a[0] += n; a[1] = max(a[1], mx); a[2] += size
for k, (n, mx, size) in tot.items():
    print(f"{k}: {n} of {size} elements differ, at most {mx} quanta")
