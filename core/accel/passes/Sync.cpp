// Pass `sync` (sched -> sched): dependency insertion (Sync.h, assignSync):
// every operation's waits and signals made again from what the operations
// read and write. On a program read as text, too.
#include "PassesInternal.h"

#include "ember/accel/Sync.h"

namespace ember::accel {

std::string runSync(const PassContext &ctx, PipelineState &st) {
  const bool scheduled = st.schedule != nullptr;
  std::string err = emitScheduled(ctx, st);
  if (!err.empty())
    return err;
  std::vector<Op> &ops = st.program.ops;
  if (ops.empty() || ops.back().kind != OpKind::Finish)
    return "the program does not end with finish";
  err = assignSync(ctx.target, ops, nullptr);
  if (!err.empty() && scheduled)
    return "internal: dependency insertion: " + err;
  return err;
}

} // namespace ember::accel
