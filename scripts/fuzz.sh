#!/usr/bin/env bash
# Builds the libFuzzer target for the ONNX importer with clang-19 (ASan +
# UBSan) and fuzzes for a bounded time from the seed corpus.
#   scripts/fuzz.sh [SECONDS]   (default 60)
# A crash leaves its input in build-fuzz/crashes/; turn it into a regression
# test by copying it to tests/robustness/crashers/ (run by the unit tests).
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-60}
bash scripts/install-deps.sh >/dev/null
CC=clang-19 CXX=clang++-19 cmake -S . -B build-fuzz -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DEMBER_FUZZ=ON -DEMBER_BUILD_TESTS=OFF \
  -DEMBER_BUILD_NPU=OFF >/dev/null
cmake --build build-fuzz --target ember_onnx_fuzzer
mkdir -p build-fuzz/corpus build-fuzz/crashes
cp -n tests/fuzz/corpus/* build-fuzz/corpus/ 2>/dev/null || true
cp -n tests/robustness/crashers/* build-fuzz/corpus/ 2>/dev/null || true
./build-fuzz/bin/ember_onnx_fuzzer build-fuzz/corpus \
  -max_total_time="$secs" -rss_limit_mb=4096 -malloc_limit_mb=2048 \
  -max_len=65536 -timeout=20 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/crashes/ 2>&1 | tail -n 15
