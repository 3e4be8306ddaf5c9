#!/usr/bin/env python3
"""The hardware-space sweep: int8 models on drawn target descriptions, run
on the SDK's reference simulator (`ember run --target=accel:DESC.json`)
against the interpreter.

    sweep.py EMBER WORK_DIR [MODEL.onnx...] [--targets N] [--seed S]
             [--jobs J] [--every MODEL=K]... [--shared DIR] [--wider DIR]
             [--first K] [--timeout SEC]

EMBER is the `ember` binary (`ember-accel` beside it). Targets are
gen_target.py's draws from seed S on; a draw `ember-accel check`
refuses is counted and the next seed taken, until N targets are accepted.
For every target and model:
- `ember-accel select` names a reason for every node it does not claim
  (a node without one is a failure);
- `ember run` (seeded inputs) compiles every claimed run and runs it on the
  reference simulator with its checks on; an error (a claimed node that does
  not schedule, a checker error) is a failure, and so is an output that is
  not byte-equal to the interpreter's, and a run that places on the target
  another number of nodes than select claims (its `host_nodes`).
--every MODEL=K runs MODEL (a file name's folder or stem) on every K-th
target only (a large model in a wide sweep).
--timeout SEC is `ember run`'s budget for one plugin call (default 3600
s: a loaded machine stretches a compile; the slowest compiles are printed).
--first K runs only the targets from the K-th on (0-based), drawn as
before: a sweep stopped early continues where it stopped (its last line
then counts the targets run).
--shared DIR adds every int8 model of DIR (DIR/<name>/model.onnx whose name
ends in -int8: ../shared/models); --wider DIR adds the int8 QDQ models of the
NPU's wider set (bench/npu/coverage_set.py's MODELS), quantized into DIR once
and reused.
The interpreter's outputs are computed once per model (one seeded input)
and requantization profile (a target's first `arithmetic`, fixed when it
declares none: the profile the host lowers in for it), and every target's
run is compared with them. Runs go target by target (a
target's models in order, J at a time), and each completed target prints
`sweep: target K/N (DESC) complete: ...` on stderr, so a sweep stopped early
says how many targets it finished and with how many failures. The last
line:
  `sweep: T targets (R refused by check), P runs, C nodes claimed,
   H refused at selection, F failures`
Failures are printed above it with the target and model, and the target's
description is kept in WORK_DIR. Above them on stderr: where the time went
and the five slowest compiles (seconds, target, model).
"""
import argparse
import concurrent.futures as cf
import filecmp
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_target  # noqa: E402


LOCK = threading.Lock()
# `ember run`'s budget for one plugin call (its --timeout): the sweep checks
# what runs, not how fast it compiles (the five slowest compiles are
# printed); a loaded machine stretches a compile (--timeout sets it).
TIMEOUT = 3600


def add(spent, key, seconds):
    with LOCK:
        spent[key] = spent.get(key, 0.0) + seconds


def run(cmd, spent=None, key=None):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if spent is not None:
        add(spent, key, time.monotonic() - t0)
    return p.returncode, p.stdout, p.stderr


# Where a run's time goes (wall seconds, summed over runs): `select` (the
# selection command), `compile` and `run` (as `ember run` reports them:
# import, passes, the layer's selection, tiling, tuning and scheduling;
# executing on the reference simulator with the host nodes), `other` (the
# rest of `ember run`: process start-up, model loading, writing outputs).
PARTS = ("select", "compile", "run", "other")


def account(spent, out):
    """Adds a run's compile and run seconds to spent; returns the compile's
    (0 when the run printed none)."""
    m = re.search(r"compile_ms=([0-9.]+) run_ms=([0-9.]+)", out)
    if not m:
        return 0.0
    c, r = float(m.group(1)) / 1e3, float(m.group(2)) / 1e3
    add(spent, "compile", c)
    add(spent, "run", r)
    add(spent, "other", -c - r)
    return c


# The slowest compiles: (seconds, target, model), kept for the last lines.
SLOWEST = []


