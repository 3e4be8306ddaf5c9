// The layer's options: the plugin options (`--backend-opt KEY=VALUE`) that
// the NPU compiler layer reads, wherever it runs (in a plugin, or on the
// host for a plugin that takes scheduled programs). A plugin reads its own
// keys and passes the others here; a key neither knows is an error naming
// both lists.
#ifndef EMBER_ACCEL_OPTIONS_H
#define EMBER_ACCEL_OPTIONS_H

#include "ember/accel/Program.h"
#include "ember/accel/Select.h"

#include <map>
#include <string>

namespace ember::accel {

struct LayerOptions {
  CodegenOptions codegen;
  unsigned tune = 0;           // tune=N: candidates measured per layer
  std::string tuneCache;       // tune_cache=PATH ("": none)
  bool tuneCacheGiven = false; // tune_cache was given
  bool dramGiven = false;      // dram_bytes was given
  SelectOptions select;        // islands=host|keep, patches=on|off
};

// Applies `key`=`value` to `o` when the key is the layer's: tiling, bias,
// depthwise, prefetch, cascade, cascade_predict, stripes, fill, taps, tune,
// tune_cache, dram_bytes, dram_bw, dram_latency (the DRAM ones the device
// reads too), islands, patches. Sets `known`; returns why the value is wrong
// when it is.
Status applyLayerOption(const std::string &key, const std::string &value,
                        LayerOptions &o, bool &known);

// The keys applyLayerOption knows, for messages ("tiling, bias, ...").
const char *layerOptionKeys();

// A decimal count (no sign, at most 20 digits).
bool parseCount(const std::string &s, uint64_t &v);

} // namespace ember::accel

#endif // EMBER_ACCEL_OPTIONS_H
