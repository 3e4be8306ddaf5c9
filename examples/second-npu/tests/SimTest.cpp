// The second NPU's simulator: encoding, values, timing, counters and its
// refusal of hostile programs, through the C driver interface.
#include "snpu/Isa.h"
#include "snpu/driver.h"

#include "ember/quant/Arith.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>
#include <string>
#include <vector>

using namespace snpu;

namespace {

struct Dev {
  snpu_device *d = nullptr;
  explicit Dev(uint64_t dram = 1 << 20, uint32_t bw = 32, uint32_t lat = 100) {
    snpu_config c;
    snpu_config_init(&c);
    c.dram_bytes = dram;
    c.dram_bytes_per_cycle = bw;
    c.dram_latency = lat;
    EXPECT_EQ(snpu_device_create(&c, &d), SNPU_OK);
  }
  ~Dev() { snpu_device_destroy(d); }
  snpu_status load(const std::vector<Insn> &p) {
    std::vector<uint8_t> w(p.size() * 16);
    for (size_t i = 0; i < p.size(); ++i) {
      Word x = encode(p[i]);
      std::memcpy(&w[16 * i], &x.lo, 8);
      std::memcpy(&w[16 * i + 8], &x.hi, 8);
    }
    return snpu_program_load(d, w.data(), p.size());
  }
  snpu_status run(const std::vector<Insn> &p) {
    snpu_status s = load(p);
    return s != SNPU_OK ? s : snpu_run(d);
  }
  snpu_counters counters() {
    snpu_counters c;
    c.struct_size = sizeof c;
    snpu_counters_read(d, &c);
    return c;
  }
  std::string error() { return snpu_last_error(d); }
};

Insn mk(Opcode op, uint32_t q) {
  Insn in;
  in.op = op;
  in.queue = q;
  return in;
}
Insn load(uint32_t q, uint64_t row, uint64_t dram, uint64_t y, uint64_t x,
          uint64_t stride, bool wide = false) {
  Insn in = mk(Opcode::LOAD, q);
  in.row = row, in.dram = dram, in.ysize = y, in.xsize = x, in.stride = stride;
  in.wide = wide;
  return in;
}
Insn store(uint32_t q, uint64_t row, uint64_t dram, uint64_t y, uint64_t x,
           uint64_t stride, bool wide = false) {
  Insn in = load(q, row, dram, y, x, stride, wide);
  in.op = Opcode::STORE;
  return in;
}
Insn end() { return mk(Opcode::END, DMA0); }
Insn sig(Insn in, uint32_t s) {
  in.signal = s;
  return in;
}
Insn wt(Insn in, uint32_t w) {
  in.wait = w;
  return in;
}

TEST(SnpuIsa, RandomWordsRoundTripThroughEncodeDecodeAndText) {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 2000; ++n) {
    Insn in;
    in.op = Opcode(rng() % kNumOpcodes);
    const uint32_t queues[] = {0, 1, 2, 3};
    in.queue = in.op == Opcode::MAC                              ? uint32_t(MAC)
               : in.op == Opcode::LOAD || in.op == Opcode::STORE ? rng() % 2
               : in.op == Opcode::REQ || in.op == Opcode::ADD ||
                       in.op == Opcode::MUL || in.op == Opcode::LUTLD
                   ? uint32_t(OUT)
                   : queues[rng() % 4];
    in.wait = uint32_t(rng() % (1u << kNumBarriers));
    in.signal = uint32_t(rng() % (1u << kNumBarriers));
    for (const Field &f : fieldsOf(in.op))
      in.*f.member = rng() & ((1ull << f.bits) - 1);
    Insn back;
    ASSERT_EQ(decode(encode(in), back), "") << format(in);
    EXPECT_EQ(format(back), format(in));
    Insn parsed;
    ASSERT_EQ(parse(format(in), parsed), "") << format(in);
    EXPECT_EQ(format(parsed), format(in));
    Word a = encode(in), b = encode(parsed);
    EXPECT_TRUE(a.lo == b.lo && a.hi == b.hi);
  }
}

