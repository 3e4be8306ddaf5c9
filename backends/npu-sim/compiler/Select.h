// From the partition graph the host sends (ember.backend.v1.Graph, lowered
// int8 primitives) to the layer IR: which nodes the NPU runs, with the
// violated constraint for every node it does not (query_support), and the
// layers of a partition (compile). One function decides both, so the
// backend never claims a node that compile then refuses.
#pragma once

#include "Layers.h"

#include <string>
#include <vector>

namespace ember::backend::v1 {
class Graph;
}

namespace ember::npusim {

// Per node of `g` (Graph.nodes order): "" when the NPU runs it, else why
// not, naming the op, the value and the constraint.
std::vector<std::string> whyNot(const ember::backend::v1::Graph &g);

// The layers of a partition: every node must be claimed (UNSUPPORTED
// naming the node otherwise). Returns "" or the error.
std::string buildLayers(const ember::backend::v1::Graph &g, LayerProgram &out);

// The ops the manifest lists (ember.backend.v1.OpCapability): name, dtypes,
// constraint text, the lowest rank, and the context the op runs in when the
// NPU runs it only inside a fused pattern or placement (for the dtypes of
// contextDtypes; empty: all), and dtypes claimed only on index operands.
struct OpClaim {
  const char *op;
  std::vector<const char *> dtypes;
  const char *constraints;
  unsigned minRank = 0;
  const char *context = "";
  std::vector<const char *> contextDtypes = {};
  std::vector<const char *> indexDtypes = {};
};
const std::vector<OpClaim> &claimedOps();

} // namespace ember::npusim
