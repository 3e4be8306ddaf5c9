#!/usr/bin/env bash
# Inputs that once crashed the fuzzer (tests/robustness/crashers/) must now
# give a clean result: exit 0, or exit 1 with an "error: " line.
#   run_crashers.sh EMBER CRASHERS_DIR
set -uo pipefail
ember=$1; dir=$2
fail=0; n=0
for f in "$dir"/*; do
  [ -f "$f" ] || continue
  n=$((n + 1))
  err=$(timeout 20 "$ember" compile "$f" --emit=lowered -o /dev/null 2>&1 >/dev/null)
  rc=$?
  first=$(printf '%s\n' "$err" | head -n 1)
  if [ $rc -eq 0 ] || { [ $rc -eq 1 ] && [ "${first#error: }" != "$first" ]; }; then
    echo "ok   $(basename "$f"): ${first:-compiled}"
  else
    echo "FAIL $(basename "$f"): exit $rc: $first"
    fail=$((fail + 1))
  fi
done
echo "$((n - fail)) passed, $fail failed"
[ $n -gt 0 ] && [ $fail -eq 0 ]
