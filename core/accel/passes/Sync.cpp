// Pass `sync` (sched -> sched): dependency insertion (Sync.h, assignSync):
// every operation's waits and signals made again from what the operations
// read and write. On a program read as text, too.
#include "PassesInternal.h"

#include "ember/accel/Sync.h"

namespace ember::accel {

Status runSync(const PassContext &ctx, PipelineState &st) {
  const bool scheduled = st.schedule != nullptr;
  EMBER_TRY(emitScheduled(ctx, st));
  std::vector<Op> &ops = st.program.ops;
  if (ops.empty() || ops.back().kind != OpKind::Finish)
    return invalid("the program does not end with finish");
  const Status err = assignSync(ctx.target, ops, nullptr);
  if (err.failed() && scheduled)
    return makeError(ErrorCode::Internal,
                     "internal: dependency insertion: ", err.message());
  return err;
}

} // namespace ember::accel
