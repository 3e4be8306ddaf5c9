// 1-D convolutions and pools as 2-D ones over a height of 1, so that
// backends need only their 2-D kernels (a CPU backend's channels-last
// convolutions, an NPU's MAC array):
//  - Conv, ConvTranspose, MaxPool (its values only) and AveragePool on
//    x = [N, C, L] become Reshape(x, [N, C, 1, L]) -> the op with every
//    spatial attribute given a leading height entry (kernel 1, stride 1,
//    dilation 1, no padding or output padding; ConvTranspose's
//    output_shape [1, L']) -> Reshape back to [N, C, L']. The weights
//    [M, C/g, k] become [M, C/g, 1, k] (a Reshape constant folding takes).
//  - The Reshape back moves below the elementwise ops that read it (and
//    below per-tensor or channel-axis QuantizeLinear/DequantizeLinear),
//    and a Reshape up moves above an elementwise op all of whose readers
//    are such Reshapes (a weight's or a shared input's DequantizeLinear), so
//    that the activations between two lifted convolutions stay 4-D and the
//    Reshape pairs cancel (cancel-reshape). An elementwise op's other
//    operands broadcast as before: a rank-3 or rank-2 one gains the unit
//    height axis before its last dimension, a lower-rank one is unchanged.
//  - Reductions and global pools of a lifted value run on its 4-D form
//    (the length is axis 3 there), then a Reshape to their result's shape.
// Every sum of the 2-D op runs over the same taps in the same order (the
// height adds one tap of kernel 1), so results are unchanged.
#include "passes/Pass.h"

#include <algorithm>

namespace ember {

namespace {

// [a, b, d] -> [a, b, 1, d]; a rank-2 [b, d] -> [b, 1, d]; lower ranks as
// they are (they broadcast from the right, below the height axis).
Dims lifted(const Dims &d) {
  if (d.size() < 2)
    return d;
  Dims r = d;
  r.insert(r.end() - 1, 1);
  return r;
}

// A Reshape from [a, b, 1, d] to [a, b, d]: a lifted op's way back.
bool isDown(const Node *n) {
  if (n->kind != OpKind::Reshape && n->kind != OpKind::Squeeze)
    return false;
  const Dims &in = n->inputs[0].type().dims(), &out = n->types[0].dims();
  return in.size() == 4 && out.size() == 3 && in[2] == 1 && in[0] == out[0] &&
         in[1] == out[1] && in[3] == out[2];
}

// A Reshape from [a, b, d] to [a, b, 1, d].
bool isUp(const Node *n) {
  if (n->kind != OpKind::Reshape && n->kind != OpKind::Unsqueeze)
    return false;
  const Dims &in = n->inputs[0].type().dims(), &out = n->types[0].dims();
  return in.size() == 3 && out.size() == 4 && out[2] == 1 && lifted(in) == out;
}

bool isLiftableOp(OpKind k) {
  return k == OpKind::Conv || k == OpKind::ConvTranspose ||
         k == OpKind::MaxPool || k == OpKind::AveragePool;
}

// Elementwise ops whose operands broadcast numpy-style (so lifted() keeps
// each operand's alignment), and the Q/DQ ops whose axis is not the
// length (their scale and zero point keep their shape).
bool isLanewise(const Node *n) {
  if (n->numResults() != 1 || n->types[0].rank() != 3)
    return false;
  if (n->kind == OpKind::QuantizeLinear ||
      n->kind == OpKind::DequantizeLinear) {
    if (n->hasAttr("block_size") && n->attrInt("block_size", 0) != 0)
      return false;
    bool perTensor = n->inputs[1].type().numElements() == 1;
    int64_t axis = n->attrInt("axis", 1);
    return perTensor || axis == 0 || axis == 1 || axis == -3 || axis == -2;
  }
  return hasProp(n->kind, P_Elementwise) && n->kind != OpKind::SwiGLU &&
         !n->hasAttr("axis");
}

// Operands of a lanewise op that broadcast; Q/DQ's scale and zero point
// keep their shape.
bool broadcastOperand(const Node *n, size_t i) {
  return !((n->kind == OpKind::QuantizeLinear ||
            n->kind == OpKind::DequantizeLinear) &&
           i > 0);
}

// A reduction (constant axes, or ArgMax/ArgMin's axis) or a global pool
// whose operand is a lifted value brought back to [N, C, L].
bool reducesLifted(const Node *n) {
  if (n->numResults() != 1 || n->inputs.empty() || !n->inputs[0].node ||
      !isDown(n->inputs[0].node))
    return false;
  if (n->kind == OpKind::GlobalAveragePool || n->kind == OpKind::GlobalMaxPool)
    return true;
  if (!hasProp(n->kind, P_Reduction))
    return false;
  return !n->hasInput(1) || n->inputs[1].node->kind == OpKind::Constant;
}

// Axis a of [N, C, L] in [N, C, 1, L].
int64_t liftedAxis(int64_t a) {
  if (a < 0)
    a += 3;
  return a == 2 ? 3 : a;
}

struct Rewriter {
  Function &f;
  PassStats &s;

  // Reshape(v) to `to`, named `name` (or a fresh variant of it).
  Expected<Value> reshape(Value v, const Dims &to, Node *before,
                          const std::string &name) {
    Value shape(
        f.addConstant(name + ".shape", Tensor::fromInts(ElemKind::I64, to)));
    auto r =
        f.create(OpKind::Reshape, {v, shape}, {{"allowzero", Attr::ofInt(1)}},
                 "", 1, before, {f.freshName(name)});
    if (!r)
      return r.status();
    return Value(*r, 0);
  }

