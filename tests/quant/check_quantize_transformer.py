#!/usr/bin/env python3
"""`ember quantize` on transformers (docs/quantization.md, "Transformers:
what `ember quantize` writes"): the fp32 model to a QDQ model whose softmax,
normalization and GELU lower to Ember's integer forms.

- A generated ViT-style classifier (bench/quant/transformer_vs_ort.py's
  build_vit: a patch Conv, 2 pre-norm blocks with LayerNormalization,
  4-head attention, GELU in erf form and in tanh form, 32x32 images): the
  lowered graph (`ember compile --emit=lowered`) holds one IntegerSoftmax (or
  one a head)
  per block, an IntegerNormalization per LayerNorm and a GELU TableLookup
  per block, no float Softmax, LayerNormalization, Erf, Tanh or Sqrt, and
  every MatMul/Conv multiply-accumulate in MatMulInteger/ConvInteger; on
  Ember's interpreter its outputs' cosine similarity with fp32's is at least
  ONNX Runtime's quantize_static model's less 0.005, and its top-1
  agreement at least ONNX Runtime's less one image.
- ../shared/models/bert-toy (opset 12, decomposed LayerNorm, Erf GELU;
  calibrated on its one sample): 5 IntegerSoftmax, 12 IntegerNormalization,
  no float Softmax, Erf, Sqrt or Pow; on its test_data_set_0 the cosine
  similarity with ONNX Runtime's fp32 outputs is at least 0.995 and the
  masked-LM head's per-token top-1 agreement at least 0.85. Skipped with a
  note when ../shared is absent.

    check_quantize_transformer.py --ember build/bin/ember

Exit 1 on any failure, 77 when onnx/onnxruntime are not installed.
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    import onnxruntime  # noqa: F401  (the bench module needs it)
    from onnx import numpy_helper
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location(
    "transformer_vs_ort",
    os.path.join(ROOT, "bench", "quant", "transformer_vs_ort.py"))
tvo = importlib.util.module_from_spec(spec)
spec.loader.exec_module(tvo)

FLOAT_LEFT = ("Softmax(", "LayerNormalization(", "Erf(", "Tanh(", "Sqrt(",
              "Pow(")
failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what)
    if not cond:
        failures.append(what)


def lowered(ember, path, tmp, dims=()):
    out = path + ".lowered"
    args = [ember, "compile", path, "--requant=fixed", "--emit=lowered",
            "-o", out]
    for d in dims:
        args += ["--dim", d]
    subprocess.run(args, check=True, capture_output=True)
    return open(out).read()


def count(text, op):
    return text.count("= " + op)


def quantize(ember, model, calib, out):
    r = subprocess.run([ember, "quantize", model, "--calibration", calib,
                        "-o", out], capture_output=True, text=True)
    if r.returncode:
        print(r.stderr)
    return r.returncode == 0


def vit(ember, tmp, gelu):
    fp32 = os.path.join(tmp, f"vit_{gelu}.onnx")
    blocks = 2
    tvo.build_vit(fp32, res=32, patch=8, dim=32, heads=4, blocks=blocks,
                  mlp=64, gelu=gelu)
    calib = tvo.vit_samples(8, 1, 32)
    evals = tvo.vit_samples(6, 1001, 32)
    cdir = os.path.join(tmp, f"calib_{gelu}")
    tvo.write_calibration(cdir, calib, ["image"])
    q = os.path.join(tmp, f"vit_{gelu}_q.onnx")
    if not quantize(ember, fp32, cdir, q):
        check(False, f"vit ({gelu}): ember quantize")
        return
    text = lowered(ember, q, tmp)
    # (one a block, or one a head: the integer attention head by head,
    # lower/UnbatchHeads.cpp)
    sm = count(text, "IntegerSoftmax(")
    check(sm > 0 and sm % blocks == 0,
          f"vit ({gelu}): an IntegerSoftmax a block or a head ({sm})")
    check(count(text, "IntegerNormalization(") == 2 * blocks + 1,
          f"vit ({gelu}): {2 * blocks + 1} IntegerNormalization")
    check(count(text, "TableLookup(") >= blocks,
          f"vit ({gelu}): a GELU TableLookup per block")
    left = [op for op in FLOAT_LEFT if count(text, op)]
    check(not left, f"vit ({gelu}): no float {', '.join(FLOAT_LEFT)} "
          f"(left: {left})")
    _, macs, _ = tvo.integer_share(ember, q, [], tmp)
    check(macs == 1.0, f"vit ({gelu}): integer MAC share {macs:.3f} == 1")
    ref = tvo.run_ort(fp32, evals)
    cos, top1 = tvo.agreement(ref, tvo.run_ember(ember, q, evals, tmp))
    oq = os.path.join(tmp, f"vit_{gelu}_ort.onnx")
    tvo.quantize_static(fp32, oq, tvo.Reader(calib),
                        quant_format=tvo.QuantFormat.QDQ,
                        activation_type=tvo.QuantType.QUInt8,
                        weight_type=tvo.QuantType.QInt8, per_channel=True)
    ocos, otop1 = tvo.agreement(ref, tvo.run_ort(oq, evals))
    check(cos >= ocos - 0.005,
          f"vit ({gelu}): cosine {cos:.4f} >= ONNX Runtime's {ocos:.4f} "
          "- 0.005")
    check(top1 >= otop1 - 1 / len(evals) - 1e-9,
          f"vit ({gelu}): top-1 {top1:.3f} >= ONNX Runtime's "
          f"{otop1:.3f} - 1 image")


def bert(ember, tmp):
    model = os.path.join(tvo.BERT, "model.onnx")
    if not os.path.exists(model):
        print(f"note: bert-toy skipped: {tvo.BERT} not found")
        return
    q = os.path.join(tmp, "bert_q.onnx")
    if not quantize(ember, model, tvo.BERT, q):
        check(False, "bert-toy: ember quantize")
        return
    text = lowered(ember, q, tmp, ["batch=1", "max_seq_len_in_batch=32"])
    check(count(text, "IntegerSoftmax(") >= 5,
          "bert-toy: 5 IntegerSoftmax, or more heads apart")
    check(count(text, "IntegerNormalization(") == 12,
          "bert-toy: 12 IntegerNormalization")
    left = [op for op in FLOAT_LEFT if count(text, op)]
    check(not left, f"bert-toy: no float {', '.join(FLOAT_LEFT)} "
          f"(left: {left})")
    d = os.path.join(tvo.BERT, "test_data_set_0")
    ref = []
    for i in range(2):
        t = onnx.TensorProto()
        with open(os.path.join(d, f"output_{i}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        ref.append(numpy_helper.to_array(t))
    got = tvo.run_ember(ember, q, [tvo.bert_shared_sample()], tmp)
    cos, top1 = tvo.agreement([ref], got)
    check(cos >= 0.995, f"bert-toy: cosine with fp32 {cos:.4f} >= 0.995")
    check(top1 >= 0.85, f"bert-toy: top-1 with fp32 {top1:.3f} >= 0.85")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for gelu in ("erf", "tanh"):
            vit(args.ember, tmp, gelu)
        bert(args.ember, tmp)
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
