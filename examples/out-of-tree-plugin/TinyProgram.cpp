// Checking an ember.backend.v1.Graph and running it in plain loops.
//
// The graph arrives as bytes from the host and is treated as hostile: ids
// are range-checked, every value is defined once before it is used, types
// must be dense f32 of a sane size, constant data must match its type, and
// each node's declared result shape must equal the one computed here. The
// kernels follow the reference interpreter's arithmetic (ascending-k
// accumulation in MatMul, the same Sigmoid formula, NaN-propagating
// Max/Min), so results match `--target=interp` exactly.
#include "TinyProgram.h"

#include "ember/backend.h"

#include <climits>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the tiny backend reads tensor bytes as little-endian f32"
#endif

namespace tiny {

namespace {

// Tensors above this many elements are refused (keeps index math in int64
// far from overflow; 2^31 f32 elements is 8 GiB).
constexpr int64_t kMaxElements = int64_t(1) << 31;

std::string dimsText(const Dims &d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i)
    s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

bool isUnary(Op op) {
  return op == Op::Relu || op == Op::Sigmoid || op == Op::Tanh || op == Op::Exp;
}
bool isVariadic(Op op) { return op == Op::Max || op == Op::Min; }

// The checked type of value `id`: "" and its dims, or why it is refused.
std::string valueType(const v1::Graph &g, int32_t id, Dims &dims) {
  if (id < 0 || id >= g.values_size())
    return "value id " + std::to_string(id) + " is out of range";
  const v1::Value &v = g.values(id);
  if (!v.has_type())
    return "value '" + v.name() + "' has no type";
  const v1::TensorType &t = v.type();
  if (t.dtype() != "f32")
    return "'" + v.name() + "' is " + t.dtype() + " (tiny runs f32 only)";
  if (t.has_quant())
    return "'" + v.name() + "' is quantized (tiny runs plain f32 only)";
  dims.assign(t.dims().begin(), t.dims().end());
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0)
      return "'" + v.name() + "' has a negative dimension";
    if (d && n > kMaxElements / d)
      return "'" + v.name() + "' " + dimsText(dims) + " is too large";
    n *= d ? d : 1;
  }
  return "";
}

// numpy broadcasting of two shapes; false when they do not broadcast.
bool broadcast(const Dims &a, const Dims &b, Dims &out) {
  size_t r = std::max(a.size(), b.size());
  out.assign(r, 1);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da != db && da != 1 && db != 1)
      return false;
    out[i] = da == 1 ? db : da;
  }
  return true;
}

// The result shape of `op` over `in`, or why there is none.
std::string resultShape(Op op, const std::vector<Dims> &in, Dims &out) {
  if (op == Op::MatMul) {
    const Dims &a = in[0], &b = in[1];
    for (size_t k = 0; k < 2; ++k)
      if (in[k].size() < size_t(kMinMatMulRank) ||
          in[k].size() > size_t(kMaxMatMulRank))
        return "MatMul operand " + std::to_string(k) + " has rank " +
               std::to_string(in[k].size()) + " (tiny runs ranks " +
               std::to_string(kMinMatMulRank) + " to " +
               std::to_string(kMaxMatMulRank) + ")";
    if (a.back() != b[b.size() - 2])
      return "MatMul inner dimensions differ: " + dimsText(a) + " x " +
             dimsText(b);
    Dims batch;
    if (!broadcast(Dims(a.begin(), a.end() - 2), Dims(b.begin(), b.end() - 2),
                   batch))
      return "MatMul batch dimensions do not broadcast: " + dimsText(a) +
             " x " + dimsText(b);
    out = batch;
    out.push_back(a[a.size() - 2]);
    out.push_back(b.back());
    return "";
  }
  out = in[0];
  for (size_t k = 0; k < in.size(); ++k) {
    if (in[k].size() > size_t(kMaxElementwiseRank))
      return "operand " + std::to_string(k) + " has rank " +
             std::to_string(in[k].size()) + " (tiny runs ranks up to " +
             std::to_string(kMaxElementwiseRank) + ")";
    Dims t;
    if (!broadcast(out, in[k], t))
      return "operand shapes " + dimsText(out) + " and " + dimsText(in[k]) +
             " do not broadcast";
    out = t;
  }
  return "";
}

// Byte strides (in elements) of `in` seen from `out` under broadcasting:
// 0 along broadcast dimensions.
std::vector<int64_t> broadcastStrides(const Dims &out, const Dims &in) {
  std::vector<int64_t> s(out.size(), 0);
  int64_t stride = 1;
  for (size_t i = in.size(); i-- > 0;) {
    size_t o = i + (out.size() - in.size());
    s[o] = in[i] == 1 ? 0 : stride;
    stride *= in[i];
  }
  return s;
}

