#!/usr/bin/env python3
"""The NPU's instructions against Ember's reference interpreter, op by op.

The golden model defines each instruction; this checks that the ones the
compiler maps ONNX layers onto compute what the interpreter computes for
those layers, bit for bit, on random data (docs/npu-architecture.md, "What
the compiler must do"):

  QDQ Mul (u8 and i8, same shapes and the SE block's [1,C,1,1] scale)
      -> VMUL (bcast), parameters as the lowering encodes them;
  Resize on int8/uint8 tensors (nearest, linear half_pixel and asymmetric,
      factors 2, 4, 8) -> UPSAMPLE with zp 0 (uint8 held as int8), and the
      integer form of a QDQ Resize (docs/quantization.md: around the zero
      point in int32) -> UPSAMPLE with zp = the zero point;
  MaxPool with pads on int8 (SPPF: 5x5, stride 1, pad 2, three chained;
      3x3 stride 2 pad 1) and a QDQ AveragePool with pads that excludes them
      -> POOL over a bounded source;
  QDQ HardSwish / Sigmoid / LeakyRelu (TableLookup) -> LUTLD + LUT, the
      table being the interpreter's outputs for the 256 inputs.

For each case an ONNX model runs on `ember run --target=interp`, and a
hand-built program of the instruction runs on `ember-npu sim` (the chosen
executor) over the same bytes. Exit 1 on any difference.

    hw_semantics.py --ember build/bin/ember --npu build/bin/ember-npu
        [--executor golden|systemc|rtl] [--dim N] [--seed S]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

DRAM = 1 << 20


def quantize_multiplier(m):
    """ember/quant/Arith.h quantizeMultiplier: TFLite's, made total."""
    if not m > 0:
        return 0, 0
    f, e = math.frexp(m)
    q = math.floor(f * 2147483648.0 + 0.5)  # std::round: half away (q > 0)
    if q >= 2147483648:
        q //= 2
        e += 1
    if e < -31:
        return 0, 0
    if e > 30:
        return 2147483647, 30
    return int(q), e


