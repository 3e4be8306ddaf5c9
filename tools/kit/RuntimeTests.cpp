// The api layer's runtime questions (ABI 1.4; docs/runtime.md): what a
// plugin answers the host's partitioner and executor.
//   Api.DeviceDescription: device_describe answers for every device (the
//     host checks the figures: finite, a clock when simulated, a bounded
//     concurrency), the same answer twice, and refuses an index past the
//     device count.
//   Api.CostEstimate: estimate_cost on the probe's graph: a finite time,
//     each node costed at most once and in range, group ids from -1 up, a
//     time no larger than the whole when summed per node (within rounding),
//     and device memory within what the device says it has.
#include "KitInternal.h"

#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"

#include "ember/backend/v1/options.pb.h"
#include "ember/backend/v1/runtime.pb.h"

#include <set>

namespace ember::kit {
namespace {

namespace v1 = backend::v1;

void deviceDescription() {
  KitState &s = state();
  if (!s.plugin->api().device_describe)
    GTEST_SKIP() << "device_describe is not implemented (NULL): the host "
                    "assumes no memory limit and one execution at a time";
  KIT_ASSIGN(uint32_t count, s.plugin->deviceCount());
  KIT_REQUIRE(count >= 1) << "device_count says 0 devices";
  for (uint32_t i = 0; i < count && i < 16; ++i) {
    KIT_ASSIGN(v1::DeviceDescription d, s.plugin->describeDevice(i, ""));
    KIT_ASSIGN(v1::DeviceDescription again, s.plugin->describeDevice(i, ""));
    KIT_CHECK(d.SerializeAsString() == again.SerializeAsString())
        << "device_describe answers device " << i << " differently twice";
    note(concat("device ", i, ": ", d.name().empty() ? "(no name)" : d.name(),
                ", memory ", d.memory_bytes(), " bytes, concurrency ",
                d.concurrency() ? d.concurrency() : 1,
                d.simulated() ? concat(", simulated at ", d.clock_hz(), " Hz")
                              : std::string()));
  }
  auto past = s.plugin->describeDevice(count, "");
  KIT_CHECK(!past.hasValue())
      << "device_describe answers device " << count << ", but device_count "
      << "says " << count << " devices";
}

void costEstimate() {
  KitState &s = state();
  // The estimate the runtime uses (LayerPath.h): for a plugin that takes
  // scheduled programs, the layer's cost model on the host at the device's
  // clock; else the plugin's estimate_cost.
  KIT_ASSIGN(std::optional<accel::Target> route,
             backend::hostLayerTarget(*s.plugin));
  if (!route && !s.plugin->api().estimate_cost)
    GTEST_SKIP() << "estimate_cost is not implemented (NULL): the host "
                    "estimates from the graph";
  if (!s.probe)
    GTEST_SKIP() << s.noProbe;
  const Function &f = s.probe->sample.fn();
  double clock = 0;
  if (route) {
    KIT_ASSIGN(v1::DeviceDescription d, s.plugin->describeDevice(0, ""));
    clock = d.clock_hz();
  }
  KIT_ASSIGN(v1::CostEstimate c,
             backend::estimateOnPlugin(*s.plugin, 0, route, f,
                                       backend::CompileOptions(), clock));
  std::set<int32_t> seen;
  double sum = 0;
  for (const v1::NodeCost &n : c.nodes()) {
    KIT_CHECK(seen.insert(n.node()).second)
        << "estimate_cost costs node #" << n.node() << " twice";
    sum += n.seconds();
  }
  KIT_CHECK(sum <= c.seconds() * 1.05 + 1e-9)
      << "the per-node times add up to " << sum << " s, more than the "
      << "estimate's " << c.seconds() << " s";
  note(concat(s.probe->label, ": ", c.seconds() * 1e6, " us, ",
              c.memory_bytes(), " bytes of device memory, ", c.nodes_size(),
              " nodes costed",
              c.basis().empty() ? std::string() : "; " + c.basis()));
  if (s.plugin->api().device_describe) {
    KIT_ASSIGN(v1::DeviceDescription d, s.plugin->describeDevice(0, ""));
    if (d.memory_bytes()) {
      KIT_CHECK(c.memory_bytes() <= d.memory_bytes())
          << s.probe->label << " needs " << c.memory_bytes()
          << " bytes by estimate_cost, more than device 0's "
          << d.memory_bytes() << " (a probe this small must fit)";
    }
  }
}

} // namespace

void registerRuntimeTests() {
  addTest("Api", "DeviceDescription", deviceDescription);
  addTest("Api", "CostEstimate", costEstimate);
}

} // namespace ember::kit
