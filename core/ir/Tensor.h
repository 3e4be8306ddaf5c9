// A tensor value: a Type plus owned, contiguous row-major storage.
#pragma once

#include "ir/Type.h"
#include "support/Error.h"
#include "support/Half.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace ember {

class Tensor {
public:
  Tensor() = default;
  // Allocates zero-filled storage for `t`.
  explicit Tensor(Type t) : type_(std::move(t)), data_(type_.sizeInBytes()) {}
  // A type-only tensor (no storage): used during shape inference.
  static Tensor typeOnly(Type t) {
    Tensor x;
    x.type_ = std::move(t);
    x.hasData_ = false;
    return x;
  }

  const Type &type() const { return type_; }
  ElemKind elem() const { return type_.elem(); }
  const Dims &dims() const { return type_.dims(); }
  size_t rank() const { return type_.rank(); }
  int64_t dim(size_t i) const { return type_.dims()[i]; }
  int64_t size() const { return type_.numElements(); }
  bool hasData() const { return hasData_; }
  size_t bytes() const { return data_.size(); }

  template <typename T> T *data() {
    return reinterpret_cast<T *>(data_.data());
  }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(data_.data());
  }
  uint8_t *raw() { return data_.data(); }
  const uint8_t *raw() const { return data_.data(); }
  void setType(Type t) { type_ = std::move(t); } // same byte size only
  void reshape(Dims d) { type_ = type_.withDims(std::move(d)); }

  // Slow, type-generic element access (through double).
  double getDouble(int64_t i) const;
  void setDouble(int64_t i, double v);
  // Exact for every integer kind (u64 values above 2^63 wrap).
  int64_t getInt(int64_t i) const;
  void setInt(int64_t i, int64_t v);

  // Element-wise conversion (ONNX Cast semantics). `saturate` and
  // `roundMode` (0 up, 1 nearest, 2 down) apply to narrow float targets.
  Tensor convertTo(ElemKind k, bool saturate = true, int roundMode = 0) const;

  bool bitEqual(const Tensor &o) const {
    return type_ == o.type_ && data_ == o.data_;
  }

  static Tensor scalar(ElemKind k, double v) {
    Tensor t(Type(k, {}));
    t.setDouble(0, v);
    return t;
  }
  static Tensor fromInts(ElemKind k, const std::vector<int64_t> &v,
                         Dims dims = {-1});
  std::vector<int64_t> toInts() const;
  std::vector<double> toDoubles() const;

  // Short human-readable summary for messages: "f32[2,3] {1, 2, ...}".
  std::string summary(size_t maxElems = 8) const;

private:
  Type type_;
  std::vector<uint8_t> data_;
  bool hasData_ = true;
};

// Calls f(T{}) with T the storage C type of kind k. Narrow kinds (isMiniKind)
// dispatch as their byte storage, uint8_t: only byte-moving code may use
// that; values go through getDouble/setDouble/convertTo.
template <typename F> decltype(auto) dispatchElem(ElemKind k, F &&f) {
  switch (k) {
#define EMBER_ELEM(E, T, C, O)                                                 \
  case ElemKind::E:                                                            \
    return f(C{});
#include "ir/ElemKinds.def"
  default:
    return f(uint8_t{});
  }
}

template <typename T> struct ElemKindOf;
#define EMBER_ELEM(E, T, C, O)                                                 \
  template <> struct ElemKindOf<C> {                                           \
    static constexpr ElemKind value = ElemKind::E;                             \
  };
#include "ir/ElemKinds.def"

// Row-major strides in elements.
std::vector<int64_t> stridesOf(const Dims &d);

// Numpy-style broadcast of two shapes; false when incompatible.
bool broadcastShapes(const Dims &a, const Dims &b, Dims &out);

} // namespace ember
