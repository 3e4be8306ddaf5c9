//===- RtlModel.cpp - the NPU RTL (hw/rtl) under Verilator ----------------===//
//
// Verilator's headers come first (its model header must not follow SystemC's).
//===----------------------------------------------------------------------===//
#include "Vnpu_sim_top.h"
#include "Vnpu_sim_top__Dpi.h"
#include "Vnpu_sim_top___024root.h"
#include "verilated.h"
#if EMBER_NPU_RTL_TRACE
#include "verilated_fst_c.h"
#endif

#include "RtlModel.h"

#include "ember/npu/Arith.h"

#include <algorithm>
#include <cstring>
#include <string_view>
#include <type_traits>
#include <unordered_map>

namespace {

// The DRAM and the program of the run in progress on this thread, for the DPI
// functions of the DRAM model and the instruction port.
thread_local uint8_t *gDram = nullptr;
thread_local uint64_t gDramBytes = 0;
thread_local const std::vector<ember::npu::Word> *gProgram = nullptr;
constexpr size_t kDpiBytes = 128; // the DPI data ports are 1024 bits wide

/// The retirement records of the run in progress (hw/sim/npu_retire_monitor.sv
/// reports writes, counter increments and retirements; they are grouped per
/// instruction here and handed to the driver's callback at retirement).
struct Trace {
  ember_npu_retire_fn fn = nullptr;
  void *user = nullptr;
  const std::vector<ember::npu::Insn> *program = nullptr;
  struct Pending {
    std::vector<ember_npu_write_t> writes; // data: offsets into `bytes`
    std::vector<uint8_t> bytes;
    uint64_t counts[3] = {0, 0, 0}; // macs, load bytes, store bytes
  };
  std::unordered_map<uint32_t, Pending> pending;
  std::vector<uint8_t> retired;           // per instruction
  uint64_t cycle = 0;                     // the cycle being simulated
  Vnpu_sim_top___024root *root = nullptr; // the model (tables read directly)
  bool stop = false;
  uint32_t stopIndex = 0;

