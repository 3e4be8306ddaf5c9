//===- Cli.cpp - `ember asm|disasm|sim` ------------------------------------===//
#include "ember/npu/Cli.h"

#include "ember/npu/Assembler.h"
#include "ember/npu/driver.h"

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace ember::npu {

namespace {

int fail(const std::string &what, const std::string &where) {
  std::fprintf(stderr, "error: %s (%s)\n", what.c_str(), where.c_str());
  return 1;
}

/// Errors from the library read "<position>: <cause>" (position = "line 3", "instruction 7");
/// print them as `error: <cause> (<file>:<position>)`.
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

bool parseU64(const std::string &s, uint64_t &v) {
  if (s.empty() || s[0] == '-')
    return false;
  char *end = nullptr;
  v = std::strtoull(s.c_str(), &end, 0);
  return *end == 0;
}

/// Loads a program from assembly text or a binary program file (by magic); prints the error.
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

const char *kUsageSim =
    "usage: sim PROGRAM [--executor systemc|golden|rtl] [--dram-bytes N]\n"
    "           [--dram-bw BYTES_PER_CYCLE] [--dram-latency CYCLES] [--burst BYTES]\n"
    "           [--load FILE@ADDR]... [--dump ADDR:LEN:FILE]... [--trace FILE.json]\n"
    "           [--trace-fst FILE.fst] [--watchdog CYCLES] [--quiet]";

// `CMD IN [-o OUT]`: 0 when parsed, else the error exit code (reported).
int parseInOut(int argc, char **argv, const char *usage, std::string &in, std::string &out) {
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-o" && i + 1 < argc)
      out = argv[++i];
    else if (!a.empty() && a[0] != '-' && in.empty())
      in = a;
    else
      return fail("unexpected argument '" + a + "'", usage);
  }
  if (in.empty())
    return fail("missing input file", usage);
  return 0;
}

} // namespace

