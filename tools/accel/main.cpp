// ember-accel: the stages of the NPU compiler layer (Ember::accel), text in
// and text out, for any target description (docs/npu-sdk.md, "Stages as
// text"):
//   ember-accel check DESC.json
//       validates a target description ("ok: ..." or the field at fault)
//   ember-accel claims DESC.json
//       the ops the description's forms claim, as the capability manifest
//       lists them (one line each: dtypes, ranks, constraint, context)
//   ember-accel select MODEL.onnx|MODEL.eir --target DESC.json
//       [--option islands=host|keep] [--dim NAME=N]... [--run N]
//       lowers the model and selects: per node whether the target runs it
//       (# comments), then the layer program; when some nodes stay on the
//       host (a quantized model's Q/DQ edges), the graph is cut into runs
//       as the partitioner cuts it and each run's layer program follows
//       its "# run N" line (--run N: that run's alone)
//   ember-accel schedule FILE.layers --target DESC.json
//       [--stop-after tiling|residency|sync] [--option KEY=VALUE]...
//       tiles and schedules a layer program; tiling: each layer's tiling
//       and steps alone (no residency, no prefetch, no synchronization);
//       residency: plus cascading, stripes and prefetch; sync (default):
//       plus dependency insertion
//   ember-accel sync FILE.sched --target DESC.json
//       inserts the synchronization of a scheduled program (its waits and
//       signals made again from the operations' accesses)
// Errors: one line "error: <what> (<where>)" on stderr, exit 1.
#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"
#include "import/InputShapes.h"
#include "import/OnnxImporter.h"
#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "passes/Pass.h"

#include "ember/accel/Options.h"
#include "ember/accel/Select.h"
#include "ember/accel/Sync.h"
#include "ember/accel/Text.h"
#include "ember/backend/v1/graph.pb.h"

#include <cstdio>
#include <cstring>
#include <iostream>
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
    "       ember-accel select MODEL.onnx|MODEL.eir --target DESC.json\n"
    "                   [--option islands=host|keep] [--dim NAME=N]... "
    "[--run N]\n"
    "       ember-accel schedule FILE.layers --target DESC.json\n"
    "                   [--stop-after tiling|residency|sync] [--option "
    "K=V]...\n"
    "       ember-accel sync FILE.sched --target DESC.json\n";

// `select` after the lowering: the claims, then the layer program of the
// whole graph, or of each run the partitioner cuts from the claimed nodes
// (each selected again alone, as a plugin's partition is).
int selectRuns(const accel::Target &t, const Function &f,
               const backend::v1::Graph &g, const accel::SelectOptions &so,
               long only) {
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
    accel::LayerProgram lp;
    std::string err = accel::buildLayers(t, pg, lp, so);
    if (!err.empty())
      return fail("run " + std::to_string(k) + ": " + err);
    std::fputs(accel::printLayers(t, lp).c_str(), stdout);
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3)
    return std::fputs(kUsage, stderr), 2;
  const std::string cmd = argv[1], file = argv[2];
  std::string targetPath = cmd == "check" || cmd == "claims" ? file : "",
              stop = "sync";
  accel::LayerOptions lo;
  ImportOptions io;
  io.shapes.defaults = true; // as ember: batch-like dims default to 1
  long run = 0;              // --run N (0: every run)
  for (int i = 3; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--target" || a == "--stop-after" || a == "--option" ||
         a == "--dim" || a == "--run") &&
        i + 1 < argc) {
      const std::string v = argv[++i];
      if (a == "--target") {
        targetPath = v;
      } else if (a == "--stop-after") {
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
        std::string err =
            eq == std::string::npos
                ? "--option " + v + " is not KEY=VALUE"
                : accel::applyLayerOption(v.substr(0, eq), v.substr(eq + 1), lo,
                                          known);
        if (err.empty() && !known)
          err = "unknown option '" + v.substr(0, eq) + "' (the layer takes " +
                accel::layerOptionKeys() + ")";
        if (!err.empty())
          return fail(err);
      }
    } else {
      return std::fputs(kUsage, stderr), 2;
    }
  }
  if (targetPath.empty())
    return fail("--target DESC.json is required");
  std::string text, err;
  if (!readText(targetPath, text, err))
    return fail(err);
  accel::Target t;
  err = accel::parseTarget(text, t);
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

  if (cmd == "select") {
    std::unique_ptr<Module> m;
    if (file.size() > 5 && file.compare(file.size() - 5, 5, ".onnx") == 0) {
      auto r = importOnnxFile(file, io, nullptr);
      if (!r)
        return fail(r.status().message());
      m = std::move(*r);
    } else {
      if (!readText(file, text, err))
        return fail(err);
      auto r = parseModule(text, file);
      if (!r)
        return fail(r.status().message());
      m = std::move(*r);
    }
    PipelineOptions po;
    po.lower = true;
    Status s = runPipeline(*m, po);
    if (!s.isOk())
      return fail(s.message());
    backend::v1::Graph g;
    s = backend::toProto(*m->main(), g);
    if (!s.isOk())
      return fail(s.message());
    return selectRuns(t, *m->main(), g, lo.select, run);
  }

  if (!readText(file, text, err))
    return fail(err);
  if (cmd == "schedule") {
    accel::LayerProgram lp;
    err = accel::parseLayers(t, text, lp);
    if (!err.empty())
      return fail(err + " (" + file + ")");
    accel::CodegenOptions &co = lo.codegen;
    if (stop == "tiling") {
      co.cascade = co.prefetch = false;
      co.stripes = accel::StripeMode::Off;
      co.sync = false;
    } else if (stop == "residency") {
      co.sync = false;
    } else if (stop != "sync") {
      return fail("--stop-after " + stop + " (tiling, residency or sync)");
    }
    accel::Program p;
    err = accel::generateProgram(t, lp, co, p);
    if (!err.empty())
      return fail(err);
    std::fputs(accel::printProgram(t, p).c_str(), stdout);
    return 0;
  }
  if (cmd == "sync") {
    accel::Program p;
    err = accel::parseProgram(t, text, p);
    if (!err.empty())
      return fail(err + " (" + file + ")");
    if (p.ops.empty() || p.ops.back().kind != accel::OpKind::Finish)
      return fail("the program does not end with finish (" + file + ")");
    err = accel::assignSync(t, p.ops, nullptr);
    if (!err.empty())
      return fail(err + " (" + file + ")");
    std::fputs(accel::printProgram(t, p).c_str(), stdout);
    return 0;
  }
  return std::fputs(kUsage, stderr), 2;
}
