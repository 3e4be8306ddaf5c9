#!/usr/bin/env python3
"""Ember against ONNX Runtime on the same models, inputs and thread counts,
in the same run.

For each model and thread count, `--rounds` times in turn: `ember bench MODEL
--target=T --threads N --runs R --input ...` on the model's inputs, then
onnxruntime (intra_op_num_threads=N, inter_op 1, sequential, all graph
optimizations) for the same number of runs after the same warm-up. Each
round gives a same-run ratio ORT/Ember (> 1: Ember is faster); a line per
(model, threads) prints the medians of the rounds' medians and the median
ratio with every ratio, and a summary closes the run (geometric mean of the
median ratios, how many are at least 1).

  bench/cpu/compare_ort.py --ember build/bin/ember --target cpu \\
      --threads 1,2 --runs 30 --rounds 5 MODEL...
  bench/cpu/compare_ort.py --set build/bench-set ...   # the wider set

MODEL is an .onnx file or a test-case folder (model.onnx and
test_data_set_0/input_*.pb, as ../shared/models has them). Inputs:
  - a case folder's test_data_set_0 inputs, as they are;
  - else drawn once per model (seeded) with symbolic dims bound by --dim
    NAME=N, then batch-like names (batch, N, None, ...) to 1, then the
    spatial dims of a 4-D float image input [N, C, H, W] to --image-size;
    any other symbolic dim is an error naming it.
Both engines get the same inputs (as .npy files for `ember bench`).

--set DIR runs the wider benchmark set docs/performance.md describes: every
model in <shared>/models, the ONNX light zoo (<shared>/onnx-backend/light),
the detection/segmentation models in DIR/dense, the QDQ int8 copies in
DIR/qdq and the dynamically quantized ones in DIR/dyn (bench/cpu/make_bench_set.py makes
them). --json FILE writes every round's figures.

On an AVX-512 host, `bench/cpu/masked_host.py avx2 -- python3
bench/cpu/compare_ort.py ...` measures both engines as an AVX2-only host
runs them (CPUID masked for the whole process and the `ember` it starts);
the host line then says so.

--ember-before OTHER times a second Ember build in the same rounds (before
each round's Ember run), so a change's before/after table comes from one
run: each line then adds the median of the rounds' before/after ratios
(> 1: the change made it faster) and the summary their geometric mean and
the entries more than 5% slower.
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

NP_TYPES = {
    onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.DOUBLE: np.float64, onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32, onnx.TensorProto.INT8: np.int8,
    onnx.TensorProto.UINT8: np.uint8, onnx.TensorProto.BOOL: np.bool_,
}

BATCH_LIKE = re.compile(r"(^|[^a-z])(batch|n|none|unk__\d+|b|bs)($|[^a-z])",
                        re.I)


def case_inputs(folder):
    """The inputs of test_data_set_0, by graph input name, or None."""
    ds = os.path.join(folder, "test_data_set_0")
    if not os.path.isdir(ds):
        return None
    files = sorted(f for f in os.listdir(ds) if re.match(r"input_\d+\.pb$", f))
    if not files:
        return None
    files.sort(key=lambda f: int(f[6:-3]))
    m = onnx.load(os.path.join(folder, "model.onnx"), load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    out = []
    for k, f in enumerate(files):
        t = onnx.TensorProto()
        with open(os.path.join(ds, f), "rb") as fh:
            t.ParseFromString(fh.read())
        name = t.name or (names[k] if k < len(names) else f"input_{k}")
        out.append((name, numpy_helper.to_array(t)))
    return out


def drawn_inputs(path, rng, dims_given, image_size):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    feeds = []
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dt = NP_TYPES.get(tt.elem_type)
        if dt is None:
            raise ValueError(f"input {vi.name} has an unsupported element "
                             f"type {tt.elem_type}")
        shape = []
        rank = len(tt.shape.dim)
        for i, d in enumerate(tt.shape.dim):
            if d.HasField("dim_value") and d.dim_value > 0:
                shape.append(d.dim_value)
                continue
            name = d.dim_param if d.HasField("dim_param") else ""
            if name in dims_given:
                shape.append(dims_given[name])
            elif i == 0 and (not name or BATCH_LIKE.search(name)):
                shape.append(1)
            elif (rank == 4 and i >= 2 and np.issubdtype(dt, np.floating)):
                shape.append(image_size)
            else:
                raise ValueError(f"input {vi.name} dim {i} is symbolic "
                                 f"('{name}'); bind it with --dim {name}=N")
        if np.issubdtype(dt, np.floating):
            x = rng.uniform(-1, 1, shape).astype(dt)
        elif dt == np.bool_:
            x = rng.integers(0, 2, shape).astype(dt)
        else:
            x = rng.integers(0, 16, shape).astype(dt)
        feeds.append((vi.name, x))
    return feeds


def ember_run(args, model, threads, inputs, ember=None):
    cmd = [ember or args.ember, "bench", model, f"--target={args.target}",
           f"--threads={threads}", f"--runs={args.runs}",
           f"--warmup={args.warmup}"] + inputs
    for opt in args.backend_opt:
        cmd += ["--backend-opt", opt]
    try:
        r = subprocess.run(cmd, capture_output=True, text=True,
                           timeout=args.timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"ember timed out after {args.timeout} s")
    if r.returncode != 0:
        err = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise RuntimeError(f"ember failed: {err}")
    lines = r.stdout.strip().splitlines()
    last = dict(kv.split("=", 1) for kv in lines[-1].split())
    first = dict(kv.split("=", 1) for kv in lines[0].split() if "=" in kv)
    return float(last["median_ms"]), first


class OrtRunner:
    def __init__(self, model, threads):
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = \
            ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.s = ort.InferenceSession(model, so,
                                      providers=["CPUExecutionProvider"])

    def median(self, args, feeds):
        for _ in range(args.warmup):
            self.s.run(None, feeds)
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            self.s.run(None, feeds)
            times.append((time.perf_counter() - t0) * 1e3)
        return statistics.median(times)


def wider_set(set_dir, shared):
    models = []
    mdir = os.path.join(shared, "models")
    for n in sorted(os.listdir(mdir)) if os.path.isdir(mdir) else []:
        if os.path.exists(os.path.join(mdir, n, "model.onnx")):
            models.append(os.path.join(mdir, n))
    ldir = os.path.join(shared, "onnx-backend", "light")
    for f in sorted(os.listdir(ldir)) if os.path.isdir(ldir) else []:
        if f.endswith(".onnx"):
            models.append(os.path.join(ldir, f))
    ddir = os.path.join(set_dir, "dense")
    for n in sorted(os.listdir(ddir)) if os.path.isdir(ddir) else []:
        if os.path.exists(os.path.join(ddir, n, "model.onnx")):
            models.append(os.path.join(ddir, n))
    for sub in ("qdq", "dyn"):
        qdir = os.path.join(set_dir, sub)
        for n in sorted(os.listdir(qdir)) if os.path.isdir(qdir) else []:
            if os.path.exists(os.path.join(qdir, n, "model.onnx")):
                models.append(os.path.join(qdir, n))
    if not models:
        raise SystemExit(f"error: no models under {shared} or {set_dir}")
    return models


def host_cpu():
    """The CPU's model name and the vector extensions the kernels choose
    between (figures differ by far between an AVX2-only host and an
    AVX-512 one), from /proc/cpuinfo; "unknown" elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return "unknown"
    model = re.search(r"^model name\s*:\s*(.*)$", info, re.M)
    flags = re.search(r"^flags\s*:\s*(.*)$", info, re.M)
    have = set(flags.group(1).split()) if flags else set()
    isa = [f for f in ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni")
           if f in have]
    masked = os.environ.get("EMBER_CPUID_MASK")
    if masked:
        # Under bench/cpu/masked_host.py: /proc/cpuinfo still lists what
        # the CPU has; what this process's CPUID reports, numpy's view.
        try:
            from numpy._core._multiarray_umath import __cpu_features__ as f
        except ImportError:
            from numpy.core._multiarray_umath import __cpu_features__ as f
        seen = [k.lower() for k in ("AVX2", "FMA3", "AVX512F") if f.get(k)]
        isa = (f"masked to {masked} by cpuid faulting: cpuid reports "
               f"{' '.join(seen)}; the CPU has {' '.join(isa)}")
        return (f"{model.group(1).strip() if model else 'cpu'} "
                f"({isa}, {os.cpu_count()} cpus)")
    return (f"{model.group(1).strip() if model else 'cpu'} "
            f"({' '.join(isa) or 'no avx2'}, {os.cpu_count()} cpus)")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", default="build/bin/ember")
    ap.add_argument("--ember-before", metavar="OTHER",
                    help="a second ember binary timed in the same rounds")
    ap.add_argument("--target", default="cpu")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=1,
                    help="same-run ratios per (model, threads)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dim", action="append", default=[],
                    help="NAME=N: bind a symbolic dim of drawn inputs")
    ap.add_argument("--image-size", type=int, default=224)
    ap.add_argument("--timeout", type=int, default=900,
                    help="seconds for one ember bench")
    ap.add_argument("--set", help="run the wider set made in this folder")
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    ap.add_argument("--only", action="append", default=[],
                    help="with --set: models whose path contains this")
    ap.add_argument("--json", help="write every round's figures here")
    ap.add_argument("--backend-opt", action="append", default=[],
                    metavar="KEY=VALUE",
                    help="passed to every `ember bench` (both builds), e.g. "
                    "isa=avx2: Ember's AVX2 path on an AVX-512 host, ONNX "
                    "Runtime unmasked (pessimistic for Ember; masked_host.py "
                    "masks both)")
    ap.add_argument("models", nargs="*")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    dims = {}
    for d in args.dim:
        k, _, v = d.partition("=")
        dims[k] = int(v)
    models = list(args.models)
    if args.set:
        models += [m for m in wider_set(args.set, args.shared)
                   if not args.only or any(o in m for o in args.only)]
    if not models:
        ap.error("give models or --set")
    for m in models:
        path = os.path.join(m, "model.onnx") if os.path.isdir(m) else m
        if not os.path.isfile(path):
            ap.error(f"no model at {path}: give an .onnx file or a folder "
                     "with model.onnx")
    print(f"ember {args.target} vs onnxruntime {ort.__version__}; "
          f"runs={args.runs} warmup={args.warmup} rounds={args.rounds}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"host: {host_cpu()}")
    if args.backend_opt:
        print(f"ember backend options: {' '.join(args.backend_opt)}")
    print(f"{'model':44s} {'thr':>3s} {'ember_ms':>10s} {'ort_ms':>10s} "
          f"{'ort/ember':>9s}  rounds; ember nodes")
    medians, failed, records, befores = [], 0, [], []
    with tempfile.TemporaryDirectory() as tmp:
        for m in models:
            path = os.path.join(m, "model.onnx") if os.path.isdir(m) else m
            name = os.path.basename(os.path.normpath(m))
            if name.endswith(".onnx"):
                name = name[:-5]
            try:
                feeds = (case_inputs(m) if os.path.isdir(m) else None) or \
                    drawn_inputs(path, np.random.default_rng(args.seed),
                                 dims, args.image_size)
            except ValueError as err:
                print(f"{name:44s}     error: {err}")
                failed += 1
                continue
            inputs = []
            for i, (n, x) in enumerate(feeds):
                f = os.path.join(tmp, f"{len(records)}_{i}.npy")
                np.save(f, x)
                inputs.append(f"--input={n}={f}")
            for t in threads:
                rounds, info = [], {}
                try:
                    runner = OrtRunner(path, t)
                    for _ in range(args.rounds):
                        b = ember_run(args, path, t, inputs,
                                      args.ember_before)[0] \
                            if args.ember_before else None
                        e, info = ember_run(args, path, t, inputs)
                        o = runner.median(args, dict(feeds))
                        rounds.append((e, o, b))
                except (RuntimeError, ort.capi.onnxruntime_pybind11_state.
                        Fail) as err:
                    print(f"{name:44s} {t:3d} error: {err}", flush=True)
                    failed += 1
                    continue
                e = statistics.median(r[0] for r in rounds)
                o = statistics.median(r[1] for r in rounds)
                ratios = [r[1] / r[0] for r in rounds]
                ratio = statistics.median(ratios)
                medians.append(ratio)
                nodes = " ".join(f"{k}={info[k]}" for k in
                                 ("plugin_nodes", "fallback_nodes")
                                 if k in info)
                listed = ", ".join(f"{r:.2f}" for r in ratios)
                rec = {"model": name, "path": path, "threads": t,
                       "ember_ms": [r[0] for r in rounds],
                       "ort_ms": [r[1] for r in rounds],
                       "ratio": ratio, "nodes": info}
                if args.ember_before:
                    ba = [r[2] / r[0] for r in rounds]
                    befores.append(statistics.median(ba))
                    rec["before_ms"] = [r[2] for r in rounds]
                    rec["before_after"] = befores[-1]
                    listed += "; before/after %.2f (%s)" % (
                        befores[-1], ", ".join(f"{r:.2f}" for r in ba))
                print(f"{name:44s} {t:3d} {e:10.3f} {o:10.3f} {ratio:9.2f}  "
                      f"{listed}; {nodes}", flush=True)
                records.append(rec)
    if medians:
        geo = float(np.exp(np.mean(np.log(medians))))
        print(f"geomean ort/ember={geo:.2f} over {len(medians)} entries, "
              f"{sum(r >= 1.0 for r in medians)} at least as fast as ORT, "
              f"{failed} failed; load average {os.getloadavg()[0]:.1f}")
    if befores:
        geo = float(np.exp(np.mean(np.log(befores))))
        print(f"before/after geomean={geo:.2f} over {len(befores)} entries, "
              f"{sum(r < 0.95 for r in befores)} more than 5% slower")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"onnxruntime": ort.__version__, "host": host_cpu(),
                       "ember_before": args.ember_before,
                       "runs": args.runs,
                       "rounds": args.rounds, "entries": records}, f,
                      indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
