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
(docs/performance.md, "Row-major convolutions: layers as models").

  bench/cpu/layer_cases.py --out build/layer-cases \\
      [--first N] [--every K] CASE...

CASE is a test-case folder (model.onnx, test_data_set_0/input_*.pb), as
../shared/models and bench/cpu/make_bench_set.py's set have them. --first:
at most N layers a model (default 12), every K-th convolution (default 1).
Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import argparse
import glob
import os
import sys
import tempfile

CONV_OPS = ("Conv", "QLinearConv", "ConvInteger")


def case_inputs(case):
    import onnx
    from onnx import numpy_helper
    feeds = {}
    for f in sorted(glob.glob(os.path.join(case, "test_data_set_0",
                                           "input_*.pb"))):
        t = onnx.load_tensor(f)
        feeds[t.name] = numpy_helper.to_array(t)
    return feeds


def cut(case, out, first, every):
    import onnx
    import onnx.utils
    import onnxruntime as ort
    from onnx import numpy_helper, shape_inference

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
    feeds = case_inputs(case)
    if not feeds:
        sys.exit("%s: no test_data_set_0/input_*.pb" % case)
    # Each layer's activation input and its result, as extra outputs of the
    # whole model (their types from the run where shape inference has none).
    known = {v.name for v in list(model.graph.value_info) +
             list(model.graph.input) + list(model.graph.output)}
    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = list(dict.fromkeys(
        v for c in cuts for v in c if v not in feeds))
    outs = {o.name for o in probe.graph.output}
    for v in names:
        if v not in outs:
            probe.graph.output.append(onnx.helper.make_empty_tensor_value_info(v))
    with tempfile.TemporaryDirectory() as tmp:
        probed = os.path.join(tmp, "probe.onnx")
        onnx.save(probe, probed)
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        sess = ort.InferenceSession(probed, so,
                                    providers=["CPUExecutionProvider"])
        values = dict(zip([o.name for o in sess.get_outputs()],
                          sess.run(None, feeds)))
        values.update(feeds)
        for v in names:
            if v not in known:
                arr = values[v]
                model.graph.value_info.append(onnx.helper.make_tensor_value_info(
                    v, onnx.helper.np_dtype_to_tensor_dtype(arr.dtype),
                    list(arr.shape)))
        full = os.path.join(tmp, "full.onnx")
        onnx.save(model, full)
        made = []
        for i, (n, (x, y)) in enumerate(zip(convs, cuts)):
            d = os.path.join(out, "%s-L%02d-%s" % (name, i, n.op_type))
            os.makedirs(os.path.join(d, "test_data_set_0"), exist_ok=True)
            onnx.utils.extract_model(full, os.path.join(d, "model.onnx"), [x],
                                     [y], check_model=False)
            arr = values[x]
            with open(os.path.join(d, "test_data_set_0", "input_0.pb"),
                      "wb") as f:
                f.write(numpy_helper.from_array(arr, x).SerializeToString())
            made.append(d)
            print("%s  %s %s" % (d, arr.dtype, list(arr.shape)))
    return made


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
