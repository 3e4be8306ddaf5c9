//===- Pooling.cpp - 2-D max / average pooling ----------------------------===//
//
// The row loop of Planes.h (poolPlane) compiled generic, AVX2 and AVX-512.
//
//===----------------------------------------------------------------------===//
#include "Planes.h"

namespace ember::cpu {

using namespace detail;

namespace {

struct PoolArgs {
  PoolKind kind;
  ConvGeom g;
  size_t padBottom, padRight;
  const float *x;
  float *y;
  const Epilogue *epi;
  size_t c0, c1;
  float *acc, *cnt;
};

EMBER_ALWAYS_INLINE void poolChannels(const PoolArgs &a) {
  const size_t plane = a.g.OH * a.g.OW;
  for (size_t c = a.c0; c < a.c1; ++c)
    poolPlane(a.kind, a.g, a.padBottom, a.padRight, a.x + c * a.g.H * a.g.W,
              a.y + c * plane, planeEpilogue(*a.epi, c, plane), a.acc, a.cnt);
}

void poolGeneric(const PoolArgs &a) { poolChannels(a); }
EMBER_TARGET_AVX2 void poolAvx2(const PoolArgs &a) { poolChannels(a); }
EMBER_TARGET_AVX512 void poolAvx512(const PoolArgs &a) { poolChannels(a); }

} // namespace

Status pool2d(PoolKind kind, const Conv2DShape &s, const float *x, float *y,
              const Epilogue &epilogue, Isa isa, size_t cBegin, size_t cEnd) {
  if (!s.valid() || !x || !y)
    return Status::InvalidArgument;
  if (cEnd == 0)
    cEnd = s.channels;
  if (cBegin > cEnd || cEnd > s.channels)
    return Status::InvalidArgument;
  if (cBegin == cEnd)
    return Status::Ok;
  PoolArgs a;
  a.kind = kind;
  a.g = convGeometry(s);
  a.padBottom = s.padBottom;
  a.padRight = s.padRight;
  a.x = x;
  a.y = y;
  Epilogue epi = epilogue;
  epi.ldr = a.g.OH * a.g.OW;
  a.epi = &epi;
  a.c0 = cBegin;
  a.c1 = cEnd;
  ScratchBuffer scratch(nullptr, 2 * a.g.OW * sizeof(float));
  if (!scratch.ptr)
    return Status::OutOfMemory;
  a.acc = static_cast<float *>(scratch.ptr);
  a.cnt = a.acc + a.g.OW;
  switch (fp32Isa(isa)) {
  case Isa::Avx512:
  case Isa::Avx512Vnni:
    poolAvx512(a);
    break;
  case Isa::Avx2:
  case Isa::AvxVnni:
    poolAvx2(a);
    break;
  case Isa::Auto:
  case Isa::Generic:
    poolGeneric(a);
    break;
  }
  return Status::Ok;
}

} // namespace ember::cpu
