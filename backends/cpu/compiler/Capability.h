// What the CPU code generator runs: the capability manifest and the
// per-node answer (with a reason for every refusal) that query_support
// gives and executable_compile enforces. Everything refused runs on the
// partitioner's fallback.
#pragma once

#include "Program.h"

#include <string>
#include <vector>

namespace ember::backend::v1 {
class CapabilityManifest;
}

namespace ember::cpugen {

// Element kinds the generated loops compute in.
bool loopKind(ElemKind k);

// Whether the code generator implements node `n` (a lowered primitive);
// `reason` says why not.
bool nodeSupported(const Node &n, std::string &reason);

// The static manifest: every op of CpuOps.def with its dtypes and ranks.
void fillManifest(backend::v1::CapabilityManifest &m);

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
// output_padding, output_shape and auto_pad): the leading pads and the
// output extent per spatial dim.
bool convTransposeGeometry(const Node &n, std::vector<int64_t> &padBegin,
                           std::vector<int64_t> &out, std::string &reason);

} // namespace ember::cpugen
