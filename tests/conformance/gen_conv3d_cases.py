#!/usr/bin/env python3
"""Writes ONNX test cases of 3-D convolutions, transposed convolutions and
pools (video and volumetric models: C3D, R(2+1)D, X3D-style depthwise, 3-D
U-Net encoders and decoders) in the standard layout (OUT/<case>/model.onnx,
test_data_set_0/input_<i>.pb, output_<i>.pb), with ONNX Runtime's outputs.
The default pipeline's conv3d-as-2d pass runs them as 2-D ones over depth
slices (docs/passes.md); the cases cover its geometry (strides,
dilations, asymmetric and automatic padding, kernels of depth 1, grouped
and depthwise convolutions, batch 2), transposed ones (U-Net's 2x2x2 / 2,
overlapping taps, output padding, strides past the kernel, output_shape),
pools with and without counted padding and ceil mode, and the elementwise
ops it moves between layers (per-channel constants, a second graph input,
a residual Add, a depth-1 result broadcast over a full one).

usage: gen_conv3d_cases.py OUT_DIR
"""
import os
import sys

import numpy as np
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_cases import main  # noqa: E402

F = TensorProto.FLOAT
rng = np.random.RandomState(33)


def rnd(*shape, scale=1.0):
    return (rng.uniform(-1, 1, size=shape) * scale).astype(np.float32)


class G:
    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def t(self, base):
        self.n += 1
        return f"{base}{self.n}"

    def const(self, a):
        nm = self.t("c")
        self.inits.append(numpy_helper.from_array(a, nm))
        return nm

    def op(self, kind, ins, **attrs):
        out = self.t(kind.lower())
        self.nodes.append(helper.make_node(kind, ins, [out], **attrs))
        return out

    def conv(self, x, cin, cout, k, group=1, bias=True, **attrs):
        w = self.const(rnd(cout, cin // group, *k, scale=0.5))
        ins = [x, w] + ([self.const(rnd(cout))] if bias else [])
        return self.op("Conv", ins, kernel_shape=list(k), group=group, **attrs)


def case(name, build, inputs):
    g = G()
    out = build(g, *[n for n, _ in inputs])
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info(n, F, a.shape) for n, a in inputs],
        [helper.make_tensor_value_info(out, F, None)], initializer=g.inits)
    graph.output[0].type.tensor_type.ClearField("shape")
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    return name, m, inputs


