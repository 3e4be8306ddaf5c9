#!/usr/bin/env python3
"""Engine occupancy over time from Chrome traces written by `ember sim --trace` / npu-bench.

Usage: plot_occupancy.py OUT.png TRACE.json [TRACE.json ...]
One panel per trace, one lane per engine (LOAD, GEMM, VECTOR, STORE); needs matplotlib.
"""
import json
import os
import sys

try:
    import matplotlib
except ImportError:  # the docs pictures need matplotlib; install it for this user on demand
    import subprocess

    subprocess.check_call([sys.executable, "-m", "pip", "install", "--quiet", "--user", "matplotlib"])
    import site
    import importlib

    importlib.invalidate_caches()
    sys.path.append(site.getusersitepackages())
    import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"load": "#4c72b0", "gemm": "#dd8452", "requant": "#55a868", "vadd": "#55a868",
          "pool": "#55a868", "store": "#c44e52", "setreg": "#8c8c8c"}


def load_trace(path):
    with open(path) as f:
        data = json.load(f)
    names, lanes = {}, {}
    for ev in data["traceEvents"]:
        if ev.get("ph") == "M":
            names[ev["tid"]] = ev["args"]["name"]
        elif ev.get("ph") == "X" and ev.get("cat") != "stall":
            lanes.setdefault(ev["tid"], []).append((ev["ts"], ev["dur"], ev["name"]))
    return names, lanes


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    traces = sys.argv[2:]
    fig, axes = plt.subplots(len(traces), 1, figsize=(11, 2.2 * len(traces) + 0.4), squeeze=False)
    for ax, path in zip(axes[:, 0], traces):
        names, lanes = load_trace(path)
        end = max(ts + dur for evs in lanes.values() for ts, dur, _ in evs)
        tids = sorted(names)
        for row, tid in enumerate(tids):
            evs = lanes.get(tid, [])
            busy = sum(d for _, d, _ in evs)
            for ts, dur, name in evs:
                ax.broken_barh([(ts, max(dur, end / 2000))], (row - 0.4, 0.8),
                               facecolors=COLORS.get(name, "#999999"), edgecolor="none")
            ax.text(end * 1.005, row, "%3.0f%%" % (100.0 * busy / end), va="center", fontsize=8)
        ax.set_yticks(range(len(tids)))
        ax.set_yticklabels([names[t] for t in tids])
        ax.set_xlim(0, end * 1.06)
        ax.invert_yaxis()
        title = os.path.basename(path).replace(".trace.json", "")
        ax.set_title("%s: engine occupancy (%d cycles, %% = busy share)" % (title, end),
                     fontsize=10)
        ax.set_xlabel("cycle")
    fig.tight_layout()
    fig.savefig(sys.argv[1], dpi=110)


if __name__ == "__main__":
    main()
