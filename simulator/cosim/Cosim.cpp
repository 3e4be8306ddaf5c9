//===- Cosim.cpp - Lockstep comparison of two NPU executors ---------------===//
#include "ember/npu/Cosim.h"

#include "ember/npu/Assembler.h"
#include "ember/npu/Footprint.h"
#include "ember/npu/Stall.h"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <limits>

namespace ember::npu {

namespace {

/// A byte an instruction wrote: (space, address) packed in `key`, its value
/// after the instruction, and whether the other side must have written it.
struct Entry {
  uint64_t key;
  uint8_t value;
  bool must;
};

constexpr int kSpaceShift = 56;
uint64_t keyOf(uint32_t space, uint64_t addr) {
  return (uint64_t(space) << kSpaceShift) | addr;
}
int spaceOfKey(uint64_t k) { return int(k >> kSpaceShift); }
uint64_t addrOfKey(uint64_t k) { return k & ((1ull << kSpaceShift) - 1); }

/// One instruction's record on one side.
struct Rec {
  bool retired = false;
  uint32_t engine = 0;
  uint64_t cycle = 0;
  uint64_t order = 0; // its place among the side's retirements (1 = first)
  uint64_t counts[3] = {0, 0, 0};
  std::vector<Entry> entries; // in write order until finalize()
  /// Sorts by address; of two writes of a byte the later wins.
  void finalize() {
    std::stable_sort(
        entries.begin(), entries.end(),
        [](const Entry &a, const Entry &b) { return a.key < b.key; });
    std::vector<Entry> out;
    out.reserve(entries.size());
    for (const Entry &e : entries) {
      if (!out.empty() && out.back().key == e.key) {
        bool must = out.back().must || e.must;
        out.back() = e;
        out.back().must = must;
      } else {
        out.push_back(e);
      }
    }
    entries.swap(out);
  }
};

struct Side {
  std::vector<Rec> recs;
  uint32_t spaces = EMBER_NPU_SPACES_ALL; // the spaces every record traces
  bool any = false;
  // The state as the side's records leave it, to tell a byte a superset
  // record lists but the instruction did not change.
  bool shadowed = false;
  std::vector<std::vector<uint8_t>> shadow;
  uint64_t lastCycle = 0;
  uint64_t retirements = 0;
};

int onRetire(void *user, const ember_npu_retire_t *r) {
  Side &s = *static_cast<Side *>(user);
  if (r->index >= s.recs.size())
    return 0; // an index the program does not have: nothing to compare
  Rec &rec = s.recs[r->index];
  if (!(r->flags & EMBER_NPU_RETIRE_LATE) && !rec.retired) {
    rec.retired = true;
    rec.engine = r->engine;
    rec.cycle = r->cycle;
    rec.order = ++s.retirements;
  }
  s.lastCycle = std::max(s.lastCycle, r->cycle);
  if (!s.any) {
    s.spaces = r->spaces;
    s.any = true;
  }
  s.spaces &= r->spaces;
  rec.counts[0] += r->macs;
  rec.counts[1] += r->load_bytes;
  rec.counts[2] += r->store_bytes;
  const bool superset = (r->flags & EMBER_NPU_RETIRE_SUPERSET) != 0;
  for (uint32_t w = 0; w < r->num_writes; ++w) {
    const ember_npu_write_t &wr = r->writes[w];
    std::vector<uint8_t> *sh = nullptr;
    if (s.shadowed && wr.space < s.shadow.size())
      sh = &s.shadow[wr.space];
    for (uint32_t b = 0; b < wr.bytes; ++b) {
      uint64_t a = wr.addr + b;
      uint8_t v = wr.data[b];
      bool must = true;
      if (sh && a < sh->size()) {
        if (superset)
          must = (*sh)[a] != v;
        (*sh)[a] = v;
      }
      rec.entries.push_back({keyOf(wr.space, a), v, must});
    }
  }
  return 0;
}

std::string runSide(ember_npu_device_t *dev, const std::vector<Word> &program,
                    Side &side, std::string &runError) {
  side.recs.assign(program.size(), Rec());
  if (ember_npu_set_retire_callback(dev, onRetire, &side) !=
      EMBER_NPU_STATUS_OK)
    return "the executor does not report retirements";
  if (ember_npu_program_load(dev, program.data(), program.size()) !=
      EMBER_NPU_STATUS_OK) {
    ember_npu_set_retire_callback(dev, nullptr, nullptr);
    return "cannot load the program";
  }
  if (ember_npu_run(dev) != EMBER_NPU_STATUS_OK)
    runError = ember_npu_device_last_error(dev);
  ember_npu_set_retire_callback(dev, nullptr, nullptr);
  for (Rec &r : side.recs)
    r.finalize();
  return "";
}

const char *kCounterNames[3] = {"macs", "load_bytes", "store_bytes"};

/// Compares instruction i's records; fills `d` and returns true when they
/// differ.
bool compareOne(const Rec &ref, const Rec &dut, uint32_t spaces,
                uint64_t dutEnd, size_t maxBytes, Divergence &d) {
  d = Divergence();
  d.engine = dut.retired ? dut.engine : ref.engine;
  d.dutRetired = dut.retired;
  d.dutCycle = dut.retired ? dut.cycle : dutEnd;
  std::copy(ref.counts, ref.counts + 3, d.refCounts);
  std::copy(dut.counts, dut.counts + 3, d.dutCounts);
  auto traced = [spaces](uint64_t key) {
    return ((spaces >> spaceOfKey(key)) & 1u) != 0;
  };
  auto note = [&](uint64_t key, int r, int u) {
    if (d.bytes.size() < maxBytes)
      d.bytes.push_back({spaceOfKey(key), addrOfKey(key), r, u});
    ++d.byteCount;
  };
  // Merge the two sorted lists.
  size_t i = 0, j = 0;
  while (i < ref.entries.size() || j < dut.entries.size()) {
    const Entry *r = i < ref.entries.size() ? &ref.entries[i] : nullptr;
    const Entry *u = j < dut.entries.size() ? &dut.entries[j] : nullptr;
    if (r && (!u || r->key < u->key)) { // the REF wrote it, the DUT did not
      if (r->must && traced(r->key))
        note(r->key, r->value, -1);
      ++i;
    } else if (u && (!r || u->key < r->key)) { // the DUT alone wrote it
      if (u->must)
        note(u->key, -1, u->value);
      ++j;
    } else {
      if (r->value != u->value)
        note(r->key, r->value, u->value);
      ++i;
      ++j;
    }
  }
  if (!ref.retired && !dut.retired)
    return false;
  if (ref.retired && !dut.retired) {
    d.what = "the DUT never retired it";
    return true;
  }
  if (!ref.retired) {
    d.what = "the DUT retired it; the REF did not";
    return true;
  }
  if (d.byteCount) {
    d.what = std::to_string(d.byteCount) + " byte" +
             (d.byteCount == 1 ? "" : "s") + " differ";
    return true;
  }
  for (int c = 0; c < 3; ++c)
    if (d.refCounts[c] != d.dutCounts[c]) {
      d.what = std::string("counter ") + kCounterNames[c] + ": REF " +
               std::to_string(d.refCounts[c]) + ", DUT " +
               std::to_string(d.dutCounts[c]);
      return true;
    }
  return false;
}

} // namespace

std::string cosimulate(ember_npu_device_t *ref, ember_npu_device_t *dut,
                       const std::vector<Word> &program, CosimResult &out,
                       size_t maxBytes) {
  out = CosimResult();
  ember_npu_device_info_t ri, di;
  std::memset(&ri, 0, sizeof ri);
  std::memset(&di, 0, sizeof di);
  ri.struct_size = sizeof ri;
  di.struct_size = sizeof di;
  if (ember_npu_device_query(ref, &ri) != EMBER_NPU_STATUS_OK ||
      ember_npu_device_query(dut, &di) != EMBER_NPU_STATUS_OK)
    return "cannot query the devices";
  if (ri.dram_bytes != di.dram_bytes)
    return "the REF and the DUT have different DRAM sizes";
  std::vector<uint8_t> dram0(ri.dram_bytes);
  if (ember_npu_dram_read(ref, 0, dram0.data(), dram0.size()) !=
      EMBER_NPU_STATUS_OK)
    return "cannot read the REF's DRAM";
  // Both sides start from reset scratchpads and tables and the same DRAM.
  Side r, u;
  for (Side *side : {&r, &u}) {
    side->shadowed = true;
    side->shadow.resize(kNumSpaces);
    for (int s = 0; s < kNumSpaces; ++s)
      side->shadow[s].assign(s == kSpaceDram ? 0 : spaceBytes(s, 0), 0);
    side->shadow[kSpaceDram] = dram0;
  }
  std::string err = runSide(ref, program, r, out.refError);
  if (!err.empty())
    return "REF: " + err;
  err = runSide(dut, program, u, out.dutError);
  if (!err.empty())
    return "DUT: " + err;
  ember_npu_counters_t c;
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  if (ember_npu_counters_read(dut, &c) == EMBER_NPU_STATUS_OK)
    out.dutCycles = c.cycles;
  // A DUT stopped by its stall limit: where its engines stood.
  out.dutStop.struct_size = sizeof out.dutStop;
  out.stalled =
      ember_npu_stop_state(dut, &out.dutStop) == EMBER_NPU_STATUS_OK &&
      out.dutStop.stalled;
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  if (ember_npu_counters_read(ref, &c) == EMBER_NPU_STATUS_OK)
    out.refCycles = c.cycles;
  // Retire cycles as "cycles counted up to and including it": executors
  // number cycles from 0 or 1; FINISH (the last instruction) retires in the
  // run's last counted cycle.
  auto retireTimes = [&](const Side &side, uint64_t cycles,
                         std::vector<uint64_t> &v) {
    uint64_t off = 0;
    if (!side.recs.empty() && side.recs.back().retired &&
        side.recs.back().cycle < cycles)
      off = cycles - side.recs.back().cycle;
    for (const Rec &rec : side.recs)
      v.push_back(rec.retired ? rec.cycle + off : CosimResult::kNotRetired);
  };
  retireTimes(r, out.refCycles, out.refRetire);
  retireTimes(u, out.dutCycles, out.dutRetire);
  // The end of the DUT's run (a stalled one: the cycle its limit ran out).
  const uint64_t dutEnd =
      out.stalled ? out.dutStop.cycle : std::max(out.dutCycles, u.lastCycle);
  const bool refTimed =
      ember_npu_device_query(ref, &ri) == EMBER_NPU_STATUS_OK && ri.timed;
  // The first divergence: the earliest the DUT retired; of those it never
  // retired (all at the end of its run), the first the REF retired.
  uint64_t bestCycle = std::numeric_limits<uint64_t>::max(), bestOrder = 0;
  for (size_t i = 0; i < program.size(); ++i) {
    const Rec &a = r.recs[i], &b = u.recs[i];
    if (a.retired)
      ++out.retired;
    if (a.retired && b.retired)
      ++out.compared;
    Divergence d;
    if (!compareOne(a, b, u.spaces & r.spaces, dutEnd, maxBytes, d))
      continue;
    d.index = i;
    d.refOrder = a.order;
    d.refCycle = a.cycle;
    d.refTimed = refTimed && a.retired;
    ++out.divergent;
    const uint64_t order = a.retired ? a.order : UINT64_MAX;
    if (d.dutCycle < bestCycle ||
        (d.dutCycle == bestCycle && !d.dutRetired && order < bestOrder)) {
      bestCycle = d.dutCycle;
      bestOrder = order;
      out.first = d;
    }
  }
  out.first.refRetired = r.retirements;
  if (out.stalled && out.divergent && !out.first.dutRetired) {
    Divergence &d = out.first;
    d.stalled = true;
    d.stop = out.dutStop;
    d.what = "the DUT did not retire it: no instruction retired for " +
             std::to_string(d.stop.cycle - d.stop.last_retire_cycle) +
             " cycles (the stall limit " + std::to_string(d.stop.stall_cycles) +
             ")";
  }
  // DRAM after both runs: a write no instruction owned shows here only.
  std::vector<uint8_t> da(dram0.size()), db(dram0.size());
  if (ember_npu_dram_read(ref, 0, da.data(), da.size()) ==
          EMBER_NPU_STATUS_OK &&
      ember_npu_dram_read(dut, 0, db.data(), db.size()) == EMBER_NPU_STATUS_OK)
    for (size_t k = 0; k < da.size(); ++k)
      out.dramDiffs += da[k] != db[k];
  out.agree =
      out.divergent == 0 && out.dramDiffs == 0 && out.refError == out.dutError;
  return "";
}

TimingDiff firstTimingDiff(const CosimResult &res) {
  TimingDiff t;
  uint64_t best = CosimResult::kNotRetired;
  for (size_t i = 0; i < res.refRetire.size() && i < res.dutRetire.size();
       ++i) {
    uint64_t a = res.refRetire[i], b = res.dutRetire[i];
    if (a == b || (t.differs && std::min(a, b) >= best))
      continue;
    t = {true, i, a, b};
    best = std::min(a, b);
  }
  return t;
}

std::string formatDivergence(const Divergence &d,
                             const std::vector<Word> &program,
                             const std::string &layer) {
  std::string text = "?";
  Insn insn;
  if (d.index < program.size() && decode(program[d.index], insn).empty())
    text = formatInsn(insn);
  char buf[256];
  std::string s = "first divergence: instruction " + std::to_string(d.index) +
                  ": " + text + "\n";
  if (!layer.empty())
    s += "  in " + layer + "\n";
  std::snprintf(buf, sizeof buf, "  engine %s, DUT cycle %" PRIu64 "%s: %s\n",
                engineName(static_cast<Engine>(d.engine)), d.dutCycle,
                d.dutRetired ? "" : " (end of its run)", d.what.c_str());
  s += buf;
  if (d.stalled) {
    // Where the REF retired it, and where every engine of the DUT stood.
    std::string when =
        d.refTimed ? ", in REF cycle " + std::to_string(d.refCycle)
        : d.timedCycle != CosimResult::kNotRetired
            ? " (the REF is untimed; the SystemC model, whose timing is the "
              "RTL's, retires it in its cycle " +
                  std::to_string(d.timedCycle) + ")"
            : std::string(" (the REF is untimed)");
    s += "  the REF retired it as its retirement " +
         std::to_string(d.refOrder) + " of " + std::to_string(d.refRetired) +
         when + "; the DUT's last retirement was in cycle " +
         std::to_string(d.stop.last_retire_cycle) + "\n";
    s += "  the DUT in cycle " + std::to_string(d.stop.cycle) + " (" +
         std::to_string(d.stop.fetched) + " instructions fetched):\n";
    std::vector<Insn> insns(program.size());
    for (size_t i = 0; i < program.size(); ++i)
      decode(program[i],
             insns[i]); // (an undecodable word: its opcode is FINISH)
    for (int e = 0; e < kNumEngines; ++e) {
      std::snprintf(buf, sizeof buf, "    %-7s",
                    engineName(static_cast<Engine>(e)));
      s += buf + describeEngine(d.stop, e, insns) + "\n";
    }
    s += "    tokens: " + describeTokens(d.stop) + "\n";
    s += "    DMA: " + describeDma(d.stop) + "\n";
  }
  for (const ByteDiff &b : d.bytes) {
    std::string where = spaceName(b.space);
    if (b.space < kNumMems) {
      uint64_t rb = uint64_t(memRowBytes(b.space));
      std::snprintf(buf, sizeof buf,
                    " 0x%06" PRIx64 " (row %" PRIu64 ", byte %" PRIu64 ")",
                    b.addr, b.addr / rb, b.addr % rb);
    } else {
      std::snprintf(buf, sizeof buf, " 0x%08" PRIx64, b.addr);
    }
    where += buf;
    auto val = [](int v) {
      char t[16];
      if (v < 0)
        return std::string("not written");
      std::snprintf(t, sizeof t, "0x%02x", v);
      return std::string(t);
    };
    s += "  " + where + ": REF " + val(b.ref) + ", DUT " + val(b.dut) + "\n";
  }
  if (d.byteCount > d.bytes.size())
    s += "  ... " + std::to_string(d.byteCount - d.bytes.size()) +
         " more bytes\n";
  for (int c = 0; c < 3; ++c)
    if (d.refCounts[c] != d.dutCounts[c]) {
      std::snprintf(buf, sizeof buf,
                    "  counter %s: REF %" PRIu64 ", DUT %" PRIu64 "\n",
                    kCounterNames[c], d.refCounts[c], d.dutCounts[c]);
      s += buf;
    }
  return s;
}

} // namespace ember::npu
