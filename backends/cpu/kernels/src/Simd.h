//===- Simd.h - <immintrin.h> for the kernel sources ------------*- C++ -*-===//
//
// GCC 12's AVX-512 intrinsics (e.g. _mm512_max_ps) start from
// _mm512_undefined_ps(), whose self-initialisation trips
// -Wmaybe-uninitialized once inlined (GCC PR105593, fixed in GCC 13). The
// warning points into the header, so silencing it around the include keeps
// -Werror useful for our own code.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_CPU_KERNELS_SIMD_H
#define EMBER_CPU_KERNELS_SIMD_H

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#endif // EMBER_CPU_KERNELS_SIMD_H
