#include "interp/Interpreter.h"

#include "interp/Kernel.h"

#include <unordered_map>

namespace ember {

Expected<std::vector<Tensor>>
evaluateNode(const Node &n, const std::vector<const Tensor *> &ins) {
  KernelContext ctx(n, ins);
  Status s = runKernel(ctx);
  if (!s.isOk())
    return s.withContext("node " + n.describe());
  for (size_t i = 0; i < n.types.size(); ++i) {
    const Tensor &t = ctx.out(i);
    if (t.type().elem() != n.types[i].elem() || t.dims() != n.types[i].dims())
      return makeError(ErrorCode::Internal, "node ", n.describe(), " result #",
                       i, " is ", t.type().toString(), " but its type is ",
                       n.types[i].toString());
  }
  return std::move(ctx.outputs());
}

Expected<std::vector<Tensor>> interpret(const Function &f,
                                        const std::vector<Tensor> &inputs) {
  const auto &params = f.params();
  if (inputs.size() != params.size())
    return invalid("function @", f.name(), " takes ", params.size(),
                   " inputs, got ", inputs.size());
  for (size_t i = 0; i < params.size(); ++i) {
    const Type &want = params[i]->types[0];
    const Type &got = inputs[i].type();
    if (want.elem() != got.elem() || want.dims() != got.dims())
      return invalid("input '", params[i]->outNames[0], "' must be ",
                     want.toString(), ", got ", got.toString());
  }

  // Last position at which each node's results are read, to free early.
  std::unordered_map<const Node *, size_t> lastUse;
  size_t pos = 0;
  for (auto &n : f.nodes()) {
    for (auto &in : n->inputs)
      if (in.node)
        lastUse[in.node] = pos;
    ++pos;
  }
  for (auto &o : f.outputs())
    lastUse[o.value.node] = SIZE_MAX;

  std::unordered_map<const Node *, std::vector<Tensor>> env;
  std::unordered_map<const Node *, size_t> paramIndex;
  for (size_t i = 0; i < params.size(); ++i)
    paramIndex[params[i]] = i;

  auto lookup = [&](const Value &v) -> const Tensor * {
    if (v.node->kind == OpKind::Constant)
      return v.node->payload.get();
    if (v.node->kind == OpKind::Placeholder)
      return &inputs[paramIndex[v.node]];
    auto it = env.find(v.node);
    return it == env.end() ? nullptr : &it->second[v.idx];
  };

  pos = 0;
  for (auto &np : f.nodes()) {
    const Node &n = *np;
    if (isStorage(n.kind)) {
      ++pos;
      continue;
    }
    std::vector<const Tensor *> ins(n.inputs.size(), nullptr);
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.inputs[i].node)
        continue;
      ins[i] = lookup(n.inputs[i]);
      if (!ins[i])
        return makeError(ErrorCode::Internal, "node ", n.describe(),
                         " reads a value that was not computed");
    }
    EMBER_ASSIGN(auto outs, evaluateNode(n, ins));
    env[&n] = std::move(outs);
    // Free operands whose last reader this was.
    for (auto &in : n.inputs)
      if (in.node && !isStorage(in.node->kind) && lastUse[in.node] == pos)
        env.erase(in.node);
    if (!lastUse.count(&n))
      env.erase(&n); // dead result
    ++pos;
  }

  std::vector<Tensor> results;
  for (auto &o : f.outputs()) {
    const Tensor *t = lookup(o.value);
    if (!t)
      return makeError(ErrorCode::Internal, "output '", o.name,
                       "' was not computed");
    results.push_back(*t);
  }
  return results;
}

} // namespace ember
