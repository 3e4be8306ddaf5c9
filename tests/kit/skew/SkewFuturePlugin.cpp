// A plugin from the future: it claims ABI 1.7 and its table has functions
// this host does not know after executable_signature. Minor versions only
// append, so a 1.1 host must load it and use the part it knows (the kit's
// skew tests: kit-skew-future, skew-future-run).
#include "ember/backend.h"

#define TINY_NAME "skew-future"
#include "../plugins/TinyAdd.h"

namespace {

// What ABI 1.7 might have appended.
void futureFunction() {}

struct FutureApi {
  ember_plugin_api v1_1;
  void (*added_in_1_2)(void);
  void (*added_in_1_5)(void);
  void (*added_in_1_7)(void);
};

FutureApi makeTable() {
  FutureApi f{};
  ember_plugin_api &a = f.v1_1;
  a.struct_size = sizeof(FutureApi);
  a.abi_major = 1;
  a.abi_minor = 7;
  a.name = TINY_NAME;
  a.version = TINY_VERSION;
  tiny::fillTable(a);
  a.executable_signature = nullptr;
  f.added_in_1_2 = f.added_in_1_5 = f.added_in_1_7 = futureFunction;
  return f;
}

const FutureApi kApi = makeTable();

} // namespace

extern "C" EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry(const ember_host_api *host) {
  return tiny::hostMajorOk(host, 1) ? &kApi.v1_1 : nullptr;
}
