"""The single-layer sweep's cases of the backend's later forms
(tests/npu/README.md), for gen_layers.py: per-channel activations
(--pcact), pixels (--pixels), the integer LSTM's and GRU's 16-bit
tables (--lstm, --gru: form table16), rank-3 MatMuls (--sequence),
LayerNorms (--norm: form norm) and softmaxes (--softmax: form softmax).
Built with gen_layers.py's graph builder and helpers.
"""
import numpy as np

from gen_layers import (DTYPE_NAMES, G, OPSET, act_dtype, activation, bias,
                        conv_node, conv_qdq, scale_of, weights)


def pcact_case(rng):
    """A per-channel activation (docs/quantization.md, "Per-channel
    activations"): a convolution (1x1, or 3x3 stride 2 as a network's first
    layer) with Relu or Clip(0, 6) writes an 8-bit map with one scale per
    channel (axis 1, every zero point qmin), read by a depthwise convolution
    (3x3 or 5x5, stride 1 or 2, channel multiplier 1 or 2) whose int32 bias
    is at s_x[c] s_w[c], then an activation and a per-tensor output. Channel
    ranges from 0.05 to 6, so a scale ignored or misplaced is many quanta
    off ONNX Runtime's float reference."""
    g = G(rng)
    N = int(rng.integers(1, 3))
    C = int(rng.integers(1, 25))
    H, W = int(rng.integers(3, 20)), int(rng.integers(3, 20))
    x = g.input([N, C, H, W])
    xd, (sx, _) = g.qdq(x, act_dtype(rng), -2.0, 2.0)
    K = int(rng.integers(1, 49))
    first = rng.random() < 0.25
    k1 = 3 if first else 1
    cfg = {"C": C, "K": K, "k": k1, "group": 1, "s": 2 if first else 1,
           "d": 1, "pads": [1, 1, 1, 1] if first else [0, 0, 0, 0]}
    e = conv_node(g, rng, xd, sx, cfg)
    relu6 = rng.random() < 0.6
    e = (g.node("Clip", [e, g.const(np.float32(0.0)), g.const(np.float32(6.0))])
         if relu6 else g.node("Relu", [e]))
    dt = act_dtype(rng)
    qmin = 0 if dt == np.uint8 else -128
    hi = rng.uniform(0.05, 6.0, K)
    sc = (hi / 255.0).astype(np.float32)
    s_e, z_e = g.const(sc, "s"), g.const(np.full(K, qmin, dt), "z")
    q = g.node("QuantizeLinear", [e, s_e, z_e], {"axis": 1}, s="q")
    ed = g.node("DequantizeLinear", [q, s_e, z_e], {"axis": 1}, s="dq")
    mult = 2 if rng.random() < 0.3 else 1
    k = int(rng.choice([3, 3, 5]))
    st = int(rng.choice([1, 1, 2]))
    w, sw = weights(g, rng, [K * mult, 1, k, k])
    s_b = (np.repeat(sc, mult) * sw).astype(np.float32)
    b = rng.integers(-20000, 20000, K * mult).astype(np.int32)
    bd = g.node("DequantizeLinear", [g.const(b, "b"), g.const(s_b, "bs"),
                                     g.const(np.zeros(K * mult, np.int32),
                                             "bz")], {"axis": 0}, s="dqb")
    p = k // 2
    y = g.node("Conv", [ed, w, bd], {"kernel_shape": [k, k],
                                      "strides": [st, st],
                                      "pads": [p, p, p, p], "group": K})
    y, act = activation(g, rng, y)
    yd, _ = g.qdq(y, act_dtype(rng), 0.0 if act else -3.0, 4.0)
    g.output(yd)
    return g, (f"per-channel activation N{N} C{C} {H}x{W} K{K} "
               f"{'3x3/2' if first else '1x1'} {'relu6' if relu6 else 'relu'} "
               f"-> dw k{k} s{st} x{mult} {act}")


