#!/usr/bin/env python3
"""`ember quantize` configurations on MLPerf Tiny's ResNet-8 (CIFAR-10
shape, a fixed batch of 16 [3, 32, 32] images): top-1 agreement with the
fp32 model, ONNX Runtime running every quantized model.

The images are compare_ort.py's photo crops, resized to 32x32 and
normalized with CIFAR-10's channel means and deviations: 64 calibration
crops of the calibration photos (4 batches), 320 dev crops of the same
photos and 320 test crops of other photos per seed. A configuration is
`default`, `int16` (--activation-type int16), a --mixed-precision
budget (`1.3`) or `ort-int16`: ONNX Runtime's `quantize_static` with every
activation int16 (symmetric, MinMax, per-channel int8 weights; compare_ort.py's
--ort-16) on the same calibration batches.

  bench/quant/mixed_resnet8.py --ember build/bin/ember --seeds 0,1,2 \\
      default 1.3 int16 ort-int16

Needs /work/shared/models/mlperftiny-resnet8-fp32-dequant (skips with a
reason without it) and bench/quant/requirements.txt.
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnxruntime as ort

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compare_ort as c  # noqa: E402

MEAN = np.array([0.4914, 0.4822, 0.4465], np.float32)[:, None, None]
STD = np.array([0.247, 0.243, 0.261], np.float32)[:, None, None]


def prep(rgb01):
    return ((rgb01.transpose(2, 0, 1) - MEAN) / STD).astype(np.float32)


def batches(xs, n=16):
    return [np.stack(xs[i:i + n]) for i in range(0, len(xs) - n + 1, n)]


def predict(path, bs):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    s = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    name = s.get_inputs()[0].name
    return np.concatenate([np.argmax(s.run(None, {name: b})[0], 1)
                           for b in bs])


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", default=os.path.join(c.ROOT, "build/bin/ember"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("configs", nargs="+")
    args = ap.parse_args()
    model = c.shared("mlperftiny-resnet8-fp32-dequant", "model.onnx")
    if not os.path.exists(model):
        print(f"resnet8: SKIP ({model} not found)")
        return
    pooled = {}
    with tempfile.TemporaryDirectory() as tmp:
        for seed in [int(s) for s in args.seeds.split(",")]:
            cal = batches([prep(x) for x in
                           c.crops(c.CALIB_PHOTOS, 64, seed, 32)])
            caldir = os.path.join(tmp, f"cal-{seed}")
            os.makedirs(caldir)
            for i, b in enumerate(cal):
                np.save(os.path.join(caldir, f"sample_{i:04d}.npy"), b)
            sets = {
                "dev": batches([prep(x) for x in
                                c.crops(c.CALIB_PHOTOS, 320, seed + 7, 32)]),
                "test": batches([prep(x) for x in
                                 c.crops(c.EVAL_PHOTOS, 320, seed + 1, 32)]),
            }
            refs = {k: predict(model, v) for k, v in sets.items()}
            for cfg in args.configs:
                out = os.path.join(tmp, f"{cfg}-{seed}.onnx")
                if cfg == "ort-int16":
                    dt = c.run_ort(c.ort_input(model, tmp),
                                   c.input_name(model), cal,
                                   ("minmax", True, "s16"), out)
                    line = f"seed {seed} {cfg:8s}"
                    for k, v in sets.items():
                        agree = predict(out, v) == refs[k]
                        pooled.setdefault((cfg, k), []).append(agree)
                        line += f" {k} {agree.mean():.4f}"
                    print(f"{line} ({dt:.0f} s)", flush=True)
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
                line = f"seed {seed} {cfg:8s}"
                for k, v in sets.items():
                    agree = predict(out, v) == refs[k]
                    pooled.setdefault((cfg, k), []).append(agree)
                    line += f" {k} {agree.mean():.4f}"
                # The choice, and the cycles the NPU's timed model measured.
                chosen = [ln for ln in r.stdout.splitlines()
                          if ln.startswith("mixed precision: ") and
                          ("activation tensors 16-bit" in ln or
                           "timed NPU model" in ln)]
                print(f"{line} ({dt:.0f} s) {' | '.join(chosen)}",
                      flush=True)
    print("\npooled over seeds (+- standard error):")
    for (cfg, k), v in pooled.items():
        a = np.concatenate(v).astype(np.float64)
        se = np.sqrt(a.mean() * (1 - a.mean()) / len(a))
        print(f"  {cfg:8s} {k:5s} {a.mean():.4f} +- {se:.4f} (n={len(a)})")


if __name__ == "__main__":
    main()
