#!/usr/bin/env python3
"""Writes acteq.onnx and acteq-calib/*.npy for quant/act-equalization.test:
x[1,3,5,5] -> Conv 1x1 (4 channels, bias; channels 0 and 1 8x and 3x the
others) -> Clip(0, 6) -> depthwise Conv 3x3 -> y. The calibration inputs
keep every channel below 6, so activation equalization may scale channels
0 and 1. Rerun after changing it: python3 make_acteq.py"""
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(7)
w1 = rng.normal(0, 0.3, (4, 3, 1, 1)).astype(np.float32)
w1[0] *= 8
w1[1] *= 3
b1 = np.array([0.5, 0.2, 0.1, 0.3], np.float32)
w2 = rng.normal(0, 0.3, (4, 1, 3, 3)).astype(np.float32)
inits = [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"),
         numpy_helper.from_array(w2, "w2"),
         numpy_helper.from_array(np.array(0, np.float32), "lo"),
         numpy_helper.from_array(np.array(6, np.float32), "hi")]
nodes = [helper.make_node("Conv", ["x", "w1", "b1"], ["a"], name="expand"),
         helper.make_node("Clip", ["a", "lo", "hi"], ["r"], name="relu6"),
         helper.make_node("Conv", ["r", "w2"], ["y"], name="depthwise",
                          group=4, pads=[1, 1, 1, 1])]
g = helper.make_graph(
    nodes, "acteq",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 5, 5])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 5, 5])],
    inits)
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
m.ir_version = 8
onnx.checker.check_model(m)
onnx.save(m, os.path.join(here, "acteq.onnx"))
os.makedirs(os.path.join(here, "acteq-calib"), exist_ok=True)
for i in range(4):
    x = rng.normal(0, 0.4, (1, 3, 5, 5)).astype(np.float32)
    np.save(os.path.join(here, "acteq-calib", f"s{i}.npy"), x)
