#include "quant/QdqPlan.h"

#include "lower/ChannelScales.h"

#include "import/OnnxImporter.h"
#include "ir/OpRegistry.h"

#include <algorithm>

namespace ember::quant {

Expected<TensorInfoMap>
inspectTensors(const onnx::ModelProto &m,
               const std::map<std::string, Dims> &inputShapes) {
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    return invalid("the model does not serialize");
  ImportOptions io;
  io.inputShapes = inputShapes;
  io.foldLimit = int64_t(1) << 28; // weights computed from constants too
  EMBER_ASSIGN(auto mod, importOnnxBytes(bytes, ".", io));
  TensorInfoMap out;
  for (auto &n : mod->main()->nodes())
    for (unsigned i = 0; i < n->numResults(); ++i) {
      TensorInfo t;
      t.elem = n->types[i].elem();
      t.dims = n->types[i].dims();
      t.constant = n->kind == OpKind::Constant;
      if (t.constant)
        t.value = n->payload;
      out[n->outNames[i]] = t;
    }
  return out;
}

Expected<size_t> foldConstantWeights(onnx::ModelProto &m,
                                     const TensorInfoMap &info) {
  auto *g = m.mutable_graph();
  size_t folded = 0;
  {
    GraphIndex ix(*g);
    static const std::set<std::string> kReaders = {
        "Conv", "ConvTranspose", "MatMul", "Gemm", "Add", "Mul", "Concat"};
    std::set<std::string> todo;
    for (auto &n : g->node()) {
      if (!kReaders.count(n.op_type()))
        continue;
      for (auto &in : n.input()) {
        if (in.empty() || ix.isInitializer(in) || !ix.producer.count(in))
          continue;
        auto it = info.find(in);
        if (it != info.end() && it->second.constant && it->second.value &&
            it->second.elem == ElemKind::F32 && !ix.isGraphOutput(in))
          todo.insert(in);
      }
    }
    for (auto &t : todo) {
      *g->add_initializer() = makeInitializer(t, *info.at(t).value);
      ++folded;
    }
    if (todo.empty())
      return folded;
    // The producers no longer produce them.
    for (auto &n : *g->mutable_node())
      for (int k = 0; k < n.output_size(); ++k)
        if (todo.count(n.output(k)))
          n.set_output(k, "");
  }
  // Remove nodes left with no read outputs whose inputs are all constants,
  // then the initializers only they read.
  std::set<std::string> removedInputs;
  for (bool changed = true; changed;) {
    changed = false;
    GraphIndex ix(*g);
    google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
    for (auto &n : g->node()) {
      bool read = false, constIns = true;
      for (auto &o : n.output())
        read = read || (!o.empty() && ix.readers(o) > 0);
      for (auto &in : n.input()) {
        auto it = info.find(in);
        constIns = constIns && (in.empty() || ix.isInitializer(in) ||
                                (it != info.end() && it->second.constant));
      }
      if (!read && constIns) {
        for (auto &in : n.input())
          removedInputs.insert(in);
        changed = true;
        continue;
      }
      *kept.Add() = n;
    }
    g->mutable_node()->Swap(&kept);
  }
  GraphIndex ix(*g);
  google::protobuf::RepeatedPtrField<onnx::TensorProto> inits;
  for (auto &i : g->initializer())
    if (!removedInputs.count(i.name()) || ix.readers(i.name()) > 0)
      *inits.Add() = i;
  g->mutable_initializer()->Swap(&inits);
  return folded;
}

const TensorSpec *QdqPlan::spec(const std::string &t) const {
  for (auto &s : tensors)
    if (s.name == t)
      return &s;
  return nullptr;
}

std::string QdqPlan::root(std::string t) const {
  for (size_t guard = 0; guard <= tensors.size(); ++guard) {
    const TensorSpec *s = spec(t);
    if (!s || s->shareWith.empty())
      return t;
    t = s->shareWith;
  }
  return t;
}

std::string groupName(const onnx::GraphProto &g, const QuantGroup &q) {
  const auto &n = g.node(q.anchor);
  if (!n.name().empty())
    return n.name();
  return q.outputs.empty() ? n.op_type() : q.outputs[0];
}

std::vector<int> QuantGroup::nodes() const {
  std::vector<int> out;
  for (int n : {anchor, biasAdd, activation})
    if (n >= 0)
      out.push_back(n);
  out.insert(out.end(), members.begin(), members.end());
  return out;
}

std::set<std::string> tieWidths(const QdqPlan &plan,
                                std::set<std::string> wide) {
  for (bool changed = true; changed;) {
    changed = false;
    for (auto &p : plan.sameWidth) {
      const std::string a = plan.root(p.first), b = plan.root(p.second);
      if (wide.count(a) != wide.count(b)) {
        wide.insert(a);
        wide.insert(b);
        changed = true;
      }
    }
  }
  return wide;
}

namespace {

bool isDefault(const onnx::NodeProto &n) {
  return n.domain().empty() || n.domain() == "ai.onnx";
}

int64_t attrInt(const onnx::NodeProto &n, const char *name, int64_t def) {
  for (auto &a : n.attribute())
    if (a.name() == name)
      return a.i();
  return def;
}
float attrFloat(const onnx::NodeProto &n, const char *name, float def) {
  for (auto &a : n.attribute())
    if (a.name() == name)
      return a.f();
  return def;
}
std::string attrStr(const onnx::NodeProto &n, const char *name,
                    const std::string &def) {
  for (auto &a : n.attribute())
    if (a.name() == name)
      return a.s();
  return def;
}

const std::set<std::string> kUnary = {
    "Relu",      "Clip", "LeakyRelu", "Sigmoid",  "Tanh",    "HardSigmoid",
    "HardSwish", "Elu",  "Selu",      "Softsign", "Softplus"};
const std::set<std::string> kMovement = {
    "Reshape",      "Flatten", "Transpose", "Squeeze", "Unsqueeze",
    "Identity",     "Dropout", "Slice",     "Split",   "DepthToSpace",
    "SpaceToDepth", "Expand",  "Tile",      "Gather",  "Pad"};

class Planner {
public:
  Planner(const onnx::ModelProto &m, const TensorInfoMap &info,
          const PlanOptions &o)
      : g_(m.graph()), ix_(g_), info_(info), o_(o) {}

