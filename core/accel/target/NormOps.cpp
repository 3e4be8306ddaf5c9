// The integer normalization's operations in a target description
// (TargetInternal.h): what a description that declares them must hold.
#include "TargetInternal.h"

#include <utility>

namespace ember::accel {

Status normOpsFit(const Target &t) {
  const int acc = t.memOf(Cls::Acc), out = t.memOf(Cls::Out);
  // Each row field against the memory of its class (vreduce reads out rows
  // into acc rows, rscalar acc rows into acc rows, vrowmul and vrowexp out
  // and acc rows into out rows).
  const std::pair<OpKind, std::pair<const char *, int>> rows[] = {
      {OpKind::VReduce, {"dst", acc}},   {OpKind::VReduce, {"src", out}},
      {OpKind::RScalar, {"dst", acc}},   {OpKind::RScalar, {"src", acc}},
      {OpKind::VRowMul, {"dst", out}},   {OpKind::VRowMul, {"src", out}},
      {OpKind::VRowMul, {"scal", acc}},  {OpKind::VRowMul, {"sum", acc}},
      {OpKind::VRowMul, {"param", acc}}, {OpKind::VRowExp, {"dst", out}},
      {OpKind::VRowExp, {"src", out}},   {OpKind::VRowExp, {"scal", acc}},
      {OpKind::VRowExp, {"sum", acc}}};
  for (const auto &r : rows) {
    const OpKind k = r.first;
    const char *f = r.second.first;
    const int m = r.second.second;
    if (!t.has(k))
      continue;
    const std::string where = std::string("ops.") + opKindName(k) + "." + f;
    if (m < 0)
      return invalid(where, ": no memory holds the class its rows address");
    const int64_t most = t.ops[size_t(k)].max(f);
    if (most != INT64_MAX && uint64_t(most) + 1 < t.memRows(m)) {
      unsigned bits = 0;
      while (bits < 64 && (uint64_t(1) << bits) < uint64_t(most) + 1)
        ++bits;
      return invalid(where, ": ", bits, " bits cannot address memories[", m,
                     "] '", t.memories[size_t(m)].name, "' (", t.memRows(m),
                     " rows)");
    }
  }
  // The registers they read whenever they run.
  auto need = [&](Reg r, const char *who) {
    return t.regs[size_t(r)] >= 0
               ? Status::ok()
               : invalid("registers.", regRoleName(r), ": missing; ", who,
                         " takes its parameters from it");
  };
  if (t.has(OpKind::VRowMul))
    for (Reg r :
         {Reg::RowN, Reg::RowXZp, Reg::RowOutZp, Reg::RowMin, Reg::RowMax})
      EMBER_TRY(need(r, "vrowmul"));
  if (t.declares(OpKind::VReduce, "sq"))
    for (Reg r : {Reg::RowN, Reg::RowXZp, Reg::RowEpsLo, Reg::RowEpsHi})
      EMBER_TRY(need(r, "vreduce sq"));
  // The softmax's: both steps compute the exponentials (the input's
  // multiplier); vrowexp scales and clamps them too.
  const Reg sm[4] = {Reg::RowSmInMult, Reg::RowSmInShift, Reg::RowSmOutMult,
                     Reg::RowSmOutShift};
  if (t.has(OpKind::VRowExp))
    for (Reg r :
         {sm[0], sm[1], sm[2], sm[3], Reg::RowOutZp, Reg::RowMin, Reg::RowMax})
      EMBER_TRY(need(r, "vrowexp"));
  if (t.declares(OpKind::VReduce, "exp"))
    for (Reg r : sm)
      EMBER_TRY(need(r, "vreduce exp"));
  return Status::ok();
}

} // namespace ember::accel
