// What graph and LIR serialization share (ProgramProto.h is the public
// interface): the message framing and its limits, UTF-8 checks, types and
// tensors, attributes and the optional-operand rule. ProgramProtoCommon.cpp
// defines the shared conversions, GraphProto.cpp the graph's (and the
// attributes', which may hold subgraphs), LirProto.cpp the LIR's. Not
// installed; only these three files include it.
#pragma once

#include "backend/ProgramProto.h"

#include "ember/backend/v1/graph.pb.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/stubs/logging.h>

#include <climits>
#include <string>

// Tensor storage is copied to and from TensorData.data as it is in memory;
// the schema says little-endian.
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "ProgramProto*.cpp assume a little-endian host"
#endif

namespace ember::backend::detail {

// Subgraphs (If branches, Loop/Scan bodies) nested deeper than this are
// refused, in both directions.
constexpr int kMaxGraphDepth = 64;
// protobuf's own nesting limit for parsing: each subgraph level is three
// messages deep (Graph > Node > Attribute > Graph), plus TensorData >
// TensorType > QuantParams at the bottom. Deeper input fails to parse.
constexpr int kMaxProtoRecursion = 3 * kMaxGraphDepth + 16;
// Value ids are int32 in the schema.
constexpr int64_t kMaxValues = INT32_MAX;

template <typename Msg>
Status parseMessage(const void *data, size_t size, Msg &out,
                    const char *msgName) {
  if (size && !data)
    return invalid("cannot parse ", msgName, ": null data with size ", size);
  if (size > size_t(INT_MAX))
    return invalid("cannot parse ", msgName, ": ", size,
                   " bytes is over protobuf's 2 GiB message limit");
  static const uint8_t kNoBytes = 0;
  google::protobuf::io::CodedInputStream in(
      size ? static_cast<const uint8_t *>(data) : &kNoBytes, int(size));
  in.SetRecursionLimit(kMaxProtoRecursion);
  // Hostile bytes are expected here and the error below reports them, so
  // protobuf's own log lines (e.g. for non-UTF-8 strings) are muted.
  google::protobuf::LogSilencer quiet;
  if (!out.ParseFromCodedStream(&in) || !in.ConsumedEntireMessage())
    return invalid("cannot parse ", size, " bytes as ", msgName,
                   " (malformed or truncated protobuf, or messages nested "
                   "more than ",
                   kMaxProtoRecursion, " deep)");
  return Status::ok();
}

template <typename Msg>
Expected<std::string> serializeMessage(const Msg &m, const char *msgName) {
  size_t n = m.ByteSizeLong();
  if (n > size_t(INT_MAX))
    return invalid("cannot serialize ", msgName, ": ", n,
                   " bytes is over protobuf's 2 GiB message limit");
  std::string s;
  if (!m.SerializeToString(&s))
    return makeError(ErrorCode::Internal, "cannot serialize ", msgName);
  return s;
}

// ---- strings ----------------------------------------------------------------

// Whether s is well-formed UTF-8; checkUtf8 refuses a string that is not,
// naming `what` (proto3 `string` fields hold UTF-8 only).
bool isUtf8(const std::string &s);
Status checkUtf8(const std::string &s, const std::string &what);
// "[1, 3, 224, 224]"
std::string dimsText(const google::protobuf::RepeatedField<int64_t> &d);

// ---- types and tensors ------------------------------------------------------

Expected<Type> typeFromProto(const v1::TensorType &p, const std::string &what);
Status checkElementBytes(const Tensor &x, const std::string &what);
Expected<Tensor> tensorFromBytes(const Type &t, const std::string &bytes,
                                 const std::string &what);
Expected<Tensor> tensorFromProto(const v1::TensorData &p,
                                 const std::string &what);
Status typeToProto(const Type &t, v1::TensorType &out, const std::string &what);
Status tensorToProto(const Tensor &t, v1::TensorData &out,
                     const std::string &what);

// ---- attributes (GraphProto.cpp) --------------------------------------------

// `depth` is that of the graph holding the attribute; subgraphs are one
// deeper. The LIR passes depth < 0: it has no subgraphs.
Status attrToProto(const Attr &a, v1::Attribute &out, int depth,
                   const std::string &what);
Expected<Attr> attrFromProto(const v1::Attribute &p, int depth,
                             const std::string &what);
Status
attrsFromProto(const google::protobuf::RepeatedPtrField<v1::Attribute> &attrs,
               int depth, const std::string &where, AttrMap &out);

// ---- operands ---------------------------------------------------------------

// Which operands may be absent. The op table has no notion of optional
// operands, and kernels read every operand below MinIn without asking, so
// those are required; the first operand always is (as in the importer).
// The one exception: Loop's condition (operand 1) is optional in ONNX and
// its kernel handles its absence.
bool mayBeAbsent(OpKind k, size_t i);

} // namespace ember::backend::detail
