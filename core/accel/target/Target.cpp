// Reading and validating a target description (Target.h; the format is
// docs/npu-sdk.md, "The target description").
#include "ember/accel/Target.h"

#include "ember/accel/Sync.h"

#include "Form.h"
#include "TargetInternal.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstring>
#include <set>

namespace ember::accel {

namespace {

const char *const kClsNames[kNumCls] = {"act", "wgt", "acc", "param", "out"};
const char *const kOpNames[kNumOpKinds] = {
    "load",     "store", "copy",    "gemm",    "dwgemm",  "requant",
    "vadd",     "pool",  "setreg",  "finish",  "lutld",   "vmul",
    "upsample", "lut",   "vreduce", "rscalar", "vrowmul", "vrowexp"};
const char *const kRegNames[kNumRegs] = {
    "pad_value",       "pool_kh",         "pool_kw",         "pool_stride",
    "pool_in_w",       "pool_out_w",      "add_lshift",      "add_a_zp",
    "add_a_mult",      "add_a_shift",     "add_b_zp",        "add_b_mult",
    "add_b_shift",     "add_out_mult",    "add_out_shift",   "add_out_zp",
    "add_min",         "add_max",         "mul_a_zp",        "mul_b_zp",
    "mul_mult",        "mul_shift",       "mul_out_zp",      "mul_min",
    "mul_max",         "rq16_min",        "rq16_max",        "add_x_shift",
    "add_x_offset_lo", "add_x_offset_hi", "add_x_a_mult",    "add_x_a_mult_hi",
    "add_x_b_mult",    "add_x_b_mult_hi", "row_n",           "row_x_zp",
    "row_out_zp",      "row_min",         "row_max",         "row_eps_lo",
    "row_eps_hi",      "row_sm_in_mult",  "row_sm_in_shift", "row_sm_out_mult",
    "row_sm_out_shift"};
// The fields each operation's description may declare (bits of its
// encoding), in the order the layer's text prints them.
const std::vector<const char *> &knownFields(OpKind k) {
  static const std::vector<const char *> f[kNumOpKinds] = {
      {"mem", "row", "dram", "ysize", "xsize", "stride", "pad"},
      {"mem", "row", "dram", "ysize", "xsize", "stride"},
      {"dst", "src", "ysize", "xsize", "stride", "pad"},
      {"acc", "act", "wgt", "inner", "outer", "act_ostride", "acc_ostride"},
      {"acc", "act", "wgt", "inner", "outer", "act_ostride", "acc_ostride",
       "taps", "stride"},
      {"dst", "src", "rows", "param", "zp", "min", "max"},
      {"dst", "a", "b", "rows"},
      {"dst", "src", "rows"},
      {"reg", "value"},
      {},
      {"src"},
      {"dst", "a", "b", "rows"},
      {"dst", "src", "w", "h", "oy", "oh", "factor", "mode", "zp"},
      {"dst", "src", "rows"},
      {"dst", "src", "rows", "len", "gstride", "kstride", "last", "w16", "sum",
       "sq", "center", "exp"},
      {"dst", "src", "rows", "rsqrt"},
      {"dst", "src", "rows", "stride", "scal", "sum", "param", "w16", "out16",
       "center"},
      {"dst", "src", "rows", "stride", "scal", "sum", "w16", "out16"}};
  return f[size_t(k)];
}

// Every field an operation's description may declare: its encoding's
// fields, then the flags and optional fields of its variants.
std::vector<const char *> allowedOpFields(OpKind k) {
  std::vector<const char *> f = knownFields(k);
  for (const char *flag : {"reset", "bias", "avg"})
    f.push_back(flag);
  if (k == OpKind::Requant || k == OpKind::VAdd || k == OpKind::Pool ||
      k == OpKind::VMul || k == OpKind::Upsample)
    f.push_back("lut");
  if (k == OpKind::Store)
    for (const char *x : {"rep", "xstep", "lanes"})
      f.push_back(x);
  if (k == OpKind::VMul)
    f.push_back("bcast");
  if (k == OpKind::VAdd)
    f.push_back("exact");
  return f;
}

std::string opFieldNames(OpKind k) {
  std::string s;
  for (const char *n : allowedOpFields(k))
    s += (s.empty() ? "" : ", ") + std::string(n);
  return s;
}

// A reader of one JSON object that names the path of every field it
// complains about.
struct Obj {
  const Json *j;
  std::string path;
  Status *err; // the first field it complained about

