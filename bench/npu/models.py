#!/usr/bin/env python3
"""Where the NPU's cycles go, per model (docs/npu-performance.md).

For each model: `ember run --target=npu-sim --npu-report` on the chosen
executor (SystemC by default) and `ember compile --target=npu-sim` timed.
Prints one table per model:

  cycles      simulated cycles of the NPU partitions
  mac_util    the model's NPU MACs / (DIM^2 x cycles)
  dma_bytes   bytes LOAD and STORE moved
  roof        sum of the layers' roofline bounds / cycles, a layer's bound
              being max(MACs / DIM^2, compulsory DRAM bytes / bandwidth)
  compile_s   wall time of `ember compile --target=npu-sim` (median)

then the per-layer figures the issue's goals are stated in: convolution and
MatMul layers with C, K >= 64 (count, worst and median MAC utilization,
median roofline fraction), the cost model's error (predicted vs simulated
cycles of each layer run alone, the report's `alone`: median and worst of
|error|), and the depthwise layers'
share of the cycles, and `hidden`: over the compute-bound layers (roofline
bound on the array's side), the share of their LOAD cycles during which
GEMM or VECTOR computed (the issue's "DMA hidden"). `--tiling bytes|cycles` compiles with that tiling rule
(backend option tiling=); several may be given to compare them in one run.

    bench/npu/models.py --ember build/bin/ember [--runs 3] [--tiling cycles]
        [--layers] MODEL_DIR_OR_ONNX[:NAME=DxD..]...
"""
import argparse
import os
import re
import statistics
import subprocess
import sys
import time


