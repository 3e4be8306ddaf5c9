#!/usr/bin/env python3
"""The models tests/custom-ops runs, written to OUT_DIR (same files every
time):

  bad.onnx        x f32[2,3] -> org.bad::Op -> y            (BadOps.c)
  example.onnx    the example's model (examples/custom-op/make_model.py)
  attr.onnx       org.test::AttrSum with every attribute type, once with the
                  optional bias and once without, two results each
  satadd_v1.onnx  org.test::SatAdd8 at opset 1 of org.test (saturating)
  satadd_v2.onnx  the same at opset 2 (wrapping)
  fold.onnx       x f32[N,2,3] (N symbolic) -> org.test::Fold -> [N,6]
  qscale.onnx     x -> Q -> DQ -> org.test::QScale {factor 0.5} -> Q -> DQ
                  (the integer kernel form)
  qscale_float.onnx  x -> org.test::QScale -> org.test::AttrSum, float, with
                  calibration samples in calib/ (`ember quantize`)
  repeat_v1.onnx  org.cxx::Repeat at opset 1 of org.cxx (CxxOps.cpp
                  registers it for opsets 2 and later)
  two_libs.onnx   org.cxx::Twice (CxxOps.cpp) -> org.test::AttrSum: ops of
                  two libraries, one written in C++

  make_models.py OUT_DIR
"""
import importlib.util
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))


def save(m, out, name, domains):
    m.opset_import.extend([helper.make_opsetid(d, v) for d, v in domains])
    m.ir_version = 8
    onnx.save(m, os.path.join(out, name))


def vi(name, t, dims):
    return helper.make_tensor_value_info(name, t, dims)


def bad(out):
    g = helper.make_graph(
        [helper.make_node("Op", ["x"], ["y"], name="bad_op", domain="org.bad")],
        "bad", [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.FLOAT, [2, 3])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "bad.onnx", [("org.bad", 1)])


def example(out):
    path = os.path.join(HERE, "..", "..", "examples", "custom-op",
                        "make_model.py")
    spec = importlib.util.spec_from_file_location("make_model", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    onnx.save(mod.model(np.random.default_rng(7)),
              os.path.join(out, "example.onnx"))


def attr(out):
    attrs = dict(i=3, f=0.5, s="abc", ints=[1, 2, 3], floats=[1.5, 2.0],
                 strings=["x", "yz"],
                 t=numpy_helper.from_array(np.array([4, 5], np.int64)))
    nodes = [
        helper.make_node("AttrSum", ["x", "bias"], ["y", "info"],
                         name="with_bias", domain="org.test", **attrs),
        helper.make_node("AttrSum", ["x", ""], ["y2", "info2"],
                         name="without_bias", domain="org.test", **attrs),
    ]
    g = helper.make_graph(
        nodes, "attr", [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.FLOAT, [2, 3]), vi("info", TensorProto.INT64, [7]),
         vi("y2", TensorProto.FLOAT, [2, 3]),
         vi("info2", TensorProto.INT64, [7])],
        [numpy_helper.from_array(np.array(0.25, np.float32), "bias")])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "attr.onnx", [("org.test", 1)])


def satadd(out, version):
    g = helper.make_graph(
        [helper.make_node("SatAdd8", ["a", "b"], ["y"], name="add",
                          domain="org.test")],
        "satadd", [vi("a", TensorProto.INT8, [4, 40]),
                   vi("b", TensorProto.INT8, [4, 40])],
        [vi("y", TensorProto.INT8, [4, 40])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "satadd_v%d.onnx" % version, [("org.test", version)])


def fold(out):
    g = helper.make_graph(
        [helper.make_node("Fold", ["x"], ["f"], name="fold", domain="org.test"),
         helper.make_node("Relu", ["f"], ["y"], name="relu")],
        "fold", [vi("x", TensorProto.FLOAT, ["N", 2, 3])],
        [vi("y", TensorProto.FLOAT, ["N", 6])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "fold.onnx", [("org.test", 1)])


def qscale(out):
    inits = [numpy_helper.from_array(np.array(0.02, np.float32), "sx"),
             numpy_helper.from_array(np.array(3, np.int8), "zx"),
             numpy_helper.from_array(np.array(0.015, np.float32), "sy"),
             numpy_helper.from_array(np.array(-5, np.int8), "zy")]
    nodes = [
        helper.make_node("QuantizeLinear", ["x", "sx", "zx"], ["xq"]),
        helper.make_node("DequantizeLinear", ["xq", "sx", "zx"], ["xd"]),
        helper.make_node("QScale", ["xd"], ["s"], name="qscale",
                         domain="org.test", factor=0.5),
        helper.make_node("QuantizeLinear", ["s", "sy", "zy"], ["sq"]),
        helper.make_node("DequantizeLinear", ["sq", "sy", "zy"], ["y"]),
    ]
    g = helper.make_graph(nodes, "qscale", [vi("x", TensorProto.FLOAT, [1, 64])],
                          [vi("y", TensorProto.FLOAT, [1, 64])], inits)
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "qscale.onnx", [("org.test", 1)])


def qscale_float(out):
    g = helper.make_graph(
        [helper.make_node("QScale", ["x"], ["s"], name="qscale",
                          domain="org.test", factor=0.5),
         helper.make_node("AttrSum", ["s", ""], ["y", "info"], name="attr_sum",
                          domain="org.test", i=1, f=0.0, s="", ints=[0],
                          floats=[0.0], strings=["a"],
                          t=numpy_helper.from_array(np.array([0], np.int64)))],
        "qscale_float", [vi("x", TensorProto.FLOAT, [1, 64])],
        [vi("y", TensorProto.FLOAT, [1, 64]), vi("info", TensorProto.INT64, [7])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "qscale_float.onnx", [("org.test", 1)])
    os.makedirs(os.path.join(out, "calib"), exist_ok=True)
    rng = np.random.default_rng(5)
    for i in range(4):
        np.save(os.path.join(out, "calib", "s%d.npy" % i),
                rng.uniform(-2, 2, (1, 64)).astype(np.float32))


def two_libs(out):
    attrs = dict(i=1, f=0.25, s="s", ints=[2], floats=[0.5], strings=["t"],
                 t=numpy_helper.from_array(np.array([1.5], np.float32)))
    g = helper.make_graph(
        [helper.make_node("Twice", ["x"], ["t"], name="twice", domain="org.cxx"),
         helper.make_node("AttrSum", ["t"], ["y", "info"], name="attr_sum",
                          domain="org.test", **attrs)],
        "two_libs", [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.FLOAT, [2, 3]), vi("info", TensorProto.INT64, [7])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "two_libs.onnx", [("org.test", 1), ("org.cxx", 1)])


def repeat_v1(out):
    g = helper.make_graph(
        [helper.make_node("Repeat", ["x"], ["y"], name="repeat",
                          domain="org.cxx", times=[1, 2])],
        "repeat_v1", [vi("x", TensorProto.FLOAT, [2, 3])],
        [vi("y", TensorProto.FLOAT, [2, 6])])
    save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), out,
         "repeat_v1.onnx", [("org.cxx", 1)])


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    bad(out)
    example(out)
    attr(out)
    satadd(out, 1)
    satadd(out, 2)
    fold(out)
    qscale(out)
    qscale_float(out)
    two_libs(out)
    repeat_v1(out)


if __name__ == "__main__":
    main()
