//===- WideRows.cpp - 16-bit rows in the SystemC NPU model ----------------===//
#include "WideRows.h"

#include "ember/npu/Arith.h"

#include <vector>

namespace ember::npu {

void splitWideRows(const uint8_t *rows16, int64_t rows, uint8_t *lo,
                   uint8_t *hi) {
  for (int64_t e = 0; e < rows * kDim; ++e) {
    int32_t v = int16_t(uint16_t(rows16[2 * e] | (rows16[2 * e + 1] << 8)));
    lo[e] = uint8_t(wideLo(v));
    hi[e] = uint8_t(wideHi(v));
  }
}

void joinWideRows(const uint8_t *lo, const uint8_t *hi, int64_t rows,
                  uint8_t *rows16) {
  for (int64_t e = 0; e < rows * kDim; ++e) {
    int32_t v = wideValue(int8_t(lo[e]), int8_t(hi[e]));
    rows16[2 * e] = uint8_t(v & 0xff);
    rows16[2 * e + 1] = uint8_t((v >> 8) & 0xff);
  }
}

void fillWideRows(uint8_t *rows16, int64_t rows, int32_t v) {
  for (int64_t e = 0; e < rows * kDim; ++e) {
    rows16[2 * e] = uint8_t(v & 0xff);
    rows16[2 * e + 1] = uint8_t((v >> 8) & 0xff);
  }
}

bool isWideVector(const Insn &insn) {
  switch (insn.op) {
  case Opcode::REQUANT:
    return insn.acc16 || insn.out16;
  case Opcode::VMUL:
    return insn.a16 || insn.b16 || insn.out16 || insn.one;
  case Opcode::VADD:
  case Opcode::POOL:
  case Opcode::LUTLD:
  case Opcode::LUT:
  case Opcode::UPSAMPLE:
    return insn.w16 != 0;
  default:
    return false;
  }
}

namespace {

const int64_t kOutHalf = EMBER_NPU_OUT_HALF, kAccHalf = EMBER_NPU_ACC_HALF;

/// OUT operands and results of either width, through the port.
struct Values {
  WideVectorPort &port;
  std::vector<uint8_t> lo, hi;

  std::vector<int32_t> read(int64_t row, int64_t rows, bool w16) {
    std::vector<int32_t> v(size_t(rows * kDim));
    lo.resize(v.size());
    port.read(EMBER_NPU_MEM_OUT, row, lo.data(), rows);
    if (w16) {
      hi.resize(v.size());
      port.read(EMBER_NPU_MEM_OUT, row + kOutHalf, hi.data(), rows);
    }
    for (size_t e = 0; e < v.size(); ++e)
      v[e] = w16 ? wideValue(int8_t(lo[e]), int8_t(hi[e])) : int8_t(lo[e]);
    return v;
  }

