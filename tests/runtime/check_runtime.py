#!/usr/bin/env python3
"""The runtime end to end on the example NPU's cores (docs/runtime.md):

  memory     a model larger than one core's DRAM window is refused on one
             core with an error naming the device and the sizes, and runs
             across two; its outputs are the reference interpreter's, bit
             for bit
  pipeline   requests through two cores: every request's outputs are the
             single core's, bit for bit; in simulated time core 0 runs a
             request's first stage while core 1 runs the one before's
             second; with --concurrency 1 requests do not overlap
  fault      a deadlock injected into one execution on core 1 mid-stream
             fails the request it touched, named with its stage and device;
             every other request completes with the single core's outputs
  placement  --emit=partitions names each stage's device, prediction and
             reason, and predicts the cores' contention for a narrow
             shared channel; conform --devices passes; bad device lists
             are errors

    check_runtime.py --ember build/bin/ember --work DIR

Needs numpy and onnx (the test model is generated: make_mlp.py).
"""
import argparse
import json
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(os.path.dirname(HERE))
# The MLP's weights are 8.1 MiB; a 7 MiB window holds half of it, not all.
WINDOW = 7 * 1024 * 1024

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def run(args, expect=None):
    p = subprocess.run(args, capture_output=True, text=True)
    if expect is not None and p.returncode != expect:
        sys.stdout.write(p.stdout[-3000:])
        sys.stdout.write(p.stderr[-3000:])
        check(False, f"exit {p.returncode} (expected {expect}): "
                     + " ".join(args))
    return p


def field(out, name):
    m = re.search(name + r"=(\S+)", out)
    return m.group(1) if m else None


def bench(ember, model, devices, *extra, expect=0):
    return run([ember, "bench", model, "--devices", devices, "--warmup", "0"]
               + list(extra), expect)


