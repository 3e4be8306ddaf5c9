#!/usr/bin/env python3
"""A real int8 model through one NPU core and two (docs/runtime.md): every
request's outputs on two cores are the single core's bit for bit, each
stage's predicted time is within 15% of its measured one, and two cores
finish the requests in less simulated time than one (the throughput
figures themselves are bench/npu/runtime_bench.py's, over more requests).

    check_model.py --ember build/bin/ember MODEL.onnx [--requests 8]

Exits 77 (skipped) naming what is missing when MODEL does not exist (the
shared models folder is not on every machine).
"""
import argparse
import os
import re
import subprocess
import sys


def bench(ember, model, devices, requests):
    args = [ember, "bench", model, "--devices", devices, "--requests",
            str(requests), "--warmup", "1"]
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stdout.write(p.stdout + p.stderr)
        raise SystemExit(f"FAIL: {' '.join(args)} exited {p.returncode}")
    return p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--requests", type=int, default=8)
    ap.add_argument("model")
    a = ap.parse_args()
    if not os.path.exists(a.model):
        print(f"skipped: {a.model} does not exist (the shared models folder "
              "is not on this machine)")
        return 77
    one = bench(a.ember, a.model, "npu-sim:1", a.requests)
    two = bench(a.ember, a.model, "npu-sim:2", a.requests)
    failures = []
    f1 = re.search(r"request_fnv=(\S+)", one).group(1)
    f2 = re.search(r"request_fnv=(\S+)", two).group(1)
    if f1 != f2 or "failed" in f1:
        failures.append(f"outputs differ: one core {f1}, two {f2}")
    for out in (one, two):
        for dev, err in re.findall(r"^\d+\s+(npu-sim:\d+)\s+\d+\s+[0-9.]+\s+"
                                   r"[0-9.]+\s+([+-][0-9.]+)%", out, re.M):
            if abs(float(err)) > 15:
                failures.append(f"a stage on {dev} predicted {err}% off")
    s1 = float(re.search(r"sim_throughput=([0-9.]+)", one).group(1))
    s2 = float(re.search(r"sim_throughput=([0-9.]+)", two).group(1))
    if not s2 > s1:
        failures.append(f"two cores {s2} req/s, one {s1}")
    print(f"{os.path.basename(os.path.dirname(a.model))}: {a.requests} "
          f"requests, simulated {s1:.1f} -> {s2:.1f} req/s "
          f"({s2 / s1:.2f}x), outputs {'identical' if f1 == f2 else 'DIFFER'}")
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
