// The SDK's scratchpad library (core/scratchpad): interval placement, tile
// planning to space budgets, and double-buffered schedules.
#include "ember/scratchpad/IntervalPlanner.h"
#include "ember/scratchpad/TilePlanner.h"

#include <algorithm>

#include <gtest/gtest.h>

#include <random>

using namespace ember::scratchpad;

namespace {

// No two intervals whose lifetimes overlap share bytes; offsets aligned.
void checkPlacement(const std::vector<Interval> &v, const Placement &p,
                    uint64_t align) {
  ASSERT_EQ(p.offsets.size(), v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    EXPECT_EQ(p.offsets[i] % align, 0u);
    uint64_t si = (v[i].size + align - 1) / align * align;
    EXPECT_LE(p.offsets[i] + si, p.peak);
    for (size_t j = i + 1; j < v.size(); ++j) {
      if (v[i].end < v[j].begin || v[j].end < v[i].begin)
        continue;
      uint64_t sj = (v[j].size + align - 1) / align * align;
      bool disjoint = p.offsets[i] + si <= p.offsets[j] ||
                      p.offsets[j] + sj <= p.offsets[i];
      EXPECT_TRUE(disjoint) << "intervals " << i << " and " << j;
    }
  }
  EXPECT_GE(p.peak, p.lowerBound);
  EXPECT_LE(p.peak, p.noReuse);
}

} // namespace

TEST(Scratchpad, IntervalsChainReusesMemory) {
  // A chain: each buffer lives from its producer to its consumer.
  std::vector<Interval> v;
  for (int i = 0; i < 10; ++i)
    v.push_back({uint64_t(100 + 10 * i), i, i + 1});
  Placement p = placeIntervals(v, 64);
  checkPlacement(v, p, 64);
  EXPECT_EQ(p.peak, p.lowerBound);
  EXPECT_LT(p.peak, p.noReuse);
  EXPECT_EQ(p.tried.size(), 6u);
}

TEST(Scratchpad, IntervalsRandomAreValid) {
  std::mt19937 rng(7);
  for (int round = 0; round < 50; ++round) {
    std::vector<Interval> v;
    int n = 1 + int(rng() % 40);
    for (int i = 0; i < n; ++i) {
      int64_t b = rng() % 50;
      v.push_back({1 + rng() % 5000, b, b + int64_t(rng() % 20)});
    }
    uint64_t align = uint64_t(1) << (rng() % 7);
    checkPlacement(v, placeIntervals(v, align), align);
  }
  Placement empty = placeIntervals({}, 64);
  EXPECT_EQ(empty.peak, 0u);
  EXPECT_TRUE(empty.offsets.empty());
}

namespace {

// C[M,N] = A[M,K] @ B[K,N] in elements of one byte; A and C rows in one
// space of `cap` bytes, B in another.
Problem matmul(int64_t M, int64_t K, int64_t N, uint64_t capA, uint64_t capB) {
  Problem p;
  p.spaces = {{"act", capA}, {"wgt", capB}};
  p.dims = {{"m", M, false, {}}, {"n", N, false, {}}, {"k", K, true, {}}};
  Operand a{"A",
            0,
            Role::Input,
            {0, 2},
            [](const std::vector<int64_t> &t) { return uint64_t(t[0] * t[2]); },
            [](const std::vector<int64_t> &t) { return uint64_t(t[0] * t[2]); },
            nullptr};
  Operand b{"B",
            1,
            Role::Input,
            {2, 1},
            [](const std::vector<int64_t> &t) { return uint64_t(t[2] * t[1]); },
            [](const std::vector<int64_t> &t) { return uint64_t(t[2] * t[1]); },
            nullptr};
  Operand c{"C",
            0,
            Role::Output,
            {0, 1},
            [](const std::vector<int64_t> &t) { return uint64_t(t[0] * t[1]); },
            [](const std::vector<int64_t> &t) { return uint64_t(t[0] * t[1]); },
            nullptr};
  p.operands = {a, b, c};
  p.greedyDim = 0;
  return p;
}

} // namespace

