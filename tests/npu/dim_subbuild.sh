#!/usr/bin/env bash
# ctest npu-dim8 / npu-dim32: the NPU backend at another array size.
#   dim_subbuild.sh SOURCE_DIR BUILD_DIR DIM EMBER PYTHON CASE...
# Configures SOURCE_DIR into BUILD_DIR/npu-dim<DIM> with EMBER_NPU_DIM=<DIM>
# and builds only what depends on DIM: the simulator, the backend, its
# plugin and its tests (the host `ember` does not depend on DIM, so the
# main build's binary loads the plugin as --target=plugin:PATH). Then runs
# the backend's own tests and checks the given model cases bit-exact with
# the interpreter (tests/npu/check_npu.py).
set -euo pipefail
src=$1 build=$2 dim=$3 ember=$4 python=$5
shift 5
dir=$build/npu-dim$dim
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
start=$(date +%s)
cmake -S "$src" -B "$dir" "${gen[@]}" "${launcher[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DEMBER_BUILD_TESTS=ON -DEMBER_NPU_DIM="$dim" -DEMBER_NPU_RTL=OFF \
  >"$dir.configure.log" 2>&1 ||
  { tail -n 30 "$dir.configure.log"; exit 1; }
cmake --build "$dir" -j2 --target ember_npu_sim ember_npu_backend_tests \
  >"$dir.build.log" 2>&1 || { tail -n 40 "$dir.build.log"; exit 1; }
built=$(date +%s)
echo "== DIM $dim: configured and built in $((built - start)) s"
"$dir/bin/ember_npu_backend_tests" --gtest_brief=1
tested=$(date +%s)
echo "== DIM $dim: backend tests in $((tested - built)) s"
if [ "$#" -gt 0 ]; then
  "$python" "$src/tests/npu/check_npu.py" --ember "$ember" \
    --target "plugin:$dir/lib/ember/libember_npu_sim.so" "$@"
fi
echo "== DIM $dim: models in $(($(date +%s) - tested)) s"
