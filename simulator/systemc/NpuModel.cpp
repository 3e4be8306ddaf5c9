//===- NpuModel.cpp - SystemC/TLM-2.0 approximately-timed NPU model -------===//
#include "NpuCore.h"
#include "WideRows.h"

#include "ember/npu/Arith.h"
#include "ember/npu/Footprint.h"

#include <cstdlib>

// libsystemc's main() needs an sc_main; Ember's executables have their own
// main().
int sc_main(int, char **) { return 0; }

namespace ember::npu {

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
          fetched = i + 1;
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
        fetched = i + 1;
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
        held = q.index;
        runOne(q.index);
        held = -1;
        top_.active[id_] = false;
        freeAt = top_.now();
        top_.engineDoneEv.notify(SC_ZERO_TIME);
      }
    } catch (Abort &) {
      held = -1;
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
  if (top_.faultAt(kind_, index))
    top_.stallForever();
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
        held = q.index;
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
        held = -1;
        int64_t rows = streamedRows(insn);
        int64_t y = std::max<int64_t>(
            x + 1,
            first ? 0 : prevZ + kDim + EMBER_NPU_GEMM_ISSUE_OVERHEAD_CYCLES);
        int64_t z = std::max<int64_t>(y, first ? 0 : prevLastRead);
        if (top_.faultAt(Engine::GEMM, q.index)) {
          // The planted stall: its tile never preloads (the RTL's fault
          // holds the shadow weights busy).
          const uint64_t never = uint64_t(x) + (uint64_t(1) << 40);
          retires.push_back(
              Retire{q.index, uint64_t(x), never, never, never, never});
          ++top_.gemmInflight;
          top_.stallForever();
        }
        curIndex_ = q.index;
        const uint64_t macs = top_.result->counters.macs;
        gemm(insn);
        if (top_.retireLog.on())
          top_.retireLog.of(q.index).macs += top_.result->counters.macs - macs;
        retires.push_back(
            Retire{q.index, static_cast<uint64_t>(x),
                   static_cast<uint64_t>(
                       z + rows + EMBER_NPU_GEMM_RESULT_LATENCY_DIMS * kDim),
                   static_cast<uint64_t>(y), static_cast<uint64_t>(z + 1),
                   static_cast<uint64_t>(z + rows)});
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
      held = -1;
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
  case Opcode::VREDUCE:
  case Opcode::RSCALAR:
  case Opcode::VROWMUL:
  case Opcode::VROWEXP:
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
  // delta later, when the other's request of the same cycle is known. Each
  // has announced the cycle before waiting for it (`intent`: an engine asks
  // no earlier than a cycle after it starts a burst's computation), so when
  // the other does not share it there is nothing to arbitrate: accepted at
  // once, as the arbitration would.
  DramTarget &dram = top_.dram;
  const int side = cmd == tlm::TLM_WRITE_COMMAND;
  for (;;) {
    dram.intent[side] = request;
    top_.waitUntil(request);
    uint64_t ok =
        toCycles(dram.acceptAt(sc_core::sc_time_stamp()) - top_.startTime);
    if (ok > request) {
      request = ok;
      continue;
    }
    if (dram.intent[1 - side] != request && dram.lastAccept != request) {
      dram.lastAccept = request;
      dram.preferWrite = !side;
      break;
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
  dram.intent[side] = UINT64_MAX;
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
  prepareTile(reinterpret_cast<const int8_t *>(buf2_.data()), tile_);
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
      macRows(reinterpret_cast<const int8_t *>(buf_.data()), n, tile_,
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
  if (insn.op == Opcode::VREDUCE)
    return reduceRows(insn);
  if (insn.op == Opcode::RSCALAR)
    return rowScalars(insn);
  if (insn.op == Opcode::VROWMUL || insn.op == Opcode::VROWEXP)
    return rowMultiply(insn);
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
    requantRows(accBuf_.data() + np * kDim, rows,
                insn.bias ? accBuf_.data() + 2 * kDim : nullptr, mult, shift,
                static_cast<int32_t>(insn.zp), static_cast<int32_t>(insn.min),
                static_cast<int32_t>(insn.max), out);
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

// VREDUCE (spec version 6), as the RTL's VECTOR engine runs it: one source
// row a cycle from cycle 1 (a group's tiles in order, the groups in order),
// group g's scalar written to every lane of ACC row dst + g as its last row
// arrives. Sources are OUT rows and results ACC rows, so nothing is staged.
uint64_t EngineModule::reduceRows(const Insn &insn) {
  const int64_t span = reduceSpan(insn);
  std::vector<int32_t> src(static_cast<size_t>(span * kDim));
  if (insn.w16) {
    buf_.resize(static_cast<size_t>(2 * span * kDim));
    wideRead(EMBER_NPU_MEM_OUT, insn.src, buf_.data(), span);
    for (size_t e = 0; e < src.size(); ++e)
      src[e] = int16_t(uint16_t(buf_[2 * e] | (buf_[2 * e + 1] << 8)));
  } else {
    buf_.resize(static_cast<size_t>(span * kDim));
    sramRead(EMBER_NPU_MEM_OUT, insn.src, buf_.data(), span);
    for (size_t e = 0; e < src.size(); ++e)
      src[e] = int8_t(buf_[e]);
  }
  accBuf_.resize(static_cast<size_t>(insn.rows * kDim));
  // Spec version 9 (sq): each group's sum, its destination row's; version 10
  // (exp): its maximum, the same way.
  if (insn.sq || insn.exp)
    sramRead(EMBER_NPU_MEM_ACC, insn.dst, accBuf_.data(), insn.rows);
  const int32_t *rg = top_.regs.data();
  for (int64_t g = 0; g < insn.rows; ++g) {
    int32_t acc = 0, *out = accBuf_.data() + g * kDim;
    bool first = true;
    quant::UInt128 w = squareStart(rg);
    uint64_t s = 0;
    for (int64_t k = 0; k < insn.len; ++k) {
      const int32_t *row = &src[(reduceRow(insn, g, k) - insn.src) * kDim];
      for (int l = 0; l < reduceLanes(insn, k); ++l, first = false) {
        if (insn.sq)
          w = squareStep(w, rowDeviation(row[l], insn.center,
                                         rg[EMBER_NPU_REG_ROW_N], out[0],
                                         rg[EMBER_NPU_REG_ROW_X_ZP]));
        if (insn.exp)
          s += uint64_t(softmaxExp(row[l], out[0], rg));
        acc = reduceStep(insn.sum, first, acc, row[l]);
      }
    }
    const int32_t m = out[0];
    std::fill_n(out, kDim, insn.sq ? 0 : acc);
    if (insn.sq)
      for (int l = 0; l < 3; ++l)
        out[l] = int32_t(uint32_t(w >> (32 * l)));
    if (insn.exp)
      for (int l = 0; l < kDim; ++l)
        out[l] = expSumLane(s, m, l);
  }
  sramWrite(EMBER_NPU_MEM_ACC, insn.dst, accBuf_.data(), insn.rows);
  return static_cast<uint64_t>(insn.rows * insn.len) /
             EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES;
}

// RSCALAR (spec version 7), as the RTL runs it: one ACC row read a cycle from
// cycle 1, its scalar written as it arrives (dst is src or apart from it, so
// all rows are read before any is written here with the same result).
uint64_t EngineModule::rowScalars(const Insn &insn) {
  accBuf_.resize(static_cast<size_t>(insn.rows * kDim));
  sramRead(EMBER_NPU_MEM_ACC, insn.src, accBuf_.data(), insn.rows);
  for (int64_t g = 0; g < insn.rows; ++g) {
    int32_t *row = accBuf_.data() + g * kDim;
    const uint32_t w[3] = {uint32_t(row[0]), uint32_t(row[1]),
                           uint32_t(row[2])};
    const RowScalar s = rowScalar(w, insn.rsqrt);
    std::fill_n(row, kDim, 0);
    row[0] = s.value;
    row[1] = s.shift;
  }
  sramWrite(EMBER_NPU_MEM_ACC, insn.dst, accBuf_.data(), insn.rows);
  return static_cast<uint64_t>(insn.rows) / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES;
}

// VROWMUL (spec version 8), as the RTL runs it: the channels' parameters
// (four ACC rows) read in cycles 0 and 1, then one source row a cycle from
// cycle 2 with its two ACC scalars, each written as it arrives (dst is src
// or apart from it, so row by row is the same). VROWEXP (spec version 11)
// has no parameters but keeps the two cycles (the RTL's same sequencer).
uint64_t EngineModule::rowMultiply(const Insn &insn) {
  const bool softmax = insn.op == Opcode::VROWEXP;
  int32_t param[4][kDim] = {}, scal[kDim], sum[kDim];
  if (!softmax)
    sramRead(EMBER_NPU_MEM_ACC, insn.param, param, 4);
  const int32_t *rg = top_.regs.data();
  std::vector<uint8_t> row(static_cast<size_t>(2 * kDim)),
      res(static_cast<size_t>(2 * kDim));
  for (int64_t g = 0; g < insn.rows; ++g) {
    const int64_t at = g * insn.stride;
    sramRead(EMBER_NPU_MEM_ACC, insn.scal + g, scal, 1);
    sramRead(EMBER_NPU_MEM_ACC, insn.sum + g, sum, 1);
    if (insn.w16)
      wideRead(EMBER_NPU_MEM_OUT, insn.src + at, row.data(), 1);
    else
      sramRead(EMBER_NPU_MEM_OUT, insn.src + at, row.data(), 1);
    for (int l = 0; l < kDim; ++l) {
      const size_t e = static_cast<size_t>(l);
      const int32_t x =
          insn.w16 ? int16_t(uint16_t(row[2 * e] | (row[2 * e + 1] << 8)))
                   : int8_t(row[e]);
      const int64_t bias = int64_t(uint64_t(uint32_t(param[2][l])) |
                                   (uint64_t(uint32_t(param[3][l])) << 32));
      const int32_t y =
          softmax
              ? rowExpOut(softmaxExp(x, sum[3], rg), scal[0], scal[1], rg,
                          insn.out16)
              : rowMulNorm(rowDeviation(x, insn.center, rg[EMBER_NPU_REG_ROW_N],
                                        sum[0], rg[EMBER_NPU_REG_ROW_X_ZP]),
                           scal[0], scal[1], param[0][l], param[1][l], bias,
                           rg[EMBER_NPU_REG_ROW_OUT_ZP],
                           rg[EMBER_NPU_REG_ROW_MIN], rg[EMBER_NPU_REG_ROW_MAX],
                           insn.out16);
      if (insn.out16) {
        res[2 * e] = uint8_t(uint16_t(y));
        res[2 * e + 1] = uint8_t(uint16_t(y) >> 8);
      } else {
        res[e] = uint8_t(int8_t(y));
      }
    }
    if (insn.out16)
      wideWrite(EMBER_NPU_MEM_OUT, insn.dst + at, res.data(), 1);
    else
      sramWrite(EMBER_NPU_MEM_OUT, insn.dst + at, res.data(), 1);
  }
  return static_cast<uint64_t>(insn.rows) / EMBER_NPU_SRAM_ROWS_PER_CYCLE +
         EMBER_NPU_VECTOR_ISSUE_OVERHEAD_CYCLES + 1;
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

} // namespace ember::npu
