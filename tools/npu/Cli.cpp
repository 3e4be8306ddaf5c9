//===- Cli.cpp - `ember asm|disasm|sim|cosim` -----------------------------===//
#include "ember/npu/Cli.h"

#include "ember/CommandLine.h"
#include "ember/npu/Assembler.h"
#include "ember/npu/Cosim.h"
#include "ember/npu/driver.h"
#include "ember/plugin_handover.hpp"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <sys/stat.h>

namespace ember::npu {

namespace {

int fail(const std::string &what, const std::string &where) {
  std::fprintf(stderr, "error: %s (%s)\n", what.c_str(), where.c_str());
  return 1;
}

/// Errors from the library read "<position>: <cause>" (position = "line 3",
/// "instruction 7"); print them as `error: <cause> (<file>:<position>)`.
int failAt(const std::string &err, const std::string &file) {
  size_t colon = err.find(": ");
  if (colon == std::string::npos)
    return fail(err, file);
  return fail(err.substr(colon + 2), file + ":" + err.substr(0, colon));
}

bool readFile(const std::string &path, std::string &out) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    return false;
  std::stringstream ss;
  ss << in.rdbuf();
  out = ss.str();
  return true;
}

bool writeFile(const std::string &path, const void *data, size_t n) {
  std::ofstream out(path, std::ios::binary);
  out.write(static_cast<const char *>(data), static_cast<std::streamsize>(n));
  return static_cast<bool>(out);
}

/// A whole number, decimal or 0x-prefixed hex ("" when good, else the
/// problem).
std::string parseNumber(const std::string &s, uint64_t lo, uint64_t hi,
                        uint64_t &v) {
  if (s.size() > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
    std::string want = "expected a number from " + std::to_string(lo) + " to " +
                       std::to_string(hi) + " (decimal or 0x hex)";
    if (s.size() > 18 ||
        s.find_first_not_of("0123456789abcdefABCDEF", 2) != std::string::npos)
      return want;
    uint64_t x = std::strtoull(s.c_str() + 2, nullptr, 16);
    if (x < lo || x > hi)
      return want;
    v = x;
    return "";
  }
  std::string e = cmdline::parseUint(s, lo, hi, v);
  return e.empty() ? e : e + " (decimal or 0x hex)";
}

cmdline::Parse numberIn(uint64_t &out, uint64_t lo, uint64_t hi) {
  return [&out, lo, hi](const std::string &s) {
    return parseNumber(s, lo, hi, out);
  };
}

/// --stall-cycles N|off into config.stall_cycles (driver.h, "Stalls").
cmdline::Parse stallCycles(ember_npu_config_t &cfg) {
  return [&cfg](const std::string &v) -> std::string {
    if (v == "off") {
      cfg.stall_cycles = EMBER_NPU_STALL_OFF;
      return "";
    }
    uint64_t n = 0;
    if (!parseNumber(v, 1, UINT64_MAX - 1, n).empty())
      return "expected a number of cycles or 'off'";
    cfg.stall_cycles = n;
    return "";
  };
}
constexpr const char *kStallHelp =
    "A run that retires nothing for N cycles before FINISH has stalled (a "
    "hung engine): it fails naming the oldest instruction not retired and "
    "where every engine stood. Default: the bound derived from the program "
    "and the DRAM timing, which no correct run exceeds (docs/npu-rtl.md, "
    "\"Stall watchdog\"); give a larger N for a DUT slower than the spec's "
    "timing. SystemC and RTL executors.";

/// Loads a program from assembly text or a binary program file (by magic);
/// prints the error.
bool loadProgram(const std::string &path, std::vector<Word> &program) {
  std::string bytes;
  if (!readFile(path, bytes)) {
    fail("cannot open program", path);
    return false;
  }
  if (bytes.size() >= 4 && bytes.compare(0, 4, "ENPU") == 0) {
    std::string err = readProgramFile(path, program);
    if (!err.empty())
      fail(err, path);
    return err.empty();
  }
  std::string err = assemble(bytes, program);
  if (!err.empty())
    failAt(err, path);
  return err.empty();
}

const CliCommand &info(const char *name) {
  for (const CliCommand &c : cliCommands())
    if (!std::strcmp(c.name, name))
      return c;
  return cliCommands().front();
}

cmdline::Command makeCommand(const char *name, const char *self) {
  const CliCommand &c = info(name);
  return cmdline::Command(self, c.usage, c.summary);
}

// `CMD IN [-o OUT]`: nothing when parsed, else the exit status (reported).
std::optional<int> parseInOut(int argc, char **argv, const char *name,
                              const char *inHelp, const char *outHelp,
                              std::string &in, std::string &out) {
  cmdline::Command cmd = makeCommand(name, argv[0]);
  std::vector<std::string> pos;
  cmd.positional("IN", inHelp, pos, 1, 1);
  cmd.add({"-o"}, "OUT", outHelp, cmdline::text(out));
  if (auto rc = cmd.parse(argc, argv, 1))
    return rc;
  in = pos[0];
  return std::nullopt;
}

} // namespace

