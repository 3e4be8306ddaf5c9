#!/usr/bin/env bash
# Installs what Ember needs on a Debian 12 (bookworm) machine. Idempotent:
# packages already present are skipped, so running it twice costs a few seconds.
#   scripts/install-deps.sh              everything: the build, the tests, the
#                                        fuzzers, the RTL model, the edge targets
#                                        (scripts/test.sh)
#   scripts/install-deps.sh --minimal    what the quick start builds and runs
#                                        (scripts/quickstart.sh)
# The minimal set is part of the full one: the full install after it adds the
# rest. Downloads on a minimal Debian 12 (docs/build-time.md): about 270 MB
# from apt and 27 MB from pip for --minimal, 515 MB and 160 MB for all.
set -euo pipefail

profile=full
case "${1:-}" in
"") ;;
--minimal) profile=minimal ;;
-h | --help)
  sed -n '2,11p' "$0" | cut -c3-
  exit 0
  ;;
*)
  echo "error: unknown option '$1' (scripts/install-deps.sh [--minimal])" >&2
  exit 2
  ;;
esac

# The quick start's: the build of the CMake target ember_main (LLVM 19, and
# clang-19 for the CPU backend's runtime bitcode; protobuf and the ONNX
# library; SystemC for the NPU model; Python's headers for the module) and
# the configure of the whole tree (GoogleTest: the tests are configured, not
# built).
APT_MINIMAL=(
  build-essential cmake ninja-build ccache pkg-config git
  llvm-19-dev clang-19
  libprotobuf-dev protobuf-compiler libonnx-dev
  libgtest-dev libgmock-dev
  libsystemc-dev
  python3 python3-pip python3-dev
)
# The rest: clang-format for the style gate (Debian 12's package is
# clang-format 14; scripts/check-style.sh pins that major version so CI and
# developers format alike), FileCheck (llvm-19-tools) for lit, the
# sanitizer runtimes for the fuzzers, lld, the cross compilers and QEMU for
# the edge bundles (tests/edge), Verilator for the RTL model, Google
# Benchmark, virtual environments for the Python package's wheel test.
APT_FULL=(
  clang-format patch llvm-19-tools libclang-rt-19-dev lld-19
  libbenchmark-dev verilator
  gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user
  gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm
  python3-venv
)
APT_PACKAGES=("${APT_MINIMAL[@]}")
[ "$profile" = minimal ] || APT_PACKAGES+=("${APT_FULL[@]}")

# Pinned: the generated ONNX node suite and its pass floor depend on the
# onnx version (tests/conformance/CMakeLists.txt) and on ml_dtypes, which
# onnx's case generator casts the 2- and 4-bit cases' expected outputs with
# (out-of-range values, undefined by the Cast spec, wrap in 0.6.0 and
# saturate in 0.7.0). The quick start needs
# numpy and onnx (its Python example reads the input with onnx) and nanobind
# (the module's build). The rest: ONNX Runtime (the tests' reference
# outputs), the Python package's wheel build (scikit-build-core), its sweeps
# (ray, matplotlib for the plots) and its tests (pytest).
PIP_MINIMAL=(numpy==2.4.6 onnx==1.23.2 ml_dtypes==0.6.0 nanobind==3.1.0)
PIP_FULL=(onnxruntime==1.31.1 scikit-build-core==1.1.2 ray==2.60.0
  matplotlib==3.11.2 pytest==9.2.0)
PIP_PACKAGES=("${PIP_MINIMAL[@]}")
[ "$profile" = minimal ] || PIP_PACKAGES+=("${PIP_FULL[@]}")

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "install-deps: apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  # --force-unsafe-io: dpkg skips its fsync after each unpacked file, as
  # Debian's container images do. On a fresh 2-core machine it halves the
  # unpack (153 s -> 79 s for the minimal set); the cost is a package left
  # half-written if the machine loses power during the install.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-unsafe-io "${missing[@]}" >/dev/null
fi

# Installed only when one is missing or at another version.
PY=${PYTHON:-python3}
if ! "$PY" -c "
import sys
from importlib.metadata import version, PackageNotFoundError
want = dict(p.split('==') for p in sys.argv[1:])
try:
    sys.exit(0 if all(version(k) == v for k, v in want.items()) else 1)
except PackageNotFoundError:
    sys.exit(1)" "${PIP_PACKAGES[@]}" 2>/dev/null; then
  echo "install-deps: pip install ${PIP_PACKAGES[*]}"
  # Debian's own python3 is "externally managed" (PEP 668); these are build
  # and test tools only, so install them for the user/site regardless.
  "$PY" -m pip install -q --root-user-action=ignore "${PIP_PACKAGES[@]}" ||
    "$PY" -m pip install -q --root-user-action=ignore --break-system-packages \
      "${PIP_PACKAGES[@]}"
  "$PY" -c "import numpy, onnx, nanobind"
fi
echo "install-deps: ok ($profile)"
