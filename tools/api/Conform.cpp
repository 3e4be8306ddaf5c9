#include "ember/api/Conform.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "lir/LirPipeline.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <dirent.h>
#include <poll.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace ember::api {
namespace {

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

} // namespace

void collectConformCases(const std::string &path,
                         std::vector<ConformCase> &out) {
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

namespace {

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

// Compares one output; empty string when it matches, else the reason, with
// where it first differs in `m`.
std::string compare(const Tensor &got, const Tensor &wantIn, double rtol,
                    double atol, Mismatch &m) {
  // ONNX <= 1.12 stored bfloat16 test data as uint16 bit patterns.
  Tensor want = wantIn;
  if (got.elem() == ElemKind::BF16 && want.elem() == ElemKind::U16)
    want.setType(want.type().withElem(ElemKind::BF16));
  if (got.elem() != want.elem() || got.dims() != want.dims()) {
    m.got = got.type().toString();
    m.expected = want.type().toString();
    if (got.elem() != want.elem())
      return concat("element type ", elemKindName(got.elem()), " != expected ",
                    elemKindName(want.elem()));
    return concat("shape ", m.got, " != expected ", m.expected);
  }
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
      if (std::llabs(g - w) > int64_t(atol)) {
        m.element = i;
        m.got = concat(g);
        m.expected = concat(w);
        return concat("element ", i, ": got ", g, ", expected ", w);
      }
      continue;
    }
    double g = got.getDouble(i), w = want.getDouble(i);
    if (std::isnan(w) && std::isnan(g))
      continue;
    if (std::isinf(w) && g == w)
      continue;
    if (!(std::fabs(g - w) <= atol + rtol * std::fabs(w))) {
      m.element = i;
      m.got = concat(g);
      m.expected = concat(w);
      return concat("element ", i, ": got ", g, ", expected ", w, " (|diff| ",
                    std::fabs(g - w), ")");
    }
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

ConformResult classify(const Status &s) {
  bool unsup = s.code() == ErrorCode::Unsupported ||
               s.code() == ErrorCode::DataDependent;
  return {unsup ? "UNSUPPORTED" : "ERROR", s.message()};
}

} // namespace

ConformResult runConformCase(const ConformCase &c, const ConformOptions &o) {
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
    auto outs = o.lir   ? runLir(f, inputs)
                : o.run ? o.run(f, inputs)
                        : runOnTarget(o.runtime, f, inputs);
    if (!outs)
      return classify(outs.status());
    if (outs->size() < ds.second.size())
      return {"FAIL", concat("model produced ", outs->size(),
                             " outputs, expected ", ds.second.size())};
    for (size_t i = 0; i < ds.second.size(); ++i) {
      double atol = o.atol;
      if (o.quanta > 0)
        atol += o.quanta * outputQuantum(f.outputs()[i].value);
      if (o.scaleTol > 0 && isFloatKind(ds.second[i].elem())) {
        double big = 0;
        for (int64_t k = 0; k < ds.second[i].size(); ++k) {
          const double w = std::fabs(ds.second[i].getDouble(k));
          if (std::isfinite(w))
            big = std::max(big, w);
        }
        atol += o.scaleTol * big;
      }
      Mismatch m;
      std::string why = compare((*outs)[i], ds.second[i], o.rtol, atol, m);
      if (!why.empty()) {
        m.output = long(i);
        m.outputName = f.outputs()[i].name;
        m.dataSet = setNames[si];
        ConformResult r{"FAIL", concat("output #", i, " '", f.outputs()[i].name,
                                       "': ", why)};
        r.mismatch = std::move(m);
        return r;
      }
    }
  }
  return {"PASS", ""};
}

