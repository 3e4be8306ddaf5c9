//===- WideRows.h - 16-bit rows in the SystemC NPU model ------------------===//
//
// Spec version 3's 16-bit activations as the SystemC model runs them: the
// conversion between DRAM's int16 rows and the scratchpads' row pairs (for
// LOAD16, STORE16), and the 16-bit forms of the VECTOR instructions with their
// RTL timing. The model's engines (NpuModel.cpp) keep the data movement
// through their TLM sockets; this file holds the element loops, apart from
// the int8 forms, which stay in NpuModel.cpp unchanged.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_SYSTEMC_WIDEROWS_H
#define EMBER_NPU_SYSTEMC_WIDEROWS_H

#include "ember/npu/Isa.h"

#include <array>
#include <cstdint>
#include <string>

namespace ember::npu {

/// `rows` DRAM rows of DIM int16 (2 DIM bytes, little-endian) to the low-
/// and high-byte planes of 16-bit scratchpad rows (DIM bytes each), and back.
void splitWideRows(const uint8_t *rows16, int64_t rows, uint8_t *lo,
                   uint8_t *hi);
void joinWideRows(const uint8_t *lo, const uint8_t *hi, int64_t rows,
                  uint8_t *rows16);
/// `rows` DRAM rows filled with the int16 `v`.
void fillWideRows(uint8_t *rows16, int64_t rows, int32_t v);

/// True for a VECTOR instruction with a 16-bit operand or result (or the
/// 16-bit table): it runs in runWideVector.
bool isWideVector(const Insn &insn);

/// The scratchpad accesses of runWideVector (the engine's TLM socket).
class WideVectorPort {
public:
  virtual ~WideVectorPort() = default;
  virtual void read(int mem, int64_t row, void *data, int64_t rows) = 0;
  virtual void write(int mem, int64_t row, const void *data, int64_t rows) = 0;
};

/// Executes a wide VECTOR instruction (isWideVector): reads its operands,
/// computes as the golden model defines, writes its results, and returns
/// its cycles in RTL terms (the int8 form's, LUT w16's lane groups, staging).
/// `lut16` is the 16-bit table (LUTLD w16 writes it). On a run-time error
/// (POOL geometry) sets `err` and returns 0.
uint64_t runWideVector(const Insn &insn, const int32_t *regs,
                       const std::array<int8_t, 256> &lut8,
                       std::array<int16_t, 513> &lut16, WideVectorPort &port,
                       std::string &err);

} // namespace ember::npu

#endif // EMBER_NPU_SYSTEMC_WIDEROWS_H
