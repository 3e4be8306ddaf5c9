// The serialization of a scheduled program (artifacts), and tile choices as
// text.
#include "ember/accel/Program.h"

#include <atomic>
#include <cstring>
#include <sstream>

namespace ember::accel {

uint64_t newProgramUid() {
  static std::atomic<uint64_t> next{1};
  return next++;
}

// ---- serialization ------------------------------------------------------

namespace {

constexpr char kMagic[8] = {'E', 'A', 'C', 'C', 'P', 'R', 'O', 'G'};
// 1: the operations (Op.h) as varints; the tables of the layers' constants
// are left out (the image is packed). 2: the tensors' patches
// (NTensor::Patches).
constexpr uint32_t kVersion = 2;

struct Writer {
  std::string s;
  void u64(uint64_t v) { s.append(reinterpret_cast<const char *>(&v), 8); }
  void i64(int64_t v) { u64(uint64_t(v)); }
  void str(const std::string &v) {
    u64(v.size());
    s += v;
  }
  void bytes(const void *d, size_t n) {
    u64(n);
    s.append(static_cast<const char *>(d), n);
  }
  // A signed value, zigzag LEB128.
  void var(int64_t v) {
    uint64_t z = (uint64_t(v) << 1) ^ uint64_t(v >> 63);
    while (z >= 0x80) {
      s.push_back(char(uint8_t(z) | 0x80));
      z >>= 7;
    }
    s.push_back(char(z));
  }
};

struct Reader {
  const std::string &s;
  size_t at = 0;
  bool bad = false;
  uint64_t u64() {
    if (at + 8 > s.size()) {
      bad = true;
      return 0;
    }
    uint64_t v;
    std::memcpy(&v, s.data() + at, 8);
    at += 8;
    return v;
  }
  int64_t i64() { return int64_t(u64()); }
  // A length that the remaining bytes can hold (each element >= `unit`).
  uint64_t len(uint64_t unit) {
    uint64_t n = u64();
    if (bad || n > (s.size() - at) / std::max<uint64_t>(unit, 1)) {
      bad = true;
      return 0;
    }
    return n;
  }
  std::string str() {
    uint64_t n = len(1);
    std::string v = bad ? std::string() : s.substr(at, size_t(n));
    at += size_t(n);
    return v;
  }
  int64_t var() {
    uint64_t z = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at >= s.size()) {
        bad = true;
        return 0;
      }
      const uint8_t b = uint8_t(s[at++]);
      z |= uint64_t(b & 0x7f) << shift;
      if (!(b & 0x80))
        return int64_t(z >> 1) ^ -int64_t(z & 1);
    }
    bad = true;
    return 0;
  }
};

// An operation: its kind, engine, class, memory, sync and flags, then its
// kind's fields (opFields) and register.
void putOp(Writer &w, const Op &op) {
  w.var(int64_t(op.kind));
  w.var(op.engine);
  w.var(int64_t(op.cls));
  w.var(op.mem);
  w.var(op.wait);
  w.var(op.signal);
  const bool storeExtra = op.rep || op.xstep || op.lanes;
  w.var((op.reset ? 1 : 0) | (op.bias ? 2 : 0) | (op.avg ? 4 : 0) |
        (op.lut ? 8 : 0) | (op.bcast ? 16 : 0) | (op.w16 ? 32 : 0) |
        (op.acc16 ? 64 : 0) | (op.out16 ? 128 : 0) | (op.exact ? 256 : 0) |
        (storeExtra ? 512 : 0) | (op.a16 ? 1024 : 0) | (op.b16 ? 2048 : 0) |
        (op.one ? 4096 : 0) | (op.sum ? 8192 : 0) | (op.sq ? 16384 : 0) |
        (op.center ? 32768 : 0) | (op.rsqrt ? 65536 : 0) |
        (op.exp ? 131072 : 0));
  for (const OpField &f : opFields(op.kind))
    w.var(op.*f.member);
  w.var(op.reg);
  // Store's optional fields follow only when set (flag 512), so programs
  // written before them read unchanged.
  if (storeExtra) {
    w.var(op.rep);
    w.var(op.xstep);
    w.var(op.lanes);
  }
}

