// Ahead-of-time bundles: what executable_serialize writes (README.md,
// "AOT bundles"). A bundle is a set of named files:
//   model.o      ember_main and the runtime it needs, for the target triple
//   model.h      the entry point, buffer sizes, input/output names and types
//   weights.bin  the constant region ember_main reads
//   main.c       an example program (libc and libm only)
//   cpu.txt      key=value facts the plugin reads back on load
// Files travel in one artifact payload (artifact.proto, BundleFile list).
#pragma once

#include "Compiler.h"

#include <map>
#include <string>
#include <vector>

namespace ember::cpugen {

struct BundleFile {
  std::string name;
  std::string bytes;
};

// Compiles `f` for cfg (cfg.bundle is set here) into a bundle's files.
Expected<std::vector<BundleFile>> buildBundle(Function &f, CompileConfig cfg,
                                              const std::string &modelName);

// The text files, from a compiled model.
std::string bundleHeader(const CompiledModel &m, const std::string &modelName);
std::string bundleMain(const CompiledModel &m);

// cpu.txt: "key=value" lines.
std::string writeFacts(const std::map<std::string, std::string> &facts);
std::map<std::string, std::string> readFacts(const std::string &text);

} // namespace ember::cpugen
