#include "Devices.h"

#include "ember/api/Target.h"

#include "import/TensorIO.h"
#include "support/Json.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <sys/stat.h>

namespace ember::cli {

namespace {

bool sameFile(const std::string &a, const std::string &b) {
  struct stat x {
  }, y{};
  return stat(a.c_str(), &x) == 0 && stat(b.c_str(), &y) == 0 &&
         x.st_dev == y.st_dev && x.st_ino == y.st_ino;
}

// Nearest rank.
double percentile(std::vector<double> v, double p) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  size_t k = size_t(std::ceil(p / 100.0 * double(v.size())));
  return v[std::min(v.size() - 1, k ? k - 1 : 0)];
}

uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    h ^= p[i];
    h *= 1099511628211ull;
  }
  return h;
}

} // namespace

Expected<DeviceRuntime> loadDevices(const DeviceOptions &d,
                                    const TargetOptions &t) {
  DeviceRuntime r;
  auto parsed = runtime::parseDeviceList(d.list);
  if (!parsed)
    return Status(parsed.status().code(), concat(parsed.status().message(),
                                                 " (--devices ", d.list, ")"));
  std::vector<runtime::DeviceRequest> list = std::move(*parsed);
  r.common = t.compile;
  r.common.vendor.clear();
  std::vector<std::string> paths;
  for (size_t i = 0; i < list.size(); ++i) {
    EMBER_ASSIGN(std::string path, pluginPathFor(list[i].target));
    if (path.empty())
      return invalid("--devices: '", list[i].target,
                     "' is the reference interpreter, which runs on the "
                     "host (--fallback=interp), not a device of the list");
    for (size_t j = 0; j < paths.size(); ++j)
      if (sameFile(paths[j], path))
        return invalid("--devices names the plugin ", path, " twice ('",
                       list[j].target, "' and '", list[i].target,
                       "'); give its count once");
    paths.push_back(path);
    runtime::DeviceKind k;
    k.target = list[i].target;
    k.count = list[i].count;
    EMBER_ASSIGN(k.plugin, loadPluginOnce(path));
    // --backend-opt is the first kind's: another plugin refuses its keys.
    k.compile = i == 0 ? t.compile : r.common;
    r.kinds.push_back(std::move(k));
  }
  std::string fallback = t.fallback;
  if (fallback.empty())
    fallback = pluginPathFor("cpu").hasValue() ? "cpu" : "interp";
  r.hostName = fallback;
  if (fallback == "none") {
    r.allowHost = false;
  } else if (fallback != "interp") {
    EMBER_ASSIGN(std::string path, pluginPathFor(fallback));
    // A fallback also in the list is the same plugin, loaded once.
    EMBER_ASSIGN(r.host, loadPluginOnce(path));
  }
  return r;
}

Expected<DeviceModel> prepareOnDevices(const DeviceRuntime &r,
                                       const Function &f, unsigned depth) {
  DeviceModel m;
  EMBER_ASSIGN(m.devices, runtime::DeviceSet::open(r.kinds));
  runtime::PlacementOptions po;
  po.allowHost = r.allowHost;
  EMBER_ASSIGN(runtime::Placement p, runtime::place(f, *m.devices, po));
  runtime::ExecutorOptions eo;
  eo.host = r.host;
  eo.hostName = r.hostName;
  eo.hostCompile = r.common;
  eo.queueDepth = depth;
  EMBER_ASSIGN(m.executor,
               runtime::Executor::create(f, *m.devices, std::move(p), eo));
  return m;
}

Status printDevicePlacement(std::ostream &os, const DeviceRuntime &r,
                            const Function &f) {
  EMBER_ASSIGN(auto devs, runtime::DeviceSet::open(r.kinds));
  runtime::PlacementOptions po;
  po.allowHost = r.allowHost;
  EMBER_ASSIGN(runtime::Placement p, runtime::place(f, *devs, po));
  runtime::printPlacement(os, f, p, *devs, r.hostName);
  return Status::ok();
}

Expected<std::vector<Tensor>> runOnDevices(const DeviceRuntime &r,
                                           const Function &f,
                                           const std::vector<Tensor> &inputs) {
  EMBER_ASSIGN(DeviceModel m, prepareOnDevices(r, f, 1));
  auto ticket = m.executor->submit(inputs);
  runtime::RequestResult res = m.executor->wait(ticket);
  if (!res.status.isOk())
    return res.status;
  return std::move(res.outputs);
}

