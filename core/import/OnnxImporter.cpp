#include "import/OnnxImporter.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "ir/OpRegistry.h"

#include <onnx/onnx_pb.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

namespace ember {

namespace {

const char *kContribDomain = "com.microsoft";

bool isDefaultDomain(const std::string &d) {
  return d.empty() || d == "ai.onnx";
}

// Names a subgraph reads from enclosing scopes (recursively): its implicit
// inputs, which order the node that owns it after their producers.
void collectOuterRefs(const onnx::GraphProto &g,
                      std::unordered_set<std::string> &out, int depth = 0) {
  if (depth > 16)
    return;
  std::unordered_set<std::string> local;
  for (auto &i : g.input())
    local.insert(i.name());
  for (auto &i : g.initializer())
    local.insert(i.name());
  for (auto &n : g.node())
    for (auto &o : n.output())
      local.insert(o);
  for (auto &n : g.node()) {
    for (auto &i : n.input())
      if (!i.empty() && !local.count(i))
        out.insert(i);
    for (auto &a : n.attribute())
      if (a.type() == onnx::AttributeProto::GRAPH) {
        std::unordered_set<std::string> inner;
        collectOuterRefs(a.g(), inner, depth + 1);
        for (auto &x : inner)
          if (!local.count(x))
            out.insert(x);
      }
  }
}

std::string domainName(const std::string &d) {
  return d.empty() ? "ai.onnx" : d;
}

class Importer {
public:
  Importer(const ImportOptions &opts, std::string baseDir)
      : opts_(opts), baseDir_(std::move(baseDir)) {}

  Expected<std::unique_ptr<Module>> run(const onnx::ModelProto &m,
                                        ImportStats *stats);

private:
  Status importGraph(const onnx::GraphProto &g);
  Status importNodes(const onnx::GraphProto &g);
  // Resolves a tensor name; in a subgraph, a name of an enclosing scope is
  // captured: it becomes a trailing parameter of this function.
  Expected<Value> lookup(const std::string &name);
  struct Subgraph {
    std::shared_ptr<Function> fn;
    std::vector<std::string> captures; // outer names, in parameter order
  };
  // On failure, *typeError tells whether type inference failed (the
  // subgraph is well formed but does not type-check for these shapes).
  Expected<Subgraph> importSubgraph(const onnx::GraphProto &g,
                                    const std::vector<Type> &formalTypes,
                                    bool *typeError = nullptr);
  Status importControlFlow(const onnx::NodeProto &n, int64_t version);
  Status importNode(const onnx::NodeProto &n);
  // ONNX Runtime's fused ops (com.microsoft) that its transformer optimizer
  // writes, as the standard ops they stand for; *done false: not one.
  Status importFused(const onnx::NodeProto &n, const std::vector<Value> &ins,
                     const AttrMap &attrs, bool *done);
  Expected<AttrMap> convertAttrs(const onnx::NodeProto &n);
  // A node of an op library's op (kind Custom).
  Status importCustom(const onnx::NodeProto &n, const CustomOp &op,
                      int64_t version, std::vector<Value> ins, AttrMap attrs);
  Status convertNode(const onnx::NodeProto &n, OpKind kind, int64_t version,
                     std::vector<Value> ins, AttrMap attrs);
  Expected<std::vector<Value>> build(OpKind kind, std::vector<Value> ins,
                                     AttrMap attrs, const std::string &name,
                                     int nres,
                                     std::vector<std::string> outNames);
  Value constInts(const std::vector<int64_t> &v, const std::string &hint) {
    return Value(F_->addConstant(hint, Tensor::fromInts(ElemKind::I64, v)));
  }
  Value constScalar(ElemKind k, double v, const std::string &hint) {
    return Value(F_->addConstant(hint, Tensor::scalar(k, v)));
  }
  Status bindOutputs(const onnx::NodeProto &n, const std::vector<Value> &vs);
  std::string where(const onnx::NodeProto &n) const {
    if (n.name().empty() && n.output_size() && !n.output(0).empty())
      return "node producing '" + n.output(0) + "' (" + n.op_type() + ")";
    return "node '" + n.name() + "' (" + n.op_type() + ")";
  }

