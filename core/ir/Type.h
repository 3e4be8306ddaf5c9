// Element kinds, shapes and tensor types (static shapes, optional
// quantization).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace ember {

enum class ElemKind : uint8_t {
#define EMBER_ELEM(E, T, C, O) E,
#include "ElemKinds.def"
#define EMBER_MINI(E, T, O, F) E,
#include "MiniElemKinds.def"
};

enum class MiniFormat : uint8_t;
// Narrow kinds (f8*, f4, 4/2-bit ints): one byte per element in memory.
bool isMiniKind(ElemKind k);
MiniFormat miniFormatOf(ElemKind k); // only for mini kinds

const char *elemKindName(ElemKind k);
size_t elemSize(ElemKind k);
bool parseElemKind(const std::string &s, ElemKind &out);
bool elemKindFromOnnx(int onnxType, ElemKind &out);
int elemKindToOnnx(ElemKind k);
bool isFloatKind(ElemKind k); // f16, bf16, f32, f64 and narrow floats
// The float kinds arithmetic is done in: f16, bf16, f32, f64 (not the narrow
// float storage kinds).
bool isComputeFloatKind(ElemKind k);
// f16 and bf16: stored in 16 bits, computed in f32 (rounded after each op).
inline bool isHalfFloatKind(ElemKind k) {
  return k == ElemKind::F16 || k == ElemKind::BF16;
}
bool isIntKind(ElemKind k);    // signed or unsigned integers (not bool)
bool isSignedKind(ElemKind k); // signed ints and floats

using Dims = std::vector<int64_t>;

int64_t numElements(const Dims &d);
std::string dimsToString(const Dims &d); // "1x3x224x224"

// Affine quantization: real = scale * (q - zeroPoint). Per tensor when
// scales.size() == 1, else per channel along `axis`.
struct QuantParams {
  std::vector<float> scales;
  std::vector<int64_t> zeroPoints;
  int64_t axis = 0;
  bool operator==(const QuantParams &o) const {
    return scales == o.scales && zeroPoints == o.zeroPoints && axis == o.axis;
  }
};

class Type {
public:
  Type() = default;
  Type(ElemKind e, Dims d) : elem_(e), dims_(std::move(d)) {}

  ElemKind elem() const { return elem_; }
  const Dims &dims() const { return dims_; }
  size_t rank() const { return dims_.size(); }
  int64_t dim(size_t i) const { return dims_[i]; }
  int64_t numElements() const { return ember::numElements(dims_); }
  size_t sizeInBytes() const { return size_t(numElements()) * elemSize(elem_); }

  bool isQuantized() const { return quant_ != nullptr; }
  const QuantParams *quant() const { return quant_.get(); }
  void setQuant(QuantParams q) {
    quant_ = std::make_shared<QuantParams>(std::move(q));
  }
  Type withDims(Dims d) const {
    Type t = *this;
    t.dims_ = std::move(d);
    return t;
  }
  Type withElem(ElemKind e) const { return Type(e, dims_); }

  bool operator==(const Type &o) const;
  bool operator!=(const Type &o) const { return !(*this == o); }
  // Text form: f32[1,3,224,224]; quantized: u8<0.5:128>[...] or
  // i8<axis=0:0.1,0.2:0,0>[...]
  std::string toString() const;

private:
  ElemKind elem_ = ElemKind::F32;
  Dims dims_;
  std::shared_ptr<const QuantParams> quant_;
};

} // namespace ember
