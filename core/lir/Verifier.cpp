// LIR verifier (docs/lir.md, "Verifier"): declarations, lifetimes, DMA
// hazards, view bounds, planned offsets and space capacities.
#include "lir/LIR.h"

#include "import/TensorIO.h"
#include "ir/Printer.h"

#include <algorithm>
#include <set>

namespace ember::lir {

namespace {

struct InFlight {
  std::string token;
  size_t startIdx;
  unsigned dst, src; // base buffers
  uint64_t dstLo, dstHi, srcLo, srcHi;
};

bool overlaps(uint64_t a0, uint64_t a1, uint64_t b0, uint64_t b1) {
  return a0 < b1 && b0 < a1;
}

class Verifier {
public:
  Verifier(const Function &f, const VerifyOptions &o) : f_(f), o_(o) {}

  Status run() {
    EMBER_TRY(checkDecls());
    std::vector<int> state(f_.buffers.size(), 0); // 0 none, 1 live, 2 freed
    start_.assign(f_.buffers.size(), -1);
    end_.assign(f_.buffers.size(), -1);
    for (size_t i = 0; i < f_.insts.size(); ++i)
      EMBER_TRY(checkInst(i, state).withContext(describeInst(f_, i)));
    if (!flight_.empty())
      return invalid(describeInst(f_, flight_.front().startIdx), ": token ",
                     valueRef(flight_.front().token), " is never waited on");
    for (size_t b = 0; b < f_.buffers.size(); ++b)
      if (state[b] == 1)
        return invalid("activation ", valueRef(f_.buffers[b].name),
                       " is never deallocated");
    return checkPlacement();
  }

private:
  Status checkDecls() {
    std::set<std::string> names;
    for (auto &s : f_.spaces) {
      EMBER_CHECK(s.alignment > 0 && (s.alignment & (s.alignment - 1)) == 0,
                  "space '", s.name, "': alignment ", s.alignment,
                  " is not a power of two");
      EMBER_CHECK(names.insert("space " + s.name).second, "space '", s.name,
                  "' is declared twice");
    }
    for (auto &b : f_.buffers) {
      EMBER_CHECK(names.insert(b.name).second, "name ", valueRef(b.name),
                  " is declared twice");
      EMBER_TRY(checkTensorSize(b.type.dims(), b.type.elem(),
                                "buffer " + valueRef(b.name)));
      EMBER_CHECK(b.offset < int64_t(kMaxTensorBytes) * 4, "activation ",
                  valueRef(b.name), " offset ", b.offset, " is too large");
      EMBER_CHECK(b.space < f_.spaces.size(), "buffer ", valueRef(b.name),
                  " is in an undeclared space");
      if (b.kind == BufferKind::Weight) {
        EMBER_CHECK(b.payload && b.payload->hasData() &&
                        b.payload->type() == b.type,
                    "weight ", valueRef(b.name),
                    " has no constant payload of type ", b.type.toString());
      } else {
        EMBER_CHECK(!b.payload, "buffer ", valueRef(b.name),
                    " has a payload but is not a weight");
      }
      EMBER_CHECK(b.kind == BufferKind::Activation || b.offset < 0, "buffer ",
                  valueRef(b.name), " is not an activation but has an offset");
      if (o_.requirePlanned && b.kind == BufferKind::Activation)
        EMBER_CHECK(b.offset >= 0, "activation ", valueRef(b.name),
                    " has no planned offset");
    }
    for (auto &v : f_.views) {
      EMBER_CHECK(names.insert(v.name).second, "name ", valueRef(v.name),
                  " is declared twice");
      EMBER_CHECK(v.buffer < f_.buffers.size(), "view ", valueRef(v.name),
                  " aliases an undeclared buffer");
      EMBER_TRY(checkTensorSize(v.type.dims(), v.type.elem(),
                                "view " + valueRef(v.name)));
      const Buffer &b = f_.buffers[v.buffer];
      EMBER_CHECK(v.offset <= b.bytes() &&
                      v.offset + v.type.sizeInBytes() <= b.bytes(),
                  "view ", valueRef(v.name), " (", v.type.toString(),
                  " at offset ", v.offset, ") is out of bounds of ",
                  valueRef(b.name), " (", b.bytes(), " bytes)");
    }
    return Status::ok();
  }

