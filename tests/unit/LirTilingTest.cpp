// LIR tiling and double buffering for a small sram space (core/lir/Tiling.h):
// tiled MatMul and Conv against the graph interpreter, verifier, sram peak
// and the order of DMA and compute.
#include "TestUtil.h"

#include "interp/Interpreter.h"
#include "lir/Tiling.h"

#include <random>

using namespace ember;

namespace {

const uint64_t kSram = 256 * 1024;

Tensor randomTensor(const Type &t, uint32_t seed) {
  Tensor x(t);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  for (int64_t i = 0; i < x.size(); ++i)
    x.setDouble(i, d(rng));
  return x;
}

lir::IRGenOptions sramTarget(uint64_t sram = kSram) {
  lir::IRGenOptions o;
  o.spaces = {{"host", 0, 64}, {"dram", 0, 64}, {"sram", sram, 32}};
  return o;
}

// Y = A @ B with A an input and B a constant.
void buildMatMul(Function &g, int64_t M, int64_t K, int64_t N) {
  Node *a = g.addPlaceholder("a", Type(ElemKind::F32, {M, K}));
  Node *b = g.addConstant("b", randomTensor(Type(ElemKind::F32, {K, N}), 7));
  Node *mm = *g.create(OpKind::MatMul, {Value(a), Value(b)});
  g.addOutput(Value(mm), "y");
}

void buildConv(Function &g, Dims x, int64_t M, int64_t k, AttrMap attrs,
               bool bias = true) {
  Node *xn = g.addPlaceholder("x", Type(ElemKind::F32, x));
  Node *w = g.addConstant(
      "w", randomTensor(Type(ElemKind::F32, {M, x[1], k, k}), 11));
  std::vector<Value> ins = {Value(xn), Value(w)};
  if (bias)
    ins.push_back(Value(
        g.addConstant("bias", randomTensor(Type(ElemKind::F32, {M}), 13))));
  attrs["kernel_shape"] = Attr::ofInts({k, k});
  auto c = g.create(OpKind::Conv, ins, attrs);
  ASSERT_TRUE(c.hasValue()) << c.status().message();
  g.addOutput(Value(*c), "y");
}

// Every tile i > 0 of `op` gets its fresh operands from dma.starts issued
// before the compute of tile i-1. Returns the number of computes.
size_t checkDoubleBuffered(const lir::Function &f, OpKind op) {
  std::vector<size_t> computes;
  for (size_t i = 0; i < f.insts.size(); ++i)
    if (f.insts[i].kind == lir::InstKind::Compute && f.insts[i].op == op)
      computes.push_back(i);
  // The dma.start that last wrote `r` before instruction `before`.
  auto loadOf = [&](lir::Ref r, size_t before) -> long {
    for (size_t i = before; i-- > 0;)
      if (f.insts[i].kind == lir::InstKind::DmaStart &&
          f.insts[i].operands[0].ref == r)
        return long(i);
    return -1;
  };
  size_t fresh = 0;
  for (size_t t = 0; t < computes.size(); ++t) {
    const auto &ops = f.insts[computes[t]].operands;
    for (size_t k = 0; k < ops.size(); ++k) {
      const lir::Operand &opnd = ops[k];
      if (!opnd.ref || opnd.access != lir::Access::In)
        continue;
      long l = loadOf(opnd.ref, computes[t]);
      EXPECT_GE(l, 0) << "tile " << t << " reads " << f.nameOf(opnd.ref)
                      << ", which no DMA loads";
      if (t == 0 || l < 0)
        continue;
      if (f.insts[computes[t - 1]].operands[k].ref == opnd.ref)
        continue; // the same block as tile t-1 (still resident)
      ++fresh;
      EXPECT_LT(size_t(l), computes[t - 1])
          << "the DMA of tile " << t << "'s " << f.nameOf(opnd.ref)
          << " is issued after the compute of tile " << t - 1;
    }
  }
  if (computes.size() > 1) {
    EXPECT_GT(fresh, 0u) << "no tile after the first loads anything";
  }
  return computes.size();
}

struct Tiled {
  lir::TilingReport report;
  uint64_t sramPeak = 0;
  size_t computes = 0;
};

// IRGen -> tile -> verify -> plan -> verify -> run, against the graph
// interpreter (bit-exact).
Tiled runTiled(const Function &g, OpKind op, const std::vector<Tensor> &ins,
               uint64_t sram = kSram) {
  Tiled r;
  auto f = lir::generateLir(g, sramTarget(sram));
  EXPECT_TRUE(f.hasValue()) << f.status().message();
  if (!f)
    return r;
  auto rep = lir::tileForSram(*f);
  EXPECT_TRUE(rep.hasValue()) << rep.status().message();
  if (!rep)
    return r;
  r.report = *rep;
  Status v = lir::verify(*f);
  EXPECT_TRUE(v.isOk()) << v.message();
  auto plan = lir::planMemory(*f);
  EXPECT_TRUE(plan.hasValue()) << plan.status().message();
  if (!plan)
    return r;
  for (auto &s : plan->spaces)
    if (s.space == "sram")
      r.sramPeak = s.peak;
  EXPECT_LE(r.sramPeak, sram);
  v = lir::verify(*f, lir::VerifyOptions{/*requirePlanned=*/true});
  EXPECT_TRUE(v.isOk()) << v.message();
  r.computes = checkDoubleBuffered(*f, op);
  // The tiled form prints and parses back unchanged.
  std::string text = lir::printFunction(*f);
  auto back = lir::parseFunction(text);
  EXPECT_TRUE(back.hasValue()) << back.status().message();
  if (back) {
    EXPECT_EQ(lir::printFunction(*back), text);
  }
  // Nothing computes on dram or host any more.
  for (auto &in : f->insts) {
    if (in.kind != lir::InstKind::Compute)
      continue;
    for (auto &opnd : in.operands) {
      if (opnd.ref) {
        EXPECT_EQ(f->spaces[f->buffers[f->baseOf(opnd.ref)].space].name,
                  "sram");
      }
    }
  }
  auto want = interpret(g, ins);
  EXPECT_TRUE(want.hasValue()) << want.status().message();
  auto got = lir::execute(*f, ins);
  EXPECT_TRUE(got.hasValue()) << got.status().message();
  if (!want || !got)
    return r;
  EXPECT_EQ(want->size(), got->size());
  for (size_t i = 0; i < want->size() && i < got->size(); ++i)
    EXPECT_TRUE((*want)[i].bitEqual((*got)[i]))
        << "output " << i << ": " << (*want)[i].summary() << " vs "
        << (*got)[i].summary();
  return r;
}

void printReport(const Tiled &t) {
  for (auto &x : t.report.tiled)
    std::cout << "[tiling] " << x.op << ": " << x.tiles << " tiles of "
              << x.tileRows << " x " << x.tileCols
              << (x.outerOverCols ? " (column blocks outer)" : " (rows outer)")
              << ", " << x.dmas << " DMAs, " << x.loadBytes << " bytes in, "
              << x.storeBytes << " bytes out, sram buffers " << x.sramBytes
              << " of " << x.sramBudget << ", planned peak " << t.sramPeak
              << "\n";
}

} // namespace

