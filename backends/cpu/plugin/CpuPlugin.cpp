// The LLVM CPU backend behind the plugin ABI (backend-api/include/ember/
// backend.h). executable_compile takes a lowered graph, fuses, plans memory,
// generates LLVM IR calling the kernel library and JIT-compiles it with ORC
// (compiler/); executable_serialize writes an ahead-of-time bundle (object
// file, header, weights, example main.c) that executable_load links back in.
// README.md describes the design.
#include "ember/plugin_table.hpp"

#include "backend/Artifact.h"
#include "backend/ProgramProto.h"

#include "compiler/Bundle.h"
#include "compiler/Capability.h"
#include "compiler/Codegen.h"
#include "compiler/Compiler.h"
#include "compiler/CustomCalls.h"
#include "compiler/Jit.h"
#include "ember/cpu/Kernels.h"
#include "runtime/ThreadPool.h"

#include "ember/backend/v1/artifact.pb.h"
#include "ember/backend/v1/capability.pb.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/options.pb.h"

#include <cctype>
#include <llvm/TargetParser/Host.h>
#include <llvm/TargetParser/Triple.h>

#include <sys/mman.h>

#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace v1 = ember::backend::v1;
using namespace ember_plugin;

namespace {

struct AlignedFree {
  void operator()(uint8_t *p) const { std::free(p); }
};
using AlignedBytes = std::unique_ptr<uint8_t, AlignedFree>;

// Transparent huge pages' size on x86-64 and most aarch64 kernels.
constexpr uint64_t kHugePage = uint64_t(2) << 20;

// The constant region and the arena are read at every run; a model's
// weights of several MB come from L3 each time, over a 4 KB page table
// entry per 4 KB, more entries than the second-level TLB may hold.
// A buffer of a huge page or more starts on a huge-page boundary and its
// whole huge pages are offered to the kernel's transparent huge pages
// (MADV_HUGEPAGE: in the kernel's default "madvise" mode only such ranges
// get them), before the first write faults them in. The tail past the last
// whole huge page stays on small pages, so no byte more is touched.
AlignedBytes alignedCopy(const std::string &bytes, uint64_t size) {
  uint64_t n = (size + 63) / 64 * 64;
  const bool huge = n >= kHugePage;
  void *v = nullptr;
  if (posix_memalign(&v, huge ? kHugePage : 64, n ? n : 64) != 0)
    v = nullptr;
  auto *p = static_cast<uint8_t *>(v);
#ifdef MADV_HUGEPAGE
  if (p && huge) // (advice only: on failure the pages stay small)
    (void)madvise(p, n / kHugePage * kHugePage, MADV_HUGEPAGE);
#endif
  if (p) {
    std::memset(p, 0, n ? n : 64);
    if (!bytes.empty())
      std::memcpy(p, bytes.data(), bytes.size());
  }
  return AlignedBytes(p);
}

} // namespace

struct ember_executable {
  std::string program; // the serialized Graph (bundles recompile from it)
  ember::cpugen::CompileConfig cfg;
  std::vector<ember::Type> inputs, outputs;
  std::vector<std::string> inputNames, outputNames;
  // Runnable on this host (absent for another target's bundle).
  std::unique_ptr<ember::cpugen::JitModel> jit;
  AlignedBytes weights, arena;
  uint64_t arenaBytes = 0;
  std::unique_ptr<ember::cpugen::ThreadPool> pool;
  std::mutex runMu; // one execution at a time per executable (one arena)
  // Loaded from an artifact: its files, served again by serialize.
  std::vector<ember::cpugen::BundleFile> files;
  std::string notRunnable; // why execute refuses, when it does
  // The custom ops' reference kernels the code calls (CustomCalls.h).
  std::unique_ptr<ember::cpugen::CustomCalls> customCalls;
};

