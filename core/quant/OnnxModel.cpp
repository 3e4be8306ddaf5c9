#include "quant/OnnxModel.h"

#include "import/TensorIO.h"

#include <onnx/defs/schema.h>
#include <onnx/shape_inference/implementation.h>
#include <onnx/version_converter/convert.h>

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace ember::quant {

namespace {
std::string dirOf(const std::string &p) {
  size_t s = p.rfind('/');
  return s == std::string::npos ? "." : p.substr(0, s);
}
} // namespace

Expected<onnx::ModelProto> loadOnnxModel(const std::string &path) {
  EMBER_ASSIGN(std::string bytes, readFileBytes(path));
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes))
    return invalid("'", path, "' is not an ONNX model (protobuf parse failed)");
  if (!m.has_graph())
    return invalid("'", path, "' has no graph");
  auto *g = m.mutable_graph();
  std::string base = dirOf(path);
  for (auto &init : *g->mutable_initializer()) {
    if (init.data_location() != onnx::TensorProto::EXTERNAL)
      continue;
    auto t = tensorFromProto(init, base);
    if (!t)
      return t.status().withContext("initializer '" + init.name() + "'");
    std::string name = init.name();
    init.Clear();
    tensorToProto(*t, init);
    init.set_name(name);
  }
  // Constant nodes with a tensor value -> initializers.
  google::protobuf::RepeatedPtrField<onnx::NodeProto> kept;
  for (auto &n : *g->mutable_node()) {
    bool isConst = (n.domain().empty() || n.domain() == "ai.onnx") &&
                   n.op_type() == "Constant" && n.output_size() == 1 &&
                   n.attribute_size() == 1 &&
                   n.attribute(0).name() == "value" &&
                   n.attribute(0).type() == onnx::AttributeProto::TENSOR;
    if (!isConst) {
      *kept.Add() = n;
      continue;
    }
    onnx::TensorProto t = n.attribute(0).t();
    if (t.data_location() == onnx::TensorProto::EXTERNAL) {
      auto x = tensorFromProto(t, base);
      if (!x)
        return x.status().withContext(describeNode(n));
      t.Clear();
      tensorToProto(*x, t);
    }
    t.set_name(n.output(0));
    *g->add_initializer() = t;
  }
  g->mutable_node()->Swap(&kept);
  return m;
}

