#!/usr/bin/env python3
"""Writes an int8 QDQ test case of the vector unit's forms as ONNX Runtime's
quantize_static writes them (every op between DequantizeLinear and
QuantizeLinear): a convolution; HardSwish as x * HardSigmoid(x) (a table
then a multiply of two int8 tensors); a squeeze-excitation block (a mean,
two 1x1 convolutions, Sigmoid, the per-channel scale times the map); a
residual Add and a Sigmoid of its result (a table with no convolution to
ride on); a 1x1 convolution and Tanh (a table fused into it); a
ShuffleNet channel shuffle (Reshape, Transpose, Reshape: a permutation of
the channels); a stride-2 transposed convolution (its phases interleaved
into the result).
    make_tables.py OUT_DIR   (OUT_DIR/model.onnx, test_data_set_0)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qdq_graph import QdqGraph

rng = np.random.default_rng(11)
graph = QdqGraph()
nodes, inits = graph.nodes, graph.inits
const, qdq = graph.const, graph.qdq


def conv(x, cin, cout, k, name, kind="Conv", **attrs):
    shape = (cin, cout, k, k) if kind == "ConvTranspose" else (cout, cin, k, k)
    const(name + "_w", rng.integers(-50, 50, shape).astype(np.int8))
    const(name + "_ws", np.array(0.004, np.float32))
    const(name + "_wz", np.array(0, np.int8))
    const(name + "_b", rng.integers(-300, 300, cout).astype(np.int32))
    const(name + "_bs", np.array(0.004 * 0.05, np.float32))
    const(name + "_bz", np.array(0, np.int32))
    for t in ("w", "b"):
        nodes.append(helper.make_node(
            "DequantizeLinear", [f"{name}_{t}", f"{name}_{t}s", f"{name}_{t}z"],
            [f"{name}_{t}f"]))
    attrs = attrs or {"pads": [k // 2] * 4}
    nodes.append(helper.make_node(kind, [x, name + "_wf", name + "_bf"],
                                  [name + "_c"], **attrs))
    return name + "_c"


def op(kind, ins, name, scale, zp, **attrs):
    nodes.append(helper.make_node(kind, ins, [name + "_f"], **attrs))
    return qdq(name + "_f", scale, zp, name)


def main():
    out = sys.argv[1]
    C, H = 32, 12
    x = qdq("x", 0.05, 0, "xq")
    y1 = qdq(conv(x, 16, C, 3, "c1"), 0.05, 3, "y1")
    # HardSwish as paddle2onnx writes it: a table, then a multiply.
    h = op("HardSigmoid", [y1], "hs", 1 / 255, -128, alpha=1 / 6, beta=0.5)
    y2 = op("Mul", [y1, h], "hsw", 0.03, -100)
    # Squeeze-excitation: mean, reduce, Relu, expand, Sigmoid, scale.
    m = op("GlobalAveragePool", [y2], "se_mean", 0.02, -90)
    r = qdq(conv(m, C, 8, 1, "se1"), 0.05, 0, "se1q")
    r = op("Relu", [r], "se_relu", 0.05, -128)
    s = qdq(conv(r, 8, C, 1, "se2"), 0.1, 0, "se2q")
    s = op("Sigmoid", [s], "se_sig", 1 / 255, -128)
    y3 = op("Mul", [y2, s], "se_mul", 0.03, -100)
    # A residual add, then a table of its own.
    y4 = op("Add", [y3, y1], "res", 0.06, -20)
    y5 = op("Sigmoid", [y4], "res_sig", 1 / 255, -128)
    # A table fused into a convolution.
    y6 = qdq(conv(y5, C, C, 1, "c2"), 0.05, 0, "y6")
    y7 = op("Tanh", [y6], "tanh", 1 / 128, 0)
    # A channel shuffle of 4 groups.
    const("shuf_s1", np.array([1, 4, C // 4, H, H], np.int64))
    const("shuf_s2", np.array([1, C, H, H], np.int64))
    r = op("Reshape", [y7, "shuf_s1"], "shuf_r1", 1 / 128, 0)
    r = op("Transpose", [r], "shuf_t", 1 / 128, 0, perm=[0, 2, 1, 3, 4])
    y8 = op("Reshape", [r, "shuf_s2"], "shuf_r2", 1 / 128, 0)
    # A 2x2 stride-2 transposed convolution.
    y9 = qdq(conv(y8, C, 16, 2, "up", "ConvTranspose", strides=[2, 2]), 0.05,
             0, "y9")
    g = helper.make_graph(
        nodes, "tables",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 16, H, H])],
        [helper.make_tensor_value_info(y9, TensorProto.FLOAT,
                                       [1, 16, 2 * H, 2 * H])],
        inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
    onnx.save(model, os.path.join(out, "model.onnx"))
    xv = rng.normal(0, 2, (1, 16, H, H)).astype(np.float32)
    with open(os.path.join(out, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(xv, "x").SerializeToString())


if __name__ == "__main__":
    main()
