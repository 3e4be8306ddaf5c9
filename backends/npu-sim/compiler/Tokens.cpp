// Dependency-token assignment from instruction footprints (Tokens.h).
#include "Tokens.h"

#include "ember/npu/Arith.h"

#include <algorithm>
#include <array>
#include <map>

namespace ember::npusim {

using npu::Insn;
using npu::Opcode;

namespace {

constexpr int kEngines = npu::kNumEngines;
constexpr int kDomains = npu::kNumMems + 1; // the scratchpads, then DRAM
constexpr int kDram = npu::kNumMems;

struct Range {
  int domain;
  uint64_t lo, hi; // [lo, hi): rows of a scratchpad, bytes of DRAM
  bool write;
};

// The last instruction of each engine that wrote, and that read, a span.
struct Seg {
  uint64_t end = 0;
  std::array<int64_t, kEngines> lastW{-1, -1, -1, -1};
  std::array<int64_t, kEngines> lastR{-1, -1, -1, -1};
};

class AccessMap {
public:
  // Latest conflicting instruction per engine other than `self`.
  void query(uint64_t lo, uint64_t hi, int self, bool write,
             std::array<int64_t, kEngines> &needs) const {
    auto it = segs_.upper_bound(lo);
    if (it != segs_.begin())
      --it;
    for (; it != segs_.end() && it->first < hi; ++it) {
      if (it->second.end <= lo)
        continue;
      for (int x = 0; x < kEngines; ++x) {
        if (x == self)
          continue;
        needs[size_t(x)] =
            std::max(needs[size_t(x)], it->second.lastW[size_t(x)]);
        if (write)
          needs[size_t(x)] =
              std::max(needs[size_t(x)], it->second.lastR[size_t(x)]);
      }
    }
  }
  void update(uint64_t lo, uint64_t hi, int engine, bool write, int64_t idx) {
    if (lo >= hi)
      return;
    split(lo);
    split(hi);
    // Fill the gaps, then mark every segment in [lo, hi).
    uint64_t cur = lo;
    auto it = segs_.lower_bound(lo);
    while (cur < hi) {
      if (it == segs_.end() || it->first > cur) {
        uint64_t end = it == segs_.end() ? hi : std::min(hi, it->first);
        Seg s;
        s.end = end;
        it = segs_.emplace(cur, s).first;
      }
      Seg &s = it->second;
      (write ? s.lastW : s.lastR)[size_t(engine)] = idx;
      cur = s.end;
      ++it;
    }
  }

private:
  // Splits the segment containing x (strictly inside it) at x.
  void split(uint64_t x) {
    auto it = segs_.upper_bound(x);
    if (it == segs_.begin())
      return;
    --it;
    if (it->first < x && it->second.end > x) {
      Seg right = it->second;
      it->second.end = x;
      segs_.emplace(x, right);
    }
  }
  std::map<uint64_t, Seg> segs_;
};

// What an instruction reads and writes. POOL's span depends on the POOL_*
// registers, tracked in program order by the caller.
void footprint(const Insn &in, const int32_t *regs, std::vector<Range> &out) {
  out.clear();
  // Spec version 3: a 16-bit operand also occupies its rows in the upper
  // half of its memory (the row pair r, r + rows/2).
  auto upper = [&](size_t first, bool w16) {
    if (!w16)
      return;
    for (size_t i = first, n = out.size(); i < n; ++i)
      if (out[i].domain != kDram) {
        uint64_t half = uint64_t(npu::wideHalf(out[i].domain));
        out.push_back(
            {out[i].domain, out[i].lo + half, out[i].hi + half, out[i].write});
      }
  };
  switch (in.op) {
  case Opcode::LOAD16:
  case Opcode::LOAD: {
    uint64_t w = uint64_t(in.pad_left + in.xsize + in.pad_right);
    uint64_t h = uint64_t(in.pad_top + in.ysize + in.pad_bottom);
    out.push_back(
        {int(in.mem), uint64_t(in.sram), uint64_t(in.sram) + w * h, true});
    if (in.ysize > 0 && in.xsize > 0)
      out.push_back(
          {kDram, uint64_t(in.dram),
           uint64_t(in.dram) + uint64_t((in.ysize - 1) * in.stride + in.xsize) *
                                   uint64_t(npu::dmaRowBytes(in)),
           false});
    upper(0, in.op == Opcode::LOAD16);
    return;
  }
  case Opcode::MOVE: {
    // With rep, the data block is ysize x xsize times rep + 1 each way.
    uint64_t w = uint64_t(in.pad_left + in.xsize * (in.rep + 1) + in.pad_right);
    uint64_t h = uint64_t(in.pad_top + in.ysize * (in.rep + 1) + in.pad_bottom);
    out.push_back(
        {EMBER_NPU_MEM_ACT, uint64_t(in.dst), uint64_t(in.dst) + w * h, true});
    if (in.ysize > 0 && in.xsize > 0)
      out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.src),
                     uint64_t(in.src + (in.ysize - 1) * in.stride + in.xsize),
                     false});
    upper(0, in.w16);
    return;
  }
  case Opcode::STORE16:
  case Opcode::STORE: {
    out.push_back({int(in.mem), uint64_t(in.sram),
                   uint64_t(in.sram + in.ysize * in.xsize), false});
    // Repetition r and x step s: the last row written is
    // (ysize r - 1) stride + (xsize r - 1) s.
    const int64_t r = in.rep + 1, s = in.xstep + 1;
    if (in.ysize > 0 && in.xsize > 0)
      out.push_back(
          {kDram, uint64_t(in.dram),
           uint64_t(in.dram) + uint64_t((in.ysize * r - 1) * in.stride +
                                        (in.xsize * r - 1) * s + 1) *
                                   uint64_t(npu::dmaRowBytes(in)),
           true});
    upper(0, in.op == Opcode::STORE16);
    return;
  }
  case Opcode::GEMM:
  case Opcode::DWGEMM: {
    // DWGEMM's lines read (inner - 1) * stride + taps rows.
    const int64_t line = in.op == Opcode::DWGEMM
                             ? (in.inner - 1) * in.stride + in.taps
                             : in.inner;
    uint64_t actEnd = uint64_t(in.act + (in.outer - 1) * in.act_ostride + line);
    uint64_t accEnd =
        uint64_t(in.acc + (in.outer - 1) * in.acc_ostride + in.inner);
    out.push_back({EMBER_NPU_MEM_ACT, uint64_t(in.act), actEnd, false});
    out.push_back({EMBER_NPU_MEM_WGT, uint64_t(in.wgt),
                   uint64_t(in.wgt + npu::kDim), false});
    if (!in.reset)
      out.push_back({EMBER_NPU_MEM_ACC, uint64_t(in.acc), accEnd, false});
    out.push_back({EMBER_NPU_MEM_ACC, uint64_t(in.acc), accEnd, true});
    return;
  }
  case Opcode::REQUANT:
    out.push_back({EMBER_NPU_MEM_ACC, uint64_t(in.src),
                   uint64_t(in.src + in.rows), false});
    upper(0, in.acc16); // the high plane's sums
    out.push_back({EMBER_NPU_MEM_ACC, uint64_t(in.param),
                   uint64_t(in.param + (in.bias ? 3 : 2)), false});
    if (in.acc16 && in.bias) // the int64 bias's high word
      out.push_back({EMBER_NPU_MEM_ACC,
                     uint64_t(in.param + 2 + EMBER_NPU_ACC_HALF),
                     uint64_t(in.param + 3 + EMBER_NPU_ACC_HALF), false});
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.dst),
                   uint64_t(in.dst + in.rows), true});
    upper(out.size() - 1, in.out16);
    return;
  case Opcode::VADD:
    out.push_back(
        {EMBER_NPU_MEM_OUT, uint64_t(in.a), uint64_t(in.a + in.rows), false});
    out.push_back(
        {EMBER_NPU_MEM_OUT, uint64_t(in.b), uint64_t(in.b + in.rows), false});
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.dst),
                   uint64_t(in.dst + in.rows), true});
    upper(0, in.w16);
    return;
  case Opcode::POOL: {
    npu::PoolGeom g = npu::poolGeomFromRegs(regs);
    int64_t span = 0;
    if (npu::checkPool(in, g, span).empty())
      out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.src),
                     uint64_t(in.src + span), false});
    else // the simulator will refuse it; be conservative meanwhile
      out.push_back({EMBER_NPU_MEM_OUT, 0,
                     uint64_t(npu::memRows(EMBER_NPU_MEM_OUT)), false});
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.dst),
                   uint64_t(in.dst + in.rows), true});
    upper(0, in.w16);
    return;
  }
  // Spec version 2's VECTOR instructions (the output table itself is the
  // VECTOR engine's alone, ordered by its queue).
  case Opcode::LUTLD:
    out.push_back(
        {EMBER_NPU_MEM_ACC, uint64_t(in.src),
         uint64_t(in.src + (in.w16 ? npu::kLut16Rows : npu::kLutRows)), false});
    return;
  case Opcode::LUT:
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.src),
                   uint64_t(in.src + in.rows), false});
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.dst),
                   uint64_t(in.dst + in.rows), true});
    upper(0, in.w16);
    return;
  case Opcode::VMUL: // operands and result of either width
    out.push_back(
        {EMBER_NPU_MEM_OUT, uint64_t(in.a), uint64_t(in.a + in.rows), false});
    upper(0, in.a16);
    if (!in.one) {
      size_t b = out.size();
      out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.b),
                     uint64_t(in.b + (in.bcast ? 1 : in.rows)), false});
      upper(b, in.b16);
    }
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.dst),
                   uint64_t(in.dst + in.rows), true});
    upper(out.size() - 1, in.out16);
    return;
  case Opcode::UPSAMPLE:
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.src),
                   uint64_t(in.src + in.h * in.w), false});
    out.push_back({EMBER_NPU_MEM_OUT, uint64_t(in.dst),
                   uint64_t(in.dst + in.oh * (in.w << in.factor)), true});
    upper(0, in.w16);
    return;
  case Opcode::SETREG:
  case Opcode::FENCE:
  case Opcode::FINISH:
    return;
  }
}

