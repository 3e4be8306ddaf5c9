// The abstract machine's operations (Op.h): builders, text, accesses.
#include "ember/accel/Op.h"

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace ember::accel {

namespace {

Op make(const Target &t, OpKind k) {
  Op op;
  op.kind = k;
  op.engine = t.kindEngine[size_t(k)];
  return op;
}

using Field = OpField;

} // namespace

const std::vector<OpField> &opFields(OpKind k) {
  static const std::vector<Field> f[kNumOpKinds] = {
      {{"row", &Op::row},
       {"dram", &Op::dram},
       {"ysize", &Op::ysize},
       {"xsize", &Op::xsize},
       {"stride", &Op::stride},
       {"pad_top", &Op::padTop},
       {"pad_bottom", &Op::padBottom},
       {"pad_left", &Op::padLeft},
       {"pad_right", &Op::padRight}},
      {{"row", &Op::row},
       {"dram", &Op::dram},
       {"ysize", &Op::ysize},
       {"xsize", &Op::xsize},
       {"stride", &Op::stride}},
      {{"dst", &Op::dst},
       {"src", &Op::src},
       {"ysize", &Op::ysize},
       {"xsize", &Op::xsize},
       {"stride", &Op::stride},
       {"pad_top", &Op::padTop},
       {"pad_bottom", &Op::padBottom},
       {"pad_left", &Op::padLeft},
       {"pad_right", &Op::padRight}},
      {{"acc", &Op::acc},
       {"act", &Op::act},
       {"wgt", &Op::wgt},
       {"inner", &Op::inner},
       {"outer", &Op::outer},
       {"act_ostride", &Op::actOstride},
       {"acc_ostride", &Op::accOstride}},
      {{"acc", &Op::acc},
       {"act", &Op::act},
       {"wgt", &Op::wgt},
       {"inner", &Op::inner},
       {"outer", &Op::outer},
       {"act_ostride", &Op::actOstride},
       {"acc_ostride", &Op::accOstride},
       {"taps", &Op::taps},
       {"stride", &Op::stride}},
      {{"dst", &Op::dst},
       {"src", &Op::src},
       {"rows", &Op::rows},
       {"param", &Op::param},
       {"zp", &Op::zp},
       {"min", &Op::min},
       {"max", &Op::max}},
      {{"dst", &Op::dst}, {"a", &Op::a}, {"b", &Op::b}, {"rows", &Op::rows}},
      {{"dst", &Op::dst}, {"src", &Op::src}, {"rows", &Op::rows}},
      {{"value", &Op::value}},
      {},
      {{"src", &Op::src}},
      {{"dst", &Op::dst}, {"a", &Op::a}, {"b", &Op::b}, {"rows", &Op::rows}},
      {{"dst", &Op::dst},
       {"src", &Op::src},
       {"w", &Op::upW},
       {"h", &Op::upH},
       {"oy", &Op::oy},
       {"oh", &Op::oh},
       {"factor", &Op::factor},
       {"mode", &Op::mode},
       {"zp", &Op::zp}},
      {{"dst", &Op::dst}, {"src", &Op::src}, {"rows", &Op::rows}},
      {{"dst", &Op::dst},
       {"src", &Op::src},
       {"rows", &Op::rows},
       {"len", &Op::len},
       {"gstride", &Op::gstride},
       {"kstride", &Op::kstride},
       {"last", &Op::last}},
      {{"dst", &Op::dst}, {"src", &Op::src}, {"rows", &Op::rows}},
      {{"dst", &Op::dst},
       {"src", &Op::src},
       {"rows", &Op::rows},
       {"stride", &Op::stride},
       {"scal", &Op::scal},
       {"sum", &Op::sumRow},
       {"param", &Op::param}},
      {{"dst", &Op::dst},
       {"src", &Op::src},
       {"rows", &Op::rows},
       {"stride", &Op::stride},
       {"scal", &Op::scal},
       {"sum", &Op::sumRow}}};
  return f[size_t(k)];
}

namespace {

std::string mask(const Target &t, uint32_t m) {
  std::string s;
  for (int c = 0; c < 32; ++c)
    if (m >> c & 1u) {
      s += s.empty() ? "" : ",";
      s += t.sync.kind == SyncKind::Tokens ? t.channelName(c)
                                           : "b" + std::to_string(c);
    }
  return s;
}

bool parseMask(const Target &t, const std::string &s, uint32_t &m) {
  m = 0;
  std::stringstream ss(s);
  std::string item;
  while (std::getline(ss, item, ',')) {
    int found = -1;
    if (t.sync.kind == SyncKind::Barriers) {
      if (item.size() > 1 && item[0] == 'b' &&
          item.find_first_not_of("0123456789", 1) == std::string::npos &&
          item.size() < 4)
        found = std::atoi(item.c_str() + 1);
    } else {
      const int n = int(t.engines.size());
      for (int c = 0; c < n * n && c < 32; ++c)
        if (c / n != c % n && t.channelName(c) == item)
          found = c;
    }
    if (found < 0 || found >= 32)
      return false;
    m |= 1u << found;
  }
  return true;
}

} // namespace

Op loadOp(const Target &t, Cls c, int64_t row, int64_t dram, int64_t ysize,
          int64_t xsize, int64_t stride, int64_t padTop, int64_t padBottom,
          int64_t padLeft, int64_t padRight) {
  Op op = make(t, OpKind::Load);
  op.engine = t.engineFor(OpKind::Load, c);
  op.cls = c;
  op.mem = t.memOf(c);
  op.row = row;
  op.dram = dram;
  op.ysize = ysize;
  op.xsize = xsize;
  op.stride = stride;
  op.padTop = padTop;
  op.padBottom = padBottom;
  op.padLeft = padLeft;
  op.padRight = padRight;
  return op;
}

Op storeOp(const Target &t, Cls c, int64_t row, int64_t dram, int64_t ysize,
           int64_t xsize, int64_t stride) {
  Op op = make(t, OpKind::Store);
  op.engine = t.engineFor(OpKind::Store, c);
  op.cls = c;
  op.mem = t.memOf(c);
  op.row = row;
  op.dram = dram;
  op.ysize = ysize;
  op.xsize = xsize;
  op.stride = stride;
  return op;
}

Op copyOp(const Target &t, int64_t dst, int64_t src, int64_t ysize,
          int64_t xsize, int64_t stride, int64_t padTop, int64_t padBottom,
          int64_t padLeft, int64_t padRight) {
  Op op = make(t, OpKind::Copy);
  op.cls = Cls::Act;
  op.mem = t.memOf(Cls::Act);
  op.dst = dst;
  op.src = src;
  op.ysize = ysize;
  op.xsize = xsize;
  op.stride = stride;
  op.padTop = padTop;
  op.padBottom = padBottom;
  op.padLeft = padLeft;
  op.padRight = padRight;
  return op;
}

Op gemmOp(const Target &t, bool reset, int64_t acc, int64_t act, int64_t wgt,
          int64_t inner, int64_t outer, int64_t actOstride,
          int64_t accOstride) {
  Op op = make(t, OpKind::Gemm);
  op.reset = reset;
  op.acc = acc;
  op.act = act;
  op.wgt = wgt;
  op.inner = inner;
  op.outer = outer;
  op.actOstride = actOstride;
  op.accOstride = accOstride;
  return op;
}

Op dwgemmOp(const Target &t, bool reset, int64_t acc, int64_t act, int64_t wgt,
            int64_t inner, int64_t outer, int64_t actOstride,
            int64_t accOstride, int64_t taps, int64_t stride, bool bias) {
  Op op = make(t, OpKind::DwGemm);
  op.reset = reset;
  op.acc = acc;
  op.act = act;
  op.wgt = wgt;
  op.inner = inner;
  op.outer = outer;
  op.actOstride = actOstride;
  op.accOstride = accOstride;
  op.taps = taps;
  op.stride = stride;
  op.bias = bias;
  return op;
}

Op requantOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t param, int64_t zp, int64_t min, int64_t max, bool bias) {
  Op op = make(t, OpKind::Requant);
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  op.param = param;
  op.zp = zp;
  op.min = min;
  op.max = max;
  op.bias = bias;
  return op;
}

