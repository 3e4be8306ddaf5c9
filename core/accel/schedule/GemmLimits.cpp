// What a GEMM layer's form may be on the target (refuseForm), whether one
// output line of a convolution fits whole (convLineFits, else column bands),
// and a 16-bit layer's operations made from its 8-bit schedule (widen16):
// the limits and the 16-bit rewrite GemmCode.cpp's scheduler applies.
#include "CodegenInternal.h"
#include "Emit.h"
#include "Pack.h"

#include <algorithm>
#include <sstream>

namespace ember::accel {

// Ok, or why the layer's form cannot be scheduled on the target.
Status refuseForm(const Target &tg, const GemmLayer &g,
                  const std::vector<NTensor> &ts, const GemmTables &tb) {
  const bool in16 = g.in16, wide = g.in16 || g.out16;
  if (wide && !tg.wide16)
    return unsupported("a 16-bit layer on a target without 16-bit activations");
  if (in16 && (!g.requant || !tb.rqBias))
    return unsupported(
        "a 16x8 layer needs its requantization with a bias row (the "
        "int64 bias)");
  // A fused add of a 16-bit layer: the int16 vector add (w16) of its int16
  // result and another int16 tensor of the same shape, into int16.
  const bool add16 = g.add.on && g.out16;
  if (add16 && (!ts[size_t(g.add.other)].i16 || g.add.otherBroadcast ||
                g.add.regs.exact))
    return unsupported(
        "a 16-bit layer with a fused add of an 8-bit, repeated or exact "
        "operand (the fused 16-bit add is the int16 one of two int16 maps)");
  // (A 16x8 layer into 8 bits pools its requantized 8-bit rows in the out
  // memory as the int8 layer does.)
  if ((g.out16 && g.pool.on) || (wide && g.add.on && !add16))
    return unsupported(
        "a 16-bit result with a fused pool, or a 16-bit layer with a fused "
        "add into 8 bits");
  // An output table reads the int8 result (the requantization's lut; the 16-bit
  // table is an instruction of its own).
  if (g.out16 && tb.lut)
    return unsupported("an output table on a 16-bit result");
  return Status::ok();
}

Status convLineFits(const Target &t, int64_t W, int64_t Wp, int64_t OW,
                    int64_t ekh, int64_t sh, uint64_t actRows) {
  const int64_t line = std::min({t.maxX, t.maxY, t.maxInner, t.maxOuter});
  const int64_t ostride = t.ops[size_t(OpKind::Gemm)].max("act_ostride");
  const int out = t.memOf(Cls::Out);
  std::ostringstream os;
  if (W > line || OW > line)
    os << "image width " << W << " (lines of loads and array ops at most "
       << line << " rows)";
  else if (sh * Wp > ostride)
    os << "stride x padded width " << sh * Wp
       << " (the array op's act_ostride at most " << ostride << ")";
  else if (uint64_t(ekh * Wp) > actRows / 2)
    os << "one output line reads " << ekh << " lines of " << Wp
       << " pixels, over half of " << actRows << " rows";
  else if (uint64_t(OW) > t.memRows(out) / 4)
    os << "output width " << OW << " (an output line must fit a quarter of "
       << t.memories[size_t(out)].name << ", " << t.memRows(out) / 4
       << " rows)";
  if (os.str().empty())
    return Status::ok();
  return unsupported(os.str());
}

// A 16-bit layer's operations from the 8-bit schedule (Target::wide16):
// the input block's loads as 16-bit rows (each row pair one load), every
// array op on both planes (`onePass`: the op itself with w16, the target's
// array taking the row pair at once; else twice, the low plane at act, acc
// and the high plane rows/2 up in both), the table loads joined by the int64
// bias's high words rows/2 above, Requant acc16/out16 (an int16 result's clamp
// in the rq16 registers: zp, min and max 0), the result's stores as 16-bit
// rows.
void widen16(const Target &tg, const GemmLayer &g, const GemmTables &tb,
             bool onePass, LayerCode &code) {
  const int64_t actHalf = int64_t(tg.memRows(tg.memOf(Cls::Act)) / 2),
                accHalf = int64_t(tg.memRows(tg.memOf(Cls::Acc)) / 2),
                parHalf = int64_t(tg.memRows(tg.memOf(Cls::Param)) / 2);
  const uint64_t tableBytes =
      uint64_t(ceilDiv(g.K, tg.lanes) * 3 * tg.lanes * 4);
  for (StepCode &sc : code.steps) {
    std::vector<Op> loads;
    for (const Op &op : sc.loads) {
      loads.push_back(op);
      Op &l = loads.back();
      if (g.in16 && l.kind == OpKind::Load && l.cls == Cls::Act)
        l.w16 = true;
      if (g.in16 && l.kind == OpKind::Copy)
        l.w16 = true;
      if (g.in16 && l.kind == OpKind::Load && l.cls == Cls::Param &&
          uint64_t(l.dram) >= tb.rqParamOff &&
          uint64_t(l.dram) < tb.rqParamOff + tableBytes) {
        Op hi = l;
        hi.row += parHalf;
        hi.dram = int64_t(tb.rqParamHiOff + (uint64_t(l.dram) - tb.rqParamOff));
        loads.push_back(hi);
      }
    }
    sc.loads = std::move(loads);
    std::vector<Op> compute;
    for (const Op &op : sc.compute) {
      compute.push_back(op);
      if (!g.in16 || (op.kind != OpKind::Gemm && op.kind != OpKind::DwGemm))
        continue;
      if (onePass) {
        compute.back().w16 = true;
        continue;
      }
      Op hi = op;
      hi.act += actHalf;
      hi.acc += accHalf;
      compute.push_back(hi);
    }
    sc.compute = std::move(compute);
    for (Op &op : sc.tail) {
      if (op.kind == OpKind::Requant) {
        op.acc16 = g.in16;
        op.out16 = g.out16;
        if (g.out16)
          op.zp = op.min = op.max = 0;
      }
      if (g.out16 && op.kind == OpKind::Store && op.cls == Cls::Out)
        op.w16 = true;
    }
  }
}

} // namespace ember::accel
