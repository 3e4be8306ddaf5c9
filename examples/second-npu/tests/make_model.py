#!/usr/bin/env python3
"""Writes a small int8 QDQ model (conv 3x3 + Relu, then a conv 1x1 with 40
output channels: not a multiple of 32) for the CLI test: make_model.py OUT."""
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from qdq_graph import QdqGraph

rng = np.random.default_rng(5)
graph = QdqGraph()
nodes, inits = graph.nodes, graph.inits
const, qdq = graph.const, graph.qdq


def conv(x, cin, cout, k, name, relu):
    w = rng.integers(-60, 60, (cout, cin, k, k)).astype(np.int8)
    const(name + "_w", w)
    const(name + "_ws", np.array(0.01, np.float32))
    const(name + "_wz", np.array(0, np.int8))
    nodes.append(helper.make_node("DequantizeLinear",
                                  [name + "_w", name + "_ws", name + "_wz"],
                                  [name + "_wf"]))
    b = rng.integers(-500, 500, (cout,)).astype(np.int32)
    const(name + "_b", b)
    const(name + "_bs", np.array(0.01 * 0.05, np.float32))
    const(name + "_bz", np.array(0, np.int32))
    nodes.append(helper.make_node("DequantizeLinear",
                                  [name + "_b", name + "_bs", name + "_bz"],
                                  [name + "_bf"]))
    y = name + "_y"
    nodes.append(helper.make_node("Conv", [x, name + "_wf", name + "_bf"], [y],
                                  name=name, pads=[k // 2] * 4,
                                  kernel_shape=[k, k]))
    if relu:
        nodes.append(helper.make_node("Relu", [y], [y + "_r"]))
        y += "_r"
    qdq(y, 0.05, -5 if not relu else -128, name + "_out")
    return name + "_out"


qdq("input", 0.05, 3, "x")
h = conv("x", 8, 24, 3, "conv", True)
h = conv(h, 24, 40, 1, "conv1x1", False)
g = helper.make_graph(
    nodes, "snpu_cli",
    [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 8, 12, 12])],
    [helper.make_tensor_value_info(h, TensorProto.FLOAT, [1, 40, 12, 12])],
    inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
onnx.checker.check_model(m)
onnx.save(m, sys.argv[1])