  const ImportOptions &opts_;
  std::string baseDir_;
  Importer *parent_ = nullptr; // enclosing scope, for subgraphs
  std::vector<std::string> captures_;
  int depth_ = 0;
  // Set when a node failed type inference in this scope (or a subgraph
  // failed that way): If branches with such errors are kept as run-time
  // errors when their condition is not known at import.
  bool typeError_ = false;
  std::vector<std::string> *notes_ = nullptr; // ImportStats::notes
  std::string defaulted_; // ResolvedShapes::defaulted of the main graph
  std::unique_ptr<Module> M_;
  Function *F_ = nullptr;
  std::unordered_map<std::string, Value> values_;
  std::map<std::string, int64_t> opsets_;
};

Expected<std::unique_ptr<Module>> Importer::run(const onnx::ModelProto &m,
                                                ImportStats *stats) {
  for (auto &op : m.opset_import())
    opsets_[domainName(op.domain())] = op.version();
  if (m.opset_import_size() == 0)
    opsets_["ai.onnx"] = 1; // IR version 1/2 models without opset_import
  if (!m.has_graph())
    return invalid("model has no graph");
  if (stats) {
    stats->irVersion = m.ir_version();
    stats->opsets = opsets_;
    stats->onnxNodes = size_t(m.graph().node_size());
  }
  M_ = std::make_unique<Module>();
  F_ = M_->addFunction("main");
  notes_ = stats ? &stats->notes : nullptr;
  EMBER_TRY(importGraph(m.graph()));
  return std::move(M_);
}

Status Importer::importGraph(const onnx::GraphProto &g) {
  // Initializers become constants.
  std::unordered_set<std::string> initNames;
  for (auto &init : g.initializer()) {
    if (init.name().empty())
      return invalid("an initializer has no name");
    if (!initNames.insert(init.name()).second)
      return invalid("initializer '", init.name(), "' is defined twice");
    EMBER_ASSIGN(Tensor t, tensorFromProto(init, baseDir_));
    values_[init.name()] = Value(F_->addConstant(init.name(), std::move(t)));
  }
  if (g.sparse_initializer_size())
    return unsupported("sparse initializers are not supported");

  // Graph inputs that are not initializers become placeholders (or frozen
  // constants) with the dims the bindings resolve to. A subgraph's formal
  // inputs were created by the caller.
  if (!parent_) {
    std::vector<DeclaredInput> declared;
    std::unordered_set<std::string> seen;
    for (auto &in : g.input()) {
      const std::string &nm = in.name();
      if (initNames.count(nm))
        continue;
      if (nm.empty())
        return invalid("a graph input has no name");
      if (!seen.insert(nm).second)
        return invalid("graph input '", nm, "' is declared twice");
      if (opts_.frozenInputs.count(nm))
        continue;
      if (!in.type().has_tensor_type())
        return unsupported("graph input '", nm,
                           "' is not a tensor (sequences, maps and optionals "
                           "are not supported)");
      DeclaredInput d;
      d.name = nm;
      auto &tt = in.type().tensor_type();
      d.hasShape = tt.has_shape();
      for (int i = 0; d.hasShape && i < tt.shape().dim_size(); ++i) {
        auto &dim = tt.shape().dim(i);
        DeclaredDim x;
        if (dim.has_dim_value() && dim.dim_value() < 0)
          return invalid("graph input '", nm, "' declares dim ", i, " as ",
                         dim.dim_value());
        if (dim.has_dim_value())
          x.value = dim.dim_value();
        else
          x.name = dim.dim_param();
        d.dims.push_back(x);
      }
      declared.push_back(std::move(d));
    }
    ShapeBindings b = opts_.shapes;
    for (auto &[nm, dims] : opts_.inputShapes) {
      std::string text;
      for (size_t i = 0; i < dims.size(); ++i)
        text += (i ? "x" : "") + std::to_string(dims[i]);
      b.inputs.emplace(nm, ShapeBindings::Shape{
                               dims, concat("--input-shape ", nm, "=", text)});
    }
    for (auto &[nm, fz] : opts_.frozenInputs)
      b.inputs.erase(nm); // its value fixes its shape
    EMBER_ASSIGN(ResolvedShapes r, resolveInputShapes(declared, b));
    if (notes_)
      notes_->insert(notes_->end(), r.notes.begin(), r.notes.end());
    defaulted_ = r.defaulted;
    for (auto &in : g.input()) {
      const std::string &nm = in.name();
      if (initNames.count(nm))
        continue;
      auto fz = opts_.frozenInputs.find(nm);
      if (fz != opts_.frozenInputs.end()) {
        values_[nm] = Value(F_->addConstant(nm, fz->second));
        continue;
      }
      ElemKind k;
      if (!elemKindFromOnnx(in.type().tensor_type().elem_type(), k))
        return unsupported("graph input '", nm, "' has ONNX element type ",
                           in.type().tensor_type().elem_type(),
                           ", which Ember does not support");
      const Dims &dims = r.inputs.at(nm);
      EMBER_TRY(checkTensorSize(dims, k, "graph input '" + nm + "'"));
      values_[nm] = Value(F_->addPlaceholder(nm, Type(k, dims)));
    }
  }

  // Defaulted dims may be why a node does not type-check: name them.
  EMBER_TRY(
      withDefaultedDims(importNodes(g), defaulted_, opts_.shapes.spelling));

  for (auto &out : g.output()) {
    auto v = lookup(out.name());
    if (!v)
      return invalid("graph output '", out.name(), "' is never computed");
    F_->addOutput(*v, out.name());
  }
  if (F_->outputs().empty())
    return invalid("the graph has no outputs");
  return Status::ok();
}

Status Importer::importNodes(const onnx::GraphProto &g) {
  // Order nodes topologically (files are not always sorted); detect cycles
  // and undefined inputs.
  int nn = g.node_size();
  std::unordered_map<std::string, int> producer;
  for (int i = 0; i < nn; ++i)
    for (auto &o : g.node(i).output())
      if (!o.empty()) {
        if (values_.count(o) || !producer.emplace(o, i).second)
          return invalid("tensor '", o, "' is produced more than once (",
                         where(g.node(i)), ")");
      }
  std::vector<int> pending(size_t(nn), 0);
  std::vector<std::vector<int>> consumers(static_cast<size_t>(nn));
  for (int i = 0; i < nn; ++i) {
    std::vector<std::string> reads(g.node(i).input().begin(),
                                   g.node(i).input().end());
    for (auto &a : g.node(i).attribute())
      if (a.type() == onnx::AttributeProto::GRAPH) {
        std::unordered_set<std::string> refs;
        collectOuterRefs(a.g(), refs);
        std::vector<std::string> sorted(refs.begin(), refs.end());
        std::sort(sorted.begin(), sorted.end());
        for (auto &r : sorted)
          if (producer.count(r))
            reads.push_back(r);
      }
    for (auto &in : reads) {
      if (in.empty() || values_.count(in))
        continue;
      auto p = producer.find(in);
      if (p == producer.end()) {
        if (parent_ && parent_->lookup(in).hasValue()) {
          EMBER_TRY(lookup(in).status());
          continue;
        }
        return invalid(where(g.node(i)), " reads '", in,
                       "', which no node, initializer or graph input "
                       "defines");
      }
      ++pending[size_t(i)];
      consumers[size_t(p->second)].push_back(i);
    }
  }
  std::vector<int> order, ready;
  for (int i = nn - 1; i >= 0; --i)
    if (pending[size_t(i)] == 0)
      ready.push_back(i);
  while (!ready.empty()) {
    int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    auto &cs = consumers[size_t(i)];
    for (auto it = cs.rbegin(); it != cs.rend(); ++it)
      if (--pending[size_t(*it)] == 0)
        ready.push_back(*it);
  }
  if (int(order.size()) != nn) {
    for (int i = 0; i < nn; ++i)
      if (pending[size_t(i)])
        return invalid("the graph has a cycle through ", where(g.node(i)));
  }
  for (int i : order)
    EMBER_TRY(importNode(g.node(i)));
  return Status::ok();
}

Expected<AttrMap> Importer::convertAttrs(const onnx::NodeProto &n) {
  AttrMap attrs;
  for (auto &a : n.attribute()) {
    if (!a.ref_attr_name().empty())
      return unsupported(where(n), ": attribute '", a.name(),
                         "' refers to a function attribute");
    Attr x;
    switch (a.type()) {
    case onnx::AttributeProto::INT:
      x = Attr::ofInt(a.i());
      break;
    case onnx::AttributeProto::FLOAT:
      x = Attr::ofFloat(a.f());
      break;
    case onnx::AttributeProto::STRING:
      x = Attr::ofString(a.s());
      break;
    case onnx::AttributeProto::INTS:
      x = Attr::ofInts({a.ints().begin(), a.ints().end()});
      break;
    case onnx::AttributeProto::FLOATS:
      x = Attr::ofFloats({a.floats().begin(), a.floats().end()});
      break;
    case onnx::AttributeProto::STRINGS:
      x = Attr::ofStrings({a.strings().begin(), a.strings().end()});
      break;
    case onnx::AttributeProto::TENSOR: {
      auto t = tensorFromProto(a.t(), baseDir_);
      if (!t)
        return t.status().withContext(where(n) + " attribute '" + a.name() +
                                      "'");
      x = Attr::ofTensor(std::move(*t));
      break;
    }
    case onnx::AttributeProto::GRAPH:
      continue; // If/Loop/Scan bodies: importControlFlow
    case onnx::AttributeProto::GRAPHS:
      return unsupported(where(n), ": attribute '", a.name(),
                         "' holds a list of graphs");
    default:
      return unsupported(where(n), ": attribute '", a.name(), "' has type ",
                         int(a.type()), ", which Ember does not support");
    }
    attrs[a.name()] = std::move(x);
  }
  return attrs;
}

Expected<std::vector<Value>>
Importer::build(OpKind kind, std::vector<Value> ins, AttrMap attrs,
                const std::string &name, int nres,
                std::vector<std::string> outNames) {
  auto created = F_->create(kind, std::move(ins), std::move(attrs), name, nres,
                            nullptr, outNames);
  if (!created) {
    typeError_ = true;
    return created.takeStatus();
  }
  Node *n = *created;
  std::vector<Value> vs;
  for (unsigned i = 0; i < n->numResults(); ++i)
    vs.push_back(Value(n, i));
  if (!opts_.foldShapeComputations || !foldableBeforeLowering(kind))
    return vs;
  // Fold small all-constant computations (shape arithmetic) right away,
  // and Shape/Size, whose results depend only on operand types.
  bool typeOnly = kind == OpKind::Shape || kind == OpKind::Size;
  bool allConst = true;
  int64_t resultElems = 0;
  for (auto &in : n->inputs)
    if (in.node && in.node->kind != OpKind::Constant)
      allConst = false;
  for (auto &t : n->types)
    resultElems += t.numElements();
  if (!typeOnly && !(allConst && resultElems <= opts_.foldLimit))
    return vs;
  std::vector<Tensor> typeOnlyIns;
  std::vector<const Tensor *> operands;
  typeOnlyIns.reserve(n->inputs.size());
  for (auto &in : n->inputs) {
    if (!in.node) {
      operands.push_back(nullptr);
    } else if (in.node->kind == OpKind::Constant) {
      operands.push_back(in.node->payload.get());
    } else {
      typeOnlyIns.push_back(Tensor::typeOnly(in.type()));
      operands.push_back(&typeOnlyIns.back());
    }
  }
  auto res = evaluateNode(*n, operands);
  if (!res)
    return vs; // leave it to run time
  std::vector<std::string> names = n->outNames;
  F_->erase(n);
  vs.clear();
  for (size_t i = 0; i < res->size(); ++i)
    vs.push_back(Value(F_->addConstant(names[i], std::move((*res)[i]))));
  return vs;
}

Status Importer::bindOutputs(const onnx::NodeProto &n,
                             const std::vector<Value> &vs) {
  for (int i = 0; i < n.output_size() && size_t(i) < vs.size(); ++i)
    if (!n.output(i).empty())
      values_[n.output(i)] = vs[size_t(i)];
  return Status::ok();
}

Status Importer::importNode(const onnx::NodeProto &n) {
  if (n.output_size() == 0)
    return invalid(where(n), " has no outputs");
  std::string dom = domainName(n.domain());
  auto ov = opsets_.find(dom);
  if (ov == opsets_.end())
    return invalid(where(n), " uses domain '", dom,
                   "', which the model does not import");
  int64_t version = ov->second;
  if (isDefaultDomain(n.domain()) &&
      (n.op_type() == "If" || n.op_type() == "Loop" || n.op_type() == "Scan"))
    return importControlFlow(n, version);
  for (auto &a : n.attribute())
    if (a.type() == onnx::AttributeProto::GRAPH)
      return unsupported(where(n), ": subgraph attribute '", a.name(),
                         "' on an op that is not If, Loop or Scan");

  std::vector<Value> ins;
  for (auto &in : n.input()) {
    if (in.empty()) {
      ins.push_back(Value());
      continue;
    }
    auto it = values_.find(in);
    if (it == values_.end())
      return invalid(where(n), " reads undefined tensor '", in, "'");
    ins.push_back(it->second);
  }
  while (!ins.empty() && !ins.back().node)
    ins.pop_back();

  EMBER_ASSIGN(AttrMap attrs, convertAttrs(n));
  const std::string &op = n.op_type();

  // An op of an op library (docs/custom-ops.md): in a domain of its own,
  // before anything Ember reads there; in the default domain, the names
  // Ember does not define (the registry refuses the others).
  if (auto custom = findCustomOp(dom, op, version))
    return importCustom(n, *custom, version, std::move(ins), std::move(attrs));

  OpKind kind;
  bool known = false;
  if (isDefaultDomain(n.domain())) {
    known = opKindFromName(op, kind) && !isStorage(kind) &&
            !hasProp(kind, P_Internal) && op != "QLinearAdd" &&
            op != "QLinearGlobalAveragePool";
  } else if (dom == kContribDomain) {
    known = (op == "QLinearAdd" || op == "QLinearGlobalAveragePool") &&
            opKindFromName(op, kind);
    // ONNX Runtime's QuantizeLinear/DequantizeLinear (its QDQ form of
    // 16-bit and 4-bit types before opset 21): the standard ops with the
    // same inputs and per-axis `axis`, as of opset 19 (no block_size).
    if (op == "QuantizeLinear" || op == "DequantizeLinear") {
      known = opKindFromName(op, kind);
      version = 19;
    }
  }

  // Ops handled by the importer itself (no node of their own).
  if (isDefaultDomain(n.domain()) && op == "Constant") {
    if (n.output_size() != 1)
      return invalid(where(n), " must have one output");
    Tensor t;
    if (const Tensor *v =
            attrs.count("value") ? attrs["value"].t.get() : nullptr) {
      t = *v;
    } else if (attrs.count("value_float")) {
      t = Tensor::scalar(ElemKind::F32, attrs["value_float"].f);
    } else if (attrs.count("value_floats")) {
      auto &fs = attrs["value_floats"].floats;
      t = Tensor(Type(ElemKind::F32, {int64_t(fs.size())}));
      for (size_t i = 0; i < fs.size(); ++i)
        t.data<float>()[i] = float(fs[i]);
    } else if (attrs.count("value_int")) {
      t = Tensor::scalar(ElemKind::I64, double(attrs["value_int"].i));
      t.data<int64_t>()[0] = attrs["value_int"].i;
    } else if (attrs.count("value_ints")) {
      t = Tensor::fromInts(ElemKind::I64, attrs["value_ints"].ints);
    } else {
      return unsupported(where(n),
                         ": only tensor, float(s) and int(s) values are "
                         "supported");
    }
    return bindOutputs(n, {Value(F_->addConstant(n.output(0), std::move(t)))});
  }

  // Experimental ops of opsets 1-9 that old models still carry; each is an
  // exact composition of current ops.
  if (isDefaultDomain(n.domain()) &&
      (op == "ImageScaler" || op == "Affine" || op == "Crop")) {
    if (ins.empty() || !ins[0].node || n.output_size() != 1)
      return invalid(where(n), " needs one input and one output");
    ElemKind k = ins[0].type().elem();
    std::string hint = n.output(0);
    if (op == "Crop") {
      const Dims &d = ins[0].type().dims();
      auto border =
          attrs.count("border") ? attrs["border"].ints : std::vector<int64_t>{};
      auto scale =
          attrs.count("scale") ? attrs["scale"].ints : std::vector<int64_t>{};
      if (d.size() != 4 || border.size() != 4 ||
          !(scale.empty() || scale.size() == 2))
        return invalid(where(n), ": needs a rank-4 input, border=[l,t,r,b] "
                                 "and optional scale=[h,w]");
      int64_t top = border[1], left = border[0];
      int64_t bottom = scale.empty() ? d[2] - border[3] : top + scale[0];
      int64_t right = scale.empty() ? d[3] - border[2] : left + scale[1];
      EMBER_ASSIGN(auto vs, build(OpKind::Slice,
                                  {ins[0], constInts({top, left}, hint),
                                   constInts({bottom, right}, hint),
                                   constInts({2, 3}, hint)},
                                  {}, n.name(), 1, {hint}));
      return bindOutputs(n, vs);
    }
    Value mulBy, addBy;
    if (op == "Affine") {
      mulBy = constScalar(k, attrs.count("alpha") ? attrs["alpha"].f : 1.0,
                          hint + ".alpha");
      addBy = constScalar(k, attrs.count("beta") ? attrs["beta"].f : 0.0,
                          hint + ".beta");
    } else {
      mulBy = constScalar(k, attrs.count("scale") ? attrs["scale"].f : 1.0,
                          hint + ".scale");
      auto bias =
          attrs.count("bias") ? attrs["bias"].floats : std::vector<double>{};
      Tensor b(Type(k, {int64_t(bias.size()), 1, 1}));
      for (size_t i = 0; i < bias.size(); ++i)
        b.setDouble(int64_t(i), bias[i]);
      addBy = Value(F_->addConstant(hint + ".bias", b));
    }
    EMBER_ASSIGN(auto m1, build(OpKind::Mul, {ins[0], mulBy}, {}, n.name(), 1,
                                {hint + ".scaled"}));
    EMBER_ASSIGN(auto a1,
                 build(OpKind::Add, {m1[0], addBy}, {}, n.name(), 1, {hint}));
    return bindOutputs(n, a1);
  }

  {
    bool done = false;
    EMBER_TRY(importFused(n, ins, attrs, &done));
    if (done)
      return Status::ok();
  }
  if (isDefaultDomain(n.domain()) && (op == "Scatter")) {
    kind = OpKind::ScatterElements;
    known = true;
  }
  if (isDefaultDomain(n.domain()) && op == "Upsample") {
    kind = OpKind::Resize;
    known = true;
  }
  if (!known) {
    // An op library's op, but not in this opset: say which ones it covers.
    std::string covered;
    for (auto &c : registeredCustomOps())
      if (c->domain == normalizeDomain(n.domain()) && c->name == op)
        covered += concat(covered.empty() ? "; " : ", ", c->describeLibrary(),
                          " registers it for opsets ", c->opsetFirst,
                          c->opsetLast ? concat("-", c->opsetLast) : "+");
    return unsupported("unsupported op '", op, "' (domain '", dom, "', opset ",
                       version, ") at ", where(n), covered);
  }
  // Every op reads its first operand (the opset upgrades look at its type).
  if (ins.empty() || !ins[0].node)
    return invalid(where(n), " has no first input");
  Status s = convertNode(n, kind, version, std::move(ins), std::move(attrs));
  if (!s.isOk() && s.message().find(n.op_type()) == std::string::npos)
    return s.withContext(where(n));
  return s;
}

Status Importer::importCustom(const onnx::NodeProto &n, const CustomOp &op,
                              int64_t version, std::vector<Value> ins,
                              AttrMap attrs) {
  for (auto &kv : attrs)
    if (!kv.first.empty() && kv.first[0] == '$')
      return invalid(where(n), ": attribute '", kv.first,
                     "': names starting with '$' are Ember's own");
  setCustomOpAttrs(attrs, op, version);
  std::vector<std::string> names(n.output().begin(), n.output().end());
  EMBER_ASSIGN(auto vs, build(OpKind::Custom, std::move(ins), std::move(attrs),
                              n.name(), n.output_size(), names));
  return bindOutputs(n, vs);
}

// ONNX Runtime's fused transformer ops (its contrib op documentation), each
// the composition of standard ops it computes:
//   Gelu(X) = Gelu(X), BiasGelu(A, B) = Gelu(A + B) (erf form);
//   FastGelu(X, bias?) = Gelu(X + bias, approximate = tanh);
//   QuickGelu(X; alpha = 1.702) = X * Sigmoid(alpha X);
//   FusedMatMul(A, B; alpha, transA, transB) = alpha * op(A) op(B), op a
//     swap of the last two dims (transBatchA/B: not taken);
//   SkipLayerNormalization(x, skip, gamma, beta?, bias?; epsilon) ->
//     (LayerNormalization(x + skip + bias, gamma, beta) over the last axis,
//     its mean and inverse std, x + skip + bias);
//   SkipSimplifiedLayerNormalization(x, skip, gamma, bias?) and
//     SimplifiedLayerNormalization(x, gamma) (default domain in ONNX
//     Runtime): RMSNormalization of the sum / of x (the output, and the
//     sum; not the inverse rms).
Status Importer::importFused(const onnx::NodeProto &n,
                             const std::vector<Value> &ins,
                             const AttrMap &attrs, bool *done) {
  const std::string &op = n.op_type();
  const bool contrib = domainName(n.domain()) == kContribDomain;
  const bool simplified =
      isDefaultDomain(n.domain()) && op == "SimplifiedLayerNormalization";
  if (!simplified &&
      (!contrib || !(op == "Gelu" || op == "BiasGelu" || op == "FastGelu" ||
                     op == "QuickGelu" || op == "FusedMatMul" ||
                     op == "SkipLayerNormalization" ||
                     op == "SkipSimplifiedLayerNormalization")))
    return Status::ok();
  *done = true;
  auto in = [&](size_t i) { return i < ins.size() ? ins[i] : Value(); };
  auto need = [&](size_t count) -> Status {
    for (size_t i = 0; i < count; ++i)
      if (!in(i))
        return invalid(where(n), " needs input ", i);
    return Status::ok();
  };
  auto f = [&](const char *a, double def) {
    auto it = attrs.find(a);
    return it == attrs.end() ? def : it->second.f;
  };
  auto i64 = [&](const char *a, int64_t def) {
    auto it = attrs.find(a);
    return it == attrs.end() ? def : it->second.i;
  };
  const std::string hint = n.output(0);
  auto one = [&](OpKind k, std::vector<Value> operands, AttrMap a,
                 const std::string &name) -> Expected<Value> {
    EMBER_ASSIGN(auto vs, build(k, std::move(operands), std::move(a), n.name(),
                                1, {name}));
    return vs[0];
  };
  EMBER_TRY(need(1));
  const ElemKind k = in(0).type().elem();
  if (op == "Gelu" || op == "BiasGelu" || op == "FastGelu") {
    Value x = in(0);
    if (op == "BiasGelu")
      EMBER_TRY(need(2));
    if (in(1)) {
      EMBER_ASSIGN(x, one(OpKind::Add, {x, in(1)}, {}, hint + ".biased"));
    }
    AttrMap a;
    if (op == "FastGelu")
      a["approximate"] = Attr::ofString("tanh");
    EMBER_ASSIGN(Value y, one(OpKind::Gelu, {x}, a, hint));
    return bindOutputs(n, {y});
  }
  if (op == "QuickGelu") {
    Value alpha = constScalar(k, f("alpha", 1.702), hint + ".alpha");
    EMBER_ASSIGN(Value ax, one(OpKind::Mul, {in(0), alpha}, {}, hint + ".ax"));
    EMBER_ASSIGN(Value s, one(OpKind::Sigmoid, {ax}, {}, hint + ".sig"));
    EMBER_ASSIGN(Value y, one(OpKind::Mul, {in(0), s}, {}, hint));
    return bindOutputs(n, {y});
  }
  if (op == "FusedMatMul") {
    EMBER_TRY(need(2));
    if (i64("transBatchA", 0) || i64("transBatchB", 0))
      return unsupported(where(n), ": transBatchA/transBatchB are not taken");
    auto swapLast = [&](Value v, const std::string &name) -> Expected<Value> {
      size_t r = v.type().rank();
      if (r < 2)
        return invalid(where(n), ": a transposed operand needs rank 2 or more");
      std::vector<int64_t> perm;
      for (size_t i = 0; i < r; ++i)
        perm.push_back(int64_t(i));
      std::swap(perm[r - 1], perm[r - 2]);
      return one(OpKind::Transpose, {v}, {{"perm", Attr::ofInts(perm)}}, name);
    };
    Value a = in(0), b = in(1);
    if (i64("transA", 0)) {
      EMBER_ASSIGN(a, swapLast(a, hint + ".at"));
    }
    if (i64("transB", 0)) {
      EMBER_ASSIGN(b, swapLast(b, hint + ".bt"));
    }
    double alpha = f("alpha", 1.0);
    EMBER_ASSIGN(Value y, one(OpKind::MatMul, {a, b}, {},
                              alpha == 1.0 ? hint : hint + ".mm"));
    if (alpha != 1.0) {
      EMBER_ASSIGN(y,
                   one(OpKind::Mul, {y, constScalar(k, alpha, hint + ".alpha")},
                       {}, hint));
    }
    return bindOutputs(n, {y});
  }
  // The layer norms.
  const bool skip = op != "SimplifiedLayerNormalization";
  const bool rms = op != "SkipLayerNormalization";
  EMBER_TRY(need(skip ? 3 : 2));
  Value sum = in(0);
  const size_t gammaAt = skip ? 2 : 1;
  if (skip) {
    EMBER_ASSIGN(sum, one(OpKind::Add, {in(0), in(1)}, {}, hint + ".sum"));
    Value bias = in(rms ? 3 : 4);
    if (bias) {
      EMBER_ASSIGN(sum, one(OpKind::Add, {sum, bias}, {}, hint + ".biased"));
    }
  }
  const double eps = f("epsilon", rms ? 1e-6 : 1e-12);
  // Outputs past the first: the statistics (1, 2; SkipLayerNormalization
  // only) and the sum (3; the Skip ops).
  auto named = [&](int i) {
    return n.output_size() > i && !n.output(i).empty();
  };
  if (!skip && named(3))
    return invalid(where(n), " has no fourth output");
  if (rms && (named(1) || named(2)))
    return unsupported(where(n), ": the mean / inverse rms outputs are not "
                                 "produced");
  const bool stats = !rms && (named(1) || named(2));
  std::vector<Value> outs;
  if (rms) {
    AttrMap a{{"axis", Attr::ofInt(i64("axis", -1))},
              {"epsilon", Attr::ofFloat(eps)}};
    EMBER_ASSIGN(Value y,
                 one(OpKind::RMSNormalization, {sum, in(gammaAt)}, a, hint));
    outs = {y, Value(), Value(), sum};
  } else {
    std::vector<Value> lnIns = {sum, in(2)};
    if (in(3))
      lnIns.push_back(in(3));
    AttrMap a{{"axis", Attr::ofInt(-1)}, {"epsilon", Attr::ofFloat(eps)}};
    std::vector<std::string> names = {hint};
    if (stats)
      names = {hint, hint + ".mean", hint + ".inv_std"};
    EMBER_ASSIGN(auto vs, build(OpKind::LayerNormalization, lnIns, a, n.name(),
                                stats ? 3 : 1, names));
    outs = {vs[0], stats ? vs[1] : Value(), stats ? vs[2] : Value(), sum};
  }
  return bindOutputs(n, outs);
}

Expected<Value> Importer::lookup(const std::string &name) {
  auto it = values_.find(name);
  if (it != values_.end())
    return it->second;
  if (!parent_)
    return invalid("tensor '", name, "' is not defined");
  EMBER_ASSIGN(Value outer, parent_->lookup(name));
  if (outer.node->kind == OpKind::Constant) {
    // An enclosing scope's constant is copied in (sharing its payload), not
    // captured: its value can decide shapes in the body (Squeeze/Unsqueeze
    // axes, Reshape targets, Pad pads) and conditions of nested Ifs.
    Value v(F_->addConstant(name, outer.node->payload));
    values_[name] = v;
    return v;
  }
  Value v(F_->addPlaceholder(name, outer.type()));
  values_[name] = v;
  captures_.push_back(name);
  return v;
}

Expected<Importer::Subgraph>
Importer::importSubgraph(const onnx::GraphProto &g,
                         const std::vector<Type> &formalTypes,
                         bool *typeError) {
  if (typeError)
    *typeError = false;
  if (depth_ >= 16)
    return unsupported("subgraphs nested more than 16 deep");
  if (int(formalTypes.size()) != g.input_size())
    return invalid("subgraph '", g.name(), "' declares ", g.input_size(),
                   " inputs, the op passes ", formalTypes.size());
  Importer child(opts_, baseDir_);
  child.parent_ = this;
  child.depth_ = depth_ + 1;
  child.opsets_ = opsets_;
  child.notes_ = notes_;
  auto fn = std::make_shared<Function>(g.name().empty() ? "body" : g.name());
  child.F_ = fn.get();
  for (int i = 0; i < g.input_size(); ++i) {
    const std::string &nm = g.input(i).name();
    if (nm.empty() || child.values_.count(nm))
      return invalid("subgraph '", g.name(), "' input ", i,
                     " has an empty or repeated name");
    child.values_[nm] = Value(fn->addPlaceholder(nm, formalTypes[size_t(i)]));
  }
  Status s = child.importGraph(g);
  if (!s.isOk()) {
    if (typeError)
      *typeError = child.typeError_;
    return s.withContext("in subgraph '" + g.name() + "'");
  }
  return Subgraph{fn, child.captures_};
}

Status Importer::importControlFlow(const onnx::NodeProto &n, int64_t v) {
  const std::string &op = n.op_type();
  auto graphOf = [&](const char *name) -> const onnx::GraphProto * {
    for (auto &a : n.attribute())
      if (a.name() == name && a.type() == onnx::AttributeProto::GRAPH)
        return &a.g();
    return nullptr;
  };
  auto input = [&](int i) -> Expected<Value> {
    if (i >= n.input_size() || n.input(i).empty())
      return Value();
    return lookup(n.input(i));
  };
  std::vector<Value> ins;
  for (int i = 0; i < n.input_size(); ++i) {
    EMBER_ASSIGN(Value x, input(i));
    ins.push_back(x);
  }
  AttrMap attrs;
  for (auto &a : n.attribute()) {
    if (a.type() == onnx::AttributeProto::INT)
      attrs[a.name()] = Attr::ofInt(a.i());
    else if (a.type() == onnx::AttributeProto::INTS)
      attrs[a.name()] = Attr::ofInts({a.ints().begin(), a.ints().end()});
  }
  auto addCaptures = [&](const Subgraph &sg) -> Status {
    for (auto &c : sg.captures) {
      EMBER_ASSIGN(Value x, lookup(c));
      ins.push_back(x);
    }
    return Status::ok();
  };
  OpKind kind;
  if (op == "If") {
    const onnx::GraphProto *tg = graphOf("then_branch"),
                           *eg = graphOf("else_branch");
    if (!tg || !eg || ins.size() != 1 || !ins[0].node)
      return invalid(where(n), " needs a condition and two branches");
    if (ins[0].node->kind == OpKind::Constant &&
        ins[0].node->payload->size() == 1) {
      // Known condition (often computed from shapes): the taken branch's
      // nodes join this scope directly; the other branch may not even type
      // check for these shapes.
      const onnx::GraphProto &b = ins[0].node->payload->getInt(0) ? *tg : *eg;
      if (b.output_size() != n.output_size())
        return invalid(where(n), ": the branch returns ", b.output_size(),
                       " values for ", n.output_size(), " outputs");
      for (auto &init : b.initializer()) {
        if (values_.count(init.name()))
          return invalid(where(n), ": branch initializer '", init.name(),
                         "' shadows an outer name");
        EMBER_ASSIGN(Tensor t, tensorFromProto(init, baseDir_));
        values_[init.name()] =
            Value(F_->addConstant(init.name(), std::move(t)));
      }
      EMBER_TRY(importNodes(b).withContext("in branch '" + b.name() + "'"));
      std::vector<Value> outs;
      for (auto &o : b.output()) {
        EMBER_ASSIGN(Value x, lookup(o.name()));
        outs.push_back(x);
      }
      return bindOutputs(n, outs);
    }
    // The condition is known only at run time. A branch that does not
    // type-check for these input shapes is not an error yet: as in ONNX
    // Runtime, it is one when the branch is taken (models guard such
    // branches with the condition, e.g. one branch per sample rate).
    bool thenTypeError = false, elseTypeError = false;
    auto t = importSubgraph(*tg, {}, &thenTypeError);
    auto e = importSubgraph(*eg, {}, &elseTypeError);
    bool deferThen = !t && thenTypeError && e;
    bool deferElse = !e && elseTypeError && t;
    if ((!t && !deferThen) || (!e && !deferElse)) {
      typeError_ = (!t && thenTypeError) || (!e && elseTypeError);
      return !t ? t.takeStatus() : e.takeStatus();
    }
    Subgraph none;
    const Subgraph &tb = t ? *t : none, &eb = e ? *e : none;
    EMBER_TRY(addCaptures(tb));
    EMBER_TRY(addCaptures(eb));
    for (int k = 0; k < 2; ++k) {
      auto &sg = k == 0 ? t : e;
      const char *which = k == 0 ? "then" : "else";
      if (sg) {
        attrs[concat(which, "_branch")] = Attr::ofGraph(sg->fn);
        continue;
      }
      attrs[concat(which, "_error")] = Attr::ofString(sg.status().message());
      if (notes_)
        notes_->push_back(concat(where(n), ": the ", which,
                                 " branch does not type-check for these "
                                 "input shapes; taking it at run time is an "
                                 "error (",
                                 sg.status().message(), ")"));
    }
    attrs["then_captures"] = Attr::ofInt(int64_t(tb.captures.size()));
    attrs["captures"] =
        Attr::ofInt(int64_t(tb.captures.size() + eb.captures.size()));
    kind = OpKind::If;
  } else if (op == "Loop") {
    const onnx::GraphProto *body = graphOf("body");
    if (!body)
      return invalid(where(n), " has no body");
    ins.resize(std::max<size_t>(ins.size(), 2));
    std::vector<Type> formal = {Type(ElemKind::I64, {}),
                                Type(ElemKind::Bool, {})};
    for (size_t i = 2; i < ins.size(); ++i) {
      if (!ins[i].node)
        return unsupported(where(n), ": absent loop-carried value");
      formal.push_back(ins[i].type());
    }
    EMBER_ASSIGN(Subgraph b, importSubgraph(*body, formal, &typeError_));
    size_t before = ins.size();
    EMBER_TRY(addCaptures(b));
    attrs["body"] = Attr::ofGraph(b.fn);
    attrs["captures"] = Attr::ofInt(int64_t(ins.size() - before));
    kind = OpKind::Loop;
  } else {
    if (v < 9)
      return unsupported(where(n),
                         ": Scan-8 (batched, with sequence_lens) is not "
                         "supported; opset 9 and later are");
    const onnx::GraphProto *body = graphOf("body");
    int64_t m = attrs.count("num_scan_inputs") ? attrs["num_scan_inputs"].i : 0;
    if (!body || m < 1 || size_t(m) > ins.size())
      return invalid(where(n), " needs a body and num_scan_inputs in [1, ",
                     ins.size(), "]");
    size_t nState = ins.size() - size_t(m);
    auto axes = attrs.count("scan_input_axes") ? attrs["scan_input_axes"].ints
                                               : std::vector<int64_t>{};
    std::vector<Type> formal;
    for (size_t i = 0; i < ins.size(); ++i) {
      if (!ins[i].node)
        return invalid(where(n), ": absent operand");
      Type t = ins[i].type();
      if (i >= nState) {
        int64_t a = i - nState < axes.size() ? axes[i - nState] : 0;
        int64_t r = int64_t(t.rank());
        if (a < -r || a >= r)
          return invalid(where(n), ": scan axis ", a, " out of range");
        Dims d = t.dims();
        d.erase(d.begin() + (a < 0 ? a + r : a));
        t = t.withDims(d);
      }
      formal.push_back(t);
    }
    EMBER_ASSIGN(Subgraph b, importSubgraph(*body, formal, &typeError_));
    size_t before = ins.size();
    EMBER_TRY(addCaptures(b));
    attrs["body"] = Attr::ofGraph(b.fn);
    attrs["captures"] = Attr::ofInt(int64_t(ins.size() - before));
    kind = OpKind::Scan;
  }
  std::vector<std::string> outNames(n.output().begin(), n.output().end());
  EMBER_ASSIGN(auto vs, build(kind, std::move(ins), std::move(attrs), n.name(),
                              n.output_size(), outNames));
  return bindOutputs(n, vs);
}

// Upgrades a node to the newest opset form, then builds it.
Status Importer::convertNode(const onnx::NodeProto &n, OpKind kind, int64_t v,
                             std::vector<Value> ins, AttrMap attrs) {
  const std::string &op = n.op_type();
  std::string hint = n.output_size() ? n.output(0) : op;
  auto moveAttrToInput = [&](const char *attr, size_t idx) {
    auto it = attrs.find(attr);
    if (it == attrs.end())
      return;
    std::vector<int64_t> vals = it->second.kind == Attr::Kind::Int
                                    ? std::vector<int64_t>{it->second.i}
                                    : it->second.ints;
    attrs.erase(it);
    if (ins.size() <= idx)
      ins.resize(idx + 1);
    ins[idx] = constInts(vals, hint + "." + attr);
  };
  bool isReduce = op.rfind("Reduce", 0) == 0;
  if ((isReduce && op == "ReduceSum" && v < 13) ||
      (isReduce && op != "ReduceSum" && v < 18))
    moveAttrToInput("axes", 1);
  if ((op == "Squeeze" || op == "Unsqueeze") && v < 13)
    moveAttrToInput("axes", 1);
  if (op == "Split" && v < 13)
    moveAttrToInput("split", 1);
  if (op == "TopK" && v < 10)
    moveAttrToInput("k", 1);
  if (op == "Slice" && v < 10) {
    moveAttrToInput("starts", 1);
    moveAttrToInput("ends", 2);
    moveAttrToInput("axes", 3);
  }
  if (op == "Pad" && v < 11) {
    moveAttrToInput("pads", 1);
    if (attrs.count("value")) {
      ElemKind k = ins[0].type().elem();
      ins.resize(3);
      ins[2] = constScalar(k, attrs["value"].f, hint + ".value");
      attrs.erase("value");
    }
  }
  if (op == "Clip" && v < 11) {
    ElemKind k = ins[0].type().elem();
    ins.resize(3);
    if (attrs.count("min"))
      ins[1] = constScalar(k, attrs["min"].f, hint + ".min");
    if (attrs.count("max"))
      ins[2] = constScalar(k, attrs["max"].f, hint + ".max");
    attrs.erase("min");
    attrs.erase("max");
    while (!ins.empty() && !ins.back().node)
      ins.pop_back();
  }
  if (op == "Dropout") {
    attrs.erase("ratio");
    attrs.erase("is_test");
    attrs.erase("seed");
  }
  if (op == "BatchNormalization") {
    bool training = attrs.count("training_mode") && attrs["training_mode"].i;
    int usedOutputs = 0;
    for (int i = 1; i < n.output_size(); ++i)
      usedOutputs += !n.output(i).empty();
    if (training || (v < 14 && usedOutputs > 0) || usedOutputs > 0)
      return unsupported("BatchNormalization in training mode (node '",
                         n.name(), "')");
    attrs.erase("spatial");
    attrs.erase("momentum");
    attrs.erase("training_mode");
    attrs.erase("consumed_inputs");
    attrs.erase("is_test");
  }
  if (op == "Upsample" || (op == "Resize" && v < 11)) {
    // (X, scales) or attribute scales -> (X, roi=absent, scales).
    Value scales;
    if (ins.size() >= 2)
      scales = ins[1];
    else if (attrs.count("scales")) {
      auto &fs = attrs["scales"].floats;
      Tensor t(Type(ElemKind::F32, {int64_t(fs.size())}));
      for (size_t i = 0; i < fs.size(); ++i)
        t.data<float>()[i] = float(fs[i]);
      scales = Value(F_->addConstant(hint + ".scales", t));
      attrs.erase("scales");
    }
    ins = {ins[0], Value(), scales};
    std::string mode = attrs.count("mode") ? attrs["mode"].s : "nearest";
    attrs["mode"] = Attr::ofString(mode == "bilinear" ? "linear" : mode);
    attrs["coordinate_transformation_mode"] = Attr::ofString("asymmetric");
    attrs["nearest_mode"] = Attr::ofString("floor");
  }
  if (op == "Resize" && v >= 11 && ins.size() >= 2 && ins[1] &&
      (!attrs.count("coordinate_transformation_mode") ||
       attrs["coordinate_transformation_mode"].s != "tf_crop_and_resize"))
    ins[1] = Value(); // roi: read by tf_crop_and_resize alone (paddle2onnx
                      // writes a constant one for every Resize)
  if (op == "LpPool" && v < 2 && attrs.count("p") &&
      attrs["p"].kind == Attr::Kind::Float)
    attrs["p"] = Attr::ofInt(int64_t(attrs["p"].f));
  if ((op == "RNN" || op == "GRU" || op == "LSTM") && v < 7)
    attrs.erase("output_sequence");
  if (op == "RoiAlign" && v < 16 &&
      !attrs.count("coordinate_transformation_mode"))
    attrs["coordinate_transformation_mode"] =
        Attr::ofString("output_half_pixel"); // RoiAlign-10 had no offset
  if (op == "DFT" && v < 20 && !attrs.count("axis"))
    attrs["axis"] = Attr::ofInt(1); // DFT-17's default axis
  if (op == "GroupNormalization" && v < 21 && ins.size() == 3 &&
      ins[0].type().rank() >= 2) {
    // GroupNormalization-18 takes scale/bias per group; newer ones per
    // channel: repeat each group's value C/G times.
    int64_t c = ins[0].type().dims()[1];
    int64_t g = attrs.count("num_groups") ? attrs["num_groups"].i : 0;
    for (size_t k = 1; k < 3; ++k) {
      if (g <= 0 || c % g != 0 || !ins[k].node ||
          ins[k].type().numElements() != g)
        break;
      EMBER_ASSIGN(auto r1,
                   build(OpKind::Reshape, {ins[k], constInts({g, 1}, hint)}, {},
                         n.name(), 1, {hint + ".grp"}));
      EMBER_ASSIGN(auto e1,
                   build(OpKind::Expand, {r1[0], constInts({g, c / g}, hint)},
                         {}, n.name(), 1, {hint + ".grpx"}));
      EMBER_ASSIGN(auto r2,
                   build(OpKind::Reshape, {e1[0], constInts({c}, hint)}, {},
                         n.name(), 1, {hint + ".perch"}));
      ins[k] = r2[0];
    }
  }
  if ((op == "Softmax" || op == "LogSoftmax" || op == "Hardmax") && v < 13) {
    // Old semantics: flatten to 2-D at `axis` (default 1), normalize rows.
    int64_t rank = int64_t(ins[0].type().rank());
    int64_t axis = attrs.count("axis") ? attrs["axis"].i : 1;
    if (axis < 0)
      axis += rank;
    if (axis < 0 || axis > rank)
      return invalid(where(n), ": axis out of range");
    if (axis != rank - 1) {
      const Dims &d = ins[0].type().dims();
      int64_t outer = 1, inner = 1;
      for (int64_t i = 0; i < rank; ++i)
        (i < axis ? outer : inner) *= d[size_t(i)];
      EMBER_ASSIGN(auto r1, build(OpKind::Reshape,
                                  {ins[0], constInts({outer, inner}, hint)}, {},
                                  n.name(), 1, {hint + ".2d"}));
      EMBER_ASSIGN(auto sm, build(kind, {r1[0]}, {{"axis", Attr::ofInt(1)}},
                                  n.name(), 1, {hint + ".rows"}));
      EMBER_ASSIGN(auto r2, build(OpKind::Reshape, {sm[0], constInts(d, hint)},
                                  {}, n.name(), 1, {n.output(0)}));
      return bindOutputs(n, r2);
    }
    attrs["axis"] = Attr::ofInt(-1);
  }
  if (op == "Gemm" && v < 7)
    attrs.erase("broadcast");
  if (op == "PRelu" && v < 7 && ins.size() == 2 && ins[1].node &&
      ins[1].type().rank() == 1 && ins[0].type().rank() > 2 &&
      ins[1].type().dims()[0] == ins[0].type().dims()[1] &&
      ins[1].type().dims()[0] != 1) {
    // PRelu-6 applies a 1-D slope per channel (axis 1); newer opsets
    // broadcast from the right. Make the channel axis explicit.
    Dims d(ins[0].type().rank() - 1, 1);
    d[0] = ins[1].type().dims()[0];
    EMBER_ASSIGN(auto r, build(OpKind::Reshape, {ins[1], constInts(d, hint)},
                               {}, n.name(), 1, {hint + ".slope"}));
    ins[1] = r[0];
  }

  int nres = n.output_size();
  if (opInfo(kind).numOut >= 0 && nres > opInfo(kind).numOut)
    return invalid(where(n), " has ", nres, " outputs; the op has at most ",
                   opInfo(kind).numOut);
  if (opInfo(kind).numOut >= 0 && kind != OpKind::TopK)
    nres = std::max(nres, opInfo(kind).numOut);
  std::vector<std::string> outNames(n.output().begin(), n.output().end());
  EMBER_ASSIGN(auto vs, build(kind, std::move(ins), std::move(attrs), n.name(),
                              nres, outNames));
  return bindOutputs(n, vs);
}

} // namespace

Expected<std::unique_ptr<Module>> importOnnxBytes(const std::string &bytes,
                                                  const std::string &baseDir,
                                                  const ImportOptions &opts,
                                                  ImportStats *stats) {
  onnx::ModelProto m;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), int(bytes.size()));
  google::protobuf::io::CodedInputStream cis(&raw);
  cis.SetTotalBytesLimit(INT32_MAX);
  cis.SetRecursionLimit(64);
  if (!m.ParseFromCodedStream(&cis) || !cis.ConsumedEntireMessage())
    return invalid("not a valid ONNX model (protobuf parse failed)");
  Importer imp(opts, baseDir);
  return imp.run(m, stats);
}

