// Parse helpers of the recurrent ops (RNN, GRU, LSTM), shared by their type
// rules (ir/typerules/Recurrent.cpp) and reference kernels
// (interp/kernels/Recurrent.cpp).
#pragma once

#include "ir/TypeRules.h"

#include <string>
#include <vector>

namespace ember {

enum class RecurrentCell { Rnn, Gru, Lstm };

// One entry of `activations` with its alpha/beta (0 when it takes none).
struct RecurrentAct {
  std::string name;
  double alpha = 0, beta = 0;
};

// The validated problem: G gates, D directions, layout, sequence S, batch B,
// input I and hidden H sizes, and actsPerDir activations per direction.
struct RecurrentShape {
  int64_t G = 1, D = 1, layout = 0, S = 0, B = 0, I = 0, H = 0;
  std::string direction;
  size_t actsPerDir = 1;
  std::vector<RecurrentAct> acts;
};
Expected<RecurrentShape> recurrentShape(const TypeContext &ctx,
                                        RecurrentCell cell);

} // namespace ember
