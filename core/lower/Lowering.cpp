#include "lower/Lowering.h"

namespace ember {

Expected<std::vector<Value>> lower_CastLike(LoweringBuilder &b);
Expected<std::vector<Value>> lower_LeakyRelu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Elu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Selu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Celu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_HardSigmoid(LoweringBuilder &b);
Expected<std::vector<Value>> lower_HardSwish(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Softplus(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Softsign(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Gelu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Mish(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ThresholdedRelu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Shrink(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Clip(LoweringBuilder &b);
Expected<std::vector<Value>> lower_PRelu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Sum(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Mean(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReduceMean(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReduceL1(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReduceL2(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReduceLogSum(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReduceLogSumExp(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReduceSumSquare(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Gemm(LoweringBuilder &b);
Expected<std::vector<Value>> lower_GlobalAveragePool(LoweringBuilder &b);
Expected<std::vector<Value>> lower_GlobalMaxPool(LoweringBuilder &b);
Expected<std::vector<Value>> lower_BatchNormalization(LoweringBuilder &b);
Expected<std::vector<Value>> lower_InstanceNormalization(LoweringBuilder &b);
Expected<std::vector<Value>> lower_LayerNormalization(LoweringBuilder &b);
Expected<std::vector<Value>> lower_LRN(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Softmax(LoweringBuilder &b);
Expected<std::vector<Value>> lower_LogSoftmax(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Flatten(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Squeeze(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Unsqueeze(LoweringBuilder &b);
Expected<std::vector<Value>> lower_DepthToSpace(LoweringBuilder &b);
Expected<std::vector<Value>> lower_SpaceToDepth(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Dropout(LoweringBuilder &b);
// family E lowerings
Expected<std::vector<Value>> lower_Attention(LoweringBuilder &b);
Expected<std::vector<Value>> lower_RMSNormalization(LoweringBuilder &b);
Expected<std::vector<Value>> lower_LpNormalization(LoweringBuilder &b);
Expected<std::vector<Value>> lower_GroupNormalization(LoweringBuilder &b);
Expected<std::vector<Value>>
lower_MeanVarianceNormalization(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Swish(LoweringBuilder &b);
Expected<std::vector<Value>> lower_SwiGLU(LoweringBuilder &b);
Expected<std::vector<Value>> lower_RotaryEmbedding(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Hardmax(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Trilu(LoweringBuilder &b);
Expected<std::vector<Value>> lower_CausalConvWithState(LoweringBuilder &b);
Expected<std::vector<Value>> lower_TensorScatter(LoweringBuilder &b);
Expected<std::vector<Value>> lower_LpPool(LoweringBuilder &b);
// (end of family E)
// family F lowerings
Expected<std::vector<Value>> lower_EyeLike(LoweringBuilder &b);
Expected<std::vector<Value>> lower_HannWindow(LoweringBuilder &b);
Expected<std::vector<Value>> lower_HammingWindow(LoweringBuilder &b);
Expected<std::vector<Value>> lower_BlackmanWindow(LoweringBuilder &b);
Expected<std::vector<Value>> lower_MelWeightMatrix(LoweringBuilder &b);
Expected<std::vector<Value>> lower_NonZero(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Unique(LoweringBuilder &b);
Expected<std::vector<Value>> lower_NonMaxSuppression(LoweringBuilder &b);
Expected<std::vector<Value>> lower_OneHot(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Compress(LoweringBuilder &b);
Expected<std::vector<Value>> lower_CenterCropPad(LoweringBuilder &b);
Expected<std::vector<Value>> lower_Einsum(LoweringBuilder &b);
Expected<std::vector<Value>>
lower_NegativeLogLikelihoodLoss(LoweringBuilder &b);
Expected<std::vector<Value>> lower_SoftmaxCrossEntropyLoss(LoweringBuilder &b);
Expected<std::vector<Value>> lower_DFT(LoweringBuilder &b);
Expected<std::vector<Value>> lower_STFT(LoweringBuilder &b);
Expected<std::vector<Value>> lower_AffineGrid(LoweringBuilder &b);
Expected<std::vector<Value>> lower_MaxUnpool(LoweringBuilder &b);
Expected<std::vector<Value>> lower_ReverseSequence(LoweringBuilder &b);
// (end of family F)

LowerFn lowerFnFor(OpKind k) {
  switch (k) {
  case OpKind::CastLike:
    return &lower_CastLike;
  case OpKind::LeakyRelu:
    return &lower_LeakyRelu;
  case OpKind::Elu:
    return &lower_Elu;
  case OpKind::Selu:
    return &lower_Selu;
  case OpKind::Celu:
    return &lower_Celu;
  case OpKind::HardSigmoid:
    return &lower_HardSigmoid;
  case OpKind::HardSwish:
    return &lower_HardSwish;
  case OpKind::Softplus:
    return &lower_Softplus;
  case OpKind::Softsign:
    return &lower_Softsign;
  case OpKind::Gelu:
    return &lower_Gelu;
  case OpKind::Mish:
    return &lower_Mish;
  case OpKind::ThresholdedRelu:
    return &lower_ThresholdedRelu;
  case OpKind::Shrink:
    return &lower_Shrink;
  case OpKind::Clip:
    return &lower_Clip;
  case OpKind::PRelu:
    return &lower_PRelu;
  case OpKind::Sum:
    return &lower_Sum;
  case OpKind::Mean:
    return &lower_Mean;
  case OpKind::ReduceMean:
    return &lower_ReduceMean;
  case OpKind::ReduceL1:
    return &lower_ReduceL1;
  case OpKind::ReduceL2:
    return &lower_ReduceL2;
  case OpKind::ReduceLogSum:
    return &lower_ReduceLogSum;
  case OpKind::ReduceLogSumExp:
    return &lower_ReduceLogSumExp;
  case OpKind::ReduceSumSquare:
    return &lower_ReduceSumSquare;
  case OpKind::Gemm:
    return &lower_Gemm;
  case OpKind::GlobalAveragePool:
    return &lower_GlobalAveragePool;
  case OpKind::GlobalMaxPool:
    return &lower_GlobalMaxPool;
  case OpKind::BatchNormalization:
    return &lower_BatchNormalization;
  case OpKind::InstanceNormalization:
    return &lower_InstanceNormalization;
  case OpKind::LayerNormalization:
    return &lower_LayerNormalization;
  case OpKind::LRN:
    return &lower_LRN;
  case OpKind::Softmax:
    return &lower_Softmax;
  case OpKind::LogSoftmax:
    return &lower_LogSoftmax;
  case OpKind::Flatten:
    return &lower_Flatten;
  case OpKind::Squeeze:
    return &lower_Squeeze;
  case OpKind::Unsqueeze:
    return &lower_Unsqueeze;
  case OpKind::DepthToSpace:
    return &lower_DepthToSpace;
  case OpKind::SpaceToDepth:
    return &lower_SpaceToDepth;
  case OpKind::Dropout:
    return &lower_Dropout;
  case OpKind::Placeholder:
  case OpKind::Constant:
  case OpKind::Identity:
  case OpKind::Abs:
  case OpKind::Neg:
  case OpKind::Exp:
  case OpKind::Log:
  case OpKind::Sqrt:
  case OpKind::Reciprocal:
  case OpKind::Sigmoid:
  case OpKind::Tanh:
  case OpKind::Relu:
  case OpKind::Erf:
  case OpKind::Floor:
  case OpKind::Ceil:
  case OpKind::Round:
  case OpKind::Sign:
  case OpKind::Sin:
  case OpKind::Cos:
  case OpKind::Tan:
  case OpKind::Asin:
  case OpKind::Acos:
  case OpKind::Atan:
  case OpKind::Sinh:
  case OpKind::Cosh:
  case OpKind::Asinh:
  case OpKind::Acosh:
  case OpKind::Atanh:
  case OpKind::Not:
  case OpKind::IsNaN:
  case OpKind::IsInf:
  case OpKind::BitwiseNot:
  case OpKind::Cast:
  case OpKind::Add:
  case OpKind::Sub:
  case OpKind::Mul:
  case OpKind::Div:
  case OpKind::Pow:
  case OpKind::Mod:
  case OpKind::Max:
  case OpKind::Min:
  case OpKind::Equal:
  case OpKind::Less:
  case OpKind::Greater:
  case OpKind::LessOrEqual:
  case OpKind::GreaterOrEqual:
  case OpKind::And:
  case OpKind::Or:
  case OpKind::Xor:
  case OpKind::BitShift:
  case OpKind::BitwiseAnd:
  case OpKind::BitwiseOr:
  case OpKind::BitwiseXor:
  case OpKind::Where:
  case OpKind::ReduceSum:
  case OpKind::ReduceMax:
  case OpKind::ReduceMin:
  case OpKind::ReduceProd:
  case OpKind::ArgMax:
  case OpKind::ArgMin:
  case OpKind::CumSum:
  case OpKind::TopK:
  case OpKind::MatMul:
  case OpKind::Conv:
  case OpKind::ConvTranspose:
  case OpKind::MaxPool:
  case OpKind::AveragePool:
  case OpKind::Reshape:
  case OpKind::Transpose:
  case OpKind::Slice:
  case OpKind::Concat:
  case OpKind::Split:
  case OpKind::Gather:
  case OpKind::GatherElements:
  case OpKind::GatherND:
  case OpKind::ScatterElements:
  case OpKind::ScatterND:
  case OpKind::Pad:
  case OpKind::Expand:
  case OpKind::Tile:
  case OpKind::Shape:
  case OpKind::Size:
  case OpKind::ConstantOfShape:
  case OpKind::Range:
  case OpKind::Resize:
  case OpKind::If:
  case OpKind::DynamicQuantizeLinear:
  case OpKind::BitCast:
  case OpKind::Loop:
  case OpKind::Scan:
  case OpKind::QuantizeLinear:
  case OpKind::DequantizeLinear:
  case OpKind::QLinearConv:
  case OpKind::QLinearMatMul:
  case OpKind::QLinearAdd:
  case OpKind::QLinearGlobalAveragePool:
  case OpKind::MatMulInteger:
  case OpKind::ConvInteger:
  case OpKind::Requantize:
  case OpKind::QuantizedAdd:
  case OpKind::TableLookup:
    return nullptr;
    // family E cases
  case OpKind::Attention:
    return &lower_Attention;
  case OpKind::RMSNormalization:
    return &lower_RMSNormalization;
  case OpKind::LpNormalization:
    return &lower_LpNormalization;
  case OpKind::GroupNormalization:
    return &lower_GroupNormalization;
  case OpKind::MeanVarianceNormalization:
    return &lower_MeanVarianceNormalization;
  case OpKind::Swish:
    return &lower_Swish;
  case OpKind::SwiGLU:
    return &lower_SwiGLU;
  case OpKind::RotaryEmbedding:
    return &lower_RotaryEmbedding;
  case OpKind::Hardmax:
    return &lower_Hardmax;
  case OpKind::Trilu:
    return &lower_Trilu;
  case OpKind::CausalConvWithState:
    return &lower_CausalConvWithState;
  case OpKind::TensorScatter:
    return &lower_TensorScatter;
  case OpKind::LpPool:
    return &lower_LpPool;
  case OpKind::CumProd:
  case OpKind::LinearAttention:
  case OpKind::RNN:
  case OpKind::GRU:
  case OpKind::LSTM:
    return nullptr;
    // (end of family E)
    // family F cases
  case OpKind::EyeLike:
    return &lower_EyeLike;
  case OpKind::HannWindow:
    return &lower_HannWindow;
  case OpKind::HammingWindow:
    return &lower_HammingWindow;
  case OpKind::BlackmanWindow:
    return &lower_BlackmanWindow;
  case OpKind::MelWeightMatrix:
    return &lower_MelWeightMatrix;
  case OpKind::NonZero:
    return &lower_NonZero;
  case OpKind::Unique:
    return &lower_Unique;
  case OpKind::NonMaxSuppression:
    return &lower_NonMaxSuppression;
  case OpKind::OneHot:
    return &lower_OneHot;
  case OpKind::Compress:
    return &lower_Compress;
  case OpKind::CenterCropPad:
    return &lower_CenterCropPad;
  case OpKind::Einsum:
    return &lower_Einsum;
  case OpKind::NegativeLogLikelihoodLoss:
    return &lower_NegativeLogLikelihoodLoss;
  case OpKind::SoftmaxCrossEntropyLoss:
    return &lower_SoftmaxCrossEntropyLoss;
  case OpKind::DFT:
    return &lower_DFT;
  case OpKind::STFT:
    return &lower_STFT;
  case OpKind::AffineGrid:
    return &lower_AffineGrid;
  case OpKind::MaxUnpool:
    return &lower_MaxUnpool;
  case OpKind::ReverseSequence:
    return &lower_ReverseSequence;
  case OpKind::GridSample:
  case OpKind::Det:
  case OpKind::RoiAlign:
  case OpKind::DeformConv:
    return nullptr;
    // (end of family F)
  }
  return nullptr;
}

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
  // Quantized patterns first, while composites are still whole.
  EMBER_TRY(lowerIntegerPatterns(f, &count));
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
