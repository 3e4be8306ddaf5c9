// The second NPU's instruction set (docs/second-npu.md, "The ISA"): one
// 128-bit little-endian word per instruction. Every instruction starts with
// the same 30-bit header, then its own fields packed from bit 30 upward:
//   [3:0]   opcode
//   [5:4]   queue: the engine whose in-order queue runs it (DMA0, DMA1, MAC,
//           OUT); the program is one stream split into the four queues
//   [17:6]  wait: barriers the instruction waits on before it starts (each
//           taken: the barrier's counter is decremented)
//   [29:18] signal: barriers it increments when it completes
// Unused high bits must be zero. Addresses in the SRAM are rows of 128 bytes;
// DRAM addresses are bytes.
#ifndef SNPU_ISA_H
#define SNPU_ISA_H

#include <cstdint>
#include <string>
#include <vector>

namespace snpu {

// The machine's fixed parameters.
constexpr int kLanes = 32;       // channels per row (the array's outputs)
constexpr int kArrayInputs = 8;  // input lanes the array takes a cycle
constexpr int kSramRows = 4096;  // unified SRAM: 4096 rows of 128 bytes
constexpr int kRowBytes = 128;   //   = 512 KiB
constexpr int kNumQueues = 4;    // DMA0, DMA1, MAC, OUT
constexpr int kNumBarriers = 12; // counting barriers, 0..kBarrierMax
constexpr int kBarrierMax = 15;
constexpr int kNumRegs = 64;     // parameter registers
constexpr int kLutEntries = 256; // the output unit's table

enum Queue : uint8_t { DMA0 = 0, DMA1 = 1, MAC = 2, OUT = 3 };

enum class Opcode : uint8_t {
  NOP = 0,
  LOAD = 1,   // DMA: DRAM -> SRAM, 2-D block with padding
  STORE = 2,  // DMA: SRAM -> DRAM, 2-D block
  MAC = 3,    // array: acc rows (+)= act rows x a 32 x 32 weight tile
  REQ = 4,    // output unit: int32 rows -> int8 (requant, LUT, clip)
  ADD = 5,    // output unit: quantized add of two int8 row runs
  LUTLD = 6,  // output unit: load the 256-entry table from SRAM
  SETREG = 7, // any queue: a parameter register
  END = 8,    // end of the program
  MUL = 9,    // output unit: quantized multiply of two int8 row runs
};
constexpr int kNumOpcodes = 10;

// Register ids (SETREG).
enum Reg : uint8_t {
  R_PAD = 1, // LOAD's padding value (int8; an int32 row repeats it)
  R_ADD_LSHIFT = 8,
  R_ADD_A_ZP,
  R_ADD_A_MULT,
  R_ADD_A_SHIFT,
  R_ADD_B_ZP,
  R_ADD_B_MULT,
  R_ADD_B_SHIFT,
  R_ADD_OUT_MULT,
  R_ADD_OUT_SHIFT,
  R_ADD_OUT_ZP,
  R_ADD_MIN,
  R_ADD_MAX,
  R_MUL_A_ZP = 20, // MUL: the factors' zero points (int8), the product's
  R_MUL_B_ZP,      // multiplier and shift, the result's zero point and
  R_MUL_MULT,      // clip bounds
  R_MUL_SHIFT,
  R_MUL_OUT_ZP,
  R_MUL_MIN,
  R_MUL_MAX,
};

// A decoded instruction: every field of every opcode (unused ones zero).
struct Insn {
  Opcode op = Opcode::NOP;
  uint32_t queue = 0, wait = 0, signal = 0;
  // LOAD/STORE: `row` of the SRAM, `dram` bytes; ysize lines of xsize rows,
  // DRAM lines `stride` rows apart; LOAD writes (pt + ysize + pb) lines of
  // (pl + xsize + pr) rows, padding = R_PAD. wide: int32 rows (128 bytes),
  // else int8 rows (32 bytes at the start of a 128-byte SRAM row).
  uint64_t row = 0, dram = 0, ysize = 0, xsize = 0, stride = 0;
  uint64_t pt = 0, pb = 0, pl = 0, pr = 0, wide = 0;
  // MAC: for o < outer, i < inner: acc[acc + o*accs + i][j] (+)=
  //   sum_k act[act + o*acts + i][k] * wgt[wgt + k][j]   (k, j < 32)
  uint64_t acc = 0, act = 0, wgt = 0, inner = 0, outer = 0, acts = 0, accs = 0,
           reset = 0;
  // REQ: out[dst + i][l] = clip(requant(acc[src + i][l] (+ bias row)), then
  // the table when lut): tables at `param` (mult, shift, bias rows).
  // ADD: out[dst + i] = add(out[a + i], out[b + i]) (registers R_ADD_*).
  // MUL: out[dst + i][l] = clip(mbqm((out[a + i][l] - a_zp) *
  // (out[b + i][l] - b_zp), mult, shift) + out_zp) (registers R_MUL_*),
  // then the table when lut; bcast: b's row b for every i (a per-channel
  // factor).
  // LUTLD: the table = the first 256 bytes of rows src, src + 1.
  uint64_t dst = 0, src = 0, rows = 0, param = 0, zp = 0, lo = 0, hi = 0, a = 0,
           b = 0, lut = 0, bias = 0, bcast = 0;
  // SETREG
  uint64_t reg = 0, value = 0;
};

struct Word {
  uint64_t lo = 0, hi = 0;
};

// A field of an opcode's encoding: its name, width and member.
struct Field {
  const char *name;
  unsigned bits;
  uint64_t Insn::*member;
  bool isSigned = false; // zp, lo, hi, value: two's complement
};
const std::vector<Field> &fieldsOf(Opcode op);
const char *opcodeName(Opcode op);
const char *queueName(uint32_t q);

Word encode(const Insn &in);
// "" or why the word is not an instruction (bad opcode, a queue that cannot
// run it, bits set beyond its fields).
std::string decode(const Word &w, Insn &out);

// Sign-extended value of a signed field.
int64_t signedField(const Insn &in, uint64_t Insn::*member);

// Assembly text: "LOAD q=DMA0 wait=3 signal=0,5 row=0 dram=64 ..." (all
// fields of the opcode), and back.
std::string format(const Insn &in);
std::string parse(const std::string &text, Insn &out);

} // namespace snpu

#endif // SNPU_ISA_H
