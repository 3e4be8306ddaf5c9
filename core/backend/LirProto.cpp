// LIR <-> the backend-api protobuf schema
// (backend-api/proto/ember/backend/v1/lir.proto). As for the graph
// (GraphProto.cpp), deserialization treats the bytes as hostile: buffer and
// value ids, instruction operands, attributes and tensors are checked, and
// the program finally passes lir::verify. Errors name the buffer or
// instruction.
#include "backend/ProgramProtoCommon.h"

#include "ember/backend/v1/lir.pb.h"
#include "ir/Printer.h"

namespace ember::backend {

namespace {

using namespace detail;

// ---- LIR -------------------------------------------------------------------

v1::Buffer::Kind bufferKindToProto(lir::BufferKind k) {
  switch (k) {
  case lir::BufferKind::Input:
    return v1::Buffer::INPUT;
  case lir::BufferKind::Output:
    return v1::Buffer::OUTPUT;
  case lir::BufferKind::Weight:
    return v1::Buffer::WEIGHT;
  case lir::BufferKind::Activation:
    return v1::Buffer::ACTIVATION;
  }
  return v1::Buffer::INPUT;
}

Expected<lir::BufferKind> bufferKindFromProto(int k, const std::string &what) {
  switch (k) {
  case v1::Buffer::INPUT:
    return lir::BufferKind::Input;
  case v1::Buffer::OUTPUT:
    return lir::BufferKind::Output;
  case v1::Buffer::WEIGHT:
    return lir::BufferKind::Weight;
  case v1::Buffer::ACTIVATION:
    return lir::BufferKind::Activation;
  }
  return invalid(what, ": unknown buffer kind ", k);
}

v1::Operand::Access accessToProto(lir::Access a) {
  switch (a) {
  case lir::Access::In:
    return v1::Operand::IN;
  case lir::Access::Out:
    return v1::Operand::OUT;
  case lir::Access::InOut:
    return v1::Operand::INOUT;
  }
  return v1::Operand::IN;
}

v1::Instruction::Kind instKindToProto(lir::InstKind k) {
  switch (k) {
  case lir::InstKind::Compute:
    return v1::Instruction::COMPUTE;
  case lir::InstKind::Alloc:
    return v1::Instruction::ALLOC;
  case lir::InstKind::Dealloc:
    return v1::Instruction::DEALLOC;
  case lir::InstKind::Copy:
    return v1::Instruction::COPY;
  case lir::InstKind::DmaStart:
    return v1::Instruction::DMA_START;
  case lir::InstKind::DmaWait:
    return v1::Instruction::DMA_WAIT;
  }
  return v1::Instruction::COMPUTE;
}

const char *instKindText(lir::InstKind k) {
  switch (k) {
  case lir::InstKind::Compute:
    return "compute";
  case lir::InstKind::Alloc:
    return "alloc";
  case lir::InstKind::Dealloc:
    return "dealloc";
  case lir::InstKind::Copy:
    return "copy";
  case lir::InstKind::DmaStart:
    return "dma.start";
  case lir::InstKind::DmaWait:
    return "dma.wait";
  }
  return "?";
}

Status lirToProto(const lir::Function &f, v1::LirProgram &p) {
  p.set_schema_version(kLirSchemaVersion);
  EMBER_TRY(checkUtf8(f.name, "the LIR function name"));
  p.set_name(f.name);
  for (const lir::MemorySpace &s : f.spaces) {
    v1::MemorySpace *ps = p.add_spaces();
    EMBER_TRY(checkUtf8(s.name, "LIR space name"));
    ps->set_name(s.name);
    ps->set_capacity(s.capacity);
    ps->set_alignment(s.alignment);
  }
  for (size_t i = 0; i < f.buffers.size(); ++i) {
    const lir::Buffer &b = f.buffers[i];
    std::string where = concat("LIR buffer #", i, " ", valueRef(b.name));
    EMBER_TRY(checkUtf8(b.name, concat("LIR buffer #", i, ": the name")));
    v1::Buffer *pb = p.add_buffers();
    pb->set_name(b.name);
    EMBER_TRY(typeToProto(b.type, *pb->mutable_type(), where));
    pb->set_space(b.space);
    pb->set_kind(bufferKindToProto(b.kind));
    if (b.kind == lir::BufferKind::Weight) {
      if (!b.payload || b.payload->type() != b.type || !b.payload->hasData() ||
          b.payload->bytes() != b.type.sizeInBytes())
        return invalid(where, ": a weight needs a payload of type ",
                       b.type.toString());
      pb->set_payload(b.payload->raw(), b.payload->bytes());
    } else if (b.payload) {
      return invalid(where, ": only weights have a payload");
    }
    // Offsets: activations only (-1: not planned).
    if (b.kind == lir::BufferKind::Activation)
      pb->set_offset(b.offset < 0 ? -1 : b.offset);
    else if (b.offset >= 0)
      return invalid(where, ": only activations have an offset");
  }
  for (size_t i = 0; i < f.views.size(); ++i) {
    const lir::View &v = f.views[i];
    EMBER_TRY(checkUtf8(v.name, concat("LIR view #", i, ": the name")));
    v1::View *pv = p.add_views();
    pv->set_name(v.name);
    pv->set_buffer(v.buffer);
    pv->set_offset(v.offset);
    EMBER_TRY(typeToProto(v.type, *pv->mutable_type(),
                          concat("LIR view #", i, " ", valueRef(v.name))));
  }
  for (size_t i = 0; i < f.insts.size(); ++i) {
    const lir::Instruction &in = f.insts[i];
    std::string where =
        concat("LIR instruction #", i, " (",
               in.kind == lir::InstKind::Compute ? opName(in.op)
                                                 : instKindText(in.kind),
               ")");
    v1::Instruction *pi = p.add_instructions();
    pi->set_kind(instKindToProto(in.kind));
    // Only the fields of the instruction's kind (the ones it prints).
    if (in.kind == lir::InstKind::Compute) {
      pi->set_op(opName(in.op));
      for (auto &kv : in.attrs) {
        if (kv.first.empty())
          return invalid(where, ": an attribute has no name");
        EMBER_TRY(checkUtf8(kv.first, where + ": the attribute name"));
        v1::Attribute *pa = pi->add_attributes();
        pa->set_name(kv.first);
        EMBER_TRY(attrToProto(kv.second, *pa, -1,
                              where + ": attribute '" + kv.first + "'"));
      }
    }
    if (in.kind != lir::InstKind::DmaWait)
      for (const lir::Operand &op : in.operands) {
        v1::Operand *po = pi->add_operands();
        v1::Ref *pr = po->mutable_ref();
        switch (op.ref.kind) {
        case lir::Ref::Kind::None:
          pr->set_kind(v1::Ref::NONE);
          break;
        case lir::Ref::Kind::Buffer:
          pr->set_kind(v1::Ref::BUFFER);
          pr->set_index(op.ref.index);
          break;
        case lir::Ref::Kind::View:
          pr->set_kind(v1::Ref::VIEW);
          pr->set_index(op.ref.index);
          break;
        }
        po->set_access(accessToProto(op.access));
      }
    if (in.kind == lir::InstKind::DmaStart ||
        in.kind == lir::InstKind::DmaWait) {
      EMBER_TRY(checkUtf8(in.token, where + ": the token"));
      pi->set_token(in.token);
    }
    if (in.kind == lir::InstKind::DmaStart) {
      pi->set_bytes(in.bytes);
      pi->mutable_shape()->Add(in.shape.begin(), in.shape.end());
      pi->mutable_dst_strides()->Add(in.dstStrides.begin(),
                                     in.dstStrides.end());
      pi->mutable_src_strides()->Add(in.srcStrides.begin(),
                                     in.srcStrides.end());
    }
    EMBER_TRY(checkUtf8(in.loc, where + ": the loc"));
    pi->set_loc(in.loc);
  }
  return Status::ok();
}

class LirReader {
public:
  explicit LirReader(const v1::LirProgram &p) : p_(p) {}

