#!/usr/bin/env python3
"""Writes the design-space example's two extra int8 models (beside the
bundled examples/mnist-int8): float ONNX models with seeded weights,
quantized by Ember's own quantizer (``ember.quantize``) on seeded
calibration samples. Deterministic: the committed files are this script's
output (``python3 examples/dse/make_models.py`` rewrites them).

- ``cnn-int8.onnx``: a small image CNN, 1x3x32x32 -> 3x3 convs of 32, 64
  and 64 channels (one strided), a 1x1 conv to 128, global average pool,
  a fully connected layer to 10.
- ``pointwise-int8.onnx``: a MobileNet-style bottleneck on 1x64x16x16:
  1x1 convs 64 -> 256 -> 256 -> 64 and a residual add (wide pointwise
  layers: the array's best case).
"""

import os
import pathlib
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

HERE = pathlib.Path(__file__).resolve().parent


def conv(name, x, cin, cout, k, stride, pad, rng, relu=True):
    w = (rng.standard_normal((cout, cin, k, k)) * np.sqrt(2.0 / (cin * k * k))).astype(np.float32)
    b = (rng.standard_normal(cout) * 0.05).astype(np.float32)
    inits = [numpy_helper.from_array(w, f"{name}_w"), numpy_helper.from_array(b, f"{name}_b")]
    nodes = [helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [f"{name}_y"], name=name,
                              kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4)]
    out = f"{name}_y"
    if relu:
        nodes.append(helper.make_node("Relu", [out], [f"{name}_r"], name=f"{name}_relu"))
        out = f"{name}_r"
    return nodes, inits, out


def cnn(rng):
    nodes, inits = [], []
    x = "input"
    for name, cin, cout, k, s, p in [("c1", 3, 32, 3, 1, 1), ("c2", 32, 64, 3, 2, 1),
                                     ("c3", 64, 64, 3, 1, 1), ("c4", 64, 128, 1, 1, 0)]:
        n, i, x = conv(name, x, cin, cout, k, s, p, rng)
        nodes += n
        inits += i
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["gap"], name="gap"))
    nodes.append(helper.make_node("Flatten", ["gap"], ["flat"], name="flat"))
    w = (rng.standard_normal((10, 128)) * 0.1).astype(np.float32)
    b = np.zeros(10, np.float32)
    inits += [numpy_helper.from_array(w, "fc_w"), numpy_helper.from_array(b, "fc_b")]
    nodes.append(helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="fc", transB=1))
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 32, 32])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 10])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), (1, 3, 32, 32)


def pointwise(rng):
    nodes, inits = [], []
    x = "input"
    for name, cin, cout, relu in [("expand", 64, 256, True), ("mix", 256, 256, True),
                                  ("project", 256, 64, False)]:
        n, i, x = conv(name, x, cin, cout, 1, 1, 0, rng, relu)
        nodes += n
        inits += i
    nodes.append(helper.make_node("Add", [x, "input"], ["output"], name="residual"))
    g = helper.make_graph(nodes, "pointwise",
                          [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 64, 16, 16])],
                          [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 64, 16, 16])], inits)
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]), (1, 64, 16, 16)


def main():
    import ember
    out = HERE / "models"
    out.mkdir(exist_ok=True)
    for name, make in (("cnn", cnn), ("pointwise", pointwise)):
        rng = np.random.default_rng(7)
        model, shape = make(rng)
        with tempfile.TemporaryDirectory() as tmp:
            fp = pathlib.Path(tmp) / f"{name}.onnx"
            onnx.save(model, fp)
            cal = pathlib.Path(tmp) / "cal"
            cal.mkdir()
            for i in range(8):
                np.save(cal / f"s{i}.npy", rng.uniform(0, 1, shape).astype(np.float32))
            q = ember.quantize(fp, out / f"{name}-int8.onnx", calibration=cal,
                               method="minmax", refine="none", target="interp")
        print(f"wrote {out / f'{name}-int8.onnx'} ({(out / f'{name}-int8.onnx').stat().st_size} bytes)")


if __name__ == "__main__":
    sys.exit(main())
