// The API layer: devices, buffers (round trip, bounds, sizes), compile
// (garbage, unknown options, ahead of time), execute and events (results,
// waits, timeouts, wrong buffers, two executions at once, an error while
// running), signatures and query_support against the manifest.
#include "KitInternal.h"

#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"

#include "ember/backend/v1/artifact.pb.h"
#include "ember/backend/v1/options.pb.h"

#include <cstdlib>
#include <cstring>

namespace ember::kit {
namespace {

#define KIT_REQUIRE_FN(fn)                                                     \
  do {                                                                         \
    if (!state().plugin->api().fn) {                                           \
      GTEST_SKIP() << #fn " is not implemented (NULL)";                        \
    }                                                                          \
  } while (0)

#define KIT_REQUIRE_PROBE()                                                    \
  do {                                                                         \
    if (!state().probe) {                                                      \
      GTEST_SKIP() << state().noProbe;                                         \
    }                                                                          \
  } while (0)

void deviceOpenClose() {
  KIT_REQUIRE_FN(device_open);
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(uint32_t n, p.deviceCount());
  ASSERT_GE(n, 1u);
  for (uint32_t i = 0; i < std::min(n, 4u); ++i) {
    auto d = p.openDevice(i);
    KIT_CHECK(d.hasValue()) << "device " << i << ": " << d.status().message();
  }
  // Two handles to one device at once: the ABI does not require it, but
  // hosts that run several programs do it.
  auto d1 = p.openDevice(0), d2 = p.openDevice(0);
  if (!d1 || !d2)
    note("device 0 cannot be opened twice at once: " +
         (d1 ? d2.status() : d1.status()).message());
  ember_device_params dp{};
  dp.struct_size = sizeof(dp);
  dp.device_index = n;
  ember_device *dev = nullptr;
  RawError e;
  {
    backend::PluginCallGuard g(p, "device_open");
    e = takeRaw(p, p.api().device_open(&dp, &dev), "device_open");
  }
  KIT_CHECK(e.present) << "device_open accepted index " << n << " of " << n
                       << " devices";
  if (!e.present && dev)
    backend::Device(s.plugin, dev);
}

void bufferRoundTrip() {
  KIT_REQUIRE_FN(buffer_allocate);
  KitState &s = state();
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  const uint64_t n = 4099; // not a multiple of anything
  KIT_ASSIGN(backend::Buffer b, s.plugin->allocate(*d, n));
  std::vector<uint8_t> src(n), dst(n, 0);
  for (uint64_t i = 0; i < n; ++i)
    src[i] = uint8_t(i * 7 + 3);
  Status st = b.write(0, src.data(), n);
  KIT_REQUIRE(st.isOk()) << st.message();
  st = b.read(0, dst.data(), n);
  KIT_REQUIRE(st.isOk()) << st.message();
  KIT_CHECK(src == dst) << "a buffer read back differs from what was "
                           "written";
  // Partial writes and reads at an offset, and zero-length ones.
  uint8_t patch[5] = {9, 8, 7, 6, 5}, back[5] = {};
  st = b.write(1000, patch, 5);
  KIT_REQUIRE(st.isOk()) << "write at offset 1000: " << st.message();
  st = b.read(1000, back, 5);
  KIT_REQUIRE(st.isOk()) << "read at offset 1000: " << st.message();
  EXPECT_EQ(0, std::memcmp(patch, back, 5)) << "partial write/read differs";
  st = b.read(999, back, 1);
  KIT_REQUIRE(st.isOk()) << st.message();
  EXPECT_EQ(back[0], src[999]) << "a partial write changed its neighbour";
  st = b.write(n, patch, 0);
  KIT_CHECK(st.isOk()) << "a zero-length write at the end: " << st.message();
  // Two buffers do not alias.
  KIT_ASSIGN(backend::Buffer c, s.plugin->allocate(*d, 64));
  std::vector<uint8_t> zeros(64, 0xAB);
  KIT_REQUIRE(c.write(0, zeros.data(), 64).isOk());
  KIT_REQUIRE(b.read(0, dst.data(), n).isOk());
  dst[1000] = src[1000], dst[1001] = src[1001], dst[1002] = src[1002],
  dst[1003] = src[1003], dst[1004] = src[1004];
  KIT_CHECK(src == dst) << "writing one buffer changed another";
}

void bufferOutOfRange() {
  KIT_REQUIRE_FN(buffer_allocate);
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  KIT_ASSIGN(backend::Buffer b, p.allocate(*d, 100));
  uint8_t tmp[16] = {};
  struct Case {
    const char *what;
    uint64_t offset, size;
  };
  const Case cases[] = {
      {"[96, +8)", 96, 8},
      {"[101, +0)", 101, 0},
      {"[0, +101)", 0, 101},
      {"[UINT64_MAX - 1, +4) (offset + size overflows)", UINT64_MAX - 1, 4}};
  for (auto &c : cases) {
    uint64_t size = std::min<uint64_t>(c.size, sizeof(tmp));
    bool big = c.size > sizeof(tmp);
    std::vector<uint8_t> buf(big ? size_t(c.size) : 0);
    void *ptr = big ? buf.data() : tmp;
    for (int w = 0; w < 2; ++w) {
      const char *fn = w ? "buffer_write" : "buffer_read";
      ember_error *e;
      {
        backend::PluginCallGuard g(p, fn);
        e = w ? p.api().buffer_write(b.get(), c.offset, ptr,
                                     big ? c.size : size)
              : p.api().buffer_read(b.get(), c.offset, ptr,
                                    big ? c.size : size);
      }
      RawError r = takeRaw(p, e, fn);
      KIT_CHECK(r.present && r.code == EMBER_STATUS_OUT_OF_RANGE)
          << fn << " of " << c.what << " on a 100-byte buffer: expected "
          << "OUT_OF_RANGE, got " << r.describe();
    }
  }
}

void bufferBadSizes() {
  KIT_REQUIRE_FN(buffer_allocate);
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  for (uint64_t size : {uint64_t(0), uint64_t(1) << 62, UINT64_MAX}) {
    ember_buffer_params bp{};
    bp.struct_size = sizeof(bp);
    bp.size_bytes = size;
    ember_buffer *b = nullptr;
    RawError r;
    {
      backend::PluginCallGuard g(p, "buffer_allocate");
      r = takeRaw(p, p.api().buffer_allocate(d->get(), &bp, &b),
                  "buffer_allocate");
    }
    KIT_CHECK(r.present) << "buffer_allocate of " << size
                         << " bytes succeeded; expected an error";
    if (r.present) {
      KIT_CHECK(r.code == EMBER_STATUS_INVALID_ARGUMENT ||
                r.code == EMBER_STATUS_OUT_OF_MEMORY ||
                r.code == EMBER_STATUS_OUT_OF_RANGE)
          << "buffer_allocate of " << size << " bytes: " << r.describe();
    }
    if (!r.present && b)
      backend::Buffer(s.plugin, b, 0);
  }
}

void compileRejectsGarbage() {
  KIT_REQUIRE_FN(executable_compile);
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  auto d = pluginDevice();
  backend::Device *dev = d ? *d : nullptr;
  struct Case {
    const char *what;
    uint32_t kind;
    std::string bytes;
  };
  std::string probe;
  if (s.probe) {
    auto g = backend::serializeGraph(s.probe->sample.fn());
    if (g)
      probe = *g;
  }
  std::vector<Case> cases = {
      {"random bytes as a graph", EMBER_PROGRAM_GRAPH,
       std::string("\x0a\xff\xff\xff\xff\x0f garbage \x01\x02", 17)},
      {"random bytes as LIR", EMBER_PROGRAM_LIR,
       std::string("\x22\xff\xff\xff\x7f garbage", 13)},
      {"an empty program", EMBER_PROGRAM_GRAPH, std::string()}};
  if (!probe.empty()) {
    cases.push_back({"program kind 99", 99, probe});
    cases.push_back({"a truncated graph", EMBER_PROGRAM_GRAPH,
                     probe.substr(0, probe.size() / 2)});
  }
  for (auto &c : cases) {
    auto x = p.compile(dev, c.kind, c.bytes);
    KIT_CHECK(!(x.hasValue())) << "compiled " << c.what;
  }
}

void compileRejectsUnknownOption() {
  KIT_REQUIRE_FN(executable_compile);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  // The probe as Ember sends it to this plugin (LayerPath.h).
  KIT_ASSIGN(backend::PluginProgram g,
             pluginProgram(*s.plugin, s.probe->sample.fn()));
  v1::CompileOptions o;
  o.set_schema_version(1);
  (*o.mutable_vendor())["ember_kit_no_such_option"] = "1";
  ember_compile_params cp{};
  cp.struct_size = sizeof(cp);
  cp.program_kind = g.kind;
  cp.program = g.bytes.data();
  cp.program_size = g.bytes.size();
  std::string ob = o.SerializeAsString();
  cp.options = ob.data();
  cp.options_size = ob.size();
  ember_executable *x = nullptr;
  RawError r;
  {
    backend::PluginCallGuard gd(*s.plugin, "executable_compile");
    r = takeRaw(*s.plugin,
                s.plugin->api().executable_compile(d->get(), &cp, &x),
                "executable_compile");
  }
  if (!r.present && x)
    backend::Executable(s.plugin, x);
  KIT_REQUIRE(r.present) << "compiled with the unknown vendor option "
                            "'ember_kit_no_such_option'";
  EXPECT_EQ(r.code, EMBER_STATUS_INVALID_ARGUMENT) << r.describe();
  EXPECT_NE(r.message.find("ember_kit_no_such_option"), std::string::npos)
      << "the error does not name the option: " << r.message;
  // Default options, serialized, are fine.
  v1::CompileOptions def;
  def.set_schema_version(1);
  KIT_ASSIGN(backend::Executable ok,
             s.plugin->compile(d, g.kind, g.bytes, def.SerializeAsString()));
  KIT_CHECK(bool(ok));
}

void compileWithoutDevice() {
  KIT_REQUIRE_FN(executable_compile);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  auto x = compileGraph(*s.plugin, nullptr, s.probe->sample.fn());
  if (!x) {
    GTEST_SKIP() << "no ahead-of-time compilation (device NULL): "
                 << x.status().message();
  }
  if (!s.plugin->api().execute)
    return;
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  KIT_ASSIGN(auto got, runExecutable(*s.plugin, *d, *x, s.probe->sample.inputs,
                                     outputTypes(s.probe->sample.fn())));
  std::string why =
      compareOutputs(got, s.probe->expected, s.config.rtol, s.config.atol);
  KIT_CHECK(why.empty()) << "compiled without a device, run on device 0: "
                         << why;
}

void executeAndWait() {
  KIT_REQUIRE_FN(execute);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(auto setup, setupProbe());
  ProbeSetup &ps = *setup;
  std::vector<backend::Buffer *> in, out;
  for (auto &b : ps.in)
    in.push_back(&b);
  for (auto &b : ps.out)
    out.push_back(&b);
  KIT_ASSIGN(backend::Event ev, p.execute(*ps.device, ps.exe, in, out));
  // A zero timeout: done or TIMEOUT, nothing else.
  Status w0 = ev.wait(0);
  KIT_CHECK(w0.isOk() || w0.code() == ErrorCode::Timeout)
      << "event_wait(0): " << w0.message();
  Status w = ps.wait(ev);
  KIT_REQUIRE(w.isOk()) << "event_wait: " << w.message();
  // Waiting again on a completed event is fine and returns success.
  Status again = ev.wait(0);
  KIT_CHECK(again.isOk()) << "a second event_wait: " << again.message();
  Status forever = ev.wait(UINT64_MAX);
  KIT_CHECK(forever.isOk()) << "event_wait(UINT64_MAX) on a completed "
                               "event: "
                            << forever.message();
  Status rs;
  auto got = ps.read(rs);
  KIT_REQUIRE(rs.isOk()) << rs.message();
  std::string why =
      compareOutputs(got, s.probe->expected, s.config.rtol, s.config.atol);
  KIT_CHECK(why.empty()) << s.probe->label << ": " << why;
  // The executable runs again, with the same results.
  KIT_ASSIGN(backend::Event ev2, p.execute(*ps.device, ps.exe, in, out));
  Status w2 = ps.wait(ev2);
  KIT_REQUIRE(w2.isOk()) << "a second execution: " << w2.message();
  auto got2 = ps.read(rs);
  KIT_REQUIRE(rs.isOk()) << rs.message();
  KIT_CHECK(compareOutputs(got2, got, 0, 0).empty())
      << "a second run gives other results";
}

// ABI 1.2: a buffer over the host's memory reads and writes that memory,
// is bounds-checked, is not freed by buffer_release, rejects bad arguments,
// and runs the probe with the inputs and outputs in place.
void importHostBuffer() {
  KIT_REQUIRE_FN(buffer_import_host);
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  // 64-byte aligned storage, a page of it.
  constexpr size_t kBytes = 4096;
  std::unique_ptr<uint8_t, void (*)(void *)> mem(
      static_cast<uint8_t *>(std::aligned_alloc(64, kBytes)), std::free);
  KIT_REQUIRE(mem != nullptr);
  for (size_t i = 0; i < kBytes; ++i)
    mem.get()[i] = uint8_t(i * 5 + 1);
  {
    Expected<backend::Buffer> eb = p.importHost(*d, mem.get(), kBytes);
    if (!eb && eb.status().code() == ErrorCode::Unsupported) {
      note("buffer_import_host refused 64-byte aligned memory: " +
           eb.status().message());
      GTEST_SKIP() << "the plugin imports no host memory of this kind";
    }
    KIT_REQUIRE(eb.hasValue()) << eb.status().message();
    backend::Buffer b = std::move(*eb);
    uint8_t back[8] = {};
    KIT_REQUIRE(b.read(100, back, 8).isOk());
    EXPECT_EQ(0, std::memcmp(back, mem.get() + 100, 8))
        << "buffer_read of an imported buffer differs from the memory";
    const uint8_t patch[4] = {0xDE, 0xAD, 0xBE, 0xEF};
    KIT_REQUIRE(b.write(200, patch, 4).isOk());
    EXPECT_EQ(0, std::memcmp(patch, mem.get() + 200, 4))
        << "buffer_write to an imported buffer did not reach the memory";
    ember_error *e;
    {
      backend::PluginCallGuard g(p, "buffer_write");
      e = p.api().buffer_write(b.get(), kBytes - 2, patch, 4);
    }
    RawError r = takeRaw(p, e, "buffer_write");
    KIT_CHECK(r.present && r.code == EMBER_STATUS_OUT_OF_RANGE)
        << "a write past an imported buffer's end: "
        << (r.present ? r.describe() : "accepted");
  } // released here: the memory must still be ours
  mem.get()[0] = 7;
  // Bad arguments: INVALID_ARGUMENT, with a message.
  struct Bad {
    const char *what;
    void *ptr;
    uint64_t size;
  };
  const Bad bads[] = {{"a NULL host_ptr", nullptr, 64},
                      {"size 0", mem.get(), 0}};
  for (const Bad &c : bads) {
    ember_host_buffer_params hp{};
    hp.struct_size = sizeof(hp);
    hp.host_ptr = c.ptr;
    hp.size_bytes = c.size;
    ember_buffer *out = nullptr;
    ember_error *e;
    {
      backend::PluginCallGuard g(p, "buffer_import_host");
      e = p.api().buffer_import_host(d->get(), &hp, &out);
    }
    RawError r = takeRaw(p, e, "buffer_import_host");
    KIT_CHECK(r.present && r.code == EMBER_STATUS_INVALID_ARGUMENT &&
              !r.message.empty())
        << c.what << ": " << (r.present ? r.describe() : "accepted");
    if (!r.present && out)
      p.api().buffer_release(out);
  }
  // The probe with imported inputs and outputs (copies into aligned memory).
  if (!s.probe)
    return;
  KIT_ASSIGN(backend::Executable x, compileGraph(p, d, s.probe->sample.fn()));
  std::vector<std::unique_ptr<uint8_t, void (*)(void *)>> store;
  std::vector<backend::Buffer> bufs;
  auto place = [&](const void *src, size_t n) -> Status {
    store.emplace_back(
        static_cast<uint8_t *>(std::aligned_alloc(64, (n + 63) / 64 * 64)),
        std::free);
    if (src)
      std::memcpy(store.back().get(), src, n);
    EMBER_ASSIGN(backend::Buffer b, p.importHost(*d, store.back().get(), n));
    bufs.push_back(std::move(b));
    return Status::ok();
  };
  const std::vector<Tensor> &ins = s.probe->sample.inputs;
  std::vector<Type> outTypes = outputTypes(s.probe->sample.fn());
  for (auto &t : ins)
    if (!t.bytes())
      GTEST_SKIP() << "the probe has an empty input";
  for (auto &t : outTypes)
    if (!t.sizeInBytes())
      GTEST_SKIP() << "the probe has an empty output";
  for (auto &t : ins)
    KIT_REQUIRE(place(t.raw(), t.bytes()).isOk());
  for (auto &t : outTypes)
    KIT_REQUIRE(place(nullptr, t.sizeInBytes()).isOk());
  std::vector<backend::Buffer *> in, out;
  for (size_t i = 0; i < bufs.size(); ++i)
    (i < ins.size() ? in : out).push_back(&bufs[i]);
  KIT_ASSIGN(backend::Event ev, p.execute(*d, x, in, out));
  std::vector<backend::Buffer *> all;
  for (auto &b : bufs)
    all.push_back(&b);
  Status w = waitOrAbandon(p, ev, all, &x, "execute");
  if (w.code() == ErrorCode::Timeout)
    for (auto &m : store) // the plugin may still write it
      m.release();
  KIT_REQUIRE(w.isOk()) << "event_wait: " << w.message();
  std::vector<Tensor> got;
  for (size_t i = 0; i < outTypes.size(); ++i) {
    Tensor t(outTypes[i]);
    std::memcpy(t.raw(), store[ins.size() + i].get(), t.bytes());
    got.push_back(std::move(t));
  }
  std::string why =
      compareOutputs(got, s.probe->expected, s.config.rtol, s.config.atol);
  KIT_CHECK(why.empty()) << s.probe->label << " on imported buffers: " << why;
}

// execute() with the wrong buffers must fail at once, without an event.
void executeRejectsBadBuffers() {
  KIT_REQUIRE_FN(execute);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(auto setup, setupProbe());
  ProbeSetup &ps = *setup;
  auto tryExec = [&](const char *what, std::vector<ember_buffer *> in,
                     std::vector<ember_buffer *> out, bool nullExe) {
    ember_execute_params ep{};
    ep.struct_size = sizeof(ep);
    ep.executable = nullExe ? nullptr : ps.exe.get();
    ep.inputs = in.data();
    ep.num_inputs = in.size();
    ep.outputs = out.data();
    ep.num_outputs = out.size();
    ember_event *ev = nullptr;
    RawError r;
    {
      backend::PluginCallGuard g(p, "execute");
      r = takeRaw(p, p.api().execute(ps.device->get(), &ep, &ev), "execute");
    }
    KIT_CHECK(r.present) << "execute accepted " << what;
    if (r.present) {
      EXPECT_EQ(r.code, EMBER_STATUS_INVALID_ARGUMENT)
          << what << ": " << r.describe();
    }
    if (!r.present && ev) {
      backend::Event e(s.plugin, ev);
      (void)ps.wait(e);
    }
  };
  auto in = ps.inPtrs, out = ps.outPtrs;
  auto fewer = in;
  fewer.pop_back();
  tryExec("one input buffer too few", fewer, out, false);
  auto more = out;
  more.push_back(out.front());
  tryExec("one output buffer too many", in, more, false);
  auto withNull = in;
  withNull[0] = nullptr;
  tryExec("a NULL input buffer", withNull, out, false);
  tryExec("a NULL executable", in, out, true);
}

// A buffer smaller than its tensor: an error at execute or on the event,
// never a silent success.
void executeRejectsSmallBuffer() {
  KIT_REQUIRE_FN(execute);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(auto setup, setupProbe());
  ProbeSetup &ps = *setup;
  const Tensor &t0 = s.probe->sample.inputs[0];
  if (t0.bytes() < 2) {
    GTEST_SKIP() << "the probe's first input is too small to shrink";
  }
  KIT_ASSIGN(backend::Buffer small, p.allocate(*ps.device, t0.bytes() / 2));
  std::vector<backend::Buffer *> in, out;
  for (auto &b : ps.in)
    in.push_back(&b);
  in[0] = &small;
  for (auto &b : ps.out)
    out.push_back(&b);
  auto ev = p.execute(*ps.device, ps.exe, in, out);
  if (!ev)
    return; // refused at execute: good
  std::vector<backend::Buffer *> all = ps.buffers();
  all.push_back(&small);
  Status w = waitOrAbandon(p, *ev, all, &ps.exe, "execute");
  KIT_CHECK(!(w.isOk())) << "an input buffer of " << t0.bytes() / 2
                         << " bytes for " << t0.type().toString()
                         << " was accepted and the run succeeded";
}

void twoExecutionsInFlight() {
  KIT_REQUIRE_FN(execute);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  backend::Plugin &p = *s.plugin;
  KIT_ASSIGN(auto a, setupProbe());
  KIT_ASSIGN(auto b, setupProbe());
  auto ptrs = [](std::vector<backend::Buffer> &v) {
    std::vector<backend::Buffer *> r;
    for (auto &x : v)
      r.push_back(&x);
    return r;
  };
  KIT_ASSIGN(backend::Event ea,
             p.execute(*a->device, a->exe, ptrs(a->in), ptrs(a->out)));
  KIT_ASSIGN(backend::Event eb,
             p.execute(*b->device, b->exe, ptrs(b->in), ptrs(b->out)));
  Status wb = b->wait(eb), wa = a->wait(ea);
  KIT_REQUIRE(wa.isOk() && wb.isOk()) << wa.message() << " " << wb.message();
  for (auto *x : {a.get(), b.get()}) {
    Status rs;
    auto got = x->read(rs);
    KIT_REQUIRE(rs.isOk()) << rs.message();
    std::string why =
        compareOutputs(got, s.probe->expected, s.config.rtol, s.config.atol);
    KIT_CHECK(why.empty()) << "two executions in flight: " << why;
  }
}

// An error that only shows while running (a Gather index out of range,
// given as input data) comes back from execute or event_wait as an error
// object.
void errorOnEvent() {
  KIT_REQUIRE_FN(execute);
  KitState &s = state();
  Function f("gather_oob");
  Node *x = f.addPlaceholder("x", Type(ElemKind::F32, {5, 4}));
  Node *i = f.addPlaceholder("i", Type(ElemKind::I64, {2}));
  auto n = f.create(OpKind::Gather, {Value(x), Value(i)},
                    {{"axis", Attr::ofInt(0)}});
  KIT_REQUIRE(n.hasValue()) << n.status().message();
  f.addOutput(Value(*n), "y");
  auto sup = backend::querySupport(*s.plugin, f);
  if (!sup || !sup->supported[0]) {
    GTEST_SKIP() << "the plugin does not claim Gather f32 with i64 indices "
                    "given as input, the kit's way to fail at run time";
  }
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  KIT_ASSIGN(backend::Executable exe, compileGraph(*s.plugin, d, f));
  std::vector<Tensor> in = {randomTensor(Type(ElemKind::F32, {5, 4}), 1),
                            Tensor::fromInts(ElemKind::I64, {1, 100})};
  auto r = runExecutable(*s.plugin, *d, exe, in, outputTypes(f));
  KIT_REQUIRE(!(r.hasValue())) << "Gather with index 100 on an axis of 5 "
                                  "succeeded; expected an error from execute "
                                  "or event_wait";
  EXPECT_NE(r.status().code(), ErrorCode::Timeout) << r.status().message();
  note("reported: " + r.status().message());
}

void signature() {
  KIT_REQUIRE_FN(executable_signature);
  KIT_REQUIRE_PROBE();
  KitState &s = state();
  KIT_ASSIGN(backend::Device * d, pluginDevice());
  const Function &f = s.probe->sample.fn();
  KIT_ASSIGN(backend::Executable x, compileGraph(*s.plugin, d, f));
  KIT_ASSIGN(backend::Plugin::Signature sig, s.plugin->signature(x));
  ASSERT_EQ(sig.inputs.size(), f.params().size()) << "input count";
  ASSERT_EQ(sig.outputs.size(), f.outputs().size()) << "output count";
  for (size_t i = 0; i < sig.inputs.size(); ++i) {
    EXPECT_EQ(sig.inputs[i], f.params()[i]->types[0])
        << "input " << i << " is " << sig.inputs[i].toString();
  }
  for (size_t i = 0; i < sig.outputs.size(); ++i) {
    EXPECT_EQ(sig.outputs[i], f.outputs()[i].value.type())
        << "output " << i << " is " << sig.outputs[i].toString();
  }
  if (sig.inputNames.size() == f.params().size())
    for (size_t i = 0; i < sig.inputNames.size(); ++i) {
      EXPECT_EQ(sig.inputNames[i], f.params()[i]->outNames[0]);
    }
  if (sig.outputNames.size() == f.outputs().size())
    for (size_t i = 0; i < sig.outputNames.size(); ++i) {
      EXPECT_EQ(sig.outputNames[i], f.outputs()[i].name);
    }
}

// For f32 samples of common ops: query_support answers every node, and
// refuses (with a reason) what the manifest does not claim.
void querySupportAgrees() {
  KIT_REQUIRE_FN(query_support);
  KitState &s = state();
  int checked = 0;
  for (const char *op : {"Add", "Mul", "Relu", "MatMul", "Conv", "MaxPool",
                         "Reshape", "Transpose", "Concat", "ReduceSum"}) {
    auto sample = buildSample(op, ElemKind::F32, s.config.seed);
    if (!sample)
      continue;
    const Node &n = sample->node();
    std::string why;
    bool claimed = backend::manifestClaims(s.manifest, n, why);
    KIT_ASSIGN(std::string g, backend::serializeGraph(sample->fn()));
    KIT_ASSIGN(v1::SupportReport r, s.plugin->querySupport(g, 1));
    ++checked;
    ASSERT_EQ(r.nodes_size(), 1)
        << op << ": query_support answered " << r.nodes_size() << " nodes of 1";
    if (!claimed) {
      KIT_CHECK(!(r.nodes(0).supported()))
          << op << " f32: query_support claims a node the manifest does not ("
          << why << ")";
    }
    if (!r.nodes(0).supported()) {
      KIT_CHECK(!(r.nodes(0).reason().empty()))
          << op << " f32: refused without a reason";
    }
  }
  note(concat("checked ", checked, " nodes"));
}

} // namespace

void registerApiTests() {
  addTest("Api", "DeviceOpenClose", deviceOpenClose);
  addTest("Api", "BufferRoundTrip", bufferRoundTrip);
  addTest("Api", "BufferOutOfRange", bufferOutOfRange);
  addTest("Api", "BufferBadSizes", bufferBadSizes);
  addTest("Api", "CompileRejectsGarbage", compileRejectsGarbage);
  addTest("Api", "CompileRejectsUnknownOption", compileRejectsUnknownOption);
  addTest("Api", "CompileWithoutDevice", compileWithoutDevice);
  addTest("Api", "ExecuteAndWait", executeAndWait);
  addTest("Api", "ExecuteRejectsBadBuffers", executeRejectsBadBuffers);
  addTest("Api", "ExecuteRejectsSmallBuffer", executeRejectsSmallBuffer);
  addTest("Api", "TwoExecutionsInFlight", twoExecutionsInFlight);
  addTest("Api", "ErrorOnEvent", errorOnEvent);
  addTest("Api", "Signature", signature);
  addTest("Api", "ImportHostBuffer", importHostBuffer);
  addTest("Api", "QuerySupportAgrees", querySupportAgrees);
  registerMemoryTests();
  registerRuntimeTests();
}

} // namespace ember::kit