def pixels_case(rng):
    """Form pixels: convolutions concatenated along the batch or rows (8 or
    16 bits), or a convolution's rows sliced (a view) into a 1x1 one."""
    g = G(rng)
    g.opset = 21 if rng.random() < 0.25 else OPSET
    dt = np.int16 if g.opset == 21 else act_dtype(rng)
    C, K = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    H, W = int(rng.integers(2, 12)), int(rng.integers(2, 12))
    xd, (sx, _) = g.qdq(g.input([1, C, H, W]), dt, -2.0, 2.0)
    if rng.random() < 0.6:
        n, axis = int(rng.integers(2, 4)), int(rng.choice([0, 2]))
        out = g.qparams(dt, -3.0, 4.0)
        parts = []
        for _ in range(n):
            k = int(rng.choice([1, 3]))
            w, sw = weights(g, rng, [K, C, k, k])
            b = bias(g, rng, K, scale_of(g, sx), sw)
            parts.append(g.requant_dq(g.node("Conv", [xd, w, b], {
                "kernel_shape": [k, k], "pads": [k // 2] * 4}), out))
        g.output(g.requant_dq(g.node("Concat", parts, {"axis": axis}), out))
        return g, (f"pixels concat axis {axis} of {n} convs C{C} {H}x{W} "
                   f"K{K} {DTYPE_NAMES[dt]}")
    dt = act_dtype(rng)  # (two 16x8 layers in a row: --wide4)
    yd, yp = conv_qdq(g, rng, xd, sx, C, K, int(rng.choice([1, 3])), dt)
    a = int(rng.integers(0, H - 1))
    e = int(rng.integers(a + 1, H + 1))
    sl = g.requant_dq(g.node("Slice", [yd] + [
        g.const(np.array([v], np.int64)) for v in (a, e, 2)]), yp)
    K2 = int(rng.integers(1, 40))
    g.output(conv_qdq(g, rng, sl, yp[0], K, K2, 1, dt)[0])
    return g, (f"pixels slice rows {a}:{e} of conv C{C} {H}x{W} K{K} -> "
               f"1x1 K{K2} {DTYPE_NAMES[dt]}")


def lstm_case(rng):
    """Form table16: a float LSTM as ONNX Runtime's quantize_static leaves
    it, between an 8-bit (a quarter int16) QDQ input and an 8-bit
    QuantizeLinear of Y, which the fixed profile's integer LSTM
    (--integer-recurrent, docs/quantization.md "LSTM") writes as 16x8
    products, int16 adds and requantizations and the gates' 16-bit tables.
    Hidden sizes 8 to 48 (many not a multiple of 8), inputs 1 to 24, steps
    1 to 12, batch 1 or 2, forward, reverse or bidirectional, the bias
    present or not, the weights float or (a quarter) dequantized int8
    constants. The lowering keeps the float LSTM when there are initial
    states (or sequence_lens, clip, peepholes), so none has them. Each case
    folder carries its ember options (ember_args.txt) and its bounds
    (check_args.txt: a table16 layer, every MAC on the NPU, the partitions)
    for tests/npu/check_npu.py."""
    return recurrent_case(rng, "LSTM")


def gru_case(rng):
    """Form table16 again: a float GRU between QDQ tensors, as lstm_case
    (the same sizes, directions, inputs and weights), with
    linear_before_reset 0 or 1, which the fixed profile's integer GRU
    (--integer-recurrent, docs/quantization.md "GRU") writes with the
    LSTM's stages; the GRU keeps its float form with an initial state, so
    none has one."""
    return recurrent_case(rng, "GRU")


def recurrent_case(rng, op):
    """lstm_case's and gru_case's model: op LSTM (4 gates) or GRU (3)."""
    gates = 4 if op == "LSTM" else 3
    g = G(rng)
    g.opset = 21 if rng.random() < 0.25 else OPSET
    dt = np.int16 if g.opset == 21 else act_dtype(rng)
    H = int(rng.choice([8, 16, 32, 48])) if rng.random() < 0.4 else int(
        rng.integers(8, 49))
    In, T, B = int(rng.integers(1, 25)), int(rng.integers(1, 13)), int(
        rng.choice([1, 1, 2]))
    direction = str(rng.choice(["forward", "reverse", "bidirectional"]))
    D = 2 if direction == "bidirectional" else 1
    xd, _ = g.qdq(g.input([T, B, In]), dt, -2.0, 2.0)
    lim = 1.0 / np.sqrt(H)
    dq_weights = rng.random() < 0.25

    def weight(shape):
        w = rng.uniform(-lim, lim, shape).astype(np.float32)
        if not dq_weights:
            return g.const(w, "w")
        s = np.float32(np.max(np.abs(w)) / 127)
        q = np.clip(np.rint(w / s), -127, 127).astype(np.int8)
        return g.node("DequantizeLinear", [g.const(q, "w"), g.const(s, "ws"),
                                           g.const(np.array(0, np.int8),
                                                   "wz")], s="dqw")
    ins = [xd, weight([D, gates * H, In]), weight([D, gates * H, H])]
    with_bias = rng.random() < 0.8
    if with_bias:
        ins.append(g.const(rng.uniform(-lim, lim, [D, 2 * gates * H]).astype(
            np.float32), "b"))
    attrs = {"direction": direction, "hidden_size": H}
    if op == "GRU":
        attrs["linear_before_reset"] = int(rng.integers(0, 2))
    y = g.node(op, ins, attrs)
    ydt = act_dtype(rng)
    g.output(g.qdq(y, ydt, -1.0, 1.0)[0])
    g.ember_args = ["--integer-recurrent"]
    # Every multiply-accumulate on the NPU and the gates' tables as table16
    # layers; one partition between the input QuantizeLinear and the output
    # DequantizeLinear (a single step's Slice of the input projection is a
    # view of the whole tensor, the directions' Concat is placed in runs).
    g.check_args = ["--require-layer table16 --min-share 1",
                    "--max-plugin-partitions 1"]
    lbr = (f" lbr{attrs['linear_before_reset']}" if op == "GRU" else "")
    return g, (f"{op.lower()} {direction} T{T} B{B} I{In} H{H}{lbr} "
               f"{DTYPE_NAMES[dt]} -> {DTYPE_NAMES[ydt]}"
               f"{' dq-weights' if dq_weights else ''}"
               f"{'' if with_bias else ' no-bias'}")


def sequence_case(rng):
    """Rank-3 sequences (docs/npu-sdk.md, "Layer forms": channels last): a
    MatMul of a [T, B, K] (or [B, S, K]) input by constant int8 weights, an
    activation or none, then (most cases) an Add of a second sequence or of
    a constant repeated per channel. Every multiply-accumulate on the NPU,
    one partition. (No bias Add: the QDQ lowering folds a MatMul's bias
    only into a Gemm, which is rank 2.)"""
    g = G(rng)
    d0, d1 = int(rng.integers(1, 17)), int(rng.choice([1, 1, 2, 3]))
    if rng.random() < 0.4:
        d0, d1 = d1, d0  # [B, S, K]
    K, Nn = int(rng.integers(1, 80)), int(rng.integers(1, 70))
    xd, _ = g.qdq(g.input([d0, d1, K]), act_dtype(rng), -2.0, 2.0)
    w, _ = weights(g, rng, [K, Nn], per_channel=False)
    y, act = activation(g, rng, g.node("MatMul", [xd, w]))
    yd, _ = g.qdq(y, act_dtype(rng), 0.0 if act else -3.0, 3.0)
    r, add = rng.random(), ""
    if r < 0.4:
        rd, _ = g.qdq(g.input([d0, d1, Nn]), act_dtype(rng), -1.0, 3.0)
        yd, _ = g.qdq(g.node("Add", [yd, rd]), act_dtype(rng), -3.0, 5.0)
        add = " + sequence"
    elif r < 0.7:
        bq = rng.integers(0, 256, [Nn]).astype(np.uint8)
        bd = g.node("DequantizeLinear", [g.const(bq, "bc"),
                                         g.const(np.float32(0.01), "bs"),
                                         g.const(np.array(128, np.uint8),
                                                 "bz")])
        yd, _ = g.qdq(g.node("Add", [yd, bd]), act_dtype(rng), -3.0, 5.0)
        add = " + per-channel constant"
    g.output(yd)
    g.check_args = ["--min-share 1 --max-plugin-partitions 1"]
    return g, f"sequence matmul [{d0},{d1},{K}]x{Nn} {act}{add}"


def norm_case(rng):
    """A LayerNormalization of a sequence's channels between
    DequantizeLinear and QuantizeLinear, as ONNX Runtime's quantize_static
    writes a transformer's (opset 17; u8 or i8, per tensor): the fixed
    profile lowers it to IntegerNormalization, which form norm runs on the
    NPU (vreduce, rscalar, vrowmul). Sequences [B, S, C] or [S, B, C] of
    1..17 tokens, or two in five of 100..399 (blocks of tokens, two
    buffers where they pay), and C of 1..80 channels (several channel
    tiles, a last tile in part), a per-channel gamma and beta (or none),
    epsilon 1e-5..1e-2; one partition, whole on the NPU."""
    g = G(rng)
    g.opset = 17
    long = rng.random() < 0.4
    d0, d1 = int(rng.integers(100, 400) if long else rng.integers(1, 18)), \
        int(rng.choice([1, 1, 2]))
    if rng.random() < 0.4:
        d0, d1 = d1, d0
    C = int(rng.integers(2, 81))
    xd, _ = g.qdq(g.input([d0, d1, C], -3.0, 3.0), act_dtype(rng), -3.0, 3.0)
    gamma = g.const(rng.uniform(0.3, 2.0, [C]).astype(np.float32), "gamma")
    ins = [xd, gamma]
    if rng.random() < 0.7:
        ins.append(g.const(rng.uniform(-1.0, 1.0, [C]).astype(np.float32),
                           "beta"))
    eps = float(10.0 ** rng.uniform(-5, -2))
    y = g.node("LayerNormalization", ins, {"axis": -1, "epsilon": eps})
    yd, _ = g.qdq(y, act_dtype(rng), -4.0, 4.0)
    g.output(yd)
    g.ember_args = ["--requant fixed"]
    # (No multiply-accumulates: the MAC share bound says nothing here; one
    # plugin partition and the layernorm layer say it ran on the NPU.)
    g.check_args = ["--min-share 0 --max-plugin-partitions 1 "
                    "--require-layer layernorm"]
    return g, f"layernorm [{d0},{d1},{C}] eps {eps:.1e}" + \
        ("" if len(ins) == 3 else " no beta")


def softmax_case(rng):
    """A Softmax of a sequence's last axis between DequantizeLinear and
    QuantizeLinear, as ONNX Runtime's quantize_static writes a
    transformer's attention (opset 13; u8 or i8, per tensor, the result in
    [0, 1]): the fixed profile lowers it to IntegerSoftmax, which form
    softmax runs on the NPU (vreduce, vreduce exp, rscalar, vrowexp).
    Sequences [B, S, C] or [S, B, C] of 1..17 rows, or two in five of
    100..399 (blocks of rows, two buffers where they pay), and C of 2..80
    channels (several channel tiles, a last tile in part), inputs over
    ranges of 2 to 24 (exponentials down to 2^-32 of the row's largest, and
    below); one partition, whole on the NPU."""
    g = G(rng)
    long = rng.random() < 0.4
    d0, d1 = int(rng.integers(100, 400) if long else rng.integers(1, 18)), \
        int(rng.choice([1, 1, 2]))
    if rng.random() < 0.4:
        d0, d1 = d1, d0
    C = int(rng.integers(2, 81))
    r = float(rng.uniform(1.0, 12.0))
    xd, _ = g.qdq(g.input([d0, d1, C], -r, r), act_dtype(rng), -r, r)
    y = g.node("Softmax", [xd], {"axis": -1})
    yd, _ = g.qdq(y, act_dtype(rng), 0.0, 1.0)
    g.output(yd)
    g.ember_args = ["--requant fixed"]
    # (No multiply-accumulates, as norm_case.)
    g.check_args = ["--min-share 0 --max-plugin-partitions 1 "
                    "--require-layer softmax"]
    return g, f"softmax [{d0},{d1},{C}] range {r:.1f}"
