// The Python module `ember._ember`: the C++ library bound with nanobind.
// Models load, compile and run through ember_api (the library the `ember`
// command uses), conformance cases through its runner, quantization
// through core/quant; nothing here parses a command line or starts the
// command. The Python layer (python/ember/*.py) gives it its documented
// shape (docs/python.md); this file converts and releases the GIL.
#include "Bindings.h"

#include "ember/api/Conform.h"
#include "ember/api/JUnit.h"
#include "ember/api/Profile.h"
#include "ember/api/Target.h"

#include "backend/Aot.h"
#include "backend/OpLibrary.h"
#include "backend/ShapeSpecializer.h"
#include "import/InputShapes.h"
#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "quant/Quantizer.h"

#include <nanobind/ndarray.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <mutex>
#include <sstream>

namespace nb = nanobind;
using namespace nb::literals;

namespace ember::py {

namespace {

nb::object gErrorTypes[8]; // by ErrorCode; set from Python (setErrorTypes)

} // namespace

[[noreturn]] void raise(const Status &s) {
  size_t code = size_t(s.code());
  nb::gil_scoped_acquire gil;
  if (code < 8 && gErrorTypes[code].is_valid()) {
    PyErr_SetString(gErrorTypes[code].ptr(), s.message().c_str());
    throw nb::python_error();
  }
  throw std::runtime_error(s.message());
}

namespace {

// ---- tensors ----------------------------------------------------------------

Expected<ElemKind> elemOf(nb::dlpack::dtype t) {
  using C = nb::dlpack::dtype_code;
  auto code = C(t.code);
  if (t.lanes != 1)
    return unsupported("vector dtypes (lanes ", int(t.lanes), ")");
  if (code == C::Float && t.bits == 32)
    return ElemKind::F32;
  if (code == C::Float && t.bits == 64)
    return ElemKind::F64;
  if (code == C::Float && t.bits == 16)
    return ElemKind::F16;
  if (code == C::Bfloat && t.bits == 16)
    return ElemKind::BF16;
  if (code == C::Bool)
    return ElemKind::Bool;
  if (code == C::Int) {
    switch (t.bits) {
    case 8:
      return ElemKind::I8;
    case 16:
      return ElemKind::I16;
    case 32:
      return ElemKind::I32;
    case 64:
      return ElemKind::I64;
    }
  }
  if (code == C::UInt) {
    switch (t.bits) {
    case 8:
      return ElemKind::U8;
    case 16:
      return ElemKind::U16;
    case 32:
      return ElemKind::U32;
    case 64:
      return ElemKind::U64;
    }
  }
  return unsupported("dtype code ", int(t.code), " with ", int(t.bits),
                     " bits");
}

nb::dlpack::dtype dtypeOf(ElemKind k) {
  using C = nb::dlpack::dtype_code;
  auto make = [](C c, int bits) {
    nb::dlpack::dtype d;
    d.code = uint8_t(c);
    d.bits = uint8_t(bits);
    d.lanes = 1;
    return d;
  };
  switch (k) {
  case ElemKind::F32:
    return make(C::Float, 32);
  case ElemKind::F64:
    return make(C::Float, 64);
  case ElemKind::F16:
    return make(C::Float, 16);
  case ElemKind::BF16: // NumPy has no bfloat16: its bits, as uint16
    return make(C::UInt, 16);
  case ElemKind::Bool:
    return make(C::Bool, 8);
  case ElemKind::I8:
    return make(C::Int, 8);
  case ElemKind::I16:
    return make(C::Int, 16);
  case ElemKind::I32:
    return make(C::Int, 32);
  case ElemKind::I64:
    return make(C::Int, 64);
  case ElemKind::U8:
    return make(C::UInt, 8);
  case ElemKind::U16:
    return make(C::UInt, 16);
  case ElemKind::U32:
    return make(C::UInt, 32);
  case ElemKind::U64:
    return make(C::UInt, 64);
  default:
    return make(C::UInt, 8);
  }
}

using Array = nb::ndarray<nb::ro, nb::c_contig, nb::device::cpu>;

// A borrowed tensor over a C-contiguous CPU array: no copy.
Tensor borrowArray(const std::string &name, const Array &a) {
  auto k = elemOf(a.dtype());
  if (!k)
    raise(k.status().withContext("input '" + name + "'"));
  Dims dims;
  for (size_t i = 0; i < a.ndim(); ++i)
    dims.push_back(int64_t(a.shape(i)));
  return Tensor::borrow(Type(*k, dims), const_cast<void *>(a.data()));
}

// A NumPy array owning `t` (moved to the heap): no copy.
nb::object toNumpy(Tensor &&t) {
  auto *held = new Tensor(std::move(t));
  nb::capsule owner(held,
                    [](void *p) noexcept { delete static_cast<Tensor *>(p); });
  std::vector<size_t> shape;
  for (int64_t d : held->dims())
    shape.push_back(size_t(d));
  nb::ndarray<nb::numpy> arr(held->raw(), shape.size(), shape.data(), owner,
                             nullptr, dtypeOf(held->elem()));
  return nb::cast(arr, nb::rv_policy::reference);
}

std::string elemName(ElemKind k) { return elemKindName(k); }

nb::list typeList(const std::vector<std::string> &names,
                  const std::vector<Type> &types) {
  nb::list out;
  for (size_t i = 0; i < types.size(); ++i) {
    nb::list dims;
    for (int64_t d : types[i].dims())
      dims.append(d);
    out.append(nb::make_tuple(i < names.size() ? names[i] : std::string(),
                              elemName(types[i].elem()), nb::tuple(dims)));
  }
  return out;
}

// ---- models -----------------------------------------------------------------

struct LoadSpec {
  std::map<std::string, int64_t> dims;
  std::map<std::string, std::vector<int64_t>> shapes;
};

// Messages about binding dims in the Python package's terms (never the
// command's flags): "bind it with ember.load(..., dims={'H': N})".
BindingSpelling pythonSpelling() {
  BindingSpelling s;
  s.dim = "ember.load(..., dims={'{}': N})";
  s.shape = "ember.load(..., input_shapes={'{}': (D0, D1, ...)})";
  s.data = "an array for '{}' passed to run()";
  s.anyDim = "ember.load(..., dims={NAME: N})";
  s.anyShape = "input_shapes=, or run arrays of other shapes";
  return s;
}

std::string shapeText(const std::vector<int64_t> &dims) {
  std::string s = "(";
  for (size_t i = 0; i < dims.size(); ++i)
    s += (i ? ", " : "") + std::to_string(dims[i]);
  return s + (dims.size() == 1 ? ",)" : ")");
}

ImportOptions importOptions(const LoadSpec &ls) {
  ImportOptions io;
  io.shapes.defaults = true;
  io.shapes.spelling = pythonSpelling();
  for (auto &[name, n] : ls.dims) {
    if (n < 0 || n > (int64_t(1) << 40))
      raise(invalid("dims['", name, "'] = ", n, " is not a dim size"));
    io.shapes.dims[name] = n;
    io.shapes.dimOrigin[name] =
        concat("ember.load(dims={'", name, "': ", n, "})");
  }
  for (auto &[name, dims] : ls.shapes) {
    for (int64_t d : dims)
      if (d < 0)
        raise(invalid("input_shapes['", name, "'] = ", shapeText(dims),
                      " has a negative dim"));
    io.shapes.inputs[name] = {Dims(dims.begin(), dims.end()),
                              concat("ember.load(input_shapes={'", name,
                                     "': ", shapeText(dims), "})")};
  }
  return io;
}

// (name, dtype, shape) of declared values: bound dims as ints, the others
// as their names (None for an unnamed one); the shape None when not even
// the rank is declared. `bound`: the resolved dims of inputs (-1 unbound).
nb::list declaredList(const std::vector<DeclaredInput> &vals,
                      const std::map<std::string, Dims> *bound) {
  nb::list out;
  for (auto &v : vals) {
    ElemKind k;
    std::string dtype = elemKindFromOnnx(v.onnxElemType, k)
                            ? elemKindName(k)
                            : concat("onnx:", v.onnxElemType);
    const Dims *b = nullptr;
    if (bound && bound->count(v.name))
      b = &bound->at(v.name);
    if (!v.hasShape && !b) {
      out.append(nb::make_tuple(v.name, dtype, nb::none()));
      continue;
    }
    nb::list dims;
    size_t rank = b ? b->size() : v.dims.size();
    for (size_t i = 0; i < rank; ++i) {
      int64_t d = b ? (*b)[i] : v.dims[i].value;
      if (d >= 0)
        dims.append(d);
      else if (i < v.dims.size() && !v.dims[i].name.empty())
        dims.append(v.dims[i].name);
      else
        dims.append(nb::none());
    }
    out.append(nb::make_tuple(v.name, dtype, nb::tuple(dims)));
  }
  return out;
}

class Model {
public:
  Model(std::string path, LoadSpec ls) : path_(std::move(path)), spec_(ls) {
    io_ = importOptions(ls);
    std::vector<std::string> notes;
    Expected<std::unique_ptr<Module>> m = [&] {
      nb::gil_scoped_release nogil;
      return api::loadModel(path_, io_, &notes);
    }();
    if (m) {
      module_ = std::move(*m);
      notes_ = notes;
      return;
    }
    // A model whose dims only its runs' arrays can bind imports at run
    // time (Compiled::run, per shape set); any other failure is the
    // import's error, as the command reports it.
    if (!api::isOnnxPath(path_) || !describeSymbolic())
      raise(m.status());
  }

