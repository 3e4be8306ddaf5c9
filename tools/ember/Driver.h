// Shared pieces of the `ember` subcommands.
#pragma once

#include "import/OnnxImporter.h"
#include "passes/Pass.h"

#include <string>
#include <vector>

namespace ember::cli {

// "error: <what>" on stderr; returns the exit code to use.
int reportError(const Status &s);
int usageError(const std::string &msg);

// Simple --flag / --flag=value / --flag value parser.
class Args {
public:
  Args(int argc, char **argv, int first);
  // Consumes --name[=value]; returns true when present.
  bool flag(const std::string &name);
  bool value(const std::string &name, std::string &out);
  std::vector<std::string> values(const std::string &name);
  // Remaining positional arguments; error on unknown flags.
  Status finish(std::vector<std::string> &positional);

private:
  std::vector<std::string> args_;
  std::vector<bool> used_;
};

// The shape options every model command takes (all repeatable), into
// io.shapes with defaults on (batch-like and sequence dims are 1, with a
// note):
//   --dim NAME=VALUE          a symbolic dim by name
//   --input-shape NAME=DxDx.. a whole input shape
//   --input NAME=FILE         (when `given` is not null) data, whose shape
//                             binds the input's dims; read into `given`
// Messages name the option as the user gave it.
Status readShapeOptions(Args &a, ImportOptions &io,
                        std::map<std::string, Tensor> *given);

// Prints each import note as "note: <text>" on stderr (stdout carries the
// command's output and its contract lines).
void printNotes(const std::vector<std::string> &notes);

// Target name check: interp | cpu | npu-sim | plugin:PATH.
Status checkTarget(const std::string &target);

// Ends option parsing of a command taking exactly one MODEL: rejects unknown
// options, a missing or extra MODEL and an unknown target.
Expected<std::string> finishModelArgs(Args &a, const std::string &command,
                                      const std::string &target);

// One tensor per parameter of `f`: from `given` (element types must match;
// every entry must name a parameter) or seeded random.
Expected<std::vector<Tensor>> bindInputs(const Function &f,
                                         std::map<std::string, Tensor> given,
                                         uint64_t seed);

// Deterministic pseudo-random tensor (uniform [-1, 1) for floats, small ints
// for integers, alternating for bool) from a seed.
Tensor randomTensor(const Type &t, uint64_t seed);

int compileMain(int argc, char **argv);
int runMain(int argc, char **argv);
int conformMain(int argc, char **argv);
int benchMain(int argc, char **argv);
int quantizeMain(int argc, char **argv);

} // namespace ember::cli
