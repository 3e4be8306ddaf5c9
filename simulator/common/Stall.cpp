//===- Stall.cpp - The stall watchdog's limit and report ------------------===//
#include "ember/npu/Stall.h"

#include "ember/npu/Arith.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace ember::npu {

namespace {

/// Fetch (one instruction a cycle), the queue push seen a cycle later, the
/// pop, the start, the engines' issue overheads, with room to spare.
constexpr uint64_t kIssueCycles = 16;
/// Added to the largest bound: the cycle a retirement is seen in, the
/// monitor's one-cycle report delay and the like.
constexpr uint64_t kLimitMargin = 64;

uint64_t ceilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

/// Bursts of `bytes` bytes from `addr`, split at burst-aligned boundaries.
uint64_t burstsOf(uint64_t addr, uint64_t bytes, uint64_t burst) {
  if (!bytes)
    return 0;
  return (addr + bytes - 1) / burst - addr / burst + 1;
}

/// The cycles one burst can take, queued behind a full request queue of the
/// other DMA engine's bursts: their channel occupancy, its own, the latency
/// and the request and response cycles.
uint64_t burstBound(const DramParams &d) {
  const uint64_t beat = std::max<uint64_t>(
      1, std::min<uint64_t>(d.bytesPerCycle ? d.bytesPerCycle : 1,
                            4 * uint64_t(kDim)));
  const uint64_t occ = ceilDiv(std::max<uint32_t>(d.burstBytes, 1), beat) + 1;
  return (kDramQueueDepth + 1) * occ + std::max<uint32_t>(d.latencyCycles, 1) +
         4;
}

uint64_t loadBound(const Insn &insn, const DramParams &d) {
  const int64_t r = insn.op == Opcode::MOVE ? insn.rep + 1 : 1;
  const uint64_t rows =
      uint64_t(insn.pad_top + insn.ysize * r + insn.pad_bottom) *
      uint64_t(insn.pad_left + insn.xsize * r + insn.pad_right);
  if (insn.op == Opcode::MOVE) // OUT reads and ACT writes, no DRAM
    return 2 * rows + 2;
  const uint64_t rb = uint64_t(dmaRowBytes(insn));
  const uint64_t burst = std::max<uint32_t>(d.burstBytes, 1);
  uint64_t bursts = 0;
  for (int64_t y = 0; y < insn.ysize; ++y)
    bursts += burstsOf(uint64_t(insn.dram) + uint64_t(y * insn.stride) * rb,
                       uint64_t(insn.xsize) * rb, burst);
  return rows + bursts * burstBound(d) + 2;
}

uint64_t storeBound(const Insn &insn, const DramParams &d) {
  const int64_t r = insn.rep + 1, ys = insn.ysize * r, xs = insn.xsize * r;
  const uint64_t rb = uint64_t(dmaRowBytes(insn));
  const uint64_t burst = std::max<uint32_t>(d.burstBytes, 1);
  // A line is one segment, or with xstep one per row; each split at
  // burst boundaries (at most one burst more than its bytes fill).
  const uint64_t segs = insn.xstep ? uint64_t(xs) : 1;
  const uint64_t segBytes = (insn.xstep ? 1 : uint64_t(xs)) * rb;
  const uint64_t bursts = uint64_t(ys) * segs * (ceilDiv(segBytes, burst) + 1);
  // Rows read one a cycle into the FIFO, then each burst.
  return uint64_t(ys * xs) + bursts * (burstBound(d) + 1) + 4;
}

uint64_t vectorBound(const Insn &insn, const int32_t *regs) {
  uint64_t rows = uint64_t(std::max<int64_t>(insn.rows, 0)), reads = rows;
  switch (insn.op) {
  case Opcode::LUTLD:
    rows = reads = uint64_t(insn.w16 ? kLut16Rows : kLutRows);
    break;
  case Opcode::LUT:
    if (insn.w16)
      reads = rows * uint64_t(kLut16CyclesPerRow);
    break;
  case Opcode::POOL: {
    // Every tap takes its cycle; a bad window stops the run at once.
    PoolGeom g = poolGeomFromRegs(regs);
    uint64_t kh = uint64_t(std::clamp<int64_t>(g.kh, 1, 16));
    uint64_t kw = uint64_t(std::clamp<int64_t>(g.kw, 1, 16));
    reads = rows * kh * kw;
    break;
  }
  case Opcode::UPSAMPLE:
    rows = uint64_t(insn.oh) * (uint64_t(insn.w) << insn.factor);
    reads = 2 * rows; // bilinear: two taps a cycle
    break;
  case Opcode::VREDUCE:
    reads = rows * uint64_t(insn.len);
    break;
  default:
    break;
  }
  // The reads, two cycles of issue and the staging buffer's copy pass.
  return reads + 2 + rows + 1;
}

} // namespace

