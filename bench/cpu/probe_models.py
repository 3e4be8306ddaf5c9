#!/usr/bin/env python3
"""Architecture probes: small models of families the wider set does not
have, built with onnx.helper from seeded weights, to find where the CPU
backend is slow on shapes and ops it was never tuned on (the
recurrent cells ran on the interpreter, 38x slower than ONNX Runtime, until
this probe found it).

  python3 bench/cpu/probe_models.py OUT [--cases] [NAME...]
  python3 bench/cpu/compare_ort.py --ember build/bin/ember --target cpu \
      --threads 1,2 --runs 20 --rounds 3 OUT/*.onnx

With --cases each model is a test case folder (OUT/NAME/model.onnx and
test_data_set_0 with seeded inputs), so that an int8 QDQ copy is one more
command: python3 scripts/quantize-with-ort.py OUT/NAME OUT/NAME-qdq

  convnext     ConvNeXt blocks: 7x7 depthwise, channels-last LayerNorm via
               Transpose, MatMul MLPs with Gelu (Erf), 4x4/4 and 2x2/2 stems
  unet         U-Net: 3x3 conv pairs, 2x2 max pools, 2x2/2 ConvTranspose
               and skip Concats at 128x128
  deeplab      dilated 3x3s and an ASPP head (dilations 3/6/9, a pooled
               branch Expanded back), Resize linear align_corners to 129x129
  inception3   1x7 / 7x1 factorized convolutions, 3x3 average pools
               (count_include_pad 0), odd input 149x149
  effnet       EfficientNet-style: Swish (x * Sigmoid x), depthwise 3x3 and
               5x5 at strides 1/2, squeeze-and-excitation
  yolo, yolo_leaky  a YOLO-style CSP backbone at 320x320 with SiLU
               (YOLOv5/v8) or LeakyRelu 0.1 (YOLOv3/v4) after every conv
  audio1d      a wav2vec-style 1-D conv feature encoder on 16000 samples
               (kernel 10 stride 5, then 3/2 and 2/2), Gelu, a projection
  tcn1d        a temporal conv net: dilated causal 1-D convs (kernel 3,
               dilations 1-8, left padding), ReLU, residual Adds, BatchNorm
               folded, a 1-D max pool, a global average over time
  upsample1d   a vocoder-style 1-D decoder: ConvTranspose1d 16/8 and 8/4
               upsamplers, LeakyRelu, residual dilated 1-D convs, Tanh
  wav2vec      a wav2vec2-style encoder on 16000 samples: the 1-D feature
               convolutions with GroupNorm as PyTorch exports it (Reshape,
               InstanceNormalization, Reshape, Mul, Add), a grouped
               positional 1-D convolution (kernel 64, 16 groups), one
               transformer layer
  bertsmall    two BERT encoder layers at sequence 128, width 256, 4 heads
  resnet_b8    a CIFAR ResNet at batch 8
  gpt          a GPT-style decoder: token embedding Gather (int64 ids), causal
               mask by Where, fused QKV, tied output embedding (vocab 4096)
  superres     ESPCN-style super-resolution: Tanh/Relu convs, DepthToSpace 3x
  style        fast neural style: reflect Pads, InstanceNormalization,
               residual blocks, nearest 2x upsampling, 9x9 convolutions
  mixer        MLP-Mixer: token-mixing MatMuls over a transposed sequence
  video3d      C3D-style video classifier: 3x3x3 convolutions, 1x2x2 and
               2x2x2 max pools on a 16 x 112 x 112 clip
  x3d          X3D-style: (1,3,3) stem, depthwise (5,1,1) and 3x3x3
               convolutions with Swish, 1x1x1 expansions, residual Adds
  gpt_step     one decode step of gpt with a KV cache (past keys and values
               of 128 steps per layer as inputs, the Concats as outputs)
  swin         Swin-style: 4x4 patches, 7x7 window attention through 6-D
               Reshape/Transpose, shifted windows by Slice + Concat
  unet3d       nnU-Net-style 3-D U-Net on 1 x 32 x 64 x 64: 3x3x3 conv +
               InstanceNormalization + LeakyRelu pairs, strided 3-D convs,
               2x2x2 / 2 ConvTranspose upsampling, skip Concats
  pointnet     PointNet: 1x1 1-D convolutions over 2048 points, max over points
  textcnn      Kim's text CNN: embeddings, 1-D convolutions of widths 3/4/5,
               GlobalMaxPool over time
  conformer    Conformer ASR blocks: macaron Swish feed-forwards, attention,
               a conv module (pointwise, GLU by Slice, depthwise 1-D k=31)
  vae_dec      a Stable-Diffusion-style VAE decoder: GroupNormalization
               (opset 21) + Swish residual blocks, nearest 2x upsampling;
               vae_dec17 the same with GroupNorm as PyTorch exports it below
               opset 18 (Reshape, InstanceNormalization, Reshape)
  kws-lstm-*, lstm-*, bilstm-*, gru-*, rnn-*: stacked ONNX LSTM/GRU/RNN
               layers (forward, bidirectional, batch 1 to 8, widths 64 to
               512, 49 to 300 steps)
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dense_models import Builder, recurrent  # noqa: E402


def convnext(rng, size=128):
    b = Builder(rng)
    dims = [48, 96, 192, 384]
    x = b.op("Conv", ["image", b.normal((dims[0], 3, 4, 4), 0.1), b.normal((dims[0],), 0.02)],
             kernel_shape=[4, 4], strides=[4, 4])
    for s, d in enumerate(dims):
        if s:
            x = b.op("Conv", [x, b.normal((d, dims[s-1], 2, 2), np.sqrt(1/(dims[s-1]*4))), b.normal((d,), 0.02)],
                     kernel_shape=[2, 2], strides=[2, 2])
        for _ in range(2 if s != 2 else 3):
            y = b.op("Conv", [x, b.normal((d, 1, 7, 7), np.sqrt(1/49)), b.normal((d,), 0.02)],
                     kernel_shape=[7, 7], pads=[3]*4, group=d)
            y = b.op("Transpose", [y], perm=[0, 2, 3, 1])
            y = b.op("LayerNormalization", [y, b.const(np.ones(d, np.float32)), b.const(np.zeros(d, np.float32))], axis=-1, epsilon=1e-6)
            y = b.op("Add", [b.op("MatMul", [y, b.normal((d, 4*d), np.sqrt(1/d))]), b.normal((4*d,), 0.02)])
            y = b.gelu(y)
            y = b.op("Add", [b.op("MatMul", [y, b.normal((4*d, d), np.sqrt(1/(4*d)))]), b.normal((d,), 0.02)])
            y = b.op("Transpose", [y], perm=[0, 3, 1, 2])
            x = b.op("Add", [x, y])
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, dims[-1], 1000)
    return b.model("convnext_toy", "image", [1, 3, size, size], out, [1, 1000], opset=17)

def unet(rng, size=128):
    b = Builder(rng)
    x = "image"; cin = 3; skips = []
    for c in (32, 64, 128):
        x = b.conv(x, cin, c, 3); x = b.conv(x, c, c, 3)
        skips.append((x, c))
        x = b.op("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2]); cin = c
    x = b.conv(x, cin, 256, 3); x = b.conv(x, 256, 256, 3); cin = 256
    for sk, c in reversed(skips):
        x = b.deconv(x, cin, c, relu=False)
        x = b.op("Concat", [x, sk], axis=1)
        x = b.conv(x, 2*c, c, 3); x = b.conv(x, c, c, 3); cin = c
    out = b.conv(x, cin, 2, 1, relu=False)
    return b.model("unet_toy", "image", [1, 3, size, size], out, [1, 2, size, size])

def deeplab(rng, size=129):
    b = Builder(rng)
    x = b.conv("image", 3, 32, 3, stride=2)
    x = b.conv(x, 32, 64, 3, stride=2)
    x = b.conv(x, 64, 128, 3, stride=2)
    x = b.conv(x, 128, 128, 3, dilation=2)
    x = b.conv(x, 128, 128, 3, dilation=2)
    br = [b.conv(x, 128, 64, 1)]
    for d in (3, 6, 9):
        br.append(b.conv(x, 128, 64, 3, dilation=d))
    g = b.op("GlobalAveragePool", [x]); g = b.conv(g, 128, 64, 1)
    hw = (size + 7) // 8
    g = b.op("Expand", [g, b.shape([1, 64, hw, hw])])
    br.append(g)
    x = b.op("Concat", br, axis=1)
    x = b.conv(x, 320, 64, 1)
    x = b.conv(x, 64, 8, 1, relu=False)
    out = b.resize_sizes(x, [1, 8, size, size], "linear", "align_corners")
    return b.model("deeplab_toy", "image", [1, 3, size, size], out, [1, 8, size, size])

def inception3(rng, size=149):
    b = Builder(rng)
    x = b.conv("image", 3, 32, 3, stride=2)
    x = b.conv(x, 32, 64, 3)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2])
    x = b.conv(x, 64, 128, 3, stride=2); cin = 128
    for _ in range(3):
        b1 = b.conv(x, cin, 64, 1)
        b2 = b.conv(b.conv(b.conv(x, cin, 48, 1), 48, 48, (1, 7)), 48, 64, (7, 1))
        b3 = b.conv(x, cin, 48, 1)
        b3 = b.conv(b.conv(b3, 48, 48, (7, 1)), 48, 48, (1, 7))
        b3 = b.conv(b.conv(b3, 48, 48, (7, 1)), 48, 64, (1, 7))
        b4 = b.op("AveragePool", [x], kernel_shape=[3, 3], strides=[1, 1], pads=[1]*4, count_include_pad=0)
        b4 = b.conv(b4, cin, 64, 1)
        x = b.op("Concat", [b1, b2, b3, b4], axis=1); cin = 256
    x = b.op("GlobalAveragePool", [x]); x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, cin, 1000)
    return b.model("inception3_toy", "image", [1, 3, size, size], out, [1, 1000])

def effnet(rng, size=160):
    b = Builder(rng)
    x = b.conv("image", 3, 32, 3, stride=2, relu=False, act="Swish"); cin = 32
    for cout, k, s, e in ((16, 3, 1, 1), (24, 3, 2, 6), (40, 5, 2, 6), (80, 3, 2, 6), (112, 5, 1, 6), (192, 5, 2, 6)):
        m = cin * e
        y = b.conv(x, cin, m, 1, relu=False, act="Swish") if e != 1 else x
        y = b.conv(y, m, m, k, stride=s, group=m, relu=False, act="Swish")
        sq = b.op("GlobalAveragePool", [y])
        sq = b.conv(sq, m, max(1, cin // 4), 1, relu=False, act="Swish")
        sq = b.op("Sigmoid", [b.conv(sq, max(1, cin // 4), m, 1, relu=False)])
        y = b.op("Mul", [y, sq])
        y = b.conv(y, m, cout, 1, relu=False)
        if s == 1 and cin == cout:
            y = b.op("Add", [x, y])
        x = y; cin = cout
    x = b.conv(x, cin, 640, 1, relu=False, act="Swish")
    x = b.op("GlobalAveragePool", [x]); x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, 640, 1000)
    return b.model("effnet_toy", "image", [1, 3, size, size], out, [1, 1000])

def yolo(rng, act="Swish", size=320):
    """A YOLO-style CSP backbone: stride-2 3x3 convolutions, each stage a
    1x1 split, two 3x3s with a residual Add, a Concat and a 1x1 fuse; SiLU
    (x * Sigmoid x, YOLOv5/v8) or LeakyRelu 0.1 (YOLOv3/v4) after every
    convolution; an 85-channel head on the 1/32 map."""
    b = Builder(rng)

    def cba(x, cin, cout, k, s=1):
        if act == "LeakyRelu":
            return b.op("LeakyRelu", [b.conv(x, cin, cout, k, stride=s, relu=False)], alpha=0.1)
        return b.conv(x, cin, cout, k, stride=s, relu=False, act=act)
    x = cba("image", 3, 16, 3, 2); c = 16
    for cout in (32, 64, 128, 256):
        x = cba(x, c, cout, 3, 2)
        y1 = cba(x, cout, cout // 2, 1)
        y2 = cba(cba(y1, cout // 2, cout // 2, 3), cout // 2, cout // 2, 3)
        y2 = b.op("Add", [y1, y2])
        x = cba(b.op("Concat", [y1, y2], axis=1), cout, cout, 1); c = cout
    out = b.conv(x, c, 85, 1, relu=False)
    return b.model("yolo_toy", "image", [1, 3, size, size], out, [1, 85, size // 32, size // 32])

def audio1d(rng, n=16000):
    b = Builder(rng)
    x = "wave"; cin = 1
    for c, k, s in ((64, 10, 5), (64, 3, 2), (64, 3, 2), (128, 3, 2), (128, 3, 2), (128, 2, 2)):
        w = rng.normal(0, np.sqrt(2.0 / (cin * k)), (c, cin, k)).astype(np.float32)
        x = b.op("Conv", [x, b.const(w, "w")], kernel_shape=[k], strides=[s])
        x = b.gelu(x); cin = c
    x = b.op("Transpose", [x], perm=[0, 2, 1])  # [1, T, C]
    x = b.op("Add", [b.op("MatMul", [x, b.normal((cin, 128), np.sqrt(1/cin))]), b.normal((128,), 0.02)])
    out = b.op("ReduceMean", [x], axes=[1], keepdims=0)
    out = b.op("MatMul", [out, b.normal((128, 12), 0.1)])
    return b.model("audio1d_toy", "wave", [1, 1, n], out, [1, 12])

def tcn1d(rng, n=4000, ch=64, levels=4):
    b = Builder(rng)

    def conv(x, cin, cout, k, d=1):
        w = rng.normal(0, np.sqrt(2.0 / (cin * k)), (cout, cin, k)).astype(np.float32)
        y = b.op("Conv", [x, b.const(w, "w"), b.normal((cout,), 0.02)],
                 kernel_shape=[k], dilations=[d], pads=[(k - 1) * d, 0])
        g = b.const(rng.uniform(0.5, 1.5, cout).astype(np.float32), "g")
        z = b.const(np.zeros(cout, np.float32), "z")
        v = b.const(np.ones(cout, np.float32), "v")
        return b.op("BatchNormalization", [y, g, z, z, v])
    x = b.op("Relu", [conv("audio", 8, ch, 3)])
    for lv in range(levels):
        d = 2 ** lv
        h = b.op("Relu", [conv(x, ch, ch, 3, d)])
        h = conv(h, ch, ch, 3, d)
        x = b.op("Relu", [b.op("Add", [x, h])])
        if lv == 1:
            x = b.op("MaxPool", [x], kernel_shape=[2], strides=[2])
    out = b.op("ReduceMean", [x], axes=[2], keepdims=0)
    out = b.op("MatMul", [out, b.normal((ch, 10), 0.1)])
    return b.model("tcn1d_toy", "audio", [1, 8, n], out, [1, 10])

def upsample1d(rng, frames=100, mels=80, ch=128):
    b = Builder(rng)

    def conv(x, cin, cout, k, d=1):
        w = rng.normal(0, np.sqrt(1.0 / (cin * k)), (cout, cin, k)).astype(np.float32)
        p = (k - 1) * d // 2
        return b.op("Conv", [x, b.const(w, "w"), b.normal((cout,), 0.02)],
                    kernel_shape=[k], dilations=[d], pads=[p, p])
    x = conv("mel", mels, ch, 7); c = ch
    for up in (8, 4):
        w = rng.normal(0, np.sqrt(1.0 / (c * 2 * up)), (c, c // 2, 2 * up)).astype(np.float32)
        x = b.op("LeakyRelu", [x], alpha=0.1)
        x = b.op("ConvTranspose", [x, b.const(w, "wt"), b.normal((c // 2,), 0.02)],
                 kernel_shape=[2 * up], strides=[up], pads=[up // 2, up // 2])
        c //= 2
        for d in (1, 3):
            h = conv(b.op("LeakyRelu", [x], alpha=0.1), c, c, 3, d)
            x = b.op("Add", [x, h])
    out = b.op("Tanh", [conv(b.op("LeakyRelu", [x], alpha=0.1), c, 1, 7)])
    return b.model("upsample1d_toy", "mel", [1, mels, frames], out, [1, 1, frames * 32])

def wav2vec(rng, n=16000, ch=256, dim=256, heads=4):
    b = Builder(rng)

    def conv1d(x, cin, cout, k, s, group=1, pad=0):
        w = rng.normal(0, np.sqrt(2.0 / (cin // group * k)),
                       (cout, cin // group, k)).astype(np.float32)
        return b.op("Conv", [x, b.const(w, "w")], kernel_shape=[k],
                    strides=[s], group=group, pads=[pad, pad])

    def layer_norm(x, d):
        m = b.op("ReduceMean", [x], axes=[-1])
        c = b.op("Sub", [x, m])
        v = b.op("ReduceMean", [b.op("Mul", [c, c])], axes=[-1])
        r = b.op("Sqrt", [b.op("Add", [v, b.const(np.array(1e-5, np.float32))])])
        return b.op("Add", [b.op("Mul", [b.op("Div", [c, r]),
                                         b.normal((d,), 0.1)]),
                            b.normal((d,), 0.02)])

    def linear(x, ci, co):
        return b.op("Add", [b.op("MatMul", [x, b.normal((ci, co), np.sqrt(1 / ci))]),
                            b.normal((co,), 0.02)])
    x = conv1d("wave", 1, ch, 10, 5)
    # GroupNorm(ch groups): [1, ch, L] -> [1, ch, L] via InstanceNormalization.
    x = b.op("Reshape", [x, b.shape([1, ch, -1])])
    x = b.op("InstanceNormalization", [x, b.const(np.ones(ch, np.float32)),
                                       b.const(np.zeros(ch, np.float32))])
    x = b.op("Reshape", [x, b.shape([1, ch, -1])])
    x = b.op("Add", [b.op("Mul", [x, b.normal((ch, 1), 0.1)]), b.normal((ch, 1), 0.02)])
    x = b.gelu(x)
    for k, s in ((3, 2), (3, 2), (3, 2), (3, 2), (2, 2), (2, 2)):
        x = b.gelu(conv1d(x, ch, ch, k, s))
    x = b.op("Transpose", [x], perm=[0, 2, 1])  # [1, T, ch]
    x = linear(layer_norm(x, ch), ch, dim)
    # Positional convolution: grouped, kernel 64, same length (pad 32, one
    # extra frame dropped as wav2vec2 does with a Slice).
    p = b.op("Transpose", [x], perm=[0, 2, 1])
    p = b.gelu(conv1d(p, dim, dim, 64, 1, group=16, pad=32))
    p = b.op("Slice", [p, b.shape([0]), b.shape([-1]), b.shape([2])])
    x = b.op("Add", [x, b.op("Transpose", [p], perm=[0, 2, 1])])
    h = layer_norm(x, dim)
    hd = dim // heads
    def heads_of(t):
        t = b.op("Reshape", [t, b.shape([1, -1, heads, hd])])
        return b.op("Transpose", [t], perm=[0, 2, 1, 3])
    q, k_, v = (heads_of(linear(h, dim, dim)) for _ in range(3))
    a = b.op("MatMul", [q, b.op("Transpose", [k_], perm=[0, 1, 3, 2])])
    a = b.op("Softmax", [b.op("Mul", [a, b.const(np.array(hd ** -0.5, np.float32))])], axis=-1)
    o = b.op("Transpose", [b.op("MatMul", [a, v])], perm=[0, 2, 1, 3])
    o = b.op("Reshape", [o, b.shape([1, -1, dim])])
    x = b.op("Add", [x, linear(o, dim, dim)])
    x = b.op("Add", [x, linear(b.gelu(linear(layer_norm(x, dim), dim, 4 * dim)), 4 * dim, dim)])
    out = b.op("ReduceMean", [x], axes=[1], keepdims=0)
    return b.model("wav2vec_toy", "wave", [1, 1, n], out, [1, dim])

def bertsmall(rng, n=128, dim=256, heads=4, depth=2):
    b = Builder(rng); hd = dim // heads
    def ln(x):
        return b.op("LayerNormalization", [x, b.const(np.ones(dim, np.float32)), b.const(np.zeros(dim, np.float32))], axis=-1, epsilon=1e-12)
    def lin(x, ci, co):
        return b.op("Add", [b.op("MatMul", [x, b.normal((ci, co), np.sqrt(1/ci))]), b.normal((co,), 0.02)])
    x = "emb"
    for _ in range(depth):
        q, k, v = (b.op("Transpose", [b.op("Reshape", [lin(x, dim, dim), b.shape([1, n, heads, hd])])], perm=[0, 2, 1, 3]) for _ in range(3))
        kt = b.op("Transpose", [k], perm=[0, 1, 3, 2])
        a = b.op("Div", [b.op("MatMul", [q, kt]), b.const(np.array(np.sqrt(hd), np.float32))])
        a = b.op("Softmax", [a], axis=-1)
        o = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [a, v])], perm=[0, 2, 1, 3]), b.shape([1, n, dim])])
        x = ln(b.op("Add", [x, lin(o, dim, dim)]))
        h = b.gelu(lin(x, dim, 4*dim))
        x = ln(b.op("Add", [x, lin(h, 4*dim, dim)]))
    return b.model("bertsmall_toy", "emb", [1, n, dim], x, [1, n, dim], opset=17)

def resnet_b8(rng, size=32, batch=8):
    b = Builder(rng)
    x = b.conv("image", 3, 32); cin = 32
    for c, s in ((32, 1), (64, 2), (128, 2)):
        y = b.conv(x, cin, c, stride=s); y = b.conv(y, c, c, relu=False)
        sh = x if (s == 1 and cin == c) else b.conv(x, cin, c, k=1, stride=s, relu=False)
        x = b.op("Relu", [b.op("Add", [y, sh])]); cin = c
    x = b.op("GlobalAveragePool", [x]); x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, cin, 10)
    return b.model("resnet_b8", "image", [batch, 3, size, size], out, [batch, 10])


def rnn_stack(rng, kind="LSTM", T=50, I=40, H=128, layers=2, direction="forward", batch=1, layout=0, classes=12):
    b = Builder(rng)
    D = 2 if direction == "bidirectional" else 1
    x = "feat"; cin = I
    for l in range(layers):
        attrs = dict(layout=1) if layout else {}
        if kind == "GRU": attrs["linear_before_reset"] = 1
        y = recurrent(b, kind, x, cin, H, direction, **attrs)
        # Y [T,D,B,H] (layout 0) or [B,T,D,H] -> next input [T,B,D*H] / [B,T,D*H]
        if layout:
            x = b.op("Reshape", [y, b.shape([batch, T, D*H])])
        else:
            x = b.op("Reshape", [b.op("Transpose", [y], perm=[0, 2, 1, 3]), b.shape([T, batch, D*H])])
        cin = D*H
    last = b.op("ReduceMean", [x], axes=[1 if layout else 0], keepdims=0)
    out = b.op("MatMul", [last, b.normal((cin, classes), 0.1)])
    xs = [batch, T, I] if layout else [T, batch, I]
    return b.model(f"{kind.lower()}_toy", "feat", xs, out, [batch, classes], opset=14)

def _ln(b, x, d):
    return b.op("LayerNormalization", [x, b.const(np.ones(d, np.float32)),
                                       b.const(np.zeros(d, np.float32))],
                axis=-1, epsilon=1e-5)


def _lin(b, x, ci, co):
    return b.op("Add", [b.op("MatMul", [x, b.normal((ci, co), np.sqrt(1 / ci))]),
                        b.normal((co,), 0.02)])


def gpt(rng, n=128, vocab=4096, dim=256, heads=4, depth=2):
    b = Builder(rng); hd = dim // heads
    tok = b.normal((vocab, dim), 0.02); pos = b.normal((n, dim), 0.02)
    x = b.op("Add", [b.op("Gather", [tok, "ids"], axis=0), pos])
    mask = b.const(np.tril(np.ones((1, 1, n, n), bool)), "mask")
    neg = b.const(np.array(-3.4e38, np.float32))
    for _ in range(depth):
        h = _ln(b, x, dim)
        qkv = _lin(b, h, dim, 3 * dim)
        q, k, v = (b.op("Transpose", [b.op("Reshape", [b.op("Slice", [qkv, b.shape([i*dim]), b.shape([(i+1)*dim]), b.shape([2])]), b.shape([1, n, heads, hd])])], perm=[0, 2, 1, 3]) for i in range(3))
        a = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])
        a = b.op("Div", [a, b.const(np.array(np.sqrt(hd), np.float32))])
        a = b.op("Where", [mask, a, neg])
        a = b.op("Softmax", [a], axis=-1)
        o = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [a, v])], perm=[0, 2, 1, 3]), b.shape([1, n, dim])])
        x = b.op("Add", [x, _lin(b, o, dim, dim)])
        h = _ln(b, x, dim)
        h = _lin(b, b.gelu(_lin(b, h, dim, 4 * dim)), 4 * dim, dim)
        x = b.op("Add", [x, h])
    x = _ln(b, x, dim)
    logits = b.op("MatMul", [x, b.op("Transpose", [tok], perm=[1, 0])])
    g = helper.make_graph(b.nodes, "gpt_toy",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, n])],
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, n, vocab])], b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m); return m


def superres(rng, size=224, r=3):
    b = Builder(rng)
    x = b.conv("image", 1, 64, k=5, relu=False, act="Tanh")
    x = b.conv(x, 64, 64, relu=True)
    x = b.conv(x, 64, 32, relu=True)
    x = b.conv(x, 32, r * r, relu=False)
    x = b.op("DepthToSpace", [x], blocksize=r, mode="CRD")
    return b.model("superres_toy", "image", [1, 1, size, size], x, [1, 1, size * r, size * r], opset=13)


def video3d(rng, t=16, size=112, classes=101):
    b = Builder(rng)
    def c3(x, ci, co):
        w = rng.normal(0, np.sqrt(2.0 / (ci * 27)), (co, ci, 3, 3, 3)).astype(np.float32)
        y = b.op("Conv", [x, b.const(w, "w"), b.normal((co,), 0.05)], kernel_shape=[3, 3, 3], pads=[1] * 6)
        return b.op("Relu", [y])
    x = c3("clip", 3, 32)
    x = b.op("MaxPool", [x], kernel_shape=[1, 2, 2], strides=[1, 2, 2])
    x = c3(x, 32, 64)
    x = b.op("MaxPool", [x], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
    x = c3(x, 64, 128); x = c3(x, 128, 128)
    x = b.op("MaxPool", [x], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
    x = c3(x, 128, 256)
    x = b.op("GlobalAveragePool", [x]); x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, 256, classes)
    return b.model("video3d_toy", "clip", [1, 3, t, size, size], out, [1, classes])


def style(rng, size=224):
    b = Builder(rng)
    def inorm(x, c):
        return b.op("InstanceNormalization", [x, b.normal((c,), 0.1), b.normal((c,), 0.02)], epsilon=1e-5)
    def cl(x, ci, co, k, s=1):
        p = k // 2
        x = b.op("Pad", [x, b.shape([0, 0, p, p, 0, 0, p, p])], mode="reflect")
        w = rng.normal(0, np.sqrt(2.0 / (ci * k * k)), (co, ci, k, k)).astype(np.float32)
        return b.op("Conv", [x, b.const(w, "w"), b.normal((co,), 0.05)], kernel_shape=[k, k], strides=[s, s])
    x = b.op("Relu", [inorm(cl("image", 3, 32, 9), 32)])
    x = b.op("Relu", [inorm(cl(x, 32, 64, 3, 2), 64)])
    x = b.op("Relu", [inorm(cl(x, 64, 128, 3, 2), 128)])
    for _ in range(3):
        y = b.op("Relu", [inorm(cl(x, 128, 128, 3), 128)])
        x = b.op("Add", [x, inorm(cl(y, 128, 128, 3), 128)])
    for ci, co in ((128, 64), (64, 32)):
        x = b.resize_scales(x, 2.0, "nearest", "asymmetric", "floor")
        x = b.op("Relu", [inorm(cl(x, ci, co, 3), co)])
    x = cl(x, 32, 3, 9)
    return b.model("style_toy", "image", [1, 3, size, size], x, [1, 3, size, size], opset=13)


def mixer(rng, size=224, patch=16, dim=256, depth=4, classes=1000):
    b = Builder(rng); n = (size // patch) ** 2
    w = rng.normal(0, np.sqrt(1.0 / (3 * patch * patch)), (dim, 3, patch, patch)).astype(np.float32)
    x = b.op("Conv", ["image", b.const(w, "w"), b.normal((dim,), 0.02)], kernel_shape=[patch, patch], strides=[patch, patch])
    x = b.op("Transpose", [b.op("Reshape", [x, b.shape([1, dim, n])])], perm=[0, 2, 1])  # [1,n,dim]
    for _ in range(depth):
        h = b.op("Transpose", [_ln(b, x, dim)], perm=[0, 2, 1])  # [1,dim,n]
        h = _lin(b, b.gelu(_lin(b, h, n, n)), n, n)
        x = b.op("Add", [x, b.op("Transpose", [h], perm=[0, 2, 1])])
        h = _lin(b, b.gelu(_lin(b, _ln(b, x, dim), dim, 4 * dim)), 4 * dim, dim)
        x = b.op("Add", [x, h])
    x = b.op("ReduceMean", [_ln(b, x, dim)], axes=[1], keepdims=0)
    out = _lin(b, x, dim, classes)
    return b.model("mixer_toy", "image", [1, 3, size, size], out, [1, classes], opset=17)


def x3d(rng, t=8, size=112, classes=101):
    b = Builder(rng)
    def c3(x, ci, co, k, s=(1, 1, 1), group=1, act="Relu"):
        w = rng.normal(0, np.sqrt(2.0 / (ci // group * int(np.prod(k)))), (co, ci // group) + tuple(k)).astype(np.float32)
        y = b.op("Conv", [x, b.const(w, "w"), b.normal((co,), 0.05)], kernel_shape=list(k), strides=list(s), group=group, pads=[kk // 2 for kk in k] * 2)
        if act == "Swish":
            return b.op("Mul", [y, b.op("Sigmoid", [y])])
        return b.op(act, [y]) if act else y
    x = c3("clip", 3, 24, (1, 3, 3), (1, 2, 2), act=None)
    x = c3(x, 24, 24, (5, 1, 1), group=24)
    cin = 24
    for cout, s in ((48, 2), (96, 2), (192, 2)):
        h = c3(x, cin, cout * 2, (1, 1, 1))
        h = c3(h, cout * 2, cout * 2, (3, 3, 3), (1, s, s), group=cout * 2, act="Swish")
        h = c3(h, cout * 2, cout, (1, 1, 1), act=None)
        sc = c3(x, cin, cout, (1, 1, 1), (1, s, s), act=None)
        x = b.op("Relu", [b.op("Add", [h, sc])]); cin = cout
    x = b.op("GlobalAveragePool", [x]); x = b.op("Flatten", [x], axis=1)
    out = b.gemm(x, cin, classes)
    return b.model("x3d_toy", "clip", [1, 3, t, size, size], out, [1, classes])


def gpt_step(rng, past=128, vocab=4096, dim=256, heads=4, depth=2):
    """One decode step with a KV cache: ids [1,1], past K/V per layer [1,h,past,hd]."""
    b = Builder(rng); hd = dim // heads
    tok = b.normal((vocab, dim), 0.02); pos = b.normal((1, dim), 0.02)
    x = b.op("Add", [b.op("Gather", [tok, "ids"], axis=0), pos])
    ins = [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, 1])]
    outs = []
    for l in range(depth):
        pk, pv = f"past_k{l}", f"past_v{l}"
        ins += [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, heads, past, hd]) for n in (pk, pv)]
        h = _ln(b, x, dim)
        qkv = _lin(b, h, dim, 3 * dim)
        q, k, v = (b.op("Transpose", [b.op("Reshape", [b.op("Slice", [qkv, b.shape([i*dim]), b.shape([(i+1)*dim]), b.shape([2])]), b.shape([1, 1, heads, hd])])], perm=[0, 2, 1, 3]) for i in range(3))
        k = b.op("Concat", [pk, k], axis=2); v = b.op("Concat", [pv, v], axis=2)
        outs += [k, v]
        a = b.op("MatMul", [q, b.op("Transpose", [k], perm=[0, 1, 3, 2])])
        a = b.op("Softmax", [b.op("Div", [a, b.const(np.array(np.sqrt(hd), np.float32))])], axis=-1)
        o = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [a, v])], perm=[0, 2, 1, 3]), b.shape([1, 1, dim])])
        x = b.op("Add", [x, _lin(b, o, dim, dim)])
        x = b.op("Add", [x, _lin(b, b.gelu(_lin(b, _ln(b, x, dim), dim, 4 * dim)), 4 * dim, dim)])
    logits = b.op("MatMul", [_ln(b, x, dim), b.op("Transpose", [tok], perm=[1, 0])])
    g = helper.make_graph(b.nodes, "gpt_step", ins,
        [helper.make_tensor_value_info(logits, TensorProto.FLOAT, [1, 1, vocab])] +
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, [1, heads, past + 1, hd]) for o in outs], b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
    onnx.checker.check_model(m); return m


def swin(rng, size=224, patch=4, dim=96, win=7, heads=3, depth=2, classes=1000):
    """Swin-style: patch embed, window attention via 6-D Reshape/Transpose, shifted windows by Slice+Concat (roll)."""
    b = Builder(rng); H = size // patch; hd = dim // heads; nw = H // win
    w = rng.normal(0, np.sqrt(1.0 / (3 * patch * patch)), (dim, 3, patch, patch)).astype(np.float32)
    x = b.op("Conv", ["image", b.const(w, "w"), b.normal((dim,), 0.02)], kernel_shape=[patch, patch], strides=[patch, patch])
    x = b.op("Transpose", [x], perm=[0, 2, 3, 1])  # [1,H,W,C]
    def roll(t, s, axis):
        a = b.op("Slice", [t, b.shape([s]), b.shape([H]), b.shape([axis])])
        c = b.op("Slice", [t, b.shape([0]), b.shape([s]), b.shape([axis])])
        return b.op("Concat", [a, c], axis=axis)
    for i in range(depth):
        sc = x
        h = _ln(b, x, dim)
        if i % 2: h = roll(roll(h, win // 2, 1), win // 2, 2)
        h = b.op("Reshape", [h, b.shape([1, nw, win, nw, win, dim])])
        h = b.op("Transpose", [h], perm=[0, 1, 3, 2, 4, 5])
        h = b.op("Reshape", [h, b.shape([nw * nw, win * win, dim])])
        qkv = _lin(b, h, dim, 3 * dim)
        qkv = b.op("Transpose", [b.op("Reshape", [qkv, b.shape([nw * nw, win * win, 3, heads, hd])])], perm=[2, 0, 3, 1, 4])
        q, k, v = (b.op("Squeeze", [b.op("Slice", [qkv, b.shape([j]), b.shape([j + 1]), b.shape([0])]), b.shape([0])]) for j in range(3))
        a = b.op("MatMul", [b.op("Mul", [q, b.const(np.array(hd ** -0.5, np.float32))]), b.op("Transpose", [k], perm=[0, 1, 3, 2])])
        a = b.op("Add", [a, b.normal((1, heads, win * win, win * win), 0.1)])
        a = b.op("Softmax", [a], axis=-1)
        o = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [a, v])], perm=[0, 2, 1, 3]), b.shape([nw * nw, win * win, dim])])
        o = _lin(b, o, dim, dim)
        o = b.op("Reshape", [o, b.shape([1, nw, nw, win, win, dim])])
        o = b.op("Transpose", [o], perm=[0, 1, 3, 2, 4, 5])
        o = b.op("Reshape", [o, b.shape([1, H, H, dim])])
        if i % 2: o = roll(roll(o, H - win // 2, 1), H - win // 2, 2)
        x = b.op("Add", [sc, o])
        x = b.op("Add", [x, _lin(b, b.gelu(_lin(b, _ln(b, x, dim), dim, 4 * dim)), 4 * dim, dim)])
    x = b.op("ReduceMean", [_ln(b, x, dim)], axes=[1, 2], keepdims=0)
    out = _lin(b, x, dim, classes)
    return b.model("swin_toy", "image", [1, 3, size, size], out, [1, classes], opset=17)


def unet3d(rng, size=64, depth=32, ch=16, classes=3):
    """nnU-Net-style 3-D U-Net: conv-InstanceNorm-LeakyRelu pairs, strided conv downsampling, 2x2x2 ConvTranspose upsampling, skip Concats."""
    b = Builder(rng)
    def block(x, ci, co, s=1):
        w = rng.normal(0, np.sqrt(2.0 / (ci * 27)), (co, ci, 3, 3, 3)).astype(np.float32)
        y = b.op("Conv", [x, b.const(w, "w"), b.normal((co,), 0.05)], kernel_shape=[3, 3, 3], pads=[1] * 6, strides=[s] * 3)
        y = b.op("InstanceNormalization", [y, b.normal((co,), 0.1), b.normal((co,), 0.02)], epsilon=1e-5)
        return b.op("LeakyRelu", [y], alpha=0.01)
    x = block(block("vol", 1, ch), ch, ch); skips = [(x, ch)]; c = ch
    for _ in range(2):
        x = block(block(x, c, 2 * c, 2), 2 * c, 2 * c); c *= 2; skips.append((x, c))
    skips.pop()
    for sx, sc in reversed(skips):
        w = rng.normal(0, np.sqrt(2.0 / (c * 8)), (c, sc, 2, 2, 2)).astype(np.float32)
        x = b.op("ConvTranspose", [x, b.const(w, "w")], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        x = b.op("Concat", [x, sx], axis=1)
        x = block(block(x, 2 * sc, sc), sc, sc); c = sc
    w = rng.normal(0, np.sqrt(1.0 / c), (classes, c, 1, 1, 1)).astype(np.float32)
    out = b.op("Conv", [x, b.const(w, "w")], kernel_shape=[1, 1, 1])
    return b.model("unet3d_toy", "vol", [1, 1, depth, size, size], out, [1, classes, depth, size, size])


def pointnet(rng, pts=2048, classes=40):
    """PointNet classifier: shared MLPs as 1-D 1x1 convolutions over the
    points, a max over points (ReduceMax), two Gemms."""
    b = Builder(rng)
    x = b.op("Transpose", ["points"], perm=[0, 2, 1])  # [1, 3, N]
    cin = 3
    for c in (64, 128, 1024):
        w = rng.normal(0, np.sqrt(2.0 / cin), (c, cin, 1)).astype(np.float32)
        x = b.op("Relu", [b.op("Conv", [x, b.const(w, "w"), b.normal((c,), 0.05)],
                               kernel_shape=[1])])
        cin = c
    x = b.op("ReduceMax", [x, b.shape([2])], keepdims=0)
    x = b.op("Relu", [b.gemm(x, 1024, 256)])
    out = b.gemm(x, 256, classes)
    return b.model("pointnet_toy", "points", [1, pts, 3], out, [1, classes],
                   opset=18)


def textcnn(rng, n=256, vocab=20000, dim=300, ch=256, classes=5):
    """Kim's text CNN: word embeddings (Gather), 1-D convolutions of widths
    3, 4 and 5 with Relu, a max over time each (GlobalMaxPool), a Gemm."""
    b = Builder(rng)
    emb = b.normal((vocab, dim), 0.1)
    x = b.op("Transpose", [b.op("Gather", [emb, "ids"], axis=0)], perm=[0, 2, 1])
    pooled = []
    for k in (3, 4, 5):
        w = rng.normal(0, np.sqrt(2.0 / (dim * k)), (ch, dim, k)).astype(np.float32)
        y = b.op("Relu", [b.op("Conv", [x, b.const(w, "w"), b.normal((ch,), 0.05)],
                               kernel_shape=[k])])
        pooled.append(b.op("Flatten", [b.op("GlobalMaxPool", [y])], axis=1))
    out = b.gemm(b.op("Concat", pooled, axis=1), 3 * ch, classes)
    g = helper.make_graph(b.nodes, "textcnn_toy",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, [1, n])],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, classes])], b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def conformer(rng, T=200, dim=144, heads=4, depth=2, k=31):
    b = Builder(rng); hd = dim // heads
    x = "feat"
    for _ in range(depth):
        x = b.op("Add", [x, b.op("Mul", [_lin(b, b.op("Mul", [h := _lin(b, _ln(b, x, dim), dim, 4 * dim), b.op("Sigmoid", [h])]), 4 * dim, dim), b.const(np.array(0.5, np.float32))])])
        hh = _ln(b, x, dim)
        q, kk, v = (b.op("Transpose", [b.op("Reshape", [_lin(b, hh, dim, dim), b.shape([1, T, heads, hd])])], perm=[0, 2, 1, 3]) for _ in range(3))
        a = b.op("Softmax", [b.op("Mul", [b.op("MatMul", [q, b.op("Transpose", [kk], perm=[0, 1, 3, 2])]), b.const(np.array(hd ** -0.5, np.float32))])], axis=-1)
        o = b.op("Reshape", [b.op("Transpose", [b.op("MatMul", [a, v])], perm=[0, 2, 1, 3]), b.shape([1, T, dim])])
        x = b.op("Add", [x, _lin(b, o, dim, dim)])
        # conv module: pointwise -> GLU -> depthwise 1-D -> BN folded -> Swish -> pointwise
        c = b.op("Transpose", [_ln(b, x, dim)], perm=[0, 2, 1])
        w = rng.normal(0, np.sqrt(1 / dim), (2 * dim, dim, 1)).astype(np.float32)
        c = b.op("Conv", [c, b.const(w, "w")], kernel_shape=[1])
        g1 = b.op("Slice", [c, b.shape([0]), b.shape([dim]), b.shape([1])]); g2 = b.op("Slice", [c, b.shape([dim]), b.shape([2 * dim]), b.shape([1])])
        c = b.op("Mul", [g1, b.op("Sigmoid", [g2])])
        w = rng.normal(0, np.sqrt(1 / k), (dim, 1, k)).astype(np.float32)
        c = b.op("Conv", [c, b.const(w, "w"), b.normal((dim,), 0.02)], kernel_shape=[k], group=dim, pads=[k // 2, k // 2])
        c = b.op("Mul", [c, b.op("Sigmoid", [c])])
        w = rng.normal(0, np.sqrt(1 / dim), (dim, dim, 1)).astype(np.float32)
        c = b.op("Conv", [c, b.const(w, "w")], kernel_shape=[1])
        x = b.op("Add", [x, b.op("Transpose", [c], perm=[0, 2, 1])])
        x = _ln(b, x, dim)
    return b.model("conformer_toy", "feat", [1, T, dim], x, [1, T, dim], opset=17)


def vae_dec(rng, size=32, ch=128, exported=False):
    b = Builder(rng)
    def gn(x, c):
        if exported:  # PyTorch's GroupNorm export below opset 18
            r = b.op("Reshape", [x, b.shape([1, 32, -1])])
            r = b.op("InstanceNormalization", [r, b.const(np.ones(32, np.float32)),
                                               b.const(np.zeros(32, np.float32))], epsilon=1e-6)
            r = b.op("Reshape", [r, b.op("Shape", [x])])
            return b.op("Add", [b.op("Mul", [r, b.normal((c, 1, 1), 0.1)]),
                                b.normal((c, 1, 1), 0.02)])
        return b.op("GroupNormalization", [x, b.const(np.ones(c, np.float32)), b.const(np.zeros(c, np.float32))], num_groups=32, epsilon=1e-6)
    def res(x, c):
        h = b.conv(b.op("Mul", [g := gn(x, c), b.op("Sigmoid", [g])]), c, c, relu=False)
        h = b.conv(b.op("Mul", [g2 := gn(h, c), b.op("Sigmoid", [g2])]), c, c, relu=False)
        return b.op("Add", [x, h])
    x = b.conv("z", 4, ch, relu=False)
    x = res(x, ch)
    s = size
    for _ in range(2):
        x = b.resize_scales(x, 2.0, "nearest", "asymmetric", "floor"); s *= 2
        x = b.conv(x, ch, ch, relu=False); x = res(x, ch)
    x = b.conv(b.op("Mul", [g := gn(x, ch), b.op("Sigmoid", [g])]), ch, 3, relu=False)
    return b.model("vae_dec_toy", "z", [1, 4, size, size], x, [1, 3, s, s],
                   opset=17 if exported else 21)


RNN_SET = {
    "kws-lstm-t49-h64": dict(kind="LSTM", T=49, I=10, H=64, layers=2),
    "kws-lstm-t49-h256": dict(kind="LSTM", T=49, I=40, H=256, layers=1),
    "lstm-t100-h128-b8": dict(kind="LSTM", T=100, I=40, H=128, layers=2,
                              batch=8),
    "bilstm-t75-h96": dict(kind="LSTM", T=75, I=64, H=96, layers=2,
                           direction="bidirectional"),
    "gru-t100-h128": dict(kind="GRU", T=100, I=40, H=128, layers=2),
    "gru-t50-h200-b4": dict(kind="GRU", T=50, I=80, H=200, layers=1, batch=4),
    "rnn-t200-h64": dict(kind="RNN", T=200, I=16, H=64, layers=2),
    "lstm-t300-h512": dict(kind="LSTM", T=300, I=80, H=512, layers=1),
}

MODELS = dict(convnext=convnext, unet=unet, deeplab=deeplab,
              inception3=inception3, effnet=effnet, audio1d=audio1d,
              tcn1d=tcn1d, upsample1d=upsample1d, wav2vec=wav2vec,
              bertsmall=bertsmall, resnet_b8=resnet_b8, yolo=yolo,
              yolo_leaky=lambda rng: yolo(rng, act="LeakyRelu"), gpt=gpt,
              superres=superres, style=style, mixer=mixer, video3d=video3d,
              x3d=x3d, gpt_step=gpt_step, swin=swin, unet3d=unet3d,
              pointnet=pointnet, textcnn=textcnn, conformer=conformer,
              vae_dec=vae_dec,
              vae_dec17=lambda rng: vae_dec(rng, exported=True))


def write_case(model, folder, rng):
    """The model as a test case folder (model.onnx, test_data_set_0 with
    seeded inputs: floats from a normal distribution, integer ids below the
    Gather table's rows), which scripts/quantize-with-ort.py takes."""
    from onnx import numpy_helper
    ds = os.path.join(folder, "test_data_set_0")
    os.makedirs(ds, exist_ok=True)
    onnx.save(model, os.path.join(folder, "model.onnx"))
    rows = min([int(i.dims[0]) for i in model.graph.initializer
                if len(i.dims) == 2] or [2])
    for i, vi in enumerate(model.graph.input):
        shape = [d.dim_value for d in vi.type.tensor_type.shape.dim]
        if vi.type.tensor_type.elem_type == TensorProto.INT64:
            a = rng.integers(0, rows, shape).astype(np.int64)
        else:
            a = rng.standard_normal(shape).astype(np.float32)
        onnx.save_tensor(numpy_helper.from_array(a, vi.name),
                         os.path.join(ds, f"input_{i}.pb"))


def main():
    args = [a for a in sys.argv[1:] if a != "--cases"]
    cases = len(args) < len(sys.argv) - 1
    if not args or args[0].startswith("-"):
        print(__doc__)
        print("names:", " ".join(list(MODELS) + list(RNN_SET)))
        sys.exit(0 if args and args[0] in ("-h", "--help") else 2)
    out = args[0]
    names = args[1:]
    os.makedirs(out, exist_ok=True)
    todo = [(n, lambda rng, f=f: f(rng)) for n, f in MODELS.items()]
    todo += [(n, lambda rng, kw=kw: rnn_stack(rng, **kw))
             for n, kw in RNN_SET.items()]
    for name, make in todo:
        if names and name not in names:
            continue
        model = make(np.random.default_rng(7))
        if cases:
            write_case(model, os.path.join(out, name), np.random.default_rng(1))
        else:
            onnx.save(model, os.path.join(out, name + ".onnx"))
        print("wrote", name)


if __name__ == "__main__":
    main()