Op vmulOp(const Target &t, int64_t dst, int64_t a, int64_t b, int64_t rows,
          bool bcast) {
  Op op = make(t, OpKind::VMul);
  op.dst = dst;
  op.a = a;
  op.b = b;
  op.rows = rows;
  op.bcast = bcast;
  return op;
}

Op upsampleOp(const Target &t, int64_t dst, int64_t src, int64_t w, int64_t h,
              int64_t oy, int64_t oh, int64_t factor, int64_t mode,
              int64_t zp) {
  Op op = make(t, OpKind::Upsample);
  op.dst = dst;
  op.src = src;
  op.upW = w;
  op.upH = h;
  op.oy = oy;
  op.oh = oh;
  op.factor = factor;
  op.mode = mode;
  op.zp = zp;
  return op;
}

Op lutldOp(const Target &t, int64_t src) {
  Op op = make(t, OpKind::LutLd);
  op.src = src;
  return op;
}

Op lut16ldOp(const Target &t, int64_t src) {
  Op op = lutldOp(t, src);
  op.w16 = true;
  return op;
}

Op lut16Op(const Target &t, int64_t dst, int64_t src, int64_t rows) {
  Op op = make(t, OpKind::Lut);
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  op.w16 = true;
  return op;
}

Op vaddOp(const Target &t, int64_t dst, int64_t a, int64_t b, int64_t rows) {
  Op op = make(t, OpKind::VAdd);
  op.dst = dst;
  op.a = a;
  op.b = b;
  op.rows = rows;
  return op;
}

