#!/usr/bin/env python3
"""The NPU's 16-bit forms (spec version 3) against the 16x8 integer definition.

docs/quantization.md, "16-bit activations (16x8)", defines what a 16x8 layer
computes; this script re-implements that definition in Python (exact integer
arithmetic on Python ints, written apart from ember/quant/Arith.h and the
golden model) and runs hand-built NPU programs that follow the compiler-facing
contract of docs/npu-architecture.md ("What a compiler must do to run a 16x8
layer") on `ember-npu sim` (the chosen executor), over random data:

  a 16x8 convolution (3x3, pad 1, two input-channel tiles, int64 bias) as the
      two planes' GEMMs into the two halves of ACC with the low plane's
      correction in the bias, REQUANT acc16 to int16 (clamped) and to int8;
      the same layer against ONNX Runtime's QDQ int16 Conv (float), within
      one output quantum;
  a 16x8 depthwise convolution (DWGEMM per plane);
  both again with GEMM16 / DWGEMM16 (spec version 5: the two planes in one
      instruction);
  two 16x8 layers cascaded on chip (REQUANT out16 -> MOVE w16 -> GEMMs);
  the precision boundaries: an int8 layer with an int16 result (REQUANT
      out16), int8 -> int16 and int16 -> int8 requantization (VMUL one);
  the int16 quantized add (TFLite's form, left shift 15), the int16 multiply
      (16 x 16 and an int16 map times an int8 per-channel scale);
  16-bit max and average pooling over a padded map;
  bilinear upsampling of int16 (ONNX Resize's coordinates in double);
  the 16-bit table (TFLite's 513-entry interpolated Sigmoid and Tanh): the
      lookup against the definition, the table against the real function.

Exit 1 on any difference.

    hw_semantics16.py --npu build/bin/ember-npu [--executor golden|systemc|rtl]
        [--dim N] [--seed S]
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile

import numpy as np

DRAM = 1 << 20
I16 = (-32768, 32767)


# ---- The 16x8 definition (docs/quantization.md), in Python integers.

def quantize_multiplier(m):
    """TFLite's QuantizeMultiplier, made total (docs/quantization.md)."""
    if not m > 0:
        return 0, 0
    f, e = math.frexp(m)
    q = math.floor(f * 2147483648.0 + 0.5)
    if q >= 2147483648:
        q //= 2
        e += 1
    if e < -31:
        return 0, 0
    if e > 30:
        return 2147483647, 30
    return int(q), e


def sat(v, lo, hi):
    return max(lo, min(hi, v))


def wrap32(v):
    return (v + 2**31) % 2**32 - 2**31


def mbqm(x, m, e, bits=32):
    """x times m * 2^(e - 31), one rounding half up; with bits=48 the input
    is first saturated to 48 bits (the 16x8 accumulator)."""
    if bits == 48:
        x = sat(x, -2**47, 2**47 - 1)
    t = 31 - sat(e, -31, 30)
    return sat((x * m + (1 << (t - 1))) >> t, -2**31, 2**31 - 1)


def clamp_out(v, lo, hi, bits):
    lo_t, hi_t = (-128, 127) if bits == 8 else I16
    r = max(lo, min(hi, v))  # lo > hi yields lo
    return sat(r, lo_t, hi_t)


def add16(a, b, p):
    """TFLite's int16 quantized add (left shift p['L'] = 15)."""
    L = p["L"]
    sa = mbqm(wrap32((a - p["za"]) << L), *p["ma"])
    sb = mbqm(wrap32((b - p["zb"]) << L), *p["mb"])
    return clamp_out(wrap32(mbqm(wrap32(sa + sb), *p["my"]) + p["zy"]),
                     p["lo"], p["hi"], 16)


def avg_half_up(total, n):
    return (2 * total + n) // (2 * n)


def tfl_round(v):
    """std::round: half away from zero."""
    return math.floor(v + 0.5) if v >= 0 else -math.floor(-v + 0.5)


def table16(f, s_in, s_out):
    """TFLite's 16-bit LUT construction (gen_lut) with the nodes 128 input
    steps apart: entry i is f at the input 128 i - 32768, biased by half the
    interpolation's error at the segment's midpoint."""
    def at(node):
        return f(s_in * (128.0 * node - 32768.0))
    t = []
    for i in range(513):
        v = tfl_round(at(i) / s_out)
        bias = 0
        if i < 512:
            interp = tfl_round((at(i + 1) / s_out + v) / 2)
            mid = tfl_round(at(i + 0.5) / s_out)
            bias = tfl_round((interp - mid) / 2)
        t.append(int(sat(v - bias, *I16)))
    return t


def lookup16(x, t):
    i, off = 256 + (x >> 7), x & 127
    return t[i] + (((t[i + 1] - t[i]) * off + 64) >> 7)


# ---- Layouts: [C/DIM][pixels][DIM], 16-bit rows as DIM little-endian int16.

