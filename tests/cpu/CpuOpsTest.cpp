// The CPU backend's Resize, CumSum, TopK and ScatterND against the reference
// interpreter over random shapes, modes and element kinds: every case must
// run entirely on the backend (compileModel refuses a node it does not
// claim) and match the interpreter bit for bit, at 1 and 2 threads.
#include "compiler/Capability.h"
#include "compiler/Codegen.h"

#include "CpuTestUtil.h"
#include "ember/cpu/Kernels.h"

#include <algorithm>
#include <set>
#include <sstream>

using namespace ember;
using namespace ember::cpugen;
using namespace ember::cpugen::test;

namespace {

// Random data of kind t: small integers (ties for TopK, exact sums), or
// floats with an occasional NaN when `nans`.
Tensor randomData(const Type &t, std::mt19937 &rng, bool nans = false) {
  Tensor x(t);
  std::uniform_real_distribution<double> u(-3, 3);
  bool fl = isComputeFloatKind(t.elem());
  for (int64_t i = 0; i < x.size(); ++i) {
    double v = fl ? u(rng) : std::floor(u(rng) * 10);
    if (!isSignedKind(t.elem()) && !fl)
      v = std::fabs(v);
    if (fl && rng() % 4 == 0)
      v = std::floor(v); // ties
    if (nans && fl && rng() % 17 == 0)
      v = NAN;
    x.setDouble(i, v);
  }
  return x;
}

// Runs f (its params get random data) on the interpreter and on the CPU
// backend at 1 and 2 threads; outputs must be identical.
void expectSame(Function &f, std::mt19937 &rng, bool nans = false) {
  std::vector<Tensor> in;
  for (auto *p : f.params())
    in.push_back(randomData(p->types[0], rng, nans));
  auto want = interpret(f, in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  std::ostringstream text;
  printFunction(text, f);
  SCOPED_TRACE(text.str());
  for (unsigned threads : {1u, 2u}) {
    CompileConfig cfg = hostConfig();
    cfg.numThreads = threads;
    std::vector<Tensor> got = runCpu(f, cfg, in);
    ASSERT_EQ(got.size(), want->size());
    for (size_t k = 0; k < got.size(); ++k) {
      ASSERT_EQ(got[k].type(), (*want)[k].type());
      for (int64_t i = 0; i < got[k].size(); ++i) {
        double g = got[k].getDouble(i), w = (*want)[k].getDouble(i);
        if (std::isnan(g) && std::isnan(w))
          continue;
        ASSERT_EQ(g, w) << "output " << k << " element " << i << " (" << threads
                        << " threads)";
      }
    }
  }
}

Value constF32(Function &f, const std::vector<double> &v) {
  Tensor t(Type(ElemKind::F32, {int64_t(v.size())}));
  for (size_t i = 0; i < v.size(); ++i)
    t.setDouble(int64_t(i), v[i]);
  return Value(f.addConstant(f.freshName("c"), t));
}

Value constI64(Function &f, const std::vector<int64_t> &v, Dims d = {-1}) {
  return Value(
      f.addConstant(f.freshName("c"), Tensor::fromInts(ElemKind::I64, v, d)));
}

// Every non-storage node of f is claimed by the backend.
void expectClaimed(const Function &f) {
  for (auto &n : f.nodes()) {
    if (isStorage(n->kind))
      continue;
    std::string why;
    EXPECT_TRUE(nodeSupported(*n, why)) << n->describe() << ": " << why;
  }
}

// Random normal weights (sd 0.1) and named nodes for the channels-last
// graph tests, built into f in call order (the rng draws with them).
struct GraphBuilder {
  Function &f;
  std::mt19937 &rng;
  Value weights(Dims d) {
    Tensor t(Type(ElemKind::F32, d));
    std::normal_distribution<double> nd(0, 0.1);
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, nd(rng));
    return Value(f.addConstant(f.freshName("w"), t));
  }
  Value node(OpKind k, std::vector<Value> in, AttrMap a, const char *name) {
    auto n = f.create(k, in, a, name, -1, nullptr, {name});
    EXPECT_TRUE(bool(n)) << name << ": " << n.status().message();
    return Value(*n);
  }
  // A Conv with pads 1 on every side and no bias.
  Value conv(Value x, Dims w, const char *name) {
    AttrMap a;
    a["kernel_shape"] = Attr::ofInts({w[2], w[3]});
    a["pads"] = Attr::ofInts({1, 1, 1, 1});
    return node(OpKind::Conv, {x, weights(w)}, a, name);
  }
};

// Lowers m; the values `nhwc` must be chosen channels-last and the graph
// outputs `rowMajor` not. Then f on random inputs against the interpreter
// at 1 and 2 threads (identical to each other) and against the portable
// runtime, which keeps every value row-major.
void expectChannelsLastRun(Module &m, Function &f, std::mt19937 &rng,
                           std::initializer_list<const char *> nhwcValues,
                           std::initializer_list<const char *> rowMajor) {
  PipelineOptions po;
  Status s = runPipeline(m, po);
  ASSERT_TRUE(s.isOk()) << s.message();
  std::vector<Tensor> in;
  for (auto *p : f.params())
    in.push_back(randomData(p->types[0], rng));
  auto want = interpret(f, in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  auto cm = compileModel(f, hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  std::set<std::string> nhwc(cm->channelsLast.begin(), cm->channelsLast.end());
  std::string list;
  for (auto &v : nhwc)
    list += v + " ";
  for (const char *v : nhwcValues)
    EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
  for (const char *v : rowMajor)
    EXPECT_FALSE(nhwc.count(v)) << v << ": a graph output is row-major";
  std::ostringstream text;
  printFunction(text, f);
  SCOPED_TRACE(text.str());
  expectCloseOnEveryRuntime(f, in, *want, 1e-5, 1e-5);
}

} // namespace

// Nearest (every nearest_mode) and linear/cubic (every coordinate
// transformation mode) over random 4-D shapes, scales or sizes, f32, f16
// and u8; half of the cases feed the result to an Add and a Relu (an FPN's
// top-down merge), which fuse with it into one loop.
TEST(CpuOps, ResizeMatchesInterpreter) {
  const char *ctms[] = {"half_pixel",           "asymmetric",
                        "align_corners",        "pytorch_half_pixel",
                        "half_pixel_symmetric", "tf_half_pixel_for_nn"};
  const char *nearestModes[] = {"round_prefer_floor", "round_prefer_ceil",
                                "floor", "ceil"};
  const ElemKind kinds[] = {ElemKind::F32, ElemKind::F32, ElemKind::F16,
                            ElemKind::U8};
  for (int trial = 0; trial < 48; ++trial) {
    std::mt19937 rng(uint32_t(700 + trial));
    Function f("main");
    ElemKind k = kinds[rng() % 4];
    Dims d = {1 + int64_t(rng() % 2), 1 + int64_t(rng() % 5),
              1 + int64_t(rng() % 9), 1 + int64_t(rng() % 9)};
    Value x(f.addPlaceholder("x", Type(k, d)));
    std::string mode = trial % 3 == 0   ? "nearest"
                       : trial % 3 == 1 ? "linear"
                                        : "cubic";
    std::string ctm = ctms[rng() % (mode == "nearest" ? 6 : 5)];
    AttrMap a;
    a["mode"] = Attr::ofString(mode);
    a["coordinate_transformation_mode"] = Attr::ofString(ctm);
    if (mode == "nearest")
      a["nearest_mode"] = Attr::ofString(nearestModes[rng() % 4]);
    if (mode == "cubic" && rng() % 2)
      a["exclude_outside"] = Attr::ofInt(1);
    if (mode != "nearest" && rng() % 4 == 0)
      a["antialias"] = Attr::ofInt(1);
    std::vector<Value> ops = {x, Value()};
    const double scaleSet[] = {0.5, 0.75, 1, 1.5, 2, 3, 0.6};
    if (rng() % 2) {
      ops.push_back(
          constF32(f, {1, 1, scaleSet[rng() % 7], scaleSet[rng() % 7]}));
    } else {
      ops.push_back(Value());
      ops.push_back(constI64(
          f, {d[0], d[1], 1 + int64_t(rng() % 17), 1 + int64_t(rng() % 17)}));
    }
    auto r = f.create(OpKind::Resize, ops, a);
    ASSERT_TRUE(bool(r)) << r.status().message();
    Value y(*r);
    if (trial % 2 && k != ElemKind::U8) {
      Value lat(f.addPlaceholder("lateral", y.type()));
      auto s = f.create(OpKind::Add, {y, lat});
      ASSERT_TRUE(bool(s));
      auto rl = f.create(OpKind::Relu, {Value(*s)});
      ASSERT_TRUE(bool(rl));
      y = Value(*rl);
    }
    f.addOutput(y, "y");
    expectClaimed(f);
    expectSame(f, rng);
  }
}

TEST(CpuOps, CumSumMatchesInterpreter) {
  const ElemKind kinds[] = {ElemKind::F32, ElemKind::F64, ElemKind::F16,
                            ElemKind::I32, ElemKind::I64, ElemKind::U8};
  for (int trial = 0; trial < 36; ++trial) {
    std::mt19937 rng(uint32_t(900 + trial));
    Function f("main");
    size_t rank = 1 + rng() % 4;
    Dims d;
    for (size_t i = 0; i < rank; ++i)
      d.push_back(1 + int64_t(rng() % 7));
    Value x(f.addPlaceholder("x", Type(kinds[trial % 6], d)));
    int64_t axis = int64_t(rng() % rank) - (rng() % 2 ? int64_t(rank) : 0);
    AttrMap a;
    a["exclusive"] = Attr::ofInt(int64_t(rng() % 2));
    a["reverse"] = Attr::ofInt(int64_t(rng() % 2));
    auto n = f.create(OpKind::CumSum, {x, constI64(f, {axis}, {})}, a);
    ASSERT_TRUE(bool(n)) << n.status().message();
    f.addOutput(Value(*n), "y");
    expectClaimed(f);
    expectSame(f, rng);
  }
}

// Ties (small integers, floored floats) keep the lower index first; NaN
// counts as the largest value.
TEST(CpuOps, TopKMatchesInterpreter) {
  const ElemKind kinds[] = {ElemKind::F32, ElemKind::I32, ElemKind::F16,
                            ElemKind::I64, ElemKind::U8,  ElemKind::F64};
  for (int trial = 0; trial < 36; ++trial) {
    std::mt19937 rng(uint32_t(1100 + trial));
    Function f("main");
    size_t rank = 1 + rng() % 3;
    Dims d;
    for (size_t i = 0; i < rank; ++i)
      d.push_back(1 + int64_t(rng() % 9));
    if (trial % 5 == 0)
      d.back() = 200; // a long line: insertions and shifts
    Value x(f.addPlaceholder("x", Type(kinds[trial % 6], d)));
    int64_t axis = int64_t(rng() % rank);
    int64_t kk = int64_t(rng() % uint64_t(d[size_t(axis)] + 1));
    AttrMap a;
    a["axis"] = Attr::ofInt(rng() % 2 ? axis : axis - int64_t(rank));
    a["largest"] = Attr::ofInt(int64_t(rng() % 2));
    a["sorted"] = Attr::ofInt(1);
    auto n = f.create(OpKind::TopK, {x, constI64(f, {kk}, {1})}, a);
    ASSERT_TRUE(bool(n)) << n.status().message();
    f.addOutput(Value(*n, 0), "values");
    f.addOutput(Value(*n, 1), "indices");
    expectClaimed(f);
    expectSame(f, rng, /*nans=*/true);
  }
}

// Indices with repeats (reductions combine them in order; none: the last
// wins) and negative entries.
TEST(CpuOps, ScatterNDMatchesInterpreter) {
  const char *reds[] = {"none", "add", "mul", "max", "min"};
  const ElemKind kinds[] = {ElemKind::F32, ElemKind::I32, ElemKind::F16,
                            ElemKind::I64};
  for (int trial = 0; trial < 30; ++trial) {
    std::mt19937 rng(uint32_t(1300 + trial));
    Function f("main");
    size_t rank = 1 + rng() % 3;
    Dims d;
    for (size_t i = 0; i < rank; ++i)
      d.push_back(1 + int64_t(rng() % 6));
    ElemKind k = kinds[trial % 4];
    Value x(f.addPlaceholder("x", Type(k, d)));
    int64_t tuple = 1 + int64_t(rng() % rank);
    int64_t count = 1 + int64_t(rng() % 6);
    std::vector<int64_t> idx;
    for (int64_t p = 0; p < count; ++p)
      for (int64_t j = 0; j < tuple; ++j) {
        int64_t v = int64_t(rng() % uint64_t(d[size_t(j)]));
        idx.push_back(rng() % 3 == 0 ? v - d[size_t(j)] : v);
      }
    Dims ud = {count};
    ud.insert(ud.end(), d.begin() + tuple, d.end());
    Value upd(f.addPlaceholder("updates", Type(k, ud)));
    AttrMap a;
    a["reduction"] = Attr::ofString(reds[trial % 5]);
    auto n = f.create(OpKind::ScatterND,
                      {x, constI64(f, idx, {count, tuple}), upd}, a);
    ASSERT_TRUE(bool(n)) << n.status().message();
    f.addOutput(Value(*n), "y");
    expectClaimed(f);
    expectSame(f, rng);
  }
}

// An FPN-style merge: the nearest 2x upsample, the lateral Add and the Relu
// are one loop group (the upsampled tensor is never stored).
TEST(CpuOps, ResizeFusesWithItsElementwiseReaders) {
  auto m = parseLowered(R"(func @main(%x: f32[1,4,5,6], %l: f32[1,4,10,12]) {
  %s = Constant dense<f32[4]: [1.0, 1.0, 2.0, 2.0]>
  %u = Resize(%x, _, %s) {mode = "nearest"} : f32[1,4,10,12]
  %a = Add(%u, %l) : f32[1,4,10,12]
  %y = Relu(%a) : f32[1,4,10,12]
  return %y
}
)");
  ASSERT_TRUE(m);
  auto groups = formGroups(*m->main(), hostConfig());
  ASSERT_TRUE(bool(groups)) << groups.status().message();
  ASSERT_EQ(groups->size(), 1u);
  EXPECT_EQ((*groups)[0].kind, GroupKind::Loop);
  EXPECT_EQ((*groups)[0].members.size(), 3u);
  std::mt19937 rng(5);
  expectSame(*m->main(), rng);
}

// A linear Resize whose result is row-major (W innermost) sums its H taps
// once per output row into a row buffer, then each element its W taps from
// it (ops/Resize.cpp, "Row buffers"): still bit-exact, fused with the Add
// that reads it. Where W downsamples, the direct form stays.
TEST(CpuOps, LinearResizeOfRowMajorResultUsesARowBuffer) {
  for (const char *ctm : {"half_pixel", "align_corners", "asymmetric"}) {
    std::string text = concat(
        R"(func @main(%x: f32[2,3,7,9], %l: f32[2,3,16,20]) {
  %s = Constant dense<i64[4]: [2, 3, 16, 20]>
  %u = Resize(%x, _, _, %s) {mode = "linear", coordinate_transformation_mode = ")",
        ctm, R"("} : f32[2,3,16,20]
  %a = Add(%u, %l) : f32[2,3,16,20]
  %d = Constant dense<i64[4]: [2, 3, 8, 4]>
  %v = Resize(%a, _, _, %d) {mode = "linear"} : f32[2,3,8,4]
  return %a, %v
}
)");
    auto m = parseLowered(text);
    ASSERT_TRUE(m);
    auto cm = compileModel(*m->main(), hostConfig());
    ASSERT_TRUE(bool(cm)) << cm.status().message();
    EXPECT_EQ(cm->fusion.resizeRowBuffers, 1u) << ctm;
    std::mt19937 rng(11);
    expectSame(*m->main(), rng, true);
  }
}

