#include "ir/Tensor.h"

#include "support/MiniFloat.h"

#include <cmath>
#include <limits>
#include <sstream>

namespace ember {

double Tensor::getDouble(int64_t i) const {
  if (isMiniKind(elem()))
    return double(miniToFloat(raw()[i], miniFormatOf(elem())));
  return dispatchElem(elem(), [&](auto tag) -> double {
    using T = decltype(tag);
    return double(data<T>()[i]);
  });
}

void Tensor::setDouble(int64_t i, double v) {
  if (isMiniKind(elem())) {
    MiniFormat f = miniFormatOf(elem());
    raw()[i] = miniIsInteger(f) ? intToMini(int64_t(v), f)
                                : floatToMini(float(v), f, true);
    return;
  }
  dispatchElem(elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
      data<T>()[i] = T(float(v));
    else
      data<T>()[i] = T(v);
  });
}

int64_t Tensor::getInt(int64_t i) const {
  if (isMiniKind(elem()))
    return int64_t(miniToFloat(raw()[i], miniFormatOf(elem())));
  return dispatchElem(elem(), [&](auto tag) -> int64_t {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
      return int64_t(float(data<T>()[i]));
    else
      return int64_t(data<T>()[i]);
  });
}

void Tensor::setInt(int64_t i, int64_t v) {
  if (isMiniKind(elem())) {
    raw()[i] = intToMini(v, miniFormatOf(elem()));
    return;
  }
  dispatchElem(elem(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_same_v<T, Float16> || std::is_same_v<T, BFloat16>)
      data<T>()[i] = T(float(v));
    else if constexpr (std::is_same_v<T, bool>)
      data<T>()[i] = v != 0;
    else
      data<T>()[i] = T(v);
  });
}

// Saturating-free C++ conversion with ONNX's edge rules: NaN/inf to integer
// is implementation-defined in C++, so define it (0 for NaN, clamp for inf).
template <typename To, typename From> static To castValue(From v) {
  if constexpr (std::is_same_v<To, bool>) {
    if constexpr (std::is_same_v<From, Float16> ||
                  std::is_same_v<From, BFloat16>)
      return float(v) != 0.0f;
    else
      return v != From(0);
  } else if constexpr (std::is_integral_v<To>) {
    if constexpr (std::is_floating_point_v<From> ||
                  std::is_same_v<From, Float16> ||
                  std::is_same_v<From, BFloat16>) {
      double d = double(v);
      if (std::isnan(d))
        return To(0);
      // Out-of-range float->int is undefined in C++; go through int64 like
      // numpy on x86 does for the in-range part and wrap modulo 2^n.
      if (d >= 9.2233720368547758e18 || d < -9.2233720368547758e18)
        return To(std::numeric_limits<int64_t>::min());
      return To(int64_t(d));
    } else {
      return To(v);
    }
  } else if constexpr (std::is_same_v<To, Float16> ||
                       std::is_same_v<To, BFloat16>) {
    if constexpr (std::is_same_v<From, double>)
      return To(float(v)); // double->float->half double-rounds; acceptable
    else
      return To(float(v));
  } else {
    if constexpr (std::is_same_v<From, Float16> ||
                  std::is_same_v<From, BFloat16>)
      return To(float(v));
    else
      return To(v);
  }
}

Tensor Tensor::convertTo(ElemKind k, bool saturate, int roundMode) const {
  Tensor out(Type(k, dims()));
  int64_t n = size();
  if (isMiniKind(k)) {
    MiniFormat f = miniFormatOf(k);
    bool exactInt = !isFloatKind(elem()) && !isMiniKind(elem());
    for (int64_t i = 0; i < n; ++i)
      out.raw()[i] =
          exactInt && miniIsInteger(f)
              ? intToMini(getInt(i), f)
              : floatToMini(float(getDouble(i)), f, saturate, roundMode);
    return out;
  }
  if (isMiniKind(elem())) {
    // Decode to float (exact), then the regular conversion.
    Tensor tmp(Type(ElemKind::F32, dims()));
    for (int64_t i = 0; i < n; ++i)
      tmp.data<float>()[i] = float(getDouble(i));
    return tmp.convertTo(k, saturate, roundMode);
  }
  dispatchElem(elem(), [&](auto fromTag) {
    using From = decltype(fromTag);
    dispatchElem(k, [&](auto toTag) {
      using To = decltype(toTag);
      const From *src = data<From>();
      To *dst = out.data<To>();
      for (int64_t i = 0; i < n; ++i)
        dst[i] = castValue<To, From>(src[i]);
    });
  });
  return out;
}

Tensor Tensor::fromInts(ElemKind k, const std::vector<int64_t> &v, Dims dims) {
  if (dims.size() == 1 && dims[0] == -1)
    dims[0] = int64_t(v.size());
  Tensor t(Type(k, dims));
  for (size_t i = 0; i < v.size(); ++i)
    t.setInt(int64_t(i), v[i]);
  return t;
}

std::vector<int64_t> Tensor::toInts() const {
  std::vector<int64_t> v(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i)
    v[size_t(i)] = getInt(i);
  return v;
}

std::vector<double> Tensor::toDoubles() const {
  std::vector<double> v(static_cast<size_t>(size()));
  for (int64_t i = 0; i < size(); ++i)
    v[size_t(i)] = getDouble(i);
  return v;
}

std::string Tensor::summary(size_t maxElems) const {
  std::ostringstream os;
  os << type_.toString();
  if (!hasData_)
    return os.str();
  os << " {";
  int64_t n = size();
  for (int64_t i = 0; i < n && size_t(i) < maxElems; ++i)
    os << (i ? ", " : "") << getDouble(i);
  if (size_t(n) > maxElems)
    os << ", ...";
  os << "}";
  return os.str();
}

std::vector<int64_t> stridesOf(const Dims &d) {
  std::vector<int64_t> s(d.size());
  int64_t acc = 1;
  for (size_t i = d.size(); i-- > 0;) {
    s[i] = acc;
    acc *= d[i];
  }
  return s;
}

bool broadcastShapes(const Dims &a, const Dims &b, Dims &out) {
  size_t r = std::max(a.size(), b.size());
  out.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t x = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t y = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (x != y && x != 1 && y != 1)
      return false;
    out[i] = x == 1 ? y : x;
  }
  return true;
}

} // namespace ember