const std::vector<CliCommand> &cliCommands() {
  static const std::vector<CliCommand> table = {
      {"asm", "IN.nasm [-o OUT.nbin]",
       "Assembles NPU assembly text into a binary program file "
       "(docs/npu-isa.md).",
       asmMain},
      {"disasm", "IN.nbin [-o OUT.nasm]",
       "Disassembles a binary program file into canonical assembly text "
       "(the round trip through asm is exact).",
       disasmMain},
      {"sim", "PROGRAM [options]",
       "Runs an NPU program on the golden model, the SystemC model or the "
       "RTL and prints its performance counters. The last line is 'cycles=<n> "
       "mac_util=<0..1> dma_bytes=<n> overlap=<0..1> "
       "sim_cycles_per_s=<n>'.",
       simMain},
      {"cosim", "PROGRAM|DIR --ref E --dut E|LIB.so [options]",
       "Runs an NPU program on a reference executor and a device under test "
       "and compares them at every instruction's retirement (the bytes it "
       "wrote, its counters). Exit 0 when they agree; otherwise prints the "
       "first divergent instruction (index, text, engine, DUT cycle, its "
       "layer and source nodes when a layer map is given, the differing "
       "bytes with their addresses), reruns the DUT to write a waveform "
       "window around it, and exits 1. DIR: a compiled model's hand-over "
       "(`ember cosim MODEL` makes one). The last line is 'cosim: agree "
       "...' or 'cosim: diverged at instruction <i> ...'.",
       cosimMain},
  };
  return table;
}

int asmMain(int argc, char **argv) {
  std::string in, out;
  if (auto rc = parseInOut(argc, argv, "asm", "NPU assembly text.",
                           "The binary program file to write. Default: IN "
                           "with the extension .nbin.",
                           in, out))
    return *rc;
  if (out.empty())
    out = in.substr(0, in.rfind('.')) + ".nbin";
  std::string text;
  if (!readFile(in, text))
    return fail("cannot open input", in);
  std::vector<Word> program;
  std::string err = assemble(text, program);
  if (!err.empty())
    return failAt(err, in);
  err = writeProgramFile(out, program);
  if (!err.empty())
    return fail(err, out);
  return 0;
}

int disasmMain(int argc, char **argv) {
  std::string in, out;
  if (auto rc = parseInOut(argc, argv, "disasm", "A binary program file.",
                           "The text file to write. Default: stdout.", in, out))
    return *rc;
  std::vector<Word> program;
  std::string err = readProgramFile(in, program);
  if (!err.empty())
    return fail(err, in);
  std::string text;
  err = disassemble(program, text);
  if (!err.empty())
    return failAt(err, in);
  if (out.empty()) {
    std::fwrite(text.data(), 1, text.size(), stdout);
    return 0;
  }
  if (!writeFile(out, text.data(), text.size()))
    return fail("cannot write output", out);
  return 0;
}

// The run's counters: the per-engine table (unless quiet) and the summary
// line.
static void printRunReport(uint32_t executor, const ember_npu_counters_t &c,
                           double seconds, bool quiet) {
  double macUtil = c.cycles ? static_cast<double>(c.macs) /
                                  (double(kDim) * kDim * double(c.cycles))
                            : 0.0;
  double overlap =
      c.load_busy ? static_cast<double>(c.overlap) / double(c.load_busy) : 0.0;
  double cps = seconds > 0 ? static_cast<double>(c.cycles) / seconds : 0.0;
  if (!quiet) {
    const char *names[] = {"golden", "systemc", "rtl"};
    std::printf("executor=%s dim=%d insns=%" PRIu64 " macs=%" PRIu64 "\n",
                names[executor], kDim, c.insns, c.macs);
    std::printf("%-7s %12s %12s %12s\n", "engine", "busy", "stall_token",
                "stall_dram");
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", "LOAD",
                c.load_busy, c.load_stall_token, c.load_stall_dram);
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12s\n", "GEMM", c.gemm_busy,
                c.gemm_stall_token, "-");
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12s\n", "VECTOR",
                c.vector_busy, c.vector_stall_token, "-");
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", "STORE",
                c.store_busy, c.store_stall_token, c.store_stall_dram);
    std::printf("load_bytes=%" PRIu64 " store_bytes=%" PRIu64
                " overlap_cycles=%" PRIu64 " wall_s=%.6f\n",
                c.load_bytes, c.store_bytes, c.overlap, seconds);
  }
  std::printf("cycles=%" PRIu64 " mac_util=%.4f dma_bytes=%" PRIu64
              " overlap=%.4f sim_cycles_per_s=%.0f\n",
              c.cycles, macUtil, c.load_bytes + c.store_bytes, overlap, cps);
}

