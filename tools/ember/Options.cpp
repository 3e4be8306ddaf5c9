#include "Options.h"
#include "Profile.h"

#include "backend/Plugin.h"
#include "import/TensorIO.h"

#include <cstdlib>

namespace ember::cli {

using cmdline::Option;

void addTargetOptions(Command &c, TargetOptions &t, unsigned parts,
                      const std::string &threadsDefault,
                      const std::string &fallbackDefault) {
  c.sectionTitle("target", "target");
  if (parts & kTarget)
    c.add({"--target"}, "T",
          "Where the model compiles and runs: interp (the reference "
          "interpreter, in process), cpu (the LLVM backend), npu-sim (the "
          "example NPU), accel:DESC.json (the SDK's reference simulator on a "
          "target description), plugin:PATH.so (any backend plugin) or "
          "plugin:NAME "
          "(lib/ember/libember_NAME.so beside ember). Default: " +
              t.target + ".",
          [&t](const std::string &v) {
            std::string e = checkTargetSpelling(v);
            if (e.empty())
              t.target = v;
            return e;
          })
        .inSection("target");
  if (parts & kFallback)
    c.add({"--fallback"}, "F",
          "Where the nodes the target's plugin does not claim run: interp, "
          "none (refuse to run them) or another target. Default: " +
              (fallbackDefault.empty()
                   ? std::string("cpu for npu-sim and accel: when it is "
                                 "built (an "
                                 "accelerator's unclaimed nodes run on the "
                                 "host's fast path), interp otherwise.")
                   : fallbackDefault),
          [&t](const std::string &v) {
            std::string e =
                v == "none" ? std::string() : checkTargetSpelling(v);
            if (e.empty())
              t.fallback = v;
            return e.empty() ? e
                             : "expected interp, none or a target (cpu, "
                               "plugin:PATH.so, ...)";
          })
        .inSection("target");
  if (parts & kOptLevel) {
    c.add({"-O"}, "N",
          "Optimization level, 0 to 3 (default 2). -O0 skips the graph "
          "optimization passes; every level is passed to the plugin as "
          "CompileOptions.opt_level (cpu: the LLVM pipeline, -O3 also "
          "optimizes a bundle's runtime with the model).",
          [&t](const std::string &v) {
            uint32_t n = 0;
            std::string e = cmdline::uintIn(n, 0, 3)(v);
            if (e.empty())
              t.compile.optLevel = n;
            return e;
          })
        .setJoined()
        .inSection("target");
    c.add({"--skip-pass"}, "NAME",
          "Leaves a pass of the default graph pipeline out (repeatable; "
          "docs/passes.md), e.g. to time a model with and without it.",
          [&t](const std::string &v) {
            if (!findPass(v))
              return "unknown pass '" + v + "' (docs/passes.md)";
            t.skipPasses.push_back(v);
            return std::string();
          })
        .inSection("target");
    c.add({"--integer-recurrent"}, "",
          "Writes the LSTMs and GRUs of a quantized graph as integer forms "
          "in the fixed profile: 16-bit gates and states, unrolled over the "
          "steps (docs/quantization.md, \"LSTM\" and \"GRU\").",
          [&t](const std::string &) {
            t.integerRecurrent = true;
            return std::string();
          })
        .inSection("target");
    c.add({"--O0"}, "", "Same as -O0.",
          [&t](const std::string &) {
            t.compile.optLevel = 0;
            return std::string();
          })
        .setHidden()
        .inSection("target");
  }
  if (parts & kThreads)
    c.add({"--threads"}, "N",
          "Worker threads the plugin may use, 1 to 256 "
          "(CompileOptions.num_threads). Default: " +
              (threadsDefault.empty() ? std::string("the plugin's own (cpu: 1)")
                                      : threadsDefault) +
              ".",
          cmdline::uintIn(t.compile.numThreads, 1, 256))
        .inSection("target");
  if (parts & kBackendOpt)
    c.add({"--backend-opt"}, "KEY=VALUE",
          "An option of the target's plugin (CompileOptions.vendor), e.g. "
          "dump_ir=FILE or perf_map=1 for cpu (backends/cpu/README.md), "
          "executor=golden|systemc|rtl for npu-sim (docs/npu-backend.md). "
          "Repeatable; the plugin rejects a key it does not know. Nodes on "
          "the fallback do not get them.",
          [&t](const std::string &v) {
            std::string e = cmdline::keyValue(t.compile.vendor)(v);
            return e.empty() ? e
                             : "expected KEY=VALUE, the plugin's own option";
          })
        .setRepeatable()
        .inSection("target");
  if (parts & kAotTarget) {
    c.add({"--target-triple"}, "TRIPLE",
          "With --emit=bundle or artifact: the machine the code is for, e.g. "
          "aarch64-linux-gnu (CompileOptions.target_triple). Default: this "
          "host.",
          cmdline::text(t.compile.targetTriple))
        .inSection("target");
    c.add({"--target-cpu"}, "CPU",
          "With --emit=bundle or artifact: the CPU the code is tuned for, "
          "e.g. znver4 (CompileOptions.target_cpu). Default: this host's "
          "(the generic CPU of another triple).",
          cmdline::text(t.compile.targetCpu))
        .inSection("target");
  }
  if (parts & kRequant)
    c.add({"--requant"}, "PROFILE",
          "The requantization profile of the int8 arithmetic "
          "(docs/quantization.md): fixed (Ember's fixed point, the example "
          "NPU's), float32 (float32 as ONNX Runtime's x86 kernels compute "
          "it), tflite (TFLite's single-rounding add, rounded per input and "
          "on the sum; the second NPU's), gemmlowp (every rescale a "
          "doubling high multiply and a rounding divide by a power of two) "
          "or sat16 (a 16-bit datapath's add: the rescaled inputs and their "
          "sum saturated to int16). "
          "interp and cpu compute each; a plugin "
          "computes what its manifest declares. Default: the target's "
          "(interp, cpu: fixed).",
          [&t](const std::string &v) {
            quant::RequantProfile p;
            if (!quant::profileFromName(v, p))
              return "expected one of " + quant::profileNames();
            t.requant = p;
            return std::string();
          })
        .inSection("target");
  if (parts & kOpLibrary)
    c.add({"--op-library"}, "PATH.so",
          "Loads an op library: custom operators the model uses, registered "
          "through the installed header ember/op_library.h "
          "(docs/custom-ops.md). Repeatable; loaded in order before the "
          "model.",
          cmdline::append(t.opLibraries))
        .setRepeatable()
        .inSection("target");
  if (parts & kTimeout)
    c.add({"--timeout"}, "SEC",
          "The longest one plugin call or execution may take, in seconds; "
          "0: no limit. A hung plugin is reported naming the call, exit "
          "status 124. Default: " +
              std::to_string(int(kDefaultPluginTimeoutSec)) +
              " for plugin targets, none for interp.",
          [&t](const std::string &v) {
            double sec = 0;
            std::string e = cmdline::realIn(sec, 0, 1e7)(v);
            if (e.empty())
              t.timeout = sec;
            return e;
          })
        .inSection("target");
}

void addDeviceOptions(Command &c, DeviceOptions &d, bool bench) {
  c.sectionTitle("devices", "devices (docs/runtime.md)");
  c.add({"--devices"}, "LIST",
        "Runs on a list of devices instead of one target: targets with a "
        "count, comma-separated, e.g. npu-sim:2,cpu. Each node goes to the "
        "first kind in the list that runs it, and the nodes of a kind are "
        "cut into pipeline stages, one per device, balanced by each "
        "device's predicted time within its memory; --fallback runs the "
        "rest. --backend-opt goes to the first kind's devices. Replaces "
        "--target.",
        cmdline::text(d.list))
      .inSection("devices");
  if (!bench)
    return;
  c.add({"--requests"}, "N",
        "With --devices: requests to time, each with its own seeded inputs "
        "(--seed + its number), 1 to 100000. Default: 16.",
        cmdline::uintIn(d.requests, 1, 100000))
      .inSection("devices");
  c.add({"--concurrency"}, "K",
        "With --devices: requests in flight at once (the queue depth), 1 to "
        "1024. Default: the number of devices plus one.",
        cmdline::uintIn(d.concurrency, 1, 1024))
      .inSection("devices");
}

void addProfileOptions(Command &c, ProfileRequest &p) {
  c.sectionTitle("target", "target");
  c.add({"--npu-report"}, "",
        "After the run, a per-layer table of the device's profile (ABI 1.3 "
        "event_profile; docs/npu-backend.md) before the summary line. Needs "
        "a plugin target.",
        cmdline::set(p.report))
      .inSection("target");
  c.add({"--trace"}, "FILE",
        "Writes a Chrome/Perfetto trace of the run: host and device "
        "partitions on one timeline, device engines per plugin partition. "
        "Needs a plugin target.",
        cmdline::text(p.tracePath))
      .inSection("target");
}

void addInputOptions(Command &c, InputOptions &in, bool files) {
  c.sectionTitle("inputs", "inputs");
  c.add({"--dim"}, "NAME=N",
        "Binds the symbolic dimension NAME to N. Repeatable. Without it an "
        "unbound batch-like dimension (dim 0 of every input naming it) or "
        "sequence length is 1, with a note on stderr "
        "(docs/onnx-import.md).",
        cmdline::append(in.dims))
      .setRepeatable()
      .inSection("inputs");
  c.add({"--input-shape"}, "NAME=SHAPE",
        "Binds the whole shape of input NAME, written D0xD1x... (e.g. "
        "data=1x3x224x224). Repeatable.",
        cmdline::append(in.shapes))
      .setRepeatable()
      .inSection("inputs");
  if (!files)
    return;
  c.add({"--input"}, "NAME=FILE",
        "The value of input NAME, from a .npy file or an ONNX TensorProto "
        ".pb file; its shape binds the input's shape. Repeatable. Inputs "
        "not given are seeded random.",
        [&in](const std::string &v) {
          size_t eq = v.find('=');
          if (eq == std::string::npos || eq == 0 || eq + 1 == v.size())
            return std::string("expected NAME=FILE");
          in.files.push_back(v);
          return std::string();
        })
      .setRepeatable()
      .inSection("inputs");
  c.add({"--seed"}, "N",
        "Seed of the random inputs (uniform in [-1, 1) for floats, small "
        "integers otherwise). Default: 0.",
        cmdline::uintIn(in.seed, 0, UINT64_MAX))
      .inSection("inputs");
}

} // namespace ember::cli
