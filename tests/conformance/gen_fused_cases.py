#!/usr/bin/env python3
"""Writes ONNX test cases of ONNX Runtime's fused transformer ops (what its
transformer optimizer writes: com.microsoft Gelu, BiasGelu, FastGelu,
QuickGelu, FusedMatMul, SkipLayerNormalization and
SkipSimplifiedLayerNormalization, and SimplifiedLayerNormalization in the
default domain), in the standard layout (OUT/<case>/model.onnx,
test_data_set_0/input_<i>.pb, output_<i>.pb). Expected outputs come from
ONNX Runtime, which defines these ops; the importer writes each as the
standard ops it computes (docs/onnx-import.md).

usage: gen_fused_cases.py OUT_DIR
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_cases import main  # noqa: E402

F = TensorProto.FLOAT
MS = "com.microsoft"
rng = np.random.RandomState(20)


def rnd(*shape, scale=1.0):
    return (rng.uniform(-1, 1, size=shape) * scale).astype(np.float32)


def case(name, nodes, inputs, outputs, inits):
    """inputs: [(name, array)]; outputs: [(name, shape or None)]."""
    g = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info(n, F, a.shape) for n, a in inputs],
        [helper.make_tensor_value_info(n, F, s) for n, s in outputs],
        initializer=[numpy_helper.from_array(a, n) for n, a in inits])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid(MS, 1)])
    m.ir_version = 8
    return name, m, inputs


def cases():
    B, S, D = 2, 5, 16
    x = ("x", rnd(B, S, D, scale=3))
    skip = ("skip", rnd(B, S, D))
    gamma, beta, bias = rnd(D) + 1, rnd(D), rnd(D)
    yield case("fused_gelu", [helper.make_node("Gelu", ["x"], ["y"], domain=MS)],
               [x], [("y", None)], [])
    yield case("fused_bias_gelu",
               [helper.make_node("BiasGelu", ["x", "b"], ["y"], domain=MS)],
               [x], [("y", None)], [("b", bias)])
    yield case("fused_fast_gelu_bias",
               [helper.make_node("FastGelu", ["x", "b"], ["y"], domain=MS)],
               [x], [("y", None)], [("b", bias)])
    yield case("fused_fast_gelu",
               [helper.make_node("FastGelu", ["x"], ["y"], domain=MS)],
               [x], [("y", None)], [])
    yield case("fused_quick_gelu",
               [helper.make_node("QuickGelu", ["x"], ["y"], domain=MS,
                                 alpha=1.5)], [x], [("y", None)], [])
    a = ("a", rnd(B, 3, 8, 6))
    w = rnd(B, 3, 5, 8)
    yield case("fused_matmul_trans",
               [helper.make_node("FusedMatMul", ["a", "w"], ["y"], domain=MS,
                                 alpha=0.125, transA=1, transB=1)],
               [a], [("y", None)], [("w", w)])
    yield case("fused_matmul",
               [helper.make_node("FusedMatMul", ["x", "w"], ["y"], domain=MS,
                                 alpha=2.0)],
               [x], [("y", None)], [("w", rnd(D, 7))])
    # A chain as the optimizer writes it: each SkipLayerNormalization's
    # fourth output (the sum) is the next one's residual.
    yield case("fused_skip_layer_norm_chain",
               [helper.make_node("SkipLayerNormalization",
                                 ["x", "skip", "g", "be", "bi"],
                                 ["y1", "", "", "s1"], domain=MS,
                                 epsilon=1e-5),
                helper.make_node("FastGelu", ["y1", "bi"], ["h"], domain=MS),
                helper.make_node("SkipLayerNormalization",
                                 ["h", "s1", "g", "be"], ["y"], domain=MS,
                                 epsilon=1e-5)],
               [x, skip], [("y", None), ("s1", None)],
               [("g", gamma), ("be", beta), ("bi", bias)])
    yield case("fused_skip_layer_norm_stats",
               [helper.make_node("SkipLayerNormalization",
                                 ["x", "skip", "g"], ["y", "m", "r"],
                                 domain=MS, epsilon=1e-5)],
               [x, skip], [("y", None), ("m", None), ("r", None)],
               [("g", gamma)])
    yield case("fused_skip_simplified_layer_norm",
               [helper.make_node("SkipSimplifiedLayerNormalization",
                                 ["x", "skip", "g", "bi"], ["y", "", "", "s"],
                                 domain=MS, epsilon=1e-6)],
               [x, skip], [("y", None), ("s", None)],
               [("g", gamma), ("bi", bias)])
    yield case("fused_simplified_layer_norm",
               [helper.make_node("SimplifiedLayerNormalization", ["x", "g"],
                                 ["y"], axis=-1, epsilon=1e-6)],
               [x], [("y", None)], [("g", gamma)])


if __name__ == "__main__":
    sys.exit(main(__doc__, cases))
