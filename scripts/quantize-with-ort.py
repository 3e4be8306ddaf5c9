#!/usr/bin/env python3
"""Makes an int8 QDQ copy of an fp32 ONNX test case with ONNX Runtime's
quantize_static, the quantizer users bring models from.

  quantize-with-ort.py SRC_CASE_DIR OUT_CASE_DIR [--per-tensor] [--int8-act]
                       [--samples N] [--seed S]

SRC_CASE_DIR holds model.onnx and test_data_set_*/input_*.pb (the layout of
../shared/models). The calibration samples are the test inputs plus N-1
copies with multiplicative noise (deterministic from --seed). OUT_CASE_DIR
gets model.onnx (QDQ, opset >= 13; per-channel int8 weights and uint8
activations unless told otherwise), test_data_set_0 with the same inputs and
the outputs ONNX Runtime computes for the quantized model, and SOURCE.txt
saying how it was made. Symbolic input dims are bound to 1 (batch) or to the
test input's shape.
"""
import argparse
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def load_inputs(case):
    ds = os.path.join(case, "test_data_set_0")
    out = []
    i = 0
    while os.path.exists(os.path.join(ds, f"input_{i}.pb")):
        t = onnx.load_tensor(os.path.join(ds, f"input_{i}.pb"))
        out.append((t.name, numpy_helper.to_array(t)))
        i += 1
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--per-tensor", action="store_true")
    ap.add_argument("--int8-act", action="store_true")
    ap.add_argument("--samples", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    import onnxruntime as ort
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    model_path = os.path.join(a.src, "model.onnx")
    m = onnx.load(model_path)
    inputs = load_inputs(a.src)
    if not inputs:
        sys.exit(f"error: no test_data_set_0/input_*.pb in {a.src}")
    init_names = {i.name for i in m.graph.initializer}
    graph_inputs = [i for i in m.graph.input if i.name not in init_names]
    names = [g.name for g in graph_inputs]
    # Bind symbolic dims to the test input's shape.
    for g, (_, arr) in zip(graph_inputs, inputs):
        for d, n in zip(g.type.tensor_type.shape.dim, arr.shape):
            if not d.HasField("dim_value"):
                d.dim_value = int(n)
    # Per-channel QDQ needs opset 13 (DequantizeLinear's axis).
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)
    if opset < 13:
        from onnx import version_converter
        m = version_converter.convert_version(m, 13)
    os.makedirs(a.out, exist_ok=True)
    tmp = os.path.join(a.out, "fp32.onnx")
    onnx.save(m, tmp)
    pre = os.path.join(a.out, "pre.onnx")
    try:
        quant_pre_process(tmp, pre, skip_symbolic_shape=True)
    except Exception as e:  # pre-processing is an optimization only
        print(f"note: quant_pre_process failed ({e}); quantizing as is")
        shutil.copy(tmp, pre)

    rng = np.random.default_rng(a.seed)
    samples = []
    for k in range(a.samples):
        feed = {}
        for n, (_, arr) in zip(names, inputs):
            if k == 0 or not np.issubdtype(arr.dtype, np.floating):
                feed[n] = arr
            else:
                noise = rng.normal(1.0, 0.1, arr.shape).astype(arr.dtype)
                feed[n] = (arr * noise).astype(arr.dtype)
        samples.append(feed)

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(samples)

        def get_next(self):
            return next(self.it, None)

    out_model = os.path.join(a.out, "model.onnx")

    def quantize(extra):
        quantize_static(pre, out_model, Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=not a.per_tensor,
                        activation_type=QuantType.QInt8 if a.int8_act else QuantType.QUInt8,
                        weight_type=QuantType.QInt8, extra_options=extra)

    try:
        quantize({})
    except ValueError as e:
        # ONNX Runtime 1.31's int32-bias weight-scale adjustment fails on a
        # per-channel bias it cannot pair (e.g. mnist-8's Conv + Add):
        # quantize without that adjustment.
        print(f"note: quantize_static failed ({e}); retrying with "
              f"QDQDisableWeightAdjustForInt32Bias")
        quantize({"QDQDisableWeightAdjustForInt32Bias": True})
    os.remove(tmp)
    os.remove(pre)
    ds = os.path.join(a.out, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    sess = ort.InferenceSession(out_model, providers=["CPUExecutionProvider"])
    feed = {n: arr for n, (_, arr) in zip(names, inputs)}
    for i, (n, arr) in enumerate(zip(names, [x for _, x in inputs])):
        onnx.save_tensor(numpy_helper.from_array(arr, n), os.path.join(ds, f"input_{i}.pb"))
    outs = sess.run(None, feed)
    for i, (o, v) in enumerate(zip(sess.get_outputs(), outs)):
        onnx.save_tensor(numpy_helper.from_array(v, o.name), os.path.join(ds, f"output_{i}.pb"))
    with open(os.path.join(a.out, "SOURCE.txt"), "w") as f:
        f.write(f"Made by scripts/quantize-with-ort.py from {os.path.abspath(a.src)} with "
                f"onnxruntime {ort.__version__} quantize_static (QDQ, "
                f"{'per-tensor' if a.per_tensor else 'per-channel'} int8 weights, "
                f"{'int8' if a.int8_act else 'uint8'} activations, {a.samples} calibration "
                f"samples, seed {a.seed}). Outputs computed by ONNX Runtime. The source "
                f"model's license applies.\n")
    print(f"wrote {out_model}")


if __name__ == "__main__":
    main()
