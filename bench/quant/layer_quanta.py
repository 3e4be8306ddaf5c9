#!/usr/bin/env python3
"""Per layer, Ember's integer layers against ONNX Runtime's, each layer fed
ONNX Runtime's own inputs (so one layer's difference does not reach the
next): for every int8 model (QLinear ops or QDQ) in the case directories
(default: ../shared/models, the ones holding 8-bit layers), each quantized
tensor is recomputed by `ember run` in a profile (default tflite, what the
second NPU computes bit for bit) from ONNX Runtime's values of the
quantized tensors it reads (layer_divergence.layerwise), and compared with
ONNX Runtime's value of it.

  layer_quanta.py [--ember build/bin/ember] [--target interp]
                  [--requant tflite] [--markdown] [--summary]
                  [--max-quanta N] [--qdq-from FLOAT_CASE_DIR]...
                  [CASE_DIR...]

One row per layer: the model, the tensor, the ONNX ops that compute it,
the integer form Ember computes it with (QuantizedAdd: an add;
Requantize: a convolution, matrix product, average or rescale; other:
movement, pooling by max, tables), its elements, the largest difference in
output quanta, the share of elements within one quantum and the number
that differ.
--qdq-from adds the QDQ int8 model ONNX Runtime's quantize_static makes
of a float case (calibrated on its input and noisy copies), the form whose
adds are DequantizeLinear -> Add -> QuantizeLinear. The last line is
`total: layers=<n> within1-layers=<n> max=<q>
elements-within1=<share> elements-exact=<share>`. With --max-quanta N the
exit status is 1 when a QuantizedAdd or Requantize layer differs by more
than N quanta; 77 when onnxruntime or every case is missing (a skip).
Such a layer is held against the exact value of its QLinear op too: when
Ember's result is within one quantum of it and ONNX Runtime's is more than
N away, the layer is ONNX Runtime's error, marked `ort-off` and not
counted (its u8 x s8 kernels for hosts without VNNI add products in pairs
with `vpmaddubsw`, which saturates at int16: a first convolution reading
large u8 pixels comes out tens of quanta off).
"""
import argparse
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

ROOT = os.path.dirname(os.path.dirname(HERE))
ADD_OPS = ("QLinearAdd", "Add", "Sum")
REQUANT_OPS = ("QLinearConv", "QLinearMatMul", "Conv", "MatMul", "Gemm",
               "QLinearGlobalAveragePool", "GlobalAveragePool",
               "AveragePool", "QLinearAveragePool", "ReduceMean", "DQ->Q",
               "QuantizeLinear")


def ember_form(op):
    """The integer form Ember computes a layer of these ONNX ops with."""
    parts = op.split("+")
    if any(p in ADD_OPS for p in parts):
        return "QuantizedAdd"
    if any(p in REQUANT_OPS for p in parts):
        return "Requantize"
    return "other"


def int8_cases(dirs):
    """The case directories whose model computes 8-bit tensors."""
    import onnx
    from layer_divergence import quantized_tensors
    out = []
    for d in dirs:
        m = os.path.join(d, "model.onnx")
        if not os.path.isfile(m) or not any(
                x.startswith("test_data_set_") for x in os.listdir(d)):
            continue
        if quantized_tensors(onnx.load(m)):
            out.append(d)
    return out


def qdq_case(src, out):
    """A QDQ int8 case made from the float model of case `src` as users
    make one: ONNX Runtime's quantize_static (QDQ, int8 activations and
    int8 weights, per channel from opset 13, MinMax), calibrated on the case's input and
    7 noisy copies of it (seed 0); its test_data_set_0 is the case's."""
    import shutil
    import onnx
    from onnx import numpy_helper
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
    import numpy as np
    ds = os.path.join(src, "test_data_set_0")
    model = onnx.load(os.path.join(src, "model.onnx"))
    inits = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in inits]
    x = [numpy_helper.to_array(onnx.load_tensor(
        os.path.join(ds, f"input_{k}.pb"))) for k in range(len(names))]
    rng = np.random.default_rng(0)
    feeds = [dict(zip(names, x))] + [
        {n: (v + rng.normal(0, 0.1 * (float(np.std(v)) or 1), v.shape))
         .astype(v.dtype) for n, v in zip(names, x)} for _ in range(7)]

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.it = iter(feeds)

        def get_next(self):
            return next(self.it, None)

    os.makedirs(out, exist_ok=True)
    # (Per-channel weights need DequantizeLinear's axis: opset 13.)
    opset = max((o.version for o in model.opset_import
                 if o.domain in ("", "ai.onnx")), default=13)
    quantize_static(os.path.join(src, "model.onnx"),
                    os.path.join(out, "model.onnx"), Reader(),
                    quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=opset >= 13)
    shutil.copytree(ds, os.path.join(out, "test_data_set_0"),
                    dirs_exist_ok=True)
    return out


def ort_off(r, limit):
    """Whether layer row r differs from ONNX Runtime because ONNX Runtime
    is off the exact value (more than `limit` quanta) while Ember is within
    one quantum of it."""
    e, o = r.get("ember_off"), r.get("ort_off")
    return e is not None and o is not None and e <= 1.0 and o > limit


