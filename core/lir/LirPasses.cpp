// The LIR pass registry and driver, and the helpers the passes share
// (docs/lir.md, "Passes").
#include "lir/LirPass.h"

namespace ember::lir {

const std::vector<LirPassInfo> &allLirPasses() {
  static const std::vector<LirPassInfo> passes = {
#define EMBER_LIR_PASS(Class, Name, Desc) {Name, Desc, &run##Class},
#include "lir/LirPasses.def"
  };
  return passes;
}

const LirPassInfo *findLirPass(const std::string &name) {
  for (auto &p : allLirPasses())
    if (name == p.name)
      return &p;
  return nullptr;
}

const std::vector<std::string> &defaultLirPassOrder() {
  static const std::vector<std::string> order = {"dead-alloc-elim", "copy-elim",
                                                 "inplace", "schedule",
                                                 "shrink-lifetimes"};
  return order;
}

Status runLirPasses(Function &f, const std::vector<std::string> &names) {
  for (auto &n : names)
    if (!findLirPass(n))
      return invalid("unknown LIR pass '", n, "'");
  if (names.empty())
    return Status::ok();
  for (auto &b : f.buffers)
    if (b.kind == BufferKind::Activation)
      b.offset = -1;
  EMBER_TRY(verify(f).withContext("LIR before passes"));
  for (auto &n : names) {
    LirPassStats st;
    EMBER_TRY(findLirPass(n)->run(f, st).withContext("LIR pass " + n));
    EMBER_TRY(verify(f).withContext("LIR after pass " + n));
  }
  return Status::ok();
}

std::vector<Operand> touchedOperands(const Function &f, size_t inst) {
  const Instruction &in = f.insts[inst];
  if (isLifetime(in))
    return {};
  if (in.kind != InstKind::DmaWait)
    return in.operands;
  for (size_t j = inst; j-- > 0;)
    if (f.insts[j].kind == InstKind::DmaStart && f.insts[j].token == in.token)
      return f.insts[j].operands;
  return {};
}

std::vector<std::vector<size_t>> bufferUses(const Function &f) {
  std::vector<std::vector<size_t>> uses(f.buffers.size());
  for (size_t i = 0; i < f.insts.size(); ++i)
    for (auto &op : touchedOperands(f, i)) {
      if (!op.ref)
        continue;
      auto &u = uses[f.baseOf(op.ref)];
      if (u.empty() || u.back() != i)
        u.push_back(i);
    }
  return uses;
}

std::vector<bool> dmaBuffers(const Function &f) {
  std::vector<bool> d(f.buffers.size(), false);
  for (auto &in : f.insts)
    if (in.kind == InstKind::DmaStart)
      for (auto &op : in.operands)
        if (op.ref)
          d[f.baseOf(op.ref)] = true;
  return d;
}

void mergeBuffer(Function &f, unsigned from, unsigned to, uint64_t offset,
                 size_t *track) {
  const Type fromType = f.buffers[from].type;
  Ref target = Ref::buffer(to);
  if (offset != 0 || !(f.buffers[to].type == fromType)) {
    // `from`'s name is free once it is merged: the new view takes it.
    View v;
    v.name = f.buffers[from].name;
    f.buffers[from].name += ".merged";
    v.buffer = to;
    v.offset = offset;
    v.type = fromType;
    f.views.push_back(std::move(v));
    target = Ref::view(unsigned(f.views.size() - 1));
  }
  for (auto &v : f.views)
    if (v.buffer == from) {
      v.buffer = to;
      v.offset += offset;
    }
  bool toAct = f.buffers[to].kind == BufferKind::Activation;
  // Lifetimes: the first alloc of either survives as `to`'s, the last
  // dealloc of either survives; the others go.
  long lastDealloc = -1;
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    if (in.kind == InstKind::Dealloc) {
      unsigned b = in.operands[0].ref.index;
      if (b == from || b == to)
        lastDealloc = long(i);
    }
  }
  std::vector<Instruction> out;
  bool allocated = false;
  size_t tracked = track ? *track : 0;
  for (size_t i = 0; i < f.insts.size(); ++i) {
    if (track && i == tracked)
      *track = out.size();
    Instruction in = std::move(f.insts[i]);
    if (isLifetime(in)) {
      unsigned b = in.operands[0].ref.index;
      if (b != from && b != to) {
        out.push_back(std::move(in));
        continue;
      }
      if (!toAct)
        continue;
      if (in.kind == InstKind::Alloc && !allocated) {
        allocated = true;
        in.operands[0].ref = Ref::buffer(to);
        out.push_back(std::move(in));
      } else if (in.kind == InstKind::Dealloc && long(i) == lastDealloc) {
        in.operands[0].ref = Ref::buffer(to);
        out.push_back(std::move(in));
      }
      continue;
    }
    for (auto &op : in.operands)
      if (op.ref.kind == Ref::Kind::Buffer && op.ref.index == from)
        op.ref = target;
    out.push_back(std::move(in));
  }
  f.insts = std::move(out);
}

