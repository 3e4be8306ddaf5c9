#!/usr/bin/env python3
"""Ember's NPU beside SCALE-Sim, layer by layer (docs/npu-performance.md).

For each model: `ember run --target=npu-sim --npu-report` gives the convolution and
MatMul layers (shape, MACs) and Ember's simulated cycles of each layer run alone on
the SystemC model (the report's `alone` column: the layer from an idle machine, as a
layer-by-layer simulator sees it). Each distinct layer shape then runs through
SCALE-Sim (PyPI `scalesim`) configured as a systolic array of the same DIM x DIM,
weight stationary, with SRAMs of the NPU's sizes (IFMAP = ACT, filter = WGT,
OFMAP = OUT) and the same DRAM bandwidth (USER mode, bytes per cycle; or CALC:
ideal memory). Prints SCALE-Sim's cycles beside Ember's and the ratio.

SCALE-Sim has no batch, groups or padding: a layer of N images runs once and counts
N times; a grouped convolution (depthwise included) runs one group (C/g -> K/g) and
counts g times; the input size is the padded one, (OH - 1) * stride + kernel.

SCALE-Sim 3.0.0 fails on NumPy >= 2.4 (int() of one-element arrays) and is slow (a
minute or more per large layer), so it runs in its own virtual environment, made on
first use at --venv (default $XDG_CACHE_HOME/ember/scalesim-venv) with
`pip install scalesim==3.0.0 'numpy<2.4'`; without network or pip the script says so
and exits 77 (skipped). --python PY uses an interpreter that already has scalesim.

    bench/npu/compare_scalesim.py --ember build/bin/ember [--mode user|calc]
        [--timeout 600] [--max-layers N] MODEL_DIR_OR_ONNX[:NAME=DxD..]...
"""
import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from models import parse_report  # noqa: E402

SHAPE = re.compile(r"^C(\d+) K(\d+) (\d+)x(\d+)/(\d+) g(\d+) (\d+)x(\d+)")

RUNNER = r"""
import sys
from scalesim.scale_sim import scalesim
s = scalesim(save_disk_space=True, verbose=False, config=sys.argv[1],
             topology=sys.argv[2], layout=sys.argv[3])
s.run_scale(top_path=sys.argv[4])
"""


def fail(msg, code=1):
    print(f"compare_scalesim: {msg}", file=sys.stderr)
    sys.exit(code)


def scalesim_python(args):
    """An interpreter with scalesim: --python, or the venv (made on first use)."""
    if args.python:
        return args.python
    venv = args.venv
    py = os.path.join(venv, "bin", "python")
    if os.path.exists(os.path.join(venv, ".ember-ok")):
        return py
    print(f"compare_scalesim: installing SCALE-Sim into {venv} (first use)",
          file=sys.stderr)
    try:
        subprocess.run([sys.executable, "-m", "venv", venv], check=True,
                       capture_output=True, text=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "scalesim==3.0.0",
                        "numpy<2.4"], check=True, capture_output=True, text=True)
    except subprocess.CalledProcessError as e:
        fail(f"skipped: cannot install SCALE-Sim into {venv} "
             f"({(e.stderr or str(e)).strip().splitlines()[-1:]}); "
             "give --python PY with scalesim installed", 77)
    open(os.path.join(venv, ".ember-ok"), "w").close()
    return py


def npu_spec(dim):
    """DIM and the scratchpad sizes in KiB, from hw/spec/npu.json."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "..", "hw", "spec", "npu.json")) as f:
        mems = {m["name"]: m for m in json.load(f)["memories"]}
    kb = {n: m["rows"] * m["elem_bytes"] * dim // 1024 for n, m in mems.items()}
    return {"dim": dim, "act_kb": kb["ACT"], "wgt_kb": kb["WGT"],
            "out_kb": kb["OUT"]}


def config_text(spec, bw, mode):
    return f"""[general]
run_name = ember

[architecture_presets]
ArrayHeight = {spec['dim']}
ArrayWidth = {spec['dim']}
ifmapsramszkB = {spec['act_kb']}
filtersramszkB = {spec['wgt_kb']}
ofmapsramszkB = {spec['out_kb']}
IfmapOffset = 0
FilterOffset = 100000000
OfmapOffset = 200000000
Dataflow = ws
Bandwidth = {bw}
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40

