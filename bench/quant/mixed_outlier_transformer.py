#!/usr/bin/env python3
"""`ember quantize` configurations on a model whose activations int8
breaks: a small transformer encoder block (opset 13, seeded weights) whose
residual stream carries a few outlier channels, as language models' do
("massive activations": a few channels tens of times larger than the
rest, nearly constant across tokens). Top-1 agreement with the fp32
model, ONNX Runtime running every quantized model.

The block: x [16 tokens, 64] -> single-head attention (Q, K, V, the
scaled QK^T, Softmax, the output projection) -> residual Add -> a ReLU
feed-forward layer (64 -> 128 -> 64) -> residual Add -> mean over tokens
-> a 10-way classifier. Per-tensor 8-bit activations of the residual
stream spend their range on the outlier channels; the others, which
decide the class, keep a few levels. Inputs are seeded: token embeddings
(the outlier channels at 1000 to 3000, the rest unit normal) for 64
calibration and 320 evaluation sequences per seed. A
configuration is `default`, `int16` (--activation-type int16), a
--mixed-precision budget (`1.3`) or `ort-int16`: ONNX Runtime's
`quantize_static` with every activation int16 (symmetric, MinMax,
per-channel int8 weights; compare_ort.py's --ort-16) on the same
calibration sequences.

  bench/quant/mixed_outlier_transformer.py --ember build/bin/ember \\
      --seeds 0,1,2 default 1.3 int16 ort-int16

Needs onnx and onnxruntime (bench/quant/requirements.txt; ort-int16 also
what compare_ort.py imports).
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper, TensorProto as TP

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
T, D, H, C = 16, 64, 128, 10
LO, HI = 1000.0, 3000.0  # the outlier channels' level
OUTLIERS = (3, 41)  # residual-stream channels with the large values


def build(path):
    """The fp32 model; the weights are fixed (seed 1234) so every seed
    measures the same model on other inputs."""
    rng = np.random.default_rng(1234)
    inits = []

    def w(name, *s, scale=None):
        scale = scale if scale is not None else 1.0 / np.sqrt(s[0])
        a = (rng.standard_normal(s) * scale).astype(np.float32)
        inits.append(numpy_helper.from_array(a, name))
        return a

    wqkv = [w(n, D, D) for n in ("wq", "wk", "wv")]
    wo = w("wo", D, D)
    w1 = w("w1", D, H)
    w("b1", H, scale=0.1)
    w2 = w("w2", H, D)
    wc = w("wc", D, C)
    w("bc", C, scale=0.1)
    # The outlier channels pass the residual stream untouched (as the
    # massive activations of language models do) and the classifier does
    # not read them; neither do the attention and feed-forward inputs.
    for o in OUTLIERS:
        wo[:, o] = 0
        w2[:, o] = 0
        wc[o, :] = 0
    for a in [w1] + wqkv:
        a[list(OUTLIERS), :] = 0
    fixed = {"wo": wo, "w2": w2, "wc": wc, "w1": w1, "wq": wqkv[0],
             "wk": wqkv[1], "wv": wqkv[2]}
    for i in inits:
        if i.name in fixed:
            i.CopyFrom(numpy_helper.from_array(fixed[i.name], i.name))
    inits.append(numpy_helper.from_array(
        np.array(1.0 / np.sqrt(D), np.float32), "inv_sqrt_d"))
    n = helper.make_node
    nodes = [
        n("MatMul", ["x", "wq"], ["q"], name="q_proj"),
        n("MatMul", ["x", "wk"], ["k"], name="k_proj"),
        n("MatMul", ["x", "wv"], ["v"], name="v_proj"),
        n("Transpose", ["k"], ["kt"], perm=[1, 0], name="k_t"),
        n("MatMul", ["q", "kt"], ["s"], name="scores"),
        n("Mul", ["s", "inv_sqrt_d"], ["ss"], name="scale"),
        n("Softmax", ["ss"], ["p"], axis=-1, name="softmax"),
        n("MatMul", ["p", "v"], ["att"], name="attend"),
        n("MatMul", ["att", "wo"], ["o"], name="o_proj"),
        n("Add", ["x", "o"], ["h"], name="residual1"),
        n("MatMul", ["h", "w1"], ["f1"], name="ffn1"),
        n("Add", ["f1", "b1"], ["f1b"], name="ffn1_bias"),
        n("Relu", ["f1b"], ["f1r"], name="ffn_relu"),
        n("MatMul", ["f1r", "w2"], ["f2"], name="ffn2"),
        n("Add", ["h", "f2"], ["h2"], name="residual2"),
        n("ReduceMean", ["h2"], ["m"], axes=[0], keepdims=1, name="pool"),
        n("MatMul", ["m", "wc"], ["mc"], name="classifier"),
        n("Add", ["mc", "bc"], ["y"], name="classifier_bias"),
    ]
    g = helper.make_graph(
        nodes, "outlier-transformer",
        [helper.make_tensor_value_info("x", TP.FLOAT, [T, D])],
        [helper.make_tensor_value_info("y", TP.FLOAT, [1, C])],
        inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def inputs(n, seed):
    """n sequences: unit-normal token embeddings with the outlier
    channels at LO to HI (one level per sequence)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        x = rng.standard_normal((T, D)).astype(np.float32)
        for o in OUTLIERS:
            x[:, o] = rng.uniform(LO, HI) + \
                0.5 * rng.standard_normal(T).astype(np.float32)
        out.append(x)
    return out


