// The backend-api program schemas (core/backend/ProgramProto.h): graph IR
// and LIR round-trip through serialized protobuf bytes and print back
// byte-identical, and hostile bytes give a clear error, never a crash.
#include "backend/ProgramProto.h"

#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/lir.pb.h"
#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "lir/LirPipeline.h"
#include "passes/Pass.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <dirent.h>
#include <random>
#include <sstream>
#include <sys/stat.h>

using namespace ember;

namespace {

std::string printed(const Function &f) {
  std::ostringstream os;
  printFunction(os, f);
  return os.str();
}

std::string printed(const Module &m) {
  std::ostringstream os;
  printModule(os, m);
  return os.str();
}

// Equal, or the first differing line (model prints are megabytes long).
::testing::AssertionResult sameText(const std::string &a,
                                    const std::string &b) {
  if (a == b)
    return ::testing::AssertionSuccess();
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (size_t line = 1;; ++line) {
    bool ga = bool(std::getline(sa, la)), gb = bool(std::getline(sb, lb));
    if (la != lb || ga != gb)
      return ::testing::AssertionFailure()
             << "line " << line << " differs:\n  " << la.substr(0, 300)
             << "\n  " << lb.substr(0, 300);
    if (!ga)
      break;
  }
  return ::testing::AssertionFailure() << "texts differ";
}

std::unique_ptr<Module> parse(const std::string &text) {
  auto m = parseModule(text, "<test>");
  EXPECT_TRUE(m.hasValue()) << m.status().message();
  return m ? std::move(*m) : nullptr;
}

// print(deserialize(serialize(f))) == print(f), and serializing the result
// gives the same bytes again.
void expectGraphRoundTrip(const Function &f, const std::string &what) {
  auto bytes = backend::serializeGraph(f);
  ASSERT_TRUE(bytes.hasValue()) << what << ": " << bytes.status().message();
  auto m = backend::deserializeGraph(bytes->data(), bytes->size());
  ASSERT_TRUE(m.hasValue()) << what << ": " << m.status().message();
  ASSERT_EQ((*m)->functions().size(), 1u);
  EXPECT_TRUE(sameText(printed(**m), printed(f))) << what;
  auto again = backend::serializeGraph(*(*m)->main());
  ASSERT_TRUE(again.hasValue()) << what << ": " << again.status().message();
  EXPECT_TRUE(*again == *bytes) << what << ": serializing again differs";
}

void expectLirRoundTrip(const lir::Function &f, const std::string &what) {
  auto bytes = backend::serializeLir(f);
  ASSERT_TRUE(bytes.hasValue()) << what << ": " << bytes.status().message();
  auto g = backend::deserializeLir(bytes->data(), bytes->size());
  ASSERT_TRUE(g.hasValue()) << what << ": " << g.status().message();
  EXPECT_TRUE(sameText(lir::printFunction(*g), lir::printFunction(f))) << what;
  auto again = backend::serializeLir(*g);
  ASSERT_TRUE(again.hasValue()) << what << ": " << again.status().message();
  EXPECT_TRUE(*again == *bytes) << what << ": serializing again differs";
}

bool isDir(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

std::vector<std::string> listDir(const std::string &dir) {
  std::vector<std::string> r;
  if (DIR *d = opendir(dir.c_str())) {
    while (dirent *e = readdir(d))
      if (e->d_name[0] != '.')
        r.push_back(e->d_name);
    closedir(d);
  }
  std::sort(r.begin(), r.end());
  return r;
}

// ---- small graphs ---------------------------------------------------------

// Every attribute kind, quantized and narrow types, constants printed as
// values and as hex (NaN), several results, an output under another name.
const char *kAttrsAndTypes = R"(
func @main(%x: f32[2,3], %"odd name": u8<0.5:128>[2], %w: i8<axis=0:0.25,0.5:0,1>[2,1], %n: f8e4m3fn[4], %b: bool[]) {
  %c = Constant dense<f16[3]: [1.5, -0.25, 2.0]>
  %i4 = Constant dense<i4[4]: [-8, -1, 0, 7]>
  %u2 = Constant dense<u2[3]: [0, 1, 3]>
  %bf = Constant dense<bf16[2]: [1.0, -2.0]>
  %nan = Constant dense<f32[3]: 0x0000c07f0000807f00000000>
  %big = Constant dense<i64[3]: [9223372036854775807, -9223372036854775808, 0]>
  %k = Constant dense<i64[1]: [1]>
  %bools = Constant dense<bool[2]: [1, 0]>
  %q = Constant dense<u8<0.25:3>[2]: [7, 9]>
  %y = Add(%x, %nan) : f32[2,3] loc("add/1")
  %a = Identity(%y) {f = 0.1, fe = -0.0, fl = [1.5, -2.0], fs = floats[], i = -3, ie = [], is = [1, 2, 3], s = "hi \"there\"\0A", se = strings[], ss = ["a", ""], t = dense<i32[2]: [1, 2]>, tq = dense<u8<0.5:1>[]: [4]>} : f32[2,3]
  %nf = Cast(%n) {to = 1} : f32[4]
  %ni = Cast(%i4) {to = 1} : f32[4]
  %nu = Cast(%u2) {to = 10} : f16[3]
  %v, %idx = TopK(%a, %k) {axis = -1, largest = 1, sorted = 1} : f32[2,1], i64[2,1]
  %wt = Transpose(%w) {perm = [1, 0]} : i8<axis=1:0.25,0.5:0,1>[1,2]
  %qi = Identity(%"odd name") : u8<0.5:128>[2]
  return %a, %idx as "indices", %nf, %ni, %nu, %wt, %qi, %x as "x again", %c
}
)";

// If, Scan and Loop with subgraphs, one nested two deep.
const char *kControlFlow = R"(
func @main(%c: bool[], %x: f32[3,2], %s: f32[2]) {
  %m = Constant dense<i64[]: [3]>
  %t = Constant dense<bool[]: [1]>
  %y = If(%c, %x, %x) {captures = 2, else_branch = func @no(%b: f32[3,2]) {
      %n = Neg(%b) : f32[3,2]
      return %n
    }, then_branch = func @yes(%a: f32[3,2]) {
      %r = Softmax(%a) {axis = -1} : f32[3,2]
      return %r
    }, then_captures = 1} : f32[3,2]
  %sum, %rows = Scan(%s, %y) {body = func @step(%acc: f32[2], %row: f32[2]) {
      %next = Add(%acc, %row) : f32[2]
      return %next, %next
    }, captures = 0, num_scan_inputs = 1} : f32[2], f32[3,2]
  %fin, %acc2 = Loop(%m, _, %s, %c) {body = func @lb(%it: i64[], %cc: bool[], %st: f32[2], %cap: bool[]) {
      %st2 = If(%cap, %st, %st) {captures = 2, else_branch = func @e(%p: f32[2]) {
          return %p
        }, then_branch = func @th(%q: f32[2]) {
          %d = Add(%q, %q) : f32[2]
          return %d
        }, then_captures = 1} : f32[2]
      return %cc, %st2, %st2
    }, captures = 1} : f32[2], f32[3,2]
  return %y, %sum, %rows, %fin, %acc2
}
)";

