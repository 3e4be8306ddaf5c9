#include "quant/Quantizer.h"

#include "import/TensorIO.h"
#include "quant/ActEqualization.h"
#include "quant/Equalization.h"
#include "quant/OnnxModel.h"
#include "quant/QdqRewrite.h"
#include "quant/Refine.h"
#include "quant/ResidualEqualization.h"
#include "quant/Sensitivity.h"

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

namespace ember::quant {

// The tensors a normalization reads: the input of LayerNormalization and
// of a decomposed one (x read by ReduceMean and by Sub(x, ReduceMean(x))),
// and of RMSNorm written out (x read by Pow(x, 2) or Mul(x, x) into a
// ReduceMean). The normalization divides a row by a statistic of all its
// channels, so one clipped outlier channel (transformers' residual streams
// carry a few, by magnitude) changes every element of its row.
std::set<std::string> normalizedTensors(const onnx::GraphProto &g) {
  GraphIndex ix(g);
  // Whether a node of type op reading t passes `also`.
  auto readBy = [&](const std::string &t, const char *op, auto also) {
    auto it = ix.consumers.find(t);
    if (it != ix.consumers.end())
      for (const auto &use : it->second)
        if (g.node(use.first).op_type() == op && also(g.node(use.first)))
          return true;
    return false;
  };
  std::set<std::string> out;
  for (auto &n : g.node()) {
    if (!n.input_size() || !n.output_size())
      continue;
    const std::string &op = n.op_type(), &x = n.input(0), &y = n.output(0);
    const bool square =
        op == "Pow" || (op == "Mul" && n.input_size() == 2 && n.input(1) == x);
    auto subtractsMean = [&](const onnx::NodeProto &sub) {
      return sub.input_size() == 2 && sub.input(0) == x && sub.input(1) == y;
    };
    auto any = [](const onnx::NodeProto &) { return true; };
    if (op == "LayerNormalization" ||
        (op == "ReduceMean" && readBy(x, "Sub", subtractsMean)) ||
        (square && readBy(y, "ReduceMean", any)))
      out.insert(x);
  }
  return out;
}

// Whether the graph has attention: a Softmax, and a MatMul of two computed
// activations (neither computed from initializers and Constants alone).
// Transformers' activations are not the long-tailed ReLU maps percentile
// clipping was chosen for: their extremes are features (outlier channels
// of the residual stream, the largest attention logits), and on the
// transformers measured (docs/quantization.md, "Figures: transformers")
// minmax ranges agree better with fp32.
bool hasAttention(const onnx::GraphProto &g) {
  std::set<std::string> constant; // (also what nodes of constants compute)
  for (auto &i : g.initializer())
    constant.insert(i.name());
  bool softmax = false, product = false;
  for (auto &n : g.node()) {
    bool folds = true;
    for (auto &i : n.input())
      folds = folds && (i.empty() || constant.count(i));
    if (folds)
      for (auto &o : n.output())
        constant.insert(o);
    softmax = softmax || n.op_type() == "Softmax";
    product =
        product || (n.op_type() == "MatMul" && n.input_size() == 2 &&
                    !constant.count(n.input(0)) && !constant.count(n.input(1)));
  }
  return softmax && product;
}

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

// Tensors whose range is never clipped: the model's outputs, the inputs of
// Softmax/LogSoftmax/ArgMax/TopK (through parameter sharing): clipping
// there changes which class wins, and no later layer absorbs it; and the
// inputs of normalizations (normalizedTensors).
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
  for (const std::string &x : normalizedTensors(m.graph()))
    if (plan.spec(x))
      out.insert(plan.root(x));
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
// channel c covers [0, min(reach_c, hi)], reach_c how far the channel
// reaches on an image the calibration has not seen (channelReach: its
// calibration maximum alone is exceeded by a new image's with probability
// 1 / (n + 1) after n images, in every channel) and hi the top of the
// tensor's chosen (and refined) per-tensor range, so no channel is clipped
// more or rounded more coarsely than the per-tensor parameters would.
// Returns the number of tensors given per-channel scales.
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
      double h = std::min(st.channelReach(c), hi);
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

using Clock = std::chrono::steady_clock;

std::string seconds(Clock::time_point t0) {
  double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  return concat(int(secs * 10) / 10.0);
}

// One `ember quantize` run, stage by stage in the order quantizeModel calls
// them; each stage reads what the ones before it left in the members.
class QuantizeRun {
public:
  explicit QuantizeRun(const QuantizeOptions &o) : o_(o), log_(o.log) {}
  Status load();
  Status preprocess();
  Status plan();
  Status calibrate();
  Status chooseRanges();
  Status rewrite();
  Status mixedPrecision();
  Status sensitivity();
  Status write();

private:
  Status equalizeWithRanges();

