#!/usr/bin/env python3
"""Writes acteq.onnx and acteq-calib/*.npy for quant/act-equalization.test:
x[1,3,5,5] -> Conv 1x1 (4 channels, bias; channels 0 and 1 8x and 3x the
others) -> Clip(0, 6) -> depthwise Conv 3x3 -> y. The calibration inputs
keep every channel below 6, so activation equalization may scale channels
0 and 1. Rerun after changing it: python3 make_acteq.py"""
import numpy as np
from onnx import helper, numpy_helper

import quant_gen

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
quant_gen.save("acteq", nodes, inits, [1, 3, 5, 5], [1, 4, 5, 5], rng, 0.4)