def tiles(x, dim):
    """[C, P] -> [C/DIM][P][DIM] (channels padded with zeros)."""
    c, p = x.shape
    ct = (c + dim - 1) // dim
    t = np.zeros((ct * dim, p), x.dtype)
    t[:c] = x
    return t.reshape(ct, dim, p).transpose(0, 2, 1).copy()


def untile(t, c):
    ct, p, dim = t.shape
    return t.transpose(0, 2, 1).reshape(ct * dim, p)[:c]


class Npu:
    def __init__(self, args, tmp):
        self.a = args
        self.tmp = tmp
        self.n = 0

    def run(self, asm, dram, dump_addr, dump_len):
        self.n += 1
        d = os.path.join(self.tmp, f"case{self.n}")
        os.makedirs(d)
        prog, img, out = (os.path.join(d, f) for f in
                          ("p.nasm", "dram.bin", "out.bin"))
        open(prog, "w").write("\n".join(asm) + "\nfence\nfinish\n")
        dram.tofile(img)
        cmd = [self.a.npu, "sim", prog, "--executor", self.a.executor,
               "--dram-bytes", str(DRAM), "--load", f"{img}@0",
               "--dump", f"{dump_addr}:{dump_len}:{out}"]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
        if r.returncode:
            sys.exit(f"error: ember-npu sim failed on case {self.n}: "
                     f"{r.stderr}\n" + "\n".join(asm))
        return np.fromfile(out, dtype=np.uint8)


def report(name, got, want, failures):
    got, want = np.asarray(got), np.asarray(want)
    ok = got.shape == want.shape and np.array_equal(got, want)
    diff = "" if ok else (f" ({int(np.count_nonzero(got != want))} of "
                          f"{want.size} differ)" if got.shape == want.shape
                          else f" (shape {got.shape} != {want.shape})")
    print(f"{'PASS' if ok else 'FAIL'} {name}{diff}")
    if not ok:
        failures.append(name)


def put(dram, addr, arr):
    b = np.ascontiguousarray(arr).view(np.uint8).ravel()
    dram[addr:addr + b.size] = b
    return addr + b.size


def acc_rows(values, dim):
    """Per-channel int32 values [C] as ACC rows [C/DIM][DIM] (int32)."""
    ct = (len(values) + dim - 1) // dim
    r = np.zeros(ct * dim, np.int64)
    r[:len(values)] = values
    return (r.reshape(ct, dim) & 0xffffffff).astype(np.uint32)


def rand16(rng, shape):
    """int16 with the edges often."""
    x = rng.integers(-32768, 32768, shape)
    edge = rng.random(shape) < 0.15
    x[edge] = rng.choice([-32768, 32767, -1, 0, 255, 256, -256, 128],
                         int(edge.sum()))
    return x.astype(np.int16)


# ---- The layers.

