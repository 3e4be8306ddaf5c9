"""QDQ int8 copies of fp32 test cases for the test scripts (check_int8.py,
check_npu.py): each made by scripts/quantize-with-ort.py (ONNX Runtime's
quantize_static, checked and repaired there) into a temporary folder.

    from qdq_copies import make_copies, add_copies
    copies, error = make_copies(["../shared/models/mnist-8"], tmpdir)
    if not add_copies(cases, ["../shared/models/mnist-8"], tmpdir):
        return 1  # add_copies printed the FAIL line

make_copies returns the copies' case folders and None, or the cases made so
far and the first failure's message. Without onnxruntime it returns no cases
and a message starting with "skip:". add_copies appends the copies to
`cases`, prints a "FAIL ..." or "skip: ..." line, and returns False on a
failure.
"""
import os
import subprocess
import sys

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                      "quantize-with-ort.py")


def make_copies(srcs, outdir, int8_act=False, timeout=900, int16_act=False):
    if not srcs:
        return [], None
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return [], "skip: onnxruntime is not installed: no QDQ cases"
    cases = []
    for src in srcs:
        if not os.path.isfile(os.path.join(src, "model.onnx")):
            print(f"skip: {src} not found")
            continue
        dst = os.path.join(outdir, os.path.basename(src.rstrip("/")) +
                           ("-qdq16" if int16_act else "-qdq"))
        cmd = [sys.executable, SCRIPT, src, dst]
        if int8_act:
            cmd.append("--int8-act")
        if int16_act:
            cmd.append("--int16-act")
        try:
            p = subprocess.run(cmd, capture_output=True, text=True,
                               timeout=timeout)
        except subprocess.TimeoutExpired:
            return cases, (f"{os.path.basename(dst)}: quantize-with-ort.py "
                           f"timed out after {timeout} s")
        if p.returncode:
            return cases, (f"{os.path.basename(dst)}: quantize-with-ort.py: " +
                           (p.stdout + p.stderr).strip()[-300:])
        cases.append(dst)
    return cases, None


def add_copies(cases, srcs, outdir, int8_act=False, int16_act=False):
    copies, err = make_copies(srcs, outdir, int8_act, int16_act=int16_act)
    if err:
        print(err if err.startswith("skip:") else "FAIL " + err)
    cases += copies
    return not err or err.startswith("skip:")
