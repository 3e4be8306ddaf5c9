// IRGen: lowered graph -> LIR (docs/lir.md, "IRGen").
#include "lir/LIR.h"

#include <algorithm>
#include <set>
#include <unordered_map>

namespace ember::lir {

std::vector<MemorySpace> defaultSpaces() {
  return {{"host", 0, 64}, {"dram", 0, 64}, {"sram", uint64_t(1) << 20, 32}};
}

namespace {

struct ValueKey {
  const Node *node;
  unsigned idx;
  bool operator<(const ValueKey &o) const {
    return node != o.node ? std::less<const Node *>()(node, o.node)
                          : idx < o.idx;
  }
};

class Gen {
public:
  Gen(const ember::Function &g, const IRGenOptions &o) : g_(g), o_(o) {}

  Expected<Function> run() {
    f_.name = g_.name();
    f_.spaces = o_.spaces.empty() ? defaultSpaces() : o_.spaces;
    EMBER_ASSIGN(ioSpace_, space(o_.ioSpace));
    EMBER_ASSIGN(weightSpace_, space(o_.weightSpace));
    EMBER_ASSIGN(actSpace_, space(o_.activationSpace));

    // Names of graph values and outputs are reserved up front so buffers
    // created later (outputs, activations) never steal a value's name.
    for (Node *p : g_.params())
      refs_[{p, 0}] =
          addBuffer(p->outNames[0], p->types[0], ioSpace_, BufferKind::Input);
    // Each graph output gets its own output buffer; the first output naming
    // a computed value becomes that value's storage (no copy).
    std::vector<unsigned> outBufs;
    for (auto &o : g_.outputs()) {
      if (!o.value)
        return invalid("LIR generation: output '", o.name, "' has no value");
      outBufs.push_back(
          addBuffer(o.name, o.value.type(), ioSpace_, BufferKind::Output)
              .index);
      const Node *n = o.value.node;
      ValueKey k{n, o.value.idx};
      if (!isStorage(n->kind) && n->kind != OpKind::Reshape &&
          n->kind != OpKind::Identity && !refs_.count(k)) {
        refs_[k] = Ref::buffer(outBufs.back());
        direct_.insert(outBufs.size() - 1);
      }
    }

    for (auto &np : g_.nodes()) {
      const Node &n = *np;
      if (n.kind == OpKind::Placeholder)
        continue;
      if (n.kind == OpKind::Constant)
        continue; // weight buffers are created on first use
      EMBER_TRY(genNode(n));
    }

    // Outputs not written in place are copied.
    for (size_t i = 0; i < g_.outputs().size(); ++i) {
      if (direct_.count(i))
        continue;
      const Value &v = g_.outputs()[i].value;
      EMBER_ASSIGN(Ref src, refOf(v));
      Instruction c;
      c.kind = InstKind::Copy;
      c.operands = {{Ref::buffer(outBufs[i]), Access::Out}, {src, Access::In}};
      f_.insts.push_back(std::move(c));
    }
    insertLifetimes();
    return std::move(f_);
  }

private:
  Expected<unsigned> space(const std::string &n) {
    int s = f_.findSpace(n);
    if (s < 0)
      return invalid("LIR generation: the target declares no memory space '", n,
                     "'");
    return unsigned(s);
  }

  std::string uniqueName(const std::string &base) {
    std::string n = base.empty() ? "t" : base;
    for (unsigned i = 1; names_.count(n); ++i)
      n = base + "." + std::to_string(i);
    names_.insert(n);
    return n;
  }

  Ref addBuffer(const std::string &name, const Type &t, unsigned space,
                BufferKind k, std::shared_ptr<const Tensor> payload = {}) {
    Buffer b;
    b.name = uniqueName(name);
    b.type = t;
    b.space = space;
    b.kind = k;
    b.payload = std::move(payload);
    f_.buffers.push_back(std::move(b));
    return Ref::buffer(unsigned(f_.buffers.size() - 1));
  }

  Expected<Ref> refOf(const Value &v) {
    ValueKey k{v.node, v.idx};
    auto it = refs_.find(k);
    if (it != refs_.end())
      return it->second;
    if (v.node->kind == OpKind::Constant) {
      if (!v.node->payload)
        return invalid("LIR generation: constant ", v.node->describe(),
                       " has no payload");
      Ref r = addBuffer(v.node->outNames[0], v.node->types[0], weightSpace_,
                        BufferKind::Weight, v.node->payload);
      refs_[k] = r;
      return r;
    }
    return makeError(ErrorCode::Internal,
                     "LIR generation: ", v.node->describe(),
                     " is used before it is defined");
  }

