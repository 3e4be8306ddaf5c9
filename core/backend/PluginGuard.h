// What the host knows about every plugin it loaded, kept where a signal
// handler and the hang watchdog can read it without locks or allocation:
// the plugin's name and path (copied), the address ranges of its code, the
// executions it has in flight and the call in progress. Plugin.cpp fills
// it; PluginGuard.cpp reads it to attribute a crash on any thread and a
// call that does not return. Internal to core/backend.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

namespace ember::backend::guard {

struct PluginSlot {
  char name[128] = {};
  char path[512] = {};
  // Executable segments of the plugin's shared library (its code).
  static constexpr int kMaxRanges = 8;
  uintptr_t lo[kMaxRanges] = {}, hi[kMaxRanges] = {};
  std::atomic<int> numRanges{0}; // published after lo/hi
  uintptr_t loadBase = 0;        // ELF addresses are offsets from here
  // Executions started (execute returned an event) and not yet seen
  // complete: a crash on a plugin thread meanwhile is "in execute".
  std::atomic<int> pendingExecutions{0};
  // A call in progress on some thread (the last one entered), or null.
  std::atomic<const char *> activeCall{nullptr};
  // The code of an op library (OpLibrary.cpp), not a plugin: a crash with
  // its code at the faulting address is reported as the library's.
  std::atomic<bool> opLibrary{false};
};

// A slot for the library behind `dlHandle` (its code ranges are read
// here); never freed, as plugins are never unloaded. Null when all slots
// are taken (crash attribution then covers guarded calls only).
PluginSlot *registerPlugin(void *dlHandle, const std::string &path);
// Sets the slot's name once the handshake has read it.
void nameSlot(PluginSlot *slot, const std::string &name);

// Installs the fatal-signal handlers (once per process).
void installCrashHandlers();

// Marks this thread as loading `path` (dlopen runs the library's static
// constructors): a crash meanwhile is reported as the plugin's.
struct LoadingScope {
  explicit LoadingScope(const char *path);
  ~LoadingScope();
};

} // namespace ember::backend::guard
