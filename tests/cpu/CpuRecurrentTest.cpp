// RNN, GRU and LSTM on the CPU backend (RtRecurrent.h over the kernel
// library, and the portable runtime) against the reference interpreter:
// random problems over every attribute the ops have (directions, layouts,
// sequence lengths, initial states, peepholes, input_forget, clip,
// linear_before_reset, activations with alpha/beta), weights constant or
// graph inputs, any subset of the results. The backend computes in f32 and
// the reference in double, so results agree to a tolerance; 1 and 2
// threads agree bit for bit.
#include "compiler/Capability.h"
#include "compiler/Codegen.h"

#include "CpuTestUtil.h"

#include <sstream>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

Tensor uniform(const Type &t, std::mt19937 &rng, double lo, double hi) {
  Tensor x(t);
  std::uniform_real_distribution<double> u(lo, hi);
  for (int64_t i = 0; i < x.size(); ++i)
    x.setDouble(i, u(rng));
  return x;
}

struct Problem {
  OpKind kind = OpKind::LSTM;
  int64_t S = 1, B = 1, I = 1, H = 1, D = 1, layout = 0;
  std::string direction = "forward";
};

// Builds one recurrent node with random options into f; its inputs that are
// graph inputs get values in `in` (in parameter order).
void build(Function &f, const Problem &p, std::mt19937 &rng,
           std::vector<Tensor> &in, bool constWeights) {
  int64_t G = p.kind == OpKind::RNN ? 1 : p.kind == OpKind::GRU ? 3 : 4;
  bool lstm = p.kind == OpKind::LSTM;
  auto param = [&](const char *name, Type t, double lo, double hi) {
    in.push_back(uniform(t, rng, lo, hi));
    return Value(f.addPlaceholder(name, t));
  };
  auto weight = [&](const char *name, Dims d, double sd) {
    Type t(ElemKind::F32, d);
    if (!constWeights)
      return param(name, t, -sd, sd);
    return Value(f.addConstant(f.freshName(name), uniform(t, rng, -sd, sd)));
  };
  Dims xd = p.layout ? Dims{p.B, p.S, p.I} : Dims{p.S, p.B, p.I};
  Dims sd = p.layout ? Dims{p.B, p.D, p.H} : Dims{p.D, p.B, p.H};
  std::vector<Value> ops;
  ops.push_back(param("x", Type(ElemKind::F32, xd), -1, 1));
  double ws = 1.0 / std::sqrt(double(p.I + p.H));
  ops.push_back(weight("w", {p.D, G * p.H, p.I}, 2 * ws));
  ops.push_back(weight("r", {p.D, G * p.H, p.H}, 2 * ws));
  ops.push_back(rng() % 2 ? weight("b", {p.D, 2 * G * p.H}, 0.5) : Value());
  if (rng() % 5 < 2) {
    std::vector<int64_t> lens;
    for (int64_t b = 0; b < p.B; ++b)
      lens.push_back(int64_t(rng() % uint64_t(p.S + 1)));
    ElemKind lk = rng() % 2 ? ElemKind::I32 : ElemKind::I64;
    ops.push_back(Value(
        f.addConstant(f.freshName("lens"), Tensor::fromInts(lk, lens, {p.B}))));
  } else {
    ops.push_back(Value());
  }
  ops.push_back(rng() % 2 ? param("h0", Type(ElemKind::F32, sd), -1, 1)
                          : Value());
  if (lstm) {
    ops.push_back(rng() % 2 ? param("c0", Type(ElemKind::F32, sd), -1, 1)
                            : Value());
    ops.push_back(rng() % 5 < 2 ? weight("p", {p.D, 3 * p.H}, 0.5) : Value());
  }
  while (!ops.empty() && !ops.back())
    ops.pop_back();
  AttrMap a;
  a["hidden_size"] = Attr::ofInt(p.H);
  a["direction"] = Attr::ofString(p.direction);
  if (p.layout)
    a["layout"] = Attr::ofInt(1);
  if (rng() % 4 == 0)
    a["clip"] = Attr::ofFloat(0.75);
  if (p.kind == OpKind::GRU)
    a["linear_before_reset"] = Attr::ofInt(int64_t(rng() % 2));
  if (lstm && rng() % 5 == 0)
    a["input_forget"] = Attr::ofInt(1);
  if (rng() % 3 == 0) {
    // Per direction: f, g (and h) from every activation Ember's backend
    // runs, with alpha/beta for those that take them.
    const char *names[] = {
        "Sigmoid",         "Tanh",       "Relu",        "Affine", "LeakyRelu",
        "ThresholdedRelu", "ScaledTanh", "HardSigmoid", "Elu",    "Softsign"};
    size_t per = lstm ? 3 : p.kind == OpKind::GRU ? 2 : 1;
    std::vector<std::string> acts;
    std::vector<double> alpha, beta;
    for (int64_t d = 0; d < p.D; ++d)
      for (size_t k = 0; k < per; ++k) {
        std::string n = names[rng() % 10];
        acts.push_back(n);
        if (n == "Affine" || n == "LeakyRelu" || n == "ThresholdedRelu" ||
            n == "ScaledTanh" || n == "HardSigmoid" || n == "Elu")
          alpha.push_back(0.25 + 0.5 * double(rng() % 4));
        if (n == "Affine" || n == "ScaledTanh" || n == "HardSigmoid")
          beta.push_back(0.1 * double(rng() % 5));
      }
    a["activations"] = Attr::ofStrings(acts);
    if (!alpha.empty())
      a["activation_alpha"] = Attr::ofFloats(alpha);
    if (!beta.empty())
      a["activation_beta"] = Attr::ofFloats(beta);
  }
  int results = lstm ? 3 : 2;
  auto n = f.create(p.kind, ops, a, "cell", results);
  ASSERT_TRUE(bool(n)) << n.status().message();
  // A random non-empty subset of the results as graph outputs; the others
  // are written and dropped.
  unsigned mask = 1 + unsigned(rng() % ((1u << results) - 1));
  const char *outNames[] = {"y", "y_h", "y_c"};
  for (int i = 0; i < results; ++i)
    if (mask >> i & 1)
      f.addOutput(Value(*n, unsigned(i)), outNames[i]);
}

