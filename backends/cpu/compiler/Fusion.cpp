// Grouping of lowered nodes into the steps the code generator emits
// (README.md, "Fusion rules"):
//  1. Operator stacking: a Conv or MatMul absorbs the chain of single-use
//     nodes after it that the kernel epilogue computes: Adds of a constant
//     per-channel (per-column) bias, one Add of a same-shape residual
//     (before or after the activation), and one activation (Relu, or
//     Max/Min with scalar constants = Clip).
//     Then a post chain: the elementwise nodes computed from that result
//     (and scalar constants, and at most one same-shape tensor when there
//     is no residual yet) that nothing else reads: SiLU, HardSwish, Gelu,
//     ... run by a generated function on each piece of the step's result
//     while it is in cache (growPostChain).
//     ConvInteger/MatMulInteger (int8) absorb the Adds of a constant int32
//     per-channel bias and the Requantize after them (per tensor, or per
//     channel along the output channel axis), the integer forms of
//     docs/quantization.md; the kernels requantize bit-exactly.
//  2. Loop fusion: an elementwise node absorbs the elementwise producers
//     whose results only it (or the nodes it absorbed) reads and that have
//     its element count, so a chain becomes one loop nest with no
//     intermediate tensors; Transpose/Slice/Expand producers fold into the
//     loads as affine index maps.
//  3. Everything else is a group of its own.
#include "Capability.h"
#include "Program.h"

#include "runtime/RtAbi.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>
#include <unordered_map>
#include <unordered_set>

namespace ember::cpugen {

namespace {

struct Ctx {
  const Function &f;
  const CompileConfig &cfg;
  std::unordered_map<const Node *, std::vector<Use>> users;
  std::unordered_map<const Node *, size_t> position;
  std::vector<const Node *> order; // the non-storage nodes by position
  std::unordered_map<const Node *, int> groupOf;
  // Moves folded into every group that reads them (foldsEverywhere).
  std::unordered_set<const Node *> sharedMoves;
  // The nodes of the kernel groups (operator stacking: a Conv's or
  // MatMul's epilogue).
  std::unordered_set<const Node *> kernelMembers;
  FusionStats stats;

