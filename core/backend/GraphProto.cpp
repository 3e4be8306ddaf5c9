// Graph IR <-> the backend-api protobuf schema
// (backend-api/proto/ember/backend/v1/graph.proto), and attributes (which
// the LIR shares). LirProto.cpp is the LIR's half, ProgramProtoCommon.cpp
// what both use.
//
// Serialization writes what the schemas describe; deserialization treats
// the bytes as hostile. Nothing is trusted before it is checked: ids and
// indices are range-checked, each value is defined exactly once and before
// its first use, op names come from the op table (storage ops excluded) and
// operand/result counts from its ranges, types are bounded like the ONNX
// importer's (kMaxTensorBytes, no overflow), tensor bytes match their type
// exactly, subgraphs nest at most kMaxGraphDepth deep, and every node's
// result types are re-inferred with its kernel and compared with the
// declared ones. A deserialized LIR program finally passes lir::verify.
// Errors are Status values that name the node, value, buffer or
// instruction; nothing here asserts or throws on input.
#include "backend/OpLibrary.h"
#include "backend/ProgramProtoCommon.h"

#include "ir/Printer.h"

#include <unordered_set>

namespace ember::backend {

namespace detail {

Status graphToProto(const Function &f, v1::Graph &out, int depth);
Expected<std::unique_ptr<Function>> graphFromProto(const v1::Graph &g,
                                                   int depth);

// ---- attributes ------------------------------------------------------------

// `depth` is that of the graph holding the attribute; subgraphs are one
// deeper. The LIR passes depth < 0: it has no subgraphs.
Status attrToProto(const Attr &a, v1::Attribute &out, int depth,
                   const std::string &what) {
  switch (a.kind) {
  case Attr::Kind::Int:
    out.set_i(a.i);
    return Status::ok();
  case Attr::Kind::Float:
    out.set_f(a.f);
    return Status::ok();
  case Attr::Kind::String:
    EMBER_TRY(checkUtf8(a.s, what + ": the string"));
    out.set_s(a.s);
    return Status::ok();
  case Attr::Kind::Ints:
    out.mutable_ints()->mutable_values()->Add(a.ints.begin(), a.ints.end());
    return Status::ok();
  case Attr::Kind::Floats:
    out.mutable_floats()->mutable_values()->Add(a.floats.begin(),
                                                a.floats.end());
    return Status::ok();
  case Attr::Kind::Strings:
    out.mutable_strings();
    for (auto &s : a.strings) {
      EMBER_TRY(checkUtf8(s, what + ": the string"));
      out.mutable_strings()->add_values(s);
    }
    return Status::ok();
  case Attr::Kind::Tensor:
    if (!a.t)
      return invalid(what, ": tensor attribute without a tensor");
    return tensorToProto(*a.t, *out.mutable_tensor(), what);
  case Attr::Kind::Graph:
    if (depth < 0)
      return unsupported(what, ": a subgraph cannot be serialized as LIR (LIR "
                               "has no control flow)");
    if (!a.g)
      return invalid(what, ": subgraph attribute without a graph");
    return graphToProto(*a.g, *out.mutable_graph(), depth + 1)
        .withContext(what);
  }
  return makeError(ErrorCode::Internal, what, ": unknown attribute kind");
}

Expected<Attr> attrFromProto(const v1::Attribute &p, int depth,
                             const std::string &what) {
  switch (p.value_case()) {
  case v1::Attribute::kI:
    return Attr::ofInt(p.i());
  case v1::Attribute::kF:
    return Attr::ofFloat(p.f());
  case v1::Attribute::kS:
    return Attr::ofString(p.s());
  case v1::Attribute::kInts:
    return Attr::ofInts(std::vector<int64_t>(p.ints().values().begin(),
                                             p.ints().values().end()));
  case v1::Attribute::kFloats:
    return Attr::ofFloats(std::vector<double>(p.floats().values().begin(),
                                              p.floats().values().end()));
  case v1::Attribute::kStrings:
    return Attr::ofStrings(std::vector<std::string>(
        p.strings().values().begin(), p.strings().values().end()));
  case v1::Attribute::kTensor: {
    EMBER_ASSIGN(Tensor t, tensorFromProto(p.tensor(), what));
    return Attr::ofTensor(std::move(t));
  }
  case v1::Attribute::kGraph: {
    if (depth < 0)
      return invalid(what, ": a subgraph in LIR (LIR has no control flow)");
    auto g = graphFromProto(p.graph(), depth + 1);
    if (!g)
      return g.status().withContext(what);
    return Attr::ofGraph(std::shared_ptr<Function>(std::move(*g)));
  }
  case v1::Attribute::VALUE_NOT_SET:
    break;
  }
  return invalid(what, ": no value is set");
}

Status
attrsFromProto(const google::protobuf::RepeatedPtrField<v1::Attribute> &attrs,
               int depth, const std::string &where, AttrMap &out) {
  for (const v1::Attribute &pa : attrs) {
    if (pa.name().empty())
      return invalid(where, ": an attribute has no name");
    std::string what = where + ": attribute '" + pa.name() + "'";
    if (out.count(pa.name()))
      return invalid(what, " is given twice");
    EMBER_ASSIGN(Attr a, attrFromProto(pa, depth, what));
    out.emplace(pa.name(), std::move(a));
  }
  return Status::ok();
}

} // namespace detail

using namespace detail;

namespace {

// ---- graph -----------------------------------------------------------------

// "graph node #12 (Conv 'conv1')", or "graph node #3 (Relu)" when unnamed.
std::string nodeWhere(size_t k, const std::string &op,
                      const std::string &name) {
  return concat("graph node #", k, " (", op,
                name.empty() ? std::string() : " '" + name + "'", ")");
}

std::string valueText(int64_t id, const std::string &name) {
  return concat("value ", id, " (", valueRef(name), ")");
}

} // namespace

Status detail::graphToProto(const Function &f, v1::Graph &out, int depth) {
  if (depth > kMaxGraphDepth)
    return invalid("function @", f.name(), ": subgraphs are nested more than ",
                   kMaxGraphDepth, " deep");
  out.Clear();
  out.set_schema_version(kGraphSchemaVersion);
  EMBER_TRY(checkUtf8(f.name(), "the function name"));
  out.set_name(f.name());
  // Value id of each node's first result.
  std::unordered_map<const Node *, int64_t> first;
  auto addValues = [&](const Node &n, const std::string &where) -> Status {
    if (n.outNames.size() != n.types.size())
      return invalid(where, ": ", n.outNames.size(), " result names for ",
                     n.types.size(), " results");
    if (int64_t(out.values_size()) + int64_t(n.types.size()) > kMaxValues)
      return invalid(where, ": the graph has more than ", kMaxValues,
                     " values");
    first[&n] = out.values_size();
    for (size_t i = 0; i < n.types.size(); ++i) {
      EMBER_TRY(checkUtf8(n.outNames[i], where + ": the value name"));
      v1::Value *v = out.add_values();
      v->set_name(n.outNames[i]);
      EMBER_TRY(typeToProto(n.types[i], *v->mutable_type(),
                            concat(where, ": result ", i)));
    }
    return Status::ok();
  };
  auto idOf = [&](const Value &v, const std::string &where) -> Expected<int> {
    auto it = v.node ? first.find(v.node) : first.end();
    if (it == first.end())
      return invalid(where, " is not defined earlier in function @", f.name());
    if (v.idx >= v.node->numResults())
      return invalid(where, " reads result ", v.idx, " of a node with ",
                     v.node->numResults());
    return int(it->second + v.idx);
  };

  for (size_t i = 0; i < f.params().size(); ++i) {
    const Node &p = *f.params()[i];
    std::string where =
        concat("graph input #", i, " ",
               valueRef(p.outNames.empty() ? "" : p.outNames[0]));
    if (p.types.size() != 1)
      return invalid(where, ": a graph input has one result");
    EMBER_TRY(addValues(p, where));
    out.add_inputs(int(first[&p]));
  }
  for (auto &np : f.nodes()) {
    const Node &n = *np;
    if (n.kind != OpKind::Constant)
      continue;
    std::string where =
        "constant " + valueRef(n.outNames.empty() ? "" : n.outNames[0]);
    if (n.types.size() != 1 || !n.payload)
      return invalid(where, ": a constant has one result and a payload");
    EMBER_TRY(addValues(n, where));
    v1::Constant *c = out.add_constants();
    c->set_value(int(first[&n]));
    EMBER_TRY(tensorToProto(*n.payload, *c->mutable_data(), where));
  }
  size_t k = 0;
  for (auto &np : f.nodes()) {
    const Node &n = *np;
    if (isStorage(n.kind))
      continue;
    const std::string op = nodeOpName(n); // a custom op: "domain::name"
    std::string where = nodeWhere(k++, op, n.name);
    v1::Node *pn = out.add_nodes();
    pn->set_op(op);
    EMBER_TRY(checkUtf8(n.name, where + ": the node name"));
    pn->set_name(n.name);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.inputs[i].node) {
        pn->add_inputs(-1);
        continue;
      }
      EMBER_ASSIGN(int id, idOf(n.inputs[i], concat(where, ": operand ", i)));
      pn->add_inputs(id);
    }
    EMBER_TRY(addValues(n, where));
    for (size_t r = 0; r < n.types.size(); ++r)
      pn->add_outputs(int(first[&n] + int64_t(r)));
    for (auto &kv : n.attrs) {
      if (kv.first.empty())
        return invalid(where, ": an attribute has no name");
      if (n.kind == OpKind::Custom && kv.first == kCustomOpAttr)
        continue; // it is the op's name
      EMBER_TRY(checkUtf8(kv.first, where + ": the attribute name"));
      v1::Attribute *pa = pn->add_attributes();
      pa->set_name(kv.first);
      EMBER_TRY(attrToProto(kv.second, *pa, depth,
                            where + ": attribute '" + kv.first + "'"));
    }
  }
  for (size_t i = 0; i < f.outputs().size(); ++i) {
    const FunctionOutput &o = f.outputs()[i];
    EMBER_ASSIGN(int id,
                 idOf(o.value, concat("graph output #", i, " '", o.name, "'")));
    EMBER_TRY(checkUtf8(o.name, concat("graph output #", i, ": the name")));
    out.add_outputs(id);
    out.add_output_names(o.name);
  }
  return Status::ok();
}

