#include "import/InputShapes.h"

#include "import/TensorIO.h"

#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cctype>
#include <set>

namespace ember {

namespace {

std::string lower(std::string s) {
  for (char &c : s)
    c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Names that say the dim runs along a sequence (tokens, time steps, audio
// frames). 1 is always a valid length for such a dim.
bool isSequenceName(const std::string &name) {
  std::string n = lower(name);
  for (const char *w :
       {"seq", "len", "time", "step", "token", "frame", "word", "sentence"})
    if (n.find(w) != std::string::npos)
      return true;
  return false;
}

// Names that say the dim is spatial or a feature size: never defaulted,
// whatever its position (1 is rarely valid and never representative).
bool isSpatialName(const std::string &name) {
  std::string n = lower(name);
  if (n == "h" || n == "w" || n == "c" || n == "d")
    return true;
  for (const char *w :
       {"height", "width", "depth", "channel", "feature", "hidden", "pixel"})
    if (n.find(w) != std::string::npos)
      return true;
  return false;
}

std::string dimsText(const Dims &d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? "x" : "") + std::to_string(d[i]);
  return s.empty() ? "(scalar)" : s;
}

std::string declaredText(const DeclaredInput &in) {
  std::string s = "[";
  for (size_t i = 0; i < in.dims.size(); ++i) {
    auto &d = in.dims[i];
    s += i ? "," : "";
    s += d.isStatic() ? std::to_string(d.value)
                      : (d.name.empty() ? "?" : d.name);
  }
  return s + "]";
}

std::string inputList(const std::vector<DeclaredInput> &ins) {
  std::string s;
  for (auto &in : ins)
    s += (s.empty() ? "" : ", ") + in.name + declaredText(in);
  return s.empty() ? "none" : s;
}

} // namespace

Expected<ResolvedShapes>
resolveInputShapes(const std::vector<DeclaredInput> &inputs,
                   const ShapeBindings &b) {
  ResolvedShapes r;
  std::map<std::string, const DeclaredInput *> byName;
  std::set<std::string> dimNames;
  for (auto &in : inputs) {
    byName[in.name] = &in;
    for (auto &d : in.dims)
      if (!d.isStatic() && !d.name.empty())
        dimNames.insert(d.name);
  }
  for (auto &[name, given] : b.inputs)
    if (!byName.count(name))
      return invalid(given.origin, " names '", name,
                     "', which is not a graph input of this model (inputs: ",
                     inputList(inputs), ")");
  for (auto &[name, v] : b.dims) {
    auto o = b.dimOrigin.find(name);
    std::string origin =
        o != b.dimOrigin.end() ? o->second : concat("--dim ", name, "=", v);
    if (!dimNames.count(name)) {
      std::string known;
      for (auto &n : dimNames)
        known += (known.empty() ? "" : ", ") + n;
      return invalid(origin, " names dim '", name,
                     "', which no input of this model declares (its named "
                     "dims: ",
                     known.empty() ? "none" : known, ")");
    }
    r.dims[name] = v;
  }
  // Whole shapes first: they fix their input's named dims.
  std::map<std::string, std::string> dimSource; // name -> origin
  for (auto &[name, o] : b.dimOrigin)
    if (r.dims.count(name))
      dimSource[name] = o;
  for (auto &[name, v] : r.dims)
    if (!dimSource.count(name))
      dimSource[name] = concat("--dim ", name, "=", v);
  for (auto &in : inputs) {
    auto g = b.inputs.find(in.name);
    if (g == b.inputs.end())
      continue;
    const Dims &d = g->second.dims;
    const std::string &origin = g->second.origin;
    if (in.hasShape && d.size() != in.dims.size())
      return invalid(origin, " gives input '", in.name, "' rank ", d.size(),
                     " (", dimsText(d), ") but the model declares rank ",
                     in.dims.size(), " ", declaredText(in));
    for (size_t i = 0; in.hasShape && i < d.size(); ++i) {
      const DeclaredDim &dd = in.dims[i];
      if (dd.isStatic() && dd.value != d[i])
        return invalid(origin, " sets dim ", i, " of input '", in.name, "' to ",
                       d[i], " but the model fixes it to ", dd.value, " ",
                       declaredText(in));
      if (dd.isStatic() || dd.name.empty())
        continue;
      auto have = r.dims.find(dd.name);
      if (have != r.dims.end() && have->second != d[i])
        return invalid("dim '", dd.name, "' is ", have->second, " from ",
                       dimSource[dd.name], " but ", d[i], " from ", origin,
                       " (input '", in.name, "' dim ", i, ")");
      r.dims[dd.name] = d[i];
      dimSource.emplace(dd.name, origin);
    }
    r.inputs[in.name] = d;
  }

  // Which unbound dims may default: a name is batch-like when every
  // occurrence is dim 0 of its input; an unnamed dim when it is dim 0.
  std::map<std::string, bool> leadingOnly;
  std::map<std::string, std::vector<std::string>> usedBy;
  for (auto &in : inputs)
    for (size_t i = 0; i < in.dims.size(); ++i) {
      auto &d = in.dims[i];
      if (d.isStatic() || d.name.empty())
        continue;
      auto it = leadingOnly.emplace(d.name, true).first;
      it->second = it->second && i == 0;
      auto &u = usedBy[d.name];
      if (std::find(u.begin(), u.end(), in.name) == u.end())
        u.push_back(in.name);
    }
  auto users = [&](const std::string &dim) {
    std::string s;
    for (auto &u : usedBy[dim])
      s += (s.empty() ? "'" : ", '") + u + "'";
    return s;
  };
  const BindingSpelling &sp = b.spelling;
  std::vector<std::string> missing;
  std::set<std::string> unboundNames;
  for (auto &in : inputs) {
    if (r.inputs.count(in.name))
      continue;
    if (!in.hasShape) {
      std::string what = concat("input '", in.name, "' declares no shape");
      if (b.allowUnbound) {
        r.unbound.push_back(what);
        continue;
      }
      missing.push_back(concat(what, "; give it with ",
                               sp.spell(sp.shape, in.name), " or ",
                               sp.spell(sp.data, in.name)));
      continue;
    }
    Dims d;
    for (size_t i = 0; i < in.dims.size(); ++i) {
      const DeclaredDim &dd = in.dims[i];
      if (dd.isStatic()) {
        d.push_back(dd.value);
        continue;
      }
      if (!dd.name.empty()) {
        auto have = r.dims.find(dd.name);
        if (have != r.dims.end()) {
          d.push_back(have->second);
          continue;
        }
        // By position (paddle and Keras names say nothing) or by name
        // (an RNN state [layers, batch, hidden] has it at dim 1).
        bool batchName = lower(dd.name).find("batch") != std::string::npos;
        bool batch = (leadingOnly[dd.name] || batchName) &&
                     !isSpatialName(dd.name) && !isSequenceName(dd.name);
        bool seq = isSequenceName(dd.name) && !isSpatialName(dd.name);
        if (b.defaults && (batch || seq)) {
          r.dims[dd.name] = 1;
          r.defaulted += concat(r.defaulted.empty() ? "" : ", ", dd.name, "=1");
          r.notes.push_back(concat(
              "dim '", dd.name, "' defaults to 1 (",
              !batch                 ? "a sequence length in "
              : leadingOnly[dd.name] ? "batch-like: dim 0 of "
                                     : "batch-like by its name, in ",
              users(dd.name), "); set it with ", sp.spell(sp.dim, dd.name)));
          d.push_back(1);
          continue;
        }
        std::string what = concat("dim '", dd.name, "' (input '", in.name, "' ",
                                  declaredText(in), " dim ", i, ")");
        if (b.allowUnbound) {
          if (!unboundNames.count(dd.name))
            r.unbound.push_back(what);
          unboundNames.insert(dd.name);
          d.push_back(-1);
          continue;
        }
        missing.push_back(
            concat(what, " is not bound",
                   b.defaults ? " and has no default (only batch-like dims and "
                                "sequence lengths default to 1)"
                              : "",
                   "; bind it with ", sp.spell(sp.dim, dd.name)));
        d.push_back(1);
        r.dims[dd.name] = 1; // report each name once
        continue;
      }
      if (b.defaults && i == 0) {
        r.defaulted += concat(r.defaulted.empty() ? "" : ", ", "input '",
                              in.name, "' dim 0=1");
        r.notes.push_back(concat("input '", in.name, "' ", declaredText(in),
                                 ": unnamed dim 0 defaults to 1 "
                                 "(batch-like); set the shape with ",
                                 sp.spell(sp.shape, in.name)));
        d.push_back(1);
        continue;
      }
      std::string what = concat("input '", in.name, "' ", declaredText(in),
                                " dim ", i, " is unknown and unnamed");
      if (b.allowUnbound) {
        r.unbound.push_back(what);
        d.push_back(-1);
        continue;
      }
      missing.push_back(
          concat(what, "; give the shape with ", sp.spell(sp.shape, in.name),
                 " or the data with ", sp.spell(sp.data, in.name)));
      d.push_back(1);
    }
    r.inputs[in.name] = d;
  }
  if (!missing.empty()) {
    std::string more =
        missing.size() > 1
            ? concat(" (and ", missing.size() - 1, " more: ", missing[1],
                     missing.size() > 2 ? ", ..." : "", ")")
            : "";
    return invalid(missing[0], more);
  }
  return r;
}

std::string BindingSpelling::spell(const std::string &pattern,
                                   const std::string &name) const {
  size_t at = pattern.find("{}");
  if (at == std::string::npos)
    return pattern;
  return pattern.substr(0, at) + name + pattern.substr(at + 2);
}

Status withDefaultedDims(const Status &s, const std::string &defaulted,
                         const BindingSpelling &spelling) {
  if (s.isOk() || defaulted.empty())
    return s;
  Status r(s.code(), concat(s.message(), " (with defaulted dims ", defaulted,
                            "; bind them with ", spelling.anyDim, " or ",
                            spelling.anyShape, ")"));
  r.dependentInput = s.dependentInput;
  return r;
}

Expected<std::vector<DeclaredInput>>
onnxDeclaredInputs(const std::string &path) {
  EMBER_ASSIGN(std::string bytes, readFileBytes(path, uint64_t(1) << 31));
  return onnxDeclaredInputsFromBytes(bytes, path);
}

namespace {

// A graph input or output as declared: its element type and dims.
Expected<DeclaredInput> declaredValue(const onnx::ValueInfoProto &v,
                                      const char *what,
                                      const std::string &path) {
  DeclaredInput d;
  d.name = v.name();
  if (v.type().has_tensor_type())
    d.onnxElemType = v.type().tensor_type().elem_type();
  if (v.type().has_tensor_type() && v.type().tensor_type().has_shape()) {
    d.hasShape = true;
    for (auto &dim : v.type().tensor_type().shape().dim()) {
      DeclaredDim x;
      if (dim.has_dim_value() && dim.dim_value() < 0)
        return invalid(what, " '", d.name, "' declares a dim as ",
                       dim.dim_value(), " (", path, ")");
      if (dim.has_dim_value())
        x.value = dim.dim_value();
      else
        x.name = dim.dim_param();
      d.dims.push_back(x);
    }
  }
  return d;
}

} // namespace

Expected<std::vector<DeclaredInput>>
onnxDeclaredInputsFromBytes(const std::string &bytes, const std::string &path) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes))
    return invalid(path, ": not a valid ONNX model (protobuf parse failed)");
  std::set<std::string> inits;
  for (auto &i : m.graph().initializer())
    inits.insert(i.name());
  std::vector<DeclaredInput> out;
  for (auto &in : m.graph().input()) {
    if (inits.count(in.name()))
      continue;
    EMBER_ASSIGN(DeclaredInput d, declaredValue(in, "graph input", path));
    out.push_back(std::move(d));
  }
  return out;
}

