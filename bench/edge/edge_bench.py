#!/usr/bin/env python3
"""The edge table (docs/edge.md): each MLPerf Tiny model and the VWW model
as a Cortex-M4 (DSP) and Cortex-M55 (Helium) bundle, and with plain-C
kernels (--backend-opt edge_simd=0) for the ratio: flash (code, weights),
RAM (arena, the object's state, the stack the run used) and the
instructions the inference executed under QEMU (-icount shift=0: the
virtual clock advances one nanosecond per instruction; the bundle's main.c
reads SysTick at the board's core clock around ember_main). Every run is checked bit for bit against the reference
interpreter (tests/edge/run_edge.py). Also the runtime code without
kernels: the bundle of DS-CNN built with every step a function of its own
(perf_map=2), ember_main and the thread hooks being what is left.

  bench/edge/edge_bench.py --ember build/bin/ember [--shared ../shared]
         [--vww DIR] [--out /tmp/edge-bench]

Prints a markdown table. Instruction counts are QEMU's, not cycles: they
rank kernels (SIMD against plain C), they do not time a board.
"""
import argparse
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
RUN = os.path.join(HERE, "..", "..", "tests", "edge", "run_edge.py")
# Core, triple, QEMU board and the board's core clock (SysTick's).
TARGETS = [("M4", "thumbv7em-none-eabihf", "mps2-an386", 25e6),
           ("M55", "thumbv8.1m.main-none-eabihf", "mps3-an547", 32e6)]


def run(cmd, cwd=None):
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"error: {' '.join(cmd)}:\n{p.stdout}{p.stderr}")
    return p.stdout


def instructions(bundle, machine, hz):
    """The stack the run used and its instructions: SysTick cycles at the
    board's clock under -icount shift=0 (one instruction a nanosecond)."""
    p = subprocess.run(["qemu-system-arm", "-M", machine, "-nographic",
                        "-icount", "shift=0", "-semihosting-config",
                        "enable=on,target=native", "-kernel", "model.elf"],
                       cwd=bundle, capture_output=True, text=True)
    m = re.search(r"stack=(\d+) systick=(\d+)", p.stdout + p.stderr)
    if p.returncode != 0 or not m:
        sys.exit(f"error: {bundle}: {p.stdout}{p.stderr}")
    return int(m.group(1)), round(int(m.group(2)) * 1e9 / hz)


def bench(a, name, case, triple, machine, hz, simd):
    out = os.path.join(a.out, f"{name}-{triple}-{'simd' if simd else 'c'}")
    cmd = [sys.executable, RUN, "--ember", a.ember, "--case", case, "--out",
           out, "--triple", triple, "--batch1"]
    if not simd:
        cmd += ["--backend-opt", "edge_simd=0"]
    text = run(cmd)
    fig = dict((k, int(v)) for k, v in re.findall(
        r"(flash_code|flash_weights|ram_arena|ram_state)=(\d+)", text))
    stack, insns = instructions(os.path.join(out, "bundle"), machine, hz)
    return fig, stack, insns


def runtime_code(a, case, triple):
    """ember_main and the thread hooks of a bundle whose steps are all
    functions of their own: the code that is not a kernel."""
    out = os.path.join(a.out, "runtime-" + triple)
    run([a.ember, "compile", os.path.join(case, "model.onnx"), "--target=cpu",
         "--emit=bundle", "-o", out, "--target-triple", triple,
         "--input-shape", "input.1=1x1x49x10", "--backend-opt", "perf_map=2"])
    syms = run(["arm-none-eabi-nm", "-S", "--size-sort",
                os.path.join(out, "model.o")])
    sizes = {}
    for line in syms.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[2] in "tTW":
            sizes[parts[3]] = sizes.get(parts[3], 0) + int(parts[1], 16)
    keep = ["ember_main", "ember_rt_parallel_for", "ember_rt_num_workers"]
    return sum(sizes.get(k, 0) for k in keep), sum(sizes.values())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--shared", default=os.path.join(HERE, "..", "..", "..",
                                                     "shared"))
    ap.add_argument("--vww", default="")
    ap.add_argument("--out", default="/tmp/edge-bench")
    a = ap.parse_args()
    a.ember = os.path.abspath(a.ember)
    models = os.path.join(a.shared, "models")
    cases = [("DS-CNN", os.path.join(models, "mlperftiny-dscnn-kws-int8")),
             ("ResNet-8", os.path.join(models, "mlperftiny-resnet8-int8")),
             ("FC autoencoder",
              os.path.join(models, "mlperftiny-fc-autoencoder-int8"))]
    if a.vww:
        cases.append(("VWW MobileNetV1 0.25", a.vww))
    commit = run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"]).strip()
    print(f"commit {commit}; instructions: QEMU 7.2 -icount shift=0, "
          "SysTick around ember_main\n")
    print("| model | core | flash code | flash weights | arena | state | stack "
          "| instructions (SIMD) | instructions (plain C) | C / SIMD |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, case in cases:
        for core, triple, machine, hz in TARGETS:
            fig, stack, simd = bench(a, name, case, triple, machine, hz, True)
            _, _, plain = bench(a, name, case, triple, machine, hz, False)
            print(f"| {name} | {core} | {fig['flash_code']} | "
                  f"{fig['flash_weights']} | {fig['ram_arena']} | "
                  f"{fig['ram_state']} | {stack} | {simd} | {plain} | "
                  f"{plain / simd:.2f} |", flush=True)
    rt, total = runtime_code(a, cases[0][1], TARGETS[0][1])
    print(f"\nDS-CNN on the M4, every step a function (perf_map=2): ember_main "
          f"and the thread hooks {rt} bytes of {total} bytes of code")


if __name__ == "__main__":
    main()
