#!/usr/bin/env bash
# Quick start: installs dependencies, builds what the main job needs (the
# `ember` command, the interpreter, CPU and NPU plugins with the NPU's SystemC
# model, and the Python module: the CMake target `ember_main`), runs the
# bundled MNIST model through import -> optimization -> lowering -> reference
# interpreter, then its int8 version on the example NPU. The test suite, the
# NPU's RTL model and the other tools are built by scripts/test.sh, in the
# same build directory.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$SECONDS
# The minimal profile: what this script builds and runs. scripts/test.sh
# installs the rest (the test tools, Verilator, the cross toolchains).
bash scripts/install-deps.sh --minimal
# Paths relative to the sources in ccache's keys, as scripts/test.sh sets
# them: the test command then reuses every object compiled here.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# A new build directory leaves the RTL model (Verilator) out: the main job
# runs on the SystemC model. scripts/test.sh turns it on. An existing build
# directory keeps its setting.
rtl=()
[ -f build/CMakeCache.txt ] || rtl=(-DEMBER_NPU_RTL=OFF)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release "${rtl[@]}" >/dev/null
cmake --build build --target ember_main
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
echo
# The same from Python (docs/python.md): the build's package is
# build/python (`pip install .` installs it into an environment).
if [ -d build/python/ember ]; then
  echo "== python3: ember.load(...).compile(\"cpu\").run(...) (PYTHONPATH=build/python)"
  PYTHONPATH=build/python python3 - <<'PY'
import ember
from onnx import TensorProto, numpy_helper
t = TensorProto()
t.ParseFromString(open("examples/mnist/test_data_set_0/input_0.pb", "rb").read())
model = ember.load("examples/mnist/model.onnx")
out = model.compile("cpu").run({"Input3": numpy_helper.to_array(t)})
print("ember", ember.__version__, "- digit:", int(out["Plus214_Output_0"].argmax()))
PY
  echo
fi
# The example NPU: the bundled int8 MNIST (examples/mnist-int8) compiled by
# the npu-sim backend and run on the NPU's SystemC model; nodes the NPU
# does not run (the float input's QuantizeLinear, the output's
# DequantizeLinear) run on the CPU backend.
M8=examples/mnist-int8/model.onnx
IN8=Input3=examples/mnist-int8/test_data_set_0/input_0.pb
echo "== ember compile $M8 --target=npu-sim --emit=partitions"
./build/bin/ember compile "$M8" --target=npu-sim --emit=partitions | cut -c1-150
echo
echo "== ember compile $M8 --target=npu-sim --emit=npu-asm (first lines)"
# Into a file first: a reader that stops early (head) would end the writer
# with SIGPIPE, which pipefail turns into a failure.
mkdir -p build/quickstart
./build/bin/ember compile "$M8" --target=npu-sim --emit=npu-asm > build/quickstart/npu.nasm
head -n 12 build/quickstart/npu.nasm | cut -c1-150
echo
echo "== ember run $M8 --target=npu-sim (SystemC model), checked against --target=interp"
rm -rf build/quickstart && mkdir -p build/quickstart
./build/bin/ember run "$M8" --input "$IN8" --target=interp \
  --save-outputs build/quickstart/interp >/dev/null
./build/bin/ember run "$M8" --input "$IN8" --target=npu-sim --npu-report \
  --save-outputs build/quickstart/npu | tee build/quickstart/npu.txt | grep -v '^npu: '
cmp build/quickstart/interp/output_0.pb build/quickstart/npu/output_0.pb
echo "the NPU's output equals the reference interpreter's, bit for bit"
grep '^npu: ' build/quickstart/npu.txt
echo "quick start: $((SECONDS - start)) s"
