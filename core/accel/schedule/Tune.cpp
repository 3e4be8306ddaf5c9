// Tuning against the vendor's simulator and the tuning cache (Tune.h).
#include "ember/accel/Tune.h"
#include "ember/accel/Pack.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <unistd.h>

namespace ember::accel {

namespace {

// Bump when the code generated for a tiling changes its timing (cached
// measurements of the old code no longer hold).
constexpr int kTunerVersion = 4; // 2: DwGemm depthwise layers; 3: merged
                                 // flat loads, the fill in pieces; 4: the
                                 // bias in Requant
const char *const kFormat = "ember-npu-tune";
constexpr int kFormatVersion = 1;

uint64_t fnv(const void *data, size_t n, uint64_t h = 1469598103934665603ull) {
  auto *b = static_cast<const unsigned char *>(data);
  for (size_t i = 0; i < n; ++i) {
    h ^= b[i];
    h *= 1099511628211ull;
  }
  return h;
}

std::string hex(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", (unsigned long long)v);
  return buf;
}

// ---- the cache ---------------------------------------------------------

struct Entry {
  std::string config, layer;
  TileChoice choice;
  uint64_t cycles = 0, modelCycles = 0;
  uint32_t measured = 0;
  int32_t rank = 0;
};

// "tile=1,4,1,2 order=0,1,2,3 bias=gemm" -> choice; false when malformed.
bool parseChoice(const std::string &text, TileChoice &c) {
  c = TileChoice();
  std::istringstream in(text);
  std::string word;
  bool haveTile = false, haveOrder = false;
  auto list = [](const std::string &s, auto &out) {
    std::stringstream ss(s);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (item.empty() || item.size() > 9 ||
          item.find_first_not_of("0123456789") != std::string::npos)
        return false;
      out.push_back(
          typename std::decay_t<decltype(out)>::value_type(std::stoll(item)));
    }
    return !out.empty();
  };
  while (in >> word) {
    if (word.rfind("tile=", 0) == 0)
      haveTile = list(word.substr(5), c.tile);
    else if (word.rfind("order=", 0) == 0)
      haveOrder = list(word.substr(6), c.order);
    else if (word == "bias=gemm")
      c.bias = 1;
    else if (word == "bias=dram")
      c.bias = 0;
    else if (word == "bias=requant")
      c.bias = 2;
    else
      return false;
  }
  return haveTile && haveOrder && c.tile.size() == c.order.size();
}

struct Cache {
  std::string path;
  std::vector<Entry> entries;
  bool writable = true; // false: a file we cannot read back is not ours
  bool dirty = false;

