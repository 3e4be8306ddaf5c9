#include "ember/api/Profile.h"

#include "ember/backend/v1/profile.pb.h"
#include "support/Json.h"

#include <cstdio>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

namespace ember::api {

namespace v1 = backend::v1;

namespace {

std::vector<v1::ExecutionProfile>
profilesOf(const backend::PartitionedExecutable &x) {
  std::vector<v1::ExecutionProfile> out;
  for (const backend::PartitionRun &r : x.lastRun()) {
    v1::ExecutionProfile p;
    if (r.onPlugin && !r.profile.empty() && p.ParseFromString(r.profile))
      out.push_back(std::move(p));
    else
      out.emplace_back();
  }
  return out;
}

double counter(const v1::ExecutionProfile &p, const std::string &name) {
  for (const v1::ProfileValue &v : p.counters())
    if (v.name() == name)
      return v.value();
  return 0;
}

} // namespace

ProfileTotals profileTotals(const backend::PartitionedExecutable &x) {
  std::vector<v1::ExecutionProfile> ps = profilesOf(x);
  ProfileTotals t;
  for (const v1::ExecutionProfile &p : ps) {
    if (p.device().empty())
      continue;
    t.device = p.device();
    t.executor = p.executor();
    t.timed = t.timed || p.timed();
    for (const v1::ProfileValue &v : p.counters()) {
      if (v.name() == "peak_macs_per_cycle")
        t.counters[v.name()] = std::max(t.counters[v.name()], v.value());
      else
        t.counters[v.name()] += v.value();
    }
  }
  if (t.device.empty())
    return t;
  auto get = [&t](const char *name) {
    auto it = t.counters.find(name);
    return it == t.counters.end() ? 0.0 : it->second;
  };
  t.cycles = get("cycles");
  t.usefulMacs = get("useful_macs");
  t.dmaBytes = get("dma_bytes");
  t.dmaInBusy = get("dma_in_busy");
  t.overlapCycles = get("dma_compute_overlap");
  t.peakMacsPerCycle = get("peak_macs_per_cycle");
  t.macUtil = t.cycles && t.peakMacsPerCycle
                  ? t.usefulMacs / (t.peakMacsPerCycle * t.cycles)
                  : 0.0;
  t.overlap = t.dmaInBusy ? t.overlapCycles / t.dmaInBusy : 0.0;
  // The model's MACs, and those of the nodes in plugin partitions.
  double all = 0, onPlugin = 0;
  for (const auto &part : x.plan().parts)
    for (const Node *n : part.nodes) {
      double m = double(backend::macsOf(*n));
      all += m;
      if (part.onPlugin)
        onPlugin += m;
    }
  t.macShare = all ? onPlugin / all : 0.0;
  t.partitions = x.plan().parts.size();
  for (const auto &part : x.plan().parts)
    if (!part.onPlugin)
      t.hostNodes += part.nodes.size();
  return t;
}

std::string profileSummary(const backend::PartitionedExecutable &x) {
  ProfileTotals t = profileTotals(x);
  if (t.device.empty())
    return "";
  std::ostringstream os;
  os << std::setprecision(4);
  os << t.device << ": cycles=" << uint64_t(t.cycles)
     << " mac_util=" << t.macUtil << " dma_bytes=" << uint64_t(t.dmaBytes)
     << " overlap=" << t.overlap << " " << t.device
     << "_mac_share=" << t.macShare << " partitions=" << t.partitions
     << " host_nodes=" << t.hostNodes;
  return os.str();
}

std::vector<ProfileLayerRow>
profileLayers(const backend::PartitionedExecutable &x) {
  std::vector<v1::ExecutionProfile> ps = profilesOf(x);
  std::vector<ProfileLayerRow> rows;
  for (size_t i = 0; i < ps.size(); ++i)
    for (const v1::ProfileLayer &l : ps[i].layers()) {
      ProfileLayerRow r;
      r.partition = i;
      r.name = l.name();
      r.op = l.op();
      r.detail = l.detail();
      for (const v1::ProfileValue &v : l.values())
        r.values.push_back({v.name(), v.value()});
      rows.push_back(std::move(r));
    }
  return rows;
}

std::vector<ProfileSlice>
profileSlices(const backend::PartitionedExecutable &x) {
  std::vector<v1::ExecutionProfile> ps = profilesOf(x);
  std::vector<ProfileSlice> out;
  double offset = 0;
  for (size_t i = 0; i < ps.size(); ++i) {
    const v1::ExecutionProfile &p = ps[i];
    if (p.device().empty())
      continue;
    for (const v1::TraceSlice &s : p.slices())
      out.push_back({i, s.track(), s.name(), s.category(), double(s.start()),
                     double(s.duration()), offset});
    offset += counter(p, "cycles");
  }
  return out;
}

// The host partitions between the device partitions, with their nodes:
// where the model leaves the device, and why it comes back.
void printHostSegments(std::ostream &os,
                       const backend::PartitionedExecutable &x) {
  const auto &parts = x.plan().parts;
  size_t device = 0, hostNodes = 0;
  for (const auto &p : parts) {
    device += p.onPlugin;
    hostNodes += p.onPlugin ? 0 : p.nodes.size();
  }
  os << "host segments: " << (parts.size() - device) << " (" << hostNodes
     << " nodes) between " << device << " device partitions\n";
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].onPlugin)
      continue;
    auto near = [&](bool before) -> std::string {
      for (size_t k = i; before ? k-- > 0 : ++k < parts.size();)
        if (parts[k].onPlugin)
          return "device partition " + std::to_string(k);
      return before ? "the model's inputs" : "the model's outputs";
    };
    os << "host segment (partition " << i << ", after " << near(true)
       << ", before " << near(false) << "): " << parts[i].nodes.size()
       << " nodes:";
    for (const Node *n : parts[i].nodes) {
      os << " " << opName(n->kind);
      if (!n->name.empty())
        os << " '" << n->name << "'";
    }
    os << "\n";
  }
}

