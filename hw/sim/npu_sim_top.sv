// npu_sim_top: the Verilator top: the NPU core, the behavioural DRAM and the retirement monitor
// (co-simulation). The C++ executor (simulator/rtl) drives the clock and the configuration and
// serves the instruction port (npu_fetch, DPI-C).
// Nothing the core computes combinationally depends on a top-level input: the configuration
// and the test hooks are sampled into registers (the configuration during reset, the DRAM
// freeze a cycle late) and the instruction at the fetch counter comes through DPI-C. Verilator
// re-evaluates everything that depends on a top-level input in every eval() call, twice a
// cycle; this way that is nothing.
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
    input  logic                 trace_en,    // report retirements (npu_retire_monitor)
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
    output logic [64*NPU_NUM_COUNTERS-1:0] counters,
    // Status for the stall report (npu_core's st_* port, the DRAM model's, and the LOAD bytes
    // requested from DRAM whose data has not arrived).
    output logic [4*32-1:0]      st_idx,
    output logic [4*3-1:0]       st_phase,
    output logic [4*4-1:0]       st_ch,
    output logic [4*5-1:0]       st_queued,
    output logic [3:0]           st_inflight,
    output logic [16*4-1:0]      st_tokens,
    output logic [31:0]          st_load_pending,
    output logic [15:0]          st_dram_queue,
    output logic [15:0]          st_dram_reads,
    output logic [15:0]          st_dram_writes,
    output logic [63:0]          st_last_beat
);
`include "npu_spec.vh"
  logic ar_valid, ar_ready, r_valid, r_ready, aw_valid, aw_ready, w_valid, w_ready, b_valid;
  logic [31:0] ar_addr, aw_addr;
  logic [15:0] ar_len, aw_len, r_bytes, w_bytes;
  logic [8*BUS-1:0] r_data, w_data;
  logic [BUS-1:0] w_strb;

  // The configuration, sampled during reset (the executor sets it first), and the test hooks.
  logic [31:0] burst_q, latency_q, watchdog_q;
  logic [15:0] beat_q;
  logic freeze_q, trace_q;
  always_ff @(posedge clk) begin
    if (rst) begin
      burst_q <= cfg_burst_bytes;
      beat_q <= cfg_beat_bytes;
      latency_q <= cfg_latency;
      watchdog_q <= cfg_watchdog;
    end
    freeze_q <= dram_freeze;
    trace_q <= trace_en;
  end

  // The instruction port: word `idx` of the executor's program (valid: idx is in it).
  import "DPI-C" function void npu_fetch(input int unsigned idx, output bit valid,
                                         output bit [127:0] word);
  logic insn_valid;
  logic [127:0] insn_data;
  always_comb npu_fetch(fetch_count, insn_valid, insn_data);

  npu_core #(.DIM(DIM)) u_core (
      .clk(clk), .rst(rst), .cfg_burst_bytes(burst_q), .cfg_beat_bytes(beat_q),
      .cfg_watchdog(watchdog_q), .insn_valid(insn_valid), .insn_data(insn_data),
      .insn_ready(insn_ready), .fetch_count(fetch_count),
      .ar_valid(ar_valid), .ar_ready(ar_ready), .ar_addr(ar_addr), .ar_len(ar_len),
      .r_valid(r_valid), .r_ready(r_ready), .r_data(r_data), .r_bytes(r_bytes),
      .aw_valid(aw_valid), .aw_ready(aw_ready), .aw_addr(aw_addr), .aw_len(aw_len),
      .w_valid(w_valid), .w_ready(w_ready), .w_data(w_data), .w_bytes(w_bytes),
      .w_strb(w_strb), .b_valid(b_valid), .done(done), .error(error), .err_code(err_code),
      .err_detail(err_detail), .err_idx(err_idx), .err_engine(err_engine), .err_op(err_op),
      .err_ch(err_ch), .err_space(err_space), .pool_regs(pool_regs), .counters(counters),
      .st_idx(st_idx), .st_phase(st_phase), .st_ch(st_ch), .st_queued(st_queued),
      .st_inflight(st_inflight), .st_tokens(st_tokens));

  npu_dram_model #(.BUS(BUS)) u_dram (
      .clk(clk), .rst(rst), .cfg_beat_bytes(beat_q), .cfg_latency(latency_q),
      .freeze(freeze_q),
      .ar_valid(ar_valid), .ar_ready(ar_ready), .ar_addr(ar_addr), .ar_len(ar_len),
      .r_valid(r_valid), .r_ready(r_ready), .r_data(r_data), .r_bytes(r_bytes),
      .aw_valid(aw_valid), .aw_ready(aw_ready), .aw_addr(aw_addr), .aw_len(aw_len),
      .w_valid(w_valid), .w_ready(w_ready), .w_data(w_data), .w_bytes(w_bytes),
      .w_strb(w_strb), .b_valid(b_valid), .st_queue(st_dram_queue), .st_reads(st_dram_reads),
      .st_writes(st_dram_writes), .st_last_beat(st_last_beat));

  always_ff @(posedge clk)
    if (rst) st_load_pending <= '0;
    else if (ar_valid && ar_ready || r_valid && r_ready)
      st_load_pending <= st_load_pending + (ar_valid && ar_ready ? 32'(ar_len) : 32'd0) -
                         (r_valid && r_ready ? 32'(r_bytes) : 32'd0);

  // The monitor reads the core's internal signals by hierarchical reference: nothing of it is
  // part of the synthesizable RTL.
  npu_retire_monitor #(.DIM(DIM), .RF(NPU_GEMM_RETIRE_DEPTH)) u_monitor (
      .clk(clk), .rst(rst), .trace_en(trace_q),
      .act_we(u_core.act_we), .wgt_we(u_core.wgt_we), .acc_we(u_core.acc_we),
      .out_we(u_core.out_we), .ld_wwide(u_core.ld_wwide), .ld_waddr(u_core.ld_waddr),
      .ld_wdata(u_core.ld_wdata),
      .acc_waddr(u_core.acc_waddr[1]), .acc_wdata(u_core.acc_wdata[1]),
      .acc_wwide(u_core.acc_wwide[1]), .acc_wdata_hi(u_core.acc_wdata_hi[1]),
      .vacc_waddr(u_core.acc_waddr[2]), .vacc_wdata(u_core.acc_wdata[2]),
      .out_waddr(u_core.out_waddr[1]), .out_wdata(u_core.out_wdata[1]),
      .out_wwide(u_core.out_wwide[1]), .out_wdata_hi(u_core.out_wdata_hi[1]),
      .e_idx(u_core.e_idx), .e_retire(u_core.e_retire), .vec_op(u_core.e_insn[2][7:0]),
      .vec_w16(u_core.e_insn[2][`NPU_F_LUTLD_W16]),
      .f_accept(u_core.f_accept), .f_fetch_op(u_core.f_fetch_op),
      .fetch_count(fetch_count), .rf(u_core.u_gemm.rf), .rf_rp(u_core.u_gemm.rf_rp),
      .rf_wp(u_core.u_gemm.rf_wp), .done_cnt(u_core.u_gemm.done_cnt),
      .pend_valid(u_core.u_gemm.pend_valid), .counters(counters),
      .w_fire(w_valid && w_ready), .w_addr(u_dram.wr_addr), .w_bytes(w_bytes),
      .w_data(w_data), .w_strb(w_strb));
endmodule
