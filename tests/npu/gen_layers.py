#!/usr/bin/env python3
"""Generates single-layer int8 QDQ ONNX models for the NPU backend's sweep
(tests/npu/README.md): Conv (kernels 1..7, strides 1..2, padding, dilation,
groups incl. depthwise, channel counts that are not multiples of DIM), with
Relu/Clip folded, MatMul and Gemm, Add, MaxPool, AveragePool,
GlobalAveragePool, Concat, and conv chains that fuse a pool or a residual
add; then YOLO's C2f (Split, convolution, Concat) and upsampling necks
(nearest or bilinear Resize by 2 or 4, Concat with a skip tensor), and,
with a fourth seed, upsampling on its own (--resize: bilinear by 2, 4 or 8
in half_pixel and asymmetric coordinates, nearest by 2..8, over maps larger
than the output memory and several channel tiles). Each case is an ONNX
test folder: model.onnx and test_data_set_0 with
the input and ONNX Runtime's output, computed node by node (graph
optimizations off: the QDQ graph's ONNX semantics on every host).

    gen_layers.py OUT_DIR [--count N] [--seed S]

Quantization parameters are drawn so that the integer paths are exercised
(zero points across the range, per-channel weight scales, int32 biases),
and, with their own seed after those, convolutions with a QDQ activation
(HardSwish, HardSigmoid, Sigmoid, Tanh, LeakyRelu, SiLU: the output
table) and quantized Muls (same shapes or a per-channel scale), and, with
a third seed, 16x8 layers (--wide: opset-21 int16 Q/DQ, symmetric):
convolutions (depthwise, grouped, strided, dilated, padded) and MatMul/Gemm
reading int16 and writing int16, int8 or uint8, int8 layers writing int16
(the precision boundaries), and int16 adds, then (--wide2) 16-bit pools,
means, mixed-width adds, multiplies and conversions, and, after the lane
cases (--lanes), (--wide3) int16 clamps on their own (Clip, Relu), and
(--convt) transposed convolutions (stride 2, 3 or 4, kernels 2..6,
PyTorch's kernel 3 / padding 1 / output_padding 1, per-channel weights
on axis 1, an activation or a Sigmoid table after), then (--wide4) the fused
16-bit forms (a residual int16 add of a 16x8 layer, two 16x8 layers
chained, a 16x8 layer into a global mean into 8 bits with a Clip after
it; past the first 12, every other case a 16x8 layer into 8 bits with a
fused pool, of a channel-poor input read as patches or a wider one), then
(--shuffle) ShuffleNet's channel shuffles (Reshape -> Transpose ->
Reshape) of grouped convolutions, pools and shared results, then
(--bands) convolutions over lines too wide for the memories (column
bands), then (--pools2) pools with strides of their own per axis or over
such lines, then (--pads) convolutions and pools padded beyond the loads'
fields, then (--pcact) per-channel activations (a convolution writing
one scale per channel, read by a depthwise one), then (--pixels) Concats
along pixels and Slices of rows, then (--lstm) integer LSTMs (16-bit
tables; each case folder with its ember options, ember_args.txt, and its
bounds, check_args.txt), then (--sequence) rank-3 MatMuls (sequences,
channels last), then (--norm) QDQ LayerNorms (form norm), then
(--softmax) QDQ Softmaxes (form softmax; these groups in gen_forms.py),
each group with a seed of its own, the way ONNX Runtime's quantizer
writes QDQ graphs: input float -> QuantizeLinear -> DequantizeLinear ->
op -> QuantizeLinear -> DequantizeLinear -> output float.
"""
import argparse
import json
import os
import shutil

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# The short names of the activation dtypes in case descriptions.
DTYPE_NAMES = {np.int16: "i16", np.int8: "i8", np.uint8: "u8"}

OPSET = 13


class G:
    """A small graph builder for QDQ graphs."""

    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.n = 0
        self.feed = {}
        self.opset = OPSET
        self.ember_args = []  # options every ember run of the case needs
        self.check_args = []  # lines of the case's own check bounds

    def name(self, s):
        self.n += 1
        return f"{s}{self.n}"

    def const(self, arr, s="c"):
        nm = self.name(s)
        self.inits.append(numpy_helper.from_array(np.asarray(arr), nm))
        return nm

    def node(self, op, ins, attrs=None, s=None):
        out = self.name(s or op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], name=out,
                                           **(attrs or {})))
        return out

    def qparams(self, dtype, lo, hi):
        """Scale and zero point covering [lo, hi] (zero point anywhere;
        int16: symmetric, zero point 0, as 16x8 activations are)."""
        if dtype == np.int16:
            scale = np.float32(max(abs(lo), abs(hi), 1e-3) / 32767)
            return self.const(scale, "s"), self.const(np.array(0, np.int16),
                                                      "z")
        qmin, qmax = (0, 255) if dtype == np.uint8 else (-128, 127)
        scale = np.float32(max(hi - lo, 1e-3) / (qmax - qmin))
        zp = int(np.clip(round(qmin - lo / scale), qmin, qmax))
        return self.const(scale, "s"), self.const(np.array(zp, dtype), "z")

    def qdq(self, x, dtype, lo, hi):
        s, z = self.qparams(dtype, lo, hi)
        q = self.node("QuantizeLinear", [x, s, z], s="q")
        return self.node("DequantizeLinear", [q, s, z], s="dq"), (s, z)

    def requant_dq(self, x, params):
        s, z = params
        q = self.node("QuantizeLinear", [x, s, z], s="q")
        return self.node("DequantizeLinear", [q, s, z], s="dq")

    def input(self, shape, lo=-2.0, hi=2.0):
        nm = self.name("x")
        self.inputs.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT,
                                                         shape))
        self.feed[nm] = self.rng.uniform(lo, hi, shape).astype(np.float32)
        return nm

    def output(self, x):
        self.outputs.append(x)

    def model(self):
        g = helper.make_graph(self.nodes, "layer", self.inputs, [],
                              self.inits)
        m = helper.make_model(
            g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 10 if self.opset >= 21 else 8
        inferred = onnx.shape_inference.infer_shapes(m, strict_mode=True)
        infos = {v.name: v for v in inferred.graph.value_info}
        for x in self.outputs:
            m.graph.output.append(infos[x])
        return m


def act_dtype(rng):
    return np.uint8 if rng.random() < 0.6 else np.int8


def weights(g, rng, shape, per_channel=True):
    """DQ(int8 weights), per output channel scales."""
    w = rng.integers(-127, 128, shape).astype(np.int8)
    k = shape[0]
    if per_channel:
        sc = rng.uniform(0.002, 0.02, k).astype(np.float32)
        zp = np.zeros(k, np.int8)
        dq = g.node("DequantizeLinear", [g.const(w, "w"), g.const(sc, "ws"),
                                         g.const(zp, "wz")],
                    {"axis": 0}, s="dqw")
    else:
        sc = np.float32(rng.uniform(0.002, 0.02))
        dq = g.node("DequantizeLinear", [g.const(w, "w"), g.const(sc, "ws"),
                                         g.const(np.array(0, np.int8), "wz")],
                    s="dqw")
    return dq, sc


def bias(g, rng, k, s_x, s_w):
    """An int32 bias at scale s_x * s_w (what quantizers write)."""
    s_b = (np.float32(s_x) * np.asarray(s_w, np.float32)).astype(np.float32)
    b = rng.integers(-20000, 20000, k).astype(np.int32)
    s_b = np.broadcast_to(s_b, (k,)).astype(np.float32).copy()
    return g.node("DequantizeLinear", [g.const(b, "b"), g.const(s_b, "bs"),
                                       g.const(np.zeros(k, np.int32), "bz")],
                  {"axis": 0}, s="dqb")


def scale_of(g, name):
    for t in g.inits:
        if t.name == name:
            return numpy_helper.to_array(t)
    raise KeyError(name)


def activation(g, rng, x):
    r = rng.random()
    if r < 0.35:
        return g.node("Relu", [x]), "relu"
    if r < 0.5:
        lo, hi = (0.0, 6.0) if rng.random() < 0.5 else (-1.0, 1.5)
        return g.node("Clip", [x, g.const(np.float32(lo)),
                               g.const(np.float32(hi))]), "clip"
    return x, ""


def conv_node(g, rng, xd, sx, cfg):
    """The Conv of conv_cfg's cfg on the QDQ tensor xd (scale tensor sx):
    per-channel weights, an int32 bias, cfg's kernel, strides, pads,
    dilations and groups."""
    C, K, k, grp = cfg["C"], cfg["K"], cfg["k"], cfg["group"]
    w, sw = weights(g, rng, [K, C // grp, k, k])
    b = bias(g, rng, K, scale_of(g, sx), sw)
    attrs = {"kernel_shape": [k, k], "strides": [cfg["s"]] * 2,
             "pads": cfg["pads"], "dilations": [cfg["d"]] * 2, "group": grp}
    return g.node("Conv", [xd, w, b], attrs)


def conv_case(rng, cfg):
    g = G(rng)
    N, C, H, W = cfg["N"], cfg["C"], cfg["H"], cfg["W"]
    x = g.input([N, C, H, W])
    dt = act_dtype(rng)
    xd, (sx, _) = g.qdq(x, dt, -2.0, 2.0)
    K, k, grp = cfg["K"], cfg["k"], cfg["group"]
    y = conv_node(g, rng, xd, sx, cfg)
    y, act = activation(g, rng, y)
    yd, yp = g.qdq(y, act_dtype(rng), 0.0 if act else -3.0, 4.0)
    desc = (f"conv N{N} C{C} {H}x{W} K{K} k{k} s{cfg['s']} d{cfg['d']} "
            f"p{cfg['pads']} g{grp} {act}")
    if cfg.get("pool"):
        pk, ps = cfg["pool"]
        op = "MaxPool" if rng.random() < 0.6 else "AveragePool"
        p = g.node(op, [yd], {"kernel_shape": [pk, pk], "strides": [ps, ps]})
        yd = g.requant_dq(p, yp)
        desc += f" +{op}{pk}/{ps}"
    if cfg.get("residual"):
        r = g.input([N, K] + list(cfg["out_hw"]))
        rd, _ = g.qdq(r, np.uint8 if rng.random() < 0.5 else np.int8, -1.0, 3.0)
        a = g.node("Add", [yd, rd] if rng.random() < 0.5 else [rd, yd])
        a, act2 = activation(g, rng, a)
        yd, _ = g.qdq(a, act_dtype(rng), 0.0 if act2 else -4.0, 6.0)
        desc += " +residual add"
    g.output(yd)
    return g, desc


def matmul_case(rng):
    g = G(rng)
    M, K, Nn = (int(rng.integers(1, 40)), int(rng.integers(1, 80)),
                int(rng.integers(1, 70)))
    x = g.input([M, K])
    xd, (sx, _) = g.qdq(x, act_dtype(rng), -2.0, 2.0)
    if rng.random() < 0.5:
        w, sw = weights(g, rng, [Nn, K], per_channel=False)
        b = bias(g, rng, Nn, scale_of(g, sx), sw)
        y = g.node("Gemm", [xd, w, b], {"transB": 1})
        desc = f"gemm {M}x{K}x{Nn}"
    else:
        wt = rng.integers(-127, 128, [K, Nn]).astype(np.int8)
        sw = np.float32(rng.uniform(0.002, 0.02))
        w = g.node("DequantizeLinear", [g.const(wt, "w"), g.const(sw, "ws"),
                                        g.const(np.array(0, np.int8), "wz")],
                   s="dqw")
        y = g.node("MatMul", [xd, w])
        desc = f"matmul {M}x{K}x{Nn}"
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, act_dtype(rng), 0.0 if act else -3.0, 3.0)
    g.output(yd)
    return g, desc + " " + act


def add_case(rng):
    g = G(rng)
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(1, 17)), int(rng.integers(1, 17))]
    a = g.input(shape)
    ad, _ = g.qdq(a, act_dtype(rng), -2.0, 2.0)
    if rng.random() < 0.3:
        bshape = [1, shape[1], 1, 1]
        bq = rng.integers(0, 256, bshape).astype(np.uint8)
        bd = g.node("DequantizeLinear", [g.const(bq, "bc"),
                                         g.const(np.float32(0.01), "bs"),
                                         g.const(np.array(128, np.uint8), "bz")])
        desc = "add (constant per channel)"
    else:
        b = g.input(shape)
        bd, _ = g.qdq(b, act_dtype(rng), -1.0, 3.0)
        desc = "add"
    y = g.node("Add", [ad, bd])
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, act_dtype(rng), 0.0 if act else -3.0, 5.0)
    g.output(yd)
    return g, f"{desc} {shape} {act}"


