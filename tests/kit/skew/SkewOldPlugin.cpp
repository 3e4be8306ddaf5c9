// A plugin built against the frozen ABI 1.0 header (backend_abi_1_0.h): its
// table ends before executable_signature. A 1.1 host must load and run it
// (the kit's skew tests: kit-skew-old, skew-old-run).
#include "backend_abi_1_0.h"

static_assert(EMBER_ABI_VERSION_MAJOR == 1 && EMBER_ABI_VERSION_MINOR == 0,
              "this plugin must be built against the ABI 1.0 header");

#define TINY_NAME "skew-old"
#include "../plugins/TinyAdd.h"

namespace {

ember_plugin_api makeTable() {
  ember_plugin_api a{};
  a.struct_size = sizeof(ember_plugin_api);
  a.abi_major = EMBER_ABI_VERSION_MAJOR;
  a.abi_minor = EMBER_ABI_VERSION_MINOR;
  a.name = TINY_NAME;
  a.version = TINY_VERSION;
  tiny::fillTable(a);
  return a;
}

const ember_plugin_api kApi = makeTable();

} // namespace

extern "C" EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry(const ember_host_api *host) {
  return tiny::hostMajorOk(host, EMBER_ABI_VERSION_MAJOR) ? &kApi : nullptr;
}
