// The description, emission and packing of the second NPU (SecondNpu.h).
#include "SecondNpu.h"

#include "ember/accel/Pack.h"

#include <algorithm>
#include <cstring>

namespace second_npu {

namespace {

const char kJson[] =
#include "Target.inc"
    ;

struct Parsed {
  Target t;
  std::string error;
  Parsed() {
    error = parseTarget(kJson, t).message();
    // The engines in queue order and one memory: the layer's engine index
    // is the queue, its rows are SRAM rows.
    const char *const names[] = {"DMA0", "DMA1", "MAC", "OUT"};
    if (error.empty() && (t.engines.size() != 4 || t.memories.size() != 1))
      error = "the description must list the engines DMA0, DMA1, MAC, OUT "
              "and one memory";
    for (size_t i = 0; error.empty() && i < 4; ++i)
      if (t.engines[i].name != names[i])
        error = "engines[" + std::to_string(i) + "] must be " + names[i];
    if (error.empty() && t.lanes != snpu::kLanes)
      error = "lanes must be " + std::to_string(snpu::kLanes);
  }
};

const Parsed &parsed() {
  static const Parsed p;
  return p;
}

} // namespace

const Target &target() { return parsed().t; }
const std::string &targetError() { return parsed().error; }
const char *targetJson() { return kJson; }

std::string emitOp(const Op &op, snpu::Insn &in) {
  using snpu::Opcode;
  in = snpu::Insn();
  in.queue = op.engine < 0 ? 0 : uint32_t(op.engine);
  in.wait = op.wait;
  in.signal = op.signal;
  auto u = [](int64_t v) { return uint64_t(v); };
  auto s8 = [](int64_t v) { return uint64_t(v) & 0xff; };
  switch (op.kind) {
  case OpKind::Load:
  case OpKind::Store:
    in.op = op.kind == OpKind::Load ? Opcode::LOAD : Opcode::STORE;
    in.row = u(op.row), in.dram = u(op.dram), in.ysize = u(op.ysize);
    in.xsize = u(op.xsize), in.stride = u(op.stride);
    in.wide = op.cls == Cls::Acc || op.cls == Cls::Param;
    if (op.kind == OpKind::Load) {
      in.pt = u(op.padTop), in.pb = u(op.padBottom);
      in.pl = u(op.padLeft), in.pr = u(op.padRight);
    }
    break;
  case OpKind::Gemm:
    in.op = Opcode::MAC;
    in.acc = u(op.acc), in.act = u(op.act), in.wgt = u(op.wgt);
    in.inner = u(op.inner), in.outer = u(op.outer);
    in.acts = u(op.actOstride), in.accs = u(op.accOstride);
    in.reset = op.reset;
    break;
  case OpKind::Requant:
    in.op = Opcode::REQ;
    in.dst = u(op.dst), in.src = u(op.src), in.rows = u(op.rows);
    in.param = u(op.param), in.zp = s8(op.zp), in.lo = s8(op.min);
    in.hi = s8(op.max), in.bias = op.bias, in.lut = op.lut;
    break;
  case OpKind::VAdd:
    in.op = Opcode::ADD;
    in.dst = u(op.dst), in.a = u(op.a), in.b = u(op.b), in.rows = u(op.rows);
    in.lut = op.lut;
    break;
  case OpKind::VMul:
    if (op.a16 || op.b16 || op.out16 || op.one)
      return "the second NPU multiplies int8 rows only";
    in.op = Opcode::MUL;
    in.dst = u(op.dst), in.a = u(op.a), in.b = u(op.b), in.rows = u(op.rows);
    in.lut = op.lut, in.bcast = op.bcast;
    break;
  case OpKind::LutLd:
    if (op.w16)
      return "the second NPU has no 16-bit table";
    in.op = Opcode::LUTLD;
    in.src = u(op.src);
    break;
  case OpKind::SetReg:
    in.op = Opcode::SETREG;
    in.reg = u(op.reg), in.value = uint64_t(uint32_t(int32_t(op.value)));
    break;
  case OpKind::Finish:
    in.op = Opcode::END;
    break;
  case OpKind::Copy:
  case OpKind::DwGemm:
  case OpKind::Pool:
  case OpKind::Upsample:
  case OpKind::Lut:
  case OpKind::VReduce:
  case OpKind::RScalar:
  case OpKind::VRowMul:
  case OpKind::VRowExp:
    return std::string("the second NPU has no ") + opKindName(op.kind);
  }
  return "";
}

std::string emitProgram(const Program &p, std::vector<uint8_t> &words) {
  words.assign(p.ops.size() * 16, 0);
  for (size_t i = 0; i < p.ops.size(); ++i) {
    snpu::Insn in;
    std::string err = emitOp(p.ops[i], in);
    if (!err.empty())
      return "operation " + std::to_string(i) + ": " + err;
    snpu::Word w = snpu::encode(in);
    std::memcpy(&words[16 * i], &w.lo, 8);
    std::memcpy(&words[16 * i + 8], &w.hi, 8);
  }
  return "";
}

std::string programAsm(const Program &p) {
  std::string s;
  int32_t layer = -2;
  for (size_t i = 0; i < p.ops.size(); ++i) {
    int32_t l = i < p.opLayer.size() ? p.opLayer[i] : -1;
    if (l != layer && l >= 0 && size_t(l) < p.layers.size())
      s += "; layer " + std::to_string(l) + ": " + p.layers[size_t(l)].name +
           " (" + p.layers[size_t(l)].op + ")\n";
    layer = l;
    snpu::Insn in;
    std::string err = emitOp(p.ops[i], in);
    s += err.empty() ? snpu::format(in) + "\n" : "; error: " + err + "\n";
  }
  return s;
}

namespace {

// A GEMM layer's constants in this NPU's arrangement: a weight tile is 32
// rows of 32 bytes, row k = input channel k of the tile, byte j = output
// channel j (the array takes 8 rows a cycle against the 32 accumulators);
// bias rows and tables are int32 rows of 32 channels (a table: multiplier,
// shift and, for REQ's bias bit, bias).
void packGemm(const GemmLayer &g, const GemmTables &tb, uint8_t *img) {
  const int64_t L = snpu::kLanes;
  const int64_t Kt = ceilDiv(g.K, L), Cg = g.C / g.groups, Kg = g.K / g.groups,
                taps = g.sum ? 1 : g.kh * g.kw;
  for (int64_t ko = 0; ko < Kt; ++ko) {
    int8_t *blk = reinterpret_cast<int8_t *>(img + tb.wOff[size_t(ko)]);
    const std::vector<int64_t> &rel = tb.rel[size_t(ko)];
    for (size_t ri = 0; ri < rel.size(); ++ri)
      for (int64_t tap = 0; tap < taps; ++tap)
        for (int64_t k = 0; k < L; ++k) {
          const int64_t ic = rel[ri] * L + k;
          for (int64_t j = 0; j < L; ++j) {
            const int64_t oc = ko * L + j, grp = oc / Kg;
            if (oc >= g.K || ic >= g.C || ic / Cg != grp)
              continue;
            blk[((int64_t(ri) * taps + tap) * L + k) * L + j] =
                g.sum ? int8_t(ic == oc)
                      : g.w[size_t((oc * Cg + ic - grp * Cg) * taps + tap)];
          }
        }
  }
  std::vector<int32_t> bias(size_t(Kt * L), 0);
  for (int64_t oc = 0; oc < g.K && !g.bias.empty(); ++oc)
    bias[size_t(oc)] = g.bias[size_t(oc)];
  std::memcpy(img + tb.biasOff, bias.data(), bias.size() * 4);
  auto table = [&](uint64_t off, int rows) {
    std::vector<int32_t> t(size_t(Kt * rows * L), 0);
    for (int64_t oc = 0; oc < g.K; ++oc) {
      const size_t at = size_t((oc / L) * rows * L + oc % L);
      t[at] = g.rq.mult[size_t(oc)];
      t[at + size_t(L)] = g.rq.shift[size_t(oc)];
      if (rows == 3)
        t[at + size_t(2 * L)] = bias[size_t(oc)];
    }
    std::memcpy(img + off, t.data(), t.size() * 4);
  };
  if (g.requant)
    table(tb.paramOff, 2);
  if (g.requant && tb.rqBias)
    table(tb.rqParamOff, 3);
  if (tb.gemmBias) {
    int8_t *ones = reinterpret_cast<int8_t *>(img + tb.onesOff);
    ones[0] = 1;
    for (int64_t k = 1; k < L; ++k)
      ones[k] = -128;
    // Output channel j's row of the layer's rule, stored as byte j of rows
    // k (this NPU's tile is input-major).
    int8_t *tiles = reinterpret_cast<int8_t *>(img + tb.biasTileOff);
    int8_t row[snpu::kLanes];
    for (int64_t oc = 0; oc < Kt * L; ++oc) {
      biasTileRow(L, bias[size_t(oc)], row);
      for (int64_t k = 0; k < L; ++k)
        tiles[((oc / L) * L + k) * L + oc % L] = row[k];
    }
  }
}

} // namespace

void packImage(const LayerProgram &lp, Program &p) {
  writeConstants(lp, p);
  for (size_t i = 0; i < lp.layers.size() && i < p.tables.size(); ++i) {
    if (lp.layers[i].kind == Layer::Kind::Gemm)
      packGemm(lp.layers[i].gemm, p.tables[i], p.image.data());
    // The output table: the layer's entry k is the result for the stored
    // input k - 128; the output unit indexes its table by the stored byte
    // as unsigned (entry e for e, or e - 256 above 127), so the halves
    // swap.
    const GemmTables &tb = p.tables[i];
    if (tb.lut && tb.lutOff + snpu::kLutEntries <= p.image.size()) {
      uint8_t *t = p.image.data() + tb.lutOff;
      std::rotate(t, t + snpu::kLutEntries / 2, t + snpu::kLutEntries);
    }
  }
}

} // namespace second_npu
