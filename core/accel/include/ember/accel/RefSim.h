// The reference simulator of the NPU compiler layer (docs/npu-sdk.md, "The
// reference simulator"): runs a scheduled program (Program.h: the operations
// generateProgram produces, with their engines, waits and signals) for any
// target description, on the description's memories and a DRAM, bit-exactly
// (the integer arithmetic of ember/quant/Arith.h; the normalization's and
// softmax's tables and shifts of ember/quant/Transformer.h), timed with the
// description's parameters, and checks it.
//
// Execution: every engine runs its operations in program order from its own
// queue; an operation starts when its engine is free and every channel it
// waits on holds a signal (a token, or a barrier's count), at the latest of
// those signals' cycles. Each operation executes whole when it starts (its
// reads, then its writes), in the order the timing starts them.
//
// Timing (the cost model's formulas, Emit.h): a DMA transfer takes the DMA's
// issue overhead, the DRAM latency and turnaround, then its bytes at the
// DRAM bandwidth on the one DRAM port every DMA engine shares (at least its
// rows at the DMA's rows a cycle); an array op max(streamed rows x (lanes /
// array rows) x (lanes / array columns), preload rows) plus its issue
// overhead; a vector op its rows at the vector unit's rows a cycle plus its
// issue overhead (a pool, each output row's window); SetReg one cycle. A
// memory's ports and banks are not modelled (no port conflicts).
//
// Checks (each an error naming the operation, its engine and its cycle):
// - ordering: two operations on different engines touching the same memory
//   rows or DRAM bytes, one of them writing, with no chain of signals and
//   waits ordering them (a read before its producer's signal, a write over
//   rows another engine may still read, two unordered writes); found by
//   vector clocks over the synchronization, so it holds for every timing,
//   not only the one simulated;
// - depths: a barrier signalled past its counter's depth (a token FIFO holds
//   its producer back instead), a wait no remaining operation can satisfy
//   (deadlock);
// - ranges: a field beyond the bits the description declares for it, an
//   access outside its memory or the DRAM, an operation the target or the
//   engine does not run, a register the target does not have.
#ifndef EMBER_ACCEL_REFSIM_H
#define EMBER_ACCEL_REFSIM_H

#include "ember/accel/Layers.h"
#include "ember/accel/Program.h"
#include "ember/accel/Target.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember::accel {

struct SimOptions {
  // The DRAM timing (0 and -1: the description's).
  uint32_t bytesPerCycle = 0;
  int64_t latency = -1;
  // The ordering check (vector clocks and the access shadows); off, only
  // ranges and depths are checked.
  bool checkOrder = true;
};

struct SimStats {
  uint64_t cycles = 0; // the last operation's end
  uint64_t ops = 0;
  uint64_t loadBytes = 0, storeBytes = 0; // DRAM bytes moved
  uint64_t arrayRows = 0;                 // rows streamed through the array
  uint64_t dramStall = 0; // cycles transfers waited for the DRAM port
  std::vector<uint64_t> busy, stall; // per engine
  // Per operation: its start and end cycle.
  std::vector<std::pair<uint64_t, uint64_t>> spans;
};

// The machine: the description's memories, registers, output tables and a
// DRAM of `dramBytes`.
class RefMachine {
public:
  RefMachine(const Target &t, uint64_t dramBytes);
  ~RefMachine();
  RefMachine(const RefMachine &) = delete;
  RefMachine &operator=(const RefMachine &) = delete;
  std::vector<uint8_t> &dram();
  std::vector<uint8_t> &memory(int m);
  // DRAM [0, bytes) holds constants no operation writes: its reads are
  // left out of the ordering check (a write there is still checked).
  void setConstants(uint64_t bytes);
  // Runs `ops` (ending in Finish) from idle engines and empty channels (the
  // memories and DRAM as they are). Returns the first error, if any:
  // "operation I (KIND on ENGINE, cycle C): what".
  Status run(const std::vector<Op> &ops, const SimOptions &o, SimStats *stats);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Fills the static image of `p` (scheduled from `lp`) in the reference
// arrangement the simulator reads: a weight tile is lanes rows of lanes
// bytes, row j = output channel j, lane k = input channel k (a DwGemm tile:
// row j = channel j, lane t = tap, the bias as a little-endian int32 in the
// row's last four lanes of the first kernel row's tile); bias rows and
// requantization tables are int32 rows of lanes channels (multiplier,
// shift and, for Requant's bias, bias; a 16x8 layer's int64 bias has its
// high words in the table at rqParamHiOff). With writeConstants.
void packReference(const Target &t, const LayerProgram &lp, Program &p);

// Runs program `p` (packed by packReference) on a fresh machine: its image
// and inputs (host layout, NTensor's dtype) into DRAM, the program, the
// outputs back to the host layout; the error when it fails. With no inputs
// and no outputs at all, a timing run (inputs zero).
Status simulateProgram(const Target &t, const Program &p,
                       const std::vector<const void *> &inputs,
                       const std::vector<void *> &outputs, const SimOptions &o,
                       SimStats *stats);

} // namespace ember::accel

#endif // EMBER_ACCEL_REFSIM_H
