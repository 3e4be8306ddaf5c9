#!/usr/bin/env python3
"""Builds the CPU backend's wider benchmark set (docs/performance.md) in OUT:

  OUT/dense/<name>/      models built here from seeded weights
                         (bench/cpu/dense_models.py: detection and
                         segmentation with Resize and ConvTranspose,
                         MobileNetV3, ViT and ResNeXt style classifiers, a
                         keyword-spotting LSTM and a CRNN with
                         bidirectional GRUs; bench/cpu/mobile_models.py:
                         YOLOv8n and PicoDet-S detectors at 320x320,
                         PP-LCNet, MobileNetV3-Large and EfficientNet-B0
                         classifiers at 224x224, at their real widths)
                         with seeded inputs and ONNX Runtime's outputs;
                         made without ../shared too;
  OUT/light/<name>/      each ONNX light zoo model (../shared/onnx-backend/
                         light) as a test case: model.onnx with its
                         ConstantOfShape weights folded into initializers,
                         test_data_set_0/input_*.pb (seeded random inputs)
                         and the outputs ONNX Runtime computes;
  OUT/qdq/<name>-qdq/    an int8 QDQ copy of every fp32 model (the shared
                         models' fp32 ones and the light models), made by
                         scripts/quantize-with-ort.py: ONNX Runtime's
                         quantize_static, per-channel int8 weights, uint8
                         activations (--int8-act / --per-tensor: the other
                         variants, in OUT/qdq-<variant>/);
  OUT/dyn/<name>-dyn/    a dynamically quantized copy (ONNX Runtime's
                         quantize_dynamic: int8 weights, activations
                         quantized at run time by DynamicQuantizeLinear,
                         MatMulInteger) of the transformers (DYN_MODELS),
                         as users quantize language and vision
                         transformers.
  OUT/dyn-all/<name>-dynall/  with --dyn-all only (not part of the set):
                         quantize_dynamic with every op type it takes, of
                         every fp32 model (a CNN's convolutions become
                         DynamicQuantizeLinear -> ConvInteger), as a user
                         who quantizes a CNN dynamically gets it.

  bench/cpu/make_bench_set.py --out build/bench-set [--shared ../shared]
      [--only NAME-SUBSTRING]... [--int8-act] [--per-tensor] [--dyn-all]
      [--force]

bench/cpu/compare_ort.py --set OUT runs the whole set (the shared models,
the light models as they are, and OUT/qdq). Existing cases are kept unless
--force. Needs onnx, onnxruntime and numpy (scripts/install-deps.sh).
"""
import argparse
import os
import shutil
import subprocess
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

QUANT_OPS = {"QuantizeLinear", "DequantizeLinear", "QLinearConv",
             "QLinearMatMul", "ConvInteger", "MatMulInteger", "QLinearAdd",
             "QLinearGlobalAveragePool", "QLinearMul", "QLinearConcat"}


def is_fp32_model(path):
    """A float32 model: no quantized ops, no 16-bit float inputs or
    weights, and float32 inputs or weights (a language model's inputs are
    integer token ids; its weights are what gets quantized)."""
    m = onnx.load(path, load_external_data=False)
    if any(n.op_type in QUANT_OPS for n in m.graph.node):
        return False
    inits = {i.name for i in m.graph.initializer}
    elems = [i.type.tensor_type.elem_type for i in m.graph.input
             if i.name not in inits]
    weights = [i.data_type for i in m.graph.initializer]
    half = (onnx.TensorProto.FLOAT16, onnx.TensorProto.BFLOAT16)
    if any(e in half for e in elems + weights):
        return False
    return onnx.TensorProto.FLOAT in elems + weights


