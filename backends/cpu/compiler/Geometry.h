// Window geometry of Conv, ConvTranspose and pooling nodes (Geometry.cpp).
#pragma once

#include "Program.h"
#include "ir/typerules/Recurrent.h"

#include <string>
#include <vector>

namespace ember::cpugen {

// Geometry of a 1-D/2-D sliding window (Conv, pooling) over an NCHW
// tensor, from the node's attributes (ONNX rules, as the reference
// interpreter computes them). 1-D windows have H = 1.
struct Window {
  int64_t n = 1, c = 1, h = 1, w = 1;
  int64_t kh = 1, kw = 1, sh = 1, sw = 1, dh = 1, dw = 1;
  int64_t pt = 0, pl = 0, pb = 0, pr = 0;
  int64_t oh = 1, ow = 1;
  bool ceil = false;
};
// `x` is the input type, `kernel` the spatial kernel dims; fails with a
// reason on attributes it does not handle.
bool windowOf(const Node &n, const Type &x, const std::vector<int64_t> &kernel,
              bool ceilMode, Window &w, std::string &reason);

// ConvTranspose geometry (the reference kernel's rules for pads,
// output_padding, output_shape and auto_pad: the type rule's
// convTransposeProblem): the leading pads and the output extent per
// spatial dim.
bool convTransposeGeometry(const Node &n, std::vector<int64_t> &padBegin,
                           std::vector<int64_t> &out, std::string &reason);

// An RNN/GRU/LSTM node's problem (sizes, direction, activations), as its
// type rule reads it.
bool recurrentGeometry(const Node &n, RecurrentCell &cell, RecurrentShape &p,
                       std::string &reason);

} // namespace ember::cpugen
