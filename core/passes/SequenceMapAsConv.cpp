// The map-to-sequence of a CRNN as a convolution: a feature map X = [1, C,
// H, W] made a sequence of its columns, Reshape(Transpose(X, [3, 0, 1, 2]),
// [W, C*H]) (or [W, 1, C*H]), read by MatMulIntegers with constant B =
// [C*H, M], becomes per MatMulInteger a ConvInteger of X with an H x 1
// kernel, Wc[m, c, h, 0] = B[c*H + h, m] (no padding, stride 1, the same
// zero points), whose [1, M, 1, W] result is moved to the MatMul's shape
// by Transpose [3, 0, 1, 2] and Reshape.
//
// Both compute, for column w and output m, the sum over c and h of
// (X[0, c, h, w] - xz) (B[c*H + h, m] - wz), in exact int32 arithmetic: the
// results are the same bits. A bias Add of a constant along M and a
// Requantize per tensor or along M (the MatMul's last axis) after the
// product move with it onto the convolution (the bias as [1, M, 1, 1],
// the Requantize along axis 1), so the move reads the requantized result.
// Laid out channels last, [1, M, 1, W] is W pixels of M channels, the
// bytes of the sequence [W, M]: a backend that keeps rank-2 and rank-3
// sequences so runs the move as a view, and the convolution with its bias
// and requantization as one layer, where the host had to transpose the map.
//
// Applies when every reader of the Reshape is such a MatMulInteger and the
// Transpose and Reshape have no other readers (otherwise the host
// transposes the map anyway); only for a batch of 1 (with N > 1 the move
// is a real transpose).
#include "passes/Pass.h"

namespace ember {

namespace {

const std::vector<int64_t> kSeqPerm = {3, 0, 1, 2};

// Whether a constant has one element or `m` along one axis (and 1s
// elsewhere).
bool scalarOr(const Tensor *t, int64_t m) {
  return t && (t->size() == 1 || t->size() == m);
}

struct Match {
  Node *mm = nullptr;
  Node *add = nullptr;     // the bias Add, or null
  int addOperand = 0;      // which operand of add the product is
  Node *requant = nullptr; // the Requantize, or null
};

// The sole reader of n's only result, or null (several readers, or a
// function output).
Node *soleReader(Node *n,
                 const std::unordered_map<const Node *, std::vector<Use>> &u) {
  auto it = u.find(n);
  if (it == u.end() || it->second.size() != 1 || !it->second[0].user)
    return nullptr;
  return it->second[0].user;
}

// Whether MatMulInteger mm multiplies the [W, C*H] sequence by a constant
// [C*H, M] B with scalar zero point A and a scalar or per-column one for B.
bool isProjection(const Node *mm, int64_t k) {
  if (mm->kind != OpKind::MatMulInteger || mm->numResults() != 1)
    return false;
  const Tensor *b = mm->constantInput(1);
  if (!b || b->dims().size() != 2 || b->dim(0) != k)
    return false;
  if (mm->hasInput(2)) {
    const Tensor *az = mm->constantInput(2);
    if (!az || az->size() != 1)
      return false;
  }
  if (mm->hasInput(3) && !scalarOr(mm->constantInput(3), b->dim(1)))
    return false;
  return true;
}

// Extends a match over the bias Add and the Requantize that follow.
void extend(Match &m, int64_t M,
            const std::unordered_map<const Node *, std::vector<Use>> &u) {
  const Dims &yd = m.mm->types[0].dims();
  Node *a = soleReader(m.mm, u);
  if (a && a->kind == OpKind::Add && a->inputs.size() == 2 &&
      a->types[0].dims() == yd) {
    const int o = a->inputs[0].node == m.mm ? 0 : 1;
    const Tensor *bias = a->constantInput(size_t(1 - o));
    if (a->inputs[size_t(o)] == Value(m.mm) && bias && bias->size() == M &&
        !bias->dims().empty() && bias->dims().back() == M) {
      m.add = a;
      m.addOperand = o;
    }
  }
  Node *last = m.add ? m.add : m.mm;
  Node *r = soleReader(last, u);
  if (!r || r->kind != OpKind::Requantize || r->inputs[0] != Value(last))
    return;
  const int64_t rank = int64_t(yd.size());
  const int64_t axis = r->attrInt("axis", 1);
  bool perChannel = false;
  for (size_t i = 1; i < r->inputs.size(); ++i) {
    if (!r->hasInput(i))
      continue;
    const Tensor *t = r->constantInput(i);
    if (!scalarOr(t, M))
      return;
    perChannel = perChannel || t->size() != 1;
  }
  if (perChannel && M != 1 && axis != rank - 1 && axis != -1)
    return;
  m.requant = r;
}

struct Rewriter {
  Function &f;
  PassStats &s;

  Expected<Value> make(OpKind k, std::vector<Value> ins, AttrMap a,
                       const std::string &name, Node *before) {
    EMBER_ASSIGN(Node * n, f.create(k, std::move(ins), std::move(a), "", 1,
                                    before, {f.freshName(name)}));
    return Value(n, 0);
  }

