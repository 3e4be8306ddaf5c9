// LIR: IRGen, printer/parser round trip, memory planner and the LIR
// interpreter against the graph interpreter.
#include "TestUtil.h"

#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "ir/Verifier.h"
#include "lir/LirPipeline.h"
#include "passes/Pass.h"

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <random>

using namespace ember;

namespace {

Tensor randomTensor(const Type &t, uint32_t seed) {
  Tensor x(t);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> d(-1.0, 1.0);
  for (int64_t i = 0; i < x.size(); ++i) {
    if (isFloatKind(t.elem()))
      x.setDouble(i, d(rng));
    else
      x.setInt(i, int64_t(rng() % 5));
  }
  return x;
}

// main(x: f32[2,3]) = relu(x @ w + b) reshaped to [3,2], plus a dead and a
// duplicated output.
void buildSmall(Function &f) {
  Node *x = f.addPlaceholder("x", Type(ElemKind::F32, {2, 3}));
  Node *w =
      f.addConstant("w", test::makeF32({3, 3}, {1, 2, 3, 4, 5, 6, 7, 8, 9}));
  Node *b = f.addConstant("b", test::makeF32({3}, {0.5f, -20, 1}));
  Node *shape = f.addConstant("shape", test::makeI64({2}, {3, 2}));
  Node *mm = *f.create(OpKind::MatMul, {Value(x), Value(w)});
  Node *add = *f.create(OpKind::Add, {Value(mm), Value(b)});
  Node *relu = *f.create(OpKind::Relu, {Value(add)});
  Node *r = *f.create(OpKind::Reshape, {Value(relu), Value(shape)});
  Node *neg = *f.create(OpKind::Neg, {Value(r)});
  f.addOutput(Value(neg), "y");
  f.addOutput(Value(r), "reshaped");
  f.addOutput(Value(neg), "y_again");
  f.addOutput(Value(x), "x_out");
}

void expectSameResults(const Function &g, const std::vector<Tensor> &ins,
                       const std::string &what) {
  auto want = interpret(g, ins);
  ASSERT_TRUE(want.hasValue()) << what << ": " << want.status().message();
  auto got = runLir(g, ins);
  ASSERT_TRUE(got.hasValue()) << what << ": " << got.status().message();
  ASSERT_EQ(want->size(), got->size()) << what;
  for (size_t i = 0; i < want->size(); ++i)
    EXPECT_TRUE((*want)[i].bitEqual((*got)[i]))
        << what << " output " << i << ": " << (*want)[i].summary() << " vs "
        << (*got)[i].summary();
}

std::string expectVerifyError(const std::string &text) {
  auto f = lir::parseFunction(text, "bad.lir");
  EXPECT_TRUE(f.hasValue()) << f.status().message();
  if (!f)
    return "";
  Status s = lir::verify(*f);
  EXPECT_FALSE(s.isOk());
  return s.message();
}

const char *kHeader = "lir @main {\n"
                      "  space dram capacity 0 align 16\n"
                      "  input %x : f32[4] in dram\n"
                      "  output %y : f32[4] in dram\n";

} // namespace

TEST(Lir, SmallGraphMatchesGraphInterpreter) {
  Function f("main");
  buildSmall(f);
  ASSERT_TRUE(verifyFunction(f).isOk());
  expectSameResults(f, {randomTensor(Type(ElemKind::F32, {2, 3}), 1)}, "small");
}

TEST(Lir, IRGenShape) {
  Function g("main");
  buildSmall(g);
  lir::MemoryPlan plan;
  const std::vector<std::string> noLirPasses; // IRGen's own output
  auto f = buildPlannedLir(g, &plan, {}, &noLirPasses);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  std::string text = lir::printFunction(*f);
  // Reshape is a view, not an instruction; the shared output is copied.
  EXPECT_EQ(f->views.size(), 1u);
  EXPECT_EQ(text.find("Reshape("), std::string::npos) << text;
  EXPECT_NE(text.find("view %"), std::string::npos) << text;
  EXPECT_NE(text.find("copy out %y_again, in %y"), std::string::npos) << text;
  EXPECT_NE(text.find("copy out %x_out, in %x"), std::string::npos) << text;
  EXPECT_NE(text.find("weight %w : f32[3,3] in dram = dense<"),
            std::string::npos)
      << text;
  // Every alloc has a dealloc and the verifier accepts the planned form.
  size_t allocs = 0, deallocs = 0;
  for (auto &in : f->insts) {
    allocs += in.kind == lir::InstKind::Alloc;
    deallocs += in.kind == lir::InstKind::Dealloc;
  }
  EXPECT_EQ(allocs, deallocs);
  EXPECT_GE(allocs, 2u);
  ASSERT_EQ(plan.spaces.size(), 3u);
  for (auto &s : plan.spaces) {
    EXPECT_LE(s.lowerBound, s.peak) << s.space;
    EXPECT_LE(s.peak, s.noReuse) << s.space;
  }
}