Op poolOp(const Target &t, bool avg, int64_t dst, int64_t src, int64_t rows) {
  Op op = make(t, OpKind::Pool);
  op.avg = avg;
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  return op;
}

Op setregOp(const Target &t, Reg r, int64_t value) {
  Op op;
  op.kind = OpKind::SetReg;
  op.engine = t.engineOfReg(r);
  op.reg = t.regs[size_t(r)];
  op.value = value;
  return op;
}

Op vreduceOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t len, int64_t gstride, int64_t kstride, int64_t last,
             bool w16, bool sum, bool sq, bool center, bool exp) {
  Op op = make(t, OpKind::VReduce);
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  op.len = len;
  op.gstride = gstride;
  op.kstride = kstride;
  op.last = last;
  op.w16 = w16;
  op.sum = sum;
  op.sq = sq;
  op.center = center;
  op.exp = exp;
  return op;
}

Op rscalarOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             bool rsqrt) {
  Op op = make(t, OpKind::RScalar);
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  op.rsqrt = rsqrt;
  return op;
}

Op vrowmulOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t stride, int64_t scal, int64_t sumRow, int64_t param,
             bool w16, bool out16, bool center) {
  Op op = make(t, OpKind::VRowMul);
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  op.stride = stride;
  op.scal = scal;
  op.sumRow = sumRow;
  op.param = param;
  op.w16 = w16;
  op.out16 = out16;
  op.center = center;
  return op;
}

Op vrowexpOp(const Target &t, int64_t dst, int64_t src, int64_t rows,
             int64_t stride, int64_t scal, int64_t sumRow, bool w16,
             bool out16) {
  Op op = make(t, OpKind::VRowExp);
  op.dst = dst;
  op.src = src;
  op.rows = rows;
  op.stride = stride;
  op.scal = scal;
  op.sumRow = sumRow;
  op.w16 = w16;
  op.out16 = out16;
  return op;
}

Op finishOp() { return Op(); }

int64_t streamedRows(const Op &op) {
  if (op.kind == OpKind::Gemm)
    return op.inner * op.outer;
  if (op.kind == OpKind::DwGemm)
    return ((op.inner - 1) * op.stride + op.taps) * op.outer;
  return 0;
}

