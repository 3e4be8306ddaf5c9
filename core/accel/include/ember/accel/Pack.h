// Packing a GEMM layer's constants into the static image, the vendor's side
// (docs/npu-sdk.md, "What the vendor writes"): the layer lays the image out
// (Program::tables: where each weight tile, bias row and table goes, and
// which weight tiles are all zero) and a vendor's packing fills the bytes in
// its own arrangement inside each tile. These helpers are the layout's
// rules a packer needs.
#ifndef EMBER_ACCEL_PACK_H
#define EMBER_ACCEL_PACK_H

#include "ember/accel/Layers.h"
#include "ember/accel/Target.h"

#include <cstdint>

namespace ember::accel {

// A depthwise convolution (one input channel per output channel) that the
// target's DwGemm runs: no dilation along the width (a kernel row's taps
// are consecutive rows of the padded line), a width stride its field holds,
// a kernel row of at most the target's taps.
bool dwgemmLayer(const Target &t, const GemmLayer &g);

// Row j of the bias tile that the constant row v = (1, -128, ..., -128)
// multiplies into bias `b` (sum_k v_k w_k = b), in `w[0 .. lanes)`: false
// when `b` is out of reach (|b| beyond about 128 x 128 x (lanes - 1)).
bool biasTileRow(int64_t lanes, int64_t b, int8_t *w);

} // namespace ember::accel

#endif // EMBER_ACCEL_PACK_H
