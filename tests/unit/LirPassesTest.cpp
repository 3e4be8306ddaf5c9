// LIR passes (docs/lir.md, "Passes"): on small graphs, mnist and the real
// models, the LIR after each pass alone and after all of them computes
// bit-identical results to the graph interpreter, the verifier accepts
// every intermediate form (runLirPasses checks after each pass), and the
// planned peak never rises. Prints peak before/after and the lower bound.
#include "import/OnnxImporter.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"
#include "lir/LirPass.h"
#include "lir/LirPipeline.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <sstream>
#include <sys/stat.h>

using namespace ember;

namespace {

std::vector<Tensor> randomInputs(const Function &g, uint32_t seed) {
  std::vector<Tensor> ins;
  std::mt19937 rng(seed);
  for (Node *p : g.params()) {
    Tensor t(p->types[0]);
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, isFloatKind(t.elem()) ? double(rng() % 1000) / 500 - 1
                                           : double(rng() % 2));
    ins.push_back(std::move(t));
  }
  return ins;
}

uint64_t totalPeak(const lir::MemoryPlan &p) {
  uint64_t s = 0;
  for (auto &sp : p.spaces)
    s += sp.peak;
  return s;
}
uint64_t totalLowerBound(const lir::MemoryPlan &p) {
  uint64_t s = 0;
  for (auto &sp : p.spaces)
    s += sp.lowerBound;
  return s;
}

struct Figures {
  uint64_t before = 0, after = 0, lbBefore = 0, lbAfter = 0;
};

// Plans `g` without passes, with each pass alone and with the default
// order; compares results with the graph interpreter when `run`.
void checkPasses(const Function &g, const std::string &what, bool run,
                 Figures *fig = nullptr) {
  std::vector<Tensor> ins;
  Expected<std::vector<Tensor>> want = std::vector<Tensor>();
  if (run) {
    ins = randomInputs(g, 11);
    want = interpret(g, ins);
    ASSERT_TRUE(want.hasValue()) << what << ": " << want.status().message();
  }
  const std::vector<std::string> none;
  lir::MemoryPlan base;
  auto f0 = buildPlannedLir(g, &base, {}, &none);
  ASSERT_TRUE(f0.hasValue()) << what << ": " << f0.status().message();
  std::vector<std::vector<std::string>> lists;
  for (auto &p : lir::allLirPasses())
    lists.push_back({p.name});
  lists.push_back(lir::defaultLirPassOrder());
  for (auto &list : lists) {
    std::string name = list.size() == 1 ? list[0] : "default";
    lir::MemoryPlan plan;
    auto f = buildPlannedLir(g, &plan, {}, &list);
    ASSERT_TRUE(f.hasValue())
        << what << " " << name << ": " << f.status().message();
    // Every pass result prints and parses back to the same text.
    std::string text = lir::printFunction(*f);
    auto p = lir::parseFunction(text);
    ASSERT_TRUE(p.hasValue())
        << what << " " << name << ": " << p.status().message();
    EXPECT_EQ(lir::printFunction(*p), text) << what << " " << name;
    // The plan never gets worse.
    EXPECT_LE(totalPeak(plan), totalPeak(base)) << what << " " << name;
    std::printf("%s: %s alone: peak %llu -> %llu\n", what.c_str(), name.c_str(),
                (unsigned long long)totalPeak(base),
                (unsigned long long)totalPeak(plan));
    if (name == "default") {
      std::printf("%s: peak before=%llu after=%llu lower_bound before=%llu "
                  "after=%llu instructions %zu -> %zu\n",
                  what.c_str(), (unsigned long long)totalPeak(base),
                  (unsigned long long)totalPeak(plan),
                  (unsigned long long)totalLowerBound(base),
                  (unsigned long long)totalLowerBound(plan), f0->insts.size(),
                  f->insts.size());
      if (fig)
        *fig = {totalPeak(base), totalPeak(plan), totalLowerBound(base),
                totalLowerBound(plan)};
    }
    if (!run)
      continue;
    auto got = lir::execute(*f, ins);
    ASSERT_TRUE(got.hasValue())
        << what << " " << name << ": " << got.status().message();
    ASSERT_EQ(want->size(), got->size());
    for (size_t i = 0; i < want->size(); ++i)
      EXPECT_TRUE((*want)[i].bitEqual((*got)[i]))
          << what << " " << name << " output " << i;
  }
}

void checkText(const char *text, const std::string &what) {
  auto m = parseModule(text, what);
  ASSERT_TRUE(m.hasValue()) << m.status().message();
  ASSERT_TRUE(runPipeline(**m, PipelineOptions()).isOk());
  checkPasses(*(*m)->main(), what, true);
}