class ConvCase:
    """A KxK convolution, pad K//2, stride 1, on an H x W map: 16x8 (int16 in)
    or 8x8 (int8 in); int16 or int8 out; depthwise or dense."""

    def __init__(self, rng, dim, cin, cout, h, w, k, in16, out16, depthwise,
                 big_bias=False):
        self.__dict__.update(dim=dim, cin=cin, cout=cout, h=h, w=w, k=k,
                             in16=in16, out16=out16, dw=depthwise)
        self.x = rand16(rng, (cin, h, w)) if in16 else rng.integers(
            -128, 128, (cin, h, w)).astype(np.int8)
        wshape = (cout, 1, k, k) if depthwise else (cout, cin, k, k)
        self.wt = rng.integers(-127, 128, wshape).astype(np.int8)
        lim = 2**40 if big_bias else 2**20
        self.b = [int(v) for v in rng.integers(-lim, lim, cout)]
        self.sx = float(rng.uniform(1e-4, 1e-3)) if in16 else float(
            rng.uniform(0.01, 0.05))
        self.sw = [float(v) for v in rng.uniform(0.002, 0.02, cout)]
        self.sy = float(rng.uniform(2e-4, 2e-3)) if out16 else float(
            rng.uniform(0.02, 0.1))
        self.zy = 0 if out16 else int(rng.integers(-20, 20))
        self.lo, self.hi = ((int(rng.integers(-32768, 0)), 30000) if out16
                            else (-100, 120))
        self.m = [quantize_multiplier(self.sx * s / self.sy) for s in self.sw]
        self.fused = False  # GEMM16 / DWGEMM16: both planes in one op

    def fit_output_scale(self):
        """An output scale whose range holds most results (as calibration
        would choose it), so few outputs clamp."""
        a = self.acc()
        real = max(abs(float(a[c].max())) * self.sx * self.sw[c]
                   for c in range(self.cout))
        self.sy = real / 24000
        self.m = [quantize_multiplier(self.sx * s / self.sy) for s in self.sw]

    def acc(self):
        """The exact accumulator (sum of products + bias) per output."""
        k, p = self.k, self.k // 2
        xp = np.pad(self.x.astype(np.int64), ((0, 0), (p, p), (p, p)))
        out = np.zeros((self.cout, self.h, self.w), dtype=object)
        for c in range(self.cout):
            s = np.zeros((self.h, self.w), np.int64)
            for ky in range(k):
                for kx in range(k):
                    win = xp[:, ky:ky + self.h, kx:kx + self.w]
                    if self.dw:
                        s += win[c] * int(self.wt[c, 0, ky, kx])
                    else:
                        s += np.tensordot(self.wt[c, :, ky, kx].astype(
                            np.int64), win, axes=(0, 0))
            out[c] = s.astype(object) + self.b[c]
        return out

    def reference(self):
        a = self.acc()
        bits = 16 if self.out16 else 8
        y = np.zeros(a.shape, np.int64)
        for c in range(self.cout):
            m, e = self.m[c]
            for i in np.ndindex(a.shape[1:]):
                if self.in16:
                    r = mbqm(int(a[c][i]), m, e, 48)
                else:  # int32 accumulator and bias, wrapping
                    r = mbqm(wrap32(int(a[c][i])), m, e)
                y[c][i] = clamp_out(wrap32(r + self.zy), self.lo, self.hi, bits)
        return y

    def program(self, dram, base_act, base_out):
        """The compiler's program (docs/npu-architecture.md): returns asm."""
        dim, k, p, h, w = self.dim, self.k, self.k // 2, self.h, self.w
        wp, hp = w + 2 * p, h + 2 * p
        cti = (self.cin + dim - 1) // dim
        cto = (self.cout + dim - 1) // dim
        block = hp * wp
        asm = ["setreg reg=PAD_VALUE value=0",
               f"setreg reg=RQ16_MIN value={self.lo}",
               f"setreg reg=RQ16_MAX value={self.hi}"]
        # Input: tile t's padded block at ACT t * block (16-bit: row pairs).
        xt = tiles(self.x.reshape(self.cin, h * w), dim)
        addr = put(dram, 0, xt)
        load = "load16" if self.in16 else "load"
        row_bytes = dim * (2 if self.in16 else 1)
        for t in range(cti):
            asm.append(f"{load} mem=ACT sram={t * block} "
                       f"dram={t * h * w * row_bytes} ysize={h} xsize={w} "
                       f"stride={w} pad_top={p} pad_bottom={p} pad_left={p} "
                       f"pad_right={p}")
        # Weights: tile (to, t, ky, kx): row j = output channel, lane i = the
        # input channel (dense) or lane kx = tap (depthwise, per ky).
        wbase = 262144
        wrow = 0
        wtile = {}
        for to in range(cto):
            if self.dw:
                for ky in range(k):
                    tile = np.zeros((dim, dim), np.int8)
                    for j in range(dim):
                        c = to * dim + j
                        if c < self.cout:
                            tile[j, :k] = self.wt[c, 0, ky, :]
                    wtile[(to, ky)] = wrow
                    put(dram, wbase + wrow * dim, tile)
                    wrow += dim
                continue
            for t in range(cti):
                for ky in range(k):
                    for kx in range(k):
                        tile = np.zeros((dim, dim), np.int8)
                        for j in range(dim):
                            for i in range(dim):
                                co, ci = to * dim + j, t * dim + i
                                if co < self.cout and ci < self.cin:
                                    tile[j, i] = self.wt[co, ci, ky, kx]
                        wtile[(to, t, ky, kx)] = wrow
                        put(dram, wbase + wrow * dim, tile)
                        wrow += dim
        asm.append(f"load mem=WGT sram=0 dram={wbase} ysize={wrow // dim} "
                   f"xsize={dim} stride={dim}")
        # Parameters per output tile: multiplier, shift, bias rows at P..P+2;
        # with 16-bit inputs the bias is an int64 (high word 1024 rows up)
        # plus 128 times the weights' sum (the low plane's excess-128).
        pbase = 131072
        params = []
        for to in range(cto):
            chans = range(to * dim, min(self.cout, (to + 1) * dim))
            bias = []
            for c in chans:
                b = self.b[c]
                if self.in16:
                    b += 128 * int(self.wt[c].astype(np.int64).sum())
                bias.append(b)
            rows = [acc_rows([self.m[c][0] for c in chans], dim),
                    acc_rows([self.m[c][1] for c in chans], dim),
                    acc_rows(bias, dim)]
            hi = acc_rows([b >> 32 for b in bias], dim)
            a0 = pbase + to * 4 * 16 * dim
            put(dram, a0, np.concatenate(rows))
            put(dram, a0 + 3 * 4 * dim, hi)
            prow = 900 + 4 * to
            asm.append(f"load mem=ACC sram={prow} dram={a0} ysize=1 xsize=3 "
                       f"stride=3")
            if self.in16:
                asm.append(f"load mem=ACC sram={prow + 2 + 1024} "
                           f"dram={a0 + 3 * 4 * dim} ysize=1 xsize=1 stride=1")
            params.append(prow)
        asm.append("fence")
        planes = [(0, 0), (2048, 1024)] if self.in16 else [(0, 0)]
        op16 = ""
        if self.fused:  # spec version 5: the two planes in one instruction
            planes, op16 = [(0, 0)], "16"
        out_store = "store16" if self.out16 else "store"
        for to in range(cto):
            acc = 0
            for act_off, acc_off in planes:
                first = True
                if self.dw:
                    for ky in range(k):
                        act = to * block + act_off + ky * wp
                        asm.append(
                            f"dwgemm{op16} reset={int(first)} "
                            f"acc={acc + acc_off} "
                            f"act={act} wgt={wtile[(to, ky)]} inner={w} "
                            f"outer={h} act_ostride={wp} acc_ostride={w} "
                            f"taps={k} stride=1")
                        first = False
                    continue
                for t in range(cti):
                    for ky in range(k):
                        for kx in range(k):
                            act = t * block + act_off + ky * wp + kx
                            asm.append(
                                f"gemm{op16} reset={int(first)} "
                                f"acc={acc + acc_off} "
                                f"act={act} wgt={wtile[(to, t, ky, kx)]} "
                                f"inner={w} outer={h} act_ostride={wp} "
                                f"acc_ostride={w}")
                            first = False
            asm.append("fence")
            dst = to * h * w
            if self.out16:
                asm.append(f"requant dst={dst} src={acc} rows={h * w} "
                           f"param={params[to]} bias=1 "
                           f"acc16={int(self.in16)} out16=1")
            else:
                asm.append(f"requant dst={dst} src={acc} rows={h * w} "
                           f"param={params[to]} zp={self.zy} min={self.lo} "
                           f"max={self.hi} bias=1 acc16={int(self.in16)}")
            asm.append("fence")
        asm.append(f"{out_store} mem=OUT sram=0 dram={base_out} ysize=1 "
                   f"xsize={cto * h * w} stride={cto * h * w}")
        return asm, cto

    def run(self, npu):
        dram = np.zeros(DRAM, np.uint8)
        out = 524288
        asm, cto = self.program(dram, 0, out)
        n = cto * self.h * self.w * self.dim * (2 if self.out16 else 1)
        raw = npu.run(asm, dram, out, n)
        got = raw.view(np.int16 if self.out16 else np.int8).reshape(
            cto, self.h * self.w, self.dim)
        return untile(got, self.cout).reshape(self.cout, self.h, self.w)


