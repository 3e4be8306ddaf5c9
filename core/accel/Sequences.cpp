// Rank-3 sequences ([T, B, K] or [B, S, K]) laid out as pixels x channels
// (docs/npu-sdk.md, "Layer forms"): the last axis is the channels
// (View::chan = 2) and the leading dims are pixels, the bytes of the rank-2
// [T B, K] a MatMul with a constant B reads. The values a group of sequence
// ops (a MatMulInteger of a rank-3 A by a constant rank-2 B, its int32 bias
// Add, Requantize, QuantizedAdd, the Cast, Sub and Mul of a quantized
// multiply, TableLookup) read and write take that layout, when the group holds
// a MatMulInteger, Requantize or QuantizedAdd (ops the target runs at rank 3
// only so).
#include "SelectInternal.h"

#include <numeric>

namespace ember::accel::sel {

bool isSequence(const View &v, int x) {
  return x >= 0 && v.dims(x).size() == 3 && v.chan[size_t(x)] == 2;
}

namespace {

// The rank-3 values node n reads and writes as a sequence op (empty: it is
// not one), and whether it seeds a group.
std::vector<int> sequenceValues(const View &v, const v1::Node &n, bool &seed) {
  const std::string &op = n.op();
  const int x = v.in(n, 0), b = v.in(n, 1), y = v.out(n);
  seed = op == "MatMulInteger" || op == "Requantize" || op == "QuantizedAdd";
  if (x < 0 || y < 0 || n.outputs_size() != 1 || v.dims(y).size() != 3)
    return {};
  const std::vector<int64_t> yd = v.dims(y);
  if (op == "MatMulInteger")
    return b >= 0 && v.dims(x).size() == 3 && v.dims(b).size() == 2 &&
                   v.constant[size_t(b)]
               ? std::vector<int>{x, y}
               : std::vector<int>{};
  if (op == "Requantize" || op == "TableLookup" || op == "Cast")
    return v.dims(x) == yd ? std::vector<int>{x, y} : std::vector<int>{};
  if (op != "Add" && op != "QuantizedAdd" && op != "Sub" && op != "Mul")
    return {};
  // Operands of the result's shape are sequences too; a constant of another
  // shape (a bias, a zero point, a repeated operand) is laid out by its
  // reader.
  std::vector<int> out = {y};
  for (int o : {x, b}) {
    if (o < 0)
      return {};
    if (v.dims(o) == yd)
      out.push_back(o);
    else if (!v.constant[size_t(o)])
      return {};
  }
  return out;
}

int root(std::vector<int> &up, int x) {
  while (up[size_t(x)] != x)
    x = up[size_t(x)] = up[size_t(up[size_t(x)])];
  return x;
}

} // namespace

void layoutSequences(View &v) {
  const size_t nv = v.chan.size();
  std::vector<int> up(nv);
  std::iota(up.begin(), up.end(), 0);
  std::vector<char> member(nv, 0), seeded(nv, 0);
  for (int i = 0; i < v.g.nodes_size(); ++i) {
    bool seed = false;
    const std::vector<int> vals = sequenceValues(v, v.g.nodes(i), seed);
    for (int x : vals) {
      member[size_t(x)] = 1;
      up[size_t(root(up, x))] = root(up, vals[0]);
    }
    if (!vals.empty() && seed)
      seeded[size_t(vals[0])] = 1;
  }
  for (size_t x = 0; x < nv; ++x)
    if (seeded[x])
      seeded[size_t(root(up, int(x)))] = 1;
  for (size_t x = 0; x < nv; ++x)
    if (member[x] && seeded[size_t(root(up, int(x)))])
      v.chan[x] = 2;
}

} // namespace ember::accel::sel
