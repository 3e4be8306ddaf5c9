#include "backend/Partitioner.h"

#include "backend/Artifact.h"
#include "backend/LayerPath.h"
#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"
#include "ir/OpRegistry.h"

#include "ember/backend/v1/capability.pb.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace ember::backend {

size_t Support::count() const {
  return size_t(std::count(supported.begin(), supported.end(), true));
}

long Support::firstUnsupported() const {
  auto it = std::find(supported.begin(), supported.end(), false);
  return it == supported.end() ? -1 : long(it - supported.begin());
}

std::vector<const Node *> computeNodes(const Function &f) {
  std::vector<const Node *> out;
  for (auto &n : f.nodes())
    if (!isStorage(n->kind))
      out.push_back(n.get());
  return out;
}

namespace {

bool rankOk(const v1::OpCapability &c, size_t rank) {
  return rank >= c.min_rank() && (c.max_rank() == 0 || rank <= c.max_rank());
}

} // namespace

bool manifestClaims(const v1::CapabilityManifest &m, const Node &n,
                    std::string &reason) {
  const std::string op = nodeOpName(n); // a custom op: "domain::name"
  const v1::OpCapability *cap = nullptr;
  for (auto &c : m.ops())
    if (c.op() == op) {
      cap = &c;
      break;
    }
  if (!cap && n.kind == OpKind::Custom && m.custom_op_kernels()) {
    // Runs any custom op by its library's reference kernel.
    if (customOpOf(n))
      return true;
    reason = concat("custom op ", op, " is not registered");
    return false;
  }
  if (!cap) {
    reason = n.kind == OpKind::Custom
                 ? concat("custom op ", op,
                          " is not in the manifest (and the plugin does not "
                          "run custom ops' kernels)")
                 : concat("op ", op, " is not in the manifest");
    return false;
  }
  auto listed = [](const auto &list, const std::string &dt) {
    return std::find(list.begin(), list.end(), dt) != list.end();
  };
  auto check = [&](const Type &t, const char *what, size_t i) {
    std::string dt = elemKindName(t.elem());
    // index_dtypes: on an operand after the first, as well as `dtypes`.
    bool index = std::string(what) == "operand" && i > 0 &&
                 listed(cap->index_dtypes(), dt);
    if (!listed(cap->dtypes(), dt) && !index) {
      reason = concat(what, " ", i, " is ", dt, ", not among the ", op,
                      " dtypes of the manifest");
      return false;
    }
    if (!rankOk(*cap, t.rank())) {
      reason = concat(what, " ", i, " has rank ", t.rank(), ", outside [",
                      cap->min_rank(), ", ",
                      cap->max_rank() ? std::to_string(cap->max_rank())
                                      : std::string("any"),
                      "]");
      return false;
    }
    if (t.isQuantized() && !cap->quantized()) {
      reason = concat(what, " ", i, " is quantized (", t.toString(),
                      "); the manifest does not accept quantized ", op);
      return false;
    }
    return true;
  };
  for (size_t i = 0; i < n.inputs.size(); ++i)
    if (n.inputs[i] && !check(n.inputs[i].type(), "operand", i))
      return false;
  for (size_t i = 0; i < n.types.size(); ++i)
    if (!check(n.types[i], "result", i))
      return false;
  return true;
}

std::function<bool(const Node &)>
keepClaimedCustomOps(const v1::CapabilityManifest &m) {
  std::set<std::string> names;
  for (auto &c : m.ops())
    if (c.op().find("::") != std::string::npos)
      names.insert(c.op());
  if (names.empty())
    return nullptr;
  return [names](const Node &n) {
    return n.kind == OpKind::Custom && names.count(nodeOpName(n)) != 0;
  };
}

