// The capability layer: one test per (op, dtype) of the plugin's own
// manifest, Capability.<Op>_<dtype>. From the claim the kit draws cases
// within it: ranks within the manifest's range (edge sizes 1, odd, prime,
// one dimension larger than any tile, a mix; attribute values the op
// allows), keeps those the manifest and query_support accept, and runs up
// to kCases of them, in one program, on the plugin and on the reference.
//   - No case can exist (the op does not take that type, or the kit cannot
//     build the op): skipped, naming why.
//   - Cases exist but none is within the manifest's own limits, or
//     query_support refuses them all: a failure naming the claim. A claim
//     the backend never runs is a wrong manifest.
//     Unless the claim names a context (OpCapability.context: a fused
//     pattern, a placement, an operand computed on the device) that covers
//     the dtype: then query_support refusing every single-node case is
//     expected, and the test is skipped naming that context.
//   - Compile refuses, the run fails, a result differs: a failure naming
//     the case (its shapes and attributes) and the first differing element.
#include "KitInternal.h"

#include "backend/Artifact.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"

#include <cmath>
#include <set>

namespace ember::kit {
namespace {

// Candidates drawn per claim.
constexpr int kCandidates = 24;

const v1::OpCapability *capabilityOf(const std::string &op) {
  for (auto &c : state().manifest.ops())
    if (c.op() == op)
      return &c;
  return nullptr;
}

// The context a claim runs in for element type `k` ("": on its own).
std::string contextOf(const v1::OpCapability &c, ElemKind k) {
  if (c.context().empty())
    return "";
  if (c.context_dtypes_size() == 0)
    return c.context();
  for (auto &d : c.context_dtypes())
    if (d == elemKindName(k))
      return c.context();
  return "";
}

std::string rankRange(const v1::OpCapability &c) {
  return concat("ranks ", c.min_rank(), " to ",
                c.max_rank() ? std::to_string(c.max_rank()) : "any");
}

// Up to `n` of `accepted`: one of each style first, the edges before the
// kit's fixed sample (a dimension larger than any tile, all ones, primes,
// odd sizes, a mix), then the rest in order (the draws interleave styles
// and ranks).
std::vector<CaseSpec> choose(const std::vector<CaseSpec> &accepted, size_t n) {
  static const CaseStyle priority[] = {CaseStyle::Big,   CaseStyle::Ones,
                                       CaseStyle::Prime, CaseStyle::Odd,
                                       CaseStyle::Mixed, CaseStyle::Canonical};
  std::vector<CaseSpec> out;
  std::vector<bool> taken(accepted.size(), false);
  for (CaseStyle style : priority)
    for (size_t i = 0; i < accepted.size() && out.size() < n; ++i)
      if (accepted[i].style == style) {
        out.push_back(accepted[i]);
        taken[i] = true;
        break;
      }
  for (size_t i = 0; i < accepted.size() && out.size() < n; ++i)
    if (!taken[i])
      out.push_back(accepted[i]);
  return out;
}

// The float tolerance of a case: wider with the number of terms each
// result sums (rounding grows with it; any order of summation is fine).
double caseAtol(const CaseInfo &c, const Tensor &out, double atol) {
  if (out.elem() == ElemKind::F16 || out.elem() == ElemKind::BF16) {
    double base = out.elem() == ElemKind::F16 ? 1e-2 : 5e-2;
    return base * std::sqrt(c.accumulate);
  }
  return atol * c.accumulate;
}

void capabilityTest(const std::string &op, ElemKind k) {
  KitState &s = state();
  std::string label = concat(op, " ", elemKindName(k));
  const v1::OpCapability *cap = capabilityOf(op);
  KIT_REQUIRE(cap != nullptr) << label << ": not in the manifest";
  // One seed per (op, dtype): the same cases in every run, on every host.
  unsigned seed =
      s.config.seed * 31u +
      unsigned(backend::fnv1a64(label.data(), label.size()) & 0xffff);

  // 1. Draw candidates; keep those Ember builds and the manifest claims.
  std::vector<CaseSpec> claimed;
  std::vector<std::string> claimedText;
  int built = 0;
  std::string firstBuildError, outsideWhy, outsideCase;
  for (const CaseSpec &spec :
       caseSpecs(op, cap->min_rank(), cap->max_rank(), seed, kCandidates)) {
    auto one = buildCases(op, k, {spec});
    if (!one) {
      if (firstBuildError.empty())
        firstBuildError = one.status().message();
      continue;
    }
    ++built;
    std::string why;
    if (!backend::manifestClaims(s.manifest, one->node(), why)) {
      if (outsideWhy.empty()) {
        outsideWhy = why;
        outsideCase = one->cases[0].text;
      }
      continue;
    }
    claimed.push_back(spec);
    claimedText.push_back(one->cases[0].text);
  }
  if (built == 0) {
    GTEST_SKIP() << firstBuildError;
  }
  KIT_REQUIRE(!claimed.empty())
      << "the manifest claims " << label << " (" << rankRange(*cap)
      << "), but none of the " << built << " cases the kit built is within "
      << "the manifest's own limits, e.g. " << outsideCase << ": " << outsideWhy
      << ". Claim only what some " << op << " node can be.";

  // 2. What query_support accepts (one graph, one node per case).
  std::vector<CaseSpec> accepted;
  if (s.plugin->api().query_support && s.manifest.accepts_graph()) {
    KIT_ASSIGN(Sample all, buildCases(op, k, claimed));
    KIT_ASSIGN(std::string g, backend::serializeGraph(all.fn()));
    KIT_ASSIGN(v1::SupportReport r, s.plugin->querySupport(g, claimed.size()));
    std::vector<int> answer(claimed.size(), -1);
    std::vector<std::string> reason(claimed.size());
    for (auto &n : r.nodes()) {
      answer[size_t(n.node())] = n.supported() ? 1 : 0;
      reason[size_t(n.node())] = n.reason();
    }
    size_t refused = 0;
    std::string example;
    for (size_t i = 0; i < claimed.size(); ++i) {
      KIT_CHECK(answer[i] >= 0)
          << label << ": query_support gave no answer for node " << i << " ("
          << claimedText[i] << ")";
      if (answer[i] == 1) {
        accepted.push_back(claimed[i]);
        continue;
      }
      KIT_CHECK(!reason[i].empty()) << label << ": query_support refused "
                                    << claimedText[i] << " without a reason";
      if (example.empty())
        example = claimedText[i] + ": " + reason[i];
      ++refused;
    }
    if (refused)
      note(concat("query_support refused ", refused, " of ", claimed.size(),
                  " cases within the manifest, e.g. ", example));
    std::string context = contextOf(*cap, k);
    if (accepted.empty() && !context.empty()) {
      GTEST_SKIP() << label << " runs only in context: " << context
                   << " (the manifest's context; query_support refuses all "
                   << claimed.size() << " single-node cases, e.g. " << example
                   << ")";
    }
    KIT_REQUIRE(!accepted.empty())
        << "the manifest claims " << label << " (" << rankRange(*cap)
        << "), but query_support refuses all " << claimed.size()
        << " cases the kit built within the manifest's limits, e.g. " << example
        << ". A claim needs cases the backend runs: narrow the "
        << "manifest to them, accept them, or name the context the op "
        << "runs in (OpCapability.context).";
  } else {
    accepted = claimed;
  }

  // 3. Run some on the reference and the plugin, in one program.
  std::vector<CaseSpec> run =
      choose(accepted, size_t(std::max(1, s.config.casesPerClaim)));
  KIT_ASSIGN(Sample sample, buildCases(op, k, run));
  std::vector<Tensor> expected;
  auto want = runOnReference(sample.fn(), sample.inputs);
  if (want) {
    expected = std::move(*want);
  } else {
    // Drop the cases the reference cannot run (its limits, not the
    // plugin's), and go on with the others.
    std::vector<CaseSpec> ok;
    std::string why = want.status().message();
    for (const CaseSpec &spec : run) {
      auto one = buildCases(op, k, {spec});
      if (one && runOnReference(one->fn(), one->inputs))
        ok.push_back(spec);
    }
    if (ok.empty()) {
      GTEST_SKIP() << "the reference (" << s.referenceName
                   << ") cannot run the " << label << " cases: " << why;
    }
    note(concat("the reference cannot run ", run.size() - ok.size(),
                " of the cases: ", why));
    run = ok;
    KIT_ASSIGN(sample, buildCases(op, k, run));
    KIT_ASSIGN(expected, runOnReference(sample.fn(), sample.inputs));
  }
  std::string cases;
  for (size_t i = 0; i < sample.cases.size(); ++i)
    cases += concat(i ? "; " : "", sample.cases[i].text);
  note(concat(sample.cases.size(), " cases: ", cases));
  // Graph programs when the plugin takes them, else planned LIR.
  auto got = s.manifest.accepts_graph()
                 ? runOnPlugin(sample.fn(), sample.inputs)
                 : runLirOnPlugin(sample.fn(), sample.inputs);
  KIT_REQUIRE(got.hasValue())
      << label << " is claimed by the manifest and query_support but does "
      << "not run (" << sample.cases.size()
      << " cases in one program: " << cases << "): " << got.status().message();
  KIT_REQUIRE(got->size() == expected.size())
      << label << ": " << got->size() << " outputs, expected "
      << expected.size();

  // 4. Compare case by case.
  int wrong = 0;
  std::string first;
  for (size_t i = 0; i < sample.cases.size(); ++i) {
    const CaseInfo &c = sample.cases[i];
    std::vector<Tensor> g, w;
    for (size_t o = c.firstOutput; o < c.firstOutput + c.numOutputs; ++o) {
      g.push_back(std::move((*got)[o]));
      w.push_back(std::move(expected[o]));
    }
    double atol = w.empty() ? s.config.atol : caseAtol(c, w[0], s.config.atol);
    std::string diff = compareOutputs(g, w, s.config.rtol, atol);
    if (diff.empty())
      continue;
    if (!wrong++)
      first = concat("case ", i + 1, " of ", sample.cases.size(), ", ", c.text,
                     " (", caseStyleName(c.spec.style), " sizes): ", diff);
  }
  KIT_CHECK(wrong == 0) << label << " computes a wrong result in " << wrong
                        << " of " << sample.cases.size() << " cases; " << first;
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
      if (c.op().find("::") != std::string::npos)
        continue; // a custom op: CustomOpTests.cpp
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
