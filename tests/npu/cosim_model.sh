#!/usr/bin/env bash
# ctest npu-cosim-model: `ember cosim MODEL` on the bundled int8 MNIST.
# The golden run hands its NPU program over (program, DRAM, layer map); the
# RTL (or, without Verilator, the SystemC model) agrees with it at every
# retirement; the layer map names the model's layers and ONNX nodes; a DUT
# with a planted bug (libnpu_faulty_executor.so: one byte flipped in the
# first write at or after instruction FROM) is caught at that instruction,
# and the report names its layer, in the report and on the last line; and
# `ember run ... --backend-opt cosim=golden` fails naming the same.
#   cosim_model.sh EMBER MODEL FAULTY_SO HAVE_RTL WORKDIR
set -euo pipefail
ember=$1 model=$2 faulty=$3 have_rtl=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
dut=systemc
[ "$have_rtl" = ON ] && dut=rtl
"$ember" cosim "$model" --dut "$dut" --handover "$work/h" > "$work/agree.txt"
cat "$work/agree.txt"
tail -n 1 "$work/agree.txt" | grep -Eq "^cosim: agree ref=golden dut=$dut insns=[1-9][0-9]* compared=[1-9][0-9]* dut_cycles=[1-9][0-9]* wall_s=[0-9.]+ programs=1$" ||
  { echo "the model's programs do not agree"; exit 1; }
# The hand-over: one program, its DRAM and its layer map with the ONNX nodes.
grep -Eq '^program-0\.nasm program-0\.dram program-0\.layers insns=[1-9][0-9]* dram_bytes=[1-9][0-9]*$' "$work/h/handover.txt" ||
  { echo "bad manifest"; cat "$work/h/handover.txt"; exit 1; }
printf 'layer\tConvolution28\tConvolution28\tPooling66\n' > "$work/want"
printf 'layer\tConvolution110\tConvolution110\tPooling160\n' >> "$work/want"
grep -Fqx -f "$work/want" "$work/h/program-0.layers" ||
  { echo "the layer map lacks the conv layers"; cat "$work/h/program-0.layers"; exit 1; }
# Where the second conv layer's instructions are: plant the bug inside it.
range=$(awk -F'\t' '$1=="layer"{n++} $1=="insns" && $4==1 {print $2, $3; exit}' "$work/h/program-0.layers")
read -r first end <<< "$range"
[ -n "$first" ] && [ "$end" -gt "$first" ] || { echo "no instructions of layer 1"; exit 1; }
from=$(( (first + end) / 2 ))
set +e
"$ember" cosim "$work/h" --dut "$faulty" --dut-options "f$from" --no-waveform > "$work/bug.txt"
rc=$?
set -e
cat "$work/bug.txt"
[ "$rc" = 1 ] || { echo "the planted bug was not reported (exit $rc)"; exit 1; }
idx=$(sed -n 's/^first divergence: instruction \([0-9]*\):.*/\1/p' "$work/bug.txt")
[ -n "$idx" ] && [ "$idx" -ge "$from" ] && [ "$idx" -lt "$end" ] ||
  { echo "the first divergence ($idx) is not the planted one (>= $from, < $end)"; exit 1; }
grep -Fqx "  in layer 'Convolution110' (nodes: Convolution110, Pooling160)" "$work/bug.txt" ||
  { echo "the report does not name the layer"; exit 1; }
grep -Eq "^  [A-Z]+ 0x[0-9a-f]+ .*: REF 0x[0-9a-f]{2}, DUT 0x[0-9a-f]{2}$" "$work/bug.txt" ||
  { echo "the report does not list the differing byte"; exit 1; }
tail -n 1 "$work/bug.txt" | grep -Eq "^cosim: diverged at instruction $idx ref=golden dut=.*program=0 layer='Convolution110'$" ||
  { echo "the last line does not name the program and layer"; exit 1; }
# The model path too (compile, hand over, compare) in one command.
set +e
"$ember" cosim "$model" --dut "$faulty" --dut-options "f$from" --no-waveform > "$work/bug2.txt" 2> "$work/bug2.err"
rc=$?
set -e
[ "$rc" = 1 ] && tail -n 1 "$work/bug2.txt" | grep -q "layer='Convolution110'$" ||
  { echo "ember cosim MODEL did not report the bug"; cat "$work/bug2.txt" "$work/bug2.err"; exit 1; }
grep -q "^note: hand-over kept in " "$work/bug2.err" || { echo "no hand-over note"; exit 1; }
# A checked run: the DUT executor against the golden model inside npu-sim.
if [ "$have_rtl" = ON ]; then
  "$ember" run "$model" --target=npu-sim --backend-opt executor=rtl \
    --backend-opt cosim=golden > "$work/run.txt"
  grep -q "^output " "$work/run.txt" || { echo "the checked run has no outputs"; exit 1; }
fi
set +e
"$ember" run "$model" --target=npu-sim --backend-opt executor=systemc \
  --backend-opt cosim=golden > /dev/null 2> "$work/run.err"
rc=$?
set -e
[ "$rc" != 0 ] && grep -q "backend option cosim needs executor=golden or executor=rtl" "$work/run.err" ||
  { echo "cosim with the SystemC executor was not refused"; cat "$work/run.err"; exit 1; }
# A program that fails on both sides is the program's error, not a divergence.
set +e
"$ember" run "$model" --target=npu-sim --backend-opt executor=golden \
  --backend-opt cosim=golden --backend-opt fault=deadlock > /dev/null 2> "$work/dead.err"
rc=$?
set -e
[ "$rc" != 0 ] && grep -q "the NPU program failed: instruction [0-9]*: token underflow" "$work/dead.err" &&
  ! grep -q diverged "$work/dead.err" ||
  { echo "a failing program was not reported as its own error"; cat "$work/dead.err"; exit 1; }
echo "cosim on the model: ok"