Expected<Support> querySupport(Plugin &p, const Function &f,
                               const CompileOptions *o) {
  auto nodes = computeNodes(f);
  Support s;
  s.supported.assign(nodes.size(), true);
  s.reasons.assign(nodes.size(), "");
  EMBER_ASSIGN(v1::CapabilityManifest m, p.capabilities());
  if (!m.accepts_graph()) {
    for (size_t i = 0; i < nodes.size(); ++i) {
      s.supported[i] = false;
      s.reasons[i] = "the plugin does not accept graph programs";
    }
    return s;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::string why;
    if (!manifestClaims(m, *nodes[i], why)) {
      s.supported[i] = false;
      s.reasons[i] = why;
    }
  }
  if (p.api().query_support) {
    EMBER_ASSIGN(std::string bytes, serializeGraph(f));
    EMBER_ASSIGN(v1::SupportReport r,
                 p.querySupport(bytes, nodes.size(),
                                o ? serializeCompileOptions(*o) : ""));
    std::vector<bool> answered(nodes.size(), false);
    for (auto &ns : r.nodes()) {
      size_t i = size_t(ns.node());
      answered[i] = true;
      if (!ns.supported() && s.supported[i]) {
        s.supported[i] = false;
        s.reasons[i] =
            ns.reason().empty() ? "refused by query_support" : ns.reason();
      }
    }
    for (size_t i = 0; i < nodes.size(); ++i)
      if (!answered[i] && s.supported[i]) {
        s.supported[i] = false;
        s.reasons[i] = "no answer from query_support";
      }
  }
  return s;
}

Expected<std::vector<Partition>>
partitionByLabel(const Function &f, const std::vector<int> &label) {
  auto nodes = computeNodes(f);
  if (label.size() != nodes.size())
    return makeError(ErrorCode::Internal, "labels for ", label.size(),
                     " nodes, the graph has ", nodes.size());
  std::map<const Node *, size_t> pos;
  for (size_t i = 0; i < nodes.size(); ++i)
    pos[nodes[i]] = i;

  // Kahn's algorithm over compute nodes; among ready nodes prefer the
  // current label, then the earliest in list order.
  std::vector<size_t> indeg(nodes.size(), 0);
  std::vector<std::vector<size_t>> users(nodes.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    std::set<size_t> preds;
    for (auto &in : nodes[i]->inputs)
      if (in && pos.count(in.node))
        preds.insert(pos[in.node]);
    indeg[i] = preds.size();
    for (size_t p : preds)
      users[p].push_back(i);
  }
  std::set<size_t> ready;
  for (size_t i = 0; i < nodes.size(); ++i)
    if (!indeg[i])
      ready.insert(i);
  std::vector<Partition> parts;
  std::vector<int> partOf(nodes.size(), -1);
  while (!ready.empty()) {
    size_t pick = *ready.begin();
    if (!parts.empty()) {
      int side = parts.back().label;
      for (size_t r : ready)
        if (label[r] == side) {
          pick = r;
          break;
        }
    }
    int side = label[pick];
    if (parts.empty() || parts.back().label != side) {
      parts.emplace_back();
      parts.back().label = side;
    }
    parts.back().nodes.push_back(nodes[pick]);
    partOf[pick] = int(parts.size() - 1);
    ready.erase(pick);
    for (size_t u : users[pick])
      if (--indeg[u] == 0)
        ready.insert(u);
  }

  // Inputs and outputs of each partition, and its standalone graph.
  auto partOfValue = [&](const Value &v) -> int {
    auto it = pos.find(v.node);
    return it == pos.end() ? -1 : partOf[it->second];
  };
  auto addUnique = [](std::vector<Value> &vs, const Value &v) {
    if (std::find(vs.begin(), vs.end(), v) == vs.end())
      vs.push_back(v);
  };
  for (size_t p = 0; p < parts.size(); ++p)
    for (const Node *n : parts[p].nodes)
      for (auto &in : n->inputs) {
        if (!in || in.node->kind == OpKind::Constant)
          continue;
        int src = partOfValue(in);
        if (src != int(p)) {
          addUnique(parts[p].inputs, in);
          if (src >= 0)
            addUnique(parts[size_t(src)].outputs, in);
        }
      }
  for (auto &o : f.outputs()) {
    int src = partOfValue(o.value);
    if (src >= 0)
      addUnique(parts[size_t(src)].outputs, o.value);
  }
  for (size_t p = 0; p < parts.size(); ++p) {
    Partition &part = parts[p];
    auto m = std::make_unique<Module>();
    Function *g = m->addFunction(concat(f.name(), ".part", p));
    std::map<std::pair<const Node *, unsigned>, Value> map;
    auto key = [](const Value &v) { return std::make_pair(v.node, v.idx); };
    for (auto &in : part.inputs)
      map[key(in)] = Value(g->addPlaceholder(in.name(), in.type()));
    for (const Node *n : part.nodes) {
      auto c = std::make_unique<Node>();
      c->kind = n->kind;
      c->name = n->name;
      c->types = n->types;
      c->outNames = n->outNames;
      c->attrs = n->attrs;
      for (auto &in : n->inputs) {
        if (!in) {
          c->inputs.push_back(Value());
          continue;
        }
        auto it = map.find(key(in));
        if (it == map.end()) {
          if (in.node->kind != OpKind::Constant)
            return makeError(ErrorCode::Internal, "partition ", p, ": operand ",
                             in.name(), " of ", n->describe(),
                             " is not available");
          Node *k = g->addConstant(in.name(), *in.node->payload);
          it = map.emplace(key(in), Value(k)).first;
        }
        c->inputs.push_back(it->second);
      }
      Node *cn = g->insertRaw(std::move(c));
      for (unsigned r = 0; r < n->numResults(); ++r)
        map[std::make_pair(n, r)] = Value(cn, r);
    }
    for (auto &o : part.outputs)
      g->addOutput(map[key(o)], o.name());
    part.graph = std::move(m);
  }
  return parts;
}