int64_t defaultOpset(const onnx::ModelProto &m) {
  for (auto &o : m.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx")
      return o.version();
  return m.opset_import_size() ? 0 : 1;
}

namespace {
// ONNX's version converter. Some of its adapters need a tensor's rank that
// the file does not write (Softmax 12 -> 13 flattens at its axis unless
// that axis is the last; exporters write no value_info for a MatMul's
// output): when the plain conversion fails, it is tried again on a copy
// whose shapes ONNX's shape inference filled in, and the value_info the
// file did not have is dropped again. A model the plain conversion takes
// converts exactly as before.
onnx::ModelProto convertVersion(const onnx::ModelProto &m, int opset) {
  try {
    return onnx::version_conversion::ConvertVersion(m, opset);
  } catch (const std::exception &) {
    std::exception_ptr plain = std::current_exception();
    onnx::ModelProto out;
    try {
      onnx::ModelProto shaped = m;
      onnx::shape_inference::InferShapes(shaped);
      out = onnx::version_conversion::ConvertVersion(shaped, opset);
    } catch (const std::exception &) {
      std::rethrow_exception(plain); // the plain conversion's reason
    }
    std::set<std::string> had;
    for (const auto &v : m.graph().value_info())
      had.insert(v.name());
    google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> kept;
    for (const auto &v : out.graph().value_info())
      if (had.count(v.name()))
        *kept.Add() = v;
    out.mutable_graph()->mutable_value_info()->Swap(&kept);
    return out;
  }
}
} // namespace

Status upgradeForQdq(onnx::ModelProto &m, int64_t minOpset) {
  int64_t v = defaultOpset(m);
  if (v < minOpset) {
    // The converter carries only ops ONNX still defines: an experimental
    // op of old exporters (ImageScaler, Crop, Affine) has no schema, and
    // the converter's own message names neither the op nor the node.
    for (const auto &n : m.graph().node())
      if ((n.domain().empty() || n.domain() == "ai.onnx") &&
          !onnx::OpSchemaRegistry::Schema(n.op_type(), int(v), ""))
        return unsupported(
            "the model's opset ", v, " must be converted to ", minOpset,
            " for per-axis QuantizeLinear/DequantizeLinear, and ",
            describeNode(n),
            " is an op ONNX no longer defines (an experimental op of older "
            "exporters), which its version converter cannot carry; "
            "replace it with standard ops first");
    onnx::ModelProto out;
    try {
      out = convertVersion(m, int(minOpset));
    } catch (const std::exception &e) {
      return unsupported("the model's opset ", v, " must be converted to ",
                         minOpset,
                         " for per-axis QuantizeLinear/DequantizeLinear, and "
                         "ONNX's version converter failed: ",
                         e.what());
    }
    // The converter rebuilds the graph: keep the original metadata.
    out.set_producer_name(m.producer_name());
    out.set_producer_version(m.producer_version());
    out.set_model_version(m.model_version());
    out.set_doc_string(m.doc_string());
    *out.mutable_metadata_props() = m.metadata_props();
    m = std::move(out);
    if (defaultOpset(m) < minOpset)
      return unsupported("ONNX's version converter did not reach opset ",
                         minOpset);
  }
  if (m.ir_version() < 7)
    m.set_ir_version(7);
  auto *g = m.mutable_graph();
  std::set<std::string> inits;
  for (auto &i : g->initializer())
    inits.insert(i.name());
  google::protobuf::RepeatedPtrField<onnx::ValueInfoProto> ins;
  for (auto &i : g->input())
    if (!inits.count(i.name()))
      *ins.Add() = i;
  g->mutable_input()->Swap(&ins);
  return Status::ok();
}

GraphIndex::GraphIndex(const onnx::GraphProto &graph) : g(graph) {
  for (int i = 0; i < g.initializer_size(); ++i)
    initializer[g.initializer(i).name()] = i;
  for (auto &in : g.input())
    if (!initializer.count(in.name()))
      inputs.push_back(in.name());
  for (int i = 0; i < g.output_size(); ++i)
    outputIndex[g.output(i).name()] = i;
  int nn = g.node_size();
  for (int i = 0; i < nn; ++i)
    for (auto &o : g.node(i).output())
      if (!o.empty())
        producer[o] = i;
  for (int i = 0; i < nn; ++i)
    for (int k = 0; k < g.node(i).input_size(); ++k)
      if (!g.node(i).input(k).empty())
        consumers[g.node(i).input(k)].push_back({i, k});
  // Kahn's algorithm, stable in file order.
  std::vector<int> pending(size_t(nn), 0);
  for (int i = 0; i < nn; ++i)
    for (auto &in : g.node(i).input())
      if (!in.empty() && producer.count(in))
        ++pending[size_t(i)];
  std::vector<int> ready;
  for (int i = nn - 1; i >= 0; --i)
    if (!pending[size_t(i)])
      ready.push_back(i);
  while (!ready.empty()) {
    int i = ready.back();
    ready.pop_back();
    order.push_back(i);
    std::vector<int> next;
    for (auto &o : g.node(i).output()) {
      auto it = consumers.find(o);
      if (it == consumers.end())
        continue;
      for (auto &c : it->second)
        if (--pending[size_t(c.first)] == 0)
          next.push_back(c.first);
    }
    std::sort(next.begin(), next.end(), std::greater<int>());
    for (int x : next)
      ready.push_back(x);
    std::sort(ready.begin(), ready.end(), std::greater<int>());
  }
}

size_t GraphIndex::readers(const std::string &t) const {
  auto it = consumers.find(t);
  return (it == consumers.end() ? 0 : it->second.size()) +
         (isGraphOutput(t) ? 1 : 0);
}

std::string describeNode(const onnx::NodeProto &n) {
  if (!n.name().empty())
    return "node '" + n.name() + "' (" + n.op_type() + ")";
  if (n.output_size() && !n.output(0).empty())
    return "node producing '" + n.output(0) + "' (" + n.op_type() + ")";
  return "a " + n.op_type() + " node";
}

namespace {
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  void bytes(const void *p, size_t n) {
    auto *c = static_cast<const uint8_t *>(p);
    for (size_t i = 0; i < n; ++i) {
      h ^= c[i];
      h *= 1099511628211ull;
    }
  }
  void str(const std::string &s) {
    uint64_t n = s.size();
    bytes(&n, sizeof(n));
    bytes(s.data(), s.size());
  }
  void num(int64_t v) { bytes(&v, sizeof(v)); }
};
} // namespace