TEST(SnpuIsa, MalformedWordsAreRefused) {
  Insn in;
  Word w;
  w.lo = 0xf; // opcode 15
  EXPECT_NE(decode(w, in).find("unknown opcode"), std::string::npos);
  w = encode(mk(Opcode::MAC, DMA0));
  EXPECT_NE(decode(w, in).find("cannot run on queue DMA0"), std::string::npos);
  w = encode(mk(Opcode::END, DMA0));
  w.hi = 1ull << 60;
  EXPECT_NE(decode(w, in).find("beyond its fields"), std::string::npos);
  EXPECT_NE(parse("LOAD q=DMA0 row=4096", in).find("12 bits"),
            std::string::npos);
  EXPECT_NE(parse("REQ q=OUT zp=-129", in).find("8 bits"), std::string::npos);
}

// A conv-like block: 10 pixel rows x 32 channels times a weight tile, then
// requantization with the table, clip and the LUT, checked element by
// element against the integer definition.
TEST(SnpuSim, MacRequantLutMatchTheIntegerDefinition) {
  std::mt19937 rng(3);
  Dev dev;
  const int P = 10;
  std::vector<int8_t> act(P * 32), w(32 * 32), lut(256);
  for (auto &v : act)
    v = int8_t(rng());
  for (auto &v : w)
    v = int8_t(rng());
  for (auto &v : lut)
    v = int8_t(rng());
  std::vector<int32_t> mult(32), shift(32), bias(32), table(3 * 32);
  for (int j = 0; j < 32; ++j) {
    auto m = ember::quant::quantizeMultiplier(0.0005 + 0.0001 * j);
    mult[j] = m.mult, shift[j] = m.shift,
    bias[j] = int32_t(rng() % 20000) - 10000;
    table[j] = mult[j], table[32 + j] = shift[j], table[64 + j] = bias[j];
  }
  snpu_dram_write(dev.d, 0, act.data(), act.size());
  snpu_dram_write(dev.d, 4096, w.data(), w.size());
  snpu_dram_write(dev.d, 8192, table.data(), table.size() * 4);
  snpu_dram_write(dev.d, 12288, lut.data(), lut.size());
  Insn mac = mk(Opcode::MAC, MAC);
  mac.acc = 200, mac.act = 0, mac.wgt = 100, mac.inner = 5, mac.outer = 2,
  mac.acts = 5, mac.accs = 5, mac.reset = 1;
  Insn req = mk(Opcode::REQ, OUT);
  req.dst = 300, req.src = 200, req.rows = P, req.param = 50, req.bias = 1;
  req.zp = uint64_t(-3) & 0xff, req.lo = uint64_t(-100) & 0xff, req.hi = 90;
  req.lut = 1;
  Insn lutld = mk(Opcode::LUTLD, OUT);
  lutld.src = 60;
  // Barrier 0: DMA0 -> MAC, 1: DMA1 -> MAC, 2: MAC -> OUT, 3: DMA1 -> OUT,
  // 4: OUT -> DMA0.
  std::vector<Insn> p = {sig(load(DMA0, 0, 0, 1, P, P), 1),
                         sig(load(DMA1, 100, 4096, 1, 32, 32), 2),
                         sig(load(DMA1, 50, 8192, 1, 3, 3, true), 8),
                         load(DMA1, 60, 12288, 1, 8, 8),
                         sig(load(DMA1, 61, 12288 + 256, 1, 0, 0), 8),
                         sig(wt(mac, 3), 4),
                         wt(lutld, 8),
                         sig(wt(req, 4), 16),
                         wt(store(DMA0, 300, 65536, 1, P, P), 16),
                         end()};
  // The table spans bytes 0..255 of rows 60 and 61: 8 rows of 32 bytes.
  p[3].ysize = 1, p[3].xsize = 1;
  p[3] = load(DMA1, 60, 12288, 1, 1, 1, true);
  p[4] = sig(load(DMA1, 61, 12288 + 128, 1, 1, 1, true), 8);
  p[2].signal = 0;
  ASSERT_EQ(dev.run(p), SNPU_OK) << dev.error();
  std::vector<int8_t> out(P * 32);
  snpu_dram_read(dev.d, 65536, out.data(), out.size());
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < 32; ++j) {
      int32_t s = 0;
      for (int k = 0; k < 32; ++k)
        s += int32_t(act[i * 32 + k]) * int32_t(w[k * 32 + j]);
      s = ember::quant::wrapAdd(s, bias[j]);
      int32_t v = ember::quant::clampTo(
          ember::quant::mbqm(s, mult[j], shift[j]) - 3, -100, 90);
      EXPECT_EQ(out[i * 32 + j], lut[uint8_t(int8_t(v))]) << i << "," << j;
    }
  snpu_counters c = dev.counters();
  EXPECT_EQ(c.array_macs, uint64_t(P) * 32 * 32);
  EXPECT_EQ(c.insns, p.size());
  EXPECT_EQ(c.store_bytes, uint64_t(P) * 32);
  EXPECT_GT(c.cycles, uint64_t(100));
}