namespace {

std::string deviceName(const runtime::Executor &x, int dev,
                       const std::string &host) {
  return dev == runtime::kHost ? "host(" + host + ")"
                               : x.devices().devices()[size_t(dev)].name;
}

Status writeTimeline(const std::string &path, const runtime::Executor &x,
                     const std::vector<runtime::JobRecord> &jobs,
                     const std::string &host) {
  std::ofstream out(path);
  if (!out)
    return makeError(ErrorCode::Io, "cannot write '", path, "' (--trace)");
  const auto &devices = x.devices().devices();
  double clock = 0, first = -1;
  for (const runtime::JobRecord &j : jobs)
    if (j.simulated) {
      clock = devices[size_t(j.device)].traits.clockHz;
      first = first < 0 ? j.simStart : std::min(first, j.simStart);
    }
  out << "{\"displayTimeUnit\":\"ms\",\"otherData\":{\"time\":\"process 0: "
         "simulated devices on their clock (from the first job's start); "
         "process 1: every device's executions in wall time\"},"
         "\"traceEvents\":[\n";
  out << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"args\":{"
         "\"name\":\"simulated devices (device time)\"}},\n"
         "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":1,\"args\":{"
         "\"name\":\"host (wall time)\"}}";
  for (size_t d = 0; d <= devices.size(); ++d) {
    std::string name = d < devices.size() ? devices[d].name
                                          : deviceName(x, runtime::kHost, host);
    for (int pid = 0; pid < 2; ++pid)
      if (pid == 1 || (d < devices.size() && devices[d].traits.simulated))
        out << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":" << pid
            << ",\"tid\":" << d << ",\"args\":{\"name\":" << jsonQuote(name)
            << "}}";
  }
  out << std::fixed << std::setprecision(3);
  for (const runtime::JobRecord &j : jobs) {
    size_t tid = j.device == runtime::kHost ? devices.size() : size_t(j.device);
    std::string name = concat("request ", j.request, " stage ", j.stage,
                              j.ok ? "" : " (failed)");
    std::string args = concat("{\"request\":", j.request,
                              ",\"stage\":", j.stage, ",\"cycles\":", j.cycles,
                              ",\"wall_ms\":", j.endMs - j.startMs, "}");
    if (j.simulated && clock > 0)
      out << ",\n{\"name\":" << jsonQuote(name)
          << ",\"cat\":\"stage\",\"ph\":\"X\",\"pid\":0,\"tid\":" << tid
          << ",\"ts\":" << (j.simStart - first) / clock * 1e6
          << ",\"dur\":" << (j.simEnd - j.simStart) / clock * 1e6
          << ",\"args\":" << args << "}";
    out << ",\n{\"name\":" << jsonQuote(name)
        << ",\"cat\":\"stage\",\"ph\":\"X\",\"pid\":1,\"tid\":" << tid
        << ",\"ts\":" << j.startMs * 1e3
        << ",\"dur\":" << (j.endMs - j.startMs) * 1e3 << ",\"args\":" << args
        << "}";
  }
  out << "\n]}\n";
  if (!out)
    return makeError(ErrorCode::Io, "write to '", path, "' failed (--trace)");
  return Status::ok();
}

} // namespace

