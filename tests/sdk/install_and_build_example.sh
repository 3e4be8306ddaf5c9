#!/usr/bin/env bash
# ctest sdk-install-and-build-example: the installed SDK is enough to build
# and run a backend.
#   install_and_build_example.sh BUILD_DIR SOURCE_DIR
# 1. `cmake --install BUILD_DIR` to a fresh prefix; check the layout.
# 2. Build examples/out-of-tree-plugin and backends/null against that prefix
#    only (CMAKE_PREFIX_PATH=prefix, fresh build trees), and check that no
#    include path points back into the source or build tree.
# 3. Run the bundled MNIST model on the example plugin from the prefix: it
#    runs Add/Relu/MatMul, the rest falls back to the interpreter; the
#    outputs must equal --target=interp, and --emit=partitions must show
#    both targets. The same for the null template (everything on fallback).
# 4. Run ember-kit on both plugins when the SDK has it.
# 5. The package's requirements: EmberConfig.cmake names no path of this
#    machine, a plugin builds without GoogleTest, the template builds
#    Release by default, and plugin:NAME finds lib/ember/libNAME.so.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d /tmp/ember-sdk-test.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
step() { echo "== $*"; }
die() { echo "error: $*" >&2; exit 1; }

step "install $build to $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; die "cmake --install failed"; }
for f in bin/ember lib/ember/libember_interp.so lib/ember/libember_null.so \
         include/ember/backend.h include/ember/plugin_helpers.hpp include/ember/plugin_table.hpp \
         include/ember/backend/v1/graph.pb.h include/ember/backend/v1/artifact.pb.h \
         share/ember/proto/ember/backend/v1/graph.proto lib/libember_backend_proto.a \
         lib/cmake/Ember/EmberConfig.cmake lib/cmake/Ember/EmberConfigVersion.cmake \
         lib/cmake/Ember/EmberTargets.cmake lib/cmake/Ember/EmberPlugin.cmake \
         share/ember/templates/null/CMakeLists.txt share/ember/templates/null/NullPlugin.cpp \
         share/ember/examples/mnist/model.onnx \
         include/ember/accel/Target.h include/ember/accel/Program.h \
         lib/libember_accel.a lib/libember_scratchpad.a bin/ember-accel \
         lib/libember_support.a include/ember/core/support/Json.h \
         include/ember/core/support/Error.h; do
  [ -e "$prefix/$f" ] || die "the install has no $f"
done
ember=$prefix/bin/ember

# Configures and builds the plugin in $1 against the prefix only.
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
gen=()
if command -v ninja >/dev/null; then
  gen=(-G Ninja)
