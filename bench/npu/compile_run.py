#!/usr/bin/env python3
"""Compile and simulation speed of int8 models on the NPU backend.

For each model: the wall time of `ember compile --target=npu-sim
--emit=npu-asm` (import, passes, lowering, partitioning and the NPU
backend's compile: tiling, code generation, token assignment), and of
`ember run --target=npu-sim` split into its compile_ms and run_ms (the run:
the NPU partitions on the SystemC model plus the host partitions on the CPU
backend), with the simulated cycles. Medians of --runs runs; the goals of
docs/npu-backend.md, "Verification and figures" (MobileNetV2 int8: compile < 5 s,
SystemC run < 10 s) and of docs/npu-sdk.md (ResNet-50 int8: compile < 10 s)
are checked when that model is in the list. With --vs-ember PEER (another
build, e.g. the main branch's), each model's compile is timed with both,
runs interleaved, and the ratio printed (vs_peer: ours / peer's median).

    bench/npu/compile_run.py --ember build/bin/ember [--runs 3]
                             [--vs-ember PEER] MODEL.onnx...
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time


def timed(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if p.returncode:
        sys.exit(f"error: {' '.join(cmd)} failed: {p.stderr.strip()[-300:]}")
    return dt, p.stdout


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--executor", default="systemc")
    ap.add_argument("--input-shape", action="append", default=[],
                    help="NAME=DxDx.. for models with symbolic dims")
    ap.add_argument("--vs-ember", help="a peer build timed in the same run")
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    print(f"{'model':<34} {'compile_s':>10} {'run:compile_s':>14} "
          f"{'run:sim_s':>10} {'cycles':>12} {'mac_util':>9} {'share':>6}"
          + (f" {'peer_s':>8} {'vs_peer':>8}" if args.vs_ember else ""))
    ok = True
    for m in args.models:
        name = os.path.basename(os.path.dirname(m)) or m
        comp, peer, rc, rr, cyc, util, share = [], [], [], [], 0, 0.0, 0.0
        shapes = [f"--input-shape={s}" for s in args.input_shape]
        for _ in range(args.runs):
            for exe, into in [(args.ember, comp)] + (
                    [(args.vs_ember, peer)] if args.vs_ember else []):
                dt, _ = timed([exe, "compile", m, "--target=npu-sim",
                               "--emit=npu-asm", "-o", os.devnull] + shapes)
                into.append(dt)
            dt, out = timed([args.ember, "run", m, "--target=npu-sim",
                             "--backend-opt", "executor=" + args.executor] +
                            shapes)
            s = re.search(r"compile_ms=([\d.]+) run_ms=([\d.]+)", out)
            n = re.search(r"npu: cycles=(\d+) mac_util=(\S+) .* "
                          r"npu_mac_share=(\S+)", out)
            rc.append(float(s.group(1)) / 1000)
            rr.append(float(s.group(2)) / 1000)
            cyc, util, share = int(n.group(1)), float(n.group(2)), float(n.group(3))
        c, r1, r2 = (statistics.median(comp), statistics.median(rc),
                     statistics.median(rr))
        line = (f"{name:<34} {c:>10.2f} {r1:>14.2f} {r2:>10.2f} {cyc:>12} "
                f"{util:>9.3f} {share:>6.3f}")
        if peer:
            pm = statistics.median(peer)
            line += f" {pm:>8.2f} {c / pm:>8.3f}"
        print(line)
        if "resnet50" in m and "int8" in m:
            good = c < 10
            ok = ok and good
            print(f"  goal (compile < 10 s): {'met' if good else 'MISSED'}")
        if "mobilenetv2" in m and "int8" in m:
            good = c < 5 and r2 < 10
            ok = ok and good
            print(f"  goal (compile < 5 s, SystemC run < 10 s): "
                  f"{'met' if good else 'MISSED'}")
    print(f"medians of {args.runs} runs; executor {args.executor}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