  const std::string &path() const { return path_; }
  const std::vector<std::string> &notes() const { return notes_; }
  const LoadSpec &spec() const { return spec_; }
  const ImportOptions &importOpts() const { return io_; }
  // The dims no binding fixes (one line each); empty for a static model.
  const std::vector<std::string> &unbound() const { return unbound_; }
  const std::vector<DeclaredInput> &declaredInputs() const {
    return declaredIns_;
  }
  const std::vector<DeclaredInput> &declaredOutputs() const {
    return declaredOuts_;
  }
  const std::map<std::string, Dims> &boundInputs() const { return boundIns_; }

  // The graph IR text at a stage: "imported", "graph" (after the passes,
  // as `ember compile --emit=graph`) or "lowered".
  std::string text(const std::string &stage, bool elide) const {
    if (stage != "imported" && stage != "graph" && stage != "lowered")
      raise(invalid("unknown stage '", stage,
                    "' (expected imported, graph or lowered)"));
    nb::gil_scoped_release nogil;
    std::vector<std::string> notes;
    auto m = api::loadModel(path_, io_, &notes);
    if (!m)
      raise(m.status());
    if (stage != "imported") {
      PipelineOptions po;
      po.lower = stage == "lowered";
      Status s = runPipeline(**m, po);
      if (!s.isOk())
        raise(s);
    }
    std::ostringstream os;
    PrintOptions popt;
    popt.elideConstantsAbove = elide ? 16 : 0;
    printModule(os, **m, popt);
    return os.str();
  }