// The quantized multiply: 6 rows of a times 6 rows of b, and a times one
// broadcast row of b (a per-channel factor), then the table; each element
// against the integer definition.
TEST(SnpuSim, MulMatchesTheIntegerDefinition) {
  std::mt19937 rng(5);
  Dev dev;
  const int P = 6;
  std::vector<int8_t> a(P * 32), b(P * 32), lut(256);
  for (auto &v : a)
    v = int8_t(rng());
  for (auto &v : b)
    v = int8_t(rng());
  for (auto &v : lut)
    v = int8_t(rng());
  snpu_dram_write(dev.d, 0, a.data(), a.size());
  snpu_dram_write(dev.d, 4096, b.data(), b.size());
  snpu_dram_write(dev.d, 8192, lut.data(), lut.size());
  const auto m = ember::quant::quantizeMultiplier(0.0123);
  const int32_t regs[][2] = {{R_MUL_A_ZP, 5},      {R_MUL_B_ZP, -7},
                             {R_MUL_MULT, m.mult}, {R_MUL_SHIFT, m.shift},
                             {R_MUL_OUT_ZP, -2},   {R_MUL_MIN, -120},
                             {R_MUL_MAX, 100}};
  std::vector<Insn> p = {load(DMA0, 0, 0, 1, P, P),
                         load(DMA0, 10, 4096, 1, P, P),
                         sig(load(DMA0, 20, 8192, 1, 2, 2, true), 1)};
  for (const auto &r : regs) {
    Insn s = mk(Opcode::SETREG, OUT);
    s.reg = uint64_t(r[0]), s.value = uint64_t(uint32_t(r[1]));
    p.push_back(s);
  }
  Insn lutld = mk(Opcode::LUTLD, OUT);
  lutld.src = 20;
  Insn mul = mk(Opcode::MUL, OUT);
  mul.dst = 40, mul.a = 0, mul.b = 10, mul.rows = P;
  Insn bc = mul;
  bc.dst = 40 + P, bc.b = 12, bc.bcast = 1, bc.lut = 1;
  p.push_back(wt(lutld, 1));
  p.push_back(mul);
  p.push_back(sig(bc, 2));
  p.push_back(wt(store(DMA0, 40, 65536, 1, 2 * P, 2 * P), 2));
  p.push_back(end());
  ASSERT_EQ(dev.run(p), SNPU_OK) << dev.error();
  std::vector<int8_t> out(2 * P * 32);
  snpu_dram_read(dev.d, 65536, out.data(), out.size());
  auto def = [&](int x, int y) {
    return ember::quant::clampTo(
        ember::quant::mbqm((x - 5) * (y + 7), m.mult, m.shift) - 2, -120, 100);
  };
  for (int i = 0; i < P; ++i)
    for (int j = 0; j < 32; ++j) {
      EXPECT_EQ(out[i * 32 + j], def(a[i * 32 + j], b[i * 32 + j]))
          << i << "," << j;
      EXPECT_EQ(out[(P + i) * 32 + j],
                lut[uint8_t(int8_t(def(a[i * 32 + j], b[2 * 32 + j])))])
          << i << "," << j;
    }
}

TEST(SnpuSim, PaddedLoadsFillThePadValue) {
  Dev dev;
  std::vector<int8_t> src(4 * 32, 5);
  snpu_dram_write(dev.d, 0, src.data(), src.size());
  Insn pad = mk(Opcode::SETREG, DMA0);
  pad.reg = R_PAD, pad.value = uint64_t(-7) & 0xffffffffu;
  Insn l = load(DMA0, 0, 0, 2, 2, 2);
  l.pt = 1, l.pb = 1, l.pl = 1, l.pr = 1;
  ASSERT_EQ(dev.run({pad, l, store(DMA0, 0, 4096, 1, 16, 16), end()}), SNPU_OK)
      << dev.error();
  std::vector<int8_t> out(16 * 32);
  snpu_dram_read(dev.d, 4096, out.data(), out.size());
  for (int r = 0; r < 16; ++r) {
    bool data = r / 4 >= 1 && r / 4 <= 2 && r % 4 >= 1 && r % 4 <= 2;
    EXPECT_EQ(out[r * 32], data ? 5 : -7) << r;
  }
}

