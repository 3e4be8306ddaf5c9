//===- RtlCycleTest.cpp - RTL and SystemC cycles agree --------------------===//
//
// Cycle agreement of the RTL and the SystemC model. "The RTL is the truth for
// timing": the SystemC model must give the same cycle count as the RTL on
// compute-only programs (operands already resident: GEMM, VECTOR, SETREG, FENCE
// and the tokens between them), on DMA programs alone and contending (a LOAD
// and a STORE asking for the DRAM in the same cycle) and on the kernels.
// Prints the per-kernel table (docs/npu-rtl.md quotes it).
//===----------------------------------------------------------------------===//
#include "Kernels.h"
#include "NpuTestUtil.h"
#include "ProgramGen.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>
#include <string>

namespace ember::npu::test {
namespace {

// The instruction builders are ProgramGen.h's; these two fix the fields the
// timing programs do not vary.
Insn requant(int64_t dst, int64_t src, int64_t rows) {
  return requantInsn(dst, src, rows, EMBER_NPU_ACC_ROWS - 2, 0, -128, 127);
}

Insn pool(int64_t dst, int64_t src, int64_t rows) {
  return poolInsn(false, dst, src, rows);
}

struct Devices {
  ember_npu_device_t *rtl = nullptr, *systemc = nullptr;
  Devices(uint64_t dram, uint32_t bw = 0) {
    rtl = makeDevice(EMBER_NPU_EXECUTOR_RTL, dram, bw);
    systemc = makeDevice(EMBER_NPU_EXECUTOR_SYSTEMC, dram, bw);
  }
  ~Devices() {
    ember_npu_device_destroy(rtl);
    ember_npu_device_destroy(systemc);
  }
};

// One program's cycle counts on the RTL and the SystemC model (the same
// words and DRAM image), or what failed on either.
struct Cycles {
  uint64_t rtl = 0, systemc = 0;
  std::string error;
};
Cycles runBoth(const Devices &d, const std::vector<Word> &words,
               const std::vector<uint8_t> &dram) {
  RunOutput r = runProgram(d.rtl, words, dram, false);
  RunOutput s = runProgram(d.systemc, words, dram, false);
  Cycles c;
  c.rtl = r.counters.cycles;
  c.systemc = s.counters.cycles;
  if (r.status != EMBER_NPU_STATUS_OK)
    c.error = "RTL: " + r.error;
  else if (s.status != EMBER_NPU_STATUS_OK)
    c.error = "SystemC: " + s.error;
  return c;
}

/// Spec version 3's 16-bit forms in compute-only programs: the 16x8 layer
/// (two planes' GEMMs, REQUANT acc16 to int16 and int8, with the int64
/// bias), every VECTOR form at 16 bits with its staged cases (a 16-bit
/// destination's high plane after an 8-bit source), LUT w16's lane groups,
/// MOVE w16, spec version 5's GEMM16 and DWGEMM16, and random mixes of 8-
/// and 16-bit instructions.
void addWideComputePrograms(
    std::vector<std::pair<std::string, std::vector<Insn>>> &ps) {
  auto add = [&](const std::string &name, SafeProgramBuilder &b) {
    ps.push_back({name, b.finish()});
  };
  const int64_t accHalf = EMBER_NPU_ACC_HALF, actHalf = EMBER_NPU_ACT_HALF,
                outHalf = EMBER_NPU_OUT_HALF;
  for (int rows : {1, kDim, 60}) {
    SafeProgramBuilder b; // a 16x8 layer: the planes' GEMMs, then REQUANT
    b.add(moveInsn(0, 0, 1, rows, rows, 0, 0, 0, 0, 0, true));
    b.add(gemmInsn(true, 0, 0, 0, rows, 1));
    b.add(gemmInsn(true, accHalf, actHalf, 0, rows, 1));
    b.add(dwgemmInsn(true, 100, 0, 16, rows, 1, 0, 0, 3));
    b.add(dwgemmInsn(true, 100 + accHalf, actHalf, 16, rows, 1, 0, 0, 3));
    b.add(requantInsn(0, 0, rows, 200, 0, 0, 0, true, false, true, true));
    b.add(requantInsn(100, 100, rows, 200, 3, -128, 127, false, true, true));
    b.add(requantInsn(300, 0, rows, 200, 0, 0, 0, true, false, false, true));
    b.add(moveInsn(200, 0, 1, rows, rows, 1, 1, 1, 1, 1, true));
    add("layer16x8_rows" + std::to_string(rows), b);
  }
  {
    SafeProgramBuilder b; // VADD, VMUL (every form), staging by planes
    b.add(setregInsn(EMBER_NPU_REG_ADD_LSHIFT, 15));
    b.add(vaddInsn(100, 0, 50, 20, false, true));
    b.add(vaddInsn(10, 0, 30, 20, false, true)); // staged
    b.add(vaddInsn(0, 0, 40, 20, false, true));  // in place
    for (int form = 0; form < 16; ++form) {
      bool a16 = form & 1, b16 = form & 2, out16 = form & 4, one = form & 8;
      b.add(vmulInsn(200, 0, one ? 0 : 40, 25, false, false, a16, one ? 0 : b16,
                     out16, one));
      if (!one)
        b.add(vmulInsn(3, 0, 40, 25, true, false, a16, b16, out16)); // staged
    }
    // A 16-bit destination whose high plane is 4 rows after an 8-bit a.
    b.add(vmulInsn(100, outHalf + 96, 0, 8, false, false, false, false, true,
                   true));
    add("vadd_vmul16", b);
  }
  {
    SafeProgramBuilder b; // the 16-bit table: every row count, staged
    b.add(lutldInsn(EMBER_NPU_ACC_ROWS - kLut16Rows, true));
    for (int rows : {1, 2, 7, 40})
      b.add(lutInsn(100, 0, rows, true));
    b.add(lutInsn(3, 0, 30, true)); // staged
    b.add(lutldInsn(EMBER_NPU_ACC_ROWS - kLutRows));
    b.add(lutInsn(300, 0, 9)); // the 8-bit table beside it
    add("lut16", b);
  }
  for (int mode = 0; mode < 3; ++mode) {
    SafeProgramBuilder b; // UPSAMPLE w16 and POOL w16 (bounded, staged)
    for (int k = 0; k < 4; ++k)
      b.add(upsampleInsn(100, 0, 3, 4, 1, 3, k, mode, 0, false, true));
    b.add(upsampleInsn(4, 0, 5, 2, 0, 4, 1, mode, 0, false, true)); // staged
    b.add(setregInsn(EMBER_NPU_REG_POOL_KH, 3));
    b.add(setregInsn(EMBER_NPU_REG_POOL_KW, 3));
    b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, 1));
    b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, 6));
    b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, 6));
    b.add(poolInsn(mode == 1, 300, 200, 24, 1, 1, 4, false, true));
    b.add(poolInsn(mode != 1, 202, 200, 24, 1, 1, 4, false, true)); // staged
    add("upsample_pool16_mode" + std::to_string(mode), b);
  }
  // Spec version 5: GEMM16 and DWGEMM16 take their int8 op's cycles; alone,
  // in chains on the same accumulator pairs, beside int8 ops on the high
  // plane's rows, and before a REQUANT acc16 that waits for their results.
  for (int rows : {1, kDim, 3 * kDim + 1}) {
    SafeProgramBuilder b;
    b.add(gemm16Insn(true, 0, 0, 0, rows, 1));
    b.add(gemm16Insn(false, 0, 5, 16, rows, 2, rows, 0));
    b.add(gemmInsn(false, accHalf, actHalf, 32, rows, 1));
    b.add(gemm16Insn(false, 0, 9, 48, rows, 1));
    for (int taps : {1, 3, kDwMaxTaps})
      b.add(dwgemm16Insn(taps == 1, 100, 7, 16 * taps, rows, 2, rows + taps,
                         rows, taps, 1 + taps % 3, taps <= kDim - 4));
    b.add(dwgemmInsn(false, 100 + accHalf, actHalf + 7, 16, rows, 1, 0, 0, 3));
    b.add(requantInsn(0, 0, rows, 200, 0, 0, 0, true, false, true, true));
    add("array16_rows" + std::to_string(rows), b);
  }
  std::mt19937 rng(17);
  for (int n = 0; n < 20; ++n) {
    SafeProgramBuilder b;
    auto rnd = [&](int lo, int hi) {
      return lo + static_cast<int>(rng() % (hi - lo + 1));
    };
    for (int k = 0; k < 24; ++k) {
      int kind = rnd(0, 8), rows = rnd(1, 20);
      if (kind == 8) {
        if (rng() % 2)
          b.add(gemm16Insn(rnd(0, 1), rnd(0, 200), rnd(0, 200), rnd(0, 100),
                           rows, rnd(1, 2), rnd(0, 30), rnd(0, 30)));
        else
          b.add(dwgemm16Insn(rnd(0, 1), rnd(0, 200), rnd(0, 200), rnd(0, 100),
                             rows, rnd(1, 2), rnd(0, 30), rnd(0, 30),
                             rnd(1, kDim - 4), rnd(1, 3), rnd(0, 1)));
      } else if (kind == 0) {
        b.add(gemmInsn(rnd(0, 1), rnd(0, 200) + rnd(0, 1) * accHalf,
                       rnd(0, 200) + rnd(0, 1) * actHalf, rnd(0, 100), rows,
                       rnd(1, 2), rnd(0, 30), rnd(0, 30)));
      } else if (kind == 1) {
        bool out16 = rng() % 2;
        b.add(requantInsn(rnd(0, 300) + (out16 ? 0 : rnd(0, 1) * outHalf),
                          rnd(0, 300), rows, 400, out16 ? 0 : 3,
                          out16 ? 0 : -128, out16 ? 0 : 127, rng() % 2, false,
                          rng() % 3 != 0, out16));
      } else if (kind == 2) {
        b.add(
            vaddInsn(rnd(0, 100), rnd(0, 100), rnd(0, 100), rows, false, true));
      } else if (kind == 3) {
        bool a16 = rng() % 2, b16 = rng() % 2, out16 = rng() % 2,
             one = rng() % 4 == 0, bcast = !one && rng() % 3 == 0;
        auto row = [&](bool w16) {
          return rnd(0, 100) + (w16 ? 0 : rnd(0, 1) * outHalf);
        };
        b.add(vmulInsn(row(out16), row(a16), one ? 0 : row(b16), rows, bcast,
                       false, a16, one ? false : b16, out16, one));
      } else if (kind == 4) {
        if (rng() % 3 == 0)
          b.add(lutldInsn(rnd(0, 300), true));
        else
          b.add(lutInsn(rnd(0, 100), rnd(0, 100), rows, true));
      } else if (kind == 5) {
        int f = rnd(0, 3), w = rnd(1, 4), h = rnd(1, 4);
        int oy = rnd(0, (h << f) - 1);
        b.add(upsampleInsn(rnd(0, 200), rnd(0, 200), w, h, oy,
                           rnd(1, (h << f) - oy), f, rnd(0, 2), rnd(-9, 9),
                           false, true));
      } else if (kind == 6) {
        b.add(moveInsn(rnd(0, 200), rnd(0, 200), rnd(1, 4), rnd(1, 12),
                       rnd(0, 14), rnd(0, 3), rnd(0, 3), rnd(0, 3), rnd(0, 3),
                       rng() % 3 == 0 ? rnd(1, 2) : 0, rng() % 2));
      } else {
        b.add(vaddInsn(rnd(0, 100) + outHalf, rnd(0, 100) + outHalf,
                       rnd(0, 100), rows)); // 8-bit, on high planes
      }
    }
    add("random_compute16_" + std::to_string(n), b);
  }
}

