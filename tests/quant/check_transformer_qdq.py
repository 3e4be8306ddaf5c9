#!/usr/bin/env python3
"""A generated transformer block, quantized by ONNX Runtime's
quantize_static (QDQ), through Ember's integer transformer forms
(docs/quantization.md, "Transformers").

The block (pre-norm attention then MLP; seeded weights, 16 tokens of 32
channels, 2 heads): LayerNormalization, Q/K/V MatMuls, Q x K^T, a Softmax,
scores x V, a residual Add, a decomposed LayerNorm (ReduceMean, Sub, Pow,
ReduceMean, Add, Sqrt, Div, Mul, Add), an MLP with GELU written out (erf:
x * (1 + erf(x / sqrt 2)) * 0.5; tanh: 0.5 x (1 + tanh(sqrt(2 / pi) (x +
0.044715 x^3)))) and a second residual. Each is quantized with int8 and
uint8 activations, and with symmetric int16 activations. For each file:

- `ember compile --emit=lowered` holds IntegerSoftmax (one a head where
  the attention is integer: the lowering runs it head by head), two
  IntegerNormalization and a GELU TableLookup, and no float Softmax,
  LayerNormalization, Erf, Tanh or Sqrt;
- `ember run` on interp and on cpu (its host fallback runs the integer
  transformer ops with the interpreter's kernels) give the same bits
  (int16: within a quantum, from the float attention MatMuls);
- Ember's output is within TOL output quanta of ONNX Runtime's on the
  same file, and its cosine similarity with the fp32 model's output is
  at least ONNX Runtime's less 0.01.

    check_transformer_qdq.py --ember build/bin/ember

Exit 1 on any failure, 77 when onnx/onnxruntime are not installed.
"""
import argparse
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

S, D, H, F = 16, 32, 2, 64
TOL = {"int8": 8, "uint8": 8, "int16": 16}

HEADS = 2  # the block's attention heads