  Expected<QdqPlan> run();

private:
  bool floatAct(const std::string &t) const {
    if (t.empty() || ix_.isInitializer(t))
      return false;
    auto it = info_.find(t);
    return it != info_.end() && it->second.elem == ElemKind::F32 &&
           !it->second.constant;
  }
  const onnx::TensorProto *floatInit(const std::string &t) const {
    const onnx::TensorProto *p = ix_.init(t);
    return p && p->data_type() == onnx::TensorProto::FLOAT ? p : nullptr;
  }
  bool kept(int i) const { return keep_[size_t(i)]; }
  // The only reader of t, when it has exactly one and it is a node that is
  // not already claimed or kept float.
  int soleFreeConsumer(const std::string &t) const {
    if (ix_.readers(t) != 1)
      return -1;
    auto it = ix_.consumers.find(t);
    if (it == ix_.consumers.end() || it->second.size() != 1)
      return -1;
    int j = it->second[0].first;
    if (kept(j) || plan_.groupOf[size_t(j)] >= 0)
      return -1;
    return j;
  }
  bool constantBounds(const onnx::NodeProto &n) const {
    for (int k = 1; k < n.input_size(); ++k)
      if (!n.input(k).empty() && !floatInit(n.input(k)))
        return false;
    return true;
  }
  bool foldableActivation(int j) const {
    const auto &n = g_.node(j);
    if (!isDefault(n))
      return false;
    if (n.op_type() == "Relu")
      return true;
    return n.op_type() == "Clip" && constantBounds(n);
  }
  // Axis of `dims` holding `channels` when every other dim is 1 and the
  // tensor broadcasts along `outRank`'s channel axis `outAxis`.
  static int biasAxis(const Dims &d, int64_t channels, size_t outRank,
                      size_t outAxis) {
    int64_t n = 1;
    for (int64_t x : d)
      n *= x;
    if (n != channels || d.size() > outRank)
      return -1;
    // Right-aligned broadcasting: dim k of d lines up with dim
    // k + outRank - d.size() of the output.
    for (size_t k = 0; k < d.size(); ++k)
      if (d[k] == channels && k + outRank - d.size() == outAxis)
        return int(k);
    return channels == 1 ? int(d.size()) - 1 : -1;
  }
  Dims dimsOf(const std::string &t) const {
    auto it = info_.find(t);
    return it == info_.end() ? Dims{} : it->second.dims;
  }

  int newGroup(GroupKind k, int anchor) {
    QuantGroup q;
    q.kind = k;
    q.anchor = anchor;
    plan_.groups.push_back(q);
    int id = int(plan_.groups.size()) - 1;
    plan_.groupOf[size_t(anchor)] = id;
    return id;
  }
  // Input k of node i in group q: a float activation's Q/DQ, or else a
  // float constant quantized with its own parameters.
  void addInput(QuantGroup &q, int i, int k) {
    const std::string &t = g_.node(i).input(k);
    if (floatAct(t)) {
      q.activationInputs.push_back({i, k});
      return;
    }
    ConstantSpec c;
    c.node = i;
    c.input = k;
    c.tensor = t;
    plan_.constants.push_back(c);
  }
  void addTensor(const std::string &t, const std::string &share) {
    if (specIndex_.count(t))
      return;
    TensorSpec s;
    s.name = t;
    s.shareWith = share;
    s.graphInput =
        std::find(ix_.inputs.begin(), ix_.inputs.end(), t) != ix_.inputs.end();
    specIndex_[t] = plan_.tensors.size();
    plan_.tensors.push_back(s);
  }
  // The tensor whose own parameters t uses.
  std::string root(const std::string &t) const {
    std::string r = t;
    for (int guard = 0; guard < 100000; ++guard) {
      auto it = specIndex_.find(r);
      if (it == specIndex_.end() || plan_.tensors[it->second].shareWith.empty())
        return r;
      r = plan_.tensors[it->second].shareWith;
    }
    return r;
  }
  bool quantizedOutput(const std::string &t) const {
    return specIndex_.count(t) != 0;
  }