  // The op's 2-D attributes: a leading height entry on every spatial list.
  AttrMap liftAttrs(const Node *n) {
    AttrMap a = n->attrs;
    auto prepend = [&](const char *name, int64_t v) {
      auto it = a.find(name);
      if (it == a.end())
        return;
      std::vector<int64_t> x = it->second.ints;
      x.insert(x.begin(), v);
      it->second = Attr::ofInts(x);
    };
    prepend("kernel_shape", 1);
    prepend("strides", 1);
    prepend("dilations", 1);
    prepend("output_padding", 0);
    prepend("output_shape", 1);
    auto p = a.find("pads");
    if (p != a.end() && p->second.ints.size() == 2) {
      auto x = p->second.ints;
      p->second = Attr::ofInts({0, x[0], 0, x[1]});
    }
    return a;
  }

  // Conv/ConvTranspose/pool on [N, C, L] -> 2-D with a height of 1.
  Status liftOp(Node *n) {
    std::vector<Value> ins = n->inputs;
    EMBER_ASSIGN(ins[0], reshape(ins[0], lifted(ins[0].type().dims()), n,
                                 ins[0].name() + ".h1"));
    if ((n->kind == OpKind::Conv || n->kind == OpKind::ConvTranspose) &&
        n->hasInput(1)) {
      EMBER_ASSIGN(ins[1], reshape(ins[1], lifted(ins[1].type().dims()), n,
                                   ins[1].name() + ".h1"));
    }
    return replaceWith2d(n, ins, liftAttrs(n));
  }

  // n (rank-3 result) replaced by its op on the 4-D operands `four` with
  // `attrs`, whose result goes back down to n's shape.
  Status replaceWith2d(Node *n, const std::vector<Value> &four,
                       const AttrMap &attrs) {
    auto r = f.create(n->kind, four, attrs, n->name, 1, n,
                      {f.freshName(n->outNames[0] + ".2d")});
    if (!r)
      return r.status();
    EMBER_ASSIGN(Value down, reshape(Value(*r, 0), n->types[0].dims(), n,
                                     n->outNames[0] + ".1d"));
    f.replaceAllUses(Value(n, 0), down);
    f.erase(n);
    ++s.changed;
    return Status::ok();
  }

  // Operand i of lanewise n in 4-D: a Reshape down's source, else the
  // operand reshaped (ranks 2 and 3) or as it is.
  Expected<Value> fourOf(Node *n, size_t i) {
    Value v = n->inputs[i];
    if (!v || !broadcastOperand(n, i))
      return v;
    if (isDown(v.node))
      return v.node->inputs[0];
    Dims d = lifted(v.type().dims());
    if (d == v.type().dims())
      return v;
    return reshape(v, d, n, v.name() + ".h1");
  }

  Status run() {
    // Every 1-D op first (MaxPool's indices: left alone).
    std::vector<Node *> ops;
    for (auto &np : f.nodes()) {
      Node *n = np.get();
      if (isLiftableOp(n->kind) && n->numResults() == 1 &&
          n->inputs[0].type().rank() == 3 &&
          (!n->hasInput(1) || n->kind == OpKind::MaxPool ||
           n->kind == OpKind::AveragePool || n->inputs[1].type().rank() == 3))
        ops.push_back(n);
    }
    for (Node *n : ops)
      EMBER_TRY(liftOp(n));
    if (ops.empty())
      return Status::ok();
    // Then the Reshapes move through lanewise ops until none moves. Each
    // move erases one rank-3 lanewise op, so this ends.
    for (bool changed = true; changed;) {
      changed = false;
      auto users = f.computeUsers();
      for (auto &np : f.nodes()) {
        Node *n = np.get();
        if (!isLanewise(n))
          continue;
        bool anyDown = false;
        for (size_t i = 0; i < n->inputs.size(); ++i)
          anyDown |= n->inputs[i] && broadcastOperand(n, i) &&
                     isDown(n->inputs[i].node);
        // Or its readers are all Reshapes up (a DequantizeLinear feeding
        // several 1-D convolutions: a text CNN's widths 3, 4 and 5).
        auto &us = users[n];
        bool upOnly =
            !us.empty() && std::all_of(us.begin(), us.end(), [](const Use &u) {
              return u.user && isUp(u.user);
            });
        if (!anyDown && !upOnly)
          continue;
        std::vector<Value> four(n->inputs.size());
        for (size_t i = 0; i < n->inputs.size(); ++i) {
          EMBER_ASSIGN(four[i], fourOf(n, i));
        }
        EMBER_TRY(replaceWith2d(n, four, n->attrs));
        changed = true;
        break;
      }
    }
    // Reductions and global pools of a lifted value (max over time, a
    // PointNet's max over points) read its 4-D form, where the length is
    // axis 3, so the Reshape down need not be stored.
    std::vector<Node *> reductions;
    for (auto &np : f.nodes())
      if (reducesLifted(np.get()))
        reductions.push_back(np.get());
    for (Node *n : reductions) {
      std::vector<Value> four{n->inputs[0].node->inputs[0]};
      AttrMap a = n->attrs;
      if (n->hasAttr("axis")) { // ArgMax, ArgMin
        a["axis"] = Attr::ofInt(liftedAxis(n->attrInt("axis", 0)));
      } else if (n->hasInput(1)) {
        std::vector<int64_t> axes = n->inputs[1].node->payload->toInts();
        for (int64_t &x : axes)
          x = liftedAxis(x);
        four.push_back(Value(f.addConstant(
            n->outNames[0] + ".axes", Tensor::fromInts(ElemKind::I64, axes))));
      }
      EMBER_TRY(replaceWith2d(n, four, a));
    }
    return Status::ok();
  }
};

} // namespace

Status runLiftConv1D(Function &f, PassStats &s) {
  Rewriter r{f, s};
  return r.run();
}

} // namespace ember
