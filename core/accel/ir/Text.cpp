// The text forms of the layer program and the scheduled program (Text.h).
#include "ember/accel/Text.h"

#include "Form.h"
#include "support/Quote.h"

#include <cstdlib>
#include <cstring>
#include <set>
#include <sstream>

namespace ember::accel {

namespace {

// ---- records: `keyword positional... key=value ...` ------------------------

struct Rec {
  std::string kw;
  std::vector<std::string> pos;
  std::vector<std::pair<std::string, std::string>> kv;
  size_t line = 0;
  const std::string *get(const std::string &k) const {
    for (const auto &p : kv)
      if (p.first == k)
        return &p.second;
    return nullptr;
  }
};

// Splits a line into tokens; quoted parts keep their spaces, the quotes and
// escapes stay in the token (unquote removes them).
bool tokens(const std::string &line, std::vector<std::string> &out) {
  out.clear();
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
      ++i;
    if (i >= line.size() || line[i] == '#')
      break;
    std::string tok;
    bool inq = false;
    for (; i < line.size() && (inq || (line[i] != ' ' && line[i] != '\t'));
         ++i) {
      if (line[i] == '\\' && inq && i + 1 < line.size()) {
        tok += line[i];
        tok += line[++i];
        continue;
      }
      if (line[i] == '"')
        inq = !inq;
      tok += line[i];
    }
    if (inq)
      return false;
    out.push_back(tok);
  }
  return true;
}

// A token that is one whole string literal (support/Quote.h).
bool unquote(const std::string &v, std::string &out) {
  size_t pos = 0;
  Expected<std::string> r = readQuoted(v, pos);
  if (!r || pos != v.size())
    return false;
  out = std::move(*r);
  return true;
}

// Quoted strings separated by commas outside the quotes.
bool unquoteList(const std::string &v, std::vector<std::string> &out) {
  out.clear();
  size_t start = 0;
  bool inq = false;
  for (size_t i = 0; i <= v.size(); ++i) {
    if (i < v.size() && v[i] == '\\' && inq) {
      ++i;
      continue;
    }
    if (i < v.size() && v[i] == '"')
      inq = !inq;
    if (i == v.size() || (v[i] == ',' && !inq)) {
      std::string s;
      if (!unquote(v.substr(start, i - start), s))
        return false;
      out.push_back(s);
      start = i + 1;
    }
  }
  return true;
}

template <typename T> std::string list(const std::vector<T> &v) {
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) {
    if (i)
      s += ',';
    s += std::to_string(v[i]);
  }
  return s;
}

bool ints(const std::string &v, std::vector<int64_t> &out) {
  out.clear();
  if (v.empty())
    return true;
  std::stringstream ss(v);
  std::string item;
  while (std::getline(ss, item, ',')) {
    char *end = nullptr;
    if (item.empty() || item.size() > 21)
      return false;
    long long x = std::strtoll(item.c_str(), &end, 10);
    if (*end)
      return false;
    out.push_back(x);
  }
  return true;
}