def pool_case(rng):
    g = G(rng)
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(2, 20)), int(rng.integers(2, 20))]
    x = g.input(shape)
    xd, p = g.qdq(x, act_dtype(rng), -2.0, 2.0)
    r = rng.random()
    if r < 0.2 and shape[2] <= 16 and shape[3] <= 16:
        y = g.node("GlobalAveragePool", [xd])
        desc = "globalaveragepool"
    else:
        op = "MaxPool" if r < 0.65 else "AveragePool"
        k = int(rng.integers(1, min(shape[2], shape[3], 5) + 1))
        s = int(rng.integers(1, 3))
        pad = int(rng.integers(0, min(k - 1, 3) + 1)) if op == "MaxPool" else 0
        y = g.node(op, [xd], {"kernel_shape": [k, k], "strides": [s, s],
                              "pads": [pad] * 4})
        desc = f"{op.lower()} k{k} s{s} p{pad}"
    yd = g.requant_dq(y, p)
    g.output(yd)
    return g, f"{desc} {shape}"


def concat_case(rng):
    g = G(rng)
    n = int(rng.integers(2, 4))
    H, W = int(rng.integers(1, 12)), int(rng.integers(1, 12))
    dt = act_dtype(rng)
    s, z = g.qparams(dt, -2.0, 2.0)
    parts, chans = [], []
    for i in range(n):
        c = 32 * int(rng.integers(1, 3)) if i + 1 < n else int(rng.integers(1, 40))
        x = g.input([1, c, H, W])
        q = g.node("QuantizeLinear", [x, s, z])
        parts.append(g.node("DequantizeLinear", [q, s, z]))
        chans.append(c)
    # A conv in front of the concat keeps it on the device.
    y = g.node("Concat", parts, {"axis": 1})
    q = g.node("QuantizeLinear", [y, s, z])
    yd = g.node("DequantizeLinear", [q, s, z])
    g.output(yd)
    return g, f"concat {chans} {H}x{W}"