TEST(Lir, PrintParseRoundTrip) {
  Function g("main");
  buildSmall(g);
  auto f = buildPlannedLir(g);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  std::string text = lir::printFunction(*f);
  auto p = lir::parseFunction(text);
  ASSERT_TRUE(p.hasValue()) << p.status().message() << "\n" << text;
  EXPECT_EQ(lir::printFunction(*p), text);
  EXPECT_TRUE(lir::verify(*p).isOk());
  // The parsed form runs like the original.
  std::vector<Tensor> ins = {randomTensor(Type(ElemKind::F32, {2, 3}), 3)};
  auto a = lir::execute(*f, ins), b = lir::execute(*p, ins);
  ASSERT_TRUE(a.hasValue() && b.hasValue());
  for (size_t i = 0; i < a->size(); ++i)
    EXPECT_TRUE((*a)[i].bitEqual((*b)[i]));
}

TEST(Lir, RoundTripDmaAttributesAndQuotedNames) {
  std::string text =
      "lir @\"odd name\" {\n"
      "  space host capacity 0 align 64\n"
      "  space sram capacity 4096 align 32\n"
      "  input %\"in put\" : f32[4,8] in host\n"
      "  output %y : f32[4,8] in host\n"
      "  weight %q : u8<0.5:128>[2] in host = dense<u8<0.5:128>[2]: [1, 2]>\n"
      "  activation %s : f32[4,8] in sram offset 0\n"
      "  activation %t : f32[2,8] in sram offset 128\n"
      "  view %row = %s[32] : f32[8]\n"
      "  alloc %s\n"
      "  %tok0 = dma.start out %s, in %\"in put\", bytes 128\n"
      "  dma.wait %tok0\n"
      "  alloc %t\n"
      "  %tok1 = dma.start out %t, in %s, shape [2, 2, 16] dst_strides [32, "
      "16] src_strides [64, 16]\n"
      "  dma.wait %tok1\n"
      "  LeakyRelu(in %s, out %y) {alpha = 0.125} loc(\"lr\\\"1\")\n"
      "  Neg(in %row, out %row)\n"
      "  Clip(in %t, in _, in _, out %t)\n"
      "  dealloc %t\n"
      "  dealloc %s\n"
      "}\n";
  auto f = lir::parseFunction(text);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  EXPECT_EQ(lir::printFunction(*f), text);
  Status s = lir::verify(*f, lir::VerifyOptions{true});
  EXPECT_TRUE(s.isOk()) << s.message();
  // Attribute kinds survive the round trip.
  std::string attrs = "lir @main {\n"
                      "  space dram capacity 0 align 16\n"
                      "  input %x : f32[4] in dram\n"
                      "  output %y : f32[4] in dram\n"
                      "  Relu(in %x, out %y) {a = -3, b = 1.5e-07, c = \"s\", "
                      "d = ints[1, -2], e = floats[], f = strings[\"p\", "
                      "\"q\"], g = dense<i64[2]: [4, 5]>, h = -inf, i = nan}\n"
                      "}\n";
  auto g = lir::parseFunction(attrs);
  ASSERT_TRUE(g.hasValue()) << g.status().message();
  EXPECT_EQ(lir::printFunction(*g), attrs);
}

TEST(Lir, InterpreterRunsDmaAndInPlace) {
  std::string text = "lir @main {\n"
                     "  space dram capacity 0 align 16\n"
                     "  space sram capacity 256 align 32\n"
                     "  input %x : f32[4] in dram\n"
                     "  output %y : f32[4] in dram\n"
                     "  activation %s : f32[4] in sram offset 64\n"
                     "  alloc %s\n"
                     "  %t = dma.start out %s, in %x, bytes 16\n"
                     "  dma.wait %t\n"
                     "  Neg(inout %s)\n"
                     "  %u = dma.start out %y, in %s, shape [2, 8] "
                     "dst_strides [8] src_strides [8]\n"
                     "  dma.wait %u\n"
                     "  dealloc %s\n"
                     "}\n";
  auto f = lir::parseFunction(text);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  auto r = lir::execute(*f, {test::makeF32({4}, {1, -2, 3, 0.5f})});
  ASSERT_TRUE(r.hasValue()) << r.status().message();
  EXPECT_EQ((*r)[0].toDoubles(), (std::vector<double>{-1, 2, -3, -0.5}));
}