  Status useRef(size_t i, const Operand &op, const std::vector<int> &state) {
    Ref r = op.ref;
    if (!r)
      return Status::ok();
    EMBER_CHECK((r.kind == Ref::Kind::Buffer && r.index < f_.buffers.size()) ||
                    (r.kind == Ref::Kind::View && r.index < f_.views.size()),
                "operand refers to nothing");
    unsigned b = f_.baseOf(r);
    const Buffer &buf = f_.buffers[b];
    const std::string &nm = f_.nameOf(r);
    if (buf.kind == BufferKind::Activation) {
      EMBER_CHECK(state[b] != 0, "uses ", valueRef(nm), " before its alloc");
      EMBER_CHECK(state[b] != 2, "uses ", valueRef(nm), " after its dealloc");
    }
    if (op.writes())
      EMBER_CHECK(buf.kind != BufferKind::Weight &&
                      buf.kind != BufferKind::Input,
                  "writes ", bufferKindName(buf.kind), " ", valueRef(nm),
                  ", which is read-only");
    uint64_t lo = f_.offsetOf(r), hi = lo + f_.typeOf(r).sizeInBytes();
    for (auto &d : flight_) {
      if (d.startIdx == i)
        continue;
      EMBER_CHECK(!(d.dst == b && overlaps(lo, hi, d.dstLo, d.dstHi)),
                  op.writes() ? "writes " : "reads ", valueRef(nm),
                  " while DMA ", valueRef(d.token), " into it is in flight");
      EMBER_CHECK(
          !(op.writes() && d.src == b && overlaps(lo, hi, d.srcLo, d.srcHi)),
          "writes ", valueRef(nm), " while DMA ", valueRef(d.token),
          " reads it");
    }
    return Status::ok();
  }

  Status checkInst(size_t i, std::vector<int> &state) {
    const Instruction &in = f_.insts[i];
    size_t nIn = 0, nOut = 0;
    for (auto &op : in.operands) {
      nIn += op.reads();
      nOut += op.writes();
    }
    switch (in.kind) {
    case InstKind::Alloc:
    case InstKind::Dealloc: {
      EMBER_CHECK(in.operands.size() == 1 &&
                      in.operands[0].ref.kind == Ref::Kind::Buffer &&
                      in.operands[0].ref.index < f_.buffers.size(),
                  "needs one buffer operand");
      unsigned b = in.operands[0].ref.index;
      const Buffer &buf = f_.buffers[b];
      EMBER_CHECK(buf.kind == BufferKind::Activation, valueRef(buf.name),
                  " is not an activation");
      if (in.kind == InstKind::Alloc) {
        EMBER_CHECK(state[b] == 0, valueRef(buf.name), " is allocated twice");
        state[b] = 1;
        start_[b] = long(i);
      } else {
        EMBER_CHECK(state[b] == 1, "deallocates ", valueRef(buf.name),
                    state[b] == 0 ? " before its alloc" : " twice");
        for (auto &d : flight_)
          EMBER_CHECK(d.dst != b && d.src != b, "deallocates ",
                      valueRef(buf.name), " while DMA ", valueRef(d.token),
                      " uses it");
        state[b] = 2;
        end_[b] = long(i);
      }
      return Status::ok();
    }
    case InstKind::Compute: {
      EMBER_CHECK(!isStorage(in.op), opName(in.op), " is not an instruction");
      const OpInfo &oi = opInfo(in.op);
      EMBER_CHECK(int(nIn) >= oi.minIn &&
                      (oi.maxIn < 0 || int(nIn) <= oi.maxIn),
                  opName(in.op), " takes ", oi.minIn, "..", oi.maxIn,
                  " inputs, got ", nIn);
      EMBER_CHECK(nOut >= 1 && (oi.numOut < 0 || int(nOut) == oi.numOut),
                  opName(in.op), " has ", nOut, " results");
      for (auto &op : in.operands)
        EMBER_CHECK(op.ref || op.access == Access::In,
                    "a result operand is absent");
      for (auto &op : in.operands)
        EMBER_TRY(checkRef(op.ref));
      if (o_.checkTypes)
        EMBER_TRY(checkTypes(in, nOut));
      break;
    }
    case InstKind::Copy:
    case InstKind::DmaStart: {
      EMBER_CHECK(in.operands.size() == 2 &&
                      in.operands[0].access == Access::Out &&
                      in.operands[1].access == Access::In &&
                      in.operands[0].ref && in.operands[1].ref,
                  "needs operands 'out DST, in SRC'");
      break;
    }
    case InstKind::DmaWait: {
      auto it =
          std::find_if(flight_.begin(), flight_.end(),
                       [&](const InFlight &d) { return d.token == in.token; });
      EMBER_CHECK(it != flight_.end(), "waits on token ", valueRef(in.token),
                  ", which is not in flight");
      flight_.erase(it);
      return Status::ok();
    }
    }
    for (auto &op : in.operands)
      EMBER_TRY(useRef(i, op, state));
    if (in.kind == InstKind::Copy) {
      uint64_t d = f_.typeOf(in.operands[0].ref).sizeInBytes();
      uint64_t s = f_.typeOf(in.operands[1].ref).sizeInBytes();
      EMBER_CHECK(d == s, "copies ", s, " bytes into ", d, " bytes");
    }
    if (in.kind == InstKind::DmaStart)
      EMBER_TRY(checkDma(i, in));
    return Status::ok();
  }

