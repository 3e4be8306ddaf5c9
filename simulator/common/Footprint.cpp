//===- Footprint.cpp - What each NPU instruction reads and writes ---------===//
#include "ember/npu/Footprint.h"

#include "ember/npu/Arith.h"

#include <algorithm>

namespace ember::npu {

namespace {

constexpr int kAct = EMBER_NPU_MEM_ACT, kWgt = EMBER_NPU_MEM_WGT,
              kAcc = EMBER_NPU_MEM_ACC, kOut = EMBER_NPU_MEM_OUT;

/// Rows [row, row + n) of scratchpad `mem` (nothing when n <= 0).
void rows(std::vector<Access> &r, int mem, int64_t row, int64_t n, bool write) {
  if (n <= 0)
    return;
  uint64_t rb = static_cast<uint64_t>(memRowBytes(mem));
  r.push_back({mem, static_cast<uint64_t>(row) * rb,
               static_cast<uint64_t>(row + n) * rb, write});
}

void table(std::vector<Access> &r, bool write) {
  r.push_back({kSpaceLut, 0, kLut16Offset, write});
}

/// Whether `i` reads or writes 16-bit rows (spec version 3): row pairs
/// (r, r + half) of ACT, OUT and ACC.
bool wideForm(const Insn &i) {
  return i.op == Opcode::LOAD16 || i.op == Opcode::STORE16 || i.w16 ||
         i.out16 || i.a16 || i.b16 || i.acc16 || isArray16(i.op);
}

/// The rows a GEMM or DWGEMM writes: inner rows per line, lines acc_ostride
/// apart (lines may overlap).
void accLines(std::vector<Access> &r, const Insn &i, bool write) {
  for (int64_t o = 0; o < i.outer; ++o)
    rows(r, kAcc, i.acc + o * i.acc_ostride, i.inner, write);
}

} // namespace

const char *spaceName(int space) {
  if (space >= 0 && space < kNumMems)
    return memName(space);
  if (space == kSpaceDram)
    return "DRAM";
  if (space == kSpaceLut)
    return "LUT";
  return "?";
}

uint64_t spaceBytes(int space, uint64_t dramBytes) {
  if (space >= 0 && space < kNumMems)
    return static_cast<uint64_t>(memRows(space)) *
           static_cast<uint64_t>(memRowBytes(space));
  if (space == kSpaceDram)
    return dramBytes;
  return space == kSpaceLut ? kLutSpaceBytes : 0;
}

// GEMM16 and DWGEMM16 (spec version 5): every ACT and ACC row they touch
// has its upper-half twin, all of them 16-bit rows, so their writes are
// exact too.
bool footprintExact(const Insn &insn) {
  return !wideForm(insn) || isArray16(insn.op);
}

void mergeAccesses(std::vector<Access> &ranges) {
  std::sort(ranges.begin(), ranges.end(), [](const Access &a, const Access &b) {
    if (a.write != b.write)
      return a.write < b.write;
    if (a.space != b.space)
      return a.space < b.space;
    return a.lo < b.lo;
  });
  std::vector<Access> out;
  for (const Access &a : ranges) {
    if (a.hi <= a.lo)
      continue;
    if (!out.empty() && out.back().write == a.write &&
        out.back().space == a.space && a.lo <= out.back().hi)
      out.back().hi = std::max(out.back().hi, a.hi);
    else
      out.push_back(a);
  }
  ranges.swap(out);
}

std::vector<Access> footprint(const Insn &i, const int32_t *regs,
                              bool exactWrites) {
  std::vector<Access> r;
  switch (i.op) {
  case Opcode::LOAD:
  case Opcode::LOAD16: {
    int mem = static_cast<int>(i.mem);
    uint64_t rb = static_cast<uint64_t>(dmaRowBytes(i));
    int64_t h = i.ysize + i.pad_top + i.pad_bottom,
            w = i.xsize + i.pad_left + i.pad_right;
    r.push_back(
        {kSpaceDram, static_cast<uint64_t>(i.dram),
         static_cast<uint64_t>(i.dram) +
             static_cast<uint64_t>((i.ysize - 1) * i.stride + i.xsize) * rb,
         false});
    rows(r, mem, i.sram, h * w, true);
    break;
  }
  case Opcode::MOVE: {
    int64_t rp = i.rep + 1;
    rows(r, kOut, i.src, (i.ysize - 1) * i.stride + i.xsize, false);
    rows(r, kAct, i.dst,
         (i.ysize * rp + i.pad_top + i.pad_bottom) *
             (i.xsize * rp + i.pad_left + i.pad_right),
         true);
    break;
  }
  case Opcode::STORE:
  case Opcode::STORE16: {
    int mem = static_cast<int>(i.mem);
    uint64_t rb = static_cast<uint64_t>(dmaRowBytes(i));
    int64_t rp = i.rep + 1, s = i.xstep + 1;
    rows(r, mem, i.sram, i.ysize * i.xsize, false);
    uint64_t base = static_cast<uint64_t>(i.dram);
    if (!exactWrites) {
      uint64_t last = static_cast<uint64_t>((i.ysize * rp - 1) * i.stride +
                                            (i.xsize * rp - 1) * s);
      r.push_back({kSpaceDram, base, base + (last + 1) * rb, true});
      break;
    }
    // Block row (y, x) goes to DRAM row (y r + dy) stride + (x r + dx) s, only
    // the lane groups of `lanes` (0: all).
    const uint64_t gb = rb / kNumLaneGroups;
    std::vector<Access> w;
    for (int64_t oy = 0; oy < i.ysize * rp; ++oy)
      for (int64_t ox = 0; ox < i.xsize * rp; ++ox) {
        uint64_t a = base + static_cast<uint64_t>(oy * i.stride + ox * s) * rb;
        if (!i.lanes) {
          w.push_back({kSpaceDram, a, a + rb, true});
          continue;
        }
        for (int g = 0; g < kNumLaneGroups; ++g)
          if ((i.lanes >> g) & 1)
            w.push_back({kSpaceDram, a + g * gb, a + (g + 1) * gb, true});
      }
    mergeAccesses(w);
    r.insert(r.end(), w.begin(), w.end());
    break;
  }
  case Opcode::GEMM:
  case Opcode::DWGEMM:
  case Opcode::GEMM16:
  case Opcode::DWGEMM16: {
    const int64_t line = lineRows(i);
    for (int64_t o = 0; o < i.outer; ++o)
      rows(r, kAct, i.act + o * i.act_ostride, line, false);
    rows(r, kWgt, i.wgt, kDim, false);
    if (!i.reset)
      accLines(r, i, false);
    accLines(r, i, true);
    break;
  }
  case Opcode::REQUANT:
    rows(r, kAcc, i.src, i.rows, false);
    rows(r, kAcc, i.param, i.bias ? 3 : 2, false);
    if (i.lut)
      table(r, false);
    rows(r, kOut, i.dst, i.rows, true);
    break;
  case Opcode::VADD:
    rows(r, kOut, i.a, i.rows, false);
    rows(r, kOut, i.b, i.rows, false);
    if (i.lut)
      table(r, false);
    rows(r, kOut, i.dst, i.rows, true);
    break;
  case Opcode::POOL: {
    int64_t span = 0;
    checkPool(i, poolGeomFromRegs(regs), span);
    rows(r, kOut, i.src, span, false);
    if (i.lut)
      table(r, false);
    rows(r, kOut, i.dst, i.rows, true);
    break;
  }
  case Opcode::LUTLD:
    if (i.w16) {
      rows(r, kAcc, i.src, kLut16Rows, false);
      r.push_back({kSpaceLut, kLut16Offset, kLutSpaceBytes, true});
      break;
    }
    rows(r, kAcc, i.src, kLutRows, false);
    table(r, true);
    break;
  case Opcode::LUT:
    rows(r, kOut, i.src, i.rows, false);
    if (i.w16)
      r.push_back({kSpaceLut, kLut16Offset, kLutSpaceBytes, false});
    else
      table(r, false);
    rows(r, kOut, i.dst, i.rows, true);
    break;
  case Opcode::VMUL:
    rows(r, kOut, i.a, i.rows, false);
    rows(r, kOut, i.b, i.bcast ? 1 : i.rows, false);
    if (i.lut)
      table(r, false);
    rows(r, kOut, i.dst, i.rows, true);
    break;
  case Opcode::UPSAMPLE:
    rows(r, kOut, i.src, i.h * i.w, false);
    if (i.lut)
      table(r, false);
    rows(r, kOut, i.dst, i.oh * (i.w << i.factor), true);
    break;
  case Opcode::VREDUCE: // the span of the groups' rows, one ACC row a group
    rows(r, kOut, i.src, reduceSpan(i), false);
    // sq, exp: each group's sum or maximum, read before its row is written.
    if (i.sq || i.exp)
      rows(r, kAcc, i.dst, i.rows, false);
    rows(r, kAcc, i.dst, i.rows, true);
    break;
  case Opcode::RSCALAR: // one ACC row a scalar, read and written
    rows(r, kAcc, i.src, i.rows, false);
    rows(r, kAcc, i.dst, i.rows, true);
    break;
  case Opcode::VROWMUL: // rows stride apart, two ACC scalars a row, params
  case Opcode::VROWEXP: // (spec version 11: no params)
    for (int64_t g = 0; g < i.rows; ++g)
      rows(r, kOut, i.src + g * i.stride, 1, false);
    rows(r, kAcc, i.scal, i.rows, false);
    rows(r, kAcc, i.sum, i.rows, false);
    if (i.op == Opcode::VROWMUL)
      rows(r, kAcc, i.param, 4, false);
    for (int64_t g = 0; g < i.rows; ++g)
      rows(r, kOut, i.dst + g * i.stride, 1, true);
    break;
  case Opcode::SETREG:
  case Opcode::FENCE:
  case Opcode::FINISH:
    break;
  }
  // A 16-bit row r is the row pair (r, r + half): every row access of ACT,
  // OUT and ACC has its upper-half twin (for the 8-bit operands of a mixed
  // form too: a superset is enough for ordering, and a retirement record
  // reports the bytes as they are after the instruction).
  if (wideForm(i)) {
    size_t n = r.size();
    for (size_t k = 0; k < n; ++k) {
      Access a = r[k];
      if (a.space != kAct && a.space != kOut && a.space != kAcc)
        continue;
      uint64_t h = static_cast<uint64_t>(wideHalf(a.space)) *
                   static_cast<uint64_t>(memRowBytes(a.space));
      uint64_t size = spaceBytes(a.space, 0);
      if (a.lo + h >= size)
        continue;
      r.push_back({a.space, a.lo + h, std::min(a.hi + h, size), a.write});
    }
  }
  mergeAccesses(r);
  return r;
}

} // namespace ember::npu
