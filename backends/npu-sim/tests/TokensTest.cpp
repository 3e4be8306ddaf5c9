// Token assignment: edges from footprints, pairing, and the validity check.
#include "Tokens.h"

#include <gtest/gtest.h>

using namespace ember::npusim;
using ember::npu::Insn;
using ember::npu::Opcode;

namespace {
Insn load(int mem, int64_t sram, int64_t dram, int64_t rows) {
  Insn i;
  i.op = Opcode::LOAD;
  i.mem = mem;
  i.sram = sram;
  i.dram = dram;
  i.ysize = 1;
  i.xsize = rows;
  i.stride = rows;
  return i;
}
Insn gemm(int64_t acc, int64_t act, int64_t wgt, int64_t rows) {
  Insn i;
  i.op = Opcode::GEMM;
  i.acc = acc;
  i.act = act;
  i.wgt = wgt;
  i.inner = rows;
  i.outer = 1;
  return i;
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
  Insn fin;
  fin.op = Opcode::FINISH;
  p.push_back(fin);
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
