// The ops of an op library as CustomOps (ir/OpRegistry.h): each call
// converts the node (operand and result types, constant operands,
// attributes; quantization of the integer kernel form) into the ABI's
// structs, calls the library, checks what comes back (result types within
// bounds, lowering text from host memory) and turns its error into a Status
// naming the library, the op and the call. The reference kernel optionally
// runs on copies of its operands and into results with guard zones
// (KernelOptions::guard): a kernel that writes outside its results is an
// error, not a corrupted host.
#include "backend/OpLibraryInternal.h"

#include "ir/TypeRules.h"

#include <cstring>
#include <deque>

namespace ember::backend::oplib {

namespace {

struct TypeBox {
  ember_op_type t{};
  std::vector<int64_t> dims;
  TypeBox(const Type &ty, float scale, int64_t zp) : dims(ty.dims()) {
    t.struct_size = sizeof(t);
    t.dtype = elemKindToOnnx(ty.elem());
    t.rank = int32_t(dims.size());
    t.dims = dims.data();
    t.scale = scale;
    t.zero_point = zp;
  }
  TypeBox() { // an absent operand, or a result infer fills
    t.struct_size = sizeof(t);
    t.dtype = EMBER_OP_DTYPE_UNDEFINED;
  }
};

struct TensorBox {
  TypeBox type;
  ember_op_tensor t{};
  TensorBox(const Type &ty, const void *data, float scale = 0, int64_t zp = 0)
      : type(ty, scale, zp) {
    t.struct_size = sizeof(t);
    t.type = &type.t;
    t.data = const_cast<void *>(data);
    t.size_bytes = ty.sizeInBytes();
  }
};

struct AttrBox {
  ember_op_attr a{};
  std::vector<const char *> strings;
  std::vector<size_t> sizes;
  std::unique_ptr<TensorBox> tensor;
};

// The ember_op_node of a node, and the storage it points into: copies of
// everything it describes, so that a kernel's view outlives the node (a
// compiled executable keeps its kernels, not its graph).
class NodeView {
public:
  // `ins`: each operand's type (null: absent); `outs`: the results' types
  // (null while infer computes them).
  Status build(const CustomOp &op, const Node &n,
               const std::vector<const Type *> &ins,
               const std::vector<Type> *outs) {
    domain_ = op.domain;
    name_ = op.name;
    attrCopy_ = n.attrs;
    std::vector<double> q;
    auto qa = n.attrs.find(kCustomQuantAttr);
    if (qa != n.attrs.end())
      q = qa->second.floats;
    auto quant = [&](size_t k, float &s, int64_t &z) {
      s = 0;
      z = 0;
      if (3 * k + 2 < q.size()) {
        s = float(q[3 * k]);
        z = int64_t(q[3 * k + 1]);
      }
    };
    for (size_t i = 0; i < ins.size(); ++i) {
      float s;
      int64_t z;
      quant(i, s, z);
      types_.emplace_back(ins[i] ? TypeBox(*ins[i], s, z) : TypeBox());
      inPtrs_.push_back(&types_.back().t);
      const Tensor *c = n.constantInput(i);
      if (c && ins[i]) {
        held_.push_back(n.inputs[i].node->payload);
        consts_.emplace_back(c->type(), c->raw(), s, z);
        constPtrs_.push_back(&consts_.back().t);
      } else {
        constPtrs_.push_back(nullptr);
      }
    }
    if (outs)
      for (size_t i = 0; i < outs->size(); ++i) {
        float s;
        int64_t z;
        quant(ins.size() + i, s, z);
        types_.emplace_back((*outs)[i], s, z);
        outPtrs_.push_back(&types_.back().t);
      }
    for (auto &kv : attrCopy_) {
      if (!kv.first.empty() && kv.first[0] == '$')
        continue;
      EMBER_TRY(addAttr(kv.first, kv.second, n));
    }
    node_.struct_size = sizeof(node_);
    node_.domain = domain_.c_str();
    node_.name = name_.c_str();
    node_.opset = n.attrInt(kCustomOpsetAttr, op.opsetFirst);
    nodeName_ = n.name;
    node_.node_name = nodeName_.c_str();
    node_.num_inputs = inPtrs_.size();
    node_.inputs = inPtrs_.data();
    node_.constants = constPtrs_.data();
    node_.num_outputs = outs ? outs->size() : n.types.size();
    node_.outputs = outs ? outPtrs_.data() : nullptr;
    node_.num_attrs = attrPtrs_.size();
    node_.attrs = attrPtrs_.data();
    return Status::ok();
  }
  const ember_op_node *node() const { return &node_; }
  const ember_op_type *inputType(size_t i) const { return inPtrs_[i]; }
  const ember_op_type *outputType(size_t i) const { return outPtrs_[i]; }

private:
  Status addAttr(const std::string &name, const Attr &v, const Node &n) {
    attrs_.emplace_back();
    AttrBox &b = attrs_.back();
    ember_op_attr &a = b.a;
    a.struct_size = sizeof(a);
    a.name = name.c_str();
    switch (v.kind) {
    case Attr::Kind::Int:
      a.type = EMBER_OP_ATTR_INT;
      a.i = v.i;
      break;
    case Attr::Kind::Float:
      a.type = EMBER_OP_ATTR_FLOAT;
      a.f = v.f;
      break;
    case Attr::Kind::String:
      a.type = EMBER_OP_ATTR_STRING;
      a.s = v.s.c_str();
      a.s_size = v.s.size();
      break;
    case Attr::Kind::Ints:
      a.type = EMBER_OP_ATTR_INTS;
      a.count = v.ints.size();
      a.ints = v.ints.data();
      break;
    case Attr::Kind::Floats:
      a.type = EMBER_OP_ATTR_FLOATS;
      a.count = v.floats.size();
      a.floats = v.floats.data();
      break;
    case Attr::Kind::Strings:
      a.type = EMBER_OP_ATTR_STRINGS;
      for (auto &s : v.strings) {
        b.strings.push_back(s.c_str());
        b.sizes.push_back(s.size());
      }
      a.count = v.strings.size();
      a.strings = b.strings.data();
      a.string_sizes = b.sizes.data();
      break;
    case Attr::Kind::Tensor:
      if (!v.t)
        return invalid(n.describe(), ": attribute '", name, "' has no tensor");
      a.type = EMBER_OP_ATTR_TENSOR;
      b.tensor = std::make_unique<TensorBox>(v.t->type(), v.t->raw());
      a.tensor = &b.tensor->t;
      break;
    case Attr::Kind::Graph:
      return unsupported(n.describe(), ": attribute '", name,
                         "' is a graph; op libraries take int, float, "
                         "string, tensor, ints, floats and strings "
                         "attributes");
    }
    attrPtrs_.push_back(&a);
    return Status::ok();
  }

