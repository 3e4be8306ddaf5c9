// Dependency insertion (docs/npu-sdk.md, "Dependency insertion"; the example
// NPU's docs/npu-backend.md, "Tokens"). Scheduling emits operations without
// synchronization; this pass derives each operation's accesses (Op.h:
// memory rows and DRAM bytes read and written), finds for every operation
// the latest conflicting operation (read after write, write after read,
// write after write) on each other engine, and turns those edges into
// synchronization: one signal on the producer and one wait on the consumer,
// paired in program order on the producer -> consumer channel (a token FIFO
// of the target's depth, or the barrier the target gives that engine pair).
// An edge already implied by an earlier wait on the same channel is dropped.
// The result is checked: executed in program order, no channel underflows or
// exceeds its depth, so the concurrent machine cannot deadlock. A token FIFO
// holds back a producer that finds it full; a counting barrier does not, so
// with barriers the program also orders every barrier's k-th signal after
// its (k - depth)-th wait (waits added where the engines would otherwise
// run ahead), and no concurrent execution passes a counter's depth.
#ifndef EMBER_ACCEL_SYNC_H
#define EMBER_ACCEL_SYNC_H

#include "ember/accel/Op.h"
#include "support/Error.h"

#include <string>
#include <vector>

namespace ember::accel {

struct SyncStats {
  size_t edges = 0;    // signal/wait pairs inserted
  size_t maxDepth = 0; // most outstanding on one channel
};

// The bit of the producer -> consumer channel in Op::wait / Op::signal:
// tokens, src * engines + dst; barriers, the pair's barrier (the pairs in
// order, src major); -1 when src == dst or the target has too few.
int syncBit(const Target &t, int src, int dst);
// The name of a bit ("load->GEMM").
std::string syncBitName(const Target &t, int bit);

// Sets wait/signal on every op of `prog` (ending in Finish). Ok or the
// reason the program cannot be made valid.
Status assignSync(const Target &t, std::vector<Op> &prog, SyncStats *stats);

// Whether `op` reads or writes rows [lo, hi) of memory `domain`, or bytes
// [lo, hi) of DRAM when `domain` is t.memories.size() (a Pool, whose span
// depends on registers, counts as touching all of its memory and no DRAM).
bool touchesRows(const Target &t, const Op &op, int domain, uint64_t lo,
                 uint64_t hi);

// The [lo, hi) ranges `op` reads or writes in `domain`, appended to `out`;
// `regs` the registers in effect (a Pool's window).
void accessedRanges(const Target &t, const Op &op, const int32_t *regs,
                    int domain,
                    std::vector<std::pair<uint64_t, uint64_t>> &out);

// Validity: ok or "operation i: ..." (underflow or overflow in program
// order; with barriers, a signal that some concurrent execution could give
// past the counter's depth).
Status checkSync(const Target &t, const std::vector<Op> &prog);

} // namespace ember::accel

#endif // EMBER_ACCEL_SYNC_H
