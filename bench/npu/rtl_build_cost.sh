#!/usr/bin/env bash
# Verilator build cost of the NPU RTL model (docs/npu-rtl.md): for each DIM, generates the spec,
# verilates hw/rtl + hw/sim with the flags the CMake build uses (-O3, OPT_FAST -O3, OPT_SLOW
# -O1, OPT_GLOBAL -O2, one make job, no ccache) and prints wall time, CPU time and peak memory of the whole
# verilate + C++ compile. Usage: bench/npu/rtl_build_cost.sh [DIM...]   (default: 8 16 32)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DIMS=${*:-8 16 32}
for DIM in $DIMS; do
  W=$(mktemp -d)
  mkdir -p "$W/include/ember/npu" "$W/hw"
  python3 "$ROOT/hw/spec/gen_npu_spec.py" "$ROOT/hw/spec/npu.json" "$DIM" \
    "$W/include/ember/npu/NpuSpec.h" "$W/hw/npu_spec.vh" "$W/hw/npu_spec_pkg.sv"
  R=$ROOT/hw/rtl
  SRCS="$W/hw/npu_spec_pkg.sv $R/npu_arith_pkg.sv $R/npu_sram.sv $R/npu_fifo.sv
        $R/npu_insn_decode.sv $R/npu_engine_ctl.sv $R/npu_load.sv $R/npu_store.sv
        $R/npu_vector.sv $R/npu_systolic.sv $R/npu_gemm.sv $R/npu_core.sv
        $ROOT/hw/sim/npu_dram_model.sv $ROOT/hw/sim/npu_retire_monitor.sv
        $ROOT/hw/sim/npu_sim_top.sv"
  # shellcheck disable=SC2086
  /usr/bin/time -f "DIM $DIM: %e s wall, %U s user + %S s sys CPU, peak memory %M KB" \
    verilator --cc --build -j 1 -Wall -Wno-fatal -O3 --x-assign fast --x-initial fast --unroll-count 256 \
      -I"$W/hw" --top-module npu_sim_top --prefix Vnpu_sim_top --Mdir "$W/obj" \
      -MAKEFLAGS "OPT_FAST=-O3 OPT_SLOW=-O1 OPT_GLOBAL=-O2" $SRCS > "$W/log" 2>&1 ||
    { cat "$W/log"; exit 1; }
  tail -1 "$W/log"
  rm -rf "$W"
done