def check_conv_vs_ort(case, got, failures):
    """The int16-in, int16-out layer against ONNX Runtime's QDQ Conv (float
    inside): within one output quantum."""
    try:
        import onnx
        import onnxruntime as ort
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        print("SKIP conv 16x8 vs ONNX Runtime (onnx/onnxruntime not installed)")
        return
    c = case
    sw = np.array(c.sw, np.float32)
    bf = np.array([b * c.sx * s for b, s in zip(c.b, c.sw)], np.float32)
    inits = [numpy_helper.from_array(np.array(c.sx, np.float32), "sx"),
             numpy_helper.from_array(np.array(0, np.int16), "zx"),
             numpy_helper.from_array(c.wt, "w"),
             numpy_helper.from_array(sw, "sw"),
             numpy_helper.from_array(np.zeros(c.cout, np.int8), "zw"),
             numpy_helper.from_array(bf, "b"),
             numpy_helper.from_array(np.array(c.sy, np.float32), "sy"),
             numpy_helper.from_array(np.array(0, np.int16), "zy")]
    nodes = [helper.make_node("DequantizeLinear", ["x", "sx", "zx"], ["dx"]),
             helper.make_node("DequantizeLinear", ["w", "sw", "zw"], ["dw"],
                              axis=0),
             helper.make_node("Conv", ["dx", "dw", "b"], ["y"],
                              pads=[c.k // 2] * 4),
             helper.make_node("QuantizeLinear", ["y", "sy", "zy"], ["q"])]
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.INT16,
                                       (1, c.cin, c.h, c.w))],
        [helper.make_tensor_value_info("q", TensorProto.INT16,
                                       (1, c.cout, c.h, c.w))], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 21)])
    m.ir_version = 10
    s = ort.InferenceSession(m.SerializeToString(),
                             providers=["CPUExecutionProvider"])
    want = s.run(None, {"x": c.x[None]})[0][0].astype(np.int64)
    # Ember clamps to RQ16_MIN/MAX; compare where neither clamps.
    inside = (got > c.lo) & (got < c.hi) & (want > c.lo) & (want < c.hi)
    worst = int(np.abs(got.astype(np.int64) - want)[inside].max())
    ok = worst <= 1 and inside.sum() > got.size // 2
    print(f"{'PASS' if ok else 'FAIL'} conv 16x8 vs ONNX Runtime QDQ int16 "
          f"(max {worst} quanta over {int(inside.sum())} outputs)")
    if not ok:
        failures.append("conv16 vs ort")


