// The NPU compiler layer's dependency insertion (ember/accel/Sync.h): edges
// from operation accesses, pairing per channel, the depth limit, the
// validity check; with token FIFOs and with barriers.
#include "AccelTestUtil.h"

#include "ember/accel/Sync.h"

#include <gtest/gtest.h>

using namespace ember::accel;

namespace {

Op load(const Target &t, Cls c, int64_t row, int64_t dram, int64_t rows) {
  return loadOp(t, c, row, dram, 1, rows, rows);
}
Op gemm(const Target &t, int64_t acc, int64_t act, int64_t wgt, int64_t rows) {
  return gemmOp(t, false, acc, act, wgt, rows, 1);
}
uint32_t ch(const Target &t, int s, int d) { return 1u << syncBit(t, s, d); }

} // namespace

TEST(AccelSync, ReadAfterWriteAndWriteAfterRead) {
  const Target &t = testTarget("scratchpads");
  std::vector<Op> p;
  p.push_back(load(t, Cls::Act, 0, 0, 8));     // 0
  p.push_back(load(t, Cls::Wgt, 0, 4096, 16)); // 1
  p.push_back(gemm(t, 0, 0, 0, 8));            // 2: needs 0 and 1
  p.push_back(load(t, Cls::Act, 0, 8192, 8));  // 3: overwrites what 2 reads
  p.push_back(gemm(t, 0, 0, 0, 8));            // 4: needs 3
  p.push_back(finishOp());
  SyncStats st;
  ASSERT_EQ(assignSync(t, p, &st).message(), "");
  EXPECT_EQ(p[1].signal, ch(t, 0, 1)); // only the latest load is waited for
  EXPECT_EQ(p[0].signal, 0u);
  EXPECT_EQ(p[2].wait, ch(t, 0, 1));
  EXPECT_EQ(p[2].signal, ch(t, 1, 0));
  EXPECT_EQ(p[3].wait, ch(t, 1, 0));
  EXPECT_EQ(p[3].signal, ch(t, 0, 1));
  EXPECT_EQ(p[4].wait, ch(t, 0, 1));
  EXPECT_EQ(st.edges, 3u);
  EXPECT_EQ(checkSync(t, p).message(), "");
}

TEST(AccelSync, CheckFindsUnderflowAndOverflow) {
  const Target &t = testTarget("scratchpads");
  std::vector<Op> p(1);
  p[0] = gemm(t, 0, 0, 0, 1);
  p[0].wait = ch(t, 0, 1);
  EXPECT_NE(checkSync(t, p).message().find("nothing signalled"),
            std::string::npos);
  std::vector<Op> q;
  for (unsigned i = 0; i <= t.sync.depth; ++i) {
    q.push_back(load(t, Cls::Act, i, 0, 1));
    q.back().signal = ch(t, 0, 1);
  }
  EXPECT_NE(checkSync(t, q).message().find("beyond its depth"),
            std::string::npos);
}

// More loads into distinct regions than the channel holds, each read by
// its own GEMM of the previous step: the GEMM->load edges would exceed the
// depth, so they merge (an earlier load waits for a later GEMM) and the
// program stays valid. Both synchronization kinds.
TEST(AccelSync, MergesEdgesBeyondTheDepth) {
  for (const char *name : {"scratchpads", "second-npu"}) {
    const Target &t = testTarget(name);
    const int n = int(t.sync.depth) + 1;
    const int dmaA = t.engineFor(OpKind::Load, Cls::Act),
              mac = t.engineFor(OpKind::Gemm);
    std::vector<Op> p;
    for (int r = 0; r < n; ++r)
      p.push_back(load(t, Cls::Act, r * 8, r * 128, 8));
    p.push_back(load(t, Cls::Wgt, 2048, 8192, 16));
    for (int r = 0; r < n; ++r)
      p.push_back(gemm(t, 3000, r * 8, 2048, 8));
    for (int r = 0; r < n; ++r)
      p.push_back(load(t, Cls::Act, r * 8, 65536 + r * 128, 8));
    p.push_back(finishOp());
    SyncStats st;
    ASSERT_EQ(assignSync(t, p, &st).message(), "") << name;
    EXPECT_LE(st.maxDepth, size_t(t.sync.depth)) << name;
    EXPECT_EQ(checkSync(t, p).message(), "") << name;
    // Every second-round load still waits (directly or through an earlier
    // load of its engine) for the GEMM that read its region.
    int waited = 0;
    for (int r = 0; r < n; ++r)
      waited += (p[size_t(2 * n + 1 + r)].wait & ch(t, mac, dmaA)) != 0;
    EXPECT_GE(waited, 1) << name;
  }
}

