// The api layer's memory checks: what the release functions free, and
// where an execution writes.
//   Api.ReleaseFreesBuffers, ...Executables, ...Events, CloseFreesDevices:
//     create and release a handle many times; the process's heap (malloc,
//     new, aligned_alloc: glibc's mallinfo2, every arena, this thread's
//     allocator cache settled) must not grow with the count. Memory a plugin
//     takes some other way (mmap, a device) is not seen;
//     docs/writing-a-backend.md shows AddressSanitizer's leak check for the
//     rest.
//   Api.ExecuteStaysInBounds: buffers a little larger than their tensors,
//     the slack filled with a pattern: an execution writes only its output
//     tensors, and changes neither the slack nor its inputs.
#include "KitInternal.h"

#include "backend/ProgramProto.h"
#include "support/HeapCount.h"

#include <cstdlib>
#include <cstring>
#include <functional>

namespace ember::kit {
namespace {

// Growth per cycle that counts as a leak of a buffer's bookkeeping, an
// executable, an event or a device: any such object holds more than this.
// Read with this thread's allocator cache settled (settledHeapInUse), a
// plugin that keeps nothing reads 0 +- 2 bytes per cycle once warm (the
// CPU backend per executable, alone, after the capability layer and with
// the machine loaded). One leaked executable of the kit's smallest leaking
// plugin (tests/kit mistake release_keeps_executables) is 560 bytes.
constexpr double kLeakPerCycle = 64;

// The heap's growth per cycle over the windows counted.
struct Growth {
  double perCycle = 0; // the least of the windows
  int cycles = 0;      // counted in all windows
  std::string windows; // each window's figure, for the note
};

// Runs `cycle` (create and release one handle) `warm` times (one-time
// state: a plugin's tables, the allocator's first chunks), then counts the
// heap over windows of n, n and n cycles: the least growth per cycle of
// them, or an error. A leak grows the heap in every window; what noise is
// left (other threads' allocator caches, a table that doubles) does not.
// While the least is not below `bound`, up to three more windows of 2n are
// counted (a plugin whose one-time state lasts longer, a loaded machine): a
// leak of `bound` bytes per cycle or more reads at least that in each.
Expected<Growth> growthPerCycle(int warm, int n, double bound,
                                const std::function<Status()> &cycle) {
  for (int i = 0; i < warm; ++i)
    EMBER_TRY(cycle());
  Growth g;
  for (int window = 0; window < 6; ++window) {
    if (window >= 3 && g.perCycle < bound)
      break;
    int count = window < 3 ? n : 2 * n;
    int64_t before = settledHeapInUse();
    for (int i = 0; i < count; ++i)
      EMBER_TRY(cycle());
    double per = double(settledHeapInUse() - before) / count;
    g.perCycle = window == 0 ? per : std::min(g.perCycle, per);
    g.cycles += count;
    g.windows += concat(window ? ", " : "", count, ": ", int64_t(per));
  }
  return g;
}

std::string bytes(double b) {
  if (b >= 1 << 20)
    return concat(int64_t(b / (1 << 20) * 10) / 10.0, " MiB");
  if (b >= 1 << 10)
    return concat(int64_t(b / (1 << 10) * 10) / 10.0, " KiB");
  return concat(int64_t(b), " bytes");
}

#define KIT_REQUIRE_HEAP_COUNT()                                               \
  do {                                                                         \
    if (!kHaveHeapCount) {                                                     \
      GTEST_SKIP() << "this C library has no mallinfo2() to count the heap";   \
    }                                                                          \
  } while (0)

const char *const kLeakHint =
    " (docs/writing-a-backend.md, \"Finding leaks\", runs the kit under "
    "AddressSanitizer to show where it was allocated)";

void releaseFreesBuffers() {
  KIT_REQUIRE_HEAP_COUNT();
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  if (!p.api().buffer_allocate) {
    GTEST_SKIP() << "buffer_allocate is not implemented (NULL)";
  }
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  const uint64_t size = 256 * 1024;
  std::vector<uint8_t> data(size, 0x5a);
  const int n = 48; // three windows of 16
  auto cycle = [&]() -> Status {
    EMBER_ASSIGN(backend::Buffer b, p.allocate(*d, size));
    return b.write(0, data.data(), size); // memory a plugin maps lazily too
  };
  const double bound = double(size) / 2;
  KIT_ASSIGN(Growth g, growthPerCycle(2, n / 3, bound, cycle));
  note(concat("the heap grew by ", bytes(g.perCycle), " per buffer of ",
              bytes(size), " (bytes per cycle in windows of ", g.windows, ")"));
  KIT_CHECK(g.perCycle < bound)
      << "buffer_release does not free what buffer_allocate took: " << g.cycles
      << " buffers of " << bytes(size)
      << ", each allocated, written and released, left the heap "
      << bytes(g.perCycle * g.cycles) << " larger (about " << bytes(g.perCycle)
      << " per buffer)" << kLeakHint;
}

void releaseFreesExecutables() {
  KIT_REQUIRE_HEAP_COUNT();
  KitState &s = state();
  if (!s.plugin->api().executable_compile) {
    GTEST_SKIP() << "executable_compile is not implemented (NULL)";
  }
  if (!s.probe) {
    GTEST_SKIP() << s.noProbe;
  }
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  // The probe as Ember sends it to this plugin (LayerPath.h).
  KIT_ASSIGN(backend::PluginProgram prog,
             pluginProgram(*s.plugin, s.probe->sample.fn()));
  const int n = 32;
  auto cycle = [&]() -> Status {
    return s.plugin->compile(d, prog.kind, prog.bytes).status();
  };
  KIT_ASSIGN(Growth g, growthPerCycle(24, n, kLeakPerCycle, cycle));
  note(concat("the heap grew by ", bytes(g.perCycle),
              " per executable (bytes per cycle in windows of ", g.windows,
              ")"));
  KIT_CHECK(g.perCycle < kLeakPerCycle)
      << "executable_release does not free what executable_compile took: "
      << g.cycles << " compilations of the " << s.probe->label
      << " program, each released, left the heap "
      << bytes(g.perCycle * g.cycles) << " larger (at least "
      << bytes(g.perCycle) << " per executable)" << kLeakHint;
}

void releaseFreesEvents() {
  KIT_REQUIRE_HEAP_COUNT();
  KitState &s = state();
  if (!s.plugin->api().execute) {
    GTEST_SKIP() << "execute is not implemented (NULL)";
  }
  if (!s.probe) {
    GTEST_SKIP() << s.noProbe;
  }
  KIT_ASSIGN(auto setup, setupProbe());
  ProbeSetup &ps = *setup;
  std::vector<backend::Buffer *> in, out;
  for (auto &b : ps.in)
    in.push_back(&b);
  for (auto &b : ps.out)
    out.push_back(&b);
  const int n = 64;
  auto cycle = [&]() -> Status {
    EMBER_ASSIGN(backend::Event ev,
                 s.plugin->execute(*ps.device, ps.exe, in, out));
    return ps.wait(ev);
  };
  KIT_ASSIGN(Growth g, growthPerCycle(16, n, kLeakPerCycle, cycle));
  note(concat("the heap grew by ", bytes(g.perCycle),
              " per execution (bytes per cycle in windows of ", g.windows,
              ")"));
  KIT_CHECK(g.perCycle < kLeakPerCycle)
      << "an execution leaks: " << g.cycles << " executions of the "
      << s.probe->label << " program, each event waited for and released, "
      << "left the heap " << bytes(g.perCycle * g.cycles)
      << " larger (at least " << bytes(g.perCycle)
      << " per execution; check event_release and what "
      << "execute allocates)" << kLeakHint;
}

void closeFreesDevices() {
  KIT_REQUIRE_HEAP_COUNT();
  KitState &s = state();
  if (!s.plugin->api().device_open) {
    GTEST_SKIP() << "device_open is not implemented (NULL)";
  }
  const int n = 96; // three windows of 32
  auto cycle = [&]() -> Status { return s.plugin->openDevice(0).status(); };
  KIT_ASSIGN(Growth g, growthPerCycle(4, n / 3, kLeakPerCycle, cycle));
  note(concat("the heap grew by ", bytes(g.perCycle),
              " per device (bytes per cycle in windows of ", g.windows, ")"));
  KIT_CHECK(g.perCycle < kLeakPerCycle)
      << "device_close does not free what device_open took: device 0 "
      << "opened and closed " << g.cycles << " times left the heap "
      << bytes(g.perCycle * g.cycles) << " larger" << kLeakHint;
}

// A buffer of the tensor's size plus kSlack bytes of kPattern.
constexpr uint64_t kSlack = 64;
constexpr uint8_t kPattern = 0xA5;

void executeStaysInBounds() {
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  if (!p.api().execute) {
    GTEST_SKIP() << "execute is not implemented (NULL)";
  }
  if (!s.probe) {
    GTEST_SKIP() << s.noProbe;
  }
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  const Function &f = s.probe->sample.fn();
  KIT_ASSIGN(backend::Executable x, compileGraph(p, d, f));
  const std::vector<Tensor> &ins = s.probe->sample.inputs;
  std::vector<Type> outTypes = outputTypes(f);
  // What each buffer holds before: inputs and then the pattern; outputs
  // all pattern.
  std::vector<std::vector<uint8_t>> before;
  std::vector<backend::Buffer> bufs;
  for (size_t i = 0; i < ins.size() + outTypes.size(); ++i) {
    bool isIn = i < ins.size();
    uint64_t n = isIn ? ins[i].bytes() : outTypes[i - ins.size()].sizeInBytes();
    std::vector<uint8_t> img(n + kSlack, kPattern);
    if (isIn && n)
      std::memcpy(img.data(), ins[i].raw(), n);
    KIT_ASSIGN(backend::Buffer b, p.allocate(*d, img.size()));
    Status w = b.write(0, img.data(), img.size());
    KIT_REQUIRE(w.isOk()) << w.message();
    bufs.push_back(std::move(b));
    before.push_back(std::move(img));
  }
  std::vector<backend::Buffer *> in, out, all;
  for (size_t i = 0; i < bufs.size(); ++i) {
    (i < ins.size() ? in : out).push_back(&bufs[i]);
    all.push_back(&bufs[i]);
  }
  KIT_ASSIGN(backend::Event ev, p.execute(*d, x, in, out));
  Status w = waitOrAbandon(p, ev, all, &x, "execute");
  KIT_REQUIRE(w.isOk()) << "event_wait: " << w.message();
  for (size_t i = 0; i < bufs.size(); ++i) {
    bool isIn = i < ins.size();
    std::vector<uint8_t> now(before[i].size());
    Status r = bufs[i].read(0, now.data(), now.size());
    KIT_REQUIRE(r.isOk()) << r.message();
    uint64_t tensor = now.size() - kSlack;
    // Inputs: nothing may change. Outputs: nothing after the tensor.
    uint64_t first = UINT64_MAX, last = 0;
    for (uint64_t k = isIn ? 0 : tensor; k < now.size(); ++k)
      if (now[k] != before[i][k]) {
        first = std::min(first, k);
        last = k;
      }
    if (first == UINT64_MAX)
      continue;
    const Type &t = isIn ? ins[i].type() : outTypes[i - ins.size()];
    size_t idx = isIn ? i : i - ins.size();
    if (isIn)
      KIT_CHECK(false) << "execute wrote to input " << idx << " ("
                       << t.toString() << ", " << tensor << " bytes): bytes "
                       << first << ".." << last
                       << " of its buffer changed; inputs are read-only";
    else
      KIT_CHECK(false) << "execute wrote past the end of output " << idx << " ("
                       << t.toString() << ", " << tensor << " bytes): bytes "
                       << first << ".." << last << " of its " << now.size()
                       << "-byte buffer changed; with a buffer of the "
                          "tensor's size this overruns the buffer";
  }
}

} // namespace

void registerMemoryTests() {
  addTest("Api", "ReleaseFreesBuffers", releaseFreesBuffers);
  addTest("Api", "ReleaseFreesExecutables", releaseFreesExecutables);
  addTest("Api", "ReleaseFreesEvents", releaseFreesEvents);
  addTest("Api", "CloseFreesDevices", closeFreesDevices);
  addTest("Api", "ExecuteStaysInBounds", executeStaysInBounds);
}

} // namespace ember::kit