/// Compute-only programs: directed shapes around the array size, chains, token
/// hand-overs, back-pressure on a full channel, FENCE, staged VECTOR
/// instructions, and random mixes.
std::vector<std::pair<std::string, std::vector<Insn>>> computeOnlyPrograms() {
  std::vector<std::pair<std::string, std::vector<Insn>>> ps;
  auto add = [&](const std::string &name, SafeProgramBuilder &b) {
    ps.push_back({name, b.finish()});
  };
  for (int rows : {1, 2, kDim - 1, kDim, kDim + 1, 3 * kDim, 100}) {
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 0, 0, 0, rows, 1));
    add("gemm_rows" + std::to_string(rows), b);
  }
  for (int taps : {1, 3, kDwMaxTaps}) {
    for (int inner : {1, 7, kDim, 56}) {
      SafeProgramBuilder
          b; // DWGEMM lines of inner + taps - 1 rows, alone and after a GEMM
      b.add(dwgemmInsn(true, 0, 0, 0, inner, 3, inner + taps + 1, inner, taps));
      b.add(gemmInsn(false, 0, 0, 16, inner, 1));
      b.add(dwgemmInsn(false, 0, 5, 32, inner, 2, inner, inner, taps, 2));
      b.add(dwgemmInsn(false, 0, 9, 48, inner, 2, 3 * inner, inner, taps, 3,
                       taps <= kDim - 4));
      add("dwgemm_t" + std::to_string(taps) + "_i" + std::to_string(inner), b);
    }
  }
  // MOVE (OUT -> ACT on the LOAD engine): data only, padding on each side,
  // padding only around one row, a long line; after a REQUANT and before a
  // GEMM that reads what it wrote (a cascaded layer boundary).
  {
    const int shapes[][7] = {{1, 1, 1, 0, 0, 0, 0},    {3, 5, 7, 0, 0, 0, 0},
                             {3, 5, 7, 1, 1, 1, 1},    {1, 1, 0, 3, 3, 3, 3},
                             {4, 16, 16, 0, 2, 0, 0},  {2, 9, 9, 0, 0, 2, 0},
                             {1, 300, 300, 0, 0, 0, 1}};
    for (const auto &sh : shapes) {
      SafeProgramBuilder b;
      b.add(moveInsn(10, 20, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6]));
      b.add(moveInsn(600, 0, sh[0], sh[1], sh[2], sh[3], sh[4], sh[5], sh[6]));
      std::string name = "move";
      for (int v : sh)
        name += "_" + std::to_string(v);
      add(name, b);
    }
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 0, 0, 0, 48, 1));
    b.add(requant(0, 0, 48));
    b.add(moveInsn(100, 0, 6, 8, 8, 1, 1, 1, 1));
    b.add(gemmInsn(true, 200, 100, 16, 8, 6, 10, 8));
    b.add(requant(64, 200, 48));
    b.add(moveInsn(0, 64, 6, 8, 8));
    b.add(gemmInsn(false, 200, 0, 32, 48, 1));
    add("move_cascade", b);
  }
  {
    SafeProgramBuilder
        b; // a chain accumulating into the same rows, short and long
    for (int k = 0; k < 6; ++k)
      b.add(
          gemmInsn(k == 0, 0, 64 * k, 16 * k, k % 2 ? 5 : 40, 1 + k % 3, 7, 0));
    add("gemm_chain", b);
  }
  {
    SafeProgramBuilder
        b; // GEMM -> REQUANT -> GEMM over the same rows (tokens both ways)
    b.add(setregInsn(EMBER_NPU_REG_ADD_LSHIFT, 20));
    for (int k = 0; k < 4; ++k) {
      b.add(gemmInsn(true, 0, 0, 0, 24 + 8 * k, 1));
      b.add(requant(0, 0, 24 + 8 * k));
      b.add(vaddInsn(100, 0, 50, 20));
    }
    add("gemm_vector_handover", b);
  }
  {
    SafeProgramBuilder b; // VADD exact (spec version 4): streaming, staged
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_A_MULT, 123456789));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_B_MULT_HI, 3));
    b.add(setregInsn(EMBER_NPU_REG_ADD_X_SHIFT, 33));
    for (int rows : {1, kDim, 100}) {
      Insn x = vaddInsn(300, 0, 150, rows);
      x.exact = 1;
      b.add(x);
      x = vaddInsn(2, 0, 5, rows); // overlapping: staged
      x.exact = 1;
      b.add(x);
    }
    add("vadd_exact", b);
  }
  {
    // VREDUCE (spec version 6): one row a cycle, a group's result on
    // VECTOR's own ACC port, also while GEMM writes ACC.
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 600, 0, 0, 100, 1));
    for (int len : {1, 3, kDim})
      for (bool w16 : {false, true}) {
        b.add(vreduceInsn(10 * len + w16, 0, 5, len, len, 1, len % kDim, w16,
                          len == 3));
        b.add(vreduceInsn(300 + len, 2, 4, len, 1, 4, 0, w16, true));
      }
    b.add(requantInsn(200, 10, 8, EMBER_NPU_ACC_ROWS - 2, 0, -128, 127));
    add("vreduce", b);
  }
  {
    // VREDUCE sq (spec version 9): the same rate, each group's sum read from
    // its ACC row on VECTOR's first ACC read port with its first row.
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 600, 0, 0, 100, 1));
    for (int len : {1, 3, kDim})
      for (bool w16 : {false, true}) {
        b.add(vreduceInsn(700 + 10 * len, 0, 5, len, len, 1, len % kDim, w16,
                          true));
        b.add(vreduceInsn(700 + 10 * len, 0, 5, len, len, 1, len % kDim, w16,
                          false, true, w16));
        b.add(rscalarInsn(700 + 10 * len, 700 + 10 * len, 5, true));
      }
    add("vreduce_sq", b);
  }
  {
    // RSCALAR (spec version 7): one scalar a cycle on VECTOR's ACC port, in
    // place and apart, also while GEMM writes ACC elsewhere.
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 600, 0, 0, 100, 1));
    for (int rows : {1, 2, kDim, 100})
      for (bool rsqrt : {false, true})
        b.add(rscalarInsn(rsqrt ? 300 : 0, 0, rows, rsqrt));
    b.add(rscalarInsn(800, 800, 40, true));
    add("rscalar", b);
  }
  {
    // VROWMUL (spec version 8): two parameter cycles, then one row a cycle
    // on VECTOR's OUT and two ACC read ports, every width, strides, in place.
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 600, 0, 0, 100, 1));
    b.add(rscalarInsn(300, 0, 100, true));
    for (int rows : {1, 2, kDim, 100})
      for (bool w16 : {false, true})
        b.add(vrowmulInsn(w16 ? 200 : 1200, 0, rows, w16 ? 1 : 2, 300, 600, 400,
                          w16, w16, rows % 2 == 0));
    b.add(vrowmulInsn(0, 0, 40, 1, 300, 0, 0, false, false, false));
    add("vrowmul", b);
  }
  {
    // Softmax (spec versions 10 and 11): VREDUCE exp at VREDUCE's rate (each
    // group's maximum read with its first row), RSCALAR, and VROWEXP at
    // VROWMUL's rows + 3 without the parameter reads, every width, strides,
    // in place, also while GEMM writes ACC elsewhere.
    SafeProgramBuilder b;
    b.add(gemmInsn(true, 600, 0, 0, 100, 1));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_MULT, 1 << 30));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_IN_SHIFT, 12));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_MULT, 1 << 30));
    b.add(setregInsn(EMBER_NPU_REG_ROW_SM_OUT_SHIFT, 9));
    for (int len : {1, 3, kDim})
      for (bool w16 : {false, true}) {
        const int64_t a = 700 + 10 * len, s = 900 + 10 * len;
        b.add(vreduceInsn(a, 0, 5, len, len, 1, len % kDim, w16, false));
        b.add(vreduceInsn(a, 0, 5, len, len, 1, len % kDim, w16, false, false,
                          false, true));
        b.add(rscalarInsn(s, a, 5, false));
        b.add(vrowexpInsn(w16 ? 200 : 1200, 0, 5, len, s, a, w16, w16));
      }
    for (int rows : {1, 2, kDim, 100})
      for (bool w16 : {false, true})
        b.add(vrowexpInsn(w16 ? 1200 : 200, 0, rows, w16 ? 1 : 2, 300, 600, w16,
                          !w16));
    b.add(vrowexpInsn(0, 0, 40, 1, 300, 0, false, false));
    add("softmax", b);
  }
  for (int rows : {1, 2, kDim, 100}) {
    SafeProgramBuilder b; // REQUANT's bias row: read beside each source row
    b.add(gemmInsn(true, 0, 0, 0, rows, 1));
    b.add(requantInsn(0, 0, rows, EMBER_NPU_ACC_ROWS - 3, 0, -128, 127, true));
    b.add(requant(rows, 0, rows));
    b.add(requantInsn(0, 0, rows, 200, 3, -100, 100, true));
    add("requant_bias_rows" + std::to_string(rows), b);
  }
  {
    SafeProgramBuilder
        b; // POOL geometry, then pools that stream and that need staging
    b.add(setregInsn(EMBER_NPU_REG_POOL_KH, 2));
    b.add(setregInsn(EMBER_NPU_REG_POOL_KW, 2));
    b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, 2));
    b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, 8));
    b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, 4));
    b.add(pool(500, 0, 16));
    b.add(pool(4, 0, 16)); // destination inside the source span: staged
    b.add(vaddInsn(10, 0, 30, 20)); // destination 10 rows ahead of a: staged
    b.add(vaddInsn(0, 0, 40, 20));  // in place: streams
    add("vector_staging", b);
  }
  {
    SafeProgramBuilder b; // the output table and every producer through it
    b.add(lutldInsn(EMBER_NPU_ACC_ROWS - kLutRows));
    b.add(gemmInsn(true, 0, 0, 0, 40, 1));
    b.add(requantInsn(0, 0, 40, EMBER_NPU_ACC_ROWS - 2, 0, -128, 127, false,
                      true));
    b.add(vaddInsn(100, 0, 50, 20, true));
    b.add(lutInsn(200, 0, 30));
    b.add(lutInsn(2, 0, 30)); // ahead of its source: staged
    b.add(lutldInsn(100));
    b.add(vmulInsn(300, 0, 40, 25, false, true));
    b.add(vmulInsn(3, 0, 40, 25, true)); // broadcast row, staged destination
    b.add(vmulInsn(30, 0, 31, 25));      // ahead of b: staged
    add("lut_vmul", b);
  }
  for (int mode = 0; mode < 3; ++mode) {
    SafeProgramBuilder b; // UPSAMPLE: every factor, a stripe, a staged one
    for (int k = 0; k < 4; ++k)
      b.add(upsampleInsn(100, 0, 3, 4, 1, 3, k, mode, 5, k == 2));
    b.add(upsampleInsn(4, 0, 5, 2, 0, 4, 1, mode)); // staged
    add("upsample_mode" + std::to_string(mode), b);
  }
  {
    SafeProgramBuilder b; // SPPF: three chained 5x5 stride-1 pad-2 max pools
    b.add(setregInsn(EMBER_NPU_REG_POOL_KH, 5));
    b.add(setregInsn(EMBER_NPU_REG_POOL_KW, 5));
    b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, 1));
    b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, 7));
    b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, 7));
    b.add(poolInsn(false, 100, 0, 42, 2, 2, 6));
    b.add(poolInsn(false, 200, 100, 42, 2, 2, 6, true));
    b.add(poolInsn(true, 300, 200, 42, 2, 2, 6));
    b.add(poolInsn(false, 310, 300, 42, 2, 2, 6)); // staged
    add("pool_bounded_sppf", b);
  }
  {
    SafeProgramBuilder b; // MOVE repeating rows and lines, with padding
    b.add(moveInsn(10, 20, 2, 3, 3, 0, 0, 0, 0, 1));
    b.add(moveInsn(100, 0, 3, 4, 5, 1, 1, 1, 1, 1));
    b.add(moveInsn(600, 0, 2, 2, 2, 3, 0, 0, 2, 7));
    add("move_rep", b);
  }
  {
    std::vector<Insn>
        p; // GEMM runs ahead of a slow VECTOR until GEMM->VECTOR is full
    const uint32_t gv = 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_GEMM,
                                                      EMBER_NPU_ENGINE_VECTOR);
    int signalled = 0, consumed = 0;
    for (int k = 0; k < 14; ++k) {
      if (signalled - consumed == EMBER_NPU_TOKEN_FIFO_DEPTH) {
        Insn r = requant(0, 1000, 90);
        r.wait = gv;
        p.push_back(r);
        ++consumed;
      }
      Insn g = gemmInsn(true, 16 * (k % 8), 0, 0, 3, 1);
      g.signal = gv;
      p.push_back(g);
      ++signalled;
    }
    while (consumed < signalled) {
      Insn r = requant(0, 1000, 90);
      r.wait = gv;
      p.push_back(r);
      ++consumed;
    }
    p.push_back(makeInsn(Opcode::FENCE));
    p.push_back(gemmInsn(true, 0, 0, 0, 10, 1));
    p.push_back(makeInsn(Opcode::FINISH));
    ps.push_back({"token_backpressure", p});
  }
  std::mt19937 rng(7);
  for (int n = 0; n < 40; ++n) {
    SafeProgramBuilder b;
    auto rnd = [&](int lo, int hi) {
      return lo + static_cast<int>(rng() % (hi - lo + 1));
    };
    bool poolReady = false;
    for (int k = 0; k < 30; ++k) {
      int kind = rnd(0, 12);
      if (kind < 4) {
        b.add(gemmInsn(rnd(0, 1), rnd(0, 200), rnd(0, 200), rnd(0, 100),
                       rnd(1, 40), rnd(1, 3), rnd(0, 40), rnd(0, 40)));
      } else if (kind < 5) {
        b.add(dwgemmInsn(rnd(0, 1), rnd(0, 200), rnd(0, 200), rnd(0, 100),
                         rnd(1, 40), rnd(1, 3), rnd(0, 40), rnd(0, 40),
                         rnd(1, kDim - 4), rnd(1, 3), rnd(0, 1)));
      } else if (kind < 7) {
        int rows = rnd(1, 30);
        if (kind == 6) // with REQUANT's bias row
          b.add(requantInsn(rnd(0, 300), rnd(0, 300), rows,
                            EMBER_NPU_ACC_ROWS - 3, 0, -128, 127, true));
        else
          b.add(requant(rnd(0, 300), rnd(0, 300), rows));
      } else if (kind == 7) {
        int rows = rnd(1, 30);
        b.add(vaddInsn(rnd(0, 100), rnd(0, 100), rnd(0, 100), rows));
      } else if (kind == 10) {
        int rows = rnd(1, 30);
        if (rng() % 3 == 0)
          b.add(lutldInsn(rnd(0, 300)));
        else if (rng() % 2)
          b.add(lutInsn(rnd(0, 100), rnd(0, 100), rows));
        else
          b.add(vmulInsn(rnd(0, 100), rnd(0, 100), rnd(0, 100), rows, rng() % 2,
                         rng() % 2));
      } else if (kind == 11) {
        int f = rnd(0, 3), w = rnd(1, 4), h = rnd(1, 4);
        int oy = rnd(0, (h << f) - 1);
        b.add(upsampleInsn(rnd(0, 200), rnd(0, 200), w, h, oy,
                           rnd(1, (h << f) - oy), f, rnd(0, 2), rnd(-9, 9),
                           rng() % 2));
      } else if (kind == 12) {
        poolReady = false;
        b.add(setregInsn(EMBER_NPU_REG_POOL_KH, 3));
        b.add(setregInsn(EMBER_NPU_REG_POOL_KW, rnd(1, 3)));
        b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, 1));
        b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, 6));
        b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, 6));
        b.add(poolInsn(rng() % 2, rnd(0, 200), rnd(0, 200), rnd(1, 24), 1, 0, 4,
                       rng() % 2));
      } else if (kind == 8) {
        if (!poolReady) {
          b.add(setregInsn(EMBER_NPU_REG_POOL_KH, rnd(1, 3)));
          b.add(setregInsn(EMBER_NPU_REG_POOL_KW, rnd(1, 3)));
          b.add(setregInsn(EMBER_NPU_REG_POOL_STRIDE, 1));
          b.add(setregInsn(EMBER_NPU_REG_POOL_IN_W, 8));
          b.add(setregInsn(EMBER_NPU_REG_POOL_OUT_W, 6));
          poolReady = true;
        }
        b.add(pool(rnd(0, 200), rnd(0, 200), rnd(1, 12)));
      } else if (rng() % 2) {
        b.add(moveInsn(rnd(0, 200), rnd(0, 200), rnd(1, 4), rnd(1, 12),
                       rnd(0, 14), rnd(0, 3), rnd(0, 3), rnd(0, 3), rnd(0, 3),
                       rng() % 3 == 0 ? rnd(1, 2) : 0));
      } else {
        b.add(rng() % 2 ? makeInsn(Opcode::FENCE)
                        : setregInsn(EMBER_NPU_REG_ADD_MIN, -128));
      }
    }
    add("random_compute_" + std::to_string(n), b);
  }
  addWideComputePrograms(ps);
  return ps;
}