bool exists(const std::string &path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

void checkModel(const std::string &path, const std::string &what,
                std::map<std::string, Dims> shapes, bool run,
                Figures *fig = nullptr) {
  if (!exists(path))
    GTEST_SKIP() << "no model at " << path;
  ImportOptions io;
  io.inputShapes = std::move(shapes);
  auto m = importOnnxFile(path, io);
  ASSERT_TRUE(m.hasValue()) << m.status().message();
  ASSERT_TRUE(runPipeline(**m, PipelineOptions()).isOk());
  checkPasses(*(*m)->main(), what, run, fig);
}

} // namespace

TEST(LirPasses, RegistryAndUnknownName) {
  EXPECT_EQ(lir::allLirPasses().size(), 5u);
  for (auto &n : lir::defaultLirPassOrder())
    EXPECT_NE(lir::findLirPass(n), nullptr) << n;
  lir::Function f;
  Status s = lir::runLirPasses(f, {"no-such-pass"});
  EXPECT_FALSE(s.isOk());
  EXPECT_NE(s.message().find("no-such-pass"), std::string::npos);
}

TEST(LirPasses, ChainInPlace) {
  // Every intermediate dies at its consumer: in place, one buffer.
  checkText(R"(func @main(%x: f32[3,5]) {
  %a = Relu(%x) : f32[3,5]
  %b = Neg(%a) : f32[3,5]
  %c = Exp(%b) : f32[3,5]
  %d = Add(%c, %x) : f32[3,5]
  %e = Sigmoid(%d) : f32[3,5]
  return %e
})",
            "chain");
}

TEST(LirPasses, BranchesReshapeAndCopies) {
  // Independent branches (scheduling), a Reshape output (a view, then a
  // copy the pass removes), an output that is an input (a copy that stays)
  // and a value output twice.
  checkText(R"(func @main(%x: f32[8,8], %w: f32[8,2]) {
  %a = Relu(%x) : f32[8,8]
  %b = Neg(%x) : f32[8,8]
  %c = Exp(%x) : f32[8,8]
  %ra = MatMul(%a, %w) : f32[8,2]
  %rb = MatMul(%b, %w) : f32[8,2]
  %rc = MatMul(%c, %w) : f32[8,2]
  %s = Add(%ra, %rb) : f32[8,2]
  %t = Mul(%s, %rc) : f32[8,2]
  %shape = Constant dense<i64[1]: [16]>
  %flat = Reshape(%t, %shape) : f32[16]
  return %flat, %x, %s, %s
})",
            "branches");
}

TEST(LirPasses, Mnist) {
  checkModel(std::string(EMBER_SOURCE_DIR) + "/examples/mnist/model.onnx",
             "mnist", {}, true);
}

TEST(LirPasses, SqueezeNet) {
  checkModel("/work/shared/models/squeezenet1.1-fp32-from-fp16/model.onnx",
             "squeezenet", {}, true);
}

TEST(LirPasses, BertToy) {
  checkModel("/work/shared/models/bert-toy/model.onnx", "bert-toy",
             {{"input_ids", {1, 32}},
              {"input_mask", {1, 32}},
              {"token_type_ids", {1, 32}}},
             true);
}

TEST(LirPasses, LightResNet50) {
  checkModel("/work/shared/onnx-backend/light/light_resnet50.onnx", "resnet50",
             {}, false);
}

TEST(LirPasses, MobileNetV2) {
  checkModel("/work/shared/models/mobilenetv2-12-fp32-dequant/model.onnx",
             "mobilenetv2", {{"input", {1, 3, 224, 224}}}, false);
}

