// Shape specialization (core/backend/ShapeSpecializer.h): one model with a
// symbolic batch run with two batch sizes in one process, through the
// interpreter and through plugins (each variant compiled for static
// shapes), each answer checked, each compile reported.
#include "backend/ShapeSpecializer.h"

#include <onnx/onnx_pb.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sys/stat.h>
#include <unistd.h>

using namespace ember;
using namespace ember::backend;

namespace {

constexpr int64_t kIn = 4, kOut = 3;

float weight(int64_t i, int64_t j) {
  return 0.25f * float(i) - 0.1f * float(j);
}
float bias(int64_t j) { return 0.05f * float(j) - 0.1f; }
float inputAt(int64_t b, int64_t i) {
  return 0.3f * float(b) - 0.2f * float(i);
}

// y = Reshape(Relu(x @ W + B), [Gather(Shape(x), 0), 3]) with x
// [batch, 4]: the Reshape target is shape arithmetic on the symbolic dim,
// folded per variant.
std::string writeModel() {
  onnx::ModelProto m;
  m.set_ir_version(8);
  auto *op = m.add_opset_import();
  op->set_domain("");
  op->set_version(17);
  auto *g = m.mutable_graph();
  g->set_name("specialize");
  auto *x = g->add_input();
  x->set_name("x");
  auto *xt = x->mutable_type()->mutable_tensor_type();
  xt->set_elem_type(onnx::TensorProto::FLOAT);
  xt->mutable_shape()->add_dim()->set_dim_param("batch");
  xt->mutable_shape()->add_dim()->set_dim_value(kIn);
  auto *y = g->add_output();
  y->set_name("y");
  y->mutable_type()->mutable_tensor_type()->set_elem_type(
      onnx::TensorProto::FLOAT);
  auto *w = g->add_initializer();
  w->set_name("W");
  w->set_data_type(onnx::TensorProto::FLOAT);
  w->add_dims(kIn);
  w->add_dims(kOut);
  for (int64_t i = 0; i < kIn; ++i)
    for (int64_t j = 0; j < kOut; ++j)
      w->add_float_data(weight(i, j));
  auto *b = g->add_initializer();
  b->set_name("B");
  b->set_data_type(onnx::TensorProto::FLOAT);
  b->add_dims(kOut);
  for (int64_t j = 0; j < kOut; ++j)
    b->add_float_data(bias(j));
  auto ints = [&](const char *name, std::vector<int64_t> v) {
    auto *t = g->add_initializer();
    t->set_name(name);
    t->set_data_type(onnx::TensorProto::INT64);
    t->add_dims(int64_t(v.size()));
    for (int64_t e : v)
      t->add_int64_data(e);
  };
  ints("zero", {0});
  ints("three", {kOut});
  auto node = [&](const char *type, std::vector<std::string> ins,
                  std::string out) -> onnx::NodeProto * {
    auto *n = g->add_node();
    n->set_op_type(type);
    for (auto &i : ins)
      n->add_input(i);
    n->add_output(out);
    return n;
  };
  node("MatMul", {"x", "W"}, "xw");
  node("Add", {"xw", "B"}, "xwb");
  node("Relu", {"xwb"}, "r");
  node("Shape", {"x"}, "shape");
  node("Gather", {"shape", "zero"}, "n");
  auto *cat = node("Concat", {"n", "three"}, "target");
  auto *axis = cat->add_attribute();
  axis->set_name("axis");
  axis->set_type(onnx::AttributeProto::INT);
  axis->set_i(0);
  node("Reshape", {"r", "target"}, "y");
  char dir[] = "/tmp/ember-specialize-XXXXXX";
  EXPECT_NE(mkdtemp(dir), nullptr);
  std::string path = std::string(dir) + "/model.onnx";
  std::ofstream f(path, std::ios::binary);
  m.SerializeToOstream(&f);
  return path;
}

Tensor batchInput(int64_t n) {
  Tensor t(Type(ElemKind::F32, {n, kIn}));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t i = 0; i < kIn; ++i)
      t.data<float>()[b * kIn + i] = inputAt(b, i);
  return t;
}

void expectAnswer(const Tensor &y, int64_t n) {
  ASSERT_EQ(y.dims(), (Dims{n, kOut}));
  for (int64_t b = 0; b < n; ++b)
    for (int64_t j = 0; j < kOut; ++j) {
      double acc = bias(j);
      for (int64_t i = 0; i < kIn; ++i)
        acc += double(inputAt(b, i)) * double(weight(i, j));
      EXPECT_NEAR(y.data<float>()[b * kOut + j], std::max(acc, 0.0), 1e-5)
          << "batch " << n << " row " << b << " col " << j;
    }
}

std::shared_ptr<Plugin> loadPlugin(const std::string &name) {
  std::string path =
      std::string(EMBER_PLUGIN_DIR) + "/libember_" + name + ".so";
  struct stat st;
  if (stat(path.c_str(), &st) != 0)
    return nullptr;
  auto p = Plugin::load(path);
  EXPECT_TRUE(p) << p.status().message();
  return p ? *p : nullptr;
}