TEST(RtlCycles, ComputeOnlyProgramsAgreeExactly) {
  Devices d(1 << 16);
  ASSERT_NE(d.rtl, nullptr);
  ASSERT_NE(d.systemc, nullptr);
  std::vector<uint8_t> dram(1 << 16, 0);
  int exact = 0, total = 0;
  for (const auto &[name, prog] : computeOnlyPrograms()) {
    Cycles c = runBoth(d, encodeAll(prog), dram);
    ASSERT_EQ(c.error, "") << name;
    ++total;
    exact += c.rtl == c.systemc;
    EXPECT_EQ(c.rtl, c.systemc) << name;
  }
  std::printf("compute-only programs: %d of %d with identical cycle counts\n",
              exact, total);
}

/// One DMA instruction at a time (no contention; must agree exactly):
/// LOAD/STORE of every memory, paddings, strides, unaligned DRAM addresses,
/// bursts split at boundaries.
std::vector<std::pair<std::string, std::vector<Insn>>> dmaPrograms() {
  std::vector<std::pair<std::string, std::vector<Insn>>> ps;
  std::mt19937 rng(11);
  for (int n = 0; n < 40; ++n) {
    SafeProgramBuilder b;
    Insn l = makeInsn(Opcode::LOAD);
    l.mem = rng() % kNumMems;
    l.ysize = 1 + rng() % 6;
    l.xsize = 1 + rng() % 40;
    l.stride = l.xsize + rng() % 8;
    l.dram = (rng() % 4 == 0) ? 1000 + rng() % 97 : 64 * (rng() % 16);
    l.pad_top = rng() % 3 ? 0 : rng() % 4;
    l.pad_left = rng() % 3 ? 0 : rng() % 4;
    l.pad_right = rng() % 3 ? 0 : rng() % 4;
    l.sram = rng() % 64;
    b.add(l);
    Insn st = makeInsn(Opcode::STORE);
    st.mem = rng() % kNumMems;
    st.ysize = 1 + rng() % 4;
    st.xsize = 1 + rng() % 30;
    if (n % 3 == 1) { // repeated, interleaved, lane groups
      st.rep = 1 + rng() % 3;
      st.xstep = rng() % 2;
      st.lanes = rng() % (1 << kNumLaneGroups);
      st.ysize = 1 + rng() % 2;
      st.xsize = 1 + rng() % 3;
    }
    st.stride = st.xsize * (st.rep + 1) * (st.xstep + 1) + rng() % 5;
    st.dram = 30000 + rng() % 200;
    st.sram = 100 + rng() % 64;
    b.add(makeInsn(Opcode::FENCE));
    b.add(st);
    ps.push_back({"dma_" + std::to_string(n), b.finish()});
  }
  // LOAD16 and STORE16 (rows of DIM int16) of ACT and OUT, and MOVE w16.
  for (int n = 0; n < 16; ++n) {
    SafeProgramBuilder b;
    int mem = n % 2 ? EMBER_NPU_MEM_OUT : EMBER_NPU_MEM_ACT;
    Insn l =
        load16Insn(mem, rng() % 64,
                   (rng() % 4 == 0) ? 1000 + rng() % 97 : 64 * (rng() % 16),
                   1 + rng() % 6, 1 + rng() % 30, 0, rng() % 3 ? 0 : rng() % 4,
                   0, rng() % 3 ? 0 : rng() % 4, rng() % 3 ? 0 : rng() % 4);
    l.stride = l.xsize + rng() % 8;
    b.add(l);
    b.add(makeInsn(Opcode::FENCE));
    Insn st =
        store16Insn(n % 4 < 2 ? mem : EMBER_NPU_MEM_OUT, 100 + rng() % 64,
                    30000 + rng() % 200, 1 + rng() % 4, 1 + rng() % 20, 0);
    if (n % 3 == 1) {
      st.rep = 1 + rng() % 3;
      st.xstep = rng() % 2;
      st.lanes = rng() % (1 << kNumLaneGroups);
      st.ysize = 1 + rng() % 2;
      st.xsize = 1 + rng() % 3;
    }
    st.stride = st.xsize * (st.rep + 1) * (st.xstep + 1) + rng() % 5;
    b.add(st);
    b.add(makeInsn(Opcode::FENCE));
    b.add(moveInsn(200, 100, 2, 5, 5, 1, 1, 1, 1, n % 3 == 2, true));
    ps.push_back({"dma16_" + std::to_string(n), b.finish()});
  }
  return ps;
}

