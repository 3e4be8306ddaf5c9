//===- Kernels.cpp - Hand-written NPU kernels with double-buffered DMA ----===//
//
// Both kernels are a sequence of "steps"; each step loads what it needs (LOAD),
// runs a chain of GEMMs into one accumulator half, requantizes it (VECTOR) and
// stores it (STORE). With double buffering step s uses halves s % 2, and the
// program is software-pipelined (the loads of step s + 1 are issued before the
// GEMMs of step s), so DMA of the next step overlaps compute.
//
//===----------------------------------------------------------------------===//
#include "Kernels.h"

#include "ember/npu/Arith.h"
#include "ember/npu/Builders.h"

#include <cstring>
#include <functional>
#include <random>

namespace ember::npu::kernels {

namespace {

constexpr uint32_t ch(int src, int dst) {
  return 1u << EMBER_NPU_TOKEN_CHANNEL(src, dst);
}
constexpr int L = EMBER_NPU_ENGINE_LOAD, G = EMBER_NPU_ENGINE_GEMM,
              V = EMBER_NPU_ENGINE_VECTOR, S = EMBER_NPU_ENGINE_STORE;

struct Step {
  std::vector<Insn> loads;
  std::vector<Insn> gemms;
  Insn requant;
  Insn store;
};

/// half: buffer half of the per-step buffers (WGT, ACC, OUT); blockHalf: of the
/// ACT block.
using StepFn = std::function<Step(int step, int half, int blockHalf)>;
using BlockOfFn = std::function<int(int step)>;

/// Emits the token choreography for `steps` steps after `prologue` (parameter
/// loads, the last of which signals LOAD->VECTOR once).
std::vector<Insn> pipeline(int steps, bool db, std::vector<Insn> prologue,
                           const StepFn &stepFn, const BlockOfFn &blockOf) {
  std::vector<Insn> prog = std::move(prologue);
  prog.back().signal |= ch(L, V);
  auto make = [&](int s) {
    return stepFn(s, db ? s % 2 : 0, db ? blockOf(s) % 2 : 0);
  };
  auto emitLoads = [&](int s, Step &st) {
    st.loads.front().wait |=
        db ? (s >= 2 ? ch(G, L) : 0) : (s >= 1 ? ch(S, L) : 0);
    st.loads.back().signal |= ch(L, G);
    prog.insert(prog.end(), st.loads.begin(), st.loads.end());
  };
  std::vector<Step> built(steps);
  for (int s = 0; s < steps; ++s)
    built[s] = make(s);
  if (db)
    emitLoads(0, built[0]);
  for (int s = 0; s < steps; ++s) {
    Step &st = built[s];
    if (db && s + 1 < steps)
      emitLoads(s + 1, built[s + 1]);
    else if (!db)
      emitLoads(s, st);
    st.gemms.front().wait |= ch(L, G) | (db && s >= 2 ? ch(V, G) : 0);
    st.gemms.back().signal |= ch(G, V) | (db ? ch(G, L) : 0);
    prog.insert(prog.end(), st.gemms.begin(), st.gemms.end());
    st.requant.wait |=
        ch(G, V) | (s == 0 ? ch(L, V) : 0) | (db && s >= 2 ? ch(S, V) : 0);
    st.requant.signal |= ch(V, S) | (db ? ch(V, G) : 0);
    prog.push_back(st.requant);
    st.store.wait |= ch(V, S);
    st.store.signal |= db ? ch(S, V) : ch(S, L);
    prog.push_back(st.store);
  }
  prog.push_back(makeInsn(Opcode::FINISH));
  return prog;
}

// Shorthands over ember/npu/Builders.h for these kernels' fixed operands.
Insn load(int mem, int64_t sram, uint64_t dram, int64_t ysize, int64_t xsize,
          int64_t stride) {
  return loadInsn(mem, sram, static_cast<int64_t>(dram), ysize, xsize, stride);
}

Insn store(int64_t sram, uint64_t dram, int64_t rows) {
  return storeInsn(EMBER_NPU_MEM_OUT, sram, static_cast<int64_t>(dram), 1, rows,
                   rows);
}

Insn requant(int64_t dst, int64_t src, int64_t rows, int64_t param, int zp,
             bool relu) {
  return requantInsn(dst, src, rows, param, zp, relu ? zp : -128, 127);
}

struct Quant {
  std::vector<int32_t> mult, shift; // per output channel
  int zp = 0;
  bool relu = false;
};

/// Random per-channel requantize parameters scaled for a reduction of `depth`
/// int8 products.
Quant randomQuant(int channels, int depth, std::mt19937 &rng) {
  Quant q;
  int base = 6;
  while ((1 << base) < depth * 64)
    ++base;
  for (int c = 0; c < channels; ++c) {
    q.mult.push_back(static_cast<int32_t>((1u << 30) + rng() % (1u << 30)));
    q.shift.push_back(-(base - 4) + static_cast<int32_t>(rng() % 3));
  }
  q.zp = static_cast<int>(rng() % 11) - 5;
  q.relu = true;
  return q;
}

/// Appends the parameter rows (mult row then shift row per DIM-channel tile) to
/// the DRAM image.
void putParams(std::vector<uint8_t> &dram, uint64_t addr, const Quant &q) {
  int tiles = static_cast<int>(q.mult.size()) / kDim;
  for (int t = 0; t < tiles; ++t) {
    std::memcpy(&dram[addr + (2 * t) * kDim * 4], &q.mult[t * kDim], kDim * 4);
    std::memcpy(&dram[addr + (2 * t + 1) * kDim * 4], &q.shift[t * kDim],
                kDim * 4);
  }
}

void fillRandom(std::vector<int8_t> &v, std::mt19937 &rng) {
  for (int8_t &x : v)
    x = static_cast<int8_t>(static_cast<int>(rng() % 256) - 128);
}

} // namespace

std::vector<Word> encodeProgram(const std::vector<Insn> &program) {
  std::vector<Word> words;
  words.reserve(program.size());
  for (const Insn &i : program)
    words.push_back(encode(i));
  return words;
}

Kernel buildGemm(int m, int k, int n, bool db, uint32_t seed) {
  Kernel kern;
  kern.name = "gemm" + std::to_string(m) + "x" + std::to_string(k) + "x" +
              std::to_string(n);
  std::mt19937 rng(seed);
  const int kt = k / kDim, nt = n / kDim;
  // Block of rows of A that fits in half of the ACT scratchpad.
  int mb = std::min(m, (EMBER_NPU_ACT_ROWS / 2) / kt);
  while (m % mb)
    --mb;
  const int blocks = m / mb;
  std::vector<int8_t> a(size_t(m) * k), b(size_t(k) * n);
  fillRandom(a, rng);
  fillRandom(b, rng);
  Quant q = randomQuant(n, k, rng);
  const uint64_t addrA = 0, addrB = addrA + a.size(), addrP = addrB + b.size();
  const uint64_t addrC = addrP + uint64_t(nt) * 2 * kDim * 4;
  kern.outAddr = addrC;
  kern.dram.assign(addrC + size_t(m) * n, 0);
  // A as [kt][m][DIM]; B as [nt][kt][j][k] (each tile transposed); C as
  // [nt][m][DIM].
  for (int mi = 0; mi < m; ++mi)
    for (int ki = 0; ki < k; ++ki)
      kern.dram[addrA + (size_t(ki / kDim) * m + mi) * kDim + ki % kDim] =
          static_cast<uint8_t>(a[size_t(mi) * k + ki]);
  for (int ki = 0; ki < k; ++ki)
    for (int ni = 0; ni < n; ++ni)
      kern.dram[addrB +
                ((size_t(ni / kDim) * kt + ki / kDim) * kDim + ni % kDim) *
                    kDim +
                ki % kDim] = static_cast<uint8_t>(b[size_t(ki) * n + ni]);
  putParams(kern.dram, addrP, q);
  kern.expected.assign(size_t(m) * n, 0);
  for (int mi = 0; mi < m; ++mi) {
    for (int ni = 0; ni < n; ++ni) {
      int32_t acc = 0;
      for (int ki = 0; ki < k; ++ki)
        acc +=
            int32_t(a[size_t(mi) * k + ki]) * int32_t(b[size_t(ki) * n + ni]);
      kern.expected[(size_t(ni / kDim) * m + mi) * kDim + ni % kDim] =
          requantize(acc, q.mult[ni], q.shift[ni], q.zp, q.relu ? q.zp : -128,
                     127);
    }
  }
  kern.macs = uint64_t(m) * k * n;

  const int paramRow = EMBER_NPU_ACC_ROWS - 2 * nt;
  Insn prologue = load(EMBER_NPU_MEM_ACC, paramRow, addrP, 1, 2 * nt, 2 * nt);
  auto stepFn = [&](int s, int half, int blockHalf) {
    int blk = s / nt, ni = s % nt;
    Step st;
    int64_t actBase = int64_t(blockHalf) * (EMBER_NPU_ACT_ROWS / 2);
    int64_t wgtBase = int64_t(half) * (EMBER_NPU_WGT_ROWS / 2);
    int64_t accBase = int64_t(half) * mb, outBase = int64_t(half) * mb;
    // Weights first; when the activation block changes, it follows
    // (double-buffered variant) in `pieces` loads of kt / pieces k-tiles each,
    // and GEMM k-tile p * kt / pieces waits for piece p, so the GEMMs start
    // after the first piece instead of the whole block (shorter pipeline fill).
    st.loads.push_back(load(EMBER_NPU_MEM_WGT, wgtBase,
                            addrB + uint64_t(ni) * kt * kDim * kDim, 1,
                            kt * kDim, kt * kDim));
    const int pieces = db && kt % 4 == 0 ? 4 : 1, perPiece = kt / pieces;
    if (ni == 0) {
      for (int p = 0; p < pieces; ++p) {
        st.loads.push_back(load(
            EMBER_NPU_MEM_ACT, actBase + int64_t(p) * perPiece * mb,
            addrA + (uint64_t(p) * perPiece * m + uint64_t(blk) * mb) * kDim,
            perPiece, mb, m));
        if (p + 1 < pieces)
          st.loads.back().signal |=
              ch(L, G); // the last load's token is added by pipeline()
      }
    }
    for (int ki = 0; ki < kt; ++ki) {
      st.gemms.push_back(gemmInsn(ki == 0, accBase, actBase + int64_t(ki) * mb,
                                  wgtBase + int64_t(ki) * kDim, mb, 1, 0, 0));
      if (ni == 0 && ki > 0 && ki % perPiece == 0)
        st.gemms.back().wait |=
            ch(L, G); // the first GEMM's wait is added by pipeline()
    }
    st.requant = requant(outBase, accBase, mb, paramRow + 2 * ni, q.zp, q.relu);
    st.store = store(
        outBase, addrC + (uint64_t(ni) * m + uint64_t(blk) * mb) * kDim, mb);
    return st;
  };
  kern.program = pipeline(blocks * nt, db, {prologue}, stepFn,
                          [&](int s) { return s / nt; });
  return kern;
}

Kernel buildConv3x3(int h, int w, int c, int f, bool db, uint32_t seed,
                    bool act16) {
  Kernel kern;
  kern.name = "conv3x3_" + std::to_string(h) + "x" + std::to_string(w) + "x" +
              std::to_string(c) + "_" + std::to_string(f) +
              (act16 ? "_16x8" : "");
  std::mt19937 rng(seed);
  const int ct = c / kDim, ft = f / kDim, pw = w + 2;
  // 16x8 (spec version 3): 16-bit rows are row pairs across the halves, so
  // the double buffers are quarters of ACT and halves of ACC's and OUT's
  // lower halves; a table is three rows (mult, shift, the int64 bias's low
  // word; its high word ACC_HALF rows up).
  const int64_t actSpan = act16 ? EMBER_NPU_ACT_HALF : EMBER_NPU_ACT_ROWS,
                accSpan = act16 ? EMBER_NPU_ACC_HALF : EMBER_NPU_ACC_ROWS,
                outSpan = act16 ? EMBER_NPU_OUT_HALF : EMBER_NPU_OUT_ROWS;
  const int tableRows = act16 ? 3 : 2, elem = act16 ? 2 : 1;
  // Output lines per block: the padded input block (yb + 2 lines per channel
  // tile) must fit in half of ACT and the yb * w accumulator rows in half of
  // ACC.
  int yb = h;
  while (yb > 1 && (int64_t(yb + 2) * pw * ct > actSpan / 2 ||
                    int64_t(yb) * w > (accSpan - tableRows * ft) / 2 ||
                    int64_t(yb) * w > outSpan / 2 || h % yb || yb > 1023))
    --yb;
  const int blocks = h / yb, blockRows = (yb + 2) * pw;
  std::vector<int8_t> x(size_t(h) * w * c), wt(size_t(9) * c * f);
  std::vector<int16_t> x16(act16 ? x.size() : 0);
  fillRandom(x, rng);
  fillRandom(wt, rng);
  Quant q = randomQuant(f, 9 * c, rng);
  std::vector<int64_t> bias(act16 ? f : 0);
  if (act16) {
    // int16 activations: 256 times the int8 products' scale, so 8 more bits
    // of right shift; an int64 bias and the symmetric int16 zero point.
    for (int16_t &v : x16)
      v = static_cast<int16_t>(rng());
    for (int32_t &sh : q.shift)
      sh -= 8;
    for (int64_t &b : bias)
      b = static_cast<int64_t>(rng() % (1u << 24)) - (1 << 23);
    q.zp = 0;
  }
  const int inZp = 0; // zero padding == input zero point
  const uint64_t addrX = 0, addrW = addrX + x.size() * elem,
                 addrP = addrW + wt.size();
  const uint64_t addrY =
      addrP + uint64_t(ft) * tableRows * kDim * 4 * (act16 ? 2 : 1);
  kern.outAddr = addrY;
  kern.dram.assign(addrY + size_t(h) * w * f * elem, 0);
  // x as [ct][h][w][DIM] (int16 little-endian with act16); weights as
  // [ft][tap][ct][j][k]; y as [ft][h][w][DIM].
  for (int yy = 0; yy < h; ++yy)
    for (int xx = 0; xx < w; ++xx)
      for (int ci = 0; ci < c; ++ci) {
        size_t at = ((size_t(ci / kDim) * h + yy) * w + xx) * kDim + ci % kDim;
        size_t e = (size_t(yy) * w + xx) * c + ci;
        if (act16) {
          kern.dram[addrX + 2 * at] = uint8_t(uint16_t(x16[e]) & 0xff);
          kern.dram[addrX + 2 * at + 1] = uint8_t(uint16_t(x16[e]) >> 8);
        } else {
          kern.dram[addrX + at] = static_cast<uint8_t>(x[e]);
        }
      }
  for (int tap = 0; tap < 9; ++tap)
    for (int ci = 0; ci < c; ++ci)
      for (int fi = 0; fi < f; ++fi)
        kern.dram[addrW +
                  (((size_t(fi / kDim) * 9 + tap) * ct + ci / kDim) * kDim +
                   fi % kDim) *
                      kDim +
                  ci % kDim] =
            static_cast<uint8_t>(wt[(size_t(tap) * c + ci) * f + fi]);
  if (act16) {
    // Per output tile the rows (mult, shift, B's low word), then an image of
    // as many rows with B's high word where the low word is: B = bias + 128
    // times the channel's weight sum (the low plane's excess-128).
    for (int fi = 0; fi < f; ++fi) {
      int64_t wsum = 0;
      for (int t = 0; t < 9; ++t)
        for (int ci = 0; ci < c; ++ci)
          wsum += wt[(size_t(t) * c + ci) * f + fi];
      int64_t b = bias[fi] + 128 * wsum;
      size_t tile = fi / kDim, lane = fi % kDim, row = 4 * kDim;
      uint64_t at = addrP + tile * 3 * row + 4 * lane;
      int32_t words[4] = {q.mult[fi], q.shift[fi], int32_t(uint32_t(b)),
                          int32_t(b >> 32)};
      for (int r = 0; r < 3; ++r)
        std::memcpy(&kern.dram[at + r * row], &words[r], 4);
      std::memcpy(&kern.dram[at + uint64_t(ft) * 3 * row + 2 * row], &words[3],
                  4);
    }
  } else {
    putParams(kern.dram, addrP, q);
  }
  kern.expected.assign(size_t(h) * w * f * elem, 0);
  for (int yy = 0; yy < h; ++yy) {
    for (int xx = 0; xx < w; ++xx) {
      for (int fi = 0; fi < f; ++fi) {
        int64_t acc = 0;
        for (int ky = 0; ky < 3; ++ky) {
          for (int kx = 0; kx < 3; ++kx) {
            int iy = yy + ky - 1, ix = xx + kx - 1;
            for (int ci = 0; ci < c; ++ci) {
              size_t e = (size_t(iy) * w + ix) * c + ci;
              int64_t v = (iy < 0 || iy >= h || ix < 0 || ix >= w)
                              ? inZp
                              : (act16 ? int64_t(x16[e]) : int64_t(x[e]));
              acc += v * int64_t(wt[(size_t(ky * 3 + kx) * c + ci) * f + fi]);
            }
          }
        }
        size_t at = ((size_t(fi / kDim) * h + yy) * w + xx) * kDim + fi % kDim;
        if (act16) { // int16 out, a fused Relu: [0, 32767]
          int32_t y =
              quant::requantize16x8(acc + bias[fi], {q.mult[fi], q.shift[fi]},
                                    0, 0, quant::kInt16Max);
          kern.expected[2 * at] = int8_t(uint16_t(y) & 0xff);
          kern.expected[2 * at + 1] = int8_t(uint16_t(y) >> 8);
        } else {
          kern.expected[at] = requantize(int32_t(acc), q.mult[fi], q.shift[fi],
                                         q.zp, q.relu ? q.zp : -128, 127);
        }
      }
    }
  }
  kern.macs = uint64_t(h) * w * c * f * 9 * (act16 ? 2 : 1); // array slots

  const int paramRow = int(accSpan) - tableRows * ft;
  // The parameter loads last: the last one signals LOAD->VECTOR.
  std::vector<Insn> prologue;
  if (act16) {
    prologue.push_back(setregInsn(EMBER_NPU_REG_RQ16_MIN, 0));
    prologue.push_back(setregInsn(EMBER_NPU_REG_RQ16_MAX, quant::kInt16Max));
    prologue.push_back(load(EMBER_NPU_MEM_ACC, paramRow + EMBER_NPU_ACC_HALF,
                            addrP + uint64_t(ft) * 3 * kDim * 4, 1, 3 * ft,
                            3 * ft));
  }
  prologue.push_back(load(EMBER_NPU_MEM_ACC, paramRow, addrP, 1, tableRows * ft,
                          tableRows * ft));
  auto stepFn = [&](int s, int half, int blockHalf) {
    int blk = s / ft, fi = s % ft, y0 = blk * yb;
    Step st;
    int64_t actBase = int64_t(blockHalf) * (actSpan / 2);
    int64_t wgtBase = int64_t(half) * (EMBER_NPU_WGT_ROWS / 2);
    int64_t accBase = int64_t(half) * yb * w, outBase = int64_t(half) * yb * w;
    // Weights first, then (when the block changes) one activation load per
    // input-channel tile; GEMMs run channel-tile-major so tile ci only waits
    // for its own load.
    st.loads.push_back(load(EMBER_NPU_MEM_WGT, wgtBase,
                            addrW + uint64_t(fi) * 9 * ct * kDim * kDim, 1,
                            9 * ct * kDim, 9 * ct * kDim));
    // At most 4 tokens per block so the FIFOs (depth 8) never fill in program
    // order.
    const int tilesPerGroup = ct > 4 ? ct / 4 : 1;
    if (fi == 0) {
      int top = y0 == 0 ? 1 : 0, bottom = y0 + yb == h ? 1 : 0;
      int first = y0 - 1 + top, lines = yb + 2 - top - bottom;
      for (int ci = 0; ci < ct; ++ci) {
        Insn ld = load(EMBER_NPU_MEM_ACT, actBase + int64_t(ci) * blockRows,
                       addrX + ((uint64_t(ci) * h + first) * w) * kDim * elem,
                       lines, w, w);
        if (act16)
          ld.op = Opcode::LOAD16;
        ld.pad_top = top;
        ld.pad_bottom = bottom;
        ld.pad_left = 1;
        ld.pad_right = 1;
        if (db && ci + 1 < ct && (ci + 1) % tilesPerGroup == 0)
          ld.signal |= ch(L, G); // the last load's token is added by pipeline()
        st.loads.push_back(ld);
      }
    }
    for (int ci = 0; ci < ct; ++ci) {
      for (int tap = 0; tap < 9; ++tap) {
        // 16x8: the same GEMM on the low plane, then on the high plane into
        // the high half of ACC (two array passes per 16x8 MAC).
        for (int plane = 0; plane < (act16 ? 2 : 1); ++plane) {
          st.gemms.push_back(gemmInsn(
              ci == 0 && tap == 0,
              accBase + plane * int64_t(EMBER_NPU_ACC_HALF),
              actBase + int64_t(ci) * blockRows + (tap / 3) * pw + tap % 3 +
                  plane * int64_t(EMBER_NPU_ACT_HALF),
              wgtBase + (int64_t(tap) * ct + ci) * kDim, w, yb, pw, w));
          if (db && fi == 0 && ci > 0 && ci % tilesPerGroup == 0 && tap == 0 &&
              plane == 0)
            st.gemms.back().wait |=
                ch(L, G); // the first GEMM's wait is added by pipeline()
        }
      }
    }
    if (act16) {
      st.requant =
          requantInsn(outBase, accBase, int64_t(yb) * w, paramRow + 3 * fi, 0,
                      0, 0, true, false, true, true);
      st.store =
          store16Insn(EMBER_NPU_MEM_OUT, outBase,
                      static_cast<int64_t>(
                          addrY + ((uint64_t(fi) * h + y0) * w) * kDim * 2),
                      1, int64_t(yb) * w, int64_t(yb) * w);
    } else {
      st.requant = requant(outBase, accBase, int64_t(yb) * w, paramRow + 2 * fi,
                           q.zp, q.relu);
      st.store = store(outBase, addrY + ((uint64_t(fi) * h + y0) * w) * kDim,
                       int64_t(yb) * w);
    }
    return st;
  };
  kern.program = pipeline(blocks * ft, db, std::move(prologue), stepFn,
                          [&](int s) { return s / ft; });
  return kern;
}

} // namespace ember::npu::kernels
