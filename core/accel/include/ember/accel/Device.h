// What a vendor's driver glue needs from the NPU compiler layer
// (docs/npu-sdk.md, "What the vendor writes"): moving a partition's tensors
// between the host layout (dense, row-major, in the graph's dtype) and the
// layer's channel-tiled DRAM layout, and cutting one layer out of a
// scheduled program so that it runs alone from an idle machine (what the
// cost model predicts; a layer report's `alone`).
#ifndef EMBER_ACCEL_DEVICE_H
#define EMBER_ACCEL_DEVICE_H

#include "ember/accel/Layers.h"
#include "ember/accel/Program.h"
#include "ember/accel/Target.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::accel {

// `host` (t.C channels on t.axis, every other axis a pixel) into
// `tiled` (t.bytes() bytes, [channel tile][pixel][lanes], the channels past C
// zero); a uint8 tensor is stored as int8 (q - 128). An input laid out as
// patches (NTensor::Patches) takes the graph's tensor (`srcDims`) as `host`.
void toTiled(const NTensor &t, const void *host, uint8_t *tiled);
// The inverse (the channels past C are dropped; not for patches).
void fromTiled(const NTensor &t, const uint8_t *tiled, void *host);

// The bytes of `t` in the host layout: the graph's tensor (for patches,
// `srcDims`'s), what toTiled reads and fromTiled writes.
uint64_t hostBytes(const NTensor &t);

// The patches of `t` (t.patches.kh > 0) in the host layout, [N, kh kw C0,
// OH, OW] in the graph's dtype, from the graph's tensor `host` ([N, C0, H0,
// W0], t.patches.srcDims): what toTiled tiles for such an input.
void patchesFromHost(const NTensor &t, const void *host,
                     std::vector<uint8_t> &out);

// Layer `i` of `p` as a program of its own: the weight loads it prefetched
// during the layer before first, then its own operations (without the next
// layer's prefetch or the operations of a layer it is interleaved with),
// then Finish, with fresh synchronization; `out.opLayer` all 0 and its DRAM
// the whole program's. Returns why not when it fails (a layer without
// operations is an empty program, not an error).
Status layerAlone(const Target &t, const Program &p, size_t i, Program &out);

} // namespace ember::accel

#endif // EMBER_ACCEL_DEVICE_H
