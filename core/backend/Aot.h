// Ahead-of-time compilation through a plugin: compile a whole lowered graph
// without a device for a target triple/CPU, and write the artifact or the
// bundle it describes (`ember compile --emit=artifact|bundle`).
#pragma once

#include "backend/Plugin.h"
#include "ir/Graph.h"

#include <map>
#include <string>

namespace ember::backend {

struct AotOptions {
  std::string triple; // CompileOptions.target_triple; empty: the host
  std::string cpu;    // CompileOptions.target_cpu; empty: the host's
  uint32_t threads = 0;
  uint32_t optLevel = 2;
  std::map<std::string, std::string> vendorOptions; // CompileOptions.vendor
};

// Every node must be claimed by the plugin (an artifact has no fallback);
// returns the serialized artifact.
Expected<std::string> compileAhead(Plugin &p, const Function &lowered,
                                   const AotOptions &o);

// Writes each file the artifact's header lists (ArtifactHeader.files) into
// `dir` (created if missing). Error when the artifact lists none or a name
// or range is bad.
Status writeBundle(const std::string &artifact, const std::string &dir);

Status writeFileBytes(const std::string &path, const std::string &bytes);

} // namespace ember::backend
