#!/usr/bin/env bash
# The NPU sweep on request (`cmake --build build --target npu-sweep`): every
# int8 model and the generated single-layer cases (320, the output table and
# multiply cases, and the 16x8 ones: gen_layers.py), at DIM 8, 16 and 32, on
# the SystemC model, plus the models on the golden model at DIM 16. Prints
# each table; the JSON results land in BUILD/npu-sweep/.
#   sweep.sh SOURCE_DIR BUILD_DIR EMBER PYTHON MODEL...
set -uo pipefail
src=$1 build=$2 ember=$3 python=$4
shift 4
out=$build/npu-sweep
mkdir -p "$out"
layers=$out/layers
[ -f "$layers/index.json" ] ||
  "$python" "$src/tests/npu/gen_layers.py" "$layers" --count 320 --seed 15
# (--ort-max-quanta 16: MobileNetV2 and the FC autoencoder, see
# tests/npu/CMakeLists.txt and docs/quantization.md.)
check() { "$python" "$src/tests/npu/check_npu.py" --ember "$ember" --ort-max-quanta 16 "$@"; }
status=0
echo "== DIM 16 (this build), SystemC"
check --json "$out/models-16.json" "$@" || status=1
check --json "$out/layers-16.json" "$layers" || status=1
echo "== DIM 16, golden"
check --executor golden --json "$out/models-16-golden.json" "$@" || status=1
for dim in 8 32; do
  echo "== DIM $dim, SystemC"
  bash "$src/tests/npu/dim_subbuild.sh" "$src" "$build" "$dim" "$ember" \
    "$python" --ort-max-quanta 16 --json "$out/models-$dim.json" "$@" "$layers" || status=1
done
exit $status
