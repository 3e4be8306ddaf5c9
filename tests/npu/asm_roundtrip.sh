#!/usr/bin/env bash
# ctest npu-asm-roundtrip: `ember compile --target=npu-sim --emit=npu-asm`
# prints every NPU partition in the assembler's syntax with the source node
# of each instruction group; each partition assembles with `ember asm`, and
# disassembling the binary gives back the same instructions.
#   asm_roundtrip.sh EMBER MODEL WORKDIR
set -euo pipefail
ember=$1 model=$2 work=$3
rm -rf "$work" && mkdir -p "$work"
"$ember" compile "$model" --target=npu-sim --emit=npu-asm -o "$work/all.nasm"
grep -q "^# layer .*'" "$work/all.nasm" || { echo "no layer comments"; exit 1; }
# One file per partition.
awk -v dir="$work" '/^# ---- partition/ {n++} n {print > (dir "/p" n ".nasm")}' "$work/all.nasm"
parts=$(ls "$work"/p*.nasm | wc -l)
[ "$parts" -ge 1 ] || { echo "no partition in the output"; exit 1; }
for f in "$work"/p*.nasm; do
  "$ember" asm "$f" -o "${f%.nasm}.bin"
  "$ember" disasm "${f%.nasm}.bin" > "${f%.nasm}.dis"
  # Instruction lines only (comments and blank lines dropped).
  grep -v '^#' "$f" | sed '/^$/d' > "${f%.nasm}.want"
  grep -v '^#' "${f%.nasm}.dis" | sed '/^$/d' > "${f%.nasm}.got"
  cmp "${f%.nasm}.want" "${f%.nasm}.got" ||
    { echo "round trip differs for $f"; diff "${f%.nasm}.want" "${f%.nasm}.got" | head; exit 1; }
  echo "$(basename "$f"): $(wc -l < "${f%.nasm}.got") instructions round-trip"
done
echo "ok: $parts partition(s)"