namespace {

// Rebuilds one function. Definitions come in the schema's order: graph
// inputs, then constants, then node results in node order; an operand may
// only name a value defined before its node.
class GraphReader {
public:
  GraphReader(const v1::Graph &g, int depth) : g_(g), depth_(depth) {}

  Expected<std::unique_ptr<Function>> read() {
    if (depth_ > kMaxGraphDepth)
      return invalid("graph '", g_.name(), "': subgraphs are nested more than ",
                     kMaxGraphDepth, " deep");
    if (depth_ == 0 ? g_.schema_version() != kGraphSchemaVersion
                    : g_.schema_version() != 0 &&
                          g_.schema_version() != kGraphSchemaVersion)
      return makeError(ErrorCode::Unsupported, "graph '", g_.name(),
                       "' has schema version ", g_.schema_version(),
                       ", but this reader supports version ",
                       kGraphSchemaVersion);
    // The op libraries of its custom ops, registered here too (only those
    // this process has loaded: a program never makes a plugin load code).
    for (const std::string &lib : g_.op_libraries()) {
      OpLibraryOptions o;
      o.onlyIfLoaded = true;
      auto loaded = loadOpLibrary(lib, o);
      if (!loaded)
        return loaded.status().withContext(concat("graph '", g_.name(), "'"));
    }
    nv_ = g_.values_size();
    defs_.assign(size_t(nv_), Value());
    defined_.assign(size_t(nv_), 0);
    f_ = std::make_unique<Function>(g_.name());
    for (int i = 0; i < g_.inputs_size(); ++i)
      EMBER_TRY(input(i));
    for (int i = 0; i < g_.constants_size(); ++i)
      EMBER_TRY(constant(i));
    for (int i = 0; i < g_.nodes_size(); ++i)
      EMBER_TRY(node(size_t(i)));
    for (int64_t id = 0; id < nv_; ++id)
      if (!defined_[size_t(id)])
        return invalid(valueText(id, g_.values(int(id)).name()),
                       " is never defined (not a graph input, constant or "
                       "node result)");
    if (g_.output_names_size() != g_.outputs_size())
      return invalid("the graph has ", g_.outputs_size(), " outputs but ",
                     g_.output_names_size(), " output names");
    for (int i = 0; i < g_.outputs_size(); ++i) {
      EMBER_ASSIGN(Value v,
                   use(g_.outputs(i), concat("graph output #", i, " '",
                                             g_.output_names(i), "'")));
      f_->addOutput(v, g_.output_names(i));
    }
    return std::move(f_);
  }

private:
  // Checks that `id` may be defined now by `where`; returns its declared
  // type and name.
  Status define(int64_t id, const std::string &where, Type &type,
                std::string &name) {
    if (id < 0 || id >= nv_)
      return invalid(where, " defines value ", id, ", but the graph has ", nv_,
                     " values");
    const v1::Value &pv = g_.values(int(id));
    std::string vt = valueText(id, pv.name());
    if (defined_[size_t(id)])
      return invalid(where, " defines ", vt, ", which is already defined");
    if (!names_.insert(pv.name()).second)
      return invalid(where, " defines ", vt,
                     ", but an earlier value has the same name");
    if (!pv.has_type())
      return invalid(vt, " has no type");
    EMBER_ASSIGN(type, typeFromProto(pv.type(), vt));
    name = pv.name();
    defined_[size_t(id)] = 1;
    return Status::ok();
  }

