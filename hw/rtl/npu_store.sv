// npu_store: the STORE engine. DMA scratchpad -> DRAM, 2-D strided.
// Cycle 0 latches the instruction; from cycle 1 one row per cycle is read (rows are contiguous
// in the scratchpad) into a byte FIFO while there is room. Each line of xsize rows is split at
// burst-aligned boundaries; a burst is requested (AW) once all of its bytes are in the FIFO and
// then sent as back-to-back beats of `cfg_beat_bytes`, so a burst holds the DRAM channel for
// exactly ceil(len / beat) cycles. The instruction ends when every burst has its response.
// With rep = r - 1 the reader reads every block row r times and every block line r times (the
// result is ysize r lines of xsize r rows: nearest upsampling); with xstep each row of a line is
// a segment of its own, two DRAM rows after the previous one (phase interleave); `lanes` turns
// into the write strobes of the 8-lane groups it does not select (0: all lanes written).
// STORE16 (spec version 3) reads 16-bit rows (row pairs: sram_rwide) and sends each as DIM
// little-endian int16 (2 DIM bytes; the low plane's bytes back from excess-128).
module npu_store #(
    parameter int DIM = 16,
    parameter int MAX_BURST = 4096,
    localparam int BUS = 4 * DIM,
    localparam int GCAP = 2 * MAX_BURST,
    localparam int GW = $clog2(GCAP)
) (
    input  logic                 clk,
    input  logic                 rst,
    input  logic                 start,
    input  logic                 running,
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [127:0]         insn,
    /* verilator lint_on UNUSEDSIGNAL */
    output logic                 exec_done,
    input  logic [31:0]          cfg_burst_bytes,
    input  logic [15:0]          cfg_beat_bytes,
    output logic [3:0]           sram_re,
    output logic                 sram_rwide,
    output logic [11:0]          sram_raddr,
    input  logic [32*DIM-1:0]    sram_rdata,
    input  logic [8*DIM-1:0]     sram_rdata_hi,
    output logic                 aw_valid,
    input  logic                 aw_ready,
    output logic [31:0]          aw_addr,
    output logic [15:0]          aw_len,
    output logic                 w_valid,
    input  logic                 w_ready,
    output logic [8*BUS-1:0]     w_data,
    output logic [15:0]          w_bytes,
    output logic [BUS-1:0]       w_strb,        // byte enables of the beat (lane groups)
    input  logic                 b_valid,
    output logic                 row_read,      // a row is read this cycle
    output logic [15:0]          row_bytes,
    output logic                 dram_wait
);
`include "npu_spec.vh"
  logic [1:0] mem;
  logic [15:0] rbytes;
  logic setup /*verilator public_flat_rd*/;  // cycle 1 onwards (a fault-injection point)
  // Scratchpad reader: block line rd_line, row rd_x, copies rd_dx (of a row) and rd_dy (of a line).
  logic [11:0] rd_addr, rd_line;
  logic [9:0] rd_x, xs;
  logic [3:0] rd_dx, rd_dy, rep;
  logic [21:0] rd_rem;
  logic rd_pending;               // a read issued last cycle: its row arrives now
  // Byte FIFO.
  logic [7:0] gbuf[GCAP];
  logic [GW-1:0] g_rp, g_wp;
  logic [GW:0] g_count;
  // Burst generator: lines of the result, each one segment (or, with xstep, one per row).
  logic bg_active;                // bursts left to request
  logic [31:0] line_base, seg_base, cur_addr, stride_bytes, seg_bytes, rem, dram_base;
  logic [13:0] line, lines, seg, segs;
  logic acc_rows, wide;
  logic [32*DIM-1:0] row;         // the row read, as its DRAM bytes
  logic [3:0] lanes;
  logic [31:0] w_addr;            // DRAM address of the next beat
  logic in_w;                     // sending the beats of the requested burst
  logic [15:0] w_rem;             // bytes of it left
  logic [31:0] aw_count, b_count;
  logic [31:0] mask;
  logic [15:0] burst_room, nb;
  logic rd_fire, w_fire;

  assign row_bytes = rbytes;

  // Write strobes: the lane group of each byte of the beat is its offset inside its row divided
  // by 8 lanes x the element bytes (rows start at the instruction's DRAM address).
  // Only a beat of a lane-masked STORE computes its strobes (the simulator skips the bytes'
  // offsets otherwise); every byte is enabled in the others.
  always_comb begin
    logic [31:0] off;
    off = '0;
    w_strb = '1;
    if (in_w && lanes != 0)
      for (int b = 0; b < BUS; b++) begin
        off = (w_addr + 32'(b) - dram_base) & (32'(rbytes) - 1);
        w_strb[b] = lanes[2'(acc_rows ? off >> 5 : (wide ? off >> 4 : off >> 3))];
      end
  end

  always_comb begin
    mask = cfg_burst_bytes - 1;
    burst_room = 16'(cfg_burst_bytes - (cur_addr & mask));
    aw_addr = cur_addr;
    aw_len = rem < 32'(burst_room) ? rem[15:0] : burst_room;
    // Read a row when the FIFO has room for it and the one still in flight.
    rd_fire = running && setup && rd_rem != 0 &&
              32'(g_count) + (rd_pending ? 32'(rbytes) : 0) + 32'(rbytes) <= GCAP;
    sram_re = 4'd0;
    sram_re[mem] = rd_fire;
    sram_rwide = wide;
    row = sram_rdata;
    if (wide)
      for (int l = 0; l < DIM; l++) begin
        row[16*l+:8] = sram_rdata[8*l+:8] ^ 8'h80;
        row[16*l+8+:8] = sram_rdata_hi[8*l+:8];
      end
    sram_raddr = rd_addr;
    row_read = rd_fire;
    aw_valid = running && setup && bg_active && !in_w && 32'(g_count) >= 32'(aw_len);
    nb = w_rem < cfg_beat_bytes ? w_rem : cfg_beat_bytes;
    w_valid = running && in_w;
    w_bytes = nb;
    w_data = '0;
    if (in_w)
      for (int b = 0; b < BUS; b++)
        if (16'(b) < nb) w_data[8*b+:8] = gbuf[GW'(32'(g_rp) + b)];
    w_fire = w_valid && w_ready;
    exec_done = running && setup && !bg_active && !in_w &&
                (b_count + (b_valid ? 1 : 0) == aw_count);
    dram_wait = running && setup && !rd_fire && !w_fire;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      setup <= 1'b0;
      bg_active <= 1'b0;
      in_w <= 1'b0;
      rd_pending <= 1'b0;
      g_count <= '0;
      g_rp <= '0;
      g_wp <= '0;
      aw_count <= '0;
      b_count <= '0;
      rd_rem <= '0;
      mem <= '0;
      wide <= 1'b0;
    end else if (start) begin
      logic [15:0] rb;
      logic [9:0] x;
      logic [3:0] r;
      logic [31:0] sb;
      rb = insn[`NPU_F_STORE_MEM] == 2'(NPU_MEM_ACC) ? 16'(4 * DIM) :
           (insn[`NPU_F_OPCODE] == NPU_OP_STORE16 ? 16'(2 * DIM) : 16'(DIM));
      wide <= insn[`NPU_F_OPCODE] == NPU_OP_STORE16;
      x = insn[`NPU_F_STORE_XSIZE];
      r = 4'(insn[`NPU_F_STORE_REP]) + 4'd1;
      // A segment: the whole line of x r rows, or one row with xstep.
      sb = insn[`NPU_F_STORE_XSTEP] ? 32'(rb) : 32'(x) * 32'(r) * 32'(rb);
      mem <= insn[`NPU_F_STORE_MEM];
      rbytes <= rb;
      acc_rows <= insn[`NPU_F_STORE_MEM] == 2'(NPU_MEM_ACC);
      setup <= 1'b1;
      rd_addr <= insn[`NPU_F_STORE_SRAM_LSB +: 12];
      rd_line <= insn[`NPU_F_STORE_SRAM_LSB +: 12];
      rd_x <= '0;
      rd_dx <= '0;
      rd_dy <= '0;
      xs <= x;
      rep <= r;
      rd_rem <= 22'(32'(insn[`NPU_F_STORE_YSIZE]) * 32'(x) * 32'(r) * 32'(r));
      rd_pending <= 1'b0;
      g_count <= '0;
      g_rp <= '0;
      g_wp <= '0;
      bg_active <= 1'b1;
      in_w <= 1'b0;
      line <= '0;
      lines <= 14'(32'(insn[`NPU_F_STORE_YSIZE]) * 32'(r));
      seg <= '0;
      segs <= insn[`NPU_F_STORE_XSTEP] ? 14'(32'(x) * 32'(r)) : 14'd1;
      lanes <= insn[`NPU_F_STORE_LANES];
      dram_base <= insn[`NPU_F_STORE_DRAM];
      line_base <= insn[`NPU_F_STORE_DRAM];
      seg_base <= insn[`NPU_F_STORE_DRAM];
      cur_addr <= insn[`NPU_F_STORE_DRAM];
      stride_bytes <= 32'(insn[`NPU_F_STORE_STRIDE]) * 32'(rb);
      seg_bytes <= sb;
      rem <= sb;
      aw_count <= '0;
      b_count <= '0;
    end else if (running && setup) begin
      logic [GW:0] cnt;
      cnt = g_count;
      if (rd_fire) begin
        // Next row of the result: the same block row again (rd_dx), the next one, the same
        // block line again (rd_dy), or the next line.
        rd_rem <= rd_rem - 1;
        if (rd_dx + 1 != rep) rd_dx <= rd_dx + 1;
        else begin
          rd_dx <= '0;
          if (rd_x + 1 != xs) begin
            rd_x <= rd_x + 1;
            rd_addr <= rd_addr + 1;
          end else begin
            rd_x <= '0;
            if (rd_dy + 1 != rep) begin
              rd_dy <= rd_dy + 1;
              rd_addr <= rd_line;
            end else begin
              rd_dy <= '0;
              rd_line <= rd_line + 12'(xs);
              rd_addr <= rd_line + 12'(xs);
            end
          end
        end
      end
      rd_pending <= rd_fire;
      if (rd_pending) begin
        for (int b = 0; b < 4 * DIM; b++)
          if (16'(b) < rbytes) gbuf[GW'(32'(g_wp) + b)] <= row[8*b+:8];
        g_wp <= GW'(32'(g_wp) + 32'(rbytes));
        cnt = cnt + (GW + 1)'(rbytes);
      end
      if (aw_valid && aw_ready) begin
        in_w <= 1'b1;
        w_rem <= aw_len;
        w_addr <= cur_addr;
        aw_count <= aw_count + 1;
        if (rem == 32'(aw_len)) begin
          rem <= seg_bytes;
          if (seg + 1 != segs) begin
            // The next row of the line, two DRAM rows on (xstep).
            seg <= seg + 1;
            seg_base <= seg_base + 2 * 32'(rbytes);
            cur_addr <= seg_base + 2 * 32'(rbytes);
          end else begin
            seg <= '0;
            if (line + 1 == lines) bg_active <= 1'b0;
            line <= line + 1;
            line_base <= line_base + stride_bytes;
            seg_base <= line_base + stride_bytes;
            cur_addr <= line_base + stride_bytes;
          end
        end else begin
          cur_addr <= cur_addr + 32'(aw_len);
          rem <= rem - 32'(aw_len);
        end
      end
      if (w_fire) begin
        w_addr <= w_addr + 32'(nb);
        g_rp <= GW'(32'(g_rp) + 32'(nb));
        cnt = cnt - (GW + 1)'(nb);
        w_rem <= w_rem - nb;
        if (w_rem == nb) in_w <= 1'b0;
      end
      g_count <= cnt;
      if (b_valid) b_count <= b_count + 1;
      if (exec_done) setup <= 1'b0;
    end
  end
endmodule