std::string formatOp(const Target &t, const Op &op) {
  std::string s = opKindName(op.kind);
  if (op.kind == OpKind::Load || op.kind == OpKind::Store) {
    s += std::string(" ") + clsName(op.cls);
    if (op.mem >= 0 && size_t(op.mem) < t.memories.size())
      s += " mem=" + t.memories[size_t(op.mem)].name;
  }
  if (op.kind == OpKind::Gemm || op.kind == OpKind::DwGemm)
    s += std::string(" reset=") + (op.reset ? "1" : "0");
  if (op.kind == OpKind::Pool)
    s += std::string(" avg=") + (op.avg ? "1" : "0");
  if (op.kind == OpKind::SetReg) {
    const char *role = nullptr;
    for (int r = 0; r < kNumRegs; ++r)
      if (t.regs[size_t(r)] == op.reg)
        role = regRoleName(Reg(r));
    s += std::string(" reg=") + (role ? role : std::to_string(op.reg));
  }
  for (const Field &f : opFields(op.kind))
    s += std::string(" ") + f.name + "=" + std::to_string(op.*f.member);
  if (op.kind == OpKind::DwGemm || op.kind == OpKind::Requant)
    s += std::string(" bias=") + (op.bias ? "1" : "0");
  // The normalization's flags: the one that picks the step always, the
  // others when set.
  if (op.kind == OpKind::VReduce)
    s += std::string(" sum=") + (op.sum ? "1" : "0");
  if (op.kind == OpKind::RScalar)
    s += std::string(" rsqrt=") + (op.rsqrt ? "1" : "0");
  if (op.kind == OpKind::VRowMul)
    s += std::string(" center=") + (op.center ? "1" : "0");
  if (op.sq)
    s += " sq=1";
  if (op.center && op.kind != OpKind::VRowMul)
    s += " center=1";
  if (op.exp) // the softmax's (programs without it read as before)
    s += " exp=1";
  // Store's optional fields, printed when set (programs without them read
  // as before).
  if (op.kind == OpKind::Store) {
    if (op.rep)
      s += " rep=" + std::to_string(op.rep);
    if (op.xstep)
      s += " xstep=" + std::to_string(op.xstep);
    if (op.lanes)
      s += " lanes=" + std::to_string(op.lanes);
  }
  if (op.bcast)
    s += " bcast=1";
  if (op.lut)
    s += " lut=1";
  if (op.exact)
    s += " exact=1";
  if (op.w16)
    s += " w16=1";
  if (op.acc16)
    s += " acc16=1";
  if (op.out16)
    s += " out16=1";
  if (op.a16)
    s += " a16=1";
  if (op.b16)
    s += " b16=1";
  if (op.one)
    s += " one=1";
  if (op.wait)
    s += " wait=" + mask(t, op.wait);
  if (op.signal)
    s += " signal=" + mask(t, op.signal);
  return s;
}

namespace {

// The normalization's and the softmax's flags (vrowmul's and vrowexp's
// `sum` is a row, not a flag).
bool *normFlag(Op &op, const std::string &k) {
  if (op.kind == OpKind::VReduce)
    return k == "sum"      ? &op.sum
           : k == "sq"     ? &op.sq
           : k == "center" ? &op.center
           : k == "exp"    ? &op.exp
                           : nullptr;
  if (op.kind == OpKind::RScalar && k == "rsqrt")
    return &op.rsqrt;
  if (op.kind == OpKind::VRowMul && k == "center")
    return &op.center;
  return nullptr;
}

} // namespace

