#!/usr/bin/env python3
"""`ember quantize` against ONNX Runtime's `quantize_static`, on the same
models and the same calibration samples, in the same run.

For each model: a calibration set and disjoint evaluation sets are built
from photos that PyPI wheels ship (scikit-image's sample data and
scikit-learn's two sample images): many random crops per photo, and the
photos of the calibration and test sets are different. Three evaluation
splits: test (random crops of other photos), dev (other crops of the
calibration photos, for choosing among techniques) and photos (whole
photos and centre crops of every other photo in the wheels, by the rule at
PHOTO_SET). MNIST uses scikit-learn's real
handwritten digits (`load_digits`, 8x8, scaled to a 20x20 box and centred by
mass in 28x28 as MNIST is): the first --calib digits calibrate, the rest
evaluate, against their labels.

Every ONNX Runtime configuration it allows is run (calibration methods
MinMax, Entropy, Percentile, Distribution; per-channel weights off and on;
uint8 and int8 activations; QDQ format), and `ember quantize` with each of
its methods and improvements. Every quantized model is run by ONNX Runtime
on the evaluation set; the figure is top-1 agreement with the fp32 model
(MNIST: also top-1 accuracy against the labels). `--ember-check N` also runs
the first N evaluation samples through `ember run` (interp and cpu) on
Ember's default model and reports agreement and whether the two targets are
bit-exact.

  bench/quant/compare_ort.py --ember build/bin/ember [--models mobilenetv2,squeezenet,mnist]
      [--calib 64] [--eval 500] [--seeds 0,1,2] [--splits test,dev,photos]
      [--ort all|best|none] [--ember-configs default,...]
      [--ember-args 'LABEL=--flag ...']...

With several seeds, each draws other calibration and evaluation crops, and
the summary pools them: agreement +- its standard error, and the paired
difference of each configuration against --baseline on the same samples
(+- standard error), which is what tells two configurations apart.

Needs scikit-image and scikit-learn (benchmark-only; installed with pip on
first use when missing, see bench/quant/requirements.txt).
"""
import argparse
import contextlib
import os
import subprocess
import sys
import tempfile
import time

import logging

import numpy as np

logging.getLogger().setLevel(logging.ERROR)  # ORT quantizer's chatter
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def ensure_packages():
    try:
        import skimage  # noqa: F401
        import sklearn  # noqa: F401
        return
    except ImportError:
        pass
    req = os.path.join(HERE, "requirements.txt")
    print(f"compare_ort: pip install -r {req}", flush=True)
    base = [sys.executable, "-m", "pip", "install", "-q", "-r", req]
    if subprocess.run(base).returncode != 0:
        subprocess.run(base + ["--break-system-packages"], check=True)


ensure_packages()
import onnx  # noqa: E402
import onnxruntime as ort  # noqa: E402
from onnxruntime.quantization import (CalibrationDataReader,  # noqa: E402
                                      CalibrationMethod, QuantFormat,
                                      QuantType, quantize_static)
from scipy import ndimage  # noqa: E402
from skimage import data as skdata  # noqa: E402
from skimage.transform import resize  # noqa: E402

# Photos for calibration and for evaluation: disjoint, and each set mixes
# colour and grey photos, natural scenes and objects.
CALIB_PHOTOS = ["astronaut", "coffee", "rocket", "china", "camera", "grass",
                "brick", "immunohistochemistry"]
EVAL_PHOTOS = ["chelsea", "motorcycle_left", "flower", "hubble_deep_field",
               "retina", "coins", "moon", "gravel", "clock"]


def photo(name):
    if name in ("china", "flower"):
        from sklearn.datasets import load_sample_images
        imgs = load_sample_images()
        idx = [os.path.basename(f) for f in imgs.filenames].index(name + ".jpg")
        img = imgs.images[idx]
    elif name == "motorcycle_left":
        img = skdata.stereo_motorcycle()[0]
    elif name == "motorcycle_right":
        img = skdata.stereo_motorcycle()[1]
    elif name == "clock":
        from skimage import io
        img = io.imread(os.path.join(os.path.dirname(skdata.__file__),
                                     "clock_motion.png"))
    else:
        img = getattr(skdata, name)()
    img = np.asarray(img)
    if img.ndim == 2:
        img = np.stack([img] * 3, -1)
    img = img[..., :3]
    if img.dtype != np.uint8:
        img = (np.clip(img, 0, 1) * 255).astype(np.uint8) if \
            img.max() <= 1.0 else img.astype(np.uint8)
    return img


