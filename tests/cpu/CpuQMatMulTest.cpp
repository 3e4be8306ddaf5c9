// MatMulInteger whose B is computed at run time (attention's Q x K^T and
// P x V in int8 transformers; RtQMatMul.cpp): random shapes with numpy
// batch broadcasting, u8 and s8 operands, zero points, a bias and a
// Requantize or none, bit-exact against the interpreter on 1 and 2
// threads; the compiled step must read B at run time.
#include "compiler/Compiler.h"
#include "interp/Interpreter.h"
#include "runtime/RtAbi.h"
#include <gtest/gtest.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/Module.h>
#include <random>
#include <string>
#include <vector>

#include "CpuTestUtil.h"

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

// How many compiled int8 matmul steps read B at run time.
int dynamicQGemmSteps(const CompiledModel &cm) {
  int n = 0;
  for (const llvm::GlobalVariable &g : cm.module->globals()) {
    if (!g.getName().starts_with("params.") || !g.hasInitializer())
      continue;
    const auto *a = llvm::dyn_cast<llvm::ConstantDataArray>(g.getInitializer());
    if (a && a->getElementType()->isIntegerTy(64) &&
        a->getNumElements() == EMBER_RT_QGEMM_NUM_FIELDS &&
        a->getElementAsInteger(EMBER_RT_QGEMM_B_DYNAMIC) == 1)
      ++n;
  }
  return n;
}

// Every byte of an 8-bit input random (the whole range), other inputs as
// randomTensor draws them.
Tensor randomBytes(const Type &t, std::mt19937 &rng) {
  Tensor x(t);
  auto *p = static_cast<uint8_t *>(x.raw());
  for (uint64_t i = 0; i < t.sizeInBytes(); ++i)
    p[i] = uint8_t(rng());
  return x;
}

struct Case {
  std::vector<int64_t> a, b, y; // A, B and result dims
  bool aSigned, bSigned, bias, requant, requantSigned;
  bool bConst = false; // B a constant (packed at compile time), not a param
};

std::string kind(bool s) { return s ? "i8" : "u8"; }

std::string graphOf(const Case &c, std::mt19937 &rng) {
  std::string t =
      "func @main(%a: " + kind(c.aSigned) + "[" + dimsText(c.a) + "]" +
      (c.bConst ? std::string()
                : ", %b: " + kind(c.bSigned) + "[" + dimsText(c.b) + "]") +
      ") {\n";
  if (c.bConst) {
    std::vector<uint8_t> b(size_t(c.b[0] * c.b[1]));
    for (auto &x : b)
      x = uint8_t(rng());
    t += "  %b = Constant " +
         hexDense(kind(c.bSigned), dimsText(c.b), b.data(), b.size()) + "\n";
  }
  auto zp = [&](const char *name, bool s) {
    int v = int(rng() % 256) - (s ? 128 : 0);
    t += std::string("  %") + name + " = Constant dense<" + kind(s) + "[]: [" +
         std::to_string(v) + "]>\n";
  };
  zp("az", c.aSigned);
  zp("bz", c.bSigned);
  std::string y = dimsText(c.y), v = "%mm";
  t += "  %mm = MatMulInteger(%a, %b, %az, %bz) : i32[" + y + "]\n";
  if (c.bias) {
    const int64_t n = c.y.back();
    std::vector<int32_t> bias(static_cast<size_t>(n));
    for (auto &x : bias)
      x = int32_t(rng() % 200001) - 100000;
    t += "  %bias = Constant " +
         hexDense("i32", std::to_string(n), bias.data(), bias.size() * 4) +
         "\n  %acc = Add(%mm, %bias) : i32[" + y + "]\n";
    v = "%acc";
  }
  if (c.requant) {
    // A real multiplier of about 1 / (K * 128): a spread of 8-bit results.
    const int64_t k = c.a.back();
    int32_t m = int32_t(1073741824 + rng() % 1073741823);
    int e = -7 - int(std::log2(double(k)));
    t += "  %m = Constant dense<i32[1]: [" + std::to_string(m) +
         "]>\n  %e = Constant dense<i32[1]: [" + std::to_string(e) + "]>\n";
    zp("yz", c.requantSigned);
    t += "  %y = Requantize(" + v +
         ", %m, %e, _, %yz) {to = " + (c.requantSigned ? "3" : "2") +
         "} : " + kind(c.requantSigned) + "[" + y + "]\n";
    v = "%y";
  }
  return t + "  return " + v + "\n}\n";
}

