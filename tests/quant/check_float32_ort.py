#!/usr/bin/env python3
"""The float32 requantization profile against ONNX Runtime, op by op.

For each op ONNX Runtime's x86 CPU EP fuses from a QDQ pattern (uint8
activations, int8 weights, as quantize_static writes them), builds a
one-layer QDQ model whose inputs put results next to rounding boundaries:
accumulators chosen (through the bias, or by search) where float32
requantization and the exact product round differently, exact ties, etc.
Runs ONNX Runtime (default optimizations: its fused kernels) and
`ember run --requant=float32` on the interpreter and on the CPU backend,
and requires the three to agree bit for bit (ConvTranspose also on the CPU
backend's plain-C runtime, kernels=portable). Each line also counts the
elements where the float32 form and the exact (fixed-profile) rounding
differ (Softmax: where its output multiplier floor(1 / y_scale) and the
exact scale round apart), or, for the float ops ONNX Runtime runs between
DequantizeLinear and QuantizeLinear (ConvTranspose, InstanceNormalization),
where its summation order and the one Ember had before quantize
differently: the cases the check really tells apart.

    check_float32_ort.py --ember build/bin/ember [--no-cpu] [--seed N]

Exit 1 on any difference, 77 when onnxruntime is not installed.
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
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_exact import skip_if_ort_saturates  # noqa: E402

skip_if_ort_saturates("the float32 profile")

f32 = np.float32


class Model:
    """A small graph builder: QDQ helpers over onnx.helper."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, arr):
        self.n += 1
        name = f"c{self.n}"
        self.inits.append(numpy_helper.from_array(np.asarray(arr), name))
        return name

    def node(self, op, ins, **attrs):
        self.n += 1
        out = f"t{self.n}"
        self.nodes.append(helper.make_node(op, ins, [out], **attrs))
        return out

    def dq(self, q, scale, zp, axis=None):
        kw = {} if axis is None else {"axis": axis}
        return self.node("DequantizeLinear",
                         [q, self.const(np.asarray(scale, f32)),
                          self.const(zp)], **kw)

    def qdq_input(self, name, scale, zp):
        q = self.node("QuantizeLinear", [name, self.const(f32(scale)),
                                         self.const(zp)])
        return self.dq(q, f32(scale), zp)

    def q_output(self, x, scale, zp):
        out = self.node("QuantizeLinear", [x, self.const(f32(scale)),
                                           self.const(zp)])
        self.nodes[-1].output[0] = "y"
        return out

    def proto(self, inputs):
        ins = [helper.make_tensor_value_info(
            n, helper.np_dtype_to_tensor_dtype(a.dtype), list(a.shape))
               for n, a in inputs.items()]
        g = helper.make_graph(self.nodes, "g", ins,
                              [helper.make_empty_tensor_value_info("y")],
                              self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
        m.ir_version = 8
        return m


def floats_of(q, scale, zp):
    """Float inputs that QuantizeLinear maps back to the integers q."""
    return (f32(scale) * (q.astype(f32) - f32(zp))).astype(f32)


def near_ties(scale, m_exact, lo, hi, span=1 << 19):
    """Accumulators in [-span, span) whose float32 requantization
    rne(f32(acc) * scale) differs from the exact rne(acc * m_exact), with
    results inside [lo, hi]."""
    acc = np.arange(-span, span, dtype=np.int64)
    a = np.rint((acc.astype(f32) * f32(scale)).astype(f32))
    b = np.floor(acc * m_exact + 0.5)
    return acc[(a != b) & (a > lo) & (a < hi)]


def conv_case(rng, C, K, k, group, per_channel, stride=1):
    H = 8
    pad = k // 2
    sx, zx = f32(rng.uniform(0.002, 0.1)), np.uint8(rng.integers(0, 256))
    sw = rng.uniform(0.0005, 0.02, K if per_channel else 1).astype(f32)
    sy, zy = f32(rng.uniform(0.01, 0.5)), np.uint8(128)
    w = rng.integers(-127, 128, (K, C // group, k, k)).astype(np.int8)
    qx = rng.integers(0, 256, (1, C, H, H)).astype(np.uint8)
    # The accumulators without bias (im2col by hand), then a bias per
    # channel that puts one pixel on a near-tie.
    xp = np.pad(qx.astype(np.int64) - int(zx),
                ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(2, 3))
    win = win[:, :, ::stride, ::stride]
    cg, kg = C // group, K // group
    acc = np.concatenate(
        [np.einsum("nchwij,kcij->nkhw", win[:, g * cg:(g + 1) * cg],
                   w[g * kg:(g + 1) * kg].astype(np.int64))
         for g in range(group)], 1)
    swk = np.broadcast_to(sw, (K,)).astype(f32)
    scale = ((sx * swk).astype(f32) / sy).astype(f32)
    exact = np.float64(sx) * swk.astype(np.float64) / np.float64(sy)
    bias = np.zeros(K, np.int32)
    for c in range(K):
        t = near_ties(scale[c], exact[c], -100, 100)
        if len(t):
            px = rng.integers(acc[0, c].size)
            bias[c] = t[rng.integers(len(t))] - acc[0, c].reshape(-1)[px]
    m = Model()
    x = m.qdq_input("x", sx, zx)
    if per_channel:
        wd = m.dq(m.const(w), sw, np.zeros(K, np.int8), axis=0)
        bd = m.dq(m.const(bias), (sx * sw).astype(f32),
                  np.zeros(K, np.int32), axis=0)
    else:
        wd = m.dq(m.const(w), sw[0], np.int8(0))
        bd = m.dq(m.const(bias), f32(sx * sw[0]), np.int32(0))
    y = m.node("Conv", [x, wd, bd], pads=[pad] * 4, strides=[stride] * 2,
               group=group)
    m.q_output(y, sy, zy)
    acc = acc + bias.reshape(1, K, 1, 1)
    disc = int(np.sum(np.rint((acc.astype(f32) * scale.reshape(1, K, 1, 1))
                              .astype(f32)) !=
                      np.floor(acc * exact.reshape(1, K, 1, 1) + 0.5)))
    return m, {"x": floats_of(qx, sx, zx)}, disc


def gemm_case(rng, op, per_column):
    # Two-term rows A = [d0, d1], B = [[1..], [127..]]: acc = d0 + 127 d1
    # reaches any target, one row per column.
    N = 64
    sa, za = f32(rng.uniform(0.002, 0.1)), np.uint8(rng.integers(0, 256))
    sw = rng.uniform(0.0005, 0.02, N if per_column else 1).astype(f32)
    sy, zy = f32(rng.uniform(0.01, 0.5)), np.uint8(128)
    swn = np.broadcast_to(sw, (N,)).astype(f32)
    scale = ((sa * swn).astype(f32) / sy).astype(f32)
    exact = np.float64(sa) * swn.astype(np.float64) / np.float64(sy)
    w = np.zeros((2, N), np.int8)
    w[0], w[1] = 1, 127
    qa = np.full((N, 2), za, np.uint8)
    for r in range(N):
        for t in near_ties(scale[r], exact[r], -100, 100, 30000):
            d1 = int(np.round(t / 127))
            d0 = int(t - 127 * d1)
            if 0 <= d0 + int(za) <= 255 and 0 <= d1 + int(za) <= 255:
                qa[r] = [d0 + int(za), d1 + int(za)]
                break
    m = Model()
    a = m.qdq_input("a", sa, za)
    if op == "MatMul":
        wd = (m.dq(m.const(w), sw, np.zeros(N, np.int8), axis=1)
              if per_column else m.dq(m.const(w), sw[0], np.int8(0)))
        y = m.node("MatMul", [a, wd])
    else:  # Gemm with transB and a bias, as exporters write Linear
        wt = np.ascontiguousarray(w.T)
        wd = (m.dq(m.const(wt), sw, np.zeros(N, np.int8), axis=0)
              if per_column else m.dq(m.const(wt), sw[0], np.int8(0)))
        bias = rng.integers(-3, 4, N).astype(np.int32)
        bd = (m.dq(m.const(bias), (sa * sw).astype(f32),
                   np.zeros(N, np.int32), axis=0)
              if per_column else m.dq(m.const(bias), f32(sa * sw[0]),
                                      np.int32(0)))
        y = m.node("Gemm", [a, wd, bd], transB=1)
    m.q_output(y, sy, zy)
    return m, {"a": floats_of(qa, sa, za)}, -1


def binary_case(rng, op, a_shape, b_shape):
    """Add or Mul of every pair of 8-bit values (or a broadcast subset):
    scales drawn until the float32 form and the exact one differ."""
    for _ in range(200):
        sa, sb = f32(rng.uniform(0.01, 0.1)), f32(rng.uniform(0.01, 0.1))
        sy = f32(rng.uniform(0.02, 0.5 if op == "Mul" else 0.2))
        za, zb, zy = (np.uint8(rng.integers(0, 256)) for _ in range(3))
        qa = rng.integers(0, 256, a_shape).astype(np.uint8)
        qb = rng.integers(0, 256, b_shape).astype(np.uint8)
        if a_shape == b_shape == (256, 256):
            qa = np.repeat(np.arange(256)[:, None], 256, 1).astype(np.uint8)
            qb = np.ascontiguousarray(qa.T)
        da = qa.astype(np.float64) - int(za)
        db = qb.astype(np.float64) - int(zb)
        if op == "Add":
            ex = (np.float64(sa) * da + np.float64(sb) * db) / np.float64(sy)
        else:
            ex = np.float64(sa) * np.float64(sb) * da * db / np.float64(sy)
        # Elements next to a boundary, where the forms may differ.
        near = np.abs(ex - np.floor(ex) - 0.5) < 2e-6
        if near.any():
            break
    m = Model()
    a = m.qdq_input("a", sa, za)
    b = m.qdq_input("b", sb, zb)
    m.q_output(m.node(op, [a, b]), sy, zy)
    return (m, {"a": floats_of(qa, sa, za), "b": floats_of(qb, sb, zb)},
            int(np.sum(near)))


def pool_case(rng, op, same):
    C, H = 64, 7
    sx, zx = f32(rng.uniform(0.01, 0.1)), np.uint8(rng.integers(0, 256))
    sy, zy = (sx, zx) if same else (f32(rng.uniform(0.005, 0.05)),
                                    np.uint8(rng.integers(0, 256)))
    qx = rng.integers(0, 256, (1, C, H, H)).astype(np.uint8)
    m = Model()
    x = m.qdq_input("x", sx, zx)
    if op == "GlobalAveragePool":
        y = m.node(op, [x])
    else:
        y = m.node(op, [x], kernel_shape=[3, 3], strides=[2, 2],
                   pads=[1, 1, 1, 1], count_include_pad=int(rng.integers(2)))
    m.q_output(y, sy, zy)
    return m, {"x": floats_of(qx, sx, zx)}, -1


def rescale_case(rng, op):
    """Concat of two inputs, or a Transpose, in other parameters than the
    output's: scales drawn until the float DequantizeLinear ->
    QuantizeLinear table differs from the exact rescaling somewhere."""
    q = np.arange(256).astype(np.uint8)
    for _ in range(100000):
        sx, sy = f32(rng.uniform(0.01, 0.1)), f32(rng.uniform(0.02, 0.5))
        zx, zy = np.uint8(rng.integers(0, 256)), np.uint8(rng.integers(0, 256))
        d = (sx * (q.astype(f32) - f32(zx))).astype(f32)
        tab = np.clip(np.rint((d / sy).astype(f32)) + int(zy), 0, 255)
        ex = np.clip(np.rint((q.astype(np.float64) - int(zx)) *
                             np.float64(sx) / np.float64(sy)) + int(zy),
                     0, 255)
        if (tab != ex).any():
            break
    m = Model()
    x = m.qdq_input("x", sx, zx)
    qx = q.reshape(1, 1, 16, 16)
    if op == "Concat":
        o = m.qdq_input("o", sy, zy)
        y = m.node("Concat", [x, o], axis=1)
        inputs = {"x": floats_of(qx, sx, zx), "o": floats_of(qx, sy, zy)}
    else:
        y = m.node("Transpose", [x], perm=[0, 1, 3, 2])
        inputs = {"x": floats_of(qx, sx, zx)}
    m.q_output(y, sy, zy)
    return m, inputs, int(np.sum(tab != ex))


def resize_case(rng, ctm, f, sizes=False):
    """DequantizeLinear -> bilinear Resize -> QuantizeLinear with equal
    parameters (ONNX Runtime keeps it in float): counts the outputs whose
    float interpolation lands within 1e-3 of a .5 boundary."""
    C, H, W = 16, 9, 7
    sx, zx = f32(rng.uniform(0.01, 0.1)), np.uint8(rng.integers(0, 256))
    qx = rng.integers(0, 256, (1, C, H, W)).astype(np.uint8)
    m = Model()
    x = m.qdq_input("x", sx, zx)
    if sizes:
        y = m.node("Resize", [x, "", "", m.const(np.asarray(
            [1, C, H * f, W * f], np.int64))], mode="linear",
            coordinate_transformation_mode=ctm)
    else:
        y = m.node("Resize", [x, "", m.const(np.asarray(
            [1, 1, f, f], f32))], mode="linear",
            coordinate_transformation_mode=ctm)
    m.q_output(y, sx, zx)
    return m, {"x": floats_of(qx, sx, zx)}, -1


def mlas_stride_k(n, k, computed_w):
    """MLAS's SGEMM K block for an n-column, k-deep product; computed_w: the
    weights are computed at run time (a DequantizeLinear ONNX Runtime does
    not fold), transposed through MLAS's 128-deep A panel, which keeps the
    block at 128 (ember/math/GemmBlocks.h)."""
    sn, sk = 128, 128
    if n >= k:
        while sk // 2 >= k:
            sn, sk = sn * 2, sk // 2
    elif not computed_w:
        while sn > 16 and sn // 2 >= n:
            sk, sn = sk * 2, sn // 2
    return max(sk, 1)


def conv_transpose_orders(x, w, b, stride, group, pads, computed_w=True):
    """ConvTranspose of x [C, H, W] by w [C, K/group, k, k] in float32, in
    two orders: ONNX Runtime's (per tap a fused multiply-add chain over
    the group's channels in MLAS's K blocks, the taps added from zero in
    (kh, kw) order, then the bias; the fma through float64, exact but for
    rare double roundings; its K blocks those of computed weights, or of
    a constant filter with computed_w False) and the one Ember had before
    (per output element the channels in turn, each adding its taps'
    products)."""
    C, H, W = x.shape
    kg, k = w.shape[1], w.shape[2]
    cg = C // group
    full = ((H - 1) * stride + k, (W - 1) * stride + k)
    ort_y = np.zeros((group * kg,) + full, f32)
    old_y = np.zeros_like(ort_y)
    sk = mlas_stride_k(H * W, cg, computed_w)
    for g in range(group):
        xs, ws = x[g * cg:(g + 1) * cg], w[g * cg:(g + 1) * cg]
        ys = slice(g * kg, (g + 1) * kg)
        for kh in range(k):
            for kw in range(k):
                at = (ys, slice(kh, kh + (H - 1) * stride + 1, stride),
                      slice(kw, kw + (W - 1) * stride + 1, stride))
                col = None
                for k0 in range(0, cg, sk):
                    part = np.zeros((kg, H, W), f32)
                    for c in range(k0, min(cg, k0 + sk)):
                        part = (ws[c, :, kh, kw, None, None].astype(
                            np.float64) * xs[c][None] + part).astype(f32)
                    col = part if col is None else (col + part).astype(f32)
                ort_y[at] = (ort_y[at] + col).astype(f32)
        for c in range(cg):
            for kh in range(k):
                for kw in range(k):
                    at = (ys, slice(kh, kh + (H - 1) * stride + 1, stride),
                          slice(kw, kw + (W - 1) * stride + 1, stride))
                    old_y[at] = (old_y[at] + (ws[c, :, kh, kw, None, None] *
                                              xs[c][None]).astype(f32)
                                 ).astype(f32)
    crop = (slice(None), slice(pads, full[0] - pads),
            slice(pads, full[1] - pads))
    return [(y[crop] + b[:, None, None]).astype(f32) for y in (ort_y, old_y)]


def conv_transpose_case(rng, C, K, k, stride, group=1, pads=0, H=6,
                        rival="old"):
    """DequantizeLinear -> ConvTranspose -> QuantizeLinear (ONNX Runtime
    runs it in float: a GEMM, col2im, then the bias) over an H x H input.
    Inputs are drawn until ONNX Runtime's order (its weights computed: it
    folds no DequantizeLinear) and a rival quantize differently somewhere:
    the order Ember had before ("old"), or the K blocks of a constant
    filter ("constant": deeper than 128 when a group has more channels
    than the input pixels)."""
    for _ in range(200):
        sx, zx = f32(rng.uniform(0.01, 0.05)), np.uint8(rng.integers(0, 256))
        sw = rng.uniform(0.002, 0.02, K // group).astype(f32)
        qw = rng.integers(-127, 128, (C, K // group, k, k)).astype(np.int8)
        sy, zy = f32(rng.uniform(0.02, 0.2)), np.uint8(rng.integers(0, 256))
        qb = rng.integers(-2000, 2000, K).astype(np.int32)
        qx = rng.integers(0, 256, (1, C, H, H)).astype(np.uint8)
        swc = sw if group == 1 else np.repeat(sw[:1], K // group)
        xd = (sx * (qx[0].astype(f32) - f32(zx))).astype(f32)
        wd = (qw.astype(f32) * swc[None, :, None, None]).astype(f32)
        bs = (sx * (sw if group == 1 else np.repeat(sw[:1], K))).astype(f32)
        bd = (qb.astype(f32) * bs).astype(f32)
        new, old = conv_transpose_orders(xd, wd, bd, stride, group, pads)
        if rival == "constant":
            old = conv_transpose_orders(xd, wd, bd, stride, group, pads,
                                        computed_w=False)[0]
        disc = int(np.sum(quantize(new, sy, zy) != quantize(old, sy, zy)))
        if disc:
            break
    m = Model()
    x = m.qdq_input("x", sx, zx)
    w = m.dq(m.const(qw), sw if group == 1 else sw[0],
             np.zeros(K // group if group == 1 else (), np.int8) if
             group == 1 else np.int8(0), axis=1 if group == 1 else None)
    bs = (sx * (sw if group == 1 else np.repeat(sw[:1], K))).astype(f32)
    b = m.dq(m.const(qb), bs, np.zeros(K, np.int32), axis=0)
    y = m.node("ConvTranspose", [x, w, b], kernel_shape=[k, k],
               strides=[stride, stride], group=group,
               pads=[pads] * 4)
    m.q_output(y, sy, zy)
    return m, {"x": floats_of(qx, sx, zx)}, disc


def conv_float_ort(x, w, b, stride, pad, group):
    """ONNX Runtime's float Conv of x [C, H, W] by w [K, C/group, k, k] with
    weights it computes at run time (MlasConv, one thread): per group an
    im2col matrix (rows in (channel, kh, kw) order); with several filters
    per group MLAS's SGEMM (rows in K blocks, each a fused multiply-add
    chain from zero, the blocks' sums added in order), with one its GEMV
    kernel (rounded products, runs of four summed then added, then a pair,
    then one); then the bias. The fma through float64: exact but for rare
    double roundings."""
    C, H, W = x.shape
    K, cg, k = w.shape[0], w.shape[1], w.shape[2]
    kg = K // group
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad)))
    win = np.lib.stride_tricks.sliding_window_view(xp, (k, k), axis=(1, 2))
    win = win[:, ::stride, ::stride]
    oh, ow = win.shape[1], win.shape[2]
    y = np.zeros((K, oh * ow), f32)
    for g in range(group):
        cols = win[g * cg:(g + 1) * cg].transpose(0, 3, 4, 1, 2).reshape(
            cg * k * k, oh * ow).astype(np.float64)
        wm = w[g * kg:(g + 1) * kg].reshape(kg, -1).astype(np.float64)
        kk, n = cols.shape
        if kg > 1:
            sk, tot = mlas_stride_k(n, kk, False), None
            for k0 in range(0, kk, sk):
                part = np.zeros((kg, n), f32)
                for r in range(k0, min(kk, k0 + sk)):
                    part = (np.outer(wm[:, r], cols[r]) + part).astype(f32)
                tot = part if tot is None else (tot + part).astype(f32)
        else:
            prods = [np.outer(wm[:, r], cols[r]).astype(f32)
                     for r in range(kk)]
            tot, r = np.zeros((1, n), f32), 0
            while r < kk:
                run = 4 if kk - r >= 4 else 2 if kk - r >= 2 else 1
                part = prods[r]
                for j in range(r + 1, r + run):
                    part = (part + prods[j]).astype(f32)
                tot, r = (tot + part).astype(f32), r + run
        y[g * kg:(g + 1) * kg] = tot
    return (y + b[:, None]).astype(f32).reshape(K, oh, ow)


def conv_int8_case(rng, C, K, k, group, stride=1, H=8):
    """DequantizeLinear -> Conv -> QuantizeLinear with int8 activations (an
    int8 graph output): ONNX Runtime's x86 kernels fuse no Conv with an int8
    end, so it runs in float (conv_float_ort). Inputs are drawn until that
    and the fused form (the exact accumulator times the float32 scale)
    quantize differently somewhere."""
    pad = k // 2
    for _ in range(200):
        sx, zx = f32(rng.uniform(0.002, 0.05)), np.int8(rng.integers(-60, 60))
        sw = rng.uniform(0.0005, 0.02, K).astype(f32)
        sy, zy = f32(rng.uniform(0.02, 0.3)), np.int8(rng.integers(-20, 20))
        qw = rng.integers(-127, 128, (K, C // group, k, k)).astype(np.int8)
        qb = rng.integers(-3000, 3000, K).astype(np.int32)
        qx = rng.integers(-128, 128, (1, C, H, H)).astype(np.int8)
        xd = (sx * (qx[0].astype(f32) - f32(zx))).astype(f32)
        wd = (qw.astype(f32) * sw[:, None, None, None]).astype(f32)
        bs = (sx * sw).astype(f32)
        y = conv_float_ort(xd, wd, (qb.astype(f32) * bs).astype(f32), stride,
                           pad, group)
        acc = np.rint(y.astype(np.float64) / (sx * sw[:, None, None]
                                             .astype(np.float64)))
        fused = np.rint((acc.astype(f32) * ((bs / sy).astype(f32))[
            :, None, None]).astype(f32)) + zy
        disc = int(np.sum(np.clip(fused, -128, 127) != quantize(y, sy, zy)))
        if disc:
            break
    m = Model()
    x = m.qdq_input("x", sx, zx)
    wq = m.dq(m.const(qw), sw, np.zeros(K, np.int8), axis=0)
    bq = m.dq(m.const(qb), bs, np.zeros(K, np.int32), axis=0)
    y = m.node("Conv", [x, wq, bq], kernel_shape=[k, k], pads=[pad] * 4,
               strides=[stride] * 2, group=group)
    m.q_output(y, sy, zy)
    return m, {"x": floats_of(qx, sx, zx)}, disc


def packet_sum(v, head, lanes=4):
    """ember/math/PacketSum.h (Eigen's vectorized sum, as ONNX Runtime's
    x86 InstanceNormalization computes it) of the float32 line v."""
    n = len(v)
    m = (n - head) // lanes
    if m == 0:
        return np.cumsum(v, dtype=f32)[-1]
    p = v[head:head + m * lanes].reshape(m, lanes)
    a = p[0]
    if m >= 2:
        pairs = m // 2
        a = (np.cumsum(p[0:2 * pairs:2], 0, dtype=f32)[-1] +
             np.cumsum(p[1:2 * pairs:2], 0, dtype=f32)[-1]).astype(f32)
        if m % 2:
            a = (a + p[-1]).astype(f32)
    while len(a) > 1:
        a = (a[:len(a) // 2] + a[len(a) // 2:]).astype(f32)
    rest = np.concatenate([a, v[:head], v[head + m * lanes:]]).astype(f32)
    return np.cumsum(rest, dtype=f32)[-1]


def instance_norm_ort(x, scale, bias, eps):
    """ONNX Runtime's InstanceNormalization (instance_norm.cc), in float32:
    the mean's sum starts at the plane's first 16-byte-aligned element (the
    tensor aligned, plane i at element i * W), the squared differences'
    sum at its first element."""
    N, C = x.shape[:2]
    W = x[0, 0].size
    xf = x.reshape(N * C, W)
    y = np.empty_like(xf)
    for i in range(N * C):
        head = min((4 - i * W % 4) % 4, W)
        mean = f32(packet_sum(xf[i], head) / f32(W))
        d = (xf[i] - mean).astype(f32)
        ss = packet_sum((d * d).astype(f32), 0)
        inv = f32(1) / np.sqrt(f32(ss / f32(W)) + f32(eps), dtype=f32)
        a = f32(inv * scale[i % C])
        y[i] = ((xf[i] * a).astype(f32) + f32(bias[i % C] - f32(mean * a)))
    return y.reshape(x.shape)


def instance_norm_composite(x, scale, bias, eps):
    """Ember's InstanceNormalization composite (LowerNn.cpp, the fixed
    profile's and the float models'): sums in double, then float ops."""
    ax = tuple(range(2, x.ndim))
    w = f32(x[0, 0].size)
    cs = (1, -1) + (1,) * (x.ndim - 2)
    mean = (x.sum(ax, dtype=np.float64, keepdims=True).astype(f32) / w)
    d = (x - mean.astype(f32)).astype(f32)
    var = ((d * d).astype(f32).sum(ax, dtype=np.float64, keepdims=True)
           .astype(f32) / w).astype(f32)
    inv = (f32(1) / np.sqrt((var + f32(eps)).astype(f32))).astype(f32)
    y = ((d * inv).astype(f32) * scale.reshape(cs)).astype(f32)
    return (y + bias.reshape(cs)).astype(f32)


def quantize(v, s, z):
    lo, hi = (-128, 127) if np.asarray(z).dtype == np.int8 else (0, 255)
    return np.clip(np.rint((v / s).astype(f32)) + int(z), lo, hi)


def instance_norm_case(rng, shape):
    """DequantizeLinear -> InstanceNormalization -> QuantizeLinear (ONNX
    Runtime runs it in float, Eigen's sums). Inputs are drawn until
    quantizing ONNX Runtime's float result and the composite's differ
    somewhere, so the case tells the two orders apart."""
    C = shape[1]
    for _ in range(2000):
        sx, zx = f32(rng.uniform(0.01, 0.05)), np.uint8(rng.integers(0, 256))
        sy, zy = f32(rng.uniform(0.005, 0.02)), np.uint8(128)
        scale = rng.uniform(0.1, 0.6, C).astype(f32)
        bias = rng.uniform(-0.3, 0.3, C).astype(f32)
        qx = rng.integers(0, 256, shape).astype(np.uint8)
        x = floats_of(qx, sx, zx)
        xd = (sx * (qx.astype(f32) - f32(zx))).astype(f32)
        a = quantize(instance_norm_ort(xd, scale, bias, 1e-5), sy, zy)
        b = quantize(instance_norm_composite(xd, scale, bias, 1e-5), sy, zy)
        disc = int(np.sum(a != b))
        if disc:
            break
    m = Model()
    xq = m.qdq_input("x", sx, zx)
    y = m.node("InstanceNormalization", [xq, m.const(scale), m.const(bias)],
               epsilon=1e-5)
    m.q_output(y, sy, zy)
    return m, {"x": x}, disc


def softmax_case(rng, kind, shape, axis, ys, yz, form):
    """DequantizeLinear -> Softmax -> QuantizeLinear of one 8-bit type,
    which ONNX Runtime fuses into QLinearSoftmax: counts the outputs where
    its output multiplier floor(1 / y_scale) and the exact 1 / y_scale
    round apart. `form`: "q", the QuantizeLinear a graph output; "pair", a
    DequantizeLinear after it (quantize_static's form); "int8 input", the
    stored values a graph input and the QuantizeLinear a graph output. On
    x86, ONNX Runtime turns int8 QuantizeLinear -> DequantizeLinear pairs
    into uint8 and fuses only when both ends end up of one type: an int8
    "q" case stays float there (a pair in, int8 out)."""
    lo, hi = (0, 255) if kind == np.uint8 else (-128, 127)
    sx, zx = f32(rng.uniform(0.02, 0.3)), kind(rng.integers(lo, hi + 1))
    qx = rng.integers(lo, hi + 1, shape).astype(kind)
    m = Model()
    if form == "int8 input":
        x = m.dq("x", sx, zx)
        inputs = {"x": qx}
    else:
        x = m.qdq_input("x", sx, zx)
        inputs = {"x": floats_of(qx, sx, zx)}
    y = m.node("Softmax", [x], axis=axis)
    if form == "pair":
        q = m.node("QuantizeLinear", [y, m.const(f32(ys)), m.const(kind(yz))])
        m.dq(q, f32(ys), kind(yz))
        m.nodes[-1].output[0] = "y"
    else:
        m.q_output(y, f32(ys), kind(yz))
    d = np.float64(sx) * (qx.astype(np.float64) - int(zx))
    e = np.exp(d - d.max(axis=axis, keepdims=True))
    p = e / e.sum(axis=axis, keepdims=True)
    exact = np.clip(np.rint(p / np.float64(f32(ys))) + yz, lo, hi)
    scaled = np.clip(np.rint(p * np.floor(1 / f32(ys))) + yz, lo, hi)
    return m, inputs, int(np.sum(exact != scaled))


def run_ember(ember, path, inputs, target, fallback="none"):
    with tempfile.TemporaryDirectory() as td:
        portable = target == "cpu-portable"
        cmd = [ember, "run", path, "--target=cpu" if portable else
               f"--target={target}", "--requant=float32",
               "--save-outputs", td]
        if target != "interp":
            cmd.append(f"--fallback={fallback}")
        if portable:  # the CPU backend's plain-C runtime (RtPortable.c)
            cmd += ["--backend-opt", "kernels=portable"]
        for i, (name, arr) in enumerate(inputs.items()):
            p = os.path.join(td, f"in{i}.npy")
            np.save(p, arr)
            cmd += ["--input", f"{name}={p}"]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode:
            raise RuntimeError(r.stderr.strip()[-300:])
        return numpy_helper.to_array(onnx.load_tensor(
            os.path.join(td, "output_0.pb")))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--no-cpu", action="store_true")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    cases = [
        ("Conv 3x3", lambda: conv_case(rng, 16, 32, 3, 1, True)),
        ("Conv 1x1", lambda: conv_case(rng, 64, 64, 1, 1, True)),
        ("Conv 3x3 per-tensor", lambda: conv_case(rng, 16, 32, 3, 1, False)),
        ("Conv 3x3 stride 2", lambda: conv_case(rng, 16, 16, 3, 1, True, 2)),
        ("Conv depthwise 3x3", lambda: conv_case(rng, 32, 32, 3, 32, True)),
        ("Conv depthwise 5x5", lambda: conv_case(rng, 24, 24, 5, 24, True)),
        ("Conv grouped", lambda: conv_case(rng, 8, 16, 3, 4, True)),
        ("MatMul per-column", lambda: gemm_case(rng, "MatMul", True)),
        ("MatMul per-tensor", lambda: gemm_case(rng, "MatMul", False)),
        ("Gemm", lambda: gemm_case(rng, "Gemm", True)),
        ("Add", lambda: binary_case(rng, "Add", (256, 256), (256, 256))),
        ("Add per-channel b", lambda: binary_case(rng, "Add", (1, 64, 8, 8),
                                                  (1, 64, 1, 1))),
        ("Add per-channel a", lambda: binary_case(rng, "Add", (1, 64, 1, 1),
                                                  (1, 64, 8, 8))),
        ("Add scalar a", lambda: binary_case(rng, "Add", (1,), (64, 256))),
        ("Mul", lambda: binary_case(rng, "Mul", (256, 256), (256, 256))),
        ("GlobalAveragePool", lambda: pool_case(rng, "GlobalAveragePool",
                                                False)),
        ("GlobalAveragePool same", lambda: pool_case(
            rng, "GlobalAveragePool", True)),
        ("AveragePool", lambda: pool_case(rng, "AveragePool", False)),
        ("AveragePool same", lambda: pool_case(rng, "AveragePool", True)),
        ("Concat", lambda: rescale_case(rng, "Concat")),
        ("Transpose", lambda: rescale_case(rng, "Transpose")),
        ("Resize x2 half_pixel", lambda: resize_case(rng, "half_pixel", 2)),
        ("Resize x2 pytorch_half_pixel sizes", lambda: resize_case(
            rng, "pytorch_half_pixel", 2, True)),
        ("Resize x4 asymmetric", lambda: resize_case(rng, "asymmetric", 4)),
        ("Resize x2 align_corners sizes", lambda: resize_case(
            rng, "align_corners", 2, True)),
        ("Resize x3 half_pixel", lambda: resize_case(rng, "half_pixel", 3)),
        ("ConvTranspose 2x2 stride 2", lambda: conv_transpose_case(
            rng, 32, 16, 2, 2)),
        ("ConvTranspose 3x3 stride 2 pads", lambda: conv_transpose_case(
            rng, 64, 32, 3, 2, 1, 1)),
        ("ConvTranspose 4x4 stride 2 grouped", lambda: conv_transpose_case(
            rng, 16, 16, 4, 2, 4, 1)),
        # Two K blocks (128 + 72): 256 input pixels, 200 channels.
        ("ConvTranspose 3x3 stride 2 pads 200 channels",
         lambda: conv_transpose_case(rng, 200, 16, 3, 2, 1, 1, H=16)),
    ]
    # Planes of every alignment (odd sizes: each plane starts elsewhere
    # in a 16-byte packet), shorter than a packet, and large.
    for shape in [(1, 16, 7, 9), (1, 32, 5, 5), (2, 8, 63), (1, 64, 1, 3),
                  (1, 6, 11, 13), (1, 3, 16, 16), (1, 2, 30, 30),
                  (1, 16, 2, 3, 7)]:
        cases.append((f"InstanceNormalization {list(shape)}",
                      lambda shape=shape: instance_norm_case(rng, shape)))
    # Fewer input pixels (36) than channels (200): ONNX Runtime keeps K
    # blocks of 128 for the dequantized (computed) weights, where a constant
    # filter would take one block of 200. Last, so that the cases above
    # draw the inputs they drew before.
    cases.append(("ConvTranspose 3x3 stride 2 pads 200 channels 6x6",
                  lambda: conv_transpose_case(rng, 200, 16, 3, 2, 1, 1, H=6,
                                              rival="constant")))
    # Softmax (QLinearSoftmax): classifier heads and a middle axis, int8 in
    # quantize_static's form (fused as uint8), with a zero point that
    # saturates, and as ONNX Runtime leaves it float (an int8 graph
    # output after a pair), the int8 kernel itself (int8 graph input and
    # output), and lines of one element, where the kernel's product
    # overflows to infinity.
    u8, i8 = np.uint8, np.int8
    for kind, shape, axis, ys, yz, form in [
            (u8, (4, 1000), -1, 1 / 255, 0, "q"),
            (u8, (64, 10), 1, 1 / 255, 0, "q"),
            (i8, (2, 16, 3, 5), 1, 1 / 255, -128, "pair"),
            (i8, (8, 12), -1, 1 / 255, 0, "pair"),
            (i8, (16, 12), -1, 1 / 255, -128, "q"),
            (i8, (2, 7, 9), 1, 1 / 255, -128, "int8 input"),
            (u8, (8, 12), 0, 1 / 100, 7, "q"),
            (u8, (6, 1), 1, 1 / 255, 3, "q"),
            (i8, (6, 1), 1, 1 / 255, -5, "int8 input")]:
        cases.append((f"Softmax {np.dtype(kind).name} {list(shape)} axis "
                      f"{axis} 1/{round(1 / ys)} zero point {yz} ({form})",
                      lambda k=kind, sh=shape, ax=axis, s=ys, z=yz, f=form:
                      softmax_case(rng, k, sh, ax, s, z, f)))
    # int8 activations, which ONNX Runtime leaves float around a Conv: two
    # K blocks (144 rows over 64 pixels: 128 + 16), one K block deepened
    # (576 rows over 16 pixels), one filter per group (its GEMV kernel;
    # 315 rows: runs of four, a pair and one), depthwise. Last, so that
    # the cases above draw the inputs they drew before.
    for C, K, k, group, stride, H in [(16, 24, 3, 1, 1, 8),
                                      (64, 8, 3, 1, 2, 8),
                                      (35, 1, 3, 1, 1, 24),
                                      (16, 16, 3, 16, 1, 8),
                                      (40, 12, 1, 2, 1, 16)]:
        cases.append((f"Conv int8 {C}->{K} {k}x{k} group {group} stride "
                      f"{stride} {H}x{H} (float in ONNX Runtime)",
                      lambda a=(C, K, k, group, stride, H):
                      conv_int8_case(rng, *a[:4], a[4], a[5])))
    targets = ["interp"] + ([] if a.no_cpu else ["cpu"])
    failed = 0
    with tempfile.TemporaryDirectory() as td:
        for name, make in cases:
            m, inputs, disc = make()
            path = os.path.join(td, "model.onnx")
            onnx.save(m.proto(inputs), path)
            want = ort.InferenceSession(
                path, providers=["CPUExecutionProvider"]).run(None, inputs)[0]
            msgs = []
            # The plain-C runtime has no int8 kernels; its float
            # ConvTranspose sums in the same order.
            extra = (["cpu-portable"] if name.startswith("ConvTranspose")
                     and not a.no_cpu else [])
            for t in targets + extra:
                try:
                    # The float32 profile's Conv in ONNX Runtime's order
                    # runs on the interpreter.
                    got = run_ember(a.ember, path, inputs, t, "interp" if
                                    "float in ONNX Runtime" in name else
                                    "none")
                except RuntimeError as err:
                    msgs.append(f"{t} failed: {err}")
                    continue
                bad = int(np.sum(got != want)) if got.shape == want.shape \
                    else -1
                if bad:
                    msgs.append(f"{t}: {bad} of {want.size} elements differ")
            tag = "FAIL" if msgs else "PASS"
            failed += bool(msgs)
            near = f", {disc} near a boundary" if disc >= 0 else ""
            print(f"{tag} {name}: {want.size} elements{near}" +
                  ("; " + "; ".join(msgs) if msgs else
                   f"; {' = '.join(targets + extra)} = onnxruntime"),
                  flush=True)
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