  bool tryLinear(int i);
  bool tryElementwise(int i);
  void foldActivation(QuantGroup &q, std::string &tail);
  bool trySimple(int i);
  bool tryConcat(int i, bool outputsFloat);
  // A custom op whose library declares an integer form: its float operands
  // and results get Q/DQ, results with their own parameters
  // (docs/custom-ops.md, "Quantization"); float otherwise.
  bool tryCustom(int i);
  // The regions the lowering turns into one integer op, claimed before
  // the node-by-node walk (their Adds and Muls would else be elementwise
  // groups of their own).
  void claimRegions();
  bool tryNormRegion(int div);
  bool tryGeluRegion(int anchor);
  // The region of `nodes` reading `input` and writing `output`, when none
  // of its nodes is kept float or claimed and only the output is read
  // outside it.
  bool claimRegion(std::vector<int> nodes, const std::string &input,
                   const std::string &output);
  bool scalarInit(const std::string &t, double *v = nullptr) const;
  // Whether t is read only by a graph output, through a chain of sole
  // readers that move data (Reshape, Flatten, ...).
  bool reachesOutputOnly(std::string t) const {
    for (;;) {
      if (ix_.isGraphOutput(t))
        return ix_.readers(t) == 1;
      auto it = ix_.consumers.find(t);
      if (ix_.readers(t) != 1 || it == ix_.consumers.end() ||
          it->second.size() != 1)
        return false;
      const auto &c = g_.node(it->second[0].first);
      if (!kMovement.count(c.op_type()) || c.output_size() < 1)
        return false;
      t = c.output(0);
    }
  }
  int producerOf(const std::string &t) const {
    auto it = ix_.producer.find(t);
    return it == ix_.producer.end() ? -1 : it->second;
  }
  // The producer of t when it is a default-domain `op`, else -1.
  int producedBy(const std::string &t, const char *op) const {
    int p = producerOf(t);
    return p >= 0 && isDefault(g_.node(p)) && g_.node(p).op_type() == op ? p
                                                                         : -1;
  }

