// Ahead-of-time compilation through a plugin: compile a whole lowered graph
// without a device for a target triple/CPU, and write the artifact or the
// bundle it describes (`ember compile --emit=artifact|bundle`).
#pragma once

#include "backend/CompileOptions.h"
#include "backend/Plugin.h"
#include "ir/Graph.h"

#include <string>

namespace ember::backend {

// Every node must be claimed by the plugin (an artifact has no fallback);
// compiles without a device (o.targetTriple/targetCpu: the target) and
// returns the serialized artifact.
Expected<std::string> compileAhead(Plugin &p, const Function &lowered,
                                   const CompileOptions &o);

// Writes each file the artifact's header lists (ArtifactHeader.files) into
// `dir` (created if missing). Error when the artifact lists none or a name
// or range is bad.
Status writeBundle(const std::string &artifact, const std::string &dir);

Status writeFileBytes(const std::string &path, const std::string &bytes);

} // namespace ember::backend
