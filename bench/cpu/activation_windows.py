#!/usr/bin/env python3
"""How many activations of an int8 model's convolutions fall outside a
128-wide window: what decides whether the CPU backend's AVX2 split tile
(backends/cpu/kernels/README.md, "AVX2 without saturation") can run a layer.

  bench/cpu/activation_windows.py CASE_DIR...

CASE_DIR holds model.onnx (QDQ: DequantizeLinear -> Conv, or QLinearConv)
and test_data_set_0/input_*.pb. ONNX Runtime (graph optimizations off)
computes every non-depthwise convolution's quantized input; for each, the
share of its activations (u8 domain; s8 read as s8 + 128) outside
  - [0, 127] (the high bit: what a whole-byte vpmaddubsw saturates on),
  - the zero point's window [clamp(zp - 64, 0, 128), + 127],
  - the best window [s, s + 127] for s in [0, 128],
then the model's totals weighted by each layer's MACs.
"""
import os
import sys

import numpy as np
import onnx
from onnx import numpy_helper

from compare_ort import case_inputs
from layer_cases import intermediate_values


def conv_inputs(m):
    """(quantized input name, zero point initializer name, MACs per output
    pixel) of each non-depthwise int8 convolution."""
    prod = {o: n for n in m.graph.node for o in n.output}
    inits = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    out = []
    for n in m.graph.node:
        group = next((a.i for a in n.attribute if a.name == "group"), 1)
        if n.op_type == "QLinearConv":
            w = inits.get(n.input[3])
            x, zp = n.input[0], n.input[2]
        elif n.op_type == "Conv":
            p, q = prod.get(n.input[0]), prod.get(n.input[1])
            if p is None or p.op_type != "DequantizeLinear" or \
                    p.input[0] in inits:
                continue
            w = inits.get(q.input[0]) if q is not None else None
            x, zp = p.input[0], p.input[2] if len(p.input) > 2 else None
        else:
            continue
        if w is None or (group > 1 and w.shape[1] == 1):
            continue
        out.append((x, zp, int(np.prod(w.shape))))
    return out, inits


def analyze(case):
    m = onnx.load(os.path.join(case, "model.onnx"))
    convs, inits = conv_inputs(m)
    if not convs:
        print(f"{os.path.basename(case)}: no int8 convolutions")
        return
    names = sorted({c[0] for c in convs})
    vals = intermediate_values(m, names, dict(case_inputs(case) or []))
    total = [0.0, 0.0, 0.0]
    weight = 0.0
    layers = []
    for x, zpn, macs in convs:
        v = vals[x]
        zp = int(np.asarray(inits[zpn]).reshape(-1)[0]) if zpn in inits else 0
        if v.dtype == np.int8:
            v = v.astype(np.int32) + 128
            zp += 128
        h = np.bincount(v.astype(np.int64).ravel(), minlength=256)
        n = h.sum()
        c = min(max(zp - 64, 0), 128)
        windows = [h[s:s + 128].sum() for s in range(129)]
        out = [1 - h[:128].sum() / n, 1 - h[c:c + 128].sum() / n,
               1 - max(windows) / n]
        w = float(macs) * n
        for k in range(3):
            total[k] += w * out[k]
        weight += w
        layers.append("/".join(f"{100 * o:.0f}" for o in out))
    print(f"{os.path.basename(case)}: outside [0,127] "
          f"{100 * total[0] / weight:.1f}%, the zero point's window "
          f"{100 * total[1] / weight:.1f}%, the best window "
          f"{100 * total[2] / weight:.1f}% (MACs-weighted); per layer "
          f"(%): {' '.join(layers)}")


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    for case in sys.argv[1:]:
        analyze(case)
    return 0


if __name__ == "__main__":
    sys.exit(main())
