#!/usr/bin/env bash
# Installs everything Ember needs on a Debian 12 (bookworm) machine. Idempotent:
# packages already present are skipped, so running it twice costs a few seconds.
#   scripts/install-deps.sh          build + test dependencies
set -euo pipefail

APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git clang-format
  llvm-19-dev llvm-19-tools clang-19 libclang-rt-19-dev lld-19
  libprotobuf-dev protobuf-compiler libonnx-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsystemc-dev verilator
  python3 python3-pip
)
PIP_PACKAGES=(numpy onnx onnxruntime)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if ! "$PY" -c "import numpy, onnx, onnxruntime" 2>/dev/null; then
  echo "install-deps: pip install ${PIP_PACKAGES[*]}"
  "$PY" -m pip install -q "${PIP_PACKAGES[@]}" 2>&1 | grep -v -i 'root user' || true
  "$PY" -c "import numpy, onnx, onnxruntime" 
fi
echo "install-deps: ok"
