#include "runtime/Placement.h"

#include "backend/ProgramProto.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <iomanip>
#include <limits>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>

namespace ember::runtime {

std::vector<size_t> balancedCuts(const std::vector<double> &cost,
                                 const std::vector<double> &mem,
                                 const std::vector<bool> &cutOk,
                                 const std::vector<double> &cap) {
  const size_t n = cost.size(), parts = cap.size();
  if (!parts)
    return {};
  std::vector<double> pc(n + 1, 0), pm(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    pc[i + 1] = pc[i] + cost[i];
    pm[i + 1] = pm[i] + (i < mem.size() ? mem[i] : 0);
  }
  std::vector<size_t> cuts;
  for (size_t i = 0; i <= n; ++i)
    if (i == 0 || i == n || (i < cutOk.size() && cutOk[i]))
      cuts.push_back(i);
  const double inf = std::numeric_limits<double>::infinity();
  const size_t c = cuts.size();
  // best[d][j]: the least largest chunk of d chunks covering [0, cuts[j]).
  std::vector<std::vector<double>> best(parts + 1, std::vector<double>(c, inf));
  std::vector<std::vector<size_t>> from(parts + 1, std::vector<size_t>(c, 0));
  best[0][0] = 0;
  for (size_t d = 1; d <= parts; ++d)
    for (size_t j = 0; j < c; ++j)
      for (size_t i = 0; i <= j; ++i) {
        if (best[d - 1][i] == inf)
          continue;
        const double m = pm[cuts[j]] - pm[cuts[i]];
        if (cap[d - 1] > 0 && m > cap[d - 1])
          continue;
        const double v = std::max(best[d - 1][i], pc[cuts[j]] - pc[cuts[i]]);
        // Ties keep the earliest start: later chunks take the rest.
        if (v < best[d][j] * (1 - 1e-12)) {
          best[d][j] = v;
          from[d][j] = i;
        }
      }
  if (best[parts][c - 1] == inf)
    return {};
  std::vector<size_t> bounds(parts + 1);
  size_t j = c - 1;
  for (size_t d = parts; d > 0; --d) {
    bounds[d] = cuts[j];
    j = from[d][j];
  }
  bounds[0] = 0;
  return bounds;
}

namespace {

std::string ms(double sec) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(sec < 1e-3 ? 4 : 3) << sec * 1e3
     << " ms";
  return os.str();
}

std::string mib(double bytes) {
  std::ostringstream os;
  os << std::fixed << std::setprecision(1);
  if (bytes >= double(1 << 20))
    os << bytes / double(1 << 20) << " MiB";
  else if (bytes >= 1024)
    os << bytes / 1024 << " KiB";
  else
    os << std::setprecision(0) << bytes << " B";
  return os.str();
}

// One node of a kind's sequence: its place in computeNodes, its predicted
// time and memory, and its group (nodes the device runs as one unit).
struct Item {
  size_t node = 0;
  double sec = 0, mem = 0;
  int64_t group = -1;
};

// Devices that share a bandwidth (a DRAM channel) run their stages at the
// same time when requests pipeline. When the stages' demands (bytes through
// it per second of their time alone) add up to more than it, every device
// of the group is predicted that many times slower: the bandwidth split in
// proportion to demand, each stage bound by its traffic. A first-order
// model: a stage that computes more than it moves slows down less, bursts
// that meet slow down more. Returns a note per group.
std::vector<std::string> applyContention(Placement &p,
                                         const std::vector<RuntimeDevice> &ds) {
  const size_t n = ds.size();
  std::vector<size_t> root(n);
  std::iota(root.begin(), root.end(), size_t(0));
  std::function<size_t(size_t)> find = [&](size_t x) {
    return root[x] == x ? x : root[x] = find(root[x]);
  };
  for (size_t d = 0; d < n; ++d)
    for (uint32_t idx : ds[d].traits.sharesBandwidthWith)
      for (size_t e = 0; e < n; ++e)
        if (ds[e].kind == ds[d].kind && ds[e].index == idx)
          root[find(d)] = find(e);
  std::vector<double> compute(n, 0), traffic(n, 0);
  for (const Stage &st : p.stages)
    if (st.device != kHost) {
      compute[size_t(st.device)] += st.computeSec;
      traffic[size_t(st.device)] += st.trafficBytes;
    }
  std::vector<std::string> notes;
  std::map<size_t, std::vector<size_t>> groups;
  for (size_t d = 0; d < n; ++d)
    if (compute[d] > 0 && ds[d].traits.sharedBytesPerSec > 0)
      groups[find(d)].push_back(d);
  for (auto &[r, members] : groups) {
    if (members.size() < 2)
      continue;
    double bw = 1e300, demand = 0;
    std::string names;
    for (size_t d : members) {
      bw = std::min(bw, ds[d].traits.sharedBytesPerSec);
      demand += traffic[d] / compute[d];
      names += (names.empty() ? "" : ", ") + ds[d].name;
    }
    const double factor = demand / bw;
    std::ostringstream os;
    os << std::fixed << std::setprecision(1) << names << " share " << bw / 1e9
       << " GB/s of bandwidth; their stages need " << demand / 1e9
       << " GB/s together when they run at once";
    if (factor > 1) {
      os << std::setprecision(2) << ": each predicted " << factor
         << " times slower than alone";
      for (Stage &st : p.stages)
        if (st.device != kHost &&
            std::find(members.begin(), members.end(), size_t(st.device)) !=
                members.end()) {
          st.contentionSec = st.computeSec * (factor - 1);
          p.deviceLoad[size_t(st.device)] += st.contentionSec;
        }
    } else {
      os << ": no slowdown predicted";
    }
    notes.push_back(os.str());
  }
  return notes;
}

uint64_t constantBytes(const Node &n) {
  uint64_t b = 0;
  for (const Value &in : n.inputs)
    if (in && in.node->kind == OpKind::Constant)
      b += in.type().sizeInBytes();
  return b;
}

} // namespace