namespace {

Host gHost;
constexpr const char *kName = "cpu";
constexpr const char *kVersion = "0.1.0";

ember_error *fromStatus(const ember::Status &s, int32_t fallback) {
  int32_t code = fallback;
  if (s.code() == ember::ErrorCode::Unsupported)
    code = EMBER_STATUS_UNSUPPORTED;
  else if (s.code() == ember::ErrorCode::Internal)
    code = EMBER_STATUS_INTERNAL;
  return error(code, s.message());
}

ember_error *getCapabilities(const ember_capabilities_params *p,
                             ember_blob *out) {
  if (ember_error *e =
          checkStruct(p, offsetof(ember_capabilities_params, request),
                      "ember_capabilities_params"))
    return e;
  v1::CapabilityManifest m;
  m.set_schema_version(1);
  m.set_plugin_name(kName);
  m.set_plugin_version(kVersion);
  m.set_accepts_graph(true);
  m.set_accepts_lir(false);
  m.set_supports_serialize(true);
  m.set_device_count(1);
  // Every requantization profile, bit-exact with the interpreter.
  m.add_requant_profiles("fixed");
  m.add_requant_profiles("float32");
  m.add_requant_profiles("tflite");
  m.add_requant_profiles("gemmlowp");
  m.add_requant_profiles("sat16");
  ember::cpugen::fillManifest(m);
  return gHost.blob(m.SerializeAsString(), out);
}

ember_error *querySupport(const ember_query_params *p, ember_blob *out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_query_params, graph_size) + sizeof(size_t),
          "ember_query_params"))
    return e;
  auto m = ember::backend::deserializeGraph(p->graph, p->graph_size);
  if (!m)
    return fromStatus(m.status(), EMBER_STATUS_INVALID_ARGUMENT);
  v1::SupportReport r;
  r.set_schema_version(1);
  int i = 0;
  for (auto &n : (*m)->main()->nodes()) {
    if (ember::isStorage(n->kind))
      continue;
    auto *ns = r.add_nodes();
    ns->set_node(i++);
    std::string why;
    bool ok = ember::cpugen::nodeSupported(*n, why);
    ns->set_supported(ok);
    if (!ok)
      ns->set_reason(why);
  }
  return gHost.blob(r.SerializeAsString(), out);
}

// CompileOptions -> CompileConfig. Vendor options:
//   kernels=library|portable  which runtime the code calls (RtAbi.h)
//   fuse=0|1                  operator stacking and loop fusion
//   isa=auto|generic|avx2|avx512|avx512vnni|avxvnni  kernel path (capped
//                             to the host for the JIT, whose own code is
//                             then generated for that path's instruction
//                             set too)
//   dump_ir=FILE              write the optimized LLVM IR (debugging)
//   dump_dir=DIR              write each compiled graph's generated code:
//                             DIR/<graph>.ll (before optimization),
//                             <graph>.opt.ll (after), <graph>.weights.bin
//                             (scripts/process-replay.py)
//   perf_map=0|1|2            append the JIT'd functions to
//                             /tmp/perf-<pid>.map (profiling with perf);
//                             2: and no loop task is inlined into
//                             ember_main (a profile names every step)
//   int8_split=0|1            AVX2: int8 convolutions and matrix products
//                             may run the 7-bit split tile where few
//                             activations lie outside a window of 128
//                             values (default 1; 0: always the exact s16
//                             tile)
//   int8_paired=0|1           AVX2: int8 matrix products whose weights pair
//                             (kernels' QPackExtra::PairedK) run the
//                             vpmaddubsw tile (default 1; 0: the exact one)
//   winograd=0|1              AVX2/AVX-512: channels-last 3x3 stride-1
//                             convolutions of 32 or more channels in and out
//                             run as Winograd F(2x2, 3x3) (default 1; 0:
//                             the direct tiles)
//   post=0|1                  elementwise chains after a Conv or MatMul
//                             (SiLU, HardSwish, ...) run on each piece of
//                             its result in cache (default 1; 0: as loops)
//   split_reduce=0|1          2+ threads: a reduction over pixels into too
//                             few blocks of contiguous kept elements (a
//                             global pool) cuts narrower blocks so that it
//                             splits over the workers (default 1; 0: 256)
//   conv_pair=0|1|all         a channels-last 1x1 convolution whose result
//                             only a depthwise one reads runs inside it, a
//                             few rows at a time, when its result is 1 MiB
//                             or more (default 1; all: whatever its size;
//                             0: never)
//   scale_fold=0|1            a per-channel Mul (a squeeze-excitation
//                             scale) read only by a dense convolution is
//                             folded into its weights at run time when they
//                             are the smaller (default 1; 0: never)
// A C identifier of at most 64 characters (a bundle's entry point).
bool cIdentifier(const std::string &s) {
  if (s.empty() || s.size() > 64 ||
      std::isdigit(static_cast<unsigned char>(s[0])))
    return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  return true;
}

