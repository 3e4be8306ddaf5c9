// OpKind and the per-op facts from Ops.def.
#pragma once

#include <cstdint>
#include <string>

namespace ember {

enum class OpKind : uint16_t {
#define EMBER_OP(Name, Class, Props, MinIn, MaxIn, NumOut) Name,
#include "ir/Ops.def"
};

enum class OpClass : uint8_t { Storage, Primitive, Composite };

enum OpProp : uint32_t {
  P_None = 0,
  P_Elementwise = 1u << 0, // output element i depends on input elements i
  P_Unary = 1u << 1,
  P_Binary = 1u << 2,
  P_Reduction = 1u << 3,
  P_Movement = 1u << 4, // reorders/copies elements, no arithmetic
  P_Quant = 1u << 5,
  P_Control = 1u << 6,  // runs subgraphs (If, Loop, Scan)
  P_Internal = 1u << 7, // Ember's own op (docs/quantization.md): made by
                        // lowering, never read from an ONNX file
};

struct OpInfo {
  const char *name;
  OpClass cls;
  uint32_t props;
  int minIn, maxIn, numOut;
};

const OpInfo &opInfo(OpKind k);
inline const char *opName(OpKind k) { return opInfo(k).name; }
bool opKindFromName(const std::string &name, OpKind &out);
inline bool hasProp(OpKind k, OpProp p) { return (opInfo(k).props & p) != 0; }
inline bool isPrimitive(OpKind k) {
  return opInfo(k).cls == OpClass::Primitive;
}
inline bool isStorage(OpKind k) { return opInfo(k).cls == OpClass::Storage; }
// Whether a node of kind k with constant operands may be replaced by its
// value before lowering. DequantizeLinear of a constant is a quantized
// weight: lowering reads the stored integers (docs/quantization.md) and
// folds the ones no integer form consumes.
inline bool foldableBeforeLowering(OpKind k) {
  return k != OpKind::DequantizeLinear;
}
constexpr unsigned kNumOps = 0
#define EMBER_OP(Name, Class, Props, MinIn, MaxIn, NumOut) +1
#include "ir/Ops.def"
    ;

} // namespace ember
