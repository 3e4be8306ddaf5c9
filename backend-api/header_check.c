/* Compiled as strict C99 by the build: backend.h must stay plain C. */
#include "ember/backend.h"

size_t ember_backend_header_check(const ember_plugin_api *api);
size_t ember_backend_header_check(const ember_plugin_api *api) {
  return EMBER_HAS_FIELD(ember_plugin_api, api, event_release)
             ? sizeof(ember_plugin_api)
             : 0;
}
