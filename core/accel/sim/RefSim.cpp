// The reference simulator (RefSim.h): the values of every operation kind
// (Op.h's definitions over the description's memories), its timing and its
// checks.
#include "ember/accel/RefSim.h"

#include "Emit.h"

#include "ember/accel/Device.h"
#include "ember/accel/Op.h"
#include "ember/accel/Sync.h"
#include "ember/quant/Arith.h"
#include "ember/quant/Transformer.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <deque>
#include <limits>
#include <unordered_map>

namespace ember::accel {

namespace q = ember::quant;

namespace {

int32_t clampTo8(int32_t v, int32_t lo, int32_t hi) {
  return std::max(-128, std::min(127, std::max(lo, std::min(hi, v))));
}
int32_t clampTo16(int32_t v, int32_t lo, int32_t hi) {
  return std::max(q::kInt16Min,
                  std::min(q::kInt16Max, std::max(lo, std::min(hi, v))));
}
// A 16-bit value's stored bytes (Target::wide16): the low byte
// excess-128 and the high byte, and back.
int8_t wideLo(int32_t v) { return int8_t(uint8_t((v & 0xff) ^ 0x80)); }
int8_t wideHi(int32_t v) { return int8_t(v >> 8); }
int32_t wideValue(int8_t lo, int8_t hi) {
  return int32_t(hi) * 256 + int32_t(uint8_t(lo) ^ 0x80u);
}
// sum / 2^shift rounded half to even (Resize's rounding of an
// interpolated integer).
int32_t roundHalfEvenShift(int32_t sum, int shift) {
  const int32_t fl = sum >> shift, r = sum - fl * (int32_t(1) << shift),
                half = int32_t(1) << (shift - 1);
  return fl + ((r > half || (r == half && (fl & 1))) ? 1 : 0);
}
// Upsample along one axis: output x of an n-long axis by 2^k; mode 0
// nearest, 1 half_pixel, 2 asymmetric (weights summing to 2^(k+1)).
struct UpTaps {
  int64_t i0, i1;
  int32_t w0, w1;
};
UpTaps upTaps(int64_t x, int64_t n, int64_t k, int64_t mode) {
  const int64_t f = int64_t(1) << k, unit = 2 * f;
  if (mode == 0)
    return UpTaps{x >> k, x >> k, int32_t(unit), 0};
  const int64_t p = mode == 1 ? 2 * x + 1 - f : 2 * x;
  const int64_t i = p >= 0 ? p / unit : -((-p + unit - 1) / unit);
  const int64_t frac = p - i * unit;
  auto cl = [&](int64_t v) { return std::max<int64_t>(0, std::min(n - 1, v)); };
  return UpTaps{cl(i), cl(i + 1), int32_t(unit - frac), int32_t(frac)};
}

struct Signal {
  uint64_t at;              // the signalling op's end
  std::vector<uint32_t> vc; // its vector clock
};

const char *const kSignedFields[] = {"zp", "min", "max", "value"};

} // namespace

struct RefMachine::Impl {
  const Target &t;
  size_t E;
  std::vector<std::vector<uint8_t>> mems;
  std::vector<uint8_t> dram;
  std::vector<int32_t> regs;
  std::array<int8_t, 256> lut{};
  std::array<int16_t, q::kTable16Entries> lut16{};
  uint64_t constBytes = 0; // DRAM [0, constBytes): read-only, not tracked

  // The ordering check's shadows: per memory row and per DRAM granule (a
  // row of lanes bytes), the last writer (engine, epoch, op) and per engine
  // its last read (epoch, op).
  struct Shadow {
    std::vector<int32_t> wEng;
    std::vector<uint32_t> wEpoch, wOp, rEpoch, rOp;
    void grow(size_t n, size_t E) {
      wEng.resize(n, -1);
      wEpoch.resize(n, 0);
      wOp.resize(n, 0);
      rEpoch.resize(n * E, 0);
      rOp.resize(n * E, 0);
    }
  };
  std::vector<Shadow> shadows; // per memory, then DRAM
  std::unordered_map<uint64_t, uint32_t> dramUnit;
  uint64_t granule = 1;

  // The operation running now.
  size_t cur = 0;
  const Op *op = nullptr;
  const std::vector<Op> *prog = nullptr;
  uint64_t curStart = 0;
  const std::vector<uint32_t> *vc = nullptr;
  bool checkOrder = true;
  SimStats *st = nullptr;

  Impl(const Target &tg, uint64_t dramBytes) : t(tg), E(tg.engines.size()) {
    for (const Memory &m : t.memories)
      mems.emplace_back(size_t(m.rows * m.rowBytes), 0);
    dram.assign(size_t(dramBytes), 0);
    regs.assign(std::max<unsigned>(t.regCount, 1), 0);
    granule = uint64_t(std::max<int64_t>(t.lanes, 1));
  }

  std::string where(size_t i) const {
    const Op &o = (*prog)[i];
    const std::string eng = o.engine >= 0 && size_t(o.engine) < E
                                ? t.engines[size_t(o.engine)].name
                                : "no engine";
    return "operation " + std::to_string(i) + " (" + opKindName(o.kind) +
           " on " + eng + ")";
  }
  std::string domainName(int d) const {
    return size_t(d) < t.memories.size() ? t.memories[size_t(d)].name
                                         : std::string("DRAM");
  }

