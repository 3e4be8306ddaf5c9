// Custom ops in the capability layer (docs/custom-ops.md), with the op
// libraries the kit was given (--op-library):
//   Capability.Kernel_<op>        every op of those libraries: its cases
//     (the library's test_cases, else cases drawn from its arity) run by
//     its reference kernel in the in-process interpreter, with guard zones
//     around each result and each operand compared after the run, so a
//     kernel writing outside its results fails here naming its library;
//     with a lowering, the lowering parses, verifies and computes what the
//     kernel computes (within the kit's tolerance).
//   Capability.<domain::name>_<dtype>   an op the plugin's manifest claims
//     by name: its cases of that dtype on the plugin and on the reference.
//   Capability.Kernels_<op>       a plugin that runs custom ops' kernels
//     (manifest custom_op_kernels): every op without a lowering (those
//     reach it whole) on the plugin and on the reference.
#include "KitInternal.h"

#include "backend/Artifact.h"
#include "backend/OpLibrary.h"
#include "interp/Interpreter.h"
#include "ir/OpRegistry.h"
#include "ir/Printer.h"
#include "lower/Lowering.h"

#include <random>

namespace ember::kit {
namespace {

// One case: a function holding one node of the op, with its inputs.
struct CustomCase {
  std::shared_ptr<Module> module; // (cases from one text share it)
  const Function *fn = nullptr;
  std::vector<Tensor> inputs;
  std::string text; // "com.acme::Foo(f32[2,5], f32[2,5]) -> f32[2,5]"
};

std::string describeCase(const Function &f, const CustomOp &op) {
  for (auto &n : f.nodes())
    if (customOpOf(*n) == &op) {
      std::string s = op.fullName() + "(";
      for (size_t i = 0; i < n->inputs.size(); ++i)
        s += (i ? ", " : "") +
             (n->inputs[i].node ? n->inputs[i].type().toString() : "_");
      s += ") ->";
      for (size_t i = 0; i < n->types.size(); ++i)
        s += (i ? ", " : " ") + n->types[i].toString();
      return s;
    }
  return "@" + f.name();
}

// The element type of the op's first operand in f, or nullopt.
std::optional<ElemKind> firstDtype(const Function &f, const CustomOp &op) {
  for (auto &n : f.nodes())
    if (customOpOf(*n) == &op && !n->inputs.empty() && n->inputs[0].node)
      return n->inputs[0].type().elem();
  return std::nullopt;
}

// Cases drawn from the op's arity: its required operands of one shape and
// element type (k, or each of f32, i32, i64, f16, i8 and u8 in turn), ranks
// 1 to 4 within [minRank, maxRank], dims 1 to 7; kept when its type and
// shape function accepts them (its attributes are those it declares none
// of: an op that needs some is tested through its test_cases).
std::vector<CustomCase> drawnCases(const CustomOp &op,
                                   std::optional<ElemKind> k, unsigned minRank,
                                   unsigned maxRank, uint64_t seed,
                                   std::string &why) {
  static const ElemKind kDrawn[] = {ElemKind::F32, ElemKind::I32, ElemKind::I64,
                                    ElemKind::F16, ElemKind::I8,  ElemKind::U8};
  std::vector<ElemKind> kinds =
      k ? std::vector<ElemKind>{*k}
        : std::vector<ElemKind>(std::begin(kDrawn), std::end(kDrawn));
  std::vector<CustomCase> out;
  std::mt19937_64 rng(seed);
  unsigned lo = std::max(1u, minRank), hi = maxRank ? std::min(4u, maxRank) : 4;
  for (ElemKind kind : kinds)
    for (int attempt = 0; attempt < 8 && out.size() < 3 && lo <= hi;
         ++attempt) {
      Dims d(lo + attempt % (hi - lo + 1));
      for (auto &x : d)
        x = int64_t(1 + rng() % 7);
      auto m = std::make_shared<Module>();
      Function *f = m->addFunction(concat("case", out.size()));
      std::vector<Value> ins;
      for (unsigned i = 0; i < std::max(1u, op.minInputs); ++i)
        ins.push_back(Value(f->addPlaceholder(concat("x", i), Type(kind, d))));
      AttrMap attrs;
      setCustomOpAttrs(attrs, op, op.opsetFirst);
      std::vector<std::string> names;
      for (unsigned r = 0; r < op.minOutputs; ++r)
        names.push_back(concat("y", r));
      auto n = f->create(OpKind::Custom, ins, attrs, op.name,
                         int(op.minOutputs), nullptr, names);
      if (!n) {
        why = n.status().message();
        continue;
      }
      for (unsigned r = 0; r < (*n)->numResults(); ++r)
        f->addOutput(Value(*n, r), concat("y", r));
      CustomCase c;
      c.module = m;
      c.fn = f;
      for (Node *p : f->params())
        c.inputs.push_back(randomTensor(p->types[0], seed + c.inputs.size()));
      c.text = describeCase(*f, op);
      out.push_back(std::move(c));
    }
  return out;
}

// The op's cases: its test_cases (those of element type k when given),
// else drawn ones.
Expected<std::vector<CustomCase>> casesOf(const CustomOp &op,
                                          std::optional<ElemKind> k,
                                          unsigned minRank, unsigned maxRank,
                                          uint64_t seed) {
  std::vector<CustomCase> out;
  if (!op.testCases.empty()) {
    auto m = parseModule(op.testCases, op.fullName() + " test_cases");
    if (!m)
      return makeError(ErrorCode::Backend, op.describeLibrary(),
                       ": the test_cases of ", op.fullName(),
                       " do not parse: ", m.status().message());
    std::shared_ptr<Module> shared(std::move(*m));
    // The text names the op without an opset (its newest definition):
    // these cases are of this definition.
    for (auto &f : shared->functions())
      for (auto &n : f->nodes()) {
        const CustomOp *c = customOpOf(*n);
        if (c && c != &op && c->fullName() == op.fullName()) {
          n->attrs[kCustomOpsetAttr] = Attr::ofInt(op.opsetFirst);
          EMBER_TRY(
              inferNodeTypes(*n).withContext(op.fullName() + " test_cases"));
        }
      }
    for (auto &f : shared->functions()) {
      auto dt = firstDtype(*f, op);
      if (k && dt != k)
        continue;
      CustomCase c;
      c.module = shared;
      c.fn = f.get();
      for (Node *p : f->params())
        c.inputs.push_back(randomTensor(p->types[0], seed + c.inputs.size()));
      c.text = describeCase(*f, op);
      out.push_back(std::move(c));
    }
  }
  if (out.empty()) {
    std::string why = "no case of it is accepted";
    out = drawnCases(op, k, minRank, maxRank, seed, why);
    if (out.empty())
      return unsupported("no case of ", op.fullName(),
                         op.testCases.empty()
                             ? std::string(" (its library gives no test_cases")
                             : std::string(" (none of its test_cases"),
                         k ? concat(" of ", elemKindName(*k)) : std::string(),
                         "; drawn ones: ", why,
                         "); its library's test_cases would give the kit "
                         "cases to run");
  }
  return out;
}

uint64_t seedOf(const std::string &label) {
  return state().config.seed * 31u +
         (backend::fnv1a64(label.data(), label.size()) & 0xffff);
}

// Its reference kernel, guarded; its lowering against it.
void kernelTest(std::shared_ptr<const CustomOp> op) {
  KitState &s = state();
  auto cases =
      casesOf(*op, std::nullopt, 0, 0, seedOf("kernel " + op->fullName()));
  if (!cases) {
    // Neither its test_cases nor a drawn case: untested, not wrong.
    if (cases.status().code() == ErrorCode::Unsupported) {
      GTEST_SKIP() << cases.status().message();
    }
    KIT_REQUIRE(false) << cases.status().message();
  }
  for (const CustomCase &c : *cases) {
    // kernel_Custom runs every library kernel with guard zones.
    auto got = interpret(*c.fn, c.inputs);
    KIT_REQUIRE(got.hasValue()) << c.text << ": " << got.status().message();
    if (!op->hasLowering)
      continue;
    // The same function with the op lowered (a copy through its text).
    std::ostringstream text;
    printFunction(text, *c.fn);
    KIT_ASSIGN(auto copy, parseModule(text.str(), c.text));
    Function &g = *copy->main();
    Status ls = lowerFunction(g, LoweringOptions());
    KIT_REQUIRE(ls.isOk()) << c.text << ": " << ls.message();
    KIT_ASSIGN(auto lowered, interpret(g, c.inputs));
    std::string diff =
        compareOutputs(lowered, *got, s.config.rtol, s.config.atol);
    KIT_CHECK(diff.empty())
        << op->describeLibrary() << ": the lowering of " << op->fullName()
        << " computes another result than its reference kernel on " << c.text
        << ": " << diff;
  }
  note(
      concat(cases->size(), " cases", op->hasLowering ? ", lowering too" : ""));
}

// The op's cases on the plugin against the reference.
void pluginTest(std::shared_ptr<const CustomOp> op, std::optional<ElemKind> k,
                unsigned minRank, unsigned maxRank) {
  KitState &s = state();
  std::string label =
      op->fullName() + (k ? std::string(" ") + elemKindName(*k) : "");
  auto cases = casesOf(*op, k, minRank, maxRank, seedOf(label));
  if (!cases) {
    if (cases.status().code() == ErrorCode::Unsupported) {
      GTEST_SKIP() << cases.status().message();
    }
    KIT_REQUIRE(false) << cases.status().message();
  }
  for (const CustomCase &c : *cases) {
    auto want = runOnReference(*c.fn, c.inputs);
    KIT_REQUIRE(want.hasValue())
        << c.text << ": the reference (" << s.referenceName
        << ") does not run it: " << want.status().message();
    auto got = runOnPlugin(*c.fn, c.inputs);
    KIT_REQUIRE(got.hasValue()) << label << " is claimed but does not run ("
                                << c.text << "): " << got.status().message();
    std::string diff =
        compareOutputs(*got, *want, s.config.rtol, s.config.atol);
    KIT_CHECK(diff.empty())
        << label << " computes a wrong result on " << c.text
        << " (against its library's reference kernel): " << diff;
  }
  note(concat(cases->size(), " cases"));
}

std::string testName(const std::string &s) {
  std::string n = s;
  for (char &c : n)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_')
      c = '_';
  return n;
}

// An op's name in test names; with the first opset of its definition when
// it has several ("org_test__Add_v1", "org_test__Add_v2").
std::string opTestName(const CustomOp &op) {
  int defs = 0;
  for (auto &o : registeredCustomOps())
    defs += o->fullName() == op.fullName();
  return testName(op.fullName()) +
         (defs > 1 ? concat("_v", op.opsetFirst) : std::string());
}

} // namespace

void registerCustomOpTests() {
  KitState &s = state();
  Status loaded = backend::loadOpLibraries(s.config.opLibraries);
  if (!loaded.isOk()) {
    std::string msg = loaded.message();
    addTest("Capability", "OpLibraries", [msg] { KIT_REQUIRE(false) << msg; });
    return;
  }
  for (auto &op : registeredCustomOps())
    addTest("Capability", "Kernel_" + opTestName(*op),
            [op] { kernelTest(op); });
  // Claims by name.
  for (auto &c : s.manifest.ops()) {
    std::string domain, name;
    if (!splitCustomName(c.op(), domain, name))
      continue;
    auto op = findNewestCustomOp(domain, name);
    for (auto &d : c.dtypes()) {
      std::string test = testName(c.op() + "_" + d);
      ElemKind k;
      if (!op || !parseElemKind(d, k)) {
        std::string why =
            op ? concat("the manifest lists the unknown dtype '", d, "'")
               : concat("the manifest claims ", c.op(),
                        ", which no op library given to the kit defines "
                        "(--op-library)");
        addTest("Capability", test, [why] {
          if (why.find("unknown dtype") != std::string::npos) {
            KIT_REQUIRE(false) << why;
          } else {
            GTEST_SKIP() << why;
          }
        });
        continue;
      }
      unsigned lo = c.min_rank(), hi = c.max_rank();
      addTest("Capability", test,
              [op, k, lo, hi] { pluginTest(op, k, lo, hi); });
    }
  }
  // Custom ops by their kernels.
  if (s.manifest.custom_op_kernels())
    for (auto &op : registeredCustomOps())
      if (!op->hasLowering)
        addTest("Capability", "Kernels_" + opTestName(*op),
                [op] { pluginTest(op, std::nullopt, 0, 0); });
}

} // namespace ember::kit
