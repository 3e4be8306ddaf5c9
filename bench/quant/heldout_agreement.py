#!/usr/bin/env python3
"""Top-1 agreement of `ember quantize`'s default model with fp32 on a
held-out set, for one or more `ember` binaries in the same run (an A/B of
two commits, or a bisection step), paired on the same samples.

The calibration samples are random crops of compare_ort.py's calibration
photos, drawn with other seeds than the figures of docs/quantization.md
(those use 0, 1, 2); the evaluation set (`heldout`) is built by a rule
nothing was chosen on: random crops of every photo that is not a
calibration photo (compare_ort.py's PHOTO_SET and matplotlib's sample
photograph), each crop rotated by a random quarter turn, mirrored at
random, and given a random gamma and contrast. Calibration and evaluation
share no photo.

  bench/quant/heldout_agreement.py --models squeezenet,mobilenetv2 \
      --seeds 10,11,12 --eval 200 --ember main=build/bin/ember \
      --ember old=/path/to/old/ember [--args '--method=entropy']

Prints per seed and pooled agreement (+- binomial standard error) and the
paired difference of each binary against the first (+- standard error).
ONNX Runtime runs every quantized model.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import compare_ort as co  # noqa: E402

# Every photograph the wheels ship that no calibration set uses.
HELDOUT_PHOTOS = co.PHOTO_SET + ["grace_hopper"]


def photo(name):
    if name == "grace_hopper":
        import matplotlib
        from PIL import Image
        p = os.path.join(os.path.dirname(matplotlib.__file__), "mpl-data",
                         "sample_data", "grace_hopper.jpg")
        return np.asarray(Image.open(p).convert("RGB"))
    return co.photo(name)


def heldout_crops(count, seed, size=224):
    """Random crops (0.25..0.9 of the short side), a random quarter turn,
    random mirror, gamma in [0.7, 1.4] and contrast in [0.75, 1.25]."""
    from skimage.transform import resize
    rng = np.random.default_rng(seed)
    imgs = [photo(n) for n in HELDOUT_PHOTOS]
    out = []
    for i in range(count):
        img = imgs[int(rng.integers(0, len(imgs)))]
        h, w = img.shape[:2]
        s = int(min(h, w) * rng.uniform(0.25, 0.9))
        y = int(rng.integers(0, h - s + 1))
        x = int(rng.integers(0, w - s + 1))
        c = img[y:y + s, x:x + s].astype(np.float32) / 255.0
        c = np.rot90(c, int(rng.integers(0, 4)))
        if rng.random() < 0.5:
            c = c[:, ::-1]
        c = np.clip(c, 0, 1) ** rng.uniform(0.7, 1.4)
        m = c.mean()
        c = np.clip((c - m) * rng.uniform(0.75, 1.25) + m, 0, 1)
        out.append(resize(np.ascontiguousarray(c), (size, size),
                          anti_aliasing=True).astype(np.float32))
    return out


PREP = {"squeezenet": co.bgr255, "mobilenetv2": co.imagenet_norm}
PATHS = {"squeezenet": co.shared("squeezenet1.1-fp32-from-fp16",
                                 "model.onnx"),
         "mobilenetv2": co.shared("mobilenetv2-12-fp32-dequant",
                                  "model.onnx")}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--models", default="squeezenet,mobilenetv2")
    ap.add_argument("--seeds", default="10,11,12")
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--eval", type=int, default=200)
    ap.add_argument("--ember", action="append", default=[],
                    metavar="LABEL=PATH", help="repeatable; the first is the "
                    "baseline of the paired differences (none: only make "
                    "the sets in --keep)")
    ap.add_argument("--args", default="", help="extra `ember quantize` flags")
    ap.add_argument("--keep", help="keep the quantized models here")
    a = ap.parse_args()
    embers = [e.partition("=")[::2] for e in a.ember]
    seeds = [int(s) for s in a.seeds.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = a.keep or tmp
        os.makedirs(work, exist_ok=True)
        for key in a.models.split(","):
            path, prep = PATHS[key], PREP[key]
            if not os.path.exists(path):
                print(f"{key}: SKIP ({path} not found)")
                continue
            name = co.input_name(path)
            agree = {lab: [] for lab, _ in embers}
            for seed in seeds:
                caldir = os.path.join(work, f"{key}-calib{a.calib}-{seed}")
                evf = os.path.join(work, f"{key}-eval{a.eval}-{seed}.npy")
                if not os.path.exists(evf):  # made once per --keep folder
                    cal = [prep(c) for c in
                           co.crops(co.CALIB_PHOTOS, a.calib, seed + 1000)]
                    os.makedirs(caldir, exist_ok=True)
                    for i, x in enumerate(cal):
                        np.save(os.path.join(caldir, f"sample_{i:04d}.npy"),
                                x)
                    np.save(evf, np.stack([prep(c) for c in
                                           heldout_crops(a.eval,
                                                         seed + 2000)]))
                ev = list(np.load(evf))
                ref = co.predict(path, name, ev)
                line = f"{key} seed {seed} (n={len(ev)}):"
                for lab, exe in embers:
                    outp = os.path.join(work, f"{key}-{lab}-{seed}.onnx")
                    cmd = [exe, "quantize", path, "--calibration", caldir,
                           "-o", outp, "--quiet"] + a.args.split()
                    subprocess.run(cmd, check=True)
                    ag = co.predict(outp, name, ev) == ref
                    agree[lab].append(ag)
                    line += f"  {lab} {ag.mean():.3f}"
                print(line, flush=True)
            if not embers:
                continue
            base = np.concatenate(agree[embers[0][0]]).astype(float)
            for lab, _ in embers:
                x = np.concatenate(agree[lab]).astype(float)
                p = x.mean()
                txt = (f"  {key} {lab:10s} {p:.4f} +- "
                       f"{np.sqrt(p * (1 - p) / len(x)):.4f} (n={len(x)}, "
                       f"seeds {a.seeds})")
                if lab != embers[0][0]:
                    d = x - base
                    txt += (f"  paired vs {embers[0][0]}: {d.mean():+.4f} +- "
                            f"{d.std(ddof=1) / np.sqrt(len(d)):.4f}")
                print(txt, flush=True)


if __name__ == "__main__":
    main()
