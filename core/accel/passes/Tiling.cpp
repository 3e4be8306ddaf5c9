// Pass `tiling` (layers -> sched): the constants laid out in the image, the
// activations placed in DRAM, each layer tiled to the target's memories and
// its steps scheduled double buffered (Schedule.h, tileLayers). When
// `residency` follows in the pipeline, the tiling leaves room for the
// tensors it will likely keep on chip; else each layer is tiled alone.
#include "PassesInternal.h"
#include "Schedule.h"

namespace ember::accel {

Status runTiling(const PassContext &ctx, PipelineState &st) {
  st.schedule = std::make_shared<ScheduleState>(ctx.target);
  return tileLayers(ctx.target, st.layers, ctx.options.codegen, *st.schedule);
}

} // namespace ember::accel