  Status genNode(const Node &n) {
    for (auto &kv : n.attrs)
      if (kv.second.kind == Attr::Kind::Graph)
        return unsupported("LIR generation: ", n.describe(),
                           " has a subgraph; control flow is not in LIR");
    // Reshape (and Identity) is a view of its operand's storage: same
    // bytes, possibly a new type.
    if ((n.kind == OpKind::Reshape || n.kind == OpKind::Identity) &&
        n.hasInput(0)) {
      EMBER_ASSIGN(Ref src, refOf(n.inputs[0]));
      View v;
      v.name = uniqueName(n.outNames[0]);
      v.buffer = f_.baseOf(src);
      v.offset = f_.offsetOf(src);
      v.type = n.types[0];
      f_.views.push_back(std::move(v));
      refs_[{&n, 0}] = Ref::view(unsigned(f_.views.size() - 1));
      return Status::ok();
    }
    Instruction in;
    in.kind = InstKind::Compute;
    in.op = n.kind;
    in.attrs = n.attrs;
    in.loc = n.name;
    for (auto &v : n.inputs) {
      if (!v.node) {
        in.operands.push_back({Ref::none(), Access::In});
        continue;
      }
      EMBER_ASSIGN(Ref r, refOf(v));
      in.operands.push_back({r, Access::In});
    }
    for (unsigned i = 0; i < n.numResults(); ++i) {
      ValueKey k{&n, i};
      auto it = refs_.find(k);
      Ref r;
      if (it != refs_.end()) {
        r = it->second; // an output buffer
      } else {
        r = addBuffer(n.outNames[i], n.types[i], actSpace_,
                      BufferKind::Activation);
        refs_[k] = r;
      }
      in.operands.push_back({r, Access::Out});
    }
    f_.insts.push_back(std::move(in));
    return Status::ok();
  }

  // alloc before each activation's first use, dealloc after its last use
  // (uses through views included).
  void insertLifetimes() {
    size_t nb = f_.buffers.size();
    std::vector<long> first(nb, -1), last(nb, -1);
    for (size_t i = 0; i < f_.insts.size(); ++i)
      for (auto &op : f_.insts[i].operands) {
        if (!op.ref)
          continue;
        unsigned b = f_.baseOf(op.ref);
        if (first[b] < 0)
          first[b] = long(i);
        last[b] = long(i);
      }
    // Buffers to alloc before / dealloc after each instruction, in buffer
    // order (deterministic).
    std::vector<std::vector<unsigned>> allocAt(f_.insts.size()),
        deallocAt(f_.insts.size());
    for (size_t b = 0; b < nb; ++b)
      if (f_.buffers[b].kind == BufferKind::Activation && first[b] >= 0) {
        allocAt[size_t(first[b])].push_back(unsigned(b));
        deallocAt[size_t(last[b])].push_back(unsigned(b));
      }
    std::vector<Instruction> out;
    for (size_t i = 0; i < f_.insts.size(); ++i) {
      for (unsigned b : allocAt[i]) {
        Instruction a;
        a.kind = InstKind::Alloc;
        a.operands = {{Ref::buffer(b), Access::Out}};
        out.push_back(std::move(a));
      }
      out.push_back(std::move(f_.insts[i]));
      for (unsigned b : deallocAt[i]) {
        Instruction d;
        d.kind = InstKind::Dealloc;
        d.operands = {{Ref::buffer(b), Access::In}};
        out.push_back(std::move(d));
      }
    }
    f_.insts = std::move(out);
  }

  const ember::Function &g_;
  const IRGenOptions &o_;
  Function f_;
  unsigned ioSpace_ = 0, weightSpace_ = 0, actSpace_ = 0;
  std::map<ValueKey, Ref> refs_;
  std::set<std::string> names_;
  std::set<size_t> direct_; // outputs written in place by their producer
};

} // namespace

Expected<Function> generateLir(const ember::Function &g,
                               const IRGenOptions &opts) {
  return Gen(g, opts).run();
}

} // namespace ember::lir
