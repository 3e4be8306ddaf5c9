#!/usr/bin/env python3
"""Writes reseq.onnx and reseq-calib/*.npy for
quant/residual-equalization.test: a residual stream as MobileNetV2 has
them. x[1,3,5,5] -> Conv 1x1 (4 channels, bias) -> a; a -> expand Conv 1x1
(6) -> Relu -> project Conv 1x1 (4, bias) -> b; s = Add(a, b) -> Conv 1x1
(5) -> y. Channels 0 and 1 of both writers are 8x and 3x the others, so
the stream {a, b, s} has two wide channels. Rerun after changing it:
python3 make_reseq.py"""
import numpy as np
from onnx import helper, numpy_helper

import quant_gen

rng = np.random.default_rng(11)
w0 = rng.normal(0, 0.5, (4, 3, 1, 1)).astype(np.float32)
wp = rng.normal(0, 0.4, (4, 6, 1, 1)).astype(np.float32)
for w in (w0, wp):
    w[0] *= 8
    w[1] *= 3
inits = [numpy_helper.from_array(w0, "w0"),
         numpy_helper.from_array(np.array([0.5, -0.2, 0.1, 0.3], np.float32), "b0"),
         numpy_helper.from_array(rng.normal(0, 0.5, (6, 4, 1, 1)).astype(np.float32), "we"),
         numpy_helper.from_array(wp, "wp"),
         numpy_helper.from_array(np.array([-0.1, 0.2, 0.05, -0.3], np.float32), "bp"),
         numpy_helper.from_array(rng.normal(0, 0.5, (5, 4, 1, 1)).astype(np.float32), "wo")]
nodes = [helper.make_node("Conv", ["x", "w0", "b0"], ["a"], name="stem"),
         helper.make_node("Conv", ["a", "we"], ["e"], name="expand"),
         helper.make_node("Relu", ["e"], ["r"], name="relu"),
         helper.make_node("Conv", ["r", "wp", "bp"], ["b"], name="project"),
         helper.make_node("Add", ["a", "b"], ["s"], name="add"),
         helper.make_node("Conv", ["s", "wo"], ["y"], name="head")]
quant_gen.save("reseq", nodes, inits, [1, 3, 5, 5], [1, 5, 5, 5], rng, 1.0)