Expected<std::vector<DeclaredInput>>
onnxDeclaredOutputsFromBytes(const std::string &bytes,
                             const std::string &path) {
  onnx::ModelProto m;
  if (!m.ParseFromString(bytes))
    return invalid(path, ": not a valid ONNX model (protobuf parse failed)");
  std::vector<DeclaredInput> out;
  for (auto &o : m.graph().output()) {
    EMBER_ASSIGN(DeclaredInput d, declaredValue(o, "graph output", path));
    out.push_back(std::move(d));
  }
  return out;
}

Status parseDimBinding(const std::string &arg, ShapeBindings &b) {
  size_t eq = arg.rfind('=');
  std::string opt = "--dim " + arg;
  if (eq == std::string::npos || eq == 0 || eq + 1 == arg.size())
    return invalid(opt, ": expected NAME=VALUE (a symbolic dim of the "
                        "model's inputs, e.g. --dim batch_size=4)");
  std::string v = arg.substr(eq + 1);
  char *end = nullptr;
  long long x = std::strtoll(v.c_str(), &end, 10);
  if (*end || x < 0 || x > (int64_t(1) << 40))
    return invalid(opt, ": '", v, "' is not a dim size");
  std::string name = arg.substr(0, eq);
  auto have = b.dims.find(name);
  if (have != b.dims.end() && have->second != x)
    return invalid(opt, " conflicts with ", b.dimOrigin[name]);
  b.dims[name] = x;
  b.dimOrigin[name] = opt;
  return Status::ok();
}

Status parseInputShapeBinding(const std::string &arg, ShapeBindings &b) {
  std::string opt = "--input-shape " + arg;
  size_t eq = arg.rfind('=');
  if (eq == std::string::npos || eq == 0)
    return invalid(opt, ": expected NAME=D0xD1x...");
  Dims d;
  std::string dims = arg.substr(eq + 1);
  size_t p = 0;
  while (!dims.empty()) {
    size_t x = dims.find('x', p);
    std::string tok = dims.substr(p, x == std::string::npos ? x : x - p);
    char *end = nullptr;
    long long v = std::strtoll(tok.c_str(), &end, 10);
    if (tok.empty() || *end || v < 0)
      return invalid(opt, ": bad dimension '", tok, "'");
    d.push_back(v);
    if (x == std::string::npos)
      break;
    p = x + 1;
  }
  b.inputs[arg.substr(0, eq)] = {d, opt};
  return Status::ok();
}

} // namespace ember
