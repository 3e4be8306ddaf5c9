#!/usr/bin/env python3
"""Writes the example's model and data (README.md):

  model.onnx   x [N, 8, 8, 8] (N symbolic) -> two convolutions ->
               com.acme::ClampedAdd {lo 0, hi 6} -> a convolution ->
               com.acme::RowNorm (x, scale) {axis 1, eps 1e-3} -> y, norm
  ops.onnx     the two custom ops alone: a, b [N, 8, 8, 8] -> ClampedAdd ->
               RowNorm -> y, norm (float; no convolution, whose sums the CPU
               backend orders differently from the interpreter)
  calib/       calibration samples for `ember quantize` (.npy, N = 1)
  input/       one input for the runs (input_0.npy, N = 2)

  make_model.py OUT_DIR [--seed S]

Weights and data come from a seeded generator: the same files every time.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def conv(name, x, out, cin, cout, k, rng, inits):
    w = (rng.standard_normal((cout, cin, k, k)) / np.sqrt(cin * k * k)).astype(
        np.float32)
    b = (0.1 * rng.standard_normal(cout)).astype(np.float32)
    inits += [numpy_helper.from_array(w, name + ".w"),
              numpy_helper.from_array(b, name + ".b")]
    return helper.make_node("Conv", [x, name + ".w", name + ".b"], [out],
                            name=name, pads=[k // 2] * 4)


def model(rng):
    inits = []
    nodes = [
        conv("conv1", "x", "c1", 8, 8, 3, rng, inits),
        conv("conv2", "x", "c2", 8, 8, 1, rng, inits),
        helper.make_node("ClampedAdd", ["c1", "c2"], ["s"], name="clamped_add",
                         domain="com.acme", lo=0.0, hi=6.0),
        conv("conv3", "s", "c3", 8, 8, 3, rng, inits),
        helper.make_node("RowNorm", ["c3", "scale"], ["y", "norm"],
                         name="row_norm", domain="com.acme", axis=1, eps=1e-3,
                         mode="l2"),
    ]
    scale = (1.0 + 0.25 * rng.standard_normal(8)).astype(np.float32)
    inits.append(numpy_helper.from_array(scale, "scale"))
    g = helper.make_graph(
        nodes, "custom_op_example",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8, 8, 8]),
         helper.make_tensor_value_info("norm", TensorProto.FLOAT,
                                       ["N", 1, 8, 8])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.acme", 1)],
                          producer_name="examples/custom-op/make_model.py")
    m.ir_version = 8
    return m


def ops_model(rng):
    scale = (1.0 + 0.25 * rng.standard_normal(8)).astype(np.float32)
    shape = ["N", 8, 8, 8]
    g = helper.make_graph(
        [helper.make_node("ClampedAdd", ["a", "b"], ["s"], name="clamped_add",
                          domain="com.acme", lo=0.0, hi=6.0),
         helper.make_node("RowNorm", ["s", "scale"], ["y", "norm"],
                          name="row_norm", domain="com.acme", axis=1,
                          eps=1e-3, mode="l2")],
        "custom_ops_alone",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, shape)
         for n in ("a", "b")],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape),
         helper.make_tensor_value_info("norm", TensorProto.FLOAT,
                                       ["N", 1, 8, 8])],
        [numpy_helper.from_array(scale, "scale")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17),
                                            helper.make_opsetid("com.acme", 1)],
                          producer_name="examples/custom-op/make_model.py")
    m.ir_version = 8
    return m


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    os.makedirs(os.path.join(a.out, "calib"), exist_ok=True)
    os.makedirs(os.path.join(a.out, "input"), exist_ok=True)
    onnx.save(model(rng), os.path.join(a.out, "model.onnx"))
    for i in range(8):
        x = rng.standard_normal((1, 8, 8, 8)).astype(np.float32)
        np.save(os.path.join(a.out, "calib", "s%d.npy" % i), x)
    x = rng.standard_normal((2, 8, 8, 8)).astype(np.float32)
    np.save(os.path.join(a.out, "input", "input_0.npy"), x)
    # The custom ops alone, after the model's files so that those stay what
    # they were.
    onnx.save(ops_model(rng), os.path.join(a.out, "ops.onnx"))
    for n in ("a", "b"):
        np.save(os.path.join(a.out, "input", n + ".npy"),
                (2 * rng.standard_normal((2, 8, 8, 8))).astype(np.float32))


if __name__ == "__main__":
    main()