  // Reads `path`; a missing file is an empty cache. Problems -> warnings.
  void load(std::vector<std::string> &warnings) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      return;
    std::ifstream f(path, std::ios::binary);
    if (!f) {
      warnings.push_back("tuning cache '" + path +
                         "' cannot be read; tuning without it");
      writable = false;
      return;
    }
    std::stringstream ss;
    ss << f.rdbuf();
    std::string text = ss.str();
    auto parsed = parseJson(text);
    const bool ok = parsed.hasValue();
    const Json root = ok ? *parsed : Json();
    const Json *fmt = ok ? root.get("format") : nullptr;
    const Json *ver = ok ? root.get("version") : nullptr;
    const Json *list = ok ? root.get("entries") : nullptr;
    std::string why;
    if (!ok)
      why = "is not valid JSON: " + parsed.status().message();
    else if (root.kind() != Json::Kind::Object || !fmt ||
             fmt->kind() != Json::Kind::String || fmt->str() != kFormat)
      why = std::string("is not an NPU tuning cache (no \"format\": \"") +
            kFormat + "\")";
    else if (!ver || ver->kind() != Json::Kind::Number ||
             ver->num() != kFormatVersion)
      why = "has format version " +
            (ver && ver->kind() == Json::Kind::Number
                 ? std::to_string(int64_t(ver->num()))
                 : std::string("?")) +
            " (this compiler reads " + std::to_string(kFormatVersion) + ")";
    else if (!list || list->kind() != Json::Kind::Array)
      why = "has no \"entries\" array";
    if (!why.empty()) {
      warnings.push_back("tuning cache '" + path + "' " + why +
                         "; it is ignored and left as it is (delete it or "
                         "choose another with tune_cache=PATH)");
      writable = false;
      return;
    }
    size_t bad = 0;
    for (const Json &e : list->items()) {
      Entry x;
      const Json *cfg = e.get("config"), *layer = e.get("layer"),
                 *choice = e.get("choice"), *cyc = e.get("cycles"),
                 *model = e.get("model_cycles"), *meas = e.get("measured"),
                 *rank = e.get("rank");
      auto num = [](const Json *j) {
        return j && j->kind() == Json::Kind::Number && j->num() >= 0 &&
               j->num() < 1e15;
      };
      if (e.kind() != Json::Kind::Object || !cfg ||
          cfg->kind() != Json::Kind::String || !layer ||
          layer->kind() != Json::Kind::String || !choice ||
          choice->kind() != Json::Kind::String ||
          !parseChoice(choice->str(), x.choice) || !num(cyc) || !num(model) ||
          !num(meas) || !num(rank) || meas->num() < 1) {
        ++bad;
        continue;
      }
      x.config = cfg->str();
      x.layer = layer->str();
      x.cycles = uint64_t(cyc->num());
      x.modelCycles = uint64_t(model->num());
      x.measured = uint32_t(meas->num());
      x.rank = int32_t(rank->num());
      entries.push_back(std::move(x));
    }
    if (bad) {
      warnings.push_back("tuning cache '" + path + "': " + std::to_string(bad) +
                         " malformed entries ignored (they are dropped when "
                         "the cache is written)");
      dirty = true;
    }
  }

  Entry *find(const std::string &config, const std::string &layer) {
    for (Entry &e : entries)
      if (e.config == config && e.layer == layer)
        return &e;
    return nullptr;
  }
  bool otherConfig(const std::string &config, const std::string &layer,
                   std::string &which) const {
    for (const Entry &e : entries)
      if (e.config != config && e.layer == layer) {
        which = e.config;
        return true;
      }
    return false;
  }
  void put(const Entry &e) {
    dirty = true;
    if (Entry *x = find(e.config, e.layer))
      *x = e;
    else
      entries.push_back(e);
  }

  // Writes the cache (a temporary file renamed over it, so a reader never
  // sees half a file). Problems -> warnings.
  void save(std::vector<std::string> &warnings) {
    if (!dirty || !writable || path.empty())
      return;
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::path(path).parent_path();
    if (!dir.empty())
      std::filesystem::create_directories(dir, ec);
    std::ostringstream os;
    os << "{\n  \"format\": " << jsonQuote(kFormat, JsonQuoting::Ascii)
       << ",\n  \"version\": " << kFormatVersion << ",\n  \"entries\": [";
    for (size_t i = 0; i < entries.size(); ++i) {
      const Entry &e = entries[i];
      os << (i ? ",\n" : "\n")
         << "    {\"config\": " << jsonQuote(e.config, JsonQuoting::Ascii)
         << ", \"layer\": " << jsonQuote(e.layer, JsonQuoting::Ascii)
         << ", \"choice\": " << jsonQuote(e.choice.text(), JsonQuoting::Ascii)
         << ", \"cycles\": " << e.cycles
         << ", \"model_cycles\": " << e.modelCycles
         << ", \"measured\": " << e.measured << ", \"rank\": " << e.rank << "}";
    }
    os << "\n  ]\n}\n";
    std::string tmp = path + ".tmp" + std::to_string(::getpid());
    {
      std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
      f << os.str();
      f.flush();
      if (!f) {
        warnings.push_back("tuning cache '" + path + "' cannot be written (" +
                           tmp + "); the results of this compile are not kept");
        std::remove(tmp.c_str());
        return;
      }
    }
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      warnings.push_back("tuning cache '" + path + "' cannot be written (" +
                         ec.message() + "); the results are not kept");
      std::remove(tmp.c_str());
    }
  }
};