class Runner:
    def __init__(self, args, tmp):
        self.a = args
        self.tmp = tmp
        self.n = 0

    def interp(self, model, inputs):
        """Runs `model` (onnx ModelProto) with {name: array}; returns outputs."""
        self.n += 1
        d = os.path.join(self.tmp, f"case{self.n}")
        os.makedirs(d)
        path = os.path.join(d, "model.onnx")
        onnx.save(model, path)
        cmd = [self.a.ember, "run", path, "--target=interp",
               "--save-outputs", os.path.join(d, "out")]
        for name, arr in inputs.items():
            p = os.path.join(d, name + ".npy")
            np.save(p, arr)
            cmd += ["--input", f"{name}={p}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        if r.returncode:
            sys.exit(f"error: ember run failed on case {self.n}: {r.stderr}")
        outs = []
        for i in range(len(model.graph.output)):
            t = onnx.TensorProto()
            t.ParseFromString(open(os.path.join(d, "out", f"output_{i}.pb"),
                                   "rb").read())
            outs.append(numpy_helper.to_array(t))
        return outs

    def npu(self, asm, dram, dump_addr, dump_len):
        """Runs assembly `asm` over the DRAM image; returns dumped bytes."""
        self.n += 1
        d = os.path.join(self.tmp, f"case{self.n}")
        os.makedirs(d)
        prog, img, out = (os.path.join(d, f) for f in
                          ("p.nasm", "dram.bin", "out.bin"))
        open(prog, "w").write(asm + "\nfinish\n")
        dram.tofile(img)
        cmd = [self.a.npu, "sim", prog, "--executor", self.a.executor,
               "--dram-bytes", str(DRAM), "--load", f"{img}@0",
               "--dump", f"{dump_addr}:{dump_len}:{out}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        if r.returncode:
            sys.exit(f"error: ember-npu sim failed on case {self.n}: "
                     f"{r.stderr}\n{asm}")
        return np.fromfile(out, dtype=np.int8)


def tiles(x, dim):
    """[1,C,H,W] int8 -> NPU layout [C/DIM][H*W][DIM] (channels padded)."""
    c, h, w = x.shape[1:]
    ct = (c + dim - 1) // dim
    t = np.zeros((ct * dim, h * w), np.int8)
    t[:c] = x[0].reshape(c, h * w)
    return t.reshape(ct, dim, h * w).transpose(0, 2, 1).copy()


def untile(t, c, h, w):
    ct, hw, dim = t.shape
    return t.transpose(0, 2, 1).reshape(ct * dim, hw)[:c].reshape(1, c, h, w)


def stored(x):
    """A u8 or i8 tensor as the NPU holds it: int8 (u8 - 128)."""
    return (x.astype(np.int16) - (128 if x.dtype == np.uint8 else 0)).astype(
        np.int8)


def unstored(s, dtype):
    return (s.astype(np.int16) + (128 if dtype == np.uint8 else 0)).astype(
        dtype)


def qtype(dtype):
    return TensorProto.UINT8 if dtype == np.uint8 else TensorProto.INT8


def scalar(name, value, dtype):
    return numpy_helper.from_array(np.array(value, dtype=dtype), name)


def model_of(nodes, inputs, outputs, inits, opset=13):
    g = helper.make_graph(nodes, "g", inputs, outputs, inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 7
    return m


def report(name, got, want, failures):
    ok = got.shape == want.shape and np.array_equal(got, want)
    diff = 0 if ok or got.shape != want.shape else int(
        np.count_nonzero(got != want))
    print(f"{'PASS' if ok else 'FAIL'} {name}" +
          ("" if ok else f" ({diff} of {want.size} differ)"))
    if not ok:
        failures.append(name)


def check_mul(r, rng, dim, dtype, bcast, failures):
    c, h, w = int(rng.integers(1, 2 * dim + 3)), 3, 5
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    a = rng.integers(lo, hi + 1, (1, c, h, w)).astype(dtype)
    b = rng.integers(lo, hi + 1, (1, c, 1, 1) if bcast else (1, c, h, w)
                     ).astype(dtype)
    sa, sb, sy = (np.float32(rng.uniform(0.005, 0.08)) for _ in range(3))
    za, zb, zy = (int(rng.integers(lo, hi + 1)) for _ in range(3))
    t = qtype(dtype)
    nodes = [
        helper.make_node("DequantizeLinear", ["a", "sa", "za"], ["da"]),
        helper.make_node("DequantizeLinear", ["b", "sb", "zb"], ["db"]),
        helper.make_node("Mul", ["da", "db"], ["m"]),
        helper.make_node("QuantizeLinear", ["m", "sy", "zy"], ["y"])]
    inits = [scalar("sa", sa, np.float32), scalar("sb", sb, np.float32),
             scalar("sy", sy, np.float32), scalar("za", za, dtype),
             scalar("zb", zb, dtype), scalar("zy", zy, dtype)]
    m = model_of(nodes, [helper.make_tensor_value_info("a", t, a.shape),
                         helper.make_tensor_value_info("b", t, b.shape)],
                 [helper.make_tensor_value_info("y", t, a.shape)], inits)
    want = r.interp(m, {"a": a, "b": b})[0]
    # The NPU: one VMUL per channel tile; the scale as the lowering encodes
    # it (double of the float32 scales), zero points as stored int8.
    mult, shift = quantize_multiplier(float(sa) * float(sb) / float(sy))
    off = 128 if dtype == np.uint8 else 0
    at, bt = tiles(stored(a), dim), tiles(stored(b), dim)
    ct, hw = at.shape[0], h * w
    dram = np.zeros(DRAM, np.int8)
    dram[:at.size] = at.ravel()
    bbase = 65536
    dram[bbase:bbase + bt.size] = bt.ravel()
    brows = 1 if bcast else hw
    asm = [f"setreg reg=MUL_A_ZP value={za - off}",
           f"setreg reg=MUL_B_ZP value={zb - off}",
           f"setreg reg=MUL_MULT value={mult}",
           f"setreg reg=MUL_SHIFT value={shift}",
           f"setreg reg=MUL_OUT_ZP value={zy - off}",
           "setreg reg=MUL_MIN value=-128", "setreg reg=MUL_MAX value=127",
           f"load mem=OUT sram=0 dram=0 ysize=1 xsize={ct * hw} "
           f"stride={ct * hw}",
           f"load mem=OUT sram=1000 dram={bbase} ysize=1 xsize={ct * brows} "
           f"stride={ct * brows} signal=LOAD->VECTOR"]
    for k in range(ct):
        asm.append(f"vmul dst={500 + k * hw} a={k * hw} b={1000 + k * brows} "
                   f"rows={hw} bcast={int(bcast)} lut=0" +
                   (" wait=LOAD->VECTOR" if k == 0 else ""))
    asm.append("fence")
    asm.append(f"store mem=OUT sram=500 dram=131072 ysize=1 xsize={ct * hw} "
               f"stride={ct * hw}")
    got = r.npu("\n".join(asm), dram, 131072, ct * hw * dim)
    got = unstored(untile(got.reshape(ct, hw, dim), c, h, w), dtype)
    report(f"qdq-mul {np.dtype(dtype).name} {'bcast' if bcast else 'same'} "
           f"C={c}", got, want, failures)


def check_resize(r, rng, dim, dtype, mode, ctm, factor, failures,
                 centered=False):
    c, h, w = dim, int(rng.integers(1, 5)), int(rng.integers(1, 6))
    lo, hi = (0, 255) if dtype == np.uint8 else (-128, 127)
    x = rng.integers(lo, hi + 1, (1, c, h, w)).astype(dtype)
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm)
    if mode == "nearest":
        attrs["nearest_mode"] = "floor"
    scales = numpy_helper.from_array(
        np.array([1, 1, factor, factor], np.float32), "scales")
    t = qtype(dtype)
    oshape = [1, c, h * factor, w * factor]
    z = int(rng.integers(lo, hi + 1)) if centered else 0
    if centered:
        # docs/quantization.md's integer form of a QDQ Resize: around the
        # zero point, in int32: Cast, Sub z, Resize, Add z, Clip, Cast.
        inits = [scalar("z", np.int32(z), np.int32),
                 scalar("lo", np.int32(lo), np.int32),
                 scalar("hi", np.int32(hi), np.int32), scales]
        nodes = [
            helper.make_node("Cast", ["x"], ["x32"], to=TensorProto.INT32),
            helper.make_node("Sub", ["x32", "z"], ["c"]),
            helper.make_node("Resize", ["c", "", "scales"], ["r"], **attrs),
            helper.make_node("Add", ["r", "z"], ["a"]),
            helper.make_node("Clip", ["a", "lo", "hi"], ["k"]),
            helper.make_node("Cast", ["k"], ["y"], to=t)]
        m = model_of(nodes, [helper.make_tensor_value_info("x", t, x.shape)],
                     [helper.make_tensor_value_info("y", t, oshape)], inits)
    else:
        node = helper.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)
        m = model_of([node], [helper.make_tensor_value_info("x", t, x.shape)],
                     [helper.make_tensor_value_info("y", t, oshape)],
                     [scales])
    want = r.interp(m, {"x": x})[0]
    k = int(math.log2(factor))
    nm = {"nearest": 0, "half_pixel": 1, "asymmetric": 2}
    umode = 0 if mode == "nearest" else nm[ctm]
    xt = tiles(stored(x), dim)
    dram = np.zeros(DRAM, np.int8)
    dram[:xt.size] = xt.ravel()
    oh, ow = h * factor, w * factor
    # Output lines in stripes of at most 3 (as a compiler tiles them).
    asm = [f"load mem=OUT sram=0 dram=0 ysize=1 xsize={h * w} stride={h * w} "
           "signal=LOAD->VECTOR"]
    oy = 0
    while oy < oh:
        n = min(3, oh - oy)
        zs = z - (128 if dtype == np.uint8 else 0)
        asm.append(f"upsample dst={100 + oy * ow} src=0 w={w} h={h} oy={oy} "
                   f"oh={n} factor={k} mode={umode} zp={zs} lut=0" +
                   (" wait=LOAD->VECTOR" if oy == 0 else ""))
        oy += n
    asm.append("fence")
    asm.append(f"store mem=OUT sram=100 dram=65536 ysize={oh} xsize={ow} "
               f"stride={ow}")
    got = r.npu("\n".join(asm), dram, 65536, oh * ow * dim)
    got = unstored(untile(got.reshape(1, oh * ow, dim), c, oh, ow), dtype)
    report(f"resize {mode} {ctm} x{factor} {np.dtype(dtype).name} {h}x{w}" +
           (f" around zero point {z}" if centered else ""), got, want,
           failures)


def check_pool(r, rng, dim, kind, k, s, p, chain, failures):
    c, h, w = dim, int(rng.integers(3, 8)), int(rng.integers(3, 9))
    x = rng.integers(0, 256, (1, c, h, w)).astype(np.uint8)
    attrs = dict(kernel_shape=[k, k], strides=[s, s], pads=[p] * 4)
    oh, ow = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
    if kind == "max":
        nodes, inputs, t, inits = [], ["x"], TensorProto.UINT8, []
        name = "x"
        for i in range(chain):
            nodes.append(helper.make_node("MaxPool", [name], [f"p{i}"],
                                          **attrs))
            name = f"p{i}"
        nodes.append(helper.make_node("Identity", [name], ["y"]))
    else:  # QDQ average pool with the padding excluded, same parameters
        inits = [scalar("s", np.float32(0.03), np.float32),
                 scalar("z", np.uint8(int(rng.integers(0, 256))), np.uint8)]
        nodes = [helper.make_node("DequantizeLinear", ["x", "s", "z"], ["d"]),
                 helper.make_node("AveragePool", ["d"], ["a"],
                                  count_include_pad=0, **attrs),
                 helper.make_node("QuantizeLinear", ["a", "s", "z"], ["y"])]
        t = TensorProto.UINT8
    m = model_of(nodes, [helper.make_tensor_value_info("x", t, x.shape)],
                 [helper.make_tensor_value_info("y", t, [1, c, oh, ow])],
                 inits)
    want = r.interp(m, {"x": x})[0]
    xt = tiles(stored(x), dim)
    dram = np.zeros(DRAM, np.int8)
    dram[:xt.size] = xt.ravel()
    asm = [f"setreg reg=POOL_KH value={k}", f"setreg reg=POOL_KW value={k}",
           f"setreg reg=POOL_STRIDE value={s}",
           f"setreg reg=POOL_IN_W value={w}",
           f"setreg reg=POOL_OUT_W value={ow}",
           f"load mem=OUT sram=0 dram=0 ysize=1 xsize={h * w} stride={h * w} "
           "signal=LOAD->VECTOR"]
    src = 0
    for i in range(chain):  # each output is the next input, in OUT
        dst = 300 * (i + 1)
        asm.append(f"pool avg={int(kind == 'avg')} dst={dst} src={src} "
                   f"rows={oh * ow} pad_top={p} pad_left={p} in_h={h}" +
                   (" wait=LOAD->VECTOR" if i == 0 else ""))
        src = dst
    asm.append("fence")
    asm.append(f"store mem=OUT sram={src} dram=65536 ysize=1 xsize={oh * ow} "
               f"stride={oh * ow}")
    got = r.npu("\n".join(asm), dram, 65536, oh * ow * dim)
    got = unstored(untile(got.reshape(1, oh * ow, dim), c, oh, ow), np.uint8)
    report(f"{kind}pool k{k} s{s} p{p} x{chain} {h}x{w}", got, want, failures)


def check_table(r, rng, dim, op, attrs, failures):
    # The interpreter's TableLookup of a QDQ activation, applied to all 256
    # inputs, gives the table; the NPU looks the same inputs up in it.
    sx, sy = np.float32(rng.uniform(0.02, 0.1)), np.float32(
        rng.uniform(0.005, 0.05))
    zx, zy = np.uint8(int(rng.integers(60, 200))), np.uint8(
        int(rng.integers(0, 256)))
    x = np.arange(256, dtype=np.uint8).reshape(1, 256 // dim, 1, dim)
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))  # [1, DIM, 256/DIM, 1]
    inits = [scalar("sx", sx, np.float32), scalar("zx", zx, np.uint8),
             scalar("sy", sy, np.float32), scalar("zy", zy, np.uint8)]
    nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["d"]),
             helper.make_node(op, ["d"], ["f"], **attrs),
             helper.make_node("QuantizeLinear", ["f", "sy", "zy"], ["y"])]
    m = model_of(nodes, [helper.make_tensor_value_info(
        "x", TensorProto.UINT8, x.shape)], [helper.make_tensor_value_info(
            "y", TensorProto.UINT8, x.shape)], inits, opset=14)
    want = r.interp(m, {"x": x})[0]
    # Entry q (the stored value q - 128 + 128) of the table: f(q), stored.
    table = stored(want.transpose(0, 2, 3, 1).reshape(256))
    xt = tiles(stored(x), dim)
    rows = 256 // dim
    dram = np.zeros(DRAM, np.int8)
    dram[:xt.size] = xt.ravel()
    dram[8192:8448] = table
    asm = [f"load mem=ACC sram=100 dram=8192 ysize=1 xsize={256 // (4 * dim)}"
           f" stride={256 // (4 * dim)}",
           f"load mem=OUT sram=0 dram=0 ysize=1 xsize={rows} stride={rows} "
           "signal=LOAD->VECTOR",
           "lutld src=100 wait=LOAD->VECTOR",
           f"lut dst=200 src=0 rows={rows}", "fence",
           f"store mem=OUT sram=200 dram=65536 ysize=1 xsize={rows} "
           f"stride={rows}"]
    got = r.npu("\n".join(asm), dram, 65536, rows * dim)
    got = unstored(untile(got.reshape(1, rows, dim), dim, rows, 1), np.uint8)
    report(f"table {op}", got, want, failures)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ember", required=True)
    ap.add_argument("--npu", required=True)
    ap.add_argument("--executor", default="golden")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        r = Runner(a, tmp)
        for dtype in (np.uint8, np.int8):
            for bcast in (True, False):
                check_mul(r, rng, a.dim, dtype, bcast, failures)
        for dtype in (np.int8, np.uint8):
            for factor in (2, 4, 8):
                for mode, ctm in (("nearest", "asymmetric"),
                                  ("linear", "half_pixel"),
                                  ("linear", "asymmetric")):
                    check_resize(r, rng, a.dim, dtype, mode, ctm, factor,
                                 failures)
        for dtype in (np.uint8, np.int8):
            for factor in (2, 8):
                for ctm in ("half_pixel", "asymmetric"):
                    check_resize(r, rng, a.dim, dtype, "linear", ctm, factor,
                                 failures, centered=True)
        check_pool(r, rng, a.dim, "max", 5, 1, 2, 3, failures)  # SPPF
        check_pool(r, rng, a.dim, "max", 3, 2, 1, 1, failures)
        check_pool(r, rng, a.dim, "avg", 3, 1, 1, 1, failures)
        check_pool(r, rng, a.dim, "avg", 5, 2, 2, 1, failures)
        check_table(r, rng, a.dim, "HardSwish", {}, failures)
        check_table(r, rng, a.dim, "Sigmoid", {}, failures)
        check_table(r, rng, a.dim, "LeakyRelu", {"alpha": 0.1}, failures)
    print(f"{r.n // 2} cases, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