// Refusals name their reason: a Resize whose sizes are a graph input.
TEST(CpuOps, ResizeWithRuntimeSizesIsRefusedWithAReason) {
  Function g("main");
  Value gx(g.addPlaceholder("x", Type(ElemKind::F32, {1, 1, 2, 2})));
  Value gs(g.addConstant("s", Tensor::fromInts(ElemKind::I64, {1, 1, 4, 4})));
  auto r = g.create(OpKind::Resize, {gx, Value(), Value(), gs}, {});
  ASSERT_TRUE(bool(r)) << r.status().message();
  std::string why;
  EXPECT_TRUE(nodeSupported(**r, why)) << why;
  Value p(g.addPlaceholder("sizes", Type(ElemKind::I64, {4})));
  (*r)->inputs[3] = p;
  EXPECT_FALSE(nodeSupported(**r, why));
  EXPECT_NE(why.find("not a constant"), std::string::npos) << why;
}

// ONNX gives CumSum's axis as an input: known only at run time, it selects
// one of the scans compiled per axis.
TEST(CpuOps, CumSumWithARuntimeAxisMatchesInterpreter) {
  std::mt19937 rng(17);
  Function f("main");
  Value x(f.addPlaceholder("x", Type(ElemKind::F32, {3, 4, 5})));
  Value axis(f.addPlaceholder("axis", Type(ElemKind::I32, {})));
  AttrMap a;
  a["reverse"] = Attr::ofInt(1);
  auto n = f.create(OpKind::CumSum, {x, axis}, a);
  ASSERT_TRUE(bool(n)) << n.status().message();
  f.addOutput(Value(*n), "y");
  expectClaimed(f);
  Tensor xs = randomData(x.type(), rng);
  for (int64_t ax = -3; ax < 3; ++ax) {
    SCOPED_TRACE(ax);
    std::vector<Tensor> in = {xs, Tensor::scalar(ElemKind::I32, double(ax))};
    auto want = interpret(f, in);
    ASSERT_TRUE(bool(want)) << want.status().message();
    expectClose(runCpu(f, hostConfig(), in), *want, 0, 0);
  }
}

