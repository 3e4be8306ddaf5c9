#!/usr/bin/env python3
"""Writes an int8 QDQ test case of a long chain of convolutions (3x3 and
1x1 in turn, Relu, 64 channels at 56 x 56): the DMA engine loads many
activation blocks into fresh rows with nothing to wait for, so it runs
ahead of the array by more signals than a barrier counts unless dependency
insertion holds it back.
    make_chain.py OUT_DIR [DEPTH]   (OUT_DIR/model.onnx, test_data_set_0)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

rng = np.random.default_rng(7)
nodes, inits = [], []


def const(name, arr):
    inits.append(numpy_helper.from_array(arr, name))


def qdq(x, scale, out):
    const(out + "_s", np.array(scale, np.float32))
    const(out + "_z", np.array(0, np.int8))
    nodes.append(helper.make_node("QuantizeLinear", [x, out + "_s", out + "_z"],
                                  [out + "_q"]))
    nodes.append(helper.make_node("DequantizeLinear",
                                  [out + "_q", out + "_s", out + "_z"], [out]))


def conv(x, cin, cout, k, name):
    const(name + "_w", rng.integers(-40, 40, (cout, cin, k, k)).astype(np.int8))
    const(name + "_ws", np.array(0.004, np.float32))
    const(name + "_wz", np.array(0, np.int8))
    nodes.append(helper.make_node("DequantizeLinear",
                                  [name + "_w", name + "_ws", name + "_wz"],
                                  [name + "_wf"]))
    nodes.append(helper.make_node("Conv", [x, name + "_wf"], [name + "_c"],
                                  pads=[k // 2] * 4))
    nodes.append(helper.make_node("Relu", [name + "_c"], [name + "_r"]))
    qdq(name + "_r", 0.05, name + "_o")
    return name + "_o"


def main():
    out = sys.argv[1]
    depth = int(sys.argv[2]) if len(sys.argv) > 2 else 12
    C, H = 64, 56
    qdq("x", 0.02, "xq")
    y = conv("xq", 3, C, 3, "c0")
    for i in range(1, depth):
        y = conv(y, C, C, 3 if i % 2 else 1, f"c{i}")
    g = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, H, H])],
        [helper.make_tensor_value_info(y, TensorProto.FLOAT, [1, C, H, H])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(out, "model.onnx"))
    x = rng.uniform(0, 2, (1, 3, H, H)).astype(np.float32)
    with open(os.path.join(out, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(x, "x").SerializeToString())


if __name__ == "__main__":
    main()
