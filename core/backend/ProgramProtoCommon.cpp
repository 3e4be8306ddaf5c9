// The conversions graph and LIR serialization share
// (ProgramProtoCommon.h): UTF-8 checks, types and tensors, the
// optional-operand rule, and the public Type <-> TensorType entry points.
#include "backend/ProgramProtoCommon.h"

#include "import/TensorIO.h"
#include "ir/Printer.h"
#include "support/MiniFloat.h"

#include <cstring>

namespace ember::backend {

namespace detail {

// proto3 `string` fields hold UTF-8 only (the parser refuses anything
// else), so such a string is refused when serializing instead of producing
// bytes that cannot be read back. RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF.
bool isUtf8(const std::string &s) {
  size_t i = 0, n = s.size();
  while (i < n) {
    uint8_t c = uint8_t(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < len)
      return false;
    for (size_t k = 1; k < len; ++k) {
      uint8_t d = uint8_t(s[i + k]);
      if ((d & 0xC0) != 0x80)
        return false;
      cp = (cp << 6) | (d & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
      return false;
    i += len;
  }
  return true;
}

Status checkUtf8(const std::string &s, const std::string &what) {
  if (isUtf8(s))
    return Status::ok();
  return invalid(what, " ", quoteString(s),
                 " is not UTF-8, which the schema's string fields require");
}

std::string dimsText(const google::protobuf::RepeatedField<int64_t> &d) {
  std::string s = "[";
  for (int i = 0; i < d.size(); ++i) {
    if (i == 16) {
      s += ",... (" + std::to_string(d.size()) + " dims)";
      break;
    }
    s += (i ? "," : "") + std::to_string(d[i]);
  }
  return s + "]";
}

// ---- types and tensors ------------------------------------------------------

Expected<Type> typeFromProto(const v1::TensorType &p, const std::string &what) {
  ElemKind k;
  if (!parseElemKind(p.dtype(), k))
    return invalid(what, ": unknown dtype ", quoteString(p.dtype()));
  // Bounded like the importer's tensors, and so that no product of dims
  // (zero dims skipped, as kernels compute strides) can overflow.
  uint64_t n = 1;
  for (int i = 0; i < p.dims_size(); ++i) {
    int64_t d = p.dims(i);
    if (d < 0)
      return invalid(what, ": dimension ", i, " is negative (", d, ")");
    uint64_t m = d == 0 ? 1 : uint64_t(d);
    if (n > kMaxTensorBytes / m)
      return invalid(what, ": ", p.dtype(), dimsText(p.dims()), " is over the ",
                     kMaxTensorBytes, "-byte tensor limit");
    n *= m;
  }
  if (n > kMaxTensorBytes / elemSize(k))
    return invalid(what, ": ", p.dtype(), dimsText(p.dims()), " is over the ",
                   kMaxTensorBytes, "-byte tensor limit");
  Type t(k, Dims(p.dims().begin(), p.dims().end()));
  if (!p.has_quant())
    return t;
  const v1::QuantParams &q = p.quant();
  if (q.scales_size() == 0)
    return invalid(what, ": quantized type without scales");
  if (q.zero_points_size() != q.scales_size())
    return invalid(what, ": quantized type has ", q.scales_size(),
                   " scales but ", q.zero_points_size(), " zero points");
  if (q.scales_size() == 1) {
    if (q.axis() != 0)
      return invalid(what, ": per-tensor quantization has axis ", q.axis(),
                     " (must be 0)");
  } else {
    if (q.axis() < 0 || q.axis() >= int64_t(t.rank()))
      return invalid(what, ": per-channel quantization axis ", q.axis(),
                     " is out of range for rank ", t.rank());
    if (t.dim(size_t(q.axis())) != int64_t(q.scales_size()))
      return invalid(what, ": ", q.scales_size(),
                     " per-channel scales for axis ", q.axis(), " of size ",
                     t.dim(size_t(q.axis())));
  }
  QuantParams qp;
  qp.scales.assign(q.scales().begin(), q.scales().end());
  qp.zeroPoints.assign(q.zero_points().begin(), q.zero_points().end());
  qp.axis = q.axis();
  t.setQuant(std::move(qp));
  return t;
}

// Bool elements are C++ bools (bytes 0 and 1 only) and 4-/2-bit kinds use
// the low bits of their byte: other bytes are not values of the type.
Status checkElementBytes(const Tensor &x, const std::string &what) {
  unsigned limit = 0; // bytes must be below this; 0: any byte
  if (x.elem() == ElemKind::Bool)
    limit = 2;
  else if (isMiniKind(x.elem()) && miniBits(miniFormatOf(x.elem())) < 8)
    limit = 1u << miniBits(miniFormatOf(x.elem()));
  if (!limit)
    return Status::ok();
  for (size_t i = 0; i < x.bytes(); ++i)
    if (x.raw()[i] >= limit)
      return invalid(what, ": element ", i, " is the byte ",
                     unsigned(x.raw()[i]), ", not a value of ",
                     elemKindName(x.elem()), " (0..", limit - 1, ")");
  return Status::ok();
}

Expected<Tensor> tensorFromBytes(const Type &t, const std::string &bytes,
                                 const std::string &what) {
  // The type passed typeFromProto: this cannot overflow.
  uint64_t need = uint64_t(t.numElements()) * elemSize(t.elem());
  if (bytes.size() != need)
    return invalid(what, ": ", bytes.size(), " bytes of data, but ",
                   t.toString(), " needs ", need);
  Tensor x(t);
  if (need)
    std::memcpy(x.raw(), bytes.data(), size_t(need));
  EMBER_TRY(checkElementBytes(x, what));
  return x;
}

Expected<Tensor> tensorFromProto(const v1::TensorData &p,
                                 const std::string &what) {
  if (!p.has_type())
    return invalid(what, ": tensor data without a type");
  EMBER_ASSIGN(Type t, typeFromProto(p.type(), what));
  return tensorFromBytes(t, p.data(), what);
}

// toProto, refusing what typeFromProto would refuse (a type over the size
// limit, inconsistent quantization), so that what is written reads back.
Status typeToProto(const Type &t, v1::TensorType &out,
                   const std::string &what) {
  toProto(t, out);
  return typeFromProto(out, what).takeStatus();
}

Status tensorToProto(const Tensor &t, v1::TensorData &out,
                     const std::string &what) {
  if (!t.hasData() || t.bytes() != t.type().sizeInBytes())
    return invalid(what, ": tensor ", t.type().toString(), " has no data");
  EMBER_TRY(typeToProto(t.type(), *out.mutable_type(), what));
  out.set_data(t.raw(), t.bytes());
  return Status::ok();
}

// Which operands may be absent. The op table has no notion of optional
// operands, and kernels read every operand below MinIn without asking, so
// those are required; the first operand always is (as in the importer).
// The one exception: Loop's condition (operand 1) is optional in ONNX and
// its kernel handles its absence.
bool mayBeAbsent(OpKind k, size_t i) {
  if (k == OpKind::Custom) // its library says (types_Custom)
    return true;
  if (i == 0)
    return false;
  if (k == OpKind::Loop && i == 1)
    return true;
  return int64_t(i) >= opInfo(k).minIn;
}

} // namespace detail

void toProto(const Type &t, v1::TensorType &out) {
  out.Clear();
  out.set_dtype(elemKindName(t.elem()));
  out.mutable_dims()->Add(t.dims().begin(), t.dims().end());
  if (const QuantParams *q = t.quant()) {
    v1::QuantParams *pq = out.mutable_quant();
    pq->mutable_scales()->Add(q->scales.begin(), q->scales.end());
    pq->mutable_zero_points()->Add(q->zeroPoints.begin(), q->zeroPoints.end());
    pq->set_axis(q->axis);
  }
}

Expected<Type> fromProto(const v1::TensorType &t) {
  return detail::typeFromProto(t, "tensor type");
}

} // namespace ember::backend