  // ---- storage ----
  uint8_t *row(int m, int64_t r) {
    return mems[size_t(m)].data() + size_t(r) * t.memories[size_t(m)].rowBytes;
  }
  int8_t &i8(int m, int64_t r, int64_t l) {
    return reinterpret_cast<int8_t &>(row(m, r)[l]);
  }
  int32_t i32(int m, int64_t r, int64_t l) {
    int32_t v;
    std::memcpy(&v, row(m, r) + 4 * l, 4);
    return v;
  }
  void setI32(int m, int64_t r, int64_t l, int32_t v) {
    std::memcpy(row(m, r) + 4 * l, &v, 4);
  }
  int64_t half(int m) const { return int64_t(t.memRows(m) / 2); }
  int32_t wide(int m, int64_t r, int64_t l) {
    return wideValue(i8(m, r, l), i8(m, r + half(m), l));
  }
  void setWide(int m, int64_t r, int64_t l, int32_t v) {
    i8(m, r, l) = wideLo(v);
    i8(m, r + half(m), l) = wideHi(v);
  }
  int32_t reg(Reg r) const {
    const int id = t.regs[size_t(r)];
    return id >= 0 && size_t(id) < regs.size() ? regs[size_t(id)] : 0;
  }
  int outM() const { return t.memOf(Cls::Out); }
  int32_t outAt(int64_t r, int64_t l, bool w16) {
    return w16 ? wide(outM(), r, l) : int32_t(i8(outM(), r, l));
  }
  // An Out result: an int8 (through the output table with `viaLut`) or an
  // int16 (w16).
  void writeOut(int64_t r, int64_t l, int32_t v, bool w16, bool viaLut) {
    if (w16)
      return setWide(outM(), r, l, v);
    const int8_t b = int8_t(v);
    i8(outM(), r, l) = viaLut ? lut[size_t(uint8_t(b) ^ 0x80u)] : b;
  }
  // A result clamped to [lo, hi] and to its width (int8, or int16 with w16)
  // written as writeOut does.
  void writeClamped(int64_t r, int64_t l, q::Int128 v, int32_t lo, int32_t hi,
                    bool w16, bool viaLut) {
    const int32_t v32 = int32_t(std::clamp<q::Int128>(v, INT32_MIN, INT32_MAX));
    writeOut(r, l, w16 ? clampTo16(v32, lo, hi) : clampTo8(v32, lo, hi), w16,
             viaLut);
  }

  // ---- checks ----
  Status checkFields() const {
    const Op &o = *op;
    if (!t.has(o.kind))
      return unsupported(std::string("the target has no '") +
                         opKindName(o.kind) + "'");
    // SetReg and Finish run on any engine (a register's own, the last).
    const bool anyEngine = o.kind == OpKind::SetReg || o.kind == OpKind::Finish;
    if (o.kind != OpKind::Finish &&
        (o.engine < 0 || size_t(o.engine) >= E ||
         (!anyEngine && !t.engines[size_t(o.engine)].runsKind(o.kind))))
      return invalid("its engine does not run it");
    const OpDesc &d = t.ops[size_t(o.kind)];
    for (const OpField &f : opFields(o.kind)) {
      const int64_t v = o.*f.member, mx = d.max(f.name);
      bool sgn = false;
      for (const char *s : kSignedFields)
        sgn = sgn || std::strcmp(s, f.name) == 0;
      const int64_t lo =
          sgn ? (mx == INT64_MAX ? INT64_MIN : -(mx / 2) - 1) : 0;
      if (v < lo || v > mx)
        return invalid(std::string("field ") + f.name + " = " +
                       std::to_string(v) + " is out of its declared range [" +
                       std::to_string(lo) + ", " + std::to_string(mx) + "]");
    }
    if ((o.kind == OpKind::Load || o.kind == OpKind::Store) &&
        (o.mem < 0 || size_t(o.mem) >= t.memories.size() ||
         !t.memories[size_t(o.mem)].holdsCls(o.cls)))
      return invalid(std::string("memory ") + std::to_string(o.mem) +
                     " does not hold class " + clsName(o.cls));
    if (o.kind == OpKind::SetReg && (o.reg < 0 || o.reg >= int64_t(t.regCount)))
      return invalid("register " + std::to_string(o.reg) +
                     " is beyond the target's " + std::to_string(t.regCount));
    return Status::ok();
  }

  uint32_t unitOf(int d, uint64_t u) {
    if (size_t(d) < t.memories.size())
      return uint32_t(u);
    auto it = dramUnit.find(u);
    if (it != dramUnit.end())
      return it->second;
    const uint32_t k = uint32_t(dramUnit.size());
    dramUnit.emplace(u, k);
    shadows.back().grow(size_t(k) + 1, E);
    return k;
  }

  // The ordering check of one access: [lo, hi) rows of memory d (bytes of
  // DRAM when d is the memory count).
  Status touch(int d, uint64_t lo, uint64_t hi, bool write) {
    if (!checkOrder || hi <= lo)
      return Status::ok();
    const bool isDram = size_t(d) >= t.memories.size();
    if (isDram) {
      if (!write && hi <= constBytes)
        return Status::ok();
      lo = lo / granule;
      hi = (hi + granule - 1) / granule;
    }
    Shadow &s = shadows[size_t(d)];
    const size_t e = size_t(op->engine);
    const std::vector<uint32_t> &V = *vc;
    for (uint64_t u0 = lo; u0 < hi; ++u0) {
      const uint32_t u = unitOf(d, u0);
      const int32_t we = s.wEng[u];
      auto unit = [&](uint64_t x) {
        return isDram ? "DRAM bytes [" + std::to_string(x * granule) + ", " +
                            std::to_string((x + 1) * granule) + ")"
                      : "row " + std::to_string(x) + " of " + domainName(d);
      };
      if (we >= 0 && size_t(we) != e && s.wEpoch[u] > V[size_t(we)])
        return invalid(
            std::string(write ? "writes " : "reads ") + unit(u0) + " that " +
            where(s.wOp[u]) + " writes, with no signal ordering them (" +
            (write ? "two writes" : "a read before its producer's signal") +
            ")");
      if (write)
        for (size_t f = 0; f < E; ++f)
          if (f != e && s.rEpoch[u * E + f] > V[f])
            return invalid(
                "writes " + unit(u0) + " that " + where(s.rOp[u * E + f]) +
                " may still read (no signal orders the write after the "
                "read)");
    }
    for (uint64_t u0 = lo; u0 < hi; ++u0) {
      const uint32_t u = unitOf(d, u0);
      if (write) {
        s.wEng[u] = int32_t(e);
        s.wEpoch[u] = V[e];
        s.wOp[u] = uint32_t(cur);
        std::fill(s.rEpoch.begin() + long(u * E),
                  s.rEpoch.begin() + long(u * E + E), 0u);
      } else {
        s.rEpoch[u * E + e] = V[e];
        s.rOp[u * E + e] = uint32_t(cur);
      }
    }
    return Status::ok();
  }

  // The memory rows of the op (Op.h's accesses): in range, and ordered.
  Status memAccesses() {
    std::vector<Access> acc;
    accesses(t, *op, regs.data(), acc);
    const int nd = int(t.memories.size());
    for (const Access &a : acc) {
      if (a.domain < 0 || a.domain >= nd)
        continue; // DRAM: checked line by line as it moves
      if (a.hi > t.memRows(a.domain) || a.lo > a.hi)
        return invalid(std::string(a.write ? "writes" : "reads") + " rows [" +
                       std::to_string(a.lo) + ", " + std::to_string(a.hi) +
                       ") of " + domainName(a.domain) + ", beyond its " +
                       std::to_string(t.memRows(a.domain)) + " rows");
    }
    for (const Access &a : acc)
      if (a.domain >= 0 && a.domain < nd) {
        EMBER_TRY(touch(a.domain, a.lo, a.hi, a.write));
      }
    return Status::ok();
  }