  QuantizeOptions o_; // (a copy: load() resolves method Auto)
  std::ostream *log_;
  onnx::ModelProto m_;
  std::vector<InputDecl> decls_;
  // Input shapes: from the profile, or from the calibration samples.
  Profile prof_;
  std::vector<Sample> samples_;
  std::map<std::string, Dims> shapes_;
  std::string preprocess_;
  std::map<std::string, ChannelRanges> ranges_;
  TensorInfoMap info_;
  PlanOptions po_;
  QdqPlan plan_;
  std::map<std::string, QParams> params_, params8_;
  RefineResult refined_;
  std::set<std::string> channelCandidates_;
  std::map<std::string, std::vector<double>> means_;
  RewriteOptions ro_;
  RewriteStats rs_;
  onnx::ModelProto out_;
};

Status QuantizeRun::load() {
  EMBER_ASSIGN(m_, loadOnnxModel(o_.model));
  EMBER_TRY(requireFp32(m_).withContext(o_.model));
  EMBER_TRY(upgradeForQdq(m_).withContext(o_.model));
  if (o_.method == Method::Auto) {
    const bool attention = hasAttention(m_.graph());
    o_.method = attention ? Method::MinMax : Method::Percentile;
    if (attention && !o_.refineGiven)
      o_.refineRanges = false;
  }
  EMBER_ASSIGN(decls_, modelInputs(m_));
  if (!o_.profileIn.empty()) {
    EMBER_ASSIGN(std::string text, readFileBytes(o_.profileIn));
    EMBER_ASSIGN(prof_, profileFromJson(text, o_.profileIn));
    shapes_ = prof_.inputShapes;
  }
  if (!o_.calibrationDir.empty()) {
    EMBER_ASSIGN(samples_,
                 loadCalibrationDir(o_.calibrationDir, decls_, o_.maxSamples));
    if (o_.profileIn.empty())
      shapes_ = sampleShapes(decls_, samples_[0]);
  }
  return Status::ok();
}

// The graph that is calibrated and rewritten: weights folded, cross-layer
// equalization, then activation and residual-stream equalization; the
// profile's hash is checked on the result.
Status QuantizeRun::preprocess() {
  EMBER_ASSIGN(TensorInfoMap info0, inspectTensors(m_, shapes_));
  EMBER_ASSIGN(size_t folded, foldConstantWeights(m_, info0));
  preprocess_ = concat("opset>=13 folded=", folded);
  if (o_.equalize) {
    EqualizationOptions eo;
    eo.clipAsRelu = o_.equalizeClip;
    EMBER_ASSIGN(EqualizationStats es, equalizeCrossLayer(m_, eo));
    preprocess_ +=
        concat(" equalize=", es.pairs, o_.equalizeClip ? "+clip" : "");
    if (log_ && es.pairs)
      *log_ << "cross-layer equalization: " << es.pairs
            << " layer pairs rescaled\n";
  }
  if (o_.actEqualize > 0 || o_.resEqualize > 0)
    EMBER_TRY(equalizeWithRanges());
  const std::string hash = graphHash(m_);
  if (!o_.profileIn.empty() && prof_.graphHash != hash)
    return invalid("the profile was measured on another graph (profile ",
                   prof_.graphHash, ", this model ", hash,
                   prof_.preprocess != preprocess_
                       ? concat("; it was recorded with '", prof_.preprocess,
                                "', this run does '", preprocess_, "'")
                       : std::string(),
                   ") (", o_.profileIn, ")");
  return Status::ok();
}

// Activation and residual-stream equalization: their scales come from
// per-channel ranges that one pre-pass measures on this graph (or the
// profile stored), and the hash is taken on the equalized graph the
// histograms describe. Activation equalization changes no tensor of a
// residual stream (its pair tensors have one reader, a stream tensor an
// Add among its neighbours), so both take their ranges from the same pass.
Status QuantizeRun::equalizeWithRanges() {
  ActEqualizationOptions ao;
  ao.alpha = o_.actEqualize;
  ao.raiseSmall = o_.actEqRaise;
  ao.linearPairs = o_.actEqLinear;
  std::vector<std::string> eqTensors;
  if (o_.actEqualize > 0)
    eqTensors = actEqualizationTensors(m_, ao);
  if (o_.resEqualize > 0) {
    std::set<std::string> have(eqTensors.begin(), eqTensors.end());
    for (auto &t : residualEqualizationTensors(m_))
      if (have.insert(t).second)
        eqTensors.push_back(t);
  }
  if (!o_.profileIn.empty()) {
    for (auto &kv : prof_.channelRanges)
      ranges_[kv.first] = {kv.second.min, kv.second.max};
  } else if (!eqTensors.empty()) {
    auto t0 = Clock::now();
    EMBER_ASSIGN(ranges_, measureChannelRanges(m_, eqTensors, shapes_, samples_,
                                               o_.run));
    if (log_)
      *log_ << "equalization pre-pass: " << samples_.size() << " samples, "
            << eqTensors.size() << " tensors, " << seconds(t0) << " s\n";
  }
  if (!eqTensors.empty() && ranges_.empty())
    return invalid("the profile holds no per-channel ranges for activation "
                   "or residual-stream equalization (it was recorded with '",
                   prof_.preprocess, "') (", o_.profileIn, ")");
  const std::string where = o_.profileIn.empty() ? o_.model : o_.profileIn;
  if (o_.actEqualize > 0) {
    auto es = equalizeActivations(m_, ranges_, ao);
    if (!es)
      return es.status().withContext(where);
    preprocess_ += concat(
        " equalize_activations=", o_.actEqualize, o_.actEqRaise ? "+raise" : "",
        o_.actEqLinear ? "+linear" : "", ":", es->pairs, "/", es->channels);
    if (log_ && es->pairs)
      *log_ << "activation equalization: " << es->channels
            << " channels rescaled in " << es->pairs << " layer pairs\n";
  }
  if (o_.resEqualize > 0) {
    ResidualEqualizationOptions ro;
    ro.alpha = o_.resEqualize;
    auto rs = equalizeResidualStreams(m_, ranges_, ro);
    if (!rs)
      return rs.status().withContext(where);
    preprocess_ += concat(" equalize_residual=", o_.resEqualize, ":",
                          rs->streams, "/", rs->channels);
    if (log_ && rs->streams)
      *log_ << "residual-stream equalization: " << rs->channels
            << " channels rescaled in " << rs->streams << " streams\n";
    else if (log_)
      *log_ << "note: residual-stream equalization rescaled nothing (no "
               "Add of conv outputs read only by convs, or no channel to "
               "move)\n";
  }
  return Status::ok();
}

Status QuantizeRun::plan() {
  EMBER_ASSIGN(info_, inspectTensors(m_, shapes_));
  if (o_.mixedBudget > 0) {
    // The cost model answers per node name: every node gets one (after
    // the hash, so profiles stay interchangeable with other runs).
    std::set<std::string> names;
    for (auto &n : m_.graph().node())
      names.insert(n.name());
    for (int i = 0; i < m_.graph().node_size(); ++i) {
      auto *n = m_.mutable_graph()->mutable_node(i);
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
  po_.perChannel = o_.perChannel;
  po_.keepFloat.insert(o_.keepFloat.begin(), o_.keepFloat.end());
  EMBER_ASSIGN(plan_, planQdq(m_, info_, po_));
  if (!plan_.unmatchedKeepFloat.empty())
    return invalid("--keep-float '", plan_.unmatchedKeepFloat[0],
                   "' names no node and no tensor of the model");
  return Status::ok();
}

// Profiles what the plan needs and what the default plan needs, so the
// profile serves other --keep-float choices too (nothing with --profile).
Status QuantizeRun::calibrate() {
  if (!o_.profileIn.empty())
    return Status::ok();
  std::map<std::string, int> observed = plan_.observed;
  PlanOptions dflt;
  dflt.perChannel = o_.perChannel;
  EMBER_ASSIGN(QdqPlan full, planQdq(m_, info_, dflt));
  for (auto &kv : full.observed)
    observed.insert(kv);
  auto t0 = Clock::now();
  EMBER_ASSIGN(prof_, quant::calibrate(m_, observed, decls_, samples_, o_.run,
                                       o_.progress));
  const std::string secs = seconds(t0);
  prof_.model = o_.model;
  prof_.preprocess = preprocess_;
  for (auto &kv : ranges_)
    prof_.channelRanges[kv.first] = {kv.second.min, kv.second.max};
  if (log_)
    *log_ << "calibration: " << samples_.size() << " samples, "
          << observed.size() << " tensors, " << secs << " s\n";
  return Status::ok();
}

// Each tensor's parameters: the method's range, the layer-wise refinement,
// per-channel activation scales; and the channel means bias correction
// reads.
Status QuantizeRun::chooseRanges() {
  Status st;
  params_ = chooseParams(m_, plan_, prof_, o_, st);
  EMBER_TRY(st);
  bool refine = o_.refineRanges || (o_.refineBias && o_.biasCorrection);
  if (refine && samples_.empty()) {
    if (log_)
      *log_ << "note: layer-wise refinement needs calibration samples "
               "(--calibration): skipped\n";
  } else if (refine) {
    RefineOptions ro;
    ro.searchRanges = o_.refineRanges;
    ro.inputErrorMeans = o_.refineBias && o_.biasCorrection;
    ro.maxSamples = o_.refineSamples;
    ro.activationType =
        o_.activationType == ElemKind::I16 ? ElemKind::U8 : o_.activationType;
    ro.fixedRanges = unclippedTensors(m_, plan_);
    ro.run = o_.run;
    auto t0 = Clock::now();
    EMBER_ASSIGN(refined_,
                 refineLayers(m_, plan_, params_, prof_, samples_, ro));
    params_ = refined_.params;
    if (log_)
      *log_ << "refinement: " << refined_.samples << " samples, "
            << refined_.changed << " of " << refined_.searched
            << " layer input ranges changed, "
            << refined_.inputErrorMeans.size() << " input error means, "
            << seconds(t0) << " s\n";
  }
  if (o_.perChannelActivations && o_.activationType != ElemKind::I16) {
    int32_t qmin8, qmax8;
    activationRange(o_.activationType, qmin8, qmax8);
    channelCandidates_ = perChannelCandidates(m_, plan_, info_);
    size_t nc =
        assignChannelScales(params_, channelCandidates_, prof_, qmin8, qmax8);
    if (log_)
      *log_ << "per-channel activations: " << nc << " of "
            << channelCandidates_.size() << " candidate tensors\n";
  }
  for (auto &kv : prof_.tensors)
    if (!kv.second.channelSum.empty())
      means_[kv.first] = kv.second.channelMean();
  return Status::ok();
}

// The QDQ model (every activation 16-bit with --activation-type int16).
Status QuantizeRun::rewrite() {
  ro_.activationType =
      o_.activationType == ElemKind::I16 ? ElemKind::U8 : o_.activationType;
  std::set<std::string> allRoots;
  for (auto &t : plan_.tensors)
    if (t.shareWith.empty())
      allRoots.insert(t.name);
  params8_ = params_;
  if (o_.activationType == ElemKind::I16) {
    ro_.wide = allRoots;
    widenParams(params_, ro_.wide, prof_, o_.methodOptions, m_.graph(), plan_);
  }
  ro_.biasCorrection = o_.biasCorrection;
  ro_.inputErrorMeans = &refined_.inputErrorMeans;
  QuantizeOptions done = o_; // what was applied, for the metadata
  done.refineRanges = o_.refineRanges && !samples_.empty();
  done.refineBias = o_.refineBias && o_.biasCorrection && !samples_.empty();
  ro_.description = describeOptions(done);
  EMBER_ASSIGN(out_, rewriteQdq(m_, plan_, params_, means_, ro_, &rs_));
  return Status::ok();
}

// --mixed-precision: 8 or 16 bits per activation within the NPU budget.
Status QuantizeRun::mixedPrecision() {
  if (!(o_.mixedBudget > 0))
    return Status::ok();
  if (!o_.npuCost)
    return invalid("--mixed-precision needs the NPU cost model (a build "
                   "with the npu-sim backend)");
  int32_t qmin8, qmax8;
  activationRange(ro_.activationType, qmin8, qmax8);
  MixedPrecisionOptions mo;
  mo.budget = o_.mixedBudget;
  mo.evalSamples = o_.evalSamples;
  mo.listRanking = o_.report;
  mo.run = o_.run;
  mo.measure = o_.npuMeasure;
  mo.log = log_;
  auto build =
      [&](const std::set<std::string> &wide) -> Expected<onnx::ModelProto> {
    RewriteOptions r2 = ro_;
    r2.wide = tieWidths(plan_, wide);
    auto p2 = params8_;
    widenParams(p2, r2.wide, prof_, o_.methodOptions, m_.graph(), plan_);
    return rewriteQdq(m_, plan_, p2, means_, r2, nullptr);
  };
  auto t0 = Clock::now();
  EMBER_ASSIGN(MixedPrecisionResult mp,
               searchMixedPrecision(m_, out_, plan_, params8_, qmin8, qmax8,
                                    samples_, decls_, rs_.aliases, o_.npuCost,
                                    build, mo));
  if (log_)
    *log_ << "mixed precision search: " << seconds(t0) << " s\n";
  out_ = std::move(mp.model);
  return Status::ok();
}

// --report and --target-sqnr: per-layer SQNR, layers kept float.
Status QuantizeRun::sensitivity() {
  if (!o_.report && !(o_.targetSqnr > 0))
    return Status::ok();
  if (samples_.empty())
    return invalid("--report and --target-sqnr evaluate the model on "
                   "calibration samples: give --calibration with --profile");
  SensitivityOptions so;
  so.run = o_.run;
  so.evalSamples = o_.evalSamples;
  so.targetSqnr = o_.targetSqnr;
  so.maxFloat = o_.maxFloat;
  so.report = o_.report;
  so.log = log_;
  auto rebuild =
      [&](const std::set<int> &floatGroups) -> Expected<onnx::ModelProto> {
    PlanOptions p2 = po_;
    for (int gi : floatGroups) {
      const QuantGroup &q = plan_.groups[size_t(gi)];
      for (int node : {q.anchor, q.biasAdd, q.activation})
        if (node >= 0)
          for (auto &x : m_.graph().node(node).output())
            p2.keepFloat.insert(x);
    }
    EMBER_ASSIGN(QdqPlan pl, planQdq(m_, info_, p2));
    Status s2;
    auto pr = chooseParams(m_, pl, prof_, o_, s2);
    EMBER_TRY(s2);
    for (auto &kv : pr) { // the refined ranges where the tensor still is
      auto it = refined_.params.find(kv.first);
      if (it != refined_.params.end())
        kv.second = it->second;
    }
    if (!channelCandidates_.empty()) { // where the rule still holds
      auto still = perChannelCandidates(m_, pl, info_);
      for (auto &kv : pr) {
        auto it = params8_.find(kv.first);
        if (still.count(kv.first) && it != params8_.end() &&
            it->second.scale == kv.second.scale)
          kv.second.channelScales = it->second.channelScales;
      }
    }
    if (o_.activationType == ElemKind::I16)
      widenParams(pr, ro_.wide, prof_, o_.methodOptions, m_.graph(), pl);
    return rewriteQdq(m_, pl, pr, means_, ro_, nullptr);
  };
  EMBER_ASSIGN(out_, analyzeSensitivity(m_, out_, plan_, samples_, decls_,
                                        rs_.aliases, so, rebuild));
  return Status::ok();
}

// The profile and the model, then the summary.
Status QuantizeRun::write() {
  if (!o_.profileOut.empty())
    EMBER_TRY(writeFileAtomically(o_.profileOut, profileToJson(prof_)));
  EMBER_TRY(writeOnnxModelAtomically(out_, o_.output));
  if (!log_)
    return Status::ok();
  if (!plan_.noInt8Form.empty()) {
    *log_ << "note: " << plan_.noInt8Form.size()
          << " node(s) have no int8 form in Ember and stay float:";
    for (size_t i = 0; i < plan_.noInt8Form.size() && i < 8; ++i)
      *log_ << (i ? ", " : " ") << plan_.noInt8Form[i];
    if (plan_.noInt8Form.size() > 8)
      *log_ << ", ...";
    *log_ << "\n";
  }
  *log_ << "quantized " << rs_.quantizedNodes << " of "
        << m_.graph().node_size() << " nodes: " << rs_.qdqPairs
        << " Q/DQ pairs, " << rs_.weights << " weights, " << rs_.biases
        << " int32 biases (" << rs_.correctedBiases << " bias-corrected)"
        << (o_.targetSqnr > 0 ? " before mixed precision" : "") << "; "
        << ro_.description << "\n";
  return Status::ok();
}

} // namespace

Status quantizeModel(const QuantizeOptions &o) {
  QuantizeRun q(o);
  EMBER_TRY(q.load());
  EMBER_TRY(q.preprocess());
  EMBER_TRY(q.plan());
  EMBER_TRY(q.calibrate());
  EMBER_TRY(q.chooseRanges());
  EMBER_TRY(q.rewrite());
  EMBER_TRY(q.mixedPrecision());
  EMBER_TRY(q.sensitivity());
  return q.write();
}

} // namespace ember::quant
