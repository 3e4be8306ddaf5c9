#!/usr/bin/env python3
"""Transformers on the NPU, at the sizes users bring: how much of each the
NPU runs and how well its int8 output agrees with fp32, for each of two
quantizers (ONNX Runtime's quantize_static, QDQ with per-channel weights,
and `ember quantize`).

  vit-s16         a ViT-S/16 (DeiT-Small) image classifier at 224x224: a
                  16x16/16 patch Conv, a class token, 12 pre-norm blocks of
                  width 384 (fused LayerNormalization, fused QKV MatMul, 6
                  heads of 64, Softmax, Erf GELU), 1000 classes; the graph a
                  timm export writes (bench/cpu/dense_models.py, `vit`).
  bert-tiny-128   a BERT-tiny-class text encoder (2 layers, width 128, 2
                  heads, FFN 512, vocabulary 30522) at sequence length 128,
                  as a Hugging Face export at opset 14 writes it: embedding
                  Gathers, the attention mask as (1 - mask) * -10000 added to
                  the scores, LayerNorm written out (ReduceMean, Sub, Pow,
                  Sqrt, Div), Erf GELU, a Tanh pooler.
  svtr-tiny       an SVTR-Tiny-class text recognizer (PaddleOCR's SVTR) at
                  32x100: a two-convolution patch embedding, three stages
                  of widths 64, 128 and 256 (3, 6 and 3 blocks; 2, 4 and 8
                  heads; the first six blocks local: a 7x11 window mask
                  added to the scores), merging convolutions of stride
                  (2, 1), HardSwish, and a CTC head of 6625 classes
                  (bench/npu/coverage_set.py, `svtr`); top-1 is per column.

`--shapes` runs instead small models of other shapes of the three families
(SHAPES: head widths 16 to 64, 2 to 8 heads, ragged token counts, another
recognizer size and window, and a ViT whose attention is written as
PyTorch exports scaled_dot_product_attention: the scale's square root
multiplied into Q and K transposed), the check that the forms hold beyond
the shapes above.

Seeded weights (no download). Per model and quantizer: partitions, the
share of nodes and of MACs on the NPU, cycles and MAC utilization (the
`npu:` line of `ember run`), whether the NPU's outputs equal the
interpreter's byte for byte on every evaluation sample, and the cosine
similarity of the outputs with fp32 (ONNX Runtime), and top-1 agreement for
the classifier, for the NPU's int8 model and for ONNX Runtime running its
own int8 model. The golden model does not time: `--executor systemc` gives
cycles and MAC utilization.

  bench/npu/transformer_set.py --ember build/bin/ember [--executor golden]
      [--only vit] [--calib 8] [--eval 4] [--eval-on npu|interp]
      [--target npu-sim]
      [--quantizer ort|ember] [--ember-args '--mixed-precision=1.3']
      [--shapes]

Needs onnx and onnxruntime (scripts/install-deps.sh).
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "quant"))
sys.path.insert(0, os.path.join(HERE, "..", "cpu"))
try:
    import onnx
    from onnx import TensorProto, helper
    from onnxruntime.quantization import QuantFormat, QuantType, \
        quantize_static
    import transformer_vs_ort as tvo  # noqa: E402
    import coverage_set as cs  # noqa: E402
    import dense_models as dm  # noqa: E402
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)


def vit_s16(rng):
    return dm.vit(rng, size=224, patch=16, dim=384, heads=6, depth=12,
                  classes=1000)


def bert_tiny(rng, seq=128, dim=128, heads=2, layers=2, ffn=512,
              vocab=30522):
    b = dm.Builder(rng)
    hd = dim // heads
    f32 = (lambda v: b.const(np.array(v, np.float32)))

    def layer_norm(x):
        mu = b.op("ReduceMean", [x], axes=[-1])
        d = b.op("Sub", [x, mu])
        var = b.op("ReduceMean", [b.op("Pow", [d, f32(2.0)])], axes=[-1])
        s = b.op("Sqrt", [b.op("Add", [var, f32(1e-12)])])
        y = b.op("Div", [d, s])
        y = b.op("Mul", [y, b.const(
            (1 + rng.normal(0, 0.05, dim)).astype(np.float32), "g")])
        return b.op("Add", [y, b.normal((dim,), 0.02)])

    def linear(x, cin, cout):
        y = b.op("MatMul", [x, b.normal((cin, cout), np.sqrt(1.0 / cin))])
        return b.op("Add", [y, b.normal((cout,), 0.02)])

    def heads_of(t, perm):
        t = b.op("Reshape", [t, b.shape([1, seq, heads, hd])])
        return b.op("Transpose", [t], perm=perm)

    m = b.op("Unsqueeze", ["attention_mask", b.shape([1, 2])])
    m = b.op("Cast", [m], to=TensorProto.FLOAT)
    m = b.op("Mul", [b.op("Sub", [f32(1.0), m]), f32(-10000.0)])
    pos = b.shape([list(range(seq))])
    x = b.op("Gather", [b.normal((vocab, dim), 0.5), "input_ids"])
    x = b.op("Add", [x, b.op("Gather", [b.normal((2, dim), 0.5),
                                        "token_type_ids"])])
    x = b.op("Add", [x, b.op("Gather", [b.normal((512, dim), 0.5), pos])])
    x = layer_norm(x)
    for _ in range(layers):
        q = heads_of(linear(x, dim, dim), [0, 2, 1, 3])
        k = heads_of(linear(x, dim, dim), [0, 2, 3, 1])
        v = heads_of(linear(x, dim, dim), [0, 2, 1, 3])
        s = b.op("Div", [b.op("MatMul", [q, k]), f32(np.sqrt(hd))])
        p = b.op("Softmax", [b.op("Add", [s, m])], axis=-1)
        o = b.op("Transpose", [b.op("MatMul", [p, v])], perm=[0, 2, 1, 3])
        o = b.op("Reshape", [o, b.shape([1, seq, dim])])
        x = layer_norm(b.op("Add", [linear(o, dim, dim), x]))
        h = b.gelu(linear(x, dim, ffn))
        x = layer_norm(b.op("Add", [linear(h, ffn, dim), x]))
    cls = b.op("Gather", [x, b.const(np.array(0, np.int64), "i")], axis=1)
    pooled = b.op("Tanh", [b.gemm(cls, dim, dim)])
    ids = [helper.make_tensor_value_info(n, TensorProto.INT64, [1, seq])
           for n in ("input_ids", "attention_mask", "token_type_ids")]
    g = helper.make_graph(
        b.nodes, "bert_tiny", ids,
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, [1, seq, dim]),
         helper.make_tensor_value_info(pooled, TensorProto.FLOAT, [1, dim])],
        b.inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 14)])
    model.ir_version = 7
    onnx.checker.check_model(model)
    return model


def bert_samples(count, seed, seq=128):
    """Token ids, segment ids, and a mask with a padded tail of up to a
    quarter of the sequence."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        mask = np.ones((1, seq), np.int64)
        mask[0, seq - int(rng.integers(0, seq // 4 + 1)):] = 0
        out.append({"input_ids": rng.integers(0, 30522, (1, seq)),
                    "attention_mask": mask,
                    "token_type_ids": (np.arange(seq) >= seq // 2).astype(
                        np.int64)[None]})
    return out


def image_samples(count, seed, res=224):
    return tvo.vit_samples(count, seed, res)


def svtr_tiny(rng):
    return cs.svtr(rng, h=32, w=100, classes=6625, dims=(64, 128, 256),
                   depths=(3, 6, 3), heads=(2, 4, 8), local=(3, 3, 0),
                   window=(7, 11), mlp=4, out_ch=192, name="svtr_tiny")


def text_samples(count, seed, h=32, w=100):
    """Text-line-like images: dark strokes (a random column pattern at a
    random height band) on a smooth background, with noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        bg = np.kron(rng.standard_normal((1, 3, h // 8, 1)),
                     np.ones((1, 1, 8, w))) * 0.3
        top = int(rng.integers(2, h // 3))
        bottom = int(rng.integers(2 * h // 3, h - 2))
        strokes = (rng.random(w) < 0.35).astype(np.float32)
        img = bg.copy()
        img[:, :, top:bottom, :] -= 1.5 * strokes
        img += 0.2 * rng.standard_normal(img.shape)
        out.append({"image": img.astype(np.float32)})
    return out


BERT_INPUTS = ["input_ids", "attention_mask", "token_type_ids"]

MODELS = {
    "vit-s16": (vit_s16, ["image"], image_samples),
    "bert-tiny-128": (bert_tiny, BERT_INPUTS, bert_samples),
    "svtr-tiny": (svtr_tiny, ["image"], text_samples),
}

# Other shapes of the same families, small (`--shapes`): head widths of 16
# to 64, 2 to 8 heads, token counts that are not multiples of the lanes, a
# recognizer of another input size and window, attention as PyTorch's
# scaled_dot_product_attention exports it.
SHAPES = {
    "vit-96-d192-h3": (
        lambda r: dm.vit(r, size=96, patch=16, dim=192, heads=3, depth=2,
                         classes=100), ["image"],
        lambda n, s: image_samples(n, s, 96)),
    "vit-64-d128-h8": (
        lambda r: dm.vit(r, size=64, patch=8, dim=128, heads=8, depth=2,
                         classes=10), ["image"],
        lambda n, s: image_samples(n, s, 64)),
    "vit-96-d192-h3-sdpa": (
        lambda r: dm.vit(r, size=96, patch=16, dim=192, heads=3, depth=2,
                         classes=100, sdpa=True), ["image"],
        lambda n, s: image_samples(n, s, 96)),
    "vit-112-d256-h4": (
        lambda r: dm.vit(r, size=112, patch=16, dim=256, heads=4, depth=1,
                         classes=10), ["image"],
        lambda n, s: image_samples(n, s, 112)),
    "bert-64-d256-h4": (
        lambda r: bert_tiny(r, seq=64, dim=256, heads=4, layers=1, ffn=1024),
        BERT_INPUTS, lambda n, s: bert_samples(n, s, 64)),
    "bert-32-d96-h3": (
        lambda r: bert_tiny(r, seq=32, dim=96, heads=3, layers=2, ffn=384),
        BERT_INPUTS, lambda n, s: bert_samples(n, s, 32)),
    "svtr-48x160": (
        lambda r: cs.svtr(r, h=48, w=160, classes=37, dims=(64, 128),
                          depths=(2, 2), heads=(2, 4), local=(1, 1),
                          window=(5, 9), mlp=4, out_ch=96),
        ["image"], lambda n, s: text_samples(n, s, 48, 160)),
}
# The classifiers (top-1 is reported for them, per column for the CTC
# recognizer; an encoder's hidden states have no classes).
CLASSIFIERS = {"vit-s16", "svtr-tiny", "vit-96-d192-h3", "vit-96-d192-h3-sdpa",
               "vit-64-d128-h8", "vit-112-d256-h4", "svtr-48x160"}


def quantized(args, name, fp32, names, calib, tmp):
    """(quantizer, QDQ path) of each quantizer asked for that succeeds."""
    out = []
    if "ort" in args.quantizer:
        oq = os.path.join(tmp, name + "-ort.onnx")
        quantize_static(fp32, oq, tvo.Reader(calib),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8,
                        weight_type=QuantType.QInt8)
        out.append(("ort quantize_static", oq))
    if "ember" not in args.quantizer:
        return out
    cdir = os.path.join(tmp, name + "-calib")
    tvo.write_calibration(cdir, calib, names)
    eq = os.path.join(tmp, name + "-ember.onnx")
    extra = args.ember_args.split()
    r = subprocess.run([args.ember, "quantize", fp32, "--calibration", cdir,
                        "-o", eq] + extra, capture_output=True, text=True)
    if r.returncode:
        print(f"{name}: ember quantize failed: "
              f"{r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    else:
        out.append((" ".join(["ember quantize"] + extra), eq))
    return out


def row(args, name, quantizer, q, ref, evals, tmp):
    first = []
    for nm, a in evals[0].items():
        p = os.path.join(tmp, f"{name}-first-{nm}.npy")
        np.save(p, a)
        first.append((nm, p))
    r = cs.measure(args.ember, q, args.executor, args.target, first)
    cells = [name, quantizer]
    if "partitions" not in r:
        return cells + [f"error: {r.get('error', '?')}"] + [""] * 8
    extra = ["--backend-opt", "executor=" + args.executor]
    # --eval-on interp: the NPU runs the first sample only, and the
    # agreement is the interpreter's over every sample.
    on_npu = evals if args.eval_on == "npu" else evals[:1]
    try:
        npu = tvo.run_ember(args.ember, q, on_npu, tmp, args.target, extra)
        interp = tvo.run_ember(args.ember, q, evals, tmp)
    except subprocess.CalledProcessError as e:
        err = (e.stderr or b"").decode().strip().splitlines()
        return cells + [f"error: {err[-1] if err else '?'}"] + [""] * 8
    exact = all(np.array_equal(a, b) for x, y in zip(npu, interp)
                for a, b in zip(x, y))
    if args.eval_on == "interp":
        npu = interp
    def agree(got):
        cos, top1 = tvo.agreement(ref, got)
        return (f"{cos:.4f} / {top1:.3f}" if name in CLASSIFIERS
                else f"{cos:.4f}")

    ort_cell = (agree(tvo.run_ort(q, evals)) if quantizer.startswith("ort")
                else "-")
    # (The golden model does not time: no cycles.)
    timed = r["cycles"] > 0
    return cells + [str(r["partitions"]), f"{r.get('node_share', 0):.3f}",
                    f"{r['mac_share']:.3f}",
                    str(r["cycles"]) if timed else "-",
                    f"{r['mac_util']:.3f}" if timed else "-",
                    "yes" if exact else "NO", agree(npu), ort_cell]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--executor", default="golden")
    ap.add_argument("--target", default="npu-sim")
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--calib", type=int, default=8)
    ap.add_argument("--eval", type=int, default=4)
    ap.add_argument("--eval-on", choices=["npu", "interp"], default="npu",
                    help="where the evaluation samples run: the NPU and the "
                         "interpreter, compared byte for byte (default), or "
                         "the interpreter alone, the NPU running the first "
                         "sample against it (many samples in less time)")
    ap.add_argument("--shapes", action="store_true",
                    help="the small models of other shapes (SHAPES) instead "
                         "of the three at full size")
    ap.add_argument("--quantizer", action="append", choices=["ort", "ember"],
                    help="the quantizers to measure (repeatable; default "
                         "both)")
    ap.add_argument("--ember-args", default="",
                    help="more options for ember quantize, e.g. "
                         "'--mixed-precision=1.3'")
    ap.add_argument("--keep", default=None,
                    help="a folder to keep the models in (else temporary)")
    args = ap.parse_args()
    args.quantizer = args.quantizer or ["ort", "ember"]
    print("| model | quantizer | partitions | node share | MAC share | "
          "cycles | mac_util | = interpreter | NPU vs fp32 (cosine / "
          "top-1) | ONNX Runtime int8 vs fp32 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.keep or scratch
        os.makedirs(tmp, exist_ok=True)
        for name, (make, names, samples) in (SHAPES if args.shapes
                                             else MODELS).items():
            if args.only and not any(s in name for s in args.only):
                continue
            fp32 = os.path.join(tmp, name + ".onnx")
            onnx.save(make(np.random.default_rng(7)), fp32)
            calib = samples(args.calib, 1)
            evals = samples(args.eval, 1001)
            ref = tvo.run_ort(fp32, evals)
            for quantizer, q in quantized(args, name, fp32, names, calib,
                                          tmp):
                print("| " + " | ".join(row(args, name, quantizer, q, ref,
                                            evals, tmp)) + " |")
                sys.stdout.flush()


if __name__ == "__main__":
    main()