  std::string at(const char *k) const {
    return path.empty() ? std::string(k) : path + "." + k;
  }
  bool fail(const std::string &where, const std::string &what) const {
    if (err->isOk())
      *err = invalid(where, ": ", what);
    return false;
  }
  const Json *get(const char *k) const { return j ? j->get(k) : nullptr; }
  // Every member is one of `known`.
  bool only(std::initializer_list<const char *> known) const {
    for (const auto &kv : j->members()) {
      bool ok = false;
      for (const char *k : known)
        ok = ok || kv.first == k;
      if (!ok) {
        std::string allowed;
        for (const char *k : known)
          allowed += (allowed.empty() ? "" : ", ") + std::string(k);
        return fail(at(kv.first.c_str()),
                    "unknown field (allowed: " + allowed + ")");
      }
    }
    return true;
  }
  bool num(const char *k, int64_t lo, int64_t hi, int64_t &out,
           bool required = true) const {
    const Json *v = get(k);
    if (!v)
      return !required || fail(at(k), "missing");
    if (!v->isNumber() || v->num() != std::floor(v->num()) ||
        v->num() < double(lo) || v->num() > double(hi))
      return fail(at(k), "expected an integer from " + std::to_string(lo) +
                             " to " + std::to_string(hi));
    out = int64_t(v->num());
    return true;
  }
  template <typename T>
  bool unum(const char *k, int64_t lo, int64_t hi, T &out,
            bool required = true) const {
    int64_t v = int64_t(out);
    if (!num(k, lo, hi, v, required))
      return false;
    out = T(v);
    return true;
  }
  bool real(const char *k, double lo, double hi, double &out,
            bool required = true) const {
    const Json *v = get(k);
    if (!v)
      return !required || fail(at(k), "missing");
    if (!v->isNumber() || !(v->num() >= lo && v->num() <= hi))
      return fail(at(k), "expected a number from " + std::to_string(lo) +
                             " to " + std::to_string(hi));
    out = v->num();
    return true;
  }
  bool str(const char *k, std::string &out, bool required = true) const {
    const Json *v = get(k);
    if (!v)
      return !required || fail(at(k), "missing");
    if (!v->isString() || v->str().empty() || v->str().size() > 256)
      return fail(at(k), "expected a non-empty string");
    out = v->str();
    return true;
  }
  bool flag(const char *k, bool &out) const {
    const Json *v = get(k);
    if (!v)
      return true;
    if (v->kind() != Json::Kind::Bool)
      return fail(at(k), "expected true or false");
    out = v->boolean();
    return true;
  }
  bool strings(const char *k, std::vector<std::string> &out,
               bool required = true) const {
    const Json *v = get(k);
    if (!v)
      return !required || fail(at(k), "missing");
    if (!v->isArray() || v->items().size() > 64)
      return fail(at(k), "expected a list of strings");
    out.clear();
    for (size_t i = 0; i < v->items().size(); ++i) {
      if (!v->items()[i].isString())
        return fail(at(k) + "[" + std::to_string(i) + "]", "expected a string");
      out.push_back(v->items()[i].str());
    }
    return true;
  }
  Obj sub(const char *k, bool required = true) const {
    const Json *v = get(k);
    if (!v) {
      if (required)
        fail(at(k), "missing");
      return {nullptr, at(k), err};
    }
    if (!v->isObject()) {
      fail(at(k), "expected an object");
      return {nullptr, at(k), err};
    }
    return {v, at(k), err};
  }
};

template <size_t N>
int indexOf(const char *const (&names)[N], const std::string &s) {
  for (size_t i = 0; i < N; ++i)
    if (s == names[i])
      return int(i);
  return -1;
}

std::string plural(uint64_t n, const char *what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

// The memories (bit per memory; DRAM the bit after them) an engine's
// operations may read or write (Op.h, accesses()).
uint32_t engineDomains(const Target &t, const Engine &e) {
  uint32_t d = 0;
  auto cls = [&](Cls c) {
    const int m = t.memOf(c);
    if (m >= 0)
      d |= 1u << m;
  };
  for (int k = 0; k < kNumOpKinds; ++k) {
    if (!e.runsKind(OpKind(k)))
      continue;
    switch (OpKind(k)) {
    case OpKind::Load:
    case OpKind::Store:
      for (int c = 0; c < kNumCls; ++c)
        if (!e.classes || (e.classes >> c & 1u))
          cls(Cls(c));
      d |= 1u << t.memories.size();
      break;
    case OpKind::Copy:
      cls(Cls::Act);
      cls(Cls::Out);
      break;
    case OpKind::Gemm:
    case OpKind::DwGemm:
      cls(Cls::Act);
      cls(Cls::Wgt);
      cls(Cls::Acc);
      break;
    case OpKind::Requant:
      cls(Cls::Acc);
      cls(Cls::Param);
      cls(Cls::Out);
      break;
    case OpKind::LutLd:
      cls(Cls::Param);
      break;
    case OpKind::VAdd:
    case OpKind::Pool:
    case OpKind::VMul:
    case OpKind::Lut:
    case OpKind::Upsample:
      cls(Cls::Out);
      break;
    case OpKind::VReduce: // out rows in, acc rows out
    case OpKind::VRowMul: // out and acc rows in, out rows out
    case OpKind::VRowExp:
      cls(Cls::Out);
      cls(Cls::Acc);
      break;
    case OpKind::RScalar:
      cls(Cls::Acc);
      break;
    case OpKind::SetReg:
    case OpKind::Finish:
      break;
    }
  }
  return d;
}

// Dependency insertion orders two engines that share a memory (or DRAM)
// through the channel of each direction: every such pair has one.
Status syncCovers(const Target &t) {
  const int n = int(t.engines.size());
  for (int x = 0; x < n; ++x)
    for (int y = 0; y < n; ++y) {
      if (x == y || syncBit(t, x, y) >= 0)
        continue;
      const uint32_t shared = engineDomains(t, t.engines[size_t(x)]) &
                              engineDomains(t, t.engines[size_t(y)]);
      if (!shared)
        continue;
      int m = 0;
      while (!(shared >> m & 1u))
        ++m;
      const std::string what =
          size_t(m) < t.memories.size()
              ? "memory '" + t.memories[size_t(m)].name + "'"
              : std::string("DRAM");
      const std::string pair = t.engines[size_t(x)].name + " -> " +
                               t.engines[size_t(y)].name + ", which share " +
                               what;
      if (t.sync.kind == SyncKind::Tokens)
        return invalid("engines: " + std::to_string(n) +
                       " engines leave no token channel for " + pair +
                       " (channel src * engines + dst of 32)");
      // The pairs take the barriers in order, source major (Sync.h).
      const int b = x * (n - 1) + (y < x ? y : y - 1);
      return invalid(
          "sync.barriers: " + std::to_string(t.sync.barriers) +
          " barriers leave no barrier for " + pair +
          (b < 32 ? " (that pair's is barrier " + std::to_string(b) +
                        ": at least " + std::to_string(b + 1) + ")"
                  : std::string(" (barriers beyond 32 are not encoded)")));
    }
  return Status::ok();
}

Status dramHoldsRows(const Target &t);

// Operation fields wide enough for what they address (`cls`: the classes
// the claimed forms use), and the DRAM for what the DMA moves.
Status fieldsFit(const Target &t, const std::set<int> &cls) {
  auto bitsFor = [](uint64_t values) {
    unsigned b = 0;
    while (b < 64 && (uint64_t(1) << b) < values)
      ++b;
    return b;
  };
  auto addresses = [&](OpKind k, const char *field, int mem) -> Status {
    if (mem < 0)
      return Status::ok();
    int64_t most = t.ops[size_t(k)].max(field);
    if (most == INT64_MAX || uint64_t(most) + 1 >= t.memories[size_t(mem)].rows)
      return Status::ok();
    return invalid("ops.", kOpNames[int(k)], ".", field, ": ",
                   bitsFor(uint64_t(most) + 1),
                   " bits cannot address memories[", mem, "] '",
                   t.memories[size_t(mem)].name, "' (",
                   t.memories[size_t(mem)].rows, " rows)");
  };
  for (int c : cls)
    for (OpKind k : {OpKind::Load, OpKind::Store})
      if (!(k == OpKind::Store && c != int(Cls::Out) && c != int(Cls::Acc)))
        EMBER_TRY(addresses(k, "row", t.clsMem[size_t(c)]));
  const int act = t.memOf(Cls::Act), wgt = t.memOf(Cls::Wgt),
            acc = t.memOf(Cls::Acc), out = t.memOf(Cls::Out),
            param = t.memOf(Cls::Param);
  for (OpKind k : {OpKind::Gemm, OpKind::DwGemm})
    if (t.has(k)) {
      EMBER_TRY(addresses(k, "acc", acc));
      EMBER_TRY(addresses(k, "act", act));
      EMBER_TRY(addresses(k, "wgt", wgt));
    }
  if (t.has(OpKind::Requant)) {
    EMBER_TRY(addresses(OpKind::Requant, "dst", out));
    EMBER_TRY(addresses(OpKind::Requant, "src", acc));
    EMBER_TRY(addresses(OpKind::Requant, "param", param));
  }
  for (OpKind k : {OpKind::VAdd, OpKind::Pool, OpKind::Copy, OpKind::Upsample})
    if (t.has(k)) {
      EMBER_TRY(addresses(k, "dst", k == OpKind::Copy ? act : out));
      EMBER_TRY(addresses(k, k == OpKind::VAdd ? "a" : "src", out));
    }
  // Store's lanes: a bit per group of 8 lanes, every group of the row.
  unsigned laneBits = 0;
  for (const auto &f : t.ops[size_t(OpKind::Store)].fields)
    if (f.first == "lanes")
      laneBits = f.second;
  if (laneBits && (t.lanes % 8 != 0 || t.lanes / 8 > int64_t(laneBits)))
    return invalid("ops.store.lanes: needs a bit per group of 8 lanes (" +
                   std::to_string(t.lanes) + " lanes)");
  for (OpKind k : {OpKind::Load, OpKind::Store}) {
    int64_t most = t.ops[size_t(k)].max("dram");
    if (most != INT64_MAX && uint64_t(most) < t.dram.bytes - 1)
      return invalid(std::string("ops.") + kOpNames[int(k)] +
                     ".dram: " + std::to_string(bitsFor(uint64_t(most) + 1)) +
                     " bits cannot address dram.bytes (" +
                     std::to_string(t.dram.bytes) + ")");
    // The other way: addresses the DRAM's bus cannot carry.
    if (t.dram.addressBits < 64 && most != INT64_MAX &&
        uint64_t(most) >= uint64_t(1) << t.dram.addressBits)
      return invalid(std::string("ops.") + kOpNames[int(k)] +
                     ".dram: " + std::to_string(bitsFor(uint64_t(most) + 1)) +
                     " bits address beyond dram.address_bits (" +
                     std::to_string(t.dram.addressBits) + ")");
  }
  return dramHoldsRows(t);
}

// dram.bytes large enough for what a transfer moves at least: one row of
// every memory a DMA engine loads or stores, at the DRAM's alignment.
Status dramHoldsRows(const Target &t) {
  if (t.dram.alignment > t.dram.bytes)
    return invalid("dram.bytes: " + std::to_string(t.dram.bytes) +
                   " bytes are less than dram.alignment (" +
                   std::to_string(t.dram.alignment) + ")");
  for (const Engine &e : t.engines) {
    if (!e.runsKind(OpKind::Load) && !e.runsKind(OpKind::Store))
      continue;
    for (int c = 0; c < kNumCls; ++c) {
      const int m = t.memOf(Cls(c));
      if (m >= 0 && (e.classes == 0 || e.classes >> c & 1u) &&
          t.memories[size_t(m)].rowBytes > t.dram.bytes)
        return invalid("dram.bytes: " + std::to_string(t.dram.bytes) +
                       " bytes cannot hold one row of memories[" +
                       std::to_string(m) + "] '" + t.memories[size_t(m)].name +
                       "' (" + std::to_string(t.memories[size_t(m)].rowBytes) +
                       " bytes), which " + e.name + " moves");
    }
  }
  return Status::ok();
}

// The rest of the fields: the values they hold.
Status fieldsHold(const Target &t) {
  if (t.has(OpKind::Requant))
    for (const char *f : {"zp", "min", "max"})
      if (t.ops[size_t(OpKind::Requant)].max(f) < 255)
        return invalid(std::string("ops.requant.") + f +
                       ": fewer than 8 bits cannot hold an int8 value");
  if (t.has(OpKind::SetReg)) {
    if (t.ops[size_t(OpKind::SetReg)].max("value") < int64_t(UINT32_MAX))
      return invalid(
          "ops.setreg.value: fewer than 32 bits cannot hold the int32 "
          "parameters the layer writes");
    if (t.ops[size_t(OpKind::SetReg)].max("reg") < int64_t(t.regCount) - 1)
      return invalid("ops.setreg.reg: too narrow for register_count " +
                     std::to_string(t.regCount));
  }
  if (t.has(OpKind::DwGemm)) {
    if (t.dw.maxTaps < 1 ||
        t.dw.maxTaps > t.ops[size_t(OpKind::DwGemm)].max("taps"))
      return invalid("depthwise.max_taps: " + std::to_string(t.dw.maxTaps) +
                     " taps do not fit ops.dwgemm.taps");
    if (t.dw.maxTaps > t.lanes)
      return invalid("depthwise.max_taps: " + std::to_string(t.dw.maxTaps) +
                     " is more than the lanes of a weight row (" +
                     std::to_string(t.lanes) + ")");
    if (t.dw.biasLanes * 8 != 0 &&
        t.dw.biasLanes * 8 != int64_t(t.array.accBits))
      return invalid("depthwise.bias_lanes: " + std::to_string(t.dw.biasLanes) +
                     " int8 lanes do not hold one int32 bias");
  }
  if (t.requant.biasRow && t.ops[size_t(OpKind::Requant)].max("bias") < 1)
    return invalid(
        "requant.bias_row: ops.requant has no 'bias' field to ask for it");
  return Status::ok();
}

// The checks that need the whole description: what the forms it claims
// need of its memories, operations, engines and registers.
Status validate(Target &t) {
  // Which classes and operations the claimed forms use (each form's needs,
  // forms/Form.h).
  FormNeeds n;
  n.kinds = {int(OpKind::Load), int(OpKind::Store), int(OpKind::Finish)};
  std::string lutNeeds; // an operation a form's lut stage flags, lacking it
  for (const Form &f : t.forms) {
    const FormPattern *p = formNamed(f.name);
    if (f.fuses("lut")) {
      n.kinds.insert(int(OpKind::LutLd));
      n.classes.insert(int(Cls::Param));
      const OpKind producer = p->lutOp;
      if (lutNeeds.empty() && t.has(producer) && !t.lutFlag(producer))
        lutNeeds = std::string("ops.") + kOpNames[int(producer)] + ": form '" +
                   f.name + "' fuses the lut stage, which needs the flag 'lut'";
    }
    if (p->needs)
      EMBER_TRY(p->needs(t, f, n));
  }
  std::set<int> &cls = n.classes, &kinds = n.kinds;
  const bool gemmForm = n.gemm, pads = n.pads, pools = n.pools, adds = n.adds,
             muls = n.muls;
  if (pools)
    kinds.insert(int(OpKind::Pool));
  if (adds)
    kinds.insert(int(OpKind::VAdd));
  if (muls)
    kinds.insert(int(OpKind::VMul));
  if (pools || adds || pads || muls)
    kinds.insert(int(OpKind::SetReg));
  for (int k : kinds)
    if (!t.ops[size_t(k)].present)
      return invalid(std::string("ops.") + kOpNames[k] +
                     ": missing; the forms this target claims need it");
  if (!lutNeeds.empty())
    return invalid(lutNeeds);
  // Every class a form uses is held by a memory, whose rows it fits.
  for (int c : cls) {
    int m = t.clsMem[size_t(c)];
    if (m < 0)
      return invalid(std::string("memories: no memory holds class '") +
                     kClsNames[c] +
                     "', which the forms this target claims use");
    const Memory &mem = t.memories[size_t(m)];
    int64_t need = t.clsRowBytes(Cls(c));
    if (mem.rowBytes < uint64_t(need))
      return invalid("memories[" + std::to_string(m) +
                     "].row_bytes: " + std::to_string(mem.rowBytes) +
                     " bytes cannot hold a row of " + kClsNames[c] + " (" +
                     std::to_string(t.lanes) + " lanes x " +
                     std::to_string(need / t.lanes) + " bytes)");
  }
  // Every operation the forms use runs on an engine, and a DMA engine moves
  // each class in and out.
  for (int k : kinds) {
    if (k == int(OpKind::Finish) || k == int(OpKind::SetReg))
      continue;
    if (t.kindEngine[size_t(k)] < 0)
      return invalid(std::string("engines: no engine runs '") + kOpNames[k] +
                     "'");
  }
  for (int c : cls)
    for (OpKind k : {OpKind::Load, OpKind::Store})
      if (t.engineFor(k, Cls(c)) < 0 &&
          !(k == OpKind::Store && (c == int(Cls::Wgt) || c == int(Cls::Param))))
        return invalid(std::string("engines: no engine runs '") +
                       kOpNames[int(k)] + "' of class '" + kClsNames[c] + "'");
  // One tile of the smallest layer of each form fits its memories (each
  // operand double-buffered): a lanes x lanes weight tile, one row of
  // activations, accumulators, tables and results.
  if (gemmForm) {
    std::array<uint64_t, kNumCls> rows{};
    rows[size_t(Cls::Act)] = 2;
    rows[size_t(Cls::Wgt)] = uint64_t(2 * t.lanes);
    rows[size_t(Cls::Acc)] = 2;
    rows[size_t(Cls::Param)] = t.requant.biasRow ? 3 : 2;
    rows[size_t(Cls::Out)] = 2;
    std::vector<uint64_t> used(t.memories.size(), 0);
    for (int c = 0; c < kNumCls; ++c)
      if (cls.count(c))
        used[size_t(t.clsMem[size_t(c)])] += rows[size_t(c)];
    for (size_t m = 0; m < used.size(); ++m)
      if (used[m] > t.memories[m].rows)
        return invalid(
            "memories[" + std::to_string(m) +
            "].rows: " + std::to_string(t.memories[m].rows) + " rows (" +
            t.memories[m].name +
            ") cannot hold one double-buffered tile of a 1x1 convolution (" +
            std::to_string(used[m]) + " rows: a weight tile is " +
            plural(uint64_t(t.lanes), "row") + ")");
  }
  EMBER_TRY(fieldsFit(t, cls));
  EMBER_TRY(fieldsHold(t));
  EMBER_TRY(normOpsFit(t));
  // Registers the forms need.
  auto need = [&](Reg r, const char *why) -> Status {
    if (t.regs[size_t(r)] >= 0)
      return Status::ok();
    return invalid("registers.", kRegNames[int(r)], ": missing; ", why);
  };
  if (pads)
    EMBER_TRY(need(Reg::PadValue, "padded loads write the input's zero point"));
  for (int r = int(Reg::PoolKh); pools && r <= int(Reg::PoolOutW); ++r)
    EMBER_TRY(need(Reg(r), "pooling takes its geometry from it"));
  for (int r = int(Reg::AddLshift); adds && r <= int(Reg::AddMax); ++r)
    EMBER_TRY(need(Reg(r), "quantized adds take their parameters from it"));
  for (int r = int(Reg::MulAZp); muls && r <= int(Reg::MulMax); ++r)
    EMBER_TRY(
        need(Reg(r), "quantized multiplies take their parameters from it"));
  if (t.maxY < 1 || t.maxX < 1 || t.maxInner < 1 || t.maxOuter < 1)
    return invalid(
        "ops: loop fields (ysize, xsize, inner, outer) need at least 1 bit");
  if (t.sync.kind == SyncKind::Tokens &&
      t.engines.size() * t.engines.size() > 32)
    return invalid("engines: " + std::to_string(t.engines.size()) +
                   " engines need more than 32 token channels");
  return syncCovers(t);
}

// "array": its shape, dataflow, operand widths and timing.
Status parseArray(const Obj &r, Target &t, Status &err) {
  Obj a = r.sub("array");
  std::string flow = "weight_stationary";
  if (!a.j ||
      !a.only({"rows", "cols", "dataflow", "operand_bits", "preload_rows",
               "issue_overhead", "drain_rows", "act16_one_pass"}) ||
      !a.num("rows", 1, 4096, t.array.rows) ||
      !a.num("cols", 1, 4096, t.array.cols) ||
      !a.str("dataflow", flow, false) ||
      !a.num("preload_rows", 0, 1 << 20, t.array.preloadRows, false) ||
      !a.num("issue_overhead", 0, 1 << 20, t.array.issueOverhead, false) ||
      !a.num("drain_rows", 0, 1 << 20, t.array.drainRows, false) ||
      !a.flag("act16_one_pass", t.array.act16OnePass))
    return err;
  if (flow == "weight_stationary")
    t.array.dataflow = Dataflow::WeightStationary;
  else if (flow == "output_stationary")
    t.array.dataflow = Dataflow::OutputStationary;
  else
    return invalid("array.dataflow: '" + flow +
                   "' is not weight_stationary or output_stationary");
  if (t.lanes % t.array.rows || t.lanes % t.array.cols)
    return invalid("array.rows, array.cols: " + std::to_string(t.array.rows) +
                   " x " + std::to_string(t.array.cols) +
                   " must divide lanes (" + std::to_string(t.lanes) + ")");
  Obj bits = a.sub("operand_bits", false);
  if (bits.j) {
    if (!bits.only({"act", "wgt", "acc"}) ||
        !bits.unum("act", 1, 64, t.array.actBits, false) ||
        !bits.unum("wgt", 1, 64, t.array.wgtBits, false) ||
        !bits.unum("acc", 1, 64, t.array.accBits, false))
      return err;
    if (t.array.actBits != 8 || t.array.wgtBits != 8 || t.array.accBits != 32)
      return invalid(
          "array.operand_bits: the layer compiles int8 x int8 into int32 "
          "(act 8, wgt 8, acc 32)");
  }
  return err;
}

// "memories": each memory's rows, row bytes, ports and the classes it holds.
Status parseMemories(const Obj &r, Target &t, Status &err) {
  const Json *ms = r.get("memories");
  if (!ms || !ms->isArray() || ms->items().empty() || ms->items().size() > 16)
    return invalid("memories: expected a list of 1 to 16 memories");
  t.clsMem.fill(-1);
  for (size_t i = 0; i < ms->items().size(); ++i) {
    Obj m{&ms->items()[i], "memories[" + std::to_string(i) + "]", &err};
    if (!ms->items()[i].isObject())
      return invalid(m.path + ": expected an object");
    Memory mem;
    std::vector<std::string> holds;
    if (!m.only({"name", "rows", "row_bytes", "holds", "read_ports",
                 "write_ports", "banks", "doc"}) ||
        !m.str("name", mem.name) || !m.unum("rows", 1, 1 << 26, mem.rows) ||
        !m.unum("row_bytes", 1, 1 << 16, mem.rowBytes) ||
        !m.strings("holds", holds) ||
        !m.unum("read_ports", 1, 64, mem.readPorts, false) ||
        !m.unum("write_ports", 1, 64, mem.writePorts, false) ||
        !m.unum("banks", 1, 1024, mem.banks, false))
      return err;
    for (const Memory &o : t.memories)
      if (o.name == mem.name)
        return invalid(m.at("name") + ": '" + mem.name + "' is named twice");
    for (size_t h = 0; h < holds.size(); ++h) {
      int c = indexOf(kClsNames, holds[h]);
      if (c < 0)
        return invalid(m.at("holds") + "[" + std::to_string(h) + "]: '" +
                       holds[h] +
                       "' is not an operand class (act, wgt, acc, param, out)");
      if (t.clsMem[size_t(c)] >= 0)
        return invalid(m.at("holds") + ": class '" + holds[h] +
                       "' is already held by memories[" +
                       std::to_string(t.clsMem[size_t(c)]) + "]");
      t.clsMem[size_t(c)] = int(i);
      mem.holds |= 1u << c;
    }
    t.memories.push_back(std::move(mem));
  }
  return err;
}

// "dram", "dma", "vector": sizes and timing.
Status parseTiming(const Obj &r, Target &t, Status &err) {
  Obj d = r.sub("dram");
  if (!d.j ||
      !d.only({"bytes", "bytes_per_cycle", "latency", "burst_bytes",
               "alignment", "address_bits"}) ||
      !d.unum("address_bits", 8, 64, t.dram.addressBits, false) ||
      !d.unum("bytes", 1, INT64_MAX, t.dram.bytes) ||
      !d.unum("bytes_per_cycle", 1, 1 << 20, t.dram.bytesPerCycle, false) ||
      !d.unum("latency", 0, 1 << 20, t.dram.latency, false) ||
      !d.unum("burst_bytes", 1, 1 << 20, t.dram.burstBytes, false) ||
      !d.unum("alignment", 1, 1 << 20, t.dram.alignment, false))
    return err;
  if (t.dram.alignment & (t.dram.alignment - 1))
    return invalid("dram.alignment: " + std::to_string(t.dram.alignment) +
                   " is not a power of two");
  if (t.dram.addressBits < 64 &&
      t.dram.bytes > (uint64_t(1) << t.dram.addressBits))
    return invalid("dram.bytes: " + std::to_string(t.dram.bytes) +
                   " bytes do not fit dram.address_bits (" +
                   std::to_string(t.dram.addressBits) + ")");
  Obj dm = r.sub("dma", false);
  if (dm.j &&
      (!dm.only(
           {"issue_overhead", "turnaround", "rows_per_cycle", "beat_bytes"}) ||
       !dm.unum("issue_overhead", 0, 1 << 20, t.dma.issueOverhead, false) ||
       !dm.unum("turnaround", 0, 1 << 20, t.dma.turnaround, false) ||
       !dm.real("rows_per_cycle", 1e-3, 1e6, t.dma.rowsPerCycle, false) ||
       !dm.unum("beat_bytes", 1, 1 << 20, t.dma.beatBytes, false)))
    return err;
  Obj vec = r.sub("vector", false);
  if (vec.j &&
      (!vec.only(
           {"rows_per_cycle", "issue_overhead", "lut16_lanes_per_cycle"}) ||
       !vec.real("rows_per_cycle", 1e-3, 1e6, t.vector.rowsPerCycle, false) ||
       !vec.unum("issue_overhead", 0, 1 << 20, t.vector.issueOverhead, false) ||
       !vec.unum("lut16_lanes_per_cycle", 1, 1 << 20,
                 t.vector.lut16LanesPerCycle, false)))
    return err;
  return err;
}

// "ops": which operations the target runs, and their fields' bits; the
// loop limits they imply.
Status parseOps(const Obj &r, Target &t, Status &err) {
  Obj os = r.sub("ops");
  if (!os.j)
    return err;
  for (const auto &kv : os.j->members()) {
    OpKind k;
    if (!opKindFromName(kv.first, k)) {
      std::string names;
      for (const char *n : kOpNames)
        names += (names.empty() ? "" : ", ") + std::string(n);
      return invalid(os.at(kv.first.c_str()) +
                     ": not an operation of the layer (" + names + ")");
    }
    if (!kv.second.isObject())
      return invalid(os.at(kv.first.c_str()) +
                     ": expected an object of field bits");
    OpDesc &od = t.ops[size_t(k)];
    od.present = true;
    for (const auto &f : kv.second.members()) {
      const std::string where = os.at(kv.first.c_str()) + "." + f.first;
      bool ok = false;
      for (const char *n : allowedOpFields(k))
        ok = ok || f.first == n;
      if (!ok)
        return invalid(where + ": not a field of " + kv.first +
                       " (allowed: " + opFieldNames(k) + ")");
      if (!f.second.isNumber() ||
          f.second.num() != std::floor(f.second.num()) || f.second.num() < 1 ||
          f.second.num() > 64)
        return invalid(where + ": expected a width in bits from 1 to 64");
      od.fields.push_back({f.first, unsigned(f.second.num())});
    }
  }
  auto lim = [&](OpKind k, const char *f) {
    return t.has(k) ? t.ops[size_t(k)].max(f) : INT64_MAX;
  };
  t.maxY = std::min({lim(OpKind::Load, "ysize"), lim(OpKind::Store, "ysize"),
                     lim(OpKind::Copy, "ysize")});
  t.maxX = std::min({lim(OpKind::Load, "xsize"), lim(OpKind::Store, "xsize"),
                     lim(OpKind::Copy, "xsize")});
  t.maxStride =
      std::min({lim(OpKind::Load, "stride"), lim(OpKind::Store, "stride"),
                lim(OpKind::Copy, "stride")});
  t.maxPad = std::min(lim(OpKind::Load, "pad"), lim(OpKind::Copy, "pad"));
  t.maxInner = lim(OpKind::Gemm, "inner");
  t.maxOuter = lim(OpKind::Gemm, "outer");
  t.maxOstride = std::min(lim(OpKind::Gemm, "act_ostride"),
                          lim(OpKind::Gemm, "acc_ostride"));
  for (int64_t *v : {&t.maxY, &t.maxX, &t.maxStride, &t.maxPad, &t.maxInner,
                     &t.maxOuter, &t.maxOstride})
    *v = std::min<int64_t>(*v, int64_t(1) << 40);
  return err;
}

// "engines": what each runs and, for a DMA engine, which classes it moves.
Status parseEngines(const Obj &r, Target &t, Status &err) {
  const Json *es = r.get("engines");
  if (!es || !es->isArray() || es->items().empty() || es->items().size() > 16)
    return invalid("engines: expected a list of 1 to 16 engines");
  t.kindEngine.fill(-1);
  for (size_t i = 0; i < es->items().size(); ++i) {
    Obj e{&es->items()[i], "engines[" + std::to_string(i) + "]", &err};
    if (!es->items()[i].isObject())
      return invalid(e.path + ": expected an object");
    Engine en;
    std::vector<std::string> runs, classes;
    if (!e.only({"name", "runs", "classes", "doc"}) ||
        !e.str("name", en.name) || !e.strings("runs", runs) ||
        !e.strings("classes", classes, false))
      return err;
    for (const Engine &o : t.engines)
      if (o.name == en.name)
        return invalid(e.at("name") + ": '" + en.name + "' is named twice");
    for (size_t k = 0; k < runs.size(); ++k) {
      OpKind kind;
      if (!opKindFromName(runs[k], kind) || kind == OpKind::SetReg ||
          kind == OpKind::Finish)
        return invalid(e.at("runs") + "[" + std::to_string(k) + "]: '" +
                       runs[k] + "' is not an operation an engine runs");
      if (!t.has(kind))
        return invalid(e.at("runs") + "[" + std::to_string(k) + "]: '" +
                       runs[k] + "' is not in ops");
      en.runs |= 1u << int(kind);
      if (t.kindEngine[size_t(kind)] < 0)
        t.kindEngine[size_t(kind)] = int(i);
    }
    for (size_t k = 0; k < classes.size(); ++k) {
      int c = indexOf(kClsNames, classes[k]);
      if (c < 0)
        return invalid(e.at("classes") + "[" + std::to_string(k) + "]: '" +
                       classes[k] + "' is not an operand class");
      en.classes |= 1u << c;
    }
    t.engines.push_back(std::move(en));
  }
  return err;
}

// "sync": token FIFOs or barriers, their depth and count.
Status parseSync(const Obj &r, Target &t, Status &err) {
  Obj s = r.sub("sync");
  std::string kind;
  if (!s.j || !s.only({"kind", "depth", "barriers"}) || !s.str("kind", kind) ||
      !s.unum("depth", 1, 1 << 16, t.sync.depth) ||
      !s.unum("barriers", 1, 1024, t.sync.barriers, false))
    return err;
  if (kind == "tokens")
    t.sync.kind = SyncKind::Tokens;
  else if (kind == "barriers")
    t.sync.kind = SyncKind::Barriers;
  else
    return invalid("sync.kind: '" + kind + "' is not tokens or barriers");
  if (t.sync.kind == SyncKind::Barriers && !t.sync.barriers)
    return invalid("sync.barriers: missing (the number of barrier ids)");
  return err;
}

// "register_count", "registers": the parameter registers' ids and engines.
Status parseRegisters(const Obj &r, Target &t, Status &err) {
  t.regs.fill(-1);
  t.regEngine.fill(-1);
  if (!r.unum("register_count", 1, 1 << 16, t.regCount, false))
    return err;
  Obj rg = r.sub("registers", false);
  if (rg.j)
    for (const auto &kv : rg.j->members()) {
      const std::string where = rg.at(kv.first.c_str());
      int role = indexOf(kRegNames, kv.first);
      if (role < 0)
        return invalid(where + ": not a register role of the layer");
      Obj x{&kv.second, where, &err};
      if (!kv.second.isObject())
        return invalid(where + ": expected {\"id\": N, \"engine\": NAME}");
      int64_t id = 0;
      std::string eng;
      if (!x.only({"id", "engine", "doc"}) ||
          !x.num("id", 0, int64_t(t.regCount) - 1, id) || !x.str("engine", eng))
        return err;
      int en = -1;
      for (size_t i = 0; i < t.engines.size(); ++i)
        if (t.engines[i].name == eng)
          en = int(i);
      if (en < 0)
        return invalid(x.at("engine") + ": no engine is named '" + eng + "'");
      t.regs[size_t(role)] = int(id);
      t.regEngine[size_t(role)] = en;
    }
  return err;
}

// "arithmetic": the profiles (ember/quant/Profile.h) the target's requant
// and vadd compute, each one the layer can emit: fixed needs vadd's exact
// flag (the exact add), tflite is vadd's attribute form; float32 is not
// fixed point, gemmlowp's rescales round twice where requant and vadd
// round once, and sat16's add saturates at 16 bits where vadd's steps are
// 32-bit. Absent: what vadd computes (fixed first when exact), and the
// host lowers in fixed as it always did (arithmeticDeclared false).
Status parseArithmetic(const Obj &r, Target &t, Status &err) {
  std::vector<std::string> names;
  if (!r.strings("arithmetic", names, false))
    return err;
  if (!r.get("arithmetic")) {
    if (t.exactAddFlag())
      t.arithmetic.push_back(quant::RequantProfile::Fixed);
    t.arithmetic.push_back(quant::RequantProfile::Tflite);
    return err;
  }
  if (names.empty())
    return invalid(
        "arithmetic: empty (list the profiles the target computes: " +
        quant::profileNames() + ")");
  for (const std::string &n : names) {
    quant::RequantProfile p;
    if (!quant::profileFromName(n, p))
      return invalid("arithmetic: '" + n +
                     "' is not an arithmetic Ember knows (known: " +
                     quant::profileNames() + "; docs/quantization.md)");
    if (p == quant::RequantProfile::Float32)
      return invalid(
          "arithmetic: 'float32' (the layer's requant and vadd are fixed "
          "point; float32 is the host's profile)");
    if (quant::doublingRescale(p))
      return invalid(
          "arithmetic: '" + n +
          "' (its rescales round twice; the layer's requant and vadd "
          "round once: fixed or tflite)");
    if (quant::saturates16(p))
      return invalid(
          "arithmetic: '" + n +
          "' (its add saturates the rescaled inputs and their sum to 16 "
          "bits; vadd's are 32-bit: fixed or tflite)");
    if (p == quant::RequantProfile::Fixed && !t.exactAddFlag())
      return invalid(
          "arithmetic: 'fixed' needs vadd's exact flag and the add_x_* "
          "registers (its exact add)");
    if (t.computes(p))
      return invalid("arithmetic: '" + n + "' is listed twice");
    t.arithmetic.push_back(p);
  }
  t.arithmeticDeclared = true;
  return err;
}

// "requant", "depthwise": the output unit's options.
Status parseRequant(const Obj &r, Target &t, Status &err) {
  Obj rq = r.sub("requant", false);
  if (rq.j && (!rq.only({"per_channel", "bias_row", "outputs"}) ||
               !rq.flag("per_channel", t.requant.perChannel) ||
               !rq.flag("bias_row", t.requant.biasRow) ||
               !rq.strings("outputs", t.requant.outputs, false)))
    return err;
  for (const std::string &o : t.requant.outputs) {
    if (o != "i8" && o != "u8" && o != "i16")
      return invalid("requant.outputs: '" + o +
                     "' (the layer writes i8, u8 or i16)");
    t.wide16 = t.wide16 || o == "i16";
  }
  // 16-bit activations: the int16 result's clamp registers.
  if (t.wide16 &&
      (t.regs[size_t(Reg::Rq16Min)] < 0 || t.regs[size_t(Reg::Rq16Max)] < 0))
    return invalid(
        "requant.outputs: 'i16' needs the registers rq16_min and rq16_max");
  if (t.array.act16OnePass && !t.wide16)
    return invalid("array.act16_one_pass: the target has no 16-bit activations "
                   "(requant.outputs lists no 'i16')");
  Obj dw = r.sub("depthwise", false);
  if (dw.j && (!dw.only({"max_taps", "bias_lanes"}) ||
               !dw.num("max_taps", 1, 1 << 16, t.dw.maxTaps) ||
               !dw.num("bias_lanes", 0, 64, t.dw.biasLanes, false)))
    return err;
  if (t.has(OpKind::DwGemm) && !dw.j)
    return invalid("depthwise: missing (ops.dwgemm needs max_taps)");
  return err;
}

// A form's list of allowed sizes `k` ("HxW" each, distinct, within the
// form's limit `maxKey`, which it needs).
bool parseSizes(const Obj &f, const char *k, const char *maxKey, int64_t max,
                Form::Sizes &out) {
  std::vector<std::string> words;
  if (!f.get(k))
    return true;
  if (!f.strings(k, words) || words.empty())
    return f.fail(f.at(k), "expected a list of sizes such as \"3x3\"");
  if (!max)
    return f.fail(f.at(k), std::string("a list of sizes needs ") + maxKey);
  for (size_t i = 0; i < words.size(); ++i) {
    const std::string &w = words[i];
    const std::string at = f.at(k) + "[" + std::to_string(i) + "]";
    const size_t x = w.find('x');
    int64_t h = 0, v = 0;
    auto num = [](const std::string &s, int64_t &n) {
      if (s.empty() || s.size() > 4 ||
          s.find_first_not_of("0123456789") != std::string::npos)
        return false;
      n = std::stoll(s);
      return n >= 1;
    };
    if (x == std::string::npos || !num(w.substr(0, x), h) ||
        !num(w.substr(x + 1), v))
      return f.fail(at, "'" + w + "' is not a size HxW (e.g. \"3x3\")");
    if (h > max || v > max)
      return f.fail(at, "'" + w + "' exceeds " + maxKey + " " +
                            std::to_string(max));
    if (std::find(out.begin(), out.end(), std::make_pair(h, v)) != out.end())
      return f.fail(at, "'" + w + "' is listed twice");
    out.push_back({h, v});
  }
  return true;
}

// "forms": the layer forms the target claims, their limits and stages.
Status parseForms(const Obj &r, Target &t, Status &err) {
  const Json *fs = r.get("forms");
  if (!fs || !fs->isArray() || fs->items().size() > 64)
    return invalid("forms: expected a list of layer forms");
  for (size_t i = 0; i < fs->items().size(); ++i) {
    Obj f{&fs->items()[i], "forms[" + std::to_string(i) + "]", &err};
    if (!fs->items()[i].isObject())
      return invalid(f.path + ": expected an object");
    Form form;
    if (!f.only({"form", "kernel_max", "stride_max", "dilation_max",
                 "window_max", "kernels", "strides", "dilations", "windows",
                 "epilogue", "act16", "doc"}) ||
        !f.str("form", form.name) ||
        !f.num("kernel_max", 1, 1024, form.kernelMax, false) ||
        !f.num("stride_max", 1, 1024, form.strideMax, false) ||
        !f.num("dilation_max", 1, 1024, form.dilationMax, false) ||
        !f.num("window_max", 1, 1024, form.windowMax, false) ||
        !f.strings("epilogue", form.epilogue, false) ||
        !f.flag("act16", form.act16))
      return err;
    if (!parseSizes(f, "kernels", "kernel_max", form.kernelMax, form.kernels) ||
        !parseSizes(f, "strides", "stride_max", form.strideMax, form.strides) ||
        !parseSizes(f, "dilations", "dilation_max", form.dilationMax,
                    form.dilations) ||
        !parseSizes(f, "windows", "window_max", form.windowMax, form.windows))
      return err;
    if (form.act16 && !t.wide16)
      return invalid(f.at("act16") +
                     ": 16-bit activations need requant.outputs "
                     "'i16' (the target's 16-bit rows)");
    const FormPattern *pattern = formNamed(form.name);
    if (!pattern) {
      std::string names;
      for (const FormPattern *p : formPatterns())
        names += (names.empty() ? "" : ", ") + std::string(p->name);
      return invalid(f.at("form") + ": '" + form.name +
                     "' is not a form of the layer's catalogue (" + names +
                     ")");
    }
    if (t.form(form.name))
      return invalid(f.at("form") + ": '" + form.name + "' is listed twice");
    for (size_t k = 0; k < form.epilogue.size(); ++k) {
      const std::string &st = form.epilogue[k];
      if (st != "bias" && st != "requant" && st != "pool" && st != "add" &&
          st != "lut")
        return invalid(
            f.at("epilogue") + "[" + std::to_string(k) + "]: '" + st +
            "' is not a fused stage (bias, requant, pool, add, lut)");
    }
    if (pattern->fields)
      EMBER_TRY(pattern->fields(form).withContext(f.path));
    t.forms.push_back(std::move(form));
  }
  return err;
}

} // namespace

const char *clsName(Cls c) { return kClsNames[int(c)]; }
const char *opKindName(OpKind k) { return kOpNames[int(k)]; }
const char *regRoleName(Reg r) { return kRegNames[int(r)]; }
bool opKindFromName(const std::string &s, OpKind &k) {
  int i = indexOf(kOpNames, s);
  if (i < 0)
    return false;
  k = OpKind(i);
  return true;
}

int64_t OpDesc::max(const char *f) const {
  for (const auto &kv : fields)
    if (kv.first == f)
      return kv.second >= 63 ? INT64_MAX : (int64_t(1) << kv.second) - 1;
  return INT64_MAX;
}

bool Form::allows(const Sizes &list, int64_t h, int64_t w) {
  return list.empty() || std::find(list.begin(), list.end(),
                                   std::make_pair(h, w)) != list.end();
}

std::string Form::sizesText(const Sizes &list) {
  std::string s;
  for (const auto &[h, w] : list)
    s += (s.empty() ? "" : ", ") + std::to_string(h) + "x" + std::to_string(w);
  return s;
}

bool Form::fuses(const char *stage) const {
  return std::find(epilogue.begin(), epilogue.end(), stage) != epilogue.end();
}

bool Target::exactAddFlag() const {
  bool flag = false;
  for (const auto &f : ops[size_t(OpKind::VAdd)].fields)
    flag = flag || f.first == "exact";
  for (Reg r :
       {Reg::AddXShift, Reg::AddXOffsetLo, Reg::AddXOffsetHi, Reg::AddXAMult,
        Reg::AddXAMultHi, Reg::AddXBMult, Reg::AddXBMultHi})
    flag = flag && regs[size_t(r)] >= 0;
  return flag;
}

bool Target::computes(quant::RequantProfile p) const {
  return std::find(arithmetic.begin(), arithmetic.end(), p) != arithmetic.end();
}

bool Target::declares(OpKind k, const char *f) const {
  for (const auto &d : ops[size_t(k)].fields)
    if (d.first == f)
      return true;
  return false;
}

bool Target::lutFlag(OpKind k) const {
  for (const auto &f : ops[size_t(k)].fields)
    if (f.first == "lut")
      return true;
  return false;
}

const Form *Target::form(const std::string &n) const {
  for (const Form &f : forms)
    if (f.name == n)
      return &f;
  return nullptr;
}

int Target::engineFor(OpKind k, Cls c) const {
  for (size_t e = 0; e < engines.size(); ++e)
    if (engines[e].runsKind(k) &&
        (!engines[e].classes || (engines[e].classes >> int(c) & 1u)))
      return int(e);
  return -1;
}

std::string Target::channelName(int ch) const {
  const int n = int(engines.size());
  if (n == 0 || ch < 0 || ch >= n * n)
    return "channel " + std::to_string(ch);
  return engines[size_t(ch / n)].name + "->" + engines[size_t(ch % n)].name;
}

int64_t Target::clsRowBytes(Cls c) const {
  const bool wide = c == Cls::Acc || c == Cls::Param;
  return lanes *
         (wide ? int64_t(array.accBits / 8) : int64_t(array.actBits / 8));
}

Status parseTarget(const std::string &text, Target &t) {
  t = Target();
  auto parsed = parseJson(text);
  if (!parsed)
    return invalid("not JSON: " + parsed.status().message());
  const Json &doc = *parsed;
  Status err;
  if (!doc.isObject())
    return invalid("a target description is a JSON object");
  Obj r{&doc, "", &err};
  std::string format;
  int64_t version = 0;
  if (!r.only({"format",  "version",   "name",  "hash",       "lanes",
               "array",   "memories",  "dram",  "dma",        "vector",
               "engines", "sync",      "ops",   "registers",  "register_count",
               "requant", "depthwise", "forms", "arithmetic", "comment"}) ||
      !r.str("format", format) || !r.num("version", 0, INT_MAX, version) ||
      !r.str("name", t.name) || !r.num("lanes", 1, 4096, t.lanes))
    return err;
  if (format != kTargetFormat)
    return invalid("format: '" + format + "' is not " + kTargetFormat);
  if (version != kTargetVersion)
    return invalid("version: " + std::to_string(version) + " (this SDK reads " +
                   std::to_string(kTargetVersion) + ")");
  if (!r.str("hash", t.hash, false))
    return err;
  if (t.hash.empty()) {
    // The canonical document's FNV-1a, so that a reformatted file keeps it.
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : jsonCanonical(doc)) {
      h ^= c;
      h *= 1099511628211ull;
    }
    char buf[17];
    static const char *hexd = "0123456789abcdef";
    for (int i = 0; i < 16; ++i)
      buf[i] = hexd[(h >> (60 - 4 * i)) & 15u];
    buf[16] = 0;
    t.hash = buf;
  }
  using Section = Status (*)(const Obj &, Target &, Status &);
  for (Section parse :
       {parseArray, parseMemories, parseTiming, parseOps, parseEngines,
        parseSync, parseRegisters, parseRequant, parseForms, parseArithmetic})
    EMBER_TRY(parse(r, t, err));
  return validate(t);
}

} // namespace ember::accel
