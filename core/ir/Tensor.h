// A tensor value: a Type plus contiguous row-major storage, owned, or
// borrowed from the caller (Tensor::borrow: a host's array crossing
// without a copy; a copy of a borrowed tensor owns its bytes).
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

  // A tensor over `data` (type().sizeInBytes() bytes the caller owns,
  // suitably aligned for the element type): nothing is copied, and writes
  // through it change the caller's memory. `keep` (may be null) is held
  // as long as this tensor, or one moved from it, lives; the caller keeps
  // the memory valid otherwise. A copy of it owns a copy of the bytes.
  static Tensor borrow(Type t, void *data, std::shared_ptr<void> keep = {}) {
    Tensor x;
    x.type_ = std::move(t);
    x.ext_ = static_cast<uint8_t *>(data);
    x.extBytes_ = x.type_.sizeInBytes();
    x.keep_ = std::move(keep);
    return x;
  }
  bool borrowed() const { return ext_ != nullptr; }

  Tensor(const Tensor &o)
      : type_(o.type_),
        data_(o.ext_ ? std::vector<uint8_t>(o.ext_, o.ext_ + o.extBytes_)
                     : o.data_),
        hasData_(o.hasData_) {}
  Tensor(Tensor &&o) noexcept
      : type_(std::move(o.type_)), data_(std::move(o.data_)),
        hasData_(o.hasData_), ext_(o.ext_), extBytes_(o.extBytes_),
        keep_(std::move(o.keep_)) {
    o.ext_ = nullptr;
    o.extBytes_ = 0;
  }
  Tensor &operator=(const Tensor &o) {
    if (this != &o)
      *this = Tensor(o);
    return *this;
  }
  Tensor &operator=(Tensor &&o) noexcept {
    type_ = std::move(o.type_);
    data_ = std::move(o.data_);
    hasData_ = o.hasData_;
    ext_ = o.ext_;
    extBytes_ = o.extBytes_;
    keep_ = std::move(o.keep_);
    o.ext_ = nullptr;
    o.extBytes_ = 0;
    return *this;
  }
  ~Tensor() = default;

  const Type &type() const { return type_; }
  ElemKind elem() const { return type_.elem(); }
  const Dims &dims() const { return type_.dims(); }
  size_t rank() const { return type_.rank(); }
  int64_t dim(size_t i) const { return type_.dims()[i]; }
  int64_t size() const { return type_.numElements(); }
  bool hasData() const { return hasData_; }
  size_t bytes() const { return ext_ ? extBytes_ : data_.size(); }

  template <typename T> T *data() { return reinterpret_cast<T *>(raw()); }
  template <typename T> const T *data() const {
    return reinterpret_cast<const T *>(raw());
  }
  uint8_t *raw() { return ext_ ? ext_ : data_.data(); }
  const uint8_t *raw() const { return ext_ ? ext_ : data_.data(); }
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
    return type_ == o.type_ && bytes() == o.bytes() &&
           (bytes() == 0 || std::memcmp(raw(), o.raw(), bytes()) == 0);
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
  uint8_t *ext_ = nullptr; // borrowed storage (borrow()), else data_
  size_t extBytes_ = 0;
  std::shared_ptr<void> keep_;
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
