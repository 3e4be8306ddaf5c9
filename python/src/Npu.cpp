// ember.npu: the example NPU's simulator through its C driver interface
// (driver.h: golden, SystemC and RTL executors), the assembler and the
// disassembler. A program runs as `ember sim` runs it: DRAM loads before,
// the run, the counters, DRAM dumps after; the SystemC executor's
// per-instruction trace comes back as per-engine slices.
#include "Bindings.h"

#include "ember/npu/Assembler.h"
#include "ember/npu/Isa.h"
#include "ember/npu/driver.h"

#include <nanobind/stl/map.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <unistd.h>

namespace nb = nanobind;
using namespace nb::literals;

namespace ember::py {

namespace {

using npu::Word;

// A program: assembly text or a binary program file's bytes ("ENPU"
// header), as `ember sim` reads a file.
std::vector<Word> programFrom(const std::string &bytes,
                              const std::string &where) {
  std::vector<Word> program;
  if (bytes.size() >= 4 && bytes.compare(0, 4, "ENPU") == 0) {
    // readProgramFile reads a path: go through a temporary file.
    char path[] = "/tmp/ember-program-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
      raise(makeError(ErrorCode::Io, "cannot create a temporary file"));
    ssize_t w = write(fd, bytes.data(), bytes.size());
    close(fd);
    std::string err = w == ssize_t(bytes.size())
                          ? npu::readProgramFile(path, program)
                          : std::string("cannot write a temporary file");
    unlink(path);
    if (!err.empty())
      raise(invalid(err, " (", where, ")"));
    return program;
  }
  std::string err = npu::assemble(bytes, program);
  if (!err.empty())
    raise(invalid(err, " (", where, ")"));
  return program;
}

struct SimSpec {
  std::string executor = "systemc";
  std::optional<uint64_t> dramBytes, dramBw, dramLatency, burst, watchdog;
  bool trace = true;
  std::string traceFst;                                // RTL waveform file
  std::vector<std::pair<uint64_t, std::string>> loads; // addr, bytes
  std::vector<std::pair<uint64_t, uint64_t>> dumps;    // addr, length
};

// One device at a time per process for SystemC (driver.h); the others are
// independent, but one lock keeps the rule simple.
std::mutex gSimMutex;

nb::dict sim(const std::string &programBytes, const std::string &where,
             const SimSpec &s) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  if (s.executor == "golden")
    cfg.executor = EMBER_NPU_EXECUTOR_GOLDEN;
  else if (s.executor == "systemc")
    cfg.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  else if (s.executor == "rtl")
    cfg.executor = EMBER_NPU_EXECUTOR_RTL;
  else
    raise(invalid("executor '", s.executor, "' is not systemc, golden or rtl"));
  auto inRange = [](const char *what, std::optional<uint64_t> v, uint64_t lo,
                    uint64_t hi) {
    if (v && (*v < lo || *v > hi))
      raise(invalid(what, " ", *v, " is not ", lo, " to ", hi));
  };
  inRange("dram_bytes", s.dramBytes, 1, uint64_t(1) << 62);
  inRange("dram_bw", s.dramBw, 1, (1u << 20) - 1);
  inRange("dram_latency", s.dramLatency, 0, (1u << 24) - 1);
  inRange("burst", s.burst, 1, (1u << 20) - 1);
  if (s.dramBytes)
    cfg.dram_bytes = *s.dramBytes;
  if (s.dramBw)
    cfg.dram_bytes_per_cycle = uint32_t(*s.dramBw);
  if (s.dramLatency) {
    cfg.dram_latency_cycles = uint32_t(*s.dramLatency);
    cfg.dram_zero_latency = *s.dramLatency == 0;
  }
  if (s.burst)
    cfg.dram_burst_bytes = uint32_t(*s.burst);
  if (s.watchdog)
    cfg.watchdog_cycles = *s.watchdog;
  bool rtl = cfg.executor == EMBER_NPU_EXECUTOR_RTL;
  if (!s.traceFst.empty() && !rtl)
    raise(invalid("waveforms (trace_fst) come from the RTL executor"));
  std::vector<Word> program = programFrom(programBytes, where);