Expected<PartitionPlan> partition(const Function &f, Support support) {
  if (support.supported.size() != computeNodes(f).size())
    return makeError(ErrorCode::Internal, "support answers for ",
                     support.supported.size(), " nodes, the graph has ",
                     computeNodes(f).size());
  std::vector<int> label;
  for (bool b : support.supported)
    label.push_back(b ? 1 : 0);
  PartitionPlan plan;
  EMBER_ASSIGN(plan.parts, partitionByLabel(f, label));
  for (Partition &p : plan.parts)
    p.onPlugin = p.label == 1;
  plan.support = std::move(support);
  return plan;
}

void printPartitions(std::ostream &os, const Function &f,
                     const PartitionPlan &plan, const std::string &pluginName,
                     const std::string &fallbackName) {
  auto nodes = computeNodes(f);
  std::map<const Node *, size_t> pos;
  for (size_t i = 0; i < nodes.size(); ++i)
    pos[nodes[i]] = i;
  size_t onPlugin = 0;
  for (auto &p : plan.parts)
    onPlugin += p.onPlugin;
  os << "partitions: " << plan.parts.size() << " (" << pluginName << ": "
     << onPlugin << ", " << fallbackName << ": " << plan.parts.size() - onPlugin
     << "); nodes: " << nodes.size() << " (" << pluginName << ": "
     << plan.support.count() << ", " << fallbackName << ": "
     << nodes.size() - plan.support.count() << ")\n";
  auto names = [](const std::vector<Value> &vs) {
    std::string s;
    for (auto &v : vs)
      s += (s.empty() ? "%" : ", %") + v.name();
    return s;
  };
  for (size_t p = 0; p < plan.parts.size(); ++p) {
    auto &part = plan.parts[p];
    os << "partition " << p
       << " target=" << (part.onPlugin ? pluginName : fallbackName)
       << " nodes=" << part.nodes.size() << " inputs=[" << names(part.inputs)
       << "] outputs=[" << names(part.outputs) << "]\n";
    for (const Node *n : part.nodes) {
      os << "  #" << pos[n] << " " << nodeOpName(*n);
      if (!n->name.empty())
        os << " '" << n->name << "'";
      os << " -> %" << n->outNames[0];
      if (!part.onPlugin)
        os << "  ; " << plan.support.reasons[pos[n]];
      os << "\n";
    }
  }
}

