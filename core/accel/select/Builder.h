// The builder of the layer program (select/Build.cpp; docs/npu-sdk.md,
// "Selection"): what every form's builder (FormRow::build,
// FormPattern::buildPart) works with. It walks the partition graph in order
// (run): per node the builder of the row or pattern that claimed it, which
// either folds the node into a pending layer (a layer not emitted yet, so a
// following bias Add, Requantize, pool or add can still fuse into it) or
// emits layers, materializing the tensors they read.
#pragma once

#include "SelectInternal.h"

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace ember::accel::sel {

struct Builder {
  const View &v;
  Analysis an;
  LayerProgram &lp;
  std::vector<int> tensorOf; // per value: NTensor index, -1: none yet
  // Layers not emitted yet, by the value they produce (so a following
  // Add, Requantize, pool or add can still fold into them).
  struct Pending {
    Layer layer;
    bool requantized = false;
    std::string form; // the target form that started it (its epilogue)
  };
  std::map<int, Pending> pending;
  // Flattens folded into the following MatMul: value -> the 4-D input.
  std::map<int, int> flattened;
  std::map<std::pair<int, int64_t>, int> repeated; // (value, C) -> tensor
  std::set<int> concatOuts; // tensors Concats place their inputs in
  // Why the build stopped: ok while it goes on; a refusal (Unsupported,
  // the reason the partition cannot run as built) or an internal error.
  Status err;
  int failed = -1; // the node whose build set err (-1: none, or no node)

  void refuse(std::string why) {
    err = Status(ErrorCode::Unsupported, std::move(why));
  }
  void internal(std::string why) {
    err = Status(ErrorCode::Internal, std::move(why));
  }

  Builder(const View &view, LayerProgram &out, Analysis analysis);

  bool isOutput(int x) const { return v.outUses[size_t(x)] > 0; }
  // Fusable: one use, not a partition output.
  bool single(int x) const { return v.uses(x) == 1 && !isOutput(x); }

  // A new tensor of graph value `value`.
  int newTensor(int value, NTensor::Kind kind);
  // The tiled layout of a constant i8/u8 tensor (an add's operand).
  int constTensor(int x);
  // The operand of an add repeated over every pixel (whyRepeated): one
  // pixel of C channels. A constant gets a tensor of its own with its value
  // (or its per-channel values) in the C lanes.
  int repeatedTensor(int x, int64_t C);
  // The tensor holding value x in DRAM, emitting its pending layer (stored
  // at tile `tileOffset` / pixel `pixOff` of tensor `base`, when given).
  int materialize(int x, int base = -1, int64_t tileOffset = 0,
                  int64_t pixOff = -1);
  // The GEMM layer of a ConvInteger or MatMulInteger node n, g filled with
  // its geometry and folded weights, reading value x whose stored zero point
  // is sz: zero points folded into the bias, padding the loads cannot add
  // stored by identity layers; pending for its epilogue (form conv or
  // matmul).
  void gemmRoot(int i, const v1::Node &n, int x, int32_t sz, GemmLayer g);
  // The pattern of `list` (a form's patterns) whose last node, member
  // `end`, is node ri; null with an internal error when the selector
  // claimed the node for a pattern the analysis did not record.
  template <class P>
  const P *patternEndingAt(const std::vector<P> &list, int P::*end, int ri,
                           const char *what) {
    for (const P &p : list)
      if (p.*end == ri)
        return &p;
    const v1::Node &n = v.g.nodes(ri);
    internal("internal: " + n.op() + " " + quoted(n.name()) + " outside its " +
             what);
    return nullptr;
  }
  // Padding g's loads do not add (padPlan): an identity layer storing g's
  // input with `p` more (top, left, bottom, right); g then reads it with
  // that much less padding. Returns the padded tensor.
  int padLayer(GemmLayer &g, const std::array<int64_t, 4> &p,
               const std::string &node, const std::string &name);
  // A 1x1 GEMM over a map of dims d whose output channel o is input
  // channel from[o] (stored values unchanged), or 0 where from[o] is -1.
  static void selectChannels(GemmLayer &g, const std::vector<int64_t> &d,
                             const std::vector<int64_t> &from);
  // Points every tensor stored in `from` into `to` at a tile offset.
  void rebase(int from, int to, int64_t off);
  // A Split part inside a channel tile read by anything but a convolution
  // (or a Concat of all the parts): copied to lanes 0.. of a tensor of its
  // own.
  int laneCopy(int x);
  // A convolution of a Split part that starts inside a channel tile: it
  // reads the whole tiles the part lies in. Returns the view, or -1.
  int laneView(int x, GemmLayer &g);
  // A 1x1 pool layer `name` of node n over tensor k's P pixels of C
  // channels into a tensor of value y: placed at pixel `at` of `to` (to >=
  // 0), else y's own. A copy, or a table layer's lookup.
  int pixelLayer(const std::string &name, const v1::Node &n, int k, int y,
                 int to, int64_t at);
  // Whether layer L tiles to the target's memories (before fusing a stage).
  bool fits(const Layer &L) const;
  // The layer program, or the error.
  Status run();
};

} // namespace ember::accel::sel
