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
the outputs ONNX Runtime computes for the quantized model node by node
(graph optimizations off, the same on every host), and SOURCE.txt
saying how it was made. Symbolic input dims are bound to 1 (batch) or to the
test input's shape.

The copy is checked with an ONNX Runtime InferenceSession whose graph
optimizations are off, so every node runs its own kernel: an optimized one folds constant
subgraphs and can hide an invalid node (ORT 1.31 writes mnist-8's [1, 10]
int32 bias with a DequantizeLinear of axis 0 and 10 scales). A per-axis
(De)QuantizeLinear of a constant whose axis does not match its scale's length
is repaired when exactly one dimension of the constant has that length;
anything else that fails the check is an error and no copy is written.
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


def repair_axes(m):
    """Sets the axis of per-axis (De)QuantizeLinear nodes on constants to the
    one dimension whose length matches the scale's; returns what changed."""
    inits = {i.name: i for i in m.graph.initializer}
    fixed = []
    for n in m.graph.node:
        if n.op_type not in ("DequantizeLinear", "QuantizeLinear"):
            continue
        if len(n.input) < 2 or n.input[0] not in inits or n.input[1] not in inits:
            continue
        shape = list(inits[n.input[0]].dims)
        scale = list(inits[n.input[1]].dims)
        if len(scale) != 1 or scale[0] <= 1 or not shape:
            continue
        attr = next((x for x in n.attribute if x.name == "axis"), None)
        axis = attr.i if attr is not None else 1
        if axis < 0:
            axis += len(shape)
        if 0 <= axis < len(shape) and shape[axis] == scale[0]:
            continue
        dims = [i for i, d in enumerate(shape) if d == scale[0]]
        if len(dims) != 1:
            continue
        if attr is None:
            n.attribute.append(onnx.helper.make_attribute("axis", dims[0]))
        else:
            attr.i = dims[0]
        fixed.append(f"{n.op_type} '{n.name}' of {n.input[0]} {shape}: axis "
                     f"{axis} -> {dims[0]} ({scale[0]} scales)")
    return fixed


def rewrite_legacy_ops(m):
    """Rewrites the experimental ops of opsets 1-9 that ONNX's version
    converter cannot carry to opset 13 (ImageScaler, Affine, Crop) as the
    exact compositions Ember's importer uses (docs/onnx-import.md); returns
    how many it rewrote. The model must still be below opset 10 (Slice
    with attributes)."""
    from onnx import helper
    # Element types of the values the graph declares (the rest: float32).
    types = {v.name: v.type.tensor_type.elem_type for v in
             list(m.graph.input) + list(m.graph.value_info) +
             list(m.graph.output)}
    nodes, inits, count = [], [], 0
    for n in m.graph.node:
        if n.domain not in ("", "ai.onnx") or n.op_type not in (
                "ImageScaler", "Affine", "Crop"):
            nodes.append(n)
            continue
        count += 1
        at = {x.name: helper.get_attribute_value(x) for x in n.attribute}
        x, y, tag = n.input[0], n.output[0], n.output[0] + ".legacy"
        where = f"{n.op_type} '{n.name}'"
        if n.op_type == "Crop":
            border, scale = list(at.get("border", [])), list(at.get("scale", []))
            if len(border) != 4 or len(scale) not in (0, 2):
                sys.exit(f"error: {where}: needs border=[left, top, right, "
                         f"bottom] and an optional scale=[h, w] (got border "
                         f"{border}, scale {scale})")
            left, top, right, bottom = border
            big = 2**62
            if scale:
                ends = [top + at["scale"][0], left + at["scale"][1]]
            else:
                ends = [-bottom if bottom else big, -right if right else big]
            nodes.append(helper.make_node("Slice", [x], [y], name=n.name,
                                          starts=[top, left], ends=ends,
                                          axes=[2, 3]))
            continue
        if n.op_type == "Affine":
            mul, add = [at.get("alpha", 1.0)], [at.get("beta", 0.0)]
            add_shape = []
        else:
            mul, add = [at.get("scale", 1.0)], list(at.get("bias", [0.0]))
            add_shape = [len(add), 1, 1]
        elem = types.get(x, onnx.TensorProto.FLOAT) or onnx.TensorProto.FLOAT
        dt = {onnx.TensorProto.FLOAT: np.float32,
              onnx.TensorProto.FLOAT16: np.float16,
              onnx.TensorProto.DOUBLE: np.float64}.get(elem)
        if dt is None:
            sys.exit(f"error: {where}: input '{x}' is not a float tensor")
        inits.append(numpy_helper.from_array(np.array(mul[0], dt), tag + ".mul"))
        inits.append(numpy_helper.from_array(
            np.array(add, dt).reshape(add_shape), tag + ".add"))
        nodes.append(helper.make_node("Mul", [x, tag + ".mul"], [tag], name=n.name + ".mul"))
        nodes.append(helper.make_node("Add", [tag, tag + ".add"], [y], name=n.name))
    if count:
        del m.graph.node[:]
        m.graph.node.extend(nodes)
        m.graph.initializer.extend(inits)
        if m.ir_version < 4:  # initializers were graph inputs too then
            m.graph.input.extend(helper.make_tensor_value_info(
                t.name, t.data_type, list(t.dims)) for t in inits)
    return count


