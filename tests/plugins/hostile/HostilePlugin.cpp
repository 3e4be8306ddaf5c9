// Hostile plugins for the host and the conformance kit: one source, one
// misbehaviour per build (tests/plugins/CMakeLists.txt):
//   HOSTILE_ABI_MAJOR=N       claims ABI major N (0 or 2)
//   HOSTILE_TABLE_SIZE=N      a table whose struct_size lies (0, 3, 1 << 30)
//   HOSTILE_NAME_NULL         the table's name is NULL
//   HOSTILE_NAME_GARBAGE      the table's name is not text
//   TINY_CAPS_GARBAGE         the capability blob is random bytes
//   TINY_CAPS_FOREIGN_ALLOC   the capability blob comes from malloc
//   TINY_CAPS_UNKNOWN_ARITH   the manifest declares an arithmetic
//                             (requant_profiles) no host knows
//   TINY_COMPILE_NULL         compile returns no executable and no error
//   TINY_COMPILE_CRASH        compile dereferences a null pointer
//   HOSTILE_WRONG_ADD         claims Add f32 but computes a - b
//   HOSTILE_DESCRIBE_GARBAGE  device_describe answers random bytes
//   HOSTILE_COST_LIES         estimate_cost costs a node the graph does not
//                             have, and a NaN time
// Otherwise it is the tiny Add backend of tests/kit/plugins/TinyAdd.h.
#include "ember/backend.h"

#if defined(HOSTILE_WRONG_ADD)
#define TINY_COMBINE(a, b) ((a) - (b))
#endif
#define TINY_NAME "hostile"
#include "../../kit/plugins/TinyAdd.h"

#include "ember/backend/v1/runtime.pb.h"

#include <cmath>

#ifndef HOSTILE_ABI_MAJOR
#define HOSTILE_ABI_MAJOR EMBER_ABI_VERSION_MAJOR
#endif
#ifndef HOSTILE_TABLE_SIZE
#define HOSTILE_TABLE_SIZE sizeof(ember_plugin_api)
#endif

namespace {

#if defined(HOSTILE_DESCRIBE_GARBAGE)
ember_error *describeGarbage(const ember_device_query_params *,
                             ember_blob *out) {
  static const char junk[] = "\xff\xff\xff\x0f\x8f\x07junk\x07\xff";
  return tiny::blob(std::string(junk, sizeof(junk) - 1), out);
}
#endif

#if defined(HOSTILE_COST_LIES)
ember_error *costLies(const ember_cost_params *, ember_blob *out) {
  tiny::v1::CostEstimate c;
  c.set_schema_version(1);
  c.set_seconds(std::nan(""));
  tiny::v1::NodeCost *n = c.add_nodes();
  n->set_node(1000);
  n->set_seconds(1);
  return tiny::blob(c.SerializeAsString(), out);
}
#endif

const char kGarbageName[] = {'\x01', '\x7f', '\xfe', '\x02', 'A', '\x1b', 0};

ember_plugin_api makeTable() {
  ember_plugin_api a{};
  a.struct_size = HOSTILE_TABLE_SIZE;
  a.abi_major = HOSTILE_ABI_MAJOR;
  a.abi_minor = EMBER_ABI_VERSION_MINOR;
#if defined(HOSTILE_NAME_NULL)
  a.name = nullptr;
#elif defined(HOSTILE_NAME_GARBAGE)
  a.name = kGarbageName;
#else
  a.name = TINY_NAME;
#endif
  a.version = TINY_VERSION;
  tiny::fillTable(a);
  a.executable_signature = nullptr;
#if defined(HOSTILE_DESCRIBE_GARBAGE)
  a.device_describe = describeGarbage;
#endif
#if defined(HOSTILE_COST_LIES)
  a.estimate_cost = costLies;
#endif
  return a;
}

const ember_plugin_api kApi = makeTable();

} // namespace

extern "C" EMBER_PLUGIN_EXPORT const ember_plugin_api *
ember_plugin_entry(const ember_host_api *host) {
  // The lying ones answer any host: the host must catch the lie.
  if (HOSTILE_ABI_MAJOR != EMBER_ABI_VERSION_MAJOR ||
      HOSTILE_TABLE_SIZE != sizeof(ember_plugin_api))
    return &kApi;
  return tiny::hostMajorOk(host, EMBER_ABI_VERSION_MAJOR) ? &kApi : nullptr;
}