const char *kSmall = R"(
func @main(%x: f32[2,3], %z: f32[2,3]) {
  %c = Constant dense<f32[3]: [1.0, 2.0, 3.0]>
  %y = Add(%x, %c) : f32[2,3] loc("add1")
  %r = Relu(%y) : f32[2,3]
  return %r
}
)";

TEST(ProgramProto, RoundTripEveryAttrKindAndType) {
  auto m = parse(kAttrsAndTypes);
  ASSERT_TRUE(m);
  expectGraphRoundTrip(*m->main(), "attrs-and-types");
  // The types really crossed: spot-check the proto.
  backend::v1::Graph g;
  ASSERT_TRUE(backend::toProto(*m->main(), g).isOk());
  EXPECT_EQ(g.schema_version(), backend::kGraphSchemaVersion);
  EXPECT_EQ(g.inputs_size(), 5);
  EXPECT_EQ(g.constants_size(), 9);
  EXPECT_EQ(g.values(2).type().quant().axis(), 0);
  EXPECT_EQ(g.values(2).type().quant().scales_size(), 2);
  EXPECT_EQ(g.values(3).type().dtype(), "f8e4m3fn");
  EXPECT_EQ(g.constants(1).data().data(), std::string("\x08\x0f\x00\x07", 4));
  EXPECT_EQ(g.output_names(1), "indices");
}

TEST(ProgramProto, RoundTripControlFlowSubgraphs) {
  auto m = parse(kControlFlow);
  ASSERT_TRUE(m);
  expectGraphRoundTrip(*m->main(), "control-flow");
  backend::v1::Graph g;
  ASSERT_TRUE(backend::toProto(*m->main(), g).isOk());
  // Node 2 is the Loop; its body holds an If with two branches.
  ASSERT_EQ(g.nodes(2).op(), "Loop");
  const backend::v1::Attribute &body = g.nodes(2).attributes(0);
  ASSERT_EQ(body.name(), "body");
  ASSERT_TRUE(body.has_graph());
  EXPECT_EQ(body.graph().inputs_size(), 4);
  EXPECT_EQ(body.graph().nodes(0).op(), "If");
}

TEST(ProgramProto, RoundTripBuiltWithTheApi) {
  Function f("api");
  Node *x = f.addPlaceholder("x", Type(ElemKind::F32, {1, 2, 5, 5}));
  Tensor w(Type(ElemKind::F32, {4, 2, 3, 3}));
  for (int64_t i = 0; i < w.size(); ++i)
    w.setDouble(i, double(i % 7) - 3);
  Node *wc = f.addConstant("w", w);
  AttrMap a;
  a["pads"] = Attr::ofInts({1, 1, 1, 1});
  a["strides"] = Attr::ofInts({2, 2});
  auto conv =
      f.create(OpKind::Conv, {Value(x), Value(wc), Value()}, a, "conv1");
  ASSERT_TRUE(conv.hasValue()) << conv.status().message();
  auto relu = f.create(OpKind::Relu, {Value(*conv)});
  ASSERT_TRUE(relu.hasValue());
  f.addOutput(Value(*relu), "out");
  expectGraphRoundTrip(f, "api");
}

