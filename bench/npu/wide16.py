#!/usr/bin/env python3
"""16-bit activations (16x8) on the example NPU (docs/npu-performance.md,
"16-bit activations").

Quantizes one fp32 model three ways with `ember quantize` (all-int8, all-int16
`--activation-type int16`, and `--mixed-precision BUDGET`), runs each on
`--target=npu-sim` on the chosen executors and checks the outputs bit-exact
against the interpreter (tests/npu/check_npu.py), and prints per model its
NPU cycles, their ratio to the all-int8 model's (the same run), MAC
utilization, DMA bytes, the NPU and host node counts and the NPU partitions.

    bench/npu/wide16.py --ember build/bin/ember MODEL_DIR [--budget 1.3]
        [--executors systemc,golden] [--calibration DIR] [--out DIR]

MODEL_DIR holds model.onnx (fp32) and test_data_set_0 (the run's input);
the calibration folder defaults to MODEL_DIR. With --coverage-model NAME
(a model of bench/npu/coverage_set.py, e.g. lcnet-toy: HardSwish and
squeeze-excitation) MODEL_DIR is made first: the seeded fp32 model, its
input in test_data_set_0 and three more seeded inputs to calibrate on.
"""
import argparse
import json
import os
import subprocess
import sys


def make_coverage_model(name, out):
    """MODEL_DIR from a model of bench/npu/coverage_set.py (seed 7)."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import coverage_set as cs
    rng = np.random.default_rng(7)
    m = cs.MODELS[name](rng)
    os.makedirs(out, exist_ok=True)
    onnx.save(m, os.path.join(out, "model.onnx"))
    x = m.graph.input[0]
    shape = [d.dim_value for d in x.type.tensor_type.shape.dim]
    for k in range(4):
        d = os.path.join(out, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        v = rng.standard_normal(shape).astype(np.float32)
        open(os.path.join(d, "input_0.pb"), "wb").write(
            numpy_helper.from_array(v, x.name).SerializeToString())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("model")
    ap.add_argument("--budget", default="1.3")
    ap.add_argument("--executors", default="systemc,golden")
    ap.add_argument("--calibration")
    ap.add_argument("--out", default="/tmp/ember-wide16")
    ap.add_argument("--coverage-model")
    args = ap.parse_args()
    if args.coverage_model and not os.path.exists(
            os.path.join(args.model, "model.onnx")):
        make_coverage_model(args.coverage_model, args.model)
    here = os.path.dirname(os.path.abspath(__file__))
    check = os.path.join(here, "..", "..", "tests", "npu", "check_npu.py")
    calib = args.calibration or args.model
    variants = [("int8", []), ("int16", ["--activation-type", "int16"]),
                (f"mixed {args.budget}", ["--mixed-precision", args.budget])]
    rows = []
    for name, extra in variants:
        d = os.path.join(args.out, name.replace(" ", "-"))
        os.makedirs(d, exist_ok=True)
        cmd = [args.ember, "quantize", os.path.join(args.model, "model.onnx"),
               "--calibration", calib, "-o", os.path.join(d, "model.onnx"),
               "--quiet"] + extra
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        link = os.path.join(d, "test_data_set_0")
        if not os.path.exists(link):
            os.symlink(os.path.abspath(
                os.path.join(args.model, "test_data_set_0")), link)
        res = {"model": name}
        for ex in args.executors.split(","):
            js = os.path.join(d, f"check-{ex}.json")
            # (The expected outputs are the fp32 model's: bit-exactness is
            # against the interpreter; the distance to ONNX Runtime is not
            # checked here.)
            p = subprocess.run([sys.executable, check, "--ember", args.ember,
                                "--executor", ex, "--ort-max-quanta",
                                "1000000000", "--json", js, d],
                               capture_output=True, text=True)
            r = json.load(open(js))[0]
            res[ex] = r
            res[ex + "_exact"] = p.returncode == 0 and r["ok"]
        rows.append(res)
    first = args.executors.split(",")[0]
    base = rows[0][first]["cycles"]
    print(f"| model | cycles ({first}) | vs int8 | mac_util | DMA bytes | "
          f"NPU nodes | host nodes | NPU partitions | bit-exact "
          f"({', '.join(args.executors.split(','))}) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        c = r[first]
        exact = ", ".join("yes" if r[e + "_exact"] else "NO"
                          for e in args.executors.split(","))
        print(f"| {r['model']} | {c['cycles']:,} | {c['cycles'] / base:.3f}x "
              f"| {c['mac_util']:.3f} | {c['dma_bytes']:,} | {c['npu_nodes']} "
              f"| {c['host_nodes']} | {c['npu_partitions']} | {exact} |")
    return 0 if all(r[e + "_exact"] for r in rows
                    for e in args.executors.split(",")) else 1


if __name__ == "__main__":
    sys.exit(main())