TEST(RtlCycles, UncontendedDmaAgrees) {
  std::vector<uint8_t> dram(1 << 16, 7);
  for (uint32_t bw : {4u, 16u, 64u}) {
    Devices d(1 << 16, bw);
    ASSERT_NE(d.rtl, nullptr);
    int exact = 0, total = 0;
    int64_t worst = 0;
    for (const auto &[name, prog] : dmaPrograms()) {
      Cycles c = runBoth(d, encodeAll(prog), dram);
      ASSERT_EQ(c.error, "") << name;
      int64_t diff = int64_t(c.systemc) - int64_t(c.rtl);
      ++total;
      exact += diff == 0;
      worst = std::max<int64_t>(worst, diff < 0 ? -diff : diff);
    }
    std::printf("DMA-only programs at %u B/cycle: %d of %d identical, worst "
                "difference %lld "
                "cycles\n",
                bw, exact, total, static_cast<long long>(worst));
    EXPECT_EQ(worst, 0) << bw << " B/cycle";
  }
}

/// LOAD and STORE at once (no tokens between them), so that their bursts
/// contend for the DRAM's request port, often in the same cycle: one request
/// is accepted a cycle, the side not accepted last winning a tie (a nearest
/// upsampling's repeating STOREs and a bilinear layer's LOADs met there).
std::vector<std::pair<std::string, std::vector<Insn>>> contendedDmaPrograms() {
  std::vector<std::pair<std::string, std::vector<Insn>>> ps;
  std::mt19937 rng(23);
  auto rnd = [&rng](int lo, int hi) { return lo + int(rng() % (hi - lo + 1)); };
  for (int n = 0; n < 100; ++n) {
    SafeProgramBuilder b;
    const int count = rnd(2, 8);
    for (int i = 0; i < count; ++i) {
      if (rng() % 2) {
        Insn l = makeInsn(Opcode::LOAD);
        l.mem = rng() % kNumMems;
        l.ysize = rnd(1, 4);
        l.xsize = rnd(1, 48);
        l.stride = l.xsize + rnd(0, 6);
        l.dram = rng() % 3 == 0 ? rnd(0, 4000) : 64 * rnd(0, 60);
        l.pad_left = rng() % 4 ? 0 : rnd(1, 3);
        l.sram = rnd(0, 150);
        b.add(l);
      } else {
        Insn st = makeInsn(Opcode::STORE);
        st.mem = rng() % kNumMems;
        st.ysize = rnd(1, 4);
        st.xsize = rnd(1, 40);
        if (rng() % 2) { // repeated (a nearest upsampling's STORE)
          st.rep = rnd(1, 3);
          st.xstep = rng() % 2;
          st.xsize = rnd(1, 13);
        }
        st.stride = st.xsize * (st.rep + 1) * (st.xstep + 1) + rnd(0, 4);
        st.dram = 40000 + (rng() % 3 == 0 ? rnd(0, 3000) : 64 * rnd(0, 50));
        st.sram = rnd(200, 400);
        b.add(st);
      }
    }
    ps.push_back({"contended_dma_" + std::to_string(n), b.finish()});
  }
  return ps;
}

