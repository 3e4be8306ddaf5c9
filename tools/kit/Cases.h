// How the kit builds its test programs (Cases.cpp, CaseOps.cpp): for an op
// and an element type, one node with valid operands and attributes and
// deterministic random inputs in the op's domain. Shapes and attribute
// values are drawn in a style: the canonical case (fixed small shapes: the
// probe, the api layer), and the edge styles the capability layer draws
// from each claim (sizes 1, odd, prime, one dimension larger than any tile,
// a mix). Several cases can share one function, each with its own inputs
// and outputs, so that a plugin compiles them at once.
#pragma once

#include "KitInternal.h"

#include <initializer_list>
#include <random>

namespace ember::kit {

// Value ranges of data operands.
enum class Domain {
  Default,  // floats [-2, 2], signed [-5, 5], unsigned [0, 10]
  Small,    // accumulating ops: floats [-2, 2], signed [-2, 2], unsigned [0, 3]
  Positive, // floats [0.1, 4], integers [1, 5]
  AboveOne, // [1.1, 4]
  Unit,     // (-1, 1): [-0.9, 0.9]
  NonZero,  // |x| >= 0.5 (integers: non-zero), either sign
  NearOne,  // products: floats [0.5, 1.5], integers [1, 2]
  Shift,    // shift amounts and small exponents: [0, 3]
  Full,     // integers: the type's range (wider ones: +-2^20); floats Default
};

// Draws the shapes and attribute values of one case.
class Draw {
public:
  Draw(const CaseSpec &spec);
  bool canonical() const { return spec_.style == CaseStyle::Canonical; }
  CaseStyle style() const { return spec_.style; }
  // The rank of the op's first data operand (canonical: the canonical
  // shape's).
  unsigned rank(unsigned canonRank) const {
    return canonical() ? canonRank : spec_.rank;
  }
  // The first data operand's shape: `canon`, or rank() dimensions drawn in
  // the style with at most `cap` elements (one dimension larger than any
  // tile in the Big style).
  Dims shape(const Dims &canon, int64_t cap = 4096);
  // rank dimensions in the style (not the canonical one).
  Dims dims(unsigned rank, int64_t cap = 4096);
  // One dimension: `canon`, or one drawn in the style, at most `cap`.
  int64_t dim(int64_t canon, int64_t cap = 1 << 20);
  // A shape that broadcasts with `x` (numpy rules): `canon`, or one of x
  // itself, a suffix of it, x with some dimensions 1, a scalar, or one
  // with leading dimensions of its own.
  Dims partner(const Dims &x, const Dims &canon);
  // An integer in [lo, hi]: `canon` in the canonical style.
  int64_t range(int64_t canon, int64_t lo, int64_t hi);
  // One of `options`: `canon` in the canonical style.
  template <typename T> T pick(T canon, std::initializer_list<T> options) {
    if (canonical() || options.size() == 0)
      return canon;
    return *(options.begin() + rng_() % options.size());
  }
  bool coin(bool canon) { return canonical() ? canon : (rng_() & 1) != 0; }
  std::mt19937_64 &rng() { return rng_; }

private:
  int64_t drawDim();
  CaseSpec spec_;
  std::mt19937_64 rng_;
};

// Builds cases into one function.
class Builder {
public:
  Builder(ElemKind d, unsigned seed);
  ElemKind d() const { return d_; }
  bool isFloat() const { return isFloatKind(d_); }

  // A graph input of `t` with random data in `dom`.
  Value in(const Type &t, Domain dom = Domain::Default);
  Value in(Dims dims, Domain dom = Domain::Default) {
    return in(Type(d_, std::move(dims)), dom);
  }
  // A constant of `t` with random data in `dom`.
  Value weight(const Type &t, Domain dom = Domain::Small);
  Value weight(Dims dims, Domain dom = Domain::Small) {
    return weight(Type(d_, std::move(dims)), dom);
  }
  Value cst(Tensor t);
  Value ints(const std::vector<int64_t> &v, Dims dims = {-1},
             ElemKind k = ElemKind::I64);
  Value scalar(ElemKind k, double v);

  // Creates the op's node; its results are graph outputs. `accumulate` is
  // how many terms each result element sums (or multiplies), which
  // widens the float tolerance of the comparison.
  Status node(OpKind k, std::vector<Value> ins, AttrMap attrs = {},
              int numResults = -1, double accumulate = 1);
  // Sets element i (modulo the size) of the last input (special values).
  void setLastInput(int64_t i, double v);
  // The largest number of terms an integer sum of `dom` values may have
  // before it overflows the element type (floats: `cap`).
  int64_t sumLimit(Domain dom, int64_t cap) const;

  // Cases built so far; starts a new one (its nodes, inputs, outputs).
  size_t numCases() const { return cases_.size(); }
  void beginCase() { cases_.push_back({}); }
  Sample finish();

private:
  Tensor random(const Type &t, Domain dom);
  ElemKind d_;
  unsigned seed_;
  uint64_t counter_ = 0;
  std::unique_ptr<Module> m_;
  Function *f_ = nullptr;
  std::vector<Tensor> inputs_;
  std::vector<CaseInfo> cases_;
};

// An op's case builder and the ranks of its first data operand it builds.
using BuildFn = Status (*)(Builder &, OpKind, Draw &);
struct OpBuilder {
  BuildFn fn = nullptr;
  unsigned minRank = 0, maxRank = 0;
};
// By op name (CaseOps.cpp).
const std::map<std::string, OpBuilder> &opBuilders();

} // namespace ember::kit