TEST(ProgramProto, TypeConversions) {
  Type t(ElemKind::I8, {3, 0, 2});
  QuantParams q;
  q.scales = {0.5f, 0.25f, 2.0f};
  q.zeroPoints = {0, -1, 3};
  q.axis = 0;
  t.setQuant(q);
  backend::v1::TensorType p;
  backend::toProto(t, p);
  EXPECT_EQ(p.dtype(), "i8");
  auto back = backend::fromProto(p);
  ASSERT_TRUE(back.hasValue()) << back.status().message();
  EXPECT_EQ(*back, t);
  for (const char *k :
       {"f32",    "f16",      "bf16",       "f64",    "i8",         "u8",
        "i16",    "u16",      "i32",        "u32",    "i64",        "u64",
        "bool",   "f8e4m3fn", "f8e4m3fnuz", "f8e5m2", "f8e5m2fnuz", "f8e8m0",
        "f4e2m1", "i4",       "u4",         "i2",     "u2"}) {
    backend::v1::TensorType s;
    s.set_dtype(k);
    auto st = backend::fromProto(s);
    ASSERT_TRUE(st.hasValue()) << k;
    EXPECT_EQ(elemKindName(st->elem()), std::string(k));
    EXPECT_EQ(st->rank(), 0u);
  }
}

// The schema's strings are proto3 `string`s: UTF-8 crosses, other bytes
// (which the text IR can hold) are refused when serializing.
TEST(ProgramProto, StringsMustBeUtf8) {
  auto m = parse(R"(
func @main(%"gr\C3\B6\C3\9Fe \F0\9F\98\80": f32[2]) {
  %y = Identity(%"gr\C3\B6\C3\9Fe \F0\9F\98\80") {s = "\E2\82\AC"} : f32[2] loc("\E6\97\A5")
  return %y as "\C3\A9"
}
)");
  ASSERT_TRUE(m);
  expectGraphRoundTrip(*m->main(), "utf-8");
  for (const char *bad :
       {"\\FF", "\\C0\\80", "\\ED\\A0\\80", "\\F4\\90\\80\\80", "\\E2\\82"}) {
    auto b = parse(std::string("func @main(%x: f32[2]) {\n  %y = Identity(%x) "
                               "{s = \"") +
                   bad + "\"} : f32[2]\n  return %y\n}\n");
    ASSERT_TRUE(b);
    auto s = backend::serializeGraph(*b->main());
    ASSERT_FALSE(s.hasValue()) << bad;
    EXPECT_NE(s.status().message().find("graph node #0 (Identity): attribute "
                                        "'s': the string"),
              std::string::npos)
        << s.status().message();
    EXPECT_NE(s.status().message().find("is not UTF-8"), std::string::npos);
  }
}

// What the reader would refuse is refused when writing, not sent.
TEST(ProgramProto, SerializerRefusesWhatCannotBeRead) {
  auto m = parse("func @main(%x: u8<0.5:1,2>[2]) {\n  return %x\n}\n");
  ASSERT_TRUE(m);
  auto s = backend::serializeGraph(*m->main());
  ASSERT_FALSE(s.hasValue());
  EXPECT_NE(s.status().message().find("graph input #0 %x: result 0: "
                                      "quantized type has 1 scales but 2 "
                                      "zero points"),
            std::string::npos)
      << s.status().message();
  m = parse(kSmall);
  ASSERT_TRUE(m);
  std::prev(m->main()->nodes().end())->get()->attrs[""] = Attr::ofInt(1);
  s = backend::serializeGraph(*m->main());
  ASSERT_FALSE(s.hasValue());
  EXPECT_NE(s.status().message().find("an attribute has no name"),
            std::string::npos);
}

// Every .eir of the lit tests that parses: their printed form comes back.
// A constant after computation nodes (only the parser makes one; the IR's
// layout puts constants first) comes back moved up with the others.
TEST(ProgramProto, RoundTripLitGraphs) {
  int n = 0;
  for (const char *sub :
       {"tests/lit/ir", "tests/lit/passes", "tests/lit/lir"}) {
    std::string dir = std::string(EMBER_SOURCE_DIR) + "/" + sub;
    for (auto &name : listDir(dir)) {
      if (name.size() < 4 || name.substr(name.size() - 4) != ".eir")
        continue;
      auto text = readFileBytes(dir + "/" + name);
      ASSERT_TRUE(text.hasValue());
      auto m = parseModule(*text, name);
      if (!m)
        continue;
      for (auto &f : (*m)->functions()) {
        auto &nodes = f->nodes();
        auto firstCompute =
            std::find_if(nodes.begin(), nodes.end(),
                         [](auto &p) { return !isStorage(p->kind); });
        for (auto it = firstCompute; it != nodes.end();) {
          auto next = std::next(it);
          if ((*it)->kind == OpKind::Constant)
            nodes.splice(firstCompute, nodes, it);
          it = next;
        }
        expectGraphRoundTrip(*f, name);
        ++n;
      }
    }
  }
  EXPECT_GE(n, 8);
}