# The `photos` evaluation set, by rule: every photograph (camera, microscope
# or telescope capture; not the drawings and synthetic images) that the
# scikit-image wheel and scikit-learn's load_sample_images ship with a short
# side of at least 224 pixels, except the calibration photos. Each gives
# the whole photo resized to 224x224 and centre crops of 1, 7/8, 3/4, 5/8
# and 1/2 of its short side, each also mirrored: 12 images per photo.
PHOTO_SET = ["chelsea", "coins", "hubble_deep_field", "moon",
             "motorcycle_left", "motorcycle_right", "retina", "gravel", "cell",
             "clock", "flower"]
PHOTO_FRACTIONS = [1.0, 0.875, 0.75, 0.625, 0.5]


def photo_views(names, size=224):
    out = []
    for n in names:
        img = photo(n)
        h, w = img.shape[:2]
        views = [img]
        for f in PHOTO_FRACTIONS:
            s = int(min(h, w) * f)
            y, x = (h - s) // 2, (w - s) // 2
            views.append(img[y:y + s, x:x + s])
        for v in views:
            v = resize(v.astype(np.float32) / 255.0, (size, size),
                       anti_aliasing=True).astype(np.float32)
            out.append(v)
            out.append(np.ascontiguousarray(v[:, ::-1]))
    return out


def crops(names, count, seed, size=224):
    """`count` random crops (scale 0.3..1 of the short side, any position,
    random flip) spread evenly over the photos, as float RGB in [0, 1]."""
    rng = np.random.default_rng(seed)
    imgs = [photo(n) for n in names]
    out = []
    for i in range(count):
        img = imgs[i % len(imgs)]
        h, w = img.shape[:2]
        s = int(min(h, w) * rng.uniform(0.3, 1.0))
        y = int(rng.integers(0, h - s + 1))
        x = int(rng.integers(0, w - s + 1))
        c = img[y:y + s, x:x + s].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            c = c[:, ::-1]
        out.append(resize(c, (size, size), anti_aliasing=True)
                   .astype(np.float32))
    return out


def imagenet_norm(rgb01):
    mean = np.array([0.485, 0.456, 0.406], np.float32)
    std = np.array([0.229, 0.224, 0.225], np.float32)
    return ((rgb01 - mean) / std).transpose(2, 0, 1)[None].astype(np.float32)


def bgr255(rgb01):
    return (rgb01[..., ::-1] * 255.0).transpose(2, 0, 1)[None].astype(
        np.float32).copy()


def digit28(img8):
    im = resize(img8 / 16.0, (20, 20), order=1, anti_aliasing=False)
    out = np.zeros((28, 28), np.float32)
    out[4:24, 4:24] = im
    cy, cx = ndimage.center_of_mass(out)
    out = ndimage.shift(out, (14 - cy, 14 - cx), order=1)
    return (np.clip(out, 0, 1) * 255.0)[None, None].astype(np.float32)


def shared(*p):
    return os.path.join(ROOT, "..", "shared", "models", *p)


# name -> (model path, dataset builder)
def image_sets(prep, ncal, neval, seed, splits):
    """The calibration crops and, per split, the evaluation samples:
    dev: other crops of the calibration photos; test: crops of other
    photos; photos: the fixed PHOTO_SET views (the same for every seed)."""
    cal = [prep(c) for c in crops(CALIB_PHOTOS, ncal, seed)]
    evs = {}
    for split in splits:
        if split == "dev":
            evs[split] = ([prep(c) for c in crops(CALIB_PHOTOS, neval[split],
                                                   seed + 7)], None)
        elif split == "test":
            evs[split] = ([prep(c) for c in crops(EVAL_PHOTOS, neval[split],
                                                   seed + 1)], None)
        elif split == "photos":
            evs[split] = ([prep(c) for c in photo_views(PHOTO_SET)], None)
    return cal, evs