uint64_t retireLatencyBound(const Insn &insn, const int32_t *regs,
                            const DramParams &dram) {
  uint64_t own = 0;
  switch (engineOf(insn)) {
  case Engine::LOAD:
    own = insn.op == Opcode::SETREG ? 1 : loadBound(insn, dram);
    break;
  case Engine::STORE:
    own = insn.op == Opcode::SETREG ? 1 : storeBound(insn, dram);
    break;
  case Engine::GEMM:
    // The shadow weights free (DIM), the preload (DIM), the rows, the
    // results 2 DIM later, the in-order retire of what is in flight.
    own = insn.op == Opcode::SETREG
              ? 1
              : 4 * uint64_t(kDim) + uint64_t(streamedRows(insn)) +
                    EMBER_NPU_GEMM_RETIRE_DEPTH + 2;
    break;
  case Engine::VECTOR:
    own = insn.op == Opcode::SETREG ? 1 : vectorBound(insn, regs);
    break;
  default: // FENCE, FINISH: accepted once everything older is done
    break;
  }
  return kIssueCycles + own;
}

uint64_t defaultStallLimit(const std::vector<Insn> &program,
                           const DramParams &dram) {
  std::vector<int32_t> regs(EMBER_NPU_NUM_REGS, 0);
  uint64_t worst = 0;
  for (const Insn &insn : program) {
    if (insn.op == Opcode::SETREG && insn.reg >= 0 &&
        insn.reg < EMBER_NPU_NUM_REGS)
      regs[size_t(insn.reg)] = int32_t(insn.value);
    worst = std::max(worst, retireLatencyBound(insn, regs.data(), dram));
  }
  return worst + kLimitMargin;
}

uint64_t stallLimitFor(uint64_t configured, const std::vector<Insn> &program,
                       const DramParams &dram) {
  return configured == EMBER_NPU_STALL_DERIVED
             ? defaultStallLimit(program, dram)
             : configured;
}

uint64_t oldestUnretired(const ember_npu_stop_state_t &s) {
  uint64_t oldest = s.fetched;
  for (const ember_npu_engine_state_t &e : s.engines)
    if ((e.phase != EMBER_NPU_PHASE_IDLE || e.queued) &&
        e.index != EMBER_NPU_NO_INSN)
      oldest = std::min(oldest, e.index);
  return oldest;
}

std::string describeEngine(const ember_npu_stop_state_t &s, int engine,
                           const std::vector<Insn> &program) {
  const ember_npu_engine_state_t &e = s.engines[engine];
  auto insn = [&](uint64_t i) {
    std::string t = "instruction " + std::to_string(i);
    if (i < program.size())
      t += std::string(" (") + opcodeName(program[i].op) + ")";
    return t;
  };
  std::string t = insn(e.index);
  const std::string ch = channelName(int(e.channel));
  switch (e.phase) {
  case EMBER_NPU_PHASE_IDLE:
    t = "idle";
    if (e.queued && e.index != EMBER_NPU_NO_INSN)
      t += ", not taking its queue's head " + insn(e.index);
    break;
  case EMBER_NPU_PHASE_TOKEN:
    t += " waits for a token on " + ch;
    break;
  case EMBER_NPU_PHASE_EXEC:
    t += " executing";
    break;
  case EMBER_NPU_PHASE_SPACE:
    t += " done, waits for space on " + ch + " to signal";
    break;
  case EMBER_NPU_PHASE_SHADOW:
    t += " waits for the shadow weights to preload its tile";
    break;
  case EMBER_NPU_PHASE_PRELOAD:
    t += " preloading its weights";
    break;
  case EMBER_NPU_PHASE_STREAM:
    t += " streaming its rows";
    break;
  case EMBER_NPU_PHASE_DRAIN:
    t += " rows streamed, results on their way to ACC";
    break;
  default:
    t += " in phase " + std::to_string(e.phase);
    break;
  }
  if (engine == EMBER_NPU_ENGINE_GEMM && e.in_flight > 1)
    t += ", " + std::to_string(e.in_flight) + " in flight";
  if (e.queued)
    t += ", " + std::to_string(e.queued) + " queued";
  return t;
}

