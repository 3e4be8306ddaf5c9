// The capability layer: one test per (op, dtype) of the plugin's own
// manifest. Each builds the op's sample program with that element type,
// checks that the manifest and query_support claim it, runs it on the
// plugin and on the reference with the same inputs, and compares. A claim
// the plugin cannot honour (compile refuses, the run fails, the results
// differ) fails naming the op, the dtype and the first differing element.
#include "KitInternal.h"

#include "backend/Artifact.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"

namespace ember::kit {
namespace {

void capabilityTest(const std::string &op, ElemKind k) {
  KitState &s = state();
  std::string label = concat(op, " ", elemKindName(k));
  // One seed per (op, dtype): the same inputs in every run, on every host.
  unsigned seed =
      s.config.seed * 31u +
      unsigned(backend::fnv1a64(label.data(), label.size()) & 0xffff);
  auto sample = buildSample(op, k, seed);
  if (!sample) {
    GTEST_SKIP() << sample.status().message();
  }
  const Node &n = sample->node();
  std::string why;
  if (!backend::manifestClaims(s.manifest, n, why)) {
    GTEST_SKIP() << "the manifest lists " << label
                 << " but does not claim the sample node "
                 << n.types[0].toString() << ": " << why;
  }
  if (s.plugin->api().query_support && s.manifest.accepts_graph()) {
    KIT_ASSIGN(std::string g, backend::serializeGraph(sample->fn()));
    KIT_ASSIGN(v1::SupportReport r, s.plugin->querySupport(g, 1));
    ASSERT_EQ(r.nodes_size(), 1) << label << ": query_support answered "
                                 << r.nodes_size() << " nodes for a graph of 1";
    if (!r.nodes(0).supported()) {
      const v1::OpCapability *cap = nullptr;
      for (auto &c : s.manifest.ops())
        if (c.op() == op)
          cap = &c;
      // Constraints in the manifest may exclude the sample's shapes.
      if (cap && cap->constraints_size()) {
        GTEST_SKIP() << label << ": query_support refuses the sample ("
                     << r.nodes(0).reason() << "), within the manifest's "
                     << "constraints";
      }
      KIT_REQUIRE(false) << label
                         << ": the manifest claims the sample node but "
                         << "query_support refuses it: " << r.nodes(0).reason();
    }
  }
  auto want = runOnReference(sample->fn(), sample->inputs);
  if (!want) {
    GTEST_SKIP() << "the reference (" << s.referenceName << ") cannot run the "
                 << label << " sample: " << want.status().message();
  }
  // Graph programs when the plugin takes them, else planned LIR.
  auto got = s.manifest.accepts_graph()
                 ? runOnPlugin(sample->fn(), sample->inputs)
                 : runLirOnPlugin(sample->fn(), sample->inputs);
  KIT_REQUIRE(got.hasValue())
      << label << " is claimed by the manifest but does not run: "
      << got.status().message();
  std::string diff = compareOutputs(*got, *want, s.config.rtol, s.config.atol);
  KIT_CHECK(diff.empty()) << label << " computes a wrong result: " << diff;
}

std::string testName(const std::string &op, const std::string &dtype) {
  std::string n = op + "_" + dtype;
  for (char &c : n)
    if (!isalnum(static_cast<unsigned char>(c)) && c != '_')
      c = '_';
  return n;
}

} // namespace

void registerCapabilityTests() {
  KitState &s = state();
  const v1::CapabilityManifest &m = s.manifest;
  if (m.ops_size() == 0) {
    addTest("Capability", "Manifest", [] {
      GTEST_SKIP() << "the manifest claims no ops: every op is unsupported";
    });
    return;
  }
  if (!m.accepts_graph() && !m.accepts_lir()) {
    addTest("Capability", "Manifest", [] {
      GTEST_SKIP() << "the plugin accepts neither graph nor LIR programs";
    });
    return;
  }
  std::set<std::string> seen;
  for (auto &c : m.ops())
    for (auto &d : c.dtypes()) {
      std::string name = testName(c.op(), d);
      if (!seen.insert(name).second)
        continue;
      ElemKind k;
      std::string op = c.op(), dtype = d;
      if (!parseElemKind(d, k)) {
        addTest("Capability", name, [op, dtype] {
          KIT_REQUIRE(false) << op << ": the manifest lists the unknown dtype '"
                             << dtype << "'";
        });
        continue;
      }
      addTest("Capability", name, [op, k] { capabilityTest(op, k); });
    }
}

} // namespace ember::kit