def main():
    try:
        import numpy  # noqa: F401  (make_mlp.py writes the test model)
        import onnx  # noqa: F401
    except ImportError as e:
        print(f"skipped: the test model needs numpy and onnx ({e})")
        return 77
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    ember = a.ember
    os.makedirs(a.work, exist_ok=True)
    mlpdir = os.path.join(a.work, "mlp")
    subprocess.run([sys.executable, os.path.join(HERE, "make_mlp.py"),
                    mlpdir], check=True)
    mlp = os.path.join(mlpdir, "model.onnx")
    window = f"dram_bytes={WINDOW}"

    # ---- memory ---------------------------------------------------------
    p = run([ember, "run", mlp, "--devices", "npu-sim:1", "--backend-opt",
             window], 1)
    check(re.search(r"error: the model does not fit npu-sim:0's memory: its "
                    r"npu-sim nodes need about [0-9.]+ MiB, the device has "
                    r"7\.0 MiB; more devices of the kind split it", p.stderr)
          is not None, "one core refuses the model larger than its window: "
          + p.stderr.strip())
    ref, two = os.path.join(a.work, "ref"), os.path.join(a.work, "two")
    run([ember, "run", mlp, "--save-outputs", ref], 0)
    p = run([ember, "run", mlp, "--devices", "npu-sim:2", "--backend-opt",
             window, "--save-outputs", two], 0)
    check(field(p.stdout, "host_stages") == "2" and
          "stage 1 on npu-sim:0" in p.stdout and
          "stage 2 on npu-sim:1" in p.stdout,
          "two cores run it, one stage each")
    with open(os.path.join(ref, "output_0.pb"), "rb") as f1, \
            open(os.path.join(two, "output_0.pb"), "rb") as f2:
        check(f1.read() == f2.read(),
              "its outputs across two cores are the interpreter's")
    p = run([ember, "compile", mlp, "--devices", "npu-sim:2", "--backend-opt",
             window, "--emit=partitions"], 0)
    stages = re.findall(r"^stage \d+ device=(.+?) nodes=\d+ predicted=",
                        p.stdout, re.M)
    check(stages == ["host (cpu)", "npu-sim:0", "npu-sim:1", "host (cpu)"]
          or stages == ["host (interp)", "npu-sim:0", "npu-sim:1",
                        "host (interp)"],
          f"--emit=partitions places the stages {stages}")
    check(p.stdout.count("  why: ") == 4 and
          p.stdout.count("  predicted by: npu-sim's cost model") == 2 and
          re.search(r"hold [0-9.]+ MiB of the device's 7\.0 MiB", p.stdout),
          "--emit=partitions says why, how it predicted and the memory")

    # A shared channel narrower than the two stages' demand: the placement
    # predicts each stage slower than alone.
    p = run([ember, "compile", mlp, "--devices", "npu-sim:2", "--backend-opt",
             "shared_dram_bw=4", "--emit=partitions"], 0)
    check(re.search(r"note: npu-sim:0, npu-sim:1 share 4\.0 GB/s of "
                    r"bandwidth; their stages need [0-9.]+ GB/s together when "
                    r"they run at once: each predicted [0-9.]+ times slower",
                    p.stdout) is not None and
          p.stdout.count("shared bandwidth ") == 2,
          "a narrow shared channel slows the predicted stages")

    # ---- pipeline -------------------------------------------------------
    n = "8"
    one = bench(ember, mlp, "npu-sim:1", "--requests", n)
    trace = os.path.join(a.work, "two.json")
    two = bench(ember, mlp, "npu-sim:2", "--requests", n, "--concurrency",
                "3", "--trace", trace)
    r1, r2 = field(one.stdout, "request_fnv"), field(two.stdout,
                                                     "request_fnv")
    check(r1 is not None and r1 == r2 and "failed" not in r1 and
          len(set(r1.split(","))) == int(n),
          "every request's outputs on two cores are the single core's "
          "(and the requests differ)")
    last = two.stdout.strip().splitlines()[-1]
    check(re.fullmatch(r"devices=2 requests=8 p50_ms=[0-9.]+ p99_ms=[0-9.]+ "
                       r"throughput=[0-9.]+ sim_throughput=[0-9.]+", last)
          is not None, "the last line: " + last)
    s1 = float(field(one.stdout, "sim_throughput"))
    s2 = float(field(two.stdout, "sim_throughput"))
    check(s2 > s1, f"two cores' simulated-time throughput {s2:.0f} > one "
                   f"core's {s1:.0f} req/s")
    with open(trace) as f:
        events = json.load(f)["traceEvents"]
    sim = [e for e in events if e.get("ph") == "X" and e["pid"] == 0]
    by = {(e["args"]["request"], e["tid"]): (e["ts"], e["ts"] + e["dur"])
          for e in sim}
    overlapped = any(
        (r + 1, 0) in by and (r, 1) in by and
        max(by[(r + 1, 0)][0], by[(r, 1)][0]) <
        min(by[(r + 1, 0)][1], by[(r, 1)][1])
        for r in range(int(n)))
    check(overlapped, "in simulated time core 0 runs request n+1 while core "
                      "1 runs request n (--trace)")
    check({e["tid"] for e in sim} == {0, 1} and
          any(e["pid"] == 1 for e in events if e.get("ph") == "X"),
          "--trace draws each device's timeline, simulated and wall")
    trace1 = os.path.join(a.work, "serial.json")
    bench(ember, mlp, "npu-sim:2", "--requests", "4", "--concurrency", "1",
          "--trace", trace1)
    with open(trace1) as f:
        sim = [e for e in json.load(f)["traceEvents"]
               if e.get("ph") == "X" and e["pid"] == 0]
    spans = {}
    for e in sim:
        lo, hi = spans.get(e["args"]["request"], (1e30, 0))
        spans[e["args"]["request"]] = (min(lo, e["ts"]),
                                       max(hi, e["ts"] + e["dur"]))
    order = [spans[r] for r in sorted(spans)]
    check(len(order) == 4 and all(order[i][1] <= order[i + 1][0] + 1e-6
                                  for i in range(3)),
          "with --concurrency 1 one request at a time")

    # ---- fault ----------------------------------------------------------
    p = bench(ember, mlp, "npu-sim:2", "--requests", "6", "--concurrency",
              "3", "--backend-opt", "fault=deadlock@1:3", expect=1)
    errs = [l for l in p.stderr.splitlines() if l.startswith("error:")]
    check(len(errs) == 1 and re.match(
        r"error: request 2: stage 2 on npu-sim:1 failed: .*deadlock", errs[0])
          is not None, f"the fault fails the request it touched: {errs}")
    rf = field(p.stdout, "request_fnv")
    want = bench(ember, mlp, "npu-sim:1", "--requests", "6")
    rw = field(want.stdout, "request_fnv").split(",")
    got = rf.split(",") if rf else []
    check(len(got) == 6 and got[2] == "failed" and
          all(got[i] == rw[i] for i in (0, 1, 3, 4, 5)),
          "the other requests complete with the single core's outputs")
    check("requests: 5 done, 1 failed" in p.stdout,
          "the bench counts one failed request")

    # ---- conform, bad lists ---------------------------------------------
    p = run([ember, "conform", os.path.join(SRC, "examples", "mnist-int8"),
             "--devices", "npu-sim:2"], 0)
    check(p.stdout.strip().endswith("1 passed, 0 failed, 0 skipped"),
          "conform --devices npu-sim:2 passes mnist-int8")
    for bad, why in [("npu-sim:9", r"asks for 9 devices; plugin 'npu-sim'"),
                     ("npu-sim:0", r"device count 0 .* \(--devices"),
                     ("interp", r"reference interpreter, which runs on the "
                                r"host"),
                     ("npu-sim,npu-sim:2", r"names 'npu-sim' twice")]:
        p = run([ember, "run", mlp, "--devices", bad], 1)
        check(re.search("error: .*" + why, p.stderr) is not None,
              f"--devices {bad}: {p.stderr.strip()}")
    p = run([ember, "bench", mlp, "--requests", "2"])
    check(p.returncode != 0 and "need --devices" in p.stderr,
          "--requests needs --devices")

    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
