#include "backend/ShapeSpecializer.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"

#include <algorithm>
#include <chrono>

namespace ember::backend {

struct ShapeSpecializer::Variant {
  // Declared in this order so the executable (which points into the
  // module) is released first.
  std::unique_ptr<Module> module;
  std::unique_ptr<PartitionedExecutable> exe; // null: the interpreter
  Specialization info;
  uint64_t lastUse = 0;
};

std::string
Specialization::describe(const std::vector<std::string> &inputNames) const {
  std::string s;
  for (auto &[name, v] : dims)
    s += concat(s.empty() ? "" : " ", name, "=", v);
  std::string ins;
  for (size_t i = 0; i < inputTypes.size(); ++i)
    ins += concat(i ? ", " : "", i < inputNames.size() ? inputNames[i] : "?",
                  " ", inputTypes[i].toString());
  return s.empty() ? ins : s + " (" + ins + ")";
}

ShapeSpecializer::~ShapeSpecializer() = default;

Expected<std::unique_ptr<ShapeSpecializer>>
ShapeSpecializer::open(const std::string &onnxPath, SpecializerOptions o) {
  std::unique_ptr<ShapeSpecializer> s(new ShapeSpecializer());
  s->path_ = onnxPath;
  s->o_ = std::move(o);
  EMBER_ASSIGN(s->bytes_, readFileBytes(onnxPath, uint64_t(INT32_MAX)));
  size_t slash = onnxPath.find_last_of('/');
  s->baseDir_ = slash == std::string::npos ? "." : onnxPath.substr(0, slash);
  EMBER_ASSIGN(auto declared, onnxDeclaredInputsFromBytes(s->bytes_, onnxPath));
  for (auto &d : declared)
    if (!s->o_.import.frozenInputs.count(d.name))
      s->inputs_.push_back(d);
  if (s->o_.maxVariants == 0)
    s->o_.maxVariants = 1;
  return s;
}

std::vector<std::string> ShapeSpecializer::inputNames() const {
  std::vector<std::string> v;
  for (auto &in : inputs_)
    v.push_back(in.name);
  return v;
}

bool ShapeSpecializer::hasSymbolicDims() const {
  for (auto &in : inputs_) {
    if (!in.hasShape)
      return true;
    for (auto &d : in.dims)
      if (!d.isStatic())
        return true;
  }
  return false;
}

const Function &ShapeSpecializer::function(const Variant &v) {
  return *v.module->main();
}

const Specialization &ShapeSpecializer::info(const Variant &v) {
  return v.info;
}

PartitionedExecutable *ShapeSpecializer::executable(Variant &v) {
  return v.exe.get();
}

std::string ShapeSpecializer::summary(const Variant &v) {
  if (!v.exe)
    return std::string();
  auto &plan = v.exe->plan();
  size_t onPlugin = 0;
  for (auto &p : plan.parts)
    onPlugin += p.onPlugin;
  return concat(
      "partitions=", plan.parts.size(), " plugin_partitions=", onPlugin,
      " plugin_nodes=", plan.support.count(),
      " fallback_nodes=", plan.support.supported.size() - plan.support.count());
}

Expected<ShapeSpecializer::Variant *>
ShapeSpecializer::prepare(const std::vector<Type> &inputTypes) {
  if (inputTypes.size() != inputs_.size())
    return invalid(path_, ": the model takes ", inputs_.size(),
                   " inputs, the run gives ", inputTypes.size());
  std::vector<Dims> key;
  for (size_t i = 0; i < inputTypes.size(); ++i) {
    ElemKind k;
    if (elemKindFromOnnx(inputs_[i].onnxElemType, k) &&
        k != inputTypes[i].elem())
      return invalid("input '", inputs_[i].name, "' is ",
                     inputTypes[i].toString(), " but the model expects ",
                     elemKindName(k), " (", path_, ")");
    key.push_back(inputTypes[i].dims());
  }
  auto it = variants_.find(key);
  if (it != variants_.end()) {
    ++stats_.hits;
    it->second->lastUse = ++clock_;
    return it->second.get();
  }

  // A new shape set: bind every input's dims, import, optimize, lower and
  // compile for it.
  auto t0 = std::chrono::steady_clock::now();
  ImportOptions io = o_.import;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    const std::string &nm = inputs_[i].name;
    io.shapes.inputs[nm] = {key[i], concat("the run's input '", nm, "' (",
                                           inputTypes[i].toString(), ")")};
    io.inputShapes.erase(nm);
  }
  auto v = std::make_unique<Variant>();
  EMBER_ASSIGN(ResolvedShapes r, resolveInputShapes(inputs_, io.shapes));
  v->info.dims = r.dims;
  ImportStats istats;
  auto m = importOnnxBytes(bytes_, baseDir_, io, &istats);
  if (!m)
    return m.status().withContext(path_);
  v->module = std::move(*m);
  EMBER_TRY(runPipeline(*v->module, o_.pipeline));
  if (o_.plugin) {
    EMBER_ASSIGN(v->exe, PartitionedExecutable::create(*v->module->main(),
                                                       o_.plugin, o_.executor));
  }
  v->info.number = ++stats_.compiles;
  v->info.inputTypes = inputTypes;
  v->info.notes = std::move(istats.notes);
  v->info.compileMs = std::chrono::duration<double, std::milli>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
  stats_.compileMs += v->info.compileMs;
  history_.push_back(v->info);
  v->lastUse = ++clock_;
  Variant *out = v.get();
  variants_.emplace(key, std::move(v));
  while (variants_.size() > o_.maxVariants) {
    auto lru = variants_.end();
    for (auto x = variants_.begin(); x != variants_.end(); ++x)
      if (x->second.get() != out &&
          (lru == variants_.end() || x->second->lastUse < lru->second->lastUse))
        lru = x;
    variants_.erase(lru);
    ++stats_.evictions;
  }
  if (onSpecialize)
    onSpecialize(out->info);
  return out;
}