// Two batch sizes, then the first again: two compiles, one cache hit, and
// every answer right.
void runTwoBatchSizes(std::shared_ptr<Plugin> plugin) {
  std::string path = writeModel();
  SpecializerOptions o;
  o.plugin = plugin;
  o.executor.fallback = nullptr; // the interpreter runs what is not claimed
  auto s = ShapeSpecializer::open(path, o);
  ASSERT_TRUE(s) << s.status().message();
  EXPECT_TRUE((*s)->hasSymbolicDims());
  std::vector<Specialization> reported;
  (*s)->onSpecialize = [&](const Specialization &sp) {
    reported.push_back(sp);
  };
  for (int64_t n : {2, 5, 2}) {
    auto out = (*s)->run({batchInput(n)});
    ASSERT_TRUE(out) << out.status().message();
    ASSERT_EQ(out->size(), 1u);
    expectAnswer((*out)[0], n);
  }
  ASSERT_EQ(reported.size(), 2u);
  EXPECT_EQ(reported[0].number, 1u);
  EXPECT_EQ(reported[0].dims.at("batch"), 2);
  EXPECT_EQ(reported[1].number, 2u);
  EXPECT_EQ(reported[1].dims.at("batch"), 5);
  EXPECT_GT(reported[1].compileMs, 0.0);
  EXPECT_EQ(reported[1].describe((*s)->inputNames()), "batch=5 (x f32[5,4])");
  EXPECT_EQ((*s)->stats().compiles, 2u);
  EXPECT_EQ((*s)->stats().hits, 1u);
  // What the target compiled is static: the variant's graph has the shapes.
  auto v = (*s)->prepare({Type(ElemKind::F32, {5, kIn})});
  ASSERT_TRUE(v);
  const Function &f = ShapeSpecializer::function(**v);
  EXPECT_EQ(f.params()[0]->types[0].dims(), (Dims{5, kIn}));
  EXPECT_EQ(f.outputs()[0].value.type().dims(), (Dims{5, kOut}));
  if (plugin) {
    EXPECT_NE(ShapeSpecializer::summary(**v).find("plugin_partitions="),
              std::string::npos);
  }
  std::remove(path.c_str());
}

} // namespace

TEST(ShapeSpecializer, TwoBatchSizesOnTheInterpreter) {
  runTwoBatchSizes(nullptr);
}

TEST(ShapeSpecializer, TwoBatchSizesThroughTheInterpreterPlugin) {
  auto p = loadPlugin("interp");
  if (!p)
    GTEST_SKIP() << "libember_interp.so is not built";
  runTwoBatchSizes(p);
}

TEST(ShapeSpecializer, TwoBatchSizesThroughTheCpuPlugin) {
  auto p = loadPlugin("cpu");
  if (!p)
    GTEST_SKIP() << "libember_cpu.so is not built (no LLVM backend)";
  runTwoBatchSizes(p);
}

TEST(ShapeSpecializer, EvictsTheLeastRecentlyUsedVariant) {
  std::string path = writeModel();
  SpecializerOptions o;
  o.maxVariants = 2;
  auto s = ShapeSpecializer::open(path, o);
  ASSERT_TRUE(s);
  for (int64_t n : {1, 2, 1, 3, 1, 2}) {
    auto out = (*s)->run({batchInput(n)});
    ASSERT_TRUE(out) << out.status().message();
    expectAnswer((*out)[0], n);
  }
  // 1, 2 compile; 1 hits; 3 evicts 2; 1 hits; 2 compiles again, evicts 3.
  EXPECT_EQ((*s)->stats().compiles, 4u);
  EXPECT_EQ((*s)->stats().hits, 2u);
  EXPECT_EQ((*s)->stats().evictions, 2u);
  std::remove(path.c_str());
}

TEST(ShapeSpecializer, BadRunsAreErrorsNamingTheInput) {
  std::string path = writeModel();
  SpecializerOptions o;
  ASSERT_TRUE(parseDimBinding("batch=2", o.import.shapes).isOk());
  auto s = ShapeSpecializer::open(path, o);
  ASSERT_TRUE(s);
  EXPECT_TRUE((*s)->run({batchInput(2)}));
  auto wrongDim = (*s)->run({batchInput(3)}); // contradicts --dim batch=2
  ASSERT_FALSE(wrongDim);
  EXPECT_NE(wrongDim.status().message().find("--dim batch=2"),
            std::string::npos)
      << wrongDim.status().message();
  Tensor ints(Type(ElemKind::I32, {2, kIn}));
  auto wrongType = (*s)->run({ints});
  ASSERT_FALSE(wrongType);
  EXPECT_NE(wrongType.status().message().find("input 'x'"), std::string::npos);
  Tensor wrongRank(Type(ElemKind::F32, {2, kIn, 1}));
  auto r = (*s)->run({wrongRank});
  ASSERT_FALSE(r);
  EXPECT_NE(r.status().message().find("rank"), std::string::npos);
  EXPECT_FALSE((*s)->run({}));
  std::remove(path.c_str());
}
