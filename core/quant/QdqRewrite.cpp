#include "quant/QdqRewrite.h"

#include <algorithm>
#include <cmath>
#include <set>

namespace ember::quant {

void activationRange(ElemKind k, int32_t &qmin, int32_t &qmax) {
  if (k == ElemKind::I16) {
    qmin = -32768;
    qmax = 32767;
  } else if (k == ElemKind::I8) {
    qmin = -128;
    qmax = 127;
  } else {
    qmin = 0;
    qmax = 255;
  }
}

QuantizedWeight quantizeWeight(const Tensor &w, int axis) {
  QuantizedWeight out;
  const Dims &d = w.dims();
  int64_t channels = axis < 0 ? 1 : d[size_t(axis)];
  int64_t inner = 1;
  if (axis >= 0)
    for (size_t i = size_t(axis) + 1; i < d.size(); ++i)
      inner *= d[i];
  else
    inner = w.size();
  auto chan = [&](int64_t i) {
    return axis < 0 ? int64_t(0) : (i / inner) % channels;
  };
  std::vector<double> absMax(size_t(channels), 0.0);
  const float *x = w.data<float>();
  for (int64_t i = 0; i < w.size(); ++i)
    absMax[size_t(chan(i))] =
        std::max(absMax[size_t(chan(i))], std::fabs(double(x[i])));
  for (double a : absMax)
    out.scales.push_back(symmetricParams(a, 127).scale);
  out.q = Tensor(Type(ElemKind::I8, d));
  int8_t *q = out.q.data<int8_t>();
  for (int64_t i = 0; i < w.size(); ++i) {
    double v =
        std::nearbyint(double(x[i]) / double(out.scales[size_t(chan(i))]));
    q[i] = int8_t(std::clamp(v, -127.0, 127.0));
  }
  return out;
}

namespace {

onnx::NodeProto makeNode(const std::string &op, std::vector<std::string> in,
                         const std::string &out, const std::string &name,
                         int axis = INT32_MIN) {
  onnx::NodeProto n;
  n.set_op_type(op);
  n.set_name(name);
  for (auto &i : in)
    n.add_input(i);
  n.add_output(out);
  if (axis != INT32_MIN) {
    auto *a = n.add_attribute();
    a->set_name("axis");
    a->set_type(onnx::AttributeProto::INT);
    a->set_i(axis);
  }
  return n;
}

Tensor scalarOf(ElemKind k, double v) { return Tensor::scalar(k, v); }

Tensor vectorOf(ElemKind k, const std::vector<double> &v) {
  Tensor t(Type(k, {int64_t(v.size())}));
  for (size_t i = 0; i < v.size(); ++i)
    t.setDouble(int64_t(i), v[i]);
  return t;
}

class Rewriter {
public:
  Rewriter(const onnx::ModelProto &m, const QdqPlan &plan,
           const std::map<std::string, QParams> &params,
           const std::map<std::string, std::vector<double>> &means,
           const RewriteOptions &o)
      : src_(m), ix_(m.graph()), plan_(plan), params_(params), means_(means),
        o_(o) {}

  Expected<onnx::ModelProto> run(RewriteStats &st);

private:
  std::string fresh(const std::string &base) {
    std::string n = base;
    for (int i = 1; used_.count(n); ++i)
      n = base + "_" + std::to_string(i);
    used_.insert(n);
    return n;
  }
  void addInit(const std::string &name, const Tensor &t) {
    *out_.mutable_graph()->add_initializer() = makeInitializer(name, t);
  }
  // The stored type of activation t: int16 when its root is wide.
  ElemKind kindOf(const std::string &t) const {
    return o_.wide.count(plan_.root(t)) ? ElemKind::I16 : o_.activationType;
  }
  Expected<QParams> paramsOf(const std::string &t) const {
    const TensorSpec *s = plan_.spec(t);
    if (!s)
      return makeError(ErrorCode::Internal, "tensor '", t,
                       "' has no quantization plan");
    std::string r = plan_.root(t);
    auto it = params_.find(r);
    if (it == params_.end())
      return makeError(ErrorCode::Internal, "no parameters for tensor '", r,
                       "'");
    return it->second;
  }
  Expected<Tensor> floatInit(const std::string &name) const {
    const onnx::TensorProto *p = ix_.init(name);
    if (!p)
      return makeError(ErrorCode::Internal, "'", name,
                       "' is not an initializer");
    EMBER_ASSIGN(Tensor t, initializerTensor(*p));
    if (t.elem() != ElemKind::F32)
      return makeError(ErrorCode::Internal, "'", name, "' is not float");
    return t;
  }

