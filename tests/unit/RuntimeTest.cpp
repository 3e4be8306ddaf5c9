// The runtime (core/runtime, docs/runtime.md): device lists, the balanced
// cut, and the executor over the interpreter plugin (a device) and the host:
// every request's outputs are the interpreter's, independent stages run at
// once, in-flight requests stay within the queue depth, and a request with
// bad inputs fails alone. The NPU cores' pipelining, memory split and fault
// isolation are checked end to end by tests/runtime (ctest runtime-devices).
#include "runtime/Executor.h"

#include "backend/LayerPath.h"
#include "backend/ProgramProto.h"

#include "interp/Interpreter.h"
#include "ir/Printer.h"

#include <gtest/gtest.h>

#include <random>
#include <sys/stat.h>

using namespace ember;
using namespace ember::runtime;

namespace {

TEST(DeviceList, ParsesTargetsAndCounts) {
  auto l = parseDeviceList("npu-sim:2,cpu,plugin:/x/libv.so:3");
  ASSERT_TRUE(l) << l.status().message();
  ASSERT_EQ(l->size(), 3u);
  EXPECT_EQ((*l)[0].target, "npu-sim");
  EXPECT_EQ((*l)[0].count, 2u);
  EXPECT_EQ((*l)[1].target, "cpu");
  EXPECT_EQ((*l)[1].count, 1u);
  EXPECT_EQ((*l)[2].target, "plugin:/x/libv.so");
  EXPECT_EQ((*l)[2].count, 3u);
  auto p = parseDeviceList("plugin:./a.so");
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)[0].target, "plugin:./a.so");
}

TEST(DeviceList, ErrorsNameTheEntry) {
  for (auto [spec, why] :
       {std::pair{"", "empty device list"},
        std::pair{"npu-sim:0", "device count 0 in 'npu-sim:0'"},
        std::pair{"npu-sim:65", "is not between 1 and 64"},
        std::pair{"npu-sim,,cpu", "empty entry"},
        std::pair{":2", "names no target"},
        std::pair{"cpu,cpu:2", "names 'cpu' twice"}}) {
    auto l = parseDeviceList(spec);
    ASSERT_FALSE(l) << spec;
    EXPECT_NE(l.status().message().find(why), std::string::npos)
        << spec << ": " << l.status().message();
  }
}

TEST(BalancedCuts, BalancesTheLargestChunk) {
  std::vector<double> cost = {4, 1, 1, 1, 1, 4}, mem(6, 0);
  std::vector<bool> ok(7, true);
  auto b = balancedCuts(cost, mem, ok, {0, 0});
  ASSERT_EQ(b, (std::vector<size_t>{0, 3, 6}));
  // Three parts: the largest chunk is 4 at best.
  b = balancedCuts(cost, mem, ok, {0, 0, 0});
  ASSERT_EQ(b.size(), 4u);
  for (size_t c = 0; c < 3; ++c) {
    double sum = 0;
    for (size_t i = b[c]; i < b[c + 1]; ++i)
      sum += cost[i];
    EXPECT_LE(sum, 4);
  }
}

TEST(BalancedCuts, KeepsGroupsWholeAndMemoryWithinCaps) {
  std::vector<double> cost = {1, 1, 1, 1}, mem = {5, 1, 1, 1};
  std::vector<bool> ok(5, true);
  ok[2] = false; // items 1 and 2 are one unit
  auto b = balancedCuts(cost, mem, ok, {0, 0});
  EXPECT_TRUE(b == (std::vector<size_t>{0, 1, 4}) ||
              b == (std::vector<size_t>{0, 3, 4}));
  // Memory: the first device holds at most 5, the second at most 3.
  b = balancedCuts(cost, mem, std::vector<bool>(5, true), {5, 3});
  EXPECT_EQ(b, (std::vector<size_t>{0, 1, 4}));
  // Nothing fits: the first item alone exceeds both.
  EXPECT_TRUE(
      balancedCuts(cost, mem, std::vector<bool>(5, true), {4, 4}).empty());
}

// The built plugin libember_<name>.so, or nullptr when it is not built.
std::shared_ptr<backend::Plugin> builtPlugin(const std::string &name) {
  std::string path =
      std::string(EMBER_PLUGIN_DIR) + "/libember_" + name + ".so";
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return nullptr;
  auto p = backend::Plugin::load(path);
  EXPECT_TRUE(p) << p.status().message();
  return p ? *p : nullptr;
}