def fold_constant_of_shape(m):
    """Replaces ConstantOfShape nodes with constant shapes by initializers
    (the light models keep their weights that way), so quantizers see
    weights."""
    consts = {i.name: numpy_helper.to_array(i) for i in m.graph.initializer}
    for n in m.graph.node:
        if n.op_type == "Constant":
            for a in n.attribute:
                if a.name == "value":
                    consts[n.output[0]] = numpy_helper.to_array(a.t)
    keep = []
    for n in m.graph.node:
        if n.op_type == "ConstantOfShape" and n.input[0] in consts:
            shape = [int(d) for d in consts[n.input[0]].reshape(-1)]
            value = np.zeros(1, np.float32)
            for a in n.attribute:
                if a.name == "value":
                    value = numpy_helper.to_array(a.t).reshape(-1)
            arr = np.full(shape, value[0], dtype=value.dtype)
            m.graph.initializer.append(numpy_helper.from_array(arr,
                                                               n.output[0]))
            consts[n.output[0]] = arr
        else:
            keep.append(n)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    # Unused initializers (the shapes) go; initializers are not graph
    # inputs (IR version 4 on).
    used = {i for n in m.graph.node for i in n.input}
    used |= {o.name for o in m.graph.output}
    names = {i.name for i in m.graph.initializer}
    inits = [i for i in m.graph.initializer if i.name in used]
    del m.graph.initializer[:]
    m.graph.initializer.extend(inits)
    ins = [i for i in m.graph.input if i.name not in names]
    del m.graph.input[:]
    m.graph.input.extend(ins)
    m.ir_version = max(m.ir_version, 4)
    return m


def random_inputs(m, rng):
    inits = {i.name for i in m.graph.initializer}
    feeds = []
    for vi in m.graph.input:
        if vi.name in inits:
            continue
        tt = vi.type.tensor_type
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0
                else 1 for d in tt.shape.dim]
        feeds.append((vi.name, rng.uniform(0, 1, dims).astype(np.float32)))
    return feeds


def write_case(m, feeds, out):
    import onnxruntime as ort
    os.makedirs(os.path.join(out, "test_data_set_0"), exist_ok=True)
    onnx.save(m, os.path.join(out, "model.onnx"))
    ds = os.path.join(out, "test_data_set_0")
    for i, (n, x) in enumerate(feeds):
        onnx.save_tensor(numpy_helper.from_array(x, n),
                         os.path.join(ds, f"input_{i}.pb"))
    s = ort.InferenceSession(os.path.join(out, "model.onnx"),
                             providers=["CPUExecutionProvider"])
    outs = s.run(None, dict(feeds))
    for i, (o, v) in enumerate(zip(s.get_outputs(), outs)):
        onnx.save_tensor(numpy_helper.from_array(v, o.name),
                         os.path.join(ds, f"output_{i}.pb"))


# The fp32 models that get a dynamically quantized copy (their MatMuls).
DYN_MODELS = ("bert-toy", "vit-toy")


def load_case_inputs(case):
    ds = os.path.join(case, "test_data_set_0")
    feeds, i = [], 0
    while os.path.exists(os.path.join(ds, f"input_{i}.pb")):
        t = onnx.load_tensor(os.path.join(ds, f"input_{i}.pb"))
        feeds.append((t.name, numpy_helper.to_array(t)))
        i += 1
    return feeds