Status getOp(const Target &t, Reader &r, Op &op) {
  op = Op();
  const int64_t kind = r.var(), engine = r.var(), cls = r.var(), mem = r.var(),
                wait = r.var(), signal = r.var(), flags = r.var();
  if (r.bad)
    return invalid("truncated");
  if (kind < 0 || kind >= kNumOpKinds || cls < 0 || cls >= kNumCls ||
      engine < -1 || engine >= int64_t(t.engines.size()) || mem < -1 ||
      mem >= int64_t(t.memories.size()) || wait < 0 || wait > UINT32_MAX ||
      signal < 0 || signal > UINT32_MAX)
    return invalid("not an operation of target '", t.name, "'");
  op.kind = OpKind(kind);
  if (!t.has(op.kind))
    return unsupported("the target has no '", opKindName(op.kind), "'");
  op.engine = int(engine);
  op.cls = Cls(cls);
  op.mem = int(mem);
  op.wait = uint32_t(wait);
  op.signal = uint32_t(signal);
  if ((flags & (32 | 64 | 128 | 1024 | 2048 | 4096)) && !t.wide16)
    return unsupported("a 16-bit operation, but target '", t.name,
                       "' has no 16-bit activations");
  op.reset = flags & 1;
  op.bias = flags & 2;
  op.avg = flags & 4;
  op.lut = flags & 8;
  op.bcast = flags & 16;
  op.w16 = flags & 32;
  op.acc16 = flags & 64;
  op.out16 = flags & 128;
  op.exact = flags & 256;
  op.a16 = flags & 1024;
  op.b16 = flags & 2048;
  op.one = flags & 4096;
  op.sum = flags & 8192;
  op.sq = flags & 16384;
  op.center = flags & 32768;
  op.rsqrt = flags & 65536;
  op.exp = flags & 131072;
  for (const OpField &f : opFields(op.kind))
    op.*f.member = r.var();
  op.reg = r.var();
  if (flags & 512) {
    op.rep = r.var();
    op.xstep = r.var();
    op.lanes = r.var();
  }
  if (r.bad)
    return invalid("truncated");
  return Status::ok();
}

void putTensor(Writer &w, const NTensor &t) {
  w.str(t.name);
  w.i64(int64_t(t.kind));
  w.i64(t.value);
  w.u64(t.i32 ? 1 : t.i16 ? 2 : 0); // the element type: 2 int16
  w.u64(t.u8);
  w.u64(t.dims.size());
  for (int64_t d : t.dims)
    w.i64(d);
  w.i64(t.axis);
  w.i64(t.C);
  w.i64(t.P);
  w.i64(t.dram);
  w.i64(t.lanes);
  const NTensor::Patches &p = t.patches;
  for (int64_t v : {p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pt, p.pl})
    w.i64(v);
  w.u64(p.srcDims.size());
  for (int64_t d : p.srcDims)
    w.i64(d);
  w.i64(p.fill);
}

void getTensor(Reader &r, NTensor &t) {
  t.name = r.str();
  t.kind = NTensor::Kind(r.i64() & 3);
  t.value = int(r.i64());
  const uint64_t elem = r.u64();
  t.i32 = elem == 1;
  t.i16 = elem == 2;
  t.u8 = r.u64() != 0;
  uint64_t n = r.len(8);
  t.dims.resize(size_t(n));
  for (auto &d : t.dims)
    d = r.i64();
  t.axis = int(r.i64());
  t.C = r.i64();
  t.P = r.i64();
  t.dram = r.i64();
  t.lanes = r.i64();
  NTensor::Patches &p = t.patches;
  for (int64_t *v : {&p.kh, &p.kw, &p.sh, &p.sw, &p.dh, &p.dw, &p.pt, &p.pl})
    *v = r.i64();
  p.srcDims.resize(size_t(r.len(8)));
  for (auto &d : p.srcDims)
    d = r.i64();
  p.fill = int32_t(r.i64());
  // (A geometry that does not describe the tensor: a corrupt program.)
  if (!patchesDescribe(t))
    r.bad = true;
}

} // namespace

std::string TileChoice::text() const {
  std::string s = "tile=";
  for (size_t i = 0; i < tile.size(); ++i)
    s += (i ? "," : "") + std::to_string(tile[i]);
  s += " order=";
  for (size_t i = 0; i < order.size(); ++i)
    s += (i ? "," : "") + std::to_string(order[i]);
  if (bias >= 0)
    s += std::string(" bias=") + biasPathName(bias);
  return s;
}