  Status rewrite(const Match &m, Value x) {
    const Dims &xd = x.type().dims();
    const int64_t C = xd[1], H = xd[2];
    const Tensor &b = *m.mm->constantInput(1);
    const int64_t M = b.dim(1);
    Node *outer = m.requant ? m.requant : m.add ? m.add : m.mm;
    const std::string base = m.mm->outNames[0];

    Tensor wc(Type(b.elem(), {M, C, H, 1}));
    for (int64_t o = 0; o < M; ++o)
      for (int64_t c = 0; c < C; ++c)
        for (int64_t h = 0; h < H; ++h)
          wc.setInt((o * C + c) * H + h, b.getInt((c * H + h) * M + o));
    Value w(f.addConstant(f.freshName(base + ".kernel"), std::move(wc)));
    std::vector<Value> ins{x, w};
    if (m.mm->hasInput(2) || m.mm->hasInput(3))
      ins.push_back(m.mm->hasInput(2) ? m.mm->inputs[2] : Value());
    if (m.mm->hasInput(3))
      ins.push_back(m.mm->inputs[3]);
    AttrMap ca{{"kernel_shape", Attr::ofInts({H, 1})},
               {"pads", Attr::ofInts({0, 0, 0, 0})},
               {"strides", Attr::ofInts({1, 1})},
               {"group", Attr::ofInt(1)}};
    EMBER_ASSIGN(Value v, make(OpKind::ConvInteger, std::move(ins),
                               std::move(ca), base + ".conv", outer));
    if (m.add) {
      Tensor bias = *m.add->constantInput(size_t(1 - m.addOperand));
      bias.reshape({1, M, 1, 1});
      Value bv(f.addConstant(f.freshName(base + ".bias"), std::move(bias)));
      std::vector<Value> ai{v, bv};
      if (m.addOperand == 1)
        std::swap(ai[0], ai[1]);
      EMBER_ASSIGN(v, make(OpKind::Add, std::move(ai), {},
                           m.add->outNames[0] + ".conv", outer));
    }
    if (m.requant) {
      std::vector<Value> ri = m.requant->inputs;
      ri[0] = v;
      AttrMap ra = m.requant->attrs;
      ra["axis"] = Attr::ofInt(1);
      EMBER_ASSIGN(v, make(OpKind::Requantize, std::move(ri), std::move(ra),
                           m.requant->outNames[0] + ".conv", outer));
    }
    EMBER_ASSIGN(v, make(OpKind::Transpose, {v},
                         {{"perm", Attr::ofInts(kSeqPerm)}}, base + ".seq.t",
                         outer));
    const Dims &yd = outer->types[0].dims();
    Value shape(f.addConstant(f.freshName(base + ".seq.shape"),
                              Tensor::fromInts(ElemKind::I64, yd)));
    EMBER_ASSIGN(v,
                 make(OpKind::Reshape, {v, shape},
                      {{"allowzero", Attr::ofInt(1)}}, base + ".seq", outer));
    f.replaceAllUses(Value(outer), v);
    ++s.changed;
    return Status::ok();
  }
};

} // namespace

Status runSequenceMapAsConv(Function &f, PassStats &s) {
  auto users = f.computeUsers();
  std::vector<std::pair<std::vector<Match>, Value>> rewrites;
  for (auto &np : f.nodes()) {
    Node *t = np.get();
    if (t->kind != OpKind::Transpose || t->numResults() != 1 ||
        t->attrInts("perm") != kSeqPerm)
      continue;
    const Value x = t->inputs[0];
    const Dims &xd = x.type().dims();
    if (xd.size() != 4 || xd[0] != 1 || !isIntKind(x.type().elem()))
      continue;
    const int64_t C = xd[1], H = xd[2], W = xd[3];
    Node *r = soleReader(t, users);
    if (!r || r->kind != OpKind::Reshape || r->inputs[0] != Value(t))
      continue;
    const Dims &rd = r->types[0].dims();
    if (rd != Dims{W, C * H} && rd != Dims{W, 1, C * H})
      continue;
    auto it = users.find(r);
    if (it == users.end() || it->second.empty())
      continue;
    std::vector<Match> ms;
    bool all = true;
    for (const Use &use : it->second) {
      Node *mm = use.user;
      if (!mm || use.operand != 0 || !isProjection(mm, C * H)) {
        all = false;
        break;
      }
      Match m;
      m.mm = mm;
      extend(m, mm->constantInput(1)->dim(1), users);
      ms.push_back(m);
    }
    if (all)
      rewrites.emplace_back(std::move(ms), x);
  }
  Rewriter rw{f, s};
  for (auto &[ms, x] : rewrites)
    for (const Match &m : ms)
      EMBER_TRY(
          rw.rewrite(m, x).withContext("sequence map of " + m.mm->outNames[0]));
  return Status::ok();
}

} // namespace ember