  nb::list inputs() const {
    if (!module_)
      return declaredList(declaredIns_, &boundIns_);
    const Function &f = *module_->main();
    std::vector<std::string> names;
    std::vector<Type> types;
    for (Node *p : f.params()) {
      names.push_back(p->outNames[0]);
      types.push_back(p->types[0]);
    }
    return typeList(names, types);
  }
  nb::list outputs() const {
    if (!module_)
      return declaredList(declaredOuts_, nullptr);
    const Function &f = *module_->main();
    std::vector<std::string> names;
    std::vector<Type> types;
    for (auto &o : f.outputs()) {
      names.push_back(o.name);
      types.push_back(o.value.type());
    }
    return typeList(names, types);
  }

private:
  // An ONNX model some of whose dims nothing binds: its declared inputs
  // and outputs, the dims load binds (-1 for the others). False when every
  // dim is bound (the import failed for another reason).
  bool describeSymbolic() {
    auto bytes = readFileBytes(path_, uint64_t(INT32_MAX));
    if (!bytes)
      return false;
    auto ins = onnxDeclaredInputsFromBytes(*bytes, path_);
    auto outs = onnxDeclaredOutputsFromBytes(*bytes, path_);
    if (!ins || !outs)
      return false;
    ShapeBindings b = io_.shapes;
    b.allowUnbound = true;
    auto r = resolveInputShapes(*ins, b);
    if (!r || r->unbound.empty())
      return false;
    declaredIns_ = std::move(*ins);
    declaredOuts_ = std::move(*outs);
    boundIns_ = r->inputs;
    unbound_ = r->unbound;
    notes_ = r->notes;
    return true;
  }

  std::string path_;
  LoadSpec spec_;
  ImportOptions io_;
  std::unique_ptr<Module> module_; // null: dims bound per run
  std::vector<std::string> notes_;
  std::vector<DeclaredInput> declaredIns_, declaredOuts_;
  std::map<std::string, Dims> boundIns_;
  std::vector<std::string> unbound_;
};

struct CompileSpec {
  std::string target = "interp", fallback;
  std::optional<uint32_t> optLevel, threads;
  std::optional<double> timeout;
  uint32_t profile = 0;
  std::map<std::string, std::string> backendOpts;
  std::vector<std::string> skipPasses;
  std::string artifactCache;
  size_t maxVariants = 8; // shape sets kept compiled (least recently used go)
};

class Compiled {
public:
  Compiled(const Model &m, const CompileSpec &cs) : cs_(cs) {
    if (std::string e = api::checkTargetSpelling(cs.target); !e.empty())
      raise(invalid(e, " (target '", cs.target, "')"));
    if (!cs.fallback.empty() && cs.fallback != "none")
      if (std::string e = api::checkTargetSpelling(cs.fallback); !e.empty())
        raise(invalid("fallback '", cs.fallback, "': ", e));
    api::TargetOptions t;
    t.target = cs.target;
    t.fallback = cs.fallback;
    if (cs.optLevel) {
      if (*cs.optLevel > 3)
        raise(invalid("opt_level ", *cs.optLevel, " is not 0 to 3"));
      t.compile.optLevel = *cs.optLevel;
    }
    if (cs.threads) {
      if (*cs.threads < 1 || *cs.threads > 256)
        raise(invalid("threads ", *cs.threads, " is not 1 to 256"));
      t.compile.numThreads = *cs.threads;
    }
    t.compile.vendor = cs.backendOpts;
    t.compile.profileLevel = cs.profile;
    t.timeout = cs.timeout;
    for (auto &p : cs.skipPasses) {
      if (!findPass(p))
        raise(invalid("unknown pass '", p, "' (docs/passes.md)"));
      t.skipPasses.push_back(p);
    }
    path_ = m.path();
    nb::gil_scoped_release nogil;
    api::applyTimeout(t);
    Status s = api::checkTarget(t.target);
    if (!s.isOk())
      raise(s);
    auto tgt = api::openTarget(t);
    if (!tgt)
      raise(tgt.status());
    target_ = std::move(*tgt);
    target_.artifactCacheDir = cs.artifactCache;
    PipelineOptions po = t.pipeline();
    po.requant = target_.requant;       // the plugin's requantization profile
    po.keepCustom = target_.keepCustom; // custom ops the plugin claims
    if (api::isOnnxPath(path_)) {
      backend::SpecializerOptions so;
      so.import = m.importOpts();
      so.pipeline = po;
      so.plugin = target_.plugin;
      so.executor = api::executorOptions(target_);
      so.maxVariants = cs.maxVariants;
      auto sp = backend::ShapeSpecializer::open(path_, so);
      if (!sp)
        raise(sp.status());
      spec_ = std::move(*sp);
      if (!m.unbound().empty()) {
        // Dims only the arrays of a run bind: each new shape set compiles
        // its variant in run().
        unbound_ = m.unbound();
        declaredIns_ = m.declaredInputs();
        declaredOuts_ = m.declaredOutputs();
        boundIns_ = m.boundInputs();
        return;
      }
      std::vector<std::string> notes;
      auto types = spec_->typesFor(m.importOpts().shapes, &notes);
      if (!types)
        raise(types.status().withContext(path_));
      auto v = spec_->prepare(*types);
      if (!v)
        raise(v.status());
      variant_ = *v;
      s = api::checkPlacement(target_,
                              backend::ShapeSpecializer::executable(*variant_),
                              backend::ShapeSpecializer::function(*variant_));
      if (!s.isOk())
        raise(s);
    } else {
      auto mod = api::loadModel(path_, m.importOpts());
      if (!mod)
        raise(mod.status());
      module_ = std::move(*mod);
      s = runPipeline(*module_, po);
      if (!s.isOk())
        raise(s);
      auto c = api::CompiledModel::create(target_, *module_->main());
      if (!c)
        raise(c.status());
      compiled_ = std::move(*c);
    }
  }