// An index out of range is the reference's error, not a stray write:
// ember_main returns kStatusIndexOutOfRange (the plugin's OUT_OF_RANGE).
TEST(CpuOps, ScatterNDIndexOutOfRangeIsAnError) {
  Function f("main");
  Value x(f.addPlaceholder("x", Type(ElemKind::F32, {4, 3})));
  Value ind(f.addPlaceholder("indices", Type(ElemKind::I64, {2, 1})));
  Value upd(f.addPlaceholder("updates", Type(ElemKind::F32, {2, 3})));
  auto n = f.create(OpKind::ScatterND, {x, ind, upd}, {});
  ASSERT_TRUE(bool(n)) << n.status().message();
  f.addOutput(Value(*n), "y");
  std::mt19937 rng(3);
  std::vector<Tensor> in = {randomData(x.type(), rng),
                            Tensor::fromInts(ElemKind::I64, {1, 4}, {2, 1}),
                            randomData(upd.type(), rng)};
  EXPECT_FALSE(bool(interpret(f, in)));
  runCpu(f, hostConfig(), in, kStatusIndexOutOfRange);
  in[1] = Tensor::fromInts(ElemKind::I64, {1, -5}, {2, 1});
  runCpu(f, hostConfig(), in, kStatusIndexOutOfRange);
}