TEST(ProgramProto, RoundTripLitLir) {
  int n = 0;
  std::string dir = std::string(EMBER_SOURCE_DIR) + "/tests/lit/lir";
  for (auto &name : listDir(dir)) {
    if (name.size() < 4 || name.substr(name.size() - 4) != ".lir")
      continue;
    auto text = readFileBytes(dir + "/" + name);
    ASSERT_TRUE(text.hasValue());
    auto f = lir::parseFunction(*text, name);
    if (!f || !lir::verify(*f).isOk())
      continue;
    expectLirRoundTrip(*f, name);
    ++n;
  }
  EXPECT_GE(n, 5);
}

// ---- models ----------------------------------------------------------------

// Imports a model folder (model.onnx + test_data_set_0/input_*.pb) the way
// `ember conform` does: input shapes from the test data, specialized on
// inputs whose values decide shapes.
Expected<std::unique_ptr<Module>> importModel(const std::string &dir) {
  std::string model = dir + "/model.onnx";
  EMBER_ASSIGN(auto names, onnxInputNames(model));
  std::map<std::string, Tensor> feed;
  ImportOptions io;
  for (size_t i = 0; i < names.size(); ++i) {
    std::string p = dir + "/test_data_set_0/input_" + std::to_string(i) + ".pb";
    struct stat st;
    if (stat(p.c_str(), &st) != 0)
      break;
    EMBER_ASSIGN(Tensor t, readTensorFile(p));
    io.inputShapes[names[i]] = t.dims();
    feed[names[i]] = std::move(t);
  }
  for (int attempt = 0;; ++attempt) {
    auto m = importOnnxFile(model, io);
    if (m || m.status().code() != ErrorCode::DataDependent || attempt > 8)
      return m;
    auto it = feed.find(m.status().dependentInput);
    if (it != feed.end() && !io.frozenInputs.count(it->first))
      io.frozenInputs[it->first] = it->second;
    else if (io.frozenInputs.size() < feed.size())
      for (auto &kv : feed)
        io.frozenInputs[kv.first] = kv.second;
    else
      return m;
  }
}

void roundTripModel(const std::string &what, Module &m) {
  expectGraphRoundTrip(*m.main(), what + " (imported)");
  ASSERT_TRUE(runPipeline(m, PipelineOptions()).isOk()) << what;
  expectGraphRoundTrip(*m.main(), what + " (lowered)");
  auto f = buildPlannedLir(*m.main());
  ASSERT_TRUE(f.hasValue()) << what << ": " << f.status().message();
  expectLirRoundTrip(*f, what + " (planned LIR)");
  auto gb = backend::serializeGraph(*m.main());
  auto lb = backend::serializeLir(*f);
  ASSERT_TRUE(gb.hasValue() && lb.hasValue());
  std::printf("ProgramProto: %s: lowered graph %zu nodes, %zu bytes; LIR %zu "
              "instructions, %zu bytes\n",
              what.c_str(), m.main()->countNonStorage(), gb->size(),
              f->insts.size(), lb->size());
}

TEST(ProgramProto, RoundTripSharedModels) {
  const std::string root = "/work/shared/models";
  if (!isDir(root))
    GTEST_SKIP() << "no models at " << root;
  int n = 0;
  for (auto &name : listDir(root)) {
    std::string dir = root + "/" + name;
    if (!isDir(dir + "/test_data_set_0"))
      continue;
    auto m = importModel(dir);
    ASSERT_TRUE(m.hasValue()) << name << ": " << m.status().message();
    roundTripModel(name, **m);
    ++n;
  }
  std::printf("ProgramProto: %d models round-tripped (graph, lowered, LIR)\n",
              n);
  EXPECT_GE(n, 1);
}

// The light models whose structure the shared ones lack (many Concat,
// channel shuffles); the others only add hundreds of MB of weights.
TEST(ProgramProto, RoundTripLightModels) {
  const std::string root = "/work/shared/onnx-backend/light";
  if (!isDir(root))
    GTEST_SKIP() << "no models at " << root;
  int n = 0;
  for (const char *name : {"light_resnet50", "light_densenet121",
                           "light_shufflenet", "light_squeezenet"}) {
    std::string path = root + "/" + name + ".onnx";
    struct stat st;
    if (stat(path.c_str(), &st) != 0)
      continue;
    auto m = importOnnxFile(path, ImportOptions());
    ASSERT_TRUE(m.hasValue()) << name << ": " << m.status().message();
    roundTripModel(name, **m);
    ++n;
  }
  EXPECT_GE(n, 1);
}

// ---- hostile graphs --------------------------------------------------------

backend::v1::Graph smallProto() {
  auto m = parse(kSmall);
  backend::v1::Graph g;
  EXPECT_TRUE(m && backend::toProto(*m->main(), g).isOk());
  // values: 0 %x, 1 %z, 2 %c, 3 %y, 4 %r; nodes: 0 Add, 1 Relu.
  return g;
}