std::string hex(const void *data, size_t n, bool elide) {
  if (elide && n > 64)
    return std::string("<elided ") + std::to_string(n) + std::string(">");
  static const char *d = "0123456789abcdef";
  std::string s = "x:";
  const uint8_t *b = static_cast<const uint8_t *>(data);
  for (size_t i = 0; i < n; ++i) {
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

bool unhex(const std::string &v, std::vector<uint8_t> &out) {
  out.clear();
  if (v.size() < 2 || v.compare(0, 2, "x:") || v.size() % 2)
    return false;
  auto nib = [](char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                  : -1;
  };
  for (size_t i = 2; i < v.size(); i += 2) {
    int h = nib(v[i]), l = nib(v[i + 1]);
    if (h < 0 || l < 0)
      return false;
    out.push_back(uint8_t(h << 4 | l));
  }
  return true;
}

// A reader of one record's fields that remembers the first error.
struct Fields {
  const Rec &r;
  Status err; // the first failure's (ok when none)
  Status error() const { return err; }
  bool fail(const std::string &k, const std::string &what) {
    if (err.isOk())
      err = invalid("line ", r.line, ": ", r.kw, " ", k, ": ", what);
    return false;
  }
  const std::string *need(const std::string &k, bool required) {
    const std::string *v = r.get(k);
    if (!v && required)
      fail(k, "missing");
    return v;
  }
  template <typename T>
  bool num(const std::string &k, T &out, bool req = true) {
    const std::string *v = need(k, req);
    if (!v)
      return !req;
    char *end = nullptr;
    long long x = std::strtoll(v->c_str(), &end, 10);
    if (v->empty() || *end || v->size() > 21)
      return fail(k, "'" + *v + "' is not an integer");
    out = T(x);
    return true;
  }
  bool flag(const std::string &k, bool &out, bool req = true) {
    int64_t v = out;
    if (!num(k, v, req))
      return false;
    out = v != 0;
    return true;
  }
  bool str(const std::string &k, std::string &out, bool req = true) {
    const std::string *v = need(k, req);
    if (!v)
      return !req;
    return unquote(*v, out) || fail(k, "not a quoted string");
  }
  template <typename T>
  bool nums(const std::string &k, std::vector<T> &out, size_t n = 0,
            bool req = true) {
    const std::string *v = need(k, req);
    if (!v)
      return !req;
    std::vector<int64_t> x;
    if (!ints(*v, x) || (n && x.size() != n))
      return fail(k, "not a list of " + (n ? std::to_string(n) + " " : "") +
                         "integers");
    out.assign(x.begin(), x.end());
    return true;
  }
  bool data(const std::string &k, std::vector<uint8_t> &out, bool req = true) {
    const std::string *v = need(k, req);
    if (!v)
      return !req;
    return unhex(*v, out) || fail(k, "not x:<hex bytes>");
  }
};

Status parseRecords(const std::string &text, std::vector<Rec> &out) {
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  std::vector<std::string> toks;
  while (std::getline(in, line)) {
    ++n;
    if (!tokens(line, toks))
      return invalid("line " + std::to_string(n) + ": unterminated string");
    if (toks.empty())
      continue;
    Rec r;
    r.kw = toks[0];
    r.line = n;
    for (size_t i = 1; i < toks.size(); ++i) {
      size_t eq = toks[i].find('=');
      if (eq == std::string::npos || toks[i][0] == '"')
        r.pos.push_back(toks[i]);
      else
        r.kv.push_back({toks[i].substr(0, eq), toks[i].substr(eq + 1)});
    }
    out.push_back(std::move(r));
  }
  return Status::ok();
}

const char *const kKinds[] = {"activation", "input", "output", "constant"};

std::string typeOf(const NTensor &x) {
  return x.i32 ? "i32" : x.i16 ? "i16" : x.u8 ? "u8" : "i8";
}

std::string tensorFields(const NTensor &x) {
  std::string s = "kind=" + std::string(kKinds[int(x.kind)]) +
                  " name=" + quoteString(x.name) + " type=" + typeOf(x) +
                  " dims=" + list(x.dims) + " axis=" + std::to_string(x.axis);
  if (x.value >= 0)
    s += " value=" + std::to_string(x.value);
  if (x.base >= 0)
    s += " base=" + std::to_string(x.base) +
         " tile=" + std::to_string(x.tileOffset);
  if (x.dram >= 0)
    s += " dram=" + std::to_string(x.dram);
  if (x.laneFrom >= 0)
    s += " lanes_from=" + std::to_string(x.laneFrom);
  if (x.pixOff >= 0)
    s += " pixels=" + std::to_string(x.pixOff);
  if (x.ilv)
    s += " ilv=" + std::to_string(x.ilv) + " phase=" + std::to_string(x.phase);
  if (x.ilv && x.ilvX && x.ilvX != x.ilv)
    s += " ilvx=" + std::to_string(x.ilvX);
  if (x.ilv && (x.top || x.left))
    s += " top=" + std::to_string(x.top) + " left=" + std::to_string(x.left);
  if (x.patches.kh) {
    const NTensor::Patches &p = x.patches;
    s += " patches=" +
         list(std::vector<int64_t>{p.kh, p.kw, p.sh, p.sw, p.dh, p.dw, p.pt,
                                   p.pl}) +
         " src_dims=" + list(p.srcDims) + " fill=" + std::to_string(p.fill);
  }
  return s;
}

bool readTensor(Fields &f, int64_t lanes, NTensor &x) {
  std::string kind, type;
  if (!f.str("name", x.name) || !f.nums("dims", x.dims) ||
      !f.num("axis", x.axis) || !f.num("value", x.value, false) ||
      !f.num("base", x.base, false) || !f.num("tile", x.tileOffset, false) ||
      !f.num("dram", x.dram, false) ||
      !f.num("lanes_from", x.laneFrom, false) ||
      !f.num("pixels", x.pixOff, false) || !f.num("ilv", x.ilv, false) ||
      !f.num("phase", x.phase, false) || !f.num("ilvx", x.ilvX, false) ||
      !f.num("top", x.top, false) || !f.num("left", x.left, false))
    return false;
  if (x.ilv < 0 || x.ilv > 8 || x.ilvX < 0 || x.ilvX > 8 || x.phase < 0 ||
      x.top < 0 || x.left < 0 ||
      (x.ilv && (x.phase >= x.strideY() * x.strideX() || x.base < 0)))
    return f.fail("ilv", "a phase placement needs a base, ilv and ilvx <= "
                         "8, phase < ilv * ilvx and top, left >= 0");
  std::vector<int64_t> pv;
  if (!f.nums("patches", pv, 8, false) ||
      !f.nums("src_dims", x.patches.srcDims, 4, !pv.empty()) ||
      !f.num("fill", x.patches.fill, false))
    return false;
  if (!pv.empty()) {
    NTensor::Patches &p = x.patches;
    p.kh = pv[0], p.kw = pv[1], p.sh = pv[2], p.sw = pv[3], p.dh = pv[4],
    p.dw = pv[5], p.pt = pv[6], p.pl = pv[7];
    if (!patchesDescribe(x))
      return f.fail("patches", "kh,kw,sh,sw,dh,dw >= 1, pt,pl >= 0, "
                               "src_dims [N, C0, H0, W0] and dims [N, kh "
                               "kw C0, OH, OW] on axis 1");
  }
  const std::string *k = f.need("kind", true), *t = f.need("type", true);
  if (!k || !t)
    return false;
  int ki = -1;
  for (int i = 0; i < 4; ++i)
    if (*k == kKinds[i])
      ki = i;
  if (ki < 0)
    return f.fail("kind", "'" + *k + "' is not a tensor kind");
  x.kind = NTensor::Kind(ki);
  if (*t != "i8" && *t != "u8" && *t != "i32" && *t != "i16")
    return f.fail("type", "'" + *t + "' (i8, u8, i16 or i32)");
  x.i32 = *t == "i32";
  x.i16 = *t == "i16";
  x.u8 = *t == "u8";
  if (x.axis < 0 || (!x.dims.empty() && size_t(x.axis) >= x.dims.size()))
    return f.fail("axis", "outside the dims");
  x.C = x.dims.empty() ? 1 : x.dims[size_t(x.axis)];
  int64_t all = 1;
  for (int64_t d : x.dims) {
    if (d < 0 || d > (int64_t(1) << 31))
      return f.fail("dims", "out of range");
    all *= d;
  }
  x.P = x.C ? all / x.C : 0;
  x.lanes = lanes;
  return true;
}

// Twelve values (TFLite's add), or sixteen: then the exact add's x_a_mult,
// x_b_mult, x_offset and x_shift follow.
std::string regsText(const AddRegs &r) {
  std::vector<int64_t> v{r.lshift,   r.aZp,   r.aMult,  r.aShift,
                         r.bZp,      r.bMult, r.bShift, r.outMult,
                         r.outShift, r.outZp, r.lo,     r.hi};
  if (r.exact)
    v.insert(v.end(), {r.xaMult, r.xbMult, r.xOffset, int64_t(r.xShift)});
  return list(v);
}
bool readRegs(Fields &f, const std::string &k, AddRegs &r) {
  std::vector<int64_t> v;
  if (!f.nums(k, v))
    return false;
  if (v.size() != 12 && v.size() != 16)
    return f.fail(k, "not a list of 12 or 16 integers");
  int32_t *out[] = {&r.lshift,   &r.aZp,   &r.aMult,  &r.aShift,
                    &r.bZp,      &r.bMult, &r.bShift, &r.outMult,
                    &r.outShift, &r.outZp, &r.lo,     &r.hi};
  for (size_t i = 0; i < 12; ++i)
    *out[i] = int32_t(v[i]);
  r.exact = v.size() == 16;
  if (r.exact) {
    r.xaMult = v[12];
    r.xbMult = v[13];
    r.xOffset = v[14];
    r.xShift = int32_t(v[15]);
  }
  return true;
}

std::string nodesText(const std::vector<std::string> &nodes) {
  std::string s;
  for (size_t i = 0; i < nodes.size(); ++i) {
    if (i)
      s += ',';
    s += quoteString(nodes[i]);
  }
  return s;
}

std::string header(const Target &t) {
  return "target name=" + quoteString(t.name) + " hash=" + t.hash +
         " lanes=" + std::to_string(t.lanes) + "\n";
}

Status checkHeader(const Target &t, const std::vector<Rec> &recs) {
  for (const Rec &r : recs)
    if (r.kw == "target") {
      const std::string *h = r.get("hash");
      if (h && *h != t.hash)
        return invalid("line " + std::to_string(r.line) +
                       ": written for target hash " + *h + ", this is " +
                       t.hash + " ('" + t.name + "')");
    }
  return Status::ok();
}

} // namespace

// ---- the layer program -----------------------------------------------------

std::string printLayers(const Target &t, const LayerProgram &lp, bool elide) {
  std::ostringstream os;
  os << "# Ember layer program (docs/npu-sdk.md)\n" << header(t);
  for (size_t i = 0; i < lp.tensors.size(); ++i) {
    const NTensor &x = lp.tensors[i];
    os << "tensor " << i << " " << tensorFields(x);
    if (x.kind == NTensor::Kind::Constant)
      os << " data=" << hex(x.data.data(), x.data.size(), elide);
    os << "\n";
  }
  os << "inputs " << list(lp.inputs) << "\noutputs " << list(lp.outputs)
     << "\n";
  for (const Layer &L : lp.layers) {
    os << "layer ";
    const std::string common = "name=" + quoteString(L.name) +
                               " nodes=" + nodesText(L.nodes) +
                               " macs=" + std::to_string(L.usefulMacs);
    switch (L.kind) {
    case Layer::Kind::Gemm: {
      const GemmLayer &g = L.gemm;
      os << "gemm " << common << " in=" << g.in << " out=" << g.out
         << " n=" << g.N << " c=" << g.C << " h=" << g.H << " w=" << g.W
         << " k=" << g.K << " oh=" << g.OH << " ow=" << g.OW
         << " kernel=" << g.kh << "," << g.kw << " stride=" << g.sh << ","
         << g.sw << " dilation=" << g.dh << "," << g.dw << " pads=" << g.pt
         << "," << g.pl << "," << g.pb << "," << g.pr << " groups=" << g.groups
         << " flat=" << g.flat << " sum=" << g.sum
         << " pad_value=" << g.padValue << " bias=" << list(g.bias)
         << " weights=" << hex(g.w.data(), g.w.size(), elide)
         << " requant=" << g.requant;
      if (g.wAct >= 0) // weights from an activation (optional)
        os << " wact=" << g.wAct;
      if (!g.segs.empty()) { // its reduction's segments (optional)
        std::vector<int64_t> flat;
        for (const auto &sg : g.segs)
          flat.insert(flat.end(), {sg[0], sg[1]});
        os << " segs=" << list(flat);
      }
      if (g.in16 || g.out16) // 16x8 (optional fields)
        os << " in16=" << g.in16 << " out16=" << g.out16
           << " bias64=" << list(g.bias64);
      if (g.requant)
        os << " rq=" << g.rq.zp << "," << g.rq.lo << "," << g.rq.hi
           << " mult=" << list(g.rq.mult) << " shift=" << list(g.rq.shift);
      if (g.pool.on)
        os << " pool=" << g.pool.avg << "," << g.pool.kh << "," << g.pool.kw
           << "," << g.pool.s;
      if (g.add.on)
        os << " add=" << g.add.other << "," << g.add.otherBroadcast << ","
           << g.add.convIsA << "," << g.add.beforePool
           << " add_regs=" << regsText(g.add.regs);
      break;
    }
    case Layer::Kind::Pool: {
      const PoolLayer &g = L.pool;
      os << "pool " << common << " in=" << g.in << " out=" << g.out
         << " n=" << g.N << " c=" << g.C << " h=" << g.H << " w=" << g.W
         << " oh=" << g.OH << " ow=" << g.OW << " kernel=" << g.kh << ","
         << g.kw << " stride=" << g.sh;
      if (g.sw != g.sh)
        os << "," << g.sw;
      os << " pads=" << g.pt << "," << g.pl << "," << g.pb << "," << g.pr
         << " avg=" << g.avg << " exclude_pad=" << g.excludePad
         << " pad_value=" << g.padValue;
      if (g.up > 1)
        os << " up=" << g.up;
      if (g.upMode)
        os << " up_mode=" << g.upMode << " up_zp=" << g.upZp;
      if (g.w16)
        os << " w16=1";
      break;
    }
    case Layer::Kind::Add:
      os << "add " << common << " a=" << L.add.a << " b=" << L.add.b
         << " out=" << L.add.out << " broadcast=" << L.add.bBroadcast
         << " regs=" << regsText(L.add.regs);
      if (L.add.w16)
        os << " w16=1";
      if (L.add.mul) {
        const MulRegs &m = L.add.mulRegs;
        os << " mul="
           << list(std::vector<int32_t>{m.aZp, m.bZp, m.mult, m.shift, m.outZp,
                                        m.lo, m.hi});
      }
      break;
    }
    if (!L.lut.empty())
      os << " lut="
         << hex(reinterpret_cast<const uint8_t *>(L.lut.data()), L.lut.size(),
                false);
    if (!L.lut16.empty()) { // little-endian int16 entries
      std::vector<uint8_t> b;
      for (int16_t e : L.lut16)
        b.insert(b.end(),
                 {uint8_t(uint16_t(e) & 0xff), uint8_t(uint16_t(e) >> 8)});
      os << " lut16=" << hex(b.data(), b.size(), false);
    }
    for (const auto &[k, v] : L.attrs) // a form's own (Layer::attrs)
      os << " " << k << "=" << list(v);
    os << "\n";
  }
  return os.str();
}

namespace {

// A phase map (NTensor::ilv) fits its owner: 4-D, the owner inside the
// interleave of sy x sx such maps (cropped by top and left, each less than
// the interleave) with the same images, its tiles inside the owner's,
// 8-bit rows, and written only by requantizing GEMM layers with nothing
// fused after them (their stores go to its pixels), read by no layer.
Status checkPhases(const LayerProgram &lp) {
  const int n = int(lp.tensors.size());
  for (int k = 0; k < n; ++k) {
    const NTensor &x = lp.tensors[size_t(k)];
    if (!x.ilv)
      continue;
    const NTensor &o = lp.tensors[size_t(x.base)];
    const std::string at = "tensor '" + x.name + "' (ilv " +
                           std::to_string(x.ilv) + ", phase " +
                           std::to_string(x.phase) + ")";
    const int64_t sy = x.strideY(), sx = x.strideX();
    if (x.dims.size() != 4 || o.dims.size() != 4 || o.dims[0] != x.dims[0] ||
        x.top + o.dims[2] > sy * x.dims[2] ||
        x.left + o.dims[3] > sx * x.dims[3])
      return invalid(at + ": its owner '" + o.name + "' is not inside " +
                     std::to_string(sy) + " x " + std::to_string(sx) +
                     " times its map along H and W (from " +
                     std::to_string(x.top) + ", " + std::to_string(x.left) +
                     ")");
    if (x.i32 || x.i16 || o.i32 || o.i16 ||
        x.tileOffset + ceilDiv(x.C, x.lanes ? x.lanes : 1) >
            ceilDiv(o.C, o.lanes ? o.lanes : 1))
      return invalid(at + ": not 8-bit channel tiles inside its owner's");
    for (const Layer &L : lp.layers) {
      for (int t : layerTensors(L))
        if (t == k && layerOutput(L) != k)
          return invalid(at + ": read by layer '" + L.name +
                         "' (a phase map is only stored)");
      if (layerOutput(L) == k &&
          (L.kind != Layer::Kind::Gemm || !L.gemm.requant || L.gemm.pool.on ||
           L.gemm.add.on || L.gemm.out16))
        return invalid(
            at + ": written by layer '" + L.name +
            "', which is not a requantizing convolution or MatMul with "
            "nothing fused after it");
    }
  }
  return Status::ok();
}

} // namespace

namespace {

std::string lineAt(const Rec &r, const std::string &what) {
  return "line " + std::to_string(r.line) + ": " + what;
}

// A field naming a tensor (of `ntensors`; -1 when not required).
bool tensorRef(Fields &f, const char *k, int &v, int64_t ntensors,
               bool req = true) {
  if (!f.num(k, v, req))
    return false;
  return (v >= 0 && v < ntensors) || (!req && v == -1) ||
         f.fail(k, "no tensor " + std::to_string(v));
}

// A tensor record, the next of `out.tensors`.
Status parseTensor(const Target &t, Fields &f, int64_t ntensors,
                   LayerProgram &out) {
  NTensor x;
  if (f.r.pos.size() != 1 || f.r.pos[0] != std::to_string(out.tensors.size()))
    return invalid(lineAt(f.r, "tensor " + std::to_string(out.tensors.size()) +
                                   " expected next"));
  if (!readTensor(f, t.lanes, x))
    return f.error();
  if (x.kind == NTensor::Kind::Constant) {
    std::vector<uint8_t> d;
    if (!f.data("data", d))
      return f.error();
    x.data.assign(d.begin(), d.end());
    if (x.data.size() != x.bytes())
      return invalid(lineAt(f.r, "constant '" + x.name + "' has " +
                                     std::to_string(x.data.size()) +
                                     " bytes, its layout " +
                                     std::to_string(x.bytes())));
  }
  if (x.base >= ntensors)
    return invalid(
        lineAt(f.r, "base " + std::to_string(x.base) + " is no tensor"));
  out.tensors.push_back(std::move(x));
  return Status::ok();
}

// A gemm layer's fields, checked against each other.
Status parseGemm(Fields &f, int64_t ntensors, GemmLayer &g) {
  std::vector<int64_t> two, four;
  std::vector<uint8_t> w;
  if (!tensorRef(f, "in", g.in, ntensors) ||
      !tensorRef(f, "out", g.out, ntensors) || !f.num("n", g.N) ||
      !f.num("c", g.C) || !f.num("h", g.H) || !f.num("w", g.W) ||
      !f.num("k", g.K) || !f.num("oh", g.OH) || !f.num("ow", g.OW) ||
      !f.nums("kernel", two, 2))
    return f.error();
  g.kh = two[0], g.kw = two[1];
  if (!f.nums("stride", two, 2))
    return f.error();
  g.sh = two[0], g.sw = two[1];
  if (!f.nums("dilation", two, 2))
    return f.error();
  g.dh = two[0], g.dw = two[1];
  if (!f.nums("pads", four, 4))
    return f.error();
  g.pt = four[0], g.pl = four[1], g.pb = four[2], g.pr = four[3];
  if (!f.num("groups", g.groups) || !f.flag("flat", g.flat) ||
      !f.flag("sum", g.sum) || !f.num("pad_value", g.padValue) ||
      !f.nums("bias", g.bias) || !f.data("weights", w) ||
      !f.flag("requant", g.requant) || !f.flag("in16", g.in16, false) ||
      !f.flag("out16", g.out16, false) ||
      !f.nums("bias64", g.bias64, 0, false) ||
      !tensorRef(f, "wact", g.wAct, ntensors, false))
    return f.error();
  std::vector<int64_t> segs;
  if (!f.nums("segs", segs, 0, false))
    return f.error();
  if (segs.size() % 2 || std::any_of(segs.begin(), segs.end(), [&](int64_t k) {
        return k < -1 || k >= ntensors;
      }))
    return invalid(lineAt(f.r, "gemm: segs needs pairs of tensor indices "
                               "(-1: the input, the weights' activation)"));
  for (size_t i = 0; i < segs.size(); i += 2)
    g.segs.push_back({int(segs[i]), int(segs[i + 1])});
  if (g.in16 && int64_t(g.bias64.size()) != g.K)
    return invalid(lineAt(f.r, "gemm: in16 needs bias64 of K entries"));
  g.w.assign(w.begin(), w.end());
  if (g.requant) {
    std::vector<int64_t> rq;
    if (!f.nums("rq", rq, 3) || !f.nums("mult", g.rq.mult) ||
        !f.nums("shift", g.rq.shift))
      return f.error();
    g.rq.zp = int32_t(rq[0]), g.rq.lo = int32_t(rq[1]),
    g.rq.hi = int32_t(rq[2]);
  }
  if (f.r.get("pool")) {
    if (!f.nums("pool", four, 4))
      return f.error();
    g.pool = {true, four[0] != 0, four[1], four[2], four[3]};
  }
  if (f.r.get("add")) {
    if (!f.nums("add", four, 4) || !readRegs(f, "add_regs", g.add.regs))
      return f.error();
    g.add.on = true;
    g.add.other = int(four[0]);
    g.add.otherBroadcast = four[1], g.add.convIsA = four[2],
    g.add.beforePool = four[3];
    if (g.add.other < 0 || g.add.other >= ntensors)
      return invalid(
          lineAt(f.r, "add: no tensor " + std::to_string(g.add.other)));
  }
  // The sizes the scheduler indexes by must agree.
  const int64_t taps = g.sum ? 0 : g.kh * g.kw;
  if (g.C < 1 || g.K < 1 || g.groups < 1 || g.C % g.groups || g.K % g.groups ||
      g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.dh < 1 || g.dw < 1 ||
      g.N < 1 || g.OH < 1 || g.OW < 1 || g.H < 1 || g.W < 1)
    return invalid(
        lineAt(f.r, "gemm: sizes, kernel, strides or groups out of range"));
  if (g.wAct >= 0 &&
      (!g.w.empty() || !g.flat || g.groups != 1 || g.sum || g.in16))
    return invalid(lineAt(f.r,
                          "gemm: weights from an activation (wact) need a flat "
                          "8-bit layer of one group and no weights"));
  if (!g.segs.empty() && (g.wAct < 0 || g.C % int64_t(g.segs.size())))
    return invalid(lineAt(f.r, "gemm: segs need wact and C in equal segments"));
  if (!g.sum && g.wAct < 0 &&
      int64_t(g.w.size()) != g.K * (g.C / g.groups) * taps)
    return invalid(
        lineAt(f.r, "gemm: " + std::to_string(g.w.size()) +
                        " weights, expected K x C/groups x kh x kw = " +
                        std::to_string(g.K * (g.C / g.groups) * taps)));
  if ((!g.bias.empty() && int64_t(g.bias.size()) != g.K) ||
      (g.requant &&
       (int64_t(g.rq.mult.size()) != g.K || int64_t(g.rq.shift.size()) != g.K)))
    return invalid(lineAt(f.r, "gemm: bias, mult and shift need K entries"));
  return Status::ok();
}

// A pool layer's fields.
Status parsePool(Fields &f, int64_t ntensors, PoolLayer &g) {
  std::vector<int64_t> two, four, strides;
  if (!tensorRef(f, "in", g.in, ntensors) ||
      !tensorRef(f, "out", g.out, ntensors) || !f.num("n", g.N) ||
      !f.num("c", g.C) || !f.num("h", g.H) || !f.num("w", g.W) ||
      !f.num("oh", g.OH) || !f.num("ow", g.OW) || !f.nums("kernel", two, 2) ||
      !f.nums("stride", strides) || !f.nums("pads", four, 4) ||
      !f.flag("avg", g.avg) || !f.flag("exclude_pad", g.excludePad) ||
      !f.num("pad_value", g.padValue) || !f.num("up", g.up, false) ||
      !f.flag("w16", g.w16, false))
    return f.error();
  if (strides.size() != 1 && strides.size() != 2)
    return invalid(lineAt(f.r, "pool: stride is one integer or two (sh,sw)"));
  g.kh = two[0], g.kw = two[1];
  g.sh = strides[0], g.sw = strides.back();
  g.pt = four[0], g.pl = four[1], g.pb = four[2], g.pr = four[3];
  if (g.kh < 1 || g.kw < 1 || g.sh < 1 || g.sw < 1 || g.N < 1 || g.C < 1)
    return invalid(lineAt(f.r, "pool: sizes, window or stride out of range"));
  if (g.up < 1 || g.up > 8 ||
      (g.up > 1 && (g.kh != 1 || g.kw != 1 || g.sh != 1 || g.sw != 1)))
    return invalid(
        lineAt(f.r, "pool: up is 1..8, and above 1 only of a 1x1 window"));
  if (!f.num("up_mode", g.upMode, false) || !f.num("up_zp", g.upZp, false))
    return f.error();
  if (g.upMode < 0 || g.upMode > 2 || g.upZp < -128 || g.upZp > 127 ||
      (g.upMode && g.up != 2 && g.up != 4 && g.up != 8))
    return invalid(
        lineAt(f.r, "pool: up_mode is 0..2 (bilinear: up 2, 4 or 8), up_zp "
                    "-128..127"));
  if (g.w16 && g.up > 1)
    return invalid(lineAt(f.r, "pool: a 16-bit pool is not stored upsampled"));
  return Status::ok();
}

// An add (or mul) layer's fields.
Status parseAdd(Fields &f, int64_t ntensors, AddLayer &a) {
  if (!tensorRef(f, "a", a.a, ntensors) || !tensorRef(f, "b", a.b, ntensors) ||
      !tensorRef(f, "out", a.out, ntensors) ||
      !f.flag("broadcast", a.bBroadcast) || !readRegs(f, "regs", a.regs) ||
      !f.flag("w16", a.w16, false))
    return f.error();
  if (f.r.get("mul")) {
    std::vector<int64_t> m;
    if (!f.nums("mul", m, 7))
      return f.error();
    MulRegs &g = a.mulRegs;
    a.mul = true;
    g.aZp = int32_t(m[0]), g.bZp = int32_t(m[1]), g.mult = int32_t(m[2]),
    g.shift = int32_t(m[3]), g.outZp = int32_t(m[4]), g.lo = int32_t(m[5]),
    g.hi = int32_t(m[6]);
  }
  return Status::ok();
}

// A layer's output tables: the 8-bit one (lut) and the 16-bit one (lut16).
Status parseLayerTables(Fields &f, Layer &L) {
  if (f.r.get("lut")) {
    std::vector<uint8_t> lut;
    if (!f.data("lut", lut))
      return f.error();
    if (lut.size() != 256)
      return invalid(
          lineAt(f.r, "lut: " + std::to_string(lut.size()) +
                          " bytes, expected the 256 of an output table"));
    L.lut.assign(lut.begin(), lut.end());
  }
  if (f.r.get("lut16")) {
    std::vector<uint8_t> b;
    if (!f.data("lut16", b))
      return f.error();
    if (b.size() != 1026)
      return invalid(
          lineAt(f.r, "lut16: " + std::to_string(b.size()) +
                          " bytes, expected the 1026 of a 16-bit table"));
    if (L.kind != Layer::Kind::Pool || !L.pool.w16 || L.pool.kh != 1 ||
        L.pool.kw != 1 || L.pool.sh != 1 || L.pool.sw != 1 || L.pool.up != 1 ||
        L.pool.upMode)
      return invalid(
          lineAt(f.r, "lut16: a 16-bit table is a 1x1 pool layer of 16-bit "
                      "rows (w16=1)"));
    for (size_t k = 0; k < 513; ++k)
      L.lut16.push_back(int16_t(uint16_t(b[2 * k] | b[2 * k + 1] << 8)));
  }
  return Status::ok();
}

// A form's own attributes (Layer::attrs): every `<form>.<name>=v,v,...`
// field, for a form of the table, which then checks the layer.
Status parseFormAttrs(const Rec &r, Layer &L) {
  std::set<const FormPattern *> forms;
  for (const auto &[k, v] : r.kv) {
    const size_t dot = k.find('.');
    if (dot == std::string::npos)
      continue;
    const FormPattern *f = formNamed(k.substr(0, dot));
    if (!f || dot + 1 == k.size())
      return invalid(lineAt(r, "'" + k +
                                   "' is not an attribute of a layer form "
                                   "(<form>.<name>, a form of the table)"));
    std::vector<int64_t> vals;
    if (!ints(v, vals))
      return invalid(lineAt(r, k + ": a list of integers expected"));
    L.attrs[k] = std::move(vals);
    forms.insert(f);
  }
  for (const FormPattern *f : forms)
    if (f->verify)
      EMBER_TRY(f->verify(L).withContext(lineAt(r, std::string(f->name))));
  return Status::ok();
}

} // namespace

Status parseLayers(const Target &t, const std::string &text,
                   LayerProgram &out) {
  out = LayerProgram();
  std::vector<Rec> recs;
  Status st = parseRecords(text, recs);
  if (st.isOk())
    st = checkHeader(t, recs);
  if (st.failed())
    return st;
  const int64_t ntensors = [&] {
    int64_t n = 0;
    for (const Rec &r : recs)
      n += r.kw == "tensor";
    return n;
  }();
  for (const Rec &r : recs) {
    Fields f{r, {}};
    auto at = [&](const std::string &what) { return lineAt(r, what); };
    if (r.kw == "target" || r.kw == "#") {
      continue;
    } else if (r.kw == "tensor") {
      EMBER_TRY(parseTensor(t, f, ntensors, out));
    } else if (r.kw == "inputs" || r.kw == "outputs") {
      std::vector<int64_t> v;
      if (r.pos.size() > 1 || (r.pos.size() == 1 && !ints(r.pos[0], v)))
        return invalid(at("a list of tensor numbers expected"));
      for (int64_t k : v)
        if (k < 0 || k >= ntensors)
          return invalid(at("no tensor " + std::to_string(k)));
      (r.kw == "inputs" ? out.inputs : out.outputs).assign(v.begin(), v.end());
    } else if (r.kw == "layer") {
      Layer L;
      if (r.pos.size() != 1)
        return invalid(at("layer needs its kind (gemm, pool, add)"));
      const std::string *nodes = f.need("nodes", true);
      if (!f.str("name", L.name) || !nodes || !f.num("macs", L.usefulMacs))
        return f.error();
      if (!nodes->empty() && !unquoteList(*nodes, L.nodes))
        return invalid(at("nodes: a list of quoted names expected"));
      const std::string &kind = r.pos[0];
      if (kind == "gemm") {
        L.kind = Layer::Kind::Gemm;
        st = parseGemm(f, ntensors, L.gemm);
      } else if (kind == "pool") {
        L.kind = Layer::Kind::Pool;
        st = parsePool(f, ntensors, L.pool);
      } else if (kind == "add") {
        L.kind = Layer::Kind::Add;
        st = parseAdd(f, ntensors, L.add);
      } else {
        return invalid(
            at("'" + kind + "' is not a layer kind (gemm, pool, add)"));
      }
      if (st.isOk())
        st = parseLayerTables(f, L);
      if (st.isOk())
        st = parseFormAttrs(r, L);
      if (st.failed())
        return st;
      out.layers.push_back(std::move(L));
    } else {
      return invalid(at("'" + r.kw + "' is not a record of a layer program"));
    }
  }
  for (const NTensor &x : out.tensors) {
    if (x.base >= 0 && out.tensors[size_t(x.base)].base >= 0)
      return invalid("tensor '" + x.name +
                     "' is placed in a tensor that is placed");
    if (x.pixOff >= 0 &&
        (x.base < 0 || x.ilv || x.laneFrom >= 0 ||
         x.pixOff + x.P > out.tensors[size_t(x.base)].P ||
         x.tileOffset + x.tiles() > out.tensors[size_t(x.base)].tiles()))
      return invalid("tensor '" + x.name +
                     "' is placed at pixels or tiles outside its owner");
  }
  return checkPhases(out);
}

// ---- the scheduled program -------------------------------------------------

std::string printProgram(const Target &t, const Program &p) {
  std::ostringstream os;
  os << "# Ember scheduled program (docs/npu-sdk.md): " << p.ops.size()
     << " operations\n"
     << header(t) << "program lanes=" << p.lanes << " image=" << p.image.size()
     << " activations=" << p.activationBase << " dram=" << p.dramBytes << "\n";
  for (const NTensor &x : p.inputs)
    os << "input " << tensorFields(x) << "\n";
  for (const NTensor &x : p.outputs)
    os << "output " << tensorFields(x) << "\n";
  for (const auto &[k, at] : p.constants)
    os << "constant tensor=" << k << " dram=" << at << "\n";
  for (size_t i = 0; i < p.layers.size(); ++i) {
    const LayerInfo &l = p.layers[i];
    os << "layer " << i << " name=" << quoteString(l.name)
       << " op=" << quoteString(l.op) << " nodes=" << nodesText(l.nodes)
       << " macs=" << l.usefulMacs << " array_macs=" << l.arrayMacs
       << " load_bytes=" << l.loadBytes << " store_bytes=" << l.storeBytes
       << " ops=" << l.firstInsn << "," << l.endInsn
       << " prefetch=" << l.prefetchFirst << "," << l.prefetchEnd
       << " tiling=" << quoteString(l.tiling)
       << " shape=" << quoteString(l.shape) << " tile=" << list(l.choice.tile)
       << " order=" << list(l.choice.order) << " bias_path=" << l.choice.bias
       << " predicted=" << uint64_t(l.predictedCycles + 0.5)
       << " min_dram=" << l.minDramBytes << " cascaded=" << l.cascadedIn << ","
       << l.cascadedOut << " striped=" << l.stripedIn << "," << l.stripedOut
       << " ring=" << l.ringRows;
    if (!l.notStriped.empty())
      os << " not_striped=" << quoteString(l.notStriped);
    os << "\n";
    if (i < p.tables.size() && !p.tables[i].wOff.empty()) {
      const GemmTables &tb = p.tables[i];
      std::string rel, zero;
      for (size_t k = 0; k < tb.rel.size(); ++k) {
        if (k)
          rel += ';';
        rel += list(tb.rel[k]);
        zero += k ? ";" : "";
        for (bool z : tb.zero[k])
          zero += z ? '1' : '0';
      }
      os << "tables " << i << " sum=" << tb.sum << " dw=" << tb.dw
         << " dw_bias=" << tb.dwBias << " gemm_bias=" << tb.gemmBias
         << " rq_bias=" << tb.rqBias << " weights=" << list(tb.wOff)
         << " bias=" << tb.biasOff << " param=" << tb.paramOff
         << " ones=" << tb.onesOff << " bias_tile=" << tb.biasTileOff
         << " rq_param=" << tb.rqParamOff;
      if (tb.rqParamHiOff)
        os << " rq_param_hi=" << tb.rqParamHiOff;
      os << " rel=" << rel << " zero=" << zero << "\n";
    }
  }
  for (size_t i = 0; i < p.ops.size(); ++i) {
    const int32_t l = i < p.opLayer.size() ? p.opLayer[i] : -1;
    os << "op " << (l < 0 ? std::string("-") : std::to_string(l)) << " "
       << formatOp(t, p.ops[i]) << "\n";
  }
  return os.str();
}

Status parseProgram(const Target &t, const std::string &text, Program &out) {
  out = Program();
  out.lanes = t.lanes;
  std::istringstream in(text);
  std::string line;
  size_t n = 0;
  std::vector<Rec> recs;
  // Operations parse with Op.h's parser; the other records here.
  std::string rest;
  while (std::getline(in, line)) {
    ++n;
    size_t b = line.find_first_not_of(" \t");
    if (b != std::string::npos && line.compare(b, 3, "op ") == 0) {
      std::istringstream ls(line.substr(b + 3));
      std::string layer, opText;
      ls >> layer;
      std::getline(ls, opText);
      Op op;
      const Status opSt = parseOp(t, opText, op);
      if (opSt.failed())
        return Status(opSt.code(),
                      "line " + std::to_string(n) + ": " + opSt.message());
      int32_t l = -1;
      if (layer != "-") {
        std::vector<int64_t> v;
        if (!ints(layer, v) || v.size() != 1 || v[0] < 0)
          return invalid("line " + std::to_string(n) + ": '" + layer +
                         "' is not a layer number or -");
        l = int32_t(v[0]);
      }
      out.ops.push_back(op);
      out.opLayer.push_back(l);
      rest += "\n";
      continue;
    }
    rest += line + "\n";
  }
  Status st = parseRecords(rest, recs);
  if (st.isOk())
    st = checkHeader(t, recs);
  if (st.failed())
    return st;
  for (const Rec &r : recs) {
    Fields f{r, {}};
    auto at = [&](const std::string &what) {
      return "line " + std::to_string(r.line) + ": " + what;
    };
    if (r.kw == "target") {
      continue;
    } else if (r.kw == "program") {
      uint64_t image = 0;
      if (!f.num("lanes", out.lanes) || !f.num("image", image) ||
          !f.num("activations", out.activationBase) ||
          !f.num("dram", out.dramBytes))
        return f.error();
      if (out.lanes != t.lanes)
        return invalid(at("lanes " + std::to_string(out.lanes) +
                          ", the target's " + std::to_string(t.lanes)));
      if (image > out.dramBytes || out.activationBase > out.dramBytes)
        return invalid(at("image and activations must lie within dram"));
      out.image.assign(size_t(image), 0);
    } else if (r.kw == "input" || r.kw == "output") {
      NTensor x;
      if (!readTensor(f, t.lanes, x))
        return f.error();
      (r.kw == "input" ? out.inputs : out.outputs).push_back(std::move(x));
    } else if (r.kw == "constant") {
      int k = -1;
      uint64_t at = 0;
      if (!f.num("tensor", k) || !f.num("dram", at))
        return f.error();
      out.constants.push_back({k, at});
    } else if (r.kw == "layer") {
      std::vector<int64_t> v;
      if (r.pos.size() != 1 || !ints(r.pos[0], v) || v.size() != 1 ||
          v[0] != int64_t(out.layers.size()))
        return invalid(at("layer " + std::to_string(out.layers.size()) +
                          " expected next"));
      // Only the name is required: the rest is the report's (a stage's
      // input written by hand may leave it out).
      LayerInfo l;
      const std::string *nodes = f.need("nodes", false);
      std::vector<int64_t> ops = {0, 0}, pre = {0, 0}, cas = {0, 0},
                           str = {0, 0};
      uint64_t predicted = 0;
      if (!f.str("name", l.name) || !f.str("op", l.op, false) ||
          !f.num("macs", l.usefulMacs, false) ||
          !f.num("array_macs", l.arrayMacs, false) ||
          !f.num("load_bytes", l.loadBytes, false) ||
          !f.num("store_bytes", l.storeBytes, false) ||
          !f.nums("ops", ops, 2, false) || !f.nums("prefetch", pre, 2, false) ||
          !f.str("tiling", l.tiling, false) ||
          !f.str("shape", l.shape, false) ||
          !f.nums("tile", l.choice.tile, 0, false) ||
          !f.nums("order", l.choice.order, 0, false) ||
          !f.num("bias_path", l.choice.bias, false) ||
          !f.num("predicted", predicted, false) ||
          !f.num("min_dram", l.minDramBytes, false) ||
          !f.nums("cascaded", cas, 2, false) ||
          !f.nums("striped", str, 2, false) ||
          !f.num("ring", l.ringRows, false) ||
          !f.str("not_striped", l.notStriped, false))
        return f.error();
      if (nodes && !nodes->empty() && !unquoteList(*nodes, l.nodes))
        return invalid(at("nodes: a list of quoted names expected"));
      l.firstInsn = size_t(ops[0]), l.endInsn = size_t(ops[1]);
      l.prefetchFirst = size_t(pre[0]), l.prefetchEnd = size_t(pre[1]);
      l.predictedCycles = l.choice.predicted = double(predicted);
      l.cascadedIn = cas[0], l.cascadedOut = cas[1];
      l.stripedIn = str[0], l.stripedOut = str[1];
      out.layers.push_back(std::move(l));
      out.tables.resize(out.layers.size());
    } else if (r.kw == "tables") {
      std::vector<int64_t> v;
      if (r.pos.size() != 1 || !ints(r.pos[0], v) || v.size() != 1 ||
          v[0] < 0 || size_t(v[0]) >= out.layers.size())
        return invalid(at("tables of a layer listed before them expected"));
      GemmTables &tb = out.tables[size_t(v[0])];
      const std::string *rel = f.need("rel", true),
                        *zero = f.need("zero", true);
      if (!f.flag("sum", tb.sum) || !f.flag("dw", tb.dw) ||
          !f.flag("dw_bias", tb.dwBias) || !f.flag("gemm_bias", tb.gemmBias) ||
          !f.flag("rq_bias", tb.rqBias) || !f.nums("weights", tb.wOff) ||
          !f.num("bias", tb.biasOff) || !f.num("param", tb.paramOff) ||
          !f.num("ones", tb.onesOff) || !f.num("bias_tile", tb.biasTileOff) ||
          !f.num("rq_param", tb.rqParamOff) ||
          !f.num("rq_param_hi", tb.rqParamHiOff, false) || !rel || !zero)
        return f.error();
      std::stringstream rs(*rel), zs(*zero);
      std::string item;
      while (std::getline(rs, item, ';')) {
        std::vector<int64_t> x;
        if (!ints(item, x))
          return invalid(
              at("rel: lists of input tiles separated by ';' expected"));
        tb.rel.push_back(x);
      }
      while (std::getline(zs, item, ';')) {
        std::vector<bool> z;
        for (char c : item) {
          if (c != '0' && c != '1')
            return invalid(at("zero: 0 and 1 per weight tile expected"));
          z.push_back(c == '1');
        }
        tb.zero.push_back(z);
      }
      if (tb.rel.size() != tb.wOff.size() || tb.zero.size() != tb.wOff.size())
        return invalid(
            at("weights, rel and zero need one entry per output tile"));
      for (size_t k = 0; k < tb.rel.size(); ++k) {
        const size_t per =
            tb.rel[k].empty() ? 0 : tb.zero[k].size() / tb.rel[k].size();
        if (tb.zero[k].size() != per * tb.rel[k].size())
          return invalid(at("zero: not a whole number of taps per input tile"));
      }
    } else {
      return invalid(
          at("'" + r.kw + "' is not a record of a scheduled program"));
    }
  }
  for (size_t i = 0; i < out.opLayer.size(); ++i)
    if (out.opLayer[i] >= int32_t(out.layers.size()))
      return invalid("operation " + std::to_string(i) + ": no layer " +
                     std::to_string(out.opLayer[i]));
  for (const LayerInfo &l : out.layers)
    if (l.endInsn > out.ops.size() || l.firstInsn > l.endInsn ||
        l.prefetchEnd > out.ops.size() || l.prefetchFirst > l.prefetchEnd)
      return invalid("layer '" + l.name +
                     "': its operation ranges exceed the program");
  return Status::ok();
}

} // namespace ember::accel
