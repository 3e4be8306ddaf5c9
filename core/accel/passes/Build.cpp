// Pass `build` (graph -> layers): the layer program of a partition, its
// nodes built into layers by the target's forms (Select.h,
// buildLayersUnpacked: buildLayers without the patches pass it ends with,
// which is the pass `patches`).
#include "PassesInternal.h"

#include "ember/accel/Select.h"

namespace ember::accel {

Status runBuild(const PassContext &ctx, PipelineState &st) {
  st.haveLayers = true;
  return buildLayersUnpacked(ctx.target, *st.graph, st.layers,
                             ctx.options.select);
}

} // namespace ember::accel