// Deserializing `g`'s bytes fails with a message containing every needle.
void expectGraphError(const backend::v1::Graph &g,
                      std::initializer_list<const char *> needles) {
  std::string bytes;
  ASSERT_TRUE(g.SerializeToString(&bytes));
  auto m = backend::deserializeGraph(bytes.data(), bytes.size());
  ASSERT_FALSE(m.hasValue()) << "accepted:\n" << printed(**m);
  for (const char *n : needles)
    EXPECT_NE(m.status().message().find(n), std::string::npos)
        << "'" << n << "' not in: " << m.status().message();
}

TEST(ProgramProto, SmallGraphIsValid) {
  backend::v1::Graph g = smallProto();
  auto m = backend::fromProto(g);
  ASSERT_TRUE(m.hasValue()) << m.status().message();
  EXPECT_EQ(printed(**m), printed(*parse(kSmall)->main()));
}

TEST(ProgramProto, BadSchemaVersion) {
  auto g = smallProto();
  g.set_schema_version(2);
  expectGraphError(g, {"schema version 2", "supports version 1"});
  g.set_schema_version(0);
  expectGraphError(g, {"schema version 0"});
}

TEST(ProgramProto, BadValueIds) {
  auto g = smallProto();
  g.mutable_nodes(0)->set_inputs(1, 99);
  expectGraphError(g, {"graph node #0 (Add 'add1'): operand 1 refers to value "
                       "99, but the graph has 5 values"});
  g = smallProto();
  g.mutable_nodes(0)->set_inputs(0, 4);
  expectGraphError(g, {"graph node #0 (Add 'add1'): operand 0 refers to value "
                       "4 (%r), which is not defined before it"});
  g = smallProto();
  g.mutable_nodes(1)->set_inputs(0, -7);
  expectGraphError(g, {"graph node #1 (Relu)", "value -7"});
  g = smallProto();
  g.mutable_nodes(1)->set_outputs(0, 3);
  expectGraphError(g, {"graph node #1 (Relu): result 0 defines value 3 (%y), "
                       "which is already defined"});
  g = smallProto();
  g.mutable_constants(0)->set_value(5);
  expectGraphError(g, {"constant #0 defines value 5, but the graph has 5"});
  g = smallProto();
  g.add_values()->set_name("orphan");
  expectGraphError(g, {"value 5 (%orphan) is never defined"});
  g = smallProto();
  g.mutable_values(1)->set_name("x");
  expectGraphError(g, {"value 1 (%x)", "same name"});
  g = smallProto();
  g.set_outputs(0, 77);
  expectGraphError(g, {"graph output #0", "value 77"});
  g = smallProto();
  g.add_outputs(4);
  expectGraphError(g, {"2 outputs but 1 output names"});
}

TEST(ProgramProto, UnknownOrStorageOp) {
  auto g = smallProto();
  g.mutable_nodes(1)->set_op("Frobnicate");
  expectGraphError(g, {"graph node #1 (\"Frobnicate\"): unknown op"});
  g = smallProto();
  g.mutable_nodes(1)->set_op("Constant");
  expectGraphError(g, {"graph node #1 (Constant)", "not a node op"});
}

TEST(ProgramProto, WrongOperandOrResultCount) {
  auto g = smallProto();
  g.mutable_nodes(0)->add_inputs(1);
  expectGraphError(g, {"graph node #0 (Add 'add1'): 3 operands, but Add takes "
                       "2 to 2"});
  g = smallProto();
  g.mutable_nodes(1)->set_inputs(0, -1);
  expectGraphError(g, {"graph node #1 (Relu): operand 0 is absent (-1), but "
                       "Relu requires it"});
  g = smallProto();
  g.mutable_nodes(0)->set_inputs(1, -1);
  expectGraphError(g, {"graph node #0 (Add 'add1'): operand 1 is absent"});
  g = smallProto();
  *g.add_values() = g.values(4);
  g.mutable_values(5)->set_name("r2");
  g.mutable_nodes(1)->add_outputs(5);
  expectGraphError(g, {"graph node #1 (Relu): 2 results, but Relu has 1"});
  g = smallProto();
  g.mutable_nodes(1)->clear_outputs();
  expectGraphError(g, {"0 results"});
}

TEST(ProgramProto, WrongDeclaredType) {
  auto g = smallProto();
  g.mutable_values(4)->mutable_type()->set_dims(1, 4);
  expectGraphError(g, {"graph node #1 (Relu): result 0 (value 4 (%r)) is "
                       "declared f32[2,4] but Relu gives f32[2,3]"});
  g = smallProto();
  g.mutable_values(4)->mutable_type()->set_dtype("f16");
  expectGraphError(g, {"declared f16[2,3] but Relu gives f32[2,3]"});
  // Operand shapes the op rejects: the kernel's error, with the node.
  g = smallProto();
  g.mutable_values(0)->mutable_type()->set_dims(1, 5);
  expectGraphError(g, {"graph node #0 (Add 'add1')"});
}

