#!/usr/bin/env bash
# Quick start: installs dependencies, builds Ember, and runs the bundled MNIST
# model through import -> optimization -> lowering -> reference interpreter.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build
echo
echo "== ember compile examples/mnist/model.onnx --emit=lowered --time-passes --elide-constants"
./build/bin/ember compile examples/mnist/model.onnx --emit=lowered --time-passes --elide-constants
echo
echo "== ember run examples/mnist/model.onnx --target=interp --input Input3=examples/mnist/test_data_set_0/input_0.pb"
./build/bin/ember run examples/mnist/model.onnx --target=interp \
  --input Input3=examples/mnist/test_data_set_0/input_0.pb
echo
echo "== ember conform examples/mnist (compares with ONNX Runtime's output)"
./build/bin/ember conform --target=interp --rtol 1e-4 --atol 1e-5 examples/mnist
