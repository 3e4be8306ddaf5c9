// Island avoidance (Select.h, SelectOptions; docs/npu-backend.md, "Islands"):
// a device partition that is one connected group of claimed nodes, reads
// only values the host computes and hands a result back to the host, and
// does too little work to pay for the two round trips it adds, is left on
// the host: by default only one doing no MAC (a MAC on the host costs more
// than a partition), any with islands=host. The partitions are those the host's
// partitioner forms from the claims (core/backend/Partitioner.cpp,
// partitionByLabel), simulated here.
#include "SelectInternal.h"

#include <algorithm>
#include <numeric>
#include <set>

namespace ember::accel::sel {

namespace {

uint64_t valueBytes(const View &v, int x) {
  const std::vector<int64_t> d = v.dims(x);
  // Sub-byte kinds count a byte an element (an upper bound).
  return uint64_t(prod(d, 0, d.size())) *
         std::max<size_t>(1, dtypeBytes(v.dtype(x)));
}

// Multiply-accumulates of a node: convolutions (output elements times the
// weights of one output, [K, C/groups, kh, kw]) and matrix products
// (output elements times the reduced dim); 0 for every other op.
uint64_t nodeMacs(const View &v, const v1::Node &n) {
  const std::string &op = n.op();
  const int y = v.out(n);
  if (y < 0)
    return 0;
  const std::vector<int64_t> od = v.dims(y);
  const int64_t outs = prod(od, 0, od.size());
  if (op == "ConvInteger" || op == "Conv") {
    const int w = v.in(n, 1);
    if (w < 0 || v.dims(w).size() < 2)
      return 0;
    const std::vector<int64_t> wd = v.dims(w);
    return uint64_t(outs * prod(wd, 1, wd.size()));
  }
  if (op == "MatMulInteger" || op == "MatMul" || op == "Gemm") {
    const int a = v.in(n, 0);
    if (a < 0 || v.dims(a).empty())
      return 0;
    const std::vector<int64_t> ad = v.dims(a);
    const bool transA = op == "Gemm" && aInt(n, "transA", 0) && ad.size() == 2;
    return uint64_t(outs * (transA ? ad[0] : ad.back()));
  }
  return 0;
}

// The partition of each node as the host's partitioner forms them: Kahn's
// algorithm over the nodes, among ready nodes the current side's first,
// else the first in list order; a new partition where the side changes.
std::vector<int> partitionsOf(const View &v, const std::vector<char> &dev) {
  const int nn = v.g.nodes_size();
  std::vector<size_t> indeg(size_t(nn), 0);
  std::vector<std::vector<int>> users(static_cast<size_t>(nn));
  for (int i = 0; i < nn; ++i) {
    std::set<int> preds;
    for (int x : v.g.nodes(i).inputs())
      if (x >= 0 && v.producer[size_t(x)] >= 0)
        preds.insert(v.producer[size_t(x)]);
    indeg[size_t(i)] = preds.size();
    for (int p : preds)
      users[size_t(p)].push_back(i);
  }
  std::set<int> ready;
  for (int i = 0; i < nn; ++i)
    if (!indeg[size_t(i)])
      ready.insert(i);
  std::vector<int> part(size_t(nn), -1);
  int parts = 0, side = -1;
  while (!ready.empty()) {
    int pick = *ready.begin();
    for (int r : ready)
      if (dev[size_t(r)] == side) {
        pick = r;
        break;
      }
    if (dev[size_t(pick)] != side) {
      side = dev[size_t(pick)];
      ++parts;
    }
    part[size_t(pick)] = parts - 1;
    ready.erase(pick);
    for (int u : users[size_t(pick)])
      if (--indeg[size_t(u)] == 0)
        ready.insert(u);
  }
  return part;
}

// The graph's edges: a graph input and its conversions (QuantizeLinear,
// DequantizeLinear, Cast of it: the host's format changes, not work), and
// a node that only converts a value into the graph's outputs.
bool conversion(const v1::Node &n) {
  return n.op() == "QuantizeLinear" || n.op() == "DequantizeLinear" ||
         n.op() == "Cast";
}

bool fromGraphInput(const View &v, int x) {
  for (int depth = 0; x >= 0 && depth < 4; ++depth) {
    const int p = v.producer[size_t(x)];
    if (p < 0)
      return !v.constant[size_t(x)];
    if (!conversion(v.g.nodes(p)))
      return false;
    x = v.in(v.g.nodes(p), 0);
  }
  return false;
}

bool intoGraphOutput(const View &v, int u, int depth = 0) {
  const v1::Node &n = v.g.nodes(u);
  if (!conversion(n) || depth >= 4)
    return false;
  for (int y : n.outputs())
    if (y >= 0) {
      if (!v.outUses[size_t(y)] && v.users[size_t(y)].empty())
        return false;
      for (int w : v.users[size_t(y)])
        if (!intoGraphOutput(v, w, depth + 1))
          return false;
    }
  return true;
}

int findRoot(std::vector<int> &up, int i) {
  while (up[size_t(i)] != i)
    i = up[size_t(i)] = up[size_t(up[size_t(i)])];
  return i;
}

// One round: the islands of the current claims go to the host. Whether
// any did.
bool moveIslands(const View &v, std::vector<std::string> &why, bool withMacs) {
  const int nn = v.g.nodes_size();
  std::vector<char> dev(static_cast<size_t>(nn));
  for (int i = 0; i < nn; ++i)
    dev[size_t(i)] = why[size_t(i)].empty();
  const std::vector<int> part = partitionsOf(v, dev);
  const int np = nn ? *std::max_element(part.begin(), part.end()) + 1 : 0;
  std::vector<std::vector<int>> members(static_cast<size_t>(np));
  for (int i = 0; i < nn; ++i)
    if (part[size_t(i)] >= 0)
      members[size_t(part[size_t(i)])].push_back(i);
  // Claimed nodes joined by the values between them.
  std::vector<int> up(static_cast<size_t>(nn));
  std::iota(up.begin(), up.end(), 0);
  for (int i = 0; i < nn; ++i)
    for (int x : v.g.nodes(i).inputs())
      if (x >= 0 && v.producer[size_t(x)] >= 0 && dev[size_t(i)] &&
          dev[size_t(v.producer[size_t(x)])])
        up[size_t(findRoot(up, i))] = findRoot(up, v.producer[size_t(x)]);
  const uint64_t macsPerCycle =
      uint64_t(std::max<int64_t>(1, v.t.array.rows * v.t.array.cols));
  const uint64_t bytesPerCycle = std::max<uint32_t>(1, v.t.dram.bytesPerCycle);
  bool moved = false;
  for (int p = 0; p < np; ++p) {
    const std::vector<int> &m = members[size_t(p)];
    if (m.empty() || !dev[size_t(m[0])])
      continue;
    // One connected group, all of it (no claimed node elsewhere joins it).
    const int root = findRoot(up, m[0]);
    bool alone = true;
    for (int i : m)
      alone = alone && findRoot(up, i) == root;
    size_t group = 0;
    for (int i = 0; i < nn; ++i)
      group += dev[size_t(i)] && findRoot(up, i) == root;
    if (!alone || group != m.size())
      continue;
    // Between host nodes: no input from the graph's inputs (through
    // conversions only), and a result the host computes with (not only
    // converts into a graph output).
    std::set<int> ins, outs;
    bool graphInput = false, hostReads = false;
    uint64_t macs = 0;
    for (int i : m) {
      const v1::Node &n = v.g.nodes(i);
      macs += nodeMacs(v, n);
      for (int x : n.inputs()) {
        if (x < 0 || v.constant[size_t(x)])
          continue;
        if (fromGraphInput(v, x))
          graphInput = true;
        if (v.producer[size_t(x)] < 0 ||
            part[size_t(v.producer[size_t(x)])] != p)
          ins.insert(x);
      }
      for (int y : n.outputs()) {
        if (y < 0)
          continue;
        bool out = v.outUses[size_t(y)] > 0;
        for (int u : v.users[size_t(y)])
          if (part[size_t(u)] != p) {
            out = true;
            hostReads = hostReads || !intoGraphOutput(v, u);
          }
        if (out)
          outs.insert(y);
      }
    }
    if (graphInput || !hostReads)
      continue;
    uint64_t bytes = 0;
    for (int x : ins)
      bytes += valueBytes(v, x);
    for (int y : outs)
      bytes += valueBytes(v, y);
    // Too little work: fewer MACs per boundary byte than the array does
    // per byte DRAM moves (its time is the transfers, not the array), and
    // fewer than kIslandMacs in all.
    if (macs >= kIslandMacs || macs * bytesPerCycle >= macsPerCycle * bytes ||
        (macs > 0 && !withMacs))
      continue;
    const std::string reason =
        "a device partition of its own between host nodes, too little work "
        "for the round trip: " +
        std::to_string(macs) + " MACs over " + std::to_string(bytes) +
        " bytes in and out, below the array's " +
        std::to_string(macsPerCycle / bytesPerCycle) +
        " MACs per DRAM byte (backend option " +
        (macs > 0 ? "islands=free, the default, or islands=keep runs it)"
                  : "islands=keep runs it)");
    for (int i : m)
      why[size_t(i)] = reason;
    moved = true;
  }
  return moved;
}

} // namespace

void leaveIslandsOnHost(const View &v, std::vector<std::string> &why,
                        bool withMacs) {
  // Each round moves at least one node to the host.
  while (moveIslands(v, why, withMacs)) {
  }
}

} // namespace ember::accel::sel