TEST(Scratchpad, EverythingFitsIsOneTile) {
  Problem p = matmul(16, 32, 8, 4096, 4096);
  PlanResult r = planTiles(p);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.tiling.steps, 1u);
  EXPECT_EQ(r.tiling.tile, (std::vector<int64_t>{16, 8, 32}));
  for (unsigned s : r.tiling.slots)
    EXPECT_EQ(s, 1u);
  EXPECT_EQ(r.tiling.dmaBytes, uint64_t(16 * 32 + 32 * 8 + 16 * 8));
}

TEST(Scratchpad, TilesFitDoubleBuffered) {
  Problem p = matmul(512, 256, 256, 16384, 16384);
  PlanResult r = planTiles(p);
  ASSERT_TRUE(r.ok) << r.error;
  const Tiling &t = r.tiling;
  EXPECT_GT(t.steps, 1u);
  for (size_t s = 0; s < p.spaces.size(); ++s)
    EXPECT_LE(t.used[s], p.spaces[s].capacity);
  // The reduction dim is innermost.
  EXPECT_EQ(t.order.back(), 2u);
  // No tiling that fits moves fewer bytes (exhaustive check).
  for (int64_t m = 1; m <= 512; m *= 2)
    for (int64_t n = 1; n <= 256; n *= 2)
      for (int64_t k = 1; k <= 256; k *= 2)
        for (auto order :
             {std::vector<size_t>{0, 1, 2}, std::vector<size_t>{1, 0, 2}}) {
          Tiling x;
          x.tile = {m, n, k};
          x.order = order;
          if (evaluate(p, {}, x)) {
            EXPECT_GE(x.dmaBytes, t.dmaBytes)
                << "m " << m << " n " << n << " k " << k;
          }
        }
  // The schedule: blocks alternate between two slots and every block of C
  // ends exactly once.
  std::vector<Step> steps = schedule(p, t);
  ASSERT_EQ(steps.size(), t.steps);
  uint64_t cEnds = 0, aBegins = 0;
  unsigned lastSlot = 99;
  for (const Step &s : steps) {
    cEnds += s.operands[2].ends;
    if (s.operands[0].begins) {
      ++aBegins;
      if (t.slots[0] == 2) {
        EXPECT_NE(s.operands[0].slot, lastSlot);
      }
      lastSlot = s.operands[0].slot;
    }
  }
  EXPECT_EQ(cEnds, uint64_t(t.count[0] * t.count[1]));
  EXPECT_EQ(aBegins, t.blocks[0]);
}

TEST(Scratchpad, SingleBufferFallbackFreesTheLargestOperandFirst) {
  // Two inputs over 8 units in a 100-row space, 10 and 4 rows per unit.
  // Tile 4 (two blocks) double-buffered needs 80 + 32 rows: it does not fit,
  // but with the fallback the larger input takes one slot (40 + 32 = 72);
  // tile 6 needs both single-buffered (60 + 24). Without the fallback
  // neither fits.
  Problem p;
  p.spaces = {{"buf", 100}};
  p.dims = {{"r", 8, false, {}}};
  Operand a;
  a.name = "a";
  a.dims = {0};
  a.footprint = [](const std::vector<int64_t> &t) {
    return uint64_t(10 * t[0]);
  };
  Operand b = a;
  b.name = "b";
  b.footprint = [](const std::vector<int64_t> &t) {
    return uint64_t(4 * t[0]);
  };
  p.operands = {a, b};
  Tiling t;
  t.tile = {4};
  t.order = {0};
  EXPECT_FALSE(evaluate(p, {}, t));
  p.singleBufferFallback = true;
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(t.slots, (std::vector<unsigned>{1, 2}));
  EXPECT_EQ(t.used[0], 72u);
  t.tile = {6};
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(t.slots, (std::vector<unsigned>{1, 1}));
  t.tile = {7}; // 70 + 28 single-buffered: fits; 8 is one block (80 + 32)
  EXPECT_TRUE(evaluate(p, {}, t));
  t.tile = {8};
  EXPECT_FALSE(evaluate(p, {}, t));
}