TEST(LirPasses, KeepDmaHazards) {
  // A program staged through a 32 KiB sram with dma.start/dma.wait (as a
  // plugin that accepts LIR would write its own, docs/lir.md): every pass
  // alone and the default order must keep the DMA hazards (verify), and the
  // result must stay bit-identical.
  const std::string text = R"(lir @main {
  space host capacity 0 align 64
  space sram capacity 32768 align 32
  input %x : f32[16,24] in host
  input %b : f32[24,20] in host
  output %y : f32[16,20] in host
  activation %xs : f32[16,24] in sram
  activation %bs : f32[24,20] in sram
  activation %r : f32[16,24] in sram
  activation %ms : f32[16,20] in sram
  alloc %xs
  %t0 = dma.start out %xs, in %x, bytes 1536
  alloc %bs
  %t1 = dma.start out %bs, in %b, bytes 1920
  dma.wait %t0
  alloc %r
  Relu(in %xs, out %r)
  dma.wait %t1
  alloc %ms
  MatMul(in %r, in %bs, out %ms)
  dealloc %r
  dealloc %xs
  dealloc %bs
  %t2 = dma.start out %y, in %ms, bytes 1280
  dma.wait %t2
  dealloc %ms
})";
  auto ref = lir::parseFunction(text, "staged");
  ASSERT_TRUE(ref.hasValue()) << ref.status().message();
  ASSERT_TRUE(lir::verify(*ref).isOk());
  std::vector<Tensor> ins = {Tensor(Type(ElemKind::F32, {16, 24})),
                             Tensor(Type(ElemKind::F32, {24, 20}))};
  std::mt19937 rng(3);
  for (Tensor &t : ins)
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, double(rng() % 1000) / 500 - 1);
  ASSERT_TRUE(lir::planMemory(*ref).hasValue());
  auto want = lir::execute(*ref, ins);
  ASSERT_TRUE(want.hasValue()) << want.status().message();
  std::vector<std::vector<std::string>> lists;
  for (auto &p : lir::allLirPasses())
    lists.push_back({p.name});
  lists.push_back(lir::defaultLirPassOrder());
  for (auto &list : lists) {
    auto f = lir::parseFunction(text, "staged");
    ASSERT_TRUE(f.hasValue()) << f.status().message();
    for (auto &name : list) {
      lir::LirPassStats ps;
      Status st = lir::findLirPass(name)->run(*f, ps);
      ASSERT_TRUE(st.isOk()) << name << ": " << st.message();
      st = lir::verify(*f);
      ASSERT_TRUE(st.isOk()) << "after " << name << ": " << st.message();
    }
    auto plan = lir::planMemory(*f);
    ASSERT_TRUE(plan.hasValue())
        << list.back() << ": " << plan.status().message();
    auto got = lir::execute(*f, ins);
    ASSERT_TRUE(got.hasValue())
        << list.back() << ": " << got.status().message();
    ASSERT_EQ(got->size(), want->size());
    for (size_t i = 0; i < want->size(); ++i)
      EXPECT_TRUE((*want)[i].bitEqual((*got)[i])) << list.back();
  }
}

TEST(LirPasses, RandomGraphsMatchGraphInterpreter) {
  // Random DAGs of unary/binary elementwise ops, Reshapes (views), MatMuls
  // and outputs that repeat a value or name an input: every pass alone and
  // the default order must give bit-identical results and never raise the
  // planned peak.
  std::mt19937 rng(2026);
  const OpKind unary[] = {OpKind::Relu, OpKind::Neg, OpKind::Exp,
                          OpKind::Sigmoid, OpKind::Abs};
  const OpKind binary[] = {OpKind::Add, OpKind::Mul, OpKind::Sub, OpKind::Max};
  for (int iter = 0; iter < 200; ++iter) {
    Function g("main");
    std::vector<Value> pool;
    pool.push_back(Value(g.addPlaceholder("x", Type(ElemKind::F32, {4, 6}))));
    pool.push_back(Value(g.addPlaceholder("z", Type(ElemKind::F32, {4, 6}))));
    Node *flat =
        g.addConstant("flat", Tensor::fromInts(ElemKind::I64, {24}, {1}));
    Node *back =
        g.addConstant("back", Tensor::fromInts(ElemKind::I64, {4, 6}, {2}));
    int n = 6 + int(rng() % 24);
    for (int i = 0; i < n; ++i) {
      Value a = pool[rng() % pool.size()];
      Expected<Node *> r = makeError(ErrorCode::Internal, "unset");
      switch (rng() % 5) {
      case 0:
      case 1:
        r = g.create(unary[rng() % 5], {a});
        break;
      case 2: {
        // A partner of the same type.
        std::vector<Value> same;
        for (auto &v : pool)
          if (v.type() == a.type())
            same.push_back(v);
        r = g.create(binary[rng() % 4], {a, same[rng() % same.size()]});
        break;
      }
      case 3:
        r = g.create(OpKind::Reshape,
                     {a, Value(a.type().dims().size() == 2 ? flat : back)});
        break;
      case 4: // a view of a view
        if (a.type().dims().size() == 2) {
          auto t = g.create(OpKind::Reshape, {a, Value(flat)});
          ASSERT_TRUE(t.hasValue()) << t.status().message();
          r = g.create(OpKind::Reshape, {Value(*t), Value(back)});
        } else {
          r = g.create(OpKind::Reshape, {a, Value(back)});
        }
        break;
      }
      ASSERT_TRUE(r.hasValue()) << r.status().message();
      pool.push_back(Value(*r));
    }
    int outs = 1 + int(rng() % 3);
    for (int o = 0; o < outs; ++o)
      g.addOutput(o == 0 ? pool.back() : pool[rng() % pool.size()],
                  "y" + std::to_string(o));
    std::string text;
    {
      std::ostringstream os;
      printFunction(os, g);
      text = os.str();
    }
    auto m = parseModule(text, "random");
    ASSERT_TRUE(m.hasValue()) << m.status().message() << "\n" << text;
    ASSERT_TRUE(runPipeline(**m, PipelineOptions()).isOk()) << text;
    checkPasses(*(*m)->main(), "random" + std::to_string(iter), true);
    if (HasFatalFailure() || HasNonfatalFailure()) {
      ADD_FAILURE() << text;
      return;
    }
  }
}
