#!/usr/bin/env python3
"""Int8 models on the CPU backend, bit for bit against the interpreter.

For every case folder (model.onnx + test_data_set_N/input_*.pb), runs
`ember run --target=interp` (the oracle: docs/quantization.md) and
`ember run --target=cpu --fallback=none` (every node compiled by the CPU
backend: the integer forms ConvInteger, MatMulInteger, Requantize,
QuantizedAdd, TableLookup, integer pools) on the same inputs, and requires
the saved outputs to be identical byte for byte. Prints one line per case.

    check_int8.py --ember build/bin/ember [--threads N] [--sets K]
                  [--requant fixed|float32] [--qdq-from FP32_CASE]...
                  CASE_OR_FOLDER...

--requant runs both targets in that requantization profile
(docs/quantization.md); the CPU backend computes both bit-exactly.

--qdq-from makes an int8 QDQ copy of an fp32 case with ONNX Runtime's
quantize_static (scripts/quantize-with-ort.py: per-channel s8 weights, u8
activations; --qdq-int8-act: s8 activations too) and checks it as well;
without onnxruntime those cases are skipped with a note.

A folder holding case folders is expanded; a path that does not exist is
skipped with a note. Exit 1 on any difference or failure, 77 when no case
was found.
"""
import argparse
import os
import subprocess
import sys
import tempfile


def cases_of(paths):
    out = []
    for p in paths:
        if not os.path.exists(p):
            print(f"skip: {p} not found")
            continue
        if os.path.isfile(os.path.join(p, "model.onnx")):
            out.append(p)
        elif os.path.isdir(p):
            for d in sorted(os.listdir(p)):
                if os.path.isfile(os.path.join(p, d, "model.onnx")):
                    out.append(os.path.join(p, d))
    return out


def input_names(model_path):
    import onnx
    m = onnx.load(model_path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits], \
        len(m.graph.output)


def run(ember, model, target, inputs, outdir, extra):
    cmd = [ember, "run", model, "--target=" + target, "--save-outputs",
           outdir] + extra
    for name, path in inputs:
        cmd += ["--input", f"{name}={path}"]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
    return p.returncode, p.stdout + p.stderr


def check(case, args):
    model = os.path.join(case, "model.onnx")
    names, nout = input_names(model)
    sets = sorted(d for d in os.listdir(case) if d.startswith("test_data_set"))
    if not sets:
        return False, "no test_data_set"
    compared = 0
    with tempfile.TemporaryDirectory() as tmp:
        for s in sets[:args.sets]:
            d = os.path.join(case, s)
            inputs = [(n, os.path.join(d, f"input_{i}.pb"))
                      for i, n in enumerate(names)]
            ref, got = os.path.join(tmp, s, "ref"), os.path.join(tmp, s, "cpu")
            os.makedirs(ref)
            os.makedirs(got)
            profile = ["--requant", args.requant] if args.requant else []
            rc, out = run(args.ember, model, "interp", inputs, ref, profile)
            if rc:
                return False, "interp: " + out.strip()[-300:]
            rc, out = run(args.ember, model, "cpu", inputs, got,
                          ["--fallback=" + args.fallback, "--threads",
                           str(args.threads)] + profile)
            if rc:
                return False, "cpu: " + out.strip()[-400:]
            for i in range(nout):
                a = open(os.path.join(ref, f"output_{i}.pb"), "rb").read()
                b = open(os.path.join(got, f"output_{i}.pb"), "rb").read()
                if a != b:
                    import numpy as np
                    import onnx
                    from onnx import numpy_helper

                    def load(path):
                        t = onnx.TensorProto()
                        t.ParseFromString(open(path, "rb").read())
                        return numpy_helper.to_array(t)
                    x = load(os.path.join(ref, f"output_{i}.pb"))
                    y = load(os.path.join(got, f"output_{i}.pb"))
                    bad = int(np.sum(x != y)) if x.shape == y.shape else -1
                    return False, (f"{s} output {i}: {bad} of {x.size} "
                                   "elements differ from the interpreter")
                compared += 1
    return True, f"{compared} outputs identical to the interpreter"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--sets", type=int, default=3,
                    help="test data sets per case (default 3)")
    ap.add_argument("--requant", choices=["fixed", "float32"])
    ap.add_argument("--qdq-from", action="append", default=[])
    ap.add_argument("--qdq-int8-act", action="store_true")
    ap.add_argument("--qdq16-from", action="append", default=[],
                    help="an int16-activation (16x8) QDQ copy of an fp32 "
                    "case (com.microsoft Q/DQ)")
    ap.add_argument("--fallback", default="none",
                    help="where the nodes the CPU backend does not compile "
                    "run: none (the default: every node compiled) or interp "
                    "(16x8 layers have no CPU kernel yet)")
    ap.add_argument("cases", nargs="*")
    args = ap.parse_args()
    cases = cases_of(args.cases)
    tmp = tempfile.TemporaryDirectory()
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                    "..", "..", "scripts"))
    from qdq_copies import add_copies
    if not add_copies(cases, args.qdq_from, tmp.name, args.qdq_int8_act):
        return 1
    if not add_copies(cases, args.qdq16_from, tmp.name, int16_act=True):
        return 1
    if not cases:
        print("skip: no int8 case found")
        return 77
    failed = 0
    for c in cases:
        ok, msg = check(c, args)
        print(f"{'PASS' if ok else 'FAIL'} {os.path.basename(c.rstrip('/'))}: "
              f"{msg}", flush=True)
        failed += not ok
    print(f"{len(cases) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
