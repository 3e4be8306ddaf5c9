// Pass `select` (graph -> graph): the claims. Every node of the partition
// must be one the target's forms run (Select.h, whyNot: the answer
// query_support gives), else the error names the first that is not and why.
// The graph is left as it is.
#include "PassesInternal.h"

#include "ember/accel/Select.h"
#include "ember/backend/v1/graph.pb.h"

namespace ember::accel {

Status runSelect(const PassContext &ctx, PipelineState &st) {
  const backend::v1::Graph &g = *st.graph;
  std::vector<std::string> why = whyNot(ctx.target, g, ctx.options.select);
  for (size_t i = 0; i < why.size(); ++i)
    if (!why[i].empty())
      return unsupported("node ", i, " ", g.nodes(int(i)).op(), " '",
                         g.nodes(int(i)).name(),
                         "' does not run on the target: ", why[i]);
  return Status::ok();
}

} // namespace ember::accel