TEST(Scratchpad, NothingFitsNamesTheSpaces) {
  Problem p = matmul(64, 64, 64, 3, 4096);
  PlanResult r = planTiles(p);
  ASSERT_FALSE(r.ok);
  EXPECT_NE(r.error.find("of act (capacity 3)"), std::string::npos) << r.error;
}

TEST(Scratchpad, CostModelDecides) {
  // A cost that prefers the fewest steps picks the largest tiles.
  Problem p = matmul(256, 64, 64, 8192, 8192);
  PlanOptions o;
  o.cost = [](const Problem &, const Tiling &t) { return double(t.steps); };
  PlanResult r = planTiles(p, o);
  ASSERT_TRUE(r.ok);
  PlanResult d = planTiles(p);
  ASSERT_TRUE(d.ok);
  EXPECT_LE(r.tiling.steps, d.tiling.steps);
}

TEST(Scratchpad, OutsideRestrictsTheLoopOrders) {
  // A cost that wants n's loop outside m's: without a constraint the best
  // tiling has both dims in several tiles, n outermost.
  Problem p = matmul(512, 256, 256, 16384, 16384);
  PlanOptions o;
  o.keep = 1000; // every tiling scored
  auto at = [](const Tiling &t, size_t d) {
    return std::find(t.order.begin(), t.order.end(), d) - t.order.begin();
  };
  o.cost = [at](const Problem &, const Tiling &t) {
    const bool nOut = t.count[0] > 1 && t.count[1] > 1 && at(t, 1) < at(t, 0);
    return (nOut ? 0.0 : 1e9) + double(t.dmaBytes);
  };
  PlanResult free = planTiles(p, o);
  ASSERT_TRUE(free.ok) << free.error;
  ASSERT_GT(free.tiling.count[0], 1);
  ASSERT_GT(free.tiling.count[1], 1);
  EXPECT_LT(at(free.tiling, 1), at(free.tiling, 0));
  Problem q = p;
  q.outside = {{0, 1}};
  EXPECT_FALSE(keepsOrder(q, free.tiling));
  // m outside n: no tiling scored (the best nor any kept) has n's loop
  // outside m's while both have more than one tile.
  p.outside = {{0, 1}};
  PlanResult r = planTiles(p, o);
  ASSERT_TRUE(r.ok) << r.error;
  ASSERT_FALSE(r.ranked.empty());
  size_t both = 0;
  for (const Tiling &t : r.ranked) {
    EXPECT_TRUE(keepsOrder(p, t));
    if (t.count[0] > 1 && t.count[1] > 1) {
      ++both;
      EXPECT_LT(at(t, 0), at(t, 1));
    }
  }
  EXPECT_GT(both, 0u); // (the constraint had something to restrict)
  EXPECT_GE(r.tiling.cost, 1e9);
  // A dim of one tile is no loop: its place is free.
  Tiling one;
  one.tile = {512, 16, 16};
  one.order = {1, 0, 2};
  EXPECT_TRUE(keepsOrder(p, one));
  one.tile = {16, 16, 16};
  EXPECT_FALSE(keepsOrder(p, one));
  // Constraints that only a single-tile m or n keeps, in a space where
  // neither fits whole: no tiling, and the error names the constraints.
  Problem tight = matmul(512, 256, 256, 300, 16384);
  ASSERT_TRUE(planTiles(tight).ok);
  tight.outside = {{0, 1}, {1, 0}};
  PlanResult none = planTiles(tight);
  EXPECT_FALSE(none.ok);
  EXPECT_NE(none.error.find("Problem::outside"), std::string::npos)
      << none.error;
}

namespace {

// One input streamed in `n` blocks of `bytes` each, `compute` cycles a
// block on one engine; no latency, so the pipeline is exact.
Problem stream(int64_t n, uint64_t bytes, uint64_t compute) {
  Problem p;
  p.spaces = {{"buf", 0}};
  p.dims = {{"i", n, false, {1}}};
  Operand in;
  in.name = "in";
  in.dims = {0};
  in.footprint = [](const std::vector<int64_t> &) { return uint64_t(1); };
  in.bytes = [bytes](const std::vector<int64_t> &) { return bytes; };
  p.operands = {in};
  p.compute = [compute](const Tiling &, const std::vector<int64_t> &,
                        const std::vector<int64_t> &,
                        const std::vector<StepOperand> &) {
    return std::vector<uint64_t>{compute};
  };
  return p;
}

} // namespace

