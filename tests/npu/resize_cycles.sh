#!/usr/bin/env bash
# ctest npu-resize-cycles-rtl (and the DIM 8/32 RTL sub-builds): the
# compiled upsampling layers (gen_layers.py --resize: bilinear UPSAMPLE on
# VECTOR, nearest by repeating STOREs, LOADs and STOREs overlapping) on the
# SystemC model and the RTL, every instruction retiring in the same cycle
# (`ember-npu cosim --cycles`) and the bytes equal. Each case's NPU program
# is handed over by a golden run (backend option handover=DIR). With GROUP
# convt (ctest npu-convt-cycles-rtl): the transposed convolutions'
# phase layers (gen_layers.py --convt, all 40: STOREs with an x step, cropped
# results, strides per axis) instead; 16x8
# (ctest npu-wide16-cycles-rtl): the 156 16-bit layers (--wide, --wide2,
# --wide3, --wide4: 16x8 convolutions, MatMuls, adds, pools, means, multiplies,
# conversions, clamps, fused adds and pools); 16x8-quick: the first 16, 16 and 8 of those
# (each group has its own seed, so they are the same cases); bands (ctest
# npu-bands-cycles-rtl): the 12 convolutions in column bands (--bands:
# LOADs and STOREs of a band's columns, lines a line apart in DRAM); pools2
# (ctest npu-pools2-cycles-rtl): the 16 pools with strides of their own per
# axis or in column bands (--pools2); pads
# (ctest npu-pads-cycles-rtl): the 16 convolutions padded beyond the loads'
# fields (--pads: identity layers storing the input with the padding);
# pixels (ctest npu-pixels-cycles-rtl): the 16 Concats along the batch or
# rows by placement and Slices of rows as views (--pixels); lstm (ctest
# npu-lstm-cycles-rtl): the 12 integer LSTMs (--lstm: 16-bit tables as
# layers of their own, LUTLD/LUT w16), each with its case's ember options
# (ember_args.txt, tests/npu/check_npu.py); gru (ctest npu-gru-cycles-rtl):
# the 12 integer GRUs (--gru, the same); sequence (ctest
# npu-sequence-cycles-rtl): the 12 rank-3 MatMuls and adds (--sequence);
# norm: the 12 LayerNorms (--norm: form norm, --requant fixed); softmax:
# the 12 softmaxes (--softmax: form softmax, --requant fixed).
#   resize_cycles.sh EMBER EMBER_NPU PYTHON WORKDIR [TARGET [GROUP]]
# TARGET: npu-sim (default) or plugin:<a sub-build's libember_npu_sim.so>.
set -uo pipefail
ember=$1 npu=$2 python=$3 work=$4 target=${5:-npu-sim} group=${6:-resize}
case $group in
  resize) counts=(--convt 0 --resize 32) prefix=resize what=upsampling ;;
  convt) counts=(--convt 40 --resize 0) prefix=convtranspose
    what="transposed convolution" ;;
  16x8) counts=(--convt 0 --resize 0 --wide 48 --wide2 64 --wide3 24 --wide4 20)
    prefix=16x8 what=16x8 ;;
  16x8-quick) counts=(--convt 0 --resize 0 --wide 16 --wide2 16 --wide3 8)
    prefix=16x8 what=16x8 ;;
  bands) counts=(--convt 0 --resize 0 --bands 12) prefix=bands
    what="column-band convolution" ;;
  pools2) counts=(--convt 0 --resize 0 --pools2 16) prefix=pools2
    what="strided or column-band pool" ;;
  pads) counts=(--convt 0 --resize 0 --pads 16) prefix=pads
    what="padded convolution" ;;
  pixels) counts=(--convt 0 --resize 0 --pixels 16) prefix=pixels
    what="pixel Concat or Slice" ;;
  lstm) counts=(--convt 0 --resize 0 --lstm 12) prefix=lstm
    what="integer LSTM" ;;
  gru) counts=(--convt 0 --resize 0 --gru 12) prefix=gru
    what="integer GRU" ;;
  sequence) counts=(--convt 0 --resize 0 --sequence 12) prefix=sequence
    what="rank-3 MatMul" ;;
  norm) counts=(--convt 0 --resize 0 --norm 12) prefix=layernorm
    what=LayerNorm ;;
  softmax) counts=(--convt 0 --resize 0 --softmax 12) prefix=softmax
    what=softmax ;;
  lanes) counts=(--convt 0 --resize 0 --lanes 16) prefix="" # (three kinds)
    what="channel Concat or Split inside tiles" ;;
  *) echo "unknown group '$group' (resize, convt, 16x8, 16x8-quick, bands, pools2," \
    "pads, pixels, lstm, gru, sequence, norm, softmax or lanes)"
    exit 1 ;;