def check_cascade(npu, rng, dim, failures):
    """Two 16x8 1x1 layers on chip: REQUANT out16 -> MOVE w16 (padding the
    block) -> the second layer's GEMMs, as docs/npu-architecture.md's contract
    cascades a 16-bit layer."""
    cin, cmid, h, w = dim, dim, 3, 4
    x = rand16(rng, (cin, h * w))
    w1 = rng.integers(-127, 128, (cmid, cin)).astype(np.int8)
    w2 = rng.integers(-127, 128, (dim, cmid)).astype(np.int8)
    m1 = [quantize_multiplier(float(v)) for v in rng.uniform(2e-3, 8e-3, dim)]
    m2 = [quantize_multiplier(float(v)) for v in rng.uniform(2e-3, 8e-3, dim)]
    b1 = [int(v) for v in rng.integers(-2**24, 2**24, dim)]
    b2 = [int(v) for v in rng.integers(-2**24, 2**24, dim)]
    # Reference: layer 2 reads the interior of the block MOVE w16 builds
    # (layer 1's output, padded by 1).
    y1 = np.zeros((cmid, h * w), np.int64)
    for c in range(cmid):
        for i in range(h * w):
            a = int(np.dot(w1[c].astype(np.int64), x[:, i].astype(np.int64)))
            y1[c, i] = clamp_out(mbqm(a + b1[c], *m1[c], 48), *I16, 16)
    y2 = np.zeros((dim, h * w), np.int64)
    for c in range(dim):
        for i in range(h * w):
            a = int(np.dot(w2[c].astype(np.int64), y1[:, i]))
            y2[c, i] = clamp_out(mbqm(a + b2[c], *m2[c], 48), *I16, 16)
    dram = np.zeros(DRAM, np.uint8)
    put(dram, 0, tiles(x, dim))
    put(dram, 65536, w1)
    put(dram, 65536 + dim * dim, w2)
    for k, (m, b, wt) in enumerate(((m1, b1, w1), (m2, b2, w2))):
        bias = [bb + 128 * int(wt[c].astype(np.int64).sum())
                for c, bb in enumerate(b)]
        put(dram, 131072 + 8192 * k, np.concatenate(
            [acc_rows([v[0] for v in m], dim), acc_rows([v[1] for v in m], dim),
             acc_rows(bias, dim)]))
        put(dram, 131072 + 8192 * k + 4096, acc_rows([v >> 32 for v in bias],
                                                      dim))
    n = h * w
    wp = w + 2
    asm = ["setreg reg=RQ16_MIN value=-32768", "setreg reg=RQ16_MAX value=32767",
           "setreg reg=PAD_VALUE value=0",
           f"load16 mem=ACT sram=0 dram=0 ysize=1 xsize={n} stride={n}",
           f"load mem=WGT sram=0 dram=65536 ysize=1 xsize={2 * dim} "
           f"stride={2 * dim}"]
    for k in range(2):
        asm += [f"load mem=ACC sram={900 + 4 * k} dram={131072 + 8192 * k} "
                "ysize=1 xsize=3 stride=3",
                f"load mem=ACC sram={902 + 4 * k + 1024} "
                f"dram={131072 + 8192 * k + 4096} ysize=1 xsize=1 stride=1"]
    asm += ["fence",
            f"gemm reset=1 acc=0 act=0 wgt=0 inner={n} outer=1",
            f"gemm reset=1 acc=1024 act=2048 wgt=0 inner={n} outer=1", "fence",
            f"requant dst=0 src=0 rows={n} param=900 bias=1 acc16=1 out16=1",
            "fence",
            f"move dst=100 src=0 ysize={h} xsize={w} stride={w} pad_top=1 "
            "pad_bottom=1 pad_left=1 pad_right=1 w16=1", "fence",
            f"gemm reset=1 acc=100 act={100 + wp + 1} wgt={dim} inner={w} "
            f"outer={h} act_ostride={wp} acc_ostride={w}",
            f"gemm reset=1 acc={1124} act={2148 + wp + 1} wgt={dim} inner={w} "
            f"outer={h} act_ostride={wp} acc_ostride={w}", "fence",
            f"requant dst=200 src=100 rows={n} param=904 bias=1 acc16=1 "
            "out16=1", "fence",
            f"store16 mem=OUT sram=200 dram=524288 ysize=1 xsize={n} "
            f"stride={n}"]
    raw = npu.run(asm, dram, 524288, n * dim * 2)
    got = untile(raw.view(np.int16).reshape(1, n, dim), dim)
    report("two 16x8 layers cascaded (REQUANT out16, MOVE w16)", got, y2,
           failures)


