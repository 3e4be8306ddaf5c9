// npu_insn_decode: splits a 128-bit NPU instruction into its engine and common fields.
// The first RTL block of the Ember NPU; every constant and field slice comes from the generated
// npu_spec.vh (hw/spec/npu.json), nothing is restated here.
module npu_insn_decode (
    /* verilator lint_off UNUSEDSIGNAL */
    input  logic [127:0] insn,  // only the opcode, token masks and SETREG's register are used
    /* verilator lint_on UNUSEDSIGNAL */
    output logic [7:0]   opcode,
    output logic [15:0]  wait_mask,
    output logic [15:0]  signal_mask,
    output logic [3:0]   engine_onehot,  // LOAD, GEMM, VECTOR, STORE
    output logic         is_fetch_op,    // FENCE / FINISH
    output logic         known
);
`include "npu_spec.vh"

  logic [7:0] setreg_reg;

  always_comb begin
    opcode        = insn[`NPU_F_OPCODE];
    wait_mask     = insn[`NPU_F_WAIT];
    signal_mask   = insn[`NPU_F_SIGNAL];
    setreg_reg    = insn[`NPU_F_SETREG_REG];
    engine_onehot = 4'b0000;
    is_fetch_op   = 1'b0;
    known         = 1'b1;
    case (opcode)
      NPU_OP_LOAD, NPU_OP_LOAD16, NPU_OP_MOVE: engine_onehot[NPU_ENGINE_LOAD] = 1'b1;
      NPU_OP_GEMM, NPU_OP_DWGEMM, NPU_OP_GEMM16, NPU_OP_DWGEMM16:
        engine_onehot[NPU_ENGINE_GEMM] = 1'b1;
      NPU_OP_REQUANT, NPU_OP_VADD, NPU_OP_POOL, NPU_OP_LUTLD, NPU_OP_LUT, NPU_OP_VMUL,
          NPU_OP_UPSAMPLE, NPU_OP_VREDUCE, NPU_OP_RSCALAR, NPU_OP_VROWMUL,
          NPU_OP_VROWEXP:
        engine_onehot[NPU_ENGINE_VECTOR] = 1'b1;
      NPU_OP_STORE, NPU_OP_STORE16: engine_onehot[NPU_ENGINE_STORE] = 1'b1;
      NPU_OP_SETREG:
        // Registers below the first VECTOR register belong to LOAD.
        if (setreg_reg < 8'(NPU_REG_ADD_LSHIFT)) engine_onehot[NPU_ENGINE_LOAD] = 1'b1;
        else engine_onehot[NPU_ENGINE_VECTOR] = 1'b1;
      NPU_OP_FENCE, NPU_OP_FINISH: is_fetch_op = 1'b1;
      default: known = 1'b0;
    endcase
  end
endmodule
