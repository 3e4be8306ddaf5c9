#!/usr/bin/env python3
"""ctest custom-ops-test-library: the models of make_models.py with
TestOps.c's library, through `ember`, checked against NumPy:

  attr      every attribute type reaches the kernel; the optional bias
            present and absent; two results of two types
  satadd    one op at two opset versions (saturating, wrapping), with
            lowerings over int32; int8 operands and results
  fold      a shape function propagating dims: a symbolic batch run at two
            sizes, each its own specialization
  qscale    the integer kernel form: in the lowered graph the op reads and
            writes 8-bit integers, with their scales
  quantize  `ember quantize` leaves an op without an integer form float and
            quantizes around one with an integer form
  text      graph IR text of a model with custom ops prints and parses back
  two libs  ops of two libraries in one model, one library written in C++;
            an AOT bundle linking both
  cpu       each model also on the CPU backend (when built): byte-identical
            with the interpreter

  check_custom_ops.py EMBER MODELS_DIR LIB_DIR WORK_DIR [--cpu]
"""
import os
import re
import shutil
import subprocess
import sys

import numpy as np
from onnx import TensorProto, numpy_helper

EMBER, MODELS, LIB, WORK = sys.argv[1:5]
CPU = "--cpu" in sys.argv
TEST_OPS = os.path.join(LIB, "libtest_ops.so")
failures = []


