// ember-accel: the stages of the NPU compiler layer (Ember::accel), text in
// and text out, for any target description (docs/npu-sdk.md, "Stages as
// text" and "The pipeline"):
//   ember-accel check DESC.json
//       validates a target description ("ok: ..." or the field at fault)
//   ember-accel claims DESC.json
//       the ops the description's forms claim, as the capability manifest
//       lists them (one line each: dtypes, ranks, constraint, context)
//   ember-accel --list-passes
//       the pipeline's passes (Pipeline.h): name, levels, what each does
//   ember-accel run FILE --target DESC.json [--stop-after=PASS]
//       [--option KEY=VALUE]... [--dim NAME=N]...
//       the pipeline from FILE's level (MODEL.onnx or .eir: the lowered
//       graph, one partition; .layers; .sched) through PASS (default: the
//       last), printing the IR after it as text that parses back
//   ember-accel select MODEL.onnx|MODEL.eir --target DESC.json
//       [--option islands=host|keep] [--dim NAME=N]... [--run N]
//       [--stop-after=PASS]
//       lowers the model (in the description's first arithmetic, as the
//       host does) and selects: per node whether the target runs it
//       (# comments), then the layer program; when some nodes stay on the
//       host (a quantized model's Q/DQ edges), the graph is cut into runs
//       as the partitioner cuts it and each run's layer program follows
//       its "# run N" line (--run N: that run's alone); each run goes
//       through the passes build and patches, or through PASS
//   ember-accel schedule FILE.layers --target DESC.json
//       [--stop-after tiling|residency|sync] [--option KEY=VALUE]...
//       the passes tiling, residency and sync, or through PASS; tiling:
//       each layer's tiling and steps alone (no residency, no prefetch, no
//       synchronization); residency: plus cascading, stripes and prefetch;
//       sync (default): plus dependency insertion
//   ember-accel sync FILE.sched --target DESC.json
//       the pass sync: the synchronization of a scheduled program (its
//       waits and signals made again from the operations' accesses)
// --stop-after takes any pass from the subcommand's first on (an unknown
// pass: an error listing them). Errors: one line "error: <what> (<where>)"
// on stderr, exit 1.
#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"
#include "import/InputShapes.h"
#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include "ember/accel/Options.h"
#include "ember/accel/Pipeline.h"
#include "ember/accel/Select.h"
#include "ember/accel/Sync.h"
#include "ember/accel/Text.h"
#include "ember/backend/v1/graph.pb.h"

#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

using namespace ember;

