//===- Isa.h - Ember NPU instruction set (generated tables + codec) -------===//
//
// Instructions are 128 bits. The field layout, opcodes, registers and SRAM
// sizes all come from the generated NpuSpec.h (hw/spec/npu.json); this header
// only adds C++ types around them.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_ISA_H
#define EMBER_NPU_ISA_H

#include "ember/npu/NpuSpec.h"

#include <cstdint>
#include <string>
#include <vector>

namespace ember::npu {

constexpr int kDim = EMBER_NPU_DIM;
/// DWGEMM's most taps: DIM, or what its 5-bit field holds (31 at DIM 32).
constexpr int kDwMaxTaps = kDim < (1 << EMBER_NPU_F_DWGEMM_TAPS_WIDTH) - 1
                               ? kDim
                               : (1 << EMBER_NPU_F_DWGEMM_TAPS_WIDTH) - 1;
/// ACC rows holding the VECTOR engine's 256-byte output table (LUTLD).
constexpr int kLutRows = 256 / (4 * kDim);
/// ACC rows holding the 16-bit table (LUTLD w16): 513 int16 entries, 1026
/// bytes, the last row partly used.
constexpr int kLut16Rows = (1026 + 4 * kDim - 1) / (4 * kDim);
/// Cycles LUT w16 spends per row: the 16-bit table answers
/// lut16_lanes_per_cycle lanes a cycle.
constexpr int kLut16CyclesPerRow =
    (kDim + EMBER_NPU_LUT16_LANES_PER_CYCLE - 1) /
    EMBER_NPU_LUT16_LANES_PER_CYCLE;
/// STORE's lane groups: `lanes` bit g selects lanes 8g .. 8g + 7.
constexpr int kLaneGroup = 8;
constexpr int kNumLaneGroups = kDim / kLaneGroup;
constexpr int kNumEngines = EMBER_NPU_NUM_ENGINES;
constexpr int kNumMems = EMBER_NPU_NUM_MEMS;
constexpr int kNumChannels = kNumEngines * kNumEngines;

enum class Opcode : uint8_t {
#define X(name, value, engine) name = value,
  EMBER_NPU_OPCODE_LIST(X)
#undef X
};

/// Execution units. Fetch handles FENCE/FINISH itself.
enum class Engine : uint8_t {
#define X(name, id) name = id,
  EMBER_NPU_ENGINE_LIST(X)
#undef X
      Fetch = kNumEngines
};

enum class Mem : uint8_t {
#define X(name, id, rows, elemBytes) name = id,
  EMBER_NPU_MEM_LIST(X)
#undef X
};

/// One raw instruction: bits [0,64) in lo, [64,128) in hi.
struct Word {
  uint64_t lo = 0;
  uint64_t hi = 0;
  bool operator==(const Word &o) const { return lo == o.lo && hi == o.hi; }
  bool operator!=(const Word &o) const { return !(*this == o); }
};

/// A decoded instruction. Only the fields of `op` are meaningful; the others
/// stay zero.
struct Insn {
  Opcode op = Opcode::FINISH;
  uint32_t wait = 0;
  uint32_t signal = 0;
#define X(name) int64_t name = 0;
  EMBER_NPU_FIELD_NAME_LIST(X)
#undef X
};

struct FieldDesc {
  const char *name;
  unsigned lsb;
  unsigned width;
  bool isSigned;
  int64_t Insn::*member;
  /// Spec version that added the field; a field added to an opcode after the
  /// opcode itself means the older behaviour when zero.
  unsigned since = 1;
};

/// Operand fields of `op`, in assembly order.
const std::vector<FieldDesc> &fieldsOf(Opcode op);
const char *opcodeName(Opcode op);
bool opcodeFromName(const std::string &name, Opcode &op);
bool isKnownOpcode(unsigned value);
/// Spec version that added `op`.
unsigned opcodeSince(Opcode op);
/// True for a field added to its opcode in a later spec version (zero: the
/// older behaviour; the disassembler prints it only when set).
bool isLaterField(Opcode op, const FieldDesc &f);
/// The lowest spec version that runs `program`: the newest opcode or set
/// later field it uses.
unsigned programVersion(const std::vector<Insn> &program);
const char *engineName(Engine e);
const char *memName(int mem);
int memRows(int mem);
int memRowBytes(int mem);
/// Bytes of one row as a DMA instruction moves it: memRowBytes, or 2 DIM for
/// LOAD16/STORE16 (DIM int16).
int64_t dmaRowBytes(const Insn &insn);
/// Register name for `id`, or nullptr if the id is not a register.
const char *regName(unsigned id);
/// Owning engine of register `id` (only valid when regName(id) != nullptr).
Engine regEngine(unsigned id);
bool regFromName(const std::string &name, unsigned &id);
/// DWGEMM or DWGEMM16.
bool isDwgemm(Opcode op);
/// GEMM16 or DWGEMM16 (spec version 5): both byte planes of 16-bit rows.
bool isArray16(Opcode op);
/// Activation rows one line of a GEMM or DWGEMM (or its 16x8 form) streams:
/// inner, and for DWGEMM (inner - 1) x stride + taps. 0 for other opcodes.
int64_t lineRows(const Insn &insn);
/// Activation rows a GEMM or DWGEMM streams through the array (its array
/// slots): lineRows x outer. GEMM16 and DWGEMM16 stream as many (each slot
/// a 16-bit row: both planes at once). 0 for other opcodes.
int64_t streamedRows(const Insn &insn);
Engine engineOf(const Insn &insn);
std::string channelName(int ch);

uint64_t getBits(const Word &w, unsigned lsb, unsigned width);
void setBits(Word &w, unsigned lsb, unsigned width, uint64_t value);

Word encode(const Insn &insn);
/// Decodes `w`; returns an empty string or the reason it is not a valid
/// encoding.
std::string decode(const Word &w, Insn &insn);
/// Static checks of one instruction against the spec and a DRAM of `dramBytes`
/// bytes: token masks legal for the engine, SRAM and DRAM ranges, sizes. Empty
/// string if valid.
std::string validate(const Insn &insn, uint64_t dramBytes);

/// Decodes and validates a whole program; on error returns "instruction <i>:
/// <cause>".
std::string checkProgram(const std::vector<Word> &program, uint64_t dramBytes,
                         std::vector<Insn> &decoded);

// Program files: 16-byte header ("ENPU", version, insn count, DIM) + 16 bytes
// per instruction. The version written is the lowest that runs the program
// (programVersion); a reader takes every version up to its own.
std::string writeProgramFile(const std::string &path,
                             const std::vector<Word> &program);
std::string readProgramFile(const std::string &path,
                            std::vector<Word> &program);

} // namespace ember::npu

#endif // EMBER_NPU_ISA_H
