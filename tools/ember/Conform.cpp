// `ember conform`: runs ONNX test cases (model.onnx + test_data_set_*/) and
// ONNX "light" model cases (NAME.onnx + NAME_output_0.pb) through the
// pipeline and the target, and compares with the expected outputs.
// Each case runs in a forked child, so a crash or hang in one case is
// reported as ERROR for that case and the run goes on.
#include "Driver.h"
#include "Target.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "lir/LirPipeline.h"
#include "support/Xml.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <fstream>
#include <poll.h>
#include <sstream>
#include <sys/stat.h>
#include <sys/wait.h>
#include <tuple>
#include <unistd.h>

namespace ember::cli {
namespace {

struct Case {
  std::string name;   // shown in output
  std::string model;  // path to .onnx
  std::string dir;    // folder with test_data_set_*, or "" for light layout
  std::string prefix; // light layout: NAME (outputs NAME_output_K.pb)
};

struct CaseResult {
  std::string status; // PASS FAIL UNSUPPORTED ERROR
  std::string reason;
  double seconds = 0;
};

struct ConformOptions {
  std::string target = "interp";
  double rtol = 1e-3, atol = 1e-7;
  // Extra tolerance, in output quanta, for outputs a DequantizeLinear
  // computes (int8 models: docs/quantization.md); 0 = off.
  double quanta = 0;
  bool lower = true;
  PipelineOptions pipeline; // -O<N>, --skip-pass
  bool lir = false;     // run through IRGen + memory planning + LIR interpreter
  Target runtime;       // the loaded target (interp: no plugin)
  int timeoutSec = 600; // a case still running after this is killed
  ShapeBindings shapes; // --dim (and defaults for inputs without data)
  // Specialize on the values of inputs that decide shapes (re-import with
  // them frozen); --no-freeze turns it off, so control flow must work with
  // conditions and trip counts known only at run time.
  bool freeze = true;
};

bool isDir(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
bool isFile(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}
std::vector<std::string> listDir(const std::string &d) {
  std::vector<std::string> v;
  if (DIR *dp = opendir(d.c_str())) {
    while (dirent *e = readdir(dp))
      if (e->d_name[0] != '.')
        v.push_back(e->d_name);
    closedir(dp);
  }
  std::sort(v.begin(), v.end());
  return v;
}
std::string baseName(std::string p) {
  while (p.size() > 1 && p.back() == '/')
    p.pop_back();
  size_t s = p.find_last_of('/');
  return s == std::string::npos ? p : p.substr(s + 1);
}

void collectCases(const std::string &path, std::vector<Case> &out) {
  if (isFile(path) && path.size() > 5 &&
      path.compare(path.size() - 5, 5, ".onnx") == 0) {
    std::string stem = path.substr(0, path.size() - 5);
    if (isFile(stem + "_output_0.pb"))
      out.push_back({baseName(stem), path, "", stem});
    else if (isDir(path.substr(0, path.find_last_of('/') + 1) +
                   "test_data_set_0"))
      out.push_back({baseName(path.substr(0, path.find_last_of('/'))), path,
                     path.substr(0, path.find_last_of('/')), ""});
    return;
  }
  if (!isDir(path))
    return;
  if (isFile(path + "/model.onnx")) {
    out.push_back({baseName(path), path + "/model.onnx", path, ""});
    return;
  }
  for (auto &e : listDir(path)) {
    std::string p = path + "/" + e;
    if (isDir(p) && isFile(p + "/model.onnx"))
      out.push_back({e, p + "/model.onnx", p, ""});
    else if (isFile(p) && e.size() > 5 &&
             e.compare(e.size() - 5, 5, ".onnx") == 0) {
      std::string stem = p.substr(0, p.size() - 5);
      if (isFile(stem + "_output_0.pb"))
        out.push_back({e.substr(0, e.size() - 5), p, "", stem});
    }
  }
}

std::vector<std::string> numbered(const std::string &dir,
                                  const std::string &prefix) {
  std::vector<std::string> v;
  for (int i = 0;; ++i) {
    std::string p = dir + "/" + prefix + std::to_string(i) + ".pb";
    if (!isFile(p))
      break;
    v.push_back(p);
  }
  return v;
}

// Compares one output; empty string when it matches.
std::string compare(const Tensor &got, const Tensor &wantIn, double rtol,
                    double atol) {
  // ONNX <= 1.12 stored bfloat16 test data as uint16 bit patterns.
  Tensor want = wantIn;
  if (got.elem() == ElemKind::BF16 && want.elem() == ElemKind::U16)
    want.setType(want.type().withElem(ElemKind::BF16));
  if (got.elem() != want.elem())
    return concat("element type ", elemKindName(got.elem()), " != expected ",
                  elemKindName(want.elem()));
  if (got.dims() != want.dims())
    return concat("shape ", got.type().toString(), " != expected ",
                  want.type().toString());
  bool exactKind = !isFloatKind(got.elem());
  // 16-bit floats carry ~3 decimal digits: never ask for less than a few
  // units in the last place of the type.
  if (got.elem() == ElemKind::F16)
    rtol = std::max(rtol, 4.0 / 1024);
  if (got.elem() == ElemKind::BF16)
    rtol = std::max(rtol, 2.0 / 128);
  for (int64_t i = 0; i < got.size(); ++i) {
    if (exactKind) {
      int64_t g = got.getInt(i), w = want.getInt(i);
      if (std::llabs(g - w) > int64_t(atol))
        return concat("element ", i, ": got ", g, ", expected ", w);
      continue;
    }
    double g = got.getDouble(i), w = want.getDouble(i);
    if (std::isnan(w) && std::isnan(g))
      continue;
    if (std::isinf(w) && g == w)
      continue;
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w)))
      return concat("element ", i, ": got ", g, ", expected ", w, " (|diff| ",
                    std::fabs(g - w), ")");
  }
  return "";
}

