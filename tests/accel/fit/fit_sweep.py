#!/usr/bin/env python3
"""Selection equals schedulability, on generated descriptions: every
convolution `ember-accel select` claims is one `ember-accel schedule` places.

    fit_sweep.py EMBER_ACCEL WORK_DIR BASE.json... [--targets N] [--convs N]
                 [--seed S] [--min-split N]

Each target is a base description with its memories' rows drawn anew (an
eighth to all of the base's: small weight and accumulator memories
included); one a description `check` refuses is
counted and left out. Each convolution is an int8 ConvInteger + bias +
per-channel Requantize with a drawn kernel (1 to 7), stride (1 or 2),
padding and channel counts. For each pair: select, then schedule each run
it claims (--run I). A claimed run that does not schedule is a failure
(printed with the description and the graph kept in WORK_DIR); the last
line counts targets, convolutions claimed and refused, and how many
claimed layers split their taps (tiling dim t); fewer than --min-split
is a failure too (the sweep then does not reach the split).
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys


def conv_graph(r):
    """A graph-IR function of one convolution with a drawn shape."""
    k = r.choice([1, 1, 2, 3, 3, 3, 5, 7])
    s = r.choice([1, 1, 2])
    p = r.randint(0, min(3, k - 1)) if k > 1 else 0
    C = r.choice([1, 3, 8, 16, 24, 32, 40, 64, 96, 128])
    K = r.choice([4, 8, 16, 32, 48, 64, 128])
    H = r.randint(max(1, k - 2 * p), 40)
    W = r.randint(max(1, k - 2 * p), 40)
    OH = (H + 2 * p - k) // s + 1
    OW = (W + 2 * p - k) // s + 1
    w = [r.randint(-100, 100) for _ in range(K * C * k * k)]
    b = [r.randint(-50, 50) for _ in range(K)]
    lines = [
        f"func @main(%x: u8[1,{C},{H},{W}]) {{",
        f"  %w = Constant dense<i8[{K},{C},{k},{k}]: [{', '.join(map(str, w))}]>",
        f"  %b = Constant dense<i32[1,{K},1,1]: [{', '.join(map(str, b))}]>",
        f"  %m = Constant dense<i32[{K}]: [{', '.join(str(1300000000 + i) for i in range(K))}]>",
        f"  %s = Constant dense<i32[{K}]: [{', '.join(['-9'] * K)}]>",
        "  %zp = Constant dense<u8[]: [3]>",
        "  %yzp = Constant dense<u8[]: [128]>",
        f"  %c = ConvInteger(%x, %w, %zp) {{kernel_shape = [{k}, {k}], "
        f"strides = [{s}, {s}], pads = [{p}, {p}, {p}, {p}]}} : "
        f"i32[1,{K},{OH},{OW}] loc(\"conv\")",
        f"  %cb = Add(%c, %b) : i32[1,{K},{OH},{OW}] loc(\"conv\")",
        f"  %r = Requantize(%cb, %m, %s, _, %yzp) {{axis = 1, to = 2}} : "
        f"u8[1,{K},{OH},{OW}] loc(\"conv\")",
        "  return %r",
        "}",
    ]
    return "\n".join(lines) + "\n", f"C{C} K{K} {H}x{W} k{k} s{s} p{p}"


def draw_target(r, base, i):
    d = json.loads(json.dumps(base))
    d["name"] = f"{base['name']}-fit{i}"
    for m in d["memories"]:
        m["rows"] = max(16, int(m["rows"] * r.choice([0.125, 0.25, 0.5, 0.75, 1])))
    return d


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("accel")
    ap.add_argument("work")
    ap.add_argument("bases", nargs="+")
    ap.add_argument("--targets", type=int, default=12)
    ap.add_argument("--convs", type=int, default=8)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--min-split", type=int, default=0)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    r = random.Random(a.seed)
    bases = [json.load(open(b)) for b in a.bases]
    targets = refusedTargets = claimed = refused = split = 0
    failures = []
    for i in range(a.targets):
        d = draw_target(r, bases[i % len(bases)], i)
        tpath = os.path.join(a.work, f"target{i}.json")
        with open(tpath, "w") as f:
            json.dump(d, f)
        if run([a.accel, "check", tpath])[0] != 0:
            refusedTargets += 1
            continue
        targets += 1
        for j in range(a.convs):
            text, what = conv_graph(r)
            g = os.path.join(a.work, f"t{i}-c{j}.eir")
            with open(g, "w") as f:
                f.write(text)
            rc, out, err = run([a.accel, "select", g, "--target", tpath])
            if rc != 0:
                failures.append(f"{tpath} {g} ({what}): select: {err.strip()}")
                continue
            runs = re.findall(r"^# run (\d+) of \d+", out, re.M)
            if not any(re.search(r"# node \d+ ConvInteger 'conv': runs", ln)
                       for ln in out.splitlines()):
                refused += 1
                continue
            claimed += 1
            for k in runs:
                lay = os.path.join(a.work, f"t{i}-c{j}-r{k}.layers")
                with open(lay, "w") as f:
                    f.write(run([a.accel, "select", g, "--target", tpath,
                                 "--run", k])[1])
                rc, sched, err = run([a.accel, "schedule", lay, "--target",
                                      tpath])
                if rc != 0:
                    failures.append(f"{tpath} {g} ({what}): claimed, run {k} "
                                    f"does not schedule: {err.strip()}")
                split += len(re.findall(r'tiling="[^"]* t=', sched))
    for f in failures:
        print("FAIL:", f)
    print(f"{targets} targets ({refusedTargets} refused by check), "
          f"{claimed} convolutions claimed, {refused} refused at selection, "
          f"{split} layers with split taps, {len(failures)} failures")
    if split < a.min_split:
        print(f"FAIL: {split} layers with split taps, under {a.min_split}")
    return 1 if failures or split < a.min_split else 0


if __name__ == "__main__":
    sys.exit(main())
