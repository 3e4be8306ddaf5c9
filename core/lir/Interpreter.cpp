// Reference execution of LIR (docs/lir.md, "Interpreter"). Memory is real:
// one byte array per space holds the activations at their planned offsets,
// so a planning bug shows up as a wrong result. Compute instructions run
// the graph's reference kernels; DMA is a copy whose token is checked.
#include "lir/LIR.h"

#include "import/TensorIO.h"
#include "interp/Interpreter.h"
#include "ir/Printer.h"

#include <algorithm>
#include <cstring>

namespace ember::lir {

namespace {

class Machine {
public:
  explicit Machine(const Function &f) : f_(f) {}

  Expected<std::vector<Tensor>> run(const std::vector<Tensor> &inputs) {
    EMBER_TRY(verify(f_, VerifyOptions{/*requirePlanned=*/true}));
    auto ins = f_.buffersOfKind(BufferKind::Input);
    if (inputs.size() != ins.size())
      return invalid("LIR @", f_.name, " takes ", ins.size(), " inputs, got ",
                     inputs.size());
    arenas_.assign(f_.spaces.size(), {});
    own_.assign(f_.buffers.size(), {});
    std::vector<uint64_t> need(f_.spaces.size(), 0);
    for (auto &b : f_.buffers)
      if (b.kind == BufferKind::Activation)
        need[b.space] =
            std::max<uint64_t>(need[b.space], uint64_t(b.offset) + b.bytes());
    for (size_t s = 0; s < need.size(); ++s) {
      if (need[s] > kMaxTensorBytes)
        return unsupported("LIR interpreter: activations in space '",
                           f_.spaces[s].name, "' span ", need[s],
                           " bytes, over the limit ", kMaxTensorBytes);
      arenas_[s].resize(size_t(need[s]));
    }
    for (size_t i = 0; i < ins.size(); ++i) {
      const Buffer &b = f_.buffers[ins[i]];
      const Type &got = inputs[i].type();
      if (got.elem() != b.type.elem() || got.dims() != b.type.dims())
        return invalid("input ", valueRef(b.name), " must be ",
                       b.type.toString(), ", got ", got.toString());
      own_[ins[i]].assign(inputs[i].raw(), inputs[i].raw() + b.bytes());
    }
    for (size_t b = 0; b < f_.buffers.size(); ++b) {
      const Buffer &buf = f_.buffers[b];
      if (buf.kind == BufferKind::Output)
        own_[b].assign(buf.bytes(), 0);
      if (buf.kind == BufferKind::Weight)
        own_[b].assign(buf.payload->raw(), buf.payload->raw() + buf.bytes());
    }
    for (size_t i = 0; i < f_.insts.size(); ++i)
      EMBER_TRY(step(f_.insts[i]).withContext(describeInst(f_, i)));
    if (!flight_.empty())
      return invalid("LIR @", f_.name, ": token ", valueRef(flight_.front()),
                     " is never waited on");
    std::vector<Tensor> results;
    for (unsigned b : f_.buffersOfKind(BufferKind::Output)) {
      Tensor t(f_.buffers[b].type);
      if (t.bytes())
        std::memcpy(t.raw(), own_[b].data(), t.bytes());
      results.push_back(std::move(t));
    }
    return results;
  }

private:
  uint8_t *ptr(Ref r) {
    unsigned b = f_.baseOf(r);
    const Buffer &buf = f_.buffers[b];
    uint8_t *base = buf.kind == BufferKind::Activation
                        ? arenas_[buf.space].data() + buf.offset
                        : own_[b].data();
    return base + f_.offsetOf(r);
  }

  Status step(const Instruction &in) {
    switch (in.kind) {
    case InstKind::Alloc:
    case InstKind::Dealloc:
      return Status::ok(); // placement is static
    case InstKind::Copy: {
      size_t n = f_.typeOf(in.operands[0].ref).sizeInBytes();
      if (n)
        std::memmove(ptr(in.operands[0].ref), ptr(in.operands[1].ref), n);
      return Status::ok();
    }
    case InstKind::DmaStart:
      return dma(in);
    case InstKind::DmaWait: {
      auto it = std::find(flight_.begin(), flight_.end(), in.token);
      if (it == flight_.end())
        return invalid("token ", valueRef(in.token), " is not in flight");
      flight_.erase(it);
      return Status::ok();
    }
    case InstKind::Compute:
      return compute(in);
    }
    return makeError(ErrorCode::Internal, "unknown instruction kind");
  }

  Status dma(const Instruction &in) {
    if (std::find(flight_.begin(), flight_.end(), in.token) != flight_.end())
      return invalid("token ", valueRef(in.token), " is already in flight");
    uint8_t *dst = ptr(in.operands[0].ref);
    const uint8_t *src = ptr(in.operands[1].ref);
    if (in.shape.empty()) {
      if (in.bytes)
        std::memmove(dst, src, in.bytes);
    } else {
      std::vector<int64_t> shape = in.shape, ds = in.dstStrides,
                           ss = in.srcStrides;
      if (shape.size() == 2) { // as rank 3 with a unit outer dim
        shape.insert(shape.begin(), 1);
        ds.insert(ds.begin(), 0);
        ss.insert(ss.begin(), 0);
      }
      for (int64_t a = 0; a < shape[0]; ++a)
        for (int64_t b = 0; b < shape[1]; ++b)
          std::memmove(dst + a * ds[0] + b * ds[1], src + a * ss[0] + b * ss[1],
                       size_t(shape[2]));
    }
    flight_.push_back(in.token);
    return Status::ok();
  }

  Status compute(const Instruction &in) {
    Node n;
    n.kind = in.op;
    n.name = in.loc;
    n.attrs = in.attrs;
    std::vector<Tensor> inTensors;
    std::vector<int> inIndex; // -1: absent
    std::vector<Ref> outs;
    inTensors.reserve(in.operands.size());
    for (auto &op : in.operands) {
      if (op.reads()) {
        if (!op.ref) {
          inIndex.push_back(-1);
        } else {
          Tensor t(f_.typeOf(op.ref));
          if (t.bytes())
            std::memcpy(t.raw(), ptr(op.ref), t.bytes());
          inIndex.push_back(int(inTensors.size()));
          inTensors.push_back(std::move(t));
        }
      }
      if (op.writes()) {
        outs.push_back(op.ref);
        n.types.push_back(f_.typeOf(op.ref));
        n.outNames.push_back(f_.nameOf(op.ref));
      }
    }
    std::vector<const Tensor *> ptrs;
    for (int k : inIndex)
      ptrs.push_back(k < 0 ? nullptr : &inTensors[size_t(k)]);
    EMBER_ASSIGN(auto results, evaluateNode(n, ptrs));
    for (size_t k = 0; k < outs.size(); ++k) {
      size_t bytes = f_.typeOf(outs[k]).sizeInBytes();
      if (results[k].bytes() != bytes)
        return makeError(ErrorCode::Internal, "result #", k, " has ",
                         results[k].bytes(), " bytes, its buffer ", bytes);
      if (bytes)
        std::memcpy(ptr(outs[k]), results[k].raw(), bytes);
    }
    return Status::ok();
  }

  const Function &f_;
  std::vector<std::vector<uint8_t>> arenas_; // activations, per space
  std::vector<std::vector<uint8_t>> own_;    // other buffers
  std::vector<std::string> flight_;
};

} // namespace

Expected<std::vector<Tensor>> execute(const Function &f,
                                      const std::vector<Tensor> &inputs) {
  return Machine(f).run(inputs);
}

} // namespace ember::lir