TEST(CpuRecurrent, MatchesInterpreter) {
  const OpKind kinds[] = {OpKind::RNN, OpKind::GRU, OpKind::LSTM};
  const char *dirs[] = {"forward", "reverse", "bidirectional"};
  const int64_t hidden[] = {1, 5, 8, 13, 70};
  for (int trial = 0; trial < 60; ++trial) {
    std::mt19937 rng(uint32_t(4000 + trial));
    Problem p;
    p.kind = kinds[trial % 3];
    p.direction = dirs[(trial / 3) % 3];
    p.D = p.direction == std::string("bidirectional") ? 2 : 1;
    p.layout = (trial / 9) % 2;
    p.S = 1 + int64_t(rng() % 6);
    p.B = 1 + int64_t(rng() % 3);
    p.I = 1 + int64_t(rng() % 9);
    p.H = hidden[rng() % 5];
    Function f("main");
    std::vector<Tensor> in;
    build(f, p, rng, in, /*constWeights=*/trial % 4 != 3);
    if (HasFatalFailure())
      return;
    std::ostringstream text;
    printFunction(text, f);
    SCOPED_TRACE(text.str());
    for (auto &node : f.nodes()) {
      if (isStorage(node->kind))
        continue;
      std::string why;
      ASSERT_TRUE(nodeSupported(*node, why)) << why;
    }
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    expectCloseOnEveryRuntime(f, in, *want, 2e-5, 2e-5);
  }
}

// Speech-model-sized cells: the step product's 64-column blocks and its
// tail (4 x 130 = 520 gate columns), a long sequence. At 2 threads a step
// of one batch row splits its product by columns, one of 3 rows runs its
// rows in pieces (and a GRU's two products per step): the same bits.
TEST(CpuRecurrent, LongSequenceWideStateMatchesInterpreter) {
  for (OpKind kind : {OpKind::LSTM, OpKind::GRU})
    for (int64_t batch : {1, 3}) {
      std::mt19937 rng(uint32_t(77 + batch));
      Problem p;
      p.kind = kind;
      p.S = 40;
      p.B = batch;
      p.I = 24;
      p.H = 130;
      Function f("main");
      std::vector<Tensor> in;
      build(f, p, rng, in, true);
      auto want = interpret(f, in);
      ASSERT_TRUE(bool(want)) << want.status().message();
      expectCloseOnEveryRuntime(f, in, *want, 1e-4, 1e-4);
    }
}