  Expected<Value> use(int64_t id, const std::string &where) {
    if (id < 0 || id >= nv_)
      return invalid(where, " refers to value ", id, ", but the graph has ",
                     nv_, " values");
    if (!defined_[size_t(id)])
      return invalid(where, " refers to ",
                     valueText(id, g_.values(int(id)).name()),
                     ", which is not defined before it");
    return defs_[size_t(id)];
  }

  Status input(int i) {
    int64_t id = g_.inputs(i);
    auto n = std::make_unique<Node>();
    n->kind = OpKind::Placeholder;
    n->types.resize(1);
    n->outNames.resize(1);
    EMBER_TRY(
        define(id, concat("graph input #", i), n->types[0], n->outNames[0]));
    // insertRaw appends (inputs come first) and records the parameter.
    defs_[size_t(id)] = Value(f_->insertRaw(std::move(n)));
    return Status::ok();
  }

  Status constant(int i) {
    const v1::Constant &c = g_.constants(i);
    std::string where = concat("constant #", i);
    auto n = std::make_unique<Node>();
    n->kind = OpKind::Constant;
    n->types.resize(1);
    n->outNames.resize(1);
    EMBER_TRY(define(c.value(), where, n->types[0], n->outNames[0]));
    where += " " + valueRef(n->outNames[0]);
    if (!c.has_data())
      return invalid(where, ": no data");
    EMBER_ASSIGN(Tensor t, tensorFromProto(c.data(), where));
    if (t.type() != n->types[0])
      return invalid(where, ": the data is ", t.type().toString(),
                     " but the value is declared ", n->types[0].toString());
    n->payload = std::make_shared<const Tensor>(std::move(t));
    defs_[size_t(c.value())] = Value(f_->insertRaw(std::move(n)));
    return Status::ok();
  }

