"""Detection and segmentation models of the wider benchmark set, built
with onnx.helper from seeded random weights (no download, no ../shared):

  dbnet-toy   a DBNet-style text detector: a 5-stage stride-2 backbone
              (3x3 convolutions + Relu, 16..256 channels), an FPN whose
              top-down path upsamples with Resize nearest (2x, scales) and
              whose four levels are brought to 1/4 resolution by Resize
              nearest (8x, 4x, 2x) and concatenated; the probability head is
              Conv + two ConvTranspose 2x2/2 + Sigmoid, at full resolution.
  fpnseg-toy  a small FPN segmentation model: the same backbone, top-down
              Resize linear (half_pixel, sizes), levels merged by Resize
              linear (pytorch_half_pixel, scales), a Conv classifier with 8
              classes and a final Resize linear (align_corners) to the input
              size, plus a ConvTranspose in the decoder.
  mnv3-toy    a MobileNetV3-Small-style classifier (224x224, opset 14):
              inverted residual blocks with depthwise 3x3 and 5x5
              convolutions, HardSwish and Relu activations,
              squeeze-and-excitation (GlobalAveragePool, two 1x1
              convolutions, HardSigmoid, Mul), residual Adds, a
              GlobalAveragePool + Flatten + Gemm/HardSwish/Gemm head: the
              graph torchvision's mobilenet_v3_small exports, BatchNorm
              folded into the convolutions as exporters do.
  vit-toy     a ViT/DeiT-Tiny-style image transformer (224x224, opset 17):
              a 16x16/16 patch-embedding Conv, a class token (Concat) and
              position embeddings, 4 pre-norm encoder blocks of width 192
              (LayerNormalization, fused QKV MatMul, 3 heads of 64 with
              batched MatMuls, Softmax, Gelu written as Erf as exporters do
              below opset 20, residual Adds) and a LayerNormalization +
              Gemm head on the class token.
  resnext-toy a ResNeXt-50-32x4d-style classifier (224x224): a 7x7/2 stem
              and 3x3/2 max pool, then one bottleneck block per stage at
              widths 128, 256, 512 and 1024 (1x1 reduce, a grouped 3x3 of
              cardinality 32, strided in stages 2-4, 1x1 expand, a 1x1
              projection shortcut, residual Add + Relu), GlobalAveragePool,
              Flatten and a Gemm: grouped convolutions of 4 to 32 channels
              per group.
  kws-lstm-toy a keyword-spotting LSTM (the "Hello Edge" LSTM family): 49
              frames of 40 MFCC/filterbank features, two stacked LSTMs of
              width 128 (the first's Y reshaped into the second's X), the
              last step's state and a Gemm to 12 keywords.
  crnn-toy    a CRNN text/speech recognizer: a 4-stage conv front end on a
              32 x 128 gray image (3x3 convolutions + Relu, max pools that
              halve the height only in the last two stages), the feature
              map turned into a sequence of 32 columns (Transpose +
              Reshape), two bidirectional GRUs of width 96
              (linear_before_reset 1, as PyTorch exports), a MatMul to 37
              classes per step and LogSoftmax.

Weights are He-scaled so activations stay O(1) through the network.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits = [], []
        self.n = 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, arr, base="c"):
        nm = self.name(base)
        self.inits.append(numpy_helper.from_array(arr, nm))
        return nm

    def op(self, op_type, inputs, **attrs):
        out = self.name(op_type.lower())
        self.nodes.append(helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def normal(self, shape, std):
        """A constant drawn from a normal of width std."""
        return self.const(self.rng.normal(0, std, shape).astype(np.float32))

    def shape(self, vals):
        """An int64 constant (a shape, axes, indices)."""
        return self.const(np.array(vals, np.int64), "shape")

    def gelu(self, h):
        """Gelu as exported models spell it: 0.5 h (1 + erf(h / sqrt 2))."""
        e = self.op("Erf", [self.op("Div", [h, self.const(
            np.array(np.sqrt(2.0), np.float32))])])
        e = self.op("Add", [e, self.const(np.array(1.0, np.float32))])
        return self.op("Mul", [self.op("Mul", [h, e]),
                               self.const(np.array(0.5, np.float32))])

    def conv(self, x, cin, cout, k=3, stride=1, relu=True, group=1,
             act=None, dilation=1):
        """A k x k (or k = (kh, kw)) convolution with same padding and its
        activation: Relu when relu is set, else act if given (an op type
        such as "HardSwish", or "Swish": x * Sigmoid(x))."""
        kh, kw = (k, k) if isinstance(k, int) else k
        w = self.rng.normal(0, np.sqrt(2.0 / (cin // group * kh * kw)),
                            (cout, cin // group, kh, kw)).astype(np.float32)
        b = self.rng.normal(0, 0.05, cout).astype(np.float32)
        attrs = dict(kernel_shape=[kh, kw], strides=[stride, stride],
                     pads=[dilation * (kh // 2), dilation * (kw // 2)] * 2,
                     group=group)
        if dilation != 1:
            attrs["dilations"] = [dilation, dilation]
        y = self.op("Conv", [x, self.const(w, "w"), self.const(b, "b")],
                    **attrs)
        if relu:
            return self.op("Relu", [y])
        if act == "Swish":
            return self.op("Mul", [y, self.op("Sigmoid", [y])])
        return self.op(act, [y]) if act else y

    def gemm(self, x, cin, cout):
        w = self.rng.normal(0, np.sqrt(2.0 / cin),
                            (cout, cin)).astype(np.float32)
        b = self.rng.normal(0, 0.05, cout).astype(np.float32)
        return self.op("Gemm", [x, self.const(w, "w"), self.const(b, "b")],
                       transB=1)

    def deconv(self, x, cin, cout, relu=True):
        w = self.rng.normal(0, np.sqrt(2.0 / (cin * 4)),
                            (cin, cout, 2, 2)).astype(np.float32)
        b = self.rng.normal(0, 0.05, cout).astype(np.float32)
        y = self.op("ConvTranspose", [x, self.const(w, "w"),
                                      self.const(b, "b")],
                    kernel_shape=[2, 2], strides=[2, 2])
        return self.op("Relu", [y]) if relu else y

    def resize_scales(self, x, s, mode, ctm, nearest_mode=None):
        attrs = dict(mode=mode, coordinate_transformation_mode=ctm)
        if nearest_mode:
            attrs["nearest_mode"] = nearest_mode
        scales = self.const(np.array([1, 1, s, s], np.float32), "scales")
        return self.op("Resize", [x, "", scales], **attrs)

    def resize_sizes(self, x, sizes, mode, ctm):
        sz = self.const(np.array(sizes, np.int64), "sizes")
        return self.op("Resize", [x, "", "", sz], mode=mode,
                       coordinate_transformation_mode=ctm)

    def model(self, name, x_name, x_shape, out, out_shape, opset=13):
        g = helper.make_graph(
            self.nodes, name,
            [helper.make_tensor_value_info(x_name, TensorProto.FLOAT,
                                           x_shape)],
            [helper.make_tensor_value_info(out, TensorProto.FLOAT,
                                           out_shape)],
            self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
        m.ir_version = 7
        onnx.checker.check_model(m)
        return m


def backbone(b, x):
    chans = [3, 16, 32, 64, 128, 256]
    feats = []
    for i in range(5):
        x = b.conv(x, chans[i], chans[i + 1], stride=2)
        x = b.conv(x, chans[i + 1], chans[i + 1])
        feats.append(x)
    return feats[1:], chans[2:]  # 1/4, 1/8, 1/16, 1/32


def dbnet(rng, size=320):
    b = Builder(rng)
    (c2, c3, c4, c5), ch = backbone(b, "image")
    lat = [b.conv(c, k, 64, k=1, relu=False)
           for c, k in zip((c2, c3, c4, c5), ch)]
    p5 = lat[3]
    p4 = b.op("Add", [lat[2], b.resize_scales(p5, 2, "nearest", "asymmetric",
                                              "floor")])
    p3 = b.op("Add", [lat[1], b.resize_scales(p4, 2, "nearest", "asymmetric",
                                              "floor")])
    p2 = b.op("Add", [lat[0], b.resize_scales(p3, 2, "nearest", "asymmetric",
                                              "floor")])
    outs = []
    for p, s in ((p5, 8), (p4, 4), (p3, 2), (p2, 1)):
        q = b.conv(p, 64, 16, relu=False)
        outs.append(q if s == 1 else
                    b.resize_scales(q, s, "nearest", "asymmetric", "floor"))
    fuse = b.op("Concat", outs, axis=1)
    h = b.conv(fuse, 64, 16)
    h = b.deconv(h, 16, 16)
    h = b.deconv(h, 16, 1, relu=False)
    prob = b.op("Sigmoid", [h])
    return b.model("dbnet_toy", "image", [1, 3, size, size], prob,
                   [1, 1, size, size])


def fpnseg(rng, size=256, classes=8):
    b = Builder(rng)
    (c2, c3, c4, c5), ch = backbone(b, "image")
    lat = [b.conv(c, k, 64, k=1, relu=False)
           for c, k in zip((c2, c3, c4, c5), ch)]
    sides = [size // 4, size // 8, size // 16, size // 32]
    p = [None, None, None, lat[3]]
    for i in (2, 1, 0):
        up = b.resize_sizes(p[i + 1], [1, 64, sides[i], sides[i]], "linear",
                            "half_pixel")
        p[i] = b.op("Add", [lat[i], up])
    merged = p[0]
    for i, s in ((1, 2), (2, 4), (3, 8)):
        q = b.conv(p[i], 64, 64)
        merged = b.op("Add", [merged, b.resize_scales(
            q, s, "linear", "pytorch_half_pixel")])
    h = b.conv(merged, 64, 32)
    h = b.deconv(h, 32, 32)  # 1/2
    logits = b.conv(h, 32, classes, k=1, relu=False)
    out = b.resize_sizes(logits, [1, classes, size, size], "linear",
                         "align_corners")
    return b.model("fpnseg_toy", "image", [1, 3, size, size], out,
                   [1, classes, size, size])


def squeeze_excite(b, x, ch):
    """torchvision's SqueezeExcitation: the channel scale is
    HardSigmoid(fc2(Relu(fc1(mean over H, W)))), fc1 reducing to
    ch / 4 rounded to a multiple of 8."""
    sq = max(8, (ch // 4 + 4) // 8 * 8)
    s = b.op("GlobalAveragePool", [x])
    s = b.conv(s, ch, sq, k=1)
    s = b.conv(s, sq, ch, k=1, relu=False)
    s = b.op("HardSigmoid", [s], alpha=1.0 / 6, beta=0.5)
    return b.op("Mul", [x, s])


def mnv3(rng, size=224, classes=1000):
    b = Builder(rng)
    x = b.conv("image", 3, 16, stride=2, relu=False, act="HardSwish")
    cin = 16
    # kernel, expanded channels, output channels, SE, activation, stride:
    # MobileNetV3-Small's table.
    for k, exp, cout, se, act, s in (
            (3, 16, 16, True, "Relu", 2), (3, 72, 24, False, "Relu", 2),
            (3, 88, 24, False, "Relu", 1), (5, 96, 40, True, "HardSwish", 2),
            (5, 240, 40, True, "HardSwish", 1),
            (5, 240, 40, True, "HardSwish", 1),
            (5, 120, 48, True, "HardSwish", 1),
            (5, 144, 48, True, "HardSwish", 1),
            (5, 288, 96, True, "HardSwish", 2),
            (5, 576, 96, True, "HardSwish", 1),
            (5, 576, 96, True, "HardSwish", 1)):
        y = x
        if exp != cin:
            y = b.conv(y, cin, exp, k=1, relu=False, act=act)
        y = b.conv(y, exp, exp, k=k, stride=s, group=exp, relu=False,
                   act=act)
        if se:
            y = squeeze_excite(b, y, exp)
        y = b.conv(y, exp, cout, k=1, relu=False)
        x = b.op("Add", [x, y]) if s == 1 and cin == cout else y
        cin = cout
    x = b.conv(x, cin, 576, k=1, relu=False, act="HardSwish")
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    x = b.op("HardSwish", [b.gemm(x, 576, 1024)])
    logits = b.gemm(x, 1024, classes)
    return b.model("mnv3_toy", "image", [1, 3, size, size], logits,
                   [1, classes], opset=14)


def vit(rng, size=224, patch=16, dim=192, heads=3, depth=4, classes=1000,
        sdpa=False):
    """sdpa: the attention as PyTorch exports scaled_dot_product_attention
    (the scale's square root multiplied into Q and into K transposed, not
    into the scores)."""
    b = Builder(rng)
    tokens = (size // patch) ** 2
    hd = dim // heads

    const, i64 = b.normal, b.shape

    def layer_norm(x):
        return b.op("LayerNormalization",
                    [x, b.const(np.ones(dim, np.float32), "g"),
                     b.const(np.zeros(dim, np.float32), "beta")],
                    axis=-1, epsilon=1e-6)

    def linear(x, cin, cout):
        y = b.op("MatMul", [x, const((cin, cout), np.sqrt(1.0 / cin))])
        return b.op("Add", [y, const((cout,), 0.02)])

    x = b.op("Conv", ["image", const((dim, 3, patch, patch),
                                     np.sqrt(1.0 / (3 * patch * patch))),
                      const((dim,), 0.02)],
             kernel_shape=[patch, patch], strides=[patch, patch])
    x = b.op("Reshape", [x, i64([1, dim, tokens])])
    x = b.op("Transpose", [x], perm=[0, 2, 1])
    x = b.op("Concat", [const((1, 1, dim), 0.02), x], axis=1)
    n = tokens + 1
    x = b.op("Add", [x, const((1, n, dim), 0.02)])
    for _ in range(depth):
        h = layer_norm(x)
        qkv = linear(h, dim, 3 * dim)
        qkv = b.op("Reshape", [qkv, i64([1, n, 3, heads, hd])])
        qkv = b.op("Transpose", [qkv], perm=[2, 0, 3, 1, 4])
        q, k, v = (b.op("Gather", [qkv, b.const(np.array(i, np.int64), "i")],
                        axis=0) for i in range(3))
        kt = b.op("Transpose", [k], perm=[0, 1, 3, 2])
        if sdpa:
            root = b.const(np.array(hd ** -0.25, np.float32))
            att = b.op("MatMul", [b.op("Mul", [q, root]),
                                  b.op("Mul", [kt, root])])
        else:
            att = b.op("MatMul", [q, kt])
            att = b.op("Mul", [att,
                               b.const(np.array(hd ** -0.5, np.float32))])
        att = b.op("Softmax", [att], axis=-1)
        o = b.op("MatMul", [att, v])
        o = b.op("Transpose", [o], perm=[0, 2, 1, 3])
        o = b.op("Reshape", [o, i64([1, n, dim])])
        x = b.op("Add", [x, linear(o, dim, dim)])
        h = b.gelu(linear(layer_norm(x), dim, 4 * dim))
        x = b.op("Add", [x, linear(h, 4 * dim, dim)])
    cls = b.op("Gather", [layer_norm(x), b.const(np.array(0, np.int64), "i")],
               axis=1)
    logits = b.gemm(cls, dim, classes)
    return b.model("vit_toy", "image", [1, 3, size, size], logits,
                   [1, classes], opset=17)


def resnext(rng, size=224, classes=1000, cardinality=32):
    b = Builder(rng)
    x = b.conv("image", 3, 64, k=7, stride=2)
    x = b.op("MaxPool", [x], kernel_shape=[3, 3], strides=[2, 2],
             pads=[1, 1, 1, 1])
    cin = 64
    for width, stride in ((128, 1), (256, 2), (512, 2), (1024, 2)):
        cout = 2 * width
        y = b.conv(x, cin, width, k=1)
        y = b.conv(y, width, width, k=3, stride=stride, group=cardinality)
        y = b.conv(y, width, cout, k=1, relu=False)
        short = b.conv(x, cin, cout, k=1, stride=stride, relu=False)
        x = b.op("Relu", [b.op("Add", [y, short])])
        cin = cout
    x = b.op("GlobalAveragePool", [x])
    x = b.op("Flatten", [x], axis=1)
    logits = b.gemm(x, cin, classes)
    return b.model("resnext_toy", "image", [1, 3, size, size], logits,
                   [1, classes])


def recurrent(b, kind, x, cin, hidden, direction="forward", **attrs):
    """An ONNX LSTM/GRU/RNN layer with seeded weights (uniform in
    +-1/sqrt(H), as PyTorch initializes them); returns Y [S, D, B, H]
    (layout 0) or [B, S, D, H] (layout=1 in attrs)."""
    gates = {"LSTM": 4, "GRU": 3, "RNN": 1}[kind]
    dirs = 2 if direction == "bidirectional" else 1
    lim = 1.0 / np.sqrt(hidden)

    def u(shape):
        return b.const(b.rng.uniform(-lim, lim, shape).astype(np.float32))
    y = b.name(kind.lower())
    b.nodes.append(helper.make_node(
        kind, [x, u((dirs, gates * hidden, cin)),
               u((dirs, gates * hidden, hidden)),
               u((dirs, 2 * gates * hidden))], [y],
        hidden_size=hidden, direction=direction, **attrs))
    return y


def kws_lstm(rng, frames=49, feats=40, hidden=128, classes=12):
    b = Builder(rng)
    shape = b.const(np.array([frames, 1, hidden], np.int64), "shape")
    y = recurrent(b, "LSTM", "features", feats, hidden)
    y = recurrent(b, "LSTM", b.op("Reshape", [y, shape]), hidden, hidden)
    last = b.op("Gather", [y, b.const(np.array(frames - 1, np.int64), "i")],
                axis=0)
    last = b.op("Reshape", [last, b.const(np.array([1, hidden], np.int64),
                                          "shape")])
    logits = b.gemm(last, hidden, classes)
    return b.model("kws_lstm_toy", "features", [frames, 1, feats], logits,
                   [1, classes], opset=14)


def crnn(rng, height=32, width=128, hidden=96, classes=37):
    b = Builder(rng)
    x, cin = "image", 1
    for i, c in enumerate((32, 64, 128, 128)):
        x = b.conv(x, cin, c)
        pool = [2, 2] if i < 2 else [2, 1]
        x = b.op("MaxPool", [x], kernel_shape=pool, strides=pool)
        cin = c
    h, w = height // 16, width // 4
    # [1, C, h, w] -> [w, 1, C*h]: one step per column.
    x = b.op("Transpose", [x], perm=[3, 0, 1, 2])
    x = b.op("Reshape", [x, b.const(np.array([w, 1, cin * h], np.int64),
                                    "shape")])
    seq_shape = b.const(np.array([w, 1, 2 * hidden], np.int64), "shape")
    for layer in range(2):
        y = recurrent(b, "GRU", x, cin * h if layer == 0 else 2 * hidden,
                      hidden, "bidirectional", linear_before_reset=1)
        x = b.op("Reshape", [b.op("Transpose", [y], perm=[0, 2, 1, 3]),
                             seq_shape])
    w_out = b.const(rng.normal(0, np.sqrt(1.0 / (2 * hidden)),
                               (2 * hidden, classes)).astype(np.float32))
    logits = b.op("MatMul", [x, w_out])
    out = b.op("LogSoftmax", [logits], axis=-1)
    return b.model("crnn_toy", "image", [1, 1, height, width], out,
                   [w, 1, classes], opset=14)


MODELS = {"dbnet-toy": dbnet, "fpnseg-toy": fpnseg, "mnv3-toy": mnv3,
          "vit-toy": vit, "resnext-toy": resnext, "kws-lstm-toy": kws_lstm,
          "crnn-toy": crnn}