TEST(SnpuSim, TwoDmaEnginesShareTheDramPort) {
  Dev a, b;
  // One 4 KiB load alone, then two on both engines at once: the second
  // waits for the port (bandwidth 32 B/cycle: 128 cycles each).
  ASSERT_EQ(a.run({load(DMA0, 0, 0, 1, 128, 128), end()}), SNPU_OK);
  ASSERT_EQ(b.run({load(DMA0, 0, 0, 1, 128, 128),
                   load(DMA1, 1000, 8192, 1, 128, 128), end()}),
            SNPU_OK);
  snpu_counters ca = a.counters(), cb = b.counters();
  EXPECT_EQ(ca.cycles, 8u + 100u + 128u);
  EXPECT_EQ(cb.cycles, ca.cycles + 128u);
  EXPECT_EQ(cb.dram_stall, 128u);
}

TEST(SnpuSim, WritePortConflictsLengthenInstructions) {
  Dev alone, both;
  Insn req = mk(Opcode::REQ, OUT);
  req.dst = 2000, req.src = 1000, req.rows = 1000, req.param = 3000;
  ASSERT_EQ(alone.run({req, end()}), SNPU_OK) << alone.error();
  // A load writing 1000 rows at the same time competes for the write port.
  ASSERT_EQ(both.run({load(DMA0, 0, 0, 1, 1000, 1000), req, end()}), SNPU_OK);
  EXPECT_EQ(alone.counters().port_stall, 0u);
  EXPECT_GT(both.counters().port_stall, 0u);
  EXPECT_EQ(alone.counters().cycles, 1004u);
}

TEST(SnpuSim, BarriersOrderTheQueues) {
  Dev dev;
  Insn mac = mk(Opcode::MAC, MAC);
  mac.inner = 100, mac.outer = 1, mac.acc = 500, mac.reset = 1;
  // The load waits for the array (barrier 5): it starts after it ends.
  ASSERT_EQ(dev.run({sig(mac, 32), wt(load(DMA0, 0, 0, 1, 1, 1), 32), end()}),
            SNPU_OK);
  snpu_span s[3];
  ASSERT_EQ(snpu_spans_read(dev.d, s, 3), 3u);
  EXPECT_EQ(s[0].end, 2u + 400u);
  EXPECT_EQ(s[1].start, s[0].end);
  EXPECT_EQ(dev.counters().stall[DMA0], s[0].end);
}

// Hostile programs: a clear error naming the instruction, never a crash
// or a hang.
TEST(SnpuSim, RefusesOutOfBoundsAddresses) {
  Dev dev(1 << 16);
  EXPECT_EQ(dev.run({load(DMA0, 0, 65536 - 64, 1, 4, 4), end()}),
            SNPU_OUT_OF_BOUNDS);
  EXPECT_NE(dev.error().find("instruction 0 (LOAD on DMA0): DRAM bytes"),
            std::string::npos)
      << dev.error();
  EXPECT_EQ(dev.run({store(DMA1, 4090, 0, 2, 4, 4), end()}),
            SNPU_OUT_OF_BOUNDS);
  EXPECT_NE(dev.error().find("SRAM rows [4090, 4098)"), std::string::npos)
      << dev.error();
  Insn mac = mk(Opcode::MAC, MAC);
  mac.act = 4000, mac.inner = 50, mac.outer = 3, mac.acts = 50;
  EXPECT_EQ(dev.run({mac, end()}), SNPU_OUT_OF_BOUNDS);
  EXPECT_NE(dev.error().find("activation rows"), std::string::npos);
  Insn req = mk(Opcode::REQ, OUT);
  req.param = 4094, req.bias = 1;
  EXPECT_EQ(dev.run({req, end()}), SNPU_OUT_OF_BOUNDS);
  EXPECT_NE(dev.error().find("table rows [4094, 4097)"), std::string::npos);
  // A stride that walks past the end of DRAM with a small first address.
  EXPECT_EQ(dev.run({load(DMA0, 0, 0, 4095, 1, 65535), end()}),
            SNPU_OUT_OF_BOUNDS);
  uint8_t x = 0;
  EXPECT_EQ(snpu_dram_write(dev.d, 65536, &x, 1), SNPU_OUT_OF_BOUNDS);
}