  Expected<lir::Function> read() {
    if (p_.schema_version() != kLirSchemaVersion)
      return makeError(ErrorCode::Unsupported, "LIR program '", p_.name(),
                       "' has schema version ", p_.schema_version(),
                       ", but this reader supports version ",
                       kLirSchemaVersion);
    f_.name = p_.name();
    for (const v1::MemorySpace &s : p_.spaces())
      f_.spaces.push_back({s.name(), s.capacity(), s.alignment()});
    for (int i = 0; i < p_.buffers_size(); ++i)
      EMBER_TRY(buffer(i));
    for (int i = 0; i < p_.views_size(); ++i)
      EMBER_TRY(view(i));
    for (int i = 0; i < p_.instructions_size(); ++i)
      EMBER_TRY(instruction(i));
    // Structure is sound now (every index is in range): the LIR verifier
    // does the rest, demanding a plan when every activation has one.
    lir::VerifyOptions vo;
    vo.requirePlanned = true;
    for (const lir::Buffer &b : f_.buffers)
      if (b.kind == lir::BufferKind::Activation && b.offset < 0)
        vo.requirePlanned = false;
    EMBER_TRY(lir::verify(f_, vo).withContext("LIR program '" + f_.name + "'"));
    return std::move(f_);
  }

private:
  Status buffer(int i) {
    const v1::Buffer &pb = p_.buffers(i);
    std::string where = concat("LIR buffer #", i, " ", valueRef(pb.name()));
    lir::Buffer b;
    b.name = pb.name();
    if (!pb.has_type())
      return invalid(where, ": no type");
    EMBER_ASSIGN(b.type, typeFromProto(pb.type(), where));
    if (pb.space() >= f_.spaces.size())
      return invalid(where, ": space ", pb.space(), ", but the program has ",
                     f_.spaces.size(), " spaces");
    b.space = pb.space();
    EMBER_ASSIGN(b.kind, bufferKindFromProto(pb.kind(), where));
    if (b.kind == lir::BufferKind::Weight) {
      EMBER_ASSIGN(Tensor t,
                   tensorFromBytes(b.type, pb.payload(), where + ": payload"));
      b.payload = std::make_shared<const Tensor>(std::move(t));
    } else if (!pb.payload().empty()) {
      return invalid(where, ": only weights have a payload (this is an ",
                     lir::bufferKindName(b.kind), ")");
    }
    if (b.kind == lir::BufferKind::Activation) {
      if (pb.offset() < -1)
        return invalid(where, ": offset ", pb.offset(),
                       " (-1: not planned, else a byte offset)");
      b.offset = pb.offset();
    } else if (pb.offset() != 0 && pb.offset() != -1) {
      return invalid(where, ": only activations have an offset (this is an ",
                     lir::bufferKindName(b.kind), ", offset ", pb.offset(),
                     ")");
    }
    f_.buffers.push_back(std::move(b));
    return Status::ok();
  }