Expected<Placement> place(const Function &f, DeviceSet &devs,
                          const PlacementOptions &o) {
  const std::vector<const Node *> nodes = backend::computeNodes(f);
  const std::vector<DeviceKind> &kinds = devs.kinds();
  std::vector<RuntimeDevice> &devices = devs.devices();
  std::map<const Node *, size_t> pos;
  for (size_t i = 0; i < nodes.size(); ++i)
    pos[nodes[i]] = i;

  // Each node goes to the first kind in the list that runs it.
  std::vector<backend::Support> sup;
  for (const DeviceKind &k : kinds) {
    EMBER_ASSIGN(backend::Support s, backend::querySupport(*k.plugin, f));
    sup.push_back(std::move(s));
  }
  Placement pl;
  std::vector<int> home(nodes.size(), kHost);
  pl.hostReasons.assign(nodes.size(), "");
  for (size_t i = 0; i < nodes.size(); ++i) {
    for (size_t k = 0; k < kinds.size() && home[i] == kHost; ++k)
      if (sup[k].supported[i])
        home[i] = int(k);
    if (home[i] != kHost)
      continue;
    std::string why;
    for (size_t k = 0; k < kinds.size(); ++k)
      why += (why.empty() ? "" : "; ") + kinds[k].target + ": " +
             sup[k].reasons[i];
    pl.hostReasons[i] = why;
    if (!o.allowHost)
      return unsupported("no device of the list runs ", nodes[i]->describe(),
                         " (", why, ")");
  }

  // The runs of one kind in a topological order, and a prediction per node
  // from each run's estimate on the kind's first device.
  EMBER_ASSIGN(std::vector<backend::Partition> runs,
               backend::partitionByLabel(f, home));
  std::map<std::pair<size_t, std::string>, CostEstimate> cache;
  auto estimate = [&](int dev, const Function &g) -> Expected<CostEstimate> {
    if (dev == kHost)
      return hostEstimate(g);
    EMBER_ASSIGN(std::string bytes, backend::serializeGraph(g));
    auto key = std::make_pair(size_t(dev), bytes);
    auto it = cache.find(key);
    if (it != cache.end())
      return it->second;
    RuntimeDevice &d = devices[size_t(dev)];
    EMBER_ASSIGN(CostEstimate c, estimateOn(d, kinds[d.kind], g));
    cache.emplace(key, c);
    return c;
  };
  std::vector<std::vector<Item>> seq(kinds.size());
  for (size_t r = 0; r < runs.size(); ++r) {
    const int k = runs[r].label;
    if (k == kHost)
      continue;
    const Function &g = *runs[r].graph->main();
    EMBER_ASSIGN(CostEstimate c,
                 estimate(int(devs.devicesOf(size_t(k))[0]), g));
    const size_t n = runs[r].nodes.size();
    double sum =
               std::accumulate(c.nodeSeconds.begin(), c.nodeSeconds.end(), 0.0),
           memSum =
               std::accumulate(c.nodeMemory.begin(), c.nodeMemory.end(), 0.0);
    // Spread what the plugin left unattributed: time by its node times (or
    // evenly), memory by the constants each node reads (or evenly).
    double consts = 0;
    for (const Node *nd : runs[r].nodes)
      consts += double(constantBytes(*nd));
    for (size_t j = 0; j < n; ++j) {
      Item it;
      it.node = pos.at(runs[r].nodes[j]);
      it.sec =
          sum > 0 ? c.nodeSeconds[j] * c.seconds / sum : c.seconds / double(n);
      it.mem = memSum > 0
                   ? double(c.nodeMemory[j]) * double(c.memoryBytes) / memSum
               : consts > 0 ? double(constantBytes(*runs[r].nodes[j])) *
                                  double(c.memoryBytes) / consts
                            : double(c.memoryBytes) / double(n);
      it.group = c.nodeGroup[j] >= 0 ? int64_t(r) << 32 | c.nodeGroup[j] : -1;
      seq[size_t(k)].push_back(it);
    }
  }

  // Rounds: cut each kind's sequence into one chunk per device (balanced
  // predicted time within memory), make the stages, estimate each on its
  // device; then scale the node figures of each chunk by what its stages'
  // own estimates said, and cut again. The best plan that fits is kept.
  std::vector<double> memScale(kinds.size(), 1.0);
  // Per kind: the largest chunk of the first cut without memory limits.
  std::vector<double> freePeriod(kinds.size(), 0);
  std::optional<Placement> best;
  std::string unfit; // why the last plan did not fit
  for (unsigned round = 0; round <= o.refineRounds; ++round) {
    std::vector<int> label(nodes.size(), kHost);
    // Per kind, per chunk: the range of the kind's sequence.
    std::vector<std::vector<size_t>> bounds(kinds.size());
    for (size_t k = 0; k < kinds.size(); ++k) {
      const std::vector<Item> &s = seq[k];
      if (s.empty())
        continue;
      std::vector<size_t> ds = devs.devicesOf(k);
      std::vector<double> cost, mem, cap;
      std::vector<bool> cutOk(s.size() + 1, true);
      for (size_t i = 0; i < s.size(); ++i) {
        cost.push_back(s[i].sec);
        mem.push_back(s[i].mem * memScale[k]);
        if (i > 0 && s[i].group >= 0 && s[i].group == s[i - 1].group)
          cutOk[i] = false;
      }
      for (size_t d : ds)
        cap.push_back(double(devices[d].traits.memoryBytes));
      bounds[k] = balancedCuts(cost, mem, cutOk, cap);
      if (round == 0) {
        std::vector<size_t> free =
            balancedCuts(cost, mem, cutOk, std::vector<double>(cap.size(), 0));
        for (size_t c = 0; c + 1 < free.size(); ++c)
          freePeriod[k] =
              std::max(freePeriod[k],
                       std::accumulate(cost.begin() + long(free[c]),
                                       cost.begin() + long(free[c + 1]), 0.0));
      }
      if (bounds[k].empty()) {
        double need = std::accumulate(mem.begin(), mem.end(), 0.0);
        const RuntimeDevice &d0 = devices[ds[0]];
        if (ds.size() == 1)
          return unsupported(
              "the model does not fit ", d0.name, "'s memory: its ",
              kinds[k].target, " nodes need about ", mib(need),
              ", the device has ", mib(double(d0.traits.memoryBytes)),
              "; more devices of the kind split it across them (e.g. "
              "--devices ",
              kinds[k].target, ":2)");
        return unsupported("the model does not fit ", ds.size(), " ",
                           kinds[k].target, " devices: its ", kinds[k].target,
                           " nodes need about ", mib(need), ", no split into ",
                           ds.size(), " parts of at most ",
                           mib(double(d0.traits.memoryBytes)),
                           " each exists (units the device cannot cut are "
                           "kept whole)");
      }
      for (size_t c = 0; c + 1 < bounds[k].size(); ++c)
        for (size_t i = bounds[k][c]; i < bounds[k][c + 1]; ++i)
          label[s[i].node] = int(ds[c]);
    }

    Placement p;
    p.hostReasons = pl.hostReasons;
    p.nodeDevice = label;
    EMBER_ASSIGN(std::vector<backend::Partition> parts,
                 backend::partitionByLabel(f, label));
    std::map<const Node *, size_t> stageOf;
    for (size_t i = 0; i < parts.size(); ++i)
      for (const Node *n : parts[i].nodes)
        stageOf[n] = i;
    p.deviceLoad.assign(devices.size(), 0);
    p.deviceMemory.assign(devices.size(), 0);
    for (size_t i = 0; i < parts.size(); ++i) {
      Stage st;
      st.device = parts[i].label;
      st.part = std::move(parts[i]);
      for (const Value &v : st.part.inputs) {
        auto it = stageOf.find(v.node);
        if (it != stageOf.end() && std::find(st.deps.begin(), st.deps.end(),
                                             it->second) == st.deps.end())
          st.deps.push_back(it->second);
      }
      EMBER_ASSIGN(CostEstimate c, estimate(st.device, *st.part.graph->main()));
      st.computeSec = c.seconds;
      st.trafficBytes = c.trafficBytes;
      st.memoryBytes = st.device == kHost ? 0 : c.memoryBytes;
      st.basis = c.basis;
      if (st.device != kHost) {
        const RuntimeDevice &d = devices[size_t(st.device)];
        // Inputs from another device or the host are copied in, at the
        // device's transfer rate (0: its execution's time includes them).
        double bytes = 0;
        for (const Value &v : st.part.inputs) {
          auto it = stageOf.find(v.node);
          if (it == stageOf.end() || p.stages.size() <= it->second ||
              p.stages[it->second].device != st.device)
            bytes += double(v.type().sizeInBytes());
        }
        if (d.traits.transferBytesPerSec > 0)
          st.transferSec = bytes / d.traits.transferBytesPerSec;
        p.deviceLoad[size_t(st.device)] += st.computeSec + st.transferSec;
        p.deviceMemory[size_t(st.device)] += st.memoryBytes;
      } else {
        p.hostLoad += st.computeSec;
      }
      p.stages.push_back(std::move(st));
    }
    p.notes = applyContention(p, devices);
    p.period = 0;
    for (double l : p.deviceLoad)
      p.period = std::max(p.period, l);

    // Does it fit? A device over its memory scales its kind's node memory
    // up for the next round.
    bool fits = true;
    for (size_t d = 0; d < devices.size(); ++d) {
      uint64_t cap = devices[d].traits.memoryBytes;
      if (cap && p.deviceMemory[d] > cap) {
        fits = false;
        size_t k = devices[d].kind;
        double predicted = 0;
        for (const Item &it : seq[k])
          if (label[it.node] == int(d))
            predicted += it.mem * memScale[k];
        memScale[k] *= std::max(1.05, double(p.deviceMemory[d]) /
                                          std::max(predicted, 1.0) * 1.02);
        unfit = concat(devices[d].name, "'s stages need ",
                       mib(double(p.deviceMemory[d])), ", it has ",
                       mib(double(cap)));
      }
    }
    // Scale each chunk's node times by its stages' own estimate.
    bool changed = false;
    for (size_t k = 0; k < kinds.size(); ++k) {
      if (seq[k].empty())
        continue;
      std::vector<size_t> ds = devs.devicesOf(k);
      for (size_t c = 0; c + 1 < bounds[k].size(); ++c) {
        double predicted = 0, exact = 0;
        for (size_t i = bounds[k][c]; i < bounds[k][c + 1]; ++i)
          predicted += seq[k][i].sec;
        for (const Stage &st : p.stages)
          if (st.device == int(ds[c]))
            exact += st.computeSec;
        if (predicted <= 0 || exact <= 0)
          continue;
        double r = exact / predicted;
        if (std::abs(r - 1) > 0.002)
          changed = true;
        for (size_t i = bounds[k][c]; i < bounds[k][c + 1]; ++i)
          seq[k][i].sec *= r;
      }
    }
    if (fits && (!best || p.period < best->period * (1 - 1e-9)))
      best = std::move(p);
    if (fits && !changed)
      break;
  }
  if (!best)
    return unsupported("no placement fits the devices' memory (", unfit,
                       ", after ", o.refineRounds + 1, " rounds)");

  // Why each stage is where it is.
  Placement &b = *best;
  std::vector<std::string> shared = std::move(b.notes);
  b.notes.clear();
  for (size_t k = 0; k < kinds.size(); ++k) {
    std::vector<size_t> ds = devs.devicesOf(k);
    std::vector<std::string> loads;
    size_t used = 0;
    for (size_t d : ds) {
      loads.push_back(ms(b.deviceLoad[d]));
      used += b.deviceLoad[d] > 0 || b.deviceMemory[d] > 0;
    }
    std::string list;
    for (const std::string &l : loads)
      list += (list.empty() ? "" : ", ") + l;
    // The largest device time alone (what the cut balanced).
    double kindMax = 0;
    for (size_t d : ds) {
      double alone = 0;
      for (const Stage &st : b.stages)
        if (st.device == int(d))
          alone += st.computeSec + st.transferSec;
      kindMax = std::max(kindMax, alone);
    }
    if (seq[k].empty())
      b.notes.push_back(concat(kinds[k].target,
                               ": runs no node of the model (it claims none "
                               "that an earlier kind of the list does not)"));
    else if (ds.size() > 1)
      b.notes.push_back(
          concat(kinds[k].target, ": ", seq[k].size(), " nodes cut into ", used,
                 " pipeline stages by predicted time (", list,
                 " per request), each within its device's memory",
                 kindMax > freePeriod[k] * 1.02 && freePeriod[k] > 0
                     ? concat("; memory decides the cut (without the devices' "
                              "limits the largest stage would take about ",
                              ms(freePeriod[k]), ")")
                     : std::string()));
  }
  b.notes.insert(b.notes.end(), shared.begin(), shared.end());
  for (size_t i = 0; i < b.stages.size(); ++i) {
    Stage &st = b.stages[i];
    if (st.device == kHost) {
      const Node *first = st.part.nodes.front();
      st.why = concat(
          "no device of the list runs ", first->describe(), ": ",
          b.hostReasons[pos.at(first)],
          st.part.nodes.size() > 1
              ? concat(" (and ", st.part.nodes.size() - 1, " more nodes)")
              : std::string());
      continue;
    }
    const RuntimeDevice &d = devices[size_t(st.device)];
    std::vector<size_t> ds = devs.devicesOf(d.kind);
    size_t at =
        size_t(std::find(ds.begin(), ds.end(), size_t(st.device)) - ds.begin());
    std::string mem =
        d.traits.memoryBytes
            ? concat("; its stages hold ",
                     mib(double(b.deviceMemory[size_t(st.device)])),
                     " of the device's ", mib(double(d.traits.memoryBytes)))
            : std::string();
    if (ds.size() == 1)
      st.why = concat("the ", kinds[d.kind].target,
                      " nodes (the list's first kind that runs them)", mem);
    else
      st.why =
          concat("pipeline stage ", at + 1, " of ", ds.size(), " of the ",
                 kinds[d.kind].target,
                 " nodes, cut to balance the devices' predicted times", mem);
  }
  return std::move(*best);
}