// The zero pattern of a GEMM layer's weight tiles (the code skips all-zero
// tiles): a hash over (output tile, input tile, tap).
std::string zeroTiles(int64_t lanes, const GemmLayer &g) {
  if (g.sum || g.w.empty())
    return "none";
  const int64_t taps = g.kh * g.kw, Cg = g.C / g.groups, Kg = g.K / g.groups;
  const int64_t Kt = ceilDiv(g.K, lanes), Ct = ceilDiv(g.C, lanes);
  std::vector<uint8_t> nz(size_t(Kt * Ct * taps), 0);
  for (int64_t oc = 0; oc < g.K; ++oc) {
    int64_t grp = oc / Kg;
    for (int64_t icl = 0; icl < Cg; ++icl)
      for (int64_t tap = 0; tap < taps; ++tap)
        if (g.w[size_t((oc * Cg + icl) * taps + tap)]) {
          int64_t ic = grp * Cg + icl;
          nz[size_t(((oc / lanes) * Ct + ic / lanes) * taps + tap)] = 1;
        }
  }
  bool all = std::all_of(nz.begin(), nz.end(), [](uint8_t v) { return v; });
  return all ? "dense" : hex(fnv(nz.data(), nz.size()));
}

uint64_t nowNs() {
  return uint64_t(std::chrono::duration_cast<std::chrono::nanoseconds>(
                      std::chrono::steady_clock::now().time_since_epoch())
                      .count());
}

std::string withCommas(uint64_t v) {
  std::string s = std::to_string(v), o;
  for (size_t i = 0; i < s.size(); ++i) {
    if (i && (s.size() - i) % 3 == 0)
      o += ',';
    o += s[i];
  }
  return o;
}

} // namespace

std::string defaultTuneCachePath(const std::string &file) {
  const char *x = std::getenv("XDG_CACHE_HOME");
  if (x && *x == '/')
    return std::string(x) + "/ember/" + file;
  const char *h = std::getenv("HOME");
  if (h && *h)
    return std::string(h) + "/.cache/ember/" + file;
  return "";
}

std::string tuneConfigKey(const Target &t, const std::string &deviceKey) {
  std::ostringstream os;
  os << "spec=" << t.hash << " dim=" << t.lanes << " sram=";
  for (size_t m = 0; m < t.memories.size(); ++m)
    os << (m ? "," : "") << t.memories[m].rows;
  if (!deviceKey.empty())
    os << " " << deviceKey;
  os << " tuner=" << kTunerVersion;
  return os.str();
}

std::string layerSignature(const Target &t, const LayerProgram &lp, size_t i,
                           const CodegenOptions &co) {
  const Layer &L = lp.layers[i];
  std::ostringstream os;
  switch (L.kind) {
  case Layer::Kind::Gemm: {
    const GemmLayer &g = L.gemm;
    os << (g.sum    ? "sum"
           : g.flat ? "matmul"
                    : "conv")
       << " n" << g.N << " c" << g.C << " " << g.H << "x" << g.W << " k" << g.K
       << " out" << g.OH << "x" << g.OW << " kernel" << g.kh << "x" << g.kw
       << " stride" << g.sh << "x" << g.sw << " dil" << g.dh << "x" << g.dw
       << " pad" << g.pt << "," << g.pl << "," << g.pb << "," << g.pr << " g"
       << g.groups << (g.requant ? " requant" : " i32");
    if (g.pool.on)
      os << (g.pool.avg ? " avgpool" : " maxpool") << g.pool.kh << "x"
         << g.pool.kw << "/" << g.pool.s;
    if (g.add.on)
      os << " add" << (g.add.beforePool ? "-before-pool" : "")
         << (g.add.otherBroadcast ? "-broadcast" : "");
    os << " biasgemm" << (biasByGemmPossible(t, g) ? 1 : 0) << " biasrq"
       << (biasByRequantPossible(t, g) ? 1 : 0)
       << " zero=" << zeroTiles(t.lanes, g);
    break;
  }
  case Layer::Kind::Pool: {
    const PoolLayer &g = L.pool;
    os << (g.avg ? "avgpool" : "maxpool") << " n" << g.N << " c" << g.C << " "
       << g.H << "x" << g.W << " out" << g.OH << "x" << g.OW << " kernel"
       << g.kh << "x" << g.kw << " stride" << g.sh
       << (g.sw != g.sh ? "x" + std::to_string(g.sw) : "") << " pad" << g.pt
       << "," << g.pl << "," << g.pb << "," << g.pr
       << (g.excludePad ? " exclude-pad" : "")
       << (g.up > 1 ? " up" + std::to_string(g.up) : "")
       << (g.upMode ? " bilinear" + std::to_string(g.upMode) : "");
    break;
  }
  case Layer::Kind::Add: {
    const AddLayer &g = L.add;
    const NTensor &y = lp.tensors[size_t(g.out)];
    os << "add c" << y.C << " p" << y.P << (g.bBroadcast ? " broadcast" : "");
    break;
  }
  }
  os << " tiling=" << (co.cycleTiling ? "cycles" : "bytes") << " bias="
     << (co.bias == BiasMode::Auto ? "auto" : biasPathName(int(co.bias)))
     << " depthwise=" << (co.dwgemm ? "dwgemm" : "gemm");
  if (co.fillPieces != 4)
    os << " fill=" << co.fillPieces;
  if (co.planSteps != CodegenOptions().planSteps)
    os << " plan_steps=" << co.planSteps;
  return os.str();
}

