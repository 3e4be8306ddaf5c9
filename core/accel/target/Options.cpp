// The layer's options (Options.h).
#include "ember/accel/Options.h"

#include <cstdlib>
#include <initializer_list>

namespace ember::accel {

bool parseCount(const std::string &s, uint64_t &v) {
  if (s.empty() || s.size() > 20)
    return false;
  char *end = nullptr;
  unsigned long long x = std::strtoull(s.c_str(), &end, 10);
  if (*end || s[0] == '-')
    return false;
  v = x;
  return true;
}

namespace {

// The choice `val` names among `words` (its index), or -1.
int wordIndex(const std::string &val,
              std::initializer_list<const char *> words) {
  int i = 0;
  for (const char *w : words) {
    if (val == w)
      return i;
    ++i;
  }
  return -1;
}

// "KEY 'VAL' is not one of A, B, C": the error of a word option.
Status notOneOf(const std::string &k, const std::string &val,
                std::initializer_list<const char *> words) {
  std::string list;
  for (const char *w : words)
    list += (list.empty() ? "" : ", ") + std::string(w);
  return invalid(k, " '", val, "' is not one of ", list);
}

} // namespace

const char *layerOptionKeys() {
  return "tiling, bias, depthwise, prefetch, cascade, cascade_predict, "
         "stripes, fill, plan_steps, taps, tune, tune_cache, dram_bytes, "
         "dram_bw, "
         "dram_latency, "
         "islands, patches, act16";
}

Status applyLayerOption(const std::string &k, const std::string &val,
                        LayerOptions &o, bool &known) {
  known = true;
  CodegenOptions &co = o.codegen;
  uint64_t n = 0;
  auto word = [&](std::initializer_list<const char *> words, int &i) {
    i = wordIndex(val, words);
    return i < 0 ? notOneOf(k, val, words) : Status::ok();
  };
  int i = 0;
  Status err;
  if (k == "tiling") {
    if ((err = word({"cycles", "bytes"}, i)).isOk())
      co.cycleTiling = i == 0;
  } else if (k == "bias") {
    if ((err = word({"auto", "dram", "gemm", "requant"}, i)).isOk())
      co.bias = BiasMode(i - 1); // auto is -1, the paths 0 to 2
  } else if (k == "depthwise") {
    if ((err = word({"dwgemm", "gemm"}, i)).isOk())
      co.dwgemm = i == 0;
  } else if (k == "act16") {
    // 16x8 array ops in one pass where the target's array has it
    // (Target.h, act16OnePass), or one per byte plane.
    if ((err = word({"one", "two"}, i)).isOk())
      co.act16OnePass = i == 0;
  } else if (k == "prefetch" || k == "cascade") {
    if ((err = word({"on", "off"}, i)).isOk())
      (k == "prefetch" ? co.prefetch : co.cascade) = i == 0;
  } else if (k == "stripes") {
    if ((err = word({"off", "on", "all"}, i)).isOk()) // StripeMode's order
      co.stripes = StripeMode(i);
  } else if (k == "islands") {
    // Read by query_support (the claims); compile accepts it.
    if ((err = word({"free", "host", "keep"}, i)).isOk()) {
      o.select.hostIslands = i != 2;
      o.select.islandMacs = i == 1;
    }
  } else if (k == "patches") {
    // A channel-poor convolution of a host input reads its patches
    // (packPatches, Select.h).
    if ((err = word({"on", "off"}, i)).isOk())
      o.select.patches = i == 0;
  } else if (k == "cascade_predict") {
    if ((err = word({"off", "out", "both"}, i)).isOk()) // its order
      co.cascadePredict = CascadePredict(i);
  } else if (k == "fill") {
    if (!parseCount(val, n) || n < 1 || n > 16)
      return invalid("backend option fill=" + val +
                     " is not a piece count from 1 to 16");
    co.fillPieces = unsigned(n);
  } else if (k == "plan_steps") {
    if (!parseCount(val, n) || n > (uint64_t(1) << 40))
      return invalid("backend option plan_steps=" + val +
                     " is not a step count (0: no limit)");
    co.planSteps = n;
  } else if (k == "taps") {
    // Split a convolution's taps over accumulating passes: where needed
    // (auto) or at most N taps a pass.
    if (val == "auto")
      co.tapGroup = 0;
    else if (!parseCount(val, n) || n < 1 || n > 4096)
      return invalid("backend option taps=" + val +
                     " is not auto or a tap count from 1 to 4096");
    else
      co.tapGroup = int64_t(n);
  } else if (k == "tune") {
    // Measure the cost model's N best tilings per layer.
    if (!parseCount(val, n) || n < 1 || n > 64)
      return invalid("backend option tune=" + val +
                     " is not a candidate count from 1 to 64");
    o.tune = unsigned(n);
  } else if (k == "tune_cache") {
    o.tuneCache = val; // "": none
    o.tuneCacheGiven = true;
  } else if (k == "dram_bytes" || k == "dram_bw" || k == "dram_latency") {
    if (!parseCount(val, n) || (k != "dram_latency" && n == 0) ||
        (k == "dram_bytes" ? n > (uint64_t(1) << 32) : n > UINT32_MAX))
      return invalid("backend option " + k + "=" + val +
                     " is not a valid count");
    if (k == "dram_bytes") {
      co.dramCapacity = n;
      o.select.dramBytes = n;
      o.dramGiven = true;
    } else if (k == "dram_bw") {
      co.bytesPerCycle = uint32_t(n);
    } else {
      co.latency = int64_t(n);
    }
  } else {
    known = false;
  }
  return err;
}

} // namespace ember::accel