void removeUnusedDecls(Function &f) {
  std::vector<bool> viewUsed(f.views.size(), false);
  for (auto &in : f.insts)
    for (auto &op : in.operands)
      if (op.ref.kind == Ref::Kind::View)
        viewUsed[op.ref.index] = true;
  std::vector<bool> bufUsed(f.buffers.size(), false);
  for (auto &in : f.insts)
    for (auto &op : in.operands)
      if (op.ref.kind == Ref::Kind::Buffer)
        bufUsed[op.ref.index] = true;
  for (size_t v = 0; v < f.views.size(); ++v)
    if (viewUsed[v])
      bufUsed[f.views[v].buffer] = true;
  std::vector<unsigned> bufMap(f.buffers.size()), viewMap(f.views.size());
  std::vector<Buffer> buffers;
  for (size_t b = 0; b < f.buffers.size(); ++b) {
    BufferKind k = f.buffers[b].kind;
    if (!bufUsed[b] && (k == BufferKind::Activation || k == BufferKind::Weight))
      continue;
    bufMap[b] = unsigned(buffers.size());
    buffers.push_back(std::move(f.buffers[b]));
  }
  std::vector<View> views;
  for (size_t v = 0; v < f.views.size(); ++v) {
    if (!viewUsed[v])
      continue;
    viewMap[v] = unsigned(views.size());
    views.push_back(std::move(f.views[v]));
    views.back().buffer = bufMap[views.back().buffer];
  }
  for (auto &in : f.insts)
    for (auto &op : in.operands) {
      if (op.ref.kind == Ref::Kind::Buffer)
        op.ref.index = bufMap[op.ref.index];
      else if (op.ref.kind == Ref::Kind::View)
        op.ref.index = viewMap[op.ref.index];
    }
  f.buffers = std::move(buffers);
  f.views = std::move(views);
}

size_t rebuildLifetimes(Function &f) {
  size_t nb = f.buffers.size();
  // Where each marker sits now, as (number of other instructions before
  // it), to count what moves.
  std::vector<long> oldAlloc(nb, -1), oldDealloc(nb, -1);
  std::vector<size_t> keep;
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const Instruction &in = f.insts[i];
    if (!isLifetime(in)) {
      keep.push_back(i);
      continue;
    }
    unsigned b = in.operands[0].ref.index;
    (in.kind == InstKind::Alloc ? oldAlloc : oldDealloc)[b] = long(keep.size());
  }
  auto uses = bufferUses(f);
  std::vector<long> pos(f.insts.size(), -1);
  for (size_t k = 0; k < keep.size(); ++k)
    pos[keep[k]] = long(k);
  std::vector<std::vector<unsigned>> allocAt(keep.size()),
      deallocAt(keep.size());
  size_t moved = 0;
  for (size_t b = 0; b < nb; ++b) {
    if (f.buffers[b].kind != BufferKind::Activation)
      continue;
    if (uses[b].empty()) {
      moved += (oldAlloc[b] >= 0) + (oldDealloc[b] >= 0);
      continue;
    }
    long first = pos[uses[b].front()], last = pos[uses[b].back()];
    allocAt[size_t(first)].push_back(unsigned(b));
    deallocAt[size_t(last)].push_back(unsigned(b));
    moved += (oldAlloc[b] != first) + (oldDealloc[b] != last + 1);
  }
  std::vector<Instruction> out;
  for (size_t k = 0; k < keep.size(); ++k) {
    for (unsigned b : allocAt[k]) {
      Instruction a;
      a.kind = InstKind::Alloc;
      a.operands = {{Ref::buffer(b), Access::Out}};
      out.push_back(std::move(a));
    }
    out.push_back(std::move(f.insts[keep[k]]));
    for (unsigned b : deallocAt[k]) {
      Instruction d;
      d.kind = InstKind::Dealloc;
      d.operands = {{Ref::buffer(b), Access::In}};
      out.push_back(std::move(d));
    }
  }
  f.insts = std::move(out);
  return moved;
}

} // namespace ember::lir