Status parseOp(const Target &t, const std::string &text, Op &op) {
  op = Op();
  std::istringstream in(text);
  std::string word;
  if (!(in >> word) || !opKindFromName(word, op.kind))
    return invalid("'" + word + "' is not an operation");
  if (!t.has(op.kind))
    return unsupported("the target has no '" + word + "' operation");
  op.engine = t.kindEngine[size_t(op.kind)];
  const bool dma = op.kind == OpKind::Load || op.kind == OpKind::Store;
  if (dma) {
    std::string c;
    if (!(in >> c))
      return invalid(word + " needs its operand class");
    bool ok = false;
    for (int k = 0; k < kNumCls; ++k)
      if (c == clsName(Cls(k))) {
        op.cls = Cls(k);
        ok = true;
      }
    if (!ok)
      return invalid("'" + c + "' is not an operand class");
    op.mem = t.memOf(op.cls);
    op.engine = t.engineFor(op.kind, op.cls);
  }
  if (op.kind == OpKind::Copy)
    op.mem = t.memOf(Cls::Act);
  while (in >> word) {
    size_t eq = word.find('=');
    if (eq == std::string::npos)
      return invalid("'" + word + "' is not NAME=VALUE");
    std::string k = word.substr(0, eq), v = word.substr(eq + 1);
    if (k == "wait" || k == "signal") {
      if (!parseMask(t, v, k == "wait" ? op.wait : op.signal))
        return invalid("'" + v + "' is not a list of " +
                       (t.sync.kind == SyncKind::Tokens
                            ? "token channels"
                            : "barriers (b0, b1, ...)"));
      continue;
    }
    if (k == "mem" && dma) {
      if (op.mem < 0 || t.memories[size_t(op.mem)].name != v)
        return invalid("mem=" + v + " does not hold class " + clsName(op.cls));
      continue;
    }
    if (k == "reg" && op.kind == OpKind::SetReg) {
      bool ok = false;
      for (int r = 0; r < kNumRegs; ++r)
        if (v == regRoleName(Reg(r)) && t.regs[size_t(r)] >= 0) {
          op.reg = t.regs[size_t(r)];
          op.engine = t.regEngine[size_t(r)];
          ok = true;
        }
      if (!ok)
        return invalid("'" + v + "' is not a register of the target");
      continue;
    }
    char *end = nullptr;
    long long x = std::strtoll(v.c_str(), &end, 10);
    if (v.empty() || *end || v.size() > 20)
      return invalid("'" + word + "': the value is not an integer");
    if (bool *flag = normFlag(op, k)) {
      if (x != 0 && !t.declares(op.kind, k.c_str()))
        return unsupported(std::string("the target's ") + opKindName(op.kind) +
                           " has no flag '" + k + "'");
      *flag = x != 0;
      continue;
    }
    if (k == "bcast" && op.kind == OpKind::VMul) {
      op.bcast = x != 0;
      continue;
    }
    if (k == "exact" && op.kind == OpKind::VAdd) {
      if (x != 0 && !t.exactAddFlag())
        return unsupported("the target's vadd has no exact flag");
      op.exact = x != 0;
      continue;
    }
    if ((k == "rep" || k == "xstep" || k == "lanes") &&
        op.kind == OpKind::Store) {
      if (!t.declares(OpKind::Store, k.c_str()))
        return unsupported("the target's store has no field '" + k + "'");
      (k == "rep" ? op.rep : k == "xstep" ? op.xstep : op.lanes) = x;
      continue;
    }
    if (k == "lut" && (op.kind == OpKind::Requant || op.kind == OpKind::VAdd ||
                       op.kind == OpKind::Pool || op.kind == OpKind::VMul ||
                       op.kind == OpKind::Upsample)) {
      if (x != 0 && !t.lutFlag(op.kind))
        return unsupported(std::string("the target's ") + opKindName(op.kind) +
                           " has no output table flag");
      op.lut = x != 0;
      continue;
    }
    if ((k == "w16" &&
         (op.kind == OpKind::Load || op.kind == OpKind::Store ||
          op.kind == OpKind::Copy || op.kind == OpKind::VAdd ||
          op.kind == OpKind::Pool || op.kind == OpKind::LutLd ||
          op.kind == OpKind::Lut || op.kind == OpKind::VReduce ||
          op.kind == OpKind::VRowMul || op.kind == OpKind::VRowExp)) ||
        (k == "w16" &&
         (op.kind == OpKind::Gemm || op.kind == OpKind::DwGemm)) ||
        ((k == "acc16" || k == "out16") && op.kind == OpKind::Requant) ||
        (k == "out16" &&
         (op.kind == OpKind::VRowMul || op.kind == OpKind::VRowExp)) ||
        ((k == "a16" || k == "b16" || k == "out16" || k == "one") &&
         op.kind == OpKind::VMul)) {
      if (x != 0 && !t.wide16)
        return unsupported("the target has no 16-bit activations ('" + k +
                           "')");
      if (x != 0 && (op.kind == OpKind::Gemm || op.kind == OpKind::DwGemm) &&
          !t.array.act16OnePass)
        return unsupported(
            std::string("the target's array takes one byte plane per ") +
            opKindName(op.kind) + " (no array.act16_one_pass)");
      (k == "w16"     ? op.w16
       : k == "acc16" ? op.acc16
       : k == "a16"   ? op.a16
       : k == "b16"   ? op.b16
       : k == "one"   ? op.one
                      : op.out16) = x != 0;
      continue;
    }
    if (k == "reset" || k == "bias" || k == "avg") {
      bool &b = k == "reset" ? op.reset : k == "bias" ? op.bias : op.avg;
      b = x != 0;
      continue;
    }
    bool found = false;
    for (const Field &f : opFields(op.kind))
      if (k == f.name) {
        op.*f.member = x;
        found = true;
      }
    if (!found)
      return invalid("'" + k + "' is not a field of " + opKindName(op.kind));
  }
  return Status::ok();
}

