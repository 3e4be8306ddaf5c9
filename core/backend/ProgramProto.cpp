// Graph IR and LIR <-> the backend-api protobuf schemas
// (backend-api/proto/ember/backend/v1/{graph,lir}.proto).
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
#include "backend/ProgramProto.h"

#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/lir.pb.h"
#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "support/MiniFloat.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>

#include <climits>
#include <cstring>
#include <unordered_set>

// Tensor storage is copied to and from TensorData.data as it is in memory;
// the schema says little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ProgramProto.cpp assumes a little-endian host"
#endif

namespace ember::backend {

namespace {

// Subgraphs (If branches, Loop/Scan bodies) nested deeper than this are
// refused, in both directions.
constexpr int kMaxGraphDepth = 64;
// protobuf's own nesting limit for parsing: each subgraph level is three
// messages deep (Graph > Node > Attribute > Graph), plus TensorData >
// TensorType > QuantParams at the bottom. Deeper input fails to parse.
constexpr int kMaxProtoRecursion = 3 * kMaxGraphDepth + 16;
// Value ids are int32 in the schema.
constexpr int64_t kMaxValues = INT32_MAX;

template <typename Msg>
Status parseMessage(const void *data, size_t size, Msg &out,
                    const char *msgName) {
  if (size && !data)
    return invalid("cannot parse ", msgName, ": null data with size ", size);
  if (size > size_t(INT_MAX))
    return invalid("cannot parse ", msgName, ": ", size,
                   " bytes is over protobuf's 2 GiB message limit");
  static const uint8_t kNoBytes = 0;
  google::protobuf::io::CodedInputStream in(
      size ? static_cast<const uint8_t *>(data) : &kNoBytes, int(size));
  in.SetRecursionLimit(kMaxProtoRecursion);
  // Hostile bytes are expected here and the error below reports them, so
  // protobuf's own log lines (e.g. for non-UTF-8 strings) are muted.
  google::protobuf::LogSilencer quiet;
  if (!out.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    return invalid("cannot parse ", size, " bytes as ", msgName,
                   " (malformed or truncated protobuf, or messages nested "
                   "more than ",
                   kMaxProtoRecursion, " deep)");
  return Status::ok();
}

template <typename Msg>
Expected<std::string> serializeMessage(const Msg &m, const char *msgName) {
  size_t n = m.ByteSizeLong();
  if (n > size_t(INT_MAX))
    return invalid("cannot serialize ", msgName, ": ", n,
                   " bytes is over protobuf's 2 GiB message limit");
  std::string s;
  if (!m.SerializeToString(&s))
    return makeError(ErrorCode::Internal, "cannot serialize ", msgName);
  return s;
}

// proto3 `string` fields hold UTF-8 only (the parser refuses anything
// else), so such a string is refused when serializing instead of producing
// bytes that cannot be read back. RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool isUtf8(const std::string &s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    uint8_t c = uint8_t(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; ++k) {
      uint8_t d = uint8_t(s[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

Status checkUtf8(const std::string &s, const std::string &what) {
  if (isUtf8(s))
    return Status::ok();
  return invalid(what, " ", quoteString(s),
                 " is not UTF-8, which the schema's string fields require");
}

std::string dimsText(const google::protobuf::RepeatedField<int64_t> &d) {
  std::string s = "[";
  for (int i = 0; i < d.size(); ++i) {
    if (i == 16) {
      s += ",... (" + std::to_string(d.size()) + " dims)";
      break;
    }
    s += (i ? "," : "") + std::to_string(d[i]);
  }
  return s + "]";
}

// ---- types and tensors ------------------------------------------------------

Expected<Type> typeFromProto(const v1::TensorType &p, const std::string &what) {
  ElemKind k;
  if (!parseElemKind(p.dtype(), k))
    return invalid(what, ": unknown dtype ", quoteString(p.dtype()));
  // Bounded like the importer's tensors, and so that no product of dims
  // (zero dims skipped, as kernels compute strides) can overflow.
  uint64_t n = 1;
  for (int i = 0; i < p.dims_size(); ++i) {
    int64_t d = p.dims(i);
    if (d < 0)
      return invalid(what, ": dimension ", i, " is negative (", d, ")");
    uint64_t m = d == 0 ? 1 : uint64_t(d);
    if (n > kMaxTensorBytes / m)
      return invalid(what, ": ", p.dtype(), dimsText(p.dims()), " is over the ",
                     kMaxTensorBytes, "-byte tensor limit");
    n *= m;
  }
  if (n > kMaxTensorBytes / elemSize(k))
    return invalid(what, ": ", p.dtype(), dimsText(p.dims()), " is over the ",
                   kMaxTensorBytes, "-byte tensor limit");
  Type t(k, Dims(p.dims().begin(), p.dims().end()));
  if (!p.has_quant())
    return t;
  const v1::QuantParams &q = p.quant();
  if (q.scales_size() == 0)
    return invalid(what, ": quantized type without scales");
  if (q.zero_points_size() != q.scales_size())
    return invalid(what, ": quantized type has ", q.scales_size(),
                   " scales but ", q.zero_points_size(), " zero points");
  if (q.scales_size() == 1) {
    if (q.axis() != 0)
      return invalid(what, ": per-tensor quantization has axis ", q.axis(),
                     " (must be 0)");
  } else {
    if (q.axis() < 0 || q.axis() >= int64_t(t.rank()))
      return invalid(what, ": per-channel quantization axis ", q.axis(),
                     " is out of range for rank ", t.rank());
    if (t.dim(size_t(q.axis())) != int64_t(q.scales_size()))
      return invalid(what, ": ", q.scales_size(),
                     " per-channel scales for axis ", q.axis(), " of size ",
                     t.dim(size_t(q.axis())));
  }
  QuantParams qp;
  qp.scales.assign(q.scales().begin(), q.scales().end());
  qp.zeroPoints.assign(q.zero_points().begin(), q.zero_points().end());
  qp.axis = q.axis();
  t.setQuant(std::move(qp));
  return t;
}

// Bool elements are C++ bools (bytes 0 and 1 only) and 4-/2-bit kinds use
// the low bits of their byte: other bytes are not values of the type.
Status checkElementBytes(const Tensor &x, const std::string &what) {
  unsigned limit = 0; // bytes must be below this; 0: any byte
  if (x.elem() == ElemKind::Bool)
    limit = 2;
  else if (isMiniKind(x.elem()) && miniBits(miniFormatOf(x.elem())) < 8)
    limit = 1u << miniBits(miniFormatOf(x.elem()));
  if (!limit)
    return Status::ok();
  for (size_t i = 0; i < x.bytes(); ++i)
    if (x.raw()[i] >= limit)
      return invalid(what, ": element ", i, " is the byte ",
                     unsigned(x.raw()[i]), ", not a value of ",
                     elemKindName(x.elem()), " (0..", limit - 1, ")");
  return Status::ok();
}

Expected<Tensor> tensorFromBytes(const Type &t, const std::string &bytes,
                                 const std::string &what) {
  // The type passed typeFromProto: this cannot overflow.
  uint64_t need = uint64_t(t.numElements()) * elemSize(t.elem());
  if (bytes.size() != need)
    return invalid(what, ": ", bytes.size(), " bytes of data, but ",
                   t.toString(), " needs ", need);
  Tensor x(t);
  if (need)
    std::memcpy(x.raw(), bytes.data(), size_t(need));
  EMBER_TRY(checkElementBytes(x, what));
  return x;
}

Expected<Tensor> tensorFromProto(const v1::TensorData &p,
                                 const std::string &what) {
  if (!p.has_type())
    return invalid(what, ": tensor data without a type");
  EMBER_ASSIGN(Type t, typeFromProto(p.type(), what));
  return tensorFromBytes(t, p.data(), what);
}

// toProto, refusing what typeFromProto would refuse (a type over the size
// limit, inconsistent quantization), so that what is written reads back.
Status typeToProto(const Type &t, v1::TensorType &out,
                   const std::string &what) {
  toProto(t, out);
  return typeFromProto(out, what).takeStatus();
}

Status tensorToProto(const Tensor &t, v1::TensorData &out,
                     const std::string &what) {
  if (!t.hasData() || t.bytes() != t.type().sizeInBytes())
    return invalid(what, ": tensor ", t.type().toString(), " has no data");
  EMBER_TRY(typeToProto(t.type(), *out.mutable_type(), what));
  out.set_data(t.raw(), t.bytes());
  return Status::ok();
}

// ---- attributes ------------------------------------------------------------

Status graphToProto(const Function &f, v1::Graph &out, int depth);
Expected<std::unique_ptr<Function>> graphFromProto(const v1::Graph &g,
                                                   int depth);

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

// Which operands may be absent. The op table has no notion of optional
// operands, and kernels read every operand below MinIn without asking, so
// those are required; the first operand always is (as in the importer).
// The one exception: Loop's condition (operand 1) is optional in ONNX and
// its kernel handles its absence.
bool mayBeAbsent(OpKind k, size_t i) {
  if (i == 0)
    return false;
  if (k == OpKind::Loop && i == 1)
    return true;
  return int64_t(i) >= opInfo(k).minIn;
}

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

Status graphToProto(const Function &f, v1::Graph &out, int depth) {
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
    std::string where = nodeWhere(k++, opName(n.kind), n.name);
    v1::Node *pn = out.add_nodes();
    pn->set_op(opName(n.kind));
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
    if (!opKindFromName(pn.op(), kind))
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

Expected<std::unique_ptr<Function>> graphFromProto(const v1::Graph &g,
                                                   int depth) {
  return GraphReader(g, depth).read();
}

// ---- LIR -------------------------------------------------------------------

v1::Buffer::Kind bufferKindToProto(lir::BufferKind k) {
  switch (k) {
  case lir::BufferKind::Input:
    return v1::Buffer::INPUT;
  case lir::BufferKind::Output:
    return v1::Buffer::OUTPUT;
  case lir::BufferKind::Weight:
    return v1::Buffer::WEIGHT;
  case lir::BufferKind::Activation:
    return v1::Buffer::ACTIVATION;
  }
  return v1::Buffer::INPUT;
}

Expected<lir::BufferKind> bufferKindFromProto(int k, const std::string &what) {
  switch (k) {
  case v1::Buffer::INPUT:
    return lir::BufferKind::Input;
  case v1::Buffer::OUTPUT:
    return lir::BufferKind::Output;
  case v1::Buffer::WEIGHT:
    return lir::BufferKind::Weight;
  case v1::Buffer::ACTIVATION:
    return lir::BufferKind::Activation;
  }
  return invalid(what, ": unknown buffer kind ", k);
}

v1::Operand::Access accessToProto(lir::Access a) {
  switch (a) {
  case lir::Access::In:
    return v1::Operand::IN;
  case lir::Access::Out:
    return v1::Operand::OUT;
  case lir::Access::InOut:
    return v1::Operand::INOUT;
  }
  return v1::Operand::IN;
}

v1::Instruction::Kind instKindToProto(lir::InstKind k) {
  switch (k) {
  case lir::InstKind::Compute:
    return v1::Instruction::COMPUTE;
  case lir::InstKind::Alloc:
    return v1::Instruction::ALLOC;
  case lir::InstKind::Dealloc:
    return v1::Instruction::DEALLOC;
  case lir::InstKind::Copy:
    return v1::Instruction::COPY;
  case lir::InstKind::DmaStart:
    return v1::Instruction::DMA_START;
  case lir::InstKind::DmaWait:
    return v1::Instruction::DMA_WAIT;
  }
  return v1::Instruction::COMPUTE;
}

const char *instKindText(lir::InstKind k) {
  switch (k) {
  case lir::InstKind::Compute:
    return "compute";
  case lir::InstKind::Alloc:
    return "alloc";
  case lir::InstKind::Dealloc:
    return "dealloc";
  case lir::InstKind::Copy:
    return "copy";
  case lir::InstKind::DmaStart:
    return "dma.start";
  case lir::InstKind::DmaWait:
    return "dma.wait";
  }
  return "?";
}

Status lirToProto(const lir::Function &f, v1::LirProgram &p) {
  p.set_schema_version(kLirSchemaVersion);
  EMBER_TRY(checkUtf8(f.name, "the LIR function name"));
  p.set_name(f.name);
  for (const lir::MemorySpace &s : f.spaces) {
    v1::MemorySpace *ps = p.add_spaces();
    EMBER_TRY(checkUtf8(s.name, "LIR space name"));
    ps->set_name(s.name);
    ps->set_capacity(s.capacity);
    ps->set_alignment(s.alignment);
  }
  for (size_t i = 0; i < f.buffers.size(); ++i) {
    const lir::Buffer &b = f.buffers[i];
    std::string where = concat("LIR buffer #", i, " ", valueRef(b.name));
    EMBER_TRY(checkUtf8(b.name, concat("LIR buffer #", i, ": the name")));
    v1::Buffer *pb = p.add_buffers();
    pb->set_name(b.name);
    EMBER_TRY(typeToProto(b.type, *pb->mutable_type(), where));
    pb->set_space(b.space);
    pb->set_kind(bufferKindToProto(b.kind));
    if (b.kind == lir::BufferKind::Weight) {
      if (!b.payload || b.payload->type() != b.type || !b.payload->hasData() ||
          b.payload->bytes() != b.type.sizeInBytes())
        return invalid(where, ": a weight needs a payload of type ",
                       b.type.toString());
      pb->set_payload(b.payload->raw(), b.payload->bytes());
    } else if (b.payload) {
      return invalid(where, ": only weights have a payload");
    }
    // Offsets: activations only (-1: not planned).
    if (b.kind == lir::BufferKind::Activation)
      pb->set_offset(b.offset < 0 ? -1 : b.offset);
    else if (b.offset >= 0)
      return invalid(where, ": only activations have an offset");
  }
  for (size_t i = 0; i < f.views.size(); ++i) {
    const lir::View &v = f.views[i];
    EMBER_TRY(checkUtf8(v.name, concat("LIR view #", i, ": the name")));
    v1::View *pv = p.add_views();
    pv->set_name(v.name);
    pv->set_buffer(v.buffer);
    pv->set_offset(v.offset);
    EMBER_TRY(typeToProto(v.type, *pv->mutable_type(),
                          concat("LIR view #", i, " ", valueRef(v.name))));
  }
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const lir::Instruction &in = f.insts[i];
    std::string where =
        concat("LIR instruction #", i, " (",
               in.kind == lir::InstKind::Compute ? opName(in.op)
                                                 : instKindText(in.kind),
               ")");
    v1::Instruction *pi = p.add_instructions();
    pi->set_kind(instKindToProto(in.kind));
    // Only the fields of the instruction's kind (the ones it prints).
    if (in.kind == lir::InstKind::Compute) {
      pi->set_op(opName(in.op));
      for (auto &kv : in.attrs) {
        if (kv.first.empty())
          return invalid(where, ": an attribute has no name");
        EMBER_TRY(checkUtf8(kv.first, where + ": the attribute name"));
        v1::Attribute *pa = pi->add_attributes();
        pa->set_name(kv.first);
        EMBER_TRY(attrToProto(kv.second, *pa, -1,
                              where + ": attribute '" + kv.first + "'"));
      }
    }
    if (in.kind != lir::InstKind::DmaWait)
      for (const lir::Operand &op : in.operands) {
        v1::Operand *po = pi->add_operands();
        v1::Ref *pr = po->mutable_ref();
        switch (op.ref.kind) {
        case lir::Ref::Kind::None:
          pr->set_kind(v1::Ref::NONE);
          break;
        case lir::Ref::Kind::Buffer:
          pr->set_kind(v1::Ref::BUFFER);
          pr->set_index(op.ref.index);
          break;
        case lir::Ref::Kind::View:
          pr->set_kind(v1::Ref::VIEW);
          pr->set_index(op.ref.index);
          break;
        }
        po->set_access(accessToProto(op.access));
      }
    if (in.kind == lir::InstKind::DmaStart ||
        in.kind == lir::InstKind::DmaWait) {
      EMBER_TRY(checkUtf8(in.token, where + ": the token"));
      pi->set_token(in.token);
    }
    if (in.kind == lir::InstKind::DmaStart) {
      pi->set_bytes(in.bytes);
      pi->mutable_shape()->Add(in.shape.begin(), in.shape.end());
      pi->mutable_dst_strides()->Add(in.dstStrides.begin(),
                                     in.dstStrides.end());
      pi->mutable_src_strides()->Add(in.srcStrides.begin(),
                                     in.srcStrides.end());
    }
    EMBER_TRY(checkUtf8(in.loc, where + ": the loc"));
    pi->set_loc(in.loc);
  }
  return Status::ok();
}

class LirReader {
public:
  explicit LirReader(const v1::LirProgram &p) : p_(p) {}

  Expected<lir::Function> read() {
    if (p_.schema_version() != kLirSchemaVersion)
      return makeError(ErrorCode::Unsupported, "LIR program '", p_.name(),
                       "' has schema version ", p_.schema_version(),
                       ", but this reader supports version ",
                       kLirSchemaVersion);
    f_.name = p_.name();
    for (const v1::MemorySpace &s : p_.spaces())
      f_.spaces.push_back({s.name(), s.capacity(), s.alignment()});
    for (int i = 0; i < p_.buffers_size(); ++i)
      EMBER_TRY(buffer(i));
    for (int i = 0; i < p_.views_size(); ++i)
      EMBER_TRY(view(i));
    for (int i = 0; i < p_.instructions_size(); ++i)
      EMBER_TRY(instruction(i));
    // Structure is sound now (every index is in range): the LIR verifier
    // does the rest, demanding a plan when every activation has one.
    lir::VerifyOptions vo;
    vo.requirePlanned = true;
    for (const lir::Buffer &b : f_.buffers)
      if (b.kind == lir::BufferKind::Activation && b.offset < 0)
        vo.requirePlanned = false;
    EMBER_TRY(lir::verify(f_, vo).withContext("LIR program '" + f_.name + "'"));
    return std::move(f_);
  }

private:
  Status buffer(int i) {
    const v1::Buffer &pb = p_.buffers(i);
    std::string where = concat("LIR buffer #", i, " ", valueRef(pb.name()));
    lir::Buffer b;
    b.name = pb.name();
    if (!pb.has_type())
      return invalid(where, ": no type");
    EMBER_ASSIGN(b.type, typeFromProto(pb.type(), where));
    if (pb.space() >= f_.spaces.size())
      return invalid(where, ": space ", pb.space(), ", but the program has ",
                     f_.spaces.size(), " spaces");
    b.space = pb.space();
    EMBER_ASSIGN(b.kind, bufferKindFromProto(pb.kind(), where));
    if (b.kind == lir::BufferKind::Weight) {
      EMBER_ASSIGN(Tensor t,
                   tensorFromBytes(b.type, pb.payload(), where + ": payload"));
      b.payload = std::make_shared<const Tensor>(std::move(t));
    } else if (!pb.payload().empty()) {
      return invalid(where, ": only weights have a payload (this is an ",
                     lir::bufferKindName(b.kind), ")");
    }
    if (b.kind == lir::BufferKind::Activation) {
      if (pb.offset() < -1)
        return invalid(where, ": offset ", pb.offset(),
                       " (-1: not planned, else a byte offset)");
      b.offset = pb.offset();
    } else if (pb.offset() != 0 && pb.offset() != -1) {
      return invalid(where, ": only activations have an offset (this is an ",
                     lir::bufferKindName(b.kind), ", offset ", pb.offset(),
                     ")");
    }
    f_.buffers.push_back(std::move(b));
    return Status::ok();
  }

  Status view(int i) {
    const v1::View &pv = p_.views(i);
    std::string where = concat("LIR view #", i, " ", valueRef(pv.name()));
    lir::View v;
    v.name = pv.name();
    if (pv.buffer() >= f_.buffers.size())
      return invalid(where, ": buffer ", pv.buffer(), ", but the program has ",
                     f_.buffers.size(), " buffers");
    v.buffer = pv.buffer();
    v.offset = pv.offset();
    if (!pv.has_type())
      return invalid(where, ": no type");
    EMBER_ASSIGN(v.type, typeFromProto(pv.type(), where));
    f_.views.push_back(std::move(v));
    return Status::ok();
  }

  Expected<lir::Ref> ref(const v1::Ref &r, const std::string &what) {
    switch (r.kind()) {
    case v1::Ref::NONE:
      if (r.index() != 0)
        return invalid(what, ": an absent operand (NONE) with index ",
                       r.index());
      return lir::Ref::none();
    case v1::Ref::BUFFER:
      if (r.index() >= f_.buffers.size())
        return invalid(what, " refers to buffer ", r.index(),
                       ", but the program has ", f_.buffers.size(), " buffers");
      return lir::Ref::buffer(r.index());
    case v1::Ref::VIEW:
      if (r.index() >= f_.views.size())
        return invalid(what, " refers to view ", r.index(),
                       ", but the program has ", f_.views.size(), " views");
      return lir::Ref::view(r.index());
    default:
      break;
    }
    return invalid(what, ": unknown reference kind ", int(r.kind()));
  }

  Status instruction(int i) {
    const v1::Instruction &pi = p_.instructions(i);
    lir::Instruction in;
    std::string where;
    switch (pi.kind()) {
    case v1::Instruction::COMPUTE:
      in.kind = lir::InstKind::Compute;
      break;
    case v1::Instruction::ALLOC:
      in.kind = lir::InstKind::Alloc;
      break;
    case v1::Instruction::DEALLOC:
      in.kind = lir::InstKind::Dealloc;
      break;
    case v1::Instruction::COPY:
      in.kind = lir::InstKind::Copy;
      break;
    case v1::Instruction::DMA_START:
      in.kind = lir::InstKind::DmaStart;
      break;
    case v1::Instruction::DMA_WAIT:
      in.kind = lir::InstKind::DmaWait;
      break;
    default:
      return invalid("LIR instruction #", i, ": unknown kind ", int(pi.kind()));
    }
    if (in.kind == lir::InstKind::Compute) {
      if (!opKindFromName(pi.op(), in.op))
        return invalid("LIR instruction #", i, " (", quoteString(pi.op()),
                       "): unknown op");
      where = concat("LIR instruction #", i, " (", pi.op(), ")");
      if (isStorage(in.op))
        return invalid(where, ": ", pi.op(), " is not an instruction");
    } else {
      where = concat("LIR instruction #", i, " (", instKindText(in.kind), ")");
      if (!pi.op().empty() || pi.attributes_size())
        return invalid(where, ": only compute instructions have an op and "
                              "attributes");
    }
    bool dma =
        in.kind == lir::InstKind::DmaStart || in.kind == lir::InstKind::DmaWait;
    if (!dma && !pi.token().empty())
      return invalid(where, ": only DMA instructions have a token");
    if (in.kind != lir::InstKind::DmaStart &&
        (pi.bytes() || pi.shape_size() || pi.dst_strides_size() ||
         pi.src_strides_size()))
      return invalid(where, ": only dma.start has bytes, shape and strides");
    size_t want = 0;
    switch (in.kind) {
    case lir::InstKind::Compute:
      want = size_t(pi.operands_size());
      break;
    case lir::InstKind::Alloc:
    case lir::InstKind::Dealloc:
      want = 1;
      break;
    case lir::InstKind::Copy:
    case lir::InstKind::DmaStart:
      want = 2;
      break;
    case lir::InstKind::DmaWait:
      want = 0;
      break;
    }
    if (size_t(pi.operands_size()) != want)
      return invalid(where, ": ", pi.operands_size(), " operands, but ",
                     instKindText(in.kind), " has ", want);
    for (int k = 0; k < pi.operands_size(); ++k) {
      const v1::Operand &po = pi.operands(k);
      std::string what = concat(where, ": operand ", k);
      lir::Operand op;
      EMBER_ASSIGN(op.ref, ref(po.ref(), what));
      switch (po.access()) {
      case v1::Operand::IN:
        op.access = lir::Access::In;
        break;
      case v1::Operand::OUT:
        op.access = lir::Access::Out;
        break;
      case v1::Operand::INOUT:
        op.access = lir::Access::InOut;
        break;
      default:
        return invalid(what, ": unknown access ", int(po.access()));
      }
      in.operands.push_back(op);
    }
    if (in.kind == lir::InstKind::Compute) {
      // Kernel inputs are the reading operands, in order.
      size_t k = 0;
      for (const lir::Operand &op : in.operands) {
        if (!op.reads())
          continue;
        if (!op.ref && !mayBeAbsent(in.op, k))
          return invalid(where, ": input ", k, " is absent, but ", pi.op(),
                         " requires it");
        ++k;
      }
      EMBER_TRY(attrsFromProto(pi.attributes(), -1, where, in.attrs));
    }
    in.token = pi.token();
    in.bytes = pi.bytes();
    in.shape.assign(pi.shape().begin(), pi.shape().end());
    in.dstStrides.assign(pi.dst_strides().begin(), pi.dst_strides().end());
    in.srcStrides.assign(pi.src_strides().begin(), pi.src_strides().end());
    in.loc = pi.loc();
    f_.insts.push_back(std::move(in));
    return Status::ok();
  }

  const v1::LirProgram &p_;
  lir::Function f_;
};

} // namespace

// ---- public entry points ---------------------------------------------------

void toProto(const Type &t, v1::TensorType &out) {
  out.Clear();
  out.set_dtype(elemKindName(t.elem()));
  out.mutable_dims()->Add(t.dims().begin(), t.dims().end());
  if (const QuantParams *q = t.quant()) {
    v1::QuantParams *pq = out.mutable_quant();
    pq->mutable_scales()->Add(q->scales.begin(), q->scales.end());
    pq->mutable_zero_points()->Add(q->zeroPoints.begin(), q->zeroPoints.end());
    pq->set_axis(q->axis);
  }
}

Expected<Type> fromProto(const v1::TensorType &t) {
  return typeFromProto(t, "tensor type");
}

Status toProto(const Function &f, v1::Graph &out) {
  return graphToProto(f, out, 0);
}

Expected<std::string> serializeGraph(const Function &f) {
  v1::Graph g;
  EMBER_TRY(graphToProto(f, g, 0));
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

Expected<std::string> serializeLir(const lir::Function &f) {
  v1::LirProgram p;
  EMBER_TRY(lirToProto(f, p));
  return serializeMessage(p, "ember.backend.v1.LirProgram");
}

Expected<lir::Function> deserializeLir(const void *data, size_t size) {
  v1::LirProgram p;
  EMBER_TRY(parseMessage(data, size, p, "ember.backend.v1.LirProgram"));
  return LirReader(p).read();
}

} // namespace ember::backend
