"""Mobile detectors and classifiers of the wider benchmark set, at their
real channel widths and input sizes, built with onnx.helper from seeded
random weights (no download), as their exporters write them (BatchNorm
folded into the convolutions):

  yolov8n-320    a YOLOv8n detector at 320 x 320 (width 0.25, depth 0.33):
                 Conv + SiLU (Sigmoid x Mul) everywhere, C2f blocks (a 1x1
                 Split in two, bottlenecks of two 3x3s with a residual Add,
                 a Concat of every part and a 1x1), SPPF (three chained 5x5
                 max pools, Concat), a PAN neck with nearest 2x upsampling,
                 the decoupled head at strides 8/16/32 (two 3x3s and a 1x1
                 per branch) and the export's decoding: DFL (Reshape,
                 Transpose, Softmax over 16 bins, a 1x1 Conv with weights
                 0..15), anchors and strides, Sigmoid class scores: [1, 84,
                 2100].
  pplcnet-x1     a PP-LCNet x1.0 classifier at 224 x 224: depthwise 3x3 and
                 5x5 + pointwise 1x1 blocks with HardSwish, squeeze-and-
                 excitation in the last two (GlobalAveragePool, 1x1 + Relu,
                 1x1 + HardSigmoid(1/6, 1/2), Mul), a 1x1 to 1280 on the
                 pooled map, HardSwish, Flatten, Gemm.
  mnv3-large     a MobileNetV3-Large classifier at 224 x 224 (torchvision's
                 table): inverted residuals with depthwise 3x3 and 5x5, Relu
                 or HardSwish, SE with HardSigmoid, residual Adds, the
                 960 -> 1280 -> 1000 head.
  effnet-b0      an EfficientNet-B0 classifier at 224 x 224: MBConv blocks
                 (1x1 expand, depthwise 3x3 / 5x5 at strides 1 and 2, SE of
                 a quarter of the block's input channels with SiLU and
                 Sigmoid, 1x1 project, residual Add), SiLU as Sigmoid x Mul,
                 the 320 -> 1280 head. (EfficientNet-Lite drops SE and SiLU
                 for ReLU6; B0 is the member with the blocks asked for.)
  picodet-s-320  a PicoDet-S detector at 320 x 320 (the LCNet x0.75
                 backbone of PaddleDetection's picodet_s_320_lcnet): the
                 PP-LCNet blocks, an LC-PAN neck at 96 channels (1x1
                 reductions, nearest 2x upsampling and Concat, CSP layers
                 with depthwise 5x5 + 1x1, depthwise 5x5 stride-2
                 downsampling, a fourth level at stride 64), a head per
                 level of two depthwise 5x5 + 1x1 pairs, an SE gate
                 (GlobalAveragePool, 1x1, Sigmoid, Mul, 1x1), one 1x1 to 80
                 scores + 4 x 8 distance bins, Softmax over the bins and a
                 MatMul with 0..7, anchors and strides: boxes [1, 2125, 4]
                 and Sigmoid scores [1, 80, 2125].

Weights are He-scaled (see conv()); residual branches' last
convolutions are scaled down so the deep stacks do not grow.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper

from dense_models import Builder


def make_divisible(v, divisor=8):
    """torchvision's / Paddle's channel rounding."""
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def conv(b, x, cin, cout, k=1, stride=1, group=1, act=None, gain=1.0):
    """Conv (k x k, same padding) with a bias, then act: None, "Relu",
    "SiLU" (x * Sigmoid x, as exported), "HardSwish", "HardSigmoid"
    (alpha 1/6, as torchvision and Paddle), "Sigmoid"."""
    # He's gain is for Relu; SiLU and HardSwish pass less of the energy
    # near 0, so their layers get 1.2x: activations stay between about
    # 0.05 and 3 (RMS) through every model here.
    if act in ("SiLU", "HardSwish"):
        gain *= 1.2
    w = b.rng.normal(0, gain * np.sqrt(2.0 / (cin // group * k * k)),
                     (cout, cin // group, k, k)).astype(np.float32)
    bias = b.rng.normal(0, 0.05, cout).astype(np.float32)
    y = b.op("Conv", [x, b.const(w, "w"), b.const(bias, "b")],
             kernel_shape=[k, k], strides=[stride, stride],
             pads=[k // 2] * 4, group=group)
    if act == "SiLU":
        return b.op("Mul", [y, b.op("Sigmoid", [y])])
    if act == "HardSigmoid":
        return b.op("HardSigmoid", [y], alpha=1.0 / 6, beta=0.5)
    return b.op(act, [y]) if act else y


def split(b, x, sizes, axis=1):
    """Split of x along axis into parts of `sizes`; their names."""
    outs = [b.name("split") for _ in sizes]
    b.nodes.append(helper.make_node("Split", [x, b.shape(sizes)], outs,
                                    axis=axis))
    return outs


def model(b, name, x_shape, outs, opset):
    """outs: (name, shape) of each graph output."""
    g = helper.make_graph(
        b.nodes, name,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(o, TensorProto.FLOAT, s)
         for o, s in outs], b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m


# ---- YOLOv8 -------------------------------------------------------------

def c2f(b, x, cin, cout, n, shortcut):
    c = cout // 2
    y = conv(b, x, cin, 2 * c, act="SiLU")
    parts = split(b, y, [c, c])
    for _ in range(n):
        h = conv(b, parts[-1], c, c, 3, act="SiLU")
        h = conv(b, h, c, c, 3, act="SiLU", gain=0.5 if shortcut else 1.0)
        parts.append(b.op("Add", [parts[-1], h]) if shortcut else h)
    return conv(b, b.op("Concat", parts, axis=1), (2 + n) * c, cout,
                act="SiLU")


def upsample2(b, x):
    return b.op("Resize", [x, "", b.const(np.array([1, 1, 2, 2], np.float32),
                                           "scales")],
                mode="nearest", coordinate_transformation_mode="asymmetric",
                nearest_mode="floor")


def anchors(sizes, strides):
    pts, st = [], []
    for s, stride in zip(sizes, strides):
        sx, sy = np.meshgrid(np.arange(s) + 0.5, np.arange(s) + 0.5)
        pts.append(np.stack([sx.reshape(-1), sy.reshape(-1)], 1))
        st.append(np.full(s * s, stride))
    return (np.concatenate(pts).astype(np.float32),
            np.concatenate(st).astype(np.float32))


def yolov8n(rng, size=320, nc=80, reg_max=16):
    b = Builder(rng)
    w = [16, 32, 64, 128, 256]
    x = conv(b, "image", 3, w[0], 3, 2, act="SiLU")
    x = conv(b, x, w[0], w[1], 3, 2, act="SiLU")
    x = c2f(b, x, w[1], w[1], 1, True)
    x = conv(b, x, w[1], w[2], 3, 2, act="SiLU")
    p3 = x = c2f(b, x, w[2], w[2], 2, True)
    x = conv(b, x, w[2], w[3], 3, 2, act="SiLU")
    p4 = x = c2f(b, x, w[3], w[3], 2, True)
    x = conv(b, x, w[3], w[4], 3, 2, act="SiLU")
    x = c2f(b, x, w[4], w[4], 1, True)
    # SPPF
    y = conv(b, x, w[4], w[4] // 2, act="SiLU")
    pools = [y]
    for _ in range(3):
        pools.append(b.op("MaxPool", [pools[-1]], kernel_shape=[5, 5],
                          strides=[1, 1], pads=[2, 2, 2, 2]))
    p5 = conv(b, b.op("Concat", pools, axis=1), 2 * w[4], w[4], act="SiLU")
    # PAN
    h4 = c2f(b, b.op("Concat", [upsample2(b, p5), p4], axis=1), w[4] + w[3],
             w[3], 1, False)
    o3 = c2f(b, b.op("Concat", [upsample2(b, h4), p3], axis=1), w[3] + w[2],
             w[2], 1, False)
    d = conv(b, o3, w[2], w[2], 3, 2, act="SiLU")
    o4 = c2f(b, b.op("Concat", [d, h4], axis=1), w[2] + w[3], w[3], 1, False)
    d = conv(b, o4, w[3], w[3], 3, 2, act="SiLU")
    o5 = c2f(b, b.op("Concat", [d, p5], axis=1), w[3] + w[4], w[4], 1, False)
    # Detect
    c2 = max(16, w[2] // 4, reg_max * 4)
    c3 = max(w[2], min(nc, 100))
    no = 4 * reg_max + nc
    flat = []
    for f, c in ((o3, w[2]), (o4, w[3]), (o5, w[4])):
        box = conv(b, conv(b, f, c, c2, 3, act="SiLU"), c2, c2, 3, act="SiLU")
        box = conv(b, box, c2, 4 * reg_max)
        cls = conv(b, conv(b, f, c, c3, 3, act="SiLU"), c3, c3, 3, act="SiLU")
        cls = conv(b, cls, c3, nc)
        flat.append(b.op("Reshape", [b.op("Concat", [box, cls], axis=1),
                                     b.shape([1, no, -1])]))
    cat = b.op("Concat", flat, axis=2)
    sizes = [size // 8, size // 16, size // 32]
    n = sum(s * s for s in sizes)
    box, cls = split(b, cat, [4 * reg_max, nc])
    dfl = b.op("Reshape", [box, b.shape([1, 4, reg_max, n])])
    dfl = b.op("Softmax", [b.op("Transpose", [dfl], perm=[0, 2, 1, 3])],
               axis=1)
    proj = np.arange(reg_max, dtype=np.float32).reshape(1, reg_max, 1, 1)
    dfl = b.op("Conv", [dfl, b.const(proj, "w")], kernel_shape=[1, 1])
    dist = b.op("Reshape", [dfl, b.shape([1, 4, n])])
    lt = b.op("Slice", [dist, b.shape([0]), b.shape([2]), b.shape([1])])
    rb = b.op("Slice", [dist, b.shape([2]), b.shape([4]), b.shape([1])])
    pts, strides = anchors(sizes, [8, 16, 32])
    anc = b.const(pts.T.reshape(1, 2, n).copy(), "anchors")
    x1y1 = b.op("Sub", [anc, lt])
    x2y2 = b.op("Add", [anc, rb])
    cxy = b.op("Div", [b.op("Add", [x1y1, x2y2]),
                       b.const(np.array(2, np.float32))])
    wh = b.op("Sub", [x2y2, x1y1])
    boxes = b.op("Mul", [b.op("Concat", [cxy, wh], axis=1),
                         b.const(strides.reshape(1, n), "strides")])
    out = b.op("Concat", [boxes, b.op("Sigmoid", [cls])], axis=1)
    return model(b, "yolov8n_320", [1, 3, size, size], [(out, [1, 84, n])],
                 opset=17)


# ---- PP-LCNet and PicoDet ----------------------------------------------

# kernel, input channels, output channels, stride, SE (PP-LCNet's
# NET_CONFIG, blocks2 to blocks6).
LCNET_BLOCKS = (
    ((3, 16, 32, 1, False),),
    ((3, 32, 64, 2, False), (3, 64, 64, 1, False)),
    ((3, 64, 128, 2, False), (3, 128, 128, 1, False)),
    ((3, 128, 256, 2, False), (5, 256, 256, 1, False),
     (5, 256, 256, 1, False), (5, 256, 256, 1, False),
     (5, 256, 256, 1, False), (5, 256, 256, 1, False)),
    ((5, 256, 512, 2, True), (5, 512, 512, 1, True)))


def lcnet_se(b, x, c):
    s = b.op("GlobalAveragePool", [x])
    s = conv(b, s, c, c // 4, act="Relu")
    s = conv(b, s, c // 4, c, act="HardSigmoid")
    return b.op("Mul", [x, s])


def lcnet(b, scale):
    """The backbone; returns the outputs of blocks4, 5 and 6 (strides 8,
    16, 32) with their channels."""
    x = conv(b, "image", 3, make_divisible(16 * scale), 3, 2,
             act="HardSwish")
    feats = []
    for stage in LCNET_BLOCKS:
        for k, cin, cout, s, se in stage:
            cin, cout = make_divisible(cin * scale), make_divisible(
                cout * scale)
            x = conv(b, x, cin, cin, k, s, group=cin, act="HardSwish")
            if se:
                x = lcnet_se(b, x, cin)
            x = conv(b, x, cin, cout, act="HardSwish")
        feats.append((x, cout))
    return feats[2:]


def pplcnet(rng, size=224, scale=1.0, classes=1000):
    b = Builder(rng)
    (x, c), = lcnet(b, scale)[-1:]
    x = b.op("GlobalAveragePool", [x])
    x = b.conv(x, c, 1280, k=1, relu=False, act="HardSwish")
    x = b.op("Flatten", [x], axis=1)
    logits = b.gemm(x, 1280, classes)
    return model(b, "pplcnet_x1", [1, 3, size, size], [(logits, [1, classes])],
                 opset=14)


def dp(b, x, cin, cout, k, s=1):
    """PicoDet's DPModule: depthwise k x k (stride s) + HardSwish, 1x1 +
    HardSwish."""
    x = conv(b, x, cin, cin, k, s, group=cin, act="HardSwish")
    return conv(b, x, cin, cout, act="HardSwish")


def csp(b, x, cin, cout, k=5):
    """A CSPLayer with one depthwise DarknetBottleneck, no identity."""
    mid = cout // 2
    main = conv(b, x, cin, mid, act="HardSwish")
    short = conv(b, x, cin, mid, act="HardSwish")
    main = dp(b, conv(b, main, mid, mid, act="HardSwish"), mid, mid, k)
    return conv(b, b.op("Concat", [main, short], axis=1), 2 * mid, cout,
                act="HardSwish")


def picodet(rng, size=320, nc=80, reg_max=7, ch=96):
    b = Builder(rng)
    feats = lcnet(b, 0.75)
    lat = [conv(b, f, c, ch, act="HardSwish") for f, c in feats]
    # top-down
    inner = [lat[2]]
    for i in (1, 0):
        up = upsample2(b, inner[0])
        inner.insert(0, csp(b, b.op("Concat", [up, lat[i]], axis=1), 2 * ch,
                            ch))
    # bottom-up
    outs = [inner[0]]
    for i in (1, 2):
        d = dp(b, outs[-1], ch, ch, 5, 2)
        outs.append(csp(b, b.op("Concat", [d, inner[i]], axis=1), 2 * ch, ch))
    top = b.op("Add", [dp(b, lat[2], ch, ch, 5, 2),
                       dp(b, outs[2], ch, ch, 5, 2)])
    outs.append(top)
    sizes = [size // 8, size // 16, size // 32, size // 64]
    strides = [8, 16, 32, 64]
    proj = b.const(np.arange(reg_max + 1, dtype=np.float32).reshape(
        reg_max + 1, 1), "proj")
    scores, boxes = [], []
    pts, st = anchors(sizes, strides)
    for f, s in zip(outs, sizes):
        h = f
        for _ in range(2):
            h = dp(b, h, ch, ch, 5)
        g = b.op("GlobalAveragePool", [h])
        g = conv(b, g, ch, ch, act="Sigmoid")
        h = conv(b, b.op("Mul", [h, g]), ch, ch, act="HardSwish")
        out = conv(b, h, ch, nc + 4 * (reg_max + 1))
        cls, reg = split(b, out, [nc, 4 * (reg_max + 1)])
        scores.append(b.op("Reshape", [b.op("Sigmoid", [cls]),
                                       b.shape([1, nc, s * s])]))
        reg = b.op("Transpose", [reg], perm=[0, 2, 3, 1])
        reg = b.op("Reshape", [reg, b.shape([1, s * s, 4, reg_max + 1])])
        reg = b.op("Softmax", [reg], axis=-1)
        dist = b.op("MatMul", [reg, proj])
        boxes.append(b.op("Reshape", [dist, b.shape([1, s * s, 4])]))
    n = sum(s * s for s in sizes)
    dist = b.op("Mul", [b.op("Concat", boxes, axis=1),
                        b.const(st.reshape(1, n, 1), "strides")])
    lt = b.op("Slice", [dist, b.shape([0]), b.shape([2]), b.shape([2])])
    rb = b.op("Slice", [dist, b.shape([2]), b.shape([4]), b.shape([2])])
    anc = b.const((pts * st[:, None]).reshape(1, n, 2), "anchors")
    box = b.op("Concat", [b.op("Sub", [anc, lt]), b.op("Add", [anc, rb])],
               axis=2)
    score = b.op("Concat", scores, axis=2)
    return model(b, "picodet_s_320", [1, 3, size, size],
                 [(box, [1, n, 4]), (score, [1, nc, n])], opset=14)


# ---- MobileNetV3-Large and EfficientNet-B0 -----------------------------

def mnv3_large(rng, size=224, classes=1000):
    b = Builder(rng)
    x = conv(b, "image", 3, 16, 3, 2, act="HardSwish")
    cin = 16
    # kernel, expanded, out, SE, activation, stride (torchvision's table)
    for k, exp, cout, se, act, s in (
            (3, 16, 16, False, "Relu", 1), (3, 64, 24, False, "Relu", 2),
            (3, 72, 24, False, "Relu", 1), (5, 72, 40, True, "Relu", 2),
            (5, 120, 40, True, "Relu", 1), (5, 120, 40, True, "Relu", 1),
            (3, 240, 80, False, "HardSwish", 2),
            (3, 200, 80, False, "HardSwish", 1),
            (3, 184, 80, False, "HardSwish", 1),
            (3, 184, 80, False, "HardSwish", 1),
            (3, 480, 112, True, "HardSwish", 1),
            (3, 672, 112, True, "HardSwish", 1),
            (5, 672, 160, True, "HardSwish", 2),
            (5, 960, 160, True, "HardSwish", 1),
            (5, 960, 160, True, "HardSwish", 1)):
        y = x
        if exp != cin:
            y = conv(b, y, cin, exp, act=act)
        y = conv(b, y, exp, exp, k, s, group=exp, act=act)
        if se:
            sq = make_divisible(exp // 4)
            g = b.op("GlobalAveragePool", [y])
            g = conv(b, g, exp, sq, act="Relu")
            g = conv(b, g, sq, exp, act="HardSigmoid")
            y = b.op("Mul", [y, g])
        res = s == 1 and cin == cout
        y = conv(b, y, exp, cout, gain=0.5 if res else 1.0)
        x = b.op("Add", [x, y]) if res else y
        cin = cout
    x = conv(b, x, cin, 960, act="HardSwish")
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    x = b.op("HardSwish", [b.gemm(x, 960, 1280)])
    logits = b.gemm(x, 1280, classes)
    return model(b, "mnv3_large", [1, 3, size, size], [(logits, [1, classes])],
                 opset=14)


def effnet_b0(rng, size=224, classes=1000):
    b = Builder(rng)
    x = conv(b, "image", 3, 32, 3, 2, act="SiLU")
    cin = 32
    # expansion, kernel, stride, output channels, repeats
    for e, k, s, cout, reps in ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2),
                                (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                                (6, 5, 1, 112, 3), (6, 5, 2, 192, 4),
                                (6, 3, 1, 320, 1)):
        for r in range(reps):
            stride = s if r == 0 else 1
            m = cin * e
            y = conv(b, x, cin, m, act="SiLU") if e != 1 else x
            y = conv(b, y, m, m, k, stride, group=m, act="SiLU")
            sq = max(1, cin // 4)
            g = b.op("GlobalAveragePool", [y])
            g = conv(b, g, m, sq, act="SiLU")
            g = conv(b, g, sq, m, act="Sigmoid")
            y = b.op("Mul", [y, g])
            res = stride == 1 and cin == cout
            y = conv(b, y, m, cout, gain=0.5 if res else 1.0)
            x = b.op("Add", [x, y]) if res else y
            cin = cout
    x = conv(b, x, cin, 1280, act="SiLU")
    x = b.op("Flatten", [b.op("GlobalAveragePool", [x])], axis=1)
    logits = b.gemm(x, 1280, classes)
    return model(b, "effnet_b0", [1, 3, size, size], [(logits, [1, classes])],
                 opset=13)


MODELS = {"yolov8n-320": yolov8n, "pplcnet-x1": pplcnet,
          "mnv3-large": mnv3_large, "effnet-b0": effnet_b0,
          "picodet-s-320": picodet}
