#!/usr/bin/env python3
"""The NPU's wider int8 set and how much of each model the NPU runs
(docs/npu-performance.md, "Coverage of the wider int8 set").

Builds seeded float models (bench/cpu/dense_models.py's MobileNetV3, DBNet,
FPN segmentation and ViT styles, and four more here: a YOLO-style detector
with SiLU, Split, Concat, nearest Resize and SPPF, an LCNet-style classifier
with HardSwish and squeeze-excitation, a U-Net decoder with bilinear Resize
and skip Concats, one transformer block, and two as paddle2onnx writes
PaddlePaddle models: a PP-OCR text-direction classifier and a PicoDet-style
detector body, with HardSwish, HardSigmoid and SiLU decomposed into float
ops; a PP-OCR DBNet text detector with an RSE-FPN neck, and the PicoDet
body with its head: Split at channel 10, rank-3 Reshape and Transpose,
Concat of the levels; a YOLOv8-style detector with Ultralytics' Detect
head: C2f Splits of SiLU results, the levels flattened and concatenated,
the DFL's Reshape, Transpose, Softmax and convolution, boxes and classes
concatenated at channel 4 (and the same with Ultralytics' default anchor
decode after it); a YOLOv5-style detector: the Focus stem's four
strided Slices concatenated into 12 channels, C3 blocks, SPP and a head
concatenated at channels 4 and 5; a YOLO11-style body with C2PSA (attention
over the map's pixels: reshaped to heads, split on axis 2, q^T k, softmax,
v times its transpose); a ConvNeXt-style classifier (LayerNorm and Linear
layers with the channels moved last); an SVTR-style text recognizer: a
convolutional patch embedding, local (masked) and global attention
blocks, a stride-(2, 1) merging convolution, the height averaged away and
a CTC head), quantizes each with ONNX
Runtime's quantize_static (QDQ, per-channel int8 weights, uint8
activations, seeded calibration; the "-slim-toy" copies with only
convolutions and matrix products quantized, as PaddleSlim does, the other
ops float islands), runs it on the NPU target and prints one
row per model: partitions, host nodes, the share of nodes and of MACs in
device partitions, the simulated cycles, whether the NPU's output is
bit-exact with the interpreter's, and how far it is from ONNX Runtime's (in
output quanta: the scale of the model's last DequantizeLinear) on one seeded
input.

  bench/npu/coverage_set.py --ember build/bin/ember --out build/npu-coverage
      [--only NAME]... [--executor golden|systemc|rtl] [--target T]
      [--set DIR]

--set DIR: instead of the models above, every case DIR/<name>/model.onnx
(or DIR/qdq/<name>/model.onnx: bench/cpu/make_bench_set.py's wider set,
its QDQ copies) on its own inputs (test_data_set_0/input_*.pb), compared
with the interpreter and with the ONNX Runtime outputs stored beside them
(output_*.pb). A model that fails prints its error in the row.

--target: npu-sim (default) or plugin:PATH.so, e.g. the DIM 8 or 32 plugin
of tests/npu/dim_subbuild.sh's sub-builds
(build/npu-dim32/lib/ember/libember_npu_sim.so), or the second NPU's
(--executor sim --ember-arg=--requant=tflite: the arithmetic it declares;
docs/second-npu.md).

Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "cpu"))
import dense_models as dm  # noqa: E402


def ultralytics_blocks(b):
    """Ultralytics' two building blocks on builder b: cv, a convolution
    with SiLU, and c2f, a C2f block (a 1x1 cv, Split in halves, two 3x3 cv
    on the second half, Concat of the three, a 1x1 cv)."""
    def cv(x, cin, cout, k=3, s=1):
        return b.conv(x, cin, cout, k=k, stride=s, relu=False, act="Swish")

    def c2f(x, cin, cout):
        y = cv(x, cin, cout, k=1)
        h = cout // 2
        y1, y2 = (b.name("split"), b.name("split"))
        b.nodes.append(onnx.helper.make_node(
            "Split", [y, b.shape([h, h])], [y1, y2], axis=1))
        z = cv(cv(y2, h, h), h, h)
        return cv(b.op("Concat", [y1, y2, z], axis=1), 3 * h, cout, k=1)

    return cv, c2f


def yolo(rng, size=160):
    """A YOLOv5/v8-style detector: SiLU convolutions, C2f blocks (Split,
    bottlenecks, Concat), SPPF (three 5x5 stride-1 max pools, Concat) and a
    two-level neck with nearest Resize by 2."""
    b = dm.Builder(rng)

    cv, c2f = ultralytics_blocks(b)

    x = cv("image", 3, 16, s=2)
    x = cv(x, 16, 32, s=2)
    p3 = c2f(x, 32, 32)
    x = cv(p3, 32, 64, s=2)
    p4 = c2f(x, 64, 64)
    x = cv(p4, 64, 128, s=2)
    x = c2f(x, 128, 128)
    # SPPF
    y = cv(x, 128, 64, k=1)
    m1 = b.op("MaxPool", [y], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    m2 = b.op("MaxPool", [m1], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    m3 = b.op("MaxPool", [m2], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    p5 = cv(b.op("Concat", [y, m1, m2, m3], axis=1), 256, 128, k=1)
    # neck: upsample, concatenate, C2f
    u = b.resize_scales(p5, 2.0, "nearest", "asymmetric", "floor")
    n4 = c2f(b.op("Concat", [u, p4], axis=1), 192, 64)
    u = b.resize_scales(n4, 2.0, "nearest", "asymmetric", "floor")
    n3 = c2f(b.op("Concat", [u, p3], axis=1), 96, 32)
    out = b.conv(n3, 32, 16, k=1, relu=False)
    s = size // 4  # (n3 is P3: two stride-2 convolutions deep)
    return b.model("yolo_toy", "image", [1, 3, size, size], out,
                   [1, 16, s, s], opset=13)


def lcnet(rng, size=160, classes=100):
    """A PP-LCNet-style classifier: depthwise-separable HardSwish blocks,
    squeeze-excitation in the last ones, global pooling and a 1x1 head."""
    b = dm.Builder(rng)
    x = b.conv("image", 3, 16, stride=2, relu=False, act="HardSwish")
    cin = 16
    for k, cout, s, se in ((3, 32, 1, False), (3, 64, 2, False),
                           (3, 64, 1, False), (3, 128, 2, False),
                           (5, 128, 1, False), (5, 256, 2, True),
                           (5, 256, 1, True)):
        x = b.conv(x, cin, cin, k=k, stride=s, group=cin, relu=False,
                   act="HardSwish")
        if se:
            x = dm.squeeze_excite(b, x, cin)
        x = b.conv(x, cin, cout, k=1, relu=False, act="HardSwish")
        cin = cout
    x = b.op("GlobalAveragePool", [x])
    x = b.conv(x, cin, 512, k=1, relu=False, act="HardSwish")
    x = b.conv(x, 512, classes, k=1, relu=False)
    out = b.op("Flatten", [x], axis=1)
    return b.model("lcnet_toy", "image", [1, 3, size, size], out,
                   [1, classes], opset=14)


def unet(rng, size=128, classes=4):
    """A U-Net: an encoder of stride-2 convolutions and a decoder of
    bilinear Resize by 2, Concat with the skip and two convolutions."""
    b = dm.Builder(rng)
    skips, x, cin = [], "image", 3
    for cout in (16, 32, 64):
        x = b.conv(b.conv(x, cin, cout), cout, cout)
        skips.append((x, cout))
        x = b.conv(x, cout, cout, stride=2)
        cin = cout
    x = b.conv(x, cin, 128)
    cin = 128
    for skip, ch in reversed(skips):
        x = b.resize_scales(x, 2.0, "linear", "half_pixel")
        x = b.op("Concat", [x, skip], axis=1)
        x = b.conv(b.conv(x, cin + ch, ch), ch, ch)
        cin = ch
    out = b.conv(x, cin, classes, k=1, relu=False)
    return b.model("unet_toy", "image", [1, 3, size, size], out,
                   [1, classes, size, size], opset=13)


def layer_norm(b, x, dim):
    """LayerNormalization over the last axis of width dim (scale 1, bias
    0) on builder b."""
    return b.op("LayerNormalization",
                [x, b.const(np.ones(dim, np.float32), "g"),
                 b.const(np.zeros(dim, np.float32), "beta")], axis=-1)


def linear(b, x, cin, cout):
    """x @ W + bias, seeded (W then bias drawn from b's generator)."""
    w = b.normal((cin, cout), np.sqrt(1.0 / cin))
    return b.op("Add", [b.op("MatMul", [x, w]), b.normal((cout,), 0.02)])


def transformer_block(rng, tokens=64, dim=128, heads=4):
    """One pre-norm transformer encoder block: LayerNormalization,
    multi-head attention (MatMul, Softmax), GELU MLP, residual adds."""
    b = dm.Builder(rng)

    def ln(x):
        return layer_norm(b, x, dim)

    def lin(x, cin, cout):
        return linear(b, x, cin, cout)

    x = "tokens"
    h = ln(x)
    hd = dim // heads

    def split_heads(t):
        t = b.op("Reshape", [t, b.shape([1, tokens, heads, hd])])
        return b.op("Transpose", [t], perm=[0, 2, 1, 3])

    q, k, v = (split_heads(lin(h, dim, dim)) for _ in range(3))
    att = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])
    att = b.op("Mul", [att, b.const(np.array(1 / np.sqrt(hd), np.float32))])
    att = b.op("Softmax", [att], axis=-1)
    o = b.op("Transpose", [b.op("MatMul", [att, v])], perm=[0, 2, 1, 3])
    o = lin(b.op("Reshape", [o, b.shape([1, tokens, dim])]), dim, dim)
    x = b.op("Add", [x, o])
    m = lin(b.gelu(lin(ln(x), dim, 4 * dim)), 4 * dim, dim)
    out = b.op("Add", [x, m])
    return b.model("transformer_block_toy", "tokens", [1, tokens, dim], out,
                   [1, tokens, dim], opset=17)