// y[i] = f(a[...], b[...]) over the output shape `od`, walking both
// operands with an odometer instead of dividing every index.
template <typename F>
void broadcastBinary(const Dims &od, const Dims &ad, const float *a,
                     const Dims &bd, const float *b, float *y, F f) {
  std::vector<int64_t> sa = broadcastStrides(od, ad),
                       sb = broadcastStrides(od, bd);
  std::vector<int64_t> idx(od.size(), 0);
  int64_t n = numElements(od), oa = 0, ob = 0;
  for (int64_t i = 0; i < n; ++i) {
    y[i] = f(a[oa], b[ob]);
    for (size_t d = od.size(); d-- > 0;) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < od[d])
        break;
      oa -= sa[d] * od[d];
      ob -= sb[d] * od[d];
      idx[d] = 0;
    }
  }
}

// Y[batch, M, N] = A[batch, M, K] x B[batch, K, N] with broadcast batch
// dimensions. Each element sums its products in ascending k, in f32.
void matmul(const Dims &ad, const float *a, const Dims &bd, const float *b,
            const Dims &yd, float *y) {
  int64_t M = ad[ad.size() - 2], K = ad.back(), N = bd.back();
  Dims batch(yd.begin(), yd.end() - 2);
  Dims aBatch(ad.begin(), ad.end() - 2), bBatch(bd.begin(), bd.end() - 2);
  std::vector<int64_t> sa = broadcastStrides(batch, aBatch),
                       sb = broadcastStrides(batch, bBatch);
  std::vector<int64_t> idx(batch.size(), 0);
  int64_t nb = numElements(batch), oa = 0, ob = 0;
  for (int64_t bi = 0; bi < nb; ++bi) {
    const float *pa = a + oa * M * K, *pb = b + ob * K * N;
    float *py = y + bi * M * N;
    for (int64_t i = 0; i < M; ++i)
      for (int64_t j = 0; j < N; ++j) {
        float acc = 0.0f;
        for (int64_t k = 0; k < K; ++k)
          acc += pa[i * K + k] * pb[k * N + j];
        py[i * N + j] = acc;
      }
    for (size_t d = batch.size(); d-- > 0;) {
      oa += sa[d];
      ob += sb[d];
      if (++idx[d] < batch[d])
        break;
      oa -= sa[d] * batch[d];
      ob -= sb[d] * batch[d];
      idx[d] = 0;
    }
  }
}

float unary(Op op, float x) {
  switch (op) {
  case Op::Relu:
    return x > 0.0f ? x : 0.0f;
  case Op::Sigmoid: // stable for large |x|, as the reference interpreter
    return x >= 0.0f ? 1.0f / (1.0f + std::exp(-x))
                     : std::exp(x) / (1.0f + std::exp(x));
  case Op::Tanh:
    return std::tanh(x);
  case Op::Exp:
    return std::exp(x);
  case Op::Add:
  case Op::Sub:
  case Op::Mul:
  case Op::Div:
  case Op::Max:
  case Op::Min:
  case Op::MatMul:
    break;
  }
  return std::numeric_limits<float>::quiet_NaN();
}

float binary(Op op, float a, float b) {
  switch (op) {
  case Op::Add:
    return a + b;
  case Op::Sub:
    return a - b;
  case Op::Mul:
    return a * b;
  case Op::Div:
    return a / b;
  case Op::Max: // NaN wins, as in the reference interpreter
    return std::isnan(a) || std::isnan(b)
               ? std::numeric_limits<float>::quiet_NaN()
               : (b > a ? b : a);
  case Op::Min:
    return std::isnan(a) || std::isnan(b)
               ? std::numeric_limits<float>::quiet_NaN()
               : (b < a ? b : a);
  case Op::Relu:
  case Op::Sigmoid:
  case Op::Tanh:
  case Op::Exp:
  case Op::MatMul:
    break;
  }
  return std::numeric_limits<float>::quiet_NaN();
}

Status fail(int32_t code, std::string message) {
  return Status{code, std::move(message)};
}

std::string nodeText(const v1::Graph &g, int i) {
  const v1::Node &n = g.nodes(i);
  return "node " + std::to_string(i) + " (" + n.op() +
         (n.name().empty() ? "" : " '" + n.name() + "'") + ")";
}

} // namespace