uint32_t bit(int src, int dst) {
  return 1u << EMBER_NPU_TOKEN_CHANNEL(src, dst);
}

} // namespace

std::string assignTokens(std::vector<Insn> &prog, TokenStats *stats) {
  std::array<AccessMap, kDomains> maps;
  int64_t sat[kEngines][kEngines];
  for (auto &row : sat)
    for (int64_t &v : row)
      v = -1;
  std::array<int32_t, 256> regs{};
  std::vector<Range> ranges;
  size_t edges = 0;
  // Per engine: its instructions' positions. Per channel: the positions of
  // the waits so far. Edges on a channel never cross (producers and
  // consumers both increase), so the tokens outstanding right after a new
  // producer at p are the earlier edges whose wait comes after p: when that
  // reaches the FIFO depth, the producer moves to a later instruction of its
  // engine, past enough of those waits (a stronger dependency, still
  // before the consumer in program order).
  std::array<std::vector<int64_t>, kEngines> onEngine;
  std::array<std::vector<int64_t>, npu::kNumChannels> waits;
  std::array<std::pair<int64_t, int64_t>, npu::kNumChannels> lastEdge{};
  const size_t depth = EMBER_NPU_TOKEN_FIFO_DEPTH;
  for (size_t i = 0; i < prog.size(); ++i) {
    Insn &in = prog[i];
    in.wait = 0;
    in.signal = 0;
    if (in.op == Opcode::SETREG) {
      regs[size_t(in.reg) & 255] = int32_t(in.value);
      continue;
    }
    npu::Engine e = npu::engineOf(in);
    if (e == npu::Engine::Fetch)
      continue; // FENCE and FINISH drain every engine
    int y = int(e);
    footprint(in, regs.data(), ranges);
    std::array<int64_t, kEngines> needs{-1, -1, -1, -1};
    for (const Range &r : ranges)
      maps[size_t(r.domain)].query(r.lo, r.hi, y, r.write, needs);
    for (int x = 0; x < kEngines; ++x) {
      if (x == y || needs[size_t(x)] <= sat[x][y])
        continue;
      int64_t a = needs[size_t(x)];
      const int ch = EMBER_NPU_TOKEN_CHANNEL(x, y);
      std::vector<int64_t> &w = waits[size_t(ch)];
      size_t after = size_t(w.end() - std::upper_bound(w.begin(), w.end(), a));
      if (after >= depth) {
        // Too many tokens in flight. First choice: the previous edge's
        // consumer (an earlier instruction of this engine) waits for `a`
        // instead, which covers this one too.
        std::pair<int64_t, int64_t> &last = lastEdge[size_t(ch)];
        if (last.second > a) {
          prog[size_t(last.first)].signal &= ~bit(x, y);
          prog[size_t(a)].signal |= bit(x, y);
          last.first = a;
          sat[x][y] = a;
          continue;
        }
        // Else the producer moves to a later instruction of its engine,
        // past enough of the outstanding waits.
        int64_t past = w[w.size() - depth];
        const std::vector<int64_t> &xs = onEngine[size_t(x)];
        auto it = std::upper_bound(xs.begin(), xs.end(), past);
        if (it == xs.end())
          return "instruction " + std::to_string(i) + ": the " +
                 npu::channelName(ch) + " FIFO (depth " +
                 std::to_string(depth) +
                 ") cannot hold the tokens this program needs";
        a = *it;
      }
      prog[size_t(a)].signal |= bit(x, y);
      in.wait |= bit(x, y);
      w.push_back(int64_t(i));
      lastEdge[size_t(ch)] = {a, int64_t(i)};
      sat[x][y] = a;
      ++edges;
    }
    onEngine[size_t(y)].push_back(int64_t(i));
    for (const Range &r : ranges)
      maps[size_t(r.domain)].update(r.lo, r.hi, y, r.write, int64_t(i));
  }
  if (stats)
    stats->edges = edges;
  std::string err = checkTokens(prog);
  if (!err.empty())
    return err;
  if (stats) {
    std::array<int, npu::kNumChannels> count{};
    size_t depth = 0;
    for (const Insn &in : prog)
      for (int c = 0; c < npu::kNumChannels; ++c) {
        if ((in.wait >> c) & 1u)
          --count[size_t(c)];
        if ((in.signal >> c) & 1u)
          depth = std::max(depth, size_t(++count[size_t(c)]));
      }
    stats->maxDepth = depth;
  }
  return "";
}