TEST(ProgramProto, BadTypes) {
  auto g = smallProto();
  g.mutable_values(1)->mutable_type()->set_dtype("f33");
  expectGraphError(g, {"value 1 (%z): unknown dtype \"f33\""});
  g = smallProto();
  g.mutable_values(1)->mutable_type()->clear_dims();
  g.mutable_values(1)->mutable_type()->add_dims(int64_t(1) << 40);
  g.mutable_values(1)->mutable_type()->add_dims(int64_t(1) << 40);
  expectGraphError(g, {"value 1 (%z)", "tensor limit"});
  g = smallProto();
  g.mutable_values(1)->mutable_type()->add_dims(INT64_MAX);
  expectGraphError(g, {"tensor limit"});
  g = smallProto();
  // A zero dim does not hide an overflowing product from the kernels.
  g.mutable_values(1)->mutable_type()->clear_dims();
  for (int i = 0; i < 3; ++i)
    g.mutable_values(1)->mutable_type()->add_dims(i ? INT64_MAX : 0);
  expectGraphError(g, {"tensor limit"});
  g = smallProto();
  g.mutable_values(1)->mutable_type()->set_dims(0, -2);
  expectGraphError(g, {"value 1 (%z): dimension 0 is negative (-2)"});
  g = smallProto();
  g.mutable_values(1)->clear_type();
  expectGraphError(g, {"value 1 (%z) has no type"});
  g = smallProto();
  auto *q = g.mutable_values(1)->mutable_type()->mutable_quant();
  q->add_scales(0.5f);
  expectGraphError(g, {"1 scales but 0 zero points"});
  q->add_zero_points(0);
  q->add_scales(0.25f);
  q->add_zero_points(0);
  q->set_axis(5);
  expectGraphError(g, {"axis 5 is out of range for rank 2"});
  q->set_axis(1);
  expectGraphError(g, {"2 per-channel scales for axis 1 of size 3"});
  q->clear_scales();
  q->clear_zero_points();
  expectGraphError(g, {"without scales"});
}

TEST(ProgramProto, BadConstantData) {
  auto g = smallProto();
  g.mutable_constants(0)->mutable_data()->set_data(std::string(8, '\0'));
  expectGraphError(g, {"constant #0 %c: 8 bytes of data, but f32[3] needs 12"});
  g = smallProto();
  g.mutable_constants(0)->mutable_data()->mutable_type()->add_dims(1);
  expectGraphError(g,
                   {"the data is f32[3,1] but the value is declared f32[3]"});
  g = smallProto();
  g.mutable_constants(0)->clear_data();
  expectGraphError(g, {"constant #0 %c: no data"});
  // A bool byte other than 0 or 1.
  auto m = parse(R"(
func @main(%x: bool[2]) {
  %c = Constant dense<bool[2]: [1, 0]>
  %y = And(%x, %c) : bool[2]
  return %y
}
)");
  ASSERT_TRUE(m);
  ASSERT_TRUE(backend::toProto(*m->main(), g).isOk());
  g.mutable_constants(0)->mutable_data()->set_data(std::string("\x01\x02", 2));
  expectGraphError(g, {"element 1 is the byte 2, not a value of bool"});
}

TEST(ProgramProto, BadAttributes) {
  auto g = smallProto();
  g.mutable_nodes(1)->add_attributes()->set_name("a");
  expectGraphError(g, {"graph node #1 (Relu): attribute 'a': no value is set"});
  g = smallProto();
  for (int i = 0; i < 2; ++i) {
    auto *a = g.mutable_nodes(1)->add_attributes();
    a->set_name("a");
    a->set_i(i);
  }
  expectGraphError(g, {"attribute 'a' is given twice"});
  g = smallProto();
  g.mutable_nodes(1)->add_attributes()->set_i(1);
  expectGraphError(g, {"an attribute has no name"});
  g = smallProto();
  auto *t = g.mutable_nodes(1)->add_attributes();
  t->set_name("t");
  t->mutable_tensor()->mutable_type()->set_dtype("i32");
  t->mutable_tensor()->set_data("abc");
  expectGraphError(g, {"attribute 't': 3 bytes of data, but i32[] needs 4"});
}

// A chain of graphs, each holding the next as an attribute of an Identity.
backend::v1::Graph nested(int depth) {
  backend::v1::Graph g = smallProto();
  for (int i = 0; i < depth; ++i) {
    backend::v1::Graph outer = smallProto();
    auto *a = outer.mutable_nodes(1)->add_attributes();
    a->set_name("sub");
    *a->mutable_graph() = std::move(g);
    g = std::move(outer);
  }
  return g;
}

TEST(ProgramProto, DeepNesting) {
  auto ok = backend::fromProto(nested(64));
  ASSERT_TRUE(ok.hasValue()) << ok.status().message();
  auto deep = backend::fromProto(nested(65));
  ASSERT_FALSE(deep.hasValue());
  EXPECT_NE(deep.status().message().find("nested more than 64 deep"),
            std::string::npos)
      << deep.status().message();
  expectGraphError(nested(65), {"nested more than 64 deep"});
  // Far deeper input stops in the protobuf parser, also with an error.
  expectGraphError(nested(200), {"cannot parse", "nested more than"});
  // The serializer refuses what the reader would refuse.
  std::unique_ptr<Function> inner = std::move(parse(kSmall)->functions()[0]);
  for (int i = 0; i < 65; ++i) {
    std::unique_ptr<Function> outer = std::move(parse(kSmall)->functions()[0]);
    Node *relu = std::prev(outer->nodes().end())->get();
    ASSERT_EQ(relu->kind, OpKind::Relu);
    relu->attrs["sub"] =
        Attr::ofGraph(std::shared_ptr<Function>(std::move(inner)));
    inner = std::move(outer);
    if (i == 63)
      expectGraphRoundTrip(*inner, "64 deep");
  }
  auto s = backend::serializeGraph(*inner);
  ASSERT_FALSE(s.hasValue());
  EXPECT_NE(s.status().message().find("nested more than 64 deep"),
            std::string::npos)
      << s.status().message();
}