TEST(LirTiling, MatMul512x512x256On256KiB) {
  Function g("main");
  buildMatMul(g, 512, 512, 256);
  Tiled t = runTiled(g, OpKind::MatMul,
                     {randomTensor(Type(ElemKind::F32, {512, 512}), 3)});
  ASSERT_EQ(t.report.tiled.size(), 1u);
  EXPECT_GT(t.report.tiled[0].tiles, 1u);
  EXPECT_EQ(t.computes, t.report.tiled[0].tiles);
  EXPECT_EQ(t.report.tiled[0].storeBytes, 512u * 256 * 4);
  printReport(t);
}

TEST(LirTiling, Conv64x56x56On256KiB) {
  Function g("main");
  AttrMap a;
  a["pads"] = Attr::ofInts({1, 1, 1, 1});
  buildConv(g, {1, 64, 56, 56}, 64, 3, a);
  Tiled t = runTiled(g, OpKind::Conv,
                     {randomTensor(Type(ElemKind::F32, {1, 64, 56, 56}), 5)});
  ASSERT_EQ(t.report.tiled.size(), 1u);
  EXPECT_GT(t.report.tiled[0].tiles, 1u);
  EXPECT_EQ(t.computes, t.report.tiled[0].tiles);
  EXPECT_EQ(t.report.tiled[0].storeBytes, 64u * 56 * 56 * 4);
  printReport(t);
}

