#!/usr/bin/env bash
# Installs dependencies, checks format and file sizes, builds Ember with its
# tests, fuzzes the ONNX importer, the plugin program readers and the NPU
# compiler layer's target descriptions for a bounded time, and runs every test (ctest: unit tests, lit/FileCheck,
# ONNX conformance floors, robustness, NPU simulator). Exit status 0 only
# when all pass.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# The style gate, before the build so that it fails fast: clang-format on
# every tracked C/C++ file (a failure only once FORMAT_GATE=enforce in the
# script; until then a warning per file), lines per top-level folder, the
# 1,500-line budget (docs/style-checks.md).
bash scripts/check-style.sh
BUILD=${EMBER_BUILD_DIR:-build}
# Paths relative to the sources in ccache's keys: the Python wheel's build
# (ctest python-wheel, BUILD-wheel beside BUILD) then finds every object
# this build compiled.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$PWD}
# Everything, the NPU's RTL model included (the quick start leaves it out of a
# new build directory; this turns it on in the same directory).
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DEMBER_BUILD_TESTS=ON \
  -DEMBER_NPU_RTL=ON >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
# Bounded fuzzing (clang-19, ASan + UBSan; scripts/fuzz.sh): the ONNX
# importer, the program readers, the target description parser; a crash
# fails the run and leaves its input in build-fuzz/crashes/.
bash scripts/fuzz.sh "${EMBER_FUZZ_SECONDS:-60}"
cd "$BUILD"
ctest --output-on-failure -j "$(nproc)" --timeout 1800