TEST(Lir, VerifierUseAfterDealloc) {
  std::string m = expectVerifyError(std::string(kHeader) +
                                    "  activation %t : f32[4] in dram\n"
                                    "  alloc %t\n"
                                    "  Relu(in %x, out %t)\n"
                                    "  dealloc %t\n"
                                    "  Neg(in %t, out %y)\n"
                                    "}\n");
  EXPECT_NE(m.find("instruction #3 'Neg(in %t, out %y)'"), std::string::npos)
      << m;
  EXPECT_NE(m.find("after its dealloc"), std::string::npos) << m;
}

TEST(Lir, VerifierUseBeforeAllocAndLeak) {
  std::string m = expectVerifyError(std::string(kHeader) +
                                    "  activation %t : f32[4] in dram\n"
                                    "  Relu(in %x, out %t)\n"
                                    "}\n");
  EXPECT_NE(m.find("instruction #0"), std::string::npos) << m;
  EXPECT_NE(m.find("before its alloc"), std::string::npos) << m;
  m = expectVerifyError(std::string(kHeader) +
                        "  activation %t : f32[4] in dram\n"
                        "  alloc %t\n"
                        "  Relu(in %x, out %t)\n"
                        "}\n");
  EXPECT_NE(m.find("never deallocated"), std::string::npos) << m;
}

TEST(Lir, VerifierOverlappingLiveBuffers) {
  std::string m = expectVerifyError(
      std::string(kHeader) + "  activation %a : f32[4] in dram offset 0\n"
                             "  activation %b : f32[4] in dram offset 0\n"
                             "  alloc %a\n"
                             "  Relu(in %x, out %a)\n"
                             "  alloc %b\n"
                             "  Neg(in %a, out %b)\n"
                             "  dealloc %a\n"
                             "  Neg(in %b, out %y)\n"
                             "  dealloc %b\n"
                             "}\n");
  EXPECT_NE(m.find("instruction #2 'alloc %b'"), std::string::npos) << m;
  EXPECT_NE(m.find("overlap"), std::string::npos) << m;
  // Disjoint lifetimes may share bytes.
  auto ok = lir::parseFunction(std::string(kHeader) +
                               "  activation %a : f32[4] in dram offset 0\n"
                               "  activation %b : f32[4] in dram offset 0\n"
                               "  alloc %a\n"
                               "  Relu(in %x, out %a)\n"
                               "  Neg(in %a, out %y)\n"
                               "  dealloc %a\n"
                               "  alloc %b\n"
                               "  Relu(in %x, out %b)\n"
                               "  dealloc %b\n"
                               "}\n");
  ASSERT_TRUE(ok.hasValue());
  EXPECT_TRUE(lir::verify(*ok).isOk());
}

TEST(Lir, VerifierReadDuringDma) {
  std::string m = expectVerifyError(std::string(kHeader) +
                                    "  activation %s : f32[4] in dram\n"
                                    "  alloc %s\n"
                                    "  %t = dma.start out %s, in %x, bytes 16\n"
                                    "  Relu(in %s, out %y)\n"
                                    "  dma.wait %t\n"
                                    "  dealloc %s\n"
                                    "}\n");
  EXPECT_NE(m.find("instruction #2 'Relu(in %s, out %y)'"), std::string::npos)
      << m;
  EXPECT_NE(m.find("while DMA %t into it is in flight"), std::string::npos)
      << m;
  m = expectVerifyError(std::string(kHeader) +
                        "  %t = dma.start out %y, in %x, bytes 16\n"
                        "}\n");
  EXPECT_NE(m.find("never waited"), std::string::npos) << m;
  m = expectVerifyError(std::string(kHeader) + "  dma.wait %t\n}\n");
  EXPECT_NE(m.find("not in flight"), std::string::npos) << m;
}

