#!/usr/bin/env bash
# ctest snpu-plugin-cli: the plugin through `ember`.
#   plugin_cli.sh EMBER PLUGIN.so SOURCE_DIR
# 1. `ember run --npu-report` on a small int8 model prints the layer table
#    from the device's profile and the cycle summary line;
# 2. `ember compile --emit=npu-asm` prints instructions that the
#    simulator's assembler syntax names (LOAD q=DMA0 ...), and --emit=npu-layers
#    the scheduled layer IR;
# 3. tune=N measures candidates on the simulator and keeps a cache;
# 4. taps=1 (every convolution's taps split over accumulating passes) runs
#    the bundled MNIST int8 model bit-exact with the interpreter;
# 5. bad options fail with a clear error naming the option; a DRAM too
#    small for the layers sends them to the host, saying why.
set -euo pipefail
ember=$1
plugin=$2
src=$3
work=$(mktemp -d /tmp/snpu-cli.XXXXXX)
trap 'rm -rf "$work"' EXIT
die() { echo "error: $*" >&2; exit 1; }
model=$work/model.onnx
python3 "$src/make_model.py" "$model"

out=$("$ember" run "$model" --target=plugin:"$plugin" --npu-report)
echo "$out" | tail -n 4
echo "$out" | grep -q '^layer report (second-npu, executor snpu-sim)' ||
  die "no layer report"
# (The model's convolution reads the 1-channel input as its patches: a
# 1x1 layer, reported as a matmul; docs/npu-backend.md.)
echo "$out" | grep -qE '^1 +conv +(conv|matmul) ' || die "no conv layer in the table"
echo "$out" | grep -qE '^second-npu: cycles=[1-9][0-9]* mac_util=[0-9.e-]+ dma_bytes=[1-9][0-9]* overlap=[0-9.e-]+ second-npu_mac_share=1 partitions=[0-9]+ host_nodes=[0-9]+$' ||
  die "no cycle summary line"

"$ember" compile "$model" --target=plugin:"$plugin" --emit=npu-asm -o "$work/asm.txt"
grep -qE '^LOAD q=DMA0 ' "$work/asm.txt" || die "no LOAD in the assembly"
grep -qE '^MAC q=MAC .* reset=' "$work/asm.txt" || die "no MAC in the assembly"
grep -qE '^END ' "$work/asm.txt" || die "no END in the assembly"
"$ember" compile "$model" --target=plugin:"$plugin" --emit=npu-layers -o "$work/layers.txt"
grep -q 'gemm' "$work/layers.txt" || die "no gemm in the layer IR"

# Tuning on the simulator: the cost model's candidates measured, the cache
# written.
"$ember" run "$model" --target=plugin:"$plugin" --backend-opt tune=3 \
  --backend-opt tune_cache="$work/tune.json" >"$work/tuned.txt"
grep -q 'second-npu: cycles=' "$work/tuned.txt" || die "no summary with tune=3"
[ -s "$work/tune.json" ] || die "tune=3 wrote no tuning cache"

# Split tiling: MNIST's 5x5 convolutions one tap a pass, accumulating in
# the accumulator memory; bit-exact with the interpreter.
mnist=$src/../../mnist-int8/model.onnx
[ -f "$mnist" ] || die "$mnist is missing"
# (The interpreter in the arithmetic the description declares.)
"$ember" run "$mnist" --target=interp --requant=tflite --seed 3 \
  --save-outputs "$work/mi" >/dev/null
"$ember" run "$mnist" --target=plugin:"$plugin" --backend-opt taps=1 --seed 3 \
  --save-outputs "$work/ms" >/dev/null
cmp "$work/mi/output_0.pb" "$work/ms/output_0.pb" ||
  die "MNIST with taps=1 differs from the interpreter"

expect_error() { # expect_error PATTERN ARGS...
  local pat=$1
  shift
  if "$ember" run "$model" --target=plugin:"$plugin" "$@" >"$work/o" 2>"$work/e"; then
    die "ember run $* succeeded"
  fi
  grep -q "$pat" "$work/e" || { cat "$work/e"; die "expected '$pat'"; }
}
expect_error "unknown vendor option 'colour'" --backend-opt colour=red
expect_error "executor 'rtl' is not known" --backend-opt executor=rtl
# A DRAM too small for the layers: each goes to the host with the reason
# naming the option (the run itself falls back to the host).
"$ember" compile "$model" --target=plugin:"$plugin" \
  --backend-opt dram_bytes=4096 --emit=partitions >"$work/dram.txt"
grep -q "bytes of DRAM (backend option dram_bytes)" "$work/dram.txt" ||
  { cat "$work/dram.txt"; die "no DRAM reason with dram_bytes=4096"; }
echo "ok"