def build_block(path, gelu, rng):
    def w(name, *s, scale=0.2):
        return numpy_helper.from_array(
            (rng.standard_normal(s) * scale).astype(np.float32), name)

    def c(name, v, dt=np.float32):
        return numpy_helper.from_array(np.array(v, dtype=dt), name)

    def gamma(name):
        return numpy_helper.from_array(
            (1 + rng.standard_normal(D) * 0.1).astype(np.float32), name)
    inits = [gamma("g1"), w("b1", D, scale=0.1), gamma("g2"),
             w("b2", D, scale=0.1), w("wq", D, D), w("wk", D, D),
             w("wv", D, D), w("wo", D, D), w("w1", D, F), w("w2", F, D),
             c("shape_h", [1, S, H, D // H], np.int64),
             c("shape_o", [1, S, D], np.int64), c("sqrtdk", np.sqrt(D / H)),
             c("axes", [-1], np.int64), c("two", 2.0), c("eps", 1e-5),
             c("one", 1.0), c("half", 0.5)]
    if gelu == "tanh":
        inits += [c("three", 3.0), c("k0", 0.044715),
                  c("k1", np.sqrt(2 / np.pi))]
    else:
        inits += [c("sqrt2", np.sqrt(2.0))]
    n = helper.make_node
    nodes = [
        n("LayerNormalization", ["x", "g1", "b1"], ["ln1"], axis=-1,
          epsilon=1e-5),
        n("MatMul", ["ln1", "wq"], ["q"]), n("MatMul", ["ln1", "wk"], ["k"]),
        n("MatMul", ["ln1", "wv"], ["v"]),
        n("Reshape", ["q", "shape_h"], ["qh"]),
        n("Reshape", ["k", "shape_h"], ["kh"]),
        n("Reshape", ["v", "shape_h"], ["vh"]),
        n("Transpose", ["qh"], ["qt"], perm=[0, 2, 1, 3]),
        n("Transpose", ["kh"], ["kt"], perm=[0, 2, 3, 1]),
        n("Transpose", ["vh"], ["vt"], perm=[0, 2, 1, 3]),
        n("MatMul", ["qt", "kt"], ["s"]), n("Div", ["s", "sqrtdk"], ["ss"]),
        n("Softmax", ["ss"], ["p"], axis=-1),
        n("MatMul", ["p", "vt"], ["o"]),
        n("Transpose", ["o"], ["ot"], perm=[0, 2, 1, 3]),
        n("Reshape", ["ot", "shape_o"], ["om"]),
        n("MatMul", ["om", "wo"], ["a"]), n("Add", ["x", "a"], ["r1"]),
        n("ReduceMean", ["r1", "axes"], ["mu"], keepdims=1),
        n("Sub", ["r1", "mu"], ["xc"]), n("Pow", ["xc", "two"], ["sq"]),
        n("ReduceMean", ["sq", "axes"], ["var"], keepdims=1),
        n("Add", ["var", "eps"], ["ve"]), n("Sqrt", ["ve"], ["sd"]),
        n("Div", ["xc", "sd"], ["nx"]), n("Mul", ["nx", "g2"], ["ng"]),
        n("Add", ["ng", "b2"], ["ln2"]), n("MatMul", ["ln2", "w1"], ["h"])]
    if gelu == "erf":
        nodes += [n("Div", ["h", "sqrt2"], ["hd"]), n("Erf", ["hd"], ["he"]),
                  n("Add", ["he", "one"], ["h1"]),
                  n("Mul", ["h", "h1"], ["hm"]),
                  n("Mul", ["hm", "half"], ["g"])]
    else:
        nodes += [n("Pow", ["h", "three"], ["h3"]),
                  n("Mul", ["h3", "k0"], ["h3k"]),
                  n("Add", ["h", "h3k"], ["hi"]),
                  n("Mul", ["hi", "k1"], ["hs"]), n("Tanh", ["hs"], ["ht"]),
                  n("Add", ["ht", "one"], ["h1"]),
                  n("Mul", ["h", "half"], ["hh"]),
                  n("Mul", ["hh", "h1"], ["g"])]
    nodes += [n("MatMul", ["g", "w2"], ["f2"]), n("Add", ["r1", "f2"], ["y"])]
    g = helper.make_graph(
        nodes, "block", [helper.make_tensor_value_info("x", TP.FLOAT,
                                                       [1, S, D])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, S, D])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 18)])
    m.ir_version = 9
    onnx.checker.check_model(m)
    onnx.save(m, path)