  std::string domain_, name_, nodeName_;
  AttrMap attrCopy_;
  std::vector<std::shared_ptr<const Tensor>> held_; // constant operands
  std::deque<TypeBox> types_; // (a deque: addresses stay put)
  std::deque<TensorBox> consts_;
  std::deque<AttrBox> attrs_;
  std::vector<const ember_op_type *> inPtrs_, outPtrs_;
  std::vector<const ember_op_tensor *> constPtrs_;
  std::vector<const ember_op_attr *> attrPtrs_;
  ember_op_node node_{};
};

std::vector<const Type *> operandTypes(const Node &n) {
  std::vector<const Type *> ins;
  for (auto &v : n.inputs)
    ins.push_back(v.node ? &v.type() : nullptr);
  return ins;
}

// Guard bytes on each side of a result, and their pattern.
constexpr size_t kGuardMin = 256, kGuardMax = size_t(1) << 20;
constexpr uint8_t kGuardByte = 0xA5;

class LibraryKernel : public CustomKernel {
public:
  LibraryKernel(std::shared_ptr<Library> lib, const ember_op_def *def,
                std::string opName, const KernelOptions &o)
      : lib_(std::move(lib)), def_(def), opName_(std::move(opName)), o_(o) {}
  ~LibraryKernel() override {
    if (state_ && def_->kernel_destroy)
      def_->kernel_destroy(&lib_->host, def_->user_data, state_);
  }

  Status init(const CustomOp &op, const Node &n) {
    outTypes_ = n.types;
    EMBER_TRY(view_.build(op, n, operandTypes(n), &n.types));
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      if (!n.inputs[i].node) {
        ins_.push_back(nullptr);
        continue;
      }
      inBoxes_.emplace_back(n.inputs[i].type(), nullptr);
      inBoxes_.back().t.type = view_.inputType(i);
      ins_.push_back(&inBoxes_.back().t);
    }
    for (size_t i = 0; i < n.types.size(); ++i) {
      outBoxes_.emplace_back(n.types[i], nullptr);
      outBoxes_.back().t.type = view_.outputType(i);
      outs_.push_back(&outBoxes_.back().t);
    }
    if (def_->kernel_create) {
      ember_op_create_args a{};
      a.struct_size = sizeof(a);
      a.host = &lib_->host;
      a.user_data = def_->user_data;
      a.node = view_.node();
      a.state = &state_;
      EMBER_TRY(
          lib_->take(def_->kernel_create(&a), "kernel_create of " + opName_));
    }
    return Status::ok();
  }