TEST(Lir, VerifierBoundsAndCapacity) {
  std::string m =
      expectVerifyError(std::string(kHeader) + "  view %v = %x[8] : f32[4]\n"
                                               "}\n");
  EXPECT_NE(m.find("out of bounds"), std::string::npos) << m;
  m = expectVerifyError(std::string(kHeader) +
                        "  %t = dma.start out %y, in %x, bytes 32\n"
                        "  dma.wait %t\n}\n");
  EXPECT_NE(m.find("DMA writes 32 bytes"), std::string::npos) << m;
  m = expectVerifyError("lir @main {\n"
                        "  space sram capacity 32 align 16\n"
                        "  input %x : f32[4] in sram\n"
                        "  output %y : f32[4] in sram\n"
                        "  activation %a : f32[4] in sram offset 16\n"
                        "  alloc %a\n"
                        "  Relu(in %x, out %a)\n"
                        "  Neg(in %a, out %y)\n"
                        "  dealloc %a\n"
                        "}\n");
  EXPECT_NE(m.find("over its capacity 32"), std::string::npos) << m;
  m = expectVerifyError(std::string(kHeader) + "  Relu(in %x, out %x)\n}\n");
  EXPECT_NE(m.find("read-only"), std::string::npos) << m;
}

TEST(Lir, ParseErrorsNameLineAndColumn) {
  auto f = lir::parseFunction(
      std::string(kHeader) + "  Relu(in %x, out %z)\n}\n", "t.lir");
  ASSERT_FALSE(f.hasValue());
  EXPECT_NE(f.status().message().find("t.lir:5:19: unknown buffer or view %z"),
            std::string::npos)
      << f.status().message();
  f = lir::parseFunction("lir @m {\n  frob %x\n}\n", "t.lir");
  ASSERT_FALSE(f.hasValue());
  EXPECT_NE(f.status().message().find("t.lir:2:3: unknown instruction 'frob'"),
            std::string::npos)
      << f.status().message();
  f = lir::parseFunction("lir @m {\n  space s capacity -1 align 4\n}\n",
                         "t.lir");
  ASSERT_FALSE(f.hasValue());
  EXPECT_NE(f.status().message().find("t.lir:2:20:"), std::string::npos)
      << f.status().message();
  for (const char *bad : {"", "lir", "lir @m {", "lir @m { input %x : f32[ }",
                          "lir @m { Relu(in %x }", "lir @m {} extra"}) {
    auto g = lir::parseFunction(bad, "t.lir");
    EXPECT_FALSE(g.hasValue()) << bad;
  }
}

TEST(Lir, PlannerReusesAndAligns) {
  // A chain: each intermediate dies right after its consumer, so two
  // buffers suffice at any time.
  Function g("main");
  Node *x = g.addPlaceholder("x", Type(ElemKind::F32, {1, 5}));
  Value v(x);
  for (int i = 0; i < 6; ++i)
    v = Value(*g.create(i % 2 ? OpKind::Neg : OpKind::Relu, {v}));
  g.addOutput(v, "y");
  lir::MemoryPlan plan;
  const std::vector<std::string> noLirPasses; // in-place would merge them
  auto f = buildPlannedLir(g, &plan, {}, &noLirPasses);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  const lir::SpaceReport &dram = plan.spaces[1];
  EXPECT_EQ(dram.space, "dram");
  EXPECT_EQ(dram.buffers, 5u);
  EXPECT_EQ(dram.noReuse, 5u * 64); // 20 bytes rounded up to 64
  EXPECT_EQ(dram.lowerBound, 2u * 64);
  EXPECT_EQ(dram.peak, 2u * 64);
  for (auto &b : f->buffers)
    if (b.kind == lir::BufferKind::Activation) {
      EXPECT_EQ(b.offset % 64, 0);
    }
  std::ostringstream os;
  lir::printMemoryReport(os, plan);
  EXPECT_NE(os.str().find("memory: space=dram peak=128 lower_bound=128 "
                          "no_reuse=320\n"),
            std::string::npos)
      << os.str();
  expectSameResults(g, {randomTensor(Type(ElemKind::F32, {1, 5}), 2)}, "chain");
}