std::vector<size_t> ShapeSpecializer::cachedNumbers() const {
  std::vector<size_t> v;
  for (auto &[key, variant] : variants_)
    v.push_back(variant->info.number);
  std::sort(v.begin(), v.end());
  return v;
}

Expected<std::vector<Tensor>>
ShapeSpecializer::run(const std::vector<Tensor> &inputs) {
  std::vector<Type> types;
  for (auto &t : inputs)
    types.push_back(t.type());
  EMBER_ASSIGN(Variant * v, prepare(types));
  return run(*v, inputs);
}

Expected<std::vector<Tensor>>
ShapeSpecializer::run(Variant &v, const std::vector<Tensor> &inputs) {
  if (inputs.size() != v.info.inputTypes.size())
    return invalid("the variant takes ", v.info.inputTypes.size(),
                   " inputs, the run gives ", inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i)
    if (inputs[i].type() != v.info.inputTypes[i])
      return invalid("input '", inputs_[i].name, "' is ",
                     inputs[i].type().toString(),
                     ", the variant was compiled "
                     "for ",
                     v.info.inputTypes[i].toString());
  if (v.exe)
    return v.exe->run(inputs);
  return interpret(*v.module->main(), inputs);
}

Expected<std::vector<Type>>
ShapeSpecializer::typesFor(const ShapeBindings &b,
                           std::vector<std::string> *notes,
                           std::string *defaulted) {
  EMBER_ASSIGN(ResolvedShapes r, resolveInputShapes(inputs_, b));
  std::vector<Type> types;
  for (size_t i = 0; i < inputs_.size(); ++i) {
    ElemKind k;
    if (!elemKindFromOnnx(inputs_[i].onnxElemType, k))
      return unsupported("graph input '", inputs_[i].name,
                         "' has ONNX element type ", inputs_[i].onnxElemType,
                         ", which Ember does not support (", path_, ")");
    types.push_back(Type(k, r.inputs.at(inputs_[i].name)));
  }
  if (notes)
    *notes = std::move(r.notes);
  if (defaulted)
    *defaulted = r.defaulted;
  return types;
}

} // namespace ember::backend