def ember(*args, ok=True):
    p = subprocess.run([EMBER] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    if p.returncode < 0:
        sys.exit("ember died of signal %d: %s" % (-p.returncode, " ".join(args)))
    if ok and p.returncode != 0:
        sys.exit("ember %s failed:\n%s%s" % (" ".join(args), p.stdout, p.stderr))
    return p


def load(path):
    t = TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return numpy_helper.to_array(t)


def run(model, target, inputs, name):
    out = os.path.join(WORK, name + "-" + target)
    args = ["run", os.path.join(MODELS, model), "--op-library", TEST_OPS,
            "--target=" + target, "--save-outputs", out]
    for k, v in inputs.items():
        path = os.path.join(WORK, "%s-%s.npy" % (name, k))
        np.save(path, v)
        args += ["--input", "%s=%s" % (k, path)]
    p = ember(*args)
    outs = []
    i = 0
    while os.path.exists(os.path.join(out, "output_%d.pb" % i)):
        outs.append(load(os.path.join(out, "output_%d.pb" % i)))
        i += 1
    return outs, p.stdout + p.stderr


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def targets():
    return ["interp", "cpu"] if CPU else ["interp"]


def same_everywhere(model, inputs, name):
    results = {t: run(model, t, inputs, name)[0] for t in targets()}
    base = results["interp"]
    for t, r in results.items():
        check(len(r) == len(base) and
              all(a.tobytes() == b.tobytes() for a, b in zip(r, base)),
              "%s: %s byte-identical with interp" % (name, t))
    return base


def attr():
    x = np.arange(6, dtype=np.float32).reshape(2, 3) / 4
    y, info, y2, info2 = same_everywhere("attr.onnx", {"x": x}, "attr")
    add = 3 + 0.5 + (1 + 2 + 3) + (1.5 + 2.0) + (4 + 5) + 2
    check(np.allclose(y, x + add + 0.25), "attr: y with the optional bias")
    check(np.allclose(y2, x + add), "attr: y without it")
    want = [3, 3, 3, 2, 2, 2, 3]
    check(list(info) == want and list(info2) == want,
          "attr: every attribute arrives (%s)" % [int(v) for v in info])


def satadd():
    rng = np.random.default_rng(1)
    a = rng.integers(-128, 128, (4, 40)).astype(np.int8)
    b = rng.integers(-128, 128, (4, 40)).astype(np.int8)
    s = a.astype(np.int32) + b.astype(np.int32)
    y1 = same_everywhere("satadd_v1.onnx", {"a": a, "b": b}, "satadd1")[0]
    y2 = same_everywhere("satadd_v2.onnx", {"a": a, "b": b}, "satadd2")[0]
    check(np.array_equal(y1, np.clip(s, -128, 127).astype(np.int8)),
          "satadd: opset 1 saturates")
    check(np.array_equal(y2, s.astype(np.int8)), "satadd: opset 2 wraps")
    lowered = ember("compile", os.path.join(MODELS, "satadd_v1.onnx"),
                    "--op-library", TEST_OPS, "--emit=lowered").stdout
    check("org.test::SatAdd8" not in lowered and "Cast" in lowered,
          "satadd: lowered into Ember's ops")


def fold():
    for n in (2, 5):
        x = np.linspace(-1, 1, n * 6, dtype=np.float32).reshape(n, 2, 3)
        (y,) = same_everywhere("fold.onnx", {"x": x}, "fold%d" % n)
        check(y.shape == (n, 6) and np.array_equal(y, np.maximum(x, 0).reshape(n, 6)),
              "fold: batch %d gives %s" % (n, y.shape))


def qscale():
    x = np.linspace(-2, 2, 64, dtype=np.float32).reshape(1, 64)
    (y,) = same_everywhere("qscale.onnx", {"x": x}, "qscale")
    xq = np.clip(np.round(x / 0.02) + 3, -128, 127)
    real = 0.02 * (xq - 3) * 0.5
    yq = np.clip(np.round(real / 0.015) - 5, -128, 127)
    check(np.allclose(y, (0.015 * (yq + 5)).astype(np.float32)),
          "qscale: the integer kernel's result")
    lowered = ember("compile", os.path.join(MODELS, "qscale.onnx"),
                    "--op-library", TEST_OPS, "--emit=lowered").stdout
    m = re.search(r"org\.test::QScale@1\(%[^)]*\) \{\$quant = \[([^\]]*)\][^}]*\} : i8\[1,64\]",
                  lowered)
    check(m is not None, "qscale: an integer node on i8 with $quant")


def quantize():
    q = os.path.join(WORK, "qscale-int8.onnx")
    p = ember("quantize", os.path.join(MODELS, "qscale_float.onnx"),
              "--op-library", TEST_OPS, "--calibration",
              os.path.join(MODELS, "calib"), "-o", q)
    log = p.stdout + p.stderr
    check("AttrSum" in log and "stay float" in log,
          "quantize: the op without an integer form stays float")
    import onnx
    m = onnx.load(q)
    prod = {o: n for n in m.graph.node for o in n.output}
    qs = [n for n in m.graph.node if n.op_type == "QScale"][0]
    check(prod[qs.input[0]].op_type == "DequantizeLinear",
          "quantize: the op with an integer form reads a dequantized tensor")
    lowered = ember("compile", q, "--op-library", TEST_OPS,
                    "--emit=lowered").stdout
    check(re.search(r"org\.test::QScale@1\(%[^)]*\) \{\$quant = ", lowered)
          is not None and "AttrSum@1(" in lowered,
          "quantize: lowered, QScale on the stored integers, AttrSum float")


def text():
    g = os.path.join(WORK, "attr.eir")
    ember("compile", os.path.join(MODELS, "attr.onnx"), "--op-library",
          TEST_OPS, "--emit=graph", "-o", g)
    src = open(g).read()
    check("org.test::AttrSum@1(" in src, "text: the op prints as domain::name@opset")
    p = ember("compile", g, "--op-library", TEST_OPS, "--emit=graph")
    check(p.stdout == src, "text: parses back to the same text")
    p = ember("compile", g, "--emit=graph", ok=False)
    check(p.returncode != 0 and "org.test::AttrSum" in p.stderr and
          "--op-library" in p.stderr,
          "text: without the library, an error naming the op")


def two_libraries():
    cxx = os.path.join(LIB, "libcxx_ops.so")
    import ctypes
    lib = ctypes.CDLL(cxx)
    check(hasattr(lib, "ember_op_library_entry") and
          hasattr(lib, "ember_op_library_entry_cxx_ops"),
          "two libraries: a C++ library's entry points have C linkage")
    x = np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3)
    add = 1 + 0.25 + 2 + 0.5 + 1.5 + 1
    outs = {}
    for t in targets():
        out = os.path.join(WORK, "two-" + t)
        np.save(os.path.join(WORK, "two-x.npy"), x)
        ember("run", os.path.join(MODELS, "two_libs.onnx"), "--op-library", cxx,
              "--op-library", TEST_OPS, "--target=" + t, "--input",
              "x=" + os.path.join(WORK, "two-x.npy"), "--save-outputs", out)
        outs[t] = load(os.path.join(out, "output_0.pb"))
        check(np.allclose(outs[t], 2 * x + add), "two libraries: %s computes" % t)
    if not CPU or not shutil.which("cc"):
        return
    # An AOT bundle calling both, linked with both (each through its
    # ember_op_library_entry_<name> alias).
    b = os.path.join(WORK, "bundle")
    ember("compile", os.path.join(MODELS, "two_libs.onnx"), "--op-library", cxx,
          "--op-library", TEST_OPS, "--target=cpu", "--emit=bundle", "-o", b)
    src = open(os.path.join(b, "custom_ops.c")).read()
    check("ember_op_library_entry_cxx_ops" in src and
          "ember_op_library_entry_test_ops" in src,
          "bundle: custom_ops.c links each library through its alias")
    subprocess.run(["cc", "-O2", "main.c", "custom_ops.c", "model.o", cxx,
                    TEST_OPS, "-Wl,-rpath," + os.path.abspath(LIB), "-lm", "-o",
                    "model"], cwd=b, check=True)
    x.tofile(os.path.join(b, "input0.bin"))
    subprocess.run(["./model", "weights.bin", "input0.bin"], cwd=b, check=True,
                   stdout=subprocess.DEVNULL)
    got = np.fromfile(os.path.join(b, "output0.bin"), dtype=np.float32)
    check(got.tobytes() == outs["interp"].tobytes(),
          "bundle: outputs byte-identical with interp")


def main():
    os.makedirs(WORK, exist_ok=True)
    attr()
    satadd()
    fold()
    qscale()
    quantize()
    text()
    two_libraries()
    if failures:
        sys.exit("%d checks failed" % len(failures))
    print("all checks passed")


main()
