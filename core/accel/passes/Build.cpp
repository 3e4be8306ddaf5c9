// Pass `build` (graph -> layers): the layer program of a partition, its
// nodes built into layers by the target's forms (Select.h, buildLayers,
// without the patches pass it ends with: that is the pass `patches`).
#include "PassesInternal.h"

#include "ember/accel/Select.h"

namespace ember::accel {

std::string runBuild(const PassContext &ctx, PipelineState &st) {
  SelectOptions so = ctx.options.select;
  so.patches = false;
  st.haveLayers = true;
  return buildLayers(ctx.target, *st.graph, st.layers, so);
}

} // namespace ember::accel
