#include "Driver.h"

#include "backend/Plugin.h"

#include <cstdio>

namespace ember::cli {

int reportError(const Status &s) {
  std::fprintf(stderr, "error: %s\n", s.message().c_str());
  // A plugin that did not complete in time: the status a hang reports.
  return s.code() == ErrorCode::Timeout ? backend::kPluginHangExit : 1;
}

Command makeCommand(const std::string &name) {
  for (const Subcommand &s : subcommands())
    if (s.name == name)
      return Command("ember " + name, s.usage, s.summary);
  return Command("ember " + name, "[options]", "");
}

void printNotes(const std::vector<std::string> &notes) {
  for (auto &n : notes)
    std::fprintf(stderr, "note: %s\n", n.c_str());
}

Expected<std::unique_ptr<Module>>
loadModelPrintingNotes(const std::string &path, const ImportOptions &io) {
  std::vector<std::string> notes;
  auto m = loadModel(path, io, &notes);
  printNotes(notes);
  return m;
}

} // namespace ember::cli