// Between convolutions, Resize reads the channels-last result of the one
// before in place (through its strides and the tables) and its loop writes
// the channels-last layout the next one reads (the lateral 1x1 Conv adds it
// as its residual, and the 3x3 reads that): no layout change around it.
TEST(CpuOps, ResizeBetweenConvolutionsStaysChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(23);
  auto m = std::make_unique<Module>();
  Function &f = *m->addFunction("main");
  auto weights = [&](Dims d) {
    Tensor t(Type(ElemKind::F32, d));
    std::normal_distribution<double> nd(0, 0.1);
    for (int64_t i = 0; i < t.size(); ++i)
      t.setDouble(i, nd(rng));
    return Value(f.addConstant(f.freshName("w"), t));
  };
  auto conv = [&](Value x, Dims w, int64_t pad, const char *name) {
    AttrMap a;
    a["kernel_shape"] = Attr::ofInts({w[2], w[3]});
    a["pads"] = Attr::ofInts({pad, pad, pad, pad});
    auto c =
        f.create(OpKind::Conv, {x, weights(w)}, a, name, -1, nullptr, {name});
    EXPECT_TRUE(bool(c)) << c.status().message();
    return Value(*c);
  };
  Value x(f.addPlaceholder("x", Type(ElemKind::F32, {1, 32, 8, 8})));
  Value x2(f.addPlaceholder("x2", Type(ElemKind::F32, {1, 16, 16, 16})));
  // A loop over the graph input writes the channels-last layout c1 reads.
  auto x0 = f.create(OpKind::Relu, {x}, {}, "x0", -1, nullptr, {"x0"});
  ASSERT_TRUE(bool(x0));
  auto r1 = f.create(OpKind::Relu, {conv(Value(*x0), {32, 32, 3, 3}, 1, "c1")},
                     {}, "r1", -1, nullptr, {"r1"});
  ASSERT_TRUE(bool(r1));
  AttrMap ra;
  ra["mode"] = Attr::ofString("linear");
  auto u =
      f.create(OpKind::Resize, {Value(*r1), Value(), constF32(f, {1, 1, 2, 2})},
               ra, "u", -1, nullptr, {"u"});
  ASSERT_TRUE(bool(u)) << u.status().message();
  auto a = f.create(OpKind::Add, {Value(*u), conv(x2, {32, 16, 1, 1}, 0, "c2")},
                    {}, "a", -1, nullptr, {"a"});
  ASSERT_TRUE(bool(a));
  Value c3 = conv(Value(*a), {32, 32, 3, 3}, 1, "c3");
  auto g =
      f.create(OpKind::GlobalAveragePool, {c3}, {}, "g", -1, nullptr, {"g"});
  ASSERT_TRUE(bool(g));
  f.addOutput(Value(*g), "y");
  PipelineOptions po;
  Status s = runPipeline(*m, po);
  ASSERT_TRUE(s.isOk()) << s.message();
  std::vector<Tensor> in;
  for (auto *p : f.params())
    in.push_back(randomData(p->types[0], rng));
  auto want = interpret(f, in);
  ASSERT_TRUE(bool(want)) << want.status().message();
  auto cm = compileModel(f, hostConfig());
  ASSERT_TRUE(bool(cm)) << cm.status().message();
  std::set<std::string> nhwc(cm->channelsLast.begin(), cm->channelsLast.end());
  std::string list;
  for (auto &v : nhwc)
    list += v + " ";
  for (const char *v : {"x0", "r1", "u", "a", "c3"})
    EXPECT_TRUE(nhwc.count(v)) << v << " not channels-last: " << list;
  std::ostringstream text;
  printFunction(text, f);
  SCOPED_TRACE(text.str());
  CompileConfig two = hostConfig();
  two.numThreads = 2;
  expectClose(runCpu(f, hostConfig(), in), *want, 1e-5, 1e-5);
  expectClose(runCpu(f, two, in), *want, 1e-5, 1e-5);
}