def check_elementwise(npu, rng, dim, failures):
    rows = 40
    n = rows * dim
    a, b = rand16(rng, n), rand16(rng, n)
    dram = np.zeros(DRAM, np.uint8)
    put(dram, 0, a)
    boff = 8192
    put(dram, boff, b)
    # The int16 add: parameters from the scales, as the compiler derives them.
    sa, sb, sy = (float(v) for v in rng.uniform(1e-4, 1e-3, 3))
    t = 2 * max(sa, sb)
    p = {"L": 15, "za": 0, "zb": 0, "zy": 0, "lo": -30000, "hi": 32767,
         "ma": quantize_multiplier(sa / t), "mb": quantize_multiplier(sb / t),
         "my": quantize_multiplier(t / (2**15 * sy))}
    want = [add16(int(x), int(y), p) for x, y in zip(a, b)]
    asm = ["setreg reg=ADD_LSHIFT value=15", "setreg reg=ADD_A_ZP value=0",
           "setreg reg=ADD_B_ZP value=0", "setreg reg=ADD_OUT_ZP value=0",
           f"setreg reg=ADD_A_MULT value={p['ma'][0]}",
           f"setreg reg=ADD_A_SHIFT value={p['ma'][1]}",
           f"setreg reg=ADD_B_MULT value={p['mb'][0]}",
           f"setreg reg=ADD_B_SHIFT value={p['mb'][1]}",
           f"setreg reg=ADD_OUT_MULT value={p['my'][0]}",
           f"setreg reg=ADD_OUT_SHIFT value={p['my'][1]}",
           "setreg reg=ADD_MIN value=-30000", "setreg reg=ADD_MAX value=32767",
           f"load16 mem=OUT sram=0 dram=0 ysize=1 xsize={rows} stride={rows}",
           f"load16 mem=OUT sram=100 dram={boff} ysize=1 xsize={rows} "
           f"stride={rows}", "fence",
           f"vadd dst=200 a=0 b=100 rows={rows} w16=1", "fence",
           f"store16 mem=OUT sram=200 dram=524288 ysize=1 xsize={rows} "
           f"stride={rows}"]
    got = npu.run(asm, dram, 524288, 2 * n).view(np.int16)
    report("int16 quantized add (L 15)", got, want, failures)
    # The int16 multiply, 16 x 16 -> 16, and an int16 map times an int8
    # per-channel scale (broadcast) -> int16.
    m = quantize_multiplier(float(rng.uniform(1e-5, 1e-4)))
    want = [clamp_out(mbqm(int(x) * int(y), *m), -32768, 32767, 16)
            for x, y in zip(a, b)]
    s8 = rng.integers(-128, 128, dim).astype(np.int8)
    zs = int(rng.integers(-10, 10))
    m2 = quantize_multiplier(float(rng.uniform(1e-3, 1e-2)))
    want2 = [clamp_out(mbqm(int(x) * (int(s8[i % dim]) - zs), *m2), -32768,
                       32767, 16) for i, x in enumerate(a)]
    put(dram, 20000, s8)
    mul = ["setreg reg=MUL_A_ZP value=0", "setreg reg=MUL_B_ZP value=0",
           f"setreg reg=MUL_MULT value={m[0]}",
           f"setreg reg=MUL_SHIFT value={m[1]}", "setreg reg=MUL_OUT_ZP value=0",
           "setreg reg=MUL_MIN value=-32768", "setreg reg=MUL_MAX value=32767",
           f"load16 mem=OUT sram=0 dram=0 ysize=1 xsize={rows} stride={rows}",
           f"load16 mem=OUT sram=100 dram={boff} ysize=1 xsize={rows} "
           f"stride={rows}",
           "load mem=OUT sram=1500 dram=20000 ysize=1 xsize=1 stride=1",
           "fence",
           f"vmul dst=200 a=0 b=100 rows={rows} a16=1 b16=1 out16=1", "fence",
           f"setreg reg=MUL_B_ZP value={zs}",
           f"setreg reg=MUL_MULT value={m2[0]}",
           f"setreg reg=MUL_SHIFT value={m2[1]}",
           f"vmul dst=300 a=0 b=1500 rows={rows} bcast=1 a16=1 out16=1",
           "fence",
           f"store16 mem=OUT sram=200 dram=524288 ysize=1 xsize={rows} "
           f"stride={rows}",
           f"store16 mem=OUT sram=300 dram={524288 + 2 * n} ysize=1 "
           f"xsize={rows} stride={rows}"]
    got = npu.run(mul, dram, 524288, 4 * n).view(np.int16)
    report("int16 multiply (16 x 16)", got[:n], want, failures)
    report("int16 map times an int8 per-channel scale", got[n:], want2,
           failures)
    # Precision boundaries: int8 (zero point) -> int16 and int16 -> int8.
    x8 = rng.integers(-128, 128, n).astype(np.int8)
    zx = int(rng.integers(-128, 128))
    mu = quantize_multiplier(float(rng.uniform(5, 100)))  # s8 / s16
    md = quantize_multiplier(float(rng.uniform(1e-3, 1e-2)))  # s16 / s8
    zy = int(rng.integers(-50, 50))
    up = [clamp_out(mbqm(int(v) - zx, *mu), -32768, 32767, 16) for v in x8]
    down = [clamp_out(wrap32(mbqm(int(v), *md) + zy), -128, 127, 8) for v in a]
    put(dram, 40000, x8)
    conv = [f"setreg reg=MUL_A_ZP value={zx}",
            f"setreg reg=MUL_MULT value={mu[0]}",
            f"setreg reg=MUL_SHIFT value={mu[1]}",
            "setreg reg=MUL_OUT_ZP value=0",
            "setreg reg=MUL_MIN value=-32768", "setreg reg=MUL_MAX value=32767",
            f"load mem=OUT sram=1100 dram=40000 ysize=1 xsize={rows} "
            f"stride={rows}",
            f"load16 mem=OUT sram=0 dram=0 ysize=1 xsize={rows} stride={rows}",
            "fence", f"vmul dst=200 a=1100 rows={rows} out16=1 one=1", "fence",
            "setreg reg=MUL_A_ZP value=0", f"setreg reg=MUL_MULT value={md[0]}",
            f"setreg reg=MUL_SHIFT value={md[1]}",
            f"setreg reg=MUL_OUT_ZP value={zy}",
            "setreg reg=MUL_MIN value=-128", "setreg reg=MUL_MAX value=127",
            f"vmul dst=1300 a=0 rows={rows} a16=1 one=1", "fence",
            f"store16 mem=OUT sram=200 dram=524288 ysize=1 xsize={rows} "
            f"stride={rows}",
            f"store mem=OUT sram=1300 dram={524288 + 2 * n} ysize=1 "
            f"xsize={rows} stride={rows}"]
    got = npu.run(conv, dram, 524288, 3 * n)
    report("int8 -> int16 requantization (VMUL one)", got[:2 * n].view(np.int16),
           up, failures)
    report("int16 -> int8 requantization (VMUL one)",
           got[2 * n:].view(np.int8), down, failures)


