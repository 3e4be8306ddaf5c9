// Packing a GEMM layer's constants into the example NPU's static image
// (NpuTarget.h, packImage): the arrangement the array reads is the SDK's
// reference arrangement (ember/accel/RefSim.h, packReference): a weight
// tile is lanes rows of lanes bytes, row j = output channel j, lane k =
// input channel k (a DWGEMM tile: row j = channel j, lane t = tap, the bias
// as a little-endian int32 in the last four lanes of the first kernel row's
// tile); bias rows and requantization tables are int32 rows of lanes
// channels (a table: multiplier, shift and, for REQUANT's bias bit, bias).
#include "NpuTarget.h"

#include "ember/accel/RefSim.h"

namespace ember::npusim {

void packImage(const Target &t, const LayerProgram &lp, Program &p) {
  packReference(t, lp, p);
}

} // namespace ember::npusim