  const onnx::GraphProto &g_;
  GraphIndex ix_;
  const TensorInfoMap &info_;
  const PlanOptions &o_;
  QdqPlan plan_;
  std::vector<bool> keep_;
  std::set<int> floatByChoice_; // float on purpose: no note
  std::map<std::string, size_t> specIndex_;
};

void Planner::foldActivation(QuantGroup &q, std::string &tail) {
  if (ix_.isGraphOutput(tail))
    return;
  int k = soleFreeConsumer(tail);
  if (k < 0 || !foldableActivation(k))
    return;
  q.activation = k;
  plan_.groupOf[size_t(k)] = int(&q - plan_.groups.data());
  tail = g_.node(k).output(0);
}

bool Planner::tryLinear(int i) {
  const auto &n = g_.node(i);
  const std::string &op = n.op_type();
  if (op != "Conv" && op != "MatMul" && op != "Gemm")
    return false;
  if (n.input_size() < 2 || !floatAct(n.input(0)))
    return false;
  const onnx::TensorProto *w = floatInit(n.input(1));
  bool bothActs = false;
  int waxis = -1;
  if (op == "Conv") {
    if (!w || w->dims_size() < 3)
      return false;
    waxis = 0;
  } else if (op == "MatMul") {
    if (w) {
      if (w->dims_size() != 2)
        return false;
      waxis = 1;
    } else if (floatAct(n.input(1))) {
      bothActs = true;
    } else {
      return false;
    }
  } else { // Gemm
    if (!w || w->dims_size() != 2)
      return false;
    waxis = attrInt(n, "transB", 0) ? 0 : 1;
  }
  int id = newGroup(GroupKind::Linear, i);
  QuantGroup &q = plan_.groups[size_t(id)];
  q.activationInputs.push_back({i, 0});
  if (bothActs)
    q.activationInputs.push_back({i, 1});
  int widx = -1;
  if (w) {
    WeightSpec ws;
    ws.node = i;
    ws.input = 1;
    ws.tensor = n.input(1);
    ws.axis = o_.perChannel ? waxis : -1;
    plan_.weights.push_back(ws);
    widx = int(plan_.weights.size()) - 1;
  }
  int64_t channels = w ? w->dims(waxis) : 0;
  std::string tail = n.output(0);
  // The op's own bias.
  bool hasBias = false;
  if (w && (op == "Conv" || op == "Gemm") && n.input_size() > 2 &&
      !n.input(2).empty()) {
    hasBias = true;
    const onnx::TensorProto *b = floatInit(n.input(2));
    bool ok = b != nullptr;
    int axis = -1;
    if (ok) {
      Dims bd(b->dims().begin(), b->dims().end());
      axis = op == "Conv" ? (bd.size() == 1 && bd[0] == channels ? 0 : -1)
                          : biasAxis(bd, channels, 2, 1);
      ok = axis >= 0 && (op == "Conv" || (attrFloat(n, "alpha", 1.f) == 1.f &&
                                          attrFloat(n, "beta", 1.f) == 1.f));
    }
    if (ok) {
      BiasSpec bs;
      bs.node = i;
      bs.input = 2;
      bs.tensor = n.input(2);
      bs.activation = n.input(0);
      bs.weight = widx;
      bs.axis = axis;
      plan_.biases.push_back(bs);
    }
  }
  // A following Add of a constant per-channel bias joins the accumulator;
  // not after a MatMul of a rank-3+ activation (a transformer's batched
  // tokens), which the lowering takes as MatMulInteger -> Requantize only
  // when a QuantizeLinear follows: its bias Add is then a quantized add of
  // its own, as ONNX Runtime writes it.
  const bool batched = op == "MatMul" && dimsOf(n.input(0)).size() > 2;
  if (w && !hasBias && !batched && !ix_.isGraphOutput(tail)) {
    int j = soleFreeConsumer(tail);
    if (j >= 0 && isDefault(g_.node(j)) && g_.node(j).op_type() == "Add" &&
        g_.node(j).input_size() == 2) {
      const auto &a = g_.node(j);
      int other = a.input(0) == tail ? 1 : 0;
      const onnx::TensorProto *b = floatInit(a.input(other));
      Dims od = dimsOf(tail);
      if (b && a.input(1 - other) == tail && !od.empty()) {
        Dims bd(b->dims().begin(), b->dims().end());
        size_t outAxis = op == "Conv" ? 1 : od.size() - 1;
        int axis = biasAxis(bd, channels, od.size(), outAxis);
        if (axis >= 0) {
          q.biasAdd = j;
          plan_.groupOf[size_t(j)] = id;
          BiasSpec bs;
          bs.node = j;
          bs.input = other;
          bs.tensor = a.input(other);
          bs.activation = n.input(0);
          bs.weight = widx;
          bs.axis = axis;
          plan_.biases.push_back(bs);
          tail = a.output(0);
        }
      }
    }
  }
  foldActivation(q, tail);
  q.outputs.push_back(tail);
  return true;
}

bool Planner::tryElementwise(int i) {
  const auto &n = g_.node(i);
  if ((n.op_type() != "Add" && n.op_type() != "Mul") || n.input_size() != 2)
    return false;
  int acts = 0;
  for (int k = 0; k < 2; ++k) {
    if (floatAct(n.input(k)))
      ++acts;
    else if (!floatInit(n.input(k)))
      return false;
  }
  if (acts == 0)
    return false;
  int id = newGroup(GroupKind::Elementwise, i);
  QuantGroup &q = plan_.groups[size_t(id)];
  for (int k = 0; k < 2; ++k)
    addInput(q, i, k);
  std::string tail = n.output(0);
  foldActivation(q, tail);
  q.outputs.push_back(tail);
  return true;
}

// A Concat of float activations and float constants (in any place), at
// least one activation: own parameters, the constants quantized.
bool Planner::tryConcat(int i, bool outputsFloat) {
  const auto &n = g_.node(i);
  if (!outputsFloat)
    return false;
  int acts = 0;
  for (auto &in : n.input()) {
    if (!floatAct(in) && !floatInit(in))
      return false;
    acts += floatAct(in) ? 1 : 0;
  }
  if (acts == 0)
    return false;
  int id = newGroup(GroupKind::OwnParams, i);
  QuantGroup &q = plan_.groups[size_t(id)];
  for (int k = 0; k < n.input_size(); ++k)
    addInput(q, i, k);
  q.outputs.push_back(n.output(0));
  return true;
}

bool Planner::trySimple(int i) {
  const auto &n = g_.node(i);
  const std::string &op = n.op_type();
  auto outputsFloat = [&] {
    for (auto &o : n.output())
      if (!o.empty() && !floatAct(o))
        return false;
    return true;
  };
  // (Before the first-input check: a Concat's constant input may come first,
  // a ViT's class token.)
  if (op == "Concat")
    return tryConcat(i, outputsFloat());
  if (n.input_size() < 1 || !floatAct(n.input(0)))
    return false;
  if (kUnary.count(op)) {
    if (op == "Clip" && !constantBounds(n))
      return false;
    if (!outputsFloat())
      return false;
    int id = newGroup(GroupKind::Unary, i);
    plan_.groups[size_t(id)].activationInputs.push_back({i, 0});
    plan_.groups[size_t(id)].outputs.push_back(n.output(0));
    return true;
  }
  if (op == "MaxPool" || op == "AveragePool") {
    if (n.output_size() > 1 && !n.output(1).empty() &&
        ix_.readers(n.output(1)) > 0)
      return false;
    int id = newGroup(GroupKind::SharedPool, i);
    plan_.groups[size_t(id)].activationInputs.push_back({i, 0});
    plan_.groups[size_t(id)].outputs.push_back(n.output(0));
    return true;
  }
  if (op == "Softmax" && reachesOutputOnly(n.output(0))) {
    floatByChoice_.insert(i); // a classifier's probabilities: nothing gains
    return false;
  }
  if (op == "Softmax" || op == "LayerNormalization" ||
      op == "RMSNormalization") {
    // The integer softmax and normalization: the scale and bias stay float
    // constants the lowering reads; the statistics outputs unread.
    for (int k = 1; k < n.input_size(); ++k)
      if (!n.input(k).empty() && !floatInit(n.input(k)))
        return false;
    for (int k = 1; k < n.output_size(); ++k)
      if (!n.output(k).empty() && ix_.readers(n.output(k)) > 0)
        return false;
    if (!floatAct(n.output(0)))
      return false;
    int id = newGroup(GroupKind::OwnParams, i);
    plan_.groups[size_t(id)].activationInputs.push_back({i, 0});
    plan_.groups[size_t(id)].outputs.push_back(n.output(0));
    return true;
  }
  if (op == "GlobalAveragePool" || op == "ReduceMean") {
    if (!outputsFloat())
      return false;
    int id = newGroup(GroupKind::OwnParams, i);
    plan_.groups[size_t(id)].activationInputs.push_back({i, 0});
    plan_.groups[size_t(id)].outputs.push_back(n.output(0));
    return true;
  }
  if (kMovement.count(op)) {
    // Only worth it on an already quantized tensor: then it moves integers.
    if (!quantizedOutput(n.input(0)) || !outputsFloat())
      return false;
    if (op == "Dropout" && n.output_size() > 1 && !n.output(1).empty() &&
        ix_.readers(n.output(1)) > 0)
      return false;
    if (op == "Pad") {
      std::string mode = attrStr(n, "mode", "constant");
      if (mode == "constant" && n.input_size() > 2 && !n.input(2).empty()) {
        const onnx::TensorProto *v = floatInit(n.input(2));
        auto t = v ? initializerTensor(*v) : Expected<Tensor>(invalid(""));
        if (!t || t->size() != 1 || t->getDouble(0) != 0.0)
          return false;
      }
    }
    int id = newGroup(GroupKind::Movement, i);
    QuantGroup &q = plan_.groups[size_t(id)];
    q.activationInputs.push_back({i, 0});
    for (auto &o : n.output())
      if (!o.empty() && (op != "Dropout" || o == n.output(0)))
        q.outputs.push_back(o);
    return true;
  }
  return false;
}

bool Planner::tryCustom(int i) {
  const auto &n = g_.node(i);
  auto op = findNewestCustomOp(n.domain(), n.op_type());
  if (!op || op->integerForm == IntegerForm::None)
    return false;
  std::vector<int> acts;
  for (int k = 0; k < n.input_size(); ++k)
    if (!n.input(k).empty() && floatAct(n.input(k)))
      acts.push_back(k);
  std::vector<std::string> outs;
  for (auto &o : n.output())
    if (!o.empty() && floatAct(o))
      outs.push_back(o);
  if (acts.empty() || outs.empty())
    return false;
  int id = newGroup(GroupKind::OwnParams, i);
  QuantGroup &q = plan_.groups[size_t(id)];
  for (int k : acts)
    q.activationInputs.push_back({i, k});
  for (int k = 0; k < n.input_size(); ++k)
    if (!n.input(k).empty() && floatInit(n.input(k)))
      addInput(q, i, k);
  q.outputs = outs;
  return true;
}

bool Planner::scalarInit(const std::string &t, double *v) const {
  const onnx::TensorProto *p = floatInit(t);
  if (!p)
    return false;
  auto x = initializerTensor(*p);
  if (!x || x->size() != 1)
    return false;
  if (v)
    *v = x->getDouble(0);
  return true;
}

bool Planner::claimRegion(std::vector<int> nodes, const std::string &input,
                          const std::string &output) {
  std::sort(nodes.begin(), nodes.end());
  nodes.erase(std::unique(nodes.begin(), nodes.end()), nodes.end());
  if (!floatAct(input) || !floatAct(output))
    return false;
  std::set<int> in(nodes.begin(), nodes.end());
  int last = producerOf(output);
  if (last < 0 || !in.count(last))
    return false;
  for (int j : nodes) {
    if (kept(j) || plan_.groupOf[size_t(j)] >= 0)
      return false;
    for (auto &o : g_.node(j).output()) {
      if (o.empty() || o == output)
        continue;
      if (ix_.isGraphOutput(o))
        return false;
      auto it = ix_.consumers.find(o);
      if (it != ix_.consumers.end())
        for (auto &c : it->second)
          if (!in.count(c.first))
            return false;
    }
  }
  int id = newGroup(GroupKind::Region, last);
  QuantGroup &q = plan_.groups[size_t(id)];
  for (int j : nodes) {
    plan_.groupOf[size_t(j)] = id;
    if (j != last)
      q.members.push_back(j);
    for (int k = 0; k < g_.node(j).input_size(); ++k)
      if (g_.node(j).input(k) == input)
        q.activationInputs.push_back({j, k});
  }
  q.outputs.push_back(output);
  return true;
}

// Div(t, Sqrt(Add(ReduceMean(Pow(t, 2) or Mul(t, t)), eps))), t = x -
// ReduceMean(x) (exporters may write that Sub twice) or x itself (RMS),
// then a Mul by gamma and an Add of beta, each optional.
bool Planner::tryNormRegion(int div) {
  const auto &d = g_.node(div);
  if (d.input_size() != 2)
    return false;
  int sq = producedBy(d.input(1), "Sqrt");
  int add = sq < 0 ? -1 : producedBy(g_.node(sq).input(0), "Add");
  if (add < 0 || g_.node(add).input_size() != 2)
    return false;
  const auto &a = g_.node(add);
  int side = scalarInit(a.input(1)) ? 0 : scalarInit(a.input(0)) ? 1 : -1;
  int var = side < 0 ? -1 : producedBy(a.input(side), "ReduceMean");
  int pw = var < 0 ? -1 : producerOf(g_.node(var).input(0));
  if (pw < 0 || !isDefault(g_.node(pw)) || g_.node(pw).input_size() != 2)
    return false;
  const auto &pn = g_.node(pw);
  double e = 0;
  bool square =
      (pn.op_type() == "Pow" && scalarInit(pn.input(1), &e) && e == 2.0) ||
      (pn.op_type() == "Mul" && pn.input(0) == pn.input(1));
  if (!square)
    return false;
  std::vector<int> nodes{div, sq, add, var, pw};
  const std::string &t = d.input(0), &t2 = pn.input(0);
  std::string x = t;
  int s1 = producedBy(t, "Sub");
  int m1 = s1 < 0 ? -1 : producedBy(g_.node(s1).input(1), "ReduceMean");
  if (m1 >= 0 && g_.node(m1).input(0) == g_.node(s1).input(0)) {
    const auto &sn = g_.node(s1);
    x = sn.input(0);
    nodes.push_back(s1);
    nodes.push_back(m1);
    if (t2 != t) {
      int s2 = producedBy(t2, "Sub");
      if (s2 < 0 || g_.node(s2).input(0) != sn.input(0) ||
          g_.node(s2).input(1) != sn.input(1))
        return false;
      nodes.push_back(s2);
    }
  } else if (t2 != t) {
    return false;
  }
  std::string tail = d.output(0);
  for (const char *op : {"Mul", "Add"}) {
    if (ix_.isGraphOutput(tail))
      break;
    int j = soleFreeConsumer(tail);
    if (j < 0 || !isDefault(g_.node(j)) || g_.node(j).op_type() != op ||
        g_.node(j).input_size() != 2)
      continue;
    const auto &u = g_.node(j);
    const std::string &other = u.input(0) == tail ? u.input(1) : u.input(0);
    if (!floatInit(other) || dimsOf(u.output(0)) != dimsOf(tail))
      continue;
    nodes.push_back(j);
    tail = u.output(0);
  }
  return claimRegion(nodes, x, tail);
}

namespace {
const std::set<std::string> kRegionOps = {"Add", "Sub", "Mul",  "Div",
                                          "Pow", "Erf", "Tanh", "Gelu"};
}

// The elementwise nodes around an Erf, Tanh or Gelu computing one function
// of one tensor x with single-value constants: back from the anchor through
// producers only the region reads, forward from x through nodes reading
// only x, region values and such constants; one tensor leaves.
bool Planner::tryGeluRegion(int anchor) {
  const Dims dims = dimsOf(g_.node(anchor).output(0));
  auto member = [&](int j) {
    const auto &n = g_.node(j);
    if (!isDefault(n) || !kRegionOps.count(n.op_type()) ||
        n.output_size() != 1 || !floatAct(n.output(0)) ||
        dimsOf(n.output(0)) != dims || kept(j) || plan_.groupOf[size_t(j)] >= 0)
      return false;
    bool act = false;
    for (auto &in : n.input()) {
      if (scalarInit(in))
        continue;
      if (!floatAct(in) || dimsOf(in) != dims)
        return false;
      act = true;
    }
    return act;
  };
  if (!member(anchor))
    return false;
  std::set<int> back{anchor};
  for (bool grew = true; grew;) {
    grew = false;
    for (int j : std::vector<int>(back.begin(), back.end()))
      for (auto &in : g_.node(j).input()) {
        int p = producerOf(in);
        if (p < 0 || back.count(p) || !member(p) || ix_.isGraphOutput(in))
          continue;
        bool inside = true;
        for (auto &c : ix_.consumers.at(in))
          inside = inside && back.count(c.first);
        if (inside && back.insert(p).second)
          grew = true;
      }
  }
  std::set<std::string> sources;
  for (int j : back)
    for (auto &in : g_.node(j).input()) {
      int p = producerOf(in);
      if (!scalarInit(in) && !(p >= 0 && back.count(p)))
        sources.insert(in);
    }
  if (sources.size() != 1)
    return false;
  const std::string x = *sources.begin();
  // Forward from x, in topological order.
  std::set<std::string> values{x};
  std::vector<int> fwd;
  for (int j : ix_.order) {
    if (!member(j))
      continue;
    bool reads = true;
    for (auto &in : g_.node(j).input())
      reads = reads && (values.count(in) || scalarInit(in));
    if (!reads)
      continue;
    fwd.push_back(j);
    values.insert(g_.node(j).output(0));
  }
  if (std::find(fwd.begin(), fwd.end(), anchor) == fwd.end())
    return false;
  std::set<int> fset(fwd.begin(), fwd.end());
  // The exit: the one value read outside that depends on the anchor.
  std::map<int, bool> afterAnchor;
  std::string exit;
  for (int j : fwd) {
    bool dep = j == anchor;
    for (auto &in : g_.node(j).input()) {
      int p = producerOf(in);
      dep = dep || (p >= 0 && fset.count(p) && afterAnchor[p]);
    }
    afterAnchor[j] = dep;
    const std::string &o = g_.node(j).output(0);
    bool outside = ix_.isGraphOutput(o);
    auto it = ix_.consumers.find(o);
    if (it != ix_.consumers.end())
      for (auto &c : it->second)
        outside = outside || !fset.count(c.first);
    if (dep && outside) {
      if (!exit.empty())
        return false;
      exit = o;
    }
  }
  if (exit.empty())
    return false;
  // The nodes the exit depends on.
  std::set<std::string> need{exit};
  std::vector<int> nodes;
  for (auto it = fwd.rbegin(); it != fwd.rend(); ++it)
    if (need.count(g_.node(*it).output(0))) {
      nodes.push_back(*it);
      for (auto &in : g_.node(*it).input())
        need.insert(in);
    }
  // A lone Tanh stays a table of its own (Unary).
  const std::string &op = g_.node(anchor).op_type();
  if (nodes.size() == 1 && op == "Tanh")
    return false;
  if (!claimRegion(nodes, x, exit))
    return false;
  plan_.sameWidth.push_back({x, exit});
  return true;
}

void Planner::claimRegions() {
  for (int i : ix_.order) {
    if (kept(i) || plan_.groupOf[size_t(i)] >= 0 || !isDefault(g_.node(i)))
      continue;
    const std::string &op = g_.node(i).op_type();
    if (op == "Div")
      tryNormRegion(i);
    else if (op == "Erf" || op == "Tanh" || op == "Gelu")
      tryGeluRegion(i);
  }
}

Expected<QdqPlan> Planner::run() {
  size_t nn = size_t(g_.node_size());
  plan_.groupOf.assign(nn, -1);
  keep_.assign(nn, false);
  std::set<std::string> matched;
  for (size_t i = 0; i < nn; ++i) {
    const auto &n = g_.node(int(i));
    if (o_.keepFloat.count(n.name()) && !n.name().empty()) {
      keep_[i] = true;
      matched.insert(n.name());
    }
    for (auto &out : n.output())
      if (o_.keepFloat.count(out)) {
        keep_[i] = true;
        matched.insert(out);
      }
  }
  for (auto &k : o_.keepFloat)
    if (!matched.count(k))
      plan_.unmatchedKeepFloat.push_back(k);

  claimRegions();
  for (int i : ix_.order) {
    if (kept(i))
      continue;
    const auto &n = g_.node(i);
    const int claimed = plan_.groupOf[size_t(i)];
    const bool regionEnd =
        claimed >= 0 &&
        plan_.groups[size_t(claimed)].kind == GroupKind::Region &&
        plan_.groups[size_t(claimed)].anchor == i;
    if (claimed >= 0 && !regionEnd)
      continue;
    bool custom = findNewestCustomOp(n.domain(), n.op_type()) != nullptr;
    if (!regionEnd && !isDefault(n) && !custom)
      continue;
    bool done = regionEnd ||
                (custom ? tryCustom(i)
                        : tryLinear(i) || tryElementwise(i) || trySimple(i));
    if (done) {
      // Register the group's tensors (producers come first in this order).
      const QuantGroup &q = plan_.groups[size_t(plan_.groupOf[size_t(i)])];
      for (auto &ai : q.activationInputs)
        addTensor(g_.node(ai.first).input(ai.second), "");
      bool shares =
          q.kind == GroupKind::SharedPool || q.kind == GroupKind::Movement;
      for (auto &o : q.outputs)
        addTensor(o, shares ? root(n.input(0)) : "");
      continue;
    }
    // Float: say so when it computes on float activations and is not a
    // shape computation or an op the plan left float on purpose.
    bool floatIn = false;
    for (auto &in : n.input())
      floatIn = floatIn || floatAct(in);
    static const std::set<std::string> kNoNote = {"Shape", "Size",
                                                  "ConstantOfShape"};
    if (floatIn && !kNoNote.count(n.op_type()) &&
        !kMovement.count(n.op_type()) && !floatByChoice_.count(i))
      plan_.noInt8Form.push_back(describeNode(n));
  }

  for (auto &t : plan_.tensors)
    if (t.shareWith.empty())
      plan_.observed[t.name] = -1;
  for (auto &q : plan_.groups) {
    if (q.kind != GroupKind::Linear)
      continue;
    const auto &n = g_.node(q.anchor);
    Dims d = dimsOf(n.input(0));
    int axis = -1;
    if (n.op_type() == "Conv")
      axis = 1;
    else if (n.op_type() == "Gemm")
      axis = attrInt(n, "transA", 0) ? 0 : 1;
    else if (!d.empty())
      axis = int(d.size()) - 1;
    if (axis >= 0 && size_t(axis) < d.size())
      plan_.observed[n.input(0)] = axis;
  }
  return std::move(plan_);
}

} // namespace

Expected<QdqPlan> planQdq(const onnx::ModelProto &m, const TensorInfoMap &info,
                          const PlanOptions &o) {
  return Planner(m, info, o).run();
}

std::set<std::string> perChannelCandidates(const onnx::ModelProto &m,
                                           const QdqPlan &plan,
                                           const TensorInfoMap &info) {
  const auto &g = m.graph();
  std::set<std::string> excluded;
  for (auto &o : g.output())
    excluded.insert(o.name());
  for (auto &in : g.input())
    excluded.insert(in.name());
  for (auto &t : plan.tensors)
    if (!t.shareWith.empty())
      excluded.insert(t.shareWith);
  // Writers: the tail of a quantized Conv group.
  std::map<std::string, const QuantGroup *> writer;
  for (auto &q : plan.groups) {
    if (q.kind != GroupKind::Linear || q.outputs.size() != 1)
      continue;
    const auto &n = g.node(q.anchor);
    if (!writesPerChannelActivation(n.op_type()))
      continue;
    if (q.activation >= 0) {
      const auto &a = g.node(q.activation);
      if (a.op_type() == "Clip" && a.input_size() > 1 && !a.input(1).empty()) {
        auto it = info.find(a.input(1));
        if (it == info.end() || !it->second.value ||
            it->second.value->size() != 1 ||
            !(it->second.value->getDouble(0) <= 0))
          continue;
      } else if (a.op_type() != "Relu" && a.op_type() != "Clip") {
        continue;
      }
    }
    writer[q.outputs[0]] = &q;
  }
  std::set<std::string> out;
  for (auto &kv : writer) {
    const std::string &t = kv.first;
    const TensorSpec *spec = plan.spec(t);
    auto it = info.find(t);
    if (!spec || !spec->shareWith.empty() || spec->graphInput ||
        excluded.count(t) || it == info.end() || it->second.dims.size() != 4)
      continue;
    bool ok = true, read = false;
    for (int i = 0; i < g.node_size() && ok; ++i) {
      const auto &n = g.node(i);
      for (int k = 0; k < n.input_size(); ++k) {
        if (n.input(k) != t)
          continue;
        read = true;
        int gi = plan.groupOf[size_t(i)];
        ok = ok && k == 0 && gi >= 0 && plan.groups[size_t(gi)].anchor == i &&
             plan.groups[size_t(gi)].kind == GroupKind::Linear &&
             readsPerChannelActivation(n.op_type(), attrInt(n, "group", 1),
                                       it->second.dims[1]);
      }
    }
    if (ok && read)
      out.insert(t);
  }
  return out;
}

} // namespace ember::quant