  void write(int64_t row, const std::vector<int32_t> &v, bool w16,
             const int8_t *lut8) {
    const int64_t rows = int64_t(v.size()) / kDim;
    lo.resize(v.size());
    hi.resize(v.size());
    for (size_t e = 0; e < v.size(); ++e) {
      if (w16) {
        lo[e] = uint8_t(wideLo(v[e]));
        hi[e] = uint8_t(wideHi(v[e]));
      } else {
        int8_t q = int8_t(v[e]);
        lo[e] = uint8_t(lut8 ? lut8[lutIndex(q)] : q);
      }
    }
    port.write(EMBER_NPU_MEM_OUT, row, lo.data(), rows);
    if (w16)
      port.write(EMBER_NPU_MEM_OUT, row + kOutHalf, hi.data(), rows);
  }
};

/// The rows an operand occupies: a 16-bit one its two planes.
std::vector<int64_t> planes(int64_t row, bool w16) {
  if (w16)
    return {row, row + kOutHalf};
  return {row};
}

/// A streamed instruction (source row i read in cycle 1 + i, result row i
/// written as it arrives) must stage its results when a destination plane
/// lies 2 .. rows - 1 rows after a source plane: it would be written before
/// that source row is read.
bool streamHazard(const std::vector<int64_t> &dst,
                  const std::vector<int64_t> &src, int64_t rows) {
  for (int64_t d : dst)
    for (int64_t s : src)
      if (d >= s + 2 && d < s + rows)
        return true;
  return false;
}

/// A destination overlapping a source read out of order (POOL, UPSAMPLE).
bool overlapHazard(const std::vector<int64_t> &dst, int64_t rows,
                   const std::vector<int64_t> &src, int64_t span) {
  for (int64_t d : dst)
    for (int64_t s : src)
      if (d < s + span && s < d + rows)
        return true;
  return false;
}

} // namespace

uint64_t runWideVector(const Insn &insn, const int32_t *regs,
                       const std::array<int8_t, 256> &lut8,
                       std::array<int16_t, 513> &lut16, WideVectorPort &port,
                       std::string &err) {
  Values io{port, {}, {}};
  const int8_t *table = insn.lut ? lut8.data() : nullptr;
  int64_t rows = insn.rows, reads = insn.rows;
  bool staged = false;
  switch (insn.op) {
  case Opcode::LUTLD: {
    // The 16-bit table's ACC rows, one a cycle (little-endian int16 entries).
    std::vector<uint8_t> b(size_t(kLut16Rows) * 4 * kDim);
    port.read(EMBER_NPU_MEM_ACC, insn.src, b.data(), kLut16Rows);
    for (size_t e = 0; e < lut16.size(); ++e)
      lut16[e] = int16_t(uint16_t(b[2 * e] | (b[2 * e + 1] << 8)));
    return uint64_t(kLut16Rows) / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
           EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES;
  }
  case Opcode::REQUANT: {
    // Parameter rows, then per row the accumulator (with acc16 its two plane
    // sums on one port) and the bias; an int64 bias with acc16.
    std::vector<int32_t> p(3 * size_t(kDim)), ph(size_t{kDim}),
        acc(size_t(rows) * kDim), acch;
    port.read(EMBER_NPU_MEM_ACC, insn.param, p.data(), insn.bias ? 3 : 2);
    if (insn.acc16 && insn.bias)
      port.read(EMBER_NPU_MEM_ACC, insn.param + 2 + kAccHalf, ph.data(), 1);
    port.read(EMBER_NPU_MEM_ACC, insn.src, acc.data(), rows);
    if (insn.acc16) {
      acch.resize(acc.size());
      port.read(EMBER_NPU_MEM_ACC, insn.src + kAccHalf, acch.data(), rows);
    }
    const int32_t lo = insn.out16 ? regs[EMBER_NPU_REG_RQ16_MIN]
                                  : static_cast<int32_t>(insn.min),
                  hi = insn.out16 ? regs[EMBER_NPU_REG_RQ16_MAX]
                                  : static_cast<int32_t>(insn.max);
    std::vector<int32_t> out(acc.size());
    for (size_t e = 0; e < acc.size(); ++e) {
      const size_t l = e % kDim;
      int32_t x = acc[e];
      int64_t x16 = 0;
      if (insn.acc16)
        x16 = acc16Value(x, acch[e],
                         insn.bias ? wideWord(p[2 * kDim + l], ph[l]) : 0);
      else if (insn.bias)
        x = wrapAdd(x, p[2 * kDim + l]);
      out[e] = requantizeAny(insn.acc16, x, x16, p[l], p[kDim + l],
                             static_cast<int32_t>(insn.zp), lo, hi, insn.out16);
    }
    io.write(insn.dst, out, insn.out16, table);
    break;
  }
  case Opcode::VADD: {
    std::vector<int32_t> a = io.read(insn.a, rows, true),
                         b = io.read(insn.b, rows, true), out(a.size());
    AddParams p = addParamsFromRegs(regs);
    for (size_t e = 0; e < a.size(); ++e)
      out[e] = quantAdd16(a[e], b[e], p);
    io.write(insn.dst, out, true, nullptr);
    staged = streamHazard(planes(insn.dst, true), planes(insn.a, true), rows) ||
             streamHazard(planes(insn.dst, true), planes(insn.b, true), rows);
    break;
  }
  case Opcode::VMUL: {
    std::vector<int32_t> a = io.read(insn.a, rows, insn.a16), b, out(a.size());
    if (!insn.one)
      b = io.read(insn.b, insn.bcast ? 1 : rows, insn.b16);
    MulForm f{insn.a16 != 0, insn.b16 != 0, insn.out16 != 0, insn.one != 0};
    for (size_t e = 0; e < a.size(); ++e)
      out[e] = quantMulAny(a[e], insn.one ? 0 : b[insn.bcast ? e % kDim : e],
                           regs, f);
    io.write(insn.dst, out, insn.out16, table);
    std::vector<int64_t> dst = planes(insn.dst, insn.out16);
    staged = streamHazard(dst, planes(insn.a, insn.a16), rows) ||
             (!insn.one && !insn.bcast &&
              streamHazard(dst, planes(insn.b, insn.b16), rows));
    break;
  }
  case Opcode::LUT: {
    // Lane groups of lut16_lanes_per_cycle: kLut16CyclesPerRow per row.
    std::vector<int32_t> v = io.read(insn.src, rows, true);
    for (int32_t &x : v)
      x = quant::tableLookup16(x, lut16.data());
    io.write(insn.dst, v, true, nullptr);
    reads = rows * kLut16CyclesPerRow;
    staged = streamHazard(planes(insn.dst, true), planes(insn.src, true), rows);
    break;
  }
  case Opcode::POOL: {
    PoolGeom g = poolGeom(regs, insn);
    int64_t span = 0;
    err = checkPool(insn, g, span);
    if (!err.empty())
      return 0;
    std::vector<int32_t> src = io.read(insn.src, span, true),
                         out(size_t(rows * kDim));
    for (int64_t i = 0; i < rows; ++i) {
      for (int l = 0; l < kDim; ++l) {
        int32_t acc = insn.avg ? 0 : quant::kInt16Min, taps = 0;
        for (int64_t ky = 0; ky < g.kh; ++ky)
          for (int64_t kx = 0; kx < g.kw; ++kx) {
            int64_t row = poolTapRow(g, i, ky, kx); // -1: skipped
            if (row < 0)
              continue;
            int32_t v = src[size_t(row * kDim + l)];
            acc = insn.avg ? acc + v : std::max(acc, v);
            ++taps;
          }
        out[size_t(i * kDim + l)] =
            insn.avg ? clampI16(quant::averageHalfUp(acc, taps),
                                quant::kInt16Min, quant::kInt16Max)
                     : acc;
      }
    }
    io.write(insn.dst, out, true, nullptr);
    reads = rows * g.kh * g.kw; // every tap takes its cycle
    staged = overlapHazard(planes(insn.dst, true), rows, planes(insn.src, true),
                           span);
    break;
  }
  case Opcode::UPSAMPLE: {
    const int64_t f = int64_t(1) << insn.factor, ow = f * insn.w,
                  srcRows = insn.h * insn.w;
    rows = insn.oh * ow;
    reads = insn.mode == 0 ? rows : 2 * rows; // bilinear: two taps a cycle
    std::vector<int32_t> src = io.read(insn.src, srcRows, true),
                         out(size_t(rows * kDim));
    for (int64_t r = 0; r < insn.oh; ++r) {
      UpTaps ty = upsampleTaps(insn.oy + r, insn.h, insn.factor, insn.mode);
      for (int64_t x = 0; x < ow; ++x) {
        UpTaps tx = upsampleTaps(x, insn.w, insn.factor, insn.mode);
        for (int l = 0; l < kDim; ++l) {
          int32_t v[2][2];
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
              v[a][b] = src[size_t(
                  ((a ? ty.i1 : ty.i0) * insn.w + (b ? tx.i1 : tx.i0)) * kDim +
                  l)];
          out[size_t((r * ow + x) * kDim + l)] = upsampleValue16(
              v, ty, tx, insn.factor, static_cast<int32_t>(insn.zp));
        }
      }
    }
    io.write(insn.dst, out, true, nullptr);
    staged = overlapHazard(planes(insn.dst, true), rows, planes(insn.src, true),
                           srcRows);
    break;
  }
  default:
    err = "internal: not a 16-bit VECTOR instruction";
    return 0;
  }
  return uint64_t(reads) / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES +
         (staged ? uint64_t(rows) + 1 : 0);
}

} // namespace ember::npu
