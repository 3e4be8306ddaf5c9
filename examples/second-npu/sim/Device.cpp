// The second NPU's simulator behind driver.h: a functional model (the truth
// for values) with instruction-level timing.
//
// Values: each instruction executes whole, in an order its barriers allow
// (the order in which the timing model starts them). Barriers order every
// conflicting access, so any legal schedule computes the same bytes.
//
// Timing (docs/second-npu.md, "The simulator"): four in-order queues; an
// instruction starts when its queue is free and a token is there on every
// barrier it waits on (each token carries the cycle its signal completed).
// DMA: issue cycles, then the DRAM latency, then bytes / bandwidth on the one
// DRAM port both engines share. The array streams a row of 32 inputs in four
// cycles (8 input lanes a cycle). The output unit takes a row a cycle. SRAM
// ports: two read ports and one write port; each instruction reserves the
// row accesses it makes on them, and finishes no earlier than its ports
// allow (port conflicts lengthen it: counters.port_stall).
#include "snpu/Isa.h"
#include "snpu/driver.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <deque>
#include <new>
#include <string>
#include <vector>

using namespace snpu;
namespace q = ember::quant;

struct snpu_device {
  snpu_config cfg{};
  std::vector<uint8_t> dram;
  std::vector<Insn> prog;
  std::vector<uint8_t> sram =
      std::vector<uint8_t>(size_t(kSramRows) * kRowBytes);
  std::array<int32_t, kNumRegs> regs{};
  std::array<int8_t, kLutEntries> lut{};
  snpu_counters counters{};
  std::vector<snpu_span> spans;
  std::string error;
};

