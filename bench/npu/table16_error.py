#!/usr/bin/env python3
"""How far the 16-bit interpolated table (TableLookup16, docs/quantization.md,
"Activations at 16 bits") lands from ONNX Runtime's float result on the same
QDQ file, per activation function and input scale (docs/npu-backend.md,
Limits: why 16-bit activation functions stay on the host).

For each function f and input range R (int16 input scale s_x = R / 32767,
output scale s_y = max |f| over the range / 32767, zero points 0) it writes
DQ(int16) -> f -> Q(int16) (SiLU as Sigmoid and Mul; opset 21), runs ONNX
Runtime over all 65,536 inputs and prints the largest difference in output
quanta of three 513-entry tables read by the same lookup:

  gen_lut  the definition's table (TFLite's gen_lut: each entry rounded, less
           half the interpolation's error at the segment's midpoint)
  rounded  each entry round(f(node) / s_y), no bias
  fitted   the rounded table refined entry by entry (+-1, +-2) to minimize
           the largest error against round(f(s_x q) / s_y) computed in
           double over all inputs (what a compiler could build offline)

    bench/npu/table16_error.py [--ranges 1.13,4.64,8.39,13.3,47.5]
        [--functions Sigmoid,Tanh]
"""
import argparse
import math

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper


def rnd(v):
    """std::round: half away from zero."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def gelu(x):
    return 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))


FUNCTIONS = {
    "HardSwish": (lambda x: x * np.clip(x + 3, 0, 6) / 6,
                  lambda d: [helper.make_node("HardSwish", [d], ["f"])]),
    "HardSigmoid": (lambda x: np.clip(x / 6 + 0.5, 0, 1),
                    lambda d: [helper.make_node("HardSigmoid", [d], ["f"],
                                                alpha=1 / 6, beta=0.5)]),
    "Sigmoid": (lambda x: 1 / (1 + np.exp(-x)),
                lambda d: [helper.make_node("Sigmoid", [d], ["f"])]),
    "SiLU": (lambda x: x / (1 + np.exp(-x)),
             lambda d: [helper.make_node("Sigmoid", [d], ["sg"]),
                        helper.make_node("Mul", [d, "sg"], ["f"])]),
    "Tanh": (np.tanh, lambda d: [helper.make_node("Tanh", [d], ["f"])]),
    "LeakyRelu": (lambda x: np.where(x >= 0, x, 0.01 * x),
                  lambda d: [helper.make_node("LeakyRelu", [d], ["f"],
                                              alpha=0.01)]),
    "GELU": (gelu, lambda d: [helper.make_node("Gelu", [d], ["f"])]),
}

X = np.arange(-32768, 32768, dtype=np.int64)
SEGMENT = (X >> 7) + 256
ROWS = [np.where(SEGMENT == i)[0] for i in range(512)]


def table16(f, s_x, s_y, bias=True):
    def at(node):
        return float(f(np.float64(s_x * (128.0 * node - 32768.0))))
    t = []
    for i in range(513):
        v = rnd(at(i) / s_y)
        b = 0
        if bias and i < 512:
            interp = rnd((at(i + 1) / s_y + v) / 2)
            b = rnd((interp - rnd(at(i + 0.5) / s_y)) / 2)
        t.append(int(min(32767, max(-32768, v - b))))
    return np.array(t, np.int64)


def lookup(x, t):
    i, o = 256 + (x >> 7), x & 127
    return t[i] + (((t[i + 1] - t[i]) * o + 64) >> 7)


def fit(t, want, rounds=8):
    t = t.copy()

    def err(i):
        e = 0
        for s in (i - 1, i):
            if 0 <= s < 512:
                r = ROWS[s]
                e = max(e, int(np.abs(lookup(X[r], t) - want[r]).max()))
        return e
    for _ in range(rounds):
        changed = False
        for i in range(513):
            best, v, keep = err(i), t[i], t[i]
            for d in (-2, -1, 1, 2):
                t[i] = min(32767, max(-32768, v + d))
                e = err(i)
                if e < best:
                    best, keep = e, t[i]
            t[i] = keep
            changed |= keep != v
        if not changed:
            break
    return t


def ort_result(mk, s_x, s_y):
    nodes = ([helper.make_node("DequantizeLinear", ["x", "sx", "z"], ["d"])] +
             mk("d") +
             [helper.make_node("QuantizeLinear", ["f", "sy", "z"], ["y"])])
    g = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.INT16,
                                                   [65536])],
        [helper.make_tensor_value_info("y", TensorProto.INT16, [65536])],
        [numpy_helper.from_array(np.array(s_x, np.float32), "sx"),
         numpy_helper.from_array(np.array(s_y, np.float32), "sy"),
         numpy_helper.from_array(np.array(0, np.int16), "z")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    s = ort.InferenceSession(m.SerializeToString(),
                             providers=["CPUExecutionProvider"])
    return s.run(None, {"x": X.astype(np.int16)})[0].astype(np.int64)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ranges", default="1.13,1.71,4.64,8.39,13.3,47.5")
    ap.add_argument("--functions", default=",".join(FUNCTIONS))
    args = ap.parse_args()
    ranges = [float(r) for r in args.ranges.split(",")]
    print("| function | " + " | ".join(f"R = {r:g}" for r in ranges) +
          " | largest |")
    print("|---|" + "---|" * (len(ranges) + 1))
    for name in args.functions.split(","):
        f, mk = FUNCTIONS[name]
        cells, worst = [], [0, 0, 0]
        for r in ranges:
            s_x = float(np.float32(r / 32767))
            fx = f(X * s_x)
            s_y = float(np.float32(np.abs(fx).max() / 32767))
            ref = ort_result(mk, s_x, s_y)
            want = np.array([rnd(v) for v in fx / s_y], np.int64)
            tables = [table16(f, s_x, s_y), table16(f, s_x, s_y, False)]
            tables.append(fit(tables[1], want))
            e = [int(np.abs(lookup(X, t) - ref).max()) for t in tables]
            worst = [max(a, b) for a, b in zip(worst, e)]
            cells.append("/".join(map(str, e)))
        print(f"| {name} | " + " | ".join(cells) +
              f" | {'/'.join(map(str, worst))} |", flush=True)
    print("(gen_lut/rounded/fitted: largest difference from ONNX Runtime in "
          "output quanta over all 65,536 inputs)")


if __name__ == "__main__":
    main()
