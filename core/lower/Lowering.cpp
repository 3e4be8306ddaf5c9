#include "lower/Lowering.h"

namespace ember {

// The dispatch, generated from Ops.def: lower_<Name> for a Composite,
// nothing for primitives and storage.
#define EMBER_LOWER_FN_Storage(Name) nullptr
#define EMBER_LOWER_FN_Primitive(Name) nullptr
#define EMBER_LOWER_FN_Composite(Name) &lower_##Name
static constexpr LowerFn kLowerFns[] = {
#define EMBER_OP(Name, Class, ...) EMBER_LOWER_FN_##Class(Name),
#include "ir/Ops.def"
};
#undef EMBER_LOWER_FN_Storage
#undef EMBER_LOWER_FN_Primitive
#undef EMBER_LOWER_FN_Composite
static_assert(sizeof(kLowerFns) / sizeof(kLowerFns[0]) == kNumOps,
              "one entry per op of Ops.def");

LowerFn lowerFnFor(OpKind k) { return kLowerFns[unsigned(k)]; }

Expected<Value> LoweringBuilder::op(OpKind k, std::vector<Value> ins,
                                    AttrMap attrs) {
  EMBER_ASSIGN(auto vs, opN(k, std::move(ins), std::move(attrs), -1));
  return vs[0];
}

Expected<std::vector<Value>> LoweringBuilder::opN(OpKind k,
                                                  std::vector<Value> ins,
                                                  AttrMap attrs, int nres) {
  std::string base = n_.outNames.empty() ? std::string(opName(k))
                                         : n_.outNames[0] + "." + opName(k);
  EMBER_ASSIGN(Node * m, f_.create(k, std::move(ins), std::move(attrs), n_.name,
                                   nres, &n_, {base}));
  std::vector<Value> vs;
  for (unsigned i = 0; i < m->numResults(); ++i)
    vs.push_back(Value(m, i));
  return vs;
}

Value LoweringBuilder::constant(Tensor t, const std::string &what) {
  std::string base = n_.outNames.empty() ? what : n_.outNames[0] + "." + what;
  return Value(f_.addConstant(base, std::move(t)));
}

Value LoweringBuilder::scalar(ElemKind k, double v) {
  return constant(Tensor::scalar(k, v));
}

Expected<Value> LoweringBuilder::mean(Value v, const Dims &axes) {
  int64_t count = 1;
  for (int64_t a : axes)
    count *= v.type().dim(size_t(a));
  EMBER_ASSIGN(Value s, op(OpKind::ReduceSum, {v, ints(axes)},
                           {{"keepdims", Attr::ofInt(1)}}));
  return op(OpKind::Div, {s, scalar(v.type().elem(), double(count))});
}

Dims LoweringBuilder::axisRange(int64_t from, int64_t to) {
  Dims a;
  for (int64_t i = from; i < to; ++i)
    a.push_back(i);
  return a;
}

Value LoweringBuilder::ints(const std::vector<int64_t> &v) {
  return constant(Tensor::fromInts(ElemKind::I64, v));
}

Status lowerFunction(Function &f, const LoweringOptions &opts,
                     size_t *numLowered) {
  size_t count = 0;
  // Custom ops first, so that their lowerings' ops join the integer
  // patterns.
  EMBER_TRY(expandCustomOps(f, opts, &count));
  // A float head's levels of several scales, separated first, so that the
  // transformer patterns find each level's softmax between its own
  // DequantizeLinear and QuantizeLinear.
  if (quant::fixedPointRequant(opts.requant))
    EMBER_TRY(separateConcatIslands(f, &count));
  // The transformer patterns first, while they are whole: they span
  // several QDQ pairs, which the float islands would cut.
  size_t transformer = 0;
  EMBER_TRY(lowerIntegerTransformer(f, opts.requant, &transformer));
  // Float islands cut into quantized patterns (the integer forms of every
  // integer profile; the float32 profile keeps ONNX Runtime's float
  // islands).
  if (quant::fixedPointRequant(opts.requant)) {
    EMBER_TRY(spaceDepthAsConv(f, &count));
    EMBER_TRY(stridedSliceAsConv(f, &count));
    EMBER_TRY(splitFloatIslands(f, &count));
    EMBER_TRY(quantizeFloatIslands(f, &count));
  }
  // Quantized patterns first, while composites are still whole.
  size_t patterns = 0;
  EMBER_TRY(
      lowerIntegerPatterns(f, opts.requant, &patterns, opts.integerRecurrent));
  count += transformer + patterns;
  EMBER_TRY(sinkDequantize(f, &count));
  EMBER_TRY(splitLayers(f, &count));
  EMBER_TRY(moveChannelsLast(f, &count));
  for (bool changed = true; changed;) {
    changed = false;
    std::vector<Node *> work;
    for (auto &n : f.nodes())
      if (lowerFnFor(n->kind) && !(opts.keep && opts.keep(*n)))
        work.push_back(n.get());
    for (Node *n : work) {
      LoweringBuilder b(f, *n);
      auto res = lowerFnFor(n->kind)(b);
      if (!res)
        return res.status().withContext("lowering " + n->describe());
      if (res->size() != n->numResults())
        return makeError(ErrorCode::Internal, "lowering ", n->describe(),
                         " returned ", res->size(), " values for ",
                         n->numResults(), " results");
      for (unsigned i = 0; i < n->numResults(); ++i) {
        const Type &want = n->types[i];
        const Type &got = (*res)[i].type();
        if (want.elem() != got.elem() || want.dims() != got.dims())
          return makeError(ErrorCode::Internal, "lowering ", n->describe(),
                           " changed result #", i, " from ", want.toString(),
                           " to ", got.toString());
        f.replaceAllUses(Value(n, i), (*res)[i]);
      }
      f.erase(n);
      ++count;
      changed = true;
    }
  }
  // Attention's heads one by one, once its ops are the integer forms.
  if (quant::fixedPointRequant(opts.requant)) {
    EMBER_TRY(unbatchHeads(f, &count));
    EMBER_TRY(mapAttentionHeads(f, &count));
    EMBER_TRY(channelsLastRows(f, &count));
  }
  // Softmaxes over channel groups (a DFL's) along the channels.
  EMBER_TRY(splitGroupSoftmax(f, &count));
  // A head's elementwise ops on flattened maps, as maps.
  if (quant::fixedPointRequant(opts.requant))
    EMBER_TRY(mapRows(f, &count));
  // Subgraphs (If branches, Loop/Scan bodies) are lowered the same way.
  for (auto &n : f.nodes())
    for (auto &kv : n->attrs)
      if (kv.second.kind == Attr::Kind::Graph) {
        size_t sub = 0;
        EMBER_TRY(lowerFunction(*kv.second.g, opts, &sub));
        count += sub;
      }
  if (numLowered)
    *numLowered = count;
  return Status::ok();
}

} // namespace ember
