#!/usr/bin/env python3
"""The float32 requantization profile against ONNX Runtime on whole int8
models, bit for bit.

Builds fp32 models the way the CPU benchmark set does
(bench/cpu/mobile_models.py, real channel widths, seeded weights) at small
input sizes, quantizes each with ONNX Runtime's quantize_static as users do
(scripts/quantize-with-ort.py: QDQ, per-channel int8 weights, uint8
activations unless said otherwise), runs ONNX Runtime's default InferenceSession
(its fused QDQ kernels, one thread) on seeded inputs, and requires
`ember conform --requant=float32 --rtol 0 --atol 0` to give the same bytes
on the interpreter and on the CPU backend. The set:

  pplcnet-softmax       PP-LCNet x0.5 at 64 x 64 ending in Softmax over 10
                        classes (ONNX Runtime's QLinearSoftmax; with few
                        classes many probabilities are far from 0, where
                        its scale of 254 and the exact 255 round apart)
  pplcnet-softmax-int8  the same with int8 activations (the signed kernel)
  yolov8n-64            YOLOv8n at 64 x 64: SiLU, C2f, SPPF, nearest
                        upsampling, the DFL Softmax over 16 bins on a middle
                        axis, box decoding and Sigmoid scores (the CPU
                        backend at -O0)
  yolov8n-64-int8       the same with int8 activations: ONNX Runtime's x86
                        kernels fuse no Conv with an int8 end and no Add or
                        Mul whose ends differ in kind, so most of its Convs
                        run in float, summed in MLAS's order (the DFL's
                        one-filter Conv in its GEMV kernel's), and a C2f
                        residual Add in float

With int8 activations the CPU backend runs with --fallback=interp: the
float32 profile's Convs in ONNX Runtime's float order run on the
interpreter (for YOLOv8n nearly all of it, so that case checks the
interpreter alone: None for its cpu options).

    check_float32_models.py --ember build/bin/ember [--targets interp,cpu]
                            [--inputs N] [--keep DIR] [--only NAME]

Exit 1 on any difference, 77 when onnx or onnxruntime is not installed.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ort_exact import skip_if_ort_saturates  # noqa: E402

skip_if_ort_saturates("the float32 profile on models")

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "bench", "cpu"))
import mobile_models  # noqa: E402  (needs the path above)


def with_softmax(m, gain):
    """m with a Softmax over its single [1, classes] output, the weights of
    the layer computing the logits scaled by `gain`: a trained classifier's
    confident outputs (random weights give nearly equal probabilities)."""
    out = m.graph.output[0]
    last = next(n for n in m.graph.node if out.name in n.output)
    inits = {i.name: i for i in m.graph.initializer}
    for name in last.input[1:]:
        t = inits[name]
        t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t) * gain,
                                           name))
    probs = out.name + "_softmax"
    m.graph.node.append(helper.make_node("Softmax", [out.name], [probs],
                                         axis=1))
    out.name = probs
    return m


def models():
    """(name, fp32 model, quantize-with-ort.py flags, `ember conform`
    options for the cpu target). YOLOv8n compiles for the CPU backend at
    -O0: every level computes the same values (the backend is bit-exact
    with the interpreter at each), and its LLVM pipeline at the default
    level would take most of this check's time."""
    rng = np.random.default_rng
    cls = with_softmax(mobile_models.pplcnet(rng(1), size=64, scale=0.5,
                                             classes=10), gain=20)
    return [
        ("pplcnet-softmax", cls, [], []),
        ("pplcnet-softmax-int8", cls, ["--int8-act"], ["--fallback=interp"]),
        ("yolov8n-64", mobile_models.yolov8n(rng(2), size=64), [], ["-O0"]),
        ("yolov8n-64-int8", mobile_models.yolov8n(rng(2), size=64),
         ["--int8-act"], None),
    ]


def save_inputs(ds, name, x):
    os.makedirs(ds, exist_ok=True)
    onnx.save_tensor(numpy_helper.from_array(x, name),
                     os.path.join(ds, "input_0.pb"))


def make_case(td, name, m, flags, n_inputs):
    """A quantized test case: model.onnx and test_data_set_0..n-1 with
    ONNX Runtime's outputs."""
    src = os.path.join(td, name + "-fp32")
    os.makedirs(src, exist_ok=True)
    onnx.save(m, os.path.join(src, "model.onnx"))
    inp = m.graph.input[0]
    shape = [d.dim_value for d in inp.type.tensor_type.shape.dim]
    rng = np.random.default_rng(len(name))
    save_inputs(os.path.join(src, "test_data_set_0"), inp.name,
                rng.uniform(0, 1, shape).astype(np.float32))
    case = os.path.join(td, name)
    r = subprocess.run([sys.executable, os.path.join(REPO, "scripts",
                                                     "quantize-with-ort.py"),
                        src, case, "--samples", "4", *flags],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"quantize-with-ort.py: {r.stderr or r.stdout}")
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    sess = ort.InferenceSession(os.path.join(case, "model.onnx"), so,
                                providers=["CPUExecutionProvider"])
    for k in range(n_inputs):
        ds = os.path.join(case, f"test_data_set_{k}")
        x = rng.uniform(0, 1, shape).astype(np.float32)
        save_inputs(ds, inp.name, x)
        for i, (o, v) in enumerate(zip(sess.get_outputs(),
                                       sess.run(None, {inp.name: x}))):
            onnx.save_tensor(numpy_helper.from_array(v, o.name),
                             os.path.join(ds, f"output_{i}.pb"))
    return case


def conform(ember, case, target, opts):
    """The `ember conform` line of the case: None when it passes, else
    what it printed."""
    r = subprocess.run([ember, "conform", f"--target={target}",
                        "--requant=float32", "--rtol", "0", "--atol", "0",
                        *opts, case], capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines()
             if ln.startswith(("PASS", "FAIL", "ERROR", "UNSUPPORTED"))]
    if r.returncode == 0 and lines and all(ln.startswith("PASS")
                                           for ln in lines):
        return None
    return (lines[0] if lines else (r.stderr or r.stdout).strip()[-300:])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", required=True)
    ap.add_argument("--targets", default="interp,cpu")
    ap.add_argument("--inputs", type=int, default=8)
    ap.add_argument("--keep", help="build the cases here and keep them")
    ap.add_argument("--only", action="append", default=[],
                    help="the models whose name contains this")
    a = ap.parse_args()
    targets = a.targets.split(",")
    failed = 0
    cases = [c for c in models()
             if not a.only or any(o in c[0] for o in a.only)]
    with tempfile.TemporaryDirectory() as tmp:
        td = a.keep or tmp
        for name, m, flags, cpu_opts in cases:
            t0 = time.time()
            case = make_case(td, name, m, flags, a.inputs)
            made = time.time() - t0
            msgs = []
            for t in targets:
                if t == "cpu" and cpu_opts is None:
                    continue
                err = conform(a.ember, case, t, cpu_opts if t == "cpu" else [])
                if err:
                    msgs.append(f"{t}: {err}")
            failed += bool(msgs)
            print(f"{'FAIL' if msgs else 'PASS'} {name}: {a.inputs} inputs, "
                  + ("; ".join(msgs) if msgs else
                     f"{' = '.join(t for t in targets if t != 'cpu' or cpu_opts is not None)} = onnxruntime")
                  + f" ({made:.1f} s to make, {time.time() - t0 - made:.1f} "
                  "s to check)", flush=True)
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