  bool isRetired(uint32_t idx) const {
    return idx >= retired.size() || retired[idx];
  }
  static void add(Pending &p, int space, uint64_t addr, const uint8_t *data,
                  size_t n) {
    p.writes.push_back({static_cast<uint32_t>(space), static_cast<uint32_t>(n),
                        addr,
                        reinterpret_cast<const uint8_t *>(p.bytes.size())});
    p.bytes.insert(p.bytes.end(), data, data + n);
  }
  /// Hands `p` to the callback as instruction idx's record.
  void emit(uint32_t idx, int engine, uint64_t cyc, Pending &p,
            uint32_t flags) {
    for (ember_npu_write_t &w : p.writes)
      w.data = p.bytes.data() + reinterpret_cast<size_t>(w.data);
    ember_npu_retire_t r;
    std::memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.engine = static_cast<uint32_t>(engine);
    r.index = idx;
    r.cycle = cyc;
    r.macs = p.counts[0];
    r.load_bytes = p.counts[1];
    r.store_bytes = p.counts[2];
    r.spaces = EMBER_NPU_SPACES_ALL;
    r.flags = flags;
    r.num_writes = static_cast<uint32_t>(p.writes.size());
    r.writes = p.writes.data();
    if (!stop && fn(user, &r)) {
      stop = true;
      stopIndex = idx;
    }
  }
  int engineOf(uint32_t idx) const {
    return idx < program->size()
               ? static_cast<int>(ember::npu::engineOf((*program)[idx]))
               : ember::npu::kNumEngines;
  }
  /// Something of an instruction that has retired (or that the program does
  /// not have) happened: a record of its own, flagged late.
  Pending &lateOrPending(uint32_t idx, bool &late) {
    late = isRetired(idx);
    if (!late)
      return pending[idx];
    static thread_local Pending scratch;
    scratch = Pending();
    return scratch;
  }
};
thread_local Trace *gTrace = nullptr;

int counterPosition(const char *name) {
  int i = 0;
#define EMBER_NPU_X(n)                                                         \
  if (std::strcmp(#n, name) == 0)                                              \
    return i;                                                                  \
  ++i;
  EMBER_NPU_COUNTER_LIST(EMBER_NPU_X)
#undef EMBER_NPU_X
  return -1;
}

} // namespace

extern "C" void npu_fetch(unsigned int idx, svBit *valid, svBitVecVal *word) {
  const bool in = gProgram && idx < gProgram->size();
  *valid = in;
  const ember::npu::Word w = in ? (*gProgram)[idx] : ember::npu::Word();
  word[0] = static_cast<uint32_t>(w.lo);
  word[1] = static_cast<uint32_t>(w.lo >> 32);
  word[2] = static_cast<uint32_t>(w.hi);
  word[3] = static_cast<uint32_t>(w.hi >> 32);
}

extern "C" void npu_dram_read(unsigned int addr, unsigned int nbytes,
                              svBitVecVal *data) {
  std::memset(data, 0, kDpiBytes);
  // Requests are validated against the DRAM size before the run; this guards
  // the model only.
  if (gDram && nbytes <= kDpiBytes && uint64_t(addr) + nbytes <= gDramBytes)
    std::memcpy(data, gDram + addr, nbytes);
}

extern "C" void npu_dram_write(unsigned int addr, unsigned int nbytes,
                               const svBitVecVal *data,
                               const svBitVecVal *strb) {
  if (!gDram || nbytes > kDpiBytes || uint64_t(addr) + nbytes > gDramBytes)
    return;
  // Byte b is written when strobe bit b is set (STORE's lane groups).
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(data);
  for (unsigned b = 0; b < nbytes; ++b)
    if ((strb[b / 32] >> (b % 32)) & 1u)
      gDram[addr + b] = bytes[b];
}

extern "C" void npu_trace_write(int space, unsigned int idx, unsigned int addr,
                                unsigned int nbytes, const svBitVecVal *data,
                                const svBitVecVal *strb) {
  Trace *t = gTrace;
  if (!t || nbytes > kDpiBytes)
    return;
  bool late = false;
  Trace::Pending &p = t->lateOrPending(idx, late);
  const uint8_t *bytes = reinterpret_cast<const uint8_t *>(data);
  // Runs of enabled bytes (STORE's lane groups disable some).
  for (unsigned b = 0; b < nbytes;) {
    auto on = [&](unsigned k) { return (strb[k / 32] >> (k % 32)) & 1u; };
    if (!on(b)) {
      ++b;
      continue;
    }
    unsigned e = b;
    while (e < nbytes && on(e))
      ++e;
    Trace::add(p, space, uint64_t(addr) + b, bytes + b, e - b);
    b = e;
  }
  if (late)
    t->emit(idx, t->engineOf(idx), t->cycle, p, EMBER_NPU_RETIRE_LATE);
}

extern "C" void npu_trace_count(unsigned int idx, int counter,
                                unsigned long long amount) {
  Trace *t = gTrace;
  if (!t)
    return;
  bool late = false;
  Trace::Pending &p = t->lateOrPending(idx, late);
  // The monitor names the counter by its position in the spec's list.
  static const int kMacs = counterPosition("macs"),
                   kLoad = counterPosition("load_bytes");
  int k = counter == kMacs ? 0 : (counter == kLoad ? 1 : 2);
  p.counts[k] += amount;
  if (late)
    t->emit(idx, t->engineOf(idx), t->cycle, p, EMBER_NPU_RETIRE_LATE);
}

extern "C" void npu_trace_table(unsigned int idx, svBit w16) {
  Trace *t = gTrace;
  if (!t || !t->root)
    return;
  bool late = false;
  Trace::Pending &p = t->lateOrPending(idx, late);
  // The tables as the model holds them now (npu_vector.sv, public): the
  // monitor reports that LUTLD loaded one, not its 256 or 513 entries.
  auto &root = *t->root;
  if (w16) {
    const auto &tab = root.npu_sim_top__DOT__u_core__DOT__u_vec__DOT__lut16;
    uint8_t bytes[2 * 513]; // little-endian int16 entries
    for (size_t e = 0; e < 513; ++e) {
      bytes[2 * e] = uint8_t(tab[e]);
      bytes[2 * e + 1] = uint8_t(tab[e] >> 8);
    }
    Trace::add(p, EMBER_NPU_SPACE_LUT, EMBER_NPU_LUT16_OFFSET, bytes,
               sizeof bytes);
  } else {
    const auto &tab = root.npu_sim_top__DOT__u_core__DOT__u_vec__DOT__lut;
    uint8_t bytes[256];
    for (size_t e = 0; e < 256; ++e)
      bytes[e] = uint8_t(tab[e]);
    Trace::add(p, EMBER_NPU_SPACE_LUT, 0, bytes, sizeof bytes);
  }
  if (late)
    t->emit(idx, t->engineOf(idx), t->cycle, p, EMBER_NPU_RETIRE_LATE);
}

extern "C" void npu_trace_retire(int engine, unsigned int idx,
                                 unsigned long long cycle) {
  Trace *t = gTrace;
  if (!t)
    return;
  bool late = false;
  Trace::Pending &p = t->lateOrPending(idx, late);
  Trace::Pending mine = std::move(p);
  if (!late) {
    t->pending.erase(idx);
    t->retired[idx] = 1;
  }
  // Retiring twice (or an index the program does not have) is late too.
  t->emit(idx, engine, cycle, mine, late ? EMBER_NPU_RETIRE_LATE : 0);
}

namespace ember::npu {

namespace {

/// Row `row` of a verilated memory as little-endian bytes (rows are QData up to
/// 64 bits, VlWide above).
template <typename Row>
void rowToBytes(const Row &v, uint8_t *out, size_t bytes) {
  if constexpr (std::is_integral_v<Row>) {
    std::memcpy(out, &v, bytes);
  } else {
    for (size_t w = 0; 4 * w < bytes; ++w) {
      uint32_t x = v[w];
      std::memcpy(out + 4 * w, &x, std::min<size_t>(4, bytes - 4 * w));
    }
  }
}

/// Zeroes a verilated memory (plain storage: an array of words).
template <typename Mem> void clearMem(Mem &m) {
  static_assert(std::is_trivially_copyable_v<Mem>,
                "verilated memories are plain arrays");
  std::memset(static_cast<void *>(&m), 0, sizeof m);
}

template <typename Mem>
void copyRows(const Mem &m, uint32_t row, uint32_t rows, size_t rowBytes,
              uint8_t *out) {
  for (uint32_t r = 0; r < rows; ++r)
    rowToBytes(m[row + r], out + size_t(r) * rowBytes, rowBytes);
}

uint64_t wideWord64(const VlWide<EMBER_NPU_NUM_COUNTERS * 2> &w, int i) {
  return uint64_t(w[2 * i]) | (uint64_t(w[2 * i + 1]) << 32);
}

/// The position of the retired-instructions counter in `counters`.
constexpr int kInsnsCounter = [] {
  int i = 0, at = -1;
#define EMBER_NPU_X(n)                                                         \
  if (std::string_view(#n) == "insns")                                         \
    at = i;                                                                    \
  ++i;
  EMBER_NPU_COUNTER_LIST(EMBER_NPU_X)
#undef EMBER_NPU_X
  return at;
}();
static_assert(kInsnsCounter >= 0, "the spec counts retired instructions");

/// Field `e` of width `w` (at most 32) bits of a packed status output.
template <typename T> uint32_t field(const T &v, int e, int w) {
  uint64_t bits;
  if constexpr (std::is_integral_v<T>) {
    bits = uint64_t(v) >> (e * w);
  } else { // VlWide: 32-bit words
    const int lo = e * w, word = lo / 32;
    bits = uint64_t(v[word]) >> (lo % 32);
    if (lo % 32 + w > 32)
      bits |= uint64_t(v[word + 1]) << (32 - lo % 32);
  }
  return uint32_t(bits & ((1ull << w) - 1));
}

/// Where the model stands, from its status outputs (npu_core's st_* port and
/// the DRAM model's, hw/sim/npu_sim_top.sv).
ember_npu_stop_state_t stopState(const Vnpu_sim_top &t, uint64_t cycle,
                                 uint64_t lastRetire, uint64_t limit) {
  ember_npu_stop_state_t s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = sizeof s;
  s.cycle = cycle;
  s.last_retire_cycle = lastRetire;
  s.stall_cycles = limit;
  s.fetched = t.fetch_count;
  for (int e = 0; e < ember::npu::kNumEngines; ++e) {
    ember_npu_engine_state_t &es = s.engines[e];
    es.phase = field(t.st_phase, e, 3);
    es.channel = field(t.st_ch, e, 4);
    es.queued = field(t.st_queued, e, 5);
    es.index = field(t.st_idx, e, 32);
    if (es.phase == EMBER_NPU_PHASE_IDLE && !es.queued)
      es.index = EMBER_NPU_NO_INSN;
    if (e == EMBER_NPU_ENGINE_GEMM)
      es.in_flight = t.st_inflight;
  }
  for (int c = 0; c < ember::npu::kNumChannels; ++c)
    s.tokens[c] = field(t.st_tokens, c, 4);
  s.load_pending_bytes = t.st_load_pending;
  s.dram_queue = t.st_dram_queue;
  s.dram_reads = t.st_dram_reads;
  s.dram_writes = t.st_dram_writes;
  s.last_beat_cycle = t.st_last_beat ? t.st_last_beat : EMBER_NPU_NO_INSN;
  return s;
}

/// A planted stall (RtlConfig::fault): from the cycle its engine executes an
/// instruction at or after the fault's (SETREG aside; GEMM: from the cycle
/// its oldest is one), one register of the engine's control is held every
/// cycle: LOAD, VECTOR and STORE never leave setup (their datapath never
/// starts), GEMM's shadow-weight countdown never reaches 0 (its next tile
/// never preloads). The register is written before each clock edge, as a
/// stuck-at fault.
struct FaultInjector {
  ember::npu::FaultPlan plan;
  const std::vector<ember::npu::Insn> &program;
  bool active = false;
  void apply(Vnpu_sim_top &t) {
    if (!plan.on())
      return;
    auto &r = *t.rootp;
    const int e = plan.engine;
    if (!active) {
      uint32_t phase = field(t.st_phase, e, 3);
      uint64_t idx = field(t.st_idx, e, 32);
      active = phase != EMBER_NPU_PHASE_IDLE && idx >= plan.index &&
               (e == EMBER_NPU_ENGINE_GEMM ||
                (phase == EMBER_NPU_PHASE_EXEC && idx < program.size() &&
                 program[idx].op != ember::npu::Opcode::SETREG));
      if (!active)
        return;
    }
    switch (e) {
    case EMBER_NPU_ENGINE_LOAD:
      r.npu_sim_top__DOT__u_core__DOT__u_load__DOT__setup = 0;
      break;
    case EMBER_NPU_ENGINE_VECTOR:
      r.npu_sim_top__DOT__u_core__DOT__u_vec__DOT__setup = 0;
      break;
    case EMBER_NPU_ENGINE_STORE:
      r.npu_sim_top__DOT__u_core__DOT__u_store__DOT__setup = 0;
      break;
    default: // GEMM
      if (r.npu_sim_top__DOT__u_core__DOT__u_gemm__DOT__sh_cnt)
        r.npu_sim_top__DOT__u_core__DOT__u_gemm__DOT__sh_cnt = kDim - 1;
      break;
    }
  }
};

} // namespace

struct RtlModel::Impl {
  std::unique_ptr<VerilatedContext> ctx;
  std::unique_ptr<Vnpu_sim_top> top;
  bool waveforms = false;
#if EMBER_NPU_RTL_TRACE
  std::unique_ptr<VerilatedFstC> fst;
#endif
  uint64_t time = 0;

  void dump() {
#if EMBER_NPU_RTL_TRACE
    if (fst)
      fst->dump(time);
#endif
    ++time;
  }
  void tick() {
    top->clk = 1;
    top->eval();
    dump();
    top->clk = 0;
    top->eval();
    dump();
  }
};

RtlModel::RtlModel(bool waveforms) : impl_(std::make_unique<Impl>()) {
  impl_->ctx = std::make_unique<VerilatedContext>();
  impl_->waveforms = waveforms && waveformsSupported();
  if (impl_->waveforms)
    impl_->ctx->traceEverOn(true);
  impl_->top = std::make_unique<Vnpu_sim_top>(impl_->ctx.get(), "npu");
  impl_->top->clk = 0;
  impl_->top->rst = 1;
  impl_->top->eval();
}

RtlModel::~RtlModel() {
#if EMBER_NPU_RTL_TRACE
  if (impl_->fst)
    impl_->fst->close();
#endif
  impl_->top->final();
}

bool RtlModel::waveformsSupported() { return EMBER_NPU_RTL_TRACE != 0; }

bool RtlModel::waveforms() const { return impl_->waveforms; }

std::string RtlModel::checkConfig(const RtlConfig &c) {
  if (c.burstBytes == 0 || (c.burstBytes & (c.burstBytes - 1)) ||
      c.burstBytes > kMaxBurstBytes)
    return "the RTL executor needs a power-of-two DRAM burst of at most " +
           std::to_string(kMaxBurstBytes) + " bytes, not " +
           std::to_string(c.burstBytes);
  if (c.bytesPerCycle == 0)
    return "DRAM bandwidth must be at least 1 byte per cycle";
  if (!c.waveformPath.empty() && !waveformsSupported())
    return "this build of the RTL executor has no waveform support "
           "(EMBER_NPU_RTL_TRACE=OFF)";
  return "";
}

void RtlModel::readSram(int mem, uint32_t row, void *data,
                        uint32_t rows) const {
  auto *root = impl_->top->rootp;
  auto *out = static_cast<uint8_t *>(data);
  size_t rb = static_cast<size_t>(memRowBytes(mem));
  switch (mem) {
  case EMBER_NPU_MEM_ACT:
    copyRows(root->npu_sim_top__DOT__u_core__DOT__u_act__DOT__mem, row, rows,
             rb, out);
    break;
  case EMBER_NPU_MEM_WGT:
    copyRows(root->npu_sim_top__DOT__u_core__DOT__u_wgt__DOT__mem, row, rows,
             rb, out);
    break;
  case EMBER_NPU_MEM_ACC:
    copyRows(root->npu_sim_top__DOT__u_core__DOT__u_acc__DOT__mem, row, rows,
             rb, out);
    break;
  default:
    copyRows(root->npu_sim_top__DOT__u_core__DOT__u_out__DOT__mem, row, rows,
             rb, out);
    break;
  }
}

RtlResult RtlModel::run(const std::vector<Word> &program,
                        const std::vector<Insn> &decoded, uint8_t *dram,
                        uint64_t dramBytes, const RtlConfig &config) {
  RtlResult result;
  Impl &m = *impl_;
  Vnpu_sim_top &t = *m.top;
  gDram = dram;
  gDramBytes = dramBytes;
#if EMBER_NPU_RTL_TRACE
  if (!config.waveformPath.empty() && m.waveforms) {
    if (m.fst)
      m.fst->close();
    m.fst = std::make_unique<VerilatedFstC>();
    t.trace(m.fst.get(), 99);
    m.fst->open(config.waveformPath.c_str());
    m.time = 0;
  }
#endif
  uint64_t watchdog = config.watchdogCycles;
  if (watchdog == 0)
    watchdog =
        std::max<uint64_t>(1u << 20, 4ull * config.latencyCycles + (1u << 16));
  t.cfg_burst_bytes = config.burstBytes;
  t.cfg_beat_bytes =
      static_cast<uint16_t>(std::min(config.bytesPerCycle, kBusBytes));
  t.cfg_latency = config.latencyCycles;
  t.cfg_watchdog =
      static_cast<uint32_t>(std::min<uint64_t>(watchdog, 0xffffffffu));
  t.dram_freeze = 0;
  // The instruction port reads the program from reset on (the core ignores
  // it in reset; the word at fetch counter 0 is on the port when it ends).
  gProgram = &program;
  Trace trace;
  if (config.retireFn) {
    trace.fn = config.retireFn;
    trace.user = config.retireUser;
    trace.program = &decoded;
    trace.retired.assign(decoded.size(), 0);
    trace.root = t.rootp;
    gTrace = &trace;
  }
  t.trace_en = config.retireFn != nullptr;
  [[maybe_unused]] const bool window =
      !config.windowPath.empty() && m.waveforms && config.waveformPath.empty();
  // Reset: control state by the reset input, scratchpads directly (SRAMs have
  // no reset).
  t.rst = 1;
  m.tick();
  m.tick();
  auto *root = t.rootp;
  clearMem(root->npu_sim_top__DOT__u_core__DOT__u_act__DOT__mem);
  clearMem(root->npu_sim_top__DOT__u_core__DOT__u_wgt__DOT__mem);
  clearMem(root->npu_sim_top__DOT__u_core__DOT__u_acc__DOT__mem);
  clearMem(root->npu_sim_top__DOT__u_core__DOT__u_out__DOT__mem);
  clearMem(root->npu_sim_top__DOT__u_core__DOT__u_vbuf__DOT__mem);
  t.rst = 0;

  uint64_t cycle = 0;
  // The stall watchdog: the retired-instructions counter (a register: a
  // retirement in cycle c shows from c + 1) must move every `limit` cycles.
  const uint64_t limit =
      stallLimitFor(config.stallCycles, decoded,
                    DramParams{config.bytesPerCycle, config.latencyCycles,
                               config.burstBytes});
  uint32_t retiredSeen = 0;
  uint64_t lastRetire = 0;
  bool stalled = false;
  FaultInjector fault{config.fault, decoded};
  for (;;) {
    if (cycle == config.freezeDramAtCycle)
      t.dram_freeze = 1;
#if EMBER_NPU_RTL_TRACE
    if (window && cycle == config.windowFirst) {
      m.fst = std::make_unique<VerilatedFstC>();
      t.trace(m.fst.get(), 99);
      m.fst->open(config.windowPath.c_str());
      m.time = 2 * cycle; // FST time = 2 x cycle
    }
#endif
    fault.apply(t);
    trace.cycle = cycle;
    m.tick();
    ++cycle;
#if EMBER_NPU_RTL_TRACE
    if (window && m.fst && cycle > config.windowLast) {
      m.fst->close();
      m.fst.reset();
    }
#endif
    if (t.done || t.error || trace.stop)
      break;
    if (const uint32_t r = t.counters[2 * kInsnsCounter]; r != retiredSeen) {
      retiredSeen = r;
      lastRetire = cycle - 1;
    } else if (cycle - lastRetire > limit && limit != EMBER_NPU_STALL_OFF) {
      stalled = true;
      break;
    }
  }
  result.stop = stopState(t, cycle, lastRetire, limit);
  result.stop.stalled = stalled;
  // The monitor reports a cycle's retirements one cycle later: let it.
  if (gTrace && !trace.stop) {
    trace.cycle = cycle;
    m.tick();
  }
  gTrace = nullptr;
  gProgram = nullptr;
  t.trace_en = 0;
#if EMBER_NPU_RTL_TRACE
  if (m.fst) {
    m.fst->close();
    m.fst.reset();
  }
#endif
  gDram = nullptr;

  int i = 0;
#define EMBER_NPU_X(name) result.counters.name = wideWord64(t.counters, i++);
  EMBER_NPU_COUNTER_LIST(EMBER_NPU_X)
#undef EMBER_NPU_X
  if (stalled) {
    result.error = stallError(result.stop, decoded);
    return result;
  }
  if (trace.stop) {
    result.error = "instruction " + std::to_string(trace.stopIndex) +
                   ": stopped by the retirement callback";
    return result;
  }
  if (!t.error)
    return result;

  uint32_t idx = t.err_idx;
  std::string at = "instruction " + std::to_string(idx) + ": ";
  bool known = idx < decoded.size();
  int eng = t.err_engine;
  const char *engName =
      eng < kNumEngines ? engineName(static_cast<Engine>(eng)) : "FETCH";
  switch (t.err_code) {
  case 1: { // POOL geometry, detected by the VECTOR engine before it reads
            // anything
    int32_t regs[EMBER_NPU_NUM_REGS] = {};
    for (int r = 0; r < 5; ++r)
      regs[EMBER_NPU_REG_POOL_KH + r] = static_cast<int32_t>(t.pool_regs[r]);
    int64_t span = 0;
    std::string why =
        known ? checkPool(decoded[idx], poolGeomFromRegs(regs), span) : "";
    result.error =
        at + (why.empty()
                  ? "internal: the RTL reports a pool geometry error (code " +
                        std::to_string(int(t.err_detail)) +
                        ") the golden check does not"
                  : why);
    break;
  }
  case 2: { // deadlock: nothing can move any more
    if (!known || eng >= kNumEngines) {
      result.error = at + "deadlock";
      break;
    }
    bool space = t.err_space;
    result.error =
        at + "deadlock: " + opcodeName(decoded[idx].op) + " on " + engName +
        (space ? " waits for space on token channel "
               : " waits for a token on ") +
        channelName(t.err_ch) +
        (space ? " that is never drained" : " that is never signalled");
    break;
  }
  case 3:
    result.error = at +
                   "watchdog: " + (known ? opcodeName(decoded[idx].op) : "?") +
                   " on " + engName + " made no progress for " +
                   std::to_string(watchdog) + " cycles";
    break;
  default:
    result.error = at + "unknown opcode " + std::to_string(int(t.err_op));
    break;
  }
  return result;
}

} // namespace ember::npu
