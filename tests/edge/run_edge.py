#!/usr/bin/env python3
"""Builds an Ember bundle of a model for an Arm target, runs it under QEMU
and checks its outputs against the reference interpreter, bit for bit.

  run_edge.py --ember EMBER --case CASE_DIR --out OUT_DIR --triple T
              [--cpu CPU] [--qemu-cpu CPU] [--batch1] [--sizes FILE --name N]

T is aarch64-linux-gnu (qemu-aarch64), thumbv7em-none-eabihf (Cortex-M4 on
qemu-system-arm's mps2-an386), thumbv8.1m.main-none-eabihf (Cortex-M55 on
mps3-an547), all with semihosting or the host's files, or x86_64-linux-gnu
(this host; heterogeneous bundles). --npu-port LIB compiles a heterogeneous
bundle (--target=npu-sim) and links it with LIB's driver port, built for T. The case is an ONNX
test case folder (model.onnx, test_data_set_0/input_*.pb). --batch1 runs
the first item of a batched input, compiled for batch 1 (what a
microcontroller runs). The reference is `ember run --target=interp` on the
same inputs. A microcontroller object may need nothing but memcpy, memset
and the compiler's helper routines (__aeabi_*). With --sizes, the bundle's
figures are checked against the recorded row N of FILE (the size gate:
growing past it by more than its margin fails). Exit 77: a tool or the case
is missing (skipped).
"""
import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import time

SKIP = 77

