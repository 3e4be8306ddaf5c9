#!/usr/bin/env python3
"""The float32 profile's Conv and MatMul in ONNX Runtime's summation order,
float to float: for random float Convs (groups, depthwise, one filter per
group, one output pixel, 1x1 to 5x5, strides 1 and 2) and MatMuls (one row,
one column, batches over a shared B and not), `ember run --target=interp`
of the op with attribute ort_order = 1 (what lowering sets on a QDQ Conv or
MatMul ONNX Runtime leaves float: docs/quantization.md, "Conv with an int8
end") must give ONNX Runtime's bytes (CPU EP, one thread, every operand an
input, so computed at run time as a DequantizeLinear's are). A QDQ model
turns these last-bit differences into a quantum only at near-ties, which
random inputs rarely hit; here every element counts.

    check_ort_order.py --ember build/bin/ember [--cases N] [--seed S]

Exit 1 on any difference, 77 when onnx or onnxruntime is not installed.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper, TensorProto as TP
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)


def random_conv(rng):
    """Shapes that reach each of MLAS's paths: SGEMM K blocks (shallower,
    128 and deepened), its GEMV kernel (one filter per group) and its
    transposed-B kernel (one output pixel)."""
    dw = rng.random() < 0.2
    group = int(rng.integers(2, 16)) if dw else int(rng.choice([1, 1, 2, 4]))
    cg = 1 if dw else int(rng.integers(1, 150))
    kg = 1 if dw else int(rng.choice([1, 2, 3, 5, 8, 16, 40]))
    k = int(rng.choice([1, 3, 5]))
    h = int(rng.choice([1, 1, 2, 5, 9, 16] if k == 1 else [1, 3, 5, 9, 16]))
    st = int(rng.choice([1, 2]))
    c, kk = group * cg, group * kg
    arrs = {"x": rng.standard_normal((1, c, h, h)).astype(np.float32),
            "w": rng.standard_normal((kk, cg, k, k)).astype(np.float32),
            "b": rng.standard_normal(kk).astype(np.float32)}
    attrs = dict(kernel_shape=[k, k], pads=[k // 2] * 4, strides=[st] * 2,
                 group=group)
    return "Conv", arrs, attrs


def random_matmul(rng):
    """A [batch.., M, K] times B [batch.., K, N] or [K, N]: MLAS's GEMV
    (M = 1), transposed-B (N = 1) and blocked paths."""
    m = int(rng.choice([1, 1, 2, 3, 5, 16, 33]))
    k = int(rng.integers(1, 700))
    n = int(rng.choice([1, 1, 3, 8, 17, 64, 100, 257]))
    batch = [int(rng.integers(2, 4))] if rng.random() < 0.4 else []
    shared = not batch or rng.random() < 0.5
    arrs = {"x": rng.standard_normal(batch + [m, k]).astype(np.float32),
            "w": rng.standard_normal(([] if shared else batch) + [k, n])
            .astype(np.float32)}
    return "MatMul", arrs, {}


def model(op, arrs, attrs):
    g = helper.make_graph(
        [helper.make_node(op, list(arrs), ["y"], **attrs)], "g",
        [helper.make_tensor_value_info(n, TP.FLOAT, a.shape)
         for n, a in arrs.items()],
        [helper.make_tensor_value_info("y", TP.FLOAT, None)])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)],
                             ir_version=8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--cases", type=int, default=40,
                    help="of each op")
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    so = ort.SessionOptions()
    so.intra_op_num_threads = 1
    failed = elements = 0
    cases = [random_conv] * a.cases + [random_matmul] * a.cases
    for make in cases:
        op, arrs, attrs = make(rng)
        want = ort.InferenceSession(
            model(op, arrs, attrs).SerializeToString(), so,
            providers=["CPUExecutionProvider"]).run(None, arrs)[0]
        with tempfile.TemporaryDirectory() as td:
            onnx.save(model(op, arrs, dict(attrs, ort_order=1)),
                      f"{td}/m.onnx")
            cmd = [a.ember, "run", f"{td}/m.onnx", "--target=interp",
                   "--save-outputs", td]
            for n, arr in arrs.items():
                np.save(f"{td}/{n}.npy", arr)
                cmd += ["--input", f"{n}={td}/{n}.npy"]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                print(f"FAIL ember run: {r.stderr.strip()[-300:]}")
                return 1
            got = numpy_helper.to_array(onnx.load_tensor(
                os.path.join(td, "output_0.pb")))
        bad = int(np.sum(got != want))
        elements += want.size
        if bad:
            failed += 1
            print(f"FAIL {op} {arrs['x'].shape} x {arrs['w'].shape} -> "
                  f"{want.shape} {attrs}: {bad} of {want.size} elements "
                  "differ")
    print(f"{len(cases) - failed} of {len(cases)} Convs and MatMuls "
          f"({elements} elements) equal to ONNX Runtime's")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
