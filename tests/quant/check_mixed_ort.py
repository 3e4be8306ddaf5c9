#!/usr/bin/env python3
"""8-bit, 16-bit and mixed QDQ models on Ember's interpreter against ONNX
Runtime running the same file.

A small branching model (seeded weights; one activation feeds two convs
and a residual Add, one channel with an outlier range) is quantized by
`ember quantize` three ways: all uint8, `--activation-type int16` and
`--mixed-precision 1.3`. Each QDQ file must run on ONNX Runtime with
outputs within one quantum (the output's DequantizeLinear scale) of
`ember run --target=interp`, and the other targets (--targets) must give
the interpreter's outputs bit for bit. The mixed file must hold both 8- and 16-bit
pairs (Ember's form: one pair per tensor, at the tensor's precision; a
consumer reading another precision than it writes is the conversion).
Layer by layer (`bench/quant/int8_vs_ort.py --layerwise`), each quantized
tensor the interpreter computes from ONNX Runtime's own inputs to its
layer must be within one quantum of ONNX Runtime's.

A 16-bit Concat: the model with the residual's left side through a
Concat and a 1x1 convolution, at `--activation-type int16`; the Concat's
inputs must carry its output's parameters, and the file run as above.

Per-consumer conversion: ONNX Runtime's quantizer, asked through
TensorQuantOverrides to keep one tensor int16 but hand it to one of its
consumers as uint8 (a `convert` entry), writes two Q/DQ pairs on that
tensor (int16, then uint8 for that consumer; opset 21 types). Ember must
import that file and run it within one quantum of ONNX Runtime.

    check_mixed_ort.py --ember build/bin/ember [--targets cpu,npu-sim]

Exit 1 on any failure, 77 when onnx/onnxruntime are not installed.
"""
import argparse
import contextlib
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper, TensorProto as TP
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_exact import skip_if_ort_saturates  # noqa: E402

skip_if_ort_saturates("mixed precision")

SHAPE = (1, 3, 16, 16)


def build_model(path, rng, concat=False):
    def w(name, *s, scale=0.3):
        return numpy_helper.from_array(
            (rng.standard_normal(s) * scale).astype(np.float32), name)
    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.3
    w1[5] *= 12.0  # one channel with an outlier range
    inits = [numpy_helper.from_array(w1, "w1"), w("b1", 8),
             w("w2", 8, 8, 3, 3, scale=0.15), w("b2", 8),
             w("w3", 8, 8, 1, 1), w("b3", 8),
             w("w4", 10, 8), w("b4", 10)]
    n = helper.make_node
    nodes = [n("Conv", ["x", "w1", "b1"], ["c1"], pads=[1] * 4, name="conv1"),
             n("Relu", ["c1"], ["r1"], name="relu1"),
             n("Conv", ["r1", "w2", "b2"], ["c2"], pads=[1] * 4,
               name="conv2"),
             n("Conv", ["r1", "w3", "b3"], ["c3"], name="conv3"),
             n("Add", ["c2", "c3"], ["a"], name="add"),
             n("Add", ["a", "r1"], ["a2"], name="residual"),
             n("Relu", ["a2"], ["r2"], name="relu2"),
             n("GlobalAveragePool", ["r2"], ["p"], name="pool"),
             n("Flatten", ["p"], ["f"], name="flatten"),
             n("Gemm", ["f", "w4", "b4"], ["y"], transB=1, name="fc")]
    if concat:  # the residual's left side through a Concat and a 1x1
        inits += [w("w5", 8, 16, 1, 1, scale=0.2), w("b5", 8)]
        k = next(i for i, nd in enumerate(nodes) if nd.name == "residual")
        nodes[k:k + 1] = [
            n("Concat", ["a", "r1"], ["cat"], axis=1, name="concat"),
            n("Conv", ["cat", "w5", "b5"], ["c5"], name="conv5"),
            n("Add", ["c5", "r1"], ["a2"], name="residual")]
    g = helper.make_graph(
        nodes, "branching",
        [helper.make_tensor_value_info("x", TP.FLOAT, list(SHAPE))],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, 10])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)