// Two independent branches, then a join: one branch on the device, the
// other on the host, the join on the device again.
const char *kBranches =
    R"(func @main(%x: f32[64,256], %w: f32[256,256], %v: f32[256,256]) {
  %a0 = MatMul(%x, %w) : f32[64,256]
  %a1 = MatMul(%a0, %w) : f32[64,256]
  %a2 = MatMul(%a1, %w) : f32[64,256]
  %b0 = MatMul(%x, %v) : f32[64,256]
  %b1 = Relu(%b0) : f32[64,256]
  %y = Add(%a2, %b1) : f32[64,256]
  return %y
}
)";

Placement byHand(const Function &f) {
  // Nodes in list order: a0 a1 a2 on device 0; b0 b1 on the host; y on
  // device 0.
  auto parts = backend::partitionByLabel(f, {0, 0, 0, kHost, kHost, 0});
  EXPECT_TRUE(parts);
  Placement p;
  std::map<const Node *, size_t> stageOf;
  for (size_t i = 0; i < parts->size(); ++i)
    for (const Node *n : (*parts)[i].nodes)
      stageOf[n] = i;
  for (auto &part : *parts) {
    Stage st;
    st.device = part.label;
    for (const Value &v : part.inputs)
      if (stageOf.count(v.node) && std::find(st.deps.begin(), st.deps.end(),
                                             stageOf[v.node]) == st.deps.end())
        st.deps.push_back(stageOf[v.node]);
    st.part = std::move(part);
    p.stages.push_back(std::move(st));
  }
  p.deviceLoad.assign(1, 0);
  p.deviceMemory.assign(1, 0);
  return p;
}

std::vector<Tensor> randomInputs(const Function &f, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<Tensor> in;
  for (Node *p : f.params()) {
    Tensor t(p->types[0]);
    for (int64_t i = 0; i < t.size(); ++i)
      t.data<float>()[i] = u(rng) * 0.1f;
    in.push_back(std::move(t));
  }
  return in;
}

TEST(Executor, RunsTheStageDagAndBoundsTheRequestsInFlight) {
  auto plugin = builtPlugin("interp");
  if (!plugin)
    GTEST_SKIP() << "the interpreter plugin is not built";
  auto m = parseModule(kBranches, "branches.eir");
  ASSERT_TRUE(m) << m.status().message();
  const Function &f = *(*m)->main();
  DeviceKind k;
  k.target = "plugin:interp";
  k.plugin = plugin;
  auto devs = DeviceSet::open({k});
  ASSERT_TRUE(devs) << devs.status().message();
  Placement p = byHand(f);
  ASSERT_EQ(p.stages.size(), 3u);
  // The two branches depend on nothing; the join on both.
  size_t join = 0;
  for (size_t i = 0; i < 3; ++i)
    if (p.stages[i].deps.size() == 2)
      join = i;
  ASSERT_EQ(p.stages[join].device, 0);
  for (unsigned depth : {1u, 3u}) {
    ExecutorOptions o;
    o.queueDepth = depth;
    auto x = Executor::create(f, **devs, byHand(f), o);
    ASSERT_TRUE(x) << x.status().message();
    std::vector<std::vector<Tensor>> reqs;
    for (uint32_t r = 0; r < 6; ++r)
      reqs.push_back(randomInputs(f, r));
    auto want = reqs;
    auto res = (*x)->runAll(std::move(reqs));
    ASSERT_EQ(res.size(), 6u);
    for (size_t r = 0; r < 6; ++r) {
      ASSERT_TRUE(res[r].status.isOk()) << res[r].status.message();
      auto ref = interpret(f, want[r]);
      ASSERT_TRUE(ref);
      ASSERT_EQ(res[r].outputs.size(), 1u);
      EXPECT_EQ(std::memcmp(res[r].outputs[0].raw(), (*ref)[0].raw(),
                            (*ref)[0].bytes()),
                0)
          << "request " << r;
    }
    // In flight at once: never more than the depth.
    for (size_t r = 0; r < 6; ++r) {
      unsigned at = 0;
      for (size_t q = 0; q < 6; ++q)
        at += res[q].submitMs <= res[r].submitMs &&
              res[q].doneMs > res[r].submitMs;
      EXPECT_LE(at, depth) << "request " << r;
    }
    // Every stage of every request ran once; a request's join after both
    // of its branches.
    auto jobs = (*x)->jobs();
    EXPECT_EQ(jobs.size(), 18u);
    for (size_t r = 0; r < 6; ++r) {
      double joinStart = 0, branchesEnd = 0;
      for (const JobRecord &j : jobs)
        if (j.request == r) {
          if (j.stage == join)
            joinStart = j.startMs;
          else
            branchesEnd = std::max(branchesEnd, j.endMs);
        }
      EXPECT_GE(joinStart, branchesEnd) << "request " << r;
    }
  }
}

