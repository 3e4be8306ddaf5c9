// npu_core: the synthesizable Ember NPU (hw/spec/npu.json): instruction fetch, the four engines
// with their instruction queues and dependency-token channels, the scratchpads and the
// accumulator SRAM, the performance counters, and deadlock/watchdog detection.
// Instructions arrive on a valid/ready port (one per cycle); DRAM is reached through an AXI-like
// memory port: AR/R for LOAD, AW/W/B for STORE, bursts of at most cfg_burst_bytes that never
// cross a burst-aligned boundary, beats of at most 4 * DIM bytes.
module npu_core
  import npu_spec_pkg::*;
#(
    parameter int DIM = 16,
    parameter int MAX_BURST = 4096,
    localparam int BUS = 4 * DIM
) (
    input  logic                 clk,
    input  logic                 rst,
    // configuration (held during a run)
    input  logic [31:0]          cfg_burst_bytes,   // power of two, <= MAX_BURST
    input  logic [15:0]          cfg_beat_bytes,    // DRAM bytes per cycle, <= BUS
    input  logic [31:0]          cfg_watchdog,      // cycles without progress; 0 = off
    // instruction port
    input  logic                 insn_valid,
    input  logic [127:0]         insn_data,
    output logic                 insn_ready,
    output logic [31:0]          fetch_count,       // instructions accepted so far
    // memory port
    output logic                 ar_valid,
    input  logic                 ar_ready,
    output logic [31:0]          ar_addr,
    output logic [15:0]          ar_len,
    input  logic                 r_valid,
    output logic                 r_ready,
    input  logic [8*BUS-1:0]     r_data,
    input  logic [15:0]          r_bytes,
    output logic                 aw_valid,
    input  logic                 aw_ready,
    output logic [31:0]          aw_addr,
    output logic [15:0]          aw_len,
    output logic                 w_valid,
    input  logic                 w_ready,
    output logic [8*BUS-1:0]     w_data,
    output logic [15:0]          w_bytes,
    output logic [BUS-1:0]       w_strb,            // byte enables of the beat
    input  logic                 b_valid,
    // status
    output logic                 done,              // FINISH retired
    output logic                 error,
    output logic [2:0]           err_code,          // 1 pool geometry (2 bits in err_detail),
                                                    // 2 deadlock, 3 watchdog, 4 unknown opcode
    output logic [1:0]           err_detail,
    output logic [31:0]          err_idx,
    output logic [2:0]           err_engine,        // 0..3, 4 = fetch
    output logic [7:0]           err_op,
    output logic [3:0]           err_ch,
    output logic                 err_space,
    output logic [32*5-1:0]      pool_regs,         // POOL_KH..POOL_OUT_W, for messages
    output logic [64*NPU_NUM_COUNTERS-1:0] counters,
    // Status (a debug port: the simulator's stall report reads it when a run stops). Engine e's
    // fields are [e*W +: W]: the instruction it holds (GEMM: its oldest in flight; an idle
    // engine: its queue's head), its phase, the channel of a token or space wait, the
    // instructions in its queue; then GEMM's instructions in flight and every channel's tokens.
    // Phases: 0 idle, 1 waits for a token on st_ch, 2 executing, 3 waits for space on st_ch to
    // signal; GEMM's oldest: 4 waits for the shadow weights to preload, 5 preloads them,
    // 6 streams its rows, 7 its results are on their way to ACC (driver.h, EMBER_NPU_PHASE_*).
    output logic [4*32-1:0]      st_idx,
    output logic [4*3-1:0]       st_phase,
    output logic [4*4-1:0]       st_ch,
    output logic [4*5-1:0]       st_queued,
    output logic [3:0]           st_inflight,
    output logic [16*4-1:0]      st_tokens
);
`include "npu_spec.vh"
  localparam int QW = 160;
  localparam int CNTW = $clog2(NPU_INSN_QUEUE_DEPTH + 1);
  localparam int E_LOAD = NPU_ENGINE_LOAD, E_GEMM = NPU_ENGINE_GEMM,
                 E_VEC = NPU_ENGINE_VECTOR, E_STORE = NPU_ENGINE_STORE;

  logic halt;
  assign halt = done || error;

  // ---------------------------------------------------------------- tokens
  logic [15:0][3:0] tok;  // packed: the simulator updates it as one vector
  logic [15:0] tok_avail, tok_space, take_all, give_all;
  logic [15:0] take[4], give[4];
  assign take_all = take[0] | take[1] | take[2] | take[3];
  assign give_all = give[0] | give[1] | give[2] | give[3];
  always_comb begin
    for (int c = 0; c < 16; c++) begin
      tok_avail[c] = tok[c] != 0;
      // A token taken this cycle frees its slot for a producer in the same cycle.
      tok_space[c] = 32'(tok[c]) - (take_all[c] ? 1 : 0) < NPU_TOKEN_FIFO_DEPTH;
    end
  end
  always_ff @(posedge clk)
    if (rst) tok <= '0;
    else if (!halt && (|give_all || |take_all))
      for (int c = 0; c < 16; c++)
        tok[c] <= 4'(32'(tok[c]) + (give_all[c] ? 1 : 0) - (take_all[c] ? 1 : 0));

  // ---------------------------------------------------------------- fetch and queues
  logic [7:0] f_op;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [15:0] f_wait, f_sig;  // checked by the driver before the run
  /* verilator lint_on UNUSEDSIGNAL */
  logic [3:0] f_eng;
  logic f_fetch_op, f_known, drained, f_accept;
  logic [3:0] q_push, q_pop, q_nonempty, eng_idle;
  logic [QW-1:0] q_head[4];
  logic [CNTW-1:0] q_count[4];
  logic [1:0] f_target;

  npu_insn_decode dec (
      .insn(insn_data), .opcode(f_op), .wait_mask(f_wait), .signal_mask(f_sig),
      .engine_onehot(f_eng), .is_fetch_op(f_fetch_op), .known(f_known));

  always_comb begin
    f_target = 2'd0;
    for (int e = 3; e >= 0; e--) if (f_eng[e]) f_target = 2'(e);
    drained = 1'b1;
    for (int e = 0; e < 4; e++) drained = drained && q_count[e] == 0 && eng_idle[e];
    if (f_fetch_op) insn_ready = !halt && drained;
    else insn_ready = !halt && f_known &&
                      (32'(q_count[f_target]) < NPU_INSN_QUEUE_DEPTH || q_pop[f_target]);
    f_accept = insn_valid && insn_ready;
    q_push = 4'd0;
    if (f_accept && !f_fetch_op) q_push[f_target] = 1'b1;
  end

  for (genvar e = 0; e < 4; e++) begin : g_q
    npu_fifo #(.WIDTH(QW), .DEPTH(NPU_INSN_QUEUE_DEPTH)) q (
        .clk(clk), .rst(rst), .push(q_push[e]), .din({fetch_count, insn_data}),
        .pop(q_pop[e] && !halt), .dout(q_head[e]), .count(q_count[e]));
    assign q_nonempty[e] = q_count[e] != 0 && !halt;
  end

  always_ff @(posedge clk)
    if (rst) begin
      fetch_count <= '0;
      done <= 1'b0;
    end else if (f_accept) begin
      fetch_count <= fetch_count + 1;
      if (f_op == NPU_OP_FINISH) done <= 1'b1;
    end

  // ---------------------------------------------------------------- memories
  localparam int AB = 8 * DIM, CB = 32 * DIM;
  // ACT: R0 GEMM, R1 STORE; W0 LOAD.   WGT: the same.
  // 16-bit rows (spec version 3) are row pairs (r, r + rows/2): the wide ports (`*_rwide`,
  // `*_wwide`) read or write both rows in one cycle (one access per half). GEMM16/DWGEMM16
  // (spec version 5) read ACT R0 and ACC R0 and write ACC W1 wide.
  logic [1:0] act_re, wgt_re, act_rwide;
  logic [1:0][11:0] act_raddr, wgt_raddr;
  logic [1:0][AB-1:0] act_rdata, wgt_rdata;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [1:0][AB-1:0] act_rdata_hi, wgt_rdata_hi, out_rdata_hi;
  logic [3:0][CB-1:0] acc_rdata_hi;  // R0 (GEMM), R1/R2 (VECTOR) read wide
  /* verilator lint_on UNUSEDSIGNAL */
  logic act_we, wgt_we;
  // ACC: R0 GEMM, R1/R2 VECTOR, R3 STORE; W0 LOAD, W1 GEMM, W2 VECTOR (VREDUCE's per-row
  // scalars, spec version 6).
  logic [3:0] acc_re, acc_rwide;
  logic [3:0][10:0] acc_raddr;
  logic [3:0][CB-1:0] acc_rdata;
  logic [2:0] acc_we, acc_wwide;
  logic [2:0][10:0] acc_waddr;
  logic [2:0][CB-1:0] acc_wdata, acc_wdata_hi;
  // OUT: R0/R1 VECTOR, R2 STORE, R3 LOAD (MOVE); W0 LOAD, W1 VECTOR.
  logic [3:0] out_re, out_rwide;
  logic [3:0][10:0] out_raddr;
  logic [3:0][AB-1:0] out_rdata;
  logic [3:0][AB-1:0] out_rdata_hi4;
  logic [1:0] out_we, out_wwide;
  logic [1:0][10:0] out_waddr;
  logic [1:0][AB-1:0] out_wdata, out_wdata_hi;
  // VBUF: the VECTOR engine's staging buffer.
  logic vb_re, vb_we, vb_rwide, vb_wwide;
  logic [10:0] vb_raddr, vb_waddr;
  logic [AB-1:0] vb_rdata, vb_wdata, vb_rdata_hi, vb_wdata_hi;
  // LOAD write port (to whichever memory) and STORE read port; LOAD's OUT read (MOVE). A wide
  // LOAD write carries the low plane in ld_wdata[AB-1:0] and the high one in [2AB-1:AB].
  logic ld_out_re, ld_wwide, ld_out_rwide, st_rwide;
  logic [3:0] ld_we, st_re;
  logic [11:0] ld_waddr, st_raddr;
  logic [CB-1:0] ld_wdata, st_rdata;
  logic [AB-1:0] st_rdata_hi;

  npu_sram #(.ROWS(NPU_ACT_ROWS), .WIDTH(AB), .NR(2), .NW(1)) u_act (
      .clk(clk), .re(act_re), .rwide(act_rwide), .raddr(act_raddr), .rdata(act_rdata),
      .rdata_hi(act_rdata_hi), .we(act_we), .wwide(ld_wwide), .waddr(ld_waddr),
      .wdata(ld_wdata[AB-1:0]), .wdata_hi(ld_wdata[2*AB-1:AB]));
  npu_sram #(.ROWS(NPU_WGT_ROWS), .WIDTH(AB), .NR(2), .NW(1)) u_wgt (
      .clk(clk), .re(wgt_re), .rwide(2'b00), .raddr(wgt_raddr), .rdata(wgt_rdata),
      .rdata_hi(wgt_rdata_hi), .we(wgt_we), .wwide(1'b0), .waddr(ld_waddr),
      .wdata(ld_wdata[AB-1:0]), .wdata_hi(ld_wdata[2*AB-1:AB]));
  npu_sram #(.ROWS(NPU_ACC_ROWS), .WIDTH(CB), .NR(4), .NW(3)) u_acc (
      .clk(clk), .re(acc_re), .rwide(acc_rwide), .raddr(acc_raddr), .rdata(acc_rdata),
      .rdata_hi(acc_rdata_hi), .we(acc_we), .wwide(acc_wwide), .waddr(acc_waddr),
      .wdata(acc_wdata), .wdata_hi(acc_wdata_hi));
  npu_sram #(.ROWS(NPU_OUT_ROWS), .WIDTH(AB), .NR(4), .NW(2)) u_out (
      .clk(clk), .re(out_re), .rwide(out_rwide), .raddr(out_raddr), .rdata(out_rdata),
      .rdata_hi(out_rdata_hi4), .we(out_we), .wwide(out_wwide), .waddr(out_waddr),
      .wdata(out_wdata), .wdata_hi(out_wdata_hi));
  npu_sram #(.ROWS(NPU_OUT_ROWS), .WIDTH(AB), .NR(1), .NW(1)) u_vbuf (
      .clk(clk), .re(vb_re), .rwide(vb_rwide), .raddr(vb_raddr), .rdata(vb_rdata),
      .rdata_hi(vb_rdata_hi), .we(vb_we), .wwide(vb_wwide), .waddr(vb_waddr),
      .wdata(vb_wdata), .wdata_hi(vb_wdata_hi));
  assign out_rdata_hi = out_rdata_hi4[1:0];

  // STORE reads whichever memory it was told; the data of a read arrives next cycle.
  logic [1:0] st_mem_q;
  always_ff @(posedge clk)
    for (int m = 0; m < 4; m++) if (st_re[m]) st_mem_q <= 2'(m);
  always_comb begin
    act_we = ld_we[NPU_MEM_ACT] && !halt;
    wgt_we = ld_we[NPU_MEM_WGT] && !halt;
    acc_we[0] = ld_we[NPU_MEM_ACC] && !halt;
    acc_waddr[0] = ld_waddr[10:0];
    acc_wdata[0] = ld_wdata;
    acc_wwide[0] = 1'b0;
    acc_wdata_hi[0] = '0;
    out_we[0] = ld_we[NPU_MEM_OUT] && !halt;
    out_waddr[0] = ld_waddr[10:0];
    out_wdata[0] = ld_wdata[AB-1:0];
    out_wwide[0] = ld_wwide;
    out_wdata_hi[0] = ld_wdata[2*AB-1:AB];
    act_rwide[1] = st_rwide;
    acc_rwide[3] = 1'b0;
    out_rwide[2] = st_rwide;
    out_rwide[3] = ld_out_rwide;
    act_re[1] = st_re[NPU_MEM_ACT];
    act_raddr[1] = st_raddr;
    wgt_re[1] = st_re[NPU_MEM_WGT];
    wgt_raddr[1] = st_raddr;
    acc_re[3] = st_re[NPU_MEM_ACC];
    acc_raddr[3] = st_raddr[10:0];
    out_re[2] = st_re[NPU_MEM_OUT];
    out_re[3] = ld_out_re;
    out_raddr[2] = st_raddr[10:0];
    case (st_mem_q)
      2'(NPU_MEM_ACT): st_rdata = {{(CB - AB) {1'b0}}, act_rdata[1]};
      2'(NPU_MEM_WGT): st_rdata = {{(CB - AB) {1'b0}}, wgt_rdata[1]};
      2'(NPU_MEM_ACC): st_rdata = acc_rdata[3];
      default: st_rdata = {{(CB - AB) {1'b0}}, out_rdata[2]};
    endcase
    st_rdata_hi = st_mem_q == 2'(NPU_MEM_ACT) ? act_rdata_hi[1] : out_rdata_hi4[2];
  end

  // ---------------------------------------------------------------- engines
  logic [127:0] e_insn[4];
  logic [31:0] e_idx[4];
  logic [3:0] e_start, e_running;
  /* verilator lint_off UNUSEDSIGNAL */
  logic [3:0] e_done;
  /* verilator lint_on UNUSEDSIGNAL */
  logic [3:0] e_stall, e_bspace, e_retire;
  logic [3:0] e_block_ch[4];
  logic ld_data_row, ld_dram_wait, st_row_read, st_dram_wait;
  logic [15:0] ld_row_bytes, st_row_bytes;

  for (genvar e = 0; e < 4; e++) begin : g_ctl
    if (e != E_GEMM) begin : g_std
      npu_engine_ctl ctl (
          .clk(clk), .rst(rst), .q_nonempty(q_nonempty[e]), .q_head(q_head[e]), .q_pop(q_pop[e]),
          .tok_avail(tok_avail), .tok_space(tok_space), .tok_take(take[e]), .tok_give(give[e]),
          .start(e_start[e]), .running(e_running[e]), .exec_done(e_done[e] && !halt),
          .insn(e_insn[e]), .idx(e_idx[e]), .idle(eng_idle[e]), .stall_token(e_stall[e]),
          .block_ch(e_block_ch[e]), .block_space(e_bspace[e]), .retire(e_retire[e]));
    end
  end

  npu_load #(.DIM(DIM)) u_load (
      .clk(clk), .rst(rst), .start(e_start[E_LOAD] && !halt), .running(e_running[E_LOAD] && !halt),
      .insn(e_insn[E_LOAD]), .exec_done(e_done[E_LOAD]), .cfg_burst_bytes(cfg_burst_bytes),
      .ar_valid(ar_valid), .ar_ready(ar_ready), .ar_addr(ar_addr), .ar_len(ar_len),
      .r_valid(r_valid), .r_ready(r_ready), .r_data(r_data), .r_bytes(r_bytes),
      .sram_we(ld_we), .sram_wwide(ld_wwide), .sram_waddr(ld_waddr), .sram_wdata(ld_wdata),
      .out_re(ld_out_re), .out_rwide(ld_out_rwide), .out_raddr(out_raddr[3]),
      .out_rdata(out_rdata[3]), .out_rdata_hi(out_rdata_hi4[3]),
      .data_row(ld_data_row), .row_bytes(ld_row_bytes), .dram_wait(ld_dram_wait));

  npu_store #(.DIM(DIM), .MAX_BURST(MAX_BURST)) u_store (
      .clk(clk), .rst(rst), .start(e_start[E_STORE] && !halt),
      .running(e_running[E_STORE] && !halt), .insn(e_insn[E_STORE]), .exec_done(e_done[E_STORE]),
      .cfg_burst_bytes(cfg_burst_bytes), .cfg_beat_bytes(cfg_beat_bytes),
      .sram_re(st_re), .sram_rwide(st_rwide), .sram_raddr(st_raddr), .sram_rdata(st_rdata),
      .sram_rdata_hi(st_rdata_hi),
      .aw_valid(aw_valid), .aw_ready(aw_ready), .aw_addr(aw_addr), .aw_len(aw_len),
      .w_valid(w_valid), .w_ready(w_ready), .w_data(w_data), .w_bytes(w_bytes),
      .w_strb(w_strb), .b_valid(b_valid), .row_read(st_row_read), .row_bytes(st_row_bytes),
      .dram_wait(st_dram_wait));

  logic vec_err;
  logic [1:0] vec_err_code;
  logic [31:0] vregs[NPU_NUM_REG_IDS];
  logic [1:0] vacc_re, vout_re, vacc_rwide, vout_rwide;
  logic [1:0][10:0] vacc_raddr, vout_raddr;
  logic vout_we, vacc_we;
  npu_vector #(.DIM(DIM)) u_vec (
      .clk(clk), .rst(rst), .start(e_start[E_VEC] && !halt), .running(e_running[E_VEC] && !halt),
      .insn(e_insn[E_VEC]), .exec_done(e_done[E_VEC]),
      .acc_re(vacc_re), .acc_rwide(vacc_rwide), .acc_raddr(vacc_raddr),
      .acc_rdata(acc_rdata[2:1]), .acc_rdata_hi(acc_rdata_hi[2:1]),
      .acc_we(vacc_we), .acc_waddr(acc_waddr[2]), .acc_wdata(acc_wdata[2]),
      .out_re(vout_re), .out_rwide(vout_rwide), .out_raddr(vout_raddr),
      .out_rdata(out_rdata[1:0]), .out_rdata_hi(out_rdata_hi),
      .out_we(vout_we), .out_wwide(out_wwide[1]), .out_waddr(out_waddr[1]),
      .out_wdata(out_wdata[1]), .out_wdata_hi(out_wdata_hi[1]),
      .stg_re(vb_re), .stg_rwide(vb_rwide), .stg_raddr(vb_raddr), .stg_rdata(vb_rdata),
      .stg_rdata_hi(vb_rdata_hi), .stg_we(vb_we), .stg_wwide(vb_wwide), .stg_waddr(vb_waddr),
      .stg_wdata(vb_wdata), .stg_wdata_hi(vb_wdata_hi),
      .error(vec_err), .error_code(vec_err_code), .regs_out(vregs));
  always_comb begin
    acc_re[2:1] = vacc_re;
    acc_rwide[2:1] = vacc_rwide;
    acc_raddr[2:1] = vacc_raddr;
    out_re[1:0] = vout_re;
    out_rwide[1:0] = vout_rwide;
    out_raddr[1:0] = vout_raddr;
    out_we[1] = vout_we && !halt;
    acc_we[2] = vacc_we && !halt;
    acc_wwide[2] = 1'b0;
    acc_wdata_hi[2] = '0;
    for (int r = 0; r < 5; r++) pool_regs[32*r+:32] = vregs[NPU_REG_POOL_KH+r];
  end

  logic g_busy, g_active, g_stall, g_blocked, g_bspace, g_retire, g_row, g_acc_we;
  logic [31:0] g_bidx, g_oldest;
  logic [3:0] g_bch;
  logic [2:0] g_phase;
  logic [3:0] g_inflight;
  npu_gemm #(.DIM(DIM), .RF(NPU_GEMM_RETIRE_DEPTH)) u_gemm (
      .clk(clk), .rst(rst), .q_nonempty(q_nonempty[E_GEMM]), .q_head(q_head[E_GEMM]),
      .q_pop(q_pop[E_GEMM]), .tok_avail(halt ? 16'd0 : tok_avail),
      .tok_space(halt ? 16'd0 : tok_space), .tok_take(take[E_GEMM]), .tok_give(give[E_GEMM]),
      .wgt_re(wgt_re[0]), .wgt_raddr(wgt_raddr[0]), .wgt_rdata(wgt_rdata[0]),
      .act_re(act_re[0]), .act_rwide(act_rwide[0]), .act_raddr(act_raddr[0]),
      .act_rdata(act_rdata[0]), .act_rdata_hi(act_rdata_hi[0]),
      .acc_re(acc_re[0]), .acc_rwide(acc_rwide[0]), .acc_raddr(acc_raddr[0]),
      .acc_rdata(acc_rdata[0]), .acc_rdata_hi(acc_rdata_hi[0]),
      .acc_we(g_acc_we), .acc_wwide(acc_wwide[1]), .acc_waddr(acc_waddr[1]),
      .acc_wdata(acc_wdata[1]), .acc_wdata_hi(acc_wdata_hi[1]),
      .idle(eng_idle[E_GEMM]), .active(g_active), .busy(g_busy), .stall_token(g_stall), .blocked(g_blocked),
      .block_idx(g_bidx), .block_ch(g_bch), .block_space(g_bspace), .oldest_idx(g_oldest),
      .retire(g_retire), .row_issued(g_row), .st_phase(g_phase), .st_inflight(g_inflight));
  assign acc_we[1] = g_acc_we && !halt;
  assign e_running[E_GEMM] = g_busy;
  assign e_start[E_GEMM] = 1'b0;
  assign e_done[E_GEMM] = 1'b0;
  assign e_stall[E_GEMM] = g_stall;
  assign e_retire[E_GEMM] = g_retire;
  assign e_insn[E_GEMM] = '0;
  assign e_idx[E_GEMM] = g_oldest;
  assign e_block_ch[E_GEMM] = g_bch;
  assign e_bspace[E_GEMM] = g_bspace;

  // ---------------------------------------------------------------- status
  always_comb begin
    for (int e = 0; e < 4; e++) begin
      st_queued[5*e+:5] = 5'(q_count[e]);
      st_ch[4*e+:4] = e_block_ch[e];
      if (e == E_GEMM) begin
        st_phase[3*e+:3] = g_phase;
        st_idx[32*e+:32] = g_phase != 3'd0 ? g_oldest : q_head[e][159:128];
      end else begin
        st_phase[3*e+:3] = eng_idle[e] ? 3'd0 : e_stall[e] ? (e_bspace[e] ? 3'd3 : 3'd1) : 3'd2;
        st_idx[32*e+:32] = eng_idle[e] ? q_head[e][159:128] : e_idx[e];
      end
    end
    st_inflight = g_inflight;
    st_tokens = tok;
  end

  // ---------------------------------------------------------------- deadlock and watchdog
  // Nothing can change any more when, for two cycles, no engine executes, nothing is fetched,
  // popped or moved between engines: every instruction left waits on a token channel.
  logic activity, progress, quiet_q;
  logic [31:0] wd_count;
  logic [3:0] blk;
  logic [31:0] blk_idx[4];
  logic dl_found;
  logic [31:0] dl_idx, run_idx;
  logic [2:0] dl_eng, run_eng;
  always_comb begin
    activity = f_accept || (|q_pop) || (|take_all) || (|give_all) || e_running[E_LOAD] ||
               e_running[E_VEC] || e_running[E_STORE] || g_active;
    progress = f_accept || (|q_pop) || (|take_all) || (|give_all) || (|ld_we) || (|st_re) || ld_out_re ||
               g_row || g_acc_we || vout_we || vacc_we || vb_we || (|vacc_re) || (|vout_re) ||
               (ar_valid && ar_ready) || (r_valid && r_ready) || (aw_valid && aw_ready) ||
               (w_valid && w_ready) || b_valid;
    for (int e = 0; e < 4; e++) begin
      blk[e] = e == E_GEMM ? g_blocked : e_stall[e];
      blk_idx[e] = e == E_GEMM ? g_bidx : e_idx[e];
    end
    dl_found = 1'b0;
    dl_idx = fetch_count;
    dl_eng = 3'd4;
    for (int e = 0; e < 4; e++)
      if (blk[e] && (!dl_found || blk_idx[e] < dl_idx)) begin
        dl_found = 1'b1;
        dl_idx = blk_idx[e];
        dl_eng = 3'(e);
      end
    // The oldest instruction still executing, for the watchdog message.
    run_idx = fetch_count;
    run_eng = 3'd4;
    for (int e = 0; e < 4; e++)
      if (e_running[e] && e_idx[e] < run_idx) begin
        run_idx = e_idx[e];
        run_eng = 3'(e);
      end
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      error <= 1'b0;
      err_code <= '0;
      err_detail <= '0;
      err_idx <= '0;
      err_engine <= '0;
      err_op <= '0;
      err_ch <= '0;
      err_space <= 1'b0;
      quiet_q <= 1'b0;
      wd_count <= '0;
    end else if (!halt) begin
      quiet_q <= !activity;
      wd_count <= progress ? 32'd0 : wd_count + 1;
      if (vec_err) begin
        error <= 1'b1;
        err_code <= 3'd1;
        err_detail <= vec_err_code;
        err_idx <= e_idx[E_VEC];
        err_engine <= 3'(E_VEC);
        err_op <= NPU_OP_POOL;
      end else if (insn_valid && !f_known) begin
        error <= 1'b1;
        err_code <= 3'd4;
        err_idx <= fetch_count;
        err_engine <= 3'd4;
        err_op <= f_op;
      end else if (quiet_q && !activity) begin
        error <= 1'b1;
        err_code <= 3'd2;
        err_idx <= dl_idx;
        err_engine <= dl_eng;
        err_ch <= dl_eng == 3'(E_GEMM) ? g_bch : e_block_ch[2'(dl_eng)];
        err_space <= dl_eng == 3'(E_GEMM) ? g_bspace : e_bspace[2'(dl_eng)];
      end else if (cfg_watchdog != 0 && wd_count >= cfg_watchdog) begin
        error <= 1'b1;
        err_code <= 3'd3;
        err_idx <= run_idx;
        err_engine <= run_eng;
      end
    end
  end

  // ---------------------------------------------------------------- performance counters
  logic [63:0] cnt[NPU_NUM_COUNTERS];
  always_comb
    for (int c = 0; c < NPU_NUM_COUNTERS; c++) counters[64*c+:64] = cnt[c];
  always_ff @(posedge clk) begin
    if (rst) begin
      for (int c = 0; c < NPU_NUM_COUNTERS; c++) cnt[c] <= '0;
    end else if (!halt) begin
      cnt[NPU_CNT_CYCLES] <= cnt[NPU_CNT_CYCLES] + 1;
      cnt[NPU_CNT_INSNS] <= cnt[NPU_CNT_INSNS] + 64'(e_retire[0]) + 64'(e_retire[1]) +
                            64'(e_retire[2]) + 64'(e_retire[3]) + 64'(f_accept && f_fetch_op);
      if (g_row) cnt[NPU_CNT_MACS] <= cnt[NPU_CNT_MACS] + 64'(DIM * DIM);
      if (ld_data_row) cnt[NPU_CNT_LOAD_BYTES] <= cnt[NPU_CNT_LOAD_BYTES] + 64'(ld_row_bytes);
      if (st_row_read) cnt[NPU_CNT_STORE_BYTES] <= cnt[NPU_CNT_STORE_BYTES] + 64'(st_row_bytes);
      cnt[NPU_CNT_LOAD_BUSY] <= cnt[NPU_CNT_LOAD_BUSY] + 64'(e_running[E_LOAD]);
      cnt[NPU_CNT_GEMM_BUSY] <= cnt[NPU_CNT_GEMM_BUSY] + 64'(g_busy);
      cnt[NPU_CNT_VECTOR_BUSY] <= cnt[NPU_CNT_VECTOR_BUSY] + 64'(e_running[E_VEC]);
      cnt[NPU_CNT_STORE_BUSY] <= cnt[NPU_CNT_STORE_BUSY] + 64'(e_running[E_STORE]);
      cnt[NPU_CNT_LOAD_STALL_TOKEN] <= cnt[NPU_CNT_LOAD_STALL_TOKEN] + 64'(e_stall[E_LOAD]);
      cnt[NPU_CNT_GEMM_STALL_TOKEN] <= cnt[NPU_CNT_GEMM_STALL_TOKEN] + 64'(g_stall);
      cnt[NPU_CNT_VECTOR_STALL_TOKEN] <= cnt[NPU_CNT_VECTOR_STALL_TOKEN] + 64'(e_stall[E_VEC]);
      cnt[NPU_CNT_STORE_STALL_TOKEN] <= cnt[NPU_CNT_STORE_STALL_TOKEN] + 64'(e_stall[E_STORE]);
      cnt[NPU_CNT_LOAD_STALL_DRAM] <= cnt[NPU_CNT_LOAD_STALL_DRAM] + 64'(ld_dram_wait);
      cnt[NPU_CNT_STORE_STALL_DRAM] <= cnt[NPU_CNT_STORE_STALL_DRAM] + 64'(st_dram_wait);
      cnt[NPU_CNT_OVERLAP] <= cnt[NPU_CNT_OVERLAP] + 64'(e_running[E_LOAD] && g_busy);
    end
  end
endmodule
