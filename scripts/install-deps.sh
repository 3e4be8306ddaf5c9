#!/usr/bin/env bash
# Installs everything Ember needs on a Debian 12 (bookworm) machine. Idempotent:
# packages already present are skipped, so running it twice costs a few seconds.
#   scripts/install-deps.sh          build + test dependencies
set -euo pipefail

# clang-format: Debian 12's package (clang-format 14); scripts/check-style.sh
# pins that major version so CI and developers format alike.
APT_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git clang-format patch
  llvm-19-dev llvm-19-tools clang-19 libclang-rt-19-dev lld-19
  libprotobuf-dev protobuf-compiler libonnx-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libsystemc-dev verilator
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  python3 python3-pip python3-venv python3-dev
)
# Pinned: the generated ONNX node suite and its pass floor depend on the
# onnx version (tests/conformance/CMakeLists.txt).
PIP_PACKAGES=(numpy==2.4.6 onnx==1.23.2 onnxruntime==1.31.1)

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

# The Python package (pyproject.toml, docs/python.md): its build (nanobind,
# scikit-build-core), its sweeps (ray, matplotlib for the plots) and its
# tests (pytest). Pinned like the others, installed only when missing.
PY_PKG_PACKAGES=(nanobind==3.1.0 scikit-build-core==1.1.2 ray==2.60.0
  matplotlib==3.11.2 pytest==9.2.0)

PY=${PYTHON:-python3}
if ! "$PY" -c "
import numpy, onnx, onnxruntime, sys
want = {'numpy': '2.4.6', 'onnx': '1.23.2', 'onnxruntime': '1.31.1'}
have = {'numpy': numpy.__version__, 'onnx': onnx.__version__, 'onnxruntime': onnxruntime.__version__}
sys.exit(0 if have == want else 1)" 2>/dev/null; then
  echo "install-deps: pip install ${PIP_PACKAGES[*]}"
  # Debian's own python3 is "externally managed" (PEP 668); these are test
  # tools only, so install them for the user/site regardless.
  "$PY" -m pip install -q --root-user-action=ignore "${PIP_PACKAGES[@]}" ||
    "$PY" -m pip install -q --root-user-action=ignore --break-system-packages \
      "${PIP_PACKAGES[@]}"
  "$PY" -c "import numpy, onnx, onnxruntime"
fi
if ! "$PY" -c "
import sys
from importlib.metadata import version, PackageNotFoundError
want = dict(p.split('==') for p in sys.argv[1:])
try:
    sys.exit(0 if all(version(k) == v for k, v in want.items()) else 1)
except PackageNotFoundError:
    sys.exit(1)" "${PY_PKG_PACKAGES[@]}" 2>/dev/null; then
  echo "install-deps: pip install ${PY_PKG_PACKAGES[*]}"
  "$PY" -m pip install -q --root-user-action=ignore "${PY_PKG_PACKAGES[@]}" ||
    "$PY" -m pip install -q --root-user-action=ignore --break-system-packages \
      "${PY_PKG_PACKAGES[@]}"
fi
echo "install-deps: ok"
