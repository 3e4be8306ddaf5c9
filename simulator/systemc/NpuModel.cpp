//===- NpuModel.cpp - SystemC/TLM-2.0 approximately-timed NPU model -------===//
#include "NpuModel.h"
#include "MacRows.h"
#include "WideRows.h"

#include "RetireLog.h"
#include "ember/npu/Arith.h"
#include "ember/npu/Footprint.h"

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <functional>

// libsystemc's main() needs an sc_main; Ember's executables have their own
// main().
int sc_main(int, char **) { return 0; }

namespace ember::npu {

using sc_core::sc_event;
using sc_core::sc_module_name;
using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

namespace {

const sc_time kCycle(1, SC_NS);

uint64_t toCycles(const sc_time &t) {
  return static_cast<uint64_t>(t / kCycle + 0.5);
}

/// Address map seen through the router: DRAM at 0, scratchpad m at (m + 1)
/// << 32.
constexpr uint64_t kSramBase = 1ull << 32;
uint64_t sramAddr(int mem, int64_t row) {
  return kSramBase * static_cast<uint64_t>(mem + 1) +
         static_cast<uint64_t>(row) * static_cast<uint64_t>(memRowBytes(mem));
}

struct Abort {};

} // namespace

/// DRAM target: a single channel with bandwidth and burst limit. Transactions
/// carry the issue time in `delay` (loosely-timed annotation); the returned
/// delay is the time the burst starts on the channel (the engines add the
/// latency, as the RTL's DRAM model delivers it).
class DramTarget : public sc_core::sc_module {
public:
  tlm_utils::simple_target_socket<DramTarget> socket;
  uint8_t *data = nullptr;
  uint64_t bytes = 0;
  DramTiming timing;
  sc_time busyUntil = SC_ZERO_TIME;
  // Start times of the accepted bursts that may not have started yet (the RTL's
  // request queue).
  std::deque<sc_time> queued;
  static constexpr size_t kQueueDepth = 64;
  SharedDram *shared = nullptr; // a platform's shared channel, or none
  // The request port, as the RTL's: one request accepted per cycle; when
  // LOAD (read) and STORE (write) ask in the same cycle, the side not
  // accepted last wins and the other is accepted the next cycle at the
  // earliest. pending[w]: the cycle side w asks in (UINT64_MAX: none).
  uint64_t pending[2] = {UINT64_MAX, UINT64_MAX};
  uint64_t lastAccept = UINT64_MAX;
  bool preferWrite = false; // the RTL's prio_aw: the last accept was a read
  void resetPort() {
    pending[0] = pending[1] = lastAccept = UINT64_MAX;
    preferWrite = false;
  }

  /// Earliest cycle >= `t` at which the request queue accepts a burst: it holds
  /// kQueueDepth requests, and one leaves in the cycle it starts on the channel
  /// (seen the next cycle).
  sc_time acceptAt(sc_time t) {
    while (!queued.empty() && queued.front() < t)
      queued.pop_front();
    if (queued.size() < kQueueDepth)
      return t;
    return queued.front() + kCycle;
  }

  explicit DramTarget(sc_module_name name) : sc_module(name), socket("socket") {
    socket.register_b_transport(this, &DramTarget::bTransport);
  }

