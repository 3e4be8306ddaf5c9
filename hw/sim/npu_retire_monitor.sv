// npu_retire_monitor: the RTL's retirement trace for co-simulation (simulation only, like the
// DRAM model; nothing in hw/rtl depends on it). It watches the scratchpads' write ports, the
// memory port's write beats, the engines' retire signals and the performance counters, and
// reports through DPI-C, when trace_en is set:
//   - every write as it happens, with the index of the instruction that made it (LOAD, VECTOR
//     and STORE run one instruction at a time; a GEMM accumulator write belongs to the oldest
//     GEMM in the retire FIFO whose last row has not been written yet);
//   - each cycle's increments of the MAC and DMA byte counters, attributed the same way (MACs to
//     the GEMM whose rows stream into the array);
//   - each retirement, one cycle after it happened, once that cycle's counter increments (the
//     counters are registers) have been reported; before LUTLD's, that the output table (LUTLD
//     w16: the 16-bit one) now holds what it loaded: the executor reads the table from the model
//     then (simulator/rtl/RtlModel.cpp), as it reads the scratchpads. Passing the 256 + 513
//     entries through ports would copy them every cycle of every run, traced or not.
// A wide write (a 16-bit row, spec version 3, or a GEMM16/DWGEMM16 accumulator pair, version 5)
// writes the row pair (r, r + half): two writes.
// A write reported after its instruction's retirement is a late write (simulator/rtl turns it
// into a record of its own). npu_sim_top connects the ports to the core's signals by
// hierarchical reference; a vendor's monitor provides the same facts for their RTL
// (docs/npu-rtl.md, "Your own DUT").
module npu_retire_monitor
  import npu_spec_pkg::*;
