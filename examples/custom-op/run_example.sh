#!/usr/bin/env bash
# The example from an installed SDK, end to end (README.md):
#   run_example.sh PREFIX [WORK_DIR]
# 1. builds acme_ops against PREFIX only (no include path into an Ember
#    source or build tree);
# 2. writes the model and data (make_model.py);
# 3. runs the float model on interp and cpu: equal to rounding (the
#    convolutions' sums are ordered differently), and the two custom ops
#    alone (ops.onnx) in float: byte-identical;
# 4. quantizes it with the library (`ember quantize --op-library`): the
#    lowered ClampedAdd gets Q/DQ, RowNorm stays float;
# 5. runs the int8 model on interp, cpu and npu-sim (when installed):
#    byte-identical outputs; on npu-sim the lowered ClampedAdd (a
#    QuantizedAdd) is on the NPU, RowNorm on the host fallback;
# 6. builds the int8 model as an AOT bundle for this host, links it with
#    the library, runs it: outputs equal the interpreter's;
# 7. the conformance kit's checks of the library (its kernels with guard
#    zones, ClampedAdd's lowering against its kernel) on the cpu plugin.
set -euo pipefail
prefix=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
work=${2:-$(mktemp -d /tmp/ember-custom-op.XXXXXX)}
mkdir -p "$work"
ember=$prefix/bin/ember
step() { echo "== $*"; }
die() { echo "error: $*" >&2; exit 1; }

step "build acme_ops against $prefix"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache)
cmake -S "$here" -B "$work/build" "${gen[@]}" "${launcher[@]}" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; die "configuring the example failed"; }
cmake --build "$work/build" >>"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; die "building the example failed"; }
lib=$work/build/libacme_ops.so
[ -f "$lib" ] || die "no $lib"
bad=$(grep -oE -- '(-I|-isystem) *[^ "]+' "$work/build/compile_commands.json" |
      sed -E 's/^(-I|-isystem) *//' | sort -u | grep -vE "^($prefix|$here|$work)(/|$)" || true)
[ -z "$bad" ] || die "the example was compiled with include paths outside the SDK: $bad"

step "the model and data"
python3 "$here/make_model.py" "$work/data"
model=$work/data/model.onnx
input=x=$work/data/input/input_0.npy

# same_outputs DIR_A DIR_B: every output file byte-identical.
same_outputs() {
  local f
  for f in "$1"/output_*.pb; do
    cmp -s "$f" "$2/$(basename "$f")" ||
      die "$(basename "$f") of $2 differs from $1"
  done
}

step "float model: interp and cpu"
"$ember" run "$model" --op-library "$lib" --input "$input" --target=interp \
  --save-outputs "$work/f-interp" | tee "$work/f-interp.log"
"$ember" run "$model" --op-library "$lib" --input "$input" --target=cpu \
  --save-outputs "$work/f-cpu" | tee "$work/f-cpu.log"
grep -q "fallback_nodes=0" "$work/f-cpu.log" || die "cpu left nodes to the fallback"
# The CPU backend sums a float convolution's products in another order than
# the interpreter (its SGEMM's blocks): the float model agrees to rounding.
python3 - "$work/f-interp" "$work/f-cpu" <<'EOF' || die "the float model's outputs on cpu differ from interp beyond rounding"
import sys
import numpy as np
from onnx import TensorProto, numpy_helper
def load(p):
    t = TensorProto()
    t.ParseFromString(open(p, "rb").read())
    return numpy_helper.to_array(t)
for i in range(2):
    a = load("%s/output_%d.pb" % (sys.argv[1], i))
    b = load("%s/output_%d.pb" % (sys.argv[2], i))
    if a.shape != b.shape or not np.allclose(a, b, rtol=1e-5, atol=1e-5):
        sys.exit("output %d: max difference %g" % (i, float(np.max(np.abs(a - b)))))
print("float model: interp and cpu outputs agree to rounding")
EOF
# The custom ops alone (no convolution): byte-identical.
ops_in=(--input "a=$work/data/input/a.npy" --input "b=$work/data/input/b.npy")
for t in interp cpu; do
  "$ember" run "$work/data/ops.onnx" --op-library "$lib" "${ops_in[@]}" \
    --target=$t --save-outputs "$work/ops-$t" >"$work/ops-$t.log"
done
grep -q "fallback_nodes=0" "$work/ops-cpu.log" || die "cpu left custom ops to the fallback"
same_outputs "$work/ops-interp" "$work/ops-cpu"
echo "custom ops alone, float: interp and cpu outputs byte-identical"