namespace {

void accesses8(const Target &t, const Op &op, const int32_t *regs,
               std::vector<Access> &out);

} // namespace

// A 16-bit row pair's upper rows: each access of a 16-bit operand also
// touches the same rows rows/2 up (the high bytes, or the high plane).
void accesses(const Target &t, const Op &op, const int32_t *regs,
              std::vector<Access> &out) {
  accesses8(t, op, regs, out);
  if (!op.w16 && !op.acc16 && !op.out16 && !op.a16 && !op.b16)
    return;
  const int dram = int(t.memories.size());
  const int paramM = t.memOf(Cls::Param);
  const size_t n = out.size();
  for (size_t i = 0; i < n; ++i) {
    const Access a = out[i];
    if (a.domain == dram || a.domain < 0)
      continue;
    bool wide = op.w16;
    if (op.kind == OpKind::Requant) {
      // In accesses8's order: the accumulators (acc16), the table (with
      // acc16 and bias, the bias's high word), the result rows (out16).
      wide = i == 0 ? op.acc16 : i == 2 ? op.out16 : false;
      if (i == 1 && op.acc16 && op.bias) {
        const uint64_t half = t.memRows(paramM) / 2;
        out.push_back({a.domain, uint64_t(op.param) + 2 + half,
                       uint64_t(op.param) + 3 + half, false});
      }
    }
    if (op.kind == OpKind::VMul) // a, b, the result (accesses8's order)
      wide = i == 0 ? op.a16 : i == 1 ? op.b16 && !op.one : op.out16;
    if (op.kind == OpKind::LutLd) // the 16-bit table: plain param rows
      wide = false;
    // The normalization's and softmax's acc rows are plain int32 rows: only
    // their out rows (accesses8's first, and vrowmul's and vrowexp's
    // result, their last) are pairs.
    if (op.kind == OpKind::VReduce)
      wide = i == 0 && op.w16;
    if (op.kind == OpKind::VRowMul)
      wide = i == 0 ? op.w16 : i == 4 ? op.out16 : false;
    if (op.kind == OpKind::VRowExp)
      wide = i == 0 ? op.w16 : i == 3 ? op.out16 : false;
    if (op.kind == OpKind::Gemm || op.kind == OpKind::DwGemm) // not the tile
      wide = op.w16 && a.domain != t.memOf(Cls::Wgt);
    if (!wide)
      continue;
    const uint64_t half = t.memRows(a.domain) / 2;
    out.push_back({a.domain, a.lo + half, a.hi + half, a.write});
  }
}