  Status run(const void *const *ins, void *const *outs) override {
    if (o_.guard)
      return runGuarded(ins, outs);
    for (size_t i = 0; i < ins_.size(); ++i)
      if (ins_[i])
        const_cast<ember_op_tensor *>(ins_[i])->data =
            const_cast<void *>(ins[i]);
    for (size_t i = 0; i < outs_.size(); ++i)
      const_cast<ember_op_tensor *>(outs_[i])->data = outs[i];
    return compute();
  }

private:
  Status compute() {
    ember_op_compute_args a{};
    a.struct_size = sizeof(a);
    a.host = &lib_->host;
    a.user_data = def_->user_data;
    a.state = state_;
    a.node = view_.node();
    a.inputs = ins_.data();
    a.outputs = outs_.data();
    return lib_->take(def_->compute(&a), "the reference kernel of " + opName_);
  }

  // Operands as copies (compared after the run), results in buffers with
  // guard zones (checked after the run, then copied out).
  Status runGuarded(const void *const *ins, void *const *outs) {
    std::vector<std::vector<uint8_t>> inCopies(ins_.size());
    for (size_t i = 0; i < ins_.size(); ++i) {
      if (!ins_[i])
        continue;
      const auto *src = static_cast<const uint8_t *>(ins[i]);
      inCopies[i].assign(src, src + ins_[i]->size_bytes);
      const_cast<ember_op_tensor *>(ins_[i])->data = inCopies[i].data();
    }
    std::vector<std::vector<uint8_t>> outBufs(outs_.size());
    std::vector<size_t> guards(outs_.size());
    for (size_t i = 0; i < outs_.size(); ++i) {
      size_t size = outs_[i]->size_bytes;
      guards[i] = std::min(std::max(kGuardMin, size), kGuardMax);
      outBufs[i].assign(size + 2 * guards[i], kGuardByte);
      const_cast<ember_op_tensor *>(outs_[i])->data =
          outBufs[i].data() + guards[i];
    }
    EMBER_TRY(compute());
    for (size_t i = 0; i < ins_.size(); ++i)
      if (ins_[i] && !inCopies[i].empty() &&
          std::memcmp(inCopies[i].data(), ins[i], inCopies[i].size()) != 0)
        return makeError(ErrorCode::Backend, lib_->describe(),
                         ": the reference kernel of ", opName_,
                         " wrote into its operand ", i,
                         " (operands are read only)");
    for (size_t i = 0; i < outs_.size(); ++i) {
      const std::vector<uint8_t> &b = outBufs[i];
      size_t g = guards[i], size = outs_[i]->size_bytes;
      size_t before = 0, after = 0;
      for (size_t k = 0; k < g; ++k) {
        before += b[k] != kGuardByte;
        after += b[g + size + k] != kGuardByte;
      }
      if (before || after)
        return makeError(
            ErrorCode::Backend, lib_->describe(), ": the reference kernel of ",
            opName_, " wrote outside its result ", i, " (",
            before ? concat(before, " bytes before it") : std::string(),
            before && after ? ", " : "",
            after ? concat(after, " bytes after it") : std::string(),
            "; it is ", size, " bytes, ", outTypes_[i].toString(), ")");
      if (size)
        std::memcpy(outs[i], b.data() + g, size);
    }
    return Status::ok();
  }

  std::shared_ptr<Library> lib_;
  const ember_op_def *def_;
  std::string opName_;
  KernelOptions o_;
  std::vector<Type> outTypes_;
  NodeView view_;
  std::deque<TensorBox> inBoxes_, outBoxes_;
  std::vector<const ember_op_tensor *> ins_, outs_;
  void *state_ = nullptr;
};

class LibraryOp : public CustomOp {
public:
  LibraryOp(std::shared_ptr<Library> lib, const ember_op_def *def)
      : lib_(std::move(lib)), def_(def) {}

