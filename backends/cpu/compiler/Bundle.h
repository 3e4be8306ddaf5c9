// Ahead-of-time bundles: what executable_serialize writes (README.md,
// "AOT bundles"). A bundle is a set of named files:
//   model.o      ember_main and the runtime it needs, for the target triple
//   model.h      the entry point, buffer sizes, input/output names and types
//   weights.bin  the constant region ember_main reads
//   main.c       an example program (libc and libm only)
//   cpu.txt      key=value facts the plugin reads back on load
// A microcontroller bundle (Cortex-M; docs/edge.md) also has weights.o (the
// weights as a constant for flash), and its main.c runs the model through
// semihosting with startup.c and link.ld for a QEMU board.
// Files travel in one artifact payload (artifact.proto, BundleFile list).
#pragma once

#include "Compiler.h"

#include <llvm/TargetParser/Triple.h>

#include <map>
#include <string>
#include <vector>

namespace ember::cpugen {

struct BundleFile {
  std::string name;
  std::string bytes;
};

// What a bundle needs on its device: code and constants (flash_code: the
// object's allocated sections, .data's image included), the weights, the
// arena and the object's own writable state (ram_state). `ember compile
// --emit=bundle` prints them as its last line.
struct Footprint {
  uint64_t flashCode = 0, flashWeights = 0, ramArena = 0, ramState = 0;
};

// Compiles `f` for cfg (cfg.bundle is set here) into a bundle's files.
Expected<std::vector<BundleFile>> buildBundle(Function &f, CompileConfig cfg,
                                              const std::string &modelName);

// The text files, from a compiled model. With linkedWeights the header
// declares ember_model_weights (weights.o).
std::string bundleHeader(const CompiledModel &m, const std::string &modelName,
                         bool linkedWeights = false,
                         const std::string &entry = "ember_main");
std::string bundleMain(const CompiledModel &m);

// Microcontroller bundles (BundleMcu.cpp).
Expected<std::string> weightsObject(const std::string &weights,
                                    llvm::TargetMachine &tm);
Expected<Footprint> objectFootprint(const std::string &object);
// Rounds to nearest even without the C library's roundevenf: a Cortex-M4's
// FPU has no VRINTN, and LLVM would call it (QuantizeLinear's rounding).
void lowerRoundEven(llvm::Module &m);
std::string mcuMain(const CompiledModel &m, const llvm::Triple &t);
std::string mcuStartup();
std::string mcuLinkerScript(const llvm::Triple &t);

// cpu.txt: "key=value" lines.
std::string writeFacts(const std::map<std::string, std::string> &facts);
std::map<std::string, std::string> readFacts(const std::string &text);

} // namespace ember::cpugen
