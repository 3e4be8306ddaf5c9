//===- Assembler.h - NPU assembly text <-> binary ---------------*- C++ -*-===//
//
// One instruction per line: `mnemonic field=value ...`, `#` starts a comment.
// Token masks are written as channel lists (`wait=GEMM->LOAD,VECTOR->LOAD`) or
// numbers; `mem` and `reg` accept names. The disassembler prints every field
// (fields added to an opcode in a later spec version only when set, so the
// text of an older program does not change), so binary -> text -> binary is
// exact.
//
//===----------------------------------------------------------------------===//
#ifndef EMBER_NPU_ASSEMBLER_H
#define EMBER_NPU_ASSEMBLER_H

#include "ember/npu/Isa.h"

#include <string>
#include <vector>

namespace ember::npu {

/// Assembles `text`; on error returns "line <n>: <cause>" naming the field when
/// there is one.
std::string assemble(const std::string &text, std::vector<Word> &program);
/// Canonical text of one decoded instruction (no newline).
std::string formatInsn(const Insn &insn);
/// Disassembles; on an undecodable word returns "instruction <i>: <cause>".
std::string disassemble(const std::vector<Word> &program, std::string &text);

} // namespace ember::npu

#endif // EMBER_NPU_ASSEMBLER_H