def digit_sets(ncal, neval, seed, splits):
    from sklearn.datasets import load_digits
    d = load_digits()
    order = np.random.default_rng(seed).permutation(len(d.images))
    xs = [digit28(d.images[i]) for i in order]
    ys = d.target[order]
    n = neval.get("test", 500)
    return xs[:ncal], {"test": (xs[ncal:ncal + n], ys[ncal:ncal + n])}


MODELS = {
    "mobilenetv2": (shared("mobilenetv2-12-fp32-dequant", "model.onnx"),
                    lambda a, seed: image_sets(imagenet_norm, a.calib,
                                               a.neval, seed, a.splits)),
    "squeezenet": (shared("squeezenet1.1-fp32-from-fp16", "model.onnx"),
                   lambda a, seed: image_sets(bgr255, a.calib, a.neval,
                                              seed, a.splits)),
    "mnist": (os.path.join(ROOT, "examples", "mnist", "model.onnx"),
              lambda a, seed: digit_sets(a.calib, a.neval, seed,
                                         a.splits)),
}


# An int8 model someone else already made from the same fp32 model, run on
# the same evaluation samples: how far a production quantizer with a large
# calibration set gets on these images (the ONNX model zoo's MobileNetV2
# int8, QLinear ops, calibrated on ImageNet; mobilenetv2-12-fp32-dequant is
# its dequantized copy). --no-reference leaves it out.
REFERENCE_INT8 = {
    "mobilenetv2": ("zoo int8 (QLinear, ImageNet-calibrated)",
                    shared("mobilenetv2-12-int8", "model.onnx")),
}


class Reader(CalibrationDataReader):
    def __init__(self, name, xs):
        self.it = iter([{name: x} for x in xs])

    def get_next(self):
        return next(self.it, None)


def input_name(path):
    m = onnx.load(path, load_external_data=False)
    inits = {i.name for i in m.graph.initializer}
    return [i.name for i in m.graph.input if i.name not in inits][0]


def session(path):
    so = ort.SessionOptions()
    so.log_severity_level = 3
    return ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])


def predict(path, name, xs, with_conf=False):
    """Top-1 per sample; with_conf also returns whether the top-1 softmax
    probability is at least 0.5 (a confident prediction)."""
    s = session(path)
    top, conf = [], []
    for x in xs:
        y = s.run(None, {name: x})[0].reshape(-1).astype(np.float64)
        top.append(int(np.argmax(y)))
        p = y if (y.min() >= 0 and abs(y.sum() - 1) < 1e-3) else \
            np.exp(y - y.max()) / np.exp(y - y.max()).sum()
        conf.append(p.max() >= 0.5)
    return (np.array(top), np.array(conf)) if with_conf else np.array(top)


ORT_METHODS = {"minmax": CalibrationMethod.MinMax,
               "entropy": CalibrationMethod.Entropy,
               "percentile": CalibrationMethod.Percentile,
               "distribution": CalibrationMethod.Distribution}


def ort_configs(which):
    out = []
    for act in ("u8", "s8"):
        for pc in (False, True):
            for m in ORT_METHODS:
                out.append((m, pc, act))
    if which == "best":  # Distribution (float8 ranges) gives 0 on int8
        out = [c for c in out if c[1] and c[2] == "u8" and
               c[0] != "distribution"]
    return out