  Status dramRange(uint64_t lo, uint64_t n, bool write) {
    if (lo > dram.size() || n > dram.size() - lo)
      return invalid(std::string(write ? "writes" : "reads") + " DRAM bytes [" +
                     std::to_string(lo) + ", " + std::to_string(lo + n) +
                     "), beyond the DRAM's " + std::to_string(dram.size()));
    return touch(int(t.memories.size()), lo, lo + n, write);
  }

  // ---- DMA ----
  int64_t dmaRowBytes() const {
    return t.clsRowBytes(op->cls) * (op->w16 ? 2 : 1);
  }
  Status load() {
    const Op &o = *op;
    const int m = o.mem;
    const int64_t rb = dmaRowBytes(), w = o.padLeft + o.xsize + o.padRight,
                  h = o.padTop + o.ysize + o.padBottom;
    for (int64_t y = 0; y < o.ysize; ++y) {
      EMBER_TRY(dramRange(uint64_t(o.dram + y * o.stride * rb),
                          uint64_t(o.xsize * rb), false));
    }
    const int32_t pad = reg(Reg::PadValue);
    const bool wideCls = o.cls == Cls::Acc || o.cls == Cls::Param;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y - o.padTop, sx = x - o.padLeft,
                      r = o.row + y * w + x;
        const bool data = sy >= 0 && sy < o.ysize && sx >= 0 && sx < o.xsize;
        const uint8_t *src =
            data ? &dram[size_t(o.dram + (sy * o.stride + sx) * rb)] : nullptr;
        if (o.w16) {
          for (int64_t l = 0; l < t.lanes; ++l)
            setWide(m, r, l,
                    data ? int32_t(int16_t(
                               uint16_t(src[2 * l] | (src[2 * l + 1] << 8))))
                         : int32_t(int16_t(pad & 0xffff)));
        } else if (data) {
          std::memcpy(row(m, r), src, size_t(rb));
        } else if (wideCls) {
          for (int64_t l = 0; l < t.lanes; ++l)
            setI32(m, r, l, pad);
        } else {
          std::memset(row(m, r), pad & 0xff, size_t(rb));
        }
      }
    st->loadBytes += uint64_t(o.ysize * o.xsize * rb);
    return Status::ok();
  }

  Status store() {
    const Op &o = *op;
    const int m = o.mem;
    const int64_t rb = dmaRowBytes(), r = o.rep + 1, s = o.xstep + 1;
    const int64_t eb = rb / std::max<int64_t>(t.lanes, 1);
    for (int64_t oy = 0; oy < o.ysize * r; ++oy)
      for (int64_t ox = 0; ox < o.xsize * r; ++ox) {
        const int64_t at = o.dram + (oy * o.stride + ox * s) * rb;
        EMBER_TRY(dramRange(uint64_t(at), uint64_t(rb), true));
        const int64_t src = o.row + (oy / r) * o.xsize + ox / r;
        for (int64_t l = 0; l < t.lanes; ++l) {
          if (o.lanes && !((o.lanes >> (l / 8)) & 1))
            continue;
          uint8_t *d = &dram[size_t(at + l * eb)];
          if (o.w16) {
            const int32_t v = wide(m, src, l);
            d[0] = uint8_t(v & 0xff);
            d[1] = uint8_t((v >> 8) & 0xff);
          } else {
            std::memcpy(d, row(m, src) + l * eb, size_t(eb));
          }
        }
        st->storeBytes += uint64_t(rb);
      }
    return Status::ok();
  }