  Status checkRef(Ref r) {
    EMBER_CHECK(
        !r || (r.kind == Ref::Kind::Buffer && r.index < f_.buffers.size()) ||
            (r.kind == Ref::Kind::View && r.index < f_.views.size()),
        "operand refers to nothing");
    return Status::ok();
  }

  // Rebuilds the instruction as a graph node over placeholders (constants
  // for small weights, whose values may fix a result shape) and compares
  // the inferred result types with the result operands' types.
  Status checkTypes(const Instruction &in, size_t nOut) {
    ember::Function tmp("check");
    std::vector<Value> ins;
    for (auto &op : in.operands) {
      if (!op.reads())
        continue;
      if (!op.ref) {
        ins.push_back(Value());
        continue;
      }
      const Buffer &b = f_.buffers[f_.baseOf(op.ref)];
      std::string nm = "v" + std::to_string(ins.size());
      if (op.ref.kind == Ref::Kind::Buffer && b.payload &&
          b.payload->size() <= 4096)
        ins.push_back(Value(tmp.addConstant(nm, *b.payload)));
      else
        ins.push_back(Value(tmp.addPlaceholder(nm, f_.typeOf(op.ref))));
    }
    auto n = tmp.create(in.op, ins, in.attrs, "", int(nOut));
    if (!n) {
      if (n.status().code() == ErrorCode::DataDependent)
        return Status::ok(); // result shape depends on runtime values
      return n.takeStatus();
    }
    size_t k = 0;
    for (auto &op : in.operands) {
      if (!op.writes())
        continue;
      const Type &want = (*n)->types[k++];
      const Type &got = f_.typeOf(op.ref);
      EMBER_CHECK(want == got, "result ", valueRef(f_.nameOf(op.ref)), " is ",
                  got.toString(), " but ", opName(in.op), " computes ",
                  want.toString());
    }
    return Status::ok();
  }

