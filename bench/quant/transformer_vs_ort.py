#!/usr/bin/env python3
"""`ember quantize` on transformers against ONNX Runtime's quantize_static
(QDQ), both against the fp32 model: a text encoder (../shared/models/
bert-toy, 5 layers, decomposed LayerNorm, Erf GELU, a masked-LM head over 99
tokens) and a generated ViT-style classifier (a patch-embedding Conv, pre-norm
blocks with LayerNormalization, multi-head attention, Erf GELU, a mean over
tokens, a LayerNorm and a linear head; seeded weights).

For each model and quantizer: the cosine similarity of the outputs with
fp32's (mean over evaluation samples), top-1 agreement with fp32 (per token
for bert-toy's masked-LM head, per image for the ViT), and how much of the
model Ember's lowering (`ember compile --emit=lowered`, fixed profile) runs in
integers: the share of lowered compute nodes with an integer result and the
share of multiply-accumulates in MatMulInteger / ConvInteger. Ember's models
run on Ember's interpreter (`ember run --target interp`: the integer
softmax, normalization and GELU tables); ONNX Runtime's models on ONNX
Runtime (`ort`) and on Ember's interpreter (`ort@ember`, the same QDQ file
through Ember's integer forms).

  bench/quant/transformer_vs_ort.py --ember build/bin/ember \\
      [--vit-res 64] [--eval 16] [--mixed 1.3]

Calibration: 16 seeded samples (bert-toy: random token ids, all tokens
unmasked; the ViT: smooth random images); evaluation on other seeded
samples (bert-toy's own test_data_set_0 first). Needs onnx and onnxruntime
(bench/quant/requirements.txt).
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

try:
    import onnx
    import onnxruntime as ort
    from onnx import helper, numpy_helper, TensorProto as TP
    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat,
                                          QuantType, quantize_static)
except ImportError as err:  # pragma: no cover
    print(f"skip: {err}")
    sys.exit(77)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BERT = os.path.join(ROOT, "..", "shared", "models", "bert-toy")


def build_vit(path, res=64, patch=8, dim=64, heads=4, blocks=4, mlp=128,
              classes=10, seed=7, gelu="erf"):
    """A pre-norm ViT (opset 17: fused LayerNormalization); GELU in erf or
    tanh form."""
    rng = np.random.default_rng(seed)
    inits, nodes = [], []
    n = helper.make_node

    def const(name, a, dt=np.float32):
        inits.append(numpy_helper.from_array(np.asarray(a, dtype=dt), name))
        return name

    def w(name, *s, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(s[0])
        return const(name, rng.standard_normal(s) * scale)

    tokens = (res // patch) ** 2
    hd = dim // heads
    const("shape_tok", [1, dim, tokens], np.int64)
    const("shape_h", [1, tokens, heads, hd], np.int64)
    const("shape_o", [1, tokens, dim], np.int64)
    const("scale", 1.0 / np.sqrt(hd))
    nodes += [
        n("Conv", ["image", w("patch_w", dim, 3, patch, patch,
                              scale=1.0 / np.sqrt(3 * patch * patch)),
                   w("patch_b", dim, scale=0.1)], ["pe"],
          kernel_shape=[patch, patch], strides=[patch, patch]),
        n("Reshape", ["pe", "shape_tok"], ["pe_r"]),
        n("Transpose", ["pe_r"], ["pe_t"], perm=[0, 2, 1]),
        n("Add", ["pe_t", w("pos", 1, tokens, dim, scale=0.5)], ["x0"])]
    x = "x0"

    def ln(src, tag):
        g = const(tag + "_g", 1 + rng.standard_normal(dim) * 0.1)
        b = w(tag + "_b", dim, scale=0.1)
        nodes.append(n("LayerNormalization", [src, g, b], [tag], axis=-1,
                       epsilon=1e-6))
        return tag

    def linear(src, tag, k, m):
        nodes.append(n("MatMul", [src, w(tag + "_w", k, m)], [tag + "_mm"]))
        nodes.append(n("Add", [tag + "_mm", w(tag + "_bias", m, scale=0.1)],
                       [tag]))
        return tag

    for i in range(blocks):
        p = f"b{i}"
        h = ln(x, p + "_ln1")
        qkv = [linear(h, f"{p}_{t}", dim, dim) for t in "qkv"]
        for t, perm in zip(qkv, ([0, 2, 1, 3], [0, 2, 3, 1], [0, 2, 1, 3])):
            nodes.append(n("Reshape", [t, "shape_h"], [t + "_h"]))
            nodes.append(n("Transpose", [t + "_h"], [t + "_t"], perm=perm))
        nodes += [
            n("MatMul", [qkv[0] + "_t", qkv[1] + "_t"], [p + "_s"]),
            n("Mul", [p + "_s", "scale"], [p + "_ss"]),
            n("Softmax", [p + "_ss"], [p + "_p"], axis=-1),
            n("MatMul", [p + "_p", qkv[2] + "_t"], [p + "_o"]),
            n("Transpose", [p + "_o"], [p + "_ot"], perm=[0, 2, 1, 3]),
            n("Reshape", [p + "_ot", "shape_o"], [p + "_om"])]
        a = linear(p + "_om", p + "_proj", dim, dim)
        nodes.append(n("Add", [x, a], [p + "_r1"]))
        h2 = ln(p + "_r1", p + "_ln2")
        f1 = linear(h2, p + "_fc1", dim, mlp)
        if gelu == "erf":
            nodes += [
                n("Div", [f1, const(p + "_sqrt2", np.sqrt(2.0))],
                  [p + "_gd"]),
                n("Erf", [p + "_gd"], [p + "_ge"]),
                n("Add", [p + "_ge", const(p + "_one", 1.0)], [p + "_g1"]),
                n("Mul", [f1, p + "_g1"], [p + "_gm"]),
                n("Mul", [p + "_gm", const(p + "_half", 0.5)], [p + "_g"])]
        else:  # 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
            nodes += [
                n("Pow", [f1, const(p + "_three", 3.0)], [p + "_g3"]),
                n("Mul", [p + "_g3", const(p + "_k0", 0.044715)],
                  [p + "_g3k"]),
                n("Add", [f1, p + "_g3k"], [p + "_gi"]),
                n("Mul", [p + "_gi", const(p + "_k1", np.sqrt(2 / np.pi))],
                  [p + "_gs"]),
                n("Tanh", [p + "_gs"], [p + "_gt"]),
                n("Add", [p + "_gt", const(p + "_one", 1.0)], [p + "_g1"]),
                n("Mul", [f1, const(p + "_half", 0.5)], [p + "_gh"]),
                n("Mul", [p + "_gh", p + "_g1"], [p + "_g"])]
        f2 = linear(p + "_g", p + "_fc2", mlp, dim)
        nodes.append(n("Add", [p + "_r1", f2], [p + "_r2"]))
        x = p + "_r2"
    hf = ln(x, "final_ln")
    nodes += [
        n("ReduceMean", [hf], ["pooled"], axes=[1], keepdims=0),
        n("Gemm", ["pooled", w("head_w", dim, classes),
                   w("head_b", classes, scale=0.1)], ["logits"])]
    g = helper.make_graph(
        nodes, "vit",
        [helper.make_tensor_value_info("image", TP.FLOAT, [1, 3, res, res])],
        [helper.make_tensor_value_info("logits", TP.FLOAT, [1, classes])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def vit_samples(count, seed, res):
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(count):
        low = rng.standard_normal((1, 3, res // 8, res // 8))
        img = np.kron(low, np.ones((1, 1, 8, 8)))
        img += 0.3 * rng.standard_normal(img.shape)
        out.append({"image": img.astype(np.float32)})
    return out


def bert_samples(count, seed, seq=32):
    rng = np.random.default_rng(seed)
    return [{"input_ids": rng.integers(0, 99, (1, seq), dtype=np.int64),
             "token_type_ids": rng.integers(0, 2, (1, seq), dtype=np.int64),
             "input_mask": np.ones((1, seq), dtype=np.int64)}
            for _ in range(count)]


def bert_shared_sample():
    d = os.path.join(BERT, "test_data_set_0")
    m = onnx.load(os.path.join(BERT, "model.onnx"))
    s = {}
    for i, inp in enumerate(m.graph.input):
        t = onnx.TensorProto()
        with open(os.path.join(d, f"input_{i}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        s[inp.name] = numpy_helper.to_array(t)
    return s


def write_calibration(dirname, samples, names):
    for k, s in enumerate(samples):
        d = os.path.join(dirname, f"test_data_set_{k}")
        os.makedirs(d, exist_ok=True)
        for i, nm in enumerate(names):
            t = numpy_helper.from_array(s[nm], nm)
            with open(os.path.join(d, f"input_{i}.pb"), "wb") as f:
                f.write(t.SerializeToString())


class Reader(CalibrationDataReader):
    def __init__(self, samples):
        self.it = iter(samples)

    def get_next(self):
        return next(self.it, None)


def run_ort(path, samples):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return [s.run(None, x) for x in samples]


def run_ember(ember, path, samples, tmp, target="interp", extra=()):
    """Ember's outputs of each sample (`ember run --target TARGET` with the
    options `extra`)."""
    outs = []
    for k, x in enumerate(samples):
        args = [ember, "run", path, "--target", target] + list(extra)
        for nm, a in x.items():
            f = os.path.join(tmp, f"in_{k}_{nm}.npy")
            np.save(f, a)
            args += ["--input", f"{nm}={f}"]
        tag = re.sub(r"\W", "_", target)
        od = os.path.join(tmp, f"out_{os.path.basename(path)}_{tag}_{k}")
        subprocess.run(args + ["--save-outputs", od], check=True,
                       capture_output=True)
        ys, i = [], 0
        while os.path.exists(os.path.join(od, f"output_{i}.pb")):
            t = onnx.TensorProto()
            with open(os.path.join(od, f"output_{i}.pb"), "rb") as f:
                t.ParseFromString(f.read())
            ys.append(numpy_helper.to_array(t))
            i += 1
        outs.append(ys)
    return outs


def agreement(ref, got):
    """Mean cosine similarity (all outputs of a sample flattened) and top-1
    agreement of output 0 over its last axis."""
    cos, same, total = [], 0, 0
    for r, g in zip(ref, got):
        a = np.concatenate([np.ravel(v).astype(np.float64) for v in r])
        b = np.concatenate([np.ravel(v).astype(np.float64) for v in g])
        cos.append(float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)
                                  + 1e-30)))
        ra = np.argmax(r[0].reshape(-1, r[0].shape[-1]), axis=-1)
        ga = np.argmax(g[0].reshape(-1, g[0].shape[-1]), axis=-1)
        same += int(np.sum(ra == ga))
        total += ra.size
    return float(np.mean(cos)), same / max(total, 1)


TYPE = re.compile(r"(\w+)\[([\d,]*)\]")
LINE = re.compile(r"^\s*%(\S+) = (\w+)")


def integer_share(ember, path, dims, tmp):
    """(integer nodes / compute nodes, integer MACs / MACs, float ops left)
    of the lowered fixed-profile graph."""
    out = os.path.join(tmp, os.path.basename(path) + ".lowered")
    args = [ember, "compile", path, "--requant=fixed", "--emit=lowered",
            "-o", out]
    for d in dims:
        args += ["--dim", d]
    subprocess.run(args, check=True, capture_output=True)
    types, nodes = {}, []
    for line in open(out):
        m = LINE.match(line)
        if not m:
            continue
        name, op = m.group(1), m.group(2)
        if op == "Constant":
            t = TYPE.search(line.split("dense<", 1)[1])
        else:
            t = TYPE.search(line.rsplit(" : ", 1)[-1])
        if not t:
            continue
        shape = [int(v) for v in t.group(2).split(",") if v]
        types[name] = (t.group(1), shape)
        if op != "Constant":
            args_ = re.findall(r"%([^,\s)]+)", line.split("=", 1)[1])
            nodes.append((op, name, args_))
    movement = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "Flatten",
                "Gather", "Cast", "Slice", "Concat", "Expand", "Shape"}
    compute = [x for x in nodes if x[0] not in movement]
    integer = [x for x in compute if not types[x[1]][0].startswith("f")]
    left = sorted({x[0] for x in compute
                   if types[x[1]][0].startswith("f")
                   and x[0] not in ("DequantizeLinear",)})
    macs = imacs = 0
    for op, name, ins in nodes:
        if op not in ("MatMul", "MatMulInteger", "Conv", "ConvInteger",
                      "Gemm"):
            continue
        outn = int(np.prod(types[name][1]))
        if op.startswith("Conv"):
            k = int(np.prod(types.get(ins[1], ("", [1, 1]))[1][1:]))
        else:
            k = types.get(ins[0], ("", [1]))[1][-1]
        macs += outn * k
        if op.endswith("Integer"):
            imacs += outn * k
    return (len(integer) / max(len(compute), 1), imacs / max(macs, 1),
            left)


def measure(args, label, fp32, names, calib, evals, dims, tmp):
    rows = []
    ref = run_ort(fp32, evals)
    cdir = os.path.join(tmp, label + "_calib")
    write_calibration(cdir, calib, names)
    variants = [("ember int8", [])]
    for extra in args.variant:
        variants.append((f"ember {extra}", extra.split()))
    if args.mixed:
        variants.append((f"ember mixed {args.mixed}",
                         ["--mixed-precision", str(args.mixed)]))
    for tag, extra in variants:
        q = os.path.join(tmp, f"{label}_{tag.replace(' ', '_')}.onnx")
        r = subprocess.run([args.ember, "quantize", fp32, "--calibration",
                            cdir, "-o", q] + extra, capture_output=True,
                           text=True)
        if r.returncode:
            print(r.stderr, file=sys.stderr)
            raise SystemExit(f"ember quantize failed on {label}")
        cos, top1 = agreement(ref, run_ember(args.ember, q, evals, tmp))
        share = integer_share(args.ember, q, dims, tmp)
        rows.append((label, tag, cos, top1) + share)
    oq = os.path.join(tmp, f"{label}_ort.onnx")
    # Per-channel weights need opset 13's per-axis DequantizeLinear, which
    # quantize_static does not upgrade to: per tensor below it.
    opset = max(o.version for o in onnx.load(fp32).opset_import
                if o.domain in ("", "ai.onnx"))
    quantize_static(fp32, oq, Reader(calib), quant_format=QuantFormat.QDQ,
                    activation_type=QuantType.QUInt8,
                    weight_type=QuantType.QInt8, per_channel=opset >= 13)
    cos, top1 = agreement(ref, run_ort(oq, evals))
    rows.append((label, "ort quantize_static", cos, top1, None, None, []))
    cos, top1 = agreement(ref, run_ember(args.ember, oq, evals, tmp))
    share = integer_share(args.ember, oq, dims, tmp)
    rows.append((label, "ort quantize_static@ember", cos, top1) + share)
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", default=os.path.join(ROOT, "build/bin/ember"))
    ap.add_argument("--vit-res", type=int, default=64)
    ap.add_argument("--vit-blocks", type=int, default=4)
    ap.add_argument("--calib", type=int, default=16)
    ap.add_argument("--eval", type=int, default=16)
    ap.add_argument("--mixed", type=float, default=0.0,
                    help="also --mixed-precision BUDGET (needs npu-sim)")
    ap.add_argument("--variant", action="append", default=[],
                    help="also `ember quantize` with these options")
    ap.add_argument("--only", choices=["bert", "vit"], default=None)
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "vit":
            if not os.path.exists(os.path.join(BERT, "model.onnx")):
                print(f"skip bert-toy: {BERT} not found")
            else:
                fp32 = os.path.join(BERT, "model.onnx")
                names = [i.name for i in onnx.load(fp32).graph.input]
                evals = [bert_shared_sample()] + bert_samples(
                    args.eval - 1, 1001)
                rows += measure(args, "bert-toy", fp32, names,
                                bert_samples(args.calib, 1), evals,
                                ["batch=1", "max_seq_len_in_batch=32"], tmp)
        if args.only != "bert":
            fp32 = os.path.join(tmp, "vit.onnx")
            build_vit(fp32, res=args.vit_res, blocks=args.vit_blocks)
            rows += measure(args, f"vit-{args.vit_res}", fp32, ["image"],
                            vit_samples(args.calib, 1, args.vit_res),
                            vit_samples(args.eval, 1001, args.vit_res), [],
                            tmp)
    print("| model | quantizer | cosine vs fp32 | top-1 vs fp32 | "
          "integer nodes | integer MACs | float ops left |")
    print("|---|---|---|---|---|---|---|")
    for label, tag, cos, top1, nshare, mshare, left in rows:
        f = (lambda v: "-" if v is None else f"{v:.3f}")
        print(f"| {label} | {tag} | {cos:.4f} | {top1:.3f} | {f(nshare)} | "
              f"{f(mshare)} | {', '.join(left) if left else '-'} |")


if __name__ == "__main__":
    main()
