#!/usr/bin/env bash
# ctest npu-report-trace: `ember run --target=npu-sim --npu-report --trace F`
# prints the per-layer table and the summary line last, and writes a
# Perfetto/Chrome trace of the whole model whose device slices are named
# after source layers.
#   report_trace.sh EMBER PYTHON MODEL INPUT WORKDIR
set -euo pipefail
ember=$1 python=$2 model=$3 input=$4 work=$5
rm -rf "$work" && mkdir -p "$work"
"$ember" run "$model" --target=npu-sim --input "$input" --npu-report \
  --trace "$work/trace.json" > "$work/out.txt"
cat "$work/out.txt"
tail -n 1 "$work/out.txt" | grep -Eq '^npu: cycles=[1-9][0-9]* mac_util=[0-9.e-]+ dma_bytes=[1-9][0-9]* overlap=[0-9.e-]+ npu_mac_share=[0-9.e-]+ partitions=3 host_nodes=2$' ||
  { echo "the last line is not the npu: summary"; exit 1; }
# The host segments between device partitions, with their nodes: the
# model's quantize and dequantize around the one device partition.
grep -q "^host segments: 2 (2 nodes) between 1 device partitions" "$work/out.txt" ||
  { echo "no host segment summary"; exit 1; }
grep -Eq "^host segment \(partition 0, after the model's inputs, before device partition 1\): 1 nodes: QuantizeLinear" "$work/out.txt" ||
  { echo "no host segment before the device partition"; exit 1; }
grep -q "^layer report (npu, executor systemc)" "$work/out.txt"
grep -Eq "^1 +Convolution28 +conv\+maxpool +[1-9]" "$work/out.txt"
# The cost model's columns (docs/npu-backend.md): the layer alone, predicted cycles,
# its error against alone, the
# roofline bound and the fraction of it reached; a conv's shape in the detail
# (the 5x5 convolution of the 1-channel image reads its patches: 25
# channels, 1x1).
grep -Eq "^part +layer +op +cycles +alone +predicted +model_err +bound +roof " "$work/out.txt" ||
  { echo "the report lacks the cost model's columns"; exit 1; }
grep -Eq "^1 +Convolution28 +conv\+maxpool +[1-9][0-9]* +[1-9][0-9]* .* C25 K8 1x1/1 g1 28x28; " "$work/out.txt" ||
  { echo "no prediction or shape for Convolution28"; exit 1; }
# The cost model is within 10% of every layer run alone (deterministic: the
# cycles do not depend on the machine).
awk '/^1 +[^ ]+ +conv/ { e = $7 < 0 ? -$7 : $7; if (e > 0.10) { print "model_err " $7 " on " $2; bad = 1 } } END { exit bad }' "$work/out.txt" ||
  { echo "the cost model is more than 10% off a layer"; exit 1; }
"$python" - "$work/trace.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
ev = t["traceEvents"]
tracks = {e["tid"]: e["args"]["name"] for e in ev if e.get("ph") == "M" and e["name"] == "thread_name"}
names = {e["name"] for e in ev if e.get("ph") == "X"}
assert "npu GEMM" in tracks.values(), tracks
assert "Convolution28" in names, sorted(names)[:20]
parts = [e for e in ev if e.get("cat") == "partition"]
assert len(parts) >= 3, parts
print("trace ok:", len(ev), "events,", sorted(tracks.values()))
PY