def print_summary(rows):
    """Per model and integer form: layers, elements, the largest difference
    in quanta, the layers within one quantum and the share of elements
    within one (markdown)."""
    print("\n| model | Ember form | layers | elements | max quanta | "
          "layers within 1 | elements within 1 | differing elements |")
    print("|---|---|---|---|---|---|---|---|")
    keys = []
    for r in rows:
        if (r["case"], r["form"]) not in keys:
            keys.append((r["case"], r["form"]))
    for case, form in keys:
        g = [r for r in rows if r["case"] == case and r["form"] == form]
        el = sum(r["elements"] for r in g)
        print(f"| {case} | {form} | {len(g)} | {el} | "
              f"{max(r['max'] for r in g)} | "
              f"{sum(r['max'] <= 1 for r in g)} | "
              f"{sum(r['within1'] for r in g) / max(el, 1):.6f} | "
              f"{sum(r['differ'] for r in g)} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ember", default=os.path.join(ROOT, "build/bin/ember"))
    ap.add_argument("--target", default="interp")
    ap.add_argument("--requant", default="tflite")
    ap.add_argument("--markdown", action="store_true")
    ap.add_argument("--summary", action="store_true",
                    help="also a table per model and integer form")
    ap.add_argument("--max-quanta", type=int)
    ap.add_argument("--qdq-from", action="append", default=[],
                    metavar="CASE_DIR",
                    help="also a QDQ int8 case quantize_static makes from "
                    "this float case (repeatable)")
    ap.add_argument("cases", nargs="*")
    a = ap.parse_args()
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print("skip: onnxruntime is not installed")
        return 77
    from layer_divergence import layerwise
    dirs = a.cases
    if not dirs:
        shared = os.path.join(ROOT, "..", "shared", "models")
        if not os.path.isdir(shared):
            print(f"skip: no case directories given and {shared} is absent")
            return 77
        dirs = [os.path.join(shared, d) for d in sorted(os.listdir(shared))]
    cases = int8_cases(dirs)
    tmp = tempfile.TemporaryDirectory()
    for src in a.qdq_from:
        name = os.path.basename(os.path.normpath(src)) + "-qdq"
        cases.append(qdq_case(src, os.path.join(tmp.name, name)))
    if not cases:
        print("skip: no int8 model among the case directories")
        return 77
    rows = []
    for c in cases:
        s = layerwise(c, a.ember, a.target, a.requant, why=False,
                      log=lambda *x: None, exact_over=a.max_quanta)
        for r in s["rows"]:
            r["case"] = s["case"]
            r["form"] = ember_form(r["op"])
            rows.append(r)
    head = ("model", "tensor", "ONNX op", "Ember form", "elements",
            "max quanta", "within 1", "differing")
    if a.markdown:
        print("| " + " | ".join(head) + " |")
        print("|" + "---|" * len(head))
    else:
        print(f"{'model':32s} {'tensor':40s} {'op':24s} {'form':12s} "
              f"{'elements':>9s} {'max':>4s} {'within1':>8s} {'differ':>8s}")
    bad = excused = 0
    for r in rows:
        if r["failed"]:
            cells = (r["case"], r["tensor"], r["op"], r["form"], "failed",
                     "", "", "")
            bad += r["form"] != "other"
        else:
            n = max(r["elements"], 1)
            cells = (r["case"], r["tensor"], r["op"], r["form"],
                     str(r["elements"]), str(r["max"]),
                     f"{r['within1'] / n:.4f}", str(r["differ"]))
            if a.max_quanta is not None and r["form"] != "other" and \
                    r["max"] > a.max_quanta:
                if ort_off(r, a.max_quanta):
                    excused += 1
                    cells = cells[:3] + (cells[3] + " ort-off",) + cells[4:]
                else:
                    bad += 1
        if a.markdown:
            print("| " + " | ".join(f"`{x}`" if i == 1 else x
                                    for i, x in enumerate(cells)) + " |")
        else:
            print(f"{cells[0][:32]:32s} {cells[1][-40:]:40s} "
                  f"{cells[2][:24]:24s} {cells[3]:12s} {cells[4]:>9s} "
                  f"{cells[5]:>4s} {cells[6]:>8s} {cells[7]:>8s}")
    ok = [r for r in rows if not r["failed"]]
    if a.summary:
        print_summary(ok)
    el = sum(r["elements"] for r in ok) or 1
    print(f"total: layers={len(rows)} "
          f"within1-layers={sum(r['max'] <= 1 for r in ok)} "
          f"max={max((r['max'] for r in ok), default=0)} "
          f"elements-within1={sum(r['within1'] for r in ok) / el:.6f} "
          f"elements-exact={sum(r['elements'] - r['differ'] for r in ok) / el:.6f}"
          f" failed={len(rows) - len(ok)}")
    if excused:
        print(f"note: {excused} layers differ from ONNX Runtime by more than "
              f"{a.max_quanta} quanta where ONNX Runtime is off the exact "
              "value and Ember within one quantum of it (ort-off)")
    if a.max_quanta is not None and bad:
        print(f"error: {bad} QuantizedAdd/Requantize layers differ by more "
              f"than {a.max_quanta} quanta (or failed)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