// One quantum of an output: the scale of the DequantizeLinear that computes
// it (per tensor, constant), 1 for an integer output, else 0.
double outputQuantum(Value v) {
  if (!v.node)
    return 0;
  if (isIntKind(v.type().elem()))
    return 1;
  const Node &n = *v.node;
  if (n.kind != OpKind::DequantizeLinear || !n.inputs[1].node ||
      n.inputs[1].node->kind != OpKind::Constant)
    return 0;
  const Tensor &scale = *n.inputs[1].node->payload;
  return scale.size() == 1 ? std::fabs(scale.getDouble(0)) : 0;
}

CaseResult classify(const Status &s) {
  bool unsup = s.code() == ErrorCode::Unsupported ||
               s.code() == ErrorCode::DataDependent;
  return {unsup ? "UNSUPPORTED" : "ERROR", s.message()};
}

// Runs one case in the current process.
CaseResult runCase(const Case &c, const ConformOptions &o) {
  std::vector<int> typesStore;
  auto names = onnxInputNames(c.model, &typesStore);
  if (!names)
    return classify(names.status());
  const std::vector<int> *types = &typesStore;
  std::vector<std::pair<std::vector<Tensor>, std::vector<Tensor>>> sets;
  std::vector<std::string> setNames; // test_data_set_N, for messages
  if (c.dir.empty()) {
    // Light layout: inputs are arange(n)/n (ONNX's dummy data), outputs
    // NAME_output_K.pb.
    std::vector<Tensor> ins, outs;
    for (int k = 0;; ++k) {
      std::string p = c.prefix + "_output_" + std::to_string(k) + ".pb";
      if (!isFile(p))
        break;
      auto t = readTensorFile(p);
      if (!t)
        return classify(t.status());
      outs.push_back(std::move(*t));
    }
    sets.push_back({{}, std::move(outs)});
    setNames.push_back("");
  } else {
    for (auto &e : listDir(c.dir)) {
      if (e.rfind("test_data_set_", 0) != 0 || !isDir(c.dir + "/" + e))
        continue;
      std::vector<Tensor> ins, outs;
      std::vector<std::string> inNames;
      for (auto &p : numbered(c.dir + "/" + e, "input_")) {
        std::string nm;
        auto t = readTensorFile(p, &nm);
        if (!t)
          return classify(t.status());
        ins.push_back(std::move(*t));
        inNames.push_back(nm);
      }
      for (auto &p : numbered(c.dir + "/" + e, "output_")) {
        auto t = readTensorFile(p);
        if (!t)
          return classify(t.status());
        outs.push_back(std::move(*t));
      }
      sets.push_back({std::move(ins), std::move(outs)});
      setNames.push_back(e);
    }
    if (sets.empty())
      return {"ERROR", "no test_data_set_* folder"};
  }

  for (size_t si = 0; si < sets.size(); ++si) {
    auto &ds = sets[si];
    std::map<std::string, Tensor> feed;
    ImportOptions io;
    io.shapes = o.shapes;
    if (c.dir.empty()) {
      // Light models: shapes come from the model; dummy values below.
    } else {
      if (ds.first.size() > names->size())
        return {"ERROR", concat("test data has ", ds.first.size(),
                                " inputs, the model ", names->size())};
      for (size_t i = 0; i < ds.first.size(); ++i) {
        if (ds.first[i].elem() == ElemKind::U16 &&
            (*types)[i] == elemKindToOnnx(ElemKind::BF16)) // legacy bf16 data
          ds.first[i].setType(ds.first[i].type().withElem(ElemKind::BF16));
        feed[(*names)[i]] = ds.first[i];
        io.shapes.inputs[(*names)[i]] = {
            ds.first[i].dims(),
            concat("test data ", setNames[si], "/input_", i, ".pb")};
      }
    }
    // Import, specializing on inputs whose values decide shapes.
    std::unique_ptr<Module> m;
    for (int attempt = 0;; ++attempt) {
      ImportStats stats;
      auto r = importOnnxFile(c.model, io, &stats);
      if (r) {
        for (auto &n : stats.notes)
          std::fprintf(stderr, "note: %s: %s\n", c.name.c_str(), n.c_str());
        m = std::move(*r);
        break;
      }
      Status s = r.status();
      if (s.code() != ErrorCode::DataDependent || attempt > 8 || !o.freeze)
        return classify(s);
      auto it = feed.find(s.dependentInput);
      if (!s.dependentInput.empty() && it != feed.end() &&
          !io.frozenInputs.count(s.dependentInput)) {
        io.frozenInputs[it->first] = it->second;
        continue;
      }
      if (io.frozenInputs.size() == feed.size())
        return classify(s);
      for (auto &kv : feed) // last resort: specialize on every input
        io.frozenInputs[kv.first] = kv.second;
    }
    PipelineOptions po = o.pipeline;
    po.lower = o.lower;
    Status ps = runPipeline(*m, po);
    if (!ps.isOk())
      return classify(ps);
    Function &f = *m->main();
    std::vector<Tensor> inputs;
    for (Node *p : f.params()) {
      const std::string &nm = p->outNames[0];
      auto it = feed.find(nm);
      if (it != feed.end()) {
        inputs.push_back(it->second);
      } else if (c.dir.empty() && isFloatKind(p->types[0].elem())) {
        Tensor t(p->types[0]);
        int64_t n = t.size();
        for (int64_t i = 0; i < n; ++i)
          t.setDouble(i, double(float(double(i) / double(n))));
        inputs.push_back(std::move(t));
      } else {
        return {"ERROR", concat("no data for input '", nm, "'")};
      }
    }
    auto outs = o.lir ? runLir(f, inputs) : runOnTarget(o.runtime, f, inputs);
    if (!outs)
      return classify(outs.status());
    if (outs->size() < ds.second.size())
      return {"FAIL", concat("model produced ", outs->size(),
                             " outputs, expected ", ds.second.size())};
    for (size_t i = 0; i < ds.second.size(); ++i) {
      double atol = o.atol;
      if (o.quanta > 0)
        atol += o.quanta * outputQuantum(f.outputs()[i].value);
      std::string why = compare((*outs)[i], ds.second[i], o.rtol, atol);
      if (!why.empty())
        return {"FAIL",
                concat("output #", i, " '", f.outputs()[i].name, "': ", why)};
    }
  }
  return {"PASS", ""};
}

