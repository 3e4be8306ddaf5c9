// What the host asks of a plugin's executable_compile, for a JIT partition
// and an ahead-of-time artifact alike: one struct, serialized in one place
// into ember.backend.v1.CompileOptions (backend-api/proto/.../options.proto).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace ember::backend {

struct CompileOptions {
  // 0 (no optimization) .. 3; unset: the plugin's own default. `ember`
  // sets it from -O<N> (default -O2).
  std::optional<uint32_t> optLevel;
  // Worker threads; 0: the plugin's default.
  uint32_t numThreads = 0;
  // Ahead of time: the target ("aarch64-linux-gnu", "znver4"); empty: the
  // host.
  std::string targetTriple, targetCpu;
  // The plugin's own options (`--backend-opt KEY=VALUE`); a plugin rejects
  // a key it does not know, by name.
  std::map<std::string, std::string> vendor;
  // Execution profiling (ABI 1.3 event_profile); 0: none.
  uint32_t profileLevel = 0;
};

// The serialized ember.backend.v1.CompileOptions (schema_version 1).
std::string serializeCompileOptions(const CompileOptions &o);

} // namespace ember::backend