def check_unoptimized(path, feed):
    """Runs the model with every graph optimization off; returns the error
    text, or None when it runs."""
    import onnxruntime as ort
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    so.log_severity_level = 4  # the error is reported below, once
    try:
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
        sess.run(None, feed)
    except Exception as e:  # ORT raises its own exception types
        return str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--per-tensor", action="store_true")
    ap.add_argument("--int8-act", action="store_true")
    ap.add_argument("--int16-act", action="store_true",
                    help="int16 activations, symmetric, as com.microsoft "
                    "Q/DQ (16x8)")
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
    if opset < 10 and rewrite_legacy_ops(m):
        print("note: rewrote ImageScaler/Affine/Crop as Mul, Add and Slice "
              "(the version converter has no adapter for them)")
    if opset < 13:
        from onnx import version_converter
        m = version_converter.convert_version(m, 13)
    if m.ir_version < 4:
        # IR 3 listed every initializer as a graph input too; ORT's
        # quantizer turns Constant nodes into initializers without that
        # entry and would then see inputs with no value: write IR 7.
        inits = {t.name for t in m.graph.initializer}
        keep = [i for i in m.graph.input if i.name not in inits]
        del m.graph.input[:]
        m.graph.input.extend(keep)
        m.ir_version = 7
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
        act = QuantType.QInt8 if a.int8_act else QuantType.QUInt8
        if a.int16_act:
            act = QuantType.QInt16
            extra = dict(extra, ActivationSymmetric=True, UseQDQContribOps=True)
        quantize_static(pre, out_model, Reader(), quant_format=QuantFormat.QDQ,
                        per_channel=not a.per_tensor, activation_type=act,
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
    feed = {n: arr for n, (_, arr) in zip(names, inputs)}
    err = check_unoptimized(out_model, feed)
    if err:
        q = onnx.load(out_model)
        fixed = repair_axes(q)
        for f in fixed:
            print(f"note: repaired {f}")
        if fixed:
            onnx.save(q, out_model)
            err = check_unoptimized(out_model, feed)
    if err:
        os.remove(out_model)
        sys.exit(f"error: quantize_static wrote an invalid model for {a.src} "
                 f"(ONNX Runtime without graph optimizations: {err}); no copy "
                 f"written")
    ds = os.path.join(a.out, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    # The expected outputs node by node (graph optimizations off:
    # DequantizeLinear, the float op, QuantizeLinear), the QDQ graph's ONNX
    # semantics on every host. ORT's fused int8 kernels differ by host: on
    # AVX2 without VNNI its u8 x s8 kernel (vpmaddubsw) saturates pairs of
    # products (mnist-8's copy: up to 10 quanta off the exact result).
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(out_model, so,
                                providers=["CPUExecutionProvider"])
    for i, (n, arr) in enumerate(zip(names, [x for _, x in inputs])):
        onnx.save_tensor(numpy_helper.from_array(arr, n), os.path.join(ds, f"input_{i}.pb"))
    outs = sess.run(None, feed)
    for i, (o, v) in enumerate(zip(sess.get_outputs(), outs)):
        onnx.save_tensor(numpy_helper.from_array(v, o.name), os.path.join(ds, f"output_{i}.pb"))
    with open(os.path.join(a.out, "SOURCE.txt"), "w") as f:
        f.write(f"Made by scripts/quantize-with-ort.py from {os.path.abspath(a.src)} with "
                f"onnxruntime {ort.__version__} quantize_static (QDQ, "
                f"{'per-tensor' if a.per_tensor else 'per-channel'} int8 weights, "
                f"{'int16' if a.int16_act else 'int8' if a.int8_act else 'uint8'} activations, {a.samples} calibration "
                f"samples, seed {a.seed}). Outputs computed by ONNX Runtime. The source "
                f"model's license applies.\n")
    print(f"wrote {out_model}")


if __name__ == "__main__":
    main()