std::string serializeProgram(const Target &t, const Program &p,
                             bool withImage) {
  Writer w;
  w.s.append(kMagic, 8);
  w.u64(kVersion);
  w.str(t.hash);
  w.u64(uint64_t(p.lanes));
  w.u64(p.ops.size());
  for (size_t i = 0; i < p.ops.size(); ++i) {
    putOp(w, p.ops[i]);
    w.var(i < p.opLayer.size() ? p.opLayer[i] : -1);
  }
  w.u64(p.image.size());
  w.u64(withImage);
  if (withImage)
    w.s.append(reinterpret_cast<const char *>(p.image.data()), p.image.size());
  w.u64(p.dramBytes);
  w.u64(p.activationBase);
  for (const auto *list : {&p.inputs, &p.outputs}) {
    w.u64(list->size());
    for (const NTensor &t : *list)
      putTensor(w, t);
  }
  w.u64(p.layers.size());
  for (const LayerInfo &l : p.layers) {
    w.str(l.name);
    w.str(l.op);
    w.u64(l.nodes.size());
    for (const std::string &n : l.nodes)
      w.str(n);
    w.u64(l.usefulMacs);
    w.u64(l.arrayMacs);
    w.u64(l.loadBytes);
    w.u64(l.storeBytes);
    w.u64(l.firstInsn);
    w.u64(l.endInsn);
    w.u64(l.prefetchFirst);
    w.u64(l.prefetchEnd);
    w.str(l.tiling);
    w.u64(uint64_t(l.predictedCycles + 0.5));
    w.u64(l.minDramBytes);
    w.str(l.shape);
    w.str(l.tune.source);
    w.u64(l.tune.modelCycles);
    w.u64(l.tune.tunedCycles);
    w.u64(l.tune.candidates);
    w.i64(l.tune.rank);
    w.u64((l.cascadedIn ? 1u : 0u) | (l.cascadedOut ? 2u : 0u) |
          (l.stripedIn ? 4u : 0u) | (l.stripedOut ? 8u : 0u) |
          (uint64_t(l.ringRows) << 32));
    w.str(l.notStriped);
  }
  w.u64(p.constants.size());
  for (const auto &[k, at] : p.constants) {
    w.var(k);
    w.u64(at);
  }
  // The layout of each layer's constants (what packing fills).
  w.u64(p.tables.size());
  for (const GemmTables &tb : p.tables) {
    w.u64((tb.sum ? 1u : 0u) | (tb.dw ? 2u : 0u) | (tb.dwBias ? 4u : 0u) |
          (tb.gemmBias ? 8u : 0u) | (tb.rqBias ? 16u : 0u) |
          (tb.lut ? 32u : 0u) | (tb.rqParamHiOff ? 64u : 0u) |
          (tb.lut16 ? 128u : 0u));
    for (uint64_t off :
         {tb.biasOff, tb.paramOff, tb.onesOff, tb.biasTileOff, tb.rqParamOff})
      w.u64(off);
    if (tb.lut || tb.lut16)
      w.u64(tb.lutOff);
    if (tb.rqParamHiOff) // 16x8: the int64 bias's high words
      w.u64(tb.rqParamHiOff);
    w.u64(tb.wOff.size());
    for (size_t k = 0; k < tb.wOff.size(); ++k) {
      w.u64(tb.wOff[k]);
      w.u64(tb.rel[k].size());
      for (int64_t x : tb.rel[k])
        w.var(x);
      w.u64(tb.zero[k].size());
      for (bool z : tb.zero[k])
        w.s.push_back(z ? 1 : 0);
    }
  }
  return w.s;
}

