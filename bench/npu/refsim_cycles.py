#!/usr/bin/env python3
"""The reference simulator's cycles against each NPU's own simulator, on the
same models (docs/npu-sdk.md, "The reference simulator"):

    refsim_cycles.py BUILD_DIR MODEL.onnx... [--second-npu PLUGIN.so]
                     [--no-example]

For each model: `ember run --target=npu-sim` (the example NPU's SystemC
model; its golden model is untimed) against `--target=accel:` the example
NPU's generated description (BUILD_DIR/backends/npu-sim/target/
NpuTarget.json), and with --second-npu the second NPU's plugin against
`accel:` its description (examples/second-npu/plugin/target.json). Prints a
Markdown table: cycles of each, the reference's error
((reference - own) / own) and whether the outputs are byte-equal.
"""
import argparse
import filecmp
import os
import re
import subprocess
import sys
import tempfile

SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cycles(ember, model, target, out):
    p = subprocess.run([ember, "run", model, f"--target={target}", "--seed",
                        "1", "--save-outputs", out],
                       capture_output=True, text=True)
    m = re.search(r"^[\w-]+: cycles=(\d+)", p.stdout, re.M)
    if p.returncode or not m:
        return None, (p.stderr.strip().splitlines() or ["?"])[-1]
    return int(m.group(1)), ""


def same(a, b):
    return all(filecmp.cmp(os.path.join(a, f), os.path.join(b, f),
                           shallow=False) for f in os.listdir(a))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("build")
    ap.add_argument("models", nargs="+")
    ap.add_argument("--second-npu")
    ap.add_argument("--no-example", action="store_true",
                    help="only the second NPU's rows")
    a = ap.parse_args()
    ember = os.path.join(a.build, "bin", "ember")
    pairs = [("example NPU (SystemC)", "npu-sim",
              "accel:" + os.path.join(a.build, "backends", "npu-sim",
                                      "target", "NpuTarget.json"))]
    if a.no_example:
        pairs = []
    if a.second_npu:
        pairs.append(("second NPU (its simulator)",
                      "plugin:" + os.path.abspath(a.second_npu),
                      "accel:" + os.path.join(SRC, "examples", "second-npu",
                                              "plugin", "target.json")))
    print("| model | NPU | own cycles | reference cycles | error | outputs |")
    print("|---|---|---:|---:|---:|---|")
    worst = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for model in a.models:
            name = os.path.basename(os.path.dirname(model)) \
                if os.path.basename(model) == "model.onnx" else \
                os.path.basename(model)
            for i, (what, own, ref) in enumerate(pairs):
                o, r = os.path.join(tmp, f"o{i}"), os.path.join(tmp, f"r{i}")
                co, eo = cycles(ember, model, own, o)
                cr, er = cycles(ember, model, ref, r)
                if co is None or cr is None:
                    print(f"| {name} | {what} | {co or eo} | {cr or er} | - | - |")
                    continue
                err = (cr - co) / co
                worst = max(worst, abs(err))
                print(f"| {name} | {what} | {co} | {cr} | {100 * err:+.1f}% | "
                      f"{'equal' if same(o, r) else 'DIFFER'} |")
                sys.stdout.flush()
    print(f"\nworst |error|: {100 * worst:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
