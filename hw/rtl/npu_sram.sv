// npu_sram: behavioural scratchpad, NR synchronous read ports and NW write ports, one row per
// port per cycle. A read returns the row as it was before a write in the same cycle; of two
// writes to one row in one cycle the higher port wins (race-free programs never do that).
// For synthesis this module is a black box (an SRAM macro per memory); the simulator's driver
// reaches `mem` directly (public) to clear it between runs and for ember_npu_sram_read.
module npu_sram #(
    parameter int ROWS  = 4096,
    parameter int WIDTH = 128,
    parameter int NR    = 2,
    parameter int NW    = 1,
    localparam int AW   = $clog2(ROWS)
) (
    input  logic                      clk,
    input  logic [NR-1:0]             re,
    input  logic [NR-1:0][AW-1:0]     raddr,
    output logic [NR-1:0][WIDTH-1:0]  rdata,
    input  logic [NW-1:0]             we,
    input  logic [NW-1:0][AW-1:0]     waddr,
    input  logic [NW-1:0][WIDTH-1:0]  wdata
);
  // verilator tracing_off
  logic [WIDTH-1:0] mem[ROWS] /*verilator public_flat_rw*/;
  // verilator tracing_on

  always_ff @(posedge clk) begin
    for (int p = 0; p < NR; p++) if (re[p]) rdata[p] <= mem[raddr[p]];
    for (int p = 0; p < NW; p++) if (we[p]) mem[waddr[p]] <= wdata[p];
  end
endmodule