step "ember quantize --op-library"
"$ember" quantize "$model" --op-library "$lib" --calibration "$work/data/calib" \
  -o "$work/data/model-int8.onnx" 2>&1 | tee "$work/quantize.log"
grep -q "RowNorm" "$work/quantize.log" ||
  die "quantize did not say that RowNorm stays float"
q=$work/data/model-int8.onnx

step "int8 model: interp, cpu, npu-sim"
"$ember" run "$q" --op-library "$lib" --input "$input" --target=interp \
  --save-outputs "$work/q-interp"
"$ember" run "$q" --op-library "$lib" --input "$input" --target=cpu \
  --save-outputs "$work/q-cpu"
same_outputs "$work/q-interp" "$work/q-cpu"
echo "int8 model: interp and cpu outputs byte-identical"
if [ -f "$prefix/lib/ember/libember_npu_sim.so" ]; then
  "$ember" run "$q" --op-library "$lib" --input "$input" --target=npu-sim \
    --save-outputs "$work/q-npu" | tee "$work/q-npu.log"
  grep -Eq '^npu: cycles=[1-9]' "$work/q-npu.log" || die "no npu: summary line"
  same_outputs "$work/q-interp" "$work/q-npu"
  echo "int8 model: npu-sim outputs byte-identical with interp"
  "$ember" compile "$q" --op-library "$lib" --target=npu-sim \
    --emit=partitions | tee "$work/partitions.txt"
  # The lowered ClampedAdd (a QuantizedAdd named after the node) on the NPU,
  # RowNorm on the fallback.
  python3 - "$work/partitions.txt" <<'EOF' || die "unexpected placement"
import re, sys
side = None
ok_add = ok_norm = False
for line in open(sys.argv[1]):
    m = re.match(r"partition \d+ target=(\S+)", line)
    if m:
        side = m.group(1)
        continue
    if "'clamped_add'" in line and "QuantizedAdd" in line and side == "npu-sim":
        ok_add = True
    if "com.acme::RowNorm" in line and side != "npu-sim":
        ok_norm = True
print("ClampedAdd on the NPU:", ok_add, "; RowNorm on the fallback:", ok_norm)
sys.exit(0 if ok_add and ok_norm else 1)
EOF
else
  echo "note: no npu-sim plugin in $prefix; its step is skipped"
fi

step "AOT bundle of the int8 model, linked with the library"
if command -v cc >/dev/null && [ -f "$prefix/lib/ember/libember_cpu.so" ]; then
  "$ember" compile "$q" --op-library "$lib" --target=cpu --emit=bundle \
    -o "$work/bundle" --input-shape x=2x8x8x8
  (cd "$work/bundle" &&
     cc -O2 main.c custom_ops.c model.o "$lib" -Wl,-rpath,"$(dirname "$lib")" -lm -o model) ||
    die "the bundle does not build"
  python3 - "$work/data/input/input_0.npy" "$work/bundle/input0.bin" <<'EOF'
import sys
import numpy as np
np.load(sys.argv[1]).astype(np.float32).tofile(sys.argv[2])
EOF
  (cd "$work/bundle" && ./model weights.bin input0.bin) ||
    die "the bundle failed to run"
  python3 - "$work/q-interp" "$work/bundle" <<'EOF' || die "the bundle's outputs differ from the interpreter's"
import sys
import numpy as np
from onnx import TensorProto, numpy_helper
for i in range(2):
    t = TensorProto()
    t.ParseFromString(open("%s/output_%d.pb" % (sys.argv[1], i), "rb").read())
    want = numpy_helper.to_array(t)
    got = np.fromfile("%s/output%d.bin" % (sys.argv[2], i), dtype=want.dtype)
    if got.tobytes() != want.tobytes():
        sys.exit("output %d differs" % i)
print("bundle outputs byte-identical with interp")
EOF
else
  echo "note: no C compiler or cpu plugin; the bundle step is skipped"
fi

step "the kit's checks of the library, on the cpu plugin"
if [ -x "$prefix/bin/ember-kit" ] && [ -f "$prefix/lib/ember/libember_cpu.so" ]; then
  "$prefix/bin/ember-kit" --plugin="$prefix/lib/ember/libember_cpu.so" \
    --op-library="$lib" --layers=capability "--gtest_filter=Capability.Kernel*" \
    >"$work/kit.log" 2>&1 || { tail -n 40 "$work/kit.log"; die "the kit failed"; }
  tail -n 3 "$work/kit.log"
fi
echo "ok: the custom-op example runs from the install tree"