// Barriers: one per ordered engine pair, named b<i> in the text; the
// operations of one unified memory are ordered by their rows.
TEST(AccelSync, BarriersOrderAUnifiedMemory) {
  const Target &t = testTarget("second-npu");
  ASSERT_EQ(t.sync.kind, SyncKind::Barriers);
  const int dma0 = t.engineFor(OpKind::Load, Cls::Act),
            dma1 = t.engineFor(OpKind::Load, Cls::Wgt),
            mac = t.engineFor(OpKind::Gemm);
  ASSERT_NE(dma0, dma1); // two DMA engines, by class
  std::vector<Op> p;
  p.push_back(load(t, Cls::Act, 0, 0, 4));       // DMA0
  p.push_back(load(t, Cls::Wgt, 100, 4096, 32)); // DMA1
  p.push_back(gemm(t, 200, 0, 100, 4));          // MAC: waits for both
  p.push_back(load(t, Cls::Act, 0, 512, 4));     // DMA0: after the GEMM
  p.push_back(finishOp());
  ASSERT_EQ(assignSync(t, p, nullptr).message(), "");
  EXPECT_EQ(p[2].wait, ch(t, dma0, mac) | ch(t, dma1, mac));
  EXPECT_EQ(p[3].wait, ch(t, mac, dma0));
  const std::string text = formatOp(t, p[2]);
  EXPECT_NE(text.find("wait=b"), std::string::npos) << text;
  Op back;
  ASSERT_EQ(parseOp(t, text, back).message(), "") << text;
  EXPECT_EQ(back.wait, p[2].wait);
}

// A load over part of rows another load wrote: the rows it leaves keep
// their writer. A GEMM reading those rows waits for the first load (not the
// second, which never wrote them); one reading the rows both wrote waits for
// the second.
TEST(AccelSync, APartialOverwriteKeepsTheRestsWriter) {
  const Target &t = testTarget("scratchpads");
  const int dmaA = t.engineFor(OpKind::Load, Cls::Act),
            mac = t.engineFor(OpKind::Gemm);
  const uint32_t a = ch(t, dmaA, mac);
  std::vector<Op> p;
  p.push_back(load(t, Cls::Wgt, 512, 8192, 16)); // 0
  p.push_back(load(t, Cls::Act, 0, 0, 16));      // 1: rows 0 to 15
  p.push_back(load(t, Cls::Act, 0, 4096, 4));    // 2: rows 0 to 3 again
  p.push_back(gemm(t, 100, 8, 512, 8));          // 3: reads rows 8 to 15
  p.push_back(gemm(t, 200, 0, 512, 4));          // 4: reads rows 0 to 3
  p.push_back(finishOp());
  ASSERT_EQ(assignSync(t, p, nullptr).message(), "");
  EXPECT_EQ(p[1].signal & a, a);
  EXPECT_EQ(p[3].wait & a, a);
  EXPECT_EQ(p[2].signal & a, a);
  EXPECT_EQ(p[4].wait & a, a);
  EXPECT_EQ(checkSync(t, p).message(), "");
}

// A requantization with bias reads its table's third row: the load of that
// row alone (the multiplier and shift rows loaded before) is waited for.
TEST(AccelSync, RequantWithBiasReadsTheBiasRow) {
  const Target &t = testTarget("scratchpads");
  const int dmaP = t.engineFor(OpKind::Load, Cls::Param),
            rq = t.engineFor(OpKind::Requant);
  std::vector<Op> p;
  p.push_back(load(t, Cls::Param, 100, 0, 2));  // 0: multiplier and shift
  p.push_back(load(t, Cls::Param, 102, 64, 1)); // 1: the bias row
  p.push_back(requantOp(t, 0, 0, 8, 100, 0, -128, 127, true)); // 2
  p.push_back(finishOp());
  ASSERT_EQ(assignSync(t, p, nullptr).message(), "");
  EXPECT_EQ(p[2].wait, ch(t, dmaP, rq));
  EXPECT_EQ(p[1].signal, ch(t, dmaP, rq)); // the last load it needs
  EXPECT_EQ(p[0].signal, 0u);
  EXPECT_EQ(checkSync(t, p).message(), "");
}

