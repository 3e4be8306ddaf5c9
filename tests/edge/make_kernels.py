#!/usr/bin/env python3
"""Writes a test case whose branches cover the int8 kernels' paths of Arm
bundles (backends/cpu/runtime/RtEdge*.{c,inc}): seeded random QDQ layers,
each branch from its own input to its own 8-bit output, so one bundle and
one QEMU run check them all against the interpreter (tests/edge/run_edge.py).

  make_kernels.py OUT_DIR [--seed N]

Per branch, what it reaches: dense convolutions reading a row-major input
(the gathered taps of any layout) and a channels-last one (whole words per
tap), 1x1 convolutions read in place, odd pixel and channel counts (the
kernels' tails), strides, dilations, asymmetric pads, groups whose channels
are not a multiple of 4; depthwise convolutions over channels-last and
row-major inputs, channel counts off the vectors' 4 and 8, kernels 3x3 and
5x5; matrix products of 1 and 3 rows with K and N off 4 and 16; u8 and s8
activations; u8 weights with zero points (int16 rows); per-tensor and
per-channel scales, and a layer whose scales exceed 0.5 (the general
requantization); fused Relu; results written channels-last and row-major.
OUT_DIR gets model.onnx and test_data_set_0/input_<i>.pb.
"""
import argparse
import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, rng):
        self.rng = rng
        self.nodes, self.inits, self.inputs, self.outputs = [], [], [], []
        self.data = []
        self.n = 0

    def name(self, p):
        self.n += 1
        return f"{p}{self.n}"

    def const(self, arr, p="k"):
        n = self.name(p)
        self.inits.append(numpy_helper.from_array(arr, n))
        return n

    def node(self, op, ins, **attrs):
        out = self.name(op.lower())
        self.nodes.append(helper.make_node(op, ins, [out], name=out, **attrs))
        return out

    def qdq(self, x, scale, signed, zp=None, keep_q=False):
        """Q then DQ of x; the quantized value too when keep_q."""
        if zp is None:
            zp = int(self.rng.integers(-20, 21)) if signed else \
                int(self.rng.integers(100, 151))
        z = np.array(zp, np.int8 if signed else np.uint8)
        s = self.const(np.array(scale, np.float32), "s")
        zn = self.const(z, "z")
        q = self.node("QuantizeLinear", [x, s, zn])
        d = self.node("DequantizeLinear", [q, s, zn])
        return (d, q) if keep_q else d

    def weights(self, shape, axis, xs, u8, ws_hi=0.006):
        """DQ'd weights (s8 per-channel symmetric, or u8 with per-channel
        zero points whose centered values leave int8) and the DQ'd int32
        bias for input scale xs."""
        oc = shape[axis]
        ws = self.rng.uniform(0.5, 1.5, oc).astype(np.float32) * ws_hi / 1.5
        b = self.rng.integers(-3000, 3001, oc).astype(np.int32)
        if u8:
            w = self.rng.integers(0, 256, shape).astype(np.uint8)
            z = self.rng.integers(100, 157, oc).astype(np.uint8)
        else:
            w = self.rng.integers(-127, 128, shape).astype(np.int8)
            z = np.zeros(oc, np.int8)
        wd = self.node("DequantizeLinear", [self.const(w, "w"),
                                            self.const(ws, "ws"),
                                            self.const(z, "wz")], axis=axis)
        bd = self.node("DequantizeLinear", [
            self.const(b, "b"), self.const((xs * ws).astype(np.float32), "bs"),
            self.const(np.zeros(oc, np.int32), "bz")], axis=0)
        return wd, bd

    def input(self, shape):
        n = self.name("x")
        self.inputs.append(helper.make_tensor_value_info(
            n, TensorProto.FLOAT, shape))
        self.data.append((n, self.rng.uniform(-1.5, 1.5, shape)
                          .astype(np.float32)))
        return n

    def output(self, q, signed, shape):
        self.outputs.append(helper.make_tensor_value_info(
            q, TensorProto.INT8 if signed else TensorProto.UINT8, shape))


def conv_out(h, k, s, d, p0, p1):
    return (h + p0 + p1 - ((k - 1) * d + 1)) // s + 1