def predict(path, bs):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return np.concatenate([np.argmax(s.run(None, {"x": b})[0], 1)
                           for b in bs])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", default=os.path.join(ROOT, "build/bin/ember"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("configs", nargs="+")
    args = ap.parse_args()
    pooled = {}
    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "fp32.onnx")
        build(model)
        for seed in [int(s) for s in args.seeds.split(",")]:
            caldir = os.path.join(tmp, f"cal-{seed}")
            os.makedirs(caldir)
            for i, b in enumerate(inputs(64, 100 + seed)):
                np.save(os.path.join(caldir, f"sample_{i:04d}.npy"), b)
            ev = inputs(320, 200 + seed)
            ref = predict(model, ev)
            for cfg in args.configs:
                out = os.path.join(tmp, f"{cfg}-{seed}.onnx")
                if cfg == "ort-int16":
                    sys.path.insert(0, os.path.dirname(
                        os.path.abspath(__file__)))
                    import compare_ort as c
                    dt = c.run_ort(c.ort_input(model, tmp), "x",
                                   inputs(64, 100 + seed),
                                   ("minmax", True, "s16"), out)
                    agree = predict(out, ev) == ref
                    pooled.setdefault(cfg, []).append(agree)
                    print(f"seed {seed} {cfg:8s} agreement "
                          f"{agree.mean():.4f} ({dt:.0f} s)", flush=True)
                    continue
                flags = {"default": [],
                         "int16": ["--activation-type=int16"]}.get(
                             cfg, [f"--mixed-precision={cfg}"])
                t0 = time.perf_counter()
                r = subprocess.run([args.ember, "quantize", model,
                                    "--calibration", caldir, "-o", out] +
                                   flags, capture_output=True, text=True)
                dt = time.perf_counter() - t0
                if r.returncode:
                    print(f"seed {seed} {cfg}: FAILED {r.stderr.strip()}")
                    continue
                agree = predict(out, ev) == ref
                pooled.setdefault(cfg, []).append(agree)
                chosen = [ln for ln in r.stdout.splitlines()
                          if ln.startswith("mixed precision: ")]
                print(f"seed {seed} {cfg:8s} agreement {agree.mean():.4f} "
                      f"({dt:.0f} s) {' | '.join(chosen)}", flush=True)
    print("\npooled over seeds (+- standard error):")
    for cfg, v in pooled.items():
        a = np.concatenate(v).astype(np.float64)
        se = np.sqrt(a.mean() * (1 - a.mean()) / len(a))
        print(f"  {cfg:8s} {a.mean():.4f} +- {se:.4f} (n={len(a)})")


if __name__ == "__main__":
    main()