  Status view(int i) {
    const v1::View &pv = p_.views(i);
    std::string where = concat("LIR view #", i, " ", valueRef(pv.name()));
    lir::View v;
    v.name = pv.name();
    if (pv.buffer() >= f_.buffers.size())
      return invalid(where, ": buffer ", pv.buffer(), ", but the program has ",
                     f_.buffers.size(), " buffers");
    v.buffer = pv.buffer();
    v.offset = pv.offset();
    if (!pv.has_type())
      return invalid(where, ": no type");
    EMBER_ASSIGN(v.type, typeFromProto(pv.type(), where));
    f_.views.push_back(std::move(v));
    return Status::ok();
  }

  Expected<lir::Ref> ref(const v1::Ref &r, const std::string &what) {
    switch (r.kind()) {
    case v1::Ref::NONE:
      if (r.index() != 0)
        return invalid(what, ": an absent operand (NONE) with index ",
                       r.index());
      return lir::Ref::none();
    case v1::Ref::BUFFER:
      if (r.index() >= f_.buffers.size())
        return invalid(what, " refers to buffer ", r.index(),
                       ", but the program has ", f_.buffers.size(), " buffers");
      return lir::Ref::buffer(r.index());
    case v1::Ref::VIEW:
      if (r.index() >= f_.views.size())
        return invalid(what, " refers to view ", r.index(),
                       ", but the program has ", f_.views.size(), " views");
      return lir::Ref::view(r.index());
    default:
      break;
    }
    return invalid(what, ": unknown reference kind ", int(r.kind()));
  }