namespace {

int fail(const std::string &what) {
  std::fprintf(stderr, "error: %s\n", what.c_str());
  return 1;
}

bool readText(const std::string &path, std::string &out, std::string &err) {
  auto t = readFileBytes(path, uint64_t(1) << 31);
  if (!t) {
    err = t.status().message();
    return false;
  }
  out = *t;
  return true;
}

const char *const kUsage =
    "usage: ember-accel check DESC.json\n"
    "       ember-accel claims DESC.json\n"
    "       ember-accel --list-passes\n"
    "       ember-accel run MODEL.onnx|MODEL.eir|FILE.layers|FILE.sched "
    "--target DESC.json\n"
    "                   [--stop-after=PASS] [--option K=V]... [--dim "
    "NAME=N]...\n"
    "       ember-accel select MODEL.onnx|MODEL.eir --target DESC.json\n"
    "                   [--option islands=host|keep] [--dim NAME=N]... "
    "[--run N]\n"
    "                   [--stop-after=PASS]\n"
    "       ember-accel schedule FILE.layers --target DESC.json\n"
    "                   [--stop-after=tiling|residency|sync] [--option "
    "K=V]...\n"
    "       ember-accel sync FILE.sched --target DESC.json\n";

bool endsWith(const std::string &s, const char *tail) {
  const size_t n = std::strlen(tail);
  return s.size() >= n && s.compare(s.size() - n, n, tail) == 0;
}

// The passes: one line each (name, input -> output, what it does).
int listPasses() {
  for (const accel::Pass &p : accel::passes())
    std::printf("%-10s %-6s -> %-6s %s%s\n", p.name, accel::levelName(p.input),
                accel::levelName(p.output), p.description,
                p.fromText ? "" : " (not from text)");
  return 0;
}

// The IR of `st` as text: the layer and scheduled programs by the layer's
// printers, the graph by the graph IR's (it parses back with parseModule).
int printState(const accel::Target &t, const accel::PipelineState &st) {
  if (st.level != accel::Level::Graph)
    return std::fputs(accel::printLevel(t, st).c_str(), stdout), 0;
  auto m = backend::fromProto(*st.graph);
  if (!m)
    return fail(m.status().message());
  std::ostringstream os;
  printModule(os, **m);
  return std::fputs(os.str().c_str(), stdout), 0;
}

// Runs the passes from `first` through `stop` ("": the last) on `st`, then
// prints the IR; `where` names the input in errors.
int runPasses(const accel::Target &t, const accel::LayerOptions &lo,
              const std::string &first, const std::string &stop,
              accel::PipelineState &st, const std::string &where) {
  std::vector<const accel::Pass *> pipeline;
  std::string err = accel::passRange(first, stop, pipeline).message();
  if (!err.empty())
    return fail(err);
  err = accel::runPipeline(t, lo, pipeline, st).message();
  if (!err.empty())
    return fail(err + " (" + where + ")");
  return printState(t, st);
}

// The lowered graph of MODEL.onnx or MODEL.eir, in the requantization
// profile the host lowers it in for target `t`: the first of its declared
// arithmetic, else fixed (the plugin base's manifest lists the declared
// ones only; docs/npu-sdk.md, "Declaring the arithmetic").
Expected<std::unique_ptr<Module>> loweredModel(const std::string &file,
                                               const ImportOptions &io,
                                               const accel::Target &t) {
  std::unique_ptr<Module> m;
  if (endsWith(file, ".onnx")) {
    auto r = importOnnxFile(file, io, nullptr);
    if (!r)
      return r.status();
    m = std::move(*r);
  } else {
    auto t = readFileBytes(file, uint64_t(1) << 31);
    if (!t)
      return t.status();
    auto r = parseModule(*t, file);
    if (!r)
      return r.status();
    m = std::move(*r);
  }
  PipelineOptions po;
  po.lower = true;
  if (t.arithmeticDeclared && !t.arithmetic.empty())
    po.requant = t.arithmetic.front();
  Status s = runPipeline(*m, po);
  if (!s.isOk())
    return s;
  return m;
}

// `select` after the lowering: the claims, then the layer program of the
// whole graph, or of each run the partitioner cuts from the claimed nodes
// (each selected again alone, as a plugin's partition is).
int selectRuns(const accel::Target &t, const Function &f,
               const backend::v1::Graph &g, const accel::LayerOptions &lo,
               long only, const std::string &stop) {
  const accel::SelectOptions &so = lo.select;
  std::vector<std::string> why = accel::whyNot(t, g, so);
  backend::Support sup;
  for (const std::string &w : why) {
    sup.supported.push_back(w.empty());
    sup.reasons.push_back(w);
  }
  // The cut a plugin taking this description's programs is given (a node
  // whose run the layer cannot build is left to the host, with why).
  auto plan = backend::partitionForLayers(f, std::move(sup), t, so);
  if (!plan)
    return fail(plan.status().message());
  for (int i = 0; i < g.nodes_size(); ++i) {
    const auto &n = g.nodes(i);
    const std::string &w = plan->support.reasons[size_t(i)];
    std::printf("# node %d %s '%s': %s\n", i, n.op().c_str(), n.name().c_str(),
                plan->support.supported[size_t(i)] ? "runs" : w.c_str());
  }
  long runs = 0;
  for (const backend::Partition &p : plan->parts)
    runs += p.onPlugin;
  if (only > runs)
    return fail("--run " + std::to_string(only) + ": the target runs " +
                std::to_string(runs) + " run(s) of this model");
  long k = 0;
  for (const backend::Partition &p : plan->parts) {
    if (!p.onPlugin || (++k, only && k != only))
      continue;
    std::printf("# run %ld of %ld: %zu nodes, '%s' to '%s'\n", k, runs,
                p.nodes.size(), p.nodes.front()->name.c_str(),
                p.nodes.back()->name.c_str());
    backend::v1::Graph pg;
    Status s = backend::toProto(*p.graph->main(), pg);
    if (!s.isOk())
      return fail(s.message());
    accel::PipelineState st;
    st.graph = &pg;
    std::vector<const accel::Pass *> pipeline;
    std::string err =
        accel::passRange("build", stop.empty() ? "patches" : stop, pipeline)
            .message();
    if (!err.empty())
      return fail(err);
    err = accel::runPipeline(t, lo, pipeline, st).message();
    if (!err.empty())
      return fail("run " + std::to_string(k) + ": " + err);
    if (printState(t, st))
      return 1;
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc == 2 && std::string(argv[1]) == "--list-passes")
    return listPasses();
  if (argc < 3)
    return std::fputs(kUsage, stderr), 2;
  const std::string cmd = argv[1], file = argv[2];
  std::string targetPath = cmd == "check" || cmd == "claims" ? file : "", stop;
  accel::LayerOptions lo;
  ImportOptions io;
  io.shapes.defaults = true; // as ember: batch-like dims default to 1
  long run = 0;              // --run N (0: every run)
  for (int i = 3; i < argc; ++i) {
    std::string a = argv[i];
    std::string v;
    if (a.rfind("--stop-after=", 0) == 0) { // also --stop-after PASS
      v = a.substr(13);
      a = "--stop-after";
    } else if ((a == "--target" || a == "--stop-after" || a == "--option" ||
                a == "--dim" || a == "--run") &&
               i + 1 < argc) {
      v = argv[++i];
    } else {
      return std::fputs(kUsage, stderr), 2;
    }
    if (a == "--target") {
      targetPath = v;
    } else if (a == "--stop-after") {
      if (!accel::findPass(v))
        return fail("unknown pass '" + v +
                    "' (the passes: " + accel::passNames() + ")");
      stop = v;
    } else if (a == "--dim") {
      Status s = parseDimBinding(v, io.shapes);
      if (!s.isOk())
        return fail(s.message());
    } else if (a == "--run") {
      char *end = nullptr;
      run = std::strtol(v.c_str(), &end, 10);
      if (v.empty() || *end || run < 1)
        return fail("--run " + v + " (a run's number, from 1)");
    } else {
      size_t eq = v.find('=');
      bool known = false;
      std::string err = eq == std::string::npos
                            ? "--option " + v + " is not KEY=VALUE"
                            : accel::applyLayerOption(
                                  v.substr(0, eq), v.substr(eq + 1), lo, known)
                                  .message();
      if (err.empty() && !known)
        err = "unknown option '" + v.substr(0, eq) + "' (the layer takes " +
              accel::layerOptionKeys() + ")";
      if (!err.empty())
        return fail(err);
    }
  }
  if (targetPath.empty())
    return fail("--target DESC.json is required");
  std::string text, err;
  if (!readText(targetPath, text, err))
    return fail(err);
  accel::Target t;
  err = accel::parseTarget(text, t).message();
  if (!err.empty())
    return fail(err + " (" + targetPath + ")");
  if (cmd == "check") {
    std::printf("ok: target '%s' (hash %s): %lld lanes, %zu memories, %zu "
                "engines, %zu forms\n",
                t.name.c_str(), t.hash.c_str(), (long long)t.lanes,
                t.memories.size(), t.engines.size(), t.forms.size());
    return 0;
  }

  if (cmd == "claims") {
    auto list = [](const std::vector<std::string> &v) {
      std::string s;
      for (const std::string &e : v)
        s += (s.empty() ? "" : ",") + e;
      return s.empty() ? std::string("-") : s;
    };
    for (const accel::OpClaim &c : accel::claimedOps(t))
      std::printf("claim %s dtypes=%s ranks=%u..%u index_dtypes=%s "
                  "context_dtypes=%s\n  constraints: %s\n  context: %s\n",
                  c.op.c_str(), list(c.dtypes).c_str(), c.minRank, c.maxRank,
                  list(c.indexDtypes).c_str(), list(c.contextDtypes).c_str(),
                  c.constraints.c_str(),
                  c.context.empty() ? "-" : c.context.c_str());
    return 0;
  }

  const bool model = endsWith(file, ".onnx") || endsWith(file, ".eir");
  if (cmd == "select" || (cmd == "run" && model)) {
    auto m = loweredModel(file, io, t);
    if (!m)
      return fail(m.status().message());
    backend::v1::Graph g;
    Status s = backend::toProto(*(*m)->main(), g);
    if (!s.isOk())
      return fail(s.message());
    if (cmd == "select")
      return selectRuns(t, *(*m)->main(), g, lo, run, stop);
    accel::PipelineState st;
    st.graph = &g;
    return runPasses(t, lo, accel::firstPassFrom(accel::Level::Graph)->name,
                     stop, st, file);
  }

  // The subcommands on a program's text: the level it is and the first pass.
  accel::Level level = accel::Level::Layers;
  const char *first = "tiling";
  if (cmd == "sync" || (cmd == "run" && endsWith(file, ".sched"))) {
    level = accel::Level::Sched;
    first = cmd == "sync" ? "sync" : accel::firstPassFrom(level)->name;
  } else if (cmd == "run") {
    if (!endsWith(file, ".layers"))
      return fail("run: the input is a model (.onnx, .eir), a layer program "
                  "(.layers) or a scheduled program (.sched) (" +
                  file + ")");
    first = accel::firstPassFrom(level)->name;
  } else if (cmd != "schedule") {
    return std::fputs(kUsage, stderr), 2;
  }
  if (cmd == "sync" && stop.empty())
    stop = "sync";
  if (!readText(file, text, err))
    return fail(err);
  accel::PipelineState st;
  err = accel::parseLevel(t, level, text, st).message();
  if (!err.empty())
    return fail(err + " (" + file + ")");
  return runPasses(t, lo, first, stop, st, file);
}
