#!/usr/bin/env python3
"""Whether an int8 model's constant weights could take the paired AVX2 tile
(QLayout::Paired, backends/cpu/kernels/README.md): for each Conv (groups 1),
MatMul and Gemm whose weights are a DequantizeLinear of an int8 initializer
(and each MatMulInteger/ConvInteger on one: quantize_dynamic's),
the share of weights outside [-64, 64] ("hot"), the share of natural
neighbour pairs (k, k+1) that fit vpmaddubsw in every column, and the depth
the greedy order of planPairs (QGemmPaired.cpp, re-implemented here) needs,
as a multiple of K (the kernels keep a Paired packing up to 9/8). A Conv's
rows are its input channels, its columns every (output channel, tap): one
channel order has to serve all of them, as a producer writing the channels
in that order would.

  python3 bench/cpu/weight_pairs.py MODEL.onnx [MODEL.onnx ...]
"""
import sys

import numpy as np
import onnx
from onnx import numpy_helper


def fits(a, b):
    s = a.astype(np.int32) + b
    return bool(((s <= 128) & (s >= -128)).all())


def planned_depth(B, tries=64):
    """K' / K of the greedy pairing (None: too many hot rows to try)."""
    K = B.shape[0]
    hot = (np.abs(B) > 64).sum(1)
    if hot.sum() * 4 > B.size:
        return None
    order = sorted(range(K), key=lambda k: (-hot[k], k))
    used = np.zeros(K, bool)
    slots, cool = 0, K
    for i in order:
        if used[i]:
            continue
        used[i] = True
        while cool > 0 and used[order[cool - 1]]:
            cool -= 1
        mate, t, y = -1, 0, cool
        while y > 0 and t < tries:
            j = order[y - 1]
            y -= 1
            if used[j]:
                continue
            t += 1
            if fits(B[i], B[j]):
                mate = j
                break
        if mate >= 0:
            used[mate] = True
        slots += 2
    return (slots + 3) // 4 * 4 / K


def weights(path):
    m = onnx.load(path)
    init = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    prod = {o: n for n in m.graph.node for o in n.output}
    for n in m.graph.node:
        if n.op_type not in ("Conv", "MatMul", "Gemm", "MatMulInteger",
                             "ConvInteger") or len(n.input) < 2:
            continue
        if n.op_type.endswith("Integer"):  # quantize_dynamic's
            if n.input[1] not in init:
                continue
            w = init[n.input[1]]
        else:
            d = prod.get(n.input[1])
            if d is None or d.op_type != "DequantizeLinear" or d.input[0] not in init:
                continue
            w = init[d.input[0]]
        if w.dtype != np.int8:
            continue
        w = w.astype(np.int32)
        if n.op_type in ("Conv", "ConvInteger"):
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            if group != 1 or w.ndim != 4:
                continue
            B = w.transpose(1, 0, 2, 3).reshape(w.shape[1], -1)
        elif n.op_type == "Gemm" and any(a.name == "transB" and a.i for a in n.attribute):
            B = w.T
        else:
            B = w
        yield n, B


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        print(__doc__)
        return 0 if sys.argv[1:] in (["-h"], ["--help"]) else 2
    for path in sys.argv[1:]:
        macs = paired = 0
        print(path)
        for n, B in weights(path):
            h = B.shape[0] // 2 * 2
            nat = np.mean([fits(B[k], B[k + 1]) for k in range(0, h, 2)]) if h else 0
            r = planned_depth(B)
            ok = r is not None and r <= 9 / 8
            macs += B.size
            paired += B.size if ok else 0
            print(f"  {n.op_type:6s} K={B.shape[0]:5d} columns={B.shape[1]:6d} "
                  f"hot={np.mean(np.abs(B) > 64):.3f} natural pairs fit={nat:.2f} "
                  f"paired depth={'-' if r is None else f'{r:.2f}'}K")
        if macs:
            print(f"  weights in layers that pair within 9/8 K: {paired / macs:.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