std::string describeTokens(const ember_npu_stop_state_t &s) {
  std::string t;
  for (int c = 0; c < kNumChannels; ++c)
    if (s.tokens[c])
      t += (t.empty() ? "" : ", ") + channelName(c) + " " +
           std::to_string(s.tokens[c]);
  return t.empty() ? "none held" : t;
}

std::string describeDma(const ember_npu_stop_state_t &s) {
  std::string t;
  if (s.load_pending_bytes)
    t += "LOAD awaits " + std::to_string(s.load_pending_bytes) +
         " requested bytes; ";
  if (s.dram_queue || s.dram_reads || s.dram_writes)
    t += "DRAM " + std::to_string(s.dram_queue) + " requests queued, " +
         std::to_string(s.dram_reads) + " read and " +
         std::to_string(s.dram_writes) + " write bursts outstanding";
  else
    t += "no DRAM request outstanding";
  t += s.last_beat_cycle == EMBER_NPU_NO_INSN
           ? ", no data beat yet"
           : ", last data beat in cycle " + std::to_string(s.last_beat_cycle);
  return t;
}

std::string stallError(const ember_npu_stop_state_t &s,
                       const std::vector<Insn> &program) {
  const uint64_t i = oldestUnretired(s);
  std::string what = "?";
  std::string eng = "FETCH";
  if (i < program.size()) {
    what = opcodeName(program[i].op);
    eng = engineName(engineOf(program[i]));
  }
  std::string t = "instruction " + std::to_string(i) + ": stall: " + what +
                  " on " + eng + " did not retire: no instruction retired " +
                  "for " + std::to_string(s.cycle - s.last_retire_cycle) +
                  " cycles (cycle " + std::to_string(s.cycle) +
                  ", the stall limit " + std::to_string(s.stall_cycles) + ")";
  for (int e = 0; e < kNumEngines; ++e)
    t += std::string("; ") + engineName(static_cast<Engine>(e)) + ": " +
         describeEngine(s, e, program);
  t += "; tokens: " + describeTokens(s) + "; DMA: " + describeDma(s);
  return t;
}

std::string parseExecutorOptions(const char *options, FaultPlan &fault) {
  fault = FaultPlan();
  if (!options || !*options)
    return "";
  std::string all(options);
  size_t at = 0;
  while (at <= all.size()) {
    size_t end = all.find(',', at);
    if (end == std::string::npos)
      end = all.size();
    std::string opt = all.substr(at, end - at);
    at = end + 1;
    if (opt.empty())
      continue;
    const std::string pre = "fault=stall-";
    if (opt.compare(0, pre.size(), pre) != 0)
      return "unknown executor option '" + opt +
             "' (expected fault=stall-ENGINE@INDEX)";
    std::string rest = opt.substr(pre.size());
    size_t amp = rest.find('@');
    if (amp == std::string::npos || amp + 1 >= rest.size())
      return "expected fault=stall-ENGINE@INDEX, not '" + opt + "'";
    std::string name = rest.substr(0, amp), num = rest.substr(amp + 1);
    int e = -1;
    for (int k = 0; k < kNumEngines; ++k) {
      std::string n = engineName(static_cast<Engine>(k));
      std::transform(n.begin(), n.end(), n.begin(),
                     [](unsigned char c) { return char(std::tolower(c)); });
      if (n == name)
        e = k;
    }
    if (e < 0)
      return "unknown engine '" + name + "' in '" + opt +
             "' (load, gemm, vector or store)";
    char *stop = nullptr;
    unsigned long long v = std::strtoull(num.c_str(), &stop, 10);
    if (!stop || *stop || num[0] == '-')
      return "bad instruction index '" + num + "' in '" + opt + "'";
    fault.engine = e;
    fault.index = v;
  }
  return "";
}

} // namespace ember::npu