def check_pool16(npu, rng, dim, kind, k, s, pad, failures):
    h, w = 6, 7
    oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
    x = rand16(rng, (h * w, dim))
    want = np.zeros((oh * ow, dim), np.int64)
    for oy in range(oh):
        for ox in range(ow):
            for lane in range(dim):
                vals = [int(x[iy * w + ix, lane])
                        for iy in range(oy * s - pad, oy * s - pad + k)
                        for ix in range(ox * s - pad, ox * s - pad + k)
                        if 0 <= iy < h and 0 <= ix < w]
                want[oy * ow + ox, lane] = max(vals) if kind == "max" else \
                    avg_half_up(sum(vals), len(vals))
    dram = np.zeros(DRAM, np.uint8)
    put(dram, 0, x)
    asm = [f"setreg reg=POOL_KH value={k}", f"setreg reg=POOL_KW value={k}",
           f"setreg reg=POOL_STRIDE value={s}", f"setreg reg=POOL_IN_W value={w}",
           f"setreg reg=POOL_OUT_W value={ow}",
           f"load16 mem=OUT sram=0 dram=0 ysize=1 xsize={h * w} "
           f"stride={h * w}", "fence",
           f"pool avg={int(kind == 'avg')} dst=300 src=0 rows={oh * ow} "
           f"pad_top={pad} pad_left={pad} in_h={h} w16=1", "fence",
           f"store16 mem=OUT sram=300 dram=524288 ysize=1 xsize={oh * ow} "
           f"stride={oh * ow}"]
    got = npu.run(asm, dram, 524288, 2 * oh * ow * dim).view(np.int16)
    report(f"int16 {kind} pool k{k} s{s} p{pad}", got.reshape(oh * ow, dim),
           want, failures)


def check_upsample16(npu, rng, dim, f, half_pixel, failures):
    h, w = 3, 4
    x = rand16(rng, (h * w, dim)).astype(np.int64)
    k = f.bit_length() - 1

    def taps(o, n):
        c = (o + 0.5) / f - 0.5 if half_pixel else o / f
        fl = math.floor(c)
        r = c - fl
        return (sat(fl, 0, n - 1), sat(fl + 1, 0, n - 1)), (1 - r, r)
    want = np.zeros((f * h * f * w, dim), np.int64)
    for y in range(f * h):
        (y0, y1), (wy0, wy1) = taps(y, h)
        for xx in range(f * w):
            (x0, x1), (wx0, wx1) = taps(xx, w)
            v = (wy0 * wx0 * x[y0 * w + x0] + wy0 * wx1 * x[y0 * w + x1] +
                 wy1 * wx0 * x[y1 * w + x0] + wy1 * wx1 * x[y1 * w + x1])
            want[y * f * w + xx] = np.clip(np.rint(v), -32768, 32767)
    dram = np.zeros(DRAM, np.uint8)
    put(dram, 0, x.astype(np.int16))
    rows = f * h * f * w
    asm = [f"load16 mem=OUT sram=0 dram=0 ysize=1 xsize={h * w} "
           f"stride={h * w}", "fence",
           f"upsample dst=100 src=0 w={w} h={h} oy=0 oh={f * h} factor={k} "
           f"mode={1 if half_pixel else 2} w16=1", "fence",
           f"store16 mem=OUT sram=100 dram=524288 ysize=1 xsize={rows} "
           f"stride={rows}"]
    got = npu.run(asm, dram, 524288, 2 * rows * dim).view(np.int16)
    report(f"int16 bilinear x{f} {'half_pixel' if half_pixel else 'asymmetric'}"
           " vs ONNX Resize", got.reshape(rows, dim), want, failures)


