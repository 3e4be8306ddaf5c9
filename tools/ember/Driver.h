// Shared pieces of the `ember` subcommands: the command table, errors, and
// binding a model's inputs. The options they share are in Options.h.
#pragma once

#include "Options.h"

#include "import/OnnxImporter.h"
#include "passes/Pass.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace ember::cli {

// One `ember` subcommand. Its help and the list in `ember --help` come from
// here.
struct Subcommand {
  std::string name;    // "run"
  std::string usage;   // what follows "ember run" in the usage line
  std::string summary; // what it does (its --help); the first sentence is
                       // its line in `ember --help`
  // argv[0] is "ember", argv[1] the subcommand's name.
  std::function<int(int argc, char **argv)> main;
};
const std::vector<Subcommand> &subcommands();

// A Command named "ember NAME" with the usage and summary of the table.
Command makeCommand(const std::string &name);

// The help text of `ember --help`: the commands and the shared options.
std::string topLevelHelp();

// "error: <what>" on stderr (the Status message names its place); returns
// the exit code to use: 1, or backend::kPluginHangExit for a plugin that
// did not complete in time.
int reportError(const Status &s);

// Prints each import note as "note: <text>" on stderr (stdout carries the
// command's output and its contract lines).
void printNotes(const std::vector<std::string> &notes);

// api::loadModel, printing the import's notes.
Expected<std::unique_ptr<Module>>
loadModelPrintingNotes(const std::string &path, const ImportOptions &io);

int compileMain(int argc, char **argv);
int runMain(int argc, char **argv);
int conformMain(int argc, char **argv);
int benchMain(int argc, char **argv);
int quantizeMain(int argc, char **argv);
// `ember cosim MODEL` (Cosim.cpp); `ember cosim PROGRAM|DIR` is the NPU
// tool's.
int cosimModelMain(int argc, char **argv);
// Whether `ember cosim ARGS` names a model (.onnx, .eir) to compile.
bool cosimNamesModel(int argc, char **argv);

} // namespace ember::cli
