#!/usr/bin/env bash
# ctest sdk-custom-op-example: install BUILD_DIR to a fresh prefix and run
# the custom-op example from it (examples/custom-op/run_example.sh, the copy
# the SDK installs under share/ember/examples).
#   custom_op_example.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
work=$(mktemp -d /tmp/ember-sdk-custom-op.XXXXXX)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" ||
  { cat "$work/install.log"; echo "error: cmake --install failed" >&2; exit 1; }
for f in include/ember/op_library.h lib/cmake/Ember/EmberPlugin.cmake \
         share/ember/examples/custom-op/acme_ops.c share/doc/ember/custom-ops.md; do
  [ -e "$prefix/$f" ] || { echo "error: the install has no $f" >&2; exit 1; }
done
grep -q "ember_add_op_library" "$prefix/lib/cmake/Ember/EmberPlugin.cmake" ||
  { echo "error: EmberPlugin.cmake has no ember_add_op_library" >&2; exit 1; }
bash "$prefix/share/ember/examples/custom-op/run_example.sh" "$prefix" "$work/run"
