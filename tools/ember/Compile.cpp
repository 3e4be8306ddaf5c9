// `ember compile`: import (ONNX or graph IR text), optimize, lower, and
// emit a stage as text.
#include "Devices.h"
#include "Driver.h"
#include "ember/api/Target.h"

#include "ember/backend/v1/capability.pb.h"

#include "backend/Aot.h"
#include "backend/HeteroBundle.h"
#include "backend/LayerPath.h"

#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "lir/LirPass.h"
#include "lir/LirPipeline.h"

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

namespace ember::cli {

namespace {

// "a,b,c" -> {"a", "b", "c"}; empty items are skipped.
std::vector<std::string> splitList(const std::string &s) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',') {
      if (!cur.empty())
        out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

// What `ember compile` was asked: its options, as declared by
// addCompileOptions.
struct CompileArgs {
  TargetOptions topt;
  InputOptions inOpt;
  DeviceOptions dopt;
  std::string emit = "lowered", out, passes, lirPassList;
  bool timePasses = false, elide = false, memoryReport = false;
  std::vector<std::string> pos;
};

void addCompileOptions(Command &cmd, CompileArgs &a) {
  cmd.positional("MODEL",
                 "an ONNX model, graph IR text (.eir, docs/graph-ir.md) or "
                 "LIR text (.lir, docs/lir.md; --emit=lir only)",
                 a.pos, 1, 1);
  cmd.add({"--emit"}, "STAGE",
          "What to write: graph (graph IR after the passes), lowered (after "
          "lowering; the default), lir (the LIR after its passes), dot and "
          "dot-lowered (Graphviz), partitions (the plugin's per-node answer "
          "with reasons), artifact or bundle (ahead-of-time code of a plugin "
          "target), or a text form the target's plugin provides (npu-sim: "
          "npu-asm).",
          cmdline::text(a.emit));
  cmd.add({"-o"}, "OUT",
          "Where to write (default: stdout); a folder for --emit=bundle, a "
          "file for --emit=artifact (both need it).",
          cmdline::text(a.out));
  cmd.add({"--passes"}, "LIST",
          "The graph passes to run, in order, instead of the default "
          "pipeline (docs/passes.md); empty: none.",
          cmdline::text(a.passes, true));
  cmd.add({"--lir-passes"}, "LIST",
          "With --emit=lir: the LIR passes to run (default: the default "
          "order for graph input, none for .lir input); empty: none.",
          cmdline::text(a.lirPassList, true));
  cmd.add({"--time-passes"}, "",
          "Prints each pass's time, whether it changed the graph and the "
          "nodes after it to stderr.",
          cmdline::set(a.timePasses));
  cmd.add({"--elide-constants"}, "",
          "With --emit=lir: prints large constants as their size only.",
          cmdline::set(a.elide));
  cmd.add({"--memory-report"}, "",
          "With --emit=lir: the memory plan's report (peak, buffers, reuse) "
          "after the LIR.",
          cmdline::set(a.memoryReport));
  addTargetOptions(cmd, a.topt,
                   kTarget | kFallback | kOptLevel | kThreads | kBackendOpt |
                       kAotTarget | kRequant | kOpLibrary);
  addInputOptions(cmd, a.inOpt, false);
  addDeviceOptions(cmd, a.dopt, false);
}

// Whether --emit names a text form the target's plugin provides (ABI 1.3
// emit_formats, e.g. npu-asm); an error for a form nobody provides.
Expected<bool> pluginEmits(const CompileArgs &a) {
  const std::string &emit = a.emit, &target = a.topt.target;
  if (emit == "graph" || emit == "lowered" || emit == "dot" ||
      emit == "dot-lowered" || emit == "lir" || emit == "partitions" ||
      emit == "bundle" || emit == "artifact")
    return false;
  bool pluginEmit = false;
  std::string formats;
  if (target != "interp") {
    auto tgt = openTarget(a.topt);
    if (!tgt)
      return tgt.status();
    auto man = tgt->plugin->capabilities();
    if (!man)
      return man.status();
    for (const std::string &f : man->emit_formats()) {
      pluginEmit = pluginEmit || f == emit;
      formats += ", " + f;
    }
  }
  if (!pluginEmit)
    return unsupported("--emit=", emit,
                       " is not available (graph, lowered, lir, dot, "
                       "dot-lowered, partitions, artifact, bundle",
                       formats, ")");
  return true;
}

// --emit=bundle or artifact: ahead-of-time code of the plugin target into
// a.out.
int emitAhead(const CompileArgs &a, Module &m) {
  const std::string &emit = a.emit, &out = a.out;
  const TargetOptions &topt = a.topt;
  const backend::CompileOptions &ao = topt.compile;
  auto tgt = openTarget(topt);
  if (!tgt)
    return reportError(tgt.status());
  // An NPU target with the CPU backend beside it: a heterogeneous bundle
  // (its partitions on each, the NPU's through the driver interface).
  if (emit == "bundle" && tgt->fallback && tgt->allowFallback) {
    auto man = tgt->plugin->capabilities();
    if (!man)
      return reportError(man.status());
    if (backend::takesLayers(*tgt->plugin, *man)) {
      Status s = backend::writeHeteroBundle(*tgt->plugin, *tgt->fallback,
                                            *m.main(), ao, out);
      return s.isOk() ? 0 : reportError(s);
    }
  }
  auto art = backend::compileAhead(*tgt->plugin, *m.main(), ao);
  if (!art)
    return reportError(art.status());
  Status s = emit == "bundle" ? backend::writeBundle(*art, out)
                              : backend::writeFileBytes(out, *art);
  if (!s.isOk())
    return reportError(s);
  return 0;
}

// A text form the plugin provides: each plugin partition's text under a
// header naming its inputs and outputs.
int emitPluginText(const CompileArgs &a, Module &m, std::ostream &os) {
  const std::string &target = a.topt.target;
  auto tgt = openTarget(a.topt);
  if (!tgt)
    return reportError(tgt.status());
  const Function &f = *m.main();
  auto compiled = CompiledModel::create(*tgt, f);
  if (!compiled)
    return reportError(compiled.status());
  auto texts = (*compiled)->partitioned()->emit(a.emit);
  if (!texts)
    return reportError(texts.status());
  const auto &parts = (*compiled)->partitioned()->plan().parts;
  size_t k = 0;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (!parts[i].onPlugin)
      continue;
    os << "# ---- partition " << i << " (" << target << ", "
       << parts[i].nodes.size() << " nodes: inputs";
    for (auto &v : parts[i].inputs)
      os << " %" << v.name();
    os << "; outputs";
    for (auto &v : parts[i].outputs)
      os << " %" << v.name();
    os << ")\n" << (*texts)[k++];
  }
  return 0;
}

// --emit=partitions: the placement over --devices, or the plugin's per-node
// answer with reasons.
int emitPartitions(const CompileArgs &a, Module &m, std::ostream &os) {
  if (a.dopt.given()) {
    auto r = loadDevices(a.dopt, a.topt);
    if (!r)
      return reportError(r.status());
    Status s = printDevicePlacement(os, *r, *m.main());
    return s.isOk() ? 0 : reportError(s);
  }
  auto tgt = openTarget(a.topt);
  if (!tgt)
    return reportError(tgt.status());
  const Function &f = *m.main();
  auto sup = backend::querySupport(*tgt->plugin, f, &a.topt.compile);
  if (!sup)
    return reportError(sup.status());
  // The plan a run executes (what does not build as a layer program, or
  // does not fit the DRAM, goes to the host with the reason).
  auto layerTgt = backend::hostLayerTarget(*tgt->plugin);
  if (!layerTgt)
    return reportError(layerTgt.status());
  auto plan = backend::runPlan(f, std::move(*sup), *layerTgt, a.topt.compile);
  if (!plan)
    return reportError(plan.status());
  backend::printPartitions(os, f, *plan, a.topt.target, tgt->fallbackName);
  return 0;
}

} // namespace

