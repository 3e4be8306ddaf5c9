#!/usr/bin/env bash
# `ember quantize` end to end on the bundled MNIST model: calibration from
# .npy files and from test_data_set_N folders, the QDQ model runs in Ember
# (interp and cpu) and, when the onnx/onnxruntime wheels are present, in
# ONNX Runtime with the fp32 model's top-1; a saved profile reproduces the
# model byte for byte; bad input gives one clear error and writes nothing.
#   run_quantize.sh EMBER PYTHON MODEL WORKDIR
set -u
EMBER=$1 PY=$2 MODEL=$3 WORK=$4
rm -rf "$WORK" && mkdir -p "$WORK"
fail=0 passed=0
ok() { passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

# Calibration samples: blurred random strokes in [0, 255], 1x1x28x28.
"$PY" - "$WORK" <<'PYEOF' || { echo "FAIL: numpy is needed"; exit 1; }
import os, sys
import numpy as np
w = sys.argv[1]
rng = np.random.default_rng(0)
for d in ("calib", "nan", "shape", "empty"):
    os.makedirs(os.path.join(w, d), exist_ok=True)
for i in range(12):
    x = np.zeros((28, 28), np.float32)
    for _ in range(3):
        r, c = rng.integers(6, 22, 2)
        x[r - 2:r + 3, c - 6:c + 6] = 255.0
        x[r - 6:r + 6, c - 2:c + 3] = 255.0
    np.save(os.path.join(w, "calib", f"s{i}.npy"), x[None, None])
x[0, 0] = np.nan
np.save(os.path.join(w, "nan", "s0.npy"), x[None, None])
np.save(os.path.join(w, "shape", "s0.npy"), np.zeros((1, 1, 14, 14), np.float32))
PYEOF

Q=$WORK/q.onnx
if "$EMBER" quantize "$MODEL" --calibration "$WORK/calib" -o "$Q" \
    --profile-out "$WORK/p.json" --report > "$WORK/log.txt" 2> "$WORK/err.txt"; then
  ok
else
  bad "quantize failed: $(cat "$WORK/err.txt")"
fi
grep -q "sensitivity report" "$WORK/log.txt" && ok || bad "no --report table"
grep -q "calibrating \[" "$WORK/err.txt" && bad "progress bar without a terminal" || ok

# The same model from the profile and the samples the layer-wise refinement
# reads (no calibration runs).
"$EMBER" quantize "$MODEL" --profile "$WORK/p.json" --calibration "$WORK/calib" \
  -o "$WORK/q2.onnx" --quiet &&
  cmp -s "$Q" "$WORK/q2.onnx" && ok || bad "--profile does not reproduce the model"
# The profile alone: the same as a run without refinement, with a note.
"$EMBER" quantize "$MODEL" --calibration "$WORK/calib" --refine=none \
  -o "$WORK/q2n.onnx" --quiet || bad "--refine=none failed"
"$EMBER" quantize "$MODEL" --profile "$WORK/p.json" -o "$WORK/q2p.onnx" \
  > "$WORK/log2.txt" 2>&1 &&
  cmp -s "$WORK/q2n.onnx" "$WORK/q2p.onnx" && ok ||
  bad "--profile alone does not reproduce the unrefined model"
grep -q "refinement needs calibration samples" "$WORK/log2.txt" && ok ||
  bad "no note that the refinement was skipped"

# A test_data_set folder works as calibration data.
"$EMBER" quantize "$MODEL" --calibration "$(dirname "$MODEL")" -o "$WORK/q3.onnx" \
  --quiet && ok || bad "test_data_set calibration failed"

# Every method, per-tensor, int8 activations, no CLE / bias correction.
for opts in "--method=minmax" "--method=entropy" "--method=mse" \
    "--per-tensor --activation-type=int8" "--no-equalize --no-bias-correction" \
    "--target-sqnr=60 --max-float=2" "--refine=all --refine-samples=3" \
    "--refine=none"; do
  # shellcheck disable=SC2086
  "$EMBER" quantize "$MODEL" --calibration "$WORK/calib" -o "$WORK/v.onnx" $opts > /dev/null 2> "$WORK/err.txt" && ok ||
    bad "quantize $opts: $(cat "$WORK/err.txt")"
done

# The QDQ model runs on interp and cpu.
for t in interp cpu; do
  if "$EMBER" run "$Q" --target=$t --input "Input3=$WORK/calib/s0.npy" \
      --save-outputs "$WORK/out_$t" > /dev/null 2> "$WORK/err.txt"; then ok
  else bad "ember run --target=$t: $(cat "$WORK/err.txt")"; fi
done

# Standard QDQ: ONNX's checker, ONNX Runtime, and the fp32 top-1.
if "$PY" -c "import onnx, onnxruntime" 2> /dev/null; then
  if "$PY" - "$MODEL" "$Q" "$WORK/calib" <<'PYEOF'; then ok; else bad "onnxruntime check"; fi
import glob, sys
import numpy as np, onnx, onnxruntime as ort
fp, q, d = sys.argv[1:4]
m = onnx.load(q)
onnx.checker.check_model(m)
ops = [n.op_type for n in m.graph.node]
assert "QuantizeLinear" in ops and "DequantizeLinear" in ops, ops
assert [o.version for o in m.opset_import if o.domain in ("", "ai.onnx")][0] >= 13
sf = ort.InferenceSession(fp, providers=["CPUExecutionProvider"])
sq = ort.InferenceSession(q, providers=["CPUExecutionProvider"])
agree = 0
files = sorted(glob.glob(d + "/*.npy"))
for f in files:
    x = np.load(f)
    a = sf.run(None, {"Input3": x})[0]
    b = sq.run(None, {"Input3": x})[0]
    agree += int(np.argmax(a) == np.argmax(b))
print(f"onnxruntime: top-1 agreement {agree}/{len(files)}")
sys.exit(0 if agree >= len(files) - 1 else 1)
PYEOF
else
  echo "note: onnx/onnxruntime not installed, ONNX Runtime check skipped"
fi

# Bad input: one error line naming the cause, non-zero exit, nothing written.
expect_error() {
  local pattern=$1 out=$2
  shift 2
  rm -f "$out"
  if "$@" > /dev/null 2> "$WORK/err.txt"; then
    bad "accepted: $* (expected '$pattern')"
  elif ! grep -q "^error: .*$pattern" "$WORK/err.txt"; then
    bad "wrong error for $*: $(cat "$WORK/err.txt")"
  elif [ -e "$out" ] || ls "$out".tmp-* > /dev/null 2>&1; then
    bad "left a file behind: $*"
  else
    ok
  fi
}
E=$WORK/e.onnx
expect_error "no calibration samples" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/empty" -o "$E"
expect_error "does not exist" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/missing" -o "$E"
expect_error "NaN" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/nan" -o "$E"
expect_error "declared \[1,1,28,28\]" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/shape" -o "$E"
expect_error "no_such_node" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/calib" -o "$E" --keep-float no_such_node
expect_error "unknown calibration method" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/calib" -o "$E" --method=kl
expect_error "does not exist or is not writable" "$WORK/nodir/e.onnx" "$EMBER" quantize "$MODEL" --calibration "$WORK/calib" -o "$WORK/nodir/e.onnx"
expect_error "needs --calibration" "$E" "$EMBER" quantize "$MODEL" -o "$E"
sed 's/"graph_hash": "[0-9a-f]*"/"graph_hash": "0000000000000000"/' "$WORK/p.json" > "$WORK/other.json"
expect_error "another graph" "$E" "$EMBER" quantize "$MODEL" --profile "$WORK/other.json" -o "$E"
echo '{"format": "ember-quantization-profile", "version": 1,' > "$WORK/trunc.json"
expect_error "bad profile" "$E" "$EMBER" quantize "$MODEL" --profile "$WORK/trunc.json" -o "$E"
# A test_data_set folder whose tensor names another input.
mkdir -p "$WORK/named/test_data_set_0"
"$PY" - "$WORK/named/test_data_set_0/input_0.pb" <<'PYEOF'
import sys
import numpy as np
try:
    import onnx
    from onnx import numpy_helper
except ImportError:
    sys.exit(0)
t = numpy_helper.from_array(np.zeros((1, 1, 28, 28), np.float32), "not_the_input")
open(sys.argv[1], "wb").write(t.SerializeToString())
PYEOF
if [ -s "$WORK/named/test_data_set_0/input_0.pb" ]; then
  expect_error "not_the_input" "$E" "$EMBER" quantize "$MODEL" --calibration "$WORK/named" -o "$E"
fi

# An fp16 copy of the model: nothing in it is fp32, so it is refused, naming
# the input (not quantized as 0 of its nodes).
"$PY" - "$MODEL" "$WORK/fp16.onnx" <<'PYEOF'
import sys
import numpy as np
try:
    import onnx
    from onnx import numpy_helper
except ImportError:
    sys.exit(0)
m = onnx.load(sys.argv[1])
g = m.graph
for i, t in enumerate(g.initializer):
    if t.data_type == onnx.TensorProto.FLOAT:
        g.initializer[i].CopyFrom(numpy_helper.from_array(
            numpy_helper.to_array(t).astype(np.float16), t.name))
for v in list(g.input) + list(g.output) + list(g.value_info):
    if v.type.tensor_type.elem_type == onnx.TensorProto.FLOAT:
        v.type.tensor_type.elem_type = onnx.TensorProto.FLOAT16
onnx.save(m, sys.argv[2])
PYEOF
if [ -s "$WORK/fp16.onnx" ]; then
  expect_error "is float16: ember quantize takes an fp32 model" "$E" "$EMBER" quantize "$WORK/fp16.onnx" --calibration "$WORK/calib" -o "$E"
fi

echo "$passed passed, $fail failed"
[ "$fail" = 0 ]
