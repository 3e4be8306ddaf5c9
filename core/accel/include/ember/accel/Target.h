// A target description: what the NPU compiler layer knows of an accelerator,
// as data (docs/npu-sdk.md, "The target description"). A vendor writes it
// once as a JSON document (or generates it from their hardware spec, as the
// example NPU does from hw/spec/npu.json); parseTarget reads and validates
// it, and every generic pass of the layer (selection, tiling, residency,
// DMA scheduling, dependency insertion, the cost model, the tuner) reads
// only this struct. Nothing in the layer names a particular NPU's memories,
// engines, array size or field widths.
//
// The abstract machine the layer compiles for: tensors live in DRAM in a
// channel-tiled layout ([channel tile][pixel][lanes]: one row holds `lanes`
// channels of one pixel); on-chip memories hold rows of operand classes
// (activations read by the array, weight tiles, int32 accumulators and
// requantization tables, the vector unit's int8 rows); engines run the
// abstract operations (Op.h: DMA loads and stores, on-chip copies, array
// and vector operations, register writes) in order, each from its own
// queue, synchronized by dependency tokens or barriers.
#ifndef EMBER_ACCEL_TARGET_H
#define EMBER_ACCEL_TARGET_H

#include "ember/quant/Profile.h"
#include "support/Json.h"

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace ember::accel {

// The layer reads its JSON files (target descriptions, the tuning cache)
// with the SDK's JSON module (ember/support/Json.h).
using Json = ember::JsonValue;

// The operand classes a memory may hold.
enum class Cls : uint8_t {
  Act,   // int8 rows the array reads (a GEMM layer's input block)
  Wgt,   // weight tiles (lanes x lanes int8)
  Acc,   // int32 accumulator rows (and bias rows)
  Param, // requantization tables (int32 rows: multiplier, shift, bias)
  Out,   // int8 rows the vector unit reads and writes (results, pools, adds)
};
constexpr int kNumCls = 5;
const char *clsName(Cls c);

// The abstract operations (Op.h). A target runs a subset: its `ops`.
enum class OpKind : uint8_t {
  Load,     // DRAM -> memory, 2-D strided, with padding
  Store,    // memory -> DRAM, 2-D strided
  Copy,     // memory -> memory with a load's geometry and padding
  Gemm,     // array: acc (+)= act x weight tile, two-level loop
  DwGemm,   // array: depthwise (per-lane) correlation along a line
  Requant,  // vector: int32 -> int8 with the tables (and a bias row)
  VAdd,     // vector: quantized add of two int8 row runs
  Pool,     // vector: max/average over a window (geometry in registers)
  SetReg,   // a parameter register of an engine
  Finish,   // drain and stop
  LutLd,    // vector: the output table (256 int8 entries) from param rows
  VMul,     // vector: quantized multiply of two int8 row runs (or a row)
  Upsample, // vector: nearest or bilinear upsampling of a map by 2^factor
  Lut,      // vector: rows of the out memory through the last loaded table
  // The integer normalization's steps (LayerNorm, RMSNorm; no divider):
  VReduce, // vector: per group of out rows, its maximum, sum or sum of
           // squared deviations, into an acc row
  RScalar, // vector: per acc row, its reciprocal (square root) as a value
           // and an exponent
  VRowMul, // vector: out rows times their row's scalar and their channel's
           // multiplier, plus the channel's bias, rounded once
  // The integer softmax's last step (VReduce max and exp, RScalar before):
  VRowExp, // vector: out rows' exponentials times their row's reciprocal
};
constexpr int kNumOpKinds = 18;
const char *opKindName(OpKind k);
bool opKindFromName(const std::string &s, OpKind &k);

// Parameter registers the layer sets (SetReg): what each holds.
enum class Reg : uint8_t {
  PadValue,
  PoolKh,
  PoolKw,
  PoolStride,
  PoolInW,
  PoolOutW,
  AddLshift,
  AddAZp,
  AddAMult,
  AddAShift,
  AddBZp,
  AddBMult,
  AddBShift,
  AddOutMult,
  AddOutShift,
  AddOutZp,
  AddMin,
  AddMax,
  // The quantized multiply's (a vector op with per-layer registers).
  MulAZp,
  MulBZp,
  MulMult,
  MulShift,
  MulOutZp,
  MulMin,
  MulMax,
  // The clamp of a 16-bit requantization (Target::wide16).
  Rq16Min,
  Rq16Max,
  // The exact quantized add's (VAdd with exact): 48-bit multipliers of the
  // operands less their lowest, a 64-bit offset and a right shift.
  AddXShift,
  AddXOffsetLo,
  AddXOffsetHi,
  AddXAMult,
  AddXAMultHi,
  AddXBMult,
  AddXBMultHi,
  // The integer normalization's (VReduce sq, VRowMul): the elements of a
  // row (n in D = n x - sum), the input zero point (D = x - x_zp without
  // center), the output's zero point and clamp, and epsilon's two words
  // (where VReduce sq's sum of squares starts).
  RowN,
  RowXZp,
  RowOutZp,
  RowMin,
  RowMax,
  RowEpsLo,
  RowEpsHi,
  // The integer softmax's (VReduce exp, VRowExp): the multiplier of a
  // distance from the row's maximum to log2 units (Q16), and of the
  // normalized exponential to the output (VRowExp also reads row_out_zp,
  // row_min and row_max).
  RowSmInMult,
  RowSmInShift,
  RowSmOutMult,
  RowSmOutShift,
};
constexpr int kNumRegs = 45;
const char *regRoleName(Reg r);

enum class Dataflow : uint8_t { WeightStationary, OutputStationary };
enum class SyncKind : uint8_t { Tokens, Barriers };

struct Memory {
  std::string name;
  uint64_t rows = 0;
  uint64_t rowBytes = 0;
  uint32_t holds = 0; // bit per Cls
  uint32_t readPorts = 1, writePorts = 1, banks = 1;
  bool holdsCls(Cls c) const { return holds >> int(c) & 1u; }
};

struct Engine {
  std::string name;
  uint32_t runs = 0;    // bit per OpKind
  uint32_t classes = 0; // DMA: the operand classes it moves (0: all)
  bool runsKind(OpKind k) const { return runs >> int(k) & 1u; }
};

// One operation's encodable limits: field name -> bits (from the vendor's
// instruction encoding). A missing field is unlimited.
struct OpDesc {
  bool present = false;
  std::vector<std::pair<std::string, unsigned>> fields;
  // The largest value field `f` holds (INT64_MAX when not declared).
  int64_t max(const char *f) const;
};

// A layer form the target runs (docs/npu-sdk.md, "Layer forms"), with its
// limits. The form's name selects a pattern of the layer's form table
// (core/accel/forms/Forms.def).
struct Form {
  std::string name;
  int64_t kernelMax = 0, strideMax = 0, dilationMax = 0, windowMax = 0;
  // The sizes the form allows within those limits, when it lists them
  // ("kernels": ["1x1", "3x3"], "strides", "dilations", "windows"; each
  // height x width): a node of another size is refused at selection, naming
  // the field. Empty: every size up to the limit.
  using Sizes = std::vector<std::pair<int64_t, int64_t>>;
  Sizes kernels, strides, dilations, windows;
  // Whether `list` allows h x w (an empty list allows every size).
  static bool allows(const Sizes &list, int64_t h, int64_t w);
  // "2x2, 3x3".
  static std::string sizesText(const Sizes &list);
  std::vector<std::string> epilogue; // fused stages: bias, requant, pool, add
  // The form also runs with 16-bit activations (16x8: int16 input or
  // output, int8 weights; Target::wide16).
  bool act16 = false;
  bool fuses(const char *stage) const;
};

struct Target {
  std::string name;
  std::string hash; // of the canonical document (or the vendor's "hash")
  int64_t lanes = 0;

  struct {
    int64_t rows = 0, cols = 0;
    Dataflow dataflow = Dataflow::WeightStationary;
    unsigned actBits = 8, wgtBits = 8, accBits = 32;
    // An array op takes max(streamed rows, preload) cycles plus the issue
    // overhead (weight-stationary: the next weight tile preloads while the
    // previous op streams); output-stationary arrays drain `drainRows` per
    // accumulator block.
    int64_t preloadRows = 0, issueOverhead = 0, drainRows = 0;
    // 16x8 in one pass (Target::wide16): a Gemm or DwGemm with w16 takes a
    // 16-bit row pair's two byte planes at once, in the cycles of one 8-bit
    // op, summing the low plane into acc and the high plane into acc +
    // rows/2 (the DwGemm bias into the low plane only); without it every
    // 16x8 array op is two, one per plane.
    bool act16OnePass = false;
  } array;

  std::vector<Memory> memories;
  std::array<int, kNumCls> clsMem{}; // memory holding each class, or -1

  struct {
    uint64_t bytes = 0; // the default device's DRAM
    uint32_t bytesPerCycle = 16, latency = 64, burstBytes = 256;
    uint64_t alignment = 64;
    unsigned addressBits = 32;
  } dram;

  struct {
    uint64_t issueOverhead = 4; // cycles to issue a transfer
    uint64_t turnaround = 0;    // cycles a transfer adds to the DRAM latency
    double rowsPerCycle = 1;    // memory rows a transfer moves a cycle
    uint32_t beatBytes = 64;    // a beat is at most this many bytes
  } dma;

  struct {
    double rowsPerCycle = 1;
    uint64_t issueOverhead = 2;
    // Lanes a 16-bit table lookup (Lut w16) reads a cycle (0: a row a
    // cycle, as the other vector operations).
    uint64_t lut16LanesPerCycle = 0;
  } vector;

  std::vector<Engine> engines;
  std::array<int, kNumOpKinds> kindEngine{}; // first engine running it, -1

  struct {
    SyncKind kind = SyncKind::Tokens;
    unsigned depth = 8;    // tokens outstanding per channel (or counter max)
    unsigned barriers = 0; // barrier ids (SyncKind::Barriers)
  } sync;

  std::array<OpDesc, kNumOpKinds> ops;
  std::array<int, kNumRegs> regs{}; // register id per role, -1: none
  std::array<int, kNumRegs> regEngine{};
  unsigned regCount = 256; // register ids are below this

  struct {
    bool perChannel = true;
    bool biasRow = false; // Requant may add a third table row (the bias)
    std::vector<std::string> outputs{"i8", "u8"};
  } requant;

  struct {
    int64_t maxTaps = 0;   // most taps of one line
    int64_t biasLanes = 0; // lanes of a weight row that may hold the bias
  } dw;

  std::vector<Form> forms;

  // 16-bit activations (requant.outputs lists "i16"): a 16-bit row r of the
  // Act or Out memory is the row pair (r, r + rows/2), the low bytes
  // (excess-128: the low byte minus 128, as int8) at r and the high bytes
  // at r + rows/2; a 16x8 accumulator r of the Acc memory is the low
  // plane's int32 sum at r and the high plane's at r + rows/2, combined by
  // Requant acc16 as (high << 8) + low plus an int64 bias (low word at
  // param + 2, high word at param + 2 + rows/2). The operations' w16,
  // acc16 and out16 flags (Op.h) address them; the layer keeps a 16-bit
  // layer's blocks in the lower halves.
  bool wide16 = false;
  // The arithmetics the target computes bit for bit (its description's
  // `arithmetic`, profile names of ember/quant/Profile.h, the preferred
  // first; docs/quantization.md, "Declared arithmetic"): how its requant
  // and vadd round. Without the field: tflite (vadd's attribute form) and,
  // with vadd's exact flag, fixed first.
  std::vector<quant::RequantProfile> arithmetic;
  bool arithmeticDeclared = false; // the field is present (the manifest's
                                   // requant_profiles list it)
  bool computes(quant::RequantProfile p) const;

  // ---- derived limits (filled by parseTarget) ----
  int64_t maxY = 0, maxX = 0, maxStride = 0, maxPad = 0; // Load/Copy/Store
  int64_t maxInner = 0, maxOuter = 0, maxOstride = 0;    // Gemm loops

  bool has(OpKind k) const { return ops[size_t(k)].present; }
  // Whether operation `k` passes its results through the output table
  // (its description declares the flag "lut"; the table of the last LutLd).
  bool lutFlag(OpKind k) const;
  // Whether operation k's description declares field f (the optional ones:
  // store's rep, xstep and lanes; the flags).
  bool declares(OpKind k, const char *f) const;
  // Whether vadd has the exact flag and the target the add_x_* registers:
  // y = clamp((x_a_mult (a - lowest) + x_b_mult (b - lowest) + x_offset)
  // >> x_shift, add_min, add_max) (quant::AddFixed).
  bool exactAddFlag() const;
  // Param rows of one output table (256 bytes).
  int64_t lutRows() const { return ceilDivRows(256, clsRowBytes(Cls::Param)); }
  // Param rows of one 16-bit table (LutLd w16: 513 int16 entries,
  // little-endian, 1026 bytes; Target::wide16).
  int64_t lut16Rows() const {
    return ceilDivRows(1026, clsRowBytes(Cls::Param));
  }
  static int64_t ceilDivRows(int64_t a, int64_t b) {
    return b > 0 ? (a + b - 1) / b : 0;
  }
  const Form *form(const std::string &name) const;
  int memOf(Cls c) const { return clsMem[size_t(c)]; }
  uint64_t memRows(int m) const { return memories[size_t(m)].rows; }
  // The DMA engine that moves class `c` in direction `k` (Load or Store),
  // the engine running copies, an array op, ...; -1 when none.
  int engineFor(OpKind k, Cls c = Cls::Act) const;
  int engineOfReg(Reg r) const { return regEngine[size_t(r)]; }
  size_t numEngines() const { return engines.size(); }
  // Token channel of a (producer, consumer) engine pair.
  int channel(int src, int dst) const {
    return src * int(engines.size()) + dst;
  }
  // "load->GEMM"
  std::string channelName(int ch) const;
  // Bytes of one row of class `c` (lanes x element bytes).
  int64_t clsRowBytes(Cls c) const;
};

// Reads and validates a target description. Fills `out`, or returns an
// error naming the field ("memories[1].rows: ..."). A description that
// cannot work is refused: a memory too small for one tile of a form it
// claims, a field too narrow for a size it declares, an operand class no
// memory holds, an operation no engine runs, ...
Status parseTarget(const std::string &json, Target &out);

// The format's name and version ("format" and "version" of the document).
constexpr const char *kTargetFormat = "ember-accel-target";
constexpr int kTargetVersion = 1;

} // namespace ember::accel

#endif // EMBER_ACCEL_TARGET_H