def run(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.monotonic() - t0
    if p.returncode:
        sys.exit(f"error: {' '.join(cmd)} failed: {p.stderr.strip()[-400:]}")
    return dt, p.stdout


def parse_report(out):
    """The --npu-report table: a list of dicts (name, op, values, detail)."""
    lines = out.splitlines()
    layers, cols = [], None
    for i, ln in enumerate(lines):
        if ln.startswith("layer report ("):
            hdr = lines[i + 1]
            cols = hdr[56:].split()
            cols = cols[:cols.index("tiles")]
            continue
        if cols is None or len(ln) < 56 or not ln[:5].strip().isdigit():
            continue
        name, op = ln[5:41].strip(), ln[41:56].strip()
        rest = ln[56:]
        vals = rest[:13 * len(cols)].split()
        if len(vals) != len(cols):
            continue
        v = {c: float(x) for c, x in zip(cols, vals)}
        layers.append({"name": name, "op": op, "v": v,
                       "detail": rest[13 * len(cols):].strip()})
    return layers


def shape_of(detail):
    m = re.match(r"C(\d+) K(\d+) (\d+)x(\d+)/(\d+) g(\d+)", detail)
    if not m:
        return None
    c, k, kh, kw, s, g = map(int, m.groups())
    return {"C": c, "K": k, "kh": kh, "kw": kw, "s": s, "g": g}


def pct(x):
    return f"{100 * x:.1f}%"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--runs", type=int, default=3,
                    help="compile timings (median); cycles are deterministic")
    ap.add_argument("--executor", default="systemc")
    ap.add_argument("--fallback", default="cpu",
                    help="where unclaimed nodes run (cycles do not depend on it)")
    ap.add_argument("--tiling", action="append", default=[],
                    help="cycles (default) or bytes; repeat to compare")
    ap.add_argument("--config", action="append", default=[],
                    help="LABEL=KEY=V[,KEY=V..]: backend options of one row "
                         "(e.g. before=tiling=bytes,bias=dram); repeatable")
    ap.add_argument("--layers", action="store_true",
                    help="also print every layer's report line")
    ap.add_argument("models", nargs="+",
                    help="case folder or .onnx, optionally :NAME=DxD.. shapes")
    args = ap.parse_args()
    configs = [(t, [f"tiling={t}"]) for t in args.tiling]
    for c in args.config:
        label, _, opts = c.partition("=")
        configs.append((label, [o for o in opts.split(",") if o]))
    configs = configs or [("default", [])]
    for spec in args.models:
        path, *shapes = spec.split(":")
        onnx = path if path.endswith(".onnx") else os.path.join(path, "model.onnx")
        name = os.path.basename(path.rstrip("/"))
        shp = [f"--input-shape={s}" for s in shapes]
        print(f"== {name}")
        print(f"{'config':<8} {'cycles':>10} {'mac_util':>9} {'dma_bytes':>11} "
              f"{'roof':>6} {'compile_s':>9} | {'n>=64':>5} {'min_util':>8} "
              f"{'med_util':>8} {'med_roof':>8} | {'err_med':>7} "
              f"{'err_max':>7} | {'dw_share':>8} | {'hidden':>6}")
        for til, kvs in configs:
            opts = [x for kv in kvs for x in ("--backend-opt", kv)]
            comp = []
            for _ in range(args.runs):
                dt, _ = run([args.ember, "compile", onnx, "--target=npu-sim",
                             "--emit=npu-asm", "-o", os.devnull] + shp + opts)
                comp.append(dt)
            _, out = run([args.ember, "run", onnx, "--target=npu-sim",
                          "--npu-report", "--backend-opt",
                          f"executor={args.executor}",
                          f"--fallback={args.fallback}"] + shp + opts)
            m = re.search(r"npu: cycles=(\d+) mac_util=(\S+) dma_bytes=(\d+)",
                          out)
            cycles, util, dma = int(m.group(1)), float(m.group(2)), int(m.group(3))
            layers = parse_report(out)
            bound = sum(l["v"].get("bound", 0) for l in layers)
            big = []
            errs, dw = [], 0
            busy = hidden = 0  # LOAD cycles of compute-bound layers, hidden
            total = sum(l["v"]["cycles"] for l in layers) or 1
            for l in layers:
                v, s = l["v"], shape_of(l["detail"])
                if v.get("mac_bound", 0) > 0:
                    busy += v.get("load_busy", 0)
                    hidden += v.get("load_busy", 0) * v.get("dma_hidden", 0)
                if v["cycles"] > 0 and v.get("predicted", 0) > 0:
                    errs.append(abs(v["model_err"]))
                if not s:
                    continue
                if s["g"] > 1 and s["g"] == s["C"]:
                    dw += v["cycles"]
                elif s["g"] == 1 and s["C"] >= 64 and s["K"] >= 64:
                    big.append((v["mac_util"], v["roof"]))
            cell = (f"{len(big):>5} {pct(min(b[0] for b in big)):>8} "
                    f"{pct(statistics.median(b[0] for b in big)):>8} "
                    f"{statistics.median(b[1] for b in big):>8.2f}"
                    if big else f"{0:>5} {'-':>8} {'-':>8} {'-':>8}")
            em = (f"{pct(statistics.median(errs)):>7} {pct(max(errs)):>7}"
                  if errs else f"{'-':>7} {'-':>7}")
            print(f"{til:<8} {cycles:>10} {util:>9.3f} {dma:>11} "
                  f"{bound / cycles if cycles else 0:>6.2f} "
                  f"{statistics.median(comp):>9.2f} | {cell} | {em} | "
                  f"{pct(dw / total):>8} | "
                  f"{pct(hidden / busy) if busy else '-':>6}")
            if args.layers:
                for l in layers:
                    v = l["v"]
                    print(f"   {l['name'][:34]:<34} {l['op']:<12} "
                          f"cyc={int(v['cycles']):>8} pred={int(v.get('predicted', 0)):>8} "
                          f"err={v.get('model_err', 0):>+6.2f} util={v['mac_util']:.2f} "
                          f"roof={v.get('roof', 0):.2f}  {l['detail']}")
    print(f"executor {args.executor}; compile_s: median of {args.runs} runs; "
          f"n>=64: conv/MatMul layers with C, K >= 64 (not grouped); "
          f"err: |predicted - alone| / alone per layer (alone: the layer "
          f"simulated by itself, the report's 'alone')")
    return 0


if __name__ == "__main__":
    sys.exit(main())
