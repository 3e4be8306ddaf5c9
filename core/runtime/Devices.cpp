#include "runtime/Devices.h"

#include "backend/LayerPath.h"
#include "backend/Partitioner.h"
#include "backend/ProgramProto.h"

#include "ember/backend/v1/runtime.pb.h"

#include <cctype>
#include <map>
#include <optional>

namespace ember::runtime {

Expected<std::vector<DeviceRequest>> parseDeviceList(const std::string &spec) {
  std::vector<DeviceRequest> out;
  if (spec.empty())
    return invalid("empty device list (expected e.g. npu-sim:2,cpu)");
  size_t at = 0;
  while (at <= spec.size()) {
    size_t comma = spec.find(',', at);
    std::string item = spec.substr(
        at, comma == std::string::npos ? std::string::npos : comma - at);
    at = comma == std::string::npos ? spec.size() + 1 : comma + 1;
    if (item.empty())
      return invalid("empty entry in the device list '", spec, "'");
    DeviceRequest r;
    r.target = item;
    size_t colon = item.rfind(':');
    if (colon != std::string::npos && colon + 1 < item.size()) {
      std::string n = item.substr(colon + 1);
      bool digits = n.size() <= 3;
      for (char c : n)
        digits = digits && std::isdigit(static_cast<unsigned char>(c));
      if (digits) {
        unsigned long v = std::stoul(n);
        if (v < 1 || v > 64)
          return invalid("device count ", n, " in '", item,
                         "' is not between 1 and 64");
        r.count = uint32_t(v);
        r.target = item.substr(0, colon);
      }
    }
    if (r.target.empty())
      return invalid("device list entry '", item, "' names no target");
    for (auto &o : out)
      if (o.target == r.target)
        return invalid("the device list names '", r.target,
                       "' twice (give its count once: ", r.target, ":N)");
    out.push_back(r);
  }
  return out;
}

Expected<std::unique_ptr<DeviceSet>>
DeviceSet::open(std::vector<DeviceKind> k) {
  std::unique_ptr<DeviceSet> s(new DeviceSet());
  s->kinds_ = std::move(k);
  for (size_t ki = 0; ki < s->kinds_.size(); ++ki) {
    DeviceKind &kind = s->kinds_[ki];
    if (!kind.plugin)
      return invalid("device '", kind.target,
                     "' is not a plugin (the reference interpreter runs on "
                     "the host, not as a device of the list)");
    EMBER_ASSIGN(uint32_t have, kind.plugin->deviceCount());
    if (kind.count > have)
      return unsupported(kind.target, ":", kind.count, " asks for ", kind.count,
                         " devices; ", kind.plugin->describe(), " has ", have);
    const std::string opts = backend::serializeCompileOptions(kind.compile);
    for (uint32_t i = 0; i < kind.count; ++i) {
      RuntimeDevice d;
      d.name = concat(kind.target, ":", i);
      d.kind = ki;
      d.index = i;
      d.plugin = kind.plugin;
      if (kind.plugin->api().device_describe) {
        auto desc = kind.plugin->describeDevice(i, opts);
        if (!desc)
          return desc.status().withContext(concat("device ", d.name));
        DeviceTraits &t = d.traits;
        t.described = true;
        t.description = desc->name();
        t.memoryBytes = desc->memory_bytes();
        t.concurrency = desc->concurrency() ? desc->concurrency() : 1;
        t.simulated = desc->simulated();
        t.clockHz = desc->clock_hz();
        t.transferBytesPerSec = desc->transfer_bytes_per_second();
        t.sharesBandwidthWith.assign(desc->shares_bandwidth_with().begin(),
                                     desc->shares_bandwidth_with().end());
        t.sharedBytesPerSec = desc->shared_bytes_per_second();
      }
      auto h = kind.plugin->openDevice(i);
      if (!h)
        return h.status().withContext(concat("device ", d.name));
      d.handle = std::move(*h);
      s->devices_.push_back(std::move(d));
    }
  }
  return s;
}

std::vector<size_t> DeviceSet::devicesOf(size_t k) const {
  std::vector<size_t> out;
  for (size_t i = 0; i < devices_.size(); ++i)
    if (devices_[i].kind == k)
      out.push_back(i);
  return out;
}

namespace {

uint64_t valueBytes(const Value &v) { return v.type().sizeInBytes(); }

} // namespace

CostEstimate hostEstimate(const Function &f) {
  CostEstimate c;
  auto nodes = backend::computeNodes(f);
  for (const Node *n : nodes) {
    double bytes = 0;
    uint64_t constBytes = 0;
    for (const Value &in : n->inputs) {
      if (!in)
        continue;
      bytes += double(valueBytes(in));
      if (in.node->kind == OpKind::Constant)
        constBytes += valueBytes(in);
    }
    for (const Type &t : n->types)
      bytes += double(t.sizeInBytes());
    double sec = double(backend::macsOf(*n)) / kHostMacsPerSec +
                 bytes / kHostBytesPerSec;
    c.nodeSeconds.push_back(sec);
    c.nodeMemory.push_back(constBytes);
    c.nodeGroup.push_back(-1);
    c.seconds += sec;
    c.memoryBytes += constBytes;
  }
  c.basis =
      concat("host estimate: multiply-accumulates at ", kHostMacsPerSec / 1e9,
             " G/s and operand bytes at ", kHostBytesPerSec / 1e9, " GB/s");
  return c;
}

void toProto(const CostEstimate &c, backend::v1::CostEstimate &out) {
  out.set_schema_version(1);
  out.set_seconds(c.seconds);
  out.set_memory_bytes(c.memoryBytes);
  out.set_basis(c.basis);
  out.set_memory_traffic_bytes(c.trafficBytes);
  for (size_t i = 0; i < c.nodeSeconds.size(); ++i) {
    backend::v1::NodeCost *n = out.add_nodes();
    n->set_node(int32_t(i));
    n->set_seconds(c.nodeSeconds[i]);
    n->set_memory_bytes(i < c.nodeMemory.size() ? c.nodeMemory[i] : 0);
    n->set_group(i < c.nodeGroup.size() ? c.nodeGroup[i] : -1);
  }
}

Expected<CostEstimate> estimateOn(RuntimeDevice &d, const DeviceKind &k,
                                  const Function &f) {
  if (!d.plugin)
    return hostEstimate(f);
  // A plugin that takes scheduled programs: the layer's cost model on the
  // program the host schedules for it (LayerPath.h), at the device's clock.
  EMBER_ASSIGN(std::optional<accel::Target> t,
               backend::hostLayerTarget(*d.plugin));
  if (!t && !d.plugin->api().estimate_cost)
    return hostEstimate(f);
  const size_t n = backend::computeNodes(f).size();
  auto est = backend::estimateOnPlugin(*d.plugin, d.index, t, f, k.compile,
                                       d.traits.clockHz);
  if (!est)
    return est.status().withContext(concat("device ", d.name));
  CostEstimate c;
  c.fromPlugin = true;
  c.seconds = est->seconds();
  c.memoryBytes = est->memory_bytes();
  c.basis = est->basis();
  c.trafficBytes = est->memory_traffic_bytes();
  c.nodeSeconds.assign(n, 0);
  c.nodeMemory.assign(n, 0);
  c.nodeGroup.assign(n, -1);
  for (const backend::v1::NodeCost &nc : est->nodes()) {
    size_t i = size_t(nc.node());
    if (nc.node() < 0 || i >= n)
      return makeError(ErrorCode::Internal, "device ", d.name,
                       ": the estimate names node ", nc.node(), " of ", n);
    c.nodeSeconds[i] = nc.seconds();
    c.nodeMemory[i] = nc.memory_bytes();
    c.nodeGroup[i] = nc.group();
  }
  return c;
}

} // namespace ember::runtime