TEST(Scratchpad, PredictCyclesOverlapsLoadsWithCompute) {
  Machine m;
  m.bytesPerCycle = 16;
  m.latencyCycles = 0;
  m.transferOverhead = 0;
  Tiling t;
  // Compute-bound: the first load, then 4 computes back to back.
  Problem p = stream(4, 1600, 200);
  t.tile = {1};
  t.order = {0};
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(t.slots[0], 2u);
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 100 + 4 * 200);
  // DMA-bound: 4 loads back to back, then the last compute.
  p = stream(4, 4800, 100);
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 4 * 300 + 100);
  // Latency and issue overhead per transfer; rows bound a transfer too.
  m.latencyCycles = 60;
  m.transferOverhead = 4;
  p.operands[0].rows = [](const std::vector<int64_t> &) {
    return uint64_t(500);
  };
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 4 * (64 + 500) + 100);
  // Single-buffered (one slot): a load waits for the compute before it.
  p = stream(3, 1600, 200);
  m.latencyCycles = 0;
  m.transferOverhead = 0;
  PlanOptions single;
  single.doubleBuffer = false;
  ASSERT_TRUE(evaluate(p, single, t));
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 3 * (100 + 200));
}

TEST(Scratchpad, CycleCostPrefersPipelinedTiles) {
  // One block of everything leaves nothing to overlap; a cycle cost with
  // alternatives to the largest tile splits it so loads hide behind compute.
  Problem p;
  p.spaces = {{"buf", 1000}};
  p.dims = {{"i", 64, false, {}}};
  Operand in;
  in.name = "in";
  in.dims = {0};
  in.footprint = [](const std::vector<int64_t> &t) { return uint64_t(t[0]); };
  in.bytes = [](const std::vector<int64_t> &t) { return uint64_t(t[0] * 16); };
  p.operands = {in};
  p.compute = [](const Tiling &, const std::vector<int64_t> &,
                 const std::vector<int64_t> &t,
                 const std::vector<StepOperand> &) {
    return std::vector<uint64_t>{uint64_t(t[0] * 4)};
  };
  p.greedyDim = 0;
  Machine m;
  m.latencyCycles = 10;
  m.transferOverhead = 0;
  PlanResult bytes = planTiles(p);
  ASSERT_TRUE(bytes.ok);
  EXPECT_EQ(bytes.tiling.tile[0], 64);
  PlanOptions o;
  o.cost = cycleCost(m);
  o.greedyAlternatives = 40;
  PlanResult cyc = planTiles(p, o);
  ASSERT_TRUE(cyc.ok);
  EXPECT_LT(cyc.tiling.tile[0], 64);
  EXPECT_LT(predictCycles(p, cyc.tiling, m).cycles,
            predictCycles(p, bytes.tiling, m).cycles);
}