  nb::gil_scoped_release nogil;
  std::lock_guard<std::mutex> lock(gSimMutex);
  // The SystemC executor writes its Chrome trace to a file.
  std::string tracePath;
  if (s.trace && cfg.executor == EMBER_NPU_EXECUTOR_SYSTEMC) {
    char path[] = "/tmp/ember-trace-XXXXXX";
    int fd = mkstemp(path);
    if (fd >= 0) {
      close(fd);
      tracePath = path;
      cfg.trace_path = tracePath.c_str();
    }
  }
  if (!s.traceFst.empty())
    cfg.waveform_path = s.traceFst.c_str();
  struct Cleanup {
    ember_npu_device_t *dev = nullptr;
    std::string trace;
    ~Cleanup() {
      if (dev)
        ember_npu_device_destroy(dev);
      if (!trace.empty())
        unlink(trace.c_str());
    }
  } cleanup;
  cleanup.trace = tracePath;
  ember_npu_status_t st = ember_npu_device_create(&cfg, &cleanup.dev);
  if (st == EMBER_NPU_STATUS_UNSUPPORTED)
    raise(unsupported("this build has no RTL executor (Verilator 5 was not "
                      "found) (executor rtl)"));
  if (st == EMBER_NPU_STATUS_BUSY)
    raise(invalid("another SystemC device is alive in this process, or "
                  "another NPU plugin (another array size) took its kernel "
                  "(one simulation kernel per process)"));
  if (st != EMBER_NPU_STATUS_OK)
    raise(invalid("cannot create the ", s.executor, " device (status ", int(st),
                  rtl ? "; the RTL executor needs a power-of-two burst of at "
                        "most 4096 bytes)"
                      : ")"));
  ember_npu_device_t *dev = cleanup.dev;
  for (auto &[addr, bytes] : s.loads)
    if (ember_npu_dram_write(dev, addr, bytes.data(), bytes.size()) !=
        EMBER_NPU_STATUS_OK)
      raise(invalid(bytes.size(), " bytes do not fit in DRAM at ", addr,
                    " (load)"));
  ember_npu_program_load(dev, program.data(), program.size());
  auto t0 = std::chrono::steady_clock::now();
  st = ember_npu_run(dev);
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
          .count();
  if (st != EMBER_NPU_STATUS_OK)
    raise(Status(st == EMBER_NPU_STATUS_BAD_PROGRAM ? ErrorCode::Invalid
                                                    : ErrorCode::Backend,
                 concat(ember_npu_device_last_error(dev), " (", where, ")")));
  ember_npu_counters_t c;
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  ember_npu_counters_read(dev, &c);
  ember_npu_device_info_t info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  ember_npu_device_query(dev, &info);
  std::vector<std::pair<uint64_t, std::string>> dumped;
  for (auto &[addr, len] : s.dumps) {
    std::string buf(len, '\0');
    if (ember_npu_dram_read(dev, addr, buf.data(), len) != EMBER_NPU_STATUS_OK)
      raise(invalid("DRAM range ", addr, "+", len, " is out of range (dump)"));
    dumped.push_back({addr, std::move(buf)});
  }
  std::string traceJson;
  if (!tracePath.empty()) {
    ember_npu_device_destroy(dev); // the trace is complete once destroyed
    cleanup.dev = nullptr;
    std::ifstream in(tracePath);
    traceJson.assign(std::istreambuf_iterator<char>(in),
                     std::istreambuf_iterator<char>());
  }

  nb::gil_scoped_acquire gil;
  nb::dict counters;
#define EMBER_NPU_X(name) counters[#name] = c.name;
  EMBER_NPU_COUNTER_LIST(EMBER_NPU_X)
#undef EMBER_NPU_X
  double dim = double(info.dim ? info.dim : EMBER_NPU_DIM);
  nb::dict d;
  d["executor"] = std::string(info.name ? info.name : s.executor.c_str());
  d["dim"] = uint32_t(dim);
  d["timed"] = bool(info.timed);
  d["counters"] = counters;
  d["cycles"] = c.cycles;
  d["mac_util"] =
      c.cycles ? double(c.macs) / (dim * dim * double(c.cycles)) : 0.0;
  d["dma_bytes"] = c.load_bytes + c.store_bytes;
  d["overlap"] = c.load_busy ? double(c.overlap) / double(c.load_busy) : 0.0;
  d["sim_cycles_per_s"] = seconds > 0 ? double(c.cycles) / seconds : 0.0;
  d["wall_s"] = seconds;
  nb::dict dumps;
  for (auto &[addr, bytes] : dumped)
    dumps[nb::int_(addr)] = nb::bytes(bytes.data(), bytes.size());
  d["dumps"] = dumps;
  d["trace_json"] = traceJson;
  return d;
}

} // namespace

void bindNpu(nb::module_ &m) {
  nb::module_ n = m.def_submodule("npu", "The example NPU's simulator.");
  n.attr("DIM") = EMBER_NPU_DIM;
  nb::class_<SimSpec>(n, "_SimSpec")
      .def(nb::init<>())
      .def_rw("executor", &SimSpec::executor)
      .def_rw("dram_bytes", &SimSpec::dramBytes)
      .def_rw("dram_bw", &SimSpec::dramBw)
      .def_rw("dram_latency", &SimSpec::dramLatency)
      .def_rw("burst", &SimSpec::burst)
      .def_rw("watchdog", &SimSpec::watchdog)
      .def_rw("trace", &SimSpec::trace)
      .def_rw("trace_fst", &SimSpec::traceFst)
      .def("add_load",
           [](SimSpec &s, uint64_t addr, nb::bytes data) {
             s.loads.push_back({addr, std::string(data.c_str(), data.size())});
           })
      .def_rw("dumps", &SimSpec::dumps);
  n.def("_sim",
        [](nb::bytes program, const std::string &where, const SimSpec &s) {
          return sim(std::string(program.c_str(), program.size()), where, s);
        });
  n.def(
      "assemble",
      [](const std::string &text) {
        std::vector<Word> program;
        std::string err = npu::assemble(text, program);
        if (!err.empty())
          raise(invalid(err, " (assembly)"));
        std::string out(program.size() * 16, '\0');
        for (size_t i = 0; i < program.size(); ++i) {
          std::memcpy(&out[i * 16], &program[i].lo, 8);
          std::memcpy(&out[i * 16 + 8], &program[i].hi, 8);
        }
        return nb::bytes(out.data(), out.size());
      },
      "text"_a, "Assembles NPU assembly text into 16-byte instruction words.");
  n.def(
      "disassemble",
      [](nb::bytes words) {
        if (words.size() % 16)
          raise(invalid("a program is a multiple of 16 bytes, not ",
                        words.size()));
        std::vector<Word> program(words.size() / 16);
        for (size_t i = 0; i < program.size(); ++i) {
          std::memcpy(&program[i].lo, words.c_str() + i * 16, 8);
          std::memcpy(&program[i].hi, words.c_str() + i * 16 + 8, 8);
        }
        std::string text;
        std::string err = npu::disassemble(program, text);
        if (!err.empty())
          raise(invalid(err, " (disassemble)"));
        return text;
      },
      "words"_a, "The assembly text of 16-byte instruction words.");
}

} // namespace ember::py
