// Narrow number formats ONNX defines beyond the usual ones: 8-bit floats
// (E4M3FN, E4M3FNUZ, E5M2, E5M2FNUZ, E8M0), 4-bit float E2M1 and 4/2-bit
// integers. Ember stores each element in one byte (unpacked); TensorProto
// I/O packs and unpacks. Conversions follow ONNX's reference (ml_dtypes):
// round to nearest even, saturation as the Cast `saturate` flag says.
#pragma once

#include <cstdint>

namespace ember {

enum class MiniFormat : uint8_t {
  F8E4M3FN,
  F8E4M3FNUZ,
  F8E5M2,
  F8E5M2FNUZ,
  F4E2M1,
  F8E8M0,
  U4,
  I4,
  U2,
  I2,
};

// Decodes one element to float (integers exactly).
float miniToFloat(uint8_t bits, MiniFormat f);
// Encodes a float. `saturate` clamps out-of-range values (and infinities)
// to the largest finite value; otherwise they become NaN or infinity as the
// format allows. `roundMode` is for E8M0: 0 up, 1 nearest, 2 down.
uint8_t floatToMini(float x, MiniFormat f, bool saturate, int roundMode = 0);
// Integer source: exact wrap-around for the integer formats.
uint8_t intToMini(int64_t v, MiniFormat f);
bool miniIsInteger(MiniFormat f);
unsigned miniBits(MiniFormat f); // storage width in ONNX packing: 8, 4 or 2

} // namespace ember
