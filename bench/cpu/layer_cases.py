#!/usr/bin/env python3
"""Cuts a model's convolutions out as models of their own, for
bench/cpu/compare_ort.py: OUT/<model>-L<NN>-<op>/model.onnx (one Conv,
QLinearConv or ConvInteger node, its weights and parameters; a QDQ one with
the DequantizeLinear of its input and the QuantizeLinear of its result) with
test_data_set_0/input_0.pb, the activation the layer reads when the whole
model runs on the case's first input (ONNX Runtime, graph optimizations
off).

A layer alone reads a graph input and writes a graph output, both
row-major ([N][C][H][W]), where inside its model it sits between
channels-last layers: the set checks the layouts at a model's boundaries
(docs/changelog/cpu-performance.md, "Row-major convolutions: layers as
models").

  bench/cpu/layer_cases.py --out build/layer-cases \\
      [--first N] [--every K] CASE...

CASE is a test-case folder (model.onnx, test_data_set_0/input_*.pb), as
../shared/models and bench/cpu/make_bench_set.py's set have them. --first:
at most N layers a model (default 12), every K-th convolution (default 1).
Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import argparse
import os
import sys
import tempfile

import onnx
import onnx.utils
import onnxruntime as ort
from onnx import numpy_helper, shape_inference

from compare_ort import case_inputs

CONV_OPS = ("Conv", "QLinearConv", "ConvInteger")


def intermediate_values(model, names, feeds):
    """Values `names` of `model` (ONNX Runtime, graph optimizations off) on
    `feeds`, by name; the feeds' own names among them are the feeds."""
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    run = [v for v in dict.fromkeys(names) if v not in feeds]
    have = {o.name for o in probe.graph.output}
    probe.graph.output.extend(onnx.helper.make_empty_tensor_value_info(v)
                              for v in run if v not in have)
    so = ort.SessionOptions()
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    sess = ort.InferenceSession(probe.SerializeToString(), so,
                                providers=["CPUExecutionProvider"])
    values = dict(zip(run, sess.run(run, feeds)))
    values.update({v: feeds[v] for v in names if v in feeds})
    return values


def cut(case, out, first, every):
    name = os.path.basename(os.path.normpath(case))
    model = shape_inference.infer_shapes(
        onnx.load(os.path.join(case, "model.onnx")))
    convs = [n for n in model.graph.node if n.op_type in CONV_OPS]
    convs = convs[::every][:first]
    # A QDQ layer is DequantizeLinear -> Conv -> QuantizeLinear: its cut
    # reads the 8-bit activation and writes the 8-bit result.
    producer = {o: n for n in model.graph.node for o in n.output}
    readers = {}
    for n in model.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)

    def ends(n):
        x, y = n.input[0], n.output[0]
        p = producer.get(x)
        if p is not None and p.op_type == "DequantizeLinear":
            x = p.input[0]
        r = readers.get(y, [])
        if len(r) == 1 and r[0].op_type == "QuantizeLinear":
            y = r[0].output[0]
        return x, y

    cuts = [ends(n) for n in convs]
    feeds = dict(case_inputs(case) or [])
    if not feeds:
        sys.exit("%s: no test_data_set_0/input_*.pb" % case)
    # Each layer's activation input and its result (typed from the run where
    # shape inference has no type: extract_model needs one).
    names = [v for c in cuts for v in c]
    values = intermediate_values(model, names, feeds)
    known = {v.name for v in list(model.graph.value_info) +
             list(model.graph.input) + list(model.graph.output)}
    for v in dict.fromkeys(names):
        if v not in known:
            model.graph.value_info.append(onnx.helper.make_tensor_value_info(
                v, onnx.helper.np_dtype_to_tensor_dtype(values[v].dtype),
                list(values[v].shape)))
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.onnx")
        onnx.save(model, full)
        for i, (n, (x, y)) in enumerate(zip(convs, cuts)):
            d = os.path.join(out, "%s-L%02d-%s" % (name, i, n.op_type))
            os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
            onnx.utils.extract_model(full, os.path.join(d, "model.onnx"), [x],
                                     [y], check_model=False)
            with open(os.path.join(d, "test_data_set_0", "input_0.pb"),
                      "wb") as f:
                f.write(numpy_helper.from_array(values[x], x)
                        .SerializeToString())
            print("%s  %s %s" % (d, values[x].dtype, list(values[x].shape)))


def main():
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", required=True)
    ap.add_argument("--first", type=int, default=12)
    ap.add_argument("--every", type=int, default=1)
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    if a.first < 1 or a.every < 1:
        sys.exit("--first and --every must be at least 1")
    for c in a.cases:
        if not os.path.isfile(os.path.join(c, "model.onnx")):
            sys.exit("%s: not a test-case folder (no model.onnx)" % c)
        cut(c, a.out, a.first, a.every)


if __name__ == "__main__":
    main()