int asmMain(int argc, char **argv) {
  std::string in, out;
  if (int rc = parseInOut(argc, argv, "usage: asm IN.nasm [-o OUT.nbin]", in, out))
    return rc;
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
  if (int rc = parseInOut(argc, argv, "usage: disasm IN.nbin [-o OUT.nasm]", in, out))
    return rc;
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

int simMain(int argc, char **argv) {
  ember_npu_config_t cfg;
  ember_npu_config_init(&cfg);
  std::string programPath, tracePath, waveformPath;
  std::vector<std::pair<std::string, uint64_t>> loads;
  struct Dump {
    uint64_t addr, len;
    std::string path;
  };
  std::vector<Dump> dumps;
  bool quiet = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](uint64_t &v) {
      if (i + 1 >= argc || !parseU64(argv[i + 1], v))
        return false;
      ++i;
      return true;
    };
    uint64_t v = 0;
    if (a == "--executor" && i + 1 < argc) {
      std::string e = argv[++i];
      if (e == "golden")
        cfg.executor = EMBER_NPU_EXECUTOR_GOLDEN;
      else if (e == "systemc")
        cfg.executor = EMBER_NPU_EXECUTOR_SYSTEMC;
      else if (e == "rtl")
        cfg.executor = EMBER_NPU_EXECUTOR_RTL;
      else
        return fail("unknown executor '" + e + "'", "--executor");
    } else if (a == "--dram-bytes" && value(v)) {
      cfg.dram_bytes = v;
    } else if (a == "--dram-bw" && value(v) && v > 0 && v < (1u << 20)) {
      cfg.dram_bytes_per_cycle = static_cast<uint32_t>(v);
    } else if (a == "--dram-latency" && value(v) && v < (1u << 24)) {
      cfg.dram_latency_cycles = static_cast<uint32_t>(v);
      cfg.dram_zero_latency = v == 0;
    } else if (a == "--burst" && value(v) && v > 0 && v < (1u << 20)) {
      cfg.dram_burst_bytes = static_cast<uint32_t>(v);
    } else if (a == "--trace" && i + 1 < argc) {
      tracePath = argv[++i];
    } else if (a == "--trace-fst" && i + 1 < argc) {
      waveformPath = argv[++i];
    } else if (a == "--watchdog" && value(v)) {
      cfg.watchdog_cycles = v;
    } else if (a == "--quiet") {
      quiet = true;
    } else if (a == "--load" && i + 1 < argc) {
      std::string spec = argv[++i];
      size_t at = spec.rfind('@');
      if (at == std::string::npos || !parseU64(spec.substr(at + 1), v))
        return fail("expected FILE@ADDR, got '" + spec + "'", "--load");
      loads.push_back({spec.substr(0, at), v});
    } else if (a == "--dump" && i + 1 < argc) {
      std::string spec = argv[++i];
      size_t c1 = spec.find(':'), c2 = spec.find(':', c1 + 1);
      Dump d;
      if (c1 == std::string::npos || c2 == std::string::npos ||
          !parseU64(spec.substr(0, c1), d.addr) ||
          !parseU64(spec.substr(c1 + 1, c2 - c1 - 1), d.len))
        return fail("expected ADDR:LEN:FILE, got '" + spec + "'", "--dump");
      d.path = spec.substr(c2 + 1);
      dumps.push_back(d);
    } else if (!a.empty() && a[0] != '-' && programPath.empty()) {
      programPath = a;
    } else {
      return fail("bad argument '" + a + "'", kUsageSim);
    }
  }
  if (programPath.empty())
    return fail("missing PROGRAM", kUsageSim);
  std::vector<Word> program;
  if (!loadProgram(programPath, program))
    return 1;
  bool rtl = cfg.executor == EMBER_NPU_EXECUTOR_RTL;
  if (!tracePath.empty() && rtl)
    return fail("the RTL executor writes waveforms (--trace-fst), not Chrome traces", "--trace");
  if (!waveformPath.empty() && !rtl)
    return fail("waveforms come from the RTL executor (--executor rtl)", "--trace-fst");
  if (!tracePath.empty())
    cfg.trace_path = tracePath.c_str();
  if (!waveformPath.empty())
    cfg.waveform_path = waveformPath.c_str();
  ember_npu_device_t *dev = nullptr;
  ember_npu_status_t st = ember_npu_device_create(&cfg, &dev);
  if (st == EMBER_NPU_STATUS_UNSUPPORTED)
    return fail("this build has no RTL executor (Verilator 5 was not found)", "--executor rtl");
  if (st != EMBER_NPU_STATUS_OK && rtl)
    return fail("the RTL executor needs a power-of-two --burst of at most 4096 bytes and a build "
                "with waveform support for --trace-fst (status " +
                    std::to_string(st) + ")",
                "sim");
  if (st != EMBER_NPU_STATUS_OK)
    return fail("cannot create device (status " + std::to_string(st) + ")", "sim");
  int rc = 0;
  for (const auto &ld : loads) {
    std::string bytes;
    if (!readFile(ld.first, bytes)) {
      rc = fail("cannot open", ld.first);
      break;
    }
    if (ember_npu_dram_write(dev, ld.second, bytes.data(), bytes.size()) != EMBER_NPU_STATUS_OK) {
      rc = fail("file does not fit in DRAM at " + std::to_string(ld.second), ld.first);
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
    seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (st != EMBER_NPU_STATUS_OK)
      rc = failAt(ember_npu_device_last_error(dev), programPath);
  }
  if (rc == 0) {
    ember_npu_counters_read(dev, &c);
    for (const Dump &d : dumps) {
      std::vector<uint8_t> buf(d.len);
      if (ember_npu_dram_read(dev, d.addr, buf.data(), buf.size()) != EMBER_NPU_STATUS_OK ||
          !writeFile(d.path, buf.data(), buf.size())) {
        rc = fail("cannot dump DRAM range", d.path);
        break;
      }
    }
  }
  ember_npu_device_destroy(dev);
  if (rc)
    return rc;
  double macUtil =
      c.cycles ? static_cast<double>(c.macs) / (double(kDim) * kDim * double(c.cycles)) : 0.0;
  double overlap = c.load_busy ? static_cast<double>(c.overlap) / double(c.load_busy) : 0.0;
  double cps = seconds > 0 ? static_cast<double>(c.cycles) / seconds : 0.0;
  if (!quiet) {
    const char *names[] = {"golden", "systemc", "rtl"};
    std::printf("executor=%s dim=%d insns=%" PRIu64 " macs=%" PRIu64 "\n", names[cfg.executor],
                kDim, c.insns, c.macs);
    std::printf("%-7s %12s %12s %12s\n", "engine", "busy", "stall_token", "stall_dram");
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", "LOAD", c.load_busy,
                c.load_stall_token, c.load_stall_dram);
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12s\n", "GEMM", c.gemm_busy, c.gemm_stall_token,
                "-");
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12s\n", "VECTOR", c.vector_busy,
                c.vector_stall_token, "-");
    std::printf("%-7s %12" PRIu64 " %12" PRIu64 " %12" PRIu64 "\n", "STORE", c.store_busy,
                c.store_stall_token, c.store_stall_dram);
    std::printf("load_bytes=%" PRIu64 " store_bytes=%" PRIu64 " overlap_cycles=%" PRIu64
                " wall_s=%.6f\n",
                c.load_bytes, c.store_bytes, c.overlap, seconds);
  }
  std::printf("cycles=%" PRIu64 " mac_util=%.4f dma_bytes=%" PRIu64
              " overlap=%.4f sim_cycles_per_s=%.0f\n",
              c.cycles, macUtil, c.load_bytes + c.store_bytes, overlap, cps);
  return 0;
}

} // namespace ember::npu