def conv_qdq(g, rng, xd, sx, C, K, k, dt, lo=-3.0):
    """A k x k convolution (stride 1, same padding) of a QDQ tensor and its
    output's QDQ."""
    w, sw = weights(g, rng, [K, C, k, k])
    b = bias(g, rng, K, scale_of(g, sx), sw)
    y = g.node("Conv", [xd, w, b], {"kernel_shape": [k, k],
                                    "pads": [k // 2] * 4})
    return g.qdq(y, dt, lo, 4.0)


def split_case(rng):
    """YOLO's C2f: a 1x1 convolution, a channel Split (each part with the
    input's parameters, as ONNX Runtime's quantizer writes it), a 3x3
    convolution of the second part, and the Concat of both parts and its
    result (the parts placed: views at whole channel tiles, or copied)."""
    g = G(rng)
    H, W = int(rng.integers(2, 13)), int(rng.integers(2, 13))
    C = int(rng.choice([8, 16, 24, 32]))
    h = int(rng.choice([8, 16, 24, 32, 48, 64]))
    x = g.input([1, C, H, W])
    dt = act_dtype(rng)
    xd, (sx, _) = g.qdq(x, dt, -2.0, 2.0)
    yd, (sy, zy) = conv_qdq(g, rng, xd, sx, C, 2 * h, 1, dt)
    parts = [g.name("split"), g.name("split")]
    g.nodes.append(helper.make_node(
        "Split", [yd, g.const(np.array([h, h], np.int64), "sp")], parts,
        axis=1))
    pd = [g.requant_dq(p, (sy, zy)) for p in parts]
    zd, _ = conv_qdq(g, rng, pd[1], sy, h, h, 3, dt)
    cat = g.node("Concat", [pd[0], pd[1], zd], {"axis": 1})
    out, _ = g.qdq(cat, dt, -3.0, 4.0)
    g.output(out)
    return g, f"split C{C} -> {h}+{h} {H}x{W}, conv, concat"


def lane_concat_case(rng):
    """Concatenation inside channel tiles: two or three convolutions of one
    input concatenated (parts sharing a tile store their 8-lane groups;
    parts of 3, 5 or 13 channels share a group: a merged run), then a 1x1
    convolution of the result; or YOLO's C2f at 8-channel parts."""
    g = G(rng)
    H, W = int(rng.integers(2, 11)), int(rng.integers(2, 11))
    C = int(rng.choice([8, 16, 24]))
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    xd, (sx, _) = g.qdq(x, dt, -2.0, 2.0)
    ks = [int(rng.choice([8, 16, 24, 40, 3, 5, 13]))
          for _ in range(rng.integers(2, 4))]
    parts, mixed, kinds = [], False, ""
    for k in ks:
        # Some parts in a range of their own, which the Concat's lowering
        # requantizes to its output's (DBNet's FPN: a Requantize of an int8
        # tensor, an identity GEMM).
        own = rng.random() < 0.3
        yd, (sy, _) = conv_qdq(g, rng, xd, sx, C, k, int(rng.choice([1, 3])),
                               dt, lo=-1.0 if own else -3.0)
        parts.append(yd)
        mixed = mixed or own
        kinds += "r" if own else "c"
    cat = g.node("Concat", parts, {"axis": 1})
    cd, _ = g.qdq(cat, dt, -3.0, 4.0)  # (conv_qdq's range: no requantize)
    if mixed:
        # (A part rounded twice, as the QDQ graph says, is a quantum from
        # ORT's float at most; a convolution after it could amplify that.)
        g.output(cd)
        return g, f"concat inside tiles {ks} ({kinds}) of C{C} {H}x{W}"
    K = int(rng.choice([8, 16, 32]))
    out, _ = conv_qdq(g, rng, cd, sy, sum(ks), K, 1, dt)
    g.output(out)
    return g, f"concat inside tiles {ks} of C{C} {H}x{W}, conv K{K}"


def lane_split_read_case(rng):
    """A channel Split at a multiple of 8 whose second part (inside a tile
    at DIM 16 or 32) is read by a max pool, and whose first part is a
    result of the graph: each is copied to a tensor of its own on the NPU
    (an identity GEMM from the part's lanes)."""
    g = G(rng)
    H, W = int(rng.integers(2, 11)), int(rng.integers(2, 11))
    C = int(rng.choice([8, 16, 24]))
    h1, h2 = (int(rng.choice([8, 16, 24, 40])) for _ in range(2))
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    xd, (sx, _) = g.qdq(x, dt, -2.0, 2.0)
    yd, p = conv_qdq(g, rng, xd, sx, C, h1 + h2, 1, dt)
    parts = [g.name("split"), g.name("split")]
    g.nodes.append(helper.make_node(
        "Split", [yd, g.const(np.array([h1, h2], np.int64), "sp")], parts,
        axis=1))
    pd = [g.requant_dq(q, p) for q in parts]
    m = g.node("MaxPool", [pd[1]], {"kernel_shape": [3, 3], "pads": [1] * 4})
    g.output(pd[0])
    g.output(g.requant_dq(m, p))
    return g, f"split C{C} -> {h1}+{h2} {H}x{W}, max pool of the second part"


def upsample_case(rng):
    """An FPN/U-Net neck: a convolution, Resize by 2 or 4 (nearest or bilinear,
    the parameters kept, as ONNX Runtime's quantizer writes it) and the
    Concat with a skip tensor of the upsampled size, or a 3x3 convolution."""
    g = G(rng)
    H, W = int(rng.integers(1, 9)), int(rng.integers(1, 9))
    C = int(rng.choice([8, 16, 32]))
    K = int(rng.choice([8, 16, 24, 32]))
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    xd, (sx, _) = g.qdq(x, dt, -2.0, 2.0)
    yd, yp = conv_qdq(g, rng, xd, sx, C, K, 1, dt)
    mode = "nearest" if rng.random() < 0.6 else "linear"
    f = 2 if rng.random() < 0.8 else 4
    if mode == "nearest":
        # (The last reads floor(X / f) only at some positions: the host's.)
        ctm, nm = [("asymmetric", "floor"), ("half_pixel", "round_prefer_floor"),
                   ("asymmetric", "round_prefer_ceil")][int(rng.integers(0, 3))]
        attrs = {"mode": "nearest", "nearest_mode": nm,
                 "coordinate_transformation_mode": ctm}
        mode = f"nearest {ctm} {nm}"
    else:
        attrs = {"mode": "linear",
                 "coordinate_transformation_mode": "half_pixel"}
    u = g.node("Resize", [yd, "", g.const(np.array([1, 1, f, f], np.float32),
                                          "sc")], attrs)
    ud = g.requant_dq(u, yp)
    if rng.random() < 0.3 and mode != "linear":
        # (The upsampled map straight into a 3x3 convolution. Not after a
        # bilinear Resize: its float QDQ form is a quantum from ONNX
        # Runtime's at ties, docs/quantization.md, which the convolution
        # would carry into several.)
        zd, _ = conv_qdq(g, rng, ud, yp[0], K, 16, 3, dt)
        g.output(zd)
        return g, f"resize {mode} x{f} C{C} K{K} {H}x{W}, conv 3x3"
    skip = g.input([1, 8, f * H, f * W])
    sd, _ = g.qdq(skip, dt, -2.0, 2.0)
    cat = g.node("Concat", [ud, sd], {"axis": 1})
    out, _ = g.qdq(cat, dt, -3.0, 4.0)
    g.output(out)
    return g, f"resize {mode} x{f} C{C} K{K} {H}x{W}, concat"


def resize_case(rng):
    """Upsampling on its own, wider than upsample_case: bilinear Resize by 2,
    4 or 8 (half_pixel, pytorch_half_pixel or asymmetric coordinates; the
    vector engine's upsample) and nearest Resize by 2..8 reading floor(X / f)
    (a store repeating each pixel), over maps up to 64 lines (more than the
    output memory holds: bands of lines) and channel counts across several
    channel tiles, after a 1x1 convolution or straight from the input."""
    g = G(rng)
    bilinear = rng.random() < 0.7
    f = int(rng.choice([2, 2, 4, 8] if bilinear else [2, 3, 4, 8]))
    big = rng.random() < 0.4
    top = max(2, (64 if big else 12) // f)
    low = top // 2 if big else 1
    H, W = int(rng.integers(low, top + 1)), int(rng.integers(low, top + 1))
    C = int(rng.choice([3, 8, 16, 24, 40, 64]))
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    xd, xp = g.qdq(x, dt, float(rng.uniform(-3.0, -0.5)),
                   float(rng.uniform(0.5, 3.0)))
    conv = rng.random() < 0.5
    if conv:
        K = int(rng.choice([8, 16, 24, 40]))
        xd, xp = conv_qdq(g, rng, xd, xp[0], C, K, 1, dt)
        C = K
    if bilinear:
        ctm = str(rng.choice(["half_pixel", "pytorch_half_pixel",
                              "asymmetric"]))
        attrs = {"mode": "linear", "coordinate_transformation_mode": ctm}
        mode = f"linear {ctm}"
    else:
        attrs = {"mode": "nearest", "nearest_mode": "floor",
                 "coordinate_transformation_mode": "asymmetric"}
        mode = "nearest"
    u = g.node("Resize", [xd, "", g.const(np.array([1, 1, f, f], np.float32),
                                          "sc")], attrs)
    g.output(g.requant_dq(u, xp))
    return g, (f"resize {mode} x{f} C{C} {H}x{W}" +
               (" after conv 1x1" if conv else ""))


ACTS = ("HardSwish", "HardSigmoid", "Sigmoid", "Tanh", "LeakyRelu", "SiLU")


def act_case(rng):
    """A convolution, then a QDQ activation the NPU runs as its output
    table: one op (ONNX Runtime's QDQ form, a TableLookup after import) or
    SiLU as Sigmoid, QDQ, then a quantized Mul of x and it (a chain)."""
    g = G(rng)
    g.opset = 14  # HardSwish
    C, K = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    H, W = int(rng.integers(1, 14)), int(rng.integers(1, 14))
    x = g.input([1, C, H, W])
    xd, (sx, _) = g.qdq(x, act_dtype(rng), -2.0, 2.0)
    k = 3 if H >= 3 and W >= 3 and rng.random() < 0.5 else 1
    w, sw = weights(g, rng, [K, C, k, k])
    b = bias(g, rng, K, scale_of(g, sx), sw)
    y = g.node("Conv", [xd, w, b], {"kernel_shape": [k, k],
                                    "pads": [k // 2] * 4})
    yd, _ = g.qdq(y, act_dtype(rng), -4.0, 4.0)
    act = ACTS[int(rng.integers(0, len(ACTS)))]
    if act == "SiLU":
        s = g.node("Sigmoid", [yd])
        sd, _ = g.qdq(s, act_dtype(rng), 0.0, 1.0)
        a = g.node("Mul", [yd, sd])
    elif act == "LeakyRelu":
        a = g.node(act, [yd], {"alpha": float(rng.uniform(0.01, 0.3))})
    else:
        a = g.node(act, [yd])
    ad, _ = g.qdq(a, act_dtype(rng), -1.0, 4.0)
    g.output(ad)
    return g, f"conv C{C} K{K} {H}x{W} k{k} + {act} (output table)"


def mul_case(rng):
    """A quantized Mul of two tensors of one shape, or of a tensor and a
    per-channel [1, C, 1, 1] scale (squeeze-excitation)."""
    g = G(rng)
    shape = [1, int(rng.integers(1, 70)), int(rng.integers(1, 17)),
             int(rng.integers(1, 17))]
    a = g.input(shape)
    ad, _ = g.qdq(a, act_dtype(rng), -2.0, 2.0)
    se = rng.random() < 0.5
    b = g.input([1, shape[1], 1, 1] if se else shape, 0.0, 1.0)
    bd, _ = g.qdq(b, act_dtype(rng), 0.0, 1.0)
    y = g.node("Mul", [ad, bd] if rng.random() < 0.7 else [bd, ad])
    yd, _ = g.qdq(y, act_dtype(rng), -2.0, 2.0)
    g.output(yd)
    return g, f"mul {shape}" + (" x per-channel scale" if se else "")


def wide_dtypes(rng):
    """(input, output) activation types of a 16x8 layer: one of them int16
    at least (an int8 input and an int16 output: the boundary into 16 bits;
    int16 into int8/uint8: the boundary out)."""
    r = rng.random()
    if r < 0.55:
        return np.int16, np.int16
    if r < 0.8:
        return np.int16, act_dtype(rng)
    return act_dtype(rng), np.int16


def wide_conv_case(rng):
    cfg = conv_cfg(rng)
    cfg.pop("pool", None)
    cfg.pop("residual", None)
    g = G(rng)
    g.opset = 21
    N, C, H, W = cfg["N"], cfg["C"], cfg["H"], cfg["W"]
    x = g.input([N, C, H, W])
    dti, dto = wide_dtypes(rng)
    xd, (sx, _) = g.qdq(x, dti, -2.0, 2.0)
    K, k, grp = cfg["K"], cfg["k"], cfg["group"]
    y = conv_node(g, rng, xd, sx, cfg)
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, dto, 0.0 if act else -3.0, 4.0)
    g.output(yd)
    return g, (f"16x8 conv {DTYPE_NAMES[dti]}->{DTYPE_NAMES[dto]} N{N} C{C} {H}x{W} K{K} "
               f"k{k} s{cfg['s']} d{cfg['d']} p{cfg['pads']} g{grp} {act}")


def wide_matmul_case(rng):
    g = G(rng)
    g.opset = 21
    M, K, Nn = (int(rng.integers(1, 40)), int(rng.integers(1, 80)),
                int(rng.integers(1, 70)))
    dti, dto = wide_dtypes(rng)
    x = g.input([M, K])
    xd, (sx, _) = g.qdq(x, dti, -2.0, 2.0)
    w, sw = weights(g, rng, [Nn, K], per_channel=False)
    b = bias(g, rng, Nn, scale_of(g, sx), sw)
    y = g.node("Gemm", [xd, w, b], {"transB": 1})
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, dto, 0.0 if act else -3.0, 3.0)
    g.output(yd)
    return g, f"16x8 gemm {M}x{K}x{Nn} {act}"


def wide_add_case(rng):
    g = G(rng)
    g.opset = 21
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(1, 17)), int(rng.integers(1, 17))]
    ad, _ = g.qdq(g.input(shape), np.int16, -2.0, 2.0)
    bd, _ = g.qdq(g.input(shape), np.int16, -1.0, 3.0)
    y = g.node("Add", [ad, bd])
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, np.int16, 0.0 if act else -3.0, 5.0)
    g.output(yd)
    return g, f"16x8 add {shape} {act}"


def wide_case(rng):
    r = rng.random()
    if r < 0.6:
        return wide_conv_case(rng)
    if r < 0.8:
        return wide_matmul_case(rng)
    return wide_add_case(rng)


def wide_pool_case(rng):
    """16-bit pooling: max and average (padding counted or not) on the
    stored int16 values, and global means with new output parameters
    (Cast -> ReduceSum in int64 -> Requantize of the int64)."""
    g = G(rng)
    g.opset = 21
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(2, 20)), int(rng.integers(2, 20))]
    xd, p = g.qdq(g.input(shape), np.int16, -2.0, 2.0)
    r = rng.random()
    if r < 0.3:
        op = "GlobalAveragePool" if rng.random() < 0.5 else "ReduceMean"
        ins = [xd] if op == "GlobalAveragePool" else [
            xd, g.const(np.array([2, 3], np.int64), "axes")]
        y = g.node(op, ins, {} if op == "GlobalAveragePool"
                   else {"keepdims": 1})
        dto = np.int16 if rng.random() < 0.7 else act_dtype(rng)
        yd, _ = g.qdq(y, dto, -1.0, 1.5)
        g.output(yd)
        return g, f"16x8 mean {op} {shape} ->{DTYPE_NAMES[dto]}"
    op = "MaxPool" if r < 0.65 else "AveragePool"
    k = int(rng.integers(1, min(shape[2], shape[3], 5) + 1))
    s = int(rng.integers(1, 3))
    pad = int(rng.integers(0, min(k - 1, 3) + 1))
    attrs = {"kernel_shape": [k, k], "strides": [s, s], "pads": [pad] * 4}
    if op == "AveragePool" and pad and rng.random() < 0.5:
        attrs["count_include_pad"] = 1
    y = g.node(op, [xd], attrs)
    g.output(g.requant_dq(y, p))
    return g, f"16x8 {op.lower()} k{k} s{s} p{pad} {shape}"