fi
# build_plugin DIR OUT [ALLOWED_REGEX [CMAKE_ARGS...]]: ALLOWED_REGEX names
# source folders besides DIR and OUT the plugin may include from (its own
# hardware's sources, for the NPU backend).
build_plugin() {
  local dir=$1 out=$2 allowed=${3:-}
  shift 2
  [ $# -gt 0 ] && shift
  step "build $dir against the prefix"
  cmake -S "$dir" -B "$out" "${gen[@]}" "${launcher[@]}" "$@" \
    -DCMAKE_PREFIX_PATH="$prefix" \
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON \
    >"$out.log" 2>&1 || { cat "$out.log"; die "configuring $dir failed"; }
  cmake --build "$out" >>"$out.log" 2>&1 ||
    { cat "$out.log"; die "building $dir failed"; }
  # Only the prefix may provide Ember's headers.
  local bad
  bad=$(grep -oE -- '(-I|-isystem) *[^ "]+' "$out/compile_commands.json" |
        sed -E 's/^(-I|-isystem) *//' | sort -u |
        grep -E "^($src|$build)(/|$)" | grep -vE "^($dir|$out)(/|$)" |
        { if [ -n "$allowed" ]; then grep -vE "^($allowed)(/|$)"; else cat; fi; } ||
        true)
  [ -z "$bad" ] || die "$dir was compiled with include paths into the Ember tree: $bad"
}
build_plugin "$src/examples/out-of-tree-plugin" "$work/tiny" "" -DCMAKE_BUILD_TYPE=Release
# The template with no build type given, and without GoogleTest (only the
# kit needs it).
build_plugin "$src/backends/null" "$work/null" "" -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
grep -q '^CMAKE_BUILD_TYPE:STRING=Release$' "$work/null/CMakeCache.txt" ||
  die "the null template does not build Release by default"
# The NPU backend: Ember through the SDK only (its compiler layer,
# Ember::accel, included); the NPU's own spec and simulator (hw/,
# simulator/, its kernels included) from source.
if [ -f "$prefix/lib/ember/libember_npu_sim.so" ]; then
  build_plugin "$src/backends/npu-sim" "$work/npu" \
    "$src/hw|$src/simulator" \
    -DEMBER_NPU_SOURCE_DIR="$src" -DCMAKE_BUILD_TYPE=Release
  npu=$work/npu/libember_npu_sim.so
  [ -f "$npu" ] || die "no $npu"
fi
tiny=$work/tiny/libember_tiny.so
null=$work/null/libember_null.so
[ -f "$tiny" ] || die "no $tiny"
[ -f "$null" ] || die "no $null"

model=$src/examples/mnist/model.onnx
step "ember run --target=interp (the oracle)"
"$ember" run "$model" --target=interp --save-outputs "$work/out-interp"
step "ember run --target=plugin:interp (by name, from the prefix)"
"$ember" run "$model" --target=plugin:interp --save-outputs "$work/out-plugin-interp"

# Runs the model on plugin $1, checks the partition summary against the
# regex $2 and the outputs against the interpreter's.
check_plugin() {
  local so=$1 want=$2 name out
  name=$(basename "$so" .so)
  out=$work/out-$name
  step "ember run --target=plugin:$so"
  "$ember" run "$model" --target=plugin:"$so" --save-outputs "$out" \
    | tee "$work/$name.run"
  grep -Eq "$want" "$work/$name.run" ||
    die "$name: expected a run summary matching '$want'"
  for f in "$work/out-interp"/*; do
    local g=$out/$(basename "$f")
    [ -f "$g" ] || die "$name: no output $(basename "$f")"
    if ! cmp -s "$f" "$g"; then
      # Not byte-identical: allow float rounding only.
      python3 - "$f" "$g" <<'EOF' || die "$name: $(basename "$f") differs from --target=interp"
import sys
import numpy as np
from onnx import TensorProto, numpy_helper
def load(p):
    t = TensorProto()
    t.ParseFromString(open(p, "rb").read())
    return numpy_helper.to_array(t)
a, b = load(sys.argv[1]), load(sys.argv[2])
ok = a.shape == b.shape and np.allclose(a, b, rtol=1e-5, atol=1e-6)
print("values", "match" if ok else "differ", "(not byte-identical)")
sys.exit(0 if ok else 1)
EOF
    fi
  done
  echo "$name: outputs equal --target=interp"
}
check_plugin "$tiny" 'plugin_partitions=[1-9][0-9]* plugin_nodes=[1-9][0-9]* fallback_nodes=[1-9]'
check_plugin "$null" 'plugin_partitions=0 plugin_nodes=0 fallback_nodes=[1-9]'
if [ -n "${npu:-}" ]; then
  # The int8 MNIST on the NPU backend built against the SDK: bit-exact with
  # the interpreter, and the device summary line.
  m8=$src/examples/mnist-int8/model.onnx
  in8=Input3=$src/examples/mnist-int8/test_data_set_0/input_0.pb
  step "ember run mnist-int8 --target=plugin:$npu"
  "$ember" run "$m8" --input "$in8" --target=interp --save-outputs "$work/out8-interp"
  "$ember" run "$m8" --input "$in8" --target=plugin:"$npu" --fallback=interp \
    --save-outputs "$work/out8-npu" | tee "$work/npu.run"
  grep -Eq '^npu: cycles=[1-9][0-9]* ' "$work/npu.run" || die "no npu: summary line"
  cmp "$work/out8-interp/output_0.pb" "$work/out8-npu/output_0.pb" ||
    die "npu-sim built against the SDK differs from --target=interp"
fi

step "ember compile --emit=partitions (the example)"
"$ember" compile "$model" --target=plugin:"$tiny" --emit=partitions \
  | tee "$work/partitions.txt"
grep -q "target=plugin:$tiny" "$work/partitions.txt" ||
  die "no partition on the example plugin"
grep -q "target=interp" "$work/partitions.txt" ||
  die "no partition on the interpreter"
grep -q "MatMul" "$work/partitions.txt" || die "no MatMul in the partitions"

# Both must pass the whole kit (what they do not implement is skipped).
run_kit() {
  step "ember-kit --plugin=$*"
  "$prefix/bin/ember-kit" --plugin="$@" >"$work/kit.log" 2>&1 ||
    { tail -n 60 "$work/kit.log"; die "ember-kit failed on $1"; }
  tail -n 3 "$work/kit.log"
}
if [ -x "$prefix/bin/ember-kit" ]; then
  run_kit "$tiny"
  run_kit "$null"
else
  echo "note: this SDK has no bin/ember-kit; the kit step is skipped"
fi
step "EmberConfig.cmake finds its requirements without paths of this machine"
config=$prefix/lib/cmake/Ember/EmberConfig.cmake
if grep -nE '"/(usr|opt|home|work|tmp|root)/' "$config"; then
  die "EmberConfig.cmake names paths of the machine that built it"
fi
grep -q 'find_package(ONNX CONFIG QUIET)' "$config" || die "EmberConfig.cmake does not look for ONNX"
grep -q 'find_package(GTest QUIET)' "$config" || die "EmberConfig.cmake does not look for GTest"

step "plugin:NAME finds lib/ember/libNAME.so"
cp "$tiny" "$prefix/lib/ember/libtinyvendor.so"
"$ember" run "$model" --target=plugin:tinyvendor | tee "$work/byname.run"
grep -q "plugin_nodes=[1-9]" "$work/byname.run" || die "plugin:tinyvendor did not run"
rm "$prefix/lib/ember/libtinyvendor.so"

echo "ok: the installed SDK builds and runs the example and the null template"