BOARDS = {
    "thumbv7em-none-eabihf": {
        "machine": "mps2-an386",
        "flags": ["-mcpu=cortex-m4", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
    },
    "thumbv8.1m.main-none-eabihf": {
        "machine": "mps3-an547",
        "flags": ["-mcpu=cortex-m55", "-mfloat-abi=hard"],
    },
}


def skip(why):
    print(f"skip: {why}")
    sys.exit(SKIP)


def fail(why):
    print(f"error: {why}")
    sys.exit(1)


def run(cmd, cwd=None, timeout=300):
    t0 = time.monotonic()
    p = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        fail(f"{' '.join(cmd)} exited {p.returncode}:\n{p.stdout}{p.stderr}")
    return p.stdout, time.monotonic() - t0


def need(tool):
    if not shutil.which(tool):
        skip(f"{tool} is not installed (scripts/install-deps.sh)")


def load_inputs(case, batch1):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(case, "model.onnx"), load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    files = sorted(glob.glob(os.path.join(case, "test_data_set_0", "input_*.pb")),
                   key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
    if len(files) != len(names):
        fail(f"{case}: {len(names)} inputs but {len(files)} input files")
    arrays = []
    for f in files:
        t = onnx.TensorProto()
        with open(f, "rb") as fh:
            t.ParseFromString(fh.read())
        a = numpy_helper.to_array(t)
        if batch1:
            a = a[:1]
        arrays.append(a)
    return names, arrays


def rebatch(src, dst):
    """The model with batch 1: dim 0 of every graph input and output set to
    1 (the MLPerf Tiny exports fix their test batch, 16 or 217; none of
    them reshapes with it), the inferred shapes dropped."""
    import onnx
    m = onnx.load(src)
    for v in list(m.graph.input) + list(m.graph.output):
        dims = v.type.tensor_type.shape.dim
        if len(dims) > 0:
            dims[0].Clear()
            dims[0].dim_value = 1
    del m.graph.value_info[:]
    onnx.save(m, dst)
    return dst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ember", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--triple", required=True)
    ap.add_argument("--cpu", default="")
    ap.add_argument("--qemu-cpu", default="")
    ap.add_argument("--batch1", action="store_true")
    ap.add_argument("--backend-opt", action="append", default=[])
    ap.add_argument("--sizes", default="")
    ap.add_argument("--npu-port", default="",
                    help="a heterogeneous bundle (--target=npu-sim) linked "
                         "with this shared library's ember_npu_port")
    ap.add_argument("--name", default="")
    a = ap.parse_args()

    if not os.path.isdir(a.case):
        skip(f"{a.case} is not present on this machine")
    try:
        import numpy as np  # noqa: F401
        import onnx  # noqa: F401
    except ImportError:
        skip("numpy/onnx are not installed (scripts/install-deps.sh)")
    mcu = a.triple in BOARDS
    if mcu:
        need("arm-none-eabi-gcc")
        need("qemu-system-arm")
    elif a.triple.startswith("aarch64"):
        need("aarch64-linux-gnu-gcc")
        need("qemu-aarch64")
    if a.npu_port and not os.path.exists(a.npu_port):
        skip(f"{a.npu_port} was not built (the NPU simulator needs SystemC)")
    import numpy as np
    from onnx import numpy_helper

    out = os.path.abspath(a.out)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    names, arrays = load_inputs(a.case, a.batch1)
    shapes = []
    model = os.path.join(a.case, "model.onnx")
    if a.batch1:
        model = rebatch(model, os.path.join(out, "model-batch1.onnx"))
    bundle = os.path.join(out, "bundle")
    target = "--target=npu-sim" if a.npu_port else "--target=cpu"
    cmd = [a.ember, "compile", model, target, "--emit=bundle", "-o",
           bundle, "--target-triple", a.triple] + shapes
    if a.cpu:
        cmd += ["--target-cpu", a.cpu]
    for o in a.backend_opt:
        cmd += ["--backend-opt", o]
    text, t_compile = run(cmd)
    last = text.strip().splitlines()[-1]
    m = re.fullmatch(r"bundle: flash_code=(\d+) flash_weights=(\d+) "
                     r"ram_arena=(\d+) ram_state=(\d+)", last)
    if not m:
        fail(f"the last line of ember compile is not the bundle line: {last!r}")
    fig = dict(zip(["flash_code", "flash_weights", "ram_arena", "ram_state"],
                   map(int, m.groups())))
    facts = {}
    if os.path.exists(os.path.join(bundle, "cpu.txt")):
        facts = dict(l.split("=", 1) for l in open(os.path.join(
            bundle, "cpu.txt")).read().split("\n") if "=" in l)
    if a.npu_port:
        parts = re.search(r"partitions: (\d+) \((\d+) on", text)
        if not parts or int(parts.group(2)) < 1:
            fail(f"no partition went to the NPU:\n{text}")
        facts["cpu"] = f"{parts.group(1)} partitions, {parts.group(2)} on the NPU"

    for i, arr in enumerate(arrays):
        arr.tofile(os.path.join(bundle, f"input{i}.bin"))
        np.save(os.path.join(out, f"input{i}.npy"), arr)

    t0 = time.monotonic()
    stack = None
    if mcu:
        board = BOARDS[a.triple]
        # The object may need nothing but memcpy/memset and the compiler's
        # helpers.
        und, _ = run(["arm-none-eabi-nm", "-u", os.path.join(bundle, "model.o")])
        extra = [s.split()[-1] for s in und.splitlines() if s.strip()]
        extra = [s for s in extra if s not in ("memcpy", "memset", "memmove")
                 and not s.startswith("__aeabi_")]
        if extra:
            fail(f"model.o needs more than memcpy/memset: {' '.join(extra)}")
        run(["arm-none-eabi-gcc", "-mthumb"] + board["flags"] +
            ["-O2", "-std=c99", "-Wall", "-Werror", "-nostartfiles", "-T",
             "link.ld", "main.c", "startup.c", "model.o", "weights.o", "-o",
             "model.elf"], cwd=bundle)
        text, t_run = run(["qemu-system-arm", "-M", board["machine"],
                           "-nographic", "-semihosting-config",
                           "enable=on,target=native", "-kernel", "model.elf"],
                          cwd=bundle, timeout=600)
        s = re.search(r"stack=(\d+)", text)
        stack = int(s.group(1)) if s else None
    else:
        # A Linux bundle: this host's, or aarch64's under qemu-aarch64 (a
        # heterogeneous one with its driver port, a shared library).
        a64 = a.triple.startswith("aarch64")
        cc = "aarch64-linux-gnu-gcc" if a64 else "cc"
        srcs = ["main.c", "model.o"]
        if a.npu_port:
            lib = os.path.abspath(a.npu_port)
            srcs = ["main.c", "model.c", "ember_npu.c"] + sorted(
                os.path.basename(p)
                for p in glob.glob(os.path.join(bundle, "part*.o"))) + [
                lib, "-Wl,-rpath," + os.path.dirname(lib)]
        run([cc, "-std=c11", "-O2", "-Wall", "-Werror"] + srcs +
            ["-lm", "-o", "model"], cwd=bundle)
        qemu = []
        if a64:
            qemu = ["qemu-aarch64", "-L", "/usr/aarch64-linux-gnu"]
            if a.qemu_cpu:
                qemu += ["-cpu", a.qemu_cpu]
        inputs = [f"input{i}.bin" for i in range(len(arrays))]
        _, t_run = run(qemu + ["./model", "weights.bin"] + inputs, cwd=bundle,
                       timeout=600)

    ref = os.path.join(out, "ref")
    cmd = [a.ember, "run", model, "--target=interp", "--save-outputs", ref] + shapes
    for i, n in enumerate(names):
        cmd += ["--input", f"{n}={os.path.join(out, f'input{i}.npy')}"]
    run(cmd)
    refs = sorted(glob.glob(os.path.join(ref, "output_*.pb")),
                  key=lambda p: int(p.rsplit("_", 1)[1][:-3]))
    if not refs:
        fail("the interpreter wrote no outputs")
    for i, r in enumerate(refs):
        t = onnx.TensorProto()
        with open(r, "rb") as fh:
            t.ParseFromString(fh.read())
        want = numpy_helper.to_array(t)
        got_path = os.path.join(bundle, f"output{i}.bin")
        if not os.path.exists(got_path):
            fail(f"the bundle wrote no output{i}.bin")
        got = np.fromfile(got_path, dtype=want.dtype)
        if got.size != want.size or got.tobytes() != want.tobytes():
            diff = "sizes differ" if got.size != want.size else \
                f"{int(np.sum(got != want.reshape(-1)))} of {want.size} elements differ"
            fail(f"output {i} is not the interpreter's bit for bit ({diff})")

    ram = fig["ram_arena"] + fig["ram_state"]
    print(f"ok: {os.path.basename(a.case)} on {a.triple}"
          f"{' (' + facts.get('cpu', '') + ')'}: {len(refs)} outputs bit-exact; "
          f"flash_code={fig['flash_code']} flash_weights={fig['flash_weights']} "
          f"ram_arena={fig['ram_arena']} ram_state={fig['ram_state']} "
          f"(plan peak {facts.get('arena_peak')}, lower bound "
          f"{facts.get('arena_lower_bound')}, workspace "
          f"{facts.get('arena_workspace')})"
          + (f" stack={stack}" if stack is not None else "")
          + f"; compile {t_compile:.1f} s, run {t_run:.1f} s")

    if a.sizes:
        check_sizes(a.sizes, a.name, fig, ram)


def check_sizes(path, name, fig, ram):
    """The size gate: FILE rows `name flash_code flash_weights ram` and a
    `margin PERCENT` line; a figure past its record by more than the margin
    fails, one well under it asks for the record to be lowered."""
    rows, margin = {}, None
    for line in open(path):
        line = line.split("#", 1)[0].split()
        if not line:
            continue
        if line[0] == "margin":
            margin = float(line[1])
        else:
            rows[line[0]] = [int(v) for v in line[1:4]]
    if margin is None or name not in rows:
        fail(f"{path} has no margin or no row '{name}'")
    got = [fig["flash_code"], fig["flash_weights"], ram]
    for what, rec, now in zip(["flash_code", "flash_weights", "ram"],
                              rows[name], got):
        if now > rec * (1 + margin / 100):
            fail(f"size gate: {name} {what} is {now} bytes, past its record "
                 f"{rec} by more than {margin:g}% ({path})")
    print(f"ok: size gate {name}: flash_code {got[0]}/{rows[name][0]}, "
          f"flash_weights {got[1]}/{rows[name][1]}, ram {got[2]}/{rows[name][2]} "
          f"(margin {margin:g}%)")


if __name__ == "__main__":
    main()