  bool isOutput(const Node *n) const { return isGraphOutput(users, n); }
  // The one user of n's result (null if none, several, or an output).
  const Node *singleUser(const Node *n) const {
    auto it = users.find(n);
    if (it == users.end() || it->second.size() != 1 || !it->second[0].user)
      return nullptr;
    return it->second[0].user;
  }
  // Whether Move n may fold into every loop that reads it, as a member of
  // each (no group computes it alone and it is never stored): its users
  // are all elementwise, movement or reduction nodes that no kernel
  // epilogue took (an epilogue reads its operands from memory), it is not
  // a graph output, and it has a single result. A transposed fused
  // projection read by the three Gathers of Q, K and V is then folded
  // into each of them.
  bool foldsEverywhere(const Node *n) const {
    auto it = users.find(n);
    if (loopClass(*n) != OpClass::Move || n->numResults() != 1 ||
        it == users.end() || it->second.empty())
      return false;
    for (auto &u : it->second) {
      if (!u.user || kernelMembers.count(u.user))
        return false;
      const OpClass uc = loopClass(*u.user);
      if (uc != OpClass::Move && uc != OpClass::Loop && uc != OpClass::Reduce)
        return false;
    }
    return true;
  }
  bool allUsersIn(const Node *n,
                  const std::unordered_set<const Node *> &set) const {
    auto it = users.find(n);
    if (it == users.end() || it->second.empty())
      return false;
    for (auto &u : it->second)
      if (!u.user || !set.count(u.user))
        return false;
    return true;
  }
  bool allUsersIn(const Node *n, const Group &g) const {
    auto it = users.find(n);
    if (it == users.end() || it->second.empty())
      return false;
    for (auto &u : it->second)
      if (!u.user || !contains(g, u.user))
        return false;
    return true;
  }
};

Dims stripLeadingOnes(const Dims &d) {
  size_t i = 0;
  while (i < d.size() && d[i] == 1)
    ++i;
  return Dims(d.begin() + long(i), d.end());
}

// Per-channel (conv, axis 1 of rank r) or per-column (matmul, last axis)
// constant for result dims `y`: the folded bias values, or false.
bool channelConstant(const Value &c, const Dims &y, bool perColumn,
                     std::vector<float> &vals) {
  if (!isConstant(c) || c.type().elem() != ElemKind::F32)
    return false;
  const Tensor &t = *c.node->payload;
  const Dims &d = t.dims();
  if (d.size() > y.size())
    return false;
  size_t axis = perColumn ? y.size() - 1 : 1;
  if (y.size() < 2)
    return false;
  int64_t n = y[axis];
  size_t off = y.size() - d.size();
  int64_t count = 1;
  for (size_t i = 0; i < d.size(); ++i) {
    size_t yi = off + i;
    if (yi == axis) {
      if (d[i] != n && d[i] != 1)
        return false;
      count = d[i];
    } else if (d[i] != 1) {
      return false;
    }
  }
  vals.assign(size_t(n), 0.0f);
  for (int64_t i = 0; i < n; ++i)
    vals[size_t(i)] = t.data<float>()[count == 1 ? 0 : i];
  return true;
}

// The other operand of a binary node whose operand `self` is the chain.
Value otherOperand(const Node *n, const Node *self) {
  if (n->inputs.size() != 2)
    return Value();
  if (n->inputs[0].node == self && n->inputs[1].node != self)
    return n->inputs[1];
  if (n->inputs[1].node == self && n->inputs[0].node != self)
    return n->inputs[0];
  return Value();
}

// Whether n may be a member of a post chain: an elementwise computation
// (a Loop row whose operands are all read at the element's index) with one
// result of the step's dims.
bool postCandidate(const Ctx &c, const Node *n, const Dims &y) {
  // (A 16-bit float result is the f16 round trip WidenHalf.cpp leaves, which
  // the epilogue's roundF16 takes after the chain.)
  if (c.groupOf.count(n) || n->numResults() != 1 ||
      loopClass(*n) != OpClass::Loop || n->types[0].dims() != y ||
      isHalfFloatKind(n->types[0].elem()))
    return false;
  // (Operands with index maps of their own.)
  const OpKind k = n->kind;
  if (k == OpKind::QuantizeLinear || k == OpKind::DequantizeLinear ||
      k == OpKind::Requantize || k == OpKind::TableLookup ||
      k == OpKind::ConstantOfShape)
    return false;
  std::string why;
  return nodeSupported(*n, why);
}

// The post chain after `cur`, the last node the kernel's epilogue computes
// (RtAbi.h, ember_rt_post). Candidates are found forward from cur, in
// graph order: elementwise nodes whose operands are cur, earlier
// candidates, scalar constants, or one other value of cur's type (a
// residual, when the epilogue has none: YOLO's x + SiLU(conv(x))). The
// chain is then the largest set that ends in one node of cur's type and
// whose other nodes (cur too) are read by nothing else and are not graph
// outputs: the values between them are never stored. Codegen emits the
// chain as a function of the step's result (emitPostFunction); the steps
// call it per piece. Bit for bit what the loop would compute: the same
// operations on the same stored values.
void growPostChain(Ctx &c, Group &g, const Node *&cur) {
  const Type &yt = cur->types[0];
  if (!c.cfg.fuse || !c.cfg.post || c.isOutput(cur) ||
      yt.elem() != ElemKind::F32)
    return;
  const Dims &y = yt.dims();
  std::unordered_set<const Node *> in{cur};
  std::vector<const Node *> cand;
  Value extra;
  std::set<size_t> frontier;
  auto pushUsers = [&](const Node *n) {
    auto it = c.users.find(n);
    if (it != c.users.end())
      for (auto &u : it->second)
        if (u.user)
          frontier.insert(c.position.at(u.user));
  };
  pushUsers(cur);
  constexpr size_t kMaxChain = 64;
  while (!frontier.empty() && cand.size() < kMaxChain) {
    const Node *u = c.order[*frontier.begin()];
    frontier.erase(frontier.begin());
    if (in.count(u) || !postCandidate(c, u, y))
      continue;
    bool ok = true;
    Value ext = extra;
    for (auto &v : u->inputs) {
      double sc;
      if (!v || in.count(v.node) || scalarConstant(v, sc))
        continue;
      if (v.type() == yt && !isConstant(v) && !g.epi.residual &&
          (!ext || ext == v)) {
        ext = v;
        continue;
      }
      ok = false;
      break;
    }
    if (!ok)
      continue;
    extra = ext;
    in.insert(u);
    cand.push_back(u);
    pushUsers(u);
  }
  // The chain: the last candidate of cur's type whose backward closure
  // holds every reader of cur and of each of its nodes but itself.
  for (size_t k = cand.size(); k-- > 0;) {
    const Node *root = cand[k];
    if (root->types[0] != yt)
      continue;
    std::unordered_set<const Node *> chain{root};
    std::vector<const Node *> work{root};
    while (!work.empty()) {
      const Node *n = work.back();
      work.pop_back();
      for (auto &v : n->inputs)
        if (v && v.node != cur && in.count(v.node) &&
            chain.insert(v.node).second)
          work.push_back(v.node);
    }
    bool closed = true;
    bool readsExtra = false;
    for (const Node *n : chain)
      for (auto &v : n->inputs)
        readsExtra = readsExtra || (extra && v == extra);
    chain.insert(cur);
    for (const Node *n : chain) {
      if (n == root)
        continue;
      closed = closed && !c.isOutput(n) && c.allUsersIn(n, chain);
    }
    chain.erase(cur);
    if (!closed)
      continue;
    std::vector<const Node *> members(chain.begin(), chain.end());
    std::sort(members.begin(), members.end(),
              [&](const Node *a, const Node *b) {
                return c.position.at(a) < c.position.at(b);
              });
    g.epi.post = members;
    g.epi.postInput = cur;
    if (readsExtra) {
      g.epi.residual = extra;
      g.epi.residualAfter = true;
      g.epi.postResidual = true;
    }
    for (const Node *m : members)
      g.members.push_back(m);
    c.stats.fusedEpilogueNodes += members.size();
    ++c.stats.postChains;
    cur = root;
    return;
  }
}

// Operator stacking after a Conv or MatMul.
void growEpilogue(Ctx &c, Group &g) {
  const Node *anchor = g.anchor;
  bool perColumn = anchor->kind == OpKind::MatMul;
  const Dims &y = anchor->types[0].dims();
  std::vector<float> bias;
  bool haveBias = false;
  if (anchor->kind == OpKind::Conv && anchor->hasInput(2)) {
    const Value &b = anchor->inputs[2];
    if (isConstant(b)) {
      const Tensor &t = *b.node->payload;
      bias.assign(t.data<float>(), t.data<float>() + t.size());
      haveBias = true;
    } else {
      g.epi.biasValue = b;
    }
  }
  int stage = 0; // 0: bias, 1: residual before act, 2: after act, 3: done
  const Node *cur = anchor;
  while (c.cfg.fuse && stage < 3) {
    if (c.isOutput(cur))
      break;
    const Node *next = c.singleUser(cur);
    if (!next || c.groupOf.count(next) || next->types[0] != cur->types[0])
      break;
    std::string why;
    if (!nodeSupported(*next, why))
      break;
    Value other = otherOperand(next, cur);
    std::vector<float> vals;
    double s = 0;
    bool ok = false;
    if (next->kind == OpKind::Add && other) {
      if (stage == 0 && !g.epi.biasValue &&
          channelConstant(other, y, perColumn, vals)) {
        if (!haveBias)
          bias.assign(vals.size(), 0.0f);
        for (size_t i = 0; i < vals.size(); ++i)
          bias[i] += vals[i];
        haveBias = true;
        ok = true;
      } else if (other.type() == cur->types[0] && !g.epi.residual &&
                 (stage <= 1 || stage == 2)) {
        g.epi.residual = other;
        g.epi.residualAfter = stage == 2;
        stage = stage == 2 ? 3 : 1;
        ok = true;
      }
    } else if (next->kind == OpKind::Relu && stage <= 1) {
      g.epi.act = EMBER_RT_ACT_RELU;
      stage = 2;
      ok = true;
    } else if ((next->kind == OpKind::Max || next->kind == OpKind::Min) &&
               other && scalarConstant(other, s) && !std::isnan(s)) {
      bool isMax = next->kind == OpKind::Max;
      float inf = std::numeric_limits<float>::infinity();
      if (stage <= 1) {
        g.epi.act = EMBER_RT_ACT_CLIP;
        g.epi.lo = isMax ? float(s) : -inf;
        g.epi.hi = isMax ? inf : float(s);
        stage = 2;
        ok = true;
      } else if (stage == 2 && g.epi.act == EMBER_RT_ACT_CLIP &&
                 !g.epi.residual &&
                 ((isMax && g.epi.lo == -inf && float(s) <= g.epi.hi) ||
                  (!isMax && g.epi.hi == inf && float(s) >= g.epi.lo))) {
        (isMax ? g.epi.lo : g.epi.hi) = float(s);
        ok = true;
      }
    }
    if (!ok)
      break;
    g.members.push_back(next);
    ++c.stats.fusedEpilogueNodes;
    cur = next;
  }
  growPostChain(c, g, cur);
  // The f16 round trip WidenHalf.cpp leaves after a widened op (Cast to f16,
  // Cast back to f32), when it is the result's only reader: the kernels
  // round each output as their last step. f16 only (bf16 keeps its loop).
  if (c.cfg.fuse && !c.isOutput(cur)) {
    const Node *h = c.singleUser(cur);
    const Node *back = h && !c.isOutput(h) ? c.singleUser(h) : nullptr;
    if (back && !c.groupOf.count(h) && !c.groupOf.count(back) &&
        h->kind == OpKind::Cast && back->kind == OpKind::Cast &&
        cur->types[0].elem() == ElemKind::F32 &&
        h->types[0].elem() == ElemKind::F16 &&
        back->types[0] == cur->types[0]) {
      g.epi.roundF16 = true;
      g.members.push_back(h);
      g.members.push_back(back);
      c.stats.fusedEpilogueNodes += 2;
      cur = back;
    }
  }
  if (haveBias) {
    Tensor t(Type(ElemKind::F32, {int64_t(bias.size())}));
    std::copy(bias.begin(), bias.end(), t.data<float>());
    g.epi.bias = std::make_shared<const Tensor>(std::move(t));
  }
  g.root = cur;
}

// A constant integer per-channel value along `axis` of result dims y (one
// value, or y[axis] values with every other dim 1), or false.
bool intChannelConstant(const Value &c, const Dims &y, size_t axis,
                        std::vector<int64_t> &vals) {
  if (!isConstant(c) || c.type().elem() != ElemKind::I32)
    return false;
  const Tensor &t = *c.node->payload;
  const Dims &d = t.dims();
  if (d.size() > y.size())
    return false;
  int64_t n = y[axis], count = 1;
  size_t off = y.size() - d.size();
  for (size_t i = 0; i < d.size(); ++i) {
    if (off + i == axis) {
      if (d[i] != n && d[i] != 1)
        return false;
      count = d[i];
    } else if (d[i] != 1) {
      return false;
    }
  }
  vals.assign(size_t(n), 0);
  for (int64_t i = 0; i < n; ++i)
    vals[size_t(i)] = t.getInt(count == 1 ? 0 : i);
  return true;
}

// Operator stacking after a ConvInteger or MatMulInteger: constant int32
// bias Adds, then a Requantize whose tables are per tensor or per output
// channel and whose zero points are constants.
void growQuantEpilogue(Ctx &c, Group &g) {
  const Node *anchor = g.anchor;
  const Dims &y = anchor->types[0].dims();
  size_t axis = anchor->kind == OpKind::ConvInteger ? 1 : y.size() - 1;
  g.root = anchor;
  if (!c.cfg.fuse || y.empty())
    return;
  std::vector<int64_t> bias;
  const Node *cur = anchor;
  auto next = [&]() -> const Node * {
    if (c.isOutput(cur))
      return nullptr;
    const Node *u = c.singleUser(cur);
    std::string why;
    if (!u || c.groupOf.count(u) || !nodeSupported(*u, why))
      return nullptr;
    return u;
  };
  while (const Node *u = next()) {
    std::vector<int64_t> vals;
    Value other = otherOperand(u, cur);
    if (u->kind != OpKind::Add || !other || u->types[0] != cur->types[0] ||
        !intChannelConstant(other, y, axis, vals))
      break;
    if (bias.empty())
      bias.assign(vals.size(), 0);
    for (size_t i = 0; i < vals.size(); ++i)
      bias[i] = int64_t(int32_t(uint32_t(bias[i]) + uint32_t(vals[i])));
    g.members.push_back(u);
    ++c.stats.fusedEpilogueNodes;
    cur = u;
  }
  int64_t xzp = 0;
  const Node *rq = next();
  // (The float32 profile's Requantize has an f32 multiplier and no shift.)
  // (The kernels' epilogues round once, as mbqm: a gemmlowp Requantize,
  // rounding twice, stays a loop of its own.)
  bool ok = rq && rq->kind == OpKind::Requantize && rq->inputs[0].node == cur &&
            rq->attrString("requant", "fixed") != "gemmlowp" &&
            isConstant(rq->inputs[1]) &&
            (rq->hasInput(2) ? isConstant(rq->inputs[2])
                             : rq->inputs[1].type().elem() == ElemKind::F32);
  if (ok && rq->hasInput(3)) {
    double v = 0;
    ok = scalarConstant(rq->inputs[3], v);
    xzp = int64_t(v);
  }
  if (ok && rq->hasInput(4)) {
    double v = 0;
    ok = scalarConstant(rq->inputs[4], v);
  }
  if (ok && rq->inputs[1].type().numElements() != 1) {
    int64_t r = int64_t(y.size()), a = rq->attrInt("axis", 1);
    ok = (a < 0 ? a + r : a) == int64_t(axis);
  }
  if (ok) {
    // Requantize subtracts x_zero_point from the accumulator with int32
    // wraparound: the same as a bias of -x_zero_point.
    if (bias.empty() && xzp != 0)
      bias.assign(size_t(y[axis]), 0);
    for (int64_t &b : bias)
      b = int64_t(int32_t(uint32_t(b) - uint32_t(xzp)));
    g.members.push_back(rq);
    ++c.stats.fusedEpilogueNodes;
    g.requant = rq;
    cur = rq;
  }
  g.qbias.assign(bias.begin(), bias.end());
  g.root = cur;
}

GroupKind kindFor(OpClass c) {
  switch (c) {
  case OpClass::View:
    return GroupKind::View;
  case OpClass::Concat:
    return GroupKind::Concat;
  case OpClass::Split:
    return GroupKind::Split;
  case OpClass::Conv:
    return GroupKind::Conv;
  case OpClass::ConvT:
    return GroupKind::ConvT;
  case OpClass::MatMul:
    return GroupKind::MatMul;
  case OpClass::Pool:
    return GroupKind::Pool;
  case OpClass::Reduce:
    return GroupKind::Reduce;
  case OpClass::QConv:
    return GroupKind::QConv;
  case OpClass::QMatMul:
    return GroupKind::QMatMul;
  case OpClass::Recurrent:
    return GroupKind::Recurrent;
  case OpClass::Emit:
    return GroupKind::Emit;
  case OpClass::Loop:
  case OpClass::Move:
  case OpClass::Gather:
  case OpClass::None:
    break;
  }
  return GroupKind::Loop;
}

// Loop fusion: absorbs producers into the loop group rooted at g.root,
// computed once per element of `space` (the root's result; a reduction's
// operand for a Reduce group).
void growLoop(Ctx &c, Group &g, int gi, const Type &space) {
  if (!c.cfg.fuse)
    return;
  Dims rootDims = stripLeadingOnes(space.dims());
  int64_t rootCount = space.numElements();
  for (size_t k = 0; k < g.members.size(); ++k) {
    const Node *m = g.members[k];
    OpClass mc = loopClass(*m);
    if (mc == OpClass::Gather)
      continue; // its operands are read through their own index maps
    for (size_t i = 0; i < m->inputs.size(); ++i) {
      const Node *p = m->inputs[i].node;
      if (!p || isStorage(p->kind) || contains(g, p))
        continue;
      // (A Move folded everywhere joins every group that reads it.)
      const bool shared = c.foldsEverywhere(p) || c.sharedMoves.count(p);
      if (!shared && (c.groupOf.count(p) || p->numResults() != 1 ||
                      c.isOutput(p) || !c.allUsersIn(p, g)))
        continue;
      // Move's data operand only (Slice bounds etc. are constants anyway);
      // quantization parameters and shapes are read through their own maps.
      if ((mc == OpClass::Move || m->kind == OpKind::QuantizeLinear ||
           m->kind == OpKind::DequantizeLinear ||
           m->kind == OpKind::Requantize || m->kind == OpKind::TableLookup) &&
          i != 0)
        continue;
      if (m->kind == OpKind::ConstantOfShape)
        continue;
      std::string why;
      if (!nodeSupported(*p, why))
        continue;
      OpClass pc = loopClass(*p);
      bool take = false;
      if (pc == OpClass::Move) {
        // An affine map of its operand: always foldable into a load.
        take = true;
      } else if (mc != OpClass::Move &&
                 (pc == OpClass::Loop || pc == OpClass::Gather)) {
        // Computed once per result element: same element count and shape
        // (up to leading ones) as the loop, and read by computing members
        // only (a Move member would need it at another index).
        bool readByMoves = false;
        for (auto &u : c.users.at(p))
          readByMoves = readByMoves || loopClass(*u.user) == OpClass::Move;
        take = !readByMoves && p->types[0].numElements() == rootCount &&
               stripLeadingOnes(p->types[0].dims()) == rootDims;
      }
      if (!take)
        continue;
      g.members.push_back(p);
      if (shared)
        c.sharedMoves.insert(p);
      if (!c.groupOf.count(p))
        c.groupOf[p] = gi;
      if (pc == OpClass::Move)
        ++c.stats.foldedMoves;
      else
        ++c.stats.fusedLoopNodes;
    }
  }
}

// A float ReduceMin read beside a ReduceMax of the same operand (or the
// other way round): DynamicQuantizeLinear's range, any min/max pair. The
// root's group computes it in the same pass over the operand (Group::
// sibling), so the operand and its fused producers are read once. Needs
// the same operand, axes and keepdims, one result not an output, rank
// below 4 (no channels-last choice to agree on), and every reader after
// `n`, where the pair is computed.
const Node *siblingReduction(const Ctx &c, const Node *n) {
  auto minMax = [](OpKind k) {
    return k == OpKind::ReduceMin || k == OpKind::ReduceMax;
  };
  if (!c.cfg.fuse || !minMax(n->kind) || n->types[0].rank() >= 4 ||
      !n->inputs[0].node)
    return nullptr;
  auto it = c.users.find(n->inputs[0].node);
  if (it == c.users.end())
    return nullptr;
  for (auto &u : it->second) {
    const Node *s = u.user;
    if (!s || s == n || u.operand != 0 || !minMax(s->kind) ||
        s->kind == n->kind || c.groupOf.count(s) || c.isOutput(s) ||
        s->numResults() != 1 || s->inputs.size() != n->inputs.size() ||
        s->inputs[0] != n->inputs[0] || !(s->types[0] == n->types[0]) ||
        s->attrInt("keepdims", 1) != n->attrInt("keepdims", 1) ||
        s->attrInt("noop_with_empty_axes", 0) !=
            n->attrInt("noop_with_empty_axes", 0) ||
        s->hasAttr("axes") != n->hasAttr("axes") ||
        (s->hasAttr("axes") && s->attrInts("axes") != n->attrInts("axes")))
      continue;
    if (s->inputs.size() > 1 && s->inputs[1] != n->inputs[1])
      continue; // the same axes value (a constant shared by both)
    std::string why;
    if (!nodeSupported(*s, why))
      continue;
    bool later = true;
    auto su = c.users.find(s);
    if (su == c.users.end() || su->second.empty())
      continue;
    for (auto &r : su->second) {
      auto pos = r.user ? c.position.find(r.user) : c.position.end();
      later =
          later && pos != c.position.end() && pos->second > c.position.at(n);
    }
    if (later)
      return s;
  }
  return nullptr;
}

// A float softmax along the innermost axis as lowering writes it (and as
// exporters that decompose it do): Div(e, ReduceSum(e)) with e =
// Exp(Sub(x, ReduceMax(x))), both reductions over the last axis alone with
// keepdims, every intermediate read only by the next nodes of the chain and
// not a graph output. Returns the chain's nodes in graph order (ReduceMax,
// Sub, Exp, ReduceSum, Div), or an empty vector. Codegen::emitSoftmax runs
// it a line at a time: four passes over a line in cache instead of four
// over the tensor.
std::vector<const Node *> softmaxChain(const Ctx &c, const Node *dv) {
  if (!c.cfg.fuse || dv->kind != OpKind::Div || dv->numResults() != 1 ||
      dv->types[0].elem() != ElemKind::F32 || dv->types[0].rank() == 0)
    return {};
  const Node *ex = dv->inputs[0].node, *sm = dv->inputs[1].node;
  if (!ex || !sm || ex->kind != OpKind::Exp || sm->kind != OpKind::ReduceSum)
    return {};
  const Node *sub = ex->inputs[0].node;
  if (!sub || sub->kind != OpKind::Sub ||
      sm->inputs[0] != Value(const_cast<Node *>(ex), 0))
    return {};
  const Node *mx = sub->inputs[1].node;
  const Value &x = sub->inputs[0];
  if (!mx || mx->kind != OpKind::ReduceMax || mx->inputs[0] != x ||
      x.type().elem() != ElemKind::F32 || !(x.type() == dv->types[0]) ||
      !(ex->types[0] == dv->types[0]) || !(sub->types[0] == dv->types[0]))
    return {};
  const int64_t last = int64_t(x.type().rank()) - 1;
  auto lastAxisKept = [&](const Node *r) {
    std::vector<int64_t> axes;
    if (r->hasInput(1)) {
      if (!constantInts(r->inputs[1], axes))
        return false;
    } else if (r->hasAttr("axes")) {
      axes = r->attrInts("axes");
    }
    return r->attrInt("keepdims", 1) == 1 && axes.size() == 1 &&
           (axes[0] == last || axes[0] == -1);
  };
  if (!lastAxisKept(mx) || !lastAxisKept(sm))
    return {};
  std::vector<const Node *> chain{mx, sub, ex, sm, dv};
  const std::unordered_set<const Node *> in(chain.begin(), chain.end());
  for (const Node *n : chain) {
    if (c.groupOf.count(n) || (n != dv && c.isOutput(n)))
      return {};
    if (n != dv && !c.allUsersIn(n, in))
      return {};
  }
  return chain;
}

} // namespace

Expected<std::vector<Group>>
formGroups(const Function &f, const CompileConfig &cfg, FusionStats *stats) {
  Ctx c{f, cfg, f.computeUsers(), {}, {}, {}, {}, {}, {}};
  std::vector<const Node *> nodes;
  for (auto &n : f.nodes())
    if (!isStorage(n->kind)) {
      c.position[n.get()] = nodes.size();
      nodes.push_back(n.get());
      c.order.push_back(n.get());
    }
  for (const Node *n : nodes) {
    std::string why;
    if (!nodeSupported(*n, why))
      return unsupported(n->describe(), ": ", why);
  }
  std::vector<Group> groups;
  // 1. Operator stacking, in graph order.
  for (const Node *n : nodes) {
    OpClass oc = opClass(n->kind);
    if (oc != OpClass::Conv && oc != OpClass::MatMul && oc != OpClass::QConv &&
        oc != OpClass::QMatMul)
      continue;
    Group g;
    g.kind = kindFor(oc);
    g.anchor = n;
    g.members.push_back(n);
    if (oc == OpClass::QConv || oc == OpClass::QMatMul)
      growQuantEpilogue(c, g);
    else
      growEpilogue(c, g);
    int gi = int(groups.size());
    for (const Node *m : g.members) {
      c.groupOf[m] = gi;
      c.kernelMembers.insert(m);
    }
    groups.push_back(std::move(g));
  }
  // 2. Everything else, from the last node back, so that a loop sees all
  // of a producer's users before deciding to absorb it.
  for (size_t i = nodes.size(); i-- > 0;) {
    const Node *n = nodes[i];
    if (c.groupOf.count(n))
      continue;
    Group g;
    std::vector<const Node *> sm = softmaxChain(c, n);
    if (!sm.empty()) {
      g.kind = GroupKind::Softmax;
      g.root = g.anchor = n;
      g.members = sm;
      for (const Node *m : sm)
        c.groupOf[m] = int(groups.size());
      ++c.stats.softmaxRows;
      groups.push_back(std::move(g));
      continue;
    }
    OpClass oc = opClass(n->kind);
    g.kind = kindFor(oc);
    g.root = n;
    if (oc == OpClass::Pool || oc == OpClass::Reduce || oc == OpClass::ConvT ||
        oc == OpClass::QConv || oc == OpClass::QMatMul || oc == OpClass::Emit ||
        oc == OpClass::Recurrent)
      g.anchor = n;
    g.members.push_back(n);
    int gi = int(groups.size());
    c.groupOf[n] = gi;
    if (g.kind == GroupKind::Loop)
      growLoop(c, g, gi, n->types[0]);
    // A float or integer reduction computes its operand's elementwise
    // producers as it reads them (Codegen::emitFusedReduce): a
    // normalization's sum of squared deviations reads the deviations, not a
    // squared copy of them, and an int8 mean (Cast to int32, ReduceSum) the
    // 8-bit values, not an int32 copy four times their size (DS-CNN's:
    // 20 KB of its arena as a microcontroller bundle).
    const ElemKind rk = n->inputs[0].type().elem();
    const bool intReduce = rk == ElemKind::I8 || rk == ElemKind::U8 ||
                           rk == ElemKind::I16 || rk == ElemKind::U16 ||
                           rk == ElemKind::I32 || rk == ElemKind::U32 ||
                           rk == ElemKind::I64;
    if (g.kind == GroupKind::Reduce && n->kind != OpKind::ArgMax &&
        n->kind != OpKind::ArgMin && (rk == ElemKind::F32 || intReduce)) {
      if (const Node *s =
              rk == ElemKind::F32 ? siblingReduction(c, n) : nullptr) {
        g.sibling = s;
        g.members.push_back(s);
        c.groupOf[s] = gi;
      }
      growLoop(c, g, gi, n->inputs[0].type());
    }
    groups.push_back(std::move(g));
  }
  // Members in graph order; groups in the order of their roots.
  for (auto &g : groups)
    std::sort(g.members.begin(), g.members.end(),
              [&](const Node *a, const Node *b) {
                return c.position.at(a) < c.position.at(b);
              });
  std::sort(groups.begin(), groups.end(), [&](const Group &a, const Group &b) {
    return c.position.at(a.root) < c.position.at(b.root);
  });
  c.stats.nodes = nodes.size();
  c.stats.groups = groups.size();
  if (stats)
    *stats = c.stats;
  return groups;
}

} // namespace ember::cpugen