namespace {

void accesses8(const Target &t, const Op &op, const int32_t *regs,
               std::vector<Access> &out) {
  out.clear();
  const int dram = int(t.memories.size());
  const int actM = t.memOf(Cls::Act), wgtM = t.memOf(Cls::Wgt),
            accM = t.memOf(Cls::Acc), outM = t.memOf(Cls::Out),
            paramM = t.memOf(Cls::Param);
  // A DMA moves one class row (lanes x its element bytes) per memory row.
  const uint64_t rb = uint64_t(t.clsRowBytes(op.cls)) * (op.w16 ? 2 : 1);
  switch (op.kind) {
  case OpKind::Load: {
    uint64_t w = uint64_t(op.padLeft + op.xsize + op.padRight);
    uint64_t h = uint64_t(op.padTop + op.ysize + op.padBottom);
    out.push_back({op.mem, uint64_t(op.row), uint64_t(op.row) + w * h, true});
    if (op.ysize > 0 && op.xsize > 0)
      out.push_back({dram, uint64_t(op.dram),
                     uint64_t(op.dram) +
                         uint64_t((op.ysize - 1) * op.stride + op.xsize) * rb,
                     false});
    return;
  }
  case OpKind::Copy: {
    uint64_t w = uint64_t(op.padLeft + op.xsize + op.padRight);
    uint64_t h = uint64_t(op.padTop + op.ysize + op.padBottom);
    out.push_back({actM, uint64_t(op.dst), uint64_t(op.dst) + w * h, true});
    if (op.ysize > 0 && op.xsize > 0)
      out.push_back({outM, uint64_t(op.src),
                     uint64_t(op.src + (op.ysize - 1) * op.stride + op.xsize),
                     false});
    return;
  }
  case OpKind::Store: {
    out.push_back({op.mem, uint64_t(op.row),
                   uint64_t(op.row + op.ysize * op.xsize), false});
    // The last row written: block row (ysize - 1, xsize - 1) at dy = dx =
    // rep (lanes leave the row's span as it is).
    const int64_t r = op.rep + 1;
    if (op.ysize > 0 && op.xsize > 0)
      out.push_back({dram, uint64_t(op.dram),
                     uint64_t(op.dram) +
                         uint64_t((op.ysize * r - 1) * op.stride +
                                  (op.xsize * r - 1) * (1 + op.xstep) + 1) *
                             rb,
                     true});
    return;
  }
  case OpKind::Gemm:
  case OpKind::DwGemm: {
    // A DwGemm line reads (inner - 1) * stride + taps rows.
    const int64_t line = op.kind == OpKind::DwGemm
                             ? (op.inner - 1) * op.stride + op.taps
                             : op.inner;
    uint64_t actEnd = uint64_t(op.act + (op.outer - 1) * op.actOstride + line);
    uint64_t accEnd =
        uint64_t(op.acc + (op.outer - 1) * op.accOstride + op.inner);
    out.push_back({actM, uint64_t(op.act), actEnd, false});
    out.push_back({wgtM, uint64_t(op.wgt), uint64_t(op.wgt + t.lanes), false});
    if (!op.reset)
      out.push_back({accM, uint64_t(op.acc), accEnd, false});
    out.push_back({accM, uint64_t(op.acc), accEnd, true});
    return;
  }
  case OpKind::Requant:
    out.push_back({accM, uint64_t(op.src), uint64_t(op.src + op.rows), false});
    // The table's multiplier and shift rows, and with bias its bias row.
    out.push_back({paramM, uint64_t(op.param),
                   uint64_t(op.param + (op.bias ? 3 : 2)), false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  case OpKind::VAdd:
    out.push_back({outM, uint64_t(op.a), uint64_t(op.a + op.rows), false});
    out.push_back({outM, uint64_t(op.b), uint64_t(op.b + op.rows), false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  case OpKind::Pool: {
    // The window of output i: input row (oy*s + ky)*inW + ox*s + kx of
    // output (oy, ox) = (i / outW, i % outW), from src.
    int64_t kh = 0, kw = 0, s = 0, inW = 0, outW = 0;
    if (regs) {
      auto reg = [&](Reg r) {
        int id = t.regs[size_t(r)];
        return id >= 0 ? int64_t(regs[id]) : 0;
      };
      kh = reg(Reg::PoolKh);
      kw = reg(Reg::PoolKw);
      s = reg(Reg::PoolStride);
      inW = reg(Reg::PoolInW);
      outW = reg(Reg::PoolOutW);
    }
    const uint64_t outRows = t.memRows(outM);
    int64_t span = -1;
    if (kh >= 1 && kw >= 1 && s >= 1 && inW >= 1 && outW >= 1 && op.rows >= 1) {
      auto in = [&](int64_t i, int64_t ky, int64_t kx) {
        return ((i / outW) * s + ky) * inW + (i % outW) * s + kx;
      };
      int64_t last = in(op.rows - 1, kh - 1, kw - 1);
      const int64_t lineEnd = (op.rows / outW) * outW - 1;
      if (lineEnd >= 0)
        last = std::max(last, in(lineEnd, kh - 1, kw - 1));
      span = last + 1;
      if (op.src < 0 || uint64_t(op.src + span) > outRows)
        span = -1;
    }
    if (span >= 0)
      out.push_back({outM, uint64_t(op.src), uint64_t(op.src + span), false});
    else // unknown or invalid geometry: the whole memory
      out.push_back({outM, 0, outRows, false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  }
  case OpKind::VMul:
    out.push_back({outM, uint64_t(op.a), uint64_t(op.a + op.rows), false});
    // (the one form reads no b: an empty range keeps the order)
    out.push_back({outM, uint64_t(op.b),
                   uint64_t(op.b + (op.one     ? 0
                                    : op.bcast ? 1
                                               : op.rows)),
                   false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  case OpKind::LutLd:
    out.push_back({paramM, uint64_t(op.src),
                   uint64_t(op.src + (op.w16 ? t.lut16Rows() : t.lutRows())),
                   false});
    return;
  case OpKind::Lut:
    out.push_back({outM, uint64_t(op.src), uint64_t(op.src + op.rows), false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  case OpKind::Upsample: {
    // Reads the whole map (a bilinear line reaches the clamped neighbours),
    // writes oh lines of f*w rows.
    const int64_t f = int64_t(1) << std::min<int64_t>(op.factor, 16);
    out.push_back(
        {outM, uint64_t(op.src), uint64_t(op.src + op.upH * op.upW), false});
    out.push_back(
        {outM, uint64_t(op.dst), uint64_t(op.dst + op.oh * f * op.upW), true});
    return;
  }
  case OpKind::VReduce: {
    // The source tiles' span (none for an empty reduction), the groups'
    // sums (sq with center reads them first) or maxima (exp), the results.
    const int64_t span =
        op.rows >= 1 && op.len >= 1
            ? (op.rows - 1) * op.gstride + (op.len - 1) * op.kstride + 1
            : 0;
    out.push_back({outM, uint64_t(op.src),
                   uint64_t(op.src + std::max<int64_t>(span, 0)), false});
    out.push_back(
        {accM, uint64_t(op.dst),
         uint64_t(op.dst + ((op.sq && op.center) || op.exp ? op.rows : 0)),
         false});
    out.push_back({accM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  }
  case OpKind::RScalar:
    out.push_back({accM, uint64_t(op.src), uint64_t(op.src + op.rows), false});
    out.push_back({accM, uint64_t(op.dst), uint64_t(op.dst + op.rows), true});
    return;
  case OpKind::VRowMul: {
    // Rows src + g*stride in, dst + g*stride out: the span of both.
    const int64_t span =
        op.rows >= 1 ? (op.rows - 1) * std::max<int64_t>(op.stride, 0) + 1 : 0;
    out.push_back({outM, uint64_t(op.src), uint64_t(op.src + span), false});
    out.push_back(
        {accM, uint64_t(op.scal), uint64_t(op.scal + op.rows), false});
    out.push_back({accM, uint64_t(op.sumRow),
                   uint64_t(op.sumRow + (op.center ? op.rows : 0)), false});
    // The channels' multiplier, shift and bias low and high words.
    out.push_back({accM, uint64_t(op.param), uint64_t(op.param + 4), false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + span), true});
    return;
  }
  case OpKind::VRowExp: {
    // As vrowmul's, with the rows' maxima (sum) always and no parameters.
    const int64_t span =
        op.rows >= 1 ? (op.rows - 1) * std::max<int64_t>(op.stride, 0) + 1 : 0;
    out.push_back({outM, uint64_t(op.src), uint64_t(op.src + span), false});
    out.push_back(
        {accM, uint64_t(op.scal), uint64_t(op.scal + op.rows), false});
    out.push_back(
        {accM, uint64_t(op.sumRow), uint64_t(op.sumRow + op.rows), false});
    out.push_back({outM, uint64_t(op.dst), uint64_t(op.dst + span), true});
    return;
  }
  case OpKind::SetReg:
  case OpKind::Finish:
    return;
  }
}

} // namespace

} // namespace ember::accel
