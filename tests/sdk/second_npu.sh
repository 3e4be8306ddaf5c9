#!/usr/bin/env bash
# ctest sdk-second-npu: the second NPU (examples/second-npu) is built from an
# installed SDK only and passes its own tests.
#   second_npu.sh BUILD_DIR SOURCE_DIR SHARED_DIR
# 1. `cmake --install BUILD_DIR` to a fresh prefix;
# 2. configure and build examples/second-npu against that prefix only, and
#    check that no include path points into the Ember source or build tree;
# 3. run its ctest: the simulator, the conformance kit, the CLI, the int8
#    models (the bundled MNIST and, when SHARED_DIR has them, the shared
#    ones) and the single-layer sweep the example NPU uses.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
shared=$3
work=$(mktemp -d /tmp/ember-second-npu.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
die() { echo "error: $*" >&2; exit 1; }

echo "== install $build to $prefix"
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; die "cmake --install failed"; }

models="$src/examples/mnist-int8"
for m in mlperftiny-resnet8-int8 mlperftiny-dscnn-kws-int8 \
         mlperftiny-fc-autoencoder-int8 mobilenetv2-12-int8; do
  if [ -d "$shared/models/$m" ]; then
    models="$models;$shared/models/$m"
  else
    echo "note: $shared/models/$m is absent; that model is skipped"
  fi
done
args=(-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
      -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "-DSNPU_MODELS=$models"
      -DSNPU_LAYER_GEN="$src/tests/npu/gen_layers.py")
command -v ccache >/dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
command -v ninja >/dev/null && args+=(-G Ninja)
out=$work/second-npu
echo "== build examples/second-npu against the prefix"
cmake -S "$src/examples/second-npu" -B "$out" "${args[@]}" >"$work/cfg.log" 2>&1 ||
  { cat "$work/cfg.log"; die "configuring examples/second-npu failed"; }
cmake --build "$out" >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; die "building examples/second-npu failed"; }
bad=$(grep -oE -- '(-I|-isystem) *[^ "]+' "$out/compile_commands.json" |
      sed -E 's/^(-I|-isystem) *//' | sort -u |
      grep -E "^($src|$build)(/|$)" |
      grep -vE "^($src/examples/second-npu|$out)(/|$)" || true)
[ -z "$bad" ] || die "examples/second-npu was compiled with include paths into the Ember tree: $bad"
echo "== ctest in $out"
ctest --test-dir "$out" --output-on-failure