namespace {

constexpr uint64_t kDmaIssue = 8, kOutIssue = 4, kMacIssue = 2;

struct Fail {
  snpu_status status = SNPU_OK;
  std::string what;
};

int8_t &i8(snpu_device &d, uint64_t row, int lane) {
  return reinterpret_cast<int8_t &>(d.sram[row * kRowBytes + size_t(lane)]);
}
int32_t acc(const snpu_device &d, uint64_t row, int lane) {
  int32_t v;
  std::memcpy(&v, &d.sram[row * kRowBytes + size_t(lane) * 4], 4);
  return v;
}
void setAcc(snpu_device &d, uint64_t row, int lane, int32_t v) {
  std::memcpy(&d.sram[row * kRowBytes + size_t(lane) * 4], &v, 4);
}

// [first, first + n) rows inside the SRAM.
bool rowsOk(uint64_t first, uint64_t n) {
  return first <= uint64_t(kSramRows) && n <= uint64_t(kSramRows) - first;
}

std::string span(const char *what, uint64_t first, uint64_t n) {
  return std::string(what) + " rows [" + std::to_string(first) + ", " +
         std::to_string(first + n) + ") beyond the SRAM's " +
         std::to_string(kSramRows);
}

// The bounds of `in`; "" or what is out of bounds.
Fail check(const snpu_device &d, const Insn &in) {
  auto bad = [](std::string s) { return Fail{SNPU_OUT_OF_BOUNDS, s}; };
  const uint64_t rb = in.wide ? kRowBytes : kLanes;
  switch (in.op) {
  case Opcode::LOAD:
  case Opcode::STORE: {
    uint64_t h = in.ysize, w = in.xsize;
    if (in.op == Opcode::LOAD) {
      h += in.pt + in.pb;
      w += in.pl + in.pr;
    }
    if (!rowsOk(in.row, h * w))
      return bad(span("SRAM", in.row, h * w));
    if (in.ysize && in.xsize) {
      uint64_t last = in.dram + ((in.ysize - 1) * in.stride + in.xsize) * rb;
      if (last > d.dram.size())
        return bad("DRAM bytes [" + std::to_string(in.dram) + ", " +
                   std::to_string(last) + ") beyond the device's " +
                   std::to_string(d.dram.size()));
    }
    return {};
  }
  case Opcode::MAC: {
    if (!in.inner || !in.outer)
      return {};
    uint64_t o = in.outer - 1;
    if (!rowsOk(in.act, o * in.acts + in.inner))
      return bad(span("activation", in.act, o * in.acts + in.inner));
    if (!rowsOk(in.acc, o * in.accs + in.inner))
      return bad(span("accumulator", in.acc, o * in.accs + in.inner));
    if (!rowsOk(in.wgt, kLanes))
      return bad(span("weight", in.wgt, kLanes));
    return {};
  }
  case Opcode::REQ:
    if (!rowsOk(in.src, in.rows))
      return bad(span("source", in.src, in.rows));
    if (!rowsOk(in.dst, in.rows))
      return bad(span("destination", in.dst, in.rows));
    if (!rowsOk(in.param, in.bias ? 3 : 2))
      return bad(span("table", in.param, in.bias ? 3 : 2));
    return {};
  case Opcode::ADD:
  case Opcode::MUL:
    if (!rowsOk(in.a, in.rows) || !rowsOk(in.b, in.bcast ? 1 : in.rows))
      return bad(rowsOk(in.a, in.rows)
                     ? span("operand", in.b, in.bcast ? 1 : in.rows)
                     : span("operand", in.a, in.rows));
    if (!rowsOk(in.dst, in.rows))
      return bad(span("destination", in.dst, in.rows));
    return {};
  case Opcode::LUTLD:
    if (!rowsOk(in.src, 2))
      return bad(span("table", in.src, 2));
    return {};
  case Opcode::SETREG:
    if (in.reg >= uint64_t(kNumRegs))
      return bad("register " + std::to_string(in.reg));
    return {};
  case Opcode::NOP:
  case Opcode::END:
    return {};
  }
  return {};
}

// The output unit's result rows: out[dst + i][l] = value(i, l), clipped to
// int8 by `value`, then through the table when the instruction's lut bit
// is set. Every value is computed before any row is written (dst may
// overlap the operands).
template <class F> void outputRows(snpu_device &d, const Insn &in, F value) {
  std::vector<int8_t> out(size_t(in.rows) * kLanes);
  for (uint64_t i = 0; i < in.rows; ++i)
    for (int l = 0; l < kLanes; ++l) {
      int32_t v = value(i, l);
      if (in.lut)
        v = d.lut[uint8_t(int8_t(v))];
      out[i * kLanes + size_t(l)] = int8_t(v);
    }
  for (uint64_t i = 0; i < in.rows; ++i)
    std::memcpy(&d.sram[(in.dst + i) * kRowBytes], &out[i * kLanes], kLanes);
}

void execute(snpu_device &d, const Insn &in) {
  const uint64_t rb = in.wide ? kRowBytes : kLanes;
  switch (in.op) {
  case Opcode::LOAD: {
    const uint64_t w = in.pl + in.xsize + in.pr, h = in.pt + in.ysize + in.pb;
    const int8_t pad = int8_t(d.regs[R_PAD] & 0xff);
    for (uint64_t y = 0; y < h; ++y)
      for (uint64_t x = 0; x < w; ++x) {
        uint8_t *dst = &d.sram[(in.row + y * w + x) * kRowBytes];
        const bool data = y >= in.pt && y < in.pt + in.ysize && x >= in.pl &&
                          x < in.pl + in.xsize;
        if (data) {
          std::memcpy(
              dst,
              &d.dram[in.dram + ((y - in.pt) * in.stride + x - in.pl) * rb],
              rb);
          d.counters.load_bytes += rb;
        } else if (in.wide) {
          const int32_t v = pad;
          for (int l = 0; l < kLanes; ++l)
            std::memcpy(dst + 4 * l, &v, 4);
        } else {
          std::memset(dst, uint8_t(pad), kLanes);
        }
      }
    return;
  }
  case Opcode::STORE:
    for (uint64_t y = 0; y < in.ysize; ++y)
      for (uint64_t x = 0; x < in.xsize; ++x) {
        std::memcpy(&d.dram[in.dram + (y * in.stride + x) * rb],
                    &d.sram[(in.row + y * in.xsize + x) * kRowBytes], rb);
        d.counters.store_bytes += rb;
      }
    return;
  case Opcode::MAC: {
    // The weight tile: row k = input lane k, byte j = output channel j.
    int32_t w[kLanes][kLanes];
    for (int k = 0; k < kLanes; ++k)
      for (int j = 0; j < kLanes; ++j)
        w[k][j] = i8(d, in.wgt + uint64_t(k), j);
    for (uint64_t o = 0; o < in.outer; ++o)
      for (uint64_t i = 0; i < in.inner; ++i) {
        const uint64_t ar = in.act + o * in.acts + i,
                       cr = in.acc + o * in.accs + i;
        int32_t a[kLanes];
        for (int k = 0; k < kLanes; ++k)
          a[k] = i8(d, ar, k);
        for (int j = 0; j < kLanes; ++j) {
          int32_t s = 0;
          for (int k = 0; k < kLanes; ++k)
            s += a[k] * w[k][j];
          setAcc(d, cr, j, in.reset ? s : q::wrapAdd(acc(d, cr, j), s));
        }
      }
    d.counters.array_macs += in.inner * in.outer * kLanes * kLanes;
    return;
  }
  case Opcode::REQ: {
    const int32_t zp = int32_t(signedField(in, &Insn::zp)),
                  lo = int32_t(signedField(in, &Insn::lo)),
                  hi = int32_t(signedField(in, &Insn::hi));
    outputRows(d, in, [&](uint64_t i, int l) {
      int32_t x = acc(d, in.src + i, l);
      if (in.bias)
        x = q::wrapAdd(x, acc(d, in.param + 2, l));
      return q::clampTo(
          q::wrapAdd(q::mbqm(x, acc(d, in.param, l), acc(d, in.param + 1, l)),
                     zp),
          std::max(lo, -128), std::min(hi, 127));
    });
    return;
  }
  case Opcode::ADD: {
    q::AddParams p;
    p.leftShift = d.regs[R_ADD_LSHIFT] & 31;
    p.aZp = d.regs[R_ADD_A_ZP];
    p.bZp = d.regs[R_ADD_B_ZP];
    p.yZp = d.regs[R_ADD_OUT_ZP];
    p.a = {d.regs[R_ADD_A_MULT], d.regs[R_ADD_A_SHIFT]};
    p.b = {d.regs[R_ADD_B_MULT], d.regs[R_ADD_B_SHIFT]};
    p.y = {d.regs[R_ADD_OUT_MULT], d.regs[R_ADD_OUT_SHIFT]};
    p.lo = std::max(d.regs[R_ADD_MIN], -128);
    p.hi = std::min(d.regs[R_ADD_MAX], 127);
    outputRows(d, in, [&](uint64_t i, int l) {
      return q::clampTo(
          q::quantizedAdd(i8(d, in.a + i, l), i8(d, in.b + i, l), p), -128,
          127);
    });
    return;
  }
  case Opcode::MUL: {
    const int32_t az = int8_t(d.regs[R_MUL_A_ZP] & 0xff),
                  bz = int8_t(d.regs[R_MUL_B_ZP] & 0xff),
                  lo = std::max(d.regs[R_MUL_MIN], -128),
                  hi = std::min(d.regs[R_MUL_MAX], 127);
    outputRows(d, in, [&](uint64_t i, int l) {
      const int64_t da = i8(d, in.a + i, l) - az,
                    db = i8(d, in.b + (in.bcast ? 0 : i), l) - bz;
      return q::clampTo(q::wrapAdd(q::mbqm(int32_t(da * db), d.regs[R_MUL_MULT],
                                           d.regs[R_MUL_SHIFT]),
                                   d.regs[R_MUL_OUT_ZP]),
                        lo, hi);
    });
    return;
  }
  case Opcode::LUTLD:
    // Entry e (for the int8 value e - 256 * (e > 127)) is byte e of the two
    // rows.
    std::memcpy(d.lut.data(), &d.sram[in.src * kRowBytes], kLutEntries);
    return;
  case Opcode::SETREG:
    d.regs[in.reg] = int32_t(signedField(in, &Insn::value));
    return;
  case Opcode::NOP:
  case Opcode::END:
    return;
  }
}

// An SRAM port group's accesses over time, in buckets of kBucket cycles
// holding `ports` x kBucket accesses. An instruction spreads its accesses
// evenly over its own span; what a bucket cannot take moves to the next, so
// an instruction ends no earlier than its last access is granted, whatever
// order instructions are booked in.
class Ports {
public:
  static constexpr uint64_t kBucket = 16;
  explicit Ports(uint64_t ports) : cap_(ports * kBucket) {}