ember_error *parseOptions(const ember_compile_params *p,
                          ember::cpugen::CompileConfig &cfg, bool &runnable,
                          std::string &why) {
  v1::CompileOptions o;
  if (p->options_size) {
    if (!p->options)
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "options is NULL but options_size is not 0");
    if (!o.ParseFromArray(p->options, int(p->options_size)))
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "options are not a valid ember.backend.v1.CompileOptions");
  }
  cfg = ember::cpugen::CompileConfig();
  cfg.numThreads = o.num_threads() ? o.num_threads() : 1;
  if (cfg.numThreads > 256)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "num_threads " + std::to_string(cfg.numThreads) +
                     " is over 256");
  cfg.optLevel = o.has_opt_level() ? o.opt_level() : 3;
  if (cfg.optLevel > 3)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "opt_level " + std::to_string(cfg.optLevel) + " is over 3");
  cfg.isa = ember::cpugen::hostIsa();
  std::string isaName = "auto";
  for (auto &kv : o.vendor()) {
    const std::string &k = kv.first, &v = kv.second;
    if (k == "kernels" && (v == "library" || v == "portable" || v == "edge")) {
      cfg.kernels = v == "library"    ? ember::cpugen::Kernels::Library
                    : v == "portable" ? ember::cpugen::Kernels::Portable
                                      : ember::cpugen::Kernels::Edge;
    } else if (k == "entry" && cIdentifier(v)) {
      cfg.entry = v;
    } else if (k == "edge_simd" && (v == "0" || v == "1")) {
      cfg.edgeSimd = v == "1";
    } else if (k == "fuse" && (v == "0" || v == "1")) {
      cfg.fuse = v == "1";
    } else if (k == "isa" &&
               (v == "auto" || v == "generic" || v == "avx2" || v == "avx512" ||
                v == "avx512vnni" || v == "avxvnni")) {
      isaName = v;
    } else if (k == "dump_ir" && !v.empty()) {
      cfg.dumpIr = v;
    } else if (k == "dump_dir" && !v.empty()) {
      cfg.dumpDir = v;
    } else if (k == "perf_map" && (v == "0" || v == "1" || v == "2")) {
      cfg.perfMap = v[0] - '0';
    } else if (k == "int8_split" && (v == "0" || v == "1")) {
      cfg.int8Split = v == "1";
    } else if (k == "int8_paired" && (v == "0" || v == "1")) {
      cfg.int8Paired = v == "1";
    } else if (k == "winograd" && (v == "0" || v == "1")) {
      cfg.winograd = v == "1";
    } else if (k == "post" && (v == "0" || v == "1")) {
      cfg.post = v == "1";
    } else if (k == "split_reduce" && (v == "0" || v == "1")) {
      cfg.splitReduce = v == "1";
    } else if (k == "scale_fold" && (v == "0" || v == "1")) {
      cfg.scaleFold = v == "1";
    } else if (k == "conv_pair" && (v == "0" || v == "1" || v == "all")) {
      using CP = ember::cpugen::CompileConfig::ConvPair;
      cfg.convPair = v == "0" ? CP::Off : v == "1" ? CP::Sized : CP::All;
    } else if (k == "kernels" || k == "entry" || k == "edge_simd" ||
               k == "fuse" || k == "isa" || k == "dump_ir" || k == "dump_dir" ||
               k == "perf_map" || k == "int8_split" || k == "int8_paired" ||
               k == "winograd" || k == "post" || k == "split_reduce" ||
               k == "conv_pair" || k == "scale_fold") {
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "bad value '" + v + "' for vendor option '" + k + "'");
    } else {
      return error(
          EMBER_STATUS_INVALID_ARGUMENT,
          "unknown vendor option '" + k +
              "' (the cpu plugin takes kernels, entry, edge_simd, fuse, isa, "
              "dump_ir, dump_dir, "
              "perf_map, int8_split, int8_paired, winograd, post, "
              "split_reduce, conv_pair, scale_fold)");
    }
  }
  runnable = true;
  llvm::Triple host(llvm::sys::getProcessTriple());
  if (!o.target_triple().empty()) {
    llvm::Triple t(llvm::Triple::normalize(o.target_triple()));
    const bool cortexM =
        ember::cpugen::bareMetalArm(t) && *ember::cpugen::defaultArmCpu(t);
    if (t.getArch() != llvm::Triple::x86_64 &&
        t.getArch() != llvm::Triple::aarch64 && !cortexM)
      return error(EMBER_STATUS_UNSUPPORTED,
                   "target triple '" + o.target_triple() +
                       "': the cpu plugin generates x86_64-linux-gnu, "
                       "aarch64-linux-gnu, thumbv7em-none-eabihf and "
                       "thumbv8.1m.main-none-eabihf code");
    cfg.triple = o.target_triple();
    cfg.cpu = o.target_cpu();
    if (t.getArch() != host.getArch() || t.getOS() != host.getOS()) {
      runnable = false;
      why = "compiled for '" + o.target_triple() +
            "'; serialize it to get the bundle";
    }
    // Arm: the plain-C runtime, with the int8 kernels of RtEdge.c unless
    // kernels=portable was asked for.
    if (t.getArch() != llvm::Triple::x86_64 &&
        cfg.kernels == ember::cpugen::Kernels::Library)
      cfg.kernels = ember::cpugen::Kernels::Edge;
  } else if (!o.target_cpu().empty()) {
    cfg.cpu = o.target_cpu();
  }
  static const char *names[] = {"auto",   "generic",    "avx2",
                                "avx512", "avx512vnni", "avxvnni"};
  for (uint8_t i = 1; i < 6; ++i)
    if (isaName == names[i])
      cfg.isa = uint8_t(ember::cpu::resolveIsa(ember::cpu::Isa(i)));
  return nullptr;
}

