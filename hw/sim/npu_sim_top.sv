// npu_sim_top: the Verilator top: the NPU core and the behavioural DRAM. The C++ executor
// (simulator/rtl) drives the clock, the configuration and the instruction port.
module npu_sim_top
  import npu_spec_pkg::*;
#(
    parameter int DIM = NPU_DIM,
    localparam int BUS = 4 * DIM
) (
    input  logic                 clk,
    input  logic                 rst,
    input  logic [31:0]          cfg_burst_bytes,
    input  logic [15:0]          cfg_beat_bytes,
    input  logic [31:0]          cfg_latency,
    input  logic [31:0]          cfg_watchdog,
    input  logic                 dram_freeze,
    input  logic                 insn_valid,
    input  logic [127:0]         insn_data,
    output logic                 insn_ready,
    output logic [31:0]          fetch_count,
    output logic                 done,
    output logic                 error,
    output logic [2:0]           err_code,
    output logic [1:0]           err_detail,
    output logic [31:0]          err_idx,
    output logic [2:0]           err_engine,
    output logic [7:0]           err_op,
    output logic [3:0]           err_ch,
    output logic                 err_space,
    output logic [32*5-1:0]      pool_regs,
    output logic [64*NPU_NUM_COUNTERS-1:0] counters
);
  logic ar_valid, ar_ready, r_valid, r_ready, aw_valid, aw_ready, w_valid, w_ready, b_valid;
  logic [31:0] ar_addr, aw_addr;
  logic [15:0] ar_len, aw_len, r_bytes, w_bytes;
  logic [8*BUS-1:0] r_data, w_data;
  logic [BUS-1:0] w_strb;

  npu_core #(.DIM(DIM)) u_core (
      .clk(clk), .rst(rst), .cfg_burst_bytes(cfg_burst_bytes), .cfg_beat_bytes(cfg_beat_bytes),
      .cfg_watchdog(cfg_watchdog), .insn_valid(insn_valid), .insn_data(insn_data),
      .insn_ready(insn_ready), .fetch_count(fetch_count),
      .ar_valid(ar_valid), .ar_ready(ar_ready), .ar_addr(ar_addr), .ar_len(ar_len),
      .r_valid(r_valid), .r_ready(r_ready), .r_data(r_data), .r_bytes(r_bytes),
      .aw_valid(aw_valid), .aw_ready(aw_ready), .aw_addr(aw_addr), .aw_len(aw_len),
      .w_valid(w_valid), .w_ready(w_ready), .w_data(w_data), .w_bytes(w_bytes),
      .w_strb(w_strb), .b_valid(b_valid), .done(done), .error(error), .err_code(err_code),
      .err_detail(err_detail), .err_idx(err_idx), .err_engine(err_engine), .err_op(err_op),
      .err_ch(err_ch), .err_space(err_space), .pool_regs(pool_regs), .counters(counters));

  npu_dram_model #(.BUS(BUS)) u_dram (
      .clk(clk), .rst(rst), .cfg_beat_bytes(cfg_beat_bytes), .cfg_latency(cfg_latency),
      .freeze(dram_freeze),
      .ar_valid(ar_valid), .ar_ready(ar_ready), .ar_addr(ar_addr), .ar_len(ar_len),
      .r_valid(r_valid), .r_ready(r_ready), .r_data(r_data), .r_bytes(r_bytes),
      .aw_valid(aw_valid), .aw_ready(aw_ready), .aw_addr(aw_addr), .aw_len(aw_len),
      .w_valid(w_valid), .w_ready(w_ready), .w_data(w_data), .w_bytes(w_bytes),
      .w_strb(w_strb), .b_valid(b_valid));
endmodule
