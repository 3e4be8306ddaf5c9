// The runtime's cost question for a compiled program (Select.h,
// costEstimate; ABI 1.4 estimate_cost): the cost model's cycles of each
// layer, charged to the graph nodes that layer computes.
#include "ember/accel/Select.h"
#include "ember/backend/v1/graph.pb.h"
#include "ember/backend/v1/runtime.pb.h"

#include <algorithm>
#include <map>

namespace ember::accel {

void costEstimate(const ember::backend::v1::Graph &g, const Program &p,
                  double clockHz, ember::backend::v1::CostEstimate &out) {
  std::multimap<std::string, int> byName;
  for (int i = 0; i < g.nodes_size(); ++i)
    byName.emplace(g.nodes(i).name(), i);
  std::vector<double> sec(size_t(g.nodes_size()), 0);
  std::vector<int32_t> group(size_t(g.nodes_size()), -1);
  double cycles = 0, traffic = 0;
  for (size_t l = 0; l < p.layers.size(); ++l) {
    const LayerInfo &L = p.layers[l];
    cycles += L.predictedCycles;
    traffic += double(L.loadBytes + L.storeBytes);
    std::vector<int> idx;
    for (const std::string &n : L.nodes)
      for (auto [it, e] = byName.equal_range(n); it != e; ++it)
        if (std::find(idx.begin(), idx.end(), it->second) == idx.end())
          idx.push_back(it->second);
    // The layer's time goes to the nodes doing the array's work (its
    // convolutions and MatMuls), else evenly to its nodes: a fused pool,
    // add or table costs no time of its own, and a node two layers share
    // (a Concat both write into) takes no share of either.
    std::vector<int> array;
    for (int i : idx)
      if (g.nodes(i).op() == "ConvInteger" ||
          g.nodes(i).op() == "MatMulInteger")
        array.push_back(i);
    const std::vector<int> &charged = array.empty() ? idx : array;
    for (int i : charged)
      sec[size_t(i)] += L.predictedCycles / clockHz / double(charged.size());
    for (int i : idx)
      if (group[size_t(i)] < 0)
        group[size_t(i)] = int32_t(l);
  }
  out.set_schema_version(1);
  out.set_seconds(cycles / clockHz);
  out.set_memory_bytes(p.dramBytes);
  out.set_memory_traffic_bytes(traffic); // every DMA byte crosses the channel
  for (size_t i = 0; i < sec.size(); ++i)
    if (group[i] >= 0) {
      ember::backend::v1::NodeCost *n = out.add_nodes();
      n->set_node(int32_t(i));
      n->set_seconds(sec[i]);
      n->set_group(group[i]);
    }
}

} // namespace ember::accel
