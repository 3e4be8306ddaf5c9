#include "ir/Type.h"
#include "support/Half.h"
#include "support/MiniFloat.h"

#include <cstring>
#include <sstream>

namespace ember {

namespace {
struct ElemInfo {
  const char *name;
  size_t size;
  int onnx;
};
const ElemInfo kElemInfo[] = {
#define EMBER_ELEM(E, T, C, O) {T, sizeof(C), O},
#include "ElemKinds.def"
#define EMBER_MINI(E, T, O, F) {T, 1, O},
#include "MiniElemKinds.def"
};
constexpr size_t kNumRegular = 0
#define EMBER_ELEM(E, T, C, O) +1
#include "ElemKinds.def"
    ;
} // namespace

const char *elemKindName(ElemKind k) { return kElemInfo[size_t(k)].name; }
size_t elemSize(ElemKind k) { return kElemInfo[size_t(k)].size; }

bool parseElemKind(const std::string &s, ElemKind &out) {
  for (size_t i = 0; i < sizeof(kElemInfo) / sizeof(kElemInfo[0]); ++i)
    if (s == kElemInfo[i].name) {
      out = ElemKind(i);
      return true;
    }
  return false;
}

bool elemKindFromOnnx(int t, ElemKind &out) {
  for (size_t i = 0; i < sizeof(kElemInfo) / sizeof(kElemInfo[0]); ++i)
    if (t == kElemInfo[i].onnx) {
      out = ElemKind(i);
      return true;
    }
  return false;
}
int elemKindToOnnx(ElemKind k) { return kElemInfo[size_t(k)].onnx; }

bool isMiniKind(ElemKind k) { return size_t(k) >= kNumRegular; }

MiniFormat miniFormatOf(ElemKind k) {
  switch (k) {
#define EMBER_MINI(E, T, O, F)                                                 \
  case ElemKind::E:                                                            \
    return MiniFormat::F;
#include "MiniElemKinds.def"
  default:
    return MiniFormat::U4;
  }
}

bool isFloatKind(ElemKind k) {
  if (isMiniKind(k))
    return !miniIsInteger(miniFormatOf(k));
  return k == ElemKind::F32 || k == ElemKind::F16 || k == ElemKind::BF16 ||
         k == ElemKind::F64;
}
bool isComputeFloatKind(ElemKind k) {
  return k == ElemKind::F32 || k == ElemKind::F16 || k == ElemKind::BF16 ||
         k == ElemKind::F64;
}
bool isIntKind(ElemKind k) { return !isFloatKind(k) && k != ElemKind::Bool; }
bool isSignedKind(ElemKind k) {
  switch (k) {
  case ElemKind::I8:
  case ElemKind::I16:
  case ElemKind::I32:
  case ElemKind::I64:
    return true;
  case ElemKind::U8:
  case ElemKind::U16:
  case ElemKind::U32:
  case ElemKind::U64:
  case ElemKind::Bool:
    return false;
  case ElemKind::F32:
  case ElemKind::F16:
  case ElemKind::BF16:
  case ElemKind::F64:
    return true;
  default: // narrow kinds
    return miniFormatOf(k) != MiniFormat::U4 &&
           miniFormatOf(k) != MiniFormat::U2 &&
           miniFormatOf(k) != MiniFormat::F8E8M0;
  }
}

int64_t numElements(const Dims &d) {
  int64_t n = 1;
  for (int64_t x : d)
    n *= x;
  return n;
}

std::string dimsToString(const Dims &d) {
  std::string s;
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? "x" : "") + std::to_string(d[i]);
  return s.empty() ? "scalar" : s;
}

bool Type::operator==(const Type &o) const {
  if (elem_ != o.elem_ || dims_ != o.dims_)
    return false;
  if (!quant_ || !o.quant_)
    return !quant_ && !o.quant_;
  return *quant_ == *o.quant_;
}

static std::string floatText(float f) {
  char buf[32];
  snprintf(buf, sizeof buf, "%.9g", double(f));
  return buf;
}

std::string Type::toString() const {
  std::ostringstream os;
  os << elemKindName(elem_);
  if (quant_) {
    os << "<";
    if (quant_->scales.size() != 1)
      os << "axis=" << quant_->axis << ":";
    for (size_t i = 0; i < quant_->scales.size(); ++i)
      os << (i ? "," : "") << floatText(quant_->scales[i]);
    os << ":";
    for (size_t i = 0; i < quant_->zeroPoints.size(); ++i)
      os << (i ? "," : "") << quant_->zeroPoints[i];
    os << ">";
  }
  os << "[";
  for (size_t i = 0; i < dims_.size(); ++i)
    os << (i ? "," : "") << dims_[i];
  os << "]";
  return os.str();
}

} // namespace ember
