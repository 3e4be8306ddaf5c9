// Pass `patches` (layers -> layers): a channel-poor convolution that reads a
// partition input reads it as its patches, which the host lays out (Select.h,
// packPatches), with the layer option patches=on (the default).
#include "PassesInternal.h"

#include "ember/accel/Select.h"

namespace ember::accel {

Status runPatches(const PassContext &ctx, PipelineState &st) {
  if (!ctx.options.select.patches)
    return Status::ok();
  packPatches(ctx.target, st.layers);
  return patchedLimits(ctx.target, st.layers);
}

} // namespace ember::accel