  Status infer(TypeContext &ctx) const override {
    const Node &n = ctx.node();
    std::vector<const Type *> ins;
    for (size_t i = 0; i < ctx.numInputs(); ++i)
      ins.push_back(ctx.has(i) ? &ctx.in(i).type() : nullptr);
    NodeView view;
    EMBER_TRY(view.build(*this, n, ins, nullptr));
    std::deque<TypeBox> outs(ctx.numOutputs());
    std::vector<ember_op_type *> outPtrs;
    // The integer kernel form: each result comes with its quantization
    // (type, scale, zero point) filled in.
    std::vector<double> q;
    if (auto it = n.attrs.find(kCustomQuantAttr); it != n.attrs.end())
      q = it->second.floats;
    for (size_t i = 0; i < outs.size(); ++i) {
      TypeBox &b = outs[i];
      b.dims.assign(EMBER_OP_MAX_RANK, 0);
      b.t.dims = b.dims.data();
      b.t.rank = -1;
      size_t k = 3 * (ctx.numInputs() + i);
      if (k + 2 < q.size() && q[k] != 0) {
        b.t.scale = float(q[k]);
        b.t.zero_point = int64_t(q[k + 1]);
        b.t.dtype = int32_t(q[k + 2]);
      }
      outPtrs.push_back(&b.t);
    }
    ember_op_infer_args a{};
    a.struct_size = sizeof(a);
    a.host = &lib_->host;
    a.user_data = def_->user_data;
    a.node = view.node();
    a.outputs = outPtrs.data();
    const std::string what = "the type and shape function of " + fullName();
    EMBER_TRY(lib_->take(def_->infer(&a), what));
    for (size_t i = 0; i < outs.size(); ++i) {
      const ember_op_type &t = outs[i].t;
      auto bad = [&](const auto &...why) {
        return makeError(ErrorCode::Backend, lib_->describe(), ": ", what,
                         " gave result ", i, " ", why...);
      };
      ElemKind k;
      if (t.dtype == EMBER_OP_DTYPE_UNDEFINED || !elemKindFromOnnx(t.dtype, k))
        return bad("dtype ", t.dtype, ", which is not an element type");
      if (t.rank < 0 || t.rank > EMBER_OP_MAX_RANK)
        return bad("rank ", t.rank, " (0 to ", EMBER_OP_MAX_RANK, ")");
      Dims d(outs[i].dims.begin(), outs[i].dims.begin() + t.rank);
      double elems = 1;
      for (size_t j = 0; j < d.size(); ++j) {
        if (d[j] < 0)
          return bad("dim ", j, " = ", d[j], " (dims are 0 or more)");
        elems *= double(d[j]);
      }
      if (elems * double(elemSize(k)) > double(int64_t(1) << 40))
        return bad(Type(k, d).toString(), ", over 1 TiB");
      ctx.setOutput(i, Type(k, d));
    }
    return Status::ok();
  }

  Expected<std::string> lowering(const Node &n) const override {
    if (!def_->lower)
      return unsupported(describeLibrary(), ": ", fullName(),
                         " has no lowering");
    NodeView view;
    EMBER_TRY(view.build(*this, n, operandTypes(n), &n.types));
    ember_op_text text{};
    text.struct_size = sizeof(text);
    ember_op_lower_args a{};
    a.struct_size = sizeof(a);
    a.host = &lib_->host;
    a.user_data = def_->user_data;
    a.node = view.node();
    a.text = &text;
    const std::string what = "the lowering of " + fullName();
    EMBER_TRY(lib_->take(def_->lower(&a), what));
    if (!text.data)
      return makeError(ErrorCode::Backend, lib_->describe(), ": ", what,
                       " returned no text");
    if (text.size > (size_t(1) << 26)) {
      (void)lib_->release(text.data); // (a foreign block is left alone)
      return makeError(ErrorCode::Backend, lib_->describe(), ": ", what,
                       " returned ", text.size, " bytes (at most 64 MiB)");
    }
    std::string s(text.data, text.size);
    if (!lib_->release(text.data))
      return makeError(ErrorCode::Backend, lib_->describe(), ": ", what,
                       " returned text not allocated with host->alloc");
    return s;
  }

  Expected<std::unique_ptr<CustomKernel>>
  instantiate(const Node &n, const KernelOptions &o) const override {
    auto k = std::make_unique<LibraryKernel>(lib_, def_, fullName(), o);
    EMBER_TRY(k->init(*this, n));
    return std::unique_ptr<CustomKernel>(std::move(k));
  }

private:
  std::shared_ptr<Library> lib_;
  const ember_op_def *def_;
};

} // namespace

std::shared_ptr<CustomOp> makeOp(std::shared_ptr<Library> lib,
                                 const ember_op_def *def) {
  auto op = std::make_shared<LibraryOp>(lib, def);
  op->domain = normalizeDomain(def->domain);
  op->name = def->name;
  op->opsetFirst = def->opset_first;
  op->opsetLast = def->opset_last;
  op->minInputs = def->min_inputs;
  op->maxInputs = def->max_inputs;
  op->minOutputs = def->min_outputs;
  op->maxOutputs = def->max_outputs;
  op->integerForm =
      def->integer_form == EMBER_OP_INTEGER_LOWERING ? IntegerForm::Lowering
      : def->integer_form == EMBER_OP_INTEGER_KERNEL ? IntegerForm::Kernel
                                                     : IntegerForm::None;
  op->hasLowering = def->lower != nullptr;
  op->testCases = def->test_cases ? def->test_cases : "";
  op->libraryName = lib->name;
  op->libraryPath = lib->path;
  return op;
}

} // namespace ember::backend::oplib