int compileMain(int argc, char **argv) {
  Command cmd = makeCommand("compile");
  CompileArgs a;
  addCompileOptions(cmd, a);
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  const TargetOptions &topt = a.topt;
  const DeviceOptions &dopt = a.dopt;
  const std::string &emit = a.emit, &out = a.out;
  const bool timePasses = a.timePasses, elide = a.elide,
             memoryReport = a.memoryReport;
  const std::vector<std::string> &pos = a.pos;
  // Custom ops first: the model's import needs them.
  if (Status ls = loadOpLibraries(topt); !ls.isOk())
    return reportError(ls);
  if (dopt.given() && (emit != "partitions" || cmd.given("--target")))
    return cmd.usageError("--devices goes with --emit=partitions (the "
                          "placement), without --target");
  const std::string &target = topt.target;
  const std::string &triple = topt.compile.targetTriple,
                    &cpu = topt.compile.targetCpu;
  const bool havePasses = cmd.given("--passes");
  const bool haveLirPasses = cmd.given("--lir-passes");
  std::vector<std::string> lirPasses = splitList(a.lirPassList);
  ImportOptions io;
  Status s = readShapeOptions(a.inOpt, io, nullptr);
  if (s.isOk())
    s = checkTarget(target);
  if (!s.isOk())
    return reportError(s);
  auto emits = pluginEmits(a);
  if (!emits)
    return reportError(emits.status());
  const bool pluginEmit = *emits;
  bool aot = emit == "bundle" || emit == "artifact";
  if ((emit == "partitions" || aot) && target == "interp" && !dopt.given())
    return cmd.usageError(concat("--emit=", emit,
                                 " needs a plugin target (--target=cpu, "
                                 "--target=plugin:PATH.so, ...)"));
  if (aot && out.empty())
    return cmd.usageError(concat("--emit=", emit, " needs -o ",
                                 emit == "bundle" ? "DIR" : "FILE"));
  if (!aot && (!triple.empty() || !cpu.empty()))
    return cmd.usageError(
        "--target-triple and --target-cpu need --emit=bundle or "
        "--emit=artifact");
  if (memoryReport && emit != "lir")
    return cmd.usageError("--memory-report needs --emit=lir");
  if (haveLirPasses && emit != "lir")
    return cmd.usageError("--lir-passes needs --emit=lir");
  for (auto &p : lirPasses)
    if (!lir::findLirPass(p))
      return reportError(invalid("unknown LIR pass '", p, "'"));

  std::ofstream file;
  std::ostream *os = &std::cout;
  if (!out.empty() && !aot) {
    file.open(out);
    if (!file)
      return reportError(makeError(ErrorCode::Io, "cannot write '", out, "'"));
    os = &file;
  }
  // LIR text in: parse, verify, plan if needed, print (lit tests of LIR).
  if (pos[0].size() > 4 && pos[0].compare(pos[0].size() - 4, 4, ".lir") == 0) {
    if (emit != "lir")
      return cmd.usageError("a .lir file can only be emitted as --emit=lir");
    auto text = readFileBytes(pos[0], uint64_t(1) << 31);
    if (!text)
      return reportError(text.status());
    Status ls = emitLirText(*text, pos[0], *os, memoryReport, std::cout,
                            haveLirPasses ? &lirPasses : nullptr);
    return ls.isOk() ? 0 : reportError(ls);
  }

  auto t0 = std::chrono::steady_clock::now();
  auto m = loadModelPrintingNotes(pos[0], io);
  if (!m)
    return reportError(m.status());
  if (timePasses)
    std::fprintf(stderr,
                 "pass                      time_ms  changed  nodes_after\n"
                 "import                  %9.3f %8s %12zu\n",
                 std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - t0)
                     .count(),
                 "-", (*m)->main()->countNonStorage());
  PipelineOptions po = topt.pipeline();
  po.lower = emit == "lowered" || emit == "dot-lowered" || emit == "lir" ||
             emit == "partitions" || aot || pluginEmit;
  if (po.lower) {
    // The integer forms in the target's requantization profile.
    auto tgt = openTarget(topt);
    if (!tgt)
      return reportError(tgt.status());
    po.requant = tgt->requant;
    po.keepCustom = tgt->keepCustom;
    po.keepCustom = tgt->keepCustom;
  }
  if (timePasses)
    po.timePasses = &std::cerr;
  if (havePasses) {
    po.passes = splitList(a.passes);
    if (po.passes.empty())
      po.optimize = false;
  }
  s = runPipeline(**m, po);
  if (!s.isOk())
    return reportError(s);
  if (timePasses)
    std::fprintf(stderr, "compile_total_ms %.3f (import through %s)\n",
                 std::chrono::duration<double, std::milli>(
                     std::chrono::steady_clock::now() - t0)
                     .count(),
                 po.lower ? "lowering" : "optimization");

  if (emit == "lir") {
    // The memory report goes to stdout, after the LIR when both go there.
    std::ostringstream report;
    s = emitLir(**m, *os, memoryReport, report, elide ? 16 : 0,
                haveLirPasses ? &lirPasses : nullptr);
    if (!s.isOk())
      return reportError(s);
    std::cout << report.str();
    return 0;
  }
  if (aot)
    return emitAhead(a, **m);
  if (pluginEmit)
    return emitPluginText(a, **m, *os);
  if (emit == "partitions")
    return emitPartitions(a, **m, *os);
  if (emit == "dot" || emit == "dot-lowered") {
    printDot(*os, *(*m)->main());
  } else {
    PrintOptions popt;
    popt.elideConstantsAbove = elide ? 16 : 0;
    printModule(*os, **m, popt);
  }
  return 0;
}

} // namespace ember::cli
