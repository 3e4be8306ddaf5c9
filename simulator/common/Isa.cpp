//===- Isa.cpp - NPU instructions: encode, decode, validate ---------------===//
#include "ember/npu/Isa.h"

#include "ember/npu/Arith.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>

namespace ember::npu {

namespace {

struct OpInfo {
  Opcode op;
  const char *name;
  const char *engine;
};

const OpInfo kOps[] = {
#define X(name, value, engine) {Opcode::name, #name, #engine},
    EMBER_NPU_OPCODE_LIST(X)
#undef X
};

struct RegInfo {
  unsigned id;
  const char *name;
  Engine engine;
};

const RegInfo kRegs[] = {
#define X(name, id, engine) {id, #name, Engine::engine},
    EMBER_NPU_REG_LIST(X)
#undef X
};

struct MemInfo {
  const char *name;
  int rows;
  int elemBytes;
};

const MemInfo kMems[] = {
#define X(name, id, rows, elemBytes) {#name, rows, elemBytes},
    EMBER_NPU_MEM_LIST(X)
#undef X
};

std::vector<std::vector<FieldDesc>> buildFieldTable() {
  std::vector<std::vector<FieldDesc>> table(256);
#define X(opname, fname, lsb, width, isSigned)                                 \
  table[static_cast<unsigned>(Opcode::opname)].push_back(                      \
      FieldDesc{#fname, lsb, width, isSigned != 0, &Insn::fname,               \
                opcodeSince(Opcode::opname)});
  EMBER_NPU_FIELD_LIST(X)
#undef X
#define X(opname, fname, version)                                              \
  for (FieldDesc & f : table[static_cast<unsigned>(Opcode::opname)])           \
    if (std::strcmp(f.name, #fname) == 0)                                      \
      f.since = version;
  EMBER_NPU_LATER_FIELD_LIST(X)
#undef X
  return table;
}

const char *lowerName(Opcode op) {
  static char names[256][16];
  static bool init = false;
  if (!init) {
    for (const OpInfo &i : kOps) {
      char *dst = names[static_cast<unsigned>(i.op)];
      size_t n = 0;
      for (; i.name[n] && n < 15; ++n)
        dst[n] = static_cast<char>(i.name[n] >= 'A' && i.name[n] <= 'Z'
                                       ? i.name[n] - 'A' + 'a'
                                       : i.name[n]); // LOAD16 -> load16
      dst[n] = 0;
    }
    init = true;
  }
  return names[static_cast<unsigned>(op)];
}

std::string rangeError(const char *what, int mem, int64_t first,
                       int64_t count) {
  char buf[160];
  std::snprintf(
      buf, sizeof buf, "%s rows [%lld, %lld) out of range of %s (%d rows)",
      what, static_cast<long long>(first),
      static_cast<long long>(first + count), memName(mem), memRows(mem));
  return buf;
}

bool inRange(int mem, int64_t first, int64_t count) {
  return first >= 0 && count >= 0 && first + count <= memRows(mem);
}

/// 16-bit rows (spec version 3) are row pairs (r, r + rows/2): r must lie in
/// the lower half.
int64_t halfRows(int mem) {
  return mem == EMBER_NPU_MEM_WGT ? 0 : memRows(mem) / 2;
}

bool inHalf(int mem, int64_t first, int64_t count) {
  return first >= 0 && count >= 0 && first + count <= halfRows(mem);
}

std::string halfError(const char *what, int mem, int64_t first, int64_t count) {
  char buf[200];
  std::snprintf(buf, sizeof buf,
                "%s 16-bit rows [%lld, %lld) out of range of the lower half "
                "of %s (%lld rows)",
                what, static_cast<long long>(first),
                static_cast<long long>(first + count), memName(mem),
                static_cast<long long>(halfRows(mem)));
  return buf;
}

/// Checks an operand of `count` rows from `first` of `mem`: 16-bit rows in
/// the lower half, 8-bit rows anywhere.
std::string rowRange(const char *what, int mem, bool w16, int64_t first,
                     int64_t count) {
  if (w16)
    return inHalf(mem, first, count) ? "" : halfError(what, mem, first, count);
  return inRange(mem, first, count) ? "" : rangeError(what, mem, first, count);
}

std::string outRange(const char *what, bool w16, int64_t first, int64_t count) {
  return rowRange(what, EMBER_NPU_MEM_OUT, w16, first, count);
}

/// GEMM, DWGEMM and their 16x8 forms (spec version 5: the act and acc
/// blocks 16-bit rows and accumulator pairs, in the lower halves): the act
/// block of lineRows per line, the acc block and the weight tile.
std::string gemmBlocks(const Insn &insn) {
  const bool w16 = isArray16(insn.op);
  std::string err =
      rowRange("act", EMBER_NPU_MEM_ACT, w16, insn.act,
               (insn.outer - 1) * insn.act_ostride + lineRows(insn));
  if (err.empty())
    err = rowRange("acc", EMBER_NPU_MEM_ACC, w16, insn.acc,
                   (insn.outer - 1) * insn.acc_ostride + insn.inner);
  if (err.empty() && !inRange(EMBER_NPU_MEM_WGT, insn.wgt, kDim))
    err = rangeError("wgt", EMBER_NPU_MEM_WGT, insn.wgt, kDim);
  return err;
}

/// A 16-bit result cannot go through the 8-bit output table.
std::string lutNeedsInt8(const Insn &insn, bool out16) {
  if (insn.lut && out16)
    return std::string("lut needs an int8 result (") + opcodeName(insn.op) +
           " with a 16-bit result; LUT w16 is the 16-bit table)";
  return "";
}

std::string checkTokens(const Insn &insn) {
  Engine e = engineOf(insn);
  if (e == Engine::Fetch) {
    if (insn.wait || insn.signal)
      return "wait/signal masks must be zero for fetch-level instructions";
    return "";
  }
  int eng = static_cast<int>(e);
  for (int ch = 0; ch < kNumChannels; ++ch) {
    int src = ch / kNumEngines, dst = ch % kNumEngines;
    if ((insn.wait >> ch) & 1u) {
      if (src == dst || dst != eng)
        return "wait bit " + std::to_string(ch) + " (" + channelName(ch) +
               ") is not an input channel of " + engineName(e);
    }
    if ((insn.signal >> ch) & 1u) {
      if (src == dst || src != eng)
        return "signal bit " + std::to_string(ch) + " (" + channelName(ch) +
               ") is not an output channel of " + engineName(e);
    }
  }
  return "";
}

std::string checkDma(const Insn &insn, uint64_t dramBytes, bool isLoad) {
  if (insn.ysize < 1 || insn.xsize < 1)
    return "ysize and xsize must be >= 1";
  int mem = static_cast<int>(insn.mem);
  const bool wide = insn.op == Opcode::LOAD16 || insn.op == Opcode::STORE16;
  if (wide && mem != EMBER_NPU_MEM_ACT && mem != EMBER_NPU_MEM_OUT)
    return std::string(opcodeName(insn.op)) +
           " moves 16-bit rows of ACT or "
           "OUT (mem 0 or 3), not " +
           memName(mem);
  int64_t h = insn.ysize, w = insn.xsize;
  if (isLoad) {
    h += insn.pad_top + insn.pad_bottom;
    w += insn.pad_left + insn.pad_right;
  } else if (insn.lanes >> kNumLaneGroups) {
    return "lanes " + std::to_string(insn.lanes) + " selects lane groups " +
           "beyond DIM (" + std::to_string(kNumLaneGroups) +
           " groups of 8 lanes)";
  }
  if (wide && !inHalf(mem, insn.sram, h * w))
    return halfError("sram", mem, insn.sram, h * w);
  if (!inRange(mem, insn.sram, h * w))
    return rangeError("sram", mem, insn.sram, h * w);
  uint64_t rowBytes = static_cast<uint64_t>(dmaRowBytes(insn));
  // STORE's repetition r and x step s: the last row written is
  // ((ysize r - 1) stride + (xsize r - 1) s) (LOAD: r = s = 1).
  uint64_t r = isLoad ? 1 : static_cast<uint64_t>(insn.rep) + 1,
           s = isLoad ? 1 : static_cast<uint64_t>(insn.xstep) + 1;
  uint64_t extent = ((static_cast<uint64_t>(insn.ysize) * r - 1) *
                         static_cast<uint64_t>(insn.stride) +
                     (static_cast<uint64_t>(insn.xsize) * r - 1) * s + 1) *
                    rowBytes;
  uint64_t end = static_cast<uint64_t>(insn.dram) + extent;
  if (end > dramBytes) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "DMA beyond DRAM: bytes [%llu, %llu) but DRAM has %llu",
                  static_cast<unsigned long long>(insn.dram),
                  static_cast<unsigned long long>(end),
                  static_cast<unsigned long long>(dramBytes));
    return buf;
  }
  return "";
}

} // namespace

const std::vector<FieldDesc> &fieldsOf(Opcode op) {
  static const std::vector<std::vector<FieldDesc>> table = buildFieldTable();
  return table[static_cast<unsigned>(op)];
}

const char *opcodeName(Opcode op) { return lowerName(op); }

bool opcodeFromName(const std::string &name, Opcode &op) {
  for (const OpInfo &i : kOps) {
    if (name == lowerName(i.op)) {
      op = i.op;
      return true;
    }
  }
  return false;
}

bool isKnownOpcode(unsigned value) {
  for (const OpInfo &i : kOps)
    if (static_cast<unsigned>(i.op) == value)
      return true;
  return false;
}

unsigned opcodeSince(Opcode op) {
  switch (op) {
#define X(name, version)                                                       \
  case Opcode::name:                                                           \
    return version;
    EMBER_NPU_OPCODE_SINCE_LIST(X)
#undef X
  }
  return 1;
}

bool isLaterField(Opcode op, const FieldDesc &f) {
  return f.since > opcodeSince(op);
}

unsigned programVersion(const std::vector<Insn> &program) {
  unsigned v = 1;
  for (const Insn &insn : program) {
    v = std::max(v, opcodeSince(insn.op));
    for (const FieldDesc &f : fieldsOf(insn.op))
      if (insn.*f.member != 0)
        v = std::max(v, f.since);
  }
  return v;
}

const char *engineName(Engine e) {
  switch (e) {
  case Engine::LOAD:
    return "LOAD";
  case Engine::GEMM:
    return "GEMM";
  case Engine::VECTOR:
    return "VECTOR";
  case Engine::STORE:
    return "STORE";
  case Engine::Fetch:
    return "FETCH";
  }
  return "?";
}

const char *memName(int mem) {
  return mem >= 0 && mem < kNumMems ? kMems[mem].name : "?";
}
int memRows(int mem) {
  return mem >= 0 && mem < kNumMems ? kMems[mem].rows : 0;
}
int memRowBytes(int mem) {
  return mem >= 0 && mem < kNumMems ? kMems[mem].elemBytes * kDim : 0;
}

int64_t dmaRowBytes(const Insn &insn) {
  if (insn.op == Opcode::LOAD16 || insn.op == Opcode::STORE16)
    return 2 * kDim;
  return memRowBytes(static_cast<int>(insn.mem));
}

const char *regName(unsigned id) {
  for (const RegInfo &r : kRegs)
    if (r.id == id)
      return r.name;
  return nullptr;
}

Engine regEngine(unsigned id) {
  for (const RegInfo &r : kRegs)
    if (r.id == id)
      return r.engine;
  return Engine::Fetch;
}

bool regFromName(const std::string &name, unsigned &id) {
  for (const RegInfo &r : kRegs) {
    if (name == r.name) {
      id = r.id;
      return true;
    }
  }
  return false;
}

Engine engineOf(const Insn &insn) {
  switch (insn.op) {
  case Opcode::LOAD:
  case Opcode::LOAD16:
  case Opcode::MOVE:
    return Engine::LOAD;
  case Opcode::GEMM:
  case Opcode::DWGEMM:
  case Opcode::GEMM16:
  case Opcode::DWGEMM16:
    return Engine::GEMM;
  case Opcode::REQUANT:
  case Opcode::VADD:
  case Opcode::POOL:
  case Opcode::LUTLD:
  case Opcode::LUT:
  case Opcode::VMUL:
  case Opcode::UPSAMPLE:
  case Opcode::VREDUCE:
  case Opcode::RSCALAR:
  case Opcode::VROWMUL:
  case Opcode::VROWEXP:
    return Engine::VECTOR;
  case Opcode::STORE:
  case Opcode::STORE16:
    return Engine::STORE;
  case Opcode::SETREG:
    return regEngine(static_cast<unsigned>(insn.reg));
  case Opcode::FENCE:
  case Opcode::FINISH:
    return Engine::Fetch;
  }
  return Engine::Fetch;
}

bool isDwgemm(Opcode op) {
  return op == Opcode::DWGEMM || op == Opcode::DWGEMM16;
}

bool isArray16(Opcode op) {
  return op == Opcode::GEMM16 || op == Opcode::DWGEMM16;
}

int64_t lineRows(const Insn &insn) {
  if (isDwgemm(insn.op))
    return (insn.inner - 1) * insn.stride + insn.taps;
  if (insn.op == Opcode::GEMM || insn.op == Opcode::GEMM16)
    return insn.inner;
  return 0;
}

int64_t streamedRows(const Insn &insn) { return lineRows(insn) * insn.outer; }

std::string channelName(int ch) {
  return std::string(engineName(static_cast<Engine>(ch / kNumEngines))) + "->" +
         engineName(static_cast<Engine>(ch % kNumEngines));
}

uint64_t getBits(const Word &w, unsigned lsb, unsigned width) {
  uint64_t v;
  if (lsb >= 64)
    v = w.hi >> (lsb - 64);
  else if (lsb == 0)
    v = w.lo;
  else
    v = (w.lo >> lsb) | (w.hi << (64 - lsb));
  return width >= 64 ? v : v & ((1ull << width) - 1);
}

void setBits(Word &w, unsigned lsb, unsigned width, uint64_t value) {
  uint64_t mask = width >= 64 ? ~0ull : (1ull << width) - 1;
  value &= mask;
  if (lsb < 64) {
    w.lo = (w.lo & ~(mask << lsb)) | (value << lsb);
    if (lsb + width > 64) { // the field straddles the two words
      unsigned shift = 64 - lsb;
      w.hi = (w.hi & ~(mask >> shift)) | (value >> shift);
    }
  } else {
    w.hi = (w.hi & ~(mask << (lsb - 64))) | (value << (lsb - 64));
  }
}

Word encode(const Insn &insn) {
  Word w;
  setBits(w, 0, 8, static_cast<uint64_t>(insn.op));
  setBits(w, 8, 16, insn.wait);
  setBits(w, 24, 16, insn.signal);
  for (const FieldDesc &f : fieldsOf(insn.op))
    setBits(w, f.lsb, f.width, static_cast<uint64_t>(insn.*f.member));
  return w;
}

std::string decode(const Word &w, Insn &insn) {
  insn = Insn();
  unsigned opv = static_cast<unsigned>(getBits(w, 0, 8));
  if (!isKnownOpcode(opv))
    return "unknown opcode " + std::to_string(opv);
  insn.op = static_cast<Opcode>(opv);
  insn.wait = static_cast<uint32_t>(getBits(w, 8, 16));
  insn.signal = static_cast<uint32_t>(getBits(w, 24, 16));
  Word used;
  setBits(used, 0, 40, ~0ull);
  for (const FieldDesc &f : fieldsOf(insn.op)) {
    uint64_t raw = getBits(w, f.lsb, f.width);
    int64_t v = static_cast<int64_t>(raw);
    if (f.isSigned && f.width < 64 && (raw >> (f.width - 1)) & 1u)
      v = static_cast<int64_t>(raw | (~0ull << f.width));
    insn.*f.member = v;
    setBits(used, f.lsb, f.width, ~0ull);
  }
  if ((w.lo & ~used.lo) || (w.hi & ~used.hi))
    return "reserved bits set for " + std::string(opcodeName(insn.op));
  return "";
}

/// VROWMUL and VROWEXP (spec versions 8 and 11): rows stride apart, their
/// ACC scalars (and VROWMUL's four parameter rows), the destination the
/// source itself (same width) or apart from it.
static std::string rowMultiplyRanges(const Insn &insn) {
  if (insn.rows < 1 || insn.stride < 1)
    return "rows and stride must be >= 1";
  const int64_t span = (insn.rows - 1) * insn.stride + 1;
  std::string err = outRange("src", insn.w16, insn.src, span);
  if (err.empty())
    err = outRange("dst", insn.out16, insn.dst, span);
  if (!err.empty())
    return err;
  if (!inRange(EMBER_NPU_MEM_ACC, insn.scal, insn.rows))
    return rangeError("scal", EMBER_NPU_MEM_ACC, insn.scal, insn.rows);
  if (!inRange(EMBER_NPU_MEM_ACC, insn.sum, insn.rows))
    return rangeError("sum", EMBER_NPU_MEM_ACC, insn.sum, insn.rows);
  if (insn.op == Opcode::VROWMUL && !inRange(EMBER_NPU_MEM_ACC, insn.param, 4))
    return rangeError("param", EMBER_NPU_MEM_ACC, insn.param, 4);
  // In place (each row read before it is written) or apart: the OUT rows
  // written (a 16-bit row is two, one in each half) meet none read.
  if (insn.dst == insn.src && insn.w16 == insn.out16)
    return "";
  const int64_t half = EMBER_NPU_OUT_ROWS / 2;
  for (int64_t a : {int64_t(0), insn.w16 ? half : int64_t(0)})
    for (int64_t b : {int64_t(0), insn.out16 ? half : int64_t(0)})
      if (insn.dst + b < insn.src + a + span &&
          insn.src + a < insn.dst + b + span)
        return "dst rows must be src's rows (same width) or apart from them";
  return "";
}

std::string validate(const Insn &insn, uint64_t dramBytes) {
  if (insn.op == Opcode::SETREG && !regName(static_cast<unsigned>(insn.reg)))
    return "unknown register " + std::to_string(insn.reg);
  std::string err = checkTokens(insn);
  if (!err.empty())
    return err;
  switch (insn.op) {
  case Opcode::LOAD:
  case Opcode::LOAD16:
    return checkDma(insn, dramBytes, true);
  case Opcode::STORE:
  case Opcode::STORE16:
    return checkDma(insn, dramBytes, false);
  case Opcode::MOVE: {
    if (insn.ysize < 1 || insn.xsize < 1)
      return "ysize and xsize must be >= 1";
    int64_t h = insn.pad_top + insn.ysize * (insn.rep + 1) + insn.pad_bottom;
    int64_t w = insn.pad_left + insn.xsize * (insn.rep + 1) + insn.pad_right;
    if (insn.w16 && !inHalf(EMBER_NPU_MEM_ACT, insn.dst, h * w))
      return halfError("dst", EMBER_NPU_MEM_ACT, insn.dst, h * w);
    if (!inRange(EMBER_NPU_MEM_ACT, insn.dst, h * w))
      return rangeError("dst", EMBER_NPU_MEM_ACT, insn.dst, h * w);
    int64_t span = (insn.ysize - 1) * insn.stride + insn.xsize;
    return outRange("src", insn.w16, insn.src, span);
  }
  case Opcode::GEMM:
  case Opcode::GEMM16:
    if (insn.inner < 1 || insn.outer < 1)
      return "inner and outer must be >= 1";
    return gemmBlocks(insn);
  case Opcode::DWGEMM:
  case Opcode::DWGEMM16:
    if (insn.inner < 1 || insn.outer < 1)
      return "inner and outer must be >= 1";
    if (insn.taps < 1 || insn.taps > kDwMaxTaps)
      return "taps must be in 1.." + std::to_string(kDwMaxTaps);
    if (insn.stride < 1)
      return "stride must be in 1..3";
    if (insn.bias && insn.taps > kDim - 4)
      return "bias needs taps <= " + std::to_string(kDim - 4);
    return gemmBlocks(insn); // a line streams (inner - 1) * stride + taps
  case Opcode::REQUANT: {
    if (insn.rows < 1)
      return "rows must be >= 1";
    std::string err = outRange("dst", insn.out16, insn.dst, insn.rows);
    if (!err.empty())
      return err;
    if (insn.acc16 && !inHalf(2, insn.src, insn.rows))
      return halfError("src", 2, insn.src, insn.rows);
    if (!inRange(2, insn.src, insn.rows))
      return rangeError("src", 2, insn.src, insn.rows);
    if (!inRange(2, insn.param, insn.bias ? 3 : 2))
      return rangeError("param", 2, insn.param, insn.bias ? 3 : 2);
    // The int64 bias of acc16: its high word at param + 2 + ACC_HALF.
    if (insn.acc16 && insn.bias && !inHalf(2, insn.param + 2, 1))
      return "acc16 with bias: the int64 bias row param + 2 = " +
             std::to_string(insn.param + 2) +
             " must lie in the lower half of ACC (its high word " +
             std::to_string(halfRows(2)) + " rows above)";
    if (insn.out16 && (insn.zp || insn.min || insn.max))
      return "out16 takes its clamp from RQ16_MIN/RQ16_MAX and has no zero "
             "point (int16 is symmetric): zp, min and max must be 0";
    return lutNeedsInt8(insn, insn.out16);
  }
  case Opcode::VADD: {
    if (insn.rows < 1)
      return "rows must be >= 1";
    for (std::string err : {outRange("dst", insn.w16, insn.dst, insn.rows),
                            outRange("a", insn.w16, insn.a, insn.rows),
                            outRange("b", insn.w16, insn.b, insn.rows),
                            lutNeedsInt8(insn, insn.w16)})
      if (!err.empty())
        return err;
    return "";
  }
  case Opcode::POOL: {
    if (insn.rows < 1)
      return "rows must be >= 1";
    std::string err = outRange("dst", insn.w16, insn.dst, insn.rows);
    if (!err.empty())
      return err;
    if (insn.in_h == 0 && (insn.pad_top || insn.pad_left))
      return "pad_top and pad_left need in_h (the input lines) >= 1";
    return lutNeedsInt8(insn, insn.w16);
  }
  case Opcode::LUTLD: {
    const int64_t n = insn.w16 ? kLut16Rows : kLutRows;
    if (!inRange(2, insn.src, n))
      return rangeError("src", 2, insn.src, n);
    return "";
  }
  case Opcode::LUT: {
    if (insn.rows < 1)
      return "rows must be >= 1";
    std::string err = outRange("dst", insn.w16, insn.dst, insn.rows);
    return err.empty() ? outRange("src", insn.w16, insn.src, insn.rows) : err;
  }
  case Opcode::VMUL: {
    if (insn.rows < 1)
      return "rows must be >= 1";
    if (insn.one && (insn.b || insn.bcast || insn.b16))
      return "one (a requantization of a alone) reads no b: b, bcast and b16 "
             "must be 0";
    for (std::string err : {outRange("dst", insn.out16, insn.dst, insn.rows),
                            outRange("a", insn.a16, insn.a, insn.rows),
                            insn.one ? std::string()
                                     : outRange("b", insn.b16, insn.b,
                                                insn.bcast ? 1 : insn.rows),
                            lutNeedsInt8(insn, insn.out16)})
      if (!err.empty())
        return err;
    return "";
  }
  case Opcode::UPSAMPLE: {
    if (insn.w < 1 || insn.h < 1 || insn.oh < 1)
      return "w, h and oh must be >= 1";
    if (insn.mode > 2)
      return "mode must be 0 (nearest), 1 (bilinear, half_pixel) or 2 "
             "(bilinear, asymmetric)";
    int64_t f = int64_t(1) << insn.factor;
    if (insn.oy + insn.oh > f * insn.h)
      return "output lines [" + std::to_string(insn.oy) + ", " +
             std::to_string(insn.oy + insn.oh) + ") beyond the " +
             std::to_string(f * insn.h) + " lines of the result";
    std::string err = outRange("src", insn.w16, insn.src, insn.h * insn.w);
    if (err.empty())
      err = outRange("dst", insn.w16, insn.dst, insn.oh * f * insn.w);
    return err.empty() ? lutNeedsInt8(insn, insn.w16) : err;
  }
  case Opcode::VREDUCE: {
    if (insn.rows < 1 || insn.len < 1)
      return "rows and len must be >= 1";
    if (insn.sq && insn.sum)
      return "sum and sq are exclusive";
    if (insn.exp && (insn.sum || insn.sq || insn.center))
      return "exp excludes sum, sq and center";
    if (insn.center && !insn.sq)
      return "center needs sq";
    if (insn.last > kDim)
      return "last (the lanes of a group's last row) must be in 0.." +
             std::to_string(kDim);
    if (!inRange(EMBER_NPU_MEM_ACC, insn.dst, insn.rows))
      return rangeError("dst", EMBER_NPU_MEM_ACC, insn.dst, insn.rows);
    return outRange("src", insn.w16, insn.src, reduceSpan(insn));
  }
  case Opcode::RSCALAR: {
    if (insn.rows < 1)
      return "rows must be >= 1";
    if (!inRange(EMBER_NPU_MEM_ACC, insn.src, insn.rows))
      return rangeError("src", EMBER_NPU_MEM_ACC, insn.src, insn.rows);
    if (!inRange(EMBER_NPU_MEM_ACC, insn.dst, insn.rows))
      return rangeError("dst", EMBER_NPU_MEM_ACC, insn.dst, insn.rows);
    // In place (each row's scalar read before it is written) or apart.
    if (insn.dst != insn.src && insn.dst < insn.src + insn.rows &&
        insn.src < insn.dst + insn.rows)
      return "dst rows must be src's rows or apart from them";
    return "";
  }
  case Opcode::VROWMUL:
  case Opcode::VROWEXP:
    return rowMultiplyRanges(insn);
  case Opcode::SETREG:
  case Opcode::FENCE:
  case Opcode::FINISH:
    return "";
  }
  return "";
}

std::string checkProgram(const std::vector<Word> &program, uint64_t dramBytes,
                         std::vector<Insn> &decoded) {
  decoded.assign(program.size(), Insn());
  for (size_t i = 0; i < program.size(); ++i) {
    std::string err = decode(program[i], decoded[i]);
    if (err.empty())
      err = validate(decoded[i], dramBytes);
    if (!err.empty())
      return "instruction " + std::to_string(i) + ": " + err;
  }
  if (program.empty() || decoded.back().op != Opcode::FINISH)
    return "instruction " + std::to_string(program.size()) +
           ": program does not end with finish";
  return "";
}

std::string writeProgramFile(const std::string &path,
                             const std::vector<Word> &program) {
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return "cannot open '" + path + "' for writing";
  std::vector<Insn> decoded(program.size());
  for (size_t i = 0; i < program.size(); ++i)
    decode(program[i], decoded[i]); // an undecodable word keeps version 1
  uint32_t header[4] = {0x55504e45u /* "ENPU" */, programVersion(decoded),
                        static_cast<uint32_t>(program.size()), EMBER_NPU_DIM};
  out.write(reinterpret_cast<const char *>(header), sizeof header);
  for (const Word &w : program) {
    out.write(reinterpret_cast<const char *>(&w.lo), 8);
    out.write(reinterpret_cast<const char *>(&w.hi), 8);
  }
  return out ? "" : "write to '" + path + "' failed";
}

std::string readProgramFile(const std::string &path,
                            std::vector<Word> &program) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return "cannot open '" + path + "'";
  uint32_t header[4];
  if (!in.read(reinterpret_cast<char *>(header), sizeof header) ||
      header[0] != 0x55504e45u)
    return "'" + path + "' is not an NPU program (bad magic at offset 0)";
  if (header[1] < 1 || header[1] > EMBER_NPU_SPEC_VERSION)
    return "'" + path + "' has spec version " + std::to_string(header[1]) +
           ", this NPU runs versions 1 to " +
           std::to_string(EMBER_NPU_SPEC_VERSION) + " (offset 4)";
  if (header[3] != EMBER_NPU_DIM)
    return "'" + path + "' was built for DIM " + std::to_string(header[3]) +
           ", this NPU has " + std::to_string(EMBER_NPU_DIM) + " (offset 12)";
  std::streampos here = in.tellg();
  in.seekg(0, std::ios::end);
  uint64_t available = static_cast<uint64_t>(in.tellg() - here);
  in.seekg(here);
  if (uint64_t(header[2]) * 16 > available)
    return "'" + path + "' truncated: header says " +
           std::to_string(header[2]) + " instructions but only " +
           std::to_string(available / 16) + " follow (offset 8)";
  program.assign(header[2], Word());
  for (uint32_t i = 0; i < header[2]; ++i) {
    if (!in.read(reinterpret_cast<char *>(&program[i].lo), 8) ||
        !in.read(reinterpret_cast<char *>(&program[i].hi), 8))
      return "'" + path + "' truncated at instruction " + std::to_string(i) +
             " (offset " + std::to_string(16 + 16 * i) + ")";
  }
  return "";
}

} // namespace ember::npu
