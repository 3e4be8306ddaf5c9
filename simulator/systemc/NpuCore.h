//===- NpuCore.h - The SystemC model's modules (one NPU core) ---*- C++ -*-===//
//
// The modules of a core of the SystemC model: the DRAM and scratchpad TLM
// targets, the router, the core (fetch, tokens, queues, memories) and its
// engines. NpuModel.cpp runs the engines; NpuCoreControl.cpp is what the
// platform (NpuPlatform.cpp) drives a core with: starting and closing runs,
// retirement records, planted faults and stop states.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_SYSTEMC_NPUCORE_H
#define EMBER_NPU_SYSTEMC_NPUCORE_H

#include "MacRows.h"
#include "NpuModel.h"
#include "RetireLog.h"
#include "WideRows.h"

#include "ember/npu/Arith.h"
#include "ember/npu/Footprint.h"

#include <systemc>
#include <tlm>
#include <tlm_utils/multi_passthrough_initiator_socket.h>
#include <tlm_utils/multi_passthrough_target_socket.h>
#include <tlm_utils/simple_initiator_socket.h>
#include <tlm_utils/simple_target_socket.h>

#include <cmath>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <unordered_map>

namespace ember::npu {

using sc_core::sc_event;
using sc_core::sc_module_name;
using sc_core::SC_NS;
using sc_core::sc_time;
using sc_core::SC_ZERO_TIME;

inline const sc_time kCycle(1, SC_NS);

inline uint64_t toCycles(const sc_time &t) {
  return static_cast<uint64_t>(t / kCycle + 0.5);
}

/// Address map seen through the router: DRAM at 0, scratchpad m at (m + 1)
/// << 32.
constexpr uint64_t kSramBase = 1ull << 32;
inline uint64_t sramAddr(int mem, int64_t row) {
  return kSramBase * static_cast<uint64_t>(mem + 1) +
         static_cast<uint64_t>(row) * static_cast<uint64_t>(memRowBytes(mem));
}

/// Unwinds an engine's thread when its run is aborted.
struct Abort {};

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
  static constexpr size_t kQueueDepth = kDramQueueDepth;
  SharedDram *shared = nullptr; // a platform's shared channel, or none
  // The request port, as the RTL's: one request accepted per cycle; when
  // LOAD (read) and STORE (write) ask in the same cycle, the side not
  // accepted last wins and the other is accepted the next cycle at the
  // earliest. pending[w]: the cycle side w asks in (UINT64_MAX: none).
  uint64_t pending[2] = {UINT64_MAX, UINT64_MAX};
  uint64_t lastAccept = UINT64_MAX;
  bool preferWrite = false; // the RTL's prio_aw: the last accept was a read
  // The cycle each side will ask in (set before it waits for it; UINT64_MAX:
  // none): a side whose cycle the other does not share is accepted without
  // the arbitration's delta cycle.
  uint64_t intent[2] = {UINT64_MAX, UINT64_MAX};
  void resetPort() {
    pending[0] = pending[1] = lastAccept = UINT64_MAX;
    intent[0] = intent[1] = UINT64_MAX;
    preferWrite = false;
  }
  // The bursts not yet done, for a stop state (driver.h, "Stalls"): when
  // each starts on the channel, its last data beat and when it is done (the
  // last beat of a read, the response of a write), in kernel cycles.
  struct Burst {
    uint64_t start, lastBeat, done, bytes;
    bool write;
  };
  std::deque<Burst> booked;
  uint64_t lastBeatDone = UINT64_MAX; // the last beat of a forgotten burst
  void forgetDone(uint64_t now) {
    while (!booked.empty() && booked.front().done < now) {
      lastBeatDone = booked.front().lastBeat;
      booked.pop_front();
    }
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
    {
      const uint64_t s = toCycles(start),
                     lat = std::max(timing.latencyCycles, 1u);
      const uint64_t last =
          p.is_write() ? s + occupancy - 1 : s + lat + occupancy - 1;
      forgetDone(toCycles(sc_core::sc_time_stamp()));
      booked.push_back(
          {s, last, p.is_write() ? last + lat + 1 : last, len, p.is_write()});
    }
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
  // The stall watchdog's view: the kernel cycle of the last retirement, the
  // instructions fetched; a planted stall (driver.h's config options).
  uint64_t lastRetire = 0;
  uint64_t fetched = 0;
  FaultPlan fault;
  bool faultAt(Engine e, uint32_t index) const {
    return fault.engine == static_cast<int>(e) && index >= fault.index &&
           (*program)[index].op != Opcode::SETREG;
  }
  /// The planted stall: the engine never finishes (time goes on).
  [[noreturn]] void stallForever() {
    for (;;)
      waitUntil(now() + 256);
  }
  void retire(uint32_t index, Engine e) {
    lastRetire = toCycles(sc_core::sc_time_stamp());
    if (retireLog.on() && !retireLog.retire(index, e, now()))
      fail("instruction " + std::to_string(index) +
           ": stopped by the retirement callback");
  }

  DramTarget dram;
  std::vector<SramTarget *> srams;
  Router router;
  std::vector<EngineModule *> engines;

  void waitOn(const sc_event &ev) {
    sc_core::wait(orAbort(ev));
    if (aborting)
      throw Abort();
  }
  /// `ev | abortEv` as a list made once per event (an expression would build
  /// and free one at every wait).
  const sc_core::sc_event_or_list &orAbort(const sc_event &ev) {
    std::unique_ptr<sc_core::sc_event_or_list> &l = orAbort_[&ev];
    if (!l) {
      l = std::make_unique<sc_core::sc_event_or_list>(ev);
      *l |= abortEv;
    }
    return *l;
  }
  std::unordered_map<const sc_event *,
                     std::unique_ptr<sc_core::sc_event_or_list>>
      orAbort_;
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
    // Its preload's first cycle, its first and last streamed rows (stop
    // states).
    uint64_t preload, firstRow, lastRow;
  };
  std::deque<Retire> retires;
  sc_event retireEv;
  bool gemmHoldsCur = false;
  /// The instruction the engine holds (GEMM: the one waiting for its tokens),
  /// or -1.
  int64_t held = -1;

private:
  NpuTop &top_;
  Engine kind_;
  int id_;
  uint32_t curIndex_ = 0; // the instruction whose writes access() records
  std::vector<uint8_t> buf_, buf2_, beBuf_;
  std::vector<int32_t> accBuf_;
  WeightTile tile_; // the GEMM's weights in the row kernels' layouts

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
  uint64_t reduceRows(const Insn &insn);
  uint64_t rowScalars(const Insn &insn);

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

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_NPUCORE_H