  const Function &function() const {
    return variant_ ? backend::ShapeSpecializer::function(*variant_)
                    : *module_->main();
  }
  backend::PartitionedExecutable *executable() const {
    if (variant_)
      return backend::ShapeSpecializer::executable(*variant_);
    return compiled_ ? compiled_->partitioned() : nullptr;
  }
  // Nothing compiled yet: the model's dims wait for a run's arrays.
  bool waiting() const { return !variant_ && !compiled_; }
  Status notCompiledYet(const std::string &what) const {
    std::string dims;
    for (auto &u : unbound_)
      dims += (dims.empty() ? "" : ", ") + u;
    return invalid(what,
                   " needs a compiled shape set: run() the model first "
                   "(its arrays bind ",
                   dims, ")");
  }

  std::vector<std::string> inputNames() const {
    std::vector<std::string> n;
    for (Node *p : function().params())
      n.push_back(p->outNames[0]);
    return n;
  }

  nb::list inputs() const {
    if (waiting())
      return declaredList(declaredIns_, &boundIns_);
    std::vector<Type> types;
    for (Node *p : function().params())
      types.push_back(p->types[0]);
    return typeList(inputNames(), types);
  }
  nb::list outputs() const {
    if (waiting())
      return declaredList(declaredOuts_, nullptr);
    std::vector<std::string> names;
    std::vector<Type> types;
    for (auto &o : function().outputs()) {
      names.push_back(o.name);
      types.push_back(o.value.type());
    }
    return typeList(names, types);
  }

  // Inputs by name, every one given; outputs by name (NumPy arrays over
  // the results' storage).
  nb::dict run(nb::dict feed) {
    if (names_.empty() && !feedNamesReady_) {
      names_ = spec_ ? spec_->inputNames() : inputNames();
      for (auto &n : names_)
        keys_.push_back(nb::str(n.c_str()));
      feedNamesReady_ = true;
    }
    std::vector<Tensor> inputs;
    inputs.reserve(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) {
      PyObject *v = PyDict_GetItem(feed.ptr(), keys_[i].ptr());
      if (!v) {
        std::string all;
        for (auto &x : names_)
          all += (all.empty() ? "" : ", ") + x;
        raise(invalid("input '", names_[i],
                      "' is missing (the model's inputs: ", all, ")"));
      }
      Array arr;
      if (!nb::try_cast(nb::handle(v), arr, false))
        raise(
            invalid("input '", names_[i], "' is not a C-contiguous CPU array"));
      inputs.push_back(borrowArray(names_[i], arr));
    }
    if (feed.size() != names_.size())
      for (auto [k, v] : feed) {
        std::string n = nb::cast<std::string>(nb::str(k));
        if (std::find(names_.begin(), names_.end(), n) == names_.end())
          raise(
              invalid("'", n, "' is not an input of the model (", path_, ")"));
      }
    Expected<std::vector<Tensor>> outs = [&] {
      nb::gil_scoped_release nogil;
      std::lock_guard<std::mutex> lock(mutex_);
      if (spec_) {
        // A new shape set compiles a variant first (cached); the last one
        // is kept at hand.
        bool same = lastTypes_.size() == inputs.size();
        for (size_t i = 0; same && i < inputs.size(); ++i)
          same = inputs[i].type() == lastTypes_[i];
        if (!same) {
          std::vector<Type> types;
          for (auto &t : inputs)
            types.push_back(t.type());
          auto v = spec_->prepare(types);
          if (!v)
            return Expected<std::vector<Tensor>>(v.status());
          Status placed = api::checkPlacement(
              target_, backend::ShapeSpecializer::executable(**v),
              backend::ShapeSpecializer::function(**v));
          if (!placed.isOk())
            return Expected<std::vector<Tensor>>(placed);
          variant_ = *v;
          lastTypes_ = std::move(types);
        }
        return spec_->run(*variant_, inputs);
      }
      auto bound = checkTypes(inputs);
      if (!bound.isOk())
        return Expected<std::vector<Tensor>>(bound);
      return compiled_->run(inputs);
    }();
    if (!outs)
      raise(outs.status());
    nb::dict d;
    const Function &f = function();
    for (size_t i = 0; i < outs->size(); ++i)
      d[nb::str(f.outputs()[i].name.c_str())] = toNumpy(std::move((*outs)[i]));
    return d;
  }