// The bundle's configuration: the executable's, with threads in the caller's
// hands and the target's instruction-set path.
ember::cpugen::CompileConfig
bundleConfig(const ember::cpugen::CompileConfig &c) {
  ember::cpugen::CompileConfig b = c;
  b.numThreads = 1;
  if (!c.triple.empty() && c.cpu.empty()) {
    llvm::Triple t(llvm::Triple::normalize(c.triple));
    llvm::Triple host(llvm::sys::getProcessTriple());
    if (t.getArch() == host.getArch() && t.getOS() == host.getOS())
      b.triple.clear(); // this machine: its cpu and isa
  }
  return b;
}

ember_error *compile(ember_device *, const ember_compile_params *p,
                     ember_executable **out) {
  if (ember_error *e = checkStruct(
          p, offsetof(ember_compile_params, options_size) + sizeof(size_t),
          "ember_compile_params"))
    return e;
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  if (!p->program && p->program_size)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "program is NULL");
  if (p->program_kind != EMBER_PROGRAM_GRAPH)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "the cpu plugin compiles graph programs only (program kind " +
                     std::to_string(p->program_kind) + ")");
  auto x = std::make_unique<ember_executable>();
  bool runnable = true;
  if (ember_error *e = parseOptions(p, x->cfg, runnable, x->notRunnable))
    return e;
  x->program.assign(static_cast<const char *>(p->program), p->program_size);
  auto m =
      ember::backend::deserializeGraph(x->program.data(), x->program.size());
  if (!m)
    return fromStatus(m.status(), EMBER_STATUS_INVALID_ARGUMENT);
  ember::Function &f = *(*m)->main();
  ember::cpugen::CompileConfig jitCfg = x->cfg;
  if (!runnable) {
    // Check that it compiles (and is supported) now; serialize builds it.
    jitCfg = bundleConfig(x->cfg);
  }
  jitCfg.bundle = false;
  if (runnable)
    jitCfg.triple.clear();
  auto cm = ember::cpugen::compileModel(f, jitCfg);
  if (!cm)
    return fromStatus(cm.status(), EMBER_STATUS_INVALID_ARGUMENT);
  if (!x->cfg.dumpDir.empty()) {
    // One set of files per compiled graph; partitions are named
    // <function>.part<N>, so a partitioned model's files do not collide.
    std::string base = f.name();
    for (char &c : base)
      if (c == '/' || c == '\n')
        c = '_';
    base = x->cfg.dumpDir + "/" + base;
    ember::Status ds = ember::cpugen::writeGeneratedCode(*cm, base);
    if (!ds.isOk())
      return fromStatus(ds, EMBER_STATUS_INVALID_ARGUMENT);
    jitCfg.dumpIr = base + ".opt.ll";
  }
  x->inputs = cm->inputs;
  x->outputs = cm->outputs;
  x->inputNames = cm->inputNames;
  x->outputNames = cm->outputNames;
  if (runnable) {
    x->weights = alignedCopy(cm->weights, cm->weights.size());
    x->arenaBytes = cm->arenaBytes;
    x->arena = alignedCopy({}, cm->arenaBytes);
    if (!x->weights || !x->arena)
      return error(EMBER_STATUS_OUT_OF_MEMORY,
                   "cannot allocate " + std::to_string(cm->arenaBytes) +
                       " bytes of arena");
    auto calls = ember::cpugen::CustomCalls::prepare(cm->customNodes);
    if (!calls)
      return fromStatus(calls.status(), EMBER_STATUS_INVALID_ARGUMENT);
    x->customCalls = std::move(*calls);
    cm->hostSymbols = x->customCalls->symbols();
    auto jit = ember::cpugen::JitModel::compile(*cm, jitCfg);
    if (!jit)
      return fromStatus(jit.status(), EMBER_STATUS_INTERNAL);
    x->jit = std::move(*jit);
    if (x->cfg.numThreads > 1)
      x->pool = std::make_unique<ember::cpugen::ThreadPool>(x->cfg.numThreads);
  }
  *out = x.release();
  return nullptr;
}