// An FPN decoder's tail: a Resize-linear + Add loop feeding a grouped
// ConvTranspose, which feeds convolutions, then a 3x3/2 ConvTranspose with
// pads writing a graph output, and a ConvTranspose reading a graph input.
// ConvTranspose takes either layout on each side (RtAbi
// EMBER_RT_CONVT_X_NHWC/Y_NHWC), so the channels-last choice no longer
// stops at it: the Resize loop writes channels-last (its tables invariant
// along the contiguous channels) and the ConvTranspose reads it in place.
// Checked against the interpreter at 1 and 2 threads (identical to each
// other) and against the portable runtime, which keeps every value
// row-major.
TEST(CpuOps, ConvTransposeReadsAndWritesChannelsLast) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(29);
  auto m = std::make_unique<Module>();
  Function &f = *m->addFunction("main");
  GraphBuilder b{f, rng};
  // ConvTranspose with weights [C][OC/group][k][k] and a bias.
  auto convT = [&](Value x, int64_t c, int64_t oc, int64_t k, int64_t stride,
                   int64_t pad, int64_t group, const char *name) {
    AttrMap a;
    a["kernel_shape"] = Attr::ofInts({k, k});
    a["strides"] = Attr::ofInts({stride, stride});
    a["pads"] = Attr::ofInts({pad, pad, pad, pad});
    a["group"] = Attr::ofInt(group);
    return b.node(OpKind::ConvTranspose,
                  {x, b.weights({c, oc / group, k, k}), b.weights({oc})}, a,
                  name);
  };
  Value x(f.addPlaceholder("x", Type(ElemKind::F32, {1, 32, 8, 8})));
  Value x3(f.addPlaceholder("x3", Type(ElemKind::F32, {1, 4, 8, 8})));
  Value x0 = b.node(OpKind::Relu, {x}, {}, "x0");
  Value c1 = b.conv(x0, {32, 32, 3, 3}, "c1");
  AttrMap ra;
  ra["mode"] = Attr::ofString("linear");
  Value u =
      b.node(OpKind::Resize, {c1, Value(), constF32(f, {1, 1, 2, 2})}, ra, "u");
  Value t0 = convT(x3, 4, 32, 2, 2, 0, 1, "t0");   // row-major in
  Value a = b.node(OpKind::Add, {u, t0}, {}, "a"); // Resize fused in
  Value t1 = convT(a, 32, 16, 2, 2, 0, 2, "t1");   // grouped
  Value r2 = b.node(OpKind::Relu, {t1}, {}, "r2");
  Value c4 = b.conv(r2, {16, 16, 3, 3}, "c4");
  Value t2 = convT(c4, 16, 8, 3, 2, 1, 1, "t2"); // overlapping taps, pads
  f.addOutput(t2, "y");
  // 4224 pixels of 16 channels into 3x3 taps of 16: cols chunks of 3640
  // pixels (2 MB), the second starting mid-row.
  Value x4(f.addPlaceholder("x4", Type(ElemKind::F32, {1, 16, 64, 66})));
  Value r4 = b.node(OpKind::Relu, {x4}, {}, "r4");
  f.addOutput(convT(r4, 16, 16, 3, 2, 1, 1, "t4"), "y4");
  expectChannelsLastRun(
      *m, f, rng, {"x0", "c1", "t0", "a", "t1", "r2", "c4", "r4"}, {"t2"});
}

