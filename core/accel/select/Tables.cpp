// Output-table chains (SelectInternal.h, tableChain): the integer
// elementwise ops computed from one layer result alone, evaluated on its
// 256 stored values into the layer's output table (docs/quantization.md,
// "Lookup-table activations"; docs/npu-sdk.md, "Layer forms"). A
// TableLookup is the chain of one op; ONNX Runtime's QDQ SiLU (Sigmoid's
// table, then a quantized Mul of x and it) and a HardSwish written as x *
// HardSigmoid(x) are chains of several, and one table each, exact by
// construction: the integer ops are evaluated with the SDK's arithmetic
// (ember/quant/Arith.h), the one definition every path computes.
#include "SelectInternal.h"

#include "ember/quant/Arith.h"

#include <algorithm>
#include <map>
#include <set>

namespace ember::accel::sel {

namespace {

// The ops a chain may hold, all elementwise on the root's shape.
bool chainOp(const std::string &op) {
  return op == "TableLookup" || op == "Cast" || op == "Sub" || op == "Add" ||
         op == "Mul" || op == "Requantize";
}

constexpr size_t kMaxChain = 16; // nodes; longer regions are not tables

int64_t lowestOf(const std::string &d) { return d == "i8" ? -128 : 0; }

// The most elements of a uniform constant a chain reads as a scalar.
constexpr int64_t kMaxUniform = 1 << 16;

// A constant operand a chain may read at node `n`'s input `i`: a scalar,
// a constant whose elements are all equal (the region keeps the root's
// shape, so it broadcasts as the scalar would: a LayerNorm's gamma of ones
// that a quantizer stored per channel), or the table of a TableLookup.
bool chainConstant(const View &v, const v1::Node &n, int i) {
  int c = v.in(n, i);
  if (c < 0 || !v.constant[size_t(c)])
    return false;
  const int64_t count = v.intCount(c);
  if (n.op() == "TableLookup" && i == 1)
    return count == 256;
  if (count == 1)
    return true;
  if (count < 1 || count > kMaxUniform)
    return false;
  std::vector<int64_t> d;
  return v.ints(c, d) &&
         std::all_of(d.begin(), d.end(), [&](int64_t e) { return e == d[0]; });
}

int32_t wrap(int64_t x) { return int32_t(uint32_t(uint64_t(x))); }

// The value of `val` for each of the 256 inputs, computed node by node.
struct Eval {
  const View &v;
  std::map<int, std::vector<int64_t>> vals; // value -> 256 results