TEST(Executor, ARequestWithBadInputsFailsAlone) {
  auto plugin = builtPlugin("interp");
  if (!plugin)
    GTEST_SKIP() << "the interpreter plugin is not built";
  auto m = parseModule(kBranches, "branches.eir");
  ASSERT_TRUE(m);
  const Function &f = *(*m)->main();
  DeviceKind k;
  k.target = "plugin:interp";
  k.plugin = plugin;
  auto devs = DeviceSet::open({k});
  ASSERT_TRUE(devs);
  auto x = Executor::create(f, **devs, byHand(f), ExecutorOptions());
  ASSERT_TRUE(x);
  std::vector<std::vector<Tensor>> reqs;
  for (uint32_t r = 0; r < 3; ++r)
    reqs.push_back(randomInputs(f, r));
  reqs[1].pop_back();
  auto res = (*x)->runAll(std::move(reqs));
  EXPECT_TRUE(res[0].status.isOk());
  EXPECT_TRUE(res[2].status.isOk());
  ASSERT_FALSE(res[1].status.isOk());
  EXPECT_NE(res[1].status.message().find("request 1: expected 3 inputs"),
            std::string::npos)
      << res[1].status.message();
}

TEST(Placement, OnTheInterpreterPluginOneStage) {
  auto plugin = builtPlugin("interp");
  if (!plugin)
    GTEST_SKIP() << "the interpreter plugin is not built";
  auto m = parseModule(kBranches, "branches.eir");
  ASSERT_TRUE(m);
  const Function &f = *(*m)->main();
  DeviceKind k;
  k.target = "plugin:interp";
  k.plugin = plugin;
  auto devs = DeviceSet::open({k});
  ASSERT_TRUE(devs);
  EXPECT_TRUE((*devs)->devices()[0].traits.described);
  auto p = place(f, **devs);
  ASSERT_TRUE(p) << p.status().message();
  ASSERT_EQ(p->stages.size(), 1u);
  EXPECT_EQ(p->stages[0].device, 0);
  // 4 MatMuls of 64 x 256 x 256 at the nominal rate, and operand bytes.
  EXPECT_GT(p->stages[0].computeSec, 4 * 64 * 256 * 256 / kHostMacsPerSec);
  EXPECT_EQ(p->period, p->deviceLoad[0]);
}

// npu-sim's estimate charges each layer to the nodes doing the array's
// work: two convolutions, each into u8 and requantized into a Concat's
// parameters (each requantization a table of its convolution's layer). The
// requantizations and the Concat, which both layers cover, cost nothing of
// their own, each convolution its own layer's time, and the nodes sum to
// the whole.
TEST(Placement, NpuEstimateChargesEachLayerToItsConvolution) {
  auto plugin = builtPlugin("npu_sim");
  if (!plugin)
    GTEST_SKIP() << "the npu-sim plugin is not built";
  auto values = [](int n) {
    std::string v;
    for (int i = 0; i < n; ++i)
      v += (i ? ", " : "") + std::to_string(i * 7 % 41 - 20);
    return v;
  };
  const std::string text =
      R"(func @main(%x: u8[1,16,12,12]) {
  %w1 = Constant dense<i8[16,16,1,1]: [)" +
      values(256) + R"(]>
  %w2 = Constant dense<i8[16,16,3,3]: [)" +
      values(2304) + R"(]>
  %b = Constant dense<i32[1,16,1,1]: [)" +
      values(16) + R"(]>
  %m = Constant dense<i32[]: [1500000000]>
  %s = Constant dense<i32[]: [-9]>
  %m2 = Constant dense<i32[]: [1900000000]>
  %s2 = Constant dense<i32[]: [1]>
  %zx = Constant dense<u8[]: [128]>
  %zc = Constant dense<u8[]: [120]>
  %c1 = ConvInteger(%x, %w1, %zx) {kernel_shape = [1, 1]} : i32[1,16,12,12] loc("e1")
  %cb1 = Add(%c1, %b) : i32[1,16,12,12] loc("e1")
  %r1 = Requantize(%cb1, %m, %s, _, %zx) {to = 2} : u8[1,16,12,12] loc("e1")
  %q1 = Requantize(%r1, %m2, %s2, %zx, %zc) {to = 2} : u8[1,16,12,12] loc("cat")
  %c2 = ConvInteger(%x, %w2, %zx) {kernel_shape = [3, 3], pads = [1, 1, 1, 1]} : i32[1,16,12,12] loc("e3")
  %cb2 = Add(%c2, %b) : i32[1,16,12,12] loc("e3")
  %r2 = Requantize(%cb2, %m, %s, _, %zx) {to = 2} : u8[1,16,12,12] loc("e3")
  %q2 = Requantize(%r2, %m2, %s2, %zx, %zc) {to = 2} : u8[1,16,12,12] loc("cat")
  %cat = Concat(%q1, %q2) {axis = 1} : u8[1,32,12,12] loc("cat")
  return %cat
}
)";
  auto m = parseModule(text, "concat.eir");
  ASSERT_TRUE(m) << m.status().message();
  const Function &f = *(*m)->main();
  DeviceKind k;
  k.target = "npu-sim";
  k.plugin = plugin;
  auto devs = DeviceSet::open({k});
  ASSERT_TRUE(devs) << devs.status().message();
  auto c = estimateOn((*devs)->devices()[0], (*devs)->kinds()[0], f);
  ASSERT_TRUE(c) << c.status().message();
  ASSERT_TRUE(c->fromPlugin);
  std::vector<const Node *> nodes = backend::computeNodes(f);
  ASSERT_EQ(c->nodeSeconds.size(), nodes.size());
  double sum = 0, conv1 = 0, conv3 = 0;
  for (size_t i = 0; i < nodes.size(); ++i) {
    sum += c->nodeSeconds[i];
    if (nodes[i]->kind != OpKind::ConvInteger) {
      EXPECT_EQ(c->nodeSeconds[i], 0) << nodes[i]->name;
      continue;
    }
    (nodes[i]->name == "e1" ? conv1 : conv3) = c->nodeSeconds[i];
  }
  EXPECT_GT(conv1, 0);
  // The 3x3 convolution's layer takes longer than the 1x1's.
  EXPECT_GT(conv3, conv1);
  EXPECT_NEAR(sum, c->seconds, 1e-9 * c->seconds);
  // The estimate is the layer's cost model on the host (LayerPath.h): the
  // plugin base has no estimate_cost.
  EXPECT_EQ(plugin->api().estimate_cost, nullptr);
  EXPECT_NE(c->basis.find("npu-sim's cost model: 2 layers"), std::string::npos)
      << c->basis;
}

