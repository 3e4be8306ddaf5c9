// Einsum's equation attribute, parsed (EinsumEquation.cpp) for the reference
// kernel (interp/kernels/Einsum.cpp) and the lowering (lower/LowerEinsum.cpp).
// The meaning of an op's attribute is IR, so it lives here, below both
// users: lowering does not include interpreter code for it.
#pragma once

#include "ir/Type.h"
#include "support/Error.h"

#include <map>
#include <string>
#include <vector>

namespace ember {

// A parsed Einsum equation for given operand shapes. Labels are letters as
// char codes; ellipsis dims get kEinsumEll + k (k counted from the left of
// the widest ellipsis, operands' ellipses aligned to the right). Repeated
// labels within an input term mean a diagonal.
constexpr int kEinsumEll = 1000;
struct EinsumSpec {
  std::vector<std::vector<int>> inputs; // labels per operand dim
  std::vector<int> output;              // labels of the result dims
  std::map<int, int64_t> size;          // label -> size (broadcast)
};
Expected<EinsumSpec> parseEinsum(const std::string &eq,
                                 const std::vector<Dims> &shapes);

} // namespace ember
