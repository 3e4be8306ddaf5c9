// The layer's operations as the example NPU's instructions (NpuTarget.h):
// one instruction each, the fields copied, the sync bits as token masks.
#include "NpuTarget.h"

#include "ember/npu/Assembler.h"
#include "ember/npu/Builders.h"

#include <sstream>

namespace ember::npusim {

namespace {

const char kJson[] =
#include "NpuTarget.inc"
    ;

struct Parsed {
  Target target;
  std::string error;
  Parsed() {
    error = parseTarget(kJson, target).message();
    // The engines and memories in the spec's order: the generic layer's
    // indices are this NPU's ids and token channels.
    if (error.empty() && (target.engines.size() != size_t(npu::kNumEngines) ||
                          target.memories.size() != size_t(npu::kNumMems)))
      error = "the target description does not list the spec's engines and "
              "memories";
  }
};

const Parsed &parsed() {
  static const Parsed p;
  return p;
}

} // namespace

const Target &npuTarget() { return parsed().target; }
const std::string &npuTargetError() { return parsed().error; }
const char *npuTargetJson() { return kJson; }

npu::Insn encodeOp(const Target &, const Op &op) {
  npu::Insn in;
  switch (op.kind) {
  case OpKind::Load: // 16-bit rows: LOAD16 (spec version 3)
    in = (op.w16 ? npu::load16Insn : npu::loadInsn)(
        op.mem, op.row, op.dram, op.ysize, op.xsize, op.stride, op.padTop,
        op.padBottom, op.padLeft, op.padRight);
    break;
  case OpKind::Store:
    in = (op.w16 ? npu::store16Insn
                 : npu::storeInsn)(op.mem, op.row, op.dram, op.ysize, op.xsize,
                                   op.stride, op.rep, op.xstep, op.lanes);
    break;
  case OpKind::Copy:
    in = npu::moveInsn(op.dst, op.src, op.ysize, op.xsize, op.stride, op.padTop,
                       op.padBottom, op.padLeft, op.padRight, 0, op.w16);
    break;
  case OpKind::Gemm:
    in = npu::gemmInsn(op.reset, op.acc, op.act, op.wgt, op.inner, op.outer,
                       op.actOstride, op.accOstride);
    if (op.w16) // both byte planes at once: GEMM16 (spec version 5)
      in.op = npu::Opcode::GEMM16;
    break;
  case OpKind::DwGemm:
    in = npu::dwgemmInsn(op.reset, op.acc, op.act, op.wgt, op.inner, op.outer,
                         op.actOstride, op.accOstride, op.taps, op.stride,
                         op.bias);
    if (op.w16) // DWGEMM16 (spec version 5)
      in.op = npu::Opcode::DWGEMM16;
    break;
  case OpKind::Requant:
    in = npu::requantInsn(op.dst, op.src, op.rows, op.param, op.zp, op.min,
                          op.max, op.bias, op.lut, op.acc16, op.out16);
    break;
  case OpKind::VAdd:
    in = npu::vaddInsn(op.dst, op.a, op.b, op.rows, op.lut, op.w16);
    in.exact = op.exact;
    break;
  case OpKind::Pool:
    in =
        npu::poolInsn(op.avg, op.dst, op.src, op.rows, 0, 0, 0, op.lut, op.w16);
    break;
  case OpKind::SetReg:
    in = npu::setregInsn(unsigned(op.reg), op.value);
    break;
  case OpKind::Finish:
    in = npu::makeInsn(npu::Opcode::FINISH);
    break;
  case OpKind::LutLd:
    in = npu::lutldInsn(op.src, op.w16);
    break;
  case OpKind::Lut:
    in = npu::lutInsn(op.dst, op.src, op.rows, op.w16);
    break;
  case OpKind::VMul:
    in = npu::vmulInsn(op.dst, op.a, op.b, op.rows, op.bcast, op.lut, op.a16,
                       op.b16, op.out16, op.one);
    break;
  case OpKind::Upsample:
    in = npu::upsampleInsn(op.dst, op.src, op.upW, op.upH, op.oy, op.oh,
                           op.factor, op.mode, op.zp, op.lut);
    break;
  case OpKind::VReduce: // spec versions 6, 9 and 10 (exp)
    in =
        npu::vreduceInsn(op.dst, op.src, op.rows, op.len, op.gstride,
                         op.kstride, op.last, op.w16, op.sum, op.sq, op.center);
    in.exp = op.exp;
    break;
  case OpKind::RScalar: // spec version 7
    in = npu::rscalarInsn(op.dst, op.src, op.rows, op.rsqrt);
    break;
  case OpKind::VRowMul: // spec version 8
    in = npu::vrowmulInsn(op.dst, op.src, op.rows, op.stride, op.scal,
                          op.sumRow, op.param, op.w16, op.out16, op.center);
    break;
  case OpKind::VRowExp: // spec version 11: VROWMUL's fields less param, center
    in = npu::makeInsn(npu::Opcode::VROWEXP);
    in.dst = op.dst;
    in.src = op.src;
    in.rows = op.rows;
    in.stride = op.stride;
    in.scal = op.scal;
    in.sum = op.sumRow;
    in.w16 = op.w16;
    in.out16 = op.out16;
    break;
  }
  // The description lists the engines in the spec's order, so a sync bit
  // (src * engines + dst) is the token channel EMBER_NPU_TOKEN_CHANNEL.
  in.wait = op.wait;
  in.signal = op.signal;
  return in;
}

std::vector<npu::Insn> encodeProgram(const Target &t, const Program &p) {
  std::vector<npu::Insn> v;
  v.reserve(p.ops.size());
  for (const Op &op : p.ops)
    v.push_back(encodeOp(t, op));
  return v;
}

namespace {

std::string tensorText(const NTensor &t) {
  std::ostringstream os;
  os << t.name << " "
     << (t.i32   ? "i32"
         : t.i16 ? "i16"
         : t.u8  ? "u8"
                 : "i8")
     << "[";
  for (size_t i = 0; i < t.dims.size(); ++i)
    os << (i ? "," : "") << t.dims[i];
  os << "] at dram " << t.dram << " (" << t.tiles() << " channel tiles x "
     << t.P << " rows)";
  return os.str();
}

} // namespace

std::string programAsm(const Target &t, const Program &p) {
  std::ostringstream os;
  os << "# Ember NPU program (DIM " << p.lanes << "): " << p.ops.size()
     << " instructions, " << p.image.size()
     << " bytes of weights and tables in DRAM at 0, activations from "
     << p.activationBase << ", " << p.dramBytes << " bytes of DRAM in all\n";
  for (const NTensor &x : p.inputs)
    os << "# input  " << tensorText(x) << "\n";
  for (const NTensor &x : p.outputs)
    os << "# output " << tensorText(x) << "\n";
  int32_t cur = -2;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    int32_t l = i < p.opLayer.size() ? p.opLayer[i] : -1;
    if (l != cur) {
      cur = l;
      if (l >= 0 && size_t(l) < p.layers.size()) {
        const LayerInfo &li = p.layers[size_t(l)];
        os << "# layer " << l << " '" << li.name << "' (" << li.op << ")";
        if (li.nodes.size() > 1) {
          os << ": nodes";
          for (const std::string &n : li.nodes)
            os << " '" << n << "'";
        }
        if (!li.tiling.empty())
          os << "; tiles " << li.tiling;
        os << "\n";
      }
    }
    os << npu::formatInsn(encodeOp(t, p.ops[i])) << "\n";
  }
  return os.str();
}

void injectDeadlock(const Target &t, Program &p) {
  for (Op &op : p.ops)
    if (op.kind == OpKind::Gemm) {
      op.wait |= 1u << t.channel(t.engineFor(OpKind::Requant),
                                 t.engineFor(OpKind::Gemm));
      return;
    }
}

std::string compileLayers(const LayerProgram &lp, const CodegenOptions &o,
                          Program &out) {
  const Target &t = npuTarget();
  if (!npuTargetError().empty())
    return "the NPU's target description: " + npuTargetError();
  std::string err = generateProgram(t, lp, o, out).message();
  if (!err.empty())
    return err;
  packImage(t, lp, out);
  return "";
}

} // namespace ember::npusim