def output_scale(path):
    """The scale of the DequantizeLinear writing the graph output."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = m.graph.output[0].name
    for nd in m.graph.node:
        if nd.op_type == "DequantizeLinear" and nd.output[0] == out:
            return float(np.max(inits[nd.input[1]]))
    raise SystemExit(f"FAIL: {path}: no DequantizeLinear writes {out}")


def pairs(path):
    """Per quantized tensor: the element types of its QuantizeLinear
    nodes (a tensor with a per-consumer conversion has two)."""
    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}
    producer = {o: nd for nd in m.graph.node for o in nd.output}
    out = {}
    for nd in m.graph.node:
        if nd.op_type != "QuantizeLinear" or len(nd.input) < 3:
            continue
        src = nd.input[0]
        # Follow a Q -> DQ -> Q chain back to the float tensor.
        while src in producer and producer[src].op_type == "DequantizeLinear":
            q = producer.get(producer[src].input[0])
            if q is None or q.op_type != "QuantizeLinear":
                break
            src = q.input[0]
        zp = inits[nd.input[2]]
        out.setdefault(src, []).append(
            onnx.helper.tensor_dtype_to_np_dtype(zp.data_type).name)
    return out


def concat_scales(path):
    """The scales of the DequantizeLinear nodes feeding the Concat and of
    the QuantizeLinear of its output."""
    m = onnx.load(path)
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    producer = {o: nd for nd in m.graph.node for o in nd.output}
    cat = next(nd for nd in m.graph.node if nd.op_type == "Concat")
    ins = [float(inits[producer[x].input[1]]) for x in cat.input]
    q = next(nd for nd in m.graph.node
             if nd.op_type == "QuantizeLinear" and nd.input[0] == cat.output[0])
    return ins, float(inits[q.input[1]])


def compare(ember, path, xs, tmp, label, targets=()):
    """Max |ember interp - ORT| over the inputs, in output quanta; every
    target in `targets` must give the interpreter's outputs bit for bit
    (a failure raises)."""
    sess = ort.InferenceSession(path)
    scale = output_scale(path)
    worst = 0.0
    for i, x in enumerate(xs):
        f = os.path.join(tmp, f"in{i}.npy")
        np.save(f, x)
        od = os.path.join(tmp, f"out_{label}_{i}")
        r = subprocess.run([ember, "run", path, "--target=interp",
                            f"--input=x={f}", "--save-outputs", od],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit(f"FAIL: {label}: ember run: {r.stderr.strip()}")
        e = numpy_helper.to_array(
            onnx.load_tensor(os.path.join(od, "output_0.pb")))
        o = sess.run(None, {"x": x})[0]
        for t in targets:
            ot = os.path.join(tmp, f"out_{label}_{i}_{t}")
            r = subprocess.run([ember, "run", path, f"--target={t}",
                                f"--input=x={f}", "--save-outputs", ot],
                               capture_output=True, text=True)
            if r.returncode != 0 and "nothing in the model runs on" in \
                    r.stderr:
                if i == 0:  # a device that takes none of it: said, not run
                    print(f"note: {label}: {t} runs none of the model "
                          f"({r.stderr.strip()[:120]})")
                continue
            if r.returncode != 0:
                raise SystemExit(f"FAIL: {label}: ember run --target={t}: "
                                 f"{r.stderr.strip()}")
            et = numpy_helper.to_array(
                onnx.load_tensor(os.path.join(ot, "output_0.pb")))
            if not np.array_equal(e, et):
                raise SystemExit(f"FAIL: {label}: {t} differs from interp "
                                 f"(input {i})")
        # In output quanta (both are DQ of integers on the same grid).
        worst = max(worst, float(np.max(np.abs(
            np.rint(e.astype(np.float64) / scale) -
            np.rint(o.astype(np.float64) / scale)))))
    return worst


def check_layerwise(ember, path, x, tmp, label):
    """Every quantized tensor recomputed by the interpreter from ONNX
    Runtime's own inputs to its layer (`int8_vs_ort.py --layerwise`) is
    within one quantum of ONNX Runtime's."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "bench", "quant"))
    from layer_divergence import layerwise
    case = os.path.join(tmp, f"case-{label}")
    os.makedirs(os.path.join(case, "test_data_set_0"))
    os.symlink(path, os.path.join(case, "model.onnx"))
    onnx.save_tensor(numpy_helper.from_array(x, "x"), os.path.join(
        case, "test_data_set_0", "input_0.pb"))
    r = layerwise(case, ember, log=lambda *a: None)
    ok = r["layers"] > 0 and r["failed"] == 0 and \
        r["within1"] == r["layers"]
    print(f"{'ok' if ok else 'FAIL'}: {label} layer by layer: "
          f"{r['within1']} of {r['layers']} layers within one quantum "
          f"({r['exact']} equal, {r['failed']} failed, max {r['max']})")
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--targets", default="cpu",
                    help="comma-separated targets that must match the "
                    "interpreter bit for bit (e.g. cpu,npu-sim)")
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    targets = [t for t in args.targets.split(",") if t]
    fails = 0
    with tempfile.TemporaryDirectory() as tmp:
        fp32 = os.path.join(tmp, "f.onnx")
        build_model(fp32, rng)
        cal = os.path.join(tmp, "cal")
        os.makedirs(cal)
        xs = [rng.standard_normal(SHAPE).astype(np.float32)
              for _ in range(24)]
        for i, x in enumerate(xs[:16]):
            np.save(os.path.join(cal, f"s{i:02d}.npy"), x)
        evals = xs[16:]

        for label, flags in (("uint8", []),
                             ("int16", ["--activation-type=int16"]),
                             ("mixed", ["--mixed-precision=1.3"])):
            q = os.path.join(tmp, f"{label}.onnx")
            r = subprocess.run([args.ember, "quantize", fp32, "--calibration",
                                cal, "-o", q, "--quiet"] + flags,
                               capture_output=True, text=True)
            if r.returncode != 0:
                print(f"FAIL: {label}: ember quantize: {r.stderr.strip()}")
                fails += 1
                continue
            kinds = {k for v in pairs(q).values() for k in v}
            if label == "mixed":
                if not ({"int16"} < kinds):
                    print(f"FAIL: mixed: not mixed ({sorted(kinds)})")
                    fails += 1
            d = compare(args.ember, q, evals, tmp, label, targets)
            ok = d <= 1.0
            fails += not ok
            print(f"{'ok' if ok else 'FAIL'}: {label} ({sorted(kinds)}): "
                  f"max |interp - onnxruntime| = {d:.3f} output quanta")
            fails += not check_layerwise(args.ember, q, evals[0], tmp,
                                         label)

        # A 16-bit Concat of 16-bit inputs: they take its parameters, so
        # it moves stored integers (on the NPU, no conversion layers).
        fcat = os.path.join(tmp, "fcat.onnx")
        build_model(fcat, np.random.default_rng(args.seed + 1), concat=True)
        q = os.path.join(tmp, "concat16.onnx")
        r = subprocess.run([args.ember, "quantize", fcat, "--calibration",
                            cal, "-o", q, "--quiet",
                            "--activation-type=int16"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print(f"FAIL: concat16: ember quantize: {r.stderr.strip()}")
            fails += 1
        else:
            ins, out = concat_scales(q)
            d = compare(args.ember, q, evals, tmp, "concat16", targets)
            ok = d <= 1.0 and all(x == out for x in ins)
            fails += not ok
            print(f"{'ok' if ok else 'FAIL'}: int16 Concat: input scales "
                  f"{ins}, output {out}; max |interp - onnxruntime| = "
                  f"{d:.3f} output quanta")

        # ONNX Runtime's per-consumer conversion, read by Ember.
        class Reader(CalibrationDataReader):
            def __init__(self):
                self.it = iter([{"x": x} for x in xs[:16]])

            def get_next(self):
                return next(self.it, None)

        q = os.path.join(tmp, "convert.onnx")
        overrides = {"r1": [{"quant_type": QuantType.QInt16,
                             "symmetric": True,
                             "convert": {"quant_type": QuantType.QUInt8,
                                         "recv_nodes": {"conv3"}}}]}
        with open(os.devnull, "w") as dn, contextlib.redirect_stdout(dn), \
                contextlib.redirect_stderr(dn):
            quantize_static(fp32, q, Reader(), quant_format=QuantFormat.QDQ,
                            per_channel=True,
                            activation_type=QuantType.QUInt8,
                            weight_type=QuantType.QInt8,
                            extra_options={
                                "QDQKeepRemovableActivations": True,
                                "TensorQuantOverrides": overrides})
        got = sorted(pairs(q).get("r1", []))
        if got != ["int16", "uint8"]:
            print(f"FAIL: convert: r1 has Q types {got}, want int16 and "
                  "uint8")
            fails += 1
        d = compare(args.ember, q, evals, tmp, "convert", targets)
        ok = d <= 1.0
        fails += not ok
        print(f"{'ok' if ok else 'FAIL'}: per-consumer convert (r1 int16 "
              f"and uint8 for conv3): max |interp - onnxruntime| = "
              f"{d:.3f} output quanta")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