// The NPU layer runs in one place: a plugin on the SDK's NPU plugin base
// refuses a graph with one error naming the kind it takes, and the host's
// one entry (compileOnPlugin) schedules the graph and sends it that kind.
TEST(LayerPath, NpuPluginTakesOnlyScheduledPrograms) {
  auto plugin = builtPlugin("npu_sim");
  if (!plugin)
    GTEST_SKIP() << "the npu-sim plugin is not built";
  std::string w;
  for (int i = 0; i < 256; ++i)
    w += (i ? ", " : "") + std::to_string(i * 7 % 41 - 20);
  auto m = parseModule(R"(func @main(%x: u8[1,16,8,8]) {
  %w = Constant dense<i8[16,16,1,1]: [)" +
                           w + R"(]>
  %z = Constant dense<u8[]: [128]>
  %mm = Constant dense<i32[]: [1500000000]>
  %sh = Constant dense<i32[]: [-9]>
  %c = ConvInteger(%x, %w, %z) {kernel_shape = [1, 1]} : i32[1,16,8,8]
  %r = Requantize(%c, %mm, %sh, _, %z) {to = 2} : u8[1,16,8,8]
  return %r
}
)",
                       "conv.eir");
  ASSERT_TRUE(m) << m.status().message();
  const Function &f = *(*m)->main();
  auto graph = backend::serializeGraph(f);
  ASSERT_TRUE(graph) << graph.status().message();
  auto refused = plugin->compile(nullptr, EMBER_PROGRAM_GRAPH, *graph);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.status().code(), ErrorCode::Unsupported);
  EXPECT_NE(refused.status().message().find(
                "compiles scheduled programs (program kind 2), not kind 0 "
                "(a graph): the host schedules graphs for it"),
            std::string::npos)
      << refused.status().message();
  auto route = backend::hostLayerTarget(*plugin);
  ASSERT_TRUE(route) << route.status().message();
  ASSERT_TRUE(route->has_value());
  auto prog = backend::programForPlugin(*plugin, nullptr, *route, f,
                                        backend::CompileOptions());
  ASSERT_TRUE(prog) << prog.status().message();
  EXPECT_EQ(prog->kind, uint32_t(EMBER_PROGRAM_LAYERS));
  auto exe =
      backend::compileOnPlugin(*plugin, nullptr, f, backend::CompileOptions());
  ASSERT_TRUE(exe) << exe.status().message();
}

} // namespace