v1::ArtifactHeader headerOf(const ember_executable &x) {
  v1::ArtifactHeader h;
  h.set_schema_version(1);
  h.set_plugin_name(kName);
  h.set_plugin_version(kVersion);
  h.set_abi_major(EMBER_ABI_VERSION_MAJOR);
  h.set_abi_minor(EMBER_ABI_VERSION_MINOR);
  h.set_program_kind(EMBER_PROGRAM_GRAPH);
  for (size_t i = 0; i < x.inputs.size(); ++i) {
    ember::backend::toProto(x.inputs[i], *h.add_inputs());
    h.add_input_names(x.inputNames[i]);
  }
  for (size_t i = 0; i < x.outputs.size(); ++i) {
    ember::backend::toProto(x.outputs[i], *h.add_outputs());
    h.add_output_names(x.outputNames[i]);
  }
  return h;
}

ember_error *serialize(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  std::vector<ember::cpugen::BundleFile> files = x->files;
  if (files.empty()) {
    auto m =
        ember::backend::deserializeGraph(x->program.data(), x->program.size());
    if (!m)
      return fromStatus(m.status(), EMBER_STATUS_INTERNAL);
    std::string name = (*m)->main()->name();
    for (char &c : name)
      if (c == '*' || c == '/' || c == '\n')
        c = '_';
    auto b =
        ember::cpugen::buildBundle(*(*m)->main(), bundleConfig(x->cfg), name);
    if (!b)
      return fromStatus(b.status(), EMBER_STATUS_INTERNAL);
    files = std::move(*b);
    files.push_back({"program.pb", x->program});
  }
  v1::ArtifactHeader h = headerOf(*x);
  std::string payload;
  for (auto &f : files) {
    if (f.name == "cpu.txt") {
      auto kv = ember::cpugen::readFacts(f.bytes);
      auto num = [&](const char *k) {
        return std::strtoull(kv[k].c_str(), nullptr, 10);
      };
      if (kv.count("flash_code")) {
        auto *fp = h.mutable_footprint();
        fp->set_flash_code(num("flash_code"));
        fp->set_flash_weights(num("flash_weights"));
        fp->set_ram_arena(num("ram_arena"));
        fp->set_ram_state(num("ram_state"));
      }
    }
    auto *bf = h.add_files();
    bf->set_name(f.name);
    bf->set_offset(payload.size());
    bf->set_size(f.bytes.size());
    payload += f.bytes;
  }
  return gHost.blob(ember::backend::writeArtifact(h, payload), out);
}

ember_error *signature(ember_executable *x, ember_blob *out) {
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  return gHost.blob(headerOf(*x).SerializeAsString(), out);
}