  const std::vector<int64_t> *of(int x) { return &vals[x]; }
  int64_t scalar(int c) const {
    std::vector<int64_t> d;
    v.ints(c, d);
    return d.empty() ? 0 : d[0];
  }
  // ok or why node `n` does not evaluate.
  Status run(const v1::Node &n) {
    const std::string &op = n.op();
    int y = v.out(n);
    std::vector<int64_t> out(256);
    auto operand = [&](int i, size_t k) -> int64_t {
      int x = v.in(n, i);
      if (x < 0)
        return 0;
      auto it = vals.find(x);
      return it != vals.end() ? it->second[k] : scalar(x);
    };
    const std::string &dy = v.dtype(y);
    if (op == "TableLookup") {
      std::vector<int64_t> table;
      v.ints(v.in(n, 1), table);
      const int64_t lo = lowestOf(v.dtype(v.in(n, 0)));
      for (size_t k = 0; k < 256; ++k) {
        int64_t idx = operand(0, k) - lo;
        if (idx < 0 || idx > 255)
          return Status(ErrorCode::Unsupported,
                        "a TableLookup index out of its table");
        out[k] = table[size_t(idx)];
      }
    } else if (op == "Cast") {
      if (dy != "i32")
        return Status(ErrorCode::Unsupported,
                      "a Cast to " + dy + " (a chain widens to i32)");
      for (size_t k = 0; k < 256; ++k)
        out[k] = operand(0, k);
    } else if (op == "Sub" || op == "Add" || op == "Mul") {
      if (dy != "i32" || v.dtype(v.in(n, 0)) != "i32" ||
          v.dtype(v.in(n, 1)) != "i32")
        return Status(ErrorCode::Unsupported,
                      op + " on " + dy + " (a chain computes in i32)");
      for (size_t k = 0; k < 256; ++k) {
        int64_t a = operand(0, k), b = operand(1, k);
        out[k] = wrap(op == "Sub" ? a - b : op == "Add" ? a + b : a * b);
      }
    } else if (op == "Requantize") {
      if (!isQ8(dy))
        return Status(ErrorCode::Unsupported, "a Requantize to " + dy);
      const int64_t lowest = lowestOf(dy), highest = dy == "u8" ? 255 : 127;
      const int32_t lo = int32_t(std::max(aInt(n, "min", lowest), lowest));
      const int32_t hi = int32_t(std::min(aInt(n, "max", highest), highest));
      quant::Multiplier m{int32_t(scalar(v.in(n, 1))),
                          int32_t(scalar(v.in(n, 2)))};
      int32_t xz = v.in(n, 3) >= 0 ? int32_t(scalar(v.in(n, 3))) : 0;
      int32_t yz = v.in(n, 4) >= 0 ? int32_t(scalar(v.in(n, 4))) : 0;
      // (A table holds any profile's rounding: the node's, computed here.)
      quant::RequantProfile p = quant::RequantProfile::Fixed;
      const v1::Attribute *pa = attr(n, "requant");
      if (pa && !quant::profileFromName(pa->s(), p))
        return Status(ErrorCode::Unsupported,
                      "requant = '" + pa->s() +
                          "' (an arithmetic Ember does not know)");
      if (!quant::fixedPointRequant(p))
        return Status(ErrorCode::Unsupported, "a float32-profile Requantize");
      for (size_t k = 0; k < 256; ++k)
        out[k] =
            quant::requantizeIn(p, int32_t(operand(0, k)), xz, m, yz, lo, hi);
    } else {
      return Status(ErrorCode::Unsupported, "op " + op + " in a chain");
    }
    vals[y] = std::move(out);
    return Status::ok();
  }
};

} // namespace

Status tableChain(const View &v, int x, TableChain &out) {
  out = TableChain();
  if (x < 0 || !isQ8(v.dtype(x)) || v.isInput[size_t(x)] ||
      v.outUses[size_t(x)] > 0)
    return Status(ErrorCode::Unsupported, "not a stored i8/u8 result");
  const std::vector<int64_t> dims = v.dims(x);
  // The region: nodes after x's producer whose every non-constant input is
  // x or a region value (and constants scalars or the table), in order.
  std::set<int> region = {x};
  std::vector<int> nodes;
  const int start = v.producer[size_t(x)] + 1;
  for (int i = start; i < v.g.nodes_size() && nodes.size() < kMaxChain; ++i) {
    const v1::Node &n = v.g.nodes(i);
    if (!chainOp(n.op()) || n.outputs_size() != 1 ||
        std::none_of(n.inputs().begin(), n.inputs().end(),
                     [&](int in) { return region.count(in) != 0; }))
      continue;
    // (Constants are read only for a node of the region: a uniform one
    // reads every element.)
    bool ok = true;
    for (int k = 0; ok && k < n.inputs_size(); ++k) {
      const int in = n.inputs(k);
      ok = in < 0 || region.count(in) || chainConstant(v, n, k);
    }
    if (!ok || v.dims(v.out(n)) != dims)
      continue;
    region.insert(v.out(n));
    nodes.push_back(i);
  }
  // The largest closed cone: an i8/u8 region value y whose cone (the
  // region nodes it needs) uses x and its own values only inside itself.
  for (size_t e = nodes.size(); e-- > 0;) {
    const v1::Node &last = v.g.nodes(nodes[e]);
    int y = v.out(last);
    if (!isQ8(v.dtype(y)))
      continue;
    std::set<int> need = {y}, coneNodes;
    for (size_t j = e + 1; j-- > 0;) {
      const v1::Node &n = v.g.nodes(nodes[j]);
      if (!need.count(v.out(n)))
        continue;
      coneNodes.insert(nodes[j]);
      for (int in : n.inputs())
        if (in >= 0 && region.count(in))
          need.insert(in);
    }
    if (!need.count(x))
      continue;
    bool closed = true;
    for (int val : need) {
      if (val == y)
        continue;
      if (v.outUses[size_t(val)] > 0)
        closed = false;
      for (int u : v.users[size_t(val)])
        closed = closed && coneNodes.count(u);
    }
    if (!closed)
      continue;
    Eval ev{v, {}};
    std::vector<int64_t> &in = ev.vals[x];
    in.resize(256);
    for (size_t k = 0; k < 256; ++k)
      in[k] = int64_t(k) + lowestOf(v.dtype(x));
    for (int i : coneNodes)
      EMBER_TRY(ev.run(v.g.nodes(i)));
    const std::vector<int64_t> &r = ev.vals[y];
    out.root = x;
    out.exit = nodes[e];
    out.nodes.assign(coneNodes.begin(), coneNodes.end());
    out.lut.resize(256);
    for (size_t k = 0; k < 256; ++k)
      out.lut[k] = int8_t(v.dtype(y) == "u8" ? r[k] - 128 : r[k]);
    return Status::ok();
  }
  return Status(ErrorCode::Unsupported,
                "no chain of integer ops of it alone ends in an i8/u8 value");
}

} // namespace ember::accel::sel
