#!/usr/bin/env python3
"""Ember's int8 arithmetic against ONNX Runtime's: for each int8 test case
(model.onnx + test_data_set_*), runs `ember run` on the target and ONNX
Runtime on the same inputs, and prints the distribution of the differences
in output quanta (an output computed by DequantizeLinear: one quantum is its
scale; an integer output: one unit).

  int8_vs_ort.py [--ember build/bin/ember] [--target interp]
                 [--requant fixed|float32|tflite|gemmlowp|sat16]
                 [--per-layer | --layerwise]
                 CASE_DIR...

The last line is `total: elements=<n> exact=<share> within1=<share> max=<q>`.

--requant picks Ember's requantization profile (docs/quantization.md):
float32 computes what ONNX Runtime's x86 kernels compute, fixed (Ember's
default) the exact fixed-point form, tflite and gemmlowp the arithmetics a
device declares (TFLite's single-rounding add; gemmlowp's doubling
rescales; sat16's add, saturating at 16 bits between steps).
--per-layer (layer_divergence.py) names, for each case, the first tensor where Ember and ONNX Runtime
differ, the op that computed it, the elements and why (tie, near-tie,
other); its last line is `per-layer: cases=<n> equal=<n> tie=<n>
near-tie=<n> other=<n>` (differing elements of the first tensors).

--layerwise (layer_divergence.py) recomputes each quantized tensor with
Ember from ONNX Runtime's own values of the quantized tensors it is computed
from (every layer fed the same bytes on both sides), one `ember run` per
layer, and prints per layer the elements that differ, the largest
difference in that layer's output quanta, why they differ (tie, near-tie,
other, as --per-layer) and how many Ember rounds to the integer nearest
the exact value; its last line is `layerwise: layers=<n> exact=<n>
within1=<n> failed=<n> max=<q>` (layers with no / at most one quantum of
difference).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper


def output_quanta(model):
    """Name -> quantum of each graph output made by a DequantizeLinear."""
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    consts = {}
    for n in model.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
    inits.update(consts)
    prod = {o: n for n in model.graph.node for o in n.output}
    q = {}
    for o in model.graph.output:
        n = prod.get(o.name)
        if n is not None and n.op_type == "DequantizeLinear" and n.input[1] in inits:
            s = inits[n.input[1]]
            if s.size == 1:
                q[o.name] = float(s.reshape(-1)[0])
    return q


def run_case(case, ember, target, requant=None):
    import onnxruntime as ort
    model_path = os.path.join(case, "model.onnx")
    model = onnx.load(model_path)
    quanta = output_quanta(model)
    sess = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    diffs = []
    for ds in sorted(d for d in os.listdir(case) if d.startswith("test_data_set_")):
        dsp = os.path.join(case, ds)
        ins = []
        i = 0
        while os.path.exists(os.path.join(dsp, f"input_{i}.pb")):
            t = onnx.load_tensor(os.path.join(dsp, f"input_{i}.pb"))
            ins.append((t.name or sess.get_inputs()[i].name, numpy_helper.to_array(t)))
            i += 1
        names = [x.name for x in sess.get_inputs()]
        feed = {n: a for n, (_, a) in zip(names, ins)}
        ref = sess.run(None, feed)
        with tempfile.TemporaryDirectory() as td:
            cmd = [ember, "run", model_path, f"--target={target}", "--save-outputs", td]
            if requant:
                cmd.append(f"--requant={requant}")
            for i, n in enumerate(names):
                p = os.path.join(td, f"in{i}.npy")
                np.save(p, feed[n])
                cmd += ["--input", f"{n}={p}"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                print(f"{os.path.basename(case)}: ember failed: {r.stderr.strip()[-300:]}")
                return None
            for k, o in enumerate(sess.get_outputs()):
                cand = [f for f in os.listdir(td) if not f.startswith("in")]
                path = None
                for f in cand:
                    if f.startswith(o.name.replace("/", "_")) or f.startswith(f"output_{k}"):
                        path = os.path.join(td, f)
                if path is None:
                    path = os.path.join(td, sorted(cand)[k])
                got = (np.load(path) if path.endswith(".npy")
                       else numpy_helper.to_array(onnx.load_tensor(path)))
                want = ref[k]
                if np.issubdtype(want.dtype, np.integer):
                    d = np.abs(got.astype(np.int64) - want.astype(np.int64)).astype(np.float64)
                elif o.name in quanta:
                    d = np.abs(got.astype(np.float64) - want.astype(np.float64)) / quanta[o.name]
                    d = np.round(d, 3)
                else:
                    print(f"{os.path.basename(case)}: output {o.name} is float, not counted")
                    continue
                diffs.append(d.reshape(-1))
    return np.concatenate(diffs) if diffs else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", default="build/bin/ember")
    ap.add_argument("--target", default="interp")
    ap.add_argument("--requant",
                    choices=["fixed", "float32", "tflite", "gemmlowp",
                             "sat16"])
    ap.add_argument("--per-layer", action="store_true")
    ap.add_argument("--layerwise", action="store_true")
    ap.add_argument("cases", nargs="+")
    a = ap.parse_args()
    if a.layerwise:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from layer_divergence import layerwise
        tot = {"layers": 0, "exact": 0, "within1": 0, "failed": 0, "max": 0}
        for c in a.cases:
            r = layerwise(c, a.ember, a.target, a.requant)
            for k in tot:
                tot[k] = max(tot[k], r[k]) if k == "max" else tot[k] + r[k]
        print("layerwise: " + " ".join(f"{k}={v}" for k, v in tot.items()))
        return
    if a.per_layer:
        sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
        from layer_divergence import first_divergence
        tot = {"cases": 0, "equal": 0, "tie": 0, "near-tie": 0, "other": 0}
        for c in a.cases:
            try:
                r = first_divergence(c, a.ember, a.target, a.requant)
            except RuntimeError as err:
                print(f"{os.path.basename(os.path.normpath(c))}: ember failed: {err}")
                continue
            tot["cases"] += 1
            tot["equal"] += r["first"] is None
            for k, n in r["why"].items():
                tot[k] += n
        print("per-layer: " + " ".join(f"{k}={v}" for k, v in tot.items()))
        return
    allv = []
    print(f"{'case':40s} {'elements':>9s} {'exact':>7s} {'<=1':>7s} {'max':>6s}  histogram (quanta: count)")
    for c in a.cases:
        d = run_case(c, a.ember, a.target, a.requant)
        if d is None:
            continue
        allv.append(d)
        r = np.rint(d).astype(np.int64)
        vals, cnt = np.unique(r, return_counts=True)
        hist = " ".join(f"{v}:{n}" for v, n in zip(vals, cnt))
        print(f"{os.path.basename(os.path.normpath(c)):40s} {d.size:9d} {np.mean(d < 0.5):7.4f} "
              f"{np.mean(d < 1.5):7.4f} {r.max():6d}  {hist}")
    if not allv:
        sys.exit("error: no case ran")
    d = np.concatenate(allv)
    print(f"total: elements={d.size} exact={np.mean(d < 0.5):.4f} within1={np.mean(d < 1.5):.4f} "
          f"max={int(np.rint(d).max())}")


if __name__ == "__main__":
    main()