Status deserializeProgram(const Target &t, const std::string &bytes,
                          Program &p) {
  p = Program();
  if (bytes.size() < 8 || std::memcmp(bytes.data(), kMagic, 8) != 0)
    return invalid("not a scheduled program");
  Reader r{bytes, 8};
  uint64_t version = r.u64();
  if (version != kVersion)
    return invalid("scheduled program version " + std::to_string(version) +
                   " (expected " + std::to_string(kVersion) + ")");
  const std::string hash = r.str();
  if (hash != t.hash)
    return invalid("the program is for target " + hash + ", this is " + t.hash +
                   " ('" + t.name + "')");
  p.lanes = int64_t(r.u64());
  if (p.lanes != t.lanes)
    return invalid("the program has " + std::to_string(p.lanes) +
                   " lanes, target '" + t.name + "' " +
                   std::to_string(t.lanes));
  uint64_t n = r.len(4);
  p.ops.resize(size_t(n));
  p.opLayer.resize(size_t(n));
  for (size_t i = 0; i < n && !r.bad; ++i) {
    const Status st = getOp(t, r, p.ops[i]);
    p.opLayer[i] = int32_t(r.var());
    if (st.failed() && !r.bad)
      return Status(st.code(),
                    "operation " + std::to_string(i) + ": " + st.message());
    if (p.opLayer[i] < -1)
      r.bad = true;
  }
  const uint64_t imageBytes = r.u64();
  const bool withImage = r.u64() != 0;
  if (withImage && imageBytes > bytes.size() - std::min(bytes.size(), r.at))
    r.bad = true;
  if (!r.bad && imageBytes > (uint64_t(1) << 40))
    r.bad = true;
  if (r.bad)
    return invalid("truncated or corrupt scheduled program");
  if (withImage) {
    p.image.assign(bytes.begin() + long(r.at),
                   bytes.begin() + long(r.at + imageBytes));
    r.at += size_t(imageBytes);
  } else {
    p.image.assign(size_t(imageBytes), 0);
  }
  p.dramBytes = r.u64();
  p.activationBase = r.u64();
  for (auto *list : {&p.inputs, &p.outputs}) {
    uint64_t m = r.len(8);
    list->resize(size_t(m));
    for (NTensor &t : *list)
      getTensor(r, t);
  }
  uint64_t nl = r.len(8);
  p.layers.resize(size_t(nl));
  for (LayerInfo &l : p.layers) {
    l.name = r.str();
    l.op = r.str();
    uint64_t nn = r.len(8);
    l.nodes.resize(size_t(nn));
    for (std::string &s : l.nodes)
      s = r.str();
    l.usefulMacs = r.u64();
    l.arrayMacs = r.u64();
    l.loadBytes = r.u64();
    l.storeBytes = r.u64();
    l.firstInsn = size_t(r.u64());
    l.endInsn = size_t(r.u64());
    l.prefetchFirst = size_t(r.u64());
    l.prefetchEnd = size_t(r.u64());
    l.tiling = r.str();
    l.predictedCycles = double(r.u64());
    l.minDramBytes = r.u64();
    l.shape = r.str();
    l.tune.source = r.str();
    l.tune.modelCycles = r.u64();
    l.tune.tunedCycles = r.u64();
    l.tune.candidates = uint32_t(r.u64());
    l.tune.rank = int32_t(r.i64());
    uint64_t cascaded = r.u64();
    l.cascadedIn = cascaded & 1u;
    l.cascadedOut = cascaded & 2u;
    l.stripedIn = cascaded & 4u;
    l.stripedOut = cascaded & 8u;
    l.ringRows = uint32_t(cascaded >> 32);
    l.notStriped = r.str();
  }
  p.constants.resize(size_t(r.len(9)));
  for (auto &[k, at] : p.constants) {
    k = int(r.var());
    at = r.u64();
  }
  uint64_t nt = r.len(8);
  p.tables.resize(size_t(nt));
  for (GemmTables &tb : p.tables) {
    const uint64_t flags = r.u64();
    tb.sum = flags & 1u, tb.dw = flags & 2u, tb.dwBias = flags & 4u,
    tb.gemmBias = flags & 8u, tb.rqBias = flags & 16u, tb.lut = flags & 32u;
    tb.lut16 = flags & 128u;
    for (uint64_t *off : {&tb.biasOff, &tb.paramOff, &tb.onesOff,
                          &tb.biasTileOff, &tb.rqParamOff})
      *off = r.u64();
    if (tb.lut || tb.lut16)
      tb.lutOff = r.u64();
    if (flags & 64u)
      tb.rqParamHiOff = r.u64();
    const uint64_t kt = r.len(16);
    tb.wOff.resize(size_t(kt));
    tb.rel.resize(size_t(kt));
    tb.zero.resize(size_t(kt));
    for (size_t k = 0; k < kt && !r.bad; ++k) {
      tb.wOff[k] = r.u64();
      tb.rel[k].resize(size_t(r.len(1)));
      for (int64_t &x : tb.rel[k])
        x = r.var();
      const uint64_t nz = r.len(1);
      tb.zero[k].resize(size_t(nz));
      for (size_t z = 0; z < nz && !r.bad; ++z)
        tb.zero[k][z] = bytes[r.at++] != 0;
    }
  }
  if (r.bad || r.at != bytes.size())
    return invalid("truncated or corrupt scheduled program");
  return Status::ok();
}

} // namespace ember::accel
