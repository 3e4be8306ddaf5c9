#!/usr/bin/env bash
# ctest npu-errors: bad input on --target=npu-sim gets one clear error line
# naming the node or layer and the constraint, a non-zero exit, never a
# crash or a hang.
#   errors.sh EMBER FP32_MODEL INT8_MODEL
set -uo pipefail
ember=$1 fp32=$2 int8=$3
fail=0
# expect NAME REGEX COMMAND...: exit 1..127, stderr one "error:" line
# matching REGEX.
expect() {
  local name=$1 re=$2
  shift 2
  local err
  err=$(timeout 300 "$@" 2>&1 >/dev/null)
  local rc=$?
  if [ $rc -eq 0 ] || [ $rc -ge 124 ]; then
    echo "FAIL $name: exit status $rc"; fail=1; return
  fi
  if [ "$(printf '%s\n' "$err" | grep -c '^error: ')" -ne 1 ] ||
     ! printf '%s\n' "$err" | grep -Eq "$re"; then
    echo "FAIL $name: stderr was:"; printf '%s\n' "$err" | head -5; fail=1; return
  fi
  echo "PASS $name: $(printf '%s\n' "$err" | grep '^error: ' | cut -c1-200)"
}
expect "nothing placeable" "nothing in the model runs on npu-sim: .*Conv.*(not in the manifest|NPU)" \
  "$ember" run "$fp32" --target=npu-sim
expect "nothing placeable (compile)" "nothing in the model runs on npu-sim" \
  "$ember" compile "$fp32" --target=npu-sim --emit=npu-asm -o /dev/null
expect "layer too big for DRAM" "nothing in the model runs on npu-sim: .*packs [0-9]+ bytes of weights and tables.*4096 bytes of DRAM \\(backend option dram_bytes\\)" \
  "$ember" run "$int8" --target=npu-sim --backend-opt dram_bytes=4096
expect "deadlock (systemc)" "deadlock.*layer '" \
  "$ember" run "$int8" --target=npu-sim --backend-opt fault=deadlock
expect "deadlock (golden)" "(underflow|deadlock).*layer '" \
  "$ember" run "$int8" --target=npu-sim --backend-opt fault=deadlock --backend-opt executor=golden
expect "unknown option" "unknown vendor option 'tile_size'" \
  "$ember" run "$int8" --target=npu-sim --backend-opt tile_size=4
expect "bad executor" "executor 'fpga'" \
  "$ember" run "$int8" --target=npu-sim --backend-opt executor=fpga
expect "bad stripes" "stripes 'some' is not one of off, on, all" \
  "$ember" compile "$int8" --target=npu-sim --emit=npu-asm -o /dev/null --backend-opt stripes=some
exit $fail
