#!/usr/bin/env python3
"""Ember against ONNX Runtime on the same models, inputs and thread counts,
in the same run.

For each model and thread count: random inputs are drawn once (seeded) and
saved as .npy; `ember bench MODEL --target=T --threads N --runs R --input ...`
runs on them, then onnxruntime (intra_op_num_threads=N, inter_op 1,
sequential, all graph optimizations) times the same number of runs after the
same warm-up. Prints one line per (model, threads) with both medians and the
ratio ORT/Ember (> 1: Ember is faster), and a summary.

  bench/cpu/compare_ort.py --ember build/bin/ember --target cpu \\
      --threads 1,2 --runs 30 MODEL.onnx...
Models may be folders holding model.onnx.
"""
import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort

NP_TYPES = {
    onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32, onnx.TensorProto.INT8: np.int8,
    onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.BOOL: np.bool_,
}


def model_inputs(path, rng):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    feeds = {}
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                else 1 for d in tt.shape.dim]
        dt = NP_TYPES.get(tt.elem_type)
        if dt is None:
            raise SystemExit(f"{path}: input {vi.name} has an unsupported "
                             f"element type {tt.elem_type}")
        if np.issubdtype(dt, np.floating):
            x = rng.uniform(-1, 1, dims).astype(dt)
        elif dt == np.bool_:
            x = rng.integers(0, 2, dims).astype(dt)
        else:
            x = rng.integers(0, 16, dims).astype(dt)
        feeds[vi.name] = x
    return feeds


def ember_median(args, model, threads, feeds, tmp):
    cmd = [args.ember, "bench", model, f"--target={args.target}",
           f"--threads={threads}", f"--runs={args.runs}",
           f"--warmup={args.warmup}"]
    for name, x in feeds.items():
        f = os.path.join(tmp, f"in{len(cmd)}.npy")
        np.save(f, x)
        cmd.append(f"--input={name}={f}")
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"ember failed: {r.stderr.strip()}")
    lines = r.stdout.strip().splitlines()
    last = dict(kv.split("=", 1) for kv in lines[-1].split())
    first = dict(kv.split("=", 1) for kv in lines[0].split() if "=" in kv)
    return float(last["median_ms"]), first


def ort_median(args, model, threads, feeds):
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    s = ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    for _ in range(args.warmup):
        s.run(None, feeds)
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        s.run(None, feeds)
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", default="build/bin/ember")
    ap.add_argument("--target", default="cpu")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    print(f"ember {args.target} vs onnxruntime {ort.__version__}; "
          f"runs={args.runs} warmup={args.warmup}")
    print(f"{'model':40s} {'thr':>3s} {'ember_ms':>10s} {'ort_ms':>10s} "
          f"{'ort/ember':>9s}  ember nodes")
    ratios, failed = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        for m in args.models:
            path = os.path.join(m, "model.onnx") if os.path.isdir(m) else m
            name = os.path.basename(os.path.dirname(path)) if os.path.isdir(
                m) else os.path.basename(path)
            feeds = model_inputs(path, np.random.default_rng(args.seed))
            for t in threads:
                try:
                    e, info = ember_median(args, path, t, feeds, tmp)
                except RuntimeError as err:
                    print(f"{name:40s} {t:3d} error: {err}")
                    failed += 1
                    continue
                o = ort_median(args, path, t, feeds)
                ratios.append(o / e)
                nodes = " ".join(f"{k}={info[k]}" for k in
                                 ("plugin_nodes", "fallback_nodes")
                                 if k in info)
                print(f"{name:40s} {t:3d} {e:10.3f} {o:10.3f} {o / e:9.2f}  "
                      f"{nodes}", flush=True)
    if ratios:
        geo = float(np.exp(np.mean(np.log(ratios))))
        print(f"geomean ort/ember={geo:.2f} over {len(ratios)} runs, "
              f"{sum(r >= 1.0 for r in ratios)} at least as fast as ORT")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