Expected<std::unique_ptr<Module>> importOnnxFile(const std::string &path,
                                                 const ImportOptions &opts,
                                                 ImportStats *stats) {
  EMBER_ASSIGN(std::string bytes, readFileBytes(path, uint64_t(INT32_MAX)));
  size_t slash = path.find_last_of('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  auto m = importOnnxBytes(bytes, dir, opts, stats);
  if (!m)
    return m.status().withContext(path);
  return m;
}

} // namespace ember

namespace ember {
Expected<std::vector<std::string>> onnxInputNames(const std::string &path,
                                                  std::vector<int> *elemTypes) {
  EMBER_ASSIGN(std::string bytes, readFileBytes(path, uint64_t(INT32_MAX)));
  onnx::ModelProto m;
  google::protobuf::io::ArrayInputStream raw(bytes.data(), int(bytes.size()));
  google::protobuf::io::CodedInputStream cis(&raw);
  cis.SetTotalBytesLimit(INT32_MAX);
  cis.SetRecursionLimit(64);
  if (!m.ParseFromCodedStream(&cis))
    return invalid(path, ": not a valid ONNX model (protobuf parse failed)");
  std::unordered_set<std::string> inits;
  for (auto &i : m.graph().initializer())
    inits.insert(i.name());
  std::vector<std::string> names;
  for (auto &i : m.graph().input()) {
    if (inits.count(i.name()))
      continue;
    if (i.has_type() && !i.type().has_tensor_type())
      return unsupported(path, ": graph input '", i.name(),
                         "' is not a tensor (sequences, maps and optionals "
                         "are not supported)");
    names.push_back(i.name());
    if (elemTypes)
      elemTypes->push_back(
          i.type().has_tensor_type() ? i.type().tensor_type().elem_type() : 0);
  }
  for (auto &o : m.graph().output())
    if (o.has_type() && !o.type().has_tensor_type())
      return unsupported(path, ": graph output '", o.name(),
                         "' is not a tensor (sequences, maps and optionals "
                         "are not supported)");
  return names;
}
} // namespace ember
