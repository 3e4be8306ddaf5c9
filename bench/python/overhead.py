#!/usr/bin/env python3
"""The Python package's per-run overhead: ``compiled.run`` against
``ember bench``'s per-run time on the same model, target and thread count,
in the same minutes. Prints each round's medians and the median of the
per-round ratios (Python / command); the goal is <= 1.10 on the bundled
MNIST (docs/python.md, "Overhead").

    python3 bench/python/overhead.py [--model M] [--target cpu] [--runs 300] [--rounds 5]
"""

import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=str(ROOT / "examples" / "mnist" / "model.onnx"))
    ap.add_argument("--target", default="cpu")
    ap.add_argument("--runs", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--ember", default=str(ROOT / "build" / "bin" / "ember"))
    ap.add_argument("--build", default=str(ROOT / "build"),
                    help="the build whose python/ holds the package (or install it)")
    args = ap.parse_args()
    sys.path.insert(0, os.path.join(args.build, "python"))
    import numpy as np
    import ember

    model = ember.load(args.model)
    compiled = model.compile(args.target, threads=1)
    rng = np.random.default_rng(0)
    feed = {}
    for name, dtype, shape in compiled.inputs:
        feed[name] = rng.uniform(-1, 1, size=shape).astype(ember._NUMPY_OF[dtype])
    for _ in range(20):
        compiled.run(feed)
    ratios = []
    print(f"model={args.model} target={args.target} runs={args.runs} threads=1")
    for r in range(args.rounds):
        out = subprocess.run([args.ember, "bench", args.model, f"--target={args.target}",
                              f"--runs={args.runs}", "--threads=1"],
                             capture_output=True, text=True, check=True).stdout
        cli = float(out.strip().splitlines()[-1].split()[0].split("=")[1])
        times = []
        for _ in range(args.runs):
            t0 = time.perf_counter()
            compiled.run(feed)
            times.append((time.perf_counter() - t0) * 1e3)
        py = statistics.median(times)
        ratios.append(py / cli)
        print(f"round {r + 1}: ember_bench_median_ms={cli:.4f} python_median_ms={py:.4f} "
              f"ratio={py / cli:.3f}")
    print(f"ratio={statistics.median(ratios):.3f} (python / ember bench, median of "
          f"{args.rounds} rounds)")


if __name__ == "__main__":
    main()