// ConvTransposes whose taps never share an output element (dilation 1,
// stride >= kernel, no leading pads, no crop) with a channels-last y are
// GEMMs that add into y in place, per input row and kh, without the cols
// buffer and the scatter (RtKernels.cpp convtDirectNhwc). The cases: the
// 2x2/2 upsampling reading channels-last x and reading a row-major graph
// input (x transposed chunk by chunk), stride 3 over a 2x2 kernel (rows
// and columns only the bias reaches), output_padding, groups (one GEMM per
// kw), a map of 1640 pixels into 128 channels in 1024-pixel chunks (the
// second starting mid-row), and with y row-major (graph outputs) a 2x2/2
// one into one channel, a 3x3/3 one (both cover y: written once, bias + tap,
// without the bias fill) and a grouped 2x2/3 one with output_padding, whose
// scatter interleaves the KW tap rows into each output row
// (convtInterleave). Against the interpreter at 1 and 2 threads
// (identical to each other) and against the portable runtime.
TEST(CpuOps, ConvTransposeDisjointTapsSkipTheScatter) {
  if (!channelsLastHost())
    GTEST_SKIP() << "channels-last convolutions need AVX2 or AVX-512";
  std::mt19937 rng(31);
  auto m = std::make_unique<Module>();
  Function &f = *m->addFunction("main");
  GraphBuilder b{f, rng};
  auto convT = [&](Value x, int64_t c, int64_t oc, int64_t k, int64_t stride,
                   int64_t outPad, int64_t group, const char *name) {
    AttrMap a;
    a["kernel_shape"] = Attr::ofInts({k, k});
    a["strides"] = Attr::ofInts({stride, stride});
    a["group"] = Attr::ofInt(group);
    if (outPad)
      a["output_padding"] = Attr::ofInts({outPad, outPad});
    return b.node(OpKind::ConvTranspose,
                  {x, b.weights({c, oc / group, k, k}), b.weights({oc})}, a,
                  name);
  };
  // A graph output through a 3x3/2 ConvTranspose with pads (overlapping
  // taps: the scatter), which reads its channels-last input in place.
  auto tail = [&](Value x, int64_t c, const char *name) {
    AttrMap a;
    a["kernel_shape"] = Attr::ofInts({3, 3});
    a["strides"] = Attr::ofInts({2, 2});
    a["pads"] = Attr::ofInts({1, 1, 1, 1});
    return b.node(OpKind::ConvTranspose, {x, b.weights({c, 8, 3, 3})}, a, name);
  };
  Value x(f.addPlaceholder("x", Type(ElemKind::F32, {1, 16, 7, 9})));
  Value c1 = b.conv(x, {32, 16, 3, 3}, "c1");
  Value t1 = convT(c1, 32, 32, 2, 2, 0, 1, "t1"); // 2x2/2
  Value t2 = convT(t1, 32, 16, 2, 3, 1, 1, "t2"); // gaps, output_padding
  Value t3 = convT(t2, 16, 32, 2, 2, 0, 4, "t3"); // groups
  Value c4 = b.conv(t3, {16, 32, 3, 3}, "c4");
  f.addOutput(tail(c4, 16, "o4"), "y");
  Value xr(f.addPlaceholder("xr", Type(ElemKind::F32, {1, 16, 5, 6})));
  Value t5 = convT(xr, 16, 16, 2, 2, 0, 1, "t5"); // row-major x
  Value c5 = b.conv(t5, {16, 16, 3, 3}, "c5");
  f.addOutput(tail(c5, 16, "o5"), "y5");
  Value xb(f.addPlaceholder("xb", Type(ElemKind::F32, {1, 16, 40, 41})));
  Value c6 = b.conv(xb, {16, 16, 3, 3}, "c6");
  Value t6 = convT(c6, 16, 128, 2, 2, 0, 1, "t6"); // chunks mid-row
  Value c7 = b.conv(t6, {16, 128, 3, 3}, "c7");
  f.addOutput(tail(c7, 16, "o7"), "y7");
  Value xs(f.addPlaceholder("xs", Type(ElemKind::F32, {1, 16, 6, 7})));
  f.addOutput(convT(xs, 16, 1, 2, 2, 0, 1, "t8"), "y8");   // row-major y
  f.addOutput(convT(xs, 16, 4, 2, 3, 1, 2, "t9"), "y9");   // and gaps
  f.addOutput(convT(xs, 16, 2, 3, 3, 0, 1, "t10"), "y10"); // 3x3/3
  expectChannelsLastRun(
      *m, f, rng, {"c1", "t1", "t2", "t3", "c4", "t5", "c5", "c6", "t6", "c7"},
      {"t8", "t9", "t10"});
}