class Reader(CalibrationDataReader):
    def __init__(self, xs):
        self.it = iter([{"x": x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def quantize(src, dst, kind, calib):
    act = {"int8": QuantType.QInt8, "uint8": QuantType.QUInt8,
           "int16": QuantType.QInt16}[kind]
    extra = {"ActivationSymmetric": True} if kind == "int16" else {}
    quantize_static(src, dst, Reader(calib), quant_format=QuantFormat.QDQ,
                    activation_type=act, weight_type=QuantType.QInt8,
                    extra_options=extra)


def output_scale(path):
    m = onnx.load(path)
    inits = {i.name: i for i in m.graph.initializer}
    for nd in m.graph.node:
        if nd.op_type == "DequantizeLinear" and nd.output[0] == "y":
            return float(numpy_helper.to_array(inits[nd.input[1]]))
    raise SystemExit(f"FAIL: {path}: no DequantizeLinear writes y")


def run(ember, args):
    r = subprocess.run([ember] + args, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"FAIL: ember {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def cosine(a, b):
    a, b = a.ravel().astype(np.float64), b.ravel().astype(np.float64)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def check(ember, fp32, path, label, xs, tmp):
    lowered = run(ember, ["compile", path, "--emit=lowered"])
    # (One IntegerSoftmax, or one a head where the lowering runs the
    # integer attention head by head: lower/UnbatchHeads.cpp.)
    for op, counts in (("IntegerSoftmax(", (1, HEADS)),
                       ("IntegerNormalization(", (2,))):
        count = counts[-1] if lowered.count(op) not in counts else None
        if count is not None:
            raise SystemExit(f"FAIL: {label}: {lowered.count(op)} {op[:-1]}"
                             f" in the lowered graph, expected {count}")
    for op in ("= Softmax(", "= LayerNormalization(", "= Erf(", "= Tanh(",
               "= Sqrt(", "= ReduceMean("):
        if op in lowered:
            raise SystemExit(f"FAIL: {label}: {op[2:-1]} left float")
    if "TableLookup(" not in lowered:
        raise SystemExit(f"FAIL: {label}: the GELU is not a TableLookup")
    kind = label.split("-")[1]
    q = ort.InferenceSession(path)
    f = ort.InferenceSession(fp32)
    scale = output_scale(path)
    worst, cos_e, cos_o = 0.0, 1.0, 1.0
    for i, x in enumerate(xs):
        fin = os.path.join(tmp, f"{label}_in{i}.npy")
        np.save(fin, x)
        outs = {}
        for t in ("interp", "cpu"):
            od = os.path.join(tmp, f"{label}_{t}_{i}")
            run(ember, ["run", path, f"--target={t}", f"--input=x={fin}",
                        "--save-outputs", od])
            outs[t] = numpy_helper.to_array(
                onnx.load_tensor(os.path.join(od, "output_0.pb")))
        # int16: the attention's two-activation MatMuls stay float (no
        # 16x16 integer MatMul), and each target sums them in its own
        # order, so a result near a rounding boundary may move a quantum;
        # every integer op, the transformer ones included, is exact.
        slack = 1 if kind == "int16" else 0
        diff = np.max(np.abs(outs["interp"].astype(np.float64) -
                             outs["cpu"].astype(np.float64))) / scale
        if np.rint(diff) > slack:
            raise SystemExit(f"FAIL: {label}: cpu differs from interp by "
                             f"{diff:.0f} quanta (input {i})")
        e = outs["interp"]
        o = q.run(None, {"x": x})[0]
        ref = f.run(None, {"x": x})[0]
        worst = max(worst, float(np.max(np.abs(
            np.rint(e.astype(np.float64) / scale) -
            np.rint(o.astype(np.float64) / scale)))))
        cos_e = min(cos_e, cosine(e, ref))
        cos_o = min(cos_o, cosine(o, ref))
    print(f"{label}: max |ember - ORT| {worst:.0f} quanta; cosine to fp32 "
          f"ember {cos_e:.5f}, ORT {cos_o:.5f}")
    if worst > TOL[kind]:
        raise SystemExit(f"FAIL: {label}: {worst:.0f} quanta from ONNX "
                         f"Runtime (at most {TOL[kind]})")
    if cos_e < cos_o - 0.01:
        raise SystemExit(f"FAIL: {label}: cosine to fp32 {cos_e:.5f} below "
                         f"ONNX Runtime's {cos_o:.5f} less 0.01")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--inputs", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(67)
    calib = [rng.standard_normal((1, S, D)).astype(np.float32)
             for _ in range(16)]
    xs = [rng.standard_normal((1, S, D)).astype(np.float32)
          for _ in range(args.inputs)]
    with tempfile.TemporaryDirectory() as tmp:
        for gelu in ("erf", "tanh"):
            fp32 = os.path.join(tmp, f"block_{gelu}.onnx")
            build_block(fp32, gelu, np.random.default_rng(7))
            for kind in ("int8", "uint8", "int16"):
                label = f"{gelu}-{kind}"
                path = os.path.join(tmp, f"{label}.onnx")
                quantize(fp32, path, kind, calib)
                check(args.ember, fp32, path, label, xs, tmp)
    print("ok")


if __name__ == "__main__":
    main()