def wide_mixed_add_case(rng):
    """An add at a precision boundary: one side 8-bit (a tensor, or a
    per-channel constant as a classifier's bias), the other int16, into
    int16 or 8 bits; or two 8-bit sides into int16."""
    g = G(rng)
    g.opset = 21
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(1, 17)), int(rng.integers(1, 17))]
    if rng.random() < 0.2:
        shape = [int(rng.integers(1, 4)), int(rng.integers(1, 200))]
    r = rng.random()
    dta, dtb = (np.int16, act_dtype(rng)) if r < 0.75 else (
        act_dtype(rng), act_dtype(rng))
    dty = np.int16 if r >= 0.75 or rng.random() < 0.6 else act_dtype(rng)
    ad, _ = g.qdq(g.input(shape), dta, -2.0, 2.0)
    if rng.random() < 0.3:
        bshape = [1, shape[1], 1, 1] if len(shape) == 4 else [shape[1]]
        bq = rng.integers(0, 256, bshape).astype(np.uint8)
        bd = g.node("DequantizeLinear", [g.const(bq, "bc"),
                                         g.const(np.float32(0.01), "bs"),
                                         g.const(np.array(128, np.uint8),
                                                 "bz")])
        dtb, desc = np.uint8, "constant per channel"
    else:
        bd, _ = g.qdq(g.input(shape), dtb, -1.0, 3.0)
        desc = "tensor"
    y = g.node("Add", [ad, bd] if rng.random() < 0.6 else [bd, ad])
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, dty, 0.0 if act else -3.0, 5.0)
    g.output(yd)
    return g, (f"16x8 add {DTYPE_NAMES[dta]}+{DTYPE_NAMES[dtb]}->{DTYPE_NAMES[dty]} ({desc}) "
               f"{shape} {act}")


def wide_mul_case(rng):
    """A 16-bit multiply: two int16 tensors of one shape, or an int16 map
    and its per-channel [1, C, 1, 1] scale (8 or 16 bits), into int16 or
    8 bits."""
    g = G(rng)
    g.opset = 21
    shape = [1, int(rng.integers(1, 70)), int(rng.integers(1, 17)),
             int(rng.integers(1, 17))]
    ad, _ = g.qdq(g.input(shape), np.int16, -2.0, 2.0)
    se = rng.random() < 0.6
    dtb = np.int16 if rng.random() < 0.5 else act_dtype(rng)
    b = g.input([1, shape[1], 1, 1] if se else shape, 0.0, 1.0)
    bd, _ = g.qdq(b, dtb, 0.0, 1.0)
    dty = np.int16 if rng.random() < 0.7 else act_dtype(rng)
    y = g.node("Mul", [ad, bd] if rng.random() < 0.7 else [bd, ad])
    yd, _ = g.qdq(y, dty, -2.0, 2.0)
    g.output(yd)
    return g, (f"16x8 mul i16x{DTYPE_NAMES[dtb]}->{DTYPE_NAMES[dty]} {shape}" +
               (" x per-channel scale" if se else ""))


def wide_convert_case(rng):
    """A conversion on its own (docs/quantization.md, "Conversions at a
    precision boundary"): int16 to int16 at another scale, 8 bits into
    int16 or int16 into 8 bits, as a Concat's inputs or a boundary have."""
    g = G(rng)
    g.opset = 21
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(1, 17)), int(rng.integers(1, 17))]
    r = rng.random()
    dti, dto = ((np.int16, np.int16) if r < 0.4 else
                (act_dtype(rng), np.int16) if r < 0.7 else
                (np.int16, act_dtype(rng)))
    # (The lowering writes a conversion where a Concat's inputs come to
    # one scale: a Concat of the converted input and a tensor already at
    # the output's parameters; the first input whole channel tiles at every
    # array size.)
    first = rng.random() < 0.5
    C1, C2 = 32 * int(rng.integers(1, 3)), int(rng.integers(1, 40))
    shape[1] = C1 if first else C2
    xd, _ = g.qdq(g.input(shape), dti, -2.0, 2.0)
    od, p = g.qdq(g.input(shape[:1] + [C2 if first else C1] + shape[2:]), dto,
                  float(rng.uniform(-3.0, -0.5)), float(rng.uniform(0.5, 3.0)))
    y = g.node("Concat", [xd, od] if first else [od, xd], {"axis": 1})
    g.output(g.requant_dq(y, p))
    return g, f"16x8 convert {DTYPE_NAMES[dti]}->{DTYPE_NAMES[dto]} {shape} concat"


def wide_case2(rng):
    """The 16x8 forms beyond convolutions, MatMuls and int16 adds."""
    r = rng.random()
    if r < 0.35:
        return wide_pool_case(rng)
    if r < 0.6:
        return wide_mixed_add_case(rng)
    if r < 0.8:
        return wide_mul_case(rng)
    return wide_convert_case(rng)


def wide_clamp_case(rng):
    """An int16 clamp on its own between Q/DQ (a Clip or a Relu, bounds
    inside, across or beyond the range), after a global mean (as in
    MobileNetV2 and ResNet-8) or a QDQ input, at the same or another
    int16 scale (an upper bound beyond it saturates) or into 8 bits: a
    clamp of the stored integers."""
    g = G(rng)
    g.opset = 21
    shape = [int(rng.integers(1, 3)), int(rng.integers(1, 70)),
             int(rng.integers(1, 17)), int(rng.integers(1, 17))]
    xd, p = g.qdq(g.input(shape, -3.0, 3.0), np.int16, -3.0, 3.0)
    mean = rng.random() < 0.4
    if mean:
        xd, p = g.qdq(g.node("GlobalAveragePool", [xd]), np.int16, -1.5, 1.5)
    if rng.random() < 0.3:
        c, what = g.node("Relu", [xd]), "relu"
    else:
        # (A lower bound inside both ranges: a clamp that no value reaches
        # at equal parameters is no op, and the case would run no layer.)
        lo = float(rng.choice([0.0, rng.uniform(-1.4, 0.5)]))
        hi = float(rng.choice([6.0, rng.uniform(0.6, 4.0)]))
        c = g.node("Clip", [xd, g.const(np.float32(lo), "lo"),
                            g.const(np.float32(hi), "hi")])
        what = f"clip [{lo:.2f}, {hi:.2f}]"
    r = rng.random()
    if r < 0.5:
        dto, y = np.int16, g.requant_dq(c, p)
    else:
        dto = np.int16 if r < 0.8 else act_dtype(rng)
        y, _ = g.qdq(c, dto, float(rng.uniform(-3.0, -0.5)),
                     float(rng.uniform(0.5, 4.0)))
    g.output(y)
    return g, (f"16x8 {what} {shape}{' after mean' if mean else ''} "
               f"->{DTYPE_NAMES[dto]}{' same params' if r < 0.5 else ''}")


