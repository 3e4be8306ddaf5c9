// OpKind and the per-op facts from Ops.def, as constant expressions so that
// other tables (a backend's op table, the lowering dispatch) can be checked
// against this one at compile time.
#pragma once

#include "ir/Type.h"

#include <cstdint>
#include <string>

namespace ember {

enum class OpKind : uint16_t {
#define EMBER_OP(Name, ...) Name,
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
  P_Narrow = 1u << 8,   // accepts narrow element kinds (isMiniKind)
  // Computes an exponential, logarithm, power, error function, or a
  // trigonometric or hyperbolic function of its operands, element by element
  // (for floats: several times the cost of an add or a multiply).
  P_Transcendental = 1u << 9,
  // Every result element is a copy of one element of operand 0, placed by
  // the shapes, attributes and index operands (a view, permutation, slice,
  // split, gather or repetition): no arithmetic and no other values, so a
  // quantized operand's scale and zero point describe the result too.
  P_Rearrange = 1u << 10,
  // Every result element equals one of the operands' elements, chosen by
  // comparing their values (maximum, minimum): no arithmetic, no rounding.
  P_Select = 1u << 11,
};

// How an op's multiply-accumulates are counted (backend::macsOf, the
// reports' `<device>_mac_share`): the Macs column of Ops.def.
struct MacRule {
  enum Kind : uint8_t {
    None,   // not counted
    Conv,   // each result element sums the products of one window: the
            // weight operand's dims after the first (C/group x kernel)
    MatMul, // each result element sums K products, K operand 0's last dim
            // (its first with a `transA` attribute of 1, as Gemm has)
    ConvTranspose, // each element of operand 0 is multiplied into the
                   // weight operand's dims after the first (C_out/group x
                   // kernel) results, cropped border products included
  } kind;
  uint8_t weight; // Conv, ConvTranspose: the weight operand's index
};
constexpr MacRule M_None{MacRule::None, 0};
constexpr MacRule M_MatMul{MacRule::MatMul, 0};
constexpr MacRule M_Conv(uint8_t weightOperand) {
  return {MacRule::Conv, weightOperand};
}
constexpr MacRule M_ConvT(uint8_t weightOperand) {
  return {MacRule::ConvTranspose, weightOperand};
}

// The element kinds an op's operand 0 may have (Ops.def, column Types).
enum OpTypes : uint8_t {
  T_Any,    // every kind
  T_Num,    // every kind but bool
  T_Signed, // signed integers and floats
  T_Int,    // integers (not bool)
  T_Float,  // f16, bf16, f32, f64
  T_Bool,   // bool
  T_Kernel, // the type rule checks (rules over several operands, ...)
};

struct OpInfo {
  const char *name;
  OpClass cls;
  uint32_t props;
  int minIn, maxIn, numOut;
  OpTypes types;
  MacRule macs;
};

inline constexpr OpInfo kOpInfo[] = {
#define EMBER_OP(Name, Class, Props, MinIn, MaxIn, NumOut, Types, Macs)        \
  {#Name, OpClass::Class, Props, MinIn, MaxIn, NumOut, Types, Macs},
#include "ir/Ops.def"
};

constexpr unsigned kNumOps = sizeof(kOpInfo) / sizeof(kOpInfo[0]);

constexpr const OpInfo &opInfo(OpKind k) { return kOpInfo[unsigned(k)]; }
constexpr const char *opName(OpKind k) { return opInfo(k).name; }
bool opKindFromName(const std::string &name, OpKind &out);
constexpr bool hasProp(OpKind k, OpProp p) {
  return (opInfo(k).props & p) != 0;
}
constexpr bool isPrimitive(OpKind k) {
  return opInfo(k).cls == OpClass::Primitive;
}
constexpr bool isComposite(OpKind k) {
  return opInfo(k).cls == OpClass::Composite;
}
constexpr bool isStorage(OpKind k) { return opInfo(k).cls == OpClass::Storage; }
// Whether a node of kind k with constant operands may be replaced by its
// value before lowering. DequantizeLinear of a constant is a quantized
// weight: lowering reads the stored integers (docs/quantization.md) and
// folds the ones no integer form consumes. A custom op is never folded: it
// stays where its library's kernel, lowering or a plugin's unit can run it.
constexpr bool foldableBeforeLowering(OpKind k) {
  return k != OpKind::DequantizeLinear && k != OpKind::Custom;
}

// Whether element kind `e` is in class `t` (T_Kernel admits every kind).
bool kindInClass(OpTypes t, ElemKind e);
// "floats", "integers", ...: for messages and docs.
const char *opTypesName(OpTypes t);

} // namespace ember