std::string oneLine(std::string s) {
  for (char &ch : s)
    if (ch == '\n' || ch == '\t' || ch == '\r')
      ch = ' ';
  if (s.size() > 400)
    s = s.substr(0, 400) + "...";
  return s;
}

struct Child {
  pid_t pid;
  int fd;
  size_t index;
  std::string buf;
  double start;
};

double nowSec() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

// `ember conform --kit --target=plugin:X [--junit F] [--json F] [--layers L]
// [--reference R] [--timeout SEC]` hands over to the conformance kit
// (ember-kit, beside ember).
int runKitFor(const Command &cmd, const std::string &target,
              const std::vector<std::pair<std::string, std::string>> &kitArgs) {
  std::vector<std::string> args;
  auto path = pluginPathFor(target);
  if (!path)
    return reportError(path.status());
  if (path->empty())
    return cmd.usageError(
        "--kit needs a plugin target (--target=plugin:PATH.so)");
  args.push_back("--plugin=" + *path);
  for (const auto &[opt, v] : kitArgs)
    args.push_back(opt + "=" + v);
  std::string kit = pluginDir() + "/../../bin/ember-kit";
  std::vector<char *> argv;
  argv.push_back(const_cast<char *>(kit.c_str()));
  for (auto &x : args)
    argv.push_back(const_cast<char *>(x.c_str()));
  argv.push_back(nullptr);
  std::fflush(stdout);
  execv(kit.c_str(), argv.data());
  return reportError(makeError(ErrorCode::Io,
                               "cannot run the conformance kit '", kit,
                               "': ", std::strerror(errno)));
}