TEST(ProgramProto, TruncatedAndRandomBytes) {
  auto m = parse(kControlFlow);
  ASSERT_TRUE(m);
  auto bytes = backend::serializeGraph(*m->main());
  ASSERT_TRUE(bytes.hasValue());
  // Every prefix is an error or a graph that round-trips; none crashes.
  size_t accepted = 0;
  for (size_t n = 0; n < bytes->size(); ++n) {
    auto r = backend::deserializeGraph(bytes->data(), n);
    if (r) {
      ++accepted;
      expectGraphRoundTrip(*(*r)->main(), "prefix");
    } else {
      EXPECT_FALSE(r.status().message().empty());
    }
  }
  EXPECT_LT(accepted, bytes->size() / 10);
  auto cut = backend::deserializeGraph(bytes->data(), bytes->size() - 1);
  ASSERT_FALSE(cut.hasValue());
  EXPECT_NE(cut.status().message().find("cannot parse"), std::string::npos)
      << cut.status().message();
  auto empty = backend::deserializeGraph(nullptr, 0);
  ASSERT_FALSE(empty.hasValue());
  EXPECT_NE(empty.status().message().find("schema version 0"),
            std::string::npos);
  // Random bytes and random single-byte changes of a valid graph.
  std::mt19937 rng(7);
  for (int i = 0; i < 2000; ++i) {
    std::string b;
    if (i % 2) {
      b.resize(rng() % 256);
      for (char &c : b)
        c = char(rng());
    } else {
      b = *bytes;
      for (int k = 0; k < 1 + i % 4; ++k)
        b[rng() % b.size()] = char(rng());
    }
    auto r = backend::deserializeGraph(b.data(), b.size());
    if (r)
      expectGraphRoundTrip(*(*r)->main(), "mutated");
    auto l = backend::deserializeLir(b.data(), b.size());
    if (l)
      expectLirRoundTrip(*l, "mutated");
  }
}

// ---- hostile LIR -----------------------------------------------------------

const char *kSmallLir = R"(lir @main {
  space host capacity 0 align 64
  space dram capacity 0 align 64
  input %x : f32[4] in host
  output %y : f32[4] in host
  weight %w : f32[4] in dram = dense<f32[4]: [1.0, 2.0, 3.0, 4.0]>
  activation %t : f32[4] in dram offset 0
  view %v = %t[0] : f32[2,2]
  alloc %t
  Add(in %x, in %w, out %t) loc("a")
  Neg(inout %v)
  %tok = dma.start out %y, in %t, bytes 16
  dma.wait %tok
  dealloc %t
}
)";

backend::v1::LirProgram smallLirProto() {
  auto f = lir::parseFunction(kSmallLir);
  EXPECT_TRUE(f.hasValue()) << f.status().message();
  auto bytes = backend::serializeLir(*f);
  EXPECT_TRUE(bytes.hasValue());
  backend::v1::LirProgram p;
  EXPECT_TRUE(p.ParseFromString(*bytes));
  // buffers: 0 %x, 1 %y, 2 %w, 3 %t; view 0 %v; instructions: 0 alloc,
  // 1 Add, 2 Neg, 3 dma.start, 4 dma.wait, 5 dealloc.
  return p;
}

void expectLirError(const backend::v1::LirProgram &p,
                    std::initializer_list<const char *> needles) {
  std::string bytes;
  ASSERT_TRUE(p.SerializeToString(&bytes));
  auto f = backend::deserializeLir(bytes.data(), bytes.size());
  ASSERT_FALSE(f.hasValue()) << "accepted:\n" << lir::printFunction(*f);
  for (const char *n : needles)
    EXPECT_NE(f.status().message().find(n), std::string::npos)
        << "'" << n << "' not in: " << f.status().message();
}

TEST(ProgramProto, LirRoundTripSmall) {
  auto f = lir::parseFunction(kSmallLir);
  ASSERT_TRUE(f.hasValue()) << f.status().message();
  expectLirRoundTrip(*f, "small");
  EXPECT_EQ(smallLirProto().buffers(3).offset(), 0);
  // Unplanned activations stay unplanned (-1).
  f->buffers[3].offset = -1;
  expectLirRoundTrip(*f, "unplanned");
}