std::string graphHash(const onnx::ModelProto &m) {
  Hasher h;
  h.str("ember-graph-hash-v1");
  std::vector<std::pair<std::string, int64_t>> ops;
  for (auto &o : m.opset_import())
    ops.push_back({o.domain().empty() ? "ai.onnx" : o.domain(), o.version()});
  std::sort(ops.begin(), ops.end());
  for (auto &o : ops) {
    h.str(o.first);
    h.num(o.second);
  }
  const auto &g = m.graph();
  for (auto &in : g.input()) {
    h.str(in.name());
    std::string t;
    in.type().SerializeToString(&t);
    h.str(t);
  }
  for (auto &n : g.node()) {
    h.str(n.op_type());
    h.str(n.domain());
    h.num(n.input_size());
    for (auto &i : n.input())
      h.str(i);
    h.num(n.output_size());
    for (auto &o : n.output())
      h.str(o);
    for (auto &a : n.attribute()) {
      onnx::AttributeProto c = a;
      c.clear_doc_string();
      std::string s;
      google::protobuf::io::StringOutputStream sos(&s);
      {
        google::protobuf::io::CodedOutputStream cos(&sos);
        cos.SetSerializationDeterministic(true);
        c.SerializeToCodedStream(&cos);
      }
      h.str(s);
    }
  }
  std::vector<const onnx::TensorProto *> inits;
  for (auto &i : g.initializer())
    inits.push_back(&i);
  std::sort(inits.begin(), inits.end(),
            [](auto *a, auto *b) { return a->name() < b->name(); });
  for (auto *i : inits) {
    onnx::TensorProto c = *i;
    c.clear_doc_string();
    std::string s;
    google::protobuf::io::StringOutputStream sos(&s);
    {
      google::protobuf::io::CodedOutputStream cos(&sos);
      cos.SetSerializationDeterministic(true);
      c.SerializeToCodedStream(&cos);
    }
    h.str(s);
  }
  for (auto &o : g.output())
    h.str(o.name());
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)h.h);
  return buf;
}

Expected<Tensor> initializerTensor(const onnx::TensorProto &p) {
  return tensorFromProto(p, ".");
}

onnx::TensorProto makeInitializer(const std::string &name, const Tensor &t) {
  onnx::TensorProto p;
  tensorToProto(t, p);
  p.set_name(name);
  return p;
}

Status writeFileAtomically(const std::string &path, const std::string &bytes) {
  std::string tmp = path + ".tmp-XXXXXX";
  std::vector<char> name(tmp.begin(), tmp.end());
  name.push_back('\0');
  int fd = mkstemp(name.data());
  if (fd < 0)
    return makeError(ErrorCode::Io, "cannot create '", path,
                     "': ", std::strerror(errno));
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t w = ::write(fd, bytes.data() + off, bytes.size() - off);
    if (w < 0) {
      if (errno == EINTR)
        continue;
      int e = errno;
      ::close(fd);
      ::unlink(name.data());
      return makeError(ErrorCode::Io, "cannot write '", path,
                       "': ", std::strerror(e));
    }
    off += size_t(w);
  }
  if (::fchmod(fd, 0644) != 0 || ::close(fd) != 0) {
    ::unlink(name.data());
    return makeError(ErrorCode::Io, "cannot write '", path, "'");
  }
  if (std::rename(name.data(), path.c_str()) != 0) {
    int e = errno;
    ::unlink(name.data());
    return makeError(ErrorCode::Io, "cannot write '", path,
                     "': ", std::strerror(e));
  }
  return Status::ok();
}

Status writeOnnxModelAtomically(const onnx::ModelProto &m,
                                const std::string &path) {
  std::string bytes;
  if (!m.SerializeToString(&bytes))
    return makeError(ErrorCode::Internal,
                     "the quantized model does not serialize (over 2 GiB?)");
  return writeFileAtomically(path, bytes);
}

} // namespace ember::quant