TEST(Lir, PlannerCapacityError) {
  Function g("main");
  Node *x = g.addPlaceholder("x", Type(ElemKind::F32, {64, 64}));
  Node *r = *g.create(OpKind::Relu, {Value(x)});
  Node *n = *g.create(OpKind::Neg, {Value(r)});
  g.addOutput(Value(n), "y");
  lir::IRGenOptions o;
  o.activationSpace = "sram";
  o.spaces = {{"host", 0, 64}, {"dram", 0, 64}, {"sram", 1024, 32}};
  auto f = buildPlannedLir(g, nullptr, o);
  ASSERT_FALSE(f.hasValue());
  EXPECT_NE(f.status().message().find("space 'sram' needs 16384 bytes"),
            std::string::npos)
      << f.status().message();
  o.activationSpace = "nowhere";
  f = buildPlannedLir(g, nullptr, o);
  ASSERT_FALSE(f.hasValue());
}

TEST(Lir, EmitLirAndReport) {
  auto m = std::make_unique<Module>();
  buildSmall(*m->addFunction("main"));
  std::ostringstream os, rep;
  ASSERT_TRUE(emitLir(*m, os, true, rep).isOk());
  EXPECT_EQ(os.str().rfind("lir @main {\n", 0), 0u);
  EXPECT_NE(rep.str().find("memory: space=host peak=0 lower_bound=0 "
                           "no_reuse=0\nmemory: space=dram peak="),
            std::string::npos)
      << rep.str();
}

TEST(Lir, MnistMatchesGraphInterpreter) {
  std::string path =
      std::string(EMBER_SOURCE_DIR) + "/examples/mnist/model.onnx";
  auto m = importOnnxFile(path, {});
  ASSERT_TRUE(m.hasValue()) << m.status().message();
  ASSERT_TRUE(runPipeline(**m, PipelineOptions()).isOk());
  const Function &g = *(*m)->main();
  std::vector<Tensor> ins;
  for (Node *p : g.params())
    ins.push_back(randomTensor(p->types[0], 7));
  expectSameResults(g, ins, "mnist");
  // With every activation and weight in the 1 MiB sram space.
  lir::IRGenOptions so;
  so.activationSpace = so.weightSpace = "sram";
  lir::MemoryPlan sp;
  auto fs = buildPlannedLir(g, &sp, so);
  ASSERT_TRUE(fs.hasValue()) << fs.status().message();
  EXPECT_EQ(sp.spaces[1].buffers, 0u);
  EXPECT_GT(sp.spaces[2].peak, 0u);
  auto rs = lir::execute(*fs, ins);
  auto rg = interpret(g, ins);
  ASSERT_TRUE(rs.hasValue() && rg.hasValue()) << rs.status().message();
  for (size_t i = 0; i < rg->size(); ++i)
    EXPECT_TRUE((*rg)[i].bitEqual((*rs)[i]));
  // The printed planned LIR (real weights as hex) parses back to the same
  // text and computes the same results.
  auto f = buildPlannedLir(g);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  std::string text = lir::printFunction(*f);
  auto p = lir::parseFunction(text, "mnist.lir");
  ASSERT_TRUE(p.hasValue()) << p.status().message();
  EXPECT_EQ(lir::printFunction(*p), text);
  auto a = lir::execute(*f, ins), b = lir::execute(*p, ins);
  ASSERT_TRUE(a.hasValue() && b.hasValue());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i)
    EXPECT_TRUE((*a)[i].bitEqual((*b)[i]));
  // And with the bundled test data.
  std::string data = std::string(EMBER_SOURCE_DIR) +
                     "/examples/mnist/test_data_set_0/input_0.pb";
  auto t = readTensorFile(data);
  if (t && g.params().size() == 1)
    expectSameResults(g, {*t}, "mnist test_data_set_0");
}

