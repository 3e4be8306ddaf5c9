#!/usr/bin/env python3
"""Several NPU cores against one (docs/runtime.md, "Measured"): each model
through `ember bench --devices npu-sim:1` and `npu-sim:N`, printing the
simulated-time throughput of each and their ratio, wall latency and
throughput, the worst stage prediction error, and whether every request's
outputs are the single core's bit for bit.

    runtime_bench.py --ember build/bin/ember [--cores 2] [--requests 32]
        [--shared-bw B] MODEL.onnx[:NAME] ...

--shared-bw sets the platform's shared DRAM channel (backend option
shared_dram_bw; default the spec's 32 B/cycle): 16, one core's port, shows
the contention. The ratio needs many requests: with R requests through an
S-stage pipeline the run holds R + S - 1 stage times, not R.
"""
import argparse
import os
import re
import subprocess
import sys


def bench(ember, model, devices, requests, extra):
    args = [ember, "bench", model, "--devices", devices, "--requests",
            str(requests), "--warmup", "1"] + extra
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(p.stdout + p.stderr)
        raise SystemExit(f"failed: {' '.join(args)}")
    out = p.stdout
    last = out.strip().splitlines()[-1]
    fields = dict(kv.split("=", 1) for kv in last.split())
    errs = [abs(float(e.rstrip("%"))) for e in
            re.findall(r"^\d+\s+npu-sim:\d+\s+\d+\s+[0-9.]+\s+[0-9.]+\s+"
                       r"([+-][0-9.]+%)", out, re.M)]
    fields["pred_err"] = max(errs) if errs else float("nan")
    fields["request_fnv"] = re.search(r"request_fnv=(\S+)", out).group(1)
    fields["cycles"] = re.search(r"simulated: (\d+) cycles", out).group(1)
    return fields


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--requests", type=int, default=32)
    ap.add_argument("--shared-bw", type=int, default=0)
    ap.add_argument("models", nargs="+")
    a = ap.parse_args()
    extra = []
    if a.shared_bw:
        extra = ["--backend-opt", f"shared_dram_bw={a.shared_bw}"]
    print("| model | cores | sim req/s | ratio | sim cycles | p50 ms | p99 ms "
          "| wall req/s | worst stage error | outputs |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec in a.models:
        model, _, name = spec.partition(":")
        name = name or model
        if not os.path.exists(model):
            print(f"skipped {name}: {model} does not exist", file=sys.stderr)
            continue
        one = bench(a.ember, model, "npu-sim:1", a.requests, extra)
        many = bench(a.ember, model, f"npu-sim:{a.cores}", a.requests, extra)
        same = one["request_fnv"] == many["request_fnv"] and \
            "failed" not in one["request_fnv"]
        s1, sn = float(one["sim_throughput"]), float(many["sim_throughput"])
        for cores, f, ratio in ((1, one, 1.0), (a.cores, many, sn / s1)):
            print(f"| {name} | {cores} | {float(f['sim_throughput']):.1f} | "
                  f"{ratio:.2f} | {int(f['cycles']):,} | {f['p50_ms']} | "
                  f"{f['p99_ms']} | {f['throughput']} | "
                  f"{f['pred_err']:.1f}% | "
                  f"{'identical' if same else 'DIFFER'} |")
        sys.stdout.flush()
        print(f"ratio {name} {a.cores} cores / 1 core: {sn / s1:.3f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
