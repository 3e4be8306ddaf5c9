#!/usr/bin/env bash
# Every hostile model (compiled and run) must give exit 1 and one "error: " line, within 20 s.
#   run_hostile.sh EMBER PYTHON GEN_SCRIPT OUT_DIR
set -uo pipefail
ember=$1; py=$2; gen=$3; out=$4
"$py" "$gen" "$out" || exit 1
fail=0; n=0
while read -r name; do
  [ -n "$name" ] || continue
  n=$((n + 1))
  err=$(timeout 20 "$ember" run "$out/$name.onnx" --target=interp 2>&1 >/dev/null)
  rc=$?
  first=$(printf '%s\n' "$err" | head -n 1)
  if [ $rc -ne 1 ] || [ "${first#error: }" = "$first" ]; then
    echo "FAIL $name: exit $rc: $first"
    fail=$((fail + 1))
  else
    echo "ok   $name: $first"
  fi
done < "$out/cases.txt"
echo "$((n - fail)) passed, $fail failed"
[ $fail -eq 0 ]