int conformMain(int argc, char **argv) {
  Command cmd = makeCommand("conform");
  std::vector<std::string> paths;
  cmd.positional("PATH",
                 "An ONNX test-case folder (model.onnx and "
                 "test_data_set_*/input_*.pb, output_*.pb), a folder of them, "
                 "or a light model (NAME.onnx beside NAME_output_0.pb).",
                 paths, 0, SIZE_MAX);
  ConformOptions o;
  TargetOptions t;
  InputOptions inOpt;
  addTargetOptions(cmd, t, kRunTarget, "",
                   "none (a plugin passes only what it runs itself); for "
                   "npu-sim, as run: cpu when it is built, else interp.");
  addInputOptions(cmd, inOpt, false);
  std::string junit;
  int jobs = 1;
  uint64_t minPass = 0;
  bool kit = false, noLower = false, noFork = false, noFreeze = false;
  cmd.sectionTitle("check", "checking");
  cmd.add({"--rtol"}, "R",
          "Relative tolerance of a float output: |got - want| <= atol + "
          "rtol * |want|. Default: 0.001 (at least 4 ulp for f16, bf16).",
          cmdline::realIn(o.rtol, 0, 1e6))
      .inSection("check");
  cmd.add({"--atol"}, "A",
          "Absolute tolerance (integer outputs: the largest difference "
          "allowed). Default: 1e-07.",
          cmdline::realIn(o.atol, 0, 1e18))
      .inSection("check");
  cmd.add({"--quanta"}, "Q",
          "Extra absolute tolerance, in output quanta, for an output that a "
          "DequantizeLinear computes: Q times its scale (int8 models, "
          "docs/quantization.md). Default: 0, off.",
          cmdline::realIn(o.quanta, 0, 1e6))
      .inSection("check");
  cmd.add({"--no-lower"}, "",
          "Runs the optimized graph without lowering it to the primitive "
          "set.",
          cmdline::set(noLower))
      .inSection("check");
  cmd.add({"--lir"}, "",
          "Runs through the LIR (IR generation, memory planning, the LIR "
          "interpreter) instead of the graph interpreter; --target=interp "
          "only.",
          cmdline::set(o.lir))
      .inSection("check");
  cmd.add({"--no-freeze"}, "",
          "Does not specialize a case on the values of the inputs that "
          "decide shapes (an axes operand): the model must then work with "
          "those values unknown at compile time.",
          cmdline::set(noFreeze))
      .inSection("check");
  cmd.add({"--min-pass"}, "N",
          "Exits 0 when at least N cases pass, whatever fails (a floor for "
          "CI). Default: exit 0 only when nothing fails.",
          cmdline::uintIn(minPass, 0, UINT32_MAX))
      .inSection("check");
  cmd.sectionTitle("run", "running");
  cmd.add({"--jobs", "-j"}, "N",
          "Cases run at once, each in a process of its own, 1 to 256. "
          "Default: 1.",
          cmdline::uintIn(jobs, 1, 256))
      .inSection("run");
  cmd.add({"--no-fork"}, "",
          "Runs the cases in this process, one after the other (debugging: "
          "a crash ends the run).",
          cmdline::set(noFork))
      .inSection("run");
  cmd.add({"--junit"}, "FILE",
          "Also writes the results as JUnit XML (with --kit: the kit's).",
          cmdline::text(junit))
      .inSection("run");
  // --kit: the plugin conformance kit (tools/kit/README.md), with the
  // options it takes.
  std::vector<std::pair<std::string, std::string>> kitArgs;
  cmd.sectionTitle("kit", "conformance kit");
  cmd.add({"--kit"}, "",
          "Runs the plugin conformance kit (ember-kit, tools/kit/README.md) "
          "on --target=plugin:... instead of test cases; takes no PATH.",
          cmdline::set(kit))
      .inSection("kit");
  for (auto [name, meta, help] :
       {std::tuple{"--json", "FILE", "With --kit: the kit's JSON report."},
        std::tuple{"--layers", "LIST",
                   "With --kit: the layers to run, comma-separated (ember-kit "
                   "--help lists them). Default: all."},
        std::tuple{"--reference", "PATH.so",
                   "With --kit: the plugin the kit checks results against. "
                   "Default: the interpreter plugin."}}) {
    std::string n = name;
    cmd.add({n}, meta, help,
            [&kitArgs, n](const std::string &v) -> std::string {
              kitArgs.push_back({n, v});
              return "";
            })
        .inSection("kit");
  }
  if (auto rc = cmd.parse(argc, argv, 2))
    return *rc;
  o.target = t.target;
  if (kit) {
    for (const cmdline::Option &opt : cmd.options()) {
      const std::string &n = opt.names[0];
      if (cmd.given(n) && opt.section != "kit" && n != "--target" &&
          n != "--junit" && n != "--timeout")
        return cmd.usageError(n + " does not apply to --kit");
    }
    if (!paths.empty())
      return cmd.usageError(
          "--kit takes no PATH (the kit generates its own cases)");
    if (!junit.empty())
      kitArgs.push_back({"--junit", junit});
    if (t.timeout) {
      // The kit times out hung plugins to recover from them: it takes a
      // limit of whole seconds, no "none".
      if (*t.timeout <= 0)
        return cmd.usageError("--kit needs a --timeout of 1 second or more "
                              "(the kit recovers from a hung plugin by its "
                              "limit)");
      kitArgs.push_back(
          {"--timeout", std::to_string(int64_t(std::ceil(*t.timeout)))});
    }
    return runKitFor(cmd, o.target, kitArgs);
  }
  for (const char *n : {"--json", "--layers", "--reference"})
    if (cmd.given(n))
      return cmd.usageError(std::string(n) + " needs --kit");
  if (paths.empty())
    return cmd.usageError("missing PATH, or --kit");
  // --timeout limits each plugin call; a whole case gets more.
  double callLimit = 0;
  applyTimeout(t, &callLimit);
  if (callLimit > 0)
    o.timeoutSec = std::max(600, int(2 * callLimit) + 60);
  o.lower = !noLower;
  o.pipeline = t.pipeline();
  o.freeze = !noFreeze;
  if (o.lir && !o.lower)
    return cmd.usageError("--lir needs lowering (drop --no-lower)");
  for (auto &spec : inOpt.dims) {
    Status ds = parseDimBinding(spec, o.shapes);
    if (!ds.isOk())
      return reportError(ds);
  }
  for (auto &spec : inOpt.shapes) {
    Status ds = parseInputShapeBinding(spec, o.shapes);
    if (!ds.isOk())
      return reportError(ds);
  }
  o.shapes.defaults = true;
  // A plugin passes only what it runs itself, unless --fallback names where
  // the rest runs (interp or another target). npu-sim is an accelerator
  // target: like run and bench, its unclaimed nodes run on the CPU backend
  // ("" is the target's default fallback).
  if (!cmd.given("--fallback"))
    t.fallback = o.target == "npu-sim" ? "" : "none";
  Status s = checkTarget(o.target);
  if (!s.isOk())
    return reportError(s);
  if (o.lir && o.target != "interp")
    return cmd.usageError("--lir runs the LIR interpreter; use it with "
                          "--target=interp");
  {
    // Loaded once here; each forked case inherits it.
    auto rt = openTarget(t);
    if (!rt)
      return reportError(rt.status());
    o.runtime = std::move(*rt);
  }

  std::vector<Case> cases;
  for (auto &p : paths) {
    size_t before = cases.size();
    collectCases(p, cases);
    if (cases.size() == before)
      return reportError(invalid("no test cases found in '", p,
                                 "' (expected model.onnx with "
                                 "test_data_set_*/ folders)"));
  }

  std::vector<CaseResult> results(cases.size());
  std::vector<bool> done(cases.size(), false);
  size_t printed = 0, next = 0;
  auto flush = [&]() {
    while (printed < cases.size() && done[printed]) {
      auto &r = results[printed];
      std::printf("%s %s%s%s\n", r.status.c_str(), cases[printed].name.c_str(),
                  r.reason.empty() ? "" : " ", oneLine(r.reason).c_str());
      std::fflush(stdout);
      ++printed;
    }
  };

  if (noFork) {
    for (size_t i = 0; i < cases.size(); ++i) {
      double t0 = nowSec();
      results[i] = runCase(cases[i], o);
      results[i].seconds = nowSec() - t0;
      done[i] = true;
      flush();
    }
  } else {
    std::vector<Child> running;
    while (printed < cases.size()) {
      while (running.size() < size_t(jobs) && next < cases.size()) {
        int fds[2];
        if (pipe(fds) != 0)
          return reportError(makeError(ErrorCode::Io, "pipe failed"));
        std::fflush(stdout);
        pid_t pid = fork();
        if (pid == 0) {
          close(fds[0]);
          // A crash or hang report (the plugin, the call) is the case's
          // result.
          backend::setFailureReportFd(fds[1], "ERROR\t");
          CaseResult r = runCase(cases[next], o);
          std::string line = r.status + "\t" + oneLine(r.reason) + "\n";
          ssize_t w = write(fds[1], line.data(), line.size());
          (void)w;
          _exit(0);
        }
        close(fds[1]);
        running.push_back({pid, fds[0], next, "", nowSec()});
        ++next;
      }
      std::vector<pollfd> pfds;
      for (auto &c : running)
        pfds.push_back({c.fd, POLLIN, 0});
      poll(pfds.data(), pfds.size(), 200);
      for (size_t k = 0; k < running.size();) {
        Child &c = running[k];
        bool finished = false;
        if (pfds.size() > k && (pfds[k].revents & (POLLIN | POLLHUP))) {
          char buf[4096];
          ssize_t n = read(c.fd, buf, sizeof buf);
          if (n > 0)
            c.buf.append(buf, size_t(n));
          else
            finished = true;
        }
        double elapsed = nowSec() - c.start;
        if (!finished && elapsed > o.timeoutSec) {
          kill(c.pid, SIGKILL);
          finished = true;
          c.buf = "ERROR\ttimed out after " + std::to_string(o.timeoutSec) +
                  " s (the case was killed)\n";
        }
        if (!finished) {
          ++k;
          continue;
        }
        int status = 0;
        waitpid(c.pid, &status, 0);
        close(c.fd);
        CaseResult r;
        size_t tab = c.buf.find('\t');
        if (tab != std::string::npos) {
          r.status = c.buf.substr(0, tab);
          r.reason = c.buf.substr(tab + 1);
          while (!r.reason.empty() && r.reason.back() == '\n')
            r.reason.pop_back();
        } else if (WIFSIGNALED(status)) {
          r = {"ERROR", concat("crashed (signal ", WTERMSIG(status), ")")};
        } else {
          r = {"ERROR",
               WEXITSTATUS(status) == 70
                   ? std::string("the plugin crashed (exit status 70; "
                                 "its report is on stderr)")
                   : concat("exited with status ", WEXITSTATUS(status))};
        }
        r.seconds = elapsed;
        results[c.index] = r;
        done[c.index] = true;
        running.erase(running.begin() + long(k));
        pfds.erase(pfds.begin() + long(k));
      }
      flush();
    }
  }

  size_t pass = 0, fail = 0, skip = 0;
  for (auto &r : results) {
    if (r.status == "PASS")
      ++pass;
    else if (r.status == "UNSUPPORTED")
      ++skip;
    else
      ++fail;
  }
  if (!junit.empty()) {
    std::ofstream j(junit);
    j << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n"
      << "<testsuite name=\"ember-conform-" << xmlEscape(o.target)
      << "\" tests=\"" << cases.size() << "\" failures=\"" << fail
      << "\" skipped=\"" << skip << "\">\n";
    for (size_t i = 0; i < cases.size(); ++i) {
      auto &r = results[i];
      j << "  <testcase classname=\"conform\" name=\""
        << xmlEscape(cases[i].name) << "\" time=\"" << r.seconds << "\"";
      if (r.status == "PASS")
        j << "/>\n";
      else if (r.status == "UNSUPPORTED")
        j << "><skipped message=\"" << xmlEscape(r.reason)
          << "\"/></testcase>\n";
      else
        j << "><failure message=\"" << xmlEscape(r.status + ": " + r.reason)
          << "\"/></testcase>\n";
    }
    j << "</testsuite>\n</testsuites>\n";
  }
  std::printf("%zu passed, %zu failed, %zu skipped\n", pass, fail, skip);
  if (cmd.given("--min-pass"))
    return uint64_t(pass) >= minPass ? 0 : 1;
  return fail == 0 ? 0 : 1;
}

} // namespace ember::cli
