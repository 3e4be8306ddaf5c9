// Type inference: the TypeContext, the type-rule dispatch table and
// inferNodeTypes (operand counts and element kinds from Ops.def, then the
// op's type rule).
#include "ir/TypeRules.h"

#include <algorithm>

namespace ember {

static const TypeRuleFn kTypeRules[] = {
#define EMBER_OP(Name, ...) &types_##Name,
#include "ir/Ops.def"
};

TypeRuleFn typeRuleFor(OpKind k) { return kTypeRules[unsigned(k)]; }

Expected<const Tensor *> TypeContext::valueOf(size_t i) const {
  if (!has(i))
    return error("operand #", i, " is missing");
  if (!ins_[i]->hasData()) {
    Status s = makeError(ErrorCode::DataDependent, opName(node_.kind),
                         ": operand #", i,
                         " must be known at compile time (it determines a "
                         "result shape)");
    return s;
  }
  return ins_[i];
}

Expected<std::vector<int64_t>> TypeContext::ints(size_t i) const {
  EMBER_ASSIGN(const Tensor *t, valueOf(i));
  if (isFloatKind(t->elem()))
    return error("operand #", i, " must be an integer tensor, got ",
                 t->type().toString());
  return t->toInts();
}

Expected<std::vector<double>> TypeContext::floats(size_t i) const {
  EMBER_ASSIGN(const Tensor *t, valueOf(i));
  return t->toDoubles();
}

Expected<int64_t> scalarIntOperand(const TypeContext &ctx, size_t i,
                                   const char *what) {
  const Tensor &t = ctx.in(i);
  if (!isIntKind(t.elem()) || t.size() != 1 || t.rank() > 1)
    return ctx.error(what, " must be a one-element integer tensor, got ",
                     t.type().toString());
  EMBER_ASSIGN(std::vector<int64_t> v, ctx.ints(i));
  return v[0];
}

Expected<int64_t> normalizeAxis(const TypeContext &ctx, int64_t axis,
                                size_t rank) {
  int64_t r = int64_t(rank);
  if (axis < -r || axis >= r)
    return ctx.error("axis ", axis, " is out of range for rank ", r);
  return axis < 0 ? axis + r : axis;
}

// Element kinds the op table admits: narrow kinds only for P_Narrow ops
// (they convert or move bytes), and operand 0 within the op's Types class.
static Status checkElemKinds(const Node &n) {
  if (!hasProp(n.kind, P_Narrow))
    for (auto &in : n.inputs)
      if (in.node && isMiniKind(in.type().elem()))
        return unsupported(opName(n.kind), ": element type ",
                           elemKindName(in.type().elem()), " is not supported");
  OpTypes t = opInfo(n.kind).types;
  if (!n.inputs.empty() && n.inputs[0].node &&
      !kindInClass(t, n.inputs[0].type().elem()))
    return unsupported(opName(n.kind), ": element type ",
                       elemKindName(n.inputs[0].type().elem()),
                       " is not supported (", opTypesName(t), ")");
  return Status::ok();
}

std::vector<const Tensor *> staticOperands(const Node &n,
                                           std::vector<Tensor> &typeOnly) {
  typeOnly.assign(n.inputs.size(), Tensor());
  std::vector<const Tensor *> ins(n.inputs.size(), nullptr);
  for (size_t i = 0; i < n.inputs.size(); ++i) {
    const Value &v = n.inputs[i];
    if (!v.node)
      continue;
    if (v.node->kind == OpKind::Constant) {
      ins[i] = v.node->payload.get();
    } else {
      typeOnly[i] = Tensor::typeOnly(v.type());
      ins[i] = &typeOnly[i];
    }
  }
  return ins;
}

// Type inference: run the op's type rule; constant operands carry their
// data, everything else only its type.
Status inferNodeTypes(Node &n) {
  const OpInfo &info = opInfo(n.kind);
  if (isStorage(n.kind))
    return Status::ok();
  int nin = int(n.inputs.size());
  if (nin < info.minIn || (info.maxIn >= 0 && nin > info.maxIn))
    return invalid(n.describe(), ": expects ", info.minIn,
                   info.maxIn < 0 ? std::string(" or more")
                                  : " to " + std::to_string(info.maxIn),
                   " operands, got ", nin);
  // Required operands must be present (Loop's trip count and condition are
  // both optional in ONNX; a custom op's library says which are). Every
  // operand of a variadic op (Concat, Sum, Max, ...) is required; control
  // flow's extra operands are captured values, checked by its own rule.
  const bool variadic = info.maxIn < 0 && !(info.props & P_Control);
  const int required = variadic ? nin : std::max(1, info.minIn);
  if (n.kind != OpKind::Loop && n.kind != OpKind::Custom)
    for (int i = 0; i < required && i < nin; ++i)
      if (!n.inputs[size_t(i)].node)
        return invalid(n.describe(), ": operand ", i, " is required");
  if (info.numOut >= 0 ? n.types.size() != size_t(info.numOut)
                       : n.types.empty())
    return invalid(n.describe(), ": has ", n.types.size(), " results, the op ",
                   info.numOut >= 0 ? "has " + std::to_string(info.numOut)
                                    : std::string("needs at least 1"));
  EMBER_TRY(checkElemKinds(n).withContext("node " + n.describe()));
  std::vector<Tensor> typeOnly;
  TypeContext ctx(n, staticOperands(n, typeOnly));
  Status s = typeRuleFor(n.kind)(ctx);
  if (!s.isOk()) {
    if (s.code() == ErrorCode::DataDependent) {
      // Name the graph input that would make the shape static, if any.
      for (size_t i = 0; i < n.inputs.size(); ++i)
        if (n.inputs[i].node && n.inputs[i].node->kind == OpKind::Placeholder &&
            s.message().find("operand #" + std::to_string(i)) !=
                std::string::npos)
          s.dependentInput = n.inputs[i].name();
    }
    return s.withContext("node " + n.describe());
  }
  for (size_t i = 0; i < n.types.size(); ++i) {
    n.types[i] = ctx.outType(i);
    if (isMiniKind(n.types[i].elem()) && !hasProp(n.kind, P_Narrow))
      return unsupported(opName(n.kind), ": element type ",
                         elemKindName(n.types[i].elem()), " is not supported")
          .withContext("node " + n.describe());
  }
  return Status::ok();
}

} // namespace ember