int simMain(int argc, char **argv) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  std::string tracePath, waveformPath;
  std::vector<std::pair<std::string, uint64_t>> loads;
  struct Dump {
    uint64_t addr, len;
    std::string path;
  };
  std::vector<Dump> dumps;
  bool quiet = false;
  cmdline::Command cmd = makeCommand("sim", argv[0]);
  std::vector<std::string> pos;
  cmd.positional("PROGRAM",
                 "Assembly text (.nasm) or a binary program file (.nbin, "
                 "recognized by its header).",
                 pos, 1, 1);
  // The executors this tool runs (driver.h); the first is the default.
  static const std::vector<std::pair<std::string, uint32_t>> executors = {
      {"systemc", EMBER_NPU_EXECUTOR_SYSTEMC},
      {"golden", EMBER_NPU_EXECUTOR_GOLDEN},
      {"rtl", EMBER_NPU_EXECUTOR_RTL}};
  cmd.add({"--executor"}, "E",
          "What runs the program: systemc (the TLM-2.0 model, approximately "
          "timed), golden (the golden model, an instruction at a time, no "
          "timing) or rtl (the Verilog RTL under Verilator, clocked; in "
          "builds with Verilator 5). Default: systemc.",
          [&cfg](const std::string &v) -> std::string {
            for (auto &e : executors)
              if (e.first == v) {
                cfg.executor = e.second;
                return "";
              }
            return "expected systemc, golden or rtl";
          });
  uint64_t dramBytes = 0, bw = 0, latency = 0, burst = 0;
  cmd.add({"--dram-bytes"}, "N",
          "DRAM size in bytes. Default: the spec's (hw/spec/npu.json).",
          numberIn(dramBytes, 1, uint64_t(1) << 62));
  cmd.add({"--dram-bw"}, "BYTES_PER_CYCLE",
          "DRAM bandwidth, 1 to 1048575 bytes per cycle. Default: the "
          "spec's.",
          numberIn(bw, 1, (1u << 20) - 1));
  cmd.add({"--dram-latency"}, "CYCLES",
          "DRAM latency, 0 to 16777215 cycles. Default: the spec's.",
          numberIn(latency, 0, (1u << 24) - 1));
  cmd.add({"--burst"}, "BYTES",
          "DRAM burst size, 1 to 1048575 bytes. Default: the spec's.",
          numberIn(burst, 1, (1u << 20) - 1));
  cmd.add({"--load"}, "FILE@ADDR",
          "Writes FILE into DRAM at ADDR before the run. Repeatable.",
          [&loads](const std::string &spec) -> std::string {
            size_t at = spec.rfind('@');
            uint64_t v = 0;
            if (at == std::string::npos || at == 0 ||
                !parseNumber(spec.substr(at + 1), 0, UINT64_MAX, v).empty())
              return "expected FILE@ADDR";
            loads.push_back({spec.substr(0, at), v});
            return "";
          })
      .setRepeatable();
  cmd.add({"--dump"}, "ADDR:LEN:FILE",
          "Writes LEN bytes of DRAM from ADDR to FILE after the run. "
          "Repeatable.",
          [&dumps](const std::string &spec) -> std::string {
            size_t c1 = spec.find(':');
            size_t c2 = c1 == std::string::npos ? c1 : spec.find(':', c1 + 1);
            Dump d;
            if (c2 == std::string::npos || c2 + 1 == spec.size() ||
                !parseNumber(spec.substr(0, c1), 0, UINT64_MAX, d.addr)
                     .empty() ||
                !parseNumber(spec.substr(c1 + 1, c2 - c1 - 1), 0,
                             uint64_t(1) << 40, d.len)
                     .empty())
              return "expected ADDR:LEN:FILE";
            d.path = spec.substr(c2 + 1);
            dumps.push_back(d);
            return "";
          })
      .setRepeatable();
  cmd.add({"--trace"}, "FILE.json",
          "Writes a Chrome trace (one event per instruction or burst) of "
          "the run; SystemC executor.",
          cmdline::text(tracePath));
  cmd.add({"--trace-fst"}, "FILE.fst",
          "Writes an FST waveform of the run; RTL executor, in a build with "
          "waveform support.",
          cmdline::text(waveformPath));
  uint64_t watchdog = 0;
  cmd.add({"--watchdog"}, "CYCLES",
          "Cycles without progress before a run fails (a frozen DRAM, a "
          "hung engine). Default: the executor's.",
          numberIn(watchdog, 0, UINT64_MAX));
  cmd.add({"--stall-cycles"}, "N|off", kStallHelp, stallCycles(cfg));
  cmd.add({"--quiet"}, "", "Prints the last line only (no per-engine table).",
          cmdline::set(quiet));
  if (auto rc = cmd.parse(argc, argv, 1))
    return *rc;
  const std::string &programPath = pos[0];
  if (cmd.given("--dram-bytes"))
    cfg.dram_bytes = dramBytes;
  if (cmd.given("--watchdog"))
    cfg.watchdog_cycles = watchdog;
  if (cmd.given("--dram-bw"))
    cfg.dram_bytes_per_cycle = uint32_t(bw);
  if (cmd.given("--dram-latency")) {
    cfg.dram_latency_cycles = uint32_t(latency);
    cfg.dram_zero_latency = latency == 0;
  }
  if (cmd.given("--burst"))
    cfg.dram_burst_bytes = uint32_t(burst);
  std::vector<Word> program;
  if (!loadProgram(programPath, program))
    return 1;
  bool rtl = cfg.executor == EMBER_NPU_EXECUTOR_RTL;
  if (!tracePath.empty() && rtl)
    return fail(
        "the RTL executor writes waveforms (--trace-fst), not Chrome traces",
        "--trace");
  if (!waveformPath.empty() && !rtl)
    return fail("waveforms come from the RTL executor (--executor rtl)",
                "--trace-fst");
  if (!tracePath.empty())
    cfg.trace_path = tracePath.c_str();
  if (!waveformPath.empty())
    cfg.waveform_path = waveformPath.c_str();
  ember_npu_device_t *dev = nullptr;
  ember_npu_status_t st = ember_npu_device_create(&cfg, &dev);
  if (st == EMBER_NPU_STATUS_UNSUPPORTED)
    return fail("this build has no RTL executor (Verilator 5 was not found)",
                "--executor rtl");
  if (st != EMBER_NPU_STATUS_OK && rtl)
    return fail("the RTL executor needs a power-of-two --burst of at most 4096 "
                "bytes and a build "
                "with waveform support for --trace-fst (status " +
                    std::to_string(st) + ")",
                "sim");
  if (st != EMBER_NPU_STATUS_OK)
    return fail("cannot create device (status " + std::to_string(st) + ")",
                "sim");
  int rc = 0;
  for (const auto &ld : loads) {
    std::string bytes;
    if (!readFile(ld.first, bytes)) {
      rc = fail("cannot open", ld.first);
      break;
    }
    if (ember_npu_dram_write(dev, ld.second, bytes.data(), bytes.size()) !=
        EMBER_NPU_STATUS_OK) {
      rc = fail("file does not fit in DRAM at " + std::to_string(ld.second),
                ld.first);
      break;
    }
  }
  ember_npu_counters_t c;
  std::memset(&c, 0, sizeof c);
  c.struct_size = sizeof c;
  double seconds = 0;
  if (rc == 0) {
    ember_npu_program_load(dev, program.data(), program.size());
    auto t0 = std::chrono::steady_clock::now();
    st = ember_npu_run(dev);
    seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    if (st != EMBER_NPU_STATUS_OK)
      rc = failAt(ember_npu_device_last_error(dev), programPath);
  }
  if (rc == 0) {
    ember_npu_counters_read(dev, &c);
    for (const Dump &d : dumps) {
      std::vector<uint8_t> buf(d.len);
      if (ember_npu_dram_read(dev, d.addr, buf.data(), buf.size()) !=
              EMBER_NPU_STATUS_OK ||
          !writeFile(d.path, buf.data(), buf.size())) {
        rc = fail("cannot dump DRAM range", d.path);
        break;
      }
    }
  }
  ember_npu_device_destroy(dev);
  if (rc)
    return rc;
  printRunReport(cfg.executor, c, seconds, quiet);
  return 0;
}

} // namespace ember::npu