Status tuneAndGenerate(const Target &tg, const LayerProgram &lp,
                       const CodegenOptions &co, const TuneOptions &t,
                       Program &out, TuneReport &rep) {
  const uint64_t t0 = nowNs();
  rep = TuneReport();
  CodegenOptions first = co;
  first.candidates = t.candidates;
  first.forced.clear();
  EMBER_TRY(generateProgram(tg, lp, first, out));

  Cache cache;
  cache.path = t.cachePath;
  if (!cache.path.empty())
    cache.load(rep.warnings);
  const std::string config = tuneConfigKey(tg, t.deviceKey);

  // One layer alone: `cand` forced, compiled, and (measure) run.
  LayerProgram sub;
  sub.tensors = lp.tensors;
  auto single = [&](size_t i, const TileChoice &cand, bool measure,
                    uint64_t &cycles) -> Status {
    sub.layers = {lp.layers[i]};
    CodegenOptions so = co;
    so.candidates = 0;
    so.forced = {cand};
    so.predict = false;
    Program p;
    const Status st = generateProgram(tg, sub, so, p);
    if (st.failed() || !measure)
      return st;
    if (!t.measure)
      return invalid("no simulator to measure on");
    const Status measured = t.measure(sub, p, cycles);
    if (measured.failed())
      return unsupported(measured.message());
    ++rep.runs;
    return Status::ok();
  };

  std::vector<TileChoice> forced(lp.layers.size());
  std::map<std::string, Entry> thisCompile; // signature -> result
  unsigned stale = 0, single1 = 0;
  std::string staleConfig;
  bool changed = false;
  for (size_t i = 0; i < lp.layers.size(); ++i) {
    LayerInfo &info = out.layers[i];
    // The model's pick first, then its next best, up to N.
    std::vector<TileChoice> cands = {info.choice};
    for (const TileChoice &c : info.candidates)
      if (cands.size() < std::max(1u, t.candidates) &&
          std::none_of(cands.begin(), cands.end(),
                       [&](const TileChoice &x) { return x.same(c); }))
        cands.push_back(c);
    const std::string sig = layerSignature(tg, lp, i, co);
    // Reuse: measured earlier in this compile, or in the cache (with at
    // least as many candidates as asked, or all there are).
    const Entry *hit = nullptr;
    std::string source;
    auto it = thisCompile.find(sig);
    if (it != thisCompile.end()) {
      hit = &it->second;
      source = "sim";
    } else if (Entry *e = cache.find(config, sig)) {
      if (t.candidates == 0 || e->measured >= cands.size()) {
        uint64_t unused = 0;
        const Status why = single(i, e->choice, false, unused);
        if (why.isOk()) {
          hit = e;
          source = "cache";
        } else {
          rep.warnings.push_back(
              "tuning cache '" + cache.path + "': the entry for layer '" +
              info.name + "' (" + e->choice.text() + ") no longer compiles (" +
              why.message() + "); re-tuning it");
        }
      }
    } else if (cache.otherConfig(config, sig, staleConfig)) {
      ++stale;
    }
    if (hit) {
      forced[i] = hit->choice;
      info.tune.source = source;
      info.tune.modelCycles = hit->modelCycles;
      info.tune.tunedCycles = hit->cycles;
      info.tune.candidates = hit->measured;
      info.tune.rank = hit->rank;
      if (source == "cache")
        ++rep.cachedLayers;
      else
        ++rep.measuredLayers;
    } else if (t.candidates == 0) {
      continue; // cache only: the model's pick
    } else if (cands.size() == 1) {
      info.tune.source = "single";
      info.tune.candidates = 1;
      ++single1;
      continue;
    } else {
      Entry best;
      best.config = config;
      best.layer = sig;
      best.measured = uint32_t(cands.size());
      for (size_t k = 0; k < cands.size(); ++k) {
        uint64_t cyc = 0;
        const Status e = single(i, cands[k], true, cyc);
        if (e.failed())
          return e.withContext("layer '" + info.name + "': tuning candidate " +
                               std::to_string(k + 1) + " (" + cands[k].text() +
                               ")");
        if (k == 0)
          best.modelCycles = cyc;
        if (k == 0 || cyc < best.cycles) {
          best.cycles = cyc;
          best.choice = cands[k];
          best.rank = int32_t(k);
        }
      }
      best.choice.predicted = 0;
      thisCompile[sig] = best;
      if (!cache.path.empty())
        cache.put(best);
      forced[i] = best.choice;
      info.tune.source = "sim";
      info.tune.modelCycles = best.modelCycles;
      info.tune.tunedCycles = best.cycles;
      info.tune.candidates = best.measured;
      info.tune.rank = best.rank;
      ++rep.measuredLayers;
    }
    rep.modelCycles += info.tune.modelCycles;
    rep.tunedCycles += info.tune.tunedCycles;
    if (!forced[i].same(info.choice)) {
      changed = true;
      ++rep.changedLayers;
    }
  }
  if (stale)
    rep.warnings.push_back(
        "tuning cache '" + cache.path + "': " + std::to_string(stale) +
        " layers have entries made for another NPU configuration (" +
        staleConfig + "; this one: " + config + "); they were " +
        (t.candidates ? "re-tuned" : "not used"));

  if (changed) {
    // The whole program again with the tuned tilings; the tuning record
    // and the model's candidates stay.
    std::vector<LayerInfo> before = out.layers;
    CodegenOptions fin = co;
    fin.candidates = 0;
    fin.forced = forced;
    EMBER_TRY(generateProgram(tg, lp, fin, out));
    for (size_t i = 0; i < out.layers.size() && i < before.size(); ++i) {
      out.layers[i].tune = before[i].tune;
      out.layers[i].candidates = before[i].candidates;
    }
  }
  cache.save(rep.warnings);
  rep.seconds = double(nowNs() - t0) * 1e-9;

  std::ostringstream os;
  os << "tune: " << lp.layers.size() << " layers, ";
  if (t.candidates)
    os << "up to " << t.candidates << " candidates each: ";
  const std::string sim = t.simulatorName && !t.simulatorName().empty()
                              ? t.simulatorName()
                              : t.simulator;
  os << rep.measuredLayers << " measured on " << sim << " (" << rep.runs
     << " runs), " << rep.cachedLayers << " from the cache";
  if (!cache.path.empty())
    os << " '" << cache.path << "'" << (cache.writable ? "" : " (not used)");
  if (single1)
    os << ", " << single1 << " with one candidate";
  os << "; " << rep.changedLayers << " layers differ from the model's pick";
  if (rep.modelCycles) {
    double gain = double(int64_t(rep.modelCycles) - int64_t(rep.tunedCycles)) /
                  double(rep.modelCycles);
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.2f%%", 100.0 * gain);
    os << "; the tuned layers alone: " << withCommas(rep.modelCycles)
       << " cycles with the model's picks, " << withCommas(rep.tunedCycles)
       << " tuned (gain " << pct << ")";
  }
  char secs[32];
  std::snprintf(secs, sizeof secs, "%.1f", rep.seconds);
  os << "; " << secs << " s";
  rep.summary = os.str();
  return Status::ok();
}

} // namespace ember::accel