TEST(RtlCycles, ContendedDmaAgreesExactly) {
  // 1 MiB: the rows of ACC at DIM 32 are 128 bytes.
  std::vector<uint8_t> dram(1 << 20, 5);
  for (uint32_t bw : {4u, 16u, 64u}) {
    Devices d(1 << 20, bw);
    ASSERT_NE(d.rtl, nullptr);
    int exact = 0, total = 0;
    for (const auto &[name, prog] : contendedDmaPrograms()) {
      Cycles c = runBoth(d, encodeAll(prog), dram);
      ASSERT_EQ(c.error, "") << name;
      ++total;
      exact += c.rtl == c.systemc;
      EXPECT_EQ(c.rtl, c.systemc) << name << " at " << bw << " B/cycle";
    }
    std::printf("contended DMA programs at %u B/cycle: %d of %d identical\n",
                bw, exact, total);
  }
}

struct KernelCase {
  kernels::Kernel k;
  uint32_t bw;
  bool db;
};

TEST(RtlCycles, KernelsAgreeExactly) {
  std::vector<KernelCase> cases;
  for (bool db : {true, false}) {
    cases.push_back({kernels::buildGemm(256, 256, 256, db, 1), 16, db});
    cases.push_back({kernels::buildGemm(128, 128, 64, db, 3), 16, db});
    cases.push_back({kernels::buildGemm(64, 256, 128, db, 4), 16, db});
    cases.push_back({kernels::buildConv3x3(32, 32, 64, 64, db, 2), 16, db});
    cases.push_back({kernels::buildConv3x3(16, 16, 32, 32, db, 4), 16, db});
    cases.push_back({kernels::buildConv3x3(8, 8, 64, 32, db, 5), 16, db});
    cases.push_back( // 16x8: both planes' GEMMs, LOAD16/STORE16
        {kernels::buildConv3x3(32, 32, 64, 64, db, 2, true), 16, db});
  }
  for (uint32_t bw : {4u, 8u, 32u}) {
    cases.push_back({kernels::buildGemm(256, 256, 256, true, 1), bw, true});
    cases.push_back({kernels::buildConv3x3(32, 32, 64, 64, true, 2), bw, true});
  }
  std::vector<double> errs;
  std::printf("| kernel | buffering | DRAM B/cycle | RTL cycles | SystemC "
              "cycles | difference |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const KernelCase &c : cases) {
    Devices d(1 << 20, c.bw);
    ASSERT_NE(d.rtl, nullptr);
    Cycles n = runBoth(d, kernels::encodeProgram(c.k.program), c.k.dram);
    ASSERT_EQ(n.error, "") << c.k.name;
    double diff = (double(n.systemc) - double(n.rtl)) / double(n.rtl);
    errs.push_back(std::fabs(diff));
    std::printf("| %s | %s | %u | %llu | %llu | %+.2f%% |\n", c.k.name.c_str(),
                c.db ? "double" : "serialized", c.bw,
                static_cast<unsigned long long>(n.rtl),
                static_cast<unsigned long long>(n.systemc), 100 * diff);
  }
  std::sort(errs.begin(), errs.end());
  double median = errs[errs.size() / 2];
  double p95 = errs[std::min(errs.size() - 1,
                             size_t(std::ceil(0.95 * errs.size())) - 1)];
  std::printf("kernels: %zu, |difference| median %.2f%%, 95th percentile "
              "%.2f%%, max %.2f%%\n",
              errs.size(), 100 * median, 100 * p95, 100 * errs.back());
  EXPECT_EQ(errs.back(), 0.0) << "the spec promises equal cycles";
}

} // namespace
} // namespace ember::npu::test