  Status checkTypes(const std::vector<Tensor> &inputs) const {
    const Function &f = *module_->main();
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i].type() != f.params()[i]->types[0])
        return invalid("input '", f.params()[i]->outNames[0], "' is ",
                       inputs[i].type().toString(), " but the model expects ",
                       f.params()[i]->types[0].toString());
    return Status::ok();
  }

  std::string summary() const {
    if (variant_)
      return backend::ShapeSpecializer::summary(*variant_);
    return compiled_ ? compiled_->summary() : std::string();
  }

  // One dict per shape set compiled so far, in order: its number, the
  // named dims, the input shapes, the compile time, whether it is still
  // cached, the import notes.
  nb::list variants() const {
    nb::list out;
    if (!spec_)
      return out;
    std::vector<size_t> cached = spec_->cachedNumbers();
    std::vector<std::string> names = spec_->inputNames();
    for (const backend::Specialization &v : spec_->history()) {
      nb::dict d;
      d["number"] = v.number;
      nb::dict dims;
      for (auto &[name, n] : v.dims)
        dims[nb::str(name.c_str())] = n;
      d["dims"] = dims;
      d["inputs"] = typeList(names, v.inputTypes);
      d["compile_ms"] = v.compileMs;
      d["cached"] =
          std::find(cached.begin(), cached.end(), v.number) != cached.end();
      d["notes"] = v.notes;
      out.append(d);
    }
    return out;
  }

  nb::dict cacheInfo() const {
    nb::dict d;
    const backend::ShapeSpecializer::Stats none;
    const auto &st = spec_ ? spec_->stats() : none;
    d["compiles"] = st.compiles;
    d["hits"] = st.hits;
    d["evictions"] = st.evictions;
    d["cached"] = spec_ ? spec_->cachedNumbers().size() : size_t(0);
    d["max_variants"] = spec_ ? spec_->maxVariants() : size_t(0);
    return d;
  }

  // Per partition of the last run: where it ran, its nodes, wall time and
  // the host addresses the plugin used in place.
  nb::list partitions() const {
    nb::list out;
    auto *x = executable();
    if (!x)
      return out;
    const auto &runs = x->lastRun();
    for (size_t i = 0; i < x->plan().parts.size(); ++i) {
      const auto &p = x->plan().parts[i];
      nb::dict d;
      d["on_plugin"] = p.onPlugin;
      d["nodes"] = p.nodes.size();
      nb::list imported;
      if (i < runs.size()) {
        d["wall_ms"] = runs[i].wallMs;
        for (const void *a : runs[i].imported)
          imported.append(uintptr_t(a));
      }
      d["imported"] = imported;
      out.append(d);
    }
    return out;
  }

  nb::object profile() const {
    auto *x = executable();
    if (!x)
      return nb::none();
    api::ProfileTotals t = api::profileTotals(*x);
    if (t.device.empty())
      return nb::none();
    nb::dict d;
    d["device"] = t.device;
    d["executor"] = t.executor;
    d["timed"] = t.timed;
    d["cycles"] = uint64_t(t.cycles);
    d["mac_util"] = t.macUtil;
    d["dma_bytes"] = uint64_t(t.dmaBytes);
    d["overlap"] = t.overlap;
    d["mac_share"] = t.macShare;
    d["counters"] = t.counters;
    d["summary"] = api::profileSummary(*x);
    nb::list layers;
    for (auto &r : api::profileLayers(*x)) {
      nb::dict l;
      l["partition"] = r.partition;
      l["name"] = r.name;
      l["op"] = r.op;
      l["detail"] = r.detail;
      for (auto &[k, v] : r.values)
        l[nb::str(k.c_str())] = v;
      layers.append(l);
    }
    d["layers"] = layers;
    nb::dict trace;
    for (auto &s : api::profileSlices(*x)) {
      nb::str track(s.track.c_str());
      if (!trace.contains(track))
        trace[track] = nb::list();
      nb::dict e;
      e["name"] = s.name;
      e["category"] = s.category;
      e["start"] = s.offset + s.start;
      e["duration"] = s.duration;
      e["partition"] = s.partition;
      nb::list(trace[track]).append(e);
    }
    d["trace"] = trace;
    return d;
  }

