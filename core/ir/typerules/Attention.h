// Parse helpers of the transformer-block ops (Attention, RotaryEmbedding),
// shared by their type rules (ir/typerules/Attention.cpp) and reference
// kernels (interp/kernels/Attention.cpp).
#pragma once

#include "ir/TypeRules.h"

namespace ember {

// Attention's problem: dims of Q/K/V (3-D [B, S, H * D] or 4-D [B, H, S, D]),
// the KV cache length P (S = P + Skv) and the attributes that shape results.
struct AttnShape {
  int64_t B = 0, Hq = 0, Hkv = 0, Sq = 0, Skv = 0, P = 0, S = 0, D = 0, Dv = 0;
  bool rank3 = false;
  int64_t mode = 0;                     // qk_matmul_output_mode
  ElemKind kind = ElemKind::F32;        // Q/K/V and result kind
  ElemKind softmaxKind = ElemKind::F32; // softmax_precision
  int64_t left = -1, right = -1;        // sliding window sizes
};
Expected<AttnShape> attentionShape(const TypeContext &ctx);

// RotaryEmbedding's geometry: X is [B, H, S, D] or [B, S, H * D]; the first
// rd (= 2 * half) elements of each head rotate.
struct RotaryShape {
  int64_t B = 0, H = 0, S = 0, D = 0, rd = 0, half = 0;
  bool r3 = false, hasPos = false, interleaved = false;
};
Expected<RotaryShape> rotaryShape(const TypeContext &ctx);

} // namespace ember