int benchOnDevices(const DeviceRuntime &r, const Function &f,
                   const std::map<std::string, Tensor> &given, uint64_t seed,
                   unsigned requests, unsigned concurrency, unsigned warmup,
                   const std::string &tracePath) {
  unsigned ndev = 0;
  for (const auto &k : r.kinds)
    ndev += k.count;
  const unsigned depth = concurrency ? concurrency : ndev + 1;
  auto t0 = std::chrono::steady_clock::now();
  auto m = prepareOnDevices(r, f, depth);
  if (!m)
    return reportError(m.status());
  double compileMs = std::chrono::duration<double, std::milli>(
                         std::chrono::steady_clock::now() - t0)
                         .count();
  runtime::Executor &x = *m->executor;
  const runtime::Placement &pl = x.placement();
  auto inputsFor = [&](uint64_t i) { return bindInputs(f, given, seed + i); };
  // Untimed: loads every device's program once.
  std::vector<std::vector<Tensor>> batch;
  for (unsigned i = 0; i < warmup; ++i) {
    auto in = inputsFor(i);
    if (!in)
      return reportError(in.status());
    batch.push_back(std::move(*in));
  }
  for (const runtime::RequestResult &res : x.runAll(std::move(batch)))
    if (!res.status.isOk())
      return reportError(res.status.withContext("a warm-up request"));
  x.clearJobs();
  batch.clear();
  for (unsigned i = 0; i < requests; ++i) {
    auto in = inputsFor(i);
    if (!in)
      return reportError(in.status());
    batch.push_back(std::move(*in));
  }
  std::vector<runtime::RequestResult> results = x.runAll(std::move(batch));
  std::vector<runtime::JobRecord> jobs = x.jobs();

  // Requests: failures by name, latency of the others, and one digest of
  // every output (runs on other device lists compare bit for bit).
  std::vector<double> latency;
  double firstMs = 1e300, lastMs = 0;
  uint64_t digest = 1469598103934665603ull;
  std::string perRequest;
  size_t failed = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    const runtime::RequestResult &res = results[i];
    firstMs = std::min(firstMs, res.submitMs);
    lastMs = std::max(lastMs, res.doneMs);
    perRequest += i ? "," : "";
    if (!res.status.isOk()) {
      ++failed;
      perRequest += "failed";
      std::fprintf(stderr, "error: %s\n", res.status.message().c_str());
      continue;
    }
    latency.push_back(res.doneMs - res.submitMs);
    uint64_t one = 1469598103934665603ull;
    for (const Tensor &t : res.outputs)
      one = fnv1a(one, t.raw(), t.bytes());
    char hex[24];
    std::snprintf(hex, sizeof hex, "%016llx",
                  static_cast<unsigned long long>(one));
    perRequest += hex;
    digest = fnv1a(digest, reinterpret_cast<const uint8_t *>(&i), sizeof i);
    digest = fnv1a(digest, reinterpret_cast<const uint8_t *>(&one), sizeof one);
  }

  // Stages: predicted against measured (simulated devices: their cycles at
  // their clock; others: wall time), median over the requests.
  std::printf("placement: %zu stages, predicted period %.3f ms per request; "
              "compile_ms=%.1f\n",
              pl.stages.size(), pl.period * 1e3, compileMs);
  std::printf("%-5s %-14s %6s %13s %13s %8s  %s\n", "stage", "device", "nodes",
              "predicted_ms", "measured_ms", "error", "measured as");
  double worstErr = 0;
  for (size_t s = 0; s < pl.stages.size(); ++s) {
    const runtime::Stage &st = pl.stages[s];
    std::vector<double> ms;
    bool sim = false;
    for (const runtime::JobRecord &j : jobs) {
      if (j.stage != s || !j.ok)
        continue;
      if (j.simulated) {
        sim = true;
        double clock = x.devices().devices()[size_t(j.device)].traits.clockHz;
        ms.push_back(j.cycles / clock * 1e3);
      } else {
        ms.push_back(j.endMs - j.startMs);
      }
    }
    double measured = percentile(ms, 50);
    double predicted = st.predicted() * 1e3;
    std::string err = "-";
    if (st.device != runtime::kHost && measured > 0) {
      double e = (predicted - measured) / measured;
      char buf[32];
      std::snprintf(buf, sizeof buf, "%+.1f%%", e * 100);
      err = buf;
      if (sim)
        worstErr = std::max(worstErr, std::fabs(e));
    }
    std::printf("%-5zu %-14s %6zu %13.3f %13.3f %8s  %s\n", s,
                deviceName(x, st.device, r.hostName).c_str(),
                st.part.nodes.size(), predicted, measured, err.c_str(),
                sim ? "device cycles" : "wall time");
  }

  // Simulated time: from the first job's start to the last one's end on
  // the simulated devices' clock.
  double simFirst = -1, simLast = 0, clock = 0;
  for (const runtime::JobRecord &j : jobs)
    if (j.simulated && j.ok) {
      clock = x.devices().devices()[size_t(j.device)].traits.clockHz;
      simFirst = simFirst < 0 ? j.simStart : std::min(simFirst, j.simStart);
      simLast = std::max(simLast, j.simEnd);
    }
  const size_t ok = results.size() - failed;
  double wallSec = (lastMs - firstMs) / 1e3;
  double simSec = clock > 0 && simFirst >= 0 ? (simLast - simFirst) / clock : 0;
  std::printf("requests: %zu done, %zu failed; outputs_fnv=%016llx; "
              "concurrency=%u\n",
              ok, failed, static_cast<unsigned long long>(digest), depth);
  // Each request's outputs (FNV-1a of their bytes), to compare request by
  // request with another device list.
  std::printf("request_fnv=%s\n", perRequest.c_str());
  if (simSec > 0)
    std::printf("simulated: %.0f cycles at %.0f MHz for %zu requests "
                "(%.3f ms); stage predictions within %.1f%%\n",
                simLast - simFirst, clock / 1e6, ok, simSec * 1e3,
                worstErr * 100);
  if (!tracePath.empty()) {
    Status s = writeTimeline(tracePath, x, jobs, r.hostName);
    if (!s.isOk())
      return reportError(s);
  }
  std::printf("devices=%u requests=%u p50_ms=%.3f p99_ms=%.3f "
              "throughput=%.3f sim_throughput=%.3f\n",
              ndev, requests, percentile(latency, 50), percentile(latency, 99),
              wallSec > 0 ? double(ok) / wallSec : 0,
              simSec > 0 ? double(ok) / simSec : 0);
  return failed ? 1 : 0;
}