  Status node(size_t k) {
    const v1::Node &pn = g_.nodes(int(k));
    OpKind kind;
    std::string domain, opName;
    const bool custom = splitCustomName(pn.op(), domain, opName);
    if (custom)
      kind = OpKind::Custom;
    else if (!opKindFromName(pn.op(), kind) || kind == OpKind::Custom)
      return invalid(nodeWhere(k, quoteString(pn.op()), pn.name()),
                     ": unknown op");
    std::string where = nodeWhere(k, pn.op(), pn.name());
    if (isStorage(kind))
      return invalid(where, ": ", pn.op(),
                     " is not a node op (graph inputs and constants have "
                     "their own lists)");
    const OpInfo &info = opInfo(kind);
    int nin = pn.inputs_size();
    if (nin < info.minIn || (info.maxIn >= 0 && nin > info.maxIn))
      return invalid(where, ": ", nin, " operands, but ", pn.op(), " takes ",
                     info.minIn,
                     info.maxIn < 0 ? std::string(" or more")
                                    : " to " + std::to_string(info.maxIn));
    int nout = pn.outputs_size();
    if (info.numOut >= 0 ? nout != info.numOut : nout < 1)
      return invalid(where, ": ", nout, " results, but ", pn.op(), " has ",
                     info.numOut >= 0 ? std::to_string(info.numOut)
                                      : std::string("at least 1"));
    auto n = std::make_unique<Node>();
    n->kind = kind;
    n->name = pn.name();
    for (int i = 0; i < nin; ++i) {
      if (pn.inputs(i) == -1) {
        n->inputs.push_back(Value());
        continue;
      }
      EMBER_ASSIGN(Value v, use(pn.inputs(i), concat(where, ": operand ", i)));
      n->inputs.push_back(v);
    }
    for (int i = 0; i < nin; ++i)
      if (!n->inputs[size_t(i)] && !mayBeAbsent(kind, size_t(i)))
        return invalid(where, ": operand ", i, " is absent (-1), but ", pn.op(),
                       " requires it");
    EMBER_TRY(attrsFromProto(pn.attributes(), depth_, where, n->attrs));
    if (custom) {
      // Its name; its opset when the program does not say (the newest).
      if (n->attrs.count(kCustomOpAttr))
        return invalid(where, ": attribute '", kCustomOpAttr,
                       "' is the op's name, not an attribute");
      n->attrs[kCustomOpAttr] = Attr::ofString(pn.op());
      if (!n->attrs.count(kCustomOpsetAttr))
        if (auto op = findNewestCustomOp(domain, opName))
          n->attrs[kCustomOpsetAttr] = Attr::ofInt(op->opsetFirst);
    }
    std::vector<Type> declared(static_cast<size_t>(nout));
    n->outNames.resize(size_t(nout));
    for (int r = 0; r < nout; ++r)
      EMBER_TRY(define(pn.outputs(r), concat(where, ": result ", r),
                       declared[size_t(r)], n->outNames[size_t(r)]));
    n->types.resize(size_t(nout));
    Status s = inferNodeTypes(*n);
    if (!s.isOk())
      return s.withContext(where);
    // Compared as the graph verifier does: element kind and dims (a
    // declared quantization is kept as declared).
    for (int r = 0; r < nout; ++r) {
      const Type &want = n->types[size_t(r)], &got = declared[size_t(r)];
      if (want.elem() != got.elem() || want.dims() != got.dims())
        return invalid(where, ": result ", r, " (",
                       valueText(pn.outputs(r), n->outNames[size_t(r)]),
                       ") is declared ", got.toString(), " but ", pn.op(),
                       " gives ", want.toString());
    }
    n->types = std::move(declared);
    Node *raw = f_->insertRaw(std::move(n));
    for (int r = 0; r < nout; ++r)
      defs_[size_t(pn.outputs(r))] = Value(raw, unsigned(r));
    return Status::ok();
  }

