/* A hostile plugin: it exports its entry under another name, so the host
 * finds no ember_plugin_entry (and must say so, naming the file). */
#include "ember/backend.h"

EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry_v2(const ember_host_api *host);

const ember_plugin_api *ember_plugin_entry_v2(const ember_host_api *host) {
  (void)host;
  return 0;
}