// Erf, Exp and Tanh are Ember's own (ember/math/Erf.h, Exp.h, Tanh.h): the
// backend's
// vectorized loops and the interpreter compute the same bits, for f32 and
// f16, alone and inside Gelu (x/2 * (1 + erf(x/sqrt 2))) and Sigmoid, on
// values across the whole range (erf's branch point, where erf reaches 1,
// exp's overflow and subnormal results, subnormal inputs, zeros of both
// signs, infinities, NaN). 4099 elements: vector body and remainder both
// run.
TEST(CpuOps, ErfExpTanhMatchInterpreterBitForBit) {
  const float specials[] = {0.0f,
                            -0.0f,
                            0.875f,
                            std::nextafter(0.875f, 0.0f),
                            std::nextafter(0.875f, 1.0f),
                            -0.875f,
                            3.9192f,
                            0.9f,
                            std::nextafter(0.9f, 1.0f),
                            9.02f,
                            -4.0f,
                            88.72f,
                            88.73f,
                            -87.4f,
                            -103.5f,
                            -104.0f,
                            1e-40f,
                            -1e-30f,
                            1e30f,
                            -1e30f,
                            INFINITY,
                            -INFINITY,
                            NAN};
  enum Form { Erf, Gelu, Exp, Sigmoid, Tanh };
  for (ElemKind kind : {ElemKind::F32, ElemKind::F16}) {
    for (Form form : {Erf, Gelu, Exp, Sigmoid, Tanh}) {
      SCOPED_TRACE(std::string(kind == ElemKind::F32 ? "f32 " : "f16 ") +
                   std::to_string(int(form)));
      std::mt19937 rng(uint32_t(kind == ElemKind::F32 ? 70 : 80) + form);
      Function f("main");
      Type t(kind, {4099});
      Value x(f.addPlaceholder("x", t));
      auto mk = [&](OpKind k, std::vector<Value> in) {
        auto n = f.create(k, in, {});
        EXPECT_TRUE(bool(n)) << n.status().message();
        return Value(*n);
      };
      auto c = [&](double v) {
        Tensor s(Type(kind, {1}));
        s.setDouble(0, v);
        return Value(f.addConstant(f.freshName("c"), s));
      };
      Value y;
      if (form == Gelu)
        y = mk(OpKind::Mul,
               {mk(OpKind::Mul, {x, c(0.5)}),
                mk(OpKind::Add,
                   {mk(OpKind::Erf, {mk(OpKind::Mul, {x, c(M_SQRT1_2)})}),
                    c(1.0)})});
      else
        y = mk(form == Erf       ? OpKind::Erf
               : form == Exp     ? OpKind::Exp
               : form == Sigmoid ? OpKind::Sigmoid
                                 : OpKind::Tanh,
               {x});
      f.addOutput(y, "y");
      expectClaimed(f);
      Tensor in(t);
      // Erf's interesting range is |x| < 4, exp's |x| < 104; then any
      // magnitude.
      double span = form == Exp || form == Sigmoid ? 110 : 5;
      std::uniform_real_distribution<double> u(-span, span), m(-1, 1);
      std::uniform_int_distribution<int> lg(-40, 40);
      for (int64_t i = 0; i < in.size(); ++i) {
        double v = i % 3 == 0 ? std::ldexp(m(rng), lg(rng)) : u(rng);
        if (i < int64_t(std::size(specials)))
          v = specials[i];
        in.setDouble(i, v);
      }
      auto want = interpret(f, {in});
      ASSERT_TRUE(bool(want)) << want.status().message();
      for (unsigned threads : {1u, 2u}) {
        CompileConfig cfg = hostConfig();
        cfg.numThreads = threads;
        expectIdentical(runCpu(f, cfg, {in}), *want);
      }
    }
  }
}

// Every op only the lowering makes (P_Internal in Ops.def: Requantize,
// QuantizedAdd, TableLookup, the softmax and normalization forms, ...) has a
// row in CpuOps.def: a model reaches the backend through these forms, so one
// without a row sends every such node to the interpreter's fallback, a
// partition boundary each (the fixed profile's IntegerSoftmax and
// IntegerNormalization once did, at every attention block).
TEST(CpuOps, EveryInternalOpHasARow) {
  const std::set<OpKind> rows = {
#define EMBER_CPU_OP(Name, ...) OpKind::Name,
#include "compiler/CpuOps.def"
  };
  unsigned internal = 0;
  for (unsigned k = 0; k < kNumOps; ++k)
    if (hasProp(OpKind(k), P_Internal)) {
      ++internal;
      EXPECT_TRUE(rows.count(OpKind(k)))
          << opName(OpKind(k)) << " has no row in CpuOps.def";
    }
  EXPECT_GE(internal, 8u); // (Requantize ... Custom: the test reads them)
}