TEST(Scratchpad, KeepsTheNBestWithExactCosts) {
  // The same problem as above: keep = 5 gives five distinct tilings, best
  // first, each with its exact predicted cycles (not a pruned lower bound),
  // the first the one keep = 1 picks.
  Problem p;
  p.spaces = {{"buf", 1000}};
  p.dims = {{"i", 64, false, {}}};
  Operand in;
  in.name = "in";
  in.dims = {0};
  in.footprint = [](const std::vector<int64_t> &t) { return uint64_t(t[0]); };
  in.bytes = [](const std::vector<int64_t> &t) { return uint64_t(t[0] * 16); };
  p.operands = {in};
  p.compute = [](const Tiling &, const std::vector<int64_t> &,
                 const std::vector<int64_t> &t,
                 const std::vector<StepOperand> &) {
    return std::vector<uint64_t>{uint64_t(t[0] * 4)};
  };
  p.greedyDim = 0;
  Machine m;
  m.latencyCycles = 10;
  m.transferOverhead = 0;
  PlanOptions one;
  one.cost = cycleCost(m);
  one.greedyAlternatives = 40;
  PlanResult best = planTiles(p, one);
  ASSERT_TRUE(best.ok);
  ASSERT_EQ(best.ranked.size(), 1u);
  PlanOptions five = one;
  five.cost = cycleCost(m, 5);
  five.keep = 5;
  PlanResult r = planTiles(p, five);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.ranked.size(), 5u);
  EXPECT_EQ(r.ranked[0].tile, best.tiling.tile);
  EXPECT_EQ(r.tiling.tile, best.tiling.tile);
  for (size_t i = 0; i < r.ranked.size(); ++i) {
    double exact = predictCycles(p, r.ranked[i], m).cycles;
    EXPECT_NEAR(r.ranked[i].cost, exact, 1e-3) << "candidate " << i;
    if (i) {
      EXPECT_LE(r.ranked[i - 1].cost, r.ranked[i].cost);
      EXPECT_NE(r.ranked[i - 1].tile, r.ranked[i].tile);
    }
  }
}

// A matmul in a small space with a cycle cost: many tilings fit, most of
// them of many small steps (a small memory's search).
Problem smallMemoryMatmul(int64_t M, int64_t N) {
  Problem p = matmul(M, 64, N, 96, 96);
  p.compute = [](const Tiling &, const std::vector<int64_t> &,
                 const std::vector<int64_t> &t,
                 const std::vector<StepOperand> &) {
    return std::vector<uint64_t>{uint64_t(t[0] * t[1] * t[2] / 8 + 2)};
  };
  return p;
}

TEST(Scratchpad, StepBudgetBoundsTheCostModelsWork) {
  // The cost is asked about tilings whose steps add up to at most the
  // budget (plus the first, always scored), fewest steps first; the rest
  // are left, counted.
  Problem p = smallMemoryMatmul(64, 64);
  Machine m;
  uint64_t asked = 0, stepsAsked = 0, most = 0;
  CostFn model = cycleCost(m);
  PlanOptions o;
  o.greedyAlternatives = 8;
  o.cost = [&](const Problem &q, const Tiling &t) {
    ++asked;
    stepsAsked += t.steps;
    EXPECT_GE(t.steps, most) << "scored fewest steps first";
    most = t.steps;
    return model(q, t);
  };
  o.stepBudget = 0; // no limit: every tiling that fits
  PlanResult all = planTiles(p, o);
  ASSERT_TRUE(all.ok) << all.error;
  EXPECT_EQ(all.unscored, 0u);
  EXPECT_EQ(all.scored, asked);
  const uint64_t allSteps = stepsAsked;
  ASSERT_GT(allSteps, 2000u) << "the problem no longer needs a budget";
  asked = stepsAsked = most = 0;
  model = cycleCost(m);
  o.stepBudget = allSteps / 10;
  PlanResult cut = planTiles(p, o);
  ASSERT_TRUE(cut.ok) << cut.error;
  EXPECT_LE(stepsAsked, o.stepBudget);
  EXPECT_EQ(cut.stepsScored, stepsAsked);
  EXPECT_EQ(cut.scored, asked);
  EXPECT_GT(cut.unscored, 0u);
  EXPECT_EQ(cut.scored + cut.unscored, all.scored);
  // Deterministic: the same search again gives the same tiling.
  model = cycleCost(m);
  most = 0;
  PlanResult again = planTiles(p, o);
  EXPECT_EQ(again.tiling.tile, cut.tiling.tile);
  EXPECT_EQ(again.tiling.order, cut.tiling.order);
}