namespace {

// The model of a --devices command, through the pipeline.
Expected<std::unique_ptr<Module>> loadForDevices(const std::string &model,
                                                 const ImportOptions &io,
                                                 const TargetOptions &t) {
  EMBER_ASSIGN(auto m, loadModel(model, io));
  EMBER_TRY(runPipeline(*m, t.pipeline()));
  return m;
}

} // namespace

int benchDevicesCommand(const std::string &model, const ImportOptions &io,
                        const std::map<std::string, Tensor> &given,
                        const TargetOptions &t, const DeviceOptions &d,
                        uint64_t seed, unsigned warmup,
                        const std::string &tracePath) {
  applyTimeout(t);
  auto m = loadForDevices(model, io, t);
  if (!m)
    return reportError(m.status());
  auto r = loadDevices(d, t);
  if (!r)
    return reportError(r.status());
  return benchOnDevices(*r, *(*m)->main(), given, seed, d.requests,
                        d.concurrency, warmup, tracePath);
}

int runDevicesCommand(const std::string &model, const ImportOptions &io,
                      const std::map<std::string, Tensor> &given,
                      const TargetOptions &t, const DeviceOptions &d,
                      uint64_t seed, const std::string &saveDir) {
  applyTimeout(t);
  auto t0 = std::chrono::steady_clock::now();
  auto m = loadForDevices(model, io, t);
  if (!m)
    return reportError(m.status());
  const Function &f = *(*m)->main();
  auto inputs = bindInputs(f, given, seed);
  if (!inputs)
    return reportError(inputs.status());
  auto r = loadDevices(d, t);
  if (!r)
    return reportError(r.status());
  auto dm = prepareOnDevices(*r, f, 1);
  if (!dm)
    return reportError(dm.status());
  auto t1 = std::chrono::steady_clock::now();
  runtime::Executor &x = *dm->executor;
  runtime::RequestResult res = x.wait(x.submit(std::move(*inputs)));
  auto t2 = std::chrono::steady_clock::now();
  if (!res.status.isOk())
    return reportError(res.status);
  if (!saveDir.empty()) {
    mkdir(saveDir.c_str(), 0755);
    for (size_t i = 0; i < res.outputs.size(); ++i) {
      Status s = writeTensorFile(
          res.outputs[i], saveDir + "/output_" + std::to_string(i) + ".pb",
          f.outputs()[i].name);
      if (!s.isOk())
        return reportError(s);
    }
  }
  for (size_t i = 0; i < res.outputs.size(); ++i)
    std::printf("output %s: %s\n", f.outputs()[i].name.c_str(),
                res.outputs[i].summary(10).c_str());
  size_t hostStages = 0;
  for (const runtime::Stage &st : x.placement().stages)
    hostStages += st.device == runtime::kHost;
  for (const runtime::JobRecord &j : x.jobs())
    std::printf(
        "stage %zu on %s: %.3f ms%s\n", j.stage,
        deviceName(x, j.device, r->hostName).c_str(), j.endMs - j.startMs,
        j.simulated ? concat(" (", uint64_t(j.cycles), " cycles)").c_str()
                    : "");
  auto ms = [](auto dt) {
    return std::chrono::duration<double, std::milli>(dt).count();
  };
  unsigned ndev = 0;
  for (const auto &k : r->kinds)
    ndev += k.count;
  std::printf("devices=%u nodes=%zu compile_ms=%.1f run_ms=%.1f outputs=%zu "
              "stages=%zu host_stages=%zu\n",
              ndev, f.countNonStorage(), ms(t1 - t0), ms(t2 - t1),
              res.outputs.size(), x.placement().stages.size(), hostStages);
  return 0;
}

} // namespace ember::cli
