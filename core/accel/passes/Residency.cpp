// Pass `residency` (sched -> sched): layer cascading, stripes and weight
// prefetch over the layers `tiling` scheduled (Schedule.h, keepOnChip; the
// prefetch is the stream's, when the program is emitted). It reads the
// scheduler's state, which the program's text does not hold: it runs after
// `tiling` in the same pipeline, never on a parsed program.
#include "PassesInternal.h"
#include "Schedule.h"

namespace ember::accel {

Status runResidency(const PassContext &ctx, PipelineState &st) {
  if (!st.schedule)
    return invalid("pass 'residency' runs on the layers 'tiling' scheduled in "
                   "the same pipeline, not on a program read as text");
  return keepOnChip(ctx.target, st.layers, ctx.options.codegen, *st.schedule);
}

} // namespace ember::accel