TEST(Scratchpad, PrunedWalksChooseAsExactCosts) {
  // Scored fewest steps first, the cycle cost's pruned walks (a lower bound
  // once a tiling cannot be among the `keep` best) choose the tilings that
  // exact costs of every fitting tiling choose, in the same order, for
  // keep 1 and 4.
  Problem p = smallMemoryMatmul(32, 32);
  Machine m;
  for (unsigned keep : {1u, 4u}) {
    PlanOptions o;
    o.greedyAlternatives = 8;
    o.keep = keep;
    o.cost = cycleCost(m, keep);
    o.stepBudget = 0;
    PlanResult r = planTiles(p, o);
    ASSERT_TRUE(r.ok) << r.error;
    PlanOptions exact = o;
    exact.cost = [&](const Problem &q, const Tiling &t) {
      return predictCycles(q, t, m).cycles + double(t.dmaBytes) * 1e-9;
    };
    PlanResult e = planTiles(p, exact);
    ASSERT_EQ(r.ranked.size(), e.ranked.size());
    for (size_t i = 0; i < r.ranked.size(); ++i) {
      EXPECT_EQ(r.ranked[i].tile, e.ranked[i].tile) << "keep " << keep;
      EXPECT_EQ(r.ranked[i].order, e.ranked[i].order) << "keep " << keep;
    }
  }
}

// One step: a 1600-byte load "a" read by engine 0, a 3200-byte load "b"
// read by engine 1 (issued second), engine 0 computes 50, engine 1 computes
// 10; 16 bytes a cycle, no latency or overhead.
struct TwoEngines {
  Problem p;
  Machine m;
  Tiling t;
  TwoEngines() {
    p.spaces = {{"buf", 0}};
    p.dims = {{"i", 1, false, {1}}};
    auto input = [](const char *name, uint64_t bytes, size_t reader) {
      Operand o;
      o.name = name;
      o.dims = {0};
      o.footprint = [](const std::vector<int64_t> &) { return uint64_t(1); };
      o.bytes = [bytes](const std::vector<int64_t> &) { return bytes; };
      o.engine = reader;
      return o;
    };
    p.operands = {input("a", 1600, 0), input("b", 3200, 1)};
    p.compute = [](const Tiling &, const std::vector<int64_t> &,
                   const std::vector<int64_t> &,
                   const std::vector<StepOperand> &) {
      return std::vector<uint64_t>{50, 10};
    };
    m.bytesPerCycle = 16;
    m.latencyCycles = 0;
    m.transferOverhead = 0;
    t.tile = {1};
    t.order = {0};
  }
};

TEST(Scratchpad, EnginesWaitOnlyForTheLoadsTheyRead) {
  TwoEngines e;
  auto &[p, m, t] = e;
  ASSERT_TRUE(evaluate(p, {}, t));
  // a: 0-100, b: 100-300; engine 0 runs 100-150 (not after b), engine 1
  // 300-310.
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 310);
  // b issued first: a ends at 300, engine 0 runs 300-350, engine 1 after it
  // (the engines are a pipeline) 350-360.
  p.loadOrder = {1, 0};
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 360);
  // Engine 1 frees b's slot but engine 0 reads it (a bias under
  // accumulation): engine 0 waits for both loads.
  p.loadOrder = {};
  p.operands[1].reader = 0;
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 300 + 50 + 10);
}

TEST(Scratchpad, FirstStepTakesItsOwnLoadOrder) {
  // TwoEngines; firstLoadOrder puts b first on the first (here the
  // only) step, as loadOrder {1, 0} does; loadOrder stays for the others.
  TwoEngines e;
  auto &[p, m, t] = e;
  ASSERT_TRUE(evaluate(p, {}, t));
  // One step: a 0-100, b 100-300; engine 0 100-150, engine 1 300-310.
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 310);
  p.firstLoadOrder = {1, 0}; // b 0-200, a 200-300, engine 0 300-350, 1 -360
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 360);
  p.firstLoadOrder = {0, 1};
  p.loadOrder = {1, 0}; // the first step's own order wins
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 310);
}

