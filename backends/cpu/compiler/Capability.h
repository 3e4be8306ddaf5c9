// What the CPU code generator runs, all of it derived from its op table
// (CpuOps.def): the step that runs each op, the capability manifest, and the
// per-node answer (with a reason for every refusal) that query_support gives
// and executable_compile enforces. Everything refused runs on the
// partitioner's fallback.
#pragma once

#include "Program.h"
#include "ember/quant/Arith.h"

#include <cstdint>
#include <string>

namespace ember::backend::v1 {
class CapabilityManifest;
}

namespace ember::cpugen {

// Sets of element kinds (bit i: ElemKind(i)), the Kinds column of
// CpuOps.def. K_Op stands for the op's Types class in Ops.def.
using KindSet = uint32_t;
constexpr KindSet kindBit(ElemKind k) { return KindSet(1) << unsigned(k); }
constexpr KindSet K_Bool = kindBit(ElemKind::Bool);
constexpr KindSet K_F32 = kindBit(ElemKind::F32);
constexpr KindSet K_F32Half =
    kindBit(ElemKind::F32) | kindBit(ElemKind::F16) | kindBit(ElemKind::BF16);
constexpr KindSet K_Float = K_F32Half | kindBit(ElemKind::F64);
constexpr KindSet K_Int = kindBit(ElemKind::I8) | kindBit(ElemKind::U8) |
                          kindBit(ElemKind::I16) | kindBit(ElemKind::U16) |
                          kindBit(ElemKind::I32) | kindBit(ElemKind::U32) |
                          kindBit(ElemKind::I64) | kindBit(ElemKind::U64);
constexpr KindSet K_Num = K_Float | K_Int;
// Every kind the generated code computes in (f16/bf16 in f32, rounded after
// every op as the reference does): no narrow kinds.
constexpr KindSet K_All = K_Num | K_Bool;
// Every element kind, the narrow ones (float8, int4, ...) too.
constexpr KindSet K_Every = [] {
  KindSet s = 0;
#define EMBER_ELEM(E, ...) s |= kindBit(ElemKind::E);
#include "ir/ElemKinds.def"
#define EMBER_MINI(E, ...) s |= kindBit(ElemKind::E);
#include "ir/MiniElemKinds.def"
  return s;
}();
constexpr KindSet K_QuantDequant =
    kindBit(ElemKind::F32) | kindBit(ElemKind::F64) | kindBit(ElemKind::I8) |
    kindBit(ElemKind::U8) | kindBit(ElemKind::I16) | kindBit(ElemKind::U16) |
    kindBit(ElemKind::I32);
constexpr KindSet K_Int8 = kindBit(ElemKind::U8) | kindBit(ElemKind::I8);
constexpr KindSet K_QInteger = K_Int8 | kindBit(ElemKind::I32);
constexpr KindSet K_I16 = kindBit(ElemKind::I16);
constexpr KindSet K_I32 = kindBit(ElemKind::I32);
constexpr KindSet K_I64 = kindBit(ElemKind::I64);
// Requantize's input: integers of at most 32 bits.
constexpr KindSet K_Int32Max = K_QInteger | kindBit(ElemKind::I16) |
                               kindBit(ElemKind::U16) | kindBit(ElemKind::U32);
// Requantize: K_Int32Max, and f32 for the float32 profile's multipliers.
constexpr KindSet K_Requantize = K_Int32Max | kindBit(ElemKind::F32);
// TableLookup's tables: every loop kind but the 16-bit floats.
constexpr KindSet K_Table =
    K_Int | kindBit(ElemKind::F32) | kindBit(ElemKind::F64) | K_Bool;
// The recurrent cells: float tensors (16-bit ones widened to f32,
// WidenHalf.cpp), integer sequence lengths.
constexpr KindSet K_Recurrent =
    K_F32Half | kindBit(ElemKind::I32) | kindBit(ElemKind::I64);
constexpr KindSet K_Op = KindSet(1) << 31;

// Element kinds the generated loops compute in (K_All).
bool loopKind(ElemKind k);

// The Loop rows of CpuOps.def: LoopGen::op (LoopOps.cpp) switches over
// them without `default:`.
enum class LoopOp : uint8_t {
#define EMBER_CPU_OP(Name, ...)
#define EMBER_CPU_LOOP(Name, Kinds, Check) Name,
#include "CpuOps.def"
};
// The Loop row of `k` (which must be a Loop op).
LoopOp loopOpOf(OpKind k);

// The Gather rows: LoopGen::gatherLeaf and LoopGen::gatherValue
// (CodegenLoop.cpp) switch over them without `default:`.
enum class GatherOp : uint8_t {
#define EMBER_CPU_OP(Name, ...)
#define EMBER_CPU_GATHER(Name, Kinds, Check, Constraints) Name,
#include "CpuOps.def"
};
// The Gather row of `k` (which must be a Gather op).
GatherOp gatherOpOf(OpKind k);

// Rows' checks that live with their op's code (compiler/ops/<Name>.cpp)
// because they need its geometry.
bool checkResize(const Node &n, std::string &reason);

// Whether the code generator implements node `n` (a lowered primitive);
// `reason` says why not.
bool nodeSupported(const Node &n, std::string &reason);

// The static manifest: every row of CpuOps.def with its dtypes, ranks and
// constraints.
void fillManifest(backend::v1::CapabilityManifest &m);

// The 64-bit form (quant::AddFixed) of an exact QuantizedAdd (one with
// a_scale, b_scale and y_scale), for its operands' and result's kinds and
// clamp; false when its scales have none.
bool exactAddParams(const Node &n, quant::AddFixed &p);

} // namespace ember::cpugen