  std::string report() const {
    auto *x = executable();
    if (!x)
      return "";
    std::ostringstream os;
    api::printProfileReport(os, *x);
    return os.str();
  }

  void writeTrace(const std::string &path) const {
    auto *x = executable();
    if (!x && waiting())
      raise(notCompiledYet("a trace"));
    if (!x)
      raise(invalid("a trace needs a plugin target (target '", cs_.target,
                    "' runs on the interpreter)"));
    Status s = api::writeProfileTrace(path, *x);
    if (!s.isOk())
      raise(s);
  }

  std::vector<std::string> emit(const std::string &format) {
    auto *x = executable();
    if (!x && waiting())
      raise(notCompiledYet("emit"));
    if (!x)
      raise(invalid("emit needs a plugin target"));
    Expected<std::vector<std::string>> t = [&] {
      nb::gil_scoped_release nogil;
      return x->emit(format);
    }();
    if (!t)
      raise(t.status());
    return *t;
  }

  const CompileSpec &spec() const { return cs_; }

private:
  CompileSpec cs_;
  std::string path_;
  api::Target target_;
  std::unique_ptr<backend::ShapeSpecializer> spec_;
  backend::ShapeSpecializer::Variant *variant_ = nullptr;
  std::unique_ptr<Module> module_;
  std::unique_ptr<api::CompiledModel> compiled_;
  std::mutex mutex_;
  // The inputs' names (and as Python strings), and the input types of the
  // last run (its variant needs no lookup).
  std::vector<std::string> names_;
  std::vector<nb::str> keys_;
  bool feedNamesReady_ = false;
  std::vector<Type> lastTypes_;
  // A model whose dims its runs bind: what it declares until then.
  std::vector<std::string> unbound_;
  std::vector<DeclaredInput> declaredIns_, declaredOuts_;
  std::map<std::string, Dims> boundIns_;
};

// ---- conformance ----------------------------------------------------------

struct ConformSpec {
  CompileSpec target;
  double rtol = 1e-3, atol = 1e-7, quanta = 0;
  bool lower = true, lir = false, freeze = true, isolate = true;
  int jobs = 1;
  size_t shardIndex = 0, shardCount = 0;
  std::map<std::string, int64_t> dims;
  std::string junit;
  bool fallbackGiven = false;
};

nb::dict conform(const std::vector<std::string> &paths, const ConformSpec &cs) {
  api::ConformOptions o;
  o.rtol = cs.rtol;
  o.atol = cs.atol;
  o.quanta = cs.quanta;
  o.lower = cs.lower;
  o.lir = cs.lir;
  o.freeze = cs.freeze;
  if (o.lir && !o.lower)
    raise(invalid("lir needs lowering (lower=True)"));
  if (o.lir && cs.target.target != "interp")
    raise(invalid("lir runs the LIR interpreter: use it with target "
                  "'interp'"));
  if (paths.empty())
    raise(invalid("conform needs at least one path"));
  api::TargetOptions t;
  t.target = cs.target.target;
  t.fallback = cs.target.fallback;
  // As `ember conform`: a plugin passes only what it runs itself, unless a
  // fallback is named; npu-sim's unclaimed nodes run on cpu.
  if (!cs.fallbackGiven)
    t.fallback = t.target == "npu-sim" ? "" : "none";
  if (cs.target.optLevel)
    t.compile.optLevel = *cs.target.optLevel;
  if (cs.target.threads)
    t.compile.numThreads = *cs.target.threads;
  t.compile.vendor = cs.target.backendOpts;
  t.timeout = cs.target.timeout;
  t.skipPasses = cs.target.skipPasses;
  o.pipeline = t.pipeline();
  for (auto &[name, n] : cs.dims) {
    Status s = parseDimBinding(concat(name, "=", n), o.shapes);
    if (!s.isOk())
      raise(s);
  }
  o.shapes.defaults = true;
  if (std::string e = api::checkTargetSpelling(t.target); !e.empty())
    raise(invalid(e, " (target '", t.target, "')"));
  std::vector<api::ConformCase> cases;
  std::vector<api::ConformResult> results;
  api::ShardInfo shard;
  {
    nb::gil_scoped_release nogil;
    double callLimit = 0;
    api::applyTimeout(t, &callLimit);
    if (callLimit > 0)
      o.timeoutSec = std::max(600, int(2 * callLimit) + 60);
    Status s = api::checkTarget(t.target);
    if (!s.isOk())
      raise(s);
    auto rt = api::openTarget(t);
    if (!rt)
      raise(rt.status());
    o.runtime = std::move(*rt);
    o.pipeline.requant = o.runtime.requant;
    o.pipeline.keepCustom = o.runtime.keepCustom;
    for (auto &p : paths) {
      size_t before = cases.size();
      api::collectConformCases(p, cases);
      if (cases.size() == before)
        raise(invalid("no test cases found in '", p,
                      "' (expected model.onnx with test_data_set_*/ "
                      "folders)"));
    }
    if (cs.shardCount) {
      shard = {cs.shardIndex, cs.shardCount, cases.size()};
      cases = api::shardCases(cases, cs.shardIndex, cs.shardCount);
    }
    results = api::runConformCases(cases, o, cs.jobs, cs.isolate);
  }
  if (!cs.junit.empty()) {
    std::string xml =
        api::junitReport("ember-conform-" + t.target, cases, results, shard);
    Status s = backend::writeFileBytes(cs.junit, xml);
    if (!s.isOk())
      raise(s);
  }
  nb::list out;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto &r = results[i];
    nb::dict d;
    d["name"] = cases[i].name;
    d["model"] = cases[i].model;
    d["status"] = r.status;
    d["reason"] = r.reason;
    d["seconds"] = r.seconds;
    if (r.mismatch.output >= 0) {
      nb::dict m;
      m["output"] = r.mismatch.output;
      m["output_name"] = r.mismatch.outputName;
      m["data_set"] = r.mismatch.dataSet;
      m["element"] = r.mismatch.element;
      m["got"] = r.mismatch.got;
      m["expected"] = r.mismatch.expected;
      d["mismatch"] = m;
    } else {
      d["mismatch"] = nb::none();
    }
    out.append(d);
  }
  nb::dict res;
  res["cases"] = out;
  res["target"] = t.target;
  res["shard"] = cs.shardCount
                     ? nb::cast(nb::make_tuple(cs.shardIndex, cs.shardCount))
                     : nb::none();
  res["total_cases"] = shard.count ? shard.totalCases : cases.size();
  return res;
}

