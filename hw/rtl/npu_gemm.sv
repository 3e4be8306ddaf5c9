// npu_gemm: the GEMM engine, a three-stage in-order pipeline around the systolic array.
//   cur:  the next instruction, waiting for its tokens;
//   pend: tokens taken; its weight tile is preloaded into the shadow weights (one WGT row per
//         cycle, DIM cycles) as soon as the shadow is free, i.e. DIM cycles after the previous
//         tile started streaming (its swap has then reached the bottom row);
//   str:  streams one ACT row per cycle into the array (inner x outer loop); it starts one cycle
//         after its preload started and after the previous instruction's last row.
// So back-to-back GEMMs start max(rows, DIM) cycles apart. Each result row is added to (or,
// with reset, written over) its ACC row 2 * DIM cycles after its ACT row was read; an
// instruction retires (signals its tokens, in order) with its last ACC write.
// DWGEMM runs through the same stages: its tile's lanes t >= taps are zeroed on preload, each
// line streams (inner - 1) * stride + taps rows with the array in column-broadcast mode
// (npu_systolic.sv), and the results of rows 0, stride, 2 * stride, ... (inner of them) are
// written; it retires 2 * DIM cycles after its last streamed row. With bias, each column's
// partial sum starts from the int32 in lanes DIM-4..DIM-1 of its weight row (npu_systolic.sv).
// GEMM16 and DWGEMM16 (spec version 5; the fields of GEMM and DWGEMM) are the same instructions
// with a `w16` flag carried through pend, str and the delay line: each ACT read takes the row
// pair (r, r + ACT rows/2) and feeds both byte planes to the array (each PE's second multiplier
// and partial-sum chain), and each ACC read-modify-write takes the accumulator pair
// (r, r + ACC rows/2): the low plane's results go to r, the high plane's to r + ACC rows/2. So
// a 16x8 op is its two int8 ops (one per plane) in the cycles of one, with the same timing.
module npu_gemm #(
    parameter int DIM = 16,
    parameter int RF = 8,               // instructions between token take and retire
    localparam int CW = $clog2(DIM),
    localparam int LAT = 2 * DIM        // ACT read to ACC write
) (
    input  logic                 clk,
    input  logic                 rst,
    input  logic                 q_nonempty,
    input  logic [159:0]         q_head,
    output logic                 q_pop,
    input  logic [15:0]          tok_avail,
    input  logic [15:0]          tok_space,
    output logic [15:0]          tok_take,
    output logic [15:0]          tok_give,
    output logic                 wgt_re,
    output logic [11:0]          wgt_raddr,
    input  logic [8*DIM-1:0]     wgt_rdata,
    output logic                 act_re,
    output logic                 act_rwide,     // also read row act_raddr + ACT rows/2
    output logic [11:0]          act_raddr,
    input  logic [8*DIM-1:0]     act_rdata,
    input  logic [8*DIM-1:0]     act_rdata_hi,
    output logic                 acc_re,
    output logic                 acc_rwide,     // also read row acc_raddr + ACC rows/2
    output logic [10:0]          acc_raddr,
    input  logic [32*DIM-1:0]    acc_rdata,
    input  logic [32*DIM-1:0]    acc_rdata_hi,
    output logic                 acc_we,
    output logic                 acc_wwide,     // also write row acc_waddr + ACC rows/2
    output logic [10:0]          acc_waddr,
    output logic [32*DIM-1:0]    acc_wdata,
    output logic [32*DIM-1:0]    acc_wdata_hi,
    output logic                 idle,          // nothing in flight
    output logic                 active,        // the pipeline moves by itself this cycle
    output logic                 busy,          // an instruction between token take and retire
    output logic                 stall_token,
    output logic                 blocked,       // waiting on a token channel
    output logic [31:0]          block_idx,
    output logic [3:0]           block_ch,
    output logic                 block_space,
    output logic [31:0]          oldest_idx,    // oldest instruction in flight (watchdog)
    output logic                 retire,
    output logic                 row_issued,    // one ACT row entered the array (DIM^2 MACs)
    // Status: where the oldest instruction is (npu_core's st_phase codes: 0 none, 1 waits for
    // a token, 2 about to take its tokens, 3 waits for space to signal, 4 waits for the shadow
    // weights, 5 preloads them, 6 streams, 7 its results are on their way to ACC) and how many
    // are between token take and retire.
    output logic [2:0]           st_phase,
    output logic [3:0]           st_inflight
);
`include "npu_spec.vh"
  localparam logic [10:0] ACC_HALF = 11'(NPU_ACC_HALF);
  // GEMM16 and DWGEMM16 are decoded with the slices of GEMM and DWGEMM: the spec gives them
  // exactly the same fields.
  if (`NPU_F_GEMM16_RESET_LSB != `NPU_F_GEMM_RESET_LSB ||
      `NPU_F_GEMM16_ACC_LSB != `NPU_F_GEMM_ACC_LSB ||
      `NPU_F_GEMM16_ACT_LSB != `NPU_F_GEMM_ACT_LSB ||
      `NPU_F_GEMM16_WGT_LSB != `NPU_F_GEMM_WGT_LSB ||
      `NPU_F_GEMM16_INNER_LSB != `NPU_F_GEMM_INNER_LSB ||
      `NPU_F_GEMM16_OUTER_LSB != `NPU_F_GEMM_OUTER_LSB ||
      `NPU_F_GEMM16_ACT_OSTRIDE_LSB != `NPU_F_GEMM_ACT_OSTRIDE_LSB ||
      `NPU_F_GEMM16_ACC_OSTRIDE_LSB != `NPU_F_GEMM_ACC_OSTRIDE_LSB ||
      `NPU_F_DWGEMM16_RESET_LSB != `NPU_F_DWGEMM_RESET_LSB ||
      `NPU_F_DWGEMM16_ACC_LSB != `NPU_F_DWGEMM_ACC_LSB ||
      `NPU_F_DWGEMM16_ACT_LSB != `NPU_F_DWGEMM_ACT_LSB ||
      `NPU_F_DWGEMM16_WGT_LSB != `NPU_F_DWGEMM_WGT_LSB ||
      `NPU_F_DWGEMM16_INNER_LSB != `NPU_F_DWGEMM_INNER_LSB ||
      `NPU_F_DWGEMM16_OUTER_LSB != `NPU_F_DWGEMM_OUTER_LSB ||
      `NPU_F_DWGEMM16_ACT_OSTRIDE_LSB != `NPU_F_DWGEMM_ACT_OSTRIDE_LSB ||
      `NPU_F_DWGEMM16_ACC_OSTRIDE_LSB != `NPU_F_DWGEMM_ACC_OSTRIDE_LSB ||
      `NPU_F_DWGEMM16_TAPS_LSB != `NPU_F_DWGEMM_TAPS_LSB ||
      `NPU_F_DWGEMM16_STRIDE_LSB != `NPU_F_DWGEMM_STRIDE_LSB ||
      `NPU_F_DWGEMM16_BIAS_LSB != `NPU_F_DWGEMM_BIAS_LSB) begin : g_fields16
    $error("GEMM16/DWGEMM16 fields differ from GEMM/DWGEMM");
  end
  // ---- cur: waiting for tokens
  logic cur_valid;
  logic [159:0] cur;
  logic [127:0] ci;
  assign ci = cur[127:0];
  logic wait_ok, take;

  // ---- pend
  logic pend_valid, pend_pre;   // pend_pre: its preload has started
  logic pend_reset;
  logic [10:0] pend_acc;
  logic [11:0] pend_act, pend_wgt;
  logic [9:0] pend_inner, pend_outer;
  logic [11:0] pend_aos, pend_cos;
  logic pend_dw, pend_bias, pend_w16;
  logic [11:0] pend_len;        // rows streamed per line (inner for GEMM)
  logic [1:0] pend_stride;      // rows per written result (1 for GEMM)
  logic [5:0] pend_lanes;       // weight lanes kept on preload (DIM, or taps for DWGEMM)
  logic [5:0] pre_lanes, wld_lanes;
  logic [8*DIM-1:0] wld_row_m;

  // ---- shadow weights / preload
  logic sh_owned;               // shadow holds a tile that has not started streaming
  // cycles until the last swap of the streaming tile (public: a fault-injection point of the
  // simulator, simulator/rtl/RtlModel.cpp; public for reading only, so that Verilator does not
  // re-evaluate its fan-out in every eval() call as it does for a writable one)
  logic [CW-1:0] sh_cnt /*verilator public_flat_rd*/;
  logic pre_active;
  logic [CW:0] pre_cnt;
  logic [11:0] pre_base;
  logic wld;
  logic [CW-1:0] wld_col;

  // ---- str
  logic str_valid, str_first, str_reset, str_dw, str_bias, str_w16;
  logic [11:0] str_len;
  logic [1:0] str_stride, str_ph;
  logic [9:0] str_w;            // results of the line written so far
  logic wr;
  logic [11:0] str_act, act_line, str_aos;
  logic [10:0] str_acc, acc_line;
  logic [11:0] str_cos;
  logic [11:0] str_i;
  logic [9:0] str_o, str_inner, str_outer;
  logic str_last, pre_start, move;

  // ---- retire FIFO (index, signal mask) and completion count
  logic [47:0] rf[RF];
  logic [$clog2(RF)-1:0] rf_rp, rf_wp;
  logic [$clog2(RF):0] rf_count;
  logic [$clog2(RF):0] done_cnt;
  logic done_now, can_retire, head_space;
  logic [15:0] head_sig;

  // ---- array and the control delay line (ACT read -> ACC write)
  logic in_valid, in_swap, in_dw, in_bias, in_w16;
  logic [LAT-1:0] dl_valid, dl_reset, dl_last, dl_w16;
  logic [LAT-1:0][10:0] dl_acc;  // packed: the simulator shifts it as one vector
  logic [$clog2(LAT+2):0] flight;
  logic arr_en;
  logic [32*DIM-1:0] res, res_hi;
  logic [8*DIM-1:0] in_row_hi;
  // The previous cycle's ACC write (row fw_addr, and fw_addr + ACC rows/2 if fw_wide), forwarded
  // to a read-modify-write of any of those rows in the next cycle (the read saw the old row).
  logic fw_valid, fw_wide;
  logic [10:0] fw_addr;
  logic [32*DIM-1:0] fw_data, fw_data_hi;
  logic [10:0] wr_addr_hi;
  logic fw_lo_lo, fw_lo_hi, fw_hi_lo, fw_hi_hi;

  assign wait_ok = (ci[`NPU_F_WAIT] & ~tok_avail) == 16'd0;
  assign pre_start = pend_valid && !pend_pre && !sh_owned && sh_cnt == 0;
  logic line_end;
  assign line_end = 32'(str_i) + 1 == 32'(str_len);
  assign wr = str_ph == 2'd0 && 32'(str_w) < 32'(str_inner);
  assign str_last = str_valid && line_end && 32'(str_o) + 1 == 32'(str_outer);
  assign move = pend_valid && (pend_pre || pre_start) && (!str_valid || str_last);
  // Take the tokens of `cur` when pend is (or becomes) free and the retire FIFO has room.
  assign take = cur_valid && wait_ok && (!pend_valid || move) && 32'(rf_count) < RF;
  assign q_pop = q_nonempty && (!cur_valid || take);
  assign tok_take = take ? ci[`NPU_F_WAIT] : 16'd0;

  always_comb begin
    logic [31:0] old, old_hi;
    {old, old_hi} = '0;
    // Preload reads.
    wgt_re = pre_start || (pre_active && 32'(pre_cnt) < DIM);
    wgt_raddr = pre_start ? pend_wgt : 12'(32'(pre_base) + 32'(pre_cnt));
    // Preload mask: lanes at or beyond wld_lanes load zero.
    for (int k = 0; k < DIM; k++)
      wld_row_m[8*k+:8] = 32'(k) < 32'(wld_lanes) ? wgt_rdata[8*k+:8] : 8'd0;
    // Stream reads.
    act_re = str_valid;
    act_rwide = str_valid && str_w16;
    act_raddr = str_act;
    // Retire.
    head_sig = rf[rf_rp][15:0];
    head_space = (head_sig & ~tok_space) == 16'd0;
    done_now = arr_en && dl_last[LAT-1];
    can_retire = (done_cnt != 0 || done_now) && rf_count != 0 && head_space;
    tok_give = can_retire ? head_sig : 16'd0;
    retire = can_retire;
    // ACC read-modify-write: read one cycle before the result row arrives.
    acc_re = arr_en && dl_valid[LAT-2];
    acc_rwide = arr_en && dl_valid[LAT-2] && dl_w16[LAT-2];
    acc_raddr = dl_acc[LAT-2];
    acc_we = arr_en && dl_valid[LAT-1];
    acc_wwide = arr_en && dl_valid[LAT-1] && dl_w16[LAT-1];
    acc_waddr = dl_acc[LAT-1];
    // Forwarding: which row of the previous write (low: fw_addr, high: fw_addr + half) each
    // row of this one (low: acc_waddr, high: acc_waddr + half) must take instead of the read.
    wr_addr_hi = dl_acc[LAT-1] + ACC_HALF;
    fw_lo_lo = fw_valid && fw_addr == dl_acc[LAT-1];
    fw_lo_hi = fw_valid && fw_wide && fw_addr + ACC_HALF == dl_acc[LAT-1];
    fw_hi_lo = fw_valid && fw_addr == wr_addr_hi;
    fw_hi_hi = fw_valid && fw_wide && fw_addr + ACC_HALF == wr_addr_hi;
    // The write data, computed in the cycles that write (the high row: that write wide), so
    // the simulator skips the adders in the others; the ports ignore it then.
    acc_wdata = '0;
    acc_wdata_hi = '0;
    if (acc_we)
      for (int j = 0; j < DIM; j++) begin
        old = fw_lo_lo ? fw_data[32*j+:32] :
              fw_lo_hi ? fw_data_hi[32*j+:32] : acc_rdata[32*j+:32];
        acc_wdata[32*j+:32] = dl_reset[LAT-1] ? res[32*j+:32] : old + res[32*j+:32];
      end
    if (acc_wwide)
      for (int j = 0; j < DIM; j++) begin
        old_hi = fw_hi_lo ? fw_data[32*j+:32] :
                 fw_hi_hi ? fw_data_hi[32*j+:32] : acc_rdata_hi[32*j+:32];
        acc_wdata_hi[32*j+:32] =
            dl_reset[LAT-1] ? res_hi[32*j+:32] : old_hi + res_hi[32*j+:32];
      end
    busy = rf_count != 0;
    idle = !cur_valid && rf_count == 0;
    row_issued = str_valid;
    // Blocked: the oldest instruction that waits on a token channel.
    blocked = 1'b0;
    block_idx = cur[159:128];
    block_space = 1'b0;
    block_ch = 4'd0;
    if (rf_count != 0 && done_cnt != 0 && !head_space) begin
      blocked = 1'b1;
      block_idx = rf[rf_rp][47:16];
      block_space = 1'b1;
      for (int c = 15; c >= 0; c--) if (head_sig[c] && !tok_space[c]) block_ch = 4'(c);
    end else if (cur_valid && !wait_ok) begin
      blocked = 1'b1;
      for (int c = 15; c >= 0; c--) if (ci[8+c] && !tok_avail[c]) block_ch = 4'(c);
    end
    stall_token = blocked && (rf_count == 0 || block_space);
    oldest_idx = rf_count != 0 ? rf[rf_rp][47:16] : cur[159:128];
    active = pend_valid || str_valid || pre_active || flight != 0 || sh_cnt != 0 || can_retire;
    // Status. The instructions in flight are, oldest first: those whose rows are all in the
    // array, the one streaming (str), the one in pend.
    st_phase = 3'd0;
    if (rf_count != 0) begin
      if (done_cnt != 0 && !head_space) st_phase = 3'd3;
      else if (32'(rf_count) > (pend_valid ? 1 : 0) + (str_valid ? 1 : 0)) st_phase = 3'd7;
      else if (str_valid) st_phase = 3'd6;
      else if (pend_pre || pre_active) st_phase = 3'd5;
      else st_phase = 3'd4;
    end else if (cur_valid) st_phase = wait_ok ? 3'd2 : 3'd1;
    st_inflight = 4'(rf_count);
  end
  assign arr_en = str_valid || flight != 0;
  // The high plane enters the array only with a 16x8 row (rdata_hi holds stale data otherwise).
  assign in_row_hi = in_w16 ? act_rdata_hi : '0;

  npu_systolic #(.DIM(DIM)) array (
      .clk(clk), .en(arr_en), .in_valid(in_valid), .in_swap(in_swap), .in_dw(in_dw),
      .in_bias(in_bias), .in_w16(in_w16), .wld_bias(wgt_rdata[8*(DIM-4)+:32]), .in_row(act_rdata),
      .in_row_hi(in_row_hi), .wld(wld), .wld_col(wld_col), .wld_row(wld_row_m), .out_row(res),
      .out_row_hi(res_hi));

  always_ff @(posedge clk) begin
    if (rst) begin
      cur_valid <= 1'b0;
      cur <= '0;
      pend_valid <= 1'b0;
      pend_pre <= 1'b0;
      sh_owned <= 1'b0;
      sh_cnt <= '0;
      pre_active <= 1'b0;
      wld <= 1'b0;
      str_valid <= 1'b0;
      rf_rp <= '0;
      rf_wp <= '0;
      rf_count <= '0;
      done_cnt <= '0;
      in_valid <= 1'b0;
      in_swap <= 1'b0;
      in_dw <= 1'b0;
      in_bias <= 1'b0;
      in_w16 <= 1'b0;
      dl_valid <= '0;
      dl_last <= '0;
      flight <= '0;
      fw_valid <= 1'b0;
    end else begin
      // cur
      if (q_pop) cur <= q_head;
      if (q_pop) cur_valid <= 1'b1;
      else if (take) cur_valid <= 1'b0;
      // Preload.
      if (pre_start) begin
        pend_pre <= 1'b1;
        sh_owned <= 1'b1;
        pre_active <= 1'b1;
        pre_base <= pend_wgt;
        pre_lanes <= pend_lanes;
        pre_cnt <= 1;
      end else if (pre_active) begin
        if (32'(pre_cnt) < DIM) pre_cnt <= pre_cnt + 1;
        else pre_active <= 1'b0;
      end
      // cur -> pend (+ retire FIFO entry); after the preload so a new pend starts unloaded
      if (take) begin
        pend_valid <= 1'b1;
        pend_pre <= 1'b0;
        pend_w16 <= ci[`NPU_F_OPCODE] == NPU_OP_GEMM16 || ci[`NPU_F_OPCODE] == NPU_OP_DWGEMM16;
        if (ci[`NPU_F_OPCODE] == NPU_OP_DWGEMM || ci[`NPU_F_OPCODE] == NPU_OP_DWGEMM16) begin
          pend_dw <= 1'b1;
          pend_bias <= ci[`NPU_F_DWGEMM_BIAS];
          pend_reset <= ci[`NPU_F_DWGEMM_RESET];
          pend_acc <= ci[`NPU_F_DWGEMM_ACC_LSB +: 11];
          pend_act <= ci[`NPU_F_DWGEMM_ACT_LSB +: 12];
          pend_wgt <= ci[`NPU_F_DWGEMM_WGT_LSB +: 12];
          pend_inner <= ci[`NPU_F_DWGEMM_INNER];
          pend_outer <= ci[`NPU_F_DWGEMM_OUTER];
          pend_aos <= ci[`NPU_F_DWGEMM_ACT_OSTRIDE];
          pend_cos <= ci[`NPU_F_DWGEMM_ACC_OSTRIDE];
          pend_len <= 12'((32'(ci[`NPU_F_DWGEMM_INNER]) - 1) * 32'(ci[`NPU_F_DWGEMM_STRIDE]) +
                          32'(ci[`NPU_F_DWGEMM_TAPS]));
          pend_stride <= ci[`NPU_F_DWGEMM_STRIDE];
          pend_lanes <= 6'(ci[`NPU_F_DWGEMM_TAPS]);
        end else begin
          pend_dw <= 1'b0;
          pend_bias <= 1'b0;
          pend_reset <= ci[`NPU_F_GEMM_RESET];
          pend_acc <= ci[`NPU_F_GEMM_ACC_LSB +: 11];
          pend_act <= ci[`NPU_F_GEMM_ACT_LSB +: 12];
          pend_wgt <= ci[`NPU_F_GEMM_WGT_LSB +: 12];
          pend_inner <= ci[`NPU_F_GEMM_INNER];
          pend_outer <= ci[`NPU_F_GEMM_OUTER];
          pend_aos <= ci[`NPU_F_GEMM_ACT_OSTRIDE];
          pend_cos <= ci[`NPU_F_GEMM_ACC_OSTRIDE];
          pend_len <= 12'(ci[`NPU_F_GEMM_INNER]);
          pend_stride <= 2'd1;
          pend_lanes <= 6'(DIM);
        end
        rf[rf_wp] <= {cur[159:128], ci[`NPU_F_SIGNAL]};
        rf_wp <= rf_wp + 1;
      end else if (move) pend_valid <= 1'b0;
      wld <= wgt_re;
      wld_col <= pre_start ? '0 : CW'(pre_cnt);
      wld_lanes <= pre_start ? pend_lanes : pre_lanes;
      // pend -> str: the tile starts streaming next cycle; its swap passes the bottom row of
      // the array DIM cycles later, when the shadow may be loaded again.
      if (move) begin
        sh_owned <= 1'b0;
        sh_cnt <= CW'(DIM - 1);
      end else if (sh_cnt != 0) sh_cnt <= sh_cnt - 1;
      // Stream.
      in_valid <= str_valid;
      in_swap <= str_valid && str_first;
      in_dw <= str_valid && str_dw;
      in_bias <= str_valid && str_bias;
      in_w16 <= str_valid && str_w16;
      if (move) begin
        str_valid <= 1'b1;
        str_first <= 1'b1;
        str_reset <= pend_reset;
        str_dw <= pend_dw;
        str_bias <= pend_bias;
        str_w16 <= pend_w16;
        str_len <= pend_len;
        str_stride <= pend_stride;
        str_ph <= '0;
        str_w <= '0;
        str_act <= pend_act;
        act_line <= pend_act;
        str_acc <= pend_acc;
        acc_line <= pend_acc;
        str_aos <= pend_aos;
        str_cos <= pend_cos;
        str_inner <= pend_inner;
        str_outer <= pend_outer;
        str_i <= '0;
        str_o <= '0;
      end else if (str_valid) begin
        str_first <= 1'b0;
        if (str_last) str_valid <= 1'b0;
        if (line_end) begin
          str_i <= '0;
          str_ph <= '0;
          str_w <= '0;
          str_o <= str_o + 1;
          act_line <= act_line + str_aos;
          acc_line <= 11'(32'(acc_line) + 32'(str_cos));
          str_act <= act_line + str_aos;
          str_acc <= 11'(32'(acc_line) + 32'(str_cos));
        end else begin
          str_i <= str_i + 1;
          str_act <= str_act + 1;
          str_ph <= str_ph + 1 == str_stride ? 2'd0 : str_ph + 1;
          if (wr) begin
            str_w <= str_w + 1;
            str_acc <= str_acc + 1;
          end
        end
      end
      // Control delay line and array activity.
      if (str_valid) flight <= ($clog2(LAT + 2) + 1)'(LAT + 1);
      else if (flight != 0) flight <= flight - 1;
      if (arr_en) begin
        // Only every stride-th row of a line, inner of them, is written (all for GEMM).
        dl_valid <= {dl_valid[LAT-2:0], str_valid && wr};
        dl_reset <= {dl_reset[LAT-2:0], str_reset};
        dl_w16 <= {dl_w16[LAT-2:0], str_w16};
        dl_last <= {dl_last[LAT-2:0], str_last};
        dl_acc <= {dl_acc[LAT-2:0], str_acc};
      end
      fw_valid <= acc_we;
      fw_wide <= acc_wwide;
      fw_addr <= acc_waddr;
      // The data matters only after a write (fw_valid), the high row only after a wide one.
      if (acc_we) fw_data <= acc_wdata;
      if (acc_wwide) fw_data_hi <= acc_wdata_hi;
      // Retire.
      if (can_retire) rf_rp <= rf_rp + 1;
      rf_count <= rf_count + (take ? 1 : 0) - (can_retire ? 1 : 0);
      done_cnt <= done_cnt + (done_now ? 1 : 0) - (can_retire ? 1 : 0);
    end
  end
endmodule
