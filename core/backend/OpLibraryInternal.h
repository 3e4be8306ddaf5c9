// What OpLibrary.cpp (loading, the host table, errors) and OpLibraryOps.cpp
// (the ops' calls) share. Internal to core/backend.
#pragma once

#include "backend/OpLibrary.h"

#include "ember/op_library.h"

#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>

namespace ember::backend::oplib {

// One loaded library: its host table (the callbacks' user_data is this),
// its name and path for messages, and the memory it was handed.
struct Library {
  std::string path, name, version;
  ember_op_host_api host{};
  void *handle = nullptr;
  std::mutex mu;
  std::unordered_set<void *> blocks;                 // from host->alloc
  std::unordered_set<const ember_op_error *> errors; // from host->error_new
  std::string lastLog;                               // last ERROR message
  // "op library 'acme' (/path/libacme.so)" (the path alone before the
  // handshake named it).
  std::string describe() const;
  // A library error as a Status (and frees it); null is OK. `what` says
  // which call, e.g. "the shape function of com.acme::Foo".
  Status take(ember_op_error *e, const std::string &what);
  // Frees a block of host memory the library returned; false when the
  // pointer is not one host->alloc gave.
  bool release(void *p);
};

// The CustomOp of one op definition of `lib` (checked by the loader).
std::shared_ptr<CustomOp> makeOp(std::shared_ptr<Library> lib,
                                 const ember_op_def *def);

} // namespace ember::backend::oplib
