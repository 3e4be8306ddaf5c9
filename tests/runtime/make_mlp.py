#!/usr/bin/env python3
"""An int8 QDQ multilayer perceptron whose weights dominate its memory: the
runtime's memory split test (tests/runtime/check_runtime.py) gives each NPU
core a DRAM window smaller than the model and checks that one core refuses
it and two run it. Seeded; needs numpy and onnx only.

    make_mlp.py OUT_DIR [--widths 1024,2048,2048,1024,64] [--seed S]

Writes OUT_DIR/model.onnx (input x [1, widths[0]] float, output y float):
x -> Q/DQ -> (Gemm with int8 weights per tensor, int32 bias, Relu, Q/DQ) per
layer, as ONNX Runtime's quantizer writes QDQ graphs.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--widths", default="1024,2048,2048,1024,64")
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    widths = [int(w) for w in a.widths.split(",")]
    rng = np.random.default_rng(a.seed)
    nodes, inits = [], []

    def const(arr, name):
        inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(op, ins, out, **attrs):
        nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def qdq(x, name, scale):
        s = const(np.float32(scale), name + "_s")
        z = const(np.uint8(0), name + "_z")
        q = node("QuantizeLinear", [x, s, z], name + "_q")
        return node("DequantizeLinear", [q, s, z], name + "_dq"), scale

    x, sx = qdq("x", "in", 4.0 / 255)
    for i in range(len(widths) - 1):
        k, n = widths[i], widths[i + 1]
        w = rng.integers(-127, 128, [n, k]).astype(np.int8)
        sw = np.float32(1.0 / (127 * np.sqrt(k)))
        wd = node("DequantizeLinear",
                  [const(w, f"w{i}"), const(sw, f"w{i}_s"),
                   const(np.int8(0), f"w{i}_z")], f"w{i}_dq")
        b = rng.integers(-2000, 2000, [n]).astype(np.int32)
        bd = node("DequantizeLinear",
                  [const(b, f"b{i}"), const(np.float32(sx * sw), f"b{i}_s"),
                   const(np.int32(0), f"b{i}_z")], f"b{i}_dq")
        y = node("Gemm", [x, wd, bd], f"fc{i}", transB=1)
        y = node("Relu", [y], f"relu{i}")
        x, sx = qdq(y, f"a{i}", 2.0 / 255)
    y = node("Identity", [x], "y")
    g = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, widths[0]])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, widths[-1]])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(a.out, exist_ok=True)
    onnx.save(m, os.path.join(a.out, "model.onnx"))
    weights = sum(widths[i] * widths[i + 1] for i in range(len(widths) - 1))
    print(f"wrote {a.out}/model.onnx ({weights} int8 weights)")


if __name__ == "__main__":
    main()