def write_dynamic_copy(case, out, op_types=("MatMul",)):
    """OUT: quantize_dynamic of CASE's model (int8 weights; op_types, or
    every type it takes when None) with CASE's inputs and the outputs ONNX
    Runtime computes for the copy."""
    import tempfile
    from onnxruntime.quantization import QuantType, quantize_dynamic
    with tempfile.TemporaryDirectory() as tmp:
        q = os.path.join(tmp, "model.onnx")
        quantize_dynamic(os.path.join(case, "model.onnx"), q,
                         op_types_to_quantize=list(op_types) if op_types
                         else None,
                         weight_type=QuantType.QInt8)
        m = onnx.load(q)
    feeds = load_case_inputs(case)
    names = [vi.name for vi in m.graph.input]
    feeds = [(names[i] if not n else n, x) for i, (n, x) in enumerate(feeds)]
    write_case(m, feeds, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--out", default=os.path.join(REPO, "build", "bench-set"))
    ap.add_argument("--shared", default=os.path.join(REPO, "..", "shared"))
    ap.add_argument("--only", action="append", default=[])
    ap.add_argument("--int8-act", action="store_true")
    ap.add_argument("--per-tensor", action="store_true")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--dyn-all", action="store_true",
                    help="also OUT/dyn-all: quantize_dynamic of every fp32 "
                    "model, every op type")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()

    def wanted(name):
        return not a.only or any(o in name for o in a.only)

    light_dir = os.path.join(a.shared, "onnx-backend", "light")
    models_dir = os.path.join(a.shared, "models")
    rng = np.random.default_rng(a.seed)
    sys.path.insert(0, HERE)
    import dense_models
    import mobile_models
    fp32 = []  # (name, case dir)
    for name, make in {**dense_models.MODELS,
                       **mobile_models.MODELS}.items():
        case = os.path.join(a.out, "dense", name)
        fp32.append((name, case))
        if not wanted(name) or (os.path.exists(case) and not a.force):
            continue
        print(f"dense: {name}", flush=True)
        mrng = np.random.default_rng([a.seed, len(name)])
        m = make(mrng)
        write_case(m, random_inputs(m, mrng), case)
    if not os.path.isdir(models_dir):
        print(f"skip: no models folder ({models_dir}): only the dense "
              "models and their QDQ copies (give --shared for the rest)")
    for name in sorted(os.listdir(models_dir)) if os.path.isdir(
            models_dir) else []:
        case = os.path.join(models_dir, name)
        path = os.path.join(case, "model.onnx")
        if os.path.exists(path) and is_fp32_model(path):
            fp32.append((name, case))
    if os.path.isdir(light_dir):
        for f in sorted(os.listdir(light_dir)):
            if not f.endswith(".onnx"):
                continue
            name = f[:-len(".onnx")]
            case = os.path.join(a.out, "light", name)
            fp32.append((name, case))
            if not wanted(name) or (os.path.exists(case) and not a.force):
                continue
            print(f"light: {name}", flush=True)
            # Opset 13 first (per-channel QDQ needs it; the converter wants
            # the model as it was made), then the weights folded.
            from onnx import version_converter
            m = version_converter.convert_version(
                onnx.load(os.path.join(light_dir, f)), 13)
            m = fold_constant_of_shape(m)
            write_case(m, random_inputs(m, rng), case)
    variant = "qdq" + ("-int8act" if a.int8_act else "") + (
        "-pertensor" if a.per_tensor else "")
    script = os.path.join(REPO, "scripts", "quantize-with-ort.py")
    failed = 0
    for name, case in fp32:
        if not wanted(name):
            continue
        out = os.path.join(a.out, variant, f"{name}-qdq")
        if os.path.exists(os.path.join(out, "model.onnx")) and not a.force:
            continue
        print(f"{variant}: {name}", flush=True)
        cmd = [sys.executable, script, case, out]
        if a.int8_act:
            cmd.append("--int8-act")
        if a.per_tensor:
            cmd.append("--per-tensor")
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            failed += 1
            shutil.rmtree(out, ignore_errors=True)
            print(f"  failed: {(r.stderr or r.stdout).strip().splitlines()[-1]}")
    for name, case in fp32:
        out = os.path.join(a.out, "dyn", f"{name}-dyn")
        if name not in DYN_MODELS or not wanted(name) or (
                os.path.exists(os.path.join(out, "model.onnx")) and
                not a.force):
            continue
        print(f"dyn: {name}", flush=True)
        write_dynamic_copy(case, out)
    for name, case in fp32 if a.dyn_all else []:
        out = os.path.join(a.out, "dyn-all", f"{name}-dynall")
        if not wanted(name) or (os.path.exists(os.path.join(out, "model.onnx"))
                                and not a.force):
            continue
        print(f"dyn-all: {name}", flush=True)
        try:
            write_dynamic_copy(case, out, op_types=None)
        except Exception as err:  # an op quantize_dynamic cannot take
            failed += 1
            shutil.rmtree(out, ignore_errors=True)
            print(f"  failed: {err}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