namespace ember::npu {

namespace {

/// Reads FILE@ADDR specs into DRAM.
int loadFiles(ember_npu_device_t *dev,
              const std::vector<std::pair<std::string, uint64_t>> &loads) {
  for (const auto &ld : loads) {
    std::string bytes;
    if (!readFile(ld.first, bytes))
      return fail("cannot open", ld.first);
    if (ember_npu_dram_write(dev, ld.second, bytes.data(), bytes.size()) !=
        EMBER_NPU_STATUS_OK)
      return fail("file does not fit in DRAM at " + std::to_string(ld.second),
                  ld.first);
  }
  return 0;
}

/// An executor by name (golden, systemc, rtl) or a shared library exporting
/// one (driver.h, EMBER_NPU_EXECUTOR_ENTRY_SYMBOL).
int openExecutor(const std::string &what, const ember_npu_config_t &base,
                 const std::string &options, const char *flag,
                 ember_npu_device_t **dev) {
  ember_npu_config_t cfg = base;
  if (what == "golden" || what == "systemc" || what == "rtl") {
    cfg.executor = what == "golden" ? EMBER_NPU_EXECUTOR_GOLDEN
                   : what == "rtl"  ? EMBER_NPU_EXECUTOR_RTL
                                    : EMBER_NPU_EXECUTOR_SYSTEMC;
    cfg.options = options.empty() ? nullptr : options.c_str();
    ember_npu_status_t st = ember_npu_device_create(&cfg, dev);
    if (st == EMBER_NPU_STATUS_UNSUPPORTED && what == "rtl")
      return fail("this build has no RTL executor (Verilator 5 was not found)",
                  flag);
    if (st == EMBER_NPU_STATUS_INVALID_ARGUMENT && !options.empty())
      return fail(ember_npu_last_load_error(), flag);
    if (st != EMBER_NPU_STATUS_OK)
      return fail("cannot create the " + what + " executor (status " +
                      std::to_string(st) + ")",
                  flag);
    return 0;
  }
  if (what.find(".so") == std::string::npos)
    return fail("expected golden, systemc, rtl or a shared library (.so) "
                "exporting " EMBER_NPU_EXECUTOR_ENTRY_SYMBOL,
                flag);
  if (ember_npu_device_open_library(&cfg, what.c_str(), options.c_str(), dev) !=
      EMBER_NPU_STATUS_OK)
    return fail(ember_npu_last_load_error(), flag);
  return 0;
}

/// The last line of a comparison ("cosim: agree ..." or "cosim: diverged
/// ..."); `tail` is appended (a hand-over's program number).
void printSummary(const CosimResult &res, const ember_plugin::LayerMap &map,
                  const std::string &refName, const std::string &dutName,
                  double seconds, const std::string &tail) {
  if (res.agree) {
    std::printf("cosim: agree ref=%s dut=%s insns=%" PRIu64 " compared=%" PRIu64
                " dut_cycles=%" PRIu64 " wall_s=%.3f%s\n",
                refName.c_str(), dutName.c_str(), res.retired, res.compared,
                res.dutCycles, seconds, tail.c_str());
  } else if (res.timing) {
    std::printf("cosim: timing differs ref=%s dut=%s ref_cycles=%" PRIu64
                " dut_cycles=%" PRIu64 " first_insn=%" PRIu64
                " wall_s=%.3f%s\n",
                refName.c_str(), dutName.c_str(), res.refCycles, res.dutCycles,
                res.first.index, seconds, tail.c_str());
  } else if (res.divergent) {
    const auto *layer = map.layerOf(res.first.index);
    std::printf("cosim: diverged at instruction %" PRIu64
                " ref=%s dut=%s engine=%s dut_cycle=%" PRIu64
                " divergent_insns=%" PRIu64 " wall_s=%.3f%s%s\n",
                res.first.index, refName.c_str(), dutName.c_str(),
                engineName(static_cast<Engine>(res.first.engine)),
                res.first.dutCycle, res.divergent, seconds, tail.c_str(),
                layer ? (" layer='" + layer->name + "'").c_str() : "");
  } else {
    std::printf("cosim: diverged (%s) ref=%s dut=%s wall_s=%.3f%s\n",
                res.dramDiffs ? "DRAM after the runs" : "run errors",
                refName.c_str(), dutName.c_str(), seconds, tail.c_str());
  }
}

/// How `ember cosim` compares, besides the two devices.
struct CosimSetup {
  std::string dutName, waveform;
  uint64_t window = 400;
  bool noWaveform = false, cycles = false;
  size_t maxBytes = 16;
  /// The configuration the devices were made with (DRAM size and timing),
  /// for a timing reference.
  ember_npu_config_t config{};
};

/// Two timed executors: the same retire cycle for every instruction (sets
/// res.timing and clears res.agree when not).
void compareTiming(const std::vector<Word> &program,
                   const ember_plugin::LayerMap &layerMap, CosimResult &res) {
  TimingDiff t = firstTimingDiff(res);
  if (!t.differs && res.refCycles == res.dutCycles)
    return;
  res.agree = false;
  res.timing = true;
  auto when = [](uint64_t c) {
    return c == CosimResult::kNotRetired ? std::string("never")
                                         : std::to_string(c);
  };
  if (t.differs) {
    Insn insn;
    std::string text = "?";
    if (decode(program[t.index], insn).empty())
      text = formatInsn(insn);
    std::string layer = layerMap.describe(t.index);
    std::printf("first timing difference: instruction %" PRIu64
                ": %s\n%s%s  retired in REF cycle %s, DUT cycle %s\n",
                t.index, text.c_str(), layer.empty() ? "" : "  ",
                layer.empty() ? "" : (layer + "\n").c_str(),
                when(t.refCycle).c_str(), when(t.dutCycle).c_str());
    res.first.index = t.index;
    res.first.dutCycle = t.dutCycle;
  }
  std::printf("cycles: REF %" PRIu64 ", DUT %" PRIu64 "\n", res.refCycles,
              res.dutCycles);
}

struct RetireCycle {
  uint64_t index, cycle = CosimResult::kNotRetired;
};
int recordRetireCycle(void *user, const ember_npu_retire_t *r) {
  auto &rc = *static_cast<RetireCycle *>(user);
  if (r->index == rc.index && !(r->flags & EMBER_NPU_RETIRE_LATE))
    rc.cycle = r->cycle;
  return 0;
}

/// An untimed REF retires instructions without cycles: for a stalled DUT,
/// the cycle the SystemC model (whose timing is the RTL's, docs/npu-rtl.md)
/// retires the stalled instruction in, when this process can make one.
void timingReference(const std::vector<Word> &program,
                     const std::vector<uint8_t> &dram0, const CosimSetup &o,
                     Divergence &d) {
  ember_npu_config_t cfg = o.config;
  cfg.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
  cfg.options = nullptr;
  ember_npu_device_t *sc = nullptr;
  if (ember_npu_device_create(&cfg, &sc) != EMBER_NPU_STATUS_OK)
    return; // the SystemC model is the REF or the DUT, or is not built
  RetireCycle rc{d.index};
  ember_npu_dram_write(sc, 0, dram0.data(), dram0.size());
  ember_npu_program_load(sc, program.data(), program.size());
  ember_npu_set_retire_callback(sc, recordRetireCycle, &rc);
  if (ember_npu_run(sc) == EMBER_NPU_STATUS_OK)
    d.timedCycle = rc.cycle;
  ember_npu_device_destroy(sc);
}

/// Reruns the DUT from the same DRAM with a waveform window around the
/// divergence (a stall: around the DUT's last retirement, where it stopped
/// moving).
void writeWaveform(ember_npu_device_t *dut, const std::vector<Word> &program,
                   const std::vector<uint8_t> &dram0, const CosimSetup &o,
                   const CosimResult &res) {
  uint64_t c =
      res.first.stalled ? res.first.stop.last_retire_cycle : res.first.dutCycle;
  uint64_t half = o.window / 2;
  uint64_t lo = c > half ? c - half : 0, hi = lo + o.window;
  std::string path = o.waveform;
  if (path.empty())
    path = "cosim-" + std::to_string(res.first.index) +
           (o.dutName == "systemc" ? ".json" : ".fst");
  ember_npu_status_t st =
      ember_npu_set_waveform_window(dut, path.c_str(), lo, hi);
  if (st != EMBER_NPU_STATUS_OK) {
    std::printf("waveform: none (the DUT writes no waveforms)\n");
    return;
  }
  ember_npu_dram_write(dut, 0, dram0.data(), dram0.size());
  ember_npu_program_load(dut, program.data(), program.size());
  ember_npu_run(dut);
  ember_npu_set_waveform_window(dut, nullptr, 0, 0);
  std::printf("waveform: %s (DUT cycles %" PRIu64 "-%" PRIu64 ")\n",
              path.c_str(), lo, hi);
}

/// One program on the REF and the DUT: prints the report (not its last
/// line); 0 when they agree, 1 when not, 2 on a setup error (printed).
int cosimProgram(const std::string &programPath,
                 const std::vector<Word> &program,
                 const ember_plugin::LayerMap &layerMap,
                 const std::vector<std::pair<std::string, uint64_t>> &loads,
                 ember_npu_device_t *ref, ember_npu_device_t *dut,
                 const CosimSetup &o, CosimResult &res, double &seconds) {
  // Both start from zeroed DRAM (the devices may have run a program before).
  ember_npu_device_info_t ri;
  std::memset(&ri, 0, sizeof ri);
  ri.struct_size = sizeof ri;
  int rc = 0;
  if (ember_npu_device_query(ref, &ri) == EMBER_NPU_STATUS_OK) {
    std::vector<uint8_t> zero(ri.dram_bytes, 0);
    ember_npu_dram_write(ref, 0, zero.data(), zero.size());
    ember_npu_dram_write(dut, 0, zero.data(), zero.size());
  }
  if (rc == 0)
    rc = loadFiles(ref, loads);
  if (rc == 0)
    rc = loadFiles(dut, loads);
  // A second copy of the DRAM image for the waveform rerun.
  std::vector<uint8_t> dram0;
  ember_npu_device_info_t info;
  std::memset(&info, 0, sizeof info);
  info.struct_size = sizeof info;
  if (rc == 0 && ember_npu_device_query(dut, &info) == EMBER_NPU_STATUS_OK) {
    dram0.resize(info.dram_bytes);
    ember_npu_dram_read(dut, 0, dram0.data(), dram0.size());
  }
  auto t0 = std::chrono::steady_clock::now();
  if (rc == 0) {
    std::string err = cosimulate(ref, dut, program, res, o.maxBytes);
    if (!err.empty())
      rc = fail(err, programPath);
  }
  seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
                .count();
  if (rc != 0)
    return 2;
  if (!res.refError.empty())
    std::printf("REF run: %s\n", res.refError.c_str());
  // (A stall's own report follows: the DUT's error line would repeat it.)
  if (!res.dutError.empty() && !res.first.stalled)
    std::printf("DUT run: %s\n", res.dutError.c_str());
  if (res.divergent) {
    if (res.first.stalled && !ri.timed)
      timingReference(program, dram0, o, res.first);
    std::fputs(
        formatDivergence(res.first, program, layerMap.describe(res.first.index))
            .c_str(),
        stdout);
  }
  if (res.dramDiffs)
    std::printf("DRAM after the runs: %" PRIu64 " bytes differ\n",
                res.dramDiffs);
  if (o.cycles && res.agree)
    compareTiming(program, layerMap, res);
  if (!res.agree && res.divergent && !o.noWaveform)
    writeWaveform(dut, program, dram0, o, res);
  return res.agree ? 0 : 1;
}

} // namespace

namespace {

// One program cosim compares: PROGRAM, or each run of a hand-over directory
// of a compiled model (ember/plugin_handover.hpp) with its DRAM and layer map.
struct CosimJob {
  std::string program, layers;
  std::vector<std::pair<std::string, uint64_t>> loads;
  uint64_t dramBytes = 0;
};

int cosimJobs(const std::string &path,
              const std::vector<std::pair<std::string, uint64_t>> &loads,
              const std::string &layersPath, std::vector<CosimJob> &jobs) {
  struct stat sb;
  if (stat(path.c_str(), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
    jobs.push_back({path, layersPath, loads, 0});
    return 0;
  }
  if (!loads.empty() || !layersPath.empty())
    return fail("--load and --layers do not apply to a hand-over directory "
                "(it names each program's DRAM and layer map)",
                path);
  std::vector<ember_plugin::HandoverEntry> entries;
  std::string err = ember_plugin::readManifest(path, entries);
  if (!err.empty())
    return fail(err, path);
  for (const auto &e : entries)
    jobs.push_back({e.program, e.layers, {{e.dram, 0}}, e.dramBytes});
  return 0;
}

} // namespace

int cosimMain(int argc, char **argv) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  std::string refName = "golden", dutName, dutOptions, refOptions;
  std::string waveform, layersPath;
  std::vector<std::pair<std::string, uint64_t>> loads;
  uint64_t window = 400, maxBytes = 16, dramBytes = 0, bw = 0, latency = 0,
           burst = 0;
  bool noWaveform = false, cycles = false;
  cmdline::Command cmd = makeCommand("cosim", argv[0]);
  std::vector<std::string> pos;
  cmd.positional("PROGRAM",
                 "Assembly text (.nasm), a binary program file (.nbin), or a "
                 "hand-over directory (backend option handover=DIR: each run "
                 "of a compiled model, compared in order).",
                 pos, 1, 1);
  cmd.add({"--ref"}, "E",
          "The reference: golden, systemc, rtl or a shared library "
          "exporting " EMBER_NPU_EXECUTOR_ENTRY_SYMBOL ". Default: golden.",
          cmdline::text(refName));
  cmd.add({"--dut"}, "E",
          "The device under test: golden, systemc, rtl or a shared library "
          "exporting " EMBER_NPU_EXECUTOR_ENTRY_SYMBOL " (a vendor's "
          "Verilator model, docs/npu-rtl.md). Required.",
          cmdline::text(dutName));
  cmd.add({"--ref-options"}, "STR",
          "The option string given to a library REF's create, or a built-in "
          "executor's options (driver.h).",
          cmdline::text(refOptions));
  cmd.add({"--dut-options"}, "STR",
          "The option string given to a library DUT's create, or a built-in "
          "executor's options: fault=stall-ENGINE@I plants a stall in the "
          "SystemC model or the RTL (ENGINE load, gemm, vector or store; I "
          "the instruction), to try the stall report.",
          cmdline::text(dutOptions));
  cmd.add({"--stall-cycles"}, "N|off",
          std::string(kStallHelp) +
              " A stalled DUT diverges at the first instruction the REF "
              "retired and it did not.",
          stallCycles(cfg));
  cmd.add({"--load"}, "FILE@ADDR",
          "Writes FILE into both executors' DRAM at ADDR first. Repeatable.",
          [&loads](const std::string &spec) -> std::string {
            size_t at = spec.rfind('@');
            uint64_t v = 0;
            if (at == std::string::npos || at == 0 ||
                !parseNumber(spec.substr(at + 1), 0, UINT64_MAX, v).empty())
              return "expected FILE@ADDR";
            loads.push_back({spec.substr(0, at), v});
            return "";
          })
      .setRepeatable();
  cmd.add({"--dram-bytes"}, "N", "DRAM size in bytes. Default: the spec's.",
          numberIn(dramBytes, 1, uint64_t(1) << 32));
  cmd.add({"--dram-bw"}, "BYTES_PER_CYCLE",
          "DRAM bandwidth. Default: the spec's.",
          numberIn(bw, 1, (1u << 20) - 1));
  cmd.add({"--dram-latency"}, "CYCLES", "DRAM latency. Default: the spec's.",
          numberIn(latency, 0, (1u << 24) - 1));
  cmd.add({"--burst"}, "BYTES", "DRAM burst size. Default: the spec's.",
          numberIn(burst, 1, 4096));
  cmd.add({"--waveform"}, "FILE",
          "Where the waveform window goes (an FST file from the RTL, a "
          "Chrome trace from SystemC). Default: cosim-<index>.fst (or "
          ".json) in the current directory.",
          cmdline::text(waveform));
  cmd.add({"--window"}, "CYCLES",
          "Cycles of the waveform window, centred on the divergence. "
          "Default: 400.",
          numberIn(window, 1, uint64_t(1) << 32));
  cmd.add({"--no-waveform"}, "", "Does not rerun the DUT for a waveform.",
          cmdline::set(noWaveform));
  cmd.add({"--cycles"}, "",
          "Two timed executors (systemc, rtl): also compares every "
          "instruction's retire cycle and the run's cycle count, and "
          "reports the first instruction whose retirement differs.",
          cmdline::set(cycles));
  cmd.add({"--max-bytes"}, "N",
          "Differing bytes listed in the report. Default: 16.",
          numberIn(maxBytes, 1, 1u << 20));
  cmd.add({"--layers"}, "FILE",
          "A layer map (instruction -> layer and source nodes, written by a "
          "backend's hand-over): the report names the divergent "
          "instruction's layer.",
          cmdline::text(layersPath));
  if (auto rc = cmd.parse(argc, argv, 1))
    return *rc;
  if (dutName.empty())
    return fail("missing --dut (golden, systemc, rtl or LIB.so)", "cosim");
  if (refName == dutName && refName != "golden")
    return fail("the REF and the DUT are the same executor; the SystemC "
                "model and the RTL model exist once per process",
                "--dut");
  if (cmd.given("--dram-bytes"))
    cfg.dram_bytes = dramBytes;
  if (cmd.given("--dram-bw"))
    cfg.dram_bytes_per_cycle = uint32_t(bw);
  if (cmd.given("--dram-latency")) {
    cfg.dram_latency_cycles = uint32_t(latency);
    cfg.dram_zero_latency = latency == 0;
  }
  if (cmd.given("--burst"))
    cfg.dram_burst_bytes = uint32_t(burst);
  std::vector<CosimJob> jobs;
  if (int rc = cosimJobs(pos[0], loads, layersPath, jobs))
    return rc;
  const bool many = pos[0] != jobs[0].program;
  CosimResult total;
  total.agree = true;
  double totalSeconds = 0;
  // The executors, made again only when the DRAM size changes.
  ember_npu_device_t *ref = nullptr, *dut = nullptr;
  uint64_t openBytes = 0;
  struct Close {
    ember_npu_device_t *&r, *&d;
    ~Close() {
      ember_npu_device_destroy(r);
      ember_npu_device_destroy(d);
    }
  } close{ref, dut};
  for (size_t k = 0; k < jobs.size(); ++k) {
    const CosimJob &job = jobs[k];
    std::vector<Word> program;
    if (!loadProgram(job.program, program))
      return 1;
    ember_plugin::LayerMap layerMap;
    if (!job.layers.empty()) {
      std::string text;
      if (!readFile(job.layers, text))
        return fail("cannot open the layer map", job.layers);
      std::string err = ember_plugin::LayerMap::parse(text, layerMap);
      if (!err.empty())
        return failAt(err, job.layers);
    }
    if (many)
      std::printf("program %zu of %zu: %s (%zu instructions)\n", k + 1,
                  jobs.size(), job.program.c_str(), program.size());
    std::fflush(stdout);
    ember_npu_config_t jc = cfg;
    if (job.dramBytes && !cmd.given("--dram-bytes"))
      jc.dram_bytes = job.dramBytes;
    if (!ref || jc.dram_bytes != openBytes) {
      ember_npu_device_destroy(ref);
      ember_npu_device_destroy(dut);
      ref = dut = nullptr;
      if (int rc = openExecutor(refName, jc, refOptions, "--ref", &ref))
        return rc;
      if (int rc = openExecutor(dutName, jc, dutOptions, "--dut", &dut))
        return rc;
      openBytes = jc.dram_bytes;
    }
    CosimResult res;
    double seconds = 0;
    CosimSetup setup;
    setup.dutName = dutName;
    setup.waveform = waveform;
    setup.window = window;
    setup.noWaveform = noWaveform;
    setup.cycles = cycles;
    setup.maxBytes = size_t(maxBytes);
    setup.config = jc;
    int rc = cosimProgram(job.program, program, layerMap, job.loads, ref, dut,
                          setup, res, seconds);
    if (rc != 0 && rc != 1)
      return 1; // a setup error, printed
    totalSeconds += seconds;
    if (!many) {
      printSummary(res, layerMap, refName, dutName, seconds, "");
      return rc;
    }
    total.retired += res.retired;
    total.compared += res.compared;
    total.dutCycles += res.dutCycles;
    if (rc == 0) {
      std::printf("  agree: insns=%" PRIu64 " dut_cycles=%" PRIu64
                  " wall_s=%.3f\n",
                  res.retired, res.dutCycles, seconds);
      continue;
    }
    printSummary(res, layerMap, refName, dutName, totalSeconds,
                 " program=" + std::to_string(k));
    return 1;
  }
  std::printf("cosim: agree ref=%s dut=%s insns=%" PRIu64 " compared=%" PRIu64
              " dut_cycles=%" PRIu64 " wall_s=%.3f programs=%zu\n",
              refName.c_str(), dutName.c_str(), total.retired, total.compared,
              total.dutCycles, totalSeconds, jobs.size());
  return 0;
}

} // namespace ember::npu