const char *opName(Op op) {
  switch (op) {
  case Op::Add:
    return "Add";
  case Op::Sub:
    return "Sub";
  case Op::Mul:
    return "Mul";
  case Op::Div:
    return "Div";
  case Op::Max:
    return "Max";
  case Op::Min:
    return "Min";
  case Op::Relu:
    return "Relu";
  case Op::Sigmoid:
    return "Sigmoid";
  case Op::Tanh:
    return "Tanh";
  case Op::Exp:
    return "Exp";
  case Op::MatMul:
    return "MatMul";
  }
  return "?";
}

bool opFromName(const std::string &name, Op &op) {
  for (Op o : kAllOps)
    if (name == opName(o)) {
      op = o;
      return true;
    }
  return false;
}

int64_t numElements(const Dims &d) {
  int64_t n = 1;
  for (int64_t x : d)
    n *= x;
  return n;
}

std::string whyNot(const v1::Graph &g, int index) {
  const v1::Node &n = g.nodes(index);
  Op op;
  if (!opFromName(n.op(), op))
    return "op " + n.op() + " is not implemented by the tiny backend";
  if (n.attributes_size())
    return "attribute '" + n.attributes(0).name() + "' is not understood";
  size_t arity = isUnary(op) ? 1 : 2;
  if (isVariadic(op) ? n.inputs_size() < 1 : size_t(n.inputs_size()) != arity)
    return "has " + std::to_string(n.inputs_size()) + " operands";
  if (n.outputs_size() != 1)
    return "has " + std::to_string(n.outputs_size()) + " results";
  std::vector<Dims> in(size_t(n.inputs_size()));
  for (int k = 0; k < n.inputs_size(); ++k) {
    if (n.inputs(k) < 0)
      return "operand " + std::to_string(k) + " is absent";
    std::string why = valueType(g, n.inputs(k), in[size_t(k)]);
    if (!why.empty())
      return "operand " + std::to_string(k) + " " + why;
  }
  Dims declared, computed;
  std::string why = valueType(g, n.outputs(0), declared);
  if (!why.empty())
    return "result " + why;
  why = resultShape(op, in, computed);
  if (!why.empty())
    return why;
  if (declared != computed)
    return "result shape " + dimsText(declared) + " is not the computed " +
           dimsText(computed);
  return "";
}

Status buildProgram(const void *data, size_t size, Program &p) {
  v1::Graph g;
  if ((size && !data) || size > size_t(INT_MAX) ||
      !g.ParseFromArray(data, int(size)))
    return fail(EMBER_STATUS_INVALID_ARGUMENT,
                "the program is not an ember.backend.v1.Graph");
  if (g.schema_version() != 1)
    return fail(EMBER_STATUS_VERSION_MISMATCH,
                "Graph schema version " + std::to_string(g.schema_version()) +
                    " (the tiny backend reads version 1)");
  size_t nv = size_t(g.values_size());
  p = Program();
  p.dims.resize(nv);
  p.constants.resize(nv);
  std::vector<bool> defined(nv, false);
  // Defines value `id` once, with its checked type.
  auto define = [&](int32_t id, const std::string &what) -> Status {
    if (id < 0 || size_t(id) >= nv)
      return fail(EMBER_STATUS_INVALID_ARGUMENT, what + ": value id " +
                                                     std::to_string(id) +
                                                     " is out of range");
    if (defined[size_t(id)])
      return fail(EMBER_STATUS_INVALID_ARGUMENT,
                  what + ": value " + std::to_string(id) + " is defined twice");
    std::string why = valueType(g, id, p.dims[size_t(id)]);
    if (!why.empty())
      return fail(EMBER_STATUS_UNSUPPORTED, what + ": " + why);
    defined[size_t(id)] = true;
    return {};
  };

  for (int i = 0; i < g.inputs_size(); ++i) {
    int32_t id = g.inputs(i);
    Status s = define(id, "input " + std::to_string(i));
    if (!s.ok())
      return s;
    p.inputs.push_back(id);
    p.inputNames.push_back(g.values(id).name());
  }
  for (int i = 0; i < g.constants_size(); ++i) {
    const v1::Constant &c = g.constants(i);
    std::string what = "constant " + std::to_string(i);
    Status s = define(c.value(), what);
    if (!s.ok())
      return s;
    const Dims &d = p.dims[size_t(c.value())];
    const v1::TensorData &t = c.data();
    if (t.type().dtype() != "f32" ||
        Dims(t.type().dims().begin(), t.type().dims().end()) != d)
      return fail(EMBER_STATUS_INVALID_ARGUMENT,
                  what + ": data type " + t.type().dtype() +
                      " does not match its value");
    size_t bytes = size_t(numElements(d)) * sizeof(float);
    if (t.data().size() != bytes)
      return fail(EMBER_STATUS_INVALID_ARGUMENT,
                  what + ": " + std::to_string(t.data().size()) +
                      " bytes of data, its type needs " +
                      std::to_string(bytes));
    std::vector<float> &v = p.constants[size_t(c.value())];
    v.resize(size_t(numElements(d)));
    if (bytes)
      std::memcpy(v.data(), t.data().data(), bytes);
  }
  for (int i = 0; i < g.nodes_size(); ++i) {
    std::string why = whyNot(g, i);
    if (!why.empty())
      return fail(EMBER_STATUS_UNSUPPORTED, nodeText(g, i) + ": " + why);
    const v1::Node &n = g.nodes(i);
    Step st;
    opFromName(n.op(), st.op);
    for (int32_t id : n.inputs()) {
      if (!defined[size_t(id)])
        return fail(EMBER_STATUS_INVALID_ARGUMENT,
                    nodeText(g, i) + ": uses value " + std::to_string(id) +
                        " before it is defined");
      st.inputs.push_back(id);
    }
    st.output = n.outputs(0);
    Status s = define(st.output, nodeText(g, i));
    if (!s.ok())
      return s;
    p.steps.push_back(std::move(st));
  }
  for (int i = 0; i < g.outputs_size(); ++i) {
    int32_t id = g.outputs(i);
    if (id < 0 || size_t(id) >= nv || !defined[size_t(id)])
      return fail(EMBER_STATUS_INVALID_ARGUMENT,
                  "output " + std::to_string(i) + ": value id " +
                      std::to_string(id) + " is not defined");
    p.outputs.push_back(id);
    p.outputNames.push_back(i < g.output_names_size() ? g.output_names(i)
                                                      : g.values(id).name());
  }
  return {};
}

