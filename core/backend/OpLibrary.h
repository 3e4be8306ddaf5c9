// Host side of the op library ABI (backend-api/include/ember/op_library.h):
// loading a library, the handshake and the checks of its tables, and its
// ops as registered CustomOps (ir/OpRegistry.h) whose calls convert Ember's
// types, tensors and attributes to the ABI's structs and the library's
// errors to Status values naming the library. docs/custom-ops.md.
#pragma once

#include "ir/OpRegistry.h"
#include "support/Error.h"

#include <string>
#include <vector>

namespace ember::backend {

struct OpLibraryInfo {
  std::string path; // as loaded (its real path)
  std::string name, version;
  uint16_t abiMajor = 0, abiMinor = 0;
  std::vector<std::string> ops; // "domain::name" (opsets a-b)
};

struct OpLibraryOptions {
  // Only a library this process has loaded already (dlopen RTLD_NOLOAD):
  // what a program's list of op libraries may name (GraphProto.cpp), so
  // that no program makes a plugin load code the host did not.
  bool onlyIfLoaded = false;
};

// Loads the library at `path` once per process (by real path) and
// registers its ops. Errors name the path and the cause: no such file, no
// entry point, a refused handshake, an ABI version this host does not
// load, a bad table or op, an op another library registered.
Expected<OpLibraryInfo> loadOpLibrary(const std::string &path,
                                      const OpLibraryOptions &o = {});
// Each of `paths`, in order (--op-library, op_libraries=).
Status loadOpLibraries(const std::vector<std::string> &paths);
// The libraries loaded so far, in order.
std::vector<OpLibraryInfo> loadedOpLibraries();

// The real paths of the libraries whose ops `f` (and its subgraphs) uses,
// in order of first use: what a program crossing the plugin ABI lists.
std::vector<std::string> opLibrariesUsedBy(const Function &f);

} // namespace ember::backend
