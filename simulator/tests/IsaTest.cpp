//===- IsaTest.cpp - Encoding, assembler and disassembler round trips -----===//
#include "ProgramGen.h"
#include "ember/npu/Assembler.h"

#include <gtest/gtest.h>

#include <random>

namespace ember::npu::test {
namespace {

TEST(NpuIsa, FieldsFitAndDoNotOverlap) {
  for (unsigned v = 0; v < 256; ++v) {
    if (!isKnownOpcode(v))
      continue;
    Word used;
    setBits(used, 0, 40, ~0ull);
    for (const FieldDesc &f : fieldsOf(static_cast<Opcode>(v))) {
      ASSERT_LE(f.lsb + f.width, 128u) << f.name;
      Word mine;
      setBits(mine, f.lsb, f.width, ~0ull);
      EXPECT_EQ(used.lo & mine.lo, 0u) << f.name;
      EXPECT_EQ(used.hi & mine.hi, 0u) << f.name;
      used.lo |= mine.lo;
      used.hi |= mine.hi;
    }
  }
}

TEST(NpuIsa, EncodeDecodeRoundTripEveryFieldAtItsEdges) {
  for (unsigned v = 0; v < 256; ++v) {
    if (!isKnownOpcode(v))
      continue;
    for (const FieldDesc &f : fieldsOf(static_cast<Opcode>(v))) {
      int64_t lo = f.isSigned ? -(int64_t(1) << (f.width - 1)) : 0;
      int64_t hi = f.isSigned ? (int64_t(1) << (f.width - 1)) - 1
                              : (int64_t(1) << f.width) - 1;
      for (int64_t value : {lo, hi, int64_t(0), int64_t(1)}) {
        Insn in;
        in.op = static_cast<Opcode>(v);
        in.wait = 0xffff;
        in.signal = 0x8001;
        in.*f.member = value;
        Insn out;
        ASSERT_EQ(decode(encode(in), out), "");
        EXPECT_EQ(out.*f.member, value) << opcodeName(in.op) << "." << f.name;
        EXPECT_EQ(out.wait, 0xffffu);
        EXPECT_EQ(out.signal, 0x8001u);
      }
    }
  }
}

TEST(NpuAsm, TextBinaryTextRoundTripOnRandomPrograms) {
  for (uint32_t seed = 1; seed <= 50; ++seed) {
    TestCase tc = randomCase(seed, 40);
    std::vector<Word> words;
    for (const Insn &i : tc.program)
      words.push_back(encode(i));
    std::string text;
    ASSERT_EQ(disassemble(words, text), "");
    std::vector<Word> again;
    ASSERT_EQ(assemble(text, again), "");
    ASSERT_EQ(words.size(), again.size());
    for (size_t i = 0; i < words.size(); ++i)
      EXPECT_TRUE(words[i] == again[i]) << "instruction " << i;
    std::string text2;
    ASSERT_EQ(disassemble(again, text2), "");
    EXPECT_EQ(text, text2);
  }
}

TEST(NpuAsm, BinaryTextBinaryRoundTripOnRandomValidWords) {
  std::mt19937_64 rng(7);
  int checked = 0;
  while (checked < 2000) {
    Word w{rng(), rng()};
    unsigned opv = static_cast<unsigned>(rng() % 256);
    if (!isKnownOpcode(opv))
      continue;
    setBits(w, 0, 8, opv);
    Insn insn;
    if (!decode(w, insn).empty()) {
      // Clear reserved bits to get a valid encoding.
      w = encode(insn);
    }
    ASSERT_EQ(decode(w, insn), "");
    std::string text;
    ASSERT_EQ(disassemble({w}, text), "");
    std::vector<Word> back;
    ASSERT_EQ(assemble(text, back), "") << text;
    ASSERT_EQ(back.size(), 1u);
    EXPECT_TRUE(back[0] == w) << text;
    ++checked;
  }
}

TEST(NpuAsm, FieldsAddedLaterPrintOnlyWhenSet) {
  // A version-1 program's text does not change with version 2's fields.
  EXPECT_EQ(formatInsn(storeInsn(EMBER_NPU_MEM_OUT, 1, 64, 2, 3, 4)),
            "store mem=OUT sram=1 dram=64 ysize=2 xsize=3 stride=4");
  EXPECT_EQ(formatInsn(storeInsn(EMBER_NPU_MEM_OUT, 1, 64, 2, 3, 4, 1, 1, 1)),
            "store mem=OUT sram=1 dram=64 ysize=2 xsize=3 stride=4 rep=1 "
            "xstep=1 lanes=1");
  EXPECT_EQ(formatInsn(requantInsn(0, 1, 2, 3, 4, -5, 6, true)),
            "requant dst=0 src=1 rows=2 param=3 zp=4 min=-5 max=6 bias=1");
  EXPECT_EQ(formatInsn(poolInsn(true, 1, 2, 3, 0, 1, 4, true)),
            "pool avg=1 dst=1 src=2 rows=3 pad_left=1 in_h=4 lut=1");
  // An opcode of version 2 prints all of its fields.
  EXPECT_EQ(formatInsn(vmulInsn(1, 2, 3, 4)),
            "vmul dst=1 a=2 b=3 rows=4 bcast=0 lut=0");
  std::vector<Word> p;
  ASSERT_EQ(assemble("upsample dst=9 src=1 w=4 h=3 oy=2 oh=3 factor=1 "
                     "mode=1 zp=-3 lut=1\nlutld src=7\nfinish\n",
                     p),
            "");
  Insn i;
  ASSERT_EQ(decode(p[0], i), "");
  EXPECT_EQ(i.op, Opcode::UPSAMPLE);
  EXPECT_EQ(i.zp, -3);
  EXPECT_EQ(i.mode, 1);
  EXPECT_TRUE(p[0] == encode(upsampleInsn(9, 1, 4, 3, 2, 3, 1, 1, -3, true)));
  ASSERT_EQ(decode(p[1], i), "");
  EXPECT_EQ(i.op, Opcode::LUTLD);
  EXPECT_EQ(opcodeSince(Opcode::VMUL), 2u);
  EXPECT_EQ(opcodeSince(Opcode::MOVE), 1u);
}

TEST(NpuAsm, AcceptsNamesCommentsAndNumbers) {
  std::vector<Word> p;
  ASSERT_EQ(
      assemble("# comment\n\n  load mem=WGT sram=0x10 dram=64 ysize=1 xsize=2 "
               "stride=2 "
               "signal=LOAD->GEMM  # trailing\nsetreg reg=ADD_A_ZP value=-3\n"
               "gemm inner=1 outer=1 wait=0x10\nfinish\n",
               p),
      "");
  ASSERT_EQ(p.size(), 4u);
  Insn i;
  ASSERT_EQ(decode(p[0], i), "");
  EXPECT_EQ(i.mem, EMBER_NPU_MEM_WGT);
  EXPECT_EQ(i.sram, 16);
  EXPECT_EQ(i.signal, 1u << EMBER_NPU_TOKEN_CHANNEL(EMBER_NPU_ENGINE_LOAD,
                                                    EMBER_NPU_ENGINE_GEMM));
  ASSERT_EQ(decode(p[1], i), "");
  EXPECT_EQ(i.reg, EMBER_NPU_REG_ADD_A_ZP);
  EXPECT_EQ(i.value, -3);
}

TEST(NpuAsm, ErrorsNameLineAndField) {
  std::vector<Word> p;
  EXPECT_EQ(assemble("finish\nfrobnicate x=1\n", p),
            "line 2: unknown mnemonic 'frobnicate'");
  EXPECT_EQ(
      assemble("gemm inner=1 outer=1 act=99999\n", p),
      "line 1: field 'act': value 99999 does not fit in 14 unsigned bits");
  EXPECT_EQ(assemble("\nrequant zp=200\n", p),
            "line 2: field 'zp': value 200 does not fit in 8 signed bits");
  EXPECT_EQ(assemble("gemm bogus=1\n", p),
            "line 1: field 'bogus' is not an operand of gemm");
  EXPECT_EQ(assemble("gemm inner=1 inner=2\n", p),
            "line 1: field 'inner' given twice");
  EXPECT_EQ(assemble("gemm inner=x1\n", p),
            "line 1: field 'inner': bad value 'x1'");
  EXPECT_EQ(assemble("gemm inner\n", p),
            "line 1: expected field=value, got 'inner'");
  EXPECT_EQ(assemble("gemm wait=LOAD->NOWHERE\n", p),
            "line 1: field 'wait': unknown token channel 'LOAD->NOWHERE' "
            "(expected SRC->DST, "
            "e.g. LOAD->GEMM)");
}

TEST(NpuAsm, DisassemblerRejectsUnknownOpcode) {
  std::string text;
  EXPECT_EQ(disassemble({encode(Insn()), Word{0x7f, 0}}, text),
            "instruction 1: unknown opcode 127");
}

} // namespace
} // namespace ember::npu::test
