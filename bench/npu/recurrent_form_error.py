#!/usr/bin/env python3
"""How far the fixed profile's integer LSTM and GRU (docs/quantization.md,
"LSTM" and "GRU") are from ONNX Runtime's float layers, at the
QuantizeLinear after each.

For each case (a folder with model.onnx and test_data_set_0/input_0.pb):
the output of every QuantizeLinear that an LSTM's or GRU's result reaches
through movement ops (and further recurrent layers) is compared
between ONNX Runtime and Ember's interpreter (`ember run --target=interp`,
the fixed profile), in quanta of that tensor, on the stored input and on
--random seeded inputs (normal, with the stored input's mean and standard
deviation). Prints one row per tensor: the largest difference and the
share of elements that differ.

  bench/npu/recurrent_form_error.py --ember build/bin/ember [--random N]
      CASE... [--synthetic DIR] [--synthetic-gru DIR]

--synthetic DIR: also a case written to DIR, a seeded bidirectional LSTM
(7 steps, batch 2, 10 inputs, 8 hidden) between a uint8 QDQ input and a
uint8 QuantizeLinear. --synthetic-gru DIR: two such GRUs (the same sizes,
with a bias), DIR/gru-lbr0 and DIR/gru-lbr1 (linear_before_reset 0 and 1).

Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import argparse
import os
import subprocess
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

MOVES = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten", "Gather",
         "Slice", "Identity"}


RECURRENT = {"LSTM", "GRU"}


def quantized_sites(m):
    """The QuantizeLinear nodes an LSTM's or GRU's Y reaches through movement
    ops and recurrent layers."""
    readers = {}
    for n in m.graph.node:
        for i, v in enumerate(n.input):
            readers.setdefault(v, []).append(n)
    found, seen = [], set()
    work = [n.output[0] for n in m.graph.node if n.op_type in RECURRENT]
    while work:
        v = work.pop()
        for r in readers.get(v, []):
            if r.op_type == "QuantizeLinear" and r.name not in seen:
                seen.add(r.name)
                found.append(r)
            elif r.op_type in MOVES or r.op_type in RECURRENT:
                work.append(r.output[0])
    return found


def synthetic(d, op="LSTM", **attrs):
    """A seeded bidirectional LSTM (or GRU) between QDQ pairs, and its
    input."""
    from onnx import TensorProto, helper
    rng = np.random.default_rng(7)
    T, B, I, H = 7, 2, 10, 8
    G = 4 if op == "LSTM" else 3
    arr = numpy_helper.from_array
    inits = [arr(rng.uniform(-.5, .5, (2, G * H, I)).astype(np.float32), "W"),
             arr(rng.uniform(-.5, .5, (2, G * H, H)).astype(np.float32), "R"),
             arr(rng.uniform(-.3, .3, (2, 2 * G * H)).astype(np.float32), "B"),
             arr(np.array(0.03, np.float32), "xs"),
             arr(np.array(120, np.uint8), "xz"),
             arr(np.array(0.0075, np.float32), "ys"),
             arr(np.array(128, np.uint8), "yz")]
    mk = helper.make_node
    nodes = [mk("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
             mk("DequantizeLinear", ["xq", "xs", "xz"], ["xd"]),
             mk(op, ["xd", "W", "R", "B"], ["y"],
                direction="bidirectional", hidden_size=H, **attrs),
             mk("QuantizeLinear", ["y", "ys", "yz"], ["yq"]),
             mk("DequantizeLinear", ["yq", "ys", "yz"], ["out"])]
    g = helper.make_graph(
        nodes, op.lower(), [helper.make_tensor_value_info(
            "x", TensorProto.FLOAT, [T, B, I])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT,
                                       [T, 2, B, H])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    os.makedirs(d + "/test_data_set_0", exist_ok=True)
    onnx.save(m, d + "/model.onnx")
    x = rng.normal(0, 1.2, (T, B, I)).astype(np.float32)
    onnx.save_tensor(arr(x, "x"), d + "/test_data_set_0/input_0.pb")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--random", type=int, default=4,
                    help="seeded random inputs besides the stored one")
    ap.add_argument("--synthetic", help="write a synthetic case there too")
    ap.add_argument("--synthetic-gru",
                    help="write two synthetic GRU cases there too")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    if args.synthetic:
        synthetic(args.synthetic)
        args.cases.append(args.synthetic)
    if args.synthetic_gru:
        for lbr in (0, 1):
            d = os.path.join(args.synthetic_gru, f"gru-lbr{lbr}")
            synthetic(d, "GRU", linear_before_reset=lbr)
            args.cases.append(d)
    print("| model | tensor | input | elements | largest difference (quanta) "
          "| elements differing |")
    print("|---|---|---|---|---|---|")
    for case in args.cases:
        m = onnx.load(case + "/model.onnx")
        init = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
        sites = quantized_sites(m)
        want, scale = [], {}
        for q in sites:
            et = onnx.helper.np_dtype_to_tensor_dtype(init[q.input[2]].dtype)
            m.graph.output.append(
                onnx.helper.make_tensor_value_info(q.output[0], et, None))
            want.append(q.output[0])
            scale[q.output[0]] = 1.0
        name = case.rstrip("/").split("/")[-1]
        x0 = numpy_helper.to_array(
            onnx.load_tensor(case + "/test_data_set_0/input_0.pb"))
        inputs = [("stored", x0)]
        rng = np.random.default_rng(0)
        for i in range(args.random):
            inputs.append((f"random {i}", rng.normal(
                x0.mean(), x0.std(), x0.shape).astype(x0.dtype)))
        s = ort.InferenceSession(m.SerializeToString(),
                                 providers=["CPUExecutionProvider"])
        iname = s.get_inputs()[0].name
        for label, x in inputs:
            res = dict(zip(want, s.run(want, {iname: x})))
            with tempfile.TemporaryDirectory() as tmp:
                path = os.path.join(tmp, "model.onnx")
                onnx.save(m, path)
                xin = os.path.join(tmp, "x.npy")
                np.save(xin, x)
                subprocess.run([args.ember, "run", path, "--target=interp",
                                "--integer-recurrent",
                                "--save-outputs", tmp, "--input",
                                iname + "=" + xin],
                               check=True, capture_output=True)
                n0 = len(m.graph.output) - len(want)
                got = {v: numpy_helper.to_array(onnx.load_tensor(
                    os.path.join(tmp, f"output_{n0 + i}.pb")))
                    for i, v in enumerate(want)}
            for v in want:
                d = np.abs(got[v].astype(np.int64) - res[v].astype(np.int64))
                print(f"| {name} | {v} | {label} | {d.size} | {d.max()} | "
                      f"{np.count_nonzero(d)} ({np.count_nonzero(d) / d.size:.1%}) |")


if __name__ == "__main__":
    main()