  // Books `n` accesses spread over [a, b); returns when the last is granted.
  uint64_t book(uint64_t a, uint64_t b, uint64_t n) {
    if (!n)
      return a;
    b = std::max(b, a + 1);
    const double rate = double(n) / double(b - a);
    double carry = 0;
    uint64_t left = n, t = a, last = a;
    while (left) {
      const uint64_t k = t / kBucket, bEnd = (k + 1) * kBucket;
      const uint64_t segEnd = std::min(bEnd, std::max(b, t + 1));
      if (t < b)
        carry += rate * double(std::min(segEnd, b) - t);
      uint64_t want = std::min<uint64_t>(left, uint64_t(carry + 0.5));
      if (t >= b)
        want = left;
      if (k >= used_.size())
        used_.resize(size_t(k) + 1024, 0);
      const uint64_t got = std::min(want, cap_ - used_[size_t(k)]);
      used_[size_t(k)] += uint32_t(got);
      carry -= double(got);
      left -= got;
      if (got)
        last = std::max(last, std::min(bEnd, k * kBucket + used_[size_t(k)] *
                                                               kBucket / cap_));
      t = bEnd;
    }
    return last;
  }

private:
  uint64_t cap_;
  std::vector<uint32_t> used_;
};

// The shared resources of the timing model.
struct Timing {
  uint64_t dramFree = 0;
  Ports reads{2}, writes{1};
};

// Cycles of `in` started at `s`; returns its end.
uint64_t timeOf(snpu_device &d, Timing &t, const Insn &in, uint64_t s) {
  const uint64_t rb = in.wide ? kRowBytes : kLanes;
  const uint64_t bw = std::max<uint32_t>(1, d.cfg.dram_bytes_per_cycle);
  snpu_counters &c = d.counters;
  uint64_t end = s, natural = s;
  switch (in.op) {
  case Opcode::LOAD:
  case Opcode::STORE: {
    const uint64_t rows = in.ysize * in.xsize, bytes = rows * rb;
    const uint64_t req = s + kDmaIssue + d.cfg.dram_latency;
    const uint64_t data = std::max(req, t.dramFree);
    c.dram_stall += data - req;
    const uint64_t xfer = (bytes + bw - 1) / bw;
    t.dramFree = data + xfer;
    natural = data + std::max(xfer, rows);
    if (in.op == Opcode::LOAD)
      end = t.writes.book(data, natural,
                          (in.pt + in.ysize + in.pb) *
                              (in.pl + in.xsize + in.pr));
    else
      end = t.reads.book(data, natural, rows);
    break;
  }
  case Opcode::MAC: {
    // Per row: the activation row (and the accumulator row unless reset)
    // read, the accumulator row written; the weight tile read once.
    const uint64_t rows = in.inner * in.outer;
    natural = s + kMacIssue + rows * (kLanes / kArrayInputs);
    end = std::max(
        t.reads.book(s, natural, rows * (in.reset ? 1 : 2) + uint64_t(kLanes)),
        t.writes.book(s + kMacIssue, natural, rows));
    break;
  }
  case Opcode::REQ:
  case Opcode::ADD:
  case Opcode::MUL:
    natural = s + kOutIssue + in.rows;
    end = std::max(t.reads.book(s, natural,
                                in.op == Opcode::ADD ? 2 * in.rows
                                : in.op == Opcode::MUL
                                    ? in.rows + (in.bcast ? 1 : in.rows)
                                    : in.rows + 2 + in.bias),
                   t.writes.book(s + kOutIssue, natural, in.rows));
    break;
  case Opcode::LUTLD:
    natural = s + kOutIssue + 2;
    end = t.reads.book(s, natural, 2);
    break;
  case Opcode::SETREG:
    natural = s + 1;
    break;
  case Opcode::NOP:
  case Opcode::END:
    break;
  }
  if (end > natural)
    c.port_stall += end - natural;
  return std::max(end, natural);
}

std::string where(size_t i, const Insn &in) {
  return "instruction " + std::to_string(i) + " (" + opcodeName(in.op) +
         " on " + queueName(in.queue) + ")";
}

uint64_t unionOverlap(std::vector<std::pair<uint64_t, uint64_t>> a,
                      std::vector<std::pair<uint64_t, uint64_t>> b) {
  auto merge = [](std::vector<std::pair<uint64_t, uint64_t>> &v) {
    std::sort(v.begin(), v.end());
    std::vector<std::pair<uint64_t, uint64_t>> m;
    for (auto &x : v)
      if (!m.empty() && x.first <= m.back().second)
        m.back().second = std::max(m.back().second, x.second);
      else
        m.push_back(x);
    v = m;
  };
  merge(a);
  merge(b);
  uint64_t o = 0;
  for (auto &x : a)
    for (size_t k = 0; k < b.size() && b[k].first < x.second; ++k)
      if (b[k].second > x.first)
        o += std::min(x.second, b[k].second) - std::max(x.first, b[k].first);
  return o;
}

Fail run(snpu_device &d) {
  d.counters = snpu_counters();
  d.counters.struct_size = sizeof(snpu_counters);
  d.regs.fill(0);
  d.spans.assign(d.prog.size(), snpu_span{0, 0});
  std::array<std::vector<size_t>, kNumQueues> queues;
  for (size_t i = 0; i < d.prog.size(); ++i)
    queues[d.prog[i].queue].push_back(i);
  std::array<size_t, kNumQueues> head{};
  std::array<uint64_t, kNumQueues> free{};
  std::array<std::deque<uint64_t>, kNumBarriers> tokens;
  Timing t;
  for (size_t done = 0; done < d.prog.size(); ++done) {
    int best = -1;
    uint64_t bestStart = 0;
    for (int qi = 0; qi < kNumQueues; ++qi) {
      if (head[size_t(qi)] >= queues[size_t(qi)].size())
        continue;
      const Insn &in = d.prog[queues[size_t(qi)][head[size_t(qi)]]];
      uint64_t s = free[size_t(qi)];
      bool ready = true;
      for (int b = 0; b < kNumBarriers && ready; ++b)
        if (in.wait >> b & 1) {
          if (tokens[size_t(b)].empty())
            ready = false;
          else
            s = std::max(s, tokens[size_t(b)].front());
        }
      if (ready && (best < 0 || s < bestStart)) {
        best = qi;
        bestStart = s;
      }
    }
    if (best < 0) {
      // Every queue with work left waits on an empty barrier that nothing
      // left in the program can fill.
      std::string msg = "deadlock: ";
      bool first = true;
      for (int qi = 0; qi < kNumQueues; ++qi) {
        if (head[size_t(qi)] >= queues[size_t(qi)].size())
          continue;
        size_t i = queues[size_t(qi)][head[size_t(qi)]];
        const Insn &in = d.prog[i];
        int b = 0;
        while (b < kNumBarriers &&
               !((in.wait >> b & 1) && tokens[size_t(b)].empty()))
          ++b;
        msg += std::string(first ? "" : "; ") + where(i, in) +
               " waits on barrier " + std::to_string(b) +
               ", which no instruction still to run can signal";
        first = false;
      }
      return {SNPU_DEADLOCK, msg};
    }
    const size_t i = queues[size_t(best)][head[size_t(best)]++];
    const Insn &in = d.prog[i];
    Fail f = check(d, in);
    if (f.status != SNPU_OK)
      return {f.status, where(i, in) + ": " + f.what};
    uint64_t waited = bestStart - free[size_t(best)];
    for (int b = 0; b < kNumBarriers; ++b)
      if (in.wait >> b & 1)
        tokens[size_t(b)].pop_front();
    execute(d, in);
    const uint64_t end = timeOf(d, t, in, bestStart);
    for (int b = 0; b < kNumBarriers; ++b)
      if (in.signal >> b & 1) {
        if (tokens[size_t(b)].size() >= size_t(kBarrierMax))
          return {SNPU_BARRIER_OVERFLOW,
                  where(i, in) + ": barrier " + std::to_string(b) +
                      " signalled beyond its counter's " +
                      std::to_string(kBarrierMax)};
        tokens[size_t(b)].push_back(end);
      }
    free[size_t(best)] = end;
    d.counters.busy[best] += end - bestStart;
    d.counters.stall[best] += waited;
    d.counters.cycles = std::max(d.counters.cycles, end);
    d.spans[i] = {bestStart, end};
    ++d.counters.insns;
  }
  std::vector<std::pair<uint64_t, uint64_t>> dma, mac;
  for (size_t i = 0; i < d.prog.size(); ++i)
    if (d.prog[i].queue == MAC)
      mac.push_back({d.spans[i].start, d.spans[i].end});
    else if (d.prog[i].queue == DMA0 || d.prog[i].queue == DMA1)
      dma.push_back({d.spans[i].start, d.spans[i].end});
  d.counters.overlap = unionOverlap(dma, mac);
  return {};
}

snpu_status fail(snpu_device *d, snpu_status s, const std::string &what) {
  if (d)
    d->error = what;
  return s;
}

} // namespace