[run_presets]
InterfaceBandwidth = {mode.upper()}
UseRamulatorTrace = False
"""


def run_scalesim(py, cfg, layer, work, timeout):
    """SCALE-Sim cycles (incl. prefetch) of one layer, or (None, reason)."""
    c, k, kh, kw, s, oh, ow = layer
    ih, iw = (oh - 1) * s + kh, (ow - 1) * s + kw
    topo = os.path.join(work, "topo.csv")
    with open(topo, "w") as f:
        f.write("Layer name, IFMAP Height, IFMAP Width, Filter Height, "
                "Filter Width, Channels, Num Filter, Strides,\n")
        f.write(f"l, {ih}, {iw}, {kh}, {kw}, {c}, {k}, {s},\n")
    layout = os.path.join(work, "layout.csv")
    with open(layout, "w") as f:
        f.write("Layer name,\n")
    out = os.path.join(work, "out")
    try:
        p = subprocess.run([py, "-c", RUNNER, cfg, topo, layout, out],
                           capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"over {timeout} s"
    rep = os.path.join(out, "ember", "COMPUTE_REPORT.csv")
    if p.returncode or not os.path.exists(rep):
        return None, "failed: " + (p.stderr.strip().splitlines() or ["?"])[-1]
    with open(rep) as f:
        rows = list(csv.reader(f))
    return int(float(rows[1][1])), ""


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--mode", choices=["user", "calc"], default="user",
                    help="SCALE-Sim's DRAM: the NPU's bandwidth (user) or "
                         "ideal (calc)")
    ap.add_argument("--dram-bw", type=int, default=16,
                    help="bytes per cycle, both simulators (default: the "
                         "spec's 16)")
    ap.add_argument("--timeout", type=float, default=600,
                    help="seconds per SCALE-Sim layer; slower layers are "
                         "skipped, named")
    ap.add_argument("--max-layers", type=int, default=0,
                    help="at most this many distinct layers per model "
                         "(smallest first; 0: all)")
    ap.add_argument("--dim", type=int, default=16,
                    help="the NPU build's DIM (default 16)")
    ap.add_argument("--python", help="an interpreter with scalesim installed")
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    ap.add_argument("--venv", default=os.path.join(cache, "ember",
                                                   "scalesim-venv"))
    ap.add_argument("models", nargs="+")
    args = ap.parse_args()
    py = scalesim_python(args)
    spec = npu_spec(args.dim)
    work = tempfile.mkdtemp(prefix="ember-scalesim-")
    cfg = os.path.join(work, "scale.cfg")
    with open(cfg, "w") as f:
        f.write(config_text(spec, args.dram_bw, args.mode))
    print(f"SCALE-Sim 3.0.0: {spec['dim']}x{spec['dim']} weight stationary, "
          f"SRAM IFMAP {spec['act_kb']} KiB / filter {spec['wgt_kb']} KiB / "
          f"OFMAP {spec['out_kb']} KiB, DRAM {args.dram_bw} B/cycle "
          f"({args.mode.upper()}); Ember: SystemC, each layer alone")
    grand_e = grand_s = 0
    for spec_arg in args.models:
        path, *shapes = spec_arg.split(":")
        onnx = path if path.endswith(".onnx") else os.path.join(path,
                                                                "model.onnx")
        shp = [f"--input-shape={s}" for s in shapes]
        p = subprocess.run([args.ember, "run", onnx, "--target=npu-sim",
                            "--npu-report", "--backend-opt",
                            f"dram_bw={args.dram_bw}"] + shp,
                           capture_output=True, text=True)
        if p.returncode:
            fail(f"ember run {onnx} failed: {p.stderr.strip()[-300:]}")
        layers = []
        for L in parse_report(p.stdout):
            m = SHAPE.match(L["detail"])
            if not m or "alone" not in L["v"]:
                continue
            c, k, kh, kw, s, g, oh, ow = map(int, m.groups())
            per = oh * ow * k * (c // g) * kh * kw
            n = max(1, round(L["v"]["macs"] / per)) if per else 1
            layers.append((L["name"], (c // g, k // g, kh, kw, s, oh, ow), g,
                           n, int(L["v"]["alone"]), L["detail"].split(";")[0]))
        name = os.path.basename(os.path.dirname(onnx)) or onnx
        print(f"\n== {name}")
        print(f"{'layer':<36} {'shape':<26} {'ember':>10} {'scalesim':>11} "
              f"{'ratio':>6}  note")
        distinct = sorted({l[1] for l in layers},
                          key=lambda x: x[0] * x[1] * x[2] * x[3] * x[5] * x[6])
        if args.max_layers:
            distinct = distinct[:args.max_layers]
        results = {}
        for lay in distinct:
            t0 = time.monotonic()
            cyc, why = run_scalesim(py, cfg, lay, work, args.timeout)
            results[lay] = (cyc, why, time.monotonic() - t0)
        tot_e = tot_s = 0
        for nm, lay, g, n, ember, shape in layers:
            nm = nm if len(nm) <= 35 else nm[:16] + ".." + nm[-17:]
            cyc, why, secs = results.get(lay, (None, "not run (--max-layers)",
                                               0))
            if cyc is None:
                print(f"{nm:<36} {shape:<26} {ember:>10} {'-':>11} {'-':>6}  "
                      f"{why}")
                continue
            total = cyc * g * n
            note = []
            if g > 1:
                note.append(f"x{g} groups")
            if n > 1:
                note.append(f"x{n} images")
            print(f"{nm:<36} {shape:<26} {ember:>10} {total:>11} "
                  f"{total / ember:>6.2f}  {' '.join(note)}")
            tot_e += ember
            tot_s += total
        if tot_e:
            print(f"{'total (layers with both)':<36} {'':<26} {tot_e:>10} "
                  f"{tot_s:>11} {tot_s / tot_e:>6.2f}")
        grand_e += tot_e
        grand_s += tot_s
    if grand_e:
        print(f"\nall models: Ember {grand_e} cycles, SCALE-Sim {grand_s}, "
              f"ratio {grand_s / grand_e:.2f}")


if __name__ == "__main__":
    main()
