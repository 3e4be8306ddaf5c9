#!/usr/bin/env python3
"""Writes a MobileNet-class visual-wake-words test case: MLPerf Tiny's VWW
architecture (MobileNetV1, width 0.25, 96x96x3 input, 2 classes) as an
exporter writes it (Conv with bias, Clip 0..6, depthwise Conv groups,
GlobalAveragePool, Flatten, Gemm), with seeded random weights, quantized to
int8 QDQ by `ember quantize` on seeded random calibration images.

  make_vww.py EMBER OUT_DIR

OUT_DIR gets model-fp32.onnx, calibration/, model.onnx (the int8 QDQ model)
and test_data_set_0/input_0.pb. The same seed gives the same files.
"""
import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# (output channels, stride) of each depthwise-separable block, width 0.25.
BLOCKS = [(16, 1), (32, 2), (32, 1), (64, 2), (64, 1), (128, 2), (128, 1),
          (128, 1), (128, 1), (128, 1), (128, 1), (256, 2), (256, 1)]


def build(rng):
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(arr.astype(np.float32), name))
        return name

    clip_lo = const("clip_lo", np.array(0.0))
    clip_hi = const("clip_hi", np.array(6.0))

    def conv(x, cin, cout, k, stride, group, name):
        fan_in = cin // group * k * k
        w = rng.normal(0, np.sqrt(2.0 / fan_in), (cout, cin // group, k, k))
        b = rng.normal(0, 0.05, (cout,))
        pad = k // 2
        nodes.append(helper.make_node(
            "Conv", [x, const(name + ".w", w), const(name + ".b", b)],
            [name + ".conv"], name=name, kernel_shape=[k, k],
            strides=[stride, stride], pads=[pad] * 4, group=group))
        nodes.append(helper.make_node("Clip", [name + ".conv", clip_lo, clip_hi],
                                      [name + ".out"], name=name + ".relu6"))
        return name + ".out"

    x = conv("input", 3, 8, 3, 2, 1, "conv0")
    cin = 8
    for i, (cout, s) in enumerate(BLOCKS):
        x = conv(x, cin, cin, 3, s, cin, f"dw{i}")
        x = conv(x, cin, cout, 1, 1, 1, f"pw{i}")
        cin = cout
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pool"], name="pool"))
    nodes.append(helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"))
    w = rng.normal(0, np.sqrt(1.0 / cin), (2, cin))
    nodes.append(helper.make_node(
        "Gemm", ["flat", const("fc.w", w), const("fc.b", np.zeros(2))],
        ["logits"], name="fc", transB=1))
    g = helper.make_graph(
        nodes, "vww-mobilenetv1-0.25",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 96, 96])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 2])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="ember-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


def main():
    ember, out = sys.argv[1], sys.argv[2]
    os.makedirs(os.path.join(out, "calibration"), exist_ok=True)
    os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
    rng = np.random.default_rng(2024)
    fp32 = os.path.join(out, "model-fp32.onnx")
    onnx.save(build(rng), fp32)
    for i in range(8):
        img = rng.uniform(0, 1, (1, 3, 96, 96)).astype(np.float32)
        np.save(os.path.join(out, "calibration", f"sample{i}.npy"), img)
    subprocess.run([ember, "quantize", fp32, "--calibration",
                    os.path.join(out, "calibration"), "-o",
                    os.path.join(out, "model.onnx")], check=True,
                   stdout=subprocess.DEVNULL)
    img = rng.uniform(0, 1, (1, 3, 96, 96)).astype(np.float32)
    with open(os.path.join(out, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(numpy_helper.from_array(img, "input").SerializeToString())
    print(f"ok: {out}/model.onnx")


if __name__ == "__main__":
    main()