Status run(const Program &p, const std::vector<const float *> &inputs,
           const std::vector<float *> &outputs) {
  if (inputs.size() != p.inputs.size() || outputs.size() != p.outputs.size())
    return fail(EMBER_STATUS_INVALID_ARGUMENT, "wrong number of buffers");
  // Where each value lives during this run: an input buffer, a constant of
  // the program, or a temporary owned here.
  std::vector<const float *> at(p.dims.size(), nullptr);
  std::vector<std::vector<float>> temps(p.dims.size());
  static const float kEmpty = 0.0f;
  for (size_t id = 0; id < p.constants.size(); ++id)
    if (!p.constants[id].empty())
      at[id] = p.constants[id].data();
  for (size_t i = 0; i < inputs.size(); ++i)
    at[size_t(p.inputs[i])] = inputs[i];
  for (const Step &s : p.steps) {
    std::vector<float> &y = temps[size_t(s.output)];
    const Dims &yd = p.dims[size_t(s.output)];
    y.resize(size_t(numElements(yd)));
    auto in = [&](size_t k) {
      const float *x = at[size_t(s.inputs[k])];
      return x ? x : &kEmpty; // zero-element constants have no storage
    };
    auto dimsOf = [&](size_t k) -> const Dims & {
      return p.dims[size_t(s.inputs[k])];
    };
    if (s.op == Op::MatMul) {
      matmul(dimsOf(0), in(0), dimsOf(1), in(1), yd, y.data());
    } else if (isUnary(s.op)) {
      const float *x = in(0);
      for (size_t i = 0; i < y.size(); ++i)
        y[i] = unary(s.op, x[i]);
    } else if (isVariadic(s.op)) {
      broadcastBinary(yd, dimsOf(0), in(0), dimsOf(0), in(0), y.data(),
                      [](float a, float) { return a; });
      for (size_t k = 1; k < s.inputs.size(); ++k)
        broadcastBinary(yd, yd, y.data(), dimsOf(k), in(k), y.data(),
                        [&](float a, float b) { return binary(s.op, a, b); });
    } else {
      broadcastBinary(yd, dimsOf(0), in(0), dimsOf(1), in(1), y.data(),
                      [&](float a, float b) { return binary(s.op, a, b); });
    }
    at[size_t(s.output)] = y.data();
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    size_t id = size_t(p.outputs[i]);
    size_t n = size_t(numElements(p.dims[id]));
    if (n)
      std::memcpy(outputs[i], at[id], n * sizeof(float));
  }
  return {};
}

} // namespace tiny