// Every ONNX backend node test Ember can import, lower and interpret runs
// bit-identically through LIR.
TEST(Lir, OnnxNodeTestsMatchGraphInterpreter) {
  std::string root = "/work/shared/onnx-backend/node";
  DIR *d = opendir(root.c_str());
  if (!d)
    GTEST_SKIP() << "no ONNX node tests at " << root;
  std::vector<std::string> cases;
  while (dirent *e = readdir(d))
    if (std::string(e->d_name).rfind("test_", 0) == 0)
      cases.push_back(e->d_name);
  closedir(d);
  std::sort(cases.begin(), cases.end());
  size_t compared = 0, lirUnsupported = 0;
  std::vector<std::string> failures;
  for (auto &c : cases) {
    std::string dir = root + "/" + c;
    auto m = importOnnxFile(dir + "/model.onnx", {});
    if (!m || !runPipeline(**m, PipelineOptions()).isOk())
      continue;
    const Function &g = *(*m)->main();
    std::vector<Tensor> ins;
    bool ok = true;
    for (size_t i = 0; i < g.params().size() && ok; ++i) {
      auto t = readTensorFile(dir + "/test_data_set_0/input_" +
                              std::to_string(i) + ".pb");
      ok = t.hasValue();
      if (ok)
        ins.push_back(std::move(*t));
    }
    if (!ok)
      continue;
    auto want = interpret(g, ins);
    if (!want)
      continue;
    auto got = runLir(g, ins);
    if (!got) {
      if (got.status().code() == ErrorCode::Unsupported)
        ++lirUnsupported;
      else
        failures.push_back(c + ": " + got.status().message());
      continue;
    }
    ++compared;
    bool same = want->size() == got->size();
    for (size_t i = 0; same && i < want->size(); ++i)
      same = (*want)[i].bitEqual((*got)[i]);
    if (!same)
      failures.push_back(c + ": results differ");
  }
  std::string all;
  for (auto &f : failures)
    all += f + "\n";
  EXPECT_TRUE(failures.empty()) << failures.size() << " failures:\n" << all;
  EXPECT_GT(compared, 1000u);
  std::printf("LIR node tests: %zu compared, %zu unsupported in LIR "
              "(control flow)\n",
              compared, lirUnsupported);
}

TEST(Lir, EmitLirTextPlansAndRoundTrips) {
  std::string unplanned = std::string(kHeader) +
                          "  activation %t : f32[4] in dram\n"
                          "  alloc %t\n"
                          "  Relu(in %x, out %t)\n"
                          "  Neg(in %t, out %y)\n"
                          "  dealloc %t\n"
                          "}\n";
  std::ostringstream os, rep;
  ASSERT_TRUE(emitLirText(unplanned, "u.lir", os, true, rep).isOk());
  EXPECT_NE(os.str().find("activation %t : f32[4] in dram offset 0\n"),
            std::string::npos)
      << os.str();
  EXPECT_EQ(rep.str(),
            "memory: space=dram peak=16 lower_bound=16 no_reuse=16\n");
  std::ostringstream again, none;
  ASSERT_TRUE(emitLirText(os.str(), "p.lir", again, false, none).isOk());
  EXPECT_EQ(again.str(), os.str());
  Status bad =
      emitLirText("lir @m {\n  frob\n}\n", "b.lir", again, false, none);
  EXPECT_NE(bad.message().find("b.lir:2:3:"), std::string::npos)
      << bad.message();
  // Elided weights are for reading only.
  auto m = std::make_unique<Module>();
  buildSmall(*m->addFunction("main"));
  std::ostringstream el, r2;
  ASSERT_TRUE(emitLir(*m, el, false, r2, 4).isOk());
  EXPECT_NE(
      el.str().find("weight %w : f32[3,3] in dram = dense<f32[3,3]: elided>"),
      std::string::npos)
      << el.str();
}

TEST(Lir, VerifierChecksResultTypes) {
  std::string m = expectVerifyError("lir @main {\n"
                                    "  space dram capacity 0 align 16\n"
                                    "  input %x : f32[2,3] in dram\n"
                                    "  weight %w : f32[3,4] in dram = "
                                    "dense<f32[3,4]: 0x" +
                                    std::string(96, '0') +
                                    ">\n"
                                    "  output %y : f32[2,5] in dram\n"
                                    "  MatMul(in %x, in %w, out %y)\n"
                                    "}\n");
  EXPECT_NE(m.find("instruction #0 'MatMul(in %x, in %w, out %y)': result "
                   "%y is f32[2,5] but MatMul computes f32[2,4]"),
            std::string::npos)
      << m;
  m = expectVerifyError(std::string(kHeader) +
                        "  Relu(in %x, in %x, out %y)\n}\n");
  EXPECT_NE(m.find("Relu takes 1..1 inputs, got 2"), std::string::npos) << m;
}

