// npu_load: the LOAD engine. DMA DRAM -> scratchpad, 2-D strided, with padding.
// Cycle 0 (start) latches the instruction; from cycle 1 the request generator issues one burst
// request per cycle (each line of xsize rows is split at burst-aligned boundaries). Returned
// beats are appended to an alignment buffer that emits one whole row per cycle (DRAM addresses
// are byte-granular); data rows go to their padded position, and padding rows (PAD_VALUE) fill
// the cycles in which no data row is ready. The instruction ends with its last row write.
// MOVE (OUT -> ACT, the same padded block layout) also runs here: data row k is read from OUT
// (the engine's own read port) in cycle 1 + k and written in cycle 2 + k, padding rows in the
// free cycles; no DRAM request. With rep = r - 1 the data block is ysize r x xsize r: every
// source row is read r times in a row and every source line r times over (nearest upsampling),
// one OUT read per data row. SETREG PAD_VALUE also executes here (one cycle).
// 16-bit rows (spec version 3): LOAD16 takes DRAM rows of DIM int16 (2 DIM bytes) and writes
// each as a row pair (sram_wwide: the low bytes excess-128 in sram_wdata[8DIM-1:0], the high
// bytes in [16DIM-1:8DIM]); MOVE w16 reads and writes row pairs; their padding is PAD_VALUE's
// low 16 bits.
module npu_load #(
    parameter int DIM = 16,
    localparam int BUS = 4 * DIM,  // bytes per beat at most (one ACC row)
    localparam int CAP = 2 * BUS   // alignment buffer bytes
) (
    input  logic                 clk,
    input  logic                 rst,
    input  logic                 start,
    input  logic                 running,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [127:0]         insn,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic                 exec_done,
    input  logic [31:0]          cfg_burst_bytes,  // power of two
    output logic                 ar_valid,
    input  logic                 ar_ready,
    output logic [31:0]          ar_addr,
    output logic [15:0]          ar_len,
    input  logic                 r_valid,
    output logic                 r_ready,
    input  logic [8*BUS-1:0]     r_data,
    input  logic [15:0]          r_bytes,
    output logic [3:0]           sram_we,
    output logic                 sram_wwide,    // a 16-bit row: the row pair
    output logic [11:0]          sram_waddr,
    output logic [32*DIM-1:0]    sram_wdata,
    output logic                 out_re,        // MOVE's OUT read port
    output logic                 out_rwide,
    output logic [10:0]          out_raddr,
    input  logic [8*DIM-1:0]     out_rdata,     // the row read in the previous cycle
    input  logic [8*DIM-1:0]     out_rdata_hi,
    output logic                 data_row,      // a data row is written this cycle
    output logic [15:0]          row_bytes,
    output logic                 dram_wait      // executing but nothing written this cycle
);
`include "npu_spec.vh"
  logic op_load, op_load16, op_move, op_setreg;
  logic wide;              // the instruction moves 16-bit rows
  // MOVE: OUT read pointer, reads left, a row read last cycle; source row mv_x of the line at
  // mv_line, its copy mv_dx and the line's copy mv_dy (rep).
  logic is_move, mv_valid;
  logic [10:0] mv_line, mv_addr;
  logic [11:0] mv_stride;
  logic [9:0] mv_x, mv_xs;
  logic [3:0] mv_dx, mv_dy, mv_r;
  logic [21:0] mv_rrem;
  logic [15:0] pad_value;
  // Latched instruction.
  logic [1:0] mem;
  logic [11:0] sram_base;
  logic [12:0] ys, xs;     // the data block (MOVE with rep: the source block times r)
  logic [1:0] pl, pr;
  logic [12:0] w;          // padded width
  logic [15:0] rbytes;
  logic setup /*verilator public_flat_rd*/;  // cycle 1 onwards (a fault-injection point)
  // Request generator.
  logic ar_active;
  logic [31:0] line_base, cur_addr, stride_bytes, line_bytes, rem;
  logic [12:0] ar_line;
  // Alignment buffer and data rows.
  logic [8*CAP-1:0] abuf;
  logic [15:0] fill;
  logic [21:0] d_rem;      // data rows still to write
  logic [12:0] d_x;
  logic [11:0] d_addr;
  // Padding rows.
  typedef enum logic [2:0] {P_TOP, P_LEFT, P_RIGHT, P_BOTTOM, P_DONE} pphase_t;
  pphase_t p_phase;
  logic [12:0] p_line;
  logic [11:0] p_addr;
  logic [21:0] p_seg;      // rows left in the current padding segment
  logic [21:0] t_rem;      // rows (data and padding) still to write

  logic emit, padw, rd_fire;
  logic [15:0] burst_room;
  logic [31:0] mask;

  assign op_load = insn[`NPU_F_OPCODE] == NPU_OP_LOAD;
  assign op_load16 = insn[`NPU_F_OPCODE] == NPU_OP_LOAD16;
  assign op_move = insn[`NPU_F_OPCODE] == NPU_OP_MOVE;
  assign op_setreg = insn[`NPU_F_OPCODE] == NPU_OP_SETREG;
  assign row_bytes = rbytes;

  // Next padding segment after (phase, line), skipping empty ones.
  function automatic void pad_next(input pphase_t ph, input logic [12:0] ln, output pphase_t nph,
                                   output logic [12:0] nln, output logic [11:0] naddr,
                                   output logic [21:0] nlen);
    logic [11:0] line_row;
    nph = P_DONE;
    nln = ln;
    naddr = 12'd0;
    nlen = 22'd0;
    if (ph == P_TOP) begin
      nln = 13'd0;
      if (pl != 0) nph = P_LEFT;
      else if (pr != 0) nph = P_RIGHT;
      else nph = P_BOTTOM;
    end else if (ph == P_LEFT) begin
      if (pr != 0) nph = P_RIGHT;
      else if (ln + 1 < ys) begin nph = P_LEFT; nln = ln + 1; end
      else nph = P_BOTTOM;
    end else if (ph == P_RIGHT) begin
      if (ln + 1 < ys) begin nph = pl != 0 ? P_LEFT : P_RIGHT; nln = ln + 1; end
      else nph = P_BOTTOM;
    end
    line_row = 12'(32'(sram_base) + (32'(p_top) + 32'(nln)) * 32'(w));
    case (nph)
      P_LEFT:   begin naddr = line_row; nlen = 22'(pl); end
      P_RIGHT:  begin naddr = 12'(32'(line_row) + 32'(pl) + 32'(xs)); nlen = 22'(pr); end
      P_BOTTOM: begin
        naddr = 12'(32'(sram_base) + (32'(p_top) + 32'(ys)) * 32'(w));
        nlen = 22'(32'(p_bot) * 32'(w));
        if (nlen == 0) nph = P_DONE;
      end
      default: ;
    endcase
  endfunction
  logic [1:0] p_top, p_bot;

  always_comb begin
    mask = cfg_burst_bytes - 1;
    burst_room = 16'(cfg_burst_bytes - (cur_addr & mask));
    ar_valid = running && setup && ar_active;
    ar_addr = cur_addr;
    ar_len = rem < 32'(burst_room) ? rem[15:0] : burst_room;
    emit = running && setup && (is_move ? mv_valid : d_rem != 0 && fill >= rbytes);
    padw = running && setup && !emit && p_phase != P_DONE;
    out_re = running && setup && is_move && mv_rrem != 0;
    out_rwide = wide;
    out_raddr = mv_addr;
    r_ready = running && setup && !is_move && (32'(fill) - (emit ? 32'(rbytes) : 0) + BUS <= CAP);
    rd_fire = r_valid && r_ready;
    sram_we = 4'd0;
    sram_we[mem] = emit || padw;
    sram_wwide = wide;
    sram_waddr = emit ? d_addr : p_addr;
    if (emit && is_move) sram_wdata = {{(16 * DIM) {1'b0}}, out_rdata_hi, out_rdata};
    else if (emit && wide) begin
      // DRAM's little-endian int16 lanes to the two planes (the low byte excess-128).
      sram_wdata = '0;
      for (int l = 0; l < DIM; l++) begin
        sram_wdata[8*l+:8] = abuf[16*l+:8] ^ 8'h80;
        sram_wdata[8*(DIM+l)+:8] = abuf[16*l+8+:8];
      end
    end else if (emit) sram_wdata = abuf[32*DIM-1:0];
    else if (wide)
      sram_wdata = {{(16 * DIM) {1'b0}}, {DIM{pad_value[15:8]}}, {DIM{pad_value[7:0] ^ 8'h80}}};
    else if (mem == 2'(NPU_MEM_ACC))
      sram_wdata = {DIM{{24{pad_value[7]}}, pad_value[7:0]}};
    else sram_wdata = {4 * DIM{pad_value[7:0]}};
    if (mem != 2'(NPU_MEM_ACC) && !wide) sram_wdata[32*DIM-1:8*DIM] = '0;
    data_row = emit && !is_move;
    dram_wait = running && setup && !emit && !padw && !is_move;
    exec_done = running && ((start && op_setreg) || (setup && t_rem == 1 && (emit || padw)));
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      pad_value <= 16'd0;
      wide <= 1'b0;
      setup <= 1'b0;
      ar_active <= 1'b0;
      fill <= '0;
      abuf <= '0;
      d_rem <= '0;
      t_rem <= '0;
      p_phase <= P_DONE;
      p_seg <= '0;
      mem <= '0;
      is_move <= 1'b0;
      mv_valid <= 1'b0;
      mv_rrem <= '0;
    end else begin
      if (start && op_setreg && insn[`NPU_F_SETREG_REG] == 8'(NPU_REG_PAD_VALUE))
        pad_value <= insn[`NPU_F_SETREG_VALUE_LSB +: 16];
      if (start && (op_load || op_load16 || op_move)) begin
        logic [1:0] m;
        logic [15:0] rb;
        logic [12:0] ww;
        logic [12:0] y, x;
        logic [1:0] t, b, l, r;
        logic [3:0] rp;
        logic [11:0] base;
        rp = 4'd1;
        if (op_move) begin
          m = 2'(NPU_MEM_ACT);
          rp = 4'(insn[`NPU_F_MOVE_REP]) + 4'd1;
          y = 13'(32'(insn[`NPU_F_MOVE_YSIZE]) * 32'(rp));
          x = 13'(32'(insn[`NPU_F_MOVE_XSIZE]) * 32'(rp));
          t = insn[`NPU_F_MOVE_PAD_TOP];
          b = insn[`NPU_F_MOVE_PAD_BOTTOM];
          l = insn[`NPU_F_MOVE_PAD_LEFT];
          r = insn[`NPU_F_MOVE_PAD_RIGHT];
          base = insn[`NPU_F_MOVE_DST_LSB +: 12];
        end else begin
          m = insn[`NPU_F_LOAD_MEM];
          y = 13'(insn[`NPU_F_LOAD_YSIZE]);
          x = 13'(insn[`NPU_F_LOAD_XSIZE]);
          t = insn[`NPU_F_LOAD_PAD_TOP];
          b = insn[`NPU_F_LOAD_PAD_BOTTOM];
          l = insn[`NPU_F_LOAD_PAD_LEFT];
          r = insn[`NPU_F_LOAD_PAD_RIGHT];
          base = insn[`NPU_F_LOAD_SRAM_LSB +: 12];
        end
        rb = m == 2'(NPU_MEM_ACC) ? 16'(4 * DIM) : (op_load16 ? 16'(2 * DIM) : 16'(DIM));
        wide <= op_load16 || (op_move && insn[`NPU_F_MOVE_W16]);
        ww = 13'(32'(l) + 32'(x) + 32'(r));
        is_move <= op_move;
        mv_valid <= 1'b0;
        mv_line <= insn[`NPU_F_MOVE_SRC_LSB +: 11];
        mv_addr <= insn[`NPU_F_MOVE_SRC_LSB +: 11];
        mv_stride <= insn[`NPU_F_MOVE_STRIDE];
        mv_x <= 10'd0;
        mv_xs <= insn[`NPU_F_MOVE_XSIZE];
        mv_dx <= '0;
        mv_dy <= '0;
        mv_r <= rp;
        mv_rrem <= op_move ? 22'(32'(y) * 32'(x)) : 22'd0;
        mem <= m;
        rbytes <= rb;
        sram_base <= base;
        ys <= y;
        xs <= x;
        pl <= l;
        pr <= r;
        p_top <= t;
        p_bot <= b;
        w <= ww;
        setup <= 1'b1;
        ar_active <= !op_move;
        ar_line <= 13'd0;
        line_base <= insn[`NPU_F_LOAD_DRAM];
        cur_addr <= insn[`NPU_F_LOAD_DRAM];
        stride_bytes <= 32'(insn[`NPU_F_LOAD_STRIDE]) * 32'(rb);
        line_bytes <= 32'(x) * 32'(rb);
        rem <= 32'(x) * 32'(rb);
        fill <= '0;
        abuf <= '0;
        d_rem <= 22'(32'(y) * 32'(x));
        t_rem <= 22'((32'(t) + 32'(y) + 32'(b)) * 32'(ww));
        d_x <= 13'd0;
        d_addr <= 12'(32'(base) + 32'(t) * 32'(ww) + 32'(l));
        // First padding segment: the top block, else the first non-empty one after it.
        if (t != 0) begin
          p_phase <= P_TOP;
          p_addr <= base;
          p_seg <= 22'(32'(t) * 32'(ww));
        end else if (l != 0 || r != 0) begin
          p_phase <= l != 0 ? P_LEFT : P_RIGHT;
          p_line <= 13'd0;
          p_addr <= 12'(32'(base) + (l != 0 ? 0 : 32'(l) + 32'(x)));
          p_seg <= l != 0 ? 22'(l) : 22'(r);
        end else if (b != 0) begin
          p_phase <= P_BOTTOM;
          p_addr <= 12'(32'(base) + 32'(y) * 32'(ww));
          p_seg <= 22'(32'(b) * 32'(ww));
        end else begin
          p_phase <= P_DONE;
          p_seg <= '0;
        end
      end else if (running && setup) begin
        // MOVE: one OUT read a cycle, its row written the next cycle.
        mv_valid <= out_re;
        if (out_re) begin
          // Next data row: the same source row again (mv_dx), the next one, the same source
          // line again (mv_dy), or the next line.
          mv_rrem <= mv_rrem - 1;
          if (mv_dx + 1 != mv_r) mv_dx <= mv_dx + 1;
          else begin
            mv_dx <= '0;
            if (mv_x + 1 != mv_xs) begin
              mv_x <= mv_x + 1;
              mv_addr <= mv_addr + 1;
            end else begin
              mv_x <= 10'd0;
              if (mv_dy + 1 != mv_r) begin
                mv_dy <= mv_dy + 1;
                mv_addr <= mv_line;
              end else begin
                mv_dy <= '0;
                mv_line <= 11'(32'(mv_line) + 32'(mv_stride));
                mv_addr <= 11'(32'(mv_line) + 32'(mv_stride));
              end
            end
          end
        end
        // Requests.
        if (ar_valid && ar_ready) begin
          if (rem == 32'(ar_len)) begin
            if (32'(ar_line) + 1 == 32'(ys)) ar_active <= 1'b0;
            ar_line <= ar_line + 1;
            line_base <= line_base + stride_bytes;
            cur_addr <= line_base + stride_bytes;
            rem <= line_bytes;
          end else begin
            cur_addr <= cur_addr + 32'(ar_len);
            rem <= rem - 32'(ar_len);
          end
        end
        // Alignment buffer: drop an emitted row, append a beat.
        begin
          logic [8*CAP-1:0] nb;
          logic [15:0] nf;
          nb = emit && !is_move ? abuf >> (8 * rbytes) : abuf;
          nf = emit && !is_move ? fill - rbytes : fill;
          if (rd_fire) begin
            nb = nb | ({{(8 * CAP - 8 * BUS) {1'b0}}, r_data} << (8 * nf));
            nf = nf + r_bytes;
          end
          abuf <= nb;
          fill <= nf;
        end
        if (emit || padw) t_rem <= t_rem - 1;
        if (emit) begin
          d_rem <= d_rem - 1;
          if (32'(d_x) + 1 == 32'(xs)) begin
            d_x <= 13'd0;
            d_addr <= 12'(32'(d_addr) + 32'(pl) + 32'(pr) + 1);
          end else begin
            d_x <= d_x + 1;
            d_addr <= d_addr + 1;
          end
        end
        if (padw) begin
          if (p_seg == 1) begin
            pphase_t nph;
            logic [12:0] nln;
            logic [11:0] na;
            logic [21:0] nl;
            pad_next(p_phase, p_line, nph, nln, na, nl);
            p_phase <= nph;
            p_line <= nln;
            p_addr <= na;
            p_seg <= nl;
          end else begin
            p_seg <= p_seg - 1;
            p_addr <= p_addr + 1;
          end
        end
        if (exec_done) setup <= 1'b0;
      end
    end
  end
endmodule