def ort_input(path, work):
    """The model ORT quantizes: per-axis QDQ needs opset 13 and ORT's own
    upgrade stops at 11, so older models are converted to 13 first with
    ONNX's version converter (as `ember quantize` does), then prepared with
    ORT's quant_pre_process (shape inference and graph optimization) as
    ORT's documentation recommends."""
    m = onnx.load(path)
    base = os.path.splitext(os.path.basename(os.path.dirname(path)))[0]
    out = os.path.join(work, f"{base}-ort-input.onnx")
    opset = [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")]
    if opset and opset[0] < 13:
        from onnx import version_converter
        m = version_converter.convert_version(m, 13)
        # Opset 13 needs IR version 7; the converter keeps the old one. At
        # IR 3 every initializer must be a graph input, which the
        # pre-processing's folded constants are not, and ONNX's converter
        # then fails on them when ORT's quantizer upgrades the model to
        # opset 21 for 16-bit activations ("Input ... is undefined"). The
        # initializers leave the inputs, so ORT still treats them as
        # constants (the pre-processed and quantized SqueezeNet 1.1 are the
        # same as at IR 3).
        if m.ir_version < 7:
            m.ir_version = 7
            inits = {t.name for t in m.graph.initializer}
            keep = [i for i in m.graph.input if i.name not in inits]
            del m.graph.input[:]
            m.graph.input.extend(keep)
    onnx.save(m, out)
    try:
        from onnxruntime.quantization.shape_inference import quant_pre_process
        pre = out.replace(".onnx", "-pre.onnx")
        quant_pre_process(out, pre)
        return pre
    except Exception as e:  # noqa: BLE001
        print(f"quant_pre_process failed ({str(e)[:80]}); using the model "
              "as is")
        return out


def wide_tensors(path):
    """The activations a QDQ model holds in 16 bits (Ember writes them as
    com.microsoft Q/DQ pairs): the tensor each 16-bit QuantizeLinear
    quantizes, by its name in the fp32 model."""
    m = onnx.load(path)
    inputs = {i.name for i in m.graph.input}
    out = set()
    for n in m.graph.node:
        if n.op_type == "DequantizeLinear" and n.domain == "com.microsoft":
            out.add(n.output[0])
        if n.op_type == "QuantizeLinear" and n.domain == "com.microsoft" \
                and n.input[0] in inputs:
            out.add(n.input[0])
    return out


def run_ort(path, name, cal, cfg, outp, wide=None):
    """cfg: (method, per-channel, activations): u8, s8, s16 (every
    activation int16, symmetric), or u8 with `wide` the tensors made int16
    (symmetric) through TensorQuantOverrides."""
    method, pc, act = cfg
    extra = {}
    if act == "s16":
        extra["ActivationSymmetric"] = True
    if wide:
        # ONNX Runtime drops a Relu/Clip in front of a quantized tensor
        # when the model's activations are asymmetric (the uint8 range
        # clips in its place) and does not look at a tensor's override:
        # an int16 symmetric tensor behind a dropped ReLU keeps its
        # negative values and the model's outputs are garbage. Keep them.
        extra["QDQKeepRemovableActivations"] = True
        extra["TensorQuantOverrides"] = {
            t: [{"quant_type": QuantType.QInt16, "symmetric": True}]
            for t in sorted(wide)}
    t0 = time.perf_counter()
    with open(os.devnull, "w") as devnull, \
            contextlib.redirect_stdout(devnull):
        quantize_static(
            path, outp, Reader(name, cal), quant_format=QuantFormat.QDQ,
            per_channel=pc,
            activation_type={"u8": QuantType.QUInt8, "s8": QuantType.QInt8,
                             "s16": QuantType.QInt16}[act],
            weight_type=QuantType.QInt8,
            calibrate_method=ORT_METHODS[method], extra_options=extra)
    return time.perf_counter() - t0


# Ember configurations: label -> extra `ember quantize` arguments.
EMBER_CONFIGS = {
    "default": [],
    "minmax": ["--method=minmax"],
    "entropy": ["--method=entropy"],
    "mse": ["--method=mse"],
    "per-tensor": ["--per-tensor"],
    "int8-activations": ["--activation-type=int8"],
    "no-cle": ["--no-equalize"],
    "no-biascorr": ["--no-bias-correction"],
    "no-cle-no-biascorr": ["--no-equalize", "--no-bias-correction"],
    "equalize-clip": ["--equalize-clip"],
    "entropy-equalize-clip": ["--method=entropy", "--equalize-clip"],
    "target-sqnr-30": ["--target-sqnr=30"],
    "no-refine": ["--refine=none"],
    "refine-bias": ["--refine=bias"],
    "refine-all": ["--refine=all"],
    "entropy-no-refine": ["--method=entropy", "--refine=none"],
    "entropy-refine-bias": ["--method=entropy", "--refine=bias"],
    "int16": ["--activation-type=int16"],
    "mixed-1.3": ["--mixed-precision=1.3"],
    "mixed-1.45": ["--mixed-precision=1.45"],
    "mixed-1.6": ["--mixed-precision=1.6"],
    "mixed-2.0": ["--mixed-precision=2.0"],
    "pcact-off": ["--per-channel-activations=off"],
    "mixed-1.3-pcact-off": ["--mixed-precision=1.3",
                            "--per-channel-activations=off"],
}
# The refine variants only on request (--ember-configs).
DEFAULT_EMBER_CONFIGS = [c for c in EMBER_CONFIGS
                         if c != "target-sqnr-30" and "refine" not in c and
                         c != "int16" and not c.startswith("mixed") and
                         "pcact" not in c]


def run_ember(args, path, caldir, extra, outp, log):
    cmd = [args.ember, "quantize", path, "--calibration", caldir, "-o", outp]
    cmd += extra
    t0 = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    with open(log, "w") as f:
        f.write(r.stdout + r.stderr)
    for ln in r.stdout.splitlines():
        if ln.startswith(("calibration:", "activation equalization",
                          "refinement:", "per-channel activations:")):
            print(f"           ({ln.strip()})")
    return dt


def ember_predict(args, target, path, name, xs, tmp):
    preds, outs = [], []
    for i, x in enumerate(xs):
        f = os.path.join(tmp, f"x{i}.npy")
        np.save(f, x)
        od = os.path.join(tmp, f"o_{target}_{i}")
        r = subprocess.run([args.ember, "run", path, f"--target={target}",
                            f"--input={name}={f}", "--save-outputs", od],
                           capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(r.stderr.strip())
        t = onnx.load_tensor(os.path.join(od, "output_0.pb"))
        y = onnx.numpy_helper.to_array(t)
        outs.append(y)
        preds.append(int(np.argmax(y)))
    return np.array(preds), outs


def summarize(split, rows, base):
    """rows: label -> {seed: (agree bool array, confident mask, accuracy)}.
    Pooled agreement over the seeds with its standard error, and the paired
    difference against `base` (same samples) with its standard error."""
    print(f"\n-- {split}: top-1 agreement with fp32, pooled over seeds "
          f"(+- standard error); diff: paired against '{base}'")
    b = rows.get(base)
    for label, per in rows.items():
        seeds = sorted(per)
        a = np.concatenate([per[k][0] for k in seeds]).astype(np.float64)
        p = a.mean()
        se = np.sqrt(p * (1 - p) / len(a))
        txt = f"  {label:34s} {p:.4f} +- {se:.4f} (n={len(a)})"
        if b is not None and label != base and \
                all(k in b for k in seeds):
            d = a - np.concatenate([b[k][0] for k in seeds])
            txt += f"  diff {d.mean():+.4f} +- " \
                f"{d.std(ddof=1) / np.sqrt(len(d)):.4f}"
        txt += "  per seed " + " ".join(
            f"{per[k][0].mean():.3f}" for k in seeds)
        acc = [per[k][2] for k in seeds if per[k][2] is not None]
        if acc:
            txt += f"  accuracy {np.mean(acc):.4f}"
        print(txt, flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", default=os.path.join(ROOT, "build/bin/ember"))
    ap.add_argument("--models", default="mobilenetv2,squeezenet,mnist")
    ap.add_argument("--calib", type=int, default=64)
    ap.add_argument("--eval", type=int, default=500,
                    help="evaluation crops per seed for the dev and test "
                    "splits (photos is a fixed set)")
    ap.add_argument("--seeds", default="0",
                    help="comma-separated: each seed draws other calibration "
                    "and evaluation crops; results are pooled")
    ap.add_argument("--seed", type=int, help="one seed (= --seeds N)")
    ap.add_argument("--splits", default="test",
                    help="comma-separated from test (crops of other photos), "
                    "dev (other crops of the calibration photos; for "
                    "choosing among techniques without looking at the test "
                    "photos), photos (whole photos and centre crops of "
                    "other photos, PHOTO_SET)")
    ap.add_argument("--split", help="one split (= --splits S)")
    ap.add_argument("--ort", default="all", choices=["all", "best", "none"])
    ap.add_argument("--ort-16", action="store_true",
                    help="also ONNX Runtime with every activation int16 "
                    "(symmetric, MinMax, per-channel)")
    ap.add_argument("--ort-mixed-from", action="append", default=[],
                    metavar="LABEL",
                    help="also ONNX Runtime (percentile, per-channel u8) with "
                    "the activations Ember's configuration LABEL made 16-bit "
                    "made int16 through TensorQuantOverrides (repeatable)")
    ap.add_argument("--ember-configs", default=",".join(DEFAULT_EMBER_CONFIGS),
                    help="from: " + ",".join(EMBER_CONFIGS))
    ap.add_argument("--ember-args", action="append", default=[],
                    metavar="LABEL=ARGS",
                    help="an extra Ember configuration: label and "
                    "space-separated `ember quantize` flags (repeatable)")
    ap.add_argument("--baseline", default="ember default",
                    help="the configuration paired differences are taken "
                    "against")
    ap.add_argument("--ember-check", type=int, default=0,
                    help="also run N evaluation samples through `ember run`")
    ap.add_argument("--no-reference", action="store_true",
                    help="leave out the already-quantized reference model "
                    "(REFERENCE_INT8) of a model")
    ap.add_argument("--keep", help="keep the quantized models in this folder")
    ap.add_argument("--results", help="also write every per-sample agreement "
                    "(model -> split -> config -> seed -> 0/1 list) to this "
                    "JSON file")
    args = ap.parse_args()
    args.seeds = [args.seed] if args.seed is not None else \
        [int(x) for x in args.seeds.split(",")]
    args.splits = [args.split] if args.split else args.splits.split(",")
    args.neval = {"test": args.eval, "dev": args.eval}
    configs = {c: EMBER_CONFIGS[c] for c in args.ember_configs.split(",") if c}
    for e in args.ember_args:
        label, _, flags = e.partition("=")
        configs[label] = flags.split()
    print(f"onnxruntime {ort.__version__}; calib={args.calib} "
          f"eval={args.eval} seeds={args.seeds} splits={args.splits}",
          flush=True)
    summary = []
    dump = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = args.keep or tmp
        os.makedirs(work, exist_ok=True)
        for key in args.models.split(","):
            path, build = MODELS[key]
            if not os.path.exists(path):
                print(f"{key}: SKIP ({path} not found)")
                continue
            name = input_name(path)
            # split -> label -> seed -> (agree, confident, accuracy)
            rows = {}
            for seed in args.seeds:
                cal, evs = build(args, seed)
                caldir = os.path.join(work, f"{key}-calib-{seed}")
                os.makedirs(caldir, exist_ok=True)
                for i, x in enumerate(cal):
                    np.save(os.path.join(caldir, f"sample_{i:04d}.npy"), x)
                refs = {}
                for split, (ev, labels) in evs.items():
                    ref, conf = predict(path, name, ev, with_conf=True)
                    refs[split] = (ref, conf, labels)
                    print(f"\n== {key} seed {seed} {split}: {len(cal)} "
                          f"calibration, {len(ev)} evaluation samples; fp32 "
                          f"confident (top-1 probability >= 0.5) on "
                          f"{int(conf.sum())}" +
                          (f"; fp32 accuracy {np.mean(ref == labels):.4f}"
                           if labels is not None else ""), flush=True)
                print(f"{'quantizer':10s} {'config':28s} {'split':7s} "
                      f"{'top1_agree':>10s} {'confident':>9s} "
                      f"{'accuracy':>8s} {'quant_s':>8s}")

                def record(who, cfg, outp, dt, in_name=name):
                    for split, (ev, labels) in evs.items():
                        ref, conf, _ = refs[split]
                        q = predict(outp, in_name, ev)
                        agree = q == ref
                        acc = float(np.mean(q == labels)) \
                            if labels is not None else None
                        rows.setdefault(split, {}).setdefault(
                            f"{who} {cfg}", {})[seed] = (agree, conf, acc)
                        c = f"{np.mean(agree[conf]):9.4f}" if conf.any() \
                            else f"{'-':>9s}"
                        a = f"{acc:8.4f}" if acc is not None else f"{'-':>8s}"
                        print(f"{who:10s} {cfg:28s} {split:7s} "
                              f"{agree.mean():10.4f} {c} {a} {dt:8.1f}",
                              flush=True)

                zoo = REFERENCE_INT8.get(key)
                if zoo and not args.no_reference and os.path.exists(zoo[1]):
                    record("reference", zoo[0], zoo[1], 0.0,
                           input_name(zoo[1]))
                if args.ort != "none" or args.ort_16:
                    ort_path = ort_input(path, work)
                    cfgs = ort_configs(args.ort) if args.ort != "none" else []
                    if args.ort_16:
                        cfgs += [("minmax", True, "s16")]
                    for cfg in cfgs:
                        label = f"{cfg[0]} {'per-channel' if cfg[1] else 'per-tensor'} {cfg[2]}"
                        outp = os.path.join(work, f"{key}-ort-{cfg[0]}-{int(cfg[1])}-{cfg[2]}-{seed}.onnx")
                        try:
                            dt = run_ort(ort_path, name, cal, cfg, outp)
                            record("ort", label, outp, dt)
                        except Exception as e:  # noqa: BLE001
                            print(f"{'ort':10s} {label:28s} FAILED {str(e)[:80]}")
                for cfg, flags in configs.items():
                    outp = os.path.join(work, f"{key}-ember-{cfg}-{seed}.onnx")
                    try:
                        dt = run_ember(args, path, caldir, flags, outp,
                                       outp + ".log")
                        record("ember", cfg, outp, dt)
                    except RuntimeError as e:
                        print(f"{'ember':10s} {cfg:28s} FAILED {str(e)[:100]}")
                        continue
                    if cfg in args.ort_mixed_from:
                        wide = wide_tensors(outp)
                        label = f"pct per-channel u8+s16 as {cfg}"
                        op = os.path.join(work, f"{key}-ort-as-{cfg}-{seed}.onnx")
                        try:
                            dt = run_ort(ort_input(path, work), name, cal,
                                         ("percentile", True, "u8"), op, wide)
                            record("ort", label, op, dt)
                        except Exception as e:  # noqa: BLE001
                            print(f"{'ort':10s} {label:28s} FAILED "
                                  f"{str(e)[:80]}")
                dflt = os.path.join(work, f"{key}-ember-default-{seed}.onnx")
                if args.ember_check and os.path.exists(dflt) and \
                        seed == args.seeds[0]:
                    split = next(iter(evs))
                    ev = evs[split][0]
                    ref = refs[split][0]
                    n = min(args.ember_check, len(ev))
                    q_ort = predict(dflt, name, ev[:n])
                    res = {}
                    for t in ("interp", "cpu"):
                        res[t] = ember_predict(args, t, dflt, name, ev[:n], tmp)
                    same = all(np.array_equal(a, b) for a, b in
                               zip(res["interp"][1], res["cpu"][1]))
                    print(f"ember run on ember's default model, {n} {split} "
                          f"samples: agreement with fp32 interp "
                          f"{np.mean(res['interp'][0] == ref[:n]):.4f} "
                          f"cpu {np.mean(res['cpu'][0] == ref[:n]):.4f} "
                          f"(ORT on the same model {np.mean(q_ort == ref[:n]):.4f}); "
                          f"interp and cpu bit-exact: {'yes' if same else 'no'}",
                          flush=True)
            dump[key] = {split: {lab: {str(k): v[0].astype(int).tolist()
                                         for k, v in per.items()}
                                   for lab, per in r.items()}
                         for split, r in rows.items()}
            if args.results:
                import json
                with open(args.results, "w") as f:
                    json.dump(dump, f)
            for split, r in rows.items():
                print(f"\n== {key}")
                summarize(split, r, args.baseline)
                pooled = {lab: np.mean(np.concatenate(
                    [v[0] for v in per.values()])) for lab, per in r.items()}
                e = max(((v, k) for k, v in pooled.items()
                         if k.startswith("ember")), default=None)
                o = max(((v, k) for k, v in pooled.items()
                         if k.startswith("ort")), default=None)
                if e and o:
                    summary.append((key, split, e, o))
    if summary:
        print("\nsummary (top-1 agreement with fp32, pooled over seeds, best "
              "configuration each):")
        for key, split, e, o in summary:
            print(f"  {key:12s} {split:7s} ember {e[0]:.4f} ({e[1][6:]})  "
                  f"ort {o[0]:.4f} ({o[1][4:]})  ember/ort {e[0] / o[0]:.3f}")


if __name__ == "__main__":
    main()