  Status instruction(int i) {
    const v1::Instruction &pi = p_.instructions(i);
    lir::Instruction in;
    std::string where;
    switch (pi.kind()) {
    case v1::Instruction::COMPUTE:
      in.kind = lir::InstKind::Compute;
      break;
    case v1::Instruction::ALLOC:
      in.kind = lir::InstKind::Alloc;
      break;
    case v1::Instruction::DEALLOC:
      in.kind = lir::InstKind::Dealloc;
      break;
    case v1::Instruction::COPY:
      in.kind = lir::InstKind::Copy;
      break;
    case v1::Instruction::DMA_START:
      in.kind = lir::InstKind::DmaStart;
      break;
    case v1::Instruction::DMA_WAIT:
      in.kind = lir::InstKind::DmaWait;
      break;
    default:
      return invalid("LIR instruction #", i, ": unknown kind ", int(pi.kind()));
    }
    if (in.kind == lir::InstKind::Compute) {
      if (!opKindFromName(pi.op(), in.op))
        return invalid("LIR instruction #", i, " (", quoteString(pi.op()),
                       "): unknown op");
      where = concat("LIR instruction #", i, " (", pi.op(), ")");
      if (isStorage(in.op))
        return invalid(where, ": ", pi.op(), " is not an instruction");
    } else {
      where = concat("LIR instruction #", i, " (", instKindText(in.kind), ")");
      if (!pi.op().empty() || pi.attributes_size())
        return invalid(where, ": only compute instructions have an op and "
                              "attributes");
    }
    bool dma =
        in.kind == lir::InstKind::DmaStart || in.kind == lir::InstKind::DmaWait;
    if (!dma && !pi.token().empty())
      return invalid(where, ": only DMA instructions have a token");
    if (in.kind != lir::InstKind::DmaStart &&
        (pi.bytes() || pi.shape_size() || pi.dst_strides_size() ||
         pi.src_strides_size()))
      return invalid(where, ": only dma.start has bytes, shape and strides");
    size_t want = 0;
    switch (in.kind) {
    case lir::InstKind::Compute:
      want = size_t(pi.operands_size());
      break;
    case lir::InstKind::Alloc:
    case lir::InstKind::Dealloc:
      want = 1;
      break;
    case lir::InstKind::Copy:
    case lir::InstKind::DmaStart:
      want = 2;
      break;
    case lir::InstKind::DmaWait:
      want = 0;
      break;
    }
    if (size_t(pi.operands_size()) != want)
      return invalid(where, ": ", pi.operands_size(), " operands, but ",
                     instKindText(in.kind), " has ", want);
    for (int k = 0; k < pi.operands_size(); ++k) {
      const v1::Operand &po = pi.operands(k);
      std::string what = concat(where, ": operand ", k);
      lir::Operand op;
      EMBER_ASSIGN(op.ref, ref(po.ref(), what));
      switch (po.access()) {
      case v1::Operand::IN:
        op.access = lir::Access::In;
        break;
      case v1::Operand::OUT:
        op.access = lir::Access::Out;
        break;
      case v1::Operand::INOUT:
        op.access = lir::Access::InOut;
        break;
      default:
        return invalid(what, ": unknown access ", int(po.access()));
      }
      in.operands.push_back(op);
    }
    if (in.kind == lir::InstKind::Compute) {
      // Kernel inputs are the reading operands, in order.
      size_t k = 0;
      for (const lir::Operand &op : in.operands) {
        if (!op.reads())
          continue;
        if (!op.ref && !mayBeAbsent(in.op, k))
          return invalid(where, ": input ", k, " is absent, but ", pi.op(),
                         " requires it");
        ++k;
      }
      EMBER_TRY(attrsFromProto(pi.attributes(), -1, where, in.attrs));
    }
    in.token = pi.token();
    in.bytes = pi.bytes();
    in.shape.assign(pi.shape().begin(), pi.shape().end());
    in.dstStrides.assign(pi.dst_strides().begin(), pi.dst_strides().end());
    in.srcStrides.assign(pi.src_strides().begin(), pi.src_strides().end());
    in.loc = pi.loc();
    f_.insts.push_back(std::move(in));
    return Status::ok();
  }

  const v1::LirProgram &p_;
  lir::Function f_;
};

} // namespace

Expected<std::string> serializeLir(const lir::Function &f) {
  v1::LirProgram p;
  EMBER_TRY(lirToProto(f, p));
  return serializeMessage(p, "ember.backend.v1.LirProgram");
}

Expected<lir::Function> deserializeLir(const void *data, size_t size) {
  v1::LirProgram p;
  EMBER_TRY(parseMessage(data, size, p, "ember.backend.v1.LirProgram"));
  return LirReader(p).read();
}

} // namespace ember::backend