  const v1::Graph &g_;
  int depth_;
  int64_t nv_ = 0;
  std::vector<Value> defs_;
  std::vector<uint8_t> defined_;
  std::unordered_set<std::string> names_;
  std::unique_ptr<Function> f_;
};

} // namespace

Expected<std::unique_ptr<Function>> detail::graphFromProto(const v1::Graph &g,
                                                           int depth) {
  return GraphReader(g, depth).read();
}

// The op libraries of the custom ops a graph uses (Graph.op_libraries).
static void addOpLibraries(const Function &f, v1::Graph &out) {
  for (const std::string &p : opLibrariesUsedBy(f))
    out.add_op_libraries(p);
}

Status toProto(const Function &f, v1::Graph &out) {
  EMBER_TRY(graphToProto(f, out, 0));
  addOpLibraries(f, out);
  return Status::ok();
}

Expected<std::string> serializeGraph(const Function &f) {
  v1::Graph g;
  EMBER_TRY(graphToProto(f, g, 0));
  addOpLibraries(f, g);
  return serializeMessage(g, "ember.backend.v1.Graph");
}

Expected<std::unique_ptr<Module>> fromProto(const v1::Graph &g) {
  EMBER_ASSIGN(std::unique_ptr<Function> f, graphFromProto(g, 0));
  auto m = std::make_unique<Module>();
  m->adopt(std::move(f));
  return m;
}

Expected<std::unique_ptr<Module>> deserializeGraph(const void *data,
                                                   size_t size) {
  v1::Graph g;
  EMBER_TRY(parseMessage(data, size, g, "ember.backend.v1.Graph"));
  return fromProto(g);
}

} // namespace ember::backend