extern "C" {

void snpu_config_init(snpu_config *cfg) {
  if (!cfg)
    return;
  *cfg = snpu_config();
  cfg->struct_size = sizeof(snpu_config);
  cfg->dram_bytes = 256ull << 20;
  cfg->dram_bytes_per_cycle = 32;
  cfg->dram_latency = 100;
}

snpu_status snpu_device_create(const snpu_config *cfg, snpu_device **out) {
  if (!cfg || !out || cfg->struct_size < sizeof(snpu_config))
    return SNPU_INVALID_ARGUMENT;
  if (cfg->dram_bytes == 0 || cfg->dram_bytes > (1ull << 32) ||
      cfg->dram_bytes_per_cycle == 0)
    return SNPU_INVALID_ARGUMENT;
  auto *d = new (std::nothrow) snpu_device;
  if (!d)
    return SNPU_INVALID_ARGUMENT;
  d->cfg = *cfg;
  d->dram.assign(size_t(cfg->dram_bytes), 0);
  *out = d;
  return SNPU_OK;
}

void snpu_device_destroy(snpu_device *dev) { delete dev; }

snpu_status snpu_dram_write(snpu_device *d, uint64_t addr, const void *src,
                            size_t n) {
  if (!d || (!src && n))
    return SNPU_INVALID_ARGUMENT;
  if (addr > d->dram.size() || n > d->dram.size() - addr)
    return fail(d, SNPU_OUT_OF_BOUNDS,
                "DRAM write [" + std::to_string(addr) + ", " +
                    std::to_string(addr + n) + ") beyond the device's " +
                    std::to_string(d->dram.size()) + " bytes");
  if (n)
    std::memcpy(&d->dram[addr], src, n);
  return SNPU_OK;
}

snpu_status snpu_dram_read(snpu_device *d, uint64_t addr, void *dst, size_t n) {
  if (!d || (!dst && n))
    return SNPU_INVALID_ARGUMENT;
  if (addr > d->dram.size() || n > d->dram.size() - addr)
    return fail(d, SNPU_OUT_OF_BOUNDS,
                "DRAM read [" + std::to_string(addr) + ", " +
                    std::to_string(addr + n) + ") beyond the device's " +
                    std::to_string(d->dram.size()) + " bytes");
  if (n)
    std::memcpy(dst, &d->dram[addr], n);
  return SNPU_OK;
}

snpu_status snpu_program_load(snpu_device *d, const void *words, size_t n) {
  if (!d || (!words && n))
    return SNPU_INVALID_ARGUMENT;
  d->prog.clear();
  const uint8_t *b = static_cast<const uint8_t *>(words);
  bool ended = false;
  for (size_t i = 0; i < n; ++i) {
    Word w;
    std::memcpy(&w.lo, b + 16 * i, 8);
    std::memcpy(&w.hi, b + 16 * i + 8, 8);
    Insn in;
    std::string err = decode(w, in);
    if (!err.empty()) {
      d->prog.clear();
      return fail(d, SNPU_BAD_PROGRAM,
                  "instruction " + std::to_string(i) + ": " + err);
    }
    if (ended) {
      d->prog.clear();
      return fail(d, SNPU_BAD_PROGRAM,
                  "instruction " + std::to_string(i) + ": after END");
    }
    ended = in.op == Opcode::END;
    d->prog.push_back(in);
  }
  if (!ended) {
    d->prog.clear();
    return fail(d, SNPU_BAD_PROGRAM, "the program does not end with END");
  }
  return SNPU_OK;
}

snpu_status snpu_run(snpu_device *d) {
  if (!d)
    return SNPU_INVALID_ARGUMENT;
  if (d->prog.empty())
    return fail(d, SNPU_BAD_PROGRAM, "no program is loaded");
  Fail f = run(*d);
  if (f.status != SNPU_OK)
    return fail(d, f.status, f.what);
  d->error.clear();
  return SNPU_OK;
}

const char *snpu_last_error(const snpu_device *d) {
  return d ? d->error.c_str() : "no device";
}

snpu_status snpu_counters_read(const snpu_device *d, snpu_counters *out) {
  if (!d || !out || out->struct_size < sizeof(snpu_counters))
    return SNPU_INVALID_ARGUMENT;
  *out = d->counters;
  return SNPU_OK;
}

size_t snpu_spans_read(const snpu_device *d, snpu_span *out, size_t n) {
  if (!d || !out)
    return 0;
  n = std::min(n, d->spans.size());
  std::copy(d->spans.begin(), d->spans.begin() + long(n), out);
  return n;
}

} // extern "C"
