/* RtPortable.c's entry points as linked natively into the plugin (prefix
 * ember_rtp_, built with EMBER_RT_NAME(x)=ember_rtp_##x): the JIT's
 * kernels=portable mode and compile-time weight layout for bundles that use
 * the portable runtime. Same contracts as RtAbi.h. */
#ifndef EMBER_CPU_RTPORTABLE_H
#define EMBER_CPU_RTPORTABLE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

int32_t ember_rtp_conv2d(const int64_t *p, const float *x, const void *w,
                         const float *bias, const float *residual, float *y,
                         float clipLo, float clipHi, uint8_t *workspace);
int64_t ember_rtp_conv_packed_size(const int64_t *p);
int64_t ember_rtp_conv_workspace_size(const int64_t *p);
int32_t ember_rtp_conv_pack(const int64_t *p, const float *w, void *packed);
int32_t ember_rtp_gemm(const int64_t *p, const float *a, const void *b,
                       const float *bias, const float *residual, float *c,
                       float clipLo, float clipHi, uint8_t *workspace);
int64_t ember_rtp_gemm_packed_size(const int64_t *p);
int64_t ember_rtp_gemm_workspace_size(const int64_t *p);
int32_t ember_rtp_gemm_pack(const int64_t *p, const float *b, void *packed);

int32_t ember_rtp_conv_transpose(const int64_t *p, const float *x,
                                 const float *wT, const float *bias, float *y,
                                 uint8_t *workspace);
int64_t ember_rtp_conv_transpose_workspace_size(const int64_t *p);
int32_t ember_rtp_conv_transpose_pack(const int64_t *p, const float *w,
                                      float *wT);

int32_t ember_rtp_recurrent(const int64_t *p, void *const *ptrs,
                            uint8_t *workspace);
int64_t ember_rtp_recurrent_packed_size(const int64_t *p);
int64_t ember_rtp_recurrent_scratch_size(const int64_t *p);
int64_t ember_rtp_recurrent_workspace_size(const int64_t *p);
int32_t ember_rtp_recurrent_pack(const int64_t *p, const float *w,
                                 const float *r, const float *b, float *packed);

#ifdef __cplusplus
}
#endif

#endif /* EMBER_CPU_RTPORTABLE_H */