# Transposed convolutions the NPU runs as phase layers (docs/npu-backend.md,
# "Transposed convolutions"): (kernel, stride, pads, output_padding).
CONVT = ((2, 2, 0, 0), (4, 2, 1, 0), (3, 2, 1, 1), (4, 2, 0, 0),
         (5, 2, 2, 1), (2, 2, 0, 0), (4, 2, 1, 0), (3, 3, 0, 0),
         (4, 4, 0, 0), (6, 3, 0, 0))


CONVT_FIXED = 24
WIDE4_FIXED = 12


def convt_output(g, y, dt, act, gain):
    """A transposed convolution's result `y` quantized as the graph's
    output: through a Sigmoid (an output table) when `act` is "sigmoid",
    else at [0, span] after a Relu/Clip or [-span, span] with none, span
    1.5 times `gain` (the root of the taps summed per output pixel)."""
    span = gain * 1.5
    if act == "sigmoid":
        yd, _ = g.qdq(y, dt, -span, span)
        y = g.node("Sigmoid", [yd])
        yd, _ = g.qdq(y, dt, 0.0, 1.0)
    else:
        yd, _ = g.qdq(y, dt, 0.0 if act else -span, span)
    g.output(yd)


def convt_case(rng):
    """A QDQ ConvTranspose as ONNX Runtime's quantizer writes it (weights
    [C, K / group, k, k] per output channel on axis 1, an int32 bias), with
    Relu, Clip or a Sigmoid (an output table) after, over maps up to 40
    pixels wide and channel counts across several channel tiles; a quarter
    grouped (depthwise with a channel multiplier of 1 or 2, or 2 groups)."""
    g = G(rng)
    k, s, p, op = CONVT[int(rng.integers(len(CONVT)))]
    big = rng.random() < 0.3
    H, W = (int(rng.integers(2, 41 if big else 11)) for _ in range(2))
    C = int(rng.choice([3, 8, 16, 24, 40]))
    K = int(rng.choice([1, 8, 16, 24, 40]))
    grp = 1
    if rng.random() < 0.25:
        C = int(rng.choice([8, 16, 24]))
        grp = C if rng.random() < 0.6 else 2
        K = C * int(rng.choice([1, 2]))
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    xd, xp = g.qdq(x, dt, float(rng.uniform(-3.0, -0.5)),
                   float(rng.uniform(0.5, 3.0)))
    w = rng.integers(-127, 128, (C, K // grp, k, k)).astype(np.int8)
    sw = rng.uniform(0.002, 0.02, K // grp).astype(np.float32)
    wd = g.node("DequantizeLinear", [g.const(w, "w"), g.const(sw, "ws"),
                                     g.const(np.zeros(K // grp, np.int8),
                                             "wz")],
                {"axis": 1}, s="dqw")
    sx = float(scale_of(g, xp[0]))
    # (Output channel o of group o // (K / group) has W's scale o % (K /
    # group).)
    b = bias(g, rng, K, sx, np.tile(sw, grp))
    attrs = {"kernel_shape": [k, k], "strides": [s, s],
             "pads": [p, p, p, p], "group": grp}
    if op:
        attrs["output_padding"] = [op, op]
    y = g.node("ConvTranspose", [xd, wd, b], attrs)
    r = rng.random()
    act = "relu" if r < 0.4 else "clip" if r < 0.6 else "sigmoid" \
        if r < 0.8 else ""
    if act == "relu":
        y = g.node("Relu", [y])
    elif act == "clip":
        y = g.node("Clip", [y, g.const(np.float32(0.0)),
                            g.const(np.float32(6.0))])
    convt_output(g, y, dt, act, float(np.sqrt(C / grp * k * k / (s * s))))
    return g, (f"convtranspose k{k} s{s} p{p} op{op} C{C} K{K} {H}x{W}" +
               (f" group {grp}" if grp > 1 else "") +
               (f" {act}" if act else ""))


# Transposed convolutions of the general form (docs/quantization.md,
# "ConvTranspose"): (kernel, strides, dilations, pads, output_padding,
# output_shape as the result minus s*H x s*W, auto_pad): odd results
# (phases of two sizes, cropped), output_shape beyond the full result
# (bias-only pixels) or within it, auto_pad, kernels shorter than the
# stride (phases no tap reaches), dilation, strides of their own per axis,
# pads beyond a phase's taps.
CONVT2 = (((2, 2), (2, 2), (1, 1), (0, 0, 0, 0), (1, 1), None, None),
          ((3, 3), (2, 2), (1, 1), None, None, (2, 2), "VALID"),
          ((3, 3), (2, 2), (1, 1), None, None, (1, 0), None),
          ((3, 3), (2, 2), (1, 1), None, None, (0, 0), "SAME_UPPER"),
          ((4, 4), (3, 3), (1, 1), None, None, (0, 0), "SAME_LOWER"),
          ((1, 1), (2, 2), (1, 1), (0, 0, 0, 0), None, None, None),
          ((2, 2), (3, 3), (1, 1), (0, 1, 0, 1), (2, 1), None, None),
          ((3, 3), (2, 2), (2, 2), (1, 1, 1, 1), None, None, None),
          ((3, 3), (3, 3), (2, 2), (0, 0, 0, 0), None, None, None),
          ((3, 1), (2, 1), (1, 1), (1, 0, 1, 0), (1, 0), None, None),
          ((4, 3), (2, 3), (1, 1), (1, 0, 2, 1), None, None, None),
          ((4, 4), (2, 2), (1, 1), (3, 3, 2, 2), (1, 1), None, None),
          ((5, 5), (4, 2), (1, 1), (0, 0, 0, 0), (3, 1), None, None))


def convt_general_case(rng, j):
    """The j-th QDQ ConvTranspose of the general form (CONVT2 in turn),
    per-channel weights on axis 1 as convt_case, a Sigmoid (an output
    table), a Relu or nothing after, a fifth grouped."""
    g = G(rng)
    k, st, dl, p, op, osz, ap = CONVT2[j % len(CONVT2)]
    H, W = (int(rng.integers(2, 25)) for _ in range(2))
    C = int(rng.choice([3, 8, 16, 24]))
    K = int(rng.choice([1, 8, 16, 24]))
    grp = 1
    if rng.random() < 0.2:
        C = int(rng.choice([8, 16]))
        grp = C if rng.random() < 0.5 else 2
        K = C
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    xd, xp = g.qdq(x, dt, float(rng.uniform(-3.0, -0.5)),
                   float(rng.uniform(0.5, 3.0)))
    w = rng.integers(-127, 128, (C, K // grp) + k).astype(np.int8)
    sw = rng.uniform(0.002, 0.02, K // grp).astype(np.float32)
    wd = g.node("DequantizeLinear", [g.const(w, "w"), g.const(sw, "ws"),
                                     g.const(np.zeros(K // grp, np.int8),
                                             "wz")],
                {"axis": 1}, s="dqw")
    b = bias(g, rng, K, float(scale_of(g, xp[0])), np.tile(sw, grp))
    attrs = {"kernel_shape": list(k), "strides": list(st), "group": grp}
    if dl != (1, 1):
        attrs["dilations"] = list(dl)
    if p is not None:
        attrs["pads"] = list(p)
    if op is not None:
        attrs["output_padding"] = list(op)
    if osz is not None:
        attrs["output_shape"] = [st[0] * H + osz[0], st[1] * W + osz[1]]
    if ap is not None:
        attrs["auto_pad"] = ap
    y = g.node("ConvTranspose", [xd, wd, b], attrs)
    # In turn a Sigmoid (each phase's output table, the phases no tap
    # reaches included), a Relu, nothing.
    act = ("sigmoid", "relu", "")[j % 3]
    if act == "relu":
        y = g.node("Relu", [y])
    convt_output(g, y, dt, act,
                 float(np.sqrt(C / grp * k[0] * k[1] / (st[0] * st[1]))))
    return g, (f"convtranspose k{k[0]}x{k[1]} s{st[0]}x{st[1]}" +
               (f" d{dl[0]}x{dl[1]}" if dl != (1, 1) else "") +
               (f" pads {','.join(map(str, p))}" if p is not None else "") +
               (f" op{op[0]}x{op[1]}" if op is not None else "") +
               (f" output_shape {attrs['output_shape'][0]}x"
                f"{attrs['output_shape'][1]}" if osz is not None else "") +
               (f" {ap}" if ap is not None else "") +
               f" C{C} K{K} {H}x{W}" +
               (f" group {grp}" if grp > 1 else "") + (f" {act}" if act else ""))


def wide_pooled_case(rng):
    """A 16x8 convolution into 8 bits with a max or average pool after it,
    which the layer fuses (the pool on its requantized 8-bit rows): of a
    channel-poor int16 input (read as patches, the layer one of lines) or a
    wider one, strided or not."""
    g = G(rng)
    g.opset = 21
    C = int(rng.integers(1, 5)) if rng.random() < 0.5 else int(rng.integers(5, 40))
    H, W = int(rng.integers(6, 20)), int(rng.integers(6, 20))
    K, k, s = int(rng.integers(1, 40)), int(rng.choice([3, 5])), int(rng.integers(1, 3))
    xd, (sx, _) = g.qdq(g.input([1, C, H, W]), np.int16, -2.0, 2.0)
    w, sw = weights(g, rng, [K, C, k, k])
    b = bias(g, rng, K, scale_of(g, sx), sw)
    y = g.node("Conv", [xd, w, b], {"kernel_shape": [k, k], "strides": [s, s],
                                    "pads": [k // 2] * 4})
    y, act = activation(g, rng, y)
    dt = act_dtype(rng)
    yd, yp = g.qdq(y, dt, 0.0 if act else -3.0, 4.0)
    OH, OW = (H - 1) // s + 1, (W - 1) // s + 1
    pk = int(rng.integers(2, min(OH, OW, 3) + 1))
    ps = int(rng.integers(1, pk + 1))
    op = "MaxPool" if rng.random() < 0.6 else "AveragePool"
    pooled = g.node(op, [yd], {"kernel_shape": [pk, pk], "strides": [ps, ps]})
    g.output(g.requant_dq(pooled, yp))
    return g, (f"16x8 conv C{C} {H}x{W} K{K} k{k} s{s} {act} ->"
               f"{DTYPE_NAMES[dt]} +{op}{pk}/{ps}")


def wide_fused_case(rng):
    """The 16-bit forms the NPU fuses or keeps on chip: a 16x8 convolution
    whose int16 result is summed with another int16 map into int16 (the
    add in the layer), two 16x8 convolutions through an int16 tensor small
    enough to stay in OUT, or a 16x8 convolution into a global mean
    requantized to 8 bits with a Clip between two 8-bit tensors after it
    (the output table of a 16-bit layer)."""
    g = G(rng)
    g.opset = 21
    C, H = int(rng.integers(1, 48)), int(rng.integers(2, 12))
    K, k = int(rng.integers(1, 48)), int(rng.choice([1, 3]))
    # (an 8-bit input: the first layer is an int8 one writing int16)
    din = np.int16 if rng.random() < 0.75 else act_dtype(rng)
    xd, (sx, _) = g.qdq(g.input([1, C, H, H]), din, -2.0, 2.0)
    r = rng.random()
    if r < 0.4:
        yd, _ = conv_qdq(g, rng, xd, sx, C, K, k, np.int16)
        rd, _ = g.qdq(g.input([1, K, H, H]), np.int16, -1.0, 3.0)
        a = g.node("Add", [yd, rd] if rng.random() < 0.5 else [rd, yd])
        a, act = activation(g, rng, a)
        out, _ = g.qdq(a, np.int16, 0.0 if act else -4.0, 6.0)
        what = f"conv k{k} + int16 add {act}"
    elif r < 0.7:
        yd, (sy, _) = conv_qdq(g, rng, xd, sx, C, K, k, np.int16)
        K2 = int(rng.integers(1, 48))
        # (into 8 bits: ONNX Runtime computes each 16-bit layer in float,
        # so an int16 result of two 16x8 layers can be 2 quanta from it)
        out, _ = conv_qdq(g, rng, yd, sy, K, K2, int(rng.choice([1, 3])),
                          act_dtype(rng))
        what = f"conv k{k} -> int16 -> conv K{K2}"
    else:
        w, sw = weights(g, rng, [K, C, k, k])
        b = bias(g, rng, K, scale_of(g, sx), sw)
        y = g.node("Conv", [xd, w, b], {"kernel_shape": [k, k],
                                        "pads": [k // 2] * 4})
        y = g.node("Clip", [y, g.const(np.float32(0.0), "lo"),
                            g.const(np.float32(6.0), "hi")])
        yd, _ = g.qdq(y, np.int16, 0.0, 6.0)
        dt = act_dtype(rng)
        # (the result's quantum no finer than the mean's: ONNX Runtime's
        # float mean may round one quantum the other way)
        md, _ = g.qdq(g.node("GlobalAveragePool", [yd]), dt, 0.0, 1.0)
        hi = float(rng.uniform(0.5, 2.0))
        c = g.node("Clip", [md, g.const(np.float32(0.0), "lo"),
                            g.const(np.float32(hi), "hi")])
        out, _ = g.qdq(c, dt, 0.0, max(hi, 1.0))
        what = f"conv k{k} -> int16 -> mean -> clip {hi:.2f}"
    g.output(out)
    return g, f"16x8 fused {DTYPE_NAMES[din]} C{C} K{K} {H}x{H}: {what}"


def shuffle_case(rng):
    """ShuffleNet's channel shuffle of g groups as ONNX Runtime's quantizer
    writes it (Reshape [N, g, C/g, H, W] -> Transpose [0, 2, 1, 3, 4] ->
    Reshape [N, C, H, W], a QDQ pair with the input's parameters after
    each): of a grouped 1x1 convolution (the layer the NPU folds it into),
    of a pool or of a convolution another node also reads (a GEMM of 0/1
    weights), then a depthwise 3x3 convolution, nothing, or ShuffleNet's
    stride-2 unit's Concat with an average pool of the input (at channel
    offsets that lie inside channel tiles at some DIM)."""
    g = G(rng)
    H, W = int(rng.integers(2, 12)), int(rng.integers(2, 12))
    grp = int(rng.choice([2, 3, 4, 8]))
    after = rng.random()
    cat = after < 0.3
    # (A Concat inside tiles needs its inputs at multiples of 8 channels.)
    K = grp * int(rng.choice([m for m in range(1, 13)
                              if grp * m >= 4 and (not cat or grp * m % 8 == 0)]))
    C = 8 * int(rng.integers(1, 4)) if cat else grp * int(rng.integers(1, 4))
    dt = act_dtype(rng)
    x = g.input([1, C, H, W])
    # (With a Concat, every tensor in one range: no requantization between
    # the shuffle, the pool and the Concat.)
    lo = -3.0 if cat else -2.0
    xd, xp = g.qdq(x, dt, lo, 4.0 if cat else 2.0)
    sx = xp[0]
    r = rng.random()
    if r < 0.55:
        kind = "grouped conv"
        cfg = {"C": C, "K": K, "k": 1, "group": grp if C % grp == 0 else 1,
               "s": 1, "pads": [0] * 4, "d": 1}
        y = conv_node(g, rng, xd, sx, cfg)
        if not cat:
            y, _ = activation(g, rng, y)
        yd, p = g.qdq(y, dt, 0.0 if r < 0.3 and not cat else -3.0, 4.0)
        src = yd
    else:
        # (A convolution in front keeps the pool on the device.)
        cd, p = conv_qdq(g, rng, xd, sx, C, K, int(rng.choice([1, 3])), dt)
        if r < 0.8:
            kind = "pool"
            m = g.node("MaxPool", [cd], {"kernel_shape": [3, 3],
                                         "pads": [1] * 4})
            src = g.requant_dq(m, p)
        else:
            kind = "shared conv"
            g.output(cd)
            src = cd
    sh = g.node("Reshape", [src, g.const(np.array([1, grp, K // grp, H, W],
                                                  np.int64), "sh")])
    sh = g.requant_dq(sh, p)
    tr = g.node("Transpose", [sh], {"perm": [0, 2, 1, 3, 4]})
    tr = g.requant_dq(tr, p)
    out = g.node("Reshape", [tr, g.const(np.array([1, K, H, W], np.int64),
                                         "sh")])
    out = g.requant_dq(out, p)
    tail = ""
    if cat:
        tail = ", concat with avgpool"
        pool = g.node("AveragePool", [xd], {"kernel_shape": [3, 3],
                                             "pads": [1] * 4,
                                             "count_include_pad": 0})
        pd = g.requant_dq(pool, xp)
        out = g.requant_dq(g.node("Concat", [out, pd], {"axis": 1}), xp)
    elif after < 0.65:
        tail = ", depthwise conv"
        w, sw = weights(g, rng, [K, 1, 3, 3])
        b = bias(g, rng, K, scale_of(g, p[0]), sw)
        y = g.node("Conv", [out, w, b], {"kernel_shape": [3, 3],
                                         "pads": [1] * 4, "group": K})
        out, _ = g.qdq(y, dt, -3.0, 4.0)
    g.output(out)
    return g, f"shuffle g{grp} of a {kind} C{C} K{K} {H}x{W}{tail}"


def bands_case(rng):
    """A convolution whose output line does not fit the NPU's memories whole
    (its kernel's input lines over half of the activation memory, or a line
    wider than a load's): it runs in column bands. Kernels 1 to 7 (1x1
    strided), strides 1 to 4, pads up to 3 per side (asymmetric too),
    dilation 2, a quarter depthwise and a tenth grouped, 400 to 1400 pixels
    wide (1x1: over 1023); a fifth with a residual add (fused, loaded in
    bands too)."""
    # (Up to 7: an 11x11 kernel's weights for one channel tile exceed half
    # of the weight memory at DIM 32, which refuses it for that; the unit
    # test covers 11x11 in bands at DIM 16.)
    k = int(rng.choice([1, 3, 3, 5, 7, 7]))
    s = int(rng.integers(2, 5)) if k == 1 else int(rng.integers(1, 5))
    d = 2 if k in (3, 5) and rng.random() < 0.2 else 1
    ek = (k - 1) * d + 1
    pads = [int(rng.integers(0, min(3, k - 1) + 1)) for _ in range(4)]
    if rng.random() < 0.6:
        pads = [pads[0]] * 4
    mode = rng.random()
    C = int(rng.choice([3, 8, 16, 24]))
    if mode < 0.25:  # depthwise
        C = int(rng.choice([8, 16, 24]))
        group, K = C, C
    elif mode < 0.35:
        group = 2
        C, K = 2 * int(rng.integers(2, 9)), 2 * int(rng.integers(2, 9))
    else:
        group, K = 1, int(rng.choice([8, 16, 20, 40]))
    H = max(1, ek - pads[0] - pads[2]) + int(rng.integers(0, 5))
    # (Wide enough that the kernel's lines of the padded width are over
    # half of the activation memory at DIM 16, or a 1x1's line over a load's.)
    W = int(rng.integers(1024 if k == 1 else max(400, 2100 // ek), 1401))
    OH = (H + pads[0] + pads[2] - ek) // s + 1
    OW = (W + pads[1] + pads[3] - ek) // s + 1
    cfg = {"N": 1, "C": C, "H": H, "W": W, "K": K, "k": k, "s": s, "d": d,
           "pads": pads, "group": group, "out_hw": [OH, OW]}
    if rng.random() < 0.2:
        cfg["residual"] = True
    g, desc = conv_case(rng, cfg)
    return g, "bands " + desc


def pools2_case(rng):
    """A max or average pool on its own whose strides differ per axis (CRNN's
    2x1 and 1x2, up to 3x1 and 1x3: one POOL per output line), or whose
    output line's window lines do not fit the output memory (400 to 1400
    pixels wide: column bands), or both; pads up to 2 below the kernel (an
    average with them excludes the padded taps), u8 or i8."""
    g = G(rng)
    wide = rng.random() < 0.5
    kh, kw = int(rng.integers(1, 5)), int(rng.integers(1, 5))
    sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if not wide or rng.random() < 0.5:
        while sh == sw:  # strides of their own
            sh, sw = int(rng.integers(1, 4)), int(rng.integers(1, 4))
    if kh == 1 and wide:
        kh = 2
    H = int(rng.integers(max(2, kh), 9 if wide else 24))
    W = int(rng.integers(400, 1401)) if wide else int(rng.integers(max(2, kw), 40))
    shape = [1, int(rng.choice([1, 8, 16, 24, 40])), H, W]
    x = g.input(shape)
    xd, p = g.qdq(x, act_dtype(rng), -2.0, 2.0)
    op = "MaxPool" if rng.random() < 0.55 else "AveragePool"
    pads = [0, 0, 0, 0]
    if rng.random() < 0.5:
        ph, pw = (int(rng.integers(0, min(kh - 1, 2) + 1)),
                  int(rng.integers(0, min(kw - 1, 2) + 1)))
        pads = [ph, pw, ph, pw]
    attrs = {"kernel_shape": [kh, kw], "strides": [sh, sw], "pads": pads}
    if op == "AveragePool":
        attrs["count_include_pad"] = 0
    y = g.node(op, [xd], attrs)
    yd = g.requant_dq(y, p)
    g.output(yd)
    return g, (f"pools2 {op.lower()} k{kh}x{kw} s{sh}x{sw} p{pads[0]},"
               f"{pads[1]} {shape}")


def pads_case(rng):
    """A convolution padded beyond the loads' fields (pads 4 to 8 on a side,
    some sides 0 to 3): identity layers store its input with the extra
    padding first. Kernels 1 to 7 (a 9x9 kernel's weights exceed half of
    the weight memory at DIM 32), strides 1 and 2, dilation 2 now and then,
    input zero points away from 0 (uint8 and int8), a quarter depthwise and a
    tenth grouped, a fifth 16x8 (an int16 input). A quarter are max pools
    and average pools counting their padding instead (windows 5 to 9, pads
    4 up to the window less one)."""
    if rng.random() < 0.25:
        return pads_pool_case(rng)
    k = int(rng.choice([1, 3, 3, 5, 7]))
    s = int(rng.integers(1, 3))
    d = 2 if k in (3, 5) and rng.random() < 0.2 else 1
    big = int(rng.integers(4, 9))
    if rng.random() < 0.5:
        pads = [big] * 4
    else:
        pads = [int(rng.integers(0, 9)) for _ in range(4)]
        pads[int(rng.integers(0, 4))] = big
    mode = rng.random()
    C = int(rng.choice([1, 3, 8, 16, 20]))
    if mode < 0.25:  # depthwise
        group, K = C, C * int(rng.choice([1, 1, 2]))
    elif mode < 0.35:
        group = 2
        C, K = 2 * int(rng.integers(1, 9)), 2 * int(rng.integers(1, 9))
    else:
        group, K = 1, int(rng.choice([3, 8, 16, 24]))
    H, W = int(rng.integers(1, 13)), int(rng.integers(1, 21))
    ek = (k - 1) * d + 1
    H = max(H, ek - pads[0] - pads[2])
    W = max(W, ek - pads[1] - pads[3])
    cfg = {"N": 1, "C": C, "H": H, "W": W, "K": K, "k": k, "s": s, "d": d,
           "pads": pads, "group": group}
    g = G(rng)
    wide = rng.random() < 0.2
    if wide:
        g.opset = 21
        dti, dto = np.int16, (np.int16 if rng.random() < 0.6
                              else act_dtype(rng))
    else:
        dti, dto = act_dtype(rng), act_dtype(rng)
    # An input range off centre: the zero point (the padding) is not 0.
    xd, (sx, _) = g.qdq(g.input([1, C, H, W]), dti, -1.0, 3.0)
    y = conv_node(g, rng, xd, sx, cfg)
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, dto, 0.0 if act else -3.0, 4.0)
    g.output(yd)
    return g, (f"pads conv {DTYPE_NAMES[dti]}->{DTYPE_NAMES[dto]} C{C} {H}x{W} K{K} k{k} "
               f"s{s} d{d} p{pads} g{group} {act}")


def pads_pool_case(rng):
    k = int(rng.integers(5, 10))
    s = int(rng.integers(1, 3))
    pads = [int(rng.integers(0, k)) for _ in range(4)]
    pads[int(rng.integers(0, 4))] = int(rng.integers(4, k))
    C = int(rng.choice([1, 8, 16, 24]))
    H = max(int(rng.integers(1, 13)), k - pads[0] - pads[2])
    W = max(int(rng.integers(1, 21)), k - pads[1] - pads[3])
    g = G(rng)
    wide = rng.random() < 0.2
    if wide:
        g.opset = 21
    dt = np.int16 if wide else act_dtype(rng)
    xd, p = g.qdq(g.input([1, C, H, W]), dt, -1.0, 3.0)
    op = "MaxPool" if rng.random() < 0.6 else "AveragePool"
    attrs = {"kernel_shape": [k, k], "strides": [s, s], "pads": pads}
    if op == "AveragePool":
        attrs["count_include_pad"] = 1
    yd = g.requant_dq(g.node(op, [xd], attrs), p)
    g.output(yd)
    return g, f"pads {op.lower()} {DTYPE_NAMES[dt]} C{C} {H}x{W} k{k} s{s} p{pads}"


def conv_cfg(rng):
    k = int(rng.integers(1, 8))
    s = int(rng.integers(1, 3))
    d = 1 if k == 1 or rng.random() < 0.8 else 2
    ek = (k - 1) * d + 1
    pads = [int(rng.integers(0, min(3, k - 1) + 1)) for _ in range(4)]
    if rng.random() < 0.6:
        pads = [pads[0]] * 4
    mode = rng.random()
    C = int(rng.integers(1, 50))
    if mode < 0.25:  # depthwise
        group, K = C, C * int(rng.integers(1, 3))
    elif mode < 0.35:
        group = int(rng.integers(2, 4))
        C = group * int(rng.integers(1, 12))
        K = group * int(rng.integers(1, 12))
    else:
        group, K = 1, int(rng.integers(1, 50))
    H = int(rng.integers(max(1, ek - pads[0] - pads[2]), 24))
    W = int(rng.integers(max(1, ek - pads[1] - pads[3]), 24))
    OH = (H + pads[0] + pads[2] - ek) // s + 1
    OW = (W + pads[1] + pads[3] - ek) // s + 1
    cfg = {"N": int(rng.integers(1, 3)), "C": C, "H": H, "W": W, "K": K,
           "k": k, "s": s, "d": d, "pads": pads, "group": group,
           "out_hw": [OH, OW]}
    r = rng.random()
    if r < 0.15 and OH >= 2 and OW >= 2:
        pk = int(rng.integers(2, min(OH, OW, 3) + 1))
        cfg["pool"] = (pk, int(rng.integers(1, pk + 1)))
    elif r < 0.3:
        cfg["residual"] = True
    return cfg


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--count", type=int, default=320)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--extra", type=int, default=48,
                    help="cases of the output table and the multiply, after "
                         "the others (their own seed: the others unchanged)")
    ap.add_argument("--placement", type=int, default=24,
                    help="Split/Concat and Resize cases, after those (their "
                         "own seed)")
    ap.add_argument("--wide", type=int, default=48,
                    help="16x8 cases (int16 activations), after those, with "
                         "a seed of their own")
    ap.add_argument("--resize", type=int, default=32,
                    help="upsampling cases (resize_case), after those, with "
                         "a seed of their own")
    ap.add_argument("--wide2", type=int, default=64,
                    help="16x8 pooling, mean, mixed-width add, multiply and "
                         "conversion cases, after those, with a seed of "
                         "their own")
    ap.add_argument("--lanes", type=int, default=16,
                    help="Concat inside channel tiles and C2f at 8-channel "
                         "parts, after those (their own seed)")
    ap.add_argument("--wide3", type=int, default=24,
                    help="16-bit clamp cases (Clip/Relu on the stored "
                         "int16 values), after the lane cases, with a seed of "
                         "their own")
    ap.add_argument("--wide4", type=int, default=20,
                    help="fused 16-bit forms (wide_fused_case), after the "
                         "transposed convolutions, with a seed of their own")
    ap.add_argument("--convt", type=int, default=40,
                    help="transposed convolution cases (convt_case, then "
                         "after the first 24 convt_general_case), after "
                         "the 16-bit clamps, with a seed of their own")
    ap.add_argument("--shuffle", type=int, default=24,
                    help="channel shuffle cases (shuffle_case), after the "
                         "fused 16-bit forms, with a seed of their own")
    ap.add_argument("--pads", type=int, default=16,
                    help="convolutions padded beyond the loads' fields "
                         "(pads_case: pads 4 to 8 stored with the input), "
                         "after the pools, with a seed of their own")
    ap.add_argument("--bands", type=int, default=12,
                    help="convolutions over lines too wide for the memories "
                         "(bands_case: column bands), after the channel "
                         "shuffles, with a seed of their own")
    ap.add_argument("--pools2", type=int, default=16,
                    help="pools with strides of their own per axis or over "
                         "lines too wide for the output memory "
                         "(pools2_case), after the column bands, with a "
                         "seed of their own")
    ap.add_argument("--pcact", type=int, default=16,
                    help="per-channel activation cases (pcact_case in "
                         "gen_forms.py), after the padded ones, with a seed "
                         "of their own")
    ap.add_argument("--pixels", type=int, default=16, help="pixel cases "
                    "(pixels_case), after --pcact, with a seed of their own")
    ap.add_argument("--lstm", type=int, default=12, help="integer LSTM "
                    "cases (lstm_case: form table16, ember option "
                    "--integer-recurrent), after --pixels, with a seed of "
                    "their own")
    ap.add_argument("--gru", type=int, default=12, help="integer GRUs")
    ap.add_argument("--sequence", type=int, default=12, help="rank-3 MatMuls")
    ap.add_argument("--norm", type=int, default=12, help="QDQ LayerNorms")
    ap.add_argument("--softmax", type=int, default=12, help="QDQ Softmaxes")
    args = ap.parse_args()
    import onnxruntime as ort
    # (gen_forms.py builds with this file's helpers: imported here, once
    # they are defined.)
    from gen_forms import (gru_case, lstm_case, norm_case, pcact_case,
                           pixels_case, sequence_case, softmax_case)
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)
    # (A folder generated before with other counts: its cases, options and
    # outputs would be read with the new ones.)
    for old in os.listdir(args.out):
        if old.startswith("case_"):
            shutil.rmtree(os.path.join(args.out, old))
    index = []
    extra = np.random.default_rng(args.seed + 1000)
    placed = np.random.default_rng(args.seed + 2000)
    wide = np.random.default_rng(args.seed + 3000)
    resized = np.random.default_rng(args.seed + 4000)
    wide2 = np.random.default_rng(args.seed + 5000)
    lanes = np.random.default_rng(args.seed + 6000)
    wide3 = np.random.default_rng(args.seed + 7000)
    convt = np.random.default_rng(args.seed + 8000)
    wide4 = np.random.default_rng(args.seed + 9000)
    shuffled = np.random.default_rng(args.seed + 10000)
    bands = np.random.default_rng(args.seed + 11000)
    pools2 = np.random.default_rng(args.seed + 12000)
    padded = np.random.default_rng(args.seed + 14000)
    pcact = np.random.default_rng(args.seed + 13000)
    pixels = np.random.default_rng(args.seed + 15000)
    lstm = np.random.default_rng(args.seed + 16000)
    gru = np.random.default_rng(args.seed + 17000)
    sequence = np.random.default_rng(args.seed + 18000)
    normed = np.random.default_rng(args.seed + 19000)
    softmaxed = np.random.default_rng(args.seed + 20000)
    n_placed = args.count + args.extra + args.placement
    n_wide = n_placed + args.wide
    n_resize = n_wide + args.resize
    n_wide2 = n_resize + args.wide2
    n_lanes = n_wide2 + args.lanes
    n_wide3 = n_lanes + args.wide3
    n_convt = n_wide3 + args.convt
    n_wide4 = n_convt + args.wide4
    n_shuffle = n_wide4 + args.shuffle
    n_bands = n_shuffle + args.bands
    n_pools2 = n_bands + args.pools2
    n_pads = n_pools2 + args.pads
    n_pixels = n_pads + args.pcact + args.pixels
    n_gru = n_pixels + args.lstm + args.gru
    for i in range(n_gru + args.sequence + args.norm + args.softmax):
        r = (rng.random() if i < args.count
             else 2.0 if i < args.count + args.extra else 3.0)
        if i >= n_gru + args.sequence + args.norm:
            g, desc = softmax_case(softmaxed)
        elif i >= n_gru + args.sequence:
            g, desc = norm_case(normed)
        elif i >= n_gru:
            g, desc = sequence_case(sequence)
        elif i >= n_pixels + args.lstm:
            g, desc = gru_case(gru)
        elif i >= n_pixels:
            g, desc = lstm_case(lstm)
        elif i >= n_pads + args.pcact:
            g, desc = pixels_case(pixels)
        elif i >= n_pads:
            g, desc = pcact_case(pcact)
        elif i >= n_pools2:
            g, desc = pads_case(padded)
        elif i >= n_bands:
            g, desc = pools2_case(pools2)
        elif i >= n_shuffle:
            g, desc = bands_case(bands)
        elif i >= n_wide4:
            g, desc = shuffle_case(shuffled)
        elif i >= n_convt:
            # (The first WIDE4_FIXED as they were; then a 16x8 layer into
            # 8 bits with a fused pool in every other case.)
            j = i - n_convt
            g, desc = (wide_pooled_case(wide4)
                       if j >= WIDE4_FIXED and j % 2 == 0
                       else wide_fused_case(wide4))
        elif i >= n_wide3:
            # The first CONVT_FIXED of the phase layers' own shapes, then
            # the general form (one seed: the first cases stay the same).
            g, desc = (convt_case(convt) if i < n_wide3 + CONVT_FIXED
                       else convt_general_case(
                           convt, i - n_wide3 - CONVT_FIXED))
        elif i >= n_lanes:
            g, desc = wide_clamp_case(wide3)
        elif i >= n_wide2:
            r = lanes.random()
            g, desc = (lane_concat_case(lanes) if r < 0.5
                       else split_case(lanes) if r < 0.75
                       else lane_split_read_case(lanes))
        elif i >= n_resize:
            g, desc = wide_case2(wide2)
        elif i >= n_wide:
            g, desc = resize_case(resized)
        elif i >= n_placed:
            g, desc = wide_case(wide)
        elif r > 2.0:
            g, desc = (split_case(placed) if placed.random() < 0.6
                       else upsample_case(placed))
        elif r > 1.0:
            g, desc = (act_case(extra) if extra.random() < 0.6
                       else mul_case(extra))
        elif r < 0.6:
            g, desc = conv_case(rng, conv_cfg(rng))
        elif r < 0.72:
            g, desc = matmul_case(rng)
        elif r < 0.82:
            g, desc = add_case(rng)
        elif r < 0.94:
            g, desc = pool_case(rng)
        else:
            g, desc = concat_case(rng)
        m = g.model()
        onnx.checker.check_model(m)
        d = os.path.join(args.out, f"case_{i:03d}")
        os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
        onnx.save(m, os.path.join(d, "model.onnx"))
        if g.ember_args:
            # The case's ember options (tests/npu/check_npu.py).
            open(os.path.join(d, "ember_args.txt"), "w").write(
                " ".join(g.ember_args) + "\n")
        if g.check_args:
            open(os.path.join(d, "check_args.txt"), "w").write(
                "\n".join(g.check_args) + "\n")
        # Node by node (graph optimizations off): DequantizeLinear, the
        # float op, QuantizeLinear, the QDQ graph's ONNX semantics on every
        # host. ORT's fused int8 kernels are not a host-independent
        # reference: on AVX2 hosts without VNNI its u8 x s8 kernel
        # (vpmaddubsw) saturates pairs of products, up to 255 quanta off.
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(m.SerializeToString(), so,
                                    providers=["CPUExecutionProvider"])
        outs = sess.run(None, g.feed)
        for j, (k, v) in enumerate(g.feed.items()):
            t = numpy_helper.from_array(v, k)
            open(os.path.join(d, "test_data_set_0", f"input_{j}.pb"),
                 "wb").write(t.SerializeToString())
        for j, v in enumerate(outs):
            t = numpy_helper.from_array(v, sess.get_outputs()[j].name)
            open(os.path.join(d, "test_data_set_0", f"output_{j}.pb"),
                 "wb").write(t.SerializeToString())
        # The output quantum, for the "within one quantum of ORT" check.
        last_q = [n for n in m.graph.node if n.op_type == "QuantizeLinear"][-1]
        scale = float(numpy_helper.to_array(
            [t for t in m.graph.initializer if t.name == last_q.input[1]][0]))
        index.append({"case": f"case_{i:03d}", "desc": desc, "quantum": scale})
    json.dump(index, open(os.path.join(args.out, "index.json"), "w"), indent=1)
    print(f"{len(index)} cases in {args.out}")


if __name__ == "__main__":
    main()