TEST(ProgramProto, LirHostile) {
  auto p = smallLirProto();
  p.set_schema_version(3);
  expectLirError(p, {"schema version 3", "supports version 1"});
  p = smallLirProto();
  p.mutable_buffers(2)->set_space(5);
  expectLirError(p, {"LIR buffer #2 %w: space 5, but the program has 2"});
  p = smallLirProto();
  p.mutable_instructions(1)->mutable_operands(1)->mutable_ref()->set_index(9);
  expectLirError(p, {"LIR instruction #1 (Add): operand 1 refers to buffer 9, "
                     "but the program has 4 buffers"});
  p = smallLirProto();
  p.mutable_instructions(2)->mutable_operands(0)->mutable_ref()->set_index(1);
  expectLirError(p, {"refers to view 1, but the program has 1 views"});
  p = smallLirProto();
  p.mutable_views(0)->set_buffer(4);
  expectLirError(p, {"LIR view #0 %v: buffer 4, but the program has 4"});
  p = smallLirProto();
  p.mutable_instructions(1)->set_op("Frobnicate");
  expectLirError(p, {"LIR instruction #1 (\"Frobnicate\"): unknown op"});
  p = smallLirProto();
  p.mutable_instructions(1)->set_op("Placeholder");
  expectLirError(p, {"not an instruction"});
  p = smallLirProto();
  p.mutable_buffers(2)->set_payload("xyz");
  expectLirError(p, {"LIR buffer #2 %w: payload: 3 bytes of data, but "
                     "f32[4] needs 16"});
  p = smallLirProto();
  p.mutable_buffers(0)->set_payload("xyz");
  expectLirError(p, {"LIR buffer #0 %x: only weights have a payload"});
  p = smallLirProto();
  p.mutable_buffers(0)->set_offset(128);
  expectLirError(
      p, {"only activations have an offset (this is an input, offset 128)"});
  p = smallLirProto();
  p.mutable_buffers(3)->set_offset(-5);
  expectLirError(p, {"offset -5"});
  p = smallLirProto();
  p.mutable_buffers(3)->mutable_type()->add_dims(int64_t(1) << 62);
  expectLirError(p, {"LIR buffer #3 %t", "tensor limit"});
  p = smallLirProto();
  p.mutable_instructions(0)->set_kind(
      static_cast<backend::v1::Instruction::Kind>(42));
  expectLirError(p, {"LIR instruction #0: unknown kind 42"});
  p = smallLirProto();
  p.mutable_instructions(0)->add_operands();
  expectLirError(p,
                 {"LIR instruction #0 (alloc): 2 operands, but alloc has 1"});
  p = smallLirProto();
  p.mutable_instructions(0)->set_op("Add");
  expectLirError(p, {"only compute instructions have an op"});
  p = smallLirProto();
  p.mutable_instructions(1)->set_token("t");
  expectLirError(p, {"only DMA instructions have a token"});
  p = smallLirProto();
  p.mutable_instructions(1)->mutable_operands(0)->mutable_ref()->set_kind(
      backend::v1::Ref::NONE);
  p.mutable_instructions(1)->mutable_operands(0)->mutable_ref()->set_index(0);
  expectLirError(p, {"LIR instruction #1 (Add): input 0 is absent, but Add "
                     "requires it"});
  p = smallLirProto();
  p.mutable_instructions(1)->mutable_operands(1)->mutable_ref()->set_kind(
      backend::v1::Ref::NONE);
  p.mutable_instructions(1)->mutable_operands(1)->mutable_ref()->set_index(0);
  expectLirError(p, {"input 1 is absent"});
  p = smallLirProto();
  p.mutable_instructions(1)->mutable_operands(0)->set_access(
      static_cast<backend::v1::Operand::Access>(7));
  expectLirError(p, {"operand 0: unknown access 7"});
  p = smallLirProto();
  auto *a = p.mutable_instructions(1)->add_attributes();
  a->set_name("g");
  *a->mutable_graph() = smallProto();
  expectLirError(p, {"attribute 'g': a subgraph in LIR"});
  // Structure is fine, semantics are not: the LIR verifier's error.
  p = smallLirProto();
  std::swap(*p.mutable_instructions(0), *p.mutable_instructions(1));
  expectLirError(p, {"LIR program 'main'", "before its alloc"});
  p = smallLirProto();
  p.mutable_instructions(1)->mutable_operands(2)->set_access(
      backend::v1::Operand::IN);
  expectLirError(p, {"Add takes 2..2 inputs, got 3"});
  // Planned programs are checked as planned.
  p = smallLirProto();
  p.mutable_buffers(3)->set_offset(3);
  expectLirError(p, {"not aligned to 64"});
  // Bytes that are not a LirProgram.
  std::string junk = "\xff\xff\xff";
  auto f = backend::deserializeLir(junk.data(), junk.size());
  ASSERT_FALSE(f.hasValue());
  EXPECT_NE(f.status().message().find("cannot parse 3 bytes as "
                                      "ember.backend.v1.LirProgram"),
            std::string::npos)
      << f.status().message();
}

TEST(ProgramProto, LirTruncated) {
  auto f = lir::parseFunction(kSmallLir);
  ASSERT_TRUE(f.hasValue());
  auto bytes = backend::serializeLir(*f);
  ASSERT_TRUE(bytes.hasValue());
  for (size_t n = 0; n < bytes->size(); ++n) {
    auto r = backend::deserializeLir(bytes->data(), n);
    if (r)
      expectLirRoundTrip(*r, "prefix");
  }
}

} // namespace
