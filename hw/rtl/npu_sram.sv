// npu_sram: behavioural scratchpad, NR synchronous read ports and NW write ports, one row per
// port per cycle. A read returns the row as it was before a write in the same cycle; of two
// writes to one row in one cycle the higher port wins (race-free programs never do that).
// 16-bit rows (spec version 3) are row pairs (r, r + ROWS/2): a port whose `rwide`/`wwide` is
// set also reads or writes row r + ROWS/2 (rdata_hi / wdata_hi) in the same cycle. The two rows
// of a pair are always in different halves, so a memory built as two banks (split by the top
// address bit) serves a wide access with one access per bank. For synthesis this module is a
// black box (an SRAM macro per bank); the simulator's driver reaches `mem` directly (public) to
// clear it between runs and for ember_npu_sram_read.
module npu_sram #(
    parameter int ROWS  = 4096,
    parameter int WIDTH = 128,
    parameter int NR    = 2,
    parameter int NW    = 1,
    localparam int AW   = $clog2(ROWS)
) (
    input  logic                      clk,
    input  logic [NR-1:0]             re,
    input  logic [NR-1:0]             rwide,
    input  logic [NR-1:0][AW-1:0]     raddr,
    output logic [NR-1:0][WIDTH-1:0]  rdata,
    output logic [NR-1:0][WIDTH-1:0]  rdata_hi,
    input  logic [NW-1:0]             we,
    input  logic [NW-1:0]             wwide,
    input  logic [NW-1:0][AW-1:0]     waddr,
    input  logic [NW-1:0][WIDTH-1:0]  wdata,
    input  logic [NW-1:0][WIDTH-1:0]  wdata_hi
);
  localparam logic [AW-1:0] HALF = AW'(ROWS / 2);
  // verilator tracing_off
  logic [WIDTH-1:0] mem[ROWS] /*verilator public_flat_rw*/;
  // verilator tracing_on

  always_ff @(posedge clk) begin
    for (int p = 0; p < NR; p++)
      if (re[p]) begin
        rdata[p] <= mem[raddr[p]];
        if (rwide[p]) rdata_hi[p] <= mem[raddr[p] + HALF];
      end
    for (int p = 0; p < NW; p++)
      if (we[p]) begin
        mem[waddr[p]] <= wdata[p];
        if (wwide[p]) mem[waddr[p] + HALF] <= wdata_hi[p];
      end
  end
endmodule