TEST(SnpuSim, RefusesAWaitThatCanNeverBeMet) {
  Dev dev;
  // Nothing signals barrier 3.
  EXPECT_EQ(dev.run({wt(load(DMA0, 0, 0, 1, 1, 1), 8), end()}), SNPU_DEADLOCK);
  EXPECT_NE(dev.error().find("instruction 0 (LOAD on DMA0) waits on barrier 3"),
            std::string::npos)
      << dev.error();
  // A cycle: DMA0 waits on the MAC, which waits on DMA0.
  Insn mac = mk(Opcode::MAC, MAC);
  EXPECT_EQ(dev.run({sig(wt(load(DMA0, 0, 0, 1, 1, 1), 1), 2),
                     sig(wt(mac, 2), 1), end()}),
            SNPU_DEADLOCK);
  EXPECT_NE(dev.error().find("deadlock"), std::string::npos);
  // One signal, two waits: the second can never be met.
  EXPECT_EQ(dev.run({sig(load(DMA0, 0, 0, 1, 1, 1), 1), wt(mac, 1), wt(mac, 1),
                     end()}),
            SNPU_DEADLOCK);
  EXPECT_NE(dev.error().find("instruction 2 (MAC on MAC)"), std::string::npos)
      << dev.error();
}

TEST(SnpuSim, RefusesMalformedProgramsAndOverflows) {
  Dev dev;
  std::vector<Insn> p(20, sig(load(DMA0, 0, 0, 1, 1, 1), 1));
  p.push_back(end());
  EXPECT_EQ(dev.run(p), SNPU_BARRIER_OVERFLOW);
  EXPECT_NE(dev.error().find("barrier 0 signalled beyond"), std::string::npos);
  EXPECT_EQ(dev.run({load(DMA0, 0, 0, 1, 1, 1)}), SNPU_BAD_PROGRAM);
  EXPECT_NE(dev.error().find("does not end with END"), std::string::npos);
  EXPECT_EQ(dev.run({end(), end()}), SNPU_BAD_PROGRAM);
  EXPECT_NE(dev.error().find("instruction 1: after END"), std::string::npos);
  uint8_t junk[32];
  std::memset(junk, 0xff, sizeof junk);
  EXPECT_EQ(snpu_program_load(dev.d, junk, 2), SNPU_BAD_PROGRAM);
  EXPECT_NE(dev.error().find("instruction 0"), std::string::npos);
  EXPECT_EQ(snpu_run(dev.d), SNPU_BAD_PROGRAM);
}

// Random words through the driver: every run ends in a status, no crash.
TEST(SnpuSim, RandomProgramsEndInAStatus) {
  std::mt19937_64 rng(11);
  Dev dev(1 << 16);
  std::set<int> seen;
  for (int n = 0; n < 300; ++n) {
    std::vector<Insn> p;
    for (int i = 0; i < 12; ++i) {
      Insn in;
      in.op = Opcode(1 + rng() % 7);
      in.queue = in.op == Opcode::MAC ? uint32_t(MAC)
                 : in.op == Opcode::LOAD || in.op == Opcode::STORE ? rng() % 2
                 : in.op == Opcode::SETREG                         ? rng() % 4
                                           : uint32_t(OUT);
      in.wait = uint32_t(rng() & rng() & 0xfff);
      in.signal = uint32_t(rng() & rng() & 0xfff);
      for (const Field &f : fieldsOf(in.op))
        in.*f.member = (rng() & ((1ull << f.bits) - 1)) >> (rng() % f.bits);
      p.push_back(in);
    }
    p.push_back(end());
    snpu_status s = dev.run(p);
    seen.insert(int(s));
    EXPECT_TRUE(s == SNPU_OK || !dev.error().empty());
  }
  EXPECT_GE(seen.size(), 2u);
}

} // namespace