std::string mergeJUnit(const std::vector<std::string> &files) {
  std::vector<std::string> texts;
  for (auto &f : files) {
    auto b = readFileBytes(f, uint64_t(1) << 31);
    if (!b)
      raise(b.status());
    texts.push_back(std::move(*b));
  }
  auto m = api::mergeJUnitReports(files, texts);
  if (!m)
    raise(m.status());
  return *m;
}

// ---- quantization ---------------------------------------------------------

std::string quantize(const std::string &model, const std::string &output,
                     const std::string &calibration, const std::string &profile,
                     const std::string &profileOut, const std::string &method,
                     std::optional<double> percentile, bool perChannel,
                     const std::string &activationType,
                     const std::vector<std::string> &keepFloat, bool equalize,
                     bool biasCorrection, const std::string &refine,
                     size_t maxSamples, bool report,
                     std::optional<double> targetSqnr,
                     const std::string &target,
                     std::optional<uint32_t> threads) {
  quant::QuantizeOptions o;
  o.model = model;
  o.output = output;
  o.calibrationDir = calibration;
  o.profileIn = profile;
  o.profileOut = profileOut;
  auto m = quant::methodFromName(method);
  if (!m)
    raise(m.status());
  o.method = *m;
  if (percentile) {
    if (!(*percentile > 50 && *percentile <= 100))
      raise(invalid("percentile ", *percentile, " is not in (50, 100]"));
    o.methodOptions.percentile = *percentile;
  }
  o.perChannel = perChannel;
  if (activationType == "uint8")
    o.activationType = ElemKind::U8;
  else if (activationType == "int8")
    o.activationType = ElemKind::I8;
  else
    raise(
        invalid("activation_type '", activationType, "' is not uint8 or int8"));
  o.keepFloat = keepFloat;
  o.equalize = equalize;
  o.biasCorrection = biasCorrection;
  if (refine != "none" && refine != "ranges" && refine != "bias" &&
      refine != "all" && refine != "auto")
    raise(invalid("refine '", refine,
                  "' is not auto, none, ranges, bias or all"));
  o.refineGiven = refine != "auto";
  o.refineRanges = refine == "ranges" || refine == "all" || refine == "auto";
  o.refineBias = refine == "bias" || refine == "all";
  o.maxSamples = maxSamples;
  o.report = report;
  if (targetSqnr) {
    if (*targetSqnr <= 0)
      raise(invalid("target_sqnr must be a positive number of dB"));
    o.targetSqnr = *targetSqnr;
  }
  if (o.output.empty())
    raise(invalid("quantize needs an output path"));
  if (o.calibrationDir.empty() && o.profileIn.empty())
    raise(invalid("quantize needs calibration (a folder) or profile (a "
                  "saved profile)"));
  if (o.output == o.model)
    raise(invalid("the output must not overwrite the input model"));
  api::TargetOptions t;
  t.target =
      target.empty() ? (api::pluginPathFor("cpu") ? "cpu" : "interp") : target;
  t.fallback = "interp";
  if (threads)
    o.run.numThreads = *threads;
  std::ostringstream log;
  o.log = &log;
  nb::gil_scoped_release nogil;
  Status s = api::checkTarget(t.target);
  if (!s.isOk())
    raise(s);
  auto tgt = api::openTarget(t);
  if (!tgt)
    raise(tgt.status());
  o.run.plugin = tgt->plugin;
  s = quant::quantizeModel(o);
  if (!s.isOk())
    raise(s);
  return log.str();
}

} // namespace

} // namespace ember::py