  Status quantizeWeights(RewriteStats &st);
  Status quantizeBiases(RewriteStats &st);
  Status quantizeConstants();
  Status quantizeActivations(RewriteStats &st);

  const onnx::ModelProto &src_;
  GraphIndex ix_;
  const QdqPlan &plan_;
  const std::map<std::string, QParams> &params_;
  const std::map<std::string, std::vector<double>> &means_;
  const RewriteOptions &o_;
  onnx::ModelProto out_;
  std::set<std::string> used_;
  bool wideUsed_ = false; // a 16-bit Q/DQ pair was written
  // Input rewiring: (node, input) -> new tensor name.
  std::map<std::pair<int, int>, std::string> rewire_;
  // Nodes to emit before node i / after node i; and at the very start.
  std::map<int, std::vector<onnx::NodeProto>> before_, after_;
  std::vector<onnx::NodeProto> head_;
  // Output renames: (node, output) -> new name.
  std::map<std::pair<int, int>, std::string> renameOut_;
  // Dequantized weights (for bias correction), by weight spec index.
  std::vector<Tensor> wOrig_, wDeq_;
  std::vector<std::vector<float>> wScales_;
  std::set<std::string> replacedInits_;
  // Extra inputs appended to nodes (a created bias): node -> (index, name).
  std::map<int, std::pair<int, std::string>> appendInput_;
};

Status Rewriter::quantizeWeights(RewriteStats &st) {
  std::map<std::pair<std::string, int>, std::string> done;
  wOrig_.resize(plan_.weights.size());
  wDeq_.resize(plan_.weights.size());
  wScales_.resize(plan_.weights.size());
  for (size_t k = 0; k < plan_.weights.size(); ++k) {
    const WeightSpec &w = plan_.weights[k];
    EMBER_ASSIGN(Tensor t, floatInit(w.tensor));
    QuantizedWeight qw = quantizeWeight(t, w.axis);
    Tensor deq(Type(ElemKind::F32, t.dims()));
    {
      int64_t inner = 1, channels = w.axis < 0 ? 1 : t.dim(size_t(w.axis));
      if (w.axis >= 0)
        for (size_t i = size_t(w.axis) + 1; i < t.rank(); ++i)
          inner *= t.dim(i);
      for (int64_t i = 0; i < t.size(); ++i) {
        int64_t c = w.axis < 0 ? 0 : (i / inner) % channels;
        deq.data<float>()[i] =
            float(qw.q.data<int8_t>()[i]) * qw.scales[size_t(c)];
      }
    }
    wOrig_[k] = t;
    wDeq_[k] = deq;
    wScales_[k] = qw.scales;
    auto key = std::make_pair(w.tensor, w.axis);
    auto it = done.find(key);
    if (it != done.end()) {
      rewire_[{w.node, w.input}] = it->second;
      continue;
    }
    std::string qn = fresh(w.tensor + "_quantized");
    std::string sn = fresh(w.tensor + "_scale");
    std::string zn = fresh(w.tensor + "_zero_point");
    std::string dn = fresh(w.tensor + "_dequantized");
    addInit(qn, qw.q);
    std::vector<double> sc(qw.scales.begin(), qw.scales.end());
    std::vector<double> zeros(sc.size(), 0.0);
    if (w.axis < 0) {
      addInit(sn, scalarOf(ElemKind::F32, sc[0]));
      addInit(zn, scalarOf(ElemKind::I8, 0));
      before_[w.node].push_back(
          makeNode("DequantizeLinear", {qn, sn, zn}, dn,
                   fresh(w.tensor + "_DequantizeLinear")));
    } else {
      addInit(sn, vectorOf(ElemKind::F32, sc));
      addInit(zn, vectorOf(ElemKind::I8, zeros));
      before_[w.node].push_back(makeNode("DequantizeLinear", {qn, sn, zn}, dn,
                                         fresh(w.tensor + "_DequantizeLinear"),
                                         w.axis));
    }
    done[key] = dn;
    rewire_[{w.node, w.input}] = dn;
    replacedInits_.insert(w.tensor);
    ++st.weights;
  }
  return Status::ok();
}

Status Rewriter::quantizeBiases(RewriteStats &st) {
  // Biases to write: the planned ones, plus a zero bias for a Conv/Gemm
  // without one when bias correction has something to correct.
  struct Job {
    BiasSpec spec;
    Tensor bias;
    bool created = false;
  };
  std::vector<Job> jobs;
  std::set<int> haveBias;
  for (auto &b : plan_.biases) {
    EMBER_ASSIGN(Tensor t, floatInit(b.tensor));
    jobs.push_back({b, t, false});
    haveBias.insert(b.weight);
  }
  if (o_.biasCorrection)
    for (size_t k = 0; k < plan_.weights.size(); ++k) {
      const WeightSpec &w = plan_.weights[k];
      const auto &n = src_.graph().node(w.node);
      if (haveBias.count(int(k)) ||
          (n.op_type() != "Conv" && n.op_type() != "Gemm"))
        continue;
      int gi = plan_.groupOf[size_t(w.node)];
      if (gi >= 0 && plan_.groups[size_t(gi)].biasAdd >= 0)
        continue;
      if (n.input_size() > 2 && !n.input(2).empty())
        continue; // a bias the plan left float
      int waxis = n.op_type() == "Conv" ? 0 : (w.axis >= 0 ? w.axis : 1);
      int64_t c = wOrig_[k].dim(size_t(waxis));
      Job j;
      j.spec.node = w.node;
      j.spec.input = 2;
      j.spec.tensor = n.output(0) + "_bias";
      j.spec.activation = n.input(0);
      j.spec.weight = int(k);
      j.spec.axis = 0;
      j.bias = Tensor(Type(ElemKind::F32, {c}));
      j.created = true;
      jobs.push_back(j);
    }

  for (auto &job : jobs) {
    const BiasSpec &b = job.spec;
    const WeightSpec &w = plan_.weights[size_t(b.weight)];
    const Tensor &W = wOrig_[size_t(b.weight)];
    const Tensor &Wq = wDeq_[size_t(b.weight)];
    const auto &scales = wScales_[size_t(b.weight)];
    EMBER_ASSIGN(QParams xp, paramsOf(b.activation));
    // A per-channel input (a depthwise convolution's): output channel o
    // reads input channel o / (oc / channels).
    const std::vector<float> &xc = xp.channelScales;
    const auto &n = src_.graph().node(w.node);
    bool conv = n.op_type() == "Conv";
    // Output channels: Conv W[OC, IC/g, ...]; MatMul B[K, N]; Gemm B[K,N]
    // or [N,K] (transB).
    int ocAxis = conv ? 0 : (n.op_type() == "Gemm" && w.axis == 0 ? 0 : 1);
    if (n.op_type() == "Gemm") {
      bool transB = false;
      for (auto &a : n.attribute())
        if (a.name() == "transB")
          transB = a.i() != 0;
      ocAxis = transB ? 0 : 1;
    }
    int64_t oc = W.dim(size_t(ocAxis));
    Tensor bias = job.bias;
    if (bias.size() != oc)
      return makeError(ErrorCode::Internal, "bias '", b.tensor, "' has ",
                       bias.size(), " values for ", oc, " channels");
    // Bias correction.
    // delta = (W_q - W) E[x] + W_q E[Q(x) - x].
    auto mit = means_.find(b.activation);
    const std::vector<double> *err = nullptr;
    if (o_.inputErrorMeans && xc.empty()) {
      auto eit = o_.inputErrorMeans->find(b.activation);
      if (eit != o_.inputErrorMeans->end() && !eit->second.empty())
        err = &eit->second;
    }
    bool corrected = false;
    if (o_.biasCorrection && mit != means_.end() && !mit->second.empty() &&
        (!err || err->size() == mit->second.size())) {
      const std::vector<double> &mean = mit->second;
      std::vector<double> delta(size_t(oc), 0.0);
      const float *wf = W.data<float>(), *wq = Wq.data<float>();
      if (conv) {
        int64_t icg = W.dim(1), inner = 1;
        for (size_t i = 2; i < W.rank(); ++i)
          inner *= W.dim(i);
        int64_t groups = int64_t(mean.size()) / std::max<int64_t>(icg, 1);
        int64_t ocg = oc / std::max<int64_t>(groups, 1);
        if (groups * icg == int64_t(mean.size()) && ocg * groups == oc) {
          for (int64_t o = 0; o < oc; ++o) {
            int64_t g = o / ocg;
            double s = 0;
            for (int64_t ic = 0; ic < icg; ++ic) {
              double mu = mean[size_t(g * icg + ic)];
              const int64_t base = (o * icg + ic) * inner;
              double e = 0, q = 0;
              for (int64_t k = 0; k < inner; ++k) {
                e += double(wq[base + k]) - double(wf[base + k]);
                q += double(wq[base + k]);
              }
              s += e * mu;
              if (err)
                s += q * (*err)[size_t(g * icg + ic)];
            }
            delta[size_t(o)] = s;
          }
          corrected = true;
        }
      } else {
        int64_t K = W.dim(size_t(1 - ocAxis));
        if (int64_t(mean.size()) == K) {
          for (int64_t o = 0; o < oc; ++o) {
            double s = 0;
            for (int64_t k = 0; k < K; ++k) {
              int64_t idx = ocAxis == 1 ? k * oc + o : o * K + k;
              s += (double(wq[idx]) - double(wf[idx])) * mean[size_t(k)];
              if (err)
                s += double(wq[idx]) * (*err)[size_t(k)];
            }
            delta[size_t(o)] = s;
          }
          corrected = true;
        }
      }
      if (corrected)
        for (int64_t o = 0; o < oc; ++o)
          bias.setDouble(o, bias.getDouble(o) - delta[size_t(o)]);
    }
    if (job.created && !corrected)
      continue;
    // int32 at input scale x weight scale.
    const bool perOut = w.axis >= 0 || !xc.empty();
    const int64_t mult =
        xc.empty() ? 1 : std::max<int64_t>(1, oc / int64_t(xc.size()));
    std::vector<double> bs;
    for (int64_t o = 0; o < (perOut ? oc : 1); ++o) {
      float sx =
          xc.empty()
              ? xp.scale
              : xc[size_t(std::min<int64_t>(int64_t(xc.size()) - 1, o / mult))];
      float s = sx * scales[size_t(w.axis < 0 ? 0 : o)];
      if (!(s > 0))
        s = std::numeric_limits<float>::min();
      bs.push_back(double(s));
    }
    Tensor bq(Type(ElemKind::I32, bias.dims()));
    for (int64_t o = 0; o < oc; ++o) {
      double s = bs[size_t(perOut ? o : 0)];
      double v = std::nearbyint(bias.getDouble(o) / s);
      bq.data<int32_t>()[o] =
          int32_t(std::clamp(v, -2147483648.0, 2147483647.0));
    }
    std::string base = job.created ? b.tensor : b.tensor;
    std::string qn = fresh(base + "_quantized");
    std::string sn = fresh(base + "_scale");
    std::string zn = fresh(base + "_zero_point");
    std::string dn = fresh(base + "_dequantized");
    addInit(qn, bq);
    if (!perOut) {
      addInit(sn, scalarOf(ElemKind::F32, bs[0]));
      addInit(zn, scalarOf(ElemKind::I32, 0));
      before_[b.node].push_back(makeNode("DequantizeLinear", {qn, sn, zn}, dn,
                                         fresh(base + "_DequantizeLinear")));
    } else {
      addInit(sn, vectorOf(ElemKind::F32, bs));
      addInit(zn, vectorOf(ElemKind::I32, std::vector<double>(bs.size(), 0)));
      before_[b.node].push_back(makeNode("DequantizeLinear", {qn, sn, zn}, dn,
                                         fresh(base + "_DequantizeLinear"),
                                         b.axis));
    }
    if (job.created)
      appendInput_[b.node] = {2, dn};
    else {
      rewire_[{b.node, b.input}] = dn;
      replacedInits_.insert(b.tensor);
    }
    ++st.biases;
    st.correctedBiases += corrected;
  }
  return Status::ok();
}

Status Rewriter::quantizeConstants() {
  int32_t qmin, qmax;
  activationRange(o_.activationType, qmin, qmax);
  for (auto &c : plan_.constants) {
    EMBER_ASSIGN(Tensor t, floatInit(c.tensor));
    double lo = 0, hi = 0;
    for (int64_t i = 0; i < t.size(); ++i) {
      lo = std::min(lo, t.getDouble(i));
      hi = std::max(hi, t.getDouble(i));
    }
    QParams p = affineParams({lo, hi}, qmin, qmax);
    Tensor q(Type(o_.activationType, t.dims()));
    for (int64_t i = 0; i < t.size(); ++i) {
      double v = std::nearbyint(t.getDouble(i) / double(p.scale)) + p.zeroPoint;
      q.setInt(i, int64_t(std::clamp(v, double(qmin), double(qmax))));
    }
    std::string qn = fresh(c.tensor + "_quantized");
    std::string sn = fresh(c.tensor + "_scale");
    std::string zn = fresh(c.tensor + "_zero_point");
    std::string dn = fresh(c.tensor + "_dequantized");
    addInit(qn, q);
    addInit(sn, scalarOf(ElemKind::F32, p.scale));
    addInit(zn, scalarOf(o_.activationType, p.zeroPoint));
    before_[c.node].push_back(makeNode("DequantizeLinear", {qn, sn, zn}, dn,
                                       fresh(c.tensor + "_DequantizeLinear")));
    rewire_[{c.node, c.input}] = dn;
    replacedInits_.insert(c.tensor);
  }
  return Status::ok();
}

Status Rewriter::quantizeActivations(RewriteStats &st) {
  for (auto &spec : plan_.tensors) {
    EMBER_ASSIGN(QParams p, paramsOf(spec.name));
    std::string sn = fresh(spec.name + "_scale");
    std::string zn = fresh(spec.name + "_zero_point");
    const ElemKind kind = kindOf(spec.name);
    // Per-channel parameters (8-bit only): axis 1, the zero point repeated.
    const bool perChannel = !p.channelScales.empty() && kind != ElemKind::I16;
    if (perChannel) {
      std::vector<double> sc(p.channelScales.begin(), p.channelScales.end());
      addInit(sn, vectorOf(ElemKind::F32, sc));
      addInit(zn, vectorOf(kind, std::vector<double>(sc.size(),
                                                     double(p.zeroPoint))));
    } else {
      addInit(sn, scalarOf(ElemKind::F32, p.scale));
      addInit(zn, scalarOf(kind, p.zeroPoint));
    }
    std::string qn = fresh(spec.name + "_quantized");
    // 16-bit pairs: ONNX Runtime's com.microsoft Q/DQ (any opset).
    auto pair = [&](const char *op, std::vector<std::string> in,
                    const std::string &out, const std::string &name) {
      onnx::NodeProto n = perChannel ? makeNode(op, std::move(in), out, name, 1)
                                     : makeNode(op, std::move(in), out, name);
      if (kind == ElemKind::I16) {
        n.set_domain(kQdq16Domain);
        wideUsed_ = true;
      }
      return n;
    };
    if (spec.graphInput) {
      std::string dn = fresh(spec.name + "_dequantized");
      st.aliases[spec.name] = dn;
      head_.insert(head_.begin(),
                   {pair("QuantizeLinear", {spec.name, sn, zn}, qn,
                         fresh(spec.name + "_QuantizeLinear")),
                    pair("DequantizeLinear", {qn, sn, zn}, dn,
                         fresh(spec.name + "_DequantizeLinear"))});
      // Quantized consumers read the dequantized input.
      auto it = ix_.consumers.find(spec.name);
      if (it != ix_.consumers.end())
        for (auto &c : it->second)
          if (plan_.groupOf[size_t(c.first)] >= 0)
            rewire_[{c.first, c.second}] = dn;
    } else {
      auto pit = ix_.producer.find(spec.name);
      if (pit == ix_.producer.end())
        return makeError(ErrorCode::Internal, "tensor '", spec.name,
                         "' has no producer");
      int node = pit->second;
      const auto &n = src_.graph().node(node);
      int outIdx = 0;
      while (outIdx < n.output_size() && n.output(outIdx) != spec.name)
        ++outIdx;
      std::string pre = fresh(spec.name + "_float");
      renameOut_[{node, outIdx}] = pre;
      after_[node].push_back(pair("QuantizeLinear", {pre, sn, zn}, qn,
                                  fresh(spec.name + "_QuantizeLinear")));
      after_[node].push_back(pair("DequantizeLinear", {qn, sn, zn}, spec.name,
                                  fresh(spec.name + "_DequantizeLinear")));
    }
    ++st.qdqPairs;
  }
  return Status::ok();
}

Expected<onnx::ModelProto> Rewriter::run(RewriteStats &st) {
  const auto &g = src_.graph();
  for (auto &n : g.node()) {
    used_.insert(n.name());
    for (auto &x : n.input())
      used_.insert(x);
    for (auto &x : n.output())
      used_.insert(x);
  }
  for (auto &i : g.initializer())
    used_.insert(i.name());
  for (auto &i : g.input())
    used_.insert(i.name());
  for (auto &i : g.output())
    used_.insert(i.name());
  for (auto &v : g.value_info())
    used_.insert(v.name());

  out_ = src_;
  out_.mutable_graph()->clear_node();
  EMBER_TRY(quantizeWeights(st));
  EMBER_TRY(quantizeBiases(st));
  EMBER_TRY(quantizeConstants());
  EMBER_TRY(quantizeActivations(st));

  auto *og = out_.mutable_graph();
  for (auto &n : head_)
    *og->add_node() = n;
  for (int i : ix_.order) {
    onnx::NodeProto n = g.node(i);
    for (int k = 0; k < n.input_size(); ++k) {
      auto it = rewire_.find({i, k});
      if (it != rewire_.end())
        n.set_input(k, it->second);
    }
    auto ap = appendInput_.find(i);
    if (ap != appendInput_.end()) {
      while (n.input_size() < ap->second.first)
        n.add_input("");
      n.add_input(ap->second.second);
    }
    for (int k = 0; k < n.output_size(); ++k) {
      auto it = renameOut_.find({i, k});
      if (it != renameOut_.end())
        n.set_output(k, it->second);
    }
    for (auto &x : before_[i])
      *og->add_node() = x;
    *og->add_node() = n;
    for (auto &x : after_[i])
      *og->add_node() = x;
  }
  for (size_t i = 0; i < plan_.groupOf.size(); ++i)
    st.quantizedNodes += plan_.groupOf[i] >= 0;

  // Drop float initializers nothing reads any more.
  std::set<std::string> read;
  for (auto &n : og->node())
    for (auto &x : n.input())
      read.insert(x);
  for (auto &o : og->output())
    read.insert(o.name());
  google::protobuf::RepeatedPtrField<onnx::TensorProto> inits;
  for (auto &init : *og->mutable_initializer())
    if (!replacedInits_.count(init.name()) || read.count(init.name()))
      *inits.Add() = std::move(init);
  og->mutable_initializer()->Swap(&inits);

  if (wideUsed_) {
    bool have = false;
    for (auto &op : out_.opset_import())
      have = have || op.domain() == kQdq16Domain;
    if (!have) {
      auto *op = out_.add_opset_import();
      op->set_domain(kQdq16Domain);
      op->set_version(1);
    }
  }
  if (!o_.description.empty()) {
    auto *md = out_.add_metadata_props();
    md->set_key("ember.quantize");
    md->set_value(o_.description);
  }
  return std::move(out_);
}

} // namespace

Expected<onnx::ModelProto>
rewriteQdq(const onnx::ModelProto &m, const QdqPlan &plan,
           const std::map<std::string, QParams> &params,
           const std::map<std::string, std::vector<double>> &channelMeans,
           const RewriteOptions &o, RewriteStats *stats) {
  RewriteStats st;
  Rewriter r(m, plan, params, channelMeans, o);
  auto out = r.run(st);
  if (stats)
    *stats = st;
  return out;
}

} // namespace ember::quant