esac
"$python" -c "import onnx, onnxruntime" 2>/dev/null ||
  { echo "skipped: needs onnx and onnxruntime (scripts/install-deps.sh)"; exit 77; }
rm -rf "$work" && mkdir -p "$work"
"$python" "$(dirname "$0")/gen_layers.py" "$work/cases" --count 0 --extra 0 \
  --placement 0 --wide 0 --wide2 0 --lanes 0 --wide3 0 --wide4 0 --shuffle 0 \
  --bands 0 --pools2 0 --pads 0 --pcact 0 --pixels 0 --lstm 0 --gru 0 \
  --sequence 0 --norm 0 --softmax 0 \
  "${counts[@]}" >"$work/gen.log" 2>&1 ||
  { cat "$work/gen.log"; exit 1; }
# Every other group set to 0 cases: a new group of gen_layers.py must be too.
"$python" -c "import json, sys
bad = [d['case'] for d in json.load(open(sys.argv[1]))
       if not d['desc'].startswith(sys.argv[2])]
sys.exit('not ' + sys.argv[2] + ' cases (a new gen_layers.py group?): ' +
         ' '.join(bad) if bad else 0)" "$work/cases/index.json" "$prefix" || exit 1
status=0 n=0
for c in "$work"/cases/case_*; do
  name=$(basename "$c") h=$work/handover/$(basename "$c")
  mkdir -p "$h"
  # --input NAME=input_J.pb for each graph input (an add has two).
  mapfile -t inputs < <("$python" -c "import onnx, sys
m = onnx.load(sys.argv[1]); init = {t.name for t in m.graph.initializer}
names = [i.name for i in m.graph.input if i.name not in init]
for j, n in enumerate(names):
    print('--input'); print(f'{n}={sys.argv[2]}/input_{j}.pb')" \
    "$c/model.onnx" "$c/test_data_set_0")
  # The case's own ember options (check_npu.py checks their content).
  own=()
  [ -f "$c/ember_args.txt" ] && mapfile -t own < <("$python" -c "import shlex, sys
print('\n'.join(shlex.split(open(sys.argv[1]).read(), comments=True)))" \
    "$c/ember_args.txt")
  if ! "$ember" run "$c/model.onnx" --target="$target" --fallback=interp \
      "${inputs[@]}" "${own[@]}" \
      --backend-opt executor=golden --backend-opt handover="$h" \
      >"$h.run.log" 2>&1; then
    echo "$name: the golden run failed"; tail -n 5 "$h.run.log"; status=1; continue
  fi
  out=$("$npu" cosim "$h" --ref systemc --dut rtl --cycles --no-waveform 2>&1)
  if [ $? -ne 0 ]; then
    echo "$name ($("$python" -c "import json, sys
print({d['case']: d['desc'] for d in json.load(open(sys.argv[1]))}[sys.argv[2]])" \
      "$work/cases/index.json" "$name")):"
    echo "$out" | tail -n 8; status=1
  fi
  n=$((n + 1))
  echo "$name: $(tail -n 1 <<< "$out")"
done
echo "$n $what programs compared, SystemC vs RTL, cycles and bytes"
exit $status