TEST(Scratchpad, LoadsAndStoresShareTheChannel) {
  // Two steps, each loading 1600 bytes and storing 1600 (100 channel cycles
  // each at 16 B/cycle); step 0 computes 10 cycles, step 1 1000. Step 0's
  // store (110-210) is on the channel when step 1's load (from 100) moves
  // its bytes: the load ends at 300, not 200, and the layer at 1400, not
  // 1300 (the total bytes alone, 400 cycles, do not show it).
  Problem p;
  p.spaces = {{"buf", 0}};
  p.dims = {{"i", 2, false, {1}}};
  auto operand = [](const char *name, Role role) {
    Operand o;
    o.name = name;
    o.role = role;
    o.dims = {0};
    o.footprint = [](const std::vector<int64_t> &) { return uint64_t(1); };
    o.bytes = [](const std::vector<int64_t> &) { return uint64_t(1600); };
    return o;
  };
  p.operands = {operand("in", Role::Input), operand("out", Role::Output)};
  p.compute = [](const Tiling &, const std::vector<int64_t> &idx,
                 const std::vector<int64_t> &,
                 const std::vector<StepOperand> &) {
    return std::vector<uint64_t>{idx[0] == 0 ? 10u : 1000u};
  };
  Machine m;
  m.bytesPerCycle = 16;
  m.latencyCycles = 0;
  m.transferOverhead = 0;
  Tiling t;
  t.tile = {1};
  t.order = {0};
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 300 + 1000 + 100);
}

TEST(Scratchpad, FillInPieces) {
  // One step over 4 input tiles (100 channel cycles in all) and 400 compute
  // cycles: in 4 pieces the compute of piece g starts when it has arrived,
  // so the step ends at max_g(25 (g + 1) + 100 (4 - g)) = 425, not 500.
  Problem p;
  p.spaces = {{"buf", 0}};
  p.dims = {{"r", 4, true, {4}}};
  Operand in;
  in.name = "in";
  in.dims = {0};
  in.footprint = [](const std::vector<int64_t> &t) { return uint64_t(t[0]); };
  in.bytes = [](const std::vector<int64_t> &t) { return uint64_t(400 * t[0]); };
  p.operands = {in};
  uint64_t compute = 400;
  p.compute = [&compute](const Tiling &, const std::vector<int64_t> &,
                         const std::vector<int64_t> &,
                         const std::vector<StepOperand> &) {
    return std::vector<uint64_t>{compute};
  };
  Machine m;
  m.bytesPerCycle = 16;
  m.latencyCycles = 0;
  m.transferOverhead = 0;
  Tiling t;
  t.tile = {4};
  t.order = {0};
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(fillPieceCount(p, t, m), 1u); // no fillDim: whole blocks
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 500);
  p.fillDim = 0;
  p.fillPieces = 4;
  EXPECT_EQ(fillPieceCount(p, t, m), 4u);
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 425);
  // Each piece pays a DMA latency: with little compute to overlap, one
  // piece is faster (64 + 100 + 40 = 204; two: max(114 + 40, 228 + 20)).
  m.latencyCycles = 60;
  m.transferOverhead = 4;
  compute = 40;
  EXPECT_EQ(fillPieceCount(p, t, m), 1u);
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 204);
}

// An input copied on chip (Operand::onChip, no transfers: a MOVE) of 80
// rows per tile of its one dim (4 tiles, fillDim, fillPieces 4), read by a
// compute of 320 cycles a step; DMA latency + overhead 64 (t: one tile of
// 4).
struct OnChipFill {
  Problem p;
  Machine m;
  Tiling t;
  OnChipFill() {
    p.spaces = {{"buf", 0}};
    p.dims = {{"r", 4, true, {4}}};
    Operand in;
    in.name = "in";
    in.dims = {0};
    in.onChip = true;
    in.footprint = [](const std::vector<int64_t> &t) { return uint64_t(t[0]); };
    in.rows = [](const std::vector<int64_t> &t) { return uint64_t(80 * t[0]); };
    in.transfers = [](const std::vector<int64_t> &) { return uint64_t(0); };
    p.operands = {in};
    p.compute = [](const Tiling &, const std::vector<int64_t> &,
                   const std::vector<int64_t> &,
                   const std::vector<StepOperand> &) {
      return std::vector<uint64_t>{320};
    };
    p.fillDim = 0;
    p.fillPieces = 4;
    m.bytesPerCycle = 16;
    m.latencyCycles = 60;
    m.transferOverhead = 4;
    t.tile = {4};
    t.order = {0};
  }
};

