#!/usr/bin/env python3
"""Draws docs/npu-architecture.png, the block diagram of the example NPU (needs matplotlib).

Usage: draw_block_diagram.py OUT.png
"""
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
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch  # noqa: E402


def box(ax, x, y, w, h, text, color):
    ax.add_patch(FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", facecolor=color,
                                edgecolor="black", linewidth=1))
    ax.text(x + w / 2, y + h / 2, text, ha="center", va="center", fontsize=9)


def arrow(ax, a, b, style="-|>", color="black", ls="-", text=None, rad=0.0):
    ax.add_patch(FancyArrowPatch(a, b, arrowstyle=style, mutation_scale=12, color=color,
                                 linestyle=ls, linewidth=1.2,
                                 connectionstyle="arc3,rad=%f" % rad))
    if text:
        ax.text((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.12, text, ha="center", fontsize=7,
                color=color)


def main():
    fig, ax = plt.subplots(figsize=(11, 6.2))
    ax.set_xlim(0, 11)
    ax.set_ylim(0, 6.2)
    ax.axis("off")
    box(ax, 0.2, 5.2, 10.6, 0.7, "FETCH: 128-bit instructions, in order -> per-engine "
        "instruction queues (FENCE / FINISH drain all engines)", "#eeeeee")
    eng_y = 3.6
    engines = [("LOAD\nDMA in, 2-D strided,\npadding", 0.3, "#c6d7ee"),
               ("GEMM\nDIM x DIM int8\nsystolic array", 3.0, "#f6d3bd"),
               ("VECTOR\nrequantize, relu/clip,\nadd, max/avg pool", 5.7, "#cfe8d1"),
               ("STORE\nDMA out, 2-D strided", 8.4, "#f1c9ca")]
    for text, x, c in engines:
        box(ax, x, eng_y, 2.3, 1.1, text, c)
        arrow(ax, (x + 1.15, 5.2), (x + 1.15, eng_y + 1.1))
    # token channels between neighbours (both directions)
    for (x0, x1) in [(2.6, 3.0), (5.3, 5.7), (8.0, 8.4)]:
        arrow(ax, (x0, eng_y + 0.75), (x1, eng_y + 0.75), color="#7b3294")
        arrow(ax, (x1, eng_y + 0.35), (x0, eng_y + 0.35), color="#7b3294")
    ax.text(5.5, 1.3, "dependency-token FIFOs (purple): every engine pair, both "
            "directions; wait/signal masks in each instruction", ha="center", fontsize=8,
            color="#7b3294")
    mem_y = 1.7
    mems = [("ACT scratchpad\nint8, 2 halves", 0.3), ("WGT scratchpad\nint8, 2 halves", 2.9),
            ("ACC SRAM\nint32, 2 halves\n+ requant params", 5.5), ("OUT scratchpad\nint8, 2 halves", 8.1)]
    for text, x in mems:
        box(ax, x, mem_y, 2.4, 1.0, text, "#fff5cc")
    # data paths
    arrow(ax, (1.4, eng_y), (1.4, mem_y + 1.0), text="")
    arrow(ax, (1.9, eng_y), (3.6, mem_y + 1.0))
    arrow(ax, (2.2, eng_y), (6.2, mem_y + 1.0), ls="--")
    arrow(ax, (1.5, mem_y + 1.0), (3.5, eng_y), color="#555555", rad=-0.1)
    arrow(ax, (4.0, mem_y + 1.0), (4.0, eng_y), color="#555555")
    arrow(ax, (4.5, eng_y), (6.5, mem_y + 1.0), color="#dd8452")
    arrow(ax, (6.8, mem_y + 1.0), (6.8, eng_y), color="#555555")
    arrow(ax, (7.4, eng_y), (8.8, mem_y + 1.0), color="#55a868")
    arrow(ax, (9.3, mem_y + 1.0), (9.3, eng_y), color="#555555")
    box(ax, 0.3, 0.2, 10.2, 0.8, "DRAM target (TLM-2.0): bandwidth B bytes/cycle, latency L "
        "cycles, bursts of up to S bytes; one channel shared by LOAD and STORE", "#dddddd")
    arrow(ax, (0.9, 1.0), (0.9, eng_y), color="#4c72b0", text="")
    arrow(ax, (10.0, eng_y), (10.0, 1.0), color="#c44e52")
    ax.text(0.95, 1.25, "read bursts", fontsize=7, color="#4c72b0")
    ax.text(9.0, 1.25, "write bursts", fontsize=7, color="#c44e52")
    fig.tight_layout()
    fig.savefig(sys.argv[1], dpi=100)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main()