def note_compile(seconds, tpath, model, keep=5):
    with LOCK:
        SLOWEST.append((seconds, os.path.basename(tpath), model_key(model)))
        SLOWEST.sort(reverse=True)
        del SLOWEST[keep:]


def model_key(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return os.path.basename(os.path.dirname(path)) if stem == "model" else stem


def profile_of(tpath):
    """The profile a target computes first (its `arithmetic`; fixed when it
    declares none): the profile the host lowers a model in for it."""
    with open(tpath) as f:
        return (json.load(f).get("arithmetic") or ["fixed"])[0]


def one(bin_dir, work, ti, tpath, mi, model, ref, spent, timeout=TIMEOUT):
    """(claimed, refused, failures) of one model on one target; adds its
    times to spent."""
    fails = []
    rc, out, err = run([os.path.join(bin_dir, "ember-accel"), "select", model,
                        "--target", tpath], spent, "select")
    if rc != 0:
        return 0, 0, [f"select: {err.strip()}"]
    claimed = refused = nodes = 0
    for m in re.finditer(r"^# node \d+ (\S+) '([^']*)': (.*)$", out, re.M):
        nodes += 1
        if m.group(3) == "runs":
            claimed += 1
        elif m.group(3).strip():
            refused += 1
        else:
            fails.append(f"node {m.group(1)} '{m.group(2)}' refused "
                         "without a reason")
    if claimed == 0:  # every node refused at selection, with its reason
        return claimed, refused, fails
    odir = os.path.join(work, f"out-t{ti}-m{mi}")
    rc, out, err = run([os.path.join(bin_dir, "ember"), "run", model,
                        f"--target=accel:{tpath}", "--seed", "1",
                        f"--timeout={timeout}", "--save-outputs", odir],
                       spent, "other")
    note_compile(account(spent, out), tpath, model)
    if rc != 0:
        fails.append(f"run: {err.strip()}")
        return claimed, refused, fails
    # The run places on the target what select claims: the host lowers and
    # cuts the model as select does (the manifest's claims, the profile).
    placed = re.search(r"host_nodes=(\d+)", out)
    if not placed or nodes - int(placed.group(1)) != claimed:
        fails.append(f"select claims {claimed} of {nodes} nodes, the run "
                     f"places " + (str(nodes - int(placed.group(1)))
                                   if placed else "an unknown number") +
                     " on the target")
    for f in sorted(os.listdir(ref)):
        if not filecmp.cmp(os.path.join(ref, f), os.path.join(odir, f),
                           shallow=False):
            fails.append(f"{f} differs from the interpreter's")
    return claimed, refused, fails


def shared_models(root):
    """Every int8 model of a ../shared-style models folder."""
    return [os.path.join(root, n, "model.onnx") for n in sorted(os.listdir(root))
            if n.endswith("-int8")
            and os.path.exists(os.path.join(root, n, "model.onnx"))]


def wider_models(out):
    """The NPU's wider int8 set (bench/npu/coverage_set.py), quantized into
    out/<name>-qdq.onnx unless already there."""
    import numpy as np
    import onnx
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(
        __file__)), "..", "..", "..", "bench", "npu"))
    import coverage_set as cs
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, make in cs.MODELS.items():
        fp32 = os.path.join(out, name + ".onnx")
        qdq = os.path.join(out, name + "-qdq.onnx")
        if not os.path.exists(qdq):
            rng = np.random.default_rng(7)
            onnx.save(make(rng), fp32)
            cs.quantize(fp32, qdq, rng,
                        cs.CONV_ONLY if name in cs.SLIM else None)
        paths.append(qdq)
    return paths


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("ember")
    ap.add_argument("work")
    ap.add_argument("models", nargs="*")
    ap.add_argument("--shared", default=None)
    ap.add_argument("--wider", default=None)
    ap.add_argument("--targets", type=int, default=4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--every", action="append", default=[])
    ap.add_argument("--first", type=int, default=0)
    ap.add_argument("--timeout", type=int, default=TIMEOUT)
    a = ap.parse_args()
    if a.shared:
        a.models += shared_models(a.shared)
    if a.wider:
        a.models += wider_models(a.wider)
    if not a.models:
        ap.error("no models (MODEL, --shared or --wider)")
    a.bin = os.path.dirname(os.path.abspath(a.ember))
    os.makedirs(a.work, exist_ok=True)
    every = {k: int(v) for k, v in (e.split("=") for e in a.every)}
    ember = os.path.join(a.bin, "ember")
    targets, refused_targets, seed = [], 0, a.seed
    while len(targets) < a.targets:
        tpath = os.path.join(a.work, f"target-{seed}.json")
        gen_target.main_to(seed, tpath)
        if run([os.path.join(a.bin, "ember-accel"), "check", tpath])[0]:
            refused_targets += 1
            os.remove(tpath)
        else:
            targets.append(tpath)
        seed += 1
    targets = targets[a.first:]
    # The interpreter's outputs, in each profile a target computes first
    # (its `arithmetic`: the host lowers the model in it).
    refs = {}
    for prof in sorted({profile_of(t) for t in targets}):
        for mi, model in enumerate(a.models):
            ref = os.path.join(a.work, f"ref-{prof}-m{mi}")
            rc, _, err = run([ember, "run", model, "--target=interp",
                              f"--requant={prof}", "--seed", "1",
                              "--save-outputs", ref])
            if rc != 0:
                print(f"error: the interpreter cannot run {model} "
                      f"({prof}): {err.strip()}")
                return 1
            refs[(prof, mi)] = ref
    work = []
    for ti, tpath in enumerate(targets):
        for mi, model in enumerate(a.models):
            if (ti + a.first) % every.get(model_key(model), 1) == 0:
                work.append((ti, tpath, mi, model))
    claimed = refused = runs = done_targets = 0
    spent = {}
    failures = []
    left = {}  # runs still to finish per target
    for ti, _, _, _ in work:
        left[ti] = left.get(ti, 0) + 1
    with cf.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        futs = {ex.submit(one, a.bin, a.work, ti, tp, mi, m,
                           refs[(profile_of(tp), mi)], spent, a.timeout):
                (ti, tp, m) for ti, tp, mi, m in work}
        for fu in cf.as_completed(futs):
            ti, tp, m = futs[fu]
            c, r, fs = fu.result()
            runs += 1
            claimed += c
            refused += r
            failures += [f"{tp} {m}: {f}" for f in fs]
            # Progress on stderr (a wide sweep runs for long): the run, and
            # the counts so far.
            print(f"sweep: run {runs}/{len(work)}: {os.path.basename(tp)} "
                  f"{model_key(m)}: {c} claimed, {r} refused, {len(fs)} "
                  f"failures ({claimed} claimed, {refused} refused, "
                  f"{len(failures)} failures so far)", file=sys.stderr,
                  flush=True)
            for f in fs:
                print(f"FAIL: {tp} {m}: {f}", file=sys.stderr, flush=True)
            left[ti] -= 1
            if left[ti] == 0:
                done_targets += 1
                print(f"sweep: target {done_targets}/{len(targets)} "
                      f"({os.path.basename(tp)}) complete: {runs} runs, "
                      f"{claimed} claimed, {refused} refused, "
                      f"{len(failures)} failures so far; time " +
                      ", ".join(f"{k} {spent.get(k, 0.0):.0f} s"
                                for k in PARTS), file=sys.stderr, flush=True)
    for f in sorted(failures):
        print("FAIL:", f)
    if SLOWEST:
        print("sweep: slowest compiles: " + ", ".join(
            f"{sec:.1f} s ({t} {m})" for sec, t, m in SLOWEST),
            file=sys.stderr)
    total = sum(spent.values()) or 1.0
    print("sweep: time " + ", ".join(
        f"{k} {spent.get(k, 0.0):.0f} s ({100 * spent.get(k, 0.0) / total:.0f}%)"
        for k in PARTS), file=sys.stderr)
    print(f"sweep: {len(targets)} targets ({refused_targets} refused by "
          f"check), {runs} runs, {claimed} nodes claimed, {refused} refused "
          f"at selection, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
