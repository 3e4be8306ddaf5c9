#!/usr/bin/env bash
# Generic-gate cost of the VECTOR datapath spec versions 2 and 3 added, from standalone models of it
# (yosys 0.23 cannot read hw/rtl's SystemVerilog; docs/npu-rtl.md, "Synthesis"). No cell
# library: the figures are relative (compare one PE, 1,133 cells). Needs yosys (apt).
#   bench/npu/vector_cost/run.sh [DIM...]     (default 16; BLOCKS="table vmul" picks blocks)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dims=("$@")
[ ${#dims[@]} -gt 0 ] || dims=(16)
printf '| block | DIM | cells | flip-flops |\n|---|---|---|---|\n'
for dim in "${dims[@]}"; do
  for m in ${BLOCKS:-table vmul upsample requant requant48 table16 vmul16}; do
    out=$(yosys -q -p "read_verilog $here/$m.v; chparam -set DIM $dim cost_$m; \
synth -flatten -top cost_$m; tee -o /dev/stdout stat" 2>&1)
    cells=$(echo "$out" | awk '/Number of cells:/ {n=$4} END {print n}')
    ffs=$(echo "$out" | awk '/\$_(S)?DFF/ {s+=$2} END {print s+0}')
    printf '| %s | %d | %s | %s |\n' "$m" "$dim" "$cells" "$ffs"
  done
done
