#!/usr/bin/env python3
"""How far an 8-bit form of LocalResponseNormalization the example NPU could
run lands from ONNX Runtime's float result on the same QDQ file
(docs/npu-backend.md, Limits: LRN has no integer lowering yet).

ONNX Runtime's quantize_static leaves LRN in float: DequantizeLinear -> LRN
-> [MaxPool] -> QuantizeLinear. For every LRN of each model this runs ONNX
Runtime on the model's stored input (test_data_set_0), takes the LRN's
quantized input q (scale s, zero point z) and the QuantizeLinear's output
(after the max pool when there is one: the max commutes with a monotone
quantization), and prints the largest difference, in output quanta, of:

  float64  y = x / (k + a/n sum x^2)^b on x = s (q - z), quantized at the
           QuantizeLinear's parameters (the float reference itself)
  A        the NPU's stages, each rounded once: the square (q - z)^2 as an
           8-bit value (scale max|q - z|^2 / 255 over the input type's
           range: an output table), the sum
           over n neighbouring channels (a 1x1 GEMM with a band of ones) in
           int32, requantized to 8 bits (scale n), the power (k + a/n S)^-b
           as a 256-entry table (scale its largest value / 255), and the
           product of q - z and the table's value requantized to the output
           (one rounding)
  B        as A, the sum of the exact squares (int32) requantized to 8 bits
  ember    with --ember EMBER: the lowering itself (core/lower/IntegerLrn.cpp,
           docs/quantization.md "LRN"), the interpreter's bytes at each
           QuantizeLinear (added as model outputs), and the share of the
           elements that differ

A and B are float64 models of the stages (what an integer lowering in the
fixed profile would round), not the lowering: the figures size the error
of the 8-bit intermediate values before one is written.

    bench/npu/lrn_form_error.py [--ember build/bin/ember] CASE_DIR...
      (CASE_DIR: a model.onnx with test_data_set_0/input_0.pb, e.g.
       build/bench-set/qdq/light_zfnet512-qdq from bench/cpu/make_bench_set.py)
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper


def attr(n, k, d=None):
    v = [onnx.helper.get_attribute_value(a) for a in n.attribute if a.name == k]
    return v[0] if v else d


def lrn_sites(m):
    """(LRN, its DequantizeLinear, the MaxPool or None, the QuantizeLinear)
    of every LRN read back into 8 bits."""
    g = m.graph
    by_out = {o: n for n in g.node for o in n.output}
    users = {}
    for n in g.node:
        for i in n.input:
            users.setdefault(i, []).append(n)
    for n in g.node:
        if n.op_type != "LRN":
            continue
        dq = by_out.get(n.input[0])
        nxt = users.get(n.output[0], [])
        if dq is None or dq.op_type != "DequantizeLinear" or len(nxt) != 1:
            continue
        mp = nxt[0] if nxt[0].op_type == "MaxPool" else None
        if mp is not None:
            nxt = users.get(mp.output[0], [])
        if len(nxt) != 1 or nxt[0].op_type != "QuantizeLinear":
            continue
        yield n, dq, mp, nxt[0]


def max_pool(t, mp):
    if mp is None:
        return t
    kh, kw = attr(mp, "kernel_shape")
    sh, sw = attr(mp, "strides", [1, 1])
    pt, pl, pb, pr = attr(mp, "pads", [0, 0, 0, 0])
    t = np.pad(t, ((0, 0), (0, 0), (pt, pb), (pl, pr)), constant_values=-1e300)
    H, W = t.shape[2], t.shape[3]
    OH, OW = (H - kh) // sh + 1, (W - kw) // sw + 1
    o = np.full(t.shape[:2] + (OH, OW), -1e300)
    for i in range(kh):
        for j in range(kw):
            o = np.maximum(o, t[:, :, i:i + sh * OH:sh, j:j + sw * OW:sw])
    return o


def window_sum(t, n):
    C = t.shape[1]
    before = (n - 1) // 2
    p = np.pad(t, ((0, 0), (before, n - 1 - before), (0, 0), (0, 0)))
    return sum(p[:, i:i + C] for i in range(n))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", help="also the lowering, on the interpreter")
    ap.add_argument("cases", nargs="+")
    args = ap.parse_args()
    print("| model | LRN | input | then | float64 | A | B | a/n sum x^2 (max) |"
          + (" ember (share) |" if args.ember else ""))
    print("|---|---|---|---|---|---|---|---|" + ("---|" if args.ember else ""))
    for case in args.cases:
        m = onnx.load(case + "/model.onnx")
        init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
        sites = list(lrn_sites(m))
        want = []
        for _, dq, _, qn in sites:
            for v, zp in ((dq.input[0], dq.input[2]), (qn.output[0], qn.input[2])):
                et = onnx.helper.np_dtype_to_tensor_dtype(init[zp].dtype)
                m.graph.output.append(
                    onnx.helper.make_tensor_value_info(v, et, None))
                want.append(v)
        if not sites:
            print(f"| {case} | none | | | | | | |")
            continue
        x = numpy_helper.to_array(
            onnx.load_tensor(case + "/test_data_set_0/input_0.pb"))
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        s = ort.InferenceSession(m.SerializeToString(), so,
                                 providers=["CPUExecutionProvider"])
        res = dict(zip(want, s.run(want, {s.get_inputs()[0].name: x})))
        name = case.rstrip("/").split("/")[-1]
        got = {}
        if args.ember:
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.onnx")
                onnx.save(m, path)
                xin = case + "/test_data_set_0/input_0.pb"
                subprocess.run([args.ember, "run", path, "--target=interp",
                                "--save-outputs", tmp, "--input",
                                s.get_inputs()[0].name + "=" + xin],
                               check=True, capture_output=True)
                n0 = len(m.graph.output) - len(want)
                for i, v in enumerate(want):
                    got[v] = numpy_helper.to_array(onnx.load_tensor(
                        os.path.join(tmp, f"output_{n0 + i}.pb")))
        for n, dq, mp, qn in sites:
            q = res[dq.input[0]].astype(np.int64)
            sx, zx = float(init[dq.input[1]]), int(init[dq.input[2]])
            sy, zy = float(init[qn.input[1]]), int(init[qn.input[2]])
            lo, hi = (0, 255) if init[qn.input[2]].dtype == np.uint8 else (-128, 127)
            ref = res[qn.output[0]].astype(np.int64)
            a, b = attr(n, "alpha", 1e-4), attr(n, "beta", 0.75)
            k, size = attr(n, "bias", 1.0), attr(n, "size")
            d = q - zx
            # (static scales: q - z over the input type's whole range)
            qlo, qhi = (0, 255) if init[dq.input[2]].dtype == np.uint8 else (-128, 127)
            dmax = max(qhi - zx, zx - qlo)

            def out(y):
                return np.abs(np.clip(np.round(max_pool(y, mp)) + zy, lo, hi) - ref)

            xf = d * sx
            e0 = out(xf / (k + a / size * window_sum(xf * xf, size)) ** b / sy)

            def staged(S, s_sum):
                S8 = np.clip(np.round(S / s_sum), 0, 255).astype(int)
                def den(j):
                    return (k + a / size * j * s_sum * sx * sx) ** (-b)
                st = den(0) / 255.0
                T = np.clip(np.round(den(np.arange(256)) / st), 0, 255)
                return out(np.round(d * T[S8] * (sx * st / sy)))

            s_sq = dmax * dmax / 255.0
            sq8 = np.clip(np.round(d * d / s_sq), 0, 255)
            eA = staged(window_sum(sq8, size) * s_sq, size * s_sq)
            eB = staged(window_sum(d * d, size), size * dmax * dmax / 255.0)
            mx = (a / size * window_sum(xf * xf, size)).max()
            em = ""
            if args.ember:
                de = np.abs(got[qn.output[0]].astype(np.int64) - ref)
                em = f" {int(de.max())} ({np.mean(de > 0):.2g}) |"
            print(f"| {name} | {n.name} | {tuple(q.shape)} | "
                  f"{'MaxPool' if mp is not None else '-'} | {int(e0.max())} | "
                  f"{int(eA.max())} | {int(eB.max())} | {mx:.3g} (k = {k:g}) |"
                  + em)


if __name__ == "__main__":
    main()