def branch(b, spec):
    """One branch: input -> QDQ -> layers -> the last layer's Q as output."""
    signed = spec["signed"]
    shape = spec["input"]
    xs = 0.02
    x = b.qdq(b.input(shape), xs, signed)
    layers = spec["layers"]
    for i, l in enumerate(layers):
        last = i == len(layers) - 1
        ys = l.get("ys", 0.05)
        if l["op"] == "conv":
            n, c, h, w = shape
            k, s, d, g = l["k"], l.get("s", 1), l.get("d", 1), l.get("g", 1)
            pads = l.get("pads", [k // 2] * 4)
            oc = c if g == c and l.get("dw") else l["oc"]
            wd, bd = b.weights([oc, c // g, k, k], 0, xs, l.get("u8w", False),
                               l.get("ws", 0.006))
            y = b.node("Conv", [x, wd, bd], kernel_shape=[k, k],
                       strides=[s, s], dilations=[d, d], pads=pads, group=g)
            shape = [n, oc, conv_out(h, k, s, d, pads[0], pads[2]),
                     conv_out(w, k, s, d, pads[1], pads[3])]
        else:
            m, kk = shape
            wd, bd = b.weights([kk, l["n"]], 1, xs, l.get("u8w", False),
                               l.get("ws", 0.006))
            y = b.node("Add", [b.node("MatMul", [x, wd]), bd])
            shape = [m, l["n"]]
        if l.get("relu"):
            y = b.node("Relu", [y])
        d, q = b.qdq(y, ys, signed, keep_q=True)
        x, xs = d, ys
        if last:
            b.output(q, signed, shape)


# The branches: each a list of layers after its input's QDQ.
SPECS = [
    # Row-major input: the dense conv gathers taps of any layout (3 input
    # channels), odd pixels (5x5 -> 25) and channels (7); then a 3x3 reading
    # its channels-last result (8 channels: whole words), stride 2,
    # asymmetric pads, and a 1x1 in place; the last result row-major.
    dict(input=[1, 3, 5, 5], signed=False, layers=[
        dict(op="conv", k=3, oc=7, relu=True),
        dict(op="conv", k=3, oc=8, s=2, pads=[1, 0, 0, 1]),
        dict(op="conv", k=1, oc=5)]),
    dict(input=[1, 4, 6, 7], signed=True, layers=[
        dict(op="conv", k=1, oc=12),
        dict(op="conv", k=3, oc=9, d=2, pads=[2, 1, 2, 2], relu=True),
        dict(op="conv", k=1, oc=16)]),
    # Grouped, 6 channels a group (not whole words); 5x5; u8 weights with
    # zero points (int16 rows).
    dict(input=[1, 12, 6, 6], signed=False, layers=[
        dict(op="conv", k=1, oc=12),
        dict(op="conv", k=3, oc=10, g=2),
        dict(op="conv", k=5, oc=6, u8w=True)]),
    # Depthwise: row-major input (the plain loop), then channels-last with
    # 12 channels (an 8-block and a tail of 4), stride 2; 5x5 dilated over
    # 19 channels (tails of 3); s8 and u8.
    dict(input=[1, 12, 7, 7], signed=False, layers=[
        dict(op="conv", k=3, g=12, dw=True, relu=True),
        dict(op="conv", k=1, oc=12),
        dict(op="conv", k=3, g=12, dw=True, s=2),
        dict(op="conv", k=1, oc=19),
        dict(op="conv", k=5, g=19, dw=True, d=2, pads=[4, 3, 4, 4])]),
    dict(input=[1, 8, 5, 6], signed=True, layers=[
        dict(op="conv", k=1, oc=21),
        dict(op="conv", k=3, g=21, dw=True, relu=True),
        dict(op="conv", k=1, oc=11)]),
    # Scales past 0.5 (the general requantization) on a dense and a
    # depthwise conv: large weight scales, a small output scale.
    dict(input=[1, 4, 4, 4], signed=False, layers=[
        dict(op="conv", k=1, oc=8, ws=0.9, ys=0.02),
        dict(op="conv", k=3, g=8, dw=True, ws=0.5, ys=0.03)]),
    # Matrix products: one row (a fully connected layer) with K and N off
    # 4 and 16, u8 and s8; three rows; u8 weights with zero points.
    dict(input=[1, 37], signed=False, layers=[
        dict(op="matmul", n=13, relu=True), dict(op="matmul", n=6)]),
    dict(input=[1, 70], signed=True, layers=[
        dict(op="matmul", n=21), dict(op="matmul", n=1)]),
    dict(input=[3, 19], signed=False, layers=[
        dict(op="matmul", n=10), dict(op="matmul", n=5, u8w=True)]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=7)
    a = ap.parse_args()
    b = Builder(np.random.default_rng(a.seed))
    for spec in SPECS:
        branch(b, spec)
    g = helper.make_graph(b.nodes, "edge-kernels", b.inputs, b.outputs,
                          b.inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)],
                          producer_name="ember-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    os.makedirs(os.path.join(a.out, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(a.out, "model.onnx"))
    for i, (n, arr) in enumerate(b.data):
        with open(os.path.join(a.out, "test_data_set_0", f"input_{i}.pb"),
                  "wb") as f:
            f.write(numpy_helper.from_array(arr, n).SerializeToString())
    print(f"ok: {a.out}/model.onnx ({len(SPECS)} branches)")


if __name__ == "__main__":
    main()