def svtr(rng, h=32, w=128, classes=97, dims=(64, 96), depths=(2, 2),
         heads=(2, 3), local=(1, 0), window=(3, 7), mlp=2, out_ch=128,
         name="svtr_toy"):
    """An SVTR-style text recognizer (PaddleOCR's SVTR): a patch embedding
    of two 3x3 stride-2 convolutions with GELU, stages of mixing blocks over
    the H/4 x W/4 tokens (pre-norm LayerNormalization, multi-head attention,
    a GELU MLP of `mlp` times the width, residual adds; the first
    `local[s]` blocks of stage s are local: they add a constant mask, -1e4
    outside a `window` of tokens, to the scores before the Softmax), a
    merging 3x3 convolution of stride (2, 1) and a LayerNorm between stages,
    then the height averaged away, a 1x1 convolution with HardSwish and the
    CTC head: a Linear per column and a Softmax. The defaults are a
    scaled-down recognizer (svtr-toy); SVTR-Tiny is dims (64, 128, 256),
    depths (3, 6, 3), heads (2, 4, 8), local (3, 3, 0), window (7, 11),
    mlp 4, out_ch 192 at 32 x 100."""
    b = dm.Builder(rng)

    def ln(x, dim):
        return layer_norm(b, x, dim)

    def lin(x, cin, cout):
        return linear(b, x, cin, cout)

    def mask(gh, gw):
        wh, ww = window
        n = gh * gw
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        near = ((np.abs(i // gw - j // gw) <= wh // 2)
                & (np.abs(i % gw - j % gw) <= ww // 2))
        m = np.where(near, 0, -1e4).astype(np.float32)
        return b.const(m.reshape(1, 1, n, n), "mask")

    def block(x, n, dim, heads, local=None):
        hd = dim // heads

        def split_heads(t):
            t = b.op("Reshape", [t, b.shape([1, n, heads, hd])])
            return b.op("Transpose", [t], perm=[0, 2, 1, 3])

        y = ln(x, dim)
        q, k, v = (split_heads(lin(y, dim, dim)) for _ in range(3))
        att = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])
        att = b.op("Mul", [att, b.const(np.array(hd ** -0.5, np.float32))])
        if local is not None:
            att = b.op("Add", [att, local])
        att = b.op("Softmax", [att], axis=-1)
        o = b.op("Transpose", [b.op("MatMul", [att, v])], perm=[0, 2, 1, 3])
        x = b.op("Add", [x, lin(b.op("Reshape", [o, b.shape([1, n, dim])]),
                                dim, dim)])
        m = lin(b.gelu(lin(ln(x, dim), dim, mlp * dim)), mlp * dim, dim)
        return b.op("Add", [x, m])

    def to_tokens(x, c, gh, gw):
        x = b.op("Reshape", [x, b.shape([1, c, gh * gw])])
        return b.op("Transpose", [x], perm=[0, 2, 1])

    def to_map(x, c, gh, gw):
        x = b.op("Transpose", [x], perm=[0, 2, 1])
        return b.op("Reshape", [x, b.shape([1, c, gh, gw])])

    x = b.gelu(b.conv("image", 3, dims[0] // 2, stride=2, relu=False))
    x = b.gelu(b.conv(x, dims[0] // 2, dims[0], stride=2, relu=False))
    gh, gw = h // 4, w // 4
    t = to_tokens(x, dims[0], gh, gw)
    for s, dim in enumerate(dims):
        if s:
            # Merging: a 3x3 convolution of stride (2, 1), then a LayerNorm.
            prev = dims[s - 1]
            wm = b.normal((dim, prev, 3, 3), np.sqrt(2.0 / (prev * 9)))
            x = b.op("Conv", [to_map(t, prev, gh, gw), wm,
                              b.normal((dim,), 0.05)],
                     kernel_shape=[3, 3], strides=[2, 1], pads=[1, 1, 1, 1])
            gh = (gh + 1) // 2
            t = ln(to_tokens(x, dim, gh, gw), dim)
        for d in range(depths[s]):
            t = block(t, gh * gw, dim, heads[s],
                      local=mask(gh, gw) if d < local[s] else None)
    # Combing: the height averaged away, a 1x1 convolution with HardSwish.
    x = b.op("AveragePool", [to_map(ln(t, dims[-1]), dims[-1], gh, gw)],
             kernel_shape=[gh, 1], strides=[gh, 1])
    x = b.conv(x, dims[-1], out_ch, k=1, relu=False, act="HardSwish")
    # The CTC head: [1, out_ch, 1, W/4] -> [1, W/4, out_ch] -> Linear ->
    # Softmax.
    x = b.op("Transpose", [b.op("Squeeze", [x, b.shape([2])])],
             perm=[0, 2, 1])
    out = b.op("Softmax", [lin(x, out_ch, classes)], axis=-1)
    return b.model(name, "image", [1, 3, h, w], out, [1, gw, classes],
                   opset=17)


def paddle_act(b, x, act):
    """An activation as paddle2onnx writes it, decomposed: "hardswish" x *
    HardSigmoid(x) (alpha 1/6, beta 0.5), "relu6swish" x * Clip(x + 3, 0,
    6) / 6, "hardsigmoid" Clip(x * 0.2 + 0.5, 0, 1) (PaddleOCR's SE scale),
    "silu" x * Sigmoid(x)."""
    def c(v):
        return b.const(np.array(v, np.float32))
    if act == "hardswish":
        return b.op("Mul", [x, b.op("HardSigmoid", [x], alpha=1.0 / 6,
                                    beta=0.5)])
    if act == "relu6swish":
        r = b.op("Clip", [b.op("Add", [x, c(3.0)]), c(0.0), c(6.0)])
        return b.op("Mul", [x, b.op("Div", [r, c(6.0)])])
    if act == "hardsigmoid":
        h = b.op("Add", [b.op("Mul", [x, c(0.2)]), c(0.5)])
        return b.op("Clip", [h, c(0.0), c(1.0)])
    if act == "silu":
        return b.op("Mul", [x, b.op("Sigmoid", [x])])
    raise ValueError(act)


def paddle_conv(b, x, cin, cout, act, k=3, stride=1, group=1):
    return paddle_act(b, b.conv(x, cin, cout, k=k, stride=stride, group=group,
                                relu=False), act)


def paddle_se(b, x, ch):
    """PaddleOCR's SE block: mean, 1x1 reduce, Relu, 1x1 expand, the
    decomposed hard sigmoid, times the feature map."""
    s = b.op("GlobalAveragePool", [x])
    s = b.conv(s, ch, max(8, ch // 4), k=1)
    s = paddle_act(b, b.conv(s, max(8, ch // 4), ch, k=1, relu=False),
                   "hardsigmoid")
    return b.op("Mul", [x, s])


def ppocr_cls(rng, h=48, w=192):
    """A PP-OCR text-direction classifier (MobileNetV3-small style, scale
    0.35) as paddle2onnx writes it: HardSwish decomposed (x * Clip(x + 3,
    0, 6) / 6 and x * HardSigmoid(x)), SE blocks with the decomposed hard
    sigmoid, global pooling and a 2-class 1x1 head."""
    b = dm.Builder(rng)
    x = paddle_conv(b, "image", 3, 16, "relu6swish", stride=2)
    cin = 16
    for k, exp, cout, se, act, s in ((3, 16, 16, True, "relu", 1),
                                     (3, 72, 24, False, "relu", 2),
                                     (5, 96, 40, True, "hardswish", 2),
                                     (5, 120, 48, True, "relu6swish", 1),
                                     (5, 288, 96, True, "hardswish", 2)):
        a = (lambda y: b.op("Relu", [y])) if act == "relu" else (
            lambda y: paddle_act(b, y, act))
        y = a(b.conv(x, cin, exp, k=1, relu=False))
        y = a(b.conv(y, exp, exp, k=k, stride=s, group=exp, relu=False))
        if se:
            y = paddle_se(b, y, exp)
        y = b.conv(y, exp, cout, k=1, relu=False)
        x = b.op("Add", [x, y]) if cin == cout and s == 1 else y
        cin = cout
    x = paddle_conv(b, x, cin, 192, "hardswish", k=1)
    x = b.op("GlobalAveragePool", [x])
    x = b.conv(x, 192, 2, k=1, relu=False)
    out = b.op("Flatten", [x], axis=1)
    return b.model("ppocr_cls_toy", "image", [1, 3, h, w], out, [1, 2],
                   opset=13)


def picodet_head(b, feats, classes=10, reg=32):
    """PicoDet's head as paddle2onnx writes it without post-processing:
    per level one 1x1 convolution of classes + reg channels, Split at
    channel `classes`, Sigmoid of the class map, each part flattened over
    H, W (Reshape to rank 3) and transposed to [1, H*W, C], the levels
    concatenated: scores [1, N, classes] and box distributions [1, N,
    reg]."""
    cls, box = [], []
    for f, ch, hw in feats:
        h = paddle_conv(b, f, ch, ch, "silu", k=3, group=ch)
        h = paddle_conv(b, h, ch, ch, "silu", k=1)
        o = b.conv(h, ch, classes + reg, k=1, relu=False)
        c, r = b.name("split"), b.name("split")
        b.nodes.append(onnx.helper.make_node(
            "Split", [o, b.shape([classes, reg])], [c, r], axis=1))
        c = b.op("Sigmoid", [c])
        for t, n, out in ((c, classes, cls), (r, reg, box)):
            t = b.op("Reshape", [t, b.shape([1, n, hw])])
            out.append(b.op("Transpose", [t], perm=[0, 2, 1]))
    return (b.op("Concat", cls, axis=1), b.op("Concat", box, axis=1))


def picodet(rng, size=160, head=False):
    """A PicoDet-style detector's body as paddle2onnx writes it: an LCNet
    backbone with HardSwish as x * HardSigmoid(x) and SE, a PAN neck of
    1x1 convolutions, nearest upsampling and Concat, and SiLU (x *
    Sigmoid(x)) head convolutions ending in class and box maps (the head's
    reshapes and transposes are left out)."""
    b = dm.Builder(rng)
    x = paddle_conv(b, "image", 3, 16, "hardswish", stride=2)
    cin, feats = 16, []
    for k, cout, s, se in ((3, 32, 1, False), (3, 64, 2, False),
                           (3, 64, 1, False), (3, 128, 2, False),
                           (5, 128, 1, False), (5, 256, 2, True)):
        x = paddle_conv(b, x, cin, cin, "hardswish", k=k, stride=s,
                        group=cin)
        if se:
            x = paddle_se(b, x, cin)
        x = paddle_conv(b, x, cin, cout, "hardswish", k=1)
        cin = cout
        if s == 2 and cout >= 64:
            feats.append((x, cout))
    lat = [paddle_conv(b, f, c, 64, "hardswish", k=1) for f, c in feats]
    up = b.resize_scales(lat[2], 2.0, "nearest", "asymmetric", "floor")
    p4 = paddle_conv(b, b.op("Concat", [up, lat[1]], axis=1), 128, 64,
                     "hardswish", k=1)
    up = b.resize_scales(p4, 2.0, "nearest", "asymmetric", "floor")
    p3 = paddle_conv(b, b.op("Concat", [up, lat[0]], axis=1), 128, 64,
                     "hardswish", k=1)
    s = size // 4  # (p3: stride 4)
    if head:
        cls, box = picodet_head(b, [(p3, 64, s * s),
                                    (p4, 64, (s // 2) * (s // 2))])
        n = s * s + (s // 2) * (s // 2)
        m = b.model("picodet_head_toy", "image", [1, 3, size, size], cls,
                    [1, n, 10], opset=13)
        m.graph.output.append(onnx.helper.make_tensor_value_info(
            box, onnx.TensorProto.FLOAT, [1, n, 32]))
        return m
    h = paddle_conv(b, p3, 64, 64, "silu", k=3, group=64)
    h = paddle_conv(b, h, 64, 64, "silu", k=1)
    out = b.conv(h, 64, 10 + 32, k=1, relu=False)
    return b.model("picodet_toy", "image", [1, 3, size, size], out,
                   [1, 42, s, s], opset=13)


def ppocr_det(rng, size=160):
    """A PP-OCR text detector (DBNet) as paddle2onnx writes it: an
    LCNet-style backbone with HardSwish as x * HardSigmoid(x), an RSE-FPN
    neck (1x1 lateral convolutions each followed by the SE block with the
    decomposed hard sigmoid, nearest upsampling by 2 and Add, 3x3 output
    convolutions, each level upsampled to 1/4 and concatenated) and the DB
    head: 3x3 convolution, Relu, two 2x2 stride-2 ConvTransposes, Sigmoid
    (the probability map at the input's size)."""
    b = dm.Builder(rng)
    x = paddle_conv(b, "image", 3, 16, "hardswish", stride=2)
    cin, feats = 16, []
    for k, cout, s in ((3, 32, 2), (3, 64, 2), (5, 96, 2), (5, 128, 2)):
        x = paddle_conv(b, x, cin, cin, "hardswish", k=k, stride=s,
                        group=cin)
        x = paddle_conv(b, x, cin, cout, "hardswish", k=1)
        cin = cout
        feats.append((x, cout))
    ch = 32
    lat = [paddle_se(b, b.conv(f, c, ch, k=1, relu=False), ch)
           for f, c in feats]
    for i in (2, 1, 0):
        lat[i] = b.op("Add", [lat[i], b.resize_scales(
            lat[i + 1], 2.0, "nearest", "asymmetric", "floor")])
    outs = []
    for i, f in enumerate(lat):
        o = paddle_se(b, b.conv(f, ch, ch // 4, relu=False), ch // 4)
        outs.append(o if i == 0 else b.resize_scales(
            o, float(2 ** i), "nearest", "asymmetric", "floor"))
    fuse = b.op("Concat", outs, axis=1)
    h = b.conv(fuse, ch, ch // 4)
    h = b.deconv(h, ch // 4, ch // 4)
    h = b.deconv(h, ch // 4, 1, relu=False)
    prob = b.op("Sigmoid", [h])
    return b.model("ppocr_det_toy", "image", [1, 3, size, size], prob,
                   [1, 1, size, size], opset=13)


def yolov8_head(rng, size=160, nc=10, reg=16, decode=False):
    """A YOLOv8-style detector as Ultralytics exports it (SiLU as x *
    Sigmoid(x)): a small backbone with C2f blocks (Split at half channels
    of a SiLU's result, 24 of 48 on the second: inside a 16-lane tile),
    and the Detect head on two levels: per level a box branch (two 3x3
    convolutions, a 1x1 to 4 x reg channels) and a class branch (to nc),
    concatenated, flattened (Reshape to [1, C, H*W]), the levels
    concatenated along the anchors, Split into boxes and classes, the
    boxes through the DFL (Reshape to [1, 4, reg, N], Transpose [0, 2, 1,
    3], Softmax over the bins, a 1x1 convolution by the bin indices,
    Reshape to [1, 4, N]) and the classes through Sigmoid, concatenated at
    channel 4: [1, 4 + nc, N]. With `decode`, the anchor decode as
    Ultralytics exports it by default (dist2bbox): the distances Split in
    halves, subtracted from and added to the anchor points (a constant [1,
    2, N]), centre (a sum divided by 2) and size concatenated, multiplied
    by the strides (a constant [1, N])."""
    b = dm.Builder(rng)

    cv, c2f = ultralytics_blocks(b)

    x = cv("image", 3, 16, s=2)
    x = cv(x, 16, 32, s=2)
    x = c2f(x, 32, 32)
    p3 = c2f(cv(x, 32, 48, s=2), 48, 48)
    p4 = c2f(cv(p3, 48, 64, s=2), 64, 64)
    levels, n, anchors, strides = [], 0, [], []
    for f, c, s in ((p3, 48, 8), (p4, 64, 16)):
        hw = (size // s) ** 2
        box = b.conv(cv(cv(f, c, 32), 32, 32), 32, 4 * reg, k=1, relu=False)
        cls = b.conv(cv(cv(f, c, 32), 32, 32), 32, nc, k=1, relu=False)
        o = b.op("Concat", [box, cls], axis=1)
        levels.append(b.op("Reshape", [o, b.shape([1, 4 * reg + nc, hw])]))
        n += hw
        g = np.arange(size // s, dtype=np.float32) + 0.5
        yy, xx = np.meshgrid(g, g, indexing="ij")
        anchors.append(np.stack([xx.ravel(), yy.ravel()]))
        strides.append(np.full(hw, float(s), np.float32))
    y = b.op("Concat", levels, axis=2)
    box, cls = b.name("split"), b.name("split")
    b.nodes.append(onnx.helper.make_node(
        "Split", [y, b.shape([4 * reg, nc])], [box, cls], axis=1))
    d = b.op("Reshape", [box, b.shape([1, 4, reg, n])])
    d = b.op("Softmax", [b.op("Transpose", [d], perm=[0, 2, 1, 3])], axis=1)
    w = np.arange(reg, dtype=np.float32).reshape(1, reg, 1, 1)
    d = b.op("Conv", [d, b.const(w, "dfl")], kernel_shape=[1, 1])
    d = b.op("Reshape", [d, b.shape([1, 4, n])])
    if decode:
        lt, rb = b.name("lt"), b.name("rb")
        b.nodes.append(onnx.helper.make_node(
            "Split", [d, b.shape([2, 2])], [lt, rb], axis=1))
        a = b.const(np.concatenate(anchors, 1)[None], "anchors")
        x1y1, x2y2 = b.op("Sub", [a, lt]), b.op("Add", [a, rb])
        c = b.op("Div", [b.op("Add", [x1y1, x2y2]),
                         b.const(np.float32(2.0), "two")])
        d = b.op("Concat", [c, b.op("Sub", [x2y2, x1y1])], axis=1)
        d = b.op("Mul", [d, b.const(np.concatenate(strides)[None],
                                    "strides")])
    out = b.op("Concat", [d, b.op("Sigmoid", [cls])], axis=1)
    return b.model("yolov8_head_toy", "image", [1, 3, size, size], out,
                   [1, 4 + nc, n], opset=13)


def tf_csp(rng, size=128, classes=100):
    """A backbone as TensorFlow/Keras exporters (tf2onnx) and CSP-style
    PyTorch code write it: each stride-2 convolution behind an explicit
    Pad of the bottom and right edges (Keras' ZeroPadding2D, "SAME" for an
    even map) with no padding of its own, PRelu activations with one slope
    per channel, and CSP blocks that split the channels with two Slices
    (the halves), run one half through two convolutions and concatenate it
    with the other; global pooling and a fully connected head."""
    b = dm.Builder(rng)

    def prelu(x, ch):
        slope = rng.uniform(0.05, 0.3, (ch, 1, 1)).astype(np.float32)
        return b.op("PRelu", [x, b.const(slope, "slope")])

    def down(x, cin, cout):
        x = b.op("Pad", [x, b.shape([0, 0, 0, 0, 0, 0, 1, 1])])
        w = rng.normal(0, np.sqrt(2.0 / (cin * 9)),
                       (cout, cin, 3, 3)).astype(np.float32)
        bias = rng.normal(0, 0.05, cout).astype(np.float32)
        y = b.op("Conv", [x, b.const(w, "w"), b.const(bias, "b")],
                 kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 0, 0])
        return prelu(y, cout)

    def csp(x, ch):
        half = ch // 2
        lo = b.op("Slice", [x, b.shape([0]), b.shape([half]), b.shape([1])])
        hi = b.op("Slice", [x, b.shape([half]), b.shape([ch]), b.shape([1])])
        y = prelu(b.conv(hi, half, half, k=1, relu=False), half)
        y = prelu(b.conv(y, half, half, k=3, relu=False), half)
        y = b.op("Concat", [lo, y], axis=1)
        return prelu(b.conv(y, ch, ch, k=1, relu=False), ch)

    x = down("image", 3, 16)
    for cin, cout in ((16, 32), (32, 64), (64, 128)):
        x = csp(down(x, cin, cout), cout)
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, 128, classes)
    return b.model("tf_csp_toy", "image", [1, 3, size, size], out,
                   [1, classes], opset=13)


def yolov5(rng, size=160, nc=3):
    """A YOLOv5 (v5.0)-style detector as Ultralytics exports it: the Focus
    stem (four strided Slices of the image, every second pixel of each
    phase, concatenated into 12 channels), C3 blocks (two 1x1 branches, one
    through bottlenecks, concatenated), SPP-style pooling, and a head whose
    box (4), objectness (1) and class (nc) convolutions are concatenated at
    channels 4 and 5 before the sigmoid."""
    b = dm.Builder(rng)
    cv, _ = ultralytics_blocks(b)

    def phase(x, r, c):
        return b.op("Slice", [x, b.shape([r, c]), b.shape([size, size]),
                              b.shape([2, 3]), b.shape([2, 2])])

    x = b.op("Concat", [phase("image", 0, 0), phase("image", 1, 0),
                        phase("image", 0, 1), phase("image", 1, 1)], axis=1)
    x = cv(x, 12, 16)

    def c3(x, cin, cout, n=1):
        h = cout // 2
        a = cv(x, cin, h, k=1)
        for _ in range(n):
            a = b.op("Add", [a, cv(cv(a, h, h, k=1), h, h)])
        return cv(b.op("Concat", [a, cv(x, cin, h, k=1)], axis=1), 2 * h,
                  cout, k=1)

    x = c3(cv(x, 16, 32, s=2), 32, 32)
    x = c3(cv(x, 32, 64, s=2), 64, 64)
    y = cv(x, 64, 32, k=1)
    m = [b.op("MaxPool", [y], kernel_shape=[k, k], pads=[k // 2] * 4)
         for k in (5, 9)]
    x = cv(b.op("Concat", [y] + m, axis=1), 96, 64, k=1)
    s = size // 8
    box = b.conv(x, 64, 4, k=1, relu=False)
    obj = b.conv(x, 64, 1, k=1, relu=False)
    cls = b.conv(x, 64, nc, k=1, relu=False)
    out = b.op("Sigmoid", [b.op("Concat", [box, obj, cls], axis=1)])
    return b.model("yolov5_toy", "image", [1, 3, size, size], out,
                   [1, 5 + nc, s, s], opset=13)


def yolo11(rng, size=256, nc=10):
    """A YOLO11-style detector body as Ultralytics exports it: SiLU
    convolutions, C3k2 blocks (C2f with bottleneck pairs), SPPF, and C2PSA:
    a 1x1 convolution split in halves, one half through a position-
    sensitive attention block (a 1x1 qkv convolution reshaped to
    [1, heads, 2 key + head, H W] and split along axis 2, q^T k scaled,
    Softmax, v times the attention's transpose, reshaped back to the map,
    plus a depthwise 3x3 convolution of v, a 1x1 projection; residual adds
    and a two-convolution feed-forward), then concatenated with the other;
    a 1x1 head."""
    b = dm.Builder(rng)
    cv, c2f = ultralytics_blocks(b)

    def psa(x, c, heads):
        hd = c // heads
        kd = hd // 2
        qkv = b.conv(x, c, c + 2 * kd * heads, k=1, relu=False)
        n = (size // 32) ** 2
        t = b.op("Reshape", [qkv, b.shape([1, heads, 2 * kd + hd, n])])
        q, k, v = b.name("q"), b.name("k"), b.name("v")
        b.nodes.append(onnx.helper.make_node(
            "Split", [t, b.shape([kd, kd, hd])], [q, k, v], axis=2))
        a = b.op("MatMul", [b.op("Transpose", [q], perm=[0, 1, 3, 2]), k])
        a = b.op("Mul", [a, b.const(np.float32(kd ** -0.5), "scale")])
        a = b.op("Softmax", [a], axis=-1)
        o = b.op("MatMul", [v, b.op("Transpose", [a], perm=[0, 1, 3, 2])])
        s = size // 32
        o = b.op("Reshape", [o, b.shape([1, c, s, s])])
        pe = b.conv(b.op("Reshape", [v, b.shape([1, c, s, s])]), c, c, k=3,
                    relu=False, group=c)
        y = b.conv(b.op("Add", [o, pe]), c, c, k=1, relu=False)
        x = b.op("Add", [x, y])
        f = b.conv(cv(x, c, 2 * c, k=1), 2 * c, c, k=1, relu=False)
        return b.op("Add", [x, f])

    x = cv("image", 3, 16, s=2)
    x = cv(x, 16, 32, s=2)
    x = c2f(x, 32, 32)
    x = cv(x, 32, 64, s=2)
    x = c2f(x, 64, 64)
    x = cv(x, 64, 128, s=2)
    x = c2f(x, 128, 128)
    x = cv(x, 128, 256, s=2)
    y = cv(x, 256, 128, k=1)
    m1 = b.op("MaxPool", [y], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    m2 = b.op("MaxPool", [m1], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    m3 = b.op("MaxPool", [m2], kernel_shape=[5, 5], pads=[2, 2, 2, 2])
    x = cv(b.op("Concat", [y, m1, m2, m3], axis=1), 512, 256, k=1)
    # C2PSA (YOLO11n's: 256 channels, halves of 128, heads of 64)
    y = cv(x, 256, 256, k=1)
    h1, h2 = b.name("split"), b.name("split")
    b.nodes.append(onnx.helper.make_node(
        "Split", [y, b.shape([128, 128])], [h1, h2], axis=1))
    x = cv(b.op("Concat", [h1, psa(h2, 128, 2)], axis=1), 256, 256, k=1)
    out = b.conv(x, 256, 4 + nc, k=1, relu=False)
    s = size // 32
    return b.model("yolo11_toy", "image", [1, 3, size, size], out,
                   [1, 4 + nc, s, s], opset=13)


def convnext(rng, size=128, classes=10):
    """A ConvNeXt-style classifier as PyTorch exports it: a 4x4 stride-4
    stem, blocks of a 7x7 depthwise convolution, the channels moved last
    (Transpose [0, 2, 3, 1]), LayerNormalization over them, two Linear
    layers (MatMul by [C, 4 C] and [4 C, C]) around an Erf GELU, a
    per-channel layer scale, the channels moved back and a residual add;
    a 2x2 stride-2 downsampling, global pooling and a Gemm head."""
    b = dm.Builder(rng)

    def block(x, c):
        y = b.conv(x, c, c, k=7, relu=False, group=c)
        y = b.op("Transpose", [y], perm=[0, 2, 3, 1])
        g = rng.uniform(0.5, 1.5, c).astype(np.float32)
        be = rng.normal(0, 0.1, c).astype(np.float32)
        y = b.op("LayerNormalization", [y, b.const(g, "g"), b.const(be, "be")],
                 axis=-1, epsilon=1e-6)
        for cin, cout in ((c, 4 * c), (4 * c, c)):
            w = rng.normal(0, np.sqrt(2.0 / cin), (cin, cout)).astype(
                np.float32)
            bias = rng.normal(0, 0.05, cout).astype(np.float32)
            y = b.op("Add", [b.op("MatMul", [y, b.const(w, "w")]),
                             b.const(bias, "b")])
            y = b.gelu(y) if cout == 4 * c else y
        scale = rng.uniform(0.1, 1.0, c).astype(np.float32)
        y = b.op("Mul", [y, b.const(scale, "gamma")])
        return b.op("Add", [x, b.op("Transpose", [y], perm=[0, 3, 1, 2])])

    x = b.conv("image", 3, 32, k=4, stride=4, relu=False)
    x = block(block(x, 32), 32)
    x = block(b.conv(x, 32, 64, k=2, stride=2, relu=False), 64)
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    out = b.gemm(x, 64, classes)
    return b.model("convnext_toy", "image", [1, 3, size, size], out,
                   [1, classes], opset=17)


MODELS = {
    "mnv3-toy": lambda r: dm.mnv3(r, size=160, classes=100),
    "lcnet-toy": lcnet,
    "yolo-toy": yolo,
    "dbnet-toy": lambda r: dm.dbnet(r, size=160),
    "fpnseg-toy": lambda r: dm.fpnseg(r, size=128),
    "unet-toy": unet,
    "vit-toy": lambda r: dm.vit(r, size=96, patch=16, dim=96, heads=3,
                                depth=2, classes=100),
    "transformer-block-toy": transformer_block,
    "svtr-toy": svtr,
    "ppocr-cls-toy": ppocr_cls,
    "picodet-toy": picodet,
    "ppocr-det-toy": ppocr_det,
    "picodet-head-toy": lambda r: picodet(r, head=True),
    "yolov8-head-toy": yolov8_head,
    "yolov8-decode-toy": lambda r: yolov8_head(r, decode=True),
    "ppocr-cls-slim-toy": ppocr_cls,
    "picodet-slim-toy": picodet,
    "ppocr-det-slim-toy": ppocr_det,
    "picodet-head-slim-toy": lambda r: picodet(r, head=True),
    "yolov8-head-slim-toy": yolov8_head,
    "tf-csp-toy": tf_csp,
    "yolov5-toy": yolov5,
    "yolo11-toy": yolo11,
    "convnext-toy": convnext,
}

# The models quantized as a quantizer of convolutions and matrix products
# only writes them (PaddleSlim's default): quantize_static told to quantize
# those ops alone, every other op a float island between a
# DequantizeLinear and a QuantizeLinear.
CONV_ONLY = ["Conv", "ConvTranspose", "MatMul", "Gemm"]
SLIM = {n for n in MODELS if n.endswith("-slim-toy")}


def quantize(fp32, out, rng, ops=None):
    from onnxruntime.quantization import (CalibrationDataReader,
                                          QuantFormat, QuantType,
                                          quantize_static)
    m = onnx.load(fp32)
    inp = m.graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter([{inp.name: rng.normal(0, 1, shape).astype(
                np.float32)} for _ in range(4)])

        def get_next(self):
            return next(self.it, None)

    quantize_static(fp32, out, Reader(), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, op_types_to_quantize=ops)


def load_pb(path):
    from onnx import numpy_helper
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def case_inputs(model):
    """A set case's inputs: (name, path) of test_data_set_0/input_<i>.pb
    per graph input (initializers aside), or None without them."""
    m = onnx.load(model, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    d = os.path.join(os.path.dirname(model), "test_data_set_0")
    paths = [os.path.join(d, f"input_{i}.pb") for i in range(len(names))]
    if not all(os.path.exists(p) for p in paths):
        return None
    return list(zip(names, paths))


def compare(ember, model, workdir, executor, target="npu-sim", inputs=None):
    """The NPU's output against the interpreter's (bit-exact?) and ONNX
    Runtime's (the largest difference in output quanta) on one seeded
    input, or on `inputs` ((name, .pb path) pairs, ONNX Runtime's outputs
    the output_<i>.pb beside them)."""
    from onnx import numpy_helper
    m = onnx.load(model)
    os.makedirs(workdir, exist_ok=True)
    if inputs is None:
        inp = m.graph.input[0]
        shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        x = np.random.default_rng(11).normal(0, 1, shape).astype(np.float32)
        xp = os.path.join(workdir, "input.npy")
        np.save(xp, x)
        feeds = [(inp.name, xp)]
    else:
        feeds = inputs
    outs = {}
    for tgt in ("interp", target):
        d = os.path.join(workdir, "interp" if tgt == "interp" else "npu")
        os.makedirs(d, exist_ok=True)
        cmd = [ember, "run", model, "--target=" + tgt, "--save-outputs", d]
        cmd += EXTRA
        for name, path in feeds:
            cmd += ["--input", name + "=" + path]
        if tgt != "interp":
            cmd += ["--backend-opt", "executor=" + executor]
        if subprocess.run(cmd, capture_output=True).returncode:
            return None
        outs["interp" if tgt == "interp" else "npu"] = [load_pb(os.path.join(d, f"output_{i}.pb"))
                     for i in range(len(m.graph.output))]
    if inputs is None:
        import onnxruntime as ort
        sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
        ref = sess.run(None, {inp.name: x})
    else:
        d = os.path.dirname(inputs[0][1])
        ref = [load_pb(os.path.join(d, f"output_{i}.pb"))
               for i in range(len(m.graph.output))]
    # The quantum of each output: the scale of the DequantizeLinear making it.
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    makers = {o: n for n in m.graph.node for o in n.output}
    exact, quanta = True, 0.0
    for i, o in enumerate(m.graph.output):
        a, b = outs["npu"][i], outs["interp"][i]
        exact = exact and np.array_equal(a, b)
        n = makers.get(o.name)
        q = (float(inits[n.input[1]]) if n is not None and
             n.op_type == "DequantizeLinear" and n.input[1] in inits else None)
        diff = np.abs(a.astype(np.float64) - ref[i].astype(np.float64))
        quanta = max(quanta, float(diff.max()) / q if q else float("nan"))
    return exact, quanta


# Options of every `ember run` (--ember-arg).
EXTRA = []


def measure(ember, model, executor, target="npu-sim", inputs=None):
    cmd = [ember, "run", model, "--target=" + target, "--seed", "1",
           "--backend-opt", "executor=" + executor] + EXTRA
    for name, path in inputs or []:
        cmd += ["--input", name + "=" + path]
    r = subprocess.run(cmd, capture_output=True, text=True)
    out = r.stdout + r.stderr
    row = {"ok": r.returncode == 0}
    m = re.search(r"plugin_nodes=(\d+) fallback_nodes=(\d+)", out)
    if m:
        dev, host = int(m.group(1)), int(m.group(2))
        row["node_share"] = dev / max(1, dev + host)
    # (The summary line of npu-sim, "npu: ... npu_mac_share=S", or of a
    # plugin NPU, e.g. "second-npu: ... second-npu_mac_share=S".)
    m = re.search(r"npu: cycles=(\d+) mac_util=(\S+) .*npu_mac_share=(\S+)",
                  out)
    if m:
        row.update(cycles=int(m.group(1)), mac_util=float(m.group(2)),
                   mac_share=float(m.group(3)))
    # (The summary line's partitions= and host_nodes=, or the run's line,
    # for a build from before them: --ember of another checkout.)
    m = (re.search(r"npu: .* partitions=(\d+) host_nodes=(\d+)", out) or
         re.search(r"\bpartitions=(\d+) .*fallback_nodes=(\d+)", out))
    if m and "cycles" in row:
        row.update(partitions=int(m.group(1)), host_nodes=int(m.group(2)))
    m = re.search(r"\bpartitions=(\d+) plugin_partitions=0 plugin_nodes=0 "
                  r"fallback_nodes=(\d+)", out)
    if m and "cycles" not in row:
        # A plugin target that runs nothing: no npu: line.
        row.update(partitions=int(m.group(1)), host_nodes=int(m.group(2)),
                   node_share=0.0, mac_share=0.0, cycles=0, mac_util=0.0)
    if not row["ok"]:
        row["error"] = out.strip().splitlines()[-1] if out.strip() else "?"
    if "nothing in the model runs on" in out:
        # No node on the device: one host partition.
        m = re.search(r"and (\d+) more nodes", out)
        row.update(partitions=1, host_nodes=1 + int(m.group(1)) if m else 0,
                   node_share=0.0, mac_share=0.0, cycles=0, mac_util=0.0)
    return row


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--executor", default="golden")
    ap.add_argument("--target", default="npu-sim")
    ap.add_argument("--set", default=None)
    ap.add_argument("--ember-arg", action="append", default=[],
                    help="an option for every `ember run` (repeatable), "
                    "e.g. --ember-arg=--integer-recurrent")
    a = ap.parse_args()
    EXTRA.extend(a.ember_arg)
    os.makedirs(a.out, exist_ok=True)
    if a.set:
        root = (os.path.join(a.set, "qdq")
                if os.path.isdir(os.path.join(a.set, "qdq")) else a.set)
        cases = {n: os.path.join(root, n, "model.onnx")
                 for n in sorted(os.listdir(root))
                 if os.path.exists(os.path.join(root, n, "model.onnx"))}
    else:
        cases = MODELS
    print("| model | partitions | host nodes | node share | MAC share | "
          "cycles | mac_util | = interpreter | vs ONNX Runtime (quanta) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, make in cases.items():
        if a.only and not any(s in name for s in a.only):
            continue
        inputs = None
        if a.set:
            qdq = make
            inputs = case_inputs(qdq)
        else:
            rng = np.random.default_rng(7)
            fp32 = os.path.join(a.out, name + ".onnx")
            qdq = os.path.join(a.out, name + "-qdq.onnx")
            if not os.path.exists(qdq):
                onnx.save(make(rng), fp32)
                quantize(fp32, qdq, rng, CONV_ONLY if name in SLIM else None)
        r = measure(a.ember, qdq, a.executor, a.target, inputs)
        if "partitions" not in r:
            print(f"| {name} | error: {r.get('error', '?')} | | | | | | | |")
            sys.stdout.flush()
            continue
        # (A model of which the NPU runs nothing has no NPU output: "-".)
        c = (compare(a.ember, qdq, os.path.join(a.out, name + ".cmp"),
                     a.executor, a.target, inputs)
             if r.get("node_share", 0) > 0 else None)
        none = "-" if r.get("node_share", 0) == 0 else "?"
        same = none if c is None else "yes" if c[0] else "NO"
        ortq = none if c is None else f"{c[1]:.2f}"
        print(f"| {name} | {r['partitions']} | {r['host_nodes']} | "
              f"{r.get('node_share', 0):.3f} | {r['mac_share']:.3f} | "
              f"{r['cycles']} | {r['mac_util']:.3f} | {same} | {ortq} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