// Compiles case c (its int8 matmul step reading B at run time or not, as
// `dynamicB` says) and runs it on random bytes on 1 and 2 threads,
// bit-exact with the interpreter; a failure names the graph.
void expectCaseBitExact(const Case &c, bool dynamicB, std::mt19937 &rng) {
  const std::string text = graphOf(c, rng);
  auto m = parseLowered(text);
  ASSERT_TRUE(m) << text;
  Function &f = *m->main();
  auto cm = compileModel(f, hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message() << "\n" << text;
  EXPECT_EQ(dynamicQGemmSteps(*cm), dynamicB ? 1 : 0) << text;
  std::vector<Tensor> in;
  for (auto *p : f.params())
    in.push_back(randomBytes(p->types[0], rng));
  auto want = interpret(f, in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  expectIdentical(runCpu(f, hostConfig(), in), *want);
  expectIdentical(runCpu(f, two, in), *want);
  if (::testing::Test::HasFailure())
    ADD_FAILURE() << (c.bConst ? "(B constant) " : "") << text.substr(0, 2000);
}

} // namespace

TEST(CpuInt8, MatMulIntegerWithARuntimeBMatchesTheInterpreter) {
  std::mt19937 rng(20261124);
  // Batch dims of A and B (broadcasting either way), then random sizes.
  const std::vector<std::pair<std::vector<int64_t>, std::vector<int64_t>>>
      batches = {{{}, {}},  {{1, 4}, {1, 4}}, {{2, 3}, {3}}, {{3}, {2, 3}},
                 {{}, {5}}, {{4, 1}, {1, 2}}, {{2}, {1}},    {{1}, {}}};
  int cases = 0;
  for (int round = 0; round < 3; ++round)
    for (const auto &[ba, bb] : batches) {
      Case c;
      const int64_t M = 1 + int64_t(rng() % 40), K = 1 + int64_t(rng() % 70),
                    N = 1 + int64_t(rng() % 70);
      c.a = ba;
      c.a.insert(c.a.end(), {M, K});
      c.b = bb;
      c.b.insert(c.b.end(), {K, N});
      // numpy broadcasting of the batch dims, right-aligned.
      std::vector<int64_t> by(std::max(ba.size(), bb.size()), 1);
      for (size_t i = 0; i < by.size(); ++i) {
        size_t ia = ba.size() + i, ib = bb.size() + i;
        int64_t da = ia >= by.size() ? ba[ia - by.size()] : 1;
        int64_t db = ib >= by.size() ? bb[ib - by.size()] : 1;
        by[i] = std::max(da, db);
      }
      c.y = by;
      c.y.insert(c.y.end(), {M, N});
      c.aSigned = rng() % 2;
      c.bSigned = rng() % 2;
      c.bias = rng() % 2;
      c.requant = round > 0;
      c.requantSigned = rng() % 2;
      expectCaseBitExact(c, true, rng);
      if (HasFailure())
        return;
      ++cases;
    }
  EXPECT_EQ(cases, 24);
}

// MatMulInteger with a constant B (the packed step, ember_rt_qgemm) at few
// rows, as a fully-connected layer at batch 1 has: at 2 threads the step is
// cut over columns (64-column pieces) as well as rows, bit-exact with the
// interpreter and with 1 thread.
TEST(CpuInt8, FewRowMatMulIntegerSplitsItsColumns) {
  std::mt19937 rng(20261125);
  for (int64_t M : {1, 2, 7, 13})
    for (int64_t N : {10, 700, 1100}) {
      // (Enough multiply-adds for several pieces: K of 1K to 2K.)
      Case c;
      const int64_t K = 1024 + int64_t(rng() % 1024);
      c.a = {M, K};
      c.b = {K, N};
      c.y = {M, N};
      c.aSigned = false;
      c.bSigned = true;
      c.bias = rng() % 2;
      c.requant = true;
      c.requantSigned = rng() % 2;
      c.bConst = true;
      expectCaseBitExact(c, false, rng);
      if (HasFailure())
        return;
    }
}