TEST(Scratchpad, FillPiecesOfAnOnChipInputPayNoLatency) {
  // An input copied on chip (Operand::onChip, no transfers: a MOVE) of 320
  // rows over 4 tiles, 320 compute cycles, DMA latency + overhead 64: its
  // pieces cost no latency, so 4 pieces (80 + 320 = 400), as predictCycles
  // walks them; a latency per piece (as the count once charged) made 2
  // pieces look best (max(224 + 320, 448 + 160) = 608 against 656 for 4).
  OnChipFill f;
  auto &[p, m, t] = f;
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(fillPieceCount(p, t, m), 4u);
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 400);
}

TEST(Scratchpad, FillAheadOperandsAreLoadedWholeBeforeThePieces) {
  // The input above plus 1 KB of weights (one transfer, 64 channel cycles)
  // along the same dim. Pieced together, each piece of the weights pays a
  // latency and 2 pieces are best (max(256 + 320, 512 + 160) = 672). With
  // the weights in fillAhead (a backend that prefetches them across layers)
  // they load whole first (128) and the input alone is pieced: 4 pieces,
  // 128 + 80 + 320 = 528.
  OnChipFill f;
  auto &[p, m, t] = f;
  Operand w;
  w.name = "w";
  w.dims = {0};
  w.footprint = [](const std::vector<int64_t> &t) { return uint64_t(t[0]); };
  w.bytes = [](const std::vector<int64_t> &t) { return uint64_t(256 * t[0]); };
  p.operands.push_back(w);
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(fillPieceCount(p, t, m), 2u);
  p.fillAhead = {1};
  EXPECT_EQ(fillPieceCount(p, t, m), 4u);
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 528);
}

TEST(Scratchpad, PaddingRowsOverlapTheLatency) {
  // A load of 500 scratchpad rows, 400 of them padding, 1600 bytes (100
  // cycles), latency + overhead 64: the padding is written while the data
  // is on its way, so the load takes 500 cycles, not 64 + 500.
  Problem p = stream(1, 1600, 10);
  p.operands[0].rows = [](const std::vector<int64_t> &) {
    return uint64_t(500);
  };
  Machine m;
  m.bytesPerCycle = 16;
  m.latencyCycles = 60;
  m.transferOverhead = 4;
  Tiling t;
  t.tile = {1};
  t.order = {0};
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 64 + 500 + 10);
  p.operands[0].padRows = [](const std::vector<int64_t> &) {
    return uint64_t(400);
  };
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 500 + 10);
}

TEST(Scratchpad, OnChipInputTakesItsRowsOnly) {
  // An input copied from another on-chip memory (the NPU's MOVE, OUT ->
  // ACT): 3200 bytes, 100 rows a block. From DRAM: latency + overhead 64,
  // then 200 channel cycles; on chip: its 100 rows alone, no DRAM bytes, no
  // latency, and the channel stays free for the DRAM operand beside it.
  Problem p = stream(1, 3200, 10);
  p.operands[0].rows = [](const std::vector<int64_t> &) {
    return uint64_t(100);
  };
  Operand w = p.operands[0];
  w.name = "w";
  w.bytes = [](const std::vector<int64_t> &) { return uint64_t(1600); };
  w.rows = nullptr;
  p.operands.push_back(w);
  Machine m;
  m.bytesPerCycle = 16;
  m.latencyCycles = 60;
  m.transferOverhead = 4;
  Tiling t;
  t.tile = {1};
  t.order = {0};
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(t.dmaBytes, 3200u + 1600u);
  // From DRAM: in (64 + 200), then w (64 + 100), then compute.
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 264 + 164 + 10);
  p.operands[0].onChip = true;
  ASSERT_TRUE(evaluate(p, {}, t));
  EXPECT_EQ(t.dmaBytes, 1600u);
  // On chip: in's 100 rows, then w (64 + 100), then compute.
  EXPECT_DOUBLE_EQ(predictCycles(p, t, m).cycles, 100 + 164 + 10);
}
