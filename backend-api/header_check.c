/* Compiled as strict C99 by the build: backend.h and op_library.h must stay
 * plain C, and one file may include both. */
#include "ember/backend.h"
#include "ember/op_library.h"

size_t ember_backend_header_check(const ember_plugin_api *api);
size_t ember_backend_header_check(const ember_plugin_api *api) {
  return EMBER_HAS_FIELD(ember_plugin_api, api, event_release)
             ? sizeof(ember_plugin_api)
             : 0;
}

size_t ember_op_library_header_check(const ember_op_library *lib);
size_t ember_op_library_header_check(const ember_op_library *lib) {
  return EMBER_OP_HAS_FIELD(ember_op_library, lib, ops) ? sizeof(ember_op_def)
                                                        : 0;
}