def check_table16(npu, rng, dim, name, fn, s_in, s_out, tol, failures):
    t = table16(fn, s_in, s_out)
    # Inputs: every node and its neighbours, then random ones.
    xs = sorted({v for i in range(513) for v in (128 * i - 32768 - 1,
                                                 128 * i - 32768,
                                                 128 * i - 32768 + 64)
                 if -32768 <= v <= 32767})
    xs = np.array(xs + [int(v) for v in rng.integers(
        -32768, 32768, (-len(xs)) % dim + 4 * dim)], np.int16)
    xs = xs[:len(xs) - len(xs) % dim]
    rows = len(xs) // dim
    want = [lookup16(int(v), t) for v in xs]
    dram = np.zeros(DRAM, np.uint8)
    put(dram, 0, xs)
    put(dram, 200000, np.array(t, np.int16))
    trows = (1026 + 4 * dim - 1) // (4 * dim)
    asm = [f"load mem=ACC sram=500 dram=200000 ysize=1 xsize={trows} "
           f"stride={trows}",
           f"load16 mem=OUT sram=0 dram=0 ysize=1 xsize={rows} stride={rows}",
           "fence", "lutld src=500 w16=1",
           f"lut dst=0 src=0 rows={rows} w16=1", "fence",
           f"store16 mem=OUT sram=0 dram=524288 ysize=1 xsize={rows} "
           f"stride={rows}"]
    got = npu.run(asm, dram, 524288, 2 * len(xs)).view(np.int16)
    report(f"16-bit table {name}: the interpolated lookup", got, want, failures)
    # The table against the function itself (the definition's fidelity).
    err = max(abs(lookup16(v, t) - sat(tfl_round(fn(s_in * v) / s_out), *I16))
              for v in range(-32768, 32768, 3))
    ok = err <= tol
    print(f"{'PASS' if ok else 'FAIL'} 16-bit table {name} within {tol} "
          f"quanta of the function (max {err})")
    if not ok:
        failures.append(f"table {name} accuracy")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--npu", required=True)
    ap.add_argument("--executor", default="golden")
    ap.add_argument("--dim", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    d = a.dim
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        npu = Npu(a, tmp)
        for in16, out16, dw, big in ((True, True, False, False),
                                     (True, True, False, True),
                                     (True, False, False, False),
                                     (False, True, False, False),
                                     (True, True, True, False),
                                     (True, False, True, True)):
            cin = d if dw else d + 5
            c = ConvCase(rng, d, cin, d if dw else d + 3, 4, 5, 3, in16, out16,
                         dw, big)
            ort_case = in16 and out16 and not dw and not big
            if ort_case:
                c.fit_output_scale()
            got = c.run(npu)
            kind = ("16x8" if in16 else "8x8") + (" depthwise" if dw else "")
            report(f"conv {kind} -> int{16 if out16 else 8}"
                   f"{' (bias beyond 2^32)' if big else ''}", got,
                   c.reference(), failures)
            if ort_case:
                check_conv_vs_ort(c, got, failures)
        check_cascade(npu, rng, d, failures)
        check_elementwise(npu, rng, d, failures)
        check_pool16(npu, rng, d, "max", 5, 1, 2, failures)
        check_pool16(npu, rng, d, "avg", 3, 2, 1, failures)
        check_pool16(npu, rng, d, "avg", 3, 1, 1, failures)
        for f in (2, 8):
            for hp in (True, False):
                check_upsample16(npu, rng, d, f, hp, failures)
        check_table16(npu, rng, d, "sigmoid", lambda v: 1 / (1 + math.exp(-v)),
                      8.0 / 32768, 1.0 / 32768, 3, failures)
        check_table16(npu, rng, d, "tanh", math.tanh, 4.0 / 32768,
                      1.0 / 32768, 3, failures)
        # Spec version 5: the 16x8 layers with GEMM16 / DWGEMM16 (both
        # planes in one instruction) instead of one array op per plane.
        for dw, out16 in ((False, True), (True, False)):
            c = ConvCase(rng, d, d if dw else d + 5, d if dw else d + 3, 4, 5,
                         3, True, out16, dw)
            c.fused = True
            report(f"conv 16x8{' depthwise' if dw else ''} -> "
                   f"int{16 if out16 else 8} (gemm16)", c.run(npu),
                   c.reference(), failures)
    print(f"{npu.n} cases, {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