// f16 and bf16 cells run widened to f32 between casts (WidenHalf.cpp); the
// reference computes in double and rounds each result to the 16-bit kind,
// so results agree to a 16-bit rounding step.
TEST(CpuRecurrent, HalfFloatCellsRunWidened) {
  for (ElemKind k : {ElemKind::F16, ElemKind::BF16}) {
    std::mt19937 rng(31);
    Function f("main");
    int64_t S = 5, B = 2, I = 6, H = 9;
    auto half = [&](Dims d, double lo, double hi) {
      Tensor t = uniform(Type(ElemKind::F32, d), rng, lo, hi);
      return t.convertTo(k);
    };
    Value x(f.addPlaceholder("x", Type(k, {S, B, I})));
    Value w(f.addConstant("w", half({1, 4 * H, I}, -0.5, 0.5)));
    Value r(f.addConstant("r", half({1, 4 * H, H}, -0.5, 0.5)));
    Value bias(f.addConstant("b", half({1, 8 * H}, -0.2, 0.2)));
    AttrMap a;
    a["hidden_size"] = Attr::ofInt(H);
    auto n = f.create(OpKind::LSTM, {x, w, r, bias}, a, "lstm", 3);
    ASSERT_TRUE(bool(n)) << n.status().message();
    f.addOutput(Value(*n, 0), "y");
    f.addOutput(Value(*n, 2), "y_c");
    std::string why;
    ASSERT_TRUE(nodeSupported(**n, why)) << why;
    std::vector<Tensor> in = {half({S, B, I}, -1, 1)};
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    double step = k == ElemKind::F16 ? 2e-3 : 1.6e-2;
    expectClose(runCpu(f, hostConfig(), in), *want, step, step);
  }
}

TEST(CpuRecurrent, SoftplusIsRefusedWithAReason) {
  Function f("main");
  Value x(f.addPlaceholder("x", Type(ElemKind::F32, {2, 1, 3})));
  std::mt19937 rng(1);
  Value w(
      f.addConstant("w", uniform(Type(ElemKind::F32, {1, 4, 3}), rng, -1, 1)));
  Value r(
      f.addConstant("r", uniform(Type(ElemKind::F32, {1, 4, 4}), rng, -1, 1)));
  AttrMap a;
  a["hidden_size"] = Attr::ofInt(4);
  a["activations"] = Attr::ofStrings({"Softplus"});
  auto n = f.create(OpKind::RNN, {x, w, r}, a, "rnn", 2);
  ASSERT_TRUE(bool(n)) << n.status().message();
  std::string why;
  EXPECT_FALSE(nodeSupported(**n, why));
  EXPECT_NE(why.find("Softplus"), std::string::npos) << why;
}

// A sequence length outside [0, S] is the reference's error; the backend's
// call returns the out-of-range status (the plugin's OUT_OF_RANGE error).
TEST(CpuRecurrent, SequenceLengthOutOfRangeIsAnError) {
  for (int64_t bad : {-1, 4}) {
    Function f("main");
    Value x(f.addPlaceholder("x", Type(ElemKind::F32, {3, 2, 2})));
    Value lens(f.addPlaceholder("lens", Type(ElemKind::I32, {2})));
    std::mt19937 rng(2);
    Value w(f.addConstant("w",
                          uniform(Type(ElemKind::F32, {1, 9, 2}), rng, -1, 1)));
    Value r(f.addConstant("r",
                          uniform(Type(ElemKind::F32, {1, 9, 3}), rng, -1, 1)));
    AttrMap a;
    a["hidden_size"] = Attr::ofInt(3);
    auto n = f.create(OpKind::GRU, {x, w, r, Value(), lens}, a, "gru", 2);
    ASSERT_TRUE(bool(n)) << n.status().message();
    f.addOutput(Value(*n, 1), "y_h");
    std::vector<Tensor> in = {uniform(x.type(), rng, -1, 1),
                              Tensor::fromInts(ElemKind::I32, {2, bad}, {2})};
    EXPECT_FALSE(bool(interpret(f, in)));
    runCpu(f, hostConfig(), in, kStatusIndexOutOfRange);
    CompileConfig portable = hostConfig();
    portable.kernels = Kernels::Portable;
    runCpu(f, portable, in, kStatusIndexOutOfRange);
  }
}

} // namespace