  Status checkDma(size_t i, const Instruction &in) {
    EMBER_CHECK(!in.token.empty(), "dma.start produces no token");
    EMBER_CHECK(tokens_.insert(in.token).second, "token ", valueRef(in.token),
                " is defined twice");
    Ref dst = in.operands[0].ref, src = in.operands[1].ref;
    uint64_t dstBytes = f_.typeOf(dst).sizeInBytes();
    uint64_t srcBytes = f_.typeOf(src).sizeInBytes();
    uint64_t dstExt = 0, srcExt = 0;
    if (in.shape.empty()) {
      dstExt = srcExt = in.bytes;
    } else {
      size_t r = in.shape.size();
      EMBER_CHECK(r == 2 || r == 3, "a strided DMA has rank 2 or 3, got ", r);
      EMBER_CHECK(in.dstStrides.size() == r - 1 &&
                      in.srcStrides.size() == r - 1,
                  "a rank-", r, " DMA needs ", r - 1, " strides per side");
      bool empty = false;
      for (int64_t d : in.shape) {
        EMBER_CHECK(d >= 0, "negative DMA extent ", d);
        empty = empty || d == 0;
      }
      // Bounded so the extent arithmetic below cannot overflow.
      const int64_t lim = int64_t(1) << 40;
      for (int64_t d : in.shape)
        EMBER_CHECK(d <= lim, "DMA extent ", d, " is too large");
      for (size_t k = 0; k + 1 < r; ++k)
        EMBER_CHECK(in.dstStrides[k] >= 0 && in.srcStrides[k] >= 0 &&
                        in.dstStrides[k] <= lim && in.srcStrides[k] <= lim,
                    "DMA strides must be in [0, 2^40]");
      if (!empty) {
        dstExt = srcExt = uint64_t(in.shape[r - 1]);
        for (size_t k = 0; k + 1 < r; ++k) {
          dstExt += uint64_t(in.shape[k] - 1) * uint64_t(in.dstStrides[k]);
          srcExt += uint64_t(in.shape[k] - 1) * uint64_t(in.srcStrides[k]);
        }
      }
    }
    EMBER_CHECK(dstExt <= dstBytes, "DMA writes ", dstExt, " bytes into ",
                valueRef(f_.nameOf(dst)), " (", dstBytes, " bytes)");
    EMBER_CHECK(srcExt <= srcBytes, "DMA reads ", srcExt, " bytes from ",
                valueRef(f_.nameOf(src)), " (", srcBytes, " bytes)");
    uint64_t d0 = f_.offsetOf(dst), s0 = f_.offsetOf(src);
    flight_.push_back({in.token, i, f_.baseOf(dst), f_.baseOf(src), d0,
                       d0 + dstExt, s0, s0 + srcExt});
    return Status::ok();
  }

  // Planned activations: aligned, inside the space, and no two that are
  // live at the same time share bytes.
  Status checkPlacement() {
    std::vector<unsigned> planned;
    std::vector<uint64_t> fixed(f_.spaces.size(), 0), top(f_.spaces.size(), 0);
    for (size_t b = 0; b < f_.buffers.size(); ++b) {
      const Buffer &buf = f_.buffers[b];
      const MemorySpace &s = f_.spaces[buf.space];
      if (buf.kind != BufferKind::Activation) {
        fixed[buf.space] += buf.bytes();
        continue;
      }
      if (buf.offset < 0)
        continue;
      EMBER_CHECK(uint64_t(buf.offset) % s.alignment == 0, "activation ",
                  valueRef(buf.name), " offset ", buf.offset,
                  " is not aligned to ", s.alignment, " (space ", s.name, ")");
      top[buf.space] =
          std::max(top[buf.space], uint64_t(buf.offset) + buf.bytes());
      if (start_[b] >= 0)
        planned.push_back(unsigned(b));
    }
    for (size_t s = 0; s < f_.spaces.size(); ++s)
      EMBER_CHECK(f_.spaces[s].capacity == 0 ||
                      fixed[s] + top[s] <= f_.spaces[s].capacity,
                  "space '", f_.spaces[s].name, "' holds ", fixed[s],
                  " bytes of inputs, outputs and weights and ", top[s],
                  " bytes of activations, over its capacity ",
                  f_.spaces[s].capacity);
    for (size_t x = 0; x < planned.size(); ++x)
      for (size_t y = x + 1; y < planned.size(); ++y) {
        unsigned a = planned[x], b = planned[y];
        const Buffer &A = f_.buffers[a], &B = f_.buffers[b];
        if (A.space != B.space || A.bytes() == 0 || B.bytes() == 0)
          continue;
        if (!(start_[a] <= end_[b] && start_[b] <= end_[a]))
          continue;
        uint64_t a0 = uint64_t(A.offset), b0 = uint64_t(B.offset);
        if (overlaps(a0, a0 + A.bytes(), b0, b0 + B.bytes()))
          return invalid(
              describeInst(f_, size_t(std::max(start_[a], start_[b]))), ": ",
              valueRef(A.name), " and ", valueRef(B.name),
              " are live at the same time and overlap in space '",
              f_.spaces[A.space].name, "'");
      }
    return Status::ok();
  }

  const Function &f_;
  const VerifyOptions &o_;
  std::vector<InFlight> flight_;
  std::set<std::string> tokens_;
  std::vector<long> start_, end_;
};

} // namespace

Status verify(const Function &f, const VerifyOptions &opts) {
  return Verifier(f, opts).run();
}

} // namespace ember::lir
