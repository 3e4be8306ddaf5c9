// npu_engine_ctl: the in-order control of one engine (LOAD, VECTOR, STORE; GEMM has its own
// pipelined control in npu_gemm). Pops an instruction into `cur`, waits until every token
// channel in its wait mask holds a token and takes them all at once (the first execution
// cycle, `start`), runs the datapath until `exec_done`, then puts one token on every channel
// of its signal mask (all at once, waiting while any of them is full) and pops the next
// instruction in the same cycle, so back-to-back instructions have no bubble.
module npu_engine_ctl (
    input  logic         clk,
    input  logic         rst,
    input  logic         q_nonempty,
    input  logic [159:0] q_head,       // {index[31:0], insn[127:0]}
    output logic         q_pop,
    input  logic [15:0]  tok_avail,    // channel holds a token
    input  logic [15:0]  tok_space,    // channel can take a token this cycle
    output logic [15:0]  tok_take,
    output logic [15:0]  tok_give,
    output logic         start,        // first execution cycle
    output logic         running,      // executing (start cycle included)
    input  logic         exec_done,    // the datapath's last cycle (valid while running)
    output logic [127:0] insn,
    output logic [31:0]  idx,
    output logic         idle,         // holds no instruction
    output logic         stall_token,  // waiting for tokens (wait) or space (signal)
    output logic [3:0]   block_ch,     // lowest channel it waits on (when stall_token)
    output logic         block_space,  // ... for space rather than a token
    output logic         retire
);
`include "npu_spec.vh"
  typedef enum logic [1:0] {IDLE, WAIT, EXEC, SIGNAL} state_t;
  state_t state;
  logic [159:0] cur;
  logic wait_ok, space_ok, finish;
  logic [15:0] missing;

  assign insn = cur[127:0];
  assign idx = cur[159:128];
  assign wait_ok = (insn[`NPU_F_WAIT] & ~tok_avail) == 16'd0;
  assign space_ok = (insn[`NPU_F_SIGNAL] & ~tok_space) == 16'd0;

  assign start = state == WAIT && wait_ok;
  assign running = start || state == EXEC;
  assign tok_take = start ? insn[`NPU_F_WAIT] : 16'd0;
  always_comb begin
    // Signal when the datapath finishes (or retry while blocked on a full channel).
    finish = ((running && exec_done) || state == SIGNAL) && space_ok;
    tok_give = finish ? insn[`NPU_F_SIGNAL] : 16'd0;
    retire = finish;
    q_pop = q_nonempty && (state == IDLE || finish);
    idle = state == IDLE;
    stall_token = (state == WAIT && !wait_ok) || state == SIGNAL ||
                  (running && exec_done && !space_ok);
    block_space = state != WAIT;
    missing = block_space ? insn[`NPU_F_SIGNAL] & ~tok_space : insn[`NPU_F_WAIT] & ~tok_avail;
    block_ch = 4'd0;
    for (int c = 15; c >= 0; c--) if (missing[c]) block_ch = 4'(c);
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      state <= IDLE;
      cur <= '0;
    end else begin
      if (q_pop) cur <= q_head;
      case (state)
        IDLE: if (q_nonempty) state <= WAIT;
        WAIT, EXEC:
          if (running) begin
            if (exec_done) state <= finish ? (q_nonempty ? WAIT : IDLE) : SIGNAL;
            else state <= EXEC;
          end
        SIGNAL: if (finish) state <= q_nonempty ? WAIT : IDLE;
        default: state <= IDLE;
      endcase
    end
  end
endmodule
