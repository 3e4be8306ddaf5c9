// PacketSum: each line (the axes from `axis` on) summed in f32 in SIMD
// packet order, as ember/math/PacketSum.h defines it; the lines' heads as
// if the operand's first element were `lanes`-aligned (attribute aligned).
#include "interp/Kernel.h"

#include "ember/math/PacketSum.h"

namespace ember {

Status kernel_PacketSum(KernelContext &ctx) {
  const Tensor &x = ctx.in(0);
  Tensor &y = ctx.out(0);
  const int64_t lines = y.size();
  if (lines == 0)
    return Status::ok();
  const int64_t n = x.size() / lines, lanes = ctx.attrInt("lanes", 4);
  const bool aligned = ctx.attrInt("aligned", 0) != 0;
  const float *px = x.data<float>();
  float *py = y.data<float>();
  for (int64_t l = 0; l < lines; ++l)
    py[l] = math::packetSum(px + l * n, n, lanes,
                            math::packetSumHead(l, n, lanes, aligned));
  return Status::ok();
}

} // namespace ember
