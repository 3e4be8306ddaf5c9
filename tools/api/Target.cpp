#include "ember/api/Target.h"

#include "backend/OpLibrary.h"
#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"

#include "ember/backend/v1/capability.pb.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

namespace ember::api {

namespace {
std::string &pluginDirOverride() {
  static std::string dir;
  return dir;
}
} // namespace

void setPluginDir(const std::string &dir) { pluginDirOverride() = dir; }

std::string pluginDir() {
  if (!pluginDirOverride().empty())
    return pluginDirOverride();
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "lib/ember";
  std::string exe(buf, size_t(n));
  std::string dir = exe.substr(0, exe.rfind('/'));
  return dir + "/../lib/ember";
}

namespace {
bool fileExists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
bool validName(const std::string &s) {
  if (s.empty())
    return false;
  for (char c : s)
    if (!(isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'))
      return false;
  return true;
}
} // namespace

Expected<std::string> pluginPathFor(const std::string &target) {
  if (target == "interp")
    return std::string();
  std::string name;
  if (target.rfind("plugin:", 0) == 0) {
    std::string rest = target.substr(7);
    if (rest.find('/') != std::string::npos) {
      if (!fileExists(rest))
        return invalid("plugin file '", rest,
                       "' does not exist (--target=", target, ")");
      return rest;
    }
    if (rest.size() > 3 && rest.compare(rest.size() - 3, 3, ".so") == 0) {
      if (!fileExists(rest))
        return invalid("plugin file '", rest,
                       "' does not exist (--target=", target, ")");
      return "./" + rest;
    }
    name = rest;
  } else if (target.rfind("accel:", 0) == 0) {
    // The SDK's reference simulator on a target description, which the
    // plugin reads from EMBER_ACCEL_TARGET when it loads (one description
    // per process: the plugin is loaded once).
    const std::string desc = target.substr(6);
    char real[PATH_MAX];
    if (desc.empty() || !fileExists(desc) || !realpath(desc.c_str(), real))
      return invalid("target description '", desc,
                     "' does not exist (--target=", target, ")");
    static std::mutex mu;
    static std::string inUse;
    std::lock_guard<std::mutex> lock(mu);
    if (!inUse.empty() && inUse != real)
      return invalid("one accel: description per process: '", inUse,
                     "' is in use (--target=", target, ")");
    inUse = real;
    setenv("EMBER_ACCEL_TARGET", real, 1);
    name = "accel-ref";
  } else if (target == "cpu" || target == "npu-sim") {
    name = target;
  } else {
    return invalid("unknown target '", target,
                   "' (expected interp, cpu, npu-sim, accel:DESC.json, "
                   "plugin:PATH.so or plugin:NAME)");
  }
  if (!validName(name))
    return invalid("bad plugin name '", name, "' in --target=", target);
  std::string file = name;
  for (char &c : file)
    if (c == '-')
      c = '_';
  // libember_NAME.so (Ember's own plugins, '-' spelled '_'), then
  // libNAME.so (a vendor's library copied there as it was built).
  std::string path = pluginDir() + "/libember_" + file + ".so";
  std::string plain = pluginDir() + "/lib" + name + ".so";
  if (fileExists(path))
    return path;
  if (fileExists(plain))
    return plain;
  return unsupported("target '", target, "' is not available in this build (",
                     "neither ", path, " nor ", plain, " exists)");
}

// One Plugin per library file in a process: loading a file again would
// give the plugin a second host (plugin_init again) while the first one's
// handles live. Kept while anyone holds it.
Expected<std::shared_ptr<backend::Plugin>>
loadPluginOnce(const std::string &path) {
  static std::mutex mu;
  static std::map<std::string, std::weak_ptr<backend::Plugin>> loaded;
  char real[PATH_MAX];
  std::string key = realpath(path.c_str(), real) ? std::string(real) : path;
  std::lock_guard<std::mutex> lock(mu);
  auto it = loaded.find(key);
  if (it != loaded.end())
    if (std::shared_ptr<backend::Plugin> p = it->second.lock())
      return p;
  EMBER_ASSIGN(std::shared_ptr<backend::Plugin> p, backend::Plugin::load(path));
  loaded[key] = p;
  return p;
}

Status checkTarget(const std::string &target) {
  return pluginPathFor(target).status();
}

namespace {

// The requantization profiles a plugin declares (its manifest's
// requant_profiles, in its order of preference); a manifest without the
// field (a plugin built before it) computes the fixed profile. A profile
// this host does not know is refused: its oracle could not compute what the
// device does.
Expected<std::vector<quant::RequantProfile>>
declaredProfiles(backend::Plugin &p, const std::string &name) {
  EMBER_ASSIGN(auto man, p.capabilities());
  std::vector<quant::RequantProfile> out;
  for (const std::string &s : man.requant_profiles()) {
    quant::RequantProfile q;
    if (!quant::profileFromName(s, q))
      return unsupported("target ", name, " declares the arithmetic '", s,
                         "', which this host does not know (its manifest's "
                         "requant_profiles; known: ",
                         quant::profileNames(), ")");
    out.push_back(q);
  }
  if (out.empty())
    out.push_back(quant::RequantProfile::Fixed);
  return out;
}

std::string profileList(const std::vector<quant::RequantProfile> &ps) {
  std::string s;
  for (auto p : ps)
    s += std::string(s.empty() ? "" : ", ") + quant::profileName(p);
  return s;
}

Status resolveRequant(const TargetOptions &opts, Target &t) {
  quant::RequantProfile want =
      opts.requant.value_or(quant::RequantProfile::Fixed);
  if (t.plugin) {
    EMBER_ASSIGN(auto own, declaredProfiles(*t.plugin, t.name));
    if (!opts.requant)
      want = own.front();
    else if (std::find(own.begin(), own.end(), want) == own.end())
      return unsupported("--requant=", quant::profileName(want), ": ", t.name,
                         " computes the ", profileList(own),
                         " requantization profile (its manifest; "
                         "docs/quantization.md)");
  }
  if (t.fallback) {
    EMBER_ASSIGN(auto fb, declaredProfiles(*t.fallback, t.fallbackName));
    if (std::find(fb.begin(), fb.end(), want) == fb.end())
      return unsupported("the fallback ", t.fallbackName, " computes the ",
                         profileList(fb), " requantization profile, not ",
                         quant::profileName(want), " (", t.name,
                         "'s); use --fallback=interp");
  }
  t.requant = want;
  return Status::ok();
}

} // namespace

Expected<Target> openTarget(const TargetOptions &opts) {
  const std::string &target = opts.target;
  std::string fallback = opts.fallback;
  const bool accelerator =
      target == "npu-sim" || target.rfind("accel:", 0) == 0;
  if (fallback.empty())
    fallback =
        accelerator && pluginPathFor("cpu").hasValue() ? "cpu" : "interp";
  Target t;
  t.name = target;
  t.requirePlacement = accelerator;
  t.compile = opts.compile;
  EMBER_ASSIGN(std::string path, pluginPathFor(target));
  if (!path.empty()) {
    EMBER_ASSIGN(t.plugin, loadPluginOnce(path));
  }
  if (fallback == "none") {
    t.allowFallback = false;
    t.fallbackName = "none";
  } else if (fallback != "interp") {
    EMBER_ASSIGN(std::string fpath, pluginPathFor(fallback));
    if (fpath.empty())
      return invalid("bad --fallback '", fallback, "'");
    // The same library twice would be two hosts of one plugin (it keeps
    // one host per process), and falling back to the target itself
    // places nothing the target refused.
    struct stat a {
    }, b{};
    if (!path.empty() && stat(path.c_str(), &a) == 0 &&
        stat(fpath.c_str(), &b) == 0 && a.st_dev == b.st_dev &&
        a.st_ino == b.st_ino)
      return invalid("--fallback=", fallback, " is the target itself (", fpath,
                     "): the nodes it refuses would have nowhere to "
                     "run; use --fallback=interp (the default) or none");
    EMBER_ASSIGN(t.fallback, loadPluginOnce(fpath));
    t.fallbackName = fallback;
  }
  EMBER_TRY(resolveRequant(opts, t));
  if (t.plugin) {
    EMBER_ASSIGN(auto man, t.plugin->capabilities());
    t.keepCustom = backend::keepClaimedCustomOps(man);
  }
  return t;
}

Status loadOpLibraries(const TargetOptions &t) {
  for (const std::string &p : t.opLibraries)
    EMBER_TRY(backend::loadOpLibrary(p).status());
  return Status::ok();
}

backend::ExecutorOptions executorOptions(const Target &t) {
  backend::ExecutorOptions o;
  o.fallback = t.fallback;
  o.requireFullSupport = !t.allowFallback;
  o.compile = t.compile;
  o.artifactCacheDir = t.artifactCacheDir;
  return o;
}

bool isOnnxPath(const std::string &path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".onnx") == 0;
}

Status checkPlacement(const Target &t, const backend::PartitionedExecutable *x,
                      const Function &f) {
  if (!t.requirePlacement || !x || x->plan().support.count() > 0)
    return Status::ok();
  const auto &sup = x->plan().support;
  auto nodes = backend::computeNodes(f);
  if (nodes.empty())
    return unsupported("the model has no nodes to place on ", t.name);
  // The first node the target's manifest claims but did not take (a layer
  // its DRAM does not hold, a build error) says more than an op it never
  // claims: its reason is the one shown.
  size_t pick = 0;
  if (t.plugin) {
    EMBER_ASSIGN(auto man, t.plugin->capabilities());
    std::string why;
    for (size_t i = 0; i < nodes.size() && i < sup.reasons.size(); ++i)
      if (backend::manifestClaims(man, *nodes[i], why)) {
        pick = i;
        break;
      }
  }
  return unsupported("nothing in the model runs on ", t.name, ": ",
                     nodes[pick]->describe(), ": ", sup.reasons[pick],
                     nodes.size() > 1
                         ? concat(" (and ", nodes.size() - 1,
                                  " more nodes; --emit=partitions lists "
                                  "every reason)")
                         : std::string());
}

Expected<std::unique_ptr<CompiledModel>>
CompiledModel::create(const Target &t, const Function &f) {
  std::unique_ptr<CompiledModel> m(new CompiledModel());
  m->f_ = &f;
  if (!t.plugin)
    return m;
  EMBER_ASSIGN(m->exe_, backend::PartitionedExecutable::create(
                            f, t.plugin, executorOptions(t)));
  EMBER_TRY(checkPlacement(t, m->exe_.get(), f));
  return m;
}

Expected<std::vector<Tensor>>
CompiledModel::run(const std::vector<Tensor> &inputs) {
  if (!exe_)
    return interpret(*f_, inputs);
  return exe_->run(inputs);
}

std::string CompiledModel::summary() const {
  if (!exe_)
    return std::string();
  auto &plan = exe_->plan();
  size_t onPlugin = 0;
  for (auto &p : plan.parts)
    onPlugin += p.onPlugin;
  return concat(
      "partitions=", plan.parts.size(), " plugin_partitions=", onPlugin,
      " plugin_nodes=", plan.support.count(),
      " fallback_nodes=", plan.support.supported.size() - plan.support.count());
}

Expected<std::vector<Tensor>> runOnTarget(const Target &t, const Function &f,
                                          const std::vector<Tensor> &inputs,
                                          std::string *summary) {
  EMBER_ASSIGN(auto m, CompiledModel::create(t, f));
  if (summary)
    *summary = m->summary();
  return m->run(inputs);
}

std::string checkTargetSpelling(const std::string &target) {
  if (target == "interp" || target == "cpu" || target == "npu-sim")
    return "";
  if (target.rfind("plugin:", 0) == 0 && target.size() > 7)
    return "";
  if (target.rfind("accel:", 0) == 0 && target.size() > 6)
    return "";
  return "unknown target; expected interp, cpu, npu-sim, accel:DESC.json, "
         "plugin:PATH.so or plugin:NAME";
}

void applyTimeout(const TargetOptions &t, double *seconds) {
  double sec = t.timeout              ? *t.timeout
               : t.target == "interp" ? 0
                                      : kDefaultPluginTimeoutSec;
  backend::setCallTimeout(sec);
  if (seconds)
    *seconds = sec;
}

Status readShapeOptions(const InputOptions &in, ImportOptions &io,
                        std::map<std::string, Tensor> *given) {
  io.shapes.defaults = true;
  for (auto &spec : in.dims)
    EMBER_TRY(parseDimBinding(spec, io.shapes));
  for (auto &spec : in.shapes)
    EMBER_TRY(parseInputShapeBinding(spec, io.shapes));
  if (!given)
    return Status::ok();
  for (auto &spec : in.files) {
    size_t eq = spec.find('=');
    std::string name = spec.substr(0, eq);
    EMBER_ASSIGN(Tensor t, readTensorFile(spec.substr(eq + 1)));
    auto have = io.shapes.inputs.find(name);
    if (have != io.shapes.inputs.end() && have->second.dims != t.dims())
      return invalid("--input ", spec, " holds ", t.type().toString(), " but ",
                     have->second.origin, " gives another shape");
    io.shapes.inputs[name] = {t.dims(), "--input " + spec};
    (*given)[name] = std::move(t);
  }
  return Status::ok();
}

Expected<std::unique_ptr<Module>> loadModel(const std::string &path,
                                            const ImportOptions &io,
                                            std::vector<std::string> *notes) {
  if (isOnnxPath(path)) {
    ImportStats stats;
    auto m = importOnnxFile(path, io, &stats);
    if (notes)
      notes->insert(notes->end(), stats.notes.begin(), stats.notes.end());
    return m;
  }
  EMBER_ASSIGN(std::string text, readFileBytes(path, uint64_t(1) << 31));
  return parseModule(text, path);
}

Expected<std::vector<Tensor>> bindInputs(const Function &f,
                                         std::map<std::string, Tensor> given,
                                         uint64_t seed) {
  std::vector<Tensor> inputs;
  for (size_t i = 0; i < f.params().size(); ++i) {
    Node *p = f.params()[i];
    auto it = given.find(p->outNames[0]);
    if (it != given.end()) {
      if (it->second.elem() != p->types[0].elem())
        return invalid("input '", it->first, "' is ",
                       it->second.type().toString(), " but the model expects ",
                       p->types[0].toString());
      inputs.push_back(it->second);
      given.erase(it);
    } else {
      inputs.push_back(randomTensor(p->types[0], seed + i));
    }
  }
  if (!given.empty())
    return invalid("--input names '", given.begin()->first,
                   "', which is not an input of the compiled model");
  return inputs;
}

Tensor randomTensor(const Type &t, uint64_t seed) {
  Tensor x(t.withElem(t.elem()));
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> uf(-1.0, 1.0);
  for (int64_t i = 0; i < x.size(); ++i) {
    if (isFloatKind(t.elem()))
      x.setDouble(i, uf(rng));
    else if (t.elem() == ElemKind::Bool)
      x.setInt(i, int64_t(rng() & 1));
    else
      x.setInt(i, int64_t(rng() % 16));
  }
  return x;
}

} // namespace ember::api
