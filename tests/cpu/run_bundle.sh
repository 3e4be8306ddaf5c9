#!/usr/bin/env bash
# Builds an AOT bundle of a model test case with the cpu plugin, links its
# model.o with the generated main.c using only libc and libm, runs it on the
# case's inputs and compares the outputs (rtol 1e-4, atol 1e-5).
#   run_bundle.sh TOOL CASE_DIR OUT_DIR [TRIPLE [OPT_LEVEL]]
# With EMBER_CLI=<ember> in the environment the bundle is made by
# `ember compile --target=cpu --emit=bundle` instead of TOOL.
# With a TRIPLE for another architecture, checks the object's ELF machine,
# links with <arch>-linux-gnu-gcc and runs under qemu-<arch> (when those are
# installed; else only checks that main.c compiles).
# With EMBER_REF=<ember> in the environment the expected outputs are the
# reference interpreter's (`ember run --target=interp`) and must match bit
# for bit: the int8 models, which compute Ember's integer arithmetic
# (docs/quantization.md) where ONNX Runtime's reference outputs differ by
# design.
set -euo pipefail
tool=$(realpath "$1"); case_dir=$(realpath "$2"); out=$3; triple=${4:-}
opt=${5:-}
if [ ! -d "$case_dir" ]; then
  echo "skip: $case_dir is not present on this machine"
  exit 77
fi
rm -rf "$out"
if [ -n "${EMBER_CLI:-}" ]; then
  # The product path: `ember compile --emit=bundle`; inputs as raw .bin.
  args=(compile "$case_dir/model.onnx" --target=cpu --emit=bundle -o "$out")
  [ -n "$triple" ] && args+=(--target-triple "$triple")
  "$EMBER_CLI" "${args[@]}"
  python3 - "$case_dir/test_data_set_0" "$out" <<'PY'
import glob, os, sys
import onnx
from onnx import numpy_helper
src, out = sys.argv[1], sys.argv[2]
for i, f in enumerate(sorted(glob.glob(os.path.join(src, "input_*.pb")),
                             key=lambda p: int(p.rsplit("_", 1)[1][:-3]))):
    t = onnx.TensorProto()
    t.ParseFromString(open(f, "rb").read())
    numpy_helper.to_array(t).tofile(os.path.join(out, f"input{i}.bin"))
PY
else
  args=(bundle "$case_dir/model.onnx" -o "$out" --inputs-from "$case_dir/test_data_set_0")
  [ -n "$triple" ] && args+=(--target-triple "$triple")
  [ -n "$opt" ] && args+=(--opt-level "$opt")
  "$tool" "${args[@]}"
fi
cc=${CC:-cc}
run=()
cd "$out"
arch=${triple%%-*}
if [ -n "$triple" ] && [ "$arch" != "$(uname -m)" ]; then
  machine=$(od -An -tu2 -j18 -N2 model.o | tr -d ' ')
  case "$arch" in
    aarch64) want=183 ;;
    x86_64) want=62 ;;
    *) want=unknown ;;
  esac
  [ "$machine" = "$want" ] || { echo "error: model.o e_machine $machine, want $want"; exit 1; }
  # Link with the cross compiler and run under qemu-user when both exist
  # (scripts/install-deps.sh installs them); else check main.c compiles.
  if command -v "$arch-linux-gnu-gcc" >/dev/null && command -v "qemu-$arch" >/dev/null; then
    cc=$arch-linux-gnu-gcc
    run=("qemu-$arch" -L "/usr/$arch-linux-gnu")
  else
    "$cc" -std=c11 -Wall -Werror -c main.c -o main.o
    echo "ok: $triple object (e_machine $machine), main.c compiles (no $arch-linux-gnu-gcc/qemu-$arch to run it)"
    exit 0
  fi
fi
"$cc" -std=c11 -O2 -Wall -Werror main.c model.o -lm -o model
# Nothing but libc and libm (and the loader) may be needed.
if [ ${#run[@]} -eq 0 ]; then
  extra=$(ldd ./model | grep -vE 'linux-vdso|libc\.so|libm\.so|ld-linux' || true)
else
  extra=$(readelf -d ./model | grep NEEDED | grep -vE 'libc\.so|libm\.so' || true)
fi
[ -z "$extra" ] || { echo "error: the bundle needs more than libc/libm:"; echo "$extra"; exit 1; }
inputs=(); for f in input*.bin; do [ -e "$f" ] && inputs+=("$f"); done
"${run[@]}" ./model weights.bin "${inputs[@]}"
expected=$case_dir/test_data_set_0
tol=(--rtol 1e-4 --atol 1e-5)
if [ -n "${EMBER_REF:-}" ]; then
  ref_args=(run "$case_dir/model.onnx" --target=interp --save-outputs "$out/ref")
  names=$(python3 -c 'import onnx,sys; m=onnx.load(sys.argv[1],load_external_data=False); i={t.name for t in m.graph.initializer}; print(" ".join(x.name for x in m.graph.input if x.name not in i))' "$case_dir/model.onnx")
  k=0
  for nm in $names; do
    ref_args+=(--input "$nm=$case_dir/test_data_set_0/input_$k.pb"); k=$((k + 1))
  done
  "$EMBER_REF" "${ref_args[@]}" >/dev/null
  expected=$out/ref
  tol=(--rtol 0 --atol 0)
fi
n=0
for exp in "$expected"/output_*.pb; do
  "$tool" compare "output$n.bin" "$exp" "${tol[@]}"
  n=$((n + 1))
done
echo "ok: bundle ran, $n outputs match"