  void bTransport(tlm::tlm_generic_payload &p, sc_time &delay) {
    uint64_t addr = p.get_address();
    unsigned len = p.get_data_length();
    if (addr + len > bytes || len > timing.burstBytes) {
      p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    if (p.is_read()) {
      std::memcpy(p.get_data_ptr(), data + addr, len);
    } else if (const unsigned char *be = p.get_byte_enable_ptr()) {
      // Byte enables (STORE's lane groups), applied cyclically as TLM-2.0
      // defines them: a disabled byte keeps its DRAM value.
      unsigned n = p.get_byte_enable_length();
      for (unsigned i = 0; i < len; ++i)
        if (be[i % n] == TLM_BYTE_ENABLED)
          data[addr + i] = p.get_data_ptr()[i];
    } else {
      std::memcpy(data + addr, p.get_data_ptr(), len);
    }
    sc_time issue = sc_core::sc_time_stamp() + delay;
    sc_time start = issue > busyUntil ? issue : busyUntil;
    if (shared) // the platform's channel too: from the first whole cycle
      start =
          kCycle *
          std::ceil(bookSharedDram(*shared, sc_core::sc_time_stamp() / kCycle,
                                   start / kCycle, len) -
                    1e-9);
    // Beats of the memory port: the DRAM bytes per cycle, at most 4 * DIM (one
    // ACC row); a write burst holds the channel one more cycle (its start,
    // before the first beat).
    uint64_t beat = std::min<uint64_t>(timing.bytesPerCycle,
                                       4 * static_cast<uint64_t>(kDim));
    uint64_t occupancy = (len + beat - 1) / beat + (p.is_write() ? 1 : 0);
    busyUntil = start + kCycle * static_cast<double>(occupancy);
    queued.push_back(start);
    delay = start -
            sc_core::sc_time_stamp(); // the engines add the latency themselves
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

/// A scratchpad. Access time is part of each engine's cost model, so no delay
/// is added here.
class SramTarget : public sc_core::sc_module {
public:
  tlm_utils::simple_target_socket<SramTarget> socket;
  std::vector<uint8_t> storage;

  SramTarget(sc_module_name name, size_t bytes)
      : sc_module(name), socket("socket") {
    storage.assign(bytes, 0);
    socket.register_b_transport(this, &SramTarget::bTransport);
  }

  void bTransport(tlm::tlm_generic_payload &p, sc_time &) {
    uint64_t addr = p.get_address();
    unsigned len = p.get_data_length();
    if (addr + len > storage.size()) {
      p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    if (p.is_read())
      std::memcpy(p.get_data_ptr(), storage.data() + addr, len);
    else
      std::memcpy(storage.data() + addr, p.get_data_ptr(), len);
    p.set_response_status(tlm::TLM_OK_RESPONSE);
  }
};

/// Interconnect: every engine initiator to DRAM and the four scratchpads.
class Router : public sc_core::sc_module {
public:
  tlm_utils::multi_passthrough_target_socket<Router> targetSocket;
  tlm_utils::multi_passthrough_initiator_socket<Router>
      initSocket; // [0]=DRAM, [1+m]=SRAM m

  explicit Router(sc_module_name name)
      : sc_module(name), targetSocket("target"), initSocket("init") {
    targetSocket.register_b_transport(this, &Router::bTransport);
  }

  void bTransport(int, tlm::tlm_generic_payload &p, sc_time &delay) {
    uint64_t addr = p.get_address();
    unsigned port = static_cast<unsigned>(addr >> 32);
    if (port > static_cast<unsigned>(kNumMems)) {
      p.set_response_status(tlm::TLM_ADDRESS_ERROR_RESPONSE);
      return;
    }
    p.set_address(addr & 0xffffffffull);
    initSocket[port]->b_transport(p, delay);
    p.set_address(addr);
  }
};

class EngineModule;

/// The NPU: fetch, token channels, per-engine instruction queues, memories.
class NpuTop : public sc_core::sc_module {
public:
  SC_HAS_PROCESS(NpuTop);
  explicit NpuTop(sc_module_name name);

  // Run state. Times are cycles from the run start; the state at time t is the
  // RTL's state in its cycle t (a register written at the end of cycle c is
  // seen from time c + 1).
  const std::vector<Insn> *program = nullptr;
  SimResult *result = nullptr;
  bool runPending = false;
  uint64_t runId = 0; // engines reset their pipeline state when it changes
  bool finished = false;
  bool aborting = false;
  sc_time startTime;
  sc_event startEv, abortEv, engineDoneEv, tokenEv, gemmRetireEv;
  std::array<int, kNumChannels> tokens{}; // tokens given minus tokens taken
  std::array<int64_t, kNumChannels>
      lastTake{}; // time of the latest take (frees space next cycle)
  struct QEntry {
    uint32_t index;
    uint64_t pushed; // time the entry is visible to its engine
  };
  std::array<std::deque<QEntry>, kNumEngines> queues;
  std::array<sc_event, kNumEngines> queueEv;
  std::array<bool, kNumEngines>
      active{};         // holds an instruction that has not retired
  int gemmInflight = 0; // GEMMs with tokens taken, not yet retired
  // Why an engine is waiting, for the deadlock report: the channel, and whether
  // it waits for a token (wait mask) or for space (signal mask). -1 = not
  // blocked on a token channel. GEMM has a second slot for its retire stage.
  std::array<int, kNumEngines + 1> blockedChannel{};
  std::array<bool, kNumEngines + 1> blockedForSpace{};
  std::array<int64_t, kNumEngines + 1> blockedInsn{};
  std::array<int32_t, EMBER_NPU_NUM_REGS> regs{};
  std::array<int8_t, 256> lut{};    // the VECTOR engine's output table (LUTLD)
  std::array<int16_t, 513> lut16{}; // its 16-bit table (LUTLD w16)
  // Called in the kernel when a run ends: FINISH reached or an error
  // (SystemCPlatform pauses the kernel there).
  std::function<void()> onRunEnd;

  // Retirement records (driver.h), when the run reports them.
  RetireLog retireLog;
  void retire(uint32_t index, Engine e) {
    if (retireLog.on() && !retireLog.retire(index, e, now()))
      fail("instruction " + std::to_string(index) +
           ": stopped by the retirement callback");
  }

  DramTarget dram;
  std::vector<SramTarget *> srams;
  Router router;
  std::vector<EngineModule *> engines;

  void waitOn(const sc_event &ev) {
    sc_core::wait(ev | abortEv);
    if (aborting)
      throw Abort();
  }
  void waitUntil(uint64_t t) {
    uint64_t n = now();
    if (t <= n)
      return;
    sc_core::wait(kCycle * static_cast<double>(t - n), abortEv);
    if (aborting)
      throw Abort();
  }
  void fail(const std::string &msg) {
    if (result->error.empty())
      result->error = msg;
    aborting = true;
    abortEv.notify(SC_ZERO_TIME);
    throw Abort();
  }
  uint64_t now() const {
    return toCycles(sc_core::sc_time_stamp() - startTime);
  }

  // Token channels, as the RTL's counters: a consumer sees a token from the
  // cycle after the producer's last cycle; a token taken in cycle c frees its
  // slot for a producer in cycle c.
  int firstMissing(uint32_t mask) const {
    for (int ch = 0; ch < kNumChannels; ++ch)
      if (((mask >> ch) & 1u) && tokens[ch] == 0)
        return ch;
    return -1;
  }
  /// Channel of `mask` without space for a give now, or -1. A take decided at
  /// this very time happened in the consumer's start cycle, which is the
  /// producer's next cycle.
  int firstFull(uint32_t mask, bool countSameTimeTakes) const {
    int64_t t = static_cast<int64_t>(now());
    for (int ch = 0; ch < kNumChannels; ++ch) {
      if (!((mask >> ch) & 1u))
        continue;
      int held =
          tokens[ch] + (!countSameTimeTakes && lastTake[ch] == t ? 1 : 0);
      if (held >= EMBER_NPU_TOKEN_FIFO_DEPTH)
        return ch;
    }
    return -1;
  }
  /// Waits until every channel of `mask` holds a token, then takes them all.
  void takeTokens(uint32_t mask, int slot, uint32_t index) {
    blockedInsn[slot] = index;
    for (int ch; (ch = firstMissing(mask)) >= 0;) {
      blockedChannel[slot] = ch;
      blockedForSpace[slot] = false;
      waitOn(tokenEv);
    }
    blockedChannel[slot] = -1;
    for (int ch = 0; ch < kNumChannels; ++ch)
      if ((mask >> ch) & 1u) {
        --tokens[ch];
        lastTake[ch] = static_cast<int64_t>(now());
      }
    if (mask)
      tokenEv.notify(SC_ZERO_TIME);
  }
  /// Waits until every channel of `mask` has space, then gives one token on
  /// each.
  void giveTokens(uint32_t mask, int slot, uint32_t index) {
    blockedInsn[slot] = index;
    for (;;) {
      int ch = firstFull(mask, false);
      if (ch < 0)
        break;
      if (firstFull(mask, true) < 0) {
        waitUntil(now() + 1); // freed by a take in this cycle: seen next cycle
        continue;
      }
      blockedChannel[slot] = ch;
      blockedForSpace[slot] = true;
      waitOn(tokenEv);
    }
    blockedChannel[slot] = -1;
    for (int ch = 0; ch < kNumChannels; ++ch)
      if ((mask >> ch) & 1u)
        ++tokens[ch];
    if (mask)
      tokenEv.notify(SC_ZERO_TIME);
  }

private:
  void fetchThread();
  bool drained() const {
    for (int e = 0; e < kNumEngines; ++e)
      if (active[e] || !queues[e].empty())
        return false;
    return true;
  }
};

/// One execution engine: pops its queue, waits for tokens, executes, signals
/// tokens.
class EngineModule : public sc_core::sc_module {
public:
  SC_HAS_PROCESS(EngineModule);
  tlm_utils::simple_initiator_socket<EngineModule> socket;

  EngineModule(sc_module_name name, NpuTop &top, Engine kind)
      : sc_module(name), socket("socket"), top_(top), kind_(kind),
        id_(static_cast<int>(kind)) {
    if (kind == Engine::GEMM) {
      SC_THREAD(gemmThread);
      SC_THREAD(gemmRetireThread);
    } else {
      SC_THREAD(thread);
    }
  }

  /// GEMM instructions between token take and retire (the RTL's retire FIFO).
  struct Retire {
    uint32_t index;
    uint64_t take;      // cycle the tokens were taken
    uint64_t lastWrite; // cycle of the last accumulator write
  };
  std::deque<Retire> retires;
  sc_event retireEv;
  bool gemmHoldsCur = false;

private:
  NpuTop &top_;
  Engine kind_;
  int id_;
  uint32_t curIndex_ = 0; // the instruction whose writes access() records
  std::vector<uint8_t> buf_, buf2_, beBuf_;
  std::vector<int32_t> accBuf_;
  std::vector<int16_t> wgt16_;

  void thread();
  void gemmThread();
  void gemmRetireThread();
  void runOne(uint32_t index);
  uint64_t execute(const Insn &insn, uint32_t index, uint64_t &dramStall);
  uint64_t dmaLoad(const Insn &insn, uint64_t &dramStall);
  uint64_t move(const Insn &insn);
  uint64_t dramBook(tlm::tlm_command cmd, uint64_t addr, uint8_t *ptr,
                    uint64_t len, uint64_t issue,
                    const uint8_t *byteEnable = nullptr,
                    unsigned byteEnableLength = 0);
  std::vector<uint64_t> dataWrites_;
  uint64_t lastRequest_ = 0;
  uint64_t dmaStore(const Insn &insn, uint64_t &dramStall);
  uint64_t gemm(const Insn &insn);
  uint64_t dwgemm(const Insn &insn);
  uint64_t vector(const Insn &insn, uint32_t index);
  uint64_t vectorTableMulUpsample(const Insn &insn);
  void applyLut(int8_t *v, size_t n) const;

  tlm::tlm_generic_payload
      payload_; // re-used by every access (no per-access construction)

  void access(tlm::tlm_command cmd, uint64_t addr, void *ptr, size_t len,
              sc_time &delay, const uint8_t *byteEnable = nullptr,
              unsigned byteEnableLength = 0) {
    tlm::tlm_generic_payload &p = payload_;
    p.set_command(cmd);
    p.set_address(addr);
    p.set_data_ptr(static_cast<unsigned char *>(ptr));
    p.set_data_length(static_cast<unsigned>(len));
    p.set_streaming_width(static_cast<unsigned>(len));
    p.set_byte_enable_ptr(const_cast<unsigned char *>(byteEnable));
    p.set_byte_enable_length(byteEnableLength);
    p.set_dmi_allowed(false);
    p.set_response_status(tlm::TLM_INCOMPLETE_RESPONSE);
    socket->b_transport(p, delay);
    if (p.get_response_status() != tlm::TLM_OK_RESPONSE)
      top_.fail("internal: TLM access error at address " +
                std::to_string(addr));
    if (top_.retireLog.on() && cmd == tlm::TLM_WRITE_COMMAND) {
      unsigned port = static_cast<unsigned>(addr >> 32);
      top_.retireLog.write(curIndex_, port == 0 ? kSpaceDram : int(port) - 1,
                           addr & 0xffffffffull,
                           static_cast<const uint8_t *>(ptr), len, byteEnable,
                           byteEnableLength, TLM_BYTE_ENABLED);
    }
  }
  void sramRead(int mem, int64_t row, void *ptr, int64_t rows) {
    sc_time d = SC_ZERO_TIME;
    access(tlm::TLM_READ_COMMAND, sramAddr(mem, row), ptr,
           static_cast<size_t>(rows * memRowBytes(mem)), d);
  }
  void sramWrite(int mem, int64_t row, const void *ptr, int64_t rows) {
    sc_time d = SC_ZERO_TIME;
    access(tlm::TLM_WRITE_COMMAND, sramAddr(mem, row), const_cast<void *>(ptr),
           static_cast<size_t>(rows * memRowBytes(mem)), d);
  }
  /// 16-bit rows (spec version 3): `rows` DRAM-format rows (DIM int16 each)
  /// from or to the row pairs of `mem` from `row`.
  void wideRead(int mem, int64_t row, uint8_t *rows16, int64_t rows) {
    wideBuf_.resize(static_cast<size_t>(2 * rows * kDim));
    sramRead(mem, row, wideBuf_.data(), rows);
    sramRead(mem, row + wideHalf(mem), wideBuf_.data() + rows * kDim, rows);
    joinWideRows(wideBuf_.data(), wideBuf_.data() + rows * kDim, rows, rows16);
  }
  void wideWrite(int mem, int64_t row, const uint8_t *rows16, int64_t rows) {
    wideBuf_.resize(static_cast<size_t>(2 * rows * kDim));
    splitWideRows(rows16, rows, wideBuf_.data(), wideBuf_.data() + rows * kDim);
    sramWrite(mem, row, wideBuf_.data(), rows);
    sramWrite(mem, row + wideHalf(mem), wideBuf_.data() + rows * kDim, rows);
  }
  std::vector<uint8_t> wideBuf_;
};

NpuTop::NpuTop(sc_module_name name)
    : sc_module(name), dram("dram"), router("router") {
  router.initSocket.bind(dram.socket);
  for (int m = 0; m < kNumMems; ++m) {
    std::string n = std::string("sram_") + memName(m);
    srams.push_back(new SramTarget(n.c_str(), static_cast<size_t>(memRows(m)) *
                                                  memRowBytes(m)));
    router.initSocket.bind(srams.back()->socket);
  }
  for (int e = 0; e < kNumEngines; ++e) {
    std::string n = std::string("engine_") + engineName(static_cast<Engine>(e));
    engines.push_back(
        new EngineModule(n.c_str(), *this, static_cast<Engine>(e)));
    engines.back()->socket.bind(router.targetSocket);
  }
  SC_THREAD(fetchThread);
}

void NpuTop::fetchThread() {
  for (;;) {
    try {
      while (!runPending)
        sc_core::wait(startEv);
      runPending = false;
      const std::vector<Insn> &prog = *program;
      // The RTL's fetch accepts at most one instruction per cycle; an
      // instruction accepted in cycle a is in its engine's queue from cycle a +
      // 1 (`lastPush`).
      uint64_t lastPush = 0;
      for (uint32_t i = 0; i < prog.size(); ++i) {
        const Insn &insn = prog[i];
        Engine e = engineOf(insn);
        if (e == Engine::Fetch) {
          // FENCE and FINISH: accepted in the first cycle every queue is empty
          // and every engine idle.
          waitUntil(lastPush);
          while (!drained())
            waitOn(engineDoneEv);
          waitUntil(now() + 1);
          lastPush = now();
          result->counters.insns++;
          retire(i, Engine::Fetch);
          if (insn.op == Opcode::FINISH) {
            finished = true;
            break;
          }
          continue;
        }
        int eng = static_cast<int>(e);
        waitUntil(lastPush + 1);
        while (queues[eng].size() >= EMBER_NPU_INSN_QUEUE_DEPTH)
          waitOn(queueEv[eng]);
        lastPush = now();
        queues[eng].push_back(QEntry{i, lastPush});
        queueEv[eng].notify(SC_ZERO_TIME);
      }
      result->counters.cycles = lastPush;
    } catch (Abort &) {
    }
    if (onRunEnd)
      onRunEnd();
  }
}

void EngineModule::thread() {
  for (;;) {
    uint64_t freeAt = 0; // time of the previous instruction's give
    uint64_t run = top_.runId;
    try {
      for (;;) {
        if (top_.aborting)
          top_.queues[id_].clear();
        while (top_.queues[id_].empty())
          top_.waitOn(top_.queueEv[id_]);
        if (run != top_.runId) {
          run = top_.runId;
          freeAt = 0;
        }
        NpuTop::QEntry q = top_.queues[id_].front();
        // The RTL pops in the last cycle of the previous instruction when the
        // entry is there, else in the first cycle it is; it executes from the
        // next cycle.
        top_.waitUntil(q.pushed >= freeAt ? q.pushed + 1 : freeAt);
        top_.queues[id_].pop_front();
        top_.queueEv[id_].notify(SC_ZERO_TIME);
        top_.active[id_] = true;
        runOne(q.index);
        top_.active[id_] = false;
        freeAt = top_.now();
        top_.engineDoneEv.notify(SC_ZERO_TIME);
      }
    } catch (Abort &) {
      top_.active[id_] = false;
      top_.queues[id_].clear();
    }
  }
}

void EngineModule::runOne(uint32_t index) {
  const Insn &insn = (*top_.program)[index];
  ember_npu_counters_t &c = top_.result->counters;
  uint64_t *stallToken[] = {&c.load_stall_token, &c.gemm_stall_token,
                            &c.vector_stall_token, &c.store_stall_token};
  uint64_t *busy[] = {&c.load_busy, &c.gemm_busy, &c.vector_busy,
                      &c.store_busy};
  uint64_t t0 = top_.now();
  top_.takeTokens(insn.wait, id_, index);
  uint64_t start = top_.now();
  uint64_t dramStall = 0;
  curIndex_ = index;
  const uint64_t loaded = c.load_bytes, stored = c.store_bytes;
  uint64_t cycles = execute(insn, index, dramStall);
  if (top_.retireLog.on()) {
    RetireLog::Pending &tr = top_.retireLog.of(index);
    // The other engines run meanwhile: only this engine's own counter.
    if (kind_ == Engine::LOAD)
      tr.loadBytes += c.load_bytes - loaded;
    if (kind_ == Engine::STORE)
      tr.storeBytes += c.store_bytes - stored;
  }
  top_.waitUntil(start + cycles);
  uint64_t end = top_.now();
  *busy[id_] += end - start;
  if (kind_ == Engine::LOAD)
    c.load_stall_dram += dramStall;
  else if (kind_ == Engine::STORE)
    c.store_stall_dram += dramStall;
  top_.result->busy[id_].push_back(
      BusyInterval{start, end, index, insn.op, false});
  if (start > t0)
    top_.result->stalls[id_].push_back(
        BusyInterval{t0, start, index, insn.op, true});
  top_.giveTokens(insn.signal, id_, index);
  if (top_.now() > end)
    top_.result->stalls[id_].push_back(
        BusyInterval{end, top_.now(), index, insn.op, true});
  *stallToken[id_] += (start - t0) + (top_.now() - end);
  c.insns++;
  top_.retire(index, kind_);
}

// GEMM, as the RTL's three-stage pipeline (hw/rtl/npu_gemm.sv): an instruction
// takes its tokens in cycle x (once the previous one left the preload stage and
// fewer than kGemmRetireDepth are in flight), starts preloading its weights in
// y = max(x + 1, previous stream start + DIM) (the shadow weights are free once
// the previous tile's swap has passed the array), streams its rows in z + 1
// .. z + rows with z = max(y, previous z + previous rows), writes its last
// accumulator row in z + rows + 2 * DIM and retires (signals its tokens) from
// that cycle on, in order, one per cycle.
constexpr int kGemmRetireDepth = EMBER_NPU_GEMM_RETIRE_DEPTH;

void EngineModule::gemmThread() {
  for (;;) {
    int64_t prevTake = -1, prevZ = 0, prevLastRead = 0;
    bool first = true;
    uint64_t run = top_.runId;
    try {
      for (;;) {
        if (top_.aborting)
          top_.queues[id_].clear();
        while (top_.queues[id_].empty())
          top_.waitOn(top_.queueEv[id_]);
        if (run != top_.runId) {
          run = top_.runId;
          prevTake = -1;
          prevZ = prevLastRead = 0;
          first = true;
        }
        NpuTop::QEntry q = top_.queues[id_].front();
        int64_t popEdge =
            std::max<int64_t>(static_cast<int64_t>(q.pushed), prevTake);
        top_.waitUntil(static_cast<uint64_t>(popEdge + 1));
        top_.queues[id_].pop_front();
        top_.queueEv[id_].notify(SC_ZERO_TIME);
        gemmHoldsCur = true;
        top_.active[id_] = true;
        const Insn &insn = (*top_.program)[q.index];
        uint64_t t0 = top_.now();
        for (;;) {
          if (!first && static_cast<int64_t>(top_.now()) < prevZ) {
            top_.waitUntil(static_cast<uint64_t>(prevZ));
            continue;
          }
          if (top_.gemmInflight >= kGemmRetireDepth) {
            top_.waitOn(top_.gemmRetireEv);
            continue;
          }
          int ch = top_.firstMissing(insn.wait);
          if (ch >= 0) {
            top_.blockedInsn[id_] = q.index;
            top_.blockedChannel[id_] = ch;
            top_.blockedForSpace[id_] = false;
            top_.waitOn(top_.tokenEv);
            continue;
          }
          break;
        }
        top_.blockedChannel[id_] = -1;
        int64_t x = static_cast<int64_t>(top_.now());
        top_.takeTokens(insn.wait, id_, q.index); // all there: takes them now
        gemmHoldsCur = false;
        int64_t rows = streamedRows(insn);
        int64_t y = std::max<int64_t>(
            x + 1,
            first ? 0 : prevZ + kDim + EMBER_NPU_GEMM_ISSUE_OVERHEAD_CYCLES);
        int64_t z = std::max<int64_t>(y, first ? 0 : prevLastRead);
        curIndex_ = q.index;
        const uint64_t macs = top_.result->counters.macs;
        gemm(insn);
        if (top_.retireLog.on())
          top_.retireLog.of(q.index).macs += top_.result->counters.macs - macs;
        retires.push_back(
            Retire{q.index, static_cast<uint64_t>(x),
                   static_cast<uint64_t>(
                       z + rows + EMBER_NPU_GEMM_RESULT_LATENCY_DIMS * kDim)});
        ++top_.gemmInflight;
        retireEv.notify(SC_ZERO_TIME);
        top_.result->counters.gemm_stall_token += static_cast<uint64_t>(x) - t0;
        if (static_cast<uint64_t>(x) > t0)
          top_.result->stalls[id_].push_back(BusyInterval{
              t0, static_cast<uint64_t>(x), q.index, insn.op, true});
        prevTake = x;
        prevZ = z;
        prevLastRead = z + rows;
        first = false;
      }
    } catch (Abort &) {
      gemmHoldsCur = false;
      top_.queues[id_].clear();
    }
  }
}

void EngineModule::gemmRetireThread() {
  for (;;) {
    uint64_t prevGive = 0;
    uint64_t run = top_.runId;
    try {
      for (;;) {
        while (retires.empty())
          top_.waitOn(retireEv);
        if (run != top_.runId) {
          run = top_.runId;
          prevGive = 0;
        }
        Retire r = retires.front();
        top_.waitUntil(std::max(r.lastWrite + 1, prevGive + 1));
        uint64_t t1 = top_.now();
        const Insn &insn = (*top_.program)[r.index];
        top_.giveTokens(insn.signal, kNumEngines, r.index);
        prevGive = top_.now();
        top_.result->counters.gemm_stall_token += prevGive - t1;
        top_.result->busy[id_].push_back(
            BusyInterval{r.take + 1, prevGive, r.index, insn.op, false});
        retires.pop_front();
        --top_.gemmInflight;
        if (retires.empty() && !gemmHoldsCur && top_.queues[id_].empty())
          top_.active[id_] = false;
        top_.result->counters.insns++;
        top_.retire(r.index, Engine::GEMM);
        top_.gemmRetireEv.notify(SC_ZERO_TIME);
        top_.engineDoneEv.notify(SC_ZERO_TIME);
      }
    } catch (Abort &) {
      retires.clear();
      top_.gemmInflight = 0;
      top_.active[id_] = false;
    }
  }
}

uint64_t EngineModule::execute(const Insn &insn, uint32_t index,
                               uint64_t &dramStall) {
  switch (insn.op) {
  case Opcode::LOAD:
  case Opcode::LOAD16:
    return dmaLoad(insn, dramStall);
  case Opcode::MOVE:
    return move(insn);
  case Opcode::STORE:
  case Opcode::STORE16:
    return dmaStore(insn, dramStall);
  case Opcode::GEMM:
  case Opcode::DWGEMM:
  case Opcode::GEMM16:
  case Opcode::DWGEMM16:
    return gemm(insn);
  case Opcode::REQUANT:
  case Opcode::VADD:
  case Opcode::POOL:
  case Opcode::LUTLD:
  case Opcode::LUT:
  case Opcode::VMUL:
  case Opcode::UPSAMPLE:
    return vector(insn, index);
  case Opcode::SETREG:
    top_.regs[insn.reg] = static_cast<int32_t>(insn.value);
    return EMBER_NPU_SETREG_CYCLES;
  case Opcode::FENCE:
  case Opcode::FINISH:
    return 0;
  }
  return 0;
}

// DMA timing as the RTL's LOAD/STORE datapaths (hw/rtl/npu_load.sv,
// npu_store.sv) and DRAM model (hw/sim/npu_dram_model.sv), in cycles from the
// instruction's first cycle (0):
// - a burst requested in cycle c occupies the DRAM channel from S = max(c + 1,
// channel free)
//   for ceil(len / beat) cycles (reads) or 1 + ceil(len / beat) (writes), beat
//   = the DRAM bytes per cycle, at most 4 * DIM (the memory port's width);
// - LOAD requests one burst per cycle from cycle 1; beat j of a read burst
// arrives in cycle
//   S + L + j (L = latency, at least 1) and a row is written one cycle after
//   its last byte arrived, at most one row per cycle, data before padding,
//   padding rows in the free cycles;
// - STORE reads one row per cycle from cycle 1 (in its FIFO two cycles later),
// requests a burst
//   once all of its bytes are there and the previous burst's beats have gone,
//   sends the beats in S + 1 .. S + n and gets the response L + 1 cycles after
//   the last beat.
// Each burst is booked on the channel in its request cycle, through the DRAM's
// 64-entry request queue, so the bursts of a LOAD and a STORE interleave in the
// order of their requests.
namespace {
uint64_t dmaBeatBytes(const DramTiming &t) {
  return std::min<uint64_t>(t.bytesPerCycle, 4 * static_cast<uint64_t>(kDim));
}
uint64_t dmaLatency(const DramTiming &t) {
  return std::max<uint64_t>(t.latencyCycles, 1);
}
} // namespace

uint64_t EngineModule::dramBook(tlm::tlm_command cmd, uint64_t addr,
                                uint8_t *ptr, uint64_t len, uint64_t request,
                                const uint8_t *byteEnable,
                                unsigned byteEnableLength) {
  // `request`: the cycle (from the run start) the engine asks; it waits until
  // then, and until the DRAM's request queue has room, so the bursts of LOAD
  // and STORE reach the channel in the order of their request cycles, as in the
  // RTL.
  // Both engines ask after a timed wait, so in the first delta cycle of
  // their request cycle: each registers its request there and decides one
  // delta later, when the other's request of the same cycle is known.
  DramTarget &dram = top_.dram;
  const int side = cmd == tlm::TLM_WRITE_COMMAND;
  for (;;) {
    top_.waitUntil(request);
    uint64_t ok =
        toCycles(dram.acceptAt(sc_core::sc_time_stamp()) - top_.startTime);
    if (ok > request) {
      request = ok;
      continue;
    }
    dram.pending[side] = request;
    sc_core::wait(sc_core::SC_ZERO_TIME);
    const bool otherAsks = dram.pending[1 - side] == request;
    const bool lose = dram.lastAccept == request ||
                      (otherAsks && dram.preferWrite != bool(side));
    if (!lose) {
      dram.pending[side] = UINT64_MAX;
      dram.lastAccept = request;
      dram.preferWrite = !side;
      break;
    }
    ++request; // still asking: accepted the next cycle at the earliest
  }
  sc_time d = kCycle; // the burst can start the cycle after it was accepted
  access(cmd, addr, ptr, len, d, byteEnable, byteEnableLength);
  lastRequest_ = request;
  return top_.now() + toCycles(d); // the cycle the burst starts on the channel
}

uint64_t EngineModule::dmaLoad(const Insn &insn, uint64_t &dramStall) {
  int mem = static_cast<int>(insn.mem);
  const bool wide = insn.op == Opcode::LOAD16; // rows of DIM int16
  int64_t rowBytes = dmaRowBytes(insn);
  int64_t w = insn.pad_left + insn.xsize + insn.pad_right;
  int64_t h = insn.pad_top + insn.ysize + insn.pad_bottom;
  buf_.resize(static_cast<size_t>(h * w * rowBytes));
  // Padding rows first (pad value is the LOAD engine's PAD_VALUE register).
  int32_t pad = static_cast<int8_t>(top_.regs[EMBER_NPU_REG_PAD_VALUE] & 0xff);
  if (wide) {
    fillWideRows(buf_.data(), h * w,
                 int16_t(top_.regs[EMBER_NPU_REG_PAD_VALUE] & 0xffff));
  } else if (mem == EMBER_NPU_MEM_ACC) {
    for (size_t e = 0; e < buf_.size(); e += 4)
      std::memcpy(&buf_[e], &pad, 4);
  } else {
    std::memset(buf_.data(), pad & 0xff, buf_.size());
  }
  const DramTiming &t = top_.dram.timing;
  const uint64_t beat = dmaBeatBytes(t), latency = dmaLatency(t);
  const uint64_t burst = t.burstBytes;
  const uint64_t t0 = top_.now(); // the instruction's first cycle
  uint64_t request = t0 + 1, got = 0, lastWrite = 0, dataRows = 0;
  dataWrites_.clear();
  for (int64_t y = 0; y < insn.ysize; ++y) {
    uint8_t *dst = &buf_[static_cast<size_t>(
        ((insn.pad_top + y) * w + insn.pad_left) * rowBytes)];
    uint64_t addr =
        static_cast<uint64_t>(insn.dram + y * insn.stride * rowBytes);
    uint64_t len = static_cast<uint64_t>(insn.xsize * rowBytes);
    while (len) {
      uint64_t n = std::min<uint64_t>(len, burst - addr % burst);
      uint64_t start =
          dramBook(tlm::TLM_READ_COMMAND, addr, dst, n, request) - t0;
      for (uint64_t j = 0, left = n; left; ++j) {
        uint64_t b = std::min(beat, left);
        left -= b;
        got += b;
        for (; got >= static_cast<uint64_t>(rowBytes); got -= rowBytes) {
          lastWrite = std::max(start + latency + j + 1, lastWrite + 1);
          dataWrites_.push_back(lastWrite);
          ++dataRows;
        }
      }
      request = lastRequest_ + 1;
      addr += n;
      dst += n;
      len -= n;
    }
  }
  if (wide)
    wideWrite(mem, insn.sram, buf_.data(), h * w);
  else
    sramWrite(mem, insn.sram, buf_.data(), h * w);
  top_.result->counters.load_bytes +=
      dataRows * static_cast<uint64_t>(rowBytes);
  // Padding rows take the free cycles from cycle 1 on.
  uint64_t pads = static_cast<uint64_t>(h * w) - dataRows, last = lastWrite,
           cycle = 0;
  for (size_t k = 0; pads && k <= dataWrites_.size(); ++k) {
    uint64_t until = k < dataWrites_.size() ? dataWrites_[k] : UINT64_MAX;
    uint64_t free = until - cycle - 1;
    if (free >= pads) {
      last = std::max(last, cycle + pads);
      pads = 0;
    } else {
      pads -= free;
      cycle = until;
    }
  }
  dramStall = last - static_cast<uint64_t>(h * w);
  return last + 1;
}

// MOVE, as the RTL's LOAD engine runs it (hw/rtl/npu_load.sv): data row k is
// read from OUT in cycle 1 + k and written to ACT in cycle 2 + k; padding rows
// take the free cycles from cycle 1 on (data first). With D data rows and T
// rows in all, the last write is in cycle T when there is padding, D + 1
// otherwise (T >= D), so max(T, D + 1); no DRAM is touched.
uint64_t EngineModule::move(const Insn &insn) {
  // With rep, data row (Y, X) of the ysize r x xsize r block is source row
  // (Y / r, X / r), read again for each copy (one OUT read per data row).
  // With w16 the rows are 16-bit: moved in DRAM's int16 form, both planes.
  const int64_t rowBytes = insn.w16 ? 2 * kDim : kDim, r = insn.rep + 1;
  const int64_t ys = insn.ysize * r, xs = insn.xsize * r;
  int64_t w = insn.pad_left + xs + insn.pad_right;
  int64_t h = insn.pad_top + ys + insn.pad_bottom;
  int8_t pad = static_cast<int8_t>(top_.regs[EMBER_NPU_REG_PAD_VALUE] & 0xff);
  buf_.assign(static_cast<size_t>(h * w * rowBytes), static_cast<uint8_t>(pad));
  if (insn.w16)
    fillWideRows(buf_.data(), h * w,
                 int16_t(top_.regs[EMBER_NPU_REG_PAD_VALUE] & 0xffff));
  const int64_t span = (insn.ysize - 1) * insn.stride + insn.xsize;
  buf2_.resize(static_cast<size_t>(span * rowBytes));
  if (insn.w16)
    wideRead(EMBER_NPU_MEM_OUT, insn.src, buf2_.data(), span);
  else
    sramRead(EMBER_NPU_MEM_OUT, insn.src, buf2_.data(), span);
  for (int64_t y = 0; y < ys; ++y)
    for (int64_t x = 0; x < xs; ++x)
      std::memcpy(&buf_[static_cast<size_t>(
                      ((insn.pad_top + y) * w + insn.pad_left + x) * rowBytes)],
                  &buf2_[static_cast<size_t>(((y / r) * insn.stride + x / r) *
                                             rowBytes)],
                  static_cast<size_t>(rowBytes));
  if (insn.w16)
    wideWrite(EMBER_NPU_MEM_ACT, insn.dst, buf_.data(), h * w);
  else
    sramWrite(EMBER_NPU_MEM_ACT, insn.dst, buf_.data(), h * w);
  uint64_t data = static_cast<uint64_t>(ys * xs);
  uint64_t total = static_cast<uint64_t>(h * w);
  return std::max(total, data + 1) + 1;
}

uint64_t EngineModule::dmaStore(const Insn &insn, uint64_t &dramStall) {
  int mem = static_cast<int>(insn.mem);
  int64_t rowBytes = dmaRowBytes(insn); // STORE16: rows of DIM int16
  // The rows as they leave the scratchpad (one read per written row: with
  // rep, block row (y, x) for every copy), line by line of the result.
  const int64_t r = insn.rep + 1, ys = insn.ysize * r, xs = insn.xsize * r;
  int64_t rows = ys * xs;
  buf2_.resize(static_cast<size_t>(insn.ysize * insn.xsize * rowBytes));
  if (insn.op == Opcode::STORE16)
    wideRead(mem, insn.sram, buf2_.data(), insn.ysize * insn.xsize);
  else
    sramRead(mem, insn.sram, buf2_.data(), insn.ysize * insn.xsize);
  buf_.resize(static_cast<size_t>(rows * rowBytes));
  for (int64_t y = 0; y < ys; ++y)
    for (int64_t x = 0; x < xs; ++x)
      std::memcpy(&buf_[static_cast<size_t>((y * xs + x) * rowBytes)],
                  &buf2_[static_cast<size_t>(((y / r) * insn.xsize + x / r) *
                                             rowBytes)],
                  static_cast<size_t>(rowBytes));
  // Lane groups: a byte-enable pattern of two rows, entered at the burst's
  // offset inside its row and applied cyclically (one row long).
  std::vector<uint8_t> &be = beBuf_;
  if (insn.lanes) {
    be.resize(static_cast<size_t>(2 * rowBytes));
    for (size_t i = 0; i < be.size(); ++i)
      be[i] = ((insn.lanes >> ((i % rowBytes) * kNumLaneGroups / rowBytes)) & 1)
                  ? TLM_BYTE_ENABLED
                  : TLM_BYTE_DISABLED;
  }
  const DramTiming &t = top_.dram.timing;
  const uint64_t beat = dmaBeatBytes(t), latency = dmaLatency(t);
  const uint64_t burst = t.burstBytes;
  const uint64_t t0 = top_.now(); // the instruction's first cycle
  uint64_t streamed = 0, prevLastBeat = 0, response = 0;
  // A line of the result is one contiguous segment, or with xstep one per row
  // (rows two DRAM rows apart).
  const int64_t segRows = insn.xstep ? 1 : xs, segs = xs / segRows;
  for (int64_t y = 0; y < ys; ++y) {
    for (int64_t sg = 0; sg < segs; ++sg) {
      uint64_t addr = static_cast<uint64_t>(
          insn.dram +
          (y * insn.stride + sg * segRows * (insn.xstep + 1)) * rowBytes);
      uint8_t *src =
          &buf_[static_cast<size_t>((y * xs + sg * segRows) * rowBytes)];
      uint64_t len = static_cast<uint64_t>(segRows * rowBytes);
      uint64_t inRow = 0; // offset of the burst's first byte inside its row
      while (len) {
        uint64_t n = std::min<uint64_t>(len, burst - addr % burst);
        streamed += n;
        // Row r (read in cycle 1 + r) is in the FIFO from cycle 3 + r.
        uint64_t ready = (streamed + rowBytes - 1) / rowBytes - 1 + 3;
        uint64_t aw = std::max(ready, prevLastBeat + 1);
        uint64_t start =
            dramBook(tlm::TLM_WRITE_COMMAND, addr, src, n, t0 + aw,
                     insn.lanes ? be.data() + inRow : nullptr,
                     insn.lanes ? static_cast<unsigned>(rowBytes) : 0) -
            t0;
        prevLastBeat = start + (n + beat - 1) / beat;
        response = prevLastBeat + latency + 1;
        inRow = (inRow + n) % static_cast<uint64_t>(rowBytes);
        addr += n;
        src += n;
        len -= n;
      }
    }
  }
  top_.result->counters.store_bytes += static_cast<uint64_t>(rows * rowBytes);
  dramStall = response > static_cast<uint64_t>(rows)
                  ? response - static_cast<uint64_t>(rows)
                  : 0;
  return response + 1;
}

// GEMM16 and DWGEMM16 (spec version 5) run both byte planes of each 16-bit
// row in the same slot (each PE's two multipliers share its weight): the ACT
// row pair (r, r + ACT_HALF) in, the accumulator pair (c, c + ACC_HALF)
// read-modified-written, the GEMM's or DWGEMM's timing unchanged (the GEMM
// thread's pipeline counts streamedRows, the same for both forms).
uint64_t EngineModule::gemm(const Insn &insn) {
  if (isDwgemm(insn.op))
    return dwgemm(insn);
  // Weight-stationary DIM x DIM array: the tile is preloaded into shadow
  // registers while the previous instruction streams, so an instruction costs
  // max(rows, DIM) + issue overhead.
  buf2_.resize(kDim * kDim);
  sramRead(EMBER_NPU_MEM_WGT, insn.wgt, buf2_.data(), kDim);
  // Weights as int16 pairs along k: wgt16_[(kp * DIM + j) * 2 + t] = W[j][2 *
  // kp + t], so one multiply-add of int16 pairs does two MACs per lane (pmaddwd
  // on x86).
  wgt16_.resize(kDim * kDim);
  for (int kp = 0; kp < kDim / 2; ++kp)
    for (int j = 0; j < kDim; ++j)
      for (int t = 0; t < 2; ++t)
        wgt16_[(kp * kDim + j) * 2 + t] =
            static_cast<int8_t>(buf2_[j * kDim + 2 * kp + t]);
  int64_t n = insn.inner;
  buf_.resize(static_cast<size_t>(n * kDim));
  accBuf_.resize(static_cast<size_t>(n * kDim));
  const int planes = isArray16(insn.op) ? 2 : 1;
  for (int64_t o = 0; o < insn.outer; ++o)
    for (int p = 0; p < planes; ++p) {
      int64_t ar = insn.act + o * insn.act_ostride + p * EMBER_NPU_ACT_HALF,
              cr = insn.acc + o * insn.acc_ostride + p * EMBER_NPU_ACC_HALF;
      sramRead(EMBER_NPU_MEM_ACT, ar, buf_.data(), n);
      if (insn.reset)
        std::fill(accBuf_.begin(), accBuf_.end(), 0);
      else
        sramRead(EMBER_NPU_MEM_ACC, cr, accBuf_.data(), n);
      macRows(reinterpret_cast<const int8_t *>(buf_.data()), n, wgt16_.data(),
              accBuf_.data());
      sramWrite(EMBER_NPU_MEM_ACC, cr, accBuf_.data(), n);
    }
  uint64_t rows = static_cast<uint64_t>(insn.inner * insn.outer);
  top_.result->counters.macs += rows * kDim * kDim;
  return std::max<uint64_t>(rows, kDim) +
         EMBER_NPU_GEMM_ISSUE_OVERHEAD_CYCLES; // array slots
}

uint64_t EngineModule::dwgemm(const Insn &insn) {
  // Column-broadcast correlation on the array (hw/rtl/npu_systolic.sv): PE(t,
  // j) holds tap t of channel j (lanes t >= taps are masked to zero on preload)
  // and multiplies lane j of the row streamed t cycles after the output's own
  // row. A line streams (inner - 1) * stride + taps rows; every stride-th of
  // the first results is written.
  buf2_.resize(kDim * kDim);
  sramRead(EMBER_NPU_MEM_WGT, insn.wgt, buf2_.data(), kDim);
  const int64_t n = insn.inner, taps = insn.taps, st = insn.stride,
                span = (n - 1) * st + taps;
  buf_.resize(static_cast<size_t>(span * kDim));
  accBuf_.resize(static_cast<size_t>(n * kDim));
  const int8_t *w = reinterpret_cast<const int8_t *>(buf2_.data());
  // DWGEMM16: the bias joins the low plane's sums only.
  const int planes = isArray16(insn.op) ? 2 : 1;
  for (int64_t o = 0; o < insn.outer; ++o)
    for (int p = 0; p < planes; ++p) {
      int64_t ar = insn.act + o * insn.act_ostride + p * EMBER_NPU_ACT_HALF,
              cr = insn.acc + o * insn.acc_ostride + p * EMBER_NPU_ACC_HALF;
      sramRead(EMBER_NPU_MEM_ACT, ar, buf_.data(), span);
      if (insn.reset)
        std::fill(accBuf_.begin(), accBuf_.end(), 0);
      else
        sramRead(EMBER_NPU_MEM_ACC, cr, accBuf_.data(), n);
      const int8_t *a = reinterpret_cast<const int8_t *>(buf_.data());
      for (int64_t i = 0; i < n; ++i)
        for (int j = 0; j < kDim; ++j) {
          int32_t sum = 0;
          for (int64_t t = 0; t < taps; ++t)
            sum +=
                int32_t(a[(i * st + t) * kDim + j]) * int32_t(w[j * kDim + t]);
          if (insn.bias && p == 0)
            sum = wrapAdd(sum, dwBias(w + j * kDim));
          accBuf_[size_t(i * kDim + j)] =
              wrapAdd(accBuf_[size_t(i * kDim + j)], sum);
        }
      sramWrite(EMBER_NPU_MEM_ACC, cr, accBuf_.data(), n);
    }
  uint64_t rows = static_cast<uint64_t>(streamedRows(insn));
  top_.result->counters.macs += rows * kDim * kDim;
  return std::max<uint64_t>(rows, kDim) + EMBER_NPU_GEMM_ISSUE_OVERHEAD_CYCLES;
}

uint64_t EngineModule::vector(const Insn &insn, uint32_t index) {
  if (isWideVector(insn)) { // spec version 3's 16-bit forms (WideRows.cpp)
    struct Port : WideVectorPort {
      EngineModule &e;
      explicit Port(EngineModule &m) : e(m) {}
      void read(int mem, int64_t row, void *p, int64_t rows) override {
        e.sramRead(mem, row, p, rows);
      }
      void write(int mem, int64_t row, const void *p, int64_t rows) override {
        e.sramWrite(mem, row, p, rows);
      }
    } port(*this);
    std::string err;
    uint64_t cycles =
        runWideVector(insn, top_.regs.data(), top_.lut, top_.lut16, port, err);
    if (!err.empty())
      top_.fail("instruction " + std::to_string(index) + ": " + err);
    if (insn.op == Opcode::LUTLD && top_.retireLog.on()) // the 16-bit table
      top_.retireLog.write(index, kSpaceLut, kLut16Offset,
                           reinterpret_cast<const uint8_t *>(top_.lut16.data()),
                           2 * 513);
    return cycles;
  }
  if (insn.op == Opcode::LUTLD) {
    // The table's ACC rows, one a cycle through VECTOR's first ACC port.
    sramRead(EMBER_NPU_MEM_ACC, insn.src, top_.lut.data(), kLutRows);
    if (top_.retireLog.on())
      top_.retireLog.write(index, kSpaceLut, 0,
                           reinterpret_cast<const uint8_t *>(top_.lut.data()),
                           256);
    return kLutRows / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
           EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES;
  }
  if (insn.op == Opcode::LUT || insn.op == Opcode::VMUL ||
      insn.op == Opcode::UPSAMPLE)
    return vectorTableMulUpsample(insn);
  const int64_t rows = insn.rows;
  const size_t bytes = static_cast<size_t>(rows * kDim);
  buf2_.resize(bytes);
  int8_t *out = reinterpret_cast<int8_t *>(buf2_.data());
  uint64_t cycles = static_cast<uint64_t>(rows);
  if (insn.op == Opcode::REQUANT) {
    // Parameter rows: mult, shift and (with bias) the bias row; then the
    // source rows. The bias costs no cycle: the RTL reads it on the second
    // parameter port beside each source row.
    const int64_t np = insn.bias ? 3 : 2;
    accBuf_.resize(static_cast<size_t>((rows + np) * kDim));
    sramRead(EMBER_NPU_MEM_ACC, insn.param, accBuf_.data(), np);
    sramRead(EMBER_NPU_MEM_ACC, insn.src, accBuf_.data() + np * kDim, rows);
    const int32_t *mult = accBuf_.data(), *shift = accBuf_.data() + kDim;
    for (int64_t i = 0; i < rows; ++i)
      for (int l = 0; l < kDim; ++l)
        out[i * kDim + l] = requantize(
            insn.bias
                ? wrapAdd(accBuf_[(i + np) * kDim + l], accBuf_[2 * kDim + l])
                : accBuf_[(i + np) * kDim + l],
            mult[l], shift[l], static_cast<int32_t>(insn.zp),
            static_cast<int32_t>(insn.min), static_cast<int32_t>(insn.max));
  } else if (insn.op == Opcode::VADD) {
    buf_.resize(2 * bytes);
    sramRead(EMBER_NPU_MEM_OUT, insn.a, buf_.data(), rows);
    sramRead(EMBER_NPU_MEM_OUT, insn.b, buf_.data() + bytes, rows);
    AddParams p = addParamsFromRegs(top_.regs.data());
    AddExactRegs x = addExactFromRegs(top_.regs.data());
    const int8_t *a = reinterpret_cast<const int8_t *>(buf_.data());
    for (size_t e = 0; e < bytes; ++e)
      out[e] = insn.exact ? quantAddExact(a[e], a[bytes + e], x)
                          : quantAdd(a[e], a[bytes + e], p);
  } else {
    PoolGeom g = poolGeom(top_.regs.data(), insn);
    int64_t span = 0;
    std::string err = checkPool(insn, g, span);
    if (!err.empty())
      top_.fail("instruction " + std::to_string(index) + ": " + err);
    buf_.resize(static_cast<size_t>(span * kDim));
    sramRead(EMBER_NPU_MEM_OUT, insn.src, buf_.data(), span);
    const int8_t *src = reinterpret_cast<const int8_t *>(buf_.data());
    for (int64_t i = 0; i < rows; ++i) {
      int32_t acc[kDim], taps = 0;
      for (int l = 0; l < kDim; ++l)
        acc[l] = insn.avg ? 0 : -128;
      for (int64_t ky = 0; ky < g.kh; ++ky) {
        for (int64_t kx = 0; kx < g.kw; ++kx) {
          int64_t row = poolTapRow(g, i, ky, kx); // -1: outside, skipped
          if (row < 0)
            continue;
          const int8_t *r = src + row * kDim;
          for (int l = 0; l < kDim; ++l)
            acc[l] = insn.avg ? acc[l] + r[l] : std::max<int32_t>(acc[l], r[l]);
          ++taps;
        }
      }
      for (int l = 0; l < kDim; ++l)
        out[i * kDim + l] =
            insn.avg ? poolAverage(acc[l], taps) : static_cast<int8_t>(acc[l]);
    }
    // Every tap takes its cycle, inside the source or not.
    cycles = static_cast<uint64_t>(rows * g.kh * g.kw);
  }
  if (insn.lut)
    applyLut(out, bytes);
  sramWrite(EMBER_NPU_MEM_OUT, insn.dst, buf2_.data(), rows);
  // A destination row that could be written before a source row aliasing it is
  // read sends the results through the RTL's staging buffer and a copy pass:
  // rows + 1 more cycles.
  bool staged = false;
  if (insn.op == Opcode::VADD) {
    for (int64_t src : {insn.a, insn.b})
      staged |= insn.dst >= src + 2 && insn.dst < src + rows;
  } else if (insn.op == Opcode::POOL) {
    int64_t span = 0;
    checkPool(insn, poolGeomFromRegs(top_.regs.data()), span);
    staged = insn.dst < insn.src + span && insn.src < insn.dst + rows;
  }
  return cycles / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES +
         (staged ? static_cast<uint64_t>(rows) + 1 : 0);
}

void EngineModule::applyLut(int8_t *v, size_t n) const {
  for (size_t e = 0; e < n; ++e)
    v[e] = top_.lut[static_cast<size_t>(lutIndex(v[e]))];
}

// LUT, VMUL and UPSAMPLE, as the RTL's VECTOR engine runs them: one source row
// (VMUL: a and b; UPSAMPLE bilinear: two taps) read per cycle from cycle 1,
// the result written as its last source arrives; VMUL's broadcast row is read
// in cycle 0. A destination that could be written before a source row
// aliasing it is read goes through the staging buffer: rows + 1 more cycles.
uint64_t EngineModule::vectorTableMulUpsample(const Insn &insn) {
  int64_t rows = insn.rows, reads = insn.rows;
  bool staged = false;
  auto ahead = [&](int64_t src) {
    return insn.dst >= src + 2 && insn.dst < src + insn.rows;
  };
  if (insn.op == Opcode::LUT) {
    buf2_.resize(static_cast<size_t>(rows * kDim));
    sramRead(EMBER_NPU_MEM_OUT, insn.src, buf2_.data(), rows);
    applyLut(reinterpret_cast<int8_t *>(buf2_.data()), buf2_.size());
    staged = ahead(insn.src);
  } else if (insn.op == Opcode::VMUL) {
    const size_t bytes = static_cast<size_t>(rows * kDim);
    buf_.resize(2 * bytes);
    buf2_.resize(bytes);
    sramRead(EMBER_NPU_MEM_OUT, insn.a, buf_.data(), rows);
    sramRead(EMBER_NPU_MEM_OUT, insn.b, buf_.data() + bytes,
             insn.bcast ? 1 : rows);
    const int8_t *a = reinterpret_cast<const int8_t *>(buf_.data()),
                 *b = a + bytes;
    int8_t *out = reinterpret_cast<int8_t *>(buf2_.data());
    MulParams p = mulParamsFromRegs(top_.regs.data());
    for (size_t e = 0; e < bytes; ++e)
      out[e] = quantMul(a[e], b[insn.bcast ? e % kDim : e], p);
    if (insn.lut)
      applyLut(out, bytes);
    staged = ahead(insn.a) || (!insn.bcast && ahead(insn.b));
  } else {
    const int64_t f = int64_t(1) << insn.factor, ow = f * insn.w;
    rows = insn.oh * ow;
    reads = insn.mode == 0 ? rows : 2 * rows; // bilinear: two taps a cycle
    const int64_t srcRows = insn.h * insn.w;
    buf_.resize(static_cast<size_t>(srcRows * kDim));
    buf2_.resize(static_cast<size_t>(rows * kDim));
    sramRead(EMBER_NPU_MEM_OUT, insn.src, buf_.data(), srcRows);
    const int8_t *src = reinterpret_cast<const int8_t *>(buf_.data());
    int8_t *out = reinterpret_cast<int8_t *>(buf2_.data());
    for (int64_t r = 0; r < insn.oh; ++r) {
      UpTaps ty = upsampleTaps(insn.oy + r, insn.h, insn.factor, insn.mode);
      for (int64_t x = 0; x < ow; ++x) {
        UpTaps tx = upsampleTaps(x, insn.w, insn.factor, insn.mode);
        const int8_t *row[2][2];
        for (int a = 0; a < 2; ++a)
          for (int b = 0; b < 2; ++b)
            row[a][b] =
                src +
                ((a ? ty.i1 : ty.i0) * insn.w + (b ? tx.i1 : tx.i0)) * kDim;
        for (int l = 0; l < kDim; ++l) {
          int8_t v[2][2] = {{row[0][0][l], row[0][1][l]},
                            {row[1][0][l], row[1][1][l]}};
          out[(r * ow + x) * kDim + l] = upsampleValue(
              v, ty, tx, insn.factor, static_cast<int32_t>(insn.zp));
        }
      }
    }
    if (insn.lut)
      applyLut(out, buf2_.size());
    staged = insn.dst < insn.src + srcRows && insn.src < insn.dst + rows;
  }
  sramWrite(EMBER_NPU_MEM_OUT, insn.dst, buf2_.data(), rows);
  return static_cast<uint64_t>(reads) / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES +
         (staged ? static_cast<uint64_t>(rows) + 1 : 0);
}

// ---- core control (SystemCPlatform, NpuPlatform.cpp) --------------------

NpuTop *newCore(const char *name, std::function<void()> onRunEnd) {
  NpuTop *t = new NpuTop(name);
  t->onRunEnd = std::move(onRunEnd);
  return t;
}

void setRetireCallback(NpuTop &t, ember_npu_retire_fn fn, void *user) {
  t.retireLog.fn = fn;
  t.retireLog.user = fn ? user : nullptr;
}

uint8_t *coreSram(NpuTop &t, int mem) { return t.srams[mem]->storage.data(); }

uint64_t coreRunStart(const NpuTop &t) { return toCycles(t.startTime); }

void beginRun(NpuTop &t, const std::vector<Insn> &program, uint8_t *dram,
              uint64_t dramBytes, const DramTiming &timing, SharedDram *shared,
              SimResult *result) {
  t.retireLog.clear();
  for (SramTarget *s : t.srams)
    std::fill(s->storage.begin(), s->storage.end(), 0);
  t.regs.fill(0);
  t.lut.fill(0);
  t.lut16.fill(0);
  t.tokens.fill(0);
  t.lastTake.fill(-1);
  for (auto &q : t.queues)
    q.clear();
  t.active.fill(false);
  t.gemmInflight = 0;
  ++t.runId;
  t.blockedChannel.fill(-1);
  t.program = &program;
  t.result = result;
  t.finished = false;
  t.aborting = false;
  t.dram.data = dram;
  t.dram.bytes = dramBytes;
  t.dram.timing = timing;
  t.dram.shared = shared;
  t.startTime = sc_core::sc_time_stamp();
  t.dram.busyUntil = t.startTime;
  t.dram.queued.clear();
  t.dram.resetPort();
  t.runPending = true;
  t.startEv.notify(SC_ZERO_TIME);
}

void endRun(NpuTop &t) {
  SimResult &result = *t.result;
  const std::vector<Insn> &program = *t.program;
  if (!t.finished && result.error.empty()) {
    // Nothing left to happen but FINISH was not reached: report the oldest
    // blocked instruction.
    int64_t oldest = -1;
    int who = -1;
    for (int e = 0; e <= kNumEngines;
         ++e) { // slot kNumEngines: GEMM's retire stage
      if (t.blockedChannel[e] >= 0 &&
          (oldest < 0 || t.blockedInsn[e] < oldest)) {
        oldest = t.blockedInsn[e];
        who = e;
      }
    }
    if (who >= 0)
      result.error =
          "instruction " + std::to_string(oldest) +
          ": deadlock: " + opcodeName(program[oldest].op) + " on " +
          engineName(who == kNumEngines ? Engine::GEMM
                                        : static_cast<Engine>(who)) +
          (t.blockedForSpace[who] ? " waits for space on token channel "
                                  : " waits for a token on ") +
          channelName(t.blockedChannel[who]) +
          (t.blockedForSpace[who] ? " that is never drained"
                                  : " that is never signalled");
    else
      result.error =
          "instruction " + std::to_string(program.size()) + ": deadlock";
  }
  if (!t.finished) {
    // Unwind every blocked thread so the next run starts clean: the abort
    // reaches them in the next delta cycles (no time passes, so runs on
    // other cores are not disturbed).
    t.aborting = true;
    t.abortEv.notify(SC_ZERO_TIME);
    for (int i = 0; i < 3; ++i)
      sc_core::sc_start(SC_ZERO_TIME);
    t.aborting = false;
  }
  // GEMM instructions overlap in its pipeline: busy = cycles with one in flight
  // (the union).
  std::vector<BusyInterval> gm;
  for (const BusyInterval &b : result.busy[EMBER_NPU_ENGINE_GEMM]) {
    if (!gm.empty() && b.start <= gm.back().end)
      gm.back().end = std::max(gm.back().end, b.end);
    else
      gm.push_back(b);
  }
  for (const BusyInterval &b : gm)
    result.counters.gemm_busy += b.end - b.start;
  // Overlap: cycles where LOAD and GEMM are both busy (both interval lists are
  // sorted).
  const auto &ld = result.busy[EMBER_NPU_ENGINE_LOAD];
  size_t i = 0, j = 0;
  while (i < ld.size() && j < gm.size()) {
    uint64_t lo = std::max(ld[i].start, gm[j].start),
             hi = std::min(ld[i].end, gm[j].end);
    if (hi > lo)
      result.counters.overlap += hi - lo;
    (ld[i].end < gm[j].end) ? ++i : ++j;
  }
  t.program = nullptr;
  t.result = nullptr;
  t.dram.shared = nullptr;
}

std::string writeChromeTrace(const std::string &path, const SimResult &result) {
  return writeChromeTrace(path, result, 0, UINT64_MAX);
}

std::string writeChromeTrace(const std::string &path, const SimResult &result,
                             uint64_t firstCycle, uint64_t lastCycle) {
  std::ofstream out(path);
  if (!out)
    return "cannot open '" + path + "' for writing";
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"time_unit\":\"1 cycle = "
         "1 us\"},"
         "\"traceEvents\":[\n";
  bool first = true;
  for (int e = 0; e < kNumEngines; ++e) {
    out << (first ? "" : ",\n")
        << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":" << e
        << ",\"args\":{\"name\":\"" << engineName(static_cast<Engine>(e))
        << "\"}}";
    first = false;
  }
  for (int e = 0; e < kNumEngines; ++e) {
    for (const auto *list : {&result.busy[e], &result.stalls[e]}) {
      for (const BusyInterval &b : *list)
        if (b.end >= firstCycle && b.start <= lastCycle)
          out << ",\n{\"name\":\"" << (b.stall ? "wait " : "")
              << opcodeName(b.op) << "\",\"cat\":\""
              << (b.stall ? "stall" : "exec")
              << "\",\"ph\":\"X\",\"pid\":0,\"tid\":" << e
              << ",\"ts\":" << b.start << ",\"dur\":" << (b.end - b.start)
              << ",\"args\":{\"insn\":" << b.insnIndex << "}}";
    }
  }

  out << "\n]}\n";
  return out ? "" : "write to '" + path + "' failed";
}

} // namespace ember::npu