uint64_t macsOf(const Node &n) {
  auto dims = [&](size_t i) -> std::vector<int64_t> {
    if (i >= n.inputs.size() || !n.inputs[i])
      return {};
    return n.inputs[i].type().dims();
  };
  auto prod = [](const std::vector<int64_t> &v, size_t from, size_t to) {
    uint64_t p = 1;
    for (size_t i = from; i < to && i < v.size(); ++i)
      p *= uint64_t(std::max<int64_t>(v[i], 0));
    return p;
  };
  if (n.types.empty())
    return 0;
  const std::vector<int64_t> y = n.types[0].dims();
  const MacRule rule = opInfo(n.kind).macs;
  switch (rule.kind) {
  case MacRule::None:
    return 0;
  case MacRule::Conv: {
    // Every output element sums C/group x kernel products.
    std::vector<int64_t> w = dims(rule.weight);
    if (w.size() < 2)
      return 0;
    return prod(y, 0, y.size()) * prod(w, 1, w.size());
  }
  case MacRule::ConvTranspose: {
    // Every input element scatters into C_out/group x kernel outputs (the
    // products a pad or output_padding crop discards included, as Conv
    // counts the products of its zero padding).
    std::vector<int64_t> x = dims(0), w = dims(rule.weight);
    if (x.empty() || w.size() < 2)
      return 0;
    return prod(x, 0, x.size()) * prod(w, 1, w.size());
  }
  case MacRule::MatMul: {
    std::vector<int64_t> a = dims(0);
    if (a.empty())
      return 0;
    int64_t k = a.back();
    auto it = n.attrs.find("transA");
    if (it != n.attrs.end() && it->second.kind == Attr::Kind::Int &&
        it->second.i && a.size() == 2)
      k = a[0];
    return prod(y, 0, y.size()) * uint64_t(std::max<int64_t>(k, 0));
  }
  }
  return 0;
}

Expected<std::vector<std::string>>
PartitionedExecutable::emit(const std::string &format) {
  std::vector<std::string> out;
  for (size_t i = 0; i < plan_.parts.size(); ++i) {
    if (!plan_.parts[i].onPlugin || !compiled_[i].plugin)
      continue;
    auto t = compiled_[i].plugin->emit(compiled_[i].exe, format);
    if (!t)
      return Status(t.status().code(),
                    concat("partition ", i, ": ", t.status().message()));
    out.push_back(std::move(*t));
  }
  return out;
}

