#include "quant/Quantizer.h"

#include "import/TensorIO.h"
#include "quant/ActEqualization.h"
#include "quant/Equalization.h"
#include "quant/QdqRewrite.h"
#include "quant/Refine.h"
#include "quant/ResidualEqualization.h"
#include "quant/Sensitivity.h"

#include <chrono>
#include <cmath>
#include <set>

namespace ember::quant {

namespace {

std::string describeOptions(const QuantizeOptions &o) {
  return concat(
      "method=", methodName(o.method),
      o.method == Method::Percentile
          ? concat(" percentile=", o.methodOptions.percentile)
          : std::string(),
      " weights=int8-symmetric-", o.perChannel ? "per-channel" : "per-tensor",
      " activations=",
      o.activationType == ElemKind::I16 ? "int16-symmetric"
      : o.mixedBudget > 0
          ? concat(o.activationType == ElemKind::I8 ? "int8" : "uint8",
                   "-asymmetric+int16-symmetric(mixed:", o.mixedBudget, ")")
      : o.activationType == ElemKind::I8 ? "int8-asymmetric"
                                         : "uint8-asymmetric",
      " equalize=", o.equalize ? 1 : 0,
      o.actEqualize > 0
          ? concat(" equalize_activations=", o.actEqualize,
                   o.actEqRaise ? "+raise" : "", o.actEqLinear ? "+linear" : "")
          : std::string(),
      o.resEqualize > 0 ? concat(" equalize_residual=", o.resEqualize)
                        : std::string(),
      o.perChannelActivations ? " activation_channels=auto" : "",
      " bias_correction=", o.biasCorrection ? 1 : 0,
      " refine=", o.refineRanges ? "ranges" : "",
      o.refineRanges && o.refineBias ? "+" : "", o.refineBias ? "bias" : "",
      !o.refineRanges && !o.refineBias ? "none" : "");
}

// Tensors whose range is never clipped: the model's outputs and the inputs
// of Softmax/LogSoftmax/ArgMax/TopK (through parameter sharing). Clipping
// there changes which class wins, and no later layer absorbs it.
std::set<std::string> unclippedTensors(const onnx::ModelProto &m,
                                       const QdqPlan &plan) {
  static const std::set<std::string> kDecisive = {"Softmax", "LogSoftmax",
                                                  "ArgMax", "TopK"};
  std::set<std::string> out;
  for (auto &o : m.graph().output())
    if (plan.spec(o.name()))
      out.insert(plan.root(o.name()));
  for (auto &n : m.graph().node())
    if (kDecisive.count(n.op_type()) && n.input_size() && plan.spec(n.input(0)))
      out.insert(plan.root(n.input(0)));
  return out;
}

std::map<std::string, QParams>
chooseParams(const onnx::ModelProto &m, const QdqPlan &plan,
             const Profile &prof, const QuantizeOptions &o, Status &st) {
  int32_t qmin, qmax;
  activationRange(o.activationType == ElemKind::I16 ? ElemKind::U8
                                                    : o.activationType,
                  qmin, qmax);
  std::set<std::string> unclipped = unclippedTensors(m, plan);
  std::map<std::string, QParams> out;
  for (auto &t : plan.tensors) {
    if (!t.shareWith.empty())
      continue;
    auto it = prof.tensors.find(t.name);
    if (it == prof.tensors.end()) {
      st = invalid("the profile has no statistics for tensor '", t.name,
                   "' (it was recorded with other options: recalibrate)");
      return out;
    }
    Method method = unclipped.count(t.name) ? Method::MinMax : o.method;
    Range r = chooseRange(it->second.hist, method, o.methodOptions);
    out[t.name] = affineParams(r, qmin, qmax);
  }
  return out;
}

// The int16 parameters of the roots in `wide`: symmetric (zero point 0)
// over the tensor's calibrated min/max. At 16 bits the step is 256 times
// finer, so clipping, not rounding, is what a narrower range would cost.
// A Concat whose output and activation inputs are all 16-bit gives its
// inputs the output's parameters (inputs that no other tensor shares): the
// Concat then moves stored integers, where an input at its own scale is
// requantized into the output's (on the NPU a layer of its own per
// input). The output's range holds every input's, so no input clips, and
// at 16 bits the coarser step costs an input little.
void widenParams(std::map<std::string, QParams> &params,
                 const std::set<std::string> &wide, const Profile &prof,
                 const MethodOptions &mo, const onnx::GraphProto &g,
                 const QdqPlan &plan) {
  for (auto &t : wide) {
    auto it = prof.tensors.find(t);
    if (it == prof.tensors.end() || !params.count(t))
      continue;
    Range r = chooseRange(it->second.hist, Method::MinMax, mo);
    params[t] =
        symmetricParams(std::max(std::fabs(r.lo), std::fabs(r.hi)), 32767);
  }
  std::set<std::string> shared; // tensors other tensors share
  for (const TensorSpec &x : plan.tensors)
    if (!x.shareWith.empty())
      shared.insert(x.shareWith);
  for (const QuantGroup &q : plan.groups) {
    if (q.anchor < 0 || g.node(q.anchor).op_type() != "Concat" ||
        q.outputs.size() != 1 || !wide.count(plan.root(q.outputs[0])))
      continue;
    const std::string out = plan.root(q.outputs[0]);
    std::vector<std::string> ins;
    for (auto &ai : q.activationInputs)
      ins.push_back(g.node(ai.first).input(ai.second));
    bool all = !ins.empty() && params.count(out);
    for (const std::string &x : ins)
      all = all && wide.count(x) && params.count(x) && !shared.count(x) &&
            plan.root(x) == x && x != out;
    if (all)
      for (const std::string &x : ins)
        params[x] = params[out];
  }
}

// Per-channel scales for the candidates (perChannelCandidates) whose every
// channel is non-negative, so that one zero point (qmin) serves them all:
// channel c covers [0, min(max_c, hi)], hi the top of the tensor's chosen
// (and refined) per-tensor range, so no channel is clipped more or rounded
// more coarsely than the per-tensor parameters would. Returns the number of
// tensors given per-channel scales.
size_t assignChannelScales(std::map<std::string, QParams> &params,
                           const std::set<std::string> &candidates,
                           const Profile &prof, int32_t qmin, int32_t qmax) {
  size_t n = 0;
  for (auto &t : candidates) {
    auto pit = params.find(t);
    auto sit = prof.tensors.find(t);
    if (pit == params.end() || sit == prof.tensors.end())
      continue;
    QParams &p = pit->second;
    const TensorStats &st = sit->second;
    if (st.channelAxis != 1 || st.channelMax.empty() || st.hist.empty() ||
        st.hist.min() < 0 || p.zeroPoint != qmin)
      continue;
    const double levels = double(qmax - qmin);
    const double hi = double(p.scale) * levels;
    std::vector<float> sc(st.channelMax.size());
    bool differ = false;
    for (size_t c = 0; c < sc.size(); ++c) {
      double h = std::min(st.channelMax[c], hi);
      float s = h > 0 ? std::min(float(h / levels), p.scale) : p.scale;
      if (!(s > 0) || !std::isfinite(s))
        s = p.scale; // a channel that was 0 on every sample
      sc[c] = s;
      differ = differ || sc[c] != p.scale;
    }
    p.channelScales.clear();
    if (differ) {
      p.channelScales = std::move(sc);
      ++n;
    }
  }
  return n;
}

/// The quantizer rewrites fp32 tensors: a model whose floats are 16-bit
/// (its inputs, or every float weight) would come out with nothing
/// quantized, so it is refused, naming the first such tensor.
Status requireFp32(const onnx::ModelProto &m) {
  auto half = [](int t) {
    return t == onnx::TensorProto::FLOAT16 || t == onnx::TensorProto::BFLOAT16;
  };
  auto refuse = [](const std::string &what, const std::string &name, int t) {
    return invalid(what, " '", name, "' is ",
                   t == onnx::TensorProto::FLOAT16 ? "float16" : "bfloat16",
                   ": ember quantize takes an fp32 model (convert it to "
                   "float32 first)");
  };
  for (const auto &in : m.graph().input())
    if (in.type().has_tensor_type() &&
        half(in.type().tensor_type().elem_type()))
      return refuse("input", in.name(), in.type().tensor_type().elem_type());
  const onnx::TensorProto *firstHalf = nullptr;
  for (const auto &t : m.graph().initializer()) {
    if (t.data_type() == onnx::TensorProto::FLOAT)
      return Status::ok();
    if (!firstHalf && half(t.data_type()))
      firstHalf = &t;
  }
  return firstHalf ? refuse("weight", firstHalf->name(), firstHalf->data_type())
                   : Status::ok();
}

} // namespace

Status quantizeModel(const QuantizeOptions &o) {
  using Clock = std::chrono::steady_clock;
  std::ostream *log = o.log;
  EMBER_ASSIGN(onnx::ModelProto m, loadOnnxModel(o.model));
  EMBER_TRY(requireFp32(m).withContext(o.model));
  EMBER_TRY(upgradeForQdq(m).withContext(o.model));
  EMBER_ASSIGN(auto decls, modelInputs(m));

  // Input shapes: from the profile, or from the calibration samples.
  Profile prof;
  std::vector<Sample> samples;
  std::map<std::string, Dims> shapes;
  if (!o.profileIn.empty()) {
    EMBER_ASSIGN(std::string text, readFileBytes(o.profileIn));
    EMBER_ASSIGN(prof, profileFromJson(text, o.profileIn));
    shapes = prof.inputShapes;
  }
  if (!o.calibrationDir.empty()) {
    EMBER_ASSIGN(samples,
                 loadCalibrationDir(o.calibrationDir, decls, o.maxSamples));
    if (o.profileIn.empty())
      shapes = sampleShapes(decls, samples[0]);
  }

  // The graph that is calibrated and rewritten.
  EMBER_ASSIGN(TensorInfoMap info0, inspectTensors(m, shapes));
  EMBER_ASSIGN(size_t folded, foldConstantWeights(m, info0));
  std::string preprocess = concat("opset>=13 folded=", folded);
  if (o.equalize) {
    EqualizationOptions eo;
    eo.clipAsRelu = o.equalizeClip;
    EMBER_ASSIGN(EqualizationStats es, equalizeCrossLayer(m, eo));
    preprocess += concat(" equalize=", es.pairs, o.equalizeClip ? "+clip" : "");
    if (log && es.pairs)
      *log << "cross-layer equalization: " << es.pairs
           << " layer pairs rescaled\n";
  }
  // Activation and residual-stream equalization: their scales come from
  // per-channel ranges that one pre-pass measures on this graph (or the
  // profile stored), and the hash below is taken on the equalized graph the
  // histograms describe. Activation equalization changes no tensor of a
  // residual stream (its pair tensors have one reader, a stream tensor an
  // Add among its neighbours), so both take their ranges from the same pass.
  std::map<std::string, ChannelRanges> ranges;
  if (o.actEqualize > 0 || o.resEqualize > 0) {
    ActEqualizationOptions ao;
    ao.alpha = o.actEqualize;
    ao.raiseSmall = o.actEqRaise;
    ao.linearPairs = o.actEqLinear;
    std::vector<std::string> eqTensors;
    if (o.actEqualize > 0)
      eqTensors = actEqualizationTensors(m, ao);
    if (o.resEqualize > 0) {
      std::set<std::string> have(eqTensors.begin(), eqTensors.end());
      for (auto &t : residualEqualizationTensors(m))
        if (have.insert(t).second)
          eqTensors.push_back(t);
    }
    if (!o.profileIn.empty()) {
      for (auto &kv : prof.channelRanges)
        ranges[kv.first] = {kv.second.min, kv.second.max};
    } else if (!eqTensors.empty()) {
      auto t0 = Clock::now();
      EMBER_ASSIGN(ranges,
                   measureChannelRanges(m, eqTensors, shapes, samples, o.run));
      double secs = std::chrono::duration<double>(Clock::now() - t0).count();
      if (log)
        *log << "equalization pre-pass: " << samples.size() << " samples, "
             << eqTensors.size() << " tensors, "
             << concat(int(secs * 10) / 10.0) << " s\n";
    }
    if (!eqTensors.empty() && ranges.empty())
      return invalid("the profile holds no per-channel ranges for activation "
                     "or residual-stream equalization (it was recorded with '",
                     prof.preprocess, "') (", o.profileIn, ")");
    const std::string where = o.profileIn.empty() ? o.model : o.profileIn;
    if (o.actEqualize > 0) {
      auto es = equalizeActivations(m, ranges, ao);
      if (!es)
        return es.status().withContext(where);
      preprocess += concat(
          " equalize_activations=", o.actEqualize, o.actEqRaise ? "+raise" : "",
          o.actEqLinear ? "+linear" : "", ":", es->pairs, "/", es->channels);
      if (log && es->pairs)
        *log << "activation equalization: " << es->channels
             << " channels rescaled in " << es->pairs << " layer pairs\n";
    }
    if (o.resEqualize > 0) {
      ResidualEqualizationOptions ro;
      ro.alpha = o.resEqualize;
      auto rs = equalizeResidualStreams(m, ranges, ro);
      if (!rs)
        return rs.status().withContext(where);
      preprocess += concat(" equalize_residual=", o.resEqualize, ":",
                           rs->streams, "/", rs->channels);
      if (log && rs->streams)
        *log << "residual-stream equalization: " << rs->channels
             << " channels rescaled in " << rs->streams << " streams\n";
      else if (log)
        *log << "note: residual-stream equalization rescaled nothing (no "
                "Add of conv outputs read only by convs, or no channel to "
                "move)\n";
    }
  }
  const std::string hash = graphHash(m);
  if (!o.profileIn.empty() && prof.graphHash != hash)
    return invalid("the profile was measured on another graph (profile ",
                   prof.graphHash, ", this model ", hash,
                   prof.preprocess != preprocess
                       ? concat("; it was recorded with '", prof.preprocess,
                                "', this run does '", preprocess, "'")
                       : std::string(),
                   ") (", o.profileIn, ")");
  EMBER_ASSIGN(TensorInfoMap info, inspectTensors(m, shapes));

  if (o.mixedBudget > 0) {
    // The cost model answers per node name: every node gets one (after
    // the hash, so profiles stay interchangeable with other runs).
    std::set<std::string> names;
    for (auto &n : m.graph().node())
      names.insert(n.name());
    for (int i = 0; i < m.graph().node_size(); ++i) {
      auto *n = m.mutable_graph()->mutable_node(i);
      if (!n->name().empty())
        continue;
      std::string base = n->op_type() + "_" + std::to_string(i);
      std::string name = base;
      for (int k = 1; names.count(name); ++k)
        name = base + "_" + std::to_string(k);
      names.insert(name);
      n->set_name(name);
    }
  }
  PlanOptions po;
  po.perChannel = o.perChannel;
  po.keepFloat.insert(o.keepFloat.begin(), o.keepFloat.end());
  EMBER_ASSIGN(QdqPlan plan, planQdq(m, info, po));
  if (!plan.unmatchedKeepFloat.empty())
    return invalid("--keep-float '", plan.unmatchedKeepFloat[0],
                   "' names no node and no tensor of the model");

  if (o.profileIn.empty()) {
    // Profile what the plan needs and what the default plan needs, so the
    // profile serves other --keep-float choices too.
    std::map<std::string, int> observed = plan.observed;
    PlanOptions dflt;
    dflt.perChannel = o.perChannel;
    EMBER_ASSIGN(QdqPlan full, planQdq(m, info, dflt));
    for (auto &kv : full.observed)
      observed.insert(kv);
    auto t0 = Clock::now();
    EMBER_ASSIGN(prof,
                 calibrate(m, observed, decls, samples, o.run, o.progress));
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    prof.model = o.model;
    prof.preprocess = preprocess;
    for (auto &kv : ranges)
      prof.channelRanges[kv.first] = {kv.second.min, kv.second.max};
    if (log)
      *log << "calibration: " << samples.size() << " samples, "
           << observed.size() << " tensors, " << concat(int(secs * 10) / 10.0)
           << " s\n";
  }

  Status st;
  auto params = chooseParams(m, plan, prof, o, st);
  EMBER_TRY(st);
  RefineResult refined;
  bool refine = o.refineRanges || (o.refineBias && o.biasCorrection);
  if (refine && samples.empty()) {
    if (log)
      *log << "note: layer-wise refinement needs calibration samples "
              "(--calibration): skipped\n";
  } else if (refine) {
    RefineOptions ro;
    ro.searchRanges = o.refineRanges;
    ro.inputErrorMeans = o.refineBias && o.biasCorrection;
    ro.maxSamples = o.refineSamples;
    ro.activationType =
        o.activationType == ElemKind::I16 ? ElemKind::U8 : o.activationType;
    ro.fixedRanges = unclippedTensors(m, plan);
    ro.run = o.run;
    auto t0 = Clock::now();
    EMBER_ASSIGN(refined, refineLayers(m, plan, params, prof, samples, ro));
    params = refined.params;
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (log)
      *log << "refinement: " << refined.samples << " samples, "
           << refined.changed << " of " << refined.searched
           << " layer input ranges changed, " << refined.inputErrorMeans.size()
           << " input error means, " << concat(int(secs * 10) / 10.0) << " s\n";
  }
  std::set<std::string> channelCandidates;
  if (o.perChannelActivations && o.activationType != ElemKind::I16) {
    int32_t qmin8, qmax8;
    activationRange(o.activationType, qmin8, qmax8);
    channelCandidates = perChannelCandidates(m, plan, info);
    size_t nc =
        assignChannelScales(params, channelCandidates, prof, qmin8, qmax8);
    if (log)
      *log << "per-channel activations: " << nc << " of "
           << channelCandidates.size() << " candidate tensors\n";
  }
  std::map<std::string, std::vector<double>> means;
  for (auto &kv : prof.tensors)
    if (!kv.second.channelSum.empty())
      means[kv.first] = kv.second.channelMean();

  RewriteOptions ro;
  ro.activationType =
      o.activationType == ElemKind::I16 ? ElemKind::U8 : o.activationType;
  std::set<std::string> allRoots;
  for (auto &t : plan.tensors)
    if (t.shareWith.empty())
      allRoots.insert(t.name);
  const std::map<std::string, QParams> params8 = params;
  if (o.activationType == ElemKind::I16) {
    ro.wide = allRoots;
    widenParams(params, ro.wide, prof, o.methodOptions, m.graph(), plan);
  }
  ro.biasCorrection = o.biasCorrection;
  ro.inputErrorMeans = &refined.inputErrorMeans;
  QuantizeOptions done = o; // what was applied, for the metadata
  done.refineRanges = o.refineRanges && !samples.empty();
  done.refineBias = o.refineBias && o.biasCorrection && !samples.empty();
  ro.description = describeOptions(done);
  RewriteStats rs;
  EMBER_ASSIGN(onnx::ModelProto out,
               rewriteQdq(m, plan, params, means, ro, &rs));

  if (o.mixedBudget > 0) {
    if (!o.npuCost)
      return invalid("--mixed-precision needs the NPU cost model (a build "
                     "with the npu-sim backend)");
    int32_t qmin8, qmax8;
    activationRange(ro.activationType, qmin8, qmax8);
    MixedPrecisionOptions mo;
    mo.budget = o.mixedBudget;
    mo.evalSamples = o.evalSamples;
    mo.listRanking = o.report;
    mo.run = o.run;
    mo.measure = o.npuMeasure;
    mo.log = log;
    auto build =
        [&](const std::set<std::string> &wide) -> Expected<onnx::ModelProto> {
      RewriteOptions r2 = ro;
      r2.wide = wide;
      auto p2 = params8;
      widenParams(p2, wide, prof, o.methodOptions, m.graph(), plan);
      return rewriteQdq(m, plan, p2, means, r2, nullptr);
    };
    auto t0 = Clock::now();
    EMBER_ASSIGN(MixedPrecisionResult mp,
                 searchMixedPrecision(m, out, plan, params8, qmin8, qmax8,
                                      samples, decls, rs.aliases, o.npuCost,
                                      build, mo));
    double secs = std::chrono::duration<double>(Clock::now() - t0).count();
    if (log)
      *log << "mixed precision search: " << concat(int(secs * 10) / 10.0)
           << " s\n";
    out = std::move(mp.model);
  }

  if (o.report || o.targetSqnr > 0) {
    if (samples.empty())
      return invalid("--report and --target-sqnr evaluate the model on "
                     "calibration samples: give --calibration with --profile");
    SensitivityOptions so;
    so.run = o.run;
    so.evalSamples = o.evalSamples;
    so.targetSqnr = o.targetSqnr;
    so.maxFloat = o.maxFloat;
    so.report = o.report;
    so.log = log;
    auto rebuild =
        [&](const std::set<int> &floatGroups) -> Expected<onnx::ModelProto> {
      PlanOptions p2 = po;
      for (int gi : floatGroups) {
        const QuantGroup &q = plan.groups[size_t(gi)];
        for (int node : {q.anchor, q.biasAdd, q.activation})
          if (node >= 0)
            for (auto &x : m.graph().node(node).output())
              p2.keepFloat.insert(x);
      }
      EMBER_ASSIGN(QdqPlan pl, planQdq(m, info, p2));
      Status s2;
      auto pr = chooseParams(m, pl, prof, o, s2);
      EMBER_TRY(s2);
      for (auto &kv : pr) { // the refined ranges where the tensor still is
        auto it = refined.params.find(kv.first);
        if (it != refined.params.end())
          kv.second = it->second;
      }
      if (!channelCandidates.empty()) { // where the rule still holds
        auto still = perChannelCandidates(m, pl, info);
        for (auto &kv : pr) {
          auto it = params8.find(kv.first);
          if (still.count(kv.first) && it != params8.end() &&
              it->second.scale == kv.second.scale)
            kv.second.channelScales = it->second.channelScales;
        }
      }
      if (o.activationType == ElemKind::I16)
        widenParams(pr, ro.wide, prof, o.methodOptions, m.graph(), pl);
      return rewriteQdq(m, pl, pr, means, ro, nullptr);
    };
    EMBER_ASSIGN(out, analyzeSensitivity(m, out, plan, samples, decls,
                                         rs.aliases, so, rebuild));
  }

  if (!o.profileOut.empty())
    EMBER_TRY(writeFileAtomically(o.profileOut, profileToJson(prof)));
  EMBER_TRY(writeOnnxModelAtomically(out, o.output));
  if (log) {
    if (!plan.noInt8Form.empty()) {
      *log << "note: " << plan.noInt8Form.size()
           << " node(s) have no int8 form in Ember and stay float:";
      for (size_t i = 0; i < plan.noInt8Form.size() && i < 8; ++i)
        *log << (i ? ", " : " ") << plan.noInt8Form[i];
      if (plan.noInt8Form.size() > 8)
        *log << ", ...";
      *log << "\n";
    }
    *log << "quantized " << rs.quantizedNodes << " of " << m.graph().node_size()
         << " nodes: " << rs.qdqPairs << " Q/DQ pairs, " << rs.weights
         << " weights, " << rs.biases << " int32 biases (" << rs.correctedBiases
         << " bias-corrected)"
         << (o.targetSqnr > 0 ? " before mixed precision" : "") << "; "
         << ro.description << "\n";
  }
  return Status::ok();
}

} // namespace ember::quant
