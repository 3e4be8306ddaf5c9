#include "import/TensorIO.h"

#include "support/MiniFloat.h"

#include <onnx/onnx_pb.h>

#include <fstream>
#include <sstream>

namespace ember {

Status checkTensorSize(const Dims &d, ElemKind k, const std::string &what) {
  uint64_t n = 1;
  for (int64_t x : d) {
    if (x < 0)
      return invalid(what, " has a negative dimension ", x);
    if (x != 0 && n > kMaxTensorBytes / uint64_t(x))
      return invalid(what, " is too large (", dimsToString(d), ")");
    n *= uint64_t(x);
  }
  if (n * elemSize(k) > kMaxTensorBytes)
    return invalid(what, " is too large (", dimsToString(d), " x ", elemSize(k),
                   " bytes)");
  return Status::ok();
}

namespace {

// Typed-field payloads: which repeated field holds each ONNX type.
template <typename Field>
Status copyField(const Field &f, Tensor &t, const std::string &what) {
  if (int64_t(f.size()) != t.size())
    return invalid(what, " holds ", f.size(), " values but its shape ",
                   dimsToString(t.dims()), " needs ", t.size());
  for (int64_t i = 0; i < t.size(); ++i)
    t.setDouble(i, double(f.Get(int(i))));
  return Status::ok();
}

Expected<std::string> readExternal(const onnx::TensorProto &p,
                                   const std::string &baseDir,
                                   uint64_t wantBytes,
                                   const std::string &what) {
  std::string location;
  uint64_t offset = 0, length = UINT64_MAX;
  for (auto &kv : p.external_data()) {
    if (kv.key() == "location")
      location = kv.value();
    else if (kv.key() == "offset" || kv.key() == "length") {
      char *end = nullptr;
      unsigned long long v = strtoull(kv.value().c_str(), &end, 10);
      if (!end || *end)
        return invalid(what, ": bad external data ", kv.key(), " '", kv.value(),
                       "'");
      (kv.key() == "offset" ? offset : length) = v;
    }
  }
  if (location.empty())
    return invalid(what, ": external data has no location");
  if (location[0] == '/' || location.find("..") != std::string::npos)
    return invalid(what, ": external data location '", location,
                   "' must be a relative path inside the model's folder");
  std::string path = baseDir.empty() ? location : baseDir + "/" + location;
  auto size = ember::fileSize(path);
  if (!size)
    return makeError(ErrorCode::Io, what, ": cannot open external data '", path,
                     "'");
  const uint64_t fileSize = *size;
  if (length == UINT64_MAX)
    length = fileSize >= offset ? fileSize - offset : 0;
  if (length != wantBytes)
    return invalid(what, ": external data length ", length, " != ", wantBytes,
                   " bytes needed by its shape");
  if (offset > fileSize || fileSize - offset < length)
    return invalid(what, ": external data [", offset, ", +", length,
                   ") is beyond the end of '", path, "' (", fileSize,
                   " bytes)");
  auto buf = readFileRange(path, offset, length);
  if (!buf)
    return makeError(ErrorCode::Io, what, ": cannot read '", path, "'");
  return buf;
}

} // namespace

Expected<Tensor> tensorFromProto(const onnx::TensorProto &p,
                                 const std::string &baseDir) {
  std::string what = "tensor '" + p.name() + "'";
  ElemKind k;
  if (!elemKindFromOnnx(p.data_type(), k))
    return unsupported(what, " has ONNX data type ", p.data_type(),
                       ", which Ember does not support");
  Dims dims(p.dims().begin(), p.dims().end());
  EMBER_TRY(checkTensorSize(dims, k, what));
  if (p.has_segment())
    return unsupported(what, " is segmented");
  Tensor t(Type(k, dims));
  uint64_t bytes = t.bytes();
  if (p.data_location() == onnx::TensorProto::EXTERNAL && !isMiniKind(k)) {
    EMBER_ASSIGN(std::string buf, readExternal(p, baseDir, bytes, what));
    if (bytes)
      std::memcpy(t.raw(), buf.data(), bytes);
    return t;
  }
  if (isMiniKind(k)) {
    // Narrow kinds: raw_data (or int32_data, one byte per entry) holds the
    // elements packed 8/bits per byte, lowest bits first.
    unsigned bits = miniBits(miniFormatOf(k));
    unsigned perByte = 8 / bits;
    uint64_t packed = (uint64_t(t.size()) + perByte - 1) / perByte;
    std::string buf;
    if (p.has_raw_data()) {
      buf = p.raw_data();
    } else {
      if (bits == 8 && int64_t(p.int32_data_size()) == t.size()) {
        for (int v : p.int32_data())
          buf += char(uint8_t(v));
      } else {
        for (int v : p.int32_data())
          buf += char(uint8_t(v));
      }
    }
    if (buf.size() != packed)
      return invalid(what, " has ", buf.size(), " bytes of data but its shape ",
                     dimsToString(dims), " needs ", packed);
    for (int64_t i = 0; i < t.size(); ++i) {
      uint8_t byte = uint8_t(buf[size_t(i / perByte)]);
      t.raw()[i] =
          uint8_t((byte >> ((i % perByte) * bits)) & ((1u << bits) - 1));
    }
    return t;
  }
  if (p.has_raw_data()) {
    if (p.raw_data().size() != bytes)
      return invalid(what, " has ", p.raw_data().size(),
                     " bytes of raw data but its shape ", dimsToString(dims),
                     " needs ", bytes);
    if (bytes) // an empty tensor has no storage to copy into
      std::memcpy(t.raw(), p.raw_data().data(), bytes);
    if (k == ElemKind::Bool)
      for (int64_t i = 0; i < t.size(); ++i)
        t.raw()[i] = t.raw()[i] != 0;
    return t;
  }
  switch (k) {
  default: // narrow kinds are handled above
    break;
  case ElemKind::F32:
    EMBER_TRY(copyField(p.float_data(), t, what));
    break;
  case ElemKind::F64:
    EMBER_TRY(copyField(p.double_data(), t, what));
    break;
  case ElemKind::I64:
    if (int64_t(p.int64_data_size()) != t.size())
      return invalid(what, " holds ", p.int64_data_size(),
                     " values but its shape needs ", t.size());
    for (int64_t i = 0; i < t.size(); ++i)
      t.data<int64_t>()[i] = p.int64_data(int(i));
    break;
  case ElemKind::U32:
  case ElemKind::U64:
    if (int64_t(p.uint64_data_size()) != t.size())
      return invalid(what, " holds ", p.uint64_data_size(),
                     " values but its shape needs ", t.size());
    for (int64_t i = 0; i < t.size(); ++i)
      t.setInt(i, int64_t(p.uint64_data(int(i))));
    break;
  case ElemKind::F16:
  case ElemKind::BF16:
    // 16-bit floats travel as their bit patterns in int32_data.
    if (int64_t(p.int32_data_size()) != t.size())
      return invalid(what, " holds ", p.int32_data_size(),
                     " values but its shape needs ", t.size());
    for (int64_t i = 0; i < t.size(); ++i)
      t.data<uint16_t>()[i] = uint16_t(p.int32_data(int(i)));
    break;
  case ElemKind::U8:
  case ElemKind::I8:
  case ElemKind::U16:
  case ElemKind::I16:
  case ElemKind::I32:
  case ElemKind::Bool:
    if (int64_t(p.int32_data_size()) != t.size())
      return invalid(what, " holds ", p.int32_data_size(),
                     " values but its shape needs ", t.size());
    for (int64_t i = 0; i < t.size(); ++i)
      t.setInt(i, p.int32_data(int(i)));
    break;
  }
  return t;
}

void tensorToProto(const Tensor &t, onnx::TensorProto &p) {
  p.set_data_type(elemKindToOnnx(t.elem()));
  for (int64_t d : t.dims())
    p.add_dims(d);
  if (isMiniKind(t.elem())) {
    unsigned bits = miniBits(miniFormatOf(t.elem()));
    unsigned perByte = 8 / bits;
    std::string buf(size_t((t.size() + perByte - 1) / perByte), '\0');
    for (int64_t i = 0; i < t.size(); ++i)
      buf[size_t(i / perByte)] = char(uint8_t(buf[size_t(i / perByte)]) |
                                      (t.raw()[i] << ((i % perByte) * bits)));
    p.set_raw_data(buf);
    return;
  }
  p.set_raw_data(
      std::string(reinterpret_cast<const char *>(t.raw()), t.bytes()));
}

// ---- .npy -------------------------------------------------------------------

static const char *npyDescr(ElemKind k) {
  switch (k) {
  case ElemKind::F32:
    return "<f4";
  case ElemKind::F64:
    return "<f8";
  case ElemKind::F16:
    return "<f2";
  case ElemKind::U8:
    return "|u1";
  case ElemKind::I8:
    return "|i1";
  case ElemKind::U16:
    return "<u2";
  case ElemKind::I16:
    return "<i2";
  case ElemKind::U32:
    return "<u4";
  case ElemKind::I32:
    return "<i4";
  case ElemKind::U64:
    return "<u8";
  case ElemKind::I64:
    return "<i8";
  case ElemKind::Bool:
    return "|b1";
  default:
    return nullptr;
  }
}

static Expected<Tensor> parseNpy(const std::string &buf,
                                 const std::string &path) {
  if (buf.size() < 10 || buf.compare(0, 6, "\x93NUMPY") != 0)
    return invalid("'", path, "' is not a .npy file");
  unsigned major = uint8_t(buf[6]);
  size_t hlen, hoff;
  if (major == 1) {
    hlen = uint8_t(buf[8]) | size_t(uint8_t(buf[9])) << 8;
    hoff = 10;
  } else {
    if (buf.size() < 12)
      return invalid("'", path, "' is truncated");
    hlen = uint8_t(buf[8]) | size_t(uint8_t(buf[9])) << 8 |
           size_t(uint8_t(buf[10])) << 16 | size_t(uint8_t(buf[11])) << 24;
    hoff = 12;
  }
  if (hoff + hlen > buf.size())
    return invalid("'", path, "' has a truncated header");
  std::string h = buf.substr(hoff, hlen);
  auto field = [&](const std::string &key) -> std::string {
    size_t p = h.find("'" + key + "'");
    if (p == std::string::npos)
      return "";
    p = h.find(':', p);
    if (p == std::string::npos)
      return "";
    ++p;
    while (p < h.size() && h[p] == ' ')
      ++p;
    if (p < h.size() && h[p] == '(') {
      size_t e = h.find(')', p);
      return e == std::string::npos ? "" : h.substr(p, e - p + 1);
    }
    size_t e = h.find_first_of(",}", p);
    return h.substr(p, e - p);
  };
  std::string descr = field("descr");
  if (descr.size() >= 2)
    descr = descr.substr(1, descr.size() - 2);
  if (field("fortran_order").find("True") != std::string::npos)
    return unsupported("'", path, "' is Fortran-ordered");
  ElemKind k = ElemKind::F32;
  bool found = false;
  for (int i = 0; i <= int(ElemKind::BF16); ++i)
    if (npyDescr(ElemKind(i)) && descr == npyDescr(ElemKind(i))) {
      k = ElemKind(i);
      found = true;
    }
  if (!found && descr == "|u1")
    found = true;
  if (!found)
    return unsupported("'", path, "' has dtype '", descr, "'");
  std::string shape = field("shape");
  Dims dims;
  for (size_t i = 0; i < shape.size();) {
    if (isdigit(uint8_t(shape[i]))) {
      size_t e = i;
      while (e < shape.size() && isdigit(uint8_t(shape[e])))
        ++e;
      dims.push_back(std::stoll(shape.substr(i, e - i)));
      i = e;
    } else {
      ++i;
    }
  }
  EMBER_TRY(checkTensorSize(dims, k, "'" + path + "'"));
  Tensor t(Type(k, dims));
  if (buf.size() - hoff - hlen != t.bytes())
    return invalid("'", path, "' holds ", buf.size() - hoff - hlen,
                   " data bytes but its shape needs ", t.bytes());
  if (t.bytes())
    std::memcpy(t.raw(), buf.data() + hoff + hlen, t.bytes());
  return t;
}

static bool endsWith(const std::string &s, const std::string &suf) {
  return s.size() >= suf.size() &&
         s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

Expected<Tensor> readTensorFile(const std::string &path, std::string *nameOut) {
  EMBER_ASSIGN(std::string buf, readFileBytes(path));
  if (endsWith(path, ".npy"))
    return parseNpy(buf, path);
  onnx::TensorProto p;
  if (!p.ParseFromString(buf))
    return invalid("'", path, "' is not a valid ONNX TensorProto");
  if (nameOut)
    *nameOut = p.name();
  auto t = tensorFromProto(p, "");
  if (!t)
    return t.status().withContext(path);
  return t;
}

Status writeTensorFile(const Tensor &t, const std::string &path,
                       const std::string &name) {
  std::ofstream out(path, std::ios::binary);
  if (!out)
    return makeError(ErrorCode::Io, "cannot write '", path, "'");
  if (endsWith(path, ".npy")) {
    const char *d = npyDescr(t.elem());
    if (!d)
      return unsupported(".npy cannot hold ", elemKindName(t.elem()));
    std::string shape = "(";
    for (size_t i = 0; i < t.rank(); ++i)
      shape += std::to_string(t.dims()[i]) +
               (t.rank() == 1 ? "," : (i + 1 < t.rank() ? ", " : ""));
    shape += ")";
    std::string h = std::string("{'descr': '") + d +
                    "', 'fortran_order': False, 'shape': " + shape + ", }";
    while ((10 + h.size() + 1) % 64)
      h += ' ';
    h += '\n';
    std::string hdr = "\x93NUMPY";
    hdr += char(1);
    hdr += char(0);
    hdr += char(h.size() & 0xff);
    hdr += char(h.size() >> 8);
    out << hdr << h;
    out.write(reinterpret_cast<const char *>(t.raw()),
              std::streamsize(t.bytes()));
  } else {
    onnx::TensorProto p;
    tensorToProto(t, p);
    p.set_name(name);
    if (!p.SerializeToOstream(&out))
      return makeError(ErrorCode::Io, "cannot write '", path, "'");
  }
  return out ? Status::ok()
             : makeError(ErrorCode::Io, "cannot write '", path, "'");
}

} // namespace ember