ember_error *load(ember_device *, const void *data, size_t size,
                  ember_executable **out) {
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_executable is NULL");
  auto a = ember::backend::readArtifact(data, size);
  if (!a)
    return fromStatus(a.status(), EMBER_STATUS_INVALID_ARGUMENT);
  const v1::ArtifactHeader &h = a->header;
  if (h.plugin_name() != kName)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact was made by plugin '" + h.plugin_name() +
                     "', not '" + kName + "'");
  auto x = std::make_unique<ember_executable>();
  for (auto &bf : h.files()) {
    if (bf.offset() > a->payload.size() ||
        bf.size() > a->payload.size() - bf.offset())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   "artifact file '" + bf.name() +
                       "' lies outside the payload");
    x->files.push_back(
        {bf.name(), a->payload.substr(size_t(bf.offset()), size_t(bf.size()))});
  }
  auto file = [&](const char *name) -> const std::string * {
    for (auto &f : x->files)
      if (f.name == name)
        return &f.bytes;
    return nullptr;
  };
  const std::string *obj = file("model.o"), *w = file("weights.bin"),
                    *facts = file("cpu.txt"), *prog = file("program.pb");
  if (!obj || !w || !facts)
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "artifact lacks model.o, weights.bin or cpu.txt");
  if (prog)
    x->program = *prog;
  for (int i = 0; i < h.inputs_size(); ++i) {
    auto t = ember::backend::fromProto(h.inputs(i));
    if (!t)
      return fromStatus(t.status(), EMBER_STATUS_INVALID_ARGUMENT);
    x->inputs.push_back(*t);
    x->inputNames.push_back(i < h.input_names_size() ? h.input_names(i) : "");
  }
  for (int i = 0; i < h.outputs_size(); ++i) {
    auto t = ember::backend::fromProto(h.outputs(i));
    if (!t)
      return fromStatus(t.status(), EMBER_STATUS_INVALID_ARGUMENT);
    x->outputs.push_back(*t);
    x->outputNames.push_back(i < h.output_names_size() ? h.output_names(i)
                                                       : "");
  }
  auto kv = ember::cpugen::readFacts(*facts);
  llvm::Triple t(kv["triple"]), host(llvm::sys::getProcessTriple());
  x->cfg.triple = kv["triple"];
  x->cfg.cpu = kv["cpu"];
  x->cfg.isa = uint8_t(std::atoi(kv["isa"].c_str()));
  x->cfg.kernels = kv["kernels"] == "portable"
                       ? ember::cpugen::Kernels::Portable
                   : kv["kernels"] == "edge" ? ember::cpugen::Kernels::Edge
                                             : ember::cpugen::Kernels::Library;
  uint8_t isa = x->cfg.isa;
  if (t.getArch() != host.getArch() || t.getOS() != host.getOS()) {
    x->notRunnable = "artifact is for '" + kv["triple"] + "'";
  } else if (x->cfg.kernels == ember::cpugen::Kernels::Library &&
             !ember::cpu::isaSupported(ember::cpu::Isa(isa))) {
    x->notRunnable = std::string("artifact needs the ") +
                     ember::cpu::isaName(ember::cpu::Isa(isa)) +
                     " kernels, which this CPU cannot run";
  } else {
    // Custom ops: their kernels again, from the program the artifact holds.
    std::map<std::string, void *> symbols;
    if (!kv["custom_nodes"].empty()) {
      if (!prog)
        return error(EMBER_STATUS_INVALID_ARGUMENT,
                     "artifact calls custom ops but holds no program.pb");
      auto pm = ember::backend::deserializeGraph(prog->data(), prog->size());
      if (!pm)
        return fromStatus(pm.status(), EMBER_STATUS_INVALID_ARGUMENT);
      auto nodes =
          ember::cpugen::customNodesByName(*(*pm)->main(), kv["custom_nodes"]);
      if (!nodes)
        return fromStatus(nodes.status(), EMBER_STATUS_INVALID_ARGUMENT);
      auto calls = ember::cpugen::CustomCalls::prepare(*nodes);
      if (!calls)
        return fromStatus(calls.status(), EMBER_STATUS_INVALID_ARGUMENT);
      x->customCalls = std::move(*calls);
      symbols = x->customCalls->symbols();
    }
    auto jit = ember::cpugen::JitModel::loadObject(*obj, symbols);
    if (!jit)
      return fromStatus(jit.status(), EMBER_STATUS_INVALID_ARGUMENT);
    x->jit = std::move(*jit);
    x->arenaBytes = std::strtoull(kv["arena_bytes"].c_str(), nullptr, 10);
    x->weights = alignedCopy(*w, w->size());
    x->arena = alignedCopy({}, x->arenaBytes);
    if (!x->weights || !x->arena)
      return error(EMBER_STATUS_OUT_OF_MEMORY, "cannot allocate the arena");
  }
  *out = x.release();
  return nullptr;
}

void release(ember_executable *x) { delete x; }