  void copy() {
    const Op &o = *op;
    const int actM = t.memOf(Cls::Act);
    const int64_t r = o.rep + 1, w = o.padLeft + o.xsize * r + o.padRight,
                  h = o.padTop + o.ysize * r + o.padBottom;
    const int32_t pad = reg(Reg::PadValue);
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const int64_t sy = y - o.padTop, sx = x - o.padLeft;
        const bool data =
            sy >= 0 && sy < o.ysize * r && sx >= 0 && sx < o.xsize * r;
        const int64_t src = o.src + (sy / r) * o.stride + sx / r,
                      dst = o.dst + y * w + x;
        for (int64_t l = 0; l < t.lanes; ++l) {
          if (o.w16)
            setWide(actM, dst, l,
                    data ? wide(outM(), src, l)
                         : int32_t(int16_t(pad & 0xffff)));
          else
            i8(actM, dst, l) = data ? i8(outM(), src, l) : int8_t(pad & 0xff);
        }
      }
  }

  // ---- the array ----
  void gemmPlane(int64_t actOff, int64_t accOff) {
    const Op &o = *op;
    const int actM = t.memOf(Cls::Act), wgtM = t.memOf(Cls::Wgt),
              accM = t.memOf(Cls::Acc);
    const int64_t L = t.lanes;
    for (int64_t oo = 0; oo < o.outer; ++oo)
      for (int64_t i = 0; i < o.inner; ++i) {
        const int64_t ar = actOff + o.act + oo * o.actOstride + i,
                      cr = accOff + o.acc + oo * o.accOstride + i;
        for (int64_t j = 0; j < L; ++j) {
          int32_t sum = 0;
          for (int64_t k = 0; k < L; ++k)
            sum += int32_t(i8(actM, ar, k)) * int32_t(i8(wgtM, o.wgt + j, k));
          setI32(accM, cr, j,
                 o.reset ? sum : q::wrapAdd(i32(accM, cr, j), sum));
        }
      }
  }

  void dwgemmPlane(int64_t actOff, int64_t accOff, bool bias) {
    const Op &o = *op;
    const int actM = t.memOf(Cls::Act), wgtM = t.memOf(Cls::Wgt),
              accM = t.memOf(Cls::Acc);
    const int64_t L = t.lanes;
    for (int64_t oo = 0; oo < o.outer; ++oo)
      for (int64_t i = 0; i < o.inner; ++i) {
        const int64_t ar = actOff + o.act + oo * o.actOstride + i * o.stride,
                      cr = accOff + o.acc + oo * o.accOstride + i;
        for (int64_t j = 0; j < L; ++j) {
          int32_t sum = 0;
          for (int64_t k = 0; k < o.taps; ++k)
            sum +=
                int32_t(i8(actM, ar + k, j)) * int32_t(i8(wgtM, o.wgt + j, k));
          if (bias) {
            uint32_t b = 0;
            for (int64_t k = 0; k < 4; ++k)
              b |= uint32_t(uint8_t(i8(wgtM, o.wgt + j, L - 4 + k))) << (8 * k);
            sum = q::wrapAdd(sum, int32_t(b));
          }
          setI32(accM, cr, j,
                 o.reset ? sum : q::wrapAdd(i32(accM, cr, j), sum));
        }
      }
  }

  void array() {
    const Op &o = *op;
    const int planes = o.w16 ? 2 : 1;
    for (int p = 0; p < planes; ++p) {
      const int64_t actOff = p ? half(t.memOf(Cls::Act)) : 0,
                    accOff = p ? half(t.memOf(Cls::Acc)) : 0;
      if (o.kind == OpKind::Gemm)
        gemmPlane(actOff, accOff);
      else
        dwgemmPlane(actOff, accOff, o.bias && p == 0);
    }
    st->arrayRows += uint64_t(streamedRows(o));
  }

  // ---- the vector unit ----
  void requant() {
    const Op &o = *op;
    const int accM = t.memOf(Cls::Acc), pm = t.memOf(Cls::Param);
    const int32_t lo = o.out16 ? reg(Reg::Rq16Min) : int32_t(o.min),
                  hi = o.out16 ? reg(Reg::Rq16Max) : int32_t(o.max);
    for (int64_t i = 0; i < o.rows; ++i)
      for (int64_t l = 0; l < t.lanes; ++l) {
        const int32_t mult = i32(pm, o.param, l), sh = i32(pm, o.param + 1, l);
        int32_t x = i32(accM, o.src + i, l), r;
        if (o.acc16) {
          int64_t b = 0;
          if (o.bias)
            b = int64_t(uint64_t(uint32_t(i32(pm, o.param + 2 + half(pm), l)))
                            << 32 |
                        uint64_t(uint32_t(i32(pm, o.param + 2, l))));
          const int64_t x16 =
              int64_t(i32(accM, o.src + i + half(accM), l)) * 256 + x + b;
          r = q::mbqm64(x16, mult, sh);
        } else {
          if (o.bias)
            x = q::wrapAdd(x, i32(pm, o.param + 2, l));
          r = q::mbqm(x, mult, sh);
        }
        r = q::wrapAdd(r, int32_t(o.zp));
        writeClamped(o.dst + i, l, r, lo, hi, o.out16, o.lut);
      }
  }

  q::AddParams addParams() const {
    q::AddParams p;
    p.leftShift = reg(Reg::AddLshift) & 31;
    p.aZp = reg(Reg::AddAZp);
    p.bZp = reg(Reg::AddBZp);
    p.yZp = reg(Reg::AddOutZp);
    p.a = {reg(Reg::AddAMult), reg(Reg::AddAShift)};
    p.b = {reg(Reg::AddBMult), reg(Reg::AddBShift)};
    p.y = {reg(Reg::AddOutMult), reg(Reg::AddOutShift)};
    p.lo = reg(Reg::AddMin);
    p.hi = reg(Reg::AddMax);
    return p;
  }

  q::AddFixed addFixed() const {
    q::AddFixed p;
    auto m48 = [&](Reg lo, Reg hi) {
      return int64_t(uint64_t(uint16_t(uint32_t(reg(hi)))) << 32 |
                     uint64_t(uint32_t(reg(lo))));
    };
    p.aMult = m48(Reg::AddXAMult, Reg::AddXAMultHi);
    p.bMult = m48(Reg::AddXBMult, Reg::AddXBMultHi);
    p.offset = int64_t(uint64_t(uint32_t(reg(Reg::AddXOffsetHi))) << 32 |
                       uint64_t(uint32_t(reg(Reg::AddXOffsetLo))));
    p.shift = reg(Reg::AddXShift);
    p.aLowest = p.bLowest = -128;
    p.lo = std::numeric_limits<int32_t>::min();
    p.hi = std::numeric_limits<int32_t>::max();
    return p;
  }

  void vadd() {
    const Op &o = *op;
    const size_t L = size_t(t.lanes), n = size_t(o.rows) * L;
    std::vector<int32_t> a(n), b(n);
    for (size_t e = 0; e < n; ++e) {
      a[e] = outAt(o.a + int64_t(e / L), int64_t(e % L), o.w16);
      b[e] = outAt(o.b + int64_t(e / L), int64_t(e % L), o.w16);
    }
    const q::AddParams p = addParams();
    const q::AddFixed x = addFixed();
    for (size_t e = 0; e < n; ++e) {
      int32_t v;
      if (o.w16)
        v = clampTo16(q::quantizedAdd16(a[e], b[e], p), q::kInt16Min,
                      q::kInt16Max);
      else if (o.exact)
        v = clampTo8(q::addFixed(a[e], b[e], x), p.lo, p.hi);
      else
        v = clampTo8(q::quantizedAdd(a[e], b[e], p), -128, 127);
      writeOut(o.dst + int64_t(e / L), int64_t(e % L), v, o.w16, o.lut);
    }
  }

  Status pool() {
    const Op &o = *op;
    const int64_t kh = reg(Reg::PoolKh), kw = reg(Reg::PoolKw),
                  s = reg(Reg::PoolStride), inW = reg(Reg::PoolInW),
                  outW = reg(Reg::PoolOutW);
    if (kh < 1 || kw < 1 || s < 1 || inW < 1 || outW < 1)
      return invalid("the pool registers (kh " + std::to_string(kh) + ", kw " +
                     std::to_string(kw) + ", stride " + std::to_string(s) +
                     ", in_w " + std::to_string(inW) + ", out_w " +
                     std::to_string(outW) + ") must each be at least 1");
    // (accesses() bounded the span by the memory, else took all of it.)
    const size_t L = size_t(t.lanes);
    const int32_t lowest = o.w16 ? q::kInt16Min : -128;
    for (int64_t i = 0; i < o.rows; ++i)
      for (size_t l = 0; l < L; ++l) {
        int64_t acc = o.avg ? 0 : lowest;
        for (int64_t ky = 0; ky < kh; ++ky)
          for (int64_t kx = 0; kx < kw; ++kx) {
            const int64_t r =
                o.src + ((i / outW) * s + ky) * inW + (i % outW) * s + kx;
            if (r < 0 || uint64_t(r) >= t.memRows(outM()))
              return invalid("the pool window of output row " +
                             std::to_string(i) + " reads row " +
                             std::to_string(r) + ", beyond " +
                             domainName(outM()));
            const int32_t v = outAt(r, int64_t(l), o.w16);
            acc = o.avg ? acc + v : std::max<int64_t>(acc, v);
          }
        // A maximum is a stored value, within its width already.
        writeClamped(o.dst + i, int64_t(l),
                     o.avg ? q::averageHalfUp(acc, kh * kw) : acc, INT32_MIN,
                     INT32_MAX, o.w16, o.lut);
      }
    return Status::ok();
  }

  void lutld() {
    const Op &o = *op;
    const int pm = t.memOf(Cls::Param);
    const int64_t prb = t.clsRowBytes(Cls::Param);
    auto byte = [&](int64_t k) { return row(pm, o.src + k / prb)[k % prb]; };
    if (o.w16)
      for (size_t e = 0; e < lut16.size(); ++e)
        lut16[e] = int16_t(
            uint16_t(byte(int64_t(2 * e)) | (byte(int64_t(2 * e + 1)) << 8)));
    else
      for (size_t e = 0; e < lut.size(); ++e)
        lut[e] = int8_t(byte(int64_t(e)));
  }

  void lutOp() {
    const Op &o = *op;
    const size_t L = size_t(t.lanes), n = size_t(o.rows) * L;
    std::vector<int32_t> src(n);
    for (size_t e = 0; e < n; ++e)
      src[e] = outAt(o.src + int64_t(e / L), int64_t(e % L), o.w16);
    for (size_t e = 0; e < n; ++e)
      writeOut(o.dst + int64_t(e / L), int64_t(e % L),
               o.w16 ? q::tableLookup16(src[e], lut16.data()) : src[e], o.w16,
               !o.w16);
  }

  void vmul() {
    const Op &o = *op;
    const size_t L = size_t(t.lanes), n = size_t(o.rows) * L;
    std::vector<int32_t> a(n), b(n);
    for (size_t e = 0; e < n; ++e) {
      a[e] = outAt(o.a + int64_t(e / L), int64_t(e % L), o.a16);
      if (!o.one)
        b[e] =
            outAt(o.b + (o.bcast ? 0 : int64_t(e / L)), int64_t(e % L), o.b16);
    }
    auto zp = [](int32_t r, bool w16) {
      return w16 ? int32_t(int16_t(r & 0xffff)) : int32_t(int8_t(r & 0xff));
    };
    const int32_t za = zp(reg(Reg::MulAZp), o.a16),
                  zb = zp(reg(Reg::MulBZp), o.b16), lo = reg(Reg::MulMin),
                  hi = reg(Reg::MulMax);
    for (size_t e = 0; e < n; ++e) {
      const int64_t da = a[e] - za, db = o.one ? 1 : b[e] - zb;
      const int32_t prod = int32_t(uint32_t(uint64_t(da * db)));
      const int32_t r =
          q::wrapAdd(q::mbqm(prod, reg(Reg::MulMult), reg(Reg::MulShift)),
                     reg(Reg::MulOutZp));
      writeClamped(o.dst + int64_t(e / L), int64_t(e % L), r, lo, hi, o.out16,
                   o.lut);
    }
  }

  void upsample() {
    const Op &o = *op;
    const size_t L = size_t(t.lanes);
    const int64_t f = int64_t(1) << o.factor, ow = f * o.upW;
    std::vector<int32_t> src(size_t(o.upH * o.upW) * L);
    for (size_t e = 0; e < src.size(); ++e)
      src[e] = outAt(o.src + int64_t(e / L), int64_t(e % L), o.w16);
    const int32_t zp = int32_t(o.zp);
    for (int64_t r = 0; r < o.oh; ++r) {
      const UpTaps ty = upTaps(o.oy + r, o.upH, o.factor, o.mode);
      for (int64_t x = 0; x < ow; ++x) {
        const UpTaps tx = upTaps(x, o.upW, o.factor, o.mode);
        const int32_t wy[2] = {ty.w0, ty.w1}, wx[2] = {tx.w0, tx.w1};
        for (size_t l = 0; l < L; ++l) {
          int32_t sum = 0;
          for (int a = 0; a < 2; ++a)
            for (int b = 0; b < 2; ++b)
              sum += wy[a] * wx[b] *
                     (src[size_t(((a ? ty.i1 : ty.i0) * o.upW +
                                  (b ? tx.i1 : tx.i0))) *
                              L +
                          l] -
                      zp);
          const int32_t v = zp + roundHalfEvenShift(sum, int(2 * o.factor + 2));
          writeClamped(o.dst + r * ow + x, int64_t(l), v, INT32_MIN, INT32_MAX,
                       o.w16, o.lut);
        }
      }
    }
  }

  // ---- the integer normalization (quant::integerNormRow's steps) ----
  // What the hardware refuses of them (beyond the fields' ranges and the
  // rows' bounds, which every op has checked).
  Status normRules() const {
    const Op &o = *op;
    if (o.kind == OpKind::VReduce) {
      if (o.rows < 1 || o.len < 1)
        return invalid("rows and len must be at least 1");
      if (o.sq && o.sum)
        return invalid("sum and sq are exclusive");
      if (o.center && !o.sq)
        return invalid("center needs sq");
      if (o.exp && (o.sum || o.sq))
        return invalid("exp excludes sum and sq");
      if (o.last > t.lanes)
        return invalid("last = " + std::to_string(o.last) +
                       " is beyond the row's " + std::to_string(t.lanes) +
                       " lanes");
    }
    if (o.kind == OpKind::RScalar) {
      if (o.rows < 1)
        return invalid("rows must be at least 1");
      // Each row's scalar is read before it is written: in place or apart.
      if (o.dst != o.src && o.dst < o.src + o.rows && o.src < o.dst + o.rows)
        return invalid("dst rows must be src's rows or apart from them");
    }
    if (o.kind == OpKind::VRowMul || o.kind == OpKind::VRowExp) {
      if (o.rows < 1 || o.stride < 1)
        return invalid("rows and stride must be at least 1");
      if (o.dst == o.src && o.w16 == o.out16)
        return Status::ok();
      // Apart: no out row written (a 16-bit row is two) is one read.
      const int64_t span = (o.rows - 1) * o.stride + 1, h = half(outM());
      for (int64_t a : {int64_t(0), o.w16 ? h : int64_t(0)})
        for (int64_t b : {int64_t(0), o.out16 ? h : int64_t(0)})
          if (o.dst + b < o.src + a + span && o.src + a < o.dst + b + span)
            return invalid(
                "dst rows must be src's rows (same width) or apart from them");
    }
    return Status::ok();
  }

  // D: n x - s (center, LayerNorm) or x - x_zp (RMSNorm).
  int64_t deviation(int32_t x, bool center, int32_t sum) const {
    return center ? int64_t(reg(Reg::RowN)) * x - sum
                  : int64_t(x) - reg(Reg::RowXZp);
  }

  // The softmax's exponential of x against its row's maximum m (Q23):
  // integerSoftmaxRow's e_j with the row_sm_in registers' multiplier.
  int32_t softmaxExp(int32_t x, int32_t m) const {
    const int32_t u = q::mbqm(q::wrapSub(x, m), reg(Reg::RowSmInMult),
                              reg(Reg::RowSmInShift));
    return q::exp2NegQ23(std::max(u, -(q::kSoftmaxMaxExp << 16)));
  }

  void vreduce() {
    const Op &o = *op;
    const int accM = t.memOf(Cls::Acc);
    const q::UInt128 mask = (q::UInt128(1) << 96) - 1;
    for (int64_t g = 0; g < o.rows; ++g) {
      // sq: the sums of squares start at epsilon; with center the group's
      // sum is its result row's (a vreduce sum's) before. exp: the sum of
      // exponentials starts at 0, against the group's maximum there.
      const int32_t sum = i32(accM, o.dst + g, 0);
      q::UInt128 w =
          o.exp ? 0
                : q::UInt128(uint64_t(uint32_t(reg(Reg::RowEpsLo))) |
                             uint64_t(uint32_t(reg(Reg::RowEpsHi))) << 32);
      int32_t acc = 0;
      bool first = true;
      for (int64_t k = 0; k < o.len; ++k) {
        const int64_t lanes = k + 1 == o.len && o.last ? o.last : t.lanes;
        const int64_t r = o.src + g * o.gstride + k * o.kstride;
        for (int64_t l = 0; l < lanes; ++l) {
          const int32_t x = outAt(r, l, o.w16);
          if (o.sq) {
            const q::Int128 d = deviation(x, o.center, sum);
            w = (w + q::UInt128(d * d)) & mask;
          }
          if (o.exp)
            w = (w + q::UInt128(uint32_t(softmaxExp(x, sum)))) & mask;
          acc = first ? x : o.sum ? q::wrapAdd(acc, x) : std::max(acc, x);
          first = false;
        }
      }
      for (int64_t l = 0; l < t.lanes; ++l)
        setI32(accM, o.dst + g, l,
               !o.sq && !o.exp   ? acc
               : l < 3           ? int32_t(uint32_t(uint64_t(w >> (32 * l))))
               : l == 3 && o.exp ? sum
                                 : 0);
    }
  }

  // The reciprocal (r * 2^(-24 - p), the 16 bits after the leading one
  // into the 1/x table) or the reciprocal square root (R * 2^(-86 + s/2),
  // s the leading zeros rounded down to even) of each 96-bit row.
  void rscalar() {
    const Op &o = *op;
    const int accM = t.memOf(Cls::Acc);
    const q::TransformerTables &tb = q::transformerTables();
    for (int64_t g = 0; g < o.rows; ++g) {
      q::UInt128 v = 0;
      for (int l = 2; l >= 0; --l)
        v = v << 32 | q::UInt128(uint32_t(i32(accM, o.src + g, l)));
      int32_t value = 0, shift = 0;
      if (v != 0) {
        const int lz = q::clz128(v);
        if (!o.rsqrt) {
          const uint64_t f = uint64_t((v << lz) >> 111) & 0xFFFF;
          value = int32_t(
              q::interpTable(tb.recip.data(), int(f >> 8), int(f & 255)));
          shift = 127 - lz;
        } else {
          shift = lz & ~1;
          const q::UInt128 m = v << shift;
          value = int32_t(q::interpTable(tb.rsqrt.data(),
                                         int(uint64_t(m >> 119) - 128),
                                         int(uint64_t(m >> 111) & 255)));
        }
      }
      for (int64_t l = 0; l < t.lanes; ++l)
        setI32(accM, o.dst + g, l, l == 0 ? value : l == 1 ? shift : 0);
    }
  }

  // integerNormRow's last three lines, per row and lane: D R mult floored
  // by 101 - s/2 - shift, plus the Q16 bias, rounded half up by 16 bits.
  void vrowmul() {
    const Op &o = *op;
    const int accM = t.memOf(Cls::Acc);
    const int32_t zp = reg(Reg::RowOutZp), lo = reg(Reg::RowMin),
                  hi = reg(Reg::RowMax);
    for (int64_t g = 0; g < o.rows; ++g) {
      const int64_t at = g * o.stride;
      const int32_t r = i32(accM, o.scal + g, 0), s = i32(accM, o.scal + g, 1),
                    sum = i32(accM, o.sumRow + g, 0);
      for (int64_t l = 0; l < t.lanes; ++l) {
        const int64_t d = deviation(outAt(o.src + at, l, o.w16), o.center, sum);
        const int32_t mult = i32(accM, o.param, l),
                      sh = std::clamp(i32(accM, o.param + 1, l), -31, 30);
        const int64_t bias =
            int64_t(uint64_t(uint32_t(i32(accM, o.param + 2, l))) |
                    uint64_t(uint32_t(i32(accM, o.param + 3, l))) << 32);
        const int64_t k = 101 - int64_t(s >> 1) - sh;
        const q::Int128 x = q::floorShift(q::Int128(d) * r * mult,
                                          int(std::clamp<int64_t>(k, 0, 127))) +
                            bias;
        writeClamped(o.dst + at, l, q::roundShift(x, 16) + zp, lo, hi, o.out16,
                     false);
      }
    }
  }

  // integerSoftmaxRow's last line, per row and lane: the exponential (as
  // vreduce exp's, m lane 3 of acc row sumRow + g) times r (lane 0 of acc
  // row scal + g) and the output's multiplier, rounded half up by 55 + p
  // (lane 1) - its shift. A p that no rscalar writes (the shift below 1)
  // rounds by 1 bit: the interface leaves it open.
  void vrowexp() {
    const Op &o = *op;
    const int accM = t.memOf(Cls::Acc);
    const int32_t zp = reg(Reg::RowOutZp), lo = reg(Reg::RowMin),
                  hi = reg(Reg::RowMax), mult = reg(Reg::RowSmOutMult),
                  sh = std::clamp(reg(Reg::RowSmOutShift), -31, 30);
    for (int64_t g = 0; g < o.rows; ++g) {
      const int64_t at = g * o.stride;
      const int32_t r = i32(accM, o.scal + g, 0),
                    m = i32(accM, o.sumRow + g, 3);
      const int k = int(std::clamp<int64_t>(
          55 + int64_t(i32(accM, o.scal + g, 1)) - sh, 1, 126));
      for (int64_t l = 0; l < t.lanes; ++l) {
        const int32_t e = softmaxExp(outAt(o.src + at, l, o.w16), m);
        writeClamped(o.dst + at, l,
                     q::roundShift(q::Int128(e) * r * mult, k) + zp, lo, hi,
                     o.out16, false);
      }
    }
  }

  // Executes the current op whole, or says what went wrong.
  Status execute() {
    EMBER_TRY(normRules());
    EMBER_TRY(memAccesses());
    switch (op->kind) {
    case OpKind::Load:
      return load();
    case OpKind::Store:
      return store();
    case OpKind::Copy:
      copy();
      return Status::ok();
    case OpKind::Gemm:
    case OpKind::DwGemm:
      array();
      return Status::ok();
    case OpKind::Requant:
      requant();
      return Status::ok();
    case OpKind::VAdd:
      vadd();
      return Status::ok();
    case OpKind::Pool:
      return pool();
    case OpKind::SetReg:
      regs[size_t(op->reg)] = int32_t(op->value);
      return Status::ok();
    case OpKind::Finish:
      return Status::ok();
    case OpKind::LutLd:
      lutld();
      return Status::ok();
    case OpKind::VMul:
      vmul();
      return Status::ok();
    case OpKind::Upsample:
      upsample();
      return Status::ok();
    case OpKind::Lut:
      lutOp();
      return Status::ok();
    case OpKind::VReduce:
      vreduce();
      return Status::ok();
    case OpKind::RScalar:
      rscalar();
      return Status::ok();
    case OpKind::VRowMul:
      vrowmul();
      return Status::ok();
    case OpKind::VRowExp:
      vrowexp();
      return Status::ok();
    }
    return invalid("unknown operation");
  }

  // ---- timing ----
  struct Timing {
    uint64_t dramFree = 0;
    double bw = 16;
    uint64_t latency = 64;
  };

  // The end of the current op started at `s`.
  uint64_t endOf(Timing &tm, uint64_t s) {
    const Op &o = *op;
    auto ceilDivU = [](double a, double b) {
      return uint64_t(std::ceil(a / std::max(b, 1e-9)));
    };
    switch (o.kind) {
    case OpKind::Load:
    case OpKind::Store: {
      const int64_t rep = o.kind == OpKind::Store ? o.rep + 1 : 1;
      const uint64_t dramRows = uint64_t(o.ysize * o.xsize * rep * rep);
      const uint64_t memRows =
          o.kind == OpKind::Load ? uint64_t((o.padTop + o.ysize + o.padBottom) *
                                            (o.padLeft + o.xsize + o.padRight))
                                 : uint64_t(o.ysize * o.xsize);
      const uint64_t bytes = dramRows * uint64_t(dmaRowBytes());
      const uint64_t req = s + t.dma.issueOverhead + tm.latency;
      const uint64_t data = std::max(req, tm.dramFree);
      st->dramStall += data - req;
      const uint64_t xfer = ceilDivU(double(bytes), tm.bw);
      tm.dramFree = data + xfer;
      return data +
             std::max(xfer, ceilDivU(double(memRows), t.dma.rowsPerCycle));
    }
    case OpKind::Copy:
      return s + t.dma.issueOverhead +
             ceilDivU(double((o.padTop + o.ysize * (o.rep + 1) + o.padBottom) *
                             (o.padLeft + o.xsize * (o.rep + 1) + o.padRight)),
                      t.dma.rowsPerCycle);
    case OpKind::Gemm:
    case OpKind::DwGemm: {
      uint64_t c = gemmCycles(t, streamedRows(o));
      return s + c;
    }
    case OpKind::Requant:
    case OpKind::VAdd:
    case OpKind::VMul:
      return s + vectorCycles(t, o.rows);
    case OpKind::Lut:
      if (o.w16 && t.vector.lut16LanesPerCycle)
        return s +
               uint64_t(ceilDiv(o.rows * t.lanes,
                                int64_t(t.vector.lut16LanesPerCycle))) +
               t.vector.issueOverhead;
      return s + vectorCycles(t, o.rows);
    case OpKind::Pool:
      return s +
             vectorCycles(t, o.rows * std::max<int64_t>(reg(Reg::PoolKh), 1) *
                                 std::max<int64_t>(reg(Reg::PoolKw), 1));
    case OpKind::Upsample:
      return s + vectorCycles(t, o.oh * (int64_t(1) << o.factor) * o.upW);
    case OpKind::LutLd:
      return s + vectorCycles(t, o.w16 ? t.lut16Rows() : t.lutRows());
    // One source row a cycle (vreduce, its exp form too), one scalar a cycle
    // (rscalar); the row multiplies (vrowmul, vrowexp) take a cycle more.
    case OpKind::VReduce:
      return s + vectorCycles(t, o.rows * o.len);
    case OpKind::RScalar:
      return s + vectorCycles(t, o.rows);
    case OpKind::VRowMul:
    case OpKind::VRowExp:
      return s + vectorCycles(t, o.rows + 1);
    case OpKind::SetReg:
      return s + 1;
    case OpKind::Finish:
      return s;
    }
    return s;
  }

  Status run(const std::vector<Op> &ops, const SimOptions &o, SimStats &stats);
};