void printProfileReport(std::ostream &os,
                        const backend::PartitionedExecutable &x) {
  std::vector<v1::ExecutionProfile> ps = profilesOf(x);
  bool header = false;
  std::vector<std::string> cols;
  for (size_t i = 0; i < ps.size(); ++i) {
    const v1::ExecutionProfile &p = ps[i];
    if (p.layers().empty())
      continue;
    if (!header) {
      for (const v1::ProfileValue &v : p.layers(0).values())
        cols.push_back(v.name());
      os << "layer report (" << p.device() << ", executor " << p.executor()
         << (p.timed() ? "" : ", untimed: cycles and stalls are 0") << ")\n";
      os << std::left << std::setw(5) << "part" << std::setw(36) << "layer"
         << std::setw(15) << "op";
      for (const std::string &c : cols)
        os << std::right << std::setw(13) << c;
      os << "  tiles\n";
      header = true;
    }
    for (const v1::ProfileLayer &l : p.layers()) {
      std::string name = l.name().size() > 34
                             ? l.name().substr(0, 15) + ".." +
                                   l.name().substr(l.name().size() - 17)
                             : l.name();
      os << std::left << std::setw(5) << i << std::setw(36) << name
         << std::setw(15) << l.op();
      for (const v1::ProfileValue &v : l.values()) {
        std::ostringstream cell;
        if (v.value() == double(uint64_t(v.value())) && v.value() >= 1)
          cell << uint64_t(v.value());
        else
          cell << std::fixed << std::setprecision(3) << v.value();
        os << std::right << std::setw(13) << cell.str();
      }
      os << "  " << l.detail() << "\n";
    }
  }
  printHostSegments(os, x);
}

Status writeProfileTrace(const std::string &path,
                         const backend::PartitionedExecutable &x) {
  std::ofstream out(path);
  if (!out)
    return makeError(ErrorCode::Io, "cannot write '", path, "' (--trace)");
  std::vector<v1::ExecutionProfile> ps = profilesOf(x);
  const auto &runs = x.lastRun();
  const auto &parts = x.plan().parts;
  out << "{\"displayTimeUnit\":\"ns\",\"otherData\":{\"time\":\"host "
         "partitions in wall time; device partitions in device cycles at the "
         "device's nominal clock\"},\"traceEvents\":[\n";
  out << "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":0,\"args\":{"
         "\"name\":\"model\"}},\n";
  out << "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,\"tid\":0,"
         "\"args\":{\"name\":\"partitions\"}}";
  std::map<std::string, int> tracks; // device track -> tid
  double t = 0;                      // microseconds
  for (size_t i = 0; i < runs.size() && i < parts.size(); ++i) {
    const v1::ExecutionProfile &p = ps[i];
    bool device = !p.device().empty();
    double scale = device && p.clock_hz() > 0 ? 1e6 / p.clock_hz() : 0;
    double dur = device && p.timed() ? counter(p, "cycles") * scale
                                     : runs[i].wallMs * 1000.0;
    std::string name =
        "partition " + std::to_string(i) + " (" +
        (parts[i].onPlugin ? (device ? p.device() : "plugin") : "host") + ", " +
        std::to_string(parts[i].nodes.size()) + " nodes)";
    out << ",\n{\"name\":" << jsonQuote(name)
        << ",\"cat\":\"partition\",\"ph\":\"X\",\"pid\":0,\"tid\":0,\"ts\":"
        << std::fixed << std::setprecision(3) << t << ",\"dur\":" << dur
        << ",\"args\":{\"wall_ms\":" << runs[i].wallMs << "}}";
    if (device)
      for (const v1::TraceSlice &s : p.slices()) {
        std::string key = p.device() + " " + s.track();
        auto it = tracks.find(key);
        if (it == tracks.end()) {
          int tid = int(tracks.size()) + 1;
          it = tracks.emplace(key, tid).first;
          out << ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":0,"
                 "\"tid\":"
              << tid << ",\"args\":{\"name\":" << jsonQuote(key) << "}}";
        }
        out << ",\n{\"name\":"
            << jsonQuote((s.category() == "stall" ? "wait " : "") + s.name())
            << ",\"cat\":" << jsonQuote(s.category())
            << ",\"ph\":\"X\",\"pid\":0,\"tid\":" << it->second
            << ",\"ts\":" << t + s.start() * scale
            << ",\"dur\":" << s.duration() * scale << "}";
      }
    t += dur;
  }
  out << "\n]}\n";
  if (!out)
    return makeError(ErrorCode::Io, "write to '", path, "' failed (--trace)");
  return Status::ok();
}

} // namespace ember::api
