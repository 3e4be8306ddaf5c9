#!/usr/bin/env python3
"""Writes examples/mnist-int8: the bundled MNIST model (examples/mnist, MIT)
quantized to int8 QDQ form with ONNX Runtime's quantize_static (per-channel
int8 weights, uint8 activations, the defaults users get), calibrated on
seeded pseudo-random digit-like images, plus one test case whose expected
output is ONNX Runtime's.

The calibration images are synthetic (random strokes on a dark background,
in the 0..255 range the CNTK model expects); the model is for showing the
compiler and the NPU, not for accuracy. Rerun after an onnxruntime upgrade
only on purpose: the bytes of the model change with the quantizer.

    python3 scripts/make-mnist-int8.py [OUT_DIR]
"""
import os
import sys

import numpy as np
import onnx
import onnx.version_converter
import onnxruntime as ort
from onnx import numpy_helper
from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                      QuantType, quantize_static)
from onnxruntime.quantization.shape_inference import quant_pre_process

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "examples", "mnist", "model.onnx")


def strokes(rng, n):
    """n images 1x1x28x28: a few thick random line segments, 0..255."""
    out = np.zeros((n, 1, 1, 28, 28), np.float32)
    yy, xx = np.mgrid[0:28, 0:28]
    for i in range(n):
        img = np.zeros((28, 28), np.float32)
        for _ in range(rng.integers(2, 5)):
            y0, x0, y1, x1 = rng.uniform(4, 24, 4)
            t = np.clip(((yy - y0) * (y1 - y0) + (xx - x0) * (x1 - x0)) /
                        max((y1 - y0) ** 2 + (x1 - x0) ** 2, 1e-3), 0, 1)
            d = np.hypot(yy - (y0 + t * (y1 - y0)), xx - (x0 + t * (x1 - x0)))
            img = np.maximum(img, np.clip(2.5 - d, 0, 1))
        out[i, 0] = img * 255.0
    return out


class Reader(CalibrationDataReader):
    def __init__(self, name, data):
        self.it = iter([{name: d} for d in data])

    def get_next(self):
        return next(self.it, None)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "examples", "mnist-int8")
    os.makedirs(os.path.join(out_dir, "test_data_set_0"), exist_ok=True)
    # Per-channel QDQ needs opset 13; the zoo model is opset 8. Then ONNX
    # Runtime's own pre-processing (shape inference, constant folding, Conv
    # and bias fusion), as its quantization guide asks: without it the
    # reshaped MatMul weight would be quantized as an activation.
    model = onnx.version_converter.convert_version(onnx.load(SRC), 13)
    src13 = os.path.join(out_dir, "fp32-opset13.onnx")
    onnx.save(model, src13)
    quant_pre_process(src13, src13)
    model = onnx.load(src13)
    # The fused Gemm keeps CNTK's [1, N] bias; make it [N], as a per-channel
    # bias quantizer expects.
    inits = {t.name: t for t in model.graph.initializer}
    for n in model.graph.node:
        if n.op_type == "Gemm" and len(n.input) > 2 and n.input[2] in inits:
            t = inits[n.input[2]]
            a = numpy_helper.to_array(t)
            if a.ndim == 2 and a.shape[0] == 1:
                t.CopyFrom(numpy_helper.from_array(a.reshape(-1), t.name))
    del model.graph.value_info[:]
    keep = [i for i in model.graph.input if i.name not in inits]
    del model.graph.input[:]
    model.graph.input.extend(keep)
    onnx.save(model, src13)
    name = model.graph.input[0].name
    rng = np.random.default_rng(20240611)
    calib = strokes(rng, 64)
    dst = os.path.join(out_dir, "model.onnx")
    quantize_static(src13, dst, Reader(name, calib), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8,
                    # (onnxruntime 1.31's int32-bias weight-scale adjustment
                    # fails on per-channel Gemm weights.)
                    extra_options={"QDQDisableWeightAdjustForInt32Bias": True})
    os.remove(src13)
    sample = strokes(np.random.default_rng(7), 1)[0]
    sess = ort.InferenceSession(dst, providers=["CPUExecutionProvider"])
    y = sess.run(None, {name: sample})[0]
    tdir = os.path.join(out_dir, "test_data_set_0")
    t = numpy_helper.from_array(sample, name)
    open(os.path.join(tdir, "input_0.pb"), "wb").write(t.SerializeToString())
    o = numpy_helper.from_array(y, sess.get_outputs()[0].name)
    open(os.path.join(tdir, "output_0.pb"), "wb").write(o.SerializeToString())
    print("wrote", dst, "ops:", sorted({n.op_type for n in onnx.load(dst).graph.node}))


if __name__ == "__main__":
    main()