Status RefMachine::Impl::run(const std::vector<Op> &ops, const SimOptions &o,
                             SimStats &stats) {
  prog = &ops;
  st = &stats;
  checkOrder = o.checkOrder;
  stats = SimStats();
  stats.busy.assign(E, 0);
  stats.stall.assign(E, 0);
  stats.spans.assign(ops.size(), {0, 0});
  shadows.assign(t.memories.size() + 1, Shadow());
  for (size_t m = 0; m < t.memories.size(); ++m)
    shadows[m].grow(size_t(t.memRows(int(m))), E);
  dramUnit.clear();
  if (ops.empty() || ops.back().kind != OpKind::Finish)
    return invalid("the program does not end with finish");
  Timing tm;
  const uint32_t bw = o.bytesPerCycle ? o.bytesPerCycle : t.dram.bytesPerCycle;
  tm.bw =
      double(std::min<uint32_t>(std::max<uint32_t>(bw, 1), t.dma.beatBytes));
  tm.latency = uint64_t(std::max<int64_t>(
                   o.latency >= 0 ? o.latency : int64_t(t.dram.latency), 1)) +
               t.dma.turnaround;
  // Queues per engine (Finish, which has none, drains them all: last).
  std::vector<std::vector<size_t>> queue(E);
  for (size_t i = 0; i + 1 < ops.size(); ++i) {
    const Op &x = ops[i];
    if (x.engine < 0 || size_t(x.engine) >= E) {
      cur = i;
      return invalid(where(i) + ": no engine " + std::to_string(x.engine));
    }
    queue[size_t(x.engine)].push_back(i);
  }
  const bool tokens = t.sync.kind == SyncKind::Tokens;
  const size_t bits = tokens ? E * E : t.sync.barriers;
  const size_t depth = t.sync.depth;
  std::vector<std::deque<Signal>> chan(std::min<size_t>(bits, 32));
  std::vector<uint64_t> signals(chan.size(), 0);
  std::vector<std::vector<uint64_t>> pops(chan.size()); // each wait's cycle
  std::vector<size_t> head(E, 0);
  std::vector<uint64_t> freeAt(E, 0);
  std::vector<std::vector<uint32_t>> clock(E, std::vector<uint32_t>(E, 0));
  for (size_t i = 0; i + 1 < ops.size(); ++i) {
    if ((ops[i].wait | ops[i].signal) >> chan.size()) {
      cur = i;
      return invalid(where(i) +
                     ": waits on or signals channel bits beyond the "
                     "target's " +
                     std::to_string(chan.size()));
    }
  }
  for (size_t done = 0; done + 1 < ops.size(); ++done) {
    int best = -1;
    uint64_t bestStart = 0;
    for (size_t e = 0; e < E; ++e) {
      if (head[e] >= queue[e].size())
        continue;
      const Op &x = ops[queue[e][head[e]]];
      uint64_t s = freeAt[e];
      bool ready = true;
      for (size_t b = 0; b < chan.size() && ready; ++b) {
        if (x.wait >> b & 1) {
          if (chan[b].empty())
            ready = false;
          else
            s = std::max(s, chan[b].front().at);
        }
        // A full token FIFO holds its producer back until a wait frees a
        // place.
        if (ready && tokens && (x.signal >> b & 1) && signals[b] >= depth) {
          const uint64_t k = signals[b] - depth;
          if (k >= pops[b].size())
            ready = false;
          else
            s = std::max(s, pops[b][k]);
        }
      }
      if (ready && (best < 0 || s < bestStart)) {
        best = int(e);
        bestStart = s;
      }
    }
    if (best < 0) {
      // Deadlock: named at the operation blocked earliest, the others after.
      size_t first = E;
      for (size_t e = 0; e < E; ++e)
        if (head[e] < queue[e].size() &&
            (first == E || freeAt[e] < freeAt[first]))
          first = e;
      std::string msg, lead;
      for (size_t e = 0; e < E; ++e)
        if (head[e] < queue[e].size()) {
          const size_t i = queue[e][head[e]];
          const std::string w = where(i);
          const std::string at = w.substr(0, w.size() - 1) + ", cycle " +
                                 std::to_string(freeAt[e]) + ")";
          if (e == first)
            lead = at;
          else
            msg += "; " + at + " too";
        }
      return invalid(
          lead +
          ": deadlock: it waits on a signal (or a place in a token FIFO) "
          "that no operation left can give" +
          msg);
    }
    const size_t e = size_t(best);
    const size_t i = queue[e][head[e]++];
    cur = i;
    op = &ops[i];
    curStart = bestStart;
    auto fail = [&](const std::string &what) {
      return where(i).substr(0, where(i).size() - 1) + ", cycle " +
             std::to_string(bestStart) + "): " + what;
    };
    Status err = checkFields();
    if (err.failed())
      return Status(err.code(), fail(err.message()));
    std::vector<uint32_t> &C = clock[e];
    for (size_t b = 0; b < chan.size(); ++b)
      if (op->wait >> b & 1) {
        const Signal &sg = chan[b].front();
        for (size_t f = 0; f < E; ++f)
          C[f] = std::max(C[f], sg.vc[f]);
        chan[b].pop_front();
        pops[b].push_back(bestStart);
      }
    ++C[e];
    vc = &C;
    err = execute();
    if (err.failed())
      return Status(err.code(), fail(err.message()));
    const uint64_t end = endOf(tm, bestStart);
    for (size_t b = 0; b < chan.size(); ++b)
      if (op->signal >> b & 1) {
        if (!tokens && chan[b].size() >= depth)
          return invalid(fail("barrier " + std::to_string(b) + " (" +
                              syncBitName(t, int(b)) +
                              ") signalled beyond its "
                              "counter's depth " +
                              std::to_string(depth)));
        chan[b].push_back({end, C});
        ++signals[b];
      }
    stats.stall[e] += bestStart - freeAt[e];
    stats.busy[e] += end - bestStart;
    freeAt[e] = end;
    stats.spans[i] = {bestStart, end};
    stats.cycles = std::max(stats.cycles, end);
    ++stats.ops;
  }
  stats.spans.back() = {stats.cycles, stats.cycles};
  ++stats.ops;
  return Status::ok();
}

RefMachine::RefMachine(const Target &t, uint64_t dramBytes)
    : impl_(std::make_unique<Impl>(t, dramBytes)) {}
RefMachine::~RefMachine() = default;
std::vector<uint8_t> &RefMachine::dram() { return impl_->dram; }
std::vector<uint8_t> &RefMachine::memory(int m) {
  return impl_->mems[size_t(m)];
}
void RefMachine::setConstants(uint64_t bytes) { impl_->constBytes = bytes; }
Status RefMachine::run(const std::vector<Op> &ops, const SimOptions &o,
                       SimStats *stats) {
  SimStats local;
  return impl_->run(ops, o, stats ? *stats : local);
}

} // namespace ember::accel