void printPlacement(std::ostream &os, const Function &f, const Placement &p,
                    const DeviceSet &d, const std::string &hostName) {
  auto nodes = backend::computeNodes(f);
  std::map<const Node *, size_t> pos;
  for (size_t i = 0; i < nodes.size(); ++i)
    pos[nodes[i]] = i;
  const auto &devices = d.devices();
  auto devName = [&](int dev) {
    return dev == kHost ? concat("host (", hostName, ")")
                        : devices[size_t(dev)].name;
  };
  os << "placement: " << p.stages.size() << " stages on " << devices.size()
     << " devices and the host (" << hostName << "); predicted period "
     << ms(p.period) << " per request";
  if (p.period > 0)
    os << " (" << std::fixed << std::setprecision(1) << 1.0 / p.period
       << " requests/s pipelined)";
  os << "\n";
  for (size_t i = 0; i < devices.size(); ++i) {
    const RuntimeDevice &rd = devices[i];
    const DeviceTraits &t = rd.traits;
    os << "device " << rd.name << ": "
       << (t.description.empty() ? rd.plugin->describe() : t.description)
       << "; memory "
       << (t.memoryBytes ? mib(double(t.memoryBytes)) : std::string("no limit"))
       << ", " << t.concurrency << " at a time";
    if (t.simulated)
      os << ", simulated at " << t.clockHz / 1e6 << " MHz";
    if (!t.described)
      os << " (assumed: the plugin does not describe its devices)";
    os << "; load " << ms(p.deviceLoad[i]) << ", holds "
       << mib(double(p.deviceMemory[i])) << "\n";
  }
  for (const std::string &n : p.notes)
    os << "note: " << n << "\n";
  auto names = [](const std::vector<Value> &vs) {
    std::string s;
    for (auto &v : vs)
      s += (s.empty() ? "%" : ", %") + v.name();
    return s;
  };
  for (size_t i = 0; i < p.stages.size(); ++i) {
    const Stage &st = p.stages[i];
    os << "stage " << i << " device=" << devName(st.device)
       << " nodes=" << st.part.nodes.size()
       << " predicted=" << ms(st.predicted());
    if (st.transferSec > 0 || st.contentionSec > 0)
      os << " (compute " << ms(st.computeSec) << " alone, transfer "
         << ms(st.transferSec) << ", shared bandwidth " << ms(st.contentionSec)
         << ")";
    if (st.memoryBytes)
      os << " memory=" << mib(double(st.memoryBytes));
    os << " deps=[";
    for (size_t j = 0; j < st.deps.size(); ++j)
      os << (j ? "," : "") << st.deps[j];
    os << "] inputs=[" << names(st.part.inputs) << "] outputs=["
       << names(st.part.outputs) << "]\n";
    os << "  why: " << st.why << "\n";
    if (!st.basis.empty())
      os << "  predicted by: " << st.basis << "\n";
    for (const Node *n : st.part.nodes) {
      os << "  #" << pos[n] << " " << opName(n->kind);
      if (!n->name.empty())
        os << " '" << n->name << "'";
      os << " -> %" << n->outNames[0] << "\n";
    }
  }
}

} // namespace ember::runtime