namespace {

std::string oneLineImpl(std::string s) {
  for (char &ch : s)
    if (ch == '\n' || ch == '\t' || ch == '\r')
      ch = ' ';
  if (s.size() > 400)
    s = s.substr(0, 400) + "...";
  return s;
}

double nowSec() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

std::string oneLine(std::string s) { return oneLineImpl(std::move(s)); }

std::vector<ConformCase> shardCases(const std::vector<ConformCase> &all,
                                    size_t index, size_t count) {
  std::vector<ConformCase> out;
  for (size_t k = 0; k < all.size(); ++k)
    if (count && k % count == index - 1)
      out.push_back(all[k]);
  return out;
}

Status parseShard(const std::string &spec, size_t &index, size_t &count) {
  size_t slash = spec.find('/');
  auto number = [](const std::string &s, size_t &v) {
    if (s.empty() || s.size() > 9 ||
        s.find_first_not_of("0123456789") != std::string::npos)
      return false;
    v = size_t(std::stoul(s));
    return true;
  };
  if (slash == std::string::npos || !number(spec.substr(0, slash), index) ||
      !number(spec.substr(slash + 1), count))
    return invalid("--shard '", spec,
                   "' is not I/N (shard I of N, 1 <= I <= N)");
  if (count == 0 || index == 0 || index > count)
    return invalid("--shard ", spec, ": the shard must be 1 to ", count,
                   " (1-based: shard I of N, 1 <= I <= N)");
  return Status::ok();
}

namespace {

// A result through the child's pipe: STATUS, reason and the mismatch,
// tab-separated on one line.
std::string encodeResult(const ConformResult &r) {
  const Mismatch &m = r.mismatch;
  return concat(r.status, "\t", oneLine(r.reason), "\t", m.output, "\t",
                oneLine(m.outputName), "\t", oneLine(m.dataSet), "\t",
                m.element, "\t", oneLine(m.got), "\t", oneLine(m.expected),
                "\n");
}

ConformResult decodeResult(std::string line) {
  while (!line.empty() && line.back() == '\n')
    line.pop_back();
  std::vector<std::string> f;
  size_t start = 0;
  for (;;) {
    size_t tab = line.find('\t', start);
    f.push_back(line.substr(start, tab - start));
    if (tab == std::string::npos)
      break;
    start = tab + 1;
  }
  ConformResult r;
  r.status = f[0];
  if (f.size() > 1)
    r.reason = f[1];
  if (f.size() >= 8) {
    r.mismatch.output = std::atol(f[2].c_str());
    r.mismatch.outputName = f[3];
    r.mismatch.dataSet = f[4];
    r.mismatch.element = std::atoll(f[5].c_str());
    r.mismatch.got = f[6];
    r.mismatch.expected = f[7];
  }
  return r;
}

struct Child {
  pid_t pid;
  int fd;
  size_t index;
  std::string buf;
  double start;
};

} // namespace

std::vector<ConformResult> runConformCases(
    const std::vector<ConformCase> &cases, const ConformOptions &o, int jobs,
    bool fork,
    const std::function<void(size_t, const ConformResult &)> &onResult) {
  std::vector<ConformResult> results(cases.size());
  std::vector<bool> done(cases.size(), false);
  size_t reported = 0, next = 0;
  auto flush = [&]() {
    while (reported < cases.size() && done[reported]) {
      if (onResult)
        onResult(reported, results[reported]);
      ++reported;
    }
  };
  if (!fork) {
    for (size_t i = 0; i < cases.size(); ++i) {
      double t0 = nowSec();
      results[i] = runConformCase(cases[i], o);
      results[i].seconds = nowSec() - t0;
      done[i] = true;
      flush();
    }
    return results;
  }
  std::vector<Child> running;
  while (reported < cases.size()) {
    while (running.size() < size_t(std::max(jobs, 1)) && next < cases.size()) {
      int fds[2];
      if (pipe(fds) != 0) {
        results[next] = {"ERROR", concat("pipe failed: ", strerror(errno))};
        done[next++] = true;
        continue;
      }
      std::fflush(stdout);
      std::fflush(stderr);
      pid_t pid = ::fork();
      if (pid == 0) {
        close(fds[0]);
        // A crash or hang report (the plugin, the call) is the case's
        // result.
        backend::setFailureReportFd(fds[1], "ERROR\t");
        std::string line = encodeResult(runConformCase(cases[next], o));
        ssize_t w = write(fds[1], line.data(), line.size());
        (void)w;
        _exit(0);
      }
      close(fds[1]);
      if (pid < 0) {
        close(fds[0]);
        results[next] = {"ERROR", concat("fork failed: ", strerror(errno))};
        done[next++] = true;
        continue;
      }
      running.push_back({pid, fds[0], next, "", nowSec()});
      ++next;
    }
    std::vector<pollfd> pfds;
    for (auto &c : running)
      pfds.push_back({c.fd, POLLIN, 0});
    if (!pfds.empty())
      poll(pfds.data(), pfds.size(), 200);
    for (size_t k = 0; k < running.size();) {
      Child &c = running[k];
      bool finished = false;
      if (pfds.size() > k && (pfds[k].revents & (POLLIN | POLLHUP))) {
        char buf[4096];
        ssize_t n = read(c.fd, buf, sizeof buf);
        if (n > 0)
          c.buf.append(buf, size_t(n));
        else if (n == 0 || errno != EINTR)
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
      while (waitpid(c.pid, &status, 0) < 0 && errno == EINTR) {
      }
      close(c.fd);
      ConformResult r;
      if (c.buf.find('\t') != std::string::npos) {
        r = decodeResult(c.buf);
      } else if (WIFSIGNALED(status)) {
        r = {"ERROR", concat("crashed (signal ", WTERMSIG(status), ")")};
      } else {
        r = {"ERROR", WEXITSTATUS(status) == 70
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
  return results;
}

} // namespace ember::api