#(
    parameter int DIM = NPU_DIM,
    parameter int RF = NPU_GEMM_RETIRE_DEPTH,
    localparam int BUS = 4 * DIM,
    localparam int AB = 8 * DIM,
    localparam int CB = 32 * DIM,
    localparam int RFW = $clog2(RF)
) (
    input  logic                 clk,
    input  logic                 rst,
    input  logic                 trace_en,
    // scratchpad write ports (enables as the memories see them)
    input  logic                 act_we,
    input  logic                 wgt_we,
    input  logic [2:0]           acc_we,      // 0 LOAD, 1 GEMM, 2 VECTOR (VREDUCE)
    input  logic [1:0]           out_we,      // 0 LOAD, 1 VECTOR
    input  logic                 ld_wwide,    // LOAD's write is a row pair: high plane in
    input  logic [11:0]          ld_waddr,    //   ld_wdata[2AB-1:AB]
    input  logic [CB-1:0]        ld_wdata,
    input  logic [10:0]          acc_waddr,   // GEMM's port
    input  logic [CB-1:0]        acc_wdata,
    input  logic                 acc_wwide,   // GEMM's write is an accumulator pair
    input  logic [CB-1:0]        acc_wdata_hi,
    input  logic [10:0]          vacc_waddr,  // VECTOR's port
    input  logic [CB-1:0]        vacc_wdata,
    input  logic [10:0]          out_waddr,   // VECTOR's port
    input  logic [AB-1:0]        out_wdata,
    input  logic                 out_wwide,   // VECTOR's write is a row pair
    input  logic [AB-1:0]        out_wdata_hi,
    // engines
    input  logic [31:0]          e_idx[4],    // GEMM: the oldest in flight
    input  logic [3:0]           e_retire,
    input  logic [7:0]           vec_op,      // opcode of the VECTOR instruction
    input  logic                 vec_w16,     // its w16 bit (LUTLD w16)
    input  logic                 f_accept,
    input  logic                 f_fetch_op,
    input  logic [31:0]          fetch_count,
    // GEMM's retire FIFO {index, signal mask} and pipeline state
    input  logic [47:0]          rf[RF],
    input  logic [RFW-1:0]       rf_rp,
    input  logic [RFW-1:0]       rf_wp,
    input  logic [RFW:0]         done_cnt,
    input  logic                 pend_valid,
    // performance counters (registers: an event of cycle c shows in cycle c + 1)
    input  logic [64*NPU_NUM_COUNTERS-1:0] counters,
    // write beats of the memory port
    input  logic                 w_fire,
    input  logic [31:0]          w_addr,
    input  logic [15:0]          w_bytes,
    input  logic [8*BUS-1:0]     w_data,
    input  logic [BUS-1:0]       w_strb
);
  import "DPI-C" function void npu_trace_write(input int space, input int unsigned idx,
                                               input int unsigned addr, input int unsigned nbytes,
                                               input bit [1023:0] data, input bit [127:0] strb);
  import "DPI-C" function void npu_trace_count(input int unsigned idx, input int counter,
                                               input longint unsigned amount);
  import "DPI-C" function void npu_trace_retire(input int engine, input int unsigned idx,
                                                input longint unsigned cycle);
  // The output table (w16 = 0) or the 16-bit table (w16 = 1) after instruction idx loaded it.
  import "DPI-C" function void npu_trace_table(input int unsigned idx, input bit w16);

  localparam int SP_DRAM = NPU_NUM_MEMS;
  localparam int ACT_HALF = NPU_ACT_ROWS / 2, OUT_HALF = NPU_OUT_ROWS / 2,
                 ACC_HALF = NPU_ACC_ROWS / 2;

  function automatic logic [63:0] cnt(input int c);
    return counters[64*c+:64];
  endfunction

  // The GEMM instruction writing accumulators now, and the one streaming rows into the array.
  logic [31:0] gemm_wr_idx, gemm_str_idx;
  assign gemm_wr_idx = rf[RFW'(32'(rf_rp) + 32'(done_cnt))][47:16];
  assign gemm_str_idx = rf[RFW'(32'(rf_wp) - 1 - (pend_valid ? 1 : 0))][47:16];

  // What happened in the previous cycle: retirements and whose counters moved.
  logic [4:0] p_ret;
  logic [31:0] p_idx[5];
  logic p_lutld, p_lutld16;
  logic [31:0] p_ld_idx, p_st_idx, p_str_idx;
  logic [63:0] p_macs, p_ldb, p_stb, p_cycle;

  always_ff @(posedge clk) begin
    if (rst || !trace_en) begin
      p_ret <= '0;
      p_macs <= '0;
      p_ldb <= '0;
      p_stb <= '0;
    end else begin
      // 1. The counters of the previous cycle's events, to the instructions that ran then.
      if (cnt(NPU_CNT_MACS) != p_macs)
        npu_trace_count(p_str_idx, NPU_CNT_MACS, cnt(NPU_CNT_MACS) - p_macs);
      if (cnt(NPU_CNT_LOAD_BYTES) != p_ldb)
        npu_trace_count(p_ld_idx, NPU_CNT_LOAD_BYTES, cnt(NPU_CNT_LOAD_BYTES) - p_ldb);
      if (cnt(NPU_CNT_STORE_BYTES) != p_stb)
        npu_trace_count(p_st_idx, NPU_CNT_STORE_BYTES, cnt(NPU_CNT_STORE_BYTES) - p_stb);
      // 2. The previous cycle's retirements.
      for (int e = 0; e < 5; e++)
        if (p_ret[e]) begin
          if (e == NPU_ENGINE_VECTOR && p_lutld) npu_trace_table(p_idx[e], p_lutld16);
          npu_trace_retire(e, p_idx[e], p_cycle);
        end
      // 3. This cycle's writes.
      if (act_we)
        npu_trace_write(NPU_MEM_ACT, e_idx[NPU_ENGINE_LOAD], 32'(ld_waddr) * DIM, DIM,
                        1024'(ld_wdata[AB-1:0]), '1);
      if (act_we && ld_wwide)
        npu_trace_write(NPU_MEM_ACT, e_idx[NPU_ENGINE_LOAD], (32'(ld_waddr) + ACT_HALF) * DIM,
                        DIM, 1024'(ld_wdata[2*AB-1:AB]), '1);
      if (wgt_we)
        npu_trace_write(NPU_MEM_WGT, e_idx[NPU_ENGINE_LOAD], 32'(ld_waddr) * DIM, DIM,
                        1024'(ld_wdata[AB-1:0]), '1);
      if (acc_we[0])
        npu_trace_write(NPU_MEM_ACC, e_idx[NPU_ENGINE_LOAD], 32'(ld_waddr[10:0]) * 4 * DIM,
                        4 * DIM, 1024'(ld_wdata), '1);
      if (acc_we[1])
        npu_trace_write(NPU_MEM_ACC, gemm_wr_idx, 32'(acc_waddr) * 4 * DIM, 4 * DIM,
                        1024'(acc_wdata), '1);
      if (acc_we[1] && acc_wwide)
        npu_trace_write(NPU_MEM_ACC, gemm_wr_idx,
                        ((32'(acc_waddr) + ACC_HALF) % NPU_ACC_ROWS) * 4 * DIM, 4 * DIM,
                        1024'(acc_wdata_hi), '1);
      if (acc_we[2])
        npu_trace_write(NPU_MEM_ACC, e_idx[NPU_ENGINE_VECTOR], 32'(vacc_waddr) * 4 * DIM, 4 * DIM,
                        1024'(vacc_wdata), '1);
      if (out_we[0])
        npu_trace_write(NPU_MEM_OUT, e_idx[NPU_ENGINE_LOAD], 32'(ld_waddr[10:0]) * DIM, DIM,
                        1024'(ld_wdata[AB-1:0]), '1);
      if (out_we[0] && ld_wwide)
        npu_trace_write(NPU_MEM_OUT, e_idx[NPU_ENGINE_LOAD],
                        (32'(ld_waddr[10:0]) + OUT_HALF) * DIM, DIM,
                        1024'(ld_wdata[2*AB-1:AB]), '1);
      if (out_we[1])
        npu_trace_write(NPU_MEM_OUT, e_idx[NPU_ENGINE_VECTOR], 32'(out_waddr) * DIM, DIM,
                        1024'(out_wdata), '1);
      if (out_we[1] && out_wwide)
        npu_trace_write(NPU_MEM_OUT, e_idx[NPU_ENGINE_VECTOR], (32'(out_waddr) + OUT_HALF) * DIM,
                        DIM, 1024'(out_wdata_hi), '1);
      if (w_fire)
        npu_trace_write(SP_DRAM, e_idx[NPU_ENGINE_STORE], w_addr, 32'(w_bytes), 1024'(w_data),
                        128'(w_strb));
      // 4. Remember this cycle.
      p_ret <= {f_accept && f_fetch_op, e_retire};
      for (int e = 0; e < 4; e++) p_idx[e] <= e_idx[e];
      p_idx[4] <= fetch_count;
      p_lutld <= vec_op == NPU_OP_LUTLD;
      p_lutld16 <= vec_w16;
      p_ld_idx <= e_idx[NPU_ENGINE_LOAD];
      p_st_idx <= e_idx[NPU_ENGINE_STORE];
      p_str_idx <= gemm_str_idx;
      p_macs <= cnt(NPU_CNT_MACS);
      p_ldb <= cnt(NPU_CNT_LOAD_BYTES);
      p_stb <= cnt(NPU_CNT_STORE_BYTES);
      p_cycle <= cnt(NPU_CNT_CYCLES);
    end
  end
endmodule
