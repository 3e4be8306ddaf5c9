// Sinks every alloc to just before its activation's first use and hoists
// every dealloc to just after its last use, so the planner sees the
// shortest lifetimes. A dma.wait counts as a use of its transfer's
// operands (they are busy until then). Activations nothing uses lose their
// alloc/dealloc pair. Allocs before one instruction, and deallocs after it,
// come in buffer declaration order.
#include "lir/LirPass.h"

namespace ember::lir {

Status runShrinkLifetimes(Function &f, LirPassStats &s) {
  s.changed += rebuildLifetimes(f);
  return Status::ok();
}

} // namespace ember::lir
