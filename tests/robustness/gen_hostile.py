#!/usr/bin/env python3
"""Writes hand-crafted hostile ONNX files, one per way a model can lie.

Each file must make `ember compile` print one `error: ...` line naming the
cause and exit 1: never crash, hang or allocate without bound.
usage: gen_hostile.py OUT_DIR   (writes OUT_DIR/<case>.onnx and a list)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def model(nodes, inputs, outputs, inits=(), opset=17, **kw):
    g = helper.make_graph(nodes, "hostile", inputs, outputs, list(inits))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], **kw)
    return m


def f32(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def cases():
    x = f32("x", [2, 3])
    y = f32("y", [2, 3])
    # Declared shape claims 2^62 elements.
    big = numpy_helper.from_array(np.zeros(1, np.float32), "w")
    del big.dims[:]
    big.dims.extend([2**31, 2**31])
    yield "huge-initializer-dims", model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [big])
    neg = numpy_helper.from_array(np.zeros(4, np.float32), "w")
    del neg.dims[:]
    neg.dims.extend([-4])
    yield "negative-initializer-dim", model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [neg])
    short = numpy_helper.from_array(np.zeros(6, np.float32), "w")
    short.raw_data = b"\0" * 5
    yield "raw-data-too-short", model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [x], [y], [short])
    yield "huge-input-dims", model(
        [helper.make_node("Relu", ["x"], ["y"])],
        [f32("x", [2**40, 2**40])], [f32("y", [2**40, 2**40])])
    yield "negative-input-dim", model(
        [helper.make_node("Relu", ["x"], ["y"])], [f32("x", [-3, 2])],
        [f32("y", [3, 2])])
    yield "cycle", model(
        [helper.make_node("Add", ["x", "b"], ["a"]),
         helper.make_node("Relu", ["a"], ["b"]),
         helper.make_node("Relu", ["a"], ["y"])], [x], [y])
    yield "missing-input", model(
        [helper.make_node("Add", ["x", "nowhere"], ["y"])], [x], [y])
    yield "missing-output", model(
        [helper.make_node("Relu", ["x"], ["z"])], [x], [y])
    yield "produced-twice", model(
        [helper.make_node("Relu", ["x"], ["y"]),
         helper.make_node("Abs", ["x"], ["y"])], [x], [y])
    yield "wrong-dtype-add", model(
        [helper.make_node("Add", ["x", "i"], ["y"])],
        [x, helper.make_tensor_value_info("i", TensorProto.INT64, [2, 3])], [y])
    yield "wrong-dtype-matmul-shapes", model(
        [helper.make_node("MatMul", ["x", "x"], ["y"])], [x], [y])
    yield "unsupported-op", model(
        [helper.make_node("FrobnicateV2", ["x"], ["y"])], [x], [y])
    yield "unknown-domain", model(
        [helper.make_node("Relu", ["x"], ["y"], domain="com.nowhere")], [x], [y])
    # (a batch-like dim 0 defaults to 1; a spatial one has no default)
    yield "symbolic-dim-unbound", model(
        [helper.make_node("Relu", ["x"], ["y"])], [f32("x", [3, "height"])],
        [f32("y", [3, "height"])])
    yield "bad-axis", model(
        [helper.make_node("Softmax", ["x"], ["y"], axis=7)], [x], [y])
    yield "reshape-bad-count", model(
        [helper.make_node("Reshape", ["x", "s"], ["y"])], [x], [y],
        [numpy_helper.from_array(np.array([7, 5], np.int64), "s")])
    yield "gather-index-out-of-range", model(
        [helper.make_node("Gather", ["x", "idx"], ["y"], axis=0)], [x], [y],
        [numpy_helper.from_array(np.array([0, 99], np.int64), "idx")])
    yield "conv-kernel-too-big", model(
        [helper.make_node("Conv", ["x4", "w4"], ["y"])],
        [f32("x4", [1, 1, 2, 2])], [y],
        [numpy_helper.from_array(np.ones((1, 1, 5, 5), np.float32), "w4")])
    yield "expand-to-huge", model(
        [helper.make_node("Expand", ["x", "s"], ["y"])], [x], [y],
        [numpy_helper.from_array(np.array([2**30, 2**30, 3], np.int64), "s")])
    yield "constant-of-shape-huge", model(
        [helper.make_node("ConstantOfShape", ["s"], ["y"])], [], [y],
        [numpy_helper.from_array(np.array([2**33, 2**33], np.int64), "s")])
    # A subgraph that contains itself many levels deep.
    leaf = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])],
                             "leaf", [], [y])
    body = leaf
    for i in range(30):
        node = helper.make_node("If", ["c"], ["y"], then_branch=body,
                                else_branch=leaf)
        body = helper.make_graph([node], f"b{i + 1}", [], [y])
    yield "deep-subgraph-recursion", model(
        list(body.node), [helper.make_tensor_value_info("c", TensorProto.BOOL, [])],
        [y])
    yield "external-data-escape", model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [x], [y],
        [_external("w", "../../../../etc/passwd")])
    yield "external-data-missing", model(
        [helper.make_node("Add", ["x", "w"], ["y"])], [x], [y],
        [_external("w", "no-such-file.bin")])
    yield "no-graph", onnx.ModelProto(ir_version=8)


def _external(name, location):
    t = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[2, 3])
    t.data_location = TensorProto.EXTERNAL
    e = t.external_data.add()
    e.key, e.value = "location", location
    return t


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    names = []
    for name, m in cases():
        with open(os.path.join(out, name + ".onnx"), "wb") as f:
            f.write(m.SerializeToString())
        names.append(name)
    with open(os.path.join(out, "cases.txt"), "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"gen_hostile: wrote {len(names)} cases to {out}")


if __name__ == "__main__":
    main()