using namespace ember;
using namespace ember::py;

NB_MODULE(_ember, m) {
  m.doc() = "Ember's C++ library (import, passes, lowering, targets, "
            "conformance, quantization, the example NPU's simulator). Use "
            "the `ember` package, which wraps it.";
  m.attr("__version__") = EMBER_VERSION;

  m.def("_set_error_types", [](nb::list types) {
    for (size_t i = 0; i < 8 && i < types.size(); ++i)
      gErrorTypes[i] = types[i];
  });
  m.def("_set_plugin_dir", &api::setPluginDir);
  // Op libraries (docs/custom-ops.md): loaded once per process, by path.
  m.def("_load_op_libraries", [](const std::vector<std::string> &paths) {
    Status s = backend::loadOpLibraries(paths);
    if (!s.isOk())
      raise(s);
  });
  m.def("plugin_dir", &api::pluginDir);
  m.def("plugin_path", [](const std::string &target) {
    auto p = api::pluginPathFor(target);
    if (!p)
      raise(p.status());
    return *p;
  });

  nb::class_<LoadSpec>(m, "_LoadSpec")
      .def(nb::init<>())
      .def_rw("dims", &LoadSpec::dims)
      .def_rw("shapes", &LoadSpec::shapes);
  nb::class_<Model>(m, "_Model")
      .def(nb::init<std::string, LoadSpec>())
      .def_prop_ro("path", &Model::path)
      .def_prop_ro("notes", &Model::notes)
      .def_prop_ro("unbound", &Model::unbound)
      .def_prop_ro("inputs", &Model::inputs)
      .def_prop_ro("outputs", &Model::outputs)
      .def("text", &Model::text, "stage"_a = "graph", "elide"_a = false);

  nb::class_<CompileSpec>(m, "_CompileSpec")
      .def(nb::init<>())
      .def_rw("target", &CompileSpec::target)
      .def_rw("fallback", &CompileSpec::fallback)
      .def_rw("opt_level", &CompileSpec::optLevel)
      .def_rw("threads", &CompileSpec::threads)
      .def_rw("timeout", &CompileSpec::timeout)
      .def_rw("profile", &CompileSpec::profile)
      .def_rw("backend_opts", &CompileSpec::backendOpts)
      .def_rw("skip_passes", &CompileSpec::skipPasses)
      .def_rw("artifact_cache", &CompileSpec::artifactCache)
      .def_rw("max_variants", &CompileSpec::maxVariants);
  nb::class_<Compiled>(m, "_Compiled")
      .def(nb::init<const Model &, const CompileSpec &>())
      .def_prop_ro("inputs", &Compiled::inputs)
      .def_prop_ro("outputs", &Compiled::outputs)
      .def_prop_ro("summary", &Compiled::summary)
      .def_prop_ro("partitions", &Compiled::partitions)
      .def_prop_ro("variants", &Compiled::variants)
      .def("cache_info", &Compiled::cacheInfo)
      .def("run", &Compiled::run)
      .def("profile", &Compiled::profile)
      .def("report", &Compiled::report)
      .def("write_trace", &Compiled::writeTrace)
      .def("emit", &Compiled::emit);

  nb::class_<ConformSpec>(m, "_ConformSpec")
      .def(nb::init<>())
      .def_rw("target", &ConformSpec::target)
      .def_rw("rtol", &ConformSpec::rtol)
      .def_rw("atol", &ConformSpec::atol)
      .def_rw("quanta", &ConformSpec::quanta)
      .def_rw("lower", &ConformSpec::lower)
      .def_rw("lir", &ConformSpec::lir)
      .def_rw("freeze", &ConformSpec::freeze)
      .def_rw("isolate", &ConformSpec::isolate)
      .def_rw("jobs", &ConformSpec::jobs)
      .def_rw("shard_index", &ConformSpec::shardIndex)
      .def_rw("shard_count", &ConformSpec::shardCount)
      .def_rw("dims", &ConformSpec::dims)
      .def_rw("junit", &ConformSpec::junit)
      .def_rw("fallback_given", &ConformSpec::fallbackGiven);
  m.def("_conform", &conform);
  m.def("_parse_shard", [](const std::string &s) {
    size_t i = 0, n = 0;
    Status st = api::parseShard(s, i, n);
    if (!st.isOk())
      raise(st);
    return std::make_pair(i, n);
  });
  m.def("_merge_junit", &mergeJUnit);
  m.def("_quantize", &quantize);

  bindNpu(m);
}