namespace {

// The content hash of a plugin's library file, once per path.
std::string pluginFileHash(const Plugin &p) {
  static std::mutex mu;
  static std::map<std::string, std::string> hashes;
  std::lock_guard<std::mutex> lock(mu);
  auto it = hashes.find(p.path());
  if (it != hashes.end())
    return it->second;
  std::ifstream in(p.path(), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  std::string h =
      concat(bytes.size(), ":", fnv1a64(bytes.data(), bytes.size()));
  hashes[p.path()] = h;
  return h;
}

// <dir>/<key>.art, the key two 64-bit FNV-1a hashes (of the description
// and of it reversed) of the plugin file, its name and version, the
// program and the options.
std::string artifactCachePath(const std::string &dir, const Plugin &p,
                              const std::string &program,
                              const std::string &options) {
  std::string d = concat(pluginFileHash(p), "|", p.name(), "|", p.version(),
                         "|", p.abiMajor(), ".", p.abiMinor(), "|",
                         program.size(), "|", options.size(), "|");
  d += program;
  d += options;
  std::string r(d.rbegin(), d.rend());
  char key[40];
  std::snprintf(key, sizeof key, "%016llx%016llx",
                (unsigned long long)fnv1a64(d.data(), d.size()),
                (unsigned long long)fnv1a64(r.data(), r.size()));
  return dir + "/" + key + ".art";
}

// The cached executable at `path`; an error when there is none (or it does
// not load: it is compiled again and replaced).
Expected<Executable> loadCachedArtifact(Plugin &p, Device *dev,
                                        const std::string &path) {
  if (path.empty())
    return unsupported("no artifact cache");
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return unsupported("not cached");
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  return p.loadArtifact(dev, bytes);
}

// Best effort: a plugin without artifacts, or a folder that cannot be
// written, only means the next process compiles again.
void storeArtifact(Plugin &p, Executable &exe, const std::string &path) {
  auto bytes = p.serialize(exe);
  if (!bytes)
    return;
  std::string dir = path.substr(0, path.rfind('/'));
  mkdir(dir.c_str(), 0755);
  std::string tmp = concat(path, ".tmp.", getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out.write(bytes->data(), std::streamsize(bytes->size()));
    if (!out) {
      std::remove(tmp.c_str());
      return;
    }
  }
  // Whole or not at all: a concurrent reader sees the old file or the new.
  if (std::rename(tmp.c_str(), path.c_str()) != 0)
    std::remove(tmp.c_str());
}

} // namespace

Expected<std::unique_ptr<PartitionedExecutable>>
PartitionedExecutable::create(const Function &f, std::shared_ptr<Plugin> plugin,
                              const ExecutorOptions &o) {
  std::unique_ptr<PartitionedExecutable> x(new PartitionedExecutable());
  x->f_ = &f;
  x->plugin_ = plugin;
  x->fallback_ = o.fallback;
  EMBER_ASSIGN(Support s, querySupport(*plugin, f, &o.compile));
  long bad = s.firstUnsupported();
  if (o.requireFullSupport && bad >= 0)
    return unsupported(plugin->describe(), " does not run ",
                       computeNodes(f)[size_t(bad)]->describe(), ": ",
                       s.reasons[size_t(bad)]);
  // A plugin that takes scheduled programs gets its partitions scheduled
  // for its target description (LayerPath.h): the cut is one whose plugin
  // partitions the layer builds.
  std::optional<accel::Target> layerTgt;
  if (s.count()) {
    EMBER_ASSIGN(layerTgt, hostLayerTarget(*plugin));
  }
  EMBER_ASSIGN(x->plan_, runPlan(f, std::move(s), layerTgt, o.compile));
  bool anyPlugin = false, anyFallback = false;
  for (auto &p : x->plan_.parts)
    (p.onPlugin ? anyPlugin : anyFallback) = true;
  if (anyPlugin) {
    EMBER_ASSIGN(x->device_, plugin->openDevice(0));
  }
  if (anyFallback && x->fallback_) {
    EMBER_ASSIGN(x->fallbackDevice_, x->fallback_->openDevice(0));
  }
  x->profileLevel_ = o.compile.profileLevel;
  // The fallback gets the common options only: `--backend-opt` is the
  // target plugin's own (another plugin would refuse its keys).
  CompileOptions common = o.compile;
  common.vendor.clear();
  const std::string fallbackOptBytes = serializeCompileOptions(common);
  const std::string optBytes = serializeCompileOptions(o.compile);
  std::optional<accel::Target> fallbackTgt;
  if (anyFallback && x->fallback_) {
    EMBER_ASSIGN(fallbackTgt, hostLayerTarget(*x->fallback_));
  }
  for (size_t i = 0; i < x->plan_.parts.size(); ++i) {
    auto &part = x->plan_.parts[i];
    Compiled c;
    for (auto &v : part.outputs)
      c.outTypes.push_back(v.type());
    Plugin *runner = part.onPlugin ? plugin.get() : x->fallback_.get();
    if (runner) {
      Device *dev = part.onPlugin ? &x->device_ : &x->fallbackDevice_;
      // The partition's program is the one compileOnPlugin makes
      // (LayerPath.h); the artifact cache keys it by the graph and the
      // program kind, so a hit skips scheduling.
      const std::optional<accel::Target> &route =
          part.onPlugin ? layerTgt : fallbackTgt;
      std::string cached;
      if (!o.artifactCacheDir.empty()) {
        EMBER_ASSIGN(std::string graph, serializeGraph(*part.graph->main()));
        cached = artifactCachePath(o.artifactCacheDir, *runner,
                                   route ? "layers|" + graph : graph,
                                   part.onPlugin ? optBytes : fallbackOptBytes);
      }
      Expected<Executable> exe = loadCachedArtifact(*runner, dev, cached);
      if (!exe) {
        exe = compileOnPlugin(*runner, dev, route, *part.graph->main(),
                              part.onPlugin ? o.compile : common);
        if (exe && !cached.empty())
          storeArtifact(*runner, *exe, cached);
      }
      // A fallback plugin that cannot compile a partition (an op it lacks)
      // leaves it to the reference interpreter, which runs everything.
      if (!exe && !part.onPlugin &&
          exe.status().code() == ErrorCode::Unsupported) {
        x->compiled_.push_back(std::move(c));
        continue;
      }
      if (!exe)
        return Status(exe.status().code(),
                      concat("partition ", i, ": ", exe.status().message()));
      c.plugin = runner;
      c.device = dev;
      c.exe = std::move(*exe);
    }
    x->compiled_.push_back(std::move(c));
  }
  return x;
}

Expected<std::vector<Tensor>>
PartitionedExecutable::run(const std::vector<Tensor> &inputs) {
  const Function &f = *f_;
  if (inputs.size() != f.params().size())
    return invalid("expected ", f.params().size(), " inputs, got ",
                   inputs.size());
  lastRun_.assign(plan_.parts.size(), PartitionRun());
  // Every value computed so far, by pointer: the caller's inputs, the
  // constants' payloads and the partitions' results (held in `produced`,
  // whose nodes never move). Nothing is copied on the way to a plugin.
  using Key = std::pair<const Node *, unsigned>;
  std::map<Key, Tensor> produced;
  std::map<Key, const Tensor *> env;
  for (size_t i = 0; i < inputs.size(); ++i)
    env[{f.params()[i], 0}] = &inputs[i];
  auto get = [&](const Value &v) -> Expected<const Tensor *> {
    if (v.node->kind == OpKind::Constant)
      return v.node->payload.get();
    auto it = env.find({v.node, v.idx});
    if (it == env.end())
      return makeError(ErrorCode::Internal, "value %", v.name(),
                       " was not computed before its use");
    return it->second;
  };
  for (size_t i = 0; i < plan_.parts.size(); ++i) {
    auto &part = plan_.parts[i];
    std::vector<const Tensor *> ins;
    for (auto &v : part.inputs) {
      EMBER_ASSIGN(const Tensor *t, get(v));
      ins.push_back(t);
    }
    auto &c = compiled_[i];
    PartitionRun &pr = lastRun_[i];
    pr.onPlugin = part.onPlugin;
    auto runPart = [&]() -> Expected<std::vector<Tensor>> {
      if (c.plugin)
        return c.plugin->run(*c.device, c.exe, ins, c.outTypes, &c.buffers,
                             part.onPlugin ? &pr.profile : nullptr,
                             &pr.imported);
      std::vector<Tensor> copies; // (the interpreter takes tensors)
      for (const Tensor *t : ins)
        copies.push_back(*t);
      return interpret(*part.graph->main(), copies);
    };
    auto t0 = std::chrono::steady_clock::now();
    Expected<std::vector<Tensor>> outs = runPart();
    pr.wallMs = std::chrono::duration<double, std::milli>(
                    std::chrono::steady_clock::now() - t0)
                    .count();
    if (!outs)
      return Status(outs.status().code(),
                    concat("partition ", i, " (",
                           part.onPlugin ? plugin_->name() : "fallback",
                           "): ", outs.status().message()));
    for (size_t k = 0; k < part.outputs.size(); ++k) {
      const Key key{part.outputs[k].node, part.outputs[k].idx};
      Tensor &slot = produced[key];
      slot = std::move((*outs)[k]);
      env[key] = &slot;
    }
  }
  // Results: a partition's result moves out at its last mention among
  // the outputs; inputs, constants and repeated outputs are copied.
  std::map<Key, size_t> lastUse;
  for (size_t j = 0; j < f.outputs().size(); ++j)
    lastUse[{f.outputs()[j].value.node, f.outputs()[j].value.idx}] = j;
  std::vector<Tensor> results;
  for (size_t j = 0; j < f.outputs().size(); ++j) {
    const Value &v = f.outputs()[j].value;
    auto it = produced.find({v.node, v.idx});
    if (it != produced.end() && lastUse.at({v.node, v.idx}) == j) {
      results.push_back(std::move(it->second));
      continue;
    }
    EMBER_ASSIGN(const Tensor *t, get(v));
    results.push_back(*t);
  }
  return results;
}

} // namespace ember::backend
