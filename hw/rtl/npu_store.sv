// npu_store: the STORE engine. DMA scratchpad -> DRAM, 2-D strided.
// Cycle 0 latches the instruction; from cycle 1 one row per cycle is read (rows are contiguous
// in the scratchpad) into a byte FIFO while there is room. Each line of xsize rows is split at
// burst-aligned boundaries; a burst is requested (AW) once all of its bytes are in the FIFO and
// then sent as back-to-back beats of `cfg_beat_bytes`, so a burst holds the DRAM channel for
// exactly ceil(len / beat) cycles. The instruction ends when every burst has its response.
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
    output logic [11:0]          sram_raddr,
    input  logic [32*DIM-1:0]    sram_rdata,
    output logic                 aw_valid,
    input  logic                 aw_ready,
    output logic [31:0]          aw_addr,
    output logic [15:0]          aw_len,
    output logic                 w_valid,
    input  logic                 w_ready,
    output logic [8*BUS-1:0]     w_data,
    output logic [15:0]          w_bytes,
    input  logic                 b_valid,
    output logic                 row_read,      // a row is read this cycle
    output logic [15:0]          row_bytes,
    output logic                 dram_wait
);
`include "npu_spec.vh"
  logic [1:0] mem;
  logic [15:0] rbytes;
  logic setup;
  // Scratchpad reader.
  logic [11:0] rd_addr;
  logic [21:0] rd_rem;
  logic rd_pending;               // a read issued last cycle: its row arrives now
  // Byte FIFO.
  logic [7:0] gbuf[GCAP];
  logic [GW-1:0] g_rp, g_wp;
  logic [GW:0] g_count;
  // Burst generator.
  logic bg_active;                // bursts left to request
  logic [31:0] line_base, cur_addr, stride_bytes, line_bytes, rem;
  logic [9:0] line, ys;
  logic in_w;                     // sending the beats of the requested burst
  logic [15:0] w_rem;             // bytes of it left
  logic [31:0] aw_count, b_count;
  logic [31:0] mask;
  logic [15:0] burst_room, nb;
  logic rd_fire, w_fire;

  assign row_bytes = rbytes;

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
    end else if (start) begin
      logic [15:0] rb;
      logic [9:0] x;
      rb = insn[`NPU_F_STORE_MEM] == 2'(NPU_MEM_ACC) ? 16'(4 * DIM) : 16'(DIM);
      x = insn[`NPU_F_STORE_XSIZE];
      mem <= insn[`NPU_F_STORE_MEM];
      rbytes <= rb;
      setup <= 1'b1;
      rd_addr <= insn[`NPU_F_STORE_SRAM_LSB +: 12];
      rd_rem <= 22'(32'(insn[`NPU_F_STORE_YSIZE]) * 32'(x));
      rd_pending <= 1'b0;
      g_count <= '0;
      g_rp <= '0;
      g_wp <= '0;
      bg_active <= 1'b1;
      in_w <= 1'b0;
      line <= 10'd0;
      ys <= insn[`NPU_F_STORE_YSIZE];
      line_base <= insn[`NPU_F_STORE_DRAM];
      cur_addr <= insn[`NPU_F_STORE_DRAM];
      stride_bytes <= 32'(insn[`NPU_F_STORE_STRIDE]) * 32'(rb);
      line_bytes <= 32'(x) * 32'(rb);
      rem <= 32'(x) * 32'(rb);
      aw_count <= '0;
      b_count <= '0;
    end else if (running && setup) begin
      logic [GW:0] cnt;
      cnt = g_count;
      if (rd_fire) begin
        rd_addr <= rd_addr + 1;
        rd_rem <= rd_rem - 1;
      end
      rd_pending <= rd_fire;
      if (rd_pending) begin
        for (int b = 0; b < 4 * DIM; b++)
          if (16'(b) < rbytes) gbuf[GW'(32'(g_wp) + b)] <= sram_rdata[8*b+:8];
        g_wp <= GW'(32'(g_wp) + 32'(rbytes));
        cnt = cnt + (GW + 1)'(rbytes);
      end
      if (aw_valid && aw_ready) begin
        in_w <= 1'b1;
        w_rem <= aw_len;
        aw_count <= aw_count + 1;
        if (rem == 32'(aw_len)) begin
          if (32'(line) + 1 == 32'(ys)) bg_active <= 1'b0;
          line <= line + 1;
          line_base <= line_base + stride_bytes;
          cur_addr <= line_base + stride_bytes;
          rem <= line_bytes;
        end else begin
          cur_addr <= cur_addr + 32'(aw_len);
          rem <= rem - 32'(aw_len);
        end
      end
      if (w_fire) begin
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