// Strides, dilations, asymmetric pads, batch 2, no bias, on a tiny sram so
// both output rows and channels are blocked.
TEST(LirTiling, ConvStridedDilatedAsymmetricPads) {
  Function g("main");
  AttrMap a;
  a["pads"] = Attr::ofInts({1, 2, 0, 1});
  a["strides"] = Attr::ofInts({2, 1});
  a["dilations"] = Attr::ofInts({2, 1});
  buildConv(g, {2, 8, 21, 19}, 24, 3, a, /*bias=*/false);
  Tiled t = runTiled(g, OpKind::Conv,
                     {randomTensor(Type(ElemKind::F32, {2, 8, 21, 19}), 9)},
                     16 * 1024);
  ASSERT_EQ(t.report.tiled.size(), 1u);
  EXPECT_GT(t.report.tiled[0].tiles, 2u);
}

TEST(LirTiling, ConvSameUpperUnevenBlocks) {
  Function g("main");
  AttrMap a;
  a["auto_pad"] = Attr::ofString("SAME_UPPER");
  buildConv(g, {1, 5, 17, 13}, 7, 3, a);
  Tiled t = runTiled(g, OpKind::Conv,
                     {randomTensor(Type(ElemKind::F32, {1, 5, 17, 13}), 4)},
                     6 * 1024);
  ASSERT_EQ(t.report.tiled.size(), 1u);
  EXPECT_GT(t.report.tiled[0].tiles, 2u);
}

TEST(LirTiling, MatMulUnevenBlocksOnTinySram) {
  Function g("main");
  buildMatMul(g, 37, 29, 53);
  Tiled t = runTiled(g, OpKind::MatMul,
                     {randomTensor(Type(ElemKind::F32, {37, 29}), 8)}, 2048);
  ASSERT_EQ(t.report.tiled.size(), 1u);
  EXPECT_GT(t.report.tiled[0].tiles, 2u);
}

TEST(LirTiling, InstructionThatFitsIsLeftAlone) {
  Function g("main");
  buildMatMul(g, 16, 16, 16);
  auto f = lir::generateLir(g, sramTarget());
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  std::string before = lir::printFunction(*f);
  auto rep = lir::tileForSram(*f);
  ASSERT_TRUE(rep.hasValue()) << rep.status().message();
  EXPECT_TRUE(rep->tiled.empty());
  EXPECT_EQ(lir::printFunction(*f), before);
}

TEST(LirTiling, RowTooBigIsAnError) {
  Function g("main");
  // One row of A and one column of B are 160,000 bytes each: double
  // buffered they cannot fit 256 KiB.
  buildMatMul(g, 2, 40000, 2);
  auto f = lir::generateLir(g, sramTarget());
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  std::string before = lir::printFunction(*f);
  auto rep = lir::tileForSram(*f);
  ASSERT_FALSE(rep.hasValue());
  EXPECT_NE(rep.status().message().find("cannot tile for sram"),
            std::string::npos)
      << rep.status().message();
  EXPECT_NE(rep.status().message().find("needs 640064 bytes, but only "
                                        "262144 bytes are available"),
            std::string::npos)
      << rep.status().message();
  EXPECT_NE(rep.status().message().find("MatMul %y"), std::string::npos)
      << rep.status().message();
  EXPECT_EQ(lir::printFunction(*f), before) << "f changed on error";
}

TEST(LirTiling, BadOptionsAreErrors) {
  Function g("main");
  buildMatMul(g, 16, 16, 16);
  auto f = lir::generateLir(g, sramTarget());
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  lir::TilingOptions o;
  o.sramSpace = "tcm";
  EXPECT_FALSE(lir::tileForSram(*f, o).hasValue());
  o.sramSpace = "sram";
  o.only = {999};
  EXPECT_FALSE(lir::tileForSram(*f, o).hasValue());
  // Selecting an instruction that fits stages it through sram anyway.
  o.only.clear();
  for (size_t i = 0; i < f->insts.size(); ++i)
    if (f->insts[i].kind == lir::InstKind::Compute)
      o.only.push_back(i);
  auto rep = lir::tileForSram(*f, o);
  ASSERT_TRUE(rep.hasValue()) << rep.status().message();
  ASSERT_EQ(rep->tiled.size(), 1u);
  EXPECT_EQ(rep->tiled[0].tiles, 1u);
  EXPECT_TRUE(lir::verify(*f).isOk());
}
