// The NPU's claims for the capability manifest: one row per (op, dtypes),
// with the constraint in words and, for ops that run only inside a fused
// pattern, that pattern (OpCapability.context). Select.cpp decides per node.
#include "Select.h"

namespace ember::npusim {

namespace {
const char *const kMoveRule =
    "of a tensor the NPU computes, keeping dim 1 and the pixel order (or a "
    "flatten into the MatMul that follows)";
} // namespace

const std::vector<OpClaim> &claimedOps() {
  // The fused patterns: ops the NPU runs only inside them (OpCapability
  // context), so query_support refuses them as single nodes.
  static const char *const kBias =
      "fused: the int32 bias Add of a ConvInteger/MatMulInteger the NPU runs";
  static const char *const kAccumulator =
      "fused: an int32 accumulator the NPU computes (ConvInteger/"
      "MatMulInteger [+ bias Add], or a per-channel sum), requantized in the "
      "same layer";
  static const char *const kSum =
      "fused: a per-channel sum, Cast(i8/u8 -> i32) -> [Sub of a scalar zero "
      "point] -> ReduceSum over H, W (keepdims) -> Requantize";
  static const char *const kMove =
      "placement: of a tensor the NPU computes in the same partition (a "
      "free reshape; a lone one is not worth a partition)";
  static const char *const kPlaced =
      "placement: every input but the last a whole number of channel tiles "
      "(a multiple of DIM channels), so producers store into the output";
  static const std::vector<OpClaim> ops = {
      {"ConvInteger",
       {"i8", "u8", "i32"},
       "2-D, kernel up to 16x16 (taps x DIM <= half of WGT), stride 1..4, "
       "dilation 1..4, pads <= 3, groups "
       "(depthwise included), constant int8 weights (a weight zero point "
       "folds when w - zp fits int8), scalar input zero point"},
      {"MatMulInteger",
       {"i8", "u8", "i32"},
       "rank-2 A, constant rank-2 B, scalar A zero point"},
      {"Add",
       {"i32"},
       "int32 bias on a ConvInteger/MatMulInteger result",
       0,
       kBias},
      {"Requantize",
       {"i8", "u8", "i32"},
       "rank 2 or 4; of an NPU accumulator, or of an i8/u8 tensor; "
       "per-channel tables on axis 1",
       0, // (its multiplier, shift and zero points may be scalars)
       kAccumulator,
       {"i32"}},
      {"QuantizedAdd",
       {"i8", "u8"},
       "rank 2 or 4; same shapes, or one operand repeated per channel or "
       "scalar (a constant, or a [1,C,...] tensor)"},
      {"MaxPool",
       {"i8", "u8"},
       "2-D, window <= 16x16, equal strides <= 16, pads <= 3"},
      {"AveragePool",
       {"i8", "u8"},
       "2-D, window <= 16x16, equal strides, pads <= 3 (with "
       "count_include_pad 0: each below its kernel size)"},
      {"GlobalAveragePool", {"i8", "u8"}, "H, W <= 16"},
      {"Concat",
       {"i8", "u8"},
       "axis 1, inputs at whole channel tiles (DIM multiples but the last)",
       2,
       kPlaced},
      {"Reshape", {"i8", "u8"}, kMoveRule, 0, kMove, {}, {"i64"}},
      {"Flatten", {"i8", "u8"}, kMoveRule, 0, kMove},
      {"Squeeze", {"i8", "u8"}, kMoveRule, 0, kMove, {}, {"i64"}},
      {"Unsqueeze", {"i8", "u8"}, kMoveRule, 0, kMove, {}, {"i64"}},
      {"Identity", {"i8", "u8"}, kMoveRule, 0, kMove},
      {"Cast",
       {"i8", "u8", "i32"},
       "i8/u8 to i32 starting a per-channel sum: Cast -> [Sub] -> ReduceSum "
       "over H, W -> Requantize",
       0,
       kSum},
      {"Sub", {"i32"}, "the zero point of a per-channel sum", 0, kSum},
      {"ReduceSum",
       {"i32"},
       "over H, W (keepdims) in a per-channel sum",
       0,
       kSum,
       {},
       {"i64"}},
  };
  return ops;
}

} // namespace ember::npusim