def cases():
    x1 = ("x", rnd(1, 4, 6, 7, 7))
    x2 = ("x", rnd(2, 4, 5, 6, 5))

    def chain(g, x):  # conv -> relu -> conv -> per-channel mul -> maxpool
        y = g.op("Relu", [g.conv(x, 4, 8, (3, 3, 3), pads=[1] * 6)])
        y = g.conv(y, 8, 8, (3, 3, 3), pads=[1] * 6)
        y = g.op("Mul", [y, g.const(rnd(8, 1, 1, 1) + 1.5)])
        return g.op("MaxPool", [y], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
    yield case("conv3d_chain", chain, [x1])
    yield case("conv3d_chain_batch2", chain, [x2])
    yield case("conv3d_strided_dilated",
               lambda g, x: g.conv(x, 4, 6, (3, 2, 3), strides=[2, 1, 2],
                                   dilations=[2, 1, 1],
                                   pads=[1, 0, 1, 0, 1, 2]), [x1])
    yield case("conv3d_stride3_nopad",
               lambda g, x: g.conv(x, 4, 5, (2, 3, 3), strides=[3, 2, 2],
                                   bias=False), [x1])
    yield case("conv3d_same_upper",
               lambda g, x: g.conv(x, 4, 6, (3, 3, 3), strides=[2, 2, 2],
                                   auto_pad="SAME_UPPER"), [x1])
    yield case("conv3d_same_lower_batch2",
               lambda g, x: g.conv(x, 4, 6, (2, 3, 2),
                                   auto_pad="SAME_LOWER"), [x2])

    def r2plus1d(g, x):  # (1, 3, 3) then (3, 1, 1), residual Add
        y = g.op("Relu", [g.conv(x, 4, 8, (1, 3, 3), pads=[0, 1, 1] * 2)])
        y = g.conv(y, 8, 4, (3, 1, 1), pads=[1, 0, 0] * 2)
        return g.op("Relu", [g.op("Add", [y, x])])
    yield case("conv3d_r2plus1d", r2plus1d, [x1])
    yield case("conv3d_r2plus1d_batch2", r2plus1d, [x2])
    yield case("conv3d_grouped",
               lambda g, x: g.conv(x, 4, 8, (3, 3, 3), group=2,
                                   pads=[1] * 6), [x1])

    def depthwise(g, x):  # X3D-style: 1x1x1, depthwise 3x3x3 / 2, 1x1x1
        y = g.op("Relu", [g.conv(x, 4, 8, (1, 1, 1))])
        y = g.conv(y, 8, 8, (3, 3, 3), group=8, strides=[2, 2, 2],
                   pads=[1] * 6)
        y = g.op("Mul", [y, g.op("Sigmoid", [y])])
        return g.conv(y, 8, 4, (1, 1, 1))
    yield case("conv3d_depthwise", depthwise, [x1])
    yield case("conv3d_depthwise_batch2", depthwise, [x2])

    def two_inputs(g, x, s):  # a second graph input added between layers
        y = g.conv(x, 4, 4, (3, 3, 3), pads=[1] * 6)
        y = g.op("Add", [y, s])
        return g.conv(g.op("Relu", [y]), 4, 3, (1, 3, 3), pads=[0, 1, 1] * 2)
    yield case("conv3d_second_input", two_inputs, [x1, ("s", rnd(1, 4, 6, 7, 7))])
    yield case("conv3d_broadcast_input", two_inputs,
               [x1, ("s", rnd(1, 1, 6, 1, 7))])
    def depth_broadcast(depth):  # a depth-1 result added to a full one
        def build(g, x):
            a = g.conv(x, 4, 6, (depth, 3, 3), pads=[0, 1, 1] * 2)
            b = g.conv(x, 4, 6, (1, 3, 3), pads=[0, 1, 1] * 2)
            return g.op("Add", [a, b])
        return build
    yield case("conv3d_depth_broadcast", depth_broadcast(6), [x1])
    yield case("conv3d_depth_broadcast_batch2", depth_broadcast(5), [x2])
    yield case("maxpool3d_padded_dilated",
               lambda g, x: g.op("MaxPool", [x], kernel_shape=[2, 3, 2],
                                 strides=[2, 2, 1], dilations=[2, 1, 1],
                                 pads=[1, 1, 0, 1, 1, 1]), [x1])
    yield case("maxpool3d_ceil",
               lambda g, x: g.op("MaxPool", [x], kernel_shape=[2, 2, 2],
                                 strides=[2, 2, 2], ceil_mode=1), [x2])
    yield case("avgpool3d_exclude_pad",
               lambda g, x: g.op("AveragePool", [x], kernel_shape=[3, 3, 3],
                                 strides=[2, 2, 2], pads=[1] * 6), [x1])
    yield case("avgpool3d_include_pad_batch2",
               lambda g, x: g.op("AveragePool", [x], kernel_shape=[3, 2, 3],
                                 strides=[1, 2, 2], pads=[2, 0, 1, 1, 1, 1],
                                 count_include_pad=1), [x2])
    yield case("avgpool3d_ceil",
               lambda g, x: g.op("AveragePool", [x], kernel_shape=[2, 2, 2],
                                 strides=[2, 2, 2], ceil_mode=1), [x1])

    def convt(cin, cout, k, group=1, bias=True, **attrs):
        def build(g, x):
            w = g.const(rnd(cin, cout // group, *k, scale=0.5))
            ins = [x, w] + ([g.const(rnd(cout))] if bias else [])
            return g.op("ConvTranspose", ins, kernel_shape=list(k),
                        group=group, **attrs)
        return build
    yield case("convtranspose3d_unet", convt(4, 6, (2, 2, 2),
                                             strides=[2, 2, 2]), [x1])
    yield case("convtranspose3d_overlap_outpad",
               convt(4, 5, (3, 3, 3), strides=[2, 2, 2], pads=[1] * 6,
                     output_padding=[1, 1, 0]), [x1])
    yield case("convtranspose3d_temporal_batch2",
               convt(4, 4, (3, 1, 1), bias=False, pads=[1, 0, 0] * 2), [x2])
    yield case("convtranspose3d_gaps_dilated",
               convt(4, 6, (2, 3, 2), group=2, strides=[3, 1, 2],
                     dilations=[2, 1, 1]), [x1])
    yield case("convtranspose3d_output_shape_batch2",
               convt(4, 4, (3, 3, 3), strides=[2, 2, 2],
                     output_shape=[11, 12, 10]), [x2])

    def c3d(g, x):  # C3D-style: conv, pool 1x2x2, conv, pool, global pool
        y = g.op("Relu", [g.conv(x, 4, 8, (3, 3, 3), pads=[1] * 6)])
        y = g.op("MaxPool", [y], kernel_shape=[1, 2, 2], strides=[1, 2, 2])
        y = g.op("Relu", [g.conv(y, 8, 8, (3, 3, 3), pads=[1] * 6)])
        y = g.op("AveragePool", [y], kernel_shape=[2, 2, 2], strides=[2, 2, 2])
        y = g.op("GlobalAveragePool", [y])
        return g.op("Flatten", [y])
    yield case("conv3d_c3d", c3d, [x1])


if __name__ == "__main__":
    sys.exit(main(__doc__, cases))
