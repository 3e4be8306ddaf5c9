// The kit's shared state and test registration: loading the plugin and the
// reference, reading the manifest, picking the probe program, and running
// programs on either side.
#include "KitInternal.h"

#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"
#include "interp/Interpreter.h"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

namespace ember::kit {

const std::vector<std::string> &layerNames() {
  static const std::vector<std::string> v = {"abi", "api",      "capability",
                                             "lir", "artifact", "skew"};
  return v;
}

std::string defaultReferencePath() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "lib/ember/libember_interp.so";
  std::string exe(buf, size_t(n));
  return exe.substr(0, exe.rfind('/')) + "/../lib/ember/libember_interp.so";
}

KitState &state() {
  static KitState s;
  return s;
}

bool implemented(const backend::Plugin &p, const char *fn) {
  const ember_plugin_api &a = p.api();
#define EMBER_KIT_FN(name)                                                     \
  if (std::strcmp(fn, #name) == 0)                                             \
    return a.name != nullptr;
  EMBER_KIT_FN(plugin_init)
  EMBER_KIT_FN(plugin_shutdown)
  EMBER_KIT_FN(get_capabilities)
  EMBER_KIT_FN(query_support)
  EMBER_KIT_FN(device_count)
  EMBER_KIT_FN(device_open)
  EMBER_KIT_FN(device_close)
  EMBER_KIT_FN(buffer_allocate)
  EMBER_KIT_FN(buffer_release)
  EMBER_KIT_FN(buffer_write)
  EMBER_KIT_FN(buffer_read)
  EMBER_KIT_FN(executable_compile)
  EMBER_KIT_FN(executable_serialize)
  EMBER_KIT_FN(executable_load)
  EMBER_KIT_FN(executable_release)
  EMBER_KIT_FN(execute)
  EMBER_KIT_FN(event_wait)
  EMBER_KIT_FN(event_release)
  EMBER_KIT_FN(executable_signature)
  EMBER_KIT_FN(buffer_import_host)
  EMBER_KIT_FN(device_describe)
  EMBER_KIT_FN(estimate_cost)
#undef EMBER_KIT_FN
  return false;
}

namespace {

Expected<backend::Device *> openOnce(backend::Plugin *p, backend::Device &d,
                                     bool &tried, Status &err) {
  if (!tried) {
    tried = true;
    auto r = p->openDevice(0);
    if (r)
      d = std::move(*r);
    else
      err = r.status();
  }
  if (!err.isOk())
    return err;
  return &d;
}

std::string gRunningTest = "ember-kit";

// The plugin's handles the host holds, less the kit's own device and
// those abandoned after a hang.
backend::HandleCounts heldHandles() {
  KitState &s = state();
  if (!s.plugin)
    return {};
  backend::HandleCounts c =
      s.plugin->liveHandles() - s.plugin->abandonedHandles();
  if (s.device.get())
    --c.devices;
  return c;
}

// A kit test: runs its body, then checks that it left none of the
// plugin's handles alive (by kind and count).
class KitTest : public testing::Test {
public:
  explicit KitTest(TestFn b) : body_(std::move(b)) {}
  void TestBody() override {
    const testing::TestInfo *t =
        testing::UnitTest::GetInstance()->current_test_info();
    gRunningTest =
        t ? concat(t->test_suite_name(), ".", t->name()) : "ember-kit";
    backend::HandleCounts before = heldHandles();
    body_();
    backend::HandleCounts left = heldHandles() - before;
    if (left.devices > 0 || left.buffers > 0 || left.executables > 0 ||
        left.events > 0)
      GTEST_MESSAGE_AT_(runningTestName(), -1, "",
                        ::testing::TestPartResult::kNonFatalFailure)
          << "the test left " << left.describe() << " of "
          << state().plugin->describe()
          << " alive (handles the host holds and never released: a leak "
             "in the test or in the host)";
    gRunningTest = "ember-kit";
  }

private:
  TestFn body_;
};

bool sameFile(const std::string &a, const std::string &b) {
  struct stat sa, sb;
  return stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0 &&
         sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

bool fileExists(const std::string &p) {
  struct stat st;
  return stat(p.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

// The probe: the first of these the plugin claims (manifest and
// query_support) and the reference runs, else the first claimed sample of
// the manifest.
void pickProbe() {
  KitState &s = state();
  std::vector<std::pair<std::string, ElemKind>> cands = {
      {"Add", ElemKind::F32},    {"Mul", ElemKind::F32},
      {"Sub", ElemKind::F32},    {"Relu", ElemKind::F32},
      {"MatMul", ElemKind::F32}, {"Identity", ElemKind::F32}};
  for (auto &op : s.manifest.ops())
    for (auto &dt : op.dtypes()) {
      ElemKind k;
      if (parseElemKind(dt, k))
        cands.push_back({op.op(), k});
    }
  if (!s.manifest.accepts_graph()) {
    s.noProbe = "the plugin does not accept graph programs "
                "(CapabilityManifest.accepts_graph is false)";
    return;
  }
  std::string firstWhy;
  for (auto &[op, k] : cands) {
    auto sample = buildSample(op, k, s.config.seed);
    if (!sample)
      continue;
    auto sup = backend::querySupport(*s.plugin, sample->fn());
    if (!sup || sup->supported.empty() || !sup->supported[0]) {
      if (firstWhy.empty() && sup && !sup->reasons.empty())
        firstWhy = sup->reasons[0];
      continue;
    }
    auto want = runOnReference(sample->fn(), sample->inputs);
    if (!want)
      continue;
    Probe p;
    p.label = concat(op, " ", elemKindName(k));
    p.sample = std::move(*sample);
    p.expected = std::move(*want);
    s.probe = std::move(p);
    return;
  }
  s.noProbe = concat("the plugin claims none of the kit's sample programs "
                     "(Add f32 first",
                     firstWhy.empty() ? "" : ": " + firstWhy, ")");
}

} // namespace

Expected<backend::Device *> pluginDevice() {
  KitState &s = state();
  return openOnce(s.plugin.get(), s.device, s.deviceTried, s.deviceError);
}

Expected<backend::Device *> referenceDevice() {
  KitState &s = state();
  if (s.reference == s.plugin)
    return pluginDevice();
  return openOnce(s.reference.get(), s.refDevice, s.refDeviceTried,
                  s.refDeviceError);
}

const char *runningTestName() { return gRunningTest.c_str(); }

void note(const std::string &text) {
  KitState &s = state();
  if (!s.notes.empty())
    s.notes += "\n";
  s.notes += text;
  if (s.config.verbose)
    std::printf("  %s\n", text.c_str());
}

void addTest(const std::string &suite, const std::string &name, TestFn b) {
  if (state().config.exclude.count(suite + "." + name))
    return;
  testing::RegisterTest(suite.c_str(), name.c_str(), nullptr, nullptr, __FILE__,
                        __LINE__,
                        [b]() -> testing::Test * { return new KitTest(b); });
}

// ---- hangs ------------------------------------------------------------------
double waitSeconds() {
  KitState &s = state();
  return s.waitSec > 0 ? s.waitSec : double(s.config.timeoutSec);
}

void recordHang(const std::string &where) {
  KitState &s = state();
  if (s.hangs++ == 0)
    s.firstHang = where;
  s.waitSec = std::max(1.0, 4 * s.longestExecution);
  backend::setCallTimeout(s.waitSec);
  if (gProgressFd >= 0) {
    std::string text = where;
    for (char &c : text)
      if (c == '\n' || c == '\t')
        c = ' ';
    std::string line = concat("hang\t", s.waitSec, "\t", text, "\n");
    ssize_t w = ::write(gProgressFd, line.data(), line.size());
    (void)w;
  }
}

Status waitOrAbandon(backend::Plugin &p, backend::Event &ev,
                     const std::vector<backend::Buffer *> &buffers,
                     backend::Executable *exe, const std::string &what) {
  KitState &s = state();
  double limit = waitSeconds();
  auto t0 = std::chrono::steady_clock::now();
  Status st = ev.wait(uint64_t(limit * 1e9));
  double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (st.code() != ErrorCode::Timeout) {
    if (st.isOk() && took > s.longestExecution) {
      s.longestExecution = took;
      if (gProgressFd >= 0) {
        std::string line = concat("longest\t", took, "\n");
        ssize_t w = ::write(gProgressFd, line.data(), line.size());
        (void)w;
      }
    }
    return st;
  }
  // Still running: it may use the buffers and the executable; releasing
  // any of them (or the event) could crash or block. Keep them.
  std::vector<backend::Buffer> kept;
  for (backend::Buffer *b : buffers)
    if (b && b->get())
      kept.push_back(std::move(*b));
  p.abandon(std::move(ev), std::move(kept), exe);
  std::string msg =
      concat(p.describe(), ": ", what, " did not complete within ", limit,
             " s (event_wait returned TIMEOUT");
  if (s.hangs)
    msg += concat("; the kit waits only this long since the plugin first "
                  "hung, in ",
                  s.firstHang);
  msg += ")";
  recordHang(runningTestName());
  return makeError(ErrorCode::Timeout, msg);
}

// ---- running ----------------------------------------------------------------
std::vector<Type> outputTypes(const Function &f) {
  std::vector<Type> v;
  for (auto &o : f.outputs())
    v.push_back(o.value.type());
  return v;
}

Expected<backend::Executable>
compileGraph(backend::Plugin &p, backend::Device *d, const Function &f) {
  // The program Ember sends this plugin (LayerPath.h): the graph, or for a
  // plugin that takes scheduled programs, the partition scheduled on the
  // host as ember compile and run schedule it.
  return backend::compileOnPlugin(p, d, f, backend::CompileOptions());
}

Expected<backend::PluginProgram> pluginProgram(backend::Plugin &p,
                                               const Function &f) {
  EMBER_ASSIGN(std::optional<accel::Target> t, backend::hostLayerTarget(p));
  return backend::programForPlugin(p, nullptr, t, f, backend::CompileOptions());
}

Expected<std::vector<Tensor>> runExecutable(backend::Plugin &p,
                                            backend::Device &d,
                                            backend::Executable &x,
                                            const std::vector<Tensor> &in,
                                            const std::vector<Type> &outTypes) {
  auto inBufs = std::make_unique<std::vector<backend::Buffer>>();
  auto outBufs = std::make_unique<std::vector<backend::Buffer>>();
  for (auto &t : in) {
    EMBER_ASSIGN(backend::Buffer b, p.allocate(d, t.bytes()));
    if (t.bytes())
      EMBER_TRY(b.write(0, t.raw(), t.bytes()));
    inBufs->push_back(std::move(b));
  }
  for (auto &t : outTypes) {
    EMBER_ASSIGN(backend::Buffer b, p.allocate(d, t.sizeInBytes()));
    outBufs->push_back(std::move(b));
  }
  std::vector<backend::Buffer *> ip, op;
  for (auto &b : *inBufs)
    ip.push_back(&b);
  for (auto &b : *outBufs)
    op.push_back(&b);
  EMBER_ASSIGN(backend::Event ev, p.execute(d, x, ip, op));
  std::vector<backend::Buffer *> all = ip;
  all.insert(all.end(), op.begin(), op.end());
  EMBER_TRY(waitOrAbandon(p, ev, all, &x, "execute"));
  std::vector<Tensor> results;
  for (size_t i = 0; i < outTypes.size(); ++i) {
    Tensor t(outTypes[i]);
    if (t.bytes())
      EMBER_TRY((*outBufs)[i].read(0, t.raw(), t.bytes()));
    results.push_back(std::move(t));
  }
  return results;
}

Expected<std::vector<Tensor>> runOnPlugin(const Function &f,
                                          const std::vector<Tensor> &in) {
  KitState &s = state();
  EMBER_ASSIGN(backend::Device * d, pluginDevice());
  EMBER_ASSIGN(backend::Executable x, compileGraph(*s.plugin, d, f));
  return runExecutable(*s.plugin, *d, x, in, outputTypes(f));
}

Expected<std::vector<Tensor>> runOnReference(const Function &f,
                                             const std::vector<Tensor> &in) {
  KitState &s = state();
  if (!s.reference)
    return interpret(f, in);
  EMBER_ASSIGN(backend::Device * d, referenceDevice());
  EMBER_ASSIGN(backend::Executable x, compileGraph(*s.reference, d, f));
  return runExecutable(*s.reference, *d, x, in, outputTypes(f));
}

Expected<std::unique_ptr<ProbeSetup>> setupProbe() {
  KitState &s = state();
  if (!s.probe)
    return unsupported(s.noProbe);
  auto r = std::make_unique<ProbeSetup>();
  EMBER_ASSIGN(r->device, pluginDevice());
  const Function &f = s.probe->sample.fn();
  EMBER_ASSIGN(r->exe, compileGraph(*s.plugin, r->device, f));
  for (auto &t : s.probe->sample.inputs) {
    EMBER_ASSIGN(backend::Buffer b, s.plugin->allocate(*r->device, t.bytes()));
    if (t.bytes())
      EMBER_TRY(b.write(0, t.raw(), t.bytes()));
    r->in.push_back(std::move(b));
  }
  for (auto &t : outputTypes(f)) {
    EMBER_ASSIGN(backend::Buffer b,
                 s.plugin->allocate(*r->device, t.sizeInBytes()));
    r->out.push_back(std::move(b));
  }
  for (auto &b : r->in)
    r->inPtrs.push_back(b.get());
  for (auto &b : r->out)
    r->outPtrs.push_back(b.get());
  return r;
}

std::vector<backend::Buffer *> ProbeSetup::buffers() {
  std::vector<backend::Buffer *> v;
  for (auto &b : in)
    v.push_back(&b);
  for (auto &b : out)
    v.push_back(&b);
  return v;
}

Status ProbeSetup::wait(backend::Event &ev) {
  return waitOrAbandon(*state().plugin, ev, buffers(), &exe, "execute");
}

std::vector<Tensor> ProbeSetup::read(Status &st) {
  std::vector<Tensor> v;
  auto types = outputTypes(state().probe->sample.fn());
  for (size_t i = 0; i < types.size(); ++i) {
    Tensor t(types[i]);
    if (t.bytes()) {
      st = out[i].read(0, t.raw(), t.bytes());
      if (!st.isOk())
        return {};
    }
    v.push_back(std::move(t));
  }
  st = Status::ok();
  return v;
}

std::string compareOutputs(const std::vector<Tensor> &got,
                           const std::vector<Tensor> &want, double rtol,
                           double atol) {
  if (got.size() != want.size())
    return concat(got.size(), " outputs, expected ", want.size());
  for (size_t o = 0; o < got.size(); ++o) {
    const Tensor &g = got[o], &w = want[o];
    if (g.type() != w.type())
      return concat("output ", o, " is ", g.type().toString(), ", expected ",
                    w.type().toString());
    double rt = rtol, at = atol;
    if (g.elem() == ElemKind::F16) {
      rt = std::max(rt, 4.0 / 1024);
      at = std::max(at, 1e-2);
    } else if (g.elem() == ElemKind::BF16) {
      rt = std::max(rt, 2.0 / 128);
      at = std::max(at, 5e-2);
    }
    bool fl = isFloatKind(g.elem());
    for (int64_t i = 0; i < g.size(); ++i) {
      std::string gv, wv, extra;
      if (fl) {
        double a = g.getDouble(i), b = w.getDouble(i);
        if ((std::isnan(a) && std::isnan(b)) || a == b)
          continue;
        if (!std::isinf(b) && std::fabs(a - b) <= at + rt * std::fabs(b))
          continue;
        gv = concat(a);
        wv = concat(b);
        extra = concat(" (|diff| ", std::fabs(a - b), " > ", at, " + ", rt,
                       " * |expected|)");
      } else {
        int64_t a = g.getInt(i), b = w.getInt(i);
        if (a == b)
          continue;
        gv = concat(a);
        wv = concat(b);
      }
      std::string coord;
      int64_t rem = i;
      auto strides = stridesOf(g.dims());
      for (size_t k = 0; k < g.rank(); ++k) {
        coord += (k ? "," : "") + std::to_string(rem / strides[k]);
        rem %= strides[k];
      }
      return concat("output ", o, " (", g.type().toString(),
                    ") differs first at element ", i, " [", coord, "]: got ",
                    gv, ", expected ", wv, extra);
    }
  }
  return "";
}

const char *statusName(int32_t code) {
  switch (code) {
  case EMBER_STATUS_OK:
    return "OK";
  case EMBER_STATUS_INVALID_ARGUMENT:
    return "INVALID_ARGUMENT";
  case EMBER_STATUS_UNSUPPORTED:
    return "UNSUPPORTED";
  case EMBER_STATUS_OUT_OF_MEMORY:
    return "OUT_OF_MEMORY";
  case EMBER_STATUS_INTERNAL:
    return "INTERNAL";
  case EMBER_STATUS_VERSION_MISMATCH:
    return "VERSION_MISMATCH";
  case EMBER_STATUS_DEVICE_LOST:
    return "DEVICE_LOST";
  case EMBER_STATUS_TIMEOUT:
    return "TIMEOUT";
  case EMBER_STATUS_OUT_OF_RANGE:
    return "OUT_OF_RANGE";
  }
  return "an unknown status";
}

std::string RawError::describe() const {
  if (!present)
    return "no error";
  return concat(statusName(code), " (", code,
                "): ", message.empty() ? "(empty message)" : message);
}

RawError takeRaw(backend::Plugin &p, ember_error *e, const char *call) {
  RawError r;
  if (!e)
    return r;
  r.present = true;
  {
    backend::PluginCallGuard g(p, call);
    r.code = p.api().error_code(e);
    const char *m = p.api().error_message(e);
    if (m)
      r.message.assign(m, strnlen(m, 64 * 1024));
  }
  backend::PluginCallGuard g(p, "error_free");
  p.api().error_free(e);
  return r;
}

namespace {
// A vendor extension larger than ember_extension, then a second one.
struct BigExtension {
  ember_extension head;
  uint64_t payload[6];
};
} // namespace

const ember_extension *unknownExtensions() {
  static ember_extension second = {sizeof(ember_extension), nullptr,
                                   0x7ffe0002u};
  static BigExtension first = {{sizeof(BigExtension), &second, 0x7ffe0001u},
                               {1, 2, 3, 4, 5, 6}};
  return &first.head;
}

// ---- registration -----------------------------------------------------------
void registerKitTests(const KitConfig &config) {
  if (const char *req = helperRequest())
    std::exit(helperMain(req));
  KitState &s = state();
  s.config = config;
  static bool recording = false;
  if (!recording)
    installRecorder(gProgressFd, config.jsonPath);
  recording = true;
  for (auto &l : config.layers)
    if (std::find(layerNames().begin(), layerNames().end(), l) ==
        layerNames().end()) {
      std::string msg = concat("unknown layer '", l,
                               "' (expected abi, api, "
                               "capability, lir, "
                               "artifact or skew)");
      addTest("Kit", "Config", [msg] { KIT_REQUIRE(false) << msg; });
      return;
    }
  auto wants = [&](const char *layer) {
    return config.layers.empty() || config.layers.count(layer);
  };

  auto p = backend::Plugin::load(config.pluginPath);
  if (!p) {
    s.loadError = p.status().message();
    std::fprintf(stderr, "error: %s\n", s.loadError.c_str());
    std::string msg = s.loadError;
    addTest("Abi", "Load", [msg] { KIT_REQUIRE(false) << msg; });
    return;
  }
  s.plugin = *p;

  // The reference. When the plugin is the reference plugin itself, the
  // in-process interpreter (the same file cannot be loaded twice, and this
  // compares what crosses the ABI with the graph it came from).
  std::string ref = config.referencePath.empty() ? defaultReferencePath()
                                                 : config.referencePath;
  std::string refError;
  if (sameFile(ref, config.pluginPath)) {
    s.referenceName = "the in-process graph interpreter (the plugin is the "
                      "reference plugin)";
  } else if (!config.referencePath.empty() || fileExists(ref)) {
    auto r = backend::Plugin::load(ref);
    if (r) {
      s.reference = *r;
      s.referenceName = s.reference->describe();
    } else {
      refError =
          concat("the reference plugin did not load: ", r.status().message());
      std::fprintf(stderr, "error: %s\n", refError.c_str());
    }
  } else {
    s.referenceName = "the in-process graph interpreter";
  }

  auto m = s.plugin->capabilities();
  if (!m) {
    std::string msg = m.status().message();
    std::fprintf(stderr, "error: %s\n", msg.c_str());
    addTest("Abi", "Load", [] {});
    addTest(
        "Abi", "Manifest", [msg] {
          KIT_REQUIRE(false)
              << "get_capabilities failed, nothing else can be tested: " << msg;
        });
    return;
  }
  s.manifest = std::move(*m);
  s.haveManifest = true;
  if (!refError.empty()) {
    addTest("Kit", "Reference", [refError] { KIT_REQUIRE(false) << refError; });
    return;
  }
  pickProbe();

  if (wants("abi"))
    registerAbiTests();
  if (wants("api"))
    registerApiTests();
  if (wants("capability")) {
    registerCapabilityTests();
    registerCustomOpTests();
  }
  if (wants("lir"))
    registerLirTests();
  if (wants("artifact"))
    registerArtifactTests();
  if (wants("skew"))
    registerSkewTests();
}

} // namespace ember::kit