// Truncated and mutated LIR text: parse, verify and (when it verifies and is
// planned) execute must return errors, never crash.
TEST(Lir, HostileTextNeverCrashes) {
  Function g("main");
  buildSmall(g);
  auto planned = buildPlannedLir(g);
  ASSERT_TRUE(planned.hasValue());
  std::vector<std::string> seeds = {
      lir::printFunction(*planned),
      "lir @main {\n"
      "  space dram capacity 0 align 16\n"
      "  space sram capacity 256 align 32\n"
      "  input %x : f32[4] in dram\n"
      "  output %y : f32[4] in dram\n"
      "  activation %s : f32[4] in sram offset 64\n"
      "  view %v = %s[8] : f32[2]\n"
      "  alloc %s\n"
      "  %t = dma.start out %s, in %x, bytes 16\n"
      "  dma.wait %t\n"
      "  Neg(inout %v)\n"
      "  %u = dma.start out %y, in %s, shape [2, 8] dst_strides [8] "
      "src_strides [8]\n"
      "  dma.wait %u\n"
      "  dealloc %s\n"
      "}\n"};
  std::mt19937 rng(1234);
  const std::string alphabet = "%_@[](){},:=<>\"\\-0123456789 \nxyzinoutf";
  size_t parsed = 0, ran = 0;
  auto attempt = [&](const std::string &t) {
    auto f = lir::parseFunction(t, "fuzz.lir");
    if (!f)
      return;
    ++parsed;
    if (!lir::verify(*f, lir::VerifyOptions{true}).isOk())
      return;
    std::vector<Tensor> ins;
    for (unsigned b : f->buffersOfKind(lir::BufferKind::Input))
      ins.push_back(Tensor(f->buffers[b].type));
    if (lir::execute(*f, ins).hasValue())
      ++ran;
  };
  for (auto &s : seeds) {
    for (size_t cut = 0; cut < s.size(); cut += 3)
      attempt(s.substr(0, cut));
    for (int i = 0; i < 1500; ++i) {
      std::string t = s;
      int edits = 1 + int(rng() % 3);
      for (int e = 0; e < edits; ++e) {
        size_t at = rng() % t.size();
        switch (rng() % 3) {
        case 0:
          t[at] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          t.erase(at, 1 + rng() % 4);
          break;
        default:
          t.insert(at, std::to_string(int64_t(rng()) * 4096));
          break;
        }
        if (t.empty())
          t = "x";
      }
      attempt(t);
    }
  }
  EXPECT_GT(parsed, 100u);
  EXPECT_GT(ran, 10u);
}

// Random lifetimes and sizes: every plan verifies (no live overlap, aligned)
// and lies between the max-live lower bound and no reuse.
TEST(Lir, PlannerRandomIntervals) {
  std::mt19937 rng(99);
  for (int trial = 0; trial < 200; ++trial) {
    lir::Function f;
    f.spaces = {{"dram", 0, uint64_t(1) << (rng() % 7)}};
    int n = 1 + int(rng() % 40), steps = 2 * n + 4;
    std::vector<std::pair<int, int>> life;
    for (int b = 0; b < n; ++b) {
      lir::Buffer buf;
      buf.name = "a" + std::to_string(b);
      buf.type = Type(ElemKind::U8, {int64_t(rng() % 300)});
      buf.kind = lir::BufferKind::Activation;
      f.buffers.push_back(buf);
      int s = int(rng() % unsigned(steps)), e = int(rng() % unsigned(steps));
      life.push_back({std::min(s, e), std::max(s, e)});
    }
    for (int t = 0; t < steps; ++t) {
      for (int b = 0; b < n; ++b)
        if (life[size_t(b)].first == t) {
          lir::Instruction in;
          in.kind = lir::InstKind::Alloc;
          in.operands = {{lir::Ref::buffer(unsigned(b)), lir::Access::Out}};
          f.insts.push_back(in);
        }
      for (int b = 0; b < n; ++b)
        if (life[size_t(b)].second == t) {
          lir::Instruction in;
          in.kind = lir::InstKind::Dealloc;
          in.operands = {{lir::Ref::buffer(unsigned(b)), lir::Access::In}};
          f.insts.push_back(in);
        }
    }
    auto plan = lir::planMemory(f);
    ASSERT_TRUE(plan.hasValue()) << plan.status().message();
    Status s = lir::verify(f, lir::VerifyOptions{true});
    ASSERT_TRUE(s.isOk()) << "trial " << trial << ": " << s.message() << "\n"
                          << lir::printFunction(f);
    const lir::SpaceReport &r = plan->spaces[0];
    EXPECT_LE(r.lowerBound, r.peak);
    EXPECT_LE(r.peak, r.noReuse);
    for (auto &t : r.tried)
      EXPECT_LE(r.peak, t.second);
  }
}