std::string checkTokens(const std::vector<Insn> &prog) {
  std::array<int, npu::kNumChannels> count{};
  for (size_t i = 0; i < prog.size(); ++i) {
    const Insn &in = prog[i];
    for (int c = 0; c < npu::kNumChannels; ++c)
      if ((in.wait >> c) & 1u) {
        if (count[size_t(c)] == 0)
          return "instruction " + std::to_string(i) + ": waits on " +
                 npu::channelName(c) + " with no token signalled before it";
        --count[size_t(c)];
      }
    for (int c = 0; c < npu::kNumChannels; ++c)
      if ((in.signal >> c) & 1u) {
        if (count[size_t(c)] == EMBER_NPU_TOKEN_FIFO_DEPTH)
          return "instruction " + std::to_string(i) + ": signals " +
                 npu::channelName(c) + " beyond its FIFO depth " +
                 std::to_string(EMBER_NPU_TOKEN_FIFO_DEPTH);
        ++count[size_t(c)];
      }
  }
  return "";
}

bool touchesRows(const Insn &in, int mem, uint64_t lo, uint64_t hi) {
  if (in.op == Opcode::POOL && mem == EMBER_NPU_MEM_OUT)
    return true;
  std::vector<Range> fp;
  int32_t regs[EMBER_NPU_NUM_REGS] = {};
  footprint(in, regs, fp);
  for (const Range &r : fp)
    if (r.domain == mem && r.lo < hi && lo < r.hi)
      return true;
  return false;
}

void accessedRanges(const Insn &in, const int32_t *regs, int mem,
                    std::vector<std::pair<uint64_t, uint64_t>> &out) {
  std::vector<Range> fp;
  footprint(in, regs, fp);
  for (const Range &r : fp)
    if (r.domain == mem && r.lo < r.hi)
      out.push_back({r.lo, r.hi});
}

} // namespace ember::npusim
