// npu_fifo: synchronous FIFO (instruction queues). `count` is registered; a push into a full
// FIFO is allowed in the cycle it pops (the fetch unit relies on that).
module npu_fifo #(
    parameter int WIDTH = 160,
    parameter int DEPTH = 16,
    localparam int CW = $clog2(DEPTH + 1)
) (
    input  logic             clk,
    input  logic             rst,
    input  logic             push,
    input  logic [WIDTH-1:0] din,
    input  logic             pop,
    output logic [WIDTH-1:0] dout,
    output logic [CW-1:0]    count
);
  localparam int PW = $clog2(DEPTH);
  logic [WIDTH-1:0] mem[DEPTH];
  logic [PW-1:0] rp, wp;

  assign dout = mem[rp];

  always_ff @(posedge clk) begin
    if (rst) begin
      rp <= '0;
      wp <= '0;
      count <= '0;
    end else begin
      if (push) begin
        mem[wp] <= din;
        wp <= PW'((32'(wp) + 1) % DEPTH);
      end
      if (pop) rp <= PW'((32'(rp) + 1) % DEPTH);
      count <= CW'(32'(count) + (push ? 1 : 0) - (pop ? 1 : 0));
    end
  end
endmodule