namespace {

// The most signals outstanding on a barrier when every engine but the one
// that waits on it runs as far ahead as its waits allow (a counting barrier
// does not hold back its signaller).
int runAheadDepth(const Target &t, const std::vector<Op> &p, int bit) {
  int consumer = -1;
  const int ne = int(t.engines.size());
  for (int x = 0; x < ne; ++x)
    for (int y = 0; y < ne; ++y)
      if (syncBit(t, x, y) == bit)
        consumer = y;
  std::vector<std::vector<size_t>> queue(static_cast<size_t>(ne));
  for (size_t i = 0; i < p.size(); ++i)
    if (p[i].engine >= 0 && p[i].kind != OpKind::Finish &&
        p[i].kind != OpKind::SetReg)
      queue[size_t(p[i].engine)].push_back(i);
  std::vector<size_t> head(size_t(ne), 0);
  std::array<int, 32> count{};
  int most = 0;
  for (;;) {
    int pick = -1;
    for (int pass = 0; pass < 2 && pick < 0; ++pass)
      for (int e = 0; e < ne && pick < 0; ++e) {
        if ((pass == 0) == (e == consumer) ||
            head[size_t(e)] >= queue[size_t(e)].size())
          continue;
        const Op &in = p[queue[size_t(e)][head[size_t(e)]]];
        bool ready = true;
        for (int b = 0; b < 32; ++b)
          ready = ready && (!((in.wait >> b) & 1u) || count[size_t(b)] > 0);
        if (ready)
          pick = e;
      }
    if (pick < 0)
      break;
    const Op &in = p[queue[size_t(pick)][head[size_t(pick)]++]];
    for (int b = 0; b < 32; ++b) {
      count[size_t(b)] -= int((in.wait >> b) & 1u);
      count[size_t(b)] += int((in.signal >> b) & 1u);
    }
    most = std::max(most, count[size_t(bit)]);
  }
  for (int e = 0; e < ne; ++e)
    EXPECT_EQ(head[size_t(e)], queue[size_t(e)].size()) << "deadlock";
  return most;
}

} // namespace

// A long chain with barriers: many loads into distinct rows, each read by
// one GEMM, and nothing that makes the loads wait for the GEMMs. In program
// order the load->MAC barrier never holds more than one signal, but the DMA
// engine may run every load before the first GEMM: dependency insertion
// orders the loads after the GEMMs depth signals back, so no concurrent
// execution passes the counter (the second NPU's simulator stops with
// "signalled beyond its counter's 15" otherwise), and checkSync finds a
// program that lacks those waits.
TEST(AccelSync, BarriersHoldTheirDepthWhenEnginesRunAhead) {
  const Target &t = testTarget("second-npu");
  ASSERT_EQ(t.sync.kind, SyncKind::Barriers);
  const int dma0 = t.engineFor(OpKind::Load, Cls::Act),
            mac = t.engineFor(OpKind::Gemm);
  const int n = 4 * int(t.sync.depth) + 3;
  std::vector<Op> p;
  p.push_back(load(t, Cls::Wgt, 3000, 1 << 20, 32));
  for (int r = 0; r < n; ++r) {
    p.push_back(load(t, Cls::Act, r * 4, r * 512, 4));
    p.push_back(gemm(t, 2000 + r * 4, r * 4, 3000, 4));
  }
  p.push_back(finishOp());
  ASSERT_EQ(assignSync(t, p, nullptr).message(), "");
  EXPECT_EQ(checkSync(t, p).message(), "");
  EXPECT_LE(runAheadDepth(t, p, syncBit(t, dma0, mac)), int(t.sync.depth));
  EXPECT_LE(runAheadDepth(t, p, syncBit(t, mac, dma0)), int(t.sync.depth));
  // Without the waits that hold the loads back, the check refuses it.
  std::vector<Op> q = p;
  for (Op &in : q)
    if (in.engine == dma0)
      in.wait &= ~(1u << syncBit(t, mac, dma0));
  for (Op &in : q)
    if (in.engine == mac)
      in.signal &= ~(1u << syncBit(t, mac, dma0));
  EXPECT_GT(runAheadDepth(t, q, syncBit(t, dma0, mac)), int(t.sync.depth));
  EXPECT_NE(checkSync(t, q).message().find("beyond its depth"),
            std::string::npos)
      << checkSync(t, q).message();
}