ember_error *execute(ember_device *d, const ember_execute_params *p,
                     ember_event **out) {
  if (!d)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "device is NULL");
  if (ember_error *e = checkStruct(
          p, offsetof(ember_execute_params, num_outputs) + sizeof(size_t),
          "ember_execute_params"))
    return e;
  ember_executable *x = p->executable;
  if (!x)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "executable is NULL");
  if (!x->jit)
    return error(EMBER_STATUS_UNSUPPORTED,
                 "cannot run this executable here: " + x->notRunnable);
  if (p->num_inputs != x->inputs.size() || p->num_outputs != x->outputs.size())
    return error(EMBER_STATUS_INVALID_ARGUMENT,
                 "the program has " + std::to_string(x->inputs.size()) +
                     " inputs and " + std::to_string(x->outputs.size()) +
                     " outputs; got " + std::to_string(p->num_inputs) +
                     " and " + std::to_string(p->num_outputs) + " buffers");
  if ((p->num_inputs && !p->inputs) || (p->num_outputs && !p->outputs))
    return error(EMBER_STATUS_INVALID_ARGUMENT, "buffer array is NULL");
  std::vector<void *> ins, outs;
  for (size_t i = 0; i < p->num_inputs + p->num_outputs; ++i) {
    bool isIn = i < p->num_inputs;
    size_t k = isIn ? i : i - p->num_inputs;
    ember_buffer *b = isIn ? p->inputs[k] : p->outputs[k];
    const ember::Type &t = isIn ? x->inputs[k] : x->outputs[k];
    if (!b || b->size < t.sizeInBytes())
      return error(EMBER_STATUS_INVALID_ARGUMENT,
                   std::string(isIn ? "input " : "output ") +
                       std::to_string(k) +
                       (b ? " buffer of " + std::to_string(b->size) +
                                " bytes is smaller than " + t.toString()
                          : " buffer is NULL"));
    (isIn ? ins : outs).push_back(b->data);
  }
  if (!out)
    return error(EMBER_STATUS_INVALID_ARGUMENT, "out_event is NULL");
  // Runs on the calling thread (its pool's worker 0) and returns an event
  // that is already complete: a thread per execution would cost more than
  // a small model's whole run.
  auto *ev = new (std::nothrow) ember_event();
  if (!ev)
    return error(EMBER_STATUS_OUT_OF_MEMORY, "execute: no memory");
  {
    std::lock_guard<std::mutex> l(x->runMu);
    ember::cpugen::ThreadPool::Binding bind(x->pool.get());
    int32_t st = x->jit->entry()(x->weights.get(), x->arena.get(), ins.data(),
                                 outs.data());
    if (st == ember::cpugen::kStatusIndexOutOfRange)
      ev->result = error(EMBER_STATUS_OUT_OF_RANGE,
                         "an operand is out of range (a Gather or ScatterND "
                         "index, an RNN/GRU/LSTM sequence length)");
    else if (st == ember::cpugen::kStatusCustomOp && x->customCalls)
      ev->result =
          error(EMBER_STATUS_INVALID_ARGUMENT, x->customCalls->lastError());
    else if (st)
      ev->result = error(EMBER_STATUS_INTERNAL,
                         "a kernel rejected its arguments (status " +
                             std::to_string(st) + ")");
  }
  ev->done = true;
  *out = ev;
  return nullptr;
}

ember_error *init(const ember_host_api *h) { return gHost.attach(h); }

// The function table (ember/plugin_table.hpp): each member fills the entry
// of its name; PluginBase gives the error functions and plugin_shutdown,
// HostMemory the one device and its buffers, AsyncEvents the events of
// execute, HostImport buffer_import_host: the arena, weights and kernels
// read inputs and write outputs in place wherever they are (bundles take
// any pointer too). executable_emit and event_profile stay NULL.
struct CpuPlugin : PluginBase, HostMemory, AsyncEvents, HostImport {
  static constexpr const char *name = kName;
  static constexpr const char *version = kVersion;
  static constexpr auto plugin_init = init;
  static constexpr auto get_capabilities = getCapabilities;
  static constexpr auto query_support = querySupport;
  static constexpr auto executable_compile = compile;
  static constexpr auto executable_serialize = serialize;
  static constexpr auto executable_load = load;
  static constexpr auto executable_release = release;
  static constexpr auto execute = ::execute;
  static constexpr auto executable_signature = signature;
};

} // namespace

EMBER_PLUGIN_ENTRY(CpuPlugin)
