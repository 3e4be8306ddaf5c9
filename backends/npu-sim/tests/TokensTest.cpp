// Token assignment: edges from footprints, pairing, and the validity check.
#include "Tokens.h"
#include "ember/npu/Builders.h"

#include <gtest/gtest.h>

using namespace ember::npusim;
using ember::npu::Insn;
using ember::npu::Opcode;

namespace {
Insn load(int mem, int64_t sram, int64_t dram, int64_t rows) {
  return ember::npu::loadInsn(mem, sram, dram, 1, rows, rows);
}
Insn gemm(int64_t acc, int64_t act, int64_t wgt, int64_t rows) {
  return ember::npu::gemmInsn(false, acc, act, wgt, rows, 1);
}
uint32_t ch(int s, int d) { return 1u << EMBER_NPU_TOKEN_CHANNEL(s, d); }
} // namespace

TEST(NpuTokens, ReadAfterWriteAndWriteAfterRead) {
  std::vector<Insn> p;
  p.push_back(load(EMBER_NPU_MEM_ACT, 0, 0, 8));     // 0
  p.push_back(load(EMBER_NPU_MEM_WGT, 0, 4096, 16)); // 1
  p.push_back(gemm(0, 0, 0, 8));                     // 2: needs 0 and 1
  p.push_back(
      load(EMBER_NPU_MEM_ACT, 0, 8192, 8)); // 3: overwrites what 2 reads
  p.push_back(gemm(0, 0, 0, 8));            // 4: needs 3
  p.push_back(ember::npu::makeInsn(Opcode::FINISH));
  TokenStats st;
  ASSERT_EQ(assignTokens(p, &st), "");
  EXPECT_EQ(p[1].signal, ch(0, 1)); // only the latest load is waited for
  EXPECT_EQ(p[0].signal, 0u);
  EXPECT_EQ(p[2].wait, ch(0, 1));
  EXPECT_EQ(p[2].signal, ch(1, 0));
  EXPECT_EQ(p[3].wait, ch(1, 0));
  EXPECT_EQ(p[3].signal, ch(0, 1));
  EXPECT_EQ(p[4].wait, ch(0, 1));
  EXPECT_EQ(st.edges, 3u);
  EXPECT_EQ(checkTokens(p), "");
}

TEST(NpuTokens, CheckFindsUnderflowAndOverflow) {
  std::vector<Insn> p(1);
  p[0] = gemm(0, 0, 0, 1);
  p[0].wait = ch(0, 1);
  EXPECT_NE(checkTokens(p).find("no token"), std::string::npos);
  std::vector<Insn> q;
  for (int i = 0; i < 9; ++i) {
    q.push_back(load(EMBER_NPU_MEM_ACT, i, 0, 1));
    q.back().signal = ch(0, 1);
  }
  EXPECT_NE(checkTokens(q).find("FIFO depth"), std::string::npos);
}

// Nine loads into nine regions, each read by its own GEMM of the previous
// step: nine GEMM->LOAD edges would exceed the FIFO depth of 8, so the
// edges merge (an earlier load waits for a later GEMM) and the program
// stays valid.
TEST(NpuTokens, MergesEdgesBeyondTheFifoDepth) {
  std::vector<Insn> p;
  for (int r = 0; r < 9; ++r)
    p.push_back(load(EMBER_NPU_MEM_ACT, r * 8, r * 128, 8));
  p.push_back(load(EMBER_NPU_MEM_WGT, 0, 8192, 16));
  for (int r = 0; r < 9; ++r)
    p.push_back(gemm(0, r * 8, 0, 8));
  for (int r = 0; r < 9; ++r)
    p.push_back(load(EMBER_NPU_MEM_ACT, r * 8, 4096 + r * 128, 8));
  p.push_back(ember::npu::makeInsn(Opcode::FINISH));
  TokenStats st;
  ASSERT_EQ(assignTokens(p, &st), "");
  EXPECT_LE(st.maxDepth, size_t(EMBER_NPU_TOKEN_FIFO_DEPTH));
  EXPECT_EQ(checkTokens(p), "");
  // Every second-round load still waits (directly or through an earlier
  // load of its engine) for the GEMM that read its region.
  int waited = 0;
  for (int r = 0; r < 9; ++r)
    waited += (p[size_t(19 + r)].wait & ch(1, 0)) != 0;
  EXPECT_GE(waited, 1);
}

// Spec version 3: a 16-bit row is a row pair (r, r + rows/2), so the high
// plane a GEMM reads at ACT 2048 + r was written by the LOAD16 of row r, and
// the high words of REQUANT acc16's int64 bias come from their own LOAD.
TEST(NpuTokens, SixteenBitRowsOccupyBothHalves) {
  std::vector<Insn> p;
  p.push_back(load(EMBER_NPU_MEM_WGT, 0, 4096, 16));                     // 0
  p.push_back(ember::npu::load16Insn(EMBER_NPU_MEM_ACT, 0, 0, 1, 8, 8)); // 1
  p.push_back(gemm(EMBER_NPU_ACC_HALF, EMBER_NPU_ACT_HALF, 0, 8)); // 2: 0, 1
  p.push_back(load(EMBER_NPU_MEM_ACC, 100, 8192, 3));              // 3
  p.push_back(load(EMBER_NPU_MEM_ACC, 102 + EMBER_NPU_ACC_HALF, 9000, 1)); // 4
  p.push_back(ember::npu::requantInsn(0, 0, 8, 100, 0, 0, 0, true, false, true,
                                      true)); // 5: needs 2 and 4
  p.push_back(ember::npu::makeInsn(Opcode::FINISH));
  ASSERT_EQ(assignTokens(p, nullptr), "");
  EXPECT_EQ(p[2].wait, ch(0, 1));
  EXPECT_EQ(p[1].signal, ch(0, 1)); // LOAD16 wrote the high plane at 2048
  EXPECT_EQ(p[5].wait, ch(0, 2) | ch(1, 2)); // the high plane's sums too
  EXPECT_EQ(p[4].signal, ch(0, 2)); // the bias's high word, the last load
  EXPECT_EQ(checkTokens(p), "");
}
