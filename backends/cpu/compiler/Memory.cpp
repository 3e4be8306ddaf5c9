// Memory: where every tensor of a compiled model lives (README.md,
// "Memory"). Graph inputs and outputs are the caller's buffers; constants
// and pre-packed weights share one constant region (64-byte aligned
// entries); every other materialized tensor gets a buffer in one arena whose
// offsets the LIR memory planner (lir::planMemory) chooses over the groups'
// lifetimes. Reshapes are views (same bytes), and the value behind a graph
// output is computed straight into the caller's output buffer.
#include "Capability.h"
#include "Codegen.h"

#include "ember/cpu/Kernels.h"
#include "runtime/RtAbi.h"

#include <algorithm>

namespace ember::cpugen {

uint64_t Codegen::addWeights(const void *data, size_t bytes) {
  std::string &w = out_.weights;
  uint64_t off = alignUp(w.size(), storageAlign());
  w.resize(size_t(off), '\0');
  if (data)
    w.append(static_cast<const char *>(data), bytes);
  else
    w.append(bytes, '\0');
  return off;
}

uint64_t Codegen::constantOffset(const Node *c) {
  auto it = constants_.find(c);
  if (it != constants_.end())
    return it->second;
  uint64_t off = addWeights(c->payload->raw(), c->payload->bytes());
  constants_[c] = off;
  return off;
}

std::vector<Value> Codegen::groupOperands(const Group &g) const {
  std::vector<Value> out;
  for (const Node *m : g.members)
    for (auto &in : m->inputs) {
      if (!in || contains(g, in.node))
        continue;
      if (std::find(out.begin(), out.end(), in) == out.end())
        out.push_back(in);
    }
  if (g.kind == GroupKind::Copy)
    out.push_back(g.copySource);
  return out;
}

// ---- locations and planning ---------------------------------------------

Loc Codegen::locOf(const Value &v) {
  auto it = locs_.find(keyOf(v));
  if (it != locs_.end())
    return it->second;
  if (isConstant(v)) {
    Loc l;
    l.kind = LocKind::Weight;
    l.offset = constantOffset(v.node);
    return l;
  }
  return Loc();
}

Status Codegen::layout() {
  // Graph inputs.
  const auto &params = f_.params();
  for (size_t i = 0; i < params.size(); ++i)
    locs_[keyOf(Value(params[i]))] = Loc{LocKind::Input, unsigned(i), 0};
  // View groups alias their operand: the value that really holds the bytes.
  std::map<ValueKey, Value> storageOf;
  auto storage = [&](const Value &v) {
    auto it = storageOf.find(keyOf(v));
    return it == storageOf.end() ? v : it->second;
  };
  std::map<ValueKey, const Group *> producer;
  for (auto &g : groups_) {
    for (unsigned k = 0; k < g.root->numResults(); ++k)
      producer[keyOf(Value(const_cast<Node *>(g.root), k))] = &g;
    if (g.sibling)
      producer[keyOf(Value(const_cast<Node *>(g.sibling), 0))] = &g;
    if (g.kind == GroupKind::View)
      storageOf[keyOf(g.root)] = storage(g.root->inputs[0]);
  }
  // Graph outputs: the value behind each is computed into the output
  // buffer; outputs that cannot be (inputs, constants, a value already
  // bound to another output) get a copy at the end.
  std::vector<Group> copies;
  const auto &outs = f_.outputs();
  for (size_t i = 0; i < outs.size(); ++i) {
    Value s = storage(outs[i].value);
    auto pit = producer.find(keyOf(s));
    bool computed = pit != producer.end() &&
                    pit->second->kind != GroupKind::View &&
                    !locs_.count(keyOf(s));
    if (computed) {
      locs_[keyOf(s)] = Loc{LocKind::Output, unsigned(i), 0};
      continue;
    }
    Group c;
    c.kind = GroupKind::Copy;
    c.root = outs[i].value.node;
    c.copySource = outs[i].value;
    c.outputIndex = unsigned(i);
    copies.push_back(c);
  }
  // Values computed inside another's bytes: Concat inputs in their slice
  // of the result, Split parts in their input (Views.cpp).
  std::map<ValueKey, std::pair<Value, uint64_t>> placed;
  planViews(producer, placed);
  // Arena buffers for the other group results.
  lir_ = lir::Function();
  lir_.spaces.push_back({"arena", 0, storageAlign()});
  auto newBuffer = [&](const std::string &name, Type t) {
    lir::Buffer b;
    b.name = name;
    b.type = std::move(t);
    b.space = 0;
    b.kind = lir::BufferKind::Activation;
    lir_.buffers.push_back(std::move(b));
    return unsigned(lir_.buffers.size() - 1);
  };
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group &g = groups_[i];
    // (A 1x1 convolution run inside a depthwise step: no stored result.)
    if (g.kind == GroupKind::View || steps_[i].pairInto != Step::kNoPair)
      continue;
    for (unsigned k = 0; k < g.root->numResults(); ++k) {
      Value r(const_cast<Node *>(g.root), k);
      if (locs_.count(keyOf(r)) || placed.count(keyOf(r)))
        continue;
      locs_[keyOf(r)] =
          Loc{LocKind::Arena, newBuffer(g.root->outNames[k], r.type()), 0};
    }
    if (g.sibling) {
      Value r(const_cast<Node *>(g.sibling), 0);
      if (!locs_.count(keyOf(r)) && !placed.count(keyOf(r)))
        locs_[keyOf(r)] =
            Loc{LocKind::Arena, newBuffer(g.sibling->outNames[0], r.type()), 0};
    }
  }
  std::function<Loc(const Value &)> placedLoc = [&](const Value &v) {
    auto it = locs_.find(keyOf(v));
    if (it != locs_.end())
      return it->second;
    auto &pl = placed.at(keyOf(v));
    Loc l = placedLoc(pl.first);
    l.offset += pl.second;
    locs_[keyOf(v)] = l;
    return l;
  };
  for (auto &kv : placed)
    placedLoc(Value(const_cast<Node *>(kv.first.node), kv.first.idx));
  // Views share their storage's location.
  for (auto &g : groups_) {
    if (g.kind != GroupKind::View)
      continue;
    Value r(const_cast<Node *>(g.root), 0);
    Value s = storage(r);
    Loc l = locOf(s);
    if (!l)
      return makeError(ErrorCode::Internal, g.root->describe(),
                       ": view of a value with no storage");
    locs_[keyOf(r)] = l;
  }
  for (auto &c : copies) {
    groups_.push_back(c);
    steps_.push_back(Step());
  }
  // One planner instruction per group: the arena buffers it touches.
  for (size_t i = 0; i < groups_.size(); ++i) {
    const Group &g = groups_[i];
    if (g.kind == GroupKind::View || steps_[i].pairInto != Step::kNoPair)
      continue;
    lir::Instruction in;
    in.kind = lir::InstKind::Compute;
    in.op = g.root->kind;
    in.loc = g.root->name;
    auto addRef = [&](const Loc &l, lir::Access a) {
      if (l.kind == LocKind::Arena)
        in.operands.push_back({lir::Ref::buffer(l.index), a});
    };
    // Constants are not the planner's: asking for their location here
    // would append every one to the constant region, the weights that a
    // step reads only in their packed form (every convolution's and
    // matrix product's) included. A constant gets its place when code
    // reads it as stored.
    for (auto &v : groupOperands(g))
      if (!isConstant(v))
        addRef(locOf(v), lir::Access::In);
    // A depthwise step that runs a 1x1 convolution reads that one's
    // operands too (its result has no location).
    if (steps_[i].pairFrom != Step::kNoPair)
      for (auto &v : groupOperands(groups_[steps_[i].pairFrom]))
        if (!isConstant(v))
          addRef(locOf(v), lir::Access::In);
    if (g.kind != GroupKind::Copy)
      for (unsigned k = 0; k < g.root->numResults(); ++k)
        addRef(locOf(Value(const_cast<Node *>(g.root), k)), lir::Access::Out);
    if (g.sibling)
      addRef(locOf(Value(const_cast<Node *>(g.sibling), 0)), lir::Access::Out);
    for (uint64_t bytes : steps_[i].tempBytes) {
      unsigned t = newBuffer(
          concat(g.root->outNames[0], ".scratch", steps_[i].temps.size()),
          Type(ElemKind::U8, {int64_t(bytes)}));
      steps_[i].temps.push_back(t);
      in.operands.push_back({lir::Ref::buffer(t), lir::Access::InOut});
    }
    lir_.insts.push_back(std::move(in));
  }
  EMBER_ASSIGN(out_.plan, lir::planMemory(lir_));
  bufferOffset_.resize(lir_.buffers.size());
  for (size_t b = 0; b < lir_.buffers.size(); ++b)
    bufferOffset_[b] = uint64_t(lir_.buffers[b].offset);
  uint64_t peak = out_.plan.spaces.empty() ? 0 : out_.plan.spaces[0].peak;
  workspaceOffset_ = alignUp(peak, storageAlign());
  out_.workspaceBytes = workspacePerWorker_ * cfg_.numThreads;
  out_.arenaBytes = workspaceOffset_ + out_.workspaceBytes;
  if (out_.arenaBytes == 0)
    out_.arenaBytes = 64;
  return Status::ok();
}

} // namespace ember::cpugen
